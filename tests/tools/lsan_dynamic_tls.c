/*
 * lsan_dynamic_tls.c - LeakSanitizer with a dynamic TLS block at an address
 * that is 16 modulo 4096, the state that made device_build's sanitizer run
 * die after it had passed ("Tracer caught signal 11") on some machines.
 * cmake/sanitize.cmake explains the runtime's fault and the option that
 * avoids it.
 *
 *   lsan_dynamic_tls MODULE hold   a block reachable only from the dynamic
 *                                  TLS: must exit 0 with no report
 *   lsan_dynamic_tls MODULE leak   a block nothing points to: LeakSanitizer
 *                                  must still report it
 *
 * The test places the block there itself: with ASan's quarantine off
 * (quarantine_size_mb=0:thread_local_quarantine_size_kb=0, set by CTest),
 * a freed chunk is the next one malloc() hands out for its size on this
 * thread, so freeing a 32-byte chunk at such an address just before the
 * module's first TLS access gives the module that chunk. The test fails if
 * the block does not land there, so it cannot pass without the condition.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { block_bytes = 32, misread_offset = 16, page = 4096, tries = 8192 };

typedef void **(*block_function)(void);

int main(int argc, char **argv)
{
    static void *held[tries];
    size_t held_count = 0, i;
    void *target = NULL, *module;
    block_function block;
    void **tls;

    if (argc != 3 || (strcmp(argv[2], "hold") != 0 && strcmp(argv[2], "leak") != 0)) {
        fprintf(stderr, "usage: %s MODULE hold|leak\n", argv[0]);
        return 2;
    }
    module = dlopen(argv[1], RTLD_NOW);
    if (module == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    *(void **)&block = dlsym(module, "carve_dtls_block");
    if (block == NULL) {
        fprintf(stderr, "dlsym: %s\n", dlerror());
        return 1;
    }
    while (held_count < tries) {
        void *p = malloc(block_bytes);
        if (p != NULL && (uintptr_t)p % page == misread_offset) {
            target = p;
            break;
        }
        held[held_count++] = p;
    }
    free(target);
    tls = block(); /* this thread's first access: glibc mallocs the block */
    for (i = 0; i < held_count; ++i)
        free(held[i]);
    if (target == NULL || (void *)tls != target) {
        fprintf(stderr, "the TLS block is at %p, not at %p (16 modulo 4096): "
                        "is ASan's quarantine on?\n", (void *)tls, target);
        return 1;
    }
    printf("dynamic TLS block at %p\n", (void *)tls);
    /* volatile: the compiler keeps the allocation and both stores */
    ((void *volatile *)tls)[0] = malloc(100);
    if (strcmp(argv[2], "leak") == 0)
        ((void *volatile *)tls)[0] = NULL;
    return 0;
}
