/*
 * ti_program.c - a host program written for TI's OpenCL SDK, in C, that
 * includes only what it would include on TI (<CL/cl.h>, <CL/cl_ext.h>,
 * "ocl_util.h") and uses every name TI's headers add: the allocation
 * functions, MSMC buffers, TI's device queries, the kernel-timeout queue
 * property and call, TI's error codes, __is_in_malloced_region. Built
 * through carve's drop-in (pkg-config carve-ti, CMake carve::ti), with no
 * change.
 *
 * It checks what carve documents for each (carve/ti_sdk.h), and makes two
 * mistakes TI programs make: a free through the other tier's call, and a
 * free of memory a live buffer still uses (which carve reports on stderr
 * and survives). Exit 0 when everything held, 1 otherwise, 77 without an
 * OpenCL device.
 */
#include <CL/cl.h>
#include <CL/cl_ext.h>

#include "ocl_util.h" /* TI's helpers: ocl_decode_error */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT 4096u

static const char *source =
    "kernel void scale(global float *data, float k)\n"
    "{\n"
    "    size_t i = get_global_id(0);\n"
    "    data[i] = data[i] * k;\n"
    "}\n";

static int failures;

static void expect(int holds, const char *what)
{
    if (!holds) {
        printf("FAILED: %s\n", what);
        ++failures;
    }
}

