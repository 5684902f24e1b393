/*
 * bad_input.c - every public function that needs an OpenCL device, called
 * with bad input: NULL handles, 0 and SIZE_MAX sizes, overflowing counts,
 * foreign, interior, freed and misaligned pointers, one region's pointers
 * given to another, hand-overs in the wrong order, sets used while the
 * device owns them, kernels that cannot run. Each call must give its
 * documented status and change nothing it must not (and, under valgrind or
 * LeakSanitizer, leak nothing). The zero-copy cases run on every backend
 * the device has, and must give the same status on each.
 *
 * Not testable: a handle used after its release (a region, a set, a
 * kernel or an event released twice, or once and then used): carve cannot
 * tell freed memory from a live object without keeping every handle it
 * ever gave out. carve_region_set_fallback alone checks its regions against
 * the live ones, so a released region given to it is refused (tested).
 *
 * The checked cases are docs/bad-input.md's tables (see
 * bad_input_table.h): the test fails if the file disagrees.
 *
 * Usage: device_bad_input [docs/bad-input.md | --markdown | -]
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream, mmap */
#define _DEFAULT_SOURCE         /* MAP_ANONYMOUS */
#include "bad_input_table.h"
#include "device_support.h"

#include <carve/diagnostics.h>
#include <carve/split.h>
#include <carve/ti_compat.h>

#include <math.h>
#include <sys/mman.h>

#define REGION_BYTES (64u * 1024u)
#define ARENAS 8u
#define NOTHING "nothing changes"

static const char *const source = DEV_KERNEL_PRELUDE
    "kernel void touch(global uchar *carved, uint n)\n"
    "{\n"
    "    carve_arena a = carve_arena_open(carved, carve_flat_global_id());\n"
    "    carve_set_root(&a, carve_malloc(&a, n));\n"
    "    carve_arena_close(&a);\n"
    "}\n";

typedef struct env {
    carve_test_cl cl;
    cl_program program;
    cl_kernel touch;   /* (global uchar *carved, uint n) */
    cl_mem plain;      /* a buffer carve knows nothing of */
    void *user_memory; /* for CARVE_BACKEND_USER_MEMORY */
} env;

static carve_region_info info_of(carve_region *region)
{
    carve_region_info info;
    REQUIRE_OK(carve_region_get_info(region, &info));
    return info;
}

static carve_region_params region_params(const env *e, carve_backend backend,
                                         const char *name)
{
    carve_region_params p;
    memset(&p, 0, sizeof p);
    p.backend = backend;
    p.bytes = REGION_BYTES;
    p.name = name;
    if (backend == CARVE_BACKEND_USER_MEMORY)
        p.user_base = e->user_memory;
    return p;
}

static carve_region *open_region(const env *e, carve_backend backend,
                                 const char *name)
{
    carve_region_params p = region_params(e, backend, name);
    carve_region *region = NULL;
    REQUIRE_OK(carve_region_create(e->cl.context, e->cl.device, &p, &region));
    return region;
}

/* ---- devices and programs ---------------------------------------------------- */

static cl_device_id first_device(void)
{
    cl_platform_id platforms[16];
    cl_device_id device = NULL;
    cl_uint count = 0, i;
    REQUIRE_OK(clGetPlatformIDs(16, platforms, &count));
    for (i = 0; i < count && i < 16 && device == NULL; ++i)
        if (clGetDeviceIDs(platforms[i], CL_DEVICE_TYPE_ALL, 1, &device,
                           NULL) != CL_SUCCESS)
            device = NULL;
    return device;
}

static void test_devices(env *e)
{
    cl_device_id device = (cl_device_id)&device, found = NULL;
    bad_section("Devices");
    BAD_STATUS("`device` NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_device_find("0:0", NULL));
    BAD_STATUS("a name no device or platform has", CARVE_ERROR_NO_DEVICE,
               "`*device` unchanged",
               carve_device_find("no-such-carve-device", &device));
    BAD_STATUS("`P:D` numbers no device has (99:99, -1:0, 2^64:0)",
               CARVE_ERROR_NO_DEVICE, "`*device` unchanged",
               carve_device_find("99:99", &device));
    BAD_STATUS("`P:D` numbers no device has (99:99, -1:0, 2^64:0)",
               CARVE_ERROR_NO_DEVICE, "`*device` unchanged",
               carve_device_find("-1:0", &device));
    BAD_STATUS("`P:D` numbers no device has (99:99, -1:0, 2^64:0)",
               CARVE_ERROR_NO_DEVICE, "`*device` unchanged",
               carve_device_find("18446744073709551616:0", &device));
    EXPECT(device == (cl_device_id)&device);
    BAD_STATUS("\"\"", CARVE_SUCCESS,
               "the first device, as with no selector and no `CARVE_DEVICE`",
               carve_device_find("", &found));
    EXPECT(found == first_device());
    BAD_STATUS("`out` NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_device_limits_query(e->cl.device, NULL));
    BAD_INT("`device` NULL, with any backend", 0, NOTHING,
            carve_backend_supported(NULL, CARVE_BACKEND_AUTO));
    BAD_INT("`device` NULL, with any backend", 0, NOTHING,
            carve_backend_supported(NULL, CARVE_BACKEND_SVM_FINE));
    BAD_INT("a backend outside the enum (6, -1)", 0, NOTHING,
            carve_backend_supported(e->cl.device, (carve_backend)6));
    BAD_INT("a backend outside the enum (6, -1)", 0, NOTHING,
            carve_backend_supported(e->cl.device, (carve_backend)-1));
}

static void test_program_build(env *e)
{
    cl_program program = (cl_program)&program;
    char *log = (char *)&log;
    const char *good = "kernel void k(global int *p) { p[0] = 1; }\n";
    bad_section("Building kernels");
    BAD_STATUS("`context`, `device`, `source` or `program` NULL",
               CARVE_ERROR_INVALID_ARGUMENT, "`*build_log` set to NULL",
               carve_program_build(NULL, e->cl.device, good, NULL, &program,
                                   &log));
    EXPECT(log == NULL && program == (cl_program)&program);
    BAD_STATUS("`context`, `device`, `source` or `program` NULL",
               CARVE_ERROR_INVALID_ARGUMENT, "`*build_log` set to NULL",
               carve_program_build(e->cl.context, NULL, good, NULL, &program,
                                   &log));
    BAD_STATUS("`context`, `device`, `source` or `program` NULL",
               CARVE_ERROR_INVALID_ARGUMENT, "`*build_log` set to NULL",
               carve_program_build(e->cl.context, e->cl.device, NULL, NULL,
                                   &program, &log));
    BAD_STATUS("`context`, `device`, `source` or `program` NULL",
               CARVE_ERROR_INVALID_ARGUMENT, "`*build_log` set to NULL",
               carve_program_build(e->cl.context, e->cl.device, good, NULL,
                                   NULL, &log));
    EXPECT(log == NULL);
    BAD_STATUS("a syntax error", CL_COMPILE_PROGRAM_FAILURE,
               "`*program` NULL; `*build_log` holds the compiler's message",
               carve_program_build(e->cl.context, e->cl.device,
                                   "kernel void k( { }\n", NULL, &program,
                                   &log));
    EXPECT(program == NULL && log != NULL && strstr(log, "error") != NULL);
    free(log);
    BAD_STATUS("a syntax error, `build_log` NULL", CL_COMPILE_PROGRAM_FAILURE,
               "`*program` NULL; the log is dropped",
               carve_program_build(e->cl.context, e->cl.device,
                                   "kernel void k( { }\n", NULL, &program,
                                   NULL));
    EXPECT(program == NULL);
}

/* ---- regions ----------------------------------------------------------------- */

static void test_region_create(env *e)
{
    carve_region_params p = region_params(e, CARVE_BACKEND_HOST_MEMORY, NULL);
    carve_region *region = (carve_region *)&p;
    carve_region_info info;
    const char *message = "untouched";
    cl_context context = e->cl.context;
    cl_device_id device = e->cl.device;
    static const char long_name[] =
        "a-tier-name-of-more-than-thirty-one-characters";

    bad_section("Regions");
#define CREATE_FAILS(input, expected)                                         \
    do {                                                                      \
        region = (carve_region *)&p;                                          \
        BAD_STATUS(input, expected, "`*region` set to NULL; nothing leaked",  \
                   carve_region_create(context, device, &p, &region));        \
        EXPECT(region == NULL);                                               \
    } while (0)
    BAD_STATUS("`region` NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_region_create(context, device, &p, NULL));
    region = (carve_region *)&p;
    BAD_STATUS("`context`, `device` or `params` NULL",
               CARVE_ERROR_INVALID_ARGUMENT,
               "`*region` set to NULL; nothing leaked",
               carve_region_create(context, device, NULL, &region));
    EXPECT(region == NULL);
    context = NULL;
    CREATE_FAILS("`context`, `device` or `params` NULL",
                 CARVE_ERROR_INVALID_ARGUMENT);
    context = e->cl.context;
    device = NULL;
    CREATE_FAILS("`context`, `device` or `params` NULL",
                 CARVE_ERROR_INVALID_ARGUMENT);
    device = e->cl.device;
    p.bytes = 0;
    CREATE_FAILS("`bytes` 0", CARVE_ERROR_INVALID_ARGUMENT);
    p.bytes = (1ull << 48) + 1;
    CREATE_FAILS("`bytes` above 2^48 (2^48 + 1, `UINT64_MAX`)",
                 CARVE_ERROR_INVALID_ARGUMENT);
    p.bytes = UINT64_MAX;
    CREATE_FAILS("`bytes` above 2^48 (2^48 + 1, `UINT64_MAX`)",
                 CARVE_ERROR_INVALID_ARGUMENT);
    p.bytes = REGION_BYTES;
    p.flags = 4;
    CREATE_FAILS("`flags` with an unknown bit (4)",
                 CARVE_ERROR_INVALID_ARGUMENT);
    p.flags = 0;
    p.backend = (carve_backend)6;
    CREATE_FAILS("`backend` outside the enum (6, -1)",
                 CARVE_ERROR_INVALID_ARGUMENT);
    p.backend = (carve_backend)-1;
    CREATE_FAILS("`backend` outside the enum (6, -1)",
                 CARVE_ERROR_INVALID_ARGUMENT);
    p.backend = CARVE_BACKEND_HOST_MEMORY;
    p.alignment = 384;
    CREATE_FAILS("`alignment` not a power of two (384, `UINT64_MAX`)",
                 CARVE_ERROR_INVALID_ALIGNMENT);
    p.alignment = UINT64_MAX;
    CREATE_FAILS("`alignment` not a power of two (384, `UINT64_MAX`)",
                 CARVE_ERROR_INVALID_ALIGNMENT);
    p.alignment = 1ull << 32;
    CREATE_FAILS("`alignment` 4 GiB (above 2 GiB)",
                 CARVE_ERROR_INVALID_ALIGNMENT);
    p.alignment = 0;
    p.backend = CARVE_BACKEND_ALLOC_HOST_PTR;
    p.flags = CARVE_REGION_COHERENCE_CHECK;
    CREATE_FAILS("`CARVE_REGION_COHERENCE_CHECK` with a backend other than "
                 "host memory",
                 CARVE_ERROR_INVALID_ARGUMENT);
    p.flags = 0;
    p.backend = CARVE_BACKEND_HOST_MEMORY;
    p.user_base = e->user_memory;
    CREATE_FAILS("`user_base` with a backend other than user memory",
                 CARVE_ERROR_INVALID_ARGUMENT);
    p.backend = CARVE_BACKEND_USER_MEMORY;
    p.user_base = NULL;
    CREATE_FAILS("user memory without `user_base`",
                 CARVE_ERROR_INVALID_ARGUMENT);
    p.user_base = (unsigned char *)e->user_memory + 64;
    CREATE_FAILS("`user_base` not aligned to the region's alignment (+64)",
                 CARVE_ERROR_INVALID_ARGUMENT);
    p.user_base = e->user_memory;
    p.bytes = 100;
    CREATE_FAILS("user memory smaller than one alignment unit (100 bytes)",
                 CARVE_ERROR_INVALID_ARGUMENT);
    p.user_base = NULL;
    p.bytes = 1ull << 47;
    p.backend = CARVE_BACKEND_ALLOC_HOST_PTR;
    CREATE_FAILS("2^47 bytes (128 TiB), more than the device's largest "
                 "allocation, alloc-host-ptr backend",
                 CL_INVALID_BUFFER_SIZE);
    if (carve_backend_supported(e->cl.device, CARVE_BACKEND_SVM_FINE)) {
        p.backend = CARVE_BACKEND_SVM_FINE;
        CREATE_FAILS("2^47 bytes (128 TiB), more than the device's largest "
                     "allocation, an SVM backend",
                     CL_MEM_OBJECT_ALLOCATION_FAILURE);
    }
#undef CREATE_FAILS

    p = region_params(e, CARVE_BACKEND_HOST_MEMORY, NULL);
    BAD_STATUS("`name` NULL", CARVE_SUCCESS, "the region is named \"region\"",
               carve_region_create(context, device, &p, &region));
    EXPECT(strcmp(info_of(region).name, "region") == 0);
    carve_region_release(region);
    p.name = long_name;
    BAD_STATUS("`name` longer than 31 characters", CARVE_SUCCESS,
               "the name is cut to its first 31 characters",
               carve_region_create(context, device, &p, &region));
    EXPECT(strlen(info_of(region).name) == 31 &&
           strncmp(info_of(region).name, long_name, 31) == 0);

    BAD_STATUS("`region` or `out` NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_region_get_info(NULL, &info));
    BAD_STATUS("`region` or `out` NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_region_get_info(region, NULL));
    BAD_STATUS("`region` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "`*message` unchanged", carve_region_check(NULL, &message));
    EXPECT(strcmp(message, "untouched") == 0);
    BAD_VOID("NULL", "nothing", "does nothing", carve_region_release(NULL));
    carve_region_release(region);
}

/* 256 live regions, then one more. */
static void test_region_limit(env *e)
{
    enum { MAX = 256 };
    static carve_region *regions[MAX];
    carve_region_params p = region_params(e, CARVE_BACKEND_HOST_MEMORY, "many");
    carve_region *extra = (carve_region *)&p;
    int made, i;
    p.bytes = 4096;
    for (made = 0; made < MAX; ++made)
        if (carve_region_create(e->cl.context, e->cl.device, &p,
                                &regions[made]) != CARVE_SUCCESS)
            break;
    EXPECT(made == MAX);
    BAD_STATUS("256 regions live already (sets count)", CARVE_ERROR_LIMIT,
               "`*region` set to NULL; nothing leaked",
               carve_region_create(e->cl.context, e->cl.device, &p, &extra));
    EXPECT(extra == NULL);
    for (i = 0; i < made; ++i)
        carve_region_release(regions[i]);
}

static void test_fallback(env *e)
{
    carve_region *a = open_region(e, CARVE_BACKEND_HOST_MEMORY, "a");
    carve_region *b = open_region(e, CARVE_BACKEND_HOST_MEMORY, "b");
    carve_region *gone = open_region(e, CARVE_BACKEND_HOST_MEMORY, "gone");
    carve_region *foreign = (carve_region *)&e->cl; /* not a region */
    carve_region *elsewhere;
    carve_region_params p = region_params(e, CARVE_BACKEND_HOST_MEMORY, "x");
    cl_int err;
    cl_context other = clCreateContext(NULL, 1, &e->cl.device, NULL, NULL, &err);
    REQUIRE_OK(err);
    REQUIRE_OK(carve_region_create(other, e->cl.device, &p, &elsewhere));
    carve_region_release(gone); /* its address is not reused below */

    bad_section("Memory tiers");
#define NO_CHANGE "refused; no chain changes"
    BAD_STATUS("`region` NULL", CARVE_ERROR_INVALID_ARGUMENT, NO_CHANGE,
               carve_region_set_fallback(NULL, b));
    BAD_STATUS("the region itself", CARVE_ERROR_INVALID_ARGUMENT, NO_CHANGE,
               carve_region_set_fallback(a, a));
    REQUIRE_OK(carve_region_set_fallback(a, b));
    BAD_STATUS("a region that falls back to this one (a cycle)",
               CARVE_ERROR_INVALID_ARGUMENT, NO_CHANGE,
               carve_region_set_fallback(b, a));
    BAD_STATUS("a released region", CARVE_ERROR_INVALID_ARGUMENT, NO_CHANGE,
               carve_region_set_fallback(a, gone));
    BAD_STATUS("a released region", CARVE_ERROR_INVALID_ARGUMENT, NO_CHANGE,
               carve_region_set_fallback(gone, b));
    BAD_STATUS("a pointer that is no region", CARVE_ERROR_INVALID_ARGUMENT,
               NO_CHANGE, carve_region_set_fallback(a, foreign));
    BAD_STATUS("a region of another context", CARVE_ERROR_INVALID_ARGUMENT,
               NO_CHANGE, carve_region_set_fallback(a, elsewhere));
    EXPECT(info_of(a).fallback == b && info_of(b).fallback == NULL);
#undef NO_CHANGE
    carve_region_release(elsewhere);
    clReleaseContext(other);
    carve_region_release(a);
    carve_region_release(b);
}

/* ---- zero-copy allocations, on every backend ----------------------------------- */

typedef struct zc_state {
    carve_region *region, *other;
    unsigned char *p;     /* a live allocation of 1000 bytes */
    unsigned char *freed; /* where an allocation was */
    unsigned char *elsewhere; /* other's allocation */
    uint64_t alignment;
} zc_state;

/* In-use bytes and live allocations are what they were. */
static int unchanged(carve_region *region, const carve_region_info *before)
{
    carve_region_info now = info_of(region);
    return now.in_use == before->in_use &&
           now.live_allocations == before->live_allocations;
}

static void zc_allocation_cases(zc_state *s)
{
    carve_region *r = s->region;
    carve_region_info before = info_of(r);
    uint64_t failed = before.failed_requests;

    BAD_NULL_LAST("`region` NULL", carve_zc_last_status,
                  CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
                  carve_zc_malloc(NULL, 16));
    BAD_NULL_LAST("0 bytes", carve_zc_last_status, CARVE_ERROR_INVALID_ARGUMENT,
                  NOTHING, carve_zc_malloc(r, 0));
    BAD_NULL_LAST("`SIZE_MAX` bytes, or one more than the region holds",
                  carve_zc_last_status, CARVE_ERROR_TIER_FULL,
                  "counted in `failed_requests`", carve_zc_malloc(r, SIZE_MAX));
    BAD_NULL_LAST("`SIZE_MAX` bytes, or one more than the region holds",
                  carve_zc_last_status, CARVE_ERROR_TIER_FULL,
                  "counted in `failed_requests`",
                  carve_zc_malloc(r, (size_t)before.bytes + 1));
    EXPECT(info_of(r).failed_requests == failed + 2);

    BAD_NULL_LAST("`count * size` overflows (`SIZE_MAX` x 2, 2 x 2^63)",
                  carve_zc_last_status, CARVE_ERROR_SIZE_OVERFLOW, NOTHING,
                  carve_zc_calloc(r, SIZE_MAX, 2));
    BAD_NULL_LAST("`count * size` overflows (`SIZE_MAX` x 2, 2 x 2^63)",
                  carve_zc_last_status, CARVE_ERROR_SIZE_OVERFLOW, NOTHING,
                  carve_zc_calloc(r, 2, SIZE_MAX / 2 + 1));
    BAD_NULL_LAST("`count * size` overflows and `region` NULL",
                  carve_zc_last_status, CARVE_ERROR_SIZE_OVERFLOW,
                  "the overflow is checked first",
                  carve_zc_calloc(NULL, SIZE_MAX, 2));
    BAD_NULL_LAST("`count` or `size` 0", carve_zc_last_status,
                  CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
                  carve_zc_calloc(r, 0, 16));
    BAD_NULL_LAST("`count` or `size` 0", carve_zc_last_status,
                  CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
                  carve_zc_calloc(r, 16, 0));

    BAD_NULL_LAST("`alignment` 0, 48, or 2^63 (beyond the region's base)",
                  carve_zc_last_status, CARVE_ERROR_INVALID_ALIGNMENT,
                  NOTHING, carve_zc_memalign(r, 0, 16));
    BAD_NULL_LAST("`alignment` 0, 48, or 2^63 (beyond the region's base)",
                  carve_zc_last_status, CARVE_ERROR_INVALID_ALIGNMENT,
                  NOTHING, carve_zc_memalign(r, 48, 16));
    BAD_NULL_LAST("`alignment` 0, 48, or 2^63 (beyond the region's base)",
                  carve_zc_last_status, CARVE_ERROR_INVALID_ALIGNMENT,
                  NOTHING, carve_zc_memalign(r, SIZE_MAX / 2 + 1, 16));
    BAD_NULL_LAST("`alignment` 0 and `region` NULL", carve_zc_last_status,
                  CARVE_ERROR_INVALID_ALIGNMENT,
                  "the alignment is checked first",
                  carve_zc_memalign(NULL, 0, 16));
    BAD_NULL_LAST("`region` NULL", carve_zc_last_status,
                  CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
                  carve_zc_memalign(NULL, 128, 16));
    BAD_NULL_LAST("0 bytes", carve_zc_last_status, CARVE_ERROR_INVALID_ARGUMENT,
                  NOTHING, carve_zc_memalign(r, 128, 0));
    EXPECT(unchanged(r, &before));
}

/* carve_zc_last_refusal after a refused call: the reason it names. */
#define EXPECT_REFUSED(why)                                                   \
    do {                                                                      \
        uint32_t refused_ = carve_zc_last_refusal();                          \
        if (refused_ != (why)) {                                              \
            fprintf(stderr, "%s:%d: refused as %u (%s), expected %u\n",       \
                    __FILE__, __LINE__, (unsigned)refused_,                   \
                    carve_zc_refusal_string(refused_), (unsigned)(why));      \
            ++carve_test_failures;                                            \
        }                                                                     \
    } while (0)

/* Every call that takes an allocation, given `ptr` that is none; each
 * names `why` in carve_zc_last_refusal. */
static void not_an_allocation(zc_state *s, cl_kernel kernel, const char *input,
                              void *ptr, uint32_t why)
{
    carve_region *r = s->region;
    carve_region_info before = info_of(r);
    BAD_NULL_LAST(input, carve_zc_last_status, CARVE_ERROR_INVALID_ARGUMENT,
                  NOTHING, carve_zc_realloc(r, ptr, 64));
    EXPECT_REFUSED(why);
    BAD_NULL_LAST(input, carve_zc_last_status, CARVE_ERROR_INVALID_ARGUMENT,
                  NOTHING, carve_zc_realloc(NULL, ptr, 64));
    EXPECT_REFUSED(why);
    BAD_STATUS(input, CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_zc_free(r, ptr));
    EXPECT_REFUSED(why);
    BAD_STATUS(input, CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_zc_free(NULL, ptr));
    EXPECT_REFUSED(why);
    BAD_STATUS(input, CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_zc_set_arg(kernel, 0, ptr));
    EXPECT_REFUSED(why);
    BAD_STATUS(input, CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_zc_to_device(ptr, 0));
    EXPECT_REFUSED(why);
    BAD_STATUS(input, CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_zc_to_host(ptr, 0, 0, NULL));
    EXPECT_REFUSED(why);
    EXPECT(unchanged(r, &before));
}

static void zc_pointer_cases(zc_state *s, env *e)
{
    unsigned char on_stack[256];
    unsigned char *on_heap = dev_xmalloc(256);
    unsigned char *ti = __malloc_ddr(256), *small;
    carve_region *r = s->region;
    carve_region_info before;
    carve_status last;
    cl_event no_event = NULL;
    const char *foreign = "a pointer no region handed out (stack, `malloc`, "
                          "`__malloc_ddr`)";

    BAD_STATUS("NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_zc_set_arg(e->touch, 0, NULL));
    BAD_STATUS("NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_zc_to_device(NULL, 0));
    EXPECT_REFUSED(CARVE_ZC_REFUSED_NULL);
    BAD_STATUS("NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_zc_to_host(NULL, 0, 0, NULL));
    not_an_allocation(s, e->touch, foreign, on_stack, CARVE_ZC_REFUSED_FOREIGN);
    not_an_allocation(s, e->touch, foreign, on_heap, CARVE_ZC_REFUSED_FOREIGN);
    not_an_allocation(s, e->touch, foreign, ti, CARVE_ZC_REFUSED_FOREIGN);
    not_an_allocation(s, e->touch,
                      "inside an allocation (+1: misaligned; + the alignment)",
                      s->p + 1, CARVE_ZC_REFUSED_INTERIOR);
    not_an_allocation(s, e->touch,
                      "inside an allocation (+1: misaligned; + the alignment)",
                      s->p + s->alignment, CARVE_ZC_REFUSED_INTERIOR);
    not_an_allocation(s, e->touch, "an allocation already freed", s->freed,
                      CARVE_ZC_REFUSED_FREED);
    free(on_heap);
    __free_ddr(ti);

    before = info_of(s->other);
    BAD_NULL_LAST("another region's allocation (not in this one's fallback "
                  "chain)",
                  carve_zc_last_status, CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
                  carve_zc_realloc(r, s->elsewhere, 64));
    EXPECT_REFUSED(CARVE_ZC_REFUSED_OTHER_REGION);
    BAD_STATUS("another region's allocation (not in this one's fallback "
               "chain)",
               CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_zc_free(r, s->elsewhere));
    EXPECT_REFUSED(CARVE_ZC_REFUSED_OTHER_REGION);
    EXPECT(unchanged(s->other, &before));

    before = info_of(r);
    BAD_NULL_LAST("`region` NULL and `ptr` NULL", carve_zc_last_status,
                  CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
                  carve_zc_realloc(NULL, NULL, 16));
    BAD_NULL_LAST("`ptr` NULL and 0 bytes (a malloc of 0)",
                  carve_zc_last_status, CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
                  carve_zc_realloc(r, NULL, 0));
    BAD_NULL_LAST("`SIZE_MAX` bytes", carve_zc_last_status,
                  CARVE_ERROR_TIER_FULL, "`ptr` stays valid and unchanged",
                  carve_zc_realloc(r, s->p, SIZE_MAX));
    EXPECT(unchanged(r, &before) && carve_test_holds(s->p, 1000, 0x5a));

    BAD_STATUS("`kernel` NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_zc_set_arg(NULL, 0, s->p));
    BAD_PASSED_ON("an argument index the kernel does not have (99)",
                  "OpenCL's status for that index (`CL_INVALID_ARG_INDEX`)",
                  clSetKernelArg(e->touch, 99, sizeof(cl_mem), &e->plain),
                  NOTHING, carve_zc_set_arg(e->touch, 99, s->p));

    BAD_STATUS("`bytes` past the bytes asked for (1001 of 1000, `SIZE_MAX`)",
               CARVE_ERROR_INVALID_ARGUMENT, "ownership does not move",
               carve_zc_to_device(s->p, 1001));
    EXPECT_REFUSED(CARVE_ZC_REFUSED_PAST_END);
    BAD_STATUS("`bytes` past the bytes asked for (1001 of 1000, `SIZE_MAX`)",
               CARVE_ERROR_INVALID_ARGUMENT, "ownership does not move",
               carve_zc_to_device(s->p, SIZE_MAX));
    BAD_STATUS("`bytes` past the bytes asked for (1001 of 1000, `SIZE_MAX`)",
               CARVE_ERROR_INVALID_ARGUMENT, "ownership does not move",
               carve_zc_to_host(s->p, SIZE_MAX, 0, NULL));
    EXPECT_REFUSED(CARVE_ZC_REFUSED_PAST_END);
    BAD_STATUS("`num_events` and `events` disagree (1 and NULL, 0 and a list)",
               CARVE_ERROR_INVALID_ARGUMENT, "ownership does not move",
               carve_zc_to_host(s->p, 0, 1, NULL));
    BAD_STATUS("`num_events` and `events` disagree (1 and NULL, 0 and a list)",
               CARVE_ERROR_INVALID_ARGUMENT, "ownership does not move",
               carve_zc_to_host(s->p, 0, 0, &no_event));
    BAD_STATUS("a NULL entry in `events`", CARVE_ERROR_INVALID_ARGUMENT,
               "ownership does not move",
               carve_zc_to_host(s->p, 0, 1, &no_event));
    EXPECT(carve_zc_realloc(r, s->p, 1000) == s->p); /* still the host's */

    /* Hand-overs in the wrong order. */
    BAD_STATUS("the host owns it already (no `carve_zc_to_device` before)",
               CARVE_SUCCESS, "only waits for the events",
               carve_zc_to_host(s->p, 0, 0, NULL));
    REQUIRE_OK(carve_zc_to_device(s->p, 0));
    BAD_STATUS("the device owns it already (a second hand-over)",
               CARVE_SUCCESS, "does nothing: the hand-over is idempotent",
               carve_zc_to_device(s->p, 0));
    BAD_STATUS("a NULL entry in `events`, the device owning it",
               CARVE_ERROR_INVALID_ARGUMENT, "the device keeps it",
               carve_zc_to_host(s->p, 0, 1, &no_event));
    BAD_NULL_LAST("the device owns `ptr`", carve_zc_last_status,
                  CARVE_ERROR_WRONG_OWNER, "`ptr` stays valid and unchanged",
                  carve_zc_realloc(r, s->p, 64));
    EXPECT_REFUSED(CARVE_ZC_REFUSED_DEVICE_OWNED);
    BAD_NULL_LAST("the device owns `ptr`", carve_zc_last_status,
                  CARVE_ERROR_WRONG_OWNER, "`ptr` stays valid and unchanged",
                  carve_zc_realloc(NULL, s->p, 0));
    BAD_STATUS("the device owns `ptr` (hand-over, no kernel)",
               CARVE_SUCCESS, "the argument is set; ownership does not move",
               carve_zc_set_arg(e->touch, 0, s->p));
    EXPECT(carve_zc_realloc(r, s->p, 64) == NULL &&
           carve_zc_last_status() == CARVE_ERROR_WRONG_OWNER);
    REQUIRE_OK(carve_zc_to_host(s->p, 0, 0, NULL));
    EXPECT(carve_test_holds(s->p, 1000, 0x5a));

    last = carve_zc_last_status();
    before = info_of(r);
    small = carve_zc_malloc(r, 16);
    BAD_NULL("0 bytes", "frees `ptr`; not a failure: `carve_zc_last_status()` "
             "unchanged",
             carve_zc_realloc(r, small, 0));
    EXPECT(small != NULL && carve_zc_last_status() == last &&
           unchanged(r, &before));
    REQUIRE_OK(carve_zc_to_device(s->p, 0));
    BAD_STATUS("the device owns `ptr` (no kernel uses it)", CARVE_SUCCESS,
               "freed: the caller knows no kernel still uses it",
               carve_zc_free(r, s->p));
    s->p = NULL;
    BAD_STATUS("NULL", CARVE_SUCCESS, "does nothing", carve_zc_free(r, NULL));
    BAD_NULL("NULL, a pointer in no region, one past a region's end",
             NOTHING, carve_zc_region_of(NULL));
    BAD_NULL("NULL, a pointer in no region, one past a region's end",
             NOTHING, carve_zc_region_of(on_stack));
    BAD_NULL("NULL, a pointer in no region, one past a region's end",
             NOTHING,
             carve_zc_region_of((unsigned char *)info_of(r).host_base +
                                info_of(r).bytes));
}

static void test_zero_copy(env *e)
{
    static const carve_backend backends[] = {
        CARVE_BACKEND_HOST_MEMORY, CARVE_BACKEND_USER_MEMORY,
        CARVE_BACKEND_ALLOC_HOST_PTR, CARVE_BACKEND_SVM_COARSE,
        CARVE_BACKEND_SVM_FINE};
    size_t i;
    bad_section("Zero-copy allocations (each case on every backend)");
    for (i = 0; i < sizeof backends / sizeof backends[0]; ++i) {
        zc_state s;
        if (!carve_backend_supported(e->cl.device, backends[i]))
            continue;
        fprintf(stderr, "zero-copy cases on %s\n",
                carve_backend_name(backends[i]));
        s.region = open_region(e, backends[i], "zc");
        s.other = open_region(e, CARVE_BACKEND_HOST_MEMORY, "other");
        s.alignment = info_of(s.region).alignment;
        s.p = carve_zc_malloc(s.region, 1000);
        s.freed = carve_zc_malloc(s.region, 64);
        s.elsewhere = carve_zc_malloc(s.other, 64);
        REQUIRE_OK(s.p && s.freed && s.elsewhere ? CARVE_SUCCESS
                                                 : carve_zc_last_status());
        memset(s.p, 0x5a, 1000);
        REQUIRE_OK(carve_zc_free(s.region, s.freed));
        zc_allocation_cases(&s);
        zc_pointer_cases(&s, e);
        REQUIRE_OK(carve_region_check(s.region, NULL));
        REQUIRE_OK(carve_region_check(s.other, NULL));
        EXPECT(info_of(s.region).live_allocations == 0);
        carve_region_release(s.region);
        carve_region_release(s.other);
    }
}

/* ---- arena sets ---------------------------------------------------------------- */

static carve_plan set_plan(const env *e)
{
    const size_t arenas = ARENAS;
    return dev_plan(&e->cl, 1, &arenas, 256);
}

/* The set's own memory given to carve_zc_free and carve_zc_realloc, with
 * `region` NULL or the set's, and to the hand-overs: refused, and the set
 * keeps it and its owner. */
static void set_memory_cases(carve_set *set)
{
    unsigned char *base = carve_test_image(set);
    carve_region *region = carve_set_region(set);
    carve_region_info before = info_of(region);
    size_t size = (size_t)carve_set_plan(set)->total_bytes;
    unsigned char *copy = dev_xmalloc(size);
    const char *input = "a set's memory (`carve_set_image`), `region` "
                        "NULL or the set's";
    const char *kept = "refused: the set keeps its memory, unchanged";
    void *image = NULL;
    /* Every byte a known value, so that comparing them compares values. */
    memset(base, 0xa5, size);
    REQUIRE_OK(carve_layout_format(base, size, carve_set_plan(set)));
    memcpy(copy, base, size);
    BAD_STATUS(input, CARVE_ERROR_INVALID_ARGUMENT, kept,
               carve_zc_free(NULL, base));
    EXPECT_REFUSED(CARVE_ZC_REFUSED_SET_MEMORY);
    BAD_STATUS(input, CARVE_ERROR_INVALID_ARGUMENT, kept,
               carve_zc_free(region, base));
    BAD_NULL_LAST(input, carve_zc_last_status, CARVE_ERROR_INVALID_ARGUMENT,
                  kept, carve_zc_realloc(NULL, base, 64));
    EXPECT_REFUSED(CARVE_ZC_REFUSED_SET_MEMORY);
    BAD_NULL_LAST(input, carve_zc_last_status, CARVE_ERROR_INVALID_ARGUMENT,
                  kept, carve_zc_realloc(region, base, size + 4096));
    BAD_NULL_LAST("a set's memory, 0 bytes (a free)", carve_zc_last_status,
                  CARVE_ERROR_INVALID_ARGUMENT, kept,
                  carve_zc_realloc(region, base, 0));
    BAD_STATUS("a set's memory (`carve_set_image`)",
               CARVE_ERROR_INVALID_ARGUMENT,
               "refused: the host keeps the set (`carve_set_to_device` hands "
               "it over)",
               carve_zc_to_device(base, 0));
    EXPECT_REFUSED(CARVE_ZC_REFUSED_SET_MEMORY);
    EXPECT(carve_set_image(set, &image) == CARVE_SUCCESS && image == base);
    REQUIRE_OK(carve_set_to_device(set));
    /* The set's own hand-over leaves the caller's refusal as it was. */
    EXPECT_REFUSED(CARVE_ZC_REFUSED_SET_MEMORY);
    BAD_STATUS("a set's memory (`carve_set_image`), the device owning "
               "the set",
               CARVE_ERROR_INVALID_ARGUMENT,
               "refused: the device keeps the set (`carve_set_to_host` takes "
               "it back)",
               carve_zc_to_host(base, 0, 0, NULL));
    EXPECT_REFUSED(CARVE_ZC_REFUSED_SET_MEMORY);
    EXPECT(carve_set_image(set, &image) == CARVE_ERROR_WRONG_OWNER &&
           image == NULL);
    REQUIRE_OK(carve_set_to_host(set, 0, NULL));
    EXPECT(unchanged(region, &before) && carve_test_image(set) == base &&
           memcmp(copy, base, size) == 0);
    DEV_EXPECT_CHECK(set);
    free(copy);
}

static void test_set_create(env *e)
{
    carve_plan good = set_plan(e), refused, zeroed, hand_made = good, huge;
    carve_plan_params params = good.params;
    carve_region *small = open_region(e, CARVE_BACKEND_HOST_MEMORY, "small");
    carve_set *set = (carve_set *)&good;
    cl_context context = e->cl.context;
    cl_device_id device = e->cl.device;
    cl_command_queue queue = e->cl.queue;
    const carve_plan *plan = &good;
    const size_t one = 1;
    uint32_t flags = 0;
    params.arena_bytes = 0;
    EXPECT(carve_plan_compute(&params, &e->cl.limits, &refused) ==
           CARVE_ERROR_INVALID_ARENA_SIZE);
    memset(&zeroed, 0, sizeof zeroed);
    hand_made.bitmap_words += 1;
    huge = dev_plan(&e->cl, 1, &one, 1u << 20); /* more than `small` holds */

    bad_section("Arena sets");
#define SET_FAILS(input, expected, call)                                      \
    do {                                                                      \
        set = (carve_set *)&good;                                             \
        BAD_STATUS(input, expected, "`*set` set to NULL; nothing leaked",     \
                   call);                                                     \
        EXPECT(set == NULL);                                                  \
    } while (0)
/* The plans and flags both creators refuse. */
#define PLAN_CASES(CALL)                                                      \
    do {                                                                      \
        plan = &refused;                                                      \
        SET_FAILS("a plan `carve_plan_compute` refused, or an all-zero one",  \
                  CARVE_ERROR_INVALID_ARGUMENT, CALL);                        \
        plan = &zeroed;                                                       \
        SET_FAILS("a plan `carve_plan_compute` refused, or an all-zero one",  \
                  CARVE_ERROR_INVALID_ARGUMENT, CALL);                        \
        plan = &hand_made;                                                    \
        SET_FAILS("a plan with a field changed by hand (`bitmap_words` + 1)", \
                  CARVE_ERROR_INVALID_ARGUMENT, CALL);                        \
        plan = &good;                                                         \
        flags = 2;                                                            \
        SET_FAILS("`flags` with an unknown bit (2)",                          \
                  CARVE_ERROR_INVALID_ARGUMENT, CALL);                        \
        flags = 0;                                                            \
    } while (0)
#define CREATE carve_set_create(context, device, queue, plan, flags, &set)
#define CREATE_IN carve_set_create_in(small, queue, plan, flags, &set)
    BAD_STATUS("`set` NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_set_create(context, device, queue, plan, 0, NULL));
    context = NULL;
    SET_FAILS("`context`, `device`, `queue` or `plan` NULL",
              CARVE_ERROR_INVALID_ARGUMENT, CREATE);
    context = e->cl.context;
    device = NULL;
    SET_FAILS("`context`, `device`, `queue` or `plan` NULL",
              CARVE_ERROR_INVALID_ARGUMENT, CREATE);
    device = e->cl.device;
    queue = NULL;
    SET_FAILS("`context`, `device`, `queue` or `plan` NULL",
              CARVE_ERROR_INVALID_ARGUMENT, CREATE);
    queue = e->cl.queue;
    plan = NULL;
    SET_FAILS("`context`, `device`, `queue` or `plan` NULL",
              CARVE_ERROR_INVALID_ARGUMENT, CREATE);
    PLAN_CASES(CREATE);

    BAD_STATUS("`set` NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_set_create_in(small, queue, plan, 0, NULL));
    set = (carve_set *)&good;
    BAD_STATUS("`region`, `queue` or `plan` NULL",
               CARVE_ERROR_INVALID_ARGUMENT,
               "`*set` set to NULL; nothing leaked",
               carve_set_create_in(NULL, queue, plan, flags, &set));
    EXPECT(set == NULL);
    queue = NULL;
    SET_FAILS("`region`, `queue` or `plan` NULL", CARVE_ERROR_INVALID_ARGUMENT,
              CREATE_IN);
    queue = e->cl.queue;
    PLAN_CASES(CREATE_IN);
    plan = &huge;
    SET_FAILS("a plan larger than the region, no fallback",
              CARVE_ERROR_TIER_FULL, CREATE_IN);
    EXPECT(info_of(small).live_allocations == 0);
#undef PLAN_CASES
#undef CREATE
#undef CREATE_IN
#undef SET_FAILS
    BAD_VOID("NULL", "nothing", "does nothing", carve_set_release(NULL));

    REQUIRE_OK(carve_set_create_in(small, e->cl.queue, &good, 0, &set));
    set_memory_cases(set);
    BAD_VOID("a set made in the caller's region, whose memory "
             "`carve_zc_free` refused",
             "nothing", "frees the set's memory: the region has no live "
             "allocation left",
             carve_set_release(set));
    EXPECT(info_of(small).live_allocations == 0);
    REQUIRE_OK(carve_region_check(small, NULL));
    carve_region_release(small);
}

/* What a set answers while the device owns it, or for NULL: no image
 * (the carve_layout_* accessors then have nothing to read), no reset. */
static void set_accessor_cases(carve_set *which, const char *input,
                               carve_status expected, const char *effect)
{
    void *image = &image;
    BAD_STATUS(input, expected, effect, carve_set_image(which, &image));
    EXPECT(image == NULL);
    BAD_STATUS(input, expected, effect, carve_set_reset(which));
}

static void test_set_use(env *e)
{
    carve_plan plan = set_plan(e);
    carve_set *set = dev_set(&e->cl, &plan);
    carve_arena_stats stats;
    carve_summary summary;
    carve_zero_copy_info zero_copy;
    const size_t arenas = ARENAS, wrong = ARENAS + 1, local = 3;
    const size_t wrapping[2] = {((size_t)1 << (sizeof(size_t) * 8 - 1)) + 4,
                                2}; /* times 2: ARENAS modulo 2^64 */
    const size_t zero_size[2] = {ARENAS, 0};
    const size_t *global = &arenas;
    cl_kernel kernel = e->touch;
    cl_uint dims = 1, n = 32;
    cl_event no_event = NULL;
    carve_status expected;

    /* What OpenCL says of a launch with the kernel's `n` not set. */
    REQUIRE_OK(carve_set_bind(set, kernel, 0));
    expected = clEnqueueNDRangeKernel(e->cl.queue, kernel, 1, NULL, &arenas,
                                      NULL, 0, NULL, NULL);
    REQUIRE_OK(clFinish(e->cl.queue));

    BAD_STATUS("`set` NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_set_to_device(NULL));
    BAD_STATUS("`set` NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_set_to_host(NULL, 0, NULL));
    BAD_STATUS("`num_events` and `events` disagree (1 and NULL, 0 and a list)",
               CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_set_to_host(set, 1, NULL));
    BAD_STATUS("`num_events` and `events` disagree (1 and NULL, 0 and a list)",
               CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_set_to_host(set, 0, &no_event));
    BAD_STATUS("the host owns it already (no `carve_set_to_device` before)",
               CARVE_SUCCESS, "waits for the set's queue",
               carve_set_to_host(set, 0, NULL));
    BAD_STATUS("`set` or `kernel` NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_set_bind(NULL, kernel, 0));
    BAD_STATUS("`set` or `kernel` NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_set_bind(set, NULL, 0));
    BAD_PASSED_ON("an argument index the kernel does not have (99)",
                  "OpenCL's status for that index (`CL_INVALID_ARG_INDEX`)",
                  clSetKernelArg(kernel, 99, sizeof(cl_mem), &e->plain),
                  NOTHING, carve_set_bind(set, kernel, 99));
    BAD_STATUS("`set` or `out` NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_set_zero_copy(NULL, &zero_copy));
    BAD_STATUS("`set` or `out` NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_set_zero_copy(set, NULL));
    BAD_NULL("`set` NULL", NOTHING, carve_set_plan(NULL));
    BAD_NULL("`set` NULL", NOTHING, carve_set_region(NULL));
    set_accessor_cases(NULL, "`set` NULL", CARVE_ERROR_INVALID_ARGUMENT,
                       NOTHING);
    BAD_STATUS("`out` NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_layout_arena_stats(carve_test_image(set), 0, NULL));
    BAD_STATUS("`out` NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_layout_summary(carve_test_image(set), NULL));
    BAD_STATUS("`index` = the arena count", CARVE_ERROR_INDEX_OUT_OF_RANGE,
               NOTHING,
               carve_layout_arena_stats(carve_test_image(set), ARENAS, &stats));
    BAD_STATUS("`report`, `log` or `path` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               NOTHING, carve_layout_report(carve_test_image(set), 0, NULL));
    BAD_STATUS("`report`, `log` or `path` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               NOTHING, carve_layout_event_log(carve_test_image(set), NULL));
    BAD_STATUS("`report`, `log` or `path` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               NOTHING, carve_layout_save_events(carve_test_image(set), NULL));
    BAD_STATUS("`fit` NULL, or `percentile` NaN", CARVE_ERROR_INVALID_ARGUMENT,
               NOTHING,
               carve_layout_fit(carve_test_image(set),
                                &carve_set_plan(set)->params, 50, NULL));
    {
        carve_fit fit, before;
        memset(&fit, 0x5a, sizeof fit);
        before = fit;
        BAD_STATUS("`fit` NULL, or `percentile` NaN",
                   CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
                   carve_layout_fit(carve_test_image(set),
                                    &carve_set_plan(set)->params, NAN, &fit));
        EXPECT(memcmp(&fit, &before, sizeof fit) == 0);
    }
    BAD_NULL("a range past the set's end", NOTHING,
             carve_layout_pointer(carve_test_image(set),
                                  (uint32_t)plan.total_bytes - 2, 4));
    set_memory_cases(set);

    bad_section("Launching a set");
#define RUN carve_set_run(set, kernel, 0, dims, global, NULL)
    kernel = NULL;
    BAD_STATUS_OF("`set`, `kernel` or `global_size` NULL",
               CARVE_ERROR_INVALID_ARGUMENT, "nothing enqueued", RUN);
    kernel = e->touch;
    global = NULL;
    BAD_STATUS_OF("`set`, `kernel` or `global_size` NULL",
               CARVE_ERROR_INVALID_ARGUMENT, "nothing enqueued", RUN);
    global = &arenas;
    BAD_STATUS("`set`, `kernel` or `global_size` NULL",
               CARVE_ERROR_INVALID_ARGUMENT, "nothing enqueued",
               carve_set_run(NULL, kernel, 0, dims, global, NULL));
    dims = 0;
    BAD_STATUS_OF("`work_dim` 0 or 4", CARVE_ERROR_INVALID_NDRANGE,
               "nothing enqueued", RUN);
    dims = 4;
    BAD_STATUS_OF("`work_dim` 0 or 4", CARVE_ERROR_INVALID_NDRANGE,
               "nothing enqueued", RUN);
    dims = 2;
    global = zero_size;
    BAD_STATUS_OF("a global size of 0", CARVE_ERROR_INVALID_NDRANGE,
               "nothing enqueued", RUN);
    dims = 1;
    global = &wrong;
    BAD_STATUS_OF("a global size that is not the plan's arena count",
               CARVE_ERROR_NDRANGE_MISMATCH, "nothing enqueued", RUN);
    dims = 2;
    global = wrapping;
    BAD_STATUS_OF("global sizes whose product wraps around to the arena count "
               "(2^63 + 4 by 2)",
               CARVE_ERROR_NDRANGE_MISMATCH, "nothing enqueued", RUN);
    dims = 1;
    global = &arenas;
    BAD_PASSED_ON_OF("a kernel with an argument not set",
                  "OpenCL's status for the launch "
                  "(`CL_INVALID_KERNEL_ARGS`)",
                  expected, "the set is back with the host", RUN);
    EXPECT(carve_test_image(set) != NULL);
    dev_arg(kernel, 1, sizeof n, &n);
    REQUIRE_OK(carve_set_bind(set, kernel, 0));
    expected = clEnqueueNDRangeKernel(e->cl.queue, kernel, 1, NULL, &arenas,
                                      &local, 0, NULL, NULL);
    REQUIRE_OK(clFinish(e->cl.queue));
    BAD_PASSED_ON("a local size that does not divide the global size (3 of 8)",
                  "OpenCL's status for the launch "
                  "(`CL_INVALID_WORK_GROUP_SIZE`)",
                  expected, "the set is back with the host",
                  carve_set_run(set, kernel, 0, 1, &arenas, &local));
    EXPECT(carve_test_image(set) != NULL);
    BAD_PASSED_ON("an argument index the kernel does not have (99)",
                  "OpenCL's status for that index (`CL_INVALID_ARG_INDEX`)",
                  clSetKernelArg(kernel, 99, sizeof(cl_mem), &e->plain),
                  "nothing enqueued; the host keeps the set",
                  carve_set_run(set, kernel, 99, 1, &arenas, NULL));
    EXPECT(carve_test_image(set) != NULL);
    EXPECT(dev_summary(set).alloc_count == 0);
#undef RUN

    bad_section("A set the device owns");
    REQUIRE_OK(carve_set_to_device(set));
    BAD_STATUS("the device owns it already (a second hand-over)",
               CARVE_SUCCESS, "does nothing: the hand-over is idempotent",
               carve_set_to_device(set));
    set_accessor_cases(set, "the device owns the set",
                       CARVE_ERROR_WRONG_OWNER, NOTHING);
    BAD_STATUS("a NULL entry in `events`", CARVE_ERROR_INVALID_ARGUMENT,
               "the device keeps the set", carve_set_to_host(set, 1, &no_event));
    EXPECT(carve_test_image(set) == NULL);
    BAD_STATUS("the device owns the set", CARVE_SUCCESS,
               "the argument is set; ownership does not move",
               carve_set_bind(set, kernel, 0));
    BAD_STATUS("the device owns the set", CARVE_SUCCESS,
               "runs, then hands the set back to the host",
               carve_set_run(set, kernel, 0, 1, &arenas, NULL));
    EXPECT(carve_test_image(set) != NULL);
    summary = dev_summary(set);
    EXPECT(summary.alloc_count == ARENAS && summary.failed_count == 0);
    DEV_EXPECT_CHECK(set);
    carve_set_release(set);
}

/* ---- splits ----------------------------------------------------------------- */

static carve_split_plan one_device_split(const env *e)
{
    carve_split_params p;
    carve_split_plan plan;
    memset(&p, 0, sizeof p);
    p.plan.work_dim = 1;
    p.plan.global_size[0] = ARENAS;
    p.plan.arena_bytes = 256;
    p.device_count = 1;
    REQUIRE_OK(carve_split_plan_compute(&p, &e->cl.limits, &plan));
    return plan;
}

static void test_split(env *e)
{
    carve_split_plan plan = one_device_split(e), changed = plan, refused;
    carve_split_params too_big;
    carve_split *split = (carve_split *)&split;
    cl_device_id no_device = NULL;
    cl_program program = (cl_program)&program;
    char *log = (char *)&log;
    carve_summary summary;
    carve_arena_stats stats;
    carve_fit fit;
    cl_uint slice = 9;
    uint32_t index = 9;
    cl_int expected;
    cl_kernel unset;
    const char *good = "kernel void k(global int *p) { p[0] = 1; }\n";
    const char *none = "`*split` NULL; nothing is made";
    bad_section("Splits");
    BAD_STATUS("`num_devices` 0, or a NULL device",
               CARVE_ERROR_INVALID_ARGUMENT, "`*build_log` set to NULL",
               carve_program_build_for_devices(e->cl.context, 0, &e->cl.device,
                                               good, NULL, &program, &log));
    EXPECT(log == NULL && program == (cl_program)&program);
    BAD_STATUS("`num_devices` 0, or a NULL device",
               CARVE_ERROR_INVALID_ARGUMENT, "`*build_log` set to NULL",
               carve_program_build_for_devices(e->cl.context, 1, &no_device,
                                               good, NULL, &program, &log));
    BAD_STATUS("`context`, `devices`, `queues` NULL, or a NULL entry",
               CARVE_ERROR_INVALID_ARGUMENT, none,
               carve_split_create(NULL, &e->cl.device, &e->cl.queue, &plan, 0,
                                  &split));
    EXPECT(split == NULL);
    BAD_STATUS("`context`, `devices`, `queues` NULL, or a NULL entry",
               CARVE_ERROR_INVALID_ARGUMENT, none,
               carve_split_create(e->cl.context, &no_device, &e->cl.queue,
                                  &plan, 0, &split));
    BAD_STATUS("unknown `flags` bits", CARVE_ERROR_INVALID_ARGUMENT, none,
               carve_split_create(e->cl.context, &e->cl.device, &e->cl.queue,
                                  &plan, 0x100, &split));
    memset(&too_big, 0, sizeof too_big);
    too_big.plan.work_dim = 1;
    too_big.plan.global_size[0] = 0;
    too_big.device_count = 1;
    EXPECT(carve_split_plan_compute(&too_big, &e->cl.limits, &refused) ==
           CARVE_ERROR_INVALID_NDRANGE);
    BAD_STATUS("a plan `carve_split_plan_compute` refused",
               CARVE_ERROR_INVALID_ARGUMENT, none,
               carve_split_create(e->cl.context, &e->cl.device, &e->cl.queue,
                                  &refused, 0, &split));
    changed.arena_count += 1;
    BAD_STATUS("a plan changed by hand (its arena count)",
               CARVE_ERROR_INVALID_ARGUMENT, none,
               carve_split_create(e->cl.context, &e->cl.device, &e->cl.queue,
                                  &changed, 0, &split));
    changed = plan;
    changed.slices[0].first_arena = 5;
    BAD_STATUS("a plan changed by hand (a slice's first arena)",
               CARVE_ERROR_INVALID_ARGUMENT, none,
               carve_split_create(e->cl.context, &e->cl.device, &e->cl.queue,
                                  &changed, 0, &split));
    EXPECT(split == NULL);

    REQUIRE_OK(carve_split_create(e->cl.context, &e->cl.device, &e->cl.queue,
                                  &plan, 0, &split));
    BAD_STATUS("`kernel` NULL", CARVE_ERROR_INVALID_ARGUMENT,
               "nothing launched", carve_split_run(split, NULL, 0, NULL));
    BAD_NULL("a slice past the last", NOTHING, carve_split_set(split, 1));
    BAD_STATUS("an arena outside the launch", CARVE_ERROR_INDEX_OUT_OF_RANGE,
               "`*slice`, `*index` unchanged",
               carve_split_locate(split, ARENAS, &slice, &index));
    EXPECT(slice == 9 && index == 9);
    BAD_STATUS("an arena outside the launch", CARVE_ERROR_INDEX_OUT_OF_RANGE,
               NOTHING, carve_split_arena_stats(split, ARENAS, &stats));
    BAD_STATUS("`out` NULL", CARVE_ERROR_INVALID_ARGUMENT, NOTHING,
               carve_split_arena_stats(split, 0, NULL));
    BAD_NULL("an offset that is no live block of the arena", NOTHING,
             carve_split_block(split, 0, 16, 4));
    BAD_STATUS("an unknown format", CARVE_ERROR_INVALID_ARGUMENT,
               "prints nothing",
               carve_split_report_print(split, stdout, (carve_format)7, 0));
    BAD_STATUS("a percentile outside (0, 100]", CARVE_ERROR_INVALID_ARGUMENT,
               NOTHING, carve_split_fit(split, 0.0, &fit, NULL));
    /* A new kernel object, argument 1 unset: the launch fails. */
    unset = clCreateKernel(e->program, "touch", &expected);
    REQUIRE_OK(expected);
    expected = clEnqueueNDRangeKernel(e->cl.queue, unset, 1, NULL,
                                      &plan.slices[0].global_size[0], NULL, 0,
                                      NULL, NULL);
    REQUIRE_OK(clFinish(e->cl.queue));
    BAD_PASSED_ON("a kernel with an argument not set",
                  "OpenCL's status for the launch (`CL_INVALID_KERNEL_ARGS`)",
                  expected,
                  "`carve_split_message` names the device; every slice is "
                  "back with the host",
                  carve_split_run(split, unset, 0, NULL));
    clReleaseKernel(unset);
    EXPECT(carve_split_failed_slice(split) == 0);
    EXPECT(strstr(carve_split_message(split), "device 0") != NULL);
    EXPECT(carve_split_summary(split, &summary, NULL) == CARVE_SUCCESS);

    REQUIRE_OK(carve_set_to_device(carve_split_set(split, 0)));
    BAD_STATUS("a device owns a slice", CARVE_ERROR_WRONG_OWNER, NOTHING,
               carve_split_summary(split, &summary, NULL));
    BAD_STATUS("a device owns a slice", CARVE_ERROR_WRONG_OWNER, NOTHING,
               carve_split_check(split, NULL, NULL, NULL));
    BAD_STATUS("a device owns a slice", CARVE_ERROR_WRONG_OWNER,
               "prints nothing",
               carve_split_report_print(split, stdout, CARVE_FORMAT_TEXT, 0));
    BAD_STATUS("a device owns a slice", CARVE_ERROR_WRONG_OWNER, NOTHING,
               carve_split_fit(split, 90.0, &fit, NULL));
    BAD_STATUS("a device owns a slice", CARVE_ERROR_WRONG_OWNER, NOTHING,
               carve_split_reset(split));
    BAD_STATUS("a device owns a slice", CARVE_SUCCESS,
               "waits, then every slice is the host's",
               carve_split_to_host(split, NULL));
    EXPECT(carve_split_summary(split, &summary, NULL) == CARVE_SUCCESS);
    carve_split_release(split);
}

int main(int argc, char **argv)
{
    env e;
    cl_int err;
    e.cl = carve_test_open_cl();
    e.touch = carve_test_kernel(&e.cl, source, "touch", &e.program);
    e.plain = clCreateBuffer(e.cl.context, CL_MEM_READ_WRITE, 64, NULL, &err);
    REQUIRE_OK(err);
    e.user_memory = mmap(NULL, 2 * REGION_BYTES, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (e.user_memory == MAP_FAILED) {
        fprintf(stderr, "mmap failed\n");
        return 1;
    }
    test_devices(&e);
    test_program_build(&e);
    test_region_create(&e);
    test_region_limit(&e);
    test_fallback(&e);
    test_zero_copy(&e);
    test_set_create(&e);
    test_set_use(&e);
    test_split(&e);
    munmap(e.user_memory, 2 * REGION_BYTES);
    clReleaseMemObject(e.plain);
    clReleaseKernel(e.touch);
    clReleaseProgram(e.program);
    carve_test_close_cl(&e.cl);
    return bad_finish(argc, argv, "device");
}
