/*
 * allocations.c - the zero-copy allocation calls (carve_zc_malloc, calloc,
 * memalign, realloc, free), locating the allocation a pointer starts, and
 * the reason a pointer was refused.
 */
#include "region_internal.h"
#include "pool/tool_annotations.h"

#include <stdlib.h>
#include <string.h>
#include "fault.h" /* last: test builds wrap the calls above */

static _Thread_local carve_status last_status;
_Thread_local uint32_t carve__zc_refusal;

int carve__zc_refuse(uint32_t reason)
{
    carve__zc_refusal = reason;
    return 0;
}

/* ---- finding allocations ------------------------------------------------ */

/* Only a refusal walks the region's allocations, O(allocations), to tell
 * an interior pointer from a freed one. */
int carve__zc_locate(const void *ptr, carve__located *out)
{
    carve_region *r = carve_zc_region_of(ptr);
    uint64_t start = 0;
    if (ptr == NULL)
        return carve__zc_refuse(CARVE_ZC_REFUSED_NULL);
    if (r == NULL)
        return carve__zc_refuse(CARVE_ZC_REFUSED_FOREIGN);
    pthread_mutex_lock(&r->lock);
    out->region = r;
    out->offset = (uint64_t)((const unsigned char *)ptr - r->host_base);
    if (!carve__pool_find(r->pool, out->offset, &out->size, &out->requested,
                          &out->slot)) {
        int inside = carve__pool_find_holding(r->pool, out->offset, &start);
        pthread_mutex_unlock(&r->lock);
        return carve__zc_refuse(inside ? CARVE_ZC_REFUSED_INTERIOR
                                       : CARVE_ZC_REFUSED_FREED);
    }
    out->alloc = *out->slot;
    carve__zc_refusal = CARVE_ZC_REFUSED_NONE;
    return 1;
}

static void *fail(carve_status status)
{
    last_status = status;
    return NULL;
}

carve_status carve_zc_last_status(void) { return last_status; }

uint32_t carve_zc_last_refusal(void) { return carve__zc_refusal; }

const char *carve_zc_refusal_string(uint32_t refusal)
{
    static const char *const texts[] = {
        "the pointer was accepted",
        "NULL where an allocation was needed",
        "a pointer no region handed out (stack, malloc, another buffer)",
        "a pointer inside a live allocation, not its start",
        "a pointer to memory no live allocation holds: freed already, or "
        "never handed out",
        "an allocation of a region outside the given region's fallback chain",
        "an arena set's memory, which carve_set_* hand over and release",
        "a range past the bytes the allocation was asked for",
        "an allocation the device owns: carve_zc_to_host first"};
    return refusal < sizeof texts / sizeof texts[0] ? texts[refusal]
                                                    : "unknown refusal";
}

/* ---- allocation --------------------------------------------------------- */

/* Allocates in r alone; TIER_FULL when its pool has no room. */
static carve_status allocate_in(carve_region *r, uint64_t bytes,
                                uint64_t align, carve__zc_record *a,
                                uint64_t *offset)
{
    uint64_t size = 0;
    void **slot = NULL;
    carve_status status;
    /* The pool aligns offsets; addresses follow only as far as the base. */
    if (align > r->base_alignment)
        return CARVE_ERROR_INVALID_ALIGNMENT;
    pthread_mutex_lock(&r->lock);
    status = carve__pool_alloc(r->pool, bytes, align ? align : r->alignment,
                               offset);
    if (status == CL_MEM_OBJECT_ALLOCATION_FAILURE)
        status = CARVE_ERROR_TIER_FULL;
    if (status == CARVE_SUCCESS) {
        carve__pool_find(r->pool, *offset, &size, NULL, &slot);
        *slot = a;
        status = r->ops->attach(r, a, *offset, bytes);
        /* A fresh allocation's bytes mean nothing yet: a copying platform
         * need not copy them to the host, and a checker such as Oclgrind
         * then counts what the host writes as initialised. */
        if (status == CARVE_SUCCESS)
            status = r->ops->map(r, a, *offset, size,
                                  CL_MAP_WRITE_INVALIDATE_REGION, 0, NULL);
        if (status != CARVE_SUCCESS) {
            r->ops->detach(a);
            carve__pool_free(r->pool, *offset);
        }
    }
    if (status == CARVE_SUCCESS)
        carve__annotate_allocated(r->host_base + *offset, bytes, size);
    pthread_mutex_unlock(&r->lock);
    return status;
}

