/* event_print.c - an event log's analysis as text or JSON. */
#include "diag_output.h"

#include <stdlib.h>
#include <string.h>
#include "fault.h" /* last: test builds wrap the calls above */

#define DEFAULT_TOP 10u

/* ---- choosing what to show ----------------------------------------------------- */

static int sites_by_bytes(const void *x, const void *y)
{
    const carve_event_site *a = *(const carve_event_site *const *)x;
    const carve_event_site *b = *(const carve_event_site *const *)y;
    if (a->alloc_bytes != b->alloc_bytes)
        return a->alloc_bytes > b->alloc_bytes ? -1 : 1;
    if (a->failures != b->failures)
        return a->failures > b->failures ? -1 : 1;
    return a->site < b->site ? -1 : a->site > b->site;
}

static int sites_by_leaks(const void *x, const void *y)
{
    const carve_event_site *a = *(const carve_event_site *const *)x;
    const carve_event_site *b = *(const carve_event_site *const *)y;
    if (a->leaked_bytes != b->leaked_bytes)
        return a->leaked_bytes > b->leaked_bytes ? -1 : 1;
    return a->site < b->site ? -1 : a->site > b->site;
}

static int items_by_peak(const void *x, const void *y)
{
    const carve_event_item *a = *(const carve_event_item *const *)x;
    const carve_event_item *b = *(const carve_event_item *const *)y;
    if (a->peak_bytes != b->peak_bytes)
        return a->peak_bytes > b->peak_bytes ? -1 : 1;
    return a->work_item < b->work_item ? -1 : a->work_item > b->work_item;
}

/* Pointers to the elements of an array, sorted by `order`. */
static const void **ranked(const void *array, size_t count, size_t size,
                           int (*order)(const void *, const void *))
{
    const void **out = malloc((count + 1) * sizeof *out);
    size_t i;
    if (out == NULL)
        return NULL;
    for (i = 0; i < count; ++i)
        out[i] = (const unsigned char *)array + i * size;
    qsort(out, count, sizeof *out, order);
    return out;
}

typedef struct ranking {
    const carve_event_site **sites;  /* by bytes requested */
    const carve_event_site **leaks;  /* by bytes leaked */
    const carve_event_item **items;  /* by peak */
} ranking;

static int rank_all(const carve_event_analysis *a, ranking *r)
{
    r->sites = (const carve_event_site **)ranked(
        a->sites, a->site_count, sizeof *a->sites, sites_by_bytes);
    r->leaks = (const carve_event_site **)ranked(
        a->sites, a->site_count, sizeof *a->sites, sites_by_leaks);
    r->items = (const carve_event_item **)ranked(
        a->items, a->item_count, sizeof *a->items, items_by_peak);
    return r->sites != NULL && r->leaks != NULL && r->items != NULL;
}

static void rank_free(ranking *r)
{
    free((void *)r->sites);
    free((void *)r->leaks);
    free((void *)r->items);
}

static size_t at_most(size_t count, uint32_t top)
{
    return count < top ? count : top;
}

/* ---- text ----------------------------------------------------------------------- */

static void text_header(const carve_event_analysis *a, FILE *out)
{
    const carve_event_log_info *i = &a->info;
    char x[32], y[32];
    fprintf(out, "carve event log: %u events (%s) from %u arenas of %s\n",
            (unsigned)i->events_kept,
            a->complete ? "all kept" : "incomplete",
            (unsigned)i->arena_count,
            carve__bytes_text(i->arena_bytes, x, sizeof x));
    fprintf(out, "  plan: checks %s, event log of %u records",
            i->options & CARVE_OPTION_CHECKS ? "on" : "off",
            (unsigned)i->event_capacity);
    if (i->heap_pages)
        fprintf(out, ", heap of %u pages of %s (requests of %u B or more)%s",
                (unsigned)i->heap_pages,
                carve__bytes_text(i->heap_page_bytes, y, sizeof y),
                (unsigned)i->large_bytes,
                i->options & CARVE_OPTION_HEAP_FALLBACK ? " with fallback"
                                                        : "");
    fputs("\n", out);
    if (!a->complete)
        fprintf(out,
                "  incomplete: the log kept the first %u of %u events; "
                "leaks, peaks and footprints cover those only\n",
                (unsigned)i->events_kept, (unsigned)i->events_seen);
    fprintf(out,
            "  allocations %llu, reallocs %llu, frees %llu, failed requests "
            "%llu, anomalies %llu\n",
            (unsigned long long)a->allocs, (unsigned long long)a->reallocs,
            (unsigned long long)a->frees, (unsigned long long)a->failures,
            (unsigned long long)a->anomalies);
    fprintf(out, "  peak in use: %llu B requested (at event %u), heap %llu B\n",
            (unsigned long long)a->peak_bytes, (unsigned)a->peak_event,
            (unsigned long long)a->heap_peak_bytes);
    fprintf(out, "  leaks: %llu blocks, %llu B live at the end of the log\n",
            (unsigned long long)a->leaked_blocks,
            (unsigned long long)a->leaked_bytes);
    if (a->has_arena_needs)
        fprintf(out,
                "  arena needs (peak footprints of all %u arenas): max %llu B, "
                "p50 %llu B, p90 %llu B, p99 %llu B, mean %.1f B\n",
                (unsigned)i->arena_count,
                (unsigned long long)a->arena_needs.max,
                (unsigned long long)a->arena_needs.p50,
                (unsigned long long)a->arena_needs.p90,
                (unsigned long long)a->arena_needs.p99, a->arena_needs.mean);
}

