/* SPDX-License-Identifier: MIT */
/*
 * The library of the guest test kernels (lib.c, boot.S): output on the debugcon port, exit
 * through isa-debug-exit, exception recording and recovery, page-table helpers, user mode,
 * the local APIC. A test is one C file defining test_main(); it prints what it observes and the
 * harness compares the output with tests/guest/NAME.ref (README.md).
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_layout.h"

/* --- what the test provides -------------------------------------------------------------- */
void test_main(void);

/* --- port I/O, control registers, MSRs --------------------------------------------------- */
static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
#define DEF_CR(n)                                                                            \
	static inline uint64_t read_cr##n(void)                                              \
	{                                                                                    \
		uint64_t v;                                                                  \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                            \
		return v;                                                                    \
	}                                                                                    \
	static inline void write_cr##n(uint64_t v)                                           \
	{                                                                                    \
		__asm__ volatile("mov %0, %%cr" #n ::"r"(v) : "memory");                     \
	}
DEF_CR(0)
DEF_CR(2)
DEF_CR(3)
DEF_CR(4)
DEF_CR(8)
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "memory");
}
static inline void invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" ::"r"(va) : "memory");
}
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}
static inline uint64_t read_rflags(void)
{
	uint64_t v;
	__asm__ volatile("pushfq; popq %0" : "=r"(v));
	return v;
}
static inline void barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

#define MSR_STAR 0xC0000081
#define MSR_LSTAR 0xC0000082
#define MSR_CSTAR 0xC0000083
#define MSR_SFMASK 0xC0000084
#define MSR_FS_BASE 0xC0000100
#define MSR_GS_BASE 0xC0000101
#define MSR_KERNEL_GS_BASE 0xC0000102
#define MSR_TSC_AUX 0xC0000103
#define MSR_APIC_BASE 0x1B

/* --- output and exit ---------------------------------------------------------------------- */
/* printf subset: %s %c %d %u %x %lx %lu %ld, flags '0' and '-', a width; %p is %#lx. */
void printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void puts_raw(const char *s);
/* Writes V to PORT_EXIT: the VMM exits with status (V << 1) | 1. */
void __attribute__((noreturn)) guest_exit(uint32_t v);
/* Prints "FAIL: <msg>" (in the output, so the .ref comparison fails too) and counts it. */
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern int nr_fail;

/* --- exceptions and interrupts ------------------------------------------------------------ */
/* What isr_common pushes (boot.S): r15 lowest ... */
struct frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

/* The last exception or interrupt recorded by exc_dispatch. stack_top is the address just
 * above the CPU-pushed frame: the (16-byte aligned) stack the CPU switched to, if it did. */
struct exc_rec {
	uint64_t vector, error, cr2, rip, cs, rflags, rsp, ss, stack_top;
};
extern volatile struct exc_rec last_exc;
extern volatile uint64_t exc_count;
extern volatile uint64_t vec_count[256];
/* Clears last_exc (vector = ~0) and exc_count. */
void exc_clear(void);

/*
 * A per-vector handler, called with the frame after last_exc is recorded. It may change the
 * frame (e.g. RIP, RFLAGS) and returns; IRETQ resumes with it. Without a handler: an exception
 * inside try_call() resumes at try_call's recovery point (CPL 0, IF = 0), INT 0x80 leaves
 * run_user(), and anything else is reported as unexpected and ends the test (EXIT_UNEXPECTED).
 */
typedef void (*vec_handler_t)(struct frame *f);
void set_handler(int vec, vec_handler_t h);
/* A handler that just returns (resumes at the saved RIP). */
void resume_handler(struct frame *f);

/* IDT gate for vector vec: type 0xE interrupt gate (or 0xF trap), DPL, IST index, present. */
void set_gate(int vec, int dpl, int ist, bool present);

/* boot.S: try_call returns 1 when the call was cut short by a recovered exception. */
int try_call(uint64_t (*fn)(uint64_t), uint64_t arg);
extern uint64_t try_result;
extern uint64_t recover_rip, recover_rsp;

/* Probes (lib.c, asm): each is one instruction at a global label, then RET. */
uint64_t probe_read(uint64_t addr);   /* mov (%rdi),%rax   at probe_read_insn */
uint64_t probe_write(uint64_t addr);  /* movq $PROBE_VAL,(%rdi) at probe_write_insn */
uint64_t probe_exec(uint64_t addr);   /* call *%rdi        at probe_exec_insn */
uint64_t probe_push(uint64_t rsp);    /* rsp = rdi; push   at probe_push_insn */
uint64_t probe_jmp(uint64_t addr);    /* jmp *%rdi         at probe_jmp_insn */
extern char probe_read_insn[], probe_write_insn[], probe_exec_insn[], probe_push_insn[],
	probe_jmp_insn[];
