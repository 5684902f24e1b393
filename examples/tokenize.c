/*
 * tokenize.c - every work-item splits one line of text into a linked list of
 * tokens built with carve_malloc, filters the list with carve_free, and
 * leaves it in its arena. The host then walks all 65536 lists in place, in
 * the buffer it shares with the device, and compares them with its own
 * tokenizer.
 *
 * The rules, the same on both sides:
 * - a token is a run of ASCII letters and digits, lower-cased;
 * - stop words ("the", "of", ...) are dropped;
 * - of the tokens left, one equal to the token kept just before it is
 *   folded into that token's repeat count: "very Very fast" -> very x2, fast.
 *
 * With --devices N the same kernel, unchanged, runs split over N
 * sub-devices of the device (carve/split.h): its work-item numbers are
 * launch-wide, so each finds its own line and arena as on one device. The
 * host checks the lists with the same code, read through the split.
 */
#include "example_support.h"

#include <carve/split.h>

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1/256 of the lines under CARVE_QUICK (for a simulator such as Oclgrind) */
#define LINE_COUNT (example_quick() ? 1u << 8 : 1u << 16)
#define MAX_WORDS_PER_LINE 14u
#define CORPUS_SEED 0x70c3a21e5eedull

/* The kernel and the host agree on this layout: fixed-width fields only,
 * and links are offsets from the buffer's base, because the device and the
 * host see the buffer at different addresses. */
typedef struct token_node {
    uint32_t next;    /* the next token, 0 at the end of the list */
    uint32_t length;  /* bytes of text */
    uint32_t text;    /* the characters, lower-cased, not NUL-terminated */
    uint32_t repeats; /* consecutive occurrences this token stands for */
} token_node;

_Static_assert(sizeof(token_node) == 16, "token_node matches the kernel's");
_Static_assert(offsetof(token_node, text) == 8,
               "token_node matches the kernel's");

