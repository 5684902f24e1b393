/*
 * split.c - one launch split over sub-devices (carve/split.h), against the
 * same launch on the parent device of the same cores.
 *
 * The workload is the kind the examples run: each work-item reads its own
 * input by carve_flat_global_id(), builds a list of nodes of varying size
 * in its arena (reallocs and frees along the way, a large block from the
 * heap for some), leaves the list as its root and writes a digest to an
 * output buffer by get_global_id(). The kernel is the one-device kernel,
 * unchanged. For 1-D and 2-D launches, over sub-devices made
 * CL_DEVICE_PARTITION_EQUALLY and BY_COUNTS, evenly and by uneven shares,
 * in one region and in a region per device, the split run must give, bit
 * for bit, the outputs, every arena's statistics and every list the
 * parent device gave. Also: merged diagnostics (summary per device and in
 * total, check, report, fit), the per-device hand-back, a work-item's free
 * of a block of another device's slice, refused and recorded, and a
 * device whose launch fails while the other's runs: the error names it,
 * the other's results are there and readable; one slice relaunched on its
 * own through its set; slices too big to share one region.
 */
#include "device_support.h"

#include <carve/split.h>

static const char *const source = DEV_KERNEL_PRELUDE
    "typedef struct node { uint next; uint value; uint bytes; } node;\n"
    "kernel void lists(global uchar *carved, global const uint *input,\n"
    "                  global uint *output)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    uint seed = input[id], digest = seed, head = 0, k;\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uint *scratch = carve_malloc(&a, 8 + seed % 40);\n"
    "    for (k = 0; k < 3 + seed % 6; ++k) {\n"
    "        uint bytes = 12 + (seed >> k) % 96;\n"
    "        global node *n = carve_malloc(&a, bytes);\n"
    "        if (n == 0) { digest ^= 0xdead0000u; break; }\n"
    "        n->next = head; n->value = seed * (k + 1); n->bytes = bytes;\n"
    "        head = carve_offset(&a, n);\n"
    "        digest = digest * 31u + n->value + bytes;\n"
    "        if (scratch != 0 && k == 2)\n"
    "            scratch = carve_realloc(&a, scratch, 64 + seed % 100);\n"
    "    }\n"
    "    if (seed % 7 == 0) { /* a large block from the heap */\n"
    "        global uint *big = carve_malloc(&a, 3000);\n"
    "        if (big != 0) { big[0] = seed; digest ^= big[0]; carve_free(&a, big); }\n"
    "    }\n"
    "    carve_free(&a, scratch);\n"
    "    carve_set_root(&a, carve_pointer(&a, head));\n"
    "    output[get_global_id(0) + get_global_id(1) * get_global_size(0)] = digest;\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    /* Frees a pointer into another device's slice: `other` is that slice's
     * image, whose arenas start at the header's word 7. */
    "kernel void foreign(global uchar *carved, global uchar *other)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uint *mine = carve_malloc(&a, 32);\n"
    "    global const uint *header = (global const uint *)other;\n"
    "    carve_free(&a, other + header[7]);\n"
    "    carve_free(&a, mine);\n"
    "    carve_arena_close(&a);\n"
    "}\n";

#define MAX_SUB 3 /* two halves of the compute units, three for odd counts */

typedef struct rig {
    cl_device_id parent;
    cl_device_id subs[MAX_SUB];
    cl_uint sub_count;
    cl_context context; /* the parent and the sub-devices */
    cl_command_queue parent_queue;
    cl_command_queue queues[MAX_SUB];
    cl_program program;
    cl_kernel lists, foreign;
} rig;

