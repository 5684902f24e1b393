/*
 * zero_copy.c - the cost of a host -> kernel -> host round trip, by buffer
 * size, with carve's zero-copy allocations against copying.
 *
 * One round trip: the host writes its input, hands the buffer to the
 * device, a kernel runs, the host takes the buffer back and reads the
 * result. The kernel does a fixed, small amount of work whatever the size
 * (it updates TOUCHED words spread evenly over the buffer, every word at
 * 4 KiB), and the host writes and reads those same words, so what grows
 * with the size is only the cost of moving the buffer between host and
 * device:
 *   copy         a plain buffer: clEnqueueWriteBuffer of the whole size,
 *                kernel, clEnqueueReadBuffer of the whole size (baseline);
 *   carve zc     carve_zc_malloc in a region: carve_zc_to_device, kernel,
 *                carve_zc_to_host; the host works on the buffer in place;
 *   OpenCL map   a CL_MEM_ALLOC_HOST_PTR buffer with map/unmap around the
 *                host's accesses: what OpenCL alone offers, for comparison;
 *   carve zc, packed  the zero-copy round trip with the TOUCHED words
 *                side by side at the start of the buffer: the same words
 *                on the same pages at every size, so that its growth with
 *                the size is the hand-over's alone (spread words land on
 *                one page each, which costs page walks and cache misses
 *                that grow until they are all on distinct pages).
 * Every round trip checks the words the kernel updated; a wrong value
 * stops the benchmark with exit 1.
 */
#include "bench.h"
#include "device_support.h"

#define TOUCHED 1024u
#define SMALLEST (4u << 10)
#define LARGEST_FULL (256u << 20)
#define LARGEST_QUICK (4u << 20)

static const char *const source =
    "kernel void touch(global uint *words, uint stride, uint round)\n"
    "{\n"
    "    global uint *w = words + get_global_id(0) * stride;\n"
    "    *w = *w * 3u + round;\n"
    "}\n";

typedef struct trip {
    const carve_test_cl *cl;
    cl_kernel kernel;
    size_t bytes;
    uint32_t stride; /* words between two touched words */
    uint32_t round;  /* changes every run, so a stale result cannot pass */
    uint32_t *host;  /* where the host writes and reads */
    cl_mem buffer;   /* copy and map variants */
} trip;

static uint32_t input_word(uint32_t i, uint32_t round)
{
    return i * 2654435761u + round;
}

static void write_input(trip *t, uint32_t *words)
{
    uint32_t i;
    ++t->round;
    for (i = 0; i < TOUCHED; ++i)
        words[(size_t)i * t->stride] = input_word(i, t->round);
}

/* 1 if every touched word holds what the kernel makes of the input. */
static int result_ok(const trip *t, const uint32_t *words)
{
    uint32_t i;
    for (i = 0; i < TOUCHED; ++i) {
        uint32_t want = input_word(i, t->round) * 3u + t->round;
        if (words[(size_t)i * t->stride] != want) {
            fprintf(stderr, "word %u of %zu bytes: %u, expected %u\n",
                    (unsigned)i, t->bytes,
                    (unsigned)words[(size_t)i * t->stride], (unsigned)want);
            return 0;
        }
    }
    return 1;
}

static cl_int launch(trip *t, cl_event *done)
{
    size_t global = TOUCHED;
    cl_int err = clSetKernelArg(t->kernel, 1, sizeof t->stride, &t->stride);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(t->kernel, 2, sizeof t->round, &t->round);
    if (err == CL_SUCCESS)
        err = clEnqueueNDRangeKernel(t->cl->queue, t->kernel, 1, NULL, &global,
                                     NULL, 0, NULL, done);
    return err;
}

static double fail_with(const char *what, cl_int err)
{
    fprintf(stderr, "%s: %s\n", what, carve_status_string(err));
    return -1.0;
}

static double run_zero_copy(void *context)
{
    trip *t = context;
    cl_event done = NULL;
    cl_int err;
    double start = bench_now(), seconds;
    write_input(t, t->host);
    err = carve_zc_to_device(t->host, 0);
    if (err == CL_SUCCESS)
        err = launch(t, &done);
    if (err == CL_SUCCESS)
        err = carve_zc_to_host(t->host, 0, 1, &done);
    if (done != NULL)
        clReleaseEvent(done);
    if (err != CL_SUCCESS)
        return fail_with("zero-copy round trip", err);
    if (!result_ok(t, t->host))
        return -1.0;
    seconds = bench_now() - start;
    return seconds;
}

