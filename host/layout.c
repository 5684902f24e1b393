/* layout.c - a carved image in host memory: format, reset, inspect, check.
 *
 * Everything here reads the image through the allocator core
 * (carve_core.h), the same code the kernels ran. */
#include "carve_internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "fault.h" /* last: test builds wrap the calls above */

/* The device compiler lays these structures out on its own; fixed-width
 * fields and these checks keep both sides agreeing. */
_Static_assert(sizeof(carve_set_header) == 128, "header is 128 bytes");
_Static_assert(offsetof(carve_set_header, arena_count) == 16, "header field");
_Static_assert(offsetof(carve_set_header, open_failures) == 56, "header field");
_Static_assert(offsetof(carve_set_header, generation) == 60, "header field");
_Static_assert(offsetof(carve_set_header, large_bytes) == 64, "header field");
_Static_assert(offsetof(carve_set_header, error_count) == 76, "header field");
_Static_assert(offsetof(carve_set_header, event_count) == 88, "header field");
_Static_assert(offsetof(carve_set_header, heap_offset) == 92, "header field");
_Static_assert(offsetof(carve_set_header, first_arena) == 124, "header field");
_Static_assert(offsetof(carve_set_header, heap_class_count) == 120,
               "header field");
_Static_assert(sizeof(carve_arena_state) == CARVE_STATE_FIXED_WORDS * 4,
               "state entry fixed part");
_Static_assert(offsetof(carve_arena_state, failed_count) == 0, "state field");
_Static_assert(offsetof(carve_arena_state, heap_hold) == 44, "state field");
_Static_assert(offsetof(carve_arena_state, root) == 48, "state field");
_Static_assert(offsetof(carve_arena_state, heap_frees) == 36, "state field");
_Static_assert(sizeof(carve_error_record) == 32, "error record");
_Static_assert(sizeof(carve_event_record) == 16, "event record");

/* The sizes and options of a header agree with each other. The bitmaps'
 * sizes are checked too: the allocator finds everything after the fixed
 * part of a state entry through them. */
static int fields_valid(const carve_set_header *h)
{
    uint32_t page = h->heap_page_bytes;
    if (h->arena_count == 0 || h->arena_granules == 0 ||
        h->first_arena > UINT32_MAX - h->arena_count ||
        h->arena_granules > CARVE_MAX_ARENA_GRANULES ||
        h->arena_stride < (uint64_t)h->arena_granules * CARVE_GRANULE ||
        h->arena_stride % CARVE_GRANULE != 0 ||
        h->class_count != carve_core_class_count(h->arena_granules) ||
        h->class_words != (h->class_count + 31) / 32 ||
        h->bitmap_words != (h->arena_granules + 31) / 32 ||
        h->state_stride !=
            carve_core_state_stride(h->arena_granules, h->options) ||
        (h->options & ~(CARVE_OPTION_CHECKS | CARVE_OPTION_HEAP_FALLBACK |
                        CARVE_OPTION_EVENTS | CARVE_OPTION_RUNS)) != 0 ||
        ((h->options & CARVE_OPTION_EVENTS) != 0) != (h->event_capacity != 0))
        return 0;
    if (h->heap_pages == 0)
        return (h->options & CARVE_OPTION_HEAP_FALLBACK) == 0;
    return page >= CARVE_HEAP_MIN_PAGE && page <= CARVE_HEAP_MAX_PAGE &&
           (page & (page - 1)) == 0 && h->heap_offset % CARVE_MAX_ALIGN == 0 &&
           h->heap_meta_stride == 4 * carve_heap_meta_words(page) &&
           h->heap_class_count == carve_heap_class_count(page) &&
           h->heap_map_words == (h->heap_pages + 31) / 32;
}

/* Walks the parts of an image in the order carve_plan_compute places
 * them, each on a granule and after the one before, so that no part
 * overlaps another or the header (a reset of one would damage the other)
 * and no 32-bit word is misaligned. */
typedef struct part_walk {
    uint64_t end; /* of the parts so far */
    int ok;
} part_walk;

