/*
 * fuzz_core.c - libFuzzer target for the arena allocator core
 * (kernels/carve_core.h) through the calls kernels make (carve_malloc,
 * carve_free... of kernels/carve_calls.h), compiled as host C.
 *
 * An input lays out a set of two arenas in host memory (arena bytes start
 * as garbage the input picks: the allocator must never rely on them), opens
 * arena 0 and runs operations decoded from the input against a model:
 * allocations of every kind, frees, reallocs, and misuse (interior,
 * foreign and already-freed pointers, through free and realloc). It aborts
 * when the core breaks a promise:
 * - carve_core_check fails after any operation;
 * - a block overlaps a live one, is misaligned, has the wrong usable size,
 *   or a live block's bytes (each filled with its own tag) change;
 * - calloc memory is not zero, realloc loses the bytes it must keep;
 * - a NULL comes with the wrong reason, or OUT_OF_MEMORY while a fit is
 *   guaranteed (room at the top, or a free block of a higher size class);
 * - a misused pointer is not refused with the right CARVE_MISUSE_* code
 *   (INTERIOR, FREED below the high-water mark, NOT_LIVE above it,
 *   OTHER_ARENA, FOREIGN), or a counter (failures, misuse, zero requests,
 *   reallocs) disagrees;
 * - any byte outside arena 0's payload and state entry changes (the header,
 *   arena 1).
 * The operation table is core_ops below; see fuzz_input.h for the format.
 */
#include "fuzz_input.h"

#include <carve/carve.h>

#include "free_refused.h"

#define MAX_GRANULES 2048u /* per arena: 32 KiB */
#define MAX_LIVE MAX_GRANULES
#define FREED_RING 16u

typedef struct core_block {
    uint8_t *p;
    uint64_t bytes;
    uint8_t tag;
} core_block;

typedef struct core_model {
    carve_plan plan;
    uint8_t *image;
    uint8_t *pristine; /* the image as opened: all but arena 0 must stay */
    carve_arena arena;
    uint8_t *payload;
    uint32_t granules;
    core_block live[MAX_LIVE];
    uint32_t live_count;
    uint8_t *freed[FREED_RING];
    uint32_t freed_next;
    uint32_t serial;
    uint32_t high_water; /* granules ever handed out: the peak of bump */
    /* what the state entry's counters must say */
    uint32_t failed, last_failure, misuse, last_misuse, zero_requests,
        reallocs;
} core_model;

static uint64_t round_granule(uint64_t bytes)
{
    return (bytes + CARVE_GRANULE - 1) & ~(uint64_t)(CARVE_GRANULE - 1);
}

/* ---- the model ------------------------------------------------------------ */

static void fill(core_model *m, core_block *b)
{
    b->tag = fuzz_tag(m->serial++);
    memset(b->p, b->tag, (size_t)b->bytes);
}

/* The live block containing byte x of the arena, or NULL. */
static core_block *live_holding(core_model *m, const uint8_t *x)
{
    uint32_t i;
    for (i = 0; i < m->live_count; ++i)
        if (x >= m->live[i].p && x < m->live[i].p + round_granule(m->live[i].bytes))
            return &m->live[i];
    return NULL;
}

/* Drops b from the model; `freed`: its address is no block any more. */
static void forget(core_model *m, core_block *b, int freed)
{
    if (freed)
        m->freed[m->freed_next++ % FREED_RING] = b->p;
    *b = m->live[--m->live_count];
}

/* A new block from the core: inside the arena, aligned, of the right
 * size, overlapping nothing live. Then filled with its own tag. */
