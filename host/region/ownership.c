/*
 * ownership.c - moving an allocation between host and device: mapping it
 * for the host, unmapping it for the device, the caller's cache hooks, the
 * coherence check's views; and making it a kernel's argument. Each backend
 * family does the OpenCL part (carve__backend_ops).
 */
#include "region_internal.h"
#include "pool/tool_annotations.h"

#include <stdlib.h>
#include "fault.h" /* last: test builds wrap the calls above */

carve_status carve__wait_events(cl_uint n, const cl_event *events)
{
    return n > 0 ? clWaitForEvents(n, events) : CARVE_SUCCESS;
}

carve_status carve__zc_unmap(carve_region *r, carve__zc_record *a)
{
    cl_int err;
    if (a->mapping == NULL)
        return CARVE_SUCCESS;
    err = r->ops->enqueue_unmap(r, a);
    /* Once enqueued, the unmap happens: a failed wait below does not
     * leave the mapping to be unmapped twice. */
    if (err == CL_SUCCESS)
        a->mapping = NULL;
    if (err == CL_SUCCESS)
        err = clFinish(r->queue);
    return err;
}

carve_status carve__zc_map_back(carve_region *r, carve__zc_record *a,
                                uint64_t offset, uint64_t bytes, cl_uint n,
                                const cl_event *events)
{
    return r->ops->map(r, a, offset, bytes, CL_MAP_READ | CL_MAP_WRITE, n,
                       events);
}

void carve__zc_restore_mapping(carve_region *r, carve__located *l)
{
    if (l->alloc->mapping != NULL || !r->ops->host_owns_by_mapping)
        return;
    if (l->alloc->sub_buffer == NULL &&
        r->ops->attach(r, l->alloc, l->offset, l->requested) != CARVE_SUCCESS)
        return;
    carve__zc_map_back(r, l->alloc, l->offset, l->size, 0, NULL);
}

void carve__zc_forget_record(carve_region *r, uint64_t offset, uint64_t size,
                             carve__zc_record *a)
{
    if (a != NULL) {
        carve__zc_unmap(r, a);
        r->ops->detach(a);
        if (a->device_owned)
            carve__coherence_open_view(r, offset, size, 0);
        free(a);
    }
    carve__annotate_freed(r->host_base + offset, size);
}

/* ---- kernel arguments and hand-overs ------------------------------------ */

carve_status carve_zc_set_arg(cl_kernel kernel, cl_uint index, const void *ptr)
{
    carve__located l;
    carve_status err;
    if (kernel == NULL) {
        /* the pointer is not judged */
        carve__zc_refusal = CARVE_ZC_REFUSED_NONE;
        return CARVE_ERROR_INVALID_ARGUMENT;
    }
    if (!carve__zc_locate(ptr, &l))
        return CARVE_ERROR_INVALID_ARGUMENT;
    err = l.region->ops->set_arg(&l, kernel, index, ptr);
    pthread_mutex_unlock(&l.region->lock);
    return err;
}

/* Locates the allocation to hand over, whose first `bytes` (0: all it was
 * asked for) form the range; sets *range_bytes. A range starts at its
 * allocation: carve keeps no interval index, so that every lookup stays
 * O(1), and a pointer inside an allocation is refused. A set's memory is
 * refused unless the set hands itself over (`for_set`): the set tracks its
 * owner, and a hand-over behind its back would leave it mapping or
 * reading memory the device owns. */
static int locate_for_handover(const void *ptr, size_t bytes, int for_set,
                               carve__located *l, uint64_t *range_bytes)
{
    if (!carve__zc_locate(ptr, l))
        return 0;
    *range_bytes = bytes == 0 ? l->requested : bytes;
    if (*range_bytes > l->requested || l->alloc->set_memory != for_set) {
        pthread_mutex_unlock(&l->region->lock);
        return carve__zc_refuse(*range_bytes > l->requested
                                    ? CARVE_ZC_REFUSED_PAST_END
                                    : CARVE_ZC_REFUSED_SET_MEMORY);
    }
    return 1;
}

static carve_status to_device(const void *ptr, size_t bytes, int for_set)
{
    carve__located l;
    uint64_t length = 0;
    carve_status status;
    if (!locate_for_handover(ptr, bytes, for_set, &l, &length))
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (l.alloc->device_owned) {
        pthread_mutex_unlock(&l.region->lock);
        return CARVE_SUCCESS;
    }
    if (l.region->write_back != NULL)
        l.region->write_back(l.region->hook_context,
                             l.region->host_base + l.offset, (size_t)length);
    status = carve__zc_unmap(l.region, l.alloc);
    if (status == CARVE_SUCCESS) {
        l.alloc->device_owned = 1;
        carve__coherence_open_view(l.region, l.offset, l.size, 1);
    } else {
        carve__zc_restore_mapping(l.region, &l);
    }
    pthread_mutex_unlock(&l.region->lock);
    return status;
}

/* OpenCL answers a NULL event differently in a wait (CL_INVALID_EVENT)
 * and in a map's wait list (CL_INVALID_EVENT_WAIT_LIST), so which one a
 * caller saw would depend on the backend: carve refuses it itself. */
static int events_valid(cl_uint n, const cl_event *events)
{
    cl_uint i;
    if ((n > 0) != (events != NULL))
        return 0;
    for (i = 0; i < n; ++i)
        if (events[i] == NULL)
            return 0;
    return 1;
}

static carve_status to_host(const void *ptr, size_t bytes, cl_uint num_events,
                            const cl_event *events, int for_set)
{
    carve__located l;
    uint64_t length = 0;
    carve_status status;
    if (!events_valid(num_events, events)) {
        /* the pointer is not judged */
        carve__zc_refusal = CARVE_ZC_REFUSED_NONE;
        return CARVE_ERROR_INVALID_ARGUMENT;
    }
    if (!locate_for_handover(ptr, bytes, for_set, &l, &length))
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (!l.alloc->device_owned) {
        pthread_mutex_unlock(&l.region->lock);
        return carve__wait_events(num_events, events);
    }
    status = carve__zc_map_back(l.region, l.alloc, l.offset, l.size,
                                num_events, events);
    if (status == CARVE_SUCCESS) {
        carve__coherence_open_view(l.region, l.offset, l.size, 0);
        if (l.region->invalidate != NULL)
            l.region->invalidate(l.region->hook_context,
                                 l.region->host_base + l.offset,
                                 (size_t)length);
        l.alloc->device_owned = 0;
    }
    pthread_mutex_unlock(&l.region->lock);
    return status;
}

carve_status carve_zc_to_device(const void *ptr, size_t bytes)
{
    return to_device(ptr, bytes, 0);
}

carve_status carve_zc_to_host(const void *ptr, size_t bytes,
                              cl_uint num_events, const cl_event *events)
{
    return to_host(ptr, bytes, num_events, events, 0);
}

carve_status carve__zc_set_to_device(void *ptr)
{
    uint32_t kept = carve__zc_refusal;
    carve_status status = to_device(ptr, 0, 1);
    carve__zc_refusal = kept;
    return status;
}

carve_status carve__zc_set_to_host(void *ptr, cl_uint num_events,
                                   const cl_event *events)
{
    uint32_t kept = carve__zc_refusal;
    carve_status status = to_host(ptr, 0, num_events, events, 1);
    carve__zc_refusal = kept;
    return status;
}

carve_status carve__zc_bind_set(cl_kernel kernel, cl_uint index, void *ptr)
{
    uint32_t kept = carve__zc_refusal;
    carve_status status = carve_zc_set_arg(kernel, index, ptr);
    carve__zc_refusal = kept;
    return status;
}
