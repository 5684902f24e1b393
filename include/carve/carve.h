/*
 * carve - dynamic memory inside OpenCL kernels, carved from one zero-copy
 * buffer that host and device share.
 *
 * A host program
 *   1. plans what a launch needs (carve_plan_compute): one arena per
 *      work-item, checked against the device's limits before anything is
 *      allocated;
 *   2. carves the plan out of one shared buffer (carve_set_create), which
 *      also proves that the device works on the host's bytes without a copy;
 *   3. binds the set to a kernel argument and launches; the kernel calls
 *      carve_malloc / carve_free (kernels/carve.clh) in its arena;
 *   4. takes the buffer back (carve_set_to_host) and reads results and
 *      statistics in place, then resets the set for the next launch.
 *
 * The sections below follow that order: status codes; devices and
 * kernels; planning; statistics; sets; then regions and zero-copy
 * allocations (shared memory for the program's own buffers, and a set
 * placed in a chosen memory tier); last, images laid out in memory of
 * your own. diagnostics.h adds reports, event logs and fitting; split.h
 * splits one launch over several devices;
 * docs/design.md has the words (arena, image, region, tier...) and the
 * flow.
 *
 * Errors: every fallible function returns a carve_status. 0 is success;
 * OpenCL error codes pass through unchanged; carve's own codes are the
 * CARVE_ERROR_* values in [-7099, -7000]. carve_status_string() names any of
 * them. The library never prints and never exits.
 *
 * Threads: functions on distinct objects may run concurrently; a carve_set
 * must not be used by two threads at once. Plans and limits are plain
 * values.
 */
#ifndef CARVE_CARVE_H
#define CARVE_CARVE_H

/* The OpenCL version is the program's to choose (CL_TARGET_OPENCL_VERSION,
 * before this include): carve's API needs only OpenCL 1.2's. */
#include <CL/cl.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "carve_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of these headers; carve_version() says the library's. */
#define CARVE_VERSION_MAJOR 0
#define CARVE_VERSION_MINOR 2
#define CARVE_VERSION_PATCH 0

/* Marks the functions libcarve.so exports; everything else in it is
 * hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define CARVE_API __attribute__((visibility("default")))
#else
#define CARVE_API
#endif

/* The library's version, "MAJOR.MINOR.PATCH": with a shared library it can
 * differ from the headers a program was built with (CARVE_VERSION_*).
 * Never fails; O(1); thread-safe. */
CARVE_API const char *carve_version(void);

/* ---- status codes -------------------------------------------------------- */

typedef cl_int carve_status;

#define CARVE_SUCCESS 0
#define CARVE_ERROR_INVALID_ARGUMENT (-7001)   /* NULL handle or bad value */
#define CARVE_ERROR_OUT_OF_HOST_MEMORY (-7002) /* host malloc failed */
#define CARVE_ERROR_INVALID_NDRANGE (-7003)    /* dims not 1-3, or a 0 size */
#define CARVE_ERROR_INVALID_ARENA_SIZE (-7004) /* 0, or above 2 GiB */
#define CARVE_ERROR_INVALID_ALIGNMENT (-7005)  /* not a power of 2 in range */
#define CARVE_ERROR_SIZE_OVERFLOW (-7006)      /* count * size overflows */
#define CARVE_ERROR_OFFSET_LIMIT (-7007)       /* over 4 GiB: 32-bit offsets */
#define CARVE_ERROR_EXCEEDS_MAX_ALLOC (-7008)  /* > CL_DEVICE_MAX_MEM_ALLOC_SIZE */
#define CARVE_ERROR_EXCEEDS_GLOBAL_MEM (-7009) /* > CL_DEVICE_GLOBAL_MEM_SIZE */
#define CARVE_ERROR_BASE_ALIGNMENT (-7010)     /* device aligns buffers less */
#define CARVE_ERROR_NOT_ZERO_COPY (-7011)      /* zero-copy required, not shown */
#define CARVE_ERROR_WRONG_OWNER (-7012)        /* host call while device owns */
#define CARVE_ERROR_CORRUPT_SET (-7013)        /* header damaged or foreign */
#define CARVE_ERROR_ARENA_INVALID (-7014)      /* an arena broke an invariant */
#define CARVE_ERROR_INDEX_OUT_OF_RANGE (-7015) /* arena index >= count */
#define CARVE_ERROR_BUFFER_TOO_SMALL (-7016)   /* caller's buffer too small */
#define CARVE_ERROR_NO_DEVICE (-7017)          /* no OpenCL device found */
#define CARVE_ERROR_PROBE_FAILED (-7018)       /* probe kernel gave no answer */
#define CARVE_ERROR_LIMIT (-7019)              /* a fixed limit of carve reached */
#define CARVE_ERROR_TIER_FULL (-7020)          /* the region (tier) has no room */
#define CARVE_ERROR_INVALID_HEAP (-7021)       /* heap size or page size */
#define CARVE_ERROR_INVALID_OPTION (-7022)     /* unknown option, log size */
/* -7023 and -7024 are diagnostics.h's, -7026 split.h's. */
#define CARVE_ERROR_NDRANGE_MISMATCH (-7025)   /* a launch's size is not the
                                                  plan's arena count */

/* A short message for any carve or OpenCL status ("unknown status" for a
 * code neither defines); never NULL, static storage. O(1), thread-safe. */
CARVE_API const char *carve_status_string(carve_status status);

/* ---- devices and kernels ------------------------------------------------- */

