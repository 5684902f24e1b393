/*
 * fuzz_front.c - libFuzzer target for what kernels call: the front
 * (kernels/carve_alloc.h) routing between three arenas and the shared heap
 * (kernels/carve_heap.h), with redzones and the logs, compiled as host C.
 *
 * An input picks a plan (arena size, heap pages, large-request threshold,
 * fallback, checks, event log) and then runs operations on any of the
 * three work-items' handles: malloc, aligned malloc, calloc, realloc, free,
 * a free by another work-item (allowed for heap blocks only), misuse
 * (interior, freed, foreign pointers, another work-item's arena block) and,
 * with checks on, a planted write one byte past a block. It aborts when the
 * front breaks a promise:
 * - the whole image's invariants (carve_layout_check: every arena, every
 *   heap page, the hint bitmaps) fail after any operation;
 * - a block is misaligned, overlaps a live block, is smaller than asked,
 *   lies outside its arena or the heap, or a live block's bytes change;
 * - calloc memory is not zero, realloc loses bytes it must keep;
 * - a NULL comes for a request that cannot be refused that way, or a
 *   request for 0 bytes is not a NULL counted in zero_requests;
 * - a misused pointer is accepted, changes anything, or is not recorded in
 *   the error log; a planted overflow is not reported with its block, both
 *   sites and the damaged byte;
 * - the event log disagrees with the calls (with the log on).
 */
#include "fuzz_input.h"

#include <carve/carve.h>
#include "carve_calls.h" /* the allocator, as kernels call it */

#define ARENAS 3u
#define MAX_LIVE 1024u
#define FREED_RING 16u
#define ALLOC_SITE 11u
#define FREE_SITE 22u

typedef struct front_block {
    uint8_t *p;
    uint64_t bytes;
    uint32_t owner; /* the arena an arena block lives in */
    uint8_t tag;
} front_block;

typedef struct front_model {
    carve_plan plan;
    uint8_t *image;
    carve_arena arenas[ARENAS];
    front_block live[MAX_LIVE];
    uint32_t live_count;
    uint8_t *freed[FREED_RING];
    uint32_t freed_next;
    uint32_t serial;
    uint32_t errors;  /* records the error log must have seen */
    uint32_t events;  /* records the event log must have seen */
    int checks;
    int runs; /* CARVE_PLAN_SMALL_RUNS */
} front_model;

static const carve_set_header *header(const front_model *m)
{
    return (const carve_set_header *)m->image;
}

static int in_heap(const front_model *m, const uint8_t *p)
{
    uint64_t off = (uint64_t)(p - m->image);
    return m->plan.heap_pages != 0 && off >= m->plan.heap_offset &&
           off < m->plan.heap_offset +
                     (uint64_t)m->plan.heap_pages * m->plan.heap_page_bytes;
}

static int in_arena(const front_model *m, const uint8_t *p, uint32_t k)
{
    uint64_t start = m->plan.arenas_offset + (uint64_t)k * m->plan.arena_bytes;
    uint64_t off = (uint64_t)(p - m->image);
    return off >= start && off < start + m->plan.arena_bytes;
}

/* The handle a free of b must come through: its owner's for an arena
 * block, any for a heap block. */
static carve_arena *freer_of(front_model *m, const front_block *b,
                             uint32_t pick)
{
    return &m->arenas[in_heap(m, b->p) ? pick % ARENAS : b->owner];
}

static front_block *live_holding(front_model *m, const uint8_t *x)
{
    uint32_t i;
    for (i = 0; i < m->live_count; ++i)
        if (x >= m->live[i].p && x < m->live[i].p + m->live[i].bytes)
            return &m->live[i];
    return NULL;
}

static void fill(front_model *m, front_block *b)
{
    b->tag = fuzz_tag(m->serial++);
    memset(b->p, b->tag, (size_t)b->bytes);
}