static const char kernel_source[] =
    "#include \"carve.clh\"\n"
    "\n"
    "typedef struct token_node {\n"
    "    uint next;\n"
    "    uint length;\n"
    "    uint text;\n"
    "    uint repeats;\n"
    "} token_node;\n"
    "\n"
    "int is_word_char(char c)\n"
    "{\n"
    "    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||\n"
    "           (c >= '0' && c <= '9');\n"
    "}\n"
    "\n"
    "char lower_ascii(char c)\n"
    "{\n"
    "    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;\n"
    "}\n"
    "\n"
    "/* NULL when the arena is full; the arena's statistics tell the host. */\n"
    "global token_node *new_token(carve_arena *a, global const char *word,\n"
    "                             uint length)\n"
    "{\n"
    "    global token_node *t = carve_malloc(a, sizeof(token_node));\n"
    "    global char *text = carve_malloc(a, length);\n"
    "    if (t == 0 || text == 0) {\n"
    "        carve_free(a, text);\n"
    "        carve_free(a, t);\n"
    "        return 0;\n"
    "    }\n"
    "    for (uint i = 0; i < length; ++i)\n"
    "        text[i] = lower_ascii(word[i]);\n"
    "    t->next = 0;\n"
    "    t->length = length;\n"
    "    t->text = carve_offset(a, text);\n"
    "    t->repeats = 1;\n"
    "    return t;\n"
    "}\n"
    "\n"
    "/* Every token of text[begin, end), in order. */\n"
    "global token_node *tokenize(carve_arena *a, global const char *text,\n"
    "                            uint begin, uint end)\n"
    "{\n"
    "    global token_node *head = 0, *tail = 0;\n"
    "    uint i = begin;\n"
    "    for (;;) {\n"
    "        while (i < end && !is_word_char(text[i]))\n"
    "            ++i;\n"
    "        uint start = i;\n"
    "        while (i < end && is_word_char(text[i]))\n"
    "            ++i;\n"
    "        if (i == start)\n"
    "            return head;\n"
    "        global token_node *t = new_token(a, text + start, i - start);\n"
    "        if (t == 0)\n"
    "            return head;\n"
    "        if (tail != 0)\n"
    "            tail->next = carve_offset(a, t);\n"
    "        else\n"
    "            head = t;\n"
    "        tail = t;\n"
    "    }\n"
    "}\n"
    "\n"
    "/* stop_words: NUL-terminated words, then an empty one. */\n"
    "int is_stop_word(global const char *word, uint length,\n"
    "                 constant const char *stop_words)\n"
    "{\n"
    "    constant const char *s = stop_words;\n"
    "    while (*s != 0) {\n"
    "        uint n = 0;\n"
    "        while (n < length && s[n] == word[n])\n"
    "            ++n;\n"
    "        if (n == length && s[n] == 0)\n"
    "            return 1;\n"
    "        while (*s != 0)\n"
    "            ++s;\n"
    "        ++s;\n"
    "    }\n"
    "    return 0;\n"
    "}\n"
    "\n"
    "int same_text(carve_arena *a, global const token_node *x,\n"
    "              global const token_node *y)\n"
    "{\n"
    "    global const char *p = carve_pointer(a, x->text);\n"
    "    global const char *q = carve_pointer(a, y->text);\n"
    "    if (x->length != y->length)\n"
    "        return 0;\n"
    "    for (uint i = 0; i < x->length; ++i)\n"
    "        if (p[i] != q[i])\n"
    "            return 0;\n"
    "    return 1;\n"
    "}\n"
    "\n"
    "void drop_token(carve_arena *a, global token_node *t)\n"
    "{\n"
    "    carve_free(a, carve_pointer(a, t->text));\n"
    "    carve_free(a, t);\n"
    "}\n"
    "\n"
    "/* Drops stop words and folds repeats, freeing what goes. */\n"
    "global token_node *filter(carve_arena *a, global token_node *t,\n"
    "                          constant const char *stop_words)\n"
    "{\n"
    "    global token_node *head = 0, *kept = 0;\n"
    "    while (t != 0) {\n"
    "        global token_node *next = carve_pointer(a, t->next);\n"
    "        if (is_stop_word(carve_pointer(a, t->text), t->length,\n"
    "                         stop_words)) {\n"
    "            drop_token(a, t);\n"
    "        } else if (kept != 0 && same_text(a, kept, t)) {\n"
    "            kept->repeats += t->repeats;\n"
    "            drop_token(a, t);\n"
    "        } else {\n"
    "            if (kept != 0)\n"
    "                kept->next = carve_offset(a, t);\n"
    "            else\n"
    "                head = t;\n"
    "            kept = t;\n"
    "        }\n"
    "        t = next;\n"
    "    }\n"
    "    if (kept != 0)\n"
    "        kept->next = 0;\n"
    "    return head;\n"
    "}\n"
    "\n"
    "/* Line i is text[line_start[i], line_start[i + 1] - 1): each line ends\n"
    " * in a newline. */\n"
    "kernel void tokenize_lines(global uchar *carved,\n"
    "                           global const char *text,\n"
    "                           global const uint *line_start,\n"
    "                           constant const char *stop_words)\n"
    "{\n"
    "    uint line = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, line);\n"
    "    global token_node *all =\n"
    "        tokenize(&a, text, line_start[line], line_start[line + 1] - 1);\n"
    "    global token_node *kept = filter(&a, all, stop_words);\n"
    "    carve_set_root(&a, kept);\n"
    "    carve_arena_close(&a);\n"
    "}\n";

/* ---- the corpus --------------------------------------------------------- */

static const char *const stop_words[] = {"a",  "an", "and", "in", "is",
                                         "it", "of", "on",  "the", "to"};
#define STOP_WORD_COUNT (sizeof stop_words / sizeof stop_words[0])

/* Stop words appear in it as often as other words; a few words are longer
 * than one 16-byte granule, and "x86" and "64" check that digits count. */
static const char *const vocabulary[] = {
    "a", "an", "and", "in", "is", "it", "of", "on", "the", "to",
    "arena", "atomic", "bit", "block", "buffer", "byte", "cache", "carve",
    "copy", "device", "dsp", "fast", "free", "gpu", "host", "item", "kernel",
    "line", "list", "lock", "map", "memory", "node", "offset", "page",
    "queue", "small", "token", "very", "word", "work", "zero", "x86", "64",
    "synchronisation", "internationalization", "fragmentation"};
#define VOCABULARY_COUNT (sizeof vocabulary / sizeof vocabulary[0])

static const char *const separators[] = {" ", " ", " ", " ", "  ",
                                         ", ", ". ", " - ", "\t"};
#define SEPARATOR_COUNT (sizeof separators / sizeof separators[0])
#define LONGEST_SEPARATOR 3u

typedef struct corpus {
    char *text;           /* LINE_COUNT lines, each ending in '\n' */
    size_t bytes;
    uint32_t *line_start; /* LINE_COUNT + 1 offsets into text */
    uint32_t longest;     /* bytes of the longest line, newline excluded */
} corpus;

