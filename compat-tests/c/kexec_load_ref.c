/* SPDX-License-Identifier: MIT */
/*
 * A reference decode of KEXEC_CMD_kexec_load in C: the yardstick the Rust decoder is
 * benchmarked against (compat-tests/benches/kexec_op.rs). Not shipped code.
 *
 * Written here from Xen 4.23's rules (xen/common/kexec.c, kimage.c), in Xen's order:
 * copy the load structure, bound the count, copy the segment array, then the type, the
 * crash region, each segment's alignment and wrap, the pairwise overlap test (Xen's
 * nested loop), the buffer sizes and the arch. So that it does the same work as the
 * crate and gives the same errno, it makes the crate's documented departures from Xen
 * (abi/src/load/rules.rs): 16 segments are accepted, a destination whose end wraps
 * past 2^64 is EADDRNOTAVAIL (one ending exactly at 2^64 is accepted), the crash entry
 * must be inside the region, the reserved _pad byte must be zero. compat-tests/tests/c_reference.rs checks it agrees with the crate.
 *
 * Guest memory is one flat buffer (copy_from_guest is a bounds check and a memcpy), as
 * for the crate's FlatMemory. The errno values (REF_E*) and the ELF machines come from
 * the crate through the build script; the structures are the generated kexec.h's.
 */
#include <stdint.h>
#include <string.h>

#include "xen.h"
#include "kexec.h"

struct ref_guest {
    const uint8_t *bytes;
    uint64_t base;
    uint64_t size;
};

struct ref_host {
    uint64_t page_size;
    uint64_t crash_start;
    uint64_t crash_size;
    uint32_t has_crash;
};

/* The validated load: what the hypervisor acts on. */
struct ref_load {
    uint8_t type;
    uint8_t long_mode;
    uint16_t arch;
    uint32_t nr_segments;
    uint64_t entry_maddr;
    xen_kexec_segment_t segments[KEXEC_SEGMENT_MAX];
};

static int copy_from_guest(void *dst, const struct ref_guest *g, uint64_t addr,
                           uint64_t len)
{
    uint64_t off = addr - g->base;

    if ( addr < g->base || off > g->size || len > g->size - off )
        return -REF_EFAULT;
    memcpy(dst, g->bytes + off, len);
    return 0;
}

int ref_kexec_load(int compat, const struct ref_guest *g, uint64_t arg,
                   const struct ref_host *h, struct ref_load *out)
{
    xen_kexec_load_t load;
    xen_kexec_segment_t *segs = out->segments;
    uint64_t seg_addr, mask = h->page_size - 1;
    uint32_t i, j, n;

    /* The compat structures have the native ones' bytes (only alignment differs). */
    if ( copy_from_guest(&load, g, arg, sizeof(load)) )
        return -REF_EFAULT;
    n = load.nr_segments;
    if ( n > KEXEC_SEGMENT_MAX )
        return -REF_EINVAL;
    seg_addr = compat ? (uint32_t)load.segments._pad : load.segments._pad;
    if ( n && copy_from_guest(segs, g, seg_addr, n * sizeof(*segs)) )
        return -REF_EFAULT;
    if ( compat )
        for ( i = 0; i < n; i++ )
            segs[i].buf._pad = (uint32_t)segs[i].buf._pad;

    if ( load.type != KEXEC_TYPE_DEFAULT && load.type != KEXEC_TYPE_CRASH )
        return -REF_EINVAL;

    if ( load.type == KEXEC_TYPE_CRASH )
    {
        /* Offsets from the region's start: a region (or a segment) may end at 2^64. */
        uint64_t cstart = h->crash_start, csize = h->crash_size;

        if ( !h->has_crash )
            return -REF_EADDRNOTAVAIL;
        if ( load.entry_maddr < cstart || load.entry_maddr - cstart >= csize )
            return -REF_EADDRNOTAVAIL;
        for ( i = 0; i < n; i++ )
        {
            uint64_t mstart = segs[i].dest_maddr, msize = segs[i].dest_size;

            if ( !segs[i].buf._pad )
                continue;
            if ( mstart < cstart || msize > csize || mstart - cstart > csize - msize )
                return -REF_EADDRNOTAVAIL;
        }
    }

    for ( i = 0; i < n; i++ )
    {
        uint64_t mstart = segs[i].dest_maddr;
        uint64_t mend = mstart + segs[i].dest_size;

        if ( mstart & mask )
            return -REF_EADDRNOTAVAIL;
        /* A wrap past 2^64; an end of exactly 2^64 (mend 0) is accepted. */
        if ( mend < mstart && mend != 0 )
            return -REF_EADDRNOTAVAIL;
        if ( mend & mask )
            return -REF_EADDRNOTAVAIL;
    }

    for ( i = 0; i < n; i++ )
    {
        uint64_t mstart = segs[i].dest_maddr;
        uint64_t mend = mstart + segs[i].dest_size;

        for ( j = 0; j < i; j++ )
        {
            uint64_t pstart = segs[j].dest_maddr;
            uint64_t pend = pstart + segs[j].dest_size;

            /* An end below its start is 2^64 (wraps were refused above). */
            if ( (pend < pstart || mstart < pend) && (mend < mstart || pstart < mend) )
                return -REF_EINVAL;
        }
    }

    for ( i = 0; i < n; i++ )
        if ( segs[i].buf_size > segs[i].dest_size )
            return -REF_EINVAL;

    if ( load.arch != REF_EM_386 && load.arch != REF_EM_X86_64 )
        return -REF_EINVAL;

    if ( load._pad )
        return -REF_EINVAL;

    out->type = load.type;
    out->long_mode = load.arch == REF_EM_X86_64;
    out->arch = load.arch;
    out->nr_segments = n;
    out->entry_maddr = load.entry_maddr;
    return 0;
}
