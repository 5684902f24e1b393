/*
 * factorize.c - every work-item factorises one 64-bit number by trial
 * division into an array of prime factors that it grows with carve_realloc,
 * and leaves a small result record in its arena. The host reads every
 * record in place and checks it: the factors are prime, nondecreasing,
 * multiply to the number, and are the ones the host built the number from.
 *
 * The numbers, all below 2^40, mix cheap and expensive cases: products of
 * many small primes (up to 39 factors, so the array doubles five times),
 * numbers with one medium prime factor, and a few large primes and
 * products of two 20-bit primes, the worst case for trial division.
 */
#include "example_support.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1/128 of the numbers under CARVE_QUICK (for a simulator such as Oclgrind) */
#define NUMBER_COUNT (example_quick() ? 1u << 8 : 1u << 15)
#define NUMBER_SEED 0xfac7051eull
#define NUMBER_BITS 40u
/* 2^39 has the most prime factors of any number below 2^40. */
#define MAX_FACTORS 39u
/* Every factor a trial division can meet below the square root of 2^40. */
#define SIEVE_LIMIT (1u << (NUMBER_BITS / 2))
#define EDGE_CASE_COUNT 6u

/* The kernel and the host agree on this layout: fixed-width fields, and an
 * offset from the buffer's base instead of a pointer. */
typedef struct factor_list {
    uint64_t number;
    uint32_t count;
    uint32_t factors; /* uint64_t[count], nondecreasing; 0 when count is 0 */
} factor_list;

_Static_assert(sizeof(factor_list) == 16, "factor_list matches the kernel's");
_Static_assert(offsetof(factor_list, factors) == 12,
               "factor_list matches the kernel's");

static const char kernel_source[] =
    "#include \"carve.clh\"\n"
    "\n"
    "typedef struct factor_list {\n"
    "    ulong number;\n"
    "    uint count;\n"
    "    uint factors;\n"
    "} factor_list;\n"
    "\n"
    "typedef struct growing_array {\n"
    "    global ulong *items;\n"
    "    uint count;\n"
    "    uint capacity;\n"
    "} growing_array;\n"
    "\n"
    "/* Doubles the array when it is full. The array is the top block of\n"
    " * the arena, so carve_realloc extends it in place: no copy, no free.\n"
    " * 0 when the arena has no room; the array is then left as it was. */\n"
    "int append(carve_arena *a, growing_array *f, ulong value)\n"
    "{\n"
    "    if (f->count == f->capacity) {\n"
    "        uint capacity = f->capacity == 0 ? 2 : 2 * f->capacity;\n"
    "        global ulong *grown =\n"
    "            carve_realloc(a, f->items, capacity * sizeof(ulong));\n"
    "        if (grown == 0)\n"
    "            return 0;\n"
    "        f->items = grown;\n"
    "        f->capacity = capacity;\n"
    "    }\n"
    "    f->items[f->count++] = value;\n"
    "    return 1;\n"
    "}\n"
    "\n"
    "int divide_out(carve_arena *a, growing_array *f, ulong *n, ulong d)\n"
    "{\n"
    "    while (*n % d == 0) {\n"
    "        if (!append(a, f, d))\n"
    "            return 0;\n"
    "        *n /= d;\n"
    "    }\n"
    "    return 1;\n"
    "}\n"
    "\n"
    "/* Trial division by 2, 3 and every 6k - 1 and 6k + 1. */\n"
    "int factorize(carve_arena *a, ulong n, growing_array *f)\n"
    "{\n"
    "    if (n == 0) /* every prime divides 0: no factorisation */\n"
    "        return 1;\n"
    "    if (!divide_out(a, f, &n, 2) || !divide_out(a, f, &n, 3))\n"
    "        return 0;\n"
    "    for (ulong d = 5; d * d <= n; d += 6)\n"
    "        if (!divide_out(a, f, &n, d) || !divide_out(a, f, &n, d + 2))\n"
    "            return 0;\n"
    "    return n == 1 || append(a, f, n);\n"
    "}\n"
    "\n"
    "kernel void factorize_numbers(global uchar *carved,\n"
    "                              global const ulong *numbers)\n"
    "{\n"
    "    uint i = carve_flat_global_id();\n"
    "    carve_arena a = carve_arena_open(carved, i);\n"
    "    global factor_list *result = carve_malloc(&a, sizeof(factor_list));\n"
    "    growing_array f = {0, 0, 0};\n"
    "    if (result != 0) {\n"
    "        factorize(&a, numbers[i], &f);\n"
    "        if (f.count != 0 && f.count < f.capacity) {\n"
    "            /* Give back the unused half of the last doubling. */\n"
    "            global ulong *fitted =\n"
    "                carve_realloc(&a, f.items, f.count * sizeof(ulong));\n"
    "            if (fitted != 0)\n"
    "                f.items = fitted;\n"
    "        }\n"
    "        result->number = numbers[i];\n"
    "        result->count = f.count;\n"
    "        result->factors = carve_offset(&a, f.items);\n"
    "        carve_set_root(&a, result);\n"
    "    }\n"
    "    carve_arena_close(&a);\n"
    "}\n";

