/* region.c - shared memory regions, their host pool, and ownership. */
#define _GNU_SOURCE /* memfd_create */
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS /* clCreateCommandQueue */
#include "carve_internal.h"
#include "pool.h"
#include "tool_annotations.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "fault.h" /* last: test builds wrap the calls above */

#define MAX_REGIONS 256
#define MIN_ALIGNMENT 128u
#define MAX_ALIGNMENT ((uint64_t)1 << 31) /* clSVMAlloc takes a cl_uint */
#define MAX_REGION_BYTES ((uint64_t)1 << 48) /* no rounding can overflow */

/* What the region layer keeps per live allocation (the pool's user slot). */
typedef struct zc_alloc {
    /* Buffer backends: the allocation's own sub-buffer, made with it. Maps
     * and kernel arguments go through it, so that the host's map of one
     * allocation never overlaps a kernel's use of another (OpenCL leaves
     * using a buffer while part of it is mapped undefined). */
    cl_mem sub_buffer;
    uint64_t sub_bytes; /* its size: the bytes asked for */
    void *mapping;     /* an outstanding map of the allocation, if any */
    int device_owned;
    /* A set's image (carve__zc_reserve_for_set): carve_zc_free and
     * carve_zc_realloc refuse it, so that it cannot go while the set
     * lives. */
    int set_memory;
} zc_alloc;

struct carve_region {
    cl_context context;
    cl_device_id device;
    cl_command_queue queue; /* private, in-order: hand-overs only */
    carve_backend backend;
    uint32_t flags;
    char name[32];
    unsigned char *host_base;   /* the host's view */
    unsigned char *device_view; /* what CL_MEM_USE_HOST_PTR was given */
    uint64_t bytes;
    uint64_t alignment;
    size_t mapped_bytes; /* of host_base (and device_view) if carve mapped */
    cl_mem buffer;       /* buffer backends */
    /* ALLOC_HOST_PTR: where the buffer is mapped; SVM: the allocation.
     * The region starts `lead` bytes into it, on an aligned address. */
    void *allocated;
    uint64_t lead;
    uint64_t base_alignment; /* of the host's and the device's view */
    carve__pool *pool;
    pthread_mutex_t lock;
    int zero_copy_verified;
    uint64_t device_address;
    char evidence[160];
    void (*write_back)(void *, void *, size_t);
    void (*invalidate)(void *, void *, size_t);
    void *hook_context;
    carve_region *_Atomic fallback; /* the next tier, or NULL */
    cl_program probe_program;       /* shared by regions of one device */
};

static _Thread_local carve_status last_status;

/* Why this thread's latest call that takes an allocation refused it. */
static _Thread_local uint32_t last_refusal;

/* Records why a pointer was refused; returns 0. */
static int refuse(uint32_t reason)
{
    last_refusal = reason;
    return 0;
}

/* A live region and copies of its address ranges, which never change while
 * it is registered. registry_find reads the copies, never the region
 * itself: another thread may be releasing (freeing) a region that the
 * look-up passes. `version` is odd while the registry lock's holder
 * changes the entry; a reader that finds it odd, or changed by the end of
 * its reads, skips the entry (a region being created or released holds no
 * pointer a caller may use). uintptr_t fields: lock-free, and so usable in
 * the fault handler, on 32-bit hosts too. */
typedef struct registry_entry {
    carve_region *_Atomic region;
    _Atomic uintptr_t host_base, device_view, bytes;
    _Atomic unsigned version;
} registry_entry;

static registry_entry registry[MAX_REGIONS];
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

static int is_buffer_backend(carve_backend b)
{
    return b == CARVE_BACKEND_HOST_MEMORY || b == CARVE_BACKEND_USER_MEMORY ||
           b == CARVE_BACKEND_ALLOC_HOST_PTR;
}

static int is_svm_backend(carve_backend b)
{
    return b == CARVE_BACKEND_SVM_COARSE || b == CARVE_BACKEND_SVM_FINE;
}

const char *carve_backend_name(carve_backend backend)
{
    switch (backend) {
    case CARVE_BACKEND_AUTO: return "auto";
    case CARVE_BACKEND_HOST_MEMORY: return "host-memory";
    case CARVE_BACKEND_USER_MEMORY: return "user-memory";
    case CARVE_BACKEND_ALLOC_HOST_PTR: return "alloc-host-ptr";
    case CARVE_BACKEND_SVM_COARSE: return "svm-coarse";
    case CARVE_BACKEND_SVM_FINE: return "svm-fine";
    }
    return "unknown";
}

int carve_backend_supported(cl_device_id device, carve_backend backend)
{
#ifdef CARVE_HAVE_SVM
    cl_device_svm_capabilities svm = 0;
    if (is_svm_backend(backend) &&
        clGetDeviceInfo(device, CL_DEVICE_SVM_CAPABILITIES, sizeof svm, &svm,
                        NULL) != CL_SUCCESS)
        return 0;
    if (backend == CARVE_BACKEND_SVM_COARSE)
        return (svm & CL_DEVICE_SVM_COARSE_GRAIN_BUFFER) != 0;
    if (backend == CARVE_BACKEND_SVM_FINE)
        return (svm & CL_DEVICE_SVM_FINE_GRAIN_BUFFER) != 0;
#else
    if (is_svm_backend(backend))
        return 0;
#endif
    return device != NULL && backend >= CARVE_BACKEND_AUTO &&
           backend <= CARVE_BACKEND_SVM_FINE;
}

/* ---- the registry: live regions, the addresses they hold, the probe they share */

/* Sets entry e to r (NULL: empty); the registry lock is held. */
static void registry_set(registry_entry *e, carve_region *r)
{
    atomic_fetch_add(&e->version, 1u);
    if (r != NULL) {
        atomic_store(&e->host_base, (uintptr_t)r->host_base);
        atomic_store(&e->device_view, (uintptr_t)r->device_view);
        atomic_store(&e->bytes, (uintptr_t)r->bytes);
    }
    atomic_store(&e->region, r);
    atomic_fetch_add(&e->version, 1u);
}

