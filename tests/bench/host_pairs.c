/*
 * host_pairs.c - the alloc/free workload of bench_alloc on host threads
 * only, with one allocator: small enough to run under callgrind or perf
 * (no OpenCL in the process), for finding where an allocator spends its
 * time.
 *
 *   bench_host_pairs ALLOCATOR SIZE ITEMS ROUNDS [THREADS]
 *     ALLOCATOR  carve (kernels/carve_core.h built for the host), glibc,
 *                mimalloc, or carve-heap (every block from carve's shared
 *                heap, kernels/carve_heap.h: compare THREADS 1 and 2 for
 *                what contention on its atomics costs), carve-runs
 *                (carve with CARVE_PLAN_SMALL_RUNS) or carve-checks (carve
 *                with CARVE_PLAN_CHECKS: redzones, the error log)
 *     SIZE       bytes per block, 0 for the mixed sizes
 *   e.g. valgrind --tool=callgrind bench_host_pairs carve 16 4096 8 1
 *
 * It runs the workload twice and times the second run (the first one
 * touches fresh pages). It checks every item's sum of the tags it stored and read back (and the
 * carve image's invariants) and exits 1 on a wrong result.
 */
#include "bench.h"
#include "host_alloc.h"
#include "workload.h"

#include <carve/carve.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_FN static inline
typedef uint32_t bench_u32;
BENCH_WORKLOAD(BENCH_WORKLOAD_EXPAND)

static int parse_allocator(const char *name, host_allocator *out)
{
    static const char *const names[] = {"glibc",      "mimalloc",
                                        "carve",      "carve-heap",
                                        "carve-runs", "carve-checks"};
    int i;
    for (i = 0; i < 6; ++i) {
        if (strcmp(name, names[i]) == 0) {
            *out = (host_allocator)i;
            return 1;
        }
    }
    return 0;
}

static int sums_ok(const host_pairs_job *job)
{
    uint32_t id, n;
    for (id = 0; id < job->items; ++id) {
        uint32_t sum = 0;
        for (n = 0; n < job->rounds * BENCH_BATCH; ++n)
            sum += bench_tag(id, n);
        if (job->sums[id] != sum) {
            fprintf(stderr, "item %u summed %u, expected %u\n", (unsigned)id,
                    (unsigned)job->sums[id], (unsigned)sum);
            return 0;
        }
    }
    return 1;
}

/* The second run's totals (a run starts from a reset image): every pair
 * allocated and freed where the allocator says, nothing refused, failed
 * or left live. */
static int counts_ok(const host_pairs_job *job, uint64_t pairs)
{
    carve_summary sum;
    int heap = job->allocator == HOST_CARVE_HEAP;
    if (carve_layout_summary(job->carve_image, &sum) != CARVE_SUCCESS)
        return 0;
    if (sum.misuse_count != 0 || sum.failed_count != 0 ||
        sum.heap_live_blocks != 0 ||
        sum.heap_allocs != (heap ? pairs : 0) ||
        sum.heap_frees != (heap ? pairs : 0) ||
        sum.alloc_count != (heap ? 0 : pairs) ||
        sum.free_count != (heap ? 0 : pairs)) {
        fprintf(stderr, "carve: %llu allocations and %llu frees in arenas, "
                        "%llu and %llu in the heap (%llu live), %llu "
                        "refused, %llu failed; %llu pairs were made\n",
                (unsigned long long)sum.alloc_count,
                (unsigned long long)sum.free_count,
                (unsigned long long)sum.heap_allocs,
                (unsigned long long)sum.heap_frees,
                (unsigned long long)sum.heap_live_blocks,
                (unsigned long long)sum.misuse_count,
                (unsigned long long)sum.failed_count,
                (unsigned long long)pairs);
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    host_pairs_job job;
    const char *why = NULL;
    double seconds;
    uint64_t pairs;
    uint32_t batch_bytes;
    int carved;
    memset(&job, 0, sizeof job);
    if (argc < 5 || argc > 6 || !parse_allocator(argv[1], &job.allocator)) {
        fprintf(stderr, "usage: %s carve|carve-runs|carve-heap|carve-checks|"
                        "glibc|mimalloc SIZE ITEMS ROUNDS [THREADS]\n",
                argv[0]);
        return 2;
    }
    job.fixed_size = (uint32_t)strtoul(argv[2], NULL, 0);
    job.items = (uint32_t)strtoul(argv[3], NULL, 0);
    job.rounds = (uint32_t)strtoul(argv[4], NULL, 0);
    job.threads = argc > 5 ? (unsigned)strtoul(argv[5], NULL, 0) : 0;
    if (job.items == 0 || job.rounds == 0 || job.fixed_size > 1u << 20) {
        fprintf(stderr, "ITEMS and ROUNDS must be positive, SIZE at most "
                        "1 MiB\n");
        return 2;
    }
    if (!host_allocator_ready(job.allocator, &why)) {
        fprintf(stderr, "%s: %s\n", argv[1], why);
        return 77;
    }
    job.sums = calloc(job.items, sizeof *job.sums);
    carved = host_allocator_carves(job.allocator);
    batch_bytes = BENCH_BATCH *
                  (((job.fixed_size ? job.fixed_size : BENCH_MIXED_MAX) + 15u) /
                   16u * 16u);
    /* The heap holds one batch per thread at a time; a size class may
     * leave most of a page unused, so it gets room to spare. */
    if (job.allocator == HOST_CARVE)
        job.carve_image = host_carve_image(job.items, batch_bytes, 0, 0);
    else if (job.allocator == HOST_CARVE_RUNS)
        /* A run takes at most an eighth of its arena: an arena of one
         * batch would leave runs out, so these get 16 KiB. */
        job.carve_image = host_carve_image(
            job.items, batch_bytes > 16384u ? batch_bytes : 16384u, 0,
            CARVE_PLAN_SMALL_RUNS);
    else if (job.allocator == HOST_CARVE_CHECKS)
        /* Every block carries a granule of redzone. */
        job.carve_image = host_carve_image(
            job.items, batch_bytes + BENCH_BATCH * 16u, 0, CARVE_PLAN_CHECKS);
    else if (job.allocator == HOST_CARVE_HEAP)
        job.carve_image = host_carve_image(
            job.items, 64, (uint64_t)batch_bytes * 64u + (16u << 20), 0);
    if (job.sums == NULL || (carved && job.carve_image == NULL))
        bench_fail("out of host memory");
    /* The first run pays for first touches of fresh pages; time the
     * second, as bench_time would. */
    seconds = host_pairs_run(&job);
    if (seconds >= 0.0)
        seconds = host_pairs_run(&job);
    if (seconds < 0.0 || !sums_ok(&job))
        bench_fail("%s: wrong result", argv[1]);
    if (carved &&
        carve_layout_check(job.carve_image, NULL, NULL) != CARVE_SUCCESS)
        bench_fail("carve: the image broke an invariant");
    pairs = (uint64_t)job.items * job.rounds * BENCH_BATCH;
    if (carved && !counts_ok(&job, pairs))
        bench_fail("%s: wrong counts", argv[1]);
    printf("%s: %llu alloc/free pairs of %s bytes in %.3f ms: %.1f ns per "
           "pair per thread\n",
           argv[1], (unsigned long long)pairs,
           job.fixed_size ? argv[2] : "mixed", seconds * 1e3,
           seconds * 1e9 * (job.threads ? job.threads : host_threads()) /
               (double)pairs);
    free(job.carve_image);
    free(job.sums);
    return 0;
}
