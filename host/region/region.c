/*
 * region.c - a region's life: creating it (and choosing a backend for
 * `auto`), its one teardown path (carve_region_release, which a failed
 * create ends with too), its statistics and its check. What the
 * other files of host/region/ do: region_internal.h.
 */
#include "region_internal.h"
#include "pool/tool_annotations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fault.h" /* last: test builds wrap the calls above */

#define MAX_ALIGNMENT ((uint64_t)1 << 31) /* clSVMAlloc takes a cl_uint */
#define MAX_REGION_BYTES ((uint64_t)1 << 48) /* no rounding can overflow */

/* ---- backends ----------------------------------------------------------- */

const char *carve_backend_name(carve_backend backend)
{
    switch (backend) {
    case CARVE_BACKEND_AUTO: return "auto";
    case CARVE_BACKEND_HOST_MEMORY: return "host-memory";
    case CARVE_BACKEND_USER_MEMORY: return "user-memory";
    case CARVE_BACKEND_ALLOC_HOST_PTR: return "alloc-host-ptr";
    case CARVE_BACKEND_SVM_COARSE: return "svm-coarse";
    case CARVE_BACKEND_SVM_FINE: return "svm-fine";
    }
    return "unknown";
}

/* The table of a backend's family; NULL for AUTO, an unknown value, or
 * SVM in a library built without it. */
static const carve__backend_ops *backend_ops(carve_backend backend)
{
    switch (backend) {
    case CARVE_BACKEND_HOST_MEMORY:
    case CARVE_BACKEND_USER_MEMORY:
    case CARVE_BACKEND_ALLOC_HOST_PTR:
        return &carve__buffer_backend;
    case CARVE_BACKEND_SVM_COARSE:
    case CARVE_BACKEND_SVM_FINE:
        return carve__svm_backend(backend);
    case CARVE_BACKEND_AUTO:
        break;
    }
    return NULL;
}

int carve_backend_supported(cl_device_id device, carve_backend backend)
{
    const carve__backend_ops *ops = backend_ops(backend);
    if (backend == CARVE_BACKEND_AUTO)
        return device != NULL;
    return ops != NULL && ops->supported(device, backend);
}

/* ---- the region's life -------------------------------------------------- */

/* The largest power of two dividing an address; all of them for NULL. */
static uint64_t lowest_bit(uintptr_t address)
{
    return address != 0 ? (uint64_t)(address & -address) : ~(uint64_t)0;
}

uint64_t carve__device_base_alignment(cl_device_id device)
{
    carve_device_limits limits;
    uint64_t a = CARVE__MIN_REGION_ALIGNMENT;
    if (carve_device_limits_query(device, &limits) == CARVE_SUCCESS &&
        limits.base_addr_align > a)
        a = limits.base_addr_align;
    return a;
}

