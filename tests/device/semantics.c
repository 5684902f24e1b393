/*
 * semantics.c - what each device call promises, observed on the device and
 * checked by the host in the shared buffer: alignment of carve_malloc and
 * carve_malloc_aligned, zeroing by carve_calloc (on arenas dirtied by an
 * earlier launch), carve_realloc in every case, and NULL with the right
 * recorded reason when a request cannot be met (a request for 0 bytes
 * gives NULL too, but is counted in zero_requests, not as a failure).
 *
 * All work-items of a launch run side by side; each takes the scenario
 * selected by its index and writes what it saw to `out` (OUT_WORDS words
 * per work-item). One set serves every launch, reset in between.
 */
#include "device_support.h"

#define ITEMS 32u
#define ARENA_BYTES 2048u
#define OUT_WORDS 32u

static const char *const source = DEV_KERNEL_PRELUDE
    "#define OUT_WORDS 32u\n"
    /* ---- alignment ---- */
    "kernel void aligned(global uchar *carved, global uint *out)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uint *o = out + id * OUT_WORDS;\n"
    "    uint k = 0, shift, i, bad, misaligned = 0;\n"
    "    /* id % 8 one-granule blocks first: every granule phase is tried */\n"
    "    for (i = 0; i < id % 8u; ++i)\n"
    "        carve_malloc(&a, 16);\n"
    "    for (shift = 4; shift <= 7; ++shift) {\n"
    "        uint align = 1u << shift;\n"
    "        global uchar *d = carve_malloc(&a, 1 + id % 40u);\n"
    "        global uchar *p = carve_malloc_aligned(&a, 24 + id, align);\n"
    "        o[k++] = carve_offset(&a, d);\n"
    "        o[k++] = (uint)((uintptr_t)d & 255u);\n"
    "        o[k++] = carve_offset(&a, p);\n"
    "        o[k++] = (uint)((uintptr_t)p & 255u);\n"
    "        misaligned += (uintptr_t)d % 16u != 0 || (uintptr_t)p % align != 0;\n"
    "        if (p != 0)\n"
    "            dev_fill(p, 24 + id, id * 16u + shift);\n"
    "    }\n"
    "    /* alignments below a granule are valid and give 16 */\n"
    "    {\n"
    "        global uchar *p = carve_malloc_aligned(&a, 8, 8u >> (id % 4u));\n"
    "        o[k++] = carve_offset(&a, p);\n"
    "        o[k++] = (uint)((uintptr_t)p & 255u);\n"
    "    }\n"
    "    bad = id % 3u == 0u ? 3u : id % 3u == 1u ? 256u : 0u;\n"
    "    o[k++] = carve_malloc_aligned(&a, 32, bad) == 0;\n"
    "    o[k++] = misaligned;\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    /* ---- calloc on dirty arenas ---- */
    "kernel void dirty(global uchar *carved, uint capacity)\n"
    "{\n"
    "    carve_arena a = carve_arena_open(carved, carve_flat_global_id());\n"
    "    global uchar *p = carve_malloc(&a, capacity);\n"
    "    if (p != 0)\n"
    "        for (uint i = 0; i < capacity; ++i)\n"
    "            p[i] = 0xAB;\n"
    "    carve_set_root(&a, p);\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    "static uint nonzero(global const uchar *p, ulong n)\n"
    "{\n"
    "    uint bad = 0;\n"
    "    for (ulong i = 0; p != 0 && i < n; ++i)\n"
    "        bad += p[i] != 0;\n"
    "    return bad;\n"
    "}\n"
    "kernel void zeroed(global uchar *carved, global uint *out, uint capacity)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uint *o = out + id * OUT_WORDS;\n"
    "    ulong counts[4] = {3, 1, 10, 4};\n"
    "    ulong sizes[4] = {7, 1, 12, 100};\n"
    "    global uchar *p, *q, *r;\n"
    "    uint i, k = 0;\n"
    "    sizes[3] += id;\n"
    "    for (i = 0; i < 4; ++i) {\n"
    "        p = carve_calloc(&a, counts[i], sizes[i]);\n"
    "        o[k++] = carve_offset(&a, p);\n"
    "        o[k++] = (uint)(counts[i] * sizes[i]);\n"
    "        o[k++] = nonzero(p, counts[i] * sizes[i]);\n"
    "    }\n"
    "    /* a block dirtied, freed (its header written) and handed out again */\n"
    "    q = carve_malloc(&a, 96);\n"
    "    for (i = 0; q != 0 && i < 96; ++i)\n"
    "        q[i] = 0xCD;\n"
    "    carve_malloc(&a, 16);\n"
    "    carve_free(&a, q);\n"
    "    r = carve_calloc(&a, 6, 16);\n"
    "    o[k++] = carve_offset(&a, q);\n"
    "    o[k++] = carve_offset(&a, r);\n"
    "    o[k++] = nonzero(r, 96);\n"
    "    switch (id % 5u) {\n"
    "    case 0: p = carve_calloc(&a, 1ul << 63, 2); break;\n"
    "    case 1: p = carve_calloc(&a, 1ul << 32, 1ul << 32); break;\n"
    "    case 2: p = carve_calloc(&a, ULONG_MAX, ULONG_MAX); break;\n"
    "    case 3: p = carve_calloc(&a, 0, 16); break;\n"
    "    default: p = carve_calloc(&a, capacity, 2); break;\n"
    "    }\n"
    "    o[k++] = p == 0;\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    /* ---- realloc ---- */
    "kernel void resize(global uchar *carved, global uint *out, uint capacity)\n"
    "{\n"
    "    uint id = carve_flat_global_id(), tag = id * 64u + 7u;\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uint *o = out + id * OUT_WORDS;\n"
    "    global uchar *p = 0, *q = 0, *t = 0, *live = 0;\n"
    "    uint keep = 0, bad = 0, n, i;\n"
    "    switch (id % 10u) {\n"
    "    case 0: /* grow into the wilderness */\n"
    "        p = carve_malloc(&a, 40); dev_fill(p, 40, tag);\n"
    "        live = q = carve_realloc(&a, p, 200); keep = 40; break;\n"
    "    case 1: /* grow into the free block after it */\n"
    "        p = carve_malloc(&a, 32); dev_fill(p, 32, tag);\n"
    "        t = carve_malloc(&a, 64); carve_malloc(&a, 16); carve_free(&a, t);\n"
    "        t = 0;\n"
    "        live = q = carve_realloc(&a, p, 80); keep = 32; break;\n"
    "    case 2: /* move: the block after it is live */\n"
    "        p = carve_malloc(&a, 32); dev_fill(p, 32, tag);\n"
    "        carve_malloc(&a, 16);\n"
    "        live = q = carve_realloc(&a, p, 256); keep = 32; break;\n"
    "    case 3: /* shrink the top block */\n"
    "        p = carve_malloc(&a, 256); dev_fill(p, 256, tag);\n"
    "        live = q = carve_realloc(&a, p, 40); keep = 40; break;\n"
    "    case 4: /* shrink below a live block: the tail is free again */\n"
    "        p = carve_malloc(&a, 256); dev_fill(p, 256, tag);\n"
    "        carve_malloc(&a, 16);\n"
    "        live = q = carve_realloc(&a, p, 40); keep = 40;\n"
    "        t = carve_malloc(&a, 200); break;\n"
    "    case 5: /* realloc(NULL, n) allocates */\n"
    "        live = q = carve_realloc(&a, 0, 100);\n"
    "        if (q != 0) dev_fill(q, 100, tag);\n"
    "        keep = 100; break;\n"
    "    case 6: /* realloc(p, 0) frees */\n"
    "        p = carve_malloc(&a, 64);\n"
    "        q = carve_realloc(&a, p, 0); break;\n"
    "    case 7: /* larger than the arena: p stays */\n"
    "        p = carve_malloc(&a, 64); dev_fill(p, 64, tag);\n"
    "        q = carve_realloc(&a, p, capacity + 16); live = p; keep = 64;\n"
    "        break;\n"
    "    case 8: /* fits the arena, but not next to p nor elsewhere */\n"
    "        p = carve_malloc(&a, 64); dev_fill(p, 64, tag);\n"
    "        carve_malloc(&a, 16);\n"
    "        q = carve_realloc(&a, p, capacity - 64); live = p; keep = 64;\n"
    "        break;\n"
    "    default: /* doubling six times, a new block after it each time */\n"
    "        p = carve_malloc(&a, 16); dev_fill(p, 16, tag);\n"
    "        live = p;\n"
    "        for (n = 16, i = 0; i < 6; ++i, n *= 2) {\n"
    "            carve_malloc(&a, 16);\n"
    "            q = carve_realloc(&a, live, 2 * n);\n"
    "            if (q == 0) { bad += 1000; break; }\n"
    "            bad += dev_mismatches(q, n, tag);\n"
    "            dev_fill(q, 2 * n, tag);\n"
    "            live = q;\n"
    "        }\n"
    "        keep = n; break;\n"
    "    }\n"
    "    o[0] = carve_offset(&a, p);\n"
    "    o[1] = carve_offset(&a, q);\n"
    "    o[2] = bad + (live != 0 ? dev_mismatches(live, keep, tag) : 0u);\n"
    "    o[3] = live != 0 ? (uint)carve_usable_size(&a, live) : 0u;\n"
    "    o[4] = carve_offset(&a, live);\n"
    "    o[5] = keep;\n"
    "    o[6] = tag;\n"
    "    o[7] = carve_offset(&a, t);\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    /* ---- exhaustion ---- */
    "kernel void exhaust(global uchar *carved, global const uint *sizes,\n"
    "                    global uint *out)\n"
    "{\n"
    "    uint id = carve_flat_global_id(), size = sizes[id], count = 0;\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uint *o = out + id * OUT_WORDS;\n"
    "    global const uint *state = (global const uint *)a.state;\n"
    "    global uchar *p, *first = 0, *last = 0;\n"
    "    uint before[CARVE_STATE_FIXED_WORDS], changed = 0, i;\n"
    "    while (count < 5000u && (p = carve_malloc(&a, size)) != 0) {\n"
    "        p[0] = (uchar)count; p[size - 1] = (uchar)count;\n"
    "        if (first == 0) first = p;\n"
    "        last = p; ++count;\n"
    "    }\n"
    "    for (i = 0; i < CARVE_STATE_FIXED_WORDS; ++i) before[i] = state[i];\n"
    "    carve_free(&a, 0);\n"
    "    for (i = 0; i < CARVE_STATE_FIXED_WORDS; ++i)\n"
    "        changed += state[i] != before[i];\n"
    "    o[0] = count;\n"
    "    o[1] = changed;\n"
    "    o[2] = carve_offset(&a, first);\n"
    "    o[3] = carve_offset(&a, last);\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    "kernel void edges(global uchar *carved, global uint *out, uint capacity)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uint *o = out + id * OUT_WORDS;\n"
    "    global uchar *p;\n"
    "    uint n = 0;\n"
    "    switch (id) {\n"
    "    case 0: /* one byte too many, then exactly the arena */\n"
    "        o[0] = carve_malloc(&a, capacity + 1) == 0;\n"
    "        p = carve_malloc(&a, capacity);\n"
    "        o[1] = carve_offset(&a, p);\n"
    "        break;\n"
    "    case 1:\n"
    "        o[0] = carve_malloc(&a, 0) == 0;\n"
    "        break;\n"
    "    case 2: /* beyond 32 bits */\n"
    "        o[0] = carve_malloc(&a, 1ul << 40) == 0;\n"
    "        break;\n"
    "    case 3: /* full: every smaller request fails too */\n"
    "        while (n < 1000u && carve_malloc(&a, 64) != 0) ++n;\n"
    "        o[0] = n;\n"
    "        o[1] = (carve_malloc(&a, 32) == 0) + (carve_malloc(&a, 16) == 0) +\n"
    "               (carve_malloc(&a, 1) == 0);\n"
    "        break;\n"
    "    case 4: /* the latest reason wins, the largest size stays */\n"
    "        p = carve_malloc(&a, capacity - 16);\n"
    "        o[0] = carve_offset(&a, p);\n"
    "        o[1] = carve_malloc(&a, 100) == 0;\n"
    "        o[2] = carve_malloc(&a, capacity * 4) == 0;\n"
    "        o[3] = carve_malloc(&a, 16) != 0;\n"
    "        o[4] = carve_malloc(&a, 50) == 0;\n"
    "        break;\n"
    "    case 5: /* the whole arena at the largest alignment */\n"
    "        p = carve_malloc_aligned(&a, capacity, 128);\n"
    "        o[0] = carve_offset(&a, p);\n"
    "        o[1] = carve_malloc(&a, 1) == 0;\n"
    "        break;\n"
    "    default: break;\n"
    "    }\n"
    "    carve_arena_close(&a);\n"
    "}\n";

