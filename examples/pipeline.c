/*
 * pipeline.c - a camera-style pipeline of the kind written for ARM + DSP
 * SoCs (TI Keystone, AM57x): the host produces frames, the device filters
 * each one and counts its histogram, the host consumes the results.
 *
 * The same pipeline runs twice, over the same ring of RING_DEPTH frame
 * slots, so that host and device overlap (the host fills slot k + 1 and
 * checks slot k - 1 while the device works on slot k):
 *   zero-copy  the slots are carve_zc_malloc allocations in one region;
 *              ownership moves with carve_zc_to_device / carve_zc_to_host,
 *              and the program enqueues no read, write or copy at all;
 *   copy       the usual way: host arrays, clCreateBuffer device buffers,
 *              clEnqueueWriteBuffer in and clEnqueueReadBuffer out.
 * Every frame of both runs is checked against a host computation. The
 * program prints, for each, the bytes moved by the read/write/copy commands
 * it enqueued, and the time.
 */
#include "example_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 4 frames of 128 x 64 under CARVE_QUICK (for a simulator such as Oclgrind) */
#define FRAME_COUNT (example_quick() ? 4u : 48u)
#define FRAME_WIDTH (example_quick() ? 128u : 1024u)
#define FRAME_HEIGHT (example_quick() ? 64u : 512u)
#define FRAME_PIXELS (FRAME_WIDTH * FRAME_HEIGHT)
#define FRAME_BYTES (FRAME_PIXELS * sizeof(uint16_t)) /* 1 MiB */
#define SAMPLE_BITS 12u                               /* a 12-bit sensor */
#define BIN_COUNT 256u
#define BIN_SHIFT (SAMPLE_BITS - 8u)
#define HISTOGRAM_BYTES (BIN_COUNT * sizeof(uint32_t))
#define RING_DEPTH 3u
#define MAX_REPORTED_MISMATCHES 3u

#define STRINGIFY(x) #x
#define EXPANDED_STRING(x) STRINGIFY(x)

/* A 3x3 binomial smoothing ([1 2 1] x [1 2 1] / 16, edges clamped) and a
 * histogram of the smoothed samples, counted per work-group in local memory
 * and added to the frame's histogram once per bin. Integer arithmetic, so
 * the host's reference gives the very same numbers. */
static const char kernel_source[] =
    "#define BIN_COUNT " EXPANDED_STRING(BIN_COUNT) "\n"
    "#define BIN_SHIFT " EXPANDED_STRING(BIN_SHIFT) "\n"
    "\n"
    "kernel void smooth_and_count(global const ushort *in,\n"
    "                             global ushort *out,\n"
    "                             global uint *histogram,\n"
    "                             uint width, uint height)\n"
    "{\n"
    "    local uint counts[BIN_COUNT];\n"
    "    uint x = get_global_id(0), y = get_global_id(1);\n"
    "    uint lane = get_local_id(1) * get_local_size(0) + get_local_id(0);\n"
    "    uint lanes = get_local_size(0) * get_local_size(1);\n"
    "    for (uint b = lane; b < BIN_COUNT; b += lanes)\n"
    "        counts[b] = 0;\n"
    "    barrier(CLK_LOCAL_MEM_FENCE);\n"
    "\n"
    "    uint left = x > 0 ? x - 1 : 0, right = x + 1 < width ? x + 1 : x;\n"
    "    uint up = y > 0 ? y - 1 : 0, down = y + 1 < height ? y + 1 : y;\n"
    "    global const ushort *r0 = in + up * width;\n"
    "    global const ushort *r1 = in + y * width;\n"
    "    global const ushort *r2 = in + down * width;\n"
    "    uint sum = r0[left] + 2 * r0[x] + r0[right]\n"
    "             + 2 * (r1[left] + 2 * r1[x] + r1[right])\n"
    "             + r2[left] + 2 * r2[x] + r2[right];\n"
    "    ushort smoothed = (ushort)((sum + 8) >> 4);\n"
    "    out[y * width + x] = smoothed;\n"
    "    atomic_inc(&counts[smoothed >> BIN_SHIFT]);\n"
    "\n"
    "    barrier(CLK_LOCAL_MEM_FENCE);\n"
    "    for (uint b = lane; b < BIN_COUNT; b += lanes)\n"
    "        if (counts[b] != 0)\n"
    "            atomic_add(&histogram[b], counts[b]);\n"
    "}\n";

