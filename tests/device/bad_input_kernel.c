/*
 * bad_input_kernel.c - the device calls of carve.clh with bad input, in a
 * kernel: 0 bytes, sizes up to ULONG_MAX, alignments 0, 3 and 256, a
 * calloc whose count * size overflows, free(NULL), and free, realloc and
 * usable_size of foreign, interior, freed, never handed out, another
 * work-item's and shared-heap pointers, a write past a block, and calls on
 * a handle whose carve_arena_open was refused. Every case runs in three
 * plans (without checks, with CARVE_PLAN_CHECKS, with a shared heap and
 * HEAP_FALLBACK) unless it names one.
 *
 * A case is one call on its own source line (set with #line), made by
 * work-item TARGET after a launch that planted a block in every arena
 * (and in the heap). The test then asserts what the call returned, what
 * the arena's statistics say (failure or refusal, and the call's line),
 * the error log's record (kind, call, work-item, line, and the owner or
 * the damaged byte), that the block the case keeps is intact, that no
 * byte of the image outside the target's arena (and the heap, where the
 * case uses it) changed, that the memory just before and after the set
 * and another OpenCL buffer are untouched, and that every arena still
 * holds its invariants.
 *
 * Much of this is also tested by misuse.c, heap.c and the host tests of
 * the allocator; here the cases are docs/bad-input.md's "kernel" table
 * (see bad_input_table.h), and the test fails if the file disagrees.
 *
 * Usage: device_bad_input_kernel [docs/bad-input.md | --markdown | -]
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include "bad_input_table.h"
#include "device_support.h"

#define ITEMS 4u
#define TARGET 1u /* the work-item that makes the call */
#define VICTIM 2u /* whose blocks it is given */
#define ARENA_BYTES 1024u
#define PLANT_BYTES 48u
#define HEAP_BLOCK_BYTES 600u /* more than a quarter arena: the heap's */
#define KEEP_TAG 7u
#define GUARD_BYTES 4096u
#define GUARD_BYTE 0xa5u
#define ELSEWHERE_BYTES 4096u
#define ELSEWHERE_BYTE 0x5cu
#define FIRST_LINE 1000u /* case i: setup on line 1000 + 10 i, call next */
#define OUT_WORDS 4u

enum { PLAIN = 1, CHECKS = 2, HEAP = 4, EVERY_PLAN = PLAIN | CHECKS | HEAP };

/* What the call gives back. */
typedef enum outcome {
    GIVES_NULL,  /* a pointer: NULL */
    GIVES_BLOCK, /* a pointer: a block of the shared heap */
    GIVES_ZERO,  /* carve_usable_size: 0 */
    FREES,       /* carve_free: the block is freed */
    DOES_NOTHING /* carve_free: nothing is freed */
} outcome;

typedef struct kernel_case {
    const char *section; /* starts a table under this title, or NULL */
    const char *function;
    const char *input;
    unsigned plans;      /* PLAIN | CHECKS | HEAP: where it runs */
    const char *setup;   /* statements on one line before the call */
    const char *call;    /* the call, on a line of its own */
    outcome gives;
    uint32_t failure;    /* CARVE_FAIL_* the arena records, or 0 */
    int zero_request;    /* counted in zero_requests */
    uint32_t misuse;     /* CARVE_MISUSE_* recorded, with an error record */
    uint32_t keep;       /* bytes of block p (KEEP_TAG) that must stay */
    int refused_open;    /* the call's handle is not an open arena */
    int heap;            /* may change the shared heap */
    const char *note;    /* more of what happens, or NULL */
} kernel_case;

/* Setups: p is a block that must stay intact, q a pointer the call must
 * refuse. */
#define KEEP_64 "p = carve_malloc(&a, 64u); dev_fill(p, 64u, " \
                DEV_XSTR(KEEP_TAG) ");"
#define FREED_Q "q = carve_malloc(&a, 32u); p = carve_malloc(&a, 32u); " \
                "dev_fill(p, 32u, " DEV_XSTR(KEEP_TAG) "); carve_free(&a, q);"
#define FILL_ARENA "for (uint i = 0; i < 4u; ++i) carve_malloc(&a, 200u);"
#define REFUSED_HANDLE "b = carve_arena_open(carved, 4u);"
#define ON_REFUSED "a handle whose `carve_arena_open` was refused"

