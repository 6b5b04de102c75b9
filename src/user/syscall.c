/* SPDX-License-Identifier: MIT */
/*
 * Linux x86-64 system calls of the guest: dispatch and forwarding to the host kernel.
 *
 * The guest runs inside the runner process, so the host kernel's objects (file descriptors,
 * pids, credentials) are the guest's. Structures have the same layout on both sides (both are
 * x86-64 Linux); the only work is translating guest pointers (GVA -> mem_base + GVA) after
 * checking that the whole object lies in guest pages with the right protection (so the host
 * kernel can never be pointed at the runner's own memory), and rewriting structures that
 * themselves hold pointers (iovec, msghdr, pselect6's sigset argument).
 * Calling convention: Linux x86-64 ABI A.2.1 (RAX nr, RDI RSI RDX R10 R8 R9, result in RAX).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "user/sysnames.h"
#include "user/user.h"

#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004

/* termios2 requests (asm-generic/ioctls.h), spelled out: <termios.h> lacks struct termios2 */
#define K_TCGETS2 0x802c542aUL
#define K_TCSETS2 0x402c542bUL
#define K_TCSETSW2 0x402c542cUL
#define K_TCSETSF2 0x402c542dUL

#define ERESTARTNOINTR 513 /* kernel-internal: restart the call */

#define R GPROT_READ
#define W GPROT_WRITE

long host_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/*
 * Forwarded guest system calls go through this stub, which closes the race between "no signal
 * pending" and entering a blocking host call: the host signal handler sets user_sig_arrived and,
 * if it interrupted the stub between the check and the SYSCALL instruction, moves the host RIP
 * to the cancel path. The call then returns -ERESTARTNOINTR and syscall_handle() re-executes the
 * guest's SYSCALL after the handler has run (the signal came before the call started).
 */
__thread int user_sig_arrived __attribute__((tls_model("local-exec")));

__asm__(".text\n"
	".globl guest_syscall6\n"
	".type guest_syscall6,@function\n"
	"guest_syscall6:\n"
	"	mov %rdi, %rax\n"
	"	mov %rsi, %rdi\n"
	"	mov %rdx, %rsi\n"
	"	mov %rcx, %rdx\n"
	"	mov %r8, %r10\n"
	"	mov %r9, %r8\n"
	"	mov 8(%rsp), %r9\n"
	".globl user_bsc_begin\n"
	"user_bsc_begin:\n"
	"	cmpl $0, %fs:user_sig_arrived@tpoff\n"
	"	jne user_bsc_cancel\n"
	"	syscall\n"
	".globl user_bsc_end\n"
	"user_bsc_end:\n"
	"	ret\n"
	".globl user_bsc_cancel\n"
	"user_bsc_cancel:\n"
	"	mov $-513, %rax\n" /* -ERESTARTNOINTR */
	"	ret\n"
	".size guest_syscall6, .-guest_syscall6\n");

const char *syscall_name(uint64_t nr)
{
	if (nr < sizeof(sysnames) / sizeof(sysnames[0]) && sysnames[nr])
		return sysnames[nr];
	return "?";
}

void *guest_ptr(struct user_thread *t, uint64_t gva, uint64_t len, int prot)
{
	struct guest_mem *mem = t->proc->mem;
	uint8_t *base = mem_base(mem);

	if (!len)
		return base + (gva < mem_limit(mem) ? gva : 0);
	if (!mem_check_range(mem, gva, len, prot ? prot : GPROT_READ))
		return NULL;
	if (prot & GPROT_WRITE)
		mem_prepare_write(mem, gva, len);
	return base + gva;
}

/*
 * Linux's access_ok() on x86-64 (arch/x86/include/asm/uaccess_64.h): a user range is valid if
 * it does not wrap and ends at or below TASK_SIZE_MAX (4-level paging). read(2), write(2),
 * getdents64(2), recv(2) and the iovec import check the whole range with it before any data
 * moves, so read(fd, buf, -1) is -EFAULT and consumes nothing, while a range that passes but
 * is not all mapped (our window is smaller than Linux's user space) only faults where the copy
 * reaches it.
 */
#define LINUX_TASK_SIZE_MAX 0x7ffffffff000ULL

static bool linux_access_ok(uint64_t gva, uint64_t len)
{
	return gva <= LINUX_TASK_SIZE_MAX && len <= LINUX_TASK_SIZE_MAX - gva;
}

/*
 * The accessible (@prot) prefix of [gva, gva+len): the kernel's copy stops at the first page
 * it cannot access. Sets *@len to the prefix; NULL if it is empty (and len was not 0).
 */
static void *guest_prefix(struct user_thread *t, uint64_t gva, uint64_t *len, int prot)
{
	struct guest_mem *mem = t->proc->mem;
	uint64_t at, end;

	if (!*len || mem_check_range(mem, gva, *len, prot))
		return guest_ptr(t, gva, *len, prot);
	if (gva >= mem_limit(mem))
		return NULL;
	end = mem_limit(mem) - gva < *len ? mem_limit(mem) : gva + *len;
	for (at = gva; at < end; at = (at & GUEST_PAGE_MASK) + GUEST_PAGE_SIZE)
		if (!mem_check_range(mem, at, 1, prot))
			break;
	if (at > end)
		at = end;
	if (at == gva)
		return NULL;
	*len = at - gva;
	return guest_ptr(t, gva, *len, prot);
}

/*
 * For calls where the kernel writes at most @len bytes into a buffer (read, recv, ...): NULL
 * (-EFAULT) if the range fails access_ok, else the mapped writable prefix of [gva, gva+len),
 * so a generous length over a smaller buffer works as natively (the kernel only faults on
 * bytes it actually copies). Sets *@len to the prefix.
 */
static void *guest_out_buf(struct user_thread *t, uint64_t gva, uint64_t *len)
{
	if (!linux_access_ok(gva, *len))
		return NULL;
	return guest_prefix(t, gva, len, GPROT_WRITE);
}

const char *guest_str(struct user_thread *t, uint64_t gva, size_t max)
{
	struct guest_mem *mem = t->proc->mem;
	uint8_t *base = mem_base(mem);
	uint64_t at = gva;

	while (at - gva < max) {
		uint64_t n = GUEST_PAGE_SIZE - (at & (GUEST_PAGE_SIZE - 1));
		if (!mem_check_range(mem, at, 1, GPROT_READ))
			return NULL;
		if (memchr(base + at, 0, n))
			return (const char *)(base + gva);
		at += n;
	}
	return NULL;
}

const char *user_fix_path(const char *path)
{
	char buf[64];

	if (!strncmp(path, "/proc/", 6)) {
		if (!strcmp(path, "/proc/self/exe") || !strcmp(path, "/proc/thread-self/exe"))
			return user_proc.exe_path;
		snprintf(buf, sizeof(buf), "/proc/%d/exe", (int)getpid());
		if (!strcmp(path, buf))
			return user_proc.exe_path;
	}
	return path;
}

/* ---- /proc/self/maps: the guest's mappings, not the runner's ------------------------------ */

static void maps_line(uint64_t start, uint64_t end, int prot, int flags, void *opaque)
{
	dprintf(*(int *)opaque, "%08llx-%08llx %c%c%c%c 00000000 00:00 0\n",
		(unsigned long long)start, (unsigned long long)end,
		prot & GPROT_READ ? 'r' : '-', prot & GPROT_WRITE ? 'w' : '-',
		prot & GPROT_EXEC ? 'x' : '-', flags & MAP_SHARED ? 's' : 'p');
}

static bool is_self_maps(const char *path)
{
	char buf[64];
	if (!strcmp(path, "/proc/self/maps") || !strcmp(path, "/proc/thread-self/maps"))
		return true;
	snprintf(buf, sizeof(buf), "/proc/%d/maps", (int)getpid());
	return !strcmp(path, buf);
}

/*
 * Opening /proc/self/maps gives a read-only snapshot of the guest's address space (what glibc's
 * pthread_getattr_np and sanitizers parse), so the runner's layout is never shown. Returns the
 * fd, -errno, or 0 if @path is not the maps file.
 */
