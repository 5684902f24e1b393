/*
 * host_alloc.c - the alloc/free workload on host threads (host_alloc.h).
 */
#define _GNU_SOURCE /* dladdr */
#include "host_alloc.h"
#include "bench.h"
#include "workload.h"

#include <carve/carve.h>
#include "carve_calls.h" /* the allocator, as kernels call it */

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BENCH_FN static inline
typedef uint32_t bench_u32;
BENCH_WORKLOAD(BENCH_WORKLOAD_EXPAND)

#define MAX_THREADS 256

static void *(*mimalloc_malloc)(size_t);
static void (*mimalloc_free)(void *);
static const char *mimalloc_problem;
static pthread_once_t mimalloc_once = PTHREAD_ONCE_INIT;

static void load_mimalloc(void)
{
#ifdef BENCH_MIMALLOC_LIBRARY
    void *lib = dlopen(BENCH_MIMALLOC_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        mimalloc_problem = "dlopen of libmimalloc failed";
        return;
    }
    /* dlsym returns object pointers; POSIX guarantees they convert. */
    void *found_malloc = dlsym(lib, "mi_malloc");
    void *found_free = dlsym(lib, "mi_free");
    memcpy(&mimalloc_malloc, &found_malloc, sizeof found_malloc);
    memcpy(&mimalloc_free, &found_free, sizeof found_free);
    if (mimalloc_malloc == NULL || mimalloc_free == NULL)
        mimalloc_problem = "libmimalloc has no mi_malloc/mi_free";
#else
    mimalloc_problem = "mimalloc was not found when the benchmark was built "
                       "(Debian: libmimalloc-dev)";
#endif
}

const char *host_allocator_origin(host_allocator allocator)
{
    Dl_info info;
    void *(*fn)(size_t) = malloc;
    void *address;
    if (allocator == HOST_CARVE || allocator == HOST_CARVE_RUNS ||
        allocator == HOST_CARVE_CHECKS)
        return "kernels/carve_core.h, built for the host";
    if (allocator == HOST_CARVE_HEAP)
        return "kernels/carve_heap.h, built for the host";
    if (allocator == HOST_MIMALLOC) {
        pthread_once(&mimalloc_once, load_mimalloc);
        fn = mimalloc_malloc;
    }
    memcpy(&address, &fn, sizeof address); /* POSIX: the same size */
    if (address == NULL || dladdr(address, &info) == 0 ||
        info.dli_fname == NULL)
        return "unknown";
    return info.dli_fname;
}

int host_allocator_ready(host_allocator allocator, const char **why)
{
    *why = NULL;
    if (host_allocator_carves(allocator))
        return 1;
    if (allocator == HOST_MIMALLOC) {
        pthread_once(&mimalloc_once, load_mimalloc);
        *why = mimalloc_problem;
        return mimalloc_problem == NULL;
    }
    /* A malloc interposed by a preloaded library is not the baseline. */
    if (strstr(host_allocator_origin(HOST_GLIBC), "libc.so") == NULL) {
        *why = "malloc does not come from glibc's libc.so (LD_PRELOAD?)";
        return 0;
    }
    return 1;
}

void *host_carve_image(uint32_t items, uint32_t arena_bytes,
                       uint64_t heap_bytes, uint32_t options)
{
    /* Limits of a host "device": nothing but carve's own ones apply. */
    carve_device_limits limits = {UINT64_MAX, UINT64_MAX, 4096};
    carve_plan_params params;
    carve_plan plan;
    carve_status status;
    void *image;
    memset(&params, 0, sizeof params);
    params.arena_count = items;
    params.arena_bytes = arena_bytes;
    params.heap_bytes = heap_bytes;
    params.options = options;
    if (heap_bytes != 0)
        params.large_request_bytes = 1; /* every request to the heap */
    status = carve_plan_compute(&params, &limits, &plan);
    if (status != CARVE_SUCCESS) {
        fprintf(stderr, "host carve image: %s\n", plan.message);
        return NULL;
    }
    image = aligned_alloc(4096, (plan.total_bytes + 4095) / 4096 * 4096);
    if (image == NULL) {
        fprintf(stderr, "host carve image: out of memory\n");
        return NULL;
    }
    status = carve_layout_format(image, (size_t)plan.total_bytes, &plan);
    if (status != CARVE_SUCCESS) {
        fprintf(stderr, "host carve image: %s\n", carve_status_string(status));
        free(image);
        return NULL;
    }
    return image;
}

