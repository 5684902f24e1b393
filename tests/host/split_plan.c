/*
 * split_plan.c - carve_split_plan_compute, with made-up device limits: how
 * an NDRange is divided (evenly, by shares, on granules, 1-3 D, with an
 * offset), each slice's plan against its own device, the refusals (a
 * distinct status naming the device and by how much), and random splits
 * that must tile the launch exactly.
 *
 * Usage: host_split_plan [seed]
 */
#include "carve_test.h"

#include <carve/split.h>

static carve_device_limits roomy(void)
{
    carve_device_limits l;
    l.max_mem_alloc_size = 1ull << 32;
    l.global_mem_size = 1ull << 34;
    l.base_addr_align = 4096;
    return l;
}

static carve_split_params params_1d(size_t items, cl_uint devices)
{
    carve_split_params p;
    memset(&p, 0, sizeof p);
    p.plan.work_dim = 1;
    p.plan.global_size[0] = items;
    p.plan.arena_bytes = 256;
    p.device_count = devices;
    return p;
}

static void compute(const carve_split_params *p, carve_split_plan *plan)
{
    carve_device_limits limits[CARVE_SPLIT_MAX_DEVICES];
    cl_uint i;
    for (i = 0; i < CARVE_SPLIT_MAX_DEVICES; ++i)
        limits[i] = roomy();
    REQUIRE_OK(carve_split_plan_compute(p, limits, plan));
}

/* The rows (slowest dimension) of slice i. */
static size_t rows(const carve_split_plan *plan, cl_uint i)
{
    return plan->slices[i].global_size[plan->split_dim];
}

static void test_even_and_shares(void)
{
    carve_split_params p = params_1d(1000, 2);
    carve_split_plan plan;
    compute(&p, &plan);
    EXPECT(plan.split_dim == 0 && plan.arena_count == 1000);
    EXPECT(rows(&plan, 0) == 500 && rows(&plan, 1) == 500);
    EXPECT(plan.slices[0].first_arena == 0 && plan.slices[1].first_arena == 500);
    EXPECT(plan.slices[1].global_offset[0] == 500);
    EXPECT(plan.slices[0].plan.arena_count == 500);
    EXPECT(plan.total_bytes == plan.slices[0].plan.total_bytes +
                                   plan.slices[1].plan.total_bytes);
    EXPECT(plan.refused_slice == CARVE_SPLIT_NO_SLICE);
    EXPECT(plan.message[0] == '\0');

    p = params_1d(1000, 3);
    compute(&p, &plan);
    EXPECT(rows(&plan, 0) == 333 && rows(&plan, 1) == 333 &&
           rows(&plan, 2) == 334);
    EXPECT(plan.slices[2].first_arena == 666);

    p = params_1d(1000, 2);
    p.shares[0] = 3;
    p.shares[1] = 1;
    compute(&p, &plan);
    EXPECT(rows(&plan, 0) == 750 && rows(&plan, 1) == 250);

    /* Boundaries on granules of 64; the last slice ends the launch. */
    p = params_1d(1000, 3);
    p.granule = 64;
    compute(&p, &plan);
    EXPECT(rows(&plan, 0) == 320 && rows(&plan, 1) == 320 &&
           rows(&plan, 2) == 360);

    /* A slice's plan is the one-device plan of its NDRange. */
    {
        carve_plan direct;
        carve_plan_params one = p.plan;
        carve_device_limits l = roomy();
        one.global_size[0] = 360;
        REQUIRE_OK(carve_plan_compute(&one, &l, &direct));
        EXPECT(direct.total_bytes == plan.slices[2].plan.total_bytes);
        EXPECT(direct.arenas_offset == plan.slices[2].plan.arenas_offset);
    }
}