typedef struct suite {
    carve_test_cl cl;
    cl_program program;
    carve_plan plan;
    carve_set *set;
    uint32_t capacity; /* bytes of every arena */
    uint32_t out[ITEMS * OUT_WORDS];
} suite;

/* Kernel `name` of the suite's program, with the set reset for it. */
static cl_kernel suite_kernel(suite *s, const char *name)
{
    cl_int err;
    cl_kernel kernel = clCreateKernel(s->program, name, &err);
    REQUIRE_OK(err);
    REQUIRE_OK(carve_set_reset(s->set));
    return kernel;
}

/* Runs `kernel` over all work-items, checks the set, reads `out` (if not
 * NULL) into s->out and releases the kernel. */
static void suite_launch(suite *s, cl_kernel kernel, cl_mem out)
{
    size_t global = ITEMS;
    DEV_RUN(s->set, kernel, 1, &global);
    if (out != NULL)
        dev_read(&s->cl, out, sizeof s->out, s->out);
    clReleaseKernel(kernel);
}

static const uint32_t *item_out(const suite *s, uint32_t id)
{
    return s->out + id * OUT_WORDS;
}

/* The host's address of a device offset must be as aligned as the
 * device's. */
static int host_aligned(const suite *s, uint32_t offset, uint32_t align)
{
    void *p = carve_layout_pointer(carve_test_image(s->set), offset, 1);
    return p != NULL && (uintptr_t)p % align == 0;
}

