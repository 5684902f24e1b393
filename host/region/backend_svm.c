/*
 * backend_svm.c - shared virtual memory (OpenCL 2.0): one clSVMAlloc over
 * the region; kernels take the allocations' own addresses. Coarse-grained
 * SVM moves ownership by mapping; fine-grained SVM is coherent, so a
 * hand-over only waits for the kernel.
 *
 * Built with CL_TARGET_OPENCL_VERSION 200 when the platform's library has
 * the SVM calls (CARVE_HAVE_SVM); without them it offers no table.
 */
#include "region_internal.h"

#include "fault.h" /* last: test builds wrap the calls above */

#ifdef CARVE_HAVE_SVM

static int svm_supported(cl_device_id device, carve_backend backend)
{
    cl_device_svm_capabilities svm = 0;
    if (device == NULL || clGetDeviceInfo(device, CL_DEVICE_SVM_CAPABILITIES,
                                          sizeof svm, &svm, NULL) != CL_SUCCESS)
        return 0;
    return (svm & (backend == CARVE_BACKEND_SVM_FINE
                       ? CL_DEVICE_SVM_FINE_GRAIN_BUFFER
                       : CL_DEVICE_SVM_COARSE_GRAIN_BUFFER)) != 0;
}

/* OpenCL aligns SVM only to the device's base alignment (PoCL refuses an
 * alignment over 128), so carve asks for `base_alignment` bytes more and
 * starts the region further in, on the first aligned address. */
static carve_status svm_create(carve_region *r, const carve_region_params *p,
                               uint64_t base_alignment)
{
    uintptr_t start;
    (void)p;
    r->allocated = clSVMAlloc(
        r->context,
        CL_MEM_READ_WRITE | (r->backend == CARVE_BACKEND_SVM_FINE
                                 ? CL_MEM_SVM_FINE_GRAIN_BUFFER
                                 : 0),
        (size_t)(r->bytes + base_alignment), 0);
    if (r->allocated == NULL)
        return CL_MEM_OBJECT_ALLOCATION_FAILURE;
    start = (uintptr_t)r->allocated;
    r->lead = (uint64_t)(-start & (uintptr_t)(base_alignment - 1));
    r->host_base = (unsigned char *)r->allocated + r->lead;
    return CARVE_SUCCESS;
}

static void svm_destroy(carve_region *r)
{
    if (r->allocated != NULL)
        clSVMFree(r->context, r->allocated);
}

static carve_status svm_attach(carve_region *r, carve__zc_record *a,
                               uint64_t offset, uint64_t bytes)
{
    (void)r;
    (void)a;
    (void)offset;
    (void)bytes;
    return CARVE_SUCCESS; /* a kernel takes the address itself */
}

static void svm_detach(carve__zc_record *a)
{
    (void)a;
}

static carve_status coarse_map(carve_region *r, carve__zc_record *a,
                               uint64_t offset, uint64_t bytes,
                               cl_map_flags flags, cl_uint n,
                               const cl_event *events)
{
    cl_int err = clEnqueueSVMMap(r->queue, CL_TRUE, flags,
                                 r->host_base + offset, (size_t)bytes, n,
                                 events, NULL);
    if (err == CL_SUCCESS)
        a->mapping = r->host_base + offset;
    return err;
}

static cl_int coarse_enqueue_unmap(carve_region *r, carve__zc_record *a)
{
    return clEnqueueSVMUnmap(r->queue, a->mapping, 0, NULL, NULL);
}

/* Fine-grained SVM is coherent: the host owns what the device finished. */
static carve_status fine_map(carve_region *r, carve__zc_record *a,
                             uint64_t offset, uint64_t bytes,
                             cl_map_flags flags, cl_uint n,
                             const cl_event *events)
{
    (void)r;
    (void)a;
    (void)offset;
    (void)bytes;
    (void)flags;
    return carve__wait_events(n, events);
}

static cl_int fine_enqueue_unmap(carve_region *r, carve__zc_record *a)
{
    (void)r;
    (void)a;
    return CL_SUCCESS; /* never mapped */
}

static carve_status svm_set_arg(const carve__located *l, cl_kernel kernel,
                                cl_uint index, const void *ptr)
{
    (void)l;
    return clSetKernelArgSVMPointer(kernel, index, ptr);
}

static const carve__backend_ops coarse_backend = {
    svm_supported, svm_create, svm_destroy, svm_attach, svm_detach,
    coarse_map,    coarse_enqueue_unmap, svm_set_arg,
    1, /* host_owns_by_mapping */
    0, /* attaches_objects */
};

static const carve__backend_ops fine_backend = {
    svm_supported, svm_create, svm_destroy, svm_attach, svm_detach,
    fine_map,      fine_enqueue_unmap, svm_set_arg,
    0, /* host_owns_by_mapping */
    0, /* attaches_objects */
};

const carve__backend_ops *carve__svm_backend(carve_backend backend)
{
    return backend == CARVE_BACKEND_SVM_FINE     ? &fine_backend
           : backend == CARVE_BACKEND_SVM_COARSE ? &coarse_backend
                                                 : NULL;
}

#else /* no SVM calls in the platform's library */

const carve__backend_ops *carve__svm_backend(carve_backend backend)
{
    (void)backend;
    return NULL;
}

#endif
