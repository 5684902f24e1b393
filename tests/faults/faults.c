/*
 * faults.c - every public entry point with each of its injection points
 * made to fail in turn (host/fault.h; the library is carve_faulty).
 *
 * For an entry point, run k = 1, 2, ...: arm the k-th injection point, call
 * it, disarm, and check the outcome, until a run reaches no armed point (k
 * is past the last point the call reaches: it must then succeed). Each run
 * must
 *   - return a status the call documents for what failed (the OpenCL
 *     status passed on, OUT_OF_HOST_MEMORY, PROBE_FAILED, IO...), or
 *     succeed where carve had a way around the failure;
 *   - leave carve holding exactly what it held before (host blocks,
 *     mappings, files, OpenCL references: counted by the wrappers), once
 *     what a successful call made is released;
 *   - leave the object it worked on as its contract says: a constructor's
 *     out-parameter NULL; an object unchanged and usable (it passes its
 *     check, and the same call without a fault then succeeds).
 * LeakSanitizer covers the rest in a sanitizer build.
 *
 *   faults device   builds, regions of every backend, zero-copy calls,
 *                   sets, releases, the diagnostics on a set's image and
 *                   its event log files, and a launch split over two
 *                   sub-devices (carve/split.h; where the device makes
 *                   none, skipped with a note, and --sources then finds
 *                   the split's points unreached)
 *   faults ti       the TI-style allocator (before anything else starts
 *                   its tiers)
 *   faults all      both, in one process
 *   faults ... --sources DIR   fails unless every injection point in the
 *                   host sources in DIR was reached
 *   faults ... --table   also prints the Markdown tables of docs/faults.md
 *
 * Every injection point the runs reach is listed with the statuses it led
 * to.
 */
#define _XOPEN_SOURCE 700 /* setenv, nftw */
#define _ISOC11_SOURCE /* aligned_alloc */
#include "carve_test.h"

#include <carve/diagnostics.h>
#include <carve/split.h>
#include <carve/ti_sdk.h>

/* the test's own calls are not carve's: declarations only */
#define CARVE_FAULT_DECLARATIONS_ONLY 1
#include "fault.h"

#include <ftw.h>
#include <stdarg.h>

#define MAX_SITES 512
#define MAX_RUNS 100000ul
#define MAX_ENTRIES 192

/* ---- the sweep ----------------------------------------------------------------------- */

typedef struct site_record {
    char site[96];
    unsigned long hits;
    char statuses[160];
} site_record;

static site_record sites[MAX_SITES];
static size_t site_count;
static int print_table;
static unsigned long total_runs;

typedef struct entry_record {
    char name[96]; /* a copy: callers build names in buffers of their own */
    unsigned long points, runs;
    unsigned failures;
} entry_record;

static entry_record entries[MAX_ENTRIES];
static size_t entry_count;

static void note_site(const char *site, carve_status status)
{
    char word[48];
    site_record *r = NULL;
    size_t i;
    for (i = 0; i < site_count && r == NULL; ++i)
        if (strcmp(sites[i].site, site) == 0)
            r = &sites[i];
    if (r == NULL && site_count < MAX_SITES) {
        r = &sites[site_count++];
        snprintf(r->site, sizeof r->site, "%s", site);
    }
    if (r == NULL)
        return;
    r->hits++;
    snprintf(word, sizeof word, "%s",
             status == CARVE_SUCCESS ? "recovered" : carve_status_string(status));
    {
        char *colon = strchr(word, ':');
        if (colon != NULL)
            *colon = '\0';
    }
    if (strstr(r->statuses, word) == NULL &&
        strlen(r->statuses) + strlen(word) + 3 < sizeof r->statuses) {
        if (r->statuses[0] != '\0')
            strcat(r->statuses, ", ");
        strcat(r->statuses, word);
    }
}

/* Set around a sweep of a call whose success starts state that lives as
 * long as the process (a TI tier): no warm-up run, and the clean run may
 * leave carve holding more. Failed runs may not. */
static int sweep_keeps_state;

/* Set around a sweep whose points are kernel launches that silently do
 * nothing (carve__fault_arm_dropped_launch), not calls that fail. */
static int sweep_drops_launches;

/* Set around a sweep whose calls need a step first, made before the fault
 * is armed (a hand-over to the device before one back to the host). */
typedef void (*prepare_fn)(void *context);
static prepare_fn sweep_prepare;

/* One entry point: `attempt` calls it and returns its status; `settle`
 * (fault disarmed) checks and releases what it left, given the status. */
typedef carve_status (*attempt_fn)(void *context);
typedef void (*settle_fn)(void *context, carve_status status);

/* Statuses that any injected fault may end in. */
static int documented(carve_status s, const carve_status *also)
{
    static const carve_status common[] = {
        CARVE_ERROR_OUT_OF_HOST_MEMORY, CL_OUT_OF_RESOURCES,
        CL_OUT_OF_HOST_MEMORY, CL_MEM_OBJECT_ALLOCATION_FAILURE,
        CL_MAP_FAILURE};
    size_t i;
    for (i = 0; i < sizeof common / sizeof common[0]; ++i)
        if (s == common[i])
            return 1;
    for (; also != NULL && *also != CARVE_SUCCESS; ++also)
        if (s == *also)
            return 1;
    return 0;
}

static int same_holdings(const carve__fault_holdings *a,
                         const carve__fault_holdings *b)
{
    return a->host_blocks == b->host_blocks && a->mappings == b->mappings &&
           a->files == b->files && a->cl_references == b->cl_references;
}

/* `clean`: the status of the call with no fault (CARVE_SUCCESS mostly);
 * `also`: further documented statuses, ending with CARVE_SUCCESS. */
static void sweep(const char *name, attempt_fn attempt, settle_fn settle,
                  void *context, carve_status clean, const carve_status *also)
{
    entry_record *e =
        &entries[entry_count < MAX_ENTRIES ? entry_count++ : MAX_ENTRIES - 1];
    unsigned long k;
    snprintf(e->name, sizeof e->name, "%s", name);
    e->failures = 0;
    /* A first run without faults grows what objects keep once grown (a
     * pool's bookkeeping), so that every run after it must leave carve
     * holding exactly what it held. Not for a call that starts state. */
    if (!sweep_keeps_state) {
        if (sweep_prepare != NULL)
            sweep_prepare(context);
        settle(context, attempt(context));
    }
    for (k = 1; k <= MAX_RUNS; ++k) {
        carve__fault_holdings before, after;
        const char *fired_at = "";
        char site[96];
        carve_status status;
        int fired;
        unsigned long reached;
        if (sweep_prepare != NULL)
            sweep_prepare(context);
        carve__fault_holding(&before);
        if (sweep_drops_launches)
            carve__fault_arm_dropped_launch(k);
        else
            carve__fault_arm(k);
        status = attempt(context);
        fired = carve__fault_fired(&fired_at);
        snprintf(site, sizeof site, "%s", fired ? fired_at : "none");
        reached = carve__fault_reached();
        carve__fault_arm(0);
        settle(context, status);
        carve__fault_holding(&after);
        total_runs++;
        /* a call that starts process-wide state keeps it */
        if (!same_holdings(&before, &after) &&
            !(sweep_keeps_state && !fired && status == clean)) {
            fprintf(stderr, "%s, fault %lu (%s): carve holds %+ld host blocks, "
                            "%+ld mapped bytes, %+ld files, %+ld OpenCL "
                            "references more than before\n",
                    name, k, site,
                    after.host_blocks - before.host_blocks,
                    after.mappings - before.mappings, after.files - before.files,
                    after.cl_references - before.cl_references);
            e->failures++;
        }
        if (!fired) {
            if (status != clean) {
                fprintf(stderr, "%s without a fault: %s, expected %s\n", name,
                        carve_status_string(status), carve_status_string(clean));
                e->failures++;
            }
            e->points = reached;
            e->runs = k;
            break;
        }
        note_site(site, status);
        if (status != CARVE_SUCCESS && status != clean &&
            !documented(status, also)) {
            fprintf(stderr, "%s, fault at %s: undocumented status %s\n", name,
                    site, carve_status_string(status));
            e->failures++;
        }
    }
    carve_test_failures += (int)e->failures;
    printf("  %-34s %4lu points, %4lu runs%s\n", name, e->points, e->runs,
           e->failures ? ", FAILED" : "");
}

/* ---- device fixtures ------------------------------------------------------------------- */

typedef struct fixture {
    carve_test_cl cl;
    carve_backend backend;
    uint32_t region_flags;
    carve_region *region;  /* made by an attempt, or the one worked on */
    carve_set *set;
    void *block, *moved;
    cl_program program;
    cl_kernel kernel;
    char *log;
    const char *source;
    carve_status expect;   /* scratch for settle functions */
} fixture;

static const char *const kernel_source =
    "#include \"carve.clh\"\n"
    "kernel void keep(global uchar *carved)\n"
    "{\n"
    "    carve_arena a = carve_arena_open(carved, carve_flat_global_id());\n"
    "    global uint *p = carve_malloc(&a, 4 * sizeof(uint));\n"
    "    if (p != 0) p[0] = 7u;\n"
    "    carve_set_root(&a, p);\n"
    "    carve_arena_close(&a);\n"
    "}\n"
    "kernel void touch(global uint *p) { p[0] += 1u; }\n";

static const char *const broken_source =
    "kernel void broken(global uint *p) { p[0] = undeclared; }\n";

static void region_must_pass(carve_region *region, const char *when)
{
    const char *message = NULL;
    if (carve_region_check(region, &message) != CARVE_SUCCESS) {
        fprintf(stderr, "%s: region check: %s\n", when,
                message ? message : "(no message)");
        ++carve_test_failures;
    }
}

