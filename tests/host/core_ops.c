/*
 * core_ops.c - every operation of the allocator core, one behaviour at a
 * time, with the full invariant check after each step. Runs on the host
 * the same code the kernels run.
 */
#include "core_fixture.h"

#define G CARVE_GRANULE

static carve_arena_state *state_of(carve_arena *a) { return a->state; }

static uint32_t granule_of(carve_arena *a, void *p)
{
    return (uint32_t)(((unsigned char *)p - a->payload) / G);
}

static void test_size_classes(void)
{
    uint32_t n, c;
    for (n = 1; n < 200000; ++n) {
        c = carve_core_class_of(n);
        EXPECT(carve_core_class_min(c) <= n);
        EXPECT(n < carve_core_class_min(c + 1));
    }
    for (c = 0; c < 100; ++c)
        EXPECT(carve_core_class_of(carve_core_class_min(c)) == c);
    /* Exact classes for the smallest blocks. */
    EXPECT(carve_core_class_of(1) == 0 && carve_core_class_of(4) == 3);
    EXPECT(carve_core_class_count(CARVE_MAX_ARENA_GRANULES) <= 128);
}

/* carve_core_next_bit (the bitmap search under a block's size, the
 * class bitmap and the refusal scans) against a bit-by-bit search, for
 * every start and limit over bitmaps of 8 words with 0 to 3 bits set at
 * random (so that the set bit lies anywhere from the first word to past
 * the limit, or nowhere). Each search reads a copy holding only the words
 * up to the limit's, so that a read past them is an error under the
 * sanitizer and Valgrind runs. */
static void test_next_bit(void)
{
    uint32_t bits[8], from, limit, k, round, seed = 12345u;
    for (round = 0; round < 200; ++round) {
        memset(bits, 0, sizeof bits);
        for (k = 0; k < round % 4; ++k) {
            seed = seed * 1103515245u + 12345u;
            bits[(seed >> 8) % 8] |= 1u << ((seed >> 20) & 31u);
        }
        /* Every limit on a word boundary and either side of it (the
         * callers' limits, class counts and bump, are often multiples of
         * 32), and a few between. */
        for (limit = 0; limit <= 256;
             limit += (limit & 31u) == 31u || (limit & 31u) == 0u ? 1 : 15) {
            uint32_t words = (limit + 31) / 32;
            uint32_t *copy = malloc(4 * (words ? words : 1));
            REQUIRE_OK(copy != NULL ? CARVE_SUCCESS
                                    : CARVE_ERROR_OUT_OF_HOST_MEMORY);
            memcpy(copy, bits, 4 * words);
            for (from = 0; from <= 256; ++from) {
                uint32_t want = CARVE_NO_CLASS, i;
                for (i = from; i < limit; ++i)
                    if ((bits[i >> 5] >> (i & 31u)) & 1u) {
                        want = i;
                        break;
                    }
                EXPECT(carve_core_next_bit(copy, from, limit) == want);
            }
            free(copy);
        }
    }
}

static void test_malloc_basics(void)
{
    core_fixture f = fixture_make(2, 1024, 0);
    carve_arena a = fixture_open(&f, 0);
    unsigned char *p = carve_malloc(&a, 1);
    unsigned char *q = carve_malloc(&a, 17);
    EXPECT(p == a.payload);
    EXPECT(q == a.payload + G); /* 1 byte takes exactly one granule */
    EXPECT(((uintptr_t)q % 16) == 0);
    EXPECT(state_of(&a)->live_blocks == 2);
    EXPECT(state_of(&a)->live_granules == 3);
    EXPECT(state_of(&a)->alloc_count == 2);
    EXPECT(carve_usable_size(&a, q) == 32);
    EXPECT(state_of(&a)->flags & CARVE_ARENA_OPENED);
    EXPECT_INVARIANTS(&a);
    carve_core_close(&a);
    EXPECT(state_of(&a)->flags & CARVE_ARENA_CLOSED);
    fixture_free(&f);
}

