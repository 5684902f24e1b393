/*
 * fault.c - the injection points of fault.h: each wrapper counts the point,
 * fails the armed one as the real call can, and otherwise calls the real
 * function and keeps count of what carve holds.
 */
#define _GNU_SOURCE /* memfd_create */
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS /* clCreateCommandQueue, as carve calls it */
#define CARVE_FAULT_DECLARATIONS_ONLY 1
#include "fault.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static atomic_ulong armed_at; /* 0: disarmed */
static atomic_int dropping;   /* armed_at counts launches, which it drops */
static atomic_ulong reached;
static atomic_int fired;
static char fired_site[96];
static atomic_long host_blocks, mapped_bytes, files, cl_references;

void carve__fault_arm_dropped_launch(unsigned long k)
{
    carve__fault_arm(k);
    atomic_store(&dropping, k != 0);
}

void carve__fault_arm(unsigned long k)
{
    atomic_store(&armed_at, 0);
    atomic_store(&dropping, 0);
    atomic_store(&reached, 0);
    atomic_store(&fired, 0);
    fired_site[0] = '\0';
    atomic_store(&armed_at, k);
}

unsigned long carve__fault_reached(void)
{
    return atomic_load(&reached);
}

int carve__fault_fired(const char **site)
{
    int yes = atomic_load(&fired);
    if (yes && site != NULL)
        *site = fired_site;
    return yes;
}

void carve__fault_holding(carve__fault_holdings *out)
{
    out->host_blocks = atomic_load(&host_blocks);
    out->mappings = atomic_load(&mapped_bytes);
    out->files = atomic_load(&files);
    out->cl_references = atomic_load(&cl_references);
}

void carve__fault_free_caller_memory(void *ptr)
{
    carve__fault_free(ptr);
}

/* Counts a point; 1 if it is the armed one, which then fails. */
static int fails(const char *what, const char *file, int line)
{
    if (atomic_load(&dropping))
        return 0; /* only launches count: see dropped() */
    unsigned long k = atomic_load(&armed_at);
    unsigned long n = atomic_fetch_add(&reached, 1) + 1;
    const char *base = strrchr(file, '/');
    if (k == 0 || n != k)
        return 0;
    snprintf(fired_site, sizeof fired_site, "%s:%d %s",
             base != NULL ? base + 1 : file, line, what);
    atomic_store(&fired, 1);
    if (getenv("CARVE_FAULT_TRACE") != NULL) /* before a crash it causes */
        fprintf(stderr, "fault %lu: %s\n", k, fired_site);
    return 1;
}

/* ---- host memory and files ----------------------------------------------------------- */

void *carve__fault_malloc(size_t bytes, const char *file, int line)
{
    void *p;
    if (fails("malloc", file, line)) {
        errno = ENOMEM;
        return NULL;
    }
    p = malloc(bytes);
    if (p != NULL)
        atomic_fetch_add(&host_blocks, 1);
    return p;
}

void *carve__fault_calloc(size_t count, size_t size, const char *file, int line)
{
    void *p;
    if (fails("calloc", file, line)) {
        errno = ENOMEM;
        return NULL;
    }
    p = calloc(count, size);
    if (p != NULL)
        atomic_fetch_add(&host_blocks, 1);
    return p;
}

void *carve__fault_realloc(void *ptr, size_t bytes, const char *file, int line)
{
    void *p;
    if (fails("realloc", file, line)) {
        errno = ENOMEM;
        return NULL;
    }
    p = realloc(ptr, bytes);
    if (p != NULL && ptr == NULL)
        atomic_fetch_add(&host_blocks, 1);
    return p;
}

void carve__fault_free(void *ptr)
{
    if (ptr != NULL)
        atomic_fetch_sub(&host_blocks, 1);
    free(ptr);
}

/* Bytes, not calls: carve reserves, maps over part of the reservation
 * (MAP_FIXED, not counted again) and unmaps the rest. */
