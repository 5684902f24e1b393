/*
 * split.c - one launch split over sub-devices (carve/split.h) against the
 * same launch on their parent device, in the same context, on the same
 * cores.
 *
 * The sub-devices are made CL_DEVICE_PARTITION_EQUALLY: every compute unit
 * its own sub-device (at most CARVE_SPLIT_MAX_DEVICES of them; on a device
 * with more units, each gets as many as that takes). Sections:
 *   tokenize  the tokenizer example's kernel, corpus and checks
 *             (examples/tokenize.c, included here without its main):
 *             every work-item tokenizes one line into a linked list in its
 *             arena and frees the stop words
 *   pairs     alloc/free pairs of one size, the shape of bench_alloc's
 *             pairs (workload.h's sizes, tags and free order), over a
 *             range of work-item counts: where the launch is short, the
 *             split's cost per device shows
 * Variants:
 *   parent    one launch on the parent device: carve_set_reset and
 *             carve_set_run (the baseline of the ratios)
 *   split     the same launch split evenly over the sub-devices:
 *             carve_split_reset and carve_split_run, which launches on
 *             every sub-device at once and returns when all are done
 * Both variants' programs are built before anything is timed, and each
 * gets a warm-up launch (bench_time_together), so PoCL's compiles are not
 * in the figures. Every run is verified, outside its time: every line's
 * list against the host tokenizer or every work-item's sum of its tags,
 * the pairs' allocation counts, and every arena's invariant check; the
 * last tokenizer run of each variant also has its memory left matched to
 * the kept tokens (the example's memory check, printed).
 */
#include "bench.h"
#include "carve_test.h"
#include "workload.h"

/* The example's workload: kernel_source, the corpus, upload,
 * set_input_args and the checks (verify_lines, memory_matches_results). */
#define TOKENIZE_NO_MAIN
#include "tokenize.c"

#define BENCH_FN static inline
typedef uint32_t bench_u32;
BENCH_WORKLOAD(BENCH_WORKLOAD_EXPAND)

#define PAIRS_SIZE 64u

/* bench_alloc's pairs kernel, carve's variant, opening its arena by the
 * launch-wide carve_flat_global_id() so that it runs split unchanged. */
static const char pairs_source[] =
    BENCH_WORKLOAD_SOURCE
    "#include \"carve.clh\"\n"
    "kernel void pairs(global uchar *carved, global uint *sums, uint rounds,\n"
    "                  uint fixed_size)\n"
    "{\n"
    "    uint id = carve_flat_global_id(), n = 0u, sum = 0u;\n"
    "    global uint *live[BENCH_BATCH];\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    for (uint r = 0u; r < rounds; ++r) {\n"
    "        for (uint b = 0u; b < BENCH_BATCH; ++b, ++n) {\n"
    "            global uint *p = carve_malloc(&a, bench_size(id, n,\n"
    "                                                         fixed_size));\n"
    "            if (p != 0)\n"
    "                p[0] = bench_tag(id, n);\n"
    "            live[b] = p;\n"
    "        }\n"
    "        for (uint b = 0u; b < BENCH_BATCH; ++b) {\n"
    "            global uint *p = live[bench_slot(r, b)];\n"
    "            if (p != 0) {\n"
    "                sum += p[0];\n"
    "                carve_free(&a, p);\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "    sums[id] = sum;\n"
    "    carve_arena_close(&a);\n"
    "}\n";

/* The parent device and its sub-devices, in one context. */
typedef struct rig {
    cl_device_id parent;
    cl_uint units;      /* the parent's compute units */
    cl_uint units_each; /* each sub-device's */
    cl_uint count;      /* sub-devices */
    cl_device_id sub[CARVE_SPLIT_MAX_DEVICES];
    cl_context context;
    cl_command_queue parent_queue;
    cl_command_queue queue[CARVE_SPLIT_MAX_DEVICES];
    cl_program tokenize, pairs; /* built for the parent and every sub */
    char parent_name[48], split_name[48]; /* the variants, as rows name them */
} rig;

