/*
 * threads.c - host threads sharing carve's state, for ThreadSanitizer
 * (label tsan) as much as for the results it checks:
 *
 *   regions  8 threads on one region of each backend the device supports:
 *            malloc, calloc, memalign and realloc, frees of blocks another
 *            thread allocated (passed through an exchange), hand-overs to
 *            the device and back, carve_region_get_info and
 *            carve_zc_region_of in between; one thread keeps linking and
 *            unlinking a fallback region while the others allocate.
 *            Every block keeps its owner's tag; at the end the region is
 *            empty and passes its check.
 *   sets     4 threads, each with its own queue, program (built at the
 *            same time as the others') and set: launches, checks,
 *            statistics and resets of distinct sets at once.
 *   builds   4 threads building programs in one context at once.
 *
 * Usage: device_threads [seed]   (printed; CARVE_QUICK=1 for fewer operations)
 */
#include "device_support.h"

#include <pthread.h>

/* small enough to fill: allocations are refused, and land in the fallback */
#define REGION_BYTES (192u << 10)
#define FALLBACK_BYTES (128u << 10)
#define REGION_THREADS 8
#define SLOTS 16
#define EXCHANGE_SLOTS 64
#define SET_THREADS 4
#define SET_ITEMS 256u
#define SET_BLOCK 40u
#define BUILD_THREADS 4

static const char *const set_source = DEV_KERNEL_PRELUDE
    "kernel void tagged(global uchar *carved, uint salt)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uchar *kept = carve_malloc(&a, " DEV_XSTR(SET_BLOCK) ");\n"
    "    global uchar *dropped = carve_malloc(&a, 24);\n"
    "    if (kept != 0)\n"
    "        dev_fill(kept, " DEV_XSTR(SET_BLOCK) ", id ^ salt);\n"
    "    carve_free(&a, dropped);\n"
    "    carve_set_root(&a, kept);\n"
    "    carve_arena_close(&a);\n"
    "}\n";

static unsigned operations(unsigned full)
{
    return carve_test_quick() ? full / 8 : full;
}

/* ---- regions --------------------------------------------------------------------------- */

typedef struct block {
    unsigned char *p;
    size_t bytes;
    uint32_t tag;
} block;

/* Blocks on their way from the thread that tagged them to the one that
 * frees them. The mutex orders the tag's bytes before the check. */
typedef struct exchange {
    pthread_mutex_t lock;
    block slots[EXCHANGE_SLOTS];
} exchange;

typedef struct region_run {
    carve_region *region, *fallback;
    exchange exchange;
    int stop_toggling;
    pthread_mutex_t toggle_lock;
} region_run;

typedef struct region_worker {
    region_run *run;
    uint64_t seed;
    uint32_t thread;
    unsigned ops;
    block own[SLOTS];
    /* counted per thread, summed after the join */
    unsigned long damaged, refused, handed_over, freed_foreign, in_fallback,
        bad_calls;
} region_worker;

static void tag(const block *b)
{
    uint32_t i;
    for (i = 0; i < b->bytes; ++i)
        b->p[i] = dev_pattern(b->tag, i);
}

static int intact(const block *b)
{
    return dev_mismatches(b->p, (uint32_t)b->bytes, b->tag) == 0;
}

/* Puts b into a free slot, or swaps it with a waiting block (given back in
 * *b) when all are taken. */
static void exchange_post(exchange *x, block *b, uint64_t pick)
{
    block *slot;
    pthread_mutex_lock(&x->lock);
    slot = &x->slots[pick % EXCHANGE_SLOTS];
    if (slot->p == NULL) {
        *slot = *b;
        b->p = NULL;
    } else {
        block waiting = *slot;
        *slot = *b;
        *b = waiting;
    }
    pthread_mutex_unlock(&x->lock);
}

static block exchange_take(exchange *x, uint64_t pick)
{
    block b;
    pthread_mutex_lock(&x->lock);
    b = x->slots[pick % EXCHANGE_SLOTS];
    x->slots[pick % EXCHANGE_SLOTS].p = NULL;
    pthread_mutex_unlock(&x->lock);
    return b;
}

static void *allocate(carve_region *region, carve_test_rng *rng, size_t bytes)
{
    switch (carve_test_below(rng, 3)) {
    case 0: return carve_zc_malloc(region, bytes);
    case 1: return carve_zc_calloc(region, 1, bytes);
    default: return carve_zc_memalign(region, 256, bytes);
    }
}

/* Frees a block another thread allocated and tagged: any region, since
 * the fallback may have been unlinked since. */
