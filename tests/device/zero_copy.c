/*
 * zero_copy.c - the buffer is shared, and ownership moves explicitly.
 *
 * Zero-copy: a set created with CARVE_SET_REQUIRE_ZERO_COPY on this device
 * reports a verified probe whose host and device addresses are the host's
 * own mapping; a kernel sees the buffer at that address, reads what the
 * host wrote in place and writes what the host then reads in place, with no
 * read or write command.
 *
 * Ownership: while the device owns the set (after carve_set_to_device),
 * carve_set_image and carve_set_reset refuse with WRONG_OWNER (so no
 * carve_layout_* accessor can read the image); carve_set_to_device and
 * carve_set_to_host are idempotent.
 */
#include "device_support.h"

#define ITEMS 64u
#define ARENA_BYTES 256u
#define HOST_TAG(id) (0x7000u + (id))
#define DEVICE_TAG(id) (0x8000u + (id))

static const char *const source = DEV_KERNEL_PRELUDE
    /* The host wrote HOST_TAG into the first 64 bytes of every arena. */
    "kernel void exchange(global uchar *carved)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uchar *p = carve_malloc(&a, 64);\n"
    "    global ulong *q = carve_malloc(&a, 4 * sizeof(ulong));\n"
    "    if (p != 0 && q != 0) {\n"
    "        q[0] = (ulong)(uintptr_t)carved;\n"
    "        q[1] = (ulong)(uintptr_t)p;\n"
    "        q[2] = dev_mismatches(p, 64, " DEV_XSTR(HOST_TAG(id)) ");\n"
    "        q[3] = carve_offset(&a, p);\n"
    "        dev_fill(p, 64, " DEV_XSTR(DEVICE_TAG(id)) ");\n"
    "    }\n"
    "    carve_set_root(&a, q);\n"
    "    carve_arena_close(&a);\n"
    "}\n";

static void test_zero_copy(const carve_test_cl *cl, cl_kernel exchange,
                           const carve_plan *plan)
{
    const size_t items = ITEMS;
    carve_set *set = NULL;
    carve_zero_copy_info zc;
    unsigned char *base;
    uint32_t id, bad = 0;
    REQUIRE_OK(carve_set_create(cl->context, cl->device, cl->queue, plan,
                                CARVE_SET_REQUIRE_ZERO_COPY, &set));
    REQUIRE_OK(carve_set_zero_copy(set, &zc));
    base = carve_test_image(set);
    EXPECT(zc.verified == 1);
    EXPECT(zc.host_address == zc.device_address);
    EXPECT(zc.host_address == (uint64_t)(uintptr_t)base && base != NULL);
    EXPECT(zc.how != NULL && zc.how[0] != '\0');
    printf("zero-copy: %s, at 0x%llx\n", zc.how ? zc.how : "?",
           (unsigned long long)zc.host_address);

    for (id = 0; id < ITEMS; ++id) {
        unsigned char *arena = base + dev_arena_start(plan, id);
        uint32_t i;
        for (i = 0; i < 64; ++i)
            arena[i] = dev_pattern(HOST_TAG(id), i);
    }
    DEV_RUN(set, exchange, 1, &items);
    base = carve_test_image(set);
    for (id = 0; id < ITEMS; ++id) {
        carve_arena_stats st = dev_stats(set, id);
        const uint64_t *q =
            carve_layout_pointer(carve_test_image(set), st.root, 4 * sizeof *q);
        const unsigned char *p =
            q ? carve_layout_pointer(carve_test_image(set), (uint32_t)q[3], 64)
              : NULL;
        int ok = q != NULL && p != NULL &&
                 q[0] == (uint64_t)(uintptr_t)base && /* same address */
                 q[1] == (uint64_t)(uintptr_t)p &&
                 q[2] == 0 && /* the device read the host's bytes */
                 q[3] == dev_arena_start(plan, id) &&
                 dev_mismatches(p, 64, DEVICE_TAG(id)) == 0;
        bad += !ok;
    }
    EXPECT(bad == 0);
    REQUIRE_OK(carve_set_zero_copy(set, &zc));
    EXPECT(zc.verified == 1 && zc.host_address == (uint64_t)(uintptr_t)base);
    carve_set_release(set);
}

