/*
 * carve_alloc.h - what carve_malloc and friends do: routing between the
 * work-item's arena and the shared heap, redzones, and the error and event
 * logs. Shared by host and device like carve_core.h; carve.clh wraps it for
 * kernels, and host tests call it directly.
 *
 * Routing: a request of large_bytes or more goes to the shared heap (when
 * the plan has one); anything else to the arena, and, when the plan allows
 * fallback, to the heap if the arena cannot serve it. free/realloc find
 * where a pointer lives from its address.
 *
 * Checks (a plan option): every block gets a 16-byte redzone granule after
 * its payload holding the requested size, the allocation site, the owner
 * and a hash of them, and the bytes between the payload's end and the
 * redzone are filled with a canary. free and realloc verify it, so a write
 * past the end of a block is reported with the block, the site that
 * allocated it and the site that freed it; the host verifies every live
 * block after the kernel. With checks off none of this runs: the fast paths
 * below test one word of the handle.
 *
 * Logs: the first error_capacity errors (misuse, damage) are recorded in
 * the error log and the rest only counted; with the event log on, every
 * allocation, free and failure is appended to it (kind, site, work-item,
 * offset, size) for `carve log` to analyse. A site is the __LINE__ of the
 * call, or'ed with CARVE_FILE_ID << 20 (1-15) when a program defines it.
 */
#ifndef CARVE_ALLOC_H
#define CARVE_ALLOC_H

#include "carve_heap.h"

#define CARVE_CANARY 0xcbu
#define CARVE_REDZONE_SEED 0x9e3779b9u
#define CARVE_SITE_LINE_MASK 0xfffffu

/* ---- logs ---------------------------------------------------------------- */

CARVE_INLINE CARVE_GLOBAL carve_set_header *carve_alloc_header(
    const carve_arena *a)
{
    return (CARVE_GLOBAL carve_set_header *)a->base;
}

CARVE_INLINE carve_u32 carve_alloc_offset(const carve_arena *a,
                                          CARVE_GLOBAL const void *p)
{
    return (carve_u32)((carve_uptr)p - (carve_uptr)a->base);
}

/* Whether p lies in the shared heap. The offset is compared in full
 * pointer width: cut to 32 bits, a pointer into another buffer could land
 * inside the heap's range and be taken for one of its blocks. */
CARVE_HOT int carve_alloc_in_heap(const carve_arena *a,
                                     CARVE_GLOBAL const void *p)
{
    carve_uptr off = (carve_uptr)p - (carve_uptr)a->base;
    return off >= a->heap_begin && off < a->heap_end;
}

/* The arena whose payload holds p, for OTHER_ARENA records. */
CARVE_INLINE carve_u32 carve_alloc_owner(const carve_arena *a,
                                         CARVE_GLOBAL const void *p)
{
    carve_u32 owner = a->index;
    carve_core_zone(a, p, &owner);
    return owner;
}

CARVE_INLINE void carve_alloc_log_error(const carve_arena *a, carve_u32 kind,
                                        carve_u32 call, carve_u32 site,
                                        carve_u32 offset, carve_u32 bytes,
                                        carve_u32 alloc_site, carve_u32 detail)
{
    CARVE_GLOBAL carve_set_header *h = carve_alloc_header(a);
    CARVE_GLOBAL carve_error_record *r;
    carve_u32 i;
    if (h->error_capacity == 0u)
        return;
    i = CARVE_ATOMIC_ADD(&h->error_count, 1u);
    if (i >= h->error_capacity)
        return; /* counted, not kept */
    r = (CARVE_GLOBAL carve_error_record *)(a->base + h->error_offset) + i;
    r->kind = kind;
    r->call = call;
    r->arena = a->index;
    r->site = site;
    r->offset = offset;
    r->bytes = bytes;
    r->alloc_site = alloc_site;
    r->detail = detail;
}

CARVE_INLINE void carve_alloc_log_event(const carve_arena *a, carve_u32 kind,
                                        carve_u32 site, carve_u32 offset,
                                        carve_u64 bytes)
{
    CARVE_GLOBAL carve_set_header *h = carve_alloc_header(a);
    CARVE_GLOBAL carve_event_record *r;
    carve_u32 i;
    if (!(a->options & CARVE_OPTION_EVENTS))
        return;
    i = CARVE_ATOMIC_ADD(&h->event_count, 1u);
    if (i >= h->event_capacity)
        return;
    r = (CARVE_GLOBAL carve_event_record *)(a->base + h->event_offset) + i;
    r->kind_site = (kind << 24) | (site & 0xffffffu);
    r->arena = a->index;
    r->offset = offset;
    r->bytes = bytes > 0xffffffffu ? 0xffffffffu : (carve_u32)bytes;
}

/* A refused pointer: the statistics say why already; add the site and an
 * error record. */
CARVE_COLD void carve_alloc_refused(const carve_arena *a,
                                      CARVE_GLOBAL const void *p,
                                      carve_u32 kind, carve_u32 call,
                                      carve_u32 site)
{
    a->state->misuse_site = site;
    carve_alloc_log_error(a, kind, call, site, carve_alloc_offset(a, p), 0u,
                          0u,
                          kind == CARVE_MISUSE_OTHER_ARENA
                              ? carve_alloc_owner(a, p)
                              : 0u);
}