/* Builds `source` for `device`, with carve's device headers (carve.clh and
 * what it includes) supplied from memory, so `#include "carve.clh"` needs no
 * file. `options` may be NULL. On failure returns the OpenCL status (for a
 * compile error CL_COMPILE_PROGRAM_FAILURE or CL_BUILD_PROGRAM_FAILURE) and,
 * if build_log is not NULL, sets *build_log to the compiler's log, to be
 * released with free(); on success *build_log is NULL. A failure whose log
 * shows no compiler or linker diagnostic (PoCL's kernel cache, when other
 * processes build the same program at once) is retried, at most three
 * builds in all. Thread-safe for distinct contexts. */
CARVE_API carve_status carve_program_build(cl_context context, cl_device_id device,
                                 const char *source, const char *options,
                                 cl_program *program, char **build_log);

/* carve_program_build for several devices of `context` at once (a split
 * launch's, carve/split.h), so that one kernel object launches on each.
 * Fails as carve_program_build, and with INVALID_ARGUMENT for num_devices
 * 0 or a NULL device; the log holds every device's messages. */
CARVE_API carve_status carve_program_build_for_devices(
    cl_context context, cl_uint num_devices, const cl_device_id *devices,
    const char *source, const char *options, cl_program *program,
    char **build_log);

/* The text of an embedded device source ("carve.clh", "carve_core.h",
 * "carve_port.h", "carve_probe.cl"), or NULL (for a NULL or unknown name,
 * leaving *length alone). *length may be NULL. */
CARVE_API const char *carve_device_source(const char *name, size_t *length);

/* Picks a device: `selector` (or, if NULL, the environment variable
 * CARVE_DEVICE) is "P:D" for platform P, device D (numbers), or a
 * case-sensitive substring of the device or platform name; unset means the
 * first device of the first platform that has one, and so does "" (then
 * CARVE_DEVICE is not read). Fails with INVALID_ARGUMENT for a NULL
 * device, and with CARVE_ERROR_NO_DEVICE if nothing matches (numbers no
 * device has, such as "99:99" or "-1:0", included); *device is unchanged
 * on failure. */
CARVE_API carve_status carve_device_find(const char *selector, cl_device_id *device);

/* ---- planning ------------------------------------------------------------ */

/* What a launch needs. Zero-initialise, then fill in. */
typedef struct carve_plan_params {
    /* 1 to 3: one arena per work-item of global_size[0..work_dim-1];
     * 0: arena_count arenas. */
    cl_uint work_dim;
    size_t global_size[3];
    uint64_t arena_count;
    /* Usable bytes per arena, before rounding up to arena_alignment. */
    uint64_t arena_bytes;
    /* Where each arena starts, in bytes: a power of two from 16 to 4096;
     * 0 means 128 (a cache line on every target, and the largest
     * carve_malloc_aligned alignment). */
    uint32_t arena_alignment;
    /* CARVE_PLAN_* flags. */
    uint32_t options;
    /* Records kept in the error log (misuse and damage found on the
     * device, with call sites); 0 means 256. More are counted, not kept. */
    uint32_t error_log_records;
    /* Records of the event log (every allocation, free and failure, for
     * `carve log`); 0: no event log. */
    uint32_t event_log_records;
    /* The shared heap, in bytes (rounded up to whole pages); 0: none. */
    uint64_t heap_bytes;
    /* The heap's page: a power of two from 2 KiB to 1 MiB; 0 means 4 KiB.
     * Requests over half a page take whole pages. */
    uint32_t heap_page_bytes;
    /* Requests of at least this many bytes go straight to the heap; 0
     * means "more than a quarter of the arena". Ignored without a heap. */
    uint32_t large_request_bytes;
} carve_plan_params;

/* carve_plan_params.options */
#define CARVE_PLAN_CHECKS CARVE_OPTION_CHECKS /* redzones, verified at free
                                                 and by the host */
#define CARVE_PLAN_HEAP_FALLBACK CARVE_OPTION_HEAP_FALLBACK /* a full arena
                                                 borrows from the heap */
/* Requests of up to 256 bytes come from runs: slabs of 32 slots of one
 * size (16, 24, ..., 256 B) inside the arena, aligned for any object of
 * their size. Faster alloc/free and tighter packing of small blocks; a
 * run is at most an eighth of the arena, and peak footprints count runs
 * whole (see docs/performance.md). */
#define CARVE_PLAN_SMALL_RUNS CARVE_OPTION_RUNS

/* The device properties a plan is checked against. */
typedef struct carve_device_limits {
    uint64_t max_mem_alloc_size; /* CL_DEVICE_MAX_MEM_ALLOC_SIZE */
    uint64_t global_mem_size;    /* CL_DEVICE_GLOBAL_MEM_SIZE */
    uint32_t base_addr_align;    /* CL_DEVICE_MEM_BASE_ADDR_ALIGN, in BYTES */
} carve_device_limits;

/* A laid-out launch: offsets and sizes of every part of the buffer. */
typedef struct carve_plan {
    carve_plan_params params;
    carve_device_limits limits;
    uint32_t arena_count;
    uint32_t arena_bytes;  /* usable bytes per arena, after rounding */
    uint32_t arena_granules;
    uint32_t arena_alignment;
    uint32_t class_count;  /* allocator size classes per arena */
    uint32_t class_words;
    uint32_t bitmap_words;
    uint32_t header_bytes;
    uint32_t state_offset;
    uint32_t state_stride; /* bytes of allocator state per arena */
    uint32_t arenas_offset;
    uint32_t options;      /* CARVE_OPTION_* written to the header */
    uint32_t error_offset;
    uint32_t error_capacity;
    uint32_t event_offset;
    uint32_t event_capacity;
    uint32_t heap_meta_offset;
    uint32_t heap_meta_stride;
    uint32_t heap_map_offset;
    uint32_t heap_map_words;
    uint32_t heap_class_count;
    uint32_t heap_offset;
    uint32_t heap_pages;
    uint32_t heap_page_bytes;
    uint32_t large_bytes;  /* 0 without a heap */
    uint64_t state_bytes;
    uint64_t arenas_bytes;
    uint64_t heap_meta_bytes; /* page table and hint bitmaps */
    uint64_t heap_bytes;
    uint64_t total_bytes;  /* the buffer to allocate */
    /* Empty after success; after a failure, what did not fit and by how
     * much. */
    char message[320];
} carve_plan;

