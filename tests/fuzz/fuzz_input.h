/*
 * fuzz_input.h - what carve's libFuzzer targets share: reading operands
 * from the input, an operation table keyed by a stable code, tags that fill
 * live blocks, and failing loudly.
 *
 * An input is a configuration prefix (read by each target) followed by
 * operations: one code byte, then the operands the operation reads. Codes
 * are the byte modulo FUZZ_OP_SLOTS; a code with no operation in the table
 * is skipped. So a new operation appended to a table takes a free code and
 * leaves the meaning of existing corpus files unchanged. Reads past the end
 * give zeros, so every input is a valid program.
 *
 * FUZZ_TRACE=1 in the environment prints each operation (replay a crash
 * file with the fuzzer and the file as its only argument).
 */
#ifndef CARVE_FUZZ_INPUT_H
#define CARVE_FUZZ_INPUT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_OP_SLOTS 32u

typedef struct fuzz_input {
    const uint8_t *data;
    size_t size;
    size_t at;
} fuzz_input;

static inline int fuzz_more(const fuzz_input *in) { return in->at < in->size; }

static inline uint32_t fuzz_u8(fuzz_input *in)
{
    return in->at < in->size ? in->data[in->at++] : 0u;
}

static inline uint32_t fuzz_u16(fuzz_input *in)
{
    uint32_t lo = fuzz_u8(in);
    return lo | fuzz_u8(in) << 8;
}

static inline uint32_t fuzz_u32(fuzz_input *in)
{
    uint32_t lo = fuzz_u16(in);
    return lo | fuzz_u16(in) << 16;
}

/* A request size: mostly small, sometimes up to `max`, now and then 0. */
static inline uint64_t fuzz_size(fuzz_input *in, uint64_t max)
{
    uint32_t kind = fuzz_u8(in);
    if (kind < 8)
        return 0;
    if (kind < 160)
        return 1 + fuzz_u8(in) % 128u;
    return max ? 1 + fuzz_u32(in) % max : 0;
}

/* Prints why and where, then aborts: libFuzzer keeps the input. */
static inline void fuzz_fail(const char *file, int line, const char *format,
                             ...)
{
    va_list args;
    fprintf(stderr, "%s:%d: ", file, line);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    abort();
}

#define FUZZ_REQUIRE(cond, ...)                                               \
    do {                                                                      \
        if (!(cond))                                                          \
            fuzz_fail(__FILE__, __LINE__, __VA_ARGS__);                       \
    } while (0)

static inline int fuzz_tracing(void)
{
    static int tracing = -1;
    if (tracing < 0) {
        const char *value = getenv("FUZZ_TRACE");
        tracing = value != NULL && value[0] != '\0' && value[0] != '0';
    }
    return tracing;
}

/* A byte no two live blocks share at once (never 0, so zeroing shows). */
static inline uint8_t fuzz_tag(uint32_t serial)
{
    return (uint8_t)(1u + serial % 255u);
}

/* Index of the first byte of [p, p + n) that is not `tag`, or n. */
static inline size_t fuzz_tag_mismatch(const uint8_t *p, size_t n, uint8_t tag)
{
    size_t i;
    for (i = 0; i < n; ++i)
        if (p[i] != tag)
            return i;
    return n;
}

/* Slot `pick` of a ring of `capacity` slots after `written` writes (> 0). */
static inline uint32_t fuzz_ring_slot(uint32_t pick, uint32_t written,
                                      uint32_t capacity)
{
    return pick % (written < capacity ? written : capacity);
}

/* Runs the operations of `in` with `table` (FUZZ_OP_SLOTS entries, NULL run
 * for free codes) on `model`, then `after` after each one. */
typedef struct fuzz_op {
    const char *name;
    void (*run)(void *model, fuzz_input *in);
} fuzz_op;

static inline void fuzz_run_ops(const fuzz_op *table, void *model,
                                fuzz_input *in,
                                void (*after)(void *model, const char *op))
{
    while (fuzz_more(in)) {
        const fuzz_op *op = &table[fuzz_u8(in) % FUZZ_OP_SLOTS];
        if (op->run == NULL)
            continue;
        if (fuzz_tracing())
            fprintf(stderr, "op %s\n", op->name);
        op->run(model, in);
        after(model, op->name);
    }
}

#endif /* CARVE_FUZZ_INPUT_H */
