/*
 * coherence.c - CARVE_REGION_COHERENCE_CHECK catches a missing hand-over
 * and lets a correct program through.
 *
 * Each scenario runs in a child process (forked before anything touches
 * OpenCL) whose stdout and stderr come back through pipes:
 *   forgotten-to-host    the host reads an allocation the device owns: the
 *                        child dies of SIGSEGV, and carve's one line on
 *                        stderr names the region, the offset touched and
 *                        the allocation;
 *   correct              the same program with carve_zc_to_host: exits 0,
 *                        results right, nothing on stderr from carve;
 *   forgotten-to-device  a kernel writes an allocation the host still owns:
 *                        with an in-process device (PoCL) the fault is in a
 *                        runtime thread, and carve names it from there (once,
 *                        though several threads fault);
 *   foreign-fault        a fault outside carve's memory goes to the handler
 *                        that was installed before carve's, which repairs it;
 *                        carve's check keeps working after that.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "device_support.h"

#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORDS 4096u /* four pages of uint */
#define MARK "carve: coherence check: "

static const char *const source =
    "kernel void bump(global uint *words)\n"
    "{\n"
    "    words[get_global_id(0)] += 1u;\n"
    "}\n";

/* What a child shares with the host side of the test, as it runs. */
typedef struct child {
    carve_test_cl cl;
    carve_region *region;
    cl_program program;
    cl_kernel bump;
    uint32_t *words;
} child;

/* ---- in the child ------------------------------------------------------------ */

static int device_in_this_process(const carve_test_cl *cl)
{
    char name[256] = "";
    cl_platform_id platform;
    cl_device_type type = 0;
    REQUIRE_OK(clGetDeviceInfo(cl->device, CL_DEVICE_PLATFORM, sizeof platform,
                               &platform, NULL));
    REQUIRE_OK(clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof name - 1,
                                 name, NULL));
    REQUIRE_OK(clGetDeviceInfo(cl->device, CL_DEVICE_TYPE, sizeof type, &type,
                               NULL));
    return strstr(name, "Portable Computing Language") != NULL &&
           (type & CL_DEVICE_TYPE_CPU) != 0;
}

/* A coherence-checked region "staging" with WORDS words 0, 1, 2...; tells
 * the parent where the allocation is. */
static void child_open(child *c)
{
    carve_region_params params;
    carve_region_info info;
    uint32_t i;
    c->cl = carve_test_open_cl();
    memset(&params, 0, sizeof params);
    params.backend = CARVE_BACKEND_HOST_MEMORY;
    params.bytes = 64 * 1024;
    params.flags = CARVE_REGION_COHERENCE_CHECK;
    params.name = "staging";
    REQUIRE_OK(carve_region_create(c->cl.context, c->cl.device, &params,
                                   &c->region));
    c->bump = carve_test_kernel(&c->cl, source, "bump", &c->program);
    /* a first allocation, so that the one under test is not at offset 0 */
    if (carve_zc_malloc(c->region, 100) == NULL ||
        (c->words = carve_zc_malloc(c->region, WORDS * sizeof(uint32_t))) ==
            NULL) {
        fprintf(stderr, "allocation failed\n");
        exit(1);
    }
    for (i = 0; i < WORDS; ++i)
        c->words[i] = i;
    REQUIRE_OK(carve_region_get_info(c->region, &info));
    printf("allocation host 0x%llx offset 0x%llx bytes %llu\n",
           (unsigned long long)(uintptr_t)c->words,
           (unsigned long long)((unsigned char *)c->words -
                                (unsigned char *)info.host_base),
           (unsigned long long)(WORDS * sizeof(uint32_t)));
    fflush(stdout);
}

/* Runs bump over the words, handing them over first if asked. */
static void child_run(child *c, int hand_over)
{
    size_t items = WORDS;
    REQUIRE_OK(carve_zc_set_arg(c->bump, 0, c->words));
    if (hand_over)
        REQUIRE_OK(carve_zc_to_device(c->words, 0));
    REQUIRE_OK(clEnqueueNDRangeKernel(c->cl.queue, c->bump, 1, NULL, &items,
                                      NULL, 0, NULL, NULL));
    REQUIRE_OK(clFinish(c->cl.queue));
}

/* The host reads what the device wrote; with `take_back` after
 * carve_zc_to_host, as it must. Returns the words that are wrong. The
 * reads are volatile: a result the caller drops must still be read. */
static uint32_t child_read(child *c, int take_back)
{
    const volatile uint32_t *words = c->words;
    uint32_t i, wrong = 0;
    if (take_back)
        REQUIRE_OK(carve_zc_to_host(c->words, 0, 0, NULL));
    for (i = WORDS / 2; i < WORDS; ++i) /* starts in the third page */
        wrong += words[i] != i + 1u;
    for (i = 0; i < WORDS / 2; ++i)
        wrong += words[i] != i + 1u;
    return wrong;
}

static void child_close(child *c)
{
    clReleaseKernel(c->bump);
    clReleaseProgram(c->program);
    carve_region_release(c->region);
    carve_test_close_cl(&c->cl);
}

static int forgotten_to_host(void)
{
    child c;
    child_open(&c);
    child_run(&c, 1);
    child_read(&c, 0); /* must not return */
    return 3;
}

static int correct(void)
{
    child c;
    uint32_t wrong;
    child_open(&c);
    child_run(&c, 1);
    wrong = child_read(&c, 1);
    child_run(&c, 1); /* and once more on the same allocation */
    wrong += child_read(&c, 1) != WORDS; /* every word one further on */
    printf("correct program: %u words wrong\n", wrong);
    child_close(&c);
    return wrong == 0 ? 0 : 1;
}

static int forgotten_to_device(void)
{
    child c;
    child_open(&c);
    if (!device_in_this_process(&c.cl)) {
        printf("the device does not run in this process: its touches "
               "cannot be caught\n");
        return CARVE_TEST_SKIP;
    }
    child_run(&c, 0); /* must not return */
    return 3;
}

static volatile unsigned char *own_page;
static volatile sig_atomic_t own_faults;

/* The program's own handler, installed before carve's: it repairs faults
 * on its page and leaves any other to the default action. */
static void own_handler(int sig, siginfo_t *info, void *context)
{
    long page = sysconf(_SC_PAGESIZE);
    (void)context;
    const volatile unsigned char *at = info->si_addr;
    if (at >= own_page && at < own_page + page) {
        mprotect((void *)(uintptr_t)own_page, (size_t)page,
                 PROT_READ | PROT_WRITE);
        own_faults = own_faults + 1;
        return;
    }
    signal(sig, SIG_DFL);
}

static int foreign_fault(void)
{
    struct sigaction action;
    child c;
    long page = sysconf(_SC_PAGESIZE);
    own_page = mmap(NULL, (size_t)page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
                    -1, 0);
    memset(&action, 0, sizeof action);
    action.sa_sigaction = own_handler;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    if (own_page == MAP_FAILED || sigaction(SIGSEGV, &action, NULL) != 0)
        return 1;
    child_open(&c); /* carve's handler goes in on top of it */
    own_page[0] = 42; /* a fault that is not carve's */
    printf("own fault repaired by its own handler: %d fault(s), value %d\n",
           (int)own_faults, own_page[0]);
    fflush(stdout);
    if (own_faults != 1 || own_page[0] != 42)
        return 1;
    child_run(&c, 1);
    child_read(&c, 0); /* carve's check still catches this */
    return 3;
}

/* ---- in the parent ----------------------------------------------------------- */

typedef struct outcome {
    int status; /* from waitpid */
    char out[4096], err[8192];
} outcome;

static void append(char *buf, size_t size, int fd, int *open_fd)
{
    size_t used = strlen(buf);
    ssize_t n = read(fd, buf + used, size - 1 - used);
    if (n <= 0) {
        close(fd);
        *open_fd = -1;
        return;
    }
    buf[used + (size_t)n] = '\0';
}

/* Runs `scenario` in a child and collects what it wrote and how it ended. */
static outcome run_child(int (*scenario)(void))
{
    outcome o;
    int out[2], err[2];
    pid_t pid;
    memset(&o, 0, sizeof o);
    if (pipe(out) != 0 || pipe(err) != 0) {
        perror("pipe");
        exit(1);
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        close(out[0]);
        close(err[0]);
        alarm(120); /* a hung child fails instead of hanging the test */
        exit(scenario());
    }
    close(out[1]);
    close(err[1]);
    while (out[0] >= 0 || err[0] >= 0) {
        struct pollfd fds[2];
        fds[0].fd = out[0];
        fds[0].events = POLLIN;
        fds[1].fd = err[0];
        fds[1].events = POLLIN;
        if (poll(fds, 2, -1) < 0)
            break;
        if (fds[0].revents)
            append(o.out, sizeof o.out, out[0], &out[0]);
        if (fds[1].revents)
            append(o.err, sizeof o.err, err[0], &err[0]);
    }
    waitpid(pid, &o.status, 0);
    return o;
}

