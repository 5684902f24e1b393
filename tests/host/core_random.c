/*
 * core_random.c - random operation sequences against a shadow model.
 *
 * Each live block is filled with its own tag, so any overlap or stray write
 * shows up as a wrong byte; the invariant check runs after every operation;
 * every NULL from the allocator must be justified by the documented
 * guarantee (no free block or wilderness that the scheme promises to use).
 *
 * Usage: carve_test_core_random [seed [operations-per-config]]
 * The seed is printed; rerun with it to reproduce a failure.
 */
#include "core_fixture.h"

typedef struct shadow_block {
    unsigned char *p;
    uint64_t bytes;
    uint32_t align;
    unsigned char tag;
} shadow_block;

typedef struct shadow {
    shadow_block *blocks;
    size_t count;
    size_t capacity;
    unsigned char next_tag;
} shadow;

typedef struct config {
    uint32_t arena_bytes;
    uint32_t max_request; /* requests are skewed towards small sizes */
} config;

static carve_test_rng rng;

static void shadow_add(shadow *s, unsigned char *p, uint64_t bytes,
                       uint32_t align)
{
    shadow_block *b;
    if (s->count == s->capacity) {
        s->capacity = s->capacity ? 2 * s->capacity : 64;
        s->blocks = realloc(s->blocks, s->capacity * sizeof *s->blocks);
        if (s->blocks == NULL)
            exit(1);
    }
    b = &s->blocks[s->count++];
    b->p = p;
    b->bytes = bytes;
    b->align = align;
    b->tag = (unsigned char)(++s->next_tag | 1); /* never 0: calloc shows */
    memset(p, b->tag, (size_t)bytes);
}

static void shadow_remove(shadow *s, size_t i)
{
    s->blocks[i] = s->blocks[--s->count];
}

static int block_intact(const shadow_block *b)
{
    uint64_t i;
    for (i = 0; i < b->bytes; ++i)
        if (b->p[i] != b->tag)
            return 0;
    return 1;
}

static uint64_t random_size(const config *c)
{
    /* Mostly small, sometimes up to the maximum, rarely zero. */
    uint64_t roll = carve_test_below(&rng, 100);
    if (roll == 0)
        return 0;
    if (roll < 70)
        return 1 + carve_test_below(&rng, 64);
    if (roll < 95)
        return 1 + carve_test_below(&rng, 512);
    return 1 + carve_test_below(&rng, c->max_request);
}

static uint32_t granules_for(uint64_t bytes)
{
    return (uint32_t)((bytes + CARVE_GRANULE - 1) / CARVE_GRANULE);
}

/* A NULL for a request of `bytes` at `align` must be one the scheme allows:
 * too large, or no free block of a class that guarantees a fit and too
 * little wilderness. */
static void expect_justified_null(carve_arena *a, uint64_t bytes,
                                  uint32_t align)
{
    carve_core_report r;
    uint32_t n = granules_for(bytes), ag = align / CARVE_GRANULE;
    uint32_t need = n + (ag ? ag : 1) - 1;
    uint32_t wilderness = a->granules - a->state->bump;
    uint32_t why = a->state->last_failure;
    carve_core_check(a, &r);
    if (bytes == 0) /* NULL for 0 bytes is no failure */
        return;
    if (n > a->granules) {
        EXPECT(why == CARVE_FAIL_TOO_LARGE);
        return;
    }
    EXPECT(why == CARVE_FAIL_OUT_OF_MEMORY);
    EXPECT(wilderness < need);
    /* largest_free counts the wilderness too; every free block below it
     * must be of a class the search may skip. */
    if (r.largest_free != wilderness && need <= a->granules)
        EXPECT(r.largest_free <
               carve_core_class_min(carve_core_class_of(need) + 1));
}

static void do_malloc(carve_arena *a, shadow *s, const config *c)
{
    uint64_t bytes = random_size(c);
    uint32_t align = 16;
    unsigned char *p;
    if (carve_test_below(&rng, 8) == 0)
        align = 16u << carve_test_below(&rng, 4); /* 16..128 */
    p = carve_malloc_aligned(a, bytes, align);
    if (p == NULL) {
        expect_justified_null(a, bytes, align);
        return;
    }
    EXPECT(((uintptr_t)p % align) == 0);
    shadow_add(s, p, bytes, align);
}

static void do_calloc(carve_arena *a, shadow *s, const config *c)
{
    uint64_t count = 1 + carve_test_below(&rng, 8);
    uint64_t size = 1 + carve_test_below(&rng, c->max_request / 8 + 1);
    unsigned char *p = carve_calloc(a, count, size);
    uint64_t i;
    if (p == NULL) {
        expect_justified_null(a, count * size, 16);
        return;
    }
    for (i = 0; i < count * size; ++i)
        if (p[i] != 0) {
            EXPECT(p[i] == 0);
            break;
        }
    shadow_add(s, p, count * size, 16);
}

static void do_free(carve_arena *a, shadow *s)
{
    size_t i;
    if (s->count == 0)
        return;
    i = (size_t)carve_test_below(&rng, s->count);
    EXPECT(block_intact(&s->blocks[i]));
    carve_free(a, s->blocks[i].p);
    shadow_remove(s, i);
}

