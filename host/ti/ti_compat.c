/* ti_compat.c - __malloc_ddr and friends over two carve pools, and the
 * pins that keep memory a live buffer uses from being handed out again. */
#define _DEFAULT_SOURCE /* MAP_NORESERVE */
#include "ti_internal.h"

#include "pool/pool.h"
#include "pool/tool_annotations.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "fault.h" /* last: test builds wrap the calls above */

#define DEFAULT_DDR_BYTES ((uint64_t)1 << 30)
#define DEFAULT_MSMC_BYTES ((uint64_t)6 << 20)

typedef struct ti_tier {
    const char *name;
    const char *size_variable;
    uint64_t default_bytes;
    pthread_mutex_t lock;
    _Atomic int ready; /* set up: base, bytes and pool never change again */
    unsigned char *base;
    uint64_t bytes;
    carve__pool *pool;
} ti_tier;

static ti_tier ddr = {"ddr", "CARVE_TI_DDR_BYTES", DEFAULT_DDR_BYTES,
                      PTHREAD_MUTEX_INITIALIZER, 0, NULL, 0, NULL};
static ti_tier msmc = {"msmc", "CARVE_TI_MSMC_BYTES", DEFAULT_MSMC_BYTES,
                       PTHREAD_MUTEX_INITIALIZER, 0, NULL, 0, NULL};

static _Thread_local carve_status last_status;

static uint64_t tier_bytes(const ti_tier *t)
{
    const char *text = getenv(t->size_variable);
    char *end = NULL;
    unsigned long long n;
    if (text == NULL || text[0] == '\0')
        return t->default_bytes;
    n = strtoull(text, &end, 0);
    if (end == text || *end != '\0' || n < CARVE_TI_ALIGNMENT)
        return t->default_bytes;
    return ((uint64_t)n + CARVE_TI_ALIGNMENT - 1) & ~(uint64_t)(CARVE_TI_ALIGNMENT - 1);
}

/* Sets the tier up; its lock is held. A failure leaves nothing behind and
 * the next call tries again, so a passing shortage of address space or
 * memory does not disable the tier for the rest of the process. */
static carve_status start_tier(ti_tier *t)
{
    uint64_t bytes = tier_bytes(t);
    carve__pool *pool = NULL;
    carve_status status;
    /* Address space only: pages are taken as they are touched. */
    void *base = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    status = carve__pool_create(bytes, CARVE_TI_ALIGNMENT, &pool);
    if (status != CARVE_SUCCESS) {
        munmap(base, (size_t)bytes);
        return status;
    }
    t->base = base;
    t->bytes = bytes;
    t->pool = pool;
    carve__annotate_region_created(t->base, t->bytes);
    atomic_store(&t->ready, 1);
    return CARVE_SUCCESS;
}

static carve_status ready(ti_tier *t)
{
    carve_status status = CARVE_SUCCESS;
    if (atomic_load(&t->ready))
        return CARVE_SUCCESS;
    pthread_mutex_lock(&t->lock);
    if (!atomic_load(&t->ready))
        status = start_tier(t);
    pthread_mutex_unlock(&t->lock);
    return status;
}

static void *tier_malloc(ti_tier *t, size_t size)
{
    uint64_t offset = 0;
    carve_status status = ready(t);
    if (status == CARVE_SUCCESS && size == 0)
        status = CARVE_ERROR_INVALID_ARGUMENT;
    if (status == CARVE_SUCCESS) {
        pthread_mutex_lock(&t->lock);
        status = carve__pool_alloc(t->pool, size, CARVE_TI_ALIGNMENT, &offset);
        if (status == CARVE_SUCCESS)
            carve__annotate_pool_alloc(t->pool, offset, t->base + offset, size);
        pthread_mutex_unlock(&t->lock);
    }
    last_status = status;
    return status == CARVE_SUCCESS ? t->base + offset : NULL;
}

/* What the layer keeps for an allocation that live buffers use (the
 * pool's user slot; NULL for one no buffer uses). */
typedef struct ti_pin {
    unsigned buffers;   /* live CL_MEM_USE_HOST_PTR buffers over it */
    int free_deferred;  /* freed while in use: freed when the last goes */
    int reported;       /* the early free was reported (once) */
    cl_mem buffer;      /* the latest buffer over it, for the report */
} ti_pin;

/* The tier whose memory holds ptr; NULL if none (or none started). */
static ti_tier *tier_holding(const void *ptr)
{
    const unsigned char *p = ptr;
    ti_tier *tiers[2] = {&ddr, &msmc};
    int i;
    for (i = 0; i < 2; ++i)
        if (atomic_load(&tiers[i]->ready) && p >= tiers[i]->base &&
            p < tiers[i]->base + tiers[i]->bytes)
            return tiers[i];
    return NULL;
}

/* Finds the live allocation of t holding `offset` (its start: O(1); an
 * inner byte: O(allocations)); t's lock is held. */
static int allocation_holding(ti_tier *t, uint64_t offset, uint64_t *start,
                              void ***slot)
{
    if (carve__pool_find(t->pool, offset, NULL, NULL, slot)) {
        *start = offset;
        return 1;
    }
    return carve__pool_find_holding(t->pool, offset, start) &&
           carve__pool_find(t->pool, *start, NULL, NULL, slot);
}

