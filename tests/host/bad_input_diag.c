/*
 * bad_input_diag.c - every function of carve/diagnostics.h that needs no
 * OpenCL device, called with bad input: NULL pointers, unknown formats,
 * `top` 0 and UINT32_MAX, percentiles outside (0, 100], images that are
 * not carve's or are damaged (the damage of bad_input_images.h, shared
 * with the layout functions' test), paths that cannot be opened, read or
 * written, streams whose writes fail, bytes that are no event log, and
 * logs made by hand whose fields disagree or whose records contradict
 * each other. Each call must give its documented status and write no
 * file, no output and no out-parameter it must not; none may crash or
 * read outside the memory it was given (run it under ASan to see that).
 *
 * Files cut short, flipped bits and sealed random bytes are tested in
 * depth by events.c (host_events); the set functions (carve_layout_report...)
 * by the device test.
 *
 * The checked cases are docs/bad-input.md's tables (see
 * bad_input_table.h): the test fails if the file disagrees.
 *
 * Usage: host_bad_input_diag [docs/bad-input.md | --markdown | -] [seed]
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include "bad_input_images.h"
#include "bad_input_table.h"

#include <carve/diagnostics.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>

#define FUZZ_IMAGES 2000
#define OUT_PATH "bad_input_diag.carvelog"
#define NO_FILE "no file written"
#define MISALIGNED "`mem` not 4-byte aligned (an image copied to `buf + 1`)"

/* ---- what the checks need --------------------------------------------------- */

static int file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f != NULL)
        fclose(f);
    return f != NULL;
}