static void forget(front_model *m, front_block *b)
{
    m->freed[m->freed_next++ % FREED_RING] = b->p;
    *b = m->live[--m->live_count];
}

/* A new block: in its arena or the heap, aligned, usable for `bytes`,
 * overlapping nothing live; then filled with its own tag. */
static void adopt(front_model *m, uint32_t k, uint8_t *p, uint64_t bytes,
                  uint32_t align)
{
    uint32_t want = align > CARVE_GRANULE ? align : CARVE_GRANULE, i;
    /* With runs a block is aligned for any object of its size: 8 when it
     * rounds to an odd multiple of 8, unless 16 was asked for. */
    if (m->runs && align < CARVE_GRANULE && ((bytes + 7) / 8) % 2 == 1)
        want = 8;
    uint64_t usable = carve_alloc_usable_size(&m->arenas[k], p, 1);
    FUZZ_REQUIRE(in_heap(m, p) || in_arena(m, p, k),
                 "block %p neither in arena %u nor in the heap", (void *)p, k);
    FUZZ_REQUIRE((uintptr_t)p % want == 0, "block %p not aligned to %u",
                 (void *)p, want);
    FUZZ_REQUIRE(usable >= bytes && (!m->checks || usable == bytes),
                 "usable size %llu for %llu bytes",
                 (unsigned long long)usable, (unsigned long long)bytes);
    for (i = 0; i < m->live_count; ++i) {
        const front_block *b = &m->live[i];
        FUZZ_REQUIRE(p + bytes <= b->p || b->p + b->bytes <= p,
                     "block %p overlaps live block %p", (void *)p,
                     (void *)b->p);
    }
    FUZZ_REQUIRE(m->live_count < MAX_LIVE, "model full");
    m->live[m->live_count].p = p;
    m->live[m->live_count].bytes = bytes;
    m->live[m->live_count].owner = k;
    fill(m, &m->live[m->live_count++]);
}

/* What an allocation call on arena k must have given for `bytes`. */
static void check_allocation(front_model *m, uint32_t k, uint8_t *p,
                             uint64_t bytes, uint32_t align,
                             uint32_t zero_before, uint32_t failed_before)
{
    const carve_arena_state *s = m->arenas[k].state;
    if (bytes == 0) {
        FUZZ_REQUIRE(p == NULL && s->zero_requests == zero_before + 1,
                     "0 bytes: not a NULL counted as a zero request");
        return;
    }
    if (p == NULL) {
        FUZZ_REQUIRE(s->failed_count == failed_before + 1,
                     "a NULL not counted as a failure");
        FUZZ_REQUIRE(s->last_failure == CARVE_FAIL_OUT_OF_MEMORY ||
                         s->last_failure == CARVE_FAIL_TOO_LARGE ||
                         s->last_failure == CARVE_FAIL_BAD_ALIGNMENT,
                     "NULL with reason %u", s->last_failure);
        FUZZ_REQUIRE(s->last_failure != CARVE_FAIL_BAD_ALIGNMENT ||
                         align == 0 || (align & (align - 1)) != 0 ||
                         align > CARVE_MAX_ALIGN,
                     "alignment %u refused", align);
        m->events += 1; /* the failure's event */
        return;
    }
    adopt(m, k, p, bytes, align);
    m->events += 1;
}

/* ---- operations --------------------------------------------------------------- */

static void op_malloc(void *model, fuzz_input *in)
{
    front_model *m = model;
    uint32_t k = fuzz_u8(in) % ARENAS, align = CARVE_DEFAULT_ALIGN;
    uint64_t bytes = fuzz_size(in, 3 * m->plan.arena_bytes + 20000);
    const carve_arena_state *s = m->arenas[k].state;
    uint32_t zero = s->zero_requests, failed = s->failed_count;
    uint32_t shape = fuzz_u8(in);
    uint8_t *p;
    if (shape < 64)
        align = 16u << (shape % 4); /* 16-128 */
    else if (shape < 70)
        align = shape % 2 ? 3u : 256u; /* refused */
    if (m->live_count >= MAX_LIVE)
        return;
    p = carve_alloc_malloc(&m->arenas[k], bytes, align, ALLOC_SITE);
    check_allocation(m, k, p, bytes, align, zero, failed);
}

