/*
 * alloc.c - carve's per-work-item allocator (carve_malloc / carve_free in
 * kernels) against baselines measured in the same run.
 *
 * Sections (workload.h defines the pattern every variant runs):
 *   pairs        N work-items x k alloc/free pairs, one size per row
 *   mixed        the same with mixed sizes in [16, 4096] bytes
 *   scaling      64-byte pairs from 2^10 to 2^20 work-items
 *   utilisation  each work-item fills its arena until carve_malloc fails
 *   varlen       variable-length output per work-item: carve_malloc and
 *                carve_realloc against count kernel + prefix sum + write
 *                kernel, and against a slot of the longest output's size
 *                per work-item (what a program without an allocator does
 *                when it can afford the memory)
 *   contention   every work-item allocating at once from one shared place
 * Variants of the alloc/free sections:
 *   bump floor   a private bump pointer per work-item that never frees (a
 *                round's frees are one reset of the pointer): the cheapest
 *                allocator there is, and the baseline of the ratios
 *   carve        carve_malloc / carve_free in per-work-item arenas; a run
 *                includes carve_set_reset and carve_set_run's hand-overs
 *   atomic bump  one global counter, atomic_add per allocation, no free
 *   glibc / mimalloc  the same work-items on one host thread per core
 *   carve core (host) carve's allocator core built for the host, on the
 *                same threads: the algorithm without the OpenCL compiler
 * Every run is verified: each work-item's sum of the values it stored and
 * read back, carve's statistics and invariant check, the atomic counter.
 */
#include "bench.h"
#include "device_support.h"
#include "host_alloc.h"
#include "workload.h"

#define BENCH_FN static inline
typedef uint32_t bench_u32;
BENCH_WORKLOAD(BENCH_WORKLOAD_EXPAND)

#define VARIANT_BUMP 1u
#define VARIANT_CARVE 2u
#define VARIANT_ATOMIC 4u
#define VARIANT_GLIBC 8u
#define VARIANT_MIMALLOC 16u
#define VARIANT_CARVE_HOST 32u
#define VARIANT_HEAP 64u /* carve, every request sent to the shared heap */
#define VARIANT_CHECKS 128u /* carve with redzones (CARVE_PLAN_CHECKS) */
#define VARIANTS_ALL 63u

/* The atomic bump's pool wraps around at this size (or the launch's total,
 * if smaller): the cost measured is the counter, not the memory. */
#define ATOMIC_POOL_MAX (64u << 20)
/* Enough room for the largest cap a varlen work-item grows its block to. */
#define VARLEN_ARENA_BYTES ((1u + 512u) * 4u)
/* The fitted plan's arenas hold a block of up to 256 words, enough for
 * all but the longest outputs (the lengths run to 384); those move to the
 * heap. */
#define VARLEN_FITTED_CAP 256u
#define VARLEN_FITTED_ARENA_BYTES ((1u + VARLEN_FITTED_CAP) * 4u)
#define FILL_ARENA_BYTES (64u << 10)

/* One program per allocator, from one source: -DUSE_CARVE, -DUSE_BUMP or
 * -DUSE_ATOMIC picks what ALLOCATE and RELEASE mean in the pairs kernel. */
static const char *const kernel_source =
    BENCH_WORKLOAD_SOURCE
    "#include \"carve.clh\"\n"
    "static inline global uint *bump(global uchar *mine, uint *top, uint n,\n"
    "                                uint limit)\n"
    "{\n"
    "    uint at = *top, end = at + ((n + 15u) & ~15u);\n"
    "    if (end > limit)\n"
    "        return 0;\n"
    "    *top = end;\n"
    "    return (global uint *)(mine + at);\n"
    "}\n"
    "#if defined(USE_CARVE)\n"
    "#define ALLOCATOR_OPEN carve_arena a = carve_arena_open(memory, id)\n"
    "#define ROUND_START\n"
    "#define ALLOCATE(n) ((global uint *)carve_malloc(&a, (n)))\n"
    "#define RELEASE(p) carve_free(&a, (p))\n"
    "#define ALLOCATOR_CLOSE carve_arena_close(&a)\n"
    "#elif defined(USE_BUMP)\n"
    "#define ALLOCATOR_OPEN \\\n"
    "    global uchar *mine = memory + (ulong)id * span; uint top = 0u\n"
    "#define ROUND_START top = 0u\n"
    "#define ALLOCATE(n) bump(mine, &top, (n), span)\n"
    "#define RELEASE(p)\n"
    "#define ALLOCATOR_CLOSE\n"
    "#elif defined(USE_ATOMIC)\n"
    "#define ALLOCATOR_OPEN\n"
    "#define ROUND_START\n"
    "#define ALLOCATE(n) ((global uint *)(memory + \\\n"
    "    (atomic_add(counter, ((n) + 15u) & ~15u) & span)))\n"
    "#define RELEASE(p)\n"
    "#define ALLOCATOR_CLOSE\n"
    "#endif\n"
    "/* span: the bump floor's bytes per work-item; the atomic pool's mask. */\n"
    "kernel void pairs(global uchar *memory, volatile global uint *counter,\n"
    "                  global uint *sums, uint rounds, uint fixed_size,\n"
    "                  uint span)\n"
    "{\n"
    "    uint id = (uint)get_global_id(0), n = 0u, sum = 0u;\n"
    "    global uint *live[BENCH_BATCH];\n"
    "    ALLOCATOR_OPEN;\n"
    "    for (uint r = 0u; r < rounds; ++r) {\n"
    "        ROUND_START;\n"
    "        for (uint b = 0u; b < BENCH_BATCH; ++b, ++n) {\n"
    "            global uint *p = ALLOCATE(bench_size(id, n, fixed_size));\n"
    "            if (p != 0)\n"
    "                p[0] = bench_tag(id, n);\n"
    "            live[b] = p;\n"
    "        }\n"
    "        for (uint b = 0u; b < BENCH_BATCH; ++b) {\n"
    "            global uint *p = live[bench_slot(r, b)];\n"
    "            if (p != 0) {\n"
    "                sum += p[0];\n"
    "                RELEASE(p);\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "    sums[id] = sum;\n"
    "    ALLOCATOR_CLOSE;\n"
    "}\n"
    "#if defined(USE_CARVE)\n"
    "kernel void fill(global uchar *memory, global uint *counts, uint size)\n"
    "{\n"
    "    uint id = (uint)get_global_id(0), n = 0u;\n"
    "    carve_arena a = carve_arena_open(memory, id);\n"
    "    global uint *p;\n"
    "    while ((p = carve_malloc(&a, size)) != 0)\n"
    "        p[0] = n++;\n"
    "    counts[id] = n;\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    "/* Output of unknown length: a block that doubles by carve_realloc. */\n"
    "kernel void varlen_carve(global uchar *memory)\n"
    "{\n"
    "    uint id = (uint)get_global_id(0), cap = 16u, n = 0u;\n"
    "    uint v = bench_varlen_start(id);\n"
    "    carve_arena a = carve_arena_open(memory, id);\n"
    "    global uint *out = carve_malloc(&a, (1u + cap) * 4u);\n"
    "    while (out != 0 && v != 1u && n < BENCH_VARLEN_MAX) {\n"
    "        if (n == cap) {\n"
    "            global uint *grown = carve_realloc(&a, out,\n"
    "                                               (1u + 2u * cap) * 4u);\n"
    "            if (grown == 0)\n"
    "                break;\n"
    "            out = grown;\n"
    "            cap *= 2u;\n"
    "        }\n"
    "        out[1u + n++] = v;\n"
    "        v = bench_varlen_next(v);\n"
    "    }\n"
    "    if (out != 0)\n"
    "        out[0] = n;\n"
    "    carve_set_root(&a, out);\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    "/* The hand-indexed alternative: a slot of the longest output's size\n"
    " * for every work-item, its length in the first word. */\n"
    "kernel void varlen_fixed(global uint *slots)\n"
    "{\n"
    "    uint id = (uint)get_global_id(0), n = 0u;\n"
    "    uint v = bench_varlen_start(id);\n"
    "    global uint *mine = slots + (size_t)id * (1u + BENCH_VARLEN_MAX);\n"
    "    while (v != 1u && n < BENCH_VARLEN_MAX) {\n"
    "        mine[1u + n++] = v;\n"
    "        v = bench_varlen_next(v);\n"
    "    }\n"
    "    mine[0] = n;\n"
    "}\n"
    "kernel void varlen_count(global uint *counts)\n"
    "{\n"
    "    uint id = (uint)get_global_id(0), n = 0u;\n"
    "    uint v = bench_varlen_start(id);\n"
    "    while (v != 1u && n < BENCH_VARLEN_MAX) {\n"
    "        ++n;\n"
    "        v = bench_varlen_next(v);\n"
    "    }\n"
    "    counts[id] = n;\n"
    "}\n"
    "kernel void varlen_write(global const uint *offsets, global uint *out)\n"
    "{\n"
    "    uint id = (uint)get_global_id(0), n = 0u;\n"
    "    uint v = bench_varlen_start(id);\n"
    "    global uint *mine = out + offsets[id];\n"
    "    while (v != 1u && n < BENCH_VARLEN_MAX) {\n"
    "        mine[n++] = v;\n"
    "        v = bench_varlen_next(v);\n"
    "    }\n"
    "}\n"
    "#endif\n";

