/* split_plan.c - one NDRange divided over several devices: pure
 * computation, each slice checked against its own device. */
#include "split_internal.h"

#include <string.h>
#include "fault.h" /* last: test builds wrap the calls above */

/* Writes the message; returns the status. */
#define REFUSE(plan, status, ...)                                           \
    (carve__message((plan)->message, sizeof (plan)->message, __VA_ARGS__), \
     (status))

/* A refusal of a slice's plan that another device, or another share,
 * could avoid: the slice is too big for its device. */
static int device_refusal(carve_status status)
{
    return status == CARVE_ERROR_OFFSET_LIMIT ||
           status == CARVE_ERROR_EXCEEDS_MAX_ALLOC ||
           status == CARVE_ERROR_EXCEEDS_GLOBAL_MEM ||
           status == CARVE_ERROR_BASE_ALIGNMENT;
}

static carve_status check_params(const carve_split_params *p,
                                 carve_split_plan *plan)
{
    cl_uint i;
    if (p->device_count == 0 || p->device_count > CARVE_SPLIT_MAX_DEVICES)
        return REFUSE(plan, CARVE_ERROR_INVALID_ARGUMENT,
                      "device_count is %u; a split takes 1 to %u devices",
                      (unsigned)p->device_count, CARVE_SPLIT_MAX_DEVICES);
    for (i = 0; i < p->device_count; ++i)
        if (p->shares[i] > CARVE_SPLIT_MAX_SHARE)
            return REFUSE(plan, CARVE_ERROR_INVALID_ARGUMENT,
                          "device %u's share, %u, is above the largest, %u",
                          (unsigned)i, (unsigned)p->shares[i],
                          CARVE_SPLIT_MAX_SHARE);
    if (p->plan.work_dim < 1 || p->plan.work_dim > 3)
        return REFUSE(plan, CARVE_ERROR_INVALID_NDRANGE,
                      "work_dim is %u: a split divides an NDRange of 1 to 3 "
                      "dimensions (a plan of arena_count arenas has none)",
                      (unsigned)p->plan.work_dim);
    for (i = 0; i < p->plan.work_dim; ++i)
        if (p->plan.global_size[i] == 0)
            return REFUSE(plan, CARVE_ERROR_INVALID_NDRANGE,
                          "global_size[%u] is 0", (unsigned)i);
    return CARVE_SUCCESS;
}

/* The launch-wide index of the first work-item of each row of the slowest
 * dimension is row * stride; the launch's offset there counts (see
 * carve_flat_global_id). Refuses a launch whose indices pass 32 bits. */
static carve_status row_stride(const carve_split_params *p,
                               carve_split_plan *plan, uint64_t *stride)
{
    const cl_uint s = p->plan.work_dim - 1;
    uint64_t below = 1, end = (uint64_t)p->global_offset[s];
    int fits = 1;
    cl_uint d;
    /* Every product is checked before it is made: no wrap-around. */
    for (d = 0; d < s && fits; ++d) {
        fits = p->plan.global_size[d] <= UINT32_MAX / below;
        below *= fits ? p->plan.global_size[d] : 1;
    }
    fits = fits && end <= UINT32_MAX &&
           (uint64_t)p->plan.global_size[s] <= UINT32_MAX - end;
    end += fits ? (uint64_t)p->plan.global_size[s] : 0;
    if (!fits || end > UINT32_MAX / below)
        return REFUSE(plan, CARVE_ERROR_INVALID_NDRANGE,
                      "the launch's work-items, its offset included, pass "
                      "%u, the reach of carve_flat_global_id",
                      (unsigned)UINT32_MAX);
    *stride = below;
    return CARVE_SUCCESS;
}

/* Slice i's rows [*start, *end) of the slowest dimension: boundaries on
 * granules, in proportion to the shares (all 0: even). */
static void slice_rows(const carve_split_params *p, cl_uint i, uint64_t rows,
                       uint64_t granule, uint64_t *start, uint64_t *end)
{
    const uint64_t units = (rows + granule - 1) / granule;
    uint64_t total = 0, before = 0, weight;
    cl_uint k;
    for (k = 0; k < p->device_count; ++k)
        total += p->shares[k];
    for (k = 0; k < p->device_count; ++k) {
        weight = total == 0 ? 1 : p->shares[k];
        if (k < i)
            before += weight;
    }
    weight = total == 0 ? 1 : p->shares[i];
    if (total == 0)
        total = p->device_count;
    /* units < 2^32 and total < 2^20: the products fit 64 bits. */
    *start = units * before / total * granule;
    *end = i + 1 == p->device_count ? rows
                                    : units * (before + weight) / total * granule;
    if (*start > rows)
        *start = rows;
    if (*end > rows)
        *end = rows;
}

