/*
 * misuse.c - pointers that carve_free, carve_realloc and carve_usable_size
 * must refuse: a double free, interior pointers, another work-item's block,
 * pointers outside the arena or the buffer. Each refusal is recorded
 * (misuse_count, last_misuse), nothing else changes, and the arena keeps
 * its invariants and keeps working. Last, a use-after-free write that
 * damages a free block's header: the allocator must notice, refuse further
 * requests, flag the arena and never write outside it.
 *
 * Launch 1 plants one block in every arena; launch 2 (no reset between)
 * runs scenario id % SCENARIOS in work-item id, with the offsets of the
 * other work-items' planted blocks passed in by the host.
 */
#include "device_support.h"

#define ITEMS 24u
#define ARENA_BYTES 1024u
#define OUT_WORDS 16u
#define SCENARIOS 12u
#define DAMAGED 5u /* the work-item that damages its arena in launch 3 */

#define PLANT_BYTES 48u
#define PLANT_TAG(id) (0x1000u + (id))

static const char *const source = DEV_KERNEL_PRELUDE
    "#define OUT_WORDS 16u\n"
    "kernel void plant(global uchar *carved)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uchar *p = carve_malloc(&a, " DEV_XSTR(PLANT_BYTES) ");\n"
    "    if (p != 0)\n"
    "        dev_fill(p, " DEV_XSTR(PLANT_BYTES) ", " DEV_XSTR(PLANT_TAG(id)) ");\n"
    "    carve_set_root(&a, p);\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    "static global uchar *filled(carve_arena *a, uint n, uint tag)\n"
    "{\n"
    "    global uchar *p = carve_malloc(a, n);\n"
    "    if (p != 0)\n"
    "        dev_fill(p, n, tag);\n"
    "    return p;\n"
    "}\n"
    "kernel void misuse(global uchar *carved, global const uint *victims,\n"
    "                   global uint *elsewhere, global uint *out, uint capacity)\n"
    "{\n"
    "    uint id = carve_flat_global_id(), tag = id * 8u + 1u, keep = 0;\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uint *o = out + id * OUT_WORDS;\n"
    "    /* the state the host reads after the launch, read as it changes */\n"
    "    global const carve_arena_state *state = a.state;\n"
    "    global uchar *p = 0, *b = 0, *t;\n"
    "    switch (id % 12u) {\n"
    "    case 0: /* double free; a live block follows */\n"
    "        p = carve_malloc(&a, 32); b = filled(&a, 32, tag + 1u);\n"
    "        carve_free(&a, p); carve_free(&a, p); p = 0; break;\n"
    "    case 1: /* double free of the top block */\n"
    "        p = carve_malloc(&a, 32);\n"
    "        carve_free(&a, p); carve_free(&a, p); p = 0; break;\n"
    "    case 2: /* inside a block, not on a granule */\n"
    "        p = filled(&a, keep = 64, tag);\n"
    "        carve_free(&a, p + 4); break;\n"
    "    case 3: /* inside a block, on a granule boundary */\n"
    "        p = filled(&a, keep = 64, tag);\n"
    "        carve_free(&a, p + 16); break;\n"
    "    case 4: /* another work-item's live block */\n"
    "        carve_free(&a, carve_pointer(&a, victims[id])); break;\n"
    "    case 5: /* another OpenCL buffer */\n"
    "        carve_free(&a, (global void *)elsewhere); break;\n"
    "    case 6: /* the carved buffer's header */\n"
    "        carve_free(&a, carved); break;\n"
    "    case 7: /* one past the end of this arena (its first block is\n"
    "             * the planted one, left as the root) */\n"
    "        p = filled(&a, keep = 16, tag);\n"
    "        carve_free(&a, carve_pointer(&a, state->root) + capacity); break;\n"
    "    case 8: /* one granule before this arena */\n"
    "        p = filled(&a, keep = 16, tag);\n"
    "        carve_free(&a, carve_pointer(&a, state->root) - 16); break;\n"
    "    case 9: /* realloc of an interior pointer fails, p stays */\n"
    "        p = filled(&a, keep = 64, tag);\n"
    "        o[2] = carve_realloc(&a, p + 4, 128) == 0; break;\n"
    "    case 10: /* the size of a freed block */\n"
    "        p = carve_malloc(&a, 32); b = filled(&a, 32, tag + 1u);\n"
    "        carve_free(&a, p);\n"
    "        o[2] = carve_usable_size(&a, p) == 0; p = 0; break;\n"
    "    default: /* all kinds in a row, each recorded as it happens */\n"
    "        p = filled(&a, keep = 64, tag); b = filled(&a, 32, tag + 1u);\n"
    "        carve_free(&a, p + 4); o[3] = state->last_misuse;\n"
    "        carve_free(&a, p + 16); o[4] = state->last_misuse;\n"
    "        carve_free(&a, carve_pointer(&a, victims[id])); o[5] = state->last_misuse;\n"
    "        carve_free(&a, (global void *)elsewhere); o[6] = state->last_misuse;\n"
    "        t = carve_malloc(&a, 16); carve_free(&a, t); carve_free(&a, t);\n"
    "        o[7] = state->last_misuse;\n"
    "        o[8] = state->misuse_count;\n"
    "        break;\n"
    "    }\n"
    "    /* the arena still works */\n"
    "    t = carve_malloc(&a, 16);\n"
    "    o[0] = t != 0;\n"
    "    carve_free(&a, t);\n"
    "    o[1] = carve_offset(&a, p);\n"
    "    o[9] = keep;\n"
    "    o[10] = carve_offset(&a, b);\n"
    "    o[11] = tag;\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    "kernel void damage(global uchar *carved, global uint *out)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uint *o = out + id * OUT_WORDS;\n"
    "    global uchar *p = carve_malloc(&a, 64);\n"
    "    global uchar *b = carve_malloc(&a, 32);\n"
    "    dev_fill(b, 32, id);\n"
    "    if (id == " DEV_XSTR(DAMAGED) ") {\n"
    "        carve_free(&a, p);\n"
    "        ((global uint *)p)[0] = 0x7fffffffu; /* the free block's size */\n"
    "        o[0] = carve_malloc(&a, 64) == 0;\n"
    "        o[1] = carve_malloc(&a, 16) == 0;\n"
    "        carve_free(&a, b);\n"
    "    }\n"
    "    o[2] = carve_offset(&a, b);\n"
    "    carve_arena_close(&a);\n"
    "}\n";

