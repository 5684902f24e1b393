/*
 * alloc_cuda.cu - bench_alloc's workloads with CUDA's device malloc/free,
 * for comparison on NVIDIA GPUs (where carve's OpenCL runs too).
 *
 * Sections, as in bench_alloc (workload.h is the same code):
 *   pairs, mixed, scaling  alloc/free pairs; variants: a per-thread bump
 *                          floor (the baseline), device malloc/free, a
 *                          global atomic bump
 *   utilisation            threads malloc until the heap is exhausted:
 *                          allocations achieved / (heap bytes / size)
 *   varlen                 variable-length output: count kernel + CUB scan
 *                          + write kernel, against device malloc (which
 *                          still needs a scan and a gather to hand the
 *                          output to the host: device-heap memory cannot
 *                          be copied by cudaMemcpy)
 *   contention             every thread allocating at once: device malloc
 *                          (a shared heap) against the atomic bump
 * Every run is verified (sums of what each thread stored and read back,
 * failed allocations, the atomic counter, the output words); a wrong result
 * exits 1. Without a usable CUDA device it exits 77 (skipped).
 */
#include "bench.h"
#include "workload.h"

#include <cub/device/device_scan.cuh>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#define BENCH_FN static inline __host__ __device__
typedef uint32_t bench_u32;
BENCH_WORKLOAD(BENCH_WORKLOAD_EXPAND)

#define CUDA_OK(call)                                                         \
    do {                                                                      \
        cudaError_t err_ = (call);                                            \
        if (err_ != cudaSuccess)                                              \
            bench_fail("%s:%d: %s: %s", __FILE__, __LINE__, #call,            \
                       cudaGetErrorString(err_));                             \
    } while (0)

enum allocator { ALLOC_BUMP = 0, ALLOC_MALLOC = 1, ALLOC_ATOMIC = 2 };
static const char *const allocator_names[] = {"bump floor", "device malloc",
                                              "atomic bump"};

static const unsigned block_threads = 256;
static const uint32_t atomic_pool_max = 64u << 20;

static uint32_t round16(uint32_t n)
{
    return (n + 15u) & ~15u;
}

static unsigned blocks_for(uint32_t items)
{
    return (items + block_threads - 1) / block_threads;
}

/* Empties the device and gives device malloc a heap of `bytes` (at most
 * half the free memory): the limit can only be set before the first kernel
 * that uses malloc. A heap too small shows as failed allocations. */
static size_t fresh_device(size_t heap_bytes)
{
    size_t free_bytes = 0, total_bytes = 0;
    CUDA_OK(cudaDeviceReset());
    CUDA_OK(cudaMemGetInfo(&free_bytes, &total_bytes));
    if (heap_bytes > free_bytes / 2)
        heap_bytes = free_bytes / 2;
    CUDA_OK(cudaDeviceSetLimit(cudaLimitMallocHeapSize, heap_bytes));
    CUDA_OK(cudaDeviceGetLimit(&heap_bytes, cudaLimitMallocHeapSize));
    return heap_bytes;
}

template <typename T> static T *device_array(size_t count)
{
    void *p = nullptr;
    CUDA_OK(cudaMalloc(&p, count * sizeof(T)));
    return static_cast<T *>(p);
}

/* ---- alloc/free pairs ------------------------------------------------------------ */

/* span: the bump floor's bytes per thread; the atomic pool's mask. */
template <int A>
__global__ void pairs_kernel(unsigned char *memory, unsigned *counter,
                             unsigned *failures, uint32_t *sums,
                             uint32_t items, uint32_t rounds,
                             uint32_t fixed_size, uint32_t span)
{
    const uint32_t id = blockIdx.x * blockDim.x + threadIdx.x;
    uint32_t *live[BENCH_BATCH];
    uint32_t n = 0, sum = 0, top = 0;
    if (id >= items)
        return;
    for (uint32_t r = 0; r < rounds; ++r) {
        top = 0;
        for (uint32_t b = 0; b < BENCH_BATCH; ++b, ++n) {
            const uint32_t size = bench_size(id, n, fixed_size);
            const uint32_t rounded = (size + 15u) & ~15u;
            uint32_t *p = nullptr;
            if (A == ALLOC_MALLOC) {
                p = static_cast<uint32_t *>(malloc(size));
            } else if (A == ALLOC_BUMP) {
                if (top + rounded <= span) {
                    p = reinterpret_cast<uint32_t *>(
                        memory + static_cast<size_t>(id) * span + top);
                    top += rounded;
                }
            } else {
                p = reinterpret_cast<uint32_t *>(
                    memory + (atomicAdd(counter, rounded) & span));
            }
            if (p != nullptr)
                p[0] = bench_tag(id, n);
            else
                atomicAdd(failures, 1u);
            live[b] = p;
        }
        for (uint32_t b = 0; b < BENCH_BATCH; ++b) {
            uint32_t *p = live[bench_slot(r, b)];
            if (p != nullptr) {
                sum += p[0];
                if (A == ALLOC_MALLOC)
                    free(p);
            }
        }
    }
    sums[id] = sum;
}

