/* SPDX-License-Identifier: MIT */
/*
 * The C side of ffi/tests/c_harness.rs: reads requests on stdin, calls the C interface
 * of include/xen-kexec.h (linked with the crate's no_std staticlib) and prints what it
 * gave, one fact per line. It decides nothing: the Rust test compares every line with
 * what the Rust decoder and encoder give for the same input.
 *
 * Input lines (numbers in hex without 0x, bytes as hex pairs, "-" for none):
 *   decode NAME BITS CMD ARG PAGE CRASH_START CRASH_SIZE ANSWER SIZE START NREGIONS
 *   region ADDR BYTES                       (NREGIONS of them)
 *   encode NAME BITS PAGE CRASH_START CRASH_SIZE TYPE ARCH ENTRY SEGMENTS_ADDR NR
 *   seg BUF BUF_SIZE DEST_MADDR DEST_SIZE   (NR of them)
 *   errors                                  (the fixed argument-error checks)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xen-kexec.h"

#define MAX_REGIONS 64
#define LOAD_ADDR 0x1000u

struct region {
    uint64_t addr;
    size_t len;
    unsigned char *bytes;
};

struct memory {
    size_t n;
    struct region r[MAX_REGIONS];
};

/* The byte at guest address addr, or NULL: as the Rust tests' SparseMemory. */
static unsigned char *byte_at(struct memory *m, uint64_t addr)
{
    size_t i;
    for (i = 0; i < m->n; i++)
        if (addr >= m->r[i].addr && addr - m->r[i].addr < m->r[i].len)
            return &m->r[i].bytes[addr - m->r[i].addr];
    return NULL;
}

/* Every byte of [addr, addr + len) backed, with no wrap past 2^64. */
static int backed(struct memory *m, uint64_t addr, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++)
        if (addr + i < addr || !byte_at(m, addr + i))
            return 0;
    return 1;
}

static int copy_from(void *ctx, void *dst, uint64_t guest_addr, size_t len)
{
    struct memory *m = ctx;
    size_t i;
    if (!backed(m, guest_addr, len))
        return 1;
    for (i = 0; i < len; i++)
        ((unsigned char *)dst)[i] = *byte_at(m, guest_addr + i);
    return 0;
}

static int copy_to(void *ctx, uint64_t guest_addr, const void *src, size_t len)
{
    struct memory *m = ctx;
    size_t i;
    if (!backed(m, guest_addr, len))
        return 1;
    for (i = 0; i < len; i++)
        *byte_at(m, guest_addr + i) = ((const unsigned char *)src)[i];
    return 0;
}

static void print_hex(const unsigned char *b, size_t len)
{
    size_t i;
    if (len == 0)
        printf("-");
    for (i = 0; i < len; i++)
        printf("%02x", b[i]);
}

static unsigned char *read_hex(const char *text, size_t *len)
{
    size_t n = strcmp(text, "-") == 0 ? 0 : strlen(text) / 2, i;
    unsigned char *b = malloc(n ? n : 1);
    for (i = 0; i < n; i++) {
        unsigned int v;
        sscanf(text + 2 * i, "%2x", &v);
        b[i] = (unsigned char)v;
    }
    *len = n;
    return b;
}

static void print_op(const char *name, const xen_kexec_op_t *op)
{
    uint32_t i;
    printf("%s op cmd=%" PRIu32 " type=%u entry_bits=%u arch=%u nr_segments=%" PRIu32
           " range=%" PRId32 " nr=%" PRId32 " entry_maddr=%" PRIx64 " segments=",
           name, op->cmd, op->type, op->entry_bits, op->arch, op->nr_segments, op->range,
           op->nr, op->entry_maddr);
    for (i = 0; i < 16; i++) {
        const xen_kexec_plain_segment_t *s = &op->segments[i];
        if (i >= op->nr_segments && (s->buf | s->buf_size | s->dest_maddr | s->dest_size))
            printf("UNUSED-SEGMENT-NOT-ZERO");
        if (i < op->nr_segments)
            printf("%s%" PRIx64 ",%" PRIx64 ",%" PRIx64 ",%" PRIx64, i ? ";" : "", s->buf,
                   s->buf_size, s->dest_maddr, s->dest_size);
    }
    printf("\n");
}