static size_t longest_word(void)
{
    size_t i, longest = 0;
    for (i = 0; i < VOCABULARY_COUNT; ++i)
        if (strlen(vocabulary[i]) > longest)
            longest = strlen(vocabulary[i]);
    return longest;
}

static size_t append_word(char *out, const char *word, int capitalized)
{
    size_t n = strlen(word);
    memcpy(out, word, n);
    if (capitalized)
        out[0] = (char)toupper((unsigned char)out[0]);
    return n;
}

/* Writes one line and its newline; returns the bytes written. Words are
 * sometimes repeated, so that some repeats survive the stop-word filter. */
static size_t append_line(char *out, uint64_t *rng)
{
    uint32_t words = example_random_below(rng, MAX_WORDS_PER_LINE + 1);
    const char *word = NULL;
    size_t n = 0;
    uint32_t w;
    for (w = 0; w < words; ++w) {
        if (w > 0) {
            uint32_t separator = example_random_below(rng, SEPARATOR_COUNT);
            n += append_word(out + n, separators[separator], 0);
        }
        if (word == NULL || example_random_below(rng, 6) != 0)
            word = vocabulary[example_random_below(rng, VOCABULARY_COUNT)];
        n += append_word(out + n, word,
                         w == 0 || example_random_below(rng, 8) == 0);
    }
    out[n++] = '\n';
    return n;
}

