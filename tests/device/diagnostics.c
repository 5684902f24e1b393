/*
 * diagnostics.c - the post-mortem report and the event log on a device.
 *
 * Launch 1 plants a bug of every kind, one per work-item, in a plan with
 * checks and an event log; carve_layout_report must name each one's kind,
 * work-item and line (the kernel source's __LINE__ of the call, found
 * here from a marker on that line).
 *
 * Launch 2 runs an ordinary kernel with an event log, checks its analysis
 * against what the kernel does, and saves the log to argv[1], with
 * argv[1].expect and argv[1].fit.expect: what `carve log` and `carve fit`
 * must print for it (tools/carve/tests run them).
 */
#include "device_support.h"

#include <carve/diagnostics.h>

#define BUG_ITEMS 10u
#define WORK_ITEMS 64u

static const char *const bugs_source = DEV_KERNEL_PRELUDE
    "kernel void bugs(global uchar *carved, global uint *elsewhere,\n"
    "                 uint victim)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uchar *p = 0;\n"
    "    if (id == 4 || id == 7)\n"
    "        p = carve_malloc(&a, 48); /* @leak_a */\n"
    "    switch (id) {\n"
    "    case 0:\n"
    "        p = carve_malloc(&a, 32);\n"
    "        carve_free(&a, p);\n"
    "        carve_free(&a, p); /* @double_free */\n"
    "        break;\n"
    "    case 1:\n"
    "        p = carve_malloc(&a, 64);\n"
    "        carve_free(&a, p + 16); /* @interior */\n"
    "        carve_free(&a, p);\n"
    "        break;\n"
    "    case 2:\n"
    "        carve_free(&a, (global void *)elsewhere); /* @foreign */\n"
    "        break;\n"
    "    case 3:\n"
    "        carve_free(&a, carve_pointer(&a, victim)); /* @other */\n"
    "        break;\n"
    "    case 5:\n"
    "        p = carve_malloc(&a, 20); /* @overflow_alloc */\n"
    "        p[20] = 1;\n"
    "        carve_free(&a, p); /* @overflow_free */\n"
    "        break;\n"
    "    case 6:\n"
    "        p = carve_malloc(&a, 20); /* @overflow_live */\n"
    "        p[24] = 1;\n"
    "        break;\n"
    "    case 8:\n"
    "        p = carve_malloc(&a, 600); /* @leak_heap */\n"
    "        break;\n"
    "    case 9:\n"
    "        p = carve_malloc(&a, 1u << 20); /* @too_large */\n"
    "        break;\n"
    "    }\n"
    "    carve_arena_close(&a);\n"
    "}\n";

static const char *const work_source = DEV_KERNEL_PRELUDE
    "kernel void work(global uchar *carved)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uchar *keep = carve_malloc(&a, 16 + (id % 4) * 16); /* @keep */\n"
    "    for (uint i = 0; i < 3; ++i) {\n"
    "        global uchar *t = carve_malloc(&a, 24); /* @temp */\n"
    "        carve_free(&a, t); /* @temp_free */\n"
    "    }\n"
    "    if (id % 8 == 0) {\n"
    "        global uchar *big = carve_malloc(&a, 300); /* @big */\n"
    "        carve_free(&a, big); /* @big_free */\n"
    "    }\n"
    "    if (id == 5)\n"
    "        carve_malloc(&a, 100000); /* @fail */\n"
    "    carve_set_root(&a, keep);\n"
    "    carve_arena_close(&a);\n"
    "}\n";

/* The source line holding `marker`: what __LINE__ is there. */
static uint32_t line_of(const char *source, const char *marker)
{
    const char *at = strstr(source, marker), *p;
    uint32_t line = 1;
    if (at == NULL) {
        fprintf(stderr, "marker %s is not in the kernel source\n", marker);
        exit(1);
    }
    for (p = source; p < at; ++p)
        line += *p == '\n';
    return line;
}

