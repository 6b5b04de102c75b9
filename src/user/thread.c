/* SPDX-License-Identifier: MIT */
/*
 * Guest threads and processes: clone (threads are host threads, each with its own vCPU, sharing
 * the guest window and the decode cache; processes are host forks of the whole runner, so guest
 * memory is copied with it), execve (re-execute the runner on the new program), exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <setjmp.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "user/user.h"

#define MAX_EXEC_ARGS 65536

/* Threads started by clone_thread() leave through here, so pthread frees their host stack. */
static __thread jmp_buf *thread_exit_jmp;
#define HOST_THREAD_STACK (1u << 20)

/* ---- the per-thread loop -------------------------------------------------------------------- */

void thread_run(struct user_thread *t)
{
	struct vcpu *cpu = &t->cpu;

	current_uthread = t;
	mem_set_current_vcpu(cpu);
	for (;;) {
		int r = vcpu_run(cpu);

		switch (r) {
		case VCPU_EXIT_SYSCALL:
			syscall_handle(t);
			break;
		case VCPU_EXIT_EXCEPTION:
			signal_from_exception(t);
			break;
		case VCPU_EXIT_HLT:
			/* HLT at CPL 3 is #GP(0) (SDM Vol. 2A HLT) */
			cpu->exc_vector = EXC_GP;
			cpu->exc_error = 0;
			cpu->exc_addr = 0;
			signal_from_exception(t);
			break;
		default:
			break;
		}
		if (t->pending || t->restore_saved_mask || t->eintr)
			signal_deliver_pending(t);
	}
}

/* ---- exit ------------------------------------------------------------------------------------ */

void process_exit(int status)
{
	fflush(stdout);
	fflush(stderr);
	host_syscall6(SYS_exit_group, status & 0xff, 0, 0, 0, 0, 0);
	_exit(status & 0xff);
}

void thread_exit(struct user_thread *t, int status)
{
	struct user_proc *p = t->proc;
	int left;

	if (t->vfork_child)
		process_exit(status); /* our own host process: nothing is shared but memory */
	/* CLONE_CHILD_CLEARTID / set_tid_address: *ctid = 0, futex wake (kernel mm_release) */
	if (t->clear_child_tid) {
		uint32_t *ct = guest_ptr(t, t->clear_child_tid, 4, GPROT_WRITE);
		if (ct) {
			__atomic_store_n(ct, 0, __ATOMIC_SEQ_CST);
			host_syscall6(SYS_futex, (long)ct, FUTEX_WAKE, 1, 0, 0, 0);
		}
	}
	pthread_mutex_lock(&p->lock);
	left = --p->nr_threads;
	pthread_mutex_unlock(&p->lock);
	if (left <= 0)
		process_exit(status);
	if (thread_exit_jmp) {
		uint64_t all = ~0ULL;
		/* no more guest signals on this thread: they go to the others */
		host_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, 8, 0, 0);
		longjmp(*thread_exit_jmp, 1);
	}
	current_uthread = NULL;
	mem_set_current_vcpu(NULL);
	/* the initial thread: t stays allocated, a host signal handler may still look at it */
	host_syscall6(SYS_exit, status & 0xff, 0, 0, 0, 0, 0);
	for (;;)
		pause();
}

/* ---- clone ----------------------------------------------------------------------------------- */

struct thread_start {
	struct user_thread *t;
	uint64_t flags, ptid, ctid;
	int tid; /* set by the new thread: it may exit and free t before the creator wakes */
	sem_t started;
};

static void *thread_main(void *arg)
{
	struct thread_start *s = arg;
	struct user_thread *t = s->t;
	uint64_t flags = s->flags;

	t->tid = (int)host_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
	current_uthread = t;
	/* Linux writes both before the new thread runs (kernel/fork.c copy_process) */
	if (flags & CLONE_PARENT_SETTID) {
		uint32_t *p = guest_ptr(t, s->ptid, 4, GPROT_WRITE);
		if (p)
			*p = (uint32_t)t->tid;
	}
	if (flags & CLONE_CHILD_SETTID) {
		uint32_t *p = guest_ptr(t, s->ctid, 4, GPROT_WRITE);
		if (p)
			*p = (uint32_t)t->tid;
	}
	s->tid = t->tid;
	sem_post(&s->started); /* s is gone after this */
	signal_set_host_mask(t->sigmask);
	{
		jmp_buf exit_jmp;
		if (setjmp(exit_jmp) == 0) {
			thread_exit_jmp = &exit_jmp;
			thread_run(t);
		}
	}
	/* thread_exit() came back here with all host signals blocked */
	thread_exit_jmp = NULL;
	current_uthread = NULL;
	mem_set_current_vcpu(NULL);
	vcpu_destroy(&t->cpu);
	free(t);
	return NULL;
}

