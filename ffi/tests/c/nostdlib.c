/* SPDX-License-Identifier: MIT */
/*
 * Linked by ffi/tests/c_harness.rs with -nostdlib -static against the staticlib: the
 * decoder must need nothing from a C library or from Rust's std, only the four memory
 * functions every hypervisor has (Xen's own are in xen/lib/). Entry point: decode_one.
 */
#include "xen-kexec.h"

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
int bcmp(const void *a, const void *b, size_t n);
int decode_one(void);

void *memcpy(void *dst, const void *src, size_t n)
{
    return memmove(dst, src, n);
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s)
        while (n--)
            *d++ = *s++;
    else
        while (n--)
            d[n] = s[n];
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

int bcmp(const void *a, const void *b, size_t n)
{
    return memcmp(a, b, n);
}

static int copy_from(void *ctx, void *dst, uint64_t guest_addr, size_t len)
{
    (void)ctx;
    (void)guest_addr;
    memset(dst, 0, len);
    return 0;
}

int decode_one(void)
{
    xen_kexec_guest_t guest = {64, 0, copy_from, 0};
    xen_kexec_host_t host = {4096, 0x20000000, 0x4000000, XEN_KEXEC_RULES_STRICT};
    xen_kexec_plain_segment_t seg = {0x8000, 0x800, 0x20000000, 0x1000};
    unsigned char load[24], segs[32];
    xen_kexec_op_t op;
    char why[128];
    return xen_kexec_decode(&guest, &host, 4, 0x1000, &op, why, sizeof why)
        + xen_kexec_complete_get_range(&guest, 0x1000, &op, 0, 0)
        + xen_kexec_encode_load(32, &host, 1, 62, 0x20000000, &seg, 1, 0x9000, load, sizeof load,
                                segs, sizeof segs);
}
