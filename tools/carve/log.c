/* log.c - `carve log`: analyses an event log saved by a program
 * (carve_layout_save_events), apart from that program. */
#include "cli.h"

#include <carve/diagnostics.h>

#include <stdio.h>

static const char log_help[] =
    "usage: carve log FILE [--json] [--top N]\n"
    "\n"
    "Reads an event log that a program saved with carve_layout_save_events (a\n"
    "plan with event_log_records set) and analyses it: totals, the peak of\n"
    "bytes in use, the call sites by bytes requested, the work-items by\n"
    "peak, leaks (blocks live at the end) by allocation site, and the\n"
    "request sizes in power-of-two buckets. A log that ran out of room says\n"
    "so: its leaks and peaks cover the events it kept.\n"
    "\n"
    "  --json    JSON instead of text: every call site, and the --top\n"
    "            work-items\n"
    "  --top N   how many call sites and work-items to list (default 10)\n"
    "\n"
    "example:\n"
    "  carve log run.carvelog --top 5\n"
    "\n"
    "exit codes: 0 done; 1 the file cannot be read, or is not a sound\n"
    "carve event log (stderr says why); 2 a usage error.\n";

/* Loads the file at `path`, or says why not; CLI_CONTINUE or the exit
 * code. Shared with `carve fit`. */
int cli_load_event_log(const cli_command *self, const char *path,
                       carve_event_log **log)
{
    char why[256];
    carve_status status = carve_event_log_load(path, log, why, sizeof why);
    if (status == CARVE_SUCCESS)
        return CLI_CONTINUE;
    fflush(stdout);
    fprintf(stderr, "carve %s: %s: %s\nstatus: %s (%d)\n", self->name, path,
            why[0] ? why : "cannot be read", carve_status_string(status),
            (int)status);
    return CLI_EXIT_FAILURE;
}

static int run_log(const cli_command *self, int argc, char **argv)
{
    cli_option options[] = {{"--json", NULL, NULL}, {"--top", "N", NULL}};
    const char *operand[1];
    cli_arguments args = {options, 2, operand, 1, 0};
    carve_event_log *log = NULL;
    carve_event_analysis *analysis = NULL;
    carve_status status;
    uint64_t top = 0;
    int result = cli_parse(self, argc, argv, &args);
    if (result == CLI_CONTINUE && args.operand_count == 0)
        result = cli_usage_error(self, "give the FILE of an event log");
    if (result == CLI_CONTINUE && cli_value(&args, "--top") != NULL)
        result = cli_parse_number(self, "--top", cli_value(&args, "--top"),
                                  UINT32_MAX, &top);
    if (result == CLI_CONTINUE && cli_value(&args, "--top") != NULL &&
        top == 0)
        result = cli_usage_error(self, "--top: give at least 1");
    if (result == CLI_CONTINUE)
        result = cli_load_event_log(self, operand[0], &log);
    if (result != CLI_CONTINUE)
        return result;
    status = carve_event_log_analyze(log, &analysis);
    if (status == CARVE_SUCCESS)
        status = carve_event_analysis_print(
            analysis, stdout,
            cli_value(&args, "--json") ? CARVE_FORMAT_JSON : CARVE_FORMAT_TEXT,
            (uint32_t)top);
    carve_event_analysis_release(analysis);
    carve_event_log_release(log);
    if (status != CARVE_SUCCESS) {
        fprintf(stderr, "carve log: %s\n", carve_status_string(status));
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

const cli_command cli_log_command = {
    "log", "analyse a saved event log: call sites, work-items, leaks, peaks",
    log_help, run_log};
