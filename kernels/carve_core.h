/*
 * carve_core.h - the per-work-item arena allocator, shared by host and device.
 *
 * This one file is compiled as OpenCL C 1.2 into kernels and as C99 into the
 * host library, so every line the device runs is also unit-tested, fuzzed and
 * run under sanitizers on the host, and the host inspects arenas after a
 * kernel with exactly the code that built them.
 *
 * Scheme
 * ------
 * An arena is `granules` granules of 16 bytes. Blocks are whole granules,
 * handed out from the bottom by a bump pointer (`bump`); everything at or
 * above `bump` is untouched "wilderness". Live blocks carry no header: two
 * bitmaps outside the arena mark the first granule (start bit) and the last
 * granule (end bit) of every live block, so a 16-byte request costs exactly
 * 16 bytes of arena plus 2 bits of metadata. Free blocks below `bump` carry
 * their own header (size, next, prev) and a footer (~size) inside their
 * payload, and sit in segregated doubly-linked free lists (TLSF-style size
 * classes: exact for 1-4 granules, then four classes per power of two),
 * with a bitmap of non-empty classes.
 *
 * - malloc: take the first non-empty class that guarantees a fit (bitmap
 *   search over at most 4 words), split off the remainder; otherwise bump.
 * - free: clear the two bits, merge with a free neighbour on either side
 *   (found through the bitmaps and the neighbour's footer), and either
 *   return the result to the wilderness (if it touches `bump`) or push it on
 *   its class list.
 * Both are O(1) in the number of live blocks. Finding a live block's size
 * reads the end bitmap from the block's start: one 32-bit word per 32
 * granules (512 bytes) of block, so free/realloc of a block of B bytes read
 * ceil(B / 512) + 1 words at most, independently of everything else.
 *
 * Fragmentation (worst case)
 * - Internal: a request is rounded up to whole granules, so at most 15
 *   bytes per block are lost. An alignment A > 16 may need up to A - 16
 *   bytes of padding, which becomes a free block, not a loss.
 * - External: free blocks are merged with free neighbours and with the
 *   wilderness at once, so no two free blocks ever touch. A request of n
 *   granules succeeds when the wilderness holds n (plus padding), when a
 *   free block of a class above n's exists, or when the first block of n's
 *   own class holds n; it can fail with free space left only if every free
 *   block that would fit is in n's class (at most 25% larger than n) and not
 *   first in its list: TLSF's "good fit" trade for O(1). Beyond that the
 *   bound is the one no non-moving allocator escapes: live and free blocks
 *   of one granule alternating leave half the arena free and every 32-byte
 *   request failing.
 *
 * Invariants (checked by carve_core_check after every operation in tests)
 * I1 bump <= granules; no bitmap bit is set at or above bump.
 * I2 [0, bump) is tiled by blocks: each is live (start and end bit, nothing
 *    set between) or free (no bits set, valid header and footer).
 * I3 no free block touches another free block or the wilderness.
 * I4 each free block is on the list of its class, lists are consistently
 *    doubly linked, and a class bit is set exactly when its list is not empty.
 * I5 the statistics agree with the walk (live blocks, live granules).
 *
 * Robustness: every offset read from arena memory (free-block links and
 * sizes, which a buggy kernel can overwrite after a free) is range-checked
 * before it is used; if a check fails the arena is marked corrupt and then
 * refuses all requests, so no write ever leaves the arena.
 */
#ifndef CARVE_CORE_H
#define CARVE_CORE_H

#include "carve_abi.h"
#include "carve_port.h"

#define CARVE_NO_CLASS 0xffffffffu
/* Options the arena's fast paths (carve_alloc.h) serve: runs change only
 * the core, and a heap fallback only what happens after the arena could
 * not serve a request, which the fast paths hand to the slow ones. */
#define CARVE_OPTION_FAST_PATH (CARVE_OPTION_RUNS | CARVE_OPTION_HEAP_FALLBACK)

/* A view of the shared heap (carve_heap.h), from the set's header: built
 * once when an arena is opened and kept in its handle, so that heap calls
 * do not re-derive it. */
typedef struct carve_heap {
    CARVE_GLOBAL carve_u8 *pages;
    CARVE_GLOBAL carve_u32 *meta; /* page entries: state, bitmap */
    CARVE_GLOBAL carve_u32 *used; /* map_words words */
    CARVE_GLOBAL carve_u32 *room; /* class_count x map_words words */
    carve_u32 page_count;
    carve_u32 page_bytes;
    carve_u32 page_shift;    /* log2(page_bytes) */
    carve_u32 granule_shift; /* log2(granules per page) */
    carve_u32 meta_words; /* words per page entry */
    carve_u32 map_words;
    carve_u32 class_count;
    carve_u32 offset; /* of the first page, from the buffer's base */
} carve_heap;

CARVE_INLINE carve_heap carve_heap_view(CARVE_GLOBAL carve_u8 *base)
{
    CARVE_GLOBAL carve_set_header *h = (CARVE_GLOBAL carve_set_header *)base;
    carve_heap hp;
    hp.page_count = h->heap_pages;
    hp.page_bytes = h->heap_page_bytes;
    hp.page_shift = 31u - CARVE_CLZ32(h->heap_page_bytes | 1u);
    hp.granule_shift = hp.page_shift - CARVE_GRANULE_SHIFT;
    hp.meta_words = h->heap_meta_stride >> 2;
    hp.map_words = h->heap_map_words;
    hp.class_count = h->heap_class_count;
    hp.offset = h->heap_offset;
    hp.pages = base + h->heap_offset;
    hp.meta = (CARVE_GLOBAL carve_u32 *)(base + h->heap_meta_offset);
    hp.used = (CARVE_GLOBAL carve_u32 *)(base + h->heap_map_offset);
    hp.room = hp.used + hp.map_words;
    return hp;
}

/* A work-item's handle on its arena. Lives in private memory. */
typedef struct carve_arena {
    CARVE_GLOBAL carve_u8 *base; /* the carved buffer */
    CARVE_GLOBAL carve_arena_state *state; /* 0 when the open was refused */
    CARVE_GLOBAL carve_u32 *class_bits;
    CARVE_GLOBAL carve_u32 *heads; /* per class: first free granule + 1, 0 = empty */
    CARVE_GLOBAL carve_u32 *run_heads; /* per run class: a run with a free
                                          slot (granule + 1), 0 = none */
    CARVE_GLOBAL carve_u32 *start_bits;
    CARVE_GLOBAL carve_u32 *end_bits;
    CARVE_GLOBAL carve_u8 *payload;
    carve_u32 granules;
    carve_u32 class_count;
    carve_u32 class_words;
    carve_u32 bitmap_words;
    carve_u32 index;
    carve_u32 run_classes; /* run classes this arena's size allows */
    carve_u32 run_bytes;   /* requests this small go to runs; 0: none do */
    carve_u32 granted;     /* usable bytes of the block the latest
                              successful request got */
    /* Read once from the header at open, for the fast paths: */
    carve_u32 options;     /* CARVE_OPTION_* */
    carve_u32 large_bytes; /* requests this large go to the heap; with no
                              heap, 0xffffffff */
    carve_u32 heap_begin;  /* the heap's offsets from the base, [begin, end);
                              0, 0 when there is none */
    carve_u32 heap_end;
    /* Where this work-item last reserved a heap slot (page + 1, or 0) and
     * the state it left that page in (carve_heap.h's cursor). */
    carve_u32 heap_page;
    carve_u32 heap_seen;
    carve_u32 heap_next; /* the slot after the one it took last */
    carve_heap heap; /* the heap's view; zero when there is none */
} carve_arena;

/* ---- size classes ------------------------------------------------------ */

/* The class whose range holds a block of n >= 1 granules. */
CARVE_HOT carve_u32 carve_core_class_of(carve_u32 n)
{
    carve_u32 fl;
    if (n < 4u)
        return n - 1u;
    fl = 31u - CARVE_CLZ32(n);
    return 3u + ((fl - 2u) << 2) + ((n >> (fl - 2u)) & 3u);
}

/* The smallest block size (granules) of class c. */
CARVE_INLINE carve_u32 carve_core_class_min(carve_u32 c)
{
    carve_u32 fl, sl;
    if (c < 3u)
        return c + 1u;
    fl = ((c - 3u) >> 2) + 2u;
    sl = (c - 3u) & 3u;
    return (4u + sl) << (fl - 2u);
}

/* Number of classes an arena of `granules` granules needs. */
CARVE_INLINE carve_u32 carve_core_class_count(carve_u32 granules)
{
    return carve_core_class_of(granules) + 1u;
}