static void test_failures_are_recorded(void)
{
    core_fixture f = fixture_make(1, 256, 0);
    carve_arena a = fixture_open(&f, 0);
    carve_arena_state *s = state_of(&a);
    EXPECT(carve_malloc(&a, 0) == NULL);
    EXPECT(s->failed_count == 0 && s->zero_requests == 1); /* not a failure */
    EXPECT(carve_malloc(&a, 257) == NULL);
    EXPECT(s->last_failure == CARVE_FAIL_TOO_LARGE && s->largest_failed == 257);
    EXPECT(carve_malloc(&a, UINT64_MAX) == NULL);
    EXPECT(s->last_failure == CARVE_FAIL_TOO_LARGE);
    EXPECT(s->largest_failed == UINT32_MAX); /* clamped, not wrapped */
    EXPECT(carve_malloc_aligned(&a, 16, 3) == NULL);
    EXPECT(s->last_failure == CARVE_FAIL_BAD_ALIGNMENT);
    EXPECT(carve_malloc_aligned(&a, 16, 256) == NULL);
    EXPECT(carve_malloc_aligned(&a, 16, 0) == NULL);
    EXPECT(carve_calloc(&a, UINT64_MAX / 2, 3) == NULL);
    EXPECT(s->last_failure == CARVE_FAIL_OVERFLOW);
    EXPECT(s->failed_count == 6);
    EXPECT(s->alloc_count == 0 && s->bump == 0);
    EXPECT_INVARIANTS(&a);
    fixture_free(&f);
}

/* Fill-to-exhaustion: with no per-block header, an arena of B bytes holds
 * exactly B / 16 blocks of 16 bytes. */
static void test_exhaustion_uses_every_byte(void)
{
    core_fixture f = fixture_make(1, 4096, 0);
    carve_arena a = fixture_open(&f, 0);
    uint32_t count = 0;
    while (carve_malloc(&a, 16) != NULL)
        ++count;
    EXPECT(count == 4096 / 16);
    EXPECT(state_of(&a)->last_failure == CARVE_FAIL_OUT_OF_MEMORY);
    EXPECT(state_of(&a)->failed_count == 1);
    EXPECT_INVARIANTS(&a);
    fixture_free(&f);
}

static void test_free_returns_everything(void)
{
    enum { N = 40 };
    core_fixture f = fixture_make(1, 4096, 0);
    carve_arena a = fixture_open(&f, 0);
    void *blocks[N];
    /* An order that frees from the middle, both ends, and neighbours. */
    static const int order[N] = {5,  6,  7,  0,  39, 20, 21, 19, 1,  2,
                                 3,  4,  38, 37, 10, 12, 11, 30, 31, 29,
                                 8,  9,  13, 14, 15, 16, 17, 18, 22, 23,
                                 24, 25, 26, 27, 28, 32, 33, 34, 35, 36};
    int i;
    for (i = 0; i < N; ++i) {
        blocks[i] = carve_malloc(&a, 16 + 16 * (uint64_t)(i % 5));
        EXPECT(blocks[i] != NULL);
    }
    for (i = 0; i < N; ++i) {
        carve_free(&a, blocks[order[i]]);
        EXPECT_INVARIANTS(&a);
    }
    EXPECT(state_of(&a)->bump == 0); /* everything merged back */
    EXPECT(state_of(&a)->live_granules == 0 && state_of(&a)->live_blocks == 0);
    EXPECT(state_of(&a)->free_count == N);
    EXPECT(state_of(&a)->live_peak > 0 && state_of(&a)->bump_peak > 0);
    fixture_free(&f);
}

static void test_coalescing_and_reuse(void)
{
    core_fixture f = fixture_make(1, 1024, 0);
    carve_arena a = fixture_open(&f, 0);
    carve_core_report r;
    unsigned char *p[5];
    int i;
    for (i = 0; i < 5; ++i)
        p[i] = carve_malloc(&a, 32);
    carve_free(&a, p[1]);
    carve_free(&a, p[3]);
    carve_core_check(&a, &r);
    EXPECT(r.broken == 0 && r.free_blocks == 2 && r.free_granules == 4);
    carve_free(&a, p[2]); /* joins both neighbours into one block */
    carve_core_check(&a, &r);
    EXPECT(r.broken == 0 && r.free_blocks == 1 && r.free_granules == 6);
    /* The exact size comes back from the free block, first fit at its start. */
    EXPECT(carve_malloc(&a, 96) == p[1]);
    carve_core_check(&a, &r);
    EXPECT(r.broken == 0 && r.free_blocks == 0);
    /* Freeing the top block returns it to the wilderness. */
    carve_free(&a, p[4]);
    EXPECT(state_of(&a)->bump == granule_of(&a, p[4]));
    EXPECT_INVARIANTS(&a);
    fixture_free(&f);
}

