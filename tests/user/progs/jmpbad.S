/* Jumps to unmapped memory (below mmap_min_addr, never mapped): SIGSEGV (shell status 139). */
	.intel_syntax noprefix
	.globl _start
	.text
_start:
	mov eax, 0x1000
	jmp rax