/* Runs `aligned` on s->set and checks every address it got. */
static void check_alignment(suite *s)
{
    cl_kernel kernel = suite_kernel(s, "aligned");
    cl_mem out = dev_buffer(&s->cl, sizeof s->out, NULL);
    const uint32_t bad_align[3] = {3, 256, 0};
    uint32_t id, shift;
    dev_arg(kernel, 1, sizeof out, &out);
    suite_launch(s, kernel, out);
    for (id = 0; id < ITEMS; ++id) {
        const uint32_t *o = item_out(s, id);
        carve_arena_stats st = dev_stats(s->set, id);
        EXPECT(o[19] == 0); /* as the kernel checked its addresses */
        for (shift = 4; shift <= 7; ++shift) {
            const uint32_t *r = o + (shift - 4) * 4;
            uint32_t align = 1u << shift, bytes = 24 + id;
            unsigned char *p =
                carve_layout_pointer(carve_test_image(s->set), r[2], bytes);
            EXPECT(r[0] != 0 && r[1] % 16 == 0);
            EXPECT(host_aligned(s, r[0], 16));
            EXPECT(r[2] != 0 && r[3] % align == 0);
            EXPECT(host_aligned(s, r[2], align));
            /* padding blocks never overlapped the aligned block */
            EXPECT(p != NULL && dev_mismatches(p, bytes, id * 16 + shift) == 0);
        }
        EXPECT(o[16] != 0 && o[17] % 16 == 0 && host_aligned(s, o[16], 16));
        EXPECT(o[18] == 1);
        EXPECT(st.alloc_count == id % 8 + 9);
        EXPECT(st.failed_count == 1);
        EXPECT(st.last_failure == CARVE_FAIL_BAD_ALIGNMENT);
        EXPECT(st.largest_failed == 32);
        if (st.last_failure != CARVE_FAIL_BAD_ALIGNMENT)
            fprintf(stderr, "  arena %u: alignment %u gave %s\n", (unsigned)id,
                    (unsigned)bad_align[id % 3],
                    carve_failure_string(st.last_failure));
    }
    clReleaseMemObject(out);
}

