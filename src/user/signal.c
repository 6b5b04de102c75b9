/* SPDX-License-Identifier: MIT */
/*
 * Guest signals.
 *
 * Dispositions and blocked masks are mirrored onto the host: a guest SIG_DFL or SIG_IGN is the
 * host's (so the kernel itself terminates, stops or ignores, and the parent sees the same wait
 * status), and each guest thread's mask is its host thread's mask. A signal with a guest handler
 * gets a small host handler that records it and kicks the vCPU; at the next instruction boundary
 * signal_deliver_pending() builds the Linux x86-64 frame (arch/x86/kernel/signal.c:
 * struct rt_sigframe { pretcode; ucontext; siginfo; } + FXSAVE image) on the guest stack.
 * SIGSEGV/SIGBUS stay owned by the runner's fault handler; their guest versions come from CPU
 * exceptions (signal_from_exception) and are never installed on the host.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "user/user.h"

#define KSA_RESTORER 0x04000000
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif
#define SIGBIT(s) (1ULL << ((s) - 1))
#define HOST_OWNED (SIGBIT(SIGSEGV) | SIGBIT(SIGBUS))
#define UNBLOCKABLE (SIGBIT(SIGKILL) | SIGBIT(SIGSTOP))

/* Kernel ABI structures (arch/x86/include/uapi/asm/sigcontext.h, ucontext.h). */
struct ksigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate;
	uint64_t reserved1[8];
};

struct kstack {
	uint64_t ss_sp;
	int32_t ss_flags;
	int32_t pad;
	uint64_t ss_size;
};

struct kucontext {
	uint64_t uc_flags;
	uint64_t uc_link;
	struct kstack uc_stack;
	struct ksigcontext uc_mcontext;
	uint64_t uc_sigmask;
};

struct rt_sigframe {
	uint64_t pretcode;
	struct kucontext uc;
	siginfo_t info;
};

_Static_assert(sizeof(struct ksigcontext) == 256, "sigcontext");
_Static_assert(sizeof(struct kucontext) == 304, "ucontext");
_Static_assert(sizeof(struct rt_sigframe) == 440, "rt_sigframe");

#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4
#define FXSAVE_SIZE 512

/* The host handler's return path (the kernel needs SA_RESTORER on x86-64). */
void user_host_restorer(void);
__asm__(".text\n"
	".type user_host_restorer,@function\n"
	"user_host_restorer:\n"
	"	mov $15, %eax\n"
	"	syscall\n"
	"	hlt\n"
	".size user_host_restorer, .-user_host_restorer\n");

static long host_sigaction(int sig, const struct ksigaction *act, struct ksigaction *old)
{
	return host_syscall6(SYS_rt_sigaction, sig, (long)act, (long)old, 8, 0, 0);
}

void signal_set_host_mask(uint64_t guest_mask)
{
	uint64_t m = guest_mask & ~(HOST_OWNED | UNBLOCKABLE);
	host_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&m, 0, 8, 0, 0);
}

/* Record @sig for @t. Runs in the host handler (all signals blocked) or with them blocked. */
static void enqueue(struct user_thread *t, int sig, const siginfo_t *si)
{
	struct sigq *q = &t->sigq[sig];

	if (q->n < SIGQ_DEPTH)
		q->info[q->n++] = *si;
	__atomic_or_fetch(&t->pending, SIGBIT(sig), __ATOMIC_SEQ_CST);
}

static uint64_t block_all(void)
{
	uint64_t all = ~0ULL, old = 0;
	host_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, (long)&old, 8, 0, 0);
	return old;
}

static void unblock(uint64_t old)
{
	host_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8, 0, 0);
}

/* Take the oldest instance of @sig; false if none is pending. */
static bool dequeue(struct user_thread *t, int sig, siginfo_t *out)
{
	uint64_t old = block_all();
	struct sigq *q = &t->sigq[sig];
	bool ok = q->n > 0;

	if (ok) {
		*out = q->info[0];
		memmove(&q->info[0], &q->info[1], (size_t)(q->n - 1) * sizeof(q->info[0]));
		q->n--;
	}
	if (!q->n)
		__atomic_and_fetch(&t->pending, ~SIGBIT(sig), __ATOMIC_SEQ_CST);
	unblock(old);
	return ok;
}

static void host_handler(int sig, siginfo_t *si, void *ucv);

/*
 * SIGSEGV/SIGBUS belong to the guest-memory fault handler (mem_install_fault_handler), which
 * treats every one as a fault. One sent by kill/tgkill/sigqueue (si_code <= 0, no fault
 * address) is a guest signal instead: this wrapper, installed over it, routes those to the
 * guest and passes real faults on.
 */
