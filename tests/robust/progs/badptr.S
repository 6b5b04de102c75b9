/* SPDX-License-Identifier: MIT */
/*
 * System calls with hostile pointers and lengths: NULL, low unmapped pages, the top of
 * omnivisor's guest window (1 TiB) and just past it, the end of the user address space,
 * non-canonical and kernel addresses, a PROT_NONE guard page, buffers that run into the guard
 * page, absurd lengths and counts. Linux answers -EFAULT/-EINVAL/-ENOMEM/...; the results are
 * printed one per line and the run under omnivisor must print exactly the same.
 *
 * Registers for the whole program: rbx = a regular file open read-only (this program), rbp =
 * pipe write end, r12 = a read-write page, r13 = the PROT_NONE page right after it, r14 =
 * r13 - 4 (4 valid bytes, then the guard page), r15 = scratch buffer in .bss.
 */
#include "lib.h"

#define FUTEX_WAKE 1

/* Addresses the guest must not be able to reach (see above). */
#define BAD_ADDRS 0, 0x1000, 0xfffffffff0, 0x10000000000, 0x7ffffffff000, 0x800000000000, \
	0xdead000000000000, 0xffffffffff600000, 0xffffffffffffffff, r13

	.data
	.balign 16
pipefd:	.long 0, 0
pipe_r:	.quad 0
iov_bad_base:	.quad 0xdead000000000000, 8
iov_partial:	.quad scratch, 8, 0x10, 8	/* second buffer unmapped */
iov_huge:	.quad scratch, 0x8000000000000000
iov_wrap:	.quad scratch, 0x7fffffffffffffff, scratch, 0x7fffffffffffffff
iov_empty_then_bad:	.quad scratch, 0, 0x10, 8	/* nothing transferred before the fault */
sigact:		.quad 0, 0, 0, 0		/* SIG_DFL */
	.section .rodata
slash:	.asciz "/"
fd0_link:	.asciz "/proc/self/fd/0"
msg:	.ascii "0123456789abcdef"
	/* last in the image: reads of absurd lengths run into the unmapped page after it */
	.bss
	.balign 4096
scratch:
	.skip 8192

	.text
	.globl _start
