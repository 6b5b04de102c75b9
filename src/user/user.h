/* SPDX-License-Identifier: MIT */
/*
 * Internals of the user-mode runner (`omnivisor exec`): one Linux x86-64 process whose
 * threads run on virtual CPUs, with system calls forwarded to the host kernel.
 *
 * The guest process IS the runner process: guest pids, tids, file descriptors, credentials,
 * signal dispositions and masks are the host's (mirrored), so most system calls are passed
 * through after translating guest pointers (GVA -> mem_base + GVA, checked against the window).
 */
#ifndef OMNIVISOR_USER_INTERNAL_H
#define OMNIVISOR_USER_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "omnivisor/log.h"
#include "omnivisor/memory.h"
#include "omnivisor/vcpu.h"

#define GUEST_NSIG 64 /* signals 1..64, kernel sigset_t is 64 bits */

/* The kernel's struct sigaction on x86-64 (arch/x86/include/uapi/asm/signal.h). */
struct ksigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

/* Process-wide state, shared by all guest threads. */
struct user_proc {
	struct guest_mem *mem;
	struct block_cache *cache;
	pthread_mutex_t lock;          /* sigact, nr_threads */
	struct ksigaction sigact[GUEST_NSIG + 1];
	char exe_path[PATH_MAX];       /* guest program path (for /proc/self/exe readlink) */
	int nr_threads;
	unsigned char unknown_reported[512 / 8]; /* -ENOSYS reported once per number */
};

#define SIGQ_DEPTH 4 /* queued instances per signal and thread */

/* One guest thread = one host thread = one vCPU. */
struct user_thread {
	struct vcpu cpu;
	struct user_proc *proc;
	int tid;
	uint64_t clear_child_tid;      /* set_tid_address / CLONE_CHILD_CLEARTID */
	uint64_t sigmask;              /* guest blocked signals (bit n-1 = signal n) */
	uint64_t saved_mask;           /* mask to restore after a handler (rt_sigsuspend) */
	bool restore_saved_mask;
	volatile uint64_t pending;     /* signals recorded by the host handler, not yet delivered */
	struct sigq {                  /* their siginfo, oldest first (the host kernel already */
		uint8_t n;             /* merged duplicates of a standard signal per queue) */
		siginfo_t info[SIGQ_DEPTH];
	} sigq[GUEST_NSIG + 1];
	stack_t altstack;              /* guest addresses */
	int eintr;                     /* last syscall returned -EINTR: EINTR_* */
	uint64_t eintr_nr;             /* its number, to restart it */
	bool vfork_child;              /* running as a CLONE_VM|CLONE_VFORK child */
};

/* How an interrupted system call continues after a signal handler (Linux -ERESTART*). */
#define EINTR_NONE 0
#define EINTR_RESTARTSYS 1 /* restart if the handler has SA_RESTART, else -EINTR */
#define EINTR_NORESTART 2  /* always -EINTR (poll, select, nanosleep, sigsuspend, ...) */

extern struct user_proc user_proc;
extern __thread struct user_thread *current_uthread;

/* elf.c --------------------------------------------------------------------------------- */
struct elf_image {
	uint64_t entry;  /* biased entry point */
	uint64_t bias;   /* load bias (0 for ET_EXEC) */
	uint64_t phdr;   /* GVA of the program headers (AT_PHDR), 0 if not loaded */
	uint16_t phnum, phent;
	uint64_t start;  /* lowest mapped GVA */
	uint64_t end;    /* end of the highest segment (memsz) */
	char interp[PATH_MAX]; /* PT_INTERP path, "" if none */
};

/*
 * elf_load - map the x86-64 ELF file open at @fd into @mem. ET_DYN objects are placed at
 * @dyn_base if nonzero, else wherever mem_map puts them. On error returns -errno and puts a
 * human-readable reason into @err (e.g. "not an ELF file").
 */
int elf_load(struct guest_mem *mem, int fd, uint64_t dyn_base, struct elf_image *img, char *err,
	     size_t errlen);
/* elf_check - classify the first @len bytes of a file: 1 = x86-64 ELF, 2 = "#!" script,
 * 0 = neither (ENOEXEC). */
int elf_check(const void *buf, size_t len);

/* stack.c ------------------------------------------------------------------------------- */
struct stack_args {
	int argc;
	char *const *argv;
	char *const *envp;
	const char *execfn;
	const struct elf_image *exe;
	uint64_t interp_base; /* AT_BASE */
};
/* stack_setup - map the guest stack below @top and build argv/envp/auxv as Linux does.
 * Returns the initial RSP or -errno. */