static const kernel_case cases[] = {
    /* ---- allocation ---- */
    {.section = "Allocating in a kernel", .function = "carve_malloc",
     .input = "0 bytes", .plans = EVERY_PLAN, .setup = "",
     .call = "r = carve_malloc(&a, 0);", .gives = GIVES_NULL,
     .zero_request = 1},
    {.function = "carve_malloc", .input = "`ULONG_MAX` bytes, or 2^32",
     .plans = EVERY_PLAN, .setup = "",
     .call = "r = carve_malloc(&a, 0xffffffffffffffffUL);",
     .gives = GIVES_NULL, .failure = CARVE_FAIL_TOO_LARGE},
    {.function = "carve_malloc", .input = "`ULONG_MAX` bytes, or 2^32",
     .plans = EVERY_PLAN, .setup = "",
     .call = "r = carve_malloc(&a, 0x100000000UL);", .gives = GIVES_NULL,
     .failure = CARVE_FAIL_TOO_LARGE},
    {.function = "carve_malloc", .input = "1025 bytes, 1 more than the arena",
     .plans = PLAIN | CHECKS, .setup = "",
     .call = "r = carve_malloc(&a, 1025u);", .gives = GIVES_NULL,
     .failure = CARVE_FAIL_TOO_LARGE},
    {.function = "carve_malloc", .input = "1025 bytes, 1 more than the arena",
     .plans = HEAP, .setup = "", .call = "r = carve_malloc(&a, 1025u);",
     .gives = GIVES_BLOCK, .heap = 1,
     .note = "a large request: it goes to the heap"},
    {.function = "carve_malloc",
     .input = "more than the room left (240 bytes after 4 x 200)",
     .plans = PLAIN | CHECKS, .setup = FILL_ARENA,
     .call = "r = carve_malloc(&a, 240u);", .gives = GIVES_NULL,
     .failure = CARVE_FAIL_OUT_OF_MEMORY},
    {.function = "carve_malloc",
     .input = "more than the room left (240 bytes after 4 x 200)",
     .plans = HEAP, .setup = FILL_ARENA, .call = "r = carve_malloc(&a, 240u);",
     .gives = GIVES_BLOCK, .heap = 1,
     .note = "the full arena falls back to the heap"},
    {.function = "carve_malloc_aligned", .input = "alignment 0, 3 or 256",
     .plans = EVERY_PLAN, .setup = "",
     .call = "r = carve_malloc_aligned(&a, 16u, 0u);", .gives = GIVES_NULL,
     .failure = CARVE_FAIL_BAD_ALIGNMENT},
    {.function = "carve_malloc_aligned", .input = "alignment 0, 3 or 256",
     .plans = EVERY_PLAN, .setup = "",
     .call = "r = carve_malloc_aligned(&a, 16u, 3u);", .gives = GIVES_NULL,
     .failure = CARVE_FAIL_BAD_ALIGNMENT},
    {.function = "carve_malloc_aligned", .input = "alignment 0, 3 or 256",
     .plans = EVERY_PLAN, .setup = "",
     .call = "r = carve_malloc_aligned(&a, 16u, 256u);", .gives = GIVES_NULL,
     .failure = CARVE_FAIL_BAD_ALIGNMENT},
    {.function = "carve_malloc_aligned",
     .input = "0 bytes and alignment 3 (the size is looked at first)",
     .plans = EVERY_PLAN, .setup = "",
     .call = "r = carve_malloc_aligned(&a, 0u, 3u);", .gives = GIVES_NULL,
     .zero_request = 1},
    {.function = "carve_calloc",
     .input = "`count * size` overflows (2^32 x 2^32)", .plans = EVERY_PLAN,
     .setup = "", .call = "r = carve_calloc(&a, 0x100000000UL, 0x100000000UL);",
     .gives = GIVES_NULL, .failure = CARVE_FAIL_OVERFLOW},
    {.function = "carve_calloc", .input = "`ULONG_MAX` x 1",
     .plans = EVERY_PLAN, .setup = "",
     .call = "r = carve_calloc(&a, 0xffffffffffffffffUL, 1u);",
     .gives = GIVES_NULL, .failure = CARVE_FAIL_TOO_LARGE},
    {.function = "carve_calloc", .input = "`count` or `size` 0",
     .plans = EVERY_PLAN, .setup = "", .call = "r = carve_calloc(&a, 0u, 16u);",
     .gives = GIVES_NULL, .zero_request = 1},
    {.function = "carve_calloc", .input = "`count` or `size` 0",
     .plans = EVERY_PLAN, .setup = "", .call = "r = carve_calloc(&a, 16u, 0u);",
     .gives = GIVES_NULL, .zero_request = 1},

    /* ---- resizing ---- */
    {.section = "Resizing in a kernel", .function = "carve_realloc",
     .input = "NULL and 0 bytes", .plans = EVERY_PLAN, .setup = "",
     .call = "r = carve_realloc(&a, 0, 0u);", .gives = GIVES_NULL,
     .zero_request = 1},
    {.function = "carve_realloc", .input = "a block and `ULONG_MAX` bytes",
     .plans = EVERY_PLAN, .setup = KEEP_64,
     .call = "r = carve_realloc(&a, p, 0xffffffffffffffffUL);",
     .gives = GIVES_NULL, .failure = CARVE_FAIL_TOO_LARGE, .keep = 64},
    {.function = "carve_realloc", .input = "a pointer inside a block (+16)",
     .plans = EVERY_PLAN, .setup = KEEP_64,
     .call = "r = carve_realloc(&a, p + 16, 32u);", .gives = GIVES_NULL,
     .misuse = CARVE_MISUSE_INTERIOR, .keep = 64},
    {.function = "carve_realloc", .input = "a freed block", .plans = EVERY_PLAN,
     .setup = FREED_Q, .call = "r = carve_realloc(&a, q, 64u);",
     .gives = GIVES_NULL, .misuse = CARVE_MISUSE_FREED, .keep = 32},
    {.function = "carve_realloc", .input = "a freed block and 0 bytes (a free)",
     .plans = EVERY_PLAN, .setup = FREED_Q,
     .call = "r = carve_realloc(&a, q, 0u);", .gives = GIVES_NULL,
     .misuse = CARVE_MISUSE_FREED, .keep = 32,
     .note = "nothing is freed a second time"},
    {.function = "carve_realloc", .input = "another work-item's block",
     .plans = EVERY_PLAN, .setup = "",
     .call = "r = carve_realloc(&a, other, 64u);", .gives = GIVES_NULL,
     .misuse = CARVE_MISUSE_OTHER_ARENA},
    {.function = "carve_realloc", .input = "another OpenCL buffer's memory",
     .plans = EVERY_PLAN, .setup = "",
     .call = "r = carve_realloc(&a, elsewhere, 64u);", .gives = GIVES_NULL,
     .misuse = CARVE_MISUSE_FOREIGN},
    {.function = "carve_usable_size", .input = "NULL", .plans = EVERY_PLAN,
     .setup = "", .call = "n = carve_usable_size(&a, 0);", .gives = GIVES_ZERO},
    {.function = "carve_usable_size", .input = "a pointer inside a block (+16)",
     .plans = EVERY_PLAN, .setup = KEEP_64,
     .call = "n = carve_usable_size(&a, p + 16);", .gives = GIVES_ZERO,
     .misuse = CARVE_MISUSE_INTERIOR, .keep = 64},
    {.function = "carve_usable_size", .input = "a freed block",
     .plans = EVERY_PLAN, .setup = FREED_Q,
     .call = "n = carve_usable_size(&a, q);", .gives = GIVES_ZERO,
     .misuse = CARVE_MISUSE_FREED, .keep = 32},

    /* ---- freeing ---- */
    {.section = "Freeing in a kernel", .function = "carve_free",
     .input = "NULL", .plans = EVERY_PLAN, .setup = "",
     .call = "carve_free(&a, 0);", .gives = DOES_NOTHING},
    {.function = "carve_free", .input = "a block freed already (a double free)",
     .plans = EVERY_PLAN, .setup = FREED_Q, .call = "carve_free(&a, q);",
     .gives = DOES_NOTHING, .misuse = CARVE_MISUSE_FREED, .keep = 32},
    {.function = "carve_free",
     .input = "a pointer inside a block, off a granule (+4) or on one (+16)",
     .plans = EVERY_PLAN, .setup = KEEP_64, .call = "carve_free(&a, p + 4);",
     .gives = DOES_NOTHING, .misuse = CARVE_MISUSE_INTERIOR, .keep = 64},
    {.function = "carve_free",
     .input = "a pointer inside a block, off a granule (+4) or on one (+16)",
     .plans = EVERY_PLAN, .setup = KEEP_64, .call = "carve_free(&a, p + 16);",
     .gives = DOES_NOTHING, .misuse = CARVE_MISUSE_INTERIOR, .keep = 64},
    {.function = "carve_free",
     .input = "arena memory never handed out (above the bump pointer)",
     .plans = EVERY_PLAN, .setup = KEEP_64, .call = "carve_free(&a, p + 256);",
     .gives = DOES_NOTHING, .misuse = CARVE_MISUSE_NOT_LIVE, .keep = 64},
    {.function = "carve_free", .input = "another work-item's block",
     .plans = EVERY_PLAN, .setup = "", .call = "carve_free(&a, other);",
     .gives = DOES_NOTHING, .misuse = CARVE_MISUSE_OTHER_ARENA},
    {.function = "carve_free",
     .input = "the set's header, or another OpenCL buffer's memory",
     .plans = EVERY_PLAN, .setup = "", .call = "carve_free(&a, carved);",
     .gives = DOES_NOTHING, .misuse = CARVE_MISUSE_FOREIGN},
    {.function = "carve_free",
     .input = "the set's header, or another OpenCL buffer's memory",
     .plans = EVERY_PLAN, .setup = "", .call = "carve_free(&a, elsewhere);",
     .gives = DOES_NOTHING, .misuse = CARVE_MISUSE_FOREIGN},
    {.function = "carve_free",
     .input = "a block written 1 byte past its 20 requested bytes",
     .plans = CHECKS, .setup = "p = carve_malloc(&a, 20u); p[20] = 1;",
     .call = "carve_free(&a, p);", .gives = FREES,
     .misuse = CARVE_MISUSE_OVERFLOW,
     .note = "the block is freed all the same: its extent is known"},
    {.function = "carve_free",
     .input = "a block written 1 byte past its 20 requested bytes",
     .plans = PLAIN | HEAP, .setup = "p = carve_malloc(&a, 20u); p[20] = 1;",
     .call = "carve_free(&a, p);", .gives = FREES,
     .note = "nothing is seen: without checks a block has no redzone, and "
             "the byte lies in its last granule"},
    {.function = "carve_free", .input = "a pointer inside a heap block (+16)",
     .plans = HEAP, .setup = "q = carve_malloc(&a, 600u);",
     .call = "carve_free(&a, q + 16);", .gives = DOES_NOTHING,
     .misuse = CARVE_MISUSE_INTERIOR, .heap = 1},
    {.function = "carve_free", .input = "a heap block freed already",
     .plans = HEAP, .setup = "q = carve_malloc(&a, 600u); carve_free(&a, q);",
     .call = "carve_free(&a, q);", .gives = DOES_NOTHING,
     .misuse = CARVE_MISUSE_FREED, .heap = 1},
    {.function = "carve_free", .input = "a heap page no block was ever on",
     .plans = HEAP, .setup = "", .call = "carve_free(&a, spare);",
     .gives = DOES_NOTHING, .misuse = CARVE_MISUSE_FREED,
     .note = "the heap cannot tell never from no longer"},
    {.function = "carve_free", .input = "another work-item's heap block",
     .plans = HEAP, .setup = "", .call = "carve_free(&a, other_heap);",
     .gives = FREES, .heap = 1,
     .note = "not a misuse: any work-item may free a heap block"},

    /* ---- handles ---- */
    {.section = "Arena handles", .function = "carve_arena_open",
     .input = "an index past the arena count (4 of 4, `UINT_MAX`), then "
              "`carve_malloc` on it",
     .plans = EVERY_PLAN, .setup = "",
     .call = "b = carve_arena_open(carved, 4u); r = carve_malloc(&b, 16u);",
     .gives = GIVES_NULL, .refused_open = 1},
    {.function = "carve_arena_open",
     .input = "an index past the arena count (4 of 4, `UINT_MAX`), then "
              "`carve_malloc` on it",
     .plans = EVERY_PLAN, .setup = "",
     .call = "b = carve_arena_open(carved, 0xffffffffu); "
             "r = carve_malloc(&b, 16u);",
     .gives = GIVES_NULL, .refused_open = 1},
    {.function = "carve_calloc", .input = ON_REFUSED, .plans = EVERY_PLAN,
     .setup = REFUSED_HANDLE, .call = "r = carve_calloc(&b, 4u, 4u);",
     .gives = GIVES_NULL, .refused_open = 1},
    {.function = "carve_malloc_aligned", .input = ON_REFUSED,
     .plans = EVERY_PLAN, .setup = REFUSED_HANDLE,
     .call = "r = carve_malloc_aligned(&b, 16u, 64u);", .gives = GIVES_NULL,
     .refused_open = 1},
    {.function = "carve_realloc", .input = ON_REFUSED, .plans = EVERY_PLAN,
     .setup = REFUSED_HANDLE, .call = "r = carve_realloc(&b, other, 64u);",
     .gives = GIVES_NULL, .refused_open = 1},
    {.function = "carve_free", .input = ON_REFUSED, .plans = EVERY_PLAN,
     .setup = REFUSED_HANDLE, .call = "carve_free(&b, other);",
     .gives = DOES_NOTHING, .refused_open = 1},
    {.function = "carve_usable_size", .input = ON_REFUSED,
     .plans = EVERY_PLAN, .setup = REFUSED_HANDLE,
     .call = "n = carve_usable_size(&b, other);", .gives = GIVES_ZERO,
     .refused_open = 1},
};

