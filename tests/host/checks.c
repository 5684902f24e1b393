/*
 * checks.c - redzones, the error log and the event log of the front
 * (kernels/carve_alloc.h), run on the host: planted writes past the end of
 * arena blocks, heap slots and large heap blocks are found at free with the
 * block, the allocating and the freeing site; the error log keeps the first
 * records and counts the rest; the event log records every call in order.
 */
#include "core_fixture.h"

static carve_plan_params checked_params(uint32_t error_records,
                                        uint32_t event_records)
{
    carve_plan_params p;
    memset(&p, 0, sizeof p);
    p.arena_count = 4;
    p.arena_bytes = 1024;
    p.heap_bytes = 64 * 1024;
    p.options = CARVE_PLAN_CHECKS;
    p.error_log_records = error_records;
    p.event_log_records = event_records;
    return p;
}

static const carve_set_header *header(const core_fixture *f)
{
    return (const carve_set_header *)f->image;
}

static const carve_error_record *error_at(const core_fixture *f, uint32_t i)
{
    return (const carve_error_record *)(f->image + header(f)->error_offset) +
           i;
}

static const carve_event_record *event_at(const core_fixture *f, uint32_t i)
{
    return (const carve_event_record *)(f->image + header(f)->event_offset) +
           i;
}

static uint32_t offset_of(const core_fixture *f, const void *p)
{
    return (uint32_t)((const unsigned char *)p - f->image);
}

/* Allocates `bytes` at site 100 + bytes, writes one byte at `poke` (past
 * the end), frees at site 200, and expects an OVERFLOW record naming the
 * block, both sites and the damaged byte. */
static void plant_overflow(core_fixture *f, carve_arena *a, uint32_t bytes,
                           uint32_t poke, int redzone_hit)
{
    uint32_t before = header(f)->error_count;
    unsigned char *p = carve_alloc_malloc(a, bytes, 16, 100 + bytes);
    const carve_error_record *r;
    REQUIRE_OK(p != NULL ? CARVE_SUCCESS : CARVE_ERROR_INVALID_ARGUMENT);
    EXPECT(carve_alloc_usable_size(a, p, 1) == bytes);
    memset(p, 0x11, bytes); /* writes inside are fine */
    p[poke] ^= 0xff;
    carve_alloc_free(a, p, 200);
    EXPECT(header(f)->error_count == before + 1);
    r = error_at(f, before);
    EXPECT(r->kind == CARVE_MISUSE_OVERFLOW && r->call == CARVE_CALL_FREE);
    EXPECT(r->arena == a->index && r->site == 200);
    EXPECT(r->offset == offset_of(f, p));
    EXPECT(r->detail == poke);
    if (redzone_hit) { /* the size and site were in the damaged granule */
        EXPECT(r->bytes == 0 && r->alloc_site == 0);
    } else {
        EXPECT(r->bytes == bytes && r->alloc_site == 100 + bytes);
    }
    EXPECT(a->state->last_misuse == CARVE_MISUSE_OVERFLOW &&
           a->state->misuse_site == 200);
    /* The block is freed all the same, and nothing else broke. */
    EXPECT(carve_layout_check(f->image, NULL, NULL) == CARVE_SUCCESS);
}

static void test_overflows(void)
{
    carve_plan_params params = checked_params(0, 0);
    core_fixture f = fixture_make_params(&params);
    carve_arena a = fixture_open(&f, 2);
    plant_overflow(&f, &a, 20, 20, 0);   /* arena: the canary after 20 B */
    plant_overflow(&f, &a, 20, 31, 0);   /* the canary's last byte */
    plant_overflow(&f, &a, 32, 32, 1);   /* arena: straight into the redzone */
    plant_overflow(&f, &a, 300, 300, 0); /* heap slot (384 B) */
    plant_overflow(&f, &a, 300, 367, 0); /* the slot's last canary byte */
    plant_overflow(&f, &a, 5000, 5000, 0); /* two heap pages */
    plant_overflow(&f, &a, 5000, 5008, 1); /* the redzone after it */
    EXPECT(a.state->misuse_count == 7 && a.state->live_blocks == 0);
    fixture_free(&f);
}

