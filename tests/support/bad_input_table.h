/*
 * bad_input_table.h - the bad-input tests write their own documentation.
 *
 * Every checked call becomes a row of a table (function, input, result,
 * what else happens), and rows are grouped under section headings. At the
 * end the test compares its tables with the block of docs/bad-input.md
 * between
 *     <!-- bad-input table: NAME -->   and   <!-- end of bad-input table -->
 * and fails if they differ, so the documentation says exactly what the
 * tests assert. With --markdown the test prints the block instead, to
 * paste into the file after a deliberate change; "-" compares nothing.
 *
 * Rows are recorded with the expected result, and only once: a check run
 * in a loop (every backend, every damaged header) is one row, and fails
 * the test if any iteration disagrees.
 */
#ifndef CARVE_BAD_INPUT_TABLE_H
#define CARVE_BAD_INPUT_TABLE_H

#include "carve_test.h"

#include <stdarg.h>

typedef struct bad_row {
    char *section; /* a heading, or NULL for a row of the table below it */
    char *function;
    char *input;
    char *result;
    char *effect;
} bad_row;

static bad_row *bad_rows;
static size_t bad_row_count, bad_row_capacity;

static inline char *bad_strdup(const char *text)
{
    size_t n = strlen(text) + 1;
    char *copy = malloc(n);
    if (copy == NULL) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    return memcpy(copy, text, n);
}

