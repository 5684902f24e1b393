/* fit.c - the smallest plan a profiling run shows would have served its
 * work-items (see carve_fit in diagnostics.h for the method and what it
 * does not guarantee). Sources (an image's statistics, event logs) become
 * one list of samples; one function fits them. */
#include "diag_output.h"

#include <stdlib.h>
#include <string.h>
#include "fault.h" /* last: test builds wrap the calls above */
#include "carve_alloc.h"

#define DEFAULT_PAGE_BYTES 4096u
#define DEFAULT_ALIGNMENT 128u
#define NEVER_STRAIGHT_TO_HEAP 0xffffffffu

typedef struct fit_sample {
    uint64_t need;    /* arena bytes the work-item needed */
    uint64_t spill;   /* its heap cost if it spills (diagnostics.h) */
    uint64_t classes; /* the slot classes it would use, a bit each */
    int understated;
} fit_sample;

/* The profiling run, as far as the fit needs it. */
typedef struct fit_profile {
    carve_plan_params params; /* the base of the fitted parameters */
    uint32_t arena_bytes;
    uint32_t options;         /* CARVE_OPTION_* */
    uint32_t large_bytes;     /* 0 without a heap */
    uint32_t heap_page_bytes; /* 0 without a heap */
    uint64_t heap_bytes;
    int heap_used;            /* some block was taken from the heap */
    int spill_exact;
} fit_profile;

static uint64_t round_up(uint64_t x, uint64_t to)
{
    return (x + to - 1) / to * to;
}

/* A spill bound from statistics alone: a slot is under 1.5x its block,
 * its share of a page at most 1.5x the slot (plus rounding); whole pages
 * are under 2x. Every slot class may be used. */
static void spill_bound(fit_sample *s, uint64_t in_use_bytes,
                        uint32_t page_bytes)
{
    s->spill = in_use_bytes * 5 / 2;
    s->classes = in_use_bytes == 0
                     ? 0
                     : (1ull << carve_heap_class_count(page_bytes)) - 1;
}

/* What a work-item that spills may hold reserved in the heap beyond its
 * live blocks (carve_heap.h): up to carve_heap_hold_cap slots of one
 * class, each at its share of a page. Any class: a work-item that frees
 * blocks others allocated may hold slots of a class it never asked
 * for. */
static uint64_t hold_allowance(uint32_t page_bytes)
{
    uint64_t most = 0, cost;
    uint32_t c, slots;
    for (c = 0; c < carve_heap_class_count(page_bytes); ++c) {
        slots = page_bytes / (carve_heap_class_granules(c) * CARVE_GRANULE);
        cost = (uint64_t)carve_heap_hold_cap(c, UINT32_MAX) *
               ((page_bytes + slots - 1) / slots);
        most = cost > most ? cost : most;
    }
    return most;
}

static uint32_t bit_count(uint64_t x)
{
    uint32_t n = 0;
    for (; x != 0; x &= x - 1)
        ++n;
    return n;
}