static void test_dimensions_and_offset(void)
{
    carve_split_params p;
    carve_split_plan plan;
    memset(&p, 0, sizeof p);
    p.plan.work_dim = 2;
    p.plan.global_size[0] = 24;
    p.plan.global_size[1] = 37;
    p.plan.arena_bytes = 128;
    p.device_count = 2;
    compute(&p, &plan);
    EXPECT(plan.split_dim == 1);
    EXPECT(rows(&plan, 0) == 18 && rows(&plan, 1) == 19);
    EXPECT(plan.slices[1].global_size[0] == 24);
    EXPECT(plan.slices[1].global_offset[1] == 18 &&
           plan.slices[1].global_offset[0] == 0);
    EXPECT(plan.slices[1].first_arena == 18 * 24);

    /* The launch's own offset: faster dimensions' stay as they are, the
     * slowest one's counts in the arena indices (carve_flat_global_id). */
    memset(&p, 0, sizeof p);
    p.plan.work_dim = 3;
    p.plan.global_size[0] = 4;
    p.plan.global_size[1] = 5;
    p.plan.global_size[2] = 6;
    p.plan.arena_bytes = 64;
    p.global_offset[0] = 1;
    p.global_offset[1] = 2;
    p.global_offset[2] = 3;
    p.device_count = 2;
    compute(&p, &plan);
    EXPECT(plan.split_dim == 2);
    EXPECT(plan.slices[0].global_offset[0] == 1 &&
           plan.slices[0].global_offset[1] == 2 &&
           plan.slices[0].global_offset[2] == 3);
    EXPECT(plan.slices[1].global_offset[2] == 6);
    EXPECT(plan.slices[0].first_arena == 3 * 20 &&
           plan.slices[1].first_arena == 6 * 20);

    /* One device with an offset: a set placed past arena 0. */
    p.device_count = 1;
    compute(&p, &plan);
    EXPECT(plan.slices[0].first_arena == 60 && plan.arena_count == 120);
}

static void test_refusals(void)
{
    carve_device_limits limits[CARVE_SPLIT_MAX_DEVICES];
    carve_split_params p = params_1d(1000, 2);
    carve_split_plan plan;
    cl_uint i;
    for (i = 0; i < CARVE_SPLIT_MAX_DEVICES; ++i)
        limits[i] = roomy();

    EXPECT_STATUS(carve_split_plan_compute(NULL, limits, &plan),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_split_plan_compute(&p, NULL, &plan),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, NULL),
                  CARVE_ERROR_INVALID_ARGUMENT);
    p.device_count = 0;
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_INVALID_ARGUMENT);
    p.device_count = CARVE_SPLIT_MAX_DEVICES + 1;
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_INVALID_ARGUMENT);
    p = params_1d(1000, 2);
    p.shares[1] = CARVE_SPLIT_MAX_SHARE + 1;
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT(strstr(plan.message, "device 1") != NULL);

    p = params_1d(1000, 2);
    p.plan.work_dim = 0; /* arena_count plans have no NDRange */
    p.plan.arena_count = 1000;
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_INVALID_NDRANGE);
    p.plan.work_dim = 4;
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_INVALID_NDRANGE);
    p = params_1d(0, 2);
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_INVALID_NDRANGE);
    /* The slowest dimension has one row for two devices. */
    p = params_1d(1000, 2);
    p.plan.work_dim = 2;
    p.plan.global_size[1] = 1;
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_INVALID_NDRANGE);
    EXPECT(strstr(plan.message, "would get no work-item") != NULL);
    /* A share of 0 beside others gives a device nothing. */
    p = params_1d(1000, 2);
    p.shares[0] = 1;
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_INVALID_NDRANGE);
    /* More work-items than carve_flat_global_id reaches. */
    p = params_1d(65536, 2);
    p.plan.work_dim = 2;
    p.plan.global_size[1] = 65536;
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_INVALID_NDRANGE);
    p = params_1d(1000, 2);
    p.global_offset[0] = UINT32_MAX - 500;
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_INVALID_NDRANGE);
    /* Products that would wrap 64 bits are refused before they are made. */
    memset(&p, 0, sizeof p);
    p.plan.work_dim = 2;
    p.plan.global_size[0] = UINT32_MAX;
    p.plan.global_size[1] = 3;
    p.global_offset[1] = UINT32_MAX;
    p.plan.arena_bytes = 64;
    p.device_count = 2;
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_INVALID_NDRANGE);
    p.plan.work_dim = 3;
    p.plan.global_size[0] = 2;
    p.plan.global_size[1] = (size_t)1 << (sizeof(size_t) * 8 - 1);
    p.plan.global_size[2] = 4;
    p.global_offset[1] = 0;
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_INVALID_NDRANGE);
    /* A parameter error after a device's refusal names no device. */
    p = params_1d(1000000, 2);
    p.plan.heap_bytes = 1 << 20;
    p.plan.heap_page_bytes = 1000; /* not a power of two */
    limits[0].base_addr_align = 16; /* refused before the heap is read */
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_INVALID_HEAP);
    EXPECT(plan.refused_slice == CARVE_SPLIT_NO_SLICE &&
           plan.refused_status == CARVE_SUCCESS);
    limits[0] = limits[2];
    /* Bad parameters come before any device's refusal. */
    p = params_1d(1000, 2);
    p.plan.arena_bytes = 0;
    limits[1].max_mem_alloc_size = 4096;
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_INVALID_ARENA_SIZE);
    EXPECT(plan.refused_slice == CARVE_SPLIT_NO_SLICE);
}