#define CASES (sizeof cases / sizeof cases[0])

static uint32_t setup_line(size_t i) { return FIRST_LINE + 10u * (uint32_t)i; }
static uint32_t call_line(size_t i) { return setup_line(i) + 1u; }

/* ---- the kernels ------------------------------------------------------------ */

static const char *const prelude = DEV_KERNEL_PRELUDE
    /* A block in every arena, and one in the heap when it is given a size;
     * planted[2 id], [2 id + 1]: their offsets. */
    "kernel void plant(global uchar *carved, global uint *planted,\n"
    "                  uint heap_bytes)\n"
    "{\n"
    "    uint id = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, id);\n"
    "    global uchar *p = carve_malloc(&a, " DEV_XSTR(PLANT_BYTES) ");\n"
    "    if (p != 0)\n"
    "        dev_fill(p, " DEV_XSTR(PLANT_BYTES) ", id);\n"
    "    planted[2 * id] = carve_offset(&a, p);\n"
    "    planted[2 * id + 1] = heap_bytes == 0 ? 0u :\n"
    "        carve_offset(&a, carve_malloc(&a, heap_bytes));\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    /* Case `which`, in work-item TARGET only. out: the offset the call
     * returned, the size it returned, the offset of block p. */
    "kernel void bad_call(global uchar *carved, uint which,\n"
    "                     global const uint *planted, global uchar *elsewhere,\n"
    "                     uint spare_offset, global uint *out)\n"
    "{\n"
    "    if (carve_flat_global_id() != " DEV_XSTR(TARGET) ")\n"
    "        return;\n"
    "    carve_arena a = carve_arena_open(carved, " DEV_XSTR(TARGET) "), b;\n"
    "    global uchar *other = carve_pointer(&a, planted[2 * "
    DEV_XSTR(VICTIM) "]);\n"
    "    global uchar *other_heap = carve_pointer(&a, planted[2 * "
    DEV_XSTR(VICTIM) " + 1]);\n"
    "    global uchar *spare = carve_pointer(&a, spare_offset);\n"
    "    global uchar *p = 0, *q = 0, *r = 0;\n"
    "    ulong n = 1;\n"
    "    switch (which) {\n";

