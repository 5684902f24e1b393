/* events.c - event logs: taken from an image, saved to and read from files,
 * and replayed into statistics.
 *
 * File format, version 1 (every integer a little-endian uint32):
 *   0  "CARVELOG" (8 bytes)
 *   8  version, header_bytes (80)
 *  16  options, arena_count, arena_bytes, arenas_offset, arena_stride,
 *      large_bytes, heap_offset, heap_pages, heap_page_bytes, total_bytes,
 *      error_capacity, event_capacity, events_seen, events_kept,
 *      arena_records
 *  76  checksum: FNV-1a of every byte of the file but these four
 *  80  events_kept records: kind_site, arena, offset, bytes
 *      arena_records records: footprint_bytes, in_use_bytes, failed_count,
 *      heap_allocs
 * The size is exactly 80 + 16 x (events_kept + arena_records).
 */
#include "diag_output.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "fault.h" /* last: test builds wrap the calls above */

#define LOG_MAGIC "CARVELOG"
#define LOG_VERSION 1u
#define LOG_HEADER_BYTES 80u
#define LOG_INFO_WORDS 15u
#define LOG_CHECKSUM_AT 76u
#define LOG_RECORD_BYTES 16u
#define DEFAULT_PAGE_BYTES 4096u

/* ---- one allocation per log ---------------------------------------------------- */

static carve_event_log *log_alloc(uint32_t events, uint32_t arenas)
{
    size_t bytes = sizeof(carve_event_log) +
                   (size_t)events * sizeof(carve_event_record) +
                   (size_t)arenas * sizeof(carve_event_arena);
    carve_event_log *log = calloc(1, bytes);
    if (log == NULL)
        return NULL;
    log->events = (const carve_event_record *)(log + 1);
    log->arenas = arenas ? (const carve_event_arena *)(log->events + events)
                         : NULL;
    log->arena_records = arenas;
    return log;
}

void carve_event_log_release(carve_event_log *log)
{
    free(log);
}

/* ---- from an image ------------------------------------------------------------- */

