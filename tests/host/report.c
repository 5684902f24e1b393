/*
 * report.c - the post-mortem report on images built in memory: the shared
 * allocator front (what kernels run) plants a bug of every kind at known
 * call sites, and the report must name each one's kind, work-item and
 * site, in its structure, its text and its JSON. Then the same run
 * without checks (sites from the event log), with neither (sites
 * unknown), and with broken invariants.
 */
#include "diag_fixture.h"

#define SITE(line) DIAG_SITE(0, line)
#define SCRATCH SITE(10)
#define FIRST_FREE SITE(11)
#define DOUBLE_FREE SITE(12)
#define INTERIOR_FREE SITE(13)
#define FOREIGN_FREE SITE(14)
#define OTHER_FREE SITE(15)
#define OVERFLOW_ALLOC SITE(16)
#define OVERFLOW_FREE SITE(17)
#define OVERFLOW_LIVE SITE(18)
#define LEAK_A SITE(19)
#define LEAK_SLOT DIAG_SITE(3, 40) /* a heap slot, "file 3" */
#define LEAK_LARGE SITE(21)        /* whole heap pages */
#define TOO_LARGE SITE(22)

#define ARENAS 8u
#define ARENA_BYTES 1024u
#define HUGE_REQUEST (1u << 20)

/* 1 << the options each variant plans with. */
enum { WITH_CHECKS = 1, WITH_EVENTS = 2 };

static core_fixture make_image(int variant)
{
    carve_plan_params p = diag_params(ARENAS, ARENA_BYTES);
    p.heap_bytes = 16384;
    p.options = (variant & WITH_CHECKS) ? CARVE_PLAN_CHECKS : 0;
    p.event_log_records = (variant & WITH_EVENTS) ? 256 : 0;
    return fixture_make_params(&p);
}

/* Every kind of bug, each in its own work-item (see the table in
 * check_errors). Returns the offset of work-item 4's block. */
static uint32_t plant_bugs(core_fixture *d, unsigned char *foreign)
{
    carve_arena a[ARENAS];
    unsigned char *victim, *p;
    uint32_t i;
    for (i = 0; i < ARENAS; ++i)
        a[i] = fixture_open(d, i);
    /* leaks: two blocks at LEAK_A, a heap slot and a large heap block */
    victim = carve_alloc_malloc(&a[4], 48, 16, LEAK_A);
    EXPECT(carve_alloc_malloc(&a[7], 48, 16, LEAK_A) != NULL);
    EXPECT(carve_alloc_malloc(&a[7], 600, 16, LEAK_SLOT) != NULL);
    EXPECT(carve_alloc_malloc(&a[7], 3000, 16, LEAK_LARGE) != NULL);
    /* work-item 0: a double free */
    p = carve_alloc_malloc(&a[0], 32, 16, SCRATCH);
    carve_alloc_free(&a[0], p, FIRST_FREE);
    carve_alloc_free(&a[0], p, DOUBLE_FREE);
    /* work-item 1: a pointer inside a block */
    p = carve_alloc_malloc(&a[1], 64, 16, SCRATCH);
    carve_alloc_free(&a[1], p + 16, INTERIOR_FREE);
    carve_alloc_free(&a[1], p, FIRST_FREE);
    /* work-item 2: a pointer from elsewhere; a request too large */
    carve_alloc_free(&a[2], foreign, FOREIGN_FREE);
    EXPECT(carve_alloc_malloc(&a[2], HUGE_REQUEST, 16, TOO_LARGE) == NULL);
    /* work-item 3: work-item 4's block */
    carve_alloc_free(&a[3], victim, OTHER_FREE);
    /* work-item 5: a write past the end, then free */
    p = carve_alloc_malloc(&a[5], 20, 16, OVERFLOW_ALLOC);
    p[20] = 'x';
    carve_alloc_free(&a[5], p, OVERFLOW_FREE);
    /* work-item 6: a write past the end of a block left live */
    p = carve_alloc_malloc(&a[6], 20, 16, OVERFLOW_LIVE);
    p[24] = 'y';
    for (i = 0; i < ARENAS; ++i)
        carve_core_close(&a[i]);
    return diag_offset(d, victim);
}

static void expect_error(const carve_error_record *e, uint32_t kind,
                         uint32_t call, uint32_t work_item, uint32_t site,
                         int line)
{
    if (e->kind != kind || e->call != call || e->arena != work_item ||
        e->site != site) {
        fprintf(stderr,
                "report.c:%d: error is %s/%u in work-item %u at site %#x, "
                "expected %s/%u in %u at %#x\n",
                line, carve_misuse_string(e->kind), (unsigned)e->call,
                (unsigned)e->arena, (unsigned)e->site,
                carve_misuse_string(kind), (unsigned)call,
                (unsigned)work_item, (unsigned)site);
        ++carve_test_failures;
    }
}