/* Records a refusal found outside the arena core (the heap's checks). */
CARVE_INLINE void carve_alloc_refuse(const carve_arena *a,
                                     CARVE_GLOBAL const void *p,
                                     carve_u32 kind, carve_u32 call,
                                     carve_u32 site)
{
    a->state->misuse_count += 1u;
    a->state->last_misuse = kind;
    carve_alloc_refused(a, p, kind, call, site);
}

/* A request that returned NULL. */
CARVE_COLD CARVE_GLOBAL void *carve_alloc_failed(const carve_arena *a,
                                                   carve_u64 bytes,
                                                   carve_u32 why,
                                                   carve_u32 call,
                                                   carve_u32 site)
{
    if (a->state == 0 || why == CARVE_FAIL_NONE)
        return 0;
    carve_core_fail(a, why, bytes);
    a->state->failure_site = site;
    carve_alloc_log_event(a, CARVE_CALL_FAILED, site, 0u, bytes);
    (void)call;
    return 0;
}

/* ---- redzones ------------------------------------------------------------- */

/* The redzone's check word. It is only ever compared for equality, so a
 * final mixing step (xor-shifts, an odd multiply: a bijection) would catch
 * nothing more and cost every checked pair about 15 instructions; the
 * odd multipliers keep two words overwritten alike from cancelling. */
CARVE_INLINE carve_u32 carve_redzone_hash(carve_u32 bytes, carve_u32 site,
                                          carve_u32 owner, carve_u32 offset)
{
    return bytes * 0x85ebca6bu ^ site * 0xc2b2ae35u ^ owner * 0x27d4eb2fu ^
           offset ^ CARVE_REDZONE_SEED;
}

/* Four canary bytes as one word: the canary byte repeated, in any order. */
#define CARVE_CANARY_WORD 0xcbcbcbcbu

/* The four bytes at p as a word, read as bytes: that needs no alignment
 * (a request's end may fall anywhere) and may alias whatever type the
 * caller wrote there. Compilers make it one load where they can. */
CARVE_INLINE carve_u32 carve_canary_bytes4(CARVE_GLOBAL const carve_u8 *p)
{
    return (carve_u32)p[0] | (carve_u32)p[1] << 8 | (carve_u32)p[2] << 16 |
           (carve_u32)p[3] << 24;
}

/* The first byte of [from, to) of block that is not the canary, or `to`:
 * four bytes a step, then the rest. A byte at a time, a 15-byte canary
 * cost a checked pair of mixed sizes about 40 instructions. (Its fill
 * stays a byte loop, which compilers make a memset.) */
CARVE_INLINE carve_u32 carve_canary_damage(CARVE_GLOBAL const carve_u8 *block,
                                           carve_u32 from, carve_u32 to)
{
    for (; from < to && to - from >= 4u; from += 4u)
        if (carve_canary_bytes4(block + from) != CARVE_CANARY_WORD)
            break;
    for (; from < to; ++from)
        if (block[from] != CARVE_CANARY)
            return from;
    return to;
}

/* Fills [bytes, rz) of the block at `offset` with the canary and writes the
 * redzone granule at rz. */
CARVE_INLINE void carve_redzone_write(const carve_arena *a,
                                      CARVE_GLOBAL carve_u8 *block,
                                      carve_u32 rz, carve_u32 bytes,
                                      carve_u32 site, carve_u32 owner)
{
    CARVE_GLOBAL carve_u32 *w = (CARVE_GLOBAL carve_u32 *)(block + rz);
    carve_u32 i;
    for (i = bytes; i < rz; ++i)
        block[i] = CARVE_CANARY;
    w[0] = bytes;
    w[1] = site;
    w[2] = owner;
    w[3] = carve_redzone_hash(bytes, site, owner, carve_alloc_offset(a, block));
}

/* What a redzone says; damaged is 0 when intact, else 1 + the offset from
 * the block of the first damaged byte found. */
typedef struct carve_redzone {
    carve_u32 bytes;
    carve_u32 site;
    carve_u32 owner;
    carve_u32 damaged;
} carve_redzone;

/* Verifies the redzone at rz of the block at `block`. `exact`: the payload
 * ends in the granule before the redzone (plain arena blocks, large heap
 * blocks); otherwise anywhere before it (slots of runs and of heap pages,
 * which a realloc may shrink in place). */
CARVE_INLINE carve_redzone carve_redzone_read(const carve_arena *a,
                                              CARVE_GLOBAL const carve_u8 *block,
                                              carve_u32 rz, int exact)
{
    CARVE_GLOBAL const carve_u32 *w =
        (CARVE_GLOBAL const carve_u32 *)(block + rz);
    carve_redzone r;
    carve_u32 i;
    r.bytes = w[0];
    r.site = w[1];
    r.owner = w[2];
    r.damaged = 0u;
    if (w[3] != carve_redzone_hash(r.bytes, r.site, r.owner,
                                   carve_alloc_offset(a, block)) ||
        r.bytes > rz || (exact && rz - r.bytes >= CARVE_GRANULE)) {
        r.damaged = 1u + rz;
        r.bytes = 0u;
        r.site = 0u;
        return r;
    }
    i = carve_canary_damage(block, r.bytes, rz);
    if (i != rz)
        r.damaged = 1u + i;
    return r;
}

/* carve_arena_close: the heap reservations the work-item holds go back
 * (carve_heap.h), and the arena is marked closed. */
CARVE_INLINE void carve_alloc_close(carve_arena *a)
{
    if (a->state != 0 && a->heap_end != 0u)
        carve_heap_give_back(&a->heap, a->state);
    carve_core_close(a);
}

/* ---- where a pointer lives -------------------------------------------------- */

