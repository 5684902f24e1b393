/*
 * ndrange.c - one arena per work-item, whatever the shape of the launch.
 *
 * For 1-, 2- and 3-D NDRanges (sizes that are not powers of two, explicit
 * local sizes, global offsets), every work-item opens arena
 * carve_flat_global_id() and writes its global ids there; the host decodes
 * them and checks that work-items map one-to-one onto the launch's arenas.
 * Offsets of the faster dimensions go through clEnqueueNDRangeKernel with
 * carve_set_to_device / carve_set_bind / carve_set_to_host; an offset in
 * the slowest dimension counts in the flat index, so those launches run as
 * a split of one device (carve/split.h), whose set starts at the offset's
 * first arena, and a plain set launched so has the work-items past its
 * arenas refused and counted. Also: carve_set_run refuses an NDRange whose size
 * differs from the plan's, and a work-item that opens an index beyond the
 * plan gets a handle on which every request returns NULL, counted in the
 * header's open_failures.
 */
#include "device_support.h"

#include <carve/diagnostics.h>
#include <carve/split.h>

static const char *const source = DEV_KERNEL_PRELUDE
    "kernel void where(global uchar *carved)\n"
    "{\n"
    "    uint flat = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, flat);\n"
    "    global uint *p = carve_malloc(&a, 5 * sizeof(uint));\n"
    "    if (p != 0) {\n"
    "        p[0] = flat;\n"
    "        p[1] = (uint)get_global_id(0);\n"
    "        p[2] = (uint)get_global_id(1);\n"
    "        p[3] = (uint)get_global_id(2);\n"
    "        p[4] = get_work_dim();\n"
    "    }\n"
    "    carve_set_root(&a, p);\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    /* Work-items with flat % 3 == 0 open count + flat, and work-item 1
     * opens 0xffffffff: all beyond the plan. */
    "kernel void beyond(global uchar *carved, global uint *out, uint count)\n"
    "{\n"
    "    uint flat = carve_flat_global_id();\n"
    "    uint index = flat % 3u == 0u ? count + flat : flat;\n"
    "    carve_arena a;\n"
    "    global uchar *p, *q, *r, *s;\n"
    "    uint seen;\n"
    "    if (flat == 1u) index = 0xffffffffu;\n"
    "    a = carve_arena_open(carved, index);\n"
    "    p = carve_malloc(&a, 16);\n"
    "    q = carve_calloc(&a, 2, 8);\n"
    "    r = carve_realloc(&a, 0, 32);\n"
    "    s = carve_malloc_aligned(&a, 16, 64);\n"
    "    seen = (p == 0) | (q == 0) << 1 | (r == 0) << 2 | (s == 0) << 3 |\n"
    "           (carve_usable_size(&a, p) == 0) << 4;\n"
    "    carve_free(&a, p);\n"
    "    if (index >= count) { /* harmless on a refused handle */\n"
    "        carve_free(&a, carved + 4096);\n"
    "        carve_free(&a, r);\n"
    "        seen |= (carve_realloc(&a, carved + 4096, 64) == 0) << 5;\n"
    "    }\n"
    "    out[flat] = seen;\n"
    "    carve_arena_close(&a);\n"
    "}\n";

typedef struct shape {
    cl_uint dim;
    size_t global[3];
    size_t local[3];  /* all 0: let the implementation choose */
    size_t offset[3]; /* all 0: launched with carve_set_run */
} shape;

static int has(const size_t *v, cl_uint dim)
{
    cl_uint d;
    for (d = 0; d < dim; ++d)
        if (v[d] != 0)
            return 1;
    return 0;
}

/* Launches `where` through the explicit calls, waiting on its event. */
static void launch_explicit(const carve_test_cl *cl, carve_set *set,
                            cl_kernel kernel, const shape *s)
{
    cl_event done;
    REQUIRE_OK(carve_set_to_device(set));
    REQUIRE_OK(carve_set_bind(set, kernel, 0));
    REQUIRE_OK(clEnqueueNDRangeKernel(cl->queue, kernel, s->dim,
                                      has(s->offset, s->dim) ? s->offset : NULL,
                                      s->global,
                                      has(s->local, s->dim) ? s->local : NULL,
                                      0, NULL, &done));
    REQUIRE_OK(carve_set_to_host(set, 1, &done));
    clReleaseEvent(done);
}

