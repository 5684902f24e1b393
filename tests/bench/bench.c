/*
 * bench.c - timing, tables and JSON for carve's benchmarks (see bench.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define BENCH_DEFAULT_REPS 11
#define BENCH_QUICK_REPS 3
#define BENCH_DEFAULT_MIN_SECONDS 0.3
#define BENCH_QUICK_MIN_SECONDS 0.02

typedef struct bench_row_data {
    char *param;
    double param_value;
    char *variant;
    bench_timing timing;
    double units;
    char *extra_name;
    double extra;
} bench_row_data;

typedef struct bench_section_data {
    char *name, *param_name, *unit, *baseline;
    bench_row_data *rows;
    size_t row_count;
    char **notes;
    size_t note_count;
} bench_section_data;

typedef struct bench_goal_data {
    char *name, *relation, *why;
    double measured, target;
    int met;
} bench_goal_data;

struct bench_report {
    bench_options options;
    char *program;
    char **fact_keys, **fact_values;
    size_t fact_count;
    bench_section_data *sections;
    size_t section_count;
    size_t printed; /* sections already printed */
    bench_goal_data *goals;
    size_t goal_count;
};

/* ---- small helpers --------------------------------------------------------- */

void bench_fail(const char *format, ...)
{
    va_list args;
    fputs("FAILED: ", stderr);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    exit(1);
}

static void *bench_grow(void *array, size_t count, size_t item)
{
    void *p = realloc(array, (count + 1) * item);
    if (p == NULL)
        bench_fail("out of host memory");
    return p;
}

static char *bench_strdup(const char *s)
{
    char *copy = strdup(s != NULL ? s : "");
    if (copy == NULL)
        bench_fail("out of host memory");
    return copy;
}

static char *bench_vformat(const char *format, va_list args)
{
    char buf[1024];
    vsnprintf(buf, sizeof buf, format, args);
    return bench_strdup(buf);
}

double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

const char *bench_bytes_label(char *buf, size_t size, unsigned long long bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB"};
    unsigned u = 0;
    while (u + 1 < sizeof units / sizeof units[0] && bytes >= 1024 &&
           bytes % 1024 == 0) {
        bytes /= 1024;
        ++u;
    }
    snprintf(buf, size, "%llu %s", bytes, units[u]);
    return buf;
}

/* "12.3 ms": seconds with a unit that keeps 3-4 significant digits. */
static const char *time_label(char *buf, size_t size, double seconds)
{
    if (seconds < 1e-6)
        snprintf(buf, size, "%.1f ns", seconds * 1e9);
    else if (seconds < 1e-3)
        snprintf(buf, size, "%.2f us", seconds * 1e6);
    else if (seconds < 1.0)
        snprintf(buf, size, "%.2f ms", seconds * 1e3);
    else
        snprintf(buf, size, "%.3f s", seconds);
    return buf;
}

/* ---- options ------------------------------------------------------------------ */

static void usage(FILE *out, const char *program, const char *what)
{
    fprintf(out,
            "usage: %s [--quick] [--reps N] [--json FILE] [--only LIST]\n"
            "%s\n"
            "  --quick      small sizes and %d repetitions (the CTest default)\n"
            "  --reps N     at least N timed runs per figure, after one "
            "warm-up (default %d;\n"
            "               more, up to %d, until they add up to %g s)\n"
            "  --json FILE  also write every figure to FILE as JSON\n"
            "  --only LIST  run only these sections (names, comma-separated)\n"
            "The device is CARVE_DEVICE (\"P:D\" or part of a name), as for "
            "the tests.\n",
            program, what, BENCH_QUICK_REPS, BENCH_DEFAULT_REPS,
            BENCH_MAX_REPS, BENCH_DEFAULT_MIN_SECONDS);
}

bench_options bench_parse(int argc, char **argv, const char *program,
                          const char *what)
{
    bench_options o;
    int i, reps = 0;
    o.quick = 0;
    o.reps = 0;
    o.json_path = NULL;
    o.only = NULL;
    for (i = 1; i < argc; ++i) {
        char *end = NULL;
        if (strcmp(argv[i], "--quick") == 0) {
            o.quick = 1;
        } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            o.json_path = argv[++i];
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            o.only = argv[++i];
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc &&
                   (reps = (int)strtol(argv[i + 1], &end, 10)) > 0 &&
                   *end == '\0') {
            ++i;
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout, program, what);
            exit(0);
        } else {
            fprintf(stderr, "%s: bad option '%s'\n", program, argv[i]);
            usage(stderr, program, what);
            exit(2);
        }
    }
    o.reps = reps > 0 ? reps : o.quick ? BENCH_QUICK_REPS : BENCH_DEFAULT_REPS;
    o.min_seconds =
        o.quick ? BENCH_QUICK_MIN_SECONDS : BENCH_DEFAULT_MIN_SECONDS;
    return o;
}

int bench_wanted(const bench_options *options, const char *name)
{
    const char *at = options->only;
    size_t length = strlen(name);
    if (at == NULL)
        return 1;
    while ((at = strstr(at, name)) != NULL) {
        int starts = at == options->only || at[-1] == ',';
        int ends = at[length] == '\0' || at[length] == ',';
        if (starts && ends)
            return 1;
        at += length;
    }
    return 0;
}

/* ---- timing --------------------------------------------------------------------- */

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct bench_series {
    double *seconds;
    double total;
    int n;
} bench_series;

static int needs_runs(const bench_options *o, const bench_series *s)
{
    int cap = o->reps > BENCH_MAX_REPS ? o->reps : BENCH_MAX_REPS;
    return s->n < o->reps || (s->total < o->min_seconds && s->n < cap);
}

static bench_timing summarise(bench_series *s)
{
    bench_timing t;
    int n = s->n;
    qsort(s->seconds, (size_t)n, sizeof *s->seconds, compare_doubles);
    t.median = n % 2 ? s->seconds[n / 2]
                     : 0.5 * (s->seconds[n / 2 - 1] + s->seconds[n / 2]);
    t.min = s->seconds[0];
    t.max = s->seconds[n - 1];
    t.reps = n;
    return t;
}

void bench_time_together(const bench_options *options, size_t count,
                         bench_run_fn const *runs, void *const *contexts,
                         bench_timing *timings)
{
    int cap = options->reps > BENCH_MAX_REPS ? options->reps : BENCH_MAX_REPS;
    bench_series *series = calloc(count, sizeof *series);
    size_t i;
    int pending = 1;
    if (series == NULL)
        bench_fail("out of host memory");
    for (i = 0; i < count; ++i) {
        series[i].seconds = malloc((size_t)cap * sizeof(double));
        if (series[i].seconds == NULL)
            bench_fail("out of host memory");
        if (runs[i](contexts[i]) < 0.0)
            bench_fail("the warm-up run failed");
    }
    while (pending) {
        pending = 0;
        for (i = 0; i < count; ++i) {
            bench_series *s = &series[i];
            double seconds;
            if (!needs_runs(options, s))
                continue;
            seconds = runs[i](contexts[i]);
            if (seconds < 0.0)
                bench_fail("timed run %d failed", s->n + 1);
            s->seconds[s->n++] = seconds;
            s->total += seconds;
            pending |= needs_runs(options, s);
        }
    }
    for (i = 0; i < count; ++i) {
        timings[i] = summarise(&series[i]);
        free(series[i].seconds);
    }
    free(series);
}

bench_timing bench_time(const bench_options *options, bench_run_fn run,
                        void *context)
{
    bench_timing t;
    bench_time_together(options, 1, &run, &context, &t);
    return t;
}

/* ---- the report ----------------------------------------------------------------- */

static void add_fact(bench_report *r, const char *key, const char *value)
{
    r->fact_keys = bench_grow(r->fact_keys, r->fact_count, sizeof(char *));
    r->fact_values = bench_grow(r->fact_values, r->fact_count, sizeof(char *));
    r->fact_keys[r->fact_count] = bench_strdup(key);
    r->fact_values[r->fact_count] = bench_strdup(value);
    ++r->fact_count;
}

static void read_first_line(const char *path, const char *prefix, char *buf,
                            size_t size)
{
    FILE *f = fopen(path, "r");
    char line[512];
    snprintf(buf, size, "unknown");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        if (prefix == NULL || strncmp(line, prefix, strlen(prefix)) == 0) {
            char *start = prefix ? strchr(line, ':') : NULL;
            start = start != NULL ? start + 1 : line;
            start += strspn(start, " \t");
            start[strcspn(start, "\n")] = '\0';
            snprintf(buf, size, "%s", start);
            break;
        }
    }
    fclose(f);
}

bench_report *bench_report_begin(const bench_options *options,
                                 const char *program)
{
    bench_report *r = calloc(1, sizeof *r);
    char buf[512];
    struct utsname u;
    time_t now = time(NULL);
    if (r == NULL)
        bench_fail("out of host memory");
    r->options = *options;
    r->program = bench_strdup(program);
    read_first_line("/proc/cpuinfo", "model name", buf, sizeof buf);
    add_fact(r, "cpu", buf);
    snprintf(buf, sizeof buf, "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    add_fact(r, "cores_online", buf);
    if (uname(&u) == 0) {
        snprintf(buf, sizeof buf, "%s %s %s", u.sysname, u.release, u.machine);
        add_fact(r, "kernel", buf);
    }
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    add_fact(r, "date", buf);
    read_first_line("/proc/loadavg", NULL, buf, sizeof buf);
    add_fact(r, "load_at_start", buf);
    printf("%s%s: per figure one warm-up, then at least %d timed run(s), "
           "more until they add up to %g s\n",
           program, options->quick ? " (quick)" : "", options->reps,
           options->min_seconds);
    for (size_t i = 0; i < r->fact_count; ++i)
        printf("  %-14s %s\n", r->fact_keys[i], r->fact_values[i]);
    return r;
}

void bench_fact(bench_report *r, const char *key, const char *value)
{
    add_fact(r, key, value);
    printf("  %-14s %s\n", key, value);
}

static bench_section_data *current(bench_report *r)
{
    if (r->section_count == 0)
        bench_fail("bench_row/bench_note before bench_section");
    return &r->sections[r->section_count - 1];
}

static const bench_row_data *find_row(const bench_section_data *s,
                                      const char *param, const char *variant)
{
    size_t i;
    for (i = 0; i < s->row_count; ++i)
        if (strcmp(s->rows[i].param, param) == 0 &&
            strcmp(s->rows[i].variant, variant) == 0)
            return &s->rows[i];
    return NULL;
}

/* Baseline time / row time, or a negative value without a baseline. */
static double speed_vs_baseline(const bench_section_data *s,
                                const bench_row_data *row)
{
    const bench_row_data *base = find_row(s, row->param, s->baseline);
    if (base == NULL || row->timing.median <= 0.0)
        return -1.0;
    return base->timing.median / row->timing.median;
}

static void print_section(const bench_section_data *s)
{
    size_t i;
    char rate_head[64], speed_head[96], t1[32], t2[32], t3[32];
    if (s->unit[0] != '\0')
        snprintf(rate_head, sizeof rate_head, "%s/s", s->unit);
    else
        snprintf(rate_head, sizeof rate_head, "rate");
    snprintf(speed_head, sizeof speed_head, "vs %s", s->baseline);
    printf("\n== %s ==\n", s->name);
    for (i = 0; i < s->note_count; ++i)
        printf("   %s\n", s->notes[i]);
    printf("%-10s %-22s %11s %11s %11s %5s %13s %14s\n", s->param_name,
           "variant", "median", "min", "max", "runs", rate_head, speed_head);
    for (i = 0; i < s->row_count; ++i) {
        const bench_row_data *row = &s->rows[i];
        double speed = speed_vs_baseline(s, row);
        char rate[32] = "-", ratio[32] = "-";
        if (row->units > 0.0 && row->timing.median > 0.0)
            snprintf(rate, sizeof rate, "%.3g", row->units / row->timing.median);
        if (speed >= 0.0)
            snprintf(ratio, sizeof ratio, "%.3gx", speed);
        printf("%-10s %-22s %11s %11s %11s %5d %13s %14s", row->param,
               row->variant, time_label(t1, sizeof t1, row->timing.median),
               time_label(t2, sizeof t2, row->timing.min),
               time_label(t3, sizeof t3, row->timing.max), row->timing.reps,
               rate, ratio);
        if (row->extra_name[0] != '\0')
            printf("  %s %.4g", row->extra_name, row->extra);
        putchar('\n');
    }
    fflush(stdout);
}

static void print_pending(bench_report *r)
{
    while (r->printed < r->section_count)
        print_section(&r->sections[r->printed++]);
}

void bench_section(bench_report *r, const char *name, const char *param_name,
                   const char *unit, const char *baseline)
{
    bench_section_data *s;
    print_pending(r);
    r->sections = bench_grow(r->sections, r->section_count, sizeof *s);
    s = &r->sections[r->section_count++];
    memset(s, 0, sizeof *s);
    s->name = bench_strdup(name);
    s->param_name = bench_strdup(param_name);
    s->unit = bench_strdup(unit);
    s->baseline = bench_strdup(baseline);
}

void bench_row(bench_report *r, const char *param, double param_value,
               const char *variant, bench_timing timing, double units,
               const char *extra_name, double extra)
{
    bench_section_data *s = current(r);
    bench_row_data *row;
    s->rows = bench_grow(s->rows, s->row_count, sizeof *row);
    row = &s->rows[s->row_count++];
    row->param = bench_strdup(param);
    row->param_value = param_value;
    row->variant = bench_strdup(variant);
    row->timing = timing;
    row->units = units;
    row->extra_name = bench_strdup(extra_name);
    row->extra = extra;
}

void bench_note(bench_report *r, const char *format, ...)
{
    bench_section_data *s = current(r);
    va_list args;
    s->notes = bench_grow(s->notes, s->note_count, sizeof(char *));
    va_start(args, format);
    s->notes[s->note_count++] = bench_vformat(format, args);
    va_end(args);
}

double bench_median(const bench_report *r, const char *section,
                    const char *param, const char *variant)
{
    size_t i;
    for (i = 0; i < r->section_count; ++i) {
        if (strcmp(r->sections[i].name, section) == 0) {
            const bench_row_data *row =
                find_row(&r->sections[i], param, variant);
            return row ? row->timing.median : -1.0;
        }
    }
    return -1.0;
}

void bench_goal(bench_report *r, const char *name, double measured,
                const char *relation, double target, const char *why)
{
    bench_goal_data *g;
    int at_least = strcmp(relation, ">=") == 0;
    if (!at_least && strcmp(relation, "<=") != 0)
        bench_fail("goal '%s': relation must be >= or <=", name);
    r->goals = bench_grow(r->goals, r->goal_count, sizeof *g);
    g = &r->goals[r->goal_count++];
    g->name = bench_strdup(name);
    g->relation = bench_strdup(relation);
    g->why = bench_strdup(why);
    g->measured = measured;
    g->target = target;
    g->met = measured >= 0.0 &&
             (at_least ? measured >= target : measured <= target);
}

/* ---- JSON ----------------------------------------------------------------------- */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; ++s) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* JSON has no NaN or infinity: a figure that is not finite is null. */
static void json_number(FILE *f, double x)
{
    if (x != x || x > 1e308 || x < -1e308)
        fputs("null", f);
    else
        fprintf(f, "%.9g", x);
}

