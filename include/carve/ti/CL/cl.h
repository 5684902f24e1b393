/*
 * <CL/cl.h> for programs written for TI's OpenCL SDK, built against carve:
 * the system's OpenCL header, then what TI's header adds to it
 * (carve/ti_sdk.h). This folder goes first on the include path
 * (pkg-config carve-ti, CMake carve::ti); nothing here copies the Khronos
 * headers, which come from the system through #include_next.
 */
#ifndef CARVE_TI_DROPIN_CL_H
#define CARVE_TI_DROPIN_CL_H

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC system_header /* #include_next is an extension */
#endif

/* TI's SDK is OpenCL 1.1, whose calls later headers mark deprecated; TI's
 * headers need no define for them, so neither do programs here. */
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#ifndef CL_USE_DEPRECATED_OPENCL_1_1_APIS
#define CL_USE_DEPRECATED_OPENCL_1_1_APIS
#endif
#ifndef CL_USE_DEPRECATED_OPENCL_1_2_APIS
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#endif

#include_next <CL/cl.h>

#include <carve/ti_sdk.h>

/* The calls whose arguments TI gives a meaning the platform does not know
 * (CL_MEM_USE_MSMC_TI, TI's device queries, the timeout property) go
 * through carve, which passes the rest on unchanged. */
#define clCreateBuffer carve_ti_create_buffer
#define clGetDeviceInfo carve_ti_get_device_info
#define clCreateCommandQueue carve_ti_create_command_queue

#endif /* CARVE_TI_DROPIN_CL_H */