static carve_status create_one(cl_context context, cl_device_id device,
                               const carve_region_params *p,
                               carve_backend backend, carve_region **out)
{
    carve_region *r;
    carve_status status;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    if (!carve_backend_supported(device, backend))
        return CL_INVALID_OPERATION;
    r = calloc(1, sizeof *r);
    if (r == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    pthread_mutex_init(&r->lock, NULL);
    r->context = context;
    r->device = device;
    r->backend = backend;
    r->ops = backend_ops(backend);
    r->flags = p->flags;
    snprintf(r->name, sizeof r->name, "%s", p->name ? p->name : "region");
    /* Sub-buffers must start on the device's base alignment, so a smaller
     * alignment asked for is raised to it. */
    r->alignment = carve__device_base_alignment(device);
    if (p->alignment > r->alignment)
        r->alignment = p->alignment;
    if (r->flags & CARVE_REGION_COHERENCE_CHECK && r->alignment < page)
        r->alignment = page; /* protection works on whole pages */
    /* Memory the caller hands over is never overrun: round down there. */
    r->bytes = backend == CARVE_BACKEND_USER_MEMORY
                   ? p->bytes & ~(r->alignment - 1)
                   : (p->bytes + r->alignment - 1) & ~(r->alignment - 1);
    r->write_back = p->write_back;
    r->invalidate = p->invalidate;
    r->hook_context = p->hook_context;
    clRetainContext(context);
    clRetainDevice(device);
    r->queue = clCreateCommandQueue(context, device, 0, &status);
    if (status == CARVE_SUCCESS && r->bytes == 0)
        status = CARVE_ERROR_INVALID_ARGUMENT; /* user memory below one unit */
    if (status == CARVE_SUCCESS)
        status =
            r->ops->create(r, p, r->alignment > page ? r->alignment : page);
    if (status == CARVE_SUCCESS) {
        r->base_alignment = lowest_bit((uintptr_t)r->host_base);
        if (lowest_bit((uintptr_t)r->device_view) < r->base_alignment)
            r->base_alignment = lowest_bit((uintptr_t)r->device_view);
    }
    if (status == CARVE_SUCCESS)
        status = carve__pool_create(r->bytes, r->alignment, &r->pool);
    if (status == CARVE_SUCCESS)
        carve__annotate_region_created(r->host_base, r->bytes);
    if (status == CARVE_SUCCESS && !carve__registry_add(r))
        status = CARVE_ERROR_LIMIT;
    if (status == CARVE_SUCCESS)
        status = carve__region_probe(r);
    if (status != CARVE_SUCCESS) {
        carve_region_release(r);
        return status;
    }
    *out = r;
    return CARVE_SUCCESS;
}

static carve_status params_check(cl_context context, cl_device_id device,
                                 const carve_region_params *p)
{
    if (context == NULL || device == NULL || p == NULL || p->bytes == 0 ||
        p->bytes > MAX_REGION_BYTES ||
        (p->flags & ~(CARVE_REGION_REQUIRE_ZERO_COPY |
                      CARVE_REGION_COHERENCE_CHECK)) != 0 ||
        p->backend < CARVE_BACKEND_AUTO || p->backend > CARVE_BACKEND_SVM_FINE)
        return CARVE_ERROR_INVALID_ARGUMENT;
    if ((p->alignment & (p->alignment - 1)) != 0 ||
        p->alignment > MAX_ALIGNMENT)
        return CARVE_ERROR_INVALID_ALIGNMENT;
    if ((p->flags & CARVE_REGION_COHERENCE_CHECK) &&
        p->backend != CARVE_BACKEND_HOST_MEMORY)
        return CARVE_ERROR_INVALID_ARGUMENT;
    return (p->backend == CARVE_BACKEND_USER_MEMORY) == (p->user_base != NULL)
               ? CARVE_SUCCESS
               : CARVE_ERROR_INVALID_ARGUMENT;
}

carve_status carve_region_create(cl_context context, cl_device_id device,
                                 const carve_region_params *params,
                                 carve_region **region)
{
    /* AUTO's preference: no hand-over cost first, then the ones that map. */
    static const carve_backend automatic[] = {
        CARVE_BACKEND_SVM_FINE, CARVE_BACKEND_SVM_COARSE,
        CARVE_BACKEND_ALLOC_HOST_PTR, CARVE_BACKEND_HOST_MEMORY};
    carve_region *chosen = NULL;
    carve_status status = CL_INVALID_OPERATION;
    size_t i;
    if (region == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    *region = NULL;
    status = params_check(context, device, params);
    if (status != CARVE_SUCCESS)
        return status;
    if (params->backend != CARVE_BACKEND_AUTO) {
        status = create_one(context, device, params, params->backend, region);
    } else {
        /* The first backend proven zero-copy wins. Else host memory if it
         * works: carve's own aligned pages keep the host's and the device's
         * views aligned alike, where a mapped ALLOC_HOST_PTR buffer lies
         * wherever the platform puts it (Oclgrind: 16 bytes). Else the
         * first that works. The region then says zero-copy is not proven.
         * If none works, the first failure that is not "unsupported"
         * explains why. */
        carve_status why = CL_INVALID_OPERATION;
        for (i = 0; i < sizeof automatic / sizeof automatic[0]; ++i) {
            carve_region *r = NULL;
            status = create_one(context, device, params, automatic[i], &r);
            if (status != CARVE_SUCCESS) {
                /* A backend this platform cannot align counts as one it
                 * does not have. */
                if (why == CL_INVALID_OPERATION &&
                    status != CARVE_ERROR_INVALID_ALIGNMENT)
                    why = status;
                continue;
            }
            if (r->zero_copy_verified) {
                carve_region_release(chosen);
                chosen = r;
                break;
            }
            if (chosen == NULL) {
                chosen = r;
            } else if (automatic[i] == CARVE_BACKEND_HOST_MEMORY) {
                carve_region_release(chosen);
                chosen = r;
            } else {
                carve_region_release(r);
            }
        }
        *region = chosen;
        status = chosen != NULL ? CARVE_SUCCESS : why;
    }
    if (status == CARVE_SUCCESS &&
        (params->flags & CARVE_REGION_REQUIRE_ZERO_COPY) &&
        !(*region)->zero_copy_verified) {
        carve_region_release(*region);
        *region = NULL;
        status = CARVE_ERROR_NOT_ZERO_COPY;
    }
    return status;
}

/* A pool walk's visit: forgets one allocation's record. */
static void forget_allocation(uint64_t offset, uint64_t size,
                              uint64_t requested, void *user, void *context)
{
    (void)requested;
    carve__zc_forget_record(context, offset, size, user);
}

void carve_region_release(carve_region *r)
{
    if (r == NULL)
        return;
    carve__registry_remove(r);
    if (r->pool != NULL) {
        carve__pool_walk(r->pool, forget_allocation, r);
        carve__pool_destroy(r->pool);
    }
    carve__annotate_region_released(r->host_base, r->bytes);
    if (r->queue != NULL)
        clFinish(r->queue);
    if (r->ops != NULL)
        r->ops->destroy(r);
    if (r->probe_program != NULL)
        clReleaseProgram(r->probe_program);
    if (r->queue != NULL)
        clReleaseCommandQueue(r->queue);
    clReleaseDevice(r->device);
    clReleaseContext(r->context);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

carve_status carve_region_get_info(carve_region *r, carve_region_info *out)
{
    carve__pool_stats s;
    if (r == NULL || out == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&r->lock);
    carve__pool_get_stats(r->pool, &s);
    memset(out, 0, sizeof *out);
    out->backend = r->backend;
    out->backend_name = carve_backend_name(r->backend);
    out->name = r->name;
    out->host_base = r->host_base;
    out->device_address = r->device_address;
    out->bytes = r->bytes;
    out->alignment = r->alignment;
    out->zero_copy_verified = r->zero_copy_verified;
    out->zero_copy_evidence = r->evidence;
    out->in_use = s.in_use;
    out->peak_in_use = s.peak_in_use;
    out->largest_free = s.largest_free;
    out->live_allocations = s.live_blocks;
    out->failed_requests = s.failed_count;
    out->fallback = atomic_load(&r->fallback);
    pthread_mutex_unlock(&r->lock);
    return CARVE_SUCCESS;
}

typedef struct record_check {
    const carve_region *region;
    const char *why;
} record_check;

/* What the region layer keeps for a live allocation agrees with its
 * owner: the host's allocations are mapped, the device's are not. */
static void check_record(uint64_t offset, uint64_t size, uint64_t requested,
                         void *user, void *context)
{
    record_check *check = context;
    const carve__zc_record *a = user;
    int maps = check->region->ops->host_owns_by_mapping;
    (void)offset;
    (void)size;
    (void)requested;
    if (check->why != NULL)
        return;
    if (a == NULL)
        check->why = "a live allocation has no ownership record";
    else if (maps && a->device_owned && a->mapping != NULL)
        check->why = "an allocation the device owns is still mapped";
    else if (maps && !a->device_owned && a->mapping == NULL)
        check->why = "an allocation the host owns is not mapped";
    else if (a->sub_buffer != NULL && !check->region->ops->attaches_objects)
        check->why = "an allocation has a sub-buffer its backend never makes";
}

carve_status carve_region_check(carve_region *r, const char **message)
{
    record_check check;
    const char *why;
    if (r == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&r->lock);
    why = carve__pool_check(r->pool);
    if (why == NULL) {
        check.region = r;
        check.why = NULL;
        carve__pool_walk(r->pool, check_record, &check);
        why = check.why;
    }
    pthread_mutex_unlock(&r->lock);
    if (message != NULL)
        *message = why;
    return why == NULL ? CARVE_SUCCESS : CARVE_ERROR_ARENA_INVALID;
}