static const char *const epilogue =
    "    }\n"
    "    out[0] = carve_offset(&a, r);\n"
    "    out[1] = (uint)n;\n"
    "    out[2] = carve_offset(&a, p);\n"
    "    carve_arena_close(&a);\n"
    "}\n";

/* The program: each case's setup and call on lines of their own. */
static char *kernel_source(void)
{
    char *text = NULL;
    size_t size = 0, i;
    FILE *out = open_memstream(&text, &size);
    if (out == NULL) {
        fprintf(stderr, "open_memstream failed\n");
        exit(1);
    }
    fputs(prelude, out);
    for (i = 0; i < CASES; ++i)
        fprintf(out,
                "    case %zuu: {\n#line %u\n        %s\n#line %u\n        %s\n"
                "        break;\n    }\n",
                i, (unsigned)setup_line(i), cases[i].setup,
                (unsigned)call_line(i), cases[i].call);
    fputs(epilogue, out);
    fclose(out);
    return text;
}

/* ---- rows of the table -------------------------------------------------------- */

static const char *failure_name(uint32_t failure)
{
    static const char *const names[] = {
        "NONE", "TOO_LARGE", "OUT_OF_MEMORY", "BAD_ALIGNMENT", "OVERFLOW",
        "CORRUPT", "NO_ARENA", "CONTENTION"};
    return failure < sizeof names / sizeof names[0] ? names[failure] : "?";
}

