// ti_program.cpp - a host program written for TI's OpenCL SDK in C++, the
// way TI's examples are: the Khronos C++ bindings with exceptions, TI's
// "ocl_util.h" helpers, __malloc_ddr memory in CL_MEM_USE_HOST_PTR
// buffers, an MSMC buffer, TI's device query. Built through carve's
// drop-in (pkg-config carve-ti, CMake carve::ti) with no change. The
// bindings are the program's own, as on TI: here the Khronos
// opencl.hpp (OpenCL C++ bindings 2.x/3.x) at OpenCL 1.2.
//
// Exit 0 when every result is right, 1 otherwise, 77 without a device.
#define CL_HPP_ENABLE_EXCEPTIONS
#define CL_HPP_TARGET_OPENCL_VERSION 120
#define CL_HPP_MINIMUM_OPENCL_VERSION 120
#include <CL/opencl.hpp>

#include "ocl_util.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

static const char source[] =
    "kernel void add(global const float *a, global const float *b,\n"
    "                global float *sum)\n"
    "{\n"
    "    size_t i = get_global_id(0);\n"
    "    sum[i] = a[i] + b[i];\n"
    "}\n";

static const unsigned count = 1u << 14;

// The program binary TI programs load with ocl_read_binary: here a file
// the test writes first, read back whole.
static bool read_binary_works()
{
    const char *path = "ti_program_binary.tmp";
    const char bytes[] = "not really a DSP binary";
    char *buffer = NULL;
    std::FILE *out = std::fopen(path, "wb");
    if (out == NULL)
        return false;
    std::fwrite(bytes, 1, sizeof bytes, out);
    std::fclose(out);
    int length = ocl_read_binary(path, buffer);
    bool same = length == static_cast<int>(sizeof bytes) && buffer != NULL &&
                std::memcmp(buffer, bytes, sizeof bytes) == 0;
    delete[] buffer;
    std::remove(path);
    char *none = NULL;
    return same && ocl_read_binary("no/such/file", none) == -1 && none == NULL;
}

int main()
{
    std::vector<cl::Platform> platforms;
    std::vector<cl::Device> devices;
    cl::Platform::get(&platforms);
    for (size_t p = 0; p < platforms.size() && devices.empty(); ++p) {
        try {
            platforms[p].getDevices(CL_DEVICE_TYPE_ALL, &devices);
        } catch (cl::Error &) {
            devices.clear();
        }
    }
    if (devices.empty()) {
        std::printf("no OpenCL device\n");
        return std::getenv("CARVE_REQUIRE_DEVICE") != NULL ? 1 : 77;
    }
    int failures = 0;
    try {
        cl::Context context(devices);
        cl::CommandQueue queue(context, devices[0], CL_QUEUE_PROFILING_ENABLE);
        cl::Program program(context, source);
        program.build(devices);
        cl::Kernel kernel(program, "add");

        cl_ulong msmc_size = 0;
        devices[0].getInfo(CL_DEVICE_MSMC_MEM_SIZE_TI, &msmc_size);
        std::string extensions = devices[0].getInfo<CL_DEVICE_EXTENSIONS>();
        if (msmc_size == 0 ||
            extensions.find("cl_ti_msmc_buffers") == std::string::npos) {
            std::printf("FAILED: no MSMC memory reported\n");
            ++failures;
        }

        size_t bytes = count * sizeof(float);
        float *a = static_cast<float *>(__malloc_ddr(bytes));
        float *sum = static_cast<float *>(__malloc_ddr(bytes));
        std::vector<float> b(count);
        for (unsigned i = 0; i < count; ++i) {
            a[i] = static_cast<float>(i);
            b[i] = 0.5f * static_cast<float>(i);
        }
        cl::Buffer buf_a(context, CL_MEM_READ_ONLY | CL_MEM_USE_HOST_PTR,
                         bytes, a);
        cl::Buffer buf_b(context,
                         CL_MEM_READ_ONLY | CL_MEM_USE_MSMC_TI |
                             CL_MEM_COPY_HOST_PTR,
                         bytes, b.data());
        cl::Buffer buf_sum(context, CL_MEM_WRITE_ONLY | CL_MEM_USE_HOST_PTR,
                           bytes, sum);
        kernel.setArg(0, buf_a);
        kernel.setArg(1, buf_b);
        kernel.setArg(2, buf_sum);
        cl::Event done;
        queue.enqueueNDRangeKernel(kernel, cl::NullRange, cl::NDRange(count),
                                   cl::NullRange, NULL, &done);
        done.wait();
        float *view = static_cast<float *>(queue.enqueueMapBuffer(
            buf_sum, CL_TRUE, CL_MAP_READ, 0, bytes));
        unsigned wrong = 0;
        for (unsigned i = 0; i < count; ++i)
            wrong += view[i] != 1.5f * static_cast<float>(i);
        queue.enqueueUnmapMemObject(buf_sum, view);
        queue.finish();
        if (wrong != 0) {
            std::printf("FAILED: %u wrong sums\n", wrong);
            ++failures;
        }
        ocl_event_times(done, "add");
        cl_ulong reference = 0;
        done.getProfilingInfo(CL_PROFILING_COMMAND_QUEUED, &reference);
        ocl_relative_times(done, "add", reference);
        // The buffers go before the memory under them, as TI requires.
        buf_a = cl::Buffer();
        buf_sum = cl::Buffer();
        __free_ddr(a);
        __free_ddr(sum);
    } catch (cl::Error &err) {
        std::printf("FAILED: %s (%s)\n", err.what(),
                    ocl_decode_error(err.err()));
        ++failures;
    }
    if (!read_binary_works()) {
        std::printf("FAILED: ocl_read_binary\n");
        ++failures;
    }
    std::printf("%s\n", failures == 0 ? "PASSED" : "FAILED");
    return failures == 0 ? 0 : 1;
}
