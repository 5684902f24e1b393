/*
 * relaunch.c - one set, many launches.
 *
 * Without a reset, a second launch continues in the arenas the first one
 * filled (its requests fail and write nothing). carve_set_reset zeroes the
 * state table and the header's counters, bumps the generation, and leaves
 * every arena byte as the kernel left it; the next launch, on the same
 * cl_mem, gets empty arenas: the same blocks at the same offsets, with
 * statistics counting from zero. Every launch sees the set at the same
 * device address, in the same region, at the same host address.
 */
#include "device_support.h"

#define ITEMS 300u
#define ARENA_BYTES 512u
#define BLOCKS 4u /* 96 + 112 + 128 + 144 = 480 bytes of each arena */
#define CYCLES 5u

static const char *const source = DEV_KERNEL_PRELUDE
    "kernel void fill(global uchar *carved, uint generation,\n"
    "                 global ulong *seen_at)\n"
    "{\n"
    "    uint id = carve_flat_global_id(), i;\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uchar *first = 0;\n"
    "    if (id == 0)\n"
    "        *seen_at = (ulong)(uintptr_t)carved;\n"
    "    for (i = 0; i < " DEV_XSTR(BLOCKS) "; ++i) {\n"
    "        uint n = 96u + 16u * i;\n"
    "        global uchar *p = carve_malloc(&a, n);\n"
    "        if (p == 0)\n"
    "            break;\n"
    "        dev_fill(p, n, generation * 0x10000u + id * 4u + i);\n"
    "        if (first == 0)\n"
    "            first = p;\n"
    "    }\n"
    "    carve_set_root(&a, first);\n"
    "    carve_arena_close(&a);\n"
    "}\n";

/* The launch of `generation` filled every arena afresh. */
static void check_fresh_fill(const carve_set *set, uint32_t generation)
{
    const carve_plan *plan = carve_set_plan(set);
    uint32_t id, i, bad = 0;
    for (id = 0; id < ITEMS; ++id) {
        carve_arena_stats st = dev_stats(set, id);
        uint32_t offset = st.root;
        int ok = st.root == dev_arena_start(plan, id) &&
                 st.alloc_count == BLOCKS && st.failed_count == 0 &&
                 st.free_count == 0 && st.live_blocks == BLOCKS &&
                 st.in_use_bytes == 480 && st.peak_footprint_bytes == 480 &&
                 st.flags == (CARVE_ARENA_OPENED | CARVE_ARENA_CLOSED);
        for (i = 0; ok && i < BLOCKS; ++i) {
            uint32_t n = 96 + 16 * i;
            const unsigned char *p =
                carve_layout_pointer(carve_test_image(set), offset, n);
            ok = p != NULL &&
                 dev_mismatches(p, n, generation * 0x10000u + id * 4 + i) == 0;
            offset += n;
        }
        bad += !ok;
    }
    EXPECT(bad == 0);
    if (bad != 0)
        fprintf(stderr, "  (%u arenas not freshly filled by generation %u)\n",
                (unsigned)bad, (unsigned)generation);
}

/* The launch just made saw the set where the first one did. */
static void expect_same_memory(const carve_test_cl *cl, const carve_set *set,
                               cl_mem seen_at, const carve_region *region,
                               const void *host_base, uint64_t device_address)
{
    uint64_t seen = 0;
    carve_zero_copy_info zc;
    dev_read(cl, seen_at, sizeof seen, &seen);
    REQUIRE_OK(carve_set_zero_copy(set, &zc));
    EXPECT(seen == device_address && zc.device_address == device_address);
    EXPECT(carve_set_region(set) == region);
    EXPECT(carve_test_image(set) == host_base);
}

static size_t count_nonzero(const unsigned char *p, size_t n)
{
    size_t i, bad = 0;
    for (i = 0; i < n; ++i)
        bad += p[i] != 0;
    return bad;
}

int main(void)
{
    const size_t items = ITEMS;
    carve_test_cl cl = carve_test_open_cl();
    carve_plan plan = dev_plan(&cl, 1, &items, ARENA_BYTES);
    cl_program program;
    cl_kernel fill = carve_test_kernel(&cl, source, "fill", &program);
    carve_set *set = dev_set(&cl, &plan);
    const carve_region *region = carve_set_region(set);
    const void *host_base = carve_test_image(set);
    cl_mem seen_at = dev_buffer(&cl, sizeof(uint64_t), NULL);
    carve_zero_copy_info zc;
    const size_t arena_span = plan.total_bytes - plan.arenas_offset;
    unsigned char *snapshot = dev_xmalloc(arena_span);
    carve_set_header header_before, header_after;
    const unsigned char *base;
    carve_summary sum;
    uint32_t generation = 1, id, stale = 0;

    EXPECT(plan.arena_bytes == ARENA_BYTES);
    REQUIRE_OK(carve_set_zero_copy(set, &zc));
    dev_arg(fill, 1, sizeof generation, &generation);
    dev_arg(fill, 2, sizeof seen_at, &seen_at);
    DEV_RUN(set, fill, 1, &items);
    expect_same_memory(&cl, set, seen_at, region, host_base, zc.device_address);
    check_fresh_fill(set, generation);
    base = carve_test_image(set);
    memcpy(snapshot, base + plan.arenas_offset, arena_span);

    /* Relaunch without a reset: the arenas are still full. */
    generation = 2;
    dev_arg(fill, 1, sizeof generation, &generation);
    DEV_RUN(set, fill, 1, &items);
    base = carve_test_image(set);
    for (id = 0; id < ITEMS; ++id) {
        carve_arena_stats st = dev_stats(set, id);
        stale += st.alloc_count != BLOCKS || st.failed_count != 1 ||
                 st.last_failure != CARVE_FAIL_OUT_OF_MEMORY ||
                 st.live_blocks != BLOCKS || st.root != 0;
    }
    EXPECT(stale == 0);
    EXPECT(memcmp(snapshot, base + plan.arenas_offset, arena_span) == 0);

    /* Reset: state and counters zero, arena bytes untouched. */
    memcpy(&header_before, base, sizeof header_before);
    REQUIRE_OK(carve_set_reset(set));
    base = carve_test_image(set);
    memcpy(&header_after, base, sizeof header_after);
    EXPECT(count_nonzero(base + plan.state_offset, plan.state_bytes) == 0);
    EXPECT(memcmp(snapshot, base + plan.arenas_offset, arena_span) == 0);
    EXPECT(header_after.generation == header_before.generation + 1);
    EXPECT(header_after.open_failures == 0);
    header_after.generation = header_before.generation;
    header_after.open_failures = header_before.open_failures;
    EXPECT(memcmp(&header_before, &header_after, sizeof header_after) == 0);
    sum = dev_summary(set);
    EXPECT(sum.arenas_opened == 0 && sum.alloc_count == 0 &&
           sum.failed_count == 0 && sum.in_use_bytes == 0 &&
           sum.max_peak_footprint_bytes == 0);
    EXPECT(dev_stats(set, ITEMS - 1).root == 0);
    DEV_EXPECT_CHECK(set);

    /* Fresh arenas again, launch after launch, in the same buffer. */
    for (generation = 3; generation < 3 + CYCLES; ++generation) {
        dev_arg(fill, 1, sizeof generation, &generation);
        DEV_RUN(set, fill, 1, &items);
        expect_same_memory(&cl, set, seen_at, region, host_base,
                           zc.device_address);
        check_fresh_fill(set, generation);
        EXPECT(dev_summary(set).alloc_count == (uint64_t)BLOCKS * ITEMS);
        REQUIRE_OK(carve_set_reset(set));
    }
    /* one more per reset */
    EXPECT(((const carve_set_header *)carve_test_image(set))->generation ==
           header_before.generation + 1 + CYCLES);

    free(snapshot);
    clReleaseMemObject(seen_at);
    carve_set_release(set);
    clReleaseKernel(fill);
    clReleaseProgram(program);
    carve_test_close_cl(&cl);
    return carve_test_finish("device_relaunch");
}