/* Alignment is of addresses, not of offsets within an arena: with arenas
 * of an odd number of granules placed every 16 bytes, each arena starts at
 * another phase of 128, and the results must be aligned all the same. */
static void test_alignment(suite *s)
{
    carve_set *main_set = s->set;
    carve_plan_params params;
    carve_plan plan;
    uint32_t id, phases = 0;
    check_alignment(s);

    memset(&params, 0, sizeof params);
    params.work_dim = 1;
    params.global_size[0] = ITEMS;
    params.arena_bytes = 83 * CARVE_GRANULE;
    params.arena_alignment = CARVE_GRANULE;
    REQUIRE_OK(carve_plan_compute(&params, &s->cl.limits, &plan));
    EXPECT(plan.arena_bytes == 83 * CARVE_GRANULE);
    s->set = dev_set(&s->cl, &plan);
    for (id = 0; id < 8; ++id)
        phases |= 1u << (dev_arena_start(&plan, id) / CARVE_GRANULE % 8);
    EXPECT(phases == 0xff);
    check_alignment(s);
    carve_set_release(s->set);
    s->set = main_set;
}

/* Every byte of every arena is `value` from arena byte `from` (per arena)
 * on; returns the number of bytes that are not. */
static uint64_t arena_bytes_not(const suite *s, uint32_t id, uint32_t from,
                                unsigned char value)
{
    const unsigned char *arena = (const unsigned char *)carve_test_image(
                                     s->set) + dev_arena_start(&s->plan, id);
    uint64_t bad = 0;
    uint32_t i;
    for (i = from; i < s->capacity; ++i)
        bad += arena[i] != value;
    return bad;
}

