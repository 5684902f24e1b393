/*
 * build.c - carve_program_build: carve's device headers come from memory,
 * options reach the compiler, and a failed build returns the compiler's
 * status and keeps its log for the caller; a good build leaves no log.
 */
#include "device_support.h"

static const char *const good_source =
    "#include \"carve.clh\"\n"
    "kernel void scaled(global uchar *carved)\n"
    "{\n"
    "    carve_arena a = carve_arena_open(carved, carve_flat_global_id());\n"
    "    global uint *p = carve_malloc(&a, sizeof(uint));\n"
    "#ifdef SCALE\n"
    "    if (p != 0) *p = SCALE;\n"
    "#else\n"
    "    if (p != 0) *p = 1;\n"
    "#endif\n"
    "    carve_set_root(&a, p);\n"
    "    carve_arena_close(&a);\n"
    "}\n";

/* The shared core alone, as the zero-copy probe includes it. */
static const char *const core_only_source =
    "#include \"carve_core.h\"\n"
    "kernel void granule(global uint *out) { *out = CARVE_GRANULE; }\n";

static const char *const syntax_error_source =
    "#include \"carve.clh\"\n"
    "kernel void broken(global uchar *carved)\n"
    "{\n"
    "    carve_arena a = carve_arena_open(carved, 0)\n" /* no ';' */
    "    carve_arena_close(&a);\n"
    "}\n";

static const char *const undeclared_source =
    "#include \"carve.clh\"\n"
    "kernel void broken(global uchar *carved)\n"
    "{\n"
    "    carve_arena a = carve_arena_open(carved, 0);\n"
    "    carve_free(&a, carve_no_such_symbol);\n"
    "}\n";

static const char *const missing_header_source =
    "#include \"carve_no_such_header.h\"\n"
    "kernel void broken(global uint *out) { *out = 1; }\n";

static int is_compile_failure(carve_status status)
{
    return status == CL_COMPILE_PROGRAM_FAILURE ||
           status == CL_BUILD_PROGRAM_FAILURE;
}

/* Builds `source`, which must fail, and expects its log to contain each of
 * the `words` (NULL-terminated). */
static void expect_failed_build(const carve_test_cl *cl, const char *source,
                                const char *const *words)
{
    cl_program program = NULL;
    char *log = NULL;
    carve_status status = carve_program_build(cl->context, cl->device, source,
                                              NULL, &program, &log);
    EXPECT(is_compile_failure(status));
    if (!is_compile_failure(status))
        fprintf(stderr, "  build gave %s\n", carve_status_string(status));
    EXPECT(log != NULL);
    for (; log != NULL && *words != NULL; ++words) {
        EXPECT(strstr(log, *words) != NULL);
        if (strstr(log, *words) == NULL)
            fprintf(stderr, "  log lacks \"%s\":\n%s\n", *words, log);
    }
    free(log);
    if (status == CARVE_SUCCESS && program != NULL)
        clReleaseProgram(program);

    /* without a log pointer, the same status */
    program = NULL;
    status = carve_program_build(cl->context, cl->device, source, NULL,
                                 &program, NULL);
    EXPECT(is_compile_failure(status));
    if (status == CARVE_SUCCESS && program != NULL)
        clReleaseProgram(program);
}

static void test_failures(const carve_test_cl *cl)
{
    /* "error:" also tells carve_program_build not to retry the build. */
    static const char *const syntax_words[] = {"error:", "';'", NULL};
    static const char *const undeclared_words[] = {"error:",
                                                   "carve_no_such_symbol", NULL};
    static const char *const header_words[] = {"error:",
                                               "carve_no_such_header.h", NULL};
    cl_program program = NULL;
    expect_failed_build(cl, syntax_error_source, syntax_words);
    expect_failed_build(cl, undeclared_source, undeclared_words);
    expect_failed_build(cl, missing_header_source, header_words);
    EXPECT_STATUS(carve_program_build(NULL, cl->device, good_source, NULL,
                                      &program, NULL),
                  CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(carve_program_build(cl->context, cl->device, NULL, NULL,
                                      &program, NULL),
                  CARVE_ERROR_INVALID_ARGUMENT);
}

/* Builds `source` with `options` and runs kernel `name` over one work-item
 * of a set; returns the uint the kernel left at its root. */
static uint32_t build_and_run(const carve_test_cl *cl, const char *source,
                              const char *options, const char *name)
{
    const size_t one = 1;
    carve_plan plan = dev_plan(cl, 1, &one, 64);
    carve_set *set = dev_set(cl, &plan);
    cl_program program = NULL;
    char not_a_log[] = "set by the test";
    char *log = not_a_log;
    carve_status status = carve_program_build(cl->context, cl->device, source,
                                              options, &program, &log);
    const uint32_t *root;
    uint32_t value = 0;
    cl_kernel kernel;
    cl_int err;
    EXPECT_STATUS(status, CARVE_SUCCESS);
    EXPECT(log == NULL); /* success leaves no log */
    if (status != CARVE_SUCCESS) {
        if (log != NULL && log != not_a_log)
            fprintf(stderr, "%s\n", log);
        carve_set_release(set);
        return 0;
    }
    EXPECT(program != NULL);
    kernel = clCreateKernel(program, name, &err);
    REQUIRE_OK(err);
    DEV_RUN(set, kernel, 1, &one);
    root = carve_layout_pointer(carve_test_image(set), dev_stats(set, 0).root,
                                sizeof *root);
    EXPECT(root != NULL);
    if (root != NULL)
        value = *root;
    clReleaseKernel(kernel);
    clReleaseProgram(program);
    carve_set_release(set);
    return value;
}

static void test_successes(const carve_test_cl *cl)
{
    cl_program program = NULL;
    char *log = NULL;
    size_t length = 0;
    const char *clh = carve_device_source("carve.clh", &length);
    EXPECT(clh != NULL && length == strlen(clh) && length > 0);
    EXPECT(carve_device_source("carve_no_such_file.h", NULL) == NULL);

    EXPECT(build_and_run(cl, good_source, NULL, "scaled") == 1);
    EXPECT(build_and_run(cl, good_source, "-DSCALE=37 -cl-std=CL1.2",
                         "scaled") == 37);

    EXPECT_STATUS(carve_program_build(cl->context, cl->device,
                                      core_only_source, "", &program, &log),
                  CARVE_SUCCESS);
    EXPECT(log == NULL && program != NULL);
    free(log);
    if (program != NULL)
        clReleaseProgram(program);
}

int main(void)
{
    carve_test_cl cl = carve_test_open_cl();
    test_failures(&cl);
    test_successes(&cl);
    carve_test_close_cl(&cl);
    return carve_test_finish("device_build");
}