/* Checks that the launch `s` (as the kernel saw it) mapped its work-items
 * one-to-one onto the set's arenas, in carve_flat_global_id order, the
 * set's arena i being the launch's arena first + i. */
static void check_mapping(const carve_set *set, const shape *s, uint32_t first)
{
    const uint32_t count = carve_set_plan(set)->arena_count;
    const int slowest = (int)s->dim - 1;
    uint32_t *seen = calloc(count, sizeof *seen);
    uint32_t i, bad = 0, missing = 0;
    carve_summary sum = dev_summary(set);
    if (seen == NULL)
        exit(1);
    for (i = 0; i < count; ++i) {
        carve_arena_stats st = dev_stats(set, i);
        const uint32_t *p =
            carve_layout_pointer(carve_test_image(set), st.root, 5 * sizeof *p);
        uint64_t flat = 0;
        int d, ok;
        if (p == NULL || st.alloc_count != 1 ||
            st.flags != (CARVE_ARENA_OPENED | CARVE_ARENA_CLOSED)) {
            ++bad;
            continue;
        }
        ok = p[0] == first + i && p[4] == s->dim;
        for (d = 2; d >= 0; --d) {
            uint64_t off = d < (int)s->dim ? s->offset[d] : 0;
            uint64_t size = d < (int)s->dim ? s->global[d] : 1;
            /* the slowest dimension's offset counts */
            uint64_t lo = d < slowest ? off : 0;
            ok = ok && p[1 + d] >= off && p[1 + d] < off + size;
            flat = flat * size + (p[1 + d] - lo);
        }
        if (!ok || flat != (uint64_t)first + i) {
            if (bad < 5)
                fprintf(stderr, "  arena %u: flat %u, ids (%u, %u, %u), dim %u\n",
                        (unsigned)i, (unsigned)p[0], (unsigned)p[1],
                        (unsigned)p[2], (unsigned)p[3], (unsigned)p[4]);
            ++bad;
            continue;
        }
        seen[flat - first] += 1;
    }
    for (i = 0; i < count; ++i)
        missing += seen[i] != 1;
    EXPECT(bad == 0);
    EXPECT(missing == 0);
    EXPECT(sum.arenas_opened == count && sum.arenas_closed == count);
    EXPECT(sum.open_failures == 0 && sum.alloc_count == count);
    if (bad != 0 || missing != 0)
        fprintf(stderr, "  (%u-D launch %zu x %zu x %zu, offset %zu, %zu, "
                        "%zu: %u bad, %u unmapped)\n",
                (unsigned)s->dim, s->global[0], s->global[1], s->global[2],
                s->offset[0], s->offset[1], s->offset[2], (unsigned)bad,
                (unsigned)missing);
    free(seen);
}

/* A launch with an offset in its slowest dimension: a split of one
 * device, whose set holds the launch's arenas from the offset's on. */
static void run_offset_split(const carve_test_cl *cl, cl_kernel where,
                             const shape *s)
{
    carve_split_params sp;
    carve_split_plan plan;
    carve_split *split = NULL;
    carve_device_limits limits;
    cl_uint d;
    memset(&sp, 0, sizeof sp);
    sp.plan.work_dim = s->dim;
    for (d = 0; d < s->dim; ++d)
        sp.plan.global_size[d] = s->global[d];
    sp.plan.arena_bytes = 64;
    memcpy(sp.global_offset, s->offset, sizeof sp.global_offset);
    sp.granule = has(s->local, s->dim) ? s->local[s->dim - 1] : 0;
    sp.device_count = 1;
    REQUIRE_OK(carve_device_limits_query(cl->device, &limits));
    REQUIRE_OK(carve_split_plan_compute(&sp, &limits, &plan));
    EXPECT(plan.slices[0].first_arena ==
           s->offset[s->dim - 1] *
               (s->dim > 1 ? s->global[0] : 1) *
               (s->dim > 2 ? s->global[1] : 1));
    REQUIRE_OK(carve_split_create(cl->context, &cl->device, &cl->queue, &plan,
                                  0, &split));
    REQUIRE_OK(carve_split_run(split, where, 0,
                               has(s->local, s->dim) ? s->local : NULL));
    DEV_EXPECT_CHECK(carve_split_set(split, 0));
    check_mapping(carve_split_set(split, 0), s, plan.slices[0].first_arena);
    carve_split_release(split);
}

