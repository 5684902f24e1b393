/*
 * fuzz_pool.c - libFuzzer target for the host pool (host/pool/pool.h), the TLSF
 * allocator behind regions and the TI tiers.
 *
 * An input creates a pool (capacity and unit from the input) over a host
 * buffer that stands in for the region, then runs operations decoded from
 * the input against a model: allocations at every alignment, frees,
 * resizes in place, and misuse (offsets inside a block, past the end,
 * already freed, through free and resize). It aborts when the pool breaks a
 * promise:
 * - carve__pool_check fails after any operation;
 * - a block overlaps a live one, is misaligned, leaves the range, or has
 *   the wrong usable size; a live block's bytes (each filled with its own
 *   tag) change; resize loses the bytes it must keep;
 * - a status is wrong: misuse must give INVALID_ARGUMENT and change
 *   nothing; growing in place must succeed exactly when the free space
 *   after the block holds the new size; an empty pool must serve any
 *   request that fits well inside it;
 * - find, walk or the statistics disagree with the model.
 * The operation table is pool_ops below; see fuzz_input.h for the format.
 */
#include "fuzz_input.h"

#include "pool/pool.h"

#define MAX_UNITS 2048u
#define MAX_LIVE MAX_UNITS
#define FREED_RING 16u

typedef struct pool_block {
    uint64_t offset, bytes, usable;
    uint8_t tag;
} pool_block;

typedef struct pool_model {
    carve__pool *pool;
    uint64_t capacity, unit;
    uint8_t *memory; /* what the offsets address */
    pool_block live[MAX_LIVE];
    uint32_t live_count;
    uint64_t freed[FREED_RING];
    uint32_t freed_next;
    uint32_t serial;
    uint64_t alloc_count, free_count, failed_count;
} pool_model;

static uint64_t round_unit(const pool_model *m, uint64_t bytes)
{
    return (bytes + m->unit - 1) & ~(m->unit - 1);
}

/* ---- the model ------------------------------------------------------------ */

static void fill(pool_model *m, pool_block *b)
{
    b->tag = fuzz_tag(m->serial++);
    memset(m->memory + b->offset, b->tag, (size_t)b->bytes);
}

static pool_block *live_at(pool_model *m, uint64_t offset)
{
    uint32_t i;
    for (i = 0; i < m->live_count; ++i)
        if (m->live[i].offset == offset)
            return &m->live[i];
    return NULL;
}

/* Where the free space after `end` stops: the next live block or the end. */
static uint64_t free_until(const pool_model *m, uint64_t end)
{
    uint64_t limit = m->capacity;
    uint32_t i;
    for (i = 0; i < m->live_count; ++i)
        if (m->live[i].offset >= end && m->live[i].offset < limit)
            limit = m->live[i].offset;
    return limit;
}

static void forget(pool_model *m, pool_block *b)
{
    m->freed[m->freed_next++ % FREED_RING] = b->offset;
    *b = m->live[--m->live_count];
}

/* find() must describe the live block b exactly. */
static void expect_found(const pool_model *m, const pool_block *b)
{
    uint64_t size = 0, requested = 0;
    FUZZ_REQUIRE(carve__pool_find(m->pool, b->offset, &size, &requested, NULL),
                 "live block at %llu not found", (unsigned long long)b->offset);
    FUZZ_REQUIRE(size == b->usable && requested == b->bytes,
                 "block at %llu: size %llu for %llu, expected %llu for %llu",
                 (unsigned long long)b->offset, (unsigned long long)size,
                 (unsigned long long)requested, (unsigned long long)b->usable,
                 (unsigned long long)b->bytes);
}

static void adopt(pool_model *m, uint64_t offset, uint64_t bytes,
                  uint64_t align)
{
    pool_block *b;
    uint64_t usable = round_unit(m, bytes), want = align > m->unit ? align : m->unit;
    uint32_t i;
    FUZZ_REQUIRE(offset % want == 0 && offset + usable <= m->capacity,
                 "block at %llu (+%llu) misaligned for %llu or outside",
                 (unsigned long long)offset, (unsigned long long)usable,
                 (unsigned long long)want);
    for (i = 0; i < m->live_count; ++i) {
        const pool_block *o = &m->live[i];
        FUZZ_REQUIRE(offset + usable <= o->offset || o->offset + o->usable <= offset,
                     "block at %llu overlaps the one at %llu",
                     (unsigned long long)offset, (unsigned long long)o->offset);
    }
    FUZZ_REQUIRE(m->live_count < MAX_LIVE, "more live blocks than units");
    b = &m->live[m->live_count++];
    b->offset = offset;
    b->bytes = bytes;
    b->usable = usable;
    expect_found(m, b);
    fill(m, b);
}

/* An offset that no live block starts at must be refused, changing
 * nothing, by free or (odd selector) resize. */
static void misuse(pool_model *m, uint64_t offset, uint32_t selector)
{
    carve__pool_stats before, after;
    carve_status status;
    if (live_at(m, offset) != NULL)
        return; /* a legal call: not this operation's business */
    carve__pool_get_stats(m->pool, &before);
    status = selector & 1u ? carve__pool_resize(m->pool, offset, 1 + selector)
                           : carve__pool_free(m->pool, offset);
    carve__pool_get_stats(m->pool, &after);
    FUZZ_REQUIRE(status == CARVE_ERROR_INVALID_ARGUMENT,
                 "misuse of offset %llu gave %d", (unsigned long long)offset,
                 (int)status);
    FUZZ_REQUIRE(memcmp(&before, &after, sizeof before) == 0,
                 "a refused call changed the statistics");
    FUZZ_REQUIRE(!carve__pool_find(m->pool, offset, NULL, NULL, NULL),
                 "find reports a block at %llu", (unsigned long long)offset);
}

static pool_block *pick_live(pool_model *m, fuzz_input *in)
{
    uint32_t i = fuzz_u16(in);
    return m->live_count ? &m->live[i % m->live_count] : NULL;
}

/* ---- operations ------------------------------------------------------------ */

static void op_alloc(void *model, fuzz_input *in)
{
    pool_model *m = model;
    uint64_t bytes = fuzz_size(in, m->capacity + m->unit), offset = 0;
    uint32_t code = fuzz_u8(in);
    /* mostly powers of two from 1 to 8192, sometimes 0 or 3 */
    uint64_t align = code < 240 ? 1ull << (code % 14u) : code % 2u ? 3u : 0u;
    uint64_t units, align_units, live_before = m->live_count;
    carve_status status = carve__pool_alloc(m->pool, bytes, align, &offset);
    if (bytes == 0 || align == 0 || (align & (align - 1)) != 0) {
        FUZZ_REQUIRE(status == CARVE_ERROR_INVALID_ARGUMENT,
                     "alloc(%llu, %llu) gave %d", (unsigned long long)bytes,
                     (unsigned long long)align, (int)status);
        return;
    }
    if (status == CARVE_SUCCESS) {
        m->alloc_count += 1;
        adopt(m, offset, bytes, align);
        return;
    }
    FUZZ_REQUIRE(status == CL_MEM_OBJECT_ALLOCATION_FAILURE,
                 "alloc(%llu, %llu) gave %d", (unsigned long long)bytes,
                 (unsigned long long)align, (int)status);
    m->failed_count += 1;
    /* An empty pool is one free block: a request that fits with room for
     * the class rounding (under 1/16) must be served. */
    units = round_unit(m, bytes) / m->unit;
    align_units = (align > m->unit ? align : m->unit) / m->unit;
    FUZZ_REQUIRE(live_before != 0 ||
                     (units + align_units - 1) * 17 / 16 + 1 > m->capacity / m->unit,
                 "an empty pool of %llu refused %llu bytes at %llu",
                 (unsigned long long)m->capacity, (unsigned long long)bytes,
                 (unsigned long long)align);
}

static void op_free(void *model, fuzz_input *in)
{
    pool_model *m = model;
    pool_block *b = pick_live(m, in);
    if (b == NULL)
        return;
    FUZZ_REQUIRE(carve__pool_free(m->pool, b->offset) == CARVE_SUCCESS,
                 "free of live block %llu refused", (unsigned long long)b->offset);
    m->free_count += 1;
    forget(m, b);
}

static void op_resize(void *model, fuzz_input *in)
{
    pool_model *m = model;
    pool_block *b = pick_live(m, in);
    uint64_t bytes = fuzz_size(in, m->capacity + m->unit), keep;
    carve_status status;
    int fits;
    if (b == NULL)
        return;
    status = carve__pool_resize(m->pool, b->offset, bytes);
    if (bytes == 0) {
        FUZZ_REQUIRE(status == CARVE_ERROR_INVALID_ARGUMENT,
                     "resize to 0 gave %d", (int)status);
        return;
    }
    fits = bytes <= m->capacity &&
           b->offset + round_unit(m, bytes) <=
               free_until(m, b->offset + b->usable);
    FUZZ_REQUIRE(fits ? status == CARVE_SUCCESS
                      : status == CL_MEM_OBJECT_ALLOCATION_FAILURE,
                 "resize of %llu (%llu usable) to %llu gave %d",
                 (unsigned long long)b->offset, (unsigned long long)b->usable,
                 (unsigned long long)bytes, (int)status);
    if (status != CARVE_SUCCESS)
        return;
    keep = b->bytes < bytes ? b->bytes : bytes;
    FUZZ_REQUIRE(fuzz_tag_mismatch(m->memory + b->offset, (size_t)keep,
                                   b->tag) == keep,
                 "resize lost kept bytes");
    b->bytes = bytes;
    b->usable = round_unit(m, bytes);
    expect_found(m, b);
    fill(m, b);
}