/* Allocates `bytes` aligned to `align`, damages `first` (and `second`, if
 * not 0) past the end, frees, and expects an OVERFLOW record naming
 * `first`. */
static void damage_canary(core_fixture *f, carve_arena *a, uint32_t bytes,
                          uint32_t align, uint32_t first, uint32_t second)
{
    uint32_t before = header(f)->error_count;
    unsigned char *p = carve_alloc_malloc(a, bytes, align, 7);
    REQUIRE_OK(p != NULL ? CARVE_SUCCESS : CARVE_ERROR_INVALID_ARGUMENT);
    p[first] ^= 0x01;
    if (second != 0)
        p[second] ^= 0x80;
    carve_alloc_free(a, p, 8);
    EXPECT(header(f)->error_count == before + 1);
    EXPECT(error_at(f, before)->kind == CARVE_MISUSE_OVERFLOW &&
           error_at(f, before)->detail == first);
}

/* Where the redzone of a block of `bytes` aligned to `align` lies, and
 * whether the block is a slot (of a run or a heap page). */
static uint32_t redzone_at(carve_arena *a, uint32_t bytes, uint32_t align,
                           int *slot)
{
    carve_alloc_block b;
    unsigned char *p = carve_alloc_malloc(a, bytes, align, 7);
    int found = p != NULL && carve_alloc_resolve(a, p, CARVE_CALL_USABLE_SIZE,
                                                 7, &b);
    REQUIRE_OK(found ? CARVE_SUCCESS : CARVE_ERROR_INVALID_ARGUMENT);
    *slot = b.in_heap || b.core.n == 0;
    carve_alloc_free(a, p, 8);
    return b.rz;
}

/* Damages each canary byte of blocks of bytes [from, to) alone, then the
 * last two together (the lower one is reported); returns how many
 * records that made. */
static uint32_t damage_every_canary_byte(core_fixture *f, carve_arena *a,
                                         uint32_t from, uint32_t to,
                                         uint32_t align, int slots)
{
    uint32_t bytes, poke, rz, planted = 0;
    int slot;
    for (bytes = from; bytes < to; ++bytes) {
        rz = redzone_at(a, bytes, align, &slot);
        EXPECT(slot == slots && rz >= bytes);
        for (poke = bytes; poke < rz; ++poke, ++planted)
            damage_canary(f, a, bytes, align, poke, 0);
        if (rz - bytes >= 2) {
            damage_canary(f, a, bytes, align, rz - 2, rz - 1);
            ++planted;
        }
    }
    return planted;
}

/* Every byte of the canary is checked, the first damaged one reported:
 * the check reads four bytes a step, then the rest one by one. Plain
 * arena blocks of 1 to 47 B (canaries of 0 to 15 bytes, ending at a
 * granule); run slots of 1 to 16 B aligned to 8 (in this small arena
 * the larger sizes plus their redzones are granule blocks: these slots
 * are 24 or 32 bytes, so canaries end 8 bytes into a granule or at its
 * end); heap slots of 257 to 264 B (canaries of 104 to 111 bytes). */
