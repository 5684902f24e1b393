/*
 * carve/diagnostics.h - what went wrong in a launch, and how much memory it
 * really needed.
 *
 *   - The post-mortem report (carve_layout_report): after a kernel, the host
 *     walks every arena and the shared heap with the allocator's own code,
 *     checks every invariant and every live block's redzone, reads the
 *     device's error log, and reports errors, leaks by call site, failures,
 *     per-work-item high-water marks and totals, as text or JSON.
 *   - Event log files (carve_layout_save_events, carve_event_log_load): the
 *     allocation events a plan with an event log recorded, saved with what
 *     is needed to read them, for `carve log` or for the analysis below.
 *   - Event analysis (carve_event_log_analyze): per call site and per
 *     work-item statistics, leaks, peak use and a size histogram.
 *   - Plan fitting (carve_layout_fit, carve_event_log_fit): the smallest arena
 *     (and overflow heap) that a profiling run shows would have served
 *     every work-item, or a chosen percentile of them.
 *
 * A call site is CARVE_FILE_ID << 20 | __LINE__ of the kernel's call (see
 * carve.clh); 0 (CARVE_SITE_UNKNOWN) means it is not known. Every function
 * here works on a quiescent image (no kernel running) or on loaded files,
 * never talks to OpenCL, and, like the rest of carve, never prints unless
 * asked to print and never exits. Objects returned here are immutable and
 * may be read from several threads; release each once.
 */
#ifndef CARVE_DIAGNOSTICS_H
#define CARVE_DIAGNOSTICS_H

#include "carve.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes of this header (carve's range; carve_status_string names
 * them). */
#define CARVE_ERROR_IO (-7023)      /* a file could not be opened, read or
                                       written; errno says why */
#define CARVE_ERROR_BAD_LOG (-7024) /* not a carve event log file, or one that
                                       is truncated, damaged or of an
                                       unknown version */

#define CARVE_SITE_UNKNOWN 0u
#define CARVE_WORK_ITEM_UNKNOWN 0xffffffffu
#define CARVE_SITE_FILE(site) ((uint32_t)(site) >> 20)
#define CARVE_SITE_LINE(site) ((uint32_t)(site) & 0xfffffu)

typedef enum carve_format {
    CARVE_FORMAT_TEXT = 0, /* for people; the layout may change */
    CARVE_FORMAT_JSON = 1  /* for programs; keys are only ever added */
} carve_format;

/* ---- the post-mortem report ---------------------------------------------- */

/* Errors, leaks and failures, grouped. What each field means depends on
 * the list the group is in. */
typedef struct carve_report_group {
    uint32_t kind;            /* errors: CARVE_MISUSE_*; failures: the
                                 CARVE_FAIL_*; leaks: 0 */
    uint32_t call;            /* errors: CARVE_CALL_*; otherwise 0 */
    uint32_t site;            /* the call site (errors found by the host:
                                 the block's allocation site), or
                                 CARVE_SITE_UNKNOWN */
    uint32_t work_items;      /* distinct work-items in the group; heap
                                 blocks of unknown owner count in `count`
                                 but are no work-item */
    uint32_t first_work_item; /* the lowest of them (or UNKNOWN) */
    uint32_t first_offset;    /* errors, leaks: one block's offset */
    uint64_t count;           /* errors: records; leaks: blocks; failures:
                                 failed requests of these work-items */
    uint64_t bytes;           /* leaks: their bytes (requested when known,
                                 else the blocks' usable bytes); failures:
                                 the largest failed request */
} carve_report_group;

/* A work-item's high-water marks. */
typedef struct carve_report_peak {
    uint32_t work_item;
    uint64_t footprint_bytes; /* the arena size it needed (bump high-water) */
    uint64_t in_use_bytes;    /* the most bytes its live blocks held */
} carve_report_peak;

/* A distribution over all work-items; percentiles are nearest-rank. */
typedef struct carve_report_spread {
    uint64_t max, p50, p90, p99;
    double mean;
} carve_report_spread;

/* carve_report.sites_from: how leak sites were found. */
#define CARVE_REPORT_SITES_REDZONES 1u /* each block's redzone (checks on) */
#define CARVE_REPORT_SITES_EVENTS 2u   /* a complete event log */

