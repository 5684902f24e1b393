/*
 * heap.c - the shared heap and the front that routes between it and the
 * arenas (kernels/carve_heap.h, kernels/carve_alloc.h), run on the host:
 * the same code the kernels run.
 *
 * - every call's semantics and every refusal, with the heap's invariants
 *   and hints checked after each step;
 * - random sequences over several arenas and the heap against a shadow
 *   model: every live block carries its own pattern, so an overlap shows;
 * - host threads racing through the lock-free heap (it uses the device's
 *   atomics, mapped to the host's), handing blocks to each other to free.
 *
 * Usage: host_heap [seed [operations]]
 */
#include "core_fixture.h"

#include <pthread.h>
#include <stdatomic.h>

static carve_test_rng rng;

static carve_plan_params heap_params(uint64_t arenas, uint64_t arena_bytes,
                                     uint64_t heap_bytes, uint32_t options)
{
    carve_plan_params p;
    memset(&p, 0, sizeof p);
    p.arena_count = arenas;
    p.arena_bytes = arena_bytes;
    p.heap_bytes = heap_bytes;
    p.options = options;
    return p;
}

#define EXPECT_IMAGE_VALID(f)                                                 \
    do {                                                                      \
        uint32_t bad_ = 0, broken_ = 0;                                       \
        if (carve_layout_check((f)->image, &bad_, &broken_) !=                \
            CARVE_SUCCESS) {                                                  \
            fprintf(stderr, "%s:%d: invariant %u broken in %s %u\n",          \
                    __FILE__, __LINE__, broken_,                              \
                    bad_ == CARVE_HEAP_INDEX ? "the heap" : "arena", bad_);   \
            ++carve_test_failures;                                            \
        }                                                                     \
    } while (0)

static int in_heap(const core_fixture *f, const void *p)
{
    uint64_t off = (uint64_t)((const unsigned char *)p - f->image);
    return p != NULL && off >= f->plan.heap_offset &&
           off < f->plan.heap_offset +
                     (uint64_t)f->plan.heap_pages * f->plan.heap_page_bytes;
}

static const carve_error_record *error_record(const core_fixture *f,
                                              uint32_t i)
{
    const carve_set_header *h = (const carve_set_header *)f->image;
    return (const carve_error_record *)(f->image + h->error_offset) + i;
}

static uint32_t error_count(const core_fixture *f)
{
    return ((const carve_set_header *)f->image)->error_count;
}

static void test_routing(void)
{
    carve_plan_params params = heap_params(4, 1024, 64 * 1024, 0);
    core_fixture f = fixture_make_params(&params);
    carve_arena a = fixture_open(&f, 0), b = fixture_open(&f, 1);
    unsigned char *small, *mid, *page, *pages;
    EXPECT(f.plan.heap_pages == 16 && f.plan.heap_page_bytes == 4096);
    EXPECT(f.plan.large_bytes == 257); /* over a quarter of the arena */
    small = carve_alloc_malloc(&a, 100, 16, 11);
    mid = carve_alloc_malloc(&a, 300, 16, 12);
    page = carve_alloc_malloc(&a, 3000, 16, 13);
    pages = carve_alloc_malloc(&a, 10000, 16, 14);
    EXPECT(small != NULL && !in_heap(&f, small));
    EXPECT(in_heap(&f, mid) && in_heap(&f, page) && in_heap(&f, pages));
    /* 300 B takes a 384-byte slot (16 B x 24); 3000 B more than half a
     * page, so a whole page; 10000 B three pages. */
    EXPECT(carve_alloc_usable_size(&a, mid, 15) == 384);
    EXPECT(carve_alloc_usable_size(&a, page, 15) == 4096);
    EXPECT(carve_alloc_usable_size(&a, pages, 15) == 3 * 4096);
    EXPECT(a.state->alloc_count == 1 && a.state->heap_allocs == 3);
    memset(pages, 0x5a, 10000);
    EXPECT_IMAGE_VALID(&f);
    /* A host walk may follow offsets into heap blocks, whoever owns them,
     * but not past a block or into free heap memory. */
    {
        uint32_t m = (uint32_t)(mid - f.image), l = (uint32_t)(pages - f.image);
        EXPECT(carve_layout_block(f.image, 3, m, 384) == mid);
        EXPECT(carve_layout_block(f.image, 0, m + 100, 284) == mid + 100);
        EXPECT(carve_layout_block(f.image, 0, m, 385) == NULL);
        EXPECT(carve_layout_block(f.image, 0, l + 5000, 7000) == pages + 5000);
        EXPECT(carve_layout_block(f.image, 0, l + 5000, 7289) == NULL);
        EXPECT(carve_layout_block(f.image, 0, m + 384, 16) == NULL); /* free slot */
        EXPECT(carve_layout_block(f.image, 0, l + 3 * 4096, 16) == NULL);
    }

    /* Any work-item frees a heap block; the freeing one counts it. */
    carve_alloc_free(&b, mid, 21);
    EXPECT(b.state->heap_frees == 1 && a.state->heap_frees == 0);
    EXPECT(b.state->misuse_count == 0);
    carve_alloc_free(&b, mid, 22); /* double free */
    EXPECT(b.state->misuse_count == 1 &&
           b.state->last_misuse == CARVE_MISUSE_FREED &&
           b.state->misuse_site == 22);
    EXPECT(error_count(&f) == 1 &&
           error_record(&f, 0)->kind == CARVE_MISUSE_FREED &&
           error_record(&f, 0)->arena == 1 && error_record(&f, 0)->site == 22 &&
           error_record(&f, 0)->call == CARVE_CALL_FREE &&
           error_record(&f, 0)->offset == (uint32_t)(mid - f.image));
    carve_alloc_free(&a, pages + 16, 23);
    EXPECT(a.state->last_misuse == CARVE_MISUSE_INTERIOR);
    carve_alloc_free(&a, pages + 4096, 24); /* its second page */
    EXPECT(a.state->last_misuse == CARVE_MISUSE_INTERIOR);
    carve_alloc_free(&a, page + 8 * 4096, 25); /* a free page */
    EXPECT(a.state->last_misuse == CARVE_MISUSE_FREED);
    EXPECT(a.state->misuse_count == 3 && error_count(&f) == 4);
    EXPECT(pages[9999] == 0x5a); /* refusals wrote nothing */
    EXPECT_IMAGE_VALID(&f);
    carve_alloc_free(&b, pages, 26);
    carve_alloc_free(&a, page, 27);
    carve_alloc_free(&a, small, 28);
    EXPECT(a.state->live_blocks == 0);
    EXPECT_IMAGE_VALID(&f);
    {
        carve_summary sum;
        REQUIRE_OK(carve_layout_summary(f.image, &sum));
        EXPECT(sum.heap_pages == 16 && sum.heap_free_pages == 16 &&
               sum.heap_live_blocks == 0 && sum.heap_in_use_bytes == 0);
        EXPECT(sum.heap_allocs == 3 && sum.heap_frees == 3);
        EXPECT(sum.errors_seen == 4 && sum.errors_kept == 4);
    }
    fixture_free(&f);
}

