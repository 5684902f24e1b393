/*
 * uninitialized_arenas.c - carve's device allocator on arenas whose bytes
 * the device has never been given, for Oclgrind's uninitialised-value
 * check.
 *
 * The set lives in a plain buffer that no host command writes: a first
 * kernel copies the header, the state table and the logs of a host-made
 * image into it, never the arenas. (Not clEnqueueWriteBuffer: after one
 * that covers part of a buffer, Oclgrind 21.10 no longer sees device
 * stores to the rest, and would report every block the allocator hands
 * out.) Every work-item then runs a random mix of carve_malloc,
 * carve_malloc_aligned, carve_calloc, carve_realloc, carve_usable_size and
 * carve_free, fills each block with its own pattern and checks it before
 * letting go, and frees everything. Each block is filled to its usable
 * size: without redzones that is whole granules, and a moving realloc
 * copies them all, as C's realloc copies the old block's size; bytes the
 * program left unwritten would be copied as uninitialised values. If the allocator ever read an arena
 * byte it had not written itself (a free block's header, a redzone, the
 * wilderness), Oclgrind would report an uninitialised value. The host
 * reads the buffer back and checks every arena: empty, consistent, nothing
 * refused, no pattern broken.
 *
 * Usage: device_uninitialized_arenas [plain|checks] [seed]
 * plain: no redzones; checks: CARVE_PLAN_CHECKS (redzones); neither: both,
 * one after the other. Oclgrind gets one per process: it reuses a released
 * buffer's identity for the next one and then misjudges what is
 * initialised. CARVE_QUICK=1 makes the run small. Meant for Oclgrind
 * (tests/oclgrind), but any device will do.
 */
#include "device_support.h"

#define ARENA_BYTES 2048u
#define SLOTS 8u

static const char *const source = DEV_KERNEL_PRELUDE
    "#define SLOTS " DEV_XSTR(SLOTS) "\n"
    "kernel void install(global const uint *image, global uint *set,\n"
    "                    uint arenas_begin, uint arenas_end, uint words)\n"
    "{\n"
    "    for (uint i = get_global_id(0); i < words; i += get_global_size(0))\n"
    "        if (i < arenas_begin || i >= arenas_end)\n"
    "            set[i] = image[i];\n"
    "}\n"
    "kernel void requests(global uchar *carved, global uint *errors, uint seed,\n"
    "                uint steps)\n"
    "{\n"
    "    uint id = carve_flat_global_id(), rng = (seed ^ id * 0x9E3779B9u) | 1u;\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uchar *block[SLOTS];\n"
    "    uint size[SLOTS], bad = 0, i, k;\n"
    "    for (k = 0; k < SLOTS; ++k) block[k] = 0;\n"
    "    for (i = 0; i < steps; ++i) {\n"
    "        uint r;\n"
    "        rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;\n"
    "        r = rng;\n"
    "        k = r % SLOTS;\n"
    "        if (block[k] != 0) {\n"
    "            bad += dev_mismatches(block[k], size[k], id * SLOTS + k);\n"
    "            bad += carve_usable_size(&a, block[k]) < size[k];\n"
    "            if ((r >> 8) % 3u == 0u) {\n"
    "                uint n = 1u + (r >> 12) % 300u;\n"
    "                global uchar *q = carve_realloc(&a, block[k], n);\n"
    "                if (q == 0) continue;\n"
    "                bad += dev_mismatches(q, min(n, size[k]), id * SLOTS + k);\n"
    "                block[k] = q; size[k] = carve_usable_size(&a, q);\n"
    "            } else {\n"
    "                carve_free(&a, block[k]);\n"
    "                block[k] = 0;\n"
    "                continue;\n"
    "            }\n"
    "        } else {\n"
    "            uint n = 1u + (r >> 8) % 200u, how = (r >> 20) % 3u;\n"
    "            global uchar *p = how == 0u ? carve_malloc(&a, n)\n"
    "                            : how == 1u ? carve_malloc_aligned(&a, n,\n"
    "                                              16u << (r >> 24) % 4u)\n"
    "                                        : carve_calloc(&a, n, 1);\n"
    "            if (p == 0) continue;\n"
    "            for (uint j = 0; how == 2u && j < n; ++j) bad += p[j] != 0;\n"
    "            block[k] = p; size[k] = carve_usable_size(&a, p);\n"
    "        }\n"
    "        dev_fill(block[k], size[k], id * SLOTS + k);\n"
    "    }\n"
    "    for (k = 0; k < SLOTS; ++k) {\n"
    "        if (block[k] == 0) continue;\n"
    "        bad += dev_mismatches(block[k], size[k], id * SLOTS + k);\n"
    "        carve_free(&a, block[k]);\n"
    "    }\n"
    "    errors[id] = bad;\n"
    "    carve_arena_close(&a);\n"
    "}\n";

/* A buffer holding plan's image, less the arenas' bytes, which no command
 * ever writes. */
