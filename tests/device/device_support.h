/*
 * device_support.h - what the device tests share on top of carve_test.h:
 * plans and sets made in one call, launches followed by the allocator's
 * invariant check, plain OpenCL buffers for observations, and one pattern
 * function that host and kernels compute identically.
 *
 * Everything here stops the test (exit 1) when OpenCL or carve fails where
 * a test does not expect it; expectations about results use EXPECT.
 */
#ifndef CARVE_DEVICE_SUPPORT_H
#define CARVE_DEVICE_SUPPORT_H

#include "carve_test.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define DEV_STR(x) #x
#define DEV_XSTR(x) DEV_STR(x)

/* A byte of the fill pattern of block `tag` at byte `i`. Both arguments are
 * 32-bit unsigned: uint32_t on the host, uint on the device, so the same
 * expression gives the same byte on both sides. Kernels get it as
 * `dev_pattern(tag, i)` from DEV_KERNEL_PRELUDE. */
#define DEV_PATTERN(tag, i) \
    ((((tag) * 2654435761u) ^ ((i) * 2246822519u + 0x9e3779b9u)) >> 24)

static inline unsigned char dev_pattern(uint32_t tag, uint32_t i)
{
    return (unsigned char)DEV_PATTERN(tag, i);
}

/* Put at the top of every kernel source. */
#define DEV_KERNEL_PRELUDE                                                    \
    "#include \"carve.clh\"\n"                                                \
    "static inline uchar dev_pattern(uint tag, uint i)\n"                     \
    "{ return (uchar)(" DEV_XSTR(DEV_PATTERN(tag, i)) "); }\n"                \
    "static inline void dev_fill(global uchar *p, uint n, uint tag)\n"        \
    "{ for (uint i = 0; i < n; ++i) p[i] = dev_pattern(tag, i); }\n"          \
    "static inline uint dev_mismatches(global const uchar *p, uint n,\n"      \
    "                                  uint tag)\n"                           \
    "{ uint bad = 0; for (uint i = 0; i < n; ++i)\n"                          \
    "      bad += p[i] != dev_pattern(tag, i); return bad; }\n"

/* Bytes of [p, p + n) that differ from block `tag`'s pattern. */
static inline uint32_t dev_mismatches(const unsigned char *p, uint32_t n,
                                      uint32_t tag)
{
    uint32_t i, bad = 0;
    for (i = 0; i < n; ++i)
        bad += p[i] != dev_pattern(tag, i);
    return bad;
}

static inline double dev_seconds(void)
{
    struct timespec t;
    timespec_get(&t, TIME_UTC);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A plan with one arena of `arena_bytes` per work-item of the NDRange. */
static inline carve_plan dev_plan(const carve_test_cl *cl, cl_uint work_dim,
                                  const size_t *global, uint64_t arena_bytes)
{
    carve_plan_params params;
    carve_plan plan;
    cl_uint d;
    memset(&params, 0, sizeof params);
    params.work_dim = work_dim;
    for (d = 0; d < work_dim; ++d)
        params.global_size[d] = global[d];
    params.arena_bytes = arena_bytes;
    REQUIRE_OK(carve_plan_compute(&params, &cl->limits, &plan));
    return plan;
}

static inline carve_set *dev_set(const carve_test_cl *cl,
                                 const carve_plan *plan)
{
    carve_set *set = NULL;
    REQUIRE_OK(carve_set_create(cl->context, cl->device, cl->queue, plan, 0,
                                &set));
    return set;
}

/* Expects every arena of the set to hold the allocator's invariants. */
#define DEV_EXPECT_CHECK(set) dev_expect_check((set), __FILE__, __LINE__)

static inline void dev_expect_check(const carve_set *set, const char *file,
                                    int line)
{
    uint32_t bad = 0, broken = 0;
    carve_status status =
        carve_layout_check(carve_test_image(set), &bad, &broken);
    if (status != CARVE_SUCCESS) {
        fprintf(stderr,
                "%s:%d: carve_layout_check: %s (arena %u, invariant %u)\n",
                file, line, carve_status_string(status), (unsigned)bad,
                (unsigned)broken);
        ++carve_test_failures;
    }
}

/* carve_set_run over `global`, then the invariant check. */
#define DEV_RUN(set, kernel, work_dim, global)                                \
    do {                                                                      \
        REQUIRE_OK(carve_set_run((set), (kernel), 0, (work_dim), (global),    \
                                 NULL));                                      \
        DEV_EXPECT_CHECK(set);                                                \
    } while (0)

static inline void dev_arg(cl_kernel kernel, cl_uint index, size_t size,
                           const void *value)
{
    REQUIRE_OK(clSetKernelArg(kernel, index, size, value));
}

/* A device buffer initialised from `init` (or zeroed if init is NULL). */
static inline cl_mem dev_buffer(const carve_test_cl *cl, size_t bytes,
                                const void *init)
{
    cl_int err;
    void *zeros = init ? NULL : calloc(1, bytes);
    cl_mem mem;
    if (init == NULL && zeros == NULL) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    mem = clCreateBuffer(cl->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                         bytes, init ? (void *)(uintptr_t)init : zeros, &err);
    free(zeros);
    REQUIRE_OK(err);
    return mem;
}

static inline void dev_read(const carve_test_cl *cl, cl_mem mem, size_t bytes,
                            void *out)
{
    REQUIRE_OK(clEnqueueReadBuffer(cl->queue, mem, CL_TRUE, 0, bytes, out, 0,
                                   NULL, NULL));
}

static inline carve_arena_stats dev_stats(const carve_set *set, uint32_t index)
{
    carve_arena_stats stats;
    REQUIRE_OK(carve_layout_arena_stats(carve_test_image(set), index, &stats));
    return stats;
}

static inline carve_summary dev_summary(const carve_set *set)
{
    carve_summary summary;
    REQUIRE_OK(carve_layout_summary(carve_test_image(set), &summary));
    return summary;
}

static inline void *dev_xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (p == NULL) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    return p;
}

/* Where arena `index` starts in the buffer, in bytes from its base. */
static inline uint64_t dev_arena_start(const carve_plan *plan, uint32_t index)
{
    return plan->arenas_offset + (uint64_t)index * plan->arena_bytes;
}

#endif /* CARVE_DEVICE_SUPPORT_H */
