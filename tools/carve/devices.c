/* devices.c - `carve devices`: every OpenCL device, its memory limits, and
 * which of carve's backends give it zero-copy memory, shown by creating a
 * small region with each and reading what its probe kernel found. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OpenCL 2.0 queries, asked of every device: a 1.2 device answers
 * CL_INVALID_VALUE, and the headers of a 1.2 SDK may lack the names. */
#ifndef CL_DEVICE_SVM_CAPABILITIES
#define CL_DEVICE_SVM_CAPABILITIES 0x1053
#define CL_DEVICE_SVM_COARSE_GRAIN_BUFFER (1 << 0)
#define CL_DEVICE_SVM_FINE_GRAIN_BUFFER (1 << 1)
#define CL_DEVICE_SVM_FINE_GRAIN_SYSTEM (1 << 2)
#define CL_DEVICE_SVM_ATOMICS (1 << 3)
#endif

/* Big enough for the probe's few words; small enough to cost nothing. */
#define PROBE_REGION_BYTES (64u * 1024u)
#define USER_MEMORY_ALIGNMENT 4096u

static const char devices_help[] =
    "usage: carve devices [--device SEL] [--no-probe]\n"
    "\n"
    "Lists every OpenCL platform and device: global memory, the largest\n"
    "allocation, the alignment of buffers, host-unified memory, SVM\n"
    "capabilities, and carve's backends. For each backend the device has,\n"
    "carve creates a small region and its probe kernel checks whether the\n"
    "device works on the host's own bytes: zero-copy VERIFIED, or not\n"
    "shown. 'auto' is the backend carve_region_create and carve_set_create\n"
    "pick.\n"
    "\n"
    "  --device SEL   only this device: P:D (platform and device numbers,\n"
    "                 as listed) or a substring of its name, as CARVE_DEVICE\n"
    "  --no-probe     list the backends without creating regions (no kernel\n"
    "                 is built or run)\n"
    "\n"
    "exit codes: 0 listed; 1 an OpenCL or carve call failed; 2 a usage\n"
    "error; 3 no OpenCL device (or none matches --device).\n";

static void print_text_row(const char *label, const char *text)
{
    printf("    %-20s %s\n", label, text);
}

static void print_bytes_row(const char *label, uint64_t bytes)
{
    char text[32];
    printf("    %-20s %llu bytes (%s)\n", label, (unsigned long long)bytes,
           cli_bytes_text(bytes, text, sizeof text));
}

static const char *type_name(cl_device_type type)
{
    if (type & CL_DEVICE_TYPE_GPU)
        return "GPU";
    if (type & CL_DEVICE_TYPE_CPU)
        return "CPU";
    if (type & CL_DEVICE_TYPE_ACCELERATOR)
        return "accelerator";
    if (type & CL_DEVICE_TYPE_CUSTOM)
        return "custom";
    return "other";
}

static void print_svm(cl_device_id device)
{
    static const struct {
        cl_bitfield bit;
        const char *name;
    } kinds[] = {
        {CL_DEVICE_SVM_COARSE_GRAIN_BUFFER, "coarse-grain buffer"},
        {CL_DEVICE_SVM_FINE_GRAIN_BUFFER, "fine-grain buffer"},
        {CL_DEVICE_SVM_FINE_GRAIN_SYSTEM, "fine-grain system"},
        {CL_DEVICE_SVM_ATOMICS, "atomics"},
    };
    cl_bitfield svm = 0;
    char text[128] = "";
    size_t i;
    if (clGetDeviceInfo(device, CL_DEVICE_SVM_CAPABILITIES, sizeof svm, &svm,
                        NULL) != CL_SUCCESS) {
        print_text_row("SVM", "none (the device does not answer the "
                              "OpenCL 2.0 query)");
        return;
    }
    for (i = 0; i < sizeof kinds / sizeof kinds[0]; ++i) {
        if (svm & kinds[i].bit) {
            if (text[0] != '\0')
                strcat(text, ", ");
            strcat(text, kinds[i].name);
        }
    }
    print_text_row("SVM", text[0] != '\0' ? text : "none");
}