/* A freed heap slot given to realloc, usable_size and free again: each is
 * refused as FREED, reads and writes nothing, and logs no event, whether
 * checks and the event log are on or off. Only a plain free may leave the
 * slot's liveness to the atomic that releases it. */
static void test_freed_slot(uint32_t options, uint32_t event_records)
{
    carve_plan_params params = heap_params(2, 1024, 64 * 1024, options);
    core_fixture f;
    carve_arena a;
    const carve_set_header *h;
    unsigned char *keep, *gone;
    uint32_t events, misuses, allocs;
    params.event_log_records = event_records;
    f = fixture_make_params(&params);
    a = fixture_open(&f, 0);
    h = (const carve_set_header *)f.image;
    keep = carve_alloc_malloc(&a, 300, 16, 81); /* holds the page's class */
    gone = carve_alloc_malloc(&a, 300, 16, 82);
    EXPECT(in_heap(&f, keep) && in_heap(&f, gone));
    carve_alloc_free(&a, gone, 83);
    events = h->event_count;
    misuses = a.state->misuse_count;
    allocs = a.state->heap_allocs;
    EXPECT(carve_alloc_realloc(&a, gone, 64, 84) == NULL);
    EXPECT(a.state->misuse_count == misuses + 1 &&
           a.state->last_misuse == CARVE_MISUSE_FREED &&
           a.state->misuse_site == 84);
    EXPECT(carve_alloc_realloc(&a, gone, 4000, 85) == NULL);
    EXPECT(carve_alloc_usable_size(&a, gone, 86) == 0);
    EXPECT(a.state->misuse_count == misuses + 3 &&
           a.state->last_misuse == CARVE_MISUSE_FREED);
    carve_alloc_free(&a, gone, 87); /* double free */
    EXPECT(a.state->misuse_count == misuses + 4 &&
           a.state->last_misuse == CARVE_MISUSE_FREED &&
           a.state->misuse_site == 87);
    EXPECT(a.state->heap_allocs == allocs && a.state->heap_frees == 1);
    EXPECT(h->event_count == events); /* refusals are errors, not events */
    EXPECT(error_count(&f) == 4);
    EXPECT_IMAGE_VALID(&f);
    carve_alloc_free(&a, keep, 88);
    EXPECT(a.state->misuse_count == misuses + 4);
    EXPECT_IMAGE_VALID(&f);
    fixture_free(&f);
}

#define HOLD_COUNT(a) ((a)->state->heap_hold & CARVE_HEAP_COUNT_MASK)

/* What carve_layout_check says of the image: 0 when it passes, else the
 * broken heap invariant (or ~0u for an arena's). */
static uint32_t heap_broken(const core_fixture *f)
{
    uint32_t bad = 0, broken = 0;
    if (carve_layout_check(f->image, &bad, &broken) == CARVE_SUCCESS)
        return 0;
    return bad == CARVE_HEAP_INDEX ? broken : ~0u;
}

/* Reservations a work-item holds in the heap (carve_heap.h): taken several
 * at a time, kept by frees, given back for another class and at close;
 * never a bit, so a stale free of a reserved slot is still a double free;
 * counted by the host's check, which also names damaged hold words. */
