/* plan.c - `carve plan`: lays out an arena set and checks it against a
 * device's limits, or against limits given on the command line, with the
 * library's own carve_plan_compute; allocates nothing. Every field of
 * carve_plan_params has an option, so that the plan of any program can be
 * reproduced; --json prints the result for scripts. --split lays out one
 * launch over several devices with the same limits instead
 * (carve_split_plan_compute, carve/split.h). */
#include "cli.h"

#include <carve/split.h>

/* The library's JSON writer, which carve log and carve fit print with:
 * one key style, number format and string escaping for all of carve's
 * JSON. (The tool links the static library, which has it.) */
#include "diag_output.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const char plan_help[] =
    "usage: carve plan (--ndrange X[,Y[,Z]] | --arenas N) --arena-bytes B\n"
    "                  [--align A] [--checks] [--small-runs]\n"
    "                  [--heap-bytes B] [--heap-page B] [--large-request B]\n"
    "                  [--heap-fallback] [--error-log N] [--event-log N]\n"
    "                  [--device SEL]\n"
    "                  [--max-alloc B] [--global-mem B] [--base-align B]\n"
    "                  [--split S1,S2[,...] [--granule N] [--offset X[,Y[,Z]]]]\n"
    "                  [--json]\n"
    "\n"
    "Lays out the buffer a launch needs, one arena per work-item (or N\n"
    "arenas), checks it against a device's limits without allocating\n"
    "anything, and prints the plan table (carve_plan_print). Each option\n"
    "below sets one field of carve_plan_params, so a program's plan can be\n"
    "reproduced exactly; an option left out is that field's 0. When carve\n"
    "refuses the plan (carve_plan_compute decides, also on options that\n"
    "do not go together), prints why and the status name, and exits with 2.\n"
    "\n"
    "arenas:\n"
    "  --ndrange X[,Y[,Z]]  one arena per work-item of this global size\n"
    "  --arenas N           N arenas, without an NDRange\n"
    "  --arena-bytes B      usable bytes per arena (rounded up to --align)\n"
    "  --align A            where each arena starts: a power of two from 16\n"
    "                       to 4096; 0 or none means 128\n"
    "  --checks             redzones around every block, verified when it\n"
    "                       is freed and by the host (CARVE_PLAN_CHECKS)\n"
    "  --small-runs         requests of up to 256 B from runs, slabs of 32\n"
    "                       slots of one size inside the arena\n"
    "                       (CARVE_PLAN_SMALL_RUNS)\n"
    "\n"
    "shared heap:\n"
    "  --heap-bytes B       a heap all work-items share, rounded up to\n"
    "                       whole pages; 0 or none: no heap\n"
    "  --heap-page B        the heap's page: a power of two from 2K to 1M;\n"
    "                       0 or none means 4K. A request over half a page\n"
    "                       takes whole pages\n"
    "  --large-request B    requests of B bytes or more go straight to the\n"
    "                       heap; 0 or none means those over a quarter of\n"
    "                       the arena. No effect without a heap\n"
    "  --heap-fallback      a request that a full arena cannot serve takes\n"
    "                       heap memory instead of failing\n"
    "                       (CARVE_PLAN_HEAP_FALLBACK; needs --heap-bytes)\n"
    "\n"
    "logs:\n"
    "  --error-log N        records kept of misuse and damage found on the\n"
    "                       device (more are counted, not kept); 0 or none\n"
    "                       means 256\n"
    "  --event-log N        records of the event log (every allocation,\n"
    "                       free and failure, for 'carve log'); 0 or none:\n"
    "                       no event log\n"
    "\n"
    "limits:\n"
    "  --device SEL         the device whose limits apply: P:D (platform and\n"
    "                       device numbers, as 'carve devices' shows them) or\n"
    "                       a substring of its name; default: CARVE_DEVICE,\n"
    "                       else the first device\n"
    "  --max-alloc B        plan for this CL_DEVICE_MAX_MEM_ALLOC_SIZE\n"
    "  --global-mem B       plan for this CL_DEVICE_GLOBAL_MEM_SIZE\n"
    "  --base-align B       plan for this CL_DEVICE_MEM_BASE_ADDR_ALIGN, in\n"
    "                       bytes (OpenCL reports it in bits)\n"
    "\n"
    "one launch over several devices (carve/split.h):\n"
    "  --split S1,S2[,...]  split the --ndrange launch along its slowest\n"
    "                       dimension over as many devices as shares given\n"
    "                       (1 to 16), in proportion to the shares (each 0\n"
    "                       to 65535; all equal, or all 0, means evenly),\n"
    "                       as carve_split_plan_compute does, and print the\n"
    "                       slices instead of the plan table: each device's\n"
    "                       offset, size, arenas and buffer. Every device\n"
    "                       gets the same limits, those above (--device, or\n"
    "                       --max-alloc, --global-mem and --base-align); a\n"
    "                       program checks devices with different limits by\n"
    "                       calling carve_split_plan_compute with each one's.\n"
    "                       A slice too big for its device is refused with\n"
    "                       CARVE_ERROR_SLICE_REFUSED, naming the device\n"
    "  --granule N          slices start on multiples of N work-items of the\n"
    "                       slowest dimension (the local size there, for a\n"
    "                       launch that gives one); 0 or none means 1.\n"
    "                       Only with --split\n"
    "  --offset X[,Y[,Z]]   the launch's global offset, as many numbers as\n"
    "                       --ndrange has; each slice adds its own in the\n"
    "                       slowest dimension, which moves the arena indices.\n"
    "                       Only with --split (--split 1: one device with an\n"
    "                       offset)\n"
    "\n"
    "output:\n"
    "  --json               one JSON object instead of the table: the\n"
    "                       parameters, the limits and where each came from,\n"
    "                       every part's offset and size, and the total; for\n"
    "                       a refused plan, \"refused\": true with the message\n"
    "                       and the status. With --split, \"split\" in place\n"
    "                       of \"plan\": the shares, granule and offset, each\n"
    "                       slice's offset, size, arenas and bytes, and the\n"
    "                       totals; a refused slice adds \"refused_slice\"\n"
    "\n"
    "With all three limits given, no device is used or needed; with some,\n"
    "they replace the device's. Numbers take a K, M, G or T suffix (powers\n"
    "of 1024): 64K, 1M.\n"
    "\n"
    "examples:\n"
    "  carve plan --ndrange 512,512 --arena-bytes 1K\n"
    "  carve plan --arenas 4096 --arena-bytes 64K --max-alloc 512M \\\n"
    "             --global-mem 1G --base-align 128\n"
    "  carve plan --ndrange 1024,256 --arena-bytes 1K --checks \\\n"
    "             --heap-bytes 64M --heap-fallback --event-log 64K --json \\\n"
    "             --max-alloc 1G --global-mem 2G --base-align 128\n"
    "  carve plan --ndrange 1000000 --arena-bytes 1K --split 3,1 \\\n"
    "             --max-alloc 1G --global-mem 2G --base-align 128\n"
    "\n"
    "exit codes: 0 the plan fits; 1 a device query failed; 2 a usage error,\n"
    "or carve refused the plan; 3 no OpenCL device (or none matches).\n";

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* An option whose number fills one field of carve_plan_params or of
 * carve_device_limits as given. The tables of them drive the parsing, the
 * JSON keys and the command line that carve fit prints, so that a new
 * field needs one row, not edits in several places that could disagree. */
