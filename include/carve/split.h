/*
 * carve/split.h - one launch over several devices: a plan split across the
 * devices or sub-devices of one context.
 *
 * A split divides one NDRange along its slowest dimension (get_work_dim() -
 * 1) into one slice per device, by given shares or evenly, and checks each
 * slice against its own device's limits. Each slice is an ordinary arena
 * set (carve.h) whose arenas are the launch's arenas first_arena on; its
 * header carries first_arena, so a work-item opens its arena by the same
 * launch-wide carve_flat_global_id() as on one device, and a kernel written
 * for one device runs split unchanged. Each slice is launched with a global
 * offset in the slowest dimension, so get_global_id() is also what it is
 * on one device.
 *
 *   carve_split_params sp = {0};       the whole launch, and the devices
 *   sp.plan = params; sp.device_count = n;
 *   carve_split_plan_compute(&sp, limits, &plan);
 *   carve_split_create(context, devices, queues, &plan, 0, &split);
 *   carve_split_run(split, kernel, 0, NULL);
 *   carve_split_summary(split, &total, per_device);
 *
 * Memory: where every device is proven zero-copy on one region (fine-
 * grained SVM, or host memory every device works on in place; a probe
 * kernel runs on each), one region holds every slice, so the host reads
 * all results in one place; otherwise each device gets a region of its
 * own. The functions here hide which (carve_split_info says).
 *
 * The shared heap is one per device (each slice's set has its own; the
 * plan's heap_bytes is per device): carve's device code uses OpenCL 1.2
 * atomics, which are atomic among the work-items of one device only, so
 * no heap word may be updated from two devices. A carve_free of another
 * device's block is a pointer outside the work-item's set: refused and
 * recorded (CARVE_MISUSE_FOREIGN), never followed.
 *
 * Diagnostics merge: statistics, the check, the report and the fit cover
 * every slice, per device and in total, with launch-wide work-item
 * numbers. Each slice's set (carve_split_set) also takes every carve_set_*
 * and carve_layout_* call, with the slice's own (0-based) arena indices.
 *
 * Threads: as for sets: a split must not be used by two threads at once;
 * plans are plain values.
 */
#ifndef CARVE_SPLIT_H
#define CARVE_SPLIT_H

#include "carve.h"
#include "diagnostics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Status code of this header (carve's range; carve_status_string names
 * it): a slice does not fit its device. The plan's refused_slice says
 * which, refused_status why (EXCEEDS_MAX_ALLOC, EXCEEDS_GLOBAL_MEM,
 * OFFSET_LIMIT or BASE_ALIGNMENT, as carve_plan_compute says them), and
 * its message by how much and what would fit. */
#define CARVE_ERROR_SLICE_REFUSED (-7026)

#define CARVE_SPLIT_MAX_DEVICES 16u
/* The largest share a device may be given. */
#define CARVE_SPLIT_MAX_SHARE 65535u

/* What a split launch needs. Zero-initialise, then fill in. */
typedef struct carve_split_params {
    /* The whole launch, as carve_plan_compute takes it for one device:
     * work_dim 1-3 (a plan of arena_count arenas has no NDRange to
     * split). arena_bytes, the logs and heap_bytes are per work-item,
     * per device and per device. */
    carve_plan_params plan;
    /* The launch's own global offset; the slices' offsets add theirs in
     * the slowest dimension. An offset there moves the launch's arena
     * indices as it moves carve_flat_global_id(). */
    size_t global_offset[3];
    /* Slices start on multiples of this many work-items of the slowest
     * dimension: the local size there, for a launch that gives one. 0
     * means 1. */
    size_t granule;
    cl_uint device_count; /* 1 to CARVE_SPLIT_MAX_DEVICES */
    /* Relative weights, 0 to CARVE_SPLIT_MAX_SHARE, one per device; all 0
     * means evenly. carve_split_shares_by_compute_units fills them from
     * the devices. */
    uint32_t shares[CARVE_SPLIT_MAX_DEVICES];
} carve_split_params;

/* One device's part of the launch. */
typedef struct carve_slice {
    size_t global_offset[3]; /* what the slice is launched with */
    size_t global_size[3];
    uint32_t first_arena;    /* its arena 0's launch-wide index */
    carve_plan plan;         /* its set: its arena count, its device's
                                limits */
} carve_slice;

typedef struct carve_split_plan {
    carve_split_params params;
    cl_uint split_dim;      /* the slowest dimension: work_dim - 1 */
    uint32_t arena_count;   /* over all slices */
    uint64_t total_bytes;   /* all slices' buffers */
    /* After CARVE_ERROR_SLICE_REFUSED: the device whose slice did not
     * fit, and the status its plan gave. */
    cl_uint refused_slice;
    carve_status refused_status;
    carve_slice slices[CARVE_SPLIT_MAX_DEVICES];
    /* Empty after success; after a failure, what went wrong, naming the
     * device and by how much. */
    char message[448];
} carve_split_plan;