static void adopt(core_model *m, uint8_t *p, uint64_t bytes, uint32_t align)
{
    uint64_t usable = round_granule(bytes);
    uint32_t i;
    uint32_t want = align > CARVE_GRANULE ? align : CARVE_GRANULE;
    FUZZ_REQUIRE(p >= m->payload &&
                     p + usable <= m->payload + (uint64_t)m->granules * CARVE_GRANULE,
                 "block %p (+%llu) outside the arena", (void *)p,
                 (unsigned long long)usable);
    FUZZ_REQUIRE((uintptr_t)p % want == 0, "block %p not aligned to %u",
                 (void *)p, want);
    FUZZ_REQUIRE(carve_usable_size(&m->arena, p) == usable,
                 "usable size %llu for %llu bytes",
                 (unsigned long long)carve_usable_size(&m->arena, p),
                 (unsigned long long)bytes);
    for (i = 0; i < m->live_count; ++i) {
        const core_block *b = &m->live[i];
        FUZZ_REQUIRE(p + usable <= b->p || b->p + round_granule(b->bytes) <= p,
                     "block %p overlaps live block %p", (void *)p, (void *)b->p);
    }
    FUZZ_REQUIRE(m->live_count < MAX_LIVE, "more live blocks than granules");
    if ((uint32_t)((p + usable - m->payload) / CARVE_GRANULE) > m->high_water)
        m->high_water = (uint32_t)((p + usable - m->payload) / CARVE_GRANULE);
    m->live[m->live_count].p = p;
    m->live[m->live_count].bytes = bytes;
    fill(m, &m->live[m->live_count++]);
}

static void expect_failure(core_model *m, uint32_t why)
{
    m->failed += 1;
    m->last_failure = why;
}

/* A NULL for `bytes` at `align` from a valid request: OUT_OF_MEMORY, and
 * only where the scheme allows it (no room at the top, no free block of a
 * class above the request's, which would always fit). */
static void expect_out_of_memory(core_model *m, uint64_t bytes, uint32_t align)
{
    carve_core_report r;
    uint32_t n = (uint32_t)(round_granule(bytes) / CARVE_GRANULE);
    uint32_t need = n + (align > CARVE_GRANULE ? align / CARVE_GRANULE : 1) - 1;
    uint32_t top = m->granules - m->arena.state->bump;
    expect_failure(m, CARVE_FAIL_OUT_OF_MEMORY);
    FUZZ_REQUIRE(carve_core_check(&m->arena, &r) == CARVE_CHECK_OK,
                 "invariant %u broken", r.broken);
    FUZZ_REQUIRE(top < need, "NULL for %u granules with %u free at the top",
                 need, top);
    FUZZ_REQUIRE(need > m->granules || r.largest_free == top ||
                     r.largest_free <
                         carve_core_class_min(carve_core_class_of(need) + 1),
                 "NULL for %u granules beside a free block of %u", need,
                 r.largest_free);
}

/* What any allocation call must return for a request of `bytes`. */
static void check_allocation(core_model *m, uint8_t *p, uint64_t bytes,
                             uint32_t align)
{
    int bad_align = align == 0 || (align & (align - 1)) != 0 ||
                    align > CARVE_MAX_ALIGN;
    if (bytes == 0) {
        FUZZ_REQUIRE(p == NULL, "a block for 0 bytes");
        m->zero_requests += 1;
    } else if (bad_align) {
        FUZZ_REQUIRE(p == NULL, "a block for alignment %u", align);
        expect_failure(m, CARVE_FAIL_BAD_ALIGNMENT);
    } else if (round_granule(bytes) > (uint64_t)m->granules * CARVE_GRANULE) {
        FUZZ_REQUIRE(p == NULL, "a block larger than the arena");
        expect_failure(m, CARVE_FAIL_TOO_LARGE);
    } else if (p == NULL) {
        expect_out_of_memory(m, bytes, align);
    } else {
        adopt(m, p, bytes, align);
    }
}

/* The CARVE_MISUSE_* a free of x must be refused with, or NONE when x
 * starts a live block. */
static uint32_t misuse_of(core_model *m, uint8_t *x)
{
    uintptr_t off = (uintptr_t)x - (uintptr_t)m->payload;
    uintptr_t arenas = (uintptr_t)(m->image + m->plan.arenas_offset);
    core_block *b;
    if (off >= (uintptr_t)m->granules * CARVE_GRANULE)
        return (uintptr_t)x - arenas < 2u * m->plan.arena_bytes
                   ? CARVE_MISUSE_OTHER_ARENA /* arena 1 */
                   : CARVE_MISUSE_FOREIGN;
    b = live_holding(m, x);
    if (b != NULL)
        return b->p == x ? CARVE_MISUSE_NONE : CARVE_MISUSE_INTERIOR;
    /* not live: handed out before (below the high-water mark) or never */
    return off / CARVE_GRANULE < m->high_water ? CARVE_MISUSE_FREED
                                               : CARVE_MISUSE_NOT_LIVE;
}

