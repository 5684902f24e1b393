/* opencl.c - finding platforms and devices, and naming where they stand. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cl_platform_id *cli_platforms(cl_uint *count)
{
    cl_platform_id *platforms;
    *count = 0;
    if (clGetPlatformIDs(0, NULL, count) != CL_SUCCESS || *count == 0) {
        *count = 0;
        return NULL;
    }
    platforms = malloc(*count * sizeof *platforms);
    if (platforms == NULL ||
        clGetPlatformIDs(*count, platforms, NULL) != CL_SUCCESS) {
        free(platforms);
        *count = 0;
        return NULL;
    }
    return platforms;
}

cl_device_id *cli_platform_devices(cl_platform_id platform, cl_uint *count)
{
    cl_device_id *devices;
    *count = 0;
    if (clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 0, NULL, count) !=
            CL_SUCCESS ||
        *count == 0) {
        *count = 0;
        return NULL;
    }
    devices = malloc(*count * sizeof *devices);
    if (devices == NULL ||
        clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, *count, devices, NULL) !=
            CL_SUCCESS) {
        free(devices);
        *count = 0;
        return NULL;
    }
    return devices;
}

/* Fills place with where `device` stands; 0 if it is in no platform's list. */
static int locate_device(cl_device_id device, cli_device_place *place)
{
    cl_uint platform_count, device_count, p, d;
    cl_platform_id *platforms = cli_platforms(&platform_count);
    int found = 0;
    for (p = 0; p < platform_count && !found; ++p) {
        cl_device_id *devices = cli_platform_devices(platforms[p],
                                                     &device_count);
        for (d = 0; d < device_count && !found; ++d) {
            if (devices[d] == device) {
                snprintf(place->label, sizeof place->label, "%u:%u", p, d);
                found = 1;
            }
        }
        free(devices);
    }
    free(platforms);
    return found;
}

int cli_find_device(const cli_command *command, const char *selector,
                    cl_device_id *device, cli_device_place *place)
{
    const char *chosen = selector ? selector : getenv("CARVE_DEVICE");
    memset(place, 0, sizeof *place);
    if (carve_device_find(selector, device) != CARVE_SUCCESS) {
        fflush(stdout);
        if (chosen != NULL && chosen[0] != '\0')
            fprintf(stderr,
                    "carve %s: no OpenCL device matches %s\"%s\" (see "
                    "'carve devices')\n",
                    command->name, selector ? "--device " : "CARVE_DEVICE=",
                    chosen);
        else
            fprintf(stderr, "carve %s: no OpenCL device found\n",
                    command->name);
        return CLI_EXIT_NO_DEVICE;
    }
    if (clGetDeviceInfo(*device, CL_DEVICE_NAME, sizeof place->name,
                        place->name, NULL) != CL_SUCCESS)
        snprintf(place->name, sizeof place->name, "(unnamed)");
    place->name[sizeof place->name - 1] = '\0';
    if (!locate_device(*device, place)) /* the lists changed meanwhile */
        snprintf(place->label, sizeof place->label, "?:?");
    return CLI_CONTINUE;
}
