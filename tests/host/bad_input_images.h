/*
 * bad_input_images.h - damaged carve images for the host bad-input tests
 * (bad_input.c for the layout functions, bad_input_diag.c for the
 * diagnostics): an image with every part, a table of header fields each
 * damaged one way, and random damage to a header, to what lies behind it,
 * or random bytes in place of an image.
 */
#ifndef BAD_INPUT_IMAGES_H
#define BAD_INPUT_IMAGES_H

#include "core_fixture.h"

#include <stddef.h>

/* An image with every part: checks, an event log, a heap with fallback,
 * and a few live and freed blocks in arenas and the heap. */
static inline core_fixture full_image(void)
{
    carve_plan_params p;
    core_fixture f;
    carve_arena a, b;
    void *gone;
    memset(&p, 0, sizeof p);
    p.arena_count = 4;
    p.arena_bytes = 512;
    p.options = CARVE_PLAN_CHECKS | CARVE_PLAN_HEAP_FALLBACK;
    p.heap_bytes = 32 * 1024;
    p.event_log_records = 32;
    p.error_log_records = 8;
    f = fixture_make_params(&p);
    a = carve_core_open(f.image, 0);
    b = carve_core_open(f.image, 1);
    carve_alloc_malloc(&a, 100, 16, 1);
    gone = carve_alloc_malloc(&a, 40, 16, 2);
    carve_alloc_malloc(&a, 24, 16, 3);
    carve_alloc_free(&a, gone, 4);
    carve_alloc_malloc(&b, 4000, 16, 5); /* large: the heap */
    gone = carve_alloc_malloc(&b, 200, 16, 6);
    carve_alloc_free(&b, gone, 7);
    carve_alloc_free(&b, (unsigned char *)gone + 4, 8); /* an error record */
    carve_core_close(&a);
    carve_core_close(&b);
    REQUIRE_OK(carve_layout_check(f.image, NULL, NULL));
    return f;
}

static inline unsigned char *copy_of(const core_fixture *f)
{
    unsigned char *copy = malloc((size_t)f->plan.total_bytes);
    if (copy == NULL) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    return memcpy(copy, f->image, (size_t)f->plan.total_bytes);
}

static inline int same_image(const core_fixture *f, const unsigned char *copy)
{
    return memcmp(f->image, copy, (size_t)f->plan.total_bytes) == 0;
}

typedef enum damage_kind { DAMAGE_SET, DAMAGE_ADD } damage_kind;

typedef struct header_damage {
    const char *input;
    size_t field; /* offsetof(carve_set_header, ...) */
    damage_kind kind;
    uint32_t value;
} header_damage;

#define FIELD(name) offsetof(carve_set_header, name)
#define PAST_THE_END 0xfffffff0u

/* One field each, of the image full_image() makes. */
static const header_damage header_damages[] = {
    {"`magic` wrong", FIELD(magic), DAMAGE_SET, 0x12345678u},
    {"`version` + 1", FIELD(version), DAMAGE_ADD, 1},
    {"`header_bytes` 64", FIELD(header_bytes), DAMAGE_SET, 64},
    {"`total_bytes` 0", FIELD(total_bytes), DAMAGE_SET, 0},
    {"`arena_count` 0", FIELD(arena_count), DAMAGE_SET, 0},
    {"`arena_count` `UINT32_MAX`", FIELD(arena_count), DAMAGE_SET, UINT32_MAX},
    {"`arena_granules` + 1", FIELD(arena_granules), DAMAGE_ADD, 1},
    {"`arena_stride` 16 (arenas overlap)", FIELD(arena_stride), DAMAGE_SET, 16},
    {"`arena_stride` + 4 (not a multiple of 16)", FIELD(arena_stride),
     DAMAGE_ADD, 4},
    {"`arenas_offset` + 4 (misaligned)", FIELD(arenas_offset), DAMAGE_ADD, 4},
    {"`arenas_offset` past the end", FIELD(arenas_offset), DAMAGE_SET,
     PAST_THE_END},
    {"`state_offset` 0 (over the header)", FIELD(state_offset), DAMAGE_SET, 0},
    {"`state_offset` past the end", FIELD(state_offset), DAMAGE_SET,
     PAST_THE_END},
    {"`state_stride` + 16", FIELD(state_stride), DAMAGE_ADD, 16},
    {"`class_count` + 1", FIELD(class_count), DAMAGE_ADD, 1},
    {"`class_words` + 1", FIELD(class_words), DAMAGE_ADD, 1},
    {"`bitmap_words` `0x10000000`", FIELD(bitmap_words), DAMAGE_SET,
     0x10000000u},
    {"`options` with an unknown bit", FIELD(options), DAMAGE_ADD, 0x80},
    {"`error_offset` past the end", FIELD(error_offset), DAMAGE_SET,
     PAST_THE_END},
    {"`error_offset` + 4 (misaligned)", FIELD(error_offset), DAMAGE_ADD, 4},
    {"`error_capacity` `0x10000000` (records past the end)",
     FIELD(error_capacity), DAMAGE_SET, 0x10000000u},
    {"`event_capacity` 0 while `options` says there is an event log",
     FIELD(event_capacity), DAMAGE_SET, 0},
    {"`event_offset` past the end", FIELD(event_offset), DAMAGE_SET,
     PAST_THE_END},
    {"`heap_pages` 0 while `options` says `HEAP_FALLBACK`", FIELD(heap_pages),
     DAMAGE_SET, 0},
    {"`heap_pages` `0x01000000` (pages past the end)", FIELD(heap_pages),
     DAMAGE_SET, 0x01000000u},
    {"`heap_page_bytes` 3000", FIELD(heap_page_bytes), DAMAGE_SET, 3000},
    {"`heap_offset` + 16 (not on 128 bytes)", FIELD(heap_offset), DAMAGE_ADD,
     16},
    {"`heap_meta_offset` past the end", FIELD(heap_meta_offset), DAMAGE_SET,
     PAST_THE_END},
    {"`heap_meta_offset` + 4 (misaligned)", FIELD(heap_meta_offset),
     DAMAGE_ADD, 4},
    {"`heap_meta_stride` + 4", FIELD(heap_meta_stride), DAMAGE_ADD, 4},
    {"`heap_map_words` + 1", FIELD(heap_map_words), DAMAGE_ADD, 1},
    {"`heap_class_count` + 1", FIELD(heap_class_count), DAMAGE_ADD, 1},
};

