/*
 * pool.c - the host pool allocator (host/pool.h) against a shadow model.
 *
 * A real byte range stands in for the region: every live block is filled
 * with its own tag, so overlap shows as a wrong byte; the full invariant
 * check runs after every operation; a refused request must be one the
 * scheme allows (no free block of a class that guarantees a fit).
 *
 * Usage: host_pool [seed [operations]]
 */
#include "carve_test.h"
#include "pool/pool.h"

typedef struct live {
    uint64_t offset, bytes, align;
    unsigned char tag;
} live;

static carve_test_rng rng;
static unsigned char *range;
static live *lives;
static size_t live_count;

#define CHECK_POOL(pool)                                                      \
    do {                                                                      \
        const char *why_ = carve__pool_check(pool);                           \
        if (why_ != NULL) {                                                   \
            fprintf(stderr, "%s:%d: pool invariant: %s\n", __FILE__,          \
                    __LINE__, why_);                                          \
            ++carve_test_failures;                                            \
        }                                                                     \
    } while (0)

static int intact(const live *l)
{
    uint64_t i;
    for (i = 0; i < l->bytes; ++i)
        if (range[l->offset + i] != l->tag)
            return 0;
    return 1;
}

static void test_basics(void)
{
    carve__pool *p = NULL;
    carve__pool_stats s;
    uint64_t a = 1, b = 1, c = 1, size = 0, requested = 0;
    void **user = NULL;
    EXPECT_STATUS(carve__pool_create(1000, 128, &p),
                  CARVE_ERROR_INVALID_ARGUMENT); /* not a multiple */
    EXPECT_STATUS(carve__pool_create(1024, 100, &p),
                  CARVE_ERROR_INVALID_ARGUMENT); /* not a power of two */
    REQUIRE_OK(carve__pool_create(1 << 20, 128, &p));
    REQUIRE_OK(carve__pool_alloc(p, 1, 0 + 1, &a));
    REQUIRE_OK(carve__pool_alloc(p, 129, 1, &b));
    EXPECT(a == 0 && b == 128);
    REQUIRE_OK(carve__pool_alloc(p, 10, 4096, &c));
    EXPECT(c == 4096); /* the padding before it stays free */
    EXPECT(carve__pool_find(p, b, &size, &requested, &user));
    EXPECT(size == 256 && requested == 129 && user != NULL && *user == NULL);
    EXPECT(!carve__pool_find(p, b + 128, NULL, NULL, NULL));
    /* Any byte of a live block names it; free space and the end none. */
    size = 1;
    EXPECT(carve__pool_find_holding(p, b + 255, &size) && size == b);
    EXPECT(carve__pool_find_holding(p, a, &size) && size == a);
    EXPECT(carve__pool_find_holding(p, c + 9, &size) && size == c);
    size = 7;
    EXPECT(!carve__pool_find_holding(p, b + 256, &size) && size == 7);
    EXPECT(!carve__pool_find_holding(p, 1 << 20, &size) && size == 7);
    EXPECT_STATUS(carve__pool_free(p, b + 128), CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve__pool_free(p, 7), CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve__pool_alloc(p, 0, 1, &a), CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve__pool_alloc(p, 10, 3, &a), CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve__pool_alloc(p, (1 << 20) + 1, 1, &a),
                  CL_MEM_OBJECT_ALLOCATION_FAILURE);
    CHECK_POOL(p);
    REQUIRE_OK(carve__pool_resize(p, b, 1000)); /* grows into free space */
    EXPECT(carve__pool_find(p, b, &size, NULL, NULL) && size == 1024);
    EXPECT_STATUS(carve__pool_resize(p, b, 5000),
                  CL_MEM_OBJECT_ALLOCATION_FAILURE); /* c is in the way */
    REQUIRE_OK(carve__pool_resize(p, b, 100));
    CHECK_POOL(p);
    REQUIRE_OK(carve__pool_free(p, b));
    EXPECT_STATUS(carve__pool_free(p, b), CARVE_ERROR_INVALID_ARGUMENT);
    REQUIRE_OK(carve__pool_free(p, a));
    REQUIRE_OK(carve__pool_free(p, c));
    CHECK_POOL(p);
    carve__pool_get_stats(p, &s);
    EXPECT(s.live_blocks == 0 && s.free_blocks == 1 && s.in_use == 0);
    EXPECT(s.largest_free == 1 << 20 && s.failed_count == 1);
    EXPECT(s.alloc_count == 3 && s.free_count == 3);
    carve__pool_destroy(p);
}