static void test_held_reservations(void)
{
    carve_plan_params params = heap_params(2, 1024, 64 * 1024, 0);
    core_fixture f;
    carve_arena a, b;
    carve_summary sum;
    unsigned char *p[8], *q, *r;
    uint32_t i, page, class_64, saved_page, saved_hold;
    params.large_request_bytes = 1; /* every request goes to the heap */
    f = fixture_make_params(&params);
    a = fixture_open(&f, 0);
    b = fixture_open(&f, 1);
    /* Reservations of 1, 1, 2 and 4 slots: as many as it allocated so
     * far. */
    for (i = 0; i < 8; ++i) {
        p[i] = carve_alloc_malloc(&a, 64, 16, 90);
        EXPECT(in_heap(&f, p[i]));
        EXPECT(HOLD_COUNT(&a) == (i == 2 ? 1u : i >= 4 && i < 7 ? 7u - i : 0u));
    }
    for (i = 1; i < 8; ++i)
        EXPECT(p[i] == p[0] + 64 * i); /* one page, slots in order */
    page = (uint32_t)((p[0] - f.image - f.plan.heap_offset) /
                      f.plan.heap_page_bytes);
    EXPECT_IMAGE_VALID(&f);
    /* The slot after the last one handed out: reserved by a, but its bit
     * is clear, so a free of it is refused whoever calls. */
    carve_alloc_free(&a, p[7] + 64, 91);
    carve_alloc_free(&b, p[7] + 64, 92);
    EXPECT(a.state->misuse_count == 1 && b.state->misuse_count == 1 &&
           a.state->last_misuse == CARVE_MISUSE_FREED &&
           b.state->last_misuse == CARVE_MISUSE_FREED);
    /* Frees keep their reservations, up to what the work-item allocated:
     * the page stays taken with no live block, and the check agrees. */
    for (i = 0; i < 8; ++i)
        carve_alloc_free(&a, p[i], 93);
    EXPECT(HOLD_COUNT(&a) == 8 && a.state->heap_hold_page == page + 1);
    class_64 = a.state->heap_hold >> 24;
    REQUIRE_OK(carve_layout_summary(f.image, &sum));
    EXPECT(sum.heap_live_blocks == 0 &&
           sum.heap_free_pages == sum.heap_pages - 1);
    EXPECT_IMAGE_VALID(&f);
    /* The same class is served from them; another class gives them back
     * first, and the page is free again. */
    q = carve_alloc_malloc(&a, 64, 16, 94);
    EXPECT(HOLD_COUNT(&a) == 7 &&
           (uint32_t)((q - f.image - f.plan.heap_offset) /
                      f.plan.heap_page_bytes) == page);
    carve_alloc_free(&a, q, 95);
    r = carve_alloc_malloc(&a, 300, 16, 96);
    EXPECT(in_heap(&f, r) && (a.state->heap_hold >> 24) != class_64);
    REQUIRE_OK(carve_layout_summary(f.image, &sum));
    EXPECT(sum.heap_live_blocks == 1 &&
           sum.heap_free_pages == sum.heap_pages - 1);
    EXPECT_IMAGE_VALID(&f);
    /* Closing gives back what is held. */
    carve_alloc_free(&a, r, 97);
    carve_alloc_close(&a);
    EXPECT(a.state->heap_hold == 0 && a.state->heap_hold_page == 0);
    REQUIRE_OK(carve_layout_summary(f.image, &sum));
    EXPECT(sum.heap_free_pages == sum.heap_pages);
    EXPECT_IMAGE_VALID(&f);
    /* Damaged hold words: the check says so. */
    for (i = 0; i < 3; ++i)
        p[i] = carve_alloc_malloc(&b, 64, 16, 98);
    EXPECT(HOLD_COUNT(&b) == 1);
    EXPECT_IMAGE_VALID(&f);
    saved_page = b.state->heap_hold_page;
    saved_hold = b.state->heap_hold;
    b.state->heap_hold_page = f.plan.heap_pages + 7;
    EXPECT(heap_broken(&f) == CARVE_HEAP_CHECK_HOLD);
    b.state->heap_hold_page = saved_page;
    b.state->heap_hold = f.plan.heap_class_count << 24 | 1u;
    EXPECT(heap_broken(&f) == CARVE_HEAP_CHECK_HOLD);
    b.state->heap_hold = (saved_hold + (1u << 24)); /* another class */
    EXPECT(heap_broken(&f) == CARVE_HEAP_CHECK_HOLD);
    b.state->heap_hold = saved_hold + 1u; /* one more than reserved */
    EXPECT(heap_broken(&f) == CARVE_HEAP_CHECK_COUNT);
    b.state->heap_hold = saved_hold;
    EXPECT_IMAGE_VALID(&f);
    /* Hold words no page can have are not trusted: the request is served
     * from a search, and the reservation they hid shows in the check. */
    b.state->heap_hold = saved_hold | CARVE_HEAP_COUNT_MASK;
    q = carve_alloc_malloc(&b, 64, 16, 99);
    EXPECT(in_heap(&f, q) && q != p[0] && q != p[1] && q != p[2]);
    EXPECT(heap_broken(&f) == CARVE_HEAP_CHECK_COUNT);
    fixture_free(&f);
}

/* The fast paths through held reservations (carve_heap_take_held,
 * carve_heap_free_held): the same results as the general paths. */