/* A live block found from a pointer. */
typedef struct carve_alloc_block {
    CARVE_GLOBAL carve_u8 *start;
    carve_u32 in_heap;
    carve_core_block core;   /* arena: what carve_core_find found */
    carve_heap_block heap;   /* heap: what carve_heap_resolve found */
    carve_u32 usable;        /* bytes the block offers */
    carve_u32 rz;            /* checks: where its redzone is */
    carve_u32 requested;     /* checks: the bytes asked for; else usable */
    carve_u32 alloc_site;    /* checks: where it was allocated; else 0 */
} carve_alloc_block;

/* The redzone's place in a block: the last granule of an arena block or a
 * heap slot; after the payload in a large heap block. */
CARVE_INLINE carve_u32 carve_alloc_redzone_at(const carve_alloc_block *b,
                                              carve_u32 large_requested)
{
    if (b->in_heap && b->heap.large)
        return (large_requested + CARVE_GRANULE - 1u) & ~(CARVE_GRANULE - 1u);
    return b->usable - CARVE_GRANULE;
}

/* Resolves p to a live block (1), or records why it is refused (0). */
CARVE_INLINE int carve_alloc_resolve(carve_arena *a, CARVE_GLOBAL void *p,
                                     carve_u32 call, carve_u32 site,
                                     carve_alloc_block *b)
{
    carve_u32 off = carve_alloc_offset(a, p), kind, large_bytes = 0u;
    b->start = (CARVE_GLOBAL carve_u8 *)p;
    b->in_heap = carve_alloc_in_heap(a, p);
    if (!b->in_heap) {
        if (a->state->flags & CARVE_ARENA_CORRUPT) {
            carve_alloc_log_error(a, CARVE_MISUSE_CORRUPT, call, site, off, 0u,
                                  0u, 0u);
            return 0;
        }
        b->usable = carve_core_find(a, p, &b->core);
        if (b->usable == 0u) {
            carve_alloc_refused(a, p, a->state->last_misuse, call, site);
            return 0;
        }
    } else {
        const carve_heap *hp = &a->heap;
        /* Only a plain free may leave the slot's liveness to the atomic
         * that releases it: realloc and usable_size read the block, with
         * checks free reads its redzone, and with events it logs the free,
         * all before the release. */
        kind = carve_heap_resolve_held(hp, off - a->heap_begin, a->state,
                                       &b->heap);
        if (call != CARVE_CALL_FREE ||
            (a->options & (CARVE_OPTION_CHECKS | CARVE_OPTION_EVENTS)))
            kind = carve_heap_live(hp, kind, &b->heap);
        if (kind != CARVE_MISUSE_NONE) {
            carve_alloc_refuse(a, p, kind, call, site);
            return 0;
        }
        b->usable = b->heap.bytes;
        if (b->heap.large)
            large_bytes = carve_heap_load(carve_heap_state(hp, b->heap.page) + 1u);
    }
    b->requested = b->usable;
    b->alloc_site = 0u;
    if (a->options & CARVE_OPTION_CHECKS) {
        carve_redzone r;
        b->rz = carve_alloc_redzone_at(b, large_bytes);
        if (b->rz > b->usable - CARVE_GRANULE) {
            /* A large block's size word lies outside its pages: heap
             * metadata was overwritten. Its extent is still known from
             * the page states, so it is freed without reading a redzone
             * that would lie past the block. */
            a->state->misuse_count += 1u;
            a->state->last_misuse = CARVE_MISUSE_CORRUPT;
            a->state->misuse_site = site;
            carve_alloc_log_error(a, CARVE_MISUSE_CORRUPT, call, site, off,
                                  large_bytes, 0u, 0u);
            b->requested = b->usable;
            return 1;
        }
        r = carve_redzone_read(a, b->start, b->rz,
                               b->in_heap ? b->heap.large : b->core.n != 0u);
        if (r.damaged != 0u) {
            a->state->misuse_count += 1u;
            a->state->last_misuse = CARVE_MISUSE_OVERFLOW;
            a->state->misuse_site = site;
            carve_alloc_log_error(a, CARVE_MISUSE_OVERFLOW, call, site, off,
                                  r.bytes, r.site, r.damaged - 1u);
            /* The block is still freed: its extent is known. */
            b->requested = b->rz;
        } else {
            b->requested = r.bytes;
            b->alloc_site = r.site;
        }
    }
    return 1;
}

/* Gives a resolved block back. A heap block may lose a race with another
 * free of the same block (a double free): that free is then the refused
 * one. */
CARVE_INLINE void carve_alloc_release(carve_arena *a, const carve_alloc_block *b,
                                      carve_u32 call, carve_u32 site)
{
    if (!b->in_heap) {
        carve_core_retire(a, &b->core);
        return;
    }
    if (carve_heap_release(&a->heap, &b->heap, a->state) !=
        CARVE_MISUSE_NONE) {
        carve_alloc_refuse(a, b->start, CARVE_MISUSE_FREED, call, site);
        return;
    }
    a->state->heap_frees += 1u;
}

/* ---- allocation ----------------------------------------------------------------- */

