/*
 * diag_fixture.h - what the diagnostics' host tests share on top of
 * core_fixture.h (images in plain memory, on which the shared allocator
 * front of carve_alloc.h, the code kernels run, is called at made-up call
 * sites): plan parameters, sites, printing into a string and checking it.
 */
#ifndef DIAG_FIXTURE_H
#define DIAG_FIXTURE_H

#include "core_fixture.h"
#include "json_check.h"

#include <carve/diagnostics.h>

static inline carve_plan_params diag_params(uint32_t arenas,
                                            uint64_t arena_bytes)
{
    carve_plan_params p;
    memset(&p, 0, sizeof p);
    p.arena_count = arenas;
    p.arena_bytes = arena_bytes;
    return p;
}

/* The offset of a pointer into the image. */
static inline uint32_t diag_offset(const core_fixture *f, const void *p)
{
    return (uint32_t)((const unsigned char *)p - f->image);
}

/* A site as kernels make them: file id << 20 | line. */
#define DIAG_SITE(file, line) ((uint32_t)(file) << 20 | (uint32_t)(line))

/* Printing into a string: begin, print to the FILE, end (free() it). */
static inline FILE *diag_capture_begin(void)
{
    FILE *f = tmpfile();
    if (f == NULL) {
        fprintf(stderr, "tmpfile failed\n");
        exit(1);
    }
    return f;
}

static inline char *diag_capture_end(FILE *f)
{
    long size;
    char *text;
    fflush(f);
    size = ftell(f);
    rewind(f);
    text = malloc((size_t)size + 1);
    if (text == NULL || fread(text, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "reading back printed text failed\n");
        exit(1);
    }
    text[size] = '\0';
    fclose(f);
    return text;
}

/* Expects `needle` in `text`, saying which when it is not. */
#define EXPECT_CONTAINS(text, needle)                                         \
    do {                                                                      \
        if (strstr((text), (needle)) == NULL) {                               \
            fprintf(stderr, "%s:%d: expected the output to contain \"%s\"\n", \
                    __FILE__, __LINE__, (needle));                            \
            ++carve_test_failures;                                            \
        }                                                                     \
    } while (0)

/* Expects the JSON value at a path to be `want` (as written in JSON). */
#define EXPECT_JSON(flat, want, ...)                                          \
    do {                                                                      \
        const char *got_ = json_at((flat), __VA_ARGS__);                      \
        if (strcmp(got_, (want)) != 0) {                                      \
            fprintf(stderr, "%s:%d: JSON value is '%s', expected '%s'\n",     \
                    __FILE__, __LINE__, got_, (want));                        \
            ++carve_test_failures;                                            \
        }                                                                     \
    } while (0)

#endif /* DIAG_FIXTURE_H */