static uint32_t zero_bytes_missing(const suite *s, uint32_t offset,
                                   uint32_t bytes)
{
    const unsigned char *p =
        carve_layout_pointer(carve_test_image(s->set), offset, bytes);
    uint32_t i, bad = 0;
    if (p == NULL)
        return bytes ? bytes : 1;
    for (i = 0; i < bytes; ++i)
        bad += p[i] != 0;
    return bad;
}

static void test_calloc(suite *s)
{
    /* the last calloc of work-item id, by id % 5 (3 asks for 0 bytes) */
    const uint32_t expected_failure[5] = {
        CARVE_FAIL_OVERFLOW, CARVE_FAIL_OVERFLOW, CARVE_FAIL_OVERFLOW,
        CARVE_FAIL_NONE, CARVE_FAIL_TOO_LARGE};
    cl_kernel kernel = suite_kernel(s, "dirty");
    cl_mem out;
    uint32_t id, i;
    dev_arg(kernel, 1, sizeof s->capacity, &s->capacity);
    suite_launch(s, kernel, NULL);
    for (id = 0; id < ITEMS; ++id) {
        carve_arena_stats st = dev_stats(s->set, id);
        EXPECT(st.root == dev_arena_start(&s->plan, id));
        EXPECT(st.footprint_bytes == s->capacity && st.failed_count == 0);
        EXPECT(arena_bytes_not(s, id, 0, 0xAB) == 0);
    }

    kernel = suite_kernel(s, "zeroed");
    out = dev_buffer(&s->cl, sizeof s->out, NULL);
    dev_arg(kernel, 1, sizeof out, &out);
    dev_arg(kernel, 2, sizeof s->capacity, &s->capacity);
    suite_launch(s, kernel, out);
    for (id = 0; id < ITEMS; ++id) {
        const uint32_t *o = item_out(s, id);
        carve_arena_stats st = dev_stats(s->set, id);
        for (i = 0; i < 4; ++i) {
            const uint32_t *r = o + 3 * i;
            EXPECT(r[0] != 0);
            EXPECT(r[2] == 0);
            EXPECT(zero_bytes_missing(s, r[0], r[1]) == 0);
        }
        EXPECT(o[12] != 0 && o[13] == o[12]); /* the freed block came back */
        EXPECT(o[14] == 0 && zero_bytes_missing(s, o[13], 96) == 0);
        EXPECT(o[15] == 1);
        EXPECT(st.failed_count == (id % 5 != 3));
        EXPECT(st.zero_requests == (id % 5 == 3));
        EXPECT(st.last_failure == expected_failure[id % 5]);
        if (id % 5 < 3)
            EXPECT(st.largest_failed == 0xffffffffu);
        else if (id % 5 == 3)
            EXPECT(st.largest_failed == 0);
        else
            EXPECT(st.largest_failed == 2 * s->capacity);
        /* nothing above the top block was written */
        EXPECT(arena_bytes_not(s, id, (uint32_t)st.footprint_bytes, 0xAB) == 0);
    }
    clReleaseMemObject(out);
}

