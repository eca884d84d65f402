/* SPDX-License-Identifier: MIT */
/*
 * The purgatory's entry, where Xen's kexec_reloc.S jumps: long mode, on Xen's
 * relocation page tables (the image's segments mapped 1:1), CR4 = PAE only, no IDT,
 * registers undefined. Nothing here may fault: a fault resets the machine.
 *
 * It loads its own GDT (Linux's boot protocol wants flat __BOOT_CS = 0x10 and
 * __BOOT_DS = 0x18), its own stack, calls purgatory_main (the checks and the backup
 * copy; it halts rather than return on a failure), then enters the kernel with RSI
 * pointing at boot_params. Position independent: every address is RIP-relative.
 */
    .section .text.entry, "ax"
    .code64
    .globl purgatory_start
purgatory_start:
    cli
    cld
    /* The GDT's linear address is known only now: fill in the descriptor's base. */
    leaq    purgatory_gdt(%rip), %rax
    movq    %rax, purgatory_gdtr + 2(%rip)
    lgdt    purgatory_gdtr(%rip)
    leaq    purgatory_stack_top(%rip), %rsp
    /* Reload CS with a far return to the next instruction. */
    leaq    1f(%rip), %rax
    pushq   $0x10
    pushq   %rax
    lretq
1:
    movl    $0x18, %eax
    movl    %eax, %ds
    movl    %eax, %es
    movl    %eax, %ss
    movl    %eax, %fs
    movl    %eax, %gs
    call    purgatory_main
    /* Linux's 64-bit entry: RSI = boot_params; the other registers are not read. */
    movq    purgatory_params + {boot_params}(%rip), %rsi
    movq    purgatory_params + {entry}(%rip), %rax
    xorl    %ebp, %ebp
    jmpq    *%rax

    .section .data, "aw"
    .balign 16
purgatory_gdt:
    .quad   0                       /* null */
    .quad   0                       /* 0x08: unused */
    .quad   0x00af9a000000ffff      /* 0x10: __BOOT_CS, 64-bit code, flat */
    .quad   0x00cf92000000ffff      /* 0x18: __BOOT_DS, data, flat */
purgatory_gdt_end:
    .balign 16
purgatory_gdtr:
    .word   purgatory_gdt_end - purgatory_gdt - 1
    .quad   0                       /* the base, filled in at entry */

    .section .bss, "aw", @nobits
    .balign 16
purgatory_stack:
    .skip   16384
purgatory_stack_top:
