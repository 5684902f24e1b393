/* plan_json_check.c - reads what `carve plan --json` printed on stdin,
 * fails unless it is strict JSON, and compares it with what the library
 * computes for the same parameters, so that the tool and the library
 * cannot disagree (issue 10: the tool printed a plan 8 MiB smaller than
 * the program's, for want of options for the heap, checks and logs).
 *
 *   plan_json_check parse    only that it parses, as a carve-plan object
 *   plan_json_check full     the plan of full_params(): every field set
 *   plan_json_check refused  the refusal of refused_params()
 *   plan_json_check split    the split of split_params() (--split)
 *   plan_json_check split_refused
 *                            the refused slice of split_refused_params()
 *
 * tools/carve/tests/CMakeLists.txt runs the tool with the options that
 * stand for these parameters. The parameters the tool echoes are
 * compared field by field too: if the options and full_params() drift
 * apart, the check says which field. */
#include <carve/carve.h>
#include <carve/split.h>

#include "json_check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

/* The made-up device of the tool's tests: --max-alloc 1G --global-mem 2G
 * --base-align 4K. */
static carve_device_limits test_limits(void)
{
    carve_device_limits limits;
    limits.max_mem_alloc_size = 1ull << 30;
    limits.global_mem_size = 2ull << 30;
    limits.base_addr_align = 4096;
    return limits;
}

/* --ndrange 256,64 --arena-bytes 4K --align 256 --heap-bytes 64M
 * --heap-page 8K --large-request 2K --error-log 1K --event-log 64K
 * --checks --heap-fallback --small-runs */
static carve_plan_params full_params(void)
{
    carve_plan_params p;
    memset(&p, 0, sizeof p);
    p.work_dim = 2;
    p.global_size[0] = 256;
    p.global_size[1] = 64;
    p.arena_bytes = 4096;
    p.arena_alignment = 256;
    p.heap_bytes = 64ull << 20;
    p.heap_page_bytes = 8192;
    p.large_request_bytes = 2048;
    p.error_log_records = 1024;
    p.event_log_records = 65536;
    p.options =
        CARVE_PLAN_CHECKS | CARVE_PLAN_HEAP_FALLBACK | CARVE_PLAN_SMALL_RUNS;
    return p;
}

/* --arenas 4 --arena-bytes 1K --heap-fallback: a fallback without a
 * heap. */
static carve_plan_params refused_params(void)
{
    carve_plan_params p;
    memset(&p, 0, sizeof p);
    p.arena_count = 4;
    p.arena_bytes = 1024;
    p.options = CARVE_PLAN_HEAP_FALLBACK;
    return p;
}

/* --ndrange 100,40 --arena-bytes 1K --split 1,1 --granule 3 --offset 5,10,
 * with test_limits(): slices on multiples of 3 rows, launch-wide arenas
 * from row 10 on. */
static carve_split_params split_params(void)
{
    carve_split_params p;
    memset(&p, 0, sizeof p);
    p.plan.work_dim = 2;
    p.plan.global_size[0] = 100;
    p.plan.global_size[1] = 40;
    p.plan.arena_bytes = 1024;
    p.device_count = 2;
    p.shares[0] = 1;
    p.shares[1] = 1;
    p.granule = 3;
    p.global_offset[0] = 5;
    p.global_offset[1] = 10;
    return p;
}

/* --ndrange 1000 --arena-bytes 1K --split 1,3 with --max-alloc 512K
 * --global-mem 2G --base-align 4K: device 0's 250 arenas fit, device
 * 1's 750 do not. */
static carve_split_params split_refused_params(void)
{
    carve_split_params p;
    memset(&p, 0, sizeof p);
    p.plan.work_dim = 1;
    p.plan.global_size[0] = 1000;
    p.plan.arena_bytes = 1024;
    p.device_count = 2;
    p.shares[0] = 1;
    p.shares[1] = 3;
    return p;
}

/* json_check.h keeps values as written: strings with their quotes. */
static void expect_text(const json_flat *json, const char *path,
                        const char *want)
{
    const char *got = json_get(json, path);
    if (got == NULL || strcmp(got, want) != 0) {
        fprintf(stderr, "%s: the tool says %s, the library %s\n", path,
                got ? got : "nothing", want);
        ++failures;
    }
}

static void expect_number(const json_flat *json, const char *path,
                          uint64_t want)
{
    char text[32];
    snprintf(text, sizeof text, "%llu", (unsigned long long)want);
    expect_text(json, path, text);
}