static const char *misuse_name(uint32_t misuse)
{
    static const char *const names[] = {
        "NONE", "FOREIGN", "INTERIOR", "NOT_LIVE", "CORRUPT", "FREED",
        "OTHER_ARENA", "OVERFLOW"};
    return misuse < sizeof names / sizeof names[0] ? names[misuse] : "?";
}

/* The CARVE_CALL_* that an error record of `function` names. */
static uint32_t call_of(const char *function)
{
    if (strcmp(function, "carve_realloc") == 0)
        return CARVE_CALL_REALLOC;
    if (strcmp(function, "carve_usable_size") == 0)
        return CARVE_CALL_USABLE_SIZE;
    return CARVE_CALL_FREE;
}

static const char *call_name(uint32_t call)
{
    return call == CARVE_CALL_REALLOC       ? "REALLOC"
           : call == CARVE_CALL_USABLE_SIZE ? "USABLE_SIZE"
                                            : "FREE";
}

static const char *plans_text(unsigned plans)
{
    switch (plans) {
    case PLAIN | CHECKS: return " (plans without a heap)";
    case PLAIN | HEAP: return " (plans without checks)";
    case CHECKS: return " (the plan with `CARVE_PLAN_CHECKS`)";
    case HEAP: return " (the plan with a heap and `HEAP_FALLBACK`)";
    default: return "";
    }
}

/* Appends to a NUL-terminated buffer, cutting what does not fit. */
static void append(char *buf, size_t size, const char *format, ...)
{
    size_t n = strlen(buf);
    va_list args;
    va_start(args, format);
    vsnprintf(buf + n, size - n, format, args);
    va_end(args);
}