/* ---- helpers ------------------------------------------------------------ */

static void check(cl_int err, const char *what)
{
    if (err != CL_SUCCESS)
        bench_fail("%s: %s", what, carve_status_string(err));
}

/* Says why `what` failed; the value a bench_run_fn returns then. */
static double fail_with(const char *what, cl_int err)
{
    fprintf(stderr, "%s: %s\n", what, carve_status_string(err));
    return -1.0;
}

static cl_kernel new_kernel(cl_program program, const char *name)
{
    cl_int err;
    cl_kernel kernel = clCreateKernel(program, name, &err);
    check(err, name);
    return kernel;
}

/* A set of `params` on the parent device. */
static carve_set *parent_set(const rig *g, const carve_plan_params *params)
{
    carve_device_limits limits;
    carve_plan plan;
    carve_set *set = NULL;
    check(carve_device_limits_query(g->parent, &limits), "device limits");
    if (carve_plan_compute(params, &limits, &plan) != CARVE_SUCCESS)
        bench_fail("the parent's plan: %s", plan.message);
    check(carve_set_create(g->context, g->parent, g->parent_queue, &plan, 0,
                           &set),
          "carve_set_create on the parent");
    return set;
}

/* The same launch split evenly over the sub-devices. */
static carve_split *sub_split(const rig *g, const carve_plan_params *params)
{
    carve_split_params sp;
    carve_device_limits limits[CARVE_SPLIT_MAX_DEVICES];
    carve_split_plan plan;
    carve_split *split = NULL;
    cl_uint i;
    memset(&sp, 0, sizeof sp);
    sp.plan = *params;
    sp.device_count = g->count;
    for (i = 0; i < g->count; ++i)
        check(carve_device_limits_query(g->sub[i], &limits[i]),
              "sub-device limits");
    if (carve_split_plan_compute(&sp, limits, &plan) != CARVE_SUCCESS)
        bench_fail("the split plan: %s", plan.message);
    check(carve_split_create(g->context, g->sub, g->queue, &plan, 0, &split),
          "carve_split_create");
    return split;
}

static carve_plan_params one_d_params(size_t items, uint64_t arena_bytes)
{
    carve_plan_params p;
    memset(&p, 0, sizeof p);
    p.work_dim = 1;
    p.global_size[0] = items;
    p.arena_bytes = arena_bytes;
    return p;
}

/* One launch of `kernel` over `items` work-items, from empty arenas, on
 * the parent (split NULL) or split: timed until every device is done and
 * the host holds the results. */
static double timed_launch(carve_set *set, carve_split *split,
                           cl_kernel kernel, size_t items)
{
    double start = bench_now(), seconds;
    carve_status status;
    if (split != NULL) {
        status = carve_split_reset(split);
        if (status == CARVE_SUCCESS)
            status = carve_split_run(split, kernel, 0, NULL);
    } else {
        status = carve_set_reset(set);
        if (status == CARVE_SUCCESS)
            status = carve_set_run(set, kernel, 0, 1, &items, NULL);
    }
    seconds = bench_now() - start;
    if (status != CARVE_SUCCESS && split != NULL)
        fprintf(stderr, "%s\n", carve_split_message(split));
    return status == CARVE_SUCCESS ? seconds : fail_with("launch", status);
}

