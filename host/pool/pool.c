/* pool.c - TLSF over a range of offsets, metadata outside the range. */
#include "pool.h"

#include <stdlib.h>
#include <string.h>
#include "fault.h" /* last: test builds wrap the calls above */

#define SL_BITS 4u
#define SL_COUNT (1u << SL_BITS)
#define FL_COUNT (64u - SL_BITS + 1u)
#define CHUNK_BITS 12u
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define LEAF_BITS 12u
#define LEAF_SIZE (1u << LEAF_BITS)
#define NONE 0u

typedef struct pool_block {
    uint64_t offset;
    uint64_t size; /* bytes, a multiple of the unit */
    uint64_t requested;
    uint32_t prev_phys, next_phys; /* neighbours in address order */
    uint32_t prev_free, next_free; /* free list, or the spare-descriptor stack */
    int is_free;
    void *user;
} pool_block;

struct carve__pool {
    uint64_t capacity;
    uint64_t unit;
    unsigned unit_shift;
    pool_block **chunks; /* descriptors; index 0 is never used */
    uint32_t chunk_slots;
    uint32_t descriptors; /* handed out so far, including spares */
    uint32_t spare;       /* stack of released descriptors */
    uint32_t **leaves;    /* first unit of a live block -> its descriptor */
    uint64_t leaf_slots;
    uint32_t first;
    uint64_t fl_bitmap;
    uint32_t sl_bitmap[FL_COUNT];
    uint32_t heads[FL_COUNT][SL_COUNT];
    carve__pool_stats stats;
};

static unsigned log2_u64(uint64_t x) { return 63u - (unsigned)__builtin_clzll(x); }

static pool_block *blk(const carve__pool *p, uint32_t i)
{
    return &p->chunks[i >> CHUNK_BITS][i & (CHUNK_SIZE - 1)];
}

/* ---- size classes ---------------------------------------------------------- */

static void class_of(uint64_t units, unsigned *fl, unsigned *sl)
{
    unsigned l;
    if (units < SL_COUNT) {
        *fl = 0;
        *sl = (unsigned)units;
        return;
    }
    l = log2_u64(units);
    *fl = l - SL_BITS + 1u;
    *sl = (unsigned)((units >> (l - SL_BITS)) ^ SL_COUNT);
}

/* The class from which every block is at least `units` long. */
static void class_for_request(uint64_t units, unsigned *fl, unsigned *sl)
{
    if (units >= SL_COUNT)
        units += (1ull << (log2_u64(units) - SL_BITS)) - 1u;
    class_of(units, fl, sl);
}

/* ---- descriptors and the page table -------------------------------------------- */

/* Makes sure `count` descriptors can be taken without failing. */
static int reserve_descriptors(carve__pool *p, uint32_t count)
{
    uint32_t i, have = 0, chunk;
    for (i = p->spare; i != NONE && have < count; i = blk(p, i)->next_free)
        ++have;
    while (have < count) {
        chunk = p->descriptors >> CHUNK_BITS;
        if ((p->descriptors & (CHUNK_SIZE - 1)) == 0) {
            if (chunk >= p->chunk_slots)
                return 0;
            p->chunks[chunk] = calloc(CHUNK_SIZE, sizeof(pool_block));
            if (p->chunks[chunk] == NULL)
                return 0;
        }
        i = p->descriptors++;
        if (i == NONE)
            continue; /* index 0 means "none" */
        blk(p, i)->next_free = p->spare;
        p->spare = i;
        ++have;
    }
    return 1;
}

static uint32_t take_descriptor(carve__pool *p)
{
    uint32_t i = p->spare;
    p->spare = blk(p, i)->next_free;
    memset(blk(p, i), 0, sizeof(pool_block));
    return i;
}

static void release_descriptor(carve__pool *p, uint32_t i)
{
    blk(p, i)->next_free = p->spare;
    blk(p, i)->is_free = 0;
    blk(p, i)->size = 0;
    p->spare = i;
}