/* Tries r, then the regions it falls back to, in order (the chain has no
 * cycle: carve_region_set_fallback refuses one). */
static void *allocate(carve_region *r, uint64_t bytes, uint64_t align,
                      int zero)
{
    carve_region *tier;
    uint64_t offset = 0;
    carve_status status = CARVE_ERROR_TIER_FULL;
    carve__zc_record *a;
    if (r == NULL || bytes == 0)
        return fail(CARVE_ERROR_INVALID_ARGUMENT);
    a = calloc(1, sizeof *a);
    if (a == NULL)
        return fail(CARVE_ERROR_OUT_OF_HOST_MEMORY);
    for (tier = r; tier != NULL; tier = atomic_load(&tier->fallback)) {
        status = allocate_in(tier, bytes, align, a, &offset);
        if (status != CARVE_ERROR_TIER_FULL)
            break;
    }
    if (status != CARVE_SUCCESS) {
        free(a);
        return fail(status);
    }
    if (zero)
        memset(tier->host_base + offset, 0, (size_t)bytes);
    return tier->host_base + offset;
}

void *carve_zc_malloc(carve_region *r, size_t bytes)
{
    return allocate(r, bytes, 0, 0);
}

void *carve_zc_calloc(carve_region *r, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return fail(CARVE_ERROR_SIZE_OVERFLOW);
    return allocate(r, (uint64_t)count * size, 0, 1);
}

void *carve_zc_memalign(carve_region *r, size_t alignment, size_t bytes)
{
    if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        return fail(CARVE_ERROR_INVALID_ALIGNMENT);
    return allocate(r, bytes, alignment, 0);
}

/* Frees l's block; the region is locked. */
static void retire(carve_region *r, carve__located *l)
{
    carve__zc_forget_record(r, l->offset, l->size, l->alloc);
    carve__pool_free(r->pool, l->offset);
}

/* Frees ptr if it is a live allocation of r's chain (any region for NULL)
 * and a set's memory exactly when `set_memory` says so. */
static carve_status free_allocation(carve_region *r, void *ptr, int set_memory)
{
    carve__located l;
    if (ptr == NULL) {
        carve__zc_refusal = CARVE_ZC_REFUSED_NONE;
        return CARVE_SUCCESS;
    }
    if (!carve__zc_locate(ptr, &l))
        return CARVE_ERROR_INVALID_ARGUMENT;
    if ((r != NULL && !carve__in_chain(r, l.region)) ||
        l.alloc->set_memory != set_memory) {
        carve__zc_refuse(l.alloc->set_memory != set_memory
                   ? CARVE_ZC_REFUSED_SET_MEMORY
                   : CARVE_ZC_REFUSED_OTHER_REGION);
        pthread_mutex_unlock(&l.region->lock);
        return CARVE_ERROR_INVALID_ARGUMENT;
    }
    retire(l.region, &l);
    pthread_mutex_unlock(&l.region->lock);
    return CARVE_SUCCESS;
}

carve_status carve_zc_free(carve_region *r, void *ptr)
{
    return free_allocation(r, ptr, 0);
}

/* The set's calls below leave carve_zc_last_refusal as the user's latest
 * carve_zc_* call left it. */
carve_status carve__zc_reserve_for_set(void *ptr)
{
    carve__located l;
    uint32_t kept = carve__zc_refusal;
    carve_status status = CARVE_ERROR_INVALID_ARGUMENT;
    if (carve__zc_locate(ptr, &l)) {
        l.alloc->set_memory = 1;
        pthread_mutex_unlock(&l.region->lock);
        status = CARVE_SUCCESS;
    }
    carve__zc_refusal = kept;
    return status;
}