typedef struct bench_device {
    carve_test_cl cl;
    cl_program carve, bump, atomic; /* the three builds of kernel_source */
    unsigned threads;               /* host baselines */
    char glibc_name[48], mimalloc_name[48], carve_host_name[48];
} bench_device;

/* ---- helpers ------------------------------------------------------------------ */

static uint32_t round16(uint32_t n)
{
    return (n + 15u) & ~15u;
}

/* Says why `what` failed; the value a bench_run_fn returns then. */
static double fail_with(const char *what, cl_int err)
{
    fprintf(stderr, "%s: %s\n", what, carve_status_string(err));
    return -1.0;
}

/* The same for a check: says why, and the check does not hold. */
static int check_failed(const char *what, cl_int err)
{
    fail_with(what, err);
    return 0;
}

static cl_mem new_buffer(const bench_device *d, cl_mem_flags flags,
                         size_t bytes)
{
    cl_int err;
    cl_mem mem = clCreateBuffer(d->cl.context, flags, bytes, NULL, &err);
    if (err != CL_SUCCESS)
        bench_fail("clCreateBuffer of %zu bytes: %s", bytes,
                   carve_status_string(err));
    return mem;
}

static cl_kernel new_kernel(cl_program program, const char *name)
{
    cl_int err;
    cl_kernel kernel = clCreateKernel(program, name, &err);
    if (err != CL_SUCCESS)
        bench_fail("clCreateKernel(%s): %s", name, carve_status_string(err));
    return kernel;
}

static void set_arg(cl_kernel kernel, cl_uint index, size_t size,
                    const void *value)
{
    cl_int err = clSetKernelArg(kernel, index, size, value);
    if (err != CL_SUCCESS)
        bench_fail("clSetKernelArg(%u): %s", (unsigned)index,
                   carve_status_string(err));
}

/* A set of `items` arenas of `arena_bytes`; with heap_bytes, a shared heap
 * that takes every request of large_bytes or more (with 1, every request:
 * the arenas stay empty). */
static carve_set *new_set_planned(const bench_device *d, uint32_t items,
                                  uint32_t arena_bytes, uint64_t heap_bytes,
                                  uint32_t large_bytes, uint32_t options)
{
    carve_plan_params params;
    carve_plan plan;
    carve_set *set = NULL;
    carve_status status;
    memset(&params, 0, sizeof params);
    params.work_dim = 1;
    params.global_size[0] = items;
    params.arena_bytes = arena_bytes;
    params.heap_bytes = heap_bytes;
    params.large_request_bytes = large_bytes;
    params.options = options;
    status = carve_plan_compute(&params, &d->cl.limits, &plan);
    if (status != CARVE_SUCCESS)
        bench_fail("carve_plan_compute: %s", plan.message);
    status = carve_set_create(d->cl.context, d->cl.device, d->cl.queue, &plan,
                              0, &set);
    if (status != CARVE_SUCCESS)
        bench_fail("carve_set_create (%.1f MiB): %s",
                   (double)plan.total_bytes / 1048576.0,
                   carve_status_string(status));
    return set;
}

static carve_set *new_set(const bench_device *d, uint32_t items,
                          uint32_t arena_bytes)
{
    return new_set_planned(d, items, arena_bytes, 0, 0, 0);
}

/* Launches over `items` work-items: through the set (reset, hand-over,
 * launch, hand-back) or plainly, and waits for the end. */
static cl_int launch(const bench_device *d, cl_kernel kernel, carve_set *set,
                     uint32_t items)
{
    size_t global = items;
    cl_int err;
    if (set != NULL) {
        err = carve_set_reset(set);
        return err != CARVE_SUCCESS
                   ? err
                   : carve_set_run(set, kernel, 0, 1, &global, NULL);
    }
    err = clEnqueueNDRangeKernel(d->cl.queue, kernel, 1, NULL, &global, NULL,
                                 0, NULL, NULL);
    return err != CL_SUCCESS ? err : clFinish(d->cl.queue);
}

/* launch, timed; a negative value after saying why it failed. */
static double timed_launch(const bench_device *d, cl_kernel kernel,
                           carve_set *set, uint32_t items, const char *what)
{
    double start = bench_now(), seconds;
    cl_int err = launch(d, kernel, set, items);
    seconds = bench_now() - start;
    return err == CL_SUCCESS ? seconds : fail_with(what, err);
}

/* Every arena of the set passed the allocator's invariant check, with no
 * misuse, corruption or refused open, and every work-item closed its arena.
 * Fills *sum for the caller's own expectations. */
static int set_ok(const carve_set *set, carve_summary *sum)
{
    uint32_t bad = 0, broken = 0;
    carve_status status =
        carve_layout_check(carve_test_image(set), &bad, &broken);
    if (status != CARVE_SUCCESS) {
        fprintf(stderr, "carve_layout_check: %s (arena %u, invariant %u)\n",
                carve_status_string(status), (unsigned)bad, (unsigned)broken);
        return 0;
    }
    if ((status = carve_layout_summary(carve_test_image(set), sum)) !=
        CARVE_SUCCESS)
        return check_failed("carve_layout_summary", status);
    if (sum->misuse_count != 0 || sum->arenas_corrupt != 0 ||
        sum->open_failures != 0 || sum->arenas_closed != sum->arena_count) {
        fprintf(stderr, "carve summary: %llu misuses, %u corrupt arenas, %u "
                        "refused opens, %u arenas closed of %u\n",
                (unsigned long long)sum->misuse_count,
                (unsigned)sum->arenas_corrupt, (unsigned)sum->open_failures,
                (unsigned)sum->arenas_closed, (unsigned)sum->arena_count);
        return 0;
    }
    return 1;
}

/* set_ok, and the set's allocation and free totals are as expected. */
static int set_counts_ok(const carve_set *set, uint64_t allocs, uint64_t frees,
                         const char *what)
{
    carve_summary sum;
    if (!set_ok(set, &sum))
        return 0;
    if (sum.alloc_count != allocs || sum.free_count != frees) {
        fprintf(stderr, "%s: %llu allocations and %llu frees, expected %llu "
                        "and %llu\n",
                what, (unsigned long long)sum.alloc_count,
                (unsigned long long)sum.free_count,
                (unsigned long long)allocs, (unsigned long long)frees);
        return 0;
    }
    return 1;
}