/* Sub-devices of the parent by `props`; 0 when the device cannot. */
static int rig_open(rig *r, cl_device_id parent,
                    const cl_device_partition_property *props)
{
    cl_device_id all[MAX_SUB + 1];
    cl_int err;
    cl_uint i;
    char *log = NULL;
    memset(r, 0, sizeof *r);
    r->parent = parent;
    if (clCreateSubDevices(parent, props, MAX_SUB, r->subs, &r->sub_count) !=
            CL_SUCCESS ||
        r->sub_count < 2)
        return 0;
    all[0] = parent;
    for (i = 0; i < r->sub_count; ++i)
        all[i + 1] = r->subs[i];
    r->context = clCreateContext(NULL, r->sub_count + 1, all, NULL, NULL, &err);
    REQUIRE_OK(err);
    r->parent_queue = clCreateCommandQueue(r->context, parent, 0, &err);
    REQUIRE_OK(err);
    for (i = 0; i < r->sub_count; ++i) {
        r->queues[i] = clCreateCommandQueue(r->context, r->subs[i], 0, &err);
        REQUIRE_OK(err);
    }
    err = carve_program_build_for_devices(r->context, r->sub_count + 1, all,
                                          source, NULL, &r->program, &log);
    if (err != CARVE_SUCCESS)
        fprintf(stderr, "build: %s\n%s\n", carve_status_string(err),
                log ? log : "");
    free(log);
    REQUIRE_OK(err);
    r->lists = clCreateKernel(r->program, "lists", &err);
    REQUIRE_OK(err);
    r->foreign = clCreateKernel(r->program, "foreign", &err);
    REQUIRE_OK(err);
    return 1;
}

static void rig_close(rig *r)
{
    cl_uint i;
    clReleaseKernel(r->lists);
    clReleaseKernel(r->foreign);
    clReleaseProgram(r->program);
    for (i = 0; i < r->sub_count; ++i) {
        clReleaseCommandQueue(r->queues[i]);
        clReleaseDevice(r->subs[i]);
    }
    clReleaseCommandQueue(r->parent_queue);
    clReleaseContext(r->context);
}

static carve_plan_params workload_params(cl_uint dim, const size_t *global)
{
    carve_plan_params p;
    memset(&p, 0, sizeof p);
    p.work_dim = dim;
    p.global_size[0] = global[0];
    p.global_size[1] = dim > 1 ? global[1] : 1;
    p.arena_bytes = 1024;
    p.heap_bytes = 256 * 1024;
    p.options = CARVE_PLAN_CHECKS;
    return p;
}

/* A launch's results: outputs, then per arena its statistics and list. */
typedef struct results {
    size_t items;
    uint32_t *output;
    carve_arena_stats *stats;
    uint32_t *list_digest; /* the list the host walks from the root */
} results;

static void results_alloc(results *res, size_t items)
{
    res->items = items;
    res->output = dev_xmalloc(items * sizeof *res->output);
    res->stats = dev_xmalloc(items * sizeof *res->stats);
    res->list_digest = dev_xmalloc(items * sizeof *res->list_digest);
}

static void results_free(results *res)
{
    free(res->output);
    free(res->stats);
    free(res->list_digest);
}

/* Walks a list through `block` (a carve_layout_block or carve_split_block
 * over launch-wide arena i). */
typedef void *(*block_fn)(const void *owner, uint32_t arena, uint32_t offset,
                          size_t bytes);

static uint32_t walk_list(const void *owner, block_fn block, uint32_t arena,
                          uint32_t root)
{
    uint32_t digest = 0, steps = 0;
    while (root != 0 && steps++ < 64) {
        const uint32_t *n = block(owner, arena, root, 12);
        if (n == NULL)
            return 0xbad0bad0u;
        digest = digest * 131u + n[1] + n[2];
        root = n[0];
    }
    return digest;
}

static void *set_block(const void *set, uint32_t arena, uint32_t offset,
                       size_t bytes)
{
    return carve_layout_block(carve_test_image(set), arena, offset, bytes);
}

static void *split_block(const void *split, uint32_t arena, uint32_t offset,
                         size_t bytes)
{
    return carve_split_block(split, arena, offset, bytes);
}

static uint32_t *make_input(size_t items)
{
    uint32_t *input = dev_xmalloc(items * sizeof *input);
    size_t i;
    for (i = 0; i < items; ++i)
        input[i] = (uint32_t)(i * 2654435761u >> 7) % 1000u + 1u;
    return input;
}

/* Buffers of the lists kernel's input (make_input's) and output, bound as
 * its arguments 1 and 2; released by the caller. */