/* Memory handed over for USER_MEMORY regions, with cache hooks that
 * count their calls. */
static unsigned char *user_memory;
static unsigned long hook_calls;

static void count_hook(void *context, void *ptr, size_t bytes)
{
    (void)context;
    (void)ptr;
    (void)bytes;
    hook_calls++;
}

static carve_region_params fixture_params(const fixture *f, uint64_t bytes)
{
    carve_region_params p;
    memset(&p, 0, sizeof p);
    p.backend = f->backend;
    p.bytes = bytes;
    p.flags = f->region_flags;
    if (f->backend == CARVE_BACKEND_USER_MEMORY) {
        p.user_base = user_memory;
        p.write_back = count_hook;
        p.invalidate = count_hook;
    }
    return p;
}

static carve_region *fixture_region(fixture *f, uint64_t bytes)
{
    carve_region_params p = fixture_params(f, bytes);
    carve_region *region = NULL;
    REQUIRE_OK(carve_region_create(f->cl.context, f->cl.device, &p, &region));
    return region;
}

/* -- builds -- */

static carve_status attempt_build(void *c)
{
    fixture *f = c;
    f->program = NULL;
    f->log = NULL;
    return carve_program_build(f->cl.context, f->cl.device, f->source, NULL,
                               &f->program, &f->log);
}

static void settle_build(void *c, carve_status status)
{
    fixture *f = c;
    EXPECT(status == CARVE_SUCCESS ? f->log == NULL && f->program != NULL
                                   : f->program == NULL);
    if (f->log != NULL)
        carve__fault_free_caller_memory(f->log);
    if (f->program != NULL) /* the caller's now: through the counting wrapper */
        carve__fault_clReleaseProgram(f->program);
    f->program = NULL;
    f->log = NULL;
}

static carve_status attempt_find(void *c)
{
    cl_device_id device = NULL;
    (void)c;
    return carve_device_find(NULL, &device);
}

/* By a name, as CARVE_DEVICE may give one: every device's names are read. */
static char device_name[64];

static carve_status attempt_find_by_name(void *c)
{
    cl_device_id device = NULL;
    (void)c;
    return carve_device_find(device_name, &device);
}

static carve_status attempt_limits(void *c)
{
    fixture *f = c;
    carve_device_limits limits;
    return carve_device_limits_query(f->cl.device, &limits);
}

static void settle_nothing(void *c, carve_status status)
{
    (void)c;
    (void)status;
}

/* -- regions -- */

static carve_status attempt_region_create(void *c)
{
    fixture *f = c;
    carve_region_params p = fixture_params(f, 1u << 20);
    f->region = NULL;
    return carve_region_create(f->cl.context, f->cl.device, &p, &f->region);
}

static void settle_region_create(void *c, carve_status status)
{
    fixture *f = c;
    if (status != CARVE_SUCCESS) {
        EXPECT(f->region == NULL);
        return;
    }
    /* a region made despite a fault works */
    region_must_pass(f->region, "a region made despite a fault");
    f->block = carve_zc_malloc(f->region, 100);
    EXPECT(f->block != NULL);
    EXPECT_STATUS(carve_zc_to_device(f->block, 0), CARVE_SUCCESS);
    EXPECT_STATUS(carve_zc_to_host(f->block, 0, 0, NULL), CARVE_SUCCESS);
    EXPECT_STATUS(carve_zc_free(f->region, f->block), CARVE_SUCCESS);
    carve_region_release(f->region);
    f->region = NULL;
}

/* One call on a live region with one host-owned allocation f->block. */
static carve_status attempt_malloc(void *c)
{
    fixture *f = c;
    f->moved = carve_zc_malloc(f->region, 5000);
    return f->moved != NULL ? CARVE_SUCCESS : carve_zc_last_status();
}

static carve_status attempt_calloc(void *c)
{
    fixture *f = c;
    f->moved = carve_zc_calloc(f->region, 100, 50);
    return f->moved != NULL ? CARVE_SUCCESS : carve_zc_last_status();
}

static carve_status attempt_memalign(void *c)
{
    fixture *f = c;
    f->moved = carve_zc_memalign(f->region, 4096, 3000);
    return f->moved != NULL ? CARVE_SUCCESS : carve_zc_last_status();
}

/* Frees what an allocation attempt made; the region must be as before. */
static void settle_allocation(void *c, carve_status status)
{
    fixture *f = c;
    region_must_pass(f->region, "after an allocation");
    if (status == CARVE_SUCCESS) {
        EXPECT(f->moved != NULL);
        EXPECT_STATUS(carve_zc_free(f->region, f->moved), CARVE_SUCCESS);
    } else {
        EXPECT(f->moved == NULL);
    }
    f->moved = NULL;
}

static carve_status attempt_realloc(void *c)
{
    fixture *f = c;
    f->moved = carve_zc_realloc(f->region, f->block, 300000);
    return f->moved != NULL ? CARVE_SUCCESS : carve_zc_last_status();
}

static void fill_block(fixture *f)
{
    memset(f->block, 0x5a, 64);
}

static int block_intact(const void *p)
{
    return carve_test_holds(p, 64, 0x5a);
}

static void settle_realloc(void *c, carve_status status)
{
    fixture *f = c;
    region_must_pass(f->region, "after a realloc");
    if (status == CARVE_SUCCESS) {
        EXPECT(f->moved != NULL && block_intact(f->moved));
        /* back to the fixture's size, in place or not */
        f->block = carve_zc_realloc(f->region, f->moved, 64);
        EXPECT(f->block != NULL);
    } else {
        EXPECT(f->moved == NULL && block_intact(f->block)); /* unchanged */
    }
    f->moved = NULL;
}

static carve_status attempt_free(void *c)
{
    fixture *f = c;
    return carve_zc_free(f->region, f->block);
}

static void settle_free(void *c, carve_status status)
{
    fixture *f = c;
    region_must_pass(f->region, "after a free");
    if (status != CARVE_SUCCESS) /* unchanged: it can still be freed */
        EXPECT_STATUS(carve_zc_free(f->region, f->block), CARVE_SUCCESS);
    f->block = carve_zc_malloc(f->region, 64);
    EXPECT(f->block != NULL);
    fill_block(f);
}

static carve_status attempt_to_device(void *c)
{
    fixture *f = c;
    return carve_zc_to_device(f->block, 0);
}

static void settle_to_device(void *c, carve_status status)
{
    fixture *f = c;
    region_must_pass(f->region, "after a hand-over to the device");
    if (status != CARVE_SUCCESS) /* still the host's, as it was */
        EXPECT(block_intact(f->block));
    EXPECT_STATUS(carve_zc_to_device(f->block, 0), CARVE_SUCCESS);
    EXPECT_STATUS(carve_zc_to_host(f->block, 0, 0, NULL), CARVE_SUCCESS);
    EXPECT(block_intact(f->block));
}

static void prepare_to_host(void *c)
{
    fixture *f = c;
    REQUIRE_OK(carve_zc_to_device(f->block, 0));
}

static carve_status attempt_to_host(void *c)
{
    fixture *f = c;
    return carve_zc_to_host(f->block, 0, 0, NULL);
}

static void settle_to_host(void *c, carve_status status)
{
    fixture *f = c;
    region_must_pass(f->region, "after a hand-over to the host");
    if (status != CARVE_SUCCESS) /* still the device's: take it back */
        EXPECT_STATUS(carve_zc_to_host(f->block, 0, 0, NULL), CARVE_SUCCESS);
    EXPECT(block_intact(f->block));
}

static carve_status attempt_set_arg(void *c)
{
    fixture *f = c;
    void *fresh = carve_zc_malloc(f->region, 256); /* a sub-buffer to make */
    carve_status status;
    if (fresh == NULL)
        return carve_zc_last_status();
    f->moved = fresh;
    status = carve_zc_set_arg(f->kernel, 0, fresh);
    return status;
}

static void settle_set_arg(void *c, carve_status status)
{
    fixture *f = c;
    region_must_pass(f->region, "after set_arg");
    if (f->moved != NULL) {
        if (status != CARVE_SUCCESS) /* the same call works now */
            EXPECT_STATUS(carve_zc_set_arg(f->kernel, 0, f->moved),
                          CARVE_SUCCESS);
        EXPECT_STATUS(carve_zc_free(f->region, f->moved), CARVE_SUCCESS);
    }
    f->moved = NULL;
}

static const char *backend_label(const fixture *f)
{
    return f->region_flags & CARVE_REGION_COHERENCE_CHECK
               ? "host-memory+coherence"
               : carve_backend_name(f->backend);
}

static carve_plan fixture_plan(const fixture *f, uint32_t options);

/* A region aligned past the page: carve reserves and trims address space. */
static carve_status attempt_region_aligned(void *c)
{
    fixture *f = c;
    carve_region_params p;
    memset(&p, 0, sizeof p);
    p.backend = CARVE_BACKEND_HOST_MEMORY;
    p.bytes = 1u << 20;
    p.alignment = 1u << 16;
    f->region = NULL;
    return carve_region_create(f->cl.context, f->cl.device, &p, &f->region);
}

/* Releases cannot fail: whatever fails inside, all is given back. */
static void prepare_release(void *c)
{
    fixture *f = c;
    f->region = fixture_region(f, 1u << 20);
    f->block = carve_zc_malloc(f->region, 100);
    REQUIRE_OK(f->block != NULL ? CARVE_SUCCESS : carve_zc_last_status());
    REQUIRE_OK(carve_zc_to_device(f->block, 0)); /* released while the device's */
}