/* A block of `need` bytes in the shared heap, or 0 with *why. */
CARVE_HOT CARVE_GLOBAL void *carve_alloc_from_heap(carve_arena *a,
                                                      carve_u64 need,
                                                      carve_u32 align,
                                                      carve_u64 bytes,
                                                      carve_u32 site,
                                                      carve_u32 *why)
{
    const carve_heap *hp = &a->heap;
    carve_u32 n, ag, c, contended = 0u, k;
    CARVE_GLOBAL void *p = 0;
    if (need > (carve_u64)hp->page_count * hp->page_bytes) {
        *why = CARVE_FAIL_TOO_LARGE;
        return 0;
    }
    n = (carve_u32)((need + CARVE_GRANULE - 1u) >> CARVE_GRANULE_SHIFT);
    ag = align > CARVE_GRANULE ? align >> CARVE_GRANULE_SHIFT : 1u;
    c = carve_heap_class_for(n);
    /* ag is a power of two: a mask, not a division on every request. */
    while (c < hp->class_count &&
           (carve_heap_class_granules(c) & (ag - 1u)) != 0u)
        ++c;
    if (c < hp->class_count) {
        carve_heap_cursor cursor;
        cursor.page = a->heap_page;
        cursor.seen = a->heap_seen;
        cursor.next = a->heap_next;
        p = carve_heap_alloc_small(hp, c, a->index * 2654435761u, &contended,
                                   &cursor, a->state);
        a->heap_page = cursor.page;
        a->heap_seen = cursor.seen;
        a->heap_next = cursor.next;
    } else {
        /* Slots this work-item holds would keep their page from a run of
         * free pages it may need. */
        carve_heap_give_back(hp, a->state);
        k = (carve_u32)((need + hp->page_bytes - 1u) / hp->page_bytes);
        p = carve_heap_alloc_large(hp, k, bytes, site, a->index, &contended);
    }
    if (p == 0) {
        *why = contended ? CARVE_FAIL_CONTENTION : CARVE_FAIL_OUT_OF_MEMORY;
        return 0;
    }
    a->state->heap_allocs += 1u;
    *why = CARVE_FAIL_NONE;
    return p;
}

/* Where a request goes and what it gets, with nothing counted as failed:
 * the arena first unless the request is large, then the heap if allowed.
 * `arena_said`: CARVE_FAIL_NONE, or why the arena (asked by a fast path)
 * could not serve it. */
CARVE_INLINE CARVE_GLOBAL void *carve_alloc_place(carve_arena *a,
                                                  carve_u64 bytes,
                                                  carve_u32 align,
                                                  carve_u32 site,
                                                  carve_u32 arena_said,
                                                  carve_u32 *why)
{
    int checks = (a->options & CARVE_OPTION_CHECKS) != 0u;
    carve_u64 need = bytes + (checks ? CARVE_GRANULE : 0u);
    CARVE_GLOBAL void *p = 0;
    int to_heap = a->heap_end != 0u && bytes >= a->large_bytes;
    if (bytes == 0u) {
        /* Before the redzone is added: 0 bytes is a NULL, not a failure,
         * with checks on as off. */
        a->state->zero_requests += 1u;
        *why = CARVE_FAIL_NONE;
        return 0;
    }
    *why = CARVE_FAIL_TOO_LARGE;
    if (bytes > 0xffffffffu - CARVE_GRANULE)
        return 0;
    if (!to_heap) {
        /* The fast path may have asked the arena already: it is not asked
         * twice (it may have found itself damaged the first time). */
        if (arena_said != CARVE_FAIL_NONE) {
            *why = arena_said;
        } else {
            p = carve_core_try_malloc(a, need, align, why);
            if (p != 0 || *why == CARVE_FAIL_NONE ||
                *why == CARVE_FAIL_BAD_ALIGNMENT || *why == CARVE_FAIL_CORRUPT)
                return p;
        }
        to_heap = a->heap_end != 0u &&
                  (a->options & CARVE_OPTION_HEAP_FALLBACK) != 0u;
    }
    if (to_heap) {
        if (align == 0u || (align & (align - 1u)) != 0u ||
            align > CARVE_MAX_ALIGN) {
            *why = CARVE_FAIL_BAD_ALIGNMENT;
            return 0;
        }
        p = carve_alloc_from_heap(a, need, align, bytes, site, why);
    }
    return p;
}

/* Gives a new block its redzone and its event. */
CARVE_INLINE CARVE_GLOBAL void *carve_alloc_finish(carve_arena *a,
                                                   CARVE_GLOBAL void *p,
                                                   carve_u64 bytes,
                                                   carve_u32 call,
                                                   carve_u32 site)
{
    carve_alloc_block b;
    carve_u32 off = carve_alloc_offset(a, p);
    if (a->options & CARVE_OPTION_CHECKS) {
        b.in_heap = carve_alloc_in_heap(a, p);
        b.heap.large = 0u;
        if (b.in_heap) {
            carve_heap_resolve_held(&a->heap, off - a->heap_begin, a->state,
                                    &b.heap);
            b.usable = b.heap.bytes;
        } else {
            /* The request or resize that made the block left its usable
             * size in the handle: no need to look it up again. */
            b.usable = a->granted;
        }
        carve_redzone_write(a, (CARVE_GLOBAL carve_u8 *)p,
                            carve_alloc_redzone_at(&b, (carve_u32)bytes),
                            (carve_u32)bytes, site, a->index);
    }
    carve_alloc_log_event(a, call, site, off, bytes);
    return p;
}

/* The slow path of every allocation: checks, heap, events. */
CARVE_COLD CARVE_GLOBAL void *carve_alloc_malloc_slow(carve_arena *a,
                                                        carve_u64 bytes,
                                                        carve_u32 align,
                                                        carve_u32 call,
                                                        carve_u32 site,
                                                        carve_u32 arena_said)
{
    carve_u32 why = CARVE_FAIL_NONE;
    CARVE_GLOBAL void *p;
    if (a->state == 0)
        return 0;
    p = carve_alloc_place(a, bytes, align, site, arena_said, &why);
    if (p == 0)
        return carve_alloc_failed(a, bytes, why, call, site);
    return carve_alloc_finish(a, p, bytes, call, site);
}