/* set_ok for a set whose work went to the heap: every request was served
 * there, every block came back, and the heap's pages and hints check. */
static int heap_counts_ok(const carve_set *set, uint64_t pairs)
{
    carve_summary sum;
    if (!set_ok(set, &sum))
        return 0;
    if (sum.heap_allocs != pairs || sum.heap_frees != pairs ||
        sum.heap_live_blocks != 0 || sum.failed_count != 0) {
        fprintf(stderr, "shared heap: %llu allocations, %llu frees, %llu "
                        "live, %llu failed; expected %llu, %llu, 0, 0\n",
                (unsigned long long)sum.heap_allocs,
                (unsigned long long)sum.heap_frees,
                (unsigned long long)sum.heap_live_blocks,
                (unsigned long long)sum.failed_count,
                (unsigned long long)pairs, (unsigned long long)pairs);
        return 0;
    }
    return 1;
}

/* ---- the alloc/free workload ------------------------------------------------------ */

typedef struct pairs_job {
    uint32_t items, rounds, fixed_size;
    uint32_t arena_bytes;   /* per work-item: a batch of the largest size */
    uint32_t *expected;     /* per work-item: the sum of its tags */
    uint32_t rounded_total; /* all sizes rounded to 16, summed, mod 2^32 */
    uint64_t rounded_bytes; /* the same sum, exact */
} pairs_job;

static pairs_job pairs_job_make(uint32_t items, uint32_t rounds,
                                uint32_t fixed_size)
{
    pairs_job job;
    uint32_t id, n, k = rounds * BENCH_BATCH;
    job.items = items;
    job.rounds = rounds;
    job.fixed_size = fixed_size;
    job.arena_bytes =
        BENCH_BATCH * round16(fixed_size ? fixed_size : BENCH_MIXED_MAX);
    job.expected = dev_xmalloc((size_t)items * sizeof *job.expected);
    job.rounded_bytes = 0;
    for (id = 0; id < items; ++id) {
        uint32_t sum = 0;
        for (n = 0; n < k; ++n) {
            sum += bench_tag(id, n);
            job.rounded_bytes += round16(bench_size(id, n, fixed_size));
        }
        job.expected[id] = sum;
    }
    job.rounded_total = (uint32_t)job.rounded_bytes;
    return job;
}

static int sums_ok(const pairs_job *job, const uint32_t *sums,
                   const char *variant)
{
    uint32_t id;
    for (id = 0; id < job->items; ++id) {
        if (sums[id] != job->expected[id]) {
            fprintf(stderr, "%s: work-item %u summed %u, expected %u\n",
                    variant, (unsigned)id, (unsigned)sums[id],
                    (unsigned)job->expected[id]);
            return 0;
        }
    }
    return 1;
}

typedef struct device_pairs {
    const bench_device *dev;
    const pairs_job *job;
    unsigned variant;
    cl_kernel kernel;
    cl_mem memory, counter, sums;
    carve_set *set;
    uint32_t span;
    uint32_t *sums_host;
} device_pairs;