static void op_calloc(void *model, fuzz_input *in)
{
    front_model *m = model;
    uint32_t k = fuzz_u8(in) % ARENAS;
    uint64_t count = fuzz_u8(in) % 17, size = fuzz_size(in, 2000);
    const carve_arena_state *s = m->arenas[k].state;
    uint32_t zero = s->zero_requests, failed = s->failed_count;
    uint8_t *p;
    if (m->live_count >= MAX_LIVE)
        return;
    p = carve_alloc_calloc(&m->arenas[k], count, size, ALLOC_SITE);
    if (p != NULL)
        FUZZ_REQUIRE(fuzz_tag_mismatch(p, (size_t)(count * size), 0) ==
                         count * size,
                     "calloc memory not zero");
    check_allocation(m, k, p, count * size, CARVE_DEFAULT_ALIGN, zero, failed);
}

static void op_free(void *model, fuzz_input *in)
{
    front_model *m = model;
    uint32_t i, pick;
    front_block *b;
    if (m->live_count == 0)
        return;
    i = fuzz_u16(in) % m->live_count;
    pick = fuzz_u8(in);
    b = &m->live[i];
    FUZZ_REQUIRE(fuzz_tag_mismatch(b->p, (size_t)b->bytes, b->tag) == b->bytes,
                 "live block %p changed", (void *)b->p);
    carve_alloc_free(freer_of(m, b, pick), b->p, FREE_SITE);
    m->events += 1;
    forget(m, b);
}

/* A work-item closes its arena and opens it again, as a kernel launched a
 * second time without a reset does: the heap reservations it held go
 * back, and its blocks stay live. */
static void op_reopen(void *model, fuzz_input *in)
{
    front_model *m = model;
    uint32_t i = fuzz_u8(in) % ARENAS;
    carve_alloc_close(&m->arenas[i]);
    FUZZ_REQUIRE(m->arenas[i].state->heap_hold == 0,
                 "arena %u holds heap reservations after closing", i);
    m->arenas[i] = carve_core_open(m->image, i);
}

static void op_realloc(void *model, fuzz_input *in)
{
    front_model *m = model;
    uint32_t i, pick, k;
    uint64_t bytes, keep;
    front_block old;
    carve_arena *a;
    uint8_t *p;
    if (m->live_count == 0)
        return;
    i = fuzz_u16(in) % m->live_count;
    pick = fuzz_u8(in);
    bytes = fuzz_size(in, 3 * m->plan.arena_bytes + 20000);
    old = m->live[i];
    a = freer_of(m, &old, pick);
    k = (uint32_t)(a - m->arenas);
    p = carve_alloc_realloc(a, old.p, bytes, ALLOC_SITE);
    if (bytes == 0) {
        FUZZ_REQUIRE(p == NULL, "realloc to 0 gave a block");
        m->events += 1;
        forget(m, &m->live[i]);
        return;
    }
    if (p == NULL) {
        FUZZ_REQUIRE(fuzz_tag_mismatch(old.p, (size_t)old.bytes, old.tag) ==
                         old.bytes,
                     "a failed realloc changed its block");
        m->events += 1;
        return;
    }
    keep = old.bytes < bytes ? old.bytes : bytes;
    FUZZ_REQUIRE(fuzz_tag_mismatch(p, (size_t)keep, old.tag) == keep,
                 "realloc lost bytes");
    /* moved: one event for the old block, one for the new */
    m->events += p == old.p ? 1 : 2;
    m->live[i] = m->live[--m->live_count];
    adopt(m, k, p, bytes, CARVE_DEFAULT_ALIGN);
}