/* Queries the limits of `device`. Fails with CARVE_ERROR_INVALID_ARGUMENT
 * for a NULL device or out, else with the OpenCL status of the first
 * clGetDeviceInfo that fails (*out unchanged). Thread-safe. */
CARVE_API carve_status carve_device_limits_query(cl_device_id device,
                                       carve_device_limits *out);

/* Lays out `params` and checks the result against `limits`; allocates
 * nothing. On success fills *plan. On failure returns the status of the
 * first check that failed, in this order, and writes plan->message:
 *   CARVE_ERROR_INVALID_ARGUMENT   a NULL pointer;
 *   CARVE_ERROR_INVALID_NDRANGE    work_dim > 3, a zero global size, or no
 *                                  arena at all;
 *   CARVE_ERROR_INVALID_ARENA_SIZE arena_bytes 0 or above 2 GiB;
 *   CARVE_ERROR_INVALID_ALIGNMENT  arena_alignment not a power of two in
 *                                  [16, 4096];
 *   CARVE_ERROR_INVALID_OPTION     unknown options bits, or a log too big;
 *   CARVE_ERROR_INVALID_HEAP       heap_page_bytes not a power of two in
 *                                  [2 KiB, 1 MiB], or HEAP_FALLBACK
 *                                  without a heap;
 *   CARVE_ERROR_BASE_ALIGNMENT     the device aligns buffers to fewer bytes
 *                                  than arena_alignment (or than 128 with
 *                                  a heap);
 *   CARVE_ERROR_SIZE_OVERFLOW      count * bytes, or the buffer with the
 *                                  heap, overflows 64 bits;
 *   CARVE_ERROR_OFFSET_LIMIT       the buffer (a heap of more than 4 GiB
 *                                  included) exceeds 4 GiB - 1, the reach
 *                                  of 32-bit offsets;
 *   CARVE_ERROR_EXCEEDS_MAX_ALLOC  above CL_DEVICE_MAX_MEM_ALLOC_SIZE;
 *   CARVE_ERROR_EXCEEDS_GLOBAL_MEM above CL_DEVICE_GLOBAL_MEM_SIZE.
 * A plan refused for its size (the last three) also says in
 * plan->message what fits: the largest arena for this many work-items and
 * the most work-items for this arena size. O(1), a refusal for size
 * O(log arena size + log count). Thread-safe. */
CARVE_API carve_status carve_plan_compute(const carve_plan_params *params,
                                const carve_device_limits *limits,
                                carve_plan *plan);

/* Writes the plan as a table (parts, offsets, sizes, totals) to `buf`,
 * always NUL-terminated when size > 0. Sets *needed (if not NULL) to the
 * bytes the whole table needs, NUL included. Fails with
 * CARVE_ERROR_BUFFER_TOO_SMALL when it was cut, INVALID_ARGUMENT (writing
 * nothing) on NULL plan, a buf of NULL with size > 0, or a plan that
 * carve_plan_compute refused (plan->message not empty: it is only partly
 * filled in) or with params.work_dim above 3. */
CARVE_API carve_status carve_plan_format(const carve_plan *plan, char *buf, size_t size,
                               size_t *needed);

/* carve_plan_format to a stream. Fails with INVALID_ARGUMENT (printing
 * nothing) on NULL, or on a plan carve_plan_format refuses. */
CARVE_API carve_status carve_plan_print(const carve_plan *plan, FILE *stream);

/* ---- statistics ---------------------------------------------------------- */

/* The CARVE_FAIL_* (why a device request returned NULL), CARVE_MISUSE_* (why
 * free/realloc refused a pointer) and CARVE_ARENA_* (arena flags) codes, and
 * the layout of the carved buffer, come from the allocator core shared with
 * the device. */
typedef struct carve_arena_stats {
    uint64_t capacity_bytes;
    uint64_t in_use_bytes;         /* in live blocks, whole granules */
    uint64_t peak_in_use_bytes;
    uint64_t footprint_bytes;      /* from the arena start to its top block */
    uint64_t peak_footprint_bytes; /* the arena size this run needed */
    uint32_t live_blocks;
    uint32_t alloc_count;
    uint32_t free_count;
    uint32_t failed_count;
    uint32_t last_failure;   /* CARVE_FAIL_* */
    uint32_t largest_failed; /* bytes */
    uint32_t misuse_count;
    uint32_t last_misuse;    /* CARVE_MISUSE_* */
    uint32_t flags;          /* CARVE_ARENA_* */
    uint32_t root;           /* offset left by carve_set_root, 0 if none */
    uint32_t zero_requests;  /* requests for 0 bytes: NULL, not failures */
    uint32_t realloc_count;  /* reallocs of a live block, moved or not */
    uint32_t failure_site;   /* call site of the latest failure */
    uint32_t misuse_site;    /* call site of the latest refused pointer */
    uint32_t heap_allocs;    /* blocks this work-item took from the heap */
    uint32_t heap_frees;     /* heap blocks this work-item freed */
} carve_arena_stats;