static void add_row(const kernel_case *c)
{
    /* In the order of enum outcome. */
    static const char *const gives[] = {
        "`NULL`", "a block of the shared heap", "`0`", "the block is freed",
        "nothing is freed"};
    char input[256], result[256] = "", effect[512] = "";
    snprintf(input, sizeof input, "%s%s", c->input, plans_text(c->plans));
    append(result, sizeof result, "%s", gives[c->gives]);
    if (c->failure != 0)
        append(result, sizeof result,
               "; `last_failure` `CARVE_FAIL_%s`, `failure_site` its line",
               failure_name(c->failure));
    if (c->zero_request)
        append(result, sizeof result,
               "; counted in `zero_requests`, not as a failure");
    if (c->misuse != 0)
        append(result, sizeof result,
               "; `last_misuse` `CARVE_MISUSE_%s`, `misuse_site` its line",
               misuse_name(c->misuse));
    if (c->misuse != 0)
        append(effect, sizeof effect,
               "an error record of that kind: `CARVE_CALL_%s`, the work-item, "
               "its line%s",
               call_name(call_of(c->function)),
               c->misuse == CARVE_MISUSE_OTHER_ARENA
                   ? ", the owner in `detail`"
               : c->misuse == CARVE_MISUSE_OVERFLOW
                   ? ", the block's size and allocation line, the damaged "
                     "byte in `detail`"
                   : "");
    else
        append(effect, sizeof effect, "no error record");
    append(effect, sizeof effect, "; %s%s",
           c->refused_open ? "no arena changes; `open_failures` + 1"
           : c->heap       ? "nothing outside the arena and the heap changes"
                           : "nothing outside the arena changes",
           c->keep ? ", the block it keeps is intact" : "");
    if (c->note != NULL)
        append(effect, sizeof effect, "; %s", c->note);
    bad_row_add(c->function, input, result, effect);
}

/* ---- running a case ----------------------------------------------------------- */

typedef struct bench {
    carve_test_cl cl;
    cl_program program;
    cl_kernel plant, bad_call;
    cl_mem planted, elsewhere, out;
} bench;

/* One plan's set, in a region of its own between two guards. */
typedef struct plan_run {
    unsigned plan;
    carve_region *region;
    carve_set *set;
    unsigned char *guard_low, *guard_high;
    size_t size;
    unsigned char *before; /* the image before the call */
} plan_run;

static carve_plan make_plan(const carve_test_cl *cl, unsigned which)
{
    carve_plan_params params;
    carve_plan plan;
    memset(&params, 0, sizeof params);
    params.work_dim = 1;
    params.global_size[0] = ITEMS;
    params.arena_bytes = ARENA_BYTES;
    if (which == CHECKS)
        params.options = CARVE_PLAN_CHECKS;
    if (which == HEAP) {
        params.options = CARVE_PLAN_HEAP_FALLBACK;
        params.heap_bytes = 16 * 4096;
    }
    REQUIRE_OK(carve_plan_compute(&params, &cl->limits, &plan));
    return plan;
}

static plan_run open_plan(const bench *b, unsigned which)
{
    carve_plan plan = make_plan(&b->cl, which);
    carve_region_params params;
    plan_run run;
    memset(&params, 0, sizeof params);
    memset(&run, 0, sizeof run);
    run.plan = which;
    run.size = (size_t)plan.total_bytes;
    params.backend = CARVE_BACKEND_AUTO;
    params.bytes = plan.total_bytes + 4 * GUARD_BYTES;
    params.name = "kernel cases";
    REQUIRE_OK(carve_region_create(b->cl.context, b->cl.device, &params,
                                   &run.region));
    run.guard_low = carve_zc_malloc(run.region, GUARD_BYTES);
    REQUIRE_OK(carve_set_create_in(run.region, b->cl.queue, &plan, 0,
                                   &run.set));
    /* Every byte of the image a known value (the arenas never read as
     * zeroes), so that comparing it compares values. */
    memset(carve_test_image(run.set), GUARD_BYTE, run.size);
    REQUIRE_OK(carve_layout_format(carve_test_image(run.set), run.size,
                                   &plan));
    run.guard_high = carve_zc_malloc(run.region, GUARD_BYTES);
    REQUIRE_OK(run.guard_low && run.guard_high ? CARVE_SUCCESS
                                               : carve_zc_last_status());
    memset(run.guard_low, GUARD_BYTE, GUARD_BYTES);
    memset(run.guard_high, GUARD_BYTE, GUARD_BYTES);
    run.before = dev_xmalloc(run.size);
    return run;
}

static void close_plan(plan_run *run)
{
    free(run->before);
    carve_set_release(run->set);
    carve_region_release(run->region);
}

