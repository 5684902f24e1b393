/* report.c - the post-mortem report: every arena and the heap walked with
 * the allocator's own code (carve_core.h, carve_heap.h, carve_alloc.h),
 * invariants, redzones, the device's error log, leaks, failures and
 * high-water marks. */
#include "diag_output.h"

#include <stdlib.h>
#include <string.h>
#include "fault.h" /* last: test builds wrap the calls above */
#include "carve_alloc.h"

#define DEFAULT_TOP 10u

/* A growable array of error records. */
typedef struct error_list {
    carve_error_record *items;
    size_t count, capacity;
    int failed;
} error_list;

static void errors_add(error_list *l, const carve_error_record *r)
{
    if (l->failed || !carve__reserve((void **)&l->items, l->count,
                                     &l->capacity, sizeof *l->items)) {
        l->failed = 1;
        return;
    }
    l->items[l->count++] = *r;
}

/* What the walk collects before it becomes a report. */
typedef struct walk {
    const unsigned char *base;
    const carve_set_header *h;
    carve_arena view;               /* of arena 0: the redzone code's base */
    carve_event_analysis *events;   /* a complete event log, or NULL */
    error_list errors;
    carve__tallies leaks, failures;
    carve_report *report;
} walk;

/* The host finding an error: call HOST_CHECK, no call site. */
static void host_error(walk *w, uint32_t kind, uint32_t arena, uint32_t offset,
                       uint32_t bytes, uint32_t alloc_site, uint32_t detail)
{
    carve_error_record r;
    r.kind = kind;
    r.call = CARVE_CALL_HOST_CHECK;
    r.arena = arena;
    /* No call found it: the site worth naming is where the block was
     * allocated. */
    r.site = alloc_site;
    r.offset = offset;
    r.bytes = bytes;
    r.alloc_site = alloc_site;
    r.detail = detail;
    errors_add(&w->errors, &r);
}

