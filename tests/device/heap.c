/*
 * heap.c - the shared heap on the device.
 *
 * - contention: 65536 work-items allocate and free heap blocks at once,
 *   each filling its blocks with its own pattern; afterwards the host finds
 *   every live block intact, no two blocks sharing a byte (extents from the
 *   heap's own page table), and the heap's invariants and hints exact;
 * - cross frees: in a second launch every work-item frees the blocks of
 *   its neighbour (checking their patterns first) and allocates anew;
 * - exhaustion: a heap of 32 slots serves at most 32 of 2048 requests, and
 *   every other request fails with a recorded reason;
 * - checks: with redzones on, work-items planted to write one byte past a
 *   heap block are reported in the error log with their index, the block
 *   and the line of the free that found it; no one else is;
 * - semantics: alignment, calloc over dirty memory, realloc between the
 *   arena and the heap keeping contents, usable sizes.
 *
 * --quick runs 64 work-items (one for the semantics, which frees) and
 * never lets a block freed in a launch be taken again in it: Oclgrind's
 * race detector does not see the order the heap's atomics give a freed
 * block and its next owner, so a block reused within one launch would
 * show as a race on the block's bytes (the allocator's own words are all
 * atomic and show nothing).
 *
 * Usage: device_heap [--quick] [seed]
 */
#include "device_support.h"

#define FULL_ITEMS 65536u
#define QUICK_ITEMS 64u
#define SLOTS 4u
#define STEPS 12u
#define RECORD_WORDS (2u + 3u * SLOTS)

