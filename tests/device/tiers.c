/*
 * tiers.c - memory tiers: a large "ddr" region and a small "sram" one
 * (user memory standing in for an on-chip window).
 *
 * A plan that fits sram lands there; a bigger one fails with
 * CARVE_ERROR_TIER_FULL and changes nothing; once sram falls back to ddr,
 * it lands in ddr, and both run a kernel. The same holds for carve_zc_*
 * allocations, including a realloc that outgrows sram, and for a chain of
 * three tiers. carve_region_set_fallback refuses cycles and mismatched
 * regions, and a released tier drops out of every chain.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "device_support.h"

#include <sys/mman.h>

#define SRAM_BYTES (64u * 1024u)
#define MSMC_BYTES (256u * 1024u)
#define DDR_BYTES (8u * 1024u * 1024u)
#define SMALL_ITEMS 16u
#define BIG_ITEMS 512u
#define ARENA_BYTES 1024u

static const char *const source = DEV_KERNEL_PRELUDE
    "kernel void keep(global uchar *carved)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uchar *p = carve_malloc(&a, 64);\n"
    "    if (p != 0)\n"
    "        dev_fill(p, 64, id);\n"
    "    carve_set_root(&a, p);\n"
    "    carve_arena_close(&a);\n"
    "}\n";

typedef struct tiers {
    carve_test_cl cl;
    cl_program program;
    cl_kernel keep;
    carve_region *ddr, *sram;
    void *sram_memory;
} tiers;

static carve_region *make_region(const tiers *t, carve_backend backend,
                                 uint64_t bytes, void *memory,
                                 const char *name)
{
    carve_region_params p;
    carve_region *region = NULL;
    memset(&p, 0, sizeof p);
    p.backend = backend;
    p.bytes = bytes;
    p.user_base = memory;
    p.name = name;
    REQUIRE_OK(carve_region_create(t->cl.context, t->cl.device, &p, &region));
    return region;
}

static carve_region_info info_of(carve_region *region)
{
    carve_region_info info;
    REQUIRE_OK(carve_region_get_info(region, &info));
    return info;
}

static const char *tier_name(carve_region *region)
{
    return region != NULL ? info_of(region).name : "(none)";
}

/* Runs `keep` on the set and checks every arena's block. */
static void run_and_check(tiers *t, carve_set *set, size_t items)
{
    uint32_t id, bad = 0;
    DEV_RUN(set, t->keep, 1, &items);
    for (id = 0; id < items; ++id) {
        carve_arena_stats st = dev_stats(set, id);
        const unsigned char *p =
            carve_layout_block(carve_test_image(set), id, st.root, 64);
        bad += p == NULL || dev_mismatches(p, 64, id) != 0;
    }
    EXPECT(bad == 0);
}

