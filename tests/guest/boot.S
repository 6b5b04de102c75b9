/* SPDX-License-Identifier: MIT */
/*
 * Shared boot stub of the guest test kernels (tests/guest/README.md).
 *
 * Entered by a Multiboot v1 loader (Multiboot spec 0.6.96 3.2 "Machine state"): 32-bit protected
 * mode, paging off, flat CS/DS/ES/SS, EAX = 0x2BADB002, EBX = info GPA, IF = 0; GDTR, IDTR and
 * ESP are not usable. The stub loads its own GDT and stack, builds an identity map of the first
 * 4 GiB with 2 MiB pages (user-accessible, writable, executable), enables PAE, EFER.LME/SCE
 * (+NXE when CPUID.80000001H:EDX[20] says it exists) and paging (Intel SDM Vol. 3A 10.8.5
 * "Initializing IA-32e Mode"), far-jumps to 64-bit code and calls guest_main() (lib.c), which
 * installs the IDT and TSS and runs the test body.
 *
 * Also here: the 256 interrupt entry stubs and the common entry (push a frame, call
 * exc_dispatch(), return with IRETQ), try_call() (run a function, come back here if a fault is
 * "recovered"), run_user() (IRETQ to CPL 3), do_sysret() and the SYSCALL entry.
 */
#include "guest_layout.h"

/* ---------------------------------------------------------------------------------------- */
/* Multiboot v1 header (spec 3.1.1), flags bit 16: the address fields below give the layout. */
	.section .multiboot, "a"
	.align 4
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
	.long mb_header		/* header_addr */
	.long __load_start	/* load_addr: the file's first byte */
	.long __load_end	/* load_end_addr */
	.long __bss_end		/* bss_end_addr: the loader zeroes [load_end, bss_end) */
	.long entry32		/* entry_addr */

/* ---------------------------------------------------------------------------------------- */
	.section .text32, "ax"
	.code32
	.globl entry32
entry32:
	cli
	cld
	mov	%eax, mb_magic
	mov	%ebx, mb_info
	mov	$boot_stack_top, %esp
	lgdt	gdt_desc32
	ljmp	$SEL_CODE32, $1f
1:	mov	$SEL_KDATA, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	%ax, %fs
	mov	%ax, %gs

	/* Identity map 0..4 GiB: PML4[0] -> boot_pdpt, PDPT[i] -> boot_pd + i*4K, 2 MiB pages. */
	mov	$boot_pml4, %edi
	mov	$boot_pdpt + PTE_P + PTE_W + PTE_U, %eax
	mov	%eax, (%edi)
	mov	$boot_pdpt, %edi
	mov	$boot_pd + PTE_P + PTE_W + PTE_U, %eax
	mov	$4, %ecx
2:	mov	%eax, (%edi)
	add	$4096, %eax
	add	$8, %edi
	loop	2b
	mov	$boot_pd, %edi
	mov	$PTE_P + PTE_W + PTE_U + PTE_PS, %eax
	xor	%edx, %edx
	mov	$2048, %ecx
3:	mov	%eax, (%edi)
	mov	%edx, 4(%edi)
	add	$0x200000, %eax
	adc	$0, %edx
	add	$8, %edi
	loop	3b

	/* CR4: PAE, OSFXSR, OSXMMEXCPT (SDM Vol. 3A 2.5, 13.1.3) */
	mov	$CR4_PAE + CR4_OSFXSR + CR4_OSXMMEXCPT, %eax
	mov	%eax, %cr4
	mov	$boot_pml4, %eax
	mov	%eax, %cr3
	/* EFER: LME and SCE; NXE only if the CPU has it (writing it otherwise is #GP). */
	mov	$0x80000000, %eax
	cpuid
	xor	%esi, %esi
	cmp	$0x80000001, %eax
	jb	4f
	mov	$0x80000001, %eax
	cpuid
	test	$1 << 20, %edx
	jz	4f
	mov	$EFER_NXE, %esi
4:	mov	$MSR_EFER, %ecx
	rdmsr
	or	$EFER_LME + EFER_SCE, %eax
	or	%esi, %eax
	wrmsr
	/* CR0: PG, WP, NE, MP, PE (SDM Vol. 3A 2.5); ET is fixed to 1. */
	mov	$CR0_PG + CR0_WP + CR0_NE + CR0_MP + CR0_ET + CR0_PE, %eax
	mov	%eax, %cr0
	ljmp	$SEL_KCODE, $entry64

	.align 8
gdt_desc32:
	.word	gdt_end - gdt - 1
	.long	gdt

/* ---------------------------------------------------------------------------------------- */
	.text
	.code64
entry64:
	mov	$SEL_KDATA, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	xor	%eax, %eax
	mov	%ax, %fs
	mov	%ax, %gs
	mov	$boot_stack_top, %rsp
	xor	%ebp, %ebp
	call	guest_main
	/* guest_main exits through port 0xF4; should it return, report it. */
	mov	$EXIT_RETURNED, %eax
	mov	$PORT_EXIT, %dx
	out	%eax, %dx
5:	hlt
	jmp	5b

/*
 * Interrupt entry stubs: isr_stubs + 16 * vector. Vectors without an error code push a 0 in its
 * place (SDM Vol. 3A Table 6-1 lists which exceptions push one: 8, 10-14, 17, 21, 29, 30), then
 * every stub pushes its vector number.
 */
	.align 16
	.globl isr_stubs