static void test_held_fast_paths(void)
{
    carve_plan_params params = heap_params(2, 1024, 64 * 1024, 0);
    core_fixture f;
    carve_arena a, b;
    unsigned char *p[9], *other, *q;
    uint32_t i, c, n, allocs, page, misuses, frees;
    carve_heap hp;
    params.large_request_bytes = 1;
    f = fixture_make_params(&params);
    hp = carve_heap_view(f.image);
    /* carve_heap_may_hold is n < carve_heap_hold_cap, for every class. */
    for (c = 0; c < hp.class_count; ++c)
        for (n = 0; n < 40; ++n)
            for (allocs = 0; allocs < 40; ++allocs)
                if (carve_heap_may_hold(n,
                                        carve_heap_class_granules(c) << 4,
                                        allocs) !=
                    (n < carve_heap_hold_cap(c, allocs))) {
                    fprintf(stderr, "may_hold(%u, class %u, %u) != cap\n",
                            n, c, allocs);
                    ++carve_test_failures;
                }
    a = fixture_open(&f, 0);
    b = fixture_open(&f, 1);
    /* Eight 64-byte blocks leave no reservation held, the hold words
     * still naming the page: a free there checks the page's class with
     * one load and keeps the reservation. */
    for (i = 0; i < 8; ++i)
        p[i] = carve_alloc_malloc(&a, 64, 16, 110);
    page = (uint32_t)((p[0] - f.image - f.plan.heap_offset) /
                      f.plan.heap_page_bytes);
    EXPECT(HOLD_COUNT(&a) == 0 && a.state->heap_hold_page == page + 1);
    carve_alloc_free(&a, p[3], 111);
    EXPECT(HOLD_COUNT(&a) == 1 && a.state->heap_hold_page == page + 1 &&
           a.state->misuse_count == 0 && a.state->heap_frees == 1);
    carve_alloc_free(&a, p[3], 112); /* double free on the held page */
    EXPECT(a.state->misuse_count == 1 &&
           a.state->last_misuse == CARVE_MISUSE_FREED && HOLD_COUNT(&a) == 1);
    carve_alloc_free(&a, p[4] + 16, 113); /* inside a slot */
    EXPECT(a.state->misuse_count == 2 &&
           a.state->last_misuse == CARVE_MISUSE_INTERIOR);
    EXPECT_IMAGE_VALID(&f);
    /* A guess past the page's last slot: the request is still served
     * from the held page. */
    a.heap_next = 1000000u;
    q = carve_alloc_malloc(&a, 64, 16, 114);
    EXPECT(q == p[3] && HOLD_COUNT(&a) == 0);
    /* Frees past the hold's bound drop their reservations: nine allocated
     * (a reservation of 9 taken), so at most 9 are kept. */
    p[8] = carve_alloc_malloc(&a, 64, 16, 115);
    EXPECT(HOLD_COUNT(&a) == 8 - (p[8] == NULL));
    frees = a.state->heap_frees;
    for (i = 0; i < 9; ++i)
        carve_alloc_free(&a, p[i], 116);
    EXPECT(HOLD_COUNT(&a) == carve_heap_hold_cap(
                                 a.state->heap_hold >> 24,
                                 a.state->heap_allocs) &&
           a.state->heap_frees == frees + 9 && a.state->misuse_count == 2);
    EXPECT_IMAGE_VALID(&f);
    carve_alloc_close(&a);
    /* Hold words naming, with no reservation, a page that has since
     * changed class: the free must not read the slot by the old class. */
    a = fixture_open(&f, 0);
    for (i = 0; i < 3; ++i)
        p[i] = carve_alloc_malloc(&a, 64, 16, 117);
    /* The second slot of b's page: by the 64-byte class, an unused one. */
    other = carve_alloc_malloc(&b, 300, 16, 118);
    other = carve_alloc_malloc(&b, 300, 16, 118);
    EXPECT(in_heap(&f, other) &&
           (other - f.image - f.plan.heap_offset) % f.plan.heap_page_bytes !=
               0);
    a.state->heap_hold_page =
        (uint32_t)((other - f.image - f.plan.heap_offset) /
                   f.plan.heap_page_bytes) + 1u;
    a.state->heap_hold &= ~CARVE_HEAP_COUNT_MASK; /* 64-byte class, none */
    misuses = a.state->misuse_count;
    carve_alloc_free(&a, other, 119); /* a free of b's block by a */
    EXPECT(a.state->misuse_count == misuses);
    EXPECT(heap_broken(&f) != 0); /* a's two lost reservations, counted */
    fixture_free(&f);
}

/* A work-item's own held slots do not keep it from a large block: a
 * heap of 4 pages, one taken by the reservations its frees kept, still
 * serves a request for all 4. */
static void test_holds_give_way_to_large(void)
{
    carve_plan_params params = heap_params(1, 1024, 4 * 4096, 0);
    core_fixture f;
    carve_arena a;
    unsigned char *p[4], *big;
    uint32_t i;
    params.large_request_bytes = 1;
    params.heap_page_bytes = 4096;
    f = fixture_make_params(&params);
    a = fixture_open(&f, 0);
    for (i = 0; i < 4; ++i)
        p[i] = carve_alloc_malloc(&a, 64, 16, 100);
    for (i = 0; i < 4; ++i)
        carve_alloc_free(&a, p[i], 101);
    EXPECT(HOLD_COUNT(&a) == 4);
    big = carve_alloc_malloc(&a, 4 * 4096, 16, 102);
    EXPECT(in_heap(&f, big) && a.state->failed_count == 0);
    EXPECT(a.state->heap_hold == 0);
    EXPECT_IMAGE_VALID(&f);
    carve_alloc_free(&a, big, 103);
    EXPECT_IMAGE_VALID(&f);
    fixture_free(&f);
}

