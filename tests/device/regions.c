/*
 * regions.c - one suite of region and zero-copy allocation checks, run on
 * every backend the device supports (and on host memory under the
 * coherence check, which must let a correct program through untouched).
 *
 * Per backend: creation and what the region reports (zero-copy proven by
 * the probe where the device is known to share memory: PoCL); malloc,
 * calloc, memalign (up to 4096) and realloc with C's semantics; exact
 * statistics and the invariant check after every step; kernels that read
 * what the host wrote and write results the host reads in place, with no
 * read or write command; refusals with exact statuses; cache hooks called
 * with the right ranges (user memory); an arena set carved from the region
 * and run; exhaustion; four threads allocating at once.
 *
 * Then, once: 256 live regions reach CARVE_ERROR_LIMIT (cheap, because the
 * probe is built once per device), and on a device known to copy
 * (Oclgrind) the probe must say so and CARVE_ERROR_NOT_ZERO_COPY follow.
 *
 * Usage: device_regions [seed]   (the threads' seed; printed)
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "device_support.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#define REGION_BYTES (1u << 20)
#define THREADS 4
#define THREAD_OPS 1500
#define THREAD_SLOTS 24
#define ITEMS 1000u
#define SET_ITEMS 64u
#define SET_ARENA_BYTES 512u

static const char *const source = DEV_KERNEL_PRELUDE
    "kernel void transform(global const uint *in, global uint *out,\n"
    "                      global ulong *seen, uint n)\n"
    "{\n"
    "    uint i = get_global_id(0);\n"
    "    if (i < n)\n"
    "        out[i] = in[i] * 3u + 1u;\n"
    "    if (i == 0) {\n"
    "        seen[0] = (ulong)(uintptr_t)in;\n"
    "        seen[1] = (ulong)(uintptr_t)out;\n"
    "    }\n"
    "}\n"
    "kernel void keep_one(global uchar *carved)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uchar *kept = carve_malloc(&a, 48);\n"
    "    global uchar *dropped = carve_malloc(&a, 32);\n"
    "    if (kept != 0)\n"
    "        dev_fill(kept, 48, id);\n"
    "    carve_free(&a, dropped);\n"
    "    carve_set_root(&a, kept);\n"
    "    carve_arena_close(&a);\n"
    "}\n";

/* What the device is known to do with host memory. */
typedef enum sharing { SHARING_UNKNOWN, SHARING_ZERO_COPY, SHARING_COPIES } sharing;

typedef struct hook_call {
    int write_back; /* else invalidate */
    void *ptr;
    size_t bytes;
} hook_call;

typedef struct hook_log {
    int count;
    hook_call calls[8];
} hook_log;

/* One backend's run. */
typedef struct suite {
    const carve_test_cl *cl;
    carve_backend backend;
    uint32_t flags;
    const char *label;
    sharing device_sharing;
    uint64_t alignment; /* what the regions must report */
    cl_kernel transform, keep_one;
    hook_log hooks;
    int failures_before;
} suite;

#define EXPECT_REGION_OK(region)                                              \
    do {                                                                      \
        const char *why_ = NULL;                                              \
        if (carve_region_check((region), &why_) != CARVE_SUCCESS) {           \
            fprintf(stderr, "%s:%d: region invariant: %s\n", __FILE__,        \
                    __LINE__, why_ ? why_ : "?");                             \
            ++carve_test_failures;                                            \
        }                                                                     \
    } while (0)

/* A NULL result with exactly `status` as the reason. */
#define EXPECT_REFUSED(call, status)                                          \
    do {                                                                      \
        void *refused_ = (call);                                              \
        EXPECT(refused_ == NULL);                                             \
        EXPECT_STATUS(carve_zc_last_status(), (status));                      \
    } while (0)

static void record_hook(void *context, int write_back, void *ptr,
                        size_t bytes)
{
    hook_log *log = context;
    if (log->count < (int)(sizeof log->calls / sizeof log->calls[0])) {
        log->calls[log->count].write_back = write_back;
        log->calls[log->count].ptr = ptr;
        log->calls[log->count].bytes = bytes;
    }
    log->count++;
}

static void on_write_back(void *context, void *ptr, size_t bytes)
{
    record_hook(context, 1, ptr, bytes);
}

static void on_invalidate(void *context, void *ptr, size_t bytes)
{
    record_hook(context, 0, ptr, bytes);
}

/* Expects exactly one hook call since the log was cleared, then clears it.
 * Backends without hooks must see none. */
static void expect_hook(suite *s, int write_back, const void *ptr,
                        size_t bytes)
{
    if (s->backend != CARVE_BACKEND_USER_MEMORY) {
        EXPECT(s->hooks.count == 0);
        return;
    }
    EXPECT(s->hooks.count == 1);
    EXPECT(s->hooks.calls[0].write_back == write_back);
    EXPECT(s->hooks.calls[0].ptr == ptr);
    EXPECT(s->hooks.calls[0].bytes == bytes);
    s->hooks.count = 0;
}

static void *map_pages(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "mmap of %zu bytes failed\n", bytes);
        exit(1);
    }
    return p;
}

/* A region of this suite's backend. User memory is mapped here and
 * unmapped by close_region. */
