/* ti_sdk.c - TI's buffer flag, device queries, queue property and kernel
 * timeout (carve/ti_sdk.h): the calls the drop-in <CL/cl.h> routes here. */
#include "ti_internal.h"

#include <string.h>
#include "fault.h" /* last: test builds wrap the calls above */

/* The extension a TI program looks for before it uses MSMC buffers. */
static const char msmc_extension[] = " cl_ti_msmc_buffers";

/* The runtime is done with a buffer over a tier's memory. */
static void CL_CALLBACK buffer_released(cl_mem buffer, void *start)
{
    (void)buffer;
    carve__ti_unpin(start);
}

/* Keeps the tier allocation under a CL_MEM_USE_HOST_PTR buffer from being
 * handed out again while the buffer lives. On failure nothing stays
 * recorded; *pinned says whether the pin had been taken (and given back:
 * an owned allocation is then freed). */
static cl_int watch(cl_mem buffer, void *host_ptr, int owned, int *pinned)
{
    void *start = NULL;
    cl_int err = carve__ti_pin(host_ptr, buffer, owned, &start);
    *pinned = err == CARVE_SUCCESS && start != NULL;
    if (*pinned) {
        err = clSetMemObjectDestructorCallback(buffer, buffer_released, start);
        if (err != CL_SUCCESS)
            carve__ti_unpin(start);
    }
    if (err == CARVE_ERROR_OUT_OF_HOST_MEMORY)
        err = CL_OUT_OF_HOST_MEMORY; /* what the caller's OpenCL code knows */
    return err;
}

/* A buffer in the msmc tier: its memory is a tier allocation that the
 * buffer uses (CL_MEM_USE_HOST_PTR) and gives back when it is released. */
static cl_mem create_msmc_buffer(cl_context context, cl_mem_flags flags,
                                 size_t size, void *host_ptr, cl_int *err)
{
    cl_mem_flags platform_flags =
        (flags & ~(cl_mem_flags)(CL_MEM_USE_MSMC_TI | CL_MEM_COPY_HOST_PTR |
                                 CL_MEM_ALLOC_HOST_PTR)) |
        CL_MEM_USE_HOST_PTR;
    cl_mem buffer;
    void *memory;
    int pinned = 0;
    if ((flags & CL_MEM_USE_HOST_PTR) || size == 0) {
        *err = size == 0 ? CL_INVALID_BUFFER_SIZE : CL_INVALID_VALUE;
        return NULL;
    }
    if ((flags & CL_MEM_COPY_HOST_PTR) != 0 && host_ptr == NULL) {
        *err = CL_INVALID_HOST_PTR;
        return NULL;
    }
    memory = __malloc_msmc(size);
    if (memory == NULL) {
        *err = CL_MEM_OBJECT_ALLOCATION_FAILURE;
        return NULL;
    }
    if (flags & CL_MEM_COPY_HOST_PTR)
        memcpy(memory, host_ptr, size);
    buffer = clCreateBuffer(context, platform_flags, size, memory, err);
    if (*err == CL_SUCCESS)
        *err = watch(buffer, memory, 1, &pinned);
    if (*err != CL_SUCCESS) {
        if (buffer != NULL)
            clReleaseMemObject(buffer);
        if (!pinned) /* else giving the pin back freed it */
            __free_msmc(memory);
        buffer = NULL;
    }
    return buffer;
}

cl_mem carve_ti_create_buffer(cl_context context, cl_mem_flags flags,
                              size_t size, void *host_ptr, cl_int *errcode_ret)
{
    cl_int err = CL_SUCCESS;
    cl_mem buffer;
    int pinned = 0;
    if (flags & CL_MEM_USE_MSMC_TI) {
        buffer = create_msmc_buffer(context, flags, size, host_ptr, &err);
    } else {
        buffer = clCreateBuffer(context, flags, size, host_ptr, &err);
        if (err == CL_SUCCESS && (flags & CL_MEM_USE_HOST_PTR)) {
            err = watch(buffer, host_ptr, 0, &pinned);
            if (err != CL_SUCCESS) {
                clReleaseMemObject(buffer);
                buffer = NULL;
            }
        }
    }
    if (errcode_ret != NULL)
        *errcode_ret = err;
    return buffer;
}

