/* report_print.c - the post-mortem report as text or JSON. */
#include "diag_output.h"
#include "fault.h" /* last: test builds wrap the calls above */
#include "carve_alloc.h"

/* ---- text ----------------------------------------------------------------------- */

static const char *call_text(uint32_t call)
{
    static const char *const names[] = {
        "?",            "carve_malloc", "carve_calloc",   "carve_realloc",
        "carve_free",   "carve_realloc", "a request",     "the host's check",
        "carve_usable_size"};
    return call < sizeof names / sizeof names[0] ? names[call] : "?";
}

static const char *work_item_text(uint32_t work_item, char *buf, size_t size)
{
    if (work_item == CARVE_WORK_ITEM_UNKNOWN)
        carve__message(buf, size, "an unknown work-item");
    else if (work_item == CARVE_HEAP_INDEX)
        carve__message(buf, size, "the shared heap");
    else
        carve__message(buf, size, "work-item %u", (unsigned)work_item);
    return buf;
}

static void text_plan(const carve_report *r, FILE *out)
{
    char a[32], b[32];
    fprintf(out, "carve report: %u arenas of %s; checks %s; event log %s",
            (unsigned)r->summary.arena_count,
            carve__bytes_text(r->arena_bytes, a, sizeof a),
            r->options & CARVE_OPTION_CHECKS ? "on" : "off",
            r->options & CARVE_OPTION_EVENTS ? "on" : "off");
    if (r->summary.heap_pages)
        fprintf(out, "; heap of %u pages (%s)",
                (unsigned)r->summary.heap_pages,
                carve__bytes_text(r->summary.heap_bytes, b, sizeof b));
    fputs("\n", out);
    if (r->broken_arenas == 0 && r->heap_broken == 0)
        fprintf(out, "invariants: every arena%s holds them\n",
                r->summary.heap_pages ? " and the heap" : "");
    else
        fprintf(out,
                "invariants: BROKEN in %u arena(s)%s; their blocks were not "
                "walked (see the errors)\n",
                (unsigned)r->broken_arenas,
                r->heap_broken ? " and in the heap" : "");
}

/* One error, in words. */
static void text_error(const carve_error_record *e, FILE *out)
{
    char who[40], site[48], from[48];
    fprintf(out, "  %s: %s", carve__misuse_key(e->kind),
            work_item_text(e->arena, who, sizeof who));
    if (e->call == CARVE_CALL_HOST_CHECK)
        fprintf(out, ", found by the host's check");
    else
        fprintf(out, ", %s at %s", call_text(e->call),
                carve__site_text(e->site, site, sizeof site));
    fprintf(out, ", offset %u", (unsigned)e->offset);
    if (e->kind == CARVE_MISUSE_OVERFLOW)
        fprintf(out, ", block of %u B allocated at %s, first damaged byte +%u",
                (unsigned)e->bytes,
                carve__site_text(e->alloc_site, from, sizeof from),
                (unsigned)e->detail);
    else if (e->kind == CARVE_MISUSE_OTHER_ARENA)
        fprintf(out, ", owned by work-item %u", (unsigned)e->detail);
    else if (e->kind == CARVE_MISUSE_CORRUPT && e->call == CARVE_CALL_HOST_CHECK)
        fprintf(out, ", invariant %u broken", (unsigned)e->detail);
    fprintf(out, " (%s)\n", carve_misuse_string(e->kind));
}