/* Every host accessor refuses while the device owns `set`. */
static void expect_device_owned(carve_set *set, const carve_plan *plan,
                                const carve_region *region)
{
    void *image = &image;
    /* No image to read: the carve_layout_* accessors cannot be reached. */
    EXPECT_STATUS(carve_set_image(set, &image), CARVE_ERROR_WRONG_OWNER);
    EXPECT(image == NULL);
    EXPECT_STATUS(carve_set_reset(set), CARVE_ERROR_WRONG_OWNER);
    /* what does not touch the image still answers */
    EXPECT(carve_set_plan(set) != NULL &&
           carve_set_plan(set)->total_bytes == plan->total_bytes);
    EXPECT(carve_set_region(set) == region);
}

static void expect_host_owned(carve_set *set, const carve_plan *plan)
{
    carve_arena_stats st;
    carve_summary sum;
    EXPECT(carve_test_image(set) != NULL);
    EXPECT_STATUS(carve_layout_arena_stats(carve_test_image(set), 0, &st),
                  CARVE_SUCCESS);
    EXPECT_STATUS(carve_layout_summary(carve_test_image(set), &sum),
                  CARVE_SUCCESS);
    EXPECT_STATUS(carve_layout_check(carve_test_image(set), NULL, NULL),
                  CARVE_SUCCESS);
    EXPECT(carve_layout_pointer(carve_test_image(set), plan->arenas_offset,
                                16) != NULL);
}

static void test_ownership(const carve_test_cl *cl, cl_kernel exchange,
                           const carve_plan *plan)
{
    const size_t items = ITEMS;
    carve_set *set = dev_set(cl, plan);
    const carve_region *region = carve_set_region(set);
    void *base;
    cl_event done;
    expect_host_owned(set, plan);

    REQUIRE_OK(carve_set_to_device(set));
    expect_device_owned(set, plan, region);
    EXPECT_STATUS(carve_set_to_device(set), CARVE_SUCCESS);
    expect_device_owned(set, plan, region);

    /* the device owns it: launch by hand, then take it back twice */
    REQUIRE_OK(carve_set_bind(set, exchange, 0));
    REQUIRE_OK(clEnqueueNDRangeKernel(cl->queue, exchange, 1, NULL, &items,
                                      NULL, 0, NULL, &done));
    EXPECT_STATUS(carve_set_to_host(set, 1, NULL), CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_set_to_host(set, 0, &done),
                  CARVE_ERROR_INVALID_ARGUMENT);
    REQUIRE_OK(carve_set_to_host(set, 1, &done));
    clReleaseEvent(done);
    base = carve_test_image(set);
    expect_host_owned(set, plan);
    EXPECT_STATUS(carve_set_to_host(set, 0, NULL), CARVE_SUCCESS);
    EXPECT(carve_test_image(set) == base);
    expect_host_owned(set, plan);
    EXPECT(dev_summary(set).alloc_count == 2ull * ITEMS);

    /* carve_set_run on a device-owned set takes it and gives it back */
    REQUIRE_OK(carve_set_reset(set));
    REQUIRE_OK(carve_set_to_device(set));
    REQUIRE_OK(carve_set_run(set, exchange, 0, 1, &items, NULL));
    expect_host_owned(set, plan);
    EXPECT(dev_summary(set).alloc_count == 2ull * ITEMS);
    EXPECT(carve_set_region(set) == region);
    EXPECT(carve_test_image(set) == base);
    carve_set_release(set);
}

int main(void)
{
    const size_t items = ITEMS;
    carve_test_cl cl = carve_test_open_cl();
    carve_plan plan = dev_plan(&cl, 1, &items, ARENA_BYTES);
    cl_program program;
    cl_kernel exchange = carve_test_kernel(&cl, source, "exchange", &program);

    test_zero_copy(&cl, exchange, &plan);
    test_ownership(&cl, exchange, &plan);

    clReleaseKernel(exchange);
    clReleaseProgram(program);
    carve_test_close_cl(&cl);
    return carve_test_finish("device_zero_copy");
}
