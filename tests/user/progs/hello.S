/* The smallest well-behaved program: write(1, "hello, world\n") and exit(42) with raw system calls. */
	.intel_syntax noprefix
	.globl _start
	.section .rodata
msg:	.ascii "hello, world\n"
	.set len, . - msg
	.text
_start:
	mov eax, 1		/* write */
	mov edi, 1
	lea rsi, [rip + msg]
	mov edx, len
	syscall
	mov eax, 60		/* exit */
	mov edi, 42
	syscall
