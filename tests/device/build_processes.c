/*
 * build_processes.c - carve_program_build succeeds while other processes
 * build the same program at the same moment.
 *
 * PoCL 3.1 keeps built programs in a kernel cache shared by every process
 * of the user, and a build can fail, with no log, when another process
 * writes or reads the same entry at the same time (CTest runs tests in
 * parallel, and many of them build carve's probe). carve retries such a
 * failure. Each round here starts PROCESSES processes at once, each
 * building one program new to the cache (the round's nonce is in its
 * source) and one that is already there; every build must succeed.
 *
 * The race is a matter of timing, so this is a smoke test: it cannot fail
 * every time it should. The processes share a cache directory of their
 * own (POCL_CACHE_DIR, removed at the end), so that the user's cache does
 * not fill with the nonces' programs; there, with a single build attempt,
 * six rounds of six processes failed in one run of six. (In the user's
 * own cache, large and warm, four rounds of four failed in two runs of
 * three, and device_coherence run twice at once failed 12 times in 80;
 * with the retry, none did.)
 *
 * Usage: device_build_processes [rounds]
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, setenv, nftw */
#include "device_support.h"

#include <ftw.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROCESSES 4
#define DEFAULT_ROUNDS 3

static const char *const cached_source =
    "#include \"carve.clh\"\n"
    "kernel void cached(global uchar *carved)\n"
    "{\n"
    "    carve_arena a = carve_arena_open(carved, carve_flat_global_id());\n"
    "    carve_free(&a, carve_malloc(&a, 16));\n"
    "    carve_arena_close(&a);\n"
    "}\n";

/* In a child: both builds, then exit 0, 1 on a failed build (after
 * saying why), or 77 without a device. */
static void child(unsigned long long nonce, unsigned round)
{
    char fresh_source[512];
    const char *sources[2];
    carve_test_cl cl = carve_test_open_cl();
    int i;
    snprintf(fresh_source, sizeof fresh_source,
             "#include \"carve.clh\"\n"
             "kernel void fresh(global uint *out)\n"
             "{\n"
             "    out[get_global_id(0)] = %lluu + %uu; /* new to the cache */\n"
             "}\n",
             nonce & 0xffffffffull, round);
    sources[0] = fresh_source;
    sources[1] = cached_source;
    for (i = 0; i < 2; ++i) {
        cl_program program = NULL;
        char *log = NULL;
        carve_status status = carve_program_build(cl.context, cl.device,
                                                  sources[i], NULL, &program,
                                                  &log);
        if (status != CARVE_SUCCESS) {
            fprintf(stderr, "round %u, process %ld, %s program: %s\n%s\n",
                    round, (long)getpid(), i == 0 ? "new" : "cached",
                    carve_status_string(status), log ? log : "(no log)");
            free(log);
            exit(1);
        }
        clReleaseProgram(program);
    }
    carve_test_close_cl(&cl);
    exit(0);
}

static int remove_entry(const char *path, const struct stat *st, int type,
                        struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

/* Waits for the n children in pids; adds to the counts. */
static void reap(const pid_t *pids, int n, unsigned *failed,
                 unsigned *skipped, unsigned *built)
{
    int i, status;
    for (i = 0; i < n; ++i) {
        if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status))
            *failed += 1;
        else if (WEXITSTATUS(status) == CARVE_TEST_SKIP)
            *skipped += 1;
        else if (WEXITSTATUS(status) != 0)
            *failed += 1;
        else
            *built += 2;
    }
}

int main(int argc, char **argv)
{
    unsigned rounds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10)
                               : DEFAULT_ROUNDS;
    char cache[] = "/tmp/carve-build-processes-XXXXXX";
    /* Differs between runs, so the first build of a round is new to the
     * cache every time the test runs. */
    unsigned long long nonce =
        (unsigned long long)time(NULL) * 1000003ull + (unsigned long long)getpid();
    unsigned round, failed = 0, skipped = 0, built = 0;
    if (rounds == 0) {
        fprintf(stderr, "usage: %s [rounds], rounds at least 1\n", argv[0]);
        return 2;
    }
    if (mkdtemp(cache) == NULL || setenv("POCL_CACHE_DIR", cache, 1) != 0) {
        perror("a cache directory for the test");
        return 1;
    }
    printf("%u rounds of %d processes, nonce %llu, cache %s\n", rounds,
           PROCESSES, nonce & 0xffffffffull, cache);
    fflush(stdout);
    /* No OpenCL in this process: children are forked from a clean one.
     * First one process alone puts the cached program in the new cache. */
    {
        pid_t alone = fork();
        if (alone == 0)
            child(nonce, rounds);
        if (alone < 0) {
            perror("fork");
            return 1;
        }
        reap(&alone, 1, &failed, &skipped, &built);
        built = 0;
    }
    for (round = 0; round < rounds && skipped == 0; ++round) {
        pid_t pids[PROCESSES];
        int started;
        for (started = 0; started < PROCESSES; ++started) {
            pids[started] = fork();
            if (pids[started] < 0)
                break;
            if (pids[started] == 0)
                child(nonce, round);
        }
        reap(pids, started, &failed, &skipped, &built);
        if (started < PROCESSES) {
            perror("fork");
            failed += 1;
            break;
        }
    }
    nftw(cache, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (skipped == PROCESSES && built == 0 && failed == 0) {
        printf("no OpenCL device: skipped\n");
        return CARVE_TEST_SKIP;
    }
    printf("%u builds succeeded, %u processes failed\n", built, failed);
    EXPECT(failed == 0 && skipped == 0);
    return carve_test_finish("device_build_processes");
}
