/*
 * fit.c - plan fitting on profiles whose right answer is known: work-item
 * i needs (i + 1) x 64 bytes. The fitted plan is then built and the same
 * work run in it, which must succeed for every work-item.
 *
 * With a path argument, also saves the profile's event log there (for the
 * `carve fit` tests).
 */
#include "diag_fixture.h"

#define ITEMS 10u
#define SITE DIAG_SITE(0, 7)
#define NEED(i) (((i) + 1u) * 64u)
#define NEVER 0xffffffffu

/* The profiling run: work-item i holds one block of NEED(i) bytes, and
 * `failing` (if < ITEMS) also asks for more than there is. */
static void run_profile(core_fixture *f, uint32_t failing, uint32_t extra)
{
    uint32_t i;
    for (i = 0; i < ITEMS; ++i) {
        carve_arena a = fixture_open(f, i);
        EXPECT(carve_alloc_malloc(&a, NEED(i) + (i == 0 ? extra : 0), 16,
                                  SITE) != NULL);
        if (i == failing)
            EXPECT(carve_alloc_malloc(&a, 1u << 20, 16, SITE) == NULL);
    }
}

static core_fixture profiled(uint32_t event_records, uint32_t failing,
                             uint32_t extra)
{
    carve_plan_params p = diag_params(ITEMS, 2048);
    core_fixture f;
    p.event_log_records = event_records;
    f = fixture_make_params(&p);
    run_profile(&f, failing, extra);
    return f;
}

/* Builds the fitted plan and runs the profiled work in it: nothing may
 * fail, and the work-items above the cut must have used the heap. */
static void expect_fit_serves(const carve_fit *fit)
{
    core_fixture f = fixture_make_params(&fit->params);
    carve_summary s;
    uint32_t i, spilled = 0;
    run_profile(&f, ITEMS, 0);
    REQUIRE_OK(carve_layout_summary(f.image, &s));
    for (i = 0; i < ITEMS; ++i)
        spilled += NEED(i) > f.plan.arena_bytes;
    EXPECT(s.failed_count == 0);
    EXPECT(s.heap_allocs == spilled);
    REQUIRE_OK(carve_layout_check(f.image, NULL, NULL));
    fixture_free(&f);
}

/* The parameters an image was planned with give the fit their NDRange;
 * parameters for another number of arenas are refused. */
