/* SPDX-License-Identifier: MIT */
/*
 * Internal interface of the system-mode virtual CPU, shared by:
 *   sysmem.c     (lead)   soft-MMU memory path, linear/physical access helpers, mode, run loop glue
 *   exception.c  (helper) event delivery through the IDT, IRET, #DF / triple-fault rules
 *   seg.c        (helper) descriptor tables, segment loads, far transfers, SYSCALL/SYSRET, SWAPGS
 *   sysctl.c     (helper) MOV CR/DR, CLTS, LMSW/SMSW, INVLPG, HLT, CLI/STI, POPF/PUSHF, WBINVD
 *   msr.c        (helper) RDMSR/WRMSR, RDTSC/RDTSCP, CPUID in system mode
 *   io.c         (helper) IN/OUT/INS/OUTS through the bus, I/O permission (IOPL, TSS bitmap)
 *
 * System-mode instruction handlers are registered in the tables below; in system mode the
 * decoder looks a mnemonic up in them first and falls back to the user-mode class tables, so a
 * system-mode handler overrides the user-mode one (e.g. SYSCALL, HLT, IRETQ, POPF).
 * A handler runs with cpu->rip past the instruction; it must raise exceptions before changing
 * any state. Privileged instructions check cpu->sys->cpl themselves (#GP(0) if CPL > 0).
 * An instruction that changes how following code must be decoded or run (CR0/CR4/EFER writes,
 * CS loads, CPL changes, IF being set, MOV SS) must end the block: the decoder ends blocks at every
 * instruction in the system tables (INSN_END), so handlers need do nothing for that.
 */
#ifndef OMNIVISOR_CPU_SYS_H
#define OMNIVISOR_CPU_SYS_H

#include "cpu.h"
#include "omnivisor/vcpu_sys.h"

extern const struct insn_entry exception_insns[], seg_insns[], sysctl_insns[], msr_insns[],
	io_insns[];
/* Forms that share a mnemonic with user-mode ones (MOV Sreg, PUSH/POP Sreg, far JMP/CALL/RET):
 * the handler for @in, or NULL (seg.c). */
insn_fn sys_seg_select(const struct insn *in);

/* 32-bit code: near CALL/RET with 4-byte stack slots (sysmem.c) */
extern const struct insn_entry mode32_insns[];

/*
 * Block key (vcpu->block_key): everything a decoded block depends on besides its linear and
 * physical address. A block is used only by a vCPU whose key is equal.
 */
#define BKEY_MODE 0x3u     /* enum vcpu_mode */
#define BKEY_USER 0x4u     /* fetched with CPL 3 rights */
#define BKEY_TS 0x8u       /* CR0.TS: x87/MMX/SSE raise #NM */
#define BKEY_EM 0x10u      /* CR0.EM: x87 #NM, MMX/SSE #UD */
#define BKEY_NOFXSR 0x20u  /* CR4.OSFXSR = 0: SSE #UD */
#define BKEY_MP 0x40u      /* CR0.MP: WAIT/FWAIT with TS raises #NM */
#define BKEY_STEP 0x80u    /* one-instruction blocks (interrupt shadow) */
#define BKEY_SYS 0x100u    /* always set in system mode, so no key is 0 */

/*
 * sys_fetch_page - host pointer of the 4 KiB page holding @gva for an instruction fetch at the
 * current CPL (the TLB's code right; page walk on a miss). Raises #PF (I/D set per EFER.NXE) or
 * #GP (non-canonical) through cpu_raise. *gpa_page (if not NULL) gets the page's GPA. A page
 * that is not RAM fetches as all-ones bytes (no code is executed from MMIO).
 */
const uint8_t *sys_fetch_page(struct vcpu *cpu, uint64_t gva, uint64_t *gpa_page);
/* sys_code_page_added - code was decoded from the RAM page of @gpa: watch writes to it. */
void sys_code_page_added(struct vcpu *cpu, uint64_t gpa);

/* ---- event delivery (exception.c) ---------------------------------------------------------- */

