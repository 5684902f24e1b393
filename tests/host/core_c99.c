/*
 * core_c99.c - the allocator (core, heap and the calls kernels make) must
 * stay in the common subset of C99 and OpenCL C: this file builds it as
 * strict ISO C99 (-std=c99 -pedantic, see CMakeLists.txt) and runs a few
 * calls, independently of the library.
 */
#include "carve_calls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    /* A hand-made header: 1 arena of 16 granules, state right after it. */
    static unsigned char image[4096] __attribute__((aligned(128)));
    carve_set_header *h = (carve_set_header *)image;
    carve_arena a;
    carve_core_report r;
    void *p;
    memset(image, 0, sizeof image);
    h->magic = CARVE_SET_MAGIC;
    h->version = CARVE_SET_VERSION;
    h->header_bytes = sizeof *h;
    h->arena_count = 1;
    h->arena_granules = 16;
    h->class_count = carve_core_class_count(16);
    h->class_words = 1;
    h->bitmap_words = 1;
    h->state_offset = 128;
    h->state_stride = carve_core_state_stride(16, 0u);
    h->arenas_offset = 1024;
    h->arena_stride = 256;
    h->total_bytes = 1024 + 256;
    a = carve_core_open(image, 0);
    p = carve_malloc(&a, 40);
    p = carve_realloc(&a, p, 100);
    carve_free(&a, carve_calloc(&a, 2, 8));
    carve_free(&a, p);
    if (carve_core_check(&a, &r) != CARVE_CHECK_OK || a.state->bump != 0) {
        fprintf(stderr, "core_c99: invariant %u broken\n", r.broken);
        return 1;
    }
    puts("core_c99: the core builds and runs as ISO C99");
    return 0;
}
