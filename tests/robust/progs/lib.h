/* SPDX-License-Identifier: MIT */
/*
 * Shared macros of the hostile guest programs (tests/robust/progs/*.S, built with
 * gcc -static -nostdlib): raw system calls and a tiny printer, so the output of a native run
 * and of a run under omnivisor can be compared line by line.
 *
 *   SYS nr, a1, ..., a6      system call: arguments are register or immediate operands
 *                            (loaded in order rdi rsi rdx r10 r8 r9, then eax = nr)
 *   REPORT "label"           print `label = <rax as signed decimal>` and a newline
 *   REPORT_OK "label"        the same, but any non-error result (not in -4095..-1) prints as 1
 *                            (for results that differ between runs: addresses, tids)
 *   EXIT n                   exit_group(n)
 * REPORT and REPORT_OK preserve rax (the result), rbx, rbp and r12-r15; SYS clobbers rcx, r11
 * and its argument registers.
 */
#include <asm/unistd.h>

	.intel_syntax noprefix

#define AT_FDCWD -100
#define O_RDONLY 0
#define PROT_NONE 0
#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4
#define MAP_SHARED 0x01
#define MAP_PRIVATE 0x02
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2
#define SIGUSR1 10
#define SIGKILL 9
#define CLONE_VM 0x100
#define CLONE_FS 0x200
#define CLONE_FILES 0x400
#define CLONE_SIGHAND 0x800
#define CLONE_THREAD 0x10000
#define CLONE_SYSVSEM 0x40000
#define CLONE_PARENT_SETTID 0x100000
#define CLONE_CHILD_CLEARTID 0x200000
#define CLONE_THREAD_FLAGS (CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM)
#define FUTEX_WAIT 0

	.macro SYS nr, a1=0, a2=0, a3=0, a4=0, a5=0, a6=0
	mov rdi, \a1
	mov rsi, \a2
	mov rdx, \a3
	mov r10, \a4
	mov r8, \a5
	mov r9, \a6
	mov eax, \nr
	syscall
	.endm

	.macro REPORT label
	.pushsection .rodata
.Lrep_label\@:
	.asciz "\label"
	.popsection
	push rax
	mov rsi, rax
	lea rdi, [rip + .Lrep_label\@]
	call print_result
	pop rax
	.endm

	.macro REPORT_OK label
	.pushsection .rodata
.Lrep_label\@:
	.asciz "\label"
	.popsection
	push rax
	cmp rax, -4095
	jae .Lrep_ok\@
	mov eax, 1
.Lrep_ok\@:
	mov rsi, rax
	lea rdi, [rip + .Lrep_label\@]
	call print_result
	pop rax
	.endm

	.macro EXIT code
	mov edi, \code
	mov eax, __NR_exit_group
	syscall
	.endm

/*
 * print_result(rdi = NUL-terminated label, at most 100 bytes; rsi = value): one write(2) of
 * "label = value\n" to stdout. Clobbers the caller-saved registers only.
 */
	.macro DEFINE_PRINT_RESULT
	.text
print_result:
	push rbp
	mov rbp, rsp
	sub rsp, 160
	lea r8, [rbp - 160]		/* output cursor */
1:	mov al, byte ptr [rdi]
	test al, al
	jz 2f
	mov byte ptr [r8], al
	inc rdi
	inc r8
	jmp 1b
2:	mov byte ptr [r8], ' '
	mov byte ptr [r8 + 1], '='
	mov byte ptr [r8 + 2], ' '
	add r8, 3
	mov rax, rsi
	test rax, rax
	jns 3f
	mov byte ptr [r8], '-'
	inc r8
	neg rax
3:	lea r9, [rbp - 1]		/* digits, last first, below rbp */
	mov rcx, 10
4:	xor edx, edx
	div rcx
	add dl, '0'
	mov byte ptr [r9], dl
	dec r9
	test rax, rax
	jnz 4b
	inc r9
5:	cmp r9, rbp
	je 6f
	mov al, byte ptr [r9]
	mov byte ptr [r8], al
	inc r9
	inc r8
	jmp 5b
6:	mov byte ptr [r8], 10
	inc r8
	mov edi, 1
	lea rsi, [rbp - 160]
	mov rdx, r8
	sub rdx, rsi
	mov eax, __NR_write
	syscall
	leave
	ret
	.endm