#define EXPECT_ERROR(e, kind, call, item, site)                               \
    expect_error((e), (kind), (call), (item), (site), __LINE__)

static const carve_report_group *find_group(const carve_report_group *groups,
                                            size_t n, uint32_t site)
{
    size_t i;
    for (i = 0; i < n; ++i)
        if (groups[i].site == site)
            return &groups[i];
    return NULL;
}

static void expect_leak(const carve_report *r, uint32_t site, uint64_t blocks,
                        uint64_t bytes, uint32_t work_items,
                        uint32_t first_work_item, int line)
{
    const carve_report_group *g = find_group(r->leaks, r->leak_count, site);
    if (g == NULL || g->count != blocks || g->bytes != bytes ||
        g->work_items != work_items || g->first_work_item != first_work_item) {
        fprintf(stderr,
                "report.c:%d: leak at site %#x is %s%llu blocks, %llu B, %u "
                "work-items from %u\n",
                line, (unsigned)site, g ? "" : "missing; ",
                g ? (unsigned long long)g->count : 0ull,
                g ? (unsigned long long)g->bytes : 0ull,
                g ? (unsigned)g->work_items : 0u,
                g ? (unsigned)g->first_work_item : 0u);
        ++carve_test_failures;
    }
}

#define EXPECT_LEAK(r, site, blocks, bytes, items, first)                     \
    expect_leak((r), (site), (blocks), (bytes), (items), (first), __LINE__)

static void check_errors(const carve_report *r, uint32_t victim)
{
    const carve_error_record *e = r->errors;
    EXPECT(r->device_errors == 5 && r->errors_dropped == 0);
    EXPECT(r->error_count == 6);
    if (r->error_count != 6)
        return;
    EXPECT_ERROR(&e[0], CARVE_MISUSE_FREED, CARVE_CALL_FREE, 0, DOUBLE_FREE);
    EXPECT_ERROR(&e[1], CARVE_MISUSE_INTERIOR, CARVE_CALL_FREE, 1,
                 INTERIOR_FREE);
    EXPECT_ERROR(&e[2], CARVE_MISUSE_FOREIGN, CARVE_CALL_FREE, 2,
                 FOREIGN_FREE);
    EXPECT_ERROR(&e[3], CARVE_MISUSE_OTHER_ARENA, CARVE_CALL_FREE, 3,
                 OTHER_FREE);
    EXPECT(e[3].detail == 4 && e[3].offset == victim);
    /* Found by the free: the freeing site, and where the block came from. */
    EXPECT_ERROR(&e[4], CARVE_MISUSE_OVERFLOW, CARVE_CALL_FREE, 5,
                 OVERFLOW_FREE);
    EXPECT(e[4].alloc_site == OVERFLOW_ALLOC && e[4].bytes == 20 &&
           e[4].detail == 20);
    /* Found by the host in a live block: named by its allocation site. */
    EXPECT_ERROR(&e[5], CARVE_MISUSE_OVERFLOW, CARVE_CALL_HOST_CHECK, 6,
                 OVERFLOW_LIVE);
    EXPECT(e[5].alloc_site == OVERFLOW_LIVE && e[5].bytes == 20 &&
           e[5].detail == 24);
    EXPECT(r->error_group_count == 6);
}

static void check_failures_and_peaks(const carve_report *r)
{
    EXPECT(r->failure_count == 1);
    if (r->failure_count == 1) {
        const carve_report_group *g = &r->failures[0];
        EXPECT(g->kind == CARVE_FAIL_TOO_LARGE && g->site == TOO_LARGE);
        EXPECT(g->first_work_item == 2 && g->work_items == 1);
        EXPECT(g->count == 1 && g->bytes == HUGE_REQUEST);
    }
}

/* Footprints with checks (a redzone granule per block): work-items 0, 5
 * and 6 needed 48 B, 4 and 7 64 B, 1 80 B, 2 and 3 nothing. */
static void check_high_water(const carve_report *r)
{
    EXPECT(r->footprint.max == 80 && r->footprint.p50 == 48 &&
           r->footprint.p90 == 80 && r->footprint.p99 == 80);
    EXPECT(r->footprint.mean == 44.0);
    EXPECT(r->in_use.max == 80);
    EXPECT(r->top_count == 3);
    if (r->top_count == 3) {
        EXPECT(r->top[0].work_item == 1 && r->top[0].footprint_bytes == 80);
        EXPECT(r->top[1].work_item == 4 && r->top[1].footprint_bytes == 64);
        EXPECT(r->top[2].work_item == 7 && r->top[2].in_use_bytes == 64);
    }
}

