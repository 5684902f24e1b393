/*
 * carve_abi.h - what the host and the device share about a carved buffer:
 * the fixed-width types, the layouts of its header, state entries and log
 * records, and the codes they hold. No code: the public host header
 * (carve/carve.h) includes this and nothing else of kernels/, and the
 * allocator (carve_core.h) builds on it. Compiled as C99, C++ and OpenCL
 * C 1.2; every layout is pinned by static asserts in host/layout.c.
 */
#ifndef CARVE_ABI_H
#define CARVE_ABI_H

#ifdef __OPENCL_C_VERSION__
typedef uchar carve_u8;
typedef uint carve_u32;
typedef ulong carve_u64;
#else
#include <stdint.h>
typedef uint8_t carve_u8;
typedef uint32_t carve_u32;
typedef uint64_t carve_u64;
#endif

#define CARVE_GRANULE 16u
#define CARVE_GRANULE_SHIFT 4u
#define CARVE_MAX_ALIGN 128u
#define CARVE_SET_MAGIC 0x45565243u /* "CRVE" little-endian */
/* 4: the state entry holds the work-item's heap reservations (see below).
 * 5: a redzone's check word is computed without a final mixing step
 * (carve_alloc.h). A kernel built against another version's headers finds
 * every open refused. */
#define CARVE_SET_VERSION 5u
/* Largest arena: granule indices and byte offsets must fit 32 bits. */
#define CARVE_MAX_ARENA_GRANULES (1u << 27)

/* Why a request returned NULL (carve_arena_state.last_failure). */
/* A request for 0 bytes is not a failure: it returns NULL, as C allows,
 * and is counted in zero_requests. */
#define CARVE_FAIL_NONE 0u
#define CARVE_FAIL_TOO_LARGE 1u     /* larger than the arena (and the heap) */
#define CARVE_FAIL_OUT_OF_MEMORY 2u /* fits, but no room left */
#define CARVE_FAIL_BAD_ALIGNMENT 3u /* not a power of two, or above 128 */
#define CARVE_FAIL_OVERFLOW 4u      /* calloc count * size overflows */
#define CARVE_FAIL_CORRUPT 5u       /* the arena was found corrupt earlier */
#define CARVE_FAIL_NO_ARENA 6u      /* the handle is not an open arena */
#define CARVE_FAIL_CONTENTION 7u    /* shared heap: retries ran out */

/* Why a pointer passed to free/realloc was refused (last_misuse), and the
 * kind of a record in the error log. */
#define CARVE_MISUSE_NONE 0u
#define CARVE_MISUSE_FOREIGN 1u     /* not in this set's arenas or heap */
#define CARVE_MISUSE_INTERIOR 2u    /* inside a live block, not its start */
#define CARVE_MISUSE_NOT_LIVE 3u    /* memory never handed out */
#define CARVE_MISUSE_CORRUPT 4u     /* allocator metadata found damaged */
#define CARVE_MISUSE_FREED 5u       /* free memory: a double free or a stale
                                       pointer */
#define CARVE_MISUSE_OTHER_ARENA 6u /* another work-item's arena */
#define CARVE_MISUSE_OVERFLOW 7u    /* a write past the end of the block
                                       damaged its redzone (checks on) */
#define CARVE_MISUSE_KINDS 8u

/* carve_arena_state.flags */
#define CARVE_ARENA_OPENED 1u
#define CARVE_ARENA_CLOSED 2u
#define CARVE_ARENA_CORRUPT 4u

