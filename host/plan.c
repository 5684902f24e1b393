/* plan.c - laying out an arena set and checking it against a device. */
#include "carve_internal.h"

#include <stdarg.h>
#include <string.h>
#include "fault.h" /* last: test builds wrap the calls above */

#define DEFAULT_ARENA_ALIGNMENT 128u
#define MIN_ARENA_ALIGNMENT CARVE_GRANULE
#define MAX_ARENA_ALIGNMENT 4096u
#define OFFSET_LIMIT 0xffffffffull
#define DEFAULT_ERROR_RECORDS 256u
#define DEFAULT_HEAP_PAGE_BYTES 4096u
#define MAX_LOG_RECORDS (1u << 26)

static int is_power_of_two(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

static uint64_t round_up(uint64_t x, uint64_t align)
{
    return (x + align - 1) & ~(align - 1);
}

/* a * b into *out; 0 on overflow. */
static int multiply(uint64_t a, uint64_t b, uint64_t *out)
{
    if (b != 0 && a > UINT64_MAX / b)
        return 0;
    *out = a * b;
    return 1;
}

static carve_status refuse(carve_plan *plan, carve_status status,
                           const char *format, uint64_t a, uint64_t b)
{
    char need[32], have[32], over[32];
    carve__bytes_text(a, need, sizeof need);
    carve__bytes_text(b, have, sizeof have);
    carve__bytes_text(a > b ? a - b : 0, over, sizeof over);
    carve__message(plan->message, sizeof plan->message, format,
                   (unsigned long long)a, need, (unsigned long long)b, have,
                   over);
    return status;
}

static carve_status count_arenas(const carve_plan_params *p, carve_plan *plan,
                                 uint64_t *count)
{
    cl_uint d;
    if (p->work_dim > 3) {
        carve__message(plan->message, sizeof plan->message,
                       "work_dim is %u; an NDRange has 1 to 3 dimensions "
                       "(0 means an explicit arena_count)",
                       (unsigned)p->work_dim);
        return CARVE_ERROR_INVALID_NDRANGE;
    }
    if (p->work_dim == 0) {
        *count = p->arena_count;
        if (*count == 0) {
            carve__message(plan->message, sizeof plan->message,
                           "no arenas: work_dim is 0 and arena_count is 0");
            return CARVE_ERROR_INVALID_NDRANGE;
        }
        return CARVE_SUCCESS;
    }
    *count = 1;
    for (d = 0; d < p->work_dim; ++d) {
        if (p->global_size[d] == 0) {
            carve__message(plan->message, sizeof plan->message,
                           "global_size[%u] is 0", (unsigned)d);
            return CARVE_ERROR_INVALID_NDRANGE;
        }
        if (!multiply(*count, p->global_size[d], count)) {
            carve__message(plan->message, sizeof plan->message,
                           "the NDRange's work-item count overflows 64 bits "
                           "at dimension %u",
                           (unsigned)d);
            return CARVE_ERROR_SIZE_OVERFLOW;
        }
    }
    return CARVE_SUCCESS;
}

static carve_status check_arena_shape(const carve_plan_params *p,
                                      const carve_device_limits *limits,
                                      carve_plan *plan, uint32_t *alignment)
{
    const uint64_t max_arena = (uint64_t)CARVE_MAX_ARENA_GRANULES * CARVE_GRANULE;
    *alignment = p->arena_alignment ? p->arena_alignment
                                    : DEFAULT_ARENA_ALIGNMENT;
    if (p->arena_bytes == 0 || p->arena_bytes > max_arena) {
        carve__message(plan->message, sizeof plan->message,
                       "arena_bytes is %llu; it must be 1 to %llu (2 GiB)",
                       (unsigned long long)p->arena_bytes,
                       (unsigned long long)max_arena);
        return CARVE_ERROR_INVALID_ARENA_SIZE;
    }
    if (!is_power_of_two(*alignment) || *alignment < MIN_ARENA_ALIGNMENT ||
        *alignment > MAX_ARENA_ALIGNMENT) {
        carve__message(plan->message, sizeof plan->message,
                       "arena_alignment is %u; it must be a power of two "
                       "from %u to %u",
                       (unsigned)*alignment, MIN_ARENA_ALIGNMENT,
                       MAX_ARENA_ALIGNMENT);
        return CARVE_ERROR_INVALID_ALIGNMENT;
    }
    if (limits->base_addr_align < *alignment) {
        carve__message(plan->message, sizeof plan->message,
                       "arenas start every %u bytes, but the device aligns "
                       "buffers only to %u bytes (CL_DEVICE_MEM_BASE_ADDR_"
                       "ALIGN): %u bytes short; lower arena_alignment",
                       (unsigned)*alignment, (unsigned)limits->base_addr_align,
                       (unsigned)(*alignment - limits->base_addr_align));
        return CARVE_ERROR_BASE_ALIGNMENT;
    }
    return CARVE_SUCCESS;
}

static carve_status check_options(const carve_plan_params *p,
                                  const carve_device_limits *limits,
                                  carve_plan *plan)
{
    const uint32_t known =
        CARVE_PLAN_CHECKS | CARVE_PLAN_HEAP_FALLBACK | CARVE_PLAN_SMALL_RUNS;
    uint32_t page = p->heap_page_bytes ? p->heap_page_bytes
                                       : DEFAULT_HEAP_PAGE_BYTES;
    if (p->options & ~known) {
        carve__message(plan->message, sizeof plan->message,
                       "options has unknown bits %#x (known: CARVE_PLAN_CHECKS, "
                       "CARVE_PLAN_HEAP_FALLBACK, CARVE_PLAN_SMALL_RUNS)",
                       (unsigned)(p->options & ~known));
        return CARVE_ERROR_INVALID_OPTION;
    }
    if (p->error_log_records > MAX_LOG_RECORDS ||
        p->event_log_records > MAX_LOG_RECORDS) {
        carve__message(plan->message, sizeof plan->message,
                       "a log of %u records is asked for; at most %u",
                       (unsigned)(p->error_log_records > p->event_log_records
                                      ? p->error_log_records
                                      : p->event_log_records),
                       (unsigned)MAX_LOG_RECORDS);
        return CARVE_ERROR_INVALID_OPTION;
    }
    if (p->heap_bytes == 0) {
        if (p->options & CARVE_PLAN_HEAP_FALLBACK) {
            carve__message(plan->message, sizeof plan->message,
                           "CARVE_PLAN_HEAP_FALLBACK needs a heap, but "
                           "heap_bytes is 0");
            return CARVE_ERROR_INVALID_HEAP;
        }
        return CARVE_SUCCESS;
    }
    if (!is_power_of_two(page) || page < CARVE_HEAP_MIN_PAGE ||
        page > CARVE_HEAP_MAX_PAGE) {
        carve__message(plan->message, sizeof plan->message,
                       "heap_page_bytes is %u; it must be a power of two from "
                       "%u to %u",
                       (unsigned)page, CARVE_HEAP_MIN_PAGE,
                       CARVE_HEAP_MAX_PAGE);
        return CARVE_ERROR_INVALID_HEAP;
    }
    if (limits->base_addr_align < CARVE_MAX_ALIGN) {
        carve__message(plan->message, sizeof plan->message,
                       "the heap aligns blocks to up to %u bytes, but the "
                       "device aligns buffers only to %u bytes "
                       "(CL_DEVICE_MEM_BASE_ADDR_ALIGN): %u bytes short",
                       CARVE_MAX_ALIGN, (unsigned)limits->base_addr_align,
                       (unsigned)(CARVE_MAX_ALIGN - limits->base_addr_align));
        return CARVE_ERROR_BASE_ALIGNMENT;
    }
    return CARVE_SUCCESS;
}

/* *at = round_up(*at, align) + bytes, failing on 64-bit overflow; returns
 * where the part starts. */
static uint64_t place(uint64_t *at, uint64_t align, uint64_t bytes, int *ok)
{
    uint64_t start = round_up(*at, align);
    if (start < *at || start + bytes < start)
        *ok = 0;
    *at = start + bytes;
    return start;
}

static uint32_t clip(uint64_t offset)
{
    return (uint32_t)(offset > OFFSET_LIMIT ? OFFSET_LIMIT : offset);
}

/* The shared heap's geometry (pages, page table, hint bitmaps). */
static void size_heap(const carve_plan_params *p, carve_plan *plan)
{
    uint64_t page, pages;
    if (p->heap_bytes == 0)
        return;
    page = p->heap_page_bytes ? p->heap_page_bytes : DEFAULT_HEAP_PAGE_BYTES;
    pages = p->heap_bytes / page + (p->heap_bytes % page != 0);
    /* More than 4 GiB fails the offset check; keep the fields sane. */
    if (pages > OFFSET_LIMIT / page)
        pages = OFFSET_LIMIT / page;
    plan->heap_page_bytes = (uint32_t)page;
    plan->heap_pages = (uint32_t)pages;
    plan->heap_bytes = p->heap_bytes > pages * page ? p->heap_bytes
                                                    : pages * page;
    plan->heap_meta_stride = 4 * carve_heap_meta_words((uint32_t)page);
    plan->heap_class_count = carve_heap_class_count((uint32_t)page);
    plan->heap_map_words = (uint32_t)((pages + 31) / 32);
    plan->heap_meta_bytes =
        pages * plan->heap_meta_stride +
        4ull * plan->heap_map_words * (1 + plan->heap_class_count);
    plan->large_bytes = p->large_request_bytes
                            ? p->large_request_bytes
                            : plan->arena_bytes / 4 + 1;
}

/* Sizes and offsets of the parts: header, state table, error log, event
 * log, heap tables, arenas, heap pages. Fails only on 64-bit overflow. */
static carve_status size_parts(const carve_plan_params *p, carve_plan *plan,
                               uint64_t count, uint64_t arena_bytes)
{
    uint64_t at, arenas_offset, heap_offset, meta_offset, map_offset;
    uint64_t error_offset, event_offset;
    int ok = 1;
    plan->arena_granules = (uint32_t)(arena_bytes / CARVE_GRANULE);
    plan->arena_bytes = (uint32_t)arena_bytes;
    plan->class_count = carve_core_class_count(plan->arena_granules);
    plan->class_words = (plan->class_count + 31) / 32;
    plan->bitmap_words = (plan->arena_granules + 31) / 32;
    plan->header_bytes = (uint32_t)sizeof(carve_set_header);
    plan->state_offset = plan->header_bytes;
    plan->error_capacity = p->error_log_records ? p->error_log_records
                                                : DEFAULT_ERROR_RECORDS;
    plan->event_capacity = p->event_log_records;
    plan->options = p->options |
                    (plan->event_capacity ? CARVE_OPTION_EVENTS : 0u);
    plan->state_stride =
        carve_core_state_stride(plan->arena_granules, plan->options);
    if (!multiply(count, plan->state_stride, &plan->state_bytes) ||
        !multiply(count, arena_bytes, &plan->arenas_bytes)) {
        carve__message(plan->message, sizeof plan->message,
                       "%llu arenas of %llu bytes overflow 64 bits",
                       (unsigned long long)count,
                       (unsigned long long)arena_bytes);
        return CARVE_ERROR_SIZE_OVERFLOW;
    }
    size_heap(p, plan);
    at = plan->state_offset + plan->state_bytes;
    ok = at >= plan->state_bytes;
    error_offset = place(&at, CARVE_GRANULE,
                         (uint64_t)plan->error_capacity *
                             sizeof(carve_error_record), &ok);
    event_offset = place(&at, CARVE_GRANULE,
                         (uint64_t)plan->event_capacity *
                             sizeof(carve_event_record), &ok);
    meta_offset = place(&at, CARVE_GRANULE,
                        (uint64_t)plan->heap_pages * plan->heap_meta_stride,
                        &ok);
    map_offset = place(&at, CARVE_GRANULE,
                       plan->heap_meta_bytes -
                           (uint64_t)plan->heap_pages * plan->heap_meta_stride,
                       &ok);
    arenas_offset = place(&at, plan->arena_alignment, plan->arenas_bytes, &ok);
    /* The heap asked for, not the pages size_heap clipped it to: a heap
     * beyond 32-bit offsets must fail the offset check, not shrink. */
    heap_offset = place(&at, CARVE_MAX_ALIGN, plan->heap_bytes, &ok);
    if (!ok) {
        carve__message(plan->message, sizeof plan->message,
                       "the buffer size overflows 64 bits");
        return CARVE_ERROR_SIZE_OVERFLOW;
    }
    plan->error_offset = clip(error_offset);
    plan->event_offset = plan->event_capacity ? clip(event_offset) : 0;
    plan->heap_meta_offset = plan->heap_pages ? clip(meta_offset) : 0;
    plan->heap_map_offset = plan->heap_pages ? clip(map_offset) : 0;
    plan->arenas_offset = clip(arenas_offset);
    plan->heap_offset = plan->heap_pages ? clip(heap_offset) : 0;
    plan->total_bytes = at;
    return CARVE_SUCCESS;
}

static carve_status check_device_fit(carve_plan *plan)
{
    const carve_device_limits *l = &plan->limits;
    if (plan->total_bytes > OFFSET_LIMIT)
        return refuse(plan, CARVE_ERROR_OFFSET_LIMIT,
                      "the buffer needs %llu bytes (%s) but 32-bit offsets "
                      "reach %llu bytes (%s): %s too much",
                      plan->total_bytes, OFFSET_LIMIT);
    if (plan->total_bytes > l->max_mem_alloc_size)
        return refuse(plan, CARVE_ERROR_EXCEEDS_MAX_ALLOC,
                      "the buffer needs %llu bytes (%s) but "
                      "CL_DEVICE_MAX_MEM_ALLOC_SIZE is %llu bytes (%s): %s "
                      "too much",
                      plan->total_bytes, l->max_mem_alloc_size);
    if (plan->total_bytes > l->global_mem_size)
        return refuse(plan, CARVE_ERROR_EXCEEDS_GLOBAL_MEM,
                      "the buffer needs %llu bytes (%s) but "
                      "CL_DEVICE_GLOBAL_MEM_SIZE is %llu bytes (%s): %s too "
                      "much",
                      plan->total_bytes, l->global_mem_size);
    return CARVE_SUCCESS;
}

/* The most bytes a buffer may take on the plan's device. */
static uint64_t buffer_limit(const carve_plan *plan)
{
    uint64_t most = OFFSET_LIMIT;
    if (plan->limits.max_mem_alloc_size < most)
        most = plan->limits.max_mem_alloc_size;
    if (plan->limits.global_mem_size < most)
        most = plan->limits.global_mem_size;
    return most;
}

/* Whether `count` arenas of `arena_bytes` (with the rest of the plan's
 * parts) fit the device. */
static int fits(const carve_plan_params *params, const carve_plan *plan,
                uint64_t count, uint64_t arena_bytes)
{
    carve_plan scratch = *plan;
    return size_parts(params, &scratch, count, arena_bytes) == CARVE_SUCCESS &&
           scratch.total_bytes <= buffer_limit(plan);
}

/* A plan too big for its device: the message also says what would fit,
 * the largest arena for this many work-items and the most work-items for
 * this arena size (each found by bisection: O(log size) layouts). */
static void say_what_fits(const carve_plan_params *params, carve_plan *plan,
                          uint64_t count, uint64_t arena_bytes)
{
    uint64_t step = plan->arena_alignment, lo = 0, hi = arena_bytes / step;
    uint64_t few = 0, many = count, mid;
    size_t used = strlen(plan->message);
    char size[32];
    while (lo < hi) { /* the most alignment units that fit */
        mid = lo + (hi - lo + 1) / 2;
        if (fits(params, plan, count, mid * step))
            lo = mid;
        else
            hi = mid - 1;
    }
    while (few < many) { /* the most arenas of arena_bytes that fit */
        mid = few + (many - few + 1) / 2;
        if (fits(params, plan, mid, arena_bytes))
            few = mid;
        else
            many = mid - 1;
    }
    carve__bytes_text(lo * step, size, sizeof size);
    if (lo == 0)
        carve__message(plan->message + used, sizeof plan->message - used,
                       "; no arena fits %llu work-items on this device",
                       (unsigned long long)count);
    else
        carve__message(plan->message + used, sizeof plan->message - used,
                       "; what fits: arenas of at most %llu bytes (%s) for "
                       "these %llu work-items",
                       (unsigned long long)(lo * step), size,
                       (unsigned long long)count);
    used = strlen(plan->message);
    carve__message(plan->message + used, sizeof plan->message - used,
                   ", or at most %llu work-items with arenas of this size",
                   (unsigned long long)few);
}

carve_status carve_plan_compute(const carve_plan_params *params,
                                const carve_device_limits *limits,
                                carve_plan *plan)
{
    uint64_t count = 0;
    uint32_t alignment = 0;
    carve_status status;
    if (plan == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    memset(plan, 0, sizeof *plan);
    if (params == NULL || limits == NULL) {
        carve__message(plan->message, sizeof plan->message,
                       "params and limits must not be NULL");
        return CARVE_ERROR_INVALID_ARGUMENT;
    }
    plan->params = *params;
    plan->limits = *limits;
    status = count_arenas(params, plan, &count);
    if (status == CARVE_SUCCESS)
        status = check_arena_shape(params, limits, plan, &alignment);
    if (status != CARVE_SUCCESS)
        return status;
    plan->arena_alignment = alignment;
    plan->arena_count = count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
    status = check_options(params, limits, plan);
    if (status != CARVE_SUCCESS)
        return status;
    status = size_parts(params, plan, count,
                        round_up(params->arena_bytes, alignment));
    if (status == CARVE_SUCCESS)
        status = check_device_fit(plan);
    if (status == CARVE_ERROR_OFFSET_LIMIT ||
        status == CARVE_ERROR_EXCEEDS_MAX_ALLOC ||
        status == CARVE_ERROR_EXCEEDS_GLOBAL_MEM)
        say_what_fits(params, plan, count,
                      round_up(params->arena_bytes, alignment));
    return status;
}

/* Appends to a bounded buffer, counting what the whole text needs. */
typedef struct text_sink {
    char *buf;
    size_t size;
    size_t used; /* what the whole text needs so far, without the NUL */
} text_sink;

static void put(text_sink *sink, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void put(text_sink *sink, const char *format, ...)
{
    va_list args;
    int n;
    char *at = sink->used < sink->size ? sink->buf + sink->used : NULL;
    size_t room = sink->used < sink->size ? sink->size - sink->used : 0;
    va_start(args, format);
    n = vsnprintf(at, room, format, args);
    va_end(args);
    if (n > 0)
        sink->used += (size_t)n;
}

static void put_row(text_sink *sink, const char *part, uint64_t offset,
                    uint64_t bytes, uint64_t per_arena)
{
    char size[32], each[32];
    carve__bytes_text(bytes, size, sizeof size);
    if (per_arena)
        carve__bytes_text(per_arena, each, sizeof each);
    else
        each[0] = '\0';
    put(sink, "  %-12s %12llu  %12s  %10s\n", part, (unsigned long long)offset,
        size, each);
}

static void put_origin(text_sink *sink, const carve_plan *plan)
{
    const carve_plan_params *p = &plan->params;
    cl_uint d;
    if (p->work_dim == 0) {
        put(sink, "explicit count)\n");
        return;
    }
    put(sink, "one per work-item of a ");
    for (d = 0; d < p->work_dim; ++d)
        put(sink, "%s%llu", d ? " x " : "", (unsigned long long)p->global_size[d]);
    put(sink, " NDRange)\n");
}

carve_status carve_plan_format(const carve_plan *plan, char *buf, size_t size,
                               size_t *needed)
{
    text_sink sink;
    char a[32], b[32], c[32];
    const carve_device_limits *l;
    /* A refused plan is only partly filled in; its NDRange may even have
     * more dimensions than global_size holds. */
    if (plan == NULL || (buf == NULL && size > 0) ||
        plan->message[0] != '\0' || plan->params.work_dim > 3)
        return CARVE_ERROR_INVALID_ARGUMENT;
    sink.buf = buf;
    sink.size = size;
    sink.used = 0;
    l = &plan->limits;
    put(&sink, "carve plan: %u arenas of %s (", (unsigned)plan->arena_count,
        carve__bytes_text(plan->arena_bytes, a, sizeof a));
    put_origin(&sink, plan);
    put(&sink, "  %-12s %12s  %12s  %10s\n", "part", "offset", "size",
        "per arena");
    put_row(&sink, "header", 0, plan->header_bytes, 0);
    put_row(&sink, "state table", plan->state_offset, plan->state_bytes,
            plan->state_stride);
    put_row(&sink, "error log", plan->error_offset,
            (uint64_t)plan->error_capacity * sizeof(carve_error_record), 0);
    if (plan->event_capacity)
        put_row(&sink, "event log", plan->event_offset,
                (uint64_t)plan->event_capacity * sizeof(carve_event_record),
                0);
    if (plan->heap_pages)
        put_row(&sink, "heap tables", plan->heap_meta_offset,
                plan->heap_meta_bytes, 0);
    put_row(&sink, "arenas", plan->arenas_offset, plan->arenas_bytes,
            plan->arena_bytes);
    if (plan->heap_pages)
        put_row(&sink, "shared heap", plan->heap_offset,
                (uint64_t)plan->heap_pages * plan->heap_page_bytes, 0);
    put(&sink, "  %-12s %12s  %12s\n", "total", "",
        carve__bytes_text(plan->total_bytes, a, sizeof a));
    put(&sink,
        "  allocator: %u granules of %u B per arena, %u size classes, "
        "metadata %.1f%% of arena bytes\n",
        (unsigned)plan->arena_granules, CARVE_GRANULE,
        (unsigned)plan->class_count,
        plan->arena_bytes ? 100.0 * plan->state_stride / plan->arena_bytes
                          : 0.0);
    put(&sink, "  checks: %s; error log %u records; event log %s\n",
        plan->options & CARVE_OPTION_CHECKS ? "redzones on every block"
                                            : "off",
        (unsigned)plan->error_capacity,
        plan->event_capacity ? "on" : "off");
    if (plan->heap_pages)
        put(&sink,
            "  heap: %u pages of %s, %u slot classes; requests of %u B or "
            "more go there%s\n",
            (unsigned)plan->heap_pages,
            carve__bytes_text(plan->heap_page_bytes, a, sizeof a),
            (unsigned)plan->heap_class_count, (unsigned)plan->large_bytes,
            plan->options & CARVE_OPTION_HEAP_FALLBACK
                ? ", and any a full arena cannot serve"
                : "");
    put(&sink,
        "  device: max alloc %s (%.1f%% used), global memory %s, buffer "
        "alignment %s\n",
        carve__bytes_text(l->max_mem_alloc_size, a, sizeof a),
        l->max_mem_alloc_size
            ? 100.0 * (double)plan->total_bytes / (double)l->max_mem_alloc_size
            : 0.0,
        carve__bytes_text(l->global_mem_size, b, sizeof b),
        carve__bytes_text(l->base_addr_align, c, sizeof c));
    if (needed != NULL)
        *needed = sink.used + 1;
    return sink.used < size ? CARVE_SUCCESS : CARVE_ERROR_BUFFER_TOO_SMALL;
}

carve_status carve_plan_print(const carve_plan *plan, FILE *stream)
{
    char stack[2048];
    size_t needed = 0;
    carve_status status;
    if (plan == NULL || stream == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    status = carve_plan_format(plan, stack, sizeof stack, &needed);
    if (status != CARVE_SUCCESS)
        return status;
    fputs(stack, stream);
    return CARVE_SUCCESS;
}