static carve_status corpus_generate(corpus *c)
{
    size_t line_capacity =
        MAX_WORDS_PER_LINE * (longest_word() + LONGEST_SEPARATOR) + 1;
    uint64_t rng = CORPUS_SEED;
    uint32_t i;
    c->text = malloc(LINE_COUNT * line_capacity);
    c->line_start = malloc((LINE_COUNT + 1) * sizeof *c->line_start);
    if (c->text == NULL || c->line_start == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    c->bytes = 0;
    c->longest = 0;
    for (i = 0; i < LINE_COUNT; ++i) {
        size_t n = append_line(c->text + c->bytes, &rng);
        c->line_start[i] = (uint32_t)c->bytes;
        c->bytes += n;
        if (n - 1 > c->longest)
            c->longest = (uint32_t)(n - 1);
    }
    c->line_start[LINE_COUNT] = (uint32_t)c->bytes;
    return CARVE_SUCCESS;
}

static void corpus_free(corpus *c)
{
    free(c->text);
    free(c->line_start);
}

/* The stop words as the kernel reads them: each NUL-terminated, then an
 * empty word. Returns the bytes written, or 0 if they do not fit. */
static size_t pack_stop_words(char *out, size_t capacity)
{
    size_t i, n = 0, length;
    for (i = 0; i < STOP_WORD_COUNT; ++i) {
        length = strlen(stop_words[i]);
        if (n + length + 2 > capacity)
            return 0;
        memcpy(out + n, stop_words[i], length + 1);
        n += length + 1;
    }
    out[n++] = '\0';
    return n;
}

/* ---- arena size ------------------------------------------------------------
 * The most memory a line of L bytes can need is reached before the filter
 * frees anything: every token holds a 16-byte node and its text, rounded up
 * to whole 16-byte granules, i.e. at most 16 + 15 + length bytes. With T
 * tokens, at most (L + 1) / 2 of them, and at most L - T + 1 bytes of
 * text, that sums to 30 T + L + 1 <= 16 (L + 1), reached by one-letter
 * words. So 16 (L + 1) for the longest line never fails, whatever the
 * words. Nothing needs adding for the allocator: its metadata lives outside
 * the arena, and before the peak nothing is freed, so blocks lie back to
 * back. The printed peak shows how much of it real text used. */
static uint64_t arena_bytes_for_line(uint32_t longest_line)
{
    return 16u * ((uint64_t)longest_line + 1u);
}

/* ---- the host's reference tokenizer ------------------------------------- */

typedef struct host_token {
    const char *text; /* in the corpus, original case */
    uint32_t length;
    uint32_t repeats;
} host_token;

static int is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

static int same_ignoring_case(const char *x, const char *y, size_t length)
{
    size_t i;
    for (i = 0; i < length; ++i)
        if (tolower((unsigned char)x[i]) != tolower((unsigned char)y[i]))
            return 0;
    return 1;
}

static int host_is_stop_word(const char *word, uint32_t length)
{
    size_t i;
    for (i = 0; i < STOP_WORD_COUNT; ++i)
        if (strlen(stop_words[i]) == length &&
            same_ignoring_case(word, stop_words[i], length))
            return 1;
    return 0;
}

/* Applies the rules to line[0, length): fills kept[] and returns how many;
 * *found counts the tokens before filtering. */
static uint32_t host_tokenize(const char *line, uint32_t length,
                              host_token *kept, uint32_t *found)
{
    uint32_t i = 0, count = 0;
    *found = 0;
    for (;;) {
        uint32_t start;
        while (i < length && !is_word_char(line[i]))
            ++i;
        for (start = i; i < length && is_word_char(line[i]);)
            ++i;
        if (i == start)
            return count;
        *found += 1;
        if (host_is_stop_word(line + start, i - start))
            continue;
        if (count > 0 && kept[count - 1].length == i - start &&
            same_ignoring_case(kept[count - 1].text, line + start, i - start)) {
            kept[count - 1].repeats += 1;
            continue;
        }
        kept[count].text = line + start;
        kept[count].length = i - start;
        kept[count].repeats = 1;
        ++count;
    }
}

/* ---- checking the device's lists ---------------------------------------- */

typedef struct tally {
    uint32_t lines_wrong;
    uint64_t tokens_found;
    uint64_t tokens_kept;
    uint64_t kept_bytes; /* what the kept tokens occupy: whole granules */
} tally;

/* The device stores the word lower-cased; the corpus has it as written. */
static int is_lowered_copy(const char *lowered, const char *word,
                           size_t length)
{
    size_t i;
    for (i = 0; i < length; ++i)
        if (lowered[i] != (char)tolower((unsigned char)word[i]))
            return 0;
    return 1;
}

/* Where the host reads the device's lists: one set's image, or, split
 * over sub-devices, every slice of the split. A line's arena is the line's
 * own number in both (carve_flat_global_id is launch-wide), so the checks
 * below are the same code for both, through these two calls. */
typedef struct device_lists {
    void *image;              /* one device: the set's image */
    const carve_split *split; /* or split: NULL on one device */
} device_lists;

static const void *lists_block(const device_lists *lists, uint32_t line,
                               uint32_t offset, size_t bytes)
{
    return lists->split != NULL
               ? carve_split_block(lists->split, line, offset, bytes)
               : carve_layout_block(lists->image, line, offset, bytes);
}

static carve_status lists_arena_stats(const device_lists *lists,
                                      uint32_t line, carve_arena_stats *out)
{
    return lists->split != NULL
               ? carve_split_arena_stats(lists->split, line, out)
               : carve_layout_arena_stats(lists->image, line, out);
}

/* Walks the list at `head`. carve_layout_block (and carve_split_block,
 * which finds the line's slice first) refuses any offset that is not
 * inside a live block of this line's own arena, and the walk stops after
 * `count` nodes, so even a broken or cyclic list cannot crash or hang the
 * host, or pass for a right one. */
static int list_matches(const device_lists *lists, uint32_t line,
                        uint32_t head, const host_token *expected,
                        uint32_t count)
{
    uint32_t offset = head, i;
    for (i = 0; i < count; ++i) {
        const token_node *node =
            lists_block(lists, line, offset, sizeof *node);
        const char *text;
        if (node == NULL || node->length != expected[i].length ||
            node->repeats != expected[i].repeats)
            return 0;
        text = lists_block(lists, line, node->text, node->length);
        if (text == NULL ||
            !is_lowered_copy(text, expected[i].text, node->length))
            return 0;
        offset = node->next;
    }
    return offset == 0;
}

/* Checks one line's list against the reference; `expected` has room for
 * the longest line's tokens. */
static carve_status verify_line(const device_lists *lists, const corpus *c,
                                uint32_t line, host_token *expected, tally *t)
{
    const char *text = c->text + c->line_start[line];
    uint32_t length = c->line_start[line + 1] - 1 - c->line_start[line];
    uint32_t found, kept, i;
    carve_arena_stats stats;
    carve_status status = lists_arena_stats(lists, line, &stats);
    if (status != CARVE_SUCCESS)
        return status;
    kept = host_tokenize(text, length, expected, &found);
    t->tokens_found += found;
    t->tokens_kept += kept;
    for (i = 0; i < kept; ++i)
        t->kept_bytes += example_block_bytes(sizeof(token_node)) +
                         example_block_bytes(expected[i].length);
    if (!list_matches(lists, line, stats.root, expected, kept) &&
        t->lines_wrong++ < 3)
        printf("mismatch in line %u: \"%.*s\"\n", line, (int)length, text);
    return CARVE_SUCCESS;
}

static carve_status verify_lines(const device_lists *lists, const corpus *c,
                                 tally *t)
{
    host_token *expected = malloc((c->longest / 2 + 1) * sizeof *expected);
    carve_status status = CARVE_SUCCESS;
    uint32_t line;
    if (expected == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    memset(t, 0, sizeof *t);
    for (line = 0; line < LINE_COUNT && status == CARVE_SUCCESS; ++line)
        status = verify_line(lists, c, line, expected, t);
    free(expected);
    return status;
}

/* Every dropped token must have been freed, node and text: what is left
 * in the arenas is exactly the kept tokens. */
static int memory_matches_results(const carve_summary *s, const tally *t)
{
    uint64_t live_blocks = s->alloc_count - s->free_count;
    int ok = live_blocks == 2 * t->tokens_kept &&
             s->alloc_count == 2 * t->tokens_found &&
             s->in_use_bytes == t->kept_bytes;
    printf("memory check: %llu live blocks, %llu bytes in use; the results "
           "need %llu and %llu: %s\n",
           (unsigned long long)live_blocks,
           (unsigned long long)s->in_use_bytes,
           (unsigned long long)(2 * t->tokens_kept),
           (unsigned long long)t->kept_bytes, ok ? "ok" : "DIFFERENT");
    return ok;
}

/* ---- the launch --------------------------------------------------------- */

typedef struct inputs {
    cl_mem text;
    cl_mem line_start;
    cl_mem stop_words;
} inputs;

/* The inputs, in `context`: every device of it reads them. */
static carve_status upload(cl_context context, const corpus *c, inputs *in)
{
    char packed[256];
    size_t packed_bytes = pack_stop_words(packed, sizeof packed);
    cl_mem_flags flags = CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR;
    carve_status status;
    if (packed_bytes == 0)
        return CARVE_ERROR_BUFFER_TOO_SMALL;
    in->text = clCreateBuffer(context, flags, c->bytes, c->text, &status);
    if (status == CARVE_SUCCESS)
        in->line_start = clCreateBuffer(context, flags,
                                        (LINE_COUNT + 1) * sizeof(uint32_t),
                                        c->line_start, &status);
    if (status == CARVE_SUCCESS)
        in->stop_words = clCreateBuffer(context, flags, packed_bytes,
                                        packed, &status);
    return status;
}

static void release_inputs(inputs *in)
{
    if (in->text != NULL)
        clReleaseMemObject(in->text);
    if (in->line_start != NULL)
        clReleaseMemObject(in->line_start);
    if (in->stop_words != NULL)
        clReleaseMemObject(in->stop_words);
}

static carve_status set_input_args(cl_kernel kernel, const inputs *in)
{
    carve_status status = clSetKernelArg(kernel, 1, sizeof in->text, &in->text);
    if (status == CARVE_SUCCESS)
        status = clSetKernelArg(kernel, 2, sizeof in->line_start,
                                &in->line_start);
    if (status == CARVE_SUCCESS)
        status = clSetKernelArg(kernel, 3, sizeof in->stop_words,
                                &in->stop_words);
    return status;
}

/* ---- the program -----------------------------------------------------------
 * Everything above is the workload; tests/bench/split.c includes this file
 * with TOKENIZE_NO_MAIN defined to time that very kernel and corpus, and
 * brings its own main. */
#ifndef TOKENIZE_NO_MAIN

static void usage(FILE *out)
{
    fprintf(out,
            "usage: carve_example_tokenize [--devices N]\n"
            "  --devices N  split the launch over N sub-devices of the device "
            "(1 to %u),\n"
            "               made CL_DEVICE_PARTITION_EQUALLY; without it, "
            "one device\n",
            CARVE_SPLIT_MAX_DEVICES);
}

/* --devices N in *devices, 0 without it. Returns 0 (after the usage) for
 * anything else on the command line. */
static int read_command_line(int argc, char **argv, cl_uint *devices)
{
    char *end = NULL;
    unsigned long n;
    *devices = 0;
    if (argc == 1)
        return 1;
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        exit(0);
    }
    if (argc == 3 && strcmp(argv[1], "--devices") == 0) {
        n = strtoul(argv[2], &end, 10);
        if (argv[2][0] != '\0' && *end == '\0' && n >= 1 &&
            n <= CARVE_SPLIT_MAX_DEVICES) {
            *devices = (cl_uint)n;
            return 1;
        }
    }
    usage(stderr);
    return 0;
}

static void print_verified(const corpus *c, const tally *t)
{
    printf("verified: %u lines (%llu bytes, longest %u), %llu tokens, %llu "
           "kept, %u mismatches\n",
           (unsigned)LINE_COUNT, (unsigned long long)c->bytes,
           (unsigned)c->longest, (unsigned long long)t->tokens_found,
           (unsigned long long)t->tokens_kept, (unsigned)t->lines_wrong);
}

/* ---- on one device ------------------------------------------------------ */

/* The launch on the device the example opened. Returns the first failed
 * step's status; *passed says whether the results verified. */
static carve_status tokenize_on_device(const example_opencl *cl,
                                       const corpus *c, int *passed)
{
    inputs in = {0};
    cl_program program = NULL;
    cl_kernel kernel = NULL;
    carve_plan plan;
    carve_set *set = NULL;
    carve_summary summary;
    device_lists lists = {0};
    tally t;
    size_t lines = LINE_COUNT;
    carve_status status;
    EXAMPLE_CHECK(example_plan(cl, lines, arena_bytes_for_line(c->longest),
                               &plan));
    EXAMPLE_CHECK(example_kernel_build(cl, kernel_source, "tokenize_lines",
                                       &program, &kernel));
    EXAMPLE_CHECK(upload(cl->context, c, &in));
    EXAMPLE_CHECK(set_input_args(kernel, &in));
    EXAMPLE_CHECK(carve_set_create(cl->context, cl->device, cl->queue, &plan,
                                   0, &set));
    example_print_zero_copy(set);
    EXAMPLE_CHECK(carve_set_run(set, kernel, 0, 1, &lines, NULL));

    EXAMPLE_CHECK(carve_set_image(set, &lists.image));
    EXAMPLE_CHECK(verify_lines(&lists, c, &t));
    print_verified(c, &t);
    *passed = example_report_set(set, &summary);
    *passed = memory_matches_results(&summary, &t) && *passed &&
              t.lines_wrong == 0;

cleanup:
    carve_set_release(set);
    release_inputs(&in);
    if (kernel != NULL)
        clReleaseKernel(kernel);
    if (program != NULL)
        clReleaseProgram(program);
    return status;
}

/* ---- split over sub-devices (--devices N) ------------------------------- */

typedef struct sub_devices {
    cl_uint count;
    cl_device_id device[CARVE_SPLIT_MAX_DEVICES];
    cl_command_queue queue[CARVE_SPLIT_MAX_DEVICES]; /* one per device */
    cl_context context;                              /* of them alone */
} sub_devices;

/* Why the device cannot be split as asked, and what to do instead. */
static void say_why_not(cl_uint wanted, const char *why, const char *instead)
{
    fflush(stdout);
    fprintf(stderr,
            "--devices %u: %s.\n%s, or pick a device that can be split with "
            "CARVE_DEVICE.\n",
            (unsigned)wanted, why, instead);
}

/* `wanted` sub-devices of `parent` of units / wanted compute units each:
 * partitioning equally may make more (7 units in 3 makes 3 of 2, 8 units
 * in 3 makes 4 of 2): the first `wanted` are kept. Says why not, and
 * returns CL_DEVICE_PARTITION_FAILED, when the device cannot. */
static carve_status partition(cl_device_id parent, cl_uint wanted,
                              sub_devices *s)
{
    cl_uint units = 0, made = 0, i;
    cl_device_id *all;
    cl_device_partition_property equally[3] = {CL_DEVICE_PARTITION_EQUALLY,
                                               0, 0};
    char why[160], instead[64];
    carve_status status = clGetDeviceInfo(
        parent, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL);
    if (status != CL_SUCCESS)
        return status;
    if (units < wanted) {
        snprintf(why, sizeof why, "the device has %u compute unit%s, fewer "
                 "than the %u sub-devices asked for", (unsigned)units,
                 units == 1 ? "" : "s", (unsigned)wanted);
        snprintf(instead, sizeof instead, "Ask for at most --devices %u",
                 (unsigned)units);
        say_why_not(wanted, why, instead);
        return CL_DEVICE_PARTITION_FAILED;
    }
    equally[1] = (cl_device_partition_property)(units / wanted);
    status = clCreateSubDevices(parent, equally, 0, NULL, &made);
    if (status != CL_SUCCESS || made < wanted) {
        snprintf(why, sizeof why, "the device cannot be partitioned equally "
                 "into sub-devices of %u compute unit%s (%s)",
                 (unsigned)(units / wanted), units / wanted == 1 ? "" : "s",
                 carve_status_string(status));
        say_why_not(wanted, why, "Run without --devices (one device)");
        return CL_DEVICE_PARTITION_FAILED;
    }
    all = malloc(made * sizeof *all);
    if (all == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    status = clCreateSubDevices(parent, equally, made, all, NULL);
    for (i = 0; status == CL_SUCCESS && i < made; ++i) {
        if (i < wanted)
            s->device[s->count++] = all[i];
        else
            clReleaseDevice(all[i]);
    }
    free(all);
    if (status == CL_SUCCESS)
        printf("split: %u sub-device%s of %u compute unit%s each (the "
               "device has %u)\n",
               (unsigned)wanted, wanted == 1 ? "" : "s",
               (unsigned)(units / wanted), units / wanted == 1 ? "" : "s",
               (unsigned)units);
    return status;
}

/* The sub-devices, a context of them and an in-order queue on each.
 * Release with sub_devices_close, also after a failure. */
static carve_status sub_devices_open(cl_device_id parent, cl_uint wanted,
                                     sub_devices *s)
{
    carve_status status = partition(parent, wanted, s);
    cl_uint i;
    if (status == CL_SUCCESS)
        s->context = clCreateContext(NULL, s->count, s->device, NULL, NULL,
                                     &status);
    for (i = 0; status == CL_SUCCESS && i < s->count; ++i)
        s->queue[i] = clCreateCommandQueue(s->context, s->device[i], 0,
                                           &status);
    return status;
}

static void sub_devices_close(sub_devices *s)
{
    cl_uint i;
    for (i = 0; i < s->count; ++i) {
        if (s->queue[i] != NULL)
            clReleaseCommandQueue(s->queue[i]);
        clReleaseDevice(s->device[i]);
    }
    if (s->context != NULL)
        clReleaseContext(s->context);
}

/* The kernel, built for every sub-device, so that one kernel object
 * launches on each. */
static carve_status split_kernel_build(const sub_devices *s,
                                       cl_program *program, cl_kernel *kernel)
{
    char *log = NULL;
    carve_status status = carve_program_build_for_devices(
        s->context, s->count, s->device, kernel_source, "-cl-std=CL1.2",
        program, &log);
    if (status != CARVE_SUCCESS && log != NULL) {
        fflush(stdout);
        fprintf(stderr, "kernel build log:\n%s\n", log);
    }
    free(log);
    if (status == CARVE_SUCCESS)
        *kernel = clCreateKernel(*program, "tokenize_lines", &status);
    return status;
}

/* One line per work-item, as on one device, split evenly over the
 * sub-devices, each slice checked against its own device's limits; prints
 * the split (or why it does not fit). */
static carve_status split_plan(const sub_devices *s, uint64_t arena_bytes,
                               carve_split_plan *plan)
{
    carve_split_params params;
    carve_device_limits limits[CARVE_SPLIT_MAX_DEVICES];
    carve_status status = CARVE_SUCCESS;
    cl_uint i;
    memset(&params, 0, sizeof params);
    params.plan.work_dim = 1;
    params.plan.global_size[0] = LINE_COUNT;
    params.plan.arena_bytes = arena_bytes;
    params.device_count = s->count;
    for (i = 0; i < s->count && status == CARVE_SUCCESS; ++i)
        status = carve_device_limits_query(s->device[i], &limits[i]);
    if (status == CARVE_SUCCESS)
        status = carve_split_plan_compute(&params, limits, plan);
    if (status != CARVE_SUCCESS) {
        fprintf(stderr, "the split plan does not fit: %s\n", plan->message);
        return status;
    }
    return carve_split_plan_print(plan, stdout);
}

/* How carve_split_create laid the memory out, and why. */
static void print_split_memory(const carve_split *split)
{
    carve_split_info info;
    if (carve_split_info_get(split, &info) != CARVE_SUCCESS)
        return;
    printf("layout: %u region%s for %u devices (%s); zero-copy %s\n",
           (unsigned)info.region_count, info.region_count == 1 ? "" : "s",
           (unsigned)info.device_count, info.why,
           info.zero_copy_verified ? "verified on every device"
                                   : "not shown on every device (the "
                                     "results are still correct)");
}

static void print_split_summary(const carve_summary *total,
                                const carve_summary *per_device,
                                const carve_split_plan *plan)
{
    cl_uint i;
    example_print_summary(total, plan->slices[0].plan.arena_bytes);
    for (i = 0; i < plan->params.device_count; ++i)
        printf("  device %u: lines %u to %u, %llu allocations, %llu frees\n",
               (unsigned)i, (unsigned)plan->slices[i].first_arena,
               (unsigned)(plan->slices[i].first_arena +
                          per_device[i].arena_count - 1),
               (unsigned long long)per_device[i].alloc_count,
               (unsigned long long)per_device[i].free_count);
}

/* example_report_set for a split: the totals over every slice (and each
 * device's part), then the invariant check of every arena. The same
 * verdict: 1 when every arena passed, was opened and closed, with no
 * failed request and no refused pointer. */
static int report_split(const carve_split *split, carve_summary *total)
{
    carve_summary per_device[CARVE_SPLIT_MAX_DEVICES];
    uint32_t bad_arena = 0, broken = 0;
    cl_uint bad_slice = 0;
    carve_status status = carve_split_summary(split, total, per_device);
    int healthy;
    if (status != CARVE_SUCCESS) {
        example_print_failure("carve_split_summary", status, __FILE__,
                              __LINE__);
        return 0;
    }
    print_split_summary(total, per_device, carve_split_get_plan(split));
    healthy = example_summary_healthy(total);
    status = carve_split_check(split, &bad_slice, &bad_arena, &broken);
    if (status == CARVE_SUCCESS) {
        printf("invariant check: all %u arenas pass\n", total->arena_count);
        return healthy;
    }
    if (status == CARVE_ERROR_ARENA_INVALID)
        printf("invariant check: FAILED, line %u (device %u) breaks "
               "invariant %u (a CARVE_CHECK_* code of carve_core.h)\n",
               bad_arena, (unsigned)bad_slice, broken);
    else
        example_print_failure("carve_split_check", status, __FILE__,
                              __LINE__);
    return 0;
}

/* The same launch split over `count` sub-devices of the opened device,
 * verified by the same checks, read through the split. */
static carve_status tokenize_split(const example_opencl *cl, const corpus *c,
                                   cl_uint count, int *passed)
{
    sub_devices subs;
    inputs in = {0};
    cl_program program = NULL;
    cl_kernel kernel = NULL;
    carve_split_plan plan;
    carve_split *split = NULL;
    carve_summary summary;
    device_lists lists = {0};
    tally t;
    carve_status status;
    memset(&subs, 0, sizeof subs);
    status = sub_devices_open(cl->device, count, &subs);
    if (status == CL_DEVICE_PARTITION_FAILED)
        goto cleanup; /* partition said why */
    EXAMPLE_CHECK(status);
    EXAMPLE_CHECK(split_plan(&subs, arena_bytes_for_line(c->longest), &plan));
    EXAMPLE_CHECK(split_kernel_build(&subs, &program, &kernel));
    EXAMPLE_CHECK(upload(subs.context, c, &in));
    EXAMPLE_CHECK(set_input_args(kernel, &in));
    EXAMPLE_CHECK(carve_split_create(subs.context, subs.device, subs.queue,
                                     &plan, 0, &split));
    print_split_memory(split);
    status = carve_split_run(split, kernel, 0, NULL);
    if (status != CARVE_SUCCESS)
        fprintf(stderr, "%s\n", carve_split_message(split));
    EXAMPLE_CHECK(status);

    lists.split = split;
    EXAMPLE_CHECK(verify_lines(&lists, c, &t));
    print_verified(c, &t);
    *passed = report_split(split, &summary);
    *passed = memory_matches_results(&summary, &t) && *passed &&
              t.lines_wrong == 0;

cleanup:
    carve_split_release(split);
    release_inputs(&in);
    if (kernel != NULL)
        clReleaseKernel(kernel);
    if (program != NULL)
        clReleaseProgram(program);
    sub_devices_close(&subs);
    return status;
}

int main(int argc, char **argv)
{
    example_opencl cl;
    corpus c = {0};
    cl_uint devices;
    int passed = 0;
    carve_status status;
    if (!read_command_line(argc, argv, &devices))
        return 2;
    status = example_opencl_open(&cl);
    if (status != CARVE_SUCCESS) {
        example_opencl_close(&cl);
        return status == CARVE_ERROR_NO_DEVICE ? example_no_device_exit() : 1;
    }
    EXAMPLE_CHECK(corpus_generate(&c));
    status = devices == 0 ? tokenize_on_device(&cl, &c, &passed)
                          : tokenize_split(&cl, &c, devices, &passed);

cleanup:
    example_opencl_close(&cl);
    corpus_free(&c);
    if (status == CARVE_SUCCESS)
        printf("%s\n", passed ? "PASSED" : "FAILED");
    return status == CARVE_SUCCESS && passed ? 0 : 1;
}

#endif /* TOKENIZE_NO_MAIN */
