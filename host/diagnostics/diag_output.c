/* diag_output.c - JSON writing, names and grouping for the diagnostics. */
#include "diag_output.h"

#include <stdlib.h>
#include <string.h>
#include "fault.h" /* last: test builds wrap the calls above */

/* ---- JSON ------------------------------------------------------------------- */

void carve__json_start(carve__json *j, FILE *stream)
{
    j->stream = stream;
    j->depth = 0;
    j->comma = 0;
}

/* Ends the previous value, indents, and writes the key if any. */
static void json_next(carve__json *j, const char *key)
{
    int i;
    if (j->depth > 0)
        fputs(j->comma ? ",\n" : "\n", j->stream);
    for (i = 0; i < j->depth; ++i)
        fputs("  ", j->stream);
    if (key != NULL)
        fprintf(j->stream, "\"%s\": ", key);
    j->comma = 1;
}

void carve__json_open(carve__json *j, const char *key, char bracket)
{
    json_next(j, key);
    fputc(bracket, j->stream);
    j->depth += 1;
    j->comma = 0;
}

void carve__json_close(carve__json *j, char bracket)
{
    int i, empty = !j->comma;
    j->depth -= 1;
    if (!empty) {
        fputc('\n', j->stream);
        for (i = 0; i < j->depth; ++i)
            fputs("  ", j->stream);
    }
    fputc(bracket, j->stream);
    if (j->depth == 0)
        fputc('\n', j->stream);
    j->comma = 1;
}

void carve__json_uint(carve__json *j, const char *key, uint64_t value)
{
    json_next(j, key);
    fprintf(j->stream, "%llu", (unsigned long long)value);
}

void carve__json_real(carve__json *j, const char *key, double value)
{
    json_next(j, key);
    /* JSON has no NaN or infinity (x - x is NaN for both). */
    if (value - value == 0.0)
        fprintf(j->stream, "%.6g", value);
    else
        fputs("null", j->stream);
}

void carve__json_bool(carve__json *j, const char *key, int value)
{
    json_next(j, key);
    fputs(value ? "true" : "false", j->stream);
}

void carve__json_text(carve__json *j, const char *key, const char *text)
{
    const unsigned char *c;
    json_next(j, key);
    if (text == NULL) {
        fputs("null", j->stream);
        return;
    }
    fputc('"', j->stream);
    for (c = (const unsigned char *)text; *c != '\0'; ++c) {
        if (*c == '"' || *c == '\\')
            fprintf(j->stream, "\\%c", *c);
        else if (*c < 0x20)
            fprintf(j->stream, "\\u%04x", *c);
        else
            fputc(*c, j->stream);
    }
    fputc('"', j->stream);
}

void carve__json_plan_params(carve__json *j, const char *key,
                             const carve_plan_params *params)
{
    cl_uint d;
    carve__json_open(j, key, '{');
    carve__json_uint(j, "work_dim", params->work_dim);
    carve__json_open(j, "global_size", '[');
    for (d = 0; d < params->work_dim && d < 3; ++d)
        carve__json_uint(j, NULL, params->global_size[d]);
    carve__json_close(j, ']');
    carve__json_uint(j, "arena_count", params->arena_count);
    carve__json_uint(j, "arena_bytes", params->arena_bytes);
    carve__json_uint(j, "arena_alignment", params->arena_alignment);
    carve__json_uint(j, "heap_bytes", params->heap_bytes);
    carve__json_uint(j, "heap_page_bytes", params->heap_page_bytes);
    carve__json_uint(j, "large_request_bytes", params->large_request_bytes);
    carve__json_uint(j, "error_log_records", params->error_log_records);
    carve__json_uint(j, "event_log_records", params->event_log_records);
    carve__json_bool(j, "checks", (params->options & CARVE_PLAN_CHECKS) != 0);
    carve__json_bool(j, "heap_fallback",
                     (params->options & CARVE_PLAN_HEAP_FALLBACK) != 0);
    carve__json_bool(j, "small_runs",
                     (params->options & CARVE_PLAN_SMALL_RUNS) != 0);
    carve__json_close(j, '}');
}