static inline int bad_same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) ||
           (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static inline void bad_push(const char *section, const char *function,
                            const char *input, const char *result,
                            const char *effect)
{
    size_t i;
    bad_row *row;
    for (i = 0; section == NULL && i < bad_row_count; ++i) {
        row = &bad_rows[i];
        if (row->section == NULL && bad_same(row->function, function) &&
            bad_same(row->input, input) && bad_same(row->result, result) &&
            bad_same(row->effect, effect))
            return;
    }
    if (bad_row_count == bad_row_capacity) {
        bad_row_capacity = bad_row_capacity ? 2 * bad_row_capacity : 64;
        bad_rows = realloc(bad_rows, bad_row_capacity * sizeof *bad_rows);
        if (bad_rows == NULL) {
            fprintf(stderr, "out of host memory\n");
            exit(1);
        }
    }
    row = &bad_rows[bad_row_count++];
    row->section = section ? bad_strdup(section) : NULL;
    row->function = function ? bad_strdup(function) : NULL;
    row->input = input ? bad_strdup(input) : NULL;
    row->result = result ? bad_strdup(result) : NULL;
    row->effect = effect ? bad_strdup(effect) : NULL;
}

/* Starts a new table under `title`. */
static inline void bad_section(const char *title)
{
    bad_push(title, NULL, NULL, NULL, NULL);
}

/* A row for the call written as `call_text` (the function is its name up
 * to the parenthesis). */
static inline void bad_row_add(const char *call_text, const char *input,
                               const char *result, const char *effect)
{
    char function[96];
    size_t n = strcspn(call_text, "(");
    if (n >= sizeof function)
        n = sizeof function - 1;
    memcpy(function, call_text, n);
    function[n] = '\0';
    bad_push(NULL, function, input, result, effect);
}

/* "CARVE_ERROR_X" from carve_status_string's "CARVE_ERROR_X: message". */
static inline void bad_status_name(carve_status status, char *buf, size_t size)
{
    const char *text = carve_status_string(status);
    size_t n = strcspn(text, ":");
    if (strcmp(text, "unknown status") == 0) {
        snprintf(buf, size, "status %d", (int)status);
        return;
    }
    snprintf(buf, size, "%.*s", (int)n, text);
}

static inline void bad_fail(const char *file, int line, const char *call,
                            const char *format, ...)
{
    va_list args;
    fprintf(stderr, "%s:%d: %s: ", file, line, call);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    ++carve_test_failures;
}

/* Fails the test if `got` is not `expected`, saying where the status came
 * from (`source`: "gave", "left carve_zc_last_status() at"); `want`
 * receives the expected status's name. */
static inline void bad_compare(const char *file, int line, const char *call,
                               const char *input, const char *source,
                               carve_status expected, carve_status got,
                               char *want, size_t size)
{
    char have[64];
    bad_status_name(expected, want, size);
    if (got != expected) {
        bad_status_name(got, have, sizeof have);
        bad_fail(file, line, call, "%s %s, expected %s (%s)", source, have,
                 want, input);
    }
}

/* A call that returns a status. */
static inline void bad_check_status(const char *file, int line,
                                    const char *call, const char *input,
                                    const char *effect, carve_status expected,
                                    carve_status got)
{
    char want[64], result[80];
    bad_compare(file, line, call, input, "gave", expected, got, want,
                sizeof want);
    snprintf(result, sizeof result, "`%s`", want);
    bad_row_add(call, input, result, effect);
}

/* A call whose status is OpenCL's own for the same mistake (computed by
 * the test from a direct OpenCL call), described as `result`. */
static inline void bad_check_passed_on(const char *file, int line,
                                       const char *call, const char *input,
                                       const char *result, const char *effect,
                                       carve_status expected, carve_status got)
{
    char want[64];
    bad_compare(file, line, call, input, "gave", expected, got, want,
                sizeof want);
    if (expected == CARVE_SUCCESS)
        bad_fail(file, line, call, "OpenCL accepted the mistake (%s)", input);
    bad_row_add(call, input, result, effect);
}

/* A call whose outcome `last_name()` tells (carve_ti_last_status after a
 * void call, carve_zc_last_status after a NULL); `prefix` starts the
 * result ("`NULL`, " or ""). */
static inline void bad_check_last(const char *file, int line, const char *call,
                                  const char *input, const char *effect,
                                  const char *prefix, const char *last_name,
                                  carve_status expected, carve_status got)
{
    char want[64], source[96], result[160];
    snprintf(source, sizeof source, "left %s() at", last_name);
    bad_compare(file, line, call, input, source, expected, got, want,
                sizeof want);
    snprintf(result, sizeof result, "%s`%s()` gives `%s`", prefix, last_name,
             want);
    bad_row_add(call, input, result, effect);
}

/* A call that returns a pointer and must return NULL; with `last` (e.g.
 * carve_zc_last_status), that must then give `expected`. */
static inline void bad_check_null(const char *file, int line, const char *call,
                                  const char *input, const char *effect,
                                  const void *got, const char *last_name,
                                  carve_status (*last)(void),
                                  carve_status expected)
{
    if (got != NULL)
        bad_fail(file, line, call, "returned %p, expected NULL (%s)", got,
                 input);
    if (last == NULL)
        bad_row_add(call, input, "`NULL`", effect);
    else
        bad_check_last(file, line, call, input, effect, "`NULL`, ", last_name,
                       expected, last());
}

/* A call that returns text. */
static inline void bad_check_text(const char *file, int line, const char *call,
                                  const char *input, const char *effect,
                                  const char *expected, const char *got)
{
    char result[128];
    if (got == NULL || strcmp(got, expected) != 0)
        bad_fail(file, line, call, "gave \"%s\", expected \"%s\" (%s)",
                 got ? got : "(NULL)", expected, input);
    snprintf(result, sizeof result, "`\"%s\"`", expected);
    bad_row_add(call, input, result, effect);
}

/* A call that returns an int. */
static inline void bad_check_int(const char *file, int line, const char *call,
                                 const char *input, const char *effect,
                                 long expected, long got)
{
    char result[48];
    if (got != expected)
        bad_fail(file, line, call, "gave %ld, expected %ld (%s)", got,
                 expected, input);
    snprintf(result, sizeof result, "`%ld`", expected);
    bad_row_add(call, input, result, effect);
}

#define BAD_STATUS(input, expected, effect, call)                             \
    bad_check_status(__FILE__, __LINE__, #call, (input), (effect),            \
                     (expected), (call))
#define BAD_PASSED_ON(input, result, expected, effect, call)                  \
    bad_check_passed_on(__FILE__, __LINE__, #call, (input), (result),         \
                        (effect), (expected), (call))
#define BAD_NULL(input, effect, call)                                         \
    bad_check_null(__FILE__, __LINE__, #call, (input), (effect), (call), NULL, \
                   NULL, 0)
#define BAD_NULL_LAST(input, last, expected, effect, call)                    \
    bad_check_null(__FILE__, __LINE__, #call, (input), (effect), (call),      \
                   #last, last, (expected))
#define BAD_TEXT(input, expected, effect, call)                               \
    bad_check_text(__FILE__, __LINE__, #call, (input), (effect), (expected),  \
                   (call))
#define BAD_INT(input, expected, effect, call)                                \
    bad_check_int(__FILE__, __LINE__, #call, (input), (effect), (expected),   \
                  (long)(call))
#define BAD_VOID_LAST(input, last, expected, effect, call)                    \
    do {                                                                      \
        call;                                                                 \
        bad_check_last(__FILE__, __LINE__, #call, (input), (effect), "",      \
                       #last, (expected), last());                            \
    } while (0)
/* A void call: runs it and records `result` (checked by the caller). */
#define BAD_VOID(input, result, effect, call)                                 \
    do {                                                                      \
        call;                                                                 \
        bad_row_add(#call, (input), (result), (effect));                      \
    } while (0)

/* The same for a call spelt as a macro: one more level of expansion, so
 * that the row names the function, not the macro. */
#define BAD_STATUS_OF(input, expected, effect, call)                          \
    BAD_STATUS(input, expected, effect, call)
#define BAD_PASSED_ON_OF(input, result, expected, effect, call)               \
    BAD_PASSED_ON(input, result, expected, effect, call)

/* Writes text with '|' escaped, as a table cell needs. */
static inline void bad_put_cell(FILE *out, const char *text)
{
    for (; *text != '\0'; ++text) {
        if (*text == '|')
            fputc('\\', out);
        fputc(*text, out);
    }
}

static inline void bad_write_tables(FILE *out, const char *name)
{
    size_t i;
    fprintf(out, "<!-- bad-input table: %s -->\n", name);
    for (i = 0; i < bad_row_count; ++i) {
        const bad_row *row = &bad_rows[i];
        if (row->section != NULL) {
            fprintf(out, "\n#### %s\n\n", row->section);
            fputs("| function | input | result | what else happens |\n", out);
            fputs("| --- | --- | --- | --- |\n", out);
            continue;
        }
        fputs("| `", out);
        bad_put_cell(out, row->function);
        fputs("` | ", out);
        bad_put_cell(out, row->input);
        fputs(" | ", out);
        bad_put_cell(out, row->result);
        fputs(" | ", out);
        bad_put_cell(out, row->effect);
        fputs(" |\n", out);
    }
    fputs("\n<!-- end of bad-input table -->\n", out);
}

/* The block of `path` that starts at the marker for `name`, through the
 * end marker; malloc'd, or NULL if there is none. */
static inline char *bad_docs_block(const char *path, const char *name)
{
    FILE *in = fopen(path, "rb");
    char marker[128], *text, *start, *end;
    long size;
    if (in == NULL || fseek(in, 0, SEEK_END) != 0 || (size = ftell(in)) < 0 ||
        fseek(in, 0, SEEK_SET) != 0) {
        if (in != NULL)
            fclose(in);
        return NULL;
    }
    text = malloc((size_t)size + 1);
    if (text == NULL || fread(text, 1, (size_t)size, in) != (size_t)size) {
        free(text);
        fclose(in);
        return NULL;
    }
    fclose(in);
    text[size] = '\0';
    snprintf(marker, sizeof marker, "<!-- bad-input table: %s -->", name);
    start = strstr(text, marker);
    end = start ? strstr(start, "<!-- end of bad-input table -->") : NULL;
    if (end == NULL) {
        free(text);
        return NULL;
    }
    end += strlen("<!-- end of bad-input table -->\n");
    if (end > text + size)
        end = text + size;
    memmove(text, start, (size_t)(end - start));
    text[end - start] = '\0';
    return text;
}

/* Ends the test: with --markdown prints the tables; with a path, fails
 * unless that file holds exactly these tables. Returns the exit code. */
static inline int bad_finish(int argc, char **argv, const char *name)
{
    char *expected = NULL, *documented;
    size_t size = 0, line = 1, i;
    FILE *out;
    int result;
    int markdown = argc > 1 && strcmp(argv[1], "--markdown") == 0;
    if (markdown)
        bad_write_tables(stdout, name);
    if (argc > 1 && !markdown && strcmp(argv[1], "-") != 0) {
        out = open_memstream(&expected, &size);
        if (out == NULL) {
            fprintf(stderr, "open_memstream failed\n");
            return 1;
        }
        bad_write_tables(out, name);
        fclose(out);
        documented = bad_docs_block(argv[1], name);
        if (documented == NULL) {
            fprintf(stderr, "%s: no block for '%s' between the markers\n",
                    argv[1], name);
            ++carve_test_failures;
        } else if (strcmp(documented, expected) != 0) {
            for (i = 0; documented[i] != '\0' && documented[i] == expected[i];
                 ++i)
                line += documented[i] == '\n';
            fprintf(stderr,
                    "%s disagrees with the cases this test checked, at line "
                    "%zu of the '%s' block; if the change is meant, replace "
                    "the block with the output of: %s --markdown\n",
                    argv[1], line, name, argv[0]);
            ++carve_test_failures;
        }
        free(documented);
        free(expected);
    }
    for (i = 0; i < bad_row_count; ++i) {
        free(bad_rows[i].section);
        free(bad_rows[i].function);
        free(bad_rows[i].input);
        free(bad_rows[i].result);
        free(bad_rows[i].effect);
    }
    free(bad_rows);
    if (markdown)
        return carve_test_failures == 0 ? 0 : 1;
    result = carve_test_finish(name);
    return result;
}

#endif /* CARVE_BAD_INPUT_TABLE_H */
