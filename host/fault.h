/*
 * fault.h - fault injection for tests.
 *
 * In a library built with CARVE_FAULT_INJECTION (the CMake target
 * carve_faulty, used by tests only), every host allocation carve makes
 * (malloc, calloc, realloc, mmap, memfd_create and ftruncate, fopen) and every OpenCL
 * call it makes that can fail passes through a counted injection point.
 * carve__fault_arm(k) makes the k-th point reached after it fail, once, as
 * the real call can: NULL (or MAP_FAILED, -1) with errno ENOMEM, or an
 * OpenCL status of the kind that call returns. The wrappers also count
 * what carve holds (host blocks, mappings, open files, OpenCL references
 * it took), so that a test tells a failed call that released everything
 * from one that leaked.
 *
 * Every host source includes this header after all others; without
 * CARVE_FAULT_INJECTION it declares nothing. Not thread-safe to arm
 * while other threads call carve (the counts themselves are atomic).
 */
#ifndef CARVE_FAULT_H
#define CARVE_FAULT_H

#ifdef CARVE_FAULT_INJECTION

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

/* What carve holds, counted by the wrappers. */
typedef struct carve__fault_holdings {
    long host_blocks; /* malloc/calloc/realloc minus free */
    long mappings;    /* bytes: mmap minus munmap */
    long files;       /* fopen minus fclose; memfd_create minus close */
    long cl_references; /* objects created or retained minus released */
} carve__fault_holdings;

/* Fails the k-th injection point reached from now on (k >= 1); 0 disarms.
 * Resets the count of points reached and the record of the fired one. */
void carve__fault_arm(unsigned long k);
/* Instead of failing a call: the k-th kernel launch (clEnqueueNDRangeKernel)
 * from now on returns CL_SUCCESS and an event, but the kernel never runs,
 * as if its writes never reached the host (a non-coherent cache, a driver
 * that drops work). Only launches count as points in this mode. */
void carve__fault_arm_dropped_launch(unsigned long k);
/* Points reached since the latest carve__fault_arm. */
unsigned long carve__fault_reached(void);
/* Whether the armed point fired; if so, *site (when not NULL) names it:
 * "region.c:807 calloc", static storage. */
int carve__fault_fired(const char **site);
void carve__fault_holding(carve__fault_holdings *out);
/* For a test: memory carve allocated that the caller frees itself (a
 * build log), freed and no longer counted as carve's. */
void carve__fault_free_caller_memory(void *ptr);

/* The wrappers: the real call's signature, plus the call site. */
#define CARVE__SITE const char *carve__file, int carve__line
void *carve__fault_malloc(size_t bytes, CARVE__SITE);
void *carve__fault_calloc(size_t count, size_t size, CARVE__SITE);
void *carve__fault_realloc(void *ptr, size_t bytes, CARVE__SITE);
void carve__fault_free(void *ptr);
void *carve__fault_mmap(void *addr, size_t bytes, int prot, int flags, int fd,
                        off_t offset, CARVE__SITE);
int carve__fault_munmap(void *addr, size_t bytes);
int carve__fault_memfd_create(const char *name, unsigned flags, CARVE__SITE);
int carve__fault_ftruncate(int fd, off_t length, CARVE__SITE);
int carve__fault_close(int fd);
FILE *carve__fault_fopen(const char *path, const char *mode, CARVE__SITE);
int carve__fault_fclose(FILE *file);

cl_int carve__fault_clGetPlatformIDs(cl_uint, cl_platform_id *, cl_uint *,
                                     CARVE__SITE);
cl_int carve__fault_clGetPlatformInfo(cl_platform_id, cl_platform_info, size_t,
                                      void *, size_t *, CARVE__SITE);
cl_int carve__fault_clGetDeviceIDs(cl_platform_id, cl_device_type, cl_uint,
                                   cl_device_id *, cl_uint *, CARVE__SITE);
cl_int carve__fault_clGetDeviceInfo(cl_device_id, cl_device_info, size_t,
                                    void *, size_t *, CARVE__SITE);
cl_command_queue carve__fault_clCreateCommandQueue(
    cl_context, cl_device_id, cl_command_queue_properties, cl_int *,
    CARVE__SITE);
cl_mem carve__fault_clCreateBuffer(cl_context, cl_mem_flags, size_t, void *,
                                   cl_int *, CARVE__SITE);
cl_int carve__fault_clSetMemObjectDestructorCallback(
    cl_mem, void(CL_CALLBACK *)(cl_mem, void *), void *, CARVE__SITE);