static const char *const source = DEV_KERNEL_PRELUDE
    "#define SLOTS " DEV_XSTR(SLOTS) "\n"
    "#define RECORD_WORDS " DEV_XSTR(RECORD_WORDS) "\n"
    "static uint next_random(uint x)\n"
    "{ x ^= x << 13; x ^= x >> 17; x ^= x << 5; return x; }\n"
    "kernel void contend(global uchar *carved, uint seed, uint steps,\n"
    "                    global uint *out, uint frees)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uint *o = out + id * RECORD_WORDS;\n"
    "    global uchar *blocks[SLOTS];\n"
    "    uint sizes[SLOTS], tags[SLOTS], x = seed ^ (id * 2654435761u);\n"
    "    uint live = 0, damaged = 0;\n"
    "    for (uint s = 0; s < SLOTS; ++s) blocks[s] = 0;\n"
    "    for (uint step = 0; step < steps; ++step) {\n"
    "        uint slot;\n"
    "        x = next_random(x | 1u);\n"
    "        slot = x % SLOTS;\n"
    "        if (blocks[slot] != 0) {\n"
    "            if (!frees) continue;\n"
    "            damaged += dev_mismatches(blocks[slot], sizes[slot], tags[slot]);\n"
    "            carve_free(&a, blocks[slot]);\n"
    "            blocks[slot] = 0;\n"
    "        } else {\n"
    "            uint size = (x >> 8) % 64u == 0u ? 5000u : 16u + (x >> 8) % 500u;\n"
    "            global uchar *p = carve_malloc(&a, size);\n"
    "            if (p == 0) continue;\n"
    "            tags[slot] = id * 64u + step;\n"
    "            sizes[slot] = size;\n"
    "            dev_fill(p, size, tags[slot]);\n"
    "            blocks[slot] = p;\n"
    "        }\n"
    "    }\n"
    "    for (uint s = 0; s < SLOTS; ++s) {\n"
    "        if (blocks[s] == 0) continue;\n"
    "        o[2 + 3 * live] = carve_offset(&a, blocks[s]);\n"
    "        o[3 + 3 * live] = sizes[s];\n"
    "        o[4 + 3 * live] = tags[s];\n"
    "        ++live;\n"
    "    }\n"
    "    o[0] = live;\n"
    "    o[1] = damaged;\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    /* Frees the neighbour's blocks (recorded by `contend`), checking them
     * first, and leaves one new block of its own. */
    "kernel void steal(global uchar *carved, global const uint *before,\n"
    "                  global uint *out, uint renew)\n"
    "{\n"
    "    uint id = carve_flat_global_id(), n = get_global_size(0);\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global const uint *r = before + ((id + 1u) % n) * RECORD_WORDS;\n"
    "    global uchar *p;\n"
    "    uint damaged = 0;\n"
    "    for (uint i = 0; i < r[0]; ++i) {\n"
    "        p = carve_pointer(&a, r[2 + 3 * i]);\n"
    "        damaged += dev_mismatches(p, r[3 + 3 * i], r[4 + 3 * i]);\n"
    "        carve_free(&a, p);\n"
    "    }\n"
    "    p = renew ? carve_malloc(&a, 100u + id % 400u) : 0;\n"
    "    if (p != 0) dev_fill(p, 100u + id % 400u, id);\n"
    "    out[id * 2] = p != 0 ? carve_offset(&a, p) : 0u;\n"
    "    out[id * 2 + 1] = damaged;\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    "kernel void exhaust(global uchar *carved, global uint *out)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uchar *p = carve_malloc(&a, 1000);\n"
    "    if (p != 0) dev_fill(p, 1000, id);\n"
    "    out[id] = p != 0 ? carve_offset(&a, p) : 0u;\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    /* Plants a write one byte past a heap block in every `every`-th
     * work-item; `release` frees the blocks in a second launch. */
    "kernel void plant(global uchar *carved, uint every, global uint *out)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    uint size = id % 2u == 0u ? 300u : 5000u;\n"
    "    global uchar *p = carve_malloc(&a, size);\n"
    "    if (p != 0) {\n"
    "        dev_fill(p, size, id);\n"
    "        if (id % every == 3u) p[size] = 0x42; /* one byte too far */\n"
    "    }\n"
    "    out[id] = carve_offset(&a, p);\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    "kernel void release(global uchar *carved, global const uint *blocks)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    carve_free(&a, carve_pointer(&a, blocks[id])); /* FREE_LINE */\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    /* Every call's semantics on heap blocks: out[id * 8 + k] counts what
     * went wrong in case k, so all zeros is a pass. */
    "kernel void semantics(global uchar *carved, global uint *out)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uint *o = out + id * 8u;\n"
    "    global uchar *p, *q;\n"
    "    uint align, i;\n"
    "    for (align = 16u; align <= 128u; align *= 2u) {\n"
    "        p = carve_malloc_aligned(&a, 600u + id % 7u, align);\n"
    "        o[0] += p == 0 || (ulong)(uintptr_t)p % align != 0u;\n"
    "        carve_free(&a, p);\n"
    "    }\n"
    "    p = carve_malloc(&a, 3000);\n"
    "    if (p != 0) dev_fill(p, 3000, id);\n"
    "    carve_free(&a, p);\n"
    "    q = carve_calloc(&a, 30, 100);\n"
    "    o[1] += q == 0;\n"
    "    for (i = 0; q != 0 && i < 3000u; ++i) o[1] += q[i] != 0;\n"
    "    carve_free(&a, q);\n"
    "    p = carve_malloc(&a, 40);          /* in the arena */\n"
    "    if (p != 0) dev_fill(p, 40, id);\n"
    "    q = carve_realloc(&a, p, 2000);    /* to the heap */\n"
    "    o[2] += q == 0 || dev_mismatches(q, 40, id);\n"
    "    p = carve_realloc(&a, q, 9000);    /* three pages */\n"
    "    o[2] += p == 0 || dev_mismatches(p, 40, id);\n"
    "    q = carve_realloc(&a, p, 100);     /* shrinks in place */\n"
    "    o[2] += q != p || dev_mismatches(q, 40, id);\n"
    "    o[3] += carve_usable_size(&a, q) < 100u;\n"
    "    carve_free(&a, q);\n"
    "    carve_free(&a, 0);\n"
    "    o[4] = a.state->misuse_count + a.state->failed_count;\n"
    "    o[5] = a.state->heap_allocs;\n"
    "    carve_arena_close(&a);\n"
    "}\n";

static uint32_t items = FULL_ITEMS;
static uint32_t quick;

/* The kernel source's line holding `marker` (1-based), as __LINE__ says. */
static uint32_t line_of(const char *marker)
{
    const char *at = strstr(source, marker), *c;
    uint32_t line = 1;
    if (at == NULL)
        return 0;
    for (c = source; c < at; ++c)
        line += *c == '\n';
    return line;
}

static carve_plan heap_plan(const carve_test_cl *cl, uint32_t count,
                            uint64_t heap_bytes, uint32_t options)
{
    carve_plan_params params;
    carve_plan plan;
    memset(&params, 0, sizeof params);
    params.work_dim = 1;
    params.global_size[0] = count;
    params.arena_bytes = 64;
    params.heap_bytes = heap_bytes;
    params.large_request_bytes = 1; /* every request goes to the heap */
    params.options = options;
    REQUIRE_OK(carve_plan_compute(&params, &cl->limits, &plan));
    return plan;
}

typedef struct extent {
    uint64_t start, end;
    uint32_t owner;
} extent;

