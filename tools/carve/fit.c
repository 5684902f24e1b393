/* fit.c - `carve fit`: the smallest plan that saved profiling runs show
 * would have served their work-items (carve_event_log_fit). */
#include "cli.h"

#include <carve/diagnostics.h>

#include <stdio.h>
#include <stdlib.h>

#define MAX_FILES 64

static const char fit_help[] =
    "usage: carve fit FILE... [--percentile P] [--json]\n"
    "\n"
    "Fits a plan to one or more profiling runs of the same plan, saved with\n"
    "carve_layout_save_events: the smallest arena_bytes that served every\n"
    "work-item of every run, or P percent of them with a shared heap sized\n"
    "for the rest (HEAP_FALLBACK). Prints the carve_plan_params fields to\n"
    "use, how the heap was sized, what the fit does not guarantee, and the\n"
    "'carve plan' command that checks the fitted plan on a device. A\n"
    "work-item's need is its peak footprint, the arena size it needed;\n"
    "runs whose requests failed understate it, and the fit says so.\n"
    "\n"
    "  --percentile P  the share of work-items served by their arena alone:\n"
    "                  0 < P <= 100, decimals allowed (default 100)\n"
    "  --json          JSON instead of text\n"
    "\n"
    "examples:\n"
    "  carve fit run.carvelog\n"
    "  carve fit run1.carvelog run2.carvelog --percentile 99\n"
    "\n"
    "exit codes: 0 done; 1 a file cannot be read or is not a sound carve\n"
    "event log, or the logs come from different plans; 2 a usage error.\n";

static int parse_percentile(const cli_command *self, const char *text,
                            double *out)
{
    char *end = NULL;
    double p = text ? strtod(text, &end) : 100.0;
    if (text != NULL && (end == text || *end != '\0' || !(p > 0.0) ||
                         p > 100.0))
        return cli_usage_error(self,
                               "--percentile: '%s' is not a number above 0 "
                               "and at most 100",
                               text);
    *out = p;
    return CLI_CONTINUE;
}

/* The fit, and in text the carve plan command that lays it out: what
 * carve fit recommends can be checked against a device as it is. */
static carve_status print_fit(const carve_fit *fit, int json)
{
    carve_status status = carve_fit_print(
        fit, stdout, json ? CARVE_FORMAT_JSON : CARVE_FORMAT_TEXT);
    if (status == CARVE_SUCCESS && !json) {
        fputs("  to check it on a device: ", stdout);
        cli_print_plan_command(&fit->params, stdout);
    }
    return status;
}

static int run_fit(const cli_command *self, int argc, char **argv)
{
    cli_option options[] = {{"--percentile", "P", NULL},
                            {"--json", NULL, NULL}};
    const char *files[MAX_FILES];
    cli_arguments args = {options, 2, files, MAX_FILES, 0};
    carve_event_log *logs[MAX_FILES];
    carve_fit fit;
    carve_status status;
    double percentile = 100.0;
    size_t i, loaded = 0;
    int result = cli_parse(self, argc, argv, &args);
    if (result == CLI_CONTINUE && args.operand_count == 0)
        result = cli_usage_error(self, "give the FILE of at least one saved "
                                       "event log");
    if (result == CLI_CONTINUE)
        result = parse_percentile(self, cli_value(&args, "--percentile"),
                                  &percentile);
    for (i = 0; result == CLI_CONTINUE && i < args.operand_count; ++i) {
        result = cli_load_event_log(self, files[i], &logs[i]);
        loaded += result == CLI_CONTINUE;
    }
    status = CARVE_SUCCESS;
    if (result == CLI_CONTINUE) {
        status = carve_event_log_fit((const carve_event_log *const *)logs,
                                     loaded, percentile, &fit);
        if (status == CARVE_SUCCESS)
            status = print_fit(&fit, cli_value(&args, "--json") != NULL);
        if (status != CARVE_SUCCESS) {
            fprintf(stderr, "carve fit: %s%s\n",
                    status == CARVE_ERROR_INVALID_ARGUMENT
                        ? "the logs come from different plans (arena count, "
                          "size, options or heap differ): "
                        : "",
                    carve_status_string(status));
            result = CLI_EXIT_FAILURE;
        } else {
            result = CLI_EXIT_OK;
        }
    }
    for (i = 0; i < loaded; ++i)
        carve_event_log_release(logs[i]);
    return result;
}

const cli_command cli_fit_command = {
    "fit", "fit arena and heap sizes to saved profiling runs", fit_help,
    run_fit};
