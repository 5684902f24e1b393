/*
 * bad_input.c - every public function that needs no OpenCL device, called
 * with bad input: NULL pointers, zero and SIZE_MAX sizes, overflowing
 * counts, plans carve refused, offsets and ranges outside an image, images
 * with a damaged header (one table of fields), random bytes, and random
 * damage to the header and to everything behind it. Each call must give
 * its documented status and change nothing it must not; none may crash or
 * read outside the memory it was given (run it under ASan to see that).
 *
 * The checked cases are docs/bad-input.md's tables (see
 * bad_input_table.h): the test fails if the file disagrees.
 *
 * Usage: host_bad_input [docs/bad-input.md | --markdown | -] [seed]
 */
#define _POSIX_C_SOURCE 200809L /* fork, pipe, setenv, open_memstream */
#include "bad_input_images.h"
#include "bad_input_table.h"

#include <carve/split.h>
#include <carve/ti_sdk.h>

#include <limits.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

#define FUZZ_IMAGES 10000
#define UNCHANGED "nothing written"
#define MISALIGNED "`mem` not 4-byte aligned (an image copied to `buf + 1`)"

/* ---- status strings ------------------------------------------------------- */

static void test_strings(void)
{
    static const carve_status unknown[] = {1, -7000, -7027, INT_MIN, INT_MAX};
    size_t i;
    bad_section("Names of codes");
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; ++i)
        BAD_TEXT("a code neither carve nor OpenCL defines (1, -7000, -7027, "
                 "INT_MIN, INT_MAX)",
                 "unknown status", "never NULL",
                 carve_status_string(unknown[i]));
    BAD_TEXT("`CARVE_FAIL_CONTENTION + 1`, `UINT32_MAX`", "unknown",
             "never NULL", carve_failure_string(CARVE_FAIL_CONTENTION + 1));
    BAD_TEXT("`CARVE_FAIL_CONTENTION + 1`, `UINT32_MAX`", "unknown",
             "never NULL", carve_failure_string(UINT32_MAX));
    BAD_TEXT("`CARVE_MISUSE_KINDS`, `UINT32_MAX`", "unknown", "never NULL",
             carve_misuse_string(CARVE_MISUSE_KINDS));
    BAD_TEXT("`CARVE_MISUSE_KINDS`, `UINT32_MAX`", "unknown", "never NULL",
             carve_misuse_string(UINT32_MAX));
    BAD_TEXT("a value outside the enum (6, -1)", "unknown", "never NULL",
             carve_backend_name((carve_backend)6));
    BAD_TEXT("a value outside the enum (6, -1)", "unknown", "never NULL",
             carve_backend_name((carve_backend)-1));
}

/* ---- planning -------------------------------------------------------------- */

#define GOOD_LIMITS                                                           \
    {.max_mem_alloc_size = 1ull << 32, .global_mem_size = 1ull << 33,         \
     .base_addr_align = 4096}

typedef struct plan_case {
    const char *input;
    carve_status expected;
    carve_plan_params params;
    carve_device_limits limits;
} plan_case;