carve_status carve_layout_event_log(const void *mem, carve_event_log **out)
{
    const carve_set_header *h = NULL;
    carve_event_log *log;
    carve_event_arena *arenas;
    carve_arena_stats stats;
    carve_status status;
    uint32_t kept, i;
    if (out != NULL)
        *out = NULL;
    if (out == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    status = carve__image(mem, &h);
    if (status != CARVE_SUCCESS)
        return status;
    kept = h->event_count < h->event_capacity ? h->event_count
                                              : h->event_capacity;
    log = log_alloc(kept, h->arena_count);
    if (log == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    log->info.options = h->options;
    log->info.arena_count = h->arena_count;
    log->info.arena_bytes = h->arena_granules * CARVE_GRANULE;
    log->info.arenas_offset = h->arenas_offset;
    log->info.arena_stride = h->arena_stride;
    log->info.large_bytes = h->heap_pages ? h->large_bytes : 0;
    log->info.heap_offset = h->heap_offset;
    log->info.heap_pages = h->heap_pages;
    log->info.heap_page_bytes = h->heap_page_bytes;
    log->info.total_bytes = h->total_bytes;
    log->info.error_capacity = h->error_capacity;
    log->info.event_capacity = h->event_capacity;
    log->info.events_seen = h->event_count;
    log->info.events_kept = kept;
    memcpy((void *)(uintptr_t)log->events,
           (const unsigned char *)mem + h->event_offset,
           (size_t)kept * sizeof(carve_event_record));
    arenas = (carve_event_arena *)(uintptr_t)log->arenas;
    for (i = 0; i < h->arena_count; ++i) {
        carve_layout_arena_stats(mem, i, &stats);
        arenas[i].footprint_bytes = (uint32_t)stats.peak_footprint_bytes;
        arenas[i].in_use_bytes = (uint32_t)stats.peak_in_use_bytes;
        arenas[i].failed_count = stats.failed_count;
        arenas[i].heap_allocs = stats.heap_allocs;
    }
    *out = log;
    return CARVE_SUCCESS;
}

/* ---- the file ------------------------------------------------------------------ */

static void put_u32(unsigned char *at, uint32_t v)
{
    at[0] = (unsigned char)v;
    at[1] = (unsigned char)(v >> 8);
    at[2] = (unsigned char)(v >> 16);
    at[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *at)
{
    return (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 |
           (uint32_t)at[3] << 24;
}

/* FNV-1a over the file, the checksum word left out. */
static uint32_t checksum(const unsigned char *bytes, size_t size)
{
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < size; ++i) {
        if (i >= LOG_CHECKSUM_AT && i < LOG_CHECKSUM_AT + 4)
            continue;
        h = (h ^ bytes[i]) * 16777619u;
    }
    return h;
}

/* The info fields in file order. */
static void info_words(carve_event_log_info *info, uint32_t **words)
{
    uint32_t *order[LOG_INFO_WORDS] = {
        &info->options,         &info->arena_count,    &info->arena_bytes,
        &info->arenas_offset,   &info->arena_stride,   &info->large_bytes,
        &info->heap_offset,     &info->heap_pages,     &info->heap_page_bytes,
        &info->total_bytes,     &info->error_capacity, &info->event_capacity,
        &info->events_seen,     &info->events_kept,    NULL};
    memcpy(words, order, sizeof order);
}

/* The whole file in memory. */
static unsigned char *encode(const carve_event_log *log, size_t *size)
{
    carve_event_log_info info = log->info;
    uint32_t *words[LOG_INFO_WORDS];
    unsigned char *bytes, *at;
    size_t n = (size_t)info.events_kept + log->arena_records, i;
    *size = LOG_HEADER_BYTES + n * LOG_RECORD_BYTES;
    bytes = malloc(*size);
    if (bytes == NULL)
        return NULL;
    memcpy(bytes, LOG_MAGIC, 8);
    put_u32(bytes + 8, LOG_VERSION);
    put_u32(bytes + 12, LOG_HEADER_BYTES);
    info_words(&info, words);
    for (i = 0; i + 1 < LOG_INFO_WORDS; ++i)
        put_u32(bytes + 16 + 4 * i, *words[i]);
    put_u32(bytes + 16 + 4 * i, log->arena_records);
    at = bytes + LOG_HEADER_BYTES;
    for (i = 0; i < info.events_kept; ++i, at += LOG_RECORD_BYTES) {
        put_u32(at, log->events[i].kind_site);
        put_u32(at + 4, log->events[i].arena);
        put_u32(at + 8, log->events[i].offset);
        put_u32(at + 12, log->events[i].bytes);
    }
    for (i = 0; i < log->arena_records; ++i, at += LOG_RECORD_BYTES) {
        put_u32(at, log->arenas[i].footprint_bytes);
        put_u32(at + 4, log->arenas[i].in_use_bytes);
        put_u32(at + 8, log->arenas[i].failed_count);
        put_u32(at + 12, log->arenas[i].heap_allocs);
    }
    put_u32(bytes + LOG_CHECKSUM_AT, checksum(bytes, *size));
    return bytes;
}

carve_status carve_event_log_save(const carve_event_log *log, const char *path)
{
    size_t size = 0;
    unsigned char *bytes;
    FILE *file;
    int ok;
    if (log == NULL || path == NULL || carve__event_log_fault(log) != NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    bytes = encode(log, &size);
    if (bytes == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    file = fopen(path, "wb");
    if (file == NULL) {
        free(bytes);
        return CARVE_ERROR_IO;
    }
    ok = fwrite(bytes, 1, size, file) == size;
    ok = fclose(file) == 0 && ok;
    free(bytes);
    return ok ? CARVE_SUCCESS : CARVE_ERROR_IO;
}

carve_status carve_layout_save_events(const void *mem, const char *path)
{
    carve_event_log *log = NULL;
    carve_status status;
    if (path == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    status = carve_layout_event_log(mem, &log);
    if (status == CARVE_SUCCESS)
        status = carve_event_log_save(log, path);
    carve_event_log_release(log);
    return status;
}

/* ---- reading it back ------------------------------------------------------------ */

static carve_status bad_log(char *message, size_t size, const char *format,
                            ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Says why in message (when there is one) and returns BAD_LOG. */
static carve_status bad_log(char *message, size_t size, const char *format,
                            ...)
{
    va_list args;
    if (message != NULL && size > 0) {
        va_start(args, format);
        vsnprintf(message, size, format, args);
        va_end(args);
    }
    return CARVE_ERROR_BAD_LOG;
}

static int is_power_of_two(uint32_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* Whether [offset, offset + bytes) fits in total. */
static int fits(uint64_t offset, uint64_t bytes, uint64_t total)
{
    return offset <= total && bytes <= total - offset;
}

/* The geometry a real plan could have; why not in *why. */
static const char *geometry_error(const carve_event_log_info *i)
{
    const uint32_t known = CARVE_OPTION_CHECKS | CARVE_OPTION_HEAP_FALLBACK |
                           CARVE_OPTION_EVENTS;
    if (i->options & ~known)
        return "unknown option bits";
    if (((i->options & CARVE_OPTION_EVENTS) != 0) != (i->event_capacity != 0))
        return "the event log option disagrees with its capacity";
    if (i->arena_count == 0 || i->arena_bytes == 0 ||
        i->arena_bytes % CARVE_GRANULE != 0 ||
        i->arena_bytes / CARVE_GRANULE > CARVE_MAX_ARENA_GRANULES ||
        i->arena_stride < i->arena_bytes)
        return "impossible arena geometry";
    if (!fits(i->arenas_offset, (uint64_t)i->arena_count * i->arena_stride,
              i->total_bytes))
        return "the arenas lie outside the image";
    if (i->heap_pages != 0 &&
        (!is_power_of_two(i->heap_page_bytes) ||
         i->heap_page_bytes < CARVE_HEAP_MIN_PAGE ||
         i->heap_page_bytes > CARVE_HEAP_MAX_PAGE ||
         !fits(i->heap_offset, (uint64_t)i->heap_pages * i->heap_page_bytes,
               i->total_bytes)))
        return "impossible heap geometry";
    if (i->events_kept != (i->events_seen < i->event_capacity
                               ? i->events_seen
                               : i->event_capacity))
        return "kept events disagree with events seen and the capacity";
    return NULL;
}

/* The geometry, and arena records that are none or one per arena. */
static const char *shape_error(const carve_event_log_info *info,
                               uint32_t records)
{
    const char *why = geometry_error(info);
    if (why == NULL && records != 0 && records != info->arena_count)
        why = "arena records are neither 0 nor one per arena";
    return why;
}

const char *carve__event_log_fault(const carve_event_log *log)
{
    if ((log->events == NULL && log->info.events_kept != 0) ||
        (log->arenas == NULL && log->arena_records != 0))
        return "records counted but missing";
    return shape_error(&log->info, log->arena_records);
}

static const char *arena_records_error(const carve_event_log *log)
{
    uint32_t i;
    for (i = 0; i < log->arena_records; ++i) {
        const carve_event_arena *a = &log->arenas[i];
        if (a->footprint_bytes > log->info.arena_bytes ||
            a->footprint_bytes % CARVE_GRANULE != 0 ||
            a->in_use_bytes > a->footprint_bytes ||
            a->in_use_bytes % CARVE_GRANULE != 0)
            return "an arena's statistics are impossible";
    }
    return NULL;
}

static void decode_records(const unsigned char *at, carve_event_log *log)
{
    carve_event_record *events = (carve_event_record *)(uintptr_t)log->events;
    carve_event_arena *arenas = (carve_event_arena *)(uintptr_t)log->arenas;
    uint32_t i;
    for (i = 0; i < log->info.events_kept; ++i, at += LOG_RECORD_BYTES) {
        events[i].kind_site = get_u32(at);
        events[i].arena = get_u32(at + 4);
        events[i].offset = get_u32(at + 8);
        events[i].bytes = get_u32(at + 12);
    }
    for (i = 0; i < log->arena_records; ++i, at += LOG_RECORD_BYTES) {
        arenas[i].footprint_bytes = get_u32(at);
        arenas[i].in_use_bytes = get_u32(at + 4);
        arenas[i].failed_count = get_u32(at + 8);
        arenas[i].heap_allocs = get_u32(at + 12);
    }
}

carve_status carve_event_log_read(const void *data, size_t size,
                                  carve_event_log **out, char *message,
                                  size_t message_size)
{
    const unsigned char *bytes = data;
    carve_event_log_info info;
    uint32_t *words[LOG_INFO_WORDS], records, i;
    carve_event_log *log;
    const char *why;
    uint64_t expected;
    carve__message(message, message_size, "%s", "");
    if (out != NULL)
        *out = NULL;
    if (bytes == NULL || out == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (size < 16)
        return bad_log(message, message_size,
                       "not a carve event log (%llu bytes, too few for its "
                       "magic)",
                       (unsigned long long)size);
    /* No size here: a file that is no log is read no further. */
    if (memcmp(bytes, LOG_MAGIC, 8) != 0)
        return bad_log(message, message_size,
                       "not a carve event log (no CARVELOG magic)");
    if (get_u32(bytes + 8) != LOG_VERSION)
        return bad_log(message, message_size,
                       "event log version %u; this carve reads version %u",
                       (unsigned)get_u32(bytes + 8), LOG_VERSION);
    if (size < LOG_HEADER_BYTES || get_u32(bytes + 12) != LOG_HEADER_BYTES)
        return bad_log(message, message_size,
                       "the header is cut or damaged (%llu bytes of %u)",
                       (unsigned long long)size, LOG_HEADER_BYTES);
    memset(&info, 0, sizeof info);
    info_words(&info, words);
    for (i = 0; i + 1 < LOG_INFO_WORDS; ++i)
        *words[i] = get_u32(bytes + 16 + 4 * i);
    records = get_u32(bytes + 16 + 4 * i);
    expected = LOG_HEADER_BYTES +
               LOG_RECORD_BYTES * ((uint64_t)info.events_kept + records);
    if (expected != size)
        return bad_log(message, message_size,
                       "the file has %llu bytes; its header says %llu: "
                       "truncated or damaged",
                       (unsigned long long)size,
                       (unsigned long long)expected);
    if (get_u32(bytes + LOG_CHECKSUM_AT) != checksum(bytes, size))
        return bad_log(message, message_size,
                       "checksum mismatch: the file is damaged");
    why = shape_error(&info, records);
    if (why != NULL)
        return bad_log(message, message_size, "%s", why);
    log = log_alloc(info.events_kept, records);
    if (log == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    log->info = info;
    decode_records(bytes + LOG_HEADER_BYTES, log);
    why = arena_records_error(log);
    if (why != NULL) {
        free(log);
        return bad_log(message, message_size, "%s", why);
    }
    *out = log;
    return CARVE_SUCCESS;
}

/* The most bytes worth reading from a file that starts with `header`: a
 * log's size by its header, and one byte to see a longer file; only the
 * header when it is no log. */
static uint64_t read_limit(const unsigned char *header)
{
    if (memcmp(header, LOG_MAGIC, 8) != 0 ||
        get_u32(header + 8) != LOG_VERSION ||
        get_u32(header + 12) != LOG_HEADER_BYTES)
        return LOG_HEADER_BYTES;
    return LOG_HEADER_BYTES + 1 +
           LOG_RECORD_BYTES * ((uint64_t)get_u32(header + 16 + 4 * 13) +
                               get_u32(header + 16 + 4 * 14));
}

/* Reads a log file: its header, then no more than read_limit says, so that
 * a file that never ends (/dev/zero) is not read to the end of memory.
 * SUCCESS, IO (errno says why) or OUT_OF_HOST_MEMORY. */
static carve_status read_log_file(FILE *file, unsigned char **out,
                                  size_t *size)
{
    unsigned char *bytes = NULL;
    size_t capacity = 0, got;
    uint64_t limit = LOG_HEADER_BYTES;
    int looked = 0;
    *size = 0;
    do {
        if (*size == capacity) {
            unsigned char *grown;
            capacity = capacity ? 2 * capacity : 65536;
            if (capacity > limit)
                capacity = (size_t)limit;
            grown = realloc(bytes, capacity);
            if (grown == NULL) {
                free(bytes);
                return CARVE_ERROR_OUT_OF_HOST_MEMORY;
            }
            bytes = grown;
        }
        got = fread(bytes + *size, 1, capacity - *size, file);
        *size += got;
        if (!looked && *size >= LOG_HEADER_BYTES) {
            looked = 1;
            limit = read_limit(bytes);
            if (limit > SIZE_MAX)
                limit = SIZE_MAX;
        }
    } while (got > 0 && *size < limit);
    *out = bytes;
    if (ferror(file)) {
        free(bytes);
        *out = NULL;
        return CARVE_ERROR_IO;
    }
    return CARVE_SUCCESS;
}

carve_status carve_event_log_load(const char *path, carve_event_log **out,
                                  char *message, size_t message_size)
{
    FILE *file;
    unsigned char *bytes = NULL;
    size_t size = 0;
    carve_status status;
    if (out != NULL)
        *out = NULL;
    if (path == NULL || out == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    file = fopen(path, "rb");
    if (file == NULL) {
        carve__message(message, message_size, "cannot open %s: %s", path,
                       strerror(errno));
        return CARVE_ERROR_IO;
    }
    status = read_log_file(file, &bytes, &size);
    if (status == CARVE_ERROR_IO)
        carve__message(message, message_size, "cannot read %s: %s", path,
                       strerror(errno));
    fclose(file);
    if (status == CARVE_SUCCESS)
        status = carve_event_log_read(bytes, size, out, message,
                                      message_size);
    free(bytes);
    return status;
}
