/*
 * plan.c - planning: the layout it computes, and each of its refusals, with
 * a message that says what did not fit and by how much.
 */
#include "carve_test.h"

static carve_device_limits pocl_like(void)
{
    carve_device_limits l;
    l.max_mem_alloc_size = 1ull << 30;
    l.global_mem_size = 4ull << 30;
    l.base_addr_align = 128;
    return l;
}

static carve_plan_params arenas(uint64_t count, uint64_t bytes)
{
    carve_plan_params p;
    memset(&p, 0, sizeof p);
    p.arena_count = count;
    p.arena_bytes = bytes;
    return p;
}

static carve_plan_params ndrange(cl_uint dims, size_t x, size_t y, size_t z,
                                 uint64_t bytes)
{
    carve_plan_params p = arenas(0, bytes);
    p.work_dim = dims;
    p.global_size[0] = x;
    p.global_size[1] = y;
    p.global_size[2] = z;
    return p;
}

/* Plans `p` against `l`, expects `status`, and that the message contains
 * each of the given fragments (NULL-terminated list). */
static void expect_refusal(carve_plan_params p, carve_device_limits l,
                           carve_status status, const char *fragment1,
                           const char *fragment2)
{
    carve_plan plan;
    EXPECT_STATUS(carve_plan_compute(&p, &l, &plan), status);
    EXPECT(plan.message[0] != '\0');
    if (fragment1 && strstr(plan.message, fragment1) == NULL) {
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", plan.message,
                fragment1);
        ++carve_test_failures;
    }
    if (fragment2 && strstr(plan.message, fragment2) == NULL) {
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", plan.message,
                fragment2);
        ++carve_test_failures;
    }
}

static void test_layout(void)
{
    carve_device_limits l = pocl_like();
    carve_plan_params p = ndrange(3, 10, 20, 30, 1000);
    carve_plan plan;
    REQUIRE_OK(carve_plan_compute(&p, &l, &plan));
    EXPECT(plan.message[0] == '\0');
    EXPECT(plan.arena_count == 6000);
    EXPECT(plan.arena_bytes == 1024); /* rounded up to 128 */
    EXPECT(plan.arena_alignment == 128);
    EXPECT(plan.arena_granules == 64);
    EXPECT(plan.state_offset >= plan.header_bytes);
    EXPECT(plan.state_bytes == (uint64_t)plan.state_stride * 6000);
    EXPECT(plan.state_stride % 16 == 0);
    EXPECT(plan.arenas_offset % 128 == 0);
    EXPECT(plan.arenas_offset >= plan.state_offset + plan.state_bytes);
    EXPECT(plan.arenas_bytes == 6000ull * 1024);
    EXPECT(plan.total_bytes == plan.arenas_offset + plan.arenas_bytes);

    p = arenas(7, 100);
    p.arena_alignment = 16;
    REQUIRE_OK(carve_plan_compute(&p, &l, &plan));
    EXPECT(plan.arena_bytes == 112 && plan.arena_count == 7);
}