static carve_status attempt_region_release(void *c)
{
    fixture *f = c;
    carve_region_release(f->region);
    f->region = NULL;
    return CARVE_SUCCESS;
}

static void prepare_set_release(void *c)
{
    fixture *f = c;
    carve_plan plan = fixture_plan(f, 0);
    REQUIRE_OK(carve_set_create(f->cl.context, f->cl.device, f->cl.queue, &plan,
                                0, &f->set));
}

static carve_status attempt_set_release(void *c)
{
    fixture *f = c;
    carve_set_release(f->set);
    f->set = NULL;
    return CARVE_SUCCESS;
}

/* Holdings are compared from before the prepared object was made. */
static void sweep_releases(fixture *f)
{
    /* prepare runs before `before` is taken: undo its holdings by hand */
    carve__fault_holdings start, end;
    unsigned long k;
    const char *names[2] = {"carve_region_release", "carve_set_release"};
    prepare_fn prepares[2] = {prepare_release, prepare_set_release};
    attempt_fn attempts[2] = {attempt_region_release, attempt_set_release};
    int which;
    f->backend = CARVE_BACKEND_ALLOC_HOST_PTR;
    if (!carve_backend_supported(f->cl.device, f->backend))
        f->backend = CARVE_BACKEND_HOST_MEMORY;
    f->region_flags = 0;
    for (which = 0; which < 2; ++which) {
        entry_record *e = &entries[entry_count < MAX_ENTRIES
                                       ? entry_count++
                                       : MAX_ENTRIES - 1];
        snprintf(e->name, sizeof e->name, "%s", names[which]);
        e->failures = 0;
        for (k = 1; k <= MAX_RUNS; ++k) {
            const char *at = "";
            int fired;
            carve__fault_holding(&start);
            prepares[which](f);
            carve__fault_arm(k);
            attempts[which](f);
            fired = carve__fault_fired(&at);
            if (fired)
                note_site(at, CARVE_SUCCESS);
            e->points = carve__fault_reached();
            carve__fault_arm(0);
            carve__fault_holding(&end);
            total_runs++;
            if (!same_holdings(&start, &end)) {
                fprintf(stderr, "%s, fault %lu: carve still holds something\n",
                        names[which], k);
                e->failures++;
            }
            if (!fired)
                break;
        }
        e->runs = k;
        carve_test_failures += (int)e->failures;
        printf("  %-34s %4lu points, %4lu runs%s\n", e->name, e->points,
               e->runs, e->failures ? ", FAILED" : "");
    }
}

static void sweep_region(fixture *f)
{
    /* CL_INVALID_OPERATION: the query of the device's SVM support failed,
     * so the backend asked for counts as one the device lacks */
    static const carve_status region_also[] = {CARVE_ERROR_PROBE_FAILED,
                                               CL_INVALID_OPERATION,
                                               CARVE_SUCCESS};
    static const carve_status zc_also[] = {CARVE_ERROR_TIER_FULL, CARVE_SUCCESS};
    char name[64];
    const char *label = backend_label(f);
#define SWEEP(what, attempt, settle, also)                                     \
    do {                                                                      \
        snprintf(name, sizeof name, "%s %s", what, label);                    \
        sweep(name, attempt, settle, f, CARVE_SUCCESS, also);                 \
    } while (0)
    SWEEP("carve_region_create", attempt_region_create, settle_region_create,
          region_also);
    sweep_drops_launches = 1; /* the probe's answer never comes */
    SWEEP("carve_region_create, launch dropped", attempt_region_create,
          settle_region_create, region_also);
    sweep_drops_launches = 0;
    f->region = fixture_region(f, 1u << 20);
    f->block = carve_zc_malloc(f->region, 64);
    REQUIRE_OK(f->block != NULL ? CARVE_SUCCESS : carve_zc_last_status());
    fill_block(f);
    SWEEP("carve_zc_malloc", attempt_malloc, settle_allocation, zc_also);
    SWEEP("carve_zc_calloc", attempt_calloc, settle_allocation, zc_also);
    SWEEP("carve_zc_memalign", attempt_memalign, settle_allocation, zc_also);
    SWEEP("carve_zc_realloc", attempt_realloc, settle_realloc, zc_also);
    SWEEP("carve_zc_free", attempt_free, settle_free, NULL);
    SWEEP("carve_zc_to_device", attempt_to_device, settle_to_device, NULL);
    sweep_prepare = prepare_to_host;
    SWEEP("carve_zc_to_host", attempt_to_host, settle_to_host, NULL);
    sweep_prepare = NULL;
    SWEEP("carve_zc_set_arg", attempt_set_arg, settle_set_arg, NULL);
#undef SWEEP
    REQUIRE_OK(carve_zc_free(f->region, f->block));
    carve_region_release(f->region);
    f->region = NULL;
}

/* -- sets -- */

static carve_plan fixture_plan(const fixture *f, uint32_t options)
{
    carve_plan_params params;
    carve_plan plan;
    memset(&params, 0, sizeof params);
    params.work_dim = 1;
    params.global_size[0] = 64;
    params.arena_bytes = 256;
    params.heap_bytes = 64u << 10;
    params.event_log_records = 1024;
    params.options = options;
    REQUIRE_OK(carve_plan_compute(&params, &f->cl.limits, &plan));
    return plan;
}

static carve_status attempt_set_create(void *c)
{
    fixture *f = c;
    carve_plan plan = fixture_plan(f, 0);
    f->set = NULL;
    return carve_set_create(f->cl.context, f->cl.device, f->cl.queue, &plan, 0,
                            &f->set);
}

static carve_status attempt_set_create_in(void *c)
{
    fixture *f = c;
    carve_plan plan = fixture_plan(f, CARVE_PLAN_CHECKS);
    f->set = NULL;
    return carve_set_create_in(f->region, f->cl.queue, &plan, 0, &f->set);
}

/* A set made despite a fault runs a kernel and checks out. */
static void run_and_check(fixture *f, carve_set *set)
{
    const size_t items = 64;
    carve_summary summary;
    EXPECT_STATUS(carve_set_run(set, f->kernel, 0, 1, &items, NULL),
                  CARVE_SUCCESS);
    EXPECT_STATUS(carve_layout_check(carve_test_image(set), NULL, NULL),
                  CARVE_SUCCESS);
    EXPECT_STATUS(carve_layout_summary(carve_test_image(set), &summary),
                  CARVE_SUCCESS);
    EXPECT(summary.arenas_closed == items);
}

static void settle_set_create(void *c, carve_status status)
{
    fixture *f = c;
    if (status != CARVE_SUCCESS) {
        EXPECT(f->set == NULL);
        return;
    }
    run_and_check(f, f->set);
    carve_set_release(f->set);
    f->set = NULL;
}

static carve_status attempt_set_run(void *c)
{
    fixture *f = c;
    const size_t items = 64;
    return carve_set_run(f->set, f->kernel, 0, 1, &items, NULL);
}

/* After a failed launch the set is the host's again (carve.h), usable. */
static void settle_set_run(void *c, carve_status status)
{
    fixture *f = c;
    (void)status;
    EXPECT(carve_test_image(f->set) != NULL);
    REQUIRE_OK(carve_set_reset(f->set));
    run_and_check(f, f->set);
}

static carve_status attempt_set_to_device(void *c)
{
    fixture *f = c;
    return carve_set_to_device(f->set);
}

static void settle_set_to_device(void *c, carve_status status)
{
    fixture *f = c;
    if (status != CARVE_SUCCESS) /* still the host's */
        EXPECT(carve_test_image(f->set) != NULL);
    EXPECT_STATUS(carve_set_to_device(f->set), CARVE_SUCCESS);
    EXPECT_STATUS(carve_set_to_host(f->set, 0, NULL), CARVE_SUCCESS);
    EXPECT_STATUS(carve_layout_check(carve_test_image(f->set), NULL, NULL),
                  CARVE_SUCCESS);
}

static void prepare_set_to_host(void *c)
{
    fixture *f = c;
    REQUIRE_OK(carve_set_to_device(f->set));
}

static carve_status attempt_set_to_host(void *c)
{
    fixture *f = c;
    return carve_set_to_host(f->set, 0, NULL);
}

static void settle_set_to_host(void *c, carve_status status)
{
    fixture *f = c;
    if (status != CARVE_SUCCESS) /* the device keeps it; taking it back works */
        EXPECT_STATUS(carve_set_to_host(f->set, 0, NULL), CARVE_SUCCESS);
    EXPECT(carve_test_image(f->set) != NULL);
    EXPECT_STATUS(carve_layout_check(carve_test_image(f->set), NULL, NULL),
                  CARVE_SUCCESS);
}

static carve_status attempt_set_bind(void *c)
{
    fixture *f = c;
    return carve_set_bind(f->set, f->kernel, 0);
}

static carve_status attempt_set_report(void *c)
{
    fixture *f = c;
    carve_report *report = NULL;
    carve_status status =
        carve_layout_report(carve_test_image(f->set), 0, &report);
    EXPECT(status == CARVE_SUCCESS ? report != NULL : report == NULL);
    carve_report_release(report);
    return status;
}

static carve_status attempt_set_event_log(void *c)
{
    fixture *f = c;
    carve_event_log *log = NULL;
    carve_status status =
        carve_layout_event_log(carve_test_image(f->set), &log);
    EXPECT(status == CARVE_SUCCESS ? log != NULL : log == NULL);
    carve_event_log_release(log);
    return status;
}

