/*
 * ti_compat.c - __malloc_ddr / __free_ddr / __malloc_msmc / __free_msmc
 * keep TI's semantics: 128-byte alignment, exact pointers for free (of
 * either tier, through either call), NULL when a tier is full; and misuse
 * is refused without damage.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "carve_test.h"

#include <carve/ti_compat.h>

#include <pthread.h>

static void test_alignment_and_tiers(void)
{
    void *a = __malloc_ddr(1), *b = __malloc_ddr(1000), *m = __malloc_msmc(7);
    size_t used = 0, capacity = 0;
    EXPECT(a && b && m);
    EXPECT((uintptr_t)a % 128 == 0 && (uintptr_t)b % 128 == 0 &&
           (uintptr_t)m % 128 == 0);
    memset(b, 0x5a, 1000); /* the memory is really usable */
    REQUIRE_OK(carve_ti_usage("ddr", &used, &capacity));
    EXPECT(used == 128 + 1024 && capacity == (1u << 20));
    __free_ddr((char *)b + 128); /* inside an allocation: refused */
    EXPECT(carve_ti_last_status() == CARVE_ERROR_INVALID_ARGUMENT);
    __free_ddr(b);
    EXPECT(carve_ti_last_status() == CARVE_SUCCESS);
    __free_ddr(b); /* double free: refused */
    EXPECT(carve_ti_last_status() == CARVE_ERROR_INVALID_ARGUMENT);
    __free_ddr(NULL);
    EXPECT(carve_ti_last_status() == CARVE_SUCCESS);
    EXPECT(__malloc_ddr(0) == NULL);
    __free_msmc(a); /* the other tier's call: TI's finds the tier itself */
    EXPECT(carve_ti_last_status() == CARVE_SUCCESS);
    __free_ddr(m);
    EXPECT(carve_ti_last_status() == CARVE_SUCCESS);
    __free_ddr(&used); /* not a tier's memory: refused */
    EXPECT(carve_ti_last_status() == CARVE_ERROR_INVALID_ARGUMENT);
    REQUIRE_OK(carve_ti_usage("ddr", &used, NULL));
    EXPECT(used == 0);
    REQUIRE_OK(carve_ti_usage("msmc", &used, NULL));
    EXPECT(used == 0);
    EXPECT_STATUS(carve_ti_usage("l2", &used, NULL),
                  CARVE_ERROR_INVALID_ARGUMENT);
}

static void test_full_tier(void)
{
    /* 64 KiB of msmc (set in main): 512 blocks of 128 bytes, no more. */
    void *blocks[600];
    int n = 0;
    while (n < 600 && (blocks[n] = __malloc_msmc(100)) != NULL)
        ++n;
    EXPECT(n == 512);
    EXPECT(carve_ti_last_status() == CL_MEM_OBJECT_ALLOCATION_FAILURE);
    while (n > 0)
        __free_msmc(blocks[--n]);
    EXPECT(__malloc_msmc(65536) != NULL); /* all of it, merged again */
}

static void *churn(void *seed_ptr)
{
    carve_test_rng rng;
    void *live[64] = {0};
    unsigned char tags[64] = {0};
    int i, k;
    rng.state = (uint64_t)(uintptr_t)seed_ptr;
    for (i = 0; i < 20000; ++i) {
        k = (int)carve_test_below(&rng, 64);
        if (live[k] != NULL) {
            EXPECT(((unsigned char *)live[k])[0] == tags[k]);
            __free_ddr(live[k]);
            live[k] = NULL;
        } else if ((live[k] = __malloc_ddr(1 + carve_test_below(&rng, 2048)))) {
            tags[k] = (unsigned char)(i | 1);
            ((unsigned char *)live[k])[0] = tags[k];
        }
    }
    for (k = 0; k < 64; ++k)
        __free_ddr(live[k]);
    return NULL;
}

static void test_threads(void)
{
    pthread_t threads[4];
    size_t used = 1;
    int i;
    for (i = 0; i < 4; ++i)
        pthread_create(&threads[i], NULL, churn, (void *)(uintptr_t)(i + 1));
    for (i = 0; i < 4; ++i)
        pthread_join(threads[i], NULL);
    REQUIRE_OK(carve_ti_usage("ddr", &used, NULL));
    EXPECT(used == 0);
}

int main(void)
{
    /* Read once, at the first call: small tiers to reach their limits. */
    setenv("CARVE_TI_DDR_BYTES", "1048576", 1);
    setenv("CARVE_TI_MSMC_BYTES", "65536", 1);
    test_alignment_and_tiers();
    test_full_tier();
    test_threads();
    return carve_test_finish("ti_compat");
}
