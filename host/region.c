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

#define MAX_REGIONS 256
#define MIN_ALIGNMENT 128u

/* What the region layer keeps per live allocation (the pool's user slot). */
typedef struct zc_alloc {
    cl_mem sub_buffer; /* made on the first carve_zc_set_arg */
    void *mapping;     /* an outstanding map of the allocation, if any */
    int device_owned;
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
    void *whole_mapping; /* ALLOC_HOST_PTR: the mapping kept for the host */
    carve__pool *pool;
    pthread_mutex_t lock;
    int zero_copy_verified;
    uint64_t device_address;
    char evidence[160];
    void (*write_back)(void *, void *, size_t);
    void (*invalidate)(void *, void *, size_t);
    void *hook_context;
};

static _Thread_local carve_status last_status;

static carve_region *_Atomic registry[MAX_REGIONS];
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

/* ---- the registry: which region holds an address --------------------------- */

static int registry_add(carve_region *r)
{
    int i, done = 0;
    pthread_mutex_lock(&registry_lock);
    for (i = 0; i < MAX_REGIONS && !done; ++i) {
        if (atomic_load(&registry[i]) == NULL) {
            atomic_store(&registry[i], r);
            done = 1;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return done;
}

static void registry_remove(carve_region *r)
{
    int i;
    pthread_mutex_lock(&registry_lock);
    for (i = 0; i < MAX_REGIONS; ++i)
        if (atomic_load(&registry[i]) == r)
            atomic_store(&registry[i], NULL);
    pthread_mutex_unlock(&registry_lock);
}

/* Lock-free so the fault handler may call it; O(MAX_REGIONS). */
static carve_region *registry_find(const void *ptr)
{
    const unsigned char *p = ptr;
    int i;
    for (i = 0; i < MAX_REGIONS; ++i) {
        carve_region *r = atomic_load(&registry[i]);
        if (r != NULL && p >= r->host_base && p < r->host_base + r->bytes)
            return r;
    }
    return NULL;
}

carve_region *carve_zc_region_of(const void *ptr)
{
    return ptr != NULL ? registry_find(ptr) : NULL;
}

/* ---- the coherence check ----------------------------------------------------- */

static struct sigaction previous_segv;
static pthread_once_t segv_once = PTHREAD_ONCE_INIT;

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

/* A host touch of device-owned memory: name it, then let the fault go on
 * to the previous handler (by default: the process dies with SIGSEGV). */
static void on_segv(int sig, siginfo_t *info, void *context)
{
    carve_region *r = registry_find(info->si_addr);
    (void)context;
    if (r != NULL && (r->flags & CARVE_REGION_COHERENCE_CHECK)) {
        uint64_t offset = (uint64_t)((unsigned char *)info->si_addr - r->host_base);
        write_text("carve: coherence check: the host touched region '");
        write_text(r->name);
        write_text("' at offset ");
        write_hex(offset);
        write_text(" (address ");
        write_hex((uint64_t)(uintptr_t)info->si_addr);
        write_text(") while the device owns that allocation; call "
                   "carve_zc_to_host first\n");
    }
    sigaction(sig, &previous_segv, NULL);
}

static void install_segv_handler(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_segv;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_segv);
}

/* ---- creating a region --------------------------------------------------------- */

static carve_status map_host_memory(carve_region *r)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    r->mapped_bytes = (size_t)((r->bytes + page - 1) / page * page);
    if (!(r->flags & CARVE_REGION_COHERENCE_CHECK)) {
        r->host_base = mmap(NULL, r->mapped_bytes, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (r->host_base == MAP_FAILED) {
            r->host_base = NULL;
            return CARVE_ERROR_OUT_OF_HOST_MEMORY;
        }
        r->device_view = r->host_base;
        return CARVE_SUCCESS;
    }
    /* Two views of the same pages: the device's stays open, the host's is
     * protected while the device owns an allocation. */
    {
        int fd = memfd_create("carve-region", MFD_CLOEXEC);
        void *host, *device;
        if (fd < 0 || ftruncate(fd, (off_t)r->mapped_bytes) != 0) {
            if (fd >= 0)
                close(fd);
            return CARVE_ERROR_OUT_OF_HOST_MEMORY;
        }
        host = mmap(NULL, r->mapped_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                    fd, 0);
        device = mmap(NULL, r->mapped_bytes, PROT_READ | PROT_WRITE,
                      MAP_SHARED, fd, 0);
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
}

static carve_status create_memory(carve_region *r, const carve_region_params *p)
{
    cl_int err = CL_SUCCESS;
    switch (r->backend) {
    case CARVE_BACKEND_HOST_MEMORY:
        err = map_host_memory(r);
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
                                   (size_t)r->bytes, NULL, &err);
        if (err == CL_SUCCESS)
            r->whole_mapping = clEnqueueMapBuffer(
                r->queue, r->buffer, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0,
                (size_t)r->bytes, 0, NULL, NULL, &err);
        r->host_base = r->whole_mapping;
        return err;
#ifdef CARVE_HAVE_SVM
    case CARVE_BACKEND_SVM_COARSE:
    case CARVE_BACKEND_SVM_FINE:
        r->host_base = clSVMAlloc(
            r->context,
            CL_MEM_READ_WRITE | (r->backend == CARVE_BACKEND_SVM_FINE
                                     ? CL_MEM_SVM_FINE_GRAIN_BUFFER
                                     : 0),
            (size_t)r->bytes, (cl_uint)r->alignment);
        return r->host_base != NULL ? CARVE_SUCCESS
                                    : CL_MEM_OBJECT_ALLOCATION_FAILURE;
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
    if (r->whole_mapping != NULL)
        clEnqueueUnmapMemObject(r->queue, r->buffer, r->whole_mapping, 0, NULL,
                                NULL);
    if (r->queue != NULL)
        clFinish(r->queue);
    if (r->buffer != NULL)
        clReleaseMemObject(r->buffer);
#ifdef CARVE_HAVE_SVM
    if (is_svm_backend(r->backend) && r->host_base != NULL)
        clSVMFree(r->context, r->host_base);
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

/* Maps [offset, offset + bytes) for the host, after `events`. */
static carve_status map_range(carve_region *r, zc_alloc *a, uint64_t offset,
                              uint64_t bytes, cl_uint n, const cl_event *events)
{
    cl_int err = CL_SUCCESS;
    if (is_buffer_backend(r->backend)) {
        a->mapping = clEnqueueMapBuffer(r->queue, r->buffer, CL_TRUE,
                                        CL_MAP_READ | CL_MAP_WRITE,
                                        (size_t)offset, (size_t)bytes, n,
                                        events, NULL, &err);
        return err;
    }
#ifdef CARVE_HAVE_SVM
    if (r->backend == CARVE_BACKEND_SVM_COARSE) {
        err = clEnqueueSVMMap(r->queue, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE,
                              r->host_base + offset, (size_t)bytes, n, events,
                              NULL);
        if (err == CL_SUCCESS)
            a->mapping = r->host_base + offset;
        return err;
    }
#endif
    return wait_events(n, events); /* fine-grained SVM: coherent */
}

static carve_status unmap_range(carve_region *r, zc_alloc *a)
{
    cl_int err = CL_SUCCESS;
    if (a->mapping == NULL)
        return CARVE_SUCCESS;
    if (is_buffer_backend(r->backend))
        err = clEnqueueUnmapMemObject(r->queue, r->buffer, a->mapping, 0, NULL,
                                      NULL);
#ifdef CARVE_HAVE_SVM
    else if (r->backend == CARVE_BACKEND_SVM_COARSE)
        err = clEnqueueSVMUnmap(r->queue, a->mapping, 0, NULL, NULL);
#endif
    if (err == CL_SUCCESS)
        err = clFinish(r->queue);
    if (err == CL_SUCCESS)
        a->mapping = NULL;
    return err;
}

/* The coherence check's protection of the host view of a block. */
static void protect(carve_region *r, uint64_t offset, uint64_t size, int on)
{
    if (r->flags & CARVE_REGION_COHERENCE_CHECK)
        mprotect(r->host_base + offset, (size_t)size,
                 on ? PROT_NONE : PROT_READ | PROT_WRITE);
}

/* ---- finding allocations ---------------------------------------------------------- */

typedef struct located {
    carve_region *region;
    uint64_t offset, size, requested;
    zc_alloc *alloc;
    void **slot;
} located;

/* Finds the live allocation starting at ptr; locks its region on success. */
static int locate(const void *ptr, located *out)
{
    carve_region *r = carve_zc_region_of(ptr);
    if (r == NULL)
        return 0;
    pthread_mutex_lock(&r->lock);
    out->region = r;
    out->offset = (uint64_t)((const unsigned char *)ptr - r->host_base);
    if (!carve__pool_find(r->pool, out->offset, &out->size, &out->requested,
                          &out->slot)) {
        pthread_mutex_unlock(&r->lock);
        return 0;
    }
    out->alloc = *out->slot;
    return 1;
}

static void *fail(carve_status status)
{
    last_status = status;
    return NULL;
}

carve_status carve_zc_last_status(void) { return last_status; }

/* ---- allocation ----------------------------------------------------------------------- */

static void *allocate(carve_region *r, uint64_t bytes, uint64_t align, int zero)
{
    uint64_t offset = 0, size = 0;
    zc_alloc *a;
    void **slot = NULL;
    carve_status status;
    if (r == NULL || bytes == 0)
        return fail(CARVE_ERROR_INVALID_ARGUMENT);
    a = calloc(1, sizeof *a);
    if (a == NULL)
        return fail(CARVE_ERROR_OUT_OF_HOST_MEMORY);
    pthread_mutex_lock(&r->lock);
    status = carve__pool_alloc(r->pool, bytes, align ? align : r->alignment,
                               &offset);
    if (status == CARVE_SUCCESS) {
        carve__pool_find(r->pool, offset, &size, NULL, &slot);
        *slot = a;
        status = map_range(r, a, offset, size, 0, NULL);
        if (status != CARVE_SUCCESS)
            carve__pool_free(r->pool, offset);
    }
    pthread_mutex_unlock(&r->lock);
    if (status != CARVE_SUCCESS) {
        free(a);
        return fail(status);
    }
    carve__annotate_allocated(r->host_base + offset, bytes, size);
    if (zero)
        memset(r->host_base + offset, 0, (size_t)bytes);
    return r->host_base + offset;
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
            protect(r, l->offset, l->size, 0);
        free(l->alloc);
    }
    carve__annotate_freed(r->host_base + l->offset, l->size);
    carve__pool_free(r->pool, l->offset);
}

carve_status carve_zc_free(carve_region *r, void *ptr)
{
    located l;
    if (ptr == NULL)
        return CARVE_SUCCESS;
    if (!locate(ptr, &l))
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (r != NULL && l.region != r) {
        pthread_mutex_unlock(&l.region->lock);
        return CARVE_ERROR_INVALID_ARGUMENT;
    }
    retire(l.region, &l);
    pthread_mutex_unlock(&l.region->lock);
    return CARVE_SUCCESS;
}

/* Resizes l's block without moving it; the region is locked. The mapping
 * and any sub-buffer describe the old size, so both are redone. */
static carve_status resize_in_place(located *l, uint64_t bytes)
{
    uint64_t size = 0;
    carve_status status = unmap_range(l->region, l->alloc);
    if (status != CARVE_SUCCESS)
        return status;
    if (carve__pool_resize(l->region->pool, l->offset, bytes) != CARVE_SUCCESS) {
        status = map_range(l->region, l->alloc, l->offset, l->size, 0, NULL);
        return status != CARVE_SUCCESS ? status
                                       : CL_MEM_OBJECT_ALLOCATION_FAILURE;
    }
    if (l->alloc->sub_buffer != NULL) {
        clReleaseMemObject(l->alloc->sub_buffer);
        l->alloc->sub_buffer = NULL;
    }
    carve__pool_find(l->region->pool, l->offset, &size, NULL, NULL);
    carve__annotate_resized(l->region->host_base + l->offset, l->requested,
                            l->size, bytes, size);
    return map_range(l->region, l->alloc, l->offset, size, 0, NULL);
}

void *carve_zc_realloc(carve_region *r, void *ptr, size_t bytes)
{
    located l;
    carve_status refusal = CARVE_SUCCESS;
    void *moved;
    if (ptr == NULL)
        return carve_zc_malloc(r, bytes);
    if (!locate(ptr, &l))
        return fail(CARVE_ERROR_INVALID_ARGUMENT);
    if (r != NULL && l.region != r)
        refusal = CARVE_ERROR_INVALID_ARGUMENT;
    else if (l.alloc->device_owned)
        refusal = CARVE_ERROR_WRONG_OWNER;
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
    moved = carve_zc_malloc(l.region, bytes);
    if (moved == NULL)
        return NULL;
    memcpy(moved, ptr, (size_t)(l.requested < bytes ? l.requested : bytes));
    carve_zc_free(l.region, ptr);
    return moved;
}

/* ---- kernel arguments and hand-over ------------------------------------------------ */

carve_status carve_zc_set_arg(cl_kernel kernel, cl_uint index, const void *ptr)
{
    located l;
    cl_int err = CL_SUCCESS;
    if (kernel == NULL || !locate(ptr, &l))
        return CARVE_ERROR_INVALID_ARGUMENT;
#ifdef CARVE_HAVE_SVM
    if (is_svm_backend(l.region->backend)) {
        err = clSetKernelArgSVMPointer(kernel, index, ptr);
        pthread_mutex_unlock(&l.region->lock);
        return err;
    }
#endif
    if (l.alloc->sub_buffer == NULL) {
        cl_buffer_region range;
        range.origin = (size_t)l.offset;
        range.size = (size_t)l.size;
        l.alloc->sub_buffer = clCreateSubBuffer(
            l.region->buffer, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION,
            &range, &err);
    }
    if (err == CL_SUCCESS)
        err = clSetKernelArg(kernel, index, sizeof(cl_mem),
                             &l.alloc->sub_buffer);
    pthread_mutex_unlock(&l.region->lock);
    return err;
}

/* Locates the allocation whose first `bytes` (0: all) form the range. A
 * range starts at its allocation: carve keeps no interval index, so that
 * every lookup stays O(1), and a pointer inside an allocation is refused. */
static int locate_range(const void *ptr, size_t bytes, located *l,
                        uint64_t *range_offset, uint64_t *range_bytes)
{
    if (!locate(ptr, l))
        return 0;
    *range_offset = l->offset;
    *range_bytes = bytes == 0 ? l->size : bytes;
    if (*range_bytes > l->size) {
        pthread_mutex_unlock(&l->region->lock);
        return 0;
    }
    return 1;
}

carve_status carve_zc_to_device(const void *ptr, size_t bytes)
{
    located l;
    uint64_t offset = 0, length = 0;
    carve_status status;
    if (!locate_range(ptr, bytes, &l, &offset, &length))
        return CARVE_ERROR_INVALID_ARGUMENT;
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
        protect(l.region, l.offset, l.size, 1);
    }
    pthread_mutex_unlock(&l.region->lock);
    return status;
}

carve_status carve_zc_to_host(const void *ptr, size_t bytes,
                              cl_uint num_events, const cl_event *events)
{
    located l;
    uint64_t offset = 0, length = 0;
    carve_status status;
    if ((num_events > 0) != (events != NULL) ||
        !locate_range(ptr, bytes, &l, &offset, &length))
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (!l.alloc->device_owned) {
        pthread_mutex_unlock(&l.region->lock);
        return wait_events(num_events, events);
    }
    status = map_range(l.region, l.alloc, l.offset, l.size, num_events, events);
    if (status == CARVE_SUCCESS) {
        protect(l.region, l.offset, l.size, 0);
        if (l.region->invalidate != NULL)
            l.region->invalidate(l.region->hook_context,
                                 l.region->host_base + offset, (size_t)length);
        l.alloc->device_owned = 0;
    }
    pthread_mutex_unlock(&l.region->lock);
    return status;
}

/* ---- the zero-copy probe ---------------------------------------------------------------- */

static carve_status probe(carve_region *r)
{
    const char *source = carve_device_source("carve_probe.cl", NULL);
    uint32_t *words;
    uint64_t expected;
    cl_program program = NULL;
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
    status = carve_program_build(r->context, r->device, source, NULL, &program,
                                 NULL);
    if (status == CARVE_SUCCESS)
        kernel = clCreateKernel(program, "carve_probe_words", &status);
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
    if (done != NULL)
        clReleaseEvent(done);
    if (kernel != NULL)
        clReleaseKernel(kernel);
    if (program != NULL)
        clReleaseProgram(program);
    carve_zc_free(r, words);
    return status;
}

/* ---- the region's life -------------------------------------------------------------------- */

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
    r->alignment = p->alignment ? p->alignment : default_alignment(device);
    if (r->flags & CARVE_REGION_COHERENCE_CHECK && r->alignment < page)
        r->alignment = page; /* protection works on whole pages */
    r->bytes = (p->bytes + r->alignment - 1) & ~(r->alignment - 1);
    r->write_back = p->write_back;
    r->invalidate = p->invalidate;
    r->hook_context = p->hook_context;
    clRetainContext(context);
    clRetainDevice(device);
    r->queue = clCreateCommandQueue(context, device, 0, &status);
    if (status == CARVE_SUCCESS)
        status = create_memory(r, p);
    if (status == CARVE_SUCCESS)
        status = carve__pool_create(r->bytes, r->alignment, &r->pool);
    if (status == CARVE_SUCCESS)
        carve__annotate_region_created(r->host_base, r->bytes);
    if (status == CARVE_SUCCESS && !registry_add(r))
        status = CARVE_ERROR_LIMIT;
    if (status == CARVE_SUCCESS)
        status = probe(r);
    if (status != CARVE_SUCCESS) {
        carve_region_release(r);
        return status;
    }
    *out = r;
    return CARVE_SUCCESS;
}

