/*
 * carve_internal.h - declarations shared by the host library's sources.
 * Not installed. Names shared across files carry the carve__ marker.
 */
#ifndef CARVE_INTERNAL_H
#define CARVE_INTERNAL_H

#include "carve/carve.h"
/* The allocator's code, which the library runs on the host (walks,
 * checks, layouts); users' files never see it. */
#include "carve_alloc.h"


/* Embedded device sources, generated at build time from kernels/. */
typedef struct carve__embedded_file {
    const char *name;
    const unsigned char *bytes;
    size_t length;
} carve__embedded_file;

extern const carve__embedded_file carve__embedded_files[];
extern const size_t carve__embedded_file_count;

/* snprintf into a fixed buffer; truncation is fine for messages. */
void carve__message(char *buf, size_t size, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Human-readable byte count ("1.5 MiB") into buf. */
const char *carve__bytes_text(uint64_t bytes, char *buf, size_t size);

/* The header of an image, if mem holds a valid one, else NULL. */
const carve_set_header *carve__header(const void *mem);

/* What a function taking an image says of `mem`: INVALID_ARGUMENT when it
 * is NULL or not 4-byte aligned, CORRUPT_SET when its header is invalid,
 * else SUCCESS with the header in *header. */
carve_status carve__image(const void *mem, const carve_set_header **header);

/* carve_heap_check of the image's heap with the reservations the state
 * entries hold (carve_heap.h): r->broken says what it found (OK, also
 * with no heap). Fails with CORRUPT_SET, or OUT_OF_HOST_MEMORY for the
 * table of holds (4 bytes a page). O(arenas + heap pages x bitmap
 * words). */
carve_status carve__heap_check(const void *mem, carve_heap_report *r);

/* Makes the image at mem hold the launch's arenas from first_arena on (a
 * slice of a split launch): CORRUPT_SET for an invalid header,
 * INVALID_ARGUMENT when the last index would pass 32 bits. Resets keep it. */
carve_status carve__layout_place(void *mem, uint32_t first_arena);
/* carve__layout_place on a set's image (the host owns a new set), also
 * kept by the set so that carve_set_run launches it where it belongs. */
carve_status carve__set_place(carve_set *set, uint32_t first_arena);

/* A set's image is an allocation of its region that only the set may free
 * (host/set.c). Marks the live allocation at ptr so; INVALID_ARGUMENT if
 * there is none. From then on carve_zc_free and carve_zc_realloc refuse it
 * (INVALID_ARGUMENT) and carve__zc_free_set_memory frees it, refusing any
 * other allocation. Thread-safe, like the carve_zc_* calls. */
carve_status carve__zc_reserve_for_set(void *ptr);
carve_status carve__zc_free_set_memory(carve_region *region, void *ptr);
/* carve_zc_to_device and carve_zc_to_host of a set's image, which those
 * refuse (INVALID_ARGUMENT): only the set hands itself over. */
carve_status carve__zc_set_to_device(void *ptr);
/* carve_zc_set_arg for a set's memory. */
carve_status carve__zc_bind_set(cl_kernel kernel, cl_uint index, void *ptr);
carve_status carve__zc_set_to_host(void *ptr, cl_uint num_events,
                                   const cl_event *events);

/* Runs the zero-copy probe of `region` on another device of its context
 * (host/region/probe.c): *zero_copy is 1 when that device worked on the
 * region's own pages at the address the region's device saw. Leaves the
 * region's pool as new, so call it before allocating. */
carve_status carve__region_probe_device(carve_region *region,
                                        cl_device_id device, int *zero_copy);
/* CL_DEVICE_MEM_BASE_ADDR_ALIGN, at least a region's minimum alignment
 * (host/region/region.c). */
uint64_t carve__device_base_alignment(cl_device_id device);

#endif /* CARVE_INTERNAL_H */