typedef struct carve_report {
    carve_summary summary;  /* totals, as carve_layout_summary gives them */
    uint32_t options;       /* CARVE_OPTION_* of the plan */
    uint32_t arena_bytes;
    uint32_t list_limit;    /* the longest list the text shows: the `top`
                               the report was made with */
    /* Invariants: arenas failing carve_core_check (their blocks are not
     * walked), and the heap's CARVE_HEAP_CHECK_* (0: it holds; otherwise
     * its blocks are not walked, or, for a large block whose size word
     * exceeds its pages (CARVE_HEAP_CHECK_RUN), not from that block on).
     * Each failure is also an error below, kind CARVE_MISUSE_CORRUPT,
     * detail the broken code. */
    uint32_t broken_arenas;
    uint32_t heap_broken;
    /* Errors: the records the device's error log kept, in its order, then
     * what the host's walk found, with call CARVE_CALL_HOST_CHECK: damaged
     * redzones of live blocks (kind OVERFLOW; arena: the block's owner;
     * site and alloc_site: where the block was allocated, when known;
     * detail: the first damaged byte's offset from the block), and broken
     * invariants (kind CORRUPT; arena CARVE_HEAP_INDEX for the heap; site
     * unknown; detail: the CARVE_CHECK_* or CARVE_HEAP_CHECK_* code). */
    const carve_error_record *errors;
    size_t error_count;
    uint32_t device_errors;  /* the first device_errors of errors[] */
    uint32_t errors_dropped; /* errors the device counted but had no room
                                for */
    /* Work-items that found no arena (summary.open_failures: an index past
     * the plan's arenas) are errors too: the report counts and prints them
     * with the advice to launch the planned NDRange. */
    const carve_report_group *error_groups; /* by kind, call and site;
                                               most frequent first */
    size_t error_group_count;
    /* Leaks: blocks still live at the end, grouped by allocation site;
     * most bytes first. Whether a live block is a leak is the kernel's
     * call (results left for the host are live too). */
    uint32_t sites_from;   /* CARVE_REPORT_SITES_*; 0: sites are unknown
                              but for large heap blocks, whose header
                              keeps theirs */
    uint64_t leaked_blocks;
    uint64_t leaked_bytes;
    const carve_report_group *leaks;
    size_t leak_count;
    /* Failed requests, grouped by each work-item's latest failure (reason
     * and site: the arena keeps only its latest); most requests first. */
    const carve_report_group *failures;
    size_t failure_count;
    /* High-water marks over every work-item, and the top ones by
     * footprint. */
    carve_report_spread footprint;
    carve_report_spread in_use;
    const carve_report_peak *top;
    size_t top_count;
} carve_report;

/* Builds the report of the image at `mem` (see carve_layout_*), naming at
 * most `top` work-items by high-water mark (0 means 10). The image must be
 * quiescent and is only read. *report is set to a new report (NULL on
 * failure), to be freed with carve_report_release. Fails with
 * INVALID_ARGUMENT on NULL or a misaligned mem, CORRUPT_SET if mem holds
 * no valid header, or OUT_OF_HOST_MEMORY; a broken arena or heap is not a
 * failure but part of the report. O(arenas x (bitmap words + blocks) +
 * heap pages x bitmap words + errors + events), plus sorting. Thread-safe
 * for distinct reports. */
CARVE_API carve_status carve_layout_report(const void *mem, uint32_t top,
                                 carve_report **report);

/* Frees a report. NULL does nothing. */
CARVE_API void carve_report_release(carve_report *report);

/* Writes the report as text or JSON. Fails with INVALID_ARGUMENT on NULL
 * or an unknown format (printing nothing), CARVE_ERROR_IO if the stream
 * reports an error once it is flushed (a full disk, a stream opened for
 * reading). */
CARVE_API carve_status carve_report_print(const carve_report *report, FILE *stream,
                                carve_format format);

/* ---- event logs -------------------------------------------------------------- */

/* What is needed to read a log's records, from the image it came from. */
typedef struct carve_event_log_info {
    uint32_t options;         /* CARVE_OPTION_* of the plan */
    uint32_t arena_count;
    uint32_t arena_bytes;     /* usable bytes per arena */
    uint32_t arenas_offset;   /* first arena, from the buffer's base */
    uint32_t arena_stride;
    uint32_t large_bytes;     /* requests this large went to the heap; 0:
                                 no heap */
    uint32_t heap_offset;
    uint32_t heap_pages;
    uint32_t heap_page_bytes;
    uint32_t total_bytes;     /* the image */
    uint32_t error_capacity;
    uint32_t event_capacity;
    uint32_t events_seen;     /* events the device produced */
    uint32_t events_kept;     /* of them, the first ones the log had room
                                 for: min(seen, capacity) */
} carve_event_log_info;