static inline uint32_t *header_word(unsigned char *image, size_t field)
{
    return (uint32_t *)(void *)(image + field);
}

static inline void fill_random(carve_test_rng *rng, unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i)
        p[i] = (unsigned char)carve_test_next(rng);
}


#define HEADER_DAMAGES (sizeof header_damages / sizeof header_damages[0])

/* full_image() and its bytes as made: each round damages a fresh copy. */
typedef struct damage_target {
    core_fixture f;
    unsigned char *image; /* f.image, the copy to damage */
    unsigned char *pristine;
    size_t size;
} damage_target;

static inline damage_target damage_target_make(void)
{
    damage_target t;
    t.f = full_image();
    t.image = t.f.image;
    t.size = (size_t)t.f.plan.total_bytes;
    t.pristine = copy_of(&t.f);
    return t;
}

/* The image as it was made, for the next damage. */
static inline void damage_target_restore(damage_target *t)
{
    memcpy(t->image, t->pristine, t->size);
}

static inline void damage_target_free(damage_target *t)
{
    free(t->pristine);
    fixture_free(&t->f);
}

/* The image as made, with damage `d` done to its header. */
static inline void damage_field(damage_target *t, const header_damage *d)
{
    uint32_t *word = header_word(t->image, d->field);
    damage_target_restore(t);
    *word = d->kind == DAMAGE_SET ? d->value : *word + d->value;
}

/* Random damage to one to three words of a header. */
static inline void damage_header_words(carve_test_rng *rng,
                                       unsigned char *image)
{
    int words = 1 + (int)carve_test_below(rng, 3), w;
    for (w = 0; w < words; ++w) {
        uint32_t *word =
            header_word(image, 4 * (size_t)carve_test_below(rng, 32));
        switch (carve_test_below(rng, 4)) {
        case 0: *word = (uint32_t)carve_test_next(rng); break;
        case 1: *word += (uint32_t)carve_test_below(rng, 64) - 32; break;
        case 2: *word ^= 1u << carve_test_below(rng, 32); break;
        default: *word = 0; break;
        }
    }
}

/* Random damage to one to eight places behind the header: state table,
 * logs, heap tables, arenas and heap pages. */
static inline void damage_body(carve_test_rng *rng, unsigned char *image,
                               size_t size)
{
    int hits = 1 + (int)carve_test_below(rng, 8), k;
    for (k = 0; k < hits; ++k) {
        size_t at = sizeof(carve_set_header) +
                    (size_t)carve_test_below(
                        rng, size - sizeof(carve_set_header) - 4);
        if (carve_test_below(rng, 2))
            *header_word(image, at & ~(size_t)3) =
                (uint32_t)carve_test_next(rng);
        else
            image[at] ^= (unsigned char)(1u << carve_test_below(rng, 8));
    }
}

/* Random bytes in the last *size bytes (4 to 4096, a multiple of 4) of
 * `buf` (4096 bytes), so that a read past them is a read past the buffer
 * (which ASan sees). With `good_start` and room for a header, its magic,
 * version and header size are right, so that the checks of the other
 * fields are reached. Returns where they start. */
static inline unsigned char *random_image(carve_test_rng *rng,
                                          unsigned char *buf, int good_start,
                                          size_t *size)
{
    size_t n = 4 * ((size_t)carve_test_below(rng, 1024) + 1);
    unsigned char *mem = buf + 4096 - n;
    fill_random(rng, mem, n);
    if (good_start && n >= sizeof(carve_set_header)) {
        *header_word(mem, FIELD(magic)) = CARVE_SET_MAGIC;
        *header_word(mem, FIELD(version)) = CARVE_SET_VERSION;
        *header_word(mem, FIELD(header_bytes)) = sizeof(carve_set_header);
    }
    *size = n;
    return mem;
}

/* The random damage's generator, seeded by argv[2] (after the docs path
 * or "-"), or CARVE_TEST_SEED, or `fallback`; the seed is printed so that
 * a failure can be replayed. */
static inline carve_test_rng damage_rng(int argc, char **argv,
                                        uint64_t fallback)
{
    const char *seed_text = argc > 2 ? argv[2] : getenv("CARVE_TEST_SEED");
    carve_test_rng rng;
    rng.state = seed_text ? strtoull(seed_text, NULL, 0) : fallback;
    if (rng.state == 0)
        rng.state = 1;
    fprintf(stderr, "seed 0x%" PRIx64 "\n", rng.state);
    return rng;
}

#endif /* BAD_INPUT_IMAGES_H */
