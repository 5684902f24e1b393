/*
 * ti_internal.h - what the files of host/ti/ share: the pins that keep a
 * tier's allocation alive while CL_MEM_USE_HOST_PTR buffers use it.
 * Not installed.
 */
#ifndef CARVE_TI_INTERNAL_H
#define CARVE_TI_INTERNAL_H

#include "carve_internal.h"
#include "carve/ti_sdk.h"

/* Records one more live buffer over the tier allocation holding host_ptr
 * (its start or an inner byte) and sets *start to that allocation's start,
 * for carve__ti_unpin when the buffer goes. `owned`: the allocation is the
 * layer's own (an MSMC buffer's), freed when its last buffer goes. Memory
 * that is no tier's sets *start to NULL and succeeds. Fails with
 * OUT_OF_HOST_MEMORY, recording nothing. Thread-safe. */
carve_status carve__ti_pin(const void *host_ptr, cl_mem buffer, int owned,
                           void **start);

/* A buffer over the allocation at `start` is gone: when it was the last,
 * an allocation freed meanwhile (or owned) is given back to its tier.
 * Thread-safe; called from the runtime's destructor callbacks. */
void carve__ti_unpin(void *start);

#endif /* CARVE_TI_INTERNAL_H */
