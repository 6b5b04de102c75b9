/* SPDX-License-Identifier: MIT */
/*
 * difftest - differential testing of the virtual CPU against the host CPU.
 *
 * Every form of tests/cpu/cases/NAME.txt (assembled at build time by gen-cases.awk into entries of
 * the `difftest_cases` section) is run for many iterations from identical random initial
 * states on the host CPU (in a forked child: load the state with a trampoline, run the bytes,
 * stop at the INT3 after them or at a fault, read the state from the signal's ucontext) and on
 * the virtual CPU (in another forked child, so a crash of the emulator is reported, not fatal).
 * The parent compares GPRs, RIP, RFLAGS (minus the form's undefined flags), XMM0-15, MXCSR,
 * x87 (FCW, FSW, tags, ST registers as 80-bit values), the data and stack pages and the
 * exception. A form passes when every iteration matches. The last output line is
 * `N passed, N failed` (N = forms); the exit status is nonzero if any form failed.
 *
 * Usage and the case-file format: tests/cpu/cases/README.md.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "omnivisor/memory.h"
#include "omnivisor/vcpu.h"
#include "cpu/cpu.h"

/* ---------------------------------------------------------------------------------------- */
/* Layout: identical GVAs (guest) and host addresses (host child). */

#define CODE_ADDR 0x20000000ULL
#define CODE_SIZE 0x1000ULL
#define DATA_ADDR 0x20010000ULL
#define DATA_SIZE 0x4000ULL
#define STACK_ADDR 0x20020000ULL
#define STACK_SIZE 0x2000ULL
#define RSI_INIT (DATA_ADDR + 0x1000) /* 4 KiB below, 12 KiB above */
#define RDI_INIT (DATA_ADDR + 0x2800) /* 10 KiB below, 6 KiB above */
#define RSP_INIT (STACK_ADDR + 0x1000)
#define FS_INIT DATA_ADDR             /* fs:[N] and gs:[N] land in the data area too */
#define GS_INIT (DATA_ADDR + 0x2000)
#define GUEST_LIMIT (1ULL << 32)
#define FORM_TIMEOUT_S 30

/* FXSAVE image offsets, Intel SDM Vol. 1 10.5.1 (64-bit format) */
#define FX_FCW 0
#define FX_FSW 2
#define FX_FTW 4
#define FX_MXCSR 24
#define FX_ST 32
#define FX_XMM 160

/* Outcome codes beyond exception vectors 0..31. */
enum {
	OUT_NONE = -1,    /* not run */
	OUT_SYSCALL = 100,/* guest: VCPU_EXIT_SYSCALL */
	OUT_HLT = 101,
	OUT_OTHER = 102,  /* guest: unexpected exit code */
	OUT_HARNESS = 103,/* host: signal outside the snippet */
};

/* One case entry as emitted by gen-cases.awk. */
struct dt_case {
	const uint8_t *start, *end;
	const char *text, *opts, *file;
	uint32_t line, pad;
};
extern const struct dt_case __start_difftest_cases[] __attribute__((weak));
extern const struct dt_case __stop_difftest_cases[] __attribute__((weak));

struct form {
	const struct dt_case *c;
	const char *file; /* basename without .txt */
	uint64_t undef;   /* RFLAGS bits not compared */
	uint16_t fsw_undef;
	int x87;          /* values pushed on the x87 stack */
	int df;
	int64_t mxcsr, fcw; /* fixed values or -1 */
	uint64_t hash;
	char err[128];    /* option parse error */
};

/* Registers and outcome of one iteration; the memory areas only as a hash. */
#define REGS_FIELDS                                                                         \
	uint64_t gpr[16];                                                                   \
	uint64_t rip, rflags;                                                               \
	uint8_t fx[512] __attribute__((aligned(16)));                                       \
	int outcome; /* exception vector, OUT_* */                                          \
	int signo;   /* host signal */                                                      \
	uint64_t err, addr;                                                                 \
	uint64_t fs_base, gs_base;                                                          \
	uint64_t mem_hash; /* of the data and stack areas */
struct regs {
	REGS_FIELDS
};
/* Full architectural state before/after one iteration. */
struct state {
	union {
		struct regs r;
		struct {
			REGS_FIELDS
		};
	};
	uint8_t data[DATA_SIZE];
	uint8_t stack[STACK_SIZE];
};

/* What a child runs: iterations [first, first+n) of form f. Results go to out[]; with full
 * set (n == 1), the whole state including the memory areas goes there too. */
struct run {
	const struct form *f;
	unsigned first, n;
	struct regs *out;
	struct state *full;
	volatile unsigned *progress;
};

/* Data/stack contents come from a pool of interesting 16-byte chunks, built once per seed,
 * at a random 16-byte-aligned offset per iteration (cheaper than generating 24 KiB each time). */
#define POOL_SIZE (128 * 1024)
static uint8_t *pool;

static const char *const gpr_names[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

/* options */
static uint64_t opt_seed = 1;
static unsigned opt_iters = 128;
static long opt_iter = -1;
static int opt_verbose;
static int opt_list;
static int opt_inproc;
static unsigned opt_max_reports = 1;
static const char **opt_filters;
static int nr_filters;
static const char **opt_files;
static int nr_files;
/* INT3 is the harness's end marker; without a handler the guest's #UD on it stands in. */
static bool guest_has_int3;
/* The host lets user code read and write the FS/GS bases (Linux >= 5.9 with FSGSBASE): the
 * snippet then runs with FS_INIT/GS_INIT and the final bases are compared. */
static bool host_fsgsbase;

/* ---------------------------------------------------------------------------------------- */
/* Random inputs */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 0x100000001b3ULL;
	return h;
}

static const uint64_t gpr_edges[] = {
	0, 1, 2, 3, 7, 8, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x100, 0x7fff, 0x8000, 0x8001, 0xffff, 0x10000,
	0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff, 0x100000000ULL,
	0x7fffffffffffffffULL, 0x8000000000000000ULL, 0x8000000000000001ULL,
	0xfffffffffffffffeULL, 0xffffffffffffffffULL, 0x00000000ffffff80ULL, 0xffffffff80000000ULL,
	0xffffffffffff8000ULL, 0xffffffffffffff80ULL, 0x0f0f0f0f0f0f0f0fULL, 0x5555555555555555ULL,
	0xaaaaaaaaaaaaaaaaULL, 0x123456789abcdef0ULL,
};
#define NR(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t gen_int(uint64_t *rng)
{
	uint64_t r = splitmix(rng), v;
	unsigned pick = (unsigned)(r % 100);
	r = splitmix(rng);
	if (pick < 30) {
		v = gpr_edges[r % NR(gpr_edges)];
	} else if (pick < 45) {
		/* an edge value of one width with random upper bits */
		static const uint64_t lo[] = { 0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
					       0x7fffffff, 0x80000000, 0xffffffff };
		static const uint64_t keep[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xffff, 0xffff, 0xffff,
						 0xffffffff, 0xffffffff, 0xffffffff };
		unsigned i = (unsigned)(r % NR(lo));
		v = (splitmix(rng) & ~keep[i]) | lo[i];
	} else if (pick < 57) {
		v = r % 66;
	} else if (pick < 70) {
		static const uint64_t masks[] = { 0xff, 0xffff, 0xffffffff };
		v = r & masks[(r >> 40) % 3];
	} else {
		v = r;
	}
	return v;
}

