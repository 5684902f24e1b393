/*
 * dtls_module.c - a library with thread-local storage, for
 * lsan_dynamic_tls.c. Loaded with dlopen(), its TLS is dynamic: glibc
 * allocates a thread's block with malloc() on that thread's first access
 * through __tls_get_addr, as it does for libLLVM when PoCL loads it.
 */

/* 32 bytes, no more than malloc's alignment: glibc takes the block from
 * malloc(32) itself, not from an over-allocation it aligns. */
__thread void *carve_dtls_slots[4];

void **carve_dtls_block(void);

void **carve_dtls_block(void)
{
    return carve_dtls_slots;
}