typedef struct number_option {
    const char *name;       /* "--heap-bytes" */
    const char *value_name; /* "B" or "N", as the help shows it */
    const char *key;        /* the field's name, also its JSON key */
    size_t offset;          /* of the field in its struct */
    size_t size;            /* of the field: a uint32_t or a uint64_t */
} number_option;

#define NUMBER_OPTION(name, value_name, type, field)                         \
    {name, value_name, #field, offsetof(type, field),                         \
     sizeof(((type *)0)->field)}

/* The fields of carve_plan_params that one number sets; the NDRange and
 * arena_count come from --ndrange or --arenas. */
static const number_option param_options[] = {
    NUMBER_OPTION("--arena-bytes", "B", carve_plan_params, arena_bytes),
    NUMBER_OPTION("--align", "A", carve_plan_params, arena_alignment),
    NUMBER_OPTION("--heap-bytes", "B", carve_plan_params, heap_bytes),
    NUMBER_OPTION("--heap-page", "B", carve_plan_params, heap_page_bytes),
    NUMBER_OPTION("--large-request", "B", carve_plan_params,
                  large_request_bytes),
    NUMBER_OPTION("--error-log", "N", carve_plan_params, error_log_records),
    NUMBER_OPTION("--event-log", "N", carve_plan_params, event_log_records),
};