/* Totals over a set's arenas and its shared heap. The arena counters
 * count blocks in the arenas only; a work-item's blocks in the shared heap
 * are counted apart (heap_allocs, heap_frees, heap_live_blocks), so the
 * blocks a launch allocated are alloc_count + heap_allocs. */
typedef struct carve_summary {
    uint32_t arena_count;
    uint32_t arenas_opened;
    uint32_t arenas_closed;
    uint32_t arenas_corrupt;
    uint32_t arenas_with_failures;
    uint32_t open_failures; /* carve_arena_open refused (an index past the
                               arenas): work-items with no arena */
    uint64_t capacity_bytes; /* the arenas' bytes */
    uint64_t in_use_bytes;   /* live arena blocks, in whole granules (a
                                run's slot and a redzone included) */
    uint64_t max_peak_in_use_bytes;   /* the largest arena peak */
    uint64_t max_peak_footprint_bytes;
    uint64_t alloc_count;  /* allocations in arenas (not the heap's) */
    uint64_t free_count;   /* frees of arena blocks (not the heap's) */
    uint64_t failed_count; /* requests that returned NULL, arena or heap */
    uint64_t misuse_count; /* refusals (free, realloc, usable_size) and
                              damaged redzones found */
    uint64_t heap_allocs;  /* work-items' allocations in the shared heap */
    uint64_t heap_frees;   /* heap blocks freed by work-items */
    /* The shared heap, from a walk of its pages (0 without one). */
    uint64_t heap_bytes;
    uint64_t heap_in_use_bytes; /* usable bytes of live heap blocks */
    uint64_t heap_live_blocks;
    uint32_t heap_free_pages;
    uint32_t heap_pages;
    /* The logs: how many records the device produced, and how many of
     * them the log could keep. */
    uint32_t errors_seen;
    uint32_t errors_kept;
    uint32_t events_seen;
    uint32_t events_kept;
} carve_summary;

/* Names of CARVE_FAIL_* and CARVE_MISUSE_* codes ("unknown" otherwise;
 * never NULL). */
CARVE_API const char *carve_failure_string(uint32_t failure);
CARVE_API const char *carve_misuse_string(uint32_t misuse);

/* ---- sets: a plan carved from one shared OpenCL buffer -------------------- */

typedef struct carve_set carve_set;
typedef struct carve_region carve_region; /* shared memory; see below */

/* carve_set_create flags */
#define CARVE_SET_REQUIRE_ZERO_COPY 1u /* fail unless zero-copy is proven */

typedef struct carve_zero_copy_info {
    int verified;            /* 1: the device used the host's own bytes */
    uint64_t host_address;   /* where the host sees the set */
    uint64_t device_address; /* where the device sees it (from the probe) */
    const char *how;         /* the region's backend, e.g. "svm-fine" */
    const char *evidence;    /* what the probe showed, in words */
} carve_zero_copy_info;

/* Carves `plan` out of a region of its own (backend AUTO: the best the
 * device supports, proven zero-copy by a probe kernel where possible) and
 * writes the layout. The set is then owned by the host. `queue` is where
 * carve_set_run launches; the set keeps a reference to it. Fails with
 * INVALID_ARGUMENT (a NULL pointer, unknown flags, or a plan that
 * carve_plan_compute refused or that was changed by hand), an OpenCL
 * status (e.g. CL_MEM_OBJECT_ALLOCATION_FAILURE), OUT_OF_HOST_MEMORY,
 * PROBE_FAILED, LIMIT (see regions), or NOT_ZERO_COPY when that flag was
 * given and zero-copy was not shown; *set is NULL and nothing is leaked
 * on failure. */
CARVE_API carve_status carve_set_create(cl_context context, cl_device_id device,
                              cl_command_queue queue, const carve_plan *plan,
                              uint32_t flags, carve_set **set);

/* Carves `plan` out of `region` (instead of a buffer of its own), so that
 * arenas live in a chosen memory tier. A set lies whole in one region: one
 * kernel argument and 32-bit offsets from one base require it. If
 * `region` has no room, the set lands in its fallback (see
 * carve_region_set_fallback; carve_set_region says where); with none that
 * has room it fails with CARVE_ERROR_TIER_FULL. With
 * CARVE_SET_REQUIRE_ZERO_COPY, the region it lands in must be proven
 * zero-copy (NOT_ZERO_COPY). Otherwise as carve_set_create. */
CARVE_API carve_status carve_set_create_in(carve_region *region, cl_command_queue queue,
                                 const carve_plan *plan, uint32_t flags,
                                 carve_set **set);

/* Releases the buffer and the set. NULL does nothing. The caller must not
 * have commands using the set still running. */
CARVE_API void carve_set_release(carve_set *set);

/* Hands the set to the device (see carve_zc_to_device: unmap, cache
 * write-back). After this, carve_set_image and carve_set_reset fail with
 * WRONG_OWNER until carve_set_to_host. Idempotent. INVALID_ARGUMENT for
 * NULL. */
CARVE_API carve_status carve_set_to_device(carve_set *set);

/* Takes the set back for the host once `events` (the kernels that used it)
 * are complete, or, with no events, once everything enqueued so far on the
 * set's queue is; returns when the host may read it. Idempotent: with the
 * host owning the set it only waits. Fails with INVALID_ARGUMENT for a
 * NULL set, num_events and events that disagree, or a NULL event (the
 * device keeps the set), else with the OpenCL status of the wait. */
CARVE_API carve_status carve_set_to_host(carve_set *set, cl_uint num_events,
                               const cl_event *events);