static void test_free_null_and_misuse(void)
{
    core_fixture f = fixture_make(2, 1024, 0);
    carve_arena a = fixture_open(&f, 0);
    carve_arena b = fixture_open(&f, 1);
    carve_arena_state *s = state_of(&a);
    unsigned char *p = carve_malloc(&a, 64);
    unsigned char *other = carve_malloc(&b, 16);
    carve_arena_state before = *s;
    carve_free(&a, NULL);
    EXPECT(memcmp(&before, s, sizeof before) == 0);
    carve_free(&a, p + 4);
    EXPECT(s->misuse_count == 1 && s->last_misuse == CARVE_MISUSE_INTERIOR);
    carve_free(&a, p + 16); /* a granule inside the block */
    EXPECT(s->last_misuse == CARVE_MISUSE_INTERIOR);
    carve_free(&a, other); /* another work-item's block */
    EXPECT(s->last_misuse == CARVE_MISUSE_OTHER_ARENA);
    carve_free(&a, a.payload - 16); /* the state table or padding */
    EXPECT(s->last_misuse == CARVE_MISUSE_FOREIGN);
    carve_free(&a, p + 256); /* never handed out */
    EXPECT(s->last_misuse == CARVE_MISUSE_NOT_LIVE);
    carve_free(&a, p);
    EXPECT(free_refused(&a, p) == CARVE_MISUSE_FREED); /* double free */
    EXPECT(s->last_misuse == CARVE_MISUSE_FREED);
    EXPECT(s->misuse_count == 6 && s->free_count == 1);
    EXPECT(carve_realloc(&a, p, 32) == NULL);
    EXPECT(s->misuse_count == 7);
    EXPECT(state_of(&b)->live_blocks == 1); /* b untouched */
    EXPECT_INVARIANTS(&a);
    EXPECT_INVARIANTS(&b);
    fixture_free(&f);
}

static void test_alignment(void)
{
    core_fixture f = fixture_make(1, 8192, 0);
    carve_arena a = fixture_open(&f, 0);
    uint32_t align;
    unsigned char *small = carve_malloc(&a, 16);
    EXPECT(small != NULL);
    for (align = 16; align <= CARVE_MAX_ALIGN; align *= 2) {
        unsigned char *p = carve_malloc_aligned(&a, 40, align);
        EXPECT(p != NULL && ((uintptr_t)p % align) == 0);
        EXPECT_INVARIANTS(&a);
    }
    /* Padding became free blocks; freeing the small block must merge. */
    carve_free(&a, small);
    EXPECT_INVARIANTS(&a);
    fixture_free(&f);
}

static void test_calloc_zeroes(void)
{
    core_fixture f = fixture_make(1, 1024, 0);
    carve_arena a = fixture_open(&f, 0);
    unsigned char *p = carve_calloc(&a, 10, 7); /* 70 -> 80 bytes */
    int i, dirty = 0;
    EXPECT(p != NULL);
    for (i = 0; i < 80; ++i) /* the whole granules, over 0xA5 garbage */
        dirty |= p[i];
    EXPECT(dirty == 0);
    EXPECT(carve_calloc(&a, 0, 5) == NULL);
    EXPECT(state_of(&a)->zero_requests == 1 && state_of(&a)->failed_count == 0);
    EXPECT_INVARIANTS(&a);
    fixture_free(&f);
}

static void fill(unsigned char *p, size_t n, unsigned char tag)
{
    memset(p, tag, n);
}

static void test_realloc(void)
{
    core_fixture f = fixture_make(1, 2048, 0);
    carve_arena a = fixture_open(&f, 0);
    carve_arena_state *s = state_of(&a);
    unsigned char *p, *q, *blocker, *moved;
    p = carve_realloc(&a, NULL, 32); /* realloc(NULL) allocates */
    EXPECT(p != NULL && s->alloc_count == 1);
    fill(p, 32, 0x11);
    q = carve_realloc(&a, p, 100); /* top block: grows in place */
    EXPECT(q == p && carve_test_holds(q, 32, 0x11));
    EXPECT(carve_usable_size(&a, q) == 112);
    EXPECT_INVARIANTS(&a);
    q = carve_realloc(&a, q, 20); /* shrink keeps the head */
    EXPECT(q == p && carve_test_holds(q, 20, 0x11) && s->bump == 2);
    EXPECT_INVARIANTS(&a);
    blocker = carve_malloc(&a, 16);
    fill(blocker, 16, 0x22);
    moved = carve_realloc(&a, q, 200); /* blocked: must move */
    EXPECT(moved != NULL && moved != q && carve_test_holds(moved, 20, 0x11));
    EXPECT(carve_test_holds(blocker, 16, 0x22));
    EXPECT_INVARIANTS(&a);
    /* The move freed q's two granules before `blocker`; a 16-byte block
     * reuses the first of them. */
    p = carve_malloc(&a, 16);
    EXPECT(p == q);
    fill(p, 16, 0x33);
    EXPECT(carve_realloc(&a, p, 10000) == NULL); /* too big */
    EXPECT(s->last_failure == CARVE_FAIL_TOO_LARGE && carve_test_holds(p, 16, 0x33));
    EXPECT(carve_realloc(&a, p, 2000) == NULL); /* no room */
    EXPECT(s->last_failure == CARVE_FAIL_OUT_OF_MEMORY && carve_test_holds(p, 16, 0x33));
    carve_free(&a, blocker); /* the granule after p... */
    EXPECT_INVARIANTS(&a);
    q = carve_realloc(&a, p, 32); /* ...lets p grow in place */
    EXPECT(q == p && carve_test_holds(q, 16, 0x33));
    EXPECT_INVARIANTS(&a);
    EXPECT(carve_realloc(&a, q, 0) == NULL); /* frees */
    EXPECT(s->live_blocks == 1); /* only `moved` is left */
    EXPECT(s->realloc_count == 7); /* NULL-realloc is a malloc; misuse not */
    EXPECT_INVARIANTS(&a);
    fixture_free(&f);
}