enum event_kind {
	EV_EXCEPTION,  /* fault or trap raised by an instruction (cpu_raise); RIP already set */
	EV_EXTINT,     /* external interrupt (INTR) */
	EV_NMI,
	EV_SOFTINT,    /* INT n: gate DPL checked against CPL, RIP after the instruction */
	EV_SOFTEXC,    /* INT3 / INTO: like INT n (DPL check), a trap */
	EV_PRIVSOFT,   /* INT1 (ICEBP): no DPL check */
};

/*
 * sys_deliver - deliver @vector through the IDT (SDM Vol. 3A 6.12, 6.14 for 64-bit mode):
 * gate checks, stack switch to RSP0 / IST, frame push (SS, RSP, RFLAGS, CS, RIP, error code
 * if @has_error), CS load, CPL change, IF cleared for interrupt gates, TF/NT/RF/(VM) cleared.
 * cpu->rip is the return address. A fault during delivery is raised with cpu_raise (longjmp);
 * sys_exception_unwound applies the double-fault rules. Protected-mode (32-bit) IDTs are
 * delivered too, if implemented; say which in exception.c.
 */
void sys_deliver(struct vcpu *cpu, unsigned vector, enum event_kind kind, bool has_error,
		 uint32_t error);

/*
 * sys_exception_unwound - called by vcpu_sys_run after an instruction raised an exception
 * (cpu->exc_vector/exc_error/exc_addr set, cpu->rip = faulting instruction or past a trap).
 * Decides #DF / triple fault from cpu->sys->delivering (SDM Vol. 3A 6.15 Table 6-4/6-5), sets
 * CR2 for #PF, and delivers. Returns 0 to continue running, or VCPU_EXIT_SHUTDOWN.
 */
int sys_exception_unwound(struct vcpu *cpu);

/* ---- segments (seg.c) --------------------------------------------------------------------- */

/*
 * sys_load_seg - load segment register @sr with selector @sel, with the descriptor checks of
 * MOV Sreg / POP Sreg (SDM Vol. 2 MOV; Vol. 3A 5.4-5.6): #GP(sel) / #SS(sel) / #NP(sel).
 * Null selectors: allowed for DS/ES/FS/GS (and SS at CPL < 3 in 64-bit mode). Sets the accessed
 * bit. Loading FS/GS sets cpu->fs_base/gs_base from the descriptor (upper 32 bits cleared).
 */
void sys_load_seg(struct vcpu *cpu, enum seg_reg sr, uint16_t sel);

/*
 * sys_read_descriptor - read the 8-byte descriptor of @sel from the GDT/LDT into @desc
 * (supervisor access). Returns 0, or -1 if the selector is outside the table limit.
 * 16-byte system descriptors (64-bit TSS/LDT, gates) read the upper half with desc_hi != NULL.
 */
int sys_read_descriptor(struct vcpu *cpu, uint16_t sel, uint64_t *desc, uint64_t *desc_hi);

/* Load the hidden cache from a descriptor (no checks), used by delivery/IRET/far transfers. */
void sys_seg_from_desc(struct seg_cache *s, uint16_t sel, uint64_t desc);

/* Shared by seg.c and exception.c (see seg.c for each one's contract). */
uint64_t sys_desc_set_accessed(struct vcpu *cpu, uint16_t sel, uint64_t desc);
void sys_load_null_ss(struct vcpu *cpu, unsigned rpl);
void sys_invalidate_data_segs(struct vcpu *cpu, unsigned cpl);
uint64_t sys_check_return_cs(struct vcpu *cpu, uint16_t cs);
uint64_t sys_check_return_ss(struct vcpu *cpu, uint16_t ss, unsigned rpl, uint64_t cs_desc);
void sys_commit_return_ss(struct vcpu *cpu, uint16_t ss, uint64_t desc, unsigned rpl);
/* Handlers the decoder picks through sys_seg_select. */
void sys_mov_sreg(struct vcpu *cpu, const struct insn *in);
void sys_push_sreg(struct vcpu *cpu, const struct insn *in);
void sys_pop_sreg(struct vcpu *cpu, const struct insn *in);
void sys_far_jmp(struct vcpu *cpu, const struct insn *in);
void sys_far_call(struct vcpu *cpu, const struct insn *in);
void sys_retf(struct vcpu *cpu, const struct insn *in);