/* Totals and the invariant check over every arena of the launch. */
static int summary_ok(carve_set *set, const carve_split *split,
                      carve_summary *sum)
{
    uint32_t bad = 0, broken = 0;
    carve_status status =
        split != NULL ? carve_split_check(split, NULL, &bad, &broken)
                      : carve_layout_check(carve_test_image(set), &bad,
                                           &broken);
    if (status == CARVE_SUCCESS)
        status = split != NULL ? carve_split_summary(split, sum, NULL)
                               : carve_layout_summary(carve_test_image(set),
                                                      sum);
    if (status != CARVE_SUCCESS) {
        fprintf(stderr, "check: %s (arena %u, invariant %u)\n",
                carve_status_string(status), (unsigned)bad,
                (unsigned)broken);
        return 0;
    }
    if (sum->arenas_closed != sum->arena_count || sum->failed_count != 0 ||
        sum->misuse_count != 0 || sum->open_failures != 0) {
        fprintf(stderr, "%u of %u arenas closed, %llu failed requests, "
                        "%llu refused pointers, %u refused opens\n",
                (unsigned)sum->arenas_closed, (unsigned)sum->arena_count,
                (unsigned long long)sum->failed_count,
                (unsigned long long)sum->misuse_count,
                (unsigned)sum->open_failures);
        return 0;
    }
    return 1;
}

/* ---- tokenize ----------------------------------------------------------- */

typedef struct tokenize_run {
    const corpus *text;
    carve_set *set;     /* the parent's, or NULL */
    carve_split *split; /* the split's, or NULL */
    cl_kernel kernel;
    tally last;         /* the latest run's */
    carve_summary summary;
} tokenize_run;

static int tokenize_ok(tokenize_run *t)
{
    device_lists lists;
    carve_status status;
    lists.image = t->set != NULL ? carve_test_image(t->set) : NULL;
    lists.split = t->split;
    status = verify_lines(&lists, t->text, &t->last);
    if (status != CARVE_SUCCESS) {
        fail_with("verify_lines", status);
        return 0;
    }
    if (t->last.lines_wrong != 0) {
        fprintf(stderr, "%u lines differ from the host tokenizer\n",
                (unsigned)t->last.lines_wrong);
        return 0;
    }
    return summary_ok(t->set, t->split, &t->summary);
}

static double run_tokenize(void *context)
{
    tokenize_run *t = context;
    double seconds = timed_launch(t->set, t->split, t->kernel, LINE_COUNT);
    return seconds >= 0.0 && tokenize_ok(t) ? seconds : -1.0;
}

static void tokenize_open(tokenize_run *t, const rig *g, const corpus *c,
                          const inputs *in, int split)
{
    carve_plan_params params =
        one_d_params(LINE_COUNT, arena_bytes_for_line(c->longest));
    memset(t, 0, sizeof *t);
    t->text = c;
    t->kernel = new_kernel(g->tokenize, "tokenize_lines");
    check(set_input_args(t->kernel, in), "tokenize_lines' arguments");
    if (split)
        t->split = sub_split(g, &params);
    else
        t->set = parent_set(g, &params);
}

static void section_tokenize(bench_report *r, const rig *g,
                             const bench_options *o)
{
    static bench_run_fn const runs[2] = {run_tokenize, run_tokenize};
    corpus c = {0};
    inputs in = {0};
    tokenize_run t[2];
    void *const contexts[2] = {&t[0], &t[1]};
    bench_timing timings[2];
    int i;
    char label[32];
    check(corpus_generate(&c), "corpus_generate");
    check(upload(g->context, &c, &in), "uploading the corpus");
    for (i = 0; i < 2; ++i)
        tokenize_open(&t[i], g, &c, &in, i);
    bench_time_together(o, 2, runs, contexts, timings);
    /* The latest run of each, checked once more and said. */
    for (i = 0; i < 2; ++i)
        if (!memory_matches_results(&t[i].summary, &t[i].last))
            bench_fail("tokenize: the arenas hold more or less than the "
                       "kept tokens");

    bench_section(r, "tokenize", "lines", "lines", g->parent_name);
    bench_note(r, "examples/tokenize.c's kernel: each work-item tokenizes "
               "one line into a linked list, frees the stop words and "
               "repeats; %llu bytes of text, %llu tokens, %llu kept",
               (unsigned long long)c.bytes,
               (unsigned long long)t[0].last.tokens_found,
               (unsigned long long)t[0].last.tokens_kept);
    snprintf(label, sizeof label, "2^%d", __builtin_ctz(LINE_COUNT));
    bench_row(r, label, LINE_COUNT, g->parent_name, timings[0], LINE_COUNT,
              NULL, 0);
    bench_row(r, label, LINE_COUNT, g->split_name, timings[1], LINE_COUNT,
              NULL, 0);
    for (i = 0; i < 2; ++i) {
        carve_set_release(t[i].set);
        carve_split_release(t[i].split);
        clReleaseKernel(t[i].kernel);
    }
    release_inputs(&in);
    corpus_free(&c);
}

