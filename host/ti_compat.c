/* ti_compat.c - __malloc_ddr and friends over two carve pools. */
#define _DEFAULT_SOURCE /* MAP_NORESERVE */
#include "carve/ti_compat.h"

#include "carve_internal.h"
#include "pool/pool.h"
#include "pool/tool_annotations.h"

#include <pthread.h>
#include <stdatomic.h>
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

static void tier_free(ti_tier *t, void *ptr)
{
    unsigned char *p = ptr;
    carve_status status;
    if (ptr == NULL) {
        last_status = CARVE_SUCCESS;
        return;
    }
    status = ready(t);
    if (status == CARVE_SUCCESS) {
        if (p < t->base || p >= t->base + t->bytes) {
            status = CARVE_ERROR_INVALID_ARGUMENT;
        } else {
            pthread_mutex_lock(&t->lock);
            carve__annotate_pool_free(t->pool, (uint64_t)(p - t->base), p);
            status = carve__pool_free(t->pool, (uint64_t)(p - t->base));
            pthread_mutex_unlock(&t->lock);
        }
    }
    last_status = status;
}

void *__malloc_ddr(size_t size) { return tier_malloc(&ddr, size); }
void __free_ddr(void *ptr) { tier_free(&ddr, ptr); }
void *__malloc_msmc(size_t size) { return tier_malloc(&msmc, size); }
void __free_msmc(void *ptr) { tier_free(&msmc, ptr); }

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