struct pairs_run {
    allocator alloc;
    uint32_t items, rounds, fixed_size, span;
    unsigned char *memory;
    unsigned *counter, *failures;
    uint32_t *sums;
    std::vector<uint32_t> expected, host_sums;
    uint64_t rounded_bytes;
};

static void launch_pairs(const pairs_run &p)
{
    typedef void (*pairs_fn)(unsigned char *, unsigned *, unsigned *,
                             uint32_t *, uint32_t, uint32_t, uint32_t,
                             uint32_t);
    static const pairs_fn kernels[] = {pairs_kernel<ALLOC_BUMP>,
                                       pairs_kernel<ALLOC_MALLOC>,
                                       pairs_kernel<ALLOC_ATOMIC>};
    kernels[p.alloc]<<<blocks_for(p.items), block_threads>>>(
        p.memory, p.counter, p.failures, p.sums, p.items, p.rounds,
        p.fixed_size, p.span);
}

static bool pairs_ok(pairs_run &p)
{
    unsigned failures = 0, counter = 0;
    CUDA_OK(cudaMemcpy(&failures, p.failures, sizeof failures,
                       cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(&counter, p.counter, sizeof counter,
                       cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(p.host_sums.data(), p.sums, p.items * sizeof(uint32_t),
                       cudaMemcpyDeviceToHost));
    if (failures != 0) {
        fprintf(stderr, "%s: %u allocations failed\n",
                allocator_names[p.alloc], failures);
        return false;
    }
    if (p.alloc == ALLOC_ATOMIC &&
        counter != static_cast<uint32_t>(p.rounded_bytes)) {
        fprintf(stderr, "atomic bump: counter %u, expected %u\n", counter,
                static_cast<uint32_t>(p.rounded_bytes));
        return false;
    }
    /* Once the atomic pool wraps, threads may share bytes: only the
     * counter is exact then. */
    if (p.alloc == ALLOC_ATOMIC && p.rounded_bytes > uint64_t(p.span) + 1u)
        return true;
    for (uint32_t id = 0; id < p.items; ++id) {
        if (p.host_sums[id] != p.expected[id]) {
            fprintf(stderr, "%s: thread %u summed %u, expected %u\n",
                    allocator_names[p.alloc], id, p.host_sums[id],
                    p.expected[id]);
            return false;
        }
    }
    return true;
}

static double run_pairs(void *context)
{
    pairs_run &p = *static_cast<pairs_run *>(context);
    CUDA_OK(cudaMemset(p.counter, 0, sizeof(unsigned)));
    CUDA_OK(cudaMemset(p.failures, 0, sizeof(unsigned)));
    CUDA_OK(cudaDeviceSynchronize());
    const double start = bench_now();
    launch_pairs(p);
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaDeviceSynchronize());
    const double seconds = bench_now() - start;
    return pairs_ok(p) ? seconds : -1.0;
}

static bench_timing time_pairs(const bench_options *o, allocator alloc,
                               uint32_t items, uint32_t rounds,
                               uint32_t fixed_size)
{
    pairs_run p;
    const uint32_t per_thread =
        BENCH_BATCH * round16(fixed_size ? fixed_size : BENCH_MIXED_MAX);
    p.alloc = alloc;
    p.items = items;
    p.rounds = rounds;
    p.fixed_size = fixed_size;
    p.expected.assign(items, 0);
    p.host_sums.assign(items, 0);
    p.rounded_bytes = 0;
    for (uint32_t id = 0; id < items; ++id)
        for (uint32_t n = 0; n < rounds * BENCH_BATCH; ++n) {
            p.expected[id] += bench_tag(id, n);
            p.rounded_bytes += round16(bench_size(id, n, fixed_size));
        }
    /* Device malloc has per-block overhead: twice the live bytes. */
    fresh_device(alloc == ALLOC_MALLOC
                     ? 2 * size_t(items) * per_thread + (64u << 20)
                     : size_t(8) << 20);
    p.memory = nullptr;
    p.span = 0;
    if (alloc == ALLOC_BUMP) {
        p.span = per_thread;
        p.memory = device_array<unsigned char>(size_t(items) * per_thread);
    } else if (alloc == ALLOC_ATOMIC) {
        uint32_t pool = 1u << 16;
        while (pool < atomic_pool_max && pool < p.rounded_bytes)
            pool <<= 1;
        p.span = pool - 1u;
        p.memory = device_array<unsigned char>(pool + BENCH_MIXED_MAX);
    }
    p.counter = device_array<unsigned>(1);
    p.failures = device_array<unsigned>(1);
    p.sums = device_array<uint32_t>(items);
    const bench_timing t = bench_time(o, run_pairs, &p);
    cudaFree(p.memory);
    cudaFree(p.counter);
    cudaFree(p.failures);
    cudaFree(p.sums);
    return t;
}

static void measure_pairs(bench_report *r, const bench_options *o,
                          const char *param, double value, uint32_t items,
                          uint32_t rounds, uint32_t fixed_size,
                          const allocator *which, size_t count)
{
    const double pairs = double(items) * rounds * BENCH_BATCH;
    for (size_t i = 0; i < count; ++i)
        bench_row(r, param, value, allocator_names[which[i]],
                  time_pairs(o, which[i], items, rounds, fixed_size), pairs,
                  nullptr, 0);
}

static const allocator all_allocators[] = {ALLOC_BUMP, ALLOC_MALLOC,
                                           ALLOC_ATOMIC};

/* The same work-items and rounds as bench_alloc, for direct comparison. */
static uint32_t pairs_items(const bench_options *o)
{
    return o->quick ? 1u << 10 : 1u << 14;
}

static uint32_t pairs_rounds(const bench_options *o)
{
    return o->quick ? 2u : 8u;
}

static void section_pairs(bench_report *r, const bench_options *o)
{
    static const uint32_t full[] = {16, 64, 256, 1024, 4096};
    static const uint32_t quick[] = {16, 256, 4096};
    const uint32_t *sizes = o->quick ? quick : full;
    const size_t count = o->quick ? 3 : 5;
    char label[32];
    bench_section(r, "pairs", "size", "pairs", "bump floor");
    bench_note(r, "%u threads x %u alloc/free pairs", pairs_items(o),
               pairs_rounds(o) * BENCH_BATCH);
    for (size_t i = 0; i < count; ++i)
        measure_pairs(r, o, bench_bytes_label(label, sizeof label, sizes[i]),
                      sizes[i], pairs_items(o), pairs_rounds(o), sizes[i],
                      all_allocators, 3);
}

static void section_mixed(bench_report *r, const bench_options *o)
{
    bench_section(r, "mixed", "sizes", "pairs", "bump floor");
    bench_note(r, "as pairs, sizes drawn from [16, %u] B", BENCH_MIXED_MAX);
    measure_pairs(r, o, "mixed", 0, pairs_items(o), pairs_rounds(o), 0,
                  all_allocators, 3);
}

static void section_scaling(bench_report *r, const bench_options *o)
{
    const uint32_t last = o->quick ? 1u << 12 : 1u << 20;
    char label[32];
    bench_section(r, "scaling", "items", "pairs", "bump floor");
    bench_note(r, "64-byte blocks, %u alloc/free pairs per thread",
               2u * BENCH_BATCH);
    for (uint32_t items = 1u << 10; items <= last; items <<= 2) {
        snprintf(label, sizeof label, "2^%d", __builtin_ctz(items));
        measure_pairs(r, o, label, items, items, 2, 64, all_allocators, 3);
    }
}

static void section_contention(bench_report *r, const bench_options *o)
{
    static const allocator shared[] = {ALLOC_ATOMIC, ALLOC_MALLOC};
    const uint32_t items = o->quick ? 1u << 12 : 1u << 16;
    char label[32];
    snprintf(label, sizeof label, "2^%d", __builtin_ctz(items));
    bench_section(r, "contention", "items", "pairs", "atomic bump");
    bench_note(r, "every thread allocates %u x 64 B at once from one shared "
               "place", 2u * BENCH_BATCH);
    measure_pairs(r, o, label, items, items, 2, 64, shared, 2);
}

/* ---- utilisation ------------------------------------------------------------------ */

/* Each thread allocates until malloc fails, chaining its blocks through
 * their first bytes; the free kernel walks the chains. */
__global__ void fill_kernel(uint32_t size, unsigned long long *total,
                            void **heads, uint32_t threads)
{
    const uint32_t id = blockIdx.x * blockDim.x + threadIdx.x;
    void *head = nullptr, *p;
    unsigned long long n = 0;
    if (id >= threads)
        return;
    while ((p = malloc(size)) != nullptr) {
        *static_cast<void **>(p) = head;
        head = p;
        ++n;
    }
    heads[id] = head;
    atomicAdd(total, n);
}

__global__ void unfill_kernel(void **heads, uint32_t threads)
{
    const uint32_t id = blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= threads)
        return;
    for (void *p = heads[id]; p != nullptr;) {
        void *next = *static_cast<void **>(p);
        free(p);
        p = next;
    }
}