isr_stubs:
	.set vec, 0
	.rept 256
	.align 16
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq	$0
	.endif
	pushq	$vec
	jmp	isr_common
	.set vec, vec + 1
	.endr

/* struct frame (guest.h): r15 at the lowest address ... rax, vector, error, then the CPU's
 * RIP, CS, RFLAGS, RSP, SS. */
isr_common:
	push	%rax
	push	%rbx
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%rbp
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	cld
	mov	%rsp, %rdi
	call	exc_dispatch
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rbp
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rbx
	pop	%rax
	add	$16, %rsp
	.globl isr_iretq
isr_iretq:
	iretq

/*
 * int try_call(uint64_t (*fn)(uint64_t), uint64_t arg): calls fn(arg); returns 0 and stores
 * fn's result in try_result, or returns 1 when an exception handler "recovered" (resumed at
 * recover_rip with RSP = recover_rsp, see exc_dispatch). Callee-saved registers are restored
 * either way. Not nested.
 */
	.globl try_call
try_call:
	push	%rbx
	push	%rbp
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	sub	$8, %rsp
	mov	%rsp, recover_rsp(%rip)
	lea	.Lrecovered(%rip), %rax
	mov	%rax, recover_rip(%rip)
	mov	%rdi, %rax
	mov	%rsi, %rdi
	call	*%rax
	mov	%rax, try_result(%rip)
	movq	$0, recover_rip(%rip)
	xor	%eax, %eax
	jmp	1f
.Lrecovered:
	movq	$0, recover_rip(%rip)
	mov	$1, %eax
1:	add	$8, %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbp
	pop	%rbx
	ret

/*
 * uint64_t run_user(uint64_t unused): IRETQ to user_rip at CPL 3 (CS = SEL_UCODE, SS = SEL_UDATA,
 * RSP = user_rsp, RFLAGS = user_rflags). Comes back when the user code executes INT 0x80 (the
 * handler resumes at uret_rip) or SYSCALL (syscall_entry). Callee-saved registers restored.
 */
	.globl run_user
run_user:
	push	%rbx
	push	%rbp
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	sub	$8, %rsp
	mov	%rsp, uret_rsp(%rip)
	lea	user_exit(%rip), %rax
	mov	%rax, uret_rip(%rip)
	pushq	$SEL_UDATA
	pushq	user_rsp(%rip)
	pushq	user_rflags(%rip)
	pushq	$SEL_UCODE
	pushq	user_rip(%rip)
	iretq
	.globl user_exit
user_exit:
	mov	uret_rsp(%rip), %rsp
	add	$8, %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbp
	pop	%rbx
	xor	%eax, %eax
	ret

/*
 * uint64_t do_sysret(uint64_t unused): SYSRET (64-bit form, REX.W) to user_rip with
 * R11 = user_rflags and RSP = user_rsp; comes back like run_user.
 */
	.globl do_sysret
do_sysret:
	push	%rbx
	push	%rbp
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	sub	$8, %rsp
	mov	%rsp, uret_rsp(%rip)
	lea	user_exit(%rip), %rax
	mov	%rax, uret_rip(%rip)
	mov	user_rip(%rip), %rcx
	mov	user_rflags(%rip), %r11
	mov	user_rsp(%rip), %rsp
	.globl do_sysret_insn
do_sysret_insn:
	sysretq

/*
 * SYSCALL entry (IA32_LSTAR): still on the caller's stack. Records RCX, R11, RFLAGS (after
 * SFMASK), CS, SS and RSP into sc_rec, then returns from run_user/do_sysret.
 */
	.globl syscall_entry
syscall_entry:
	mov	%rcx, sc_rec + 0(%rip)
	mov	%r11, sc_rec + 8(%rip)
	pushfq
	popq	sc_rec + 16(%rip)
	mov	%cs, %rcx
	mov	%rcx, sc_rec + 24(%rip)
	mov	%ss, %rcx
	mov	%rcx, sc_rec + 32(%rip)
	mov	%rsp, sc_rec + 40(%rip)
	mov	%rax, sc_rec + 48(%rip)
	incq	sc_count(%rip)
	jmp	user_exit

/* ---------------------------------------------------------------------------------------- */
	.data
	.align 16
	.globl gdt
gdt:
	.quad	0				/* 0x00 null */
	.quad	0x00cf9a000000ffff		/* 0x08 32-bit code, DPL 0 (boot only) */
	.quad	0x00af9a000000ffff		/* 0x10 64-bit code (L=1), DPL 0 */
	.quad	0x00cf92000000ffff		/* 0x18 data, DPL 0 */
	.quad	0x00cffa000000ffff		/* 0x20 32-bit code, DPL 3 (SYSRET base) */
	.quad	0x00cff2000000ffff		/* 0x28 data, DPL 3 */
	.quad	0x00affa000000ffff		/* 0x30 64-bit code, DPL 3 */
	.quad	0				/* 0x38 data segment with a base (msr test) */
	.quad	0				/* 0x40 TSS, 16 bytes (lib.c fills it in) */
	.quad	0
gdt_end:
	.globl gdt_size
gdt_size:
	.quad	gdt_end - gdt

	.globl mb_magic, mb_info
mb_magic: .long 0
mb_info: .long 0

	.bss
	.align 4096
	.globl boot_pml4, boot_pdpt, boot_pd
boot_pml4: .skip 4096
boot_pdpt: .skip 4096
boot_pd: .skip 4 * 4096
	.align 16
boot_stack: .skip 16384
	.globl boot_stack_top
boot_stack_top:
