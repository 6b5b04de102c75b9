/* Reads through a null pointer: SIGSEGV (shell status 139). */
	.intel_syntax noprefix
	.globl _start
	.text
_start:
	xor eax, eax
	mov rbx, qword ptr [rax]
	mov eax, 60		/* not reached: exit(0) */
	xor edi, edi
	syscall