static const number_option limit_options[] = {
    NUMBER_OPTION("--max-alloc", "B", carve_device_limits,
                  max_mem_alloc_size),
    NUMBER_OPTION("--global-mem", "B", carve_device_limits, global_mem_size),
    NUMBER_OPTION("--base-align", "B", carve_device_limits, base_addr_align),
};

/* The CARVE_PLAN_* flags, one option each. */
typedef struct flag_option {
    const char *name; /* "--checks" */
    const char *key;  /* its JSON key, as carve fit --json names it */
    uint32_t bit;
} flag_option;

static const flag_option flag_options[] = {
    {"--checks", "checks", CARVE_PLAN_CHECKS},
    {"--heap-fallback", "heap_fallback", CARVE_PLAN_HEAP_FALLBACK},
    {"--small-runs", "small_runs", CARVE_PLAN_SMALL_RUNS},
};

/* Options of no table: --ndrange, --arenas, --device, --json, and the
 * split's --split, --granule and --offset. */
#define OTHER_OPTION_COUNT 7
#define PLAN_OPTION_COUNT                                                     \
    (OTHER_OPTION_COUNT + COUNT(param_options) + COUNT(limit_options) +       \
     COUNT(flag_options))

/* The largest number the field holds: a uint32_t field refuses a larger
 * one as a usage error rather than truncating it. */
static uint64_t field_max(const number_option *option)
{
    return option->size == sizeof(uint32_t) ? UINT32_MAX : UINT64_MAX;
}

static uint64_t field_get(const void *object, const number_option *option)
{
    const unsigned char *field = (const unsigned char *)object + option->offset;
    uint32_t narrow;
    uint64_t wide;
    if (option->size == sizeof narrow) {
        memcpy(&narrow, field, sizeof narrow);
        return narrow;
    }
    assert(option->size == sizeof wide);
    memcpy(&wide, field, sizeof wide);
    return wide;
}

/* `value` must be at most field_max(option). */
static void field_set(void *object, const number_option *option,
                      uint64_t value)
{
    unsigned char *field = (unsigned char *)object + option->offset;
    uint32_t narrow = (uint32_t)value;
    assert(value <= field_max(option));
    if (option->size == sizeof narrow)
        memcpy(field, &narrow, sizeof narrow);
    else
        memcpy(field, &value, sizeof value);
}

static void list_options(cli_option options[PLAN_OPTION_COUNT])
{
    static const cli_option others[OTHER_OPTION_COUNT] = {
        {"--ndrange", "X[,Y[,Z]]", NULL},
        {"--arenas", "N", NULL},
        {"--device", "SEL", NULL},
        {"--json", NULL, NULL},
        {"--split", "S1,S2[,...]", NULL},
        {"--granule", "N", NULL},
        {"--offset", "X[,Y[,Z]]", NULL},
    };
    size_t i, n = 0;
    for (i = 0; i < COUNT(others); ++i)
        options[n++] = others[i];
    for (i = 0; i < COUNT(param_options); ++i)
        options[n++] = (cli_option){param_options[i].name,
                                    param_options[i].value_name, NULL};
    for (i = 0; i < COUNT(limit_options); ++i)
        options[n++] = (cli_option){limit_options[i].name,
                                    limit_options[i].value_name, NULL};
    for (i = 0; i < COUNT(flag_options); ++i)
        options[n++] = (cli_option){flag_options[i].name, NULL, NULL};
    assert(n == PLAN_OPTION_COUNT);
}

/* What the command line asks for, and where its limits came from. */
typedef struct plan_request {
    carve_plan_params params;
    carve_device_limits limits;
    /* 1: limit_options[i] is from the command line; 0: the device's. */
    int limit_given[COUNT(limit_options)];
    int device_used; /* some limit is the device's, which `place` names */
    cli_device_place place;
    /* --split: the launch over split.device_count devices, each with
     * `limits`; split.plan is `params` once they are read. */
    int split_given;
    carve_split_params split;
} plan_request;