/* Passes the set to `kernel` as argument `arg_index` (a global pointer): a
 * sub-buffer or SVM pointer made once per set. The device may own the set.
 * Fails with INVALID_ARGUMENT for NULL, else with OpenCL's status for the
 * argument (e.g. CL_INVALID_ARG_INDEX). */
CARVE_API carve_status carve_set_bind(carve_set *set, cl_kernel kernel,
                            cl_uint arg_index);

/* Convenience: bind, to_device, enqueue the kernel on the set's queue,
 * to_host after it. Fails, enqueuing nothing, with INVALID_ARGUMENT for a
 * NULL set, kernel or global_size, with INVALID_NDRANGE for a work_dim
 * not 1-3 or a global size of 0, and with NDRANGE_MISMATCH for an NDRange
 * whose size (the product of global_size, which must not overflow) is not
 * the plan's arena count: each work-item opens the arena of its flat
 * index, so launch the NDRange the plan was made for, or plan for this
 * one. The set of a split's slice (carve/split.h) is launched with the
 * global offset in the slowest dimension that puts it where the split
 * launch has it (NDRANGE_MISMATCH if the faster dimensions' sizes cannot
 * put its first arena at the start of a row). Otherwise passes on
 * OpenCL's status for the argument or the launch (e.g.
 * CL_INVALID_KERNEL_ARGS, CL_INVALID_WORK_GROUP_SIZE); after a failed
 * launch the set is back with the host. If waiting for the kernel fails
 * (that status is returned), carve waits for the set's whole queue once
 * more; only if that fails too does the device keep the set, until a
 * carve_set_to_host succeeds. */
CARVE_API carve_status carve_set_run(carve_set *set, cl_kernel kernel, cl_uint arg_index,
                           cl_uint work_dim, const size_t *global_size,
                           const size_t *local_size);

/* Empties every arena for the next launch without touching arena bytes or
 * re-creating the buffer. Host must own the set (WRONG_OWNER otherwise,
 * changing nothing). INVALID_ARGUMENT for NULL. */
CARVE_API carve_status carve_set_reset(carve_set *set);

/* The plan the set was made from. NULL only for a NULL set. */
CARVE_API const carve_plan *carve_set_plan(const carve_set *set);

/* The region the set was carved from; NULL for a NULL set. */
CARVE_API carve_region *carve_set_region(const carve_set *set);

/* How the buffer is shared, and whether zero-copy was proven.
 * INVALID_ARGUMENT for NULL. */
CARVE_API carve_status carve_set_zero_copy(const carve_set *set,
                                 carve_zero_copy_info *out);

/* The set's image as the host sees it, for the carve_layout_* functions
 * (statistics, check, blocks, report, event log, fit), which read it in
 * place: they are the one way to read an image, a set's or one in memory
 * of your own. Ask again after each hand-over: the image may be read only
 * while the host owns the set. Fails with INVALID_ARGUMENT for a NULL set
 * or image, and with WRONG_OWNER while the device owns the set (call
 * carve_set_to_host first); *image is NULL on failure. The image is an
 * allocation of the set's region (carve_zc_region_of finds it) that
 * carve_zc_free and carve_zc_realloc refuse: only carve_set_release frees
 * it. O(1); thread-safe as the set's other accessors. */
CARVE_API carve_status carve_set_image(const carve_set *set, void **image);

/* ---- regions: shared memory with a host allocator --------------------------
 * A region is one range of memory that host and device share, with a host
 * pool allocator over it (carve_zc_*) whose metadata lives outside the
 * region, so device writes cannot corrupt it. It is created from a context
 * and device by a backend; at creation a probe kernel checks whether the
 * device really works on the host's bytes (zero-copy), and the region says
 * so either way. Several regions can stand for memory tiers (a large DDR
 * region, a small on-chip one): each allocation lands in the region asked
 * for or, if the caller set one up, in its fallback (see
 * carve_region_set_fallback). Thread-safe: every region call locks the
 * region. At most 256 regions are live at once (sets made by
 * carve_set_create count: each has a region of its own). */

typedef enum carve_backend {
    CARVE_BACKEND_AUTO = 0,           /* the best the device supports */
    CARVE_BACKEND_HOST_MEMORY = 1,    /* pages carve maps, CL_MEM_USE_HOST_PTR */
    CARVE_BACKEND_USER_MEMORY = 2,    /* memory you hand over (CMEM, dma-buf,
                                         an SRAM window), CL_MEM_USE_HOST_PTR */
    CARVE_BACKEND_ALLOC_HOST_PTR = 3, /* a CL_MEM_ALLOC_HOST_PTR buffer,
                                         kept mapped */
    CARVE_BACKEND_SVM_COARSE = 4,     /* clSVMAlloc, coarse-grained */
    CARVE_BACKEND_SVM_FINE = 5        /* clSVMAlloc, fine-grained buffer */
} carve_backend;

/* carve_region_params.flags */
#define CARVE_REGION_REQUIRE_ZERO_COPY 1u /* fail unless zero-copy is shown */
/* Catch a missing hand-over. The region is mapped twice: the host's view
 * of an allocation is protected while the device owns it, the view given
 * to OpenCL while the host owns it (and while it is free). A touch from
 * the wrong side faults at once; carve writes one line to stderr naming
 * the region, the offset and the allocation, and the process dies of
 * SIGSEGV. A host touch is caught on any device; a device touch only on a
 * device that runs in the host process, like PoCL's CPU devices.
 * HOST_MEMORY backend only; allocations become page-granular. carve
 * installs a SIGSEGV handler on the first such region and passes every
 * other fault on to the handler that was there before. For finding missing
 * hand-overs on a coherent device before they break on a non-coherent
 * one. */