static void text_sites(const carve_event_analysis *a, const ranking *r,
                       uint32_t top, FILE *out)
{
    size_t i, n = at_most(a->site_count, top);
    char site[48];
    fprintf(out, "\ncall sites (top %zu by bytes requested, of %zu):\n", n,
            a->site_count);
    fprintf(out, "  %-18s %8s %12s %8s %8s %8s %8s\n", "site", "allocs",
            "bytes", "reallocs", "frees", "failed", "leaked");
    for (i = 0; i < n; ++i) {
        const carve_event_site *s = r->sites[i];
        fprintf(out, "  %-18s %8llu %10llu B %8llu %8llu %8llu %8llu\n",
                carve__site_text(s->site, site, sizeof site),
                (unsigned long long)s->allocs,
                (unsigned long long)s->alloc_bytes,
                (unsigned long long)s->reallocs,
                (unsigned long long)s->frees,
                (unsigned long long)s->failures,
                (unsigned long long)s->leaked_blocks);
    }
}

static void text_items(const carve_event_analysis *a, const ranking *r,
                       uint32_t top, FILE *out)
{
    size_t i, n = at_most(a->item_count, top);
    fprintf(out, "\nwork-items (top %zu by peak bytes, of %zu in the log):\n",
            n, a->item_count);
    fprintf(out, "  %-10s %7s %7s %7s %10s %11s %6s %9s %7s\n", "work-item",
            "allocs", "frees", "failed", "peak", "footprint", "heap",
            "fallbacks", "leaked");
    for (i = 0; i < n; ++i) {
        const carve_event_item *it = r->items[i];
        fprintf(out,
                "  %-10u %7llu %7llu %7llu %8llu B %9llu B %6llu %9llu "
                "%7llu\n",
                (unsigned)it->work_item, (unsigned long long)it->allocs,
                (unsigned long long)it->frees,
                (unsigned long long)it->failures,
                (unsigned long long)it->peak_bytes,
                (unsigned long long)it->footprint_bytes,
                (unsigned long long)it->heap_blocks,
                (unsigned long long)it->fallbacks,
                (unsigned long long)it->leaked_blocks);
    }
}

static void text_leaks(const carve_event_analysis *a, const ranking *r,
                       uint32_t top, FILE *out)
{
    size_t i, shown = 0;
    char site[48];
    fprintf(out, "\nleaks by allocation site (blocks live at the end of the "
                 "log):\n");
    for (i = 0; i < a->site_count && shown < top; ++i) {
        const carve_event_site *s = r->leaks[i];
        if (s->leaked_blocks == 0)
            break;
        fprintf(out, "  %s: %llu block(s), %llu B\n",
                carve__site_text(s->site, site, sizeof site),
                (unsigned long long)s->leaked_blocks,
                (unsigned long long)s->leaked_bytes);
        ++shown;
    }
    if (shown == 0)
        fputs("  none\n", out);
}

static void text_histogram(const carve_event_analysis *a, FILE *out)
{
    uint32_t b;
    fputs("\nrequest sizes (power-of-two buckets):\n", out);
    for (b = 0; b < CARVE_EVENT_BUCKETS; ++b) {
        const carve_event_bucket *k = &a->histogram[b];
        if (k->allocs == 0 && k->failures == 0)
            continue;
        fprintf(out, "  %10llu - %-10llu B  allocs %-8llu failed %llu\n",
                1ull << b, (2ull << b) - 1, (unsigned long long)k->allocs,
                (unsigned long long)k->failures);
    }
}

/* ---- JSON ----------------------------------------------------------------------- */

static void json_info(carve__json *j, const carve_event_log_info *i)
{
    carve__json_open(j, "log", '{');
    carve__json_uint(j, "arena_count", i->arena_count);
    carve__json_uint(j, "arena_bytes", i->arena_bytes);
    carve__json_bool(j, "checks", (i->options & CARVE_OPTION_CHECKS) != 0);
    carve__json_bool(j, "heap_fallback",
                     (i->options & CARVE_OPTION_HEAP_FALLBACK) != 0);
    carve__json_uint(j, "heap_pages", i->heap_pages);
    carve__json_uint(j, "heap_page_bytes", i->heap_page_bytes);
    carve__json_uint(j, "large_bytes", i->large_bytes);
    carve__json_uint(j, "event_capacity", i->event_capacity);
    carve__json_uint(j, "events_seen", i->events_seen);
    carve__json_uint(j, "events_kept", i->events_kept);
    carve__json_close(j, '}');
}