static void free_foreign(region_worker *w, block b)
{
    if (b.p == NULL)
        return;
    w->damaged += !intact(&b);
    w->bad_calls += carve_zc_free(NULL, b.p) != CARVE_SUCCESS;
    w->freed_foreign++;
}

static void hand_over(region_worker *w, const block *b)
{
    w->bad_calls += carve_zc_to_device(b->p, 0) != CARVE_SUCCESS;
    w->bad_calls += carve_zc_to_host(b->p, 0, 0, NULL) != CARVE_SUCCESS;
    w->damaged += !intact(b);
    w->handed_over++;
}

static void look(region_worker *w, const block *b)
{
    carve_region_info info;
    carve_region *home = carve_zc_region_of(b->p);
    w->bad_calls += home != w->run->region && home != w->run->fallback;
    w->in_fallback += home == w->run->fallback;
    if (carve_region_get_info(w->run->region, &info) != CARVE_SUCCESS)
        w->bad_calls++;
    else
        w->bad_calls += info.in_use > info.bytes || info.peak_in_use < info.in_use;
}

static void step(region_worker *w, carve_test_rng *rng, uint32_t *next_tag)
{
    block *b = &w->own[carve_test_below(rng, SLOTS)];
    size_t bytes = 1 + (size_t)carve_test_below(rng, 4000);
    uint64_t pick = carve_test_next(rng);
    if (b->p == NULL) {
        b->p = allocate(w->run->region, rng, bytes);
        if (b->p == NULL) {
            w->refused++;
            w->bad_calls += carve_zc_last_status() != CARVE_ERROR_TIER_FULL;
            free_foreign(w, exchange_take(&w->run->exchange, pick));
            return;
        }
        b->bytes = bytes;
        b->tag = ++*next_tag;
        tag(b);
        return;
    }
    w->damaged += !intact(b);
    switch (carve_test_below(rng, 5)) {
    case 0: { /* grow or shrink, possibly into another region of the chain */
        unsigned char *moved =
            carve_zc_realloc(carve_zc_region_of(b->p), b->p, bytes);
        if (moved == NULL) {
            w->refused++;
            w->bad_calls += carve_zc_last_status() != CARVE_ERROR_TIER_FULL;
            return;
        }
        b->p = moved;
        b->bytes = bytes < b->bytes ? bytes : b->bytes;
        w->damaged += !intact(b);
        return;
    }
    case 1:
        exchange_post(&w->run->exchange, b, pick);
        free_foreign(w, *b); /* a block some other thread posted, if any */
        b->p = NULL;
        return;
    case 2:
        free_foreign(w, exchange_take(&w->run->exchange, pick));
        return;
    case 3:
        hand_over(w, b);
        return;
    default:
        look(w, b);
        return;
    }
}

static void *region_work(void *arg)
{
    region_worker *w = arg;
    carve_test_rng rng = {w->seed};
    uint32_t next_tag = w->thread << 24;
    unsigned op;
    for (op = 0; op < w->ops; ++op)
        step(w, &rng, &next_tag);
    return NULL;
}

/* Links and unlinks the fallback until the workers are done. */
static void *toggle_fallback(void *arg)
{
    region_run *run = arg;
    unsigned long turns = 0;
    for (;;) {
        int stop;
        pthread_mutex_lock(&run->toggle_lock);
        stop = run->stop_toggling;
        pthread_mutex_unlock(&run->toggle_lock);
        if (stop)
            break;
        REQUIRE_OK(carve_region_set_fallback(run->region,
                                             turns++ % 2 ? NULL : run->fallback));
    }
    REQUIRE_OK(carve_region_set_fallback(run->region, NULL));
    return NULL;
}

static carve_region *make_region(const carve_test_cl *cl, carve_backend backend,
                                 uint64_t bytes)
{
    carve_region_params p;
    carve_region *region = NULL;
    memset(&p, 0, sizeof p);
    p.backend = backend;
    p.bytes = bytes;
    REQUIRE_OK(carve_region_create(cl->context, cl->device, &p, &region));
    return region;
}

static void expect_empty(carve_region *region, const char *label)
{
    carve_region_info info;
    const char *message = NULL;
    REQUIRE_OK(carve_region_get_info(region, &info));
    EXPECT(info.in_use == 0 && info.live_allocations == 0);
    EXPECT_STATUS(carve_region_check(region, &message), CARVE_SUCCESS);
    if (message != NULL)
        fprintf(stderr, "  %s: %s\n", label, message);
}

