/* Uses the installed headers and library: plans a launch and splits it
 * over two devices (no device needed), checks the device header was
 * installed beside the host one, the diagnostics and split headers too, and
 * that the library's version is the headers'. */
#include <carve/carve.h>
#include <carve/diagnostics.h>
#include <carve/split.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    carve_plan_params params;
    carve_device_limits limits = {1u << 30, 1u << 31, 128};
    carve_plan plan;
    carve_split_params split_params;
    carve_device_limits two[2];
    static carve_split_plan split;
    size_t length = 0;
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", CARVE_VERSION_MAJOR,
             CARVE_VERSION_MINOR, CARVE_VERSION_PATCH);
    memset(&params, 0, sizeof params);
    params.work_dim = 1;
    params.global_size[0] = 1024;
    params.arena_bytes = 512;
    memset(&split_params, 0, sizeof split_params);
    split_params.plan = params;
    split_params.device_count = 2;
    two[0] = two[1] = limits;
    if (carve_plan_compute(&params, &limits, &plan) != CARVE_SUCCESS ||
        carve_split_plan_compute(&split_params, two, &split) != CARVE_SUCCESS ||
        split.slices[1].first_arena != 512 ||
        carve_device_source("carve.clh", &length) == NULL || length == 0 ||
        strncmp(carve_status_string(CARVE_ERROR_BAD_LOG),
                "CARVE_ERROR_BAD_LOG", 19) != 0 ||
        strcmp(carve_version(), version) != 0) {
        fputs("consumer: the installed carve does not work\n", stderr);
        return 1;
    }
    printf("consumer: planned %u arenas with the installed carve %s\n",
           plan.arena_count, carve_version());
    return 0;
}
