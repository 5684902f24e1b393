/* split_diagnostics.c - statistics, the check, the report and the fit over
 * every slice of a split, per device and in total, in launch-wide arena
 * numbers. Each works through the slices' images with the carve_layout_*
 * functions, so a split is read exactly as its sets are. */
#include "split_internal.h"
#include "diagnostics/diag_output.h"

#include <stdlib.h>
#include <string.h>
#include "fault.h" /* last: test builds wrap the calls above */

static uint64_t round_up(uint64_t x, uint64_t to)
{
    return (x + to - 1) / to * to;
}

/* Every slice's image, or WRONG_OWNER while a device owns one. */
static carve_status images(const carve_split *split,
                           void *out[CARVE_SPLIT_MAX_DEVICES])
{
    cl_uint i;
    if (split == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    for (i = 0; i < split->count; ++i) {
        carve_status status = carve_set_image(split->sets[i], &out[i]);
        if (status != CARVE_SUCCESS)
            return status;
    }
    return CARVE_SUCCESS;
}

carve_status carve_split_locate(const carve_split *split, uint32_t arena,
                                cl_uint *slice, uint32_t *index)
{
    cl_uint i;
    if (split == NULL || slice == NULL || index == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    for (i = 0; i < split->count; ++i) {
        const carve_slice *s = &split->plan.slices[i];
        if (arena >= s->first_arena &&
            arena - s->first_arena < s->plan.arena_count) {
            *slice = i;
            *index = arena - s->first_arena;
            return CARVE_SUCCESS;
        }
    }
    return CARVE_ERROR_INDEX_OUT_OF_RANGE;
}

carve_status carve_split_arena_stats(const carve_split *split, uint32_t arena,
                                     carve_arena_stats *out)
{
    void *image;
    cl_uint slice;
    uint32_t index;
    carve_status status;
    if (out == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    status = carve_split_locate(split, arena, &slice, &index);
    if (status == CARVE_SUCCESS)
        status = carve_set_image(split->sets[slice], &image);
    if (status == CARVE_SUCCESS)
        status = carve_layout_arena_stats(image, index, out);
    return status;
}

void *carve_split_block(const carve_split *split, uint32_t arena,
                        uint32_t offset, size_t bytes)
{
    void *image;
    cl_uint slice;
    uint32_t index;
    if (carve_split_locate(split, arena, &slice, &index) != CARVE_SUCCESS ||
        carve_set_image(split->sets[slice], &image) != CARVE_SUCCESS)
        return NULL;
    return carve_layout_block(image, index, offset, bytes);
}

/* Adds one slice's summary into the total: counts add up, high-water
 * marks take the largest. */
static void add_summary(carve_summary *t, const carve_summary *s)
{
    t->arena_count += s->arena_count;
    t->arenas_opened += s->arenas_opened;
    t->arenas_closed += s->arenas_closed;
    t->arenas_corrupt += s->arenas_corrupt;
    t->arenas_with_failures += s->arenas_with_failures;
    t->open_failures += s->open_failures;
    t->capacity_bytes += s->capacity_bytes;
    t->in_use_bytes += s->in_use_bytes;
    if (s->max_peak_in_use_bytes > t->max_peak_in_use_bytes)
        t->max_peak_in_use_bytes = s->max_peak_in_use_bytes;
    if (s->max_peak_footprint_bytes > t->max_peak_footprint_bytes)
        t->max_peak_footprint_bytes = s->max_peak_footprint_bytes;
    t->alloc_count += s->alloc_count;
    t->free_count += s->free_count;
    t->failed_count += s->failed_count;
    t->misuse_count += s->misuse_count;
    t->heap_allocs += s->heap_allocs;
    t->heap_frees += s->heap_frees;
    t->heap_bytes += s->heap_bytes;
    t->heap_in_use_bytes += s->heap_in_use_bytes;
    t->heap_live_blocks += s->heap_live_blocks;
    t->heap_free_pages += s->heap_free_pages;
    t->heap_pages += s->heap_pages;
    t->errors_seen += s->errors_seen;
    t->errors_kept += s->errors_kept;
    t->events_seen += s->events_seen;
    t->events_kept += s->events_kept;
}

carve_status carve_split_summary(const carve_split *split, carve_summary *total,
                                 carve_summary *per_device)
{
    void *image[CARVE_SPLIT_MAX_DEVICES];
    carve_summary sum, one;
    carve_status status;
    cl_uint i;
    if (split == NULL || total == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    status = images(split, image);
    if (status != CARVE_SUCCESS)
        return status;
    memset(&sum, 0, sizeof sum);
    for (i = 0; i < split->count; ++i) {
        status = carve_layout_summary(image[i], &one);
        if (status != CARVE_SUCCESS)
            return status;
        add_summary(&sum, &one);
        if (per_device != NULL)
            per_device[i] = one;
    }
    *total = sum;
    return CARVE_SUCCESS;
}

carve_status carve_split_check(const carve_split *split, cl_uint *bad_slice,
                               uint32_t *bad_arena, uint32_t *broken)
{
    void *image[CARVE_SPLIT_MAX_DEVICES];
    carve_status status = images(split, image);
    cl_uint i;
    for (i = 0; status == CARVE_SUCCESS && i < split->count; ++i) {
        uint32_t bad = 0, why = 0;
        status = carve_layout_check(image[i], &bad, &why);
        if (status == CARVE_SUCCESS)
            continue;
        if (bad_slice != NULL)
            *bad_slice = i;
        if (status == CARVE_ERROR_ARENA_INVALID) {
            if (bad_arena != NULL)
                *bad_arena = bad == CARVE_HEAP_INDEX
                                 ? bad
                                 : bad + split->plan.slices[i].first_arena;
            if (broken != NULL)
                *broken = why;
        }
    }
    return status;
}

/* ---- the report ----------------------------------------------------------- */

static const char *device_name(const carve_split *split, cl_uint i, char *buf,
                               size_t size)
{
    if (clGetDeviceInfo(split->devices[i], CL_DEVICE_NAME, size, buf, NULL) !=
        CL_SUCCESS)
        carve__message(buf, size, "unnamed");
    buf[size - 1] = '\0';
    return buf;
}

static void text_total(const carve_split *split, const carve_summary *t,
                       FILE *out)
{
    fprintf(out,
            "== all %u devices: %u work-items, %u opened, %u closed, %u "
            "corrupt, %u with failures, %u without an arena\n"
            "   %llu allocations, %llu frees, %llu failed, %llu refused; heap "
            "%llu allocations, %llu live blocks\n",
            (unsigned)split->count, (unsigned)t->arena_count,
            (unsigned)t->arenas_opened, (unsigned)t->arenas_closed,
            (unsigned)t->arenas_corrupt, (unsigned)t->arenas_with_failures,
            (unsigned)t->open_failures, (unsigned long long)t->alloc_count,
            (unsigned long long)t->free_count,
            (unsigned long long)t->failed_count,
            (unsigned long long)t->misuse_count,
            (unsigned long long)t->heap_allocs,
            (unsigned long long)t->heap_live_blocks);
}

carve_status carve_split_report_print(const carve_split *split, FILE *stream,
                                      carve_format format, uint32_t top)
{
    void *image[CARVE_SPLIT_MAX_DEVICES];
    carve_summary total;
    carve__json j;
    carve_status status;
    char name[96];
    cl_uint i;
    if (split == NULL || stream == NULL ||
        (format != CARVE_FORMAT_TEXT && format != CARVE_FORMAT_JSON))
        return CARVE_ERROR_INVALID_ARGUMENT;
    status = images(split, image);
    if (status == CARVE_SUCCESS)
        status = carve_split_summary(split, &total, NULL);
    if (status != CARVE_SUCCESS)
        return status;
    if (format == CARVE_FORMAT_JSON) {
        carve__json_start(&j, stream);
        carve__json_open(&j, NULL, '{');
        carve__json_text(&j, "format", "carve-split-report");
        carve__json_uint(&j, "version", 1);
        carve__json_open(&j, "devices", '[');
    }
    for (i = 0; i < split->count && status == CARVE_SUCCESS; ++i) {
        const carve_slice *s = &split->plan.slices[i];
        carve_report *report = NULL;
        status = carve_layout_report(image[i], top, &report);
        if (status != CARVE_SUCCESS)
            break;
        carve__report_shift_work_items(report, s->first_arena);
        device_name(split, i, name, sizeof name);
        if (format == CARVE_FORMAT_JSON) {
            carve__json_open(&j, NULL, '{');
            carve__json_uint(&j, "device", i);
            carve__json_text(&j, "name", name);
            carve__json_uint(&j, "first_work_item", s->first_arena);
            carve__json_report(&j, "report", report);
            carve__json_close(&j, '}');
        } else {
            fprintf(stream, "== device %u (%s): work-items %u to %llu\n",
                    (unsigned)i, name, (unsigned)s->first_arena,
                    (unsigned long long)s->first_arena + s->plan.arena_count -
                        1);
            carve__text_report(report, stream);
        }
        carve_report_release(report);
    }
    if (status != CARVE_SUCCESS)
        return status;
    if (format == CARVE_FORMAT_JSON) {
        carve__json_close(&j, ']');
        carve__json_summary(&j, "total", &total);
        carve__json_close(&j, '}');
        fputc('\n', stream);
    } else {
        text_total(split, &total, stream);
    }
    return carve__print_status(stream);
}

/* ---- the fit --------------------------------------------------------------- */

/* What every device's own fit needs at once: the largest arena and heap
 * (each slice gets the plan's), and the totals over the devices. */
static void merge_fits(const carve_split *split, const carve_fit *fits,
                       carve_fit *out)
{
    carve_fit t = fits[0];
    uint64_t fitted = 0;
    cl_uint i;
    t.params = split->plan.params.plan;
    t.params.arena_bytes = 0;
    t.params.heap_bytes = 0;
    t.params.options = 0;
    t.work_items = t.above_cut = t.understated = 0;
    t.spill_bytes = t.profiled_heap_bytes = t.profiled_total_bytes = 0;
    t.spill_exact = 1;
    for (i = 0; i < split->count; ++i) {
        const carve_fit *f = &fits[i];
        if (f->params.arena_bytes > t.params.arena_bytes)
            t.params.arena_bytes = f->params.arena_bytes;
        if (f->params.heap_bytes > t.params.heap_bytes) {
            t.params.heap_bytes = f->params.heap_bytes;
            t.params.heap_page_bytes = f->params.heap_page_bytes;
            t.params.large_request_bytes = f->params.large_request_bytes;
            t.spill_pages = f->spill_pages;
            t.spill_classes = f->spill_classes;
        }
        t.params.options |= f->params.options;
        if (f->max_need_bytes > t.max_need_bytes)
            t.max_need_bytes = f->max_need_bytes;
        if (f->cut_bytes > t.cut_bytes)
            t.cut_bytes = f->cut_bytes;
        t.work_items += f->work_items;
        t.above_cut += f->above_cut;
        t.understated += f->understated;
        t.spill_bytes += f->spill_bytes;
        t.profiled_heap_bytes += f->profiled_heap_bytes;
        t.profiled_total_bytes += f->profiled_total_bytes;
        t.spill_exact = t.spill_exact && f->spill_exact;
    }
    for (i = 0; i < split->count; ++i) {
        const carve_plan *p = &split->plan.slices[i].plan;
        fitted += (uint64_t)p->arena_count *
                      round_up(t.params.arena_bytes, p->arena_alignment) +
                  t.params.heap_bytes;
    }
    t.fitted_total_bytes = fitted;
    *out = t;
}

carve_status carve_split_fit(const carve_split *split, double percentile,
                             carve_fit *total, carve_fit *per_device)
{
    void *image[CARVE_SPLIT_MAX_DEVICES];
    carve_fit *fits;
    carve_status status;
    cl_uint i;
    if (split == NULL || total == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    status = images(split, image);
    if (status != CARVE_SUCCESS)
        return status;
    fits = malloc(split->count * sizeof *fits);
    if (fits == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    for (i = 0; i < split->count && status == CARVE_SUCCESS; ++i)
        status = carve_layout_fit(image[i],
                                  &split->plan.slices[i].plan.params,
                                  percentile, &fits[i]);
    if (status == CARVE_SUCCESS) {
        merge_fits(split, fits, total);
        if (per_device != NULL)
            memcpy(per_device, fits, split->count * sizeof *fits);
    }
    free(fits);
    return status;
}