static int registry_add(carve_region *r)
{
    int i, done = 0;
    pthread_mutex_lock(&registry_lock);
    for (i = 0; i < MAX_REGIONS && !done; ++i) {
        if (atomic_load(&registry[i].region) == NULL) {
            registry_set(&registry[i], r);
            done = 1;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return done;
}

/* Unregisters r and unlinks it from every tier chain that falls back to
 * it, so that no allocation can land in it once it is gone. */
static void registry_remove(carve_region *r)
{
    int i;
    pthread_mutex_lock(&registry_lock);
    for (i = 0; i < MAX_REGIONS; ++i) {
        carve_region *other = atomic_load(&registry[i].region);
        if (other == r)
            registry_set(&registry[i], NULL);
        else if (other != NULL && atomic_load(&other->fallback) == r)
            atomic_store(&other->fallback, NULL);
    }
    pthread_mutex_unlock(&registry_lock);
}

/* Whether r is a live region; the registry lock is held. */
static int registered(const carve_region *r)
{
    int i;
    for (i = 0; r != NULL && i < MAX_REGIONS; ++i)
        if (atomic_load(&registry[i].region) == r)
            return 1;
    return 0;
}

static int inside_range(uintptr_t p, uintptr_t base, uintptr_t bytes)
{
    return base != 0 && p >= base && p - base < bytes;
}

/* The region whose host view holds p, or with `device_side`, whose
 * separate device view does (coherence check only). Lock-free so that the
 * fault handler may call it; O(MAX_REGIONS). */
static carve_region *registry_find(const void *ptr, int device_side)
{
    uintptr_t p = (uintptr_t)ptr;
    int i;
    for (i = 0; i < MAX_REGIONS; ++i) {
        registry_entry *e = &registry[i];
        unsigned version = atomic_load(&e->version);
        carve_region *r = atomic_load(&e->region);
        uintptr_t host = atomic_load(&e->host_base);
        uintptr_t device = atomic_load(&e->device_view);
        uintptr_t bytes = atomic_load(&e->bytes);
        if (r == NULL || version % 2 != 0 || atomic_load(&e->version) != version)
            continue;
        if (device_side ? device != host && inside_range(p, device, bytes)
                        : inside_range(p, host, bytes))
            return r;
    }
    return NULL;
}

carve_region *carve_zc_region_of(const void *ptr)
{
    return ptr != NULL ? registry_find(ptr, 0) : NULL;
}

/* A probe program that a live region built for the same context and
 * device, retained for the caller, or NULL. Building is most of the cost
 * of creating a region; sharing it makes many small tiers cheap. */
static cl_program shared_probe_program(const carve_region *self)
{
    cl_program program = NULL;
    int i;
    pthread_mutex_lock(&registry_lock);
    for (i = 0; i < MAX_REGIONS && program == NULL; ++i) {
        carve_region *r = atomic_load(&registry[i].region);
        if (r != NULL && r != self && r->context == self->context &&
            r->device == self->device)
            program = r->probe_program;
    }
    if (program != NULL)
        clRetainProgram(program);
    pthread_mutex_unlock(&registry_lock);
    return program;
}

/* Publishes r's probe program to regions created after it. */
static void share_probe_program(carve_region *r, cl_program program)
{
    pthread_mutex_lock(&registry_lock);
    r->probe_program = program;
    pthread_mutex_unlock(&registry_lock);
}

/* ---- memory tiers ------------------------------------------------------------ */

carve_status carve_region_set_fallback(carve_region *region,
                                       carve_region *fallback)
{
    carve_status status = CARVE_SUCCESS;
    carve_region *tier;
    int steps;
    pthread_mutex_lock(&registry_lock);
    if (!registered(region) || (fallback != NULL && !registered(fallback)))
        status = CARVE_ERROR_INVALID_ARGUMENT;
    else if (fallback != NULL && (fallback->context != region->context ||
                                  fallback->device != region->device))
        status = CARVE_ERROR_INVALID_ARGUMENT;
    /* A chain that came back to `region` would never end. */
    for (tier = fallback, steps = 0;
         status == CARVE_SUCCESS && tier != NULL && steps <= MAX_REGIONS;
         tier = atomic_load(&tier->fallback), ++steps)
        if (tier == region)
            status = CARVE_ERROR_INVALID_ARGUMENT;
    if (status == CARVE_SUCCESS)
        atomic_store(&region->fallback, fallback);
    pthread_mutex_unlock(&registry_lock);
    return status;
}

/* Whether `tier` is r or one of the regions r falls back to. */
static int in_chain(carve_region *r, const carve_region *tier)
{
    int steps;
    for (steps = 0; r != NULL && steps <= MAX_REGIONS;
         r = atomic_load(&r->fallback), ++steps)
        if (r == tier)
            return 1;
    return 0;
}

/* ---- the coherence check ----------------------------------------------------- */

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

/* The live allocation holding `offset`: allocations start on alignment
 * boundaries, so walk back to the nearest start. O(offset / alignment) at
 * worst, which only a dying process pays. */
static int allocation_holding(const carve_region *r, uint64_t offset,
                              uint64_t *start, uint64_t *bytes)
{
    uint64_t at = offset & ~(r->alignment - 1), size = 0;
    for (;;) {
        if (carve__pool_find(r->pool, at, &size, bytes, NULL)) {
            *start = at;
            return offset < at + size;
        }
        if (at == 0)
            return 0;
        at -= r->alignment;
    }
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
    carve_region *r = registry_find(at, 0);
    if (r == NULL) {
        r = registry_find(at, 1);
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

/* Which view of an allocation is open under the coherence check: the
 * owner's. The other view faults, which names the missing hand-over. Free
 * memory counts as the host's. */
static void open_view_for(carve_region *r, uint64_t offset, uint64_t size,
                          int device_owns)
{
    if (!(r->flags & CARVE_REGION_COHERENCE_CHECK))
        return;
    mprotect(r->host_base + offset, (size_t)size,
             device_owns ? PROT_NONE : PROT_READ | PROT_WRITE);
    mprotect(r->device_view + offset, (size_t)size,
             device_owns ? PROT_READ | PROT_WRITE : PROT_NONE);
}

/* ---- creating a region --------------------------------------------------------- */

/* mmap of `bytes` at an address aligned to `alignment` (a power of two):
 * reserve enough address space, put the mapping on the aligned start, give
 * the rest back. MAP_FAILED on failure. */
static void *map_aligned(size_t bytes, uint64_t alignment, int prot, int flags,
                         int fd)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), extra, lead;
    unsigned char *reserved, *start;
    if (alignment <= page)
        return mmap(NULL, bytes, prot, flags, fd, 0);
    extra = (size_t)alignment;
    reserved = mmap(NULL, bytes + extra, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (reserved == MAP_FAILED)
        return MAP_FAILED;
    lead = (size_t)(-(uintptr_t)reserved & (uintptr_t)(alignment - 1));
    start = mmap(reserved + lead, bytes, prot, flags | MAP_FIXED, fd, 0);
    if (start == MAP_FAILED) {
        munmap(reserved, bytes + extra);
        return MAP_FAILED;
    }
    if (lead != 0)
        munmap(reserved, lead);
    munmap(start + bytes, extra - lead);
    return start;
}

static carve_status map_host_memory(carve_region *r, uint64_t base_alignment)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    int fd;
    void *host, *device;
    r->mapped_bytes = (size_t)((r->bytes + page - 1) / page * page);
    if (!(r->flags & CARVE_REGION_COHERENCE_CHECK)) {
        host = map_aligned(r->mapped_bytes, base_alignment,
                           PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                           -1);
        if (host == MAP_FAILED)
            return CARVE_ERROR_OUT_OF_HOST_MEMORY;
        r->host_base = r->device_view = host;
        return CARVE_SUCCESS;
    }
    /* Two views of the same pages, the device's given to OpenCL: each is
     * open only where its side owns the allocation (see open_view_for).
     * Everything is free, hence the host's, at first. */
    fd = memfd_create("carve-region", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)r->mapped_bytes) != 0) {
        if (fd >= 0)
            close(fd);
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    }
    host = map_aligned(r->mapped_bytes, base_alignment, PROT_READ | PROT_WRITE,
                       MAP_SHARED, fd);
    device = map_aligned(r->mapped_bytes, base_alignment, PROT_NONE,
                         MAP_SHARED, fd);
    close(fd);
    if (host == MAP_FAILED || device == MAP_FAILED) {
        if (host != MAP_FAILED)
            munmap(host, r->mapped_bytes);
        if (device != MAP_FAILED)
            munmap(device, r->mapped_bytes);
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    }
    r->host_base = host;
    r->device_view = device;
    pthread_once(&segv_once, install_segv_handler);
    return CARVE_SUCCESS;
}

