/* plan.c - `carve plan`: lays out an arena set and checks it against a
 * device's limits, or against limits given on the command line, with the
 * library's own carve_plan_compute; allocates nothing. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char plan_help[] =
    "usage: carve plan (--ndrange X[,Y[,Z]] | --arenas N) --arena-bytes B\n"
    "                  [--align A] [--device SEL]\n"
    "                  [--max-alloc B] [--global-mem B] [--base-align B]\n"
    "\n"
    "Lays out the buffer a launch needs, one arena per work-item (or N\n"
    "arenas), checks it against a device's limits without allocating\n"
    "anything, and prints the plan table (carve_plan_print). When carve\n"
    "refuses the plan, prints why and the status name, and exits with 2.\n"
    "\n"
    "  --ndrange X[,Y[,Z]]  one arena per work-item of this global size\n"
    "  --arenas N           N arenas, without an NDRange\n"
    "  --arena-bytes B      usable bytes per arena (rounded up to --align)\n"
    "  --align A            where each arena starts: a power of two from 16\n"
    "                       to 4096; 0 or none means 128\n"
    "  --device SEL         the device whose limits apply: P:D (platform and\n"
    "                       device numbers, as 'carve devices' shows them) or\n"
    "                       a substring of its name; default: CARVE_DEVICE,\n"
    "                       else the first device\n"
    "  --max-alloc B        plan for this CL_DEVICE_MAX_MEM_ALLOC_SIZE\n"
    "  --global-mem B       plan for this CL_DEVICE_GLOBAL_MEM_SIZE\n"
    "  --base-align B       plan for this CL_DEVICE_MEM_BASE_ADDR_ALIGN, in\n"
    "                       bytes (OpenCL reports it in bits)\n"
    "\n"
    "With all three limits given, no device is used or needed; with some,\n"
    "they replace the device's. Numbers take a K, M, G or T suffix (powers\n"
    "of 1024): 64K, 1M.\n"
    "\n"
    "examples:\n"
    "  carve plan --ndrange 512,512 --arena-bytes 1K\n"
    "  carve plan --arenas 4096 --arena-bytes 64K --max-alloc 512M \\\n"
    "             --global-mem 1G --base-align 128\n"
    "\n"
    "exit codes: 0 the plan fits; 1 a device query failed; 2 a usage error,\n"
    "or carve refused the plan; 3 no OpenCL device (or none matches).\n";

#define NDRANGE_PART_MAX 32

/* "X[,Y[,Z]]" into params->work_dim and global_size. */
static int parse_ndrange(const cli_command *self, const char *text,
                         carve_plan_params *params)
{
    const char *at = text;
    cl_uint dims = 0;
    for (;;) {
        const char *comma = strchr(at, ',');
        size_t length = comma ? (size_t)(comma - at) : strlen(at);
        char part[NDRANGE_PART_MAX];
        uint64_t size = 0;
        int result;
        if (dims == 3)
            return cli_usage_error(self,
                                   "--ndrange: '%s' has more than 3 "
                                   "dimensions",
                                   text);
        if (length == 0 || length >= sizeof part)
            return cli_usage_error(self,
                                   "--ndrange: '%s' is not X[,Y[,Z]] (1 to 3 "
                                   "numbers separated by commas)",
                                   text);
        memcpy(part, at, length);
        part[length] = '\0';
        result = cli_parse_number(self, "--ndrange", part, SIZE_MAX, &size);
        if (result != CLI_CONTINUE)
            return result;
        params->global_size[dims++] = (size_t)size;
        if (comma == NULL)
            break;
        at = comma + 1;
    }
    params->work_dim = dims;
    return CLI_CONTINUE;
}

static int read_params(const cli_command *self, const cli_arguments *args,
                       carve_plan_params *params)
{
    const char *ndrange = cli_value(args, "--ndrange");
    const char *arenas = cli_value(args, "--arenas");
    const char *arena_bytes = cli_value(args, "--arena-bytes");
    const char *align = cli_value(args, "--align");
    uint64_t alignment = 0;
    int result;
    memset(params, 0, sizeof *params);
    if (ndrange != NULL && arenas != NULL)
        return cli_usage_error(self, "give --ndrange or --arenas, not both");
    if (ndrange == NULL && arenas == NULL)
        return cli_usage_error(self, "give --ndrange X[,Y[,Z]] or --arenas N");
    if (arena_bytes == NULL)
        return cli_usage_error(self, "give --arena-bytes B, the usable bytes "
                                     "per arena");
    result = ndrange ? parse_ndrange(self, ndrange, params)
                     : cli_parse_number(self, "--arenas", arenas, UINT64_MAX,
                                        &params->arena_count);
    if (result == CLI_CONTINUE)
        result = cli_parse_number(self, "--arena-bytes", arena_bytes,
                                  UINT64_MAX, &params->arena_bytes);
    if (result == CLI_CONTINUE && align != NULL)
        result = cli_parse_number(self, "--align", align, UINT32_MAX,
                                  &alignment);
    params->arena_alignment = (uint32_t)alignment;
    return result;
}