/* A use-after-free that overwrites a free block's links: the arena must
 * notice, refuse further requests, and never write outside itself. */
static void test_corruption_is_contained(void)
{
    core_fixture f = fixture_make(2, 1024, 0);
    carve_arena a = fixture_open(&f, 0);
    carve_arena b = fixture_open(&f, 1);
    unsigned char *p, *q, *r;
    unsigned char *neighbour = b.payload;
    unsigned char snapshot[1024];
    memcpy(snapshot, neighbour, sizeof snapshot);
    p = carve_malloc(&a, 64);
    q = carve_malloc(&a, 64);
    r = carve_malloc(&a, 64);
    (void)r;
    carve_free(&a, q);
    memset(q, 0x7f, 64); /* use after free: header and footer destroyed */
    EXPECT(carve_malloc(&a, 64) == NULL);
    EXPECT(state_of(&a)->last_failure == CARVE_FAIL_CORRUPT);
    EXPECT(state_of(&a)->flags & CARVE_ARENA_CORRUPT);
    /* Refused quietly: the arena is quarantined. Logged, but no refusal
     * is counted, so misuse_site stays what the last counted one left. */
    {
        uint32_t misuses = state_of(&a)->misuse_count;
        uint32_t site = state_of(&a)->misuse_site;
        carve_free(&a, p);
        EXPECT(state_of(&a)->misuse_count == misuses);
        EXPECT(state_of(&a)->misuse_site == site);
    }
    EXPECT(carve_malloc(&a, 16) == NULL);
    EXPECT(memcmp(snapshot, neighbour, sizeof snapshot) == 0);
    {
        carve_core_report rep;
        EXPECT(carve_core_check(&a, &rep) == CARVE_CHECK_CORRUPT_FLAG);
    }
    fixture_free(&f);
}

static void test_bad_open(void)
{
    core_fixture f = fixture_make(3, 256, 0);
    carve_arena bad = carve_core_open(f.image, 3);
    carve_summary summary;
    EXPECT(bad.state == NULL);
    EXPECT(carve_malloc(&bad, 16) == NULL);
    carve_free(&bad, f.image + f.plan.arenas_offset); /* no effect */
    REQUIRE_OK(carve_layout_summary(f.image, &summary));
    EXPECT(summary.open_failures == 1);
    EXPECT(summary.arenas_opened == 0);
    bad = carve_core_open(NULL, 0);
    EXPECT(bad.state == NULL && carve_malloc(&bad, 1) == NULL);
    fixture_free(&f);
}

static void test_offsets(void)
{
    core_fixture f = fixture_make(2, 512, 0);
    carve_arena a = fixture_open(&f, 1);
    unsigned char *p = carve_malloc(&a, 48);
    uint32_t off = carve_core_offset(&a, p);
    EXPECT(off == f.plan.arenas_offset + f.plan.arena_bytes);
    EXPECT(carve_core_pointer(&a, off) == p);
    EXPECT(carve_core_offset(&a, NULL) == 0 && carve_core_pointer(&a, 0) == NULL);
    EXPECT(carve_layout_pointer(f.image, off, 48) == p);
    EXPECT(carve_layout_pointer(f.image, off, f.plan.total_bytes) == NULL);
    fixture_free(&f);
}

int main(void)
{
    test_next_bit();
    test_size_classes();
    test_malloc_basics();
    test_failures_are_recorded();
    test_exhaustion_uses_every_byte();
    test_free_returns_everything();
    test_coalescing_and_reuse();
    test_free_null_and_misuse();
    test_alignment();
    test_calloc_zeroes();
    test_realloc();
    test_corruption_is_contained();
    test_bad_open();
    test_offsets();
    return carve_test_finish("core_ops");
}