static const uint32_t float_edges[] = {
	0x00000000, 0x80000000, 0x00000001, 0x807fffff, 0x007fffff, 0x00800000, 0x80800000,
	0x3f800000, 0xbf800000, 0x3fc00000, 0x40490fdb, 0x7f7fffff, 0xff7fffff, 0x7f800000,
	0xff800000, 0x7fc00000, 0xffc00000, 0x7fa00000, 0xff800001, 0x7fffffff, 0x4f000000,
	0xcf000000, 0x5f000000, 0xdf000000, 0x3f000000, 0x3fffffff, 0x4b000001, 0x4effffff,
};
static const uint64_t double_edges[] = {
	0x0000000000000000ULL, 0x8000000000000000ULL, 0x0000000000000001ULL,
	0x800fffffffffffffULL, 0x0010000000000000ULL, 0x3ff0000000000000ULL,
	0xbff0000000000000ULL, 0x3ff8000000000000ULL, 0x400921fb54442d18ULL,
	0x7fefffffffffffffULL, 0xffefffffffffffffULL, 0x7ff0000000000000ULL,
	0xfff0000000000000ULL, 0x7ff8000000000000ULL, 0xfff8000000000000ULL,
	0x7ff4000000000000ULL, 0xfff0000000000001ULL, 0x41e0000000000000ULL,
	0xc1e0000000000000ULL, 0x43e0000000000000ULL, 0xc3e0000000000000ULL,
	0x3fe0000000000000ULL, 0x4330000000000001ULL, 0x41dfffffffc00000ULL,
};

static uint32_t gen_float(uint64_t *rng)
{
	uint64_t r = splitmix(rng);
	if (r % 3 == 0)
		return float_edges[(r >> 8) % NR(float_edges)];
	if (r % 3 == 1) /* a normal value of moderate magnitude */
		return (uint32_t)((r >> 32) & 0x807fffff) | (uint32_t)((0x60 + (r >> 16) % 0x40) << 23);
	return (uint32_t)(r >> 16);
}

static uint64_t gen_double(uint64_t *rng)
{
	uint64_t r = splitmix(rng);
	if (r % 3 == 0)
		return double_edges[(r >> 8) % NR(double_edges)];
	if (r % 3 == 1)
		return (splitmix(rng) & 0x800fffffffffffffULL) |
		       ((uint64_t)(0x3c0 + (r >> 16) % 0x80) << 52);
	return splitmix(rng);
}

static void gen_xmm(uint64_t *rng, uint8_t *x)
{
	uint64_t q[2];
	uint32_t d[4];
	switch (splitmix(rng) % 5) {
	case 0:
		for (int i = 0; i < 4; i++)
			d[i] = gen_float(rng);
		memcpy(x, d, 16);
		break;
	case 1:
		for (int i = 0; i < 2; i++)
			q[i] = gen_double(rng);
		memcpy(x, q, 16);
		break;
	case 2:
		for (int i = 0; i < 2; i++)
			q[i] = gen_int(rng);
		memcpy(x, q, 16);
		break;
	case 3:
		for (int i = 0; i < 4; i++)
			d[i] = (uint32_t)gen_int(rng);
		memcpy(x, d, 16);
		break;
	default:
		for (int i = 0; i < 2; i++)
			q[i] = splitmix(rng);
		memcpy(x, q, 16);
		break;
	}
}