/* The live block at `offset` in a complete event log, or NULL. */
static const carve_event_block *logged_block(const walk *w, uint32_t offset)
{
    size_t lo = 0, hi;
    if (w->events == NULL)
        return NULL;
    hi = w->events->live_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const carve_event_block *b = &w->events->live[mid];
        if (b->offset == offset)
            return b;
        if (b->offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* What is known of a live block: from its redzone (checks on), else from
 * the event log, else the hints the caller has (arena owner, large heap
 * block header). */
typedef struct block_facts {
    uint32_t site, owner, bytes;
} block_facts;

/* Verifies a live block's redzone (checks on) and counts it as a leak.
 * rz: where its redzone is; exact: the payload ends in the granule before
 * it. */
static void visit_block(walk *w, uint32_t offset, uint32_t rz, int exact,
                        block_facts facts)
{
    const carve_event_block *logged = logged_block(w, offset);
    carve__tally leak;
    if (w->h->options & CARVE_OPTION_CHECKS) {
        carve_redzone r = carve_redzone_read(
            &w->view, (const carve_u8 *)w->base + offset, rz, exact);
        /* Damage before rz is in the canary: the redzone itself holds. */
        int redzone_whole = r.damaged == 0 || r.damaged - 1u < rz;
        if (redzone_whole) {
            facts.site = r.site;
            facts.owner = r.owner;
            facts.bytes = r.bytes;
        } else if (logged != NULL) {
            facts.site = logged->site;
            facts.owner = logged->work_item;
            facts.bytes = logged->bytes;
        }
        if (r.damaged != 0)
            host_error(w, CARVE_MISUSE_OVERFLOW, facts.owner, offset,
                       facts.bytes, facts.site, r.damaged - 1u);
    } else if (logged != NULL) {
        facts.site = logged->site;
        facts.owner = logged->work_item;
        facts.bytes = logged->bytes;
    }
    memset(&leak, 0, sizeof leak);
    leak.site = facts.site;
    leak.work_item = facts.owner;
    leak.offset = offset;
    leak.count = 1;
    leak.bytes = facts.bytes;
    carve__tallies_add(&w->leaks, &leak);
}

/* Checks arena i and walks its live blocks. */
static void walk_arena(walk *w, uint32_t i)
{
    carve_arena a = carve_core_view((carve_u8 *)(uintptr_t)w->base, i);
    carve_core_report check;
    carve_core_walk cursor = carve_core_walk_start();
    carve_core_block b;
    if (carve_core_check(&a, &check) != CARVE_CHECK_OK) {
        w->report->broken_arenas += 1;
        host_error(w, CARVE_MISUSE_CORRUPT, i,
                   (uint32_t)(a.payload - w->base) +
                       check.granule * CARVE_GRANULE,
                   0, CARVE_SITE_UNKNOWN, check.broken);
        return;
    }
    while (carve_core_walk_next(&a, &cursor, &b)) {
        block_facts facts;
        facts.site = CARVE_SITE_UNKNOWN;
        facts.owner = i;
        facts.bytes = b.bytes;
        /* A slot's payload may end anywhere before its redzone: realloc
         * shrinks slots in place. */
        visit_block(w,
                    (uint32_t)(a.payload - w->base) +
                        carve_core_block_offset(&b),
                    b.bytes - CARVE_GRANULE, b.n != 0, facts);
    }
    if (a.state->failed_count != 0) {
        carve__tally f;
        memset(&f, 0, sizeof f);
        f.kind = a.state->last_failure;
        f.site = a.state->failure_site;
        f.work_item = i;
        f.count = a.state->failed_count;
        f.bytes = a.state->largest_failed;
        carve__tallies_add(&w->failures, &f);
    }
}

/* Checks the heap and walks its live blocks; fails only for want of
 * host memory. */
static carve_status walk_heap(walk *w)
{
    carve_heap hp = carve_heap_view((carve_u8 *)(uintptr_t)w->base);
    carve_heap_report check;
    carve_heap_walk cursor = carve_heap_walk_start();
    carve_heap_block b;
    carve_status status = carve__heap_check(w->base, &check);
    if (status != CARVE_SUCCESS)
        return status;
    if (check.broken != CARVE_HEAP_CHECK_OK) {
        w->report->heap_broken = check.broken;
        host_error(w, CARVE_MISUSE_CORRUPT, CARVE_HEAP_INDEX,
                   hp.offset + check.page * hp.page_bytes, 0,
                   CARVE_SITE_UNKNOWN, check.broken);
        return CARVE_SUCCESS;
    }
    while (carve_heap_walk_next(&hp, &cursor, &b)) {
        const carve_u32 *entry = carve_heap_state(&hp, b.page);
        block_facts facts;
        uint64_t rz;
        if (!b.large) {
            facts.site = CARVE_SITE_UNKNOWN;
            facts.owner = CARVE_WORK_ITEM_UNKNOWN;
            facts.bytes = b.bytes;
            visit_block(w, hp.offset + b.offset, b.bytes - CARVE_GRANULE, 0,
                        facts);
            continue;
        }
        /* The first page's words: requested bytes, site, owner. */
        rz = ((uint64_t)entry[1] + CARVE_GRANULE - 1) &
             ~(uint64_t)(CARVE_GRANULE - 1);
        /* carve_heap_check does not read the size word; a damaged one
         * must not send the redzone check past the block. */
        if (rz + CARVE_GRANULE > b.bytes) {
            w->report->heap_broken = CARVE_HEAP_CHECK_RUN;
            host_error(w, CARVE_MISUSE_CORRUPT, CARVE_HEAP_INDEX,
                       hp.offset + b.offset, entry[1], CARVE_SITE_UNKNOWN,
                       CARVE_HEAP_CHECK_RUN);
            return CARVE_SUCCESS;
        }
        facts.bytes = entry[1];
        facts.site = entry[2];
        facts.owner = entry[3];
        visit_block(w, hp.offset + b.offset, (uint32_t)rz, 1, facts);
    }
    return CARVE_SUCCESS;
}

/* The device's error log: the records it kept. */
static void read_error_log(walk *w)
{
    const carve_set_header *h = w->h;
    const carve_error_record *records =
        (const carve_error_record *)(w->base + h->error_offset);
    uint32_t kept = h->error_count < h->error_capacity ? h->error_count
                                                       : h->error_capacity;
    uint32_t i;
    for (i = 0; i < kept; ++i)
        errors_add(&w->errors, &records[i]);
    w->report->device_errors = kept;
    w->report->errors_dropped = h->error_count - kept;
}

/* A complete event log, replayed, names the sites of live blocks. */
static carve_status replay_events(walk *w)
{
    carve_event_log *log = NULL;
    carve_status status;
    if (!(w->h->options & CARVE_OPTION_EVENTS) ||
        w->h->event_count > w->h->event_capacity)
        return CARVE_SUCCESS;
    status = carve_layout_event_log(w->base, &log);
    if (status == CARVE_SUCCESS)
        status = carve_event_log_analyze(log, &w->events);
    carve_event_log_release(log);
    return status;
}

static int peak_order(const void *x, const void *y)
{
    const carve_report_peak *a = x, *b = y;
    if (a->footprint_bytes != b->footprint_bytes)
        return a->footprint_bytes > b->footprint_bytes ? -1 : 1;
    if (a->in_use_bytes != b->in_use_bytes)
        return a->in_use_bytes > b->in_use_bytes ? -1 : 1;
    return a->work_item < b->work_item ? -1 : a->work_item > b->work_item;
}

/* Footprint and in-use spreads, and the top work-items. */
static int high_water(walk *w, uint32_t top)
{
    carve_report *r = w->report;
    uint32_t n = w->h->arena_count, i;
    uint64_t *footprint = malloc((size_t)n * sizeof *footprint);
    uint64_t *in_use = malloc((size_t)n * sizeof *in_use);
    carve_report_peak *peaks = malloc((size_t)n * sizeof *peaks);
    int ok = footprint != NULL && in_use != NULL && peaks != NULL;
    for (i = 0; ok && i < n; ++i) {
        carve_arena a = carve_core_view((carve_u8 *)(uintptr_t)w->base, i);
        peaks[i].work_item = i;
        peaks[i].footprint_bytes = footprint[i] =
            (uint64_t)a.state->bump_peak * CARVE_GRANULE;
        peaks[i].in_use_bytes = in_use[i] =
            (uint64_t)a.state->live_peak * CARVE_GRANULE;
    }
    if (ok) {
        carve__spread(footprint, n, &r->footprint);
        carve__spread(in_use, n, &r->in_use);
        qsort(peaks, n, sizeof *peaks, peak_order);
        r->top_count = n < top ? n : top;
        r->top = peaks;
        peaks = NULL;
    }
    free(footprint);
    free(in_use);
    free(peaks);
    return ok;
}

/* Turns what the walk collected into the report's lists. */
static int assemble(walk *w)
{
    carve_report *r = w->report;
    carve__tallies errors = {NULL, 0, 0, 0};
    carve_report_group *groups = NULL;
    size_t i, count = 0;
    int ok;
    for (i = 0; i < w->errors.count; ++i) {
        const carve_error_record *e = &w->errors.items[i];
        carve__tally t;
        memset(&t, 0, sizeof t);
        t.kind = e->kind;
        t.call = e->call;
        t.site = e->site;
        t.work_item = e->arena;
        t.offset = e->offset;
        t.count = 1;
        carve__tallies_add(&errors, &t);
    }
    ok = !errors.failed && !w->errors.failed && !w->leaks.failed &&
         !w->failures.failed &&
         carve__group(errors.items, errors.count, CARVE__BYTES_SUM, 0,
                      &groups, &count);
    r->error_groups = groups;
    r->error_group_count = count;
    free(errors.items);
    r->errors = w->errors.items;
    r->error_count = w->errors.count;
    w->errors.items = NULL;
    ok = ok && carve__group(w->leaks.items, w->leaks.count, CARVE__BYTES_SUM,
                            1, &groups, &count);
    if (ok) {
        r->leaks = groups;
        r->leak_count = count;
        for (i = 0; i < count; ++i) {
            r->leaked_blocks += groups[i].count;
            r->leaked_bytes += groups[i].bytes;
        }
    }
    ok = ok && carve__group(w->failures.items, w->failures.count,
                            CARVE__BYTES_MAX, 0, &groups, &count);
    if (ok) {
        r->failures = groups;
        r->failure_count = count;
    }
    return ok;
}

void carve_report_release(carve_report *r)
{
    if (r == NULL)
        return;
    free((void *)(uintptr_t)r->errors);
    free((void *)(uintptr_t)r->error_groups);
    free((void *)(uintptr_t)r->leaks);
    free((void *)(uintptr_t)r->failures);
    free((void *)(uintptr_t)r->top);
    free(r);
}

carve_status carve_layout_report(const void *mem, uint32_t top,
                                 carve_report **out)
{
    walk w;
    carve_status status;
    uint32_t i;
    int ok;
    if (out != NULL)
        *out = NULL;
    if (out == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    memset(&w, 0, sizeof w);
    w.base = mem;
    status = carve__image(mem, &w.h);
    if (status != CARVE_SUCCESS)
        return status;
    w.view = carve_core_view((carve_u8 *)(uintptr_t)mem, 0);
    w.report = calloc(1, sizeof *w.report);
    if (w.report == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    carve_layout_summary(mem, &w.report->summary);
    w.report->options = w.h->options;
    w.report->arena_bytes = w.h->arena_granules * CARVE_GRANULE;
    w.report->list_limit = top ? top : DEFAULT_TOP;
    status = replay_events(&w);
    if (w.h->options & CARVE_OPTION_CHECKS)
        w.report->sites_from |= CARVE_REPORT_SITES_REDZONES;
    if (w.events != NULL)
        w.report->sites_from |= CARVE_REPORT_SITES_EVENTS;
    read_error_log(&w);
    for (i = 0; i < w.h->arena_count; ++i)
        walk_arena(&w, i);
    if (w.h->heap_pages != 0 && status == CARVE_SUCCESS)
        status = walk_heap(&w);
    ok = status == CARVE_SUCCESS && high_water(&w, w.report->list_limit) &&
         assemble(&w);
    carve_event_analysis_release(w.events);
    free(w.errors.items);
    free(w.leaks.items);
    free(w.failures.items);
    if (!ok) {
        carve_report_release(w.report);
        return status != CARVE_SUCCESS ? status
                                       : CARVE_ERROR_OUT_OF_HOST_MEMORY;
    }
    *out = w.report;
    return CARVE_SUCCESS;
}

static uint32_t shifted(uint32_t work_item, uint32_t first)
{
    return work_item == CARVE_WORK_ITEM_UNKNOWN ? work_item : work_item + first;
}

static void shift_groups(const carve_report_group *groups, size_t count,
                         uint32_t first)
{
    carve_report_group *g = (carve_report_group *)(uintptr_t)groups;
    size_t i;
    for (i = 0; i < count; ++i)
        g[i].first_work_item = shifted(g[i].first_work_item, first);
}

void carve__report_shift_work_items(carve_report *r, uint32_t first)
{
    carve_error_record *e = (carve_error_record *)(uintptr_t)r->errors;
    carve_report_peak *top = (carve_report_peak *)(uintptr_t)r->top;
    size_t i;
    /* CARVE_HEAP_INDEX, the heap's "arena", is CARVE_WORK_ITEM_UNKNOWN's
     * value: neither moves. */
    for (i = 0; i < r->error_count; ++i) {
        e[i].arena = shifted(e[i].arena, first);
        if (e[i].kind == CARVE_MISUSE_OTHER_ARENA)
            e[i].detail = shifted(e[i].detail, first);
    }
    shift_groups(r->error_groups, r->error_group_count, first);
    shift_groups(r->leaks, r->leak_count, first);
    shift_groups(r->failures, r->failure_count, first);
    for (i = 0; i < r->top_count; ++i)
        top[i].work_item = shifted(top[i].work_item, first);
}
