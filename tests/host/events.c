/*
 * events.c - event logs: the analysis of a hand-computed scenario, a
 * cross-check of replayed footprints against the allocator's own
 * statistics on random runs, save/load round trips, and files that are
 * truncated, damaged or foreign, which must be refused with a reason.
 *
 * With a path argument, also saves the scenario's log there (the `carve
 * log` and `carve fit` tests read it).
 */
#include "diag_fixture.h"

#define S1 DIAG_SITE(0, 101)
#define S2 DIAG_SITE(0, 102)
#define S3 DIAG_SITE(0, 103)
#define S4 DIAG_SITE(0, 104)
#define S5 DIAG_SITE(2, 105)
#define S6 DIAG_SITE(0, 106)

/* 4 arenas of 512 B, no checks, a heap of four 4 KiB pages (a page per
 * slot class used): requests of 129 B (a quarter arena + 1) or more go to
 * the heap. */
static core_fixture scenario_image(uint32_t event_records)
{
    carve_plan_params p = diag_params(4, 512);
    p.heap_bytes = 16384;
    p.event_log_records = event_records;
    return fixture_make_params(&p);
}

/* Thirteen events whose analysis is worked out by hand in
 * check_scenario. */
static void run_scenario(core_fixture *d)
{
    carve_arena w[4];
    void *a, *b, *c, *e, *g;
    uint32_t i;
    for (i = 0; i < 4; ++i)
        w[i] = fixture_open(d, i);
    a = carve_alloc_malloc(&w[0], 100, 16, S1);        /* 0: arena, 112 B */
    b = carve_alloc_malloc(&w[0], 40, 16, S1);         /* 1: arena, 48 B */
    c = carve_alloc_malloc(&w[1], 200, 16, S2);        /* 2: heap slot 256 */
    carve_alloc_free(&w[0], a, S3);                    /* 3 */
    EXPECT(carve_alloc_realloc(&w[1], c, 220, S4) == c); /* 4: in place */
    EXPECT(carve_alloc_malloc(&w[2], 30, 16, S1) != NULL); /* 5: arena */
    e = carve_alloc_malloc(&w[2], 1000, 16, S5);       /* 6: heap slot 1024 */
    g = carve_alloc_realloc(&w[3], NULL, 64, S4);      /* 7: arena */
    g = carve_alloc_realloc(&w[3], g, 300, S4);        /* 8, 9: to the heap */
    EXPECT(carve_alloc_malloc(&w[3], 100000, 16, S6) == NULL); /* 10 */
    carve_alloc_free(&w[0], b, S3);                    /* 11 */
    carve_alloc_free(&w[2], e, S3);                    /* 12 */
    EXPECT(g != NULL);
}

/* The image's event log, and its analysis. */
static carve_event_analysis *analyze(const core_fixture *d,
                                     carve_event_log **log)
{
    carve_event_analysis *a = NULL;
    REQUIRE_OK(carve_layout_event_log(d->image, log));
    REQUIRE_OK(carve_event_log_analyze(*log, &a));
    return a;
}

static void forget(carve_event_log *log, carve_event_analysis *a,
                   core_fixture *d)
{
    carve_event_analysis_release(a);
    carve_event_log_release(log);
    fixture_free(d);
}

static const carve_event_site *site_stats(const carve_event_analysis *a,
                                          uint32_t site)
{
    size_t i;
    for (i = 0; i < a->site_count; ++i)
        if (a->sites[i].site == site)
            return &a->sites[i];
    fprintf(stderr, "site %#x missing from the analysis\n", (unsigned)site);
    ++carve_test_failures;
    return &a->sites[0];
}