/* Each row is the whole input: one fault in otherwise good values. */
static const plan_case plan_cases[] = {
    {"`work_dim` 4", CARVE_ERROR_INVALID_NDRANGE,
     {.work_dim = 4, .global_size = {1, 1, 1}, .arena_bytes = 1024},
     GOOD_LIMITS},
    {"`work_dim` `UINT32_MAX`", CARVE_ERROR_INVALID_NDRANGE,
     {.work_dim = UINT32_MAX, .global_size = {1, 1, 1}, .arena_bytes = 1024},
     GOOD_LIMITS},
    {"`work_dim` 0 and `arena_count` 0", CARVE_ERROR_INVALID_NDRANGE,
     {.arena_bytes = 1024}, GOOD_LIMITS},
    {"`global_size[2]` 0", CARVE_ERROR_INVALID_NDRANGE,
     {.work_dim = 3, .global_size = {4, 4, 0}, .arena_bytes = 1024},
     GOOD_LIMITS},
    {"`global_size` `SIZE_MAX` in 3 dimensions: the count overflows",
     CARVE_ERROR_SIZE_OVERFLOW,
     {.work_dim = 3, .global_size = {SIZE_MAX, SIZE_MAX, SIZE_MAX},
      .arena_bytes = 16},
     GOOD_LIMITS},
    {"`arena_count` `UINT64_MAX`: count * bytes overflows",
     CARVE_ERROR_SIZE_OVERFLOW,
     {.arena_count = UINT64_MAX, .arena_bytes = 16}, GOOD_LIMITS},
    {"`arena_count` 2^32 of 16 bytes: past 32-bit offsets",
     CARVE_ERROR_OFFSET_LIMIT,
     {.arena_count = 1ull << 32, .arena_bytes = 16}, GOOD_LIMITS},
    {"`arena_bytes` 0", CARVE_ERROR_INVALID_ARENA_SIZE,
     {.arena_count = 4}, GOOD_LIMITS},
    {"`arena_bytes` 2 GiB + 1", CARVE_ERROR_INVALID_ARENA_SIZE,
     {.arena_count = 4, .arena_bytes = (1ull << 31) + 1}, GOOD_LIMITS},
    {"`arena_bytes` `UINT64_MAX`", CARVE_ERROR_INVALID_ARENA_SIZE,
     {.arena_count = 4, .arena_bytes = UINT64_MAX}, GOOD_LIMITS},
    {"`arena_alignment` 48 (not a power of two)", CARVE_ERROR_INVALID_ALIGNMENT,
     {.arena_count = 4, .arena_bytes = 1024, .arena_alignment = 48},
     GOOD_LIMITS},
    {"`arena_alignment` 8 (below 16)", CARVE_ERROR_INVALID_ALIGNMENT,
     {.arena_count = 4, .arena_bytes = 1024, .arena_alignment = 8},
     GOOD_LIMITS},
    {"`arena_alignment` 8192 (above 4096)", CARVE_ERROR_INVALID_ALIGNMENT,
     {.arena_count = 4, .arena_bytes = 1024, .arena_alignment = 8192},
     GOOD_LIMITS},
    {"`arena_alignment` `UINT32_MAX`", CARVE_ERROR_INVALID_ALIGNMENT,
     {.arena_count = 4, .arena_bytes = 1024, .arena_alignment = UINT32_MAX},
     GOOD_LIMITS},
    {"`options` with an unknown bit (`0x80000000`)", CARVE_ERROR_INVALID_OPTION,
     {.arena_count = 4, .arena_bytes = 1024, .options = 0x80000000u},
     GOOD_LIMITS},
    {"`error_log_records` `UINT32_MAX`", CARVE_ERROR_INVALID_OPTION,
     {.arena_count = 4, .arena_bytes = 1024, .error_log_records = UINT32_MAX},
     GOOD_LIMITS},
    {"`event_log_records` 2^26 + 1", CARVE_ERROR_INVALID_OPTION,
     {.arena_count = 4, .arena_bytes = 1024,
      .event_log_records = (1u << 26) + 1},
     GOOD_LIMITS},
    {"`CARVE_PLAN_HEAP_FALLBACK` with `heap_bytes` 0", CARVE_ERROR_INVALID_HEAP,
     {.arena_count = 4, .arena_bytes = 1024,
      .options = CARVE_PLAN_HEAP_FALLBACK},
     GOOD_LIMITS},
    {"`heap_page_bytes` 3000 (not a power of two)", CARVE_ERROR_INVALID_HEAP,
     {.arena_count = 4, .arena_bytes = 1024, .heap_bytes = 65536,
      .heap_page_bytes = 3000},
     GOOD_LIMITS},
    {"`heap_page_bytes` 1024 (below 2 KiB)", CARVE_ERROR_INVALID_HEAP,
     {.arena_count = 4, .arena_bytes = 1024, .heap_bytes = 65536,
      .heap_page_bytes = 1024},
     GOOD_LIMITS},
    {"`heap_page_bytes` 2 MiB (above 1 MiB)", CARVE_ERROR_INVALID_HEAP,
     {.arena_count = 4, .arena_bytes = 1024, .heap_bytes = 65536,
      .heap_page_bytes = 2u << 20},
     GOOD_LIMITS},
    {"`heap_bytes` 8 GiB: past 32-bit offsets", CARVE_ERROR_OFFSET_LIMIT,
     {.arena_count = 4, .arena_bytes = 1024, .heap_bytes = 8ull << 30},
     GOOD_LIMITS},
    {"`heap_bytes` `UINT64_MAX`", CARVE_ERROR_SIZE_OVERFLOW,
     {.arena_count = 4, .arena_bytes = 1024, .heap_bytes = UINT64_MAX},
     GOOD_LIMITS},
    {"`limits.base_addr_align` 0", CARVE_ERROR_BASE_ALIGNMENT,
     {.arena_count = 4, .arena_bytes = 1024},
     {.max_mem_alloc_size = 1ull << 32, .global_mem_size = 1ull << 33}},
    {"`limits.base_addr_align` 64, arenas aligned to 64, and a heap (needs "
     "128)",
     CARVE_ERROR_BASE_ALIGNMENT,
     {.arena_count = 4, .arena_bytes = 1024, .arena_alignment = 64,
      .heap_bytes = 65536},
     {.max_mem_alloc_size = 1ull << 32, .global_mem_size = 1ull << 33,
      .base_addr_align = 64}},
    {"`limits.max_mem_alloc_size` 0", CARVE_ERROR_EXCEEDS_MAX_ALLOC,
     {.arena_count = 4, .arena_bytes = 1024},
     {.global_mem_size = 1ull << 33, .base_addr_align = 4096}},
    {"`limits.global_mem_size` 0", CARVE_ERROR_EXCEEDS_GLOBAL_MEM,
     {.arena_count = 4, .arena_bytes = 1024},
     {.max_mem_alloc_size = 1ull << 32, .base_addr_align = 4096}},
    {"several faults: `work_dim` 4, `arena_bytes` 0, `arena_alignment` 3",
     CARVE_ERROR_INVALID_NDRANGE,
     {.work_dim = 4, .global_size = {1, 1, 1}, .arena_alignment = 3},
     GOOD_LIMITS},
};

static carve_plan refused_plan(void)
{
    carve_plan plan;
    EXPECT(carve_plan_compute(&plan_cases[1].params, &plan_cases[1].limits,
                              &plan) == CARVE_ERROR_INVALID_NDRANGE);
    return plan;
}

static void test_plan_compute(void)
{
    carve_plan_params params;
    carve_device_limits limits = fixture_limits();
    carve_plan plan;
    size_t i;
    bad_section("Planning");
    memset(&params, 0, sizeof params);
    params.arena_count = 4;
    params.arena_bytes = 1024;
    BAD_STATUS("`plan` NULL", CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_plan_compute(&params, &limits, NULL));
    memset(&plan, 0x5a, sizeof plan);
    BAD_STATUS("`params` or `limits` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "`*plan` zeroed; `plan->message` says why",
               carve_plan_compute(NULL, &limits, &plan));
    EXPECT(plan.total_bytes == 0 && plan.message[0] != '\0');
    BAD_STATUS("`params` or `limits` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "`*plan` zeroed; `plan->message` says why",
               carve_plan_compute(&params, NULL, &plan));
    EXPECT(plan.total_bytes == 0 && plan.message[0] != '\0');
    for (i = 0; i < sizeof plan_cases / sizeof plan_cases[0]; ++i) {
        const plan_case *c = &plan_cases[i];
        BAD_STATUS(c->input, c->expected,
                   "`plan->message` says what is wrong (and by how much)",
                   carve_plan_compute(&c->params, &c->limits, &plan));
        EXPECT(plan.message[0] != '\0');
    }
}

/* ---- splitting a launch over devices ------------------------------------- */

static carve_split_params split_params(size_t items, cl_uint devices)
{
    carve_split_params p;
    memset(&p, 0, sizeof p);
    p.plan.work_dim = 1;
    p.plan.global_size[0] = items;
    p.plan.arena_bytes = 1024;
    p.device_count = devices;
    return p;
}

