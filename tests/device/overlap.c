/*
 * overlap.c - arenas never overlap, and neither do blocks.
 *
 * Every work-item of a 2-D launch runs a random sequence of malloc,
 * malloc_aligned, calloc, realloc and free on blocks of mixed sizes (so
 * that some requests fail for lack of room), fills every block with a
 * pattern derived from its work-item and block number, and checks each
 * block's pattern again before it frees or resizes it. At the end it
 * records (offset, size, tag) of its live blocks in a carved block left as
 * its root. The host then checks, in the shared buffer: every recorded
 * block still holds its own pattern, lies inside its own arena, and no two
 * blocks of any work-items share a byte; the statistics agree with the
 * records; carve_layout_check passes.
 *
 * The seed is argv[1] or CARVE_TEST_SEED, else a fixed default; it is
 * printed so that a failure can be replayed. CARVE_QUICK=1 runs 1/20 of
 * the steps; CARVE_TEST_RUNS=1 plans with CARVE_PLAN_SMALL_RUNS.
 */
#include "device_support.h"

#define WIDTH 48u
#define HEIGHT 40u
#define ITEMS (WIDTH * HEIGHT)
#define ARENA_BYTES 4096u
#define STEPS 400u
#define SLOTS 24u
/* The record block: count, device-side errors, then (offset, size, tag). */
#define RECORD_WORDS (2u + 3u * SLOTS)