static void test_every_canary_byte(void)
{
    carve_plan_params params = checked_params(2048, 0); /* a record each */
    core_fixture f = fixture_make_params(&params);
    carve_arena a = fixture_open(&f, 1);
    uint32_t planted = damage_every_canary_byte(&f, &a, 1, 48, 16, 0);
    EXPECT(a.state->misuse_count == planted && a.state->live_blocks == 0);
    fixture_free(&f);

    params.options |= CARVE_PLAN_SMALL_RUNS;
    f = fixture_make_params(&params);
    a = fixture_open(&f, 1);
    {
        int slot;
        /* The coverage claimed above: a slot's canary ending mid-granule. */
        EXPECT((redzone_at(&a, 1, 8, &slot) & 15u) == 8u && slot);
    }
    planted = damage_every_canary_byte(&f, &a, 1, 17, 8, 1);
    planted += damage_every_canary_byte(&f, &a, 257, 265, 8, 1);
    EXPECT(a.state->misuse_count == planted && a.state->live_blocks == 0);
    fixture_free(&f);
}

/* A stray write into a large heap block's size word must not make free
 * read a "redzone" past the block: the damage is reported as metadata
 * corruption and the block is still freed. */
static void test_damaged_large_header(void)
{
    carve_plan_params params = checked_params(0, 0);
    core_fixture f = fixture_make_params(&params);
    carve_arena a = fixture_open(&f, 1);
    const carve_set_header *h = header(&f);
    unsigned char *p = carve_alloc_malloc(&a, 5000, 16, 7);
    carve_heap hp = carve_heap_view(f.image);
    uint32_t page = (uint32_t)(p - f.image - h->heap_offset) / hp.page_bytes;
    carve_summary sum;
    EXPECT(p != NULL);
    carve_heap_state(&hp, page)[1] = 0x7fffff00u; /* the size word */
    carve_alloc_free(&a, p, 8);
    EXPECT(h->error_count == 1 &&
           error_at(&f, 0)->kind == CARVE_MISUSE_CORRUPT &&
           error_at(&f, 0)->site == 8);
    REQUIRE_OK(carve_layout_summary(f.image, &sum));
    EXPECT(sum.heap_live_blocks == 0);
    EXPECT(carve_layout_check(f.image, NULL, NULL) == CARVE_SUCCESS);
    fixture_free(&f);
}

/* 0 bytes is a NULL and a zero request with redzones on too: the redzone
 * must not turn it into a 16-byte block. */
static void test_zero_bytes(void)
{
    carve_plan_params params = checked_params(0, 0);
    core_fixture f = fixture_make_params(&params);
    carve_arena a = fixture_open(&f, 0);
    EXPECT(carve_alloc_malloc(&a, 0, 16, 1) == NULL);
    EXPECT(carve_alloc_malloc(&a, 0, 3, 2) == NULL); /* 0 bytes first */
    EXPECT(carve_alloc_calloc(&a, 0, 100, 3) == NULL);
    EXPECT(carve_alloc_calloc(&a, 100, 0, 4) == NULL);
    EXPECT(carve_alloc_realloc(&a, NULL, 0, 5) == NULL);
    EXPECT(a.state->zero_requests == 5 && a.state->failed_count == 0);
    EXPECT(a.state->live_blocks == 0 && a.state->bump == 0);
    fixture_free(&f);
}

/* A pointer into some other buffer whose offset from the set, cut to 32
 * bits, would fall in the heap is foreign, not a heap block. */
static void test_far_pointer(void)
{
    carve_plan_params params = checked_params(0, 0);
    core_fixture f = fixture_make_params(&params);
    carve_arena a = fixture_open(&f, 0);
    unsigned char *h = carve_alloc_malloc(&a, 500, 16, 1);
    void *far = (void *)((uintptr_t)h + ((uintptr_t)1 << 32));
    carve_summary sum;
    params.options = 0; /* the fast path too */
    carve_alloc_free(&a, far, 2);
    EXPECT(a.state->last_misuse == CARVE_MISUSE_FOREIGN);
    a.options = 0;
    carve_alloc_free(&a, far, 3);
    EXPECT(a.state->last_misuse == CARVE_MISUSE_FOREIGN &&
           a.state->misuse_count == 2);
    REQUIRE_OK(carve_layout_summary(f.image, &sum));
    EXPECT(sum.heap_live_blocks == 1); /* h is untouched */
    fixture_free(&f);
}

