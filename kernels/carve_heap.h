/*
 * carve_heap.h - the shared overflow heap of an arena set, shared by host and
 * device like carve_core.h.
 *
 * Any work-item allocates from it and frees to it, also blocks another
 * work-item allocated. It is lock-free with 32-bit atomics only, and every
 * retry loop is bounded (docs/design.md: a lock can hang forever on a CPU
 * device running a work-group's items one after another, or in a diverged
 * SIMD group); a request that keeps losing races gives up with
 * CARVE_FAIL_CONTENTION rather than wait.
 *
 * Scheme
 * ------
 * The heap is `pages` pages of `page_bytes` (a power of two, 2 KiB or more).
 * Every page has an entry outside the pages: a state word and a bitmap.
 * - state 0: the page is free.
 * - small page: (class + 1) << 24 | count. The page is cut into slots of one
 *   size class (16 B x 1, 2, 3, 4, 6, 8, 12, 16, 24 ... up to half a page);
 *   the bitmap has a bit per slot, and count is the number of slots
 *   reserved. Allocation reserves first (a compare-and-swap of the state
 *   that checks class and count together, so a page can never change class
 *   under a reservation), then claims a bit with atomic_or; free clears the
 *   bit with atomic_and (a bit already clear is a double free, refused) and
 *   then decrements the count. The free that takes the count to 0 tries to
 *   swap the state to 0, which fails harmlessly if a reservation came in
 *   between. Because bits are cleared before the count drops, a count of 0
 *   implies a clear bitmap, so a page is always clean when it is claimed.
 * - a block of k > 1/2 page: k whole pages; the first is LARGE | k, the
 *   others CONTINUED | distance to the first. Pages are claimed one by one
 *   with compare-and-swap from 0; a run that meets a taken page is given
 *   back. The first page's bitmap words hold the requested size, the
 *   allocation site and the owner arena.
 * Held reservations: a page's count is its live slots plus the reservations
 * work-items hold there without a block. A work-item that reserves on a
 * page takes up to carve_heap_hold_cap of them (16 slots and 1 KiB at
 * most, and no more than it allocated in the heap so far) with one
 * compare-and-swap and serves its next requests of that class from them
 * with one atomic_or each; a free that would drop the count keeps the
 * reservation instead when the work-item holds none or holds on that page
 * (up to the same bound). So a work-item that allocates and frees blocks of
 * one class pays two atomics a pair, not five. Reservations never set a
 * bit: a slot reserved but not handed out has a clear bit, so a stale free
 * of it is still refused as a double free. A work-item holds on one page
 * at a time, in two words of its state entry that only it writes
 * (heap_hold_page, heap_hold); while it holds any, the page can be neither
 * released nor given another class, so a free on it needs no load of the
 * page's state. They are given back when it needs another class, by
 * carve_arena_close (carve_heap_give_back), and by carve_set_reset. A
 * kernel that returns without closing leaves them held: the host's check
 * counts them (count = bits + holds), and no one else can use those slots
 * until a reset. What holds keep from others is bounded: a work-item holds
 * at most as many slots as it allocated in the heap, at most
 * CARVE_HEAP_HOLD_MAX, and at most 1 KiB of them; slots over 1 KiB are
 * never held.
 * Two kinds of hint bitmaps make searches cheap: `used` (a bit per page that
 * is not free) and one `room` bitmap per class (a bit per page of that class
 * with a free slot). Hints may be briefly stale in either direction, which
 * costs a failed compare-and-swap but never correctness: whoever changes a
 * page's state then re-synchronises its bits, re-reading the state after
 * each write, so when the heap is quiescent every hint is exact (the host
 * check verifies it).
 *
 * Costs: allocation reads one room word per 32 pages of the class until it
 * finds a page with room (then 1-2 compare-and-swaps and one atomic_or), or
 * one used word per 32 pages to find a free page; free is two atomics plus
 * hint upkeep when a page fills, empties or is released. A request that
 * fails reads every hint word once: O(pages / 32).
 *
 * Fragmentation (worst case): a small request gets a slot of the next class
 * up (at most 50% larger; 33% above 48 B); a page of class S holds
 * floor(page / S) slots, so up to S - 16 bytes at its end are unused; a
 * large request is rounded up to whole pages (under one page lost). Free
 * pages merge implicitly (a run is any k consecutive free pages) but a
 * large request can fail while enough free pages exist apart.
 *
 * Every heap word another work-item may write is accessed with atomics only,
 * so a race detector (Oclgrind) sees no plain access race in the allocator.
 */
#ifndef CARVE_HEAP_H
#define CARVE_HEAP_H

#include "carve_core.h"

#define CARVE_HEAP_MIN_PAGE 2048u
#define CARVE_HEAP_MAX_PAGE (1u << 20)
#define CARVE_HEAP_KIND_MASK 0xff000000u
#define CARVE_HEAP_COUNT_MASK 0x00ffffffu
#define CARVE_HEAP_LARGE 0xff000000u     /* first page of a large block */
#define CARVE_HEAP_CONTINUED 0xfe000000u /* a later page of a large block */
#define CARVE_HEAP_CLAIMED 0xfd000000u   /* being claimed or given back */
#define CARVE_HEAP_MAX_CLASSES 64u
/* Compare-and-swap attempts on one page word before moving on. */
#define CARVE_HEAP_TRIES 8u
/* Reservations a work-item may hold beyond its live blocks (the scheme):
 * at most 16 slots, and at most 64 granules (1 KiB) of them. */
#define CARVE_HEAP_HOLD_MAX 16u
#define CARVE_HEAP_HOLD_GRANULES 64u


/* ---- classes ------------------------------------------------------------- */

/* Slot size in granules of small class c: 1, 2, 3, 4, 6, 8, 12, 16, 24... */
CARVE_INLINE carve_u32 carve_heap_class_granules(carve_u32 c)
{
    carve_u32 k;
    if (c == 0u)
        return 1u;
    k = c - 1u;
    return ((k & 1u) ? 3u : 2u) << (k >> 1);
}

/* The smallest class whose slot holds n >= 1 granules. */
CARVE_INLINE carve_u32 carve_heap_class_for(carve_u32 n)
{
    carve_u32 f;
    if (n <= 2u)
        return n - 1u;
    f = 31u - CARVE_CLZ32(n - 1u);
    return n <= (3u << (f - 1u)) ? 2u * f : 2u * f + 1u;
}

/* Small classes of a heap with pages of `page_bytes`: slots up to half a
 * page. */
CARVE_INLINE carve_u32 carve_heap_class_count(carve_u32 page_bytes)
{
    carve_u32 most = (page_bytes >> CARVE_GRANULE_SHIFT) >> 1;
    carve_u32 c = carve_heap_class_for(most);
    return carve_heap_class_granules(c) > most ? c : c + 1u;
}

/* Words of one page entry: the state and a bit per 16-byte slot. */
CARVE_INLINE carve_u32 carve_heap_meta_words(carve_u32 page_bytes)
{
    return 1u + ((page_bytes >> CARVE_GRANULE_SHIFT) + 31u) / 32u;
}


