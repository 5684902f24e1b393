/* status.c - names for carve's and OpenCL's status codes. */
#include "carve_internal.h"
#include "carve/split.h"
#include "carve/diagnostics.h"
#include "carve/ti_sdk.h"

#include <stdarg.h>
#include "fault.h" /* last: test builds wrap the calls above */

typedef struct status_name {
    carve_status status;
    const char *text;
} status_name;

#define NAME(code, text) {code, #code ": " text}

static const status_name status_names[] = {
    NAME(CARVE_SUCCESS, "success"),
    NAME(CARVE_ERROR_INVALID_ARGUMENT, "a NULL handle or an invalid value"),
    NAME(CARVE_ERROR_OUT_OF_HOST_MEMORY, "host memory allocation failed"),
    NAME(CARVE_ERROR_INVALID_NDRANGE,
         "work_dim is not 1-3, a global size is 0, or there are no arenas"),
    NAME(CARVE_ERROR_INVALID_ARENA_SIZE, "arena size is 0 or above 2 GiB"),
    NAME(CARVE_ERROR_INVALID_ALIGNMENT,
         "alignment is not a power of two in the allowed range"),
    NAME(CARVE_ERROR_SIZE_OVERFLOW, "count times size overflows"),
    NAME(CARVE_ERROR_OFFSET_LIMIT,
         "the buffer would exceed 4 GiB, the reach of 32-bit offsets"),
    NAME(CARVE_ERROR_EXCEEDS_MAX_ALLOC,
         "the buffer exceeds CL_DEVICE_MAX_MEM_ALLOC_SIZE"),
    NAME(CARVE_ERROR_EXCEEDS_GLOBAL_MEM,
         "the buffer exceeds CL_DEVICE_GLOBAL_MEM_SIZE"),
    NAME(CARVE_ERROR_BASE_ALIGNMENT,
         "the device aligns buffers to fewer bytes than the plan needs"),
    NAME(CARVE_ERROR_NOT_ZERO_COPY,
         "zero-copy was required but the probe did not show it"),
    NAME(CARVE_ERROR_WRONG_OWNER,
         "the device owns it; hand it back to the host first"),
    NAME(CARVE_ERROR_CORRUPT_SET, "the carved header is damaged or foreign"),
    NAME(CARVE_ERROR_ARENA_INVALID, "an arena broke an allocator invariant"),
    NAME(CARVE_ERROR_INDEX_OUT_OF_RANGE, "arena index out of range"),
    NAME(CARVE_ERROR_BUFFER_TOO_SMALL, "the caller's buffer is too small"),
    NAME(CARVE_ERROR_NO_DEVICE, "no OpenCL device found"),
    NAME(CARVE_ERROR_PROBE_FAILED, "the zero-copy probe kernel gave no answer"),
    NAME(CARVE_ERROR_LIMIT, "a fixed limit of carve was reached"),
    NAME(CARVE_ERROR_TIER_FULL, "the region (memory tier) has no room"),
    NAME(CARVE_ERROR_INVALID_HEAP,
         "invalid shared heap: page size, or fallback without a heap"),
    NAME(CARVE_ERROR_INVALID_OPTION,
         "invalid plan option: unknown bits, or a log too large"),
    NAME(CARVE_ERROR_NDRANGE_MISMATCH,
         "the launch's NDRange has another size than the plan's: launch "
         "the NDRange the plan was made for, or plan for this one"),
    NAME(CARVE_ERROR_SLICE_REFUSED,
         "a slice of a split launch does not fit its device: give that "
         "device a smaller share, or plan smaller arenas"),
    NAME(CARVE_ERROR_IO, "a file could not be opened, read or written"),
    NAME(CARVE_ERROR_BAD_LOG,
         "not a carve event log, or a truncated or damaged one"),
    NAME(CL_DEVICE_NOT_FOUND, "no device of the requested type"),
    NAME(CL_DEVICE_NOT_AVAILABLE, "device not available"),
    NAME(CL_COMPILER_NOT_AVAILABLE, "no compiler for this device"),
    NAME(CL_MEM_OBJECT_ALLOCATION_FAILURE, "buffer allocation failed"),
    NAME(CL_OUT_OF_RESOURCES, "out of device resources"),
    NAME(CL_OUT_OF_HOST_MEMORY, "OpenCL ran out of host memory"),
    NAME(CL_PROFILING_INFO_NOT_AVAILABLE, "profiling info not available"),
    NAME(CL_MEM_COPY_OVERLAP, "copy regions overlap"),
    NAME(CL_IMAGE_FORMAT_MISMATCH, "image format mismatch"),
    NAME(CL_IMAGE_FORMAT_NOT_SUPPORTED, "image format not supported"),
    NAME(CL_BUILD_PROGRAM_FAILURE, "program build failed (see the build log)"),
    NAME(CL_MAP_FAILURE, "map failed"),
    NAME(CL_MISALIGNED_SUB_BUFFER_OFFSET, "misaligned sub-buffer offset"),
    NAME(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST,
         "an event in the wait list failed"),
    NAME(CL_COMPILE_PROGRAM_FAILURE,
         "program compilation failed (see the build log)"),
    NAME(CL_LINKER_NOT_AVAILABLE, "no linker for this device"),
    NAME(CL_LINK_PROGRAM_FAILURE, "program link failed (see the build log)"),
    NAME(CL_DEVICE_PARTITION_FAILED, "device partition failed"),
    NAME(CL_KERNEL_ARG_INFO_NOT_AVAILABLE, "kernel argument info not available"),
    NAME(CL_INVALID_VALUE, "invalid value"),
    NAME(CL_INVALID_DEVICE_TYPE, "invalid device type"),
    NAME(CL_INVALID_PLATFORM, "invalid platform"),
    NAME(CL_INVALID_DEVICE, "invalid device"),
    NAME(CL_INVALID_CONTEXT, "invalid context"),
    NAME(CL_INVALID_QUEUE_PROPERTIES, "invalid queue properties"),
    NAME(CL_INVALID_COMMAND_QUEUE, "invalid command queue"),
    NAME(CL_INVALID_HOST_PTR, "invalid host pointer"),
    NAME(CL_INVALID_MEM_OBJECT, "invalid memory object"),
    NAME(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR, "invalid image format"),
    NAME(CL_INVALID_IMAGE_SIZE, "invalid image size"),
    NAME(CL_INVALID_SAMPLER, "invalid sampler"),
    NAME(CL_INVALID_BINARY, "invalid binary"),
    NAME(CL_INVALID_BUILD_OPTIONS, "invalid build options"),
    NAME(CL_INVALID_PROGRAM, "invalid program"),
    NAME(CL_INVALID_PROGRAM_EXECUTABLE, "program not built for this device"),
    NAME(CL_INVALID_KERNEL_NAME, "no kernel of that name"),
    NAME(CL_INVALID_KERNEL_DEFINITION, "invalid kernel definition"),
    NAME(CL_INVALID_KERNEL, "invalid kernel"),
    NAME(CL_INVALID_ARG_INDEX, "invalid kernel argument index"),
    NAME(CL_INVALID_ARG_VALUE, "invalid kernel argument value"),
    NAME(CL_INVALID_ARG_SIZE, "invalid kernel argument size"),
    NAME(CL_INVALID_KERNEL_ARGS, "kernel arguments not all set"),
    NAME(CL_INVALID_WORK_DIMENSION, "invalid work dimension"),
    NAME(CL_INVALID_WORK_GROUP_SIZE, "invalid work-group size"),
    NAME(CL_INVALID_WORK_ITEM_SIZE, "invalid work-item size"),
    NAME(CL_INVALID_GLOBAL_OFFSET, "invalid global offset"),
    NAME(CL_INVALID_EVENT_WAIT_LIST, "invalid event wait list"),
    NAME(CL_INVALID_EVENT, "invalid event"),
    NAME(CL_INVALID_OPERATION, "invalid operation"),
    NAME(CL_INVALID_GL_OBJECT, "invalid GL object"),
    NAME(CL_INVALID_BUFFER_SIZE, "invalid buffer size"),
    NAME(CL_INVALID_MIP_LEVEL, "invalid mip level"),
    NAME(CL_INVALID_GLOBAL_WORK_SIZE, "invalid global work size"),
    NAME(CL_INVALID_PROPERTY, "invalid property"),
    NAME(CL_INVALID_IMAGE_DESCRIPTOR, "invalid image descriptor"),
    NAME(CL_INVALID_COMPILER_OPTIONS, "invalid compiler options"),
    NAME(CL_INVALID_LINKER_OPTIONS, "invalid linker options"),
    NAME(CL_INVALID_DEVICE_PARTITION_COUNT, "invalid device partition count"),
    /* TI's runtime reports these for a kernel (carve/ti_sdk.h). */
    NAME(CL_ERROR_KERNEL_ABORT_TI, "the kernel aborted (TI)"),
    NAME(CL_ERROR_KERNEL_EXIT_TI, "the kernel called exit (TI)"),
    NAME(CL_ERROR_KERNEL_TIMEOUT_TI, "the kernel ran past its timeout (TI)"),
};