static int params_valid(cl_context context, cl_device_id device,
                        const carve_region_params *p)
{
    if (context == NULL || device == NULL || p == NULL || p->bytes == 0 ||
        (p->alignment & (p->alignment - 1)) != 0 ||
        (p->flags & ~(CARVE_REGION_REQUIRE_ZERO_COPY |
                      CARVE_REGION_COHERENCE_CHECK)) != 0 ||
        p->backend < CARVE_BACKEND_AUTO || p->backend > CARVE_BACKEND_SVM_FINE)
        return 0;
    if ((p->flags & CARVE_REGION_COHERENCE_CHECK) &&
        p->backend != CARVE_BACKEND_HOST_MEMORY)
        return 0;
    return (p->backend == CARVE_BACKEND_USER_MEMORY) == (p->user_base != NULL);
}

carve_status carve_region_create(cl_context context, cl_device_id device,
                                 const carve_region_params *params,
                                 carve_region **region)
{
    /* AUTO's preference: no hand-over cost first, then the ones that map. */
    static const carve_backend automatic[] = {
        CARVE_BACKEND_SVM_FINE, CARVE_BACKEND_SVM_COARSE,
        CARVE_BACKEND_ALLOC_HOST_PTR, CARVE_BACKEND_HOST_MEMORY};
    carve_region *fallback = NULL;
    carve_status status = CL_INVALID_OPERATION;
    size_t i;
    if (region == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    *region = NULL;
    if (!params_valid(context, device, params))
        return CARVE_ERROR_INVALID_ARGUMENT;
    if (params->backend != CARVE_BACKEND_AUTO) {
        status = create_one(context, device, params, params->backend, region);
    } else {
        /* The first backend proven zero-copy wins; else the first that
         * works, which then says it is not proven. */
        for (i = 0; i < sizeof automatic / sizeof automatic[0]; ++i) {
            carve_region *r = NULL;
            if (create_one(context, device, params, automatic[i], &r) !=
                CARVE_SUCCESS)
                continue;
            if (r->zero_copy_verified) {
                carve_region_release(fallback);
                fallback = r;
                break;
            }
            if (fallback == NULL)
                fallback = r;
            else
                carve_region_release(r);
        }
        *region = fallback;
        status = fallback != NULL ? CARVE_SUCCESS : CL_INVALID_OPERATION;
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
        protect(r, offset, size, 0);
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
    pthread_mutex_unlock(&r->lock);
    return CARVE_SUCCESS;
}

carve_status carve_region_check(carve_region *r, const char **message)
{
    const char *why;
    if (r == NULL)
        return CARVE_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&r->lock);
    why = carve__pool_check(r->pool);
    pthread_mutex_unlock(&r->lock);
    if (message != NULL)
        *message = why;
    return why == NULL ? CARVE_SUCCESS : CARVE_ERROR_ARENA_INVALID;
}
