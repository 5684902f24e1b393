/*
 * region_internal.h - what the files of host/region/ share. Not installed.
 *
 * A region is one shared buffer and the host pool (host/pool/) that hands
 * out its bytes. The files split it by concern:
 *   region.c         a region's life: create (and `auto`), release, info,
 *                    check; the one teardown path of an allocation's record
 *   registry.c       the live regions, lock-free lookup by address, tier
 *                    chains, the probe program regions share
 *   allocations.c    carve_zc_malloc/calloc/memalign/realloc/free, locating
 *                    a pointer, refusal reasons
 *   ownership.c      hand-overs between host and device, kernel arguments
 *   backend_buffer.c buffer backends: host memory, user memory,
 *                    alloc-host-ptr (one cl_mem, a sub-buffer per allocation)
 *   backend_svm.c    coarse- and fine-grained SVM
 *   coherence.c      the coherence check: two views, SIGSEGV names the
 *                    missing hand-over
 *   probe.c          the kernel that proves zero-copy
 * Backends differ only through carve__backend_ops; nothing outside the
 * backend files names an OpenCL memory call.
 */
#ifndef CARVE_REGION_INTERNAL_H
#define CARVE_REGION_INTERNAL_H

#include "carve_internal.h"
#include "pool/pool.h"

#include <pthread.h>
#include <stdatomic.h>

#define CARVE__MAX_REGIONS 256
#define CARVE__MIN_REGION_ALIGNMENT 128u

/* What the region layer keeps per live allocation (the pool's user slot). */
typedef struct carve__zc_record {
    /* Buffer backends: the allocation's own sub-buffer, made with it. Maps
     * and kernel arguments go through it, so that the host's map of one
     * allocation never overlaps a kernel's use of another (OpenCL leaves
     * using a buffer while part of it is mapped undefined). */
    cl_mem sub_buffer;
    uint64_t sub_bytes; /* its size: the bytes asked for */
    void *mapping;      /* an outstanding map of the allocation, if any */
    int device_owned;
    /* A set's image (carve__zc_reserve_for_set): carve_zc_free and
     * carve_zc_realloc refuse it, so that it cannot go while the set
     * lives. */
    int set_memory;
} carve__zc_record;

typedef struct carve__backend_ops carve__backend_ops;

struct carve_region {
    cl_context context;
    cl_device_id device;
    cl_command_queue queue; /* private, in-order: hand-overs only */
    carve_backend backend;
    const carve__backend_ops *ops;
    uint32_t flags;
    char name[32];
    unsigned char *host_base;   /* the host's view */
    unsigned char *device_view; /* what CL_MEM_USE_HOST_PTR was given */
    uint64_t bytes;
    uint64_t alignment;
    size_t mapped_bytes; /* of host_base (and device_view) if carve mapped */
    cl_mem buffer;       /* buffer backends */
    /* ALLOC_HOST_PTR: where the buffer is mapped; SVM: the allocation.
     * The region starts `lead` bytes into it, on an aligned address. */
    void *allocated;
    uint64_t lead;
    uint64_t base_alignment; /* of the host's and the device's view */
    carve__pool *pool;
    pthread_mutex_t lock;
    int zero_copy_verified;
    uint64_t device_address;
    char evidence[160];
    void (*write_back)(void *, void *, size_t);
    void (*invalidate)(void *, void *, size_t);
    void *hook_context;
    carve_region *_Atomic fallback; /* the next tier, or NULL */
    cl_program probe_program;       /* shared by regions of one device */
};

/* A live allocation found by its first byte; its region is locked. */
typedef struct carve__located {
    carve_region *region;
    uint64_t offset, size, requested;
    carve__zc_record *alloc;
    void **slot;
} carve__located;

/* ---- backends (backend_buffer.c, backend_svm.c) ----------------------------
 * One table per family. Every entry is called with the region locked,
 * except create and destroy (the region is not yet, or no longer,
 * registered). */