/* Fill with equal blocks: a pool of N units holds exactly N unit blocks. */
static void test_fill(void)
{
    carve__pool *p = NULL;
    uint64_t off, count = 0;
    REQUIRE_OK(carve__pool_create(128 * 1000, 128, &p));
    while (carve__pool_alloc(p, 128, 1, &off) == CARVE_SUCCESS)
        ++count;
    EXPECT(count == 1000);
    CHECK_POOL(p);
    carve__pool_destroy(p);
}

static void add_live(uint64_t offset, uint64_t bytes, uint64_t align)
{
    static unsigned char next_tag;
    live *l = &lives[live_count++];
    l->offset = offset;
    l->bytes = bytes;
    l->align = align;
    l->tag = (unsigned char)(++next_tag | 1);
    memset(range + offset, l->tag, (size_t)bytes);
}

static void random_ops(uint64_t capacity, uint64_t unit, uint64_t operations)
{
    carve__pool *p = NULL;
    carve__pool_stats s;
    uint64_t op, off;
    size_t max_live = (size_t)(capacity / unit) + 1;
    range = malloc((size_t)capacity);
    lives = malloc(max_live * sizeof *lives);
    live_count = 0;
    REQUIRE_OK(carve__pool_create(capacity, unit, &p));
    for (op = 0; op < operations; ++op) {
        uint64_t roll = carve_test_below(&rng, 100);
        if (roll < 50 && live_count < max_live) {
            uint64_t bytes = 1 + carve_test_below(&rng, roll < 40 ? 4 * unit
                                                                  : capacity / 8);
            uint64_t align = roll % 7 == 0 ? unit << carve_test_below(&rng, 6)
                                           : 1;
            carve_status st = carve__pool_alloc(p, bytes, align, &off);
            if (st == CARVE_SUCCESS) {
                EXPECT(off % (align > unit ? align : unit) == 0);
                EXPECT(off + bytes <= capacity);
                add_live(off, bytes, align);
            } else {
                EXPECT(st == CL_MEM_OBJECT_ALLOCATION_FAILURE);
            }
        } else if (roll < 85 && live_count > 0) {
            size_t k = (size_t)carve_test_below(&rng, live_count);
            EXPECT(intact(&lives[k]));
            REQUIRE_OK(carve__pool_free(p, lives[k].offset));
            lives[k] = lives[--live_count];
        } else if (live_count > 0) {
            size_t k = (size_t)carve_test_below(&rng, live_count);
            uint64_t bytes = 1 + carve_test_below(&rng, 8 * unit);
            EXPECT(intact(&lives[k]));
            if (carve__pool_resize(p, lives[k].offset, bytes) == CARVE_SUCCESS) {
                live l = lives[k];
                l.bytes = bytes < l.bytes ? bytes : l.bytes;
                EXPECT(intact(&l));
                lives[k] = lives[--live_count];
                add_live(l.offset, bytes, l.align);
            }
        }
        CHECK_POOL(p);
        if (carve_test_failures) {
            fprintf(stderr, "  (capacity %" PRIu64 ", unit %" PRIu64
                            ", operation %" PRIu64 ")\n",
                    capacity, unit, op);
            break;
        }
    }
    carve__pool_get_stats(p, &s);
    EXPECT(s.live_blocks == live_count);
    while (live_count > 0)
        REQUIRE_OK(carve__pool_free(p, lives[--live_count].offset));
    carve__pool_get_stats(p, &s);
    EXPECT(s.free_blocks == 1 && s.largest_free == capacity);
    CHECK_POOL(p);
    carve__pool_destroy(p);
    free(range);
    free(lives);
}

int main(int argc, char **argv)
{
    uint64_t seed = carve_test_seed(argc, argv, 0x9001ull);
    uint64_t operations = argc > 2 ? strtoull(argv[2], NULL, 0) : 4000;
    printf("pool: seed 0x%" PRIx64 ", %" PRIu64 " operations per config\n",
           seed, operations);
    rng.state = seed ? seed : 1;
    test_basics();
    test_fill();
    random_ops(64 * 1024, 128, operations);
    random_ops(1 << 20, 128, operations);
    random_ops(1 << 22, 4096, operations);
    random_ops(1 << 16, 16, operations);
    return carve_test_finish("pool");
}