static void print_properties(cl_device_id device)
{
    char version[256] = "?", text[320];
    cl_device_type type = 0;
    cl_bool unified = CL_FALSE;
    cl_uint align_bits = 0;
    cl_ulong global = 0, max_alloc = 0;
    clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    clGetDeviceInfo(device, CL_DEVICE_VERSION, sizeof version, version, NULL);
    version[sizeof version - 1] = '\0';
    snprintf(text, sizeof text, "%s, %s", type_name(type), version);
    print_text_row("type", text);
    if (clGetDeviceInfo(device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof global,
                        &global, NULL) == CL_SUCCESS)
        print_bytes_row("global memory", global);
    if (clGetDeviceInfo(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof max_alloc,
                        &max_alloc, NULL) == CL_SUCCESS)
        print_bytes_row("max allocation", max_alloc);
    if (clGetDeviceInfo(device, CL_DEVICE_MEM_BASE_ADDR_ALIGN,
                        sizeof align_bits, &align_bits, NULL) == CL_SUCCESS) {
        snprintf(text, sizeof text, "%u bytes (%u bits)", align_bits / 8,
                 align_bits);
        print_text_row("buffer alignment", text);
    }
    if (clGetDeviceInfo(device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified,
                        &unified, NULL) == CL_SUCCESS)
        print_text_row("host-unified memory", unified ? "yes" : "no");
    print_svm(device);
}

/* ---- backends --------------------------------------------------------------- */

static const carve_backend listed_backends[] = {
    CARVE_BACKEND_HOST_MEMORY, CARVE_BACKEND_USER_MEMORY,
    CARVE_BACKEND_ALLOC_HOST_PTR, CARVE_BACKEND_SVM_COARSE,
    CARVE_BACKEND_SVM_FINE, CARVE_BACKEND_AUTO};

/* Memory for the USER_MEMORY backend, as a CMEM or dma-buf mapping would
 * hand it over: aligned for any buffer, a whole number of alignments. */
static void *user_memory(cl_device_id device, size_t *bytes)
{
    carve_device_limits limits;
    size_t alignment = USER_MEMORY_ALIGNMENT;
    if (carve_device_limits_query(device, &limits) == CARVE_SUCCESS &&
        limits.base_addr_align > alignment)
        alignment = limits.base_addr_align;
    *bytes = (PROBE_REGION_BYTES + alignment - 1) / alignment * alignment;
    return aligned_alloc(alignment, *bytes);
}

/* Creates a small region with `backend` and says what its probe found.
 * Returns 0 if a carve or OpenCL call failed. */
static int probe_backend(cl_context context, cl_device_id device,
                         carve_backend backend)
{
    carve_region_params params;
    carve_region_info info;
    carve_region *region = NULL;
    size_t user_bytes = 0;
    carve_status status;
    memset(&params, 0, sizeof params);
    params.backend = backend;
    params.bytes = PROBE_REGION_BYTES;
    params.name = "carve devices";
    if (backend == CARVE_BACKEND_USER_MEMORY) {
        params.user_base = user_memory(device, &user_bytes);
        params.bytes = user_bytes;
        if (params.user_base == NULL) {
            printf("failed: %s\n",
                   carve_status_string(CARVE_ERROR_OUT_OF_HOST_MEMORY));
            return 0;
        }
    }
    status = carve_region_create(context, device, &params, &region);
    if (status == CARVE_SUCCESS)
        status = carve_region_get_info(region, &info);
    if (status != CARVE_SUCCESS)
        printf("failed: %s (%d)\n", carve_status_string(status), (int)status);
    else if (backend == CARVE_BACKEND_AUTO)
        printf("picks %s, zero-copy %s\n", info.backend_name,
               info.zero_copy_verified ? "VERIFIED" : "not shown");
    else if (info.zero_copy_verified)
        printf("zero-copy VERIFIED\n");
    else
        printf("zero-copy not shown: %s\n", info.zero_copy_evidence);
    carve_region_release(region);
    free(params.user_base);
    return status == CARVE_SUCCESS;
}

