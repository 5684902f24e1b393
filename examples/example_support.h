/*
 * example_support.h - the steps every carve example takes the same way:
 * open a device, build a kernel, plan, and report on a set after a launch.
 *
 * They live here so that each example shows only what is its own: the
 * kernel, the data, and the checks of the results.
 */
#ifndef CARVE_EXAMPLE_SUPPORT_H
#define CARVE_EXAMPLE_SUPPORT_H

#include <carve/carve.h>

#include <stdint.h>

/* CTest reads this exit code as "skipped" (SKIP_RETURN_CODE 77). */
#define EXAMPLE_EXIT_SKIP 77

/* The exit code for "no OpenCL device": skipped, unless the environment
 * sets CARVE_REQUIRE_DEVICE (as CI does, where PoCL must be there). */
int example_no_device_exit(void);

/* Evaluates `call` into the carve_status `status` in scope; on failure says
 * which call failed and why, then jumps to the `cleanup` label in scope. */
#define EXAMPLE_CHECK(call)                                              \
    do {                                                                 \
        status = (call);                                                 \
        if (status != CARVE_SUCCESS) {                                   \
            example_print_failure(#call, status, __FILE__, __LINE__);    \
            goto cleanup;                                                \
        }                                                                \
    } while (0)

typedef struct example_opencl {
    cl_device_id device;
    cl_context context;
    cl_command_queue queue; /* in order, as carve_set_create requires */
} example_opencl;

void example_print_failure(const char *call, carve_status status,
                           const char *file, int line);

/* Picks the device (CARVE_DEVICE selects one; see carve_device_find) and
 * creates a context and an in-order queue on it. Returns
 * CARVE_ERROR_NO_DEVICE, after saying so, when there is none to use.
 * Release with example_opencl_close, also after a failure. */
carve_status example_opencl_open(example_opencl *cl);
void example_opencl_close(example_opencl *cl);

/* Builds `source` as OpenCL C 1.2 and creates its kernel `name`; prints the
 * compiler's log when the source does not compile. */
carve_status example_kernel_build(const example_opencl *cl, const char *source,
                                  const char *name, cl_program *program,
                                  cl_kernel *kernel);

/* Plans one arena of `arena_bytes` per work-item of a 1-D NDRange of
 * `work_items`, and prints the plan (or why it does not fit the device). */
carve_status example_plan(const example_opencl *cl, size_t work_items,
                          uint64_t arena_bytes, carve_plan *plan);

/* The same for a plan of any shape (a heap, checks, logs). */
carve_status example_plan_params(const example_opencl *cl,
                                 const carve_plan_params *params,
                                 carve_plan *plan);

/* Says whether the device was shown to work on the host's own bytes. */
void example_print_zero_copy(const carve_set *set);

/* Prints a summary's arenas, requests and memory (arenas of arena_bytes). */
void example_print_summary(const carve_summary *s, uint32_t arena_bytes);
/* 1 when every arena was opened and closed, with no failed request and no
 * refused pointer. */
int example_summary_healthy(const carve_summary *s);

/* Prints the set's statistics and runs the invariant check of every arena.
 * Returns 1 when every arena passed the check and was opened and closed,
 * with no failed request and no refused pointer; otherwise says what went
 * wrong and returns 0. Fills *summary for the caller's own checks. */
int example_report_set(const carve_set *set, carve_summary *summary);

/* The arena bytes a request of `bytes` occupies: carve hands out whole
 * granules (CARVE_GRANULE, 16 bytes) and keeps its metadata elsewhere. */
uint64_t example_block_bytes(uint64_t bytes);

/* Whether CARVE_QUICK asks for a small run, as the Oclgrind tests do: a
 * simulator runs kernels thousands of times slower, with less memory. */
int example_quick(void);

/* A seeded pseudo-random generator (splitmix64): the same seed gives the
 * same data on every machine, so a failure can be reproduced. */
uint64_t example_random(uint64_t *state);

/* A number in [0, bound), bound > 0. */
uint32_t example_random_below(uint64_t *state, uint32_t bound);

#endif /* CARVE_EXAMPLE_SUPPORT_H */