/* A fast-path request the arena did not serve (`why`): without a heap
 * fallback, a failure; with one, what it could not serve goes to the heap
 * without asking the arena again (which may have found itself damaged the
 * first time), and a corrupt arena or a bad alignment is the slow path's
 * to decide, as it was before these plans had a fast path. */
CARVE_COLD CARVE_GLOBAL void *carve_alloc_not_served(carve_arena *a,
                                                       carve_u64 bytes,
                                                       carve_u32 align,
                                                       carve_u32 call,
                                                       carve_u32 site,
                                                       carve_u32 why)
{
    if (!(a->options & CARVE_OPTION_HEAP_FALLBACK))
        return carve_alloc_failed(a, bytes, why, call, site);
    return carve_alloc_malloc_slow(
        a, bytes, align, call, site,
        why == CARVE_FAIL_OUT_OF_MEMORY || why == CARVE_FAIL_TOO_LARGE
            ? why
            : CARVE_FAIL_NONE);
}

/* carve_alloc_heap_request when the reservations held cannot serve the
 * request. */
CARVE_COLD CARVE_GLOBAL void *carve_alloc_heap_search(carve_arena *a,
                                                        carve_u64 bytes,
                                                        carve_u32 align,
                                                        carve_u32 call,
                                                        carve_u32 site)
{
    carve_u32 why = CARVE_FAIL_NONE;
    CARVE_GLOBAL void *p;
    /* large_bytes is at least 1 with a heap: bytes is not 0. */
    if (bytes > 0xffffffffu - CARVE_GRANULE || align == 0u ||
        (align & (align - 1u)) != 0u || align > CARVE_MAX_ALIGN)
        return carve_alloc_malloc_slow(a, bytes, align, call, site,
                                       CARVE_FAIL_NONE);
    p = carve_alloc_from_heap(a, bytes, align, bytes, site, &why);
    return p != 0 ? p : carve_alloc_failed(a, bytes, why, call, site);
}

/* A request that goes to the heap by its size on a plan with nothing to
 * check or log, aligned by `align` (a power of two) to at most a granule,
 * which a slot's start gives: the slow path's steps without the redzone
 * and the event. First the reservations the work-item holds, the class
 * found as carve_alloc_from_heap finds it; else the search, a separate
 * function so that this one stays small (a tail call, few registers).
 * Out of line, as the heap's free below (CARVE_COLD is only noinline):
 * inlined into the arena's fast paths, they cost every arena pair 1 to 3
 * instructions under GCC (callgrind, bench_host_pairs), 12 with mixed
 * sizes. */
CARVE_COLD CARVE_GLOBAL void *carve_alloc_heap_request(carve_arena *a,
                                                         carve_u64 bytes,
                                                         carve_u32 align,
                                                         carve_u32 call,
                                                         carve_u32 site)
{
    carve_u32 c;
    CARVE_GLOBAL void *p;
    if (bytes <= (a->heap.page_bytes >> 1)) {
        c = carve_heap_class_for(
            (carve_u32)((bytes + CARVE_GRANULE - 1u) >> CARVE_GRANULE_SHIFT));
        if (c < a->heap.class_count) {
            p = carve_heap_take_held(&a->heap, c, &a->heap_next, a->state);
            if (p != 0) {
                a->state->heap_allocs += 1u;
                return p;
            }
        }
    }
    return carve_alloc_heap_search(a, bytes, align, call, site);
}

/* Plans whose only option beyond the fast paths' is CARVE_OPTION_CHECKS:
 * an arena request on them takes the arena's path plus the redzone, and
 * an arena block's free the lookup, the redzone's check and the release,
 * without the general paths' branches for the heap, the event log and
 * corruption. */
#define CARVE_OPTION_CHECKED_PATH (CARVE_OPTION_FAST_PATH | CARVE_OPTION_CHECKS)

/* Whether the handle's plan is one the checked paths serve: checks on,
 * nothing beyond CARVE_OPTION_CHECKED_PATH. */
CARVE_INLINE int carve_alloc_checked_plan(const carve_arena *a)
{
    return (a->options & CARVE_OPTION_CHECKS) &&
           (a->options & ~CARVE_OPTION_CHECKED_PATH) == 0u;
}

/* A request below large_bytes on a plan of CARVE_OPTION_CHECKED_PATH: the
 * block with its redzone granule from the arena, the redzone written;
 * what the arena cannot serve goes on as from the fast path (the heap
 * fallback or a failure), and the requests the general path treats apart
 * (0 bytes, a size the redzone would overflow, a refused open) go there. */
CARVE_COLD CARVE_GLOBAL void *carve_alloc_checked_request(carve_arena *a,
                                                            carve_u64 bytes,
                                                            carve_u32 align,
                                                            carve_u32 call,
                                                            carve_u32 site)
{
    carve_u32 why = CARVE_FAIL_NONE;
    CARVE_GLOBAL void *p;
    if (bytes == 0u || bytes > 0xffffffffu - CARVE_GRANULE || a->state == 0)
        return carve_alloc_malloc_slow(a, bytes, align, call, site,
                                       CARVE_FAIL_NONE);
    p = carve_core_try_malloc(a, bytes + CARVE_GRANULE, align, &why);
    if (p == 0)
        return carve_alloc_not_served(a, bytes, align, call, site, why);
    /* The request left the block's usable size in the handle. */
    carve_redzone_write(a, (CARVE_GLOBAL carve_u8 *)p,
                        a->granted - CARVE_GRANULE, (carve_u32)bytes, site,
                        a->index);
    return p;
}