static int print_backends(cl_device_id device, int probe)
{
    cl_context context = NULL;
    cl_int err = CL_SUCCESS;
    size_t i;
    int all_ok = 1;
    if (probe)
        context = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        printf("    carve backends       cannot be probed: clCreateContext "
               "failed: %s (%d)\n",
               carve_status_string(err), (int)err);
        return 0;
    }
    printf("    carve backends\n");
    for (i = 0; i < sizeof listed_backends / sizeof listed_backends[0]; ++i) {
        carve_backend backend = listed_backends[i];
        printf("      %-18s ", carve_backend_name(backend));
        if (!carve_backend_supported(device, backend))
            printf("not available on this device\n");
        else if (!probe)
            printf("available (not probed)\n");
        else
            all_ok &= probe_backend(context, device, backend);
        fflush(stdout);
    }
    if (context != NULL)
        clReleaseContext(context);
    return all_ok;
}

/* ---- the listing -------------------------------------------------------------- */

static void print_platform(cl_platform_id platform, cl_uint index)
{
    char name[256] = "?", version[256] = "?";
    clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof name, name, NULL);
    clGetPlatformInfo(platform, CL_PLATFORM_VERSION, sizeof version, version,
                      NULL);
    name[sizeof name - 1] = version[sizeof version - 1] = '\0';
    printf("platform %u: %s (%s)\n", index, name, version);
}

static int print_device(cl_device_id device, cl_uint platform, cl_uint index,
                        int probe)
{
    char name[256] = "?";
    clGetDeviceInfo(device, CL_DEVICE_NAME, sizeof name, name, NULL);
    name[sizeof name - 1] = '\0';
    printf("  device %u:%u: %s\n", platform, index, name);
    print_properties(device);
    return print_backends(device, probe);
}

/* Lists the devices (only `only`, if not NULL). Counts what it listed in
 * *listed; returns 0 if a probe failed. */
static int list_devices(cl_device_id only, int probe, unsigned *listed)
{
    cl_uint platform_count, device_count, p, d;
    cl_platform_id *platforms = cli_platforms(&platform_count);
    int all_ok = 1;
    *listed = 0;
    for (p = 0; p < platform_count; ++p) {
        cl_device_id *devices = cli_platform_devices(platforms[p],
                                                     &device_count);
        int platform_shown = 0;
        for (d = 0; d < device_count; ++d) {
            if (only != NULL && devices[d] != only)
                continue;
            if (!platform_shown)
                print_platform(platforms[p], p);
            platform_shown = 1;
            all_ok &= print_device(devices[d], p, d, probe);
            ++*listed;
        }
        if (only == NULL && device_count == 0) {
            print_platform(platforms[p], p);
            printf("  no devices\n");
        }
        free(devices);
    }
    free(platforms);
    return all_ok;
}

static int run_devices(const cli_command *self, int argc, char **argv)
{
    cli_option options[] = {{"--device", "SEL", NULL},
                            {"--no-probe", NULL, NULL}};
    cli_arguments args = {options, sizeof options / sizeof options[0], NULL,
                          0, 0};
    cl_device_id only = NULL;
    cli_device_place place;
    unsigned listed = 0;
    int all_ok, result = cli_parse(self, argc, argv, &args);
    const char *selector = cli_value(&args, "--device");
    if (result != CLI_CONTINUE)
        return result;
    if (selector != NULL) {
        result = cli_find_device(self, selector, &only, &place);
        if (result != CLI_CONTINUE)
            return result;
    }
    all_ok = list_devices(only, cli_value(&args, "--no-probe") == NULL,
                          &listed);
    if (listed == 0) {
        fprintf(stderr, "carve devices: no OpenCL device found\n");
        return CLI_EXIT_NO_DEVICE;
    }
    return all_ok ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

const cli_command cli_devices_command = {
    "devices",
    "list OpenCL devices, their limits, and which backends are zero-copy",
    devices_help, run_devices};
