/*
 * core_fixture.h - an arena set in plain host memory, for running the
 * allocator core (the very code kernels run) on the host.
 */
#ifndef CORE_FIXTURE_H
#define CORE_FIXTURE_H

#include "carve_test.h"

/* carve_malloc, carve_free...: the calls kernels make, site and all. */
#include "carve_calls.h"
#include "free_refused.h"

typedef struct core_fixture {
    carve_plan plan;
    unsigned char *image;
} core_fixture;

/* Limits of an imaginary device that accepts anything up to 4 GiB. */
static inline carve_device_limits fixture_limits(void)
{
    carve_device_limits limits;
    limits.max_mem_alloc_size = 1ull << 32;
    limits.global_mem_size = 1ull << 33;
    limits.base_addr_align = 4096;
    return limits;
}

/* An image laid out by `params` (checks, logs, heap...). */
static inline core_fixture fixture_make_params(const carve_plan_params *params)
{
    core_fixture f;
    carve_device_limits limits = fixture_limits();
    REQUIRE_OK(carve_plan_compute(params, &limits, &f.plan));
    /* 4096-aligned like a real buffer, so address-based alignment of
     * carve_malloc_aligned behaves as on a device. */
    f.image = aligned_alloc(4096, (f.plan.total_bytes + 4095) & ~4095ull);
    if (f.image == NULL) {
        fprintf(stderr, "out of memory for a %" PRIu64 "-byte image\n",
                f.plan.total_bytes);
        exit(1);
    }
    /* Garbage in the arenas: the allocator must never rely on zeroed
     * arena bytes. */
    memset(f.image, 0xA5, (size_t)f.plan.total_bytes);
    REQUIRE_OK(carve_layout_format(f.image, (size_t)f.plan.total_bytes,
                                   &f.plan));
    return f;
}

/* `arenas` arenas of `bytes` bytes each, aligned to `alignment` (0: 128). */
static inline core_fixture fixture_make(uint64_t arenas, uint64_t bytes,
                                        uint32_t alignment)
{
    carve_plan_params params;
    memset(&params, 0, sizeof params);
    params.arena_count = arenas;
    params.arena_bytes = bytes;
    params.arena_alignment = alignment;
    return fixture_make_params(&params);
}

static inline void fixture_free(core_fixture *f)
{
    free(f->image);
    f->image = NULL;
}

static inline carve_arena fixture_open(core_fixture *f, uint32_t index)
{
    return carve_core_open(f->image, index);
}

/* Runs the invariant check; on failure says which invariant and where. */
#define EXPECT_INVARIANTS(arena)                                              \
    do {                                                                      \
        carve_core_report report_;                                            \
        if (carve_core_check((arena), &report_) != CARVE_CHECK_OK) {          \
            fprintf(stderr, "%s:%d: invariant %u broken at granule %u\n",     \
                    __FILE__, __LINE__, report_.broken, report_.granule);     \
            ++carve_test_failures;                                            \
        }                                                                     \
    } while (0)

#endif /* CORE_FIXTURE_H */