static long open_self_maps(const char *path, long flags)
{
	int fd;
	if (!path || !is_self_maps(path))
		return 0;
	if ((flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	fd = memfd_create("maps", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	mem_for_each_vma(user_proc.mem, maps_line, &fd);
	lseek(fd, 0, SEEK_SET);
	if (!(flags & O_CLOEXEC)) {
		int fl = fcntl(fd, F_GETFD);
		fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
	}
	return fd;
}

/*
 * Translate a guest iovec array into @hiov, checking it in the kernel's order (lib/iov_iter.c
 * iovec_from_user, __import_iovec): a count over UIO_MAXIOV is -EINVAL, an unreadable array
 * -EFAULT, a negative length anywhere -EINVAL, then a buffer failing access_ok -EFAULT.
 * With @partial (readv/preadv: the kernel copies into the buffers in order and returns the
 * bytes done when the copy faults), a buffer that is not all accessible ends the vector at its
 * accessible prefix and *@cnt is lowered; -EFAULT only if no byte at all can be transferred.
 * Without it every buffer must be wholly accessible. Returns 0 or -errno.
 */
static long iov_translate(struct user_thread *t, uint64_t giov, long *cnt, struct iovec *hiov,
			  int prot, bool partial)
{
	const struct iovec *g;
	long n = *cnt;
	uint64_t done = 0;

	if (n < 0 || n > IOV_MAX)
		return -EINVAL;
	g = guest_ptr(t, giov, (uint64_t)n * sizeof(*g), R);
	if (!g)
		return -EFAULT;
	for (long i = 0; i < n; i++)
		if ((int64_t)g[i].iov_len < 0)
			return -EINVAL;
	for (long i = 0; i < n; i++)
		if (!linux_access_ok((uint64_t)g[i].iov_base, g[i].iov_len))
			return -EFAULT;
	for (long i = 0; i < n; i++) {
		uint64_t b = (uint64_t)g[i].iov_base, l = g[i].iov_len, ok = l;

		hiov[i].iov_base = partial ? guest_prefix(t, b, &ok, prot) : guest_ptr(t, b, l, prot);
		if (!hiov[i].iov_base)
			ok = 0;
		hiov[i].iov_len = ok;
		if (ok < l) {
			if (!partial || done + ok == 0)
				return -EFAULT;
			*cnt = ok ? i + 1 : i;
			return 0;
		}
		done += l;
	}
	return 0;
}

/* msghdr with guest pointers -> host msghdr. @prot: W for recvmsg. */
static long msg_translate(struct user_thread *t, uint64_t gmsg, struct msghdr *h,
			  struct iovec *hiov, int prot, struct msghdr **gm)
{
	struct msghdr *g = guest_ptr(t, gmsg, sizeof(*g), R | prot);
	long r, cnt;

	if (!g)
		return -EFAULT;
	*gm = g;
	memset(h, 0, sizeof(*h));
	h->msg_namelen = g->msg_namelen;
	if (g->msg_name) {
		h->msg_name = guest_ptr(t, (uint64_t)g->msg_name, g->msg_namelen, prot ? prot : R);
		if (!h->msg_name)
			return -EFAULT;
	}
	h->msg_controllen = g->msg_controllen;
	if (g->msg_control) {
		h->msg_control = guest_ptr(t, (uint64_t)g->msg_control, g->msg_controllen,
					   prot ? prot : R);
		if (!h->msg_control)
			return -EFAULT;
	}
	if (g->msg_iovlen > IOV_MAX)
		return -EMSGSIZE; /* net/socket.c __copy_msghdr */
	cnt = (long)g->msg_iovlen;
	r = iov_translate(t, (uint64_t)g->msg_iov, &cnt, hiov, prot ? prot : R, false);
	if (r < 0)
		return r;
	h->msg_iov = hiov;
	h->msg_iovlen = g->msg_iovlen;
	h->msg_flags = g->msg_flags;
	return 0;
}

/*
 * setsockopt: the value is copied by the kernel, except classic BPF programs
 * (struct sock_fprog), which hold a pointer to the instructions: translate it, or the host
 * would read the runner's memory.
 */
static long do_setsockopt(struct user_thread *t, long fd, long level, long opt, uint64_t val,
			  uint64_t len)
{
	void *p = NULL;

	if (val && !(p = guest_ptr(t, val, len, GPROT_READ)))
		return -EFAULT;
	if ((level == SOL_SOCKET && (opt == SO_ATTACH_FILTER || opt == SO_ATTACH_REUSEPORT_CBPF)) ||
	    (level == 263 /* SOL_PACKET */ && opt == 22 /* PACKET_FANOUT_DATA */)) {
		struct sock_fprog { uint16_t len; uint64_t filter; } prog;
		struct { uint16_t len; void *filter; } host;
		if (!p || len < sizeof(prog))
			return -EINVAL;
		memcpy(&prog, p, sizeof(prog));
		host.len = prog.len;
		host.filter = guest_ptr(t, prog.filter, (uint64_t)prog.len * 8, GPROT_READ);
		if (!host.filter)
			return -EFAULT;
		return guest_syscall6(SYS_setsockopt, fd, level, opt, (long)&host, sizeof(host), 0);
	}
	return guest_syscall6(SYS_setsockopt, fd, level, opt, (long)p, (long)len, 0);
}

/* sendmmsg/recvmmsg: an array of { struct msghdr; unsigned msg_len; }. */
static long do_mmsg(struct user_thread *t, uint64_t nr, long fd, uint64_t gvec, unsigned vlen,
		    long flags, uint64_t timeout)
{
	int prot = nr == SYS_recvmmsg ? GPROT_WRITE : 0;
	struct mmsghdr *h, *g;
	struct iovec *iov;
	void *ts = NULL;
	long r = 0;

	if (vlen > 1024)
		vlen = 1024; /* UIO_MAXIOV, as the kernel clamps */
	if (!vlen)
		return 0;
	g = guest_ptr(t, gvec, (uint64_t)vlen * sizeof(*g), GPROT_READ | prot);
	if (!g)
		return -EFAULT;
	if (nr == SYS_recvmmsg && timeout && !(ts = guest_ptr(t, timeout, 16, GPROT_READ | GPROT_WRITE)))
		return -EFAULT;
	h = calloc(vlen, sizeof(*h));
	iov = calloc((size_t)vlen * 64, sizeof(*iov));
	if (!h || !iov) {
		free(h);
		free(iov);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < vlen && r == 0; i++) {
		struct msghdr *gm;
		if (g[i].msg_hdr.msg_iovlen > 64)
			r = -EMSGSIZE;
		else
			r = msg_translate(t, gvec + i * sizeof(*g), &h[i].msg_hdr, iov + i * 64, prot,
					  &gm);
	}
	if (r == 0) {
		r = guest_syscall6((long)nr, fd, (long)h, vlen, flags, (long)ts, 0);
		for (long i = 0; i < r; i++) {
			g[i].msg_len = h[i].msg_len;
			if (prot) {
				g[i].msg_hdr.msg_namelen = h[i].msg_hdr.msg_namelen;
				g[i].msg_hdr.msg_controllen = h[i].msg_hdr.msg_controllen;
				g[i].msg_hdr.msg_flags = h[i].msg_hdr.msg_flags;
			}
		}
	}
	free(h);
	free(iov);
	return r;
}

/* Signals the host kernel must never see blocked (the runner's own fault handling). */
static uint64_t sanitize_mask(uint64_t m)
{
	return m & ~((1ULL << (SIGSEGV - 1)) | (1ULL << (SIGBUS - 1)) | (1ULL << (SIGKILL - 1)) |
		     (1ULL << (SIGSTOP - 1)));
}

/* Terminal ioctls we pass through: request -> size and direction of the argument. */
struct ioctl_desc {
	unsigned long req;
	uint16_t size;
	uint8_t prot; /* R: argument read by the kernel, W: written; 0: integer argument */
};

static const struct ioctl_desc ioctls[] = {
	{ TCGETS, 36, W },        { TCSETS, 36, R },        { TCSETSW, 36, R },
	{ TCSETSF, 36, R },       { K_TCGETS2, 44, W },       { K_TCSETS2, 44, R },
	{ K_TCSETSW2, 44, R },      { K_TCSETSF2, 44, R },      { TIOCGWINSZ, 8, W },
	{ TIOCSWINSZ, 8, R },     { TIOCGPGRP, 4, W },      { TIOCSPGRP, 4, R },
	{ TIOCGSID, 4, W },       { TIOCSCTTY, 0, 0 },      { TIOCNOTTY, 0, 0 },
	{ FIONREAD, 4, W },       { TIOCOUTQ, 4, W },       { FIONBIO, 4, R },
	{ FIOASYNC, 4, R },       { FIOCLEX, 0, 0 },        { FIONCLEX, 0, 0 },
	{ TCFLSH, 0, 0 },         { TCXONC, 0, 0 },         { TCSBRK, 0, 0 },
	{ TCSBRKP, 0, 0 },        { TIOCGPTN, 4, W },       { TIOCSPTLCK, 4, R },
	{ TIOCGPTPEER, 0, 0 },    { TIOCEXCL, 0, 0 },       { TIOCNXCL, 0, 0 },
	{ TIOCMGET, 4, W },       { TIOCGETD, 4, W },       { TIOCSETD, 4, R },
};

static long do_ioctl(struct user_thread *t, long fd, unsigned long req, uint64_t arg)
{
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++) {
		const struct ioctl_desc *d = &ioctls[i];
		void *p;
		if (d->req != req)
			continue;
		if (!d->size)
			return guest_syscall6(SYS_ioctl, fd, (long)req, (long)arg, 0, 0, 0);
		p = guest_ptr(t, arg, d->size, d->prot);
		if (!p)
			return -EFAULT;
		return guest_syscall6(SYS_ioctl, fd, (long)req, (long)p, 0, 0, 0);
	}
	/* Unknown request: a valid fd answers -ENOTTY, like a file or terminal that lacks it. */
	if (fcntl((int)fd, F_GETFD) < 0)
		return -EBADF;
	return -ENOTTY;
}

static long do_fcntl(struct user_thread *t, long fd, long cmd, uint64_t arg)
{
	void *p;

	switch (cmd) {
	case F_GETLK: case F_SETLK: case F_SETLKW:
	case F_OFD_GETLK: case F_OFD_SETLK: case F_OFD_SETLKW:
		p = guest_ptr(t, arg, sizeof(struct flock), R | W);
		break;
	case F_GETOWN_EX:
		p = guest_ptr(t, arg, 8, W);
		break;
	case F_SETOWN_EX:
		p = guest_ptr(t, arg, 8, R);
		break;
	case F_GET_RW_HINT: case F_GET_FILE_RW_HINT:
		p = guest_ptr(t, arg, 8, W);
		break;
	case F_SET_RW_HINT: case F_SET_FILE_RW_HINT:
		p = guest_ptr(t, arg, 8, R);
		break;
	default:
		return guest_syscall6(SYS_fcntl, fd, cmd, (long)arg, 0, 0, 0);
	}
	if (!p)
		return -EFAULT;
	return guest_syscall6(SYS_fcntl, fd, cmd, (long)p, 0, 0, 0);
}

/*
 * Linux's order (kernel/futex/syscalls.c, core.c get_futex_key): the timeout is copied first
 * (-EFAULT), then each futex address must be 4-byte aligned (-EINVAL) before it is accessed
 * (-EFAULT). A misaligned address the guest cannot reach is passed to the host as the low
 * address with the same misalignment, so the host answers -EINVAL (or -ENOSYS for a bad
 * operation) as Linux does.
 */
static long do_futex(struct user_thread *t, uint64_t uaddr, long op, long val, uint64_t ts,
		     uint64_t uaddr2, long val3)
{
	int cmd = (int)(op & FUTEX_CMD_MASK);
	void *u, *u2 = NULL, *tp = (void *)ts;

	switch (cmd) {
	case FUTEX_WAIT: case FUTEX_WAIT_BITSET: case FUTEX_LOCK_PI: case FUTEX_LOCK_PI2:
	case FUTEX_WAIT_REQUEUE_PI:
		if (ts) {
			tp = guest_ptr(t, ts, sizeof(struct timespec), R);
			if (!tp)
				return -EFAULT;
		}
		break;
	default:
		break; /* the timeout argument is an integer (val2) or unused */
	}
	u = guest_ptr(t, uaddr, 4, R);
	if (uaddr & 3) /* the host stops at uaddr (get_futex_key) before it looks at uaddr2 */
		return guest_syscall6(SYS_futex, (long)(u ? u : (void *)(uintptr_t)(uaddr & 3)), op,
				      val, (long)tp, 0, val3);
	if (!u)
		return -EFAULT;
	switch (cmd) {
	case FUTEX_REQUEUE: case FUTEX_CMP_REQUEUE: case FUTEX_WAKE_OP:
	case FUTEX_WAIT_REQUEUE_PI: case FUTEX_CMP_REQUEUE_PI:
		if (uaddr2 & 3) {
			u2 = (void *)(uintptr_t)(uaddr2 & 3);
			break;
		}
		u2 = guest_ptr(t, uaddr2, 4, R);
		if (!u2)
			return -EFAULT;
		break;
	default:
		break;
	}
	if (cmd == FUTEX_WAKE_OP || cmd == FUTEX_LOCK_PI || cmd == FUTEX_UNLOCK_PI ||
	    cmd == FUTEX_TRYLOCK_PI || cmd == FUTEX_LOCK_PI2)
		mem_prepare_write(t->proc->mem, uaddr, 4);
	if (cmd == FUTEX_WAKE_OP && !(uaddr2 & 3))
		mem_prepare_write(t->proc->mem, uaddr2, 4);
	return guest_syscall6(SYS_futex, (long)u, op, val, (long)tp, (long)u2, val3);
}

/*
 * Linux copies only the link's bytes (fs/namei.c readlink_copy: at most @size), so only those
 * must be writable: readlink(path, buf, huge) works when the link fits.
 */
static long do_readlink(struct user_thread *t, long dirfd, const char *path, uint64_t buf,
			long size)
{
	const char *fixed = user_fix_path(path);
	char tmp[PATH_MAX];
	long n;
	char *b;

	if (size <= 0)
		return -EINVAL;
	if (fixed != path) {
		n = (long)strlen(fixed);
		if (n > size)
			n = size;
		memcpy(tmp, fixed, (size_t)n);
	} else {
		n = guest_syscall6(SYS_readlinkat, dirfd, (long)path, (long)tmp,
				   size < PATH_MAX ? size : PATH_MAX, 0, 0);
		if (n < 0)
			return n;
	}
	b = guest_ptr(t, buf, (uint64_t)n, W);
	if (!b)
		return -EFAULT;
	memcpy(b, tmp, (size_t)n);
	return n;
}

/*
 * Linux (fs/d_path.c getcwd) builds the path, fails with -ERANGE if it does not fit in @size,
 * then copies strlen + 1 bytes: only those must be writable, so getcwd(buf, huge) works.
 */
static long do_getcwd(struct user_thread *t, uint64_t buf, uint64_t size)
{
	char tmp[PATH_MAX];
	long n = guest_syscall6(SYS_getcwd, (long)tmp, sizeof(tmp), 0, 0, 0, 0);
	char *b;

	if (n < 0)
		return n;
	if ((uint64_t)n > size)
		return -ERANGE;
	b = guest_ptr(t, buf, (uint64_t)n, W);
	if (!b)
		return -EFAULT;
	memcpy(b, tmp, (size_t)n);
	return n;
}

static long do_arch_prctl(struct user_thread *t, long code, uint64_t addr)
{
	uint64_t *p;

	switch (code) {
	case ARCH_SET_FS:
	case ARCH_SET_GS:
		if (!is_canonical(addr))
			return -EPERM;
		if (code == ARCH_SET_FS)
			t->cpu.fs_base = addr;
		else
			t->cpu.gs_base = addr;
		return 0;
	case ARCH_GET_FS:
	case ARCH_GET_GS:
		p = guest_ptr(t, addr, 8, W);
		if (!p)
			return -EFAULT;
		*p = code == ARCH_GET_FS ? t->cpu.fs_base : t->cpu.gs_base;
		return 0;
	default:
		return -EINVAL;
	}
}

static long do_prctl(struct user_thread *t, long opt, uint64_t a2, uint64_t a3, uint64_t a4,
		     uint64_t a5)
{
	void *p;

	switch (opt) {
	case PR_SET_NAME:
		p = (void *)guest_str(t, a2, 4096);
		if (!p)
			return -EFAULT;
		return guest_syscall6(SYS_prctl, opt, (long)p, 0, 0, 0, 0);
	case PR_GET_NAME:
		p = guest_ptr(t, a2, 16, W);
		if (!p)
			return -EFAULT;
		return guest_syscall6(SYS_prctl, opt, (long)p, 0, 0, 0, 0);
	case PR_GET_PDEATHSIG:
		p = guest_ptr(t, a2, 4, W);
		if (!p)
			return -EFAULT;
		return guest_syscall6(SYS_prctl, opt, (long)p, 0, 0, 0, 0);
	case PR_SET_PDEATHSIG: case PR_GET_DUMPABLE: case PR_SET_DUMPABLE:
	case PR_SET_NO_NEW_PRIVS: case PR_GET_NO_NEW_PRIVS: case PR_SET_CHILD_SUBREAPER:
	case PR_CAPBSET_READ: case PR_GET_KEEPCAPS: case PR_SET_KEEPCAPS:
	case PR_GET_TIMERSLACK: case PR_SET_TIMERSLACK:
		return guest_syscall6(SYS_prctl, opt, (long)a2, (long)a3, (long)a4, (long)a5, 0);
	default:
		return -EINVAL;
	}
}

static long do_mmap(struct user_thread *t, uint64_t addr, uint64_t len, long prot, long flags,
		    long fd, long off)
{
	if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
		return -EINVAL;
	return mem_map(t->proc->mem, addr, len, (int)prot, (int)flags,
		       (flags & MAP_ANONYMOUS) ? -1 : (int)fd, off);
}

static long do_madvise(struct user_thread *t, uint64_t addr, uint64_t len, long advice)
{
	struct guest_mem *mem = t->proc->mem;

	if (addr & (GUEST_PAGE_SIZE - 1))
		return -EINVAL;
	len = (len + GUEST_PAGE_SIZE - 1) & GUEST_PAGE_MASK;
	if (!len)
		return 0;
	if (addr >= mem_limit(mem) || mem_limit(mem) - addr < len)
		return -ENOMEM;
	switch (advice) {
	case MADV_DONTNEED:
	case MADV_FREE:
	case MADV_REMOVE:
		/* Zeroes anonymous pages (rereads file pages): the host does the same to the
		 * window, but only for pages that are mapped and currently host-writable. */
		if (!mem_check_range(mem, addr, len, 0))
			return -ENOMEM;
		if (!mem_check_range(mem, addr, len, GPROT_WRITE))
			return advice == MADV_DONTNEED ? 0 : -EINVAL;
		mem_prepare_write(mem, addr, len);
		return guest_syscall6(SYS_madvise, (long)(mem_base(mem) + addr), (long)len,
				     advice == MADV_FREE ? MADV_DONTNEED : advice, 0, 0, 0);
	default:
		/* hints: accepted and ignored */
		if (!mem_check_range(mem, addr, len, 0))
			return -ENOMEM;
		return 0;
	}
}

/* Syscalls that may sleep: a pending guest signal stops them before they start. */
static bool may_block(uint64_t nr)
{
	switch (nr) {
	case SYS_read: case SYS_write: case SYS_readv: case SYS_writev: case SYS_pread64:
	case SYS_pwrite64: case SYS_open: case SYS_openat: case SYS_wait4: case SYS_waitid:
	case SYS_accept: case SYS_accept4: case SYS_connect: case SYS_recvfrom: case SYS_recvmsg:
	case SYS_sendto: case SYS_sendmsg: case SYS_poll: case SYS_ppoll: case SYS_select:
	case SYS_pselect6: case SYS_epoll_wait: case SYS_epoll_pwait: case SYS_nanosleep:
	case SYS_clock_nanosleep: case SYS_futex: case SYS_pause: case SYS_flock: case SYS_fcntl:
	case SYS_ioctl: case SYS_sendfile: case SYS_splice: case SYS_preadv: case SYS_pwritev:
	case SYS_rt_sigtimedwait:
		return true;
	default:
		return false;
	}
}

/* Linux returns -EINTR (not a restart) for these even with SA_RESTART (signal(7)). */
static bool never_restart(uint64_t nr)
{
	switch (nr) {
	case SYS_poll: case SYS_ppoll: case SYS_select: case SYS_pselect6: case SYS_epoll_wait:
	case SYS_epoll_pwait: case SYS_epoll_pwait2: case SYS_nanosleep: case SYS_clock_nanosleep:
	case SYS_pause: case SYS_rt_sigsuspend: case SYS_rt_sigtimedwait: case SYS_io_getevents:
	case SYS_msgrcv: case SYS_msgsnd: case SYS_semop: case SYS_semtimedop:
		return true;
	default:
		return false;
	}
}

/* Which argument of a system call is a path (printed as a string by --trace syscall). */
static int path_arg(uint64_t nr)
{
	switch (nr) {
	case SYS_open: case SYS_stat: case SYS_lstat: case SYS_access: case SYS_execve:
	case SYS_readlink: case SYS_unlink: case SYS_mkdir: case SYS_rmdir: case SYS_chdir:
	case SYS_rename: case SYS_truncate: case SYS_chmod: case SYS_chown: case SYS_lchown:
	case SYS_creat: case SYS_statfs: case SYS_symlink: case SYS_link: case SYS_utimes:
		return 0;
	case SYS_openat: case SYS_newfstatat: case SYS_statx: case SYS_faccessat:
	case SYS_faccessat2: case SYS_readlinkat: case SYS_unlinkat: case SYS_mkdirat:
	case SYS_renameat: case SYS_renameat2: case SYS_fchmodat: case SYS_fchownat:
	case SYS_utimensat: case SYS_openat2: case SYS_execveat: case SYS_mknodat:
		return 1;
	default:
		return -1;
	}
}

static void trace_call(struct user_thread *t, uint64_t nr, const uint64_t *a, long ret)
{
	char buf[768];
	int pa = path_arg(nr);
	int n = snprintf(buf, sizeof(buf), "[%d] %s(", t->tid, syscall_name(nr));
	for (int i = 0; i < 6 && n < (int)sizeof(buf); i++) {
		const char *str = i == pa && a[i] ? guest_str(t, a[i], PATH_MAX) : NULL;
		if (str)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s\"%.200s\"", i ? ", " : "",
				      str);
		else
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s%#llx", i ? ", " : "",
				      (unsigned long long)a[i]);
	}
	if (n < (int)sizeof(buf)) {
		if (ret < 0 && ret > -4096)
			snprintf(buf + n, sizeof(buf) - (size_t)n, ") = -%s (%ld)",
				 strerrorname_np((int)-ret) ? strerrorname_np((int)-ret) : "?",
				 ret);
		else
			snprintf(buf + n, sizeof(buf) - (size_t)n, ") = %#lx", ret);
	}
	pr_err("%s", buf);
}

