/* example_support.c - see example_support.h. */
#include "example_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void example_print_failure(const char *call, carve_status status,
                           const char *file, int line)
{
    fflush(stdout); /* keep the report in order when both go to one log */
    fprintf(stderr, "%s:%d: %s failed: %s (%d)\n", file, line, call,
            carve_status_string(status), (int)status);
}

int example_no_device_exit(void)
{
    const char *required = getenv("CARVE_REQUIRE_DEVICE");
    if (required != NULL && required[0] != '\0' && strcmp(required, "0") != 0) {
        fprintf(stderr, "CARVE_REQUIRE_DEVICE is set: a missing device is a "
                        "failure\n");
        return 1;
    }
    return EXAMPLE_EXIT_SKIP;
}

carve_status example_opencl_open(example_opencl *cl)
{
    carve_status status;
    cl->context = NULL;
    cl->queue = NULL;
    status = carve_device_find(NULL, &cl->device);
    if (status == CARVE_ERROR_NO_DEVICE) {
        const char *selector = getenv("CARVE_DEVICE");
        if (selector != NULL && selector[0] != '\0')
            printf("no OpenCL device matches CARVE_DEVICE=\"%s\": skipped\n",
                   selector);
        else
            printf("no OpenCL device found: skipped\n");
        return status;
    }
    if (status == CARVE_SUCCESS)
        cl->context =
            clCreateContext(NULL, 1, &cl->device, NULL, NULL, &status);
    if (status == CARVE_SUCCESS)
        cl->queue = clCreateCommandQueue(cl->context, cl->device, 0, &status);
    if (status != CARVE_SUCCESS)
        example_print_failure("opening the OpenCL device", status, __FILE__,
                              __LINE__);
    return status;
}

void example_opencl_close(example_opencl *cl)
{
    if (cl->queue != NULL)
        clReleaseCommandQueue(cl->queue);
    if (cl->context != NULL)
        clReleaseContext(cl->context);
    cl->queue = NULL;
    cl->context = NULL;
}

carve_status example_kernel_build(const example_opencl *cl, const char *source,
                                  const char *name, cl_program *program,
                                  cl_kernel *kernel)
{
    char *log = NULL;
    carve_status status = carve_program_build(cl->context, cl->device, source,
                                              "-cl-std=CL1.2", program, &log);
    if (status != CARVE_SUCCESS && log != NULL) {
        fflush(stdout);
        fprintf(stderr, "kernel build log:\n%s\n", log);
    }
    free(log);
    if (status == CARVE_SUCCESS)
        *kernel = clCreateKernel(*program, name, &status);
    return status;
}

carve_status example_plan(const example_opencl *cl, size_t work_items,
                          uint64_t arena_bytes, carve_plan *plan)
{
    carve_plan_params params = {0};
    params.work_dim = 1;
    params.global_size[0] = work_items;
    params.arena_bytes = arena_bytes;
    return example_plan_params(cl, &params, plan);
}

carve_status example_plan_params(const example_opencl *cl,
                                 const carve_plan_params *params,
                                 carve_plan *plan)
{
    carve_device_limits limits;
    carve_status status = carve_device_limits_query(cl->device, &limits);
    if (status != CARVE_SUCCESS)
        return status;
    status = carve_plan_compute(params, &limits, plan);
    if (status != CARVE_SUCCESS) {
        fprintf(stderr, "the plan does not fit: %s\n", plan->message);
        return status;
    }
    return carve_plan_print(plan, stdout);
}

void example_print_zero_copy(const carve_set *set)
{
    carve_zero_copy_info info;
    if (carve_set_zero_copy(set, &info) != CARVE_SUCCESS)
        return;
    if (info.verified)
        printf("zero-copy: verified (%s: %s)\n", info.how, info.evidence);
    else
        printf("zero-copy: not shown (%s: %s); the results are still "
               "correct, but the device may work on a copy\n",
               info.how, info.evidence);
}

