/*
 * coherence.c - the coherence check (CARVE_REGION_COHERENCE_CHECK): the
 * host and the device see a region through two views of the same pages,
 * each open only where its side owns the allocation. A touch of the other
 * side's memory faults; the SIGSEGV handler names the region, the offset,
 * the allocation and the hand-over that is missing, then lets the access
 * kill the process as it would have.
 */
#define _GNU_SOURCE /* sigaction and its SA_* flags in a strict C mode */
#include "region_internal.h"

#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "fault.h" /* last: test builds wrap the calls above */

static struct sigaction previous_segv;
static pthread_once_t segv_once = PTHREAD_ONCE_INIT;
/* One report per process: several threads (host, or the runtime's workers)
 * may fault at once; the first reports, the others wait for it to finish
 * so that the process does not die in the middle of the message. */
static atomic_int segv_reporter = 0;
static atomic_int segv_reported = 0;

static void write_text(const char *text)
{
    ssize_t ignored = write(STDERR_FILENO, text, strlen(text));
    (void)ignored;
}

static void write_hex(uint64_t value)
{
    char buf[19];
    int i;
    buf[0] = '0';
    buf[1] = 'x';
    for (i = 0; i < 16; ++i)
        buf[2 + i] = "0123456789abcdef"[(value >> (60 - 4 * i)) & 15u];
    buf[18] = '\0';
    write_text(buf);
}

static void write_decimal(uint64_t value)
{
    char buf[21];
    int i = 20;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0);
    write_text(buf + i);
}

/* The live allocation holding `offset`: its start and requested bytes.
 * Reads the pool only (no allocation, no lock), as a signal handler may. */
static int allocation_holding(const carve_region *r, uint64_t offset,
                              uint64_t *start, uint64_t *bytes)
{
    return carve__pool_find_holding(r->pool, offset, start) &&
           carve__pool_find(r->pool, *start, NULL, bytes, NULL);
}

/* Only async-signal-safe calls, except the trylock: a mutex is never
 * waited for, and the pool is read only while nobody can change it. */
static void report_coherence_fault(carve_region *r, const unsigned char *at,
                                   int device_side)
{
    const unsigned char *view = device_side ? r->device_view : r->host_base;
    uint64_t offset = (uint64_t)(at - view), start = 0, bytes = 0;
    int named = 0;
    if (pthread_mutex_trylock(&r->lock) == 0) {
        named = allocation_holding(r, offset, &start, &bytes);
        pthread_mutex_unlock(&r->lock);
    }
    write_text(device_side ? "carve: coherence check: the device touched "
                             "region '"
                           : "carve: coherence check: the host touched "
                             "region '");
    write_text(r->name);
    write_text("' at offset ");
    write_hex(offset);
    write_text(device_side ? " (device view " : " (address ");
    write_hex((uint64_t)(uintptr_t)at);
    write_text(")");
    if (named) {
        write_text(", inside the allocation at offset ");
        write_hex(start);
        write_text(" of ");
        write_decimal(bytes);
        write_text(" bytes (host address ");
        write_hex((uint64_t)(uintptr_t)(r->host_base + start));
        write_text(")");
    }
    write_text(device_side ? ", while the host owns it: call "
                             "carve_zc_to_device before the kernel runs\n"
                           : ", while the device owns it: call "
                             "carve_zc_to_host first\n");
}

static void on_segv(int sig, siginfo_t *info, void *context);

static void install_segv_handler(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_segv;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_segv);
}

/* Hands a fault that is not carve's to whatever handled SIGSEGV before. */
static void pass_on(int sig, siginfo_t *info, void *context)
{
    struct sigaction now;
    if ((previous_segv.sa_flags & SA_SIGINFO) &&
        previous_segv.sa_sigaction != NULL)
        previous_segv.sa_sigaction(sig, info, context);
    else if (previous_segv.sa_handler != SIG_DFL &&
             previous_segv.sa_handler != SIG_IGN)
        previous_segv.sa_handler(sig);
    else {
        /* The default: returning re-executes the access, which kills. */
        sigaction(sig, &previous_segv, NULL);
        return;
    }
    /* A handler may restore what it saw before it, as LLVM's does (PoCL
     * loads it), which would drop carve's: go back in front of whatever
     * it left, so that the check outlives a fault that was repaired. */
    sigaction(sig, NULL, &now);
    if (!(now.sa_flags & SA_SIGINFO) || now.sa_sigaction != on_segv)
        install_segv_handler();
}

/* A touch of memory that the other side owns: name it, then give the
 * re-executed access to the previous disposition (by default the process
 * dies of SIGSEGV). */
static void on_segv(int sig, siginfo_t *info, void *context)
{
    const unsigned char *at = info->si_addr;
    int device_side = 0;
    carve_region *r = carve__registry_find(at, 0);
    if (r == NULL) {
        r = carve__registry_find(at, 1);
        device_side = 1;
    }
    if (r == NULL || !(r->flags & CARVE_REGION_COHERENCE_CHECK)) {
        pass_on(sig, info, context);
        return;
    }
    if (atomic_exchange(&segv_reporter, 1) == 0) {
        report_coherence_fault(r, at, device_side);
        atomic_store(&segv_reported, 1);
    } else {
        struct timespec pause = {0, 1000000};
        int tries;
        for (tries = 0; tries < 2000 && !atomic_load(&segv_reported); ++tries)
            nanosleep(&pause, NULL);
    }
    sigaction(sig, &previous_segv, NULL);
}

/* The other view faults, which names the missing hand-over. Free memory
 * counts as the host's. */
void carve__coherence_open_view(carve_region *r, uint64_t offset, uint64_t size,
                          int device_owns)
{
    if (!(r->flags & CARVE_REGION_COHERENCE_CHECK))
        return;
    mprotect(r->host_base + offset, (size_t)size,
             device_owns ? PROT_NONE : PROT_READ | PROT_WRITE);
    mprotect(r->device_view + offset, (size_t)size,
             device_owns ? PROT_READ | PROT_WRITE : PROT_NONE);
}

void carve__coherence_watch(void)
{
    pthread_once(&segv_once, install_segv_handler);
}