/* One arena's statistics at the time the log was taken. */
typedef struct carve_event_arena {
    uint32_t footprint_bytes; /* peak_footprint_bytes: the arena it needed */
    uint32_t in_use_bytes;    /* peak_in_use_bytes */
    uint32_t failed_count;
    uint32_t heap_allocs;
} carve_event_arena;

/* The functions taking a log trust what carve made (carve_layout_event_log,
 * carve_event_log_read); one made by hand is refused (INVALID_ARGUMENT,
 * nothing of it read) when its fields disagree: records counted but NULL,
 * a geometry no plan has (carve_event_log_read's checks), events_kept
 * other than min(events_seen, event_capacity), or arena_records neither 0
 * nor info.arena_count. Its records and statistics are not judged: the
 * analysis counts impossible records as anomalies. */
typedef struct carve_event_log {
    carve_event_log_info info;
    const carve_event_record *events; /* info.events_kept, in log order */
    const carve_event_arena *arenas;  /* arena_records of them, or NULL */
    uint32_t arena_records;           /* info.arena_count, or 0 */
} carve_event_log;

/* A copy of the event log of the image at `mem` (and of every arena's
 * statistics, as they are: damaged ones too), to be freed with
 * carve_event_log_release. A plan without an event log gives a log of no
 * events, still with the statistics. Fails with INVALID_ARGUMENT (NULL or
 * misaligned mem, NULL log), CORRUPT_SET or OUT_OF_HOST_MEMORY; *log is
 * NULL on failure. O(events + arenas). */
CARVE_API carve_status carve_layout_event_log(const void *mem, carve_event_log **log);

/* Saves `log` to the file at `path` (replaced if it exists) in carve's
 * event log format: little-endian, versioned, with a magic and a checksum.
 * Fails with INVALID_ARGUMENT (NULL, or a log whose fields disagree; no
 * file is written) or CARVE_ERROR_IO (errno set by the C library: a path
 * that cannot be opened, a write or close that fails). A log of damaged
 * arena statistics is saved as it is, and carve_event_log_read then
 * refuses the file. */
CARVE_API carve_status carve_event_log_save(const carve_event_log *log,
                                  const char *path);
/* Shorthands: take the image's log and save it; a refused image writes
 * no file. */
CARVE_API carve_status carve_layout_save_events(const void *mem, const char *path);

/* Reads a saved log from memory or from a file. On failure *log is NULL
 * and, if message is not NULL, it receives why (a truncated file, a bad
 * magic, a checksum mismatch, an impossible geometry...; for load, a file
 * that cannot be opened or read, with strerror's words), cut to
 * message_size (0: untouched). Fails with INVALID_ARGUMENT, CARVE_ERROR_IO
 * (load only), CARVE_ERROR_BAD_LOG or OUT_OF_HOST_MEMORY; never reads
 * outside [bytes, bytes + size). Load reads a file's header first and no
 * further than it says, so a file that never ends (/dev/zero) is refused,
 * not read to the end of memory. O(size). */
CARVE_API carve_status carve_event_log_read(const void *bytes, size_t size,
                                  carve_event_log **log, char *message,
                                  size_t message_size);
CARVE_API carve_status carve_event_log_load(const char *path, carve_event_log **log,
                                  char *message, size_t message_size);

/* Frees a log. NULL does nothing. */
CARVE_API void carve_event_log_release(carve_event_log *log);

/* ---- analysis of an event log ------------------------------------------------ */

typedef struct carve_event_site {
    uint32_t site;
    uint64_t allocs;          /* blocks made by calls here: malloc, calloc,
                                 and realloc to a new block */
    uint64_t alloc_bytes;     /* bytes those calls requested */
    uint32_t largest_request; /* bytes */
    uint64_t reallocs;        /* realloc calls here that succeeded */
    uint64_t frees;           /* blocks given back by calls here: free,
                                 realloc to 0, and the old block of a
                                 moving realloc */
    uint64_t failures;        /* requests here that returned NULL */
    uint64_t leaked_blocks;   /* made (or last resized) here, and live at
                                 the log's end */
    uint64_t leaked_bytes;
} carve_event_site;

