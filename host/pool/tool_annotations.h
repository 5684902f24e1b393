/*
 * tool_annotations.h - tells Valgrind's memcheck and AddressSanitizer what
 * the host pools hand out, so that they report a use after carve_zc_free /
 * __free_ddr and a touch past the requested size of a live allocation, as
 * they would for malloc.
 *
 * What the tools see:
 * - a region (or TI tier) starts wholly inaccessible: free space is never
 *   the program's to touch;
 * - an allocation makes exactly its requested bytes accessible; the slack
 *   up to the end of its pool block (the rounding to the pool's unit)
 *   stays inaccessible, so an overflow past the requested size is caught
 *   even where it lands inside the block;
 * - a free makes the whole block inaccessible again;
 * - a released region is handed back wholly accessible, because whoever
 *   owns that memory next (the OpenCL runtime, munmap, the user's own
 *   memory) must not inherit carve's markings.
 *
 * Valgrind's client requests come from <valgrind/memcheck.h> when CMake
 * found it (CARVE_HAVE_VALGRIND); they cost a few instructions outside
 * Valgrind. ASan's manual poisoning is compiled in only when the library
 * itself is built with -fsanitize=address. Without either, every call is
 * an empty inline function.
 *
 * Ordering rule for callers (pools are shared between threads): mark a
 * block freed BEFORE giving it back to the pool, and allocated AFTER taking
 * it, so a block that another thread takes at once is never re-poisoned.
 *
 * The device is not annotated: kernels run from code the tools do not
 * instrument (ASan) or that only touches allocations (memcheck).
 */
#ifndef CARVE_TOOL_ANNOTATIONS_H
#define CARVE_TOOL_ANNOTATIONS_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"

#if defined(CARVE_HAVE_VALGRIND)
#include <valgrind/memcheck.h>
#define CARVE__VALGRIND 1
#else
#define CARVE__VALGRIND 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CARVE__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CARVE__ASAN 1
#endif
#endif
#ifndef CARVE__ASAN
#define CARVE__ASAN 0
#endif
#if CARVE__ASAN
#include <sanitizer/asan_interface.h>
#endif

/* Marks [p, p + bytes) as memory the program must not touch. */
static inline void carve__annotate_no_access(void *p, uint64_t bytes)
{
    if (p == NULL || bytes == 0)
        return;
#if CARVE__VALGRIND
    VALGRIND_MAKE_MEM_NOACCESS(p, (size_t)bytes);
#endif
#if CARVE__ASAN
    ASAN_POISON_MEMORY_REGION(p, (size_t)bytes);
#endif
}

/* A region (or tier) of `bytes` at base now belongs to a pool: all free. */
static inline void carve__annotate_region_created(void *base, uint64_t bytes)
{
    carve__annotate_no_access(base, bytes);
}

/* The region goes back to whoever provided it: every byte accessible and
 * defined again. Call after the live blocks were annotated as freed. */
static inline void carve__annotate_region_released(void *base, uint64_t bytes)
{
    if (base == NULL || bytes == 0)
        return;
#if CARVE__VALGRIND
    VALGRIND_MAKE_MEM_DEFINED(base, (size_t)bytes);
#endif
#if CARVE__ASAN
    ASAN_UNPOISON_MEMORY_REGION(base, (size_t)bytes);
#endif
}

/* A block of `usable` bytes at p was handed out for `requested` bytes. */
static inline void carve__annotate_allocated(void *p, uint64_t requested,
                                             uint64_t usable)
{
    if (p == NULL)
        return;
#if CARVE__VALGRIND
    VALGRIND_MALLOCLIKE_BLOCK(p, (size_t)requested, 0, 0);
#endif
#if CARVE__ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, (size_t)requested);
#endif
    if (usable > requested)
        carve__annotate_no_access((unsigned char *)p + requested,
                                  usable - requested);
}

/* The live block at p (`usable` bytes) is about to go back to its pool. */
static inline void carve__annotate_freed(void *p, uint64_t usable)
{
    if (p == NULL)
        return;
#if CARVE__VALGRIND
    VALGRIND_FREELIKE_BLOCK(p, 0);
#endif
    carve__annotate_no_access(p, usable);
}

/* The live block at p changed in place from (old_requested, old_usable) to
 * (requested, usable); bytes both sizes share keep their state. */
static inline void carve__annotate_resized(void *p, uint64_t old_requested,
                                           uint64_t old_usable,
                                           uint64_t requested,
                                           uint64_t usable)
{
    uint64_t end = usable > old_usable ? usable : old_usable;
    if (p == NULL)
        return;
#if CARVE__VALGRIND
    VALGRIND_RESIZEINPLACE_BLOCK(p, (size_t)old_requested, (size_t)requested,
                                 0);
#else
    (void)old_requested;
#endif
#if CARVE__ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, (size_t)requested);
#endif
    carve__annotate_no_access((unsigned char *)p + requested, end - requested);
}

/* For callers that only hold an offset: if a live block of `pool` starts at
 * `offset` (host address p), annotates it as freed; else does nothing, so a
 * refused free changes nothing. Call before carve__pool_free. O(1). */
static inline void carve__annotate_pool_free(const carve__pool *pool,
                                             uint64_t offset, void *p)
{
    uint64_t usable = 0;
    if (carve__pool_find(pool, offset, &usable, NULL, NULL))
        carve__annotate_freed(p, usable);
}

/* The same after carve__pool_alloc gave `offset` for `requested` bytes. */
static inline void carve__annotate_pool_alloc(const carve__pool *pool,
                                              uint64_t offset, void *p,
                                              uint64_t requested)
{
    uint64_t usable = 0;
    if (carve__pool_find(pool, offset, &usable, NULL, NULL))
        carve__annotate_allocated(p, requested, usable);
}

#endif /* CARVE_TOOL_ANNOTATIONS_H */