/* ---- run classes ----------------------------------------------------------
 *
 * A request of at most 256 bytes is served from a run: a live block of the
 * arena that holds up to 32 slots of one size class, 16, 24, 32, ..., 256
 * bytes, after a one-granule header. Slots are aligned to 16 bytes when
 * their size is a multiple of 16, to 8 otherwise: enough for any object of
 * that size (an object's size is a multiple of its alignment). The header
 * holds [tag, free mask, next + 1, prev + 1]: the tag is
 * CARVE_RUN_TAG << 24 | class << 16 | slots << 8 | slots ever handed out,
 * the mask has a bit set for each free slot, and the links chain the runs
 * of a class that have a free slot, from run_heads[class].
 *
 * In the bitmaps a run is its start bit and an end bit on every one of its
 * granules. A plain live block has no end bit before its last granule, so
 * a granule with an end bit, no start bit and an end bit on the granule
 * before it lies in a run's slots, and a one-granule block followed by such
 * a granule is a run's header: three bit tests tell them apart. To every
 * other part of the arena a run is a live block.
 *
 * A run takes at most an eighth of the arena (32 slots, fewer in a small
 * arena; an arena too small for 4 slots of a class serves that class from
 * granules), so what runs can hold back is bounded. A run whose last slot
 * is freed goes back to the arena, except the run at the head of its
 * class's list, which stays for the next request (so that an alloc/free
 * pair does not build and tear down a run each time); a request the arena
 * cannot serve first gives those back.
 */
#define CARVE_RUN_TAG 0x52u /* 'R' */
#define CARVE_RUN_MAX_CLASSES 31u
#define CARVE_RUN_MAX_SLOTS 32u
#define CARVE_RUN_MAX_BYTES 256u
/* Granules of the largest run: a header and 32 slots of 256 bytes. */
#define CARVE_RUN_MAX_GRANULES \
    (1u + CARVE_RUN_MAX_SLOTS * CARVE_RUN_MAX_BYTES / CARVE_GRANULE)

/* The run class of a request of 1 to 256 bytes. */
CARVE_HOT carve_u32 carve_core_run_class(carve_u32 bytes)
{
    return bytes <= 16u ? 0u : ((bytes + 7u) >> 3) - 2u;
}

/* Bytes of a slot of run class c. */
CARVE_HOT carve_u32 carve_core_run_size(carve_u32 c)
{
    return (c + 2u) << 3;
}

/* Run classes an arena of `granules` granules has with `options`: none
 * without CARVE_OPTION_RUNS, else those whose 4 slots fit an eighth of
 * it. */
CARVE_INLINE carve_u32 carve_core_run_classes(carve_u32 granules,
                                              carve_u32 options)
{
    carve_u32 n = granules >> 4;
    if (n < 2u || !(options & CARVE_OPTION_RUNS))
        return 0u;
    return n - 1u < CARVE_RUN_MAX_CLASSES ? n - 1u : CARVE_RUN_MAX_CLASSES;
}

/* Slots of a run of class c in an arena of `granules` granules. */
CARVE_INLINE carve_u32 carve_core_run_slots(carve_u32 granules, carve_u32 c)
{
    carve_u32 n = (granules << 1) / carve_core_run_size(c);
    return n < CARVE_RUN_MAX_SLOTS ? n : CARVE_RUN_MAX_SLOTS;
}

/* Granules of a run of class c with `slots` slots, header included. */
CARVE_INLINE carve_u32 carve_core_run_granules(carve_u32 c, carve_u32 slots)
{
    return 1u + ((slots * carve_core_run_size(c) + CARVE_GRANULE - 1u) >>
                 CARVE_GRANULE_SHIFT);
}

/* The free mask of an empty run of `slots` slots. */
CARVE_HOT carve_u32 carve_core_run_full(carve_u32 slots)
{
    return slots >= 32u ? 0xffffffffu : (1u << slots) - 1u;
}

/* ceil(2^16 / k) for k = sz / 8: slot = (offset / 8 * recip[k]) >> 16 is
 * exact for offsets below 8 KiB, the largest run's slots (the error stays
 * under 1/64, less than the 1/k a wrong floor needs). A division per free
 * is what this saves: tens of cycles on CPUs and GPUs alike. */
CARVE_CONSTANT carve_u32 carve_core_run_recip[33] = {
    0u,     0u,     32768u, 21846u, 16384u, 13108u, 10923u, 9363u, 8192u,
    7282u,  6554u,  5958u,  5462u,  5042u,  4682u,  4370u,  4096u, 3856u,
    3641u,  3450u,  3277u,  3121u,  2979u,  2850u,  2731u,  2622u, 2521u,
    2428u,  2341u,  2260u,  2185u,  2115u,  2048u};

/* Bytes of one state-table entry for an arena of `granules` granules,
 * rounded to 16. (Rounding to a cache line would double the metadata of
 * small arenas; neighbouring work-items mostly run on one thread of a CPU
 * device anyway, and on GPUs a tight stride coalesces better.) */
CARVE_INLINE carve_u32 carve_core_state_stride(carve_u32 granules,
                                               carve_u32 options)
{
    carve_u32 classes = carve_core_class_count(granules);
    carve_u32 words = CARVE_STATE_FIXED_WORDS + ((classes + 31u) >> 5) +
                      classes + carve_core_run_classes(granules, options) +
                      2u * ((granules + 31u) >> 5);
    return ((words * 4u) + 15u) & ~15u;
}

/* ---- bitmaps ----------------------------------------------------------- */

CARVE_HOT carve_u32 carve_core_bit(CARVE_GLOBAL const carve_u32 *bits,
                                      carve_u32 i)
{
    return (bits[i >> 5] >> (i & 31u)) & 1u;
}

CARVE_HOT void carve_core_set_bit(CARVE_GLOBAL carve_u32 *bits, carve_u32 i)
{
    bits[i >> 5] |= 1u << (i & 31u);
}

CARVE_HOT void carve_core_clear_bit(CARVE_GLOBAL carve_u32 *bits,
                                       carve_u32 i)
{
    bits[i >> 5] &= ~(1u << (i & 31u));
}

/* First set bit at index >= from and < limit, or CARVE_NO_CLASS. Reads
 * (limit - from) / 32 + 1 words at most. */
CARVE_HOT carve_u32 carve_core_next_bit(CARVE_GLOBAL const carve_u32 *bits,
                                           carve_u32 from, carve_u32 limit)
{
    carve_u32 w = from >> 5;
    carve_u32 last = (limit + 31u) >> 5;
    carve_u32 v, i;
    if (from >= limit)
        return CARVE_NO_CLASS;
    v = bits[w] & (0xffffffffu << (from & 31u));
    while (v == 0u) {
        if (++w >= last)
            return CARVE_NO_CLASS;
        v = bits[w];
    }
    i = (w << 5) + CARVE_CTZ32(v);
    return i < limit ? i : CARVE_NO_CLASS;
}

/* Last set bit at index <= from and >= floor, or CARVE_NO_CLASS. Reads
 * (from - floor) / 32 + 1 words at most. */
CARVE_HOT carve_u32 carve_core_prev_bit(CARVE_GLOBAL const carve_u32 *bits,
                                           carve_u32 from, carve_u32 floor)
{
    carve_u32 w = from >> 5, stop = floor >> 5, v, i;
    v = bits[w] & (0xffffffffu >> (31u - (from & 31u)));
    while (v == 0u) {
        if (w == stop)
            return CARVE_NO_CLASS;
        v = bits[--w];
    }
    i = (w << 5) + 31u - CARVE_CLZ32(v);
    return i >= floor ? i : CARVE_NO_CLASS;
}

/* ---- opening an arena -------------------------------------------------- */

/* A handle on arena `index` of the set at `base`, with no side effect; the
 * handle is unbound (state == 0) if the header or index is bad. */
CARVE_INLINE carve_arena carve_core_view(CARVE_GLOBAL carve_u8 *base,
                                         carve_u32 index)
{
    CARVE_GLOBAL carve_set_header *h = (CARVE_GLOBAL carve_set_header *)base;
    CARVE_GLOBAL carve_u32 *entry;
    carve_heap no_heap = {0};
    carve_arena a;
    a.base = base;
    a.state = 0;
    a.class_bits = 0;
    a.heads = 0;
    a.run_heads = 0;
    a.start_bits = 0;
    a.end_bits = 0;
    a.payload = 0;
    a.granules = 0u;
    a.class_count = 0u;
    a.class_words = 0u;
    a.bitmap_words = 0u;
    a.index = index;
    a.run_classes = 0u;
    a.run_bytes = 0u;
    a.granted = 0u;
    a.options = 0u;
    a.large_bytes = 0xffffffffu;
    a.heap_begin = 0u;
    a.heap_end = 0u;
    a.heap_page = 0u;
    a.heap_seen = 0u;
    a.heap_next = 0u;
    a.heap = no_heap;
    if (base == 0 || h->magic != CARVE_SET_MAGIC ||
        h->version != CARVE_SET_VERSION || index >= h->arena_count)
        return a;
    entry = (CARVE_GLOBAL carve_u32 *)(base + h->state_offset +
                                       (carve_u64)index * h->state_stride);
    a.state = (CARVE_GLOBAL carve_arena_state *)entry;
    a.granules = h->arena_granules;
    a.class_count = h->class_count;
    a.class_words = h->class_words;
    a.bitmap_words = h->bitmap_words;
    a.options = h->options;
    if (h->heap_pages != 0u) {
        a.large_bytes = h->large_bytes != 0u ? h->large_bytes : 0xffffffffu;
        a.heap_begin = h->heap_offset;
        a.heap_end = h->heap_offset + h->heap_pages * h->heap_page_bytes;
        a.heap = carve_heap_view(base);
    }
    a.class_bits = entry + CARVE_STATE_FIXED_WORDS;
    a.start_bits = a.class_bits + a.class_words;
    a.end_bits = a.start_bits + a.bitmap_words;
    a.run_classes = carve_core_run_classes(a.granules, a.options);
    a.run_heads = a.end_bits + a.bitmap_words;
    a.heads = a.run_heads + a.run_classes;
    a.payload = base + h->arenas_offset + (carve_u64)index * h->arena_stride;
    /* Slots are aligned from the payload's address: with a payload below
     * 16-byte alignment (a device that aligns buffers less) they would not
     * be, so every request is served from granules, which align from the
     * address. */
    if (a.run_classes != 0u && ((carve_uptr)a.payload & 15u) == 0u)
        a.run_bytes = carve_core_run_size(a.run_classes - 1u);
    return a;
}

