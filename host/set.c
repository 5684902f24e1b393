/* set.c - a plan carved from one shared OpenCL buffer. */
#include "carve_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOW_ALLOC_HOST_PTR "CL_MEM_ALLOC_HOST_PTR, mapped between launches"

static carve_status map_for_host(carve_set *set, cl_uint num_events,
                                 const cl_event *events)
{
    cl_int err = CL_SUCCESS;
    void *base;
    if (set->host_base != NULL)
        return CARVE_SUCCESS;
    base = clEnqueueMapBuffer(set->queue, set->buffer, CL_TRUE,
                              CL_MAP_READ | CL_MAP_WRITE, 0,
                              (size_t)set->plan.total_bytes, num_events,
                              events, NULL, &err);
    if (err != CL_SUCCESS)
        return err;
    set->host_base = base;
    set->zero_copy.host_address = (uint64_t)(uintptr_t)base;
    return CARVE_SUCCESS;
}

static carve_status unmap_for_device(carve_set *set)
{
    cl_int err;
    if (set->host_base == NULL)
        return CARVE_SUCCESS;
    err = clEnqueueUnmapMemObject(set->queue, set->buffer, set->host_base, 0,
                                  NULL, NULL);
    if (err != CL_SUCCESS)
        return err;
    set->host_base = NULL;
    return CARVE_SUCCESS;
}

/* Runs the probe kernel on the buffer and records what it proves. Leaves
 * the set host-owned. */
static carve_status probe_zero_copy(carve_set *set)
{
    const char *source = carve_device_source("carve_probe.cl", NULL);
    carve_set_header *header;
    cl_program program = NULL;
    cl_kernel kernel = NULL;
    size_t one = 1;
    uint32_t nonce;
    carve_status status;

    header = (carve_set_header *)set->host_base;
    nonce = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)set ^ 0x5a5a5a5au;
    header->probe_nonce = nonce;
    header->probe_echo = 0;
    status = carve_program_build(set->context, set->device, source, NULL,
                                 &program, NULL);
    if (status == CARVE_SUCCESS)
        kernel = clCreateKernel(program, "carve_probe", &status);
    if (status == CARVE_SUCCESS)
        status = clSetKernelArg(kernel, 0, sizeof set->buffer, &set->buffer);
    if (status == CARVE_SUCCESS)
        status = unmap_for_device(set);
    if (status == CARVE_SUCCESS)
        status = clEnqueueNDRangeKernel(set->queue, kernel, 1, NULL, &one, NULL,
                                        0, NULL, NULL);
    if (set->host_base == NULL) {
        carve_status mapped = map_for_host(set, 0, NULL);
        if (status == CARVE_SUCCESS)
            status = mapped;
    }
    if (kernel != NULL)
        clReleaseKernel(kernel);
    if (program != NULL)
        clReleaseProgram(program);
    if (status != CARVE_SUCCESS)
        return status;
    header = (carve_set_header *)set->host_base;
    if (header->probe_echo != nonce + 1u)
        return CARVE_ERROR_PROBE_FAILED;
    set->zero_copy.device_address = ((uint64_t)header->probe_address_hi << 32) |
                                    header->probe_address_lo;
    set->zero_copy.verified =
        set->zero_copy.device_address == set->zero_copy.host_address;
    return CARVE_SUCCESS;
}