int64_t stack_setup(struct guest_mem *mem, uint64_t top, uint64_t size, const struct stack_args *a);

/* syscall.c ----------------------------------------------------------------------------- */
/* Handle the SYSCALL the vCPU of @t just executed (RAX = number). */
void syscall_handle(struct user_thread *t);
const char *syscall_name(uint64_t nr);
/* Guest pointer checks: host address of [gva, gva+len) if the guest may access it with @prot,
 * else NULL. For GPROT_WRITE the range is prepared for a host write. len 0 is always valid. */
void *guest_ptr(struct user_thread *t, uint64_t gva, uint64_t len, int prot);
/* Host address of the NUL-terminated guest string at @gva (at most @max bytes), or NULL. */
const char *guest_str(struct user_thread *t, uint64_t gva, size_t max);
/* Paths naming the running program (/proc/self/exe) resolve to the guest program. */
const char *user_fix_path(const char *path);
/* Raw host system call: returns the kernel's result (-errno on failure). */
long host_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
/* The same for a call made on the guest's behalf: returns -ERESTARTNOINTR (-513) instead of
 * starting it if a guest signal arrived since syscall_handle() began (see syscall.c). */
long guest_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
extern __thread int user_sig_arrived;
extern const char user_bsc_begin[], user_bsc_end[], user_bsc_cancel[];

/* signal.c ------------------------------------------------------------------------------ */
void signal_init(struct user_proc *p, struct user_thread *main_thread);
/* Route kill()-sent SIGSEGV/SIGBUS to the guest; call after mem_install_fault_handler(). */
void signal_wrap_fault_handler(void);
/* Apply the guest mask to the host thread. */
void signal_set_host_mask(uint64_t guest_mask);
/* Deliver pending signals (set up frames). Called at instruction boundaries. */
void signal_deliver_pending(struct user_thread *t);
/* Guest exception -> signal, as Linux does (terminates the runner if not handled). */
void signal_from_exception(struct user_thread *t);
/* Deliver a synchronous signal generated by the runner for this thread. */
void signal_force(struct user_thread *t, int sig, const siginfo_t *info);
/* Kill the whole runner with @sig and its default action, as the kernel would. */
__attribute__((noreturn)) void signal_die(int sig);
bool signal_pending_unblocked(struct user_thread *t);
/* kill/tkill/tgkill (@nr): forwarded, except signals to ourselves the host must not see. */
long signal_kill(struct user_thread *t, uint64_t nr, long a0, long a1, long a2);

long sys_rt_sigaction(struct user_thread *t, int sig, uint64_t act, uint64_t oact, uint64_t size);
long sys_rt_sigprocmask(struct user_thread *t, int how, uint64_t set, uint64_t oset, uint64_t size);
long sys_rt_sigreturn(struct user_thread *t);
long sys_sigaltstack(struct user_thread *t, uint64_t ss, uint64_t oss);
long sys_rt_sigsuspend(struct user_thread *t, uint64_t mask, uint64_t size);
long sys_rt_sigpending(struct user_thread *t, uint64_t set, uint64_t size);
long sys_rt_sigtimedwait(struct user_thread *t, uint64_t set, uint64_t info, uint64_t ts,
			 uint64_t size);
long sys_pause(struct user_thread *t);

/* thread.c ------------------------------------------------------------------------------ */
long sys_clone(struct user_thread *t, uint64_t flags, uint64_t stack, uint64_t ptid,
	       uint64_t ctid, uint64_t tls);
long sys_clone3(struct user_thread *t, uint64_t uargs, uint64_t size);
long sys_execve(struct user_thread *t, uint64_t path, uint64_t argv, uint64_t envp);
long sys_execveat(struct user_thread *t, int dirfd, uint64_t path, uint64_t argv, uint64_t envp,
		  int flags);
__attribute__((noreturn)) void thread_exit(struct user_thread *t, int status);
__attribute__((noreturn)) void process_exit(int status);
/* Run guest thread @t until it exits (never returns). */
__attribute__((noreturn)) void thread_run(struct user_thread *t);

/* runner.c ------------------------------------------------------------------------------ */
/* Guest environment variables renamed across a re-execution (LD_*, GLIBC_TUNABLES). */
#define USER_ENV_PREFIX "OMNIVISOR_GUEST_"
/* Path of the omnivisor binary for re-execution (execve). */
extern char user_self_exe[PATH_MAX];

#endif