/* A free or realloc of a pointer that is no live block's start (interior,
 * freed, foreign) or of another work-item's arena block: refused, recorded
 * in the error log, nothing else changes. */
static void op_misuse(void *model, fuzz_input *in)
{
    front_model *m = model;
    uint32_t kind = fuzz_u8(in) % 4, k = fuzz_u8(in) % ARENAS;
    uint32_t misuse_before = m->arenas[k].state->misuse_count;
    uint8_t *x = NULL;
    front_block *b = m->live_count ? &m->live[fuzz_u16(in) % m->live_count]
                                   : NULL;
    if (kind == 0 && b != NULL && b->bytes > 1) {
        x = b->p + 1 + fuzz_u8(in) % (b->bytes - 1); /* interior */
    } else if (kind == 1) {
        x = m->freed[fuzz_u8(in) % FREED_RING]; /* freed, maybe reused */
        if (x != NULL && live_holding(m, x) != NULL)
            return; /* now someone's block: not a misuse */
    } else if (kind == 2) {
        x = m->image + 8 + fuzz_u8(in) % 64; /* the header */
    } else if (b != NULL && !in_heap(m, b->p) && b->owner != k) {
        x = b->p; /* another work-item's arena block */
    }
    if (x == NULL)
        return;
    if (fuzz_u8(in) & 1u)
        FUZZ_REQUIRE(carve_alloc_realloc(&m->arenas[k], x, 64, FREE_SITE) ==
                         NULL,
                     "realloc accepted misused pointer %p", (void *)x);
    else
        carve_alloc_free(&m->arenas[k], x, FREE_SITE);
    FUZZ_REQUIRE(m->arenas[k].state->misuse_count == misuse_before + 1 &&
                     m->arenas[k].state->misuse_site == FREE_SITE,
                 "misused pointer %p not refused", (void *)x);
    m->errors += 1;
}

/* With checks on: one byte written past a block's requested end must be
 * reported at free with the block, both sites and the damaged byte. */
static void op_overflow(void *model, fuzz_input *in)
{
    front_model *m = model;
    const carve_error_record *r;
    front_block *b;
    uint32_t i;
    uint64_t off;
    if (!m->checks || m->live_count == 0)
        return;
    i = fuzz_u16(in) % m->live_count;
    b = &m->live[i];
    off = (uint64_t)(b->p - m->image);
    b->p[b->bytes] ^= 0x5a;
    carve_alloc_free(freer_of(m, b, fuzz_u8(in)), b->p, FREE_SITE);
    m->events += 1;
    if (m->errors < header(m)->error_capacity) {
        r = (const carve_error_record *)(m->image + header(m)->error_offset) +
            m->errors;
        /* The byte is canary, or, where the payload fills its granules,
         * the redzone's first, which held the size and site. */
        FUZZ_REQUIRE(r->kind == CARVE_MISUSE_OVERFLOW &&
                         r->offset == (uint32_t)off && r->site == FREE_SITE &&
                         r->detail == b->bytes &&
                         ((r->bytes == b->bytes && r->alloc_site == ALLOC_SITE) ||
                          (r->bytes == 0 && r->alloc_site == 0)),
                     "overflow of %p misreported (kind %u, detail %u)",
                     (void *)b->p, r->kind, r->detail);
    }
    m->errors += 1;
    forget(m, b);
}

static const fuzz_op front_ops[FUZZ_OP_SLOTS] = {
    [0] = {"malloc", op_malloc},   [1] = {"calloc", op_calloc},
    [2] = {"free", op_free},       [3] = {"realloc", op_realloc},
    [4] = {"misuse", op_misuse},   [5] = {"overflow", op_overflow},
    [6] = {"reopen", op_reopen},   [7] = {"free", op_free},
};

