/*
 * cli.h - what the subcommands of the `carve` tool share: exit codes, the
 * command table's row, option and number parsing, and device lookup.
 *
 * Adding a subcommand: write NAME.c defining a `const cli_command
 * cli_NAME_command` (its name, a one-line summary, its --help text and a
 * run function), declare it at the end of this file, and add it to the
 * table in main.c. Everything else (carve --help, carve NAME --help,
 * carve help NAME) follows from the row.
 */
#ifndef CARVE_CLI_H
#define CARVE_CLI_H

#include <carve/carve.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes, the same for every subcommand (listed by carve --help). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1   /* an OpenCL or carve call failed */
#define CLI_EXIT_USAGE 2     /* the command line is wrong */
#define CLI_EXIT_REFUSED 2   /* carve refused the request, e.g. a plan */
#define CLI_EXIT_NO_DEVICE 3 /* no OpenCL device, or none matches */

/* Returned by the parsing helpers when the command should go on; any other
 * value is the exit code to stop with (after a message or the help). */
#define CLI_CONTINUE (-1)

typedef struct cli_command cli_command;

struct cli_command {
    const char *name;
    const char *summary; /* one line for carve --help */
    const char *help;    /* the whole text of carve NAME --help */
    /* argv[0] is the command's name; returns an exit code. */
    int (*run)(const cli_command *self, int argc, char **argv);
};

/* One option a command accepts. */
typedef struct cli_option {
    const char *name;       /* "--arena-bytes" */
    const char *value_name; /* "B" for an option with a value, NULL for a flag */
    /* Filled by cli_parse: the value ("" for a flag), or NULL if absent. */
    const char *value;
} cli_option;

/* What a command accepts and, after cli_parse, what it was given. */
typedef struct cli_arguments {
    cli_option *options;
    size_t option_count;
    const char **operands; /* room for operand_max arguments */
    size_t operand_max;    /* 0: the command takes none */
    size_t operand_count;
} cli_arguments;

/* Parses argv[1..argc-1] into `args`: "--name value", "--name=value", and
 * operands ("--" ends the options). --help or -h prints the command's help
 * and returns CLI_EXIT_OK. An unknown option, a missing or empty value, an
 * option given twice or one operand too many prints why and returns
 * CLI_EXIT_USAGE. Otherwise returns CLI_CONTINUE. */
int cli_parse(const cli_command *command, int argc, char **argv,
              cli_arguments *args);

/* The option of that name in `args` (which must list it). */
const char *cli_value(const cli_arguments *args, const char *name);

/* Prints "carve NAME: <message>" and a pointer to the help on stderr;
 * returns CLI_EXIT_USAGE. */
int cli_usage_error(const cli_command *command, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Parses a number given to `option`: decimal digits with an optional K, M,
 * G or T suffix (powers of 1024, either case), at most `max`. Returns
 * CLI_CONTINUE with *out set, or prints why not and returns
 * CLI_EXIT_USAGE. */
int cli_parse_number(const cli_command *command, const char *option,
                     const char *text, uint64_t max, uint64_t *out);

/* "1.5 MiB"-style text for a byte count, in `buf`. */
const char *cli_bytes_text(uint64_t bytes, char *buf, size_t size);

/* Every platform, or every device of one platform, in the order that "P:D"
 * numbers them: an array to free(), NULL (and *count 0) when there is none
 * or the query fails. */
cl_platform_id *cli_platforms(cl_uint *count);
cl_device_id *cli_platform_devices(cl_platform_id platform, cl_uint *count);

/* Where a device stands in the platform list: the "P:D" that CARVE_DEVICE
 * and --device accept, and its name. */
typedef struct cli_device_place {
    char label[32]; /* "P:D", or "?:?" if the lists changed meanwhile */
    char name[256];
} cli_device_place;

/* Finds the device `selector` names (NULL: CARVE_DEVICE, else the first),
 * as carve_device_find does, and where it stands. Prints why not and
 * returns CLI_EXIT_NO_DEVICE when none matches; else CLI_CONTINUE. */
int cli_find_device(const cli_command *command, const char *selector,
                    cl_device_id *device, cli_device_place *place);

/* Loads a saved event log for `command`, or prints why it cannot and
 * returns CLI_EXIT_FAILURE; CLI_CONTINUE on success (release the log with
 * carve_event_log_release). */
typedef struct carve_event_log carve_event_log;
int cli_load_event_log(const cli_command *command, const char *path,
                       carve_event_log **log);

/* Writes the `carve plan` command line that reproduces `params` (options
 * for its fields that are not 0, every field's default), then a newline:
 * what carve fit recommends, in a form that can be checked on a device. */
void cli_print_plan_command(const carve_plan_params *params, FILE *stream);

/* The subcommands. */
extern const cli_command cli_devices_command;
extern const cli_command cli_plan_command;
extern const cli_command cli_log_command;
extern const cli_command cli_fit_command;

#endif /* CARVE_CLI_H */
