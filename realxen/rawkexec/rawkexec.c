/* SPDX-License-Identifier: MIT */
/*
 * rawkexec: kexec_load hypercalls a toolstack would refuse before making them, issued
 * raw through /dev/xen/privcmd from dom0, for the xen-with-rust boots (realxen). Each
 * case prints "RAWKEXEC-BEGIN NAME" before its hypercall and "RAWKEXEC NAME rc=N" after
 * it (N: 0 or a negative errno); a successful crash load is unloaded at once (two crash
 * loads without an unload can panic Xen).
 *
 * Built by realxen with gcc -static; x86_64 argument layouts (the dom0 is 64-bit).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/ioctl.h>

/* Linux's <xen/privcmd.h> (its header needs Xen's own headers here). */
struct privcmd_hypercall { uint64_t op; uint64_t arg[5]; };
#define IOCTL_PRIVCMD_HYPERCALL _IOC(_IOC_NONE, 'P', 0, sizeof(struct privcmd_hypercall))

#define HYPERVISOR_kexec_op 37
#define KEXEC_CMD_kexec_load 4
#define KEXEC_CMD_kexec_unload 5
#define KEXEC_TYPE_CRASH 1
#define EM_X86_64 62
#define PAGE 0x1000UL

struct load { uint8_t type, pad; uint16_t arch; uint32_t nr; uint64_t segments, entry; };
struct segment { uint64_t buf, buf_size, dest, dest_size; };

static int fd;
static uint64_t crash; /* the crash region's start, from the command line */

static long hypercall(uint64_t cmd, uint64_t arg)
{
    struct privcmd_hypercall call = { HYPERVISOR_kexec_op, { cmd, arg, 0, 0, 0 } };
    long rc = ioctl(fd, IOCTL_PRIVCMD_HYPERCALL, &call);
    return rc < 0 ? -errno : rc;
}

/* Locked, touched memory for the arguments and a source page; and an address that faults. */
static struct load *ld;
static struct segment *segs;
static unsigned char *source;
static uint64_t unmapped;

static void run(const char *name, uint64_t arg)
{
    long rc;
    printf("RAWKEXEC-BEGIN %s\n", name);
    fflush(stdout);
    rc = hypercall(KEXEC_CMD_kexec_load, arg);
    printf("RAWKEXEC %s rc=%ld\n", name, rc);
    fflush(stdout);
    if (rc == 0) {
        uint8_t type = KEXEC_TYPE_CRASH;
        hypercall(KEXEC_CMD_kexec_unload, (uint64_t)(uintptr_t)&type);
    }
}

/* A crash load of n touching one-page segments from the region's start. */
static void crash_load(uint32_t n)
{
    uint32_t i;
    memset(ld, 0, sizeof *ld);
    ld->type = KEXEC_TYPE_CRASH;
    ld->arch = EM_X86_64;
    ld->nr = n;
    ld->segments = (uint64_t)(uintptr_t)segs;
    ld->entry = crash;
    for (i = 0; i < 16; i++) {
        segs[i].buf = (uint64_t)(uintptr_t)source;
        segs[i].buf_size = PAGE;
        segs[i].dest = crash + i * PAGE;
        segs[i].dest_size = PAGE;
    }
}

int main(int argc, char **argv)
{
    unsigned char *mem;
    uint64_t arg;
    if (argc != 2 || sscanf(argv[1], "%lx", &crash) != 1) {
        fprintf(stderr, "usage: rawkexec CRASH_START_HEX\n");
        return 2;
    }
    fd = open("/dev/xen/privcmd", O_RDWR);
    mem = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fd < 0 || mem == MAP_FAILED || mlock(mem, 3 * PAGE)) {
        perror("rawkexec: privcmd or memory");
        return 1;
    }
    memset(mem, 0x90, 3 * PAGE);
    ld = (struct load *)mem;
    segs = (struct segment *)(mem + PAGE);
    source = mem + 2 * PAGE;
    munmap(mem + 3 * PAGE, PAGE); /* the page after: unmapped, so it faults */
    unmapped = (uint64_t)(uintptr_t)(mem + 3 * PAGE);
    arg = (uint64_t)(uintptr_t)ld;

    crash_load(1); run("valid-1-segment", arg);
    crash_load(15); run("valid-15-segments", arg);
    crash_load(16); run("segments-16", arg);
    crash_load(1); ld->pad = 0xff; run("pad-set", arg);
    run("load-pointer-faults", unmapped);
    crash_load(1); ld->segments = unmapped; run("segments-pointer-faults", arg);
    crash_load(1); segs[0].dest = crash - 0x100000; run("outside-crash-region", arg);
    crash_load(2); segs[1].dest = crash; run("overlap", arg);
    crash_load(1); segs[0].buf_size = 2 * PAGE; run("buf-exceeds-dest", arg);
    crash_load(1); ld->arch = 40; run("bad-arch", arg);
    crash_load(1); segs[0].buf = unmapped; run("source-faults", arg);
    printf("RAWKEXEC-END\n");
    return 0;
}