static uint32_t *leaf_entry(const carve__pool *p, uint64_t offset)
{
    uint64_t u = offset >> p->unit_shift;
    uint32_t *leaf = p->leaves[u >> LEAF_BITS];
    return leaf ? &leaf[u & (LEAF_SIZE - 1)] : NULL;
}

static int reserve_leaf(carve__pool *p, uint64_t offset)
{
    uint64_t slot = (offset >> p->unit_shift) >> LEAF_BITS;
    if (p->leaves[slot] == NULL)
        p->leaves[slot] = calloc(LEAF_SIZE, sizeof(uint32_t));
    return p->leaves[slot] != NULL;
}

/* ---- free lists -------------------------------------------------------------- */

static void list_insert(carve__pool *p, uint32_t i)
{
    pool_block *b = blk(p, i);
    unsigned fl, sl;
    class_of(b->size >> p->unit_shift, &fl, &sl);
    b->is_free = 1;
    b->prev_free = NONE;
    b->next_free = p->heads[fl][sl];
    if (b->next_free != NONE)
        blk(p, b->next_free)->prev_free = i;
    p->heads[fl][sl] = i;
    p->sl_bitmap[fl] |= 1u << sl;
    p->fl_bitmap |= 1ull << fl;
    p->stats.free_blocks += 1;
}

static void list_remove(carve__pool *p, uint32_t i)
{
    pool_block *b = blk(p, i);
    unsigned fl, sl;
    class_of(b->size >> p->unit_shift, &fl, &sl);
    if (b->prev_free != NONE)
        blk(p, b->prev_free)->next_free = b->next_free;
    else
        p->heads[fl][sl] = b->next_free;
    if (b->next_free != NONE)
        blk(p, b->next_free)->prev_free = b->prev_free;
    if (p->heads[fl][sl] == NONE) {
        p->sl_bitmap[fl] &= ~(1u << sl);
        if (p->sl_bitmap[fl] == 0)
            p->fl_bitmap &= ~(1ull << fl);
    }
    b->is_free = 0;
    p->stats.free_blocks -= 1;
}

/* First free block of class (fl, sl) or above, or NONE. */
static uint32_t find_free(const carve__pool *p, unsigned fl, unsigned sl)
{
    uint32_t sl_map;
    uint64_t fl_map;
    if (fl >= FL_COUNT)
        return NONE;
    sl_map = sl < SL_COUNT ? p->sl_bitmap[fl] & (~0u << sl) : 0;
    if (sl_map == 0) {
        fl_map = fl + 1 < 64 ? p->fl_bitmap & (~0ull << (fl + 1)) : 0;
        if (fl_map == 0)
            return NONE;
        fl = (unsigned)__builtin_ctzll(fl_map);
        sl_map = p->sl_bitmap[fl];
    }
    return p->heads[fl][__builtin_ctz(sl_map)];
}

/* ---- splitting and merging ------------------------------------------------------ */

/* Cuts block i after `bytes`; the upper part gets a reserved descriptor,
 * which is returned (not on any list). */
static uint32_t split(carve__pool *p, uint32_t i, uint64_t bytes)
{
    uint32_t j = take_descriptor(p);
    pool_block *b = blk(p, i), *c = blk(p, j);
    c->offset = b->offset + bytes;
    c->size = b->size - bytes;
    c->prev_phys = i;
    c->next_phys = b->next_phys;
    if (c->next_phys != NONE)
        blk(p, c->next_phys)->prev_phys = j;
    b->next_phys = j;
    b->size = bytes;
    return j;
}

/* Absorbs the block after i (j) into i and releases j's descriptor. */
static void absorb_next(carve__pool *p, uint32_t i)
{
    pool_block *b = blk(p, i);
    uint32_t j = b->next_phys;
    pool_block *c = blk(p, j);
    b->size += c->size;
    b->next_phys = c->next_phys;
    if (b->next_phys != NONE)
        blk(p, b->next_phys)->prev_phys = i;
    release_descriptor(p, j);
}

/* Returns block i (not on a list) to the free lists, merged with free
 * neighbours. */
