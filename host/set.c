/* set.c - a plan carved from a region: one allocation, one kernel argument. */
#include "carve_internal.h"

#include <stdlib.h>
#include <string.h>
#include "fault.h" /* last: test builds wrap the calls above */

struct carve_set {
    carve_region *region;
    int owns_region;
    cl_command_queue queue; /* where carve_set_run launches */
    unsigned char *base;    /* the set's allocation in the region */
    int host_owned;
    carve_plan plan;
    carve_zero_copy_info zero_copy;
    uint32_t first_arena; /* a split's slice: its arena 0's launch index */
};

static int plan_usable(const carve_plan *plan)
{
    return plan != NULL && plan->total_bytes != 0 &&
           plan->message[0] == '\0' && plan->total_bytes <= UINT32_MAX;
}

/* Records how the set's memory is shared, from the region it landed in
 * (the one asked for, or a fallback). */
static carve_status describe_placement(carve_set *set, uint32_t flags)
{
    carve_region_info info;
    carve_status status;
    set->region = carve_zc_region_of(set->base);
    status = carve_region_get_info(set->region, &info);
    if (status != CARVE_SUCCESS)
        return status;
    if ((flags & CARVE_SET_REQUIRE_ZERO_COPY) && !info.zero_copy_verified)
        return CARVE_ERROR_NOT_ZERO_COPY;
    set->zero_copy.verified = info.zero_copy_verified;
    set->zero_copy.host_address = (uint64_t)(uintptr_t)set->base;
    set->zero_copy.device_address =
        info.device_address +
        (uint64_t)(set->base - (unsigned char *)info.host_base);
    set->zero_copy.how = info.backend_name;
    set->zero_copy.evidence = info.zero_copy_evidence;
    return CARVE_SUCCESS;
}