/* Lays out slice i; its plan's status, with the message saying which
 * device when the slice does not fit it. */
static carve_status plan_slice(const carve_split_params *p,
                               const carve_device_limits *limits, cl_uint i,
                               uint64_t stride, carve_split_plan *plan,
                               carve_status *slice_status)
{
    const cl_uint s = p->plan.work_dim - 1;
    const uint64_t granule = p->granule != 0 ? p->granule : 1;
    carve_slice *slice = &plan->slices[i];
    carve_plan_params params = p->plan;
    uint64_t start, end;
    carve_status status;
    slice_rows(p, i, p->plan.global_size[s], granule, &start, &end);
    if (end <= start)
        return REFUSE(plan, CARVE_ERROR_INVALID_NDRANGE,
                      "device %u would get no work-item: dimension %u, the "
                      "slowest, has %llu granules of %llu for %u devices "
                      "and their shares",
                      (unsigned)i, (unsigned)s,
                      (unsigned long long)((p->plan.global_size[s] + granule -
                                            1) / granule),
                      (unsigned long long)granule, (unsigned)p->device_count);
    memcpy(slice->global_offset, p->global_offset, sizeof p->global_offset);
    memcpy(slice->global_size, p->plan.global_size, sizeof slice->global_size);
    slice->global_offset[s] += (size_t)start;
    slice->global_size[s] = (size_t)(end - start);
    slice->first_arena = (uint32_t)((p->global_offset[s] + start) * stride);
    memcpy(params.global_size, slice->global_size, sizeof params.global_size);
    status = carve_plan_compute(&params, &limits[i], &slice->plan);
    *slice_status = status;
    if (status == CARVE_SUCCESS || !device_refusal(status)) {
        if (status != CARVE_SUCCESS)
            carve__message(plan->message, sizeof plan->message, "%s",
                           slice->plan.message);
        return status;
    }
    carve__message(plan->message, sizeof plan->message,
                   "device %u's slice (%llu work-items, arenas %u to %llu) "
                   "does not fit it: %s",
                   (unsigned)i, (unsigned long long)slice->plan.arena_count,
                   (unsigned)slice->first_arena,
                   (unsigned long long)slice->first_arena +
                       slice->plan.arena_count - 1,
                   slice->plan.message);
    return CARVE_ERROR_SLICE_REFUSED;
}

