/*
 * core_runs.c - small blocks served from runs (CARVE_PLAN_SMALL_RUNS): slot
 * reuse, alignment by size, refusals, giving runs back, damage found, and
 * the host's walkers, with the full invariant check after each step.
 */
#include "core_fixture.h"

static core_fixture runs_fixture(uint64_t arenas, uint64_t bytes)
{
    carve_plan_params p;
    memset(&p, 0, sizeof p);
    p.arena_count = arenas;
    p.arena_bytes = bytes;
    p.options = CARVE_PLAN_SMALL_RUNS;
    return fixture_make_params(&p);
}

/* The reciprocals find every slot of every class exactly. */
static void test_slot_reciprocals(void)
{
    uint32_t c, i, sz;
    for (c = 0; c < CARVE_RUN_MAX_CLASSES; ++c) {
        sz = carve_core_run_size(c);
        for (i = 0; i * sz < 8192; ++i)
            EXPECT((((i * sz) >> 3) * carve_core_run_recip[c + 2]) >> 16 == i);
    }
    EXPECT(carve_core_run_class(1) == 0 && carve_core_run_class(16) == 0);
    EXPECT(carve_core_run_class(17) == 1 && carve_core_run_size(1) == 24);
    EXPECT(carve_core_run_size(carve_core_run_class(256)) == 256);
}

static void test_slots_and_reuse(void)
{
    core_fixture f = runs_fixture(2, 64 * 1024);
    carve_arena a = fixture_open(&f, 0);
    unsigned char *p[40];
    unsigned char *q;
    uint32_t i;
    EXPECT(a.run_bytes == CARVE_RUN_MAX_BYTES);
    /* 24-byte blocks: 8-aligned, packed 24 bytes apart after the header. */
    for (i = 0; i < 40; ++i) {
        p[i] = carve_malloc(&a, 24);
        EXPECT(p[i] != NULL && ((uintptr_t)p[i] & 7) == 0);
        EXPECT_INVARIANTS(&a);
    }
    EXPECT(p[0] == a.payload + CARVE_GRANULE && p[1] == p[0] + 24);
    EXPECT(carve_usable_size(&a, p[5]) == 24);
    EXPECT(a.state->live_blocks == 40 && a.state->live_granules == 80);
    /* The lowest free slot is the next one handed out. */
    EXPECT(free_refused(&a, p[7]) == CARVE_MISUSE_NONE);
    EXPECT(free_refused(&a, p[3]) == CARVE_MISUSE_NONE);
    q = carve_malloc(&a, 20);
    EXPECT(q == p[3]);
    EXPECT_INVARIANTS(&a);
    /* Asking for 16-byte alignment takes the next class up. */
    q = carve_malloc_aligned(&a, 24, 16);
    EXPECT(q != NULL && ((uintptr_t)q & 15) == 0 &&
           carve_usable_size(&a, q) == 32);
    /* More than 16 comes from granules, aligned from the address. */
    q = carve_malloc_aligned(&a, 24, 64);
    EXPECT(q != NULL && ((uintptr_t)q & 63) == 0 &&
           carve_usable_size(&a, q) == 32);
    EXPECT_INVARIANTS(&a);
    fixture_free(&f);
}

static void test_refusals(void)
{
    core_fixture f = runs_fixture(2, 64 * 1024);
    carve_arena a = fixture_open(&f, 0);
    unsigned char *p = carve_malloc(&a, 40);
    unsigned char *q = carve_malloc(&a, 40);
    EXPECT(p != NULL && q == p + 40);
    EXPECT(free_refused(&a, p + 8) == CARVE_MISUSE_INTERIOR);
    EXPECT(free_refused(&a, p + 80) == CARVE_MISUSE_NOT_LIVE);
    EXPECT(free_refused(&a, p - CARVE_GRANULE) == CARVE_MISUSE_NOT_LIVE);
    EXPECT(free_refused(&a, p) == CARVE_MISUSE_NONE);
    EXPECT(free_refused(&a, p) == CARVE_MISUSE_FREED);
    EXPECT(carve_realloc(&a, p, 10) == NULL);
    EXPECT(a.state->misuse_count == 5 && a.state->live_blocks == 1);
    EXPECT_INVARIANTS(&a);
    fixture_free(&f);
}

/* Runs are given back when their last slot goes, but the head of a class
 * waits for the next request; a request that needs the room takes it. */
static void test_runs_given_back(void)
{
    core_fixture f = runs_fixture(2, 4096);
    carve_arena a = fixture_open(&f, 0);
    unsigned char *p[64];
    unsigned char *big;
    uint32_t i, n = 0, slots = carve_core_run_slots(a.granules, 0);
    EXPECT(slots == 32);
    for (i = 0; i < slots + 1; ++i)
        p[n++] = carve_malloc(&a, 16); /* two runs */
    EXPECT(p[n - 1] != NULL);
    for (i = 0; i < n; ++i) {
        EXPECT(free_refused(&a, p[i]) == CARVE_MISUSE_NONE);
        EXPECT_INVARIANTS(&a);
    }
    /* One empty run waits; the other went back to the arena. */
    EXPECT(a.state->live_granules == 0 && a.state->bump != 0);
    EXPECT(a.state->bump <= carve_core_run_granules(0, slots) * 2);
    /* The whole arena: the waiting run must be given back for it. */
    big = carve_malloc(&a, 4096);
    EXPECT(big == a.payload);
    EXPECT_INVARIANTS(&a);
    EXPECT(free_refused(&a, big) == CARVE_MISUSE_NONE);
    EXPECT(a.state->bump == 0);
    fixture_free(&f);
}