static void check_text(const carve_report *r)
{
    FILE *f = diag_capture_begin();
    char *text;
    REQUIRE_OK(carve_report_print(r, f, CARVE_FORMAT_TEXT));
    text = diag_capture_end(f);
    EXPECT_CONTAINS(text, "carve report: 8 arenas of 1.0 KiB; checks on");
    EXPECT_CONTAINS(text, "invariants: every arena and the heap holds them");
    EXPECT_CONTAINS(text, "freed: work-item 0, carve_free at line 12");
    EXPECT_CONTAINS(text, "interior: work-item 1, carve_free at line 13");
    EXPECT_CONTAINS(text, "foreign: work-item 2, carve_free at line 14");
    /* Records past the report's top 3 show in the groups only. */
    EXPECT_CONTAINS(text, "first 3 error(s) in order:");
    EXPECT(strstr(text, "other_arena: work-item 3") == NULL);
    EXPECT_CONTAINS(text, "other_arena carve_free at line 15: 1 time(s) in 1 "
                          "work-item(s), first work-item 3");
    EXPECT_CONTAINS(text, "overflow    carve_free at line 17: 1 time(s) in 1 "
                          "work-item(s), first work-item 5");
    EXPECT_CONTAINS(text, "overflow    found by the host's check, block from "
                          "line 18: 1 time(s) in 1 work-item(s), first "
                          "work-item 6");
    EXPECT_CONTAINS(text, "leaks: 5 block(s), 3716 B still live at the end");
    EXPECT_CONTAINS(text, "line 19: 2 block(s), 96 B, in 2 work-item(s), "
                          "first work-item 4");
    EXPECT_CONTAINS(text, "file 3 line 40: 1 block(s), 600 B");
    EXPECT_CONTAINS(text, "larger than the arena (and the heap) at line 22");
    EXPECT_CONTAINS(text, "top: work-item 1: footprint 80 B, in use 80 B");
    free(text);
}

static void check_json(const carve_report *r, uint32_t victim)
{
    FILE *f = diag_capture_begin();
    json_flat j;
    char *text, want[32];
    REQUIRE_OK(carve_report_print(r, f, CARVE_FORMAT_JSON));
    text = diag_capture_end(f);
    EXPECT(json_flatten(text, &j));
    EXPECT_JSON(&j, "\"carve-report\"", "format");
    EXPECT_JSON(&j, "true", "checks");
    EXPECT_JSON(&j, "5", "errors.device_kept");
    EXPECT_JSON(&j, "1", "errors.host_found");
    EXPECT_JSON(&j, "\"freed\"", "errors.records[0].kind");
    EXPECT_JSON(&j, "\"free\"", "errors.records[0].call");
    EXPECT_JSON(&j, "0", "errors.records[0].work_item");
    EXPECT_JSON(&j, "12", "errors.records[0].site.line");
    EXPECT_JSON(&j, "\"other_arena\"", "errors.records[3].kind");
    EXPECT_JSON(&j, "4", "errors.records[3].detail");
    snprintf(want, sizeof want, "%u", (unsigned)victim);
    EXPECT_JSON(&j, want, "errors.records[3].offset");
    EXPECT_JSON(&j, "16", "errors.records[4].alloc_site.line");
    EXPECT_JSON(&j, "\"host_check\"", "errors.records[5].call");
    EXPECT_JSON(&j, "6", "errors.records[5].work_item");
    EXPECT_JSON(&j, "18", "errors.records[5].site.line");
    EXPECT_JSON(&j, "null", "errors.records[2].alloc_site");
    EXPECT_JSON(&j, "5", "leaks.blocks");
    EXPECT_JSON(&j, "3716", "leaks.bytes");
    /* Most bytes first: the large block, the slot, LEAK_A, the overflow. */
    EXPECT_JSON(&j, "21", "leaks.by_site[0].site.line");
    EXPECT_JSON(&j, "3", "leaks.by_site[1].site.file");
    EXPECT_JSON(&j, "40", "leaks.by_site[1].site.line");
    EXPECT_JSON(&j, "19", "leaks.by_site[2].site.line");
    EXPECT_JSON(&j, "2", "leaks.by_site[2].count");
    EXPECT_JSON(&j, "\"too_large\"", "failures[0].kind");
    EXPECT_JSON(&j, "2", "failures[0].first_work_item");
    EXPECT_JSON(&j, "80", "high_water.footprint.max");
    EXPECT_JSON(&j, "44", "high_water.footprint.mean");
    EXPECT_JSON(&j, "1", "high_water.top[0].work_item");
    EXPECT_JSON(&j, "2", "totals.heap_allocs");
    json_free(&j);
    free(text);
}