carve_status carve_split_plan_compute(const carve_split_params *params,
                                      const carve_device_limits *limits,
                                      carve_split_plan *plan)
{
    uint64_t stride = 1;
    carve_status status, refused = CARVE_SUCCESS;
    char refusal[sizeof plan->message];
    cl_uint i;
    if (plan == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    memset(plan, 0, sizeof *plan);
    if (params == NULL || limits == NULL) {
        carve__message(plan->message, sizeof plan->message,
                       "params and limits must not be NULL");
        return CARVE_ERROR_INVALID_ARGUMENT;
    }
    plan->params = *params;
    plan->refused_slice = CARVE_SPLIT_NO_SLICE;
    status = check_params(params, plan);
    if (status == CARVE_SUCCESS)
        status = row_stride(params, plan, &stride);
    if (status != CARVE_SUCCESS)
        return status;
    plan->split_dim = params->plan.work_dim - 1;
    /* What is wrong with the parameters themselves comes first: every
     * device would refuse it. The first slice too big for its device is
     * reported after. */
    for (i = 0; i < params->device_count; ++i) {
        carve_status slice_status = CARVE_SUCCESS;
        status = plan_slice(params, limits, i, stride, plan, &slice_status);
        if (status == CARVE_ERROR_SLICE_REFUSED) {
            if (refused == CARVE_SUCCESS) {
                refused = status;
                plan->refused_slice = i;
                plan->refused_status = slice_status;
                memcpy(refusal, plan->message, sizeof refusal);
            }
            continue;
        }
        if (status != CARVE_SUCCESS) {
            plan->refused_slice = CARVE_SPLIT_NO_SLICE;
            plan->refused_status = CARVE_SUCCESS;
            return status;
        }
        plan->arena_count += plan->slices[i].plan.arena_count;
        plan->total_bytes += plan->slices[i].plan.total_bytes;
    }
    if (refused != CARVE_SUCCESS) {
        memcpy(plan->message, refusal, sizeof refusal);
        return refused;
    }
    return CARVE_SUCCESS;
}

/* Whether `plan` is one carve_split_plan_compute accepted. */
int carve__split_plan_usable(const carve_split_plan *plan)
{
    cl_uint i, d, s;
    uint64_t arenas = 0, row = 1, next;
    if (plan == NULL || plan->message[0] != '\0' ||
        plan->params.device_count == 0 ||
        plan->params.device_count > CARVE_SPLIT_MAX_DEVICES ||
        plan->params.plan.work_dim < 1 || plan->params.plan.work_dim > 3 ||
        plan->split_dim != plan->params.plan.work_dim - 1)
        return 0;
    s = plan->split_dim;
    for (d = 0; d < s; ++d)
        row *= plan->params.plan.global_size[d]; /* < 2^32: computed so */
    if (row == 0 || row > UINT32_MAX)
        return 0;
    next = plan->params.global_offset[s];
    /* The slices tile the launch, in order, each where its first arena
     * says; a plan changed by hand that breaks this is refused. */
    for (i = 0; i < plan->params.device_count; ++i) {
        const carve_slice *sl = &plan->slices[i];
        const carve_plan *p = &sl->plan;
        uint64_t items = row * (uint64_t)sl->global_size[s];
        for (d = 0; d < s; ++d)
            if (sl->global_size[d] != plan->params.plan.global_size[d] ||
                sl->global_offset[d] != plan->params.global_offset[d])
                return 0;
        if (p->message[0] != '\0' || p->total_bytes == 0 ||
            p->total_bytes > UINT32_MAX || sl->global_size[s] == 0 ||
            sl->global_size[s] > UINT32_MAX || sl->global_offset[s] != next ||
            items != p->arena_count || sl->first_arena != next * row ||
            (uint64_t)sl->first_arena + p->arena_count > UINT32_MAX)
            return 0;
        next += sl->global_size[s];
        arenas += p->arena_count;
    }
    return arenas == plan->arena_count &&
           next == (uint64_t)plan->params.global_offset[s] +
                       plan->params.plan.global_size[s];
}

carve_status carve_split_plan_print(const carve_split_plan *plan,
                                    FILE *stream)
{
    const cl_uint dims = plan != NULL ? plan->params.plan.work_dim : 0;
    char bytes[32];
    cl_uint i, d;
    if (stream == NULL || !carve__split_plan_usable(plan))
        return CARVE_ERROR_INVALID_ARGUMENT;
    fprintf(stream, "split over %u device%s along dimension %u\n",
            (unsigned)plan->params.device_count,
            plan->params.device_count == 1 ? "" : "s",
            (unsigned)plan->split_dim);
    fprintf(stream, "%-7s %-22s %-22s %-25s %s\n", "device", "offset", "size",
            "arenas", "buffer");
    for (i = 0; i < plan->params.device_count; ++i) {
        const carve_slice *s = &plan->slices[i];
        char offset[64] = "", size[64] = "", arenas[40];
        for (d = 0; d < dims; ++d) {
            size_t used = strlen(offset);
            carve__message(offset + used, sizeof offset - used, "%s%zu",
                           d ? " x " : "", s->global_offset[d]);
            used = strlen(size);
            carve__message(size + used, sizeof size - used, "%s%zu",
                           d ? " x " : "", s->global_size[d]);
        }
        carve__message(arenas, sizeof arenas, "%u..%llu (%u)",
                       (unsigned)s->first_arena,
                       (unsigned long long)s->first_arena +
                           s->plan.arena_count - 1,
                       (unsigned)s->plan.arena_count);
        fprintf(stream, "%-7u %-22s %-22s %-25s %llu (%s)\n", (unsigned)i,
                offset, size, arenas, (unsigned long long)s->plan.total_bytes,
                carve__bytes_text(s->plan.total_bytes, bytes, sizeof bytes));
    }
    fprintf(stream, "total: %u arenas of %u bytes, %llu bytes (%s)\n",
            (unsigned)plan->arena_count,
            (unsigned)plan->slices[0].plan.arena_bytes,
            (unsigned long long)plan->total_bytes,
            carve__bytes_text(plan->total_bytes, bytes, sizeof bytes));
    return ferror(stream) ? CARVE_ERROR_IO : CARVE_SUCCESS;
}

carve_status carve_split_shares_by_compute_units(cl_uint n,
                                                 const cl_device_id *devices,
                                                 uint32_t *shares)
{
    uint32_t found[CARVE_SPLIT_MAX_DEVICES];
    cl_uint i;
    if (devices == NULL || shares == NULL || n == 0 ||
        n > CARVE_SPLIT_MAX_DEVICES)
        return CARVE_ERROR_INVALID_ARGUMENT;
    for (i = 0; i < n; ++i) {
        cl_uint units = 0;
        cl_int status = clGetDeviceInfo(devices[i], CL_DEVICE_MAX_COMPUTE_UNITS,
                                        sizeof units, &units, NULL);
        if (status != CL_SUCCESS)
            return status;
        found[i] = units > CARVE_SPLIT_MAX_SHARE ? CARVE_SPLIT_MAX_SHARE
                                                 : units;
    }
    memcpy(shares, found, n * sizeof *shares);
    return CARVE_SUCCESS;
}
