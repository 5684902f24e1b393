/* Zero-copy probe, run by the host library on every new region: words[0]
 * holds the host's nonce; the kernel echoes it (proving it ran on this
 * memory) and reports the address it sees, which the host compares with
 * the pages it gave the device. */
kernel void carve_probe_words(global uint *words)
{
    ulong address = (ulong)(uintptr_t)words;
    words[1] = words[0] + 1u;
    words[2] = (uint)address;
    words[3] = (uint)(address >> 32);
}
