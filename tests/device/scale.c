/*
 * scale.c - one launch of 1024 x 1024 work-items, each with a 128-byte
 * arena: it allocates three blocks (one by calloc), writes them, frees one,
 * and makes one request that cannot fit. The host verifies every arena in
 * place: the root block's contents and address, the calloc'd block behind
 * it, the invariant check, and the summary's totals, which must be exactly
 * the per-work-item counts times 2^20. CARVE_QUICK=1 makes it 64 x 64.
 */
#include "device_support.h"

/* 1024, or 64 under CARVE_QUICK (a simulator's memory is small). */
static uint32_t side(void)
{
    static uint32_t value;
    if (value == 0)
        value = carve_test_quick() ? 64u : 1024u;
    return value;
}
#define SIDE side()
#define ITEMS (SIDE * SIDE)
#define ARENA_BYTES 128u

static const char *const source = DEV_KERNEL_PRELUDE
    "kernel void scale(global uchar *carved)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uint *p = carve_malloc(&a, 32);\n"
    "    global uint *q = carve_malloc(&a, 16);\n"
    "    global uint *r = carve_calloc(&a, 12, 4);\n"
    "    global uint *f = carve_malloc(&a, 48); /* 3 granules, 2 left */\n"
    "    if (q != 0) q[0] = id;\n"
    "    carve_free(&a, q);\n"
    "    if (r != 0) r[0] = id * 3u;\n"
    "    if (p != 0) {\n"
    "        p[0] = id;\n"
    "        p[1] = ~id;\n"
    "        p[2] = (uint)get_global_id(0);\n"
    "        p[3] = (uint)get_global_id(1);\n"
    "        p[4] = carve_offset(&a, r);\n"
    "        p[5] = r != 0 ? r[11] : 0xffffffffu; /* calloc'd: 0 */\n"
    "        p[6] = f == 0;\n"
    "    }\n"
    "    carve_set_root(&a, p);\n"
    "    carve_arena_close(&a);\n"
    "}\n";

int main(void)
{
    const size_t global[2] = {SIDE, SIDE};
    carve_test_cl cl = carve_test_open_cl();
    carve_plan plan = dev_plan(&cl, 2, global, ARENA_BYTES);
    cl_program program;
    cl_kernel kernel = carve_test_kernel(&cl, source, "scale", &program);
    carve_set *set;
    carve_summary sum;
    uint32_t id, bad = 0;
    double t0 = dev_seconds(), t1, t2, t3;

    EXPECT(plan.arena_count == ITEMS && plan.arena_bytes == ARENA_BYTES);
    set = dev_set(&cl, &plan);
    t1 = dev_seconds();
    REQUIRE_OK(carve_set_run(set, kernel, 0, 2, global, NULL));
    t2 = dev_seconds();
    DEV_EXPECT_CHECK(set);
    t3 = dev_seconds();

    for (id = 0; id < ITEMS; ++id) {
        carve_arena_stats st = dev_stats(set, id);
        const uint64_t start = dev_arena_start(&plan, id);
        const uint32_t *p =
            carve_layout_pointer(carve_test_image(set), st.root, 7 * sizeof *p);
        const uint32_t *r =
            p ? carve_layout_pointer(carve_test_image(set), p[4], 48) : NULL;
        int ok = st.root == start && p != NULL && r != NULL &&
                 p[0] == id && p[1] == ~id && p[2] == id % SIDE &&
                 p[3] == id / SIDE && p[4] == start + 48 && p[5] == 0 &&
                 p[6] == 1 && r[0] == id * 3u && st.live_blocks == 2 &&
                 st.last_failure == CARVE_FAIL_OUT_OF_MEMORY &&
                 st.largest_failed == 48;
        if (!ok && bad++ < 5)
            fprintf(stderr, "arena %u: root %u (expected %llu), live %u, "
                            "last failure %s, largest failed %u\n",
                    (unsigned)id, (unsigned)st.root, (unsigned long long)start,
                    (unsigned)st.live_blocks,
                    carve_failure_string(st.last_failure),
                    (unsigned)st.largest_failed);
    }
    EXPECT(bad == 0);

    sum = dev_summary(set);
    EXPECT(sum.arena_count == ITEMS);
    EXPECT(sum.arenas_opened == ITEMS && sum.arenas_closed == ITEMS);
    EXPECT(sum.arenas_corrupt == 0 && sum.open_failures == 0);
    EXPECT(sum.alloc_count == 3ull * ITEMS);
    EXPECT(sum.free_count == 1ull * ITEMS);
    EXPECT(sum.failed_count == 1ull * ITEMS);
    EXPECT(sum.arenas_with_failures == ITEMS);
    EXPECT(sum.misuse_count == 0);
    EXPECT(sum.capacity_bytes == (uint64_t)ARENA_BYTES * ITEMS);
    EXPECT(sum.in_use_bytes == (32ull + 48ull) * ITEMS);
    EXPECT(sum.max_peak_in_use_bytes == 96);
    EXPECT(sum.max_peak_footprint_bytes == 96);
    printf("%u work-items, buffer %.1f MiB: set %.2f s, launch %.2f s, "
           "check %.2f s, verify %.2f s\n",
           (unsigned)ITEMS, (double)plan.total_bytes / (1024.0 * 1024.0),
           t1 - t0, t2 - t1, t3 - t2, dev_seconds() - t3);

    carve_set_release(set);
    clReleaseKernel(kernel);
    clReleaseProgram(program);
    carve_test_close_cl(&cl);
    return carve_test_finish("device_scale");
}