/* Hold words a wild write made, naming a free page, and a page state
 * that claims a large block past the heap's end: nothing is read or
 * written outside the heap's tables (ASan and UBSan watch this test). */
static void test_damaged_holds_stay_inside(void)
{
    carve_plan_params params = heap_params(2, 1024, 16 * 4096, 0);
    core_fixture f;
    carve_arena a, b;
    carve_heap hp;
    unsigned char *page9;
    params.large_request_bytes = 1;
    params.heap_page_bytes = 4096;
    f = fixture_make_params(&params);
    a = fixture_open(&f, 0);
    b = fixture_open(&f, 1);
    hp = carve_heap_view(f.image);
    page9 = f.image + f.plan.heap_offset + 9u * 4096u;
    b.state->heap_hold_page = 5 + 1; /* page 5 is free */
    b.state->heap_hold = 16u;
    carve_alloc_close(&b);
    EXPECT(*carve_heap_state(&hp, 5) == 0 && b.state->heap_hold == 0);
    EXPECT_IMAGE_VALID(&f);
    /* A large block of 2^24 - 16 pages from page 9 on. */
    *carve_heap_state(&hp, 9) = CARVE_HEAP_LARGE | 0xfffff0u;
    EXPECT(carve_alloc_usable_size(&a, page9, 104) == 0);
    EXPECT(a.state->last_misuse == CARVE_MISUSE_CORRUPT);
    carve_alloc_free(&a, page9, 105);
    EXPECT(a.state->misuse_count == 2 &&
           a.state->last_misuse == CARVE_MISUSE_CORRUPT);
    EXPECT(carve_alloc_realloc(&a, page9, 64, 106) == NULL);
    EXPECT(*carve_heap_state(&hp, 9) == (CARVE_HEAP_LARGE | 0xfffff0u));
    EXPECT(*carve_heap_state(&hp, 10) == 0);
    fixture_free(&f);
}

/* Hold words a wild write made, naming the largest class, after the
 * work-item's cursor guessed a slot far into a page of 16-byte slots:
 * the guess times the large slot's bytes must not wrap into a slot that
 * passes the page's bound (512 KiB pages: 32768 x 256 KiB is 2^33). */
static void test_damaged_hold_class_stays_inside(void)
{
    carve_plan_params params = heap_params(1, 1024, 4 * (512u << 10), 0);
    core_fixture f;
    carve_arena a;
    carve_heap hp;
    unsigned char *p = NULL;
    uint32_t i, last;
    uint64_t off;
    params.large_request_bytes = 1;
    params.heap_page_bytes = 512u << 10;
    f = fixture_make_params(&params);
    a = fixture_open(&f, 0);
    hp = carve_heap_view(f.image);
    for (i = 0; i < (512u << 10) / 16u; ++i)
        p = carve_alloc_malloc(&a, 16, 16, 107);
    EXPECT(p != NULL && a.heap_next == (512u << 10) / 16u);
    last = hp.class_count - 1u;
    a.state->heap_hold_page = 1; /* page 0, full of 16-byte slots */
    a.state->heap_hold = last << 24 | 1u;
    p = carve_alloc_malloc(&a, carve_heap_class_granules(last) << 4, 16, 108);
    off = (uint64_t)(p - f.image);
    EXPECT(p != NULL && in_heap(&f, p) &&
           (off - f.plan.heap_offset) % (carve_heap_class_granules(last) << 4) ==
               0);
    for (i = 1; i < 4; ++i) /* no state word set to a bit of a bitmap */
        EXPECT(*carve_heap_state(&hp, i) == 0 ||
               (*carve_heap_state(&hp, i) & CARVE_HEAP_KIND_MASK) ==
                   (last + 1u) << 24);
    fixture_free(&f);
}

static void test_exhaustion_and_fallback(void)
{
    carve_plan_params params = heap_params(2, 1024, 16 * 4096, 0);
    core_fixture f = fixture_make_params(&params);
    carve_arena a = fixture_open(&f, 0);
    void *blocks[40];
    int n = 0, i;
    while (n < 40 && (blocks[n] = carve_alloc_malloc(&a, 64, 16, 31)) != NULL)
        ++n;
    EXPECT(n == 16); /* no fallback: the arena alone */
    EXPECT(a.state->failed_count == 1 &&
           a.state->last_failure == CARVE_FAIL_OUT_OF_MEMORY &&
           a.state->failure_site == 31);
    EXPECT(carve_alloc_malloc(&a, 1u << 20, 16, 32) == NULL);
    EXPECT(a.state->last_failure == CARVE_FAIL_TOO_LARGE &&
           a.state->largest_failed == 1u << 20);
    /* Half-page requests: two per page, 32 in 16 pages. */
    for (i = 0; i < 40 && carve_alloc_malloc(&a, 2048, 16, 33) != NULL; ++i)
        ;
    EXPECT(i == 32);
    EXPECT(a.state->last_failure == CARVE_FAIL_OUT_OF_MEMORY);
    EXPECT_IMAGE_VALID(&f);
    fixture_free(&f);

    params.options = CARVE_PLAN_HEAP_FALLBACK;
    f = fixture_make_params(&params);
    a = fixture_open(&f, 0);
    for (n = 0; n < 40; ++n)
        blocks[n] = carve_alloc_malloc(&a, 64, 16, 34);
    EXPECT(!in_heap(&f, blocks[15]) && in_heap(&f, blocks[16]));
    EXPECT(a.state->failed_count == 0 && a.state->heap_allocs == 24);
    for (n = 0; n < 40; ++n)
        carve_alloc_free(&a, blocks[n], 35);
    EXPECT(a.state->misuse_count == 0 && a.state->live_blocks == 0);
    EXPECT_IMAGE_VALID(&f);
    fixture_free(&f);
}