/* ---- what the host computes ------------------------------------------------ */

static uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* Frame `index`: a gradient that drifts from frame to frame, plus sensor
 * noise. Deterministic, so a failure can be reproduced; always 12-bit. */
static void produce_frame(uint32_t index, uint16_t *samples)
{
    uint32_t x, y;
    for (y = 0; y < FRAME_HEIGHT; ++y) {
        for (x = 0; x < FRAME_WIDTH; ++x) {
            uint32_t drift = (x + 16u * index) % FRAME_WIDTH;
            uint32_t level = drift * 2048u / FRAME_WIDTH +
                             y * 1024u / FRAME_HEIGHT;
            uint32_t noise =
                mix32(index * FRAME_PIXELS + y * FRAME_WIDTH + x) & 1023u;
            samples[y * FRAME_WIDTH + x] = (uint16_t)(level + noise);
        }
    }
}

static uint16_t smooth_at(const uint16_t *in, uint32_t x, uint32_t y)
{
    uint32_t left = x > 0 ? x - 1 : 0;
    uint32_t right = x + 1 < FRAME_WIDTH ? x + 1 : x;
    const uint16_t *r0 = in + (y > 0 ? y - 1 : 0) * FRAME_WIDTH;
    const uint16_t *r1 = in + y * FRAME_WIDTH;
    const uint16_t *r2 = in + (y + 1 < FRAME_HEIGHT ? y + 1 : y) * FRAME_WIDTH;
    uint32_t sum = r0[left] + 2u * r0[x] + r0[right] +
                   2u * (r1[left] + 2u * r1[x] + r1[right]) + r2[left] +
                   2u * r2[x] + r2[right];
    return (uint16_t)((sum + 8u) >> 4);
}

/* Checks one frame's results against the host's own filter and histogram.
 * Returns 1 if every sample and every bin matches; otherwise reports the
 * first difference (for the first few bad frames only) and returns 0. */
static int frame_matches(const char *who, uint32_t index, const uint16_t *in,
                         const uint16_t *out, const uint32_t *histogram,
                         uint32_t *frames_reported)
{
    uint32_t expected[BIN_COUNT] = {0};
    uint32_t x, y, b;
    const char *what = NULL;
    uint32_t at = 0, got = 0, want = 0;
    for (y = 0; y < FRAME_HEIGHT; ++y) {
        for (x = 0; x < FRAME_WIDTH; ++x) {
            uint16_t smoothed = smooth_at(in, x, y);
            ++expected[smoothed >> BIN_SHIFT];
            if (what == NULL && out[y * FRAME_WIDTH + x] != smoothed) {
                what = "sample";
                at = y * FRAME_WIDTH + x;
                got = out[at];
                want = smoothed;
            }
        }
    }
    for (b = 0; b < BIN_COUNT && what == NULL; ++b) {
        if (histogram[b] != expected[b]) {
            what = "histogram bin";
            at = b;
            got = histogram[b];
            want = expected[b];
        }
    }
    if (what == NULL)
        return 1;
    if ((*frames_reported)++ < MAX_REPORTED_MISMATCHES)
        printf("%s: frame %u: %s %u is %u, expected %u\n", who, index, what,
               at, got, want);
    return 0;
}

/* ---- two ways to move a frame through the device ------------------------------ */

typedef struct pipeline pipeline;

/* One way of getting frames to the device and results back. The host
 * writes frame samples to input[slot], calls launch(slot); after
 * collect(slot) it reads output[slot] and histogram[slot]. */