/* What the host expects of one realloc scenario. */
typedef struct resize_case {
    int same;       /* 1: q == p, 0: q != p (moved), -1: q is NULL */
    uint32_t usable;
    uint32_t alloc, freed, live, in_use, footprint;
    uint32_t failure; /* CARVE_FAIL_* or NONE */
    uint32_t reallocs; /* of a live block, whether it worked or not */
} resize_case;

static void test_realloc(suite *s)
{
    const uint32_t cap = s->capacity;
    const resize_case cases[10] = {
        {1, 208, 1, 0, 1, 208, 208, CARVE_FAIL_NONE, 1},
        {1, 80, 3, 1, 2, 96, 112, CARVE_FAIL_NONE, 1},
        {0, 256, 3, 1, 2, 272, 304, CARVE_FAIL_NONE, 1},
        {1, 48, 1, 0, 1, 48, 48, CARVE_FAIL_NONE, 1},
        {1, 48, 3, 0, 3, 272, 272, CARVE_FAIL_NONE, 1},
        {0, 112, 1, 0, 1, 112, 112, CARVE_FAIL_NONE, 0},
        {-1, 0, 1, 1, 0, 0, 0, CARVE_FAIL_NONE, 1},
        {-1, 64, 1, 0, 1, 64, 64, CARVE_FAIL_TOO_LARGE, 1},
        {-1, 64, 2, 0, 2, 80, 80, CARVE_FAIL_OUT_OF_MEMORY, 1},
        {0, 1024, 0, 0, 7, 0, 0, CARVE_FAIL_NONE, 6}, /* counts vary */
    };
    cl_kernel kernel = suite_kernel(s, "resize");
    cl_mem out = dev_buffer(&s->cl, sizeof s->out, NULL);
    uint32_t id;
    dev_arg(kernel, 1, sizeof out, &out);
    dev_arg(kernel, 2, sizeof cap, &cap);
    suite_launch(s, kernel, out);
    for (id = 0; id < ITEMS; ++id) {
        const uint32_t *o = item_out(s, id);
        const resize_case *c = &cases[id % 10];
        carve_arena_stats st = dev_stats(s->set, id);
        const unsigned char *kept =
            carve_layout_pointer(carve_test_image(s->set), o[4], o[5]);
        int failures = carve_test_failures;
        if (c->same == 1)
            EXPECT(o[1] != 0 && o[1] == o[0]);
        else if (c->same == 0)
            EXPECT(o[1] != 0 && o[1] != o[0]);
        else
            EXPECT(o[1] == 0);
        EXPECT(o[2] == 0); /* contents seen on the device */
        EXPECT(o[3] == c->usable);
        if (o[5] != 0) /* contents seen by the host, in place */
            EXPECT(kept != NULL && dev_mismatches(kept, o[5], o[6]) == 0);
        EXPECT(st.live_blocks == c->live);
        EXPECT(st.alloc_count - st.free_count == st.live_blocks);
        if (id % 10 != 9) {
            EXPECT(st.alloc_count == c->alloc && st.free_count == c->freed);
            EXPECT(st.in_use_bytes == c->in_use);
            EXPECT(st.footprint_bytes == c->footprint);
        }
        EXPECT(st.failed_count == (c->failure != CARVE_FAIL_NONE));
        EXPECT(st.last_failure == c->failure);
        EXPECT(st.misuse_count == 0 && st.zero_requests == 0);
        EXPECT(st.realloc_count == c->reallocs);
        if (id % 10 == 7)
            EXPECT(st.largest_failed == cap + 16);
        if (id % 10 == 8)
            EXPECT(st.largest_failed == cap - 64);
        if (id % 10 == 3)
            EXPECT(st.peak_in_use_bytes == 256 &&
                   st.peak_footprint_bytes == 256);
        if (id % 10 == 4) /* the freed tail is where the next block goes */
            EXPECT(o[7] == o[0] + 48);
        if (carve_test_failures != failures)
            fprintf(stderr, "  (realloc scenario %u, work-item %u)\n",
                    (unsigned)(id % 10), (unsigned)id);
    }
    clReleaseMemObject(out);
}

