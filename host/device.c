/* device.c - device limits, device selection, and building kernels with
 * carve's embedded device headers. */
#include "carve_internal.h"

#include <stdlib.h>
#include <string.h>
#include "fault.h" /* last: test builds wrap the calls above */

carve_status carve_device_limits_query(cl_device_id device,
                                       carve_device_limits *out)
{
    cl_ulong max_alloc = 0, global = 0;
    cl_uint align_bits = 0;
    cl_int err;
    if (device == NULL || out == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    err = clGetDeviceInfo(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE,
                          sizeof max_alloc, &max_alloc, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof global,
                              &global, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(device, CL_DEVICE_MEM_BASE_ADDR_ALIGN,
                              sizeof align_bits, &align_bits, NULL);
    if (err != CL_SUCCESS)
        return err;
    out->max_mem_alloc_size = max_alloc;
    out->global_mem_size = global;
    out->base_addr_align = align_bits / 8; /* OpenCL reports bits */
    return CARVE_SUCCESS;
}

const char *carve_device_source(const char *name, size_t *length)
{
    size_t i;
    if (name == NULL)
        return NULL;
    for (i = 0; i < carve__embedded_file_count; ++i) {
        if (strcmp(carve__embedded_files[i].name, name) == 0) {
            if (length != NULL)
                *length = carve__embedded_files[i].length;
            return (const char *)carve__embedded_files[i].bytes;
        }
    }
    return NULL;
}

/* ---- device selection ---------------------------------------------------- */

static int name_matches(cl_platform_id platform, cl_device_id device,
                        const char *needle)
{
    char name[256];
    if (clGetDeviceInfo(device, CL_DEVICE_NAME, sizeof name, name, NULL) ==
            CL_SUCCESS &&
        strstr(name, needle) != NULL)
        return 1;
    return clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof name, name,
                             NULL) == CL_SUCCESS &&
           strstr(name, needle) != NULL;
}

/* Parses "P:D"; returns 1 and the two numbers if selector has that form. */
static int parse_indices(const char *selector, unsigned long *p,
                         unsigned long *d)
{
    char *end = NULL;
    *p = strtoul(selector, &end, 10);
    if (end == selector || *end != ':')
        return 0;
    selector = end + 1;
    *d = strtoul(selector, &end, 10);
    return end != selector && *end == '\0';
}

carve_status carve_device_find(const char *selector, cl_device_id *device)
{
    cl_platform_id platforms[16];
    cl_device_id devices[32];
    cl_uint np = 0, nd, p, d;
    unsigned long want_p = 0, want_d = 0;
    int by_index;
    if (device == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (selector == NULL)
        selector = getenv("CARVE_DEVICE");
    if (selector != NULL && selector[0] == '\0')
        selector = NULL;
    by_index = selector != NULL && parse_indices(selector, &want_p, &want_d);
    if (clGetPlatformIDs(16, platforms, &np) != CL_SUCCESS)
        return CARVE_ERROR_NO_DEVICE;
    for (p = 0; p < np && p < 16; ++p) {
        nd = 0;
        if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 32, devices,
                           &nd) != CL_SUCCESS)
            continue;
        for (d = 0; d < nd && d < 32; ++d) {
            if (selector == NULL || (by_index && p == want_p && d == want_d) ||
                (!by_index && name_matches(platforms[p], devices[d], selector))) {
                *device = devices[d];
                return CARVE_SUCCESS;
            }
        }
    }
    return CARVE_ERROR_NO_DEVICE;
}

/* ---- building kernels ---------------------------------------------------- */

static int is_header(const char *name)
{
    size_t n = strlen(name);
    return (n > 2 && strcmp(name + n - 2, ".h") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".clh") == 0);
}

/* Appends the program's build log for `device` to *log (malloc'd). */
static void append_log(cl_program program, cl_device_id device, char **log)
{
    size_t size = 0, old;
    char *grown;
    if (log == NULL || program == NULL ||
        clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, 0, NULL,
                              &size) != CL_SUCCESS ||
        size <= 1)
        return;
    old = *log ? strlen(*log) : 0;
    grown = realloc(*log, old + size + 1);
    if (grown == NULL)
        return;
    if (clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, size,
                              grown + old, NULL) != CL_SUCCESS)
        grown[old] = '\0';
    grown[old + size] = '\0';
    *log = grown;
}

typedef struct header_programs {
    cl_program programs[8];
    const char *names[8];
    cl_uint count;
} header_programs;