/* Sets the field `option` fills in `object` when the option is given;
 * *given (if not NULL) says whether it was. */
static int read_number(const cli_command *self, const cli_arguments *args,
                       const number_option *option, void *object, int *given)
{
    const char *text = cli_value(args, option->name);
    uint64_t value = 0;
    int result;
    if (given != NULL)
        *given = text != NULL;
    if (text == NULL)
        return CLI_CONTINUE;
    result = cli_parse_number(self, option->name, text, field_max(option),
                              &value);
    if (result == CLI_CONTINUE)
        field_set(object, option, value);
    return result;
}

/* A list of numbers separated by commas, as an option takes it. */
typedef struct number_list {
    const char *option; /* "--ndrange" */
    const char *form;   /* "X[,Y[,Z]]", as the help shows it */
    const char *items;  /* "dimensions": what more than max_count are */
    size_t max_count;
    uint64_t max_value; /* of each number */
} number_list;

static const number_list ndrange_list = {"--ndrange", "X[,Y[,Z]]",
                                         "dimensions", 3, SIZE_MAX};
static const number_list offset_list = {"--offset", "X[,Y[,Z]]",
                                        "dimensions", 3, SIZE_MAX};
static const number_list share_list = {"--split", "S1,S2[,...]", "shares",
                                       CARVE_SPLIT_MAX_DEVICES,
                                       CARVE_SPLIT_MAX_SHARE};

#define LIST_PART_MAX 32

/* `text`, one to list->max_count numbers, into values[0..*count). */
static int parse_list(const cli_command *self, const number_list *list,
                      const char *text, uint64_t *values, size_t *count)
{
    const char *at = text;
    size_t n = 0;
    for (;;) {
        const char *comma = strchr(at, ',');
        size_t length = comma ? (size_t)(comma - at) : strlen(at);
        char part[LIST_PART_MAX];
        int result;
        if (n == list->max_count)
            return cli_usage_error(self, "%s: '%s' has more than %zu %s",
                                   list->option, text, list->max_count,
                                   list->items);
        if (length == 0 || length >= sizeof part)
            return cli_usage_error(self,
                                   "%s: '%s' is not %s (1 to %zu numbers "
                                   "separated by commas)",
                                   list->option, text, list->form,
                                   list->max_count);
        memcpy(part, at, length);
        part[length] = '\0';
        result = cli_parse_number(self, list->option, part, list->max_value,
                                  &values[n]);
        if (result != CLI_CONTINUE)
            return result;
        ++n;
        if (comma == NULL)
            break;
        at = comma + 1;
    }
    *count = n;
    return CLI_CONTINUE;
}

/* "X[,Y[,Z]]" into params->work_dim and global_size. */
static int parse_ndrange(const cli_command *self, const char *text,
                         carve_plan_params *params)
{
    uint64_t sizes[3];
    size_t dims = 0, d;
    int result = parse_list(self, &ndrange_list, text, sizes, &dims);
    if (result != CLI_CONTINUE)
        return result;
    for (d = 0; d < dims; ++d)
        params->global_size[d] = (size_t)sizes[d];
    params->work_dim = (cl_uint)dims;
    return CLI_CONTINUE;
}

/* The command line's carve_plan_params. Only what the tool must know to
 * fill them in is checked here; carve_plan_compute judges the values. */
static int read_params(const cli_command *self, const cli_arguments *args,
                       carve_plan_params *params)
{
    const char *ndrange = cli_value(args, "--ndrange");
    const char *arenas = cli_value(args, "--arenas");
    size_t i;
    int result;
    memset(params, 0, sizeof *params);
    if (ndrange != NULL && arenas != NULL)
        return cli_usage_error(self, "give --ndrange or --arenas, not both");
    if (ndrange == NULL && arenas == NULL)
        return cli_usage_error(self, "give --ndrange X[,Y[,Z]] or --arenas N");
    if (cli_value(args, "--arena-bytes") == NULL)
        return cli_usage_error(self, "give --arena-bytes B, the usable bytes "
                                     "per arena");
    result = ndrange ? parse_ndrange(self, ndrange, params)
                     : cli_parse_number(self, "--arenas", arenas, UINT64_MAX,
                                        &params->arena_count);
    for (i = 0; i < COUNT(param_options) && result == CLI_CONTINUE; ++i)
        result = read_number(self, args, &param_options[i], params, NULL);
    for (i = 0; i < COUNT(flag_options); ++i)
        if (cli_value(args, flag_options[i].name) != NULL)
            params->options |= flag_options[i].bit;
    return result;
}