static int by_start(const void *a, const void *b)
{
    const extent *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* The usable extent of the heap block at `offset`, from the page table. */
static int heap_extent(const carve_set *set, uint32_t offset, extent *e)
{
    unsigned char *base = carve_test_image(set);
    carve_heap hp = carve_heap_view(base);
    carve_heap_block b;
    if (offset < hp.offset ||
        offset - hp.offset >= (uint64_t)hp.page_count * hp.page_bytes ||
        carve_heap_resolve_live(&hp, offset - hp.offset, &b) !=
            CARVE_MISUSE_NONE)
        return 0;
    e->start = offset;
    e->end = (uint64_t)offset + b.bytes;
    return 1;
}

static size_t count_overlaps(extent *all, size_t count)
{
    size_t i, overlaps = 0;
    qsort(all, count, sizeof *all, by_start);
    for (i = 1; i < count; ++i)
        if (all[i].start < all[i - 1].end && overlaps++ < 5)
            fprintf(stderr, "heap blocks of work-items %u and %u overlap\n",
                    (unsigned)all[i - 1].owner, (unsigned)all[i].owner);
    return overlaps;
}

/* Every block `contend` left is intact, inside the heap, and alone. */
static uint64_t check_contended(const carve_set *set, const uint32_t *out)
{
    extent *all = dev_xmalloc(sizeof *all * items * SLOTS);
    size_t count = 0;
    uint32_t id, i, bad = 0, damaged = 0;
    for (id = 0; id < items; ++id) {
        const uint32_t *o = out + id * RECORD_WORDS;
        damaged += o[1];
        for (i = 0; i < o[0] && i < SLOTS; ++i) {
            const unsigned char *p = carve_layout_pointer(
                carve_test_image(set), o[2 + 3 * i], o[3 + 3 * i]);
            extent *e = &all[count];
            if (p == NULL || dev_mismatches(p, o[3 + 3 * i], o[4 + 3 * i]) ||
                !heap_extent(set, o[2 + 3 * i], e) ||
                e->end - e->start < o[3 + 3 * i]) {
                ++bad;
                continue;
            }
            e->owner = id;
            ++count;
        }
    }
    EXPECT(bad == 0 && damaged == 0);
    EXPECT(count_overlaps(all, count) == 0);
    free(all);
    return count;
}

static void test_contention_and_cross_frees(const carve_test_cl *cl,
                                            cl_program program, uint32_t seed)
{
    const size_t global = items;
    const uint32_t steps = STEPS, churn = !quick;
    /* Room for every work-item's blocks at once: at most SLOTS of up to
     * 5000 B (two pages) each. */
    carve_plan plan = heap_plan(cl, items, quick ? 4u << 20 : 96u << 20, 0);
    carve_set *set = dev_set(cl, &plan);
    cl_int err;
    cl_kernel contend = clCreateKernel(program, "contend", &err);
    cl_kernel steal;
    cl_mem out = dev_buffer(cl, sizeof(uint32_t) * items * RECORD_WORDS, NULL);
    cl_mem out2 = dev_buffer(cl, sizeof(uint32_t) * items * 2, NULL);
    uint32_t *records = dev_xmalloc(sizeof(uint32_t) * items * RECORD_WORDS);
    uint32_t *stolen = dev_xmalloc(sizeof(uint32_t) * items * 2);
    uint64_t live, fresh = 0, damaged = 0;
    carve_summary sum;
    double t0;
    uint32_t id;
    REQUIRE_OK(err);
    dev_arg(contend, 1, sizeof seed, &seed);
    dev_arg(contend, 2, sizeof steps, &steps);
    dev_arg(contend, 3, sizeof out, &out);
    dev_arg(contend, 4, sizeof churn, &churn);
    t0 = dev_seconds();
    DEV_RUN(set, contend, 1, &global);
    printf("contend: %u work-items x %u steps in %.2f s\n", items, STEPS,
           dev_seconds() - t0);
    dev_read(cl, out, sizeof(uint32_t) * items * RECORD_WORDS, records);
    live = check_contended(set, records);
    sum = dev_summary(set);
    printf("contend: %llu blocks live, %llu allocations, %llu frees, %llu "
           "failed\n",
           (unsigned long long)live, (unsigned long long)sum.heap_allocs,
           (unsigned long long)sum.heap_frees,
           (unsigned long long)sum.failed_count);
    EXPECT(sum.heap_live_blocks == live && live > items);
    EXPECT(sum.heap_allocs - sum.heap_frees == live);
    if (churn)
        EXPECT(sum.heap_frees > items); /* it churned */
    EXPECT(sum.misuse_count == 0 && sum.alloc_count == 0);

    steal = clCreateKernel(program, "steal", &err);
    REQUIRE_OK(err);
    dev_arg(steal, 1, sizeof out, &out);
    dev_arg(steal, 2, sizeof out2, &out2);
    dev_arg(steal, 3, sizeof churn, &churn);
    DEV_RUN(set, steal, 1, &global);
    dev_read(cl, out2, sizeof(uint32_t) * items * 2, stolen);
    for (id = 0; id < items; ++id) {
        fresh += stolen[2 * id] != 0;
        damaged += stolen[2 * id + 1];
    }
    sum = dev_summary(set);
    EXPECT(damaged == 0);
    EXPECT(sum.heap_live_blocks == fresh && fresh == (churn ? items : 0));
    EXPECT(sum.misuse_count == 0);
    {
        carve_arena_stats st = dev_stats(set, 5);
        /* 5 freed what 6 left in the first launch */
        EXPECT(st.heap_frees >= records[6 * RECORD_WORDS]);
    }
    clReleaseKernel(steal);
    clReleaseKernel(contend);
    clReleaseMemObject(out);
    clReleaseMemObject(out2);
    free(records);
    free(stolen);
    carve_set_release(set);
}

static void test_exhaustion(const carve_test_cl *cl, cl_program program)
{
    const size_t global = quick ? 64 : 2048;
    /* 8 pages of 4 KiB, 4 slots of 1 KiB each: 32 blocks at most. */
    carve_plan plan = heap_plan(cl, (uint32_t)global, 8 * 4096, 0);
    carve_set *set = dev_set(cl, &plan);
    cl_int err;
    cl_kernel exhaust = clCreateKernel(program, "exhaust", &err);
    cl_mem out = dev_buffer(cl, sizeof(uint32_t) * global, NULL);
    uint32_t *offsets = dev_xmalloc(sizeof(uint32_t) * global);
    uint32_t id, got = 0, oom = 0, contended = 0, other = 0, bad = 0;
    REQUIRE_OK(err);
    dev_arg(exhaust, 1, sizeof out, &out);
    DEV_RUN(set, exhaust, 1, &global);
    dev_read(cl, out, sizeof(uint32_t) * global, offsets);
    for (id = 0; id < global; ++id) {
        carve_arena_stats st = dev_stats(set, id);
        if (offsets[id] != 0) {
            const unsigned char *p =
                carve_layout_pointer(carve_test_image(set), offsets[id], 1000);
            ++got;
            bad += p == NULL || dev_mismatches(p, 1000, id) != 0;
            continue;
        }
        oom += st.last_failure == CARVE_FAIL_OUT_OF_MEMORY;
        contended += st.last_failure == CARVE_FAIL_CONTENTION;
        other += st.last_failure != CARVE_FAIL_OUT_OF_MEMORY &&
                 st.last_failure != CARVE_FAIL_CONTENTION;
    }
    printf("exhaust: %u of %u served, %u out of memory, %u gave up on "
           "contention\n",
           got, (unsigned)global, oom, contended);
    EXPECT(got <= 32 && bad == 0 && other == 0);
    EXPECT(got + oom + contended == global);
    if (contended == 0)
        EXPECT(got == 32);
    clReleaseKernel(exhaust);
    clReleaseMemObject(out);
    free(offsets);
    carve_set_release(set);
}

static void test_overflow_reports(const carve_test_cl *cl, cl_program program)
{
    const size_t global = quick ? 64 : 4096;
    const uint32_t every = quick ? 10 : 100;
    carve_plan plan;
    carve_set *set;
    cl_int err;
    cl_kernel plant = clCreateKernel(program, "plant", &err);
    cl_kernel release = clCreateKernel(program, "release", &err);
    cl_mem blocks = dev_buffer(cl, sizeof(uint32_t) * global, NULL);
    const carve_set_header *h;
    const carve_error_record *records;
    uint32_t i, planted = 0, found = 0, wrong = 0, served = 0;
    uint32_t *offsets = dev_xmalloc(sizeof(uint32_t) * global);
    REQUIRE_OK(err);
    /* Room for every block at once: half of them take two pages. */
    plan = heap_plan(cl, (uint32_t)global, quick ? 2u << 20 : 32u << 20,
                     CARVE_PLAN_CHECKS);
    set = dev_set(cl, &plan);
    dev_arg(plant, 1, sizeof every, &every);
    dev_arg(plant, 2, sizeof blocks, &blocks);
    DEV_RUN(set, plant, 1, &global);
    dev_arg(release, 1, sizeof blocks, &blocks);
    DEV_RUN(set, release, 1, &global);
    h = carve_test_image(set);
    records = (const carve_error_record *)((const unsigned char *)h +
                                           h->error_offset);
    dev_read(cl, blocks, sizeof(uint32_t) * global, offsets);
    for (i = 0; i < global; ++i) {
        served += offsets[i] != 0;
        planted += i % every == 3;
    }
    EXPECT(served == global);
    for (i = 0; i < h->error_count && i < h->error_capacity; ++i) {
        const carve_error_record *r = &records[i];
        uint32_t size = r->arena % 2 == 0 ? 300 : 5000;
        int right = r->kind == CARVE_MISUSE_OVERFLOW &&
                    r->call == CARVE_CALL_FREE && r->arena % every == 3 &&
                    r->site == line_of("/* FREE_LINE */") &&
                    r->detail == size && r->bytes == size;
        found += right;
        wrong += !right;
    }
    printf("overflow: %u planted, %u reported with work-item, block and "
           "line %u\n",
           planted, found, (unsigned)line_of("/* FREE_LINE */"));
    EXPECT(h->error_count == planted && found == planted && wrong == 0);
    EXPECT(dev_summary(set).heap_live_blocks == 0);
    clReleaseKernel(plant);
    clReleaseKernel(release);
    clReleaseMemObject(blocks);
    free(offsets);
    carve_set_release(set);
}

static void test_semantics(const carve_test_cl *cl, cl_program program)
{
    /* Every case frees, and realloc frees the block it moves from: with
     * more than one work-item a quick run could hand one's freed block to
     * another (see the top), so it runs one. */
    const size_t global = quick ? 1 : 256;
    carve_plan_params params;
    carve_plan plan;
    carve_set *set;
    cl_int err;
    cl_kernel semantics = clCreateKernel(program, "semantics", &err);
    cl_mem out = dev_buffer(cl, sizeof(uint32_t) * 8 * global, NULL);
    uint32_t *words = dev_xmalloc(sizeof(uint32_t) * 8 * global);
    uint32_t id, k, wrong[5] = {0, 0, 0, 0, 0}, heap_allocs = 0;
    REQUIRE_OK(err);
    memset(&params, 0, sizeof params);
    params.work_dim = 1;
    params.global_size[0] = global;
    params.arena_bytes = 256; /* requests over 64 B go to the heap */
    params.heap_bytes = quick ? 2u << 20 : 16u << 20;
    REQUIRE_OK(carve_plan_compute(&params, &cl->limits, &plan));
    set = dev_set(cl, &plan);
    dev_arg(semantics, 1, sizeof out, &out);
    DEV_RUN(set, semantics, 1, &global);
    dev_read(cl, out, sizeof(uint32_t) * 8 * global, words);
    for (id = 0; id < global; ++id) {
        for (k = 0; k < 5; ++k)
            wrong[k] += words[id * 8 + k];
        heap_allocs += words[id * 8 + 5];
    }
    EXPECT(wrong[0] == 0); /* alignment 16..128 in the heap */
    EXPECT(wrong[1] == 0); /* calloc zeroes dirty heap memory */
    EXPECT(wrong[2] == 0); /* realloc keeps contents across moves */
    EXPECT(wrong[3] == 0); /* usable size */
    EXPECT(wrong[4] == 0); /* no refusal, no failure */
    EXPECT(heap_allocs == global * 8); /* 4 aligned, calloc, 3000, 2 moves */
    EXPECT(dev_summary(set).heap_live_blocks == 0);
    clReleaseKernel(semantics);
    clReleaseMemObject(out);
    free(words);
    carve_set_release(set);
}

int main(int argc, char **argv)
{
    uint32_t seed;
    carve_test_cl cl;
    cl_program program;
    cl_kernel first;
    if (argc > 1 && strcmp(argv[1], "--quick") == 0) {
        quick = 1;
        items = QUICK_ITEMS;
        --argc;
        ++argv;
    }
    seed = (uint32_t)carve_test_seed(argc, argv, 0x4eab1e55u);
    cl = carve_test_open_cl();
    first = carve_test_kernel(&cl, source, "contend", &program);
    printf("seed 0x%08x (replay: device_heap %s0x%08x)\n", (unsigned)seed,
           quick ? "--quick " : "", (unsigned)seed);
    clReleaseKernel(first);
    test_contention_and_cross_frees(&cl, program, seed);
    test_exhaustion(&cl, program);
    test_overflow_reports(&cl, program);
    test_semantics(&cl, program);
    clReleaseProgram(program);
    carve_test_close_cl(&cl);
    return carve_test_finish("device_heap");
}