static carve_region *open_region(suite *s, uint64_t bytes, uint64_t alignment,
                                 const char *name)
{
    carve_region_params params;
    carve_region *region = NULL;
    memset(&params, 0, sizeof params);
    params.backend = s->backend;
    params.bytes = bytes;
    params.alignment = alignment;
    params.flags = s->flags;
    params.name = name;
    if (s->backend == CARVE_BACKEND_USER_MEMORY) {
        params.user_base = map_pages((size_t)bytes);
        params.user_physical = 0x80000000u; /* kept for the hooks only */
        params.write_back = on_write_back;
        params.invalidate = on_invalidate;
        params.hook_context = &s->hooks;
    }
    REQUIRE_OK(carve_region_create(s->cl->context, s->cl->device, &params,
                                   &region));
    s->hooks.count = 0; /* the probe's hand-overs */
    return region;
}

static void close_region(carve_region *region)
{
    carve_region_info info;
    int user;
    REQUIRE_OK(carve_region_get_info(region, &info));
    user = info.backend == CARVE_BACKEND_USER_MEMORY;
    carve_region_release(region);
    if (user)
        munmap(info.host_base, (size_t)info.bytes);
}

static carve_region_info info_of(carve_region *region)
{
    carve_region_info info;
    REQUIRE_OK(carve_region_get_info(region, &info));
    return info;
}

static uint64_t rounded(const suite *s, uint64_t bytes)
{
    return (bytes + s->alignment - 1) / s->alignment * s->alignment;
}

/* Expects the region's statistics to be exactly these. */
#define EXPECT_STATS(region, in_use_, peak_, live_, failed_)                  \
    do {                                                                      \
        carve_region_info i_ = info_of(region);                              \
        EXPECT(i_.in_use == (in_use_));                                       \
        EXPECT(i_.peak_in_use == (peak_));                                    \
        EXPECT(i_.live_allocations == (live_));                               \
        EXPECT(i_.failed_requests == (failed_));                              \
        EXPECT_REGION_OK(region);                                             \
    } while (0)

static int aligned(const void *p, uint64_t alignment)
{
    return ((uintptr_t)p & (alignment - 1)) == 0;
}

/* ---- creation and what the region says -------------------------------------- */

static void test_info(suite *s, carve_region *region)
{
    carve_region_info info = info_of(region);
    unsigned char *base = info.host_base;
    EXPECT(info.backend == s->backend);
    EXPECT(strcmp(info.backend_name, carve_backend_name(s->backend)) == 0);
    EXPECT(strcmp(info.name, "main") == 0);
    EXPECT(info.bytes == REGION_BYTES && info.alignment == s->alignment);
    EXPECT(base != NULL && aligned(base, s->alignment));
    EXPECT(info.largest_free == REGION_BYTES && info.fallback == NULL);
    EXPECT_STATS(region, 0, 0, 0, 0); /* the probe left no trace */
    EXPECT(carve_zc_region_of(base) == region);
    EXPECT(carve_zc_region_of(base + REGION_BYTES - 1) == region);
    EXPECT(carve_zc_region_of(base + REGION_BYTES) != region);
    EXPECT(carve_zc_region_of(base - 1) != region);
    EXPECT(carve_zc_region_of(&info) == NULL);
    EXPECT(carve_zc_region_of(NULL) == NULL);
    printf("  %s: zero-copy %s; %s\n", s->label,
           info.zero_copy_verified ? "verified" : "NOT verified",
           info.zero_copy_evidence);
    if (s->device_sharing == SHARING_ZERO_COPY) {
        EXPECT(info.zero_copy_verified == 1);
        /* one view: the device's address is the host's; the coherence
         * check gives the device a second view of the same pages */
        EXPECT((info.device_address == (uint64_t)(uintptr_t)base) ==
               !(s->flags & CARVE_REGION_COHERENCE_CHECK));
    } else if (s->device_sharing == SHARING_COPIES) {
        EXPECT(info.zero_copy_verified == 0);
    }
}

/* ---- malloc, calloc, memalign ------------------------------------------------- */