/* Parts of a plan with every option: in order, aligned, not overlapping. */
static void test_parts(void)
{
    carve_device_limits l = pocl_like();
    carve_plan_params p = arenas(1000, 512);
    carve_plan plan;
    char table[4096];
    p.options = CARVE_PLAN_CHECKS | CARVE_PLAN_HEAP_FALLBACK;
    p.event_log_records = 5000;
    p.heap_bytes = 1000000; /* rounded up to 245 pages of 4 KiB */
    REQUIRE_OK(carve_plan_compute(&p, &l, &plan));
    EXPECT(plan.error_capacity == 256 && plan.event_capacity == 5000);
    EXPECT(plan.options == (CARVE_OPTION_CHECKS | CARVE_OPTION_HEAP_FALLBACK |
                            CARVE_OPTION_EVENTS));
    EXPECT(plan.heap_pages == 245 && plan.heap_page_bytes == 4096);
    EXPECT(plan.heap_bytes == 245ull * 4096);
    EXPECT(plan.large_bytes == 512 / 4 + 1);
    EXPECT(plan.heap_map_words == 8 && plan.heap_class_count == 14);
    EXPECT(plan.error_offset >= plan.state_offset + plan.state_bytes);
    EXPECT(plan.event_offset >= plan.error_offset + 256 * 32);
    EXPECT(plan.heap_meta_offset >= plan.event_offset + 5000 * 16);
    EXPECT(plan.heap_map_offset >=
           plan.heap_meta_offset + 245ull * plan.heap_meta_stride);
    EXPECT(plan.arenas_offset >= plan.heap_meta_offset + plan.heap_meta_bytes);
    EXPECT(plan.heap_offset >= plan.arenas_offset + plan.arenas_bytes);
    EXPECT(plan.heap_offset % 128 == 0 && plan.arenas_offset % 128 == 0);
    EXPECT(plan.total_bytes == plan.heap_offset + plan.heap_bytes);
    REQUIRE_OK(carve_plan_format(&plan, table, sizeof table, NULL));
    EXPECT(strstr(table, "error log") && strstr(table, "event log") &&
           strstr(table, "heap tables") && strstr(table, "shared heap") &&
           strstr(table, "redzones") &&
           strstr(table, "245 pages of 4.0 KiB"));

    p.large_request_bytes = 100;
    p.heap_page_bytes = 1u << 20;
    REQUIRE_OK(carve_plan_compute(&p, &l, &plan));
    EXPECT(plan.large_bytes == 100 && plan.heap_pages == 1);
}