/* A request that is not the fast paths': the checked path's if the plan
 * and the size allow it, else the slow path. Out of line, so that the
 * inlined callers (the fast paths) stay as they were: deciding there cost
 * every arena pair 5 instructions (callgrind, bench_host_pairs). */
CARVE_COLD CARVE_GLOBAL void *carve_alloc_other_request(carve_arena *a,
                                                          carve_u64 bytes,
                                                          carve_u32 align,
                                                          carve_u32 call,
                                                          carve_u32 site)
{
    if (carve_alloc_checked_plan(a) && bytes < a->large_bytes)
        return carve_alloc_checked_request(a, bytes, align, call, site);
    return carve_alloc_malloc_slow(a, bytes, align, call, site,
                                   CARVE_FAIL_NONE);
}

/* An allocation for `call` at `site`: on a plan with nothing to check or
 * log (one test of the handle), the fast path of the arena, or of the heap
 * for a request that goes there by its size (the slow path's steps
 * without the redzone and the event); on a plan with checks alone, the
 * checked path for an arena request; else the slow path. */
CARVE_HOT CARVE_GLOBAL void *carve_alloc_request(carve_arena *a,
                                                    carve_u64 bytes,
                                                    carve_u32 align,
                                                    carve_u32 call,
                                                    carve_u32 site)
{
    carve_u32 why = CARVE_FAIL_NONE;
    CARVE_GLOBAL void *p;
    if ((a->options & ~CARVE_OPTION_FAST_PATH) == 0u) {
        if (bytes < a->large_bytes) {
            p = carve_core_try_malloc(a, bytes, align, &why);
            if (p != 0 || why == CARVE_FAIL_NONE)
                return p;
            return carve_alloc_not_served(a, bytes, align, call, site, why);
        }
        /* align is mostly a constant here: the test folds away. */
        if (a->heap_end != 0u)
            return align - 1u < CARVE_GRANULE && (align & (align - 1u)) == 0u
                       ? carve_alloc_heap_request(a, bytes, align, call, site)
                       : carve_alloc_heap_search(a, bytes, align, call, site);
    }
    return carve_alloc_other_request(a, bytes, align, call, site);
}

/* carve_malloc_aligned(a, bytes, align) at `site`. */
CARVE_HOT CARVE_GLOBAL void *carve_alloc_malloc(carve_arena *a,
                                                   carve_u64 bytes,
                                                   carve_u32 align,
                                                   carve_u32 site)
{
    return carve_alloc_request(a, bytes, align, CARVE_CALL_MALLOC, site);
}

CARVE_INLINE CARVE_GLOBAL void *carve_alloc_calloc(carve_arena *a,
                                                   carve_u64 count,
                                                   carve_u64 size,
                                                   carve_u32 site)
{
    CARVE_GLOBAL carve_u32 *w;
    carve_u64 bytes, i, words;
    carve_heap_block hb;
    if (a->state == 0)
        return 0;
    if (size != 0u && count > CARVE_U64_MAX / size)
        return carve_alloc_failed(a, 0xffffffffu, CARVE_FAIL_OVERFLOW,
                                  CARVE_CALL_CALLOC, site);
    bytes = count * size;
    w = (CARVE_GLOBAL carve_u32 *)carve_alloc_request(
        a, bytes, CARVE_DEFAULT_ALIGN, CARVE_CALL_CALLOC, site);
    if (w == 0)
        return 0;
    /* Without checks the caller may use the whole block, as
     * carve_usable_size says: all of it is zeroed. With checks, only the
     * bytes asked for: the redzone's canary follows them. */
    if (!(a->options & CARVE_OPTION_CHECKS)) {
        bytes = a->granted;
        if (carve_alloc_in_heap(a, w)) {
            carve_heap_resolve_held(&a->heap,
                                    carve_alloc_offset(a, w) - a->heap_begin,
                                    a->state, &hb);
            bytes = hb.bytes;
        }
    }
    /* Whole words up to the payload's end; the redzone's canary starts in
     * the last granule, so with checks the tail bytes are zeroed one by
     * one. */
    words = bytes >> 2;
    for (i = 0u; i < words; ++i)
        w[i] = 0u;
    for (i = words << 2; i < bytes; ++i)
        ((CARVE_GLOBAL carve_u8 *)w)[i] = 0u;
    return (CARVE_GLOBAL void *)w;
}

/* ---- free and realloc ---------------------------------------------------------- */

CARVE_COLD void carve_alloc_free_slow(carve_arena *a, CARVE_GLOBAL void *p,
                                        carve_u32 site)
{
    carve_alloc_block b;
    if (!carve_alloc_resolve(a, p, CARVE_CALL_FREE, site, &b))
        return;
    /* Logged before the release: once the block is back, another
     * work-item's allocation of it may be logged, and must come later. */
    carve_alloc_log_event(a, CARVE_CALL_FREE, site, carve_alloc_offset(a, p),
                          b.usable);
    carve_alloc_release(a, &b, CARVE_CALL_FREE, site);
}

/* carve_alloc_heap_free for a block not on the page the work-item holds
 * reservations on: resolved from its page's state. */