static void test_every_bug_with_checks(void)
{
    core_fixture d = make_image(WITH_CHECKS | WITH_EVENTS);
    unsigned char *foreign = malloc(64);
    carve_report *r = NULL;
    uint32_t victim = plant_bugs(&d, foreign);
    REQUIRE_OK(carve_layout_report(d.image, 3, &r));
    EXPECT(r->broken_arenas == 0 && r->heap_broken == 0);
    EXPECT(r->sites_from ==
           (CARVE_REPORT_SITES_REDZONES | CARVE_REPORT_SITES_EVENTS));
    check_errors(r, victim);
    EXPECT(r->leaked_blocks == 5 && r->leaked_bytes == 3000 + 600 + 96 + 20);
    EXPECT_LEAK(r, LEAK_A, 2, 96, 2, 4);
    EXPECT_LEAK(r, LEAK_SLOT, 1, 600, 1, 7);
    EXPECT_LEAK(r, LEAK_LARGE, 1, 3000, 1, 7);
    EXPECT_LEAK(r, OVERFLOW_LIVE, 1, 20, 1, 6);
    check_failures_and_peaks(r);
    check_high_water(r);
    check_text(r);
    check_json(r, victim);
    carve_report_release(r);
    free(foreign);
    fixture_free(&d);
}

/* Without checks the sites come from the event log, with the requested
 * sizes; the writes past the end go unseen (they stay in the blocks'
 * rounding). */
static void test_sites_from_events(void)
{
    core_fixture d = make_image(WITH_EVENTS);
    unsigned char *foreign = malloc(64);
    carve_report *r = NULL;
    plant_bugs(&d, foreign);
    REQUIRE_OK(carve_layout_report(d.image, 0, &r));
    EXPECT(r->sites_from == CARVE_REPORT_SITES_EVENTS);
    EXPECT(r->error_count == 4 && r->device_errors == 4);
    if (r->error_count == 4) {
        EXPECT_ERROR(&r->errors[0], CARVE_MISUSE_FREED, CARVE_CALL_FREE, 0,
                     DOUBLE_FREE);
        EXPECT_ERROR(&r->errors[3], CARVE_MISUSE_OTHER_ARENA,
                     CARVE_CALL_FREE, 3, OTHER_FREE);
    }
    EXPECT_LEAK(r, LEAK_A, 2, 96, 2, 4);
    EXPECT_LEAK(r, LEAK_SLOT, 1, 600, 1, 7);
    EXPECT_LEAK(r, LEAK_LARGE, 1, 3000, 1, 7);
    EXPECT_LEAK(r, OVERFLOW_LIVE, 1, 20, 1, 6);
    EXPECT(r->list_limit == 10);
    carve_report_release(r);
    free(foreign);
    fixture_free(&d);
}

/* With neither, leaks are still found and counted, under an unknown
 * site, but for the large heap block, whose header keeps its site; heap
 * slots have no known owner. */
static void test_sites_unknown(void)
{
    core_fixture d = make_image(0);
    unsigned char *foreign = malloc(64);
    carve_report *r = NULL;
    FILE *f;
    char *text;
    plant_bugs(&d, foreign);
    REQUIRE_OK(carve_layout_report(d.image, 0, &r));
    EXPECT(r->sites_from == 0);
    EXPECT(r->leak_count == 2);
    /* Usable bytes: 48 + 48 + 32 in arenas of three work-items, and a
     * 768-byte slot, whose owner is unknown: no fourth work-item. */
    EXPECT_LEAK(r, CARVE_SITE_UNKNOWN, 4, 48 + 48 + 32 + 768, 3, 4);
    EXPECT_LEAK(r, LEAK_LARGE, 1, 3000, 1, 7);
    f = diag_capture_begin();
    REQUIRE_OK(carve_report_print(r, f, CARVE_FORMAT_TEXT));
    text = diag_capture_end(f);
    EXPECT_CONTAINS(text, "sites of arena blocks and heap slots unknown "
                          "(plan without checks or events)");
    EXPECT_CONTAINS(text, "an unknown site: 4 block(s), 896 B, in 3 "
                          "work-item(s), first work-item 4");
    free(text);
    carve_report_release(r);
    free(foreign);
    fixture_free(&d);
}