/* --split, --granule and --offset into request->split (all 0 without
 * --split). Only what the tool must know to fill them in is checked here;
 * carve_split_plan_compute judges the values. Needs request->params. */
static int read_split(const cli_command *self, const cli_arguments *args,
                      plan_request *request)
{
    const char *shares = cli_value(args, "--split");
    const char *granule = cli_value(args, "--granule");
    const char *offset = cli_value(args, "--offset");
    carve_split_params *split = &request->split;
    uint64_t values[CARVE_SPLIT_MAX_DEVICES];
    size_t count = 0, i;
    int result;
    memset(split, 0, sizeof *split);
    request->split_given = shares != NULL;
    if (shares == NULL) {
        if (granule != NULL)
            return cli_usage_error(self, "--granule needs --split: it says "
                                         "where the slices of a split start");
        if (offset != NULL)
            return cli_usage_error(self, "--offset needs --split (for one "
                                         "device with an offset, --split 1)");
        return CLI_CONTINUE;
    }
    if (request->params.work_dim == 0)
        return cli_usage_error(self, "--split needs --ndrange: a plan of "
                                     "--arenas has no NDRange to split");
    result = parse_list(self, &share_list, shares, values, &count);
    if (result != CLI_CONTINUE)
        return result;
    split->device_count = (cl_uint)count;
    for (i = 0; i < count; ++i)
        split->shares[i] = (uint32_t)values[i];
    if (granule != NULL) {
        result = cli_parse_number(self, "--granule", granule, SIZE_MAX,
                                  &values[0]);
        if (result != CLI_CONTINUE)
            return result;
        split->granule = (size_t)values[0];
    }
    if (offset != NULL) {
        result = parse_list(self, &offset_list, offset, values, &count);
        if (result != CLI_CONTINUE)
            return result;
        if (count != request->params.work_dim)
            return cli_usage_error(self,
                                   "--offset: '%s' has %zu dimension(s), "
                                   "--ndrange %u",
                                   offset, count,
                                   (unsigned)request->params.work_dim);
        for (i = 0; i < count; ++i)
            split->global_offset[i] = (size_t)values[i];
    }
    return CLI_CONTINUE;
}

static int limits_from_device(const cli_command *self, const char *selector,
                              carve_device_limits *limits,
                              cli_device_place *place)
{
    cl_device_id device;
    carve_status status;
    int result = cli_find_device(self, selector, &device, place);
    if (result != CLI_CONTINUE) {
        fprintf(stderr, "to plan without a device, give --max-alloc, "
                        "--global-mem and --base-align\n");
        return result;
    }
    status = carve_device_limits_query(device, limits);
    if (status != CARVE_SUCCESS) {
        fflush(stdout);
        fprintf(stderr, "carve %s: querying device %s failed: %s (%d)\n",
                self->name, place->label, carve_status_string(status),
                (int)status);
        return CLI_EXIT_FAILURE;
    }
    return CLI_CONTINUE;
}

/* The device's limits, with the ones given on the command line in their
 * place; no device at all when all are given. */
static int read_limits(const cli_command *self, const cli_arguments *args,
                       plan_request *request)
{
    const char *device = cli_value(args, "--device");
    carve_device_limits given;
    size_t i, given_count = 0;
    int result = CLI_CONTINUE;
    memset(&given, 0, sizeof given);
    memset(&request->limits, 0, sizeof request->limits);
    for (i = 0; i < COUNT(limit_options) && result == CLI_CONTINUE; ++i) {
        result = read_number(self, args, &limit_options[i], &given,
                             &request->limit_given[i]);
        given_count += (size_t)request->limit_given[i];
    }
    if (result != CLI_CONTINUE)
        return result;
    if (given_count == COUNT(limit_options) && device != NULL)
        return cli_usage_error(self, "--device has no effect when "
                                     "--max-alloc, --global-mem and "
                                     "--base-align are all given");
    request->device_used = given_count < COUNT(limit_options);
    if (request->device_used)
        result = limits_from_device(self, device, &request->limits,
                                    &request->place);
    for (i = 0; i < COUNT(limit_options); ++i)
        if (request->limit_given[i])
            field_set(&request->limits, &limit_options[i],
                      field_get(&given, &limit_options[i]));
    return result;
}