static void do_realloc(carve_arena *a, shadow *s, const config *c)
{
    size_t i;
    shadow_block old;
    uint64_t bytes, keep;
    unsigned char *p;
    if (s->count == 0)
        return;
    i = (size_t)carve_test_below(&rng, s->count);
    old = s->blocks[i];
    bytes = random_size(c);
    p = carve_realloc(a, old.p, bytes);
    if (bytes == 0) { /* realloc(p, 0) frees */
        EXPECT(p == NULL);
        shadow_remove(s, i);
        return;
    }
    if (p == NULL) { /* failed: the old block must be untouched */
        EXPECT(block_intact(&old));
        expect_justified_null(a, bytes, 16);
        return;
    }
    keep = old.bytes < bytes ? old.bytes : bytes;
    {
        shadow_block moved = old;
        moved.p = p;
        moved.bytes = keep;
        EXPECT(block_intact(&moved));
    }
    shadow_remove(s, i);
    shadow_add(s, p, bytes, 16);
}

static void expect_shadow_matches(carve_arena *a, const shadow *s)
{
    uint64_t granules = 0;
    size_t i;
    for (i = 0; i < s->count; ++i) {
        granules += (carve_usable_size(a, s->blocks[i].p) +
                     CARVE_GRANULE - 1) / CARVE_GRANULE;
        EXPECT(carve_usable_size(a, s->blocks[i].p) >= s->blocks[i].bytes);
    }
    EXPECT(a->state->live_blocks == s->count);
    EXPECT(a->state->live_granules == granules);
}

/* Runs in the arena now. */
static uint64_t count_runs(const carve_arena *a)
{
    uint32_t g, n;
    uint64_t runs = 0;
    int kind = 0;
    for (g = 0; g < a->state->bump; g += n) {
        n = carve_core_block_at(a, g, &kind);
        if (n == 0)
            break;
        runs += kind == CARVE_BLOCK_RUN;
    }
    return runs;
}

static void run_config(const config *c, uint64_t operations, uint32_t options)
{
    carve_plan_params params;
    core_fixture f;
    carve_arena a;
    shadow s;
    uint64_t op;
    size_t i;
    int failures_before = carve_test_failures;
    uint64_t runs_seen = 0;
    memset(&params, 0, sizeof params);
    params.arena_count = 2;
    params.arena_bytes = c->arena_bytes;
    params.options = options;
    f = fixture_make_params(&params);
    a = fixture_open(&f, 0);
    memset(&s, 0, sizeof s);
    for (op = 0; op < operations && carve_test_failures == failures_before;
         ++op) {
        uint64_t roll = carve_test_below(&rng, 100);
        if (roll < 45)
            do_malloc(&a, &s, c);
        else if (roll < 50)
            do_calloc(&a, &s, c);
        else if (roll < 85)
            do_free(&a, &s);
        else
            do_realloc(&a, &s, c);
        EXPECT_INVARIANTS(&a);
        if (op % 64 == 0) {
            for (i = 0; i < s.count; ++i)
                EXPECT(block_intact(&s.blocks[i]));
            expect_shadow_matches(&a, &s);
            runs_seen += count_runs(&a);
        }
    }
    /* With runs on, small requests must have been served from them. */
    EXPECT((options & CARVE_PLAN_SMALL_RUNS) == 0 || a.run_classes == 0 ||
           runs_seen > 0);
    if (carve_test_failures != failures_before)
        fprintf(stderr,
                "  (config %u bytes, options %#x, failed at operation %" PRIu64
                ")\n",
                c->arena_bytes, (unsigned)options, op);
    /* Free everything: the arena must return to empty. */
    while (s.count > 0) {
        carve_free(&a, s.blocks[s.count - 1].p);
        --s.count;
    }
    /* Empty runs may wait at the heads of their lists; once they are
     * given back, nothing is left. */
    EXPECT(a.state->live_blocks == 0 && a.state->live_granules == 0);
    EXPECT_INVARIANTS(&a);
    carve_core_run_reclaim(&a);
    EXPECT(a.state->bump == 0);
    EXPECT(a.state->misuse_count == 0);
    EXPECT_INVARIANTS(&a);
    free(s.blocks);
    fixture_free(&f);
}

int main(int argc, char **argv)
{
    static const config configs[] = {
        {128, 64},      {256, 300},      {1024, 1024},
        {4096, 2048},   {65536, 16384},  {1u << 20, 1u << 18},
        {4096, 300},    {65536, 256},
    };
    uint64_t seed = carve_test_seed(argc, argv, 0x5eed0fca7e5ull);
    uint64_t operations = argc > 2 ? strtoull(argv[2], NULL, 0) : 20000;
    size_t i;
    printf("core_random: seed 0x%" PRIx64 ", %" PRIu64
           " operations per config\n",
           seed, operations);
    rng.state = seed ? seed : 1;
    /* Every config with the granule allocator alone, then with runs. */
    for (i = 0; i < sizeof configs / sizeof configs[0]; ++i) {
        run_config(&configs[i], operations, 0);
        run_config(&configs[i], operations, CARVE_PLAN_SMALL_RUNS);
    }
    return carve_test_finish("core_random");
}
