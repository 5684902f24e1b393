/*
 * bench.h - what every carve benchmark shares: command-line options, timing
 * by repetitions and medians, and a report that prints tables of absolute
 * figures and ratios to a baseline measured in the same run, states the
 * goals as met or missed, and writes everything as JSON.
 *
 * A benchmark verifies what it measured (kernel results, allocator
 * statistics) and exits 1 on a wrong result, so its quick variant in the
 * default CTest suite fails when the code under test breaks. It never
 * fails on a slow result: goals are reported, not asserted.
 *
 * The header is C and C++ (the CUDA benchmark includes it too).
 */
#ifndef CARVE_BENCH_H
#define CARVE_BENCH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BENCH_MAX_REPS 1001

typedef struct bench_options {
    int quick;             /* --quick: small sizes, few repetitions */
    int reps;              /* at least this many timed runs per figure */
    double min_seconds;    /* and more, up to BENCH_MAX_REPS, until the
                              timed runs add up to this */
    const char *json_path; /* --json FILE, or NULL */
    const char *only;      /* --only A,B: just these sections, or NULL */
} bench_options;

/* Reads --quick, --reps N, --json FILE, --only LIST and --help. `program`
 * and `what` make the usage text. Prints the usage and exits 0 for --help,
 * 2 for an unknown or malformed option. */
bench_options bench_parse(int argc, char **argv, const char *program,
                          const char *what);

/* Whether section `name` is to run: always without --only, else when it is
 * one of the comma-separated names given. */
int bench_wanted(const bench_options *options, const char *name);

/* Monotonic seconds. */
double bench_now(void);

typedef struct bench_timing {
    double median, min, max; /* seconds */
    int reps;
} bench_timing;

/* One run of a measurement: does the work, returns the seconds that count
 * (it may leave set-up and verification out), or a negative value after it
 * printed why the run failed. */
typedef double (*bench_run_fn)(void *context);

/* Calls run once to warm up, then options->reps times or more (until the
 * runs add up to options->min_seconds, at most BENCH_MAX_REPS runs), and
 * returns the median, minimum and maximum: short figures get enough runs
 * for a stable median on a busy machine. Exits 1 if any run fails. */
bench_timing bench_time(const bench_options *options, bench_run_fn run,
                        void *context);

/* bench_time for `count` measurements at once, in turns: one run of each
 * that still needs runs, round after round, so that a change in the
 * machine's load (it is shared) falls on all of them alike and their
 * ratios stay fair. Each gets its own warm-up, run count and timing. */
void bench_time_together(const bench_options *options, size_t count,
                         bench_run_fn const *runs, void *const *contexts,
                         bench_timing *timings);

/* Stops the benchmark: prints "FAILED: <message>" to stderr, exits 1. */
void bench_fail(const char *format, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

/* "4 KiB", "256 MiB", "16 B": a byte count as a table label. */
const char *bench_bytes_label(char *buf, size_t size, unsigned long long bytes);

typedef struct bench_report bench_report;

/* Starts a report for `program`; records the machine (CPU, cores, kernel,
 * load average, date). Exits 1 when out of memory. */
bench_report *bench_report_begin(const bench_options *options,
                                 const char *program);

/* A fact about the set-up, printed and kept in the JSON "machine" object
 * (e.g. "device", "zero_copy_backend"). */
void bench_fact(bench_report *r, const char *key, const char *value);

/* Starts a table. Rows with the same `param` are compared with the row of
 * variant `baseline` ("speed vs baseline" = baseline time / row time, so
 * above 1 is faster). `unit` names what bench_row's `units` counts (e.g.
 * "pairs"); the table then shows a rate per second. `param_name` heads the
 * first column (e.g. "size"). The previous table is printed. */
void bench_section(bench_report *r, const char *name, const char *param_name,
                   const char *unit, const char *baseline);

/* A measured row of the current table. `units` is how many units one run
 * did (0: no rate). `extra_name`/`extra` add one more figure to the row (a
 * utilisation, a buffer size); extra_name NULL for none. */
void bench_row(bench_report *r, const char *param, double param_value,
               const char *variant, bench_timing timing, double units,
               const char *extra_name, double extra);

/* A line printed under the current table and kept in the JSON. */
void bench_note(bench_report *r, const char *format, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Median seconds of the row (section, param, variant) recorded so far, or
 * a negative value if there is none. */
double bench_median(const bench_report *r, const char *section,
                    const char *param, const char *variant);

/* A goal of the project, stated against what was measured: met when
 * `measured` relation `target` holds (relation ">=" or "<="). `why` says
 * what the figure is; it is printed and kept. A negative `measured` (not
 * measured) is reported as such. */
void bench_goal(bench_report *r, const char *name, double measured,
                const char *relation, double target, const char *why);

/* Prints the last table and the goals, writes the JSON file if asked, and
 * frees the report. Returns the process exit code: 0, or 1 if the JSON
 * could not be written. */
int bench_report_end(bench_report *r);

#ifdef __cplusplus
}
#endif

#endif /* CARVE_BENCH_H */