/* TI's answer to one of its queries, in bytes. */
static cl_int ti_query(cl_device_id device, cl_device_info name,
                       cl_ulong *answer)
{
    size_t in_use = 0, ddr = 0, msmc = 0;
    cl_int err = CL_SUCCESS;
    carve_status status = carve_ti_usage("ddr", &in_use, &ddr);
    if (status == CARVE_SUCCESS)
        status = carve_ti_usage("msmc", &in_use, &msmc);
    if (status != CARVE_SUCCESS)
        return CL_OUT_OF_HOST_MEMORY;
    switch (name) {
    case CL_DEVICE_MSMC_MEM_SIZE_TI:
    case CL_DEVICE_MSMC_MEM_MAX_ALLOC_TI:
        *answer = msmc;
        break;
    case CL_DEVICE_GLOBAL_MEM_MAX_ALLOC_TI:
        /* A buffer over DDR memory: the tier, as far as the device takes. */
        err = clGetDeviceInfo(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE,
                              sizeof *answer, answer, NULL);
        if (err == CL_SUCCESS && ddr < *answer)
            *answer = ddr;
        break;
    case CL_DEVICE_LOCAL_MEM_MAX_ALLOC_TI:
        err = clGetDeviceInfo(device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof *answer,
                              answer, NULL);
        break;
    default: /* the extended memory of 66AK2H boards: none here */
        *answer = 0;
        break;
    }
    return err;
}

static int is_ti_query(cl_device_info name)
{
    return name >= CL_DEVICE_MSMC_MEM_SIZE_TI &&
           name <= CL_DEVICE_LOCAL_MEM_MAX_ALLOC_TI;
}

/* The device's extensions and TI's MSMC buffers, as one string. */
static cl_int extensions(cl_device_id device, size_t size, char *value,
                         size_t *size_ret)
{
    size_t platform_size = 0, total;
    cl_int err = clGetDeviceInfo(device, CL_DEVICE_EXTENSIONS, 0, NULL,
                                 &platform_size);
    if (err != CL_SUCCESS)
        return err;
    total = platform_size + sizeof msmc_extension - 1;
    if (size_ret != NULL)
        *size_ret = total;
    if (value == NULL)
        return CL_SUCCESS;
    if (size < total || platform_size == 0)
        return CL_INVALID_VALUE;
    err = clGetDeviceInfo(device, CL_DEVICE_EXTENSIONS, size, value, NULL);
    if (err == CL_SUCCESS)
        memcpy(value + platform_size - 1, msmc_extension,
               sizeof msmc_extension);
    return err;
}

cl_int carve_ti_get_device_info(cl_device_id device, cl_device_info name,
                                size_t size, void *value, size_t *size_ret)
{
    cl_ulong answer = 0;
    cl_int err;
    if (name == CL_DEVICE_EXTENSIONS)
        return extensions(device, size, value, size_ret);
    if (!is_ti_query(name))
        return clGetDeviceInfo(device, name, size, value, size_ret);
    if (device == NULL)
        return CL_INVALID_DEVICE;
    if (value != NULL && size < sizeof answer)
        return CL_INVALID_VALUE;
    err = ti_query(device, name, &answer);
    if (err != CL_SUCCESS)
        return err;
    if (value != NULL)
        memcpy(value, &answer, sizeof answer);
    if (size_ret != NULL)
        *size_ret = sizeof answer;
    return CL_SUCCESS;
}

cl_command_queue carve_ti_create_command_queue(
    cl_context context, cl_device_id device,
    cl_command_queue_properties properties, cl_int *errcode_ret)
{
    return clCreateCommandQueue(
        context, device,
        properties & ~(cl_command_queue_properties)
                         CL_QUEUE_KERNEL_TIMEOUT_COMPUTE_UNIT_TI,
        errcode_ret);
}

cl_int __ti_set_kernel_timeout_ms(cl_kernel kernel, cl_uint timeout_in_ms)
{
    (void)timeout_in_ms;
    return kernel == NULL ? CL_INVALID_KERNEL : CL_INVALID_OPERATION;
}