static void check_sites(const carve_event_analysis *a)
{
    const carve_event_site *s;
    EXPECT(a->site_count == 6);
    s = site_stats(a, S1);
    EXPECT(s->allocs == 3 && s->alloc_bytes == 170 && s->largest_request == 100);
    EXPECT(s->frees == 0 && s->leaked_blocks == 1 && s->leaked_bytes == 30);
    s = site_stats(a, S2);
    EXPECT(s->allocs == 1 && s->alloc_bytes == 200 && s->leaked_blocks == 0);
    s = site_stats(a, S3);
    EXPECT(s->frees == 3 && s->allocs == 0);
    /* realloc from NULL, in place, and moving: 3 reallocs, 2 new blocks,
     * the moved-from block given back; its two blocks live are leaks. */
    s = site_stats(a, S4);
    EXPECT(s->reallocs == 3 && s->allocs == 2 && s->alloc_bytes == 364);
    EXPECT(s->frees == 1 && s->largest_request == 300);
    EXPECT(s->leaked_blocks == 2 && s->leaked_bytes == 520);
    s = site_stats(a, S5);
    EXPECT(s->allocs == 1 && s->largest_request == 1000);
    s = site_stats(a, S6);
    EXPECT(s->failures == 1 && s->allocs == 0);
}

static void check_items(const carve_event_analysis *a)
{
    const carve_event_item *it = a->items;
    EXPECT(a->item_count == 4);
    if (a->item_count != 4)
        return;
    EXPECT(it[0].work_item == 0 && it[0].allocs == 2 && it[0].frees == 2);
    EXPECT(it[0].peak_bytes == 140 && it[0].footprint_bytes == 160);
    EXPECT(it[0].arena_peak_bytes == 160 && it[0].heap_blocks == 0);
    /* If they spilled: a 128 B slot (32 a page: 128 B of it) and a 48 B
     * slot (85 a page: 49 B of it), of heap classes 5 and 2. */
    EXPECT(it[0].spill_bytes == 128 + 49 && it[0].leaked_blocks == 0);
    EXPECT(it[0].spill_classes == ((1u << 5) | (1u << 2)));
    EXPECT(it[1].peak_bytes == 220 && it[1].footprint_bytes == 0);
    EXPECT(it[1].heap_blocks == 1 && it[1].fallbacks == 0);
    EXPECT(it[1].leaked_blocks == 1 && it[1].leaked_bytes == 220);
    EXPECT(it[2].allocs == 2 && it[2].frees == 1 && it[2].peak_bytes == 1030);
    EXPECT(it[2].footprint_bytes == 32 && it[2].spill_bytes == 32);
    EXPECT(it[3].allocs == 2 && it[3].frees == 1 && it[3].failures == 1);
    /* The move holds both blocks for a moment: 64 + 300 B. */
    EXPECT(it[3].peak_bytes == 364 && it[3].footprint_bytes == 64);
    EXPECT(it[3].heap_blocks == 1 && it[3].leaked_bytes == 300);
}

static void check_scenario(const carve_event_analysis *a)
{
    static const uint64_t allocs[CARVE_EVENT_BUCKETS] = {
        [4] = 1, [5] = 1, [6] = 2, [7] = 2, [8] = 1, [9] = 1};
    uint32_t b;
    EXPECT(a->complete && a->info.events_seen == 13);
    EXPECT(a->allocs == 7 && a->reallocs == 3 && a->frees == 4);
    EXPECT(a->failures == 1 && a->anomalies == 0);
    /* 100 + 40 + 200 - 100 + 20 + 30 + 1000 + 64 - 64 + 300 */
    EXPECT(a->peak_bytes == 1590 && a->peak_event == 9);
    /* slots of 256, 1024 and 384 B at once */
    EXPECT(a->heap_peak_bytes == 1664);
    EXPECT(a->leaked_blocks == 3 && a->leaked_bytes == 550);
    for (b = 0; b < CARVE_EVENT_BUCKETS; ++b) {
        EXPECT(a->histogram[b].allocs == allocs[b]);
        EXPECT(a->histogram[b].failures == (b == 16));
    }
    EXPECT(a->live_count == 3);
    check_sites(a);
    check_items(a);
    EXPECT(a->has_arena_needs && a->arena_needs.max == 160);
}