#define CARVE_REGION_COHERENCE_CHECK 2u

typedef struct carve_region_params {
    carve_backend backend;
    /* Region size, rounded up to the alignment (down for USER_MEMORY, so
     * that your memory is never overrun); at most 2^48. */
    uint64_t bytes;
    /* Minimum alignment of every allocation: 0 or a power of two up to
     * 2 GiB. Never below the device's CL_DEVICE_MEM_BASE_ADDR_ALIGN and
     * 128 (sub-buffers must start there): smaller values, and 0, mean that.
     * E.g. 4096 for page-aligned allocations. carve places the region on
     * an address aligned to this and to the page size (except user memory,
     * which is where you put it), so carve_zc_memalign can align that far
     * in host and device addresses alike. */
    uint64_t alignment;
    uint32_t flags;     /* CARVE_REGION_* */
    const char *name;   /* a tier name for messages ("ddr", "msmc"); copied */
    /* CARVE_BACKEND_USER_MEMORY: the memory (aligned to the alignment),
     * its physical address if known (kept for the caller's hooks), and
     * cache maintenance called with the range when ownership moves (may be
     * NULL on coherent systems). The probe at creation writes its first 16
     * bytes and calls both hooks once. */
    void *user_base;
    uint64_t user_physical;
    void (*write_back)(void *context, void *ptr, size_t bytes);
    void (*invalidate)(void *context, void *ptr, size_t bytes);
    void *hook_context;
} carve_region_params;

typedef struct carve_region_info {
    carve_backend backend;
    const char *backend_name;
    const char *name;
    void *host_base;             /* where the host sees the region */
    uint64_t device_address;     /* where the probe kernel saw it */
    uint64_t bytes;              /* capacity */
    uint64_t alignment;
    int zero_copy_verified;      /* 1: the device used the host's bytes */
    const char *zero_copy_evidence;
    /* The statistics start at zero when carve_region_create returns. */
    uint64_t in_use;             /* bytes in live allocations (rounded up
                                    to the alignment) */
    uint64_t peak_in_use;
    /* The largest free block. A request of that size can still fail if the
     * block is not first in its size class (the pool's good fit); one of
     * at most 15/16 of it never does. */
    uint64_t largest_free;
    uint64_t live_allocations;
    /* Requests this region had no room for, including those its fallback
     * then took. */
    uint64_t failed_requests;
    carve_region *fallback;      /* see carve_region_set_fallback */
} carve_region_info;

/* Creates a region of params->bytes on `device`. carve gives the region a
 * private in-order queue for hand-overs, so they never wait for unrelated
 * work on yours. Fails with
 *   INVALID_ARGUMENT    bad params (NULL, 0 bytes or more than 2^48,
 *                       unknown flags or backend,
 *                       COHERENCE_CHECK without HOST_MEMORY, user_base
 *                       given without USER_MEMORY or the other way round,
 *                       user memory not aligned or smaller than one unit);
 *   INVALID_ALIGNMENT   alignment not 0 or a power of two up to 2 GiB;
 *   CL_INVALID_OPERATION a backend the device lacks;
 *   LIMIT               256 regions are live already;
 *   NOT_ZERO_COPY       under CARVE_REGION_REQUIRE_ZERO_COPY, when the
 *                       probe showed the device working on a copy;
 *   PROBE_FAILED        the probe kernel's answer never reached the host;
 *   OUT_OF_HOST_MEMORY, or the OpenCL status of a failed allocation or
 *   build (CL_INVALID_BUFFER_SIZE, or CL_MEM_OBJECT_ALLOCATION_FAILURE for
 *   SVM, beyond the device's largest allocation). *region is NULL and
 *   nothing is leaked on failure. The probe's kernel is built once
 *   per context and device while a region of theirs lives. Thread-safe. */
CARVE_API carve_status carve_region_create(cl_context context, cl_device_id device,
                                 const carve_region_params *params,
                                 carve_region **region);

/* Frees the region and everything allocated in it, and unlinks it from
 * every region that falls back to it. NULL does nothing. The caller must
 * not have kernels using it still running, nor other threads using it. */
CARVE_API void carve_region_release(carve_region *region);

/* Fills *out. INVALID_ARGUMENT on NULL. O(1). */
CARVE_API carve_status carve_region_get_info(carve_region *region,
                                   carve_region_info *out);

/* Makes `fallback` (NULL: none) the region that allocations take when
 * `region` has no room: carve_zc_malloc/calloc/memalign, the move of a
 * carve_zc_realloc and carve_set_create_in try region, then its fallback,
 * then the fallback's fallback..., and fail with CARVE_ERROR_TIER_FULL
 * only when none has room. Without a fallback, a request that does not
 * fit fails at once. carve_zc_region_of / carve_set_region tell where an
 * allocation landed. Fails with INVALID_ARGUMENT if either region is not
 * live, if they belong to different contexts or devices, or if the chain
 * would come back to `region` (a cycle). O(number of regions).
 * Thread-safe; a chain may change while other threads allocate. */
CARVE_API carve_status carve_region_set_fallback(carve_region *region,
                                       carve_region *fallback);

/* Checks the pool's invariants (blocks tile the region, free lists and
 * statistics agree) and the ownership records (the host's allocations
 * mapped, the device's not). SUCCESS or ARENA_INVALID; if message is not
 * NULL it is set to a static description of the broken invariant, or NULL.
 * INVALID_ARGUMENT (message untouched) for a NULL region. O(allocations). */
CARVE_API carve_status carve_region_check(carve_region *region, const char **message);