static void text_errors(const carve_report *r, uint32_t top, FILE *out)
{
    size_t i;
    char site[48], who[40];
    uint32_t no_arena = r->summary.open_failures;
    fprintf(out,
            "\nerrors: %zu (%u kept by the device's log, %u it had no room "
            "for; %zu found by the host; %u work-item(s) with no arena)\n",
            r->error_count + r->errors_dropped + no_arena,
            (unsigned)r->device_errors, (unsigned)r->errors_dropped,
            r->error_count - r->device_errors, (unsigned)no_arena);
    if (no_arena != 0)
        fprintf(out,
                "  no arena    %u work-item(s) opened an arena index past "
                "the plan's %u arenas, and every request they made returned "
                "NULL: launch the NDRange the plan was made for, or plan for "
                "the one you launch\n",
                (unsigned)no_arena, (unsigned)r->summary.arena_count);
    for (i = 0; i < r->error_group_count; ++i) {
        const carve_report_group *g = &r->error_groups[i];
        fprintf(out, "  %-11s ", carve__misuse_key(g->kind));
        if (g->call == CARVE_CALL_HOST_CHECK)
            fprintf(out, "found by the host's check, block from %s",
                    carve__site_text(g->site, site, sizeof site));
        else
            fprintf(out, "%s at %s", call_text(g->call),
                    carve__site_text(g->site, site, sizeof site));
        fprintf(out, ": %llu time(s) in %u work-item(s), first %s\n",
                (unsigned long long)g->count, (unsigned)g->work_items,
                work_item_text(g->first_work_item, who, sizeof who));
    }
    if (r->error_count == 0)
        return;
    fprintf(out, "first %zu error(s) in order:\n",
            r->error_count < top ? r->error_count : (size_t)top);
    for (i = 0; i < r->error_count && i < top; ++i)
        text_error(&r->errors[i], out);
}

static void text_leaks(const carve_report *r, uint32_t top, FILE *out)
{
    size_t i;
    char site[48], who[40];
    fprintf(out, "\nleaks: %llu block(s), %llu B still live at the end",
            (unsigned long long)r->leaked_blocks,
            (unsigned long long)r->leaked_bytes);
    if (r->sites_from == 0)
        fputs("; sites of arena blocks and heap slots unknown (plan without "
              "checks or events)",
              out);
    fputs("\n", out);
    for (i = 0; i < r->leak_count && i < top; ++i) {
        const carve_report_group *g = &r->leaks[i];
        fprintf(out, "  %s: %llu block(s), %llu B, in %u work-item(s), "
                     "first %s (offset %u)\n",
                carve__site_text(g->site, site, sizeof site),
                (unsigned long long)g->count, (unsigned long long)g->bytes,
                (unsigned)g->work_items,
                work_item_text(g->first_work_item, who, sizeof who),
                (unsigned)g->first_offset);
    }
}

static void text_failures(const carve_report *r, uint32_t top, FILE *out)
{
    size_t i;
    char site[48], who[40];
    fprintf(out, "\nfailed requests: %llu, in %u work-item(s)\n",
            (unsigned long long)r->summary.failed_count,
            (unsigned)r->summary.arenas_with_failures);
    for (i = 0; i < r->failure_count && i < top; ++i) {
        const carve_report_group *g = &r->failures[i];
        fprintf(out, "  %s at %s: the latest failure of %u work-item(s) "
                     "(%llu failed requests), first %s, largest %llu B\n",
                carve_failure_string(g->kind),
                carve__site_text(g->site, site, sizeof site),
                (unsigned)g->work_items, (unsigned long long)g->count,
                work_item_text(g->first_work_item, who, sizeof who),
                (unsigned long long)g->bytes);
    }
}

static void text_spread(const char *name, const carve_report_spread *s,
                        FILE *out)
{
    fprintf(out, "  %-10s max %llu B, p50 %llu B, p90 %llu B, p99 %llu B, "
                 "mean %.1f B\n",
            name, (unsigned long long)s->max, (unsigned long long)s->p50,
            (unsigned long long)s->p90, (unsigned long long)s->p99, s->mean);
}

static void text_high_water(const carve_report *r, FILE *out)
{
    size_t i;
    fputs("\nhigh-water marks per work-item (footprint: the arena size it "
          "needed):\n",
          out);
    text_spread("footprint", &r->footprint, out);
    text_spread("in use", &r->in_use, out);
    for (i = 0; i < r->top_count; ++i)
        fprintf(out, "  %s work-item %u: footprint %llu B, in use %llu B\n",
                i == 0 ? "top:" : "    ", (unsigned)r->top[i].work_item,
                (unsigned long long)r->top[i].footprint_bytes,
                (unsigned long long)r->top[i].in_use_bytes);
}