/* carve_set_header.options */
#define CARVE_OPTION_CHECKS 1u        /* redzones after every block */
#define CARVE_OPTION_HEAP_FALLBACK 2u /* a full arena borrows from the heap */
#define CARVE_OPTION_EVENTS 4u        /* the event log is on */
#define CARVE_OPTION_RUNS 8u          /* small requests are served from runs
                                         (carve_core.h's run classes) */

/*
 * The header at offset 0 of a carved buffer. Written by the host, read by
 * every work-item; the device writes only the counters marked atomic.
 * Every part is optional but the state table and the arenas: a part with
 * capacity 0 is absent.
 */
typedef struct carve_set_header {
    carve_u32 magic;
    carve_u32 version;
    carve_u32 header_bytes;
    carve_u32 total_bytes;
    carve_u32 arena_count;
    carve_u32 arena_granules;
    carve_u32 arena_stride;  /* bytes from one arena's payload to the next */
    carve_u32 arenas_offset; /* first arena's payload, from the base */
    carve_u32 state_offset;  /* the per-arena state table, from the base */
    carve_u32 state_stride;  /* bytes per state entry */
    carve_u32 class_count;
    carve_u32 class_words;   /* 32-bit words of the non-empty-class bitmap */
    carve_u32 bitmap_words;  /* words of each of the start and end bitmaps */
    carve_u32 options;       /* CARVE_OPTION_* */
    carve_u32 open_failures; /* atomic: carve_arena_open calls refused */
    carve_u32 generation;    /* bumped by every host reset */
    carve_u32 large_bytes;   /* requests of this size or more go to the
                                heap; 0: none do */
    carve_u32 error_offset;  /* the error log: carve_error_record[] */
    carve_u32 error_capacity;
    carve_u32 error_count;   /* atomic: errors seen (kept: min(count, cap)) */
    carve_u32 event_offset;  /* the event log: carve_event_record[] */
    carve_u32 event_capacity;
    carve_u32 event_count;   /* atomic: events seen */
    carve_u32 heap_offset;   /* the shared heap's first page */
    carve_u32 heap_pages;
    carve_u32 heap_page_bytes;
    carve_u32 heap_meta_offset; /* per page: a state word and a bitmap */
    carve_u32 heap_meta_stride; /* bytes per page entry */
    carve_u32 heap_map_offset;  /* hint bitmaps: used, then room per class */
    carve_u32 heap_map_words;   /* words of each hint bitmap */
    carve_u32 heap_class_count;
    carve_u32 first_arena;   /* the launch-wide index of arena 0: past 0
                                for a slice of a split launch (carve/split.h);
                                carve_core_open subtracts it */
} carve_set_header;

/*
 * One entry of the state table: statistics plus the allocator's metadata.
 * All-zero is a valid empty arena, so a reset is a memset of the table and
 * never touches arena bytes. The entry is followed in memory by
 * class_bits[class_words], start_bits[bitmap_words],
 * end_bits[bitmap_words], run_heads[run classes (see
 * carve_core_run_classes)] and heads[class_count].
 *
 * The order is for the cache: what only failures and refusals write comes
 * first, then the words every request reads or writes, then the bitmaps,
 * so that a work-item's malloc, realloc and free mostly touch one or two
 * cache lines of its entry; the free-list heads, read only once blocks
 * have been freed, come last. (Measured with cachegrind on the
 * variable-length output workload: one L1 miss less per work-item.)
 */
typedef struct carve_arena_state {
    carve_u32 failed_count;   /* requests that returned NULL */
    carve_u32 last_failure;   /* CARVE_FAIL_* of the latest failure */
    carve_u32 largest_failed; /* bytes of the largest failed request */
    carve_u32 misuse_count;   /* pointers refused by free/realloc */
    carve_u32 last_misuse;    /* CARVE_MISUSE_* of the latest refusal */
    carve_u32 zero_requests;  /* requests for 0 bytes (NULL, not a failure) */
    carve_u32 failure_site;   /* call site of the latest failure */
    carve_u32 misuse_site;    /* call site of the latest refusal */
    carve_u32 heap_allocs;    /* this work-item's allocations in the heap */
    carve_u32 heap_frees;     /* heap blocks this work-item freed */
    carve_u32 heap_hold_page; /* page + 1 of the heap page this work-item
                                 holds reservations on; 0: none */
    carve_u32 heap_hold;      /* class << 24 | reservations held there
                                 beyond its live blocks (carve_heap.h) */

    carve_u32 root;           /* an offset the kernel leaves for the host */
    carve_u32 realloc_count;  /* reallocs of a live block, moved or not */
    carve_u32 free_count;     /* successful frees in the arena */
    carve_u32 alloc_count;    /* successful allocations in the arena */
    carve_u32 live_blocks;    /* live blocks, small ones in runs included */
    carve_u32 live_peak;      /* high-water of live_granules */
    carve_u32 live_granules;  /* granules of live blocks: a slot counts its
                                 size rounded up to granules, so that runs
                                 leave the figure what the requests alone
                                 make it */
    carve_u32 bump_peak;      /* highest bump: the footprint high-water */
    carve_u32 flags;          /* CARVE_ARENA_* */
    carve_u32 bump;           /* granules handed out from the bottom */
} carve_arena_state;

#define CARVE_STATE_FIXED_WORDS 22u

/* A record of the error log: one misuse or damage found on the device. */
typedef struct carve_error_record {
    carve_u32 kind;       /* CARVE_MISUSE_* */
    carve_u32 call;       /* CARVE_CALL_* that found it */
    carve_u32 arena;      /* the work-item (arena index) that called */
    carve_u32 site;       /* the call's source line (CARVE_SITE) */
    carve_u32 offset;     /* the pointer, from the buffer's base; 0: none */
    carve_u32 bytes;      /* the block's requested bytes, if known */
    carve_u32 alloc_site; /* where the block was allocated, if known */
    carve_u32 detail;     /* OTHER_ARENA: the owner; OVERFLOW: the first
                             damaged byte's offset from the block */
} carve_error_record;

/* carve_error_record.call and carve_event_record kinds */
#define CARVE_CALL_MALLOC 1u
#define CARVE_CALL_CALLOC 2u
#define CARVE_CALL_REALLOC 3u
#define CARVE_CALL_FREE 4u
#define CARVE_CALL_REALLOC_FREE 5u /* event: the block a realloc moved from */
#define CARVE_CALL_FAILED 6u       /* event: a request that returned NULL */
#define CARVE_CALL_HOST_CHECK 7u   /* error: found by the host's walk */
#define CARVE_CALL_USABLE_SIZE 8u

/* A record of the event log: kind and site share a word. */
typedef struct carve_event_record {
    carve_u32 kind_site; /* CARVE_CALL_* << 24 | site & 0xffffff */
    carve_u32 arena;     /* the work-item (arena index) */
    carve_u32 offset;    /* the block, from the buffer's base */
    carve_u32 bytes;     /* requested (malloc, realloc, failed) or the
                            block's usable bytes (free) */
} carve_event_record;

#define CARVE_EVENT_KIND(record) ((record).kind_site >> 24)
#define CARVE_EVENT_SITE(record) ((record).kind_site & 0xffffffu)

/* What carve_core_check found (CARVE_CHECK_*) in an arena, and
 * carve_heap_check (CARVE_HEAP_CHECK_*) in the shared heap: the detail of
 * a report's errors of call CARVE_CALL_HOST_CHECK. */
#define CARVE_CHECK_OK 0u
#define CARVE_CHECK_NO_ARENA 1u      /* the handle is not an open arena */
#define CARVE_CHECK_BUMP 2u          /* bump beyond the arena */
#define CARVE_CHECK_STALE_BITS 3u    /* a bitmap bit at or above bump */
#define CARVE_CHECK_TILING 4u        /* a block with no valid extent */
#define CARVE_CHECK_FREE_NEIGHBOUR 5u /* free block touching free space */
#define CARVE_CHECK_FREE_LINKS 6u    /* list links inconsistent */
#define CARVE_CHECK_LIST_COUNT 7u    /* lists and walk disagree (cycle, stray) */
#define CARVE_CHECK_CLASS_BITS 8u    /* class bit disagrees with its list */
#define CARVE_CHECK_STATS 9u         /* statistics disagree with the walk */
#define CARVE_CHECK_CORRUPT_FLAG 10u /* the arena flagged itself corrupt */
#define CARVE_CHECK_RUN 11u          /* a run's header or bits inconsistent */
#define CARVE_CHECK_RUN_LIST 12u     /* a run list wrong: links, a full run
                                        listed, an empty one not at its head */

#define CARVE_HEAP_CHECK_OK 0u
#define CARVE_HEAP_CHECK_STATE 20u    /* a state word no page can have */
#define CARVE_HEAP_CHECK_COUNT 21u    /* count differs from the bitmap */
#define CARVE_HEAP_CHECK_BITMAP 22u   /* bits set where no slot is */
#define CARVE_HEAP_CHECK_RUN 23u      /* a large block's pages disagree */
#define CARVE_HEAP_CHECK_USED_HINT 24u  /* used map differs from states */
#define CARVE_HEAP_CHECK_ROOM_HINT 25u  /* a page with room lacks its hint */
#define CARVE_HEAP_CHECK_HOLD 26u     /* a work-item's held reservations name
                                         no page of their class, or more
                                         than the page's count leaves */

#endif /* CARVE_ABI_H */