/* What the table does not say: whose limits it checked. */
static void print_limit_sources(const cli_arguments *args,
                                const plan_request *request)
{
    size_t i;
    if (!request->device_used) {
        printf("limits: from the command line, no device\n");
        return;
    }
    printf("device %s: %s\n", request->place.label, request->place.name);
    for (i = 0; i < COUNT(limit_options); ++i)
        if (request->limit_given[i])
            printf("limits: %s %s replaces the device's value\n",
                   limit_options[i].name,
                   cli_value(args, limit_options[i].name));
}

void cli_print_plan_command(const carve_plan_params *params, FILE *stream)
{
    size_t i;
    cl_uint d;
    fputs("carve plan", stream);
    if (params->work_dim == 0)
        fprintf(stream, " --arenas %llu",
                (unsigned long long)params->arena_count);
    for (d = 0; d < params->work_dim && d < 3; ++d)
        fprintf(stream, "%s%llu", d == 0 ? " --ndrange " : ",",
                (unsigned long long)params->global_size[d]);
    /* 0 is every field's default: leaving it out means the same. */
    for (i = 0; i < COUNT(param_options); ++i)
        if (field_get(params, &param_options[i]) != 0)
            fprintf(stream, " %s %llu", param_options[i].name,
                    (unsigned long long)field_get(params, &param_options[i]));
    for (i = 0; i < COUNT(flag_options); ++i)
        if (params->options & flag_options[i].bit)
            fprintf(stream, " %s", flag_options[i].name);
    fputc('\n', stream);
}

/* ---- --json ---------------------------------------------------------------- */

static void json_limits(carve__json *j, const plan_request *request)
{
    size_t i;
    if (request->device_used) {
        carve__json_open(j, "device", '{');
        carve__json_text(j, "place", request->place.label);
        carve__json_text(j, "name", request->place.name);
        carve__json_close(j, '}');
    } else {
        carve__json_text(j, "device", NULL);
    }
    carve__json_open(j, "limits", '{');
    for (i = 0; i < COUNT(limit_options); ++i)
        carve__json_uint(j, limit_options[i].key,
                         field_get(&request->limits, &limit_options[i]));
    carve__json_close(j, '}');
    carve__json_open(j, "limits_from", '{');
    for (i = 0; i < COUNT(limit_options); ++i)
        carve__json_text(j, limit_options[i].key,
                         request->limit_given[i] ? "command_line" : "device");
    carve__json_close(j, '}');
}

static void json_part(carve__json *j, const char *name, uint64_t offset,
                      uint64_t bytes)
{
    carve__json_open(j, NULL, '{');
    carve__json_text(j, "part", name);
    carve__json_uint(j, "offset", offset);
    carve__json_uint(j, "bytes", bytes);
    carve__json_close(j, '}');
}

/* The parts that carve_plan_print lists, in its order and with its
 * sizes. */
static void json_parts(carve__json *j, const carve_plan *plan)
{
    carve__json_open(j, "parts", '[');
    json_part(j, "header", 0, plan->header_bytes);
    json_part(j, "state_table", plan->state_offset, plan->state_bytes);
    json_part(j, "error_log", plan->error_offset,
              (uint64_t)plan->error_capacity * sizeof(carve_error_record));
    if (plan->event_capacity)
        json_part(j, "event_log", plan->event_offset,
                  (uint64_t)plan->event_capacity * sizeof(carve_event_record));
    if (plan->heap_pages)
        json_part(j, "heap_tables", plan->heap_meta_offset,
                  plan->heap_meta_bytes);
    json_part(j, "arenas", plan->arenas_offset, plan->arenas_bytes);
    if (plan->heap_pages)
        json_part(j, "shared_heap", plan->heap_offset,
                  (uint64_t)plan->heap_pages * plan->heap_page_bytes);
    carve__json_close(j, ']');
}

static void json_flags(carve__json *j, uint32_t options)
{
    size_t i;
    for (i = 0; i < COUNT(flag_options); ++i)
        carve__json_bool(j, flag_options[i].key,
                         (options & flag_options[i].bit) != 0);
}