CARVE_INLINE CARVE_GLOBAL carve_u32 *carve_heap_state(const carve_heap *hp,
                                                      carve_u32 page)
{
    return hp->meta + (carve_u64)page * hp->meta_words;
}

CARVE_INLINE carve_u32 carve_heap_load(CARVE_GLOBAL carve_u32 *word)
{
    return CARVE_ATOMIC_OR(word, 0u);
}

/* x / 3 for any 32-bit x, by a multiply: slot sizes of 3 x 2^e granules
 * would otherwise cost a division on every call. */
CARVE_INLINE carve_u32 carve_heap_div3(carve_u32 x)
{
    return (carve_u32)(((carve_u64)x * 0xaaaaaaabu) >> 33);
}

/* Which slot of class c granule g of a page falls in: g / granules(c). */
CARVE_INLINE carve_u32 carve_heap_slot_of(carve_u32 c, carve_u32 g)
{
    carve_u32 k = c - 1u;
    if (c == 0u)
        return g;
    return (k & 1u) ? carve_heap_div3(g >> (k >> 1)) : g >> ((k >> 1) + 1u);
}

/* Slots of class c in a page: the page's granules over the slot's. */
CARVE_INLINE carve_u32 carve_heap_slots(const carve_heap *hp, carve_u32 c)
{
    return carve_heap_slot_of(c, 1u << hp->granule_shift);
}

/* Whether a state is a small page of class c with a free slot. */
CARVE_INLINE int carve_heap_has_room(const carve_heap *hp, carve_u32 state,
                                     carve_u32 c)
{
    return (state & CARVE_HEAP_KIND_MASK) == ((c + 1u) << 24) &&
           (state & CARVE_HEAP_COUNT_MASK) < carve_heap_slots(hp, c);
}

/* What a page's state word says: the one decoding of page states that
 * resolving a pointer, the host's walk and the check all use. */
#define CARVE_HEAP_PAGE_FREE 0u
#define CARVE_HEAP_PAGE_SMALL 1u     /* slots of one class */
#define CARVE_HEAP_PAGE_LARGE 2u     /* the first page of a large block */
#define CARVE_HEAP_PAGE_CONTINUED 3u /* a later page of a large block */
#define CARVE_HEAP_PAGE_CLAIMED 4u   /* being claimed or given back */
#define CARVE_HEAP_PAGE_BAD 5u       /* a small class this heap lacks */

typedef struct carve_heap_page {
    carve_u32 kind;       /* CARVE_HEAP_PAGE_* */
    carve_u32 count;      /* small: slots reserved; large: its pages;
                             continued: pages back to the first */
    carve_u32 cls;        /* small: the class */
    carve_u32 slots;      /* small: slots the page holds */
    carve_u32 slot_bytes; /* small: bytes of a slot */
} carve_heap_page;

CARVE_INLINE carve_heap_page carve_heap_decode(const carve_heap *hp,
                                               carve_u32 state)
{
    carve_heap_page pg;
    carve_u32 kind = state & CARVE_HEAP_KIND_MASK;
    pg.count = state & CARVE_HEAP_COUNT_MASK;
    pg.cls = pg.slots = pg.slot_bytes = 0u;
    if (state == 0u) {
        pg.kind = CARVE_HEAP_PAGE_FREE;
    } else if (kind == CARVE_HEAP_LARGE) {
        pg.kind = CARVE_HEAP_PAGE_LARGE;
    } else if (kind == CARVE_HEAP_CONTINUED) {
        pg.kind = CARVE_HEAP_PAGE_CONTINUED;
    } else if (kind == CARVE_HEAP_CLAIMED) {
        pg.kind = CARVE_HEAP_PAGE_CLAIMED;
    } else if ((kind >> 24) - 1u >= hp->class_count) {
        pg.kind = CARVE_HEAP_PAGE_BAD;
    } else {
        pg.kind = CARVE_HEAP_PAGE_SMALL;
        pg.cls = (kind >> 24) - 1u;
        pg.slots = carve_heap_slots(hp, pg.cls);
        pg.slot_bytes = carve_heap_class_granules(pg.cls) << CARVE_GRANULE_SHIFT;
    }
    return pg;
}

/* Whether slot `slot` of a small page is live, from its bitmap (read
 * plainly: for a quiescent heap, or a slot the caller owns). */
CARVE_INLINE int carve_heap_slot_live(const carve_heap *hp, carve_u32 page,
                                      carve_u32 slot)
{
    return (carve_heap_state(hp, page)[1u + (slot >> 5)] >> (slot & 31u)) & 1u;
}

/* ---- hints --------------------------------------------------------------- */

/* Makes bit `page` of `map` say `want(state)`, re-reading the state after
 * each write so that a concurrent change is never lost (see the scheme). */
CARVE_INLINE void carve_heap_sync_used(const carve_heap *hp, carve_u32 page)
{
    CARVE_GLOBAL carve_u32 *state = carve_heap_state(hp, page);
    CARVE_GLOBAL carve_u32 *word = hp->used + (page >> 5);
    carve_u32 bit = 1u << (page & 31u), i, s = carve_heap_load(state);
    for (i = 0u; i < CARVE_HEAP_TRIES; ++i) {
        carve_u32 again;
        if (s != 0u)
            CARVE_ATOMIC_OR(word, bit);
        else
            CARVE_ATOMIC_AND(word, ~bit);
        again = carve_heap_load(state);
        if ((again != 0u) == (s != 0u))
            return;
        s = again;
    }
}

CARVE_INLINE void carve_heap_sync_room(const carve_heap *hp, carve_u32 page,
                                       carve_u32 c)
{
    CARVE_GLOBAL carve_u32 *state = carve_heap_state(hp, page);
    CARVE_GLOBAL carve_u32 *word =
        hp->room + (carve_u64)c * hp->map_words + (page >> 5);
    carve_u32 bit = 1u << (page & 31u), i;
    int room = carve_heap_has_room(hp, carve_heap_load(state), c);
    for (i = 0u; i < CARVE_HEAP_TRIES; ++i) {
        int again;
        if (room)
            CARVE_ATOMIC_OR(word, bit);
        else
            CARVE_ATOMIC_AND(word, ~bit);
        again = carve_heap_has_room(hp, carve_heap_load(state), c);
        if (again == room)
            return;
        room = again;
    }
}

/* ---- small blocks ---------------------------------------------------------- */

/* Reserves up to `want` >= 1 slots of class c on `page` (as many as it
 * has room for), claiming the page if it is free, starting from a guess of
 * its state (`seen`: a compare-and-swap that fails says what the state
 * was). Returns how many it reserved, with the state it left in *after, or
 * 0 if the page has no room for c. */
