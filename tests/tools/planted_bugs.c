/*
 * planted_bugs.c - misuse of carve's zero-copy host allocations that a
 * memory checker must report, and legal use that it must not.
 *
 * Usage: planted_bugs BUG POOL...
 *   POOL  region       carve_zc_* in a region of the backend AUTO picks
 *         host-memory  carve_zc_* in a HOST_MEMORY region (pages carve maps)
 *         ddr          __malloc_ddr / __free_ddr (no device needed)
 *   BUG   clean          every legal use: bytes up to the requested size,
 *                        calloc, realloc in place and moved, and for
 *                        regions an arena set carved from the region and
 *                        read through carve_layout_*; nothing to report
 *         use-after-free reads a byte of a freed allocation
 *         overflow       writes the byte just past the requested size,
 *                        which still lies inside the pool's block (the
 *                        allocation is rounded up to the pool's unit)
 *         all            clean, then both bugs, on every pool in turn: for
 *                        checkers that go on after a report (Valgrind),
 *                        so one run shows every report and no other
 *
 * The bad accesses happen in plant_use_after_free and plant_overflow, which
 * the checks (check_report.sh) look for in the tool's report. Region pools
 * need an OpenCL device: without one the program exits 77 (skipped).
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "carve_test.h"

#include <carve/ti_compat.h>

#define REQUESTED 100u /* not a multiple of any pool unit: leaves slack */

typedef struct pool_ops {
    carve_region *region; /* NULL: the TI ddr tier */
} pool_ops;

static void *pool_malloc(const pool_ops *pool, size_t bytes)
{
    return pool->region ? carve_zc_malloc(pool->region, bytes)
                        : __malloc_ddr(bytes);
}

static void pool_free(const pool_ops *pool, void *p)
{
    if (pool->region)
        REQUIRE_OK(carve_zc_free(pool->region, p));
    else
        __free_ddr(p);
}

/* noinline: the reports must name these functions. */
__attribute__((noinline)) static unsigned char
plant_use_after_free(volatile unsigned char *freed)
{
    return freed[REQUESTED / 2];
}

__attribute__((noinline)) static void plant_overflow(volatile unsigned char *p)
{
    p[REQUESTED] = 0x5a;
}

static unsigned char *filled_block(const pool_ops *pool)
{
    unsigned char *p = pool_malloc(pool, REQUESTED);
    if (p == NULL) {
        fprintf(stderr, "allocation of %u bytes failed\n", REQUESTED);
        exit(1);
    }
    memset(p, 0xa5, REQUESTED);
    return p;
}

/* What the library itself touches on the user's behalf must stay legal. */
static void legal_region_uses(carve_region *region, const carve_test_cl *cl)
{
    unsigned char *z = carve_zc_calloc(region, 3, 33);
    unsigned char *p = carve_zc_malloc(region, 40), *q;
    carve_plan_params params;
    carve_plan plan;
    carve_set *set = NULL;
    carve_summary summary;
    size_t i;
    EXPECT(z != NULL && p != NULL);
    for (i = 0; z != NULL && i < 99; ++i)
        EXPECT(z[i] == 0);
    memset(p, 1, 40);
    q = carve_zc_realloc(region, p, 100); /* grows in place or moves */
    EXPECT(q != NULL && q[39] == 1);
    memset(q, 2, 100);
    p = carve_zc_realloc(region, q, 20); /* shrinks in place */
    EXPECT(p == q && p[19] == 2);
    /* a move: a block in the way forces realloc to copy */
    q = carve_zc_malloc(region, 16);
    z = carve_zc_realloc(region, z, 4000);
    EXPECT(z != NULL && z[98] == 0);
    REQUIRE_OK(carve_zc_free(region, q));
    REQUIRE_OK(carve_zc_free(region, p));
    REQUIRE_OK(carve_zc_free(region, z));

    memset(&params, 0, sizeof params);
    params.arena_count = 4;
    params.arena_bytes = 1000;
    REQUIRE_OK(carve_plan_compute(&params, &cl->limits, &plan));
    REQUIRE_OK(carve_set_create_in(region, cl->queue, &plan, 0, &set));
    REQUIRE_OK(carve_layout_summary(carve_test_image(set), &summary));
    EXPECT(summary.arena_count == 4);
    REQUIRE_OK(carve_layout_check(carve_test_image(set), NULL, NULL));
    REQUIRE_OK(carve_set_reset(set));
    carve_set_release(set);
}

static int is_bug(const char *bug, const char *name)
{
    return strcmp(bug, name) == 0 || strcmp(bug, "all") == 0;
}

static void run(const pool_ops *pool, const char *bug)
{
    unsigned char *p;
    if (is_bug(bug, "clean")) {
        p = filled_block(pool);
        EXPECT(p[0] == 0xa5 && p[REQUESTED - 1] == 0xa5);
        pool_free(pool, p);
    }
    if (is_bug(bug, "use-after-free")) {
        p = filled_block(pool);
        pool_free(pool, p);
        printf("read after free: %u\n", plant_use_after_free(p));
    }
    if (is_bug(bug, "overflow")) {
        p = filled_block(pool);
        plant_overflow(p);
        pool_free(pool, p);
    }
}

static int known(const char *word, const char *const *words)
{
    for (; *words != NULL; ++words)
        if (strcmp(word, *words) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const bugs[] = {"clean", "use-after-free", "overflow",
                                       "all", NULL};
    static const char *const pools[] = {"region", "host-memory", "ddr", NULL};
    carve_test_cl cl;
    int i, need_device = 0;
    for (i = 2; i < argc; ++i) {
        if (!known(argv[i], pools))
            break;
        need_device |= strcmp(argv[i], "ddr") != 0;
    }
    if (argc < 3 || !known(argv[1], bugs) || i < argc) {
        fprintf(stderr, "usage: %s clean|use-after-free|overflow|all "
                        "region|host-memory|ddr...\n", argv[0]);
        return 2;
    }
    /* A small tier: TI's default reserves 1 GiB of address space. */
    setenv("CARVE_TI_DDR_BYTES", "1048576", 1);
    if (need_device)
        cl = carve_test_open_cl();
    for (i = 2; i < argc; ++i) {
        pool_ops pool = {NULL};
        if (strcmp(argv[i], "ddr") != 0) {
            carve_region_params params;
            memset(&params, 0, sizeof params);
            params.backend = strcmp(argv[i], "region") == 0
                                 ? CARVE_BACKEND_AUTO
                                 : CARVE_BACKEND_HOST_MEMORY;
            params.bytes = 1u << 20;
            REQUIRE_OK(carve_region_create(cl.context, cl.device, &params,
                                           &pool.region));
            if (is_bug(argv[1], "clean"))
                legal_region_uses(pool.region, &cl);
        }
        run(&pool, argv[1]);
        carve_region_release(pool.region);
    }
    if (need_device)
        carve_test_close_cl(&cl);
    return carve_test_finish("planted_bugs");
}