static void test_allocation(suite *s, carve_region *region)
{
    const uint64_t a = s->alignment;
    unsigned char *p, *q, *dirty, *zeroed, *page;

    EXPECT_REFUSED(carve_zc_malloc(region, 0), CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_REFUSED(carve_zc_malloc(NULL, 16), CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_REFUSED(carve_zc_calloc(region, SIZE_MAX / 2, 3),
                   CARVE_ERROR_SIZE_OVERFLOW);
    EXPECT_REFUSED(carve_zc_calloc(region, 0, 8), CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_REFUSED(carve_zc_memalign(region, 48, 16),
                   CARVE_ERROR_INVALID_ALIGNMENT);
    EXPECT_REFUSED(carve_zc_memalign(region, 0, 16),
                   CARVE_ERROR_INVALID_ALIGNMENT);
    EXPECT_STATS(region, 0, 0, 0, 0);

    p = carve_zc_malloc(region, 100);
    EXPECT(p != NULL && aligned(p, a) && carve_zc_region_of(p) == region);
    EXPECT_STATS(region, a, a, 1, 0);
    memset(p, 0x5a, 100);

    /* calloc zeroes memory that held something */
    dirty = carve_zc_malloc(region, 3 * a);
    EXPECT(dirty != NULL);
    memset(dirty, 0xab, 3 * a);
    EXPECT_STATUS(carve_zc_free(region, dirty), CARVE_SUCCESS);
    zeroed = carve_zc_calloc(region, 3, a);
    EXPECT(zeroed == dirty); /* the same block again: the test means it */
    EXPECT(zeroed != NULL && carve_test_holds(zeroed, 3 * a, 0));
    EXPECT_STATS(region, 4 * a, 4 * a, 2, 0);

    /* a smaller alignment than the region's means the region's */
    q = carve_zc_memalign(region, 16, 1);
    EXPECT(q != NULL && aligned(q, a));
    page = carve_zc_memalign(region, 4096, 10);
    EXPECT(page != NULL && aligned(page, 4096));
    EXPECT(info_of(region).live_allocations == 4);
    EXPECT(carve_test_holds(p, 100, 0x5a));

    EXPECT_STATUS(carve_zc_free(region, NULL), CARVE_SUCCESS);
    EXPECT_STATUS(carve_zc_free(region, q), CARVE_SUCCESS);
    EXPECT_STATUS(carve_zc_free(region, page), CARVE_SUCCESS);
    EXPECT_STATUS(carve_zc_free(region, zeroed), CARVE_SUCCESS);
    EXPECT_STATUS(carve_zc_free(region, p), CARVE_SUCCESS);
    EXPECT(info_of(region).in_use == 0 && info_of(region).live_allocations == 0);
    EXPECT(info_of(region).largest_free == REGION_BYTES);
    EXPECT_REGION_OK(region);
}

/* A region with an alignment of 4096 asked for hands out only page-aligned
 * allocations; one with 16 asked for still aligns to the device's base. */
static void test_region_alignment(suite *s)
{
    carve_region *pages = open_region(s, 64 * 1024, 4096, "pages");
    carve_region *small = open_region(s, 64 * 1024, 16, "small");
    void *p = carve_zc_malloc(pages, 1), *q = carve_zc_malloc(pages, 4097);
    void *r = carve_zc_malloc(small, 1);
    EXPECT(info_of(pages).alignment == 4096);
    EXPECT(info_of(small).alignment == s->alignment);
    EXPECT(p != NULL && aligned(p, 4096) && q != NULL && aligned(q, 4096));
    EXPECT(info_of(pages).in_use == 3 * 4096);
    EXPECT(r != NULL && aligned(r, s->alignment));
    EXPECT(info_of(small).in_use == s->alignment);
    EXPECT_REGION_OK(pages);
    EXPECT_REGION_OK(small);
    close_region(pages);
    close_region(small);
}

/* ---- realloc ------------------------------------------------------------------- */

/* The peak after `in_use` was reached, given the peak before. */
#define PEAK(before, in_use) ((before) > (in_use) ? (before) : (in_use))

static void test_realloc(suite *s, carve_region *region)
{
    const uint64_t a = s->alignment, p0 = info_of(region).peak_in_use;
    unsigned char *p, *grown, *blocker, *moved, *shrunk;
    uint64_t i;

    p = carve_zc_realloc(region, NULL, a); /* NULL: allocates */
    EXPECT(p != NULL && p == (unsigned char *)info_of(region).host_base);
    EXPECT_STATS(region, a, PEAK(p0, a), 1, 0);

    grown = carve_zc_realloc(region, p, 3 * a); /* the next block is free */
    EXPECT(grown == p);
    EXPECT_STATS(region, 3 * a, PEAK(p0, 3 * a), 1, 0);
    for (i = 0; i < 3 * a; ++i)
        grown[i] = dev_pattern(1, (uint32_t)i);

    blocker = carve_zc_malloc(region, a);
    EXPECT(blocker == grown + 3 * a);
    memset(blocker, 0x3c, a);
    moved = carve_zc_realloc(region, grown, 5 * a); /* blocked: it moves */
    EXPECT(moved != NULL && moved != grown && aligned(moved, a));
    EXPECT(moved != NULL && dev_mismatches(moved, (uint32_t)(3 * a), 1) == 0);
    EXPECT_STATS(region, 6 * a, PEAK(p0, 9 * a), 2, 0);
    /* the old block is gone */
    EXPECT_STATUS(carve_zc_free(region, grown), CARVE_ERROR_INVALID_ARGUMENT);

    shrunk = carve_zc_realloc(region, moved, a + 1);
    EXPECT(shrunk == moved);
    EXPECT_STATS(region, 3 * a, PEAK(p0, 9 * a), 2, 0);
    EXPECT(dev_mismatches(shrunk, (uint32_t)(a + 1), 1) == 0);

    /* too big: NULL, and the block stays as it was */
    EXPECT_REFUSED(carve_zc_realloc(region, shrunk, 2 * REGION_BYTES),
                   CARVE_ERROR_TIER_FULL);
    EXPECT_STATS(region, 3 * a, PEAK(p0, 9 * a), 2, 1);
    EXPECT(dev_mismatches(shrunk, (uint32_t)(a + 1), 1) == 0);

    /* realloc(p, 0) frees and is no failure: the last status stays */
    EXPECT_REFUSED(carve_zc_calloc(region, SIZE_MAX, 2),
                   CARVE_ERROR_SIZE_OVERFLOW);
    EXPECT(carve_zc_realloc(region, shrunk, 0) == NULL);
    EXPECT_STATUS(carve_zc_last_status(), CARVE_ERROR_SIZE_OVERFLOW);
    EXPECT_STATUS(carve_zc_free(region, shrunk), CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATS(region, a, PEAK(p0, 9 * a), 1, 1);

    EXPECT(carve_test_holds(blocker, a, 0x3c)); /* no move wrote over a neighbour */
    EXPECT_STATUS(carve_zc_free(NULL, blocker), CARVE_SUCCESS);
    EXPECT_STATS(region, 0, PEAK(p0, 9 * a), 0, 1);
}

/* ---- kernels on allocations, results read in place ------------------------------- */

static void test_kernel(suite *s, carve_region *region)
{
    const size_t items = ITEMS, in_bytes = ITEMS * sizeof(uint32_t);
    carve_region_info info = info_of(region);
    uint32_t *in = carve_zc_malloc(region, in_bytes);
    uint32_t *out = carve_zc_memalign(region, 4096, in_bytes);
    uint64_t *seen = carve_zc_calloc(region, 2, sizeof(uint64_t));
    const cl_uint n = ITEMS;
    cl_event done;
    uint32_t i, wrong = 0;

    if (in == NULL || out == NULL || seen == NULL) {
        fprintf(stderr, "%s: kernel buffers: %s\n", s->label,
                carve_status_string(carve_zc_last_status()));
        exit(1);
    }
    for (i = 0; i < ITEMS; ++i) {
        in[i] = i * 7u + 5u;
        out[i] = 0xdeadbeefu;
    }
    REQUIRE_OK(carve_zc_set_arg(s->transform, 0, in));
    REQUIRE_OK(carve_zc_set_arg(s->transform, 1, out));
    REQUIRE_OK(carve_zc_set_arg(s->transform, 2, seen));
    dev_arg(s->transform, 3, sizeof n, &n);

    s->hooks.count = 0;
    REQUIRE_OK(carve_zc_to_device(in, 0));
    expect_hook(s, 1, in, in_bytes); /* all the bytes asked for */
    REQUIRE_OK(carve_zc_to_device(in, 0)); /* idempotent, no second hook */
    EXPECT(s->hooks.count == 0);
    REQUIRE_OK(carve_zc_to_device(out, 64));
    expect_hook(s, 1, out, 64); /* the range given */
    REQUIRE_OK(carve_zc_to_device(seen, 0));
    s->hooks.count = 0;

    REQUIRE_OK(clEnqueueNDRangeKernel(s->cl->queue, s->transform, 1, NULL,
                                      &items, NULL, 0, NULL, &done));
    REQUIRE_OK(clFlush(s->cl->queue));
    REQUIRE_OK(carve_zc_to_host(out, 0, 1, &done));
    expect_hook(s, 0, out, in_bytes);
    REQUIRE_OK(carve_zc_to_host(seen, 0, 1, &done));
    s->hooks.count = 0;
    REQUIRE_OK(carve_zc_to_host(in, 100, 1, &done));
    expect_hook(s, 0, in, 100);
    REQUIRE_OK(carve_zc_to_host(in, 0, 0, NULL)); /* host owns it: no hook */
    EXPECT(s->hooks.count == 0);
    clReleaseEvent(done);

    for (i = 0; i < ITEMS; ++i)
        wrong += out[i] != in[i] * 3u + 1u;
    EXPECT(wrong == 0);
    if (s->device_sharing == SHARING_ZERO_COPY) {
        /* the device worked on these very bytes, where the probe said */
        EXPECT(seen[0] == info.device_address +
                              (uint64_t)((unsigned char *)in -
                                         (unsigned char *)info.host_base));
        EXPECT(seen[1] % 4096 == 0);
    }
    printf("  %s: kernel computed %u values in place (device saw in at "
           "0x%llx)\n",
           s->label, ITEMS - wrong, (unsigned long long)seen[0]);

    /* run it again on the same allocations: the sub-buffers are reused */
    for (i = 0; i < ITEMS; ++i)
        in[i] = i;
    REQUIRE_OK(carve_zc_to_device(in, 0));
    REQUIRE_OK(carve_zc_to_device(out, 0));
    REQUIRE_OK(carve_zc_to_device(seen, 0));
    REQUIRE_OK(clEnqueueNDRangeKernel(s->cl->queue, s->transform, 1, NULL,
                                      &items, NULL, 0, NULL, NULL));
    REQUIRE_OK(clFinish(s->cl->queue));
    REQUIRE_OK(carve_zc_to_host(out, 0, 0, NULL));
    REQUIRE_OK(carve_zc_to_host(in, 0, 0, NULL));
    REQUIRE_OK(carve_zc_to_host(seen, 0, 0, NULL));
    for (i = 0, wrong = 0; i < ITEMS; ++i)
        wrong += out[i] != i * 3u + 1u;
    EXPECT(wrong == 0);
    EXPECT_REGION_OK(region);
    s->hooks.count = 0;

    REQUIRE_OK(carve_zc_free(region, in));
    REQUIRE_OK(carve_zc_free(region, out));
    REQUIRE_OK(carve_zc_free(region, seen));
    EXPECT(info_of(region).live_allocations == 0);
    EXPECT_REGION_OK(region);
}

/* ---- refusals ------------------------------------------------------------------------ */

/* Every call that takes an allocation refuses `ptr` with INVALID_ARGUMENT
 * and changes nothing. */
static void expect_not_an_allocation(suite *s, carve_region *region,
                                     void *ptr)
{
    carve_region_info before = info_of(region), after;
    EXPECT_STATUS(carve_zc_free(region, ptr), CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_zc_free(NULL, ptr), CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_REFUSED(carve_zc_realloc(region, ptr, 64),
                   CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_zc_set_arg(s->transform, 0, ptr),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_zc_to_device(ptr, 0), CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_zc_to_host(ptr, 0, 0, NULL),
                  CARVE_ERROR_INVALID_ARGUMENT);
    after = info_of(region);
    EXPECT(after.in_use == before.in_use &&
           after.live_allocations == before.live_allocations &&
           after.failed_requests == before.failed_requests);
    EXPECT(s->hooks.count == 0);
    EXPECT_REGION_OK(region);
}

static void test_refusals(suite *s, carve_region *region)
{
    const uint64_t a = s->alignment;
    carve_region *other = open_region(s, 64 * 1024, 0, "other");
    unsigned char *p = carve_zc_malloc(region, 2 * a);
    unsigned char *freed = carve_zc_malloc(region, a);
    unsigned char *elsewhere = carve_zc_malloc(other, 64);
    unsigned char host_bytes[64];
    void *heap = dev_xmalloc(64);
    cl_event never = NULL;
    REQUIRE_OK(carve_zc_free(region, freed));

    expect_not_an_allocation(s, region, host_bytes); /* foreign: stack */
    expect_not_an_allocation(s, region, heap);       /* foreign: heap */
    expect_not_an_allocation(s, region, freed);      /* freed */
    expect_not_an_allocation(s, region, p + 1);      /* interior */
    expect_not_an_allocation(s, region, p + a);      /* interior, aligned */
    free(heap);

    /* another region's allocation, named with this region */
    EXPECT_STATUS(carve_zc_free(region, elsewhere),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_REFUSED(carve_zc_realloc(region, elsewhere, 8),
                   CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT(info_of(other).live_allocations == 1);

    /* ranges past the bytes asked for */
    EXPECT_STATUS(carve_zc_to_device(p, 2 * a + 1), CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_zc_to_host(p, 2 * a + 1, 0, NULL),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_zc_to_host(p, 0, 1, NULL), CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_zc_to_host(p, 0, 0, &never),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_zc_set_arg(NULL, 0, p), CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT(s->hooks.count == 0);

    /* the device owns it: no realloc until it comes back */
    REQUIRE_OK(carve_zc_to_device(p, 2 * a));
    expect_hook(s, 1, p, 2 * a);
    EXPECT_REFUSED(carve_zc_realloc(region, p, a), CARVE_ERROR_WRONG_OWNER);
    EXPECT_REFUSED(carve_zc_realloc(NULL, p, 4 * a), CARVE_ERROR_WRONG_OWNER);
    EXPECT(info_of(region).in_use == 2 * a);
    EXPECT_REGION_OK(region);
    REQUIRE_OK(carve_zc_to_host(p, 0, 0, NULL));
    expect_hook(s, 0, p, 2 * a);
    EXPECT(carve_zc_realloc(region, p, a) == p);

    /* the device may own what is freed */
    REQUIRE_OK(carve_zc_to_device(p, 0));
    s->hooks.count = 0;
    REQUIRE_OK(carve_zc_free(region, p));
    EXPECT(info_of(region).live_allocations == 0);
    EXPECT_REGION_OK(region);
    close_region(other);
}

/* ---- an arena set carved from the region -------------------------------------------- */

static void test_set(suite *s, carve_region *region)
{
    const size_t items = SET_ITEMS;
    carve_plan plan = dev_plan(s->cl, 1, &items, SET_ARENA_BYTES);
    carve_set *set = NULL;
    carve_zero_copy_info zc;
    carve_summary sum;
    uint32_t id, bad = 0;
    uint32_t flags = s->device_sharing == SHARING_ZERO_COPY
                         ? CARVE_SET_REQUIRE_ZERO_COPY
                         : 0;
    REQUIRE_OK(carve_set_create_in(region, s->cl->queue, &plan, flags, &set));
    EXPECT(carve_set_region(set) == region);
    EXPECT(carve_zc_region_of(carve_test_image(set)) == region);
    EXPECT(info_of(region).live_allocations == 1);
    EXPECT(info_of(region).in_use == rounded(s, plan.total_bytes));
    REQUIRE_OK(carve_set_zero_copy(set, &zc));
    EXPECT(strcmp(zc.how, carve_backend_name(s->backend)) == 0);
    EXPECT(zc.verified == info_of(region).zero_copy_verified);

    DEV_RUN(set, s->keep_one, 1, &items);
    sum = dev_summary(set);
    EXPECT(sum.alloc_count == 2ull * SET_ITEMS && sum.free_count == SET_ITEMS);
    EXPECT(sum.failed_count == 0 && sum.misuse_count == 0);
    for (id = 0; id < SET_ITEMS; ++id) {
        carve_arena_stats st = dev_stats(set, id);
        const unsigned char *kept =
            carve_layout_block(carve_test_image(set), id, st.root, 48);
        bad += kept == NULL || dev_mismatches(kept, 48, id) != 0;
    }
    EXPECT(bad == 0);
    EXPECT_REGION_OK(region);
    carve_set_release(set);
    EXPECT(info_of(region).live_allocations == 0);
    EXPECT_REGION_OK(region);
}

/* ---- exhaustion ------------------------------------------------------------------------ */

static void test_exhaustion(carve_region *region)
{
    const uint64_t piece = REGION_BYTES / 16;
    carve_region_info before = info_of(region);
    void *pieces[16];
    unsigned char *whole;
    int i;
    for (i = 0; i < 16; ++i) {
        pieces[i] = carve_zc_malloc(region, piece);
        EXPECT(pieces[i] != NULL);
    }
    EXPECT(info_of(region).largest_free == 0);
    EXPECT_REFUSED(carve_zc_malloc(region, 1), CARVE_ERROR_TIER_FULL);
    EXPECT_REFUSED(carve_zc_memalign(region, 4096, 1), CARVE_ERROR_TIER_FULL);
    EXPECT_STATS(region, REGION_BYTES, REGION_BYTES, 16,
                 before.failed_requests + 2);
    REQUIRE_OK(carve_zc_free(region, pieces[7]));
    EXPECT(info_of(region).largest_free == piece);
    EXPECT(carve_zc_malloc(region, piece) == pieces[7]);
    for (i = 0; i < 16; ++i)
        REQUIRE_OK(carve_zc_free(region, pieces[i]));
    /* all of it merges back into one block that a request can take whole */
    EXPECT(info_of(region).largest_free == REGION_BYTES);
    whole = carve_zc_malloc(region, REGION_BYTES);
    EXPECT(whole == info_of(region).host_base);
    REQUIRE_OK(carve_zc_free(region, whole));
    EXPECT_REFUSED(carve_zc_malloc(region, REGION_BYTES + 1),
                   CARVE_ERROR_TIER_FULL);
    EXPECT_STATS(region, 0, REGION_BYTES, 0, before.failed_requests + 3);
}

/* ---- four threads on one region -------------------------------------------------------- */

typedef struct block {
    unsigned char *p;
    size_t bytes;
    uint32_t tag;
} block;

typedef struct worker {
    carve_region *region;
    uint64_t seed;
    uint32_t thread;
    block blocks[THREAD_SLOTS];
    unsigned long failures; /* allocations refused: the region may fill */
    unsigned long damaged;  /* a block that lost its tag: must stay 0 */
} worker;

static void tag_block(block *b)
{
    uint32_t i;
    for (i = 0; i < b->bytes; ++i)
        b->p[i] = dev_pattern(b->tag, i);
}

static void *work(void *arg)
{
    worker *w = arg;
    carve_test_rng rng = {w->seed};
    uint32_t op, next_tag = w->thread << 24;
    for (op = 0; op < THREAD_OPS; ++op) {
        block *b = &w->blocks[carve_test_below(&rng, THREAD_SLOTS)];
        size_t bytes = 1 + (size_t)carve_test_below(&rng, 3000);
        if (b->p != NULL && dev_mismatches(b->p, (uint32_t)b->bytes, b->tag))
            w->damaged++;
        if (b->p == NULL) {
            b->p = carve_zc_malloc(w->region, bytes);
            b->bytes = bytes;
            b->tag = ++next_tag;
        } else if (carve_test_below(&rng, 2) == 0) {
            unsigned char *moved = carve_zc_realloc(w->region, b->p, bytes);
            if (moved != NULL) {
                size_t kept = bytes < b->bytes ? bytes : b->bytes;
                w->damaged += dev_mismatches(moved, (uint32_t)kept, b->tag) != 0;
                b->p = moved;
                b->bytes = bytes;
            } else {
                w->failures++;
                continue;
            }
        } else {
            w->damaged += carve_zc_free(w->region, b->p) != CARVE_SUCCESS;
            b->p = NULL;
            continue;
        }
        if (b->p == NULL)
            w->failures++;
        else
            tag_block(b);
    }
    return NULL;
}

static int by_address(const void *x, const void *y)
{
    const block *a = x, *b = y;
    return a->p < b->p ? -1 : a->p > b->p;
}

static void test_threads(suite *s, carve_region *region, uint64_t seed)
{
    static worker workers[THREADS];
    block all[THREADS * THREAD_SLOTS];
    pthread_t threads[THREADS];
    size_t count = 0, i;
    uint64_t in_use = 0;
    unsigned long damaged = 0, failures = 0, overlaps = 0;
    int t, j;
    for (t = 0; t < THREADS; ++t) {
        memset(&workers[t], 0, sizeof workers[t]);
        workers[t].region = region;
        workers[t].seed = seed + (uint64_t)t * 0x9e3779b97f4a7c15ull;
        workers[t].thread = (uint32_t)t + 1;
        if (pthread_create(&threads[t], NULL, work, &workers[t]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            exit(1);
        }
    }
    for (t = 0; t < THREADS; ++t)
        pthread_join(threads[t], NULL);
    for (t = 0; t < THREADS; ++t) {
        damaged += workers[t].damaged;
        failures += workers[t].failures;
        for (j = 0; j < THREAD_SLOTS; ++j)
            if (workers[t].blocks[j].p != NULL)
                all[count++] = workers[t].blocks[j];
    }
    qsort(all, count, sizeof all[0], by_address);
    for (i = 0; i < count; ++i) {
        damaged += dev_mismatches(all[i].p, (uint32_t)all[i].bytes,
                                  all[i].tag) != 0;
        overlaps += i + 1 < count && all[i].p + rounded(s, all[i].bytes) >
                                         all[i + 1].p;
        in_use += rounded(s, all[i].bytes);
    }
    printf("  %s: %d threads x %d operations: %zu blocks live, %lu refused "
           "for room\n",
           s->label, THREADS, THREAD_OPS, count, failures);
    EXPECT(damaged == 0 && overlaps == 0);
    EXPECT(info_of(region).live_allocations == count);
    EXPECT(info_of(region).in_use == in_use);
    EXPECT_REGION_OK(region);
    for (i = 0; i < count; ++i)
        REQUIRE_OK(carve_zc_free(region, all[i].p));
    EXPECT(info_of(region).in_use == 0);
    EXPECT_REGION_OK(region);
}

/* ---- one backend ----------------------------------------------------------------------- */

/* Creates and releases s's region: 1 if the platform mapped the
 * ALLOC_HOST_PTR buffer where carve cannot align both views (refused with
 * INVALID_ALIGNMENT), 0 if it was created, -1 for any other answer. */
static int refuses_alignment(const suite *s)
{
    carve_region_params p;
    carve_region *region = NULL;
    carve_status status;
    memset(&p, 0, sizeof p);
    p.backend = s->backend;
    p.bytes = REGION_BYTES;
    status = carve_region_create(s->cl->context, s->cl->device, &p, &region);
    carve_region_release(region);
    return status == CARVE_ERROR_INVALID_ALIGNMENT ? 1
           : status == CARVE_SUCCESS               ? 0
                                                   : -1;
}

static void run_suite(suite *s, uint64_t seed)
{
    carve_region *region;
    s->failures_before = carve_test_failures;
    if (!carve_backend_supported(s->cl->device, s->backend)) {
        printf("%s: not supported by this device\n", s->label);
        return;
    }
    if (s->backend == CARVE_BACKEND_ALLOC_HOST_PTR &&
        s->device_sharing == SHARING_COPIES) {
        /* Such a platform maps the buffer wherever its allocator puts it
         * (Oclgrind: 16-byte boundaries), so whether carve can align both
         * views, or must refuse with INVALID_ALIGNMENT, varies from run to
         * run: only the answer's kind is checked. */
        EXPECT(refuses_alignment(s) >= 0);
        printf("%s: skipped on a copying device, whose mapping alignment "
               "is its own choice\n",
               s->label);
        return;
    }
    region = open_region(s, REGION_BYTES, 0, "main");
    test_info(s, region);
    test_allocation(s, region);
    test_region_alignment(s);
    test_realloc(s, region);
    test_kernel(s, region);
    test_refusals(s, region);
    test_set(s, region);
    test_exhaustion(region);
    test_threads(s, region, seed);
    close_region(region);
    printf("%s: %s\n", s->label,
           carve_test_failures == s->failures_before ? "passed" : "FAILED");
}

/* ---- bad parameters ------------------------------------------------------------------ */

static void test_bad_params(const carve_test_cl *cl)
{
    carve_region_params p;
    carve_region *region = (carve_region *)&p;
    unsigned char *memory = map_pages(8192);
    memset(&p, 0, sizeof p);
    p.backend = CARVE_BACKEND_HOST_MEMORY;
    p.bytes = 4096;
    EXPECT_STATUS(carve_region_create(cl->context, cl->device, &p, NULL),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_region_create(NULL, cl->device, &p, &region),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT(region == NULL); /* cleared on failure */
    p.bytes = 0;
    EXPECT_STATUS(carve_region_create(cl->context, cl->device, &p, &region),
                  CARVE_ERROR_INVALID_ARGUMENT);
    p.bytes = 4096;
    p.alignment = 3 * 128;
    EXPECT_STATUS(carve_region_create(cl->context, cl->device, &p, &region),
                  CARVE_ERROR_INVALID_ALIGNMENT);
    p.alignment = (uint64_t)1 << 32;
    EXPECT_STATUS(carve_region_create(cl->context, cl->device, &p, &region),
                  CARVE_ERROR_INVALID_ALIGNMENT);
    p.alignment = 0;
    p.flags = 4;
    EXPECT_STATUS(carve_region_create(cl->context, cl->device, &p, &region),
                  CARVE_ERROR_INVALID_ARGUMENT);
    p.flags = CARVE_REGION_COHERENCE_CHECK;
    p.backend = CARVE_BACKEND_ALLOC_HOST_PTR;
    EXPECT_STATUS(carve_region_create(cl->context, cl->device, &p, &region),
                  CARVE_ERROR_INVALID_ARGUMENT);
    p.flags = 0;
    p.backend = (carve_backend)9;
    EXPECT_STATUS(carve_region_create(cl->context, cl->device, &p, &region),
                  CARVE_ERROR_INVALID_ARGUMENT);
    p.backend = CARVE_BACKEND_USER_MEMORY; /* without memory */
    EXPECT_STATUS(carve_region_create(cl->context, cl->device, &p, &region),
                  CARVE_ERROR_INVALID_ARGUMENT);
    p.user_base = memory + 64; /* not aligned */
    EXPECT_STATUS(carve_region_create(cl->context, cl->device, &p, &region),
                  CARVE_ERROR_INVALID_ARGUMENT);
    p.user_base = memory;
    p.bytes = 100; /* less than one unit, rounded down to nothing */
    EXPECT_STATUS(carve_region_create(cl->context, cl->device, &p, &region),
                  CARVE_ERROR_INVALID_ARGUMENT);
    p.bytes = 8192 + 100; /* rounded down: never past the memory given */
    REQUIRE_OK(carve_region_create(cl->context, cl->device, &p, &region));
    EXPECT(info_of(region).bytes == 8192);
    carve_region_release(region);
    p.backend = CARVE_BACKEND_HOST_MEMORY; /* memory given to the wrong one */
    EXPECT_STATUS(carve_region_create(cl->context, cl->device, &p, &region),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_region_get_info(NULL, NULL),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_region_check(NULL, NULL), CARVE_ERROR_INVALID_ARGUMENT);
    carve_region_release(NULL);
    munmap(memory, 8192);
}

/* ---- process-wide: the region limit ----------------------------------------------------- */

static carve_region *small_region(const carve_test_cl *cl, carve_status *status)
{
    carve_region_params p;
    carve_region *region = NULL;
    memset(&p, 0, sizeof p);
    p.backend = CARVE_BACKEND_HOST_MEMORY;
    p.bytes = 4096;
    p.name = "many";
    *status = carve_region_create(cl->context, cl->device, &p, &region);
    return region;
}

static void test_limit(const carve_test_cl *cl)
{
    enum { MAX = 256 };
    static carve_region *regions[MAX + 1];
    const size_t items = 4;
    carve_plan plan = dev_plan(cl, 1, &items, 64);
    carve_set *set = NULL;
    carve_status status = CARVE_SUCCESS;
    double first, start, rest;
    int made = 0, i;

    start = dev_seconds();
    regions[0] = small_region(cl, &status);
    first = dev_seconds() - start;
    REQUIRE_OK(status);
    made = 1;
    start = dev_seconds();
    while (made <= MAX) {
        regions[made] = small_region(cl, &status);
        if (regions[made] == NULL)
            break;
        ++made;
    }
    rest = dev_seconds() - start;
    printf("limit: %d regions live, then %s; the first took %.1f ms (probe "
           "built), the others %.2f ms each (probe shared)\n",
           made, carve_status_string(status), first * 1e3,
           rest * 1e3 / (made > 1 ? made - 1 : 1));
    EXPECT(made == MAX);
    EXPECT_STATUS(status, CARVE_ERROR_LIMIT);
    /* a set needs a region of its own */
    EXPECT_STATUS(carve_set_create(cl->context, cl->device, cl->queue, &plan,
                                   0, &set),
                  CARVE_ERROR_LIMIT);
    EXPECT(set == NULL);
    carve_region_release(regions[MAX / 2]);
    regions[MAX / 2] = small_region(cl, &status);
    EXPECT_STATUS(status, CARVE_SUCCESS);
    for (i = 0; i < made; ++i)
        carve_region_release(regions[i]);
    set = dev_set(cl, &plan); /* room again */
    carve_set_release(set);
}

/* ---- process-wide: a device that copies ------------------------------------------------ */

static void test_copying_device(const carve_test_cl *cl)
{
    carve_region_params p;
    carve_region *region = NULL;
    const size_t items = 4;
    carve_plan plan = dev_plan(cl, 1, &items, 64);
    carve_set *set = NULL;
    memset(&p, 0, sizeof p);
    p.backend = CARVE_BACKEND_AUTO;
    p.bytes = 1 << 16;
    p.flags = CARVE_REGION_REQUIRE_ZERO_COPY;
    EXPECT_STATUS(carve_region_create(cl->context, cl->device, &p, &region),
                  CARVE_ERROR_NOT_ZERO_COPY);
    EXPECT(region == NULL);
    EXPECT_STATUS(carve_set_create(cl->context, cl->device, cl->queue, &plan,
                                   CARVE_SET_REQUIRE_ZERO_COPY, &set),
                  CARVE_ERROR_NOT_ZERO_COPY);
    p.flags = 0;
    REQUIRE_OK(carve_region_create(cl->context, cl->device, &p, &region));
    printf("copying device: %s\n", info_of(region).zero_copy_evidence);
    EXPECT(info_of(region).zero_copy_verified == 0);
    EXPECT_STATUS(carve_set_create_in(region, cl->queue, &plan,
                                      CARVE_SET_REQUIRE_ZERO_COPY, &set),
                  CARVE_ERROR_NOT_ZERO_COPY);
    EXPECT(info_of(region).live_allocations == 0);
    carve_region_release(region);
}

static sharing device_sharing(const carve_test_cl *cl)
{
    char name[256] = "";
    cl_platform_id platform;
    REQUIRE_OK(clGetDeviceInfo(cl->device, CL_DEVICE_PLATFORM, sizeof platform,
                               &platform, NULL));
    REQUIRE_OK(clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof name - 1,
                                 name, NULL));
    if (strstr(name, "Portable Computing Language") != NULL)
        return SHARING_ZERO_COPY;
    if (strstr(name, "Oclgrind") != NULL)
        return SHARING_COPIES;
    return SHARING_UNKNOWN;
}

int main(int argc, char **argv)
{
    static const struct {
        carve_backend backend;
        uint32_t flags;
        const char *label;
    } cases[] = {
        {CARVE_BACKEND_HOST_MEMORY, 0, "host-memory"},
        {CARVE_BACKEND_USER_MEMORY, 0, "user-memory"},
        {CARVE_BACKEND_ALLOC_HOST_PTR, 0, "alloc-host-ptr"},
        {CARVE_BACKEND_SVM_COARSE, 0, "svm-coarse"},
        {CARVE_BACKEND_SVM_FINE, 0, "svm-fine"},
        {CARVE_BACKEND_HOST_MEMORY, CARVE_REGION_COHERENCE_CHECK,
         "host-memory + coherence check"},
    };
    uint64_t seed = carve_test_seed(argc, argv, (uint64_t)time(NULL));
    carve_test_cl cl = carve_test_open_cl();
    sharing how = device_sharing(&cl);
    uint64_t alignment = cl.limits.base_addr_align > 128 ? cl.limits.base_addr_align
                                                         : 128;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    cl_program program;
    cl_kernel transform = carve_test_kernel(&cl, source, "transform", &program);
    cl_kernel keep_one;
    size_t i;
    cl_int err;

    keep_one = clCreateKernel(program, "keep_one", &err);
    REQUIRE_OK(err);
    printf("seed 0x%llx; device %s\n", (unsigned long long)seed,
           how == SHARING_ZERO_COPY ? "shares memory (PoCL)"
           : how == SHARING_COPIES  ? "copies (Oclgrind)"
                                    : "unknown: zero-copy not asserted");
    test_bad_params(&cl);
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        suite s;
        memset(&s, 0, sizeof s);
        s.cl = &cl;
        s.backend = cases[i].backend;
        s.flags = cases[i].flags;
        s.label = cases[i].label;
        s.device_sharing = how;
        s.alignment = (s.flags & CARVE_REGION_COHERENCE_CHECK) && page > alignment
                          ? page
                          : alignment;
        s.transform = transform;
        s.keep_one = keep_one;
        if (how == SHARING_ZERO_COPY)
            EXPECT(carve_backend_supported(cl.device, s.backend));
        run_suite(&s, seed + i);
    }
    test_limit(&cl);
    if (how == SHARING_COPIES)
        test_copying_device(&cl);

    clReleaseKernel(keep_one);
    clReleaseKernel(transform);
    clReleaseProgram(program);
    carve_test_close_cl(&cl);
    return carve_test_finish("device_regions");
}