carve_status carve_set_create(cl_context context, cl_device_id device,
                              cl_command_queue queue, const carve_plan *plan,
                              uint32_t flags, carve_set **out)
{
    carve_set *set;
    carve_status status;
    if (out != NULL)
        *out = NULL;
    if (context == NULL || device == NULL || queue == NULL || plan == NULL ||
        out == NULL || plan->total_bytes == 0 || plan->message[0] != '\0' ||
        (flags & ~CARVE_SET_REQUIRE_ZERO_COPY) != 0)
        return CARVE_ERROR_INVALID_ARGUMENT;
    set = calloc(1, sizeof *set);
    if (set == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    set->plan = *plan;
    set->zero_copy.how = HOW_ALLOC_HOST_PTR;
    set->buffer = clCreateBuffer(context,
                                 CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR,
                                 (size_t)plan->total_bytes, NULL, &status);
    if (status != CL_SUCCESS) {
        free(set);
        return status;
    }
    set->context = context;
    set->device = device;
    set->queue = queue;
    clRetainContext(context);
    clRetainDevice(device);
    clRetainCommandQueue(queue);
    status = map_for_host(set, 0, NULL);
    if (status == CARVE_SUCCESS)
        status = carve_layout_format(set->host_base,
                                     (size_t)plan->total_bytes, plan);
    if (status == CARVE_SUCCESS)
        status = probe_zero_copy(set);
    if (status == CARVE_SUCCESS && (flags & CARVE_SET_REQUIRE_ZERO_COPY) &&
        !set->zero_copy.verified)
        status = CARVE_ERROR_NOT_ZERO_COPY;
    if (status != CARVE_SUCCESS) {
        carve_set_release(set);
        return status;
    }
    *out = set;
    return CARVE_SUCCESS;
}

void carve_set_release(carve_set *set)
{
    if (set == NULL)
        return;
    if (set->buffer != NULL) {
        unmap_for_device(set);
        clFinish(set->queue);
        clReleaseMemObject(set->buffer);
    }
    if (set->queue != NULL)
        clReleaseCommandQueue(set->queue);
    if (set->device != NULL)
        clReleaseDevice(set->device);
    if (set->context != NULL)
        clReleaseContext(set->context);
    free(set);
}

carve_status carve_set_to_device(carve_set *set)
{
    if (set == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    return unmap_for_device(set);
}

carve_status carve_set_to_host(carve_set *set, cl_uint num_events,
                               const cl_event *events)
{
    if (set == NULL || (num_events > 0) != (events != NULL))
        return CARVE_ERROR_INVALID_ARGUMENT;
    return map_for_host(set, num_events, events);
}

carve_status carve_set_bind(carve_set *set, cl_kernel kernel,
                            cl_uint arg_index)
{
    if (set == NULL || kernel == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    return clSetKernelArg(kernel, arg_index, sizeof set->buffer, &set->buffer);
}

carve_status carve_set_run(carve_set *set, cl_kernel kernel, cl_uint arg_index,
                           cl_uint work_dim, const size_t *global_size,
                           const size_t *local_size)
{
    uint64_t items = 1;
    cl_uint d;
    carve_status status, mapped;
    if (set == NULL || kernel == NULL || global_size == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (work_dim < 1 || work_dim > 3)
        return CARVE_ERROR_INVALID_NDRANGE;
    for (d = 0; d < work_dim; ++d)
        items *= global_size[d];
    if (items != set->plan.arena_count)
        return CARVE_ERROR_INVALID_NDRANGE;
    status = carve_set_bind(set, kernel, arg_index);
    if (status == CARVE_SUCCESS)
        status = unmap_for_device(set);
    if (status == CARVE_SUCCESS)
        status = clEnqueueNDRangeKernel(set->queue, kernel, work_dim, NULL,
                                        global_size, local_size, 0, NULL, NULL);
    /* Take the buffer back even after a failed enqueue, so the set is left
     * in a known state. */
    mapped = map_for_host(set, 0, NULL);
    return status != CARVE_SUCCESS ? status : mapped;
}

carve_status carve_set_reset(carve_set *set)
{
    if (set == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (set->host_base == NULL)
        return CARVE_ERROR_WRONG_OWNER;
    return carve_layout_reset(set->host_base);
}

const carve_plan *carve_set_plan(const carve_set *set)
{
    return set != NULL ? &set->plan : NULL;
}

cl_mem carve_set_buffer(const carve_set *set)
{
    return set != NULL ? set->buffer : NULL;
}

carve_status carve_set_zero_copy(const carve_set *set,
                                 carve_zero_copy_info *out)
{
    if (set == NULL || out == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    *out = set->zero_copy;
    return CARVE_SUCCESS;
}

void *carve_set_host_base(const carve_set *set)
{
    return set != NULL ? set->host_base : NULL;
}

/* The image for a host accessor, or the reason there is none. */
static carve_status host_image(const carve_set *set, void **image)
{
    if (set == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (set->host_base == NULL)
        return CARVE_ERROR_WRONG_OWNER;
    *image = set->host_base;
    return CARVE_SUCCESS;
}

carve_status carve_set_arena_stats(const carve_set *set, uint32_t index,
                                   carve_arena_stats *out)
{
    void *image = NULL;
    carve_status status = host_image(set, &image);
    return status != CARVE_SUCCESS
               ? status
               : carve_layout_arena_stats(image, index, out);
}

carve_status carve_set_summary(const carve_set *set, carve_summary *out)
{
    void *image = NULL;
    carve_status status = host_image(set, &image);
    return status != CARVE_SUCCESS ? status : carve_layout_summary(image, out);
}

carve_status carve_set_check(const carve_set *set, uint32_t *bad_index,
                             uint32_t *broken)
{
    void *image = NULL;
    carve_status status = host_image(set, &image);
    return status != CARVE_SUCCESS
               ? status
               : carve_layout_check(image, bad_index, broken);
}

void *carve_set_pointer(const carve_set *set, uint32_t offset, size_t bytes)
{
    void *image = NULL;
    if (host_image(set, &image) != CARVE_SUCCESS)
        return NULL;
    return carve_layout_pointer(image, offset, bytes);
}