static void test_slice_refused(void)
{
    carve_device_limits limits[2];
    carve_split_params p = params_1d(100000, 2);
    carve_split_plan plan;
    limits[0] = roomy();
    limits[1] = roomy();
    /* 50000 arenas of 256 bytes: about 13 MiB each; device 1 takes 8. */
    limits[1].max_mem_alloc_size = 8u << 20;
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_SLICE_REFUSED);
    EXPECT(plan.refused_slice == 1);
    EXPECT(plan.refused_status == CARVE_ERROR_EXCEEDS_MAX_ALLOC);
    EXPECT(strstr(plan.message, "device 1's slice (50000 work-items, arenas "
                                "50000 to 99999)") != NULL);
    EXPECT(strstr(plan.message, "CL_DEVICE_MAX_MEM_ALLOC_SIZE") != NULL);
    EXPECT(strstr(plan.message, "too much") != NULL);
    EXPECT(strstr(plan.message, "or at most 20144 work-items") != NULL);
    EXPECT_STATUS(carve_split_plan_print(&plan, stdout),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT(strstr(carve_status_string(CARVE_ERROR_SLICE_REFUSED),
                  "smaller share") != NULL);
    /* Moving work to device 0 makes it fit. */
    p.shares[0] = 4;
    p.shares[1] = 1;
    REQUIRE_OK(carve_split_plan_compute(&p, limits, &plan));
    REQUIRE_OK(carve_split_plan_print(&plan, stdout));

    /* Global memory, and the base alignment, are the device's too. */
    p = params_1d(100000, 2);
    limits[1] = roomy();
    limits[1].global_mem_size = 8u << 20;
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_SLICE_REFUSED);
    EXPECT(plan.refused_status == CARVE_ERROR_EXCEEDS_GLOBAL_MEM);
    limits[1] = roomy();
    limits[1].base_addr_align = 16;
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_SLICE_REFUSED);
    EXPECT(plan.refused_slice == 1 &&
           plan.refused_status == CARVE_ERROR_BASE_ALIGNMENT);
    /* Both refuse: the first is reported. */
    limits[0] = limits[1];
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_SLICE_REFUSED);
    EXPECT(plan.refused_slice == 0);
    /* A slice past 4 GiB (32-bit offsets) is refused for its device. */
    p = params_1d(4000000, 2);
    p.plan.arena_bytes = 2048;
    limits[0] = roomy();
    limits[1] = roomy();
    EXPECT_STATUS(carve_split_plan_compute(&p, limits, &plan),
                  CARVE_ERROR_SLICE_REFUSED);
    EXPECT(plan.refused_status == CARVE_ERROR_OFFSET_LIMIT);
}

/* Random splits tile the launch: contiguous slices on granules, covering
 * every row once, each within a granule of its share, arena indices
 * following the rows. */