/* ---- arena size ------------------------------------------------------------
 * A work-item holds its 16-byte record and one array of at most
 * MAX_FACTORS = 39 factors, which doubling makes 64 (512 bytes). Even if
 * every growth had to move the array and no freed block were ever reused,
 * the arena would hold the record and every array size at once:
 * 16 + 8 (2 + 4 + ... + 64) = 1024 bytes. */
#define ARENA_BYTES 1024u

/* ---- primes ------------------------------------------------------------- */

/* composite[i] != 0 when i < SIEVE_LIMIT is not prime. */
static unsigned char *sieve_create(void)
{
    unsigned char *composite = calloc(SIEVE_LIMIT, 1);
    uint32_t i, j;
    if (composite == NULL)
        return NULL;
    composite[0] = composite[1] = 1;
    for (i = 2; i * i < SIEVE_LIMIT; ++i)
        if (!composite[i])
            for (j = i * i; j < SIEVE_LIMIT; j += i)
                composite[j] = 1;
    return composite;
}

/* a * b mod m for a, b < m < 2^40, without overflowing 64 bits: b is split
 * into 20-bit halves, so no partial product reaches 2^61. */
static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m)
{
    uint64_t high = (a * (b >> 20)) % m;
    return ((high << 20) + a * (b & 0xfffffu)) % m;
}

static uint64_t powmod(uint64_t base, uint64_t exponent, uint64_t m)
{
    uint64_t result = 1;
    for (base %= m; exponent != 0; exponent >>= 1) {
        if (exponent & 1u)
            result = mulmod(result, base, m);
        base = mulmod(base, base, m);
    }
    return result;
}

/* Miller-Rabin with the first seven primes as witnesses: exact for every
 * n below 3.4 * 10^14, which covers 2^40. */
static int is_prime_miller_rabin(uint64_t n)
{
    static const uint64_t witnesses[] = {2, 3, 5, 7, 11, 13, 17};
    uint64_t d = n - 1, x;
    unsigned s = 0, i, r;
    for (; (d & 1u) == 0; d >>= 1)
        ++s;
    for (i = 0; i < sizeof witnesses / sizeof witnesses[0]; ++i) {
        if (witnesses[i] % n == 0)
            continue;
        x = powmod(witnesses[i], d, n);
        for (r = 1; r < s && x != 1 && x != n - 1; ++r)
            x = mulmod(x, x, n);
        if (x != 1 && x != n - 1)
            return 0;
    }
    return 1;
}

static int is_prime(const unsigned char *composite, uint64_t n)
{
    if (n < SIEVE_LIMIT)
        return !composite[n];
    return n < (1ull << NUMBER_BITS) && (n & 1u) && is_prime_miller_rabin(n);
}

/* ---- the numbers, built from their factors ------------------------------ */

/* The host knows every answer because it builds each number from primes. */
typedef struct expected_factors {
    uint32_t count;
    uint64_t factors[MAX_FACTORS]; /* nondecreasing */
} expected_factors;

typedef struct workload {
    uint64_t *numbers;
    expected_factors *expected;
    unsigned char *composite;
} workload;

/* Multiplies *number by p and records p, keeping the factors sorted. */
static void multiply(uint64_t *number, expected_factors *e, uint64_t p)
{
    uint32_t i = e->count++;
    for (; i > 0 && e->factors[i - 1] > p; --i)
        e->factors[i] = e->factors[i - 1];
    e->factors[i] = p;
    *number *= p;
}

/* A prime in [low, high), found by trying random candidates. */
static uint64_t random_prime(const unsigned char *composite, uint64_t *rng,
                             uint64_t low, uint64_t high)
{
    uint64_t candidate;
    do
        candidate = low + example_random(rng) % (high - low);
    while (!is_prime(composite, candidate));
    return candidate;
}

/* Small primes, smaller ones more often, while the product stays below
 * `limit`. */
static void multiply_small_primes(const unsigned char *composite, uint64_t *rng,
                                  uint64_t *number, expected_factors *e,
                                  uint64_t limit)
{
    for (;;) {
        uint64_t bound = 4u << example_random_below(rng, 9);
        uint64_t p = random_prime(composite, rng, 2, bound);
        if (*number > (limit - 1) / p)
            return;
        multiply(number, e, p);
    }
}