static void test_sets(tiers *t)
{
    const size_t small_items = SMALL_ITEMS, big_items = BIG_ITEMS;
    carve_plan small = dev_plan(&t->cl, 1, &small_items, ARENA_BYTES);
    carve_plan big = dev_plan(&t->cl, 1, &big_items, ARENA_BYTES);
    carve_set *set = NULL;
    carve_zero_copy_info zc;
    uint64_t sram_failed;
    EXPECT(small.total_bytes <= SRAM_BYTES && big.total_bytes > SRAM_BYTES);

    REQUIRE_OK(carve_set_create_in(t->sram, t->cl.queue, &small,
                                   CARVE_SET_REQUIRE_ZERO_COPY, &set));
    printf("a %llu-byte plan lands in %s\n",
           (unsigned long long)small.total_bytes,
           tier_name(carve_set_region(set)));
    EXPECT(carve_set_region(set) == t->sram);
    run_and_check(t, set, small_items);
    carve_set_release(set);

    sram_failed = info_of(t->sram).failed_requests;
    EXPECT_STATUS(carve_set_create_in(t->sram, t->cl.queue, &big, 0, &set),
                  CARVE_ERROR_TIER_FULL);
    EXPECT(set == NULL);
    printf("a %llu-byte plan without a fallback: %s\n",
           (unsigned long long)big.total_bytes,
           carve_status_string(CARVE_ERROR_TIER_FULL));
    EXPECT(info_of(t->sram).failed_requests == sram_failed + 1);
    EXPECT(info_of(t->sram).live_allocations == 0);
    EXPECT(info_of(t->ddr).live_allocations == 0);

    REQUIRE_OK(carve_region_set_fallback(t->sram, t->ddr));
    EXPECT(info_of(t->sram).fallback == t->ddr);
    REQUIRE_OK(carve_set_create_in(t->sram, t->cl.queue, &big,
                                   CARVE_SET_REQUIRE_ZERO_COPY, &set));
    printf("with sram falling back to ddr it lands in %s\n",
           tier_name(carve_set_region(set)));
    EXPECT(carve_set_region(set) == t->ddr);
    EXPECT(info_of(t->ddr).live_allocations == 1);
    EXPECT(info_of(t->sram).failed_requests == sram_failed + 2);
    REQUIRE_OK(carve_set_zero_copy(set, &zc));
    EXPECT(zc.verified == 1 && zc.device_address == zc.host_address);
    EXPECT(carve_zc_region_of((void *)(uintptr_t)zc.host_address) == t->ddr);
    run_and_check(t, set, big_items);
    carve_set_release(set);

    /* a plan that fits still takes the first tier */
    REQUIRE_OK(carve_set_create_in(t->sram, t->cl.queue, &small, 0, &set));
    EXPECT(carve_set_region(set) == t->sram);
    carve_set_release(set);
    REQUIRE_OK(carve_region_set_fallback(t->sram, NULL));
    EXPECT(info_of(t->sram).fallback == NULL);
}

static void test_allocations(tiers *t)
{
    const size_t piece = SRAM_BYTES / 4;
    unsigned char *in_sram[4], *spilled, *grown;
    int i;
    REQUIRE_OK(carve_region_set_fallback(t->sram, t->ddr));
    for (i = 0; i < 4; ++i) {
        in_sram[i] = carve_zc_malloc(t->sram, piece);
        EXPECT(in_sram[i] != NULL && carve_zc_region_of(in_sram[i]) == t->sram);
    }
    spilled = carve_zc_calloc(t->sram, 1, piece);
    EXPECT(spilled != NULL && carve_zc_region_of(spilled) == t->ddr);
    EXPECT(info_of(t->ddr).live_allocations == 1);

    /* a realloc that outgrows full sram moves to ddr, keeping the bytes */
    memset(in_sram[2], 0x6d, piece);
    grown = carve_zc_realloc(t->sram, in_sram[2], 2 * piece);
    EXPECT(grown != NULL && carve_zc_region_of(grown) == t->ddr);
    EXPECT(grown != NULL && carve_test_holds(grown, piece, 0x6d));
    EXPECT(info_of(t->sram).live_allocations == 3);
    REQUIRE_OK(carve_zc_free(t->sram, in_sram[3]));

    /* sram's calls accept what its chain holds; ddr's do not reach back */
    EXPECT_STATUS(carve_zc_free(t->ddr, in_sram[0]),
                  CARVE_ERROR_INVALID_ARGUMENT);
    REQUIRE_OK(carve_zc_free(t->sram, grown));
    REQUIRE_OK(carve_zc_free(t->sram, spilled));
    REQUIRE_OK(carve_zc_free(t->sram, in_sram[0]));
    REQUIRE_OK(carve_zc_free(t->sram, in_sram[1]));
    EXPECT(info_of(t->ddr).live_allocations == 0);
    EXPECT(info_of(t->sram).live_allocations == 0);

    /* too big for every tier */
    spilled = carve_zc_malloc(t->sram, DDR_BYTES + 1);
    EXPECT(spilled == NULL);
    EXPECT_STATUS(carve_zc_last_status(), CARVE_ERROR_TIER_FULL);
    REQUIRE_OK(carve_region_set_fallback(t->sram, NULL));
    EXPECT(carve_zc_malloc(t->sram, SRAM_BYTES + 1) == NULL);
    EXPECT_STATUS(carve_zc_last_status(), CARVE_ERROR_TIER_FULL);
    EXPECT_STATUS(carve_region_check(t->sram, NULL), CARVE_SUCCESS);
    EXPECT_STATUS(carve_region_check(t->ddr, NULL), CARVE_SUCCESS);
}