/* The computed plan, under carve_plan's field names. */
static void json_plan(carve__json *j, const carve_plan *plan)
{
    carve__json_open(j, "plan", '{');
    carve__json_uint(j, "arena_count", plan->arena_count);
    carve__json_uint(j, "arena_bytes", plan->arena_bytes);
    carve__json_uint(j, "arena_alignment", plan->arena_alignment);
    carve__json_uint(j, "arena_granules", plan->arena_granules);
    carve__json_uint(j, "class_count", plan->class_count);
    carve__json_uint(j, "state_stride", plan->state_stride);
    json_flags(j, plan->options);
    carve__json_uint(j, "error_capacity", plan->error_capacity);
    carve__json_uint(j, "event_capacity", plan->event_capacity);
    carve__json_uint(j, "heap_pages", plan->heap_pages);
    carve__json_uint(j, "heap_page_bytes", plan->heap_page_bytes);
    carve__json_uint(j, "heap_class_count", plan->heap_class_count);
    carve__json_uint(j, "large_bytes", plan->large_bytes);
    json_parts(j, plan);
    carve__json_uint(j, "total_bytes", plan->total_bytes);
    carve__json_close(j, '}');
}

/* A status's name alone, what a script compares: carve_status_string
 * says "NAME: what it means". */
static void json_status_name(carve__json *j, const char *key,
                             carve_status status)
{
    const char *text = carve_status_string(status);
    size_t name_length = strcspn(text, ":");
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)name_length, text);
    carve__json_text(j, key, name);
}

/* Why carve refused: its message, and the status as name and number. */
static void json_refusal(carve__json *j, const char *message,
                         carve_status status)
{
    carve__json_text(j, "message", message);
    json_status_name(j, "status", status);
    /* The writer has no signed integers; %.6g writes these four-digit
     * codes exactly. */
    carve__json_real(j, "status_code", (double)status);
}

/* What every --json document starts with: the request, and the refusal if
 * carve refused it. Leaves the document's object open. */
static void json_document_start(carve__json *j, const plan_request *request,
                                const char *message, carve_status status)
{
    carve__json_start(j, stdout);
    carve__json_open(j, NULL, '{');
    carve__json_text(j, "format", "carve-plan");
    carve__json_uint(j, "version", 1);
    json_limits(j, request);
    carve__json_plan_params(j, "params", &request->params);
    carve__json_bool(j, "refused", status != CARVE_SUCCESS);
    if (status != CARVE_SUCCESS)
        json_refusal(j, message, status);
}

static void print_json(const plan_request *request, const carve_plan *plan,
                       carve_status status)
{
    carve__json j;
    json_document_start(&j, request, plan->message, status);
    if (status == CARVE_SUCCESS)
        json_plan(&j, plan);
    carve__json_close(&j, '}');
}

/* The first `dims` of a size_t[3] as a JSON array. */
static void json_sizes(carve__json *j, const char *key, const size_t *sizes,
                       cl_uint dims)
{
    cl_uint d;
    carve__json_open(j, key, '[');
    for (d = 0; d < dims; ++d)
        carve__json_uint(j, NULL, sizes[d]);
    carve__json_close(j, ']');
}

/* --split: what was asked (the shares as given, the granule as given, 0
 * meaning 1, and the launch's offset), then, for a split that fits, each
 * device's slice and the totals. */
static void json_split(carve__json *j, const carve_split_params *params,
                       const carve_split_plan *plan, carve_status status)
{
    const cl_uint dims = params->plan.work_dim;
    cl_uint i;
    carve__json_open(j, "split", '{');
    carve__json_uint(j, "devices", params->device_count);
    carve__json_uint(j, "split_dim", dims - 1);
    carve__json_open(j, "shares", '[');
    for (i = 0; i < params->device_count; ++i)
        carve__json_uint(j, NULL, params->shares[i]);
    carve__json_close(j, ']');
    carve__json_uint(j, "granule", params->granule);
    json_sizes(j, "global_offset", params->global_offset, dims);
    if (status == CARVE_SUCCESS) {
        carve__json_open(j, "slices", '[');
        for (i = 0; i < params->device_count; ++i) {
            const carve_slice *slice = &plan->slices[i];
            carve__json_open(j, NULL, '{');
            carve__json_uint(j, "device", i);
            json_sizes(j, "global_offset", slice->global_offset, dims);
            json_sizes(j, "global_size", slice->global_size, dims);
            carve__json_uint(j, "first_arena", slice->first_arena);
            carve__json_uint(j, "arena_count", slice->plan.arena_count);
            carve__json_uint(j, "total_bytes", slice->plan.total_bytes);
            carve__json_close(j, '}');
        }
        carve__json_close(j, ']');
        carve__json_uint(j, "arena_count", plan->arena_count);
        carve__json_uint(j, "total_bytes", plan->total_bytes);
    }
    carve__json_close(j, '}');
}