carve_status carve__zc_free_set_memory(carve_region *r, void *ptr)
{
    uint32_t kept = carve__zc_refusal;
    carve_status status = free_allocation(r, ptr, 1);
    carve__zc_refusal = kept;
    return status;
}

/* Resizes l's block without moving it, if the pool can; the region is
 * locked. The mapping and any sub-buffer describe the old size, so both
 * are redone after a change. */
static carve_status resize_in_place(carve__located *l, uint64_t bytes)
{
    carve__pool *pool = l->region->pool;
    uint64_t size = 0;
    carve_status status;
    if (carve__pool_resize(pool, l->offset, bytes) != CARVE_SUCCESS)
        return CARVE_ERROR_TIER_FULL;
    carve__pool_find(pool, l->offset, &size, NULL, NULL);
    /* Before the map: a runtime that copies on map writes the new tail. */
    carve__annotate_resized(l->region->host_base + l->offset, l->requested,
                            l->size, bytes, size);
    /* The old map and sub-buffer describe the old size: unmap, then
     * remake both. */
    status = carve__zc_unmap(l->region, l->alloc);
    if (status == CARVE_SUCCESS) {
        l->region->ops->detach(l->alloc);
        status = l->region->ops->attach(l->region, l->alloc, l->offset, bytes);
    }
    if (status == CARVE_SUCCESS)
        status = carve__zc_map_back(l->region, l->alloc, l->offset, size, 0,
                                    NULL);
    if (status != CARVE_SUCCESS) {
        /* Back to the old size, mapped as before (the lock is held, so the
         * space is still there); the caller moves the block instead. The
         * pool can only fail this for want of host memory for its
         * bookkeeping, a second failure in one call: the block then keeps
         * the new size, still the caller's. */
        if (carve__pool_resize(pool, l->offset, l->requested) == CARVE_SUCCESS)
            carve__annotate_resized(l->region->host_base + l->offset, bytes,
                                    size, l->requested, l->size);
        if (l->alloc->mapping == NULL) {
            l->region->ops->detach(l->alloc);
            carve__zc_restore_mapping(l->region, l);
        }
        return status;
    }
    return CARVE_SUCCESS;
}

void *carve_zc_realloc(carve_region *r, void *ptr, size_t bytes)
{
    carve__located l;
    carve_status refusal = CARVE_SUCCESS;
    void *moved;
    if (ptr == NULL) {
        carve__zc_refusal = CARVE_ZC_REFUSED_NONE;
        return carve_zc_malloc(r, bytes);
    }
    if (!carve__zc_locate(ptr, &l))
        return fail(CARVE_ERROR_INVALID_ARGUMENT);
    if (l.alloc->set_memory) {
        refusal = CARVE_ERROR_INVALID_ARGUMENT;
        carve__zc_refuse(CARVE_ZC_REFUSED_SET_MEMORY);
    } else if (r != NULL && !carve__in_chain(r, l.region)) {
        refusal = CARVE_ERROR_INVALID_ARGUMENT;
        carve__zc_refuse(CARVE_ZC_REFUSED_OTHER_REGION);
    } else if (l.alloc->device_owned) {
        refusal = CARVE_ERROR_WRONG_OWNER;
        carve__zc_refuse(CARVE_ZC_REFUSED_DEVICE_OWNED);
    }
    if (refusal != CARVE_SUCCESS || bytes == 0) {
        if (refusal == CARVE_SUCCESS)
            retire(l.region, &l); /* realloc(p, 0) frees */
        pthread_mutex_unlock(&l.region->lock);
        return refusal != CARVE_SUCCESS ? fail(refusal) : NULL;
    }
    if (resize_in_place(&l, bytes) == CARVE_SUCCESS) {
        pthread_mutex_unlock(&l.region->lock);
        return ptr;
    }
    pthread_mutex_unlock(&l.region->lock);
    /* A move lands where a new request of the caller's would. */
    moved = carve_zc_malloc(r != NULL ? r : l.region, bytes);
    if (moved == NULL)
        return NULL;
    memcpy(moved, ptr, (size_t)(l.requested < bytes ? l.requested : bytes));
    carve_zc_free(NULL, ptr);
    return moved;
}