/* Gives the block at `offset` back to t's pool; t's lock is held. */
static carve_status release_block(ti_tier *t, uint64_t offset)
{
    carve__annotate_pool_free(t->pool, offset, t->base + offset);
    return carve__pool_free(t->pool, offset);
}

/* Says once that memory a live buffer uses was freed: TI's runtime would
 * hand it out again while the buffer still reads and writes it. */
static void report_early_free(const char *call, const void *ptr,
                              uint64_t bytes, const ti_pin *pin)
{
    fprintf(stderr,
            "carve: %s(%p): the %llu-byte allocation is still the memory of "
            "%u live buffer(s) (cl_mem %p, CL_MEM_USE_HOST_PTR); carve keeps "
            "it until the last is released. Release the buffers first.\n",
            call, ptr, (unsigned long long)bytes, pin->buffers,
            (void *)pin->buffer);
}

/* __free_ddr and __free_msmc: TI's find the pointer's tier themselves. */
static void free_any(const char *call, void *ptr)
{
    unsigned char *p = ptr;
    ti_tier *t;
    uint64_t size = 0;
    void **slot = NULL;
    carve_status status = CARVE_ERROR_INVALID_ARGUMENT;
    if (ptr == NULL) {
        last_status = CARVE_SUCCESS;
        return;
    }
    t = tier_holding(ptr);
    if (t != NULL) {
        pthread_mutex_lock(&t->lock);
        if (carve__pool_find(t->pool, (uint64_t)(p - t->base), &size, NULL,
                             &slot)) {
            ti_pin *pin = *slot;
            if (pin == NULL) {
                status = release_block(t, (uint64_t)(p - t->base));
            } else if (!pin->free_deferred) {
                if (!pin->reported)
                    report_early_free(call, ptr, size, pin);
                pin->reported = 1;
                pin->free_deferred = 1;
                status = CARVE_SUCCESS;
            } /* else freed already: a double free, refused */
        }
        pthread_mutex_unlock(&t->lock);
    }
    last_status = status;
}

carve_status carve__ti_pin(const void *host_ptr, cl_mem buffer, int owned,
                           void **start)
{
    const unsigned char *p = host_ptr;
    ti_tier *t = tier_holding(host_ptr);
    uint64_t offset = 0;
    void **slot = NULL;
    carve_status status = CARVE_SUCCESS;
    *start = NULL;
    if (t == NULL)
        return CARVE_SUCCESS; /* not carve's memory: nothing to keep */
    pthread_mutex_lock(&t->lock);
    if (allocation_holding(t, (uint64_t)(p - t->base), &offset, &slot)) {
        ti_pin *pin = *slot;
        if (pin == NULL) {
            pin = calloc(1, sizeof *pin);
            *slot = pin;
        }
        if (pin == NULL) {
            status = CARVE_ERROR_OUT_OF_HOST_MEMORY;
        } else {
            pin->buffers += 1;
            pin->buffer = buffer;
            /* The layer's own allocation (an MSMC buffer's): freed, quietly,
             * with its buffer. */
            if (owned)
                pin->free_deferred = pin->reported = 1;
            *start = t->base + offset;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return status;
}

void carve__ti_unpin(void *start)
{
    unsigned char *p = start;
    ti_tier *t = tier_holding(start);
    void **slot = NULL;
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->lock);
    if (carve__pool_find(t->pool, (uint64_t)(p - t->base), NULL, NULL,
                         &slot) &&
        *slot != NULL) {
        ti_pin *pin = *slot;
        if (--pin->buffers == 0) {
            int deferred = pin->free_deferred;
            free(pin);
            *slot = NULL;
            if (deferred)
                release_block(t, (uint64_t)(p - t->base));
        }
    }
    pthread_mutex_unlock(&t->lock);
}

int __is_in_malloced_region(void *ptr)
{
    const unsigned char *p = ptr;
    ti_tier *t = ptr != NULL ? tier_holding(ptr) : NULL;
    uint64_t start = 0;
    void **slot = NULL;
    int found = 0;
    if (t == NULL)
        return 0;
    pthread_mutex_lock(&t->lock);
    found = allocation_holding(t, (uint64_t)(p - t->base), &start, &slot);
    pthread_mutex_unlock(&t->lock);
    return found;
}

void *__malloc_ddr(size_t size) { return tier_malloc(&ddr, size); }
void __free_ddr(void *ptr) { free_any("__free_ddr", ptr); }
void *__malloc_msmc(size_t size) { return tier_malloc(&msmc, size); }
void __free_msmc(void *ptr) { free_any("__free_msmc", ptr); }

carve_status carve_ti_last_status(void) { return last_status; }

carve_status carve_ti_usage(const char *tier, size_t *in_use, size_t *capacity)
{
    ti_tier *t;
    carve__pool_stats s;
    carve_status status;
    if (tier == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    t = strcmp(tier, "ddr") == 0 ? &ddr : strcmp(tier, "msmc") == 0 ? &msmc : NULL;
    if (t == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    status = ready(t);
    if (status != CARVE_SUCCESS)
        return status;
    pthread_mutex_lock(&t->lock);
    carve__pool_get_stats(t->pool, &s);
    pthread_mutex_unlock(&t->lock);
    if (in_use != NULL)
        *in_use = (size_t)s.in_use;
    if (capacity != NULL)
        *capacity = (size_t)s.capacity;
    return CARVE_SUCCESS;
}