/* `, "key": ` then the value; the first field of an object passes "{". */
static void json_key(FILE *f, const char *opening, const char *key)
{
    fputs(opening, f);
    json_string(f, key);
    fputs(": ", f);
}

static void json_text_field(FILE *f, const char *opening, const char *key,
                            const char *value)
{
    json_key(f, opening, key);
    json_string(f, value);
}

/* A number, or null when `known` is false. */
static void json_number_field(FILE *f, const char *key, int known, double x)
{
    json_key(f, ", ", key);
    if (known)
        json_number(f, x);
    else
        fputs("null", f);
}

static void json_row(FILE *f, const bench_section_data *s,
                     const bench_row_data *row)
{
    double speed = speed_vs_baseline(s, row);
    int rated = row->units > 0.0 && row->timing.median > 0.0;
    json_text_field(f, "        {", "param", row->param);
    json_number_field(f, "param_value", 1, row->param_value);
    json_text_field(f, ", ", "variant", row->variant);
    json_number_field(f, "median_s", 1, row->timing.median);
    json_number_field(f, "min_s", 1, row->timing.min);
    json_number_field(f, "max_s", 1, row->timing.max);
    json_number_field(f, "reps", 1, row->timing.reps);
    json_number_field(f, "units", 1, row->units);
    json_number_field(f, "rate_per_s", rated,
                      rated ? row->units / row->timing.median : 0.0);
    json_number_field(f, "speed_vs_baseline", speed >= 0.0, speed);
    if (row->extra_name[0] != '\0') {
        json_text_field(f, ", ", "extra_name", row->extra_name);
        json_number_field(f, "extra", 1, row->extra);
    }
    fputs("}", f);
}

