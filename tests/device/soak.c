/*
 * soak.c - one set relaunched many times, with random traffic per
 * work-item: malloc, calloc, realloc and free in its arena, and large
 * requests in the shared heap. Blocks live on from launch to launch in a
 * table (a plain buffer) of SLOTS blocks per work-item; before a launch the
 * host resets the set with probability 1/8 (and empties the table), so
 * both a set that accumulates blocks over many launches and a freshly
 * reset one are soaked.
 *
 * After every launch the host checks, against its own model of the table:
 * every live block lies inside one live block of its arena or of the heap
 * (carve_layout_block), holds its owner's tag, and overlaps no other;
 * every arena and the heap pass carve_layout_check; each arena's live_blocks,
 * failed_count and misuse_count, and the heap's live block count, agree
 * with what the table and the kernel's own tallies say; no calloc block was
 * dirty and no block was found damaged on the device.
 *
 * Two sets take turns: a plain one, and one with checks (redzones) whose
 * full arenas borrow from the heap.
 *
 * Usage: device_soak [--launches N] [seed]   (seed printed; default 64
 * launches in all, the long test 2400: 1200 of each set). A seed gives
 * every work-item the same requests in the same order, and the same
 * resets; which heap requests find room can still depend on how the
 * work-items interleave.
 */
#include "device_support.h"

#define ITEMS 512u
#define SLOTS 8u
#define OPS 12u
#define ARENA_BYTES 1024u
#define SMALL_MAX 200u /* arena requests: 1 to SMALL_MAX bytes */
#define LARGE_MIN 300u /* heap requests: LARGE_MIN to LARGE_MAX bytes */
#define LARGE_MAX 1500u
#define HEAP_BYTES (256u << 10)
#define LARGE_BYTES 256u /* requests from here on go to the heap */

/* The kernel's tallies per work-item, added up over launches. */
enum { T_ALLOCS, T_FREES, T_REALLOCS, T_FAILED, T_DAMAGED, T_DIRTY };
#define TALLIES 6u
_Static_assert(T_DIRTY + 1 == TALLIES, "one tally per name");

#define SOAK_SOURCE_DEFINES                                                   \
    "#define SLOTS " DEV_XSTR(SLOTS) "\n"                                    \
    "#define OPS " DEV_XSTR(OPS) "\n"                                        \
    "#define SMALL_MAX " DEV_XSTR(SMALL_MAX) "\n"                            \
    "#define LARGE_MIN " DEV_XSTR(LARGE_MIN) "\n"                            \
    "#define LARGE_MAX " DEV_XSTR(LARGE_MAX) "\n"                            \
    "#define TALLIES " DEV_XSTR(TALLIES) "\n"

static const char *const source = DEV_KERNEL_PRELUDE SOAK_SOURCE_DEFINES
    "enum { T_ALLOCS, T_FREES, T_REALLOCS, T_FAILED, T_DAMAGED, T_DIRTY };\n"
    "static uint mix(uint x)\n"
    "{ x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu;\n"
    "  return x ^ (x >> 16); }\n"
    "static uint next(uint *r)\n"
    "{ *r ^= *r << 13; *r ^= *r >> 17; *r ^= *r << 5; return *r; }\n"
    "static uint dirty(global const uchar *p, uint n)\n"
    "{ uint bad = 0; for (uint i = 0; i < n; ++i) bad += p[i] != 0;\n"
    "  return bad; }\n"
    "kernel void soak(global uchar *carved, global uint *slots,\n"
    "                 global uint *tally, uint seed, uint launch)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    uint r = mix(seed ^ mix(launch * 0x9e3779b9u ^ mix(id))) | 1u;\n"
    "    global uint *table = slots + id * SLOTS * 3u;\n"
    "    global uint *t = tally + id * TALLIES;\n"
    "    for (uint op = 0; op < OPS; ++op) {\n"
    "        uint pick = next(&r), size = next(&r);\n"
    "        global uint *e = table + (pick % SLOTS) * 3u;\n"
    "        uint kind = (pick >> 8) % 8u;\n"
    "        uint tag = mix(r ^ op);\n"
    "        if (e[0] == 0) {\n"
    "            uint n = kind == 0 ? LARGE_MIN + size % (LARGE_MAX - LARGE_MIN)\n"
    "                               : 1u + size % SMALL_MAX;\n"
    "            global uchar *p = kind < 3 ? carve_calloc(&a, 1, n)\n"
    "                                       : carve_malloc(&a, n);\n"
    "            if (p == 0) { t[T_FAILED]++; continue; }\n"
    "            if (kind < 3) t[T_DIRTY] += dirty(p, n) != 0;\n"
    "            dev_fill(p, n, tag);\n"
    "            e[0] = carve_offset(&a, p); e[1] = n; e[2] = tag;\n"
    "            t[T_ALLOCS]++;\n"
    "            continue;\n"
    "        }\n"
    "        global uchar *p = carve_pointer(&a, e[0]);\n"
    "        t[T_DAMAGED] += p == 0 || dev_mismatches(p, e[1], e[2]) != 0;\n"
    "        if (p == 0) continue;\n"
    "        if (kind < 3) {\n"
    "            carve_free(&a, p);\n"
    "            e[0] = 0;\n"
    "            t[T_FREES]++;\n"
    "        } else if (kind < 6) {\n"
    "            uint n = kind == 3 ? LARGE_MIN + size % (LARGE_MAX - LARGE_MIN)\n"
    "                               : 1u + size % SMALL_MAX;\n"
    "            global uchar *q = carve_realloc(&a, p, n);\n"
    "            if (q == 0) { t[T_FAILED]++; continue; }\n"
    "            t[T_DAMAGED] += dev_mismatches(q, min(n, e[1]), e[2]) != 0;\n"
    "            dev_fill(q, n, tag);\n"
    "            e[0] = carve_offset(&a, q); e[1] = n; e[2] = tag;\n"
    "            t[T_REALLOCS]++;\n"
    "        }\n"
    "    }\n"
    "    carve_arena_close(&a);\n"
    "}\n";