/* Where the region starts inside memory the backend allocated with
 * `spare` bytes more than the region: the first address aligned to
 * base_alignment. OpenCL aligns buffers and SVM only to the device's base
 * alignment (PoCL also refuses an SVM alignment above 128), so carve asks
 * for more and starts further in. */
static uint64_t default_alignment(cl_device_id device);

static void place_in(carve_region *r, void *allocated, uint64_t base_alignment)
{
    uintptr_t start = (uintptr_t)allocated;
    r->allocated = allocated;
    r->lead = (uint64_t)(-start & (uintptr_t)(base_alignment - 1));
    r->host_base = (unsigned char *)allocated + r->lead;
}

static carve_status create_memory(carve_region *r, const carve_region_params *p,
                                  uint64_t base_alignment)
{
    cl_int err = CL_SUCCESS;
    size_t spare = (size_t)base_alignment;
    void *allocated;
    switch (r->backend) {
    case CARVE_BACKEND_HOST_MEMORY:
        err = map_host_memory(r, base_alignment);
        break;
    case CARVE_BACKEND_USER_MEMORY:
        if (p->user_base == NULL ||
            ((uintptr_t)p->user_base & (r->alignment - 1)) != 0)
            return CARVE_ERROR_INVALID_ARGUMENT;
        r->host_base = r->device_view = p->user_base;
        break;
    case CARVE_BACKEND_ALLOC_HOST_PTR:
        r->buffer = clCreateBuffer(r->context,
                                   CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR,
                                   (size_t)r->bytes + spare, NULL, &err);
        if (err != CL_SUCCESS)
            return err;
        /* Mapped once to learn where the host sees it; from then on only
         * host-owned allocations are mapped (map_range checks that they
         * appear there), since a kernel must not use a mapped buffer. */
        allocated = clEnqueueMapBuffer(r->queue, r->buffer, CL_TRUE,
                                       CL_MAP_READ | CL_MAP_WRITE, 0,
                                       (size_t)r->bytes + spare, 0, NULL, NULL,
                                       &err);
        if (err != CL_SUCCESS)
            return err;
        place_in(r, allocated, base_alignment);
        err = clEnqueueUnmapMemObject(r->queue, r->buffer, allocated, 0, NULL,
                                      NULL);
        if (err == CL_SUCCESS)
            err = clFinish(r->queue);
        /* The lead is also where every sub-buffer starts, which OpenCL
         * wants on the device's base alignment. A platform that maps the
         * buffer less aligned than that (a copying one: Oclgrind maps at
         * 16 bytes) cannot give aligned addresses to both sides. */
        if (err == CL_SUCCESS && r->lead % default_alignment(r->device) != 0)
            err = CARVE_ERROR_INVALID_ALIGNMENT;
        return err;
#ifdef CARVE_HAVE_SVM
    case CARVE_BACKEND_SVM_COARSE:
    case CARVE_BACKEND_SVM_FINE:
        allocated = clSVMAlloc(
            r->context,
            CL_MEM_READ_WRITE | (r->backend == CARVE_BACKEND_SVM_FINE
                                     ? CL_MEM_SVM_FINE_GRAIN_BUFFER
                                     : 0),
            (size_t)r->bytes + spare, 0);
        if (allocated == NULL)
            return CL_MEM_OBJECT_ALLOCATION_FAILURE;
        place_in(r, allocated, base_alignment);
        return CARVE_SUCCESS;
#endif
    default:
        return CL_INVALID_OPERATION;
    }
    if (err != CL_SUCCESS)
        return err;
    r->buffer = clCreateBuffer(r->context,
                               CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR,
                               (size_t)r->bytes, r->device_view, &err);
    return err;
}

static void free_memory(carve_region *r)
{
    if (r->queue != NULL)
        clFinish(r->queue);
    if (r->buffer != NULL)
        clReleaseMemObject(r->buffer);
#ifdef CARVE_HAVE_SVM
    if (is_svm_backend(r->backend) && r->allocated != NULL)
        clSVMFree(r->context, r->allocated);
#endif
    if (r->mapped_bytes != 0) {
        if (r->device_view != NULL && r->device_view != r->host_base)
            munmap(r->device_view, r->mapped_bytes);
        if (r->host_base != NULL)
            munmap(r->host_base, r->mapped_bytes);
    }
}

/* ---- moving ownership ------------------------------------------------------------ */

static carve_status wait_events(cl_uint n, const cl_event *events)
{
    return n > 0 ? clWaitForEvents(n, events) : CARVE_SUCCESS;
}

/* Gives allocation a at [offset, offset + bytes) its sub-buffer (buffer
 * backends; the others need none). */
static carve_status make_sub_buffer(carve_region *r, zc_alloc *a,
                                    uint64_t offset, uint64_t bytes)
{
    cl_buffer_region range;
    cl_int err = CL_SUCCESS;
    if (!is_buffer_backend(r->backend))
        return CARVE_SUCCESS;
    range.origin = (size_t)(r->lead + offset);
    range.size = (size_t)bytes; /* a device overrun stays visible */
    a->sub_buffer = clCreateSubBuffer(r->buffer, CL_MEM_READ_WRITE,
                                      CL_BUFFER_CREATE_TYPE_REGION, &range,
                                      &err);
    a->sub_bytes = bytes;
    if (err != CL_SUCCESS)
        a->sub_buffer = NULL;
    return err;
}

static void drop_sub_buffer(zc_alloc *a)
{
    if (a->sub_buffer != NULL)
        clReleaseMemObject(a->sub_buffer);
    a->sub_buffer = NULL;
}

static carve_status unmap_range(carve_region *r, zc_alloc *a)
{
    cl_int err = CL_SUCCESS;
    if (a->mapping == NULL)
        return CARVE_SUCCESS;
    if (is_buffer_backend(r->backend))
        err = clEnqueueUnmapMemObject(r->queue, a->sub_buffer, a->mapping, 0,
                                      NULL, NULL);
#ifdef CARVE_HAVE_SVM
    else if (r->backend == CARVE_BACKEND_SVM_COARSE)
        err = clEnqueueSVMUnmap(r->queue, a->mapping, 0, NULL, NULL);
#endif
    /* Once enqueued, the unmap happens: a failed wait below does not
     * leave the mapping to be unmapped twice. */
    if (err == CL_SUCCESS)
        a->mapping = NULL;
    if (err == CL_SUCCESS)
        err = clFinish(r->queue);
    return err;
}

