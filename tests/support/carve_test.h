/*
 * carve_test.h - what every carve test needs: checks that say where they
 * failed, a seeded PRNG, and an OpenCL context on the chosen device (or
 * exit 77, CTest's "skipped", when there is none).
 */
#ifndef CARVE_TEST_H
#define CARVE_TEST_H

#include <carve/carve.h>
/* The allocator and the calls kernels make, which the tests drive on the
 * host (kernels/; not part of the public header). */
#include "carve_calls.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CARVE_TEST_SKIP 77

/* Atomic: tests with threads record failures from each of them. */
static _Atomic int carve_test_failures;

/* Records a failed expectation and goes on. */
#define EXPECT(cond)                                                          \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__,       \
                    #cond);                                                   \
            ++carve_test_failures;                                            \
        }                                                                     \
    } while (0)

/* Stops the test when a carve/OpenCL call fails. */
#define REQUIRE_OK(call)                                                      \
    do {                                                                      \
        carve_status status_ = (call);                                        \
        if (status_ != CARVE_SUCCESS) {                                       \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__,     \
                    #call, carve_status_string(status_));                     \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

#define EXPECT_STATUS(call, expected)                                         \
    do {                                                                      \
        carve_status got_ = (call);                                           \
        if (got_ != (expected)) {                                             \
            fprintf(stderr, "%s:%d: %s gave %s, expected %s\n", __FILE__,     \
                    __LINE__, #call, carve_status_string(got_),               \
                    carve_status_string(expected));                           \
            ++carve_test_failures;                                            \
        }                                                                     \
    } while (0)

/* Ends main: prints the verdict and returns the exit code. */
/* A set's image for the carve_layout_* accessors, or NULL (which they
 * refuse) when carve_set_image refuses: tests that care why call
 * carve_set_image themselves. */
static inline void *carve_test_image(const carve_set *set)
{
    void *image = NULL;
    (void)carve_set_image(set, &image);
    return image;
}

static inline int carve_test_finish(const char *name)
{
    if (carve_test_failures == 0) {
        printf("%s: all checks passed\n", name);
        return 0;
    }
    fprintf(stderr, "%s: %d check(s) failed\n", name, carve_test_failures);
    return 1;
}

/* Whether all n bytes at p equal `value`. */
static inline int carve_test_holds(const unsigned char *p, size_t n,
                                   unsigned char value)
{
    size_t i;
    for (i = 0; i < n; ++i)
        if (p[i] != value)
            return 0;
    return 1;
}

/* xorshift64*: small, fast, reproducible from a printed seed. */
typedef struct carve_test_rng {
    uint64_t state;
} carve_test_rng;

static inline uint64_t carve_test_next(carve_test_rng *r)
{
    r->state ^= r->state >> 12;
    r->state ^= r->state << 25;
    r->state ^= r->state >> 27;
    return r->state * 0x2545F4914F6CDD1Dull;
}

/* A uniform value in [0, bound). */
static inline uint64_t carve_test_below(carve_test_rng *r, uint64_t bound)
{
    return bound ? carve_test_next(r) % bound : 0;
}

/* The seed: argv[1] or CARVE_TEST_SEED if given, else `fallback`. */
static inline uint64_t carve_test_seed(int argc, char **argv, uint64_t fallback)
{
    const char *text = argc > 1 ? argv[1] : getenv("CARVE_TEST_SEED");
    return text ? strtoull(text, NULL, 0) : fallback;
}

/* Whether CARVE_QUICK asks for a small run (set by the Oclgrind tests: a
 * simulator runs kernels thousands of times slower, with less memory). */
static inline int carve_test_quick(void)
{
    const char *text = getenv("CARVE_QUICK");
    return text != NULL && text[0] != '\0' && strcmp(text, "0") != 0;
}

typedef struct carve_test_cl {
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    carve_device_limits limits;
} carve_test_cl;

/* Opens the device chosen by CARVE_DEVICE (or the first one). Without one it
 * exits with 77, which CTest reports as skipped, unless CARVE_REQUIRE_DEVICE
 * is set (as in CI, where PoCL must be there): then it fails. */
static inline carve_test_cl carve_test_open_cl(void)
{
    carve_test_cl cl;
    cl_int err;
    if (carve_device_find(NULL, &cl.device) != CARVE_SUCCESS) {
        const char *required = getenv("CARVE_REQUIRE_DEVICE");
        if (required != NULL && required[0] != '\0' && required[0] != '0') {
            fprintf(stderr, "no OpenCL device, and CARVE_REQUIRE_DEVICE is "
                            "set: failing\n");
            exit(1);
        }
        printf("no OpenCL device: skipping\n");
        exit(CARVE_TEST_SKIP);
    }
    cl.context = clCreateContext(NULL, 1, &cl.device, NULL, NULL, &err);
    REQUIRE_OK(err);
    cl.queue = clCreateCommandQueue(cl.context, cl.device, 0, &err);
    REQUIRE_OK(err);
    REQUIRE_OK(carve_device_limits_query(cl.device, &cl.limits));
    return cl;
}

static inline void carve_test_close_cl(carve_test_cl *cl)
{
    clReleaseCommandQueue(cl->queue);
    clReleaseContext(cl->context);
}

/* Builds `source` with carve's headers; prints the log and exits on error. */
static inline cl_kernel carve_test_kernel(const carve_test_cl *cl,
                                          const char *source, const char *name,
                                          cl_program *program)
{
    char *log = NULL;
    cl_int err = carve_program_build(cl->context, cl->device, source, NULL,
                                     program, &log);
    cl_kernel kernel;
    if (err != CARVE_SUCCESS) {
        fprintf(stderr, "build failed: %s\n%s\n", carve_status_string(err),
                log ? log : "(no log)");
        free(log);
        exit(1);
    }
    kernel = clCreateKernel(*program, name, &err);
    REQUIRE_OK(err);
    return kernel;
}

#endif /* CARVE_TEST_H */