/* A damaged free block and a damaged heap page: reported, not walked,
 * no crash. */
static void test_broken_invariants(void)
{
    core_fixture d = make_image(WITH_CHECKS);
    carve_arena a = fixture_open(&d, 2);
    carve_heap hp = carve_heap_view(d.image);
    carve_report *r = NULL;
    uint32_t *p = carve_alloc_malloc(&a, 64, 16, SCRATCH);
    EXPECT(carve_alloc_malloc(&a, 16, 16, SCRATCH) != NULL);
    carve_alloc_free(&a, p, FIRST_FREE);
    p[0] = 0x12345; /* the free block's size */
    *carve_heap_state(&hp, 1) = 0x01000005u; /* 5 slots, no bits */
    REQUIRE_OK(carve_layout_report(d.image, 0, &r));
    EXPECT(r->broken_arenas == 1);
    EXPECT(r->heap_broken == CARVE_HEAP_CHECK_USED_HINT);
    EXPECT(r->error_count == 2);
    if (r->error_count == 2) {
        EXPECT_ERROR(&r->errors[0], CARVE_MISUSE_CORRUPT,
                     CARVE_CALL_HOST_CHECK, 2, CARVE_SITE_UNKNOWN);
        EXPECT(r->errors[0].detail == CARVE_CHECK_TILING);
        EXPECT_ERROR(&r->errors[1], CARVE_MISUSE_CORRUPT,
                     CARVE_CALL_HOST_CHECK, CARVE_HEAP_INDEX,
                     CARVE_SITE_UNKNOWN);
    }
    EXPECT(r->leaked_blocks == 0); /* nothing walked in either */
    carve_report_release(r);
    fixture_free(&d);
}

/* A large heap block whose size word claims more than its pages: reported,
 * and its redzone is not looked for beyond the block. */
static void test_damaged_large_block(void)
{
    core_fixture d = make_image(WITH_CHECKS);
    carve_arena a = fixture_open(&d, 1);
    carve_heap hp = carve_heap_view(d.image);
    carve_report *r = NULL;
    unsigned char *p = carve_alloc_malloc(&a, 3000, 16, LEAK_LARGE);
    uint32_t page = (uint32_t)(p - d.image - hp.offset) / hp.page_bytes;
    carve_heap_state(&hp, page)[1] = 0x7ffffff0u;
    REQUIRE_OK(carve_layout_report(d.image, 0, &r));
    EXPECT(r->heap_broken == CARVE_HEAP_CHECK_RUN && r->error_count == 1);
    if (r->error_count == 1) {
        EXPECT_ERROR(&r->errors[0], CARVE_MISUSE_CORRUPT,
                     CARVE_CALL_HOST_CHECK, CARVE_HEAP_INDEX,
                     CARVE_SITE_UNKNOWN);
        EXPECT(r->errors[0].offset == diag_offset(&d, p));
    }
    carve_report_release(r);
    fixture_free(&d);
}

static void test_refusals(void)
{
    core_fixture d = make_image(0);
    carve_report *r = (carve_report *)&d; /* must be overwritten */
    unsigned char junk[256];
    memset(junk, 0x5c, sizeof junk);
    EXPECT_STATUS(carve_layout_report(NULL, 0, &r),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT(r == NULL);
    EXPECT_STATUS(carve_layout_report(d.image, 0, NULL),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_layout_report(junk, 0, &r), CARVE_ERROR_CORRUPT_SET);
    REQUIRE_OK(carve_layout_report(d.image, 0, &r));
    EXPECT_STATUS(carve_report_print(r, stdout, (carve_format)7),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_report_print(NULL, stdout, CARVE_FORMAT_TEXT),
                  CARVE_ERROR_INVALID_ARGUMENT);
    /* An empty run: nothing to report, and it says so. */
    EXPECT(r->error_count == 0 && r->leak_count == 0 && r->failure_count == 0);
    EXPECT(r->footprint.max == 0 && r->top_count == 8);
    carve_report_release(r);
    carve_report_release(NULL);
    EXPECT(strncmp(carve_status_string(CARVE_ERROR_BAD_LOG),
                   "CARVE_ERROR_BAD_LOG", 19) == 0);
    EXPECT(strcmp(carve_misuse_string(CARVE_MISUSE_OVERFLOW),
                  "write past the end of the block (redzone damaged)") == 0);
    fixture_free(&d);
}

int main(void)
{
    test_every_bug_with_checks();
    test_sites_from_events();
    test_sites_unknown();
    test_broken_invariants();
    test_damaged_large_block();
    test_refusals();
    return carve_test_finish("host_report");
}