static void make_number(const workload *w, uint64_t *rng, uint32_t i)
{
    const uint64_t limit = 1ull << NUMBER_BITS;
    uint64_t number = 1;
    expected_factors *e = &w->expected[i];
    uint32_t kind = example_random_below(rng, 512);
    e->count = 0;
    if (kind == 0) { /* a large prime */
        multiply(&number, e, random_prime(w->composite, rng, limit / 2, limit));
    } else if (kind == 1) { /* two 20-bit primes */
        multiply(&number, e,
                 random_prime(w->composite, rng, SIEVE_LIMIT / 2, SIEVE_LIMIT));
        multiply(&number, e,
                 random_prime(w->composite, rng, SIEVE_LIMIT / 2, SIEVE_LIMIT));
    } else if (kind < 192) { /* only small primes: many factors */
        multiply_small_primes(w->composite, rng, &number, e, limit);
    } else { /* one medium prime and small ones */
        multiply(&number, e,
                 random_prime(w->composite, rng, 1u << 16, 1u << 24));
        multiply_small_primes(w->composite, rng, &number, e, limit);
    }
    w->numbers[i] = number;
}

/* The extremes first: no factor at all, the most factors, the largest
 * prime, the square of the largest trial divisor. */
static uint32_t make_edge_cases(const workload *w)
{
    const uint64_t limit = 1ull << NUMBER_BITS;
    uint64_t largest_prime = limit - 1, largest_small = SIEVE_LIMIT - 1;
    uint32_t i;
    while (!is_prime(w->composite, largest_prime))
        --largest_prime;
    while (!is_prime(w->composite, largest_small))
        --largest_small;
    for (i = 0; i < EDGE_CASE_COUNT; ++i) {
        w->numbers[i] = 1;
        w->expected[i].count = 0;
    }
    multiply(&w->numbers[1], &w->expected[1], 2);
    for (i = 0; i < MAX_FACTORS; ++i)
        multiply(&w->numbers[2], &w->expected[2], 2);
    for (i = 0; i < 25; ++i) /* 3^25 < 2^40 */
        multiply(&w->numbers[3], &w->expected[3], 3);
    multiply(&w->numbers[4], &w->expected[4], largest_prime);
    multiply(&w->numbers[5], &w->expected[5], largest_small);
    multiply(&w->numbers[5], &w->expected[5], largest_small);
    return EDGE_CASE_COUNT;
}

static carve_status workload_create(workload *w)
{
    uint64_t rng = NUMBER_SEED;
    uint32_t i;
    w->numbers = malloc(NUMBER_COUNT * sizeof *w->numbers);
    w->expected = malloc(NUMBER_COUNT * sizeof *w->expected);
    w->composite = sieve_create();
    if (w->numbers == NULL || w->expected == NULL || w->composite == NULL)
        return CARVE_ERROR_OUT_OF_HOST_MEMORY;
    for (i = make_edge_cases(w); i < NUMBER_COUNT; ++i)
        make_number(w, &rng, i);
    return CARVE_SUCCESS;
}

static void workload_free(workload *w)
{
    free(w->numbers);
    free(w->expected);
    free(w->composite);
}

/* ---- checking the device's results -------------------------------------- */

typedef struct tally {
    uint32_t wrong;
    uint64_t factors;
    uint64_t largest_factor;
    uint64_t result_bytes; /* what the records and arrays occupy */
    uint64_t result_blocks;
} tally;

/* Checks the factors on their own merits: nondecreasing primes whose
 * product is the number. */
static int factors_are_valid(const workload *w, uint64_t number,
                             const uint64_t *factors, uint32_t count)
{
    uint64_t product = 1;
    uint32_t i;
    for (i = 0; i < count; ++i) {
        if (!is_prime(w->composite, factors[i]) ||
            (i > 0 && factors[i] < factors[i - 1]) ||
            product > number / factors[i])
            return 0;
        product *= factors[i];
    }
    return product == number;
}

/* Reads the record of number i in place, in the set's image, and checks
 * it. */
static int result_matches(void *image, const workload *w, uint32_t i,
                          uint32_t root)
{
    const expected_factors *e = &w->expected[i];
    const factor_list *result =
        carve_layout_block(image, i, root, sizeof *result);
    const uint64_t *factors;
    if (result == NULL || result->number != w->numbers[i] ||
        result->count != e->count)
        return 0;
    if (result->count == 0)
        return result->factors == 0 && w->numbers[i] == 1;
    factors = carve_layout_block(image, i, result->factors,
                                 result->count * sizeof *factors);
    return factors != NULL &&
           factors_are_valid(w, w->numbers[i], factors, result->count) &&
           memcmp(factors, e->factors, e->count * sizeof *factors) == 0;
}

