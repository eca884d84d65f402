/* SPDX-License-Identifier: MIT */
/*
 * The C interface's hardening (issue 30), compiled by ffi/tests/c_hardening.rs with
 * gcc -fsanitize=address,undefined and linked with the staticlib of
 * scripts/ffi-staticlib. Every output buffer is malloc'ed at exactly the size the check
 * needs, so that ASan sees any byte written past it. The copy callbacks check the
 * contract the header promises them (len 1 to 512, guest_addr + len never past
 * UINT64_MAX) and count every breach; they use the usual C bounds check, which is
 * only safe under that contract. Prints "ok NAME" or "FAIL NAME" per check and
 * "done" at the end; the Rust test wants only "ok" lines.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xen-kexec.h"

#define EFAULT_RC (-14)
#define EINVAL_RC (-22)
#define EOPNOTSUPP_RC (-95)
#define TOP UINT64_C(0xffffffffffffffff)

struct memory {
    uint64_t base;
    size_t size;
    unsigned char *bytes;
};

static int calls, breaches;

/* The header's promise to a callback. */
static void contract(uint64_t addr, size_t len)
{
    calls++;
    if (len == 0 || len > XEN_KEXEC_SEGMENT_MAX * XEN_KEXEC_SEGMENT_SIZE || addr > TOP - len)
        breaches++;
}

static int copy_from(void *ctx, void *dst, uint64_t addr, size_t len)
{
    struct memory *m = ctx;
    contract(addr, len);
    /* The usual check: addr + len cannot overflow under the contract. */
    if (addr < m->base || addr + len > m->base + m->size)
        return 1;
    memcpy(dst, m->bytes + (addr - m->base), len);
    return 0;
}

static int copy_to(void *ctx, uint64_t addr, const void *src, size_t len)
{
    struct memory *m = ctx;
    contract(addr, len);
    if (addr < m->base || addr + len > m->base + m->size)
        return 1;
    memcpy(m->bytes + (addr - m->base), src, len);
    return 0;
}

static int failures;

static void check(const char *name, int ok)
{
    printf("%s %s\n", ok ? "ok" : "FAIL", name);
    failures += !ok;
}

/* A guest whose memory is one run at base (its last byte may be the address space's). */
static xen_kexec_guest_t guest_of(struct memory *m)
{
    xen_kexec_guest_t g;
    g.bits = 64;
    g.ctx = m;
    g.copy_from_guest = copy_from;
    g.copy_to_guest = copy_to;
    return g;
}

static const xen_kexec_host_t host = {4096, 0x20000000, 0x4000000, XEN_KEXEC_RULES_STRICT};

static int op_untouched(const xen_kexec_op_t *op)
{
    const unsigned char *b = (const unsigned char *)op;
    size_t i;
    for (i = 0; i < sizeof *op; i++)
        if (b[i] != 0x5a)
            return 0;
    return 1;
}

/* Item 3: ranges that wrap past 2^64 (or end exactly there) reach no callback. */
static void wrapping_ranges(void)
{
    unsigned char top[64], low[0x100];
    struct memory high = {TOP - 63, sizeof top, top}, m = {0x1000, sizeof low, low};
    xen_kexec_guest_t g = guest_of(&high), gl = guest_of(&m);
    xen_kexec_op_t *op = malloc(sizeof *op);
    int before, rc;
    memset(top, 0, sizeof top);
    memset(op, 0x5a, sizeof *op);
    before = calls;
    rc = xen_kexec_decode(&g, &host, 3 /* get_range */, TOP - 7, op, NULL, 0);
    check("get-range-at-2^64-8-is-efault-without-a-call", rc == EFAULT_RC && calls == before && op_untouched(op));
    rc = xen_kexec_decode(&g, &host, 3, TOP - 23, op, NULL, 0);
    check("get-range-ending-at-2^64-is-efault-without-a-call", rc == EFAULT_RC && calls == before);
    /* A load whose segment array (2 segments, 64 bytes) starts 32 bytes below 2^64. */
    memset(low, 0, sizeof low);
    rc = xen_kexec_encode_load(64, &host, 0, 62, 0x100000, NULL, 0, 0, low, 24, NULL, 0);
    low[4] = 2; /* nr_segments */
    memcpy(low + 8, &(uint64_t){TOP - 31}, 8);
    before = calls;
    rc = xen_kexec_decode(&gl, &host, 4, 0x1000, op, NULL, 0);
    check("segment-array-at-2^64-32-is-efault-without-its-copy", rc == EFAULT_RC && calls == before + 1 && op_untouched(op));
    /* The write back of a get_range answer at 2^64-8: no callback, -EFAULT. */
    memset(low, 0, 24);
    low[0] = 1; /* KEXEC_RANGE_MA_XEN */
    rc = xen_kexec_decode(&gl, &host, 3, 0x1000, op, NULL, 0);
    before = calls;
    rc = rc ? rc : xen_kexec_complete_get_range(&g, TOP - 7, op, 0x1000, 0x2000);
    check("complete-at-2^64-8-is-efault-without-a-call", rc == EFAULT_RC && calls == before);
    free(op);
}

