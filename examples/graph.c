/*
 * graph.c - "people you may know": every work-item collects the vertices
 * within two hops of its vertex (neighbours, and neighbours of neighbours,
 * itself excluded) in a hash set. The set grows by rehashing: carve_calloc
 * a table twice the size, move the entries, carve_free the old table.
 * At the end the set is compacted into an exact-size array and the table
 * is freed, so only the answer stays in the arena. The host checks every
 * vertex's answer against its own search.
 *
 * The random graph has a few hubs, so the answers range from a handful of
 * vertices to several hundred. Sizing every arena for the largest would
 * waste most of the buffer, so the arenas hold what 90% of the vertices can
 * need, and the hubs borrow the rest from a shared heap in the same buffer
 * (CARVE_PLAN_HEAP_FALLBACK): the kernel does not change, carve_malloc and
 * carve_free find the right place themselves.
 */
#include "example_support.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1/16 of the vertices under CARVE_QUICK (for a simulator such as Oclgrind) */
#define VERTEX_COUNT (example_quick() ? 1u << 8 : 1u << 12)
#define GRAPH_SEED 0x96a9e5ull
#define MAX_PICKS 40u /* edges a hub starts; others start 1 to 4 */
#define INITIAL_SLOTS 8u

/* The kernel and the host agree on this layout: fixed-width fields, and an
 * offset from the buffer's base instead of a pointer. */
typedef struct neighbourhood {
    uint32_t count;
    uint32_t vertices; /* uint32_t[count] in no order; 0 when count is 0 */
} neighbourhood;

_Static_assert(sizeof(neighbourhood) == 8,
               "neighbourhood matches the kernel's");

static const char kernel_source[] =
    "#include \"carve.clh\"\n"
    "\n"
    "#define INITIAL_SLOTS 8u\n"
    "\n"
    "typedef struct neighbourhood {\n"
    "    uint count;\n"
    "    uint vertices;\n"
    "} neighbourhood;\n"
    "\n"
    "/* Open addressing with linear probing; a slot holds vertex + 1, or 0\n"
    " * when empty. Never more than half full. */\n"
    "typedef struct vertex_set {\n"
    "    global uint *slots;\n"
    "    uint capacity;\n"
    "    uint count;\n"
    "} vertex_set;\n"
    "\n"
    "/* Returns 1 if key was not in the table yet. */\n"
    "int place(global uint *slots, uint capacity, uint key)\n"
    "{\n"
    "    uint i = (key * 2654435761u) & (capacity - 1);\n"
    "    while (slots[i] != 0 && slots[i] != key)\n"
    "        i = (i + 1) & (capacity - 1);\n"
    "    if (slots[i] == key)\n"
    "        return 0;\n"
    "    slots[i] = key;\n"
    "    return 1;\n"
    "}\n"
    "\n"
    "int grow(carve_arena *a, vertex_set *s)\n"
    "{\n"
    "    uint capacity = 2 * s->capacity;\n"
    "    global uint *slots = carve_calloc(a, capacity, sizeof(uint));\n"
    "    if (slots == 0)\n"
    "        return 0;\n"
    "    for (uint i = 0; i < s->capacity; ++i)\n"
    "        if (s->slots[i] != 0)\n"
    "            place(slots, capacity, s->slots[i]);\n"
    "    carve_free(a, s->slots);\n"
    "    s->slots = slots;\n"
    "    s->capacity = capacity;\n"
    "    return 1;\n"
    "}\n"
    "\n"
    "/* 0 when the arena has no room for a larger table. */\n"
    "int add(carve_arena *a, vertex_set *s, uint vertex)\n"
    "{\n"
    "    if (2 * (s->count + 1) > s->capacity && !grow(a, s))\n"
    "        return 0;\n"
    "    s->count += place(s->slots, s->capacity, vertex + 1);\n"
    "    return 1;\n"
    "}\n"
    "\n"
    "void collect(carve_arena *a, vertex_set *s, uint v,\n"
    "             global const uint *row, global const uint *column)\n"
    "{\n"
    "    for (uint e = row[v]; e < row[v + 1]; ++e) {\n"
    "        uint u = column[e];\n"
    "        if (!add(a, s, u))\n"
    "            return;\n"
    "        for (uint f = row[u]; f < row[u + 1]; ++f)\n"
    "            if (column[f] != v && !add(a, s, column[f]))\n"
    "                return;\n"
    "    }\n"
    "}\n"
    "\n"
    "/* The set's vertices in an exact-size array; 0 for an empty set, as\n"
    " * carve_malloc(0) would count as a failed request. */\n"
    "global uint *compact(carve_arena *a, const vertex_set *s)\n"
    "{\n"
    "    global uint *list;\n"
    "    uint n = 0;\n"
    "    if (s->count == 0)\n"
    "        return 0;\n"
    "    list = carve_malloc(a, s->count * sizeof(uint));\n"
    "    for (uint i = 0; list != 0 && i < s->capacity; ++i)\n"
    "        if (s->slots[i] != 0)\n"
    "            list[n++] = s->slots[i] - 1;\n"
    "    return list;\n"
    "}\n"
    "\n"
    "/* Vertex v's neighbours are column[row[v], row[v + 1]). */\n"
    "kernel void two_hops(global uchar *carved, global const uint *row,\n"
    "                     global const uint *column)\n"
    "{\n"
    "    uint v = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, v);\n"
    "    global neighbourhood *result =\n"
    "        carve_malloc(&a, sizeof(neighbourhood));\n"
    "    vertex_set s;\n"
    "    s.slots = carve_calloc(&a, INITIAL_SLOTS, sizeof(uint));\n"
    "    s.capacity = INITIAL_SLOTS;\n"
    "    s.count = 0;\n"
    "    if (result != 0 && s.slots != 0) {\n"
    "        collect(&a, &s, v, row, column);\n"
    "        global uint *list = compact(&a, &s);\n"
    "        result->count = list != 0 ? s.count : 0;\n"
    "        result->vertices = carve_offset(&a, list);\n"
    "        carve_set_root(&a, result);\n"
    "    }\n"
    "    carve_free(&a, s.slots);\n"
    "    carve_arena_close(&a);\n"
    "}\n";