/* ---- alloc/free pairs --------------------------------------------------- */

typedef struct pairs_run {
    cl_command_queue queue; /* reads the sums back */
    carve_set *set;         /* the parent's, or NULL */
    carve_split *split;     /* the split's, or NULL */
    cl_kernel kernel;
    cl_mem sums;
    uint32_t items, rounds;
    const uint32_t *expected; /* per work-item: the sum of its tags */
    uint32_t *got;
} pairs_run;

static int pairs_ok(pairs_run *p)
{
    uint64_t pairs = (uint64_t)p->items * p->rounds * BENCH_BATCH;
    carve_summary sum;
    uint32_t id;
    cl_int err = clEnqueueReadBuffer(p->queue, p->sums, CL_TRUE, 0,
                                     (size_t)p->items * 4u, p->got, 0, NULL,
                                     NULL);
    if (err != CL_SUCCESS) {
        fail_with("reading the sums", err);
        return 0;
    }
    for (id = 0; id < p->items; ++id) {
        if (p->got[id] != p->expected[id]) {
            fprintf(stderr, "work-item %u summed %u, expected %u\n",
                    (unsigned)id, (unsigned)p->got[id],
                    (unsigned)p->expected[id]);
            return 0;
        }
    }
    if (!summary_ok(p->set, p->split, &sum))
        return 0;
    if (sum.alloc_count != pairs || sum.free_count != pairs) {
        fprintf(stderr, "%llu allocations and %llu frees, expected %llu\n",
                (unsigned long long)sum.alloc_count,
                (unsigned long long)sum.free_count,
                (unsigned long long)pairs);
        return 0;
    }
    return 1;
}