/* Item 8: a callback is never called with len 0: a load of 0 segments copies its load
 * structure only, not an empty segment array. */
static void no_empty_copy(void)
{
    unsigned char low[0x100];
    struct memory m = {0x1000, sizeof low, low};
    xen_kexec_guest_t g = guest_of(&m);
    xen_kexec_op_t *op = malloc(sizeof *op);
    int before, rc;
    memset(low, 0, sizeof low);
    rc = xen_kexec_encode_load(64, &host, 0, 62, 0x100000, NULL, 0, 0x1080, low, 24, NULL, 0);
    before = calls;
    rc = rc ? rc : xen_kexec_decode(&g, &host, 4, 0x1000, op, NULL, 0);
    check("a-load-of-0-segments-makes-one-call", rc == 0 && calls == before + 1 && op->nr_segments == 0);
    free(op);
}

/* Item 4: cmd is 64 bits; above 32 bits it is no command. */
static void wide_cmd(void)
{
    unsigned char st[1] = {1};
    struct memory m = {0x1000, 1, st};
    xen_kexec_guest_t g = guest_of(&m);
    xen_kexec_op_t *op = malloc(sizeof *op);
    char *why = malloc(XEN_KEXEC_WHY_MAX);
    int rc;
    memset(op, 0x5a, sizeof *op);
    rc = xen_kexec_decode(&g, &host, UINT64_C(0x100000006), 0x1000, op, why, XEN_KEXEC_WHY_MAX);
    check("cmd-0x100000006-is-eopnotsupp-not-status", rc == EOPNOTSUPP_RC && op_untouched(op)
          && strcmp(why, "command 0x100000006 is not a kexec_op command") == 0);
    rc = xen_kexec_decode(&g, &host, 6, 0x1000, op, why, XEN_KEXEC_WHY_MAX);
    check("cmd-6-is-status", rc == 0 && op->cmd == 6 && op->type == 1 && op->reserved == 0);
    free(why);
    free(op);
}

/* Items 5 and 6: outputs that overlap, why_len SIZE_MAX, misaligned pointers. */
static void outputs_and_preconditions(void)
{
    unsigned char st[1] = {1};
    struct memory m = {0x1000, 1, st};
    xen_kexec_guest_t g = guest_of(&m);
    xen_kexec_op_t *op = malloc(sizeof *op + 8);
    char *why = malloc(XEN_KEXEC_WHY_MAX);
    int rc;
    memset(op, 0x5a, sizeof *op);
    rc = xen_kexec_decode(&g, &host, 6, 0x1000, op, (char *)op + 4, 64);
    check("why-inside-op-is-einval-and-op-untouched", rc == EINVAL_RC && op_untouched(op));
    rc = xen_kexec_decode(&g, &host, 6, 0x1000, op, (char *)&g, 16);
    check("why-on-the-guest-is-einval", rc == EINVAL_RC && g.bits == 64);
    /* A 256-byte why passed as SIZE_MAX: ASan sees any byte written past it. */
    rc = xen_kexec_decode(&g, &host, 6, 0x9000, op, why, (size_t)-1);
    check("why-len-size-max-is-clamped", rc == EFAULT_RC && strlen(why) < XEN_KEXEC_WHY_MAX);
    rc = xen_kexec_decode(&g, &host, 6, 0x1000, (xen_kexec_op_t *)((char *)op + 1), why, XEN_KEXEC_WHY_MAX);
    check("misaligned-op-is-einval", rc == EINVAL_RC && strcmp(why, "op is not aligned for its type") == 0);
    rc = xen_kexec_decode(&g, (const xen_kexec_host_t *)((const char *)&host + 4), 6, 0x1000, op, why, XEN_KEXEC_WHY_MAX);
    check("misaligned-host-is-einval", rc == EINVAL_RC);
    free(why);
    free(op);
}