CARVE_INLINE carve_u32 carve_heap_reserve(const carve_heap *hp,
                                          carve_u32 page, carve_u32 c,
                                          carve_u32 seen, carve_u32 want,
                                          carve_u32 *after)
{
    CARVE_GLOBAL carve_u32 *state = carve_heap_state(hp, page);
    carve_u32 mine = (c + 1u) << 24, slots = carve_heap_slots(hp, c), i;
    for (i = 0u; i < CARVE_HEAP_TRIES; ++i) {
        carve_u32 next, old, room;
        if (seen == 0u)
            room = slots;
        else if (carve_heap_has_room(hp, seen, c))
            room = slots - (seen & CARVE_HEAP_COUNT_MASK);
        else
            return 0u;
        room = room < want ? room : want;
        next = (seen == 0u ? mine : seen) + room;
        old = CARVE_ATOMIC_CAS(state, seen, next);
        if (old == seen) {
            *after = next;
            return room;
        }
        seen = old;
    }
    return 0u;
}

/* Gives n reservations back: the count drops, and the page is released if
 * those were the last. */
CARVE_COLD void carve_heap_unreserve(const carve_heap *hp, carve_u32 page,
                                       carve_u32 c, carve_u32 n)
{
    CARVE_GLOBAL carve_u32 *state = carve_heap_state(hp, page);
    carve_u32 old = CARVE_ATOMIC_SUB(state, n);
    carve_u32 count = old & CARVE_HEAP_COUNT_MASK;
    if (count == n &&
        CARVE_ATOMIC_CAS(state, (c + 1u) << 24, 0u) == ((c + 1u) << 24)) {
        carve_heap_sync_room(hp, page, c);
        carve_heap_sync_used(hp, page);
    } else if (count == carve_heap_slots(hp, c)) {
        carve_heap_sync_room(hp, page, c); /* it was full, has room now */
    }
}

/* ---- held reservations (the scheme) ---------------------------------------- */

/* The most reservations of class c a work-item that allocated `allocs`
 * blocks in the heap may hold beyond its live blocks: min(allocs,
 * CARVE_HEAP_HOLD_MAX, CARVE_HEAP_HOLD_GRANULES / the slot's granules).
 * The last by shifts: slots are 2 or 3 x 2^e granules. */
CARVE_INLINE carve_u32 carve_heap_hold_cap(carve_u32 c, carve_u32 allocs)
{
    carve_u32 k = c - 1u;
    /* Constant divisors: a variable one is a division instruction. */
    carve_u32 fit = c == 0u ? CARVE_HEAP_HOLD_GRANULES
                            : ((k & 1u) ? CARVE_HEAP_HOLD_GRANULES / 3u
                                        : CARVE_HEAP_HOLD_GRANULES / 2u) >>
                                  (k >> 1);
    carve_u32 cap = allocs < fit ? allocs : fit;
    return cap < CARVE_HEAP_HOLD_MAX ? cap : CARVE_HEAP_HOLD_MAX;
}

/* Whether a work-item holding n reservations of slots of `bytes` (a
 * class's), having allocated `allocs` blocks in the heap, may hold one
 * more: n < carve_heap_hold_cap(c, allocs) without its shifts. The
 * granule bound is the same: for slots of g = 2^e or 3 x 2^e granules,
 * carve_heap_hold_cap's floor(floor(64 / (g >> e)) >> e) is floor(64 / g),
 * and n < floor(64 / g) exactly when (n + 1) x g <= 64. */
CARVE_INLINE int carve_heap_may_hold(carve_u32 n, carve_u32 bytes,
                                     carve_u32 allocs)
{
    return n < allocs && n < CARVE_HEAP_HOLD_MAX &&
           (n + 1u) * bytes <= CARVE_HEAP_HOLD_GRANULES << CARVE_GRANULE_SHIFT;
}

/* The page a work-item holds reservations on, or CARVE_NO_CLASS when it
 * holds none (or its words were overwritten into something no page can
 * be: then nothing is trusted, and the host's check finds the count
 * they leave behind). */
CARVE_INLINE carve_u32 carve_heap_held_page(
    const carve_heap *hp, CARVE_GLOBAL const carve_arena_state *st)
{
    carve_u32 n = st->heap_hold & CARVE_HEAP_COUNT_MASK;
    if (n == 0u || n > CARVE_HEAP_HOLD_MAX ||
        st->heap_hold_page - 1u >= hp->page_count ||
        (st->heap_hold >> 24) >= hp->class_count)
        return CARVE_NO_CLASS;
    return st->heap_hold_page - 1u;
}

/* Gives back every reservation the work-item holds. */
CARVE_INLINE void carve_heap_give_back(const carve_heap *hp,
                                       CARVE_GLOBAL carve_arena_state *st)
{
    carve_u32 page = carve_heap_held_page(hp, st), c, n, seen;
    if (page != CARVE_NO_CLASS) {
        c = st->heap_hold >> 24;
        n = st->heap_hold & CARVE_HEAP_COUNT_MASK;
        /* Real holds are on a page of their class with at least that
         * count, and keep it so; words a wild write made (which may name
         * a free page) must not make the count wrap into a state no page
         * can have. Those are dropped, and the check finds the count. */
        seen = carve_heap_load(carve_heap_state(hp, page));
        if ((seen & CARVE_HEAP_KIND_MASK) == ((c + 1u) << 24) &&
            (seen & CARVE_HEAP_COUNT_MASK) >= n)
            carve_heap_unreserve(hp, page, c, n);
    }
    st->heap_hold_page = 0u;
    st->heap_hold = 0u;
}

/* After a free cleared its slot's bit: keeps the slot's reservation if the
 * work-item holds none or holds on this page, below carve_heap_hold_cap,
 * else drops it. */
CARVE_INLINE void carve_heap_keep(const carve_heap *hp, carve_u32 page,
                                  carve_u32 c,
                                  CARVE_GLOBAL carve_arena_state *st)
{
    carve_u32 n = st->heap_hold & CARVE_HEAP_COUNT_MASK;
    carve_u32 cap = carve_heap_hold_cap(c, st->heap_allocs);
    if (cap != 0u && n == 0u) {
        st->heap_hold_page = page + 1u;
        st->heap_hold = c << 24 | 1u;
    } else if (n < cap && st->heap_hold_page == page + 1u &&
               (st->heap_hold >> 24) == c) {
        st->heap_hold += 1u;
    } else {
        carve_heap_unreserve(hp, page, c, 1u);
    }
}

/* Claims a clear bit of the page's bitmap; the caller holds a reservation,
 * so one is clear, but others may take it first: bounded passes. */
CARVE_COLD carve_u32 carve_heap_claim_search(CARVE_GLOBAL carve_u32 *bits,
                                               carve_u32 slots,
                                               carve_u32 guess)
{
    carve_u32 words = (slots + 31u) >> 5, w = guess >> 5, pass;
    carve_u32 first = guess & 31u;
    /* A compare, not a division: guesses come from a count of slots. */
    if (w >= words)
        w = 0u;
    for (pass = 0u; pass < 2u * words; ++pass) {
        carve_u32 valid = (w + 1u < words || (slots & 31u) == 0u)
                              ? 0xffffffffu
                              : (1u << (slots & 31u)) - 1u;
        carve_u32 seen = 0u, tries, bit;
        /* The first try takes the guessed bit as if the word were clear:
         * the atomic says what was, and the next try knows. */
        for (tries = 0u; tries < 33u && (~seen & valid) != 0u; ++tries) {
            bit = tries == 0u && ((valid >> first) & 1u)
                      ? 1u << first
                      : 1u << CARVE_CTZ32(~seen & valid);
            seen = CARVE_ATOMIC_OR(&bits[w], bit);
            if ((seen & bit) == 0u)
                return (w << 5) + CARVE_CTZ32(bit);
        }
        w = w + 1u == words ? 0u : w + 1u;
        first = 0u;
    }
    return CARVE_NO_CLASS;
}