struct carve__backend_ops {
    /* Whether the device can back a region with `backend`. */
    int (*supported)(cl_device_id device, carve_backend backend);
    /* Makes the memory: host_base, device_view (NULL unless the device is
     * given its own address for the same pages), and whatever the family
     * keeps (buffer, allocated, lead), with the region's start aligned to
     * base_alignment. What it made before failing, destroy releases. */
    carve_status (*create)(carve_region *r, const carve_region_params *p,
                           uint64_t base_alignment);
    void (*destroy)(carve_region *r);
    /* The OpenCL object of one allocation (its sub-buffer), made with it
     * and remade when it is resized; and its release. A family that needs
     * none succeeds doing nothing. */
    carve_status (*attach)(carve_region *r, carve__zc_record *a,
                           uint64_t offset, uint64_t bytes);
    void (*detach)(carve__zc_record *a);
    /* Maps [offset, offset + bytes) for the host with `flags` after
     * `events` (a family whose memory is coherent only waits). */
    carve_status (*map)(carve_region *r, carve__zc_record *a, uint64_t offset,
                        uint64_t bytes, cl_map_flags flags, cl_uint n,
                        const cl_event *events);
    /* Enqueues the end of a->mapping (carve__zc_unmap waits for it). */
    cl_int (*enqueue_unmap)(carve_region *r, carve__zc_record *a);
    /* Makes the allocation l (whose first byte is ptr) a kernel's
     * argument. */
    carve_status (*set_arg)(const carve__located *l, cl_kernel kernel,
                            cl_uint index, const void *ptr);
    /* Whether the host's ownership of an allocation is an outstanding map
     * (carve_region_check holds the records to it). */
    int host_owns_by_mapping;
    /* Whether attach makes an object (carve_region_check refuses one
     * where the family makes none). */
    int attaches_objects;
};

extern const carve__backend_ops carve__buffer_backend;
/* The SVM table for `backend`, or NULL when the library was built without
 * the OpenCL 2.0 SVM calls. */
const carve__backend_ops *carve__svm_backend(carve_backend backend);
/* carve__device_base_alignment (carve_internal.h) is where sub-buffers
 * may start: at least CARVE__MIN_REGION_ALIGNMENT. */

/* ---- the registry (registry.c) ------------------------------------------ */
/* Registers r; 0 when CARVE__MAX_REGIONS regions live already. */
int carve__registry_add(carve_region *r);
/* Unregisters r and unlinks it from every tier chain that falls back to
 * it, so that no allocation can land in it once it is gone. */
void carve__registry_remove(carve_region *r);
/* The region whose host view holds ptr, or with `device_side`, whose
 * separate device view does (coherence check only). Lock-free, so that
 * the fault handler may call it; O(CARVE__MAX_REGIONS). */
carve_region *carve__registry_find(const void *ptr, int device_side);
/* Whether `tier` is r or one of the regions r falls back to. */
int carve__in_chain(carve_region *r, const carve_region *tier);
/* A probe program that a live region built for the same context and
 * device, retained for the caller, or NULL. */
cl_program carve__shared_probe_program(const carve_region *self);
/* Publishes r's probe program to regions created after it. */
void carve__share_probe_program(carve_region *r, cl_program program);

/* ---- the coherence check (coherence.c) ---------------------------------- */
/* Installs the SIGSEGV handler, once per process. */
void carve__coherence_watch(void);
/* Opens the owner's view of an allocation and closes the other's; nothing
 * without CARVE_REGION_COHERENCE_CHECK. */
void carve__coherence_open_view(carve_region *r, uint64_t offset,
                                uint64_t size, int device_owns);

/* ---- allocations and ownership (allocations.c, ownership.c) ------------- */

/* Why this thread's latest carve_zc_* call that takes an allocation
 * refused it (CARVE_ZC_REFUSED_*). */
extern _Thread_local uint32_t carve__zc_refusal;
/* Records why a pointer was refused; returns 0. */
int carve__zc_refuse(uint32_t reason);
/* Finds the live allocation starting at ptr and locks its region; or
 * records why not and returns 0. */
int carve__zc_locate(const void *ptr, carve__located *out);
/* Waits for the events, if any (the host's side of a hand-over that
 * needs no map). */
carve_status carve__wait_events(cl_uint n, const cl_event *events);
/* Ends a's outstanding map, if any, and waits until it is done. */
carve_status carve__zc_unmap(carve_region *r, carve__zc_record *a);
/* Maps an allocation back for the host, keeping what the device wrote. */
carve_status carve__zc_map_back(carve_region *r, carve__zc_record *a,
                                uint64_t offset, uint64_t bytes, cl_uint n,
                                const cl_event *events);
/* After a failed step that unmapped l's allocation: maps it back (with
 * its sub-buffer), so that the host owns it as before the call. */
void carve__zc_restore_mapping(carve_region *r, carve__located *l);
/* Drops what the region layer holds for one allocation: its map, its
 * OpenCL object, its record; reopens the host's view. The pool's block
 * stays (the caller frees it, or destroys the pool). */
void carve__zc_forget_record(carve_region *r, uint64_t offset, uint64_t size,
                             carve__zc_record *a);

/* ---- the probe (probe.c) ------------------------------------------------ */
/* Runs the probe kernel on r: proves (or disproves) zero-copy, learns the
 * device's address of the region, then leaves r's pool as new. */
carve_status carve__region_probe(carve_region *r);

#endif /* CARVE_REGION_INTERNAL_H */