static carve_status attempt_set_fit(void *c)
{
    fixture *f = c;
    carve_fit fit;
    return carve_layout_fit(carve_test_image(f->set),
                            &carve_set_plan(f->set)->params, 95.0, &fit);
}

static carve_status attempt_set_save_events(void *c)
{
    fixture *f = c;
    return carve_layout_save_events(carve_test_image(f->set),
                                    "faults_set.carvelog");
}

static void sweep_sets(fixture *f)
{
    static const carve_status set_also[] = {CARVE_ERROR_PROBE_FAILED,
                                            CARVE_SUCCESS};
    static const carve_status io_also[] = {CARVE_ERROR_IO, CARVE_SUCCESS};
    f->backend = CARVE_BACKEND_AUTO;
    f->region_flags = 0;
    sweep("carve_set_create", attempt_set_create, settle_set_create, f,
          CARVE_SUCCESS, set_also);
    sweep_drops_launches = 1;
    sweep("carve_set_create, launch dropped", attempt_set_create,
          settle_set_create, f, CARVE_SUCCESS, set_also);
    sweep_drops_launches = 0;
    /* The other set calls on a set in memory that is mapped for the host,
     * so that its hand-overs unmap and map. */
    if (carve_backend_supported(f->cl.device, CARVE_BACKEND_ALLOC_HOST_PTR))
        f->backend = CARVE_BACKEND_ALLOC_HOST_PTR;
    f->region = fixture_region(f, 1u << 20);
    sweep("carve_set_create_in", attempt_set_create_in, settle_set_create, f,
          CARVE_SUCCESS, set_also);
    {
        carve_plan plan = fixture_plan(f, 0);
        REQUIRE_OK(carve_set_create_in(f->region, f->cl.queue, &plan, 0,
                                       &f->set));
    }
    run_and_check(f, f->set);
    sweep("carve_set_run", attempt_set_run, settle_set_run, f, CARVE_SUCCESS,
          NULL);
    sweep("carve_set_to_device", attempt_set_to_device, settle_set_to_device,
          f, CARVE_SUCCESS, NULL);
    sweep_prepare = prepare_set_to_host;
    sweep("carve_set_to_host", attempt_set_to_host, settle_set_to_host, f,
          CARVE_SUCCESS, NULL);
    sweep_prepare = NULL;
    sweep("carve_set_bind", attempt_set_bind, settle_nothing, f, CARVE_SUCCESS,
          NULL);
    sweep("carve_layout_report (a set's image)", attempt_set_report,
          settle_nothing, f, CARVE_SUCCESS, NULL);
    sweep("carve_layout_event_log (a set's image)", attempt_set_event_log,
          settle_nothing, f, CARVE_SUCCESS, NULL);
    sweep("carve_layout_fit (a set's image and plan)", attempt_set_fit,
          settle_nothing, f, CARVE_SUCCESS, NULL);
    sweep("carve_layout_save_events (a set's image)", attempt_set_save_events,
          settle_nothing, f, CARVE_SUCCESS, io_also);
    carve_set_release(f->set);
    f->set = NULL;
    carve_region_release(f->region);
    f->region = NULL;
    remove("faults_set.carvelog");
}

static void sweep_diagnostics(fixture *f);
static void sweep_split(fixture *f);
static void sweep_ti_sdk(fixture *f);

static void run_device(void)
{
    static const carve_status build_also[] = {CL_COMPILE_PROGRAM_FAILURE,
                                              CL_BUILD_PROGRAM_FAILURE,
                                              CL_LINK_PROGRAM_FAILURE,
                                              CARVE_SUCCESS};
    static const carve_status find_also[] = {CARVE_ERROR_NO_DEVICE,
                                             CARVE_SUCCESS};
    static const carve_backend backends[] = {
        CARVE_BACKEND_AUTO, CARVE_BACKEND_HOST_MEMORY,
        CARVE_BACKEND_ALLOC_HOST_PTR, CARVE_BACKEND_SVM_COARSE,
        CARVE_BACKEND_SVM_FINE};
    static fixture f;
    size_t b;
    memset(&f, 0, sizeof f);
    f.cl = carve_test_open_cl();
    sweep("carve_device_find", attempt_find, settle_nothing, &f, CARVE_SUCCESS,
          find_also);
    REQUIRE_OK(clGetDeviceInfo(f.cl.device, CL_DEVICE_NAME, sizeof device_name,
                               device_name, NULL));
    device_name[8] = '\0'; /* a substring of it */
    sweep("carve_device_find (by device name)", attempt_find_by_name,
          settle_nothing, &f, CARVE_SUCCESS, find_also);
    {
        cl_platform_id platform;
        REQUIRE_OK(clGetDeviceInfo(f.cl.device, CL_DEVICE_PLATFORM,
                                   sizeof platform, &platform, NULL));
        REQUIRE_OK(clGetPlatformInfo(platform, CL_PLATFORM_NAME,
                                     sizeof device_name, device_name, NULL));
    }
    sweep("carve_device_find (by platform name)", attempt_find_by_name,
          settle_nothing, &f, CARVE_SUCCESS, find_also);
    sweep("carve_device_limits_query", attempt_limits, settle_nothing, &f,
          CARVE_SUCCESS, NULL);
    f.source = kernel_source;
    sweep("carve_program_build", attempt_build, settle_build, &f,
          CARVE_SUCCESS, build_also);
    f.source = broken_source;
    sweep("carve_program_build (a compile error)", attempt_build, settle_build,
          &f, CL_COMPILE_PROGRAM_FAILURE, build_also);
    f.kernel = carve_test_kernel(&f.cl, kernel_source, "keep", &f.program);
    for (b = 0; b < sizeof backends / sizeof backends[0]; ++b) {
        if (!carve_backend_supported(f.cl.device, backends[b]))
            continue;
        f.backend = backends[b];
        f.region_flags = 0;
        sweep_region(&f);
    }
    /* memory of the caller's, e.g. a CMEM or dma-buf mapping */
    user_memory = aligned_alloc(1u << 16, 1u << 20);
    if (user_memory == NULL)
        exit(1);
    f.backend = CARVE_BACKEND_USER_MEMORY;
    f.region_flags = 0;
    sweep_region(&f);
    EXPECT(hook_calls > 0);
    f.backend = CARVE_BACKEND_HOST_MEMORY;
    f.region_flags = CARVE_REGION_COHERENCE_CHECK;
    sweep_region(&f);
    f.region_flags = 0;
    sweep("carve_region_create host-memory (64 KiB aligned)",
          attempt_region_aligned, settle_region_create, &f, CARVE_SUCCESS, NULL);
    sweep_releases(&f);
    sweep_sets(&f);
    sweep_diagnostics(&f);
    sweep_split(&f);
    sweep_ti_sdk(&f);
    clReleaseKernel(f.kernel);
    clReleaseProgram(f.program);
    carve_test_close_cl(&f.cl);
    free(user_memory);
}

/* ---- TI's SDK calls (carve/ti_sdk.h) ------------------------------------------------- */

typedef struct ti_fixture {
    fixture *f;
    void *memory;      /* a __malloc_ddr block the buffers use */
    cl_mem buffer;
    cl_command_queue queue;
    cl_device_info query;
} ti_fixture;

static carve_status attempt_ti_buffer(void *c)
{
    ti_fixture *t = c;
    cl_int err = CL_SUCCESS;
    t->buffer = carve_ti_create_buffer(t->f->cl.context,
                                       CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR,
                                       4096, t->memory, &err);
    EXPECT((err == CL_SUCCESS) == (t->buffer != NULL));
    return err;
}

static carve_status attempt_ti_msmc_buffer(void *c)
{
    ti_fixture *t = c;
    static unsigned char initial[4096];
    cl_int err = CL_SUCCESS;
    t->buffer = carve_ti_create_buffer(
        t->f->cl.context,
        CL_MEM_READ_WRITE | CL_MEM_USE_MSMC_TI | CL_MEM_COPY_HOST_PTR,
        sizeof initial, initial, &err);
    EXPECT((err == CL_SUCCESS) == (t->buffer != NULL));
    return err;
}

/* The buffer is the caller's: released through the counting wrapper. Its
 * release gives back what carve kept for it: the DDR block stays the
 * caller's, the MSMC block goes back to its tier. */
static void settle_ti_buffer(void *c, carve_status status)
{
    ti_fixture *t = c;
    size_t msmc_used = 1;
    (void)status;
    if (t->buffer != NULL)
        carve__fault_clReleaseMemObject(t->buffer);
    t->buffer = NULL;
    EXPECT(__is_in_malloced_region(t->memory) == 1);
    EXPECT_STATUS(carve_ti_usage("msmc", &msmc_used, NULL), CARVE_SUCCESS);
    EXPECT(msmc_used == 0);
}

static carve_status attempt_ti_queue(void *c)
{
    ti_fixture *t = c;
    cl_int err = CL_SUCCESS;
    t->queue = carve_ti_create_command_queue(
        t->f->cl.context, t->f->cl.device,
        CL_QUEUE_KERNEL_TIMEOUT_COMPUTE_UNIT_TI, &err);
    return err;
}

static void settle_ti_queue(void *c, carve_status status)
{
    ti_fixture *t = c;
    (void)status;
    if (t->queue != NULL)
        carve__fault_clReleaseCommandQueue(t->queue);
    t->queue = NULL;
}