static struct sigaction mem_fault_action[2];

static void fault_wrapper(int sig, siginfo_t *si, void *ucv)
{
	const struct sigaction *mem_sa = &mem_fault_action[sig == SIGBUS];

	if (si->si_code <= 0 && current_uthread) {
		host_handler(sig, si, ucv);
		return;
	}
	if (mem_sa->sa_flags & SA_SIGINFO)
		mem_sa->sa_sigaction(sig, si, ucv);
	else if (mem_sa->sa_handler != SIG_IGN && mem_sa->sa_handler != SIG_DFL)
		mem_sa->sa_handler(sig);
	else {
		signal(sig, SIG_DFL); /* returning re-executes the fault and dies of it */
	}
}

void signal_wrap_fault_handler(void)
{
	for (int i = 0; i < 2; i++) {
		int sig = i ? SIGBUS : SIGSEGV;
		struct sigaction sa;
		if (sigaction(sig, NULL, &mem_fault_action[i]) < 0)
			continue;
		sa = mem_fault_action[i];
		sa.sa_sigaction = fault_wrapper;
		sa.sa_flags |= SA_SIGINFO;
		sigaction(sig, &sa, NULL);
	}
}

static void host_handler(int sig, siginfo_t *si, void *ucv)
{
	struct user_thread *t = current_uthread;
	ucontext_t *uc = ucv;
	greg_t *rip = &uc->uc_mcontext.gregs[REG_RIP];

	if (!t || sig < 1 || sig > GUEST_NSIG)
		return;
	enqueue(t, sig, si);
	user_sig_arrived = 1;
	/* about to enter a forwarded call: do not (see guest_syscall6) */
	if (*rip >= (greg_t)user_bsc_begin && *rip < (greg_t)user_bsc_end)
		*rip = (greg_t)user_bsc_cancel;
	vcpu_kick(&t->cpu);
}

/* Put the host disposition of @sig in line with the guest's @act. */
static void mirror_action(int sig, const struct ksigaction *act)
{
	struct ksigaction h = { 0 };

	if (SIGBIT(sig) & (HOST_OWNED | UNBLOCKABLE))
		return;
	if (act->handler == (uint64_t)SIG_DFL || act->handler == (uint64_t)SIG_IGN) {
		h.handler = act->handler;
		/* child-notification flags matter to the kernel even without a handler */
		h.flags = act->flags & (SA_NOCLDSTOP | SA_NOCLDWAIT);
	} else {
		h.handler = (uint64_t)host_handler;
		/* no SA_RESTART: blocking host calls return EINTR and we decide (signal(7)) */
		h.flags = SA_SIGINFO | KSA_RESTORER | (act->flags & (SA_NOCLDSTOP | SA_NOCLDWAIT));
		h.restorer = (uint64_t)user_host_restorer;
		h.mask = ~0ULL & ~(HOST_OWNED | UNBLOCKABLE);
	}
	host_sigaction(sig, &h, NULL);
}

void signal_init(struct user_proc *p, struct user_thread *main_thread)
{
	uint64_t mask = 0;

	for (int sig = 1; sig <= GUEST_NSIG; sig++) {
		struct ksigaction old;
		memset(&p->sigact[sig], 0, sizeof(p->sigact[sig]));
		if (SIGBIT(sig) & (HOST_OWNED | UNBLOCKABLE))
			continue;
		/* ignored signals stay ignored across execve (execve(2)) */
		if (host_sigaction(sig, NULL, &old) == 0 && old.handler == (uint64_t)SIG_IGN)
			p->sigact[sig].handler = (uint64_t)SIG_IGN;
		else
			mirror_action(sig, &p->sigact[sig]);
	}
	host_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, 0, (long)&mask, 8, 0, 0);
	main_thread->sigmask = mask & ~UNBLOCKABLE;
	signal_set_host_mask(main_thread->sigmask);
}

bool signal_pending_unblocked(struct user_thread *t)
{
	return (__atomic_load_n(&t->pending, __ATOMIC_ACQUIRE) & ~t->sigmask) != 0;
}

/* Default action of a signal (signal(7)). */
enum { DFL_TERM, DFL_IGN, DFL_STOP };

static int default_action(int sig)
{
	switch (sig) {
	case SIGCHLD: case SIGURG: case SIGWINCH: case SIGCONT:
		return DFL_IGN;
	case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
		return DFL_STOP;
	default:
		return DFL_TERM;
	}
}