/* Decodes and prints "NAME rc=RC why=WHY", then the op when accepted. */
static int decode_and_print(const char *name, unsigned int bits, struct memory *m,
                            const xen_kexec_host_t *host, uint64_t cmd, uint64_t arg,
                            xen_kexec_op_t *op)
{
    xen_kexec_guest_t g;
    char why[256];
    int rc;
    g.bits = bits;
    g.ctx = m;
    g.copy_from_guest = copy_from;
    g.copy_to_guest = copy_to;
    memset(op, 0xa5, sizeof *op);
    rc = xen_kexec_decode(&g, host, cmd, arg, op, why, sizeof why);
    printf("%s rc=%d why=%s\n", name, rc, why);
    if (rc == 0)
        print_op(name, op);
    return rc;
}

static void decode_case(char *line)
{
    char name[128], bytes[8192];
    unsigned int bits, answer, nregions, i;
    uint64_t cmd, arg, size, start;
    xen_kexec_host_t host;
    xen_kexec_op_t op;
    struct memory m;
    sscanf(line, "decode %127s %u %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64
                 " %" SCNx64 " %u %" SCNx64 " %" SCNx64 " %u",
           name, &bits, &cmd, &arg, &host.page_size, &host.crash_start, &host.crash_size,
           &host.profile, &answer, &size, &start, &nregions);
    m.n = nregions;
    for (i = 0; i < nregions; i++)
        if (scanf(" region %" SCNx64 " %8191s", &m.r[i].addr, bytes) == 2)
            m.r[i].bytes = read_hex(bytes, &m.r[i].len);
    if (decode_and_print(name, bits, &m, &host, cmd, arg, &op) == 0 && answer) {
        xen_kexec_guest_t g;
        int rc;
        g.bits = bits;
        g.ctx = &m;
        g.copy_from_guest = copy_from;
        g.copy_to_guest = copy_to;
        rc = xen_kexec_complete_get_range(&g, arg, &op, start, size);
        printf("%s complete rc=%d mem=", name, rc);
        for (i = 0; i < m.n; i++) {
            printf(i ? "|" : "");
            print_hex(m.r[i].bytes, m.r[i].len);
        }
        printf("\n");
    }
    for (i = 0; i < m.n; i++)
        free(m.r[i].bytes);
}

static void encode_case(char *line)
{
    char name[128];
    unsigned int bits, type, arch, nr, i;
    uint64_t entry, segments_addr;
    xen_kexec_host_t host;
    xen_kexec_plain_segment_t segs[32];
    unsigned char load[XEN_KEXEC_LOAD_SIZE], out[32 * 32];
    int rc;
    sscanf(line, "encode %127s %u %" SCNx64 " %" SCNx64 " %" SCNx64 " %x %x %" SCNx64
                 " %" SCNx64 " %u",
           name, &bits, &host.page_size, &host.crash_start, &host.crash_size, &type, &arch,
           &entry, &segments_addr, &nr);
    host.profile = XEN_KEXEC_RULES_STRICT;
    for (i = 0; i < nr && i < 32; i++)
        if (scanf(" seg %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64, &segs[i].buf,
                  &segs[i].buf_size, &segs[i].dest_maddr, &segs[i].dest_size) != 4)
            printf("%s BAD-SEG-LINE\n", name);
    memset(load, 0xaa, sizeof load);
    memset(out, 0xaa, sizeof out);
    rc = xen_kexec_encode_load(bits, &host, (uint8_t)type, (uint16_t)arch, entry, segs, nr,
                               segments_addr, load, sizeof load, out, sizeof out);
    printf("%s rc=%d load=", name, rc);
    print_hex(load, sizeof load);
    printf(" segments=");
    print_hex(out, nr <= 16 ? nr * 32u : 0);
    printf("\n");
    if (rc == 0) {
        /* The round trip: the encoded bytes as the guest's memory, decoded at its width. */
        struct memory m;
        xen_kexec_op_t op;
        char decoded[160];
        m.n = 2;
        m.r[0].addr = LOAD_ADDR;
        m.r[0].len = sizeof load;
        m.r[0].bytes = load;
        m.r[1].addr = segments_addr;
        m.r[1].len = nr * 32u;
        m.r[1].bytes = out;
        sprintf(decoded, "%s decoded", name);
        decode_and_print(decoded, bits, &m, &host, 4 /* KEXEC_CMD_kexec_load */, LOAD_ADDR,
                         &op);
    }
}

static void err(const char *label, int rc, const char *why)
{
    printf("err %s rc=%d why=%s\n", label, rc, why ? why : "-");
}