/* The device's open: a view that also marks the arena opened. `index` is
 * launch-wide: a slice of a split launch holds the arenas from its
 * header's first_arena on (an index below wraps past the count: the
 * header keeps first_arena + count within 32 bits). A
 * refused open (an index outside the set) is counted in the header, so
 * the host sees it; every request on such a handle returns NULL. */
CARVE_INLINE carve_arena carve_core_open(CARVE_GLOBAL carve_u8 *base,
                                         carve_u32 index)
{
    CARVE_GLOBAL carve_set_header *h = (CARVE_GLOBAL carve_set_header *)base;
    carve_arena a = carve_core_view(
        base, base != 0 ? index - h->first_arena : index);
    if (a.state != 0)
        a.state->flags |= CARVE_ARENA_OPENED;
    else if (base != 0 && h->magic == CARVE_SET_MAGIC)
        CARVE_ATOMIC_INC(&h->open_failures);
    return a;
}

CARVE_INLINE void carve_core_close(carve_arena *a)
{
    if (a->state != 0)
        a->state->flags |= CARVE_ARENA_CLOSED;
}

/* The first end bit at or after granule g < bump: the last granule of the
 * block that starts at g. Most blocks end in the word they start in, so
 * one load and a count of trailing zeros find it. A result at or above
 * bump (CARVE_NO_CLASS included) means the bitmaps are damaged. */
CARVE_HOT carve_u32 carve_core_end_at(const carve_arena *a, carve_u32 g,
                                         carve_u32 bump)
{
    carve_u32 ends = a->end_bits[g >> 5] >> (g & 31u);
    return ends != 0u ? g + CARVE_CTZ32(ends)
                      : carve_core_next_bit(a->end_bits, g, bump);
}

/* ---- free blocks: header [size, next+1, prev+1], footer ~size ----------- */

CARVE_HOT CARVE_GLOBAL carve_u32 *carve_core_words(const carve_arena *a,
                                                      carve_u32 g)
{
    return (CARVE_GLOBAL carve_u32 *)(a->payload +
                                      ((carve_u64)g << CARVE_GRANULE_SHIFT));
}

CARVE_INLINE void carve_core_mark_corrupt(const carve_arena *a)
{
    a->state->flags |= CARVE_ARENA_CORRUPT;
    a->state->misuse_count += 1u;
    a->state->last_misuse = CARVE_MISUSE_CORRUPT;
}

/* Size of the free block at g if its header and footer are sane and it lies
 * below bump; 0 otherwise. */
CARVE_HOT carve_u32 carve_core_free_size(const carve_arena *a, carve_u32 g)
{
    CARVE_GLOBAL carve_u32 *w;
    carve_u32 n;
    if (g >= a->state->bump)
        return 0u;
    w = carve_core_words(a, g);
    n = w[0];
    if (n == 0u || n > a->state->bump - g)
        return 0u;
    if (carve_core_words(a, g + n - 1u)[3] != ~n)
        return 0u;
    return n;
}

/* A link word is a granule index + 1, or 0; valid ones point below bump. */
CARVE_HOT int carve_core_link_ok(const carve_arena *a, carve_u32 link)
{
    return link <= a->state->bump;
}

CARVE_HOT void carve_core_push_free(const carve_arena *a, carve_u32 g,
                                       carve_u32 n)
{
    carve_u32 c = carve_core_class_of(n);
    carve_u32 head = a->heads[c];
    CARVE_GLOBAL carve_u32 *w = carve_core_words(a, g);
    w[0] = n;
    w[1] = head;
    w[2] = 0u;
    carve_core_words(a, g + n - 1u)[3] = ~n;
    if (head != 0u)
        carve_core_words(a, head - 1u)[2] = g + 1u;
    a->heads[c] = g + 1u;
    carve_core_set_bit(a->class_bits, c);
}

/* Takes the element at g off the doubly-linked list whose first element
 * (+ 1) is *head; its next link is word `at` of its first granule, its prev
 * link word at + 1 (free blocks and runs keep them in different words).
 * Returns 0 and marks the arena corrupt if its links are out of range. */
CARVE_HOT int carve_core_list_remove(const carve_arena *a,
                                        CARVE_GLOBAL carve_u32 *head,
                                        carve_u32 g, carve_u32 at)
{
    CARVE_GLOBAL carve_u32 *w = carve_core_words(a, g);
    carve_u32 next = w[at], prev = w[at + 1u];
    if (!carve_core_link_ok(a, next) || !carve_core_link_ok(a, prev) ||
        (prev == 0u && *head != g + 1u)) {
        carve_core_mark_corrupt(a);
        return 0;
    }
    if (prev != 0u)
        carve_core_words(a, prev - 1u)[at] = next;
    else
        *head = next;
    if (next != 0u)
        carve_core_words(a, next - 1u)[at + 1u] = prev;
    return 1;
}

/* Takes the free block at g (of size n) off its list. Returns 0 and marks
 * the arena corrupt if its links are out of range. */
CARVE_HOT int carve_core_unlink(const carve_arena *a, carve_u32 g,
                                   carve_u32 n)
{
    carve_u32 c = carve_core_class_of(n);
    if (!carve_core_list_remove(a, &a->heads[c], g, 1u))
        return 0;
    if (a->heads[c] == 0u)
        carve_core_clear_bit(a->class_bits, c);
    return 1;
}

/* Returns the free range [g, g + n) to the arena: merges it with free
 * neighbours, then gives it to the wilderness or to a free list. */
CARVE_HOT void carve_core_release_range(const carve_arena *a, carve_u32 g,
                                           carve_u32 n)
{
    carve_u32 hi = g + n;
    if (hi < a->state->bump && !carve_core_bit(a->start_bits, hi)) {
        carve_u32 rn = carve_core_free_size(a, hi);
        if (rn == 0u || !carve_core_unlink(a, hi, rn)) {
            carve_core_mark_corrupt(a);
            return;
        }
        hi += rn;
    }
    if (g > 0u && !carve_core_bit(a->end_bits, g - 1u)) {
        carve_u32 ln = ~carve_core_words(a, g - 1u)[3];
        if (ln == 0u || ln > g || carve_core_free_size(a, g - ln) != ln ||
            !carve_core_unlink(a, g - ln, ln)) {
            carve_core_mark_corrupt(a);
            return;
        }
        g -= ln;
    }
    if (hi == a->state->bump)
        a->state->bump = g;
    else
        carve_core_push_free(a, g, hi - g);
}

/* ---- requests ---------------------------------------------------------- */

CARVE_INLINE CARVE_GLOBAL void *carve_core_fail(const carve_arena *a,
                                                carve_u32 reason,
                                                carve_u64 bytes)
{
    if (a->state == 0)
        return 0;
    a->state->failed_count += 1u;
    a->state->last_failure = reason;
    if (bytes > 0xffffffffu)
        bytes = 0xffffffffu;
    if ((carve_u32)bytes > a->state->largest_failed)
        a->state->largest_failed = (carve_u32)bytes;
    return 0;
}

CARVE_INLINE int carve_core_refuse(const carve_arena *a, carve_u32 why)
{
    a->state->misuse_count += 1u;
    a->state->last_misuse = why;
    return 0;
}

/* Marks the arena corrupt; returns 0. Out of line: only damage pays. */
CARVE_COLD carve_u32 carve_core_corrupt_found(const carve_arena *a)
{
    carve_core_mark_corrupt(a);
    return 0u;
}

/* Marks [g, g + n) live in the bitmaps. */
CARVE_HOT void carve_core_mark_live(const carve_arena *a, carve_u32 g,
                                       carve_u32 n)
{
    carve_core_set_bit(a->start_bits, g);
    carve_core_set_bit(a->end_bits, g + n - 1u);
}

/* Moves bump up to `to`, keeping its high-water mark. */
CARVE_HOT void carve_core_raise_bump(const carve_arena *a, carve_u32 to)
{
    CARVE_GLOBAL carve_arena_state *s = a->state;
    s->bump = to;
    if (to > s->bump_peak)
        s->bump_peak = to;
}

/* Granules a block of `bytes` usable bytes counts in live_granules. */
CARVE_HOT carve_u32 carve_core_counted(carve_u32 bytes)
{
    return (bytes + CARVE_GRANULE - 1u) >> CARVE_GRANULE_SHIFT;
}

/* Counts a block of `bytes` usable bytes handed out. */
CARVE_HOT void carve_core_count_alloc(carve_arena *a, carve_u32 bytes)
{
    CARVE_GLOBAL carve_arena_state *s = a->state;
    s->live_blocks += 1u;
    s->alloc_count += 1u;
    s->live_granules += carve_core_counted(bytes);
    if (s->live_granules > s->live_peak)
        s->live_peak = s->live_granules;
    a->granted = bytes;
}