static int occurrences(const char *text, const char *word)
{
    int n = 0;
    for (text = strstr(text, word); text != NULL;
         text = strstr(text + 1, word))
        ++n;
    return n;
}

/* The allocation the child reported, or exit if it said nothing. */
typedef struct allocation {
    unsigned long long host, offset, bytes;
} allocation;

static int reported_allocation(const outcome *o, allocation *a)
{
    const char *line = strstr(o->out, "allocation host ");
    return line != NULL && sscanf(line, "allocation host %llx offset %llx "
                                        "bytes %llu",
                                  &a->host, &a->offset, &a->bytes) == 3;
}

static void show(const char *name, const outcome *o)
{
    const char *line = strstr(o->err, MARK);
    printf("%s: ", name);
    if (WIFSIGNALED(o->status))
        printf("died of signal %d", WTERMSIG(o->status));
    else
        printf("exited %d", WEXITSTATUS(o->status));
    if (line != NULL)
        printf("; carve said:\n  %.*s", (int)strcspn(line, "\n") + 1, line);
    else
        printf("\n");
    /* A child that failed on its own says why there. */
    if (WIFEXITED(o->status) && WEXITSTATUS(o->status) != 0 &&
        WEXITSTATUS(o->status) != CARVE_TEST_SKIP)
        printf("  its output:\n%s  its errors:\n%s", o->out, o->err);
}

static int exited_skipped(const outcome *o)
{
    return WIFEXITED(o->status) && WEXITSTATUS(o->status) == CARVE_TEST_SKIP;
}

/* Expects death by SIGSEGV and exactly one line from carve naming `side`'s
 * touch at `at` (or anywhere in the allocation if at is 0), the
 * allocation, and the call that was missing. */
static void expect_caught(const outcome *o, const char *side,
                          unsigned long long at, const char *missing)
{
    allocation a;
    char want[256];
    const char *line = strstr(o->err, MARK);
    unsigned long long offset = 0;
    EXPECT(WIFSIGNALED(o->status) && WTERMSIG(o->status) == SIGSEGV);
    EXPECT(occurrences(o->err, MARK) == 1);
    EXPECT(reported_allocation(o, &a));
    if (line == NULL || !reported_allocation(o, &a))
        return;
    snprintf(want, sizeof want, MARK "the %s touched region 'staging' at "
                                     "offset 0x",
             side);
    EXPECT(strncmp(line, want, strlen(want)) == 0);
    EXPECT(sscanf(line + strlen(want), "%llx", &offset) == 1);
    if (at != 0)
        EXPECT(offset == a.offset + at);
    else
        EXPECT(offset >= a.offset && offset < a.offset + a.bytes);
    snprintf(want, sizeof want,
             "inside the allocation at offset 0x%016llx of %llu bytes (host "
             "address 0x%016llx)",
             a.offset, a.bytes, a.host);
    EXPECT(strstr(line, want) != NULL);
    EXPECT(strstr(line, missing) != NULL);
}

int main(void)
{
    outcome o;

    o = run_child(forgotten_to_host);
    show("forgotten carve_zc_to_host", &o);
    if (exited_skipped(&o))
        return CARVE_TEST_SKIP; /* no device at all */
    /* the first word read is WORDS / 2, in the allocation's third page */
    expect_caught(&o, "host", WORDS / 2 * sizeof(uint32_t), "carve_zc_to_host");

    o = run_child(correct);
    show("correct hand-overs", &o);
    EXPECT(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0);
    EXPECT(strstr(o.err, MARK) == NULL);
    EXPECT(strstr(o.out, "correct program: 0 words wrong") != NULL);

    o = run_child(forgotten_to_device);
    show("forgotten carve_zc_to_device", &o);
    if (!exited_skipped(&o))
        expect_caught(&o, "device", 0, "carve_zc_to_device");

    o = run_child(foreign_fault);
    show("a fault of the program's own, then a forgotten hand-over", &o);
    EXPECT(strstr(o.out, "repaired by its own handler: 1 fault(s), value 42") !=
           NULL);
    expect_caught(&o, "host", WORDS / 2 * sizeof(uint32_t), "carve_zc_to_host");
    return carve_test_finish("device_coherence");
}