static void test_shapes(const carve_test_cl *cl, cl_kernel where)
{
    static const shape shapes[] = {
        {1, {1000, 1, 1}, {0}, {0}},
        {1, {4096, 1, 1}, {64, 0, 0}, {0}},
        {2, {37, 23, 1}, {0}, {0}},
        {2, {64, 16, 1}, {16, 4, 0}, {0}},
        {3, {7, 5, 3}, {0}, {0}},
        {3, {16, 8, 4}, {4, 2, 2}, {0}},
        {2, {13, 17, 1}, {0}, {100, 0, 0}},
        {3, {9, 7, 5}, {0}, {3, 11, 0}},
        {1, {999, 1, 1}, {0}, {5, 0, 0}},
        {2, {13, 17, 1}, {0}, {100, 1, 0}},
        {3, {9, 7, 5}, {0}, {3, 11, 2}},
        {3, {8, 6, 4}, {2, 3, 2}, {1, 1000, 7}},
    };
    size_t i;
    for (i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
        const shape *s = &shapes[i];
        carve_plan plan;
        carve_set *set;
        if (s->offset[s->dim - 1] != 0) {
            run_offset_split(cl, where, s);
            continue;
        }
        plan = dev_plan(cl, s->dim, s->global, 64);
        set = dev_set(cl, &plan);
        if (has(s->offset, s->dim) || has(s->local, s->dim))
            launch_explicit(cl, set, where, s);
        else
            REQUIRE_OK(carve_set_run(set, where, 0, s->dim, s->global, NULL));
        DEV_EXPECT_CHECK(set);
        check_mapping(set, s, 0);
        carve_set_release(set);
    }
}

/* A plain set launched with an offset in the slowest dimension: the
 * work-items whose launch-wide index passes the set's arenas are refused
 * and counted, never given another's arena. */
static void test_offset_on_plain_set(const carve_test_cl *cl, cl_kernel where)
{
    const shape s = {1, {999, 1, 1}, {0}, {5, 0, 0}};
    carve_plan plan = dev_plan(cl, 1, s.global, 64);
    carve_set *set = dev_set(cl, &plan);
    carve_summary sum;
    launch_explicit(cl, set, where, &s);
    DEV_EXPECT_CHECK(set);
    sum = dev_summary(set);
    EXPECT(sum.open_failures == 5);
    EXPECT(sum.arenas_opened == 994 && sum.alloc_count == 994);
    EXPECT(dev_stats(set, 4).flags == 0 && dev_stats(set, 5).alloc_count == 1);
    carve_set_release(set);
}

/* A plan of 6 x 4 arenas: run refuses other sizes, takes other shapes of
 * the same size. */
static void test_size_mismatch(const carve_test_cl *cl, cl_kernel where)
{
    const size_t planned[2] = {6, 4}, wrong1[1] = {25}, wrong2[2] = {6, 5};
    const size_t wrong3[3] = {6, 4, 2}, flat[1] = {24};
    const shape flat_shape = {1, {24, 1, 1}, {0}, {0}};
    const shape cube_shape = {3, {2, 3, 4}, {0}, {0}};
    carve_plan plan = dev_plan(cl, 2, planned, 64);
    carve_set *set = dev_set(cl, &plan);
    EXPECT(plan.arena_count == 24);
    EXPECT_STATUS(carve_set_run(set, where, 0, 1, wrong1, NULL),
                  CARVE_ERROR_NDRANGE_MISMATCH);
    EXPECT_STATUS(carve_set_run(set, where, 0, 2, wrong2, NULL),
                  CARVE_ERROR_NDRANGE_MISMATCH);
    EXPECT_STATUS(carve_set_run(set, where, 0, 3, wrong3, NULL),
                  CARVE_ERROR_NDRANGE_MISMATCH);
    EXPECT_STATUS(carve_set_run(set, where, 0, 0, planned, NULL),
                  CARVE_ERROR_INVALID_NDRANGE);
    EXPECT_STATUS(carve_set_run(set, where, 0, 4, wrong3, NULL),
                  CARVE_ERROR_INVALID_NDRANGE);
    /* nothing ran, and the host still owns the set */
    EXPECT(carve_test_image(set) != NULL);
    EXPECT(dev_summary(set).arenas_opened == 0);

    REQUIRE_OK(carve_set_run(set, where, 0, 1, flat, NULL));
    DEV_EXPECT_CHECK(set);
    check_mapping(set, &flat_shape, 0);
    REQUIRE_OK(carve_set_reset(set));
    REQUIRE_OK(carve_set_run(set, where, 0, 3, cube_shape.global, NULL));
    DEV_EXPECT_CHECK(set);
    check_mapping(set, &cube_shape, 0);
    carve_set_release(set);
}