/* Granules to skip from g so that the block starts at an address aligned to
 * `ag` granules. From the address, not the offset: correct even where the
 * device aligns buffers to less than the requested alignment. */
CARVE_HOT carve_u32 carve_core_align_pad(const carve_arena *a, carve_u32 g,
                                            carve_u32 ag)
{
    carve_u32 first = (carve_u32)((carve_uptr)a->payload >> CARVE_GRANULE_SHIFT);
    return (0u - first - g) & (ag - 1u);
}

/* Carves n granules aligned to `ag` granules out of the free block [g, g+m),
 * already unlinked; the slack before and after goes back to the lists.
 * Returns the first granule of the part marked live. */
CARVE_HOT carve_u32 carve_core_take(const carve_arena *a, carve_u32 g,
                                       carve_u32 m, carve_u32 n,
                                       carve_u32 ag)
{
    carve_u32 pad = carve_core_align_pad(a, g, ag);
    carve_u32 rest = m - pad - n;
    /* Neighbours of a free block are live, so slack needs no merging. */
    if (pad != 0u)
        carve_core_push_free(a, g, pad);
    if (rest != 0u)
        carve_core_push_free(a, g + pad + n, rest);
    carve_core_mark_live(a, g + pad, n);
    return g + pad;
}

/* Granules needed for `bytes`, or 0 when it cannot fit any arena. */
CARVE_HOT carve_u32 carve_core_granules_for(carve_u64 bytes)
{
    carve_u64 n = (bytes + (CARVE_GRANULE - 1u)) >> CARVE_GRANULE_SHIFT;
    if (bytes > (carve_u64)CARVE_MAX_ARENA_GRANULES * CARVE_GRANULE)
        return 0u;
    return (carve_u32)n;
}

/* n granules aligned to `ag` granules, from the free lists or else from the
 * wilderness, marked live (not yet counted as a block): returns the first
 * granule + 1, or 0 with *why (OUT_OF_MEMORY, or CORRUPT after marking the
 * arena). */
CARVE_HOT carve_u32 carve_core_granules_take(const carve_arena *a,
                                                carve_u32 n, carve_u32 ag,
                                                carve_u32 *why)
{
    carve_u32 need = n + ag - 1u, c, g, m, w;
    *why = CARVE_FAIL_CORRUPT;
    c = need <= a->granules ? carve_core_class_of(need) : a->class_count;
    /* One word of the class bitmap tells whether a free block may fit:
     * mostly none does, and the request goes to the wilderness. */
    w = c >> 5;
    if (c < a->class_count &&
        ((a->class_bits[w] & (0xffffffffu << (c & 31u))) != 0u ||
         w + 1u < a->class_words)) {
        /* The class holding `need` may have a block that fits; look at
         * its head first, then at the classes where every block fits. */
        if (a->heads[c] != 0u) {
            g = a->heads[c] - 1u;
            m = carve_core_free_size(a, g);
            if (m == 0u)
                return carve_core_corrupt_found(a);
            if (m >= need) {
                if (!carve_core_unlink(a, g, m))
                    return 0u;
                return carve_core_take(a, g, m, n, ag) + 1u;
            }
        }
        /* Every block of a higher class fits (a non-empty class c whose
         * head did not fit cannot be exact, so searching from c + 1 loses
         * nothing). */
        c = carve_core_next_bit(a->class_bits, c + 1u, a->class_count);
        if (c != CARVE_NO_CLASS) {
            g = a->heads[c] - 1u;
            m = carve_core_free_size(a, g);
            if (m < need || !carve_core_unlink(a, g, m))
                return carve_core_corrupt_found(a);
            return carve_core_take(a, g, m, n, ag) + 1u;
        }
    }
    *why = CARVE_FAIL_OUT_OF_MEMORY;
    g = a->state->bump;
    m = carve_core_align_pad(a, g, ag);
    if (n > a->granules - g || m > a->granules - g - n)
        return 0u;
    carve_core_raise_bump(a, g + m + n);
    if (m != 0u)
        carve_core_push_free(a, g, m);
    *why = CARVE_FAIL_NONE;
    carve_core_mark_live(a, g + m, n);
    return g + m + 1u;
}

/* ---- runs ------------------------------------------------------------------ */

/* A block found from a pointer: a plain block of n granules at g, or slot
 * `slot` of the run whose header is at g (n == 0). */
typedef struct carve_core_block {
    carve_u32 g;
    carve_u32 n;
    carve_u32 slot;
    carve_u32 bytes; /* usable bytes */
} carve_core_block;

CARVE_HOT carve_u32 carve_core_run_tag(carve_u32 c, carve_u32 slots,
                                          carve_u32 used)
{
    return (CARVE_RUN_TAG << 24) | (c << 16) | (slots << 8) | used;
}

/* Slots of the run whose tag this is; 0 when the tag is not a run's. */
CARVE_HOT carve_u32 carve_core_run_tag_slots(carve_u32 tag, carve_u32 c)
{
    carve_u32 slots = (tag >> 8) & 0xffu;
    if ((tag >> 16) != ((CARVE_RUN_TAG << 8) | c) || slots - 1u >= 32u ||
        (tag & 0xffu) > slots)
        return 0u;
    return slots;
}

/* Sets or clears bits [from, from + count) of a bitmap, a word at a time:
 * a run of 256-byte slots spans 513 granules. */
CARVE_INLINE void carve_core_set_bits(CARVE_GLOBAL carve_u32 *bits,
                                      carve_u32 from, carve_u32 count, int on)
{
    carve_u32 end = from + count, w, lo, hi, mask;
    while (from < end) {
        w = from >> 5;
        lo = from & 31u;
        hi = (end - (w << 5)) < 32u ? end - (w << 5) : 32u;
        mask = (hi == 32u ? 0xffffffffu : (1u << hi) - 1u) &
               (0xffffffffu << lo);
        if (on)
            bits[w] |= mask;
        else
            bits[w] &= ~mask;
        from = (w + 1u) << 5;
    }
}

/* Puts the run at s on the head of class c's list. */
CARVE_HOT void carve_core_run_push(const carve_arena *a, carve_u32 s,
                                      carve_u32 c)
{
    carve_u32 head = a->run_heads[c];
    CARVE_GLOBAL carve_u32 *w = carve_core_words(a, s);
    w[2] = head;
    w[3] = 0u;
    if (head != 0u)
        carve_core_words(a, head - 1u)[3] = s + 1u;
    a->run_heads[c] = s + 1u;
}

/* Takes the run at s off class c's list; 0 (the arena marked corrupt) if
 * its links are out of range. */
CARVE_HOT int carve_core_run_unlink(const carve_arena *a, carve_u32 s,
                                       carve_u32 c)
{
    CARVE_GLOBAL carve_u32 *w = carve_core_words(a, s);
    if (!carve_core_list_remove(a, &a->run_heads[c], s, 2u))
        return 0;
    w[2] = 0u;
    w[3] = 0u;
    return 1;
}

/* Gives the run [s, s + n), already off its list, back to the arena. */
CARVE_INLINE void carve_core_run_release(const carve_arena *a, carve_u32 s,
                                         carve_u32 n)
{
    carve_core_clear_bit(a->start_bits, s);
    carve_core_set_bits(a->end_bits, s, n, 0);
    carve_core_release_range(a, s, n);
}

/* The next free slot of the run at s (class c, slot size sz): the lowest,
 * so that the slots ever handed out are always the first `used`. */
CARVE_HOT CARVE_GLOBAL void *carve_core_run_take(carve_arena *a,
                                                    carve_u32 s, carve_u32 c,
                                                    carve_u32 sz,
                                                    carve_u32 *why)
{
    CARVE_GLOBAL carve_arena_state *st = a->state;
    CARVE_GLOBAL carve_u32 *w;
    carve_u32 tag, mask, rest, i;
    *why = CARVE_FAIL_CORRUPT;
    if (s >= st->bump) {
        carve_core_corrupt_found(a);
        return 0;
    }
    w = carve_core_words(a, s);
    tag = w[0];
    mask = w[1];
    i = CARVE_CTZ32(mask);
    /* A damaged header could send the slot anywhere: it must be one of
     * the run's slots and lie below bump. */
    if (mask == 0u || i >= carve_core_run_tag_slots(tag, c) ||
        s + 1u + (((i + 1u) * sz + CARVE_GRANULE - 1u) >> CARVE_GRANULE_SHIFT) >
            st->bump) {
        carve_core_corrupt_found(a);
        return 0;
    }
    rest = mask & (mask - 1u);
    w[1] = rest;
    if (i >= (tag & 0xffu))
        w[0] = (tag & ~0xffu) | (i + 1u);
    if (rest == 0u && !carve_core_run_unlink(a, s, c))
        return 0;
    carve_core_count_alloc(a, sz);
    *why = CARVE_FAIL_NONE;
    return (CARVE_GLOBAL void *)(a->payload +
                                 ((carve_u64)(s + 1u) << CARVE_GRANULE_SHIFT) +
                                 i * sz);
}