/* Splits `params->plan` over params->device_count devices, slice i checked
 * against limits[i] (an array of device_count). Slice boundaries fall on
 * multiples of the granule, in proportion to the shares (the last slice
 * ends the launch). Allocates nothing. On failure returns, in this order:
 *   CARVE_ERROR_INVALID_ARGUMENT  a NULL pointer, device_count 0 or above
 *                                 CARVE_SPLIT_MAX_DEVICES, a share above
 *                                 CARVE_SPLIT_MAX_SHARE;
 *   CARVE_ERROR_INVALID_NDRANGE   work_dim not 1-3, a zero global size, a
 *                                 launch of more than 2^32 - 1 work-items
 *                                 (offset included: the reach of
 *                                 carve_flat_global_id), or a device that
 *                                 would get no work-item (fewer granules
 *                                 in the slowest dimension than devices,
 *                                 or a share too small);
 *   the status of a slice's carve_plan_compute for what is wrong with the
 *                                 parameters themselves (arena size,
 *                                 alignment, options, heap), which every
 *                                 device would refuse alike;
 *   CARVE_ERROR_SLICE_REFUSED     a slice does not fit its own device
 *                                 (refused_slice, refused_status); the
 *                                 first such slice is reported.
 * plan->message says which device and by how much. O(devices); thread-safe. */
CARVE_API carve_status carve_split_plan_compute(const carve_split_params *params,
                                      const carve_device_limits *limits,
                                      carve_split_plan *plan);

/* Fills shares[0..n) with the devices' CL_DEVICE_MAX_COMPUTE_UNITS
 * (capped at CARVE_SPLIT_MAX_SHARE). Fails with INVALID_ARGUMENT (NULL, n 0
 * or above CARVE_SPLIT_MAX_DEVICES) or the OpenCL status of a failed query
 * (shares unchanged). Thread-safe. */
CARVE_API carve_status carve_split_shares_by_compute_units(
    cl_uint n, const cl_device_id *devices, uint32_t *shares);

/* Writes the split as a table (per device: offset, size, arenas, bytes)
 * and the totals. Fails with INVALID_ARGUMENT, printing nothing, on NULL
 * or on a plan that carve_split_plan_compute refused. */
CARVE_API carve_status carve_split_plan_print(const carve_split_plan *plan,
                                    FILE *stream);

/* ---- a split carved and launched ------------------------------------------ */

typedef struct carve_split carve_split;

/* carve_split_create flags, besides CARVE_SET_REQUIRE_ZERO_COPY (every
 * slice proven zero-copy for its device) */
#define CARVE_SPLIT_REGION_PER_DEVICE 2u /* a region per device even where
                                            one could hold every slice */

typedef struct carve_split_info {
    cl_uint device_count;
    cl_uint region_count;    /* 1: one region holds every slice */
    int zero_copy_verified;  /* every slice proven zero-copy */
    int heap_per_device;     /* 1 (see the top of this header) */
    const char *why;         /* how the memory was chosen, in words */
} carve_split_info;

/* Carves each slice of `plan` for devices[i], launching on queues[i] (one
 * per device, of `context`; the split keeps a reference to each). Tries
 * one region for every slice first (on devices[0], proven zero-copy by a
 * probe kernel on every device), else (a device not shown to work on it
 * in place, or whose probe failed) one per device, as carve_set_create
 * makes them; carve_split_info_get says which and why. Fails with
 * INVALID_ARGUMENT (a NULL pointer, unknown flags, a plan refused or
 * changed by hand), NOT_ZERO_COPY (with CARVE_SET_REQUIRE_ZERO_COPY, a
 * slice not proven so), or what carve_region_create and carve_set_create
 * fail with; *split is NULL and nothing is leaked on failure. O(devices)
 * probe kernels and regions. */
CARVE_API carve_status carve_split_create(cl_context context,
                                const cl_device_id *devices,
                                const cl_command_queue *queues,
                                const carve_split_plan *plan, uint32_t flags,
                                carve_split **split);

/* Releases every slice and the split. NULL does nothing. The caller must
 * not have commands using it still running. */
CARVE_API void carve_split_release(carve_split *split);

/* The plan; NULL only for a NULL split. */
CARVE_API const carve_split_plan *carve_split_get_plan(const carve_split *split);

/* Slice `slice`'s set, for the per-device calls (carve_set_to_host of one
 * device while others run, carve_set_image, carve_layout_*); NULL for a
 * NULL split or a slice past the last. Released with the split. */
CARVE_API carve_set *carve_split_set(const carve_split *split, cl_uint slice);

/* How the split's memory is laid out. INVALID_ARGUMENT for NULL. */
CARVE_API carve_status carve_split_info_get(const carve_split *split,
                                  carve_split_info *out);

/* Launches `kernel` on every device at once, each on its slice (bound as
 * argument arg_index, launched with the slice's offset and size and
 * `local_size`, which may be NULL), flushes every queue and returns
 * without waiting. events, if not NULL, receives one event per device
 * (NULL for a device whose kernel was not enqueued), each released by the
 * caller.
 * A device whose launch fails has its slice handed back at once; the
 * others still run. Returns SUCCESS, or the first failure's status, with
 * carve_split_message naming the device. INVALID_ARGUMENT (nothing
 * launched) for a NULL split or kernel. */
