/* Writes into its own code (mapped read+execute): SIGSEGV (shell status 139). */
	.intel_syntax noprefix
	.globl _start
	.text
_start:
	lea rax, [rip + _start]
	mov byte ptr [rax], 0x90
	mov eax, 60		/* not reached: exit(0) */
	xor edi, edi
	syscall