static void test_refusals(void)
{
    carve_device_limits l = pocl_like();
    carve_plan_params p;
    carve_plan plan;

    EXPECT_STATUS(carve_plan_compute(NULL, &l, &plan),
                  CARVE_ERROR_INVALID_ARGUMENT);
    p = arenas(1, 64);
    EXPECT_STATUS(carve_plan_compute(&p, NULL, &plan),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_plan_compute(&p, &l, NULL),
                  CARVE_ERROR_INVALID_ARGUMENT);

    expect_refusal(ndrange(4, 1, 1, 1, 64), l, CARVE_ERROR_INVALID_NDRANGE,
                   "work_dim is 4", NULL);
    expect_refusal(ndrange(2, 8, 0, 1, 64), l, CARVE_ERROR_INVALID_NDRANGE,
                   "global_size[1] is 0", NULL);
    expect_refusal(arenas(0, 64), l, CARVE_ERROR_INVALID_NDRANGE, "no arenas",
                   NULL);

    expect_refusal(arenas(1, 0), l, CARVE_ERROR_INVALID_ARENA_SIZE,
                   "arena_bytes is 0", NULL);
    expect_refusal(arenas(1, (2ull << 30) + 1), l,
                   CARVE_ERROR_INVALID_ARENA_SIZE, "2147483649", NULL);

    p = arenas(1, 64);
    p.arena_alignment = 48;
    expect_refusal(p, l, CARVE_ERROR_INVALID_ALIGNMENT, "48", NULL);
    p.arena_alignment = 8;
    expect_refusal(p, l, CARVE_ERROR_INVALID_ALIGNMENT, NULL, NULL);
    p.arena_alignment = 8192;
    expect_refusal(p, l, CARVE_ERROR_INVALID_ALIGNMENT, NULL, NULL);

    p = arenas(1, 64);
    p.options = 1u << 7;
    expect_refusal(p, l, CARVE_ERROR_INVALID_OPTION, "unknown bits 0x80",
                   NULL);
    p.options = 0;
    p.event_log_records = (1u << 26) + 1;
    expect_refusal(p, l, CARVE_ERROR_INVALID_OPTION, "67108865 records",
                   NULL);
    p = arenas(1, 64);
    p.options = CARVE_PLAN_HEAP_FALLBACK;
    expect_refusal(p, l, CARVE_ERROR_INVALID_HEAP, "needs a heap", NULL);
    p.heap_bytes = 1u << 20;
    p.heap_page_bytes = 3000;
    expect_refusal(p, l, CARVE_ERROR_INVALID_HEAP, "heap_page_bytes is 3000",
                   NULL);
    p.heap_page_bytes = 1024;
    expect_refusal(p, l, CARVE_ERROR_INVALID_HEAP, "from 2048", NULL);
    p.heap_page_bytes = 2u << 20;
    expect_refusal(p, l, CARVE_ERROR_INVALID_HEAP, NULL, NULL);

    /* An embedded-profile device aligning buffers to 64 bytes. */
    l.base_addr_align = 64;
    expect_refusal(arenas(1, 64), l, CARVE_ERROR_BASE_ALIGNMENT,
                   "only to 64 bytes", "64 bytes short");
    p = arenas(1, 64);
    p.arena_alignment = 64;
    EXPECT_STATUS(carve_plan_compute(&p, &l, &plan), CARVE_SUCCESS);
    p.heap_bytes = 1u << 20; /* heap blocks may ask for 128 */
    expect_refusal(p, l, CARVE_ERROR_BASE_ALIGNMENT, "heap aligns",
                   "64 bytes short");
    l = pocl_like();

    /* A heap beyond the reach of 32-bit offsets. */
    p = arenas(1, 64);
    p.heap_bytes = 5ull << 30;
    l.max_mem_alloc_size = l.global_mem_size = 64ull << 30;
    expect_refusal(p, l, CARVE_ERROR_OFFSET_LIMIT, "32-bit offsets", NULL);
    l = pocl_like();

    expect_refusal(ndrange(3, (size_t)1 << 40, (size_t)1 << 40, 1, 64), l,
                   CARVE_ERROR_SIZE_OVERFLOW, "overflows 64 bits", NULL);
    expect_refusal(arenas(1ull << 62, 1ull << 30), l,
                   CARVE_ERROR_SIZE_OVERFLOW, "overflow", NULL);

    /* 2^20 arenas of 8 KiB: 8 GiB, beyond 32-bit offsets. */
    l.max_mem_alloc_size = l.global_mem_size = 64ull << 30;
    expect_refusal(arenas(1u << 20, 8192), l, CARVE_ERROR_OFFSET_LIMIT,
                   "32-bit offsets", "too much");
    l = pocl_like();

    /* 2 MiB of arenas (+ state) on a device allowing 1 MiB per buffer. */
    l.max_mem_alloc_size = 1u << 20;
    expect_refusal(arenas(2048, 1024), l, CARVE_ERROR_EXCEEDS_MAX_ALLOC,
                   "CL_DEVICE_MAX_MEM_ALLOC_SIZE is 1048576 bytes (1.0 MiB)",
                   "too much");
    l = pocl_like();
    l.global_mem_size = 1u << 20;
    expect_refusal(arenas(2048, 1024), l, CARVE_ERROR_EXCEEDS_GLOBAL_MEM,
                   "CL_DEVICE_GLOBAL_MEM_SIZE is 1048576 bytes", "too much");
}

static void test_refusal_says_how_much(void)
{
    carve_device_limits l = pocl_like();
    carve_plan_params p = arenas(1u << 20, 1024); /* 1 GiB of arenas */
    carve_plan plan;
    char expected[64];
    EXPECT_STATUS(carve_plan_compute(&p, &l, &plan),
                  CARVE_ERROR_EXCEEDS_MAX_ALLOC);
    /* The excess is the whole state table plus the header and padding. */
    snprintf(expected, sizeof expected, "needs %llu bytes",
             (unsigned long long)plan.total_bytes);
    EXPECT(strstr(plan.message, expected) != NULL);
    EXPECT(plan.total_bytes > l.max_mem_alloc_size);
}

/* A plan too big for its device says what would fit, and both answers
 * are exact: they fit, and one step more does not. */