static void test_split_plan(void)
{
    carve_device_limits limits[CARVE_SPLIT_MAX_DEVICES];
    carve_split_params p = split_params(1000, 2);
    carve_split_plan plan;
    cl_device_id devices[2] = {NULL, NULL};
    uint32_t shares[2] = {7, 7};
    FILE *sink = tmpfile();
    size_t i;
    const char *says = "`plan->message` says what is wrong";
    for (i = 0; i < CARVE_SPLIT_MAX_DEVICES; ++i)
        limits[i] = fixture_limits();
    bad_section("Splitting a launch over devices");
    BAD_STATUS("`plan` NULL", CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_split_plan_compute(&p, limits, NULL));
    BAD_STATUS("`params` or `limits` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "`*plan` zeroed; `plan->message` says why",
               carve_split_plan_compute(NULL, limits, &plan));
    BAD_STATUS("`params` or `limits` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "`*plan` zeroed; `plan->message` says why",
               carve_split_plan_compute(&p, NULL, &plan));
    p.device_count = 0;
    BAD_STATUS("`device_count` 0", CARVE_ERROR_INVALID_ARGUMENT, says,
               carve_split_plan_compute(&p, limits, &plan));
    p.device_count = CARVE_SPLIT_MAX_DEVICES + 1;
    BAD_STATUS("`device_count` above `CARVE_SPLIT_MAX_DEVICES` (16)",
               CARVE_ERROR_INVALID_ARGUMENT, says,
               carve_split_plan_compute(&p, limits, &plan));
    p = split_params(1000, 2);
    p.shares[0] = CARVE_SPLIT_MAX_SHARE + 1;
    BAD_STATUS("a share above `CARVE_SPLIT_MAX_SHARE` (65535)",
               CARVE_ERROR_INVALID_ARGUMENT, "`plan->message` names the device",
               carve_split_plan_compute(&p, limits, &plan));
    p = split_params(1000, 2);
    p.plan.work_dim = 0;
    p.plan.arena_count = 1000;
    BAD_STATUS("`plan.work_dim` 0 (an arena count: no NDRange to split)",
               CARVE_ERROR_INVALID_NDRANGE, says,
               carve_split_plan_compute(&p, limits, &plan));
    p = split_params(0, 2);
    BAD_STATUS("a global size of 0", CARVE_ERROR_INVALID_NDRANGE, says,
               carve_split_plan_compute(&p, limits, &plan));
    p = split_params(1000, 3);
    p.granule = 512;
    BAD_STATUS("fewer granules in the slowest dimension than devices (1000 "
               "work-items, granule 512, 3 devices)",
               CARVE_ERROR_INVALID_NDRANGE,
               "`plan->message` names the device left with nothing",
               carve_split_plan_compute(&p, limits, &plan));
    p = split_params(1000, 2);
    p.global_offset[0] = UINT32_MAX - 10;
    BAD_STATUS("work-items past 2^32 - 1, offset included",
               CARVE_ERROR_INVALID_NDRANGE, says,
               carve_split_plan_compute(&p, limits, &plan));
    p = split_params(1000, 2);
    p.plan.arena_bytes = 0;
    BAD_STATUS("bad plan parameters (here `arena_bytes` 0)",
               CARVE_ERROR_INVALID_ARENA_SIZE,
               "as `carve_plan_compute` says them, before any device's "
               "refusal",
               carve_split_plan_compute(&p, limits, &plan));
    p = split_params(1000000, 2);
    limits[1].max_mem_alloc_size = 1u << 20;
    BAD_STATUS("a slice too big for its device",
               CARVE_ERROR_SLICE_REFUSED,
               "`refused_slice`, `refused_status`; the message names the "
               "device, by how much, what fits",
               carve_split_plan_compute(&p, limits, &plan));
    EXPECT(plan.refused_slice == 1 &&
           plan.refused_status == CARVE_ERROR_EXCEEDS_MAX_ALLOC);
    BAD_STATUS("a refused plan", CARVE_ERROR_INVALID_ARGUMENT,
               "prints nothing", carve_split_plan_print(&plan, sink));
    EXPECT(ftell(sink) == 0);
    BAD_STATUS("`plan` or `stream` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "prints nothing", carve_split_plan_print(NULL, sink));
    BAD_STATUS("NULL `devices` or `shares`, `n` 0 or above 16",
               CARVE_ERROR_INVALID_ARGUMENT, "`shares` unchanged",
               carve_split_shares_by_compute_units(2, NULL, shares));
    BAD_STATUS("NULL `devices` or `shares`, `n` 0 or above 16",
               CARVE_ERROR_INVALID_ARGUMENT, "`shares` unchanged",
               carve_split_shares_by_compute_units(0, devices, shares));
    EXPECT(shares[0] == 7 && shares[1] == 7);
    fclose(sink);
}

static void test_split_null(void)
{
    carve_summary summary;
    carve_arena_stats stats;
    carve_fit fit;
    carve_split_info info;
    cl_uint slice = 9;
    uint32_t index = 9;
    const char *none = "nothing happens";
    bad_section("Splits without a split");
    BAD_STATUS("`split` NULL", CARVE_ERROR_INVALID_ARGUMENT, none,
               carve_split_summary(NULL, &summary, NULL));
    BAD_STATUS("`split` NULL", CARVE_ERROR_INVALID_ARGUMENT, none,
               carve_split_arena_stats(NULL, 0, &stats));
    BAD_STATUS("`split` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "`*slice`, `*index` unchanged",
               carve_split_locate(NULL, 0, &slice, &index));
    EXPECT(slice == 9 && index == 9);
    BAD_STATUS("`split` NULL", CARVE_ERROR_INVALID_ARGUMENT, none,
               carve_split_check(NULL, NULL, NULL, NULL));
    BAD_STATUS("`split` NULL", CARVE_ERROR_INVALID_ARGUMENT, none,
               carve_split_fit(NULL, 50.0, &fit, NULL));
    BAD_STATUS("`split` NULL", CARVE_ERROR_INVALID_ARGUMENT, none,
               carve_split_report_print(NULL, stdout, CARVE_FORMAT_TEXT, 0));
    BAD_STATUS("`split` NULL", CARVE_ERROR_INVALID_ARGUMENT, none,
               carve_split_info_get(NULL, &info));
    BAD_STATUS("`split` NULL", CARVE_ERROR_INVALID_ARGUMENT, none,
               carve_split_reset(NULL));
    BAD_STATUS("`split` NULL", CARVE_ERROR_INVALID_ARGUMENT, none,
               carve_split_to_host(NULL, NULL));
    BAD_STATUS("`split` NULL", CARVE_ERROR_INVALID_ARGUMENT, none,
               carve_split_run(NULL, NULL, 0, NULL));
    BAD_STATUS("`split` NULL", CARVE_ERROR_INVALID_ARGUMENT, none,
               carve_split_enqueue(NULL, NULL, 0, NULL, NULL));
    BAD_NULL("`split` NULL", none, carve_split_set(NULL, 0));
    BAD_NULL("`split` NULL", none, carve_split_block(NULL, 0, 16, 4));
    BAD_NULL("`split` NULL", none, carve_split_get_plan(NULL));
    BAD_NULL("`split` NULL", none, carve_split_message(NULL));
    BAD_INT("`split` NULL (`CARVE_SPLIT_NO_SLICE`)", (long)CARVE_SPLIT_NO_SLICE,
            none, carve_split_failed_slice(NULL));
    BAD_VOID("`split` NULL", "returns", none, carve_split_release(NULL));
}

static void test_plan_format(void)
{
    carve_plan good, refused = refused_plan(), hand_made;
    carve_device_limits limits = fixture_limits(), saved;
    carve_plan_params params;
    char buf[64];
    size_t needed = 0, whole = 0;
    FILE *sink = tmpfile();
    memset(&params, 0, sizeof params);
    params.arena_count = 4;
    params.arena_bytes = 1024;
    REQUIRE_OK(carve_plan_compute(&params, &limits, &good));
    EXPECT(carve_plan_format(&good, NULL, 0, &whole) ==
           CARVE_ERROR_BUFFER_TOO_SMALL);
    hand_made = good;
    hand_made.params.work_dim = UINT32_MAX;

    memset(buf, 'x', sizeof buf);
    needed = 7;
    BAD_STATUS("`plan` NULL", CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_plan_format(NULL, buf, sizeof buf, &needed));
    BAD_STATUS("`buf` NULL with `size` > 0", CARVE_ERROR_INVALID_ARGUMENT,
               UNCHANGED, carve_plan_format(&good, NULL, 10, &needed));
    EXPECT(buf[0] == 'x' && needed == 7);
    BAD_STATUS("`buf` NULL, `size` 0 (a size query)",
               CARVE_ERROR_BUFFER_TOO_SMALL,
               "`*needed` = the bytes the table needs",
               carve_plan_format(&good, NULL, 0, &needed));
    EXPECT(needed == whole && whole > 1);
    memset(buf, 'x', sizeof buf);
    BAD_STATUS("`size` 1", CARVE_ERROR_BUFFER_TOO_SMALL,
               "`buf` holds \"\" (always terminated)",
               carve_plan_format(&good, buf, 1, NULL));
    EXPECT(buf[0] == '\0' && buf[1] == 'x');
    BAD_STATUS("`size` smaller than the table", CARVE_ERROR_BUFFER_TOO_SMALL,
               "`buf` holds the table's start, terminated",
               carve_plan_format(&good, buf, sizeof buf, NULL));
    EXPECT(strlen(buf) == sizeof buf - 1);
    memset(buf, 'x', sizeof buf);
    BAD_STATUS("a plan `carve_plan_compute` refused",
               CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_plan_format(&refused, buf, sizeof buf, &needed));
    EXPECT(buf[0] == 'x');
    BAD_STATUS("a plan with `params.work_dim` above 3 (not from "
               "`carve_plan_compute`)",
               CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_plan_format(&hand_made, buf, sizeof buf, &needed));
    EXPECT(buf[0] == 'x');

    BAD_STATUS("`plan` or `stream` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               UNCHANGED, carve_plan_print(NULL, stdout));
    BAD_STATUS("`plan` or `stream` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               UNCHANGED, carve_plan_print(&good, NULL));
    if (sink != NULL) {
        BAD_STATUS("a plan `carve_plan_compute` refused",
                   CARVE_ERROR_INVALID_ARGUMENT, "nothing printed",
                   carve_plan_print(&refused, sink));
        EXPECT(ftell(sink) == 0);
        fclose(sink);
    }

    saved = limits;
    BAD_STATUS("`device` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "`*out` unchanged; OpenCL is not called",
               carve_device_limits_query(NULL, &limits));
    /* Field by field: the struct's padding is not a value. */
    EXPECT(saved.max_mem_alloc_size == limits.max_mem_alloc_size &&
           saved.global_mem_size == limits.global_mem_size &&
           saved.base_addr_align == limits.base_addr_align);
    BAD_STATUS("`out` NULL", CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_device_limits_query(NULL, NULL));
}

/* ---- layout functions on images ------------------------------------------- */

#define REFUSED_IMAGE                                                         \
    "an image `carve_layout_validate` refuses for its header: a damaged "     \
    "field above, or random bytes (not a truncated image)"

/* Every layout function that trusts the header, on an image it must
 * refuse (`expected`, NULL from the pointer functions): none may read past
 * the header or write anything. */
static void expect_image_refused(unsigned char *mem, size_t size,
                                 const char *input, carve_status expected)
{
    unsigned char *copy = malloc(size);
    carve_arena_stats stats;
    carve_summary summary;
    uint32_t bad = 7, broken = 7;
    if (copy == NULL) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    memcpy(copy, mem, size);
    BAD_STATUS(input, expected, UNCHANGED, carve_layout_reset(mem));
    BAD_STATUS(input, expected, UNCHANGED,
               carve_layout_arena_stats(mem, 0, &stats));
    BAD_STATUS(input, expected, UNCHANGED,
               carve_layout_summary(mem, &summary));
    BAD_STATUS(input, expected, UNCHANGED,
               carve_layout_check(mem, &bad, &broken));
    BAD_NULL(input, UNCHANGED, carve_layout_pointer(mem, 128, 4));
    BAD_NULL(input, UNCHANGED, carve_layout_block(mem, 0, 4096, 16));
    EXPECT(memcmp(mem, copy, size) == 0 && bad == 7 && broken == 7);
    free(copy);
}

static void test_layout_arguments(void)
{
    core_fixture f = full_image();
    unsigned char *copy = copy_of(&f);
    const size_t size = (size_t)f.plan.total_bytes;
    carve_plan refused = refused_plan(), too_big = f.plan, damaged = f.plan;
    carve_arena_stats stats;
    carve_summary summary;
    uint32_t bad = 7, broken = 7;
    unsigned char *short_copy;
    /* The same image one byte further on, as a packed or careless copy
     * would put it. */
    unsigned char *odd = malloc(size + 1);
    if (odd == NULL) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    memcpy(odd + 1, f.image, size);
    ++odd;
    too_big.total_bytes = (uint64_t)UINT32_MAX + 1;
    damaged.bitmap_words += 1;

    bad_section("Laying out and reading images");
    BAD_STATUS("`mem` or `plan` NULL", CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_layout_format(NULL, size, &f.plan));
    BAD_STATUS("`mem` or `plan` NULL", CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_layout_format(f.image, size, NULL));
    BAD_STATUS("a plan `carve_plan_compute` refused (`total_bytes` 0)",
               CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_layout_format(f.image, size, &refused));
    BAD_STATUS("a plan of more than 4 GiB - 1", CARVE_ERROR_INVALID_ARGUMENT,
               UNCHANGED, carve_layout_format(f.image, SIZE_MAX, &too_big));
    BAD_STATUS("a plan with a field changed by hand (`bitmap_words` + 1)",
               CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_layout_format(f.image, size, &damaged));
    BAD_STATUS("`size` 0", CARVE_ERROR_BUFFER_TOO_SMALL, UNCHANGED,
               carve_layout_format(f.image, 0, &f.plan));
    BAD_STATUS("`size` one byte short of `plan->total_bytes`",
               CARVE_ERROR_BUFFER_TOO_SMALL, UNCHANGED,
               carve_layout_format(f.image, size - 1, &f.plan));
    EXPECT(same_image(&f, copy));

    BAD_STATUS("`mem` NULL", CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_layout_reset(NULL));
    BAD_STATUS("`mem` NULL", CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_layout_validate(NULL, size));
    /* In memory of just that size, so that ASan sees a read of the rest. */
    short_copy = malloc(127);
    if (short_copy == NULL) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    memcpy(short_copy, f.image, 127);
    BAD_STATUS("`size` 0, or 127 (less than a header)", CARVE_ERROR_CORRUPT_SET,
               "the header is not read", carve_layout_validate(short_copy, 0));
    BAD_STATUS("`size` 0, or 127 (less than a header)", CARVE_ERROR_CORRUPT_SET,
               "the header is not read",
               carve_layout_validate(short_copy, 127));
    free(short_copy);
    BAD_STATUS("`size` one byte short of the image (a truncated image)",
               CARVE_ERROR_CORRUPT_SET, UNCHANGED,
               carve_layout_validate(f.image, size - 1));

    BAD_STATUS("`mem` or `out` NULL", CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_layout_arena_stats(NULL, 0, &stats));
    BAD_STATUS("`mem` or `out` NULL", CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_layout_arena_stats(f.image, 0, NULL));
    BAD_STATUS("`index` = the arena count, or `UINT32_MAX`",
               CARVE_ERROR_INDEX_OUT_OF_RANGE, UNCHANGED,
               carve_layout_arena_stats(f.image, 4, &stats));
    BAD_STATUS("`index` = the arena count, or `UINT32_MAX`",
               CARVE_ERROR_INDEX_OUT_OF_RANGE, UNCHANGED,
               carve_layout_arena_stats(f.image, UINT32_MAX, &stats));
    BAD_STATUS("`mem` or `out` NULL", CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_layout_summary(NULL, &summary));
    BAD_STATUS("`mem` or `out` NULL", CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_layout_summary(f.image, NULL));
    BAD_STATUS("`mem` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "`*bad_index`, `*broken` unchanged",
               carve_layout_check(NULL, &bad, &broken));
    EXPECT(bad == 7 && broken == 7);
    EXPECT(same_image(&f, copy));

    BAD_STATUS(MISALIGNED, CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_layout_format(odd, size, &f.plan));
    BAD_STATUS(MISALIGNED, CARVE_ERROR_INVALID_ARGUMENT, UNCHANGED,
               carve_layout_validate(odd, size));
    expect_image_refused(odd, size, MISALIGNED, CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT(same_image(&f, copy));

    BAD_NULL("`mem` NULL", UNCHANGED, carve_layout_pointer(NULL, 128, 4));
    BAD_NULL("`offset` 0", UNCHANGED, carve_layout_pointer(f.image, 0, 4));
    BAD_NULL("`offset` past the image, or `UINT32_MAX`", UNCHANGED,
             carve_layout_pointer(f.image, (uint32_t)size + 1, 0));
    BAD_NULL("`offset` past the image, or `UINT32_MAX`", UNCHANGED,
             carve_layout_pointer(f.image, UINT32_MAX, 1));
    BAD_NULL("a range running 1 byte past the image", UNCHANGED,
             carve_layout_pointer(f.image, (uint32_t)size - 4, 5));
    BAD_NULL("`bytes` `SIZE_MAX`", UNCHANGED,
             carve_layout_pointer(f.image, 128, SIZE_MAX));
    EXPECT(same_image(&f, copy));
    EXPECT(memcmp(odd, f.image, size) == 0);
    free(odd - 1);
    free(copy);
    fixture_free(&f);
}

static void test_block_lookups(void)
{
    core_fixture f = full_image();
    unsigned char *copy;
    carve_arena a = carve_core_open(f.image, 2), b = carve_core_open(f.image, 3);
    unsigned char *p = carve_alloc_malloc(&a, 64, 16, 1);
    unsigned char *freed = carve_alloc_malloc(&a, 32, 16, 2);
    unsigned char *other = carve_alloc_malloc(&b, 32, 16, 3);
    uint32_t at = (uint32_t)(p - f.image), bump;
    carve_alloc_free(&a, freed, 4);
    copy = copy_of(&f);
    EXPECT(carve_layout_block(f.image, 2, at, 64) == p);

    BAD_NULL("`mem` NULL", UNCHANGED, carve_layout_block(NULL, 2, at, 64));
    BAD_NULL("`index` = the arena count, or `UINT32_MAX`", UNCHANGED,
             carve_layout_block(f.image, 4, at, 64));
    BAD_NULL("`index` = the arena count, or `UINT32_MAX`", UNCHANGED,
             carve_layout_block(f.image, UINT32_MAX, at, 64));
    BAD_NULL("`offset` 0, or inside the header", UNCHANGED,
             carve_layout_block(f.image, 2, 0, 4));
    BAD_NULL("`offset` 0, or inside the header", UNCHANGED,
             carve_layout_block(f.image, 2, 16, 4));
    BAD_NULL("`offset` `UINT32_MAX`", UNCHANGED,
             carve_layout_block(f.image, 2, UINT32_MAX, 1));
    BAD_NULL("`bytes` 0", UNCHANGED, carve_layout_block(f.image, 2, at, 0));
    BAD_NULL("`bytes` `SIZE_MAX`", UNCHANGED,
             carve_layout_block(f.image, 2, at, SIZE_MAX));
    BAD_NULL("a range 1 byte longer than its block and redzone (81 bytes "
             "from a 64-byte block)",
             UNCHANGED, carve_layout_block(f.image, 2, at, 64 + 16 + 1));
    BAD_NULL("a freed block", UNCHANGED,
             carve_layout_block(f.image, 2, (uint32_t)(freed - f.image), 16));
    BAD_NULL("another arena's live block", UNCHANGED,
             carve_layout_block(f.image, 2, (uint32_t)(other - f.image), 16));
    /* A state entry whose bump pointer is past its arena: the lookup must
     * not follow it into the next arena's bitmaps. */
    bump = a.state->bump;
    a.state->bump = a.granules + 1000;
    BAD_NULL("an arena whose state is damaged (bump past its end)",
             "nothing written; nothing outside the arena read",
             carve_layout_block(f.image, 2, (uint32_t)(other - f.image), 16));
    a.state->bump = bump;
    EXPECT(same_image(&f, copy));
    free(copy);
    fixture_free(&f);
}

/* ---- damaged images ---------------------------------------------------------- */

static void test_damaged_headers(void)
{
    damage_target t = damage_target_make();
    size_t i;
    bad_section("Damaged images");
    for (i = 0; i < HEADER_DAMAGES; ++i) {
        damage_field(&t, &header_damages[i]);
        BAD_STATUS(header_damages[i].input, CARVE_ERROR_CORRUPT_SET,
                   UNCHANGED, carve_layout_validate(t.image, t.size));
    }
    for (i = 0; i < HEADER_DAMAGES; ++i) {
        damage_field(&t, &header_damages[i]);
        expect_image_refused(t.image, t.size, REFUSED_IMAGE,
                             CARVE_ERROR_CORRUPT_SET);
    }
    /* A header that is fine but for the memory given: only validate, which
     * is told the size, can see it; the others trust the header. */
    damage_target_restore(&t);
    *header_word(t.image, FIELD(total_bytes)) += 16;
    BAD_STATUS("`total_bytes` 16 bytes more than `size` (a truncated image)",
               CARVE_ERROR_CORRUPT_SET, UNCHANGED,
               carve_layout_validate(t.image, t.size));
    EXPECT(carve_layout_validate(t.image, t.size + 16) == CARVE_SUCCESS);
    damage_target_free(&t);
}

/* Random bytes, half of them behind a good magic, version and header size
 * so that the checks of the other fields are reached. */
static void test_random_bytes(carve_test_rng *rng)
{
    unsigned char *buf = malloc(4096);
    int i;
    if (buf == NULL) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    for (i = 0; i < FUZZ_IMAGES; ++i) {
        size_t n = 0;
        unsigned char *mem = random_image(rng, buf, i & 1, &n);
        BAD_STATUS("random bytes (thousands of images, up to 4 KiB; seed "
                   "printed)",
                   CARVE_ERROR_CORRUPT_SET, UNCHANGED,
                   carve_layout_validate(mem, n));
        if (n >= sizeof(carve_set_header))
            expect_image_refused(mem, n, REFUSED_IMAGE,
                                 CARVE_ERROR_CORRUPT_SET);
    }
    free(buf);
}

/* Runs every layout function on an image validate accepted; whatever the
 * bytes behind the header hold, each must stay inside it. Returns whether
 * every call gave one of its documented results. */
static int survives_everything(unsigned char *mem, size_t size,
                               carve_test_rng *rng)
{
    const carve_set_header *h = (const carve_set_header *)mem;
    carve_arena_stats stats;
    carve_summary summary;
    carve_status checked;
    uint32_t i, bad, broken;
    int ok = 1;
    unsigned char *p;
    for (i = 0; i < h->arena_count && i < 64; ++i)
        ok &= carve_layout_arena_stats(mem, i, &stats) == CARVE_SUCCESS;
    ok &= carve_layout_summary(mem, &summary) == CARVE_SUCCESS;
    checked = carve_layout_check(mem, &bad, &broken);
    ok &= checked == CARVE_SUCCESS || checked == CARVE_ERROR_ARENA_INVALID;
    for (i = 0; i < 16; ++i) {
        uint32_t offset = (uint32_t)carve_test_below(rng, size + 64);
        size_t bytes = (size_t)carve_test_below(rng, 600);
        p = carve_layout_block(mem, (uint32_t)carve_test_below(rng, 6), offset,
                               bytes);
        ok &= p == NULL || (p >= mem && p + bytes <= mem + size);
        p = carve_layout_pointer(mem, offset, bytes);
        ok &= p == NULL || (p >= mem && p + bytes <= mem + size);
    }
    ok &= carve_layout_reset(mem) == CARVE_SUCCESS;
    checked = carve_layout_check(mem, &bad, &broken);
    if (checked != CARVE_SUCCESS)
        fprintf(stderr, "after a reset: arena %u broke invariant %u\n",
                (unsigned)bad, (unsigned)broken);
    ok &= checked == CARVE_SUCCESS;
    return ok;
}

/* Random damage to one to three words of a good header. */
static void test_header_fuzz(carve_test_rng *rng)
{
    damage_target t = damage_target_make();
    int i, accepted = 0, truncated = 0, refused = 0, ok = 1;
    for (i = 0; i < FUZZ_IMAGES; ++i) {
        damage_target_restore(&t);
        damage_header_words(rng, t.image);
        if (carve_layout_validate(t.image, t.size) == CARVE_SUCCESS) {
            ++accepted;
            ok &= survives_everything(t.image, t.size, rng);
        } else if (carve_layout_validate(t.image, SIZE_MAX) == CARVE_SUCCESS) {
            ++truncated; /* consistent, but claims more than `size` */
        } else {
            ++refused;
            expect_image_refused(t.image, t.size, REFUSED_IMAGE,
                                 CARVE_ERROR_CORRUPT_SET);
        }
    }
    fprintf(stderr, "header fuzz: %d images accepted, %d truncated, %d refused\n",
            accepted, truncated, refused);
    EXPECT(ok);
    EXPECT(accepted > 0 && refused > 0);
    bad_row_add("carve_layout_*", "random damage to 1 to 3 words of a good "
                "header (thousands of images; seed printed)",
                "`CARVE_ERROR_CORRUPT_SET` where validate refuses the header; "
                "else each function's own results",
                "nothing read or written outside the image");
    damage_target_free(&t);
}

/* Random damage behind a good header: state table, logs, heap tables,
 * arenas and heap pages. */
static void test_body_fuzz(carve_test_rng *rng)
{
    damage_target t = damage_target_make();
    int i, ok = 1, invalid = 0;
    for (i = 0; i < FUZZ_IMAGES; ++i) {
        damage_target_restore(&t);
        damage_body(rng, t.image, t.size);
        invalid += carve_layout_check(t.image, NULL, NULL) ==
                   CARVE_ERROR_ARENA_INVALID;
        ok &= carve_layout_validate(t.image, t.size) == CARVE_SUCCESS;
        ok &= survives_everything(t.image, t.size, rng);
    }
    fprintf(stderr, "body fuzz: %d of %d damaged images found invalid\n",
            invalid, FUZZ_IMAGES);
    EXPECT(ok);
    EXPECT(invalid > 0);
    bad_row_add("carve_layout_*", "random damage behind a good header: state "
                "table, logs, heap tables, arenas (thousands of images; seed "
                "printed)",
                "`carve_layout_check`: `CARVE_SUCCESS` or "
                "`CARVE_ERROR_ARENA_INVALID`; the others: `CARVE_SUCCESS`",
                "nothing read or written outside the image; "
                "`carve_layout_reset` then gives arenas that pass the check");
    damage_target_free(&t);
}

/* ---- device sources ---------------------------------------------------------- */

static void test_device_source(void)
{
    size_t length = 12345;
    bad_section("Embedded device sources");
    BAD_NULL("`name` NULL, \"\", or a name carve does not embed",
             "`*length` unchanged", carve_device_source(NULL, &length));
    BAD_NULL("`name` NULL, \"\", or a name carve does not embed",
             "`*length` unchanged", carve_device_source("", &length));
    BAD_NULL("`name` NULL, \"\", or a name carve does not embed",
             "`*length` unchanged", carve_device_source("carve.cl", &length));
    EXPECT(length == 12345);
}

/* ---- TI's calls ------------------------------------------------------------------ */

typedef struct child_answer {
    carve_status usage, allocation;
    size_t capacity;
} child_answer;

/* The msmc tier in a fresh process whose CARVE_TI_MSMC_BYTES is `value`:
 * the environment is read once, at the tier's first use. */
static child_answer msmc_in_child(const char *value)
{
    child_answer answer = {CARVE_ERROR_INVALID_ARGUMENT,
                           CARVE_ERROR_INVALID_ARGUMENT, 0};
    int fds[2], status = 0;
    pid_t pid;
    if (pipe(fds) != 0 || (pid = fork()) < 0) {
        fprintf(stderr, "pipe or fork failed\n");
        exit(1);
    }
    if (pid == 0) {
        size_t in_use = 0;
        void *p;
        close(fds[0]);
        setenv("CARVE_TI_MSMC_BYTES", value, 1);
        answer.usage = carve_ti_usage("msmc", &in_use, &answer.capacity);
        p = __malloc_msmc(64);
        answer.allocation = carve_ti_last_status();
        __free_msmc(p);
        _exit(write(fds[1], &answer, sizeof answer) == sizeof answer ? 0 : 1);
    }
    close(fds[1]);
    if (read(fds[0], &answer, sizeof answer) != sizeof answer)
        ++carve_test_failures;
    close(fds[0]);
    waitpid(pid, &status, 0);
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return answer;
}

/* The call whose status a child reports, for the table. */
#define IN_CHILD "carve_ti_usage(\"msmc\", ...) in a fresh process"

static void test_ti_environment(void)
{
    static const char *const defaults[] = {"abc", "1", "1M", ""};
    const size_t default_msmc = 6u << 20;
    child_answer answer;
    size_t i;
    bad_section("TI's calls");
    for (i = 0; i < sizeof defaults / sizeof defaults[0]; ++i) {
        answer = msmc_in_child(defaults[i]);
        bad_check_status(__FILE__, __LINE__, IN_CHILD,
                         "`CARVE_TI_MSMC_BYTES` not a number of at least 128 "
                         "(\"abc\", \"1\", \"1M\", \"\")",
                         "the default size (6 MiB) is used", CARVE_SUCCESS,
                         answer.usage);
        EXPECT(answer.capacity == default_msmc &&
               answer.allocation == CARVE_SUCCESS);
    }
    answer = msmc_in_child("18446744073709551615");
    bad_check_status(__FILE__, __LINE__, IN_CHILD,
                     "`CARVE_TI_MSMC_BYTES` too large to map (2^64 - 1)",
                     "every call on the tier fails so",
                     CARVE_ERROR_OUT_OF_HOST_MEMORY, answer.usage);
    EXPECT(answer.allocation == CARVE_ERROR_OUT_OF_HOST_MEMORY);
}

static void test_ti_calls(void)
{
    unsigned char on_stack[256];
    unsigned char *on_heap = malloc(256), *ddr, *msmc;
    size_t in_use = 0, capacity = 0, used_before = 0;
    REQUIRE_OK(carve_ti_usage("msmc", &in_use, &capacity));
    REQUIRE_OK(carve_ti_usage("ddr", &used_before, NULL));
    BAD_NULL_LAST("0 bytes", carve_ti_last_status, CARVE_ERROR_INVALID_ARGUMENT,
                  "nothing allocated", __malloc_ddr(0));
    BAD_NULL_LAST("`SIZE_MAX` bytes, or one more than the tier's capacity",
                  carve_ti_last_status, CL_MEM_OBJECT_ALLOCATION_FAILURE,
                  "nothing allocated", __malloc_msmc(SIZE_MAX));
    BAD_NULL_LAST("`SIZE_MAX` bytes, or one more than the tier's capacity",
                  carve_ti_last_status, CL_MEM_OBJECT_ALLOCATION_FAILURE,
                  "nothing allocated", __malloc_msmc(capacity + 1));
    REQUIRE_OK(carve_ti_usage("ddr", &in_use, NULL));
    EXPECT(in_use == used_before);
    REQUIRE_OK(carve_ti_usage("msmc", &in_use, NULL));
    EXPECT(in_use == 0);
    ddr = __malloc_ddr(256);
    msmc = __malloc_msmc(256);
    EXPECT(ddr != NULL && msmc != NULL && on_heap != NULL);
    REQUIRE_OK(carve_ti_usage("ddr", &used_before, NULL));
    BAD_VOID_LAST("NULL", carve_ti_last_status, CARVE_SUCCESS, "does nothing",
                  __free_ddr(NULL));
    BAD_VOID_LAST("a pointer carve did not hand out (stack, `malloc`)",
                  carve_ti_last_status, CARVE_ERROR_INVALID_ARGUMENT,
                  "refused, nothing freed", __free_ddr(on_stack));
    BAD_VOID_LAST("a pointer carve did not hand out (stack, `malloc`)",
                  carve_ti_last_status, CARVE_ERROR_INVALID_ARGUMENT,
                  "refused, nothing freed", __free_ddr(on_heap));
    BAD_VOID_LAST("a pointer inside an allocation (+1, +128)",
                  carve_ti_last_status, CARVE_ERROR_INVALID_ARGUMENT,
                  "refused, nothing freed", __free_ddr(ddr + 1));
    BAD_VOID_LAST("a pointer inside an allocation (+1, +128)",
                  carve_ti_last_status, CARVE_ERROR_INVALID_ARGUMENT,
                  "refused, nothing freed", __free_ddr(ddr + 128));
    BAD_INT("NULL, memory carve did not hand out", 0, "nothing changes",
            __is_in_malloced_region(NULL));
    BAD_INT("NULL, memory carve did not hand out", 0, "nothing changes",
            __is_in_malloced_region(on_heap));
    BAD_STATUS("`kernel` NULL", CL_INVALID_KERNEL, "nothing changes",
               __ti_set_kernel_timeout_ms(NULL, 10));
    REQUIRE_OK(carve_ti_usage("ddr", &in_use, NULL));
    EXPECT(in_use == used_before);
    __free_ddr(ddr);
    EXPECT(carve_ti_last_status() == CARVE_SUCCESS);
    BAD_VOID_LAST("a pointer already freed", carve_ti_last_status,
                  CARVE_ERROR_INVALID_ARGUMENT, "refused, nothing freed",
                  __free_ddr(ddr));
    __free_msmc(msmc);
    free(on_heap);
    in_use = 12345;
    capacity = 54321;
    BAD_STATUS("`tier` NULL, \"\", or not \"ddr\" or \"msmc\" (\"DDR\")",
               CARVE_ERROR_INVALID_ARGUMENT, "`*in_use`, `*capacity` unchanged",
               carve_ti_usage(NULL, &in_use, &capacity));
    BAD_STATUS("`tier` NULL, \"\", or not \"ddr\" or \"msmc\" (\"DDR\")",
               CARVE_ERROR_INVALID_ARGUMENT, "`*in_use`, `*capacity` unchanged",
               carve_ti_usage("", &in_use, &capacity));
    BAD_STATUS("`tier` NULL, \"\", or not \"ddr\" or \"msmc\" (\"DDR\")",
               CARVE_ERROR_INVALID_ARGUMENT, "`*in_use`, `*capacity` unchanged",
               carve_ti_usage("DDR", &in_use, &capacity));
    EXPECT(in_use == 12345 && capacity == 54321);
}

int main(int argc, char **argv)
{
    carve_test_rng rng = damage_rng(argc, argv, 0xbad1257);
    test_strings();
    test_plan_compute();
    test_plan_format();
    test_split_plan();
    test_split_null();
    test_layout_arguments();
    test_block_lookups();
    test_damaged_headers();
    test_random_bytes(&rng);
    test_header_fuzz(&rng);
    test_body_fuzz(&rng);
    test_device_source();
    test_ti_environment(); /* before the tiers' first use in this process */
    test_ti_calls();
    return bad_finish(argc, argv, "host");
}