static void report_unknown(struct user_thread *t, uint64_t nr)
{
	struct user_proc *p = t->proc;
	bool first = true;

	if (!trace_on(TRACE_SYSCALL))
		return;
	if (nr < sizeof(p->unknown_reported) * 8) {
		first = !(p->unknown_reported[nr / 8] & (1u << (nr % 8)));
		p->unknown_reported[nr / 8] |= (uint8_t)(1u << (nr % 8));
	}
	if (first)
		pr_warn("unimplemented system call %llu (%s): -ENOSYS", (unsigned long long)nr,
			syscall_name(nr));
}

/* The guest passed a temporary mask (ppoll, pselect6, epoll_pwait) and the call was
 * interrupted: handlers run with it, the old mask comes back on sigreturn (Linux
 * set_restore_sigmask). */
static void tmp_mask(struct user_thread *t, uint64_t m)
{
	if (!t->restore_saved_mask)
		t->saved_mask = t->sigmask;
	t->restore_saved_mask = true;
	t->sigmask = m & ~((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)));
}

#define PTR(a, len, prot)                                                 \
	({                                                                \
		void *p_ = guest_ptr(t, (uint64_t)(a), (uint64_t)(len), prot); \
		if (!p_) {                                                \
			ret = -EFAULT;                                    \
			goto out;                                         \
		}                                                         \
		p_;                                                       \
	})