static void after_op(void *model, const char *op)
{
    front_model *m = model;
    uint32_t bad = 0, broken = 0, i;
    carve_status status = carve_layout_check(m->image, &bad, &broken);
    FUZZ_REQUIRE(status == CARVE_SUCCESS, "after %s: invariant %u of %s %u",
                 op, broken, bad == CARVE_HEAP_INDEX ? "the heap" : "arena",
                 bad);
    FUZZ_REQUIRE(header(m)->error_count == m->errors,
                 "after %s: %u errors logged, %u expected", op,
                 header(m)->error_count, m->errors);
    FUZZ_REQUIRE(header(m)->event_capacity == 0 ||
                     header(m)->event_count == m->events,
                 "after %s: %u events logged, %u expected", op,
                 header(m)->event_count, m->events);
    for (i = 0; i < m->live_count; ++i)
        FUZZ_REQUIRE(fuzz_tag_mismatch(m->live[i].p, (size_t)m->live[i].bytes,
                                       m->live[i].tag) == m->live[i].bytes,
                     "after %s: live block %p changed", op,
                     (void *)m->live[i].p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static front_model m;
    fuzz_input in = {data, size, 0};
    carve_plan_params p;
    carve_device_limits limits = {1ull << 32, 1ull << 33, 4096};
    uint32_t config = fuzz_u8(&in), i;
    memset(&m, 0, sizeof m);
    memset(&p, 0, sizeof p);
    p.arena_count = ARENAS;
    p.arena_bytes = 256u << (fuzz_u8(&in) % 5);      /* 256 B - 4 KiB */
    p.heap_bytes = (uint64_t)(1 + fuzz_u8(&in) % 12) * 4096u;
    p.heap_page_bytes = 2048u << (config & 1u);
    p.large_request_bytes = config & 2u ? 1u + fuzz_u16(&in) % 2048u : 0u;
    p.options = (config & 4u ? CARVE_PLAN_CHECKS : 0u) |
                (config & 8u ? CARVE_PLAN_HEAP_FALLBACK : 0u) |
                (config & 32u ? CARVE_PLAN_SMALL_RUNS : 0u);
    p.event_log_records = config & 16u ? 4096u : 0u;
    p.error_log_records = 64;
    if (carve_plan_compute(&p, &limits, &m.plan) != CARVE_SUCCESS)
        return 0;
    m.checks = (p.options & CARVE_PLAN_CHECKS) != 0;
    m.runs = (p.options & CARVE_PLAN_SMALL_RUNS) != 0;
    m.image = aligned_alloc(4096, (size_t)((m.plan.total_bytes + 4095) & ~4095ull));
    FUZZ_REQUIRE(m.image != NULL, "out of memory");
    /* Garbage where the allocator must never look before writing. */
    memset(m.image, 0xa5, (size_t)m.plan.total_bytes);
    FUZZ_REQUIRE(carve_layout_format(m.image, (size_t)m.plan.total_bytes,
                                     &m.plan) == CARVE_SUCCESS,
                 "format failed");
    for (i = 0; i < ARENAS; ++i)
        m.arenas[i] = carve_core_open(m.image, i);
    fuzz_run_ops(front_ops, &m, &in, after_op);
    while (m.live_count > 0) {
        front_block *b = &m.live[m.live_count - 1];
        carve_alloc_free(freer_of(&m, b, 0), b->p, FREE_SITE);
        --m.live_count;
    }
    /* Closing gives back the heap reservations work-items hold. */
    for (i = 0; i < ARENAS; ++i)
        carve_alloc_close(&m.arenas[i]);
    {
        carve_summary sum;
        FUZZ_REQUIRE(carve_layout_summary(m.image, &sum) == CARVE_SUCCESS &&
                         sum.in_use_bytes == 0 && sum.heap_live_blocks == 0 &&
                         sum.heap_free_pages == sum.heap_pages,
                     "memory left after freeing every block");
    }
    free(m.image);
    return 0;
}