typedef struct transport {
    const char *name;
    carve_status (*launch)(pipeline *p, uint32_t slot);
    carve_status (*collect)(pipeline *p, uint32_t slot);
    uint16_t *input[RING_DEPTH];
    uint16_t *output[RING_DEPTH];
    uint32_t *histogram[RING_DEPTH];
} transport;

struct pipeline {
    example_opencl cl;
    cl_program program;
    cl_kernel kernel;
    size_t local_size[2];
    transport *transport;
    cl_event finished[RING_DEPTH]; /* the last command of each slot */
    /* Bytes of every read, write and copy command enqueued. */
    uint64_t bytes_copied;
    /* The zero-copy transport's memory. */
    carve_region *region;
    /* The copying transport's memory. */
    cl_mem device_input[RING_DEPTH];
    cl_mem device_output[RING_DEPTH];
    cl_mem device_histogram[RING_DEPTH];
};

static carve_status enqueue_filter(pipeline *p, cl_event *finished)
{
    const size_t global_size[2] = {FRAME_WIDTH, FRAME_HEIGHT};
    const cl_uint width = FRAME_WIDTH, height = FRAME_HEIGHT;
    carve_status status = clSetKernelArg(p->kernel, 3, sizeof width, &width);
    if (status == CARVE_SUCCESS)
        status = clSetKernelArg(p->kernel, 4, sizeof height, &height);
    if (status == CARVE_SUCCESS)
        status = clEnqueueNDRangeKernel(p->cl.queue, p->kernel, 2, NULL,
                                        global_size, p->local_size, 0, NULL,
                                        finished);
    return status;
}

static void release_event(cl_event *event)
{
    if (*event != NULL)
        clReleaseEvent(*event);
    *event = NULL;
}

/* Zero-copy: the device works on the slot's own memory. */
static carve_status zero_copy_launch(pipeline *p, uint32_t slot)
{
    transport *t = p->transport;
    carve_status status;
    memset(t->histogram[slot], 0, HISTOGRAM_BYTES);
    status = carve_zc_to_device(t->input[slot], 0);
    if (status == CARVE_SUCCESS)
        status = carve_zc_to_device(t->output[slot], 0);
    if (status == CARVE_SUCCESS)
        status = carve_zc_to_device(t->histogram[slot], 0);
    if (status == CARVE_SUCCESS)
        status = carve_zc_set_arg(p->kernel, 0, t->input[slot]);
    if (status == CARVE_SUCCESS)
        status = carve_zc_set_arg(p->kernel, 1, t->output[slot]);
    if (status == CARVE_SUCCESS)
        status = carve_zc_set_arg(p->kernel, 2, t->histogram[slot]);
    if (status == CARVE_SUCCESS)
        status = enqueue_filter(p, &p->finished[slot]);
    if (status == CARVE_SUCCESS)
        status = clFlush(p->cl.queue);
    return status;
}

static carve_status zero_copy_collect(pipeline *p, uint32_t slot)
{
    transport *t = p->transport;
    carve_status status = carve_zc_to_host(t->input[slot], 0, 1,
                                           &p->finished[slot]);
    if (status == CARVE_SUCCESS)
        status = carve_zc_to_host(t->output[slot], 0, 1, &p->finished[slot]);
    if (status == CARVE_SUCCESS)
        status =
            carve_zc_to_host(t->histogram[slot], 0, 1, &p->finished[slot]);
    release_event(&p->finished[slot]);
    return status;
}

/* Copying: every command that moves bytes is counted here. */
static carve_status enqueue_write(pipeline *p, cl_mem buffer, size_t bytes,
                                  const void *from)
{
    p->bytes_copied += bytes;
    return clEnqueueWriteBuffer(p->cl.queue, buffer, CL_FALSE, 0, bytes, from,
                                0, NULL, NULL);
}