/* As print_json, with "split" in the place of "plan", and for a slice too
 * big for its device which one and why. */
static void print_split_json(const plan_request *request,
                             const carve_split_plan *plan,
                             carve_status status)
{
    carve__json j;
    json_document_start(&j, request, plan->message, status);
    if (status == CARVE_ERROR_SLICE_REFUSED) {
        carve__json_uint(&j, "refused_slice", plan->refused_slice);
        json_status_name(&j, "refused_status", plan->refused_status);
    }
    json_split(&j, &request->split, plan, status);
    carve__json_close(&j, '}');
}

/* ---- the command ------------------------------------------------------------- */

/* Why carve refused, on stderr, whatever else is printed. */
static void print_refusal(const char *message, carve_status status)
{
    fflush(stdout);
    fprintf(stderr, "carve plan: refused: %s\nstatus: %s (%d)\n", message,
            carve_status_string(status), (int)status);
}

/* --split: every device with the request's limits. */
static int run_split(plan_request *request, int json)
{
    carve_device_limits limits[CARVE_SPLIT_MAX_DEVICES];
    carve_split_plan plan;
    carve_status status;
    cl_uint i;
    for (i = 0; i < CARVE_SPLIT_MAX_DEVICES; ++i)
        limits[i] = request->limits;
    request->split.plan = request->params;
    status = carve_split_plan_compute(&request->split, limits, &plan);
    if (status != CARVE_SUCCESS)
        print_refusal(plan.message, status);
    if (json) {
        print_split_json(request, &plan, status);
    } else if (status == CARVE_SUCCESS) {
        status = carve_split_plan_print(&plan, stdout);
        if (status != CARVE_SUCCESS) {
            fprintf(stderr, "carve plan: printing the split failed: %s\n",
                    carve_status_string(status));
            return CLI_EXIT_FAILURE;
        }
    }
    return status == CARVE_SUCCESS ? CLI_EXIT_OK : CLI_EXIT_REFUSED;
}

static int run_plan(const cli_command *self, int argc, char **argv)
{
    cli_option options[PLAN_OPTION_COUNT];
    cli_arguments args = {options, PLAN_OPTION_COUNT, NULL, 0, 0};
    plan_request request;
    carve_plan plan;
    carve_status status;
    int json, result;
    list_options(options);
    result = cli_parse(self, argc, argv, &args);
    if (result == CLI_CONTINUE)
        result = read_params(self, &args, &request.params);
    if (result == CLI_CONTINUE)
        result = read_split(self, &args, &request);
    if (result == CLI_CONTINUE)
        result = read_limits(self, &args, &request);
    if (result != CLI_CONTINUE)
        return result;
    json = cli_value(&args, "--json") != NULL;
    if (!json)
        print_limit_sources(&args, &request);
    if (request.split_given)
        return run_split(&request, json);
    status = carve_plan_compute(&request.params, &request.limits, &plan);
    if (status != CARVE_SUCCESS)
        print_refusal(plan.message, status);
    if (json) {
        print_json(&request, &plan, status);
    } else if (status == CARVE_SUCCESS) {
        status = carve_plan_print(&plan, stdout);
        if (status != CARVE_SUCCESS) {
            fprintf(stderr, "carve plan: printing the plan failed: %s\n",
                    carve_status_string(status));
            return CLI_EXIT_FAILURE;
        }
    }
    return status == CARVE_SUCCESS ? CLI_EXIT_OK : CLI_EXIT_REFUSED;
}

const cli_command cli_plan_command = {
    "plan", "lay out an arena set and check it against a device's limits",
    plan_help, run_plan};