static long clone_thread(struct user_thread *t, uint64_t flags, uint64_t stack, uint64_t ptid,
			 uint64_t ctid, uint64_t tls)
{
	struct user_proc *p = t->proc;
	struct user_thread *n;
	struct thread_start s;
	pthread_attr_t attr;
	pthread_t th;
	uint64_t all = ~0ULL, old;
	int e;

	if (!(flags & CLONE_SIGHAND) || !(flags & CLONE_VM))
		return -EINVAL; /* CLONE_THREAD requires both (clone(2)) */
	if (posix_memalign((void **)&n, 64, sizeof(*n)))
		return -ENOMEM;
	memset(n, 0, sizeof(*n));
	vcpu_init(&n->cpu, p->mem, p->cache);
	memcpy(n->cpu.gpr, t->cpu.gpr, sizeof(n->cpu.gpr));
	n->cpu.rip = t->cpu.rip;
	n->cpu.rflags = t->cpu.rflags;
	n->cpu.fs_base = (flags & CLONE_SETTLS) ? tls : t->cpu.fs_base;
	n->cpu.gs_base = t->cpu.gs_base;
	memcpy(n->cpu.xmm, t->cpu.xmm, sizeof(n->cpu.xmm));
	n->cpu.mxcsr = t->cpu.mxcsr;
	n->cpu.fpu = t->cpu.fpu;
	n->cpu.gpr[R_RAX] = 0;
	if (stack)
		n->cpu.gpr[R_RSP] = stack;
	n->cpu.opaque = n;
	n->proc = p;
	n->sigmask = t->sigmask;
	n->altstack.ss_flags = SS_DISABLE;
	if (flags & CLONE_CHILD_CLEARTID)
		n->clear_child_tid = ctid;

	s.t = n;
	s.flags = flags;
	s.ptid = ptid;
	s.ctid = ctid;
	sem_init(&s.started, 0, 0);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, HOST_THREAD_STACK);
	pthread_mutex_lock(&p->lock);
	p->nr_threads++;
	pthread_mutex_unlock(&p->lock);
	/* no host signal may reach the new thread before it knows its user_thread */
	host_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, (long)&old, 8, 0, 0);
	e = pthread_create(&th, &attr, thread_main, &s);
	host_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8, 0, 0);
	pthread_attr_destroy(&attr);
	if (e) {
		pthread_mutex_lock(&p->lock);
		p->nr_threads--;
		pthread_mutex_unlock(&p->lock);
		vcpu_destroy(&n->cpu);
		free(n);
		sem_destroy(&s.started);
		return -e;
	}
	while (sem_wait(&s.started) && errno == EINTR)
		;
	sem_destroy(&s.started);
	return s.tid; /* not n->tid: n is freed if the thread has already exited */
}

/* After fork(2) in the child: we are the only thread. */
static void fork_child_fixup(struct user_thread *t)
{
	struct user_proc *p = t->proc;

	mem_fork_child(p->mem);
	block_cache_fork_child(p->cache, &t->cpu);
	pthread_mutex_init(&p->lock, NULL);
	p->nr_threads = 1;
	t->pending = 0; /* a child starts with no pending signals (fork(2)) */
	thread_exit_jmp = NULL;
	t->tid = (int)host_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
	current_uthread = t;
}

