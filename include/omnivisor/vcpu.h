/* SPDX-License-Identifier: MIT */
/*
 * The virtual x86-64 CPU: architectural register state and the run loop.
 *
 * One struct vcpu per guest thread of execution; each is owned and run by exactly one host thread.
 * Other threads may only call vcpu_kick(). Register layout follows Intel SDM Vol. 1 ch. 3
 * (general-purpose registers, RFLAGS), ch. 8 (x87), ch. 10-12 (MMX/SSE).
 */
#ifndef OMNIVISOR_VCPU_H
#define OMNIVISOR_VCPU_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

struct guest_mem;
struct block_cache;
struct vcpu_sys;
struct tlb;

enum gpr {
	R_RAX, R_RCX, R_RDX, R_RBX, R_RSP, R_RBP, R_RSI, R_RDI,
	R_R8, R_R9, R_R10, R_R11, R_R12, R_R13, R_R14, R_R15,
};

/* RFLAGS bits, Intel SDM Vol. 1 3.4.3 */
#define FLAG_CF (1u << 0)
#define FLAG_PF (1u << 2)
#define FLAG_AF (1u << 4)
#define FLAG_ZF (1u << 6)
#define FLAG_SF (1u << 7)
#define FLAG_TF (1u << 8)
#define FLAG_IF (1u << 9)
#define FLAG_DF (1u << 10)
#define FLAG_OF (1u << 11)
#define FLAG_AC (1u << 18)
#define FLAG_ID (1u << 21)
#define FLAGS_ARITH (FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF)

/* Exception vectors, Intel SDM Vol. 3A 6.3.1 */
enum {
	EXC_DE = 0, EXC_DB = 1, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5, EXC_UD = 6, EXC_NM = 7,
	EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12, EXC_GP = 13, EXC_PF = 14,
	EXC_MF = 16, EXC_AC = 17, EXC_MC = 18, EXC_XM = 19,
	/* not an x86 vector: access to a file mapping past its end (Linux: SIGBUS BUS_ADRERR) */
	EXC_HOST_SIGBUS = 256,
};

/* #PF error code bits, Intel SDM Vol. 3A 4.7 */
#define PFEC_P (1u << 0)
#define PFEC_W (1u << 1)
#define PFEC_U (1u << 2)
#define PFEC_I (1u << 4)

union xmm_reg {
	uint8_t b[16];
	int8_t sb[16];
	uint16_t w[8];
	int16_t sw[8];
	uint32_t d[4];
	int32_t sd[4];
	uint64_t q[2];
	int64_t sq[2];
	float f[4];
	double df[2];
} __attribute__((aligned(16)));

/* One x87 data register: an 80-bit extended value; as MMX register, mant is MMn. SDM Vol. 1 9.2 */
union x87_reg {
	long double f;
	struct {
		uint64_t mant;
		uint16_t sexp;
	} m;
	uint8_t bytes[16];
};

struct x87_state {
	union x87_reg st[8]; /* physical registers R0..R7; ST(i) is st[(top + i) & 7] */
	uint16_t fcw;        /* control word, SDM Vol. 1 8.1.5 */
	uint16_t fsw;        /* status word without TOP (bits 11-13 kept in top) */
	uint8_t top;
	uint8_t ftw;         /* abridged tag: bit i set = R_i valid (FXSAVE format) */
	uint16_t fop;
	uint64_t fip, fdp;
};

/* Why vcpu_run() returned. */
enum vcpu_exit {
	VCPU_EXIT_SYSCALL = 1, /* SYSCALL executed; RIP is past it (user mode) */
	VCPU_EXIT_EXCEPTION,   /* exc_vector/exc_error/exc_addr set; RIP = faulting instruction */
	VCPU_EXIT_KICK,        /* vcpu_kick() or an asynchronous event; RIP at an instruction boundary */
	VCPU_EXIT_HLT,         /* system mode: HLT executed at CPL 0; RIP is past it */
	VCPU_EXIT_SHUTDOWN,    /* system mode: triple fault (SDM Vol. 3A 6.15 "Interrupt 8") */
	VCPU_EXIT_RESET,       /* system mode: a device asked for a reset (vcpu_request_exit) */
	VCPU_EXIT_POWEROFF,    /* system mode: a device powered the machine off */
};

struct vcpu {
	uint64_t gpr[16];
	uint64_t rip;
	uint64_t rflags;
	uint64_t fs_base, gs_base;
	union xmm_reg xmm[16];
	uint32_t mxcsr;
	struct x87_state fpu;

	/* execution machinery, not architectural */
	uint8_t *mem_base;             /* HVA of GVA 0 (user mode: linear guest window) */
	uint64_t mem_limit;            /* first GVA past the window */
	struct guest_mem *mem;
	struct block_cache *cache;
	const struct insn *cur;        /* instruction being executed */
	uint64_t blk_gva;              /* GVA of the block cur belongs to (RIP = blk_gva + end_off) */
	volatile int exit_request;     /* nonzero: leave the block loop at the next boundary */
	int exc_vector;
	uint32_t exc_error;
	uint64_t exc_addr;             /* CR2-like: faulting GVA for #PF, 0 otherwise */
	bool in_run;
	int cache_locked;              /* decoder holds the block-cache lock (unwind must drop it) */
	int exit_reason;               /* set by cpu_exit_after() */
	struct block **jcache;         /* per-vCPU direct-mapped cache: GVA -> block */
	volatile uint64_t seen_epoch;  /* decode-cache epoch this vCPU last synchronised with */
	volatile int active;           /* inside the dispatch loop (may hold block pointers) */
	struct vcpu *cache_next;       /* the block cache's list of its vCPUs */
	jmp_buf unwind;                /* exceptions longjmp here; see docs/architecture.md */
	uint64_t nr_blocks;            /* block dispatches from the loop (chained ones not counted) */
	unsigned chain_budget;         /* see exec.c CHAIN_BUDGET */
	void *opaque;                  /* owner's context (user-mode thread) */

	/* System mode (full virtualization): NULL for `omnivisor exec`. When set, every guest
	 * access goes through the soft MMU (tlb) and mem_base/mem_limit are 0. See vcpu_sys.h. */
	struct vcpu_sys *sys;
	struct tlb *tlb;               /* &sys->tlb, or NULL in user mode */
	uint8_t mmu_idx;               /* MMU_IDX_SUPER (CPL 0-2) or MMU_IDX_USER (CPL 3) */
	uint32_t block_key;            /* what decoded blocks depend on besides their address:
					  0 in user mode; system mode: see sysmem.c sys_block_key */
};

/*
 * vcpu_init - reset @cpu to the state a Linux user process starts with (SDM Vol. 1 8.1.5/10.2.3
 * defaults: FCW 0x37F, MXCSR 0x1F80, RFLAGS 0x202) and attach it to @mem and @cache.
 * Not thread-safe for the same @cpu.
 */
void vcpu_init(struct vcpu *cpu, struct guest_mem *mem, struct block_cache *cache);

/*
 * block_cache_create - the decode cache shared by all vCPUs of one address space @mem
 * (registers itself as @mem's code invalidator). NULL on allocation failure.
 */
struct block_cache *block_cache_create(struct guest_mem *mem);
/* block_cache_fork_child - re-initialise locks in the child after fork(2); only @self (the
 * forking thread's vCPU) still exists there. */
void block_cache_fork_child(struct block_cache *bc, struct vcpu *self);
/* block_cache_destroy - free the cache and every block; no vCPU may use it any more. */
void block_cache_destroy(struct block_cache *bc);

/* vcpu_destroy - free what vcpu_init allocated (not @cpu itself) and leave the block cache. */
void vcpu_destroy(struct vcpu *cpu);

/*
 * vcpu_run - execute guest instructions from cpu->rip until an exit (enum vcpu_exit).
 * Must be called on the vCPU's own thread. Returns the exit reason (> 0).
 */
int vcpu_run(struct vcpu *cpu);

/* vcpu_kick - make a running vcpu_run() return VCPU_EXIT_KICK soon. Async-signal-safe. */
static inline void vcpu_kick(struct vcpu *cpu)
{
	__atomic_store_n(&cpu->exit_request, 1, __ATOMIC_RELEASE);
}

/* Full RFLAGS value as the guest sees it (bit 1 always set). */
static inline uint64_t vcpu_get_rflags(const struct vcpu *cpu)
{
	return cpu->rflags | 2;
}

/* FSW with TOP merged in (SDM Vol. 1 8.1.3). */
static inline uint16_t x87_get_fsw(const struct x87_state *f)
{
	return (uint16_t)((f->fsw & ~0x3800u) | ((f->top & 7u) << 11));
}

#endif
