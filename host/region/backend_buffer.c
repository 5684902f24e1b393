/*
 * backend_buffer.c - the buffer backends: one cl_mem over the region and a
 * sub-buffer per allocation, through which the host maps it and kernels
 * get it. They differ only in where the memory comes from: pages carve
 * maps (host memory, with two views under the coherence check), memory the
 * caller supplies (user memory), or the runtime's own (alloc-host-ptr).
 */
#define _GNU_SOURCE /* memfd_create */
#include "region_internal.h"

#include <sys/mman.h>
#include <unistd.h>
#include "fault.h" /* last: test builds wrap the calls above */

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
     * open only where its side owns the allocation (see
     * carve__coherence_open_view). Everything is free, hence the host's,
     * at first. */
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
    carve__coherence_watch();
    return CARVE_SUCCESS;
}

/* OpenCL aligns a buffer only to the device's base alignment, so carve
 * asks for `base_alignment` bytes more and starts the region further in,
 * on the first aligned address. */
static carve_status map_runtime_memory(carve_region *r, uint64_t base_alignment)
{
    size_t spare = (size_t)base_alignment;
    uintptr_t start;
    cl_int err = CL_SUCCESS;
    r->buffer = clCreateBuffer(r->context,
                               CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR,
                               (size_t)r->bytes + spare, NULL, &err);
    if (err != CL_SUCCESS)
        return err;
    /* Mapped once to learn where the host sees it; from then on only
     * host-owned allocations are mapped (buffer_map checks that they
     * appear there), since a kernel must not use a mapped buffer. */
    r->allocated = clEnqueueMapBuffer(r->queue, r->buffer, CL_TRUE,
                                      CL_MAP_READ | CL_MAP_WRITE, 0,
                                      (size_t)r->bytes + spare, 0, NULL, NULL,
                                      &err);
    if (err != CL_SUCCESS)
        return err;
    start = (uintptr_t)r->allocated;
    r->lead = (uint64_t)(-start & (uintptr_t)(base_alignment - 1));
    r->host_base = (unsigned char *)r->allocated + r->lead;
    err = clEnqueueUnmapMemObject(r->queue, r->buffer, r->allocated, 0, NULL,
                                  NULL);
    if (err == CL_SUCCESS)
        err = clFinish(r->queue);
    /* The lead is also where every sub-buffer starts, which OpenCL wants
     * on the device's base alignment. A platform that maps the buffer less
     * aligned than that (a copying one: Oclgrind maps at 16 bytes) cannot
     * give aligned addresses to both sides. */
    if (err == CL_SUCCESS &&
        r->lead % carve__device_base_alignment(r->device) != 0)
        err = CARVE_ERROR_INVALID_ALIGNMENT;
    return err;
}

static carve_status buffer_create(carve_region *r, const carve_region_params *p,
                                  uint64_t base_alignment)
{
    cl_int err = CL_SUCCESS;
    switch (r->backend) {
    case CARVE_BACKEND_ALLOC_HOST_PTR:
        return map_runtime_memory(r, base_alignment);
    case CARVE_BACKEND_HOST_MEMORY:
        err = map_host_memory(r, base_alignment);
        break;
    case CARVE_BACKEND_USER_MEMORY:
        if (p->user_base == NULL ||
            ((uintptr_t)p->user_base & (r->alignment - 1)) != 0)
            return CARVE_ERROR_INVALID_ARGUMENT;
        r->host_base = r->device_view = p->user_base;
        break;
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

static void buffer_destroy(carve_region *r)
{
    if (r->buffer != NULL)
        clReleaseMemObject(r->buffer);
    if (r->mapped_bytes != 0) {
        if (r->device_view != NULL && r->device_view != r->host_base)
            munmap(r->device_view, r->mapped_bytes);
        if (r->host_base != NULL)
            munmap(r->host_base, r->mapped_bytes);
    }
}

static carve_status buffer_attach(carve_region *r, carve__zc_record *a,
                                  uint64_t offset, uint64_t bytes)
{
    cl_buffer_region range;
    cl_int err = CL_SUCCESS;
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

static void buffer_detach(carve__zc_record *a)
{
    if (a->sub_buffer != NULL)
        clReleaseMemObject(a->sub_buffer);
    a->sub_buffer = NULL;
}

static cl_int buffer_enqueue_unmap(carve_region *r, carve__zc_record *a)
{
    return clEnqueueUnmapMemObject(r->queue, a->sub_buffer, a->mapping, 0,
                                   NULL, NULL);
}

static carve_status buffer_map(carve_region *r, carve__zc_record *a,
                               uint64_t offset, uint64_t bytes,
                               cl_map_flags flags, cl_uint n,
                               const cl_event *events)
{
    cl_int err = CL_SUCCESS;
    unsigned char *expected =
        (r->device_view != NULL ? r->device_view : r->host_base) + offset;
    (void)bytes; /* the sub-buffer is the range */
    a->mapping = clEnqueueMapBuffer(r->queue, a->sub_buffer, CL_TRUE, flags, 0,
                                    (size_t)a->sub_bytes, n, events, NULL,
                                    &err);
    /* carve hands out addresses once: a platform that maps an
     * ALLOC_HOST_PTR buffer elsewhere each time cannot back a region. */
    if (err == CL_SUCCESS && a->mapping != expected) {
        carve__zc_unmap(r, a);
        err = CL_MAP_FAILURE;
    }
    return err;
}

static carve_status buffer_set_arg(const carve__located *l, cl_kernel kernel,
                                   cl_uint index, const void *ptr)
{
    cl_int err = CL_SUCCESS;
    (void)ptr;
    /* Made with the allocation, so no OpenCL object per call; remade here
     * only after a failed resize lost it. */
    if (l->alloc->sub_buffer == NULL)
        err = buffer_attach(l->region, l->alloc, l->offset, l->requested);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(kernel, index, sizeof(cl_mem),
                             &l->alloc->sub_buffer);
    return err;
}

static int buffer_supported(cl_device_id device, carve_backend backend)
{
    (void)backend;
    return device != NULL;
}

const carve__backend_ops carve__buffer_backend = {
    buffer_supported, buffer_create, buffer_destroy, buffer_attach,
    buffer_detach,    buffer_map,    buffer_enqueue_unmap, buffer_set_arg,
    1, /* host_owns_by_mapping */
    1, /* attaches_objects */
};