static long clone_process(struct user_thread *t, uint64_t flags, uint64_t stack, uint64_t ptid,
			  uint64_t ctid, uint64_t tls)
{
	int vfork_pipe[2] = { -1, -1 };
	long pid;

	if (flags & CLONE_VFORK) {
		/* CLONE_VFORK without CLONE_VM: the parent still waits until the child execs or
		 * exits; the write end of this pipe is close-on-exec */
		if (pipe2(vfork_pipe, O_CLOEXEC) == 0) {
			for (int i = 0; i < 2; i++) {
				int fd = fcntl(vfork_pipe[i], F_DUPFD_CLOEXEC, 900);
				if (fd >= 0) {
					close(vfork_pipe[i]);
					vfork_pipe[i] = fd;
				}
			}
		}
	}
	if ((flags & CSIGNAL) == SIGCHLD)
		pid = fork(); /* glibc's fork keeps the runner's own locks (malloc) consistent */
	else
		pid = host_syscall6(SYS_clone, (long)(flags & CSIGNAL), 0, 0, 0, 0, 0);
	if (pid < 0) {
		long e = pid == -1 ? -errno : pid;
		if (vfork_pipe[0] >= 0) {
			close(vfork_pipe[0]);
			close(vfork_pipe[1]);
		}
		return e;
	}
	if (pid == 0) {
		fork_child_fixup(t);
		if (vfork_pipe[0] >= 0)
			close(vfork_pipe[0]);
		if (stack)
			t->cpu.gpr[R_RSP] = stack;
		if (flags & CLONE_SETTLS)
			t->cpu.fs_base = tls;
		if (flags & CLONE_CHILD_SETTID) {
			uint32_t *p = guest_ptr(t, ctid, 4, GPROT_WRITE);
			if (p)
				*p = (uint32_t)t->tid;
		}
		if (flags & CLONE_CHILD_CLEARTID)
			t->clear_child_tid = ctid;
		return 0;
	}
	if (flags & CLONE_PARENT_SETTID) {
		uint32_t *p = guest_ptr(t, ptid, 4, GPROT_WRITE);
		if (p)
			*p = (uint32_t)pid;
	}
	if (vfork_pipe[0] >= 0) {
		char c;
		close(vfork_pipe[1]);
		while (read(vfork_pipe[0], &c, 1) < 0 && errno == EINTR)
			;
		close(vfork_pipe[0]);
	}
	return pid;
}

/*
 * CLONE_VM|CLONE_VFORK (vfork, posix_spawn): the child shares the guest's memory while the
 * parent waits, and reports exec failures through it. Done the same way on the host: the child
 * is a CLONE_VM|CLONE_VFORK host process running the same user_thread on its own host stack
 * (its TLS is the suspended parent thread's) with a private copy of the process state, since
 * its signal actions are its own (no CLONE_SIGHAND). When it has exec'd or exited, the parent
 * takes back its registers.
 */
#define VFORK_STACK (256u << 10)

struct vfork_saved {
	struct vcpu cpu;
	uint64_t sigmask, saved_mask;
	bool restore_saved_mask;
	stack_t altstack;
	uint64_t clear_child_tid;
	int tid;
	struct user_proc *proc;
};

struct vfork_args {
	struct user_thread *t;
	uint64_t flags, ctid;
};

static int vfork_child_main(void *arg)
{
	struct vfork_args *a = arg;
	struct user_thread *t = a->t;

	t->tid = (int)host_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
	t->vfork_child = true;
	if (a->flags & CLONE_CHILD_SETTID) {
		uint32_t *p = guest_ptr(t, a->ctid, 4, GPROT_WRITE);
		if (p)
			*p = (uint32_t)t->tid;
	}
	t->clear_child_tid = (a->flags & CLONE_CHILD_CLEARTID) ? a->ctid : 0;
	thread_run(t);
}

