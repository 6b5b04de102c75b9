/* SPDX-License-Identifier: MIT */
/*
 * The vCPU loop: look up the decoded block for RIP, run its instructions through their handlers,
 * and unwind with longjmp when an instruction raises an exception (see docs/architecture.md).
 */
#include <stdlib.h>

#include "cpu.h"
#include "omnivisor/log.h"
#include "omnivisor/memory.h"
#include "sys.h"

/* Blocks a chain of specialised branch handlers may enter before returning to the loop (bounds
 * the host stack where the compiler does not turn the chaining calls into jumps, e.g. -O0). */
#define CHAIN_BUDGET 64

void vcpu_init(struct vcpu *cpu, struct guest_mem *mem, struct block_cache *cache)
{
	memset(cpu, 0, sizeof(*cpu));
	cpu->rflags = 0x202;
	cpu->mxcsr = 0x1f80;
	cpu->fpu.fcw = 0x37f;
	cpu->mem = mem;
	cpu->cache = cache;
	if (mem) {
		cpu->mem_base = mem_base(mem);
		cpu->mem_limit = mem_limit(mem);
	}
	cpu->jcache = calloc(JCACHE_SIZE, sizeof(*cpu->jcache));
	if (!cpu->jcache)
		abort();
	if (cache)
		block_cache_attach(cache, cpu);
}

void vcpu_destroy(struct vcpu *cpu)
{
	if (cpu->cache)
		block_cache_detach(cpu->cache, cpu);
	free(cpu->jcache);
	cpu->jcache = NULL;
}

void cpu_raise(struct vcpu *cpu, int vector, uint32_t error, uint64_t addr)
{
	cpu->exc_vector = vector;
	cpu->exc_error = error;
	cpu->exc_addr = addr;
	/* Faults report the instruction's own address; INT3/INTO are traps (SDM Vol. 3A 6.5). */
	if (cpu->cur && vector != EXC_BP && vector != EXC_OF)
		cpu->rip -= cpu->cur->len;
	longjmp(cpu->unwind, VCPU_EXIT_EXCEPTION);
}

/*
 * Is the non-canonical @gva a stack reference of the current instruction? Those raise #SS(0),
 * other memory references #GP(0) (SDM Vol. 3A 6.15, "Interrupt 12" and "Interrupt 13": a
 * non-canonical address in a reference using RSP or RBP as base, or an implicit stack access).
 */
static bool stack_reference(const struct vcpu *cpu, uint64_t gva)
{
	const struct insn *in = cpu->cur;
	if (!in)
		return false;
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_PUSH: case ZYDIS_MNEMONIC_POP: case ZYDIS_MNEMONIC_PUSHFQ:
	case ZYDIS_MNEMONIC_POPFQ: case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_POPF:
	case ZYDIS_MNEMONIC_CALL: case ZYDIS_MNEMONIC_RET: case ZYDIS_MNEMONIC_ENTER:
	case ZYDIS_MNEMONIC_LEAVE:
		/* the implicit stack access is at RSP (ENTER/LEAVE: RBP) give or take a frame */
		if (gva - cpu->gpr[R_RSP] + 64 < 128 || gva - cpu->gpr[R_RBP] + 64 < 128)
			return true;
		break;
	default:
		break;
	}
	for (unsigned i = 0; i < in->nops; i++)
		if (in->op[i].kind == OPK_MEM &&
		    (in->op[i].base == R_RSP || in->op[i].base == R_RBP))
			return true;
	return false;
}

void cpu_bad_address(struct vcpu *cpu, uint64_t gva, int write)
{
	if (!is_canonical(gva))
		cpu_raise(cpu, stack_reference(cpu, gva) ? EXC_SS : EXC_GP, 0, 0);
	cpu_raise(cpu, EXC_PF, PFEC_U | (write ? PFEC_W : 0), gva);
}

void cpu_exit_after(struct vcpu *cpu, int reason)
{
	cpu->exit_reason = reason;
	__atomic_or_fetch(&cpu->exit_request, 2, __ATOMIC_RELAXED);
}

/* --trace cpu: each block as it is dispatched, disassembled (chaining is off while tracing). */
static void trace_block(struct vcpu *cpu, const struct block *b)
{
	uint64_t pc = b->gva;
	for (uint32_t i = 0; i < b->nr; i++) {
		char text[128];
		cpu_disasm(cpu->mem_base + pc, b->insns[i].len, pc, text, sizeof(text));
		pr_trace("cpu: %#llx: %s", (unsigned long long)pc, text);
		pc += b->insns[i].len;
	}
}

/*
 * The dispatch loop, outside vcpu_run so that setjmp does not force @cpu into memory.
 * Specialised handlers (fastpath.c) chain to the next instruction themselves; the loop resumes
 * after whatever instruction cpu->cur names when a handler returns.
 */
static __attribute__((noinline)) int run_loop(struct vcpu *cpu)
{
	for (;;) {
		const struct insn *in;
		struct block *b, **slot;

		if (unlikely(cpu->exit_request)) {
			int req = __atomic_exchange_n(&cpu->exit_request, 0, __ATOMIC_ACQUIRE);
			if (cpu->exit_reason) {
				int r = cpu->exit_reason;
				cpu->exit_reason = 0;
				return r;
			}
			if (block_cache_epoch_changed(cpu))
				vcpu_sync_epoch_slow(cpu); /* blocks were retired: forget them */
			if (req & 1)
				return VCPU_EXIT_KICK;
		}
		if (cpu->sys) {
			int r = sys_loop_top(cpu);
			if (r)
				return r;
		}
		slot = &cpu->jcache[jcache_index(cpu->rip)];
		b = *slot;
		if (unlikely(!b || b->gva != cpu->rip || !b->valid || b->key != cpu->block_key ||
			     (b->shared_copy && block_stale(cpu, b)))) {
			cpu->cur = NULL;
			b = block_lookup(cpu, cpu->rip);
			*slot = b;
		}
		cpu->nr_blocks++;
		cpu->blk_gva = b->gva;
		/* one-instruction blocks (interrupt shadow, single-step) must come back here */
		cpu->chain_budget = (cpu->block_key & BKEY_STEP) ? 0 : CHAIN_BUDGET;
		if (trace_on(TRACE_CPU)) {
			trace_block(cpu, b);
			cpu->chain_budget = 0;
		}
		in = b->insns;
		for (;;) {
			cpu->cur = in;
			cpu->rip = cpu->blk_gva + in->end_off;
			in->fn(cpu, in);
			in = cpu->cur;
			if ((in->flags & INSN_LAST) || unlikely(cpu->exit_request))
				break;
			in++;
		}
	}
}

int vcpu_run(struct vcpu *cpu)
{
	int r;

	mem_set_current_vcpu(cpu);
	cpu->cur = NULL;
	r = setjmp(cpu->unwind);
	if (r) {
		cpu->active = 0;
		cpu->in_run = false;
		block_cache_unlock_after_fault(cpu);
		cpu->cur = NULL;
		return r;
	}
	cpu->in_run = true;
	cpu->active = 1;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (block_cache_epoch_changed(cpu))
		vcpu_sync_epoch_slow(cpu);
	r = run_loop(cpu);
	cpu->active = 0;
	cpu->in_run = false;
	cpu->cur = NULL;
	return r;
}