static cl_int make_header_programs(cl_context context, header_programs *h)
{
    size_t i;
    cl_int err = CL_SUCCESS;
    h->count = 0;
    for (i = 0; i < carve__embedded_file_count && h->count < 8; ++i) {
        const carve__embedded_file *f = &carve__embedded_files[i];
        const char *text = (const char *)f->bytes;
        if (!is_header(f->name))
            continue;
        h->programs[h->count] =
            clCreateProgramWithSource(context, 1, &text, &f->length, &err);
        if (err != CL_SUCCESS)
            return err;
        h->names[h->count++] = f->name;
    }
    return CL_SUCCESS;
}

static void release_header_programs(header_programs *h)
{
    cl_uint i;
    for (i = 0; i < h->count; ++i)
        clReleaseProgram(h->programs[i]);
    h->count = 0;
}

/* One compile and link for every device; the logs of both go to *log. */
static cl_int build_once(cl_context context, cl_uint num_devices,
                         const cl_device_id *devices, const char *source,
                         const char *options, cl_program *program, char **log)
{
    cl_uint i;
    header_programs headers;
    cl_program compiled = NULL, linked = NULL;
    cl_int err = make_header_programs(context, &headers);
    if (err == CL_SUCCESS)
        compiled = clCreateProgramWithSource(context, 1, &source, NULL, &err);
    if (err == CL_SUCCESS) {
        err = clCompileProgram(compiled, num_devices, devices,
                               options ? options : "", headers.count,
                               headers.programs, headers.names, NULL, NULL);
        for (i = 0; i < num_devices; ++i)
            append_log(compiled, devices[i], log);
    }
    if (err == CL_SUCCESS) {
        linked = clLinkProgram(context, num_devices, devices, "", 1, &compiled,
                               NULL, NULL, &err);
        for (i = 0; i < num_devices; ++i)
            append_log(linked, devices[i], log);
    }
    release_header_programs(&headers);
    if (compiled != NULL)
        clReleaseProgram(compiled);
    if (err != CL_SUCCESS && linked != NULL) {
        clReleaseProgram(linked);
        linked = NULL;
    }
    *program = linked;
    return err;
}

/* Whether a failed build's log shows a diagnostic of the compiler or the
 * linker ("error: ..."), which no retry would change. */
static int diagnosed(const char *log)
{
    return log != NULL && strstr(log, "error:") != NULL;
}

/* PoCL's kernel cache, shared by all of a user's processes, can fail a
 * build when another process builds the same program at the same moment
 * (seen here with Debian's PoCL 3.1; PoCL's tracker has reports of the
 * kind, e.g. issues 586 and 1480): with no log, or only "failed to build
 * the program". A real compile or link error shows a diagnostic. So a
 * failure without one is retried, a bounded number of times. */
#define BUILD_ATTEMPTS 3

carve_status carve_program_build(cl_context context, cl_device_id device,
                                 const char *source, const char *options,
                                 cl_program *program, char **build_log)
{
    if (build_log != NULL)
        *build_log = NULL;
    if (device == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    return carve_program_build_for_devices(context, 1, &device, source,
                                           options, program, build_log);
}

carve_status carve_program_build_for_devices(cl_context context,
                                             cl_uint num_devices,
                                             const cl_device_id *devices,
                                             const char *source,
                                             const char *options,
                                             cl_program *program,
                                             char **build_log)
{
    char *log = NULL;
    cl_int err = CL_SUCCESS;
    int attempt;
    cl_uint i;
    if (build_log != NULL)
        *build_log = NULL;
    if (context == NULL || num_devices == 0 || devices == NULL ||
        source == NULL || program == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    for (i = 0; i < num_devices; ++i)
        if (devices[i] == NULL)
            return CARVE_ERROR_INVALID_ARGUMENT;
    *program = NULL;
    for (attempt = 0; attempt < BUILD_ATTEMPTS; ++attempt) {
        free(log);
        log = NULL;
        err = build_once(context, num_devices, devices, source, options,
                         program, &log);
        if (err == CL_SUCCESS ||
            (err != CL_LINK_PROGRAM_FAILURE && err != CL_BUILD_PROGRAM_FAILURE &&
             err != CL_COMPILE_PROGRAM_FAILURE) ||
            diagnosed(log))
            break;
    }
    /* Warnings only matter when the build failed. */
    if (err != CL_SUCCESS && build_log != NULL)
        *build_log = log;
    else
        free(log);
    return err == CL_SUCCESS ? CARVE_SUCCESS : err;
}