static carve_status enqueue_read(pipeline *p, cl_mem buffer, size_t bytes,
                                 void *to, cl_event *finished)
{
    p->bytes_copied += bytes;
    return clEnqueueReadBuffer(p->cl.queue, buffer, CL_FALSE, 0, bytes, to, 0,
                               NULL, finished);
}

static carve_status copy_launch(pipeline *p, uint32_t slot)
{
    static const uint32_t empty_histogram[BIN_COUNT];
    transport *t = p->transport;
    carve_status status = enqueue_write(p, p->device_input[slot], FRAME_BYTES,
                                        t->input[slot]);
    if (status == CARVE_SUCCESS)
        status = enqueue_write(p, p->device_histogram[slot], HISTOGRAM_BYTES,
                               empty_histogram);
    if (status == CARVE_SUCCESS)
        status = clSetKernelArg(p->kernel, 0, sizeof(cl_mem),
                                &p->device_input[slot]);
    if (status == CARVE_SUCCESS)
        status = clSetKernelArg(p->kernel, 1, sizeof(cl_mem),
                                &p->device_output[slot]);
    if (status == CARVE_SUCCESS)
        status = clSetKernelArg(p->kernel, 2, sizeof(cl_mem),
                                &p->device_histogram[slot]);
    if (status == CARVE_SUCCESS)
        status = enqueue_filter(p, NULL);
    /* The queue runs in order: when the last read is done, so is the rest
     * of the slot's work, and the host may refill input[slot]. */
    if (status == CARVE_SUCCESS)
        status = enqueue_read(p, p->device_output[slot], FRAME_BYTES,
                              t->output[slot], NULL);
    if (status == CARVE_SUCCESS)
        status = enqueue_read(p, p->device_histogram[slot], HISTOGRAM_BYTES,
                              t->histogram[slot], &p->finished[slot]);
    if (status == CARVE_SUCCESS)
        status = clFlush(p->cl.queue);
    return status;
}

static carve_status copy_collect(pipeline *p, uint32_t slot)
{
    carve_status status = clWaitForEvents(1, &p->finished[slot]);
    release_event(&p->finished[slot]);
    return status;
}

/* ---- the pipeline ---------------------------------------------------------- */