/* Whether `device` supports `backend` (AUTO: any); 0 for a NULL device or
 * a value outside the enum. */
CARVE_API int carve_backend_supported(cl_device_id device, carve_backend backend);
/* "host-memory", "svm-fine"...; "unknown" outside the enum. */
CARVE_API const char *carve_backend_name(carve_backend backend);

/* ---- zero-copy allocations ----------------------------------------------------
 * malloc-style calls return NULL on failure and keep the reason for
 * carve_zc_last_status() (per thread). Allocations start owned by the host.
 * Thread-safe. The pool's work is bounded-time (TLSF: O(1) in the number of
 * allocations); calls that move a mapping also wait for the region's own
 * queue (buffer and coarse SVM backends). */

/* Status of this thread's latest failed carve_zc_* call. */
CARVE_API carve_status carve_zc_last_status(void);

/* Why a call that takes an allocation (carve_zc_free, carve_zc_realloc,
 * carve_zc_set_arg, carve_zc_to_device, carve_zc_to_host) refused its
 * pointer: */
#define CARVE_ZC_REFUSED_NONE 0u     /* it did not (the pointer was fine) */
#define CARVE_ZC_REFUSED_NULL 1u     /* NULL where an allocation was needed */
#define CARVE_ZC_REFUSED_FOREIGN 2u  /* in no region: stack, malloc, ... */
#define CARVE_ZC_REFUSED_INTERIOR 3u /* inside a live allocation, not its
                                        start */
#define CARVE_ZC_REFUSED_FREED 4u    /* in a region where no live allocation
                                        holds it: freed already, or never
                                        handed out */
#define CARVE_ZC_REFUSED_OTHER_REGION 5u /* an allocation of a region outside
                                            `region`'s fallback chain */
#define CARVE_ZC_REFUSED_SET_MEMORY 6u   /* an arena set's memory, which
                                            carve_set_* hand over and free */
#define CARVE_ZC_REFUSED_PAST_END 7u     /* the range runs past the bytes the
                                            allocation was asked for */
#define CARVE_ZC_REFUSED_DEVICE_OWNED 8u /* the device owns it (realloc):
                                            carve_zc_to_host first */

/* The CARVE_ZC_REFUSED_* of this thread's latest call of those five: NONE
 * when it accepted its pointer (it may still have failed for another
 * reason; see its status). The status of a refusal stays what each call
 * documents (INVALID_ARGUMENT, WRONG_OWNER); this says which mistake it
 * was. carve_set_* calls leave it alone. Per thread; O(1). Telling an
 * interior pointer from a freed one walks the region's allocations under
 * its lock: a refusal (only) costs O(allocations). */
CARVE_API uint32_t carve_zc_last_refusal(void);
/* A sentence for a CARVE_ZC_REFUSED_* code; "unknown refusal" for any
 * other value. Never NULL. */
CARVE_API const char *carve_zc_refusal_string(uint32_t refusal);

/* `bytes` aligned to the alignment of the region it lands in (`region` or
 * a fallback). NULL with INVALID_ARGUMENT for a NULL region or 0 bytes,
 * TIER_FULL when no region of the chain has room. */
CARVE_API void *carve_zc_malloc(carve_region *region, size_t bytes);
/* count * size bytes, zeroed; NULL with SIZE_OVERFLOW if the product
 * overflows (checked first, before the region); otherwise as
 * carve_zc_malloc. */
CARVE_API void *carve_zc_calloc(carve_region *region, size_t count, size_t size);
/* Aligned to `alignment`: a power of two, at most as far as the region's
 * base is aligned (see carve_region_params.alignment), else
 * INVALID_ALIGNMENT (checked first, before the region); below the region's
 * alignment means the region's. Otherwise as carve_zc_malloc. */
CARVE_API void *carve_zc_memalign(carve_region *region, size_t alignment, size_t bytes);
/* C semantics: NULL ptr allocates (so a NULL ptr and 0 bytes is
 * carve_zc_malloc's INVALID_ARGUMENT); 0 bytes frees and returns NULL (not
 * a failure: carve_zc_last_status is unchanged); on failure ptr stays
 * valid and unchanged. Grows or shrinks in
 * place when it can, else moves (keeping min(old, new) bytes) to where a
 * new request in `region` would land. Refuses with INVALID_ARGUMENT a ptr
 * that is not the start of a live allocation of `region`'s chain (NULL
 * region: any region) or that is a set's memory (carve_set_image),
 * even with 0 bytes; with WRONG_OWNER one the device owns; TIER_FULL when
 * there is no room. */
CARVE_API void *carve_zc_realloc(carve_region *region, void *ptr, size_t bytes);
/* Frees an allocation of `region` or of a region it falls back to (NULL
 * region: any region); NULL ptr does nothing. The device may own it: the
 * caller must know that no kernel still uses it. Refuses
 * (INVALID_ARGUMENT) a pointer that is not the start of a live allocation
 * there: foreign, inside an allocation, or already freed; and a set's
 * memory (carve_set_image), which only carve_set_release frees. It
 * changes nothing then. */
CARVE_API carve_status carve_zc_free(carve_region *region, void *ptr);

/* The region holding ptr (any address inside a region), or NULL. */
CARVE_API carve_region *carve_zc_region_of(const void *ptr);

/* Passes the allocation starting at ptr to `kernel` as argument `index`: a
 * sub-buffer of the requested bytes (made once per allocation, then
 * reused) or an SVM pointer. The device may own it. Fails with
 * INVALID_ARGUMENT for a NULL kernel, a NULL pointer, a pointer no region
 * allocated, a freed one, or one inside an allocation; otherwise with
 * clSetKernelArg's (clSetKernelArgSVMPointer's) status. */
