/* Writes into .rodata (mapped read-only): SIGSEGV (shell status 139). */
	.intel_syntax noprefix
	.globl _start
	.section .rodata
msg:	.quad 0x1122334455667788
	.text
_start:
	lea rax, [rip + msg]
	mov qword ptr [rax], 0
	mov eax, 60		/* not reached: exit(0) */
	xor edi, edi
	syscall