static void bind_workload(rig *r, size_t items, const uint32_t *input,
                          cl_mem *in, cl_mem *out)
{
    cl_int err;
    *in = clCreateBuffer(r->context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                         items * 4, (void *)(uintptr_t)input, &err);
    REQUIRE_OK(err);
    *out = clCreateBuffer(r->context, CL_MEM_WRITE_ONLY, items * 4, NULL, &err);
    REQUIRE_OK(err);
    dev_arg(r->lists, 1, sizeof *in, in);
    dev_arg(r->lists, 2, sizeof *out, out);
}

/* The reference: the launch on the parent device, one set. */
static void run_parent(rig *r, cl_uint dim, const size_t *global,
                       results *res)
{
    carve_plan_params params = workload_params(dim, global);
    size_t items = global[0] * (dim > 1 ? global[1] : 1), i;
    uint32_t *input = make_input(items);
    carve_device_limits limits;
    carve_plan plan;
    carve_set *set = NULL;
    cl_mem in, out;
    REQUIRE_OK(carve_device_limits_query(r->parent, &limits));
    REQUIRE_OK(carve_plan_compute(&params, &limits, &plan));
    REQUIRE_OK(carve_set_create(r->context, r->parent, r->parent_queue, &plan,
                                0, &set));
    bind_workload(r, items, input, &in, &out);
    REQUIRE_OK(carve_set_run(set, r->lists, 0, dim, global, NULL));
    DEV_EXPECT_CHECK(set);
    results_alloc(res, items);
    REQUIRE_OK(clEnqueueReadBuffer(r->parent_queue, out, CL_TRUE, 0, items * 4,
                                   res->output, 0, NULL, NULL));
    for (i = 0; i < items; ++i) {
        REQUIRE_OK(carve_layout_arena_stats(carve_test_image(set), (uint32_t)i,
                                            &res->stats[i]));
        res->list_digest[i] =
            walk_list(set, set_block, (uint32_t)i, res->stats[i].root);
    }
    clReleaseMemObject(in);
    clReleaseMemObject(out);
    carve_set_release(set);
    free(input);
}

static carve_split_plan split_plan(rig *r, cl_uint dim, const size_t *global,
                                   const uint32_t *shares)
{
    carve_split_params sp;
    carve_split_plan plan;
    carve_device_limits limits[MAX_SUB];
    cl_uint i;
    memset(&sp, 0, sizeof sp);
    sp.plan = workload_params(dim, global);
    sp.device_count = r->sub_count;
    for (i = 0; i < r->sub_count; ++i) {
        REQUIRE_OK(carve_device_limits_query(r->subs[i], &limits[i]));
        sp.shares[i] = shares != NULL ? shares[i] : 0;
    }
    REQUIRE_OK(carve_split_plan_compute(&sp, limits, &plan));
    return plan;
}

/* Compares two statistics, the fields a run decides. */
static int same_stats(const carve_arena_stats *a, const carve_arena_stats *b)
{
    return a->in_use_bytes == b->in_use_bytes &&
           a->peak_in_use_bytes == b->peak_in_use_bytes &&
           a->peak_footprint_bytes == b->peak_footprint_bytes &&
           a->live_blocks == b->live_blocks &&
           a->alloc_count == b->alloc_count && a->free_count == b->free_count &&
           a->failed_count == b->failed_count &&
           a->misuse_count == b->misuse_count && a->flags == b->flags &&
           a->realloc_count == b->realloc_count &&
           a->heap_allocs == b->heap_allocs && a->heap_frees == b->heap_frees;
}

/* Arenas [first, end) of the split whose statistics or block list differ
 * from the one-device reference; the first few are named. */
static uint32_t arenas_differing(const carve_split *split,
                                 const results *want, uint32_t first,
                                 uint32_t end, const char *what)
{
    uint32_t i, differ = 0;
    for (i = first; i < end; ++i) {
        carve_arena_stats st;
        REQUIRE_OK(carve_split_arena_stats(split, i, &st));
        if (!same_stats(&st, &want->stats[i]) ||
            walk_list(split, split_block, i, st.root) !=
                want->list_digest[i]) {
            if (differ++ < 3)
                fprintf(stderr, "  %s: arena %u differs from one device's\n",
                        what, (unsigned)i);
        }
    }
    return differ;
}