unsigned host_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : n > MAX_THREADS ? MAX_THREADS : (unsigned)n;
}

typedef struct worker {
    const host_pairs_job *job;
    uint32_t first, step;
    int failed;
} worker;

/* The workload of one item. The switch on the allocator goes the same way
 * every time, so it costs next to nothing beside the calls. */
static void *item_malloc(const host_pairs_job *job, carve_arena *arena,
                         size_t size)
{
    switch (job->allocator) {
    case HOST_MIMALLOC:
        return mimalloc_malloc(size);
    case HOST_CARVE:
    case HOST_CARVE_RUNS:
    case HOST_CARVE_CHECKS:
        /* What carve_malloc runs in a kernel. */
        return carve_alloc_malloc(arena, size, CARVE_DEFAULT_ALIGN, 0);
    case HOST_CARVE_HEAP:
        return carve_alloc_malloc(arena, size, CARVE_GRANULE, 0);
    default:
        return malloc(size);
    }
}

static void item_free(const host_pairs_job *job, carve_arena *arena, void *p)
{
    switch (job->allocator) {
    case HOST_MIMALLOC:
        mimalloc_free(p);
        break;
    case HOST_CARVE:
    case HOST_CARVE_RUNS:
    case HOST_CARVE_HEAP:
    case HOST_CARVE_CHECKS:
        carve_alloc_free(arena, p, 0);
        break;
    default:
        free(p);
    }
}

static int run_item(const host_pairs_job *job, uint32_t id)
{
    uint32_t *live[BENCH_BATCH];
    uint32_t r, b, n = 0, sum = 0;
    int carved = host_allocator_carves(job->allocator);
    carve_arena arena = carved ? carve_core_open(job->carve_image, id)
                               : carve_core_view(NULL, 0);
    for (r = 0; r < job->rounds; ++r) {
        for (b = 0; b < BENCH_BATCH; ++b, ++n) {
            uint32_t *p =
                item_malloc(job, &arena, bench_size(id, n, job->fixed_size));
            if (p == NULL)
                return 0;
            p[0] = bench_tag(id, n);
            live[b] = p;
        }
        for (b = 0; b < BENCH_BATCH; ++b) {
            uint32_t *p = live[bench_slot(r, b)];
            sum += p[0];
            item_free(job, &arena, p);
        }
    }
    if (carved)
        carve_arena_close(&arena);
    job->sums[id] = sum;
    return 1;
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    uint32_t id;
    for (id = w->first; id < w->job->items && !w->failed; id += w->step)
        w->failed = !run_item(w->job, id);
    return NULL;
}

double host_pairs_run(const host_pairs_job *job)
{
    pthread_t threads[MAX_THREADS];
    worker workers[MAX_THREADS];
    unsigned count = job->threads ? job->threads : host_threads(), started, i;
    int failed = 0;
    double start;
    const char *why = NULL;
    if (!host_allocator_ready(job->allocator, &why)) {
        fprintf(stderr, "host baseline: %s\n", why);
        return -1.0;
    }
    if (count > MAX_THREADS)
        count = MAX_THREADS;
    start = bench_now();
    if (host_allocator_carves(job->allocator) &&
        carve_layout_reset(job->carve_image) != CARVE_SUCCESS) {
        fprintf(stderr, "host baseline: the carve image is damaged\n");
        return -1.0;
    }
    for (started = 0; started < count; ++started) {
        workers[started].job = job;
        workers[started].first = started;
        workers[started].step = count;
        workers[started].failed = 0;
        if (pthread_create(&threads[started], NULL, run_worker,
                           &workers[started]) != 0) {
            failed = 1;
            break;
        }
    }
    for (i = 0; i < started; ++i) {
        pthread_join(threads[i], NULL);
        failed |= workers[i].failed;
    }
    if (failed) {
        fprintf(stderr, "host baseline: a thread did not start or an "
                        "allocation failed\n");
        return -1.0;
    }
    return bench_now() - start;
}