static void check_scenario_output(const carve_event_analysis *a)
{
    FILE *f = diag_capture_begin();
    json_flat j;
    char *text;
    REQUIRE_OK(carve_event_analysis_print(a, f, CARVE_FORMAT_TEXT, 3));
    text = diag_capture_end(f);
    EXPECT_CONTAINS(text, "carve event log: 13 events (all kept) from 4 "
                          "arenas of 512 B");
    EXPECT_CONTAINS(text, "allocations 7, reallocs 3, frees 4, failed "
                          "requests 1, anomalies 0");
    EXPECT_CONTAINS(text, "peak in use: 1590 B requested (at event 9), heap "
                          "1664 B");
    EXPECT_CONTAINS(text, "call sites (top 3 by bytes requested, of 6)");
    EXPECT_CONTAINS(text, "file 2 line 105");
    EXPECT_CONTAINS(text, "line 104: 2 block(s), 520 B");
    EXPECT_CONTAINS(text, "65536 - 131071     B  allocs 0        failed 1");
    free(text);
    f = diag_capture_begin();
    REQUIRE_OK(carve_event_analysis_print(a, f, CARVE_FORMAT_JSON, 0));
    text = diag_capture_end(f);
    EXPECT(json_flatten(text, &j));
    EXPECT_JSON(&j, "\"carve-event-analysis\"", "format");
    EXPECT_JSON(&j, "true", "complete");
    EXPECT_JSON(&j, "1590", "totals.peak_bytes");
    EXPECT_JSON(&j, "101", "sites[0].site.line");
    EXPECT_JSON(&j, "3", "sites[0].allocs");
    EXPECT_JSON(&j, "2", "sites[5].site.file"); /* file 2 sorts last */
    EXPECT_JSON(&j, "4", "work_item_count");
    EXPECT_JSON(&j, "2", "work_items[0].work_item"); /* the largest peak */
    EXPECT_JSON(&j, "65536", "histogram[6].from_bytes");
    EXPECT_JSON(&j, "1", "histogram[6].failures");
    EXPECT_JSON(&j, "160", "arena_needs.max");
    json_free(&j);
    free(text);
}

static void test_scenario(const char *save_to)
{
    core_fixture d = scenario_image(64);
    carve_event_log *log = NULL;
    carve_event_analysis *a;
    run_scenario(&d);
    a = analyze(&d, &log);
    EXPECT(log->info.events_kept == 13 && log->arena_records == 4);
    check_scenario(a);
    check_scenario_output(a);
    if (save_to != NULL)
        REQUIRE_OK(carve_event_log_save(log, save_to));
    forget(log, a, &d);
}

/* A log too small for the run: the first events are kept, and the
 * analysis says it is incomplete. */
static void test_incomplete(void)
{
    core_fixture d = scenario_image(5);
    carve_event_log *log = NULL;
    carve_event_analysis *a;
    FILE *f;
    char *text;
    run_scenario(&d);
    a = analyze(&d, &log);
    EXPECT(log->info.events_seen == 13 && log->info.events_kept == 5);
    EXPECT(!a->complete && a->allocs == 3 && a->frees == 1);
    EXPECT(a->leaked_blocks == 2 && a->anomalies == 0);
    f = diag_capture_begin();
    REQUIRE_OK(carve_event_analysis_print(a, f, CARVE_FORMAT_TEXT, 0));
    text = diag_capture_end(f);
    EXPECT_CONTAINS(text, "incomplete: the log kept the first 5 of 13 events");
    free(text);
    forget(log, a, &d);
}

/* Random runs with checks and a heap: the footprint and in-use peak the
 * replay finds for each work-item are the allocator's own. */
