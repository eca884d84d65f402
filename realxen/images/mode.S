/* SPDX-License-Identifier: MIT */
/*
 * A kexec crash image that reports on COM1 the CPU mode Xen entered it in, then ends
 * the QEMU run through the isa-debug-exit device. Built by realxen/src/images.rs, which
 * defines ENTRY_MARK, MODE_LONG, MODE_PROTECTED, DEBUG_EXIT_PORT and DEBUG_EXIT_VALUE
 * (the harness reads the serial log for those same strings).
 *
 * Every instruction here is encoded and executed identically in 32-bit protected mode
 * and in 64-bit long mode, except one: the byte 0x48 is `dec %eax` in 32-bit mode but
 * a REX.W prefix in long mode (where `48 90` is a no-op). So %eax is -1 after it in
 * protected mode and 0 in long mode. The file is assembled as .code32 into both an
 * ELF32 and an ELF64 object; the harness checks that the two carry the same bytes.
 */
	.code32
	.section .text.entry, "ax"
	.globl _start
_start:
	cli
	xorl	%eax, %eax
	.byte	0x48		/* 32-bit: dec %eax; 64-bit: REX.W prefix of the nop */
	nop
	testl	%eax, %eax
	jnz	1f
	movl	$msg_long, %esi
	jmp	puts
1:	movl	$msg_protected, %esi

	/* Write the NUL-terminated string at %esi to COM1, polling the line status. */
puts:	movb	(%esi), %al
	testb	%al, %al
	jz	done
	movb	%al, %bl
	movw	$0x3fd, %dx
2:	inb	%dx, %al
	testb	$0x20, %al
	jz	2b
	movw	$0x3f8, %dx
	movb	%bl, %al
	outb	%al, %dx
	addl	$1, %esi
	jmp	puts

	/* QEMU's isa-debug-exit: the run ends with status (value << 1) | 1. */
done:	movw	$DEBUG_EXIT_PORT, %dx
	movb	$DEBUG_EXIT_VALUE, %al
	outb	%al, %dx
3:	hlt
	jmp	3b

	/* Each on a line of its own: the serial line may hold dom0's last output. */
msg_long:
	.ascii	"\n", ENTRY_MARK, MODE_LONG, "\n"
	.byte	0
msg_protected:
	.ascii	"\n", ENTRY_MARK, MODE_PROTECTED, "\n"
	.byte	0