/* An 80-bit extended value (SDM Vol. 1 8.2.2), mixing edge cases. */
static void gen_f80(uint64_t *rng, uint8_t *out)
{
	uint64_t r = splitmix(rng), mant;
	uint16_t sexp, sign = (r >> 63) ? 0x8000 : 0;
	switch (r % 16) {
	case 0: mant = 0; sexp = 0; break;                               /* +-0 */
	case 1: mant = 1ULL << 63; sexp = 0x3fff; break;                 /* +-1 */
	case 2: mant = splitmix(rng) >> 1; sexp = 0; break;              /* denormal */
	case 3: mant = 1ULL << 63; sexp = 0x7fff; break;                 /* +-inf */
	case 4: mant = 3ULL << 62; sexp = 0x7fff; break;                 /* QNaN */
	case 5: mant = (1ULL << 63) | (1ULL << 61); sexp = 0x7fff; break;/* SNaN */
	case 6: mant = ~0ULL; sexp = 0x7ffe; break;                      /* max */
	case 7: mant = 1ULL << 63; sexp = 1; break;                      /* min normal */
	case 8: /* small integer */
		mant = (splitmix(rng) % 1000) + 1;
		sexp = 0x3fff + 63;
		while (!(mant >> 63)) {
			mant <<= 1;
			sexp--;
		}
		break;
	case 9: mant = (1ULL << 63) | (splitmix(rng) >> 1); sexp = (uint16_t)(0x3fff + 62); break;
	case 10: mant = 0xc90fdaa22168c235ULL; sexp = 0x4000; break;    /* pi */
	case 11: mant = (1ULL << 63) | (splitmix(rng) >> 1);
		 sexp = (uint16_t)(0x3fff - 20000 + splitmix(rng) % 40000);
		 break;
	default: /* normal value of moderate magnitude */
		mant = (1ULL << 63) | (splitmix(rng) >> 1);
		sexp = (uint16_t)(0x3fff - 70 + splitmix(rng) % 140);
		break;
	}
	sexp |= sign;
	memcpy(out, &mant, 8);
	memcpy(out + 8, &sexp, 2);
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void gen_state(const struct form *f, unsigned iter, struct state *s)
{
	uint64_t rng = opt_seed ^ f->hash ^ ((uint64_t)iter * 0xd1342543de82ef95ULL);
	splitmix(&rng);
	memset(s, 0, offsetof(struct state, data));
	for (int i = 0; i < 16; i++)
		s->gpr[i] = gen_int(&rng);
	if (splitmix(&rng) % 2)
		s->gpr[R_RCX] = splitmix(&rng) % 66;
	s->gpr[R_RSI] = RSI_INIT;
	s->gpr[R_RDI] = RDI_INIT;
	s->gpr[R_RSP] = RSP_INIT;
	s->rip = CODE_ADDR;
	s->fs_base = FS_INIT;
	s->gs_base = GS_INIT;
	s->rflags = 0x202 | (splitmix(&rng) & FLAGS_ARITH) | (f->df ? FLAG_DF : 0);

	/* x87: FNINIT state, then f->x87 values pushed (TOP decremented per push) */
	uint16_t fcw = 0x037f;
	if (f->fcw >= 0)
		fcw = (uint16_t)f->fcw;
	else if (f->x87 && splitmix(&rng) % 4 == 0)
		fcw = (uint16_t)((fcw & ~0x0c00) | ((splitmix(&rng) & 3) << 10));
	unsigned top = (8u - (unsigned)f->x87) & 7;
	uint8_t ftw = 0;
	put16(s->fx + FX_FCW, fcw);
	put16(s->fx + FX_FSW, (uint16_t)(top << 11));
	for (int i = 0; i < 8; i++) {
		uint8_t *st = s->fx + FX_ST + 16 * i;
		if (i < f->x87) {
			gen_f80(&rng, st);
			ftw |= (uint8_t)(1u << ((top + (unsigned)i) & 7));
		} else { /* empty: MMX garbage */
			uint64_t m = gen_int(&rng);
			uint16_t e = (uint16_t)splitmix(&rng);
			memcpy(st, &m, 8);
			memcpy(st + 8, &e, 2);
		}
	}
	s->fx[FX_FTW] = ftw;

	uint32_t mxcsr = 0x1f80;
	if (f->mxcsr >= 0) {
		mxcsr = (uint32_t)f->mxcsr;
	} else if (splitmix(&rng) % 4 == 0) {
		uint64_t r = splitmix(&rng);
		mxcsr |= (uint32_t)(r & 0x6000);   /* RC */
		mxcsr |= (uint32_t)(r & 0x8000);   /* FTZ */
		mxcsr |= (uint32_t)(r & 0x0040);   /* DAZ */
	}
	put32(s->fx + FX_MXCSR, mxcsr);
	put32(s->fx + FX_MXCSR + 4, 0xffff);
	for (int i = 0; i < 16; i++)
		gen_xmm(&rng, s->fx + FX_XMM + 16 * i);

	memcpy(s->data, pool + (splitmix(&rng) % (POOL_SIZE / 16)) * 16, DATA_SIZE);
	memcpy(s->stack, pool + (splitmix(&rng) % (POOL_SIZE / 16)) * 16, STACK_SIZE);
}

static uint64_t mem_hash(const uint8_t *data, const uint8_t *stack)
{
	uint64_t h = 0x243f6a8885a308d3ULL, w;
	for (size_t i = 0; i < DATA_SIZE; i += 8) {
		memcpy(&w, data + i, 8);
		h = (h ^ w) * 0x100000001b3ULL + i;
	}
	for (size_t i = 0; i < STACK_SIZE; i += 8) {
		memcpy(&w, stack + i, 8);
		h = (h ^ w) * 0x100000001b3ULL + i;
	}
	return h ^ (h >> 29);
}

/* The pool: 16-byte chunks of random bytes, integer edges, floats, doubles, 80-bit values,
 * followed by a copy of its start so that any offset < POOL_SIZE has DATA_SIZE bytes after it. */
static void build_pool(void)
{
	uint64_t rng = opt_seed ^ 0x5851f42d4c957f2dULL;
	pool = malloc(POOL_SIZE + DATA_SIZE);
	if (!pool)
		abort();
	for (unsigned off = 0; off < POOL_SIZE; off += 16) {
		uint8_t *p = pool + off;
		uint64_t q[2];
		switch (splitmix(&rng) % 4) {
		case 0:
			q[0] = gen_int(&rng);
			q[1] = gen_int(&rng);
			memcpy(p, q, 16);
			break;
		case 1:
			gen_xmm(&rng, p);
			break;
		case 2:
			gen_f80(&rng, p);
			q[0] = gen_int(&rng);
			memcpy(p + 10, q, 6);
			break;
		default:
			q[0] = splitmix(&rng);
			q[1] = splitmix(&rng);
			memcpy(p, q, 16);
			break;
		}
	}
	memcpy(pool + POOL_SIZE, pool, DATA_SIZE);
}

static void prepare_code(const struct form *f, uint8_t *page)
{
	size_t len = (size_t)(f->c->end - f->c->start);
	memset(page, 0xcc, CODE_SIZE); /* INT3 after the snippet and wherever a branch lands */
	memcpy(page, f->c->start, len);
}

/* ---------------------------------------------------------------------------------------- */
/* Host side */

/* Register block the trampoline loads; fx must be 16-byte aligned. */
struct host_regs {
	uint64_t gpr[16];
	uint64_t rflags;
	uint64_t pad;
	uint8_t fx[512] __attribute__((aligned(16)));
	uint64_t fs_base, gs_base;
};

__attribute__((visibility("hidden"))) struct host_regs dt_host_regs;
__attribute__((visibility("hidden"))) uint64_t dt_host_entry = CODE_ADDR;
__attribute__((visibility("hidden"))) uint8_t dt_use_fsgsbase;
void dt_host_enter(void);

/* Load the full state and jump to the snippet; never returns (the INT3 or a fault signals). */
__asm__(".text\n"
	".intel_syntax noprefix\n"
	".globl dt_host_enter\n"
	".hidden dt_host_enter\n"
	".type dt_host_enter, @function\n"
	"dt_host_enter:\n"
	"	lea rdi, [rip + dt_host_regs]\n"
	"	fxrstor64 [rdi + 144]\n"
	"	cmp byte ptr [rip + dt_use_fsgsbase], 0\n"
	"	je 1f\n"
	"	mov rax, [rdi + 656]\n"
	"	wrfsbase rax\n"
	"	mov rax, [rdi + 664]\n"
	"	wrgsbase rax\n"
	"1:\n"
	"	push qword ptr [rdi + 128]\n"
	"	popfq\n"
	"	mov rax, [rdi + 0]\n"
	"	mov rcx, [rdi + 8]\n"
	"	mov rdx, [rdi + 16]\n"
	"	mov rbx, [rdi + 24]\n"
	"	mov rbp, [rdi + 40]\n"
	"	mov rsi, [rdi + 48]\n"
	"	mov r8, [rdi + 64]\n"
	"	mov r9, [rdi + 72]\n"
	"	mov r10, [rdi + 80]\n"
	"	mov r11, [rdi + 88]\n"
	"	mov r12, [rdi + 96]\n"
	"	mov r13, [rdi + 104]\n"
	"	mov r14, [rdi + 112]\n"
	"	mov r15, [rdi + 120]\n"
	"	mov rsp, [rdi + 32]\n"
	"	mov rdi, [rdi + 56]\n"
	"	jmp qword ptr [rip + dt_host_entry]\n"
	".size dt_host_enter, .-dt_host_enter\n"
	".att_syntax prefix\n");

_Static_assert(offsetof(struct host_regs, rflags) == 128, "trampoline offsets");
_Static_assert(offsetof(struct host_regs, fx) == 144, "trampoline offsets");
_Static_assert(offsetof(struct host_regs, fs_base) == 656, "trampoline offsets");
_Static_assert(offsetof(struct host_regs, gs_base) == 664, "trampoline offsets");

static sigjmp_buf host_jb;
static struct state host_res; /* the handler's result, in the child's own memory */
static bool host_full;
static uint64_t host_fs_saved, host_gs_saved; /* the child's own bases (TLS) */

static inline uint64_t rdfsbase(void) { uint64_t v; __asm__ volatile("rdfsbase %0" : "=r"(v)); return v; }
static inline uint64_t rdgsbase(void) { uint64_t v; __asm__ volatile("rdgsbase %0" : "=r"(v)); return v; }
static inline void wrfsbase(uint64_t v) { __asm__ volatile("wrfsbase %0" : : "r"(v) : "memory"); }
static inline void wrgsbase(uint64_t v) { __asm__ volatile("wrgsbase %0" : : "r"(v) : "memory"); }

/* No stack protector: its canary is read through FS, which the snippet may have changed. */
__attribute__((no_stack_protector)) static void host_signal(int sig, siginfo_t *si, void *uctx)
{
	ucontext_t *uc = uctx;
	if (dt_use_fsgsbase) { /* first of all: give libc its TLS back */
		host_res.fs_base = rdfsbase();
		host_res.gs_base = rdgsbase();
		wrfsbase(host_fs_saved);
		wrgsbase(host_gs_saved);
	} else {
		host_res.fs_base = FS_INIT;
		host_res.gs_base = GS_INIT;
	}
	greg_t *g = uc->uc_mcontext.gregs;
	struct state *s = &host_res;
	uint64_t rip = (uint64_t)g[REG_RIP];
	static const int map[16] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
				     REG_RSI, REG_RDI, REG_R8, REG_R9, REG_R10, REG_R11,
				     REG_R12, REG_R13, REG_R14, REG_R15 };

	for (int i = 0; i < 16; i++)
		s->gpr[i] = (uint64_t)g[map[i]];
	s->rip = rip;
	s->rflags = (uint64_t)g[REG_EFL];
	if (uc->uc_mcontext.fpregs)
		memcpy(s->fx, uc->uc_mcontext.fpregs, 512);
	s->signo = sig;
	s->outcome = (int)g[REG_TRAPNO];
	s->err = (uint64_t)g[REG_ERR];
	s->addr = (uint64_t)si->si_addr;
	if (rip < CODE_ADDR || rip > CODE_ADDR + CODE_SIZE)
		if (!(sig == SIGSEGV && rip == s->addr)) /* a jump to an unmapped address */
			s->outcome = OUT_HARNESS;
	s->mem_hash = mem_hash((const uint8_t *)DATA_ADDR, (const uint8_t *)STACK_ADDR);
	if (host_full) {
		memcpy(s->data, (void *)DATA_ADDR, DATA_SIZE);
		memcpy(s->stack, (void *)STACK_ADDR, STACK_SIZE);
	}
	siglongjmp(host_jb, 1);
}

