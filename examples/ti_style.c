/*
 * ti_style.c - a host program written for TI's OpenCL (66AK2x / AM57x),
 * running unchanged on another platform through carve's drop-in for TI's
 * headers (pkg-config carve-ti, CMake carve::ti).
 *
 * It does what TI's documentation recommends for zero-copy: allocate with
 * __malloc_ddr (and the small on-chip tier with __malloc_msmc), wrap the
 * memory in CL_MEM_USE_HOST_PTR buffers, and read results through
 * clEnqueueMapBuffer, which on a non-coherent ARM + DSP system is where the
 * caches are made consistent. Nothing in it is carve's: the build puts
 * carve's drop-in folder first on the include path.
 *
 * The kernel reports the address at which it sees the input; if that is
 * the address __malloc_ddr returned, the device worked on the host's own
 * bytes: zero-copy.
 */
#include <CL/cl.h> /* on TI, TI's header; here carve's drop-in layers it */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 4096 samples under CARVE_QUICK=1 (for a simulator such as Oclgrind) */
static uint32_t sample_count(void)
{
    static uint32_t count;
    if (count == 0) {
        const char *quick = getenv("CARVE_QUICK");
        count = quick != NULL && quick[0] != '\0' && strcmp(quick, "0") != 0
                    ? 1u << 12
                    : 1u << 20;
    }
    return count;
}
#define SAMPLES sample_count()
#define COEFFICIENTS 16u

static const char *kernel_source =
    "kernel void fir(global const float *in, constant float *taps,\n"
    "                global float *out, global ulong *seen_at, uint n)\n"
    "{\n"
    "    uint i = get_global_id(0);\n"
    "    float sum = 0.0f;\n"
    "    for (uint k = 0; k < 16; ++k)\n"
    "        sum += i >= k ? taps[k] * in[i - k] : 0.0f;\n"
    "    out[i] = sum;\n"
    "    if (i == 0)\n"
    "        *seen_at = (ulong)(uintptr_t)in;\n"
    "}\n";