/* Frees (or, on an odd selector, reallocs) x, which must be refused. */
static void misuse(core_model *m, uint8_t *x, uint32_t selector)
{
    uint32_t why = misuse_of(m, x);
    if (x == NULL || why == CARVE_MISUSE_NONE)
        return; /* a legal call: not this operation's business */
    if (selector & 1u) {
        uint64_t bytes = 1 + selector % 200u;
        FUZZ_REQUIRE(carve_realloc(&m->arena, x, bytes) == NULL,
                     "realloc accepted misused pointer %p", (void *)x);
    } else {
        uint32_t refused = free_refused(&m->arena, x);
        FUZZ_REQUIRE(refused == why, "free of %p refused as %u, expected %u",
                     (void *)x, refused, why);
    }
    m->misuse += 1;
    m->last_misuse = why;
}

static core_block *pick_live(core_model *m, fuzz_input *in)
{
    uint32_t i = fuzz_u16(in);
    return m->live_count ? &m->live[i % m->live_count] : NULL;
}

/* ---- operations ------------------------------------------------------------ */

static uint64_t max_request(const core_model *m)
{
    return (uint64_t)m->granules * CARVE_GRANULE + 64;
}

static void op_malloc(void *model, fuzz_input *in)
{
    core_model *m = model;
    uint64_t bytes = fuzz_size(in, max_request(m));
    check_allocation(m, carve_malloc(&m->arena, bytes), bytes,
                     CARVE_GRANULE);
}

static void op_malloc_aligned(void *model, fuzz_input *in)
{
    core_model *m = model;
    uint64_t bytes = fuzz_size(in, max_request(m));
    uint32_t code = fuzz_u8(in);
    /* mostly powers of two from 1 to 256, sometimes anything */
    uint32_t align = code < 224 ? 1u << (code % 9u) : code - 224u;
    check_allocation(m, carve_malloc_aligned(&m->arena, bytes, align),
                     bytes, align);
}

static void op_calloc(void *model, fuzz_input *in)
{
    core_model *m = model;
    uint64_t count = fuzz_u8(in) % 17u;
    uint64_t size = fuzz_size(in, max_request(m) / 4);
    uint8_t *p = carve_calloc(&m->arena, count, size);
    if (p != NULL)
        FUZZ_REQUIRE(fuzz_tag_mismatch(p, (size_t)(count * size), 0) ==
                         count * size,
                     "calloc memory not zero");
    check_allocation(m, p, count * size, CARVE_GRANULE);
}

static void op_calloc_overflow(void *model, fuzz_input *in)
{
    core_model *m = model;
    uint32_t shift = fuzz_u8(in) % 32u;
    uint64_t count = UINT64_MAX >> shift;
    uint64_t size = ((uint64_t)2 << shift) + fuzz_u8(in); /* count * size > 2^64 */
    FUZZ_REQUIRE(carve_calloc(&m->arena, count, size) == NULL,
                 "calloc of an overflowing product");
    expect_failure(m, CARVE_FAIL_OVERFLOW);
}

static void op_realloc(void *model, fuzz_input *in)
{
    core_model *m = model;
    core_block *b = pick_live(m, in), old;
    uint64_t bytes = fuzz_size(in, max_request(m)), keep;
    uint8_t *q;
    if (b == NULL) { /* realloc(NULL, n) is malloc(n) */
        check_allocation(m, carve_realloc(&m->arena, NULL, bytes), bytes,
                         CARVE_GRANULE);
        return;
    }
    old = *b;
    q = carve_realloc(&m->arena, old.p, bytes);
    m->reallocs += 1;
    if (bytes == 0) { /* frees */
        FUZZ_REQUIRE(q == NULL, "realloc to 0 bytes returned a block");
        forget(m, b, 1);
        return;
    }
    if (q == NULL) { /* the old block stays as it was */
        if (round_granule(bytes) > (uint64_t)m->granules * CARVE_GRANULE)
            expect_failure(m, CARVE_FAIL_TOO_LARGE);
        else
            expect_out_of_memory(m, bytes, CARVE_GRANULE);
        return;
    }
    keep = old.bytes < bytes ? old.bytes : bytes;
    FUZZ_REQUIRE(fuzz_tag_mismatch(q, (size_t)keep, old.tag) == keep,
                 "realloc lost the first %llu bytes", (unsigned long long)keep);
    forget(m, b, q != old.p);
    adopt(m, q, bytes, CARVE_GRANULE);
}