static long clone_vfork(struct user_thread *t, uint64_t flags, uint64_t stack, uint64_t ptid,
			uint64_t ctid, uint64_t tls)
{
	struct vfork_saved *sv = malloc(sizeof(*sv));
	struct vfork_args a = { t, flags, ctid };
	char *hstack = malloc(VFORK_STACK);
	struct user_proc *child_proc = malloc(sizeof(*child_proc));
	long pid;

	if (!sv || !hstack || !child_proc) {
		free(sv);
		free(hstack);
		free(child_proc);
		return -ENOMEM;
	}
	sv->cpu = t->cpu;
	sv->sigmask = t->sigmask;
	sv->saved_mask = t->saved_mask;
	sv->restore_saved_mask = t->restore_saved_mask;
	sv->altstack = t->altstack;
	sv->clear_child_tid = t->clear_child_tid;
	sv->tid = t->tid;
	sv->proc = t->proc;
	pthread_mutex_lock(&t->proc->lock);
	*child_proc = *t->proc;
	pthread_mutex_unlock(&t->proc->lock);
	pthread_mutex_init(&child_proc->lock, NULL);
	child_proc->nr_threads = 1;
	t->proc = child_proc;

	t->cpu.gpr[R_RAX] = 0;
	if (stack)
		t->cpu.gpr[R_RSP] = stack;
	if (flags & CLONE_SETTLS)
		t->cpu.fs_base = tls;
	pid = clone(vfork_child_main, hstack + VFORK_STACK,
		    CLONE_VM | CLONE_VFORK | (int)(flags & CSIGNAL), &a);
	if (pid < 0)
		pid = -errno;

	/* the child has exec'd or exited: back to the parent's state (but the vCPU stays where it
	 * is in the block cache's list, which other threads may have changed meanwhile) */
	{
		struct vcpu *next = t->cpu.cache_next;
		t->cpu = sv->cpu;
		t->cpu.cache_next = next;
		t->cpu.seen_epoch = 0; /* resynchronise: clears the jump cache on entry */
	}
	t->sigmask = sv->sigmask;
	t->saved_mask = sv->saved_mask;
	t->restore_saved_mask = sv->restore_saved_mask;
	t->altstack = sv->altstack;
	t->clear_child_tid = sv->clear_child_tid;
	t->tid = sv->tid;
	t->vfork_child = false;
	t->eintr = EINTR_NONE;
	t->proc = sv->proc;
	current_uthread = t;
	mem_set_current_vcpu(&t->cpu);
	pthread_mutex_destroy(&child_proc->lock);
	free(child_proc);
	free(sv);
	free(hstack);
	if (pid > 0 && (flags & CLONE_PARENT_SETTID)) {
		uint32_t *p = guest_ptr(t, ptid, 4, GPROT_WRITE);
		if (p)
			*p = (uint32_t)pid;
	}
	return pid;
}

long sys_clone(struct user_thread *t, uint64_t flags, uint64_t stack, uint64_t ptid, uint64_t ctid,
	       uint64_t tls)
{
	if (flags & CLONE_THREAD)
		return clone_thread(t, flags, stack, ptid, ctid, tls);
	if ((flags & CLONE_VM) && !(flags & CLONE_VFORK))
		return -EINVAL; /* a second process sharing our memory: not supported */
	if (flags & CLONE_VM)
		return clone_vfork(t, flags, stack, ptid, ctid, tls);
	if (flags & (CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
		     CLONE_NEWUTS | CLONE_NEWCGROUP))
		return -EPERM;
	return clone_process(t, flags, stack, ptid, ctid, tls);
}

/* ---- execve ---------------------------------------------------------------------------------- */

/* Read a NULL-terminated guest array of strings into @out (host pointers). */
static long read_strv(struct user_thread *t, uint64_t gva, const char ***out, size_t *nr)
{
	const char **v = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	*nr = 0;
	if (!gva)
		return 0;
	for (;;) {
		const uint64_t *slot = guest_ptr(t, gva + n * 8, 8, GPROT_READ);
		const char *s;
		if (!slot) {
			free(v);
			return -EFAULT;
		}
		if (!*slot)
			break;
		if (n >= MAX_EXEC_ARGS) {
			free(v);
			return -E2BIG;
		}
		s = guest_str(t, *slot, 128 * 1024);
		if (!s) {
			free(v);
			return -EFAULT;
		}
		if (n == cap) {
			const char **nv;
			cap = cap ? cap * 2 : 32;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = s;
	}
	*out = v;
	*nr = n;
	return 0;
}

/* Is @path something we can run? 0 or -errno, as execve(2) would answer. */
static long exec_check(const char *path)
{
	unsigned char buf[256];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EACCES;
	}
	if (access(path, X_OK) < 0) {
		long e = -errno;
		close(fd);
		return e;
	}
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n < 0)
		return -EIO;
	if (!elf_check(buf, (size_t)n))
		return -ENOEXEC;
	return 0;
}

