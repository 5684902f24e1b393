/* Zero-copy probe: run by the host library on a freshly carved buffer. The
 * host compares the address reported here with its own mapping of the
 * buffer; equal addresses prove the device works on the host's bytes. The
 * echo proves the kernel really ran on this buffer. */
#include "carve_core.h"

kernel void carve_probe(global carve_set_header *header)
{
    ulong address = (ulong)(uintptr_t)header;
    header->probe_address_lo = (uint)address;
    header->probe_address_hi = (uint)(address >> 32);
    header->probe_echo = header->probe_nonce + 1u;
}