static void expect_flag(const json_flat *json, const char *path, int want)
{
    expect_text(json, path, want ? "true" : "false");
}

static void expect_params(const json_flat *json, const carve_plan_params *p)
{
    cl_uint d;
    char path[64];
    expect_number(json, "params.work_dim", p->work_dim);
    for (d = 0; d < p->work_dim; ++d) {
        snprintf(path, sizeof path, "params.global_size[%u]", (unsigned)d);
        expect_number(json, path, p->global_size[d]);
    }
    expect_number(json, "params.arena_count", p->arena_count);
    expect_number(json, "params.arena_bytes", p->arena_bytes);
    expect_number(json, "params.arena_alignment", p->arena_alignment);
    expect_number(json, "params.heap_bytes", p->heap_bytes);
    expect_number(json, "params.heap_page_bytes", p->heap_page_bytes);
    expect_number(json, "params.large_request_bytes", p->large_request_bytes);
    expect_number(json, "params.error_log_records", p->error_log_records);
    expect_number(json, "params.event_log_records", p->event_log_records);
    expect_flag(json, "params.checks", p->options & CARVE_PLAN_CHECKS);
    expect_flag(json, "params.heap_fallback",
                p->options & CARVE_PLAN_HEAP_FALLBACK);
    expect_flag(json, "params.small_runs", p->options & CARVE_PLAN_SMALL_RUNS);
}

static void expect_limits(const json_flat *json, const carve_device_limits *l)
{
    expect_number(json, "limits.max_mem_alloc_size", l->max_mem_alloc_size);
    expect_number(json, "limits.global_mem_size", l->global_mem_size);
    expect_number(json, "limits.base_addr_align", l->base_addr_align);
    expect_text(json, "limits_from.max_mem_alloc_size", "\"command_line\"");
    expect_text(json, "limits_from.global_mem_size", "\"command_line\"");
    expect_text(json, "limits_from.base_addr_align", "\"command_line\"");
    expect_text(json, "device", "null");
}

/* The parts, in carve_plan_print's order: this plan has every one. */
static void expect_parts(const json_flat *json, const carve_plan *plan)
{
    const struct {
        const char *name;
        uint64_t offset, bytes;
    } parts[] = {
        {"\"header\"", 0, plan->header_bytes},
        {"\"state_table\"", plan->state_offset, plan->state_bytes},
        {"\"error_log\"", plan->error_offset,
         (uint64_t)plan->error_capacity * sizeof(carve_error_record)},
        {"\"event_log\"", plan->event_offset,
         (uint64_t)plan->event_capacity * sizeof(carve_event_record)},
        {"\"heap_tables\"", plan->heap_meta_offset, plan->heap_meta_bytes},
        {"\"arenas\"", plan->arenas_offset, plan->arenas_bytes},
        {"\"shared_heap\"", plan->heap_offset,
         (uint64_t)plan->heap_pages * plan->heap_page_bytes},
    };
    size_t i;
    char path[64];
    for (i = 0; i < sizeof parts / sizeof parts[0]; ++i) {
        snprintf(path, sizeof path, "plan.parts[%zu].part", i);
        expect_text(json, path, parts[i].name);
        snprintf(path, sizeof path, "plan.parts[%zu].offset", i);
        expect_number(json, path, parts[i].offset);
        snprintf(path, sizeof path, "plan.parts[%zu].bytes", i);
        expect_number(json, path, parts[i].bytes);
    }
    if (json_at(json, "plan.parts[%zu].part", i)[0] != '\0') {
        fprintf(stderr, "plan.parts has more than %zu parts\n", i);
        ++failures;
    }
}

static void check_full(const json_flat *json)
{
    carve_plan_params params = full_params();
    carve_device_limits limits = test_limits();
    carve_plan plan;
    carve_status status = carve_plan_compute(&params, &limits, &plan);
    if (status != CARVE_SUCCESS) {
        fprintf(stderr, "the library refuses full_params(): %s\n",
                plan.message);
        ++failures;
        return;
    }
    expect_params(json, &params);
    expect_limits(json, &limits);
    expect_flag(json, "refused", 0);
    expect_number(json, "plan.arena_count", plan.arena_count);
    expect_number(json, "plan.arena_bytes", plan.arena_bytes);
    expect_number(json, "plan.state_stride", plan.state_stride);
    expect_number(json, "plan.error_capacity", plan.error_capacity);
    expect_number(json, "plan.event_capacity", plan.event_capacity);
    expect_number(json, "plan.heap_pages", plan.heap_pages);
    expect_number(json, "plan.large_bytes", plan.large_bytes);
    expect_parts(json, &plan);
    expect_number(json, "plan.total_bytes", plan.total_bytes);
}