typedef struct carve_event_item {
    uint32_t work_item;
    uint64_t allocs, frees, failures; /* calls this work-item made */
    uint64_t peak_bytes;      /* requested bytes of its live blocks (arena
                                 and heap), at their peak */
    uint64_t footprint_bytes; /* the arena size it needed: the highest end
                                 of any of its arena blocks */
    uint64_t arena_peak_bytes;/* its arena blocks' bytes at their peak */
    uint64_t heap_blocks;     /* blocks it took from the shared heap */
    uint64_t fallbacks;       /* of them, requests below large_bytes: the
                                 arena was full */
    uint64_t spill_bytes;     /* the heap its arena blocks would take at
                                 their peak if they spilled there: each
                                 block its slot's share of a page (page /
                                 slots per page, rounded up) or its whole
                                 pages, for the plan's heap pages (or 4 KiB
                                 ones) */
    uint64_t spill_classes;   /* bit c: one of its arena blocks would take
                                 a slot of heap class c */
    uint64_t leaked_blocks, leaked_bytes;
} carve_event_item;

/* Block sizes in [2^b, 2^(b+1)) bytes fall in bucket b. */
#define CARVE_EVENT_BUCKETS 32u
typedef struct carve_event_bucket {
    uint64_t allocs;   /* successful requests */
    uint64_t failures; /* requests that returned NULL */
} carve_event_bucket;

/* A block live at the log's end. */
typedef struct carve_event_block {
    uint32_t offset; /* from the buffer's base */
    uint32_t bytes;  /* requested */
    uint32_t site;   /* of the call that made (or last resized) it */
    uint32_t work_item; /* that call's work-item */
} carve_event_block;

typedef struct carve_event_analysis {
    carve_event_log_info info;
    int complete;       /* every event was kept: leaks and peaks are the
                           run's; otherwise they cover the kept prefix */
    uint64_t allocs, reallocs, frees, failures;
    uint64_t anomalies; /* records that contradict the ones before them (a
                           free of no live block...) or name no valid
                           place: skipped; 0 for a sound log */
    /* Peak over the log's order: events are ordered by an atomic counter
     * (a free is logged before its block is released, an allocation after
     * its block is claimed), so this is the peak of one interleaving the
     * device could have run; each running work-item may have held one
     * block more at that instant than the log shows. */
    uint64_t peak_bytes;      /* requested bytes live at once */
    uint32_t peak_event;      /* the event that reached it */
    uint64_t heap_peak_bytes; /* usable heap bytes live at once */
    uint64_t leaked_blocks, leaked_bytes;
    carve_event_bucket histogram[CARVE_EVENT_BUCKETS];
    /* The arenas' own peak footprints (the log's arena statistics), over
     * every work-item, when the log carries them (has_arena_needs). */
    int has_arena_needs;
    carve_report_spread arena_needs;
    const carve_event_site *sites;  /* by site */
    size_t site_count;
    const carve_event_item *items;  /* by work-item; only those in the log */
    size_t item_count;
    const carve_event_block *live;  /* by offset */
    size_t live_count;
} carve_event_analysis;

/* Replays the log: sites, work-items, leaks, peaks, histogram. *analysis
 * is freed with carve_event_analysis_release (NULL on failure). Fails with
 * INVALID_ARGUMENT (NULL, or a log whose fields disagree: see
 * carve_event_log) or OUT_OF_HOST_MEMORY only: damaged records are
 * counted as anomalies.
 * O(events) expected (hash tables), plus sorting sites and work-items. */
CARVE_API carve_status carve_event_log_analyze(const carve_event_log *log,
                                     carve_event_analysis **analysis);
CARVE_API void carve_event_analysis_release(carve_event_analysis *analysis);

/* Writes the analysis: totals, the `top` call sites by bytes and
 * work-items by peak (0 means 10; JSON lists every site), leaks by site,
 * the histogram. Fails like carve_report_print. */
CARVE_API carve_status carve_event_analysis_print(const carve_event_analysis *analysis,
                                        FILE *stream, carve_format format,
                                        uint32_t top);