static void test_alignment_realloc_calloc(void)
{
    carve_plan_params params = heap_params(2, 2048, 32 * 4096, 0);
    core_fixture f = fixture_make_params(&params);
    carve_arena a = fixture_open(&f, 0);
    unsigned char *p, *q;
    uint32_t align, i;
    for (align = 16; align <= 128; align *= 2) {
        p = carve_alloc_malloc(&a, 600, align, 41); /* heap: 600 >= 513 */
        EXPECT(in_heap(&f, p) && (uintptr_t)p % align == 0);
        p = carve_alloc_malloc(&a, 40, align, 42); /* arena */
        EXPECT(p != NULL && !in_heap(&f, p) && (uintptr_t)p % align == 0);
    }
    EXPECT(carve_alloc_malloc(&a, 600, 256, 43) == NULL &&
           a.state->last_failure == CARVE_FAIL_BAD_ALIGNMENT);
    /* An arena block grown past the threshold moves to the heap. */
    p = carve_alloc_malloc(&a, 100, 16, 44);
    for (i = 0; i < 100; ++i)
        p[i] = (unsigned char)i;
    q = carve_alloc_realloc(&a, p, 5000, 45);
    EXPECT(in_heap(&f, q));
    for (i = 0; i < 100 && q != NULL; ++i)
        if (q[i] != (unsigned char)i)
            break;
    EXPECT(i == 100);
    /* Heap blocks stay where they are while the size fits. */
    p = carve_alloc_realloc(&a, q, 8000, 46);
    EXPECT(p == q);
    p = carve_alloc_realloc(&a, q, 3 * 4096, 47); /* needs 3 pages: moves */
    EXPECT(in_heap(&f, p) && p != q && p[99] == 99);
    q = carve_alloc_realloc(&a, p, 700, 48);
    EXPECT(q == p); /* shrinking never moves */
    q = carve_alloc_realloc(&a, q, 0, 49); /* frees */
    EXPECT(q == NULL);
    /* calloc zeroes heap memory the fixture filled with garbage. */
    q = carve_alloc_calloc(&a, 30, 100, 50);
    EXPECT(in_heap(&f, q));
    for (i = 0; i < 3000 && q != NULL; ++i)
        if (q[i] != 0)
            break;
    EXPECT(i == 3000);
    EXPECT(carve_alloc_calloc(&a, UINT64_MAX / 2, 3, 51) == NULL &&
           a.state->last_failure == CARVE_FAIL_OVERFLOW);
    EXPECT(a.state->misuse_count == 0);
    EXPECT_IMAGE_VALID(&f);
    fixture_free(&f);
}

/* ---- random sequences against a shadow model ------------------------------- */

typedef struct shadow_block {
    unsigned char *p;
    uint64_t bytes;
    uint32_t tag;
    uint32_t owner; /* the arena an arena block belongs to */
} shadow_block;

static unsigned char pattern(uint32_t tag, uint64_t i)
{
    return (unsigned char)((tag * 2654435761u) ^ (uint32_t)(i * 40503u)) | 1u;
}

static void fill(unsigned char *p, uint64_t bytes, uint32_t tag)
{
    uint64_t i;
    for (i = 0; i < bytes; ++i)
        p[i] = pattern(tag, i);
}

static int intact(const unsigned char *p, uint64_t bytes, uint32_t tag)
{
    uint64_t i;
    for (i = 0; i < bytes; ++i)
        if (p[i] != pattern(tag, i))
            return 0;
    return 1;
}

static uint64_t random_size(void)
{
    uint64_t roll = carve_test_below(&rng, 100);
    if (roll < 60)
        return 1 + carve_test_below(&rng, 128);
    if (roll < 90)
        return 1 + carve_test_below(&rng, 2048);
    return 1 + carve_test_below(&rng, 20000);
}

