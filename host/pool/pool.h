/*
 * pool.h - a bounded-time allocator over a range of offsets [0, capacity),
 * with all of its metadata outside that range.
 *
 * Regions of shared memory use it: a device (or a buggy kernel) can write
 * anywhere in the region, so nothing the allocator relies on may live
 * there. Blocks are described by descriptors in host memory; a two-level
 * page table maps a block's first unit back to its descriptor, so free is
 * O(1) without a search.
 *
 * Scheme: TLSF (two-level segregated fit). Sizes are in units (the pool's
 * minimum alignment, a power of two); free blocks sit in lists by class
 * (16 classes per power of two), found through two levels of bitmaps.
 * Allocation rounds the request up to a class boundary, so the first block
 * of the first non-empty class fits ("good fit"); free merges with both
 * physical neighbours.
 *
 * Cost of every call: O(1) in the number of blocks (a constant number of
 * bitmap scans and list operations); a call may allocate one chunk of
 * descriptors or one page-table leaf from the host heap.
 * Not thread-safe: callers lock (the region layer does).
 */
#ifndef CARVE_POOL_H
#define CARVE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "carve/carve.h"

typedef struct carve__pool carve__pool;

typedef struct carve__pool_stats {
    uint64_t capacity;
    uint64_t in_use;         /* bytes in live blocks (unit-rounded) */
    uint64_t peak_in_use;
    uint64_t requested;      /* bytes asked for by live allocations */
    uint64_t largest_free;   /* the largest block a request could get */
    uint64_t live_blocks;
    uint64_t free_blocks;
    uint64_t alloc_count;
    uint64_t free_count;
    uint64_t failed_count;   /* requests that found no room */
} carve__pool_stats;

/* A pool of `capacity` bytes (a multiple of unit) in units of `unit` bytes
 * (a power of two, 16 or more). Fails with INVALID_ARGUMENT or
 * OUT_OF_HOST_MEMORY. */
carve_status carve__pool_create(uint64_t capacity, uint64_t unit,
                                carve__pool **out);
void carve__pool_destroy(carve__pool *pool);

/* Allocates `bytes` (> 0) at an offset aligned to `align` (a power of two;
 * values below the unit mean the unit). Fails with INVALID_ARGUMENT,
 * OUT_OF_HOST_MEMORY (metadata), or CL_MEM_OBJECT_ALLOCATION_FAILURE when
 * no free block fits (counted in failed_count). */
carve_status carve__pool_alloc(carve__pool *pool, uint64_t bytes,
                               uint64_t align, uint64_t *offset);

/* Frees the live block starting at `offset`. INVALID_ARGUMENT if none. */
carve_status carve__pool_free(carve__pool *pool, uint64_t offset);

/* Changes the live block at `offset` to `bytes` (> 0) without moving it, if
 * it can (shrinking always can; growing needs free space right after it).
 * Fails with INVALID_ARGUMENT (no such block) or
 * CL_MEM_OBJECT_ALLOCATION_FAILURE (cannot grow in place; not counted). */
carve_status carve__pool_resize(carve__pool *pool, uint64_t offset,
                                uint64_t bytes);

/* The live block starting at `offset`: its usable size and requested size,
 * and a pointer to its user slot (for the layer above); 0 if none. */
int carve__pool_find(const carve__pool *pool, uint64_t offset, uint64_t *size,
                     uint64_t *requested, void ***user);

/* The live block holding byte `offset` (its start or any byte of it): 1
 * with its start in *start, or 0. O(blocks before it): for a refusal's
 * reason or a rare query, not for a hot path. */
int carve__pool_find_holding(const carve__pool *pool, uint64_t offset,
                             uint64_t *start);

/* Calls visit(offset, size, requested, user, context) for every live block
 * in address order. O(blocks). */
void carve__pool_walk(const carve__pool *pool,
                      void (*visit)(uint64_t offset, uint64_t size,
                                    uint64_t requested, void *user,
                                    void *context),
                      void *context);

void carve__pool_get_stats(const carve__pool *pool, carve__pool_stats *out);

/* Checks every invariant (tiling of the range, no adjacent free blocks,
 * list and bitmap consistency, page table, statistics). Returns 0 if they
 * hold, else a short description of the first broken one. O(blocks). */
const char *carve__pool_check(const carve__pool *pool);

#endif /* CARVE_POOL_H */