/* Maps [offset, offset + bytes) for the host with `flags`, after
 * `events`. */
static carve_status map_range_as(carve_region *r, zc_alloc *a,
                                 uint64_t offset, uint64_t bytes,
                                 cl_map_flags flags, cl_uint n,
                                 const cl_event *events)
{
    cl_int err = CL_SUCCESS;
    if (is_buffer_backend(r->backend)) {
        unsigned char *expected =
            (r->device_view != NULL ? r->device_view : r->host_base) + offset;
        a->mapping = clEnqueueMapBuffer(r->queue, a->sub_buffer, CL_TRUE,
                                        flags, 0, (size_t)a->sub_bytes, n,
                                        events, NULL, &err);
        /* carve hands out addresses once: a platform that maps an
         * ALLOC_HOST_PTR buffer elsewhere each time cannot back a region. */
        if (err == CL_SUCCESS && a->mapping != expected) {
            unmap_range(r, a);
            err = CL_MAP_FAILURE;
        }
        return err;
    }
#ifdef CARVE_HAVE_SVM
    if (r->backend == CARVE_BACKEND_SVM_COARSE) {
        err = clEnqueueSVMMap(r->queue, CL_TRUE, flags,
                              r->host_base + offset, (size_t)bytes, n, events,
                              NULL);
        if (err == CL_SUCCESS)
            a->mapping = r->host_base + offset;
        return err;
    }
#endif
    return wait_events(n, events); /* fine-grained SVM: coherent */
}

/* Maps a range back for the host, keeping what the device wrote. */
static carve_status map_range(carve_region *r, zc_alloc *a, uint64_t offset,
                              uint64_t bytes, cl_uint n, const cl_event *events)
{
    return map_range_as(r, a, offset, bytes, CL_MAP_READ | CL_MAP_WRITE, n,
                        events);
}

/* ---- finding allocations ---------------------------------------------------------- */

typedef struct located {
    carve_region *region;
    uint64_t offset, size, requested;
    zc_alloc *alloc;
    void **slot;
} located;

/* Whether a live block of the pool holds `offset` (a pool walk's visit). */
typedef struct holding_search {
    uint64_t offset;
    int found;
} holding_search;

static void find_holding(uint64_t offset, uint64_t size, uint64_t requested,
                         void *user, void *context)
{
    holding_search *h = context;
    (void)requested;
    (void)user;
    if (h->offset >= offset && h->offset - offset < size)
        h->found = 1;
}

/* Finds the live allocation starting at ptr; locks its region on success.
 * On failure records why (carve_zc_last_refusal): only then does it walk
 * the region's allocations, O(allocations), to tell an interior pointer
 * from a freed one. */
static int locate(const void *ptr, located *out)
{
    carve_region *r = carve_zc_region_of(ptr);
    holding_search h;
    if (ptr == NULL)
        return refuse(CARVE_ZC_REFUSED_NULL);
    if (r == NULL)
        return refuse(CARVE_ZC_REFUSED_FOREIGN);
    pthread_mutex_lock(&r->lock);
    out->region = r;
    out->offset = (uint64_t)((const unsigned char *)ptr - r->host_base);
    if (!carve__pool_find(r->pool, out->offset, &out->size, &out->requested,
                          &out->slot)) {
        h.offset = out->offset;
        h.found = 0;
        carve__pool_walk(r->pool, find_holding, &h);
        pthread_mutex_unlock(&r->lock);
        return refuse(h.found ? CARVE_ZC_REFUSED_INTERIOR
                              : CARVE_ZC_REFUSED_FREED);
    }
    out->alloc = *out->slot;
    last_refusal = CARVE_ZC_REFUSED_NONE;
    return 1;
}

static void *fail(carve_status status)
{
    last_status = status;
    return NULL;
}

carve_status carve_zc_last_status(void) { return last_status; }

uint32_t carve_zc_last_refusal(void) { return last_refusal; }

const char *carve_zc_refusal_string(uint32_t refusal)
{
    static const char *const texts[] = {
        "the pointer was accepted",
        "NULL where an allocation was needed",
        "a pointer no region handed out (stack, malloc, another buffer)",
        "a pointer inside a live allocation, not its start",
        "a pointer to memory no live allocation holds: freed already, or "
        "never handed out",
        "an allocation of a region outside the given region's fallback chain",
        "an arena set's memory, which carve_set_* hand over and release",
        "a range past the bytes the allocation was asked for",
        "an allocation the device owns: carve_zc_to_host first"};
    return refusal < sizeof texts / sizeof texts[0] ? texts[refusal]
                                                    : "unknown refusal";
}

/* ---- allocation ----------------------------------------------------------------------- */

/* Allocates in r alone; TIER_FULL when its pool has no room. */
static carve_status allocate_in(carve_region *r, uint64_t bytes,
                                uint64_t align, zc_alloc *a, uint64_t *offset)
{
    uint64_t size = 0;
    void **slot = NULL;
    carve_status status;
    /* The pool aligns offsets; addresses follow only as far as the base. */
    if (align > r->base_alignment)
        return CARVE_ERROR_INVALID_ALIGNMENT;
    pthread_mutex_lock(&r->lock);
    status = carve__pool_alloc(r->pool, bytes, align ? align : r->alignment,
                               offset);
    if (status == CL_MEM_OBJECT_ALLOCATION_FAILURE)
        status = CARVE_ERROR_TIER_FULL;
    if (status == CARVE_SUCCESS) {
        carve__pool_find(r->pool, *offset, &size, NULL, &slot);
        *slot = a;
        status = make_sub_buffer(r, a, *offset, bytes);
        /* A fresh allocation's bytes mean nothing yet: a copying platform
         * need not copy them to the host, and a checker such as Oclgrind
         * then counts what the host writes as initialised. */
        if (status == CARVE_SUCCESS)
            status = map_range_as(r, a, *offset, size,
                                  CL_MAP_WRITE_INVALIDATE_REGION, 0, NULL);
        if (status != CARVE_SUCCESS) {
            drop_sub_buffer(a);
            carve__pool_free(r->pool, *offset);
        }
    }
    if (status == CARVE_SUCCESS)
        carve__annotate_allocated(r->host_base + *offset, bytes, size);
    pthread_mutex_unlock(&r->lock);
    return status;
}

/* Tries r, then the regions it falls back to, in order (the chain has no
 * cycle: carve_region_set_fallback refuses one). */
static void *allocate(carve_region *r, uint64_t bytes, uint64_t align, int zero)
{
    carve_region *tier;
    uint64_t offset = 0;
    carve_status status = CARVE_ERROR_TIER_FULL;
    zc_alloc *a;
    if (r == NULL || bytes == 0)
        return fail(CARVE_ERROR_INVALID_ARGUMENT);
    a = calloc(1, sizeof *a);
    if (a == NULL)
        return fail(CARVE_ERROR_OUT_OF_HOST_MEMORY);
    for (tier = r; tier != NULL; tier = atomic_load(&tier->fallback)) {
        status = allocate_in(tier, bytes, align, a, &offset);
        if (status != CARVE_ERROR_TIER_FULL)
            break;
    }
    if (status != CARVE_SUCCESS) {
        free(a);
        return fail(status);
    }
    if (zero)
        memset(tier->host_base + offset, 0, (size_t)bytes);
    return tier->host_base + offset;
}