#define PROBE_VAL 0x5a5a5a5a

/* Name of a code address for the output: a probe label, a registered name, or hex. */
const char *rip_name(uint64_t rip);
void name_addr(uint64_t addr, const char *name);
/* Prints "<what>: <vector name> err=0x.. [cr2=0x..] rip=<name>" from last_exc, or
 * "<what>: no exception" if there was none. */
void print_exc(const char *what, bool with_cr2);

/* --- TSS ------------------------------------------------------------------------------------ */
struct __attribute__((packed)) tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7]; /* IST1..IST7 at offsets 36..84 (SDM Vol. 3A Figure 7-11) */
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
};
extern struct tss64 tss;
#define STACK_SIZE 16384
extern uint8_t rsp0_stack[STACK_SIZE], ist1_stack[STACK_SIZE], ist2_stack[STACK_SIZE];
#define RSP0_TOP ((uint64_t)rsp0_stack + STACK_SIZE)
#define IST1_TOP ((uint64_t)ist1_stack + STACK_SIZE)
#define IST2_TOP ((uint64_t)ist2_stack + STACK_SIZE)
extern uint64_t gdt[];

/* --- user mode (boot.S) ------------------------------------------------------------------- */
extern uint64_t user_rip, user_rsp, user_rflags;
/* A qword user code may use as its argument (tests' own user snippets read it). */
extern uint64_t user_arg;
extern uint64_t uret_rip, uret_rsp;
uint64_t run_user(uint64_t unused);
uint64_t do_sysret(uint64_t unused);
extern char do_sysret_insn[];
void syscall_entry(void);
/* Filled by syscall_entry: rcx, r11, rflags, cs, ss, rsp, rax at entry */
extern volatile uint64_t sc_rec[7];
extern volatile uint64_t sc_count;
extern uint8_t user_stack[STACK_SIZE];
/* User-mode probes (CPL 3, on user_arg; end with INT 0x80) */
void user_read(void), user_write(void), user_exec(void);
extern char user_read_insn[], user_write_insn[], user_exec_insn[];
/* Runs fn at CPL 3 with user_arg = arg on the user stack (IF = 0 unless user_rflags says
 * otherwise) inside try_call: 0 when it came back with INT 0x80/SYSCALL, 1 after a recovered
 * exception (last_exc). */
int user_call(void (*fn)(void), uint64_t arg);
#define USER_STACK_TOP ((uint64_t)user_stack + STACK_SIZE)

/* --- paging ------------------------------------------------------------------------------- */
extern uint64_t boot_pml4[];
/* A zeroed 4 KiB page from a pool in the image (identity-mapped, so VA = PA). */
void *alloc_page(void);
/* Pointer to the entry for va at level (4 = PML4E, 3 = PDPTE, 2 = PDE, 1 = PTE); with create,
 * missing intermediate tables are allocated with P|W|U. NULL if absent or a large page is in
 * the way. */
uint64_t *pte_ptr(uint64_t va, int level, bool create);
void map_4k(uint64_t va, uint64_t pa, uint64_t flags);
void flush_tlb(void); /* MOV CR3, CR3 */

/* --- local APIC (xAPIC MMIO, SDM Vol. 3A ch. 10) ------------------------------------------ */
#define LAPIC_BASE 0xFEE00000ULL
#define LAPIC_ID 0x20
#define LAPIC_VER 0x30
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xB0
#define LAPIC_SVR 0xF0
#define LAPIC_ISR 0x100
#define LAPIC_IRR 0x200
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_ICR 0x380
#define LAPIC_TIMER_CCR 0x390
#define LAPIC_TIMER_DCR 0x3E0
static inline uint32_t lapic_read(uint32_t reg)
{
	return *(volatile uint32_t *)(LAPIC_BASE + reg);
}
static inline void lapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(LAPIC_BASE + reg) = v;
}
/* Software-enables the LAPIC (SVR bit 8, spurious vector 0xFF), masks LINT0/LINT1, TPR 0.
 * (guest_main has masked the 8259s already.) */
void lapic_enable(void);

#endif
