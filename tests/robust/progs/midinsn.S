/* SPDX-License-Identifier: MIT */
/*
 * Jumps into the middle of instructions: the same bytes decode differently from different
 * starting points, and both decodings must coexist in omnivisor's block cache.
 *   code:  b8 31 c0 c3 90   mov eax, 0x90c3c031
 *          c3               ret
 * from +0: mov eax, 0x90c3c031; ret    from +1: xor eax, eax; ret
 * from +2: rol bl, 0x90; ret (count masked to 16: bl unchanged)    from +3: ret
 * Then a jump into the middle of a SYSCALL:  0f 05 eb 02 90 90 c3
 * from +0: syscall; jmp +2; ret      from +1: add eax, 0x909002eb; ret
 */
#include "lib.h"

	.text
	.globl _start
_start:
	mov eax, 5
	call code + 1
	REPORT "mid +1 (xor eax, eax)"
	call code
	REPORT "mid +0 (mov eax, imm32)"
	mov eax, 5
	call code + 1
	REPORT "mid +1 again"
	mov ebx, 0x1234
	call code + 2
	mov rax, rbx
	REPORT "mid +2 (rol bl, 0x90)"
	mov eax, 9
	call code + 3
	REPORT "mid +3 (ret)"
	xor eax, eax
	call sys + 1
	REPORT "mid syscall +1 (add eax, 0x909002eb)"
	mov eax, __NR_getppid
	call sys
	REPORT_OK "mid syscall +0 (getppid)"
	EXIT 0

code:	.byte 0xb8, 0x31, 0xc0, 0xc3, 0x90
	ret
sys:	syscall
	.byte 0xeb, 0x02, 0x90, 0x90
	ret

	DEFINE_PRINT_RESULT
