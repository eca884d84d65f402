/* SPDX-License-Identifier: MIT */
/*
 * A sketch of Xen's kexec_load (xen/common/kexec.c) on include/xen-kexec.h: one call
 * replaces the copy of the load structure, the nr_segments test, the copy of the segment
 * array and kimage_alloc's checks; the hypervisor then acts on the validated copy only.
 * Guest memory is a byte array here, and "acting" prints what Xen would do.
 * Build: cc -Iinclude ffi/examples/kexec_load.c $(scripts/ffi-staticlib) \
 *            -Wl,--gc-sections
 */
#include <stdio.h>
#include <string.h>

#include "xen-kexec.h"

#define KEXEC_CMD_kexec_load 4

static unsigned char guest_ram[0x10000]; /* guest addresses 0 to 0xffff */

/* Xen: copy_from_guest_raw(); here a bounds-checked memcpy. */
static int copy_from(void *ctx, void *dst, uint64_t addr, size_t len)
{
    (void)ctx;
    if (addr > sizeof guest_ram || len > sizeof guest_ram - addr)
        return 1;
    memcpy(dst, guest_ram + addr, len);
    return 0;
}

static int kexec_load(unsigned int guest_bits, uint64_t arg)
{
    xen_kexec_guest_t guest = {0, NULL, copy_from, NULL};
    xen_kexec_host_t host = {4096, 0x20000000, 0x4000000, XEN_KEXEC_RULES_STRICT}; /* kexec_crash_area */
    xen_kexec_op_t op;
    char why[128];
    uint32_t i;
    int rc;

    guest.bits = guest_bits; /* 32 for a compat (32-on-64) guest */
    rc = xen_kexec_decode(&guest, &host, KEXEC_CMD_kexec_load, arg, &op, why, sizeof why);
    if (rc) {
        printf("kexec_load: refused: %d (%s)\n", rc, why);
        return rc;
    }
    /* From here on only op is read: the guest cannot change what was checked. */
    printf("kexec_load: %s image, %u segments, %u-bit entry at %#llx\n",
           op.type ? "crash" : "default", (unsigned)op.nr_segments, op.entry_bits,
           (unsigned long long)op.entry_maddr);
    for (i = 0; i < op.nr_segments; i++) { /* kimage_load_segments() */
        const xen_kexec_plain_segment_t *s = &op.segments[i];
        if (s->buf)
            printf("  copy %#llx bytes from %#llx to %#llx, zero the rest of %#llx\n",
                   (unsigned long long)s->buf_size, (unsigned long long)s->buf,
                   (unsigned long long)s->dest_maddr, (unsigned long long)s->dest_size);
        else
            printf("  map %#llx bytes at %#llx 1:1\n", (unsigned long long)s->dest_size,
                   (unsigned long long)s->dest_maddr);
    }
    return 0;
}

int main(void)
{
    /* The toolstack's side (libxenctrl): a crash load from a 32-bit dom0, encoded into
     * its memory: the load structure at 0x1000, the segment array at 0x2000. */
    xen_kexec_host_t host = {4096, 0x20000000, 0x4000000, XEN_KEXEC_RULES_STRICT};
    xen_kexec_plain_segment_t segs[2] = {{0x8000, 0x1800, 0x20000000, 0x2000},
                                         {0, 0, 0x20100000, 0x100000}};
    if (xen_kexec_encode_load(32, &host, 1 /* KEXEC_TYPE_CRASH */, 62 /* EM_X86_64 */,
                              0x20000000, segs, 2, 0x2000, guest_ram + 0x1000,
                              XEN_KEXEC_LOAD_SIZE, guest_ram + 0x2000,
                              2 * XEN_KEXEC_SEGMENT_SIZE) != 0)
        return 1;
    if (kexec_load(32, 0x1000) != 0)
        return 1;
    guest_ram[0x1000 + 1] = 0xff; /* the guest fills the reserved _pad byte */
    return kexec_load(32, 0x1000) < 0 ? 0 : 1;
}
