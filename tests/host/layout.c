/*
 * layout.c - the image functions on plain host memory, and status names.
 */
#include "core_fixture.h"

#include <carve/diagnostics.h>

static void test_status_strings(void)
{
    carve_status s;
    for (s = -7001; s >= -7026; --s) {
        const char *text = carve_status_string(s);
        EXPECT(strncmp(text, "CARVE_ERROR_", 12) == 0);
    }
    EXPECT(strcmp(carve_status_string(-7027), "unknown status") == 0);
    EXPECT(strncmp(carve_status_string(CL_INVALID_KERNEL_ARGS),
                   "CL_INVALID_KERNEL_ARGS", 22) == 0);
    EXPECT(strncmp(carve_status_string(CARVE_SUCCESS), "CARVE_SUCCESS", 13) ==
           0);
    EXPECT(strcmp(carve_failure_string(CARVE_FAIL_OUT_OF_MEMORY),
                  "out of memory") == 0);
    EXPECT(strcmp(carve_failure_string(99), "unknown") == 0);
    EXPECT(strcmp(carve_misuse_string(99), "unknown") == 0);
}

static void test_format_and_validate(void)
{
    core_fixture f = fixture_make(4, 256, 0);
    unsigned char bytes[64];
    size_t size = (size_t)f.plan.total_bytes;
    EXPECT_STATUS(carve_layout_validate(f.image, size), CARVE_SUCCESS);
    EXPECT_STATUS(carve_layout_validate(f.image, size - 1),
                  CARVE_ERROR_CORRUPT_SET);
    EXPECT_STATUS(carve_layout_validate(NULL, size),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_layout_format(f.image, size - 1, &f.plan),
                  CARVE_ERROR_BUFFER_TOO_SMALL);
    EXPECT_STATUS(carve_layout_format(NULL, size, &f.plan),
                  CARVE_ERROR_INVALID_ARGUMENT);
    memset(bytes, 0x5c, sizeof bytes);
    EXPECT_STATUS(carve_layout_validate(bytes, sizeof bytes),
                  CARVE_ERROR_CORRUPT_SET);
    EXPECT_STATUS(carve_layout_reset(bytes), CARVE_ERROR_CORRUPT_SET);
    {
        carve_summary summary;
        carve_arena_stats stats;
        EXPECT_STATUS(carve_layout_summary(bytes, &summary),
                      CARVE_ERROR_CORRUPT_SET);
        EXPECT_STATUS(carve_layout_arena_stats(f.image, 4, &stats),
                      CARVE_ERROR_INDEX_OUT_OF_RANGE);
        EXPECT_STATUS(carve_layout_arena_stats(f.image, 0, NULL),
                      CARVE_ERROR_INVALID_ARGUMENT);
    }
    /* A damaged field behind a good magic is caught too. */
    ((carve_set_header *)f.image)->state_stride += 16;
    EXPECT_STATUS(carve_layout_validate(f.image, size), CARVE_ERROR_CORRUPT_SET);
    fixture_free(&f);
}

static void test_reset_keeps_arena_bytes(void)
{
    core_fixture f = fixture_make(3, 512, 0);
    unsigned char *arenas = f.image + f.plan.arenas_offset;
    unsigned char *copy = malloc((size_t)f.plan.arenas_bytes);
    carve_arena_stats stats;
    uint32_t i;
    for (i = 0; i < 3; ++i) {
        carve_arena a = carve_core_open(f.image, i);
        void *p = carve_malloc(&a, 100 + i);
        memset(p, (int)i + 1, 100 + i);
    }
    memcpy(copy, arenas, (size_t)f.plan.arenas_bytes);
    REQUIRE_OK(carve_layout_reset(f.image));
    EXPECT(memcmp(copy, arenas, (size_t)f.plan.arenas_bytes) == 0);
    REQUIRE_OK(carve_layout_arena_stats(f.image, 2, &stats));
    EXPECT(stats.alloc_count == 0 && stats.flags == 0 &&
           stats.footprint_bytes == 0);
    EXPECT(((carve_set_header *)f.image)->generation == 2);
    free(copy);
    fixture_free(&f);
}

static void test_stats_and_summary(void)
{
    core_fixture f = fixture_make(3, 1024, 0);
    carve_arena a = carve_core_open(f.image, 1);
    carve_arena_stats s;
    carve_summary sum;
    void *p = carve_malloc(&a, 100);
    void *q = carve_malloc(&a, 300);
    carve_free(&a, p);
    carve_malloc(&a, 5000);
    carve_free(&a, (unsigned char *)q + 1);
    carve_core_set_root(&a, q);
    carve_core_close(&a);
    REQUIRE_OK(carve_layout_arena_stats(f.image, 1, &s));
    EXPECT(s.capacity_bytes == 1024);
    EXPECT(s.in_use_bytes == 304 && s.peak_in_use_bytes == 416);
    EXPECT(s.footprint_bytes == 416 && s.peak_footprint_bytes == 416);
    EXPECT(s.live_blocks == 1 && s.alloc_count == 2 && s.free_count == 1);
    EXPECT(s.failed_count == 1 && s.last_failure == CARVE_FAIL_TOO_LARGE);
    EXPECT(s.largest_failed == 5000);
    EXPECT(s.misuse_count == 1 && s.last_misuse == CARVE_MISUSE_INTERIOR);
    EXPECT(s.flags == (CARVE_ARENA_OPENED | CARVE_ARENA_CLOSED));
    EXPECT(carve_layout_pointer(f.image, s.root, 300) == q);
    REQUIRE_OK(carve_layout_summary(f.image, &sum));
    EXPECT(sum.arena_count == 3 && sum.arenas_opened == 1 &&
           sum.arenas_closed == 1 && sum.arenas_with_failures == 1);
    EXPECT(sum.capacity_bytes == 3072 && sum.in_use_bytes == 304);
    EXPECT(sum.max_peak_in_use_bytes == 416 && sum.alloc_count == 2 &&
           sum.failed_count == 1 && sum.misuse_count == 1);
    fixture_free(&f);
}

