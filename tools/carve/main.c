/* main.c - `carve`, the command-line tool: finds the subcommand in the
 * table below and runs it. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const cli_command help_command;

/* Every subcommand, in the order carve --help lists them. */
static const cli_command *const commands[] = {
    &cli_devices_command,
    &cli_plan_command,
    &cli_log_command,
    &cli_fit_command,
    &help_command,
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static const cli_command *find_command(const char *name)
{
    size_t i;
    for (i = 0; i < COMMAND_COUNT; ++i)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static void print_usage(FILE *stream)
{
    size_t i;
    fprintf(stream,
            "usage: carve COMMAND [OPTIONS]\n"
            "       carve COMMAND --help\n"
            "       carve --help | --version\n"
            "\n"
            "Plans and checks the memory of OpenCL kernels that use carve "
            "(libcarve %d.%d.%d).\n"
            "\n"
            "commands:\n",
            CARVE_VERSION_MAJOR, CARVE_VERSION_MINOR, CARVE_VERSION_PATCH);
    for (i = 0; i < COMMAND_COUNT; ++i)
        fprintf(stream, "  %-9s %s\n", commands[i]->name,
                commands[i]->summary);
    fprintf(stream,
            "\n"
            "exit codes:\n"
            "  0  success\n"
            "  1  an OpenCL or carve call failed\n"
            "  2  a usage error, or carve refused the request (carve plan "
            "prints\n"
            "     why, and the status name)\n"
            "  3  no OpenCL device, or none matches --device / CARVE_DEVICE\n"
            "\n"
            "environment:\n"
            "  CARVE_DEVICE  the device to use when --device is not given: "
            "P:D\n"
            "                (platform and device numbers) or a substring of "
            "its name\n");
}

static const char help_help[] =
    "usage: carve help [COMMAND]\n"
    "\n"
    "Shows the help of COMMAND (the same as carve COMMAND --help), or, with\n"
    "no COMMAND, the list of commands and exit codes.\n";

static int run_help(const cli_command *self, int argc, char **argv)
{
    const char *operand[1];
    cli_arguments args = {NULL, 0, operand, 1, 0};
    const cli_command *command;
    int result = cli_parse(self, argc, argv, &args);
    if (result != CLI_CONTINUE)
        return result;
    if (args.operand_count == 0) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    command = find_command(operand[0]);
    if (command == NULL)
        return cli_usage_error(self, "no command '%s'", operand[0]);
    fputs(command->help, stdout);
    return CLI_EXIT_OK;
}

static const cli_command help_command = {
    "help", "show the help of a command", help_help, run_help};

int main(int argc, char **argv)
{
    const cli_command *command;
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("carve %d.%d.%d\n", CARVE_VERSION_MAJOR, CARVE_VERSION_MINOR,
               CARVE_VERSION_PATCH);
        return CLI_EXIT_OK;
    }
    command = find_command(argv[1]);
    if (command == NULL) {
        fprintf(stderr, "carve: %s '%s'\nsee 'carve --help'\n",
                argv[1][0] == '-' ? "unknown option" : "no command", argv[1]);
        return CLI_EXIT_USAGE;
    }
    return command->run(command, argc - 1, argv + 1);
}