void signal_die(int sig)
{
	struct ksigaction dfl = { 0 };
	struct rlimit rl = { 0, 0 };
	uint64_t m = ~0ULL & ~SIGBIT(sig);

	fflush(stdout);
	fflush(stderr);
	/* a core of the runner (guest window included) helps nobody */
	setrlimit(RLIMIT_CORE, &rl);
	host_sigaction(sig, &dfl, NULL);
	host_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&m, 0, 8, 0, 0);
	host_syscall6(SYS_tgkill, getpid(), host_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0), sig, 0,
		      0, 0);
	host_syscall6(SYS_kill, getpid(), sig, 0, 0, 0, 0);
	_exit(128 + sig);
}

/* ---- FXSAVE image of the vCPU state (Intel SDM Vol. 1 10.5.1, Table 10-2) ---------------- */

static void fxsave_to(const struct vcpu *cpu, uint8_t *fx)
{
	const struct x87_state *f = &cpu->fpu;
	uint16_t fsw = x87_get_fsw(f);
	uint32_t mxcsr_mask = 0xffff;

	memset(fx, 0, FXSAVE_SIZE);
	memcpy(fx + 0, &f->fcw, 2);
	memcpy(fx + 2, &fsw, 2);
	fx[4] = f->ftw;
	memcpy(fx + 6, &f->fop, 2);
	memcpy(fx + 8, &f->fip, 8);
	memcpy(fx + 16, &f->fdp, 8);
	memcpy(fx + 24, &cpu->mxcsr, 4);
	memcpy(fx + 28, &mxcsr_mask, 4);
	for (int i = 0; i < 8; i++)
		memcpy(fx + 32 + 16 * i, f->st[(f->top + i) & 7].bytes, 10);
	memcpy(fx + 160, cpu->xmm, 16 * 16);
}

static void fxrstor_from(struct vcpu *cpu, const uint8_t *fx)
{
	struct x87_state *f = &cpu->fpu;
	uint16_t fsw;
	uint32_t mxcsr;

	memcpy(&f->fcw, fx + 0, 2);
	memcpy(&fsw, fx + 2, 2);
	f->top = (fsw >> 11) & 7;
	f->fsw = fsw & ~0x3800;
	f->ftw = fx[4];
	memcpy(&f->fop, fx + 6, 2);
	memcpy(&f->fip, fx + 8, 8);
	memcpy(&f->fdp, fx + 16, 8);
	memcpy(&mxcsr, fx + 24, 4);
	cpu->mxcsr = mxcsr & 0xffff;
	for (int i = 0; i < 8; i++) {
		union x87_reg *r = &f->st[(f->top + i) & 7];
		memset(r, 0, sizeof(*r));
		memcpy(r->bytes, fx + 32 + 16 * i, 10);
	}
	memcpy(cpu->xmm, fx + 160, 16 * 16);
}

/* ---- frames --------------------------------------------------------------------------------- */

static bool on_altstack(const struct user_thread *t, uint64_t sp)
{
	uint64_t base = (uint64_t)t->altstack.ss_sp;
	if (t->altstack.ss_flags & SS_DISABLE)
		return false;
	return sp > base && sp - base <= t->altstack.ss_size;
}

static int altstack_flags(const struct user_thread *t, uint64_t sp)
{
	if (t->altstack.ss_flags & SS_DISABLE)
		return SS_DISABLE;
	return on_altstack(t, sp) ? SS_ONSTACK : 0;
}

static void set_mask(struct user_thread *t, uint64_t m)
{
	t->sigmask = m & ~UNBLOCKABLE;
	signal_set_host_mask(t->sigmask);
}

/*
 * Build the frame for a handler of @sig (Linux get_sigframe/x64_setup_rt_frame).
 * Returns false if the stack is unusable (the caller then kills with SIGSEGV, as Linux does).
 */