#define OPT(a, len, prot) ((a) ? PTR(a, len, prot) : NULL)
#define OUTBUF(a, lenvar)                                               \
	({                                                              \
		void *o_ = guest_out_buf(t, (uint64_t)(a), &(lenvar));  \
		if (!o_) {                                              \
			ret = -EFAULT;                                  \
			goto out;                                       \
		}                                                       \
		o_;                                                     \
	})
#define STR(a)                                                      \
	({                                                          \
		const char *s_ = guest_str(t, (uint64_t)(a), PATH_MAX); \
		if (!s_) {                                          \
			ret = -EFAULT;                              \
			goto out;                                   \
		}                                                   \
		s_;                                                 \
	})
#define PATHP(a) user_fix_path(STR(a))
#define OPTPATH(a) ((a) ? PATHP(a) : NULL)
#define H(...) guest_syscall6(__VA_ARGS__)
#define L(x) ((long)(x))

void syscall_handle(struct user_thread *t)
{
	struct vcpu *cpu = &t->cpu;
	uint64_t nr = cpu->gpr[R_RAX];
	uint64_t a[6] = { cpu->gpr[R_RDI], cpu->gpr[R_RSI], cpu->gpr[R_RDX],
			  cpu->gpr[R_R10], cpu->gpr[R_R8],  cpu->gpr[R_R9] };
	long ret = -ENOSYS;
	struct iovec iov[IOV_MAX];

	/* SYSCALL saves RIP in RCX and RFLAGS in R11 (SDM Vol. 2B SYSCALL); SYSRET keeps them. */
	cpu->gpr[R_RCX] = cpu->rip;
	cpu->gpr[R_R11] = vcpu_get_rflags(cpu);
	t->eintr = EINTR_NONE;
	/* a signal already waiting cancels any forwarded call that would block (guest_syscall6) */
	user_sig_arrived = signal_pending_unblocked(t);

	if (may_block(nr) && signal_pending_unblocked(t)) {
		/* a signal came first: run its handler, then the call (Linux restarts it) */
		cpu->rip -= 2;
		return;
	}

	switch (nr) {
	/* ---- file I/O ---- */
	case SYS_read: {
		uint64_t len = a[2];
		void *b = OUTBUF(a[1], len);
		ret = H(nr, L(a[0]), L(b), L(len), 0, 0, 0);
		break;
	}
	case SYS_write:
		ret = H(nr, L(a[0]), L(PTR(a[1], a[2], R)), L(a[2]), 0, 0, 0);
		break;
	case SYS_pread64: {
		uint64_t len = a[2];
		void *b = OUTBUF(a[1], len);
		ret = H(nr, L(a[0]), L(b), L(len), L(a[3]), 0, 0);
		break;
	}
	case SYS_pwrite64:
		ret = H(nr, L(a[0]), L(PTR(a[1], a[2], R)), L(a[2]), L(a[3]), 0, 0);
		break;
	case SYS_readv: case SYS_preadv: case SYS_preadv2:
	case SYS_writev: case SYS_pwritev: case SYS_pwritev2: {
		int prot = (nr == SYS_readv || nr == SYS_preadv || nr == SYS_preadv2) ? W : R;
		long cnt = (long)a[2];
		ret = iov_translate(t, a[1], &cnt, iov, prot, prot == W);
		if (ret < 0)
			break;
		ret = H(nr, L(a[0]), L(iov), cnt, L(a[3]), L(a[4]), L(a[5]));
		break;
	}
	case SYS_open:
		ret = open_self_maps(STR(a[0]), (long)a[1]);
		if (!ret)
			ret = H(SYS_openat, AT_FDCWD, L(PATHP(a[0])), L(a[1]), L(a[2]), 0, 0);
		break;
	case SYS_creat:
		ret = H(nr, L(PATHP(a[0])), L(a[1]), 0, 0, 0, 0);
		break;
	case SYS_openat:
		ret = open_self_maps(STR(a[1]), (long)a[2]);
		if (!ret)
			ret = H(nr, L(a[0]), L(PATHP(a[1])), L(a[2]), L(a[3]), 0, 0);
		break;
	case SYS_openat2:
		ret = H(nr, L(a[0]), L(PATHP(a[1])), L(PTR(a[2], a[3], R)), L(a[3]), 0, 0);
		break;
	case SYS_close: case SYS_lseek: case SYS_dup: case SYS_dup2: case SYS_dup3:
	case SYS_fsync: case SYS_fdatasync: case SYS_ftruncate: case SYS_fchdir: case SYS_fchmod:
	case SYS_fchown: case SYS_umask: case SYS_flock: case SYS_fadvise64: case SYS_fallocate:
	case SYS_sync: case SYS_syncfs: case SYS_close_range: case SYS_readahead:
	case SYS_sync_file_range:
		ret = H(nr, L(a[0]), L(a[1]), L(a[2]), L(a[3]), 0, 0);
		break;
	case SYS_getdents: case SYS_getdents64: {
		uint64_t len = a[2];
		void *b = OUTBUF(a[1], len);
		ret = H(nr, L(a[0]), L(b), L(len), 0, 0, 0);
		break;
	}
	case SYS_fcntl:
		ret = do_fcntl(t, (long)a[0], (long)a[1], a[2]);
		break;
	case SYS_ioctl:
		ret = do_ioctl(t, (long)a[0], (unsigned long)a[1], a[2]);
		break;
	case SYS_pipe:
		ret = H(SYS_pipe2, L(PTR(a[0], 8, W)), 0, 0, 0, 0, 0);
		break;
	case SYS_pipe2:
		ret = H(nr, L(PTR(a[0], 8, W)), L(a[1]), 0, 0, 0, 0);
		break;
	case SYS_sendfile:
		ret = H(nr, L(a[0]), L(a[1]), L(OPT(a[2], 8, R | W)), L(a[3]), 0, 0);
		break;
	case SYS_copy_file_range:
		ret = H(nr, L(a[0]), L(OPT(a[1], 8, R | W)), L(a[2]), L(OPT(a[3], 8, R | W)),
			L(a[4]), L(a[5]));
		break;
	case SYS_splice:
		ret = H(nr, L(a[0]), L(OPT(a[1], 8, R | W)), L(a[2]), L(OPT(a[3], 8, R | W)),
			L(a[4]), L(a[5]));
		break;
	case SYS_tee:
		ret = H(nr, L(a[0]), L(a[1]), L(a[2]), L(a[3]), 0, 0);
		break;

	/* ---- paths ---- */
	case SYS_stat: case SYS_lstat:
		ret = H(SYS_newfstatat, AT_FDCWD, L(PATHP(a[0])), L(PTR(a[1], 144, W)),
			nr == SYS_lstat ? AT_SYMLINK_NOFOLLOW : 0, 0, 0);
		break;
	case SYS_fstat:
		ret = H(nr, L(a[0]), L(PTR(a[1], 144, W)), 0, 0, 0, 0);
		break;
	case SYS_newfstatat:
		ret = H(nr, L(a[0]), L(PATHP(a[1])), L(PTR(a[2], 144, W)), L(a[3]), 0, 0);
		break;
	case SYS_statx:
		ret = H(nr, L(a[0]), L(PATHP(a[1])), L(a[2]), L(a[3]), L(PTR(a[4], 256, W)), 0);
		break;
	case SYS_statfs:
		ret = H(nr, L(PATHP(a[0])), L(PTR(a[1], 120, W)), 0, 0, 0, 0);
		break;
	case SYS_fstatfs:
		ret = H(nr, L(a[0]), L(PTR(a[1], 120, W)), 0, 0, 0, 0);
		break;
	case SYS_access:
		ret = H(SYS_faccessat, AT_FDCWD, L(PATHP(a[0])), L(a[1]), 0, 0, 0);
		break;
	case SYS_faccessat: case SYS_faccessat2:
		ret = H(nr, L(a[0]), L(PATHP(a[1])), L(a[2]), L(a[3]), 0, 0);
		break;
	case SYS_truncate: case SYS_chdir: case SYS_rmdir: case SYS_unlink: case SYS_chroot:
	case SYS_mkdir: case SYS_chmod: case SYS_chown: case SYS_lchown: case SYS_mknod:
		ret = H(nr, L(PATHP(a[0])), L(a[1]), L(a[2]), 0, 0, 0);
		break;
	case SYS_mkdirat: case SYS_fchownat: case SYS_unlinkat: case SYS_fchmodat:
	case SYS_mknodat:
		ret = H(nr, L(a[0]), L(PATHP(a[1])), L(a[2]), L(a[3]), L(a[4]), 0);
		break;
	case SYS_rename: case SYS_link: case SYS_symlink:
		ret = H(nr, L(STR(a[0])), L(PATHP(a[1])), 0, 0, 0, 0);
		break;
	case SYS_renameat: case SYS_renameat2: case SYS_linkat:
		ret = H(nr, L(a[0]), L(PATHP(a[1])), L(a[2]), L(PATHP(a[3])), L(a[4]), 0);
		break;
	case SYS_symlinkat:
		ret = H(nr, L(STR(a[0])), L(a[1]), L(PATHP(a[2])), 0, 0, 0);
		break;
	case SYS_readlink:
		ret = do_readlink(t, AT_FDCWD, STR(a[0]), a[1], (long)a[2]);
		break;
	case SYS_readlinkat:
		ret = do_readlink(t, (long)a[0], STR(a[1]), a[2], (long)a[3]);
		break;
	case SYS_getcwd:
		ret = do_getcwd(t, a[0], a[1]);
		break;
	case SYS_utimensat:
		ret = H(nr, L(a[0]), L(OPTPATH(a[1])), L(OPT(a[2], 32, R)), L(a[3]), 0, 0);
		break;
	case SYS_utime:
		ret = H(nr, L(PATHP(a[0])), L(OPT(a[1], 16, R)), 0, 0, 0, 0);
		break;
	case SYS_utimes:
		ret = H(nr, L(PATHP(a[0])), L(OPT(a[1], 32, R)), 0, 0, 0, 0);
		break;
	case SYS_futimesat:
		ret = H(nr, L(a[0]), L(OPTPATH(a[1])), L(OPT(a[2], 32, R)), 0, 0, 0);
		break;
	case SYS_getxattr: case SYS_lgetxattr:
		ret = H(nr, L(PATHP(a[0])), L(STR(a[1])), L(PTR(a[2], a[3], W)), L(a[3]), 0, 0);
		break;
	case SYS_fgetxattr:
		ret = H(nr, L(a[0]), L(STR(a[1])), L(PTR(a[2], a[3], W)), L(a[3]), 0, 0);
		break;
	case SYS_listxattr: case SYS_llistxattr:
		ret = H(nr, L(PATHP(a[0])), L(PTR(a[1], a[2], W)), L(a[2]), 0, 0, 0);
		break;
	case SYS_flistxattr:
		ret = H(nr, L(a[0]), L(PTR(a[1], a[2], W)), L(a[2]), 0, 0, 0);
		break;
	case SYS_setxattr: case SYS_lsetxattr:
		ret = H(nr, L(PATHP(a[0])), L(STR(a[1])), L(PTR(a[2], a[3], R)), L(a[3]), L(a[4]),
			0);
		break;
	case SYS_fsetxattr:
		ret = H(nr, L(a[0]), L(STR(a[1])), L(PTR(a[2], a[3], R)), L(a[3]), L(a[4]), 0);
		break;
	case SYS_inotify_add_watch:
		ret = H(nr, L(a[0]), L(PATHP(a[1])), L(a[2]), 0, 0, 0);
		break;
	case SYS_memfd_create:
		ret = H(nr, L(STR(a[0])), L(a[1]), 0, 0, 0, 0);
		break;

	/* ---- polling ---- */
	case SYS_poll:
		if (a[1] > 1 << 20) {
			ret = -EINVAL;
			break;
		}
		ret = H(nr, L(PTR(a[0], a[1] * sizeof(struct pollfd), R | W)), L(a[1]), L(a[2]), 0,
			0, 0);
		break;
	case SYS_ppoll: {
		if (a[1] > 1 << 20) {
			ret = -EINVAL;
			break;
		}
		uint64_t *gm = OPT(a[3], 8, R), m = 0;
		void *fds = PTR(a[0], a[1] * sizeof(struct pollfd), R | W);
		void *ts = OPT(a[2], 16, R | W);
		if (gm && a[4] != 8) {
			ret = -EINVAL;
			break;
		}
		if (gm)
			m = sanitize_mask(*gm);
		ret = H(nr, L(fds), L(a[1]), L(ts), L(gm ? &m : NULL), 8, 0);
		if (ret == -EINTR && gm)
			tmp_mask(t, *gm);
		break;
	}
	case SYS_select:
	case SYS_pselect6: {
		uint64_t fdlen = ((a[0] + 63) / 64) * 8, m = 0;
		void *r = NULL, *wr = NULL, *ex = NULL, *ts = NULL;
		struct { void *ss; size_t len; } sig = { NULL, 8 };
		const uint64_t *gs = NULL, *gm = NULL;
		if ((int64_t)a[0] < 0 || a[0] > 1 << 20) {
			ret = -EINVAL;
			break;
		}
		r = OPT(a[1], fdlen, R | W);
		wr = OPT(a[2], fdlen, R | W);
		ex = OPT(a[3], fdlen, R | W);
		ts = OPT(a[4], 16, R | W);
		if (nr == SYS_select) {
			ret = H(nr, L(a[0]), L(r), L(wr), L(ex), L(ts), 0);
			break;
		}
		gs = OPT(a[5], 16, R);
		if (gs && gs[0]) {
			if (gs[1] != 8) {
				ret = -EINVAL;
				break;
			}
			gm = PTR(gs[0], 8, R);
			m = sanitize_mask(*gm);
			sig.ss = &m;
		}
		ret = H(nr, L(a[0]), L(r), L(wr), L(ex), L(ts), L(gs ? &sig : NULL));
		if (ret == -EINTR && gm)
			tmp_mask(t, *gm);
		break;
	}
	case SYS_epoll_create: case SYS_epoll_create1: case SYS_eventfd: case SYS_eventfd2:
	case SYS_inotify_init: case SYS_inotify_init1: case SYS_inotify_rm_watch:
	case SYS_timerfd_create: case SYS_pidfd_open:
		ret = H(nr, L(a[0]), L(a[1]), 0, 0, 0, 0);
		break;
	case SYS_epoll_ctl:
		ret = H(nr, L(a[0]), L(a[1]), L(a[2]), L(OPT(a[3], 12, R)), 0, 0);
		break;
	case SYS_epoll_wait:
		if ((int)a[2] <= 0 || a[2] > 1 << 24) {
			ret = -EINVAL;
			break;
		}
		ret = H(nr, L(a[0]), L(PTR(a[1], a[2] * 12, W)), L(a[2]), L(a[3]), 0, 0);
		break;
	case SYS_epoll_pwait: case SYS_epoll_pwait2: {
		uint64_t *gm = OPT(a[4], 8, R), m = 0;
		void *ts = NULL;
		if ((int)a[2] <= 0 || a[2] > 1 << 24 || (gm && a[5] != 8)) {
			ret = -EINVAL;
			break;
		}
		if (nr == SYS_epoll_pwait2)
			ts = OPT(a[3], 16, R);
		else
			ts = (void *)a[3];
		if (gm)
			m = sanitize_mask(*gm);
		ret = H(nr, L(a[0]), L(PTR(a[1], a[2] * 12, W)), L(a[2]), L(ts), L(gm ? &m : NULL),
			8);
		if (ret == -EINTR && gm)
			tmp_mask(t, *gm);
		break;
	}
	case SYS_timerfd_settime:
		ret = H(nr, L(a[0]), L(a[1]), L(PTR(a[2], 32, R)), L(OPT(a[3], 32, W)), 0, 0);
		break;
	case SYS_timerfd_gettime:
		ret = H(nr, L(a[0]), L(PTR(a[1], 32, W)), 0, 0, 0, 0);
		break;
	case SYS_signalfd: case SYS_signalfd4: {
		uint64_t m = *(uint64_t *)PTR(a[1], 8, R);
		m = sanitize_mask(m);
		ret = H(nr, L(a[0]), L(&m), 8, nr == SYS_signalfd4 ? L(a[3]) : 0, 0, 0);
		break;
	}

	/* ---- memory ---- */
	case SYS_mmap:
		ret = do_mmap(t, a[0], a[1], (long)a[2], (long)a[3], (long)a[4], (long)a[5]);
		break;
	case SYS_munmap:
		ret = mem_unmap(t->proc->mem, a[0], a[1]);
		break;
	case SYS_mprotect:
		if (a[2] & ~(uint64_t)(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN |
				       PROT_GROWSUP)) {
			ret = -EINVAL;
			break;
		}
		ret = mem_protect(t->proc->mem, a[0], a[1], (int)(a[2] & 7));
		break;
	case SYS_mremap:
		ret = mem_remap(t->proc->mem, a[0], a[1], a[2], (int)a[3], a[4]);
		break;
	case SYS_brk:
		ret = (long)mem_brk(t->proc->mem, a[0]);
		break;
	case SYS_madvise:
		ret = do_madvise(t, a[0], a[1], (long)a[2]);
		break;
	case SYS_msync:
		if (a[0] & (GUEST_PAGE_SIZE - 1)) {
			ret = -EINVAL;
			break;
		}
		if (!mem_check_range(t->proc->mem, a[0], a[1], 0)) {
			ret = -ENOMEM;
			break;
		}
		ret = H(nr, L(mem_base(t->proc->mem) + a[0]), L(a[1]), L(a[2]), 0, 0, 0);
		break;
	case SYS_mincore:
		if (!mem_check_range(t->proc->mem, a[0], a[1], 0)) {
			ret = -ENOMEM;
			break;
		}
		ret = H(nr, L(mem_base(t->proc->mem) + a[0]), L(a[1]),
			L(PTR(a[2], (a[1] + GUEST_PAGE_SIZE - 1) / GUEST_PAGE_SIZE, W)), 0, 0, 0);
		break;
	case SYS_mlock: case SYS_munlock: case SYS_mlockall: case SYS_munlockall:
	case SYS_mlock2:
		ret = 0;
		break;
	case SYS_membarrier:
		ret = H(nr, L(a[0]), L(a[1]), L(a[2]), 0, 0, 0);
		break;

	/* ---- time ---- */
	case SYS_clock_gettime: case SYS_clock_getres:
		ret = H(nr, L(a[0]), L(OPT(a[1], 16, W)), 0, 0, 0, 0);
		break;
	case SYS_clock_settime:
		ret = H(nr, L(a[0]), L(PTR(a[1], 16, R)), 0, 0, 0, 0);
		break;
	case SYS_gettimeofday:
		ret = H(nr, L(OPT(a[0], 16, W)), L(OPT(a[1], 8, W)), 0, 0, 0, 0);
		break;
	case SYS_time:
		ret = H(nr, L(OPT(a[0], 8, W)), 0, 0, 0, 0, 0);
		break;
	case SYS_nanosleep:
		ret = H(nr, L(PTR(a[0], 16, R)), L(OPT(a[1], 16, W)), 0, 0, 0, 0);
		break;
	case SYS_clock_nanosleep:
		ret = H(nr, L(a[0]), L(a[1]), L(PTR(a[2], 16, R)), L(OPT(a[3], 16, W)), 0, 0);
		break;
	case SYS_times:
		ret = H(nr, L(OPT(a[0], 32, W)), 0, 0, 0, 0, 0);
		break;
	case SYS_getitimer:
		ret = H(nr, L(a[0]), L(PTR(a[1], 32, W)), 0, 0, 0, 0);
		break;
	case SYS_setitimer:
		ret = H(nr, L(a[0]), L(OPT(a[1], 32, R)), L(OPT(a[2], 32, W)), 0, 0, 0);
		break;
	case SYS_alarm:
		ret = H(nr, L(a[0]), 0, 0, 0, 0, 0);
		break;
	case SYS_timer_create: {
		/* struct sigevent: SIGEV_THREAD is done by libc with SIGEV_THREAD_ID */
		void *ev = OPT(a[1], 64, R);
		ret = H(nr, L(a[0]), L(ev), L(PTR(a[2], 4, W)), 0, 0, 0);
		break;
	}
	case SYS_timer_settime:
		ret = H(nr, L(a[0]), L(a[1]), L(PTR(a[2], 32, R)), L(OPT(a[3], 32, W)), 0, 0);
		break;
	case SYS_timer_gettime:
		ret = H(nr, L(a[0]), L(PTR(a[1], 32, W)), 0, 0, 0, 0);
		break;
	case SYS_timer_getoverrun: case SYS_timer_delete:
		ret = H(nr, L(a[0]), 0, 0, 0, 0, 0);
		break;

	/* ---- identity, process information ---- */
	case SYS_getpid: case SYS_getppid: case SYS_getuid: case SYS_geteuid: case SYS_getgid:
	case SYS_getegid: case SYS_getpgrp: case SYS_setsid: case SYS_setuid: case SYS_setgid:
	case SYS_setreuid: case SYS_setregid: case SYS_setresuid: case SYS_setresgid:
	case SYS_getpgid: case SYS_setpgid: case SYS_getsid: case SYS_setfsuid: case SYS_setfsgid:
	case SYS_getpriority: case SYS_setpriority: case SYS_sched_yield:
	case SYS_sched_getscheduler: case SYS_sched_get_priority_max:
	case SYS_sched_get_priority_min: case SYS_personality:
		ret = H(nr, L(a[0]), L(a[1]), L(a[2]), 0, 0, 0);
		break;
	case SYS_gettid:
		ret = t->tid;
		break;
	case SYS_getresuid: case SYS_getresgid:
		ret = H(nr, L(PTR(a[0], 4, W)), L(PTR(a[1], 4, W)), L(PTR(a[2], 4, W)), 0, 0, 0);
		break;
	case SYS_getgroups:
		if ((int)a[0] < 0) {
			ret = -EINVAL;
			break;
		}
		ret = H(nr, L(a[0]), L(PTR(a[1], a[0] * 4, W)), 0, 0, 0, 0);
		break;
	case SYS_setgroups:
		ret = H(nr, L(a[0]), L(PTR(a[1], a[0] * 4, R)), 0, 0, 0, 0);
		break;
	case SYS_uname:
		ret = H(nr, L(PTR(a[0], 390, W)), 0, 0, 0, 0, 0);
		if (ret == 0)
			strcpy((char *)guest_ptr(t, a[0], 390, W) + 4 * 65, "x86_64");
		break;
	case SYS_sethostname: case SYS_setdomainname:
		ret = H(nr, L(PTR(a[0], a[1], R)), L(a[1]), 0, 0, 0, 0);
		break;
	case SYS_sysinfo:
		ret = H(nr, L(PTR(a[0], 112, W)), 0, 0, 0, 0, 0);
		break;
	case SYS_getrusage:
		ret = H(nr, L(a[0]), L(PTR(a[1], 144, W)), 0, 0, 0, 0);
		break;
	case SYS_getrlimit:
		ret = H(nr, L(a[0]), L(PTR(a[1], 16, W)), 0, 0, 0, 0);
		break;
	case SYS_setrlimit:
		ret = H(nr, L(a[0]), L(PTR(a[1], 16, R)), 0, 0, 0, 0);
		break;
	case SYS_prlimit64:
		ret = H(nr, L(a[0]), L(a[1]), L(OPT(a[2], 16, R)), L(OPT(a[3], 16, W)), 0, 0);
		break;
	case SYS_sched_getaffinity:
		ret = H(nr, L(a[0]), L(a[1]), L(PTR(a[2], a[1], W)), 0, 0, 0);
		break;
	case SYS_sched_setaffinity:
		ret = H(nr, L(a[0]), L(a[1]), L(PTR(a[2], a[1], R)), 0, 0, 0);
		break;
	case SYS_sched_getparam:
		ret = H(nr, L(a[0]), L(PTR(a[1], 4, W)), 0, 0, 0, 0);
		break;
	case SYS_sched_setparam:
		ret = H(nr, L(a[0]), L(PTR(a[1], 4, R)), 0, 0, 0, 0);
		break;
	case SYS_sched_setscheduler:
		ret = H(nr, L(a[0]), L(a[1]), L(PTR(a[2], 4, R)), 0, 0, 0);
		break;
	case SYS_sched_rr_get_interval:
		ret = H(nr, L(a[0]), L(PTR(a[1], 16, W)), 0, 0, 0, 0);
		break;
	case SYS_getcpu:
		ret = H(nr, L(OPT(a[0], 4, W)), L(OPT(a[1], 4, W)), 0, 0, 0, 0);
		break;
	case SYS_getrandom:
		ret = H(nr, L(PTR(a[0], a[1], W)), L(a[1]), L(a[2]), 0, 0, 0);
		break;
	case SYS_prctl:
		ret = do_prctl(t, (long)a[0], a[1], a[2], a[3], a[4]);
		break;
	case SYS_arch_prctl:
		ret = do_arch_prctl(t, (long)a[0], a[1]);
		break;
	case SYS_capget:
		ret = H(nr, L(PTR(a[0], 8, R | W)), L(OPT(a[1], 24, W)), 0, 0, 0, 0);
		break;

	/* ---- processes and threads ---- */
	case SYS_wait4:
		ret = H(nr, L(a[0]), L(OPT(a[1], 4, W)), L(a[2]), L(OPT(a[3], 144, W)), 0, 0);
		break;
	case SYS_waitid:
		ret = H(nr, L(a[0]), L(a[1]), L(OPT(a[2], 128, W)), L(a[3]), L(OPT(a[4], 144, W)),
			0);
		break;
	case SYS_kill: case SYS_tkill: case SYS_tgkill:
		ret = signal_kill(t, nr, (long)a[0], (long)a[1], (long)a[2]);
		break;
	case SYS_clone:
		ret = sys_clone(t, a[0], a[1], a[2], a[3], a[4]);
		break;
	case SYS_clone3:
		ret = -ENOSYS; /* libc falls back to clone */
		break;
	case SYS_fork:
		ret = sys_clone(t, SIGCHLD, 0, 0, 0, 0);
		break;
	case SYS_vfork:
		ret = sys_clone(t, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0);
		break;
	case SYS_execve:
		ret = sys_execve(t, a[0], a[1], a[2]);
		break;
	case SYS_execveat:
		ret = sys_execveat(t, (int)a[0], a[1], a[2], a[3], (int)a[4]);
		break;
	case SYS_exit:
		if (trace_on(TRACE_SYSCALL))
			trace_call(t, nr, a, 0);
		thread_exit(t, (int)a[0]);
	case SYS_exit_group:
		if (trace_on(TRACE_SYSCALL))
			trace_call(t, nr, a, 0);
		process_exit((int)a[0]);
	case SYS_set_tid_address:
		t->clear_child_tid = a[0];
		ret = t->tid;
		break;
	case SYS_futex:
		ret = do_futex(t, a[0], (long)a[1], (long)a[2], a[3], a[4], (long)a[5]);
		break;
	case SYS_set_robust_list: case SYS_get_robust_list: case SYS_rseq:
		ret = -ENOSYS;
		break;
	case SYS_restart_syscall:
		ret = -EINTR;
		break;

	/* ---- signals ---- */
	case SYS_rt_sigaction:
		ret = sys_rt_sigaction(t, (int)a[0], a[1], a[2], a[3]);
		break;
	case SYS_rt_sigprocmask:
		ret = sys_rt_sigprocmask(t, (int)a[0], a[1], a[2], a[3]);
		break;
	case SYS_rt_sigreturn:
		ret = sys_rt_sigreturn(t);
		if (trace_on(TRACE_SYSCALL))
			trace_call(t, nr, a, ret);
		return; /* RAX restored from the frame */
	case SYS_sigaltstack:
		ret = sys_sigaltstack(t, a[0], a[1]);
		break;
	case SYS_rt_sigsuspend:
		ret = sys_rt_sigsuspend(t, a[0], a[1]);
		break;
	case SYS_rt_sigpending:
		ret = sys_rt_sigpending(t, a[0], a[1]);
		break;
	case SYS_rt_sigtimedwait:
		ret = sys_rt_sigtimedwait(t, a[0], a[1], a[2], a[3]);
		break;
	case SYS_pause:
		ret = sys_pause(t);
		break;
	case SYS_rt_sigqueueinfo:
		ret = H(nr, L(a[0]), L(a[1]), L(PTR(a[2], 128, R)), 0, 0, 0);
		break;
	case SYS_rt_tgsigqueueinfo:
		ret = H(nr, L(a[0]), L(a[1]), L(a[2]), L(PTR(a[3], 128, R)), 0, 0);
		break;

	/* ---- sockets ---- */
	case SYS_socket: case SYS_listen: case SYS_shutdown:
		ret = H(nr, L(a[0]), L(a[1]), L(a[2]), 0, 0, 0);
		break;
	case SYS_socketpair:
		ret = H(nr, L(a[0]), L(a[1]), L(a[2]), L(PTR(a[3], 8, W)), 0, 0);
		break;
	case SYS_bind: case SYS_connect:
		ret = H(nr, L(a[0]), L(PTR(a[1], a[2], R)), L(a[2]), 0, 0, 0);
		break;
	case SYS_accept: case SYS_accept4: case SYS_getsockname: case SYS_getpeername: {
		uint32_t *lenp = OPT(a[2], 4, R | W);
		void *addr = lenp ? OPT(a[1], *lenp, W) : NULL;
		ret = H(nr, L(a[0]), L(addr), L(lenp), L(a[3]), 0, 0);
		break;
	}
	case SYS_sendto:
		ret = H(nr, L(a[0]), L(PTR(a[1], a[2], R)), L(a[2]), L(a[3]), L(OPT(a[4], a[5], R)),
			L(a[5]));
		break;
	case SYS_recvfrom: {
		uint32_t *lenp = OPT(a[5], 4, R | W);
		void *addr = lenp ? OPT(a[4], *lenp, W) : NULL;
		uint64_t len = a[2];
		void *b = OUTBUF(a[1], len);
		ret = H(nr, L(a[0]), L(b), L(len), L(a[3]), L(addr), L(lenp));
		break;
	}
	case SYS_setsockopt:
		ret = do_setsockopt(t, (long)a[0], (long)a[1], (long)a[2], a[3], a[4]);
		break;
	case SYS_getsockopt: {
		uint32_t *lenp = PTR(a[4], 4, R | W);
		ret = H(nr, L(a[0]), L(a[1]), L(a[2]), L(PTR(a[3], *lenp, W)), L(lenp), 0);
		break;
	}
	case SYS_sendmmsg: case SYS_recvmmsg:
		ret = do_mmsg(t, nr, (long)a[0], a[1], (unsigned)a[2], (long)a[3], a[4]);
		break;
	case SYS_sendmsg: case SYS_recvmsg: {
		struct msghdr h, *g;
		int prot = nr == SYS_recvmsg ? W : 0;
		ret = msg_translate(t, a[1], &h, iov, prot, &g);
		if (ret < 0)
			break;
		ret = H(nr, L(a[0]), L(&h), L(a[2]), 0, 0, 0);
		if (ret >= 0 && prot) {
			g->msg_namelen = h.msg_namelen;
			g->msg_controllen = h.msg_controllen;
			g->msg_flags = h.msg_flags;
		}
		break;
	}
	default:
		report_unknown(t, nr);
		ret = -ENOSYS;
		break;
	}
out:
	if (ret == -ERESTARTNOINTR) {
		/* a signal arrived just before the host call: handler first, then the call again */
		cpu->rip -= 2;
		return;
	}
	if (trace_on(TRACE_SYSCALL))
		trace_call(t, nr, a, ret);
	if (ret == -EINTR)
		t->eintr = never_restart(nr) ? EINTR_NORESTART : EINTR_RESTARTSYS;
	t->eintr_nr = nr;
	cpu->gpr[R_RAX] = (uint64_t)ret;
}