static void check_refused(const json_flat *json)
{
    carve_plan_params params = refused_params();
    carve_device_limits limits = test_limits();
    carve_plan plan;
    carve_status status = carve_plan_compute(&params, &limits, &plan);
    char text[sizeof plan.message + 2];
    const char *name = carve_status_string(status);
    expect_params(json, &params);
    expect_flag(json, "refused", 1);
    /* The message has nothing JSON escapes. */
    snprintf(text, sizeof text, "\"%s\"", plan.message);
    expect_text(json, "message", text);
    snprintf(text, sizeof text, "\"%.*s\"", (int)strcspn(name, ":"), name);
    expect_text(json, "status", text);
    snprintf(text, sizeof text, "%d", (int)status);
    expect_text(json, "status_code", text);
    if (json_get(json, "plan.total_bytes") != NULL) {
        fprintf(stderr, "a refused plan has a \"plan\"\n");
        ++failures;
    }
}

/* The limits of split_refused_params(): 512K --max-alloc. */
static carve_device_limits split_refused_limits(void)
{
    carve_device_limits limits = test_limits();
    limits.max_mem_alloc_size = 512u << 10;
    return limits;
}

static void expect_sizes(const json_flat *json, const char *array,
                         const size_t *sizes, cl_uint dims)
{
    char path[96];
    cl_uint d;
    for (d = 0; d < dims; ++d) {
        snprintf(path, sizeof path, "%s[%u]", array, (unsigned)d);
        expect_number(json, path, sizes[d]);
    }
    snprintf(path, sizeof path, "%s[%u]", array, (unsigned)dims);
    if (json_get(json, path) != NULL) {
        fprintf(stderr, "%s has more than %u numbers\n", array,
                (unsigned)dims);
        ++failures;
    }
}

/* The "split" object's request: devices, split_dim, shares, granule and
 * global_offset as given. */
static void expect_split_request(const json_flat *json,
                                 const carve_split_params *p)
{
    char path[64];
    cl_uint i;
    expect_params(json, &p->plan);
    expect_number(json, "split.devices", p->device_count);
    expect_number(json, "split.split_dim", p->plan.work_dim - 1);
    for (i = 0; i < p->device_count; ++i) {
        snprintf(path, sizeof path, "split.shares[%u]", (unsigned)i);
        expect_number(json, path, p->shares[i]);
    }
    snprintf(path, sizeof path, "split.shares[%u]", (unsigned)i);
    if (json_get(json, path) != NULL) {
        fprintf(stderr, "split.shares has more than %u shares\n",
                (unsigned)p->device_count);
        ++failures;
    }
    expect_number(json, "split.granule", p->granule);
    expect_sizes(json, "split.global_offset", p->global_offset,
                 p->plan.work_dim);
    if (json_get(json, "plan.total_bytes") != NULL) {
        fprintf(stderr, "a split has a \"plan\"\n");
        ++failures;
    }
}

static void check_split(const json_flat *json)
{
    carve_split_params params = split_params();
    carve_device_limits limits[2];
    carve_split_plan plan;
    carve_status status;
    char path[96];
    cl_uint i;
    limits[0] = limits[1] = test_limits();
    status = carve_split_plan_compute(&params, limits, &plan);
    if (status != CARVE_SUCCESS) {
        fprintf(stderr, "the library refuses split_params(): %s\n",
                plan.message);
        ++failures;
        return;
    }
    expect_limits(json, &limits[0]);
    expect_flag(json, "refused", 0);
    expect_split_request(json, &params);
    for (i = 0; i < params.device_count; ++i) {
        const carve_slice *slice = &plan.slices[i];
        snprintf(path, sizeof path, "split.slices[%u].device", (unsigned)i);
        expect_number(json, path, i);
        snprintf(path, sizeof path, "split.slices[%u].global_offset",
                 (unsigned)i);
        expect_sizes(json, path, slice->global_offset, params.plan.work_dim);
        snprintf(path, sizeof path, "split.slices[%u].global_size",
                 (unsigned)i);
        expect_sizes(json, path, slice->global_size, params.plan.work_dim);
        snprintf(path, sizeof path, "split.slices[%u].first_arena",
                 (unsigned)i);
        expect_number(json, path, slice->first_arena);
        snprintf(path, sizeof path, "split.slices[%u].arena_count",
                 (unsigned)i);
        expect_number(json, path, slice->plan.arena_count);
        snprintf(path, sizeof path, "split.slices[%u].total_bytes",
                 (unsigned)i);
        expect_number(json, path, slice->plan.total_bytes);
    }
    if (json_at(json, "split.slices[%u].device", (unsigned)i)[0] != '\0') {
        fprintf(stderr, "split.slices has more than %u slices\n",
                (unsigned)i);
        ++failures;
    }
    expect_number(json, "split.arena_count", plan.arena_count);
    expect_number(json, "split.total_bytes", plan.total_bytes);
    if (json_get(json, "refused_slice") != NULL) {
        fprintf(stderr, "a split that fits has a \"refused_slice\"\n");
        ++failures;
    }
}

