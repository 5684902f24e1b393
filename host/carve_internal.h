/*
 * carve_internal.h - declarations shared by the host library's sources.
 * Not installed. Names shared across files carry the carve__ marker.
 */
#ifndef CARVE_INTERNAL_H
#define CARVE_INTERNAL_H

#include "carve/carve.h"


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

#endif /* CARVE_INTERNAL_H */
