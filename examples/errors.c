/*
 * errors.c - what carve tells you when something goes wrong, and what to
 * do about it. Each step makes one mistake on purpose, shows how a program
 * finds out (a status, a message, a reason code, a report) and recovers:
 *
 *   1. a plan too big for the device: the status and plan.message, which
 *      says what would fit; then a plan that does;
 *   2. a kernel that does not compile: the compiler's log;
 *   3. a launch of another NDRange than the plan's: NDRANGE_MISMATCH,
 *      then the planned launch;
 *   4. a device request that fails and a double free in a kernel: NULL and
 *      a reason with the call's line in the arena's statistics, and the
 *      post-mortem report;
 *   5. a zero-copy free of a pointer into the middle of an allocation:
 *      INVALID_ARGUMENT, and carve_zc_last_refusal says which mistake.
 *
 * The program checks that each mistake is reported as documented and
 * exits 0; any other outcome is a failure (exit 1).
 */
#include "example_support.h"

#include <carve/diagnostics.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORK_ITEMS 64u
#define ARENA_BYTES 256u
#define GREEDY_ITEM 7u      /* asks for more than its arena holds */
#define CARELESS_ITEM 9u    /* frees its block twice */

static const char kernel_source[] =
    "#include \"carve.clh\"\n"
    "\n"
    "kernel void mistakes(global uchar *carved, global uint *got_null)\n"
    "{\n"
    "    uint i = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, i);\n"
    "    global uint *block = carve_malloc(&a, 64);\n"
    "    if (i == 7) {\n"
    "        /* More than the arena: NULL, and the reason is recorded. */\n"
    "        got_null[i] = carve_malloc(&a, 4096) == 0;\n"
    "    }\n"
    "    if (i == 9) {\n"
    "        carve_free(&a, block);\n"
    "        carve_free(&a, block); /* refused, and recorded */\n"
    "    } else {\n"
    "        carve_free(&a, block);\n"
    "    }\n"
    "    carve_arena_close(&a);\n"
    "}\n";

static const char broken_source[] =
    "kernel void broken(global uint *out) { out[0] = undeclared_name; }\n";

static int failures;

/* Counts an outcome that differs from what carve documents. */
static void expect(int holds, const char *what)
{
    if (!holds) {
        printf("UNEXPECTED: %s\n", what);
        ++failures;
    }
}

/* 1. carve_plan_compute refuses a plan the device cannot hold, and says
 * what would fit. */
static carve_status plan_for_device(const example_opencl *cl, carve_plan *plan)
{
    carve_device_limits limits;
    carve_plan_params params;
    carve_status status = carve_device_limits_query(cl->device, &limits);
    if (status != CARVE_SUCCESS)
        return status;
    memset(&params, 0, sizeof params);
    params.work_dim = 1;
    params.global_size[0] = 1u << 20;
    params.arena_bytes = (uint64_t)1 << 30; /* 1 GiB per work-item */
    status = carve_plan_compute(&params, &limits, plan);
    printf("1. a plan of 1 GiB for each of 2^20 work-items: %s (%d)\n   %s\n",
           carve_status_string(status), (int)status, plan->message);
    expect(status != CARVE_SUCCESS && plan->message[0] != '\0',
           "a plan too big is refused with a message");
    expect(strstr(plan->message, "fit") != NULL,
           "the refusal says what would fit");
    /* The program's own decision: what it really needs per work-item. */
    params.global_size[0] = WORK_ITEMS;
    params.arena_bytes = ARENA_BYTES;
    params.options = CARVE_PLAN_CHECKS; /* call sites in the report */
    status = carve_plan_compute(&params, &limits, plan);
    printf("   planned instead: %u arenas of %u bytes\n", plan->arena_count,
           plan->arena_bytes);
    return status;
}

/* 2. carve_program_build returns the compiler's status and its log. */
static void build_broken_kernel(const example_opencl *cl)
{
    cl_program program = NULL;
    char *log = NULL;
    carve_status status = carve_program_build(cl->context, cl->device,
                                              broken_source, NULL, &program,
                                              &log);
    const char *first_error = log != NULL ? strstr(log, "error") : NULL;
    printf("2. a kernel that does not compile: %s (%d)\n",
           carve_status_string(status), (int)status);
    if (first_error != NULL)
        printf("   the log says: %.*s\n",
               (int)strcspn(first_error, "\n"), first_error);
    expect(status != CARVE_SUCCESS && log != NULL && first_error != NULL,
           "a failed build gives its status and the compiler's log");
    free(log);
    if (program != NULL)
        clReleaseProgram(program);
}