/* carve_heap_claim_search, after one try of the guessed bit alone: a
 * work-item filling a page, or taking back the slots it freed, mostly
 * finds its guess clear. */
CARVE_INLINE carve_u32 carve_heap_claim_slot(const carve_heap *hp,
                                             carve_u32 page, carve_u32 slots,
                                             carve_u32 guess)
{
    CARVE_GLOBAL carve_u32 *bits = carve_heap_state(hp, page) + 1u;
    carve_u32 bit = 1u << (guess & 31u);
    if (guess < slots) {
        if ((CARVE_ATOMIC_OR(&bits[guess >> 5], bit) & bit) == 0u)
            return guess;
        ++guess;
    }
    return carve_heap_claim_search(bits, slots, guess);
}

/* Where a work-item last reserved in the heap: page + 1 (0: nowhere yet)
 * and the state it left there, a good guess for its next reservation of the
 * same class, and the slot after the one it took last, a good guess for
 * its next bit. Lives in the work-item's private handle. */
typedef struct carve_heap_cursor {
    carve_u32 page;
    carve_u32 seen;
    carve_u32 next;
} carve_heap_cursor;

/* The block of slot `slot` of class c on `page`, just claimed; the
 * cursor's guess of the next slot (`next`) set to the slot after it. */
CARVE_INLINE CARVE_GLOBAL void *carve_heap_slot_block(const carve_heap *hp,
                                                      carve_u32 page,
                                                      carve_u32 c,
                                                      carve_u32 slot,
                                                      carve_u32 *next)
{
    *next = slot + 1u;
    CARVE_FENCE();
    return hp->pages + ((carve_u64)page << hp->page_shift) +
           (carve_u64)slot * (carve_heap_class_granules(c)
                              << CARVE_GRANULE_SHIFT);
}

/* A slot of class c on `page` after a reservation of `took` slots that
 * left the page in state `after`, the others held by the work-item; or 0
 * (every reservation given back). */
CARVE_INLINE CARVE_GLOBAL void *carve_heap_take_slot(
    const carve_heap *hp, carve_u32 page, carve_u32 c, carve_u32 after,
    carve_u32 took, carve_heap_cursor *cursor,
    CARVE_GLOBAL carve_arena_state *st)
{
    carve_u32 slots = carve_heap_slots(hp, c);
    carve_u32 count = after & CARVE_HEAP_COUNT_MASK, slot;
    if (count == took) {
        /* Perhaps a fresh page: say so in the hints (cheap to repeat). */
        carve_heap_sync_used(hp, page);
        carve_heap_sync_room(hp, page, c);
    }
    /* A work-item filling a page takes slots in order, so the count of
     * reservations before its own is where the next free bit most likely
     * is. */
    slot = carve_heap_claim_slot(hp, page, slots, count - took);
    if (slot == CARVE_NO_CLASS) {
        carve_heap_unreserve(hp, page, c, took);
        return 0;
    }
    if (count == slots)
        carve_heap_sync_room(hp, page, c); /* now full */
    cursor->page = page + 1u;
    cursor->seen = after;
    if (took > 1u) {
        st->heap_hold_page = page + 1u;
        st->heap_hold = c << 24 | (took - 1u);
    }
    return carve_heap_slot_block(hp, page, c, slot, &cursor->next);
}

/* Tries the pages of hint word w whose bits are set in `candidates`,
 * starting at bit `first` so that work-items spread over the pages; returns
 * a block or 0. `fresh`: the candidates are pages the used map calls free. */
CARVE_INLINE CARVE_GLOBAL void *carve_heap_try_word(
    const carve_heap *hp, carve_u32 w, carve_u32 candidates, carve_u32 c,
    int fresh, carve_u32 hint, carve_u32 want, carve_u32 *contended,
    carve_heap_cursor *cursor, CARVE_GLOBAL carve_arena_state *st)
{
    carve_u32 first = (hint >> 5) & 31u;
    /* Rotate so that bit 0 is page `first` of the word. */
    carve_u32 rotated = first == 0u ? candidates
                                    : (candidates >> first) |
                                          (candidates << (32u - first));
    while (rotated != 0u) {
        carve_u32 page = (w << 5) + ((CARVE_CTZ32(rotated) + first) & 31u);
        carve_u32 after = 0u, took;
        CARVE_GLOBAL void *p;
        rotated &= rotated - 1u;
        if (page >= hp->page_count)
            continue;
        took = carve_heap_reserve(hp, page, c,
                                  carve_heap_load(carve_heap_state(hp, page)),
                                  want, &after);
        if (took == 0u) {
            /* A stale hint: set it right for whoever comes next. */
            if (fresh)
                carve_heap_sync_used(hp, page);
            else
                carve_heap_sync_room(hp, page, c);
            continue;
        }
        p = carve_heap_take_slot(hp, page, c, after, took, cursor, st);
        if (p != 0)
            return p;
        *contended += 1u;
    }
    return 0;
}

/* Tries `count` hint words from `start` (wrapping): the room map of class
 * c, or (fresh) the used map's free pages. */
CARVE_INLINE CARVE_GLOBAL void *carve_heap_scan(
    const carve_heap *hp, carve_u32 c, int fresh, carve_u32 start,
    carve_u32 count, carve_u32 hash, carve_u32 want, carve_u32 *contended,
    carve_heap_cursor *cursor, CARVE_GLOBAL carve_arena_state *st)
{
    CARVE_GLOBAL carve_u32 *map =
        fresh ? hp->used : hp->room + (carve_u64)c * hp->map_words;
    carve_u32 i, w = start, bits;
    CARVE_GLOBAL void *p;
    for (i = 0u; i < count; ++i) {
        bits = carve_heap_load(&map[w]);
        p = carve_heap_try_word(hp, w, fresh ? ~bits : bits, c, fresh, hash,
                                want, contended, cursor, st);
        if (p != 0)
            return p;
        w = w + 1u == hp->map_words ? 0u : w + 1u;
    }
    return 0;
}

/* Hint words searched near a work-item's start before the whole heap. */
#define CARVE_HEAP_NEAR 2u

/* carve_heap_alloc_small when the reservations held cannot serve: they
 * go back, and a new reservation is searched for. */