/* A new run of class c, put on its list, and its first slot; 0 with *why
 * when the arena has no room for it. */
CARVE_COLD CARVE_GLOBAL void *carve_core_run_start(carve_arena *a,
                                                     carve_u32 c, carve_u32 sz,
                                                     carve_u32 *why)
{
    carve_u32 slots = carve_core_run_slots(a->granules, c);
    carve_u32 n = carve_core_run_granules(c, slots), s;
    CARVE_GLOBAL carve_u32 *w;
    s = carve_core_granules_take(a, n, 1u, why);
    if (s == 0u)
        return 0;
    s -= 1u;
    carve_core_set_bits(a->end_bits, s, n - 1u, 1);
    w = carve_core_words(a, s);
    w[0] = carve_core_run_tag(c, slots, 0u);
    w[1] = carve_core_run_full(slots);
    carve_core_run_push(a, s, c);
    return carve_core_run_take(a, s, c, sz, why);
}

/* Gives back the empty runs that wait at the heads of their lists (the only
 * empty runs there are); returns whether there was one. */
CARVE_COLD int carve_core_run_reclaim(const carve_arena *a)
{
    carve_u32 c, s, slots, found = 0u;
    CARVE_GLOBAL carve_u32 *w;
    for (c = 0u; c < a->run_classes; ++c) {
        if (a->run_heads[c] == 0u)
            continue;
        s = a->run_heads[c] - 1u;
        if (s >= a->state->bump)
            return (int)carve_core_corrupt_found(a);
        w = carve_core_words(a, s);
        slots = carve_core_run_tag_slots(w[0], c);
        if (slots == 0u)
            return (int)carve_core_corrupt_found(a);
        if (w[1] != carve_core_run_full(slots))
            continue;
        if (!carve_core_run_unlink(a, s, c))
            return 0;
        carve_core_run_release(a, s, carve_core_run_granules(c, slots));
        found = 1u;
    }
    return (int)found;
}

/* A full run regains a slot: it goes back on its list, at the head, and an
 * empty run that was the head goes back to the arena (only a head may wait
 * empty). */
CARVE_COLD void carve_core_run_back(const carve_arena *a, carve_u32 s,
                                      carve_u32 c)
{
    carve_u32 head = a->run_heads[c], slots;
    CARVE_GLOBAL carve_u32 *w;
    if (head != 0u) {
        if (head > a->state->bump) {
            carve_core_mark_corrupt(a);
            return;
        }
        w = carve_core_words(a, head - 1u);
        slots = carve_core_run_tag_slots(w[0], c);
        if (slots == 0u) {
            carve_core_mark_corrupt(a);
            return;
        }
        if (w[1] == carve_core_run_full(slots)) {
            if (!carve_core_run_unlink(a, head - 1u, c))
                return;
            carve_core_run_release(a, head - 1u,
                                   carve_core_run_granules(c, slots));
        }
    }
    carve_core_run_push(a, s, c);
}

/* An empty run that is not the head of its list goes back to the arena. */
CARVE_COLD void carve_core_run_retire(const carve_arena *a, carve_u32 s,
                                        carve_u32 c, carve_u32 slots)
{
    if (carve_core_run_unlink(a, s, c))
        carve_core_run_release(a, s, carve_core_run_granules(c, slots));
}

/* Frees slot b->slot of the run at b->g (found by carve_core_find). */
CARVE_HOT void carve_core_run_give(const carve_arena *a,
                                      const carve_core_block *b)
{
    CARVE_GLOBAL carve_arena_state *st = a->state;
    CARVE_GLOBAL carve_u32 *w = carve_core_words(a, b->g);
    carve_u32 tag = w[0], mask = w[1], c = (tag >> 16) & 0xffu;
    carve_u32 now = mask | (1u << b->slot);
    w[1] = now;
    st->live_granules -= carve_core_counted(b->bytes);
    st->live_blocks -= 1u;
    st->free_count += 1u;
    if (mask == 0u)
        carve_core_run_back(a, b->g, c);
    else if (now == carve_core_run_full((tag >> 8) & 0xffu) &&
             a->run_heads[c] != b->g + 1u)
        carve_core_run_retire(a, b->g, c, (tag >> 8) & 0xffu);
}

/* ---- requests, continued ------------------------------------------------------ */

/* Allocates `bytes` aligned to `align` but counts no failure: returns
 * 0 with *why set (CARVE_FAIL_NONE for a 0-byte request, which is counted
 * in zero_requests), so a caller with somewhere else to look (the shared
 * heap) decides whether the request failed. On success a->granted holds
 * the block's usable bytes. */
CARVE_HOT CARVE_GLOBAL void *carve_core_try_malloc(carve_arena *a,
                                                      carve_u64 bytes,
                                                      carve_u32 align,
                                                      carve_u32 *why)
{
    carve_u32 n, ag, c, sz, head, g;
    CARVE_GLOBAL carve_arena_state *s = a->state;
    CARVE_GLOBAL void *p;
    *why = CARVE_FAIL_NONE;
    if (s == 0) {
        *why = CARVE_FAIL_NO_ARENA;
        return 0;
    }
    *why = CARVE_FAIL_CORRUPT;
    if (s->flags & CARVE_ARENA_CORRUPT)
        return 0;
    if (bytes == 0u) {
        s->zero_requests += 1u;
        *why = CARVE_FAIL_NONE;
        return 0;
    }
    *why = CARVE_FAIL_BAD_ALIGNMENT;
    if (align == 0u || (align & (align - 1u)) != 0u || align > CARVE_MAX_ALIGN)
        return 0;
    if (bytes <= a->run_bytes) {
        c = carve_core_run_class((carve_u32)bytes);
        sz = carve_core_run_size(c);
        /* An 8-byte-aligned class serves 16-byte alignment from the next
         * class up; more than 16 comes from granules. */
        if (align > CARVE_GRANULE - (sz & 8u)) {
            c += 1u;
            sz += 8u;
        }
        if (align <= CARVE_GRANULE && c < a->run_classes) {
            head = a->run_heads[c];
            p = head != 0u ? carve_core_run_take(a, head - 1u, c, sz, why)
                           : carve_core_run_start(a, c, sz, why);
            /* With no room for a new run, the request itself may still
             * fit in granules. */
            if (p != 0 || *why == CARVE_FAIL_CORRUPT)
                return p;
        }
    }
    *why = CARVE_FAIL_TOO_LARGE;
    n = carve_core_granules_for(bytes);
    if (n == 0u || n > a->granules)
        return 0;
    ag = align > CARVE_GRANULE ? align >> CARVE_GRANULE_SHIFT : 1u;
    g = carve_core_granules_take(a, n, ag, why);
    if (g == 0u && *why == CARVE_FAIL_OUT_OF_MEMORY &&
        carve_core_run_reclaim(a))
        g = carve_core_granules_take(a, n, ag, why);
    if (g == 0u)
        return 0;
    carve_core_count_alloc(a, n << CARVE_GRANULE_SHIFT);
    return (CARVE_GLOBAL void *)carve_core_words(a, g - 1u);
}

/* Whether granule g (not a block start) lies inside a live block: the next
 * end bit at or after g then comes before any start bit. Free blocks carry
 * no bits, so inside one the next start bit comes first. Only the refusal
 * path pays for this scan. */
CARVE_INLINE int carve_core_inside_live(const carve_arena *a, carve_u32 g)
{
    carve_u32 e = carve_core_next_bit(a->end_bits, g, a->state->bump);
    return e != CARVE_NO_CLASS &&
           carve_core_next_bit(a->start_bits, g, e + 1u) == CARVE_NO_CLASS;
}

/* Where a pointer lies in the carved buffer. */
#define CARVE_ZONE_OTHER 0u /* header, tables, logs, padding, or outside */
#define CARVE_ZONE_ARENA 1u /* an arena's payload; *arena says whose */
#define CARVE_ZONE_HEAP 2u  /* the shared heap's pages */

CARVE_INLINE carve_u32 carve_core_zone(const carve_arena *a,
                                       CARVE_GLOBAL const void *p,
                                       carve_u32 *arena)
{
    CARVE_GLOBAL const carve_set_header *h =
        (CARVE_GLOBAL const carve_set_header *)a->base;
    /* An address below the base wraps around to a huge offset. */
    carve_uptr off = (carve_uptr)p - (carve_uptr)a->base;
    carve_u32 rel;
    if (off >= h->total_bytes)
        return CARVE_ZONE_OTHER;
    if (h->heap_pages != 0u && off >= h->heap_offset &&
        off - h->heap_offset < (carve_u64)h->heap_pages * h->heap_page_bytes)
        return CARVE_ZONE_HEAP;
    if (off < h->arenas_offset ||
        off - h->arenas_offset >= (carve_u64)h->arena_count * h->arena_stride)
        return CARVE_ZONE_OTHER;
    rel = (carve_u32)(off - h->arenas_offset);
    if (rel % h->arena_stride >= (h->arena_granules << CARVE_GRANULE_SHIFT))
        return CARVE_ZONE_OTHER;
    *arena = rel / h->arena_stride;
    return CARVE_ZONE_ARENA;
}

/* Why granule g of this arena (inside it, but no live block starts at p)
 * was refused. Only the refusal path pays for these scans. */