/* The error the device or host recorded for `work_item`, or NULL. */
static const carve_error_record *error_of(const carve_report *r,
                                          uint32_t work_item, uint32_t call)
{
    size_t i;
    for (i = 0; i < r->error_count; ++i)
        if (r->errors[i].arena == work_item && r->errors[i].call == call)
            return &r->errors[i];
    return NULL;
}

static void expect_bug(const carve_report *r, uint32_t work_item,
                       uint32_t call, uint32_t kind, const char *marker)
{
    const carve_error_record *e = error_of(r, work_item, call);
    uint32_t line = line_of(bugs_source, marker);
    if (e == NULL || e->kind != kind || e->site != line) {
        fprintf(stderr,
                "work-item %u: expected %s at line %u (%s), found %s at "
                "line %u\n",
                (unsigned)work_item, carve_misuse_string(kind),
                (unsigned)line, marker,
                e ? carve_misuse_string(e->kind) : "nothing",
                e ? (unsigned)e->site : 0u);
        ++carve_test_failures;
    }
}

static const carve_report_group *group_at(const carve_report_group *g,
                                          size_t n, uint32_t site)
{
    size_t i;
    for (i = 0; i < n; ++i)
        if (g[i].site == site)
            return &g[i];
    return NULL;
}

static void check_report_text(const carve_report *r)
{
    FILE *f = tmpfile();
    char want[160], *text;
    long size;
    if (f == NULL)
        exit(1);
    REQUIRE_OK(carve_report_print(r, f, CARVE_FORMAT_TEXT));
    size = ftell(f);
    rewind(f);
    text = dev_xmalloc((size_t)size + 1);
    text[fread(text, 1, (size_t)size, f)] = '\0';
    fclose(f);
    snprintf(want, sizeof want, "freed: work-item 0, carve_free at line %u",
             (unsigned)line_of(bugs_source, "@double_free"));
    EXPECT(strstr(text, want) != NULL);
    snprintf(want, sizeof want, "line %u: 2 block(s), 96 B, in 2 "
                                "work-item(s), first work-item 4",
             (unsigned)line_of(bugs_source, "@leak_a"));
    EXPECT(strstr(text, want) != NULL);
    if (carve_test_failures != 0)
        fputs(text, stderr);
    free(text);
}