CARVE_COLD void carve_alloc_heap_free_other(carve_arena *a,
                                              CARVE_GLOBAL void *p,
                                              carve_u32 site)
{
    carve_alloc_block b;
    carve_u32 kind = carve_heap_resolve(
        &a->heap, carve_alloc_offset(a, p) - a->heap_begin, &b.heap);
    if (kind != CARVE_MISUSE_NONE) {
        carve_alloc_refuse(a, p, kind, CARVE_CALL_FREE, site);
        return;
    }
    b.start = (CARVE_GLOBAL carve_u8 *)p;
    b.in_heap = 1u;
    carve_alloc_release(a, &b, CARVE_CALL_FREE, site);
}

/* A heap block's free on a plan with nothing to check or log: the slow
 * path's steps without the checks' reads of the block and the event. On
 * the page the work-item holds, one pass (carve_heap_free_held) that
 * calls nothing but a tail call. */
CARVE_COLD void carve_alloc_heap_free(carve_arena *a, CARVE_GLOBAL void *p,
                                        carve_u32 site)
{
    carve_u32 kind = carve_heap_free_held(
        &a->heap, carve_alloc_offset(a, p) - a->heap_begin, a->state);
    if (kind == CARVE_MISUSE_NONE) {
        a->state->heap_frees += 1u;
        return;
    }
    if (kind == CARVE_HEAP_FREED_DROP) {
        a->state->heap_frees += 1u;
        carve_heap_drop(&a->heap, carve_alloc_offset(a, p) - a->heap_begin,
                        a->state);
        return;
    }
    if (kind != CARVE_NO_CLASS) {
        carve_alloc_refuse(a, p, kind, CARVE_CALL_FREE, site);
        return;
    }
    carve_alloc_heap_free_other(a, p, site);
}

/* The free of an arena block on a plan of CARVE_OPTION_CHECKED_PATH, the
 * arena not known corrupt: found, its redzone checked, released. A
 * damaged redzone goes to the general path, which reports it and frees
 * the block (finding a block changes nothing, so it is found again
 * there). */
CARVE_COLD void carve_alloc_checked_free(carve_arena *a, CARVE_GLOBAL void *p,
                                           carve_u32 site)
{
    carve_core_block b;
    carve_u32 usable;
    /* Set for compilers that cannot see carve_core_find sets them
     * whenever it returns nonzero. */
    b.g = b.n = b.slot = b.bytes = 0u;
    usable = carve_core_find(a, p, &b);
    if (usable == 0u) {
        carve_alloc_refused(a, p, a->state->last_misuse, CARVE_CALL_FREE,
                            site);
        return;
    }
    /* Exact for a plain block; a run's slot may hold less (b.n == 0). */
    if (carve_redzone_read(a, (CARVE_GLOBAL const carve_u8 *)p,
                           usable - CARVE_GRANULE, b.n != 0u)
            .damaged != 0u) {
        carve_alloc_free_slow(a, p, site);
        return;
    }
    carve_core_retire(a, &b);
}

/* A free that is not the fast paths': the checked path's for an arena
 * block if the plan allows it, else the slow path. Out of line for the
 * reason carve_alloc_other_request is. */
CARVE_COLD void carve_alloc_other_free(carve_arena *a, CARVE_GLOBAL void *p,
                                         carve_u32 site)
{
    if (carve_alloc_checked_plan(a) && !carve_alloc_in_heap(a, p) &&
        !(a->state->flags & CARVE_ARENA_CORRUPT))
        carve_alloc_checked_free(a, p, site);
    else
        carve_alloc_free_slow(a, p, site);
}

/* carve_free(a, p) at `site`. */
CARVE_HOT void carve_alloc_free(carve_arena *a, CARVE_GLOBAL void *p,
                                   carve_u32 site)
{
    carve_u32 kind;
    if (p == 0 || a->state == 0)
        return;
    if ((a->options & ~CARVE_OPTION_FAST_PATH) == 0u) {
        if (carve_alloc_in_heap(a, p)) {
            carve_alloc_heap_free(a, p, site);
            return;
        }
        /* An arena known corrupt goes the slow way: its free is logged,
         * but not counted as a refusal, so it must not set misuse_site. */
        if (!(a->state->flags & CARVE_ARENA_CORRUPT)) {
            kind = carve_core_free(a, p);
            if (kind != CARVE_MISUSE_NONE)
                carve_alloc_refused(a, p, kind, CARVE_CALL_FREE, site);
            return;
        }
    }
    carve_alloc_other_free(a, p, site);
}

/* Resizes a resolved block where it is, if it can: arena blocks through
 * the core; heap blocks when the new size fits the slot or pages. */
CARVE_INLINE int carve_alloc_resize(carve_arena *a, const carve_alloc_block *b,
                                    carve_u64 bytes, carve_u64 need)
{
    if (a->heap_end != 0u && bytes >= a->large_bytes && !b->in_heap)
        return 0; /* large now: it belongs in the heap */
    if (b->in_heap) {
        if (need > b->usable)
            return 0;
        if (b->heap.large) {
            CARVE_ATOMIC_XCHG(carve_heap_state(&a->heap, b->heap.page) + 1u,
                              (carve_u32)bytes);
        }
        return 1;
    }
    return carve_core_resize_in_place(a, &b->core, need);
}

/* The end of a realloc of the resolved (and counted) block b that could
 * not stay where it is: a new block, the old one's bytes copied, the old
 * one released. On failure b stays live and untouched. */