CARVE_INLINE CARVE_GLOBAL void *carve_heap_alloc_search(
    const carve_heap *hp, carve_u32 c, carve_u32 hash, carve_u32 *contended,
    carve_heap_cursor *cursor, CARVE_GLOBAL carve_arena_state *st)
{
    carve_u32 start, near, after = 0u, took = 0u, want;
    CARVE_GLOBAL void *p = 0;
    carve_heap_give_back(hp, st);
    want = carve_heap_hold_cap(c, st->heap_allocs);
    want = want != 0u ? want : 1u;
    if (cursor->page != 0u && cursor->page <= hp->page_count &&
        (cursor->seen & CARVE_HEAP_KIND_MASK) == ((c + 1u) << 24))
        took = carve_heap_reserve(hp, cursor->page - 1u, c, cursor->seen,
                                  want, &after);
    if (took != 0u)
        p = carve_heap_take_slot(hp, cursor->page - 1u, c, after, took,
                                 cursor, st);
    if (p != 0)
        return p;
    /* Only a search pays for this division. */
    start = (hash >> 10) % hp->map_words;
    near = hp->map_words < CARVE_HEAP_NEAR ? hp->map_words : CARVE_HEAP_NEAR;
    p = carve_heap_scan(hp, c, 0, start, near, hash, want, contended, cursor,
                        st);
    if (p == 0)
        p = carve_heap_scan(hp, c, 1, start, near, hash, want, contended,
                            cursor, st);
    if (p == 0 && near < hp->map_words)
        p = carve_heap_scan(hp, c, 0, start, hp->map_words, hash, want,
                            contended, cursor, st);
    if (p == 0 && near < hp->map_words)
        p = carve_heap_scan(hp, c, 1, start, hp->map_words, hash, want,
                            contended, cursor, st);
    return p;
}

/* The first try of carve_heap_alloc_small's held path, for a fast path
 * to inline: a slot of class c (< hp->class_count) from the reservations
 * the work-item whose state entry is st holds, if it holds some of class c
 * and the cursor's guess of the slot (`next`, set to the slot after the
 * one taken) is clear; else 0, and carve_heap_alloc_small decides. The
 * hold words are checked as carve_heap_held_page does, in fewer steps: a
 * class equal to c is one the heap has. */
CARVE_HOT CARVE_GLOBAL void *carve_heap_take_held(
    const carve_heap *hp, carve_u32 c, carve_u32 *next,
    CARVE_GLOBAL carve_arena_state *st)
{
    carve_u32 hold = st->heap_hold, page = st->heap_hold_page - 1u;
    carve_u32 slot = *next, bit;
    carve_u32 bytes = carve_heap_class_granules(c) << CARVE_GRANULE_SHIFT;
    /* Class c and a count from 1 to CARVE_HEAP_HOLD_MAX, in one compare:
     * another class, or a count of 0, makes the difference wrap or exceed
     * it. A guess past the page's last whole slot is no slot; in 64 bits,
     * because a guess made on a page of small slots times the bytes of a
     * large class (hold words a wild write made) wraps 32. */
    if (hold - (c << 24 | 1u) >= CARVE_HEAP_HOLD_MAX ||
        page >= hp->page_count ||
        (carve_u64)slot * bytes + bytes > hp->page_bytes)
        return 0;
    /* The bit made here, next to its test, lets a compiler see one bit
     * set and tested (x86: lock bts, not a compare-and-swap loop). */
    bit = 1u << (slot & 31u);
    if ((CARVE_ATOMIC_OR(carve_heap_state(hp, page) + 1u + (slot >> 5), bit) &
         bit) != 0u)
        return 0;
    st->heap_hold = hold - 1u;
    *next = slot + 1u;
    CARVE_FENCE();
    return hp->pages + ((carve_u64)page << hp->page_shift) +
           (carve_u64)slot * bytes;
}

/* A slot of class c for the work-item whose state entry is st: from the
 * reservations it holds, if they are of class c (one atomic_or); else,
 * having given those back, on the page the cursor names if it is of class
 * c and has room (one compare-and-swap when no one else touched it
 * since), else on a page of that class with room near the work-item's
 * start, else on a free page near it, else anywhere (room, then free
 * pages). Each reservation takes up to carve_heap_hold_cap slots (at
 * least one), the rest held.
 * Looking near first keeps the usual request at a few atomics however
 * large the heap; the full scans make a NULL mean the heap is full (or
 * contention won every time). The held reservations' path is kept small,
 * to be inlined where the search is not. */
CARVE_HOT CARVE_GLOBAL void *carve_heap_alloc_small(
    const carve_heap *hp, carve_u32 c, carve_u32 hash, carve_u32 *contended,
    carve_heap_cursor *cursor, CARVE_GLOBAL carve_arena_state *st)
{
    carve_u32 page = carve_heap_held_page(hp, st), slot;
    if (page != CARVE_NO_CLASS && (st->heap_hold >> 24) == c) {
        slot = carve_heap_claim_slot(hp, page, carve_heap_slots(hp, c),
                                     cursor->next);
        if (slot != CARVE_NO_CLASS) {
            st->heap_hold -= 1u;
            return carve_heap_slot_block(hp, page, c, slot, &cursor->next);
        }
        *contended += 1u; /* others took every clear bit first */
    }
    return carve_heap_alloc_search(hp, c, hash, contended, cursor, st);
}

/* ---- large blocks ------------------------------------------------------------ */

/* Gives back pages [first, first + n) that a claim or a free held. */
CARVE_INLINE void carve_heap_release_pages(const carve_heap *hp,
                                           carve_u32 first, carve_u32 n)
{
    carve_u32 i;
    for (i = n; i > 0u; --i) {
        CARVE_ATOMIC_XCHG(carve_heap_state(hp, first + i - 1u), 0u);
        carve_heap_sync_used(hp, first + i - 1u);
    }
}

/* Claims the n free pages from `first`; on a taken page gives back what it
 * took and returns how far it got (the taken page's index - first). */
CARVE_INLINE carve_u32 carve_heap_claim_run(const carve_heap *hp,
                                            carve_u32 first, carve_u32 n)
{
    carve_u32 i;
    for (i = 0u; i < n; ++i) {
        if (CARVE_ATOMIC_CAS(carve_heap_state(hp, first + i), 0u,
                             CARVE_HEAP_CLAIMED | i) != 0u) {
            carve_heap_release_pages(hp, first, i);
            return i;
        }
    }
    return n;
}

/* The first page of a run of n pages that look free, searching from page
 * `from`; CARVE_NO_CLASS if none. Reads one used word per 32 pages. */
CARVE_INLINE carve_u32 carve_heap_find_run(const carve_heap *hp,
                                           carve_u32 from, carve_u32 n)
{
    carve_u32 run = 0u, page = from, word = 0u;
    while (page < hp->page_count) {
        if ((page & 31u) == 0u || page == from)
            word = carve_heap_load(&hp->used[page >> 5]);
        if ((word >> (page & 31u)) & 1u) {
            run = 0u;
        } else if (++run == n) {
            return page + 1u - n;
        }
        ++page;
    }
    return CARVE_NO_CLASS;
}

/* Claims a run of k free pages, searching from page `start` to the end and
 * then from the beginning; returns its first page or CARVE_NO_CLASS. Every
 * lost race moves the search past the taken page, so it ends. */