static void test_planted_bugs(const carve_test_cl *cl)
{
    size_t global = BUG_ITEMS;
    carve_plan_params params;
    carve_plan plan;
    carve_set *set;
    carve_report *r = NULL;
    cl_program program;
    cl_kernel kernel = carve_test_kernel(cl, bugs_source, "bugs", &program);
    cl_mem elsewhere = dev_buffer(cl, 4096, NULL);
    cl_uint victim;
    const carve_report_group *g;
    memset(&params, 0, sizeof params);
    params.work_dim = 1;
    params.global_size[0] = global;
    params.arena_bytes = 1024;
    params.options = CARVE_PLAN_CHECKS;
    params.event_log_records = 256;
    params.heap_bytes = 16384;
    REQUIRE_OK(carve_plan_compute(&params, &cl->limits, &plan));
    set = dev_set(cl, &plan);
    /* Work-item 4's first block starts its arena. */
    victim = (cl_uint)dev_arena_start(&plan, 4);
    dev_arg(kernel, 1, sizeof elsewhere, &elsewhere);
    dev_arg(kernel, 2, sizeof victim, &victim);
    REQUIRE_OK(carve_set_run(set, kernel, 0, 1, &global, NULL));
    REQUIRE_OK(carve_layout_report(carve_test_image(set), 0, &r));

    EXPECT(r->broken_arenas == 0 && r->heap_broken == 0);
    EXPECT(r->device_errors == 5 && r->error_count == 6);
    expect_bug(r, 0, CARVE_CALL_FREE, CARVE_MISUSE_FREED, "@double_free");
    expect_bug(r, 1, CARVE_CALL_FREE, CARVE_MISUSE_INTERIOR, "@interior");
    expect_bug(r, 2, CARVE_CALL_FREE, CARVE_MISUSE_FOREIGN, "@foreign");
    expect_bug(r, 3, CARVE_CALL_FREE, CARVE_MISUSE_OTHER_ARENA, "@other");
    EXPECT(error_of(r, 3, CARVE_CALL_FREE) != NULL &&
           error_of(r, 3, CARVE_CALL_FREE)->detail == 4);
    expect_bug(r, 5, CARVE_CALL_FREE, CARVE_MISUSE_OVERFLOW, "@overflow_free");
    EXPECT(error_of(r, 5, CARVE_CALL_FREE) != NULL &&
           error_of(r, 5, CARVE_CALL_FREE)->alloc_site ==
               line_of(bugs_source, "@overflow_alloc") &&
           error_of(r, 5, CARVE_CALL_FREE)->detail == 20);
    /* Left live: the host's walk finds it, named by where it came from. */
    expect_bug(r, 6, CARVE_CALL_HOST_CHECK, CARVE_MISUSE_OVERFLOW,
               "@overflow_live");

    EXPECT(r->leaked_blocks == 4);
    g = group_at(r->leaks, r->leak_count, line_of(bugs_source, "@leak_a"));
    EXPECT(g != NULL && g->count == 2 && g->work_items == 2 &&
           g->first_work_item == 4 && g->bytes == 96);
    g = group_at(r->leaks, r->leak_count, line_of(bugs_source, "@leak_heap"));
    EXPECT(g != NULL && g->count == 1 && g->first_work_item == 8 &&
           g->bytes == 600);
    g = group_at(r->leaks, r->leak_count,
                 line_of(bugs_source, "@overflow_live"));
    EXPECT(g != NULL && g->count == 1 && g->first_work_item == 6);
    g = group_at(r->failures, r->failure_count,
                 line_of(bugs_source, "@too_large"));
    EXPECT(g != NULL && g->kind == CARVE_FAIL_TOO_LARGE &&
           g->first_work_item == 9);
    check_report_text(r);

    carve_report_release(r);
    carve_set_release(set);
    clReleaseMemObject(elsewhere);
    clReleaseKernel(kernel);
    clReleaseProgram(program);
}

/* ---- an event log for `carve log` and `carve fit` -------------------------- */

static const carve_event_site *site_of(const carve_event_analysis *a,
                                       const char *marker)
{
    uint32_t line = line_of(work_source, marker);
    size_t i;
    for (i = 0; i < a->site_count; ++i)
        if (a->sites[i].site == line)
            return &a->sites[i];
    fprintf(stderr, "no events at line %u (%s)\n", (unsigned)line, marker);
    exit(1);
}

/* What the kernel does, by construction: work-item i keeps 16 + (i % 4) x
 * 16 B, allocates and frees 24 B three times, every eighth also 300 B in
 * the heap; work-item 5 asks for too much. */
static void check_analysis(const carve_event_analysis *a, const carve_set *set)
{
    const carve_event_site *s;
    size_t i;
    EXPECT(a->complete && a->anomalies == 0);
    EXPECT(a->allocs == 264 && a->frees == 200 && a->failures == 1);
    EXPECT(a->leaked_blocks == WORK_ITEMS && a->leaked_bytes == 2560);
    s = site_of(a, "@keep");
    EXPECT(s->allocs == WORK_ITEMS && s->alloc_bytes == 2560 &&
           s->leaked_blocks == WORK_ITEMS);
    s = site_of(a, "@temp");
    EXPECT(s->allocs == 3 * WORK_ITEMS && s->alloc_bytes == 24 * 3 * WORK_ITEMS);
    EXPECT(site_of(a, "@temp_free")->frees == 3 * WORK_ITEMS);
    EXPECT(site_of(a, "@big")->allocs == WORK_ITEMS / 8);
    EXPECT(site_of(a, "@fail")->failures == 1);
    EXPECT(a->item_count == WORK_ITEMS);
    for (i = 0; i < a->item_count; ++i) {
        const carve_event_item *it = &a->items[i];
        uint32_t keep = 16 + (it->work_item % 4) * 16;
        carve_arena_stats st = dev_stats(set, it->work_item);
        EXPECT(it->footprint_bytes == keep + 32);
        EXPECT(it->footprint_bytes == st.peak_footprint_bytes);
        EXPECT(it->peak_bytes == keep + (it->work_item % 8 == 0 ? 300 : 24));
        EXPECT(it->heap_blocks == (it->work_item % 8 == 0));
    }
}