static long do_execve(struct user_thread *t, const char *path, uint64_t argv, uint64_t envp)
{
	const char **av, **ev, **hargv;
	size_t ac, ec, k = 0;
	char tracebuf[64] = "";
	char relpath[PATH_MAX + 2];
	char **henv = NULL;
	long r;

	snprintf(relpath, sizeof(relpath), "./%s", path);
	r = exec_check(path);
	if (r < 0)
		return r;
	r = read_strv(t, argv, &av, &ac);
	if (r < 0)
		return r;
	r = read_strv(t, envp, &ev, &ec);
	if (r < 0) {
		free(av);
		return r;
	}
	hargv = calloc(ac + 16, sizeof(*hargv));
	if (!hargv) {
		free(av);
		free(ev);
		return -ENOMEM;
	}
	hargv[k++] = "omnivisor";
	hargv[k++] = "exec";
	if (trace_mask) {
		size_t n = 0;
		static const char *const names[] = { "cpu", "syscall", "exec", "signal" };
		for (int i = 0; i < 4; i++)
			if (trace_mask & (1u << i))
				n += (size_t)snprintf(tracebuf + n, sizeof(tracebuf) - n, "%s%s",
						      n ? "," : "", names[i]);
		hargv[k++] = "--trace";
		hargv[k++] = tracebuf;
	}
	hargv[k++] = "--argv0";
	hargv[k++] = ac ? av[0] : "";
	hargv[k++] = "--";
	/* execve(2) does not search PATH: a bare name is relative to the working directory */
	hargv[k++] = strchr(path, '/') ? path : relpath;
	for (size_t i = 1; i < ac; i++)
		hargv[k++] = av[i];
	hargv[k] = NULL;
	if (trace_on(TRACE_EXEC) || trace_on(TRACE_SYSCALL))
		pr_err("[%d] execve(\"%s\", %zu args, %zu env): re-executing %s", t->tid, path, ac,
		       ec, user_self_exe);
	fflush(stdout);
	fflush(stderr);
	/*
	 * The guest's environment becomes the new runner's, which hands it on unchanged; variables
	 * that would steer the runner's own dynamic loader or libc are renamed on the way
	 * (runner.c undoes it), so sizes stay as native for ARG_MAX purposes.
	 */
	henv = calloc(ec + 1, sizeof(*henv));
	if (!henv) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < ec; i++) {
		if (!strncmp(ev[i], "LD_", 3) || !strncmp(ev[i], "GLIBC_TUNABLES=", 15)) {
			char *v = malloc(strlen(USER_ENV_PREFIX) + strlen(ev[i]) + 1);
			if (!v) {
				r = -ENOMEM;
				goto fail;
			}
			strcpy(v, USER_ENV_PREFIX);
			strcat(v, ev[i]);
			henv[i] = v;
		} else {
			henv[i] = (char *)ev[i];
		}
	}
	execve(user_self_exe, (char *const *)hargv, henv);
	r = -errno;
fail:
	if (henv)
		for (size_t i = 0; i < ec; i++)
			if (henv[i] != ev[i])
				free(henv[i]);
	free(henv);
	free(hargv);
	free(av);
	free(ev);
	return r;
}

long sys_execve(struct user_thread *t, uint64_t path, uint64_t argv, uint64_t envp)
{
	const char *p = guest_str(t, path, PATH_MAX);

	if (!p)
		return -EFAULT;
	return do_execve(t, user_fix_path(p), argv, envp);
}

long sys_execveat(struct user_thread *t, int dirfd, uint64_t path, uint64_t argv, uint64_t envp,
		  int flags)
{
	const char *p = guest_str(t, path, PATH_MAX);
	char buf[PATH_MAX + 64];

	if (!p)
		return -EFAULT;
	if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -EINVAL;
	if (p[0] == '/' || dirfd == AT_FDCWD)
		return do_execve(t, user_fix_path(p), argv, envp);
	/* relative to a directory fd, or the fd itself (fexecve): name it through /proc */
	if (!*p && (flags & AT_EMPTY_PATH))
		snprintf(buf, sizeof(buf), "/proc/self/fd/%d", dirfd);
	else
		snprintf(buf, sizeof(buf), "/proc/self/fd/%d/%s", dirfd, p);
	return do_execve(t, buf, argv, envp);
}