static void test_refusal_says_what_fits(void)
{
    carve_device_limits l = pocl_like();
    carve_plan_params p = arenas(2048, 1024);
    carve_plan plan, fitted;
    unsigned long long most_bytes = 0, most_items = 0;
    const char *at;
    l.max_mem_alloc_size = 1u << 20;
    EXPECT_STATUS(carve_plan_compute(&p, &l, &plan),
                  CARVE_ERROR_EXCEEDS_MAX_ALLOC);
    at = strstr(plan.message, "what fits: arenas of at most ");
    EXPECT(at != NULL);
    if (at == NULL)
        return;
    EXPECT(sscanf(at, "what fits: arenas of at most %llu bytes",
                  &most_bytes) == 1);
    at = strstr(plan.message, ", or at most ");
    EXPECT(at != NULL && sscanf(at, ", or at most %llu", &most_items) == 1);
    p.arena_bytes = most_bytes;
    EXPECT_STATUS(carve_plan_compute(&p, &l, &fitted), CARVE_SUCCESS);
    p.arena_bytes = most_bytes + plan.arena_alignment;
    EXPECT_STATUS(carve_plan_compute(&p, &l, &fitted),
                  CARVE_ERROR_EXCEEDS_MAX_ALLOC);
    p = arenas(most_items, 1024);
    EXPECT_STATUS(carve_plan_compute(&p, &l, &fitted), CARVE_SUCCESS);
    p = arenas(most_items + 1, 1024);
    EXPECT_STATUS(carve_plan_compute(&p, &l, &fitted),
                  CARVE_ERROR_EXCEEDS_MAX_ALLOC);
    /* Nothing fits: the heap alone is larger than the device's buffer. */
    p = arenas(16, 64);
    p.heap_bytes = 4u << 20;
    EXPECT_STATUS(carve_plan_compute(&p, &l, &plan),
                  CARVE_ERROR_EXCEEDS_MAX_ALLOC);
    EXPECT(strstr(plan.message, "no arena fits 16 work-items") != NULL);
}

static void test_format(void)
{
    carve_device_limits l = pocl_like();
    carve_plan_params p = ndrange(2, 64, 16, 0, 300);
    carve_plan plan;
    char table[4096], small[40];
    size_t needed = 0, needed_again = 0;
    FILE *f;
    REQUIRE_OK(carve_plan_compute(&p, &l, &plan));
    REQUIRE_OK(carve_plan_format(&plan, table, sizeof table, &needed));
    EXPECT(needed == strlen(table) + 1);
    EXPECT(strstr(table, "1024 arenas of 384 B") != NULL);
    EXPECT(strstr(table, "64 x 16 NDRange") != NULL);
    EXPECT(strstr(table, "state table") != NULL);
    EXPECT(strstr(table, "total") != NULL);
    EXPECT_STATUS(carve_plan_format(&plan, small, sizeof small, &needed_again),
                  CARVE_ERROR_BUFFER_TOO_SMALL);
    EXPECT(needed_again == needed);
    EXPECT(strlen(small) == sizeof small - 1); /* cut, but terminated */
    EXPECT_STATUS(carve_plan_format(&plan, NULL, 0, &needed_again),
                  CARVE_ERROR_BUFFER_TOO_SMALL);
    EXPECT(needed_again == needed);
    EXPECT_STATUS(carve_plan_format(&plan, NULL, 10, NULL),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_plan_format(NULL, table, sizeof table, NULL),
                  CARVE_ERROR_INVALID_ARGUMENT);
    f = tmpfile();
    if (f != NULL) {
        char printed[4096];
        size_t n;
        REQUIRE_OK(carve_plan_print(&plan, f));
        rewind(f);
        n = fread(printed, 1, sizeof printed - 1, f);
        printed[n] = '\0';
        EXPECT(strcmp(printed, table) == 0);
        fclose(f);
    }
    EXPECT_STATUS(carve_plan_print(&plan, NULL), CARVE_ERROR_INVALID_ARGUMENT);
}

int main(void)
{
    test_layout();
    test_parts();
    test_refusals();
    test_refusal_says_how_much();
    test_refusal_says_what_fits();
    test_format();
    return carve_test_finish("plan");
}