static cl_mem install(const carve_test_cl *cl, cl_kernel installer,
                      const carve_plan *plan, const unsigned char *image)
{
    const uint32_t words = (uint32_t)(plan->total_bytes / 4);
    const uint32_t arenas_begin = plan->arenas_offset / 4;
    const uint32_t arenas_end = (uint32_t)((plan->arenas_offset + plan->arenas_bytes) / 4);
    const size_t workers = 256;
    cl_mem from = dev_buffer(cl, (size_t)plan->total_bytes, image), set;
    cl_int err;
    set = clCreateBuffer(cl->context, CL_MEM_READ_WRITE,
                         (size_t)plan->total_bytes, NULL, &err);
    REQUIRE_OK(err);
    dev_arg(installer, 0, sizeof from, &from);
    dev_arg(installer, 1, sizeof set, &set);
    dev_arg(installer, 2, sizeof arenas_begin, &arenas_begin);
    dev_arg(installer, 3, sizeof arenas_end, &arenas_end);
    dev_arg(installer, 4, sizeof words, &words);
    REQUIRE_OK(clEnqueueNDRangeKernel(cl->queue, installer, 1, NULL, &workers,
                                      NULL, 0, NULL, NULL));
    REQUIRE_OK(clFinish(cl->queue));
    clReleaseMemObject(from);
    return set;
}

static void run(const carve_test_cl *cl, cl_kernel kernel, cl_kernel installer,
                uint32_t options, uint32_t seed)
{
    const size_t items = carve_test_quick() ? 32 : 1024;
    const uint32_t steps = carve_test_quick() ? 60 : 400;
    carve_plan_params params;
    carve_plan plan;
    unsigned char *image;
    uint32_t *errors = dev_xmalloc(items * sizeof *errors);
    cl_mem buffer, errors_buffer = dev_buffer(cl, items * sizeof *errors, NULL);
    carve_summary sum;
    size_t id;
    uint32_t bad_index = 0, broken = 0, bad = 0;

    memset(&params, 0, sizeof params);
    params.work_dim = 1;
    params.global_size[0] = items;
    params.arena_bytes = ARENA_BYTES;
    params.options = options;
    REQUIRE_OK(carve_plan_compute(&params, &cl->limits, &plan));
    image = dev_xmalloc((size_t)plan.total_bytes);
    REQUIRE_OK(carve_layout_format(image, (size_t)plan.total_bytes, &plan));
    buffer = install(cl, installer, &plan, image);

    dev_arg(kernel, 0, sizeof buffer, &buffer);
    dev_arg(kernel, 1, sizeof errors_buffer, &errors_buffer);
    dev_arg(kernel, 2, sizeof seed, &seed);
    dev_arg(kernel, 3, sizeof steps, &steps);
    REQUIRE_OK(clEnqueueNDRangeKernel(cl->queue, kernel, 1, NULL, &items, NULL,
                                      0, NULL, NULL));
    dev_read(cl, buffer, (size_t)plan.total_bytes, image);
    dev_read(cl, errors_buffer, items * sizeof *errors, errors);

    for (id = 0; id < items; ++id)
        bad += errors[id];
    EXPECT(bad == 0);
    EXPECT_STATUS(carve_layout_check(image, &bad_index, &broken), CARVE_SUCCESS);
    REQUIRE_OK(carve_layout_summary(image, &sum));
    EXPECT(sum.arenas_opened == items && sum.arenas_closed == items);
    EXPECT(sum.in_use_bytes == 0 && sum.alloc_count == sum.free_count);
    EXPECT(sum.alloc_count > items * steps / 8); /* it really churned */
    EXPECT(sum.misuse_count == 0 && sum.arenas_corrupt == 0);
    printf("options %u: %zu work-items x %u steps, %llu allocations, "
           "%llu failed\n",
           (unsigned)options, items, (unsigned)steps,
           (unsigned long long)sum.alloc_count,
           (unsigned long long)sum.failed_count);

    clReleaseMemObject(buffer);
    clReleaseMemObject(errors_buffer);
    free(image);
    free(errors);
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 && (strcmp(argv[1], "plain") == 0 ||
                                     strcmp(argv[1], "checks") == 0)
                           ? argv[1]
                           : NULL;
    const uint32_t seed = (uint32_t)carve_test_seed(
        only ? argc - 1 : argc, only ? argv + 1 : argv, 0x0c1a5eedu);
    carve_test_cl cl = carve_test_open_cl();
    cl_program program;
    cl_kernel kernel = carve_test_kernel(&cl, source, "requests", &program);
    cl_kernel installer;
    cl_int err;
    installer = clCreateKernel(program, "install", &err);
    REQUIRE_OK(err);
    printf("seed 0x%08x (replay: device_uninitialized_arenas %s 0x%08x)\n",
           (unsigned)seed, only ? only : "", (unsigned)seed);
    if (only == NULL || strcmp(only, "plain") == 0)
        run(&cl, kernel, installer, 0, seed);
    if (only == NULL || strcmp(only, "checks") == 0)
        run(&cl, kernel, installer, CARVE_PLAN_CHECKS, seed);
    clReleaseKernel(installer);
    clReleaseKernel(kernel);
    clReleaseProgram(program);
    carve_test_close_cl(&cl);
    return carve_test_finish("device_uninitialized_arenas");
}