/* The report prints `format`, as text or JSON, into a string. */
static char *report_text(carve_set *set, carve_format format)
{
    carve_report *r = NULL;
    FILE *f = tmpfile();
    char *text;
    long size;
    if (f == NULL)
        exit(1);
    REQUIRE_OK(carve_layout_report(carve_test_image(set), 0, &r));
    REQUIRE_OK(carve_report_print(r, f, format));
    carve_report_release(r);
    size = ftell(f);
    rewind(f);
    text = dev_xmalloc((size_t)size + 1);
    text[fread(text, 1, (size_t)size, f)] = '\0';
    fclose(f);
    return text;
}

static void test_open_beyond(const carve_test_cl *cl, cl_kernel beyond)
{
    char want[160], *text;
    const size_t items = 300;
    const uint32_t count = (uint32_t)items;
    carve_plan plan = dev_plan(cl, 1, &items, 256);
    carve_set *set = dev_set(cl, &plan);
    cl_mem out_mem = dev_buffer(cl, items * sizeof(uint32_t), NULL);
    uint32_t out[300], i, refused = 0, wrong = 0;
    carve_summary sum;
    dev_arg(beyond, 1, sizeof out_mem, &out_mem);
    dev_arg(beyond, 2, sizeof count, &count);
    DEV_RUN(set, beyond, 1, &items);
    dev_read(cl, out_mem, sizeof out, out);
    for (i = 0; i < count; ++i) {
        int refuse = i % 3 == 0 || i == 1;
        carve_arena_stats st = dev_stats(set, i);
        refused += refuse;
        if (refuse) /* every request NULL; its own arena never opened */
            wrong += out[i] != 0x3f || st.flags != 0 || st.alloc_count != 0;
        else
            wrong += out[i] != 0 || st.alloc_count != 4 ||
                     st.failed_count != 0 || st.misuse_count != 0;
    }
    EXPECT(wrong == 0);
    sum = dev_summary(set);
    EXPECT(sum.open_failures == refused);
    EXPECT(sum.arenas_opened == count - refused);
    EXPECT(sum.failed_count == 0 && sum.misuse_count == 0);
    /* The report counts them as errors, with what to do about it. */
    text = report_text(set, CARVE_FORMAT_TEXT);
    snprintf(want, sizeof want, "errors: %u (0 kept by the device's log, 0 "
             "it had no room for; 0 found by the host; %u work-item(s) with "
             "no arena)", (unsigned)refused, (unsigned)refused);
    EXPECT(strstr(text, want) != NULL);
    EXPECT(strstr(text, "launch the NDRange the plan was made for") != NULL);
    free(text);
    text = report_text(set, CARVE_FORMAT_JSON);
    snprintf(want, sizeof want, "\"no_arena\": %u", (unsigned)refused);
    EXPECT(strstr(text, want) != NULL);
    free(text);
    REQUIRE_OK(carve_set_reset(set));
    EXPECT(dev_summary(set).open_failures == 0);
    clReleaseMemObject(out_mem);
    carve_set_release(set);
}

int main(void)
{
    carve_test_cl cl = carve_test_open_cl();
    cl_program program;
    cl_kernel where = carve_test_kernel(&cl, source, "where", &program);
    cl_int err;
    cl_kernel beyond = clCreateKernel(program, "beyond", &err);
    REQUIRE_OK(err);

    test_shapes(&cl, where);
    test_offset_on_plain_set(&cl, where);
    test_size_mismatch(&cl, where);
    test_open_beyond(&cl, beyond);

    clReleaseKernel(where);
    clReleaseKernel(beyond);
    clReleaseProgram(program);
    carve_test_close_cl(&cl);
    return carve_test_finish("device_ndrange");
}