static void json_section(FILE *f, const bench_section_data *s)
{
    size_t i;
    json_text_field(f, "    {", "name", s->name);
    json_text_field(f, ", ", "param_name", s->param_name);
    json_text_field(f, ", ", "unit", s->unit);
    json_text_field(f, ", ", "baseline", s->baseline);
    json_key(f, ",\n      ", "notes");
    fputc('[', f);
    for (i = 0; i < s->note_count; ++i) {
        fputs(i ? ", " : "", f);
        json_string(f, s->notes[i]);
    }
    json_key(f, "],\n      ", "rows");
    fputs("[\n", f);
    for (i = 0; i < s->row_count; ++i) {
        json_row(f, s, &s->rows[i]);
        fputs(i + 1 < s->row_count ? ",\n" : "\n", f);
    }
    fputs("      ]}", f);
}

static int write_json(const bench_report *r, const char *path)
{
    FILE *f = fopen(path, "w");
    size_t i;
    if (f == NULL) {
        perror(path);
        return 0;
    }
    fputs("{\n  \"program\": ", f);
    json_string(f, r->program);
    fprintf(f, ",\n  \"quick\": %s,\n  \"min_reps\": %d,\n  \"min_seconds\": ",
            r->options.quick ? "true" : "false", r->options.reps);
    json_number(f, r->options.min_seconds);
    fputs(",\n  \"machine\": {", f);
    for (i = 0; i < r->fact_count; ++i) {
        fputs(i ? ",\n    " : "\n    ", f);
        json_string(f, r->fact_keys[i]);
        fputs(": ", f);
        json_string(f, r->fact_values[i]);
    }
    fputs("\n  },\n  \"sections\": [\n", f);
    for (i = 0; i < r->section_count; ++i) {
        json_section(f, &r->sections[i]);
        fputs(i + 1 < r->section_count ? ",\n" : "\n", f);
    }
    fputs("  ],\n  \"goals\": [\n", f);
    for (i = 0; i < r->goal_count; ++i) {
        const bench_goal_data *g = &r->goals[i];
        json_text_field(f, "    {", "name", g->name);
        json_number_field(f, "measured", g->measured >= 0.0, g->measured);
        json_text_field(f, ", ", "relation", g->relation);
        json_number_field(f, "target", 1, g->target);
        json_key(f, ", ", "met");
        fputs(g->met ? "true" : "false", f);
        json_text_field(f, ", ", "why", g->why);
        fputs(i + 1 < r->goal_count ? "},\n" : "}\n", f);
    }
    fputs("  ]\n}\n", f);
    return fclose(f) == 0;
}

static void free_section(bench_section_data *s)
{
    size_t i;
    for (i = 0; i < s->row_count; ++i) {
        free(s->rows[i].param);
        free(s->rows[i].variant);
        free(s->rows[i].extra_name);
    }
    for (i = 0; i < s->note_count; ++i)
        free(s->notes[i]);
    free(s->rows);
    free(s->notes);
    free(s->name);
    free(s->param_name);
    free(s->unit);
    free(s->baseline);
}

static void free_report(bench_report *r)
{
    size_t i;
    for (i = 0; i < r->section_count; ++i)
        free_section(&r->sections[i]);
    for (i = 0; i < r->goal_count; ++i) {
        free(r->goals[i].name);
        free(r->goals[i].relation);
        free(r->goals[i].why);
    }
    for (i = 0; i < r->fact_count; ++i) {
        free(r->fact_keys[i]);
        free(r->fact_values[i]);
    }
    free(r->sections);
    free(r->goals);
    free(r->fact_keys);
    free(r->fact_values);
    free(r->program);
    free(r);
}

int bench_report_end(bench_report *r)
{
    size_t i;
    int ok = 1;
    char load[128];
    print_pending(r);
    read_first_line("/proc/loadavg", NULL, load, sizeof load);
    add_fact(r, "load_at_end", load);
    printf("\nload average at the end: %s (other work on the machine skews "
           "the figures)\n",
           load);
    if (r->goal_count > 0)
        printf("\n== goals ==\n");
    for (i = 0; i < r->goal_count; ++i) {
        const bench_goal_data *g = &r->goals[i];
        if (g->measured >= 0.0)
            printf("%-7s %s: %.3g (goal %s %.3g) - %s\n",
                   g->met ? "MET" : "MISSED", g->name, g->measured,
                   g->relation, g->target, g->why);
        else
            printf("%-7s %s: not measured (goal %s %.3g) - %s\n", "MISSED",
                   g->name, g->relation, g->target, g->why);
    }
    if (r->options.json_path != NULL) {
        ok = write_json(r, r->options.json_path);
        if (ok)
            printf("\nJSON written to %s\n", r->options.json_path);
    }
    free_report(r);
    return ok ? 0 : 1;
}