CARVE_API carve_status carve_split_enqueue(carve_split *split, cl_kernel kernel,
                                 cl_uint arg_index, const size_t *local_size,
                                 cl_event *events);

/* Takes every slice back for the host once its device's launch is done
 * (events, one per device, as carve_split_enqueue gave them; NULL waits
 * for each device's whole queue); returns when all are. A slice whose
 * wait fails is waited for once more through its whole queue; the other
 * slices are taken back all the same. Returns the first failure, with
 * carve_split_message naming the device. INVALID_ARGUMENT for NULL. */
CARVE_API carve_status carve_split_to_host(carve_split *split,
                                 const cl_event *events);

/* carve_split_enqueue, then carve_split_to_host: returns when every
 * device is done. On a failure the other devices' results stay readable;
 * the status is the first failure's and carve_split_message names the
 * device. */
CARVE_API carve_status carve_split_run(carve_split *split, cl_kernel kernel,
                             cl_uint arg_index, const size_t *local_size);

/* What the latest failed launch or hand-back said, naming the device ("" if
 * none failed); never NULL for a split, NULL for a NULL one. */
CARVE_API const char *carve_split_message(const carve_split *split);
/* The device (slice index) of that failure, or CARVE_SPLIT_NO_SLICE. */
#define CARVE_SPLIT_NO_SLICE 0xffffffffu
CARVE_API cl_uint carve_split_failed_slice(const carve_split *split);

/* Empties every slice's arenas (carve_set_reset on each). Fails with
 * WRONG_OWNER, changing nothing, while a device owns a slice;
 * INVALID_ARGUMENT for NULL. */
CARVE_API carve_status carve_split_reset(carve_split *split);

/* ---- diagnostics over every slice -------------------------------------------
 * Each needs the host to own every slice (WRONG_OWNER otherwise) and
 * fails with INVALID_ARGUMENT for a NULL split or out-parameter. Arena
 * (work-item) numbers are launch-wide. */

/* The slice holding launch-wide arena `arena`, and its index there.
 * INDEX_OUT_OF_RANGE for an arena outside the launch. O(devices). */
CARVE_API carve_status carve_split_locate(const carve_split *split, uint32_t arena,
                                cl_uint *slice, uint32_t *index);

/* Statistics of launch-wide arena `arena`. O(devices). */
CARVE_API carve_status carve_split_arena_stats(const carve_split *split,
                                     uint32_t arena, carve_arena_stats *out);

/* carve_layout_block for launch-wide arena `arena` (offset from its
 * slice's base, as the kernel's carve_offset gave it): a host pointer to a
 * live block, or NULL. The way to read results wherever the slice lies. */
CARVE_API void *carve_split_block(const carve_split *split, uint32_t arena,
                        uint32_t offset, size_t bytes);

/* Totals over every slice in *total (maxima for the max_* fields), and,
 * if per_device is not NULL, each slice's own (an array of
 * device_count). O(arenas). */
CARVE_API carve_status carve_split_summary(const carve_split *split,
                                 carve_summary *total,
                                 carve_summary *per_device);

/* carve_layout_check over every slice. On ARENA_INVALID: the slice in
 * *bad_slice, the launch-wide arena (or CARVE_HEAP_INDEX for that slice's
 * heap) in *bad_arena, the CARVE_CHECK_* or CARVE_HEAP_CHECK_* code in
 * *broken; any of them may be NULL. CORRUPT_SET if a slice's header is
 * damaged, OUT_OF_HOST_MEMORY if the check of a slice's heap could not
 * allocate its table of held reservations (*bad_slice says which). */
CARVE_API carve_status carve_split_check(const carve_split *split,
                               cl_uint *bad_slice, uint32_t *bad_arena,
                               uint32_t *broken);

/* The post-mortem report of every slice (carve_layout_report), each under
 * its device's name, with launch-wide work-item numbers, then the totals;
 * text or JSON ({"devices": [{"device", "first_work_item", "report"}...],
 * "total": {...}}). Fails with CARVE_ERROR_IO when the stream fails, or
 * as carve_layout_report. */
CARVE_API carve_status carve_split_report_print(const carve_split *split,
                                      FILE *stream, carve_format format,
                                      uint32_t top);

/* Fits the split plan to a profiling run: each slice's fit
 * (carve_layout_fit with its slice's parameters) in per_device (an array
 * of device_count, or NULL), and in *total the parameters of the whole
 * launch that give every device at least its own fit (the largest arena
 * and heap of them; work-item counts and bytes summed over the devices),
 * to put back in carve_split_params.plan. */
CARVE_API carve_status carve_split_fit(const carve_split *split, double percentile,
                             carve_fit *total, carve_fit *per_device);

#ifdef __cplusplus
}
#endif

#endif /* CARVE_SPLIT_H */