void *carve_zc_malloc(carve_region *r, size_t bytes)
{
    return allocate(r, bytes, 0, 0);
}

void *carve_zc_calloc(carve_region *r, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return fail(CARVE_ERROR_SIZE_OVERFLOW);
    return allocate(r, (uint64_t)count * size, 0, 1);
}

void *carve_zc_memalign(carve_region *r, size_t alignment, size_t bytes)
{
    if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        return fail(CARVE_ERROR_INVALID_ALIGNMENT);
    return allocate(r, bytes, alignment, 0);
}

/* Drops what the region layer holds for a block; the region is locked. */
static void retire(carve_region *r, located *l)
{
    if (l->alloc != NULL) {
        unmap_range(r, l->alloc);
        if (l->alloc->sub_buffer != NULL)
            clReleaseMemObject(l->alloc->sub_buffer);
        if (l->alloc->device_owned)
            open_view_for(r, l->offset, l->size, 0);
        free(l->alloc);
    }
    carve__annotate_freed(r->host_base + l->offset, l->size);
    carve__pool_free(r->pool, l->offset);
}

/* Frees ptr if it is a live allocation of r's chain (any region for NULL)
 * and a set's memory exactly when `set_memory` says so. */
static carve_status free_allocation(carve_region *r, void *ptr, int set_memory)
{
    located l;
    if (ptr == NULL) {
        last_refusal = CARVE_ZC_REFUSED_NONE;
        return CARVE_SUCCESS;
    }
    if (!locate(ptr, &l))
        return CARVE_ERROR_INVALID_ARGUMENT;
    if ((r != NULL && !in_chain(r, l.region)) ||
        l.alloc->set_memory != set_memory) {
        refuse(l.alloc->set_memory != set_memory
                   ? CARVE_ZC_REFUSED_SET_MEMORY
                   : CARVE_ZC_REFUSED_OTHER_REGION);
        pthread_mutex_unlock(&l.region->lock);
        return CARVE_ERROR_INVALID_ARGUMENT;
    }
    retire(l.region, &l);
    pthread_mutex_unlock(&l.region->lock);
    return CARVE_SUCCESS;
}

carve_status carve_zc_free(carve_region *r, void *ptr)
{
    return free_allocation(r, ptr, 0);
}

/* The set's calls below leave carve_zc_last_refusal as the user's latest
 * carve_zc_* call left it. */
carve_status carve__zc_reserve_for_set(void *ptr)
{
    located l;
    uint32_t kept = last_refusal;
    carve_status status = CARVE_ERROR_INVALID_ARGUMENT;
    if (locate(ptr, &l)) {
        l.alloc->set_memory = 1;
        pthread_mutex_unlock(&l.region->lock);
        status = CARVE_SUCCESS;
    }
    last_refusal = kept;
    return status;
}

carve_status carve__zc_free_set_memory(carve_region *r, void *ptr)
{
    uint32_t kept = last_refusal;
    carve_status status = free_allocation(r, ptr, 1);
    last_refusal = kept;
    return status;
}

/* After a failed step of a hand-over or resize that unmapped l's block
 * (the unmap went out, a wait or the next step failed): maps it back with
 * its sub-buffer, so that the host owns it as before the call. */
static void restore_mapping(carve_region *r, located *l)
{
    if (l->alloc->mapping != NULL || (!is_buffer_backend(r->backend) &&
                                      r->backend != CARVE_BACKEND_SVM_COARSE))
        return;
    if (is_buffer_backend(r->backend) && l->alloc->sub_buffer == NULL &&
        make_sub_buffer(r, l->alloc, l->offset, l->requested) != CARVE_SUCCESS)
        return;
    map_range(r, l->alloc, l->offset, l->size, 0, NULL);
}

/* Resizes l's block without moving it, if the pool can; the region is
 * locked. The mapping and any sub-buffer describe the old size, so both
 * are redone after a change. */
static carve_status resize_in_place(located *l, uint64_t bytes)
{
    carve__pool *pool = l->region->pool;
    uint64_t size = 0;
    carve_status status;
    if (carve__pool_resize(pool, l->offset, bytes) != CARVE_SUCCESS)
        return CARVE_ERROR_TIER_FULL;
    carve__pool_find(pool, l->offset, &size, NULL, NULL);
    /* Before the map: a runtime that copies on map writes the new tail. */
    carve__annotate_resized(l->region->host_base + l->offset, l->requested,
                            l->size, bytes, size);
    /* The old map and sub-buffer describe the old size: unmap, then
     * remake both. */
    status = unmap_range(l->region, l->alloc);
    if (status == CARVE_SUCCESS) {
        drop_sub_buffer(l->alloc);
        status = make_sub_buffer(l->region, l->alloc, l->offset, bytes);
    }
    if (status == CARVE_SUCCESS)
        status = map_range(l->region, l->alloc, l->offset, size, 0, NULL);
    if (status != CARVE_SUCCESS) {
        /* Back to the old size, mapped as before (the lock is held, so the
         * space is still there); the caller moves the block instead. The
         * pool can only fail this for want of host memory for its
         * bookkeeping, a second failure in one call: the block then keeps
         * the new size, still the caller's. */
        if (carve__pool_resize(pool, l->offset, l->requested) == CARVE_SUCCESS)
            carve__annotate_resized(l->region->host_base + l->offset, bytes,
                                    size, l->requested, l->size);
        if (l->alloc->mapping == NULL) {
            drop_sub_buffer(l->alloc);
            restore_mapping(l->region, l);
        }
        return status;
    }
    return CARVE_SUCCESS;
}

void *carve_zc_realloc(carve_region *r, void *ptr, size_t bytes)
{
    located l;
    carve_status refusal = CARVE_SUCCESS;
    void *moved;
    if (ptr == NULL) {
        last_refusal = CARVE_ZC_REFUSED_NONE;
        return carve_zc_malloc(r, bytes);
    }
    if (!locate(ptr, &l))
        return fail(CARVE_ERROR_INVALID_ARGUMENT);
    if (l.alloc->set_memory) {
        refusal = CARVE_ERROR_INVALID_ARGUMENT;
        refuse(CARVE_ZC_REFUSED_SET_MEMORY);
    } else if (r != NULL && !in_chain(r, l.region)) {
        refusal = CARVE_ERROR_INVALID_ARGUMENT;
        refuse(CARVE_ZC_REFUSED_OTHER_REGION);
    } else if (l.alloc->device_owned) {
        refusal = CARVE_ERROR_WRONG_OWNER;
        refuse(CARVE_ZC_REFUSED_DEVICE_OWNED);
    }
    if (refusal != CARVE_SUCCESS || bytes == 0) {
        if (refusal == CARVE_SUCCESS)
            retire(l.region, &l); /* realloc(p, 0) frees */
        pthread_mutex_unlock(&l.region->lock);
        return refusal != CARVE_SUCCESS ? fail(refusal) : NULL;
    }
    if (resize_in_place(&l, bytes) == CARVE_SUCCESS) {
        pthread_mutex_unlock(&l.region->lock);
        return ptr;
    }
    pthread_mutex_unlock(&l.region->lock);
    /* A move lands where a new request of the caller's would. */
    moved = carve_zc_malloc(r != NULL ? r : l.region, bytes);
    if (moved == NULL)
        return NULL;
    memcpy(moved, ptr, (size_t)(l.requested < bytes ? l.requested : bytes));
    carve_zc_free(NULL, ptr);
    return moved;
}