struct fill_run {
    uint32_t threads, size;
    size_t heap;
    unsigned long long *total;
    void **heads;
    unsigned long long achieved;
};

static double run_fill(void *context)
{
    fill_run &f = *static_cast<fill_run *>(context);
    CUDA_OK(cudaMemset(f.total, 0, sizeof *f.total));
    CUDA_OK(cudaDeviceSynchronize());
    const double start = bench_now();
    fill_kernel<<<blocks_for(f.threads), block_threads>>>(f.size, f.total,
                                                          f.heads, f.threads);
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaDeviceSynchronize());
    const double seconds = bench_now() - start;
    CUDA_OK(cudaMemcpy(&f.achieved, f.total, sizeof f.achieved,
                       cudaMemcpyDeviceToHost));
    unfill_kernel<<<blocks_for(f.threads), block_threads>>>(f.heads,
                                                            f.threads);
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaDeviceSynchronize());
    if (f.achieved == 0 || f.achieved * f.size > f.heap) {
        fprintf(stderr, "fill %u B: %llu allocations in a heap of %zu bytes\n",
                f.size, f.achieved, f.heap);
        return -1.0;
    }
    return seconds;
}

static void section_utilisation(bench_report *r, const bench_options *o)
{
    static const uint32_t full[] = {16, 24, 48, 64, 100, 256, 1000, 1024,
                                    3000, 4096};
    static const uint32_t quick[] = {16, 24, 100, 4096};
    const uint32_t *sizes = o->quick ? quick : full;
    const size_t count = o->quick ? 4 : 10;
    const size_t heap = o->quick ? size_t(8) << 20 : size_t(64) << 20;
    fill_run f;
    char label[32];
    f.threads = o->quick ? 1u << 8 : 1u << 10;
    f.heap = heap;
    bench_section(r, "utilisation", "size", "allocations", "none");
    bench_note(r, "%u threads call malloc(size) until it fails, in a heap of "
               "%zu MiB; utilisation = allocations / (heap / size), in %%",
               f.threads, heap >> 20);
    for (size_t i = 0; i < count; ++i) {
        f.heap = fresh_device(heap);
        f.total = device_array<unsigned long long>(1);
        f.heads = device_array<void *>(f.threads);
        f.size = sizes[i];
        const bench_timing t = bench_time(o, run_fill, &f);
        bench_row(r, bench_bytes_label(label, sizeof label, f.size), f.size,
                  "device malloc", t, double(f.achieved), "utilisation%",
                  100.0 * double(f.achieved) / double(f.heap / f.size));
        cudaFree(f.total);
        cudaFree(f.heads);
    }
}