void carve__json_site(carve__json *j, const char *key, uint32_t site)
{
    if (site == CARVE_SITE_UNKNOWN) {
        json_next(j, key);
        fputs("null", j->stream);
        return;
    }
    carve__json_open(j, key, '{');
    carve__json_uint(j, "file", CARVE_SITE_FILE(site));
    carve__json_uint(j, "line", CARVE_SITE_LINE(site));
    carve__json_close(j, '}');
}

void carve__json_spread(carve__json *j, const char *key,
                        const carve_report_spread *s)
{
    carve__json_open(j, key, '{');
    carve__json_uint(j, "max", s->max);
    carve__json_uint(j, "p50", s->p50);
    carve__json_uint(j, "p90", s->p90);
    carve__json_uint(j, "p99", s->p99);
    carve__json_real(j, "mean", s->mean);
    carve__json_close(j, '}');
}

int carve__print_ok(const void *object, FILE *stream, carve_format format)
{
    return object != NULL && stream != NULL &&
           (format == CARVE_FORMAT_TEXT || format == CARVE_FORMAT_JSON);
}

carve_status carve__print_status(FILE *stream)
{
    return fflush(stream) == 0 && !ferror(stream) ? CARVE_SUCCESS
                                                  : CARVE_ERROR_IO;
}

/* ---- names ------------------------------------------------------------------- */

const char *carve__site_text(uint32_t site, char *buf, size_t size)
{
    if (site == CARVE_SITE_UNKNOWN)
        carve__message(buf, size, "an unknown site");
    else if (CARVE_SITE_FILE(site) != 0)
        carve__message(buf, size, "file %u line %u",
                       (unsigned)CARVE_SITE_FILE(site),
                       (unsigned)CARVE_SITE_LINE(site));
    else
        carve__message(buf, size, "line %u", (unsigned)CARVE_SITE_LINE(site));
    return buf;
}

static const char *key_of(const char *const *keys, size_t count, uint32_t i)
{
    return i < count ? keys[i] : "unknown";
}

#define KEY_OF(keys, i) key_of((keys), sizeof(keys) / sizeof((keys)[0]), (i))

const char *carve__misuse_key(uint32_t kind)
{
    static const char *const keys[] = {
        "none",    "foreign", "interior",    "not_live",
        "corrupt", "freed",   "other_arena", "overflow"};
    return KEY_OF(keys, kind);
}

const char *carve__failure_key(uint32_t reason)
{
    static const char *const keys[] = {
        "none",    "too_large", "out_of_memory", "bad_alignment",
        "overflow", "corrupt",  "no_arena",      "contention"};
    return KEY_OF(keys, reason);
}

const char *carve__call_key(uint32_t call)
{
    static const char *const keys[] = {
        "none", "malloc", "calloc",     "realloc",
        "free", "realloc_free", "failed", "host_check", "usable_size"};
    return KEY_OF(keys, call);
}

/* ---- grouping ------------------------------------------------------------------ */

static int compare_tally(const void *x, const void *y)
{
    const carve__tally *a = x, *b = y;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->call != b->call)
        return a->call < b->call ? -1 : 1;
    if (a->site != b->site)
        return a->site < b->site ? -1 : 1;
    if (a->work_item != b->work_item)
        return a->work_item < b->work_item ? -1 : 1;
    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* Largest first; ties in key order, so the output is deterministic. */
static int compare_groups(const carve_report_group *a,
                          const carve_report_group *b, uint64_t ka,
                          uint64_t kb)
{
    if (ka != kb)
        return ka > kb ? -1 : 1;
    if (a->site != b->site)
        return a->site < b->site ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return a->call < b->call ? -1 : a->call > b->call;
}