static carve_status attempt_ti_query(void *c)
{
    ti_fixture *t = c;
    char text[4096];
    cl_ulong answer = 0;
    size_t size = 0;
    cl_int err = carve_ti_get_device_info(t->f->cl.device, t->query, 0, NULL,
                                          &size);
    int ti = t->query >= CL_DEVICE_MSMC_MEM_SIZE_TI &&
             t->query <= CL_DEVICE_LOCAL_MEM_MAX_ALLOC_TI;
    if (err == CL_SUCCESS && size <= sizeof text)
        err = carve_ti_get_device_info(t->f->cl.device, t->query,
                                       ti ? sizeof answer : sizeof text,
                                       ti ? (void *)&answer : (void *)text,
                                       NULL);
    return err;
}

static void sweep_ti_sdk(fixture *f)
{
    static ti_fixture t;
    memset(&t, 0, sizeof t);
    t.f = f;
    t.memory = __malloc_ddr(4096);
    if (t.memory == NULL) {
        fprintf(stderr, "__malloc_ddr(4096) failed\n");
        exit(1);
    }
    sweep("carve_ti_create_buffer (over __malloc_ddr memory)",
          attempt_ti_buffer, settle_ti_buffer, &t, CARVE_SUCCESS, NULL);
    sweep("carve_ti_create_buffer (CL_MEM_USE_MSMC_TI)", attempt_ti_msmc_buffer,
          settle_ti_buffer, &t, CARVE_SUCCESS, NULL);
    sweep("carve_ti_create_command_queue (the timeout property)",
          attempt_ti_queue, settle_ti_queue, &t, CARVE_SUCCESS, NULL);
    t.query = CL_DEVICE_MSMC_MEM_SIZE_TI;
    sweep("carve_ti_get_device_info (CL_DEVICE_MSMC_MEM_SIZE_TI)",
          attempt_ti_query, settle_nothing, &t, CARVE_SUCCESS, NULL);
    t.query = CL_DEVICE_GLOBAL_MEM_MAX_ALLOC_TI;
    sweep("carve_ti_get_device_info (CL_DEVICE_GLOBAL_MEM_MAX_ALLOC_TI)",
          attempt_ti_query, settle_nothing, &t, CARVE_SUCCESS, NULL);
    t.query = CL_DEVICE_LOCAL_MEM_MAX_ALLOC_TI;
    sweep("carve_ti_get_device_info (CL_DEVICE_LOCAL_MEM_MAX_ALLOC_TI)",
          attempt_ti_query, settle_nothing, &t, CARVE_SUCCESS, NULL);
    t.query = CL_DEVICE_EXTENSIONS;
    sweep("carve_ti_get_device_info (CL_DEVICE_EXTENSIONS)", attempt_ti_query,
          settle_nothing, &t, CARVE_SUCCESS, NULL);
    t.query = CL_DEVICE_NAME;
    sweep("carve_ti_get_device_info (passed on: CL_DEVICE_NAME)",
          attempt_ti_query, settle_nothing, &t, CARVE_SUCCESS, NULL);
    __free_ddr(t.memory);
    EXPECT(__is_in_malloced_region(t.memory) == 0);
}

/* ---- diagnostics on a set's image, and event log files ------------------------------- */

typedef struct diag_fixture {
    const void *image;
    carve_event_log *log;   /* the image's, for the calls on logs */
    const char *path;       /* a saved copy */
    void *bytes;            /* the same file in memory */
    size_t size;
} diag_fixture;

/* Prints to a scratch file: the printers allocate too. */
static carve_status print_report(const carve_report *report)
{
    FILE *out = tmpfile();
    carve_status status;
    if (out == NULL)
        exit(1);
    status = carve_report_print(report, out, CARVE_FORMAT_TEXT);
    if (status == CARVE_SUCCESS)
        status = carve_report_print(report, out, CARVE_FORMAT_JSON);
    fclose(out);
    return status;
}

static carve_status attempt_layout_report(void *c)
{
    diag_fixture *d = c;
    carve_report *report = NULL;
    carve_status status = carve_layout_report(d->image, 0, &report);
    EXPECT(status == CARVE_SUCCESS ? report != NULL : report == NULL);
    if (status == CARVE_SUCCESS)
        status = print_report(report);
    carve_report_release(report);
    return status;
}

static carve_status attempt_layout_event_log(void *c)
{
    diag_fixture *d = c;
    carve_event_log *log = NULL;
    carve_status status = carve_layout_event_log(d->image, &log);
    EXPECT(status == CARVE_SUCCESS ? log != NULL : log == NULL);
    carve_event_log_release(log);
    return status;
}

static carve_status attempt_layout_fit(void *c)
{
    diag_fixture *d = c;
    carve_fit fit;
    FILE *out;
    carve_status status = carve_layout_fit(d->image, NULL, 90.0, &fit);
    if (status != CARVE_SUCCESS)
        return status;
    out = tmpfile();
    if (out == NULL)
        exit(1);
    status = carve_fit_print(&fit, out, CARVE_FORMAT_JSON);
    fclose(out);
    return status;
}

static carve_status attempt_layout_save_events(void *c)
{
    diag_fixture *d = c;
    return carve_layout_save_events(d->image, "faults_layout.carvelog");
}

static carve_status attempt_log_save(void *c)
{
    diag_fixture *d = c;
    return carve_event_log_save(d->log, "faults_saved.carvelog");
}

static carve_status attempt_log_load(void *c)
{
    diag_fixture *d = c;
    carve_event_log *log = NULL;
    char message[128];
    carve_status status =
        carve_event_log_load(d->path, &log, message, sizeof message);
    EXPECT(status == CARVE_SUCCESS ? log != NULL : log == NULL);
    carve_event_log_release(log);
    return status;
}

static carve_status attempt_log_read(void *c)
{
    diag_fixture *d = c;
    carve_event_log *log = NULL;
    carve_status status = carve_event_log_read(d->bytes, d->size, &log, NULL, 0);
    EXPECT(status == CARVE_SUCCESS ? log != NULL : log == NULL);
    carve_event_log_release(log);
    return status;
}

static carve_status attempt_log_analyze(void *c)
{
    diag_fixture *d = c;
    carve_event_analysis *analysis = NULL;
    carve_status status = carve_event_log_analyze(d->log, &analysis);
    FILE *out;
    EXPECT(status == CARVE_SUCCESS ? analysis != NULL : analysis == NULL);
    if (status == CARVE_SUCCESS) {
        out = tmpfile();
        if (out == NULL)
            exit(1);
        status = carve_event_analysis_print(analysis, out, CARVE_FORMAT_TEXT, 0);
        if (status == CARVE_SUCCESS)
            status = carve_event_analysis_print(analysis, out,
                                                CARVE_FORMAT_JSON, 0);
        fclose(out);
    }
    carve_event_analysis_release(analysis);
    return status;
}

static carve_status attempt_log_fit(void *c)
{
    diag_fixture *d = c;
    const carve_event_log *logs[2];
    carve_fit fit;
    logs[0] = logs[1] = d->log;
    return carve_event_log_fit(logs, 2, 99.0, &fit);
}

static void *read_whole(const char *path, size_t *size)
{
    FILE *in = fopen(path, "rb");
    long length;
    void *bytes;
    if (in == NULL || fseek(in, 0, SEEK_END) != 0 || (length = ftell(in)) < 0)
        exit(1);
    rewind(in);
    bytes = malloc((size_t)length);
    if (bytes == NULL || fread(bytes, 1, (size_t)length, in) != (size_t)length)
        exit(1);
    fclose(in);
    *size = (size_t)length;
    return bytes;
}

static void sweep_diagnostics(fixture *f)
{
    static const carve_status io_also[] = {CARVE_ERROR_IO, CARVE_SUCCESS};
    diag_fixture d;
    carve_plan plan = fixture_plan(f, CARVE_PLAN_CHECKS);
    carve_set *set = NULL;
    memset(&d, 0, sizeof d);
    REQUIRE_OK(carve_set_create(f->cl.context, f->cl.device, f->cl.queue, &plan,
                                0, &set));
    run_and_check(f, set);
    d.image = carve_test_image(set);
    REQUIRE_OK(carve_layout_event_log(d.image, &d.log));
    d.path = "faults_fixture.carvelog";
    REQUIRE_OK(carve_event_log_save(d.log, d.path));
    d.bytes = read_whole(d.path, &d.size);
    sweep("carve_layout_report + print", attempt_layout_report, settle_nothing,
          &d, CARVE_SUCCESS, io_also);
    sweep("carve_layout_event_log", attempt_layout_event_log, settle_nothing,
          &d, CARVE_SUCCESS, NULL);
    sweep("carve_layout_fit + print", attempt_layout_fit, settle_nothing, &d,
          CARVE_SUCCESS, io_also);
    sweep("carve_layout_save_events", attempt_layout_save_events,
          settle_nothing, &d, CARVE_SUCCESS, io_also);
    sweep("carve_event_log_save", attempt_log_save, settle_nothing, &d,
          CARVE_SUCCESS, io_also);
    sweep("carve_event_log_load", attempt_log_load, settle_nothing, &d,
          CARVE_SUCCESS, io_also);
    sweep("carve_event_log_read", attempt_log_read, settle_nothing, &d,
          CARVE_SUCCESS, NULL);
    sweep("carve_event_log_analyze + print", attempt_log_analyze,
          settle_nothing, &d, CARVE_SUCCESS, io_also);
    sweep("carve_event_log_fit", attempt_log_fit, settle_nothing, &d,
          CARVE_SUCCESS, NULL);
    free(d.bytes);
    carve_event_log_release(d.log);
    carve_set_release(set);
    remove(d.path);
    remove("faults_layout.carvelog");
    remove("faults_saved.carvelog");
}

/* ---- one launch split over two sub-devices (carve/split.h) ---------------------------- */

#define SPLIT_ITEMS 64u