static void op_free(void *model, fuzz_input *in)
{
    core_model *m = model;
    core_block *b = pick_live(m, in);
    uint32_t refused = free_refused(&m->arena, b ? b->p : NULL);
    FUZZ_REQUIRE(refused == CARVE_MISUSE_NONE, "free of a live block refused "
                 "as %u", refused); /* free(NULL) does nothing */
    if (b != NULL)
        forget(m, b, 1);
}

static void op_free_interior(void *model, fuzz_input *in)
{
    core_model *m = model;
    core_block *b = pick_live(m, in);
    uint32_t at = fuzz_u16(in), selector = fuzz_u8(in);
    if (b != NULL)
        misuse(m, b->p + 1 + at % (round_granule(b->bytes) - 1), selector);
}

static void op_free_foreign(void *model, fuzz_input *in)
{
    core_model *m = model;
    uint32_t kind = fuzz_u8(in) % 5u, at = fuzz_u16(in), selector = fuzz_u8(in);
    uint64_t span = (uint64_t)m->granules * CARVE_GRANULE;
    uint8_t local = 0;
    uint8_t *targets[5];
    targets[0] = m->image + at % m->plan.arenas_offset; /* header, state */
    targets[1] = m->payload + span + at % span;         /* arena 1 */
    targets[2] = m->payload + span;                     /* just past the end */
    targets[3] = m->payload - 1 - at % CARVE_GRANULE;   /* just before */
    targets[4] = &local;                                /* nowhere near */
    misuse(m, targets[kind], selector);
}

static void op_free_again(void *model, fuzz_input *in)
{
    core_model *m = model;
    uint32_t i = fuzz_u8(in), selector = fuzz_u8(in);
    if (m->freed_next > 0)
        misuse(m, m->freed[fuzz_ring_slot(i, m->freed_next, FREED_RING)],
               selector);
}

/* Codes are indices: append new operations, never reorder. */
static const fuzz_op core_ops[FUZZ_OP_SLOTS] = {
    {"malloc", op_malloc},
    {"malloc_aligned", op_malloc_aligned},
    {"calloc", op_calloc},
    {"calloc_overflow", op_calloc_overflow},
    {"realloc", op_realloc},
    {"free", op_free},
    {"free_interior", op_free_interior},
    {"free_foreign", op_free_foreign},
    {"free_again", op_free_again},
};

/* ---- after every operation ---------------------------------------------------- */

static void expect_counters(const core_model *m)
{
    const carve_arena_state *s = m->arena.state;
    FUZZ_REQUIRE(s->failed_count == m->failed, "failed_count %u, expected %u",
                 s->failed_count, m->failed);
    FUZZ_REQUIRE(m->failed == 0 || s->last_failure == m->last_failure,
                 "last_failure %u, expected %u", s->last_failure,
                 m->last_failure);
    FUZZ_REQUIRE(s->misuse_count == m->misuse, "misuse_count %u, expected %u",
                 s->misuse_count, m->misuse);
    FUZZ_REQUIRE(m->misuse == 0 || s->last_misuse == m->last_misuse,
                 "last_misuse %u, expected %u", s->last_misuse, m->last_misuse);
    FUZZ_REQUIRE(s->zero_requests == m->zero_requests,
                 "zero_requests %u, expected %u", s->zero_requests,
                 m->zero_requests);
    FUZZ_REQUIRE(s->realloc_count == m->reallocs,
                 "realloc_count %u, expected %u", s->realloc_count, m->reallocs);
}

/* Refusals are recorded in the error log as kernels record them: one
 * record each (while there is room), counted in the header. The model
 * takes those writes as expected. */