/* ---- kernel arguments and hand-over ------------------------------------------------ */

carve_status carve_zc_set_arg(cl_kernel kernel, cl_uint index, const void *ptr)
{
    located l;
    cl_int err = CL_SUCCESS;
    if (kernel == NULL) {
        last_refusal = CARVE_ZC_REFUSED_NONE; /* the pointer is not judged */
        return CARVE_ERROR_INVALID_ARGUMENT;
    }
    if (!locate(ptr, &l))
        return CARVE_ERROR_INVALID_ARGUMENT;
#ifdef CARVE_HAVE_SVM
    if (is_svm_backend(l.region->backend)) {
        err = clSetKernelArgSVMPointer(kernel, index, ptr);
        pthread_mutex_unlock(&l.region->lock);
        return err;
    }
#endif
    /* Made with the allocation: no OpenCL object per call. */
    if (l.alloc->sub_buffer == NULL)
        err = make_sub_buffer(l.region, l.alloc, l.offset, l.requested);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(kernel, index, sizeof(cl_mem),
                             &l.alloc->sub_buffer);
    pthread_mutex_unlock(&l.region->lock);
    return err;
}

/* Locates the allocation whose first `bytes` (0: all it was asked for)
 * form the range. A range starts at its allocation: carve keeps no
 * interval index, so that every lookup stays O(1), and a pointer inside an
 * allocation is refused. */
static int locate_range(const void *ptr, size_t bytes, located *l,
                        uint64_t *range_offset, uint64_t *range_bytes)
{
    if (!locate(ptr, l))
        return 0;
    *range_offset = l->offset;
    *range_bytes = bytes == 0 ? l->requested : bytes;
    if (*range_bytes > l->requested) {
        pthread_mutex_unlock(&l->region->lock);
        return refuse(CARVE_ZC_REFUSED_PAST_END);
    }
    return 1;
}

/* The hand-overs refuse a set's memory unless the set hands itself over
 * (`for_set`): the set tracks its owner, and a hand-over behind its back
 * would leave it mapping or reading memory the device owns. */
static carve_status to_device(const void *ptr, size_t bytes, int for_set)
{
    located l;
    uint64_t offset = 0, length = 0;
    carve_status status;
    if (!locate_range(ptr, bytes, &l, &offset, &length))
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (l.alloc->set_memory != for_set) {
        refuse(CARVE_ZC_REFUSED_SET_MEMORY);
        pthread_mutex_unlock(&l.region->lock);
        return CARVE_ERROR_INVALID_ARGUMENT;
    }
    if (l.alloc->device_owned) {
        pthread_mutex_unlock(&l.region->lock);
        return CARVE_SUCCESS;
    }
    if (l.region->write_back != NULL)
        l.region->write_back(l.region->hook_context,
                             l.region->host_base + offset, (size_t)length);
    status = unmap_range(l.region, l.alloc);
    if (status == CARVE_SUCCESS) {
        l.alloc->device_owned = 1;
        open_view_for(l.region, l.offset, l.size, 1);
    } else {
        restore_mapping(l.region, &l);
    }
    pthread_mutex_unlock(&l.region->lock);
    return status;
}

/* OpenCL answers a NULL event differently in a wait (CL_INVALID_EVENT)
 * and in a map's wait list (CL_INVALID_EVENT_WAIT_LIST), so which one a
 * caller saw would depend on the backend: carve refuses it itself. */
static int events_valid(cl_uint n, const cl_event *events)
{
    cl_uint i;
    if ((n > 0) != (events != NULL))
        return 0;
    for (i = 0; i < n; ++i)
        if (events[i] == NULL)
            return 0;
    return 1;
}

static carve_status to_host(const void *ptr, size_t bytes, cl_uint num_events,
                            const cl_event *events, int for_set)
{
    located l;
    uint64_t offset = 0, length = 0;
    carve_status status;
    if (!events_valid(num_events, events)) {
        last_refusal = CARVE_ZC_REFUSED_NONE; /* the pointer is not judged */
        return CARVE_ERROR_INVALID_ARGUMENT;
    }
    if (!locate_range(ptr, bytes, &l, &offset, &length))
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (l.alloc->set_memory != for_set) {
        refuse(CARVE_ZC_REFUSED_SET_MEMORY);
        pthread_mutex_unlock(&l.region->lock);
        return CARVE_ERROR_INVALID_ARGUMENT;
    }
    if (!l.alloc->device_owned) {
        pthread_mutex_unlock(&l.region->lock);
        return wait_events(num_events, events);
    }
    status = map_range(l.region, l.alloc, l.offset, l.size, num_events, events);
    if (status == CARVE_SUCCESS) {
        open_view_for(l.region, l.offset, l.size, 0);
        if (l.region->invalidate != NULL)
            l.region->invalidate(l.region->hook_context,
                                 l.region->host_base + offset, (size_t)length);
        l.alloc->device_owned = 0;
    }
    pthread_mutex_unlock(&l.region->lock);
    return status;
}

carve_status carve_zc_to_device(const void *ptr, size_t bytes)
{
    return to_device(ptr, bytes, 0);
}

carve_status carve_zc_to_host(const void *ptr, size_t bytes,
                              cl_uint num_events, const cl_event *events)
{
    return to_host(ptr, bytes, num_events, events, 0);
}

carve_status carve__zc_set_to_device(void *ptr)
{
    uint32_t kept = last_refusal;
    carve_status status = to_device(ptr, 0, 1);
    last_refusal = kept;
    return status;
}

carve_status carve__zc_set_to_host(void *ptr, cl_uint num_events,
                                   const cl_event *events)
{
    uint32_t kept = last_refusal;
    carve_status status = to_host(ptr, 0, num_events, events, 1);
    last_refusal = kept;
    return status;
}

carve_status carve__zc_bind_set(cl_kernel kernel, cl_uint index, void *ptr)
{
    uint32_t kept = last_refusal;
    carve_status status = carve_zc_set_arg(kernel, index, ptr);
    last_refusal = kept;
    return status;
}

/* ---- the zero-copy probe ---------------------------------------------------------------- */

/* Gives r a built probe program: the one a live region of the same
 * context and device has, else a new build. */