static void op_misuse_inside(void *model, fuzz_input *in)
{
    pool_model *m = model;
    pool_block *b = pick_live(m, in);
    uint32_t at = fuzz_u32(in), selector = fuzz_u8(in);
    if (b != NULL)
        misuse(m, b->offset + 1 + at % (b->usable - 1), selector);
}

static void op_misuse_outside(void *model, fuzz_input *in)
{
    pool_model *m = model;
    uint32_t at = fuzz_u32(in), selector = fuzz_u8(in);
    misuse(m, m->capacity + at % (4 * m->unit), selector);
}

static void op_misuse_freed(void *model, fuzz_input *in)
{
    pool_model *m = model;
    uint32_t i = fuzz_u8(in), selector = fuzz_u8(in);
    if (m->freed_next > 0)
        misuse(m, m->freed[fuzz_ring_slot(i, m->freed_next, FREED_RING)],
               selector);
}

/* Offsets walked in address order, each a live block of the model. */
typedef struct walk_state {
    pool_model *m;
    uint64_t next_offset, visited;
} walk_state;

static void visit(uint64_t offset, uint64_t size, uint64_t requested,
                  void *user, void *context)
{
    walk_state *w = context;
    pool_block *b = live_at(w->m, offset);
    FUZZ_REQUIRE(offset >= w->next_offset, "walk out of address order");
    FUZZ_REQUIRE(b != NULL && b->usable == size && b->bytes == requested &&
                     user == NULL,
                 "walk visits %llu, which the model does not know",
                 (unsigned long long)offset);
    w->next_offset = offset + size;
    w->visited += 1;
}

static void op_walk(void *model, fuzz_input *in)
{
    walk_state w = {model, 0, 0};
    (void)in;
    carve__pool_walk(w.m->pool, visit, &w);
    FUZZ_REQUIRE(w.visited == w.m->live_count, "walk visited %llu of %u",
                 (unsigned long long)w.visited, w.m->live_count);
}

/* Codes are indices: append new operations, never reorder. */
static const fuzz_op pool_ops[FUZZ_OP_SLOTS] = {
    {"alloc", op_alloc},
    {"free", op_free},
    {"resize", op_resize},
    {"misuse_inside", op_misuse_inside},
    {"misuse_outside", op_misuse_outside},
    {"misuse_freed", op_misuse_freed},
    {"walk", op_walk},
};

/* ---- after every operation ---------------------------------------------------- */

static void after_op(void *model, const char *op)
{
    pool_model *m = model;
    carve__pool_stats s;
    const char *broken = carve__pool_check(m->pool);
    uint64_t in_use = 0, requested = 0;
    uint32_t i;
    FUZZ_REQUIRE(broken == NULL, "after %s: %s", op, broken);
    for (i = 0; i < m->live_count; ++i) {
        const pool_block *b = &m->live[i];
        size_t bad = fuzz_tag_mismatch(m->memory + b->offset, (size_t)b->bytes,
                                       b->tag);
        FUZZ_REQUIRE(bad == b->bytes, "after %s: byte %zu of the block at %llu "
                     "changed", op, bad, (unsigned long long)b->offset);
        in_use += b->usable;
        requested += b->bytes;
    }
    carve__pool_get_stats(m->pool, &s);
    FUZZ_REQUIRE(s.capacity == m->capacity && s.in_use == in_use &&
                     s.requested == requested && s.live_blocks == m->live_count &&
                     s.alloc_count == m->alloc_count &&
                     s.free_count == m->free_count &&
                     s.failed_count == m->failed_count &&
                     s.peak_in_use >= s.in_use &&
                     s.largest_free <= m->capacity - in_use,
                 "after %s: statistics disagree with the model", op);
}

/* ---- the target -------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pool_model m;
    fuzz_input in = {data, size, 0};
    memset(&m, 0, sizeof m);
    m.unit = 16u << (fuzz_u8(&in) % 3u);
    m.capacity = m.unit * (1 + fuzz_u16(&in) % MAX_UNITS);
    FUZZ_REQUIRE(carve__pool_create(m.capacity, m.unit, &m.pool) == CARVE_SUCCESS,
                 "pool_create(%llu, %llu) failed",
                 (unsigned long long)m.capacity, (unsigned long long)m.unit);
    m.memory = malloc((size_t)m.capacity);
    FUZZ_REQUIRE(m.memory != NULL, "out of memory");
    fuzz_run_ops(pool_ops, &m, &in, after_op);
    carve__pool_destroy(m.pool);
    free(m.memory);
    return 0;
}
