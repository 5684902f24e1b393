/*
 * carve/ti_sdk.h - what TI's OpenCL SDK (Keystone II, AM57x) adds to the
 * OpenCL headers, implemented over carve, for host programs written for
 * that SDK.
 *
 * Programs do not include this header themselves: they include <CL/cl.h>,
 * <CL/cl_ext.h>, the C++ bindings or "ocl_util.h" as on TI, and build with
 * the drop-in folder first on the include path (`pkg-config --cflags
 * carve-ti`, or CMake's carve::ti), whose <CL/cl.h> layers this header
 * over the system's. That folder also routes clCreateBuffer,
 * clGetDeviceInfo and clCreateCommandQueue to the carve_ti_* functions
 * below, which give TI's flags and queries their meaning and pass
 * everything else to the platform unchanged.
 *
 * TI's semantics here:
 * - __malloc_ddr / __malloc_msmc: carve's two tiers (carve/ti_compat.h:
 *   sizes from CARVE_TI_DDR_BYTES and CARVE_TI_MSMC_BYTES); 128-byte
 *   aligned. __free_ddr and __free_msmc free a pointer of either tier, as
 *   TI's do.
 * - A buffer made with CL_MEM_USE_MSMC_TI takes its memory from the msmc
 *   tier (CL_MEM_USE_HOST_PTR underneath) and gives it back when the
 *   buffer is released. TI refuses the flag with CL_MEM_USE_HOST_PTR, and
 *   so does carve (CL_INVALID_VALUE).
 * - CL_DEVICE_MSMC_MEM_SIZE_TI and the other TI device queries answer from
 *   carve's tiers; CL_DEVICE_EXTENSIONS adds "cl_ti_msmc_buffers".
 * - Kernel timeouts: CL_QUEUE_KERNEL_TIMEOUT_COMPUTE_UNIT_TI is accepted
 *   (and has no effect on its own); __ti_set_kernel_timeout_ms is refused
 *   with CL_INVALID_OPERATION, because an OpenCL platform other than TI's
 *   offers no way to stop a running kernel. A program that checks the
 *   status learns that its timeout is not enforced.
 * - Early free, which TI does not check: freeing memory that a live
 *   CL_MEM_USE_HOST_PTR buffer still uses is reported once on stderr (the
 *   allocation, its size, the buffer) and the memory is kept, not handed
 *   out again, until the last such buffer is released; the program keeps
 *   working. This report is the one place carve prints on its own: TI
 *   programs do not look at statuses of a free.
 */
#ifndef CARVE_TI_SDK_H
#define CARVE_TI_SDK_H

#include "ti_compat.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes TI's runtime reports for a kernel (on its event). */
#define CL_ERROR_KERNEL_ABORT_TI (-7101)
#define CL_ERROR_KERNEL_EXIT_TI (-7102)
#define CL_ERROR_KERNEL_TIMEOUT_TI (-7103)

/* clGetDeviceInfo queries, each a cl_ulong. */
#define CL_DEVICE_MSMC_MEM_SIZE_TI 0x4060
#define CL_DEVICE_GLOBAL_EXT1_MEM_SIZE_TI 0x4061
#define CL_DEVICE_GLOBAL_EXT2_MEM_SIZE_TI 0x4062
#define CL_DEVICE_GLOBAL_MEM_MAX_ALLOC_TI 0x4063
#define CL_DEVICE_GLOBAL_EXT1_MEM_MAX_ALLOC_TI 0x4064
#define CL_DEVICE_GLOBAL_EXT2_MEM_MAX_ALLOC_TI 0x4065
#define CL_DEVICE_MSMC_MEM_MAX_ALLOC_TI 0x4066
#define CL_DEVICE_LOCAL_MEM_MAX_ALLOC_TI 0x4067

/* A command-queue property and a buffer flag. */
#define CL_QUEUE_KERNEL_TIMEOUT_COMPUTE_UNIT_TI (1 << 20)
#define CL_MEM_USE_MSMC_TI (1 << 20)

/* 1 if ptr lies inside a live allocation of either tier (its start or any
 * byte of it), else 0. O(allocations of the tier) for an inner pointer,
 * O(1) for a start. Thread-safe. */
CARVE_API int __is_in_malloced_region(void *ptr);

/* Refused: CL_INVALID_KERNEL for a NULL kernel, else CL_INVALID_OPERATION
 * (see above). */
CARVE_API cl_int __ti_set_kernel_timeout_ms(cl_kernel kernel,
                                            cl_uint timeout_in_ms);

/* clCreateBuffer with TI's meaning: CL_MEM_USE_MSMC_TI takes the memory
 * from the msmc tier (CL_MEM_OBJECT_ALLOCATION_FAILURE when it is full;
 * CL_INVALID_VALUE with CL_MEM_USE_HOST_PTR; with CL_MEM_COPY_HOST_PTR the
 * tier's memory starts as a copy of host_ptr's); a CL_MEM_USE_HOST_PTR
 * buffer over memory of a tier keeps that allocation from being handed
 * out again until the buffer is released (CL_OUT_OF_HOST_MEMORY if carve
 * cannot record it, the buffer then released). Otherwise exactly
 * clCreateBuffer. Thread-safe. */
CARVE_API cl_mem carve_ti_create_buffer(cl_context context, cl_mem_flags flags,
                                        size_t size, void *host_ptr,
                                        cl_int *errcode_ret);

/* clGetDeviceInfo that also answers TI's queries (cl_ulong; the tiers are
 * started if needed: CL_OUT_OF_HOST_MEMORY if one cannot be) and lists
 * cl_ti_msmc_buffers among CL_DEVICE_EXTENSIONS. Fails as clGetDeviceInfo
 * does (CL_INVALID_VALUE when the value does not fit). */
CARVE_API cl_int carve_ti_get_device_info(cl_device_id device,
                                          cl_device_info name, size_t size,
                                          void *value, size_t *size_ret);

/* clCreateCommandQueue that accepts CL_QUEUE_KERNEL_TIMEOUT_COMPUTE_UNIT_TI
 * (and leaves it out of what the platform sees). */
CARVE_API cl_command_queue
carve_ti_create_command_queue(cl_context context, cl_device_id device,
                              cl_command_queue_properties properties,
                              cl_int *errcode_ret);

#ifdef __cplusplus
}
#endif

#endif /* CARVE_TI_SDK_H */