void example_print_summary(const carve_summary *s, uint32_t arena_bytes)
{
    printf("arenas: %u of %u opened, %u closed, %u refused opens\n",
           s->arenas_opened, s->arena_count, s->arenas_closed,
           s->open_failures);
    printf("requests: %llu allocations, %llu frees, %llu failed, %llu "
           "refused pointers\n",
           (unsigned long long)s->alloc_count,
           (unsigned long long)s->free_count,
           (unsigned long long)s->failed_count,
           (unsigned long long)s->misuse_count);
    printf("memory: %llu bytes in use after the kernel; largest arena peak "
           "%llu of %u bytes (footprint %llu)\n",
           (unsigned long long)s->in_use_bytes,
           (unsigned long long)s->max_peak_in_use_bytes,
           (unsigned)arena_bytes,
           (unsigned long long)s->max_peak_footprint_bytes);
}

int example_summary_healthy(const carve_summary *s)
{
    return s->arenas_opened == s->arena_count &&
           s->arenas_closed == s->arena_count && s->open_failures == 0 &&
           s->failed_count == 0 && s->misuse_count == 0;
}

/* Why the first arena that failed a request did so: the likeliest cause
 * is an arena planned too small. */
static void print_first_failure(const void *image, uint32_t arena_count)
{
    carve_arena_stats stats;
    uint32_t i;
    for (i = 0; i < arena_count; ++i) {
        if (carve_layout_arena_stats(image, i, &stats) == CARVE_SUCCESS &&
            (stats.failed_count != 0 || stats.misuse_count != 0)) {
            printf("arena %u: %u failed requests (last: %s, largest %u "
                   "bytes), %u refused pointers (last: %s)\n",
                   i, stats.failed_count,
                   carve_failure_string(stats.last_failure),
                   stats.largest_failed, stats.misuse_count,
                   carve_misuse_string(stats.last_misuse));
            return;
        }
    }
}

int example_report_set(const carve_set *set, carve_summary *summary)
{
    uint32_t bad_index = 0, broken = 0;
    void *image = NULL;
    carve_status status = carve_set_image(set, &image);
    int healthy;
    if (status == CARVE_SUCCESS)
        status = carve_layout_summary(image, summary);
    if (status != CARVE_SUCCESS) {
        example_print_failure("carve_layout_summary", status, __FILE__,
                              __LINE__);
        return 0;
    }
    example_print_summary(summary, carve_set_plan(set)->arena_bytes);
    healthy = example_summary_healthy(summary);
    if (!healthy)
        print_first_failure(image, summary->arena_count);
    status = carve_layout_check(image, &bad_index, &broken);
    if (status == CARVE_SUCCESS) {
        printf("invariant check: all %u arenas pass\n", summary->arena_count);
        return healthy;
    }
    if (status == CARVE_ERROR_ARENA_INVALID)
        printf("invariant check: FAILED, arena %u breaks invariant %u (a "
               "CARVE_CHECK_* code of carve_core.h)\n",
               bad_index, broken);
    else
        example_print_failure("carve_layout_check", status, __FILE__,
                              __LINE__);
    return 0;
}

uint64_t example_block_bytes(uint64_t bytes)
{
    return (bytes + CARVE_GRANULE - 1) / CARVE_GRANULE * CARVE_GRANULE;
}

uint64_t example_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

int example_quick(void)
{
    static int quick = -1;
    if (quick < 0) {
        const char *text = getenv("CARVE_QUICK");
        quick = text != NULL && text[0] != '\0' && strcmp(text, "0") != 0;
    }
    return quick;
}

uint32_t example_random_below(uint64_t *state, uint32_t bound)
{
    /* The bias of a 64-bit value reduced modulo a 32-bit bound is below
     * 2^-32: invisible in test data. */
    return (uint32_t)(example_random(state) % bound);
}