/* 5. A refused zero-copy pointer: the status, then the reason. */
static carve_status free_interior_pointer(const example_opencl *cl)
{
    carve_region_params params;
    carve_region *region = NULL;
    unsigned char *buffer;
    carve_status status;
    uint32_t reason;
    memset(&params, 0, sizeof params);
    params.backend = CARVE_BACKEND_AUTO;
    params.bytes = 64 * 1024;
    params.name = "buffers";
    status = carve_region_create(cl->context, cl->device, &params, &region);
    if (status != CARVE_SUCCESS)
        return status;
    buffer = carve_zc_malloc(region, 64);
    if (buffer == NULL) {
        status = carve_zc_last_status();
        carve_region_release(region);
        return status;
    }
    status = carve_zc_free(region, buffer + 16);
    reason = carve_zc_last_refusal();
    printf("5. carve_zc_free of a pointer 16 bytes into an allocation: "
           "%s (%d)\n   why: %s\n",
           carve_status_string(status), (int)status,
           carve_zc_refusal_string(reason));
    expect(status == CARVE_ERROR_INVALID_ARGUMENT &&
               reason == CARVE_ZC_REFUSED_INTERIOR,
           "an interior pointer is refused as one");
    expect(carve_zc_free(region, buffer) == CARVE_SUCCESS,
           "the allocation itself is still live and freed");
    carve_region_release(region);
    return CARVE_SUCCESS;
}

/* 4. What the kernel's mistakes left in the arenas' statistics and the
 * report. */
static carve_status read_device_mistakes(const carve_set *set,
                                         const cl_uint *got_null)
{
    carve_arena_stats greedy, careless;
    carve_report *report = NULL;
    void *image = NULL;
    carve_status status = carve_set_image(set, &image);
    if (status == CARVE_SUCCESS)
        status = carve_layout_arena_stats(image, GREEDY_ITEM, &greedy);
    if (status == CARVE_SUCCESS)
        status = carve_layout_arena_stats(image, CARELESS_ITEM, &careless);
    if (status != CARVE_SUCCESS)
        return status;
    printf("4. work-item %u got NULL: %s, at line %u of the kernel\n",
           GREEDY_ITEM, carve_failure_string(greedy.last_failure),
           CARVE_SITE_LINE(greedy.failure_site));
    printf("   work-item %u's second free was refused: %s, at line %u\n",
           CARELESS_ITEM, carve_misuse_string(careless.last_misuse),
           CARVE_SITE_LINE(careless.misuse_site));
    expect(got_null[GREEDY_ITEM] == 1 &&
               greedy.last_failure == CARVE_FAIL_TOO_LARGE &&
               CARVE_SITE_LINE(greedy.failure_site) == 10,
           "the failed request's reason and line are recorded");
    expect(careless.last_misuse == CARVE_MISUSE_FREED &&
               CARVE_SITE_LINE(careless.misuse_site) == 14,
           "the double free's reason and line are recorded");
    status = carve_layout_report(image, 3, &report);
    if (status != CARVE_SUCCESS)
        return status;
    printf("   the report:\n");
    status = carve_report_print(report, stdout, CARVE_FORMAT_TEXT);
    expect(report->error_count == 1 && report->failure_count == 1,
           "the report holds one error and one failure");
    carve_report_release(report);
    return status;
}

int main(void)
{
    example_opencl cl;
    carve_plan plan;
    carve_set *set = NULL;
    cl_program program = NULL;
    cl_kernel kernel = NULL;
    cl_mem got_null = NULL;
    cl_uint results[WORK_ITEMS];
    size_t planned = WORK_ITEMS, too_many = 2 * WORK_ITEMS;
    cl_int err = CL_SUCCESS;
    carve_status status = example_opencl_open(&cl);
    if (status == CARVE_ERROR_NO_DEVICE)
        return example_no_device_exit();
    if (status != CARVE_SUCCESS)
        return 1;
    EXAMPLE_CHECK(plan_for_device(&cl, &plan));
    build_broken_kernel(&cl);
    EXAMPLE_CHECK(example_kernel_build(&cl, kernel_source, "mistakes",
                                       &program, &kernel));
    EXAMPLE_CHECK(carve_set_create(cl.context, cl.device, cl.queue, &plan, 0,
                                   &set));
    memset(results, 0, sizeof results);
    got_null = clCreateBuffer(cl.context,
                              CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                              sizeof results, results, &err);
    EXAMPLE_CHECK(err);
    EXAMPLE_CHECK(clSetKernelArg(kernel, 1, sizeof got_null, &got_null));

    /* 3. The plan has WORK_ITEMS arenas: a launch of twice as many is
     * refused before anything is enqueued. */
    status = carve_set_run(set, kernel, 0, 1, &too_many, NULL);
    printf("3. a launch of %zu work-items on a plan for %zu: %s (%d)\n",
           too_many, planned, carve_status_string(status), (int)status);
    expect(status == CARVE_ERROR_NDRANGE_MISMATCH,
           "a launch of the wrong size is refused as one");
    EXAMPLE_CHECK(carve_set_run(set, kernel, 0, 1, &planned, NULL));
    EXAMPLE_CHECK(clEnqueueReadBuffer(cl.queue, got_null, CL_TRUE, 0,
                                      sizeof results, results, 0, NULL, NULL));
    EXAMPLE_CHECK(read_device_mistakes(set, results));
    EXAMPLE_CHECK(free_interior_pointer(&cl));

cleanup:
    if (got_null != NULL)
        clReleaseMemObject(got_null);
    if (kernel != NULL)
        clReleaseKernel(kernel);
    if (program != NULL)
        clReleaseProgram(program);
    carve_set_release(set);
    example_opencl_close(&cl);
    if (status != CARVE_SUCCESS || failures != 0) {
        printf("errors: FAILED (%d unexpected outcomes)\n", failures);
        return 1;
    }
    printf("errors: every mistake was reported as documented\n");
    return 0;
}