#define CHECK(call)                                                          \
    do {                                                                     \
        cl_int err_ = (call);                                                \
        if (err_ != CL_SUCCESS) {                                            \
            fprintf(stderr, "%s:%d: %s failed: %d\n", __FILE__, __LINE__,    \
                    #call, (int)err_);                                       \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

static cl_device_id first_device(void)
{
    cl_platform_id platform;
    cl_device_id device;
    cl_uint n = 0;
    const char *required = getenv("CARVE_REQUIRE_DEVICE");
    if (clGetPlatformIDs(1, &platform, &n) != CL_SUCCESS || n == 0 ||
        clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL) !=
            CL_SUCCESS) {
        printf("no OpenCL device found: skipped\n");
        exit(required != NULL && required[0] != '\0' && strcmp(required, "0")
                 ? 1
                 : 77);
    }
    return device;
}

/* The same filter on the host. */
static float reference(const float *in, const float *taps, uint32_t i)
{
    float sum = 0.0f;
    uint32_t k;
    for (k = 0; k < COEFFICIENTS; ++k)
        sum += i >= k ? taps[k] * in[i - k] : 0.0f;
    return sum;
}

int main(void)
{
    cl_device_id device = first_device();
    cl_int err;
    cl_context context = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
    cl_command_queue queue = clCreateCommandQueue(context, device, 0, &err);
    size_t bytes = SAMPLES * sizeof(float), global = SAMPLES;
    float *in = __malloc_ddr(bytes), *out = __malloc_ddr(bytes);
    float *taps = __malloc_msmc(COEFFICIENTS * sizeof(float));
    uint64_t *seen_at = __malloc_ddr(sizeof *seen_at);
    cl_mem in_buf, out_buf, taps_buf, seen_buf;
    cl_program program;
    cl_kernel kernel;
    cl_uint n = SAMPLES, i, wrong = 0;
    float *result;
    uint64_t *where;

    if (!in || !out || !taps || !seen_at) {
        fprintf(stderr, "__malloc_ddr/__malloc_msmc failed\n");
        return 1;
    }
    for (i = 0; i < SAMPLES; ++i)
        in[i] = (float)((i * 2654435761u) >> 20) / 4096.0f;
    for (i = 0; i < COEFFICIENTS; ++i)
        taps[i] = 1.0f / (float)(i + 1);

    in_buf = clCreateBuffer(context, CL_MEM_READ_ONLY | CL_MEM_USE_HOST_PTR,
                            bytes, in, &err);
    CHECK(err);
    out_buf = clCreateBuffer(context, CL_MEM_WRITE_ONLY | CL_MEM_USE_HOST_PTR,
                             bytes, out, &err);
    CHECK(err);
    taps_buf = clCreateBuffer(context, CL_MEM_READ_ONLY | CL_MEM_USE_HOST_PTR,
                              COEFFICIENTS * sizeof(float), taps, &err);
    CHECK(err);
    seen_buf = clCreateBuffer(context, CL_MEM_WRITE_ONLY | CL_MEM_USE_HOST_PTR,
                              sizeof *seen_at, seen_at, &err);
    CHECK(err);
    program = clCreateProgramWithSource(context, 1, &kernel_source, NULL, &err);
    CHECK(err);
    CHECK(clBuildProgram(program, 1, &device, "", NULL, NULL));
    kernel = clCreateKernel(program, "fir", &err);
    CHECK(err);
    CHECK(clSetKernelArg(kernel, 0, sizeof in_buf, &in_buf));
    CHECK(clSetKernelArg(kernel, 1, sizeof taps_buf, &taps_buf));
    CHECK(clSetKernelArg(kernel, 2, sizeof out_buf, &out_buf));
    CHECK(clSetKernelArg(kernel, 3, sizeof seen_buf, &seen_buf));
    CHECK(clSetKernelArg(kernel, 4, sizeof n, &n));
    CHECK(clEnqueueNDRangeKernel(queue, kernel, 1, NULL, &global, NULL, 0,
                                 NULL, NULL));

    /* Results through map, as TI advises for USE_HOST_PTR buffers. */
    result = clEnqueueMapBuffer(queue, out_buf, CL_TRUE, CL_MAP_READ, 0, bytes,
                                0, NULL, NULL, &err);
    CHECK(err);
    where = clEnqueueMapBuffer(queue, seen_buf, CL_TRUE, CL_MAP_READ, 0,
                               sizeof *where, 0, NULL, NULL, &err);
    CHECK(err);
    for (i = 0; i < SAMPLES; ++i) {
        float expected = reference(in, taps, i);
        float diff = result[i] - expected;
        if (diff > 1e-4f || diff < -1e-4f)
            ++wrong;
    }
    printf("ti_style: %u samples filtered, %u wrong\n", SAMPLES, wrong);
    printf("zero-copy: the kernel saw the input at %#llx, __malloc_ddr gave "
           "%p; results mapped at %p, out is %p: %s\n",
           (unsigned long long)*where, (void *)in, (void *)result, (void *)out,
           *where == (uint64_t)(uintptr_t)in && result == out
               ? "the same memory, no copy"
               : "NOT the same memory (the platform copied)");
    if (*where != (uint64_t)(uintptr_t)in || result != out)
        wrong += 1; /* this platform is expected to be zero-copy */
    CHECK(clEnqueueUnmapMemObject(queue, out_buf, result, 0, NULL, NULL));
    CHECK(clEnqueueUnmapMemObject(queue, seen_buf, where, 0, NULL, NULL));
    CHECK(clFinish(queue));

    clReleaseKernel(kernel);
    clReleaseProgram(program);
    clReleaseMemObject(in_buf);
    clReleaseMemObject(out_buf);
    clReleaseMemObject(taps_buf);
    clReleaseMemObject(seen_buf);
    clReleaseCommandQueue(queue);
    clReleaseContext(context);
    __free_ddr(in);
    __free_ddr(out);
    __free_msmc(taps);
    __free_ddr(seen_at);
    printf("%s\n", wrong == 0 ? "PASSED" : "FAILED");
    return wrong == 0 ? 0 : 1;
}