CARVE_INLINE carve_u32 carve_core_misuse_kind(const carve_arena *a,
                                              carve_u32 g, int aligned)
{
    CARVE_GLOBAL carve_arena_state *s = a->state;
    if (g < s->bump && ((!aligned && carve_core_bit(a->start_bits, g)) ||
                        carve_core_inside_live(a, g)))
        return CARVE_MISUSE_INTERIOR;
    /* Below the high-water mark, memory not in a live block was handed out
     * and given back: the pointer is stale, or its block freed already. */
    return g < s->bump_peak ? CARVE_MISUSE_FREED : CARVE_MISUSE_NOT_LIVE;
}

/* Records why p, which starts no live block of this arena, is refused;
 * returns 0. Out of line (as is corrupt_found): misuse alone pays for
 * these scans, and the fast path keeps its registers. */
CARVE_COLD carve_u32 carve_core_refuse_pointer(const carve_arena *a,
                                                 CARVE_GLOBAL void *p)
{
    carve_uptr off = (carve_uptr)p - (carve_uptr)a->payload;
    carve_u32 owner = 0u;
    if (off >= ((carve_uptr)a->granules << CARVE_GRANULE_SHIFT))
        return carve_core_refuse(
            a, carve_core_zone(a, p, &owner) == CARVE_ZONE_ARENA
                   ? CARVE_MISUSE_OTHER_ARENA
                   : CARVE_MISUSE_FOREIGN);
    return carve_core_refuse(
        a, carve_core_misuse_kind(a, (carve_u32)(off >> CARVE_GRANULE_SHIFT),
                                  (off & (CARVE_GRANULE - 1u)) == 0u));
}

/* Records a refusal of a known kind; returns 0. */
CARVE_COLD carve_u32 carve_core_refuse_as(const carve_arena *a,
                                            carve_u32 why)
{
    return (carve_u32)carve_core_refuse(a, why);
}

/* Why `rel` bytes into the slots of a run (slot size sz) is not a live
 * slot's start: past the slots or a slot never handed out, a free slot, or
 * inside a live one. */
CARVE_COLD carve_u32 carve_core_refuse_slot(const carve_arena *a,
                                              carve_u32 rel, carve_u32 sz,
                                              carve_u32 tag, carve_u32 mask)
{
    carve_u32 i = rel / sz;
    if (i >= ((tag >> 8) & 0xffu) || i >= (tag & 0xffu))
        return carve_core_refuse_as(a, CARVE_MISUSE_NOT_LIVE);
    if ((mask >> i) & 1u)
        return carve_core_refuse_as(a, CARVE_MISUSE_FREED);
    return carve_core_refuse_as(a, CARVE_MISUSE_INTERIOR);
}

/* Resolves p, which lies in granule g of a run's slots (g has an end bit,
 * no start bit, and an end bit before it), to its slot. */
CARVE_HOT carve_u32 carve_core_find_slot(const carve_arena *a, carve_u32 off,
                                            carve_u32 g, carve_core_block *b)
{
    carve_u32 s = carve_core_prev_bit(
        a->start_bits, g,
        g > CARVE_RUN_MAX_GRANULES ? g - CARVE_RUN_MAX_GRANULES : 0u);
    carve_u32 tag, c, sz, rel, i, mask, n;
    CARVE_GLOBAL carve_u32 *w;
    if (s == CARVE_NO_CLASS)
        return carve_core_corrupt_found(a);
    w = carve_core_words(a, s);
    tag = w[0];
    mask = w[1];
    c = (tag >> 16) & 0xffu;
    n = carve_core_run_tag_slots(tag, c);
    if (c >= a->run_classes || n == 0u)
        return carve_core_corrupt_found(a);
    /* The header's extent must be the run's in the bitmaps: the granule
     * after it starts a block or is free, so a header overwritten with
     * another class or count is found before it sizes a slot. */
    n = s + carve_core_run_granules(c, n);
    if (g >= n || n > a->state->bump ||
        (n < a->state->bump && carve_core_bit(a->end_bits, n) &&
         !carve_core_bit(a->start_bits, n)))
        return carve_core_corrupt_found(a);
    sz = carve_core_run_size(c);
    rel = off - ((s + 1u) << CARVE_GRANULE_SHIFT);
    i = ((rel >> 3) * carve_core_run_recip[c + 2u]) >> 16;
    if (i * sz != rel || i >= ((tag >> 8) & 0xffu) || ((mask >> i) & 1u))
        return carve_core_refuse_slot(a, rel, sz, tag, mask);
    b->g = s;
    b->n = 0u;
    b->slot = i;
    b->bytes = sz;
    return sz;
}

/* Resolves a pointer from free/realloc to the live block it starts: fills
 * *b and returns its usable bytes, or 0 after recording why the pointer
 * was refused. */
CARVE_HOT carve_u32 carve_core_find(const carve_arena *a,
                                       CARVE_GLOBAL void *p,
                                       carve_core_block *b)
{
    carve_uptr off = (carve_uptr)p - (carve_uptr)a->payload;
    carve_u32 g = (carve_u32)(off >> CARVE_GRANULE_SHIFT), e;
    carve_u32 bump = a->state->bump;
    /* An address below the payload wraps around to a huge offset. */
    if (off >= ((carve_uptr)a->granules << CARVE_GRANULE_SHIFT) || g >= bump)
        return carve_core_refuse_pointer(a, p);
    if (!carve_core_bit(a->start_bits, g)) {
        if (a->run_bytes != 0u && g != 0u && carve_core_bit(a->end_bits, g) &&
            carve_core_bit(a->end_bits, g - 1u))
            return carve_core_find_slot(a, (carve_u32)off, g, b);
        return carve_core_refuse_pointer(a, p);
    }
    if ((off & (CARVE_GRANULE - 1u)) != 0u)
        return carve_core_refuse_pointer(a, p);
    e = carve_core_end_at(a, g, bump);
    if (e >= bump)
        return carve_core_corrupt_found(a);
    /* A one-granule block followed by slots is a run's header, never
     * handed out. */
    if (e == g && a->run_bytes != 0u && g + 1u < bump &&
        carve_core_bit(a->end_bits, g + 1u) &&
        !carve_core_bit(a->start_bits, g + 1u))
        return carve_core_refuse_as(a, CARVE_MISUSE_NOT_LIVE);
    b->g = g;
    b->n = e - g + 1u;
    b->slot = 0u;
    b->bytes = b->n << CARVE_GRANULE_SHIFT;
    return b->bytes;
}

/* Ends the live block b and returns its memory to the arena. */
CARVE_HOT void carve_core_retire(const carve_arena *a,
                                    const carve_core_block *b)
{
    CARVE_GLOBAL carve_arena_state *s = a->state;
    if (b->n == 0u) {
        carve_core_run_give(a, b);
        return;
    }
    carve_core_clear_bit(a->start_bits, b->g);
    carve_core_clear_bit(a->end_bits, b->g + b->n - 1u);
    s->live_granules -= b->n;
    s->live_blocks -= 1u;
    s->free_count += 1u;
    carve_core_release_range(a, b->g, b->n);
}

/* Frees p; returns CARVE_MISUSE_NONE, or why p was refused (counted in the
 * statistics, except CORRUPT for an arena already known corrupt, which
 * ignores every free). */
CARVE_HOT carve_u32 carve_core_free(carve_arena *a, CARVE_GLOBAL void *p)
{
    carve_core_block b = {0u, 0u, 0u, 0u};
    if (p == 0 || a->state == 0)
        return CARVE_MISUSE_NONE;
    if (a->state->flags & CARVE_ARENA_CORRUPT)
        return CARVE_MISUSE_CORRUPT;
    if (carve_core_find(a, p, &b) == 0u)
        return a->state->last_misuse;
    carve_core_retire(a, &b);
    return CARVE_MISUSE_NONE;
}

/* The alignment carve_malloc asks for: 8, which a slot of a size that is
 * not a multiple of 16 gives and every other block exceeds. */
#define CARVE_DEFAULT_ALIGN 8u

/* Grows the live block [g, g + n) in place to m granules when the free block
 * or wilderness after it has room; returns 1 on success. */
CARVE_HOT int carve_core_grow_in_place(const carve_arena *a, carve_u32 g,
                                       carve_u32 n, carve_u32 m)
{
    CARVE_GLOBAL carve_arena_state *s = a->state;
    carve_u32 hi = g + n, fn;
    if (hi == s->bump) {
        if (m > a->granules - g)
            return 0;
        carve_core_raise_bump(a, g + m);
    } else {
        if (carve_core_bit(a->start_bits, hi))
            return 0;
        fn = carve_core_free_size(a, hi);
        if (fn == 0u) {
            carve_core_mark_corrupt(a);
            return 0;
        }
        if (n + fn < m || !carve_core_unlink(a, hi, fn))
            return 0;
        if (n + fn > m)
            carve_core_push_free(a, g + m, n + fn - m);
    }
    carve_core_clear_bit(a->end_bits, hi - 1u);
    carve_core_set_bit(a->end_bits, g + m - 1u);
    s->live_granules += m - n;
    if (s->live_granules > s->live_peak)
        s->live_peak = s->live_granules;
    return 1;
}

