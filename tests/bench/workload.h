/*
 * workload.h - the allocator benchmarks' workloads, written once for the
 * host baselines (C), the OpenCL kernels and the CUDA program, so that
 * every variant allocates the same sizes, frees in the same order and
 * writes the same values.
 *
 * The code sits inside BENCH_WORKLOAD(X): expanded as code on the host and
 * in CUDA, and turned into a string (BENCH_WORKLOAD_SOURCE) that starts an
 * OpenCL program. Before expanding it, a user defines BENCH_FN (how the
 * functions are declared) and the type bench_u32; the OpenCL string
 * supplies its own.
 *
 * The pattern of one work-item (or one host "item") in the alloc/free
 * benchmarks: `rounds` rounds; each allocates BENCH_BATCH blocks, writes a
 * tag into the first word of each, then frees them in a scrambled order
 * (bench_slot) after adding the tags up. The sum is the item's result,
 * which the host checks against bench_expected_sum.
 */
#ifndef CARVE_BENCH_WORKLOAD_H
#define CARVE_BENCH_WORKLOAD_H

/* Blocks live at once per item; a power of two (bench_slot masks by it). */
#define BENCH_BATCH 8u
/* The mixed sizes lie in [16, BENCH_MIXED_MAX] bytes. */
#define BENCH_MIXED_MAX 4096u
/* Variable-length output: at most this many words per item. */
#define BENCH_VARLEN_MAX 384u

#define BENCH_WORKLOAD(X) X(                                                  \
/* A 32-bit mix (a "lowbias32" finaliser): spreads ids into sizes, tags. */   \
BENCH_FN bench_u32 bench_hash(bench_u32 x)                                    \
{                                                                             \
    x ^= x >> 16; x *= 0x7feb352du;                                           \
    x ^= x >> 15; x *= 0x846ca68bu;                                           \
    x ^= x >> 16;                                                             \
    return x;                                                                 \
}                                                                             \
/* What allocation n of item id stores in its first word. */                  \
BENCH_FN bench_u32 bench_tag(bench_u32 id, bench_u32 n)                       \
{                                                                             \
    return bench_hash(id * 0x9e3779b9u + n);                                  \
}                                                                             \
/* The size of allocation n of item id: `fixed` if not 0, else a mix in      \
 * [16, 4096] bytes: a power-of-two span from 32 to 4096 picked uniformly,    \
 * then a size uniform in [16, span], so that small blocks dominate. A        \
 * multiply and shift, not a division: the sizes must cost little next to    \
 * the allocators measured. */                                                \
BENCH_FN bench_u32 bench_size(bench_u32 id, bench_u32 n, bench_u32 fixed)     \
{                                                                             \
    bench_u32 h, span;                                                        \
    if (fixed != 0u)                                                          \
        return fixed;                                                         \
    h = bench_hash((id * 0x85ebca6bu) ^ (n * 0xc2b2ae35u) ^ 0x5bd1e995u);     \
    span = 32u << (h & 7u);                                                   \
    return 16u + (((h >> 16) * (span - 15u)) >> 16);                          \
}                                                                             \
/* Which of the batch's blocks is freed b-th in round r: not the order of    \
 * allocation, so that frees meet free neighbours and free lists. */          \
BENCH_FN bench_u32 bench_slot(bench_u32 r, bench_u32 b)                       \
{                                                                             \
    return (b * 5u + r) & (BENCH_BATCH - 1u);                                 \
}                                                                             \
/* Variable-length output: item id emits the Collatz trajectory of a start   \
 * in [3, 65535] down to 1 (exclusive), at most BENCH_VARLEN_MAX words.       \
 * Its length is only known by computing it. */                               \
BENCH_FN bench_u32 bench_varlen_start(bench_u32 id)                           \
{                                                                             \
    return 3u + bench_hash(id ^ 0x27d4eb2fu) % 65533u;                        \
}                                                                             \
BENCH_FN bench_u32 bench_varlen_next(bench_u32 v)                             \
{                                                                             \
    return (v & 1u) ? 3u * v + 1u : v >> 1;                                   \
}                                                                             \
)

#define BENCH_WORKLOAD_EXPAND(...) __VA_ARGS__
#define BENCH_WORKLOAD_STRING(...) #__VA_ARGS__
#define BENCH_WORKLOAD_XSTRING(x) BENCH_WORKLOAD_STRING(x)

/* The workload as OpenCL C source, to put before a program's kernels. */
#define BENCH_WORKLOAD_SOURCE                                                 \
    "#define BENCH_BATCH " BENCH_WORKLOAD_XSTRING(BENCH_BATCH) "\n"           \
    "#define BENCH_VARLEN_MAX " BENCH_WORKLOAD_XSTRING(BENCH_VARLEN_MAX) "\n" \
    "#define BENCH_FN static inline\n"                                        \
    "typedef uint bench_u32;\n" BENCH_WORKLOAD(BENCH_WORKLOAD_STRING) "\n"

#endif /* CARVE_BENCH_WORKLOAD_H */
