/*
 * ocl_util.h - the helpers of TI's OpenCL examples (ocl_read_binary,
 * ocl_event_times, ocl_relative_times, ocl_decode_error), written for
 * carve's drop-in folder so that programs that include TI's "ocl_util.h"
 * build unchanged.
 *
 * ocl_decode_error works from C too. The others are C++, as on TI: they
 * take the C++ bindings' cl::Event (any version of the bindings: the
 * event type is a template parameter, so this header needs none of them
 * itself) and print with printf. Every helper is inline, so a program
 * that also links its own copy of TI's ocl_util gets no clash.
 */
#ifndef CARVE_TI_OCL_UTIL_H
#define CARVE_TI_OCL_UTIL_H

#include <CL/cl.h>

/* The name and meaning of an OpenCL, carve or TI status code, as
 * carve_status_string gives them ("CL_INVALID_VALUE: ..."). Never NULL. */
#ifdef __cplusplus
inline
#else
static inline
#endif
const char *ocl_decode_error(int code)
{
    return carve_status_string(code);
}

#ifdef __cplusplus

#include <cstdio>

/* Reads the file `filename` (a pre-built program binary) into a new[]
 * array that the caller deletes with delete[]. Returns its length in
 * bytes; -1 (and buffer NULL) if the file cannot be read or is empty or
 * over 2 GiB. */
inline int ocl_read_binary(const char *filename, char *&buffer)
{
    std::FILE *in = std::fopen(filename, "rb");
    long length = -1;
    buffer = NULL;
    if (in == NULL)
        return -1;
    if (std::fseek(in, 0, SEEK_END) == 0)
        length = std::ftell(in);
    if (length > 0 && length < 0x7fffffffL && std::fseek(in, 0, SEEK_SET) == 0) {
        buffer = new char[static_cast<size_t>(length)];
        if (std::fread(buffer, 1, static_cast<size_t>(length), in) !=
            static_cast<size_t>(length)) {
            delete[] buffer;
            buffer = NULL;
        }
    }
    std::fclose(in);
    return buffer != NULL ? static_cast<int>(length) : -1;
}

/* The four profiling times of an event (queue, submit, start, end), in
 * microseconds since `reference` (nanoseconds, as the event reports). */
template <class Event>
inline void ocl_profile_us(const Event &ev, cl_ulong reference,
                           cl_ulong us[4])
{
    static const cl_profiling_info points[4] = {
        CL_PROFILING_COMMAND_QUEUED, CL_PROFILING_COMMAND_SUBMIT,
        CL_PROFILING_COMMAND_START, CL_PROFILING_COMMAND_END};
    for (int i = 0; i < 4; ++i) {
        cl_ulong t = 0;
        ev.getProfilingInfo(points[i], &t);
        us[i] = (t - reference) / 1000u;
    }
}

/* Prints how long the event waited to be submitted, to start, and ran, in
 * microseconds (the queue needs CL_QUEUE_PROFILING_ENABLE). */
template <class Event>
inline void ocl_event_times(const Event &ev, const char *name = NULL)
{
    cl_ulong us[4];
    ocl_profile_us(ev, 0, us);
    if (name == NULL)
        name = "";
    std::printf("%s : queued to submitted %llu us, submitted to started "
                "%llu us, ran %llu us\n",
                name, static_cast<unsigned long long>(us[1] - us[0]),
                static_cast<unsigned long long>(us[2] - us[1]),
                static_cast<unsigned long long>(us[3] - us[2]));
}

/* Prints when the event was queued, submitted, started and ended, in
 * microseconds after `reference` (a profiling time in nanoseconds, e.g.
 * the first event's CL_PROFILING_COMMAND_QUEUED). */
template <class Event>
inline void ocl_relative_times(const Event &ev, const char *name,
                               cl_ulong reference)
{
    cl_ulong us[4];
    ocl_profile_us(ev, reference, us);
    if (name == NULL)
        name = "";
    std::printf("%s : queued %llu us, submitted %llu us, started %llu us, "
                "ended %llu us\n",
                name, static_cast<unsigned long long>(us[0]),
                static_cast<unsigned long long>(us[1]),
                static_cast<unsigned long long>(us[2]),
                static_cast<unsigned long long>(us[3]));
}

#endif /* __cplusplus */

#endif /* CARVE_TI_OCL_UTIL_H */