/* The split run of the same launch, compared with the reference. */
static void run_split(rig *r, cl_uint dim, const size_t *global,
                      const uint32_t *shares, uint32_t flags,
                      const results *want, const char *what)
{
    carve_split_plan plan = split_plan(r, dim, global, shares);
    size_t items = want->items;
    uint32_t *input = make_input(items), *output = dev_xmalloc(items * 4);
    uint32_t differ = 0, bad_arena = 0, broken = 0;
    cl_uint bad_slice = 0;
    carve_split *split = NULL;
    carve_split_info info;
    carve_summary total, per[MAX_SUB];
    carve_fit fit, fits[MAX_SUB];
    cl_mem in, out;
    REQUIRE_OK(carve_split_create(r->context, r->subs, r->queues, &plan, flags,
                                  &split));
    REQUIRE_OK(carve_split_info_get(split, &info));
    EXPECT(info.device_count == r->sub_count && info.heap_per_device == 1);
    /* PoCL's sub-devices share the host's memory: one region holds all. */
    EXPECT(info.region_count ==
           ((flags & CARVE_SPLIT_REGION_PER_DEVICE) ? r->sub_count : 1));
    EXPECT(info.zero_copy_verified);
    bind_workload(r, items, input, &in, &out);
    REQUIRE_OK(carve_split_run(split, r->lists, 0, NULL));
    EXPECT(carve_split_failed_slice(split) == CARVE_SPLIT_NO_SLICE);
    EXPECT(strcmp(carve_split_message(split), "") == 0);
    REQUIRE_OK(clEnqueueReadBuffer(r->queues[0], out, CL_TRUE, 0, items * 4,
                                   output, 0, NULL, NULL));
    EXPECT(memcmp(output, want->output, items * 4) == 0);
    differ = arenas_differing(split, want, 0, (uint32_t)items, what);
    EXPECT(differ == 0);
    EXPECT_STATUS(carve_split_check(split, &bad_slice, &bad_arena, &broken), CARVE_SUCCESS);
    /* Totals add up the devices', which each hold their own slice. */
    REQUIRE_OK(carve_split_summary(split, &total, per));
    EXPECT(total.arena_count == items && total.arenas_closed == items);
    {
        uint64_t allocs = 0;
        cl_uint k;
        for (k = 0; k < r->sub_count; ++k) {
            EXPECT(per[k].arena_count == plan.slices[k].plan.arena_count);
            allocs += per[k].alloc_count;
        }
        EXPECT(allocs == total.alloc_count && total.alloc_count > items);
        EXPECT(total.heap_allocs > 0 && total.heap_allocs == total.heap_frees);
    }
    REQUIRE_OK(carve_split_fit(split, 100.0, &fit, fits));
    EXPECT(fit.work_items == items);
    EXPECT(fit.params.work_dim == dim && fit.params.global_size[0] == global[0]);
    {
        uint64_t most = 0;
        cl_uint k;
        for (k = 0; k < r->sub_count; ++k)
            if (fits[k].params.arena_bytes > most)
                most = fits[k].params.arena_bytes;
        EXPECT(fit.params.arena_bytes == most && most > 0);
    }
    REQUIRE_OK(carve_split_reset(split));
    REQUIRE_OK(carve_split_summary(split, &total, NULL));
    EXPECT(total.arenas_opened == 0 && total.alloc_count == 0);
    clReleaseMemObject(in);
    clReleaseMemObject(out);
    carve_split_release(split);
    free(input);
    free(output);
}

/* The report names every device with its launch-wide work-items. */
static void test_report(rig *r)
{
    const size_t global[1] = {96};
    carve_split_plan plan = split_plan(r, 1, global, NULL);
    carve_split *split = NULL;
    uint32_t *input = make_input(96);
    cl_mem in, out;
    FILE *f;
    char text[8192], want[96];
    size_t n;
    REQUIRE_OK(carve_split_create(r->context, r->subs, r->queues, &plan, 0,
                                  &split));
    bind_workload(r, 96, input, &in, &out);
    REQUIRE_OK(carve_split_run(split, r->lists, 0, NULL));
    f = tmpfile();
    REQUIRE_OK(carve_split_report_print(split, f, CARVE_FORMAT_TEXT, 3));
    rewind(f);
    n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    snprintf(want, sizeof want, "== device 1 (");
    EXPECT(strstr(text, want) != NULL);
    snprintf(want, sizeof want, "work-items %u to 95",
             (unsigned)plan.slices[r->sub_count - 1].first_arena);
    EXPECT(strstr(text, want) != NULL);
    EXPECT(strstr(text, "== all ") != NULL);
    f = tmpfile();
    REQUIRE_OK(carve_split_report_print(split, f, CARVE_FORMAT_JSON, 3));
    rewind(f);
    n = fread(text, 1, sizeof text - 1, f);
    text[n < sizeof text - 1 ? n : 0] = '\0';
    fclose(f);
    EXPECT(strstr(text, "\"carve-split-report\"") != NULL);
    snprintf(want, sizeof want, "\"first_work_item\": %u",
             (unsigned)plan.slices[1].first_arena);
    EXPECT(strstr(text, want) != NULL);
    clReleaseMemObject(in);
    clReleaseMemObject(out);
    carve_split_release(split);
    free(input);
}