static void test_chain(tiers *t)
{
    carve_region *msmc =
        make_region(t, CARVE_BACKEND_AUTO, MSMC_BYTES, NULL, "msmc");
    unsigned char *p;
    carve_test_cl other = carve_test_open_cl();
    carve_region_params params;
    carve_region *foreign = NULL;

    REQUIRE_OK(carve_region_set_fallback(t->sram, msmc));
    REQUIRE_OK(carve_region_set_fallback(msmc, t->ddr));
    p = carve_zc_malloc(t->sram, SRAM_BYTES + 1);
    EXPECT(p != NULL && carve_zc_region_of(p) == msmc);
    REQUIRE_OK(carve_zc_free(t->sram, p)); /* two steps down the chain */
    p = carve_zc_malloc(t->sram, MSMC_BYTES + 1);
    EXPECT(p != NULL && carve_zc_region_of(p) == t->ddr);
    REQUIRE_OK(carve_zc_free(t->sram, p));

    /* no cycles, of any length */
    EXPECT_STATUS(carve_region_set_fallback(t->ddr, t->sram),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_region_set_fallback(t->ddr, msmc),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_region_set_fallback(msmc, msmc),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT(info_of(t->ddr).fallback == NULL);
    EXPECT_STATUS(carve_region_set_fallback(NULL, msmc),
                  CARVE_ERROR_INVALID_ARGUMENT);

    /* tiers share a context and device */
    memset(&params, 0, sizeof params);
    params.backend = CARVE_BACKEND_HOST_MEMORY;
    params.bytes = 4096;
    REQUIRE_OK(carve_region_create(other.context, other.device, &params,
                                   &foreign));
    EXPECT_STATUS(carve_region_set_fallback(t->ddr, foreign),
                  CARVE_ERROR_INVALID_ARGUMENT);
    carve_region_release(foreign);
    carve_test_close_cl(&other);

    /* a released tier leaves every chain */
    carve_region_release(msmc);
    EXPECT(info_of(t->sram).fallback == NULL);
    EXPECT(carve_zc_malloc(t->sram, SRAM_BYTES + 1) == NULL);
    EXPECT_STATUS(carve_zc_last_status(), CARVE_ERROR_TIER_FULL);
}

int main(void)
{
    tiers t;
    t.cl = carve_test_open_cl();
    t.keep = carve_test_kernel(&t.cl, source, "keep", &t.program);
    t.sram_memory = mmap(NULL, SRAM_BYTES, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t.sram_memory == MAP_FAILED) {
        fprintf(stderr, "mmap failed\n");
        return 1;
    }
    t.ddr = make_region(&t, CARVE_BACKEND_AUTO, DDR_BYTES, NULL, "ddr");
    t.sram = make_region(&t, CARVE_BACKEND_USER_MEMORY, SRAM_BYTES,
                         t.sram_memory, "sram");
    printf("ddr: %s, %llu bytes; sram: %s, %llu bytes\n",
           info_of(t.ddr).backend_name,
           (unsigned long long)info_of(t.ddr).bytes,
           info_of(t.sram).backend_name,
           (unsigned long long)info_of(t.sram).bytes);

    test_sets(&t);
    test_allocations(&t);
    test_chain(&t);

    carve_region_release(t.sram);
    carve_region_release(t.ddr);
    munmap(t.sram_memory, SRAM_BYTES);
    clReleaseKernel(t.keep);
    clReleaseProgram(t.program);
    carve_test_close_cl(&t.cl);
    return carve_test_finish("device_tiers");
}