typedef struct split_fixture {
    cl_device_id subs[2];       /* of the fixture's device */
    cl_context context;         /* holding the two */
    cl_command_queue queues[2];
    cl_program program;         /* kernel_source, built for both */
    cl_kernel kernel;           /* its `keep` */
    cl_program built;           /* made by an attempt */
    char *log;
    carve_split_plan plan;
    carve_split *split;         /* made by an attempt, or the one worked on */
    uint32_t flags;             /* carve_split_create's */
    cl_uint arg_index;          /* where the launches bind the slices */
    int with_events;            /* enqueue + to_host: through the events */
    uint32_t shares[2];
} split_fixture;

/* Two sub-devices of `parent`, half its compute units each (any past two
 * are released); 0 where it makes none. */
static int make_sub_devices(cl_device_id parent, cl_device_id subs[2])
{
    cl_device_partition_property props[3] = {CL_DEVICE_PARTITION_EQUALLY, 1,
                                             0};
    cl_device_id made[64];
    cl_uint units = 0, count = 0, i;
    if (clGetDeviceInfo(parent, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units,
                        &units, NULL) != CL_SUCCESS ||
        units < 2)
        return 0;
    props[1] = (cl_device_partition_property)(units / 2);
    if (clCreateSubDevices(parent, props, 0, NULL, &count) != CL_SUCCESS ||
        count < 2 || count > 64 ||
        clCreateSubDevices(parent, props, count, made, NULL) != CL_SUCCESS)
        return 0;
    for (i = 2; i < count; ++i)
        clReleaseDevice(made[i]);
    subs[0] = made[0];
    subs[1] = made[1];
    return 1;
}

/* The launch of the other fixtures (64 work-items, checks and an event
 * log), split evenly by the sub-devices' compute units. */
static carve_split_plan make_split_plan(const split_fixture *s)
{
    carve_split_params sp;
    carve_device_limits limits[2];
    carve_split_plan plan;
    cl_uint i;
    memset(&sp, 0, sizeof sp);
    sp.plan.work_dim = 1;
    sp.plan.global_size[0] = SPLIT_ITEMS;
    sp.plan.arena_bytes = 256;
    sp.plan.heap_bytes = 64u << 10;
    sp.plan.event_log_records = 1024;
    sp.plan.options = CARVE_PLAN_CHECKS;
    sp.device_count = 2;
    for (i = 0; i < 2; ++i)
        REQUIRE_OK(carve_device_limits_query(s->subs[i], &limits[i]));
    REQUIRE_OK(carve_split_shares_by_compute_units(2, s->subs, sp.shares));
    REQUIRE_OK(carve_split_plan_compute(&sp, limits, &plan));
    return plan;
}

/* A split runs the kernel on both devices and every slice checks out. */
static void split_run_and_check(split_fixture *s, carve_split *split)
{
    carve_summary total, per[2];
    cl_uint i;
    EXPECT_STATUS(carve_split_run(split, s->kernel, 0, NULL), CARVE_SUCCESS);
    EXPECT(carve_split_failed_slice(split) == CARVE_SPLIT_NO_SLICE);
    EXPECT_STATUS(carve_split_check(split, NULL, NULL, NULL), CARVE_SUCCESS);
    EXPECT_STATUS(carve_split_summary(split, &total, per), CARVE_SUCCESS);
    EXPECT(total.arenas_closed == SPLIT_ITEMS);
    for (i = 0; i < 2; ++i)
        EXPECT(per[i].arenas_closed == s->plan.slices[i].plan.arena_count);
}

/* -- the build for both devices, the shares -- */

static carve_status attempt_split_build(void *c)
{
    split_fixture *s = c;
    s->built = NULL;
    s->log = NULL;
    return carve_program_build_for_devices(s->context, 2, s->subs,
                                           kernel_source, NULL, &s->built,
                                           &s->log);
}

static void settle_split_build(void *c, carve_status status)
{
    split_fixture *s = c;
    EXPECT(status == CARVE_SUCCESS ? s->log == NULL && s->built != NULL
                                   : s->built == NULL);
    if (s->built != NULL) { /* a kernel of it, for both devices */
        cl_int err;
        cl_kernel kernel = clCreateKernel(s->built, "keep", &err);
        EXPECT(err == CL_SUCCESS);
        if (kernel != NULL)
            clReleaseKernel(kernel);
        carve__fault_clReleaseProgram(s->built); /* the caller's now */
    }
    if (s->log != NULL)
        carve__fault_free_caller_memory(s->log);
    s->built = NULL;
    s->log = NULL;
}

static carve_status attempt_split_shares(void *c)
{
    split_fixture *s = c;
    s->shares[0] = s->shares[1] = 12345;
    return carve_split_shares_by_compute_units(2, s->subs, s->shares);
}

static void settle_split_shares(void *c, carve_status status)
{
    split_fixture *s = c;
    cl_uint i, units;
    for (i = 0; i < 2; ++i) {
        if (status != CARVE_SUCCESS) { /* unchanged */
            EXPECT(s->shares[i] == 12345);
            continue;
        }
        REQUIRE_OK(clGetDeviceInfo(s->subs[i], CL_DEVICE_MAX_COMPUTE_UNITS,
                                   sizeof units, &units, NULL));
        EXPECT(s->shares[i] == units);
    }
}

/* -- carving -- */

static carve_status attempt_split_create(void *c)
{
    split_fixture *s = c;
    s->split = NULL;
    return carve_split_create(s->context, s->subs, s->queues, &s->plan,
                              s->flags, &s->split);
}

/* A split made despite a fault works; a failed one is NULL. */
static void settle_split_create(void *c, carve_status status)
{
    split_fixture *s = c;
    carve_split_info info;
    if (status != CARVE_SUCCESS) {
        EXPECT(s->split == NULL);
        return;
    }
    EXPECT_STATUS(carve_split_info_get(s->split, &info), CARVE_SUCCESS);
    EXPECT(info.device_count == 2 && info.region_count >= 1);
    if (s->flags & CARVE_SPLIT_REGION_PER_DEVICE)
        EXPECT(info.region_count == 2);
    split_run_and_check(s, s->split);
    carve_split_release(s->split);
    s->split = NULL;
}

/* -- launching and handing back, on a live split s->split -- */

static void prepare_split_launch(void *c)
{
    split_fixture *s = c;
    REQUIRE_OK(carve_split_reset(s->split));
}

static carve_status attempt_split_run(void *c)
{
    split_fixture *s = c;
    return carve_split_run(s->split, s->kernel, s->arg_index, NULL);
}

static carve_status attempt_split_enqueue(void *c)
{
    split_fixture *s = c;
    cl_event events[2] = {NULL, NULL};
    cl_event *mine = s->with_events ? events : NULL;
    carve_status launched, taken;
    cl_uint i;
    launched = carve_split_enqueue(s->split, s->kernel, s->arg_index, NULL,
                                   mine);
    taken = carve_split_to_host(s->split, mine);
    for (i = 0; i < 2; ++i)
        if (events[i] != NULL) /* the caller's: through the counting wrapper */
            carve__fault_clReleaseEvent(events[i]);
    return launched != CARVE_SUCCESS ? launched : taken;
}

/* What split.h promises after a launch that failed on one device: the
 * error names it, every slice is the host's again, and the other
 * device's slice holds its results. Then the split runs as before. */
static void settle_split_launch(void *c, carve_status status)
{
    split_fixture *s = c;
    carve_summary total, per[2];
    cl_uint failed = carve_split_failed_slice(s->split), i;
    const char *message = carve_split_message(s->split);
    carve_status summed = carve_split_summary(s->split, &total, per);
    char want[32];
    EXPECT(message != NULL);
    if (summed != CARVE_SUCCESS) { /* a slice left with its device */
        fprintf(stderr, "after %s (%s): carve_split_summary gave %s\n",
                carve_status_string(status), message,
                carve_status_string(summed));
        ++carve_test_failures;
        for (i = 0; i < 2; ++i) /* to go on with the sweep */
            REQUIRE_OK(carve_set_to_host(carve_split_set(s->split, i), 0,
                                         NULL));
    } else if (status == CARVE_SUCCESS) {
        EXPECT(failed == CARVE_SPLIT_NO_SLICE && message[0] == '\0');
        EXPECT(total.arenas_closed == SPLIT_ITEMS);
    } else if (failed >= 2) {
        fprintf(stderr, "after %s: no device named (\"%s\")\n",
                carve_status_string(status), message);
        ++carve_test_failures;
    } else {
        snprintf(want, sizeof want, "device %u", (unsigned)failed);
        if (strstr(message, want) == NULL) {
            fprintf(stderr, "after %s on device %u: \"%s\"\n",
                    carve_status_string(status), (unsigned)failed, message);
            ++carve_test_failures;
        }
        /* a bad argument fails on the first device, and on every one */
        if (s->arg_index != 0)
            EXPECT(failed == 0);
        for (i = 0; i < 2 && s->arg_index == 0; ++i)
            if (i != failed &&
                per[i].arenas_closed != s->plan.slices[i].plan.arena_count) {
                fprintf(stderr, "after %s on device %u: device %u closed %u "
                                "of its %u arenas\n",
                        carve_status_string(status), (unsigned)failed,
                        (unsigned)i, (unsigned)per[i].arenas_closed,
                        (unsigned)s->plan.slices[i].plan.arena_count);
                ++carve_test_failures;
            }
    }
    EXPECT_STATUS(carve_split_check(s->split, NULL, NULL, NULL),
                  CARVE_SUCCESS);
    REQUIRE_OK(carve_split_reset(s->split));
    split_run_and_check(s, s->split);
}