static void test_replay_matches_statistics(uint64_t seed)
{
    carve_plan_params p = diag_params(6, 2048);
    carve_test_rng rng = {seed};
    core_fixture d;
    carve_event_log *log = NULL;
    carve_event_analysis *a;
    void *live[6][16];
    uint32_t i, k, step;
    size_t n;
    int failures = carve_test_failures;
    p.options = CARVE_PLAN_CHECKS;
    p.heap_bytes = 64 * 1024;
    p.event_log_records = 8192;
    d = fixture_make_params(&p);
    memset(live, 0, sizeof live);
    for (step = 0; step < 1500; ++step) {
        carve_arena a6;
        i = (uint32_t)carve_test_below(&rng, 6);
        k = (uint32_t)carve_test_below(&rng, 16);
        a6 = fixture_open(&d, i);
        if (live[i][k] == NULL)
            live[i][k] = carve_alloc_malloc(
                &a6, 1 + carve_test_below(&rng, 700), 16, DIAG_SITE(0, 1 + k));
        else if (carve_test_below(&rng, 3) == 0)
            live[i][k] = carve_alloc_realloc(
                &a6, live[i][k], 1 + carve_test_below(&rng, 900),
                DIAG_SITE(0, 40 + k));
        else {
            carve_alloc_free(&a6, live[i][k], DIAG_SITE(0, 80));
            live[i][k] = NULL;
        }
    }
    a = analyze(&d, &log);
    EXPECT(a->complete && a->anomalies == 0);
    for (n = 0; n < a->item_count; ++n) {
        carve_arena_stats st;
        const carve_event_item *it = &a->items[n];
        REQUIRE_OK(carve_layout_arena_stats(d.image, it->work_item, &st));
        EXPECT(it->footprint_bytes == st.peak_footprint_bytes);
        EXPECT(it->arena_peak_bytes == st.peak_in_use_bytes);
        EXPECT(it->heap_blocks == st.heap_allocs);
        EXPECT(it->failures == st.failed_count);
    }
    {
        carve_summary s;
        REQUIRE_OK(carve_layout_summary(d.image, &s));
        EXPECT(a->live_count == s.alloc_count - s.free_count +
                                    s.heap_live_blocks);
    }
    if (carve_test_failures != failures)
        fprintf(stderr, "seed %#llx\n", (unsigned long long)seed);
    forget(log, a, &d);
}

/* ---- files ------------------------------------------------------------------ */