static void test_region_threads(const carve_test_cl *cl, carve_backend backend,
                                uint64_t seed)
{
    static region_worker workers[REGION_THREADS];
    static region_run run;
    pthread_t threads[REGION_THREADS], toggler;
    unsigned long damaged = 0, refused = 0, handed = 0, foreign = 0, bad = 0,
                  fallback = 0;
    int t, j;
    memset(&run, 0, sizeof run);
    pthread_mutex_init(&run.exchange.lock, NULL);
    pthread_mutex_init(&run.toggle_lock, NULL);
    run.region = make_region(cl, backend, REGION_BYTES);
    run.fallback = make_region(cl, backend, FALLBACK_BYTES);
    for (t = 0; t < REGION_THREADS; ++t) {
        memset(&workers[t], 0, sizeof workers[t]);
        workers[t].run = &run;
        workers[t].seed = seed + (uint64_t)t * 0x9e3779b97f4a7c15ull;
        workers[t].thread = (uint32_t)t + 1;
        workers[t].ops = operations(4000);
    }
    if (pthread_create(&toggler, NULL, toggle_fallback, &run) != 0)
        exit(1);
    for (t = 0; t < REGION_THREADS; ++t)
        if (pthread_create(&threads[t], NULL, region_work, &workers[t]) != 0)
            exit(1);
    for (t = 0; t < REGION_THREADS; ++t)
        pthread_join(threads[t], NULL);
    pthread_mutex_lock(&run.toggle_lock);
    run.stop_toggling = 1;
    pthread_mutex_unlock(&run.toggle_lock);
    pthread_join(toggler, NULL);

    for (t = 0; t < REGION_THREADS; ++t) {
        region_worker *w = &workers[t];
        for (j = 0; j < SLOTS; ++j) {
            free_foreign(w, w->own[j]);
            w->own[j].p = NULL;
        }
        if (t == 0)
            for (j = 0; j < EXCHANGE_SLOTS; ++j)
                free_foreign(w, exchange_take(&run.exchange, (uint64_t)j));
        damaged += w->damaged;
        refused += w->refused;
        handed += w->handed_over;
        foreign += w->freed_foreign;
        fallback += w->in_fallback;
        bad += w->bad_calls;
    }
    printf("  %s: %d threads x %u operations: %lu blocks freed by another "
           "thread, %lu hand-overs, %lu refused for room, %lu seen in the "
           "fallback\n",
           carve_backend_name(backend), REGION_THREADS, workers[0].ops,
           foreign, handed, refused, fallback);
    EXPECT(damaged == 0);
    EXPECT(bad == 0);
    /* How many blocks are seen in the fallback depends on when the toggler
     * runs (0 happens): printed, not required. */
    EXPECT(foreign > 0 && handed > 0 && refused > 0);
    expect_empty(run.region, carve_backend_name(backend));
    expect_empty(run.fallback, carve_backend_name(backend));
    carve_region_release(run.region);
    carve_region_release(run.fallback);
    pthread_mutex_destroy(&run.exchange.lock);
    pthread_mutex_destroy(&run.toggle_lock);
}

/* ---- sets ------------------------------------------------------------------------------ */

typedef struct set_worker {
    const carve_test_cl *cl;
    uint32_t thread;
    unsigned launches;
    unsigned long damaged, bad_calls;
} set_worker;

static unsigned long count_damaged(const carve_set *set, uint32_t salt)
{
    unsigned long damaged = 0;
    uint32_t i;
    for (i = 0; i < SET_ITEMS; ++i) {
        carve_arena_stats stats;
        const unsigned char *kept;
        if (carve_layout_arena_stats(carve_test_image(set), i, &stats) !=
            CARVE_SUCCESS)
            return SET_ITEMS;
        kept =
            carve_layout_block(carve_test_image(set), i, stats.root, SET_BLOCK);
        damaged += kept == NULL || dev_mismatches(kept, SET_BLOCK, i ^ salt) != 0;
    }
    return damaged;
}