carve_status carve_set_create_in(carve_region *region, cl_command_queue queue,
                                 const carve_plan *plan, uint32_t flags,
                                 carve_set **out)
{
    carve_region_info info;
    carve_set *set;
    carve_status status;
    if (out != NULL)
        *out = NULL;
    if (region == NULL || queue == NULL || out == NULL || !plan_usable(plan) ||
        (flags & ~CARVE_SET_REQUIRE_ZERO_COPY) != 0)
        return CARVE_ERROR_INVALID_ARGUMENT;
    carve_region_get_info(region, &info);
    if ((flags & CARVE_SET_REQUIRE_ZERO_COPY) && !info.zero_copy_verified)
        return CARVE_ERROR_NOT_ZERO_COPY;
    set = calloc(1, sizeof *set);
    if (set == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    /* The arena alignment must hold for device addresses too. The whole
     * set lands in one region: one kernel argument, offsets from one
     * base. */
    set->base = carve_zc_memalign(region, plan->arena_alignment,
                                  (size_t)plan->total_bytes);
    if (set->base == NULL) {
        status = carve_zc_last_status();
        free(set);
        return status;
    }
    set->queue = queue;
    set->plan = *plan;
    set->host_owned = 1;
    clRetainCommandQueue(queue);
    status = carve__zc_reserve_for_set(set->base);
    if (status == CARVE_SUCCESS)
        status = describe_placement(set, flags);
    if (status == CARVE_SUCCESS)
        status = carve_layout_format(set->base, (size_t)plan->total_bytes,
                                     plan);
    if (status != CARVE_SUCCESS) {
        carve_set_release(set);
        return status;
    }
    *out = set;
    return CARVE_SUCCESS;
}

carve_status carve_set_create(cl_context context, cl_device_id device,
                              cl_command_queue queue, const carve_plan *plan,
                              uint32_t flags, carve_set **out)
{
    carve_region_params params;
    carve_region *region = NULL;
    carve_status status;
    if (out != NULL)
        *out = NULL;
    if (context == NULL || device == NULL || queue == NULL || out == NULL ||
        !plan_usable(plan) || (flags & ~CARVE_SET_REQUIRE_ZERO_COPY) != 0)
        return CARVE_ERROR_INVALID_ARGUMENT;
    memset(&params, 0, sizeof params);
    params.backend = CARVE_BACKEND_AUTO;
    params.bytes = plan->total_bytes;
    params.alignment = plan->arena_alignment > 128 ? plan->arena_alignment : 0;
    params.name = "arena set";
    if (flags & CARVE_SET_REQUIRE_ZERO_COPY)
        params.flags = CARVE_REGION_REQUIRE_ZERO_COPY;
    status = carve_region_create(context, device, &params, &region);
    if (status == CARVE_SUCCESS)
        status = carve_set_create_in(region, queue, plan, flags, out);
    if (status != CARVE_SUCCESS) {
        carve_region_release(region);
        return status;
    }
    (*out)->owns_region = 1;
    return CARVE_SUCCESS;
}

void carve_set_release(carve_set *set)
{
    if (set == NULL)
        return;
    if (set->queue != NULL) {
        clFinish(set->queue);
        clReleaseCommandQueue(set->queue);
    }
    carve__zc_free_set_memory(set->region, set->base);
    if (set->owns_region)
        carve_region_release(set->region);
    free(set);
}

carve_status carve_set_to_device(carve_set *set)
{
    carve_status status;
    if (set == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    status = carve__zc_set_to_device(set->base);
    if (status == CARVE_SUCCESS)
        set->host_owned = 0;
    return status;
}

carve_status carve_set_to_host(carve_set *set, cl_uint num_events,
                               const cl_event *events)
{
    carve_status status;
    if (set == NULL || (num_events > 0) != (events != NULL))
        return CARVE_ERROR_INVALID_ARGUMENT;
    /* Without events, "after the kernels" means after everything already
     * on the set's queue; SVM hand-over would otherwise not wait at all. */
    status = num_events == 0 ? clFinish(set->queue) : CARVE_SUCCESS;
    if (status == CARVE_SUCCESS)
        status = carve__zc_set_to_host(set->base, num_events, events);
    if (status == CARVE_SUCCESS)
        set->host_owned = 1;
    return status;
}

carve_status carve_set_bind(carve_set *set, cl_kernel kernel,
                            cl_uint arg_index)
{
    if (set == NULL || kernel == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    return carve__zc_bind_set(kernel, arg_index, set->base);
}

carve_status carve_set_run(carve_set *set, cl_kernel kernel, cl_uint arg_index,
                           cl_uint work_dim, const size_t *global_size,
                           const size_t *local_size)
{
    uint64_t items = 1;
    size_t offset[3] = {0, 0, 0};
    cl_uint d;
    cl_event done = NULL;
    carve_status status, taken;
    if (set == NULL || kernel == NULL || global_size == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (work_dim < 1 || work_dim > 3)
        return CARVE_ERROR_INVALID_NDRANGE;
    for (d = 0; d < work_dim; ++d)
        if (global_size[d] == 0)
            return CARVE_ERROR_INVALID_NDRANGE;
    /* A product that wrapped around could match the plan by chance. */
    for (d = 0; d < work_dim; ++d) {
        if (items > UINT64_MAX / global_size[d])
            return CARVE_ERROR_NDRANGE_MISMATCH;
        items *= global_size[d];
    }
    if (items != set->plan.arena_count)
        return CARVE_ERROR_NDRANGE_MISMATCH;
    /* A split's slice is launched where the split launch has it: its
     * first arena's row of the slowest dimension, which
     * carve_flat_global_id counts. */
    if (set->first_arena != 0) {
        uint64_t row = items / global_size[work_dim - 1];
        if (set->first_arena % row != 0)
            return CARVE_ERROR_NDRANGE_MISMATCH;
        offset[work_dim - 1] = set->first_arena / row;
    }
    status = carve_set_bind(set, kernel, arg_index);
    if (status == CARVE_SUCCESS)
        status = carve_set_to_device(set);
    if (status == CARVE_SUCCESS)
        status = clEnqueueNDRangeKernel(set->queue, kernel, work_dim,
                                        set->first_arena != 0 ? offset : NULL,
                                        global_size, local_size, 0, NULL,
                                        &done);
    if (status == CARVE_SUCCESS)
        status = clFlush(set->queue);
    /* Take the set back even after a failed enqueue, so that it is left in
     * a known state. */
    taken = carve_set_to_host(set, done != NULL ? 1 : 0,
                              done != NULL ? &done : NULL);
    if (done != NULL)
        clReleaseEvent(done);
    /* A wait for the kernel's event that failed: wait for the whole queue
     * instead, once, so that the set is the host's again if it can be;
     * the first failure is the one reported. */
    if (taken != CARVE_SUCCESS)
        (void)carve_set_to_host(set, 0, NULL);
    return status != CARVE_SUCCESS ? status : taken;
}

carve_status carve__set_place(carve_set *set, uint32_t first_arena)
{
    carve_status status = carve__layout_place(set->base, first_arena);
    if (status == CARVE_SUCCESS)
        set->first_arena = first_arena;
    return status;
}

carve_status carve_set_reset(carve_set *set)
{
    if (set == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (!set->host_owned)
        return CARVE_ERROR_WRONG_OWNER;
    return carve_layout_reset(set->base);
}

const carve_plan *carve_set_plan(const carve_set *set)
{
    return set != NULL ? &set->plan : NULL;
}

carve_region *carve_set_region(const carve_set *set)
{
    return set != NULL ? set->region : NULL;
}

carve_status carve_set_zero_copy(const carve_set *set,
                                 carve_zero_copy_info *out)
{
    if (set == NULL || out == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    *out = set->zero_copy;
    return CARVE_SUCCESS;
}

carve_status carve_set_image(const carve_set *set, void **image)
{
    if (image != NULL)
        *image = NULL;
    if (set == NULL || image == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (!set->host_owned)
        return CARVE_ERROR_WRONG_OWNER;
    *image = set->base;
    return CARVE_SUCCESS;
}