static void test_check_finds_planted_damage(void)
{
    core_fixture f = fixture_make(5, 1024, 0);
    carve_arena a = carve_core_open(f.image, 3);
    uint32_t bad = 99, broken = 0;
    void *p = carve_malloc(&a, 64);
    carve_malloc(&a, 64);
    carve_free(&a, p);
    EXPECT_STATUS(carve_layout_check(f.image, &bad, &broken), CARVE_SUCCESS);
    /* A stale start bit above bump. */
    carve_core_set_bit(a.start_bits, a.state->bump + 3);
    EXPECT_STATUS(carve_layout_check(f.image, &bad, &broken),
                  CARVE_ERROR_ARENA_INVALID);
    EXPECT(bad == 3 && broken == CARVE_CHECK_STALE_BITS);
    carve_core_clear_bit(a.start_bits, a.state->bump + 3);
    /* A class bit without a list. */
    a.class_bits[0] ^= 1u << 9;
    EXPECT_STATUS(carve_layout_check(f.image, &bad, &broken),
                  CARVE_ERROR_ARENA_INVALID);
    EXPECT(broken == CARVE_CHECK_CLASS_BITS || broken == CARVE_CHECK_FREE_LINKS);
    a.class_bits[0] ^= 1u << 9;
    /* Statistics that disagree with the blocks. */
    a.state->live_granules += 1;
    EXPECT_STATUS(carve_layout_check(f.image, NULL, &broken),
                  CARVE_ERROR_ARENA_INVALID);
    EXPECT(broken == CARVE_CHECK_STATS);
    a.state->live_granules -= 1;
    /* A free block whose header was overwritten. */
    ((uint32_t *)p)[0] = 7;
    EXPECT_STATUS(carve_layout_check(f.image, &bad, &broken),
                  CARVE_ERROR_ARENA_INVALID);
    EXPECT(broken == CARVE_CHECK_TILING);
    fixture_free(&f);
}

static void test_block_lookup(void)
{
    core_fixture f = fixture_make(2, 1024, 0);
    carve_arena a = carve_core_open(f.image, 0);
    carve_arena b = carve_core_open(f.image, 1);
    unsigned char *p = carve_malloc(&a, 100); /* 7 granules */
    unsigned char *gone = carve_malloc(&a, 16);
    unsigned char *q = carve_malloc(&a, 16);
    unsigned char *other = carve_malloc(&b, 16);
    uint32_t off = carve_core_offset(&a, p);
    carve_free(&a, gone);
    EXPECT(carve_layout_block(f.image, 0, off, 100) == p);
    EXPECT(carve_layout_block(f.image, 0, off + 40, 60) == p + 40);
    EXPECT(carve_layout_block(f.image, 0, off + 40, 73) == NULL); /* past */
    EXPECT(carve_layout_block(f.image, 0, off + 100, 12) == p + 100);
    EXPECT(carve_layout_block(f.image, 0, carve_core_offset(&a, gone), 4) ==
           NULL); /* freed */
    EXPECT(carve_layout_block(f.image, 0, carve_core_offset(&a, q), 16) == q);
    EXPECT(carve_layout_block(f.image, 0, carve_core_offset(&a, q) + 16, 1) ==
           NULL); /* above bump */
    EXPECT(carve_layout_block(f.image, 0, 4, 4) == NULL); /* the header */
    EXPECT(carve_layout_block(f.image, 0, f.plan.state_offset, 4) == NULL);
    EXPECT(carve_layout_block(f.image, 0, carve_core_offset(&b, other), 16) ==
           NULL); /* another arena's block */
    EXPECT(carve_layout_block(f.image, 1, carve_core_offset(&b, other), 16) ==
           other);
    EXPECT(carve_layout_block(f.image, 2, off, 1) == NULL);
    EXPECT(carve_layout_block(f.image, 0, off, 0) == NULL);
    fixture_free(&f);
}

int main(void)
{
    test_block_lookup();
    test_status_strings();
    test_format_and_validate();
    test_reset_keeps_arena_bytes();
    test_stats_and_summary();
    test_check_finds_planted_damage();
    return carve_test_finish("layout");
}