static double seconds_now(void)
{
    struct timespec t;
    timespec_get(&t, TIME_UTC);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct run_result {
    int warm_up_verified;
    uint32_t frames;
    uint32_t frames_verified;
    uint64_t bytes_copied;
    double seconds;
} run_result;

/* Runs `frames` frames through the ring with p->transport: frame f goes
 * into slot f % RING_DEPTH, and is collected and checked RING_DEPTH - 1
 * frames later, so that up to RING_DEPTH frames are in flight. */
static carve_status run_frames(pipeline *p, uint32_t frames, run_result *r)
{
    transport *t = p->transport;
    uint32_t step, reported = 0;
    carve_status status = CARVE_SUCCESS;
    double start = seconds_now();
    memset(r, 0, sizeof *r);
    p->bytes_copied = 0;
    for (step = 0; step < frames + RING_DEPTH - 1 && status == CARVE_SUCCESS;
         ++step) {
        if (step < frames) {
            uint32_t slot = step % RING_DEPTH;
            produce_frame(step, t->input[slot]);
            status = t->launch(p, slot);
            r->frames += status == CARVE_SUCCESS;
        }
        if (status == CARVE_SUCCESS && step >= RING_DEPTH - 1) {
            uint32_t done = step - (RING_DEPTH - 1), slot = done % RING_DEPTH;
            status = t->collect(p, slot);
            if (status == CARVE_SUCCESS)
                r->frames_verified +=
                    (uint32_t)frame_matches(t->name, done, t->input[slot],
                                            t->output[slot],
                                            t->histogram[slot], &reported);
        }
    }
    r->seconds = seconds_now() - start;
    r->bytes_copied = p->bytes_copied;
    if (status != CARVE_SUCCESS) {
        uint32_t slot;
        clFinish(p->cl.queue); /* nothing may still use the slots */
        for (slot = 0; slot < RING_DEPTH; ++slot)
            release_event(&p->finished[slot]);
    }
    return status;
}

/* One untimed frame first, so that neither timing includes the device
 * compiler's work on a kernel's first launch (PoCL compiles then). */
static carve_status run_transport(pipeline *p, transport *t, run_result *r)
{
    run_result warm_up;
    carve_status status;
    p->transport = t;
    status = run_frames(p, 1, &warm_up);
    if (status == CARVE_SUCCESS)
        status = run_frames(p, FRAME_COUNT, r);
    r->warm_up_verified = warm_up.frames_verified == 1;
    return status;
}

static carve_status zero_copy_slots(pipeline *p, transport *t)
{
    carve_region_params params = {0};
    carve_region_info info;
    carve_status status;
    uint32_t slot;
    params.backend = CARVE_BACKEND_AUTO;
    /* The ring, plus room for rounding each allocation to the alignment. */
    params.bytes = RING_DEPTH * (2 * FRAME_BYTES + HISTOGRAM_BYTES) + 65536;
    params.name = "frames";
    status = carve_region_create(p->cl.context, p->cl.device, &params,
                                 &p->region);
    if (status != CARVE_SUCCESS)
        return status;
    for (slot = 0; slot < RING_DEPTH; ++slot) {
        t->input[slot] = carve_zc_malloc(p->region, FRAME_BYTES);
        t->output[slot] = carve_zc_malloc(p->region, FRAME_BYTES);
        t->histogram[slot] = carve_zc_malloc(p->region, HISTOGRAM_BYTES);
        if (!t->input[slot] || !t->output[slot] || !t->histogram[slot])
            return carve_zc_last_status();
    }
    status = carve_region_get_info(p->region, &info);
    if (status != CARVE_SUCCESS)
        return status;
    printf("zero-copy region: %llu bytes, backend %s; zero-copy %s (%s)\n",
           (unsigned long long)info.bytes, info.backend_name,
           info.zero_copy_verified ? "verified" : "NOT shown",
           info.zero_copy_evidence);
    if (!info.zero_copy_verified)
        printf("the program enqueues no copies, but this platform may copy "
               "behind the scenes\n");
    return CARVE_SUCCESS;
}

static carve_status copy_slots(pipeline *p, transport *t)
{
    carve_status status = CARVE_SUCCESS;
    uint32_t slot;
    for (slot = 0; slot < RING_DEPTH && status == CARVE_SUCCESS; ++slot) {
        t->input[slot] = malloc(FRAME_BYTES);
        t->output[slot] = malloc(FRAME_BYTES);
        t->histogram[slot] = malloc(HISTOGRAM_BYTES);
        if (!t->input[slot] || !t->output[slot] || !t->histogram[slot])
            return CARVE_ERROR_OUT_OF_HOST_MEMORY;
        p->device_input[slot] = clCreateBuffer(
            p->cl.context, CL_MEM_READ_ONLY, FRAME_BYTES, NULL, &status);
        if (status == CARVE_SUCCESS)
            p->device_output[slot] = clCreateBuffer(
                p->cl.context, CL_MEM_WRITE_ONLY, FRAME_BYTES, NULL, &status);
        if (status == CARVE_SUCCESS)
            p->device_histogram[slot] =
                clCreateBuffer(p->cl.context, CL_MEM_READ_WRITE,
                               HISTOGRAM_BYTES, NULL, &status);
    }
    return status;
}

static void release_copy_slots(pipeline *p, transport *t)
{
    uint32_t slot;
    for (slot = 0; slot < RING_DEPTH; ++slot) {
        free(t->input[slot]);
        free(t->output[slot]);
        free(t->histogram[slot]);
        if (p->device_input[slot] != NULL)
            clReleaseMemObject(p->device_input[slot]);
        if (p->device_output[slot] != NULL)
            clReleaseMemObject(p->device_output[slot]);
        if (p->device_histogram[slot] != NULL)
            clReleaseMemObject(p->device_histogram[slot]);
    }
}

/* A work-group of up to 64 x 1: it divides the frame's width (a power of
 * two), and every device allows it or a smaller power of two. */
static carve_status choose_local_size(pipeline *p)
{
    size_t most = 0;
    carve_status status = clGetKernelWorkGroupInfo(
        p->kernel, p->cl.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof most, &most,
        NULL);
    p->local_size[0] = 64;
    p->local_size[1] = 1;
    while (status == CARVE_SUCCESS && p->local_size[0] > most &&
           p->local_size[0] > 1)
        p->local_size[0] /= 2;
    return status;
}

static void print_result(const transport *t, const run_result *r)
{
    printf("  %-34s %6u %9u %14llu %9.3f %9.1f\n", t->name, r->frames,
           r->frames_verified, (unsigned long long)r->bytes_copied, r->seconds,
           r->seconds > 0 ? r->frames / r->seconds : 0.0);
}

int main(void)
{
    pipeline p;
    transport zero_copy = {"zero-copy (carve_zc_malloc)", zero_copy_launch,
                           zero_copy_collect, {0}, {0}, {0}};
    transport copying = {"copy (clEnqueueWrite/ReadBuffer)", copy_launch,
                         copy_collect, {0}, {0}, {0}};
    run_result zero_copy_run = {0}, copy_run = {0};
    int passed = 0;
    carve_status status;
    memset(&p, 0, sizeof p);
    status = example_opencl_open(&p.cl);
    if (status != CARVE_SUCCESS) {
        example_opencl_close(&p.cl);
        return status == CARVE_ERROR_NO_DEVICE ? example_no_device_exit() : 1;
    }
    printf("pipeline: %u frames of %u x %u %u-bit samples (%.1f MiB each), "
           "a ring of %u slots;\nkernel: 3x3 smoothing and a %u-bin histogram "
           "per frame, every frame checked on the host\n",
           FRAME_COUNT, FRAME_WIDTH, FRAME_HEIGHT, SAMPLE_BITS,
           (double)FRAME_BYTES / (1024.0 * 1024.0), RING_DEPTH, BIN_COUNT);
    EXAMPLE_CHECK(example_kernel_build(&p.cl, kernel_source,
                                       "smooth_and_count", &p.program,
                                       &p.kernel));
    EXAMPLE_CHECK(choose_local_size(&p));
    EXAMPLE_CHECK(zero_copy_slots(&p, &zero_copy));
    EXAMPLE_CHECK(copy_slots(&p, &copying));
    EXAMPLE_CHECK(run_transport(&p, &zero_copy, &zero_copy_run));
    EXAMPLE_CHECK(run_transport(&p, &copying, &copy_run));

    printf("  %-34s %6s %9s %14s %9s %9s\n", "", "frames", "verified",
           "bytes copied", "seconds", "frames/s");
    print_result(&zero_copy, &zero_copy_run);
    print_result(&copying, &copy_run);
    if (copy_run.seconds > 0)
        printf("zero-copy took %.2fx the time of copying\n",
               zero_copy_run.seconds / copy_run.seconds);
    passed = zero_copy_run.warm_up_verified && copy_run.warm_up_verified &&
             zero_copy_run.frames_verified == FRAME_COUNT &&
             copy_run.frames_verified == FRAME_COUNT &&
             zero_copy_run.bytes_copied == 0;

cleanup:
    if (p.cl.queue != NULL)
        clFinish(p.cl.queue);
    carve_region_release(p.region); /* frees the zero-copy slots too */
    release_copy_slots(&p, &copying);
    if (p.kernel != NULL)
        clReleaseKernel(p.kernel);
    if (p.program != NULL)
        clReleaseProgram(p.program);
    example_opencl_close(&p.cl);
    if (status == CARVE_SUCCESS)
        printf("%s\n", passed ? "PASSED" : "FAILED");
    return status == CARVE_SUCCESS && passed ? 0 : 1;
}