/* Makes the live block b hold `bytes` without moving it: a slot when they
 * fit it; a plain block by shrinking, or growing when free space follows.
 * On success a->granted holds the usable bytes. */
CARVE_HOT int carve_core_resize_in_place(carve_arena *a,
                                         const carve_core_block *b,
                                         carve_u64 bytes)
{
    carve_u32 m;
    if (b->n == 0u) {
        /* Only within the slot's granules: live_granules then stays what
         * the request alone makes it, and a block shrunk further moves to a
         * smaller class. */
        a->granted = b->bytes;
        return bytes <= b->bytes &&
               carve_core_granules_for(bytes) == carve_core_counted(b->bytes);
    }
    m = carve_core_granules_for(bytes);
    if (m == 0u || m > a->granules)
        return 0;
    a->granted = m << CARVE_GRANULE_SHIFT;
    if (m < b->n) {
        carve_core_clear_bit(a->end_bits, b->g + b->n - 1u);
        carve_core_set_bit(a->end_bits, b->g + m - 1u);
        a->state->live_granules -= b->n - m;
        carve_core_release_range(a, b->g + m, b->n - m);
        return 1;
    }
    return m == b->n || carve_core_grow_in_place(a, b->g, b->n, m);
}

/* Offset of p from the carved buffer's base: what to store in shared data
 * structures instead of a pointer. 0 for NULL (offset 0 is the header, never
 * a block). */
CARVE_INLINE carve_u32 carve_core_offset(const carve_arena *a,
                                         CARVE_GLOBAL const void *p)
{
    if (p == 0)
        return 0u;
    return (carve_u32)((carve_uptr)p - (carve_uptr)a->base);
}

CARVE_INLINE CARVE_GLOBAL void *carve_core_pointer(const carve_arena *a,
                                                   carve_u32 offset)
{
    if (offset == 0u)
        return 0;
    return (CARVE_GLOBAL void *)(a->base + offset);
}

/* Leaves the offset of p in the arena's root word, where the host finds the
 * kernel's result after the launch. */
CARVE_INLINE void carve_core_set_root(const carve_arena *a,
                                      CARVE_GLOBAL const void *p)
{
    if (a->state != 0)
        a->state->root = carve_core_offset(a, p);
}

/* ---- walking and checking (the host's post-mortem uses these) ---------- */

/* The CARVE_CHECK_* codes are in carve_abi.h. */

typedef struct carve_core_report {
    carve_u32 broken;  /* CARVE_CHECK_* of the first broken invariant */
    carve_u32 granule; /* where it broke (granule index), if it has a place */
    carve_u32 live_blocks;
    carve_u32 live_granules;
    carve_u32 free_blocks;
    carve_u32 free_granules;
    carve_u32 largest_free; /* granules, wilderness included */
} carve_core_report;

/* What carve_core_block_at found. */
#define CARVE_BLOCK_FREE 0
#define CARVE_BLOCK_LIVE 1
#define CARVE_BLOCK_RUN 2

/* Granules of the run whose header is at s (start and end bit at s, and
 * an end bit at s + 1 with no start bit), if its header and bits agree:
 * a tag of this arena's class sizes, a mask of its slots only with every
 * slot never handed out free, an end bit on each granule and no start bit
 * after the header. 0 otherwise. */
CARVE_INLINE carve_u32 carve_core_run_at(const carve_arena *a, carve_u32 s)
{
    CARVE_GLOBAL carve_u32 *w = carve_core_words(a, s);
    carve_u32 tag = w[0], mask = w[1], c = (tag >> 16) & 0xffu, slots, n;
    carve_u32 i, used = tag & 0xffu, full;
    if (c >= a->run_classes)
        return 0u;
    slots = carve_core_run_tag_slots(tag, c);
    if (slots == 0u || slots != carve_core_run_slots(a->granules, c))
        return 0u;
    n = carve_core_run_granules(c, slots);
    full = carve_core_run_full(slots);
    if (n > a->state->bump - s || (mask & ~full) != 0u ||
        (~mask & full & ~carve_core_run_full(used)) != 0u)
        return 0u;
    for (i = s; i < s + n; ++i)
        if (!carve_core_bit(a->end_bits, i))
            return 0u;
    if (carve_core_next_bit(a->start_bits, s + 1u, s + n) != CARVE_NO_CLASS)
        return 0u;
    return n;
}

/* Size in granules of the block starting at g < bump and what it is
 * (*kind: CARVE_BLOCK_*); 0 if no valid block starts there. Cost: one
 * bitmap word per 32 granules of the block. */
CARVE_INLINE carve_u32 carve_core_block_at(const carve_arena *a, carve_u32 g,
                                           int *kind)
{
    carve_u32 e, n;
    if (carve_core_bit(a->start_bits, g)) {
        *kind = CARVE_BLOCK_LIVE;
        e = carve_core_next_bit(a->end_bits, g, a->state->bump);
        if (e == CARVE_NO_CLASS)
            return 0u;
        if (e == g && g + 1u < a->state->bump &&
            carve_core_bit(a->end_bits, g + 1u) &&
            !carve_core_bit(a->start_bits, g + 1u)) {
            *kind = CARVE_BLOCK_RUN;
            return carve_core_run_at(a, g);
        }
        if (carve_core_next_bit(a->start_bits, g + 1u, e + 1u) != CARVE_NO_CLASS)
            return 0u;
        return e - g + 1u;
    }
    *kind = CARVE_BLOCK_FREE;
    n = carve_core_free_size(a, g);
    if (n == 0u ||
        carve_core_next_bit(a->start_bits, g, g + n) != CARVE_NO_CLASS ||
        carve_core_next_bit(a->end_bits, g, g + n) != CARVE_NO_CLASS)
        return 0u;
    return n;
}

/* Live slots of the run at s (checked by carve_core_run_at). */
CARVE_INLINE carve_u32 carve_core_run_live(const carve_arena *a, carve_u32 s)
{
    CARVE_GLOBAL carve_u32 *w = carve_core_words(a, s);
    return CARVE_POPCOUNT32(~w[1] &
                            carve_core_run_full((w[0] >> 8) & 0xffu));
}

/* Byte offset from the payload of the block b. */
CARVE_INLINE carve_u32 carve_core_block_offset(const carve_core_block *b)
{
    if (b->n != 0u)
        return b->g << CARVE_GRANULE_SHIFT;
    return ((b->g + 1u) << CARVE_GRANULE_SHIFT) + b->slot * b->bytes;
}

/* The walk of an arena's live blocks, plain blocks and runs' live slots in
 * address order: the one walker that the host's checks, reports and block
 * accessors share. */
typedef struct carve_core_walk {
    carve_u32 g;    /* the block or run being looked at */
    carve_u32 slot; /* in a run: the next slot to look at */
} carve_core_walk;

CARVE_INLINE carve_core_walk carve_core_walk_start(void)
{
    carve_core_walk w;
    w.g = 0u;
    w.slot = 0u;
    return w;
}

/* The next live block after the walk's position, in *b: 1, or 0 at the
 * end of the arena or where no valid block starts (carve_core_check, run
 * first, says what is wrong there). O(blocks + bump / 32) for a whole
 * walk. */
CARVE_INLINE int carve_core_walk_next(const carve_arena *a,
                                      carve_core_walk *w, carve_core_block *b)
{
    carve_u32 n, live, slots;
    CARVE_GLOBAL carve_u32 *words;
    int kind = 0;
    while (w->g < a->state->bump) {
        n = carve_core_block_at(a, w->g, &kind);
        if (n == 0u)
            return 0;
        if (kind == CARVE_BLOCK_LIVE) {
            b->g = w->g;
            b->n = n;
            b->slot = 0u;
            b->bytes = n << CARVE_GRANULE_SHIFT;
            w->g += n;
            return 1;
        }
        if (kind == CARVE_BLOCK_RUN) {
            words = carve_core_words(a, w->g);
            slots = (words[0] >> 8) & 0xffu;
            live = ~words[1] & carve_core_run_full(slots) &
                   ~carve_core_run_full(w->slot);
            if (live != 0u) {
                b->g = w->g;
                b->n = 0u;
                b->slot = CARVE_CTZ32(live);
                b->bytes = carve_core_run_size((words[0] >> 16) & 0xffu);
                w->slot = b->slot + 1u;
                return 1;
            }
        }
        w->g += n;
        w->slot = 0u;
    }
    return 0;
}

/* The live block (plain, or a run's live slot) that holds byte `off` of
 * the payload, in *b: 1, or 0 when no live block holds it. Reads the start
 * bitmap back from off: O(off / 512) words; for the host, not kernels. */
CARVE_INLINE int carve_core_block_holding(const carve_arena *a, carve_u32 off,
                                          carve_core_block *b)
{
    carve_u32 g = off >> CARVE_GRANULE_SHIFT, s, n, rel, i;
    CARVE_GLOBAL carve_u32 *words;
    int kind = 0;
    if (a->state->bump > a->granules || g >= a->state->bump)
        return 0;
    s = carve_core_prev_bit(a->start_bits, g, 0u);
    if (s == CARVE_NO_CLASS)
        return 0;
    n = carve_core_block_at(a, s, &kind);
    if (n == 0u || g >= s + n || kind == CARVE_BLOCK_FREE)
        return 0;
    b->g = s;
    if (kind == CARVE_BLOCK_LIVE) {
        b->n = n;
        b->slot = 0u;
        b->bytes = n << CARVE_GRANULE_SHIFT;
        return 1;
    }
    if (g == s)
        return 0; /* the run's header */
    words = carve_core_words(a, s);
    b->n = 0u;
    b->bytes = carve_core_run_size((words[0] >> 16) & 0xffu);
    rel = off - ((s + 1u) << CARVE_GRANULE_SHIFT);
    i = rel / b->bytes;
    b->slot = i;
    return i < (words[0] & 0xffu) && ((words[1] >> i) & 1u) == 0u;
}