static double run_pairs(void *context)
{
    pairs_run *p = context;
    const uint32_t zero = 0;
    double seconds;
    /* Cleared first (untimed), so that no earlier run's sums can pass. */
    cl_int err = clEnqueueFillBuffer(p->queue, p->sums, &zero, sizeof zero, 0,
                                     (size_t)p->items * 4u, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        err = clFinish(p->queue);
    if (err != CL_SUCCESS)
        return fail_with("clearing the sums", err);
    seconds = timed_launch(p->set, p->split, p->kernel, p->items);
    return seconds >= 0.0 && pairs_ok(p) ? seconds : -1.0;
}

static void pairs_open(pairs_run *p, const rig *g, uint32_t items,
                       uint32_t rounds, const uint32_t *expected, int split)
{
    carve_plan_params params = one_d_params(items, BENCH_BATCH * PAIRS_SIZE);
    const uint32_t size = PAIRS_SIZE;
    cl_int err;
    memset(p, 0, sizeof *p);
    p->queue = g->parent_queue;
    p->items = items;
    p->rounds = rounds;
    p->expected = expected;
    p->got = malloc((size_t)items * 4u);
    if (p->got == NULL)
        bench_fail("out of host memory");
    p->sums = clCreateBuffer(g->context, CL_MEM_READ_WRITE,
                             (size_t)items * 4u, NULL, &err);
    check(err, "the sums' buffer");
    p->kernel = new_kernel(g->pairs, "pairs");
    check(clSetKernelArg(p->kernel, 1, sizeof p->sums, &p->sums), "sums");
    check(clSetKernelArg(p->kernel, 2, sizeof rounds, &rounds), "rounds");
    check(clSetKernelArg(p->kernel, 3, sizeof size, &size), "size");
    if (split)
        p->split = sub_split(g, &params);
    else
        p->set = parent_set(g, &params);
}

static void pairs_close(pairs_run *p)
{
    carve_set_release(p->set);
    carve_split_release(p->split);
    clReleaseKernel(p->kernel);
    clReleaseMemObject(p->sums);
    free(p->got);
}

/* Both variants for `items` work-items: two rows. */
static void measure_pairs(bench_report *r, const rig *g,
                          const bench_options *o, uint32_t items,
                          uint32_t rounds)
{
    static bench_run_fn const runs[2] = {run_pairs, run_pairs};
    uint32_t *expected = malloc((size_t)items * 4u), id, n;
    pairs_run p[2];
    void *const contexts[2] = {&p[0], &p[1]};
    bench_timing timings[2];
    double pairs = (double)items * rounds * BENCH_BATCH;
    char label[32];
    int i;
    if (expected == NULL)
        bench_fail("out of host memory");
    for (id = 0; id < items; ++id) {
        uint32_t sum = 0;
        for (n = 0; n < rounds * BENCH_BATCH; ++n)
            sum += bench_tag(id, n);
        expected[id] = sum;
    }
    for (i = 0; i < 2; ++i)
        pairs_open(&p[i], g, items, rounds, expected, i);
    bench_time_together(o, 2, runs, contexts, timings);
    snprintf(label, sizeof label, "2^%d", __builtin_ctz(items));
    bench_row(r, label, items, g->parent_name, timings[0], pairs, NULL, 0);
    bench_row(r, label, items, g->split_name, timings[1], pairs, NULL, 0);
    for (i = 0; i < 2; ++i)
        pairs_close(&p[i]);
    free(expected);
}

static void section_pairs(bench_report *r, const rig *g,
                          const bench_options *o)
{
    uint32_t rounds = o->quick ? 2u : 8u, items;
    uint32_t first = 1u << 10, last = o->quick ? 1u << 14 : 1u << 18;
    bench_section(r, "pairs", "items", "pairs", g->parent_name);
    bench_note(r, "%u-byte blocks, %u alloc/free pairs per work-item (%u "
               "rounds of %u allocations, then %u frees in a scrambled "
               "order), as bench_alloc's pairs",
               PAIRS_SIZE, rounds * BENCH_BATCH, rounds, BENCH_BATCH,
               BENCH_BATCH);
    for (items = first; items <= last; items <<= 2)
        measure_pairs(r, g, o, items, rounds);
}

/* ---- the devices -------------------------------------------------------- */

/* Every compute unit its own sub-device, or, on a device with more than
 * CARVE_SPLIT_MAX_DEVICES units, as few units each as keep to that many
 * sub-devices. Exits 77 (skipped) where the device cannot be split in
 * two or more. */
static void make_sub_devices(rig *g)
{
    cl_device_partition_property equally[3] = {CL_DEVICE_PARTITION_EQUALLY,
                                               0, 0};
    cl_int err = clGetDeviceInfo(g->parent, CL_DEVICE_MAX_COMPUTE_UNITS,
                                 sizeof g->units, &g->units, NULL);
    check(err, "CL_DEVICE_MAX_COMPUTE_UNITS");
    g->units_each = (g->units + CARVE_SPLIT_MAX_DEVICES - 1) /
                    CARVE_SPLIT_MAX_DEVICES;
    equally[1] = (cl_device_partition_property)g->units_each;
    err = clCreateSubDevices(g->parent, equally, CARVE_SPLIT_MAX_DEVICES,
                             g->sub, &g->count);
    if (err != CL_SUCCESS || g->count < 2) {
        printf("the device (%u compute units) makes no two sub-devices of %u "
               "units each (%s): skipping\n",
               (unsigned)g->units, (unsigned)g->units_each,
               carve_status_string(err));
        exit(CARVE_TEST_SKIP);
    }
}

static cl_program build_for_all(const rig *g, const char *source)
{
    cl_device_id all[CARVE_SPLIT_MAX_DEVICES + 1];
    cl_program program = NULL;
    char *log = NULL;
    carve_status status;
    cl_uint i;
    all[0] = g->parent;
    for (i = 0; i < g->count; ++i)
        all[i + 1] = g->sub[i];
    status = carve_program_build_for_devices(g->context, g->count + 1, all,
                                             source, "-cl-std=CL1.2",
                                             &program, &log);
    if (status != CARVE_SUCCESS)
        bench_fail("building the kernels: %s\n%s",
                   carve_status_string(status), log ? log : "(no log)");
    free(log);
    return program;
}

static void rig_open(rig *g)
{
    carve_test_cl cl = carve_test_open_cl(); /* exits 77 without a device */
    cl_device_id all[CARVE_SPLIT_MAX_DEVICES + 1];
    cl_int err;
    cl_uint i;
    memset(g, 0, sizeof *g);
    g->parent = cl.device;
    carve_test_close_cl(&cl);
    make_sub_devices(g);
    all[0] = g->parent;
    for (i = 0; i < g->count; ++i)
        all[i + 1] = g->sub[i];
    g->context = clCreateContext(NULL, g->count + 1, all, NULL, NULL, &err);
    check(err, "a context of the parent and its sub-devices");
    g->parent_queue = clCreateCommandQueue(g->context, g->parent, 0, &err);
    check(err, "the parent's queue");
    for (i = 0; i < g->count; ++i) {
        g->queue[i] = clCreateCommandQueue(g->context, g->sub[i], 0, &err);
        check(err, "a sub-device's queue");
    }
    g->tokenize = build_for_all(g, kernel_source);
    g->pairs = build_for_all(g, pairs_source);
    snprintf(g->parent_name, sizeof g->parent_name, "parent, %u CU",
             (unsigned)g->units);
    snprintf(g->split_name, sizeof g->split_name, "split, %u x %u CU",
             (unsigned)g->count, (unsigned)g->units_each);
}

static void rig_close(rig *g)
{
    cl_uint i;
    clReleaseProgram(g->tokenize);
    clReleaseProgram(g->pairs);
    for (i = 0; i < g->count; ++i) {
        clReleaseCommandQueue(g->queue[i]);
        clReleaseDevice(g->sub[i]);
    }
    clReleaseCommandQueue(g->parent_queue);
    clReleaseContext(g->context);
}

/* The facts of the set-up, and how a split lays out its memory. */
static void describe(bench_report *r, const rig *g)
{
    const size_t items = 1024;
    carve_plan_params params = one_d_params(items, 1024);
    carve_split *split = sub_split(g, &params);
    carve_split_info info;
    char text[256] = "?";
    clGetDeviceInfo(g->parent, CL_DEVICE_NAME, sizeof text, text, NULL);
    bench_fact(r, "device", text);
    snprintf(text, sizeof text, "%u sub-devices of %u compute unit%s "
             "each, CL_DEVICE_PARTITION_EQUALLY, of a parent of %u",
             (unsigned)g->count, (unsigned)g->units_each,
             g->units_each == 1 ? "" : "s", (unsigned)g->units);
    bench_fact(r, "sub_devices", text);
    check(carve_split_info_get(split, &info), "carve_split_info_get");
    snprintf(text, sizeof text, "%u region%s: %s", (unsigned)info.region_count,
             info.region_count == 1 ? "" : "s", info.why);
    bench_fact(r, "split_memory", text);
    carve_split_release(split);
}

int main(int argc, char **argv)
{
    bench_options o = bench_parse(
        argc, argv, "bench_split",
        "One launch split over sub-devices (carve_split_run), every compute "
        "unit its own,\nagainst the same launch on their parent device: the "
        "tokenizer example and\nalloc/free pairs.");
    rig g;
    bench_report *r;
    rig_open(&g);
    r = bench_report_begin(&o, "bench_split");
    describe(r, &g);
    if (bench_wanted(&o, "tokenize"))
        section_tokenize(r, &g, &o);
    if (bench_wanted(&o, "pairs"))
        section_pairs(r, &g, &o);
    rig_close(&g);
    return bench_report_end(r);
}