typedef struct soak {
    const char *label;
    carve_plan plan;
    carve_set *set;
    cl_mem slots, tally;
    uint32_t host_slots[ITEMS * SLOTS * 3];
    uint32_t host_tally[ITEMS * TALLIES];
    unsigned resets, launches;
    unsigned long most_live, refused;
    uint32_t refused_since_reset; /* in the tallies already counted */
} soak;

typedef struct span {
    uint32_t offset, bytes;
} span;

static int by_offset(const void *x, const void *y)
{
    const span *a = x, *b = y;
    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

static void make_soak(const carve_test_cl *cl, soak *s, const char *label,
                      uint32_t options)
{
    carve_plan_params params;
    memset(s, 0, sizeof *s);
    memset(&params, 0, sizeof params);
    s->label = label;
    params.work_dim = 1;
    params.global_size[0] = ITEMS;
    params.arena_bytes = ARENA_BYTES;
    params.heap_bytes = HEAP_BYTES;
    params.large_request_bytes = LARGE_BYTES;
    params.options = options;
    REQUIRE_OK(carve_plan_compute(&params, &cl->limits, &s->plan));
    s->set = dev_set(cl, &s->plan);
    s->slots = dev_buffer(cl, sizeof s->host_slots, NULL);
    s->tally = dev_buffer(cl, sizeof s->host_tally, NULL);
}

static void release_soak(soak *s)
{
    carve_set_release(s->set);
    clReleaseMemObject(s->slots);
    clReleaseMemObject(s->tally);
}

static void reset_soak(const carve_test_cl *cl, soak *s)
{
    static const uint32_t zero = 0;
    REQUIRE_OK(carve_set_reset(s->set));
    REQUIRE_OK(clEnqueueFillBuffer(cl->queue, s->slots, &zero, sizeof zero, 0,
                                   sizeof s->host_slots, 0, NULL, NULL));
    REQUIRE_OK(clEnqueueFillBuffer(cl->queue, s->tally, &zero, sizeof zero, 0,
                                   sizeof s->host_tally, 0, NULL, NULL));
    REQUIRE_OK(clFinish(cl->queue));
    s->refused_since_reset = 0;
    s->resets++;
}

static int in_heap(const carve_plan *plan, uint32_t offset)
{
    return offset >= plan->heap_offset &&
           offset < plan->heap_offset + plan->heap_bytes;
}

/* The checks after a launch; returns the failures found. */
static unsigned check_launch(soak *s, unsigned launch)
{
    static span live[ITEMS * SLOTS];
    unsigned failures = 0;
    size_t count = 0, i;
    uint32_t item, slot, heap_live = 0, bad_index = 0, broken = 0, refused = 0;
    carve_summary summary;
    carve_status status =
        carve_layout_check(carve_test_image(s->set), &bad_index, &broken);
    if (status != CARVE_SUCCESS) {
        fprintf(stderr, "  %s launch %u: check: %s (arena %u, invariant %u)\n",
                s->label, launch, carve_status_string(status),
                (unsigned)bad_index, (unsigned)broken);
        failures++;
    }
    for (item = 0; item < ITEMS; ++item) {
        const uint32_t *t = &s->host_tally[item * TALLIES];
        carve_arena_stats stats;
        uint32_t arena_live = 0;
        REQUIRE_OK(
            carve_layout_arena_stats(carve_test_image(s->set), item, &stats));
        for (slot = 0; slot < SLOTS; ++slot) {
            const uint32_t *e = &s->host_slots[(item * SLOTS + slot) * 3];
            const unsigned char *p;
            if (e[0] == 0)
                continue;
            p = carve_layout_block(carve_test_image(s->set), item, e[0], e[1]);
            if (p == NULL || dev_mismatches(p, e[1], e[2]) != 0) {
                fprintf(stderr, "  %s launch %u: work-item %u slot %u: block "
                                "at %u (%u bytes) %s\n",
                        s->label, launch, (unsigned)item, (unsigned)slot,
                        (unsigned)e[0], (unsigned)e[1],
                        p == NULL ? "is not a live block" : "lost its tag");
                failures++;
            }
            live[count].offset = e[0];
            live[count++].bytes = e[1];
            if (in_heap(&s->plan, e[0]))
                heap_live++;
            else
                arena_live++;
        }
        if (t[T_DAMAGED] != 0 || t[T_DIRTY] != 0 ||
            stats.live_blocks != arena_live ||
            stats.failed_count != t[T_FAILED] || stats.misuse_count != 0) {
            fprintf(stderr, "  %s launch %u: work-item %u: damaged %u, dirty "
                            "%u; live blocks %u (table %u), failed %u "
                            "(kernel %u), misuse %u\n",
                    s->label, launch, (unsigned)item, (unsigned)t[T_DAMAGED],
                    (unsigned)t[T_DIRTY], (unsigned)stats.live_blocks,
                    (unsigned)arena_live, (unsigned)stats.failed_count,
                    (unsigned)t[T_FAILED], (unsigned)stats.misuse_count);
            failures++;
        }
        refused += t[T_FAILED];
    }
    s->refused += refused - s->refused_since_reset;
    s->refused_since_reset = refused;
    qsort(live, count, sizeof live[0], by_offset);
    for (i = 0; i + 1 < count; ++i)
        if (live[i].offset + live[i].bytes > live[i + 1].offset) {
            fprintf(stderr, "  %s launch %u: blocks at %u and %u overlap\n",
                    s->label, launch, (unsigned)live[i].offset,
                    (unsigned)live[i + 1].offset);
            failures++;
        }
    REQUIRE_OK(carve_layout_summary(carve_test_image(s->set), &summary));
    if (summary.heap_live_blocks != heap_live || summary.arenas_corrupt != 0 ||
        summary.arenas_closed != ITEMS) {
        fprintf(stderr, "  %s launch %u: heap live blocks %llu (table %u), "
                        "corrupt arenas %u, closed %u\n",
                s->label, launch, (unsigned long long)summary.heap_live_blocks,
                (unsigned)heap_live, (unsigned)summary.arenas_corrupt,
                (unsigned)summary.arenas_closed);
        failures++;
    }
    if (count > s->most_live)
        s->most_live = count;
    return failures;
}

static unsigned launch_soak(const carve_test_cl *cl, soak *s, cl_kernel kernel,
                            uint32_t seed, carve_test_rng *rng)
{
    const size_t items = ITEMS;
    uint32_t launch = s->launches++;
    if (carve_test_below(rng, 8) == 0)
        reset_soak(cl, s);
    dev_arg(kernel, 1, sizeof s->slots, &s->slots);
    dev_arg(kernel, 2, sizeof s->tally, &s->tally);
    dev_arg(kernel, 3, sizeof seed, &seed);
    dev_arg(kernel, 4, sizeof launch, &launch);
    REQUIRE_OK(carve_set_run(s->set, kernel, 0, 1, &items, NULL));
    dev_read(cl, s->slots, sizeof s->host_slots, s->host_slots);
    dev_read(cl, s->tally, sizeof s->host_tally, s->host_tally);
    return check_launch(s, launch);
}

int main(int argc, char **argv)
{
    unsigned launches = 64, i, failures = 0;
    int arg = 1;
    uint64_t seed;
    carve_test_cl cl;
    carve_test_rng rng;
    cl_program program;
    cl_kernel kernel;
    static soak plain, checked;
    soak *sets[2] = {&plain, &checked};
    if (arg + 1 < argc && strcmp(argv[arg], "--launches") == 0) {
        launches = (unsigned)strtoul(argv[arg + 1], NULL, 10);
        arg += 2;
    }
    seed = carve_test_seed(argc - arg + 1, argv + arg - 1, (uint64_t)time(NULL));
    printf("device_soak: seed %" PRIu64 ", %u launches\n", seed, launches);
    rng.state = seed | 1;
    cl = carve_test_open_cl();
    kernel = carve_test_kernel(&cl, source, "soak", &program);
    make_soak(&cl, &plain, "plain", 0);
    make_soak(&cl, &checked, "checks+fallback",
              CARVE_PLAN_CHECKS | CARVE_PLAN_HEAP_FALLBACK);
    for (i = 0; i < launches && failures == 0; ++i)
        failures += launch_soak(&cl, sets[i % 2], kernel, (uint32_t)seed, &rng);
    for (i = 0; i < 2; ++i)
        printf("  %s: %u launches, %u resets, up to %lu blocks live, %lu "
               "requests refused for room\n",
               sets[i]->label, sets[i]->launches, sets[i]->resets,
               sets[i]->most_live, sets[i]->refused);
    EXPECT(failures == 0);
    if (failures != 0)
        fprintf(stderr, "  reproduce: device_soak --launches %u %" PRIu64 "\n",
                launches, seed);
    release_soak(&plain);
    release_soak(&checked);
    clReleaseKernel(kernel);
    clReleaseProgram(program);
    carve_test_close_cl(&cl);
    return carve_test_finish("device_soak");
}