static void *set_work(void *arg)
{
    set_worker *w = arg;
    const size_t items = SET_ITEMS;
    carve_plan plan = dev_plan(w->cl, 1, &items, 256);
    cl_command_queue queue;
    cl_program program = NULL;
    cl_kernel kernel;
    carve_set *set = NULL;
    cl_int err;
    unsigned launch;
    queue = clCreateCommandQueue(w->cl->context, w->cl->device, 0, &err);
    REQUIRE_OK(err);
    REQUIRE_OK(carve_set_create(w->cl->context, w->cl->device, queue, &plan, 0,
                                &set));
    kernel = carve_test_kernel(w->cl, set_source, "tagged", &program);
    for (launch = 0; launch < w->launches; ++launch) {
        uint32_t salt = w->thread << 16 | launch;
        carve_summary summary;
        uint32_t bad_index = 0, broken = 0;
        REQUIRE_OK(clSetKernelArg(kernel, 1, sizeof salt, &salt));
        w->bad_calls += carve_set_run(set, kernel, 0, 1, &items, NULL) !=
                        CARVE_SUCCESS;
        w->bad_calls += carve_layout_check(carve_test_image(set), &bad_index,
                                           &broken) != CARVE_SUCCESS;
        if (carve_layout_summary(carve_test_image(set), &summary) !=
            CARVE_SUCCESS)
            w->bad_calls++;
        else
            w->bad_calls += summary.arenas_closed != SET_ITEMS ||
                            summary.failed_count != 0;
        w->damaged += count_damaged(set, salt);
        w->bad_calls += carve_set_reset(set) != CARVE_SUCCESS;
    }
    carve_set_release(set);
    clReleaseKernel(kernel);
    clReleaseProgram(program);
    clReleaseCommandQueue(queue);
    return NULL;
}

static void test_set_threads(const carve_test_cl *cl)
{
    set_worker workers[SET_THREADS];
    pthread_t threads[SET_THREADS];
    unsigned long damaged = 0, bad = 0;
    int t;
    for (t = 0; t < SET_THREADS; ++t) {
        memset(&workers[t], 0, sizeof workers[t]);
        workers[t].cl = cl;
        workers[t].thread = (uint32_t)t + 1;
        workers[t].launches = operations(40);
        if (pthread_create(&threads[t], NULL, set_work, &workers[t]) != 0)
            exit(1);
    }
    for (t = 0; t < SET_THREADS; ++t) {
        pthread_join(threads[t], NULL);
        damaged += workers[t].damaged;
        bad += workers[t].bad_calls;
    }
    printf("  sets: %d threads x %u launches of %u work-items\n", SET_THREADS,
           workers[0].launches, SET_ITEMS);
    EXPECT(damaged == 0);
    EXPECT(bad == 0);
}

/* ---- builds ---------------------------------------------------------------------------- */

typedef struct build_worker {
    const carve_test_cl *cl;
    uint32_t thread;
    carve_status status;
} build_worker;

static void *build_work(void *arg)
{
    build_worker *w = arg;
    char options[64];
    cl_program program = NULL;
    char *log = NULL;
    /* options of its own, so that no build is a cache hit of another */
    snprintf(options, sizeof options, "-DCARVE_TEST_THREAD=%u",
             (unsigned)w->thread);
    w->status = carve_program_build(w->cl->context, w->cl->device, set_source,
                                    options, &program, &log);
    if (w->status != CARVE_SUCCESS)
        fprintf(stderr, "  build %u: %s\n%s\n", (unsigned)w->thread,
                carve_status_string(w->status), log ? log : "(no log)");
    free(log);
    if (program != NULL)
        clReleaseProgram(program);
    return NULL;
}

static void test_build_threads(const carve_test_cl *cl)
{
    build_worker workers[BUILD_THREADS];
    pthread_t threads[BUILD_THREADS];
    int t;
    for (t = 0; t < BUILD_THREADS; ++t) {
        workers[t].cl = cl;
        workers[t].thread = (uint32_t)t + 1;
        workers[t].status = CARVE_ERROR_INVALID_ARGUMENT;
        if (pthread_create(&threads[t], NULL, build_work, &workers[t]) != 0)
            exit(1);
    }
    for (t = 0; t < BUILD_THREADS; ++t) {
        pthread_join(threads[t], NULL);
        EXPECT_STATUS(workers[t].status, CARVE_SUCCESS);
    }
    printf("  builds: %d programs built in one context at once\n",
           BUILD_THREADS);
}

int main(int argc, char **argv)
{
    static const carve_backend backends[] = {
        CARVE_BACKEND_HOST_MEMORY, CARVE_BACKEND_ALLOC_HOST_PTR,
        CARVE_BACKEND_SVM_COARSE, CARVE_BACKEND_SVM_FINE};
    uint64_t seed = carve_test_seed(argc, argv, (uint64_t)time(NULL));
    carve_test_cl cl = carve_test_open_cl();
    size_t b;
    printf("device_threads: seed %" PRIu64 "\n", seed);
    for (b = 0; b < sizeof backends / sizeof backends[0]; ++b)
        if (carve_backend_supported(cl.device, backends[b]))
            test_region_threads(&cl, backends[b], seed + b);
    test_set_threads(&cl);
    test_build_threads(&cl);
    carve_test_close_cl(&cl);
    return carve_test_finish("device_threads");
}