static int compare_by_count(const void *x, const void *y)
{
    const carve_report_group *a = x, *b = y;
    return compare_groups(a, b, a->count, b->count);
}

static int compare_by_bytes(const void *x, const void *y)
{
    const carve_report_group *a = x, *b = y;
    return compare_groups(a, b, a->bytes, b->bytes);
}

static int same_key(const carve__tally *a, const carve__tally *b)
{
    return a->kind == b->kind && a->call == b->call && a->site == b->site;
}

int carve__group(carve__tally *tallies, size_t n, int bytes_rule,
                 int by_bytes, carve_report_group **groups, size_t *count)
{
    carve_report_group *out = NULL, *g = NULL;
    size_t i, made = 0;
    *groups = NULL;
    *count = 0;
    if (n == 0)
        return 1;
    qsort(tallies, n, sizeof *tallies, compare_tally);
    out = calloc(n, sizeof *out); /* at most one group per record */
    if (out == NULL)
        return 0;
    for (i = 0; i < n; ++i) {
        const carve__tally *t = &tallies[i];
        if (i == 0 || !same_key(t, &tallies[i - 1])) {
            g = &out[made++];
            g->kind = t->kind;
            g->call = t->call;
            g->site = t->site;
            g->first_work_item = t->work_item; /* sorted: the lowest */
            g->first_offset = t->offset;
        }
        /* Blocks of the heap whose owner is unknown (and errors the host
         * found in the heap) are no work-item. */
        if ((i == 0 || !same_key(t, &tallies[i - 1]) ||
             t->work_item != tallies[i - 1].work_item) &&
            t->work_item != CARVE_WORK_ITEM_UNKNOWN)
            g->work_items += 1;
        g->count += t->count;
        if (bytes_rule == CARVE__BYTES_MAX)
            g->bytes = t->bytes > g->bytes ? t->bytes : g->bytes;
        else
            g->bytes += t->bytes;
    }
    qsort(out, made, sizeof *out,
          by_bytes ? compare_by_bytes : compare_by_count);
    *groups = out;
    *count = made;
    return 1;
}

int carve__reserve(void **array, size_t count, size_t *capacity,
                   size_t element)
{
    size_t grown_capacity;
    void *grown;
    if (count < *capacity)
        return 1;
    grown_capacity = *capacity ? 2 * *capacity : 64;
    grown = realloc(*array, grown_capacity * element);
    if (grown == NULL)
        return 0;
    *array = grown;
    *capacity = grown_capacity;
    return 1;
}

void carve__tallies_add(carve__tallies *t, const carve__tally *item)
{
    if (t->failed || !carve__reserve((void **)&t->items, t->count,
                                     &t->capacity, sizeof *t->items)) {
        t->failed = 1;
        return;
    }
    t->items[t->count++] = *item;
}

uint64_t carve__percentile(const uint64_t *sorted, size_t n, double p)
{
    double rank = p / 100.0 * (double)n;
    size_t k;
    if (n == 0)
        return 0;
    /* ceil(rank), clamped to [1, n], without libm. */
    k = rank >= (double)n ? n : (size_t)rank;
    if ((double)k < rank)
        k += 1;
    if (k == 0)
        k = 1;
    return sorted[k - 1];
}

static int compare_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

void carve__sort_u64(uint64_t *values, size_t n)
{
    if (n > 1)
        qsort(values, n, sizeof *values, compare_u64);
}

void carve__spread(uint64_t *values, size_t n, carve_report_spread *out)
{
    uint64_t sum = 0;
    size_t i;
    memset(out, 0, sizeof *out);
    if (n == 0)
        return;
    carve__sort_u64(values, n);
    for (i = 0; i < n; ++i)
        sum += values[i];
    out->max = values[n - 1];
    out->p50 = carve__percentile(values, n, 50);
    out->p90 = carve__percentile(values, n, 90);
    out->p99 = carve__percentile(values, n, 99);
    out->mean = (double)sum / (double)n;
}