static bool setup_frame(struct user_thread *t, int sig, const siginfo_t *info,
			const struct ksigaction *act)
{
	struct vcpu *cpu = &t->cpu;
	uint64_t sp = cpu->gpr[R_RSP], fp, frame_gva, oldmask;
	struct rt_sigframe *frame;
	struct ksigcontext *sc;
	uint8_t *fx;

	sp -= 128; /* red zone, psABI 3.2.2 */
	if ((act->flags & SA_ONSTACK) && altstack_flags(t, cpu->gpr[R_RSP]) == 0)
		sp = (uint64_t)t->altstack.ss_sp + t->altstack.ss_size;
	fp = (sp - FXSAVE_SIZE) & ~63ULL;
	frame_gva = ((fp - sizeof(*frame)) & ~15ULL) - 8;
	if (frame_gva > fp)
		return false;
	frame = guest_ptr(t, frame_gva, fp + FXSAVE_SIZE - frame_gva, GPROT_READ | GPROT_WRITE);
	if (!frame)
		return false;
	fx = (uint8_t *)frame + (fp - frame_gva);

	oldmask = t->restore_saved_mask ? t->saved_mask : t->sigmask;
	t->restore_saved_mask = false;

	memset(frame, 0, sizeof(*frame));
	frame->pretcode = act->restorer; /* deliver_one() required SA_RESTORER */
	frame->info = *info;
	frame->uc.uc_flags = UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	/* __save_altstack(): the configured stack; SS_AUTODISARM disables it in the handler */
	frame->uc.uc_stack.ss_sp = (uint64_t)t->altstack.ss_sp;
	frame->uc.uc_stack.ss_flags = t->altstack.ss_flags;
	frame->uc.uc_stack.ss_size = t->altstack.ss_size;
	if (t->altstack.ss_flags & SS_AUTODISARM) {
		t->altstack.ss_sp = NULL;
		t->altstack.ss_size = 0;
		t->altstack.ss_flags = SS_DISABLE;
	}
	frame->uc.uc_sigmask = oldmask;
	sc = &frame->uc.uc_mcontext;
	sc->r8 = cpu->gpr[R_R8];
	sc->r9 = cpu->gpr[R_R9];
	sc->r10 = cpu->gpr[R_R10];
	sc->r11 = cpu->gpr[R_R11];
	sc->r12 = cpu->gpr[R_R12];
	sc->r13 = cpu->gpr[R_R13];
	sc->r14 = cpu->gpr[R_R14];
	sc->r15 = cpu->gpr[R_R15];
	sc->rdi = cpu->gpr[R_RDI];
	sc->rsi = cpu->gpr[R_RSI];
	sc->rbp = cpu->gpr[R_RBP];
	sc->rbx = cpu->gpr[R_RBX];
	sc->rdx = cpu->gpr[R_RDX];
	sc->rax = cpu->gpr[R_RAX];
	sc->rcx = cpu->gpr[R_RCX];
	sc->rsp = cpu->gpr[R_RSP];
	sc->rip = cpu->rip;
	sc->eflags = vcpu_get_rflags(cpu);
	sc->cs = 0x33;
	sc->ss = 0x2b;
	sc->oldmask = oldmask;
	if (info->si_signo == sig && t->cpu.exc_vector >= 0 && info->si_code > 0 &&
	    (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP)) {
		sc->trapno = (uint64_t)t->cpu.exc_vector;
		sc->err = t->cpu.exc_error;
		sc->cr2 = t->cpu.exc_vector == EXC_PF ? t->cpu.exc_addr : 0;
	}
	sc->fpstate = fp;
	fxsave_to(cpu, fx);

	/* Enter the handler: SysV ABI handler(sig, info, ucontext), DF and TF clear. */
	cpu->gpr[R_RDI] = (uint64_t)sig;
	cpu->gpr[R_RSI] = frame_gva + offsetof(struct rt_sigframe, info);
	cpu->gpr[R_RDX] = frame_gva + offsetof(struct rt_sigframe, uc);
	cpu->gpr[R_RAX] = 0;
	cpu->gpr[R_RSP] = frame_gva;
	cpu->rip = act->handler;
	cpu->rflags &= ~(uint64_t)(FLAG_DF | FLAG_TF | 0x10000 /* RF */);
	/* the handler starts with a fresh FPU/SSE state (fpu__clear_user_states) */
	cpu->fpu.fcw = 0x37f;
	cpu->fpu.fsw = 0;
	cpu->fpu.top = 0;
	cpu->fpu.ftw = 0;
	cpu->mxcsr = 0x1f80;

	if (trace_on(TRACE_SIGNAL))
		pr_err("[%d] signal %d: handler %#llx frame %#llx", t->tid, sig,
		       (unsigned long long)act->handler, (unsigned long long)frame_gva);
	return true;
}

