/*
 * <CL/cl_ext.h> for programs written for TI's OpenCL SDK, built against
 * carve: the system's extension header, and TI's extensions with it, as
 * TI's cl_ext.h declares them (see CL/cl.h beside this file).
 */
#ifndef CARVE_TI_DROPIN_CL_EXT_H
#define CARVE_TI_DROPIN_CL_EXT_H

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC system_header /* #include_next is an extension */
#endif

#include <CL/cl.h>

#include_next <CL/cl_ext.h>

#endif /* CARVE_TI_DROPIN_CL_EXT_H */
