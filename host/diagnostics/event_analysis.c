/* event_analysis.c - replays an event log into per-site and per-work-item
 * statistics, leaks, peaks and a size histogram, and prints them.
 *
 * The replay keeps every live block in a hash table keyed by its offset.
 * Allocation events add a block (or resize the live one at that offset: a
 * realloc in place), free events remove it. The device logs a free before
 * the block is released and an allocation after it is claimed, so in log
 * order an offset is never allocated twice without a free between: a record
 * that breaks this, or names no place a block can be, is an anomaly. */
#include "diag_output.h"

#include <stdlib.h>
#include <string.h>
#include "fault.h" /* last: test builds wrap the calls above */
#include "carve_alloc.h"

#define DEFAULT_PAGE_BYTES 4096u
#define DEFAULT_TOP 10u
#define MAP_EMPTY 0xffffffffu

/* ---- a u32 -> u32 hash table (open addressing, backward-shift delete) ---- */

typedef struct u32_map {
    uint32_t *keys;
    uint32_t *values; /* MAP_EMPTY: a free slot */
    size_t mask;      /* capacity - 1; capacity a power of two */
    size_t count;
} u32_map;

static size_t map_home(const u32_map *m, uint32_t key)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & m->mask;
}

static int map_init(u32_map *m, size_t capacity)
{
    size_t c = 16;
    while (c < capacity)
        c *= 2;
    m->keys = malloc(c * sizeof *m->keys);
    m->values = malloc(c * sizeof *m->values);
    m->mask = c - 1;
    m->count = 0;
    if (m->keys == NULL || m->values == NULL)
        return 0;
    memset(m->values, 0xff, c * sizeof *m->values);
    return 1;
}

static void map_free(u32_map *m)
{
    free(m->keys);
    free(m->values);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t map_slot(const u32_map *m, uint32_t key)
{
    size_t i = map_home(m, key);
    while (m->values[i] != MAP_EMPTY && m->keys[i] != key)
        i = (i + 1) & m->mask;
    return i;
}

static uint32_t map_get(const u32_map *m, uint32_t key)
{
    return m->values[map_slot(m, key)];
}

static int map_grow(u32_map *m)
{
    u32_map bigger;
    size_t i;
    if (!map_init(&bigger, 2 * (m->mask + 1))) {
        map_free(&bigger);
        return 0;
    }
    for (i = 0; i <= m->mask; ++i) {
        if (m->values[i] != MAP_EMPTY) {
            size_t j = map_slot(&bigger, m->keys[i]);
            bigger.keys[j] = m->keys[i];
            bigger.values[j] = m->values[i];
        }
    }
    bigger.count = m->count;
    map_free(m);
    *m = bigger;
    return 1;
}

static int map_put(u32_map *m, uint32_t key, uint32_t value)
{
    size_t i;
    if (2 * (m->count + 1) > m->mask + 1 && !map_grow(m))
        return 0;
    i = map_slot(m, key);
    if (m->values[i] == MAP_EMPTY)
        m->count += 1;
    m->keys[i] = key;
    m->values[i] = value;
    return 1;
}

static void map_remove(u32_map *m, uint32_t key)
{
    size_t i = map_slot(m, key), j = i;
    if (m->values[i] == MAP_EMPTY)
        return;
    m->values[i] = MAP_EMPTY;
    m->count -= 1;
    /* Shift later members of the cluster back so that no lookup stops
     * early at the hole. */
    for (;;) {
        size_t home;
        j = (j + 1) & m->mask;
        if (m->values[j] == MAP_EMPTY)
            return;
        home = map_home(m, m->keys[j]);
        if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
            m->keys[i] = m->keys[j];
            m->values[i] = m->values[j];
            m->values[j] = MAP_EMPTY;
            i = j;
        }
    }
}

/* ---- the replay's state -------------------------------------------------------- */

typedef struct live_block {
    uint32_t offset, bytes, site, owner;
    uint32_t arena_bytes; /* granule bytes in its arena; 0 for heap blocks */
    uint32_t heap_bytes;  /* usable bytes in the heap; 0 for arena blocks */
    uint64_t spill;       /* its heap cost if it spilled (arena blocks) */
    uint64_t spill_class; /* the bit of the slot class it would take */
} live_block;