static void test_clean_blocks(void)
{
    carve_plan_params params = checked_params(0, 0);
    core_fixture f = fixture_make_params(&params);
    carve_arena a = fixture_open(&f, 0);
    unsigned char *p = carve_alloc_malloc(&a, 20, 16, 1), *q, *c;
    uint32_t i;
    memset(p, 1, 20);
    q = carve_alloc_realloc(&a, p, 40, 2); /* grows in place */
    EXPECT(q == p && carve_alloc_usable_size(&a, q, 3) == 40);
    memset(q, 2, 40);
    q = carve_alloc_realloc(&a, q, 700, 4); /* moves to the heap */
    EXPECT(q != NULL && q[39] == 2 && carve_alloc_usable_size(&a, q, 5) == 700);
    memset(q, 3, 700);
    q = carve_alloc_realloc(&a, q, 10, 6); /* shrinks in place */
    EXPECT(carve_alloc_usable_size(&a, q, 7) == 10 && q[9] == 3);
    c = carve_alloc_calloc(&a, 3, 7, 8);
    for (i = 0; i < 21; ++i)
        EXPECT(c[i] == 0);
    carve_alloc_free(&a, c, 9);
    carve_alloc_free(&a, q, 10);
    EXPECT(a.state->misuse_count == 0 && header(&f)->error_count == 0);
    EXPECT(a.state->live_blocks == 0 && a.state->heap_allocs == 1 &&
           a.state->heap_frees == 1);
    EXPECT(carve_layout_check(f.image, NULL, NULL) == CARVE_SUCCESS);
    fixture_free(&f);
}

static void test_error_log_limit(void)
{
    carve_plan_params params = checked_params(8, 0);
    core_fixture f = fixture_make_params(&params);
    carve_arena a = fixture_open(&f, 0), b = fixture_open(&f, 1);
    unsigned char *other = carve_alloc_malloc(&b, 16, 16, 1);
    carve_summary sum;
    uint32_t i;
    for (i = 0; i < 12; ++i)
        carve_alloc_free(&a, other, 300 + i); /* another arena's block */
    EXPECT(header(&f)->error_count == 12);
    for (i = 0; i < 8; ++i) {
        EXPECT(error_at(&f, i)->kind == CARVE_MISUSE_OTHER_ARENA);
        EXPECT(error_at(&f, i)->site == 300 + i);
        EXPECT(error_at(&f, i)->detail == 1); /* whose block it is */
        EXPECT(error_at(&f, i)->arena == 0);
    }
    REQUIRE_OK(carve_layout_summary(f.image, &sum));
    EXPECT(sum.errors_seen == 12 && sum.errors_kept == 8);
    EXPECT(b.state->live_blocks == 1);
    fixture_free(&f);
}

typedef struct expected_event {
    uint32_t kind, site, arena;
    const void *block;
    uint32_t bytes;
} expected_event;