static void give_back(carve__pool *p, uint32_t i)
{
    pool_block *b = blk(p, i);
    if (b->next_phys != NONE && blk(p, b->next_phys)->is_free) {
        list_remove(p, b->next_phys);
        absorb_next(p, i);
    }
    if (b->prev_phys != NONE && blk(p, b->prev_phys)->is_free) {
        uint32_t prev = b->prev_phys;
        list_remove(p, prev);
        absorb_next(p, prev);
        i = prev;
    }
    list_insert(p, i);
}

/* ---- the interface ------------------------------------------------------------ */

carve_status carve__pool_create(uint64_t capacity, uint64_t unit,
                                carve__pool **out)
{
    carve__pool *p;
    uint64_t units, max_blocks;
    if (out == NULL || unit < 16 || (unit & (unit - 1)) != 0 || capacity == 0 ||
        capacity % unit != 0)
        return CARVE_ERROR_INVALID_ARGUMENT;
    units = capacity / unit;
    max_blocks = units + 4; /* every unit a block, index 0, two spares */
    if (max_blocks >> CHUNK_BITS >= UINT32_MAX)
        return CARVE_ERROR_INVALID_ARGUMENT;
    p = calloc(1, sizeof *p);
    if (p == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    p->capacity = capacity;
    p->unit = unit;
    p->unit_shift = log2_u64(unit);
    p->chunk_slots = (uint32_t)((max_blocks + CHUNK_SIZE - 1) >> CHUNK_BITS);
    p->leaf_slots = (units + LEAF_SIZE - 1) >> LEAF_BITS;
    p->chunks = calloc(p->chunk_slots, sizeof *p->chunks);
    p->leaves = calloc((size_t)p->leaf_slots, sizeof *p->leaves);
    p->stats.capacity = capacity;
    if (p->chunks == NULL || p->leaves == NULL || !reserve_descriptors(p, 1)) {
        carve__pool_destroy(p);
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    }
    p->first = take_descriptor(p);
    blk(p, p->first)->size = capacity;
    list_insert(p, p->first);
    *out = p;
    return CARVE_SUCCESS;
}

void carve__pool_destroy(carve__pool *p)
{
    uint64_t i;
    if (p == NULL)
        return;
    for (i = 0; p->chunks != NULL && i < p->chunk_slots; ++i)
        free(p->chunks[i]);
    for (i = 0; p->leaves != NULL && i < p->leaf_slots; ++i)
        free(p->leaves[i]);
    free(p->chunks);
    free(p->leaves);
    free(p);
}

/* A free block for `units` units at `align`, or NONE: first the classes
 * that guarantee a fit, then the head of the request's own class. */
static uint32_t find_fit(const carve__pool *p, uint64_t need)
{
    unsigned fl, sl;
    uint32_t i;
    class_for_request(need, &fl, &sl);
    i = find_free(p, fl, sl);
    if (i != NONE)
        return i;
    class_of(need, &fl, &sl);
    i = p->heads[fl][sl];
    return i != NONE && blk(p, i)->size >> p->unit_shift >= need ? i : NONE;
}

carve_status carve__pool_alloc(carve__pool *p, uint64_t bytes, uint64_t align,
                               uint64_t *offset)
{
    uint64_t units, need, pad;
    uint32_t i;
    pool_block *b;
    if (p == NULL || offset == NULL || bytes == 0 || align == 0 ||
        (align & (align - 1)) != 0)
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (align < p->unit)
        align = p->unit;
    if (bytes > p->capacity || align > p->capacity) {
        p->stats.failed_count += 1;
        return CL_MEM_OBJECT_ALLOCATION_FAILURE;
    }
    units = (bytes + p->unit - 1) >> p->unit_shift;
    need = units + (align >> p->unit_shift) - 1;
    i = find_fit(p, need);
    if (i == NONE) {
        p->stats.failed_count += 1;
        return CL_MEM_OBJECT_ALLOCATION_FAILURE;
    }
    b = blk(p, i);
    pad = (align - (b->offset & (align - 1))) & (align - 1);
    if (!reserve_descriptors(p, 2) || !reserve_leaf(p, b->offset + pad))
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    list_remove(p, i);
    if (pad != 0) { /* the padding stays free; its left neighbour is live */
        uint32_t j = split(p, i, pad);
        list_insert(p, i);
        i = j;
        b = blk(p, i);
    }
    if (b->size > units << p->unit_shift)
        list_insert(p, split(p, i, units << p->unit_shift));
    b->requested = bytes;
    b->user = NULL;
    *leaf_entry(p, b->offset) = i;
    p->stats.in_use += b->size;
    p->stats.requested += bytes;
    p->stats.live_blocks += 1;
    p->stats.alloc_count += 1;
    if (p->stats.in_use > p->stats.peak_in_use)
        p->stats.peak_in_use = p->stats.in_use;
    *offset = b->offset;
    return CARVE_SUCCESS;
}

/* The descriptor of the live block at `offset`, or NONE. */
static uint32_t live_at(const carve__pool *p, uint64_t offset)
{
    uint32_t *entry;
    if (p == NULL || offset >= p->capacity || (offset & (p->unit - 1)) != 0)
        return NONE;
    entry = leaf_entry(p, offset);
    return entry != NULL ? *entry : NONE;
}

carve_status carve__pool_free(carve__pool *p, uint64_t offset)
{
    uint32_t i = live_at(p, offset);
    pool_block *b;
    if (i == NONE)
        return CARVE_ERROR_INVALID_ARGUMENT;
    b = blk(p, i);
    *leaf_entry(p, offset) = NONE;
    p->stats.in_use -= b->size;
    p->stats.requested -= b->requested;
    p->stats.live_blocks -= 1;
    p->stats.free_count += 1;
    b->user = NULL;
    b->requested = 0;
    give_back(p, i);
    return CARVE_SUCCESS;
}

carve_status carve__pool_resize(carve__pool *p, uint64_t offset, uint64_t bytes)
{
    uint32_t i = live_at(p, offset), next;
    pool_block *b;
    uint64_t size, old_size;
    if (i == NONE || bytes == 0)
        return CARVE_ERROR_INVALID_ARGUMENT;
    b = blk(p, i);
    if (bytes > p->capacity)
        return CL_MEM_OBJECT_ALLOCATION_FAILURE;
    size = ((bytes + p->unit - 1) >> p->unit_shift) << p->unit_shift;
    old_size = b->size;
    if (size < b->size) {
        if (!reserve_descriptors(p, 1))
            return CARVE_ERROR_OUT_OF_HOST_MEMORY;
        give_back(p, split(p, i, size));
    } else if (size > b->size) {
        next = b->next_phys;
        if (next == NONE || !blk(p, next)->is_free ||
            b->size + blk(p, next)->size < size)
            return CL_MEM_OBJECT_ALLOCATION_FAILURE;
        if (!reserve_descriptors(p, 1))
            return CARVE_ERROR_OUT_OF_HOST_MEMORY;
        list_remove(p, next);
        absorb_next(p, i);
        if (b->size > size)
            list_insert(p, split(p, i, size));
    }
    p->stats.in_use = p->stats.in_use - old_size + b->size;
    p->stats.requested = p->stats.requested - b->requested + bytes;
    b->requested = bytes;
    if (p->stats.in_use > p->stats.peak_in_use)
        p->stats.peak_in_use = p->stats.in_use;
    return CARVE_SUCCESS;
}

int carve__pool_find(const carve__pool *p, uint64_t offset, uint64_t *size,
                     uint64_t *requested, void ***user)
{
    uint32_t i = live_at(p, offset);
    if (i == NONE)
        return 0;
    if (size != NULL)
        *size = blk(p, i)->size;
    if (requested != NULL)
        *requested = blk(p, i)->requested;
    if (user != NULL)
        *user = &blk(p, i)->user;
    return 1;
}

void carve__pool_walk(const carve__pool *p,
                      void (*visit)(uint64_t, uint64_t, uint64_t, void *,
                                    void *),
                      void *context)
{
    uint32_t i;
    for (i = p->first; i != NONE; i = blk(p, i)->next_phys) {
        const pool_block *b = blk(p, i);
        if (!b->is_free)
            visit(b->offset, b->size, b->requested, b->user, context);
    }
}

int carve__pool_find_holding(const carve__pool *p, uint64_t offset,
                             uint64_t *start)
{
    uint32_t i;
    for (i = p->first; i != NONE; i = blk(p, i)->next_phys) {
        const pool_block *b = blk(p, i);
        if (offset < b->offset)
            break; /* blocks lie in address order */
        if (!b->is_free && offset - b->offset < b->size) {
            *start = b->offset;
            return 1;
        }
    }
    return 0;
}

void carve__pool_get_stats(const carve__pool *p, carve__pool_stats *out)
{
    uint32_t i;
    unsigned fl, sl;
    *out = p->stats;
    out->largest_free = 0;
    if (p->fl_bitmap == 0)
        return;
    /* Only the top non-empty class can hold the largest block. */
    fl = log2_u64(p->fl_bitmap);
    sl = 31u - (unsigned)__builtin_clz(p->sl_bitmap[fl]);
    for (i = p->heads[fl][sl]; i != NONE; i = blk(p, i)->next_free)
        if (blk(p, i)->size > out->largest_free)
            out->largest_free = blk(p, i)->size;
}

/* ---- invariants ---------------------------------------------------------------- */

static const char *check_lists(const carve__pool *p, uint64_t free_blocks)
{
    unsigned fl, sl, cfl, csl;
    uint64_t listed = 0;
    uint32_t i, prev;
    for (fl = 0; fl < FL_COUNT; ++fl) {
        if (((p->fl_bitmap >> fl) & 1u) != (p->sl_bitmap[fl] != 0))
            return "first-level bitmap disagrees with second level";
        for (sl = 0; sl < SL_COUNT; ++sl) {
            if (((p->sl_bitmap[fl] >> sl) & 1u) != (p->heads[fl][sl] != NONE))
                return "second-level bitmap disagrees with a list head";
            prev = NONE;
            for (i = p->heads[fl][sl]; i != NONE; i = blk(p, i)->next_free) {
                if (++listed > free_blocks)
                    return "free lists hold more blocks than the range";
                if (!blk(p, i)->is_free || blk(p, i)->prev_free != prev)
                    return "free list links broken";
                class_of(blk(p, i)->size >> p->unit_shift, &cfl, &csl);
                if (cfl != fl || csl != sl)
                    return "free block on the wrong list";
                prev = i;
            }
        }
    }
    return listed == free_blocks ? NULL : "a free block is on no list";
}

const char *carve__pool_check(const carve__pool *p)
{
    uint64_t at = 0, in_use = 0, requested = 0, live = 0, free_blocks = 0;
    uint64_t leaf, u, mapped = 0;
    uint32_t i, prev = NONE;
    for (i = p->first; i != NONE; i = blk(p, i)->next_phys) {
        const pool_block *b = blk(p, i);
        if (b->offset != at || b->size == 0 || (b->size & (p->unit - 1)) ||
            b->prev_phys != prev)
            return "blocks do not tile the range";
        if (b->is_free) {
            if (prev != NONE && blk(p, prev)->is_free)
                return "two free blocks touch";
            ++free_blocks;
        } else {
            uint32_t *entry = leaf_entry(p, b->offset);
            if (entry == NULL || *entry != i)
                return "a live block is missing from the page table";
            in_use += b->size;
            requested += b->requested;
            ++live;
        }
        at += b->size;
        prev = i;
    }
    if (at != p->capacity)
        return "blocks do not cover the range";
    for (leaf = 0; leaf < p->leaf_slots; ++leaf)
        for (u = 0; p->leaves[leaf] != NULL && u < LEAF_SIZE; ++u)
            mapped += p->leaves[leaf][u] != NONE;
    if (mapped != live)
        return "the page table maps blocks that are not live";
    if (in_use != p->stats.in_use || requested != p->stats.requested ||
        live != p->stats.live_blocks || free_blocks != p->stats.free_blocks ||
        p->stats.alloc_count - p->stats.free_count != live ||
        p->stats.peak_in_use < in_use)
        return "statistics disagree with the blocks";
    return check_lists(p, free_blocks);
}