/* ---- the graph ---------------------------------------------------------- */

/* Compressed rows: vertex v's neighbours are column[row[v], row[v + 1]),
 * sorted, without repeats or self-loops. Undirected: u lists v exactly when
 * v lists u. */
typedef struct graph {
    uint32_t *row;
    uint32_t *column;
    uint32_t edge_count; /* entries of column: twice the undirected edges */
} graph;

typedef struct edge_list {
    uint32_t *from;
    uint32_t *to;
    uint32_t count;
} edge_list;

/* Most vertices start 1 to 4 edges to random vertices; one in 64 is a
 * hub that starts up to MAX_PICKS. */
static carve_status pick_edges(edge_list *edges)
{
    uint64_t rng = GRAPH_SEED;
    uint32_t v, i, picks;
    edges->from = malloc(VERTEX_COUNT * MAX_PICKS * sizeof *edges->from);
    edges->to = malloc(VERTEX_COUNT * MAX_PICKS * sizeof *edges->to);
    if (edges->from == NULL || edges->to == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    edges->count = 0;
    for (v = 0; v < VERTEX_COUNT; ++v) {
        picks = example_random_below(&rng, 64) == 0
                    ? 8 + example_random_below(&rng, MAX_PICKS - 7)
                    : 1 + example_random_below(&rng, 4);
        for (i = 0; i < picks; ++i) {
            uint32_t u = example_random_below(&rng, VERTEX_COUNT);
            if (u == v)
                continue;
            edges->from[edges->count] = v;
            edges->to[edges->count++] = u;
        }
    }
    return CARVE_SUCCESS;
}

static int compare_vertices(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return (a > b) - (a < b);
}

/* Sorts every row and drops repeated edges, moving the rows together. */
static void sort_and_deduplicate(graph *g)
{
    uint32_t v, i, begin = 0, end, kept = 0;
    for (v = 0; v < VERTEX_COUNT; ++v) {
        end = g->row[v + 1];
        qsort(g->column + begin, end - begin, sizeof *g->column,
              compare_vertices);
        g->row[v] = kept;
        for (i = begin; i < end; ++i)
            if (kept == g->row[v] || g->column[kept - 1] != g->column[i])
                g->column[kept++] = g->column[i];
        begin = end;
    }
    g->row[VERTEX_COUNT] = kept;
    g->edge_count = kept;
}

static carve_status graph_generate(graph *g)
{
    edge_list edges = {0};
    uint32_t *fill = NULL, v, e;
    carve_status status = pick_edges(&edges);
    g->row = calloc(VERTEX_COUNT + 1, sizeof *g->row);
    g->column = malloc(2 * (size_t)edges.count * sizeof *g->column + 1);
    fill = malloc(VERTEX_COUNT * sizeof *fill);
    if (status == CARVE_SUCCESS &&
        (g->row == NULL || g->column == NULL || fill == NULL))
        status = CARVE_ERROR_OUT_OF_HOST_MEMORY;
    if (status == CARVE_SUCCESS) {
        for (e = 0; e < edges.count; ++e) {
            g->row[edges.from[e] + 1] += 1;
            g->row[edges.to[e] + 1] += 1;
        }
        for (v = 0; v < VERTEX_COUNT; ++v) {
            g->row[v + 1] += g->row[v];
            fill[v] = g->row[v];
        }
        for (e = 0; e < edges.count; ++e) {
            g->column[fill[edges.from[e]]++] = edges.to[e];
            g->column[fill[edges.to[e]]++] = edges.from[e];
        }
        sort_and_deduplicate(g);
    }
    free(fill);
    free(edges.from);
    free(edges.to);
    return status;
}

static void graph_free(graph *g)
{
    free(g->row);
    free(g->column);
}

static uint32_t degree(const graph *g, uint32_t v)
{
    return g->row[v + 1] - g->row[v];
}

/* ---- arena size -------------------------------------------------------------
 * Vertex v can meet at most k = deg(v) + the sum of its neighbours' degrees
 * vertices. The table doubles while it would be more than half full, so it
 * ends with at most c slots, the smallest power of two >= 2k (and >= 8).
 * Even if no freed table were ever reused, the arena holds the 16-byte
 * record, every table so far (8 + 16 + ... + c < 2c slots) and the
 * answer's k entries: 16 + 4 (2c + k) bytes, plus rounding to granules.
 * The plan uses the largest over all vertices. */
static uint64_t arena_bytes_for_vertex(const graph *g, uint32_t v)
{
    uint64_t k = degree(g, v), slots = INITIAL_SLOTS;
    uint32_t e;
    for (e = g->row[v]; e < g->row[v + 1]; ++e)
        k += degree(g, g->column[e]);
    while (slots < 2 * k)
        slots *= 2;
    return 16u + 4u * (2 * slots + k) + 15u;
}

static int by_size(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* How the memory is split: arenas for the 90th percentile of the bounds,
 * and a heap for what the vertices above it may need beyond their arena.
 * A heap block may be up to 50% larger than asked, or a whole page, so
 * each such vertex is given twice its bound and a page: conservative. */
typedef struct sizing {
    uint64_t arena_bytes;
    uint64_t heap_bytes;
    uint64_t largest; /* the bound of the neediest vertex */
    uint32_t hubs;    /* vertices whose bound exceeds the arena */
} sizing;

#define HEAP_PAGE_BYTES 4096u

static carve_status size_memory(const graph *g, sizing *s)
{
    uint64_t *bounds = malloc(VERTEX_COUNT * sizeof *bounds);
    uint32_t v;
    if (bounds == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    for (v = 0; v < VERTEX_COUNT; ++v)
        bounds[v] = arena_bytes_for_vertex(g, v);
    qsort(bounds, VERTEX_COUNT, sizeof *bounds, by_size);
    s->arena_bytes = bounds[VERTEX_COUNT * 9 / 10];
    s->largest = bounds[VERTEX_COUNT - 1];
    s->heap_bytes = 0;
    s->hubs = 0;
    for (v = 0; v < VERTEX_COUNT; ++v) {
        if (bounds[v] <= s->arena_bytes)
            continue;
        s->heap_bytes += 2 * bounds[v] + HEAP_PAGE_BYTES;
        ++s->hubs;
    }
    free(bounds);
    return CARVE_SUCCESS;
}

/* The plan, and what a plan sizing every arena for the largest would
 * have needed. */
static carve_status plan_memory(const example_opencl *cl, const sizing *s,
                                carve_plan *plan, uint64_t *without_heap)
{
    carve_plan_params params = {0};
    carve_device_limits limits;
    carve_plan flat;
    carve_status status;
    params.work_dim = 1;
    params.global_size[0] = VERTEX_COUNT;
    params.arena_bytes = s->largest;
    status = carve_device_limits_query(cl->device, &limits);
    if (status == CARVE_SUCCESS)
        status = carve_plan_compute(&params, &limits, &flat);
    *without_heap = status == CARVE_SUCCESS ? flat.total_bytes : 0;
    params.arena_bytes = s->arena_bytes;
    params.heap_bytes = s->heap_bytes;
    params.heap_page_bytes = HEAP_PAGE_BYTES;
    params.options = CARVE_PLAN_HEAP_FALLBACK;
    return example_plan_params(cl, &params, plan);
}

/* ---- checking the device's answers ------------------------------------- */

typedef struct tally {
    uint32_t wrong;
    uint32_t largest;
    uint64_t entries;
    uint64_t result_bytes; /* what the records and arrays occupy */
    uint64_t result_blocks;
} tally;

/* The host's search: marks (with v + 1) every vertex within two hops of v
 * and returns how many there are. */
static uint32_t mark_two_hops(const graph *g, uint32_t v, uint32_t *mark)
{
    uint32_t e, f, u, w, count = 0;
    for (e = g->row[v]; e < g->row[v + 1]; ++e) {
        u = g->column[e];
        count += mark[u] != v + 1;
        mark[u] = v + 1;
        for (f = g->row[u]; f < g->row[u + 1]; ++f) {
            w = g->column[f];
            if (w != v && mark[w] != v + 1) {
                mark[w] = v + 1;
                ++count;
            }
        }
    }
    return count;
}

/* The device's answer for v must list every marked vertex exactly once. */
static int answer_matches(void *image, uint32_t v, uint32_t root,
                          uint32_t expected, const uint32_t *mark,
                          uint32_t *seen)
{
    const neighbourhood *n = carve_layout_block(image, v, root, sizeof *n);
    const uint32_t *list;
    uint32_t i;
    if (n == NULL || n->count != expected)
        return 0;
    if (n->count == 0)
        return n->vertices == 0;
    list = carve_layout_block(image, v, n->vertices, n->count * sizeof *list);
    if (list == NULL)
        return 0;
    for (i = 0; i < n->count; ++i) {
        if (list[i] >= VERTEX_COUNT || mark[list[i]] != v + 1 ||
            seen[list[i]] == v + 1)
            return 0;
        seen[list[i]] = v + 1;
    }
    return 1;
}

static void count_expected(uint32_t count, tally *t)
{
    t->entries += count;
    if (count > t->largest)
        t->largest = count;
    t->result_bytes += example_block_bytes(sizeof(neighbourhood)) +
                       example_block_bytes(count * sizeof(uint32_t));
    t->result_blocks += count > 0 ? 2u : 1u;
}

static carve_status verify_vertices(const carve_set *set, const graph *g,
                                    tally *t)
{
    uint32_t *mark = calloc(VERTEX_COUNT, sizeof *mark);
    uint32_t *seen = calloc(VERTEX_COUNT, sizeof *seen);
    void *image = NULL;
    carve_status status = carve_set_image(set, &image);
    carve_arena_stats stats;
    uint32_t v, expected;
    memset(t, 0, sizeof *t);
    if (status == CARVE_SUCCESS && (mark == NULL || seen == NULL))
        status = CARVE_ERROR_OUT_OF_HOST_MEMORY;
    for (v = 0; v < VERTEX_COUNT && status == CARVE_SUCCESS; ++v) {
        status = carve_layout_arena_stats(image, v, &stats);
        if (status != CARVE_SUCCESS)
            break;
        expected = mark_two_hops(g, v, mark);
        count_expected(expected, t);
        if (!answer_matches(image, v, stats.root, expected, mark, seen) &&
            t->wrong++ < 3)
            printf("mismatch for vertex %u (degree %u)\n", v, degree(g, v));
    }
    free(mark);
    free(seen);
    return status;
}

/* Each work-item must leave exactly its record and its answer, in its
 * arena or in the heap: the last table was freed, and so was every table
 * before it. Heap blocks are rounded up to their slot or page, so the
 * bytes are exact only where everything stayed in the arenas. */
static int memory_matches_results(const carve_summary *s, const tally *t)
{
    uint64_t arena_blocks = s->alloc_count - s->free_count;
    uint64_t live_blocks = arena_blocks + s->heap_live_blocks;
    int ok = live_blocks == t->result_blocks &&
             s->heap_allocs - s->heap_frees == s->heap_live_blocks &&
             s->in_use_bytes + s->heap_in_use_bytes >= t->result_bytes &&
             (s->heap_live_blocks != 0 || s->in_use_bytes == t->result_bytes);
    printf("memory check: %llu live blocks (%llu in arenas, %llu in the "
           "heap), %llu bytes in use; the results need %llu blocks and %llu "
           "bytes: %s\n",
           (unsigned long long)live_blocks, (unsigned long long)arena_blocks,
           (unsigned long long)s->heap_live_blocks,
           (unsigned long long)(s->in_use_bytes + s->heap_in_use_bytes),
           (unsigned long long)t->result_blocks,
           (unsigned long long)t->result_bytes, ok ? "ok" : "DIFFERENT");
    return ok;
}

/* ---- the launch --------------------------------------------------------- */

static carve_status upload(const example_opencl *cl, const graph *g,
                           cl_kernel kernel, cl_mem *row, cl_mem *column)
{
    cl_mem_flags flags = CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR;
    carve_status status;
    *row = clCreateBuffer(cl->context, flags,
                          (VERTEX_COUNT + 1) * sizeof *g->row, g->row, &status);
    if (status == CARVE_SUCCESS)
        *column = clCreateBuffer(cl->context, flags,
                                 (g->edge_count + 1) * sizeof *g->column,
                                 g->column, &status);
    if (status == CARVE_SUCCESS)
        status = clSetKernelArg(kernel, 1, sizeof *row, row);
    if (status == CARVE_SUCCESS)
        status = clSetKernelArg(kernel, 2, sizeof *column, column);
    return status;
}

int main(void)
{
    example_opencl cl;
    graph g = {0};
    cl_mem row = NULL, column = NULL;
    cl_program program = NULL;
    cl_kernel kernel = NULL;
    carve_plan plan;
    carve_set *set = NULL;
    carve_summary summary;
    sizing sizes;
    uint64_t without_heap = 0;
    tally t;
    size_t vertices = VERTEX_COUNT;
    int passed = 0;
    carve_status status = example_opencl_open(&cl);
    if (status != CARVE_SUCCESS) {
        example_opencl_close(&cl);
        return status == CARVE_ERROR_NO_DEVICE ? example_no_device_exit() : 1;
    }
    EXAMPLE_CHECK(graph_generate(&g));
    EXAMPLE_CHECK(size_memory(&g, &sizes));
    EXAMPLE_CHECK(plan_memory(&cl, &sizes, &plan, &without_heap));
    printf("sizing: the neediest vertex may need %llu bytes; arenas of %u "
           "serve 90%%, and %u hubs may borrow from the heap: %.1f MiB "
           "instead of %.1f MiB with every arena sized for the largest\n",
           (unsigned long long)sizes.largest, (unsigned)plan.arena_bytes,
           (unsigned)sizes.hubs, plan.total_bytes / 1048576.0,
           without_heap / 1048576.0);
    EXAMPLE_CHECK(example_kernel_build(&cl, kernel_source, "two_hops",
                                       &program, &kernel));
    EXAMPLE_CHECK(upload(&cl, &g, kernel, &row, &column));
    EXAMPLE_CHECK(carve_set_create(cl.context, cl.device, cl.queue, &plan, 0,
                                   &set));
    example_print_zero_copy(set);
    EXAMPLE_CHECK(carve_set_run(set, kernel, 0, 1, &vertices, NULL));

    EXAMPLE_CHECK(verify_vertices(set, &g, &t));
    printf("verified: %u vertices, %u edges, %llu two-hop entries (largest "
           "%u), %u mismatches\n",
           (unsigned)VERTEX_COUNT, (unsigned)(g.edge_count / 2),
           (unsigned long long)t.entries, (unsigned)t.largest,
           (unsigned)t.wrong);
    passed = example_report_set(set, &summary);
    printf("heap: %llu blocks taken (requests over a quarter of an arena, "
           "and any a full arena could not serve), %llu given back, %llu "
           "left holding answers\n",
           (unsigned long long)summary.heap_allocs,
           (unsigned long long)summary.heap_frees,
           (unsigned long long)summary.heap_live_blocks);
    passed = memory_matches_results(&summary, &t) && passed && t.wrong == 0 &&
             summary.heap_allocs > 0;

cleanup:
    carve_set_release(set);
    if (row != NULL)
        clReleaseMemObject(row);
    if (column != NULL)
        clReleaseMemObject(column);
    if (kernel != NULL)
        clReleaseKernel(kernel);
    if (program != NULL)
        clReleaseProgram(program);
    example_opencl_close(&cl);
    graph_free(&g);
    if (status == CARVE_SUCCESS)
        printf("%s\n", passed ? "PASSED" : "FAILED");
    return status == CARVE_SUCCESS && passed ? 0 : 1;
}