static carve_status ready_probe_program(carve_region *r)
{
    cl_program program = shared_probe_program(r);
    carve_status status = CARVE_SUCCESS;
    if (program == NULL)
        status = carve_program_build(
            r->context, r->device, carve_device_source("carve_probe.cl", NULL),
            NULL, &program, NULL);
    if (status == CARVE_SUCCESS)
        share_probe_program(r, program);
    return status;
}

static carve_status probe(carve_region *r)
{
    uint32_t *words;
    uint64_t expected;
    cl_kernel kernel = NULL;
    cl_event done = NULL;
    size_t one = 1;
    uint32_t nonce = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)r;
    carve_status status;

    words = carve_zc_malloc(r, 16);
    if (words == NULL)
        return carve_zc_last_status();
    words[0] = nonce;
    words[1] = 0;
    expected = (uint64_t)(uintptr_t)(r->device_view != NULL ? r->device_view
                                                            : r->host_base) +
               (uint64_t)((unsigned char *)words - r->host_base);
    status = ready_probe_program(r);
    if (status == CARVE_SUCCESS)
        kernel = clCreateKernel(r->probe_program, "carve_probe_words", &status);
    if (status == CARVE_SUCCESS)
        status = carve_zc_set_arg(kernel, 0, words);
    if (status == CARVE_SUCCESS)
        status = carve_zc_to_device(words, 0);
    if (status == CARVE_SUCCESS)
        status = clEnqueueNDRangeKernel(r->queue, kernel, 1, NULL, &one, NULL,
                                        0, NULL, &done);
    if (status == CARVE_SUCCESS)
        status = carve_zc_to_host(words, 0, 1, &done);
    if (status == CARVE_SUCCESS && words[1] != nonce + 1u)
        status = CARVE_ERROR_PROBE_FAILED;
    if (status == CARVE_SUCCESS) {
        r->device_address = ((uint64_t)words[3] << 32) | words[2];
        r->device_address -= (uint64_t)((unsigned char *)words - r->host_base);
        r->zero_copy_verified =
            r->device_address + (uint64_t)((unsigned char *)words - r->host_base) ==
            expected;
        carve__message(r->evidence, sizeof r->evidence,
                       r->zero_copy_verified
                           ? "the probe kernel worked on the region's own "
                             "pages (device address %#llx)"
                           : "the device saw the region at %#llx, not at "
                             "the host's pages: not shown to be zero-copy",
                       (unsigned long long)r->device_address);
    }
    /* A probe that went out must be over before its words are freed
     * (under the coherence check that protects them from the device),
     * even when taking them back failed. */
    if (done != NULL && status != CARVE_SUCCESS)
        clFinish(r->queue); /* recovery: reached only after a failure */
    if (done != NULL)
        clReleaseEvent(done);
    if (kernel != NULL)
        clReleaseKernel(kernel);
    carve_zc_free(r, words);
    return status;
}

/* Replaces the pool with an empty one, so that the probe's allocation
 * leaves no trace in the statistics (peak, counts). */
static carve_status forget_probe(carve_region *r)
{
    /* The new pool first: on failure r keeps a pool to be released with. */
    carve__pool *fresh = NULL;
    carve_status status = carve__pool_create(r->bytes, r->alignment, &fresh);
    if (status != CARVE_SUCCESS)
        return status;
    pthread_mutex_lock(&r->lock);
    carve__pool_destroy(r->pool);
    r->pool = fresh;
    pthread_mutex_unlock(&r->lock);
    return CARVE_SUCCESS;
}

/* ---- the region's life -------------------------------------------------------------------- */

/* The largest power of two dividing an address; all of them for NULL. */
static uint64_t lowest_bit(uintptr_t address)
{
    return address != 0 ? (uint64_t)(address & -address) : ~(uint64_t)0;
}

static uint64_t default_alignment(cl_device_id device)
{
    carve_device_limits limits;
    uint64_t a = MIN_ALIGNMENT;
    if (carve_device_limits_query(device, &limits) == CARVE_SUCCESS &&
        limits.base_addr_align > a)
        a = limits.base_addr_align;
    return a;
}

