/*
 * carve_port.h - the few things C99 and OpenCL C 1.2 spell differently.
 *
 * The allocator core (carve_core.h) is written once and compiled by both the
 * host C compiler and the OpenCL compiler; this header is the only place that
 * knows which one is reading it.
 */
#ifndef CARVE_PORT_H
#define CARVE_PORT_H

#include "carve_abi.h" /* the fixed-width types */

#ifdef __OPENCL_C_VERSION__

#define CARVE_GLOBAL __global
/* CARVE_HOT: the functions of carve_malloc's and carve_free's fast paths,
 * inlined whole into every call site: left to its own thresholds, PoCL's
 * LLVM kept parts out of line and they ran 30% slower. Forcing it on
 * everything made kernels take five times as long to build. CARVE_COLD:
 * slow paths (checks, the heap, failures, refusals) kept out of line so
 * that kernels do not grow with them. */
#define CARVE_INLINE static inline
#ifdef __clang__
#define CARVE_HOT static inline __attribute__((always_inline))
#define CARVE_COLD static __attribute__((noinline))
#else
#define CARVE_HOT static inline
#define CARVE_COLD static
#endif
typedef uintptr_t carve_uptr;
#define CARVE_CLZ32(x) ((carve_u32)clz((carve_u32)(x)))
#define CARVE_ATOMIC_INC(p) ((void)atomic_inc(p))
/* 32-bit read-modify-writes on global words; each returns the old value.
 * Only these touch memory that other work-items write, so that neither the
 * hardware nor a race detector such as Oclgrind sees a plain access race. */
#define CARVE_ATOMIC_ADD(p, v) atomic_add((p), (v))
#define CARVE_ATOMIC_SUB(p, v) atomic_sub((p), (v))
#define CARVE_ATOMIC_OR(p, v) atomic_or((p), (v))
#define CARVE_ATOMIC_AND(p, v) atomic_and((p), (v))
#define CARVE_ATOMIC_XCHG(p, v) atomic_xchg((p), (v))
#define CARVE_ATOMIC_CAS(p, expected, desired) \
    atomic_cmpxchg((p), (expected), (desired))
/* Orders this work-item's earlier writes to a block before the atomic that
 * hands the block over (free), and the claim before later writes. */
#define CARVE_FENCE() mem_fence(CLK_GLOBAL_MEM_FENCE)
#define CARVE_U64_MAX ULONG_MAX
/* A read-only table at program scope. */
#define CARVE_CONSTANT __constant

#else /* host C */

#include <stdint.h>
#include <stddef.h>

#define CARVE_GLOBAL
#define CARVE_INLINE static inline
#if defined(__GNUC__) || defined(__clang__)
/* As on the device: GCC's own thresholds kept the arena's find and take
 * out of line once runs were added, 110 instructions a pair more. */
#define CARVE_HOT static inline __attribute__((always_inline, unused))
#define CARVE_COLD static __attribute__((noinline, unused))
#else
#define CARVE_HOT static inline
#define CARVE_COLD static
#endif
typedef uintptr_t carve_uptr;
/* OpenCL's clz(0) is 32; __builtin_clz(0) is undefined, so guard it. */
#define CARVE_CLZ32(x) ((x) ? (carve_u32)__builtin_clz((unsigned)(x)) : 32u)
#define CARVE_ATOMIC_INC(p) ((void)__atomic_fetch_add((p), 1u, __ATOMIC_RELAXED))
/* The device's atomics, for host threads running the same code (tests). */
#define CARVE_ATOMIC_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define CARVE_ATOMIC_SUB(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST)
#define CARVE_ATOMIC_OR(p, v) __atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST)
#define CARVE_ATOMIC_AND(p, v) __atomic_fetch_and((p), (v), __ATOMIC_SEQ_CST)
#define CARVE_ATOMIC_XCHG(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define CARVE_ATOMIC_CAS(p, expected, desired) \
    carve_port_cas((p), (expected), (desired))
/* The host's atomics above are sequentially consistent, so they already
 * order the plain accesses around them: only the compiler needs telling. */
#define CARVE_FENCE() __atomic_signal_fence(__ATOMIC_SEQ_CST)
#define CARVE_U64_MAX UINT64_MAX
#if defined(__GNUC__) || defined(__clang__)
#define CARVE_CONSTANT static const __attribute__((unused))
#else
#define CARVE_CONSTANT static const
#endif

/* OpenCL's atomic_cmpxchg: returns the old value, stores on a match. */
static inline uint32_t carve_port_cas(uint32_t *p, uint32_t expected,
                                      uint32_t desired)
{
    __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
    return expected;
}

#endif

/* Index of the lowest set bit; x must not be 0. OpenCL C 1.2 has no ctz;
 * the host's compilers have one instruction for it. */
#if !defined(__OPENCL_C_VERSION__) && (defined(__GNUC__) || defined(__clang__))
#define CARVE_CTZ32(x) ((carve_u32)__builtin_ctz((unsigned)(x)))
#else
#define CARVE_CTZ32(x) (31u - CARVE_CLZ32((x) & (0u - (x))))
#endif

/* Set bits of a 32-bit word, without popcount (OpenCL C 1.2 has none). */
#define CARVE_POPCOUNT32(x) carve_port_popcount((carve_u32)(x))
static inline carve_u32 carve_port_popcount(carve_u32 v)
{
    v = v - ((v >> 1) & 0x55555555u);
    v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
    return (((v + (v >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24;
}

#endif /* CARVE_PORT_H */
