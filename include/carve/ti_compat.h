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
 * - free takes exactly the pointer malloc returned; anything else (a
 *   pointer inside an allocation, one from the other tier, a double free)
 *   is refused and changes nothing; carve_ti_last_status() says why;
 * - malloc returns NULL when the tier is full (or for 0 bytes).
 * The pools' bookkeeping lives outside the memory it manages, and every
 * call is bounded-time (TLSF) and thread-safe.
 *
 * The tiers reserve address space on first use and take pages only as they
 * are touched. Their sizes come from the environment, read once:
 *   CARVE_TI_DDR_BYTES   (default 1 GiB)
 *   CARVE_TI_MSMC_BYTES  (default 6 MiB, as on a 66AK2H)
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

void *__malloc_ddr(size_t size);
void __free_ddr(void *ptr);
void *__malloc_msmc(size_t size);
void __free_msmc(void *ptr);

/* Why this thread's latest TI-style call failed: CARVE_SUCCESS, or e.g.
 * CL_MEM_OBJECT_ALLOCATION_FAILURE (tier full), INVALID_ARGUMENT (a pointer
 * free does not know), OUT_OF_HOST_MEMORY (the tier could not be mapped). */
carve_status carve_ti_last_status(void);

/* Bytes in use and capacity of a tier ("ddr" or "msmc"); INVALID_ARGUMENT
 * for another name. Initialises the tier if needed. */
carve_status carve_ti_usage(const char *tier, size_t *in_use, size_t *capacity);

#ifdef __cplusplus
}
#endif

#endif /* CARVE_TI_COMPAT_H */