static void write_file(const char *path, const void *bytes, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(bytes, 1, size, f) != size || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

/* Where printed output goes when it must go nowhere visible. */
static FILE *sink(void)
{
    FILE *f = tmpfile();
    if (f == NULL) {
        fprintf(stderr, "tmpfile failed\n");
        exit(1);
    }
    return f;
}

/* Streams a print call must report CARVE_ERROR_IO for: writes to /dev/full
 * fail when flushed, writes to a stream opened for reading at once. */
typedef struct bad_streams {
    FILE *full, *read_only;
} bad_streams;

static bad_streams bad_streams_open(void)
{
    bad_streams s;
    s.full = fopen("/dev/full", "w");
    s.read_only = fopen("/dev/null", "r");
    if (s.full == NULL || s.read_only == NULL) {
        fprintf(stderr, "cannot open /dev/full or /dev/null\n");
        exit(1);
    }
    return s;
}

static void bad_streams_close(bad_streams *s)
{
    fclose(s->full);
    fclose(s->read_only);
}

/* A copy of the image one byte further on, as a packed or careless copy
 * would put it; free with free(odd - 1). */
static unsigned char *misaligned_copy(const core_fixture *f)
{
    unsigned char *odd = malloc((size_t)f->plan.total_bytes + 1);
    if (odd == NULL) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    memcpy(odd + 1, f->image, (size_t)f->plan.total_bytes);
    return odd + 1;
}

/* ---- post-mortem reports ------------------------------------------------------ */

/* Every print function, on an object it can print, with bad arguments;
 * `more` is empty or the arguments after the format (", top"). `object`
 * is named as the function's parameter is. */
#define PRINT_CASES(print, object, more)                                      \
    do {                                                                      \
        FILE *out_ = sink();                                                  \
        BAD_STATUS("`" #object "` or `stream` NULL",                          \
                   CARVE_ERROR_INVALID_ARGUMENT, "nothing printed",           \
                   print(NULL, out_, CARVE_FORMAT_TEXT more));                \
        BAD_STATUS("`" #object "` or `stream` NULL",                          \
                   CARVE_ERROR_INVALID_ARGUMENT, "nothing printed",           \
                   print(object, NULL, CARVE_FORMAT_TEXT more));              \
        BAD_STATUS("`format` neither TEXT nor JSON (2, -1)",                  \
                   CARVE_ERROR_INVALID_ARGUMENT, "nothing printed",           \
                   print(object, out_, (carve_format)2 more));                \
        BAD_STATUS("`format` neither TEXT nor JSON (2, -1)",                  \
                   CARVE_ERROR_INVALID_ARGUMENT, "nothing printed",           \
                   print(object, out_, (carve_format)-1 more));               \
        EXPECT(ftell(out_) == 0);                                             \
        fclose(out_);                                                         \
        BAD_STATUS("a stream whose writes fail (`/dev/full`, one opened "     \
                   "for reading), as text or JSON",                           \
                   CARVE_ERROR_IO, "the output is lost; nothing else",        \
                   print(object, streams.full, CARVE_FORMAT_TEXT more));      \
        clearerr(streams.full);                                               \
        BAD_STATUS("a stream whose writes fail (`/dev/full`, one opened "     \
                   "for reading), as text or JSON",                           \
                   CARVE_ERROR_IO, "the output is lost; nothing else",        \
                   print(object, streams.read_only, CARVE_FORMAT_JSON more)); \
        clearerr(streams.read_only);                                          \
    } while (0)

static void test_report(void)
{
    core_fixture f = full_image();
    unsigned char *copy = copy_of(&f), *odd = misaligned_copy(&f);
    carve_report *r = (carve_report *)&f, *report = NULL;
    bad_streams streams = bad_streams_open();

    bad_section("Post-mortem reports");
    BAD_STATUS("`mem` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "`*report` set to NULL", carve_layout_report(NULL, 0, &r));
    EXPECT(r == NULL);
    BAD_STATUS("`report` NULL", CARVE_ERROR_INVALID_ARGUMENT, "nothing written",
               carve_layout_report(f.image, 0, NULL));
    r = (carve_report *)&f;
    BAD_STATUS(MISALIGNED, CARVE_ERROR_INVALID_ARGUMENT,
               "`*report` set to NULL", carve_layout_report(odd, 0, &r));
    EXPECT(r == NULL);
    BAD_STATUS("`top` 0", CARVE_SUCCESS,
               "the same as 10: the text lists at most 10 of each (`list_limit` "
               "10)",
               carve_layout_report(f.image, 0, &r));
    EXPECT(r != NULL && r->list_limit == 10 && r->top_count == 4);
    carve_report_release(r);
    r = NULL;
    BAD_STATUS("`top` `UINT32_MAX`", CARVE_SUCCESS,
               "every work-item is named once (`top_count` = the arena count)",
               carve_layout_report(f.image, UINT32_MAX, &r));
    EXPECT(r != NULL && r->top_count == 4 && r->list_limit == UINT32_MAX);
    report = r;
    EXPECT(same_image(&f, copy));

    PRINT_CASES(carve_report_print, report, );
    BAD_VOID("NULL", "nothing", "does nothing", carve_report_release(NULL));
    carve_report_release(report);
    bad_streams_close(&streams);
    free(odd - 1);
    free(copy);
    fixture_free(&f);
}

/* ---- event logs: from images, to files, and back -------------------------------- */

/* A log made by hand from `real` with one field wrong, for the functions
 * that take logs: none may follow it. */
typedef enum log_fault {
    FAULT_STRIDE,   /* arena_stride 0: arenas of no size */
    FAULT_EVENTS,   /* events NULL though events_kept is not 0 */
    FAULT_RECORDS,  /* arena_records neither 0 nor the arena count */
    FAULT_KEPT,     /* events_kept above events_seen */
    FAULT_COUNT
} log_fault;

#define HAND_MADE                                                             \
    "a log made by hand whose fields disagree (`arena_stride` 0, `events` "   \
    "NULL with events kept, `arena_records` neither 0 nor the arena count, "  \
    "more events kept than seen)"

static carve_event_log hand_made(const carve_event_log *real, log_fault fault)
{
    carve_event_log log = *real;
    switch (fault) {
    case FAULT_STRIDE: log.info.arena_stride = 0; break;
    case FAULT_EVENTS: log.events = NULL; break;
    case FAULT_RECORDS: log.arena_records = real->info.arena_count - 1; break;
    default: log.info.events_kept = real->info.events_seen + 1; break;
    }
    return log;
}

static void test_log_from_image(void)
{
    core_fixture f = full_image(), plain = fixture_make(4, 256, 0);
    unsigned char *odd = misaligned_copy(&f);
    carve_event_log *log = (carve_event_log *)&f;

    bad_section("Event logs: from images, to files and back");
    BAD_STATUS("`mem` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "`*log` set to NULL", carve_layout_event_log(NULL, &log));
    EXPECT(log == NULL);
    BAD_STATUS("`log` NULL", CARVE_ERROR_INVALID_ARGUMENT, "nothing written",
               carve_layout_event_log(f.image, NULL));
    log = (carve_event_log *)&f;
    BAD_STATUS(MISALIGNED, CARVE_ERROR_INVALID_ARGUMENT, "`*log` set to NULL",
               carve_layout_event_log(odd, &log));
    EXPECT(log == NULL);
    BAD_STATUS("a plan without an event log", CARVE_SUCCESS,
               "a log of no events, with every arena's statistics",
               carve_layout_event_log(plain.image, &log));
    EXPECT(log != NULL && log->info.events_kept == 0 &&
           log->arena_records == 4 && log->arenas != NULL);
    carve_event_log_release(log);

    remove(OUT_PATH);
    BAD_STATUS("`mem` or `path` NULL", CARVE_ERROR_INVALID_ARGUMENT, NO_FILE,
               carve_layout_save_events(NULL, OUT_PATH));
    BAD_STATUS("`mem` or `path` NULL", CARVE_ERROR_INVALID_ARGUMENT, NO_FILE,
               carve_layout_save_events(f.image, NULL));
    BAD_STATUS(MISALIGNED, CARVE_ERROR_INVALID_ARGUMENT, NO_FILE,
               carve_layout_save_events(odd, OUT_PATH));
    EXPECT(!file_exists(OUT_PATH));
    errno = 0;
    BAD_STATUS("a path in a directory that does not exist",
               CARVE_ERROR_IO, "`errno` says why (`ENOENT`)",
               carve_layout_save_events(f.image, "no/such/dir/x.carvelog"));
    EXPECT(errno == ENOENT);
    free(odd - 1);
    fixture_free(&plain);
    fixture_free(&f);
}

static void test_log_save(void)
{
    core_fixture f = full_image();
    carve_event_log *real = NULL, wrong;
    int fault;
    REQUIRE_OK(carve_layout_event_log(f.image, &real));
    remove(OUT_PATH);
    BAD_STATUS("`log` or `path` NULL", CARVE_ERROR_INVALID_ARGUMENT, NO_FILE,
               carve_event_log_save(NULL, OUT_PATH));
    BAD_STATUS("`log` or `path` NULL", CARVE_ERROR_INVALID_ARGUMENT, NO_FILE,
               carve_event_log_save(real, NULL));
    for (fault = 0; fault < FAULT_COUNT; ++fault) {
        wrong = hand_made(real, (log_fault)fault);
        BAD_STATUS(HAND_MADE, CARVE_ERROR_INVALID_ARGUMENT,
                   NO_FILE "; nothing of it is read",
                   carve_event_log_save(&wrong, OUT_PATH));
    }
    EXPECT(!file_exists(OUT_PATH));
    errno = 0;
    BAD_STATUS("`path` \"\"", CARVE_ERROR_IO, "`errno` says why (`ENOENT`)",
               carve_event_log_save(real, ""));
    EXPECT(errno == ENOENT);
    errno = 0;
    BAD_STATUS("`path` a directory (\".\")", CARVE_ERROR_IO,
               "`errno` says why (`EISDIR`)", carve_event_log_save(real, "."));
    EXPECT(errno == EISDIR);
    errno = 0;
    BAD_STATUS("`path` on a full device (`/dev/full`)", CARVE_ERROR_IO,
               "`errno` says why (`ENOSPC`): the write that fails is "
               "noticed",
               carve_event_log_save(real, "/dev/full"));
    EXPECT(errno == ENOSPC);
    carve_event_log_release(real);
    fixture_free(&f);
}

/* What carve_event_log_read or _load says of bytes it must refuse. */
static void expect_message(const char *message, const char *why)
{
    if (strstr(message, why) == NULL) {
        fprintf(stderr, "bad_input_diag.c: message '%s' does not say '%s'\n",
                message, why);
        ++carve_test_failures;
    }
}

static void test_log_read(void)
{
    core_fixture f = full_image();
    unsigned char *bytes;
    size_t size = 0;
    carve_event_log *log = (carve_event_log *)&f;
    char message[160], tiny[16];
    FILE *saved;
    REQUIRE_OK(carve_layout_save_events(f.image, OUT_PATH));
    saved = fopen(OUT_PATH, "rb");
    if (saved == NULL || fseek(saved, 0, SEEK_END) != 0) {
        fprintf(stderr, "cannot read back %s\n", OUT_PATH);
        exit(1);
    }
    size = (size_t)ftell(saved);
    rewind(saved);
    bytes = malloc(size + 1);
    if (bytes == NULL || fread(bytes, 1, size, saved) != size) {
        fprintf(stderr, "cannot read back %s\n", OUT_PATH);
        exit(1);
    }
    fclose(saved);
    bytes[size] = 0;

    BAD_STATUS("`bytes` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "`*log` set to NULL",
               carve_event_log_read(NULL, size, &log, message, sizeof message));
    EXPECT(log == NULL);
    BAD_STATUS("`log` NULL", CARVE_ERROR_INVALID_ARGUMENT, "nothing read",
               carve_event_log_read(bytes, size, NULL, message,
                                    sizeof message));
    log = (carve_event_log *)&f;
    BAD_STATUS("0 bytes", CARVE_ERROR_BAD_LOG,
               "`*log` NULL; the message says \"not a carve event log\"",
               carve_event_log_read(bytes, 0, &log, message, sizeof message));
    EXPECT(log == NULL);
    expect_message(message, "not a carve event log");
    BAD_STATUS("a carve image instead of a log", CARVE_ERROR_BAD_LOG,
               "`*log` NULL; the message says \"not a carve event log\"",
               carve_event_log_read(f.image, (size_t)f.plan.total_bytes, &log,
                                    message, sizeof message));
    expect_message(message, "not a carve event log");
    BAD_STATUS("a log one byte short, or one byte long", CARVE_ERROR_BAD_LOG,
               "`*log` NULL; the message says it is \"truncated or damaged\"",
               carve_event_log_read(bytes, size - 1, &log, message,
                                    sizeof message));
    expect_message(message, "truncated or damaged");
    BAD_STATUS("a log one byte short, or one byte long", CARVE_ERROR_BAD_LOG,
               "`*log` NULL; the message says it is \"truncated or damaged\"",
               carve_event_log_read(bytes, size + 1, &log, message,
                                    sizeof message));
    expect_message(message, "truncated or damaged");
    BAD_STATUS("not a log, `message` NULL", CARVE_ERROR_BAD_LOG,
               "no message", carve_event_log_read(bytes, 7, &log, NULL, 99));
    strcpy(tiny, "untouched");
    BAD_STATUS("not a log, `message_size` 0", CARVE_ERROR_BAD_LOG,
               "`message` untouched",
               carve_event_log_read(bytes, 7, &log, tiny, 0));
    EXPECT(strcmp(tiny, "untouched") == 0);
    BAD_STATUS("not a log, `message_size` 16", CARVE_ERROR_BAD_LOG,
               "the message cut to 15 characters and terminated",
               carve_event_log_read(bytes, 7, &log, tiny, sizeof tiny));
    EXPECT(strlen(tiny) == sizeof tiny - 1 &&
           strncmp(tiny, "not a carve event log", sizeof tiny - 1) == 0);
    EXPECT(log == NULL);
    free(bytes);
    fixture_free(&f);
}

static void test_log_load(void)
{
    carve_event_log *log = (carve_event_log *)&log;
    char message[200];
    static const char not_a_log[] = "# a text file\n";

    BAD_STATUS("`path` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "`*log` set to NULL",
               carve_event_log_load(NULL, &log, message, sizeof message));
    EXPECT(log == NULL);
    BAD_STATUS("`log` NULL", CARVE_ERROR_INVALID_ARGUMENT, "nothing read",
               carve_event_log_load(OUT_PATH, NULL, message, sizeof message));
    BAD_STATUS("a file that does not exist", CARVE_ERROR_IO,
               "`*log` NULL; the message says \"cannot open PATH: No such "
               "file or directory\"",
               carve_event_log_load("no/such/file.carvelog", &log, message,
                                    sizeof message));
    expect_message(message,
                   "cannot open no/such/file.carvelog: No such file");
    BAD_STATUS("a directory (\".\")", CARVE_ERROR_IO,
               "`*log` NULL; the message says \"cannot read .: Is a "
               "directory\"",
               carve_event_log_load(".", &log, message, sizeof message));
    expect_message(message, "cannot read .: Is a directory");
    write_file(OUT_PATH, not_a_log, 0);
    BAD_STATUS("an empty file, a text file", CARVE_ERROR_BAD_LOG,
               "`*log` NULL; the message says \"not a carve event log\"",
               carve_event_log_load(OUT_PATH, &log, message, sizeof message));
    expect_message(message, "not a carve event log");
    write_file(OUT_PATH, not_a_log, sizeof not_a_log - 1);
    BAD_STATUS("an empty file, a text file", CARVE_ERROR_BAD_LOG,
               "`*log` NULL; the message says \"not a carve event log\"",
               carve_event_log_load(OUT_PATH, &log, message, sizeof message));
    expect_message(message, "not a carve event log");
    BAD_STATUS("a file that never ends (`/dev/zero`)", CARVE_ERROR_BAD_LOG,
               "only its first bytes are read",
               carve_event_log_load("/dev/zero", &log, message,
                                    sizeof message));
    expect_message(message, "not a carve event log");
    EXPECT(log == NULL);
    BAD_VOID("NULL", "nothing", "does nothing",
             carve_event_log_release(NULL));
    remove(OUT_PATH);
}

/* ---- analysing logs -------------------------------------------------------------- */

/* A log whose records contradict each other or the plan: each must be
 * skipped and counted, never followed. */
static void test_anomalies(const carve_event_log *real)
{
    const uint32_t arena0 = real->info.arenas_offset;
    const uint32_t arena1 = arena0 + real->info.arena_stride;
    const carve_event_record records[] = {
        {CARVE_CALL_FREE << 24 | 9, 0, arena0, 16},       /* no block */
        {0u << 24 | 9, 0, arena0, 16},                    /* kind 0 */
        {99u << 24 | 9, 0, arena0, 16},                   /* kind 99 */
        {CARVE_CALL_MALLOC << 24 | 9, 4, arena0, 16},     /* arena 4 of 4 */
        {CARVE_CALL_MALLOC << 24 | 9, 0, 16, 16},         /* the header */
        {CARVE_CALL_MALLOC << 24 | 9, 0, arena0 + 4, 16}, /* misaligned */
        {CARVE_CALL_MALLOC << 24 | 9, 0, arena1, 16},     /* arena 1's */
        {CARVE_CALL_MALLOC << 24 | 9, 0, arena0, 0},      /* 0 bytes */
        {CARVE_CALL_MALLOC << 24 | 9, 0, arena0, 4096},   /* past its arena */
        {CARVE_CALL_MALLOC << 24 | 9, 0, UINT32_MAX - 15, 16},
    };
    const uint64_t count = sizeof records / sizeof records[0];
    carve_event_log log = *real;
    carve_event_analysis *a = NULL;
    log.events = records;
    log.info.events_kept = log.info.events_seen = (uint32_t)count;
    log.info.event_capacity = (uint32_t)count;
    BAD_STATUS("records that contradict the log: a free of no block, kinds 0 "
               "and 99, an arena past the count, offsets in the header, "
               "misaligned, in another arena or past the end, 0 bytes, a "
               "block past its arena",
               CARVE_SUCCESS,
               "each is counted in `anomalies` and skipped; none is followed",
               carve_event_log_analyze(&log, &a));
    EXPECT(a != NULL && a->anomalies == count && a->allocs == 0 &&
           a->frees == 0 && a->live_count == 0);
    carve_event_analysis_release(a);
}

#define TOP_ZERO , 0u

static void test_analysis(void)
{
    core_fixture f = full_image();
    carve_event_log *real = NULL, wrong;
    carve_event_analysis *a = (carve_event_analysis *)&f, *analysis = NULL;
    bad_streams streams = bad_streams_open();
    FILE *out;
    int fault;
    REQUIRE_OK(carve_layout_event_log(f.image, &real));

    bad_section("Analysing event logs");
    BAD_STATUS("`log` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "`*analysis` set to NULL", carve_event_log_analyze(NULL, &a));
    EXPECT(a == NULL);
    BAD_STATUS("`analysis` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "nothing written", carve_event_log_analyze(real, NULL));
    for (fault = 0; fault < FAULT_COUNT; ++fault) {
        wrong = hand_made(real, (log_fault)fault);
        a = (carve_event_analysis *)&f;
        BAD_STATUS(HAND_MADE, CARVE_ERROR_INVALID_ARGUMENT,
                   "`*analysis` set to NULL; nothing of it is read",
                   carve_event_log_analyze(&wrong, &a));
        EXPECT(a == NULL);
    }
    test_anomalies(real);
    REQUIRE_OK(carve_event_log_analyze(real, &analysis));
    PRINT_CASES(carve_event_analysis_print, analysis, TOP_ZERO);
    out = sink();
    BAD_STATUS("`top` 0, or `UINT32_MAX`", CARVE_SUCCESS,
               "0 names 10 sites and work-items; `UINT32_MAX` names all",
               carve_event_analysis_print(analysis, out, CARVE_FORMAT_TEXT, 0));
    BAD_STATUS("`top` 0, or `UINT32_MAX`", CARVE_SUCCESS,
               "0 names 10 sites and work-items; `UINT32_MAX` names all",
               carve_event_analysis_print(analysis, out, CARVE_FORMAT_TEXT,
                                          UINT32_MAX));
    EXPECT(ftell(out) > 0);
    fclose(out);
    BAD_VOID("NULL", "nothing", "does nothing",
             carve_event_analysis_release(NULL));
    carve_event_analysis_release(analysis);
    carve_event_log_release(real);
    bad_streams_close(&streams);
    fixture_free(&f);
}

/* ---- fitting plans --------------------------------------------------------------- */

/* Percentiles outside (0, 100]. */
static const double bad_percentiles[] = {0.0, -3.0, 100.5, NAN, INFINITY,
                                         -INFINITY};
#define BAD_PERCENTILE "`percentile` 0, -3, 100.5, NaN, +inf or -inf"
#define BAD_PERCENTILES (sizeof bad_percentiles / sizeof bad_percentiles[0])

static void test_fit_image(void)
{
    core_fixture f = full_image();
    unsigned char *odd = misaligned_copy(&f);
    carve_fit fit, before;
    size_t i;
    memset(&fit, 0x5a, sizeof fit);
    before = fit;

    bad_section("Fitting plans");
    BAD_STATUS("`mem` or `fit` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "`*fit` unchanged", carve_layout_fit(NULL, NULL, 50, &fit));
    BAD_STATUS("`mem` or `fit` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "`*fit` unchanged", carve_layout_fit(f.image, NULL, 50, NULL));
    for (i = 0; i < BAD_PERCENTILES; ++i)
        BAD_STATUS(BAD_PERCENTILE, CARVE_ERROR_INVALID_ARGUMENT,
                   "`*fit` unchanged",
                   carve_layout_fit(f.image, NULL, bad_percentiles[i], &fit));
    BAD_STATUS(MISALIGNED, CARVE_ERROR_INVALID_ARGUMENT, "`*fit` unchanged",
               carve_layout_fit(odd, NULL, 50, &fit));
    EXPECT(memcmp(&fit, &before, sizeof fit) == 0);
    BAD_STATUS("`percentile` 100, or the smallest double above 0 "
               "(`DBL_TRUE_MIN`)",
               CARVE_SUCCESS,
               "the need of the hungriest work-item, or of the least hungry "
               "one (16 bytes at least)",
               carve_layout_fit(f.image, NULL, 100.0, &fit));
    EXPECT(fit.params.arena_bytes == fit.max_need_bytes && fit.above_cut == 0);
    BAD_STATUS("`percentile` 100, or the smallest double above 0 "
               "(`DBL_TRUE_MIN`)",
               CARVE_SUCCESS,
               "the need of the hungriest work-item, or of the least hungry "
               "one (16 bytes at least)",
               carve_layout_fit(f.image, NULL, 4.9406564584124654e-324, &fit));
    EXPECT(fit.work_items == 4 && fit.cut_bytes == 0 &&
           fit.params.arena_bytes == 16);
    free(odd - 1);
    fixture_free(&f);
}

static void test_fit_logs(void)
{
    core_fixture f = full_image(), other = fixture_make(3, 512, 0);
    carve_event_log *real = NULL, *different = NULL, wrong;
    const carve_event_log *logs[2];
    bad_streams streams = bad_streams_open();
    carve_fit result, before, *fit = &result;
    size_t i;
    int fault;
    REQUIRE_OK(carve_layout_event_log(f.image, &real));
    REQUIRE_OK(carve_layout_event_log(other.image, &different));
    memset(fit, 0x5a, sizeof *fit);
    before = *fit;
    logs[0] = real;
    logs[1] = NULL;

    BAD_STATUS("`logs` or `fit` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "`*fit` unchanged", carve_event_log_fit(NULL, 1, 50, fit));
    BAD_STATUS("`logs` or `fit` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "`*fit` unchanged", carve_event_log_fit(logs, 1, 50, NULL));
    BAD_STATUS("`count` 0", CARVE_ERROR_INVALID_ARGUMENT, "`*fit` unchanged",
               carve_event_log_fit(logs, 0, 50, fit));
    BAD_STATUS("a NULL log among them (the first or a later one)",
               CARVE_ERROR_INVALID_ARGUMENT, "`*fit` unchanged",
               carve_event_log_fit(logs, 2, 50, fit));
    BAD_STATUS("a NULL log among them (the first or a later one)",
               CARVE_ERROR_INVALID_ARGUMENT, "`*fit` unchanged",
               carve_event_log_fit(logs + 1, 1, 50, fit));
    logs[1] = different;
    BAD_STATUS("logs of different plans (4 arenas and 3)",
               CARVE_ERROR_INVALID_ARGUMENT, "`*fit` unchanged",
               carve_event_log_fit(logs, 2, 50, fit));
    for (i = 0; i < BAD_PERCENTILES; ++i)
        BAD_STATUS(BAD_PERCENTILE, CARVE_ERROR_INVALID_ARGUMENT,
                   "`*fit` unchanged",
                   carve_event_log_fit(logs, 1, bad_percentiles[i], fit));
    for (fault = 0; fault < FAULT_COUNT; ++fault) {
        wrong = hand_made(real, (log_fault)fault);
        logs[1] = &wrong;
        BAD_STATUS(HAND_MADE, CARVE_ERROR_INVALID_ARGUMENT,
                   "`*fit` unchanged; nothing of it is read",
                   carve_event_log_fit(logs + 1, 1, 50, fit));
    }
    EXPECT(memcmp(fit, &before, sizeof *fit) == 0);

    REQUIRE_OK(carve_event_log_fit(logs, 1, 90, fit));
    PRINT_CASES(carve_fit_print, fit, );
    carve_event_log_release(real);
    carve_event_log_release(different);
    bad_streams_close(&streams);
    fixture_free(&other);
    fixture_free(&f);
}

/* ---- damaged images ---------------------------------------------------------------- */

#define REFUSED_IMAGE                                                         \
    "an image `carve_layout_validate` refuses for its header: each damaged "  \
    "field of the layout functions' table, random bytes"

/* Every diagnostic that takes an image, on one it must refuse: nothing is
 * made, written or read past the header. */
static void expect_refused(unsigned char *mem, size_t size)
{
    unsigned char *copy = malloc(size);
    carve_report *r = (carve_report *)&copy;
    carve_event_log *log = (carve_event_log *)&copy;
    carve_fit fit, before;
    if (copy == NULL) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    memcpy(copy, mem, size);
    memset(&fit, 0x5a, sizeof fit);
    before = fit;
    BAD_STATUS(REFUSED_IMAGE, CARVE_ERROR_CORRUPT_SET, "`*report` set to NULL",
               carve_layout_report(mem, 0, &r));
    BAD_STATUS(REFUSED_IMAGE, CARVE_ERROR_CORRUPT_SET, "`*log` set to NULL",
               carve_layout_event_log(mem, &log));
    BAD_STATUS(REFUSED_IMAGE, CARVE_ERROR_CORRUPT_SET, NO_FILE,
               carve_layout_save_events(mem, OUT_PATH));
    BAD_STATUS(REFUSED_IMAGE, CARVE_ERROR_CORRUPT_SET, "`*fit` unchanged",
               carve_layout_fit(mem, NULL, 90, &fit));
    EXPECT(r == NULL && log == NULL && !file_exists(OUT_PATH) &&
           memcmp(&fit, &before, sizeof fit) == 0 &&
           memcmp(mem, copy, size) == 0);
    free(copy);
}

static void test_refused_images(carve_test_rng *rng)
{
    damage_target t = damage_target_make();
    unsigned char *buf = malloc(4096);
    size_t i;
    int round;
    if (buf == NULL) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    bad_section("Damaged images");
    remove(OUT_PATH);
    for (i = 0; i < HEADER_DAMAGES; ++i) {
        damage_field(&t, &header_damages[i]);
        expect_refused(t.image, t.size);
    }
    for (round = 0; round < FUZZ_IMAGES; ++round) {
        size_t n = 0;
        unsigned char *mem = random_image(rng, buf, round & 1, &n);
        if (n >= sizeof(carve_set_header)) /* they trust its size */
            expect_refused(mem, n);
    }
    free(buf);
    damage_target_free(&t);
}

/* Every diagnostic on an image validate accepts, whatever lies behind its
 * header; returns whether each gave one of its documented results. A
 * saved log may be refused when read back: damaged arena statistics are
 * saved as they are, and read refuses what no run can have made. */
static int diagnoses(const unsigned char *mem, int save)
{
    carve_report *r = NULL;
    carve_event_log *log = NULL, *back = NULL;
    carve_event_analysis *a = NULL;
    carve_fit fit;
    carve_status read;
    FILE *out = sink();
    int ok = carve_layout_report(mem, 0, &r) == CARVE_SUCCESS &&
             carve_report_print(r, out, CARVE_FORMAT_TEXT) == CARVE_SUCCESS &&
             carve_report_print(r, out, CARVE_FORMAT_JSON) == CARVE_SUCCESS;
    ok &= carve_layout_event_log(mem, &log) == CARVE_SUCCESS &&
          carve_event_log_analyze(log, &a) == CARVE_SUCCESS &&
          carve_event_analysis_print(a, out, CARVE_FORMAT_JSON, 0) ==
              CARVE_SUCCESS;
    ok &= carve_layout_fit(mem, NULL, 90, &fit) == CARVE_SUCCESS &&
          carve_fit_print(&fit, out, CARVE_FORMAT_TEXT) == CARVE_SUCCESS;
    if (save && ok) {
        ok &= carve_layout_save_events(mem, OUT_PATH) == CARVE_SUCCESS;
        read = carve_event_log_load(OUT_PATH, &back, NULL, 0);
        ok &= read == CARVE_SUCCESS || read == CARVE_ERROR_BAD_LOG;
    }
    carve_event_log_release(back);
    carve_event_analysis_release(a);
    carve_event_log_release(log);
    carve_report_release(r);
    fclose(out);
    return ok;
}

static void test_accepted_images(carve_test_rng *rng)
{
    damage_target t = damage_target_make();
    int round, ok = 1, accepted = 0;
    for (round = 0; round < FUZZ_IMAGES; ++round) {
        damage_target_restore(&t);
        damage_header_words(rng, t.image);
        if (carve_layout_validate(t.image, t.size) != CARVE_SUCCESS)
            continue;
        ++accepted;
        ok &= diagnoses(t.image, round % 8 == 0);
    }
    for (round = 0; round < FUZZ_IMAGES; ++round) {
        damage_target_restore(&t);
        damage_body(rng, t.image, t.size);
        ok &= diagnoses(t.image, round % 8 == 0);
    }
    fprintf(stderr, "%d images with a damaged header accepted\n", accepted);
    EXPECT(ok && accepted > 0);
    bad_row_add("carve_layout_*", "random damage to 1 to 3 words of a good "
                "header that validate accepts, or behind it: state table, "
                "logs, heap tables, arenas (thousands of images; seed "
                "printed)",
                "`CARVE_SUCCESS` from the report, the event log, its "
                "analysis, the fit and their printing; reading a saved log "
                "back: `CARVE_SUCCESS`, or `CARVE_ERROR_BAD_LOG` when damaged "
                "arena statistics are impossible",
                "broken arenas and heap are errors in the report; nothing "
                "read or written outside the image");
    remove(OUT_PATH);
    damage_target_free(&t);
}

int main(int argc, char **argv)
{
    carve_test_rng rng = damage_rng(argc, argv, 0xd1a6b4d);
    test_report();
    test_log_from_image();
    test_log_save();
    test_log_read();
    test_log_load();
    test_analysis();
    test_fit_image();
    test_fit_logs();
    test_refused_images(&rng);
    test_accepted_images(&rng);
    return bad_finish(argc, argv, "diagnostics");
}