static void next_part(part_walk *walk, uint64_t offset, uint64_t bytes)
{
    if (offset < walk->end || offset % CARVE_GRANULE != 0)
        walk->ok = 0;
    walk->end = offset + bytes; /* no overflow: 32-bit factors */
}

static int parts_in_order(const carve_set_header *h)
{
    part_walk walk = {sizeof(carve_set_header), 1};
    next_part(&walk, h->state_offset, (uint64_t)h->arena_count * h->state_stride);
    if (h->error_capacity != 0)
        next_part(&walk, h->error_offset,
                  (uint64_t)h->error_capacity * sizeof(carve_error_record));
    if (h->event_capacity != 0)
        next_part(&walk, h->event_offset,
                  (uint64_t)h->event_capacity * sizeof(carve_event_record));
    if (h->heap_pages != 0) {
        next_part(&walk, h->heap_meta_offset,
                  (uint64_t)h->heap_pages * h->heap_meta_stride);
        next_part(&walk, h->heap_map_offset,
                  4ull * h->heap_map_words * (1 + h->heap_class_count));
    }
    next_part(&walk, h->arenas_offset,
              (uint64_t)h->arena_count * h->arena_stride);
    if (h->heap_pages != 0)
        next_part(&walk, h->heap_offset,
                  (uint64_t)h->heap_pages * h->heap_page_bytes);
    return walk.ok && walk.end <= h->total_bytes;
}

/* Images are read a 32-bit word at a time. */
static int usable(const void *mem)
{
    return mem != NULL && (uintptr_t)mem % sizeof(carve_u32) == 0;
}

const carve_set_header *carve__header(const void *mem)
{
    const carve_set_header *h = (const carve_set_header *)mem;
    if (!usable(mem) || h->magic != CARVE_SET_MAGIC ||
        h->version != CARVE_SET_VERSION ||
        h->header_bytes != sizeof(carve_set_header) || !fields_valid(h) ||
        !parts_in_order(h))
        return NULL;
    return h;
}

carve_status carve__image(const void *mem, const carve_set_header **header)
{
    if (!usable(mem))
        return CARVE_ERROR_INVALID_ARGUMENT;
    *header = carve__header(mem);
    return *header != NULL ? CARVE_SUCCESS : CARVE_ERROR_CORRUPT_SET;
}

carve_status carve_layout_validate(const void *mem, size_t size)
{
    const carve_set_header *h;
    if (!usable(mem))
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (size < sizeof(carve_set_header))
        return CARVE_ERROR_CORRUPT_SET;
    h = carve__header(mem);
    return h != NULL && h->total_bytes <= size ? CARVE_SUCCESS
                                               : CARVE_ERROR_CORRUPT_SET;
}