/* ---- plan fitting ---------------------------------------------------------------
 * A work-item's need is the arena size it needed in the profiling run: its
 * peak footprint (the bump pointer's high-water mark), which is exact: the
 * allocator places a work-item's blocks the same way in any arena at least
 * that large, given the same requests and the same large-request routing.
 *
 * With percentile P (0 < P <= 100), arena_bytes is the need of the
 * nearest-rank P-th percentile work-item (at least 16 bytes; the plan
 * rounds it up to arena_alignment). Work-items that needed more spill into
 * the shared heap (HEAP_FALLBACK). Such a work-item may spill any of its
 * blocks: one that does not fit goes to the heap whole, so "its peak
 * beyond the cut" is not a bound. What is: all its live blocks at its
 * peak, each costing its heap slot's share of a page (page / slots per
 * page: a slot is at most 1.5x the block, and the page's unusable tail is
 * charged too) or, above half a page, its whole pages; plus the slots it
 * may hold reserved beyond its live blocks (kernels/carve_heap.h: up to
 * 16 slots and 1 KiB of one class, at their page share: the most of any
 * class, about 1 KiB). Summed over those
 * work-items (as if their peaks coincided), that is the heap if every
 * slot class packed its pages full; each class in use may leave one page
 * part empty, so the spill heap is ceil(sum / page) pages plus one per
 * slot class used, less one. From an event log with every event kept,
 * costs and classes are known block by block; from statistics alone a
 * block's cost is bounded by 2.5x its bytes in the arena (1.5 x 1.5 for a
 * slot and its page share, with rounding; whole pages under 2x), and
 * every slot class is counted. The heap the profiling run itself used
 * (large requests) is kept at its planned size, since the packing of a
 * shared heap under concurrency is not recorded; large_request_bytes is
 * pinned to the profiled threshold (or to "never" when the profiling plan
 * had no heap), so routing stays as profiled.
 *
 * Not guaranteed: a run whose requests differ from the profiled one; heap
 * pages shared by several work-items' slots and left partly empty (page
 * fragmentation), and heap contention; a smaller arena_alignment than
 * 128, which changes the padding of carve_malloc_aligned. Work-items
 * whose requests failed, or fell back to the heap because their arena was
 * full, needed more than was measured: they are counted in `understated`
 * and the fit is too small for them; profile with a larger arena. */
typedef struct carve_fit {
    /* To pass to carve_plan_compute: the profiled plan's parameters (the
     * NDRange or arena count, logs, alignment when known) with arena_bytes,
     * heap_bytes, heap_page_bytes, large_request_bytes and options
     * fitted. */
    carve_plan_params params;
    double percentile;
    uint64_t work_items;      /* work-items measured */
    uint64_t above_cut;       /* of them, needing more than arena_bytes */
    uint64_t understated;     /* with failed requests or fallbacks */
    uint64_t max_need_bytes;  /* the hungriest work-item's need */
    uint64_t cut_bytes;       /* the percentile's need */
    uint64_t spill_bytes;     /* the page-share costs of the work-items
                                 above the cut, reservations they may
                                 hold included (see above) */
    uint32_t spill_classes;   /* slot classes counted for them */
    uint64_t spill_pages;     /* heap pages given to them */
    uint64_t profiled_heap_bytes; /* heap kept for large requests */
    uint64_t profiled_arena_bytes;
    uint64_t profiled_total_bytes; /* arenas + heap, profiled and fitted */
    uint64_t fitted_total_bytes;
    int spill_exact;          /* 1: from the event log, block by block;
                                 0: bounded from the statistics */
} carve_fit;

/* Fits a plan to the image at `mem` after a profiling run: its arenas'
 * statistics, and its event log when the plan has one (exact spills if it
 * kept every event). `planned`, the parameters the image was planned with
 * (a set's: &carve_set_plan(set)->params), gives the fit their NDRange and
 * alignment; NULL fits the image's arena count as arena_count. Fails with
 * INVALID_ARGUMENT (NULL or misaligned mem, NULL fit, percentile outside
 * (0, 100], NaN too, planned parameters for another number of arenas than
 * the image has), CORRUPT_SET or OUT_OF_HOST_MEMORY; *fit is untouched on
 * failure. O(arenas log arenas + events). */
CARVE_API carve_status carve_layout_fit(const void *mem,
                              const carve_plan_params *planned,
                              double percentile, carve_fit *fit);
/* Fits a plan to one or more saved profiling runs of the same plan (same
 * arena count, options and heap): every work-item of every run counts.
 * Needs come from each log's arena statistics (or, without them, from
 * replaying its events); spills are exact for logs with every event kept.
 * Fails with INVALID_ARGUMENT (NULL logs or fit, count 0, a NULL log, bad
 * percentile, logs of different plans or whose fields disagree: see
 * carve_event_log; *fit untouched) or OUT_OF_HOST_MEMORY. */
CARVE_API carve_status carve_event_log_fit(const carve_event_log *const *logs,
                                 size_t count, double percentile,
                                 carve_fit *fit);

/* Writes the fit and how it was computed. Fails like carve_report_print. */
CARVE_API carve_status carve_fit_print(const carve_fit *fit, FILE *stream,
                             carve_format format);

#ifdef __cplusplus
}
#endif

#endif /* CARVE_DIAGNOSTICS_H */