/* last_misuse after scenario id % SCENARIOS (for the last: after all). */
static const uint32_t expected_misuse[SCENARIOS] = {
    CARVE_MISUSE_FREED,       CARVE_MISUSE_FREED,
    CARVE_MISUSE_INTERIOR,    CARVE_MISUSE_INTERIOR,
    CARVE_MISUSE_OTHER_ARENA, CARVE_MISUSE_FOREIGN,
    CARVE_MISUSE_FOREIGN,     CARVE_MISUSE_OTHER_ARENA,
    CARVE_MISUSE_OTHER_ARENA, CARVE_MISUSE_INTERIOR,
    CARVE_MISUSE_FREED,       CARVE_MISUSE_FREED};

/* Live blocks after the scenario, the planted one included. */
static const uint32_t expected_live[SCENARIOS] = {2, 1, 2, 2, 1, 1,
                                                  1, 2, 2, 2, 2, 3};

static const char *const scenario_name[SCENARIOS] = {
    "double free below a live block", "double free of the top block",
    "free inside a block, misaligned", "free inside a block, on a granule",
    "free of another work-item's block", "free of another buffer",
    "free of the buffer's header", "free past the arena's end",
    "free before the arena's start", "realloc of an interior pointer",
    "usable_size of a freed block", "every kind in a row"};

static int block_intact(const carve_set *set, uint32_t offset, uint32_t bytes,
                        uint32_t tag)
{
    const unsigned char *p =
        carve_layout_pointer(carve_test_image(set), offset, bytes);
    return p != NULL && dev_mismatches(p, bytes, tag) == 0;
}

static void check_plants(const carve_set *set)
{
    uint32_t id;
    for (id = 0; id < ITEMS; ++id) {
        carve_arena_stats st = dev_stats(set, id);
        EXPECT(block_intact(set, st.root, PLANT_BYTES, PLANT_TAG(id)));
    }
}

static void check_scenario(const carve_set *set, uint32_t id,
                           const uint32_t *o)
{
    uint32_t k = id % SCENARIOS;
    carve_arena_stats st = dev_stats(set, id);
    int failures = carve_test_failures;
    EXPECT(st.last_misuse == expected_misuse[k]);
    EXPECT(st.misuse_count == (k == SCENARIOS - 1 ? 5u : 1u));
    EXPECT(st.live_blocks == expected_live[k]);
    EXPECT(st.alloc_count - st.free_count == st.live_blocks);
    EXPECT((st.flags & CARVE_ARENA_CORRUPT) == 0);
    EXPECT(o[0] == 1);
    if (k != 9)
        EXPECT(st.failed_count == 0);
    if (o[9] != 0)
        EXPECT(o[1] != 0 && block_intact(set, o[1], o[9], o[11]));
    if (o[10] != 0)
        EXPECT(block_intact(set, o[10], 32, o[11] + 1));
    if (k == 9 || k == 10)
        EXPECT(o[2] == 1);
    EXPECT(st.realloc_count == 0); /* a refused pointer is no realloc */
    if (k == SCENARIOS - 1) {
        EXPECT(o[3] == CARVE_MISUSE_INTERIOR);
        EXPECT(o[4] == CARVE_MISUSE_INTERIOR);
        EXPECT(o[5] == CARVE_MISUSE_OTHER_ARENA);
        EXPECT(o[6] == CARVE_MISUSE_FOREIGN);
        EXPECT(o[7] == CARVE_MISUSE_FREED);
        EXPECT(o[8] == 5);
    }
    if (carve_test_failures != failures)
        fprintf(stderr, "  (work-item %u: %s; last_misuse %s, count %u)\n",
                (unsigned)id, scenario_name[k],
                carve_misuse_string(st.last_misuse),
                (unsigned)st.misuse_count);
}