/* Each device's work-items free a block of the other device's slice:
 * refused as foreign and recorded, the other slice untouched. Launched by
 * hand, one device at a time through its set, as a program that overlaps
 * work would. */
static void test_foreign_free(rig *r)
{
    const size_t global[1] = {64};
    carve_split_plan plan = split_plan(r, 1, global, NULL);
    carve_split *split = NULL;
    cl_event done[MAX_SUB];
    carve_summary total, per[MAX_SUB];
    cl_uint i;
    REQUIRE_OK(carve_split_create(r->context, r->subs, r->queues, &plan, 0,
                                  &split));
    for (i = 0; i < r->sub_count; ++i) {
        carve_set *mine = carve_split_set(split, i);
        carve_set *other = carve_split_set(split, (i + 1) % r->sub_count);
        const carve_slice *s = &plan.slices[i];
        REQUIRE_OK(carve_set_bind(mine, r->foreign, 0));
        REQUIRE_OK(carve_set_bind(other, r->foreign, 1));
        REQUIRE_OK(carve_set_to_device(mine));
        REQUIRE_OK(clEnqueueNDRangeKernel(r->queues[i], r->foreign, 1,
                                          s->global_offset, s->global_size,
                                          NULL, 0, NULL, &done[i]));
        REQUIRE_OK(clFlush(r->queues[i]));
    }
    /* One device's hand-back at a time. */
    for (i = 0; i < r->sub_count; ++i) {
        REQUIRE_OK(carve_set_to_host(carve_split_set(split, i), 1, &done[i]));
        clReleaseEvent(done[i]);
    }
    REQUIRE_OK(carve_split_summary(split, &total, per));
    EXPECT(total.misuse_count == 64 && total.alloc_count == 64 &&
           total.free_count == 64);
    for (i = 0; i < r->sub_count; ++i)
        EXPECT(per[i].misuse_count == plan.slices[i].plan.arena_count);
    {
        carve_arena_stats st;
        REQUIRE_OK(carve_split_arena_stats(split, 63, &st));
        EXPECT(st.last_misuse == CARVE_MISUSE_FOREIGN);
    }
    EXPECT_STATUS(carve_split_check(split, NULL, NULL, NULL), CARVE_SUCCESS);
    carve_split_release(split);
}

/* Shares 7:3 of 1000 work-items with a local size of 175: device 0's 700
 * launch, device 1's 300 cannot (175 does not divide 300, and OpenCL C 1.2
 * wants uniform work-groups). */