static double run_copy(void *context)
{
    trip *t = context;
    cl_int err;
    double start = bench_now();
    write_input(t, t->host);
    err = clEnqueueWriteBuffer(t->cl->queue, t->buffer, CL_FALSE, 0, t->bytes,
                               t->host, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        err = launch(t, NULL);
    if (err == CL_SUCCESS)
        err = clEnqueueReadBuffer(t->cl->queue, t->buffer, CL_TRUE, 0,
                                  t->bytes, t->host, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return fail_with("copying round trip", err);
    if (!result_ok(t, t->host))
        return -1.0;
    return bench_now() - start;
}

static double run_map(void *context)
{
    trip *t = context;
    cl_command_queue q = t->cl->queue;
    cl_int err;
    double start = bench_now();
    uint32_t *words = clEnqueueMapBuffer(q, t->buffer, CL_TRUE,
                                         CL_MAP_READ | CL_MAP_WRITE, 0,
                                         t->bytes, 0, NULL, NULL, &err);
    int ok;
    if (err != CL_SUCCESS)
        return fail_with("map for writing", err);
    write_input(t, words);
    err = clEnqueueUnmapMemObject(q, t->buffer, words, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        err = launch(t, NULL);
    if (err == CL_SUCCESS)
        words = clEnqueueMapBuffer(q, t->buffer, CL_TRUE, CL_MAP_READ, 0,
                                   t->bytes, 0, NULL, NULL, &err);
    if (err != CL_SUCCESS)
        return fail_with("map round trip", err);
    ok = result_ok(t, words);
    err = clEnqueueUnmapMemObject(q, t->buffer, words, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        err = clFinish(q);
    if (err != CL_SUCCESS)
        return fail_with("unmap after reading", err);
    return ok ? bench_now() - start : -1.0;
}

static cl_mem new_buffer(const carve_test_cl *cl, cl_mem_flags flags,
                         size_t bytes)
{
    cl_int err;
    cl_mem mem = clCreateBuffer(cl->context, flags, bytes, NULL, &err);
    if (err != CL_SUCCESS)
        bench_fail("clCreateBuffer of %zu bytes: %s", bytes,
                   carve_status_string(err));
    return mem;
}

/* A zero-copy row, with its time over its own time at the smallest size. */
static void zc_row(bench_report *report, const char *label, size_t bytes,
                   const char *variant, bench_timing timing)
{
    double smallest = bytes == SMALLEST
                          ? timing.median
                          : bench_median(report, "round trip", "4 KiB",
                                         variant);
    bench_row(report, label, (double)bytes, variant, timing, 0, "x(4 KiB)",
              timing.median / smallest);
}

enum { COPY, MAP, ZERO_COPY, PACKED, VARIANTS };
static const char *const variant_names[VARIANTS] = {
    "copy", "OpenCL map/unmap", "carve zero-copy", "carve zc, packed"};
static bench_run_fn const variant_runs[VARIANTS] = {
    run_copy, run_map, run_zero_copy, run_zero_copy};

static void check(cl_int err, const char *what)
{
    if (err != CL_SUCCESS)
        bench_fail("%s: %s", what, carve_status_string(err));
}

/* One buffer size: the four variants, timed in turns, each with its own
 * kernel object so that arguments bound once stay bound. The host's data
 * is made before the round trips start: first touches of fresh pages are
 * not part of a hand-over. Without a report, a warm-up whose figures are
 * dropped. */
static void measure_size(bench_report *report, const bench_options *options,
                         const carve_test_cl *cl, cl_program program,
                         carve_region *region, size_t bytes)
{
    trip t[VARIANTS];
    void *contexts[VARIANTS];
    bench_timing timings[VARIANTS];
    char label[32];
    cl_int err = CL_SUCCESS;
    int v;
    void *shared;
    memset(t, 0, sizeof t);
    for (v = 0; v < VARIANTS; ++v) {
        t[v].cl = cl;
        t[v].bytes = bytes;
        t[v].stride = (uint32_t)(bytes / sizeof(uint32_t) / TOUCHED);
        t[v].kernel = clCreateKernel(program, "touch", &err);
        check(err, "clCreateKernel");
        contexts[v] = &t[v];
    }
    t[PACKED].stride = 1;

    t[COPY].host = dev_xmalloc(bytes);
    memset(t[COPY].host, 0, bytes);
    t[COPY].buffer = new_buffer(cl, CL_MEM_READ_WRITE, bytes);
    t[MAP].buffer =
        new_buffer(cl, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, bytes);
    for (v = COPY; v <= MAP; ++v)
        check(clSetKernelArg(t[v].kernel, 0, sizeof t[v].buffer,
                             &t[v].buffer),
              "clSetKernelArg");
    /* Both zero-copy variants use one allocation: each run writes and
     * checks its own words. */
    shared = carve_zc_malloc(region, bytes);
    if (shared == NULL)
        bench_fail("carve_zc_malloc(%zu): %s", bytes,
                   carve_status_string(carve_zc_last_status()));
    memset(shared, 0, bytes);
    for (v = ZERO_COPY; v <= PACKED; ++v) {
        t[v].host = shared;
        check(carve_zc_set_arg(t[v].kernel, 0, shared), "carve_zc_set_arg");
    }

    bench_time_together(options, VARIANTS, variant_runs, contexts, timings);

    check(carve_zc_free(region, shared), "carve_zc_free");
    free(t[COPY].host);
    clReleaseMemObject(t[COPY].buffer);
    clReleaseMemObject(t[MAP].buffer);
    for (v = 0; v < VARIANTS; ++v)
        clReleaseKernel(t[v].kernel);
    if (report == NULL)
        return;
    bench_bytes_label(label, sizeof label, bytes);
    for (v = COPY; v <= MAP; ++v)
        bench_row(report, label, (double)bytes, variant_names[v], timings[v],
                  0, NULL, 0);
    for (v = ZERO_COPY; v <= PACKED; ++v)
        zc_row(report, label, bytes, variant_names[v], timings[v]);
}

static carve_region *open_region(bench_report *report, const carve_test_cl *cl,
                                 size_t largest)
{
    carve_region_params params;
    carve_region_info info;
    carve_region *region = NULL;
    carve_status status;
    char name[256] = "?";
    memset(&params, 0, sizeof params);
    params.backend = CARVE_BACKEND_AUTO;
    params.bytes = largest + (1u << 20); /* room for the probe's block */
    status = carve_region_create(cl->context, cl->device, &params, &region);
    if (status != CARVE_SUCCESS)
        bench_fail("carve_region_create: %s", carve_status_string(status));
    if ((status = carve_region_get_info(region, &info)) != CARVE_SUCCESS)
        bench_fail("carve_region_get_info: %s", carve_status_string(status));
    clGetDeviceInfo(cl->device, CL_DEVICE_NAME, sizeof name, name, NULL);
    bench_fact(report, "device", name);
    bench_fact(report, "zc_backend", info.backend_name);
    bench_fact(report, "zc_verified", info.zero_copy_verified ? "yes" : "NO");
    bench_fact(report, "zc_evidence", info.zero_copy_evidence);
    return region;
}

int main(int argc, char **argv)
{
    bench_options options = bench_parse(
        argc, argv, "bench_zero_copy",
        "Host -> kernel -> host round trips, 4 KiB to 256 MiB (--quick: to "
        "4 MiB):\ncarve's zero-copy allocations against copying.");
    size_t largest = options.quick ? LARGEST_QUICK : LARGEST_FULL, bytes;
    carve_test_cl cl = carve_test_open_cl();
    bench_report *report = bench_report_begin(&options, "bench_zero_copy");
    carve_region *region = open_region(report, &cl, largest);
    cl_program program;
    cl_kernel probe = carve_test_kernel(&cl, source, "touch", &program);
    char big[32], goal[128];
    double zc_small, zc_big, copy_big;

    clReleaseKernel(probe); /* built to fail early; each size makes its own */
    bench_section(report, "round trip", "size", "", "copy");
    bench_note(report, "host writes %u words spread over the buffer, hands it "
               "to the device, a kernel updates them, the host takes it back "
               "and checks them", TOUCHED);
    bench_note(report, "x(4 KiB): the zero-copy time over its own time at "
               "4 KiB (flatness)");
    /* The first figures would otherwise also pay for the device's first
     * launches (thread start-up, kernel caches). */
    measure_size(NULL, &options, &cl, program, region, SMALLEST);
    for (bytes = SMALLEST; bytes <= largest; bytes *= 4)
        measure_size(report, &options, &cl, program, region, bytes);

    bench_bytes_label(big, sizeof big, largest);
    zc_small = bench_median(report, "round trip", "4 KiB", "carve zero-copy");
    zc_big = bench_median(report, "round trip", big, "carve zero-copy");
    copy_big = bench_median(report, "round trip", big, "copy");
    snprintf(goal, sizeof goal, "zero-copy round trip, %s over 4 KiB", big);
    bench_goal(report, goal, zc_big / zc_small, "<=", 1.2,
               "the hand-over must not grow with the size (goal stated for "
               "256 MiB)");
    snprintf(goal, sizeof goal, "the same with the words packed, %s over "
             "4 KiB", big);
    bench_goal(report, goal,
               bench_median(report, "round trip", big, "carve zc, packed") /
                   bench_median(report, "round trip", "4 KiB",
                                "carve zc, packed"),
               "<=", 1.2, "the hand-over alone: same words, same pages at "
               "every size");
    snprintf(goal, sizeof goal, "copying over zero-copy at %s", big);
    bench_goal(report, goal, copy_big / zc_big, ">=", 50.0,
               "zero-copy must beat copying the buffer both ways (goal stated "
               "for 256 MiB)");

    clReleaseProgram(program);
    carve_region_release(region);
    carve_test_close_cl(&cl);
    return bench_report_end(report);
}
