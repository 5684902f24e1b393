/*
 * host_varlen.c - bench_alloc's variable-length output on the host, one
 * thread, for counting what carve's allocator costs a work-item there
 * (callgrind is repeatable where times on a shared machine are not).
 *
 *   bench_host_varlen PLAN ITEMS
 *     PLAN   largest  every arena holds the longest output (bench_alloc's
 *                     "carve")
 *            fitted   arenas of 256 words, the shared heap for the longer
 *                     outputs (bench_alloc's "carve, fitted + heap")
 *            none     the same loop writing into a fixed slot of each
 *                     arena, no allocator call: the floor the two are
 *                     measured against
 *   e.g. valgrind --tool=callgrind --toggle-collect=run_items \
 *          bench_host_varlen largest 65536
 *
 * Each item does what the kernel varlen_carve in alloc.c does: open its
 * arena, carve_malloc 16 words, write its Collatz trajectory, doubling the
 * block by carve_realloc when full, leave it as the root and close. The
 * workload runs twice from a reset (the second is timed) and every output
 * is read back and checked (exit 1 on a wrong one).
 */
#include "bench.h"
#include "workload.h"

#include <carve/carve.h>
#include "carve_calls.h" /* the allocator, as kernels call it */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_FN static inline
typedef uint32_t bench_u32;
BENCH_WORKLOAD(BENCH_WORKLOAD_EXPAND)

/* alloc.c's VARLEN_ARENA_BYTES (the largest cap a block doubles to) and
 * VARLEN_FITTED_CAP. */
#define LARGEST_ARENA_BYTES ((1u + 512u) * 4u)
#define FITTED_CAP 256u

typedef enum varlen_plan { PLAN_LARGEST, PLAN_FITTED, PLAN_NONE } varlen_plan;

/* The items, as the kernel runs them; out of line so that callgrind can
 * count it alone. */
__attribute__((noinline)) static void run_items(carve_u8 *memory,
                                                uint32_t items, int allocate)
{
    const carve_set_header *h = (const carve_set_header *)memory;
    uint32_t id;
    for (id = 0; id < items; ++id) {
        uint32_t cap = 16u, n = 0u, v = bench_varlen_start(id);
        carve_arena a = carve_arena_open(memory, id);
        uint32_t *out =
            allocate ? carve_malloc(&a, (1u + cap) * 4u)
                     : (uint32_t *)(memory + h->arenas_offset +
                                    (size_t)id * h->arena_stride);
        while (out != NULL && v != 1u && n < BENCH_VARLEN_MAX) {
            if (n == cap) {
                uint32_t *grown =
                    allocate ? carve_realloc(&a, out, (1u + 2u * cap) * 4u)
                             : out;
                if (grown == NULL)
                    break;
                out = grown;
                cap *= 2u;
            }
            out[1u + n++] = v;
            v = bench_varlen_next(v);
        }
        if (out != NULL)
            out[0] = n;
        carve_set_root(&a, allocate ? out : NULL);
        carve_arena_close(&a);
    }
}

static uint32_t length_of(uint32_t id)
{
    uint32_t n = 0u, v = bench_varlen_start(id);
    while (v != 1u && n < BENCH_VARLEN_MAX) {
        ++n;
        v = bench_varlen_next(v);
    }
    return n;
}

/* The words item id left: at its root, or in its fixed slot. */
static const uint32_t *output_of(void *image, uint32_t id, int allocate)
{
    const carve_set_header *h = image;
    carve_arena_stats st;
    const uint32_t *head;
    if (!allocate)
        return (const uint32_t *)((const carve_u8 *)image + h->arenas_offset +
                                  (size_t)id * h->arena_stride);
    if (carve_layout_arena_stats(image, id, &st) != CARVE_SUCCESS ||
        (head = carve_layout_block(image, id, st.root, 4)) == NULL)
        return NULL;
    return carve_layout_block(image, id, st.root, 4u * (1u + head[0]));
}

static int outputs_ok(void *image, uint32_t items, int allocate)
{
    uint32_t id, i, x;
    for (id = 0; id < items; ++id) {
        const uint32_t *words = output_of(image, id, allocate);
        uint32_t n = length_of(id);
        if (words == NULL || words[0] != n) {
            fprintf(stderr, "item %u: no output of %u words\n", (unsigned)id,
                    (unsigned)n);
            return 0;
        }
        for (i = 0, x = bench_varlen_start(id); i < n;
             ++i, x = bench_varlen_next(x))
            if (words[1u + i] != x) {
                fprintf(stderr, "item %u, word %u: %u, expected %u\n",
                        (unsigned)id, (unsigned)i, (unsigned)words[1u + i],
                        (unsigned)x);
                return 0;
            }
    }
    return carve_layout_check(image, NULL, NULL) == CARVE_SUCCESS;
}

static void *image_for(varlen_plan plan, uint32_t items)
{
    /* Limits of a host "device": nothing but carve's own ones apply. */
    carve_device_limits limits = {UINT64_MAX, UINT64_MAX, 4096};
    carve_plan_params params;
    carve_plan made;
    uint32_t id, long_items = 0;
    void *image;
    memset(&params, 0, sizeof params);
    params.arena_count = items;
    params.arena_bytes = LARGEST_ARENA_BYTES;
    if (plan == PLAN_FITTED) {
        for (id = 0; id < items; ++id)
            long_items += length_of(id) > FITTED_CAP;
        params.arena_bytes = (1u + FITTED_CAP) * 4u;
        params.heap_bytes = (uint64_t)long_items * 2u * 4096u + (1u << 20);
        params.large_request_bytes = params.arena_bytes + 1u;
        params.options = CARVE_PLAN_HEAP_FALLBACK;
    }
    if (carve_plan_compute(&params, &limits, &made) != CARVE_SUCCESS)
        bench_fail("plan: %s", made.message);
    image = aligned_alloc(4096, (made.total_bytes + 4095) / 4096 * 4096);
    if (image == NULL)
        bench_fail("out of host memory");
    if (carve_layout_format(image, (size_t)made.total_bytes, &made) !=
        CARVE_SUCCESS)
        bench_fail("carve_layout_format failed");
    return image;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"largest", "fitted", "none"};
    varlen_plan plan = PLAN_NONE;
    uint32_t items, i;
    double start, seconds;
    void *image;
    int known = 0;
    if (argc == 3)
        for (i = 0; i < 3; ++i)
            if (strcmp(argv[1], names[i]) == 0) {
                plan = (varlen_plan)i;
                known = 1;
            }
    items = argc == 3 ? (uint32_t)strtoul(argv[2], NULL, 0) : 0;
    if (!known || items == 0 || items > (1u << 20)) {
        fprintf(stderr, "usage: %s largest|fitted|none ITEMS (1 to 2^20)\n",
                argv[0]);
        return 2;
    }
    image = image_for(plan, items);
    /* The first run pays for first touches of fresh pages. */
    run_items(image, items, plan != PLAN_NONE);
    if (carve_layout_reset(image) != CARVE_SUCCESS)
        bench_fail("carve_layout_reset failed");
    start = bench_now();
    run_items(image, items, plan != PLAN_NONE);
    seconds = bench_now() - start;
    if (!outputs_ok(image, items, plan != PLAN_NONE))
        bench_fail("%s: wrong output", argv[1]);
    printf("%s: %u items in %.3f ms: %.1f ns per item\n", argv[1],
           (unsigned)items, seconds * 1e3, seconds * 1e9 / items);
    free(image);
    return 0;
}