/* Item 7: the encoder's output lengths, at exactly the sizes written and one below. */
static void encoder_lengths(void)
{
    xen_kexec_plain_segment_t segs[2] = {{0x8000, 0x1000, 0x20000000, 0x1000},
                                         {0x9000, 0x1000, 0x20001000, 0x1000}};
    unsigned char *load23 = malloc(23), *load24 = malloc(24), *segs63 = malloc(63),
                  *segs64 = malloc(64);
    char *unaligned = malloc(sizeof segs + 1);
    int rc;
    rc = xen_kexec_encode_load(64, &host, 1, 62, 0x20000000, segs, 2, 0x9000, load23, 23, segs64, 64);
    check("load-out-of-23-bytes-is-einval", rc == EINVAL_RC);
    rc = xen_kexec_encode_load(64, &host, 1, 62, 0x20000000, segs, 2, 0x9000, load24, 24, segs63, 63);
    check("segments-out-of-63-bytes-is-einval", rc == EINVAL_RC);
    rc = xen_kexec_encode_load(64, &host, 1, 62, 0x20000000, segs, 2, 0x9000, load24, 24, segs64, 64);
    check("exact-sizes-encode", rc == 0 && load24[4] == 2);
    rc = xen_kexec_encode_load(64, &host, 1, 62, 0x20000000, segs, 2, 0x9000, segs64, 24, segs64 + 16, 48);
    check("overlapping-outputs-are-einval", rc == EINVAL_RC);
    memcpy(unaligned + 1, segs, sizeof segs);
    rc = xen_kexec_encode_load(64, &host, 1, 62, 0x20000000, (const xen_kexec_plain_segment_t *)(unaligned + 1), 2, 0x9000, load24, 24, segs64, 64);
    check("misaligned-segments-are-einval", rc == EINVAL_RC);
    free(unaligned);
    free(load23);
    free(load24);
    free(segs63);
    free(segs64);
}

/* Item 8: stateless, so threads may decode at once; the answers are each thread's own. */
static void *decode_many(void *arg)
{
    unsigned char st[1];
    struct memory m = {0x1000, 1, st};
    xen_kexec_guest_t g = guest_of(&m);
    xen_kexec_op_t op;
    char why[64];
    int i, bad = 0;
    st[0] = (unsigned char)(uintptr_t)arg;
    for (i = 0; i < 2000; i++) {
        int rc = xen_kexec_decode(&g, &host, 6, 0x1000, &op, why, sizeof why);
        bad += st[0] <= 1 ? rc != 0 || op.type != st[0] : rc != EINVAL_RC;
    }
    return (void *)(uintptr_t)bad;
}

static void threads(void)
{
    pthread_t t[4];
    uintptr_t i, bad = 0;
    for (i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, decode_many, (void *)(i % 3));
    for (i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (uintptr_t)r;
    }
    check("four-threads-decode-at-once", bad == 0);
}

int main(void)
{
    wrapping_ranges();
    no_empty_copy();
    wide_cmd();
    outputs_and_preconditions();
    encoder_lengths();
    threads();
    check("no-callback-saw-a-range-outside-its-contract", breaches == 0 && calls > 0);
    printf("done\n");
    return failures != 0;
}