const char *carve_status_string(carve_status status)
{
    size_t i;
    for (i = 0; i < sizeof status_names / sizeof status_names[0]; ++i)
        if (status_names[i].status == status)
            return status_names[i].text;
    return "unknown status";
}

const char *carve_failure_string(uint32_t failure)
{
    static const char *const names[] = {
        "none",
        "larger than the arena (and the heap)",
        "out of memory",
        "bad alignment",
        "count * size overflows",
        "arena corrupt",
        "arena not open",
        "shared heap: gave up after losing too many races",
    };
    return failure < sizeof names / sizeof names[0] ? names[failure]
                                                    : "unknown";
}

const char *carve_misuse_string(uint32_t misuse)
{
    static const char *const names[] = {
        "none",
        "pointer outside the set's arenas and heap",
        "pointer inside a live block, not its start",
        "memory never handed out",
        "allocator metadata damaged",
        "memory already free (double free or stale pointer)",
        "another work-item's arena",
        "write past the end of the block (redzone damaged)",
    };
    return misuse < sizeof names / sizeof names[0] ? names[misuse] : "unknown";
}

void carve__message(char *buf, size_t size, const char *format, ...)
{
    va_list args;
    if (buf == NULL || size == 0)
        return;
    va_start(args, format);
    vsnprintf(buf, size, format, args);
    va_end(args);
}

const char *carve__bytes_text(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double value = (double)bytes;
    unsigned unit = 0;
    while (value >= 1024.0 && unit + 1 < sizeof units / sizeof units[0]) {
        value /= 1024.0;
        ++unit;
    }
    if (unit == 0)
        carve__message(buf, size, "%llu B", (unsigned long long)bytes);
    else
        carve__message(buf, size, "%.1f %s", value, units[unit]);
    return buf;
}

#define CARVE_STRINGIFY(x) #x
#define CARVE_VERSION_OF(major, minor, patch)                                 \
    CARVE_STRINGIFY(major) "." CARVE_STRINGIFY(minor) "." CARVE_STRINGIFY(patch)

const char *carve_version(void)
{
    /* The headers this library was built with; CMakeLists.txt checks
     * that they state the project's version. */
    return CARVE_VERSION_OF(CARVE_VERSION_MAJOR, CARVE_VERSION_MINOR,
                            CARVE_VERSION_PATCH);
}