static void test_random(uint64_t operations, uint32_t options)
{
    enum { ARENAS = 4, MAX_LIVE = 4096 };
    carve_plan_params params = heap_params(ARENAS, 4096, 256 * 1024, options);
    core_fixture f = fixture_make_params(&params);
    carve_arena arenas[ARENAS];
    shadow_block *live = calloc(MAX_LIVE, sizeof *live);
    size_t count = 0, i;
    uint32_t next_tag = 1;
    uint64_t op, heap_blocks = 0, nulls = 0;
    int failures_before = carve_test_failures;
    for (i = 0; i < ARENAS; ++i)
        arenas[i] = fixture_open(&f, (uint32_t)i);
    for (op = 0; op < operations && carve_test_failures == failures_before;
         ++op) {
        uint32_t who = (uint32_t)carve_test_below(&rng, ARENAS);
        carve_arena *a = &arenas[who];
        uint64_t roll = carve_test_below(&rng, 100), bytes;
        unsigned char *p;
        if (roll < 50 && count < MAX_LIVE) {
            bytes = random_size();
            p = roll < 45 ? carve_alloc_malloc(a, bytes, 16, 60)
                          : carve_alloc_calloc(a, 1, bytes, 61);
            if (p == NULL) {
                ++nulls;
                EXPECT(a->state->last_failure == CARVE_FAIL_OUT_OF_MEMORY ||
                       a->state->last_failure == CARVE_FAIL_TOO_LARGE);
                continue;
            }
            EXPECT(carve_alloc_usable_size(a, p, 62) >= bytes);
            heap_blocks += in_heap(&f, p);
            live[count].p = p;
            live[count].bytes = bytes;
            live[count].tag = next_tag++;
            live[count].owner = who;
            fill(p, bytes, live[count].tag);
            ++count;
        } else if (roll < 85 && count > 0) {
            i = (size_t)carve_test_below(&rng, count);
            EXPECT(intact(live[i].p, live[i].bytes, live[i].tag));
            /* Heap blocks are anyone's to free; arena blocks their
             * owner's. */
            if (!in_heap(&f, live[i].p))
                a = &arenas[live[i].owner];
            carve_alloc_free(a, live[i].p, 63);
            live[i] = live[--count];
        } else if (count > 0) {
            i = (size_t)carve_test_below(&rng, count);
            bytes = random_size();
            if (!in_heap(&f, live[i].p)) {
                who = live[i].owner;
                a = &arenas[who];
            }
            p = carve_alloc_realloc(a, live[i].p, bytes, 64);
            if (p == NULL) {
                EXPECT(intact(live[i].p, live[i].bytes, live[i].tag));
                continue;
            }
            EXPECT(intact(p, live[i].bytes < bytes ? live[i].bytes : bytes,
                          live[i].tag));
            live[i].p = p;
            live[i].bytes = bytes;
            live[i].tag = next_tag++;
            live[i].owner = who;
            fill(p, bytes, live[i].tag);
        }
        EXPECT_IMAGE_VALID(&f);
        if (op % 256 == 0)
            for (i = 0; i < count; ++i)
                EXPECT(intact(live[i].p, live[i].bytes, live[i].tag));
    }
    for (i = 0; i < ARENAS; ++i)
        EXPECT(arenas[i].state->misuse_count == 0);
    while (count > 0) {
        --count;
        EXPECT(intact(live[count].p, live[count].bytes, live[count].tag));
        carve_alloc_free(&arenas[live[count].owner], live[count].p, 65);
    }
    /* Until they close, work-items hold heap reservations: pages stay
     * taken, and the check counts them. */
    EXPECT_IMAGE_VALID(&f);
    for (i = 0; i < ARENAS; ++i)
        carve_alloc_close(&arenas[i]);
    {
        carve_summary sum;
        REQUIRE_OK(carve_layout_summary(f.image, &sum));
        EXPECT(sum.heap_free_pages == sum.heap_pages && sum.in_use_bytes == 0);
        EXPECT(sum.misuse_count == 0);
    }
    EXPECT_IMAGE_VALID(&f);
    printf("random (options %u): %" PRIu64 " operations, %" PRIu64
           " heap blocks, %" PRIu64 " NULLs\n",
           (unsigned)options, op, heap_blocks, nulls);
    free(live);
    fixture_free(&f);
}

/* ---- threads ------------------------------------------------------------------ */

enum { THREADS = 4, MAILBOXES = 64 };

typedef struct racer {
    core_fixture *f;
    uint32_t id;
    uint64_t operations;
    uint64_t seed;
    uint64_t allocated, freed, handed, nulls, contended, damaged;
} racer;

/* A block's first word says who it is, so that whoever frees it can check
 * every byte. */
typedef struct handoff {
    unsigned char *p;
    uint64_t bytes;
} handoff;

static handoff *_Atomic mailbox[MAILBOXES];

static uint64_t block_tag_of(const unsigned char *p)
{
    uint64_t tag;
    memcpy(&tag, p, sizeof tag);
    return tag;
}

static void stamp(unsigned char *p, uint64_t bytes, uint64_t tag)
{
    memcpy(p, &tag, sizeof tag);
    fill(p + 8, bytes - 8, (uint32_t)tag);
}

static int stamped(const unsigned char *p, uint64_t bytes)
{
    return intact(p + 8, bytes - 8, (uint32_t)block_tag_of(p));
}

static void release_checked(racer *r, carve_arena *a, handoff *h)
{
    if (!stamped(h->p, h->bytes))
        ++r->damaged;
    carve_alloc_free(a, h->p, 71);
    ++r->freed;
    free(h);
}