static void check_split_refused(const json_flat *json)
{
    carve_split_params params = split_refused_params();
    carve_device_limits limits[2];
    carve_split_plan plan;
    carve_status status;
    char text[sizeof plan.message + 2];
    const char *name;
    limits[0] = limits[1] = split_refused_limits();
    status = carve_split_plan_compute(&params, limits, &plan);
    if (status != CARVE_ERROR_SLICE_REFUSED) {
        fprintf(stderr, "the library does not refuse a slice of "
                        "split_refused_params(): %s\n",
                carve_status_string(status));
        ++failures;
        return;
    }
    expect_flag(json, "refused", 1);
    expect_split_request(json, &params);
    snprintf(text, sizeof text, "\"%s\"", plan.message);
    expect_text(json, "message", text);
    name = carve_status_string(status);
    snprintf(text, sizeof text, "\"%.*s\"", (int)strcspn(name, ":"), name);
    expect_text(json, "status", text);
    snprintf(text, sizeof text, "%d", (int)status);
    expect_text(json, "status_code", text);
    expect_number(json, "refused_slice", plan.refused_slice);
    name = carve_status_string(plan.refused_status);
    snprintf(text, sizeof text, "\"%.*s\"", (int)strcspn(name, ":"), name);
    expect_text(json, "refused_status", text);
    if (json_get(json, "split.slices[0].device") != NULL ||
        json_get(json, "split.total_bytes") != NULL) {
        fprintf(stderr, "a refused split has slices\n");
        ++failures;
    }
}

/* All of stdin, NUL-terminated; exits on failure. */
static char *read_input(void)
{
    size_t size = 0, capacity = 4096, n;
    char *text = malloc(capacity);
    while (text != NULL &&
           (n = fread(text + size, 1, capacity - 1 - size, stdin)) > 0) {
        size += n;
        if (size + 1 == capacity)
            text = realloc(text, capacity *= 2);
    }
    if (text == NULL || ferror(stdin)) {
        fprintf(stderr, "cannot read stdin\n");
        exit(1);
    }
    text[size] = '\0';
    return text;
}

int main(int argc, char **argv)
{
    const char *mode = argc == 2 ? argv[1] : "";
    char *text;
    json_flat json;
    if (strcmp(mode, "parse") != 0 && strcmp(mode, "full") != 0 &&
        strcmp(mode, "refused") != 0 && strcmp(mode, "split") != 0 &&
        strcmp(mode, "split_refused") != 0) {
        fprintf(stderr, "usage: plan_json_check "
                        "parse|full|refused|split|split_refused < json\n");
        return 2;
    }
    text = read_input();
    if (!json_flatten(text, &json)) {
        fprintf(stderr, "not JSON:\n%s", text);
        return 1;
    }
    expect_text(&json, "format", "\"carve-plan\"");
    expect_number(&json, "version", 1);
    if (strcmp(mode, "full") == 0)
        check_full(&json);
    else if (strcmp(mode, "refused") == 0)
        check_refused(&json);
    else if (strcmp(mode, "split") == 0)
        check_split(&json);
    else if (strcmp(mode, "split_refused") == 0)
        check_split_refused(&json);
    json_free(&json);
    free(text);
    if (failures == 0)
        printf("the tool's JSON agrees with the library (%s)\n", mode);
    return failures == 0 ? 0 : 1;
}