static uint32_t rounded(uint32_t bytes)
{
    return (bytes + 15u) & ~15u;
}

static void test_exhaustion(suite *s)
{
    static const uint32_t table[] = {1,   15,  16,  17,   31,   32,   33,  48,
                                     64,  100, 127, 128,  129,  255,  256, 500,
                                     513, 1000, 1024, 1025, 2047, 2048};
    const uint32_t cap = s->capacity;
    uint32_t sizes[ITEMS], id;
    cl_kernel kernel = suite_kernel(s, "exhaust");
    cl_mem out = dev_buffer(&s->cl, sizeof s->out, NULL), in;
    for (id = 0; id < ITEMS; ++id)
        sizes[id] = id < sizeof table / sizeof table[0] ? table[id]
                                                        : 1 + id * 37 % 700;
    in = dev_buffer(&s->cl, sizeof sizes, sizes);
    dev_arg(kernel, 1, sizeof in, &in);
    dev_arg(kernel, 2, sizeof out, &out);
    suite_launch(s, kernel, out);
    for (id = 0; id < ITEMS; ++id) {
        const uint32_t *o = item_out(s, id);
        uint32_t block = rounded(sizes[id]);
        uint32_t fits = s->plan.arena_bytes / block;
        carve_arena_stats st = dev_stats(s->set, id);
        int failures = carve_test_failures;
        EXPECT(o[0] == fits);
        EXPECT(o[1] == 0); /* carve_free(&a, 0) changed no statistic */
        EXPECT(o[2] == dev_arena_start(&s->plan, id));
        EXPECT(o[3] == o[2] + (fits - 1) * block);
        EXPECT(st.alloc_count == fits && st.live_blocks == fits);
        EXPECT(st.in_use_bytes == (uint64_t)fits * block);
        EXPECT(st.free_count == 0 && st.misuse_count == 0);
        EXPECT(st.failed_count == 1);
        EXPECT(st.last_failure == CARVE_FAIL_OUT_OF_MEMORY);
        EXPECT(st.largest_failed == sizes[id]);
        if (carve_test_failures != failures)
            fprintf(stderr, "  (exhaustion with %u-byte requests)\n",
                    (unsigned)sizes[id]);
    }
    clReleaseMemObject(in);

    kernel = suite_kernel(s, "edges");
    dev_arg(kernel, 1, sizeof out, &out);
    dev_arg(kernel, 2, sizeof cap, &cap);
    suite_launch(s, kernel, out);
    {
        carve_arena_stats st = dev_stats(s->set, 0);
        const uint32_t *o = item_out(s, 0);
        EXPECT(o[0] == 1 && o[1] == dev_arena_start(&s->plan, 0));
        EXPECT(st.failed_count == 1 && st.last_failure == CARVE_FAIL_TOO_LARGE);
        EXPECT(st.largest_failed == cap + 1 && st.in_use_bytes == cap);

        st = dev_stats(s->set, 1); /* malloc(0): NULL, and not a failure */
        EXPECT(item_out(s, 1)[0] == 1);
        EXPECT(st.failed_count == 0 && st.last_failure == CARVE_FAIL_NONE);
        EXPECT(st.zero_requests == 1);
        EXPECT(st.largest_failed == 0 && st.alloc_count == 0);

        st = dev_stats(s->set, 2);
        EXPECT(item_out(s, 2)[0] == 1);
        EXPECT(st.failed_count == 1 && st.last_failure == CARVE_FAIL_TOO_LARGE);
        EXPECT(st.largest_failed == 0xffffffffu);

        st = dev_stats(s->set, 3);
        o = item_out(s, 3);
        EXPECT(o[0] == cap / 64 && o[1] == 3);
        EXPECT(st.failed_count == 4);
        EXPECT(st.last_failure == CARVE_FAIL_OUT_OF_MEMORY);
        EXPECT(st.largest_failed == 64);

        st = dev_stats(s->set, 4);
        o = item_out(s, 4);
        EXPECT(o[0] != 0 && o[1] == 1 && o[2] == 1 && o[3] == 1 && o[4] == 1);
        EXPECT(st.failed_count == 3);
        EXPECT(st.last_failure == CARVE_FAIL_OUT_OF_MEMORY);
        EXPECT(st.largest_failed == cap * 4);
        EXPECT(st.in_use_bytes == cap && st.live_blocks == 2);

        st = dev_stats(s->set, 5);
        o = item_out(s, 5);
        EXPECT(o[0] == dev_arena_start(&s->plan, 5) && o[1] == 1);
        EXPECT(st.failed_count == 1);
        EXPECT(st.last_failure == CARVE_FAIL_OUT_OF_MEMORY);
        for (id = 6; id < ITEMS; ++id) {
            st = dev_stats(s->set, id);
            EXPECT(st.flags == (CARVE_ARENA_OPENED | CARVE_ARENA_CLOSED));
            EXPECT(st.alloc_count == 0 && st.failed_count == 0);
        }
    }
    clReleaseMemObject(out);
}

int main(void)
{
    static suite s;
    size_t global = ITEMS;
    s.cl = carve_test_open_cl();
    s.plan = dev_plan(&s.cl, 1, &global, ARENA_BYTES);
    s.capacity = s.plan.arena_bytes;
    EXPECT(s.plan.arena_granules * CARVE_GRANULE == s.capacity);
    clReleaseKernel(carve_test_kernel(&s.cl, source, "aligned", &s.program));
    s.set = dev_set(&s.cl, &s.plan);

    test_alignment(&s);
    test_calloc(&s);
    test_realloc(&s);
    test_exhaustion(&s);

    carve_set_release(s.set);
    clReleaseProgram(s.program);
    carve_test_close_cl(&s.cl);
    return carve_test_finish("device_semantics");
}