/* The offset of a heap page no block is on, or 0 without a heap. */
static uint32_t spare_page(const carve_set *set)
{
    const carve_plan *plan = carve_set_plan(set);
    const unsigned char *image = carve_test_image(set);
    uint32_t page;
    for (page = plan->heap_pages; page-- > 0;) {
        const uint32_t *state = (const uint32_t *)(const void *)(
            image + plan->heap_meta_offset + page * plan->heap_meta_stride);
        if (*state == 0)
            return plan->heap_offset + page * plan->heap_page_bytes;
    }
    return 0;
}

/* Whether the case may change the image's byte at `at`. */
static int may_change(const carve_plan *plan, const kernel_case *c, size_t at)
{
    uint64_t error_end =
        plan->error_offset + (uint64_t)plan->error_capacity *
                                 sizeof(carve_error_record);
    uint64_t state = plan->state_offset + (uint64_t)TARGET * plan->state_stride;
    uint64_t arena = dev_arena_start(plan, TARGET);
    uint64_t map_end = plan->heap_map_offset +
                       4ull * plan->heap_map_words * (1 + plan->heap_class_count);
    if ((at >= offsetof(carve_set_header, open_failures) &&
         at < offsetof(carve_set_header, open_failures) + 4) ||
        (at >= offsetof(carve_set_header, error_count) &&
         at < offsetof(carve_set_header, error_count) + 4) ||
        (at >= plan->error_offset && at < error_end))
        return 1; /* checked for what they must hold */
    if (!c->refused_open && ((at >= state && at < state + plan->state_stride) ||
                             (at >= arena && at < arena + plan->arena_bytes)))
        return 1;
    return c->heap && plan->heap_pages != 0 &&
           ((at >= plan->heap_meta_offset && at < map_end) ||
            (at >= plan->heap_offset && at < plan->heap_offset + plan->heap_bytes));
}

/* Expects no byte the case may not change to have changed. */
static void expect_unchanged_outside(const plan_run *run, const kernel_case *c,
                                     size_t i)
{
    const unsigned char *after = carve_test_image(run->set);
    const carve_plan *plan = carve_set_plan(run->set);
    size_t at;
    for (at = 0; at < run->size; ++at) {
        if (after[at] != run->before[at] && !may_change(plan, c, at)) {
            fprintf(stderr,
                    "case %zu, plan %u (%s, %s): byte %zu of the image "
                    "changed\n",
                    i, run->plan, c->function, c->input, at);
            ++carve_test_failures;
            return;
        }
    }
    EXPECT(carve_test_holds(run->guard_low, GUARD_BYTES, GUARD_BYTE));
    EXPECT(carve_test_holds(run->guard_high, GUARD_BYTES, GUARD_BYTE));
}

/* The error log's records and statistics say what the case says. */
static void expect_recorded(const plan_run *run, const kernel_case *c, size_t i,
                            const carve_arena_stats *was,
                            const carve_arena_stats *now)
{
    const carve_plan *plan = carve_set_plan(run->set);
    const carve_error_record *e = (const carve_error_record *)(const void *)(
        (const unsigned char *)carve_test_image(run->set) + plan->error_offset);
    carve_summary summary = dev_summary(run->set);
    int failures = carve_test_failures;
    EXPECT(now->failed_count == was->failed_count + (c->failure != 0));
    if (c->failure != 0)
        EXPECT(now->last_failure == c->failure &&
               now->failure_site == call_line(i));
    EXPECT(now->zero_requests == was->zero_requests + (uint32_t)c->zero_request);
    EXPECT(now->misuse_count == was->misuse_count + (c->misuse != 0));
    EXPECT(summary.errors_seen == (c->misuse != 0));
    EXPECT(summary.open_failures == (uint32_t)c->refused_open);
    if (c->misuse != 0) {
        EXPECT(now->last_misuse == c->misuse &&
               now->misuse_site == call_line(i));
        EXPECT(e->kind == c->misuse && e->call == call_of(c->function) &&
               e->arena == TARGET && e->site == call_line(i));
        if (c->misuse == CARVE_MISUSE_OTHER_ARENA)
            EXPECT(e->detail == VICTIM);
        if (c->misuse == CARVE_MISUSE_OVERFLOW)
            EXPECT(e->bytes == 20 && e->detail == 20 &&
                   e->alloc_site == setup_line(i));
    }
    if (carve_test_failures != failures)
        fprintf(stderr, "  (case %zu, plan %u: %s, %s; last failure %u, "
                        "misuse %u)\n",
                i, run->plan, c->function, c->input,
                (unsigned)now->last_failure, (unsigned)now->last_misuse);
}

static uint32_t frees_in(const char *code)
{
    uint32_t n = 0;
    for (code = strstr(code, "carve_free"); code != NULL;
         code = strstr(code + 1, "carve_free"))
        ++n;
    return n;
}