static const char *const source = DEV_KERNEL_PRELUDE
    "#define SLOTS " DEV_XSTR(SLOTS) "\n"
    "#define RECORD_WORDS " DEV_XSTR(RECORD_WORDS) "\n"
    "static uint next_random(uint *s)\n"
    "{\n"
    "    uint x = *s;\n"
    "    x ^= x << 13; x ^= x >> 17; x ^= x << 5;\n"
    "    return *s = x;\n"
    "}\n"
    "static uint zeros_missing(global const uchar *p, uint n)\n"
    "{\n"
    "    uint bad = 0;\n"
    "    for (uint i = 0; i < n; ++i) bad += p[i] != 0;\n"
    "    return bad;\n"
    "}\n"
    "kernel void churn(global uchar *carved, uint seed, uint steps)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    uint rng = (seed ^ (id * 0x9E3779B9u)) | 1u;\n"
    "    global uchar *ptr[SLOTS];\n"
    "    uint size[SLOTS], tag[SLOTS], blocks = 0, errors = 0, i, k, c;\n"
    "    global uint *rec = carve_malloc(&a, RECORD_WORDS * 4u);\n"
    "    for (k = 0; k < SLOTS; ++k) ptr[k] = 0;\n"
    "    for (i = 0; i < steps; ++i) {\n"
    "        uint r = next_random(&rng), r2 = next_random(&rng);\n"
    "        k = r % SLOTS;\n"
    "        if (ptr[k] != 0) {\n"
    "            errors += dev_mismatches(ptr[k], size[k], tag[k]);\n"
    "            if (r2 % 4u == 0u) {\n"
    "                uint n = 1u + (r2 >> 4) % 400u;\n"
    "                global uchar *q = carve_realloc(&a, ptr[k], n);\n"
    "                if (q != 0) {\n"
    "                    errors += dev_mismatches(q, min(n, size[k]), tag[k]);\n"
    "                    ptr[k] = q; size[k] = n;\n"
    "                    tag[k] = (id << 16) | (blocks++ & 0xffffu);\n"
    "                    dev_fill(q, n, tag[k]);\n"
    "                }\n"
    "            } else {\n"
    "                carve_free(&a, ptr[k]);\n"
    "                ptr[k] = 0;\n"
    "            }\n"
    "        } else {\n"
    "            uint n = 1u + (r2 >> 4) % 300u;\n"
    "            uint align = 16u << ((r2 >> 16) % 4u);\n"
    "            uint how = (r2 >> 20) % 3u;\n"
    "            global uchar *p;\n"
    "            if ((r2 >> 24) % 16u == 0u) n += 700u;\n"
    "            p = how == 0u ? carve_malloc_aligned(&a, n, align)\n"
    "              : how == 1u ? carve_calloc(&a, 1, n) : carve_malloc(&a, n);\n"
    "            if (p != 0) {\n"
    "                if (how == 0u) errors += (uint)((uintptr_t)p % align != 0);\n"
    "                if (how == 1u) errors += zeros_missing(p, n);\n"
    "                ptr[k] = p; size[k] = n;\n"
    "                tag[k] = (id << 16) | (blocks++ & 0xffffu);\n"
    "                dev_fill(p, n, tag[k]);\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "    if (rec != 0) {\n"
    "        for (k = 0, c = 0; k < SLOTS; ++k) {\n"
    "            if (ptr[k] == 0) continue;\n"
    "            errors += dev_mismatches(ptr[k], size[k], tag[k]);\n"
    "            rec[2 + 3 * c] = carve_offset(&a, ptr[k]);\n"
    "            rec[3 + 3 * c] = size[k];\n"
    "            rec[4 + 3 * c] = tag[k];\n"
    "            ++c;\n"
    "        }\n"
    "        rec[0] = c;\n"
    "        rec[1] = errors;\n"
    "    }\n"
    "    carve_set_root(&a, rec);\n"
    "    carve_arena_close(&a);\n"
    "}\n";

typedef struct extent {
    uint64_t start, end; /* [start, end) in bytes from the buffer's base */
    uint32_t owner;
} extent;

static uint64_t granules_of(uint64_t bytes)
{
    return (bytes + CARVE_GRANULE - 1) / CARVE_GRANULE * CARVE_GRANULE;
}

static int small_runs; /* CARVE_TEST_RUNS=1: the plan has runs */

/* Bytes a block of `bytes` owns at least: whole granules, or with runs
 * its size rounded to 8 (a slot; at least 16). */
static uint64_t extent_of(uint64_t bytes)
{
    if (!small_runs)
        return granules_of(bytes);
    bytes = (bytes + 7) / 8 * 8;
    return bytes < 16 ? 16 : bytes;
}

static int by_start(const void *a, const void *b)
{
    const extent *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Checks arena `id`'s records and appends its blocks to `all`. */
static void check_arena(const carve_set *set, uint32_t id, extent *all,
                        size_t *count)
{
    const carve_plan *plan = carve_set_plan(set);
    const uint64_t lo = dev_arena_start(plan, id), hi = lo + plan->arena_bytes;
    carve_arena_stats st = dev_stats(set, id);
    const uint32_t *rec =
        carve_layout_pointer(carve_test_image(set), st.root, RECORD_WORDS * 4);
    uint64_t in_use = granules_of(RECORD_WORDS * 4);
    uint32_t c;
    int failures = carve_test_failures;
    EXPECT(rec != NULL);
    if (rec == NULL)
        return;
    EXPECT(rec[0] <= SLOTS);
    EXPECT(rec[1] == 0); /* the device saw no block change under it */
    EXPECT(st.root >= lo && st.root + RECORD_WORDS * 4 <= hi);
    all[(*count)++] = (extent){st.root, st.root + in_use, id};
    for (c = 0; c < rec[0] && c < SLOTS; ++c) {
        uint32_t offset = rec[2 + 3 * c], size = rec[3 + 3 * c];
        uint32_t tag = rec[4 + 3 * c];
        const unsigned char *p =
            carve_layout_pointer(carve_test_image(set), offset, size);
        EXPECT(tag >> 16 == id);
        EXPECT(offset >= lo && (uint64_t)offset + size <= hi);
        EXPECT(offset % (small_runs ? 8 : CARVE_GRANULE) == 0);
        EXPECT(p != NULL && dev_mismatches(p, size, tag) == 0);
        all[(*count)++] = (extent){offset, offset + extent_of(size), id};
        in_use += granules_of(size);
    }
    EXPECT(st.live_blocks == rec[0] + 1);
    EXPECT(st.in_use_bytes == in_use);
    EXPECT(st.alloc_count - st.free_count == st.live_blocks);
    EXPECT((st.flags & CARVE_ARENA_CORRUPT) == 0 && st.misuse_count == 0);
    if (carve_test_failures != failures)
        fprintf(stderr, "  (arena %u)\n", (unsigned)id);
}

int main(int argc, char **argv)
{
    const uint32_t seed = (uint32_t)carve_test_seed(argc, argv, 0x5eed1234u);
    const uint32_t steps = carve_test_quick() ? STEPS / 20 : STEPS;
    const size_t global[2] = {WIDTH, HEIGHT};
    carve_test_cl cl = carve_test_open_cl();
    carve_plan plan;
    carve_plan_params params;
    const char *runs = getenv("CARVE_TEST_RUNS");
    small_runs = runs != NULL && strcmp(runs, "1") == 0;
    memset(&params, 0, sizeof params);
    params.work_dim = 2;
    params.global_size[0] = global[0];
    params.global_size[1] = global[1];
    params.arena_bytes = ARENA_BYTES;
    params.options = small_runs ? CARVE_PLAN_SMALL_RUNS : 0;
    REQUIRE_OK(carve_plan_compute(&params, &cl.limits, &plan));
    extent *all = dev_xmalloc(sizeof *all * ITEMS * (SLOTS + 1));
    size_t count = 0, i, overlaps = 0;
    cl_program program;
    cl_kernel churn = carve_test_kernel(&cl, source, "churn", &program);
    carve_set *set = dev_set(&cl, &plan);
    carve_summary sum;
    uint64_t live = 0;
    uint32_t id;
    double t0;

    printf("seed 0x%08x (replay: device_overlap 0x%08x)\n", (unsigned)seed,
           (unsigned)seed);
    dev_arg(churn, 1, sizeof seed, &seed);
    dev_arg(churn, 2, sizeof steps, &steps);
    t0 = dev_seconds();
    DEV_RUN(set, churn, 2, global);
    printf("%u work-items x %u steps: %.2f s\n", (unsigned)ITEMS,
           (unsigned)steps, dev_seconds() - t0);

    for (id = 0; id < ITEMS; ++id)
        check_arena(set, id, all, &count);
    qsort(all, count, sizeof *all, by_start);
    for (i = 1; i < count; ++i) {
        if (all[i].start < all[i - 1].end) {
            if (overlaps++ < 10)
                fprintf(stderr, "blocks overlap: [%llu, %llu) of arena %u and "
                                "[%llu, %llu) of arena %u\n",
                        (unsigned long long)all[i - 1].start,
                        (unsigned long long)all[i - 1].end,
                        (unsigned)all[i - 1].owner,
                        (unsigned long long)all[i].start,
                        (unsigned long long)all[i].end,
                        (unsigned)all[i].owner);
        }
    }
    EXPECT(overlaps == 0);
    EXPECT(count > ITEMS); /* the check looked at blocks, not only records */

    sum = dev_summary(set);
    for (id = 0; id < ITEMS; ++id)
        live += dev_stats(set, id).live_blocks;
    EXPECT(sum.arenas_opened == ITEMS && sum.arenas_closed == ITEMS);
    EXPECT(sum.alloc_count - sum.free_count == live && live == count);
    /* the run really churned: blocks were freed, and some requests found no
     * room (the arenas are small on purpose) */
    EXPECT(sum.free_count > ITEMS * steps / 8);
    EXPECT(sum.failed_count > 0 && sum.arenas_with_failures > 0);
    printf("blocks live %llu, allocations %llu, frees %llu, failed %llu\n",
           (unsigned long long)live, (unsigned long long)sum.alloc_count,
           (unsigned long long)sum.free_count,
           (unsigned long long)sum.failed_count);

    free(all);
    carve_set_release(set);
    clReleaseKernel(churn);
    clReleaseProgram(program);
    carve_test_close_cl(&cl);
    return carve_test_finish("device_overlap");
}
