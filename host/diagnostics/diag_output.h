/*
 * diag_output.h - what the diagnostics' printers share (report.c,
 * events.c, fit.c): a small pretty-printing JSON writer, names of the
 * core's codes for JSON, call sites as text, and "collect, sort, group"
 * of records into carve_report_group lists. Not installed.
 */
#ifndef CARVE_DIAG_OUTPUT_H
#define CARVE_DIAG_OUTPUT_H

#include "carve_internal.h"
#include "carve/diagnostics.h"

/* A JSON document being written: values go one per line, indented. */
typedef struct carve__json {
    FILE *stream;
    int depth;
    int comma; /* a value was written at this depth: the next needs ',' */
} carve__json;

void carve__json_start(carve__json *j, FILE *stream);
/* Opens an object ('{') or array ('['); key is NULL inside arrays and for
 * the document itself. */
void carve__json_open(carve__json *j, const char *key, char bracket);
void carve__json_close(carve__json *j, char bracket);
void carve__json_uint(carve__json *j, const char *key, uint64_t value);
void carve__json_real(carve__json *j, const char *key, double value);
void carve__json_bool(carve__json *j, const char *key, int value);
/* A string, escaped; NULL writes null. */
void carve__json_text(carve__json *j, const char *key, const char *text);
/* A call site: {"file": F, "line": L}, or null when unknown. */
void carve__json_site(carve__json *j, const char *key, uint32_t site);

/* Every field of carve_plan_params under its own name, flags as booleans
 * (checks, heap_fallback, small_runs): the one shape `carve fit --json`
 * and `carve plan --json` give parameters in. */
void carve__json_plan_params(carve__json *j, const char *key,
                             const carve_plan_params *params);

/* Why a carve_event_log cannot be read safely (records missing, a
 * geometry no plan has, arena records neither none nor one per arena), or
 * NULL: what the functions taking a log check, as one may be made by
 * hand. */
const char *carve__event_log_fault(const carve_event_log *log);

/* A report's totals (carve_summary) and a whole report, as
 * carve_report_print writes them, under `key` (NULL in an array or for the
 * document). */
void carve__json_summary(carve__json *j, const char *key,
                         const carve_summary *s);
void carve__json_report(carve__json *j, const char *key,
                        const carve_report *r);
/* The text report's sections, as carve_report_print writes them. */
void carve__text_report(const carve_report *r, FILE *out);
/* Adds `first` to every work-item number of a report (not to UNKNOWN or
 * the heap's CARVE_HEAP_INDEX): a slice's report in launch-wide numbers. */
void carve__report_shift_work_items(carve_report *r, uint32_t first);

/* A distribution: {"max", "p50", "p90", "p99", "mean"}. */
void carve__json_spread(carve__json *j, const char *key,
                        const carve_report_spread *s);

/* Whether a print call's arguments are usable. */
int carve__print_ok(const void *object, FILE *stream, carve_format format);

/* The stream's verdict after printing: SUCCESS or CARVE_ERROR_IO. */
carve_status carve__print_status(FILE *stream);

/* "line 42", "file 3 line 42", or "an unknown site". */
const char *carve__site_text(uint32_t site, char *buf, size_t size);

/* Short identifiers for JSON ("freed", "out_of_memory", "free"). */
const char *carve__misuse_key(uint32_t kind);
const char *carve__failure_key(uint32_t reason);
const char *carve__call_key(uint32_t call);

/* One record to be grouped: the group key is (kind, call, site). */
typedef struct carve__tally {
    uint32_t kind, call, site;
    uint32_t work_item;
    uint32_t offset;
    uint64_t count;
    uint64_t bytes;
} carve__tally;

/* How a group's bytes combine its records' bytes. */
#define CARVE__BYTES_SUM 0
#define CARVE__BYTES_MAX 1

/* Sorts `tallies` and groups them by key; *groups (malloc'ed, may be NULL
 * when n is 0) is ordered by count (or, with by_bytes, bytes), largest
 * first. Returns 0 when out of memory. */
int carve__group(carve__tally *tallies, size_t n, int bytes_rule,
                 int by_bytes, carve_report_group **groups, size_t *count);

/* Makes room for one more element after `count` in a growable array;
 * 0 (the array unchanged) when out of memory. */
int carve__reserve(void **array, size_t count, size_t *capacity,
                   size_t element);

/* A growable array of tallies. */
typedef struct carve__tallies {
    carve__tally *items;
    size_t count, capacity;
    int failed; /* an append ran out of memory */
} carve__tallies;

void carve__tallies_add(carve__tallies *t, const carve__tally *item);

/* The nearest-rank p-th percentile (0 < p <= 100) of n sorted values. */
uint64_t carve__percentile(const uint64_t *sorted, size_t n, double p);

/* Sorts n values ascending. */
void carve__sort_u64(uint64_t *values, size_t n);

/* Max, nearest-rank percentiles and mean of n values (sorted in place). */
void carve__spread(uint64_t *values, size_t n, carve_report_spread *out);

#endif /* CARVE_DIAG_OUTPUT_H */