static void expect_outcome(const plan_run *run, const kernel_case *c,
                           size_t i, const uint32_t *out,
                           const carve_arena_stats *was,
                           const carve_arena_stats *now)
{
    const unsigned char *image = carve_test_image(run->set);
    int failures = carve_test_failures;
    switch (c->gives) {
    case GIVES_NULL: EXPECT(out[0] == 0); break;
    case GIVES_BLOCK:
        EXPECT(out[0] >= carve_set_plan(run->set)->heap_offset &&
               now->heap_allocs > was->heap_allocs);
        break;
    case GIVES_ZERO: EXPECT(out[1] == 0); break;
    default: break;
    }
    /* Frees in the setup, and the call's own. */
    EXPECT(now->free_count + now->heap_frees ==
           was->free_count + was->heap_frees + frees_in(c->setup) +
               (c->gives == FREES));
    if (c->keep != 0)
        EXPECT(out[2] != 0 &&
               dev_mismatches(image + out[2], c->keep, KEEP_TAG) == 0);
    if (carve_test_failures != failures)
        fprintf(stderr, "  (case %zu, plan %u: %s, %s: out %u %u %u)\n", i,
                run->plan, c->function, c->input, (unsigned)out[0],
                (unsigned)out[1], (unsigned)out[2]);
}

static void run_case(bench *b, plan_run *run, size_t i)
{
    const kernel_case *c = &cases[i];
    const size_t items = ITEMS;
    cl_uint which = (cl_uint)i, heap_bytes = run->plan == HEAP ? HEAP_BLOCK_BYTES
                                                              : 0, spare;
    uint32_t out[OUT_WORDS];
    unsigned char elsewhere[ELSEWHERE_BYTES];
    carve_arena_stats was, now;

    REQUIRE_OK(carve_set_reset(run->set));
    dev_arg(b->plant, 1, sizeof b->planted, &b->planted);
    dev_arg(b->plant, 2, sizeof heap_bytes, &heap_bytes);
    DEV_RUN(run->set, b->plant, 1, &items);
    spare = spare_page(run->set);
    memcpy(run->before, carve_test_image(run->set), run->size);
    was = dev_stats(run->set, TARGET);

    dev_arg(b->bad_call, 1, sizeof which, &which);
    dev_arg(b->bad_call, 4, sizeof spare, &spare);
    DEV_RUN(run->set, b->bad_call, 1, &items);
    now = dev_stats(run->set, TARGET);
    dev_read(&b->cl, b->out, sizeof out, out);
    dev_read(&b->cl, b->elsewhere, sizeof elsewhere, elsewhere);

    expect_outcome(run, c, i, out, &was, &now);
    expect_recorded(run, c, i, &was, &now);
    expect_unchanged_outside(run, c, i);
    EXPECT(carve_test_holds(elsewhere, sizeof elsewhere, ELSEWHERE_BYTE));
}

static bench open_bench(void)
{
    bench b;
    char *source = kernel_source();
    unsigned char fill[ELSEWHERE_BYTES];
    cl_int err;
    memset(fill, ELSEWHERE_BYTE, sizeof fill);
    b.cl = carve_test_open_cl();
    b.plant = carve_test_kernel(&b.cl, source, "plant", &b.program);
    b.bad_call = clCreateKernel(b.program, "bad_call", &err);
    REQUIRE_OK(err);
    free(source);
    b.planted = dev_buffer(&b.cl, 2 * ITEMS * sizeof(uint32_t), NULL);
    b.elsewhere = dev_buffer(&b.cl, sizeof fill, fill);
    b.out = dev_buffer(&b.cl, OUT_WORDS * sizeof(uint32_t), NULL);
    dev_arg(b.bad_call, 2, sizeof b.planted, &b.planted);
    dev_arg(b.bad_call, 3, sizeof b.elsewhere, &b.elsewhere);
    dev_arg(b.bad_call, 5, sizeof b.out, &b.out);
    return b;
}

static void close_bench(bench *b)
{
    clReleaseMemObject(b->planted);
    clReleaseMemObject(b->elsewhere);
    clReleaseMemObject(b->out);
    clReleaseKernel(b->plant);
    clReleaseKernel(b->bad_call);
    clReleaseProgram(b->program);
    carve_test_close_cl(&b->cl);
}

int main(int argc, char **argv)
{
    static const unsigned plans[] = {PLAIN, CHECKS, HEAP};
    bench b = open_bench();
    size_t p, i;
    for (p = 0; p < sizeof plans / sizeof plans[0]; ++p) {
        plan_run run = open_plan(&b, plans[p]);
        for (i = 0; i < CASES; ++i)
            if (cases[i].plans & plans[p])
                run_case(&b, &run, i);
        close_plan(&run);
    }
    for (i = 0; i < CASES; ++i) {
        if (cases[i].section != NULL)
            bad_section(cases[i].section);
        add_row(&cases[i]);
    }
    close_bench(&b);
    return bad_finish(argc, argv, "kernel");
}