CARVE_API carve_status carve_zc_set_arg(cl_kernel kernel, cl_uint index, const void *ptr);

/* Hands the allocation starting at ptr to the device: unmaps it, runs the
 * write-back hook on [ptr, ptr + bytes) (bytes 0: all the bytes asked for)
 * or, under the coherence check, protects the host's view. Ownership moves
 * for the whole allocation; `bytes` bounds the cache maintenance. Returns
 * when done; idempotent. Fails with INVALID_ARGUMENT if ptr is not the
 * start of a live allocation, the range runs past the bytes asked for, or
 * the allocation is a set's memory (carve_set_to_device hands that over).
 * Thread-safe. */
CARVE_API carve_status carve_zc_to_device(const void *ptr, size_t bytes);

/* Takes the allocation back for the host after `events` (the kernels that
 * used it) complete: maps it, runs the invalidate hook on the range, or
 * lifts the protection. Returns when the host may read it; idempotent
 * (with the host owning it, it only waits for the events). carve does not
 * know your queues: pass the kernels' events (or clFinish first). Fails
 * as carve_zc_to_device, and with INVALID_ARGUMENT when num_events and
 * events disagree or an event is NULL (ownership does not move). */
CARVE_API carve_status carve_zc_to_host(const void *ptr, size_t bytes,
                              cl_uint num_events, const cl_event *events);

/* ---- layout: a carved image in any memory --------------------------------
 * These work on host memory laid out by a plan: a set's image (see
 * carve_set_image), or memory of your own that carve_layout_format laid
 * out. None of
 * them talks to OpenCL. `mem` must be 4-byte aligned: a NULL or misaligned
 * mem gives INVALID_ARGUMENT (NULL from the pointer functions). Only
 * carve_layout_validate is told how many bytes mem holds; the others read
 * and write as far as a valid header says (total_bytes), so validate
 * memory that carve did not lay out itself before passing it to them. A
 * header is valid when magic, version and sizes agree and its parts lie
 * in carve's order without overlapping, each on 16 bytes, inside
 * total_bytes; an invalid one gives CORRUPT_SET and nothing is written. */

/* Writes the header and an empty state table for `plan` into mem; arena
 * bytes are not touched. Fails with INVALID_ARGUMENT on NULL, on a plan of
 * total_bytes 0 or above 4 GiB - 1 (refused by carve_plan_compute), or on
 * a plan whose fields do not make a valid header (changed by hand), and
 * with BUFFER_TOO_SMALL if size < plan->total_bytes; mem is untouched on
 * failure. O(state bytes). */
CARVE_API carve_status carve_layout_format(void *mem, size_t size,
                                 const carve_plan *plan);

/* Empties every arena: zeroes the state table and the header's counters;
 * arena bytes are not touched. Fails with CORRUPT_SET if mem does not hold
 * a valid header. O(state bytes). */
CARVE_API carve_status carve_layout_reset(void *mem);

/* Validates the header at mem against `size` bytes of mapping. Fails with
 * CORRUPT_SET (size below a header, which is then not read; an invalid
 * header; or total_bytes above size) or INVALID_ARGUMENT. O(1). */
CARVE_API carve_status carve_layout_validate(const void *mem, size_t size);

/* Statistics of arena `index`. Fails with INVALID_ARGUMENT (NULL out),
 * CORRUPT_SET or INDEX_OUT_OF_RANGE. O(1). */
CARVE_API carve_status carve_layout_arena_stats(const void *mem, uint32_t index,
                                      carve_arena_stats *out);

/* Totals over all arenas. Fails with INVALID_ARGUMENT (NULL out) or
 * CORRUPT_SET. O(arena count). */
CARVE_API carve_status carve_layout_summary(const void *mem, carve_summary *out);

/* Runs the allocator's invariant check (the same code the device ran) on
 * every arena and on the shared heap. Returns CARVE_SUCCESS, or
 * ARENA_INVALID with the first bad arena's index in *bad_index and the
 * broken invariant (CARVE_CHECK_* of carve_abi.h) in *broken, or, for the
 * heap, CARVE_HEAP_INDEX in *bad_index and a CARVE_HEAP_CHECK_* code of
 * carve_abi.h in *broken; either out-pointer may be NULL. Fails with
 * INVALID_ARGUMENT or CORRUPT_SET, or OUT_OF_HOST_MEMORY for a set with a
 * heap (the check allocates 4 bytes a heap page), out-pointers untouched.
 * The set must be quiescent (no kernel running). O(total bitmap words +
 * blocks + heap pages). */
#define CARVE_HEAP_INDEX 0xffffffffu
CARVE_API carve_status carve_layout_check(const void *mem, uint32_t *bad_index,
                                uint32_t *broken);

/* The host address of [offset, offset + bytes) in the image, or NULL if
 * that range is not inside it, offset is 0 or the header is invalid. O(1). */
CARVE_API void *carve_layout_pointer(void *mem, uint32_t offset, size_t bytes);

/* Like carve_layout_pointer, but only for a range (bytes > 0) that lies
 * inside one live block of arena `index` (its redzone included) or of the
 * shared heap (whose blocks belong to no arena): what a host walking
 * device-built structures should use, so that a stray offset into a
 * header, a state table, free memory or another arena is refused (NULL),
 * as is any offset in an arena whose state is damaged past its end.
 * O(size of the block / 512). */
CARVE_API void *carve_layout_block(void *mem, uint32_t index, uint32_t offset,
                         size_t bytes);

#ifdef __cplusplus
}
#endif

#endif /* CARVE_CARVE_H */
