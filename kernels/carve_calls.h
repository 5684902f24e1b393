/*
 * carve_calls.h - the calls a kernel makes (carve_malloc, carve_free, ...),
 * as macros over carve_alloc.h that capture the call site. carve.clh
 * brings them to kernels; the host's tests and fuzzers include this file
 * to call exactly what kernels call. Shared by host and device like
 * carve_core.h.
 */
#ifndef CARVE_CALLS_H
#define CARVE_CALLS_H

#include "carve_alloc.h"

#ifndef CARVE_FILE_ID
#define CARVE_FILE_ID 0
#endif
#define CARVE_SITE                                                            \
    ((((carve_u32)(CARVE_FILE_ID) & 15u) << 20) |                             \
     ((carve_u32)__LINE__ & 0xfffffu))

#define carve_arena_open(carved, index) carve_core_open((carved), (index))
#define carve_arena_close(a) carve_alloc_close(a)

/* The site is captured here, at the caller's line. */
#define carve_malloc(a, n) \
    carve_alloc_malloc((a), (n), CARVE_DEFAULT_ALIGN, CARVE_SITE)
#define carve_malloc_aligned(a, n, align) \
    carve_alloc_malloc((a), (n), (align), CARVE_SITE)
#define carve_calloc(a, count, size) \
    carve_alloc_calloc((a), (count), (size), CARVE_SITE)
#define carve_realloc(a, p, n) carve_alloc_realloc((a), (p), (n), CARVE_SITE)
#define carve_free(a, p) carve_alloc_free((a), (p), CARVE_SITE)
#define carve_usable_size(a, p) carve_alloc_usable_size((a), (p), CARVE_SITE)

#define carve_offset(a, p) carve_core_offset((a), (p))
#define carve_pointer(a, offset) carve_core_pointer((a), (offset))
/* The root is one offset per arena that the host can read back directly. */
#define carve_set_root(a, p) carve_core_set_root((a), (p))

#endif /* CARVE_CALLS_H */