_start:
	/* rbx = open(argv[0]) */
	mov rsi, [rsp + 8]
	SYS __NR_openat, AT_FDCWD, rsi, O_RDONLY
	REPORT_OK "open(argv[0])"
	mov rbx, rax
	lea r15, [rip + scratch]
	/* r12 = 2 pages, the second PROT_NONE */
	SYS __NR_mmap, 0, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0
	REPORT_OK "mmap(2 pages)"
	mov r12, rax
	lea r13, [r12 + 4096]
	lea r14, [r12 + 4092]
	SYS __NR_mprotect, r13, 4096, PROT_NONE
	REPORT "mprotect(guard, PROT_NONE)"
	mov dword ptr [r14], 0x61616161		/* "aaaa": no NUL before the guard page */
	/* a pipe with 16 bytes in it (non-blocking: a wrong length must not hang the test) */
	lea rdi, [rip + pipefd]
	SYS __NR_pipe2, rdi, 0x800
	REPORT "pipe2"
	mov eax, dword ptr [rip + pipefd]
	mov [rip+pipe_r], rax
	mov ebp, dword ptr [rip + pipefd + 4]
	lea rsi, [rip + msg]
	SYS __NR_write, rbp, rsi, 16
	REPORT "write(pipe, 16)"

	.irp a, BAD_ADDRS
	SYS __NR_pread64, rbx, \a, 8, 0
	REPORT "pread(file, \a, 8)"
	SYS __NR_read, [rip+pipe_r], \a, 8
	REPORT "read(pipe, \a, 8)"
	SYS __NR_write, rbp, \a, 8
	REPORT "write(pipe, \a, 8)"
	SYS __NR_openat, AT_FDCWD, \a, O_RDONLY
	REPORT "openat(\a)"
	SYS __NR_stat, \a, r15
	REPORT "stat(\a, buf)"
	lea rdi, [rip + slash]
	SYS __NR_stat, rdi, \a
	REPORT "stat(/, \a)"
	SYS __NR_preadv, rbx, \a, 1, 0
	REPORT "preadv(file, iov=\a)"
	SYS __NR_writev, rbp, \a, 1
	REPORT "writev(pipe, iov=\a)"
	SYS __NR_rt_sigaction, SIGUSR1, \a, 0, 8
	REPORT "rt_sigaction(act=\a)"
	SYS __NR_rt_sigaction, SIGUSR1, 0, \a, 8
	REPORT "rt_sigaction(oact=\a)"
	SYS __NR_rt_sigprocmask, 0, \a, 0, 8
	REPORT "rt_sigprocmask(set=\a)"
	SYS __NR_rt_sigprocmask, 0, 0, \a, 8
	REPORT "rt_sigprocmask(oset=\a)"
	SYS __NR_uname, \a
	REPORT "uname(\a)"
	SYS __NR_getcwd, \a, 64
	REPORT "getcwd(\a)"
	SYS __NR_pipe2, \a, 0
	REPORT "pipe2(\a)"
	SYS __NR_clock_gettime, 0, \a
	REPORT "clock_gettime(\a)"
	SYS __NR_gettimeofday, \a, 0
	REPORT "gettimeofday(\a)"
	SYS __NR_nanosleep, \a, 0
	REPORT "nanosleep(\a)"
	SYS __NR_getrandom, \a, 16, 0
	REPORT "getrandom(\a)"
	SYS __NR_poll, \a, 1, 0
	REPORT "poll(\a)"
	SYS __NR_futex, \a, FUTEX_WAIT, 0, 0
	REPORT "futex(\a, WAIT)"
	SYS __NR_sigaltstack, \a, 0
	REPORT "sigaltstack(\a)"
	SYS __NR_sched_getaffinity, 0, 128, \a
	REPORT "sched_getaffinity(\a)"
	SYS __NR_prlimit64, 0, 3, 0, \a
	REPORT "prlimit64(old=\a)"
	SYS __NR_arch_prctl, 0x1003, \a
	REPORT "arch_prctl(GET_FS, \a)"
	SYS __NR_execve, \a, 0, 0
	REPORT "execve(\a)"
	SYS __NR_munmap, \a, 4096
	REPORT "munmap(\a, 4096)"
	SYS __NR_mremap, \a, 4096, 8192, MREMAP_MAYMOVE
	REPORT "mremap(\a)"
	.endr

	/* buffers that start mapped and run into the guard page */
	SYS __NR_pread64, rbx, r14, 8, 0
	REPORT "pread(file, 4 bytes before guard, 8)"
	SYS __NR_write, rbp, r14, 8
	REPORT "write(pipe, 4 bytes before guard, 8)"
	SYS __NR_openat, AT_FDCWD, r14, O_RDONLY
	REPORT "openat(unterminated path before guard)"
	lea rdi, [rip + slash]
	lea rsi, [r13 - 16]
	SYS __NR_stat, rdi, rsi
	REPORT "stat(/, 16 bytes before guard)"
	lea rsi, [r13 - 8]
	SYS __NR_preadv, rbx, rsi, 1, 0
	REPORT "preadv(file, iov array runs into guard)"
	lea rsi, [r13 - 16]
	SYS __NR_rt_sigaction, SIGUSR1, rsi, 0, 8
	REPORT "rt_sigaction(act runs into guard)"

	/* absurd lengths and counts */
	SYS __NR_pread64, rbx, r15, 0x7fffffffffffffff, 0
	REPORT "pread(file, buf, 2^63-1)"
	SYS __NR_pread64, rbx, r15, -1, 0
	REPORT "pread(file, buf, -1)"
	SYS __NR_pread64, rbx, r15, 0x10000000000, 0
	REPORT "pread(file, buf, 1 TiB)"
	SYS __NR_write, rbp, r15, 0x7fffffffffffffff
	REPORT "write(pipe, buf, 2^63-1)"
	SYS __NR_write, rbp, r15, -1
	REPORT "write(pipe, buf, -1)"
	SYS __NR_read, [rip+pipe_r], r15, -1
	REPORT "read(pipe, buf, -1)"
	lea rsi, [rip + iov_bad_base]
	SYS __NR_preadv, rbx, rsi, 1, 0
	REPORT "preadv(file, iov_base non-canonical)"
	lea rsi, [rip + iov_partial]
	SYS __NR_preadv, rbx, rsi, 2, 0
	REPORT "preadv(file, second iov_base unmapped)"
	lea rsi, [rip + iov_huge]
	SYS __NR_preadv, rbx, rsi, 1, 0
	REPORT "preadv(file, iov_len 2^63)"
	lea rsi, [rip + iov_wrap]
	SYS __NR_preadv, rbx, rsi, 2, 0
	REPORT "preadv(file, iov_len sum overflows)"
	lea rsi, [rip + iov_partial]
	SYS __NR_preadv, rbx, rsi, -1, 0
	REPORT "preadv(file, iovcnt -1)"
	SYS __NR_preadv, rbx, rsi, 1025, 0
	REPORT "preadv(file, iovcnt 1025)"
	lea rsi, [rip + iov_bad_base]
	SYS __NR_writev, rbp, rsi, 1
	REPORT "writev(pipe, iov_base non-canonical)"
	SYS __NR_getcwd, r15, -1
	REPORT_OK "getcwd(buf, -1)"
	SYS __NR_getcwd, r15, 1
	REPORT "getcwd(buf, 1)"
	/* the kernel only needs the bytes it copies to be writable */
	lea rdi, [rip + fd0_link]
	SYS __NR_readlink, rdi, r15, 0x7fffffff
	REPORT "readlink(/proc/self/fd/0, buf, 2^31-1)"
	/* a misaligned futex is -EINVAL even where the address is mapped */
	lea rdi, [r12 + 1]
	SYS __NR_futex, rdi, FUTEX_WAKE, 1, 0
	REPORT "futex(mapped + 1, WAKE)"
	lea rsi, [rip + iov_empty_then_bad]
	SYS __NR_preadv, rbx, rsi, 2, 0
	REPORT "preadv(file, empty iov then unmapped)"
	/* access_ok: the range may end at TASK_SIZE_MAX (0x7ffffffff000), not past it */
	mov r11, 0x7ffffffff000
	sub r11, r15
	SYS __NR_pread64, rbx, r15, r11, 0
	REPORT "pread(file, buf, up to TASK_SIZE)"
	mov r11, 0x7ffffffff001
	sub r11, r15
	SYS __NR_pread64, rbx, r15, r11, 0
	REPORT "pread(file, buf, past TASK_SIZE)"

	/* mmap/munmap/mremap of odd ranges */
	SYS __NR_mmap, 0, 0, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0
	REPORT "mmap(len 0)"
	SYS __NR_mmap, 0x10001, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0
	REPORT "mmap(FIXED unaligned)"
	SYS __NR_mmap, 0, 0x4000000000000000, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0
	REPORT "mmap(len 2^62)"
	SYS __NR_mmap, 0, -4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0
	REPORT "mmap(len -4096)"
	SYS __NR_mmap, 0, -1, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0
	REPORT "mmap(len -1)"
	SYS __NR_mmap, 0x800000000000, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0
	REPORT "mmap(FIXED non-canonical)"
	SYS __NR_mmap, 0xdead000000000000, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0
	REPORT "mmap(FIXED 0xdead000000000000)"
	SYS __NR_mmap, 0xfffffffffffff000, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0
	REPORT "mmap(FIXED last page of 2^64)"
	SYS __NR_mmap, 0x7ffffffff000, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0
	REPORT "mmap(FIXED at TASK_SIZE)"
	SYS __NR_mmap, 0xdead000000000000, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0
	REPORT_OK "mmap(hint non-canonical)"
	SYS __NR_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, 999, 0
	REPORT "mmap(bad fd)"
	SYS __NR_mmap, 0, 4096, PROT_READ, 0, rbx, 0
	REPORT "mmap(neither private nor shared)"
	SYS __NR_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, rbx, 1
	REPORT "mmap(unaligned offset)"
	SYS __NR_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, rbx, -4096
	REPORT "mmap(offset -4096)"
	SYS __NR_munmap, 0x10001, 4096
	REPORT "munmap(unaligned)"
	SYS __NR_munmap, r12, 0
	REPORT "munmap(len 0)"
	SYS __NR_munmap, 0x1000, 0xffffffffffff0000
	REPORT "munmap(len wraps)"
	SYS __NR_munmap, 0xfffffff000, 0x2000
	REPORT "munmap(across the window top)"
	SYS __NR_mprotect, 0x10001, 4096, PROT_READ
	REPORT "mprotect(unaligned)"
	SYS __NR_mprotect, 0x800000000000, 4096, PROT_READ
	REPORT "mprotect(non-canonical)"
	SYS __NR_mprotect, r12, -4096, PROT_READ
	REPORT "mprotect(len -4096)"
	SYS __NR_mprotect, 0x10000, 4096, PROT_READ
	REPORT "mprotect(unmapped)"
	SYS __NR_mprotect, r12, 4096, 0x80
	REPORT "mprotect(bad prot)"
	SYS __NR_mremap, 0x10000, 4096, 8192, MREMAP_MAYMOVE
	REPORT "mremap(unmapped)"
	lea rdi, [r12 + 1]
	SYS __NR_mremap, rdi, 4096, 8192, MREMAP_MAYMOVE
	REPORT "mremap(unaligned)"
	SYS __NR_mremap, r12, 4096, 0, MREMAP_MAYMOVE
	REPORT "mremap(new_len 0)"
	SYS __NR_mremap, r12, 4096, 8192, 8
	REPORT "mremap(bad flags)"
	SYS __NR_mremap, r12, 4096, 8192, MREMAP_FIXED, 0x200000000
	REPORT "mremap(FIXED without MAYMOVE)"
	SYS __NR_mremap, r12, 4096, 0x4000000000000000, MREMAP_MAYMOVE
	REPORT "mremap(new_len 2^62)"
	SYS __NR_mremap, r12, 4096, 4096, MREMAP_MAYMOVE|MREMAP_FIXED, 0x800000000000
	REPORT "mremap(to non-canonical)"
	SYS __NR_mremap, r12, 4096, 4096, MREMAP_MAYMOVE|MREMAP_FIXED, r12
	REPORT "mremap(to itself)"
	SYS __NR_mremap, r12, 0x2000, 0x2000, MREMAP_MAYMOVE|MREMAP_FIXED, 0x20000001
	REPORT "mremap(to unaligned)"

	/* brk to absurd values: the break stays where it was */
	SYS __NR_brk, 0
	mov r12, rax
	.irp b, 0xffffffffffffffff, 0x800000000000, 0xdead000000000000, 0x400000000000, 0x1000, 0x7ffffffff000, 0x10000000000, r12
	SYS __NR_brk, \b
	sub rax, r12
	REPORT "brk(\b) - brk(0)"
	.endr

	/* signals: bad numbers, sizes, SIGKILL */
	lea r13, [rip + sigact]
	SYS __NR_rt_sigaction, SIGUSR1, r13, 0, 16
	REPORT "rt_sigaction(sigsetsize 16)"
	SYS __NR_rt_sigaction, 0, r13, 0, 8
	REPORT "rt_sigaction(signal 0)"
	SYS __NR_rt_sigaction, 65, r13, 0, 8
	REPORT "rt_sigaction(signal 65)"
	SYS __NR_rt_sigaction, -1, r13, 0, 8
	REPORT "rt_sigaction(signal -1)"
	SYS __NR_rt_sigaction, SIGKILL, r13, 0, 8
	REPORT "rt_sigaction(SIGKILL)"
	SYS __NR_rt_sigprocmask, 7, r13, 0, 8
	REPORT "rt_sigprocmask(how 7)"
	SYS __NR_arch_prctl, 0x1002, 0x800000000000
	REPORT "arch_prctl(SET_FS, non-canonical)"
	SYS __NR_arch_prctl, 0x9999, 0
	REPORT "arch_prctl(bad code)"

	/* system call numbers nobody implements (not 335/336: uretprobe/uprobe since Linux 6.11) */
	.irp num, 1000, 4096, 0x7fffffff, -1
	mov rax, \num
	syscall
	REPORT "syscall \num"
	.endr

	EXIT 0

	DEFINE_PRINT_RESULT