/* Every argument error of the C interface, from one valid setup; "-" for no reason. */
static void errors(void)
{
    unsigned char status[1] = {1}, range[24] = {2};
    struct memory m;
    xen_kexec_guest_t g, bad;
    xen_kexec_host_t h = {4096, 0, 0, XEN_KEXEC_RULES_STRICT}, hb;
    xen_kexec_op_t op, st;
    xen_kexec_plain_segment_t seg = {0x8000, 0x800, 0x100000, 0x1000};
    unsigned char load[24], out[32];
    char why[64], before[64];
    unsigned int bits[4] = {0, 16, 33, 128}, i;
    m.n = 2;
    m.r[0].addr = 0x1000; m.r[0].len = 1; m.r[0].bytes = status;
    m.r[1].addr = 0x2000; m.r[1].len = sizeof range; m.r[1].bytes = range;
    g.bits = 64; g.ctx = &m; g.copy_from_guest = copy_from; g.copy_to_guest = copy_to;

    err("decode-ok", xen_kexec_decode(&g, &h, 6, 0x1000, &st, why, sizeof why), why);
    printf("err decode-ok-op cmd=%" PRIu32 " type=%u\n", st.cmd, st.type);
    err("decode-null-guest", xen_kexec_decode(NULL, &h, 6, 0x1000, &op, why, sizeof why), why);
    err("decode-null-host", xen_kexec_decode(&g, NULL, 6, 0x1000, &op, why, sizeof why), why);
    err("decode-null-op", xen_kexec_decode(&g, &h, 6, 0x1000, NULL, why, sizeof why), why);
    bad = g; bad.copy_from_guest = NULL;
    err("decode-null-copy-from", xen_kexec_decode(&bad, &h, 6, 0x1000, &op, why, sizeof why), why);
    bad = g; bad.copy_to_guest = NULL;
    err("decode-null-copy-to-ok", xen_kexec_decode(&bad, &h, 6, 0x1000, &op, why, sizeof why), why);
    for (i = 0; i < 4; i++) {
        char label[32];
        bad = g; bad.bits = bits[i];
        sprintf(label, "decode-bits-%u", bits[i]);
        err(label, xen_kexec_decode(&bad, &h, 6, 0x1000, &op, why, sizeof why), why);
    }
    hb = h; hb.page_size = 0;
    err("decode-page-size-0", xen_kexec_decode(&g, &hb, 6, 0x1000, &op, why, sizeof why), why);
    hb = h; hb.page_size = 3000;
    err("decode-page-size-3000", xen_kexec_decode(&g, &hb, 6, 0x1000, &op, why, sizeof why), why);
    hb = h; hb.crash_start = UINT64_C(0xfffffffffffff000); hb.crash_size = 0x2000;
    err("decode-crash-wraps", xen_kexec_decode(&g, &hb, 6, 0x1000, &op, why, sizeof why), why);
    memset(why, 'x', sizeof why);
    memcpy(before, why, sizeof why);
    err("decode-why-len-0", xen_kexec_decode(&g, &h, 6, 0x1000, &op, why, 0), "-");
    printf("err decode-why-len-0-untouched %d\n", memcmp(why, before, sizeof why) == 0);
    err("decode-why-null", xen_kexec_decode(&g, &h, 6, 0x1000, &op, NULL, 5), "-");
    err("decode-why-null-error", xen_kexec_decode(&g, &h, 6, 0x9000, &op, NULL, 5), "-");
    memset(why, 'x', sizeof why);
    err("decode-why-len-1", xen_kexec_decode(&g, &h, 6, 0x9000, &op, why, 1), why);
    printf("err decode-why-len-1-byte1 %c\n", why[1]);
    err("decode-why-len-8", xen_kexec_decode(&g, &h, 6, 0x9000, &op, why, 8), why);
    err("decode-why-len-max", xen_kexec_decode(&g, &h, 6, 0x9000, &op, why, (size_t)-1), why);
    err("decode-cmd-above-32-bits", xen_kexec_decode(&g, &h, UINT64_C(0x100000006), 0x1000, &op, why, sizeof why), why);
    err("decode-why-in-op", xen_kexec_decode(&g, &h, 6, 0x1000, &op, (char *)&op + 4, 16), "-");
    err("decode-op-misaligned", xen_kexec_decode(&g, &h, 6, 0x1000, (xen_kexec_op_t *)((char *)&op + 1), why, sizeof why), why);
    memset(&op, 0x5a, sizeof op);
    xen_kexec_decode(&g, &h, 6, 0x9000, &op, NULL, 0);
    printf("err decode-refused-op-untouched %d\n", op.cmd == 0x5a5a5a5au);

    /* get_range completion: decode a get_range of range 2 at 0x2000 first. */
    err("range-decode", xen_kexec_decode(&g, &h, 3, 0x2000, &op, why, sizeof why), why);
    err("complete-null-guest", xen_kexec_complete_get_range(NULL, 0x2000, &op, 1, 2), "-");
    err("complete-null-op", xen_kexec_complete_get_range(&g, 0x2000, NULL, 1, 2), "-");
    bad = g; bad.copy_to_guest = NULL;
    err("complete-null-copy-to", xen_kexec_complete_get_range(&bad, 0x2000, &op, 1, 2), "-");
    bad = g; bad.bits = 7;
    err("complete-bits-7", xen_kexec_complete_get_range(&bad, 0x2000, &op, 1, 2), "-");
    err("complete-not-get-range", xen_kexec_complete_get_range(&g, 0x2000, &st, 1, 2), "-");
    err("complete-fault", xen_kexec_complete_get_range(&g, 0x9000, &op, 1, 2), "-");
    err("complete-ok", xen_kexec_complete_get_range(&g, 0x2000, &op, 0x1000, 0x2000), "-");
    printf("err complete-ok-mem ");
    print_hex(range, sizeof range);
    printf("\n");

    /* encode_load */
    err("encode-ok", xen_kexec_encode_load(64, &h, 0, 62, 0x100000, &seg, 1, 0x9000, load, sizeof load, out, sizeof out), "-");
    err("encode-null-host", xen_kexec_encode_load(64, NULL, 0, 62, 0x100000, &seg, 1, 0x9000, load, sizeof load, out, sizeof out), "-");
    err("encode-null-load-out", xen_kexec_encode_load(64, &h, 0, 62, 0x100000, &seg, 1, 0x9000, NULL, sizeof load, out, sizeof out), "-");
    err("encode-null-segments", xen_kexec_encode_load(64, &h, 0, 62, 0x100000, NULL, 1, 0x9000, load, sizeof load, out, sizeof out), "-");
    err("encode-null-segments-out", xen_kexec_encode_load(64, &h, 0, 62, 0x100000, &seg, 1, 0x9000, load, sizeof load, NULL, sizeof out), "-");
    err("encode-nr-0-nulls-ok", xen_kexec_encode_load(64, &h, 0, 62, 0x100000, NULL, 0, 0x9000, load, sizeof load, NULL, 0), "-");
    err("encode-load-out-len-23", xen_kexec_encode_load(64, &h, 0, 62, 0x100000, &seg, 1, 0x9000, load, 23, out, sizeof out), "-");
    err("encode-segments-out-len-31", xen_kexec_encode_load(64, &h, 0, 62, 0x100000, &seg, 1, 0x9000, load, sizeof load, out, 31), "-");
    err("encode-outputs-overlap", xen_kexec_encode_load(64, &h, 0, 62, 0x100000, &seg, 1, 0x9000, out, sizeof load, out + 8, 24), "-");
    err("encode-output-on-input", xen_kexec_encode_load(64, &h, 0, 62, 0x100000, &seg, 1, 0x9000, load, sizeof load, &seg, sizeof seg), "-");
    err("encode-bits-48", xen_kexec_encode_load(48, &h, 0, 62, 0x100000, &seg, 1, 0x9000, load, sizeof load, out, sizeof out), "-");
    err("encode-nr-17", xen_kexec_encode_load(64, &h, 0, 62, 0x100000, &seg, 17, 0x9000, load, sizeof load, out, sizeof out), "-");
    hb = h; hb.page_size = 3000;
    err("encode-page-size-3000", xen_kexec_encode_load(64, &hb, 0, 62, 0x100000, &seg, 1, 0x9000, load, sizeof load, out, sizeof out), "-");
    memset(load, 0xaa, sizeof load);
    memset(out, 0xaa, sizeof out);
    seg.dest_maddr = 0x100800;
    err("encode-refused", xen_kexec_encode_load(64, &h, 0, 62, 0x100000, &seg, 1, 0x9000, load, sizeof load, out, sizeof out), "-");
    printf("err encode-refused-untouched %d\n", load[0] == 0xaa && load[23] == 0xaa && out[0] == 0xaa && out[31] == 0xaa);
}

int main(void)
{
    char line[512];
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    while (scanf(" %511[^\n]", line) == 1) {
        if (strncmp(line, "decode ", 7) == 0)
            decode_case(line);
        else if (strncmp(line, "encode ", 7) == 0)
            encode_case(line);
        else if (strcmp(line, "errors") == 0)
            errors();
        else
            printf("BAD-LINE %s\n", line);
    }
    return 0;
}