CARVE_INLINE carve_u32 carve_heap_claim_large(const carve_heap *hp,
                                              carve_u32 k, carve_u32 start,
                                              carve_u32 *contended)
{
    carve_u32 pass, from, first, got;
    for (pass = 0u; pass < 2u; ++pass) {
        from = pass == 0u ? start : 0u;
        while (from < hp->page_count) {
            first = carve_heap_find_run(hp, from, k);
            if (first == CARVE_NO_CLASS)
                break;
            got = carve_heap_claim_run(hp, first, k);
            if (got == k)
                return first;
            *contended += 1u;
            from = first + got + 1u;
        }
    }
    return CARVE_NO_CLASS;
}

/* k whole pages for a block of `bytes`, allocated at `site` by `owner`. */
CARVE_INLINE CARVE_GLOBAL void *carve_heap_alloc_large(const carve_heap *hp,
                                                       carve_u32 k,
                                                       carve_u64 bytes,
                                                       carve_u32 site,
                                                       carve_u32 owner,
                                                       carve_u32 *contended)
{
    carve_u32 first, i;
    CARVE_GLOBAL carve_u32 *head;
    if (k == 0u || k > hp->page_count)
        return 0;
    first = carve_heap_claim_large(hp, k, (owner * 2654435761u) %
                                              hp->page_count,
                                   contended);
    if (first == CARVE_NO_CLASS)
        return 0;
    head = carve_heap_state(hp, first);
    CARVE_ATOMIC_XCHG(&head[1], (carve_u32)bytes);
    CARVE_ATOMIC_XCHG(&head[2], site);
    CARVE_ATOMIC_XCHG(&head[3], owner);
    for (i = 1u; i < k; ++i)
        CARVE_ATOMIC_XCHG(carve_heap_state(hp, first + i),
                          CARVE_HEAP_CONTINUED | i);
    CARVE_ATOMIC_XCHG(head, CARVE_HEAP_LARGE | k);
    for (i = 0u; i < k; ++i)
        carve_heap_sync_used(hp, first + i);
    CARVE_FENCE();
    return hp->pages + (carve_u64)first * hp->page_bytes;
}

/* ---- the block behind a pointer -------------------------------------------------- */

/* What a pointer into the heap is. */
typedef struct carve_heap_block {
    carve_u32 page;     /* first page */
    carve_u32 state;    /* the page's state word as read */
    carve_u32 large;    /* 1: k = pages of a large block; 0: small slot */
    carve_u32 cls;      /* small: the class */
    carve_u32 slot;     /* small: the slot index */
    carve_u32 bytes;    /* usable bytes of the block */
    carve_u32 offset;   /* of the block, from the heap's first page */
} carve_heap_block;

/* The slot of a small page of class c that byte `within` of page `page`
 * names (b's page and state already set). */
CARVE_INLINE carve_u32 carve_heap_resolve_slot(const carve_heap *hp,
                                               carve_u32 page,
                                               carve_u32 within, carve_u32 c,
                                               carve_heap_block *b)
{
    carve_u32 bytes = carve_heap_class_granules(c) << CARVE_GRANULE_SHIFT;
    b->large = 0u;
    b->cls = c;
    b->slot = carve_heap_slot_of(c, within >> CARVE_GRANULE_SHIFT);
    b->bytes = bytes;
    b->offset = (page << hp->page_shift) + b->slot * bytes;
    /* A page holds whole slots; past the last is its unused tail. */
    if ((b->slot + 1u) * bytes > hp->page_bytes)
        return CARVE_MISUSE_NOT_LIVE;
    if (within != b->slot * bytes)
        return CARVE_MISUSE_INTERIOR;
    return CARVE_MISUSE_NONE;
}

/* carve_heap_resolve with the page's state `s` already read. */
CARVE_INLINE carve_u32 carve_heap_resolve_in(const carve_heap *hp,
                                             carve_u32 off, carve_u32 s,
                                             carve_heap_block *b)
{
    carve_u32 page = off >> hp->page_shift, within = off & (hp->page_bytes - 1u);
    carve_heap_page pg = carve_heap_decode(hp, s);
    /* Every field is set even when the pointer is refused: callers read
     * b->bytes on paths a compiler cannot tell are never taken then. */
    b->large = b->cls = b->slot = b->bytes = b->offset = 0u;
    b->page = page;
    b->state = s;
    switch (pg.kind) {
    case CARVE_HEAP_PAGE_FREE:
        return CARVE_MISUSE_FREED;
    case CARVE_HEAP_PAGE_LARGE:
        if (within != 0u)
            return CARVE_MISUSE_INTERIOR;
        /* A damaged state must not send a release or a size past the
         * heap. */
        if (pg.count == 0u || pg.count > hp->page_count - page)
            return CARVE_MISUSE_CORRUPT;
        b->large = 1u;
        b->bytes = pg.count * hp->page_bytes;
        b->offset = page * hp->page_bytes;
        return CARVE_MISUSE_NONE;
    case CARVE_HEAP_PAGE_SMALL:
        break;
    case CARVE_HEAP_PAGE_BAD:
        return CARVE_MISUSE_CORRUPT;
    default: /* continued, claimed */
        return CARVE_MISUSE_INTERIOR;
    }
    return carve_heap_resolve_slot(hp, page, within, pg.cls, b);
}

/* Resolves a pointer (whose offset from the first page is `off`, inside
 * the heap) to the block it names: a large block's first page, or the
 * start of a slot of a small page (whether that slot is live is for
 * carve_heap_resolve_live or the release to tell). Returns
 * CARVE_MISUSE_NONE or why not. */
CARVE_INLINE carve_u32 carve_heap_resolve(const carve_heap *hp, carve_u32 off,
                                          carve_heap_block *b)
{
    return carve_heap_resolve_in(
        hp, off, carve_heap_load(carve_heap_state(hp, off >> hp->page_shift)),
        b);
}

/* carve_heap_resolve for the work-item whose state entry is st: on the
 * page it holds reservations on, the page's class is known without a load
 * (the scheme: a held page keeps its class). */
CARVE_HOT carve_u32 carve_heap_resolve_held(
    const carve_heap *hp, carve_u32 off, CARVE_GLOBAL const carve_arena_state *st,
    carve_heap_block *b)
{
    carve_u32 page = off >> hp->page_shift;
    if (page != carve_heap_held_page(hp, st))
        return carve_heap_resolve(hp, off, b);
    b->page = page;
    b->state = 0u; /* not read: it is for a large block's release */
    return carve_heap_resolve_slot(hp, page, off & (hp->page_bytes - 1u),
                                   st->heap_hold >> 24, b);
}

/* What a resolve said (`kind`), and then whether the slot's bit says it
 * is live: a caller that reads the block before freeing it (a redzone)
 * must know it is not a double free first; a plain free learns it from
 * the atomic that clears the bit (carve_heap_release), one atomic
 * cheaper. */
CARVE_INLINE carve_u32 carve_heap_live(const carve_heap *hp, carve_u32 kind,
                                       const carve_heap_block *b)
{
    if (kind != CARVE_MISUSE_NONE || b->large)
        return kind;
    if (((carve_heap_load(carve_heap_state(hp, b->page) + 1u +
                          (b->slot >> 5)) >>
          (b->slot & 31u)) & 1u) == 0u)
        return CARVE_MISUSE_FREED;
    return CARVE_MISUSE_NONE;
}