void *carve__fault_mmap(void *addr, size_t bytes, int prot, int flags, int fd,
                        off_t offset, const char *file, int line)
{
    void *p;
    if (fails("mmap", file, line)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    p = mmap(addr, bytes, prot, flags, fd, offset);
    if (p != MAP_FAILED && !(flags & MAP_FIXED))
        atomic_fetch_add(&mapped_bytes, (long)bytes);
    return p;
}

int carve__fault_munmap(void *addr, size_t bytes)
{
    int result = munmap(addr, bytes);
    if (result == 0)
        atomic_fetch_sub(&mapped_bytes, (long)bytes);
    return result;
}

int carve__fault_memfd_create(const char *name, unsigned flags,
                              const char *file, int line)
{
    int fd;
    if (fails("memfd_create", file, line)) {
        errno = ENOMEM;
        return -1;
    }
    fd = memfd_create(name, flags);
    if (fd >= 0)
        atomic_fetch_add(&files, 1);
    return fd;
}

int carve__fault_ftruncate(int fd, off_t length, const char *file, int line)
{
    if (fails("ftruncate", file, line)) {
        errno = ENOSPC;
        return -1;
    }
    return ftruncate(fd, length);
}

int carve__fault_close(int fd)
{
    int result = close(fd);
    if (result == 0)
        atomic_fetch_sub(&files, 1);
    return result;
}

FILE *carve__fault_fopen(const char *path, const char *mode, const char *file,
                         int line)
{
    FILE *f;
    if (fails("fopen", file, line)) {
        errno = ENOMEM;
        return NULL;
    }
    f = fopen(path, mode);
    if (f != NULL)
        atomic_fetch_add(&files, 1);
    return f;
}

int carve__fault_fclose(FILE *f)
{
    if (f != NULL)
        atomic_fetch_sub(&files, 1);
    return fclose(f);
}

/* ---- OpenCL ---------------------------------------------------------------------------- */

/* For calls that return an object and a status through errcode_ret. */
#define FAIL_OBJECT(name, status, errcode_ret)                                \
    do {                                                                      \
        if (fails(name, file, line)) {                                        \
            if ((errcode_ret) != NULL)                                        \
                *(errcode_ret) = (status);                                    \
            return NULL;                                                      \
        }                                                                     \
    } while (0)

#define FAIL_STATUS(name, status)                                             \
    do {                                                                      \
        if (fails(name, file, line))                                          \
            return (status);                                                  \
    } while (0)

static void count_reference(const void *object)
{
    if (object != NULL)
        atomic_fetch_add(&cl_references, 1);
}

/* A successful retain or release moves the count. */
static cl_int counted(cl_int status, long change)
{
    if (status == CL_SUCCESS)
        atomic_fetch_add(&cl_references, change);
    return status;
}

cl_int carve__fault_clGetPlatformIDs(cl_uint n, cl_platform_id *platforms,
                                     cl_uint *count, const char *file, int line)
{
    FAIL_STATUS("clGetPlatformIDs", CL_OUT_OF_HOST_MEMORY);
    return clGetPlatformIDs(n, platforms, count);
}

cl_int carve__fault_clGetPlatformInfo(cl_platform_id platform,
                                      cl_platform_info what, size_t size,
                                      void *value, size_t *size_ret,
                                      const char *file, int line)
{
    FAIL_STATUS("clGetPlatformInfo", CL_OUT_OF_HOST_MEMORY);
    return clGetPlatformInfo(platform, what, size, value, size_ret);
}

cl_int carve__fault_clGetDeviceIDs(cl_platform_id platform, cl_device_type type,
                                   cl_uint n, cl_device_id *devices,
                                   cl_uint *count, const char *file, int line)
{
    FAIL_STATUS("clGetDeviceIDs", CL_OUT_OF_RESOURCES);
    return clGetDeviceIDs(platform, type, n, devices, count);
}

cl_int carve__fault_clGetDeviceInfo(cl_device_id device, cl_device_info what,
                                    size_t size, void *value, size_t *size_ret,
                                    const char *file, int line)
{
    FAIL_STATUS("clGetDeviceInfo", CL_OUT_OF_RESOURCES);
    return clGetDeviceInfo(device, what, size, value, size_ret);
}

cl_command_queue carve__fault_clCreateCommandQueue(
    cl_context context, cl_device_id device,
    cl_command_queue_properties properties, cl_int *errcode_ret,
    const char *file, int line)
{
    cl_command_queue q;
    FAIL_OBJECT("clCreateCommandQueue", CL_OUT_OF_RESOURCES, errcode_ret);
    q = clCreateCommandQueue(context, device, properties, errcode_ret);
    count_reference(q);
    return q;
}

cl_mem carve__fault_clCreateBuffer(cl_context context, cl_mem_flags flags,
                                   size_t size, void *host, cl_int *errcode_ret,
                                   const char *file, int line)
{
    cl_mem m;
    FAIL_OBJECT("clCreateBuffer", CL_MEM_OBJECT_ALLOCATION_FAILURE, errcode_ret);
    m = clCreateBuffer(context, flags, size, host, errcode_ret);
    count_reference(m);
    return m;
}

cl_int carve__fault_clSetMemObjectDestructorCallback(
    cl_mem buffer, void(CL_CALLBACK *notify)(cl_mem, void *), void *user,
    const char *file, int line)
{
    FAIL_STATUS("clSetMemObjectDestructorCallback", CL_OUT_OF_HOST_MEMORY);
    return clSetMemObjectDestructorCallback(buffer, notify, user);
}

cl_mem carve__fault_clCreateSubBuffer(cl_mem buffer, cl_mem_flags flags,
                                      cl_buffer_create_type type,
                                      const void *info, cl_int *errcode_ret,
                                      const char *file, int line)
{
    cl_mem m;
    FAIL_OBJECT("clCreateSubBuffer", CL_MEM_OBJECT_ALLOCATION_FAILURE,
                errcode_ret);
    m = clCreateSubBuffer(buffer, flags, type, info, errcode_ret);
    count_reference(m);
    return m;
}

cl_program carve__fault_clCreateProgramWithSource(cl_context context,
                                                  cl_uint count,
                                                  const char **strings,
                                                  const size_t *lengths,
                                                  cl_int *errcode_ret,
                                                  const char *file, int line)
{
    cl_program p;
    FAIL_OBJECT("clCreateProgramWithSource", CL_OUT_OF_HOST_MEMORY, errcode_ret);
    p = clCreateProgramWithSource(context, count, strings, lengths, errcode_ret);
    count_reference(p);
    return p;
}

cl_int carve__fault_clCompileProgram(
    cl_program program, cl_uint n, const cl_device_id *devices,
    const char *options, cl_uint headers, const cl_program *header_programs,
    const char **header_names, void(CL_CALLBACK *notify)(cl_program, void *),
    void *user, const char *file, int line)
{
    FAIL_STATUS("clCompileProgram", CL_OUT_OF_RESOURCES);
    return clCompileProgram(program, n, devices, options, headers,
                            header_programs, header_names, notify, user);
}

cl_program carve__fault_clLinkProgram(
    cl_context context, cl_uint n, const cl_device_id *devices,
    const char *options, cl_uint count, const cl_program *programs,
    void(CL_CALLBACK *notify)(cl_program, void *), void *user,
    cl_int *errcode_ret, const char *file, int line)
{
    cl_program p;
    FAIL_OBJECT("clLinkProgram", CL_OUT_OF_RESOURCES, errcode_ret);
    p = clLinkProgram(context, n, devices, options, count, programs, notify,
                      user, errcode_ret);
    count_reference(p);
    return p;
}

cl_int carve__fault_clGetProgramBuildInfo(cl_program program,
                                          cl_device_id device,
                                          cl_program_build_info what,
                                          size_t size, void *value,
                                          size_t *size_ret, const char *file,
                                          int line)
{
    FAIL_STATUS("clGetProgramBuildInfo", CL_OUT_OF_HOST_MEMORY);
    return clGetProgramBuildInfo(program, device, what, size, value, size_ret);
}

cl_kernel carve__fault_clCreateKernel(cl_program program, const char *name,
                                      cl_int *errcode_ret, const char *file,
                                      int line)
{
    cl_kernel k;
    FAIL_OBJECT("clCreateKernel", CL_OUT_OF_RESOURCES, errcode_ret);
    k = clCreateKernel(program, name, errcode_ret);
    count_reference(k);
    return k;
}

cl_int carve__fault_clSetKernelArg(cl_kernel kernel, cl_uint index, size_t size,
                                   const void *value, const char *file,
                                   int line)
{
    FAIL_STATUS("clSetKernelArg", CL_OUT_OF_RESOURCES);
    return clSetKernelArg(kernel, index, size, value);
}

/* Counts a launch while dropping; 1 if it is the armed one. */
static int dropped(const char *file, int line)
{
    if (!atomic_load(&dropping))
        return 0;
    atomic_store(&dropping, 0);
    /* fails() counts it now, as the only kind of point */
    {
        int yes = fails("clEnqueueNDRangeKernel (dropped)", file, line);
        atomic_store(&dropping, 1);
        return yes;
    }
}

cl_int carve__fault_clEnqueueNDRangeKernel(
    cl_command_queue queue, cl_kernel kernel, cl_uint dims,
    const size_t *offset, const size_t *global, const size_t *local,
    cl_uint n, const cl_event *wait, cl_event *event, const char *file,
    int line)
{
    cl_int status;
    if (dropped(file, line)) {
        /* an event that completes, with no kernel behind it */
        status = clEnqueueMarkerWithWaitList(queue, n, wait, event);
        if (status == CL_SUCCESS && event != NULL)
            count_reference(*event);
        return status;
    }
    FAIL_STATUS("clEnqueueNDRangeKernel", CL_OUT_OF_RESOURCES);
    status = clEnqueueNDRangeKernel(queue, kernel, dims, offset, global, local,
                                    n, wait, event);
    if (status == CL_SUCCESS && event != NULL)
        count_reference(*event);
    return status;
}

void *carve__fault_clEnqueueMapBuffer(cl_command_queue queue, cl_mem buffer,
                                      cl_bool blocking, cl_map_flags flags,
                                      size_t offset, size_t size, cl_uint n,
                                      const cl_event *wait, cl_event *event,
                                      cl_int *errcode_ret, const char *file,
                                      int line)
{
    void *p;
    FAIL_OBJECT("clEnqueueMapBuffer", CL_MAP_FAILURE, errcode_ret);
    p = clEnqueueMapBuffer(queue, buffer, blocking, flags, offset, size, n,
                           wait, event, errcode_ret);
    if (p != NULL && event != NULL)
        count_reference(*event);
    return p;
}

cl_int carve__fault_clEnqueueUnmapMemObject(cl_command_queue queue, cl_mem mem,
                                            void *mapped, cl_uint n,
                                            const cl_event *wait,
                                            cl_event *event, const char *file,
                                            int line)
{
    cl_int status;
    FAIL_STATUS("clEnqueueUnmapMemObject", CL_OUT_OF_RESOURCES);
    status = clEnqueueUnmapMemObject(queue, mem, mapped, n, wait, event);
    if (status == CL_SUCCESS && event != NULL)
        count_reference(*event);
    return status;
}

cl_int carve__fault_clFlush(cl_command_queue queue, const char *file, int line)
{
    FAIL_STATUS("clFlush", CL_OUT_OF_RESOURCES);
    return clFlush(queue);
}

cl_int carve__fault_clFinish(cl_command_queue queue, const char *file, int line)
{
    FAIL_STATUS("clFinish", CL_OUT_OF_RESOURCES);
    return clFinish(queue);
}

cl_int carve__fault_clWaitForEvents(cl_uint n, const cl_event *events,
                                    const char *file, int line)
{
    FAIL_STATUS("clWaitForEvents", CL_OUT_OF_RESOURCES);
    return clWaitForEvents(n, events);
}

cl_int carve__fault_clRetainContext(cl_context x)
{
    return counted(clRetainContext(x), 1);
}
cl_int carve__fault_clReleaseContext(cl_context x)
{
    return counted(clReleaseContext(x), -1);
}
cl_int carve__fault_clRetainDevice(cl_device_id x)
{
    return counted(clRetainDevice(x), 1);
}
cl_int carve__fault_clReleaseDevice(cl_device_id x)
{
    return counted(clReleaseDevice(x), -1);
}
cl_int carve__fault_clRetainCommandQueue(cl_command_queue x)
{
    return counted(clRetainCommandQueue(x), 1);
}
cl_int carve__fault_clReleaseCommandQueue(cl_command_queue x)
{
    return counted(clReleaseCommandQueue(x), -1);
}
cl_int carve__fault_clReleaseMemObject(cl_mem x)
{
    return counted(clReleaseMemObject(x), -1);
}
cl_int carve__fault_clRetainProgram(cl_program x)
{
    return counted(clRetainProgram(x), 1);
}
cl_int carve__fault_clReleaseProgram(cl_program x)
{
    return counted(clReleaseProgram(x), -1);
}
cl_int carve__fault_clReleaseKernel(cl_kernel x)
{
    return counted(clReleaseKernel(x), -1);
}
cl_int carve__fault_clReleaseEvent(cl_event x)
{
    return counted(clReleaseEvent(x), -1);
}

#ifdef CL_VERSION_2_0
void *carve__fault_clSVMAlloc(cl_context context, cl_svm_mem_flags flags,
                              size_t size, cl_uint alignment, const char *file,
                              int line)
{
    void *p;
    if (fails("clSVMAlloc", file, line))
        return NULL;
    p = clSVMAlloc(context, flags, size, alignment);
    count_reference(p);
    return p;
}

void carve__fault_clSVMFree(cl_context context, void *p)
{
    if (p != NULL)
        atomic_fetch_sub(&cl_references, 1);
    clSVMFree(context, p);
}

cl_int carve__fault_clEnqueueSVMMap(cl_command_queue queue, cl_bool blocking,
                                    cl_map_flags flags, void *p, size_t size,
                                    cl_uint n, const cl_event *wait,
                                    cl_event *event, const char *file, int line)
{
    cl_int status;
    FAIL_STATUS("clEnqueueSVMMap", CL_OUT_OF_RESOURCES);
    status = clEnqueueSVMMap(queue, blocking, flags, p, size, n, wait, event);
    if (status == CL_SUCCESS && event != NULL)
        count_reference(*event);
    return status;
}

cl_int carve__fault_clEnqueueSVMUnmap(cl_command_queue queue, void *p,
                                      cl_uint n, const cl_event *wait,
                                      cl_event *event, const char *file,
                                      int line)
{
    cl_int status;
    FAIL_STATUS("clEnqueueSVMUnmap", CL_OUT_OF_RESOURCES);
    status = clEnqueueSVMUnmap(queue, p, n, wait, event);
    if (status == CL_SUCCESS && event != NULL)
        count_reference(*event);
    return status;
}

cl_int carve__fault_clSetKernelArgSVMPointer(cl_kernel kernel, cl_uint index,
                                             const void *p, const char *file,
                                             int line)
{
    FAIL_STATUS("clSetKernelArgSVMPointer", CL_OUT_OF_RESOURCES);
    return clSetKernelArgSVMPointer(kernel, index, p);
}
#endif