static void deliver_one(struct user_thread *t, int sig, const siginfo_t *info)
{
	struct user_proc *p = t->proc;
	struct ksigaction act;

	pthread_mutex_lock(&p->lock);
	act = p->sigact[sig];
	if ((act.flags & SA_RESETHAND) && act.handler > 1) {
		memset(&p->sigact[sig], 0, sizeof(p->sigact[sig]));
		mirror_action(sig, &p->sigact[sig]);
	}
	pthread_mutex_unlock(&p->lock);

	if (act.handler == (uint64_t)SIG_IGN)
		return;
	if (act.handler == (uint64_t)SIG_DFL) {
		switch (default_action(sig)) {
		case DFL_IGN:
			return;
		case DFL_STOP:
			/* the host disposition is SIG_DFL too: let the kernel stop us */
			host_syscall6(SYS_tgkill, getpid(), t->tid, sig, 0, 0, 0);
			return;
		default:
			signal_die(sig);
		}
	}
	/* interrupted system call: restart or -EINTR (arch/x86/kernel/signal.c handle_signal) */
	if (t->eintr != EINTR_NONE) {
		if (t->eintr == EINTR_RESTARTSYS && (act.flags & SA_RESTART)) {
			t->cpu.gpr[R_RAX] = t->eintr_nr;
			t->cpu.rip -= 2;
		}
		t->eintr = EINTR_NONE;
	}
	/*
	 * x64_setup_rt_frame fails (-EFAULT) without SA_RESTORER (x86-64 has no kernel-provided
	 * return path) or when the frame cannot be written; the handler does not run and
	 * signal_setup_done -> force_sigsegv() follows: fatal if SIGSEGV was being delivered,
	 * else a SIGSEGV (SI_KERNEL) is forced, which a SIGSEGV handler may still catch.
	 */
	if (!(act.flags & KSA_RESTORER) || !setup_frame(t, sig, info, &act)) {
		siginfo_t si;

		if (trace_on(TRACE_SIGNAL))
			pr_err("[%d] signal %d: %s, SIGSEGV", t->tid, sig,
			       (act.flags & KSA_RESTORER) ? "cannot write the frame"
							  : "handler without SA_RESTORER");
		if (sig == SIGSEGV)
			signal_die(SIGSEGV);
		memset(&si, 0, sizeof(si));
		si.si_signo = SIGSEGV;
		si.si_code = SI_KERNEL;
		signal_force(t, SIGSEGV, &si);
		return;
	}
	set_mask(t, t->sigmask | act.mask | ((act.flags & SA_NODEFER) ? 0 : SIGBIT(sig)));
}

void signal_deliver_pending(struct user_thread *t)
{
	for (;;) {
		uint64_t ready = __atomic_load_n(&t->pending, __ATOMIC_ACQUIRE) & ~t->sigmask;
		int sig;
		siginfo_t info;

		if (!ready)
			break;
		/* synchronous signals first, then the lowest number (Linux next_signal) */
		if (ready & (HOST_OWNED | SIGBIT(SIGILL) | SIGBIT(SIGTRAP) | SIGBIT(SIGFPE)))
			ready &= HOST_OWNED | SIGBIT(SIGILL) | SIGBIT(SIGTRAP) | SIGBIT(SIGFPE);
		sig = __builtin_ctzll(ready) + 1;
		if (dequeue(t, sig, &info))
			deliver_one(t, sig, &info);
	}
	if (t->restore_saved_mask) {
		t->restore_saved_mask = false;
		set_mask(t, t->saved_mask);
	}
	t->eintr = EINTR_NONE;
}

void signal_force(struct user_thread *t, int sig, const siginfo_t *info)
{
	struct ksigaction act;

	pthread_mutex_lock(&t->proc->lock);
	act = t->proc->sigact[sig];
	pthread_mutex_unlock(&t->proc->lock);
	/* force_sig_info: blocked or ignored synchronous signals kill */
	if ((t->sigmask & SIGBIT(sig)) || act.handler == (uint64_t)SIG_IGN ||
	    act.handler == (uint64_t)SIG_DFL)
		signal_die(sig);
	t->eintr = EINTR_NONE;
	deliver_one(t, sig, info);
}

static int fpe_code(uint32_t status, uint32_t masks)
{
	uint32_t e = status & ~masks & 0x3f;
	/* arch/x86/kernel/fpu/core.c fpu__exception_code */
	if (e & 0x01)
		return FPE_FLTINV;
	if (e & 0x04)
		return FPE_FLTDIV;
	if (e & 0x08)
		return FPE_FLTOVF;
	if (e & 0x12)
		return FPE_FLTUND;
	if (e & 0x20)
		return FPE_FLTRES;
	return 0;
}

/*
 * Legacy vsyscall page (Linux arch/x86/entry/vsyscall/vsyscall_64.c, "emulate" mode): a call
 * to 0xffffffffff600000/400/800 runs gettimeofday/time/getcpu and returns to the caller.
 */
static bool emulate_vsyscall(struct user_thread *t)
{
	static const long nrs[3] = { SYS_gettimeofday, SYS_time, SYS_getcpu };
	struct vcpu *cpu = &t->cpu;
	uint64_t off = cpu->rip - 0xffffffffff600000ULL, *ret;
	uint64_t saved_rip, saved_rcx, saved_r11;

	if (off >= 0x1000 || (off & 0x3ff) || off == 0xc00)
		return false;
	ret = guest_ptr(t, cpu->gpr[R_RSP], 8, GPROT_READ);
	if (!ret)
		return false;
	saved_rip = *ret;
	saved_rcx = cpu->gpr[R_RCX];
	saved_r11 = cpu->gpr[R_R11];
	cpu->gpr[R_RAX] = (uint64_t)nrs[off >> 10];
	cpu->gpr[R_R10] = 0;
	cpu->rip = saved_rip;
	cpu->gpr[R_RSP] += 8;
	syscall_handle(t);
	cpu->gpr[R_RCX] = saved_rcx;
	cpu->gpr[R_R11] = saved_r11;
	return true;
}