static void expect_error_log(const core_model *m)
{
    carve_set_header *h = (carve_set_header *)m->image;
    size_t kept = m->misuse < m->plan.error_capacity ? m->misuse
                                                      : m->plan.error_capacity;
    FUZZ_REQUIRE(h->error_count == m->misuse, "%u errors logged, expected %u",
                 h->error_count, m->misuse);
    memcpy(m->pristine + offsetof(carve_set_header, error_count),
           &h->error_count, sizeof h->error_count);
    memcpy(m->pristine + m->plan.error_offset, m->image + m->plan.error_offset,
           kept * sizeof(carve_error_record));
}

static void expect_untouched_outside(const core_model *m)
{
    size_t state0 = m->plan.state_offset, payload0 = m->plan.arenas_offset;
    size_t state_end = state0 + m->plan.state_stride;
    size_t payload_end = payload0 + m->plan.arena_bytes;
    size_t total = (size_t)m->plan.total_bytes;
    FUZZ_REQUIRE(memcmp(m->image, m->pristine, state0) == 0 &&
                     memcmp(m->image + state_end, m->pristine + state_end,
                            payload0 - state_end) == 0 &&
                     memcmp(m->image + payload_end, m->pristine + payload_end,
                            total - payload_end) == 0,
                 "a write outside arena 0");
}

static void after_op(void *model, const char *op)
{
    core_model *m = model;
    carve_core_report r;
    uint64_t granules = 0;
    uint32_t i;
    FUZZ_REQUIRE(carve_core_check(&m->arena, &r) == CARVE_CHECK_OK,
                 "after %s: invariant %u broken at granule %u", op, r.broken,
                 r.granule);
    for (i = 0; i < m->live_count; ++i) {
        const core_block *b = &m->live[i];
        size_t bad = fuzz_tag_mismatch(b->p, (size_t)b->bytes, b->tag);
        FUZZ_REQUIRE(bad == b->bytes, "after %s: byte %zu of live block %p "
                     "changed", op, bad, (void *)b->p);
        granules += round_granule(b->bytes) / CARVE_GRANULE;
    }
    FUZZ_REQUIRE(r.live_blocks == m->live_count && r.live_granules == granules,
                 "after %s: %u live blocks of %u granules, expected %u of %llu",
                 op, r.live_blocks, r.live_granules, m->live_count,
                 (unsigned long long)granules);
    expect_counters(m);
    expect_error_log(m);
    expect_untouched_outside(m);
}

/* ---- the target -------------------------------------------------------------- */

static int set_up(core_model *m, fuzz_input *in)
{
    carve_plan_params params;
    carve_device_limits limits = {1ull << 32, 1ull << 33, 4096};
    size_t bytes;
    memset(&params, 0, sizeof params);
    params.arena_count = 2;
    params.arena_bytes = (1 + fuzz_u16(in) % MAX_GRANULES) * CARVE_GRANULE;
    if (carve_plan_compute(&params, &limits, &m->plan) != CARVE_SUCCESS)
        return 0;
    bytes = (size_t)((m->plan.total_bytes + 4095) & ~4095ull);
    m->image = aligned_alloc(4096, bytes);
    m->pristine = malloc(bytes);
    FUZZ_REQUIRE(m->image && m->pristine, "out of memory");
    memset(m->image, (int)fuzz_u8(in), bytes); /* garbage the core must bear */
    FUZZ_REQUIRE(carve_layout_format(m->image, bytes, &m->plan) == CARVE_SUCCESS,
                 "layout_format failed");
    m->arena = carve_core_open(m->image, 0);
    FUZZ_REQUIRE(m->arena.state != NULL, "arena 0 did not open");
    m->payload = m->arena.payload;
    m->granules = m->arena.granules;
    FUZZ_REQUIRE(m->plan.arena_bytes == m->granules * CARVE_GRANULE &&
                     m->payload == m->image + m->plan.arenas_offset,
                 "the plan and the opened arena disagree");
    memcpy(m->pristine, m->image, bytes);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static core_model m;
    fuzz_input in = {data, size, 0};
    memset(&m, 0, sizeof m);
    if (set_up(&m, &in))
        fuzz_run_ops(core_ops, &m, &in, after_op);
    free(m.image);
    free(m.pristine);
    return 0;
}