static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    unsigned char *bytes;
    long n;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    rewind(f);
    bytes = malloc((size_t)n + 1);
    if (bytes == NULL || fread(bytes, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    *size = (size_t)n;
    return bytes;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* The format's checksum (FNV-1a of all bytes but 76..79), written in. */
static void reseal(unsigned char *bytes, size_t size)
{
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < size; ++i)
        if (i < 76 || i >= 80)
            h = (h ^ bytes[i]) * 16777619u;
    put32(bytes + 76, h);
}

static int same_log(const carve_event_log *x, const carve_event_log *y)
{
    return memcmp(&x->info, &y->info, sizeof x->info) == 0 &&
           x->arena_records == y->arena_records &&
           memcmp(x->events, y->events,
                  x->info.events_kept * sizeof *x->events) == 0 &&
           memcmp(x->arenas, y->arenas,
                  x->arena_records * sizeof *x->arenas) == 0;
}

/* Expects `bytes` to be refused with a message containing `why`. */
static void expect_refused(const unsigned char *bytes, size_t size,
                           const char *why, int line)
{
    carve_event_log *log = (carve_event_log *)&size;
    char message[200];
    carve_status s = carve_event_log_read(bytes, size, &log, message,
                                          sizeof message);
    if (s != CARVE_ERROR_BAD_LOG || log != NULL ||
        strstr(message, why) == NULL) {
        fprintf(stderr, "events.c:%d: %s, message '%s', expected BAD_LOG "
                        "and '%s'\n",
                line, carve_status_string(s), message, why);
        ++carve_test_failures;
    }
}

#define EXPECT_REFUSED(bytes, size, why)                                      \
    expect_refused((bytes), (size), (why), __LINE__)

static void test_files(void)
{
    const char *path = "events_round_trip.carvelog";
    core_fixture d = scenario_image(64);
    carve_event_log *log = NULL, *back = NULL;
    unsigned char *bytes, *copy;
    char message[200];
    size_t size, cut, i;
    run_scenario(&d);
    REQUIRE_OK(carve_layout_event_log(d.image, &log));
    REQUIRE_OK(carve_layout_save_events(d.image, path));
    REQUIRE_OK(carve_event_log_load(path, &back, message, sizeof message));
    EXPECT(message[0] == '\0');
    EXPECT(same_log(log, back));
    carve_event_log_release(back);

    bytes = read_file(path, &size);
    EXPECT(size == 80 + 16 * (13 + 4));
    EXPECT(memcmp(bytes, "CARVELOG", 8) == 0 && get32(bytes + 8) == 1);
    REQUIRE_OK(carve_event_log_read(bytes, size, &back, NULL, 0));
    EXPECT(same_log(log, back));
    carve_event_log_release(back);

    /* Every prefix, and one byte more, is refused. */
    for (cut = 0; cut < size; ++cut)
        EXPECT_STATUS(carve_event_log_read(bytes, cut, &back, NULL, 0),
                      CARVE_ERROR_BAD_LOG);
    EXPECT_REFUSED(bytes, 40, "header is cut");
    EXPECT_REFUSED(bytes, size - 16, "truncated or damaged");
    copy = malloc(size + 1);
    memcpy(copy, bytes, size);
    copy[size] = 0;
    EXPECT_REFUSED(copy, size + 1, "truncated or damaged");
    /* Any flipped bit fails the checksum (or an earlier check). */
    for (i = 0; i < size; ++i) {
        memcpy(copy, bytes, size);
        copy[i] ^= 0x10;
        EXPECT_STATUS(carve_event_log_read(copy, size, &back, NULL, 0),
                      CARVE_ERROR_BAD_LOG);
    }
    memcpy(copy, bytes, size);
    copy[300] ^= 1;
    EXPECT_REFUSED(copy, size, "checksum mismatch");
    memcpy(copy, bytes, size);
    copy[0] = 'X';
    EXPECT_REFUSED(copy, size, "not a carve event log");
    /* Well sealed, but impossible or from the future. */
    memcpy(copy, bytes, size);
    put32(copy + 8, 2);
    reseal(copy, size);
    EXPECT_REFUSED(copy, size, "version 2; this carve reads version 1");
    memcpy(copy, bytes, size);
    put32(copy + 20, 0); /* arena_count */
    reseal(copy, size);
    EXPECT_REFUSED(copy, size, "impossible arena geometry");
    memcpy(copy, bytes, size);
    put32(copy + 72, 3); /* arena records, with the size kept right */
    put32(copy + 68, 14);
    reseal(copy, size);
    EXPECT_REFUSED(copy, size, "kept events disagree");
    memcpy(copy, bytes, size);
    put32(copy + 80 + 16 * 13, 4096); /* arena 0's footprint > 512 */
    reseal(copy, size);
    EXPECT_REFUSED(copy, size, "statistics are impossible");
    /* Sealed records that contradict each other: read, then counted as
     * anomalies by the analysis, never followed. */
    memcpy(copy, bytes, size);
    put32(copy + 80 + 16 * 3 + 8, 16); /* free of offset 16: the header */
    put32(copy + 80 + 16 * 5 + 4, 99); /* an arena that does not exist */
    reseal(copy, size);
    REQUIRE_OK(carve_event_log_read(copy, size, &back, NULL, 0));
    {
        carve_event_analysis *a = NULL;
        REQUIRE_OK(carve_event_log_analyze(back, &a));
        /* The block of event 3 now is never freed, the one of event 5
         * never made. */
        EXPECT(a->anomalies == 2 && a->leaked_blocks == 3);
        carve_event_analysis_release(a);
    }
    carve_event_log_release(back);

    EXPECT_STATUS(carve_event_log_load("no/such/dir/x.carvelog", &back,
                                       message, sizeof message),
                  CARVE_ERROR_IO);
    EXPECT(back == NULL && strstr(message, "cannot open no/such/dir") != NULL);
    EXPECT_STATUS(carve_event_log_save(log, "no/such/dir/x.carvelog"),
                  CARVE_ERROR_IO);
    EXPECT_STATUS(carve_event_log_read(NULL, 0, &back, NULL, 0),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_event_log_save(NULL, path),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_layout_save_events(NULL, path),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_event_log_analyze(NULL, NULL),
                  CARVE_ERROR_INVALID_ARGUMENT);
    free(copy);
    free(bytes);
    carve_event_log_release(log);
    remove(path);
    fixture_free(&d);
}

/* Sealed files with random bytes changed, in the records or the header:
 * each is refused with BAD_LOG, or read and then analysed and printed
 * without a crash (the sanitizer builds watch every read). */
static void test_random_damage(uint64_t seed)
{
    core_fixture d = scenario_image(64);
    carve_test_rng rng = {seed};
    const char *path = "events_damage.carvelog";
    unsigned char *bytes, *copy;
    size_t size, round;
    uint32_t refused = 0, read = 0;
    run_scenario(&d);
    REQUIRE_OK(carve_layout_save_events(d.image, path));
    bytes = read_file(path, &size);
    copy = malloc(size);
    for (round = 0; round < 3000; ++round) {
        carve_event_log *log = NULL;
        carve_event_analysis *a = NULL;
        carve_status status;
        uint32_t changes = 1 + (uint32_t)carve_test_below(&rng, 4), k;
        /* a third of the rounds hit the header's fields */
        size_t from = round % 3 == 0 ? 16 : 80;
        size_t span = round % 3 == 0 ? 60 : size - 80;
        memcpy(copy, bytes, size);
        for (k = 0; k < changes; ++k)
            copy[from + carve_test_below(&rng, span)] =
                (unsigned char)carve_test_next(&rng);
        reseal(copy, size);
        status = carve_event_log_read(copy, size, &log, NULL, 0);
        EXPECT(status == CARVE_SUCCESS || status == CARVE_ERROR_BAD_LOG);
        if (status != CARVE_SUCCESS) {
            ++refused;
            continue;
        }
        ++read;
        REQUIRE_OK(carve_event_log_analyze(log, &a));
        {
            FILE *sink = diag_capture_begin();
            REQUIRE_OK(carve_event_analysis_print(a, sink, CARVE_FORMAT_TEXT,
                                                  0));
            REQUIRE_OK(carve_event_analysis_print(a, sink, CARVE_FORMAT_JSON,
                                                  0));
            free(diag_capture_end(sink));
        }
        carve_event_analysis_release(a);
        carve_event_log_release(log);
    }
    /* Both outcomes happen, or the test proves little. */
    EXPECT(refused > 100 && read > 100);
    free(copy);
    free(bytes);
    remove(path);
    fixture_free(&d);
}

/* A plan without an event log still saves the arenas' statistics. */
static void test_no_event_log(void)
{
    core_fixture d = scenario_image(0);
    carve_event_log *log = NULL;
    carve_event_analysis *a;
    run_scenario(&d);
    a = analyze(&d, &log);
    EXPECT(log->info.events_kept == 0 && log->info.events_seen == 0);
    EXPECT(log->arena_records == 4 && log->arenas[0].footprint_bytes == 160);
    EXPECT(log->arenas[3].failed_count == 1 && log->arenas[3].heap_allocs == 1);
    EXPECT(a->complete && a->allocs == 0 && a->arena_needs.max == 160);
    forget(log, a, &d);
}

int main(int argc, char **argv)
{
    test_scenario(argc > 1 ? argv[1] : NULL);
    test_incomplete();
    test_replay_matches_statistics(0x5eed1234u);
    test_replay_matches_statistics(0xc0ffee11u);
    test_files();
    test_random_damage(0xdec0ded5u);
    test_no_event_log();
    return carve_test_finish("host_events");
}