static void text_totals(const carve_report *r, FILE *out)
{
    const carve_summary *s = &r->summary;
    fprintf(out,
            "\ntotals: %u arenas (%u opened, %u closed, %u corrupt, %u "
            "refused opens); allocations %llu, frees %llu, failed %llu, "
            "refused pointers %llu; %llu B in use\n",
            (unsigned)s->arena_count, (unsigned)s->arenas_opened,
            (unsigned)s->arenas_closed, (unsigned)s->arenas_corrupt,
            (unsigned)s->open_failures, (unsigned long long)s->alloc_count,
            (unsigned long long)s->free_count,
            (unsigned long long)s->failed_count,
            (unsigned long long)s->misuse_count,
            (unsigned long long)s->in_use_bytes);
    if (s->heap_pages)
        fprintf(out,
                "  heap: %llu blocks taken, %llu given back; %llu live "
                "(%llu B); %u of %u pages free\n",
                (unsigned long long)s->heap_allocs,
                (unsigned long long)s->heap_frees,
                (unsigned long long)s->heap_live_blocks,
                (unsigned long long)s->heap_in_use_bytes,
                (unsigned)s->heap_free_pages, (unsigned)s->heap_pages);
    if (r->options & CARVE_OPTION_EVENTS)
        fprintf(out, "  event log: %u events, %u kept\n",
                (unsigned)s->events_seen, (unsigned)s->events_kept);
}

/* ---- JSON ----------------------------------------------------------------------- */

static void json_group(carve__json *j, const carve_report_group *g,
                       const char *kind)
{
    carve__json_open(j, NULL, '{');
    if (kind != NULL)
        carve__json_text(j, "kind", kind);
    if (g->call != 0)
        carve__json_text(j, "call", carve__call_key(g->call));
    carve__json_site(j, "site", g->site);
    carve__json_uint(j, "count", g->count);
    carve__json_uint(j, "bytes", g->bytes);
    carve__json_uint(j, "work_items", g->work_items);
    carve__json_uint(j, "first_work_item", g->first_work_item);
    carve__json_uint(j, "first_offset", g->first_offset);
    carve__json_close(j, '}');
}

static void json_error(carve__json *j, const carve_error_record *e)
{
    carve__json_open(j, NULL, '{');
    carve__json_text(j, "kind", carve__misuse_key(e->kind));
    carve__json_text(j, "call", carve__call_key(e->call));
    carve__json_uint(j, "work_item", e->arena);
    carve__json_site(j, "site", e->site);
    carve__json_uint(j, "offset", e->offset);
    carve__json_uint(j, "bytes", e->bytes);
    carve__json_site(j, "alloc_site", e->alloc_site);
    carve__json_uint(j, "detail", e->detail);
    carve__json_close(j, '}');
}

void carve__json_summary(carve__json *j, const char *key,
                         const carve_summary *s)
{
    carve__json_open(j, key, '{');
    carve__json_uint(j, "arena_count", s->arena_count);
    carve__json_uint(j, "arenas_opened", s->arenas_opened);
    carve__json_uint(j, "arenas_closed", s->arenas_closed);
    carve__json_uint(j, "arenas_corrupt", s->arenas_corrupt);
    carve__json_uint(j, "open_failures", s->open_failures);
    carve__json_uint(j, "alloc_count", s->alloc_count);
    carve__json_uint(j, "free_count", s->free_count);
    carve__json_uint(j, "failed_count", s->failed_count);
    carve__json_uint(j, "misuse_count", s->misuse_count);
    carve__json_uint(j, "in_use_bytes", s->in_use_bytes);
    carve__json_uint(j, "heap_pages", s->heap_pages);
    carve__json_uint(j, "heap_free_pages", s->heap_free_pages);
    carve__json_uint(j, "heap_allocs", s->heap_allocs);
    carve__json_uint(j, "heap_frees", s->heap_frees);
    carve__json_uint(j, "heap_live_blocks", s->heap_live_blocks);
    carve__json_uint(j, "heap_in_use_bytes", s->heap_in_use_bytes);
    carve__json_uint(j, "events_seen", s->events_seen);
    carve__json_uint(j, "events_kept", s->events_kept);
    carve__json_close(j, '}');
}