static void test_events(void)
{
    carve_plan_params params = checked_params(0, 6);
    core_fixture f = fixture_make_params(&params);
    carve_arena a = fixture_open(&f, 3);
    unsigned char *p, *q, *h;
    expected_event want[6];
    carve_summary sum;
    uint32_t i;
    p = carve_alloc_malloc(&a, 24, 16, 1);
    h = carve_alloc_malloc(&a, 500, 16, 2);      /* heap */
    q = carve_alloc_realloc(&a, p, 2000, 3);     /* moves to the heap */
    EXPECT(carve_alloc_malloc(&a, 1u << 30, 16, 4) == NULL);
    carve_alloc_free(&a, h, 5);
    carve_alloc_free(&a, q, 6);                  /* the 7th: counted only */
    want[0] = (expected_event){CARVE_CALL_MALLOC, 1, 3, p, 24};
    want[1] = (expected_event){CARVE_CALL_MALLOC, 2, 3, h, 500};
    want[2] = (expected_event){CARVE_CALL_REALLOC_FREE, 3, 3, p, 48};
    want[3] = (expected_event){CARVE_CALL_REALLOC, 3, 3, q, 2000};
    want[4] = (expected_event){CARVE_CALL_FAILED, 4, 3, NULL, 1u << 30};
    want[5] = (expected_event){CARVE_CALL_FREE, 5, 3, h, 768}; /* 516 B: a 768-byte slot */
    for (i = 0; i < 6; ++i) {
        const carve_event_record *e = event_at(&f, i);
        int failures_before = carve_test_failures;
        EXPECT(CARVE_EVENT_KIND(*e) == want[i].kind);
        EXPECT(CARVE_EVENT_SITE(*e) == want[i].site);
        EXPECT(e->arena == want[i].arena);
        EXPECT(e->offset ==
               (want[i].block ? offset_of(&f, want[i].block) : 0u));
        EXPECT(e->bytes == want[i].bytes);
        if (carve_test_failures != failures_before)
            fprintf(stderr, "  (event %u)\n", i);
    }
    REQUIRE_OK(carve_layout_summary(f.image, &sum));
    EXPECT(sum.events_seen == 7 && sum.events_kept == 6);
    /* A reset empties both logs. */
    REQUIRE_OK(carve_layout_reset(f.image));
    EXPECT(header(&f)->event_count == 0 && header(&f)->error_count == 0);
    EXPECT(carve_layout_check(f.image, NULL, NULL) == CARVE_SUCCESS);
    fixture_free(&f);
}

/* Without checks, nothing is written past the payload and usable sizes are
 * whole granules; the fast path still records refusals with their site. */
static void test_without_checks(void)
{
    carve_plan_params params = checked_params(0, 0);
    core_fixture f;
    carve_arena a;
    unsigned char *p;
    params.options = 0;
    params.heap_bytes = 0;
    f = fixture_make_params(&params);
    a = fixture_open(&f, 0);
    EXPECT(a.options == 0 && a.large_bytes == 0xffffffffu);
    p = carve_alloc_malloc(&a, 20, 16, 1);
    EXPECT(carve_alloc_usable_size(&a, p, 2) == 32);
    memset(p, 0x77, 32);
    carve_alloc_free(&a, p, 3);
    carve_alloc_free(&a, p, 4);
    EXPECT(a.state->misuse_count == 1 && a.state->misuse_site == 4);
    EXPECT(header(&f)->error_count == 1 &&
           error_at(&f, 0)->kind == CARVE_MISUSE_FREED &&
           error_at(&f, 0)->site == 4);
    EXPECT(carve_alloc_malloc(&a, 5000, 16, 5) == NULL &&
           a.state->failure_site == 5 &&
           a.state->last_failure == CARVE_FAIL_TOO_LARGE);
    fixture_free(&f);
}

/* Where p lies, the same in two sets of one plan but for their logs:
 * from its arena's payload (arena blocks), from the heap's first page
 * (heap blocks, offset by 1 << 31), or ~0 for NULL. */
static uint32_t place_of(const core_fixture *f, const carve_arena *a,
                         const unsigned char *p)
{
    uint64_t off;
    if (p == NULL)
        return ~0u;
    off = (uint64_t)(p - f->image);
    if (f->plan.heap_pages != 0 && off >= f->plan.heap_offset)
        return (uint32_t)(off - f->plan.heap_offset) | 1u << 31;
    return (uint32_t)(p - a->payload);
}

/* The checked paths (a plan with checks and no event log: arena requests
 * and frees skip the general paths) against the general paths (the same
 * plan with an event log, which takes them for every call): the same
 * random calls, with misuse and planted overflows, give the same blocks,
 * the same state entries and the same error records. */