void signal_from_exception(struct user_thread *t)
{
	struct vcpu *cpu = &t->cpu;
	siginfo_t si;
	int sig, code;
	uint64_t addr = 0;

	if ((cpu->exc_vector == EXC_PF || cpu->exc_vector == EXC_GP) &&
	    (cpu->rip >> 12) == (0xffffffffff600000ULL >> 12) && emulate_vsyscall(t))
		return;

	memset(&si, 0, sizeof(si));
	switch (cpu->exc_vector) {
	case EXC_UD:
		sig = SIGILL, code = ILL_ILLOPN, addr = cpu->rip;
		break;
	case EXC_DE:
		sig = SIGFPE, code = FPE_INTDIV, addr = cpu->rip;
		break;
	case EXC_MF:
		sig = SIGFPE, code = fpe_code(x87_get_fsw(&cpu->fpu), cpu->fpu.fcw), addr = cpu->rip;
		break;
	case EXC_XM:
		sig = SIGFPE, code = fpe_code(cpu->mxcsr, cpu->mxcsr >> 7), addr = cpu->rip;
		break;
	case EXC_PF:
		sig = SIGSEGV;
		code = mem_prot(t->proc->mem, cpu->exc_addr) >= 0 ? SEGV_ACCERR : SEGV_MAPERR;
		addr = cpu->exc_addr;
		break;
	case EXC_HOST_SIGBUS:
		sig = SIGBUS, code = BUS_ADRERR, addr = cpu->exc_addr;
		break;
	case EXC_AC:
		sig = SIGBUS, code = BUS_ADRALN, addr = cpu->exc_addr;
		break;
	case EXC_SS:
		sig = SIGBUS, code = SI_KERNEL;
		break;
	case EXC_BP:
		sig = SIGTRAP, code = SI_KERNEL;
		break;
	case EXC_DB:
		sig = SIGTRAP, code = TRAP_BRKPT, addr = cpu->rip;
		break;
	default: /* #GP and everything else */
		sig = SIGSEGV, code = SI_KERNEL;
		break;
	}
	si.si_signo = sig;
	si.si_code = code;
	si.si_addr = (void *)addr;
	if (trace_on(TRACE_SIGNAL) || trace_on(TRACE_SYSCALL))
		pr_err("[%d] exception %d (error %#x, address %#llx) at rip %#llx -> signal %d",
		       t->tid, cpu->exc_vector, cpu->exc_error, (unsigned long long)cpu->exc_addr,
		       (unsigned long long)cpu->rip, sig);
	signal_force(t, sig, &si);
}

long signal_kill(struct user_thread *t, uint64_t nr, long a0, long a1, long a2)
{
	int sig = nr == SYS_tgkill ? (int)a2 : (int)a1;
	bool self;

	if (sig < 0 || sig > GUEST_NSIG)
		return -EINVAL;
	switch (nr) {
	case SYS_kill: self = a0 == getpid(); break;
	case SYS_tkill: self = a0 == t->tid; break;
	default: self = a0 == getpid() && a1 == t->tid; break;
	}
	if (self && sig && (SIGBIT(sig) & HOST_OWNED)) {
		/* the host handler of these is the runner's own: queue it ourselves */
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		si.si_signo = sig;
		si.si_code = nr == SYS_kill ? SI_USER : SI_TKILL;
		si.si_pid = getpid();
		si.si_uid = getuid();
		{
			uint64_t old = block_all();
			enqueue(t, sig, &si);
			unblock(old);
		}
		return 0;
	}
	return host_syscall6((long)nr, a0, a1, a2, 0, 0, 0);
}

/* ---- system calls ------------------------------------------------------------------------- */

long sys_rt_sigaction(struct user_thread *t, int sig, uint64_t act, uint64_t oact, uint64_t size)
{
	struct user_proc *p = t->proc;
	struct ksigaction *ga = NULL, *go = NULL, old;

	if (size != 8 || sig < 1 || sig > GUEST_NSIG)
		return -EINVAL;
	if (act && (SIGBIT(sig) & UNBLOCKABLE))
		return -EINVAL;
	if (act && !(ga = guest_ptr(t, act, sizeof(*ga), GPROT_READ)))
		return -EFAULT;
	if (oact && !(go = guest_ptr(t, oact, sizeof(*go), GPROT_WRITE)))
		return -EFAULT;
	pthread_mutex_lock(&p->lock);
	old = p->sigact[sig];
	if (ga) {
		p->sigact[sig] = *ga;
		p->sigact[sig].mask &= ~UNBLOCKABLE;
		mirror_action(sig, &p->sigact[sig]);
	}
	pthread_mutex_unlock(&p->lock);
	if (go)
		*go = old;
	return 0;
}