static void test_planned_shape(const void *image)
{
    carve_plan_params planned;
    carve_fit fit, untouched;
    memset(&planned, 0, sizeof planned);
    planned.work_dim = 2;
    planned.global_size[0] = ITEMS / 2;
    planned.global_size[1] = 2;
    planned.arena_bytes = 2048;
    REQUIRE_OK(carve_layout_fit(image, &planned, 100, &fit));
    EXPECT(fit.params.work_dim == 2 && fit.params.global_size[0] == ITEMS / 2 &&
           fit.params.global_size[1] == 2 && fit.params.arena_bytes == 640);
    memset(&fit, 0x5a, sizeof fit);
    untouched = fit;
    planned.global_size[1] = 3;
    EXPECT_STATUS(carve_layout_fit(image, &planned, 100, &fit),
                  CARVE_ERROR_INVALID_ARGUMENT);
    planned.work_dim = 0;
    planned.arena_count = ITEMS + 1;
    EXPECT_STATUS(carve_layout_fit(image, &planned, 100, &fit),
                  CARVE_ERROR_INVALID_ARGUMENT);
    planned.work_dim = 4;
    EXPECT_STATUS(carve_layout_fit(image, &planned, 100, &fit),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT(memcmp(&fit, &untouched, sizeof fit) == 0);
}

static void test_from_statistics(void)
{
    core_fixture f = profiled(0, ITEMS, 0);
    uint32_t classes_4k = carve_heap_class_count(4096);
    carve_fit fit;
    REQUIRE_OK(carve_layout_fit(f.image, NULL, 100, &fit));
    EXPECT(fit.work_items == ITEMS && fit.max_need_bytes == 640);
    EXPECT(fit.params.arena_bytes == 640 && fit.params.heap_bytes == 0);
    EXPECT(fit.above_cut == 0 && fit.spill_bytes == 0);
    EXPECT(fit.params.options == 0 && fit.params.large_request_bytes == 0);
    EXPECT(fit.params.arena_count == ITEMS && fit.params.work_dim == 0);
    EXPECT(fit.profiled_arena_bytes == 2048);
    test_planned_shape(f.image);
    EXPECT(fit.profiled_total_bytes == ITEMS * 2048);
    EXPECT(fit.fitted_total_bytes == ITEMS * 640);
    expect_fit_serves(&fit);

    /* The 90th percentile of ten is the 9th: 576 B. Work-item 9 spills
     * its 640 B, which cost at most 2.5x that in the heap, in a slot class
     * statistics cannot name, and may hold up to 1 KiB of slots reserved
     * (16 of 64 B, the most of any class at its page share): one page for
     * the bytes, one more for each other class. */
    REQUIRE_OK(carve_layout_fit(f.image, NULL, 90, &fit));
    EXPECT(fit.cut_bytes == 576 && fit.params.arena_bytes == 576);
    EXPECT(fit.above_cut == 1 && fit.spill_bytes == 1600 + 1024 &&
           !fit.spill_exact);
    EXPECT(fit.spill_classes == classes_4k);
    EXPECT(fit.spill_pages == classes_4k);
    EXPECT(fit.params.heap_bytes == 4096ull * classes_4k);
    EXPECT(fit.params.heap_page_bytes == 4096);
    EXPECT(fit.params.options == CARVE_PLAN_HEAP_FALLBACK);
    EXPECT(fit.params.large_request_bytes == NEVER);
    EXPECT(fit.understated == 0);
    expect_fit_serves(&fit);

    /* Saved without an event log, the statistics give the same bound. */
    {
        carve_event_log *log = NULL;
        const carve_event_log *logs[1];
        carve_fit saved;
        REQUIRE_OK(carve_layout_event_log(f.image, &log));
        logs[0] = log;
        REQUIRE_OK(carve_event_log_fit(logs, 1, 90, &saved));
        EXPECT(!saved.spill_exact && saved.spill_bytes == 1600 + 1024);
        EXPECT(saved.params.heap_bytes == fit.params.heap_bytes);
        carve_event_log_release(log);
    }

    /* The median: 320 B; work-items 5 to 9 spill 2.5 x 2560 B and hold
     * up to 1 KiB each. */
    REQUIRE_OK(carve_layout_fit(f.image, NULL, 50, &fit));
    EXPECT(fit.cut_bytes == 320 && fit.above_cut == 5);
    EXPECT(fit.spill_bytes == 6400 + 5 * 1024 &&
           fit.spill_pages == 3 + classes_4k - 1);
    expect_fit_serves(&fit);

    /* Below every need but the first. */
    REQUIRE_OK(carve_layout_fit(f.image, NULL, 1, &fit));
    EXPECT(fit.cut_bytes == 64 && fit.above_cut == 9);
    expect_fit_serves(&fit);
    fixture_free(&f);
}

/* Spilling blocks of six slot classes need a page each, however few
 * bytes they hold: the event log knows the classes. */
static void test_classes_need_pages(void)
{
    core_fixture f = profiled(64, ITEMS, 0);
    carve_event_log *log = NULL;
    const carve_event_log *logs[1];
    carve_fit fit;
    REQUIRE_OK(carve_layout_event_log(f.image, &log));
    logs[0] = log;
    REQUIRE_OK(carve_event_log_fit(logs, 1, 1, &fit));
    /* 128 ... 640 B take slots of 128, 192, 256, 384, 512 and 768 B:
     * 4064 B of page shares. Each work-item may hold up to 1 KiB of slots
     * reserved, of any class (one that frees others' blocks may hold a
     * class it never asked for): 9 KiB for the nine. Four pages, and one
     * more for each class but one. */
    EXPECT(fit.above_cut == 9 && fit.spill_classes == 6);
    EXPECT(fit.spill_bytes == 4064 + 9 * 1024);
    EXPECT(fit.spill_pages == 4 + 5 && fit.params.heap_bytes == 9 * 4096);
    expect_fit_serves(&fit);
    carve_event_log_release(log);
    fixture_free(&f);
}

/* From an event log with every event kept, the spill is what the heap
 * would really give: work-item 9's 640 B take a 768 B slot, five to a
 * page, so 820 B of one, and it may hold up to 1 KiB of slots reserved. */
static void test_from_event_log(const char *save_to)
{
    core_fixture f = profiled(64, ITEMS, 0);
    carve_event_log *log = NULL;
    const carve_event_log *logs[1];
    carve_fit fit;
    REQUIRE_OK(carve_layout_event_log(f.image, &log));
    if (save_to != NULL)
        REQUIRE_OK(carve_event_log_save(log, save_to));
    logs[0] = log;
    REQUIRE_OK(carve_event_log_fit(logs, 1, 90, &fit));
    EXPECT(fit.cut_bytes == 576 && fit.above_cut == 1);
    EXPECT(fit.spill_exact && fit.spill_bytes == 820 + 1024);
    EXPECT(fit.spill_classes == 1 && fit.spill_pages == 1);
    EXPECT(fit.params.heap_bytes == 4096);
    EXPECT(fit.params.event_log_records == 64);
    expect_fit_serves(&fit);
    /* The image itself fits the same way: it has the log. */
    memset(&fit, 0, sizeof fit);
    REQUIRE_OK(carve_layout_fit(f.image, NULL, 90, &fit));
    EXPECT(fit.spill_exact && fit.spill_bytes == 820 + 1024);
    carve_event_log_release(log);
    fixture_free(&f);
}

/* Two runs of one plan: every work-item of both counts. */
static void test_pooled_runs(void)
{
    core_fixture a = profiled(64, ITEMS, 0), b = profiled(64, ITEMS, 960);
    carve_event_log *la = NULL, *lb = NULL;
    const carve_event_log *logs[2];
    carve_fit fit;
    carve_plan_params other = diag_params(ITEMS + 1, 2048);
    core_fixture c;
    REQUIRE_OK(carve_layout_event_log(a.image, &la));
    REQUIRE_OK(carve_layout_event_log(b.image, &lb));
    logs[0] = la;
    logs[1] = lb;
    REQUIRE_OK(carve_event_log_fit(logs, 2, 100, &fit));
    /* Run b's work-item 0 needed 64 + 960 B. */
    EXPECT(fit.work_items == 2 * ITEMS && fit.max_need_bytes == 1024);
    EXPECT(fit.params.arena_bytes == 1024 && fit.params.heap_bytes == 0);
    carve_event_log_release(lb);
    /* A log of another plan cannot be pooled with these. */
    other.event_log_records = 64;
    c = fixture_make_params(&other);
    REQUIRE_OK(carve_layout_event_log(c.image, &lb));
    logs[1] = lb;
    EXPECT_STATUS(carve_event_log_fit(logs, 2, 100, &fit),
                  CARVE_ERROR_INVALID_ARGUMENT);
    carve_event_log_release(la);
    carve_event_log_release(lb);
    fixture_free(&a);
    fixture_free(&b);
    fixture_free(&c);
}

/* A work-item whose request failed needed more than was measured. */
static void test_understated(void)
{
    core_fixture f = profiled(0, 3, 0);
    carve_fit fit;
    REQUIRE_OK(carve_layout_fit(f.image, NULL, 100, &fit));
    EXPECT(fit.understated == 1);
    fixture_free(&f);
}

/* A profile whose large requests went to its heap keeps that heap and its
 * threshold. */
static void test_profiled_heap(void)
{
    carve_plan_params p = diag_params(4, 1024);
    core_fixture f;
    carve_arena a;
    carve_fit fit;
    p.heap_bytes = 16384;
    f = fixture_make_params(&p);
    a = fixture_open(&f, 0);
    EXPECT(carve_alloc_malloc(&a, 500, 16, SITE) != NULL); /* >= 257: heap */
    EXPECT(carve_alloc_malloc(&a, 100, 16, SITE) != NULL);
    REQUIRE_OK(carve_layout_fit(f.image, NULL, 100, &fit));
    EXPECT(fit.params.arena_bytes == 112 && fit.profiled_heap_bytes == 16384);
    EXPECT(fit.params.heap_bytes == 16384);
    EXPECT(fit.params.large_request_bytes == 257);
    EXPECT(fit.params.options == 0);
    fixture_free(&f);
}

static void test_output_and_refusals(void)
{
    core_fixture f = profiled(0, ITEMS, 0);
    carve_fit fit;
    json_flat j;
    FILE *out;
    char *text;
    const carve_event_log *none[1] = {NULL};
    REQUIRE_OK(carve_layout_fit(f.image, NULL, 90, &fit));
    out = diag_capture_begin();
    REQUIRE_OK(carve_fit_print(&fit, out, CARVE_FORMAT_TEXT));
    text = diag_capture_end(out);
    EXPECT_CONTAINS(text, "carve fit: 10 work-item(s) measured; percentile 90");
    EXPECT_CONTAINS(text, "needs (peak footprints): max 640 B; at the "
                          "percentile 576 B");
    EXPECT_CONTAINS(text, "arena_bytes 576 (was 2048): 1 work-item(s) need "
                          "more and spill into the heap");
    EXPECT_CONTAINS(text, "+ 14 pages of 4096 B for the spill (costs 2624 B "
                          "bounded from statistics, 14 slot class(es))");
    EXPECT_CONTAINS(text, "options: CARVE_PLAN_HEAP_FALLBACK");
    free(text);
    out = diag_capture_begin();
    REQUIRE_OK(carve_fit_print(&fit, out, CARVE_FORMAT_JSON));
    text = diag_capture_end(out);
    EXPECT(json_flatten(text, &j));
    EXPECT_JSON(&j, "\"carve-fit\"", "format");
    EXPECT_JSON(&j, "576", "params.arena_bytes");
    EXPECT_JSON(&j, "57344", "params.heap_bytes");
    EXPECT_JSON(&j, "true", "params.heap_fallback");
    EXPECT_JSON(&j, "4294967295", "params.large_request_bytes");
    EXPECT_JSON(&j, "false", "spill_exact");
    json_free(&j);
    free(text);

    EXPECT_STATUS(carve_layout_fit(f.image, NULL, 0, &fit),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_layout_fit(f.image, NULL, 100.5, &fit),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_layout_fit(f.image, NULL, -3, &fit),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_layout_fit(NULL, NULL, 50, &fit),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_event_log_fit(none, 1, 50, &fit),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_event_log_fit(none, 0, 50, &fit),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_fit_print(&fit, NULL, CARVE_FORMAT_TEXT),
                  CARVE_ERROR_INVALID_ARGUMENT);
    fixture_free(&f);
}

int main(int argc, char **argv)
{
    test_from_statistics();
    test_from_event_log(argc > 1 ? argv[1] : NULL);
    test_classes_need_pages();
    test_pooled_runs();
    test_understated();
    test_profiled_heap();
    test_output_and_refusals();
    return carve_test_finish("host_fit");
}