static carve_status create_one(cl_context context, cl_device_id device,
                               const carve_region_params *p,
                               carve_backend backend, carve_region **out)
{
    carve_region *r;
    carve_status status;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    if (!carve_backend_supported(device, backend))
        return CL_INVALID_OPERATION;
    r = calloc(1, sizeof *r);
    if (r == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    pthread_mutex_init(&r->lock, NULL);
    r->context = context;
    r->device = device;
    r->backend = backend;
    r->flags = p->flags;
    snprintf(r->name, sizeof r->name, "%s", p->name ? p->name : "region");
    /* Sub-buffers must start on the device's base alignment, so a smaller
     * alignment asked for is raised to it. */
    r->alignment = default_alignment(device);
    if (p->alignment > r->alignment)
        r->alignment = p->alignment;
    if (r->flags & CARVE_REGION_COHERENCE_CHECK && r->alignment < page)
        r->alignment = page; /* protection works on whole pages */
    /* Memory the caller hands over is never overrun: round down there. */
    r->bytes = backend == CARVE_BACKEND_USER_MEMORY
                   ? p->bytes & ~(r->alignment - 1)
                   : (p->bytes + r->alignment - 1) & ~(r->alignment - 1);
    r->write_back = p->write_back;
    r->invalidate = p->invalidate;
    r->hook_context = p->hook_context;
    clRetainContext(context);
    clRetainDevice(device);
    r->queue = clCreateCommandQueue(context, device, 0, &status);
    if (status == CARVE_SUCCESS && r->bytes == 0)
        status = CARVE_ERROR_INVALID_ARGUMENT; /* user memory below one unit */
    if (status == CARVE_SUCCESS)
        status = create_memory(r, p, r->alignment > page ? r->alignment : page);
    if (status == CARVE_SUCCESS) {
        r->base_alignment = lowest_bit((uintptr_t)r->host_base);
        if (lowest_bit((uintptr_t)r->device_view) < r->base_alignment)
            r->base_alignment = lowest_bit((uintptr_t)r->device_view);
    }
    if (status == CARVE_SUCCESS)
        status = carve__pool_create(r->bytes, r->alignment, &r->pool);
    if (status == CARVE_SUCCESS)
        carve__annotate_region_created(r->host_base, r->bytes);
    if (status == CARVE_SUCCESS && !registry_add(r))
        status = CARVE_ERROR_LIMIT;
    if (status == CARVE_SUCCESS)
        status = probe(r);
    if (status == CARVE_SUCCESS)
        status = forget_probe(r);
    if (status != CARVE_SUCCESS) {
        carve_region_release(r);
        return status;
    }
    *out = r;
    return CARVE_SUCCESS;
}

static carve_status params_check(cl_context context, cl_device_id device,
                                 const carve_region_params *p)
{
    if (context == NULL || device == NULL || p == NULL || p->bytes == 0 ||
        p->bytes > MAX_REGION_BYTES ||
        (p->flags & ~(CARVE_REGION_REQUIRE_ZERO_COPY |
                      CARVE_REGION_COHERENCE_CHECK)) != 0 ||
        p->backend < CARVE_BACKEND_AUTO || p->backend > CARVE_BACKEND_SVM_FINE)
        return CARVE_ERROR_INVALID_ARGUMENT;
    if ((p->alignment & (p->alignment - 1)) != 0 ||
        p->alignment > MAX_ALIGNMENT)
        return CARVE_ERROR_INVALID_ALIGNMENT;
    if ((p->flags & CARVE_REGION_COHERENCE_CHECK) &&
        p->backend != CARVE_BACKEND_HOST_MEMORY)
        return CARVE_ERROR_INVALID_ARGUMENT;
    return (p->backend == CARVE_BACKEND_USER_MEMORY) == (p->user_base != NULL)
               ? CARVE_SUCCESS
               : CARVE_ERROR_INVALID_ARGUMENT;
}

carve_status carve_region_create(cl_context context, cl_device_id device,
                                 const carve_region_params *params,
                                 carve_region **region)
{
    /* AUTO's preference: no hand-over cost first, then the ones that map. */
    static const carve_backend automatic[] = {
        CARVE_BACKEND_SVM_FINE, CARVE_BACKEND_SVM_COARSE,
        CARVE_BACKEND_ALLOC_HOST_PTR, CARVE_BACKEND_HOST_MEMORY};
    carve_region *chosen = NULL;
    carve_status status = CL_INVALID_OPERATION;
    size_t i;
    if (region == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    *region = NULL;
    status = params_check(context, device, params);
    if (status != CARVE_SUCCESS)
        return status;
    if (params->backend != CARVE_BACKEND_AUTO) {
        status = create_one(context, device, params, params->backend, region);
    } else {
        /* The first backend proven zero-copy wins. Else host memory if it
         * works: carve's own aligned pages keep the host's and the device's
         * views aligned alike, where a mapped ALLOC_HOST_PTR buffer lies
         * wherever the platform puts it (Oclgrind: 16 bytes). Else the
         * first that works. The region then says zero-copy is not proven.
         * If none works, the first failure that is not "unsupported"
         * explains why. */
        carve_status why = CL_INVALID_OPERATION;
        for (i = 0; i < sizeof automatic / sizeof automatic[0]; ++i) {
            carve_region *r = NULL;
            status = create_one(context, device, params, automatic[i], &r);
            if (status != CARVE_SUCCESS) {
                /* A backend this platform cannot align counts as one it
                 * does not have. */
                if (why == CL_INVALID_OPERATION &&
                    status != CARVE_ERROR_INVALID_ALIGNMENT)
                    why = status;
                continue;
            }
            if (r->zero_copy_verified) {
                carve_region_release(chosen);
                chosen = r;
                break;
            }
            if (chosen == NULL) {
                chosen = r;
            } else if (automatic[i] == CARVE_BACKEND_HOST_MEMORY) {
                carve_region_release(chosen);
                chosen = r;
            } else {
                carve_region_release(r);
            }
        }
        *region = chosen;
        status = chosen != NULL ? CARVE_SUCCESS : why;
    }
    if (status == CARVE_SUCCESS &&
        (params->flags & CARVE_REGION_REQUIRE_ZERO_COPY) &&
        !(*region)->zero_copy_verified) {
        carve_region_release(*region);
        *region = NULL;
        status = CARVE_ERROR_NOT_ZERO_COPY;
    }
    return status;
}

static void release_allocation(uint64_t offset, uint64_t size,
                               uint64_t requested, void *user, void *context)
{
    zc_alloc *a = user;
    carve_region *r = context;
    (void)requested;
    if (a == NULL)
        return;
    unmap_range(r, a);
    if (a->sub_buffer != NULL)
        clReleaseMemObject(a->sub_buffer);
    if (a->device_owned)
        open_view_for(r, offset, size, 0);
    free(a);
    carve__annotate_freed(r->host_base + offset, size);
}

void carve_region_release(carve_region *r)
{
    if (r == NULL)
        return;
    registry_remove(r);
    if (r->pool != NULL) {
        carve__pool_walk(r->pool, release_allocation, r);
        carve__pool_destroy(r->pool);
    }
    carve__annotate_region_released(r->host_base, r->bytes);
    free_memory(r);
    if (r->probe_program != NULL)
        clReleaseProgram(r->probe_program);
    if (r->queue != NULL)
        clReleaseCommandQueue(r->queue);
    clReleaseDevice(r->device);
    clReleaseContext(r->context);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

carve_status carve_region_get_info(carve_region *r, carve_region_info *out)
{
    carve__pool_stats s;
    if (r == NULL || out == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&r->lock);
    carve__pool_get_stats(r->pool, &s);
    memset(out, 0, sizeof *out);
    out->backend = r->backend;
    out->backend_name = carve_backend_name(r->backend);
    out->name = r->name;
    out->host_base = r->host_base;
    out->device_address = r->device_address;
    out->bytes = r->bytes;
    out->alignment = r->alignment;
    out->zero_copy_verified = r->zero_copy_verified;
    out->zero_copy_evidence = r->evidence;
    out->in_use = s.in_use;
    out->peak_in_use = s.peak_in_use;
    out->largest_free = s.largest_free;
    out->live_allocations = s.live_blocks;
    out->failed_requests = s.failed_count;
    out->fallback = atomic_load(&r->fallback);
    pthread_mutex_unlock(&r->lock);
    return CARVE_SUCCESS;
}

typedef struct record_check {
    const carve_region *region;
    const char *why;
} record_check;

/* What the region layer keeps for a live allocation agrees with its
 * owner: the host's allocations are mapped, the device's are not. */
static void check_record(uint64_t offset, uint64_t size, uint64_t requested,
                         void *user, void *context)
{
    record_check *check = context;
    const zc_alloc *a = user;
    int maps = is_buffer_backend(check->region->backend) ||
               check->region->backend == CARVE_BACKEND_SVM_COARSE;
    (void)offset;
    (void)size;
    (void)requested;
    if (check->why != NULL)
        return;
    if (a == NULL)
        check->why = "a live allocation has no ownership record";
    else if (maps && a->device_owned && a->mapping != NULL)
        check->why = "an allocation the device owns is still mapped";
    else if (maps && !a->device_owned && a->mapping == NULL)
        check->why = "an allocation the host owns is not mapped";
    else if (a->sub_buffer != NULL && !is_buffer_backend(check->region->backend))
        check->why = "an SVM allocation has a sub-buffer";
}

carve_status carve_region_check(carve_region *r, const char **message)
{
    record_check check;
    const char *why;
    if (r == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&r->lock);
    why = carve__pool_check(r->pool);
    if (why == NULL) {
        check.region = r;
        check.why = NULL;
        carve__pool_walk(r->pool, check_record, &check);
        why = check.why;
    }
    pthread_mutex_unlock(&r->lock);
    if (message != NULL)
        *message = why;
    return why == NULL ? CARVE_SUCCESS : CARVE_ERROR_ARENA_INVALID;
}