long sys_rt_sigprocmask(struct user_thread *t, int how, uint64_t set, uint64_t oset, uint64_t size)
{
	uint64_t *gs = NULL, *go = NULL, old = t->sigmask, m = old;

	if (size != 8)
		return -EINVAL;
	if (set && !(gs = guest_ptr(t, set, 8, GPROT_READ)))
		return -EFAULT;
	if (oset && !(go = guest_ptr(t, oset, 8, GPROT_WRITE)))
		return -EFAULT;
	if (gs) {
		switch (how) {
		case SIG_BLOCK: m |= *gs; break;
		case SIG_UNBLOCK: m &= ~*gs; break;
		case SIG_SETMASK: m = *gs; break;
		default: return -EINVAL;
		}
		set_mask(t, m);
	}
	if (go)
		*go = old;
	return 0;
}

long sys_rt_sigreturn(struct user_thread *t)
{
	struct vcpu *cpu = &t->cpu;
	uint64_t frame_gva = cpu->gpr[R_RSP] - 8;
	struct rt_sigframe *frame = guest_ptr(t, frame_gva, sizeof(*frame), GPROT_READ);
	const struct ksigcontext *sc;
	const uint32_t fix_flags = 0x50dd5; /* AC OF DF TF SF ZF AF PF CF RF (FIX_EFLAGS) */

	if (!frame) {
		siginfo_t si = { .si_signo = SIGSEGV, .si_code = SI_KERNEL };
		signal_force(t, SIGSEGV, &si);
		return (long)cpu->gpr[R_RAX];
	}
	sc = &frame->uc.uc_mcontext;
	if (sc->fpstate) {
		const uint8_t *fx = guest_ptr(t, sc->fpstate, FXSAVE_SIZE, GPROT_READ);
		if (!fx) {
			siginfo_t si = { .si_signo = SIGSEGV, .si_code = SI_KERNEL };
			signal_force(t, SIGSEGV, &si);
			return (long)cpu->gpr[R_RAX];
		}
		fxrstor_from(cpu, fx);
	} else {
		cpu->fpu.fcw = 0x37f;
		cpu->fpu.fsw = 0;
		cpu->fpu.top = 0;
		cpu->fpu.ftw = 0;
		cpu->mxcsr = 0x1f80;
	}
	cpu->gpr[R_R8] = sc->r8;
	cpu->gpr[R_R9] = sc->r9;
	cpu->gpr[R_R10] = sc->r10;
	cpu->gpr[R_R11] = sc->r11;
	cpu->gpr[R_R12] = sc->r12;
	cpu->gpr[R_R13] = sc->r13;
	cpu->gpr[R_R14] = sc->r14;
	cpu->gpr[R_R15] = sc->r15;
	cpu->gpr[R_RDI] = sc->rdi;
	cpu->gpr[R_RSI] = sc->rsi;
	cpu->gpr[R_RBP] = sc->rbp;
	cpu->gpr[R_RBX] = sc->rbx;
	cpu->gpr[R_RDX] = sc->rdx;
	cpu->gpr[R_RAX] = sc->rax;
	cpu->gpr[R_RCX] = sc->rcx;
	cpu->gpr[R_RSP] = sc->rsp;
	cpu->rip = sc->rip;
	cpu->rflags = (cpu->rflags & ~(uint64_t)fix_flags) | (sc->eflags & fix_flags);
	set_mask(t, frame->uc.uc_sigmask);
	/* restore_altstack(): errors are ignored */
	if (!on_altstack(t, cpu->gpr[R_RSP]) &&
	    !(frame->uc.uc_stack.ss_flags & ~(SS_DISABLE | SS_AUTODISARM | SS_ONSTACK))) {
		t->altstack.ss_sp = (void *)frame->uc.uc_stack.ss_sp;
		t->altstack.ss_size = frame->uc.uc_stack.ss_size;
		t->altstack.ss_flags = frame->uc.uc_stack.ss_flags & (SS_DISABLE | SS_AUTODISARM);
	}
	t->eintr = EINTR_NONE;
	if (trace_on(TRACE_SIGNAL))
		pr_err("[%d] sigreturn to %#llx", t->tid, (unsigned long long)cpu->rip);
	return (long)cpu->gpr[R_RAX];
}