static void *map_fixed(uint64_t addr, uint64_t len, int prot)
{
	void *p = mmap((void *)addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		       -1, 0);
	if (p == MAP_FAILED || p != (void *)addr) {
		fprintf(stderr, "difftest: cannot map %#" PRIx64 ": %s\n", addr, strerror(errno));
		_exit(3);
	}
	return p;
}

/* Child: run the iterations on the host CPU. */
static void host_child(const struct run *run)
{
	const struct form *f = run->f;
	static uint8_t altstack[65536] __attribute__((aligned(64)));
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct sigaction sa;
	struct state in;

	alarm(FORM_TIMEOUT_S);
	if (sigaltstack(&ss, NULL)) {
		perror("difftest: sigaltstack");
		_exit(3);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = host_signal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	const int sigs[] = { SIGTRAP, SIGSEGV, SIGBUS, SIGFPE, SIGILL };
	for (size_t i = 0; i < NR(sigs); i++)
		sigaction(sigs[i], &sa, NULL);

	uint8_t *code = map_fixed(CODE_ADDR, CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC);
	uint8_t *data = map_fixed(DATA_ADDR, DATA_SIZE, PROT_READ | PROT_WRITE);
	uint8_t *stack = map_fixed(STACK_ADDR, STACK_SIZE, PROT_READ | PROT_WRITE);
	prepare_code(f, code);

	host_full = run->full != NULL;
	if (host_fsgsbase) {
		host_fs_saved = rdfsbase();
		host_gs_saved = rdgsbase();
		dt_use_fsgsbase = 1;
	}
	for (unsigned k = 0; k < run->n; k++) {
		*run->progress = k;
		gen_state(f, run->first + k, &in);
		memcpy(data, in.data, DATA_SIZE);
		memcpy(stack, in.stack, STACK_SIZE);
		memcpy(dt_host_regs.gpr, in.gpr, sizeof(in.gpr));
		dt_host_regs.rflags = in.rflags;
		dt_host_regs.fs_base = in.fs_base;
		dt_host_regs.gs_base = in.gs_base;
		memcpy(dt_host_regs.fx, in.fx, 512);
		host_res.outcome = OUT_NONE;
		if (sigsetjmp(host_jb, 1) == 0)
			dt_host_enter();
		/* whatever the snippet did to AC/TF/DF must not follow us into libc */
		__asm__ volatile("pushfq\n\tandq $~0x40500, (%%rsp)\n\tpopfq" : : : "memory", "cc");
		if (host_res.outcome == OUT_HARNESS) {
			fprintf(stderr, "difftest: host: signal %d at rip %#" PRIx64
				" outside the snippet\n", host_res.signo, host_res.rip);
			_exit(4);
		}
		run->out[k] = host_res.r;
		if (run->full)
			*run->full = host_res;
	}
	_exit(0);
}

/* ---------------------------------------------------------------------------------------- */
/* Guest side */

static void state_to_vcpu(const struct state *s, struct vcpu *cpu)
{
	memcpy(cpu->gpr, s->gpr, sizeof(s->gpr));
	cpu->rip = s->rip;
	cpu->rflags = s->rflags;
	cpu->fs_base = s->fs_base;
	cpu->gs_base = s->gs_base;
	for (int i = 0; i < 16; i++)
		memcpy(cpu->xmm[i].b, s->fx + FX_XMM + 16 * i, 16);
	cpu->mxcsr = get32(s->fx + FX_MXCSR);
	struct x87_state *x = &cpu->fpu;
	uint16_t fsw = get16(s->fx + FX_FSW);
	x->fcw = get16(s->fx + FX_FCW);
	x->top = (fsw >> 11) & 7;
	x->fsw = fsw & ~0x3800;
	x->ftw = s->fx[FX_FTW];
	x->fop = 0;
	x->fip = x->fdp = 0;
	for (int i = 0; i < 8; i++) { /* image is in stack order: ST(i) = R[(top + i) & 7] */
		union x87_reg *r = &x->st[(x->top + i) & 7];
		memset(r, 0, sizeof(*r));
		memcpy(r->bytes, s->fx + FX_ST + 16 * i, 10);
	}
}

static void vcpu_to_state(const struct vcpu *cpu, struct state *s)
{
	memcpy(s->gpr, cpu->gpr, sizeof(s->gpr));
	s->rip = cpu->rip;
	s->rflags = vcpu_get_rflags(cpu);
	s->fs_base = host_fsgsbase ? cpu->fs_base : FS_INIT;
	s->gs_base = host_fsgsbase ? cpu->gs_base : GS_INIT;
	memset(s->fx, 0, sizeof(s->fx));
	for (int i = 0; i < 16; i++)
		memcpy(s->fx + FX_XMM + 16 * i, cpu->xmm[i].b, 16);
	put32(s->fx + FX_MXCSR, cpu->mxcsr);
	put32(s->fx + FX_MXCSR + 4, 0xffff);
	const struct x87_state *x = &cpu->fpu;
	put16(s->fx + FX_FCW, x->fcw);
	put16(s->fx + FX_FSW, x87_get_fsw(x));
	s->fx[FX_FTW] = x->ftw;
	for (int i = 0; i < 8; i++)
		memcpy(s->fx + FX_ST + 16 * i, x->st[(x->top + i) & 7].bytes, 10);
}

static void guest_die(const char *what, long err)
{
	fprintf(stderr, "difftest: guest setup: %s: %s\n", what, strerror((int)-err));
	_exit(3);
}

/* Run the iterations on the virtual CPU (in a child unless --inproc). */
static void guest_run(const struct run *run)
{
	const struct form *f = run->f;
	struct guest_mem *mem = mem_create(GUEST_LIMIT);
	static struct state in, res;
	int64_t r;

	if (!mem)
		guest_die("mem_create", -errno);
	uint8_t *base = mem_base(mem);
	r = mem_map(mem, CODE_ADDR, CODE_SIZE, GPROT_READ | GPROT_WRITE | GPROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (r < 0)
		guest_die("mem_map code", r);
	r = mem_map(mem, DATA_ADDR, DATA_SIZE, GPROT_READ | GPROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (r < 0)
		guest_die("mem_map data", r);
	r = mem_map(mem, STACK_ADDR, STACK_SIZE, GPROT_READ | GPROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (r < 0)
		guest_die("mem_map stack", r);
	mem_install_fault_handler();
	struct block_cache *cache = block_cache_create(mem);
	if (!cache)
		guest_die("block_cache_create", -ENOMEM);
	static struct vcpu cpu;
	vcpu_init(&cpu, mem, cache);
	mem_set_current_vcpu(&cpu);
	mem_prepare_write(mem, CODE_ADDR, CODE_SIZE);
	prepare_code(f, base + CODE_ADDR);

	for (unsigned k = 0; k < run->n; k++) {
		struct state *s = &res;
		*run->progress = k;
		gen_state(f, run->first + k, &in);
		mem_prepare_write(mem, DATA_ADDR, DATA_SIZE);
		mem_prepare_write(mem, STACK_ADDR, STACK_SIZE);
		memcpy(base + DATA_ADDR, in.data, DATA_SIZE);
		memcpy(base + STACK_ADDR, in.stack, STACK_SIZE);
		state_to_vcpu(&in, &cpu);
		int ex = vcpu_run(&cpu);
		vcpu_to_state(&cpu, s);
		switch (ex) {
		case VCPU_EXIT_EXCEPTION:
			s->outcome = cpu.exc_vector;
			s->err = cpu.exc_error;
			s->addr = cpu.exc_addr;
			if (!guest_has_int3 && s->outcome == EXC_UD && s->rip >= CODE_ADDR &&
			    s->rip < CODE_ADDR + CODE_SIZE && base[s->rip] == 0xcc) {
				s->outcome = EXC_BP;
				s->rip++;
			}
			break;
		case VCPU_EXIT_SYSCALL: s->outcome = OUT_SYSCALL; break;
		case VCPU_EXIT_HLT: s->outcome = OUT_HLT; break;
		default: s->outcome = OUT_OTHER; s->err = (uint64_t)ex; break;
		}
		s->signo = 0;
		s->mem_hash = mem_hash(base + DATA_ADDR, base + STACK_ADDR);
		run->out[k] = s->r;
		if (run->full) {
			memcpy(s->data, base + DATA_ADDR, DATA_SIZE);
			memcpy(s->stack, base + STACK_ADDR, STACK_SIZE);
			*run->full = *s;
		}
	}
	mem_set_current_vcpu(NULL);
	vcpu_destroy(&cpu);
	mem_destroy(mem);
}

/* ---------------------------------------------------------------------------------------- */
/* Running children */

/* Fork @fn into a child, wait for it; returns NULL on success or a description of the failure. */
static const char *run_child(void (*fn)(const struct run *), const struct run *run, bool is_host,
			     char *msg, size_t msglen)
{
	int status;
	*run->progress = 0;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(msg, msglen, "fork: %s", strerror(errno));
		return msg;
	}
	if (pid == 0) {
		if (!is_host)
			alarm(FORM_TIMEOUT_S);
		fn(run);
		fflush(NULL);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			snprintf(msg, msglen, "waitpid: %s", strerror(errno));
			return msg;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return NULL;
	if (WIFSIGNALED(status))
		snprintf(msg, msglen, "%s child %s at iteration %u (signal %d)",
			 is_host ? "host" : "guest",
			 WTERMSIG(status) == SIGALRM ? "timed out" : "crashed", run->first + *run->progress,
			 WTERMSIG(status));
	else
		snprintf(msg, msglen, "%s child exited with status %d at iteration %u",
			 is_host ? "host" : "guest", WEXITSTATUS(status), run->first + *run->progress);
	return msg;
}

/* ---------------------------------------------------------------------------------------- */
/* Comparison and reporting */

static const char *outcome_name(int o, char *buf, size_t len)
{
	static const char *const vec[] = { [EXC_DE] = "#DE", [EXC_DB] = "#DB", [EXC_BP] = "#BP (INT3)",
		[EXC_OF] = "#OF", [EXC_BR] = "#BR", [EXC_UD] = "#UD", [EXC_NM] = "#NM",
		[EXC_DF] = "#DF", [EXC_TS] = "#TS", [EXC_NP] = "#NP", [EXC_SS] = "#SS",
		[EXC_GP] = "#GP", [EXC_PF] = "#PF", [EXC_MF] = "#MF", [EXC_AC] = "#AC",
		[EXC_MC] = "#MC", [EXC_XM] = "#XM" };
	if (o >= 0 && o < (int)NR(vec) && vec[o])
		return vec[o];
	switch (o) {
	case OUT_NONE: return "not run";
	case OUT_SYSCALL: return "SYSCALL exit";
	case OUT_HLT: return "HLT exit";
	case OUT_OTHER: return "unexpected vcpu_run exit";
	case OUT_HARNESS: return "signal outside the snippet";
	}
	snprintf(buf, len, "vector %d", o);
	return buf;
}

/* SIGSEGV covers #GP, #PF and #SS alike: user space cannot tell them apart reliably. */
static int outcome_class(int o)
{
	if (o == EXC_GP || o == EXC_PF || o == EXC_SS)
		return EXC_GP;
	return o;
}

static uint16_t fsw_mask(const struct form *f)
{
	/* compare TOP, C0-C3, ES/SF and exception flags; not B (a copy of ES) */
	return (uint16_t)(0x7fff & ~f->fsw_undef);
}

static uint64_t flags_mask(const struct form *f)
{
	return (FLAGS_ARITH | FLAG_DF) & ~f->undef;
}

static void print_f80(FILE *o, const uint8_t *p)
{
	long double v;
	memset(&v, 0, sizeof(v));
	memcpy(&v, p, 10);
	fprintf(o, "%04x:%016" PRIx64 " (%.21Lg)", get16(p + 8), get64(p), v);
}

static void print_xmm(FILE *o, const uint8_t *p)
{
	fprintf(o, "%016" PRIx64 "_%016" PRIx64, get64(p + 8), get64(p));
}

static void print_flags(FILE *o, uint64_t fl)
{
	static const struct { uint64_t bit; const char *name; } names[] = {
		{ FLAG_CF, "CF" }, { FLAG_PF, "PF" }, { FLAG_AF, "AF" }, { FLAG_ZF, "ZF" },
		{ FLAG_SF, "SF" }, { FLAG_OF, "OF" }, { FLAG_DF, "DF" },
	};
	fprintf(o, "%#06" PRIx64 " [", fl);
	for (size_t i = 0; i < NR(names); i++)
		if (fl & names[i].bit)
			fprintf(o, " %s", names[i].name);
	fprintf(o, " ]");
}

/* Does the form's text mention register @name (not as a prefix of a longer name)? */
static bool mentions(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = text; (p = strcasestr(p, name)); p++) {
		char before = p == text ? ' ' : p[-1], after = p[n];
		if ((before < 'a' || before > 'z') && (after < '0' || after > '9'))
			return true;
	}
	return false;
}

/*
 * Compare host (@h) and guest (@g) results of one iteration; print differences if @report.
 * The memory areas are compared byte by byte if the full states @hm/@gm are given, else by hash.
 */
static bool compare(const struct form *f, const struct state *in, const struct regs *h,
		    const struct regs *g, const struct state *hm, const struct state *gm,
		    bool report)
{
	FILE *o = stdout;
	bool same = true;
	char b1[32], b2[32];

#define DIFF(...)                                     \
	do {                                          \
		same = false;                         \
		if (!report)                          \
			return false;                 \
		fprintf(o, __VA_ARGS__);              \
	} while (0)
#define MISMATCH()                                    \
	do {                                          \
		same = false;                         \
		if (!report)                          \
			return false;                 \
	} while (0)

	if (outcome_class(h->outcome) != outcome_class(g->outcome))
		DIFF("  exception: host %s, guest %s\n", outcome_name(h->outcome, b1, sizeof(b1)),
		     outcome_name(g->outcome, b2, sizeof(b2)));
	if (h->rip != g->rip)
		DIFF("  rip:    host %#" PRIx64 " (+%" PRId64 "), guest %#" PRIx64 " (+%" PRId64 ")\n",
		     h->rip, (int64_t)(h->rip - CODE_ADDR), g->rip, (int64_t)(g->rip - CODE_ADDR));
	for (int i = 0; i < 16; i++)
		if (h->gpr[i] != g->gpr[i])
			DIFF("  %-6s  host 0x%016" PRIx64 ", guest 0x%016" PRIx64 " (input %#" PRIx64 ")\n",
			     gpr_names[i], h->gpr[i], g->gpr[i], in->gpr[i]);
	if (h->fs_base != g->fs_base)
		DIFF("  fs_base: host %#" PRIx64 ", guest %#" PRIx64 " (input %#" PRIx64 ")\n",
		     h->fs_base, g->fs_base, (uint64_t)FS_INIT);
	if (h->gs_base != g->gs_base)
		DIFF("  gs_base: host %#" PRIx64 ", guest %#" PRIx64 " (input %#" PRIx64 ")\n",
		     h->gs_base, g->gs_base, (uint64_t)GS_INIT);
	uint64_t fm = flags_mask(f);
	if ((h->rflags ^ g->rflags) & fm) {
		if (report) {
			fprintf(o, "  rflags: host ");
			print_flags(o, h->rflags & fm);
			fprintf(o, ", guest ");
			print_flags(o, g->rflags & fm);
			fprintf(o, ", differ in ");
			print_flags(o, (h->rflags ^ g->rflags) & fm);
			fprintf(o, "\n");
		}
		MISMATCH();
	}
	for (int i = 0; i < 16; i++)
		if (memcmp(h->fx + FX_XMM + 16 * i, g->fx + FX_XMM + 16 * i, 16)) {
			if (report) {
				fprintf(o, "  xmm%-2d   host ", i);
				print_xmm(o, h->fx + FX_XMM + 16 * i);
				fprintf(o, "\n          guest ");
				print_xmm(o, g->fx + FX_XMM + 16 * i);
				fprintf(o, "\n          input ");
				print_xmm(o, in->fx + FX_XMM + 16 * i);
				fprintf(o, "\n");
			}
			MISMATCH();
		}
	if (get32(h->fx + FX_MXCSR) != get32(g->fx + FX_MXCSR))
		DIFF("  mxcsr:  host %#x, guest %#x (input %#x)\n", get32(h->fx + FX_MXCSR),
		     get32(g->fx + FX_MXCSR), get32(in->fx + FX_MXCSR));
	if (get16(h->fx + FX_FCW) != get16(g->fx + FX_FCW))
		DIFF("  fcw:    host %#x, guest %#x\n", get16(h->fx + FX_FCW), get16(g->fx + FX_FCW));
	uint16_t sm = fsw_mask(f);
	if ((get16(h->fx + FX_FSW) ^ get16(g->fx + FX_FSW)) & sm)
		DIFF("  fsw:    host %#06x, guest %#06x (TOP host %u guest %u; compared bits %#06x)\n",
		     get16(h->fx + FX_FSW) & sm, get16(g->fx + FX_FSW) & sm,
		     (get16(h->fx + FX_FSW) >> 11) & 7, (get16(g->fx + FX_FSW) >> 11) & 7, sm);
	if (h->fx[FX_FTW] != g->fx[FX_FTW])
		DIFF("  ftw:    host %#04x, guest %#04x (abridged, bit i = physical R%s)\n",
		     h->fx[FX_FTW], g->fx[FX_FTW], "i valid");
	for (int i = 0; i < 8; i++)
		if (memcmp(h->fx + FX_ST + 16 * i, g->fx + FX_ST + 16 * i, 10)) {
			if (report) {
				fprintf(o, "  st(%d)   host ", i);
				print_f80(o, h->fx + FX_ST + 16 * i);
				fprintf(o, "\n          guest ");
				print_f80(o, g->fx + FX_ST + 16 * i);
				fprintf(o, "\n");
			}
			MISMATCH();
		}
	if (!hm || !gm) {
		if (h->mem_hash != g->mem_hash)
			DIFF("  data/stack areas differ (hash)\n");
		return same;
	}
	const struct {
		const char *name;
		uint64_t addr;
		const uint8_t *h, *g, *in;
		size_t len;
	} areas[] = {
		{ "data", DATA_ADDR, hm->data, gm->data, in->data, DATA_SIZE },
		{ "stack", STACK_ADDR, hm->stack, gm->stack, in->stack, STACK_SIZE },
	};
	for (size_t a = 0; a < NR(areas); a++) {
		if (!memcmp(areas[a].h, areas[a].g, areas[a].len))
			continue;
		same = false;
		if (!report)
			return false;
		int shown = 0;
		for (size_t off = 0; off < areas[a].len; off += 16) {
			if (!memcmp(areas[a].h + off, areas[a].g + off, 16))
				continue;
			if (shown++ == 8) {
				fprintf(o, "  %s: more differences\n", areas[a].name);
				break;
			}
			const uint8_t *rows[3] = { areas[a].h + off, areas[a].g + off, areas[a].in + off };
			static const char *const who[3] = { "host ", "guest", "input" };
			for (int r = 0; r < 3; r++) {
				uint64_t addr = areas[a].addr + off;
				if (addr < STACK_ADDR)
					fprintf(o, "  %s %#" PRIx64 " (rsi%+" PRId64 ", rdi%+" PRId64 ") %s:",
						areas[a].name, addr, (int64_t)(addr - RSI_INIT),
						(int64_t)(addr - RDI_INIT), who[r]);
				else
					fprintf(o, "  %s %#" PRIx64 " (input rsp%+" PRId64 ") %s:",
						areas[a].name, addr, (int64_t)(addr - RSP_INIT), who[r]);
				for (int j = 0; j < 16; j++)
					fprintf(o, " %02x", rows[r][j]);
				fprintf(o, "\n");
			}
		}
	}
#undef DIFF
#undef MISMATCH
	return same;
}

static void print_inputs(const struct form *f, const struct state *in)
{
	FILE *o = stdout;
	fprintf(o, "  inputs:\n");
	for (int i = 0; i < 16; i += 4)
		fprintf(o, "    %-3s %016" PRIx64 "  %-3s %016" PRIx64 "  %-3s %016" PRIx64
			"  %-3s %016" PRIx64 "\n",
			gpr_names[i], in->gpr[i], gpr_names[i + 1], in->gpr[i + 1], gpr_names[i + 2],
			in->gpr[i + 2], gpr_names[i + 3], in->gpr[i + 3]);
	fprintf(o, "    rflags ");
	print_flags(o, in->rflags);
	fprintf(o, "  mxcsr %#x  fcw %#x  fsw %#x  ftw %#x\n", get32(in->fx + FX_MXCSR),
		get16(in->fx + FX_FCW), get16(in->fx + FX_FSW), in->fx[FX_FTW]);
	for (int i = 0; i < 16; i++) {
		char name[16];
		snprintf(name, sizeof(name), "xmm%d", i);
		if (!mentions(f->c->text, name))
			continue;
		fprintf(o, "    %-5s ", name);
		print_xmm(o, in->fx + FX_XMM + 16 * i);
		fprintf(o, "\n");
	}
	for (int i = 0; i < 8; i++) {
		char name[16];
		snprintf(name, sizeof(name), "mm%d", i);
		if (i < f->x87 || mentions(f->c->text, name)) {
			fprintf(o, "    st(%d)/mm%d ", i, (i + ((get16(in->fx + FX_FSW) >> 11) & 7)) & 7);
			print_f80(o, in->fx + FX_ST + 16 * i);
			fprintf(o, "\n");
		}
	}
	/* memory operands: show the 32 bytes at [rsi+N]/[rdi+N] */
	const char *p = f->c->text;
	while ((p = strpbrk(p, "["))) {
		unsigned long off = 0;
		uint64_t ea;
		if (!strncasecmp(p + 1, "rsi", 3))
			ea = RSI_INIT;
		else if (!strncasecmp(p + 1, "rdi", 3))
			ea = RDI_INIT;
		else {
			p++;
			continue;
		}
		if (p[4] == '+')
			off = strtoul(p + 5, NULL, 0);
		ea += off;
		if (ea >= DATA_ADDR && ea + 32 <= DATA_ADDR + DATA_SIZE) {
			fprintf(o, "    [%.3s%+ld]:", p + 1, (long)off);
			for (int j = 0; j < 32; j++)
				fprintf(o, " %02x", in->data[ea - DATA_ADDR + j]);
			fprintf(o, "\n");
		}
		p++;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Forms */

static void parse_opts(struct form *f)
{
	char buf[256], *save = NULL;
	f->mxcsr = f->fcw = -1;
	snprintf(buf, sizeof(buf), "%s", f->c->opts);
	for (char *t = strtok_r(buf, " \t;", &save); t; t = strtok_r(NULL, " \t;", &save)) {
		char *v = strchr(t, '=');
		if (!v) {
			snprintf(f->err, sizeof(f->err), "option `%s' needs a value", t);
			return;
		}
		*v++ = 0;
		if (!strcmp(t, "undef")) {
			char *s2 = NULL;
			for (char *fl = strtok_r(v, ",", &s2); fl; fl = strtok_r(NULL, ",", &s2)) {
				static const struct { const char *n; uint64_t fl; uint16_t fsw; } m[] = {
					{ "CF", FLAG_CF, 0 }, { "PF", FLAG_PF, 0 }, { "AF", FLAG_AF, 0 },
					{ "ZF", FLAG_ZF, 0 }, { "SF", FLAG_SF, 0 }, { "OF", FLAG_OF, 0 },
					{ "C0", 0, 0x0100 }, { "C1", 0, 0x0200 }, { "C2", 0, 0x0400 },
					{ "C3", 0, 0x4000 },
				};
				size_t i;
				for (i = 0; i < NR(m); i++)
					if (!strcasecmp(fl, m[i].n))
						break;
				if (i == NR(m)) {
					snprintf(f->err, sizeof(f->err), "undef: unknown flag `%s'", fl);
					return;
				}
				f->undef |= m[i].fl;
				f->fsw_undef |= m[i].fsw;
			}
		} else if (!strcmp(t, "x87")) {
			f->x87 = atoi(v);
		} else if (!strcmp(t, "df")) {
			f->df = atoi(v);
		} else if (!strcmp(t, "mxcsr")) {
			f->mxcsr = strtol(v, NULL, 0);
		} else if (!strcmp(t, "fcw")) {
			f->fcw = strtol(v, NULL, 0);
		} else {
			snprintf(f->err, sizeof(f->err), "unknown option `%s'", t);
			return;
		}
	}
	if (f->x87 < 0 || f->x87 > 8)
		snprintf(f->err, sizeof(f->err), "x87=N needs 0 <= N <= 8");
}

static bool selected(const struct form *f)
{
	if (nr_files) {
		bool ok = false;
		for (int i = 0; i < nr_files && !ok; i++)
			ok = !strcmp(f->file, opt_files[i]);
		if (!ok)
			return false;
	}
	if (nr_filters) {
		char at[300], at_txt[300]; /* "alu:12" and "alu.txt:12" select one line */
		snprintf(at, sizeof(at), "%s:%u", f->file, f->c->line);
		snprintf(at_txt, sizeof(at_txt), "%s.txt:%u", f->file, f->c->line);
		for (int i = 0; i < nr_filters; i++)
			if (strcasestr(f->c->text, opt_filters[i]) || !strcmp(opt_filters[i], at) ||
			    !strcmp(opt_filters[i], at_txt))
				return true;
		return false;
	}
	return true;
}

static const char *case_basename(const char *path, char *buf, size_t len)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	snprintf(buf, len, "%s", b);
	char *dot = strrchr(buf, '.');
	if (dot && !strcmp(dot, ".txt"))
		*dot = 0;
	return buf;
}

/* Shared with the children. */
struct shared {
	volatile unsigned progress;
	struct state hfull, gfull;
	struct regs h1, g1;
	struct regs *hres, *gres; /* [iterations] each, also in the shared mapping */
};

/* Run the host side, then the guest side; NULL or the description of a harness failure. */
static const char *run_both(const struct run *hr, const struct run *gr, char *msg, size_t len)
{
	const char *err = run_child(host_child, hr, true, msg, len);
	if (err)
		return err;
	if (opt_inproc) {
		guest_run(gr);
		return NULL;
	}
	return run_child(guest_run, gr, false, msg, len);
}

/* Run one form; returns true if all iterations matched. */
static bool run_form(struct form *f, struct shared *sh)
{
	unsigned first = opt_iter >= 0 ? (unsigned)opt_iter : 0;
	unsigned n = opt_iter >= 0 ? 1 : opt_iters;
	char msg[256], where[512], dis[128];
	const char *err;
	size_t len = (size_t)(f->c->end - f->c->start);

	snprintf(where, sizeof(where), "%s:%u: %s", f->c->file, f->c->line, f->c->text);
	if (f->err[0]) {
		printf("FAIL %s\n  bad options: %s\n", where, f->err);
		return false;
	}
	if (len == 0 || len > CODE_SIZE / 2) {
		printf("FAIL %s\n  assembled to %zu bytes\n", where, len);
		return false;
	}
	for (size_t off = 0; off < len;) { /* the host side must not make system calls */
		struct insn di;
		if (cpu_decode_one(f->c->start + off, len - off, CODE_ADDR + off, &di) < 0)
			break;
		if (di.mnemonic == ZYDIS_MNEMONIC_SYSCALL || di.mnemonic == ZYDIS_MNEMONIC_SYSENTER ||
		    (di.mnemonic == ZYDIS_MNEMONIC_INT && (di.op[0].disp & 0xff) == 0x80)) {
			printf("FAIL %s\n  system calls cannot be tested here\n", where);
			return false;
		}
		off += di.len;
	}
	struct run hr = { f, first, n, sh->hres, NULL, &sh->progress };
	struct run gr = { f, first, n, sh->gres, NULL, &sh->progress };
	if ((err = run_both(&hr, &gr, msg, sizeof(msg)))) {
		printf("FAIL %s\n  harness error: %s (seed %#" PRIx64 "; rerun with --seed %#" PRIx64
		       " --filter '%s' --iter %u%s)\n",
		       where, err, opt_seed, opt_seed, f->c->text, first + sh->progress,
		       strncmp(err, "guest", 5) ? "" : " --inproc under gdb");
		return false;
	}
	unsigned bad = 0, reported = 0;
	for (unsigned k = 0; k < n; k++) {
		if (compare(f, NULL, &sh->hres[k], &sh->gres[k], NULL, NULL, false))
			continue;
		if (bad++ == 0) {
			printf("FAIL %s\n  bytes:", where);
			for (size_t j = 0; j < len; j++)
				printf(" %02x", f->c->start[j]);
			printf("  (decoded:");
			for (size_t off = 0; off < len;) {
				struct insn di;
				cpu_disasm(f->c->start + off, len - off, CODE_ADDR + off, dis, sizeof(dis));
				printf("%s %s", off ? ";" : "", dis);
				if (cpu_decode_one(f->c->start + off, len - off, CODE_ADDR + off, &di) < 0)
					break;
				off += di.len;
			}
			printf(")\n");
		}
		if (reported < opt_max_reports) {
			static struct state in;
			reported++;
			gen_state(f, first + k, &in);
			printf("  iteration %u (reproduce: --seed %#" PRIx64 " --filter '%s' --iter %u)\n",
			       first + k, opt_seed, f->c->text, first + k);
			print_inputs(f, &in);
			/* run the iteration again keeping the memory areas */
			struct run h1 = { f, first + k, 1, &sh->h1, &sh->hfull, &sh->progress };
			struct run g1 = { f, first + k, 1, &sh->g1, &sh->gfull, &sh->progress };
			if ((err = run_both(&h1, &g1, msg, sizeof(msg)))) {
				printf("  harness error re-running it: %s\n", err);
				continue;
			}
			printf("  differences (host = real CPU, guest = Omnivisor):\n");
			compare(f, &in, &sh->hfull.r, &sh->gfull.r, &sh->hfull, &sh->gfull, true);
		}
	}
	if (bad) {
		printf("  %u of %u iterations differ\n", bad, n);
		return false;
	}
	if (opt_verbose)
		printf("ok   %s\n", where);
	return true;
}

static void cleanup(struct form *forms, size_t nr, uint8_t *pool_mem)
{
	for (size_t i = 0; i < nr; i++)
		free((char *)forms[i].file);
	free(forms);
	free(pool_mem);
	for (int i = 0; i < nr_files; i++)
		free((char *)opt_files[i]);
	free(opt_files);
	free(opt_filters);
}

static void usage(FILE *o)
{
	fprintf(o,
		"usage: difftest [options]\n"
		"  -f, --file NAME      only forms of tests/cpu/cases/NAME.txt (repeatable)\n"
		"  -k, --filter TEXT    only forms whose text contains TEXT (case-insensitive, repeatable),\n"
		"                       or the form at NAME:LINE (e.g. alu:12)\n"
		"  -n, --iters N        iterations per form (default %u)\n"
		"  -s, --seed S         random seed (default 1; 'time' for a fresh one)\n"
		"  -i, --iter I         run only iteration I (with the same seed)\n"
		"  -r, --reports N      detailed reports per failing form (default 1)\n"
		"  -l, --list           list the selected forms and exit\n"
		"  -v, --verbose        print passing forms too\n"
		"      --inproc         run the virtual CPU in this process (for gdb)\n",
		opt_iters);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "file", required_argument, NULL, 'f' }, { "filter", required_argument, NULL, 'k' },
		{ "iters", required_argument, NULL, 'n' }, { "seed", required_argument, NULL, 's' },
		{ "iter", required_argument, NULL, 'i' }, { "reports", required_argument, NULL, 'r' },
		{ "list", no_argument, NULL, 'l' }, { "verbose", no_argument, NULL, 'v' },
		{ "inproc", no_argument, NULL, 'I' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opt_filters = calloc((size_t)argc, sizeof(*opt_filters));
	opt_files = calloc((size_t)argc, sizeof(*opt_files));
	while ((c = getopt_long(argc, argv, "f:k:n:s:i:r:lvh", lopts, NULL)) != -1) {
		switch (c) {
		case 'f': {
			char *b = strdup(optarg);
			opt_files[nr_files++] = case_basename(optarg, b, strlen(b) + 1);
			break;
		}
		case 'k': opt_filters[nr_filters++] = optarg; break;
		case 'n': opt_iters = (unsigned)strtoul(optarg, NULL, 0); break;
		case 's':
			if (!strcmp(optarg, "time"))
				opt_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
			else
				opt_seed = strtoull(optarg, NULL, 0);
			break;
		case 'i': opt_iter = strtol(optarg, NULL, 0); break;
		case 'r': opt_max_reports = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'l': opt_list = 1; break;
		case 'v': opt_verbose = 1; break;
		case 'I': opt_inproc = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || opt_iters == 0) {
		usage(stderr);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	size_t nr_cases = 0;
	if (__start_difftest_cases && __stop_difftest_cases)
		nr_cases = (size_t)(__stop_difftest_cases - __start_difftest_cases);
	struct form *forms = calloc(nr_cases ? nr_cases : 1, sizeof(*forms));
	size_t nr_forms = 0;
	for (size_t i = 0; i < nr_cases; i++) {
		struct form *f = &forms[nr_forms];
		char b[256];
		free((char *)f->file); /* a slot left by an unselected form */
		memset(f, 0, sizeof(*f));
		f->c = &__start_difftest_cases[i];
		f->file = strdup(case_basename(f->c->file, b, sizeof(b)));
		f->hash = fnv1a(f->c->text);
		parse_opts(f);
		if (selected(f))
			nr_forms++;
	}
	if (opt_list) {
		for (size_t i = 0; i < nr_forms; i++)
			printf("%s:%u: %s%s%s\n", forms[i].c->file, forms[i].c->line, forms[i].c->text,
			       forms[i].c->opts[0] ? "  ; " : "", forms[i].c->opts);
		cleanup(forms, nr_cases, NULL);
		return 0;
	}

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif
	host_fsgsbase = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
	if (!host_fsgsbase)
		printf("difftest: note: no FSGSBASE on this host: FS/GS bases are not tested\n");
	static const struct insn_entry *const tables[] = {
		alu_insns, shift_insns, muldiv_insns, bitops_insns, string_insns, control_insns,
		datamov_insns, system_insns, x87_insns, sse_insns, sse4_insns, mmx_insns,
	};
	for (size_t t = 0; t < NR(tables); t++)
		for (const struct insn_entry *e = tables[t]; e->fn; e++)
			if (e->mnemonic == ZYDIS_MNEMONIC_INT3)
				guest_has_int3 = true;
	if (!guest_has_int3)
		printf("difftest: note: the virtual CPU has no INT3 handler yet; its #UD on the "
		       "INT3 after each snippet counts as reaching it\n");

	unsigned n = opt_iter >= 0 ? 1 : opt_iters;
	size_t shm_len = sizeof(struct shared) + 2 * (size_t)n * sizeof(struct regs);
	uint8_t *shm = mmap(NULL, shm_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED) {
		perror("difftest: mmap");
		return 2;
	}
	struct shared *sh = (struct shared *)shm;
	sh->hres = (struct regs *)(shm + sizeof(struct shared));
	sh->gres = sh->hres + n;
	build_pool();

	printf("difftest: %zu forms, %u iteration%s each, seed %#" PRIx64 "\n", nr_forms, n,
	       n == 1 ? "" : "s", opt_seed);
	unsigned passed = 0, failed = 0;
	for (size_t i = 0; i < nr_forms; i++) {
		if (run_form(&forms[i], sh))
			passed++;
		else
			failed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	cleanup(forms, nr_cases, pool);
	munmap(shm, shm_len);
	return failed ? 1 : 0;
}
