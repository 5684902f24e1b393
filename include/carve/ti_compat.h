/*
 * carve/ti_compat.h - TI's host allocation extension, on top of carve.
 *
 * TI's OpenCL for ARM + C66x DSP SoCs lets host code allocate memory that
 * kernels use without a copy:
 *
 *     float *p = __malloc_ddr(bytes);            (or __malloc_msmc)
 *     cl_mem b = clCreateBuffer(ctx, CL_MEM_USE_HOST_PTR, bytes, p, &err);
 *     ... kernels work on p's bytes ...
 *     __free_ddr(p);
 *
 * With this header, such a program builds and runs unchanged on any OpenCL
 * platform whose CL_MEM_USE_HOST_PTR buffers can use suitably aligned host
 * memory directly (PoCL, integrated GPUs): carve hands out memory from two
 * pools that mirror TI's tiers, "ddr" (large, off-chip) and "msmc" (small,
 * on-chip), with TI's semantics:
 * - every allocation is aligned to 128 bytes (the C66x cache line, and
 *   CL_DEVICE_MEM_BASE_ADDR_ALIGN on TI and PoCL);
 * - free takes exactly the pointer malloc returned, of either tier
 *   (__free_ddr frees MSMC memory and __free_msmc DDR memory, as TI's
 *   do); anything else (a pointer inside an allocation, a foreign one, a
 *   double free) is refused and changes nothing; carve_ti_last_status()
 *   says why;
 * - memory that a live CL_MEM_USE_HOST_PTR buffer still uses is kept until
 *   the buffer is released, when the buffer was made through
 *   carve_ti_create_buffer (programs built with the drop-in folder, see
 *   carve/ti_sdk.h, are), and the early free is reported on stderr;
 * - malloc returns NULL when the tier is full (or for 0 bytes).
 * The pools' bookkeeping lives outside the memory it manages, and every
 * call is bounded-time (TLSF) and thread-safe.
 *
 * The tiers reserve address space on first use and take pages only as they
 * are touched. Their sizes come from the environment, read when a tier
 * starts (its first use; a start that failed is tried again by the next
 * call):
 *   CARVE_TI_DDR_BYTES   (default 1 GiB)
 *   CARVE_TI_MSMC_BYTES  (default 6 MiB, as on a 66AK2H)
 * A value that is not a number (strtoull, base 0) of at least 128 means
 * the default; one too large to map makes every call on that tier fail
 * with OUT_OF_HOST_MEMORY (each call tries again).
 *
 * The double underscore is TI's spelling; such names are otherwise
 * reserved, which is why only this optional header declares them.
 */
#ifndef CARVE_TI_COMPAT_H
#define CARVE_TI_COMPAT_H

#include <stddef.h>

#include "carve.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CARVE_TI_ALIGNMENT 128u

CARVE_API void *__malloc_ddr(size_t size);
CARVE_API void __free_ddr(void *ptr);
CARVE_API void *__malloc_msmc(size_t size);
CARVE_API void __free_msmc(void *ptr);

/* How this thread's latest TI-style call ended: CARVE_SUCCESS (also for a
 * free of NULL, which does nothing, and for an early free kept until its
 * buffer goes), CL_MEM_OBJECT_ALLOCATION_FAILURE (tier full, or SIZE_MAX
 * bytes), INVALID_ARGUMENT (malloc of 0 bytes, or a pointer free does not
 * know), OUT_OF_HOST_MEMORY (the tier could not be mapped). */
CARVE_API carve_status carve_ti_last_status(void);

/* Bytes in use and capacity of a tier ("ddr" or "msmc"); INVALID_ARGUMENT
 * for NULL or another name (case matters), leaving *in_use and *capacity
 * alone. Initialises the tier if needed. */
CARVE_API carve_status carve_ti_usage(const char *tier, size_t *in_use, size_t *capacity);

#ifdef __cplusplus
}
#endif

#endif /* CARVE_TI_COMPAT_H */
