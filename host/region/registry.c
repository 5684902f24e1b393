/*
 * registry.c - the live regions: a fixed table that the address lookup
 * reads without a lock (the SIGSEGV handler uses it), the tier chains
 * regions fall back along, and the probe program regions of one device
 * share.
 */
#include "region_internal.h"

#include "fault.h" /* last: test builds wrap the calls above */

/* A live region and copies of its address ranges, which never change while
 * it is registered. carve__registry_find reads the copies, never the region
 * itself: another thread may be releasing (freeing) a region that the
 * look-up passes. `version` is odd while the registry lock's holder
 * changes the entry; a reader that finds it odd, or changed by the end of
 * its reads, skips the entry (a region being created or released holds no
 * pointer a caller may use). uintptr_t fields: lock-free, and so usable in
 * the fault handler, on 32-bit hosts too. */
typedef struct registry_entry {
    carve_region *_Atomic region;
    _Atomic uintptr_t host_base, device_view, bytes;
    _Atomic unsigned version;
} registry_entry;

static registry_entry registry[CARVE__MAX_REGIONS];
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- the registry ------------------------------------------------------- */

/* Sets entry e to r (NULL: empty); the registry lock is held. */
static void registry_set(registry_entry *e, carve_region *r)
{
    atomic_fetch_add(&e->version, 1u);
    if (r != NULL) {
        atomic_store(&e->host_base, (uintptr_t)r->host_base);
        atomic_store(&e->device_view, (uintptr_t)r->device_view);
        atomic_store(&e->bytes, (uintptr_t)r->bytes);
    }
    atomic_store(&e->region, r);
    atomic_fetch_add(&e->version, 1u);
}

int carve__registry_add(carve_region *r)
{
    int i, done = 0;
    pthread_mutex_lock(&registry_lock);
    for (i = 0; i < CARVE__MAX_REGIONS && !done; ++i) {
        if (atomic_load(&registry[i].region) == NULL) {
            registry_set(&registry[i], r);
            done = 1;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return done;
}

void carve__registry_remove(carve_region *r)
{
    int i;
    pthread_mutex_lock(&registry_lock);
    for (i = 0; i < CARVE__MAX_REGIONS; ++i) {
        carve_region *other = atomic_load(&registry[i].region);
        if (other == r)
            registry_set(&registry[i], NULL);
        else if (other != NULL && atomic_load(&other->fallback) == r)
            atomic_store(&other->fallback, NULL);
    }
    pthread_mutex_unlock(&registry_lock);
}

/* Whether r is a live region; the registry lock is held. */
static int registered(const carve_region *r)
{
    int i;
    for (i = 0; r != NULL && i < CARVE__MAX_REGIONS; ++i)
        if (atomic_load(&registry[i].region) == r)
            return 1;
    return 0;
}

static int inside_range(uintptr_t p, uintptr_t base, uintptr_t bytes)
{
    return base != 0 && p >= base && p - base < bytes;
}

carve_region *carve__registry_find(const void *ptr, int device_side)
{
    uintptr_t p = (uintptr_t)ptr;
    int i;
    for (i = 0; i < CARVE__MAX_REGIONS; ++i) {
        registry_entry *e = &registry[i];
        unsigned version = atomic_load(&e->version);
        carve_region *r = atomic_load(&e->region);
        uintptr_t host = atomic_load(&e->host_base);
        uintptr_t device = atomic_load(&e->device_view);
        uintptr_t bytes = atomic_load(&e->bytes);
        if (r == NULL || version % 2 != 0 ||
            atomic_load(&e->version) != version)
            continue;
        if (device_side ? device != host && inside_range(p, device, bytes)
                        : inside_range(p, host, bytes))
            return r;
    }
    return NULL;
}

carve_region *carve_zc_region_of(const void *ptr)
{
    return ptr != NULL ? carve__registry_find(ptr, 0) : NULL;
}

/* Building is most of the cost of creating a region; sharing the probe
 * program makes many small tiers cheap. */
cl_program carve__shared_probe_program(const carve_region *self)
{
    cl_program program = NULL;
    int i;
    pthread_mutex_lock(&registry_lock);
    for (i = 0; i < CARVE__MAX_REGIONS && program == NULL; ++i) {
        carve_region *r = atomic_load(&registry[i].region);
        if (r != NULL && r != self && r->context == self->context &&
            r->device == self->device)
            program = r->probe_program;
    }
    if (program != NULL)
        clRetainProgram(program);
    pthread_mutex_unlock(&registry_lock);
    return program;
}

void carve__share_probe_program(carve_region *r, cl_program program)
{
    pthread_mutex_lock(&registry_lock);
    r->probe_program = program;
    pthread_mutex_unlock(&registry_lock);
}

/* ---- memory tiers ------------------------------------------------------- */

carve_status carve_region_set_fallback(carve_region *region,
                                       carve_region *fallback)
{
    carve_status status = CARVE_SUCCESS;
    carve_region *tier;
    int steps;
    pthread_mutex_lock(&registry_lock);
    if (!registered(region) || (fallback != NULL && !registered(fallback)))
        status = CARVE_ERROR_INVALID_ARGUMENT;
    else if (fallback != NULL && (fallback->context != region->context ||
                                  fallback->device != region->device))
        status = CARVE_ERROR_INVALID_ARGUMENT;
    /* A chain that came back to `region` would never end. */
    for (tier = fallback, steps = 0;
         status == CARVE_SUCCESS && tier != NULL && steps <= CARVE__MAX_REGIONS;
         tier = atomic_load(&tier->fallback), ++steps)
        if (tier == region)
            status = CARVE_ERROR_INVALID_ARGUMENT;
    if (status == CARVE_SUCCESS)
        atomic_store(&region->fallback, fallback);
    pthread_mutex_unlock(&registry_lock);
    return status;
}

int carve__in_chain(carve_region *r, const carve_region *tier)
{
    int steps;
    for (steps = 0; r != NULL && steps <= CARVE__MAX_REGIONS;
         r = atomic_load(&r->fallback), ++steps)
        if (r == tier)
            return 1;
    return 0;
}