/* ---- variable-length output ------------------------------------------------------- */

__device__ static uint32_t trajectory_length(uint32_t id)
{
    uint32_t n = 0, v = bench_varlen_start(id);
    for (; v != 1u && n < BENCH_VARLEN_MAX; v = bench_varlen_next(v))
        ++n;
    return n;
}

__global__ void count_kernel(uint32_t *counts, uint32_t items)
{
    const uint32_t id = blockIdx.x * blockDim.x + threadIdx.x;
    if (id < items)
        counts[id] = trajectory_length(id);
}

__global__ void write_kernel(const uint32_t *offsets, uint32_t *out,
                             uint32_t items)
{
    const uint32_t id = blockIdx.x * blockDim.x + threadIdx.x;
    uint32_t n = 0, v;
    if (id >= items)
        return;
    v = bench_varlen_start(id);
    for (; v != 1u && n < BENCH_VARLEN_MAX; v = bench_varlen_next(v))
        out[offsets[id] + n++] = v;
}

/* Output of unknown length in a malloc'd block that doubles when full
 * (device malloc has no realloc: allocate, copy, free). */
__global__ void malloc_write_kernel(uint32_t **blocks, uint32_t *counts,
                                    unsigned *failures, uint32_t items)
{
    const uint32_t id = blockIdx.x * blockDim.x + threadIdx.x;
    uint32_t cap = 16, n = 0, v;
    uint32_t *out;
    if (id >= items)
        return;
    v = bench_varlen_start(id);
    out = static_cast<uint32_t *>(malloc(cap * sizeof(uint32_t)));
    while (out != nullptr && v != 1u && n < BENCH_VARLEN_MAX) {
        if (n == cap) {
            uint32_t *grown =
                static_cast<uint32_t *>(malloc(2 * cap * sizeof(uint32_t)));
            if (grown != nullptr)
                for (uint32_t i = 0; i < n; ++i)
                    grown[i] = out[i];
            free(out);
            out = grown;
            cap *= 2;
            if (out == nullptr)
                break;
        }
        out[n++] = v;
        v = bench_varlen_next(v);
    }
    if (out == nullptr)
        atomicAdd(failures, 1u);
    blocks[id] = out;
    counts[id] = n;
}