carve_status carve_layout_format(void *mem, size_t size, const carve_plan *plan)
{
    carve_set_header header, *h = &header;
    if (!usable(mem) || plan == NULL || plan->total_bytes == 0 ||
        plan->total_bytes > UINT32_MAX)
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (size < plan->total_bytes)
        return CARVE_ERROR_BUFFER_TOO_SMALL;
    memset(h, 0, sizeof *h);
    h->magic = CARVE_SET_MAGIC;
    h->version = CARVE_SET_VERSION;
    h->header_bytes = sizeof *h;
    h->total_bytes = (uint32_t)plan->total_bytes;
    h->arena_count = plan->arena_count;
    h->arena_granules = plan->arena_granules;
    h->arena_stride = plan->arena_bytes;
    h->arenas_offset = plan->arenas_offset;
    h->state_offset = plan->state_offset;
    h->state_stride = plan->state_stride;
    h->class_count = plan->class_count;
    h->class_words = plan->class_words;
    h->bitmap_words = plan->bitmap_words;
    h->options = plan->options;
    h->large_bytes = plan->large_bytes;
    h->error_offset = plan->error_offset;
    h->error_capacity = plan->error_capacity;
    h->event_offset = plan->event_offset;
    h->event_capacity = plan->event_capacity;
    h->heap_offset = plan->heap_offset;
    h->heap_pages = plan->heap_pages;
    h->heap_page_bytes = plan->heap_page_bytes;
    h->heap_meta_offset = plan->heap_meta_offset;
    h->heap_meta_stride = plan->heap_meta_stride;
    h->heap_map_offset = plan->heap_map_offset;
    h->heap_map_words = plan->heap_map_words;
    h->heap_class_count = plan->heap_class_count;
    /* A plan changed by hand must not become an image whose offsets lead
     * outside it; mem is untouched until the header holds. */
    if (carve__header(h) == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    memcpy(mem, h, sizeof *h);
    return carve_layout_reset(mem);
}

carve_status carve_layout_reset(void *mem)
{
    carve_set_header *h = (carve_set_header *)mem;
    if (!usable(mem))
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (carve__header(mem) == NULL)
        return CARVE_ERROR_CORRUPT_SET;
    /* An all-zero state entry is an empty arena (carve_core.h). */
    memset((unsigned char *)mem + h->state_offset, 0,
           (size_t)h->arena_count * h->state_stride);
    /* An all-zero page table and hint bitmaps are an empty heap; the log
     * records need no clearing once their counters are 0. */
    if (h->heap_pages != 0) {
        memset((unsigned char *)mem + h->heap_meta_offset, 0,
               (size_t)h->heap_pages * h->heap_meta_stride);
        memset((unsigned char *)mem + h->heap_map_offset, 0,
               (size_t)4 * h->heap_map_words * (1 + h->heap_class_count));
    }
    h->error_count = 0;
    h->event_count = 0;
    h->open_failures = 0;
    h->generation += 1;
    return CARVE_SUCCESS;
}

/* A host handle on arena `index`; looking never counts as a device open. */
static carve_status open_arena(const void *mem, uint32_t index, carve_arena *a)
{
    const carve_set_header *h = carve__header(mem);
    if (h == NULL)
        return CARVE_ERROR_CORRUPT_SET;
    if (index >= h->arena_count)
        return CARVE_ERROR_INDEX_OUT_OF_RANGE;
    *a = carve_core_view((carve_u8 *)(uintptr_t)mem, index);
    return CARVE_SUCCESS;
}

carve_status carve_layout_arena_stats(const void *mem, uint32_t index,
                                      carve_arena_stats *out)
{
    carve_arena a;
    const carve_arena_state *s;
    carve_status status;
    if (out == NULL || !usable(mem))
        return CARVE_ERROR_INVALID_ARGUMENT;
    status = open_arena(mem, index, &a);
    if (status != CARVE_SUCCESS)
        return status;
    s = a.state;
    memset(out, 0, sizeof *out);
    out->capacity_bytes = (uint64_t)a.granules * CARVE_GRANULE;
    out->in_use_bytes = (uint64_t)s->live_granules * CARVE_GRANULE;
    out->peak_in_use_bytes = (uint64_t)s->live_peak * CARVE_GRANULE;
    out->footprint_bytes = (uint64_t)s->bump * CARVE_GRANULE;
    out->peak_footprint_bytes = (uint64_t)s->bump_peak * CARVE_GRANULE;
    out->live_blocks = s->live_blocks;
    out->alloc_count = s->alloc_count;
    out->free_count = s->free_count;
    out->failed_count = s->failed_count;
    out->last_failure = s->last_failure;
    out->largest_failed = s->largest_failed;
    out->misuse_count = s->misuse_count;
    out->last_misuse = s->last_misuse;
    out->flags = s->flags;
    out->root = s->root;
    out->zero_requests = s->zero_requests;
    out->realloc_count = s->realloc_count;
    out->failure_site = s->failure_site;
    out->misuse_site = s->misuse_site;
    out->heap_allocs = s->heap_allocs;
    out->heap_frees = s->heap_frees;
    return CARVE_SUCCESS;
}

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

carve_status carve_layout_summary(const void *mem, carve_summary *out)
{
    const carve_set_header *h = carve__header(mem);
    carve_arena_stats s;
    uint32_t i;
    if (out == NULL || !usable(mem))
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (h == NULL)
        return CARVE_ERROR_CORRUPT_SET;
    memset(out, 0, sizeof *out);
    out->arena_count = h->arena_count;
    out->open_failures = h->open_failures;
    for (i = 0; i < h->arena_count; ++i) {
        carve_layout_arena_stats(mem, i, &s);
        out->arenas_opened += (s.flags & CARVE_ARENA_OPENED) != 0;
        out->arenas_closed += (s.flags & CARVE_ARENA_CLOSED) != 0;
        out->arenas_corrupt += (s.flags & CARVE_ARENA_CORRUPT) != 0;
        out->arenas_with_failures += s.failed_count != 0;
        out->capacity_bytes += s.capacity_bytes;
        out->in_use_bytes += s.in_use_bytes;
        out->max_peak_in_use_bytes =
            max_u64(out->max_peak_in_use_bytes, s.peak_in_use_bytes);
        out->max_peak_footprint_bytes =
            max_u64(out->max_peak_footprint_bytes, s.peak_footprint_bytes);
        out->alloc_count += s.alloc_count;
        out->free_count += s.free_count;
        out->failed_count += s.failed_count;
        out->misuse_count += s.misuse_count;
        out->heap_allocs += s.heap_allocs;
        out->heap_frees += s.heap_frees;
    }
    out->errors_seen = h->error_count;
    out->errors_kept = h->error_count < h->error_capacity ? h->error_count
                                                          : h->error_capacity;
    out->events_seen = h->event_count;
    out->events_kept = h->event_count < h->event_capacity ? h->event_count
                                                          : h->event_capacity;
    if (h->heap_pages != 0) {
        carve_heap hp = carve_heap_view((carve_u8 *)(uintptr_t)mem);
        carve_heap_walk walk = carve_heap_walk_start();
        carve_heap_block b;
        out->heap_pages = h->heap_pages;
        out->heap_bytes = (uint64_t)h->heap_pages * h->heap_page_bytes;
        /* The walk, not the check: a page whose count says more than its
         * bits (reservations a work-item still holds) is not broken, and
         * the check would need a table of holds, a host allocation, to
         * tell. */
        for (i = 0; i < h->heap_pages; ++i)
            out->heap_free_pages += *carve_heap_state(&hp, i) == 0;
        while (carve_heap_walk_next(&hp, &walk, &b)) {
            out->heap_in_use_bytes += b.bytes;
            out->heap_live_blocks += 1;
        }
    }
    return CARVE_SUCCESS;
}

carve_status carve__heap_check(const void *mem, carve_heap_report *r)
{
    const carve_set_header *h = carve__header(mem);
    carve_heap hp;
    carve_u32 *held;
    uint32_t i;
    memset(r, 0, sizeof *r);
    if (h == NULL)
        return CARVE_ERROR_CORRUPT_SET;
    if (h->heap_pages == 0)
        return CARVE_SUCCESS;
    hp = carve_heap_view((carve_u8 *)(uintptr_t)mem);
    held = calloc(h->heap_pages, sizeof *held);
    if (held == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    for (i = 0; i < h->arena_count; ++i) {
        const carve_arena_state *st =
            carve_core_view((carve_u8 *)(uintptr_t)mem, i).state;
        uint32_t n = st->heap_hold & CARVE_HEAP_COUNT_MASK;
        uint32_t page = st->heap_hold_page - 1u, cls = st->heap_hold >> 24;
        uint32_t sum;
        if (n == 0)
            continue;
        /* A hold names a page and class there can be, agrees with the
         * other holds on that page, and together they fit in it: what
         * carve_heap_check then compares with the page. */
        sum = page < h->heap_pages ? (held[page] & CARVE_HEAP_COUNT_MASK) + n
                                   : 0;
        if (n > CARVE_HEAP_HOLD_MAX || page >= h->heap_pages ||
            cls >= h->heap_class_count ||
            (held[page] != 0 && held[page] >> 24 != cls + 1) ||
            sum > carve_heap_slots(&hp, cls)) {
            carve_heap_check_fail(r, CARVE_HEAP_CHECK_HOLD,
                                  page < h->heap_pages ? page : 0);
            free(held);
            return CARVE_SUCCESS;
        }
        held[page] = (cls + 1) << 24 | sum;
    }
    carve_heap_check(&hp, held, r);
    free(held);
    return CARVE_SUCCESS;
}

carve_status carve_layout_check(const void *mem, uint32_t *bad_index,
                                uint32_t *broken)
{
    const carve_set_header *h = carve__header(mem);
    carve_core_report report;
    carve_arena a;
    uint32_t i;
    if (!usable(mem))
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (h == NULL)
        return CARVE_ERROR_CORRUPT_SET;
    for (i = 0; i < h->arena_count; ++i) {
        open_arena(mem, i, &a);
        if (carve_core_check(&a, &report) != CARVE_CHECK_OK) {
            if (bad_index != NULL)
                *bad_index = i;
            if (broken != NULL)
                *broken = report.broken;
            return CARVE_ERROR_ARENA_INVALID;
        }
    }
    if (h->heap_pages != 0) {
        carve_heap_report heap_report;
        carve_status status = carve__heap_check(mem, &heap_report);
        if (status != CARVE_SUCCESS)
            return status;
        if (heap_report.broken != CARVE_HEAP_CHECK_OK) {
            if (bad_index != NULL)
                *bad_index = CARVE_HEAP_INDEX;
            if (broken != NULL)
                *broken = heap_report.broken;
            return CARVE_ERROR_ARENA_INVALID;
        }
    }
    return CARVE_SUCCESS;
}

void *carve_layout_pointer(void *mem, uint32_t offset, size_t bytes)
{
    const carve_set_header *h = carve__header(mem);
    if (h == NULL || offset == 0 || offset > h->total_bytes ||
        bytes > h->total_bytes - offset)
        return NULL;
    return (unsigned char *)mem + offset;
}

/* [offset, offset + bytes) inside one live block of the shared heap. */
static void *heap_block(void *mem, uint32_t offset, size_t bytes)
{
    const carve_set_header *h = carve__header(mem);
    carve_heap hp;
    uint32_t start = 0, size = 0;
    if (h == NULL || h->heap_pages == 0 || offset < h->heap_offset ||
        bytes == 0)
        return NULL;
    hp = carve_heap_view((carve_u8 *)mem);
    /* A damaged page state could claim a run past the heap: bound it. */
    if (!carve_heap_block_holding(&hp, offset - h->heap_offset, &start,
                                  &size) ||
        (uint64_t)start + size > (uint64_t)h->heap_pages * h->heap_page_bytes ||
        bytes > (uint64_t)start + size - (offset - h->heap_offset))
        return NULL;
    return (unsigned char *)mem + offset;
}

void *carve_layout_block(void *mem, uint32_t index, uint32_t offset,
                         size_t bytes)
{
    const carve_set_header *h = carve__header(mem);
    carve_arena a;
    carve_core_block b;
    uint64_t payload, start;
    if (!usable(mem) || bytes == 0)
        return NULL;
    if (h != NULL && h->heap_pages != 0 && offset >= h->heap_offset)
        return heap_block(mem, offset, bytes);
    if (open_arena(mem, index, &a) != CARVE_SUCCESS)
        return NULL;
    /* In offsets, not pointers: offset and bytes may point anywhere. */
    payload = (uint64_t)(a.payload - (unsigned char *)mem);
    if (offset < payload || offset - payload >= (uint64_t)a.granules * CARVE_GRANULE ||
        !carve_core_block_holding(&a, (uint32_t)(offset - payload), &b))
        return NULL;
    start = payload + carve_core_block_offset(&b);
    if (bytes > start + b.bytes - offset)
        return NULL;
    return (unsigned char *)mem + offset;
}

carve_status carve__layout_place(void *mem, uint32_t first_arena)
{
    carve_set_header *h = (carve_set_header *)mem;
    if (carve__header(mem) == NULL)
        return CARVE_ERROR_CORRUPT_SET;
    if (first_arena > UINT32_MAX - h->arena_count)
        return CARVE_ERROR_INVALID_ARGUMENT;
    h->first_arena = first_arena;
    return CARVE_SUCCESS;
}