long sys_sigaltstack(struct user_thread *t, uint64_t ss, uint64_t oss)
{
	struct kstack *gs = NULL, *go = NULL, old;
	uint64_t sp = t->cpu.gpr[R_RSP];

	if (ss && !(gs = guest_ptr(t, ss, sizeof(*gs), GPROT_READ)))
		return -EFAULT;
	if (oss && !(go = guest_ptr(t, oss, sizeof(*go), GPROT_WRITE)))
		return -EFAULT;
	old.ss_sp = (uint64_t)t->altstack.ss_sp;
	old.ss_size = t->altstack.ss_size;
	old.ss_flags = altstack_flags(t, sp) | (int)(t->altstack.ss_flags & SS_AUTODISARM);
	old.pad = 0;
	if (gs) {
		int flags = gs->ss_flags & ~SS_AUTODISARM;
		if (on_altstack(t, sp))
			return -EPERM;
		if (flags != 0 && flags != SS_DISABLE && flags != SS_ONSTACK)
			return -EINVAL;
		if (flags == SS_DISABLE) {
			t->altstack.ss_sp = NULL;
			t->altstack.ss_size = 0;
			t->altstack.ss_flags = SS_DISABLE;
		} else {
			if (gs->ss_size < 2048)
				return -ENOMEM;
			t->altstack.ss_sp = (void *)gs->ss_sp;
			t->altstack.ss_size = gs->ss_size;
			t->altstack.ss_flags = (int)(gs->ss_flags & SS_AUTODISARM);
		}
	}
	if (go)
		*go = old;
	return 0;
}

long sys_rt_sigsuspend(struct user_thread *t, uint64_t mask, uint64_t size)
{
	uint64_t *gm, m;

	if (size != 8)
		return -EINVAL;
	gm = guest_ptr(t, mask, 8, GPROT_READ);
	if (!gm)
		return -EFAULT;
	m = *gm & ~UNBLOCKABLE;
	if (!t->restore_saved_mask)
		t->saved_mask = t->sigmask;
	t->restore_saved_mask = true;
	t->sigmask = m;
	if (!signal_pending_unblocked(t)) {
		uint64_t hm = m & ~(HOST_OWNED | UNBLOCKABLE);
		guest_syscall6(SYS_rt_sigsuspend, (long)&hm, 8, 0, 0, 0, 0);
	}
	return -EINTR;
}

long sys_pause(struct user_thread *t)
{
	if (!signal_pending_unblocked(t))
		guest_syscall6(SYS_pause, 0, 0, 0, 0, 0, 0);
	return -EINTR;
}

long sys_rt_sigpending(struct user_thread *t, uint64_t set, uint64_t size)
{
	uint64_t *gs, host = 0;

	if (size > 8)
		return -EINVAL;
	gs = guest_ptr(t, set, size, GPROT_WRITE);
	if (!gs)
		return -EFAULT;
	host_syscall6(SYS_rt_sigpending, (long)&host, 8, 0, 0, 0, 0);
	host |= __atomic_load_n(&t->pending, __ATOMIC_ACQUIRE);
	host &= t->sigmask;
	memcpy(gs, &host, size);
	return 0;
}

long sys_rt_sigtimedwait(struct user_thread *t, uint64_t set, uint64_t info, uint64_t ts,
			 uint64_t size)
{
	uint64_t *gs, m, ready;
	void *gi = NULL, *gt = NULL;
	siginfo_t si;
	long r;

	if (size != 8)
		return -EINVAL;
	if (!(gs = guest_ptr(t, set, 8, GPROT_READ)))
		return -EFAULT;
	if (info && !(gi = guest_ptr(t, info, sizeof(siginfo_t), GPROT_WRITE)))
		return -EFAULT;
	if (ts && !(gt = guest_ptr(t, ts, 16, GPROT_READ)))
		return -EFAULT;
	m = *gs & ~UNBLOCKABLE;
	ready = __atomic_load_n(&t->pending, __ATOMIC_ACQUIRE) & m;
	if (ready && dequeue(t, __builtin_ctzll(ready) + 1, &si)) {
		r = __builtin_ctzll(ready) + 1;
	} else {
		uint64_t hm = m & ~HOST_OWNED;
		r = guest_syscall6(SYS_rt_sigtimedwait, (long)&hm, (long)&si, (long)gt, 8, 0, 0);
	}
	if (trace_on(TRACE_SIGNAL))
		pr_err("[%d] sigtimedwait: %ld (%s)", t->tid, r, ready ? "queued" : "host");
	if (r > 0 && gi)
		memcpy(gi, &si, sizeof(si));
	return r;
}
