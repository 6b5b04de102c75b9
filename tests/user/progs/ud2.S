/* Executes an undefined opcode: the kernel sends SIGILL (shell status 132). */
	.intel_syntax noprefix
	.globl _start
	.text
_start:
	ud2
	mov eax, 60		/* not reached: exit(0) */
	xor edi, edi
	syscall