typedef struct item_state {
    carve_event_item out;
    uint64_t bytes_now, arena_now, spill_now;
    /* The old block of a moving realloc: it is given back only after the
     * new one is taken (the device logs it first), so both count towards
     * the peaks, as they do in the arena's statistics. */
    carve_event_record moved_from;
    int moving;
} item_state;

typedef struct replay {
    const carve_event_log_info *info;
    carve_event_analysis *a;
    uint32_t page_bytes; /* of the heap spills are sized for */
    uint64_t bytes_now, heap_now;
    u32_map blocks_by_offset, sites_by_site, items_by_index;
    live_block *blocks;
    uint32_t block_count;
    size_t block_capacity;
    uint32_t *free_blocks; /* recycled indices into blocks */
    uint32_t free_count;
    carve_event_site *sites;
    uint32_t site_count;
    size_t site_capacity;
    item_state *items;
    uint32_t item_count;
    size_t item_capacity;
    int out_of_memory;
} replay;

static carve_event_site *site_of(replay *r, uint32_t site)
{
    uint32_t i = map_get(&r->sites_by_site, site);
    if (i != MAP_EMPTY)
        return &r->sites[i];
    if (!carve__reserve((void **)&r->sites, r->site_count, &r->site_capacity,
                 sizeof *r->sites) ||
        !map_put(&r->sites_by_site, site, r->site_count)) {
        r->out_of_memory = 1;
        return NULL;
    }
    memset(&r->sites[r->site_count], 0, sizeof *r->sites);
    r->sites[r->site_count].site = site;
    return &r->sites[r->site_count++];
}

static item_state *item_of(replay *r, uint32_t work_item)
{
    uint32_t i = map_get(&r->items_by_index, work_item);
    if (i != MAP_EMPTY)
        return &r->items[i];
    if (!carve__reserve((void **)&r->items, r->item_count, &r->item_capacity,
                 sizeof *r->items) ||
        !map_put(&r->items_by_index, work_item, r->item_count)) {
        r->out_of_memory = 1;
        return NULL;
    }
    memset(&r->items[r->item_count], 0, sizeof *r->items);
    r->items[r->item_count].out.work_item = work_item;
    return &r->items[r->item_count++];
}

/* Where a block at `offset` can be: 1 arena (*arena, *within set), 2 heap,
 * 0 nowhere. */
static int place_of(const carve_event_log_info *info, uint32_t offset,
                    uint32_t *arena, uint32_t *within)
{
    uint64_t rel;
    if (offset % CARVE_GRANULE != 0)
        return 0;
    if (info->heap_pages != 0 && offset >= info->heap_offset &&
        offset - info->heap_offset <
            (uint64_t)info->heap_pages * info->heap_page_bytes)
        return 2;
    if (offset < info->arenas_offset)
        return 0;
    rel = offset - info->arenas_offset;
    if (rel / info->arena_stride >= info->arena_count ||
        rel % info->arena_stride >= info->arena_bytes)
        return 0;
    *arena = (uint32_t)(rel / info->arena_stride);
    *within = (uint32_t)(rel % info->arena_stride);
    return 1;
}

/* The slot class of the shared heap for a block needing `need` bytes, or
 * CARVE_HEAP_MAX_CLASSES when it takes whole pages (carve_heap.h). */
static uint32_t heap_class(uint64_t need, uint32_t page_bytes)
{
    uint64_t n = (need + CARVE_GRANULE - 1) / CARVE_GRANULE;
    uint32_t c;
    if (n == 0)
        n = 1;
    /* Slots go up to half a page: beyond, the class is past the last. */
    c = n <= page_bytes / CARVE_GRANULE ? carve_heap_class_for((uint32_t)n)
                                        : CARVE_HEAP_MAX_CLASSES;
    return c < carve_heap_class_count(page_bytes) ? c
                                                  : CARVE_HEAP_MAX_CLASSES;
}

static uint64_t whole_pages(uint64_t need, uint32_t page_bytes)
{
    return (need + page_bytes - 1) / page_bytes * page_bytes;
}

/* Bytes the heap gives the block: its slot, or its pages. */
static uint64_t heap_block_bytes(uint64_t need, uint32_t page_bytes)
{
    uint32_t c = heap_class(need, page_bytes);
    return c < CARVE_HEAP_MAX_CLASSES
               ? (uint64_t)carve_heap_class_granules(c) * CARVE_GRANULE
               : whole_pages(need, page_bytes);
}

/* What the block would cost the heap if it spilled there: its slot's share
 * of a page, the page's unusable tail included, or its pages; *bit: its
 * slot class's bit (0 for pages). */
static uint64_t spill_cost(uint64_t need, uint32_t page_bytes, uint64_t *bit)
{
    uint32_t c = heap_class(need, page_bytes), slots;
    *bit = 0;
    if (c == CARVE_HEAP_MAX_CLASSES)
        return whole_pages(need, page_bytes);
    slots = page_bytes / (carve_heap_class_granules(c) * CARVE_GRANULE);
    *bit = 1ull << c;
    return (page_bytes + slots - 1) / slots;
}

static uint32_t bucket_of(uint32_t bytes)
{
    return bytes == 0 ? 0 : 31u - (uint32_t)CARVE_CLZ32(bytes);
}

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* Adds (sign 1) or takes away (sign -1) a live block's contribution. */
static void account(replay *r, const live_block *b, int sign)
{
    item_state *it = item_of(r, b->owner);
    if (it == NULL)
        return;
    if (sign > 0) {
        r->bytes_now += b->bytes;
        r->heap_now += b->heap_bytes;
        it->bytes_now += b->bytes;
        it->arena_now += b->arena_bytes;
        it->spill_now += b->spill;
        it->out.peak_bytes = max_u64(it->out.peak_bytes, it->bytes_now);
        it->out.arena_peak_bytes =
            max_u64(it->out.arena_peak_bytes, it->arena_now);
        it->out.spill_bytes = max_u64(it->out.spill_bytes, it->spill_now);
        it->out.spill_classes |= b->spill_class;
        r->a->heap_peak_bytes = max_u64(r->a->heap_peak_bytes, r->heap_now);
    } else {
        r->bytes_now -= b->bytes;
        r->heap_now -= b->heap_bytes;
        it->bytes_now -= b->bytes;
        it->arena_now -= b->arena_bytes;
        it->spill_now -= b->spill;
    }
}

/* Fills in a block's sizes from its place; 0 if it cannot be there. */
static int shape_block(replay *r, live_block *b, uint32_t caller)
{
    const carve_event_log_info *info = r->info;
    uint32_t arena = 0, within = 0;
    uint64_t need = (uint64_t)b->bytes +
                    ((info->options & CARVE_OPTION_CHECKS) ? CARVE_GRANULE : 0);
    int place = place_of(info, b->offset, &arena, &within);
    b->arena_bytes = b->heap_bytes = 0;
    b->spill = b->spill_class = 0;
    if (place == 1) {
        uint64_t granule_bytes =
            (need + CARVE_GRANULE - 1) / CARVE_GRANULE * CARVE_GRANULE;
        /* Only a work-item allocates in its own arena. */
        if (arena != caller || within + granule_bytes > info->arena_bytes)
            return 0;
        b->arena_bytes = (uint32_t)granule_bytes;
        b->spill = spill_cost(need, r->page_bytes, &b->spill_class);
        return 1;
    }
    if (place == 2) {
        b->heap_bytes = (uint32_t)heap_block_bytes(need, info->heap_page_bytes);
        return 1;
    }
    return 0;
}

static live_block *new_block(replay *r)
{
    uint32_t i;
    if (r->free_count > 0) {
        i = r->free_blocks[--r->free_count];
    } else {
        if (!carve__reserve((void **)&r->blocks, r->block_count, &r->block_capacity,
                     sizeof *r->blocks)) {
            r->out_of_memory = 1;
            return NULL;
        }
        i = r->block_count++;
    }
    return &r->blocks[i];
}

static void drop_block(replay *r, uint32_t index)
{
    account(r, &r->blocks[index], -1);
    map_remove(&r->blocks_by_offset, r->blocks[index].offset);
    /* free_blocks has room for every block ever made. */
    r->free_blocks[r->free_count++] = index;
}

/* The arena end of a block, for the owner's footprint. */
static void note_footprint(replay *r, const live_block *b)
{
    uint32_t arena = 0, within = 0;
    item_state *it;
    if (b->arena_bytes == 0 || place_of(r->info, b->offset, &arena, &within) != 1)
        return;
    it = item_of(r, b->owner);
    if (it != NULL)
        it->out.footprint_bytes =
            max_u64(it->out.footprint_bytes, (uint64_t)within + b->arena_bytes);
}

static void note_peak(replay *r, uint32_t event)
{
    if (r->bytes_now > r->a->peak_bytes) {
        r->a->peak_bytes = r->bytes_now;
        r->a->peak_event = event;
    }
}

/* MALLOC, CALLOC, or REALLOC to a block that was not live; 0 if the
 * record is an anomaly. */
static int on_allocate(replay *r, const carve_event_record *e, uint32_t site)
{
    live_block shaped, *b;
    carve_event_site *s;
    item_state *it;
    uint32_t old = map_get(&r->blocks_by_offset, e->offset);
    shaped.offset = e->offset;
    shaped.bytes = e->bytes;
    shaped.site = site;
    shaped.owner = e->arena;
    if (e->bytes == 0 || !shape_block(r, &shaped, e->arena)) {
        r->a->anomalies += 1;
        return 0;
    }
    if (old != MAP_EMPTY) { /* allocated twice: its free is missing */
        r->a->anomalies += 1;
        drop_block(r, old);
    }
    b = new_block(r);
    if (b == NULL || !map_put(&r->blocks_by_offset, e->offset,
                              (uint32_t)(b - r->blocks))) {
        r->out_of_memory = 1;
        return 0;
    }
    *b = shaped;
    account(r, b, 1);
    note_footprint(r, b);
    s = site_of(r, site);
    it = item_of(r, e->arena);
    if (s == NULL || it == NULL)
        return 0;
    s->allocs += 1;
    s->alloc_bytes += e->bytes;
    if (e->bytes > s->largest_request)
        s->largest_request = e->bytes;
    it->out.allocs += 1;
    if (b->heap_bytes != 0) {
        it->out.heap_blocks += 1;
        if (e->bytes < r->info->large_bytes)
            it->out.fallbacks += 1;
    }
    r->a->allocs += 1;
    return 1;
}

/* REALLOC of the live block at the same offset: resized in place; 0 if
 * the record is an anomaly. */
static int on_resize(replay *r, const carve_event_record *e, uint32_t site,
                     uint32_t index)
{
    live_block shaped = r->blocks[index];
    carve_event_site *s;
    shaped.bytes = e->bytes;
    shaped.site = site;
    shaped.owner = e->arena; /* the device's redzone names the caller too */
    if (e->bytes == 0 || !shape_block(r, &shaped, e->arena) ||
        (shaped.heap_bytes == 0) != (r->blocks[index].heap_bytes == 0)) {
        r->a->anomalies += 1;
        return 0;
    }
    /* A heap block resized in place keeps its slot or pages. */
    if (shaped.heap_bytes != 0)
        shaped.heap_bytes = r->blocks[index].heap_bytes;
    account(r, &r->blocks[index], -1);
    r->blocks[index] = shaped;
    account(r, &r->blocks[index], 1);
    note_footprint(r, &r->blocks[index]);
    s = site_of(r, site);
    if (s != NULL && e->bytes > s->largest_request)
        s->largest_request = e->bytes;
    return 1;
}

/* FREE, or REALLOC_FREE (the old block of a moving realloc). */
static void on_free(replay *r, const carve_event_record *e, uint32_t site)
{
    uint32_t index = map_get(&r->blocks_by_offset, e->offset);
    carve_event_site *s;
    item_state *it;
    if (index == MAP_EMPTY) {
        r->a->anomalies += 1;
        return;
    }
    drop_block(r, index);
    s = site_of(r, site);
    it = item_of(r, e->arena);
    if (s == NULL || it == NULL)
        return;
    s->frees += 1;
    it->out.frees += 1;
    r->a->frees += 1;
}

static void on_failed(replay *r, const carve_event_record *e, uint32_t site)
{
    carve_event_site *s = site_of(r, site);
    item_state *it = item_of(r, e->arena);
    if (s == NULL || it == NULL)
        return;
    s->failures += 1;
    it->out.failures += 1;
    r->a->failures += 1;
    r->a->histogram[bucket_of(e->bytes)].failures += 1;
}

/* Gives back the old block of work-item w's moving realloc, if one waits. */
static void finish_move(replay *r, uint32_t w)
{
    item_state *it = item_of(r, w);
    carve_event_record e;
    if (it == NULL || !it->moving)
        return;
    it->moving = 0;
    e = it->moved_from;
    on_free(r, &e, CARVE_EVENT_SITE(e));
}

static void replay_event(replay *r, const carve_event_record *e, uint32_t i)
{
    uint32_t kind = CARVE_EVENT_KIND(*e), site = CARVE_EVENT_SITE(*e);
    uint32_t live;
    carve_event_site *s;
    item_state *it;
    if (e->arena >= r->info->arena_count) {
        r->a->anomalies += 1;
        return;
    }
    if (kind != CARVE_CALL_REALLOC)
        finish_move(r, e->arena);
    switch (kind) {
    case CARVE_CALL_MALLOC:
    case CARVE_CALL_CALLOC:
        if (on_allocate(r, e, site))
            r->a->histogram[bucket_of(e->bytes)].allocs += 1;
        break;
    case CARVE_CALL_REALLOC:
        live = map_get(&r->blocks_by_offset, e->offset);
        if (!(live != MAP_EMPTY ? on_resize(r, e, site, live)
                                : on_allocate(r, e, site)))
            break;
        s = site_of(r, site);
        if (s != NULL)
            s->reallocs += 1;
        r->a->reallocs += 1;
        r->a->histogram[bucket_of(e->bytes)].allocs += 1;
        finish_move(r, e->arena);
        break;
    case CARVE_CALL_REALLOC_FREE:
        it = item_of(r, e->arena);
        if (it != NULL) {
            it->moved_from = *e;
            it->moving = 1;
        }
        break;
    case CARVE_CALL_FREE:
        on_free(r, e, site);
        break;
    case CARVE_CALL_FAILED:
        on_failed(r, e, site);
        break;
    default:
        r->a->anomalies += 1;
        return;
    }
    note_peak(r, i);
}

/* ---- results ---------------------------------------------------------------------- */

static int compare_site(const void *x, const void *y)
{
    uint32_t a = ((const carve_event_site *)x)->site;
    uint32_t b = ((const carve_event_site *)y)->site;
    return a < b ? -1 : a > b;
}

static int compare_item(const void *x, const void *y)
{
    uint32_t a = ((const carve_event_item *)x)->work_item;
    uint32_t b = ((const carve_event_item *)y)->work_item;
    return a < b ? -1 : a > b;
}

static int compare_block(const void *x, const void *y)
{
    uint32_t a = ((const carve_event_block *)x)->offset;
    uint32_t b = ((const carve_event_block *)y)->offset;
    return a < b ? -1 : a > b;
}