/* Fill to exhaustion: every multiple of 8 from 16 B packs to 95% and more
 * of the blocks that size could fill the arena with (what bench_alloc
 * calls utilisation), in runs up to 256 B and in whole granules above, up
 * to 3440 B. Past that a 64 KiB arena holds under 20 blocks, and the
 * granules' rounding can cost one of them (3448 B: 18 of 19). Sizes that
 * are not multiples of 8 round up to one (17 B: 71%). */
static void test_utilisation(void)
{
    uint32_t size;
    for (size = 16; size <= 3440; size += 8) {
        core_fixture f = runs_fixture(1, 64 * 1024);
        carve_arena a = fixture_open(&f, 0);
        uint32_t blocks = 0;
        while (carve_malloc(&a, size) != NULL)
            ++blocks;
        if (size % 200 == 0)
            EXPECT_INVARIANTS(&a);
        if (blocks * 100ull < 95ull * ((64u * 1024u) / size)) {
            fprintf(stderr, "%u-byte blocks: %u of %u\n", (unsigned)size,
                    (unsigned)blocks, (unsigned)((64u * 1024u) / size));
            ++carve_test_failures;
        }
        fixture_free(&f);
    }
}

/* A damaged run header is found, never followed. */
static void test_damage(void)
{
    core_fixture f = runs_fixture(2, 4096); /* runs of 48 B: 10 slots */
    carve_arena a = fixture_open(&f, 0);
    unsigned char *p = carve_malloc(&a, 48);
    carve_core_report r;
    uint32_t *header = (uint32_t *)(void *)a.payload;
    uint32_t tag = header[0];
    header[0] = tag ^ 0x10000u; /* another class */
    EXPECT(carve_core_check(&a, &r) == CARVE_CHECK_RUN);
    header[0] = tag;
    header[1] = 0xffffffffu; /* slots past the run's free */
    EXPECT(carve_core_check(&a, &r) == CARVE_CHECK_RUN);
    header[0] = tag ^ 0x10000u;
    EXPECT(free_refused(&a, p) == CARVE_MISUSE_CORRUPT);
    EXPECT(a.state->flags & CARVE_ARENA_CORRUPT);
    EXPECT(carve_malloc(&a, 48) == NULL);
    fixture_free(&f);
}

/* A plan with a heap fallback: a request the arena cannot serve goes to
 * the heap even when the arena, trying to make room by giving its empty
 * runs back, finds a run header damaged: the arena is then corrupt, and
 * the heap still serves (the arena is not asked a second time). */
static void test_damage_with_fallback(void)
{
    carve_plan_params p;
    core_fixture f;
    carve_arena a;
    unsigned char *slot, *from_heap;
    int i;
    memset(&p, 0, sizeof p);
    p.arena_count = 1;
    p.arena_bytes = 1024;
    p.heap_bytes = 64 * 1024;
    p.options = CARVE_PLAN_SMALL_RUNS | CARVE_PLAN_HEAP_FALLBACK;
    f = fixture_make_params(&p);
    a = fixture_open(&f, 0);
    slot = carve_malloc(&a, 16); /* a run of 16-byte slots at granule 0 */
    carve_free(&a, slot);        /* empty, it waits at its list's head */
    for (i = 0; i < 3; ++i)      /* nearly all that is left */
        EXPECT(carve_malloc(&a, 250) != NULL);
    ((uint32_t *)(void *)a.payload)[0] = 0; /* the run's tag */
    from_heap = carve_malloc(&a, 250);
    EXPECT(from_heap != NULL);
    EXPECT(from_heap >= f.image + f.plan.heap_offset &&
           from_heap < f.image + f.plan.heap_offset + f.plan.heap_bytes);
    EXPECT(a.state->heap_allocs == 1);
    EXPECT(a.state->failed_count == 0);
    EXPECT(a.state->flags & CARVE_ARENA_CORRUPT);
    fixture_free(&f);
}

/* The one walker visits each live slot; the block accessor finds them. */
static void test_walkers(void)
{
    core_fixture f = runs_fixture(2, 64 * 1024);
    carve_arena a = fixture_open(&f, 0);
    unsigned char *small = carve_malloc(&a, 24);
    unsigned char *gone = carve_malloc(&a, 24);
    unsigned char *kept = carve_malloc(&a, 24);
    unsigned char *plain = carve_malloc(&a, 1000);
    carve_core_walk w = carve_core_walk_start();
    carve_core_block b;
    uint32_t payload = (uint32_t)(a.payload - f.image), seen = 0;
    EXPECT(free_refused(&a, gone) == CARVE_MISUSE_NONE);
    while (carve_core_walk_next(&a, &w, &b)) {
        unsigned char *at = a.payload + carve_core_block_offset(&b);
        EXPECT(at == small || at == kept || at == plain);
        EXPECT(b.bytes == (at == plain ? 1008u : 24u));
        ++seen;
    }
    EXPECT(seen == 3);
    EXPECT(carve_layout_block(f.image, 0, payload + 16, 24) == small);
    EXPECT(carve_layout_block(f.image, 0, payload + 16, 25) == NULL);
    EXPECT(carve_layout_block(f.image, 0, payload + 16 + 24, 8) == NULL);
    EXPECT(carve_layout_block(f.image, 0, payload, 8) == NULL);
    EXPECT(carve_layout_block(f.image, 0, payload + 16 + 48 + 4, 20) ==
           kept + 4);
    fixture_free(&f);
}

int main(void)
{
    test_slot_reciprocals();
    test_slots_and_reuse();
    test_refusals();
    test_runs_given_back();
    test_utilisation();
    test_damage();
    test_damage_with_fallback();
    test_walkers();
    return carve_test_finish("core_runs");
}