void carve__json_report(carve__json *j, const char *key,
                        const carve_report *r)
{
    size_t i;
    carve__json_open(j, key, '{');
    carve__json_text(j, "format", "carve-report");
    carve__json_uint(j, "version", 1);
    carve__json_uint(j, "arena_bytes", r->arena_bytes);
    carve__json_bool(j, "checks", (r->options & CARVE_OPTION_CHECKS) != 0);
    carve__json_bool(j, "events", (r->options & CARVE_OPTION_EVENTS) != 0);
    carve__json_open(j, "invariants", '{');
    carve__json_uint(j, "broken_arenas", r->broken_arenas);
    carve__json_uint(j, "heap_broken", r->heap_broken);
    carve__json_close(j, '}');
    carve__json_open(j, "errors", '{');
    carve__json_uint(j, "device_kept", r->device_errors);
    carve__json_uint(j, "device_dropped", r->errors_dropped);
    carve__json_uint(j, "host_found", r->error_count - r->device_errors);
    carve__json_uint(j, "no_arena", r->summary.open_failures);
    carve__json_open(j, "groups", '[');
    for (i = 0; i < r->error_group_count; ++i)
        json_group(j, &r->error_groups[i],
                   carve__misuse_key(r->error_groups[i].kind));
    carve__json_close(j, ']');
    carve__json_open(j, "records", '[');
    for (i = 0; i < r->error_count; ++i)
        json_error(j, &r->errors[i]);
    carve__json_close(j, ']');
    carve__json_close(j, '}');
    carve__json_open(j, "leaks", '{');
    carve__json_uint(j, "blocks", r->leaked_blocks);
    carve__json_uint(j, "bytes", r->leaked_bytes);
    carve__json_bool(j, "sites_from_redzones",
                     (r->sites_from & CARVE_REPORT_SITES_REDZONES) != 0);
    carve__json_bool(j, "sites_from_events",
                     (r->sites_from & CARVE_REPORT_SITES_EVENTS) != 0);
    carve__json_open(j, "by_site", '[');
    for (i = 0; i < r->leak_count; ++i)
        json_group(j, &r->leaks[i], NULL);
    carve__json_close(j, ']');
    carve__json_close(j, '}');
    carve__json_open(j, "failures", '[');
    for (i = 0; i < r->failure_count; ++i)
        json_group(j, &r->failures[i],
                   carve__failure_key(r->failures[i].kind));
    carve__json_close(j, ']');
    carve__json_open(j, "high_water", '{');
    carve__json_spread(j, "footprint", &r->footprint);
    carve__json_spread(j, "in_use", &r->in_use);
    carve__json_open(j, "top", '[');
    for (i = 0; i < r->top_count; ++i) {
        carve__json_open(j, NULL, '{');
        carve__json_uint(j, "work_item", r->top[i].work_item);
        carve__json_uint(j, "footprint_bytes", r->top[i].footprint_bytes);
        carve__json_uint(j, "in_use_bytes", r->top[i].in_use_bytes);
        carve__json_close(j, '}');
    }
    carve__json_close(j, ']');
    carve__json_close(j, '}');
    carve__json_summary(j, "totals", &r->summary);
    carve__json_close(j, '}');
}

void carve__text_report(const carve_report *r, FILE *out)
{
    text_plan(r, out);
    text_errors(r, r->list_limit, out);
    text_leaks(r, r->list_limit, out);
    text_failures(r, r->list_limit, out);
    text_high_water(r, out);
    text_totals(r, out);
}

carve_status carve_report_print(const carve_report *report, FILE *stream,
                                carve_format format)
{
    if (!carve__print_ok(report, stream, format))
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (format == CARVE_FORMAT_JSON) {
        carve__json j;
        carve__json_start(&j, stream);
        carve__json_report(&j, NULL, report);
    } else {
        carve__text_report(report, stream);
    }
    return carve__print_status(stream);
}
