/* ti_compat.c - __malloc_ddr and friends over two carve pools. */
#define _DEFAULT_SOURCE /* MAP_NORESERVE */
#include "carve/ti_compat.h"

#include "carve_internal.h"
#include "pool.h"
#include "tool_annotations.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define DEFAULT_DDR_BYTES ((uint64_t)1 << 30)
#define DEFAULT_MSMC_BYTES ((uint64_t)6 << 20)

typedef struct ti_tier {
    const char *name;
    const char *size_variable;
    uint64_t default_bytes;
    pthread_once_t once;
    pthread_mutex_t lock;
    unsigned char *base;
    uint64_t bytes;
    carve__pool *pool;
    carve_status init_status;
} ti_tier;

static ti_tier ddr = {"ddr", "CARVE_TI_DDR_BYTES", DEFAULT_DDR_BYTES,
                      PTHREAD_ONCE_INIT, PTHREAD_MUTEX_INITIALIZER,
                      NULL, 0, NULL, CARVE_SUCCESS};
static ti_tier msmc = {"msmc", "CARVE_TI_MSMC_BYTES", DEFAULT_MSMC_BYTES,
                       PTHREAD_ONCE_INIT, PTHREAD_MUTEX_INITIALIZER,
                       NULL, 0, NULL, CARVE_SUCCESS};

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

static void init_tier(ti_tier *t)
{
    void *base;
    t->bytes = tier_bytes(t);
    /* Address space only: pages are taken as they are touched. */
    base = mmap(NULL, (size_t)t->bytes, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        t->init_status = CARVE_ERROR_OUT_OF_HOST_MEMORY;
        return;
    }
    t->base = base;
    t->init_status = carve__pool_create(t->bytes, CARVE_TI_ALIGNMENT, &t->pool);
    if (t->init_status == CARVE_SUCCESS)
        carve__annotate_region_created(t->base, t->bytes);
}

static void init_ddr(void) { init_tier(&ddr); }
static void init_msmc(void) { init_tier(&msmc); }

static carve_status ready(ti_tier *t)
{
    pthread_once(&t->once, t == &ddr ? init_ddr : init_msmc);
    return t->init_status;
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