static void *race(void *arg)
{
    racer *r = arg;
    carve_test_rng local = {r->seed};
    carve_arena a = fixture_open(r->f, r->id);
    handoff *mine[256];
    size_t count = 0;
    uint64_t op;
    for (op = 0; op < r->operations; ++op) {
        uint64_t roll = carve_test_below(&local, 100);
        if (roll < 50 && count < 256) {
            uint64_t bytes = 16 + carve_test_below(&local, 6000);
            unsigned char *p = carve_alloc_malloc(&a, bytes, 16, 70);
            if (p == NULL) {
                ++r->nulls;
                r->contended +=
                    a.state->last_failure == CARVE_FAIL_CONTENTION;
                continue;
            }
            stamp(p, bytes, ((uint64_t)r->id << 40) | op);
            mine[count] = malloc(sizeof *mine[count]);
            mine[count]->p = p;
            mine[count]->bytes = bytes;
            ++count;
            ++r->allocated;
        } else if (roll < 80 && count > 0) {
            size_t i = (size_t)carve_test_below(&local, count);
            release_checked(r, &a, mine[i]);
            mine[i] = mine[--count];
        } else if (count > 0) {
            /* Hand a block over; free whatever was waiting there. */
            size_t i = (size_t)carve_test_below(&local, count);
            handoff *old = atomic_exchange(
                &mailbox[carve_test_below(&local, MAILBOXES)], mine[i]);
            mine[i] = mine[--count];
            ++r->handed;
            if (old != NULL)
                release_checked(r, &a, old);
        }
    }
    while (count > 0)
        release_checked(r, &a, mine[--count]);
    /* Gives back the heap reservations it holds (carve_heap.h). */
    carve_alloc_close(&a);
    return NULL;
}

static void test_threads(uint64_t operations)
{
    /* Every request goes to the heap; pages of 4 KiB, so a mix of slots and
     * whole-page runs, and room for contention on a small heap. */
    carve_plan_params params = heap_params(THREADS, 1024, 2u << 20, 0);
    core_fixture f;
    pthread_t threads[THREADS];
    racer racers[THREADS], drainer;
    carve_arena drain;
    carve_summary sum;
    uint64_t allocated = 0, freed = 0, nulls = 0, contended = 0, damaged = 0;
    int i;
    params.large_request_bytes = 1;
    f = fixture_make_params(&params);
    for (i = 0; i < THREADS; ++i) {
        racers[i].f = &f;
        racers[i].id = (uint32_t)i;
        racers[i].operations = operations;
        racers[i].seed = carve_test_next(&rng) | 1;
        racers[i].allocated = racers[i].freed = racers[i].handed = 0;
        racers[i].nulls = racers[i].contended = racers[i].damaged = 0;
        pthread_create(&threads[i], NULL, race, &racers[i]);
    }
    for (i = 0; i < THREADS; ++i) {
        pthread_join(threads[i], NULL);
        allocated += racers[i].allocated;
        freed += racers[i].freed;
        nulls += racers[i].nulls;
        contended += racers[i].contended;
        damaged += racers[i].damaged;
    }
    /* What is still in the mailboxes is freed here, checked the same way. */
    drain = fixture_open(&f, 0);
    memset(&drainer, 0, sizeof drainer);
    for (i = 0; i < MAILBOXES; ++i) {
        handoff *h = atomic_exchange(&mailbox[i], NULL);
        if (h != NULL)
            release_checked(&drainer, &drain, h);
    }
    carve_alloc_close(&drain);
    freed += drainer.freed;
    damaged += drainer.damaged;
    EXPECT(damaged == 0);
    EXPECT(allocated == freed);
    EXPECT_IMAGE_VALID(&f);
    REQUIRE_OK(carve_layout_summary(f.image, &sum));
    EXPECT(sum.heap_free_pages == sum.heap_pages && sum.heap_live_blocks == 0);
    EXPECT(sum.misuse_count == 0 && sum.heap_allocs == allocated &&
           sum.heap_frees == freed);
    printf("threads: %d x %" PRIu64 " operations, %" PRIu64
           " blocks, %" PRIu64 " NULLs (%" PRIu64 " from contention)\n",
           THREADS, operations, allocated, nulls, contended);
    fixture_free(&f);
}

int main(int argc, char **argv)
{
    uint64_t seed = carve_test_seed(argc, argv, 0x4ea9c0ffeeull);
    uint64_t operations = argc > 2 ? strtoull(argv[2], NULL, 0) : 20000;
    printf("heap: seed 0x%" PRIx64 ", %" PRIu64 " operations\n", seed,
           operations);
    rng.state = seed ? seed : 1;
    test_routing();
    test_freed_slot(0, 0);
    test_freed_slot(0, 64);
    test_freed_slot(CARVE_PLAN_CHECKS, 0);
    test_freed_slot(CARVE_PLAN_CHECKS, 64);
    test_held_reservations();
    test_held_fast_paths();
    test_holds_give_way_to_large();
    test_damaged_holds_stay_inside();
    test_damaged_hold_class_stays_inside();
    test_exhaustion_and_fallback();
    test_alignment_realloc_calloc();
    test_random(operations, 0);
    test_random(operations, CARVE_PLAN_HEAP_FALLBACK);
    test_threads(operations * 5);
    return carve_test_finish("heap");
}