static void count_expected(const expected_factors *e, tally *t)
{
    uint64_t array_bytes = example_block_bytes(e->count * sizeof(uint64_t));
    t->factors += e->count;
    if (e->count > 0 && e->factors[e->count - 1] > t->largest_factor)
        t->largest_factor = e->factors[e->count - 1];
    t->result_bytes += example_block_bytes(sizeof(factor_list)) + array_bytes;
    t->result_blocks += e->count > 0 ? 2u : 1u;
}

static carve_status verify_numbers(const carve_set *set, const workload *w,
                                   tally *t)
{
    carve_arena_stats stats;
    void *image = NULL;
    uint32_t i;
    carve_status status = carve_set_image(set, &image);
    memset(t, 0, sizeof *t);
    for (i = 0; i < NUMBER_COUNT && status == CARVE_SUCCESS; ++i) {
        status = carve_layout_arena_stats(image, i, &stats);
        if (status != CARVE_SUCCESS)
            return status;
        count_expected(&w->expected[i], t);
        if (!result_matches(image, w, i, stats.root) && t->wrong++ < 3)
            printf("mismatch for number %u: %llu\n", i,
                   (unsigned long long)w->numbers[i]);
    }
    return status;
}

/* Each work-item must leave exactly its record and its fitted array. */
static int memory_matches_results(const carve_summary *s, const tally *t)
{
    uint64_t live_blocks = s->alloc_count - s->free_count;
    int ok = live_blocks == t->result_blocks &&
             s->in_use_bytes == t->result_bytes;
    printf("memory check: %llu live blocks, %llu bytes in use; the results "
           "need %llu and %llu: %s\n",
           (unsigned long long)live_blocks,
           (unsigned long long)s->in_use_bytes,
           (unsigned long long)t->result_blocks,
           (unsigned long long)t->result_bytes, ok ? "ok" : "DIFFERENT");
    return ok;
}

/* ---- the launch --------------------------------------------------------- */

int main(void)
{
    example_opencl cl;
    workload w = {0};
    cl_mem numbers = NULL;
    cl_program program = NULL;
    cl_kernel kernel = NULL;
    carve_plan plan;
    carve_set *set = NULL;
    carve_summary summary;
    tally t;
    size_t count = NUMBER_COUNT;
    int passed = 0;
    carve_status status = example_opencl_open(&cl);
    if (status != CARVE_SUCCESS) {
        example_opencl_close(&cl);
        return status == CARVE_ERROR_NO_DEVICE ? example_no_device_exit() : 1;
    }
    EXAMPLE_CHECK(workload_create(&w));
    EXAMPLE_CHECK(example_plan(&cl, count, ARENA_BYTES, &plan));
    EXAMPLE_CHECK(example_kernel_build(&cl, kernel_source, "factorize_numbers",
                                       &program, &kernel));
    numbers = clCreateBuffer(cl.context,
                             CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                             count * sizeof *w.numbers, w.numbers, &status);
    EXAMPLE_CHECK(status);
    EXAMPLE_CHECK(clSetKernelArg(kernel, 1, sizeof numbers, &numbers));
    EXAMPLE_CHECK(carve_set_create(cl.context, cl.device, cl.queue, &plan, 0,
                                   &set));
    example_print_zero_copy(set);
    EXAMPLE_CHECK(carve_set_run(set, kernel, 0, 1, &count, NULL));

    EXAMPLE_CHECK(verify_numbers(set, &w, &t));
    printf("verified: %u numbers, %llu prime factors (largest %llu), %u "
           "mismatches\n",
           (unsigned)NUMBER_COUNT, (unsigned long long)t.factors,
           (unsigned long long)t.largest_factor, (unsigned)t.wrong);
    passed = example_report_set(set, &summary);
    passed = memory_matches_results(&summary, &t) && passed && t.wrong == 0;

cleanup:
    carve_set_release(set);
    if (numbers != NULL)
        clReleaseMemObject(numbers);
    if (kernel != NULL)
        clReleaseKernel(kernel);
    if (program != NULL)
        clReleaseProgram(program);
    example_opencl_close(&cl);
    workload_free(&w);
    if (status == CARVE_SUCCESS)
        printf("%s\n", passed ? "PASSED" : "FAILED");
    return status == CARVE_SUCCESS && passed ? 0 : 1;
}