static void json_site(carve__json *j, const carve_event_site *s)
{
    carve__json_open(j, NULL, '{');
    carve__json_site(j, "site", s->site);
    carve__json_uint(j, "allocs", s->allocs);
    carve__json_uint(j, "alloc_bytes", s->alloc_bytes);
    carve__json_uint(j, "largest_request", s->largest_request);
    carve__json_uint(j, "reallocs", s->reallocs);
    carve__json_uint(j, "frees", s->frees);
    carve__json_uint(j, "failures", s->failures);
    carve__json_uint(j, "leaked_blocks", s->leaked_blocks);
    carve__json_uint(j, "leaked_bytes", s->leaked_bytes);
    carve__json_close(j, '}');
}

static void json_item(carve__json *j, const carve_event_item *it)
{
    carve__json_open(j, NULL, '{');
    carve__json_uint(j, "work_item", it->work_item);
    carve__json_uint(j, "allocs", it->allocs);
    carve__json_uint(j, "frees", it->frees);
    carve__json_uint(j, "failures", it->failures);
    carve__json_uint(j, "peak_bytes", it->peak_bytes);
    carve__json_uint(j, "footprint_bytes", it->footprint_bytes);
    carve__json_uint(j, "arena_peak_bytes", it->arena_peak_bytes);
    carve__json_uint(j, "heap_blocks", it->heap_blocks);
    carve__json_uint(j, "fallbacks", it->fallbacks);
    carve__json_uint(j, "spill_bytes", it->spill_bytes);
    carve__json_uint(j, "leaked_blocks", it->leaked_blocks);
    carve__json_uint(j, "leaked_bytes", it->leaked_bytes);
    carve__json_close(j, '}');
}

static void json_analysis(const carve_event_analysis *a, const ranking *r,
                          uint32_t top, FILE *out)
{
    carve__json j;
    size_t i;
    uint32_t b;
    carve__json_start(&j, out);
    carve__json_open(&j, NULL, '{');
    carve__json_text(&j, "format", "carve-event-analysis");
    carve__json_uint(&j, "version", 1);
    json_info(&j, &a->info);
    carve__json_bool(&j, "complete", a->complete);
    carve__json_open(&j, "totals", '{');
    carve__json_uint(&j, "allocs", a->allocs);
    carve__json_uint(&j, "reallocs", a->reallocs);
    carve__json_uint(&j, "frees", a->frees);
    carve__json_uint(&j, "failures", a->failures);
    carve__json_uint(&j, "anomalies", a->anomalies);
    carve__json_uint(&j, "peak_bytes", a->peak_bytes);
    carve__json_uint(&j, "peak_event", a->peak_event);
    carve__json_uint(&j, "heap_peak_bytes", a->heap_peak_bytes);
    carve__json_uint(&j, "leaked_blocks", a->leaked_blocks);
    carve__json_uint(&j, "leaked_bytes", a->leaked_bytes);
    carve__json_close(&j, '}');
    if (a->has_arena_needs)
        carve__json_spread(&j, "arena_needs", &a->arena_needs);
    carve__json_open(&j, "sites", '[');
    for (i = 0; i < a->site_count; ++i)
        json_site(&j, &a->sites[i]);
    carve__json_close(&j, ']');
    carve__json_uint(&j, "work_item_count", a->item_count);
    carve__json_open(&j, "work_items", '[');
    for (i = 0; i < at_most(a->item_count, top); ++i)
        json_item(&j, r->items[i]);
    carve__json_close(&j, ']');
    carve__json_open(&j, "histogram", '[');
    for (b = 0; b < CARVE_EVENT_BUCKETS; ++b) {
        if (a->histogram[b].allocs == 0 && a->histogram[b].failures == 0)
            continue;
        carve__json_open(&j, NULL, '{');
        carve__json_uint(&j, "from_bytes", 1ull << b);
        carve__json_uint(&j, "to_bytes", (2ull << b) - 1);
        carve__json_uint(&j, "allocs", a->histogram[b].allocs);
        carve__json_uint(&j, "failures", a->histogram[b].failures);
        carve__json_close(&j, '}');
    }
    carve__json_close(&j, ']');
    carve__json_close(&j, '}');
}

carve_status carve_event_analysis_print(const carve_event_analysis *a,
                                        FILE *out, carve_format format,
                                        uint32_t top)
{
    ranking r;
    if (!carve__print_ok(a, out, format))
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (top == 0)
        top = DEFAULT_TOP;
    if (!rank_all(a, &r)) {
        rank_free(&r);
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    }
    if (format == CARVE_FORMAT_JSON) {
        json_analysis(a, &r, top, out);
    } else {
        text_header(a, out);
        text_sites(a, &r, top, out);
        text_items(a, &r, top, out);
        text_leaks(a, &r, top, out);
        text_histogram(a, out);
    }
    rank_free(&r);
    return carve__print_status(out);
}
