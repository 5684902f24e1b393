/*
 * carve_port.h - the few things C99 and OpenCL C 1.2 spell differently.
 *
 * The allocator core (carve_core.h) is written once and compiled by both the
 * host C compiler and the OpenCL compiler; this header is the only place that
 * knows which one is reading it.
 */
#ifndef CARVE_PORT_H
#define CARVE_PORT_H

#ifdef __OPENCL_C_VERSION__

#define CARVE_GLOBAL __global
#define CARVE_INLINE static inline
typedef uchar carve_u8;
typedef uint carve_u32;
typedef ulong carve_u64;
typedef uintptr_t carve_uptr;
#define CARVE_CLZ32(x) ((carve_u32)clz((carve_u32)(x)))
#define CARVE_ATOMIC_INC(p) ((void)atomic_inc(p))
#define CARVE_U64_MAX ULONG_MAX

#else /* host C */

#include <stdint.h>
#include <stddef.h>

#define CARVE_GLOBAL
#define CARVE_INLINE static inline
typedef uint8_t carve_u8;
typedef uint32_t carve_u32;
typedef uint64_t carve_u64;
typedef uintptr_t carve_uptr;
/* OpenCL's clz(0) is 32; __builtin_clz(0) is undefined, so guard it. */
#define CARVE_CLZ32(x) ((x) ? (carve_u32)__builtin_clz((unsigned)(x)) : 32u)
#define CARVE_ATOMIC_INC(p) ((void)__atomic_fetch_add((p), 1u, __ATOMIC_RELAXED))
#define CARVE_U64_MAX UINT64_MAX

#endif

/* Index of the lowest set bit; x must not be 0. OpenCL C 1.2 has no ctz. */
#define CARVE_CTZ32(x) (31u - CARVE_CLZ32((x) & (0u - (x))))

#endif /* CARVE_PORT_H */
