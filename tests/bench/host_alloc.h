/*
 * host_alloc.h - the alloc/free workload of workload.h on host threads, one
 * per core, with glibc's malloc or with mimalloc: the baselines of the
 * allocator benchmarks, on the cores the CPU device runs on.
 *
 * A third "allocator" is carve's own core (kernels/carve_core.h) compiled
 * for the host, each item in its own arena of a carved image in host
 * memory: the same algorithm as on the device, without an OpenCL compiler
 * in between, and the build to profile it with callgrind or perf. A fourth
 * sends every request of every item to the image's shared heap
 * (kernels/carve_heap.h, through the front of carve_alloc.h): the heap's
 * cost alone with one thread, and with its atomics contended with several.
 *
 * mimalloc is loaded with dlopen (RTLD_LOCAL) and called through mi_malloc
 * and mi_free: Debian's libmimalloc.so also exports malloc and free, so
 * linking it would silently replace glibc's malloc in the whole process,
 * and the "glibc" baseline would be mimalloc.
 */
#ifndef CARVE_BENCH_HOST_ALLOC_H
#define CARVE_BENCH_HOST_ALLOC_H

#include <stdint.h>

typedef enum host_allocator {
    HOST_GLIBC = 0,
    HOST_MIMALLOC = 1,
    HOST_CARVE = 2,
    HOST_CARVE_HEAP = 3,
    HOST_CARVE_RUNS = 4,  /* HOST_CARVE with CARVE_PLAN_SMALL_RUNS */
    HOST_CARVE_CHECKS = 5 /* HOST_CARVE with CARVE_PLAN_CHECKS */
} host_allocator;

/* Whether the allocator works in a carved image (host_carve_image). */
static inline int host_allocator_carves(host_allocator allocator)
{
    return allocator == HOST_CARVE || allocator == HOST_CARVE_HEAP ||
           allocator == HOST_CARVE_RUNS || allocator == HOST_CARVE_CHECKS;
}

/* Whether `allocator` can run here. If not, *why says why (static text).
 * For glibc, also checks that malloc really is glibc's. Thread-safe after
 * the first call. */
int host_allocator_ready(host_allocator allocator, const char **why);

/* Where malloc and mi_malloc come from, for the report (carve's source
 * for HOST_CARVE and HOST_CARVE_HEAP). */
const char *host_allocator_origin(host_allocator allocator);

/* Threads the baselines use: the cores online. */
unsigned host_threads(void);

typedef struct host_pairs_job {
    host_allocator allocator;
    unsigned threads;    /* 0: host_threads() */
    void *carve_image;   /* HOST_CARVE, HOST_CARVE_HEAP: host_carve_image() */
    uint32_t items;      /* work-items, spread over the threads */
    uint32_t rounds;     /* of BENCH_BATCH allocations and frees each */
    uint32_t fixed_size; /* bytes, or 0 for the mixed sizes */
    uint32_t *sums;      /* out: per item, the sum of its blocks' tags */
} host_pairs_job;

/* A carved image in host memory with one arena of `arena_bytes` per item,
 * for HOST_CARVE, and with `heap_bytes` of shared heap that takes every
 * request, for HOST_CARVE_HEAP (page-aligned; release with free()). NULL
 * after printing why, if the plan fails or memory runs out. */
void *host_carve_image(uint32_t items, uint32_t arena_bytes,
                       uint64_t heap_bytes, uint32_t options);

/* Runs the job on its threads; returns the seconds from the first
 * thread's start to the last one's end (for HOST_CARVE including
 * carve_layout_reset of the image, as a launch on the device includes
 * carve_set_reset), or a negative value after printing why a thread could
 * not start or an allocation failed. */
double host_pairs_run(const host_pairs_job *job);

#endif /* CARVE_BENCH_HOST_ALLOC_H */