CARVE_INLINE carve_u32 carve_heap_resolve_live(const carve_heap *hp,
                                               carve_u32 off,
                                               carve_heap_block *b)
{
    return carve_heap_live(hp, carve_heap_resolve(hp, off, b), b);
}

/* Frees the block b resolved for the work-item whose state entry is st,
 * which may keep a small slot's reservation (carve_heap_keep); returns
 * CARVE_MISUSE_NONE, or FREED when another free of the same block won the
 * race. */
CARVE_HOT carve_u32 carve_heap_release(const carve_heap *hp,
                                       const carve_heap_block *b,
                                       CARVE_GLOBAL carve_arena_state *st)
{
    CARVE_GLOBAL carve_u32 *state = carve_heap_state(hp, b->page);
    carve_u32 mask, old, k;
    CARVE_FENCE();
    if (b->large) {
        k = b->state & CARVE_HEAP_COUNT_MASK;
        /* Winning this swap makes the free ours: a racing double free
         * loses here instead of releasing pages someone else claimed. */
        if (CARVE_ATOMIC_CAS(state, b->state, CARVE_HEAP_CLAIMED) != b->state)
            return CARVE_MISUSE_FREED;
        CARVE_ATOMIC_XCHG(&state[1], 0u);
        CARVE_ATOMIC_XCHG(&state[2], 0u);
        CARVE_ATOMIC_XCHG(&state[3], 0u);
        carve_heap_release_pages(hp, b->page, k);
        return CARVE_MISUSE_NONE;
    }
    mask = 1u << (b->slot & 31u);
    old = CARVE_ATOMIC_AND(&state[1u + (b->slot >> 5)], ~mask);
    if ((old & mask) == 0u)
        return CARVE_MISUSE_FREED;
    carve_heap_keep(hp, b->page, b->cls, st);
    return CARVE_MISUSE_NONE;
}

/* What carve_heap_free_held says beyond the misuse kinds: the block is
 * freed, and its reservation is the caller's to drop (carve_heap_drop). */
#define CARVE_HEAP_FREED_DROP 0xfffffffeu

/* A free of the block at `off` (from the first page, inside the heap) when
 * it lies on the page named by the hold words of the work-item whose state
 * entry is st: the slot is found by the held class, its bit cleared, and
 * its reservation kept below carve_heap_hold_cap. While the work-item
 * holds reservations there the page keeps its class, so no load of its
 * state is needed; with none left (the words still name the page), one
 * load says whether the page still has that class. Returns
 * CARVE_MISUSE_NONE (freed, reservation kept), CARVE_HEAP_FREED_DROP
 * (freed, the reservation to drop: not done here so that this path calls
 * nothing), why the pointer is refused (NOT_LIVE, INTERIOR, or FREED when
 * its bit was clear), or CARVE_NO_CLASS when the page is not the held one
 * (or the hold words are not ones carve_heap_held_page trusts): the caller
 * then resolves and releases it the general way. */
CARVE_HOT carve_u32 carve_heap_free_held(const carve_heap *hp, carve_u32 off,
                                         CARVE_GLOBAL carve_arena_state *st)
{
    carve_u32 hold = st->heap_hold, page = off >> hp->page_shift;
    carve_u32 c = hold >> 24, n = hold & CARVE_HEAP_COUNT_MASK;
    carve_u32 within, bytes, slot, mask;
    CARVE_GLOBAL carve_u32 *state = carve_heap_state(hp, page);
    if (st->heap_hold_page != page + 1u || c >= hp->class_count ||
        n > CARVE_HEAP_HOLD_MAX)
        return CARVE_NO_CLASS;
    if (n == 0u &&
        (carve_heap_load(state) & CARVE_HEAP_KIND_MASK) != (c + 1u) << 24)
        return CARVE_NO_CLASS;
    within = off & (hp->page_bytes - 1u);
    bytes = carve_heap_class_granules(c) << CARVE_GRANULE_SHIFT;
    slot = carve_heap_slot_of(c, within >> CARVE_GRANULE_SHIFT);
    if ((slot + 1u) * bytes > hp->page_bytes)
        return CARVE_MISUSE_NOT_LIVE;
    if (within != slot * bytes)
        return CARVE_MISUSE_INTERIOR;
    mask = 1u << (slot & 31u);
    CARVE_FENCE();
    if ((CARVE_ATOMIC_AND(&state[1u + (slot >> 5)], ~mask) & mask) == 0u)
        return CARVE_MISUSE_FREED;
    if (!carve_heap_may_hold(n, bytes, st->heap_allocs))
        return CARVE_HEAP_FREED_DROP;
    st->heap_hold = hold + 1u;
    return CARVE_MISUSE_NONE;
}

/* After carve_heap_free_held said CARVE_HEAP_FREED_DROP for the block at
 * `off`: drops its reservation. */
CARVE_COLD void carve_heap_drop(const carve_heap *hp, carve_u32 off,
                                CARVE_GLOBAL const carve_arena_state *st)
{
    carve_heap_unreserve(hp, off >> hp->page_shift, st->heap_hold >> 24, 1u);
}

/* The live block holding byte `off` (from the first page), anywhere in it:
 * returns 1 with its start and usable bytes, or 0. For a host walking what
 * kernels built; the set must be quiescent. */
CARVE_INLINE int carve_heap_block_holding(const carve_heap *hp, carve_u32 off,
                                          carve_u32 *start, carve_u32 *bytes)
{
    carve_u32 page = off >> hp->page_shift, slot;
    carve_heap_page pg;
    if (page >= hp->page_count)
        return 0;
    pg = carve_heap_decode(hp, *carve_heap_state(hp, page));
    if (pg.kind == CARVE_HEAP_PAGE_CONTINUED) {
        if (pg.count > page)
            return 0;
        page -= pg.count;
        pg = carve_heap_decode(hp, *carve_heap_state(hp, page));
    }
    if (pg.kind == CARVE_HEAP_PAGE_LARGE) {
        *start = page * hp->page_bytes;
        *bytes = pg.count * hp->page_bytes;
        return off - *start < *bytes;
    }
    if (pg.kind != CARVE_HEAP_PAGE_SMALL)
        return 0;
    slot = carve_heap_slot_of(pg.cls, (off & (hp->page_bytes - 1u)) >>
                                          CARVE_GRANULE_SHIFT);
    if (slot >= pg.slots || !carve_heap_slot_live(hp, page, slot))
        return 0;
    *start = page * hp->page_bytes + slot * pg.slot_bytes;
    *bytes = pg.slot_bytes;
    return 1;
}

/* ---- the host's walk ---------------------------------------------------------- */

/* The CARVE_HEAP_CHECK_* codes are in carve_abi.h. */

typedef struct carve_heap_report {
    carve_u32 broken;     /* CARVE_HEAP_CHECK_* */
    carve_u32 page;       /* where */
    carve_u32 free_pages;
    carve_u32 small_pages;
    carve_u32 large_pages;
    carve_u32 live_blocks;
    carve_u64 live_bytes; /* usable bytes of live blocks */
} carve_heap_report;