static void test_refusals(const carve_test_cl *cl, cl_program program,
                          carve_set *set)
{
    size_t global = ITEMS;
    uint32_t victims[ITEMS], out[ITEMS * OUT_WORDS], id;
    uint32_t capacity = carve_set_plan(set)->arena_bytes;
    cl_int err;
    cl_kernel plant = clCreateKernel(program, "plant", &err);
    cl_kernel misuse;
    cl_mem victims_mem, elsewhere, out_mem;
    REQUIRE_OK(err);
    misuse = clCreateKernel(program, "misuse", &err);
    REQUIRE_OK(err);

    DEV_RUN(set, plant, 1, &global);
    for (id = 0; id < ITEMS; ++id)
        victims[id] = dev_stats(set, (id + 1) % ITEMS).root;
    check_plants(set);

    victims_mem = dev_buffer(cl, sizeof victims, victims);
    elsewhere = dev_buffer(cl, 4096, NULL);
    out_mem = dev_buffer(cl, sizeof out, NULL);
    dev_arg(misuse, 1, sizeof victims_mem, &victims_mem);
    dev_arg(misuse, 2, sizeof elsewhere, &elsewhere);
    dev_arg(misuse, 3, sizeof out_mem, &out_mem);
    dev_arg(misuse, 4, sizeof capacity, &capacity);
    DEV_RUN(set, misuse, 1, &global);
    dev_read(cl, out_mem, sizeof out, out);

    check_plants(set); /* no refused free touched any planted block */
    for (id = 0; id < ITEMS; ++id)
        check_scenario(set, id, out + id * OUT_WORDS);
    {
        carve_summary sum = dev_summary(set);
        EXPECT(sum.misuse_count == ITEMS - ITEMS / SCENARIOS + 5 * (ITEMS / SCENARIOS));
        EXPECT(sum.arenas_corrupt == 0);
    }
    clReleaseMemObject(victims_mem);
    clReleaseMemObject(elsewhere);
    clReleaseMemObject(out_mem);
    clReleaseKernel(plant);
    clReleaseKernel(misuse);
}

static void test_damage(const carve_test_cl *cl, cl_program program,
                        carve_set *set)
{
    size_t global = ITEMS;
    uint32_t out[ITEMS * OUT_WORDS], id, bad = 0, broken = 0;
    cl_int err;
    cl_kernel damage = clCreateKernel(program, "damage", &err);
    cl_mem out_mem = dev_buffer(cl, sizeof out, NULL);
    carve_arena_stats st;
    REQUIRE_OK(err);
    REQUIRE_OK(carve_set_reset(set));
    dev_arg(damage, 1, sizeof out_mem, &out_mem);
    REQUIRE_OK(carve_set_run(set, damage, 0, 1, &global, NULL));
    dev_read(cl, out_mem, sizeof out, out);

    st = dev_stats(set, DAMAGED);
    EXPECT(out[DAMAGED * OUT_WORDS + 0] == 1);
    EXPECT(out[DAMAGED * OUT_WORDS + 1] == 1);
    EXPECT((st.flags & CARVE_ARENA_CORRUPT) != 0);
    EXPECT(st.last_misuse == CARVE_MISUSE_CORRUPT && st.misuse_count == 1);
    EXPECT(st.last_failure == CARVE_FAIL_CORRUPT && st.failed_count == 2);
    EXPECT(st.live_blocks == 1); /* the free of b was refused, not done */
    EXPECT(dev_summary(set).arenas_corrupt == 1);
    EXPECT_STATUS(carve_layout_check(carve_test_image(set), &bad, &broken),
                  CARVE_ERROR_ARENA_INVALID);
    EXPECT(bad == DAMAGED && broken == CARVE_CHECK_CORRUPT_FLAG);
    /* every block, in the damaged arena and around it, is as written */
    for (id = 0; id < ITEMS; ++id) {
        uint32_t b = out[id * OUT_WORDS + 2];
        EXPECT(b != 0 && block_intact(set, b, 32, id));
    }
    clReleaseMemObject(out_mem);
    clReleaseKernel(damage);
}

int main(void)
{
    carve_test_cl cl = carve_test_open_cl();
    size_t global = ITEMS;
    carve_plan plan = dev_plan(&cl, 1, &global, ARENA_BYTES);
    cl_program program;
    carve_set *set;
    clReleaseKernel(carve_test_kernel(&cl, source, "plant", &program));
    set = dev_set(&cl, &plan);

    test_refusals(&cl, program, set);
    test_damage(&cl, program, set);

    carve_set_release(set);
    clReleaseProgram(program);
    carve_test_close_cl(&cl);
    return carve_test_finish("device_misuse");
}
