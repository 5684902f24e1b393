/*
 * split_internal.h - what the files of host/split/ share. Not installed.
 *   split_plan.c         dividing an NDRange over devices (pure)
 *   split.c              carving the slices, launching, handing back
 *   split_diagnostics.c  statistics, check, report and fit over slices
 */
#ifndef CARVE_SPLIT_INTERNAL_H
#define CARVE_SPLIT_INTERNAL_H

#include "carve_internal.h"
#include "carve/split.h"

struct carve_split {
    carve_split_plan plan;
    cl_uint count;
    cl_device_id devices[CARVE_SPLIT_MAX_DEVICES];
    cl_command_queue queues[CARVE_SPLIT_MAX_DEVICES];
    carve_set *sets[CARVE_SPLIT_MAX_DEVICES];
    /* The region holding every slice, or NULL: each set has its own. */
    carve_region *shared_region;
    int zero_copy_verified;
    char why[200];
    cl_uint failed_slice;
    char message[400];
};

/* Whether `plan` is one carve_split_plan_compute accepted, unchanged in
 * what the slices' sets rely on. */
int carve__split_plan_usable(const carve_split_plan *plan);

#endif /* CARVE_SPLIT_INTERNAL_H */
