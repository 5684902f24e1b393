/*
 * free_refused.h - carve_free as a kernel calls it, with what it recorded,
 * for host tests and fuzzers that drive the kernels' own calls.
 */
#ifndef CARVE_TEST_FREE_REFUSED_H
#define CARVE_TEST_FREE_REFUSED_H

#include "carve_calls.h"

/* Frees p through carve_alloc_free (what carve_free expands to) and
 * returns the CARVE_MISUSE_* of the refusal it recorded, or
 * CARVE_MISUSE_NONE when p was freed (or NULL). Each call records under a
 * site of its own, so the refusal found is this call's. For plans
 * without checks (with checks a damaged redzone is recorded though the
 * block is freed) and arenas not yet marked corrupt (a free on one is
 * logged without a misuse site). */
static inline carve_u32 free_refused(carve_arena *a, void *p)
{
    static carve_u32 calls;
    carve_u32 site = 0x800000u | (++calls & 0x7fffffu);
    carve_alloc_free(a, p, site);
    return a->state != 0 && a->state->misuse_site == site
               ? a->state->last_misuse
               : CARVE_MISUSE_NONE;
}

#endif /* CARVE_TEST_FREE_REFUSED_H */