static void test_device_fails(rig *r, const results *want)
{
    const size_t global[1] = {1000}, local[1] = {175};
    const uint32_t shares[MAX_SUB] = {7, 3};
    carve_split_plan plan;
    carve_split *split = NULL;
    uint32_t *input = make_input(1000);
    carve_summary total, per[MAX_SUB];
    carve_status status;
    uint32_t differ = 0;
    cl_mem in, out;
    if (r->sub_count != 2)
        return;
    plan = split_plan(r, 1, global, shares);
    EXPECT(plan.slices[0].global_size[0] == 700);
    REQUIRE_OK(carve_split_create(r->context, r->subs, r->queues, &plan, 0,
                                  &split));
    bind_workload(r, 1000, input, &in, &out);
    status = carve_split_run(split, r->lists, 0, local);
    EXPECT(status == CL_INVALID_WORK_GROUP_SIZE);
    EXPECT(carve_split_failed_slice(split) == 1);
    EXPECT(strstr(carve_split_message(split), "device 1") != NULL &&
           strstr(carve_split_message(split), "clEnqueueNDRangeKernel") !=
               NULL);
    if (status != CL_INVALID_WORK_GROUP_SIZE)
        fprintf(stderr, "  run: %s; %s\n", carve_status_string(status),
                carve_split_message(split));
    /* Every slice is the host's: device 0's ran, device 1's did not. */
    REQUIRE_OK(carve_split_summary(split, &total, per));
    EXPECT(per[0].arenas_closed == 700 && per[1].arenas_opened == 0);
    differ = arenas_differing(split, want, 0, 700, "failed launch");
    EXPECT(differ == 0);
    EXPECT_STATUS(carve_split_check(split, NULL, NULL, NULL), CARVE_SUCCESS);
    clReleaseMemObject(in);
    clReleaseMemObject(out);
    carve_split_release(split);
    free(input);
}

/* One slice relaunched on its own through its set: carve_set_run puts it
 * where the split launch has it, so its work-items open their own arenas
 * and get the parent's results. */
static void test_slice_alone(rig *r, const results *want)
{
    const size_t global[1] = {1000};
    carve_split_plan plan = split_plan(r, 1, global, NULL);
    carve_split *split = NULL;
    carve_set *last;
    uint32_t *input = make_input(1000), differ = 0;
    const carve_slice *s;
    carve_summary total, per[MAX_SUB];
    cl_mem in, out;
    REQUIRE_OK(carve_split_create(r->context, r->subs, r->queues, &plan, 0,
                                  &split));
    last = carve_split_set(split, r->sub_count - 1);
    s = &plan.slices[r->sub_count - 1];
    bind_workload(r, 1000, input, &in, &out);
    REQUIRE_OK(carve_set_run(last, r->lists, 0, 1, s->global_size, NULL));
    REQUIRE_OK(carve_split_summary(split, &total, per));
    EXPECT(per[r->sub_count - 1].arenas_closed == s->plan.arena_count);
    EXPECT(total.open_failures == 0 && per[0].arenas_opened == 0);
    differ = arenas_differing(split, want, s->first_arena, 1000,
                              "slice alone");
    EXPECT(differ == 0);
    clReleaseMemObject(in);
    clReleaseMemObject(out);
    carve_split_release(split);
    free(input);
}

/* Slices that together pass the devices' largest buffer cannot share one
 * region: each device gets its own, and the split says why. */
static void test_too_big_to_share(rig *r)
{
    carve_split_params sp;
    carve_split_plan plan;
    carve_device_limits limits[MAX_SUB];
    carve_split *split = NULL;
    carve_split_info info;
    cl_uint i;
    memset(&sp, 0, sizeof sp);
    sp.plan.work_dim = 1;
    sp.plan.global_size[0] = 4096;
    sp.plan.arena_bytes = 1024;
    sp.device_count = r->sub_count;
    for (i = 0; i < r->sub_count; ++i)
        REQUIRE_OK(carve_device_limits_query(r->subs[i], &limits[i]));
    REQUIRE_OK(carve_split_plan_compute(&sp, limits, &plan));
    /* Room for the largest slice and a little more, not for all. */
    for (i = 0; i < r->sub_count; ++i)
        limits[i].max_mem_alloc_size = plan.slices[0].plan.total_bytes * 5 / 4;
    REQUIRE_OK(carve_split_plan_compute(&sp, limits, &plan));
    REQUIRE_OK(carve_split_create(r->context, r->subs, r->queues, &plan, 0,
                                  &split));
    REQUIRE_OK(carve_split_info_get(split, &info));
    EXPECT(info.region_count == r->sub_count);
    EXPECT(strstr(info.why, "CL_DEVICE_MAX_MEM_ALLOC_SIZE") != NULL);
    carve_split_release(split);
}