static int device_pairs_ok(device_pairs *p)
{
    const pairs_job *job = p->job;
    uint64_t pairs = (uint64_t)job->items * job->rounds * BENCH_BATCH;
    cl_int err = clEnqueueReadBuffer(p->dev->cl.queue, p->sums, CL_TRUE, 0,
                                     (size_t)job->items * sizeof(uint32_t),
                                     p->sums_host, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return check_failed("reading the sums", err);
    if (p->variant == VARIANT_CARVE || p->variant == VARIANT_CHECKS)
        return set_counts_ok(p->set, pairs, pairs, "carve pairs") &&
               sums_ok(job, p->sums_host, "carve");
    if (p->variant == VARIANT_HEAP)
        return heap_counts_ok(p->set, pairs) &&
               sums_ok(job, p->sums_host, "shared heap");
    if (p->variant == VARIANT_ATOMIC) {
        uint32_t counter = 0;
        err = clEnqueueReadBuffer(p->dev->cl.queue, p->counter, CL_TRUE, 0,
                                  sizeof counter, &counter, 0, NULL, NULL);
        if (err != CL_SUCCESS)
            return check_failed("reading the counter", err);
        if (counter != job->rounded_total) {
            fprintf(stderr, "atomic bump: counter %u, expected %u\n",
                    (unsigned)counter, (unsigned)job->rounded_total);
            return 0;
        }
        /* Once the pool wraps, two work-items may share bytes: only the
         * counter is exact then. */
        return job->rounded_bytes > (uint64_t)p->span + 1u ||
               sums_ok(job, p->sums_host, "atomic bump");
    }
    return sums_ok(job, p->sums_host, "bump floor");
}

static double run_device_pairs(void *context)
{
    device_pairs *p = context;
    const uint32_t zero = 0;
    double seconds;
    cl_int err = CL_SUCCESS;
    if (p->variant == VARIANT_ATOMIC)
        err = clEnqueueWriteBuffer(p->dev->cl.queue, p->counter, CL_TRUE, 0,
                                   sizeof zero, &zero, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return fail_with("clearing the counter", err);
    seconds = timed_launch(p->dev, p->kernel, p->set, p->job->items, "pairs");
    return seconds >= 0.0 && device_pairs_ok(p) ? seconds : -1.0;
}

static uint32_t atomic_pool_bytes(const pairs_job *job)
{
    uint32_t bytes = 1u << 16;
    while (bytes < ATOMIC_POOL_MAX && bytes < job->rounded_bytes)
        bytes <<= 1;
    return bytes;
}

static void device_pairs_open(device_pairs *out, const bench_device *d,
                              const pairs_job *job, unsigned variant)
{
    device_pairs p;
    cl_program program = variant == VARIANT_CARVE ||
                                 variant == VARIANT_HEAP ||
                                 variant == VARIANT_CHECKS
                             ? d->carve
                         : variant == VARIANT_BUMP ? d->bump
                                                   : d->atomic;
    memset(&p, 0, sizeof p);
    p.dev = d;
    p.job = job;
    p.variant = variant;
    p.kernel = new_kernel(program, "pairs");
    p.sums = new_buffer(d, CL_MEM_READ_WRITE, (size_t)job->items * 4u);
    p.counter = new_buffer(d, CL_MEM_READ_WRITE, sizeof(uint32_t));
    p.sums_host = dev_xmalloc((size_t)job->items * 4u);
    if (variant == VARIANT_CARVE) {
        p.set = new_set(d, job->items, job->arena_bytes);
        p.span = 0;
    } else if (variant == VARIANT_CHECKS) {
        /* Each block grows by its 16-byte redzone. */
        p.set = new_set_planned(d, job->items,
                                job->arena_bytes + BENCH_BATCH * 16u, 0, 0,
                                CARVE_PLAN_CHECKS);
        p.span = 0;
    } else if (variant == VARIANT_HEAP) {
        /* Room for every work-item's batch at once, with slack for slot
         * rounding and the pages each class claims. */
        p.set = new_set_planned(d, job->items, 16,
                                2ull * job->items * job->arena_bytes +
                                    (4ull << 20),
                                1, 0); /* every request to the heap */
        p.span = 0;
    } else if (variant == VARIANT_BUMP) {
        p.span = job->arena_bytes;
        p.memory = new_buffer(d, CL_MEM_READ_WRITE,
                              (size_t)job->items * job->arena_bytes);
    } else {
        uint32_t pool = atomic_pool_bytes(job);
        p.span = pool - 1u; /* a mask; the slack holds the last block */
        p.memory = new_buffer(d, CL_MEM_READ_WRITE, pool + BENCH_MIXED_MAX);
    }
    if (p.memory != NULL)
        set_arg(p.kernel, 0, sizeof p.memory, &p.memory);
    set_arg(p.kernel, 1, sizeof p.counter, &p.counter);
    set_arg(p.kernel, 2, sizeof p.sums, &p.sums);
    set_arg(p.kernel, 3, sizeof job->rounds, &job->rounds);
    set_arg(p.kernel, 4, sizeof job->fixed_size, &job->fixed_size);
    set_arg(p.kernel, 5, sizeof p.span, &p.span);
    *out = p;
}

static void device_pairs_close(device_pairs *p)
{
    carve_set_release(p->set);
    if (p->memory != NULL)
        clReleaseMemObject(p->memory);
    clReleaseMemObject(p->counter);
    clReleaseMemObject(p->sums);
    clReleaseKernel(p->kernel);
    free(p->sums_host);
}

typedef struct host_pairs {
    host_pairs_job run;
    const pairs_job *job;
} host_pairs;

/* The host-built carve core: its image passes the same checks as a set. */
static int host_image_ok(const host_pairs *h)
{
    carve_summary sum;
    uint32_t bad = 0, broken = 0;
    uint64_t pairs = (uint64_t)h->job->items * h->job->rounds * BENCH_BATCH;
    carve_status status = carve_layout_check(h->run.carve_image, &bad, &broken);
    if (status == CARVE_SUCCESS)
        status = carve_layout_summary(h->run.carve_image, &sum);
    if (status != CARVE_SUCCESS || sum.alloc_count != pairs ||
        sum.free_count != pairs || sum.misuse_count != 0) {
        fprintf(stderr, "carve core on the host: %s (arena %u, invariant "
                        "%u), or counts differ\n",
                carve_status_string(status), (unsigned)bad, (unsigned)broken);
        return 0;
    }
    return 1;
}

static double run_host_pairs(void *context)
{
    host_pairs *h = context;
    static const char *const names[] = {"glibc", "mimalloc", "carve core"};
    double seconds = host_pairs_run(&h->run);
    if (seconds < 0.0 || !sums_ok(h->job, h->run.sums, names[h->run.allocator]))
        return -1.0;
    if (h->run.allocator == HOST_CARVE && !host_image_ok(h))
        return -1.0;
    return seconds;
}

static void host_pairs_open(host_pairs *out, const pairs_job *job,
                            host_allocator allocator)
{
    host_pairs h;
    memset(&h, 0, sizeof h);
    h.job = job;
    h.run.allocator = allocator;
    h.run.items = job->items;
    h.run.rounds = job->rounds;
    h.run.fixed_size = job->fixed_size;
    h.run.sums = dev_xmalloc((size_t)job->items * 4u);
    if (allocator == HOST_CARVE &&
        (h.run.carve_image =
             host_carve_image(job->items, job->arena_bytes, 0, 0)) ==
            NULL)
        bench_fail("no host image for the carve core");
    *out = h;
}

/* One row per variant in `variants` for this job, all timed in turns (so
 * all of their memory is held at once). */
static void measure_pairs(bench_report *r, const bench_device *d,
                          const bench_options *options, const char *param,
                          double param_value, uint32_t items, uint32_t rounds,
                          uint32_t fixed_size, unsigned variants)
{
    static const unsigned on_device[] = {VARIANT_BUMP, VARIANT_CARVE,
                                         VARIANT_ATOMIC, VARIANT_HEAP,
                                         VARIANT_CHECKS};
    static const char *const device_names[] = {"bump floor", "carve",
                                               "atomic bump", "shared heap",
                                               "carve, checks on"};
    static const unsigned on_host[] = {VARIANT_GLIBC, VARIANT_MIMALLOC,
                                       VARIANT_CARVE_HOST};
    static const host_allocator host_allocators[] = {HOST_GLIBC, HOST_MIMALLOC,
                                                     HOST_CARVE};
    const char *host_names[] = {d->glibc_name, d->mimalloc_name,
                                d->carve_host_name};
    pairs_job job = pairs_job_make(items, rounds, fixed_size);
    device_pairs dev[5];
    host_pairs host[3];
    const char *names[8], *why = NULL;
    bench_run_fn runs[8];
    void *contexts[8];
    bench_timing timings[8];
    int host_open[3] = {0, 0, 0};
    size_t n = 0, i;
    for (i = 0; i < 5; ++i) {
        if (!(variants & on_device[i]))
            continue;
        device_pairs_open(&dev[i], d, &job, on_device[i]);
        names[n] = device_names[i];
        runs[n] = run_device_pairs;
        contexts[n++] = &dev[i];
    }
    for (i = 0; i < 3; ++i) {
        if (!(variants & on_host[i]) ||
            !host_allocator_ready(host_allocators[i], &why))
            continue;
        host_pairs_open(&host[i], &job, host_allocators[i]);
        host_open[i] = 1;
        names[n] = host_names[i];
        runs[n] = run_host_pairs;
        contexts[n++] = &host[i];
    }
    bench_time_together(options, n, runs, contexts, timings);
    for (i = 0; i < n; ++i)
        bench_row(r, param, param_value, names[i], timings[i],
                  (double)items * rounds * BENCH_BATCH, NULL, 0);
    for (i = 0; i < 5; ++i)
        if (variants & on_device[i])
            device_pairs_close(&dev[i]);
    for (i = 0; i < 3; ++i) {
        if (host_open[i]) {
            free(host[i].run.carve_image);
            free(host[i].run.sums);
        }
    }
    free(job.expected);
}

/* ---- goals of the alloc/free sections ---------------------------------------------- */

/* The lowest time(other) / time(carve) over the section's params. */
static double worst_speed(const bench_report *r, const char *section,
                          const char *const *params, size_t count,
                          const char *other, const char **where)
{
    double worst = -1.0;
    size_t i;
    for (i = 0; i < count; ++i) {
        double mine = bench_median(r, section, params[i], "carve");
        double theirs = bench_median(r, section, params[i], other);
        if (mine > 0.0 && theirs > 0.0 &&
            (worst < 0.0 || theirs / mine < worst)) {
            worst = theirs / mine;
            *where = params[i];
        }
    }
    return worst;
}

/* The goals of an alloc/free section, at the worst of `params`: carve's
 * speed over the bump floor's at least `over_bump`, and at least as fast
 * as mimalloc on the same cores. */
static void pairs_goals(bench_report *r, const bench_device *d,
                        const char *section, const char *const *params,
                        size_t count, double over_bump)
{
    const char *where = "-";
    char name[160];
    double s = worst_speed(r, section, params, count, "bump floor", &where);
    snprintf(name, sizeof name, "%s: carve over the bump floor (worst: %s)",
             section, where);
    bench_goal(r, name, s, ">=", over_bump, "carve throughput / bump-floor "
               "throughput");
    s = worst_speed(r, section, params, count, d->mimalloc_name, &where);
    snprintf(name, sizeof name, "%s: carve over mimalloc (worst: %s)",
             section, where);
    bench_goal(r, name, s, ">=", 1.0, "carve on the CPU device against "
               "mimalloc on one host thread per core");
}

/* Checks on must cost little: the worst, over `params`, of the time with
 * redzones over the time without. */
static void checks_goal(bench_report *r, const char *section,
                        const char *const *params, size_t count)
{
    double worst = -1.0;
    const char *where = "-";
    char name[160];
    size_t i;
    for (i = 0; i < count; ++i) {
        double off = bench_median(r, section, params[i], "carve");
        double on = bench_median(r, section, params[i], "carve, checks on");
        if (off > 0.0 && on > 0.0 && (worst < 0.0 || on / off > worst)) {
            worst = on / off;
            where = params[i];
        }
    }
    if (worst < 0.0)
        return;
    snprintf(name, sizeof name, "%s: checks on over checks off (worst: %s)",
             section, where);
    bench_goal(r, name, worst, "<=", 1.3, "time with redzones / time "
               "without");
}

/* ---- sections ------------------------------------------------------------------- */

static uint32_t pairs_items(const bench_options *o)
{
    return o->quick ? 1u << 10 : 1u << 14;
}

static uint32_t pairs_rounds(const bench_options *o)
{
    return o->quick ? 2u : 8u;
}

static void section_pairs(bench_report *r, const bench_device *d,
                          const bench_options *o)
{
    static const uint32_t full[] = {16, 64, 256, 1024, 4096};
    static const uint32_t quick[] = {16, 256, 4096};
    const uint32_t *sizes = o->quick ? quick : full;
    size_t count = o->quick ? sizeof quick / sizeof *quick
                            : sizeof full / sizeof *full, i;
    char labels[5][32];
    const char *params[5];
    bench_section(r, "pairs", "size", "pairs", "bump floor");
    bench_note(r, "%u work-items x %u alloc/free pairs (%u rounds of %u "
               "allocations, then %u frees in a scrambled order)",
               (unsigned)pairs_items(o),
               (unsigned)(pairs_rounds(o) * BENCH_BATCH),
               (unsigned)pairs_rounds(o), BENCH_BATCH, BENCH_BATCH);
    for (i = 0; i < count; ++i) {
        params[i] = bench_bytes_label(labels[i], sizeof labels[i], sizes[i]);
        measure_pairs(r, d, o, params[i], sizes[i], pairs_items(o),
                      pairs_rounds(o), sizes[i],
                      VARIANTS_ALL | VARIANT_CHECKS);
    }
    pairs_goals(r, d, "pairs", params, count, 0.5);
    checks_goal(r, "pairs", params, count);
}

static void section_mixed(bench_report *r, const bench_device *d,
                          const bench_options *o)
{
    static const char *const mixed[] = {"mixed"};
    bench_section(r, "mixed", "sizes", "pairs", "bump floor");
    bench_note(r, "as pairs, each size drawn from [16, %u] B (a power-of-two "
               "span, then uniform in it: small sizes dominate)",
               BENCH_MIXED_MAX);
    measure_pairs(r, d, o, "mixed", 0, pairs_items(o), pairs_rounds(o), 0,
                  VARIANTS_ALL);
    pairs_goals(r, d, "mixed", mixed, 1, 0.7);
}

static void section_scaling(bench_report *r, const bench_device *d,
                            const bench_options *o)
{
    uint32_t items, last = o->quick ? 1u << 12 : 1u << 20;
    char label[32];
    bench_section(r, "scaling", "items", "pairs", "bump floor");
    bench_note(r, "64-byte blocks, %u alloc/free pairs per work-item",
               2u * BENCH_BATCH);
    for (items = 1u << 10; items <= last; items <<= 2) {
        snprintf(label, sizeof label, "2^%d", __builtin_ctz(items));
        measure_pairs(r, d, o, label, items, items, 2, 64, VARIANTS_ALL);
    }
}

/* ---- utilisation: fill to exhaustion ------------------------------------------------ */

typedef struct fill_run {
    const bench_device *dev;
    cl_kernel kernel;
    carve_set *set;
    cl_mem counts;
    uint32_t items, size, capacity, achieved;
    uint32_t *counts_host;
} fill_run;

static int fill_ok(fill_run *f)
{
    uint32_t id;
    cl_int err = clEnqueueReadBuffer(f->dev->cl.queue, f->counts, CL_TRUE, 0,
                                     (size_t)f->items * 4u, f->counts_host, 0,
                                     NULL, NULL);
    if (err != CL_SUCCESS)
        return check_failed("reading the counts", err);
    f->achieved = f->counts_host[0];
    if (!set_counts_ok(f->set, (uint64_t)f->achieved * f->items, 0, "fill"))
        return 0;
    for (id = 0; id < f->items; ++id) {
        carve_arena_stats st;
        carve_status status =
            carve_layout_arena_stats(carve_test_image(f->set), id, &st);
        if (status != CARVE_SUCCESS)
            return check_failed("carve_layout_arena_stats", status);
        /* Every arena is alike, so every fill must end alike, with "out of
         * memory", and no allocator can hand out more than it has. */
        if (f->counts_host[id] != f->achieved ||
            st.alloc_count != f->achieved ||
            st.last_failure != CARVE_FAIL_OUT_OF_MEMORY ||
            (uint64_t)f->achieved * f->size > f->capacity) {
            fprintf(stderr, "fill %u B, work-item %u: %u allocations (item "
                            "0: %u, stats: %u), last failure %s\n",
                    (unsigned)f->size, (unsigned)id,
                    (unsigned)f->counts_host[id], (unsigned)f->achieved,
                    (unsigned)st.alloc_count,
                    carve_failure_string(st.last_failure));
            return 0;
        }
    }
    return 1;
}

static double run_fill(void *context)
{
    fill_run *f = context;
    double seconds = timed_launch(f->dev, f->kernel, f->set, f->items, "fill");
    return seconds >= 0.0 && fill_ok(f) ? seconds : -1.0;
}

/* Fills arenas of FILL_ARENA_BYTES at each size with one plan's options
 * (0: granules; CARVE_PLAN_SMALL_RUNS: runs for 256 B and less), one row
 * each; returns the lowest utilisation over the sizes and the powers of two
 * among them, and the size of the lowest. */
static void fill_sizes(bench_report *r, const bench_device *d,
                       const bench_options *o, const uint32_t *sizes,
                       size_t count, uint32_t options, const char *variant,
                       double *worst_pow2, double *worst_any,
                       uint32_t *worst_size)
{
    char label[32];
    fill_run f;
    size_t i;
    memset(&f, 0, sizeof f);
    f.dev = d;
    f.items = o->quick ? 1u << 6 : 1u << 10;
    f.set = new_set_planned(d, f.items, FILL_ARENA_BYTES, 0, 0, options);
    f.capacity = carve_set_plan(f.set)->arena_bytes;
    f.kernel = new_kernel(d->carve, "fill");
    f.counts = new_buffer(d, CL_MEM_READ_WRITE, (size_t)f.items * 4u);
    f.counts_host = dev_xmalloc((size_t)f.items * 4u);
    set_arg(f.kernel, 1, sizeof f.counts, &f.counts);
    *worst_pow2 = *worst_any = 2.0;
    *worst_size = 0;
    for (i = 0; i < count; ++i) {
        double use;
        bench_timing t;
        f.size = sizes[i];
        set_arg(f.kernel, 2, sizeof f.size, &f.size);
        t = bench_time(o, run_fill, &f);
        use = (double)f.achieved / (double)(f.capacity / f.size);
        bench_row(r, bench_bytes_label(label, sizeof label, f.size), f.size,
                  variant, t, (double)f.achieved * f.items, "utilisation%",
                  100.0 * use);
        if ((f.size & (f.size - 1)) == 0 && use < *worst_pow2)
            *worst_pow2 = use;
        if (use < *worst_any) {
            *worst_any = use;
            *worst_size = f.size;
        }
    }
    free(f.counts_host);
    clReleaseMemObject(f.counts);
    clReleaseKernel(f.kernel);
    carve_set_release(f.set);
}

static void section_utilisation(bench_report *r, const bench_device *d,
                                const bench_options *o)
{
    /* The worst sizes of their kinds are there too: 17 B, rounded up to
     * a granule (or with runs to 24 B), and 257 B, past the runs' reach,
     * 257 of 272 bytes. */
    static const uint32_t full[] = {16,  17,  24,   40,   48,   64,  100,
                                    256, 257, 1000, 1024, 3000, 4096};
    static const uint32_t quick[] = {16, 24, 100, 4096};
    const uint32_t *sizes = o->quick ? quick : full;
    size_t count = o->quick ? sizeof quick / sizeof *quick
                            : sizeof full / sizeof *full;
    double worst_pow2, worst_any, runs_pow2, runs_any;
    uint32_t worst_size, runs_size;
    char why[200];

    bench_section(r, "utilisation", "size", "allocations", "none");
    bench_note(r, "%u work-items each call carve_malloc(size) until it fails, "
               "in an arena of %u usable bytes; \"carve, runs\": planned "
               "with CARVE_PLAN_SMALL_RUNS",
               o->quick ? 1u << 6 : 1u << 10, (unsigned)FILL_ARENA_BYTES);
    bench_note(r, "utilisation = allocations achieved / (capacity / size), "
               "in %%");
    fill_sizes(r, d, o, sizes, count, 0, "carve", &worst_pow2, &worst_any,
               &worst_size);
    fill_sizes(r, d, o, sizes, count, CARVE_PLAN_SMALL_RUNS, "carve, runs",
               &runs_pow2, &runs_any, &runs_size);
    bench_goal(r, "utilisation, power-of-two sizes 16 B and up", worst_pow2,
               ">=", 0.95, "the lowest over the sizes measured");
    snprintf(why, sizeof why,
             "the lowest, at %u B: blocks are whole 16-byte granules, so a "
             "size s uses 16*ceil(s/16) bytes",
             (unsigned)worst_size);
    bench_goal(r, "utilisation, any size 16 B and up", worst_any, ">=", 0.95,
               why);
    snprintf(why, sizeof why,
             "the lowest, at %u B: runs pack sizes up to 256 B in 8-byte "
             "steps (17 B takes 24), larger sizes whole granules",
             (unsigned)runs_size);
    bench_goal(r, "utilisation, any size 16 B and up, with runs", runs_any,
               ">=", 0.95, why);
}

/* ---- variable-length output ------------------------------------------------------- */

typedef struct varlen_run {
    const bench_device *dev;
    uint32_t items;
    uint32_t *lengths; /* the reference, per work-item */
    carve_set *largest; /* every arena sized for the longest output */
    carve_set *fitted;  /* arenas for most, the heap for the long ones */
    uint32_t long_items; /* outputs too long for a fitted arena */
    cl_kernel carve_kernel, fitted_kernel; /* one each: their arguments */
    cl_kernel count_kernel, write_kernel;  /* two-pass */
    cl_kernel fixed_kernel;                /* fixed slots */
    cl_mem counts, offsets, out, slots;
    size_t out_bytes;
} varlen_run;

/* 1 if the `n` words at `words` are work-item id's trajectory. */
static int trajectory_ok(const varlen_run *v, uint32_t id,
                         const uint32_t *words, uint32_t n,
                         const char *variant)
{
    uint32_t i, x = bench_varlen_start(id);
    if (n != v->lengths[id]) {
        fprintf(stderr, "%s: work-item %u wrote %u words, expected %u\n",
                variant, (unsigned)id, (unsigned)n, (unsigned)v->lengths[id]);
        return 0;
    }
    for (i = 0; i < n; ++i, x = bench_varlen_next(x)) {
        if (words[i] != x) {
            fprintf(stderr, "%s: work-item %u, word %u: %u, expected %u\n",
                    variant, (unsigned)id, (unsigned)i, (unsigned)words[i],
                    (unsigned)x);
            return 0;
        }
    }
    return 1;
}

/* Each work-item's output, read in place through its root block. */
static int varlen_carve_ok(const varlen_run *v, const carve_set *set)
{
    carve_summary sum;
    uint32_t id;
    for (id = 0; id < v->items; ++id) {
        carve_arena_stats st;
        const uint32_t *head = NULL, *words = NULL;
        if (carve_layout_arena_stats(carve_test_image(set), id, &st) ==
                CARVE_SUCCESS &&
            (head = carve_layout_block(carve_test_image(set), id, st.root,
                                       4)) != NULL)
            words = carve_layout_block(carve_test_image(set), id, st.root,
                                          4u * (1u + head[0]));
        if (words == NULL) {
            fprintf(stderr, "carve varlen: work-item %u left no output "
                            "block\n",
                    (unsigned)id);
            return 0;
        }
        if (!trajectory_ok(v, id, words + 1, words[0], "carve varlen"))
            return 0;
    }
    if (!set_ok(set, &sum))
        return 0;
    /* One live block per work-item, however often it was moved; in the
     * heap exactly for the long outputs of the fitted plan. */
    if (sum.alloc_count - sum.free_count + sum.heap_live_blocks != v->items ||
        sum.heap_live_blocks != (set == v->fitted ? v->long_items : 0u) ||
        sum.failed_count != 0) {
        fprintf(stderr, "carve varlen: %llu live blocks for %u work-items, "
                        "%llu failed requests\n",
                (unsigned long long)(sum.alloc_count - sum.free_count +
                                     sum.heap_live_blocks),
                (unsigned)v->items, (unsigned long long)sum.failed_count);
        fprintf(stderr, "carve varlen: %llu of them in the heap, %u "
                        "expected\n",
                (unsigned long long)sum.heap_live_blocks,
                set == v->fitted ? (unsigned)v->long_items : 0u);
        return 0;
    }
    return 1;
}

/* One launch of `kernel` on `set`, timed, then checked. */
static double run_varlen_on(const varlen_run *v, carve_set *set,
                            cl_kernel kernel, const char *what)
{
    double seconds = timed_launch(v->dev, kernel, set, v->items, what);
    return seconds >= 0.0 && varlen_carve_ok(v, set) ? seconds : -1.0;
}

static double run_varlen_carve(void *context)
{
    varlen_run *v = context;
    return run_varlen_on(v, v->largest, v->carve_kernel, "varlen_carve");
}

static double run_varlen_fitted(void *context)
{
    varlen_run *v = context;
    return run_varlen_on(v, v->fitted, v->fitted_kernel,
                         "varlen_carve, fitted");
}

/* carve_set_reset alone: the part of a carve launch that grows with the
 * set's state table, not with the work. */
static double run_reset(void *context)
{
    varlen_run *v = context;
    double start = bench_now();
    carve_status status = carve_set_reset(v->largest);
    double seconds = bench_now() - start;
    return status == CARVE_SUCCESS ? seconds
                                   : fail_with("carve_set_reset", status);
}

static void *map_buffer(const varlen_run *v, cl_mem mem, cl_map_flags flags,
                        size_t bytes, cl_int *err)
{
    if (*err != CL_SUCCESS)
        return NULL;
    return clEnqueueMapBuffer(v->dev->cl.queue, mem, CL_TRUE, flags, 0, bytes,
                              0, NULL, NULL, err);
}

static cl_int unmap_buffer(const varlen_run *v, cl_mem mem, void *p,
                           cl_int err)
{
    cl_int unmapped = p != NULL ? clEnqueueUnmapMemObject(v->dev->cl.queue,
                                                          mem, p, 0, NULL, NULL)
                                : CL_SUCCESS;
    return err != CL_SUCCESS ? err : unmapped;
}

/* The output buffer holds `words`: kept from the previous run when it is
 * big enough (after the warm-up it always is), as a careful two-pass
 * program would do. */
static cl_int reserve_output(varlen_run *v, uint32_t words)
{
    size_t bytes = (size_t)(words ? words : 1u) * 4u;
    cl_int err = CL_SUCCESS;
    if (bytes <= v->out_bytes)
        return CL_SUCCESS;
    if (v->out != NULL)
        clReleaseMemObject(v->out);
    v->out = clCreateBuffer(v->dev->cl.context,
                            CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, bytes,
                            NULL, &err);
    v->out_bytes = err == CL_SUCCESS ? bytes : 0;
    if (err == CL_SUCCESS)
        err = clSetKernelArg(v->write_kernel, 1, sizeof v->out, &v->out);
    return err;
}

static int varlen_two_pass_ok(const varlen_run *v, const uint32_t *out)
{
    cl_int err = CL_SUCCESS;
    size_t bytes = (size_t)v->items * 4u;
    const uint32_t *offsets = map_buffer(v, v->offsets, CL_MAP_READ, bytes,
                                         &err);
    const uint32_t *counts = map_buffer(v, v->counts, CL_MAP_READ, bytes,
                                        &err);
    uint32_t id;
    int ok = err == CL_SUCCESS;
    for (id = 0; ok && id < v->items; ++id)
        ok = trajectory_ok(v, id, out + offsets[id], counts[id],
                           "two-pass varlen");
    err = unmap_buffer(v, v->offsets, (void *)(uintptr_t)offsets, err);
    err = unmap_buffer(v, v->counts, (void *)(uintptr_t)counts, err);
    if (err != CL_SUCCESS)
        return check_failed("two-pass verification", err);
    return ok;
}

/* Count kernel, exclusive prefix sum on the host through mapped buffers
 * (the cheapest place for it on a device sharing the host's memory), write
 * kernel, and the output mapped for the host to read. */
static double run_varlen_two_pass(void *context)
{
    varlen_run *v = context;
    cl_command_queue q = v->dev->cl.queue;
    size_t global = v->items, bytes = (size_t)v->items * 4u;
    uint32_t *counts, *offsets = NULL, *out = NULL, total = 0, id;
    double start = bench_now(), seconds;
    cl_int err = clEnqueueNDRangeKernel(q, v->count_kernel, 1, NULL, &global,
                                        NULL, 0, NULL, NULL);
    int ok;
    counts = map_buffer(v, v->counts, CL_MAP_READ, bytes, &err);
    offsets = map_buffer(v, v->offsets, CL_MAP_WRITE, bytes, &err);
    for (id = 0; err == CL_SUCCESS && id < v->items; ++id) {
        offsets[id] = total;
        total += counts[id];
    }
    err = unmap_buffer(v, v->counts, counts, err);
    err = unmap_buffer(v, v->offsets, offsets, err);
    if (err == CL_SUCCESS)
        err = reserve_output(v, total);
    if (err == CL_SUCCESS)
        err = clEnqueueNDRangeKernel(q, v->write_kernel, 1, NULL, &global,
                                     NULL, 0, NULL, NULL);
    out = map_buffer(v, v->out, CL_MAP_READ, (size_t)total * 4u, &err);
    seconds = bench_now() - start;
    if (err != CL_SUCCESS)
        return fail_with("two-pass varlen", unmap_buffer(v, v->out, out, err));
    ok = varlen_two_pass_ok(v, out);
    err = unmap_buffer(v, v->out, out, CL_SUCCESS);
    if (err == CL_SUCCESS)
        err = clFinish(q);
    if (err != CL_SUCCESS)
        return fail_with("unmapping the output", err);
    return ok ? seconds : -1.0;
}

/* One launch writing into a slot per work-item sized for the longest
 * output, and the slots mapped for the host to read: what a program
 * without an allocator does when it can afford the memory. */
static double run_varlen_fixed(void *context)
{
    varlen_run *v = context;
    size_t global = v->items;
    size_t bytes = (size_t)v->items * (1u + BENCH_VARLEN_MAX) * 4u;
    double start = bench_now(), seconds;
    uint32_t *slots = NULL, id;
    cl_int err = clEnqueueNDRangeKernel(v->dev->cl.queue, v->fixed_kernel, 1,
                                        NULL, &global, NULL, 0, NULL, NULL);
    int ok = 1;
    slots = map_buffer(v, v->slots, CL_MAP_READ, bytes, &err);
    seconds = bench_now() - start;
    for (id = 0; err == CL_SUCCESS && ok && id < v->items; ++id) {
        const uint32_t *mine = slots + (size_t)id * (1u + BENCH_VARLEN_MAX);
        ok = trajectory_ok(v, id, mine + 1, mine[0], "fixed-slot varlen");
    }
    err = unmap_buffer(v, v->slots, slots, err);
    if (err == CL_SUCCESS)
        err = clFinish(v->dev->cl.queue);
    if (err != CL_SUCCESS)
        return fail_with("fixed-slot varlen", err);
    return ok ? seconds : -1.0;
}

/* Every way for `items` work-items: five rows; returns the two-pass time
 * over the carve time. */
static double measure_varlen(bench_report *r, const bench_device *d,
                             const bench_options *o, uint32_t items)
{
    static bench_run_fn const runs[5] = {run_varlen_two_pass,
                                         run_varlen_carve, run_varlen_fitted,
                                         run_reset, run_varlen_fixed};
    varlen_run v;
    void *const contexts[5] = {&v, &v, &v, &v, &v};
    uint32_t id;
    uint64_t words = 0;
    bench_timing timings[5];
    char label[32];
    memset(&v, 0, sizeof v);
    v.dev = d;
    v.items = items;
    v.lengths = dev_xmalloc((size_t)v.items * 4u);
    for (id = 0; id < v.items; ++id) {
        uint32_t n = 0, x = bench_varlen_start(id);
        for (; x != 1u && n < BENCH_VARLEN_MAX; x = bench_varlen_next(x))
            ++n;
        v.lengths[id] = n;
        words += n;
        v.long_items += n > VARLEN_FITTED_CAP;
    }
    v.counts = new_buffer(d, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR,
                          (size_t)v.items * 4u);
    v.offsets = new_buffer(d, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR,
                           (size_t)v.items * 4u);
    v.slots = new_buffer(d, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR,
                         (size_t)v.items * (1u + BENCH_VARLEN_MAX) * 4u);
    v.fixed_kernel = new_kernel(d->carve, "varlen_fixed");
    set_arg(v.fixed_kernel, 0, sizeof v.slots, &v.slots);
    v.count_kernel = new_kernel(d->carve, "varlen_count");
    v.write_kernel = new_kernel(d->carve, "varlen_write");
    set_arg(v.count_kernel, 0, sizeof v.counts, &v.counts);
    set_arg(v.write_kernel, 0, sizeof v.offsets, &v.offsets);
    v.largest = new_set(d, v.items, VARLEN_ARENA_BYTES);
    /* What `carve fit` would plan from a profile of the lengths: arenas
     * for the common lengths, and the heap for the few long outputs. Their
     * 2052-byte blocks take a whole 4 KiB page each; twice that, and a MiB,
     * leave room to spare. */
    v.fitted = new_set_planned(d, v.items, VARLEN_FITTED_ARENA_BYTES,
                               (uint64_t)v.long_items * 2u * 4096u + (1u << 20),
                               VARLEN_FITTED_ARENA_BYTES + 1u,
                               CARVE_PLAN_HEAP_FALLBACK);
    v.carve_kernel = new_kernel(d->carve, "varlen_carve");
    v.fitted_kernel = new_kernel(d->carve, "varlen_carve");
    /* One context serves all: each run starts from its own reset. */
    bench_time_together(o, 5, runs, contexts, timings);

    snprintf(label, sizeof label, "2^%d", __builtin_ctz(v.items));
    bench_row(r, label, v.items, "two-pass", timings[0], (double)words,
              "buffer MiB",
              (double)(2u * (size_t)v.items * 4u + v.out_bytes) / 1048576.0);
    bench_row(r, label, v.items, "carve", timings[1], (double)words,
              "buffer MiB",
              (double)carve_set_plan(v.largest)->total_bytes / 1048576.0);
    bench_row(r, label, v.items, "carve, fitted + heap", timings[2],
              (double)words, "buffer MiB",
              (double)carve_set_plan(v.fitted)->total_bytes / 1048576.0);
    bench_row(r, label, v.items, "carve: its reset alone", timings[3], 0,
              "state MiB",
              (double)carve_set_plan(v.largest)->state_bytes / 1048576.0);
    bench_row(r, label, v.items, "fixed slots", timings[4], (double)words,
              "buffer MiB",
              (double)v.items * (1u + BENCH_VARLEN_MAX) * 4u / 1048576.0);

    carve_set_release(v.largest);
    carve_set_release(v.fitted);
    clReleaseKernel(v.carve_kernel);
    clReleaseKernel(v.fitted_kernel);
    clReleaseKernel(v.count_kernel);
    clReleaseKernel(v.write_kernel);
    clReleaseKernel(v.fixed_kernel);
    clReleaseMemObject(v.slots);
    clReleaseMemObject(v.counts);
    clReleaseMemObject(v.offsets);
    if (v.out != NULL)
        clReleaseMemObject(v.out);
    free(v.lengths);
    return timings[0].median / timings[1].median;
}

/* The fitted plan (arenas for most outputs, the heap for the longest):
 * its speed over two-pass at `items` work-items, if that was measured. */
static void varlen_fitted_goal(bench_report *r, const char *items,
                               double goal)
{
    double two_pass = bench_median(r, "varlen", items, "two-pass");
    double fitted = bench_median(r, "varlen", items, "carve, fitted + heap");
    char name[120];
    if (two_pass <= 0.0 || fitted <= 0.0)
        return;
    snprintf(name, sizeof name, "variable-length output at %s work-items, "
             "the fitted plan over two-pass", items);
    bench_goal(r, name, two_pass / fitted, ">=", goal,
               "two-pass time / carve time with the plan carve fit "
               "recommends (arenas + heap)");
}

static void section_varlen(bench_report *r, const bench_device *d,
                           const bench_options *o)
{
    uint32_t items, first = o->quick ? 1u << 11 : 1u << 10;
    uint32_t last = o->quick ? 1u << 11 : 1u << 16;
    double worst = -1.0;
    char why[160], where[32] = "-";
    bench_section(r, "varlen", "items", "words", "two-pass");
    bench_note(r, "work-item i writes the Collatz trajectory of a start "
               "drawn from i: about 100 words, at most %u; the length is "
               "known only by computing it",
               BENCH_VARLEN_MAX);
    bench_note(r, "carve: one block per work-item, doubled by carve_realloc "
               "when full; read in place. two-pass: count kernel, prefix sum "
               "on the host (mapped), write kernel, output mapped. fixed "
               "slots: no allocator, a slot of %u words per work-item, "
               "mapped", 1u + BENCH_VARLEN_MAX);
    bench_note(r, "buffer MiB: what each needs; carve plans every arena "
               "for the longest output; 'fitted + heap' plans arenas of "
               "%u words and a heap for the longer outputs",
               VARLEN_FITTED_CAP);
    for (items = first; items <= last; items <<= 3) {
        double speed = measure_varlen(r, d, o, items);
        if (worst < 0.0 || speed < worst) {
            worst = speed;
            snprintf(where, sizeof where, "2^%d", __builtin_ctz(items));
        }
    }
    snprintf(why, sizeof why, "two-pass time / carve time, both until the "
             "host can read the output; the worst, at %s work-items", where);
    bench_goal(r, "variable-length output, carve over two-pass speed", worst,
               ">=", 1.0, why);
    varlen_fitted_goal(r, "2^16", 1.5);
    varlen_fitted_goal(r, "2^13", 1.0);
}

/* ---- contention ------------------------------------------------------------------- */

static void section_contention(bench_report *r, const bench_device *d,
                               const bench_options *o)
{
    uint32_t items = o->quick ? 1u << 11 : 1u << 16;
    char label[32];
    snprintf(label, sizeof label, "2^%d", __builtin_ctz(items));
    bench_section(r, "contention", "items", "pairs", "atomic bump");
    bench_note(r, "every work-item allocates %u x 64 B at once from one "
               "shared place; carve's private arenas for comparison",
               2u * BENCH_BATCH);
    measure_pairs(r, d, o, label, items, items, 2, 64,
                  VARIANT_ATOMIC | VARIANT_CARVE | VARIANT_HEAP);
    {
        double heap = bench_median(r, "contention", label, "shared heap");
        double atomic = bench_median(r, "contention", label, "atomic bump");
        if (heap > 0.0 && atomic > 0.0)
            bench_goal(r, "shared heap under contention, against the atomic "
                          "bump (which never frees)",
                       atomic / heap, ">=", 0.5,
                       "every work-item allocates and frees 64-byte blocks "
                       "in the shared heap at once");
    }
}

/* ---- main ------------------------------------------------------------------------ */

static cl_program build(const bench_device *d, const char *options)
{
    cl_program program = NULL;
    char *log = NULL;
    carve_status status = carve_program_build(
        d->cl.context, d->cl.device, kernel_source, options, &program, &log);
    if (status != CARVE_SUCCESS)
        bench_fail("building the kernels (%s): %s\n%s", options,
                   carve_status_string(status), log ? log : "(no log)");
    return program;
}

static void describe(bench_report *r, bench_device *d)
{
    char text[256] = "?";
    const char *why = NULL;
    clGetDeviceInfo(d->cl.device, CL_DEVICE_NAME, sizeof text, text, NULL);
    bench_fact(r, "device", text);
    d->threads = host_threads();
    snprintf(text, sizeof text, "%u", d->threads);
    bench_fact(r, "host_threads", text);
    snprintf(d->glibc_name, sizeof d->glibc_name, "glibc x%u", d->threads);
    snprintf(d->mimalloc_name, sizeof d->mimalloc_name, "mimalloc x%u",
             d->threads);
    snprintf(d->carve_host_name, sizeof d->carve_host_name,
             "carve core x%u (host)", d->threads);
    bench_fact(r, "glibc_malloc", host_allocator_ready(HOST_GLIBC, &why)
                                      ? host_allocator_origin(HOST_GLIBC)
                                      : why);
    bench_fact(r, "mimalloc", host_allocator_ready(HOST_MIMALLOC, &why)
                                  ? host_allocator_origin(HOST_MIMALLOC)
                                  : why);
}

int main(int argc, char **argv)
{
    bench_options o = bench_parse(
        argc, argv, "bench_alloc",
        "carve_malloc/carve_free in kernels against a bump floor, a global "
        "atomic bump,\nglibc and mimalloc; utilisation; variable-length "
        "output against two-pass.");
    bench_device d;
    bench_report *r;
    memset(&d, 0, sizeof d);
    d.cl = carve_test_open_cl();
    r = bench_report_begin(&o, "bench_alloc");
    describe(r, &d);
    d.carve = build(&d, "-DUSE_CARVE");
    d.bump = build(&d, "-DUSE_BUMP");
    d.atomic = build(&d, "-DUSE_ATOMIC");

    if (bench_wanted(&o, "pairs"))
        section_pairs(r, &d, &o);
    if (bench_wanted(&o, "mixed"))
        section_mixed(r, &d, &o);
    if (bench_wanted(&o, "scaling"))
        section_scaling(r, &d, &o);
    if (bench_wanted(&o, "utilisation"))
        section_utilisation(r, &d, &o);
    if (bench_wanted(&o, "varlen"))
        section_varlen(r, &d, &o);
    if (bench_wanted(&o, "contention"))
        section_contention(r, &d, &o);

    clReleaseProgram(d.carve);
    clReleaseProgram(d.bump);
    clReleaseProgram(d.atomic);
    carve_test_close_cl(&d.cl);
    return bench_report_end(r);
}