/* Whether the run at s (checked) sits right on its class's list: listed
 * exactly when it has a free slot, linked both ways to runs of its class
 * that have one, and empty only at the head. */
CARVE_INLINE int carve_core_run_links_hold(const carve_arena *a, carve_u32 s)
{
    CARVE_GLOBAL carve_u32 *w = carve_core_words(a, s), *o;
    carve_u32 c = (w[0] >> 16) & 0xffu, i, link;
    carve_u32 full = carve_core_run_full((w[0] >> 8) & 0xffu);
    int at_head = a->run_heads[c] == s + 1u, kind = 0;
    if (w[1] == 0u)
        return !at_head && w[2] == 0u && w[3] == 0u;
    if (w[1] == full && !at_head)
        return 0;
    if (at_head != (w[3] == 0u))
        return 0;
    for (i = 2u; i < 4u; ++i) {
        link = w[i];
        if (link == 0u)
            continue;
        if (link > a->state->bump ||
            carve_core_block_at(a, link - 1u, &kind) == 0u ||
            kind != CARVE_BLOCK_RUN)
            return 0;
        o = carve_core_words(a, link - 1u);
        if (((o[0] >> 16) & 0xffu) != c || o[1] == 0u || o[5u - i] != s + 1u)
            return 0;
    }
    return 1;
}

/* Whether granule f (a link target) starts a free block of the tiling:
 * free blocks always follow a live block (or granule 0) by invariant I3. */
CARVE_INLINE int carve_core_is_free_start(const carve_arena *a, carve_u32 f)
{
    int kind = 0;
    if (f >= a->state->bump || carve_core_bit(a->start_bits, f))
        return 0;
    if (f > 0u && !carve_core_bit(a->end_bits, f - 1u))
        return 0;
    return carve_core_block_at(a, f, &kind) != 0u && kind == CARVE_BLOCK_FREE;
}

CARVE_INLINE carve_u32 carve_core_check_fail(carve_core_report *r,
                                             carve_u32 why, carve_u32 g)
{
    r->broken = why;
    r->granule = g;
    return why;
}

/* Checks the free block at g (size n) against its list neighbours. */
CARVE_INLINE int carve_core_links_hold(const carve_arena *a, carve_u32 g,
                                       carve_u32 n)
{
    CARVE_GLOBAL carve_u32 *w = carve_core_words(a, g);
    carve_u32 c = carve_core_class_of(n), next = w[1], prev = w[2];
    if (prev == 0u && a->heads[c] != g + 1u)
        return 0;
    if (prev != 0u &&
        (!carve_core_is_free_start(a, prev - 1u) ||
         carve_core_words(a, prev - 1u)[1] != g + 1u ||
         carve_core_class_of(carve_core_words(a, prev - 1u)[0]) != c))
        return 0;
    if (next != 0u &&
        (!carve_core_is_free_start(a, next - 1u) ||
         carve_core_words(a, next - 1u)[2] != g + 1u ||
         carve_core_class_of(carve_core_words(a, next - 1u)[0]) != c))
        return 0;
    return 1;
}

/* Free blocks reachable from the class heads, or CARVE_NO_CLASS if a list is
 * longer than `bound` (a cycle) or a class bit disagrees with its head. */
CARVE_INLINE carve_u32 carve_core_count_listed(const carve_arena *a,
                                               carve_u32 bound,
                                               carve_u32 *bad_class)
{
    carve_u32 c, link, total = 0u;
    for (c = 0u; c < a->class_count; ++c) {
        if ((a->heads[c] != 0u) != (carve_core_bit(a->class_bits, c) != 0u)) {
            *bad_class = c;
            return CARVE_NO_CLASS - 1u;
        }
        for (link = a->heads[c]; link != 0u;
             link = carve_core_words(a, link - 1u)[1]) {
            if (link > a->state->bump || ++total > bound)
                return CARVE_NO_CLASS;
        }
    }
    return total;
}

/* Verifies invariants I1-I5 of the arena; returns CARVE_CHECK_OK or the
 * first broken one (also in r->broken, with r->granule). Reads the whole
 * state entry and every free block's header: O(bump / 32 + blocks).
 * Writes nothing but *r. */
CARVE_INLINE carve_u32 carve_core_check(const carve_arena *a,
                                        carve_core_report *r)
{
    CARVE_GLOBAL carve_arena_state *s = a->state;
    carve_u32 g, n, listed, bad = 0u, c, link, runs_open = 0u, runs_listed = 0u;
    int kind = 0, prev_free = 0;
    r->broken = CARVE_CHECK_OK;
    r->granule = 0u;
    r->live_blocks = r->live_granules = 0u;
    r->free_blocks = r->free_granules = r->largest_free = 0u;
    if (s == 0)
        return carve_core_check_fail(r, CARVE_CHECK_NO_ARENA, 0u);
    if (s->flags & CARVE_ARENA_CORRUPT)
        return carve_core_check_fail(r, CARVE_CHECK_CORRUPT_FLAG, 0u);
    if (s->bump > a->granules)
        return carve_core_check_fail(r, CARVE_CHECK_BUMP, s->bump);
    g = carve_core_next_bit(a->start_bits, s->bump, a->bitmap_words << 5);
    if (g == CARVE_NO_CLASS)
        g = carve_core_next_bit(a->end_bits, s->bump, a->bitmap_words << 5);
    if (g != CARVE_NO_CLASS)
        return carve_core_check_fail(r, CARVE_CHECK_STALE_BITS, g);
    for (g = 0u; g < s->bump; g += n) {
        n = carve_core_block_at(a, g, &kind);
        if (n == 0u)
            return carve_core_check_fail(
                r, kind == CARVE_BLOCK_RUN ? CARVE_CHECK_RUN : CARVE_CHECK_TILING,
                g);
        if (kind == CARVE_BLOCK_RUN) {
            if (!carve_core_run_links_hold(a, g))
                return carve_core_check_fail(r, CARVE_CHECK_RUN_LIST, g);
            r->live_blocks += carve_core_run_live(a, g);
            r->live_granules += carve_core_run_live(a, g) *
                                carve_core_counted(carve_core_run_size(
                                    (carve_core_words(a, g)[0] >> 16) & 0xffu));
            if (carve_core_words(a, g)[1] != 0u)
                runs_open += 1u;
            prev_free = 0;
            continue;
        }
        if (kind == CARVE_BLOCK_LIVE) {
            r->live_blocks += 1u;
            r->live_granules += n;
            prev_free = 0;
            continue;
        }
        if (prev_free || g + n == s->bump)
            return carve_core_check_fail(r, CARVE_CHECK_FREE_NEIGHBOUR, g);
        if (!carve_core_links_hold(a, g, n))
            return carve_core_check_fail(r, CARVE_CHECK_FREE_LINKS, g);
        r->free_blocks += 1u;
        r->free_granules += n;
        if (n > r->largest_free)
            r->largest_free = n;
        prev_free = 1;
    }
    if (a->granules - s->bump > r->largest_free)
        r->largest_free = a->granules - s->bump;
    listed = carve_core_count_listed(a, r->free_blocks, &bad);
    if (listed == CARVE_NO_CLASS - 1u)
        return carve_core_check_fail(r, CARVE_CHECK_CLASS_BITS, bad);
    if (listed != r->free_blocks)
        return carve_core_check_fail(r, CARVE_CHECK_LIST_COUNT, 0u);
    /* Every listed run was checked in the walk; a list that reaches more
     * runs than have a free slot has a cycle or a stray link. */
    for (c = 0u; c < a->run_classes; ++c) {
        for (link = a->run_heads[c]; link != 0u;
             link = carve_core_words(a, link - 1u)[2]) {
            if (link > s->bump || ++runs_listed > runs_open ||
                carve_core_block_at(a, link - 1u, &kind) == 0u ||
                kind != CARVE_BLOCK_RUN ||
                ((carve_core_words(a, link - 1u)[0] >> 16) & 0xffu) != c)
                return carve_core_check_fail(r, CARVE_CHECK_RUN_LIST,
                                             link - 1u);
        }
    }
    if (runs_listed != runs_open)
        return carve_core_check_fail(r, CARVE_CHECK_RUN_LIST, 0u);
    if (r->live_blocks != s->live_blocks ||
        r->live_granules != s->live_granules ||
        s->live_blocks != s->alloc_count - s->free_count ||
        s->live_peak < s->live_granules || s->bump_peak < s->bump ||
        s->bump_peak > a->granules)
        return carve_core_check_fail(r, CARVE_CHECK_STATS, 0u);
    return CARVE_CHECK_OK;
}

#endif /* CARVE_CORE_H */