static FILE *create(const char *path, const char *suffix)
{
    char name[1024];
    FILE *f;
    snprintf(name, sizeof name, "%s%s", path, suffix);
    f = fopen(name, "w");
    if (f == NULL) {
        fprintf(stderr, "cannot write %s\n", name);
        exit(1);
    }
    return f;
}

/* What `carve log` and `carve fit` must print for this log: one regular
 * expression a line (none can hold a newline). */
static void write_expectations(const char *path)
{
    FILE *f = create(path, ".expect");
    fprintf(f, "carve event log: 465 events \\(all kept\\) from 64 arenas\n");
    fprintf(f, "allocations 264, reallocs 0, frees 200, failed requests 1, "
               "anomalies 0\n");
    fprintf(f, "  line %u +64 +2560 B +0 +0 +0 +64\n",
            (unsigned)line_of(work_source, "@keep"));
    fprintf(f, "  line %u +192 +4608 B +0 +0 +0 +0\n",
            (unsigned)line_of(work_source, "@temp"));
    fprintf(f, "  line %u: 64 block\\(s\\), 2560 B\n",
            (unsigned)line_of(work_source, "@keep"));
    fclose(f);
    /* Footprints are 48, 64, 80 and 96 B, sixteen of each. */
    f = create(path, ".fit.expect");
    fprintf(f, "carve fit: 64 work-item\\(s\\) measured\n");
    fprintf(f, "max 96 B. at the percentile 64 B\n");
    fprintf(f, "arena_bytes 64 \\(was 1024\\): 32 work-item\\(s\\) need more\n");
    fprintf(f, "warning: 1 work-item\\(s\\) had failed requests\n");
    fclose(f);
}

static void test_event_log(const carve_test_cl *cl, const char *path)
{
    size_t global = WORK_ITEMS;
    carve_plan_params params;
    carve_plan plan;
    carve_set *set;
    carve_event_log *log = NULL;
    carve_event_analysis *a = NULL;
    cl_program program;
    cl_kernel kernel = carve_test_kernel(cl, work_source, "work", &program);
    memset(&params, 0, sizeof params);
    params.work_dim = 1;
    params.global_size[0] = global;
    params.arena_bytes = 1024;
    params.event_log_records = 1024;
    params.heap_bytes = 16384;
    REQUIRE_OK(carve_plan_compute(&params, &cl->limits, &plan));
    set = dev_set(cl, &plan);
    DEV_RUN(set, kernel, 1, &global);
    REQUIRE_OK(carve_layout_event_log(carve_test_image(set), &log));
    REQUIRE_OK(carve_event_log_analyze(log, &a));
    check_analysis(a, set);
    if (path != NULL) {
        REQUIRE_OK(carve_layout_save_events(carve_test_image(set), path));
        write_expectations(path);
    }
    carve_event_analysis_release(a);
    carve_event_log_release(log);
    carve_set_release(set);
    clReleaseKernel(kernel);
    clReleaseProgram(program);
}

int main(int argc, char **argv)
{
    carve_test_cl cl = carve_test_open_cl();
    const char *path = argc > 1 ? argv[1] : NULL;
    if (path != NULL)
        remove(path); /* never leave a stale log for the tool tests */
    test_planted_bugs(&cl);
    test_event_log(&cl, carve_test_failures == 0 ? path : NULL);
    carve_test_close_cl(&cl);
    return carve_test_finish("device_diagnostics");
}
