/* split.c - a split plan carved for its devices, launched on all of them
 * at once and handed back. Each slice is an ordinary set. */
#include "split_internal.h"

#include <stdlib.h>
#include <string.h>
#include "fault.h" /* last: test builds wrap the calls above */

static uint64_t round_up(uint64_t x, uint64_t to)
{
    return (x + to - 1) / to * to;
}

/* Remembers the first failure of a launch or hand-back, naming the
 * device. */
static void note_failure(carve_split *split, cl_uint slice, const char *step,
                         carve_status status)
{
    const carve_slice *s = &split->plan.slices[slice];
    char name[96] = "";
    if (split->failed_slice != CARVE_SPLIT_NO_SLICE)
        return;
    split->failed_slice = slice;
    if (clGetDeviceInfo(split->devices[slice], CL_DEVICE_NAME, sizeof name,
                        name, NULL) != CL_SUCCESS)
        name[0] = '\0';
    name[sizeof name - 1] = '\0';
    carve__message(split->message, sizeof split->message,
                   "device %u (%s, work-items %u to %llu): %s failed: %s (%d)",
                   (unsigned)slice, name[0] ? name : "unnamed",
                   (unsigned)s->first_arena,
                   (unsigned long long)s->first_arena + s->plan.arena_count - 1,
                   step, carve_status_string(status), (int)status);
}

/* ---- carving ------------------------------------------------------------ */

/* Why the slices cannot share a region; returns 0 (for the caller to
 * return), after releasing `region` if there is one. */
static int per_device(carve_split *split, carve_region *region,
                      const char *format, unsigned a, const char *b)
{
    char reason[160];
    carve__message(reason, sizeof reason, format, a, b);
    carve__message(split->why, sizeof split->why, "a region per device: %s",
                   reason);
    carve_region_release(region);
    return 0;
}

/* One region for every slice, where every device works on it in place:
 * made on devices[0], then probed on each other device. Where that cannot
 * be had (the slices together larger than a device's largest buffer, a
 * region that cannot be made, a device not shown to work on it in place,
 * a probe that gave no answer), returns 0 with the reason in split->why:
 * each device then gets a region of its own, whose creation says what is
 * wrong with a device if anything is. */
static int try_shared_region(carve_split *split, cl_context context)
{
    carve_region_params params;
    carve_region_info info;
    carve_region *region = NULL;
    uint64_t alignment = 0, bytes = 0, largest = UINT64_MAX;
    carve_status status;
    cl_uint i;
    /* A sub-buffer must start on every device's base alignment, and the
     * one buffer must be one every device can have. */
    for (i = 0; i < split->count; ++i) {
        const carve_plan *p = &split->plan.slices[i].plan;
        uint64_t a = carve__device_base_alignment(split->devices[i]);
        if (p->arena_alignment > a)
            a = p->arena_alignment;
        if (a > alignment)
            alignment = a;
        if (p->limits.max_mem_alloc_size < largest)
            largest = p->limits.max_mem_alloc_size;
    }
    for (i = 0; i < split->count; ++i)
        bytes += round_up(split->plan.slices[i].plan.total_bytes, alignment);
    if (bytes > largest)
        return per_device(split, NULL,
                          "the slices together (%u MiB) pass %s",
                          (unsigned)(bytes >> 20),
                          "a device's CL_DEVICE_MAX_MEM_ALLOC_SIZE");
    memset(&params, 0, sizeof params);
    params.backend = CARVE_BACKEND_AUTO;
    params.bytes = bytes;
    params.alignment = alignment;
    params.name = "split";
    status = carve_region_create(context, split->devices[0], &params, &region);
    if (status != CARVE_SUCCESS)
        return per_device(split, NULL,
                          "one region for all could not be made on device "
                          "%u: %s",
                          0, carve_status_string(status));
    status = carve_region_get_info(region, &info);
    if (status != CARVE_SUCCESS || !info.zero_copy_verified)
        return per_device(split, region,
                          "device %u is not shown to work on host memory in "
                          "place (%s)",
                          0, status == CARVE_SUCCESS
                                 ? info.zero_copy_evidence
                                 : carve_status_string(status));
    for (i = 1; i < split->count; ++i) {
        int in_place = 0;
        status = carve__region_probe_device(region, split->devices[i],
                                            &in_place);
        if (status != CARVE_SUCCESS)
            return per_device(split, region,
                              "device %u was not shown to use device 0's "
                              "region in place: its probe failed: %s",
                              (unsigned)i, carve_status_string(status));
        if (!in_place)
            return per_device(split, region,
                              "device %u does not work on device 0's region "
                              "in place%s",
                              (unsigned)i, "");
    }
    split->shared_region = region;
    carve__message(split->why, sizeof split->why,
                   "one region for every device: each device's probe kernel "
                   "worked on its pages in place");
    return 1;
}