CARVE_INLINE CARVE_GLOBAL void *carve_alloc_realloc_move(
    carve_arena *a, CARVE_GLOBAL void *p, const carve_alloc_block *b,
    carve_u64 bytes, carve_u32 site)
{
    carve_u32 why = CARVE_FAIL_NONE;
    carve_u64 keep, i;
    CARVE_GLOBAL carve_u8 *q = (CARVE_GLOBAL carve_u8 *)carve_alloc_place(
        a, bytes, CARVE_DEFAULT_ALIGN, site, CARVE_FAIL_NONE, &why);
    if (q == 0)
        return carve_alloc_failed(a, bytes, why, CARVE_CALL_REALLOC, site);
    /* Whole words: both blocks are 8-byte aligned and at least keep
     * bytes rounded up to 8 long. */
    keep = ((b->requested < bytes ? b->requested : bytes) + 3u) >> 2;
    for (i = 0u; i < keep; ++i)
        ((CARVE_GLOBAL carve_u32 *)q)[i] =
            ((CARVE_GLOBAL const carve_u32 *)b->start)[i];
    carve_alloc_log_event(a, CARVE_CALL_REALLOC_FREE, site,
                          carve_alloc_offset(a, p), b->usable);
    carve_alloc_release(a, b, CARVE_CALL_REALLOC, site);
    return carve_alloc_finish(a, q, bytes, CARVE_CALL_REALLOC, site);
}

/* Every realloc the fast path below does not finish: NULL, a heap block,
 * a size of 0 or past the arena's, checks or events on, a refused
 * pointer. */
CARVE_COLD CARVE_GLOBAL void *carve_alloc_realloc_slow(carve_arena *a,
                                                         CARVE_GLOBAL void *p,
                                                         carve_u64 bytes,
                                                         carve_u32 site)
{
    carve_alloc_block b;
    if (a->state == 0)
        return 0;
    if (p == 0)
        return carve_alloc_malloc_slow(a, bytes, CARVE_DEFAULT_ALIGN,
                                       CARVE_CALL_REALLOC, site,
                                       CARVE_FAIL_NONE);
    if (!carve_alloc_resolve(a, p, CARVE_CALL_REALLOC, site, &b))
        return 0;
    a->state->realloc_count += 1u;
    if (bytes == 0u) {
        carve_alloc_log_event(a, CARVE_CALL_FREE, site,
                              carve_alloc_offset(a, p), b.usable);
        carve_alloc_release(a, &b, CARVE_CALL_REALLOC, site);
        return 0;
    }
    if (bytes > 0xffffffffu - CARVE_GRANULE)
        return carve_alloc_failed(a, bytes, CARVE_FAIL_TOO_LARGE,
                                  CARVE_CALL_REALLOC, site);
    if (carve_alloc_resize(
            a, &b, bytes,
            bytes + ((a->options & CARVE_OPTION_CHECKS) ? CARVE_GRANULE : 0u)))
        return carve_alloc_finish(a, p, bytes, CARVE_CALL_REALLOC, site);
    return carve_alloc_realloc_move(a, p, &b, bytes, site);
}

/* carve_realloc(a, p, bytes) at `site`: C semantics. realloc(NULL, n)
 * allocates; realloc(p, 0) frees p and returns NULL; on failure p stays
 * valid and untouched; a refused p returns NULL and is recorded.
 * The fast path is an arena block resized on a plan with nothing to log
 * or check: the block found (as free finds it) and grown or shrunk where
 * it is, which is what growing one output block by block mostly is; the
 * same steps as the slow path, without its redzone, event and heap
 * branches. */
CARVE_HOT CARVE_GLOBAL void *carve_alloc_realloc(carve_arena *a,
                                                    CARVE_GLOBAL void *p,
                                                    carve_u64 bytes,
                                                    carve_u32 site)
{
    carve_alloc_block b;
    if (p != 0 && a->state != 0 && bytes != 0u &&
        (a->options & ~CARVE_OPTION_FAST_PATH) == 0u &&
        bytes < a->large_bytes && bytes <= 0xffffffffu - CARVE_GRANULE &&
        !carve_alloc_in_heap(a, p) &&
        !(a->state->flags & CARVE_ARENA_CORRUPT)) {
        b.usable = carve_core_find(a, p, &b.core);
        if (b.usable == 0u) {
            carve_alloc_refused(a, p, a->state->last_misuse,
                                CARVE_CALL_REALLOC, site);
            return 0;
        }
        a->state->realloc_count += 1u;
        if (carve_core_resize_in_place(a, &b.core, bytes))
            return p;
        b.start = (CARVE_GLOBAL carve_u8 *)p;
        b.in_heap = 0u;
        b.requested = b.usable;
        b.alloc_site = 0u;
        b.rz = 0u;
        return carve_alloc_realloc_move(a, p, &b, bytes, site);
    }
    return carve_alloc_realloc_slow(a, p, bytes, site);
}

/* Bytes the caller may use in the live block p: the requested size with
 * checks on, else the whole block; 0 (recorded) if p is not one. */
CARVE_INLINE carve_u64 carve_alloc_usable_size(carve_arena *a,
                                               CARVE_GLOBAL void *p,
                                               carve_u32 site)
{
    carve_alloc_block b;
    if (p == 0 || a->state == 0 ||
        !carve_alloc_resolve(a, p, CARVE_CALL_USABLE_SIZE, site, &b))
        return 0u;
    return b.requested;
}

#endif /* CARVE_ALLOC_H */