__global__ void gather_kernel(uint32_t **blocks, const uint32_t *counts,
                              const uint32_t *offsets, uint32_t *out,
                              uint32_t items)
{
    const uint32_t id = blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= items || blocks[id] == nullptr)
        return;
    for (uint32_t i = 0; i < counts[id]; ++i)
        out[offsets[id] + i] = blocks[id][i];
    free(blocks[id]);
}

struct varlen_run {
    bool use_malloc;
    uint32_t items;
    uint32_t *counts, *offsets, *out;
    uint32_t **blocks;
    unsigned *failures;
    void *scan_temp;
    size_t scan_bytes, out_words;
    std::vector<uint32_t> host_out, host_offsets;
};

/* The exclusive scan of counts into offsets; returns the total. */
static uint32_t scan(varlen_run &v)
{
    uint32_t last_count = 0, last_offset = 0;
    CUDA_OK(cub::DeviceScan::ExclusiveSum(v.scan_temp, v.scan_bytes, v.counts,
                                          v.offsets, int(v.items)));
    CUDA_OK(cudaMemcpy(&last_count, v.counts + v.items - 1, sizeof last_count,
                       cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(&last_offset, v.offsets + v.items - 1,
                       sizeof last_offset, cudaMemcpyDeviceToHost));
    return last_offset + last_count;
}

static bool varlen_ok(varlen_run &v, uint32_t total)
{
    unsigned failures = 0;
    CUDA_OK(cudaMemcpy(&failures, v.failures, sizeof failures,
                       cudaMemcpyDeviceToHost));
    if (failures != 0 || total != v.host_out.size()) {
        fprintf(stderr, "varlen: %u failed threads, %u words (expected "
                        "%zu)\n",
                failures, total, v.host_out.size());
        return false;
    }
    CUDA_OK(cudaMemcpy(v.host_offsets.data(), v.offsets,
                       v.items * sizeof(uint32_t), cudaMemcpyDeviceToHost));
    for (uint32_t id = 0, at = 0; id < v.items; ++id) {
        uint32_t x = bench_varlen_start(id), n = 0;
        if (v.host_offsets[id] != at) {
            fprintf(stderr, "varlen: thread %u at %u, expected %u\n", id,
                    v.host_offsets[id], at);
            return false;
        }
        for (; x != 1u && n < BENCH_VARLEN_MAX; x = bench_varlen_next(x))
            if (v.host_out[at + n++] != x) {
                fprintf(stderr, "varlen: thread %u, word %u is wrong\n", id,
                        n - 1);
                return false;
            }
        at += n;
    }
    return true;
}

/* Until the output is in host memory, in thread order. */
static double run_varlen(void *context)
{
    varlen_run &v = *static_cast<varlen_run *>(context);
    const unsigned grid = blocks_for(v.items);
    CUDA_OK(cudaMemset(v.failures, 0, sizeof(unsigned)));
    CUDA_OK(cudaDeviceSynchronize());
    const double start = bench_now();
    if (v.use_malloc)
        malloc_write_kernel<<<grid, block_threads>>>(v.blocks, v.counts,
                                                     v.failures, v.items);
    else
        count_kernel<<<grid, block_threads>>>(v.counts, v.items);
    CUDA_OK(cudaGetLastError());
    const uint32_t total = scan(v);
    if (total > v.out_words) {
        cudaFree(v.out);
        v.out = device_array<uint32_t>(total);
        v.out_words = total;
    }
    if (v.use_malloc)
        gather_kernel<<<grid, block_threads>>>(v.blocks, v.counts, v.offsets,
                                               v.out, v.items);
    else
        write_kernel<<<grid, block_threads>>>(v.offsets, v.out, v.items);
    CUDA_OK(cudaGetLastError());
    if (total <= v.host_out.size())
        CUDA_OK(cudaMemcpy(v.host_out.data(), v.out, total * sizeof(uint32_t),
                           cudaMemcpyDeviceToHost));
    const double seconds = bench_now() - start;
    return varlen_ok(v, total) ? seconds : -1.0;
}

static bench_timing time_varlen(const bench_options *o, bool use_malloc,
                                uint32_t items, size_t words)
{
    varlen_run v;
    v.use_malloc = use_malloc;
    v.items = items;
    v.host_out.assign(words, 0);
    v.host_offsets.assign(items, 0);
    fresh_device(size_t(items) * 2 * 512 * sizeof(uint32_t) + (64u << 20));
    v.counts = device_array<uint32_t>(items);
    v.offsets = device_array<uint32_t>(items);
    v.blocks = device_array<uint32_t *>(items);
    v.failures = device_array<unsigned>(1);
    v.out = nullptr;
    v.out_words = 0;
    v.scan_temp = nullptr;
    v.scan_bytes = 0;
    CUDA_OK(cub::DeviceScan::ExclusiveSum(nullptr, v.scan_bytes, v.counts,
                                          v.offsets, int(items)));
    v.scan_temp = device_array<unsigned char>(v.scan_bytes);
    const bench_timing t = bench_time(o, run_varlen, &v);
    cudaFree(v.counts);
    cudaFree(v.offsets);
    cudaFree(v.blocks);
    cudaFree(v.failures);
    cudaFree(v.out);
    cudaFree(v.scan_temp);
    return t;
}

static void section_varlen(bench_report *r, const bench_options *o)
{
    const uint32_t items = o->quick ? 1u << 11 : 1u << 16;
    size_t words = 0;
    char label[32];
    for (uint32_t id = 0; id < items; ++id) {
        uint32_t x = bench_varlen_start(id), n = 0;
        for (; x != 1u && n < BENCH_VARLEN_MAX; x = bench_varlen_next(x))
            ++n;
        words += n;
    }
    snprintf(label, sizeof label, "2^%d", __builtin_ctz(items));
    bench_section(r, "varlen", "items", "words", "two-pass");
    bench_note(r, "as in bench_alloc; both end with the output in host "
               "memory, in thread order");
    bench_row(r, label, items, "two-pass", time_varlen(o, false, items, words),
              double(words), nullptr, 0);
    bench_row(r, label, items, "device malloc",
              time_varlen(o, true, items, words), double(words), nullptr, 0);
}

/* ---- main ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    const bench_options o = bench_parse(
        argc, argv, "bench_alloc_cuda",
        "bench_alloc's workloads with CUDA's device malloc/free (exit 77 "
        "without a CUDA device).");
    int devices = 0;
    cudaDeviceProp prop;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        printf("no usable CUDA device: skipping\n");
        return 77;
    }
    CUDA_OK(cudaGetDeviceProperties(&prop, 0));
    bench_report *r = bench_report_begin(&o, "bench_alloc_cuda");
    bench_fact(r, "cuda_device", prop.name);
    if (bench_wanted(&o, "pairs"))
        section_pairs(r, &o);
    if (bench_wanted(&o, "mixed"))
        section_mixed(r, &o);
    if (bench_wanted(&o, "scaling"))
        section_scaling(r, &o);
    if (bench_wanted(&o, "utilisation"))
        section_utilisation(r, &o);
    if (bench_wanted(&o, "varlen"))
        section_varlen(r, &o);
    if (bench_wanted(&o, "contention"))
        section_contention(r, &o);
    return bench_report_end(r);
}
