/*
 * probe.c - proof of zero-copy: a one-work-item kernel increments a word
 * the host wrote in the region and reports the address it saw. The region
 * is zero-copy when the device worked on the host's own pages.
 */
#include "region_internal.h"

#include <time.h>
#include "fault.h" /* last: test builds wrap the calls above */

/* Gives r a built probe program: the one a live region of the same
 * context and device has, else a new build. */
static carve_status ready_probe_program(carve_region *r)
{
    cl_program program = carve__shared_probe_program(r);
    carve_status status = CARVE_SUCCESS;
    if (program == NULL)
        status = carve_program_build(
            r->context, r->device, carve_device_source("carve_probe.cl", NULL),
            NULL, &program, NULL);
    if (status == CARVE_SUCCESS)
        carve__share_probe_program(r, program);
    return status;
}

/* Runs the probe kernel of `program` on `queue`: whether the device
 * worked on r's own pages, and where it saw them. */
static carve_status run_probe(carve_region *r, cl_command_queue queue,
                              cl_program program, int *verified,
                              uint64_t *device_address)
{
    uint32_t *words;
    uint64_t expected, words_offset;
    cl_kernel kernel = NULL;
    cl_event done = NULL;
    size_t one = 1;
    uint32_t nonce = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)queue;
    carve_status status;

    words = carve_zc_malloc(r, 16);
    if (words == NULL)
        return carve_zc_last_status();
    words[0] = nonce;
    words[1] = 0;
    words_offset = (uint64_t)((unsigned char *)words - r->host_base);
    expected = (uint64_t)(uintptr_t)(r->device_view != NULL ? r->device_view
                                                            : r->host_base) +
               words_offset;
    kernel = clCreateKernel(program, "carve_probe_words", &status);
    if (status == CARVE_SUCCESS)
        status = carve_zc_set_arg(kernel, 0, words);
    if (status == CARVE_SUCCESS)
        status = carve_zc_to_device(words, 0);
    if (status == CARVE_SUCCESS)
        status = clEnqueueNDRangeKernel(queue, kernel, 1, NULL, &one, NULL, 0,
                                        NULL, &done);
    if (status == CARVE_SUCCESS)
        status = carve_zc_to_host(words, 0, 1, &done);
    if (status == CARVE_SUCCESS && words[1] != nonce + 1u)
        status = CARVE_ERROR_PROBE_FAILED;
    if (status == CARVE_SUCCESS) {
        *device_address = (((uint64_t)words[3] << 32) | words[2]) -
                          words_offset;
        *verified = *device_address + words_offset == expected;
    }
    /* A probe that went out must be over before its words are freed
     * (under the coherence check that protects them from the device),
     * even when taking them back failed. */
    if (done != NULL && status != CARVE_SUCCESS)
        clFinish(queue); /* recovery: reached only after a failure */
    if (done != NULL)
        clReleaseEvent(done);
    if (kernel != NULL)
        clReleaseKernel(kernel);
    carve_zc_free(r, words);
    return status;
}

static carve_status probe(carve_region *r)
{
    carve_status status = ready_probe_program(r);
    if (status == CARVE_SUCCESS)
        status = run_probe(r, r->queue, r->probe_program,
                           &r->zero_copy_verified, &r->device_address);
    if (status == CARVE_SUCCESS)
        carve__message(r->evidence, sizeof r->evidence,
                       r->zero_copy_verified
                           ? "the probe kernel worked on the region's own "
                             "pages (device address %#llx)"
                           : "the device saw the region at %#llx, not at "
                             "the host's pages: not shown to be zero-copy",
                       (unsigned long long)r->device_address);
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

carve_status carve__region_probe(carve_region *r)
{
    carve_status status = probe(r);
    return status == CARVE_SUCCESS ? forget_probe(r) : status;
}

carve_status carve__region_probe_device(carve_region *r, cl_device_id device,
                                        int *zero_copy)
{
    cl_program program = NULL;
    cl_command_queue queue = NULL;
    uint64_t address = 0;
    carve_status status;
    *zero_copy = 0;
    queue = clCreateCommandQueue(r->context, device, 0, &status);
    if (status == CARVE_SUCCESS)
        status = carve_program_build(r->context, device,
                                     carve_device_source("carve_probe.cl", NULL),
                                     NULL, &program, NULL);
    if (status == CARVE_SUCCESS)
        status = run_probe(r, queue, program, zero_copy, &address);
    /* The device must see the pages where the region's own device does:
     * kernel arguments are the same sub-buffers or pointers for both. */
    if (status == CARVE_SUCCESS && address != r->device_address)
        *zero_copy = 0;
    if (program != NULL)
        clReleaseProgram(program);
    if (queue != NULL)
        clReleaseCommandQueue(queue);
    return status == CARVE_SUCCESS ? forget_probe(r) : status;
}