CARVE_INLINE carve_u32 carve_heap_check_fail(carve_heap_report *r,
                                             carve_u32 why, carve_u32 page)
{
    r->broken = why;
    r->page = page;
    return why;
}

/* Checks a small page: count equals the bitmap plus the reservations
 * work-items hold there (`held`: 0, or (class + 1) << 24 | how many), no
 * bit beyond the slots. */
CARVE_INLINE carve_u32 carve_heap_check_small(const carve_heap *hp,
                                              carve_u32 page,
                                              carve_heap_page pg,
                                              carve_u32 held,
                                              carve_heap_report *r)
{
    CARVE_GLOBAL const carve_u32 *bits = carve_heap_state(hp, page) + 1u;
    carve_u32 c = pg.cls, slots = pg.slots, w, n = 0u;
    carve_u32 words = hp->meta_words - 1u;
    for (w = 0u; w < words; ++w) {
        carve_u32 valid = (w << 5) + 32u <= slots ? 0xffffffffu
                          : (w << 5) >= slots   ? 0u
                                                : (1u << (slots & 31u)) - 1u;
        if (bits[w] & ~valid)
            return carve_heap_check_fail(r, CARVE_HEAP_CHECK_BITMAP, page);
        n += CARVE_POPCOUNT32(bits[w]);
    }
    if (held != 0u && (held >> 24) != c + 1u)
        return carve_heap_check_fail(r, CARVE_HEAP_CHECK_HOLD, page);
    held &= CARVE_HEAP_COUNT_MASK;
    if (held > pg.count || n != pg.count - held || pg.count == 0u)
        return carve_heap_check_fail(r, CARVE_HEAP_CHECK_COUNT, page);
    if (pg.count < slots &&
        !((hp->room[(carve_u64)c * hp->map_words + (page >> 5)] >>
           (page & 31u)) & 1u))
        return carve_heap_check_fail(r, CARVE_HEAP_CHECK_ROOM_HINT, page);
    r->small_pages += 1u;
    r->live_blocks += n;
    r->live_bytes += (carve_u64)n * pg.slot_bytes;
    return CARVE_HEAP_CHECK_OK;
}

/* Checks the heap of a quiescent set (no kernel running): every page state,
 * bitmap, large run and hint. `held`: per page, the reservations
 * work-items hold there, as (class + 1) << 24 | how many (0: none); NULL
 * when none do. The host builds it from the state entries
 * (host/layout.c).
 * O(pages x bitmap words). Writes only *r. */
CARVE_INLINE carve_u32 carve_heap_check(const carve_heap *hp,
                                        const carve_u32 *held,
                                        carve_heap_report *r)
{
    carve_u32 page = 0u, i, s, k, used_bit;
    carve_heap_page pg;
    r->broken = CARVE_HEAP_CHECK_OK;
    r->page = 0u;
    r->free_pages = r->small_pages = r->large_pages = r->live_blocks = 0u;
    r->live_bytes = 0u;
    while (page < hp->page_count) {
        s = *carve_heap_state(hp, page);
        pg = carve_heap_decode(hp, s);
        used_bit = (hp->used[page >> 5] >> (page & 31u)) & 1u;
        if (used_bit != (s != 0u))
            return carve_heap_check_fail(r, CARVE_HEAP_CHECK_USED_HINT, page);
        if (held != 0 && held[page] != 0u && pg.kind != CARVE_HEAP_PAGE_SMALL)
            return carve_heap_check_fail(r, CARVE_HEAP_CHECK_HOLD, page);
        if (pg.kind == CARVE_HEAP_PAGE_FREE) {
            for (i = 1u; i < hp->meta_words; ++i)
                if (carve_heap_state(hp, page)[i] != 0u)
                    return carve_heap_check_fail(r, CARVE_HEAP_CHECK_BITMAP,
                                                 page);
            r->free_pages += 1u;
            page += 1u;
            continue;
        }
        if (pg.kind == CARVE_HEAP_PAGE_LARGE) {
            k = pg.count;
            if (k == 0u || k > hp->page_count - page)
                return carve_heap_check_fail(r, CARVE_HEAP_CHECK_RUN, page);
            for (i = 1u; i < k; ++i)
                if (*carve_heap_state(hp, page + i) !=
                        (CARVE_HEAP_CONTINUED | i) ||
                    !((hp->used[(page + i) >> 5] >> ((page + i) & 31u)) & 1u))
                    return carve_heap_check_fail(r, CARVE_HEAP_CHECK_RUN,
                                                 page + i);
            r->large_pages += k;
            r->live_blocks += 1u;
            r->live_bytes += (carve_u64)k * hp->page_bytes;
            page += k;
            continue;
        }
        if (pg.kind != CARVE_HEAP_PAGE_SMALL ||
            carve_heap_check_small(hp, page, pg, held != 0 ? held[page] : 0u,
                                   r) != CARVE_HEAP_CHECK_OK)
            return r->broken != CARVE_HEAP_CHECK_OK
                       ? r->broken
                       : carve_heap_check_fail(r, CARVE_HEAP_CHECK_STATE, page);
        page += 1u;
    }
    return CARVE_HEAP_CHECK_OK;
}

/* The walk of the heap's live blocks in address order (large blocks, and
 * the live slots of small pages), as the host's report makes it. For a
 * quiescent heap that carve_heap_check passed. */
typedef struct carve_heap_walk {
    carve_u32 page; /* the page being looked at */
    carve_u32 slot; /* in a small page: the next slot to look at */
} carve_heap_walk;

CARVE_INLINE carve_heap_walk carve_heap_walk_start(void)
{
    carve_heap_walk w;
    w.page = 0u;
    w.slot = 0u;
    return w;
}

/* The next live block after the walk's position, in *b (as
 * carve_heap_resolve fills it): 1, or 0 at the end of the heap.
 * O(pages + slots) for a whole walk. */
CARVE_INLINE int carve_heap_walk_next(const carve_heap *hp,
                                      carve_heap_walk *w, carve_heap_block *b)
{
    carve_heap_page pg;
    carve_u32 s;
    while (w->page < hp->page_count) {
        s = *carve_heap_state(hp, w->page);
        pg = carve_heap_decode(hp, s);
        b->page = w->page;
        b->state = s;
        if (pg.kind == CARVE_HEAP_PAGE_LARGE && pg.count != 0u) {
            b->large = 1u;
            b->cls = b->slot = 0u;
            b->bytes = pg.count * hp->page_bytes;
            b->offset = w->page * hp->page_bytes;
            w->page += pg.count;
            w->slot = 0u;
            return 1;
        }
        if (pg.kind == CARVE_HEAP_PAGE_SMALL) {
            for (; w->slot < pg.slots; ++w->slot) {
                if (!carve_heap_slot_live(hp, w->page, w->slot))
                    continue;
                b->large = 0u;
                b->cls = pg.cls;
                b->slot = w->slot;
                b->bytes = pg.slot_bytes;
                b->offset = (w->page << hp->page_shift) +
                            w->slot * pg.slot_bytes;
                w->slot += 1u;
                return 1;
            }
        }
        w->page += 1u;
        w->slot = 0u;
    }
    return 0;
}

#endif /* CARVE_HEAP_H */