static void test_random(uint64_t seed)
{
    carve_test_rng rng = {seed | 1};
    int round, bad = 0, tiled = 0;
    for (round = 0; round < 3000; ++round) {
        carve_split_params p;
        carve_split_plan plan;
        carve_device_limits limits[CARVE_SPLIT_MAX_DEVICES];
        uint64_t below = 1, total_share = 0, next_row = 0, arenas = 0;
        cl_uint i, d, s;
        carve_status status;
        memset(&p, 0, sizeof p);
        p.plan.work_dim = 1 + (cl_uint)carve_test_below(&rng, 3);
        for (d = 0; d < p.plan.work_dim; ++d) {
            p.plan.global_size[d] = 1 + carve_test_below(&rng, d ? 40 : 300);
            p.global_offset[d] = carve_test_below(&rng, 3) == 0
                                     ? carve_test_below(&rng, 50)
                                     : 0;
        }
        p.plan.arena_bytes = 16 + carve_test_below(&rng, 200);
        p.granule = carve_test_below(&rng, 2) ? 1 + carve_test_below(&rng, 16)
                                               : 0;
        p.device_count = 1 + (cl_uint)carve_test_below(&rng, 6);
        if (carve_test_below(&rng, 2))
            for (i = 0; i < p.device_count; ++i)
                p.shares[i] = 1 + (uint32_t)carve_test_below(&rng, 10);
        for (i = 0; i < CARVE_SPLIT_MAX_DEVICES; ++i)
            limits[i] = roomy();
        status = carve_split_plan_compute(&p, limits, &plan);
        s = p.plan.work_dim - 1;
        if (status == CARVE_ERROR_INVALID_NDRANGE)
            continue; /* too few granules for the devices */
        if (status != CARVE_SUCCESS) {
            fprintf(stderr, "  round %d: %s: %s\n", round,
                    carve_status_string(status), plan.message);
            ++bad;
            break;
        }
        for (d = 0; d < s; ++d)
            below *= p.plan.global_size[d];
        for (i = 0; i < p.device_count; ++i)
            total_share += p.shares[i] ? p.shares[i] : 1;
        for (i = 0; i < p.device_count; ++i) {
            const carve_slice *sl = &plan.slices[i];
            uint64_t start = sl->global_offset[s] - p.global_offset[s];
            uint64_t granule = p.granule ? p.granule : 1;
            uint64_t units = (p.plan.global_size[s] + granule - 1) / granule;
            uint64_t share = p.shares[i] ? p.shares[i] : 1;
            double ideal = (double)units * (double)share / (double)total_share;
            double got = (double)sl->global_size[s] / (double)granule;
            bad += start != next_row || start % granule != 0 ||
                   sl->global_size[s] == 0;
            bad += sl->first_arena !=
                   (sl->global_offset[s]) * below;
            bad += sl->plan.arena_count != sl->global_size[s] * below;
            if (i + 1 < p.device_count)
                bad += got < ideal - 1.0 || got > ideal + 1.0;
            for (d = 0; d < s; ++d)
                bad += sl->global_size[d] != p.plan.global_size[d] ||
                       sl->global_offset[d] != p.global_offset[d];
            next_row = start + sl->global_size[s];
            arenas += sl->plan.arena_count;
        }
        bad += next_row != p.plan.global_size[s];
        bad += arenas != plan.arena_count;
        tiled += bad == 0;
        if (bad != 0) {
            fprintf(stderr, "  round %d (seed %#llx) went wrong: %u-D, "
                    "%zu x %zu x %zu, offset %zu, %zu, %zu, granule %zu, "
                    "%u devices\n", round, (unsigned long long)seed,
                    (unsigned)p.plan.work_dim, p.plan.global_size[0],
                    p.plan.global_size[1], p.plan.global_size[2],
                    p.global_offset[0], p.global_offset[1], p.global_offset[2],
                    p.granule, (unsigned)p.device_count);
            for (i = 0; i < p.device_count; ++i)
                fprintf(stderr, "    share %u: offset %zu size %zu first %u\n",
                        (unsigned)p.shares[i],
                        plan.slices[i].global_offset[s],
                        plan.slices[i].global_size[s],
                        (unsigned)plan.slices[i].first_arena);
            break;
        }
    }
    EXPECT(bad == 0);
    /* most random launches have enough rows for their devices */
    EXPECT(tiled > 2000);
    printf("%d random splits tiled their launches\n", tiled);
}

int main(int argc, char **argv)
{
    uint64_t seed = carve_test_seed(argc, argv, 0x5eed5b17);
    printf("seed %#llx\n", (unsigned long long)seed);
    test_even_and_shares();
    test_dimensions_and_offset();
    test_refusals();
    test_slice_refused();
    test_random(seed);
    return carve_test_finish("host_split_plan");
}