static void test_checked_paths_match(void)
{
    carve_plan_params params = checked_params(256, 0);
    core_fixture fast, slow;
    carve_arena fa[4], sa[4];
    unsigned char *fl[64], *sl[64];
    uint32_t fb[64], live = 0, op, i, k;
    carve_test_rng rng = {0x5eedc4ecull};
    const carve_set_header *fh, *sh;
    params.options |= CARVE_PLAN_HEAP_FALLBACK;
    params.large_request_bytes = 700;
    fast = fixture_make_params(&params);
    params.event_log_records = 1u << 16;
    slow = fixture_make_params(&params);
    for (k = 0; k < 4; ++k) {
        fa[k] = fixture_open(&fast, k);
        sa[k] = fixture_open(&slow, k);
    }
    for (op = 0; op < 6000 && carve_test_failures == 0; ++op) {
        uint32_t roll = (uint32_t)carve_test_below(&rng, 100);
        k = (uint32_t)carve_test_below(&rng, 4);
        if (roll < 50 && live < 64) {
            uint32_t bytes = (uint32_t)carve_test_below(&rng, 900);
            fl[live] = carve_alloc_malloc(&fa[k], bytes, 16, 300 + op);
            sl[live] = carve_alloc_malloc(&sa[k], bytes, 16, 300 + op);
            EXPECT(place_of(&fast, &fa[k], fl[live]) ==
                   place_of(&slow, &sa[k], sl[live]));
            fb[live] = k;
            if (fl[live] != NULL && sl[live] != NULL) {
                memset(fl[live], 0x5a, bytes);
                memset(sl[live], 0x5a, bytes);
                if (bytes != 0 && roll < 4) { /* one byte past the end */
                    fl[live][bytes] ^= 0xff;
                    sl[live][bytes] ^= 0xff;
                }
                ++live;
            }
        } else if (live != 0) {
            i = (uint32_t)carve_test_below(&rng, live);
            k = fb[i];
            if (roll < 55) { /* inside the block: refused */
                carve_alloc_free(&fa[k], fl[i] + 16, 400 + op);
                carve_alloc_free(&sa[k], sl[i] + 16, 400 + op);
                continue;
            }
            carve_alloc_free(&fa[k], fl[i], 500 + op);
            carve_alloc_free(&sa[k], sl[i], 500 + op);
            if (roll < 60) { /* and again: a double free */
                carve_alloc_free(&fa[k], fl[i], 600 + op);
                carve_alloc_free(&sa[k], sl[i], 600 + op);
            }
            fl[i] = fl[live - 1];
            sl[i] = sl[live - 1];
            fb[i] = fb[--live];
        }
    }
    for (k = 0; k < 4; ++k)
        EXPECT(memcmp((const void *)fa[k].state, (const void *)sa[k].state,
                      fast.plan.state_stride) == 0);
    fh = header(&fast);
    sh = header(&slow);
    EXPECT(fh->error_count == sh->error_count && fh->error_count > 10);
    for (i = 0; i < fh->error_count && i < fh->error_capacity; ++i) {
        const carve_error_record *a = error_at(&fast, i);
        const carve_error_record *b = error_at(&slow, i);
        EXPECT(a->kind == b->kind && a->call == b->call &&
               a->arena == b->arena && a->site == b->site &&
               a->bytes == b->bytes && a->alloc_site == b->alloc_site &&
               a->detail == b->detail);
    }
    EXPECT(carve_layout_check(fast.image, NULL, NULL) == CARVE_SUCCESS);
    EXPECT(carve_layout_check(slow.image, NULL, NULL) == CARVE_SUCCESS);
    fixture_free(&fast);
    fixture_free(&slow);
}

int main(void)
{
    test_overflows();
    test_every_canary_byte();
    test_damaged_large_header();
    test_zero_bytes();
    test_far_pointer();
    test_clean_blocks();
    test_error_log_limit();
    test_events();
    test_without_checks();
    test_checked_paths_match();
    return carve_test_finish("checks");
}