/* -- resetting -- */

static void prepare_split_reset(void *c)
{
    split_fixture *s = c;
    REQUIRE_OK(carve_split_reset(s->split));
    REQUIRE_OK(carve_split_run(s->split, s->kernel, 0, NULL));
}

static carve_status attempt_split_reset(void *c)
{
    split_fixture *s = c;
    return carve_split_reset(s->split);
}

static void settle_split_reset(void *c, carve_status status)
{
    split_fixture *s = c;
    carve_summary total;
    REQUIRE_OK(carve_split_summary(s->split, &total, NULL));
    if (status == CARVE_SUCCESS)
        EXPECT(total.arenas_opened == 0 && total.alloc_count == 0);
    else /* unchanged */
        EXPECT(total.arenas_closed == SPLIT_ITEMS);
}

/* With one slice the device's: WRONG_OWNER, and nothing reset. */
static void prepare_split_reset_owned(void *c)
{
    split_fixture *s = c;
    prepare_split_reset(c);
    REQUIRE_OK(carve_set_to_device(carve_split_set(s->split, 1)));
}

static void settle_split_reset_owned(void *c, carve_status status)
{
    split_fixture *s = c;
    carve_summary total;
    EXPECT_STATUS(carve_split_summary(s->split, &total, NULL),
                  CARVE_ERROR_WRONG_OWNER);
    REQUIRE_OK(carve_set_to_host(carve_split_set(s->split, 1), 0, NULL));
    settle_split_reset(c, status);
}

/* -- diagnostics over both slices, after a run -- */

static carve_status attempt_split_summary(void *c)
{
    split_fixture *s = c;
    carve_summary total, per[2];
    carve_status status = carve_split_summary(s->split, &total, per);
    if (status == CARVE_SUCCESS)
        EXPECT(total.arenas_closed == SPLIT_ITEMS &&
               per[0].arena_count + per[1].arena_count == SPLIT_ITEMS);
    return status;
}

static carve_status attempt_split_check(void *c)
{
    split_fixture *s = c;
    cl_uint bad_slice = 0;
    uint32_t bad_arena = 0, broken = 0;
    return carve_split_check(s->split, &bad_slice, &bad_arena, &broken);
}

/* Text, then JSON, to a scratch file. */
static carve_status attempt_split_report(void *c)
{
    split_fixture *s = c;
    FILE *out = tmpfile();
    carve_status status;
    if (out == NULL)
        exit(1);
    status = carve_split_report_print(s->split, out, CARVE_FORMAT_TEXT, 3);
    if (status == CARVE_SUCCESS)
        status = carve_split_report_print(s->split, out, CARVE_FORMAT_JSON, 3);
    fclose(out);
    return status;
}

static carve_status attempt_split_fit(void *c)
{
    split_fixture *s = c;
    carve_fit total, per[2];
    carve_status status = carve_split_fit(s->split, 95.0, &total, per);
    if (status == CARVE_SUCCESS)
        EXPECT(total.work_items == SPLIT_ITEMS &&
               per[0].work_items + per[1].work_items == SPLIT_ITEMS);
    return status;
}

/* The results and the slices' owner as they were. */
static void settle_split_intact(void *c, carve_status status)
{
    split_fixture *s = c;
    carve_summary total;
    (void)status;
    EXPECT_STATUS(carve_split_check(s->split, NULL, NULL, NULL),
                  CARVE_SUCCESS);
    EXPECT_STATUS(carve_split_summary(s->split, &total, NULL), CARVE_SUCCESS);
    EXPECT(total.arenas_closed == SPLIT_ITEMS);
}

/* The launches, on a live split of either layout. */
static void sweep_split_launches(split_fixture *s, const char *layout)
{
    char name[96];
    sweep_prepare = prepare_split_launch;
    s->arg_index = 0;
    snprintf(name, sizeof name, "carve_split_run (%s)", layout);
    sweep(name, attempt_split_run, settle_split_launch, s, CARVE_SUCCESS,
          NULL);
    s->with_events = 1;
    snprintf(name, sizeof name,
             "carve_split_enqueue + carve_split_to_host (%s)", layout);
    sweep(name, attempt_split_enqueue, settle_split_launch, s, CARVE_SUCCESS,
          NULL);
    s->with_events = 0;
    snprintf(name, sizeof name,
             "carve_split_enqueue + carve_split_to_host (%s, no events)",
             layout);
    sweep(name, attempt_split_enqueue, settle_split_launch, s, CARVE_SUCCESS,
          NULL);
    sweep_prepare = NULL;
}

static void sweep_split(fixture *f)
{
    static const carve_status build_also[] = {CL_COMPILE_PROGRAM_FAILURE,
                                              CL_BUILD_PROGRAM_FAILURE,
                                              CL_LINK_PROGRAM_FAILURE,
                                              CARVE_SUCCESS};
    static const carve_status create_also[] = {CARVE_ERROR_PROBE_FAILED,
                                               CARVE_SUCCESS};
    static const carve_status io_also[] = {CARVE_ERROR_IO, CARVE_SUCCESS};
    static split_fixture s;
    carve_split_info info;
    cl_int err;
    cl_uint i;
    memset(&s, 0, sizeof s);
    if (!make_sub_devices(f->cl.device, s.subs)) {
        printf("  (the device makes no sub-devices: the split calls are not "
               "swept, and their injection points are not reached)\n");
        return;
    }
    s.context = clCreateContext(NULL, 2, s.subs, NULL, NULL, &err);
    REQUIRE_OK(err);
    for (i = 0; i < 2; ++i) {
        s.queues[i] = clCreateCommandQueue(s.context, s.subs[i], 0, &err);
        REQUIRE_OK(err);
    }
    sweep("carve_program_build_for_devices", attempt_split_build,
          settle_split_build, &s, CARVE_SUCCESS, build_also);
    REQUIRE_OK(carve_program_build_for_devices(s.context, 2, s.subs,
                                               kernel_source, NULL, &s.program,
                                               NULL));
    s.kernel = clCreateKernel(s.program, "keep", &err);
    REQUIRE_OK(err);
    sweep("carve_split_shares_by_compute_units", attempt_split_shares,
          settle_split_shares, &s, CARVE_SUCCESS, NULL);
    s.plan = make_split_plan(&s);
    /* one region for both devices where both are proven to work on it in
     * place (a probe on each), else a region each */
    s.flags = 0;
    sweep("carve_split_create", attempt_split_create, settle_split_create, &s,
          CARVE_SUCCESS, create_also);
    sweep_drops_launches = 1; /* a probe's answer never comes */
    sweep("carve_split_create, launch dropped", attempt_split_create,
          settle_split_create, &s, CARVE_SUCCESS, create_also);
    sweep_drops_launches = 0;
    s.flags = CARVE_SPLIT_REGION_PER_DEVICE;
    sweep("carve_split_create (a region per device)", attempt_split_create,
          settle_split_create, &s, CARVE_SUCCESS, create_also);

    /* a region per device */
    REQUIRE_OK(carve_split_create(s.context, s.subs, s.queues, &s.plan,
                                  CARVE_SPLIT_REGION_PER_DEVICE, &s.split));
    split_run_and_check(&s, s.split);
    sweep_split_launches(&s, "a region per device");
    carve_split_release(s.split);

    /* the default: one region for both, on this device */
    REQUIRE_OK(carve_split_create(s.context, s.subs, s.queues, &s.plan, 0,
                                  &s.split));
    REQUIRE_OK(carve_split_info_get(s.split, &info));
    if (info.region_count != 1)
        printf("  (the sub-devices do not share one region: %s)\n", info.why);
    split_run_and_check(&s, s.split);
    sweep_split_launches(&s, info.region_count == 1 ? "one region"
                                                    : "the default");
    /* a launch that fails on every device: the first is named */
    sweep_prepare = prepare_split_launch;
    s.arg_index = 7;
    sweep("carve_split_run (a bad argument index)", attempt_split_run,
          settle_split_launch, &s, CL_INVALID_ARG_INDEX, NULL);
    s.arg_index = 0;
    sweep_prepare = prepare_split_reset;
    sweep("carve_split_reset", attempt_split_reset, settle_split_reset, &s,
          CARVE_SUCCESS, NULL);
    sweep_prepare = prepare_split_reset_owned;
    sweep("carve_split_reset (a slice the device's)", attempt_split_reset,
          settle_split_reset_owned, &s, CARVE_ERROR_WRONG_OWNER, NULL);
    sweep_prepare = NULL;
    prepare_split_reset(&s); /* results to read */
    sweep("carve_split_summary", attempt_split_summary, settle_split_intact,
          &s, CARVE_SUCCESS, NULL);
    sweep("carve_split_check", attempt_split_check, settle_split_intact, &s,
          CARVE_SUCCESS, NULL);
    sweep("carve_split_report_print (text, JSON)", attempt_split_report,
          settle_split_intact, &s, CARVE_SUCCESS, io_also);
    sweep("carve_split_fit", attempt_split_fit, settle_split_intact, &s,
          CARVE_SUCCESS, NULL);
    carve_split_release(s.split);
    s.split = NULL;

    clReleaseKernel(s.kernel);
    carve__fault_clReleaseProgram(s.program);
    for (i = 0; i < 2; ++i) {
        clReleaseCommandQueue(s.queues[i]);
        clReleaseDevice(s.subs[i]);
    }
    clReleaseContext(s.context);
}

/* ---- the TI-style allocator ------------------------------------------------------------ */

static carve_status attempt_malloc_ddr(void *c)
{
    void **p = c;
    *p = __malloc_ddr(3000);
    return *p != NULL ? CARVE_SUCCESS : carve_ti_last_status();
}