#define CHECK(call)                                                          \
    do {                                                                     \
        cl_int err_ = (call);                                                \
        if (err_ != CL_SUCCESS) {                                            \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,    \
                    ocl_decode_error(err_));                                 \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

static cl_device_id first_device(void)
{
    cl_platform_id platforms[8];
    cl_uint count = 0, i;
    cl_device_id device = NULL;
    if (clGetPlatformIDs(8, platforms, &count) != CL_SUCCESS)
        return NULL;
    for (i = 0; i < count && i < 8 && device == NULL; ++i)
        if (clGetDeviceIDs(platforms[i], CL_DEVICE_TYPE_ALL, 1, &device,
                           NULL) != CL_SUCCESS)
            device = NULL;
    return device;
}

/* Runs scale(buffer, k) over COUNT items and waits. */
static void run(cl_command_queue queue, cl_kernel kernel, cl_mem buffer,
                float k)
{
    size_t global = COUNT;
    CHECK(clSetKernelArg(kernel, 0, sizeof buffer, &buffer));
    CHECK(clSetKernelArg(kernel, 1, sizeof k, &k));
    CHECK(clEnqueueNDRangeKernel(queue, kernel, 1, NULL, &global, NULL, 0,
                                 NULL, NULL));
    CHECK(clFinish(queue));
}

/* Whether every item of the host-pointer buffer over `data` is i * k. */
static int holds_scaled(cl_command_queue queue, cl_mem buffer, float k)
{
    cl_int err = CL_SUCCESS;
    float *view = clEnqueueMapBuffer(queue, buffer, CL_TRUE, CL_MAP_READ, 0,
                                     COUNT * sizeof(float), 0, NULL, NULL,
                                     &err);
    unsigned i, wrong = 0;
    CHECK(err);
    for (i = 0; i < COUNT; ++i)
        wrong += view[i] != (float)i * k;
    CHECK(clEnqueueUnmapMemObject(queue, buffer, view, 0, NULL, NULL));
    CHECK(clFinish(queue));
    return wrong == 0;
}

static void device_queries(cl_device_id device)
{
    cl_ulong msmc = 0, msmc_alloc = 0, ext1 = 1, global_alloc = 0, local = 0;
    char extensions[8192];
    CHECK(clGetDeviceInfo(device, CL_DEVICE_MSMC_MEM_SIZE_TI, sizeof msmc,
                          &msmc, NULL));
    CHECK(clGetDeviceInfo(device, CL_DEVICE_MSMC_MEM_MAX_ALLOC_TI,
                          sizeof msmc_alloc, &msmc_alloc, NULL));
    CHECK(clGetDeviceInfo(device, CL_DEVICE_GLOBAL_EXT1_MEM_SIZE_TI,
                          sizeof ext1, &ext1, NULL));
    CHECK(clGetDeviceInfo(device, CL_DEVICE_GLOBAL_MEM_MAX_ALLOC_TI,
                          sizeof global_alloc, &global_alloc, NULL));
    CHECK(clGetDeviceInfo(device, CL_DEVICE_LOCAL_MEM_MAX_ALLOC_TI,
                          sizeof local, &local, NULL));
    CHECK(clGetDeviceInfo(device, CL_DEVICE_EXTENSIONS, sizeof extensions,
                          extensions, NULL));
    printf("MSMC %llu bytes (largest buffer %llu), DDR buffers up to %llu "
           "bytes, local %llu bytes\n",
           (unsigned long long)msmc, (unsigned long long)msmc_alloc,
           (unsigned long long)global_alloc, (unsigned long long)local);
    expect(msmc > 0 && msmc_alloc == msmc, "the MSMC size is the tier's");
    expect(ext1 == 0, "no extended memory");
    expect(global_alloc > 0 && local > 0, "DDR and local limits answered");
    expect(strstr(extensions, "cl_ti_msmc_buffers") != NULL,
           "the device lists cl_ti_msmc_buffers");
}

/* A buffer in on-chip memory, initialised from the host. */
static void msmc_buffer(cl_context context, cl_command_queue queue,
                        cl_kernel kernel)
{
    static float initial[COUNT], back[COUNT];
    cl_int err = CL_SUCCESS;
    cl_mem buffer;
    unsigned i, wrong = 0;
    for (i = 0; i < COUNT; ++i)
        initial[i] = (float)i;
    buffer = clCreateBuffer(context,
                            CL_MEM_READ_WRITE | CL_MEM_USE_MSMC_TI |
                                CL_MEM_COPY_HOST_PTR,
                            sizeof initial, initial, &err);
    CHECK(err);
    run(queue, kernel, buffer, 3.0f);
    CHECK(clEnqueueReadBuffer(queue, buffer, CL_TRUE, 0, sizeof back, back, 0,
                              NULL, NULL));
    for (i = 0; i < COUNT; ++i)
        wrong += back[i] != (float)i * 3.0f;
    expect(wrong == 0, "a kernel scales an MSMC buffer");
    clReleaseMemObject(buffer);
    /* TI refuses on-chip memory that is the host's pointer. */
    buffer = clCreateBuffer(context, CL_MEM_USE_MSMC_TI | CL_MEM_USE_HOST_PTR,
                            sizeof initial, initial, &err);
    expect(buffer == NULL && err == CL_INVALID_VALUE,
           "CL_MEM_USE_MSMC_TI with CL_MEM_USE_HOST_PTR is refused");
}

/* Memory from __malloc_ddr in a CL_MEM_USE_HOST_PTR buffer, freed too
 * early: the buffer keeps working and the memory is not handed out again
 * while it lives. */
static void ddr_buffer_freed_early(cl_context context, cl_command_queue queue,
                                   cl_kernel kernel)
{
    float *data = __malloc_ddr(COUNT * sizeof(float));
    float *other;
    cl_int err = CL_SUCCESS;
    cl_mem buffer;
    unsigned i;
    if (data == NULL) {
        expect(0, "__malloc_ddr");
        return;
    }
    for (i = 0; i < COUNT; ++i)
        data[i] = (float)i;
    buffer = clCreateBuffer(context, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR,
                            COUNT * sizeof(float), data, &err);
    CHECK(err);
    run(queue, kernel, buffer, 2.0f);
    expect(holds_scaled(queue, buffer, 2.0f), "a kernel scales DDR memory");
    __free_ddr(data); /* too early: the buffer still uses it */
    other = __malloc_ddr(COUNT * sizeof(float));
    expect(other != NULL && other != data,
           "memory a live buffer uses is not handed out again");
    if (other != NULL)
        memset(other, 0xff, COUNT * sizeof(float));
    run(queue, kernel, buffer, 5.0f);
    expect(holds_scaled(queue, buffer, 10.0f),
           "the buffer still works after the early free");
    expect(__is_in_malloced_region(data) == 1,
           "the early-freed memory stays allocated while the buffer lives");
    clReleaseMemObject(buffer);
    expect(__is_in_malloced_region(data) == 0,
           "the memory is freed when the buffer is released");
    __free_ddr(other);
}

static void allocation_calls(void)
{
    char *ddr = __malloc_ddr(1000), *msmc = __malloc_msmc(1000);
    expect(ddr != NULL && msmc != NULL, "__malloc_ddr and __malloc_msmc");
    expect(((size_t)ddr & 127u) == 0 && ((size_t)msmc & 127u) == 0,
           "128-byte alignment");
    expect(__is_in_malloced_region(ddr + 999) == 1 &&
               __is_in_malloced_region(msmc) == 1,
           "__is_in_malloced_region: any byte of an allocation");
    expect(__is_in_malloced_region(&failures) == 0,
           "__is_in_malloced_region: other memory");
    __free_msmc(ddr); /* the other tier's call: TI frees it all the same */
    __free_ddr(msmc);
    expect(__is_in_malloced_region(ddr) == 0 &&
               __is_in_malloced_region(msmc) == 0,
           "either tier's free frees both tiers' memory");
}

int main(void)
{
    cl_device_id device = first_device();
    cl_context context;
    cl_command_queue queue;
    cl_program program;
    cl_kernel kernel;
    cl_int err = CL_SUCCESS;
    if (device == NULL) {
        printf("no OpenCL device\n");
        return getenv("CARVE_REQUIRE_DEVICE") != NULL ? 1 : 77;
    }
    context = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
    CHECK(err);
    queue = clCreateCommandQueue(context, device,
                                 CL_QUEUE_KERNEL_TIMEOUT_COMPUTE_UNIT_TI |
                                     CL_QUEUE_PROFILING_ENABLE,
                                 &err);
    CHECK(err);
    program = clCreateProgramWithSource(context, 1, &source, NULL, &err);
    CHECK(err);
    CHECK(clBuildProgram(program, 1, &device, NULL, NULL, NULL));
    kernel = clCreateKernel(program, "scale", &err);
    CHECK(err);
    err = __ti_set_kernel_timeout_ms(kernel, 100);
    printf("__ti_set_kernel_timeout_ms: %s\n", ocl_decode_error(err));
    expect(err == CL_INVALID_OPERATION, "a kernel timeout is refused");
    printf("TI's kernel errors: %s; %s; %s\n",
           ocl_decode_error(CL_ERROR_KERNEL_ABORT_TI),
           ocl_decode_error(CL_ERROR_KERNEL_EXIT_TI),
           ocl_decode_error(CL_ERROR_KERNEL_TIMEOUT_TI));
    device_queries(device);
    allocation_calls();
    msmc_buffer(context, queue, kernel);
    ddr_buffer_freed_early(context, queue, kernel);
    clReleaseKernel(kernel);
    clReleaseProgram(program);
    clReleaseCommandQueue(queue);
    clReleaseContext(context);
    printf("%s\n", failures == 0 ? "PASSED" : "FAILED");
    return failures == 0 ? 0 : 1;
}