/* Leaks from the blocks still live; sorted copies of the tables. */
static int finish(replay *r)
{
    carve_event_analysis *a = r->a;
    carve_event_site *sites = NULL;
    carve_event_item *items = NULL;
    carve_event_block *live = NULL;
    size_t i, n = 0;
    live = calloc(r->blocks_by_offset.count + 1, sizeof *live);
    if (live == NULL)
        return 0;
    for (i = 0; i <= r->blocks_by_offset.mask; ++i) {
        const live_block *b;
        carve_event_site *s;
        item_state *it;
        if (r->blocks_by_offset.values[i] == MAP_EMPTY)
            continue;
        b = &r->blocks[r->blocks_by_offset.values[i]];
        live[n].offset = b->offset;
        live[n].bytes = b->bytes;
        live[n].site = b->site;
        live[n++].work_item = b->owner;
        s = site_of(r, b->site);
        it = item_of(r, b->owner);
        if (s == NULL || it == NULL)
            break;
        s->leaked_blocks += 1;
        s->leaked_bytes += b->bytes;
        it->out.leaked_blocks += 1;
        it->out.leaked_bytes += b->bytes;
        a->leaked_blocks += 1;
        a->leaked_bytes += b->bytes;
    }
    qsort(live, n, sizeof *live, compare_block);
    sites = malloc(((size_t)r->site_count + 1) * sizeof *sites);
    items = malloc(((size_t)r->item_count + 1) * sizeof *items);
    if (sites == NULL || items == NULL || r->out_of_memory) {
        free(live);
        free(sites);
        free(items);
        return 0;
    }
    if (r->site_count != 0) /* r->sites is NULL until a site is seen */
        memcpy(sites, r->sites, (size_t)r->site_count * sizeof *sites);
    for (i = 0; i < r->item_count; ++i)
        items[i] = r->items[i].out;
    qsort(sites, r->site_count, sizeof *sites, compare_site);
    qsort(items, r->item_count, sizeof *items, compare_item);
    a->sites = sites;
    a->site_count = r->site_count;
    a->items = items;
    a->item_count = r->item_count;
    a->live = live;
    a->live_count = n;
    return 1;
}

/* The arenas' own footprints, when the log carries them. */
static int arena_needs(const carve_event_log *log, carve_event_analysis *a)
{
    uint64_t *needs;
    uint32_t i;
    if (log->arena_records == 0)
        return 1;
    needs = malloc((size_t)log->arena_records * sizeof *needs);
    if (needs == NULL)
        return 0;
    for (i = 0; i < log->arena_records; ++i)
        needs[i] = log->arenas[i].footprint_bytes;
    carve__spread(needs, log->arena_records, &a->arena_needs);
    a->has_arena_needs = 1;
    free(needs);
    return 1;
}

void carve_event_analysis_release(carve_event_analysis *a)
{
    if (a == NULL)
        return;
    free((void *)(uintptr_t)a->sites);
    free((void *)(uintptr_t)a->items);
    free((void *)(uintptr_t)a->live);
    free(a);
}

carve_status carve_event_log_analyze(const carve_event_log *log,
                                     carve_event_analysis **out)
{
    replay r;
    carve_event_analysis *a;
    uint32_t i, n;
    int ok;
    if (out != NULL)
        *out = NULL;
    if (log == NULL || out == NULL || carve__event_log_fault(log) != NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    a = calloc(1, sizeof *a);
    if (a == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    a->info = log->info;
    a->complete = log->info.events_seen == log->info.events_kept;
    memset(&r, 0, sizeof r);
    r.info = &log->info;
    r.a = a;
    r.page_bytes = log->info.heap_pages ? log->info.heap_page_bytes
                                        : DEFAULT_PAGE_BYTES;
    n = log->info.events_kept;
    /* Each event makes at most one block. */
    r.free_blocks = malloc(((size_t)n + 1) * sizeof *r.free_blocks);
    ok = r.free_blocks != NULL && map_init(&r.blocks_by_offset, 64) &&
         map_init(&r.sites_by_site, 64) && map_init(&r.items_by_index, 64);
    for (i = 0; ok && i < n; ++i) {
        replay_event(&r, &log->events[i], i);
        ok = !r.out_of_memory;
    }
    for (i = 0; ok && i < r.item_count; ++i)
        finish_move(&r, r.items[i].out.work_item);
    ok = ok && finish(&r) && arena_needs(log, a);
    map_free(&r.blocks_by_offset);
    map_free(&r.sites_by_site);
    map_free(&r.items_by_index);
    free(r.free_blocks);
    free(r.blocks);
    free(r.sites);
    free(r.items);
    if (!ok) {
        carve_event_analysis_release(a);
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    }
    *out = a;
    return CARVE_SUCCESS;
}