/* ---- memory (sysmem.c) -------------------------------------------------------------------- */

/*
 * Linear-address access with explicit rights, for implicit accesses (descriptor tables, TSS,
 * interrupt stacks): @acc is MMU_ACC_* (MMU_ACC_USER only for accesses made as CPL 3; implicit
 * supervisor accesses at CPL 3 pass 0). Faults raise #PF (CR2 = address) through cpu_raise.
 * len: 1..16 bytes, may cross a page (both pages are checked before anything is written).
 */
void sys_lin_read(struct vcpu *cpu, uint64_t gva, void *dst, unsigned len, unsigned acc);
void sys_lin_write(struct vcpu *cpu, uint64_t gva, const void *src, unsigned len, unsigned acc);

/* Guest-physical access (page tables are the MMU's; this is for loaders, dumps, devices). */
int sys_phys_read(struct vm_phys *p, uint64_t gpa, void *dst, uint64_t len);
int sys_phys_write(struct vm_phys *p, uint64_t gpa, const void *src, uint64_t len);

/* ---- state changes (sysmem.c) --------------------------------------------------------------- */

/* sys_set_cpl - switch privilege: sets cpl, mmu_idx; call after loading CS. */
void sys_set_cpl(struct vcpu *cpu, unsigned cpl);

/*
 * sys_update_mode - recompute the execution mode from CR0.PE, EFER.LMA and CS.L/D (after CS
 * loads, CR0/EFER writes) and the paging state the MMU uses (after CR0/CR3/CR4/EFER writes).
 */
void sys_update_mode(struct vcpu *cpu);

/* TLB flushes the architecture requires (SDM Vol. 3A 4.10.4.1); also drop jump-cache entries. */
void sys_flush_tlb_all(struct vcpu *cpu);       /* CR0.PG/WP, CR4.PGE/PAE/PSE, EFER.NXE change */
void sys_flush_tlb_nonglobal(struct vcpu *cpu); /* MOV to CR3 */
void sys_flush_tlb_page(struct vcpu *cpu, uint64_t gva); /* INVLPG */

/* Guest TSC now (SDM Vol. 3B 18.17): host CLOCK_MONOTONIC at VCPU_TSC_HZ plus tsc_offset. */
uint64_t sys_read_tsc(struct vcpu *cpu);

/* The instruction ended the interrupt-shadow window: STI (when IF was 0) and MOV SS / POP SS set
 * this; no interrupt or NMI is taken before the next instruction completes (SDM Vol. 3A 6.8.3). */
static inline void sys_set_irq_shadow(struct vcpu *cpu)
{
	cpu->sys->irq_shadow = 1;
}

/* Run-loop hook at block boundaries (exec.c): cheap test, then sys_loop_events (sysmem.c). */
int sys_loop_events(struct vcpu *cpu);
static inline int sys_loop_top(struct vcpu *cpu)
{
	struct vcpu_sys *s = cpu->sys;
	if (unlikely(s->nr_pending_write | s->irq_shadow | s->step | s->nmi_pending |
		     s->exit_wanted | s->halted | s->tf_armed) ||
	    unlikely(cpu->rflags & FLAG_TF) ||
	    unlikely(s->irq_hint == 1 || (s->irq_hint && (cpu->rflags & FLAG_IF))))
		return sys_loop_events(cpu);
	return 0;
}

/* Privileged-instruction check: #GP(0) unless CPL 0 (SDM Vol. 3A 5.9). */
static inline void sys_require_cpl0(struct vcpu *cpu)
{
	if (cpu->sys->cpl)
		cpu_gp0(cpu);
}

static inline bool sys_long_mode(const struct vcpu *cpu)
{
	return cpu->sys->efer & EFER_LMA;
}

static inline bool sys_64bit_code(const struct vcpu *cpu)
{
	return cpu->sys->mode == VCPU_MODE_LONG64;
}

#endif