static carve_status carve_slices(carve_split *split, cl_context context,
                                 uint32_t set_flags)
{
    carve_status status = CARVE_SUCCESS;
    cl_uint i;
    for (i = 0; i < split->count && status == CARVE_SUCCESS; ++i) {
        const carve_slice *s = &split->plan.slices[i];
        status = split->shared_region != NULL
                     ? carve_set_create_in(split->shared_region,
                                           split->queues[i], &s->plan,
                                           set_flags, &split->sets[i])
                     : carve_set_create(context, split->devices[i],
                                        split->queues[i], &s->plan, set_flags,
                                        &split->sets[i]);
        if (status == CARVE_SUCCESS)
            status = carve__set_place(split->sets[i], s->first_arena);
    }
    return status;
}

static void verify_zero_copy(carve_split *split)
{
    cl_uint i;
    split->zero_copy_verified = 1;
    for (i = 0; i < split->count; ++i) {
        carve_zero_copy_info info;
        if (carve_set_zero_copy(split->sets[i], &info) != CARVE_SUCCESS ||
            !info.verified)
            split->zero_copy_verified = 0;
    }
}

carve_status carve_split_create(cl_context context,
                                const cl_device_id *devices,
                                const cl_command_queue *queues,
                                const carve_split_plan *plan, uint32_t flags,
                                carve_split **out)
{
    carve_split *split;
    carve_status status = CARVE_SUCCESS;
    cl_uint i;
    if (out != NULL)
        *out = NULL;
    if (context == NULL || devices == NULL || queues == NULL || out == NULL ||
        !carve__split_plan_usable(plan) ||
        (flags & ~(CARVE_SET_REQUIRE_ZERO_COPY |
                   CARVE_SPLIT_REGION_PER_DEVICE)) != 0)
        return CARVE_ERROR_INVALID_ARGUMENT;
    for (i = 0; i < plan->params.device_count; ++i)
        if (devices[i] == NULL || queues[i] == NULL)
            return CARVE_ERROR_INVALID_ARGUMENT;
    split = calloc(1, sizeof *split);
    if (split == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    split->plan = *plan;
    split->count = plan->params.device_count;
    split->failed_slice = CARVE_SPLIT_NO_SLICE;
    for (i = 0; i < split->count; ++i) {
        split->devices[i] = devices[i];
        split->queues[i] = queues[i];
        clRetainCommandQueue(queues[i]);
    }
    if (split->count == 1)
        carve__message(split->why, sizeof split->why,
                       "one device: a region of its own");
    else if (flags & CARVE_SPLIT_REGION_PER_DEVICE)
        carve__message(split->why, sizeof split->why,
                       "a region per device, as asked");
    else
        (void)try_shared_region(split, context);
    status = carve_slices(split, context, flags & CARVE_SET_REQUIRE_ZERO_COPY);
    if (status == CARVE_SUCCESS) {
        verify_zero_copy(split);
        if ((flags & CARVE_SET_REQUIRE_ZERO_COPY) && !split->zero_copy_verified)
            status = CARVE_ERROR_NOT_ZERO_COPY;
    }
    if (status != CARVE_SUCCESS) {
        carve_split_release(split);
        return status;
    }
    *out = split;
    return CARVE_SUCCESS;
}

void carve_split_release(carve_split *split)
{
    cl_uint i;
    if (split == NULL)
        return;
    for (i = 0; i < split->count; ++i) {
        carve_set_release(split->sets[i]);
        clReleaseCommandQueue(split->queues[i]);
    }
    carve_region_release(split->shared_region);
    free(split);
}

const carve_split_plan *carve_split_get_plan(const carve_split *split)
{
    return split != NULL ? &split->plan : NULL;
}

carve_set *carve_split_set(const carve_split *split, cl_uint slice)
{
    return split != NULL && slice < split->count ? split->sets[slice] : NULL;
}

carve_status carve_split_info_get(const carve_split *split,
                                  carve_split_info *out)
{
    if (split == NULL || out == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    out->device_count = split->count;
    out->region_count = split->shared_region != NULL ? 1 : split->count;
    out->zero_copy_verified = split->zero_copy_verified;
    out->heap_per_device = 1;
    out->why = split->why;
    return CARVE_SUCCESS;
}

/* ---- launching and handing back ----------------------------------------- */

/* Launches slice i; on failure takes it back for the host at once. */
static carve_status launch_slice(carve_split *split, cl_uint i,
                                 cl_kernel kernel, cl_uint arg_index,
                                 const size_t *local_size, cl_event *done)
{
    const carve_slice *s = &split->plan.slices[i];
    const char *step = "binding the slice";
    carve_status status = carve_set_bind(split->sets[i], kernel, arg_index);
    *done = NULL;
    if (status == CARVE_SUCCESS) {
        step = "handing the slice to the device";
        status = carve_set_to_device(split->sets[i]);
    }
    if (status == CARVE_SUCCESS) {
        step = "clEnqueueNDRangeKernel";
        /* The kernel's arguments are captured here, so the next slice may
         * bind its own. */
        status = clEnqueueNDRangeKernel(
            split->queues[i], kernel, split->plan.params.plan.work_dim,
            s->global_offset, s->global_size, local_size, 0, NULL, done);
    }
    if (status == CARVE_SUCCESS) {
        step = "clFlush";
        status = clFlush(split->queues[i]);
    }
    if (status != CARVE_SUCCESS) {
        note_failure(split, i, step, status);
        /* After a failed flush the kernel may still run: its event says
         * when the slice may come back. */
        if (*done == NULL ||
            carve_set_to_host(split->sets[i], 1, done) != CARVE_SUCCESS)
            (void)carve_set_to_host(split->sets[i], 0, NULL);
    }
    return status;
}

carve_status carve_split_enqueue(carve_split *split, cl_kernel kernel,
                                 cl_uint arg_index, const size_t *local_size,
                                 cl_event *events)
{
    carve_status first = CARVE_SUCCESS;
    cl_uint i;
    if (split == NULL || kernel == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    split->failed_slice = CARVE_SPLIT_NO_SLICE;
    split->message[0] = '\0';
    for (i = 0; i < split->count; ++i) {
        cl_event done = NULL;
        carve_status status =
            launch_slice(split, i, kernel, arg_index, local_size, &done);
        if (status != CARVE_SUCCESS && first == CARVE_SUCCESS)
            first = status;
        if (events != NULL)
            events[i] = done;
        else if (done != NULL)
            clReleaseEvent(done);
    }
    return first;
}

carve_status carve_split_to_host(carve_split *split, const cl_event *events)
{
    carve_status first = CARVE_SUCCESS;
    cl_uint i;
    if (split == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    for (i = 0; i < split->count; ++i) {
        const cl_event *mine =
            events != NULL && events[i] != NULL ? &events[i] : NULL;
        carve_status status =
            carve_set_to_host(split->sets[i], mine != NULL ? 1 : 0, mine);
        if (status != CARVE_SUCCESS) {
            note_failure(split, i, "waiting for the launch", status);
            if (first == CARVE_SUCCESS)
                first = status;
            /* Once more through the whole queue, so that the slice is
             * the host's again if it can be (also when that was the wait
             * that failed: without events). */
            (void)carve_set_to_host(split->sets[i], 0, NULL);
        }
    }
    return first;
}

carve_status carve_split_run(carve_split *split, cl_kernel kernel,
                             cl_uint arg_index, const size_t *local_size)
{
    cl_event events[CARVE_SPLIT_MAX_DEVICES] = {0};
    carve_status launched, taken;
    cl_uint i;
    if (split == NULL || kernel == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    launched = carve_split_enqueue(split, kernel, arg_index, local_size, events);
    taken = carve_split_to_host(split, events);
    for (i = 0; i < split->count; ++i)
        if (events[i] != NULL)
            clReleaseEvent(events[i]);
    return launched != CARVE_SUCCESS ? launched : taken;
}

const char *carve_split_message(const carve_split *split)
{
    return split != NULL ? split->message : NULL;
}

cl_uint carve_split_failed_slice(const carve_split *split)
{
    return split != NULL ? split->failed_slice : CARVE_SPLIT_NO_SLICE;
}

carve_status carve_split_reset(carve_split *split)
{
    carve_status status = CARVE_SUCCESS;
    void *image;
    cl_uint i;
    if (split == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    /* All or nothing: check every owner first. */
    for (i = 0; i < split->count && status == CARVE_SUCCESS; ++i)
        status = carve_set_image(split->sets[i], &image);
    for (i = 0; i < split->count && status == CARVE_SUCCESS; ++i)
        status = carve_set_reset(split->sets[i]);
    return status;
}