/* Only a successful call may start the tier: carve_ti_usage would. */
static void settle_malloc_ddr(void *c, carve_status status)
{
    void **p = c;
    size_t used = 1;
    if (status != CARVE_SUCCESS)
        return;
    __free_ddr(*p);
    EXPECT_STATUS(carve_ti_last_status(), CARVE_SUCCESS);
    EXPECT_STATUS(carve_ti_usage("ddr", &used, NULL), CARVE_SUCCESS);
    EXPECT(used == 0);
}

static carve_status attempt_malloc_msmc(void *c)
{
    void **p = c;
    *p = __malloc_msmc(1000);
    return *p != NULL ? CARVE_SUCCESS : carve_ti_last_status();
}

static void settle_malloc_msmc(void *c, carve_status status)
{
    void **p = c;
    if (status == CARVE_SUCCESS)
        __free_msmc(*p);
}

/* Many blocks at once: the pool's bookkeeping grows as it goes. */
static carve_status attempt_many_ddr(void *c)
{
    void **blocks = c;
    size_t i;
    for (i = 0; i < 2000; ++i) {
        blocks[i] = __malloc_ddr(64 + i % 200);
        if (blocks[i] == NULL)
            return carve_ti_last_status();
    }
    return CARVE_SUCCESS;
}

static void settle_many_ddr(void *c, carve_status status)
{
    void **blocks = c;
    size_t i, used = 1;
    (void)status;
    for (i = 0; i < 2000; ++i) {
        __free_ddr(blocks[i]);
        blocks[i] = NULL;
    }
    EXPECT_STATUS(carve_ti_usage("ddr", &used, NULL), CARVE_SUCCESS);
    EXPECT(used == 0);
}

/* A tier's start, through the call that does nothing else. */
static carve_status attempt_start(void *c)
{
    size_t capacity = 0;
    return carve_ti_usage((const char *)c, NULL, &capacity);
}

static void run_ti(void)
{
    static void *blocks[2000];
    void *p = NULL;
    sweep_keeps_state = 1;
    sweep("carve_ti_usage (starts the ddr tier)", attempt_start, settle_nothing,
          (void *)"ddr", CARVE_SUCCESS, NULL);
    sweep("carve_ti_usage (starts the msmc tier)", attempt_start,
          settle_nothing, (void *)"msmc", CARVE_SUCCESS, NULL);
    sweep_keeps_state = 0;
    sweep("__malloc_ddr", attempt_malloc_ddr, settle_malloc_ddr, &p,
          CARVE_SUCCESS, NULL);
    sweep("__malloc_msmc", attempt_malloc_msmc, settle_malloc_msmc, &p,
          CARVE_SUCCESS, NULL);
    sweep("__malloc_ddr x 2000", attempt_many_ddr, settle_many_ddr, blocks,
          CARVE_SUCCESS, NULL);
}

/* ---- every injection point in the sources ------------------------------------------------ */

/* The calls fault.h wraps with a point (not the counted-only releases). */
static const char *const wrapped[] = {
    "malloc", "calloc", "realloc", "mmap", "memfd_create", "ftruncate", "fopen",
    "clGetPlatformIDs", "clGetPlatformInfo", "clGetDeviceIDs", "clGetDeviceInfo",
    "clCreateCommandQueue", "clCreateBuffer", "clCreateSubBuffer",
    "clSetMemObjectDestructorCallback",
    "clCreateProgramWithSource", "clCompileProgram", "clLinkProgram",
    "clGetProgramBuildInfo", "clCreateKernel", "clSetKernelArg",
    "clEnqueueNDRangeKernel", "clEnqueueMapBuffer", "clEnqueueUnmapMemObject",
    "clFlush", "clFinish", "clWaitForEvents", "clSVMAlloc", "clEnqueueSVMMap",
    "clEnqueueSVMUnmap", "clSetKernelArgSVMPointer"};

static size_t recovery_points;

static int is_name_char(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* Calls of a wrapped function on one line of C (comments left out). */
static void scan_line(const char *file, int line, const char *text,
                      site_record *out, size_t *count, size_t capacity)
{
    size_t w;
    const char *comment = strstr(text, "/*");
    const char *stripped = text;
    while (*stripped == ' ')
        ++stripped;
    if (stripped[0] == '*' || stripped[0] == '#')
        return; /* inside a block comment, or a directive */
    /* A call made only once something else failed cannot be the one
     * fault of a run: its line says so, and it is listed apart. */
    if (strstr(text, "recovery: reached only after a failure") != NULL) {
        ++recovery_points;
        return;
    }
    for (w = 0; w < sizeof wrapped / sizeof wrapped[0]; ++w) {
        size_t n = strlen(wrapped[w]);
        const char *at;
        for (at = strstr(text, wrapped[w]); at != NULL;
             at = strstr(at + 1, wrapped[w])) {
            if ((at > text && is_name_char(at[-1])) || at[n] != '(' ||
                (comment != NULL && at > comment) || *count >= capacity)
                continue;
            snprintf(out[*count].site, sizeof out[*count].site, "%s:%d %s",
                     file, line, wrapped[w]);
            ++*count;
        }
    }
}

static site_record known[MAX_SITES];
static size_t known_count;
static size_t scanned_files;

/* Lists the injection points of one host source (an nftw visit): every
 * .c file under the folder but fault.c, the wrappers themselves. Sites
 * are named by the file's base name, as fault.c names the one that fired. */
static int scan_source(const char *path, const struct stat *info, int type,
                       struct FTW *at)
{
    const char *name = path + at->base;
    size_t length = strlen(name);
    char text[1024];
    int line = 0;
    FILE *in;
    (void)info;
    if (type != FTW_F || length < 2 || strcmp(name + length - 2, ".c") != 0 ||
        strcmp(name, "fault.c") == 0)
        return 0;
    in = fopen(path, "r");
    if (in == NULL) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    while (fgets(text, sizeof text, in) != NULL)
        scan_line(name, ++line, text, known, &known_count, MAX_SITES);
    fclose(in);
    ++scanned_files;
    return 0;
}

/* Lists the injection points of carve's host sources under `dir`. */
static void scan_sources(const char *dir)
{
    if (nftw(dir, scan_source, 16, FTW_PHYS) != 0 || scanned_files == 0) {
        fprintf(stderr, "cannot list the sources under %s\n", dir);
        exit(1);
    }
}

/* Points of the sources no run reached; `why` says which may not be. */
static size_t report_unreached(void)
{
    size_t i, j, missing = 0;
    for (i = 0; i < known_count; ++i) {
        int hit = 0;
        for (j = 0; j < site_count && !hit; ++j)
            hit = strcmp(known[i].site, sites[j].site) == 0;
        if (!hit) {
            printf("  not reached: %s\n", known[i].site);
            ++missing;
        }
    }
    return missing;
}

/* ---- report ------------------------------------------------------------------------------ */

static int by_site(const void *x, const void *y)
{
    return strcmp(((const site_record *)x)->site, ((const site_record *)y)->site);
}

static void print_markdown(void)
{
    size_t i;
    unsigned long points = 0;
    qsort(sites, site_count, sizeof sites[0], by_site);
    printf("\n| entry point | points reached | runs | result |\n"
           "| --- | ---: | ---: | --- |\n");
    for (i = 0; i < entry_count; ++i) {
        printf("| `%s` | %lu | %lu | %s |\n", entries[i].name,
               entries[i].points, entries[i].runs,
               entries[i].failures ? "FAILED" : "clean");
        points += entries[i].points;
    }
    printf("\n| injection point | faults injected | outcome |\n"
           "| --- | ---: | --- |\n");
    for (i = 0; i < site_count; ++i)
        printf("| `%s` | %lu | %s |\n", sites[i].site, sites[i].hits,
               sites[i].statuses);
    printf("\n%zu entry points, %zu distinct injection points, %lu points "
           "reached, %lu runs\n", entry_count, site_count, points, total_runs);
}

int main(int argc, char **argv)
{
    int i;
    const char *section = argc > 1 ? argv[1] : "";
    const char *sources = NULL;
    for (i = 2; i < argc; ++i) {
        if (strcmp(argv[i], "--table") == 0)
            print_table = 1;
        else if (strcmp(argv[i], "--sources") == 0 && i + 1 < argc)
            sources = argv[++i];
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* the table so far, if a run crashes */
    printf("faults %s\n", section);
    if (strcmp(section, "device") != 0 && strcmp(section, "ti") != 0 &&
        strcmp(section, "all") != 0) {
        fprintf(stderr, "usage: %s all|device|ti [--sources DIR] [--table]\n",
                argv[0]);
        return 2;
    }
    /* Read when a tier starts: small tiers. */
    setenv("CARVE_TI_DDR_BYTES", "1048576", 1);
    setenv("CARVE_TI_MSMC_BYTES", "65536", 1);
    /* The TI section first: it sweeps the tiers' start, which the device
     * section's TI calls would otherwise have made already. */
    if (strcmp(section, "device") != 0)
        run_ti();
    if (strcmp(section, "ti") != 0)
        run_device();
    printf("  %zu entry points, %zu injection points reached, %lu runs\n",
           entry_count, site_count, total_runs);
    if (sources != NULL) {
        scan_sources(sources);
        size_t missing = report_unreached();
        printf("  %zu sources have %zu injection points; %zu not reached "
               "(and %zu reached only after another failure)\n",
               scanned_files, known_count, missing, recovery_points);
        EXPECT(missing == 0);
    }
    if (print_table)
        print_markdown();
    return carve_test_finish("faults");
}