static void test_partition(rig *r, const char *name)
{
    static const size_t one_d[1] = {1000}, two_d[2] = {24, 37};
    static const uint32_t uneven[MAX_SUB] = {3, 1, 2};
    results want1, want2;
    char what[96];
    run_parent(r, 1, one_d, &want1);
    run_parent(r, 2, two_d, &want2);
    snprintf(what, sizeof what, "%s, 1-D, even", name);
    run_split(r, 1, one_d, NULL, 0, &want1, what);
    snprintf(what, sizeof what, "%s, 1-D, uneven", name);
    run_split(r, 1, one_d, uneven, 0, &want1, what);
    snprintf(what, sizeof what, "%s, 1-D, a region per device", name);
    run_split(r, 1, one_d, uneven, CARVE_SPLIT_REGION_PER_DEVICE, &want1,
              what);
    snprintf(what, sizeof what, "%s, 2-D, even", name);
    run_split(r, 2, two_d, NULL, 0, &want2, what);
    snprintf(what, sizeof what, "%s, 2-D, uneven, a region per device", name);
    run_split(r, 2, two_d, uneven, CARVE_SPLIT_REGION_PER_DEVICE, &want2,
              what);
    test_device_fails(r, &want1);
    test_slice_alone(r, &want1);
    results_free(&want1);
    results_free(&want2);
}

/* The sub-devices' own limits, device 1's cut to 64 MiB of allocation (a
 * device with less memory beside a larger one): an even split of 200 MiB
 * of arenas is refused for device 1, naming it; shares 9:1 fit. */
static void test_slice_refused(rig *r)
{
    carve_split_params sp;
    carve_split_plan plan;
    carve_device_limits limits[MAX_SUB];
    cl_uint i;
    memset(&sp, 0, sizeof sp);
    sp.plan.work_dim = 1;
    sp.plan.global_size[0] = 200 * 1024;
    sp.plan.arena_bytes = 1024;
    sp.device_count = 2;
    for (i = 0; i < 2; ++i)
        REQUIRE_OK(carve_device_limits_query(r->subs[i], &limits[i]));
    if (limits[0].max_mem_alloc_size < (200u << 20) ||
        limits[1].max_mem_alloc_size < (64u << 20))
        return; /* a device too small for the case as written */
    limits[1].max_mem_alloc_size = 64u << 20;
    EXPECT_STATUS(carve_split_plan_compute(&sp, limits, &plan),
                  CARVE_ERROR_SLICE_REFUSED);
    EXPECT(plan.refused_slice == 1 &&
           plan.refused_status == CARVE_ERROR_EXCEEDS_MAX_ALLOC);
    EXPECT(strstr(plan.message, "device 1's slice") != NULL &&
           strstr(plan.message, "too much") != NULL);
    sp.shares[0] = 9;
    sp.shares[1] = 1;
    REQUIRE_OK(carve_split_plan_compute(&sp, limits, &plan));
}

int main(void)
{
    carve_test_cl cl = carve_test_open_cl();
    cl_uint units = 0;
    cl_device_partition_property equally[3], by_counts[5];
    rig r;
    REQUIRE_OK(clGetDeviceInfo(cl.device, CL_DEVICE_MAX_COMPUTE_UNITS,
                               sizeof units, &units, NULL));
    /* Two sub-devices of half the compute units each (three at most, for
     * an odd count). */
    equally[0] = CL_DEVICE_PARTITION_EQUALLY;
    equally[1] = (cl_device_partition_property)(units / 2);
    equally[2] = 0;
    by_counts[0] = CL_DEVICE_PARTITION_BY_COUNTS;
    by_counts[1] = (cl_device_partition_property)(units / 2);
    by_counts[2] = (cl_device_partition_property)(units - units / 2);
    by_counts[3] = CL_DEVICE_PARTITION_BY_COUNTS_LIST_END;
    by_counts[4] = 0;
    if (units < 2 || !rig_open(&r, cl.device, equally)) {
        printf("the device makes no sub-devices: skipping\n");
        carve_test_close_cl(&cl);
        return CARVE_TEST_SKIP;
    }
    test_partition(&r, "equally");
    test_report(&r);
    test_foreign_free(&r);
    test_slice_refused(&r);
    test_too_big_to_share(&r);
    rig_close(&r);
    if (rig_open(&r, cl.device, by_counts)) {
        test_partition(&r, "by counts");
        rig_close(&r);
    } else {
        EXPECT(!"partition by counts refused");
    }
    carve_test_close_cl(&cl);
    return carve_test_finish("device_split");
}