cl_mem carve__fault_clCreateSubBuffer(cl_mem, cl_mem_flags,
                                      cl_buffer_create_type, const void *,
                                      cl_int *, CARVE__SITE);
cl_program carve__fault_clCreateProgramWithSource(cl_context, cl_uint,
                                                  const char **, const size_t *,
                                                  cl_int *, CARVE__SITE);
cl_int carve__fault_clCompileProgram(cl_program, cl_uint, const cl_device_id *,
                                     const char *, cl_uint, const cl_program *,
                                     const char **,
                                     void(CL_CALLBACK *)(cl_program, void *),
                                     void *, CARVE__SITE);
cl_program carve__fault_clLinkProgram(cl_context, cl_uint, const cl_device_id *,
                                      const char *, cl_uint, const cl_program *,
                                      void(CL_CALLBACK *)(cl_program, void *),
                                      void *, cl_int *, CARVE__SITE);
cl_int carve__fault_clGetProgramBuildInfo(cl_program, cl_device_id,
                                          cl_program_build_info, size_t, void *,
                                          size_t *, CARVE__SITE);
cl_kernel carve__fault_clCreateKernel(cl_program, const char *, cl_int *,
                                      CARVE__SITE);
cl_int carve__fault_clSetKernelArg(cl_kernel, cl_uint, size_t, const void *,
                                   CARVE__SITE);
cl_int carve__fault_clEnqueueNDRangeKernel(cl_command_queue, cl_kernel, cl_uint,
                                           const size_t *, const size_t *,
                                           const size_t *, cl_uint,
                                           const cl_event *, cl_event *,
                                           CARVE__SITE);
void *carve__fault_clEnqueueMapBuffer(cl_command_queue, cl_mem, cl_bool,
                                      cl_map_flags, size_t, size_t, cl_uint,
                                      const cl_event *, cl_event *, cl_int *,
                                      CARVE__SITE);
cl_int carve__fault_clEnqueueUnmapMemObject(cl_command_queue, cl_mem, void *,
                                            cl_uint, const cl_event *,
                                            cl_event *, CARVE__SITE);
cl_int carve__fault_clFlush(cl_command_queue, CARVE__SITE);
cl_int carve__fault_clFinish(cl_command_queue, CARVE__SITE);
cl_int carve__fault_clWaitForEvents(cl_uint, const cl_event *, CARVE__SITE);
/* counted, never failed: they fail only for invalid objects */
cl_int carve__fault_clRetainContext(cl_context);
cl_int carve__fault_clReleaseContext(cl_context);
cl_int carve__fault_clRetainDevice(cl_device_id);
cl_int carve__fault_clReleaseDevice(cl_device_id);
cl_int carve__fault_clRetainCommandQueue(cl_command_queue);
cl_int carve__fault_clReleaseCommandQueue(cl_command_queue);
cl_int carve__fault_clReleaseMemObject(cl_mem);
cl_int carve__fault_clRetainProgram(cl_program);
cl_int carve__fault_clReleaseProgram(cl_program);
cl_int carve__fault_clReleaseKernel(cl_kernel);
cl_int carve__fault_clReleaseEvent(cl_event);

#ifdef CL_VERSION_2_0
void *carve__fault_clSVMAlloc(cl_context, cl_svm_mem_flags, size_t, cl_uint,
                              CARVE__SITE);
void carve__fault_clSVMFree(cl_context, void *);
cl_int carve__fault_clEnqueueSVMMap(cl_command_queue, cl_bool, cl_map_flags,
                                    void *, size_t, cl_uint, const cl_event *,
                                    cl_event *, CARVE__SITE);
cl_int carve__fault_clEnqueueSVMUnmap(cl_command_queue, void *, cl_uint,
                                      const cl_event *, cl_event *, CARVE__SITE);
cl_int carve__fault_clSetKernelArgSVMPointer(cl_kernel, cl_uint, const void *,
                                             CARVE__SITE);
#endif

#ifndef CARVE_FAULT_DECLARATIONS_ONLY /* the wrappers and tests call the real ones */
#define CARVE__HERE __FILE__, __LINE__
#define malloc(n) carve__fault_malloc((n), CARVE__HERE)
#define calloc(n, s) carve__fault_calloc((n), (s), CARVE__HERE)
#define realloc(p, n) carve__fault_realloc((p), (n), CARVE__HERE)
#define free(p) carve__fault_free(p)
#define mmap(a, n, p, f, d, o) carve__fault_mmap((a), (n), (p), (f), (d), (o), CARVE__HERE)
#define munmap(a, n) carve__fault_munmap((a), (n))
#define memfd_create(n, f) carve__fault_memfd_create((n), (f), CARVE__HERE)
#define ftruncate(fd, n) carve__fault_ftruncate((fd), (n), CARVE__HERE)
#define close(fd) carve__fault_close(fd)
#define fopen(p, m) carve__fault_fopen((p), (m), CARVE__HERE)
#define fclose(f) carve__fault_fclose(f)
#define clGetPlatformIDs(...) carve__fault_clGetPlatformIDs(__VA_ARGS__, CARVE__HERE)
#define clGetPlatformInfo(...) carve__fault_clGetPlatformInfo(__VA_ARGS__, CARVE__HERE)
#define clGetDeviceIDs(...) carve__fault_clGetDeviceIDs(__VA_ARGS__, CARVE__HERE)
#define clGetDeviceInfo(...) carve__fault_clGetDeviceInfo(__VA_ARGS__, CARVE__HERE)
#define clCreateCommandQueue(...) carve__fault_clCreateCommandQueue(__VA_ARGS__, CARVE__HERE)
#define clCreateBuffer(...) carve__fault_clCreateBuffer(__VA_ARGS__, CARVE__HERE)
#define clCreateSubBuffer(...) carve__fault_clCreateSubBuffer(__VA_ARGS__, CARVE__HERE)
#define clSetMemObjectDestructorCallback(...) carve__fault_clSetMemObjectDestructorCallback(__VA_ARGS__, CARVE__HERE)
#define clCreateProgramWithSource(...) carve__fault_clCreateProgramWithSource(__VA_ARGS__, CARVE__HERE)
#define clCompileProgram(...) carve__fault_clCompileProgram(__VA_ARGS__, CARVE__HERE)
#define clLinkProgram(...) carve__fault_clLinkProgram(__VA_ARGS__, CARVE__HERE)
#define clGetProgramBuildInfo(...) carve__fault_clGetProgramBuildInfo(__VA_ARGS__, CARVE__HERE)
#define clCreateKernel(...) carve__fault_clCreateKernel(__VA_ARGS__, CARVE__HERE)
#define clSetKernelArg(...) carve__fault_clSetKernelArg(__VA_ARGS__, CARVE__HERE)
#define clEnqueueNDRangeKernel(...) carve__fault_clEnqueueNDRangeKernel(__VA_ARGS__, CARVE__HERE)
#define clEnqueueMapBuffer(...) carve__fault_clEnqueueMapBuffer(__VA_ARGS__, CARVE__HERE)
#define clEnqueueUnmapMemObject(...) carve__fault_clEnqueueUnmapMemObject(__VA_ARGS__, CARVE__HERE)
#define clFlush(q) carve__fault_clFlush((q), CARVE__HERE)
#define clFinish(q) carve__fault_clFinish((q), CARVE__HERE)
#define clWaitForEvents(...) carve__fault_clWaitForEvents(__VA_ARGS__, CARVE__HERE)
#define clRetainContext(x) carve__fault_clRetainContext(x)
#define clReleaseContext(x) carve__fault_clReleaseContext(x)
#define clRetainDevice(x) carve__fault_clRetainDevice(x)
#define clReleaseDevice(x) carve__fault_clReleaseDevice(x)
#define clRetainCommandQueue(x) carve__fault_clRetainCommandQueue(x)
#define clReleaseCommandQueue(x) carve__fault_clReleaseCommandQueue(x)
#define clReleaseMemObject(x) carve__fault_clReleaseMemObject(x)
#define clRetainProgram(x) carve__fault_clRetainProgram(x)
#define clReleaseProgram(x) carve__fault_clReleaseProgram(x)
#define clReleaseKernel(x) carve__fault_clReleaseKernel(x)
#define clReleaseEvent(x) carve__fault_clReleaseEvent(x)
#ifdef CL_VERSION_2_0
#define clSVMAlloc(...) carve__fault_clSVMAlloc(__VA_ARGS__, CARVE__HERE)
#define clSVMFree(c, p) carve__fault_clSVMFree((c), (p))
#define clEnqueueSVMMap(...) carve__fault_clEnqueueSVMMap(__VA_ARGS__, CARVE__HERE)
#define clEnqueueSVMUnmap(...) carve__fault_clEnqueueSVMUnmap(__VA_ARGS__, CARVE__HERE)
#define clSetKernelArgSVMPointer(...) carve__fault_clSetKernelArgSVMPointer(__VA_ARGS__, CARVE__HERE)
#endif
#endif /* CARVE_FAULT_DECLARATIONS_ONLY */

#endif /* CARVE_FAULT_INJECTION */
#endif /* CARVE_FAULT_H */