/* The limits options, in the order of carve_device_limits. */
static const char *const limit_options[] = {"--max-alloc", "--global-mem",
                                            "--base-align"};
#define LIMIT_COUNT (sizeof limit_options / sizeof limit_options[0])

static int limits_from_device(const cli_command *self, const char *selector,
                              carve_device_limits *limits)
{
    cl_device_id device;
    cli_device_place place;
    carve_status status;
    int result = cli_find_device(self, selector, &device, &place);
    if (result != CLI_CONTINUE) {
        fprintf(stderr, "to plan without a device, give --max-alloc, "
                        "--global-mem and --base-align\n");
        return result;
    }
    status = carve_device_limits_query(device, limits);
    if (status != CARVE_SUCCESS) {
        fflush(stdout);
        fprintf(stderr, "carve %s: querying device %s failed: %s (%d)\n",
                self->name, place.label, carve_status_string(status),
                (int)status);
        return CLI_EXIT_FAILURE;
    }
    printf("device %s: %s\n", place.label, place.name);
    return CLI_CONTINUE;
}

/* The device's limits, with the ones given on the command line in their
 * place; no device at all when all are given. */
static int read_limits(const cli_command *self, const cli_arguments *args,
                       carve_device_limits *limits)
{
    const char *device = cli_value(args, "--device");
    const char *given[LIMIT_COUNT];
    uint64_t value[LIMIT_COUNT] = {0};
    size_t i, given_count = 0;
    int result = CLI_CONTINUE;
    for (i = 0; i < LIMIT_COUNT && result == CLI_CONTINUE; ++i) {
        given[i] = cli_value(args, limit_options[i]);
        if (given[i] == NULL)
            continue;
        ++given_count;
        result = cli_parse_number(self, limit_options[i], given[i],
                                  i == 2 ? UINT32_MAX : UINT64_MAX, &value[i]);
    }
    if (result != CLI_CONTINUE)
        return result;
    if (given_count == LIMIT_COUNT && device != NULL)
        return cli_usage_error(self, "--device has no effect when "
                                     "--max-alloc, --global-mem and "
                                     "--base-align are all given");
    memset(limits, 0, sizeof *limits);
    if (given_count == LIMIT_COUNT)
        printf("limits: from the command line, no device\n");
    else
        result = limits_from_device(self, device, limits);
    for (i = 0; i < LIMIT_COUNT && result == CLI_CONTINUE; ++i) {
        if (given[i] != NULL && given_count < LIMIT_COUNT)
            printf("limits: %s %s replaces the device's value\n",
                   limit_options[i], given[i]);
    }
    if (given[0] != NULL)
        limits->max_mem_alloc_size = value[0];
    if (given[1] != NULL)
        limits->global_mem_size = value[1];
    if (given[2] != NULL)
        limits->base_addr_align = (uint32_t)value[2];
    return result;
}

static int run_plan(const cli_command *self, int argc, char **argv)
{
    cli_option options[] = {
        {"--ndrange", "X[,Y[,Z]]", NULL}, {"--arenas", "N", NULL},
        {"--arena-bytes", "B", NULL},     {"--align", "A", NULL},
        {"--device", "SEL", NULL},        {"--max-alloc", "B", NULL},
        {"--global-mem", "B", NULL},      {"--base-align", "B", NULL},
    };
    cli_arguments args = {options, sizeof options / sizeof options[0], NULL,
                          0, 0};
    carve_plan_params params;
    carve_device_limits limits;
    carve_plan plan;
    carve_status status;
    int result = cli_parse(self, argc, argv, &args);
    if (result == CLI_CONTINUE)
        result = read_params(self, &args, &params);
    if (result == CLI_CONTINUE)
        result = read_limits(self, &args, &limits);
    if (result != CLI_CONTINUE)
        return result;
    status = carve_plan_compute(&params, &limits, &plan);
    if (status != CARVE_SUCCESS) {
        fflush(stdout);
        fprintf(stderr, "carve plan: refused: %s\nstatus: %s (%d)\n",
                plan.message, carve_status_string(status), (int)status);
        return CLI_EXIT_REFUSED;
    }
    status = carve_plan_print(&plan, stdout);
    if (status != CARVE_SUCCESS) {
        fprintf(stderr, "carve plan: printing the plan failed: %s\n",
                carve_status_string(status));
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

const cli_command cli_plan_command = {
    "plan", "lay out an arena set and check it against a device's limits",
    plan_help, run_plan};