static carve_status fit_samples(fit_sample *samples, size_t n,
                                const fit_profile *p, double percentile,
                                carve_fit *out)
{
    uint64_t *needs = malloc((n ? n : 1) * sizeof *needs);
    uint64_t arena, heap, page, alignment, classes = 0;
    size_t i;
    if (needs == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    memset(out, 0, sizeof *out);
    for (i = 0; i < n; ++i)
        needs[i] = samples[i].need;
    carve__sort_u64(needs, n);
    out->percentile = percentile;
    out->work_items = n;
    out->max_need_bytes = n ? needs[n - 1] : 0;
    out->cut_bytes = carve__percentile(needs, n, percentile);
    free(needs);
    arena = out->cut_bytes < CARVE_GRANULE ? CARVE_GRANULE : out->cut_bytes;
    page = p->heap_page_bytes ? p->heap_page_bytes : DEFAULT_PAGE_BYTES;
    for (i = 0; i < n; ++i) {
        out->understated += samples[i].understated != 0;
        if (samples[i].need > arena) {
            out->above_cut += 1;
            out->spill_bytes += samples[i].spill +
                                hold_allowance((uint32_t)page);
            classes |= samples[i].classes;
        }
    }
    out->spill_exact = p->spill_exact;
    out->profiled_heap_bytes = p->heap_used ? p->heap_bytes : 0;
    out->profiled_arena_bytes = p->arena_bytes;
    /* Each slot class may leave one page part empty; the rounding up of
     * the sum already holds one of them. */
    out->spill_classes = bit_count(classes);
    out->spill_pages = (out->spill_bytes + page - 1) / page +
                       (out->spill_classes ? out->spill_classes - 1 : 0);
    heap = round_up(out->profiled_heap_bytes, page) + out->spill_pages * page;

    out->params = p->params;
    out->params.arena_bytes = arena;
    out->params.options = p->options & (CARVE_PLAN_CHECKS |
                                        CARVE_PLAN_HEAP_FALLBACK |
                                        CARVE_PLAN_SMALL_RUNS);
    out->params.heap_bytes = heap;
    out->params.heap_page_bytes = heap ? (uint32_t)page : 0;
    /* Routing stays as profiled: the same threshold, or none. */
    out->params.large_request_bytes =
        heap == 0 ? 0
                  : p->large_bytes ? p->large_bytes : NEVER_STRAIGHT_TO_HEAP;
    if (out->spill_bytes > 0)
        out->params.options |= CARVE_PLAN_HEAP_FALLBACK;
    if (heap == 0)
        out->params.options &= ~(uint32_t)CARVE_PLAN_HEAP_FALLBACK;

    alignment = p->params.arena_alignment ? p->params.arena_alignment
                                          : DEFAULT_ALIGNMENT;
    out->profiled_total_bytes =
        n * round_up(p->arena_bytes, alignment) + p->heap_bytes;
    out->fitted_total_bytes = n * round_up(arena, alignment) + heap;
    return CARVE_SUCCESS;
}

static int percentile_valid(double p)
{
    return p > 0.0 && p <= 100.0;
}

/* ---- from logs (an image's own, or saved ones) --------------------------------- */

static int same_plan(const carve_event_log_info *a,
                     const carve_event_log_info *b)
{
    return a->arena_count == b->arena_count &&
           a->arena_bytes == b->arena_bytes && a->options == b->options &&
           a->large_bytes == b->large_bytes && a->heap_pages == b->heap_pages &&
           a->heap_page_bytes == b->heap_page_bytes;
}

/* The samples of one log: its arena statistics when it has them (exact
 * even when events were dropped), else its replayed footprints; spills
 * and fallbacks block by block when it has every event. */
static void log_samples(const carve_event_log *log,
                        const carve_event_analysis *a, fit_sample *out,
                        fit_profile *p)
{
    uint32_t i, n = log->info.arena_count;
    size_t k;
    int fallback_plan = (log->info.options & CARVE_OPTION_HEAP_FALLBACK) != 0;
    int exact = (log->info.options & CARVE_OPTION_EVENTS) && a->complete;
    uint32_t page = log->info.heap_pages ? log->info.heap_page_bytes
                                         : DEFAULT_PAGE_BYTES;
    for (i = 0; i < n; ++i) {
        const carve_event_arena *st =
            log->arena_records ? &log->arenas[i] : NULL;
        out[i].need = st ? st->footprint_bytes : 0;
        spill_bound(&out[i], st ? st->in_use_bytes : 0, page);
        /* Statistics do not tell a fallback from a large request. */
        out[i].understated =
            st && (st->failed_count != 0 ||
                   (fallback_plan && st->heap_allocs != 0));
        p->heap_used |= st && st->heap_allocs != 0;
    }
    for (k = 0; k < a->item_count; ++k) {
        const carve_event_item *it = &a->items[k];
        fit_sample *s = &out[it->work_item]; /* < arena_count: replayed */
        if (log->arena_records == 0)
            s->need = it->footprint_bytes;
        p->heap_used |= it->heap_blocks != 0;
        if (!exact)
            continue;
        s->spill = it->spill_bytes;
        s->classes = it->spill_classes;
        s->understated = it->failures != 0 || it->fallbacks != 0;
    }
    if (!exact)
        p->spill_exact = 0;
}

/* Fits the pooled work-items of `count` logs of one plan; `base` (or, if
 * NULL, the log's arena count and log sizes) is what the fit keeps. */
static carve_status fit_logs(const carve_event_log *const *logs, size_t count,
                             const carve_plan_params *base, double percentile,
                             carve_fit *fit)
{
    fit_profile p;
    fit_sample *samples;
    carve_status status = CARVE_SUCCESS;
    const carve_event_log_info *first;
    size_t i, n;
    if (logs == NULL || count == 0 || fit == NULL ||
        !percentile_valid(percentile))
        return CARVE_ERROR_INVALID_ARGUMENT;
    for (i = 0; i < count; ++i)
        if (logs[i] == NULL || carve__event_log_fault(logs[i]) != NULL ||
            !same_plan(&logs[0]->info, &logs[i]->info))
            return CARVE_ERROR_INVALID_ARGUMENT;
    first = &logs[0]->info;
    n = (size_t)first->arena_count * count;
    samples = malloc(n * sizeof *samples);
    if (samples == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    memset(&p, 0, sizeof p);
    p.spill_exact = 1;
    for (i = 0; i < count && status == CARVE_SUCCESS; ++i) {
        carve_event_analysis *a = NULL;
        status = carve_event_log_analyze(logs[i], &a);
        if (status == CARVE_SUCCESS)
            log_samples(logs[i], a, samples + i * first->arena_count, &p);
        carve_event_analysis_release(a);
    }
    if (base != NULL) {
        p.params = *base;
    } else {
        p.params.arena_count = first->arena_count;
        p.params.error_log_records = first->error_capacity;
        p.params.event_log_records = first->event_capacity;
    }
    p.arena_bytes = first->arena_bytes;
    p.options = first->options;
    p.large_bytes = first->large_bytes;
    p.heap_page_bytes = first->heap_pages ? first->heap_page_bytes : 0;
    p.heap_bytes = (uint64_t)first->heap_pages * first->heap_page_bytes;
    if (status == CARVE_SUCCESS)
        status = fit_samples(samples, n, &p, percentile, fit);
    free(samples);
    return status;
}

carve_status carve_event_log_fit(const carve_event_log *const *logs,
                                 size_t count, double percentile,
                                 carve_fit *fit)
{
    return fit_logs(logs, count, NULL, percentile, fit);
}

/* The arenas `params` asks for: one per work-item of its NDRange, or
 * arena_count; 0 for no valid shape. */
static uint64_t planned_arenas(const carve_plan_params *params)
{
    uint64_t count = 1;
    cl_uint d;
    if (params->work_dim == 0)
        return params->arena_count;
    if (params->work_dim > 3)
        return 0;
    for (d = 0; d < params->work_dim; ++d)
        count = params->global_size[d] != 0 &&
                        count <= UINT64_MAX / params->global_size[d]
                    ? count * params->global_size[d]
                    : 0;
    return count;
}

/* An image: its statistics, and its event log when it has one. */
carve_status carve_layout_fit(const void *mem,
                              const carve_plan_params *planned,
                              double percentile, carve_fit *fit)
{
    carve_event_log *log = NULL;
    const carve_event_log *logs[1];
    carve_status status;
    if (mem == NULL || fit == NULL || !percentile_valid(percentile))
        return CARVE_ERROR_INVALID_ARGUMENT;
    status = carve_layout_event_log(mem, &log);
    if (status == CARVE_SUCCESS && planned != NULL &&
        planned_arenas(planned) != log->info.arena_count)
        status = CARVE_ERROR_INVALID_ARGUMENT;
    logs[0] = log;
    if (status == CARVE_SUCCESS)
        status = fit_logs(logs, 1, planned, percentile, fit);
    carve_event_log_release(log);
    return status;
}

/* ---- printing ------------------------------------------------------------------- */

static void text_fit(const carve_fit *f, FILE *out)
{
    const carve_plan_params *q = &f->params;
    char a[32], b[32];
    fprintf(out, "carve fit: %llu work-item(s) measured; percentile %g\n",
            (unsigned long long)f->work_items, f->percentile);
    fprintf(out,
            "  needs (peak footprints): max %llu B; at the percentile %llu "
            "B\n",
            (unsigned long long)f->max_need_bytes,
            (unsigned long long)f->cut_bytes);
    fprintf(out,
            "  arena_bytes %llu (was %llu): %llu work-item(s) need more and "
            "spill into the heap\n",
            (unsigned long long)q->arena_bytes,
            (unsigned long long)f->profiled_arena_bytes,
            (unsigned long long)f->above_cut);
    if (q->heap_bytes == 0) {
        fputs("  heap_bytes 0: no shared heap needed\n", out);
    } else {
        fprintf(out,
                "  heap_bytes %llu: %llu B kept for large requests + %llu "
                "pages of %u B for the spill (costs %llu B %s, %u slot "
                "class(es))\n",
                (unsigned long long)q->heap_bytes,
                (unsigned long long)f->profiled_heap_bytes,
                (unsigned long long)f->spill_pages,
                (unsigned)q->heap_page_bytes,
                (unsigned long long)f->spill_bytes,
                f->spill_exact ? "block by block, from the event log"
                               : "bounded from statistics",
                (unsigned)f->spill_classes);
        if (q->large_request_bytes == 0xffffffffu)
            fputs("  large_request_bytes: none go straight to the heap, as "
                  "profiled\n",
                  out);
        else
            fprintf(out, "  large_request_bytes %u, as profiled\n",
                    (unsigned)q->large_request_bytes);
    }
    fprintf(out, "  options:%s%s%s%s\n",
            q->options & CARVE_PLAN_CHECKS ? " CARVE_PLAN_CHECKS" : "",
            q->options & CARVE_PLAN_HEAP_FALLBACK ? " CARVE_PLAN_HEAP_FALLBACK"
                                                  : "",
            q->options & CARVE_PLAN_SMALL_RUNS ? " CARVE_PLAN_SMALL_RUNS" : "",
            q->options & (CARVE_PLAN_CHECKS | CARVE_PLAN_HEAP_FALLBACK |
                          CARVE_PLAN_SMALL_RUNS)
                ? ""
                : " none");
    fprintf(out, "  memory: %s fitted, %s profiled (arenas and heap)\n",
            carve__bytes_text(f->fitted_total_bytes, a, sizeof a),
            carve__bytes_text(f->profiled_total_bytes, b, sizeof b));
    if (f->understated != 0)
        fprintf(out,
                "  warning: %llu work-item(s) had failed requests or fell "
                "back to the heap: they needed more than was measured, and "
                "this fit is too small for them; profile with a larger "
                "arena\n",
                (unsigned long long)f->understated);
    fputs("  not guaranteed: runs with other requests, heap pages left part "
          "empty by several work-items' slots, heap contention, an "
          "arena_alignment below 128\n",
          out);
}

static void json_fit(const carve_fit *f, FILE *out)
{
    const carve_plan_params *q = &f->params;
    carve__json j;
    carve__json_start(&j, out);
    carve__json_open(&j, NULL, '{');
    carve__json_text(&j, "format", "carve-fit");
    carve__json_uint(&j, "version", 1);
    carve__json_real(&j, "percentile", f->percentile);
    carve__json_uint(&j, "work_items", f->work_items);
    carve__json_uint(&j, "above_cut", f->above_cut);
    carve__json_uint(&j, "understated", f->understated);
    carve__json_uint(&j, "max_need_bytes", f->max_need_bytes);
    carve__json_uint(&j, "cut_bytes", f->cut_bytes);
    carve__json_uint(&j, "spill_bytes", f->spill_bytes);
    carve__json_uint(&j, "spill_classes", f->spill_classes);
    carve__json_uint(&j, "spill_pages", f->spill_pages);
    carve__json_bool(&j, "spill_exact", f->spill_exact);
    carve__json_uint(&j, "profiled_heap_bytes", f->profiled_heap_bytes);
    carve__json_uint(&j, "profiled_arena_bytes", f->profiled_arena_bytes);
    carve__json_uint(&j, "profiled_total_bytes", f->profiled_total_bytes);
    carve__json_uint(&j, "fitted_total_bytes", f->fitted_total_bytes);
    carve__json_plan_params(&j, "params", q);
    carve__json_close(&j, '}');
}

carve_status carve_fit_print(const carve_fit *fit, FILE *stream,
                             carve_format format)
{
    if (!carve__print_ok(fit, stream, format))
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (format == CARVE_FORMAT_JSON)
        json_fit(fit, stream);
    else
        text_fit(fit, stream);
    return carve__print_status(stream);
}
