/* SPDX-License-Identifier: MIT */
/*
 * The virtual x86-64 CPU in system mode (full virtualization): the architectural state an
 * operating system sees beyond the user registers of struct vcpu (control registers, EFER,
 * segment descriptor caches, descriptor-table registers, MSRs, CPL), the guest-physical memory
 * the vCPU reaches through its soft MMU, and the entry points a machine uses: create, reset,
 * run, interrupt request, kick.
 *
 * References: Intel SDM Vol. 3A ch. 2 (system registers), 3 (segmentation), 4 (paging),
 * 5 (protection), 6 (interrupts and exceptions), 7 (tasks: the 64-bit TSS); AMD APM Vol. 2.
 *
 * Threading: a vCPU is run by one host thread. vcpu_sys_interrupt(), vcpu_sys_nmi(),
 * vcpu_sys_request_exit() and vcpu_kick() may be called from any thread (device, timer, other
 * vCPUs); everything else only from the vCPU's own thread or while it is stopped.
 */
#ifndef OMNIVISOR_VCPU_SYS_H
#define OMNIVISOR_VCPU_SYS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "omnivisor/mmu.h"
#include "omnivisor/vcpu.h"

struct bus;

/* Segment registers in the SDM's encoding order (Sreg field of MOV Sreg; Vol. 2 3.1.1.3). */
enum seg_reg { SR_ES = 0, SR_CS, SR_SS, SR_DS, SR_FS, SR_GS, SR_NR };

/*
 * A segment register with its hidden descriptor cache (SDM Vol. 3A 3.4.3). attr holds the
 * descriptor's bits 47:40 in bits 7:0 (type 3:0, S 4, DPL 6:5, P 7) and bits 55:52 in bits 11:8
 * (AVL 8, L 9, D/B 10, G 11), the layout of VMX access rights. limit is in bytes, already scaled
 * by G. For FS and GS the base lives in struct vcpu (fs_base/gs_base), which is what every
 * memory access adds; seg[SR_FS/SR_GS].base is not used.
 */
struct seg_cache {
	uint64_t base;
	uint32_t limit;
	uint16_t sel;
	uint16_t attr;
};

#define SEG_ATTR_TYPE 0x00f
#define SEG_ATTR_S 0x010
#define SEG_ATTR_DPL_SHIFT 5
#define SEG_ATTR_DPL 0x060
#define SEG_ATTR_P 0x080
#define SEG_ATTR_AVL 0x100
#define SEG_ATTR_L 0x200
#define SEG_ATTR_DB 0x400
#define SEG_ATTR_G 0x800

/* GDTR/IDTR (SDM Vol. 3A 2.4.1, 2.4.3): base is a linear address, limit in bytes minus one. */
struct desc_table {
	uint64_t base;
	uint16_t limit;
};

/* CR0 bits (SDM Vol. 3A 2.5) not already in mmu.h */
#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_EM (1ULL << 2)
#define CR0_TS (1ULL << 3)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_AM (1ULL << 18)
#define CR0_NW (1ULL << 29)
#define CR0_CD (1ULL << 30)
/* CR4 bits not in mmu.h */
#define CR4_VME (1ULL << 0)
#define CR4_PVI (1ULL << 1)
#define CR4_TSD (1ULL << 2)
#define CR4_DE (1ULL << 3)
#define CR4_MCE (1ULL << 6)
#define CR4_PCE (1ULL << 8)
#define CR4_OSFXSR (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define CR4_UMIP (1ULL << 11)
#define CR4_FSGSBASE (1ULL << 16)
#define CR4_OSXSAVE (1ULL << 18)
/* EFER (MSR C000_0080H; SDM Vol. 3A 2.2.1) */
#define EFER_SCE (1ULL << 0)

/* RFLAGS system bits (SDM Vol. 3A 2.3) */
#define FLAG_IOPL (3u << 12)
#define FLAG_NT (1u << 14)
#define FLAG_RF (1u << 16)
#define FLAG_VM (1u << 17)
#define FLAG_VIF (1u << 19)
#define FLAG_VIP (1u << 20)

/* MSR numbers (SDM Vol. 4 table 2-2) the vCPU implements; msr.c lists them all. */
#define MSR_IA32_TSC 0x10
#define MSR_IA32_APIC_BASE 0x1b
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MSR_IA32_PAT 0x277
#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SFMASK 0xc0000084
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX 0xc0000103

/* Time-stamp counter frequency, reported through CPUID leaves 15H/16H (SDM Vol. 3B 18.7.3). */
#define VCPU_TSC_HZ 2000000000ULL

/*
 * Interrupt controller of a vCPU (its local APIC). pending: a token >= 0 if an interrupt may be
 * taken now (the highest-priority IRR vector above PPR, or an ExtINT from the 8259s), else -1;
 * ack: the vCPU takes it (INTA: IRR -> ISR, or the 8259's INTA cycle) and gets the vector to
 * deliver (which may be the spurious vector). take_nmi: an NMI is pending; consume it.
 * Called on the vCPU thread only; pending/ack only when RFLAGS.IF = 1 and no interrupt shadow.
 * The controller calls vcpu_sys_notify when pending() or take_nmi() may have become true.
 * Without an intc, vcpu_sys_interrupt() latches vectors in a 256-bit pending set instead,
 * delivered highest vector first.
 */
struct vcpu_intc_ops {
	int (*pending)(void *opaque);
	int (*ack)(void *opaque, int token);
	bool (*take_nmi)(void *opaque);
	/* MOV to/from CR8 = TPR[7:4] (SDM Vol. 3A 10.8.6.1) */
	void (*set_cr8)(void *opaque, uint64_t cr8);
	uint64_t (*get_cr8)(void *opaque);
	/* MSRs the controller owns (IA32_APIC_BASE, IA32_TSC_DEADLINE): 0, -ENOENT if not its
	 * MSR, -EINVAL for a value the guest may not write (the vCPU raises #GP(0)). */
	int (*rdmsr)(void *opaque, uint32_t msr, uint64_t *val);
	int (*wrmsr)(void *opaque, uint32_t msr, uint64_t val);
};

/*
 * Guest-physical memory shared by the vCPUs of one machine: RAM is one host mapping (GPA x at
 * ram + x for x < ram_size); everything else goes to the bus (MMIO), where unassigned addresses
 * read all-ones and ignore writes. code_pages has one bit per RAM page: set while decoded code
 * from that page is cached, so writes to it (from a vCPU or device DMA through
 * vm_phys_written) invalidate that code.
 */
struct vm_phys {
	uint8_t *ram;
	uint64_t ram_size;          /* bytes, multiple of 4 KiB */
	struct bus *bus;
	unsigned long *code_pages;  /* bitmap, ram_size / 4096 bits */
	struct block_cache *cache;  /* decoded code, keyed by guest-physical address */
};

/*
 * vm_phys_init - set up @p for @ram_size bytes of RAM at host address @ram (owned by the caller,
 * 4 KiB aligned) and the device bus @bus. Creates the shared decode cache. 0 or -ENOMEM.
 */
int vm_phys_init(struct vm_phys *p, uint8_t *ram, uint64_t ram_size, struct bus *bus);
void vm_phys_destroy(struct vm_phys *p);
/*
 * vm_phys_written - a device wrote [gpa, gpa + len) of RAM behind the vCPUs' backs (DMA): drop
 * decoded code from those pages. Thread-safe.
 */
void vm_phys_written(struct vm_phys *p, uint64_t gpa, uint64_t len);

/* The system-mode architectural state. One per vCPU, owned by it. */
struct vcpu_sys {
	struct seg_cache seg[SR_NR];
	struct seg_cache ldtr, tr;
	struct desc_table gdtr, idtr;
	uint64_t cr0, cr2, cr3, cr4, efer;
	uint64_t cr8;                 /* TPR[7:4] when there is no intc; else the LAPIC owns TPR */
	uint64_t dr[8];               /* debug registers: stored, breakpoints not implemented */
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base, tsc_aux, pat, misc_enable, apic_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t mtrr_cap, mtrr_def_type, mtrr_fixed[11], mtrr_var[16];
	int64_t tsc_offset;           /* guest TSC = host time in TSC ticks + tsc_offset */
	uint8_t cpl;                  /* current privilege level, = CS.DPL (SDM Vol. 3A 5.5) */
	uint8_t mode;                 /* enum vcpu_mode: decoder mode from CR0.PE, EFER.LMA, CS.L/D */

	/* events */
	uint8_t irq_shadow;           /* STI / MOV SS: no interrupts before the next instruction ends */
	bool nmi_blocked;             /* from NMI delivery until the next IRET (SDM Vol. 3A 6.7.1) */
	volatile int nmi_pending;
	int delivering;               /* vector being delivered, or -1 (double-fault rules) */
	int delivering_class;         /* its class (benign, contributory, page fault) for SDM Table 6-5 */
	uint8_t step;                 /* shadow, TF: the next block is one instruction (BKEY_STEP) */
	uint8_t tf_armed;             /* the instruction being stepped started with RFLAGS.TF = 1 */
	bool halted;
	volatile int irq_hint;        /* an interrupt may be pending: ask the intc at the next boundary */
	uint64_t irq_bitmap[4];       /* pending vectors when there is no intc (vcpu_sys_interrupt) */
	const struct vcpu_intc_ops *intc;
	void *intc_opaque;
	volatile uint32_t wake_seq;   /* futex: bumped by every wake-up source (vcpu_sys_wait) */
	volatile int exit_wanted;     /* enum vcpu_exit requested by a device (reset, poweroff) */
	unsigned index;               /* vCPU number = initial APIC ID */

	/* memory */
	struct vm_phys *phys;
	struct mmu_regs mmu;
	struct mmu_phys mmu_phys;
	struct tlb tlb;
	/* crossing/MMIO accesses through a host pointer: data is staged here and written back after
	 * the instruction (see cpu.h sys_gva_ptr) */
	uint8_t bounce[2][512] __attribute__((aligned(16)));
	unsigned bounce_next;
	struct {
		uint64_t gpa;
		uint8_t *hva;           /* RAM, or NULL: MMIO at gpa */
		const uint8_t *data;
		unsigned len;
	} pending_write[4];
	unsigned nr_pending_write;

	/* statistics */
	uint64_t nr_exceptions, nr_interrupts, nr_page_walks, nr_mmio, nr_pio, nr_halts;
};

/* Decoder/execution mode, from CR0.PE, EFER.LMA and CS.L / CS.D (SDM Vol. 3A 2.2, 5.2.1). */
enum vcpu_mode {
	VCPU_MODE_REAL = 0, /* not implemented: the vCPU never enters it (see vcpu_sys_reset) */
	VCPU_MODE_PROT16,
	VCPU_MODE_PROT32,   /* protected mode or compatibility mode with a 32-bit CS */
	VCPU_MODE_LONG64,
};

/*
 * vcpu_sys_init - make @cpu a system-mode vCPU on @phys, with state as after the Multiboot
 * hand-off (SDM Vol. 3A 9.1.1 reset values for everything else): 32-bit protected mode, flat
 * 4 GiB CS (0x08)/DS,ES,SS,FS,GS (0x10), paging off, IF = 0, EFER = 0, CR0 = PE | ET | NE.
 * A loader then sets what its boot protocol needs. @sys is caller-owned (large: contains the
 * TLB); it is zeroed here. 0 or -ENOMEM.
 */
int vcpu_sys_init(struct vcpu *cpu, struct vcpu_sys *sys, struct vm_phys *phys);
void vcpu_sys_destroy(struct vcpu *cpu);

/*
 * vcpu_sys_set_long_mode - enter 64-bit mode directly, as the Linux 64-bit boot protocol hands
 * over (Documentation/arch/x86/boot.rst "64-bit BOOT PROTOCOL"): CR0 = PE|PG|ET|NE, CR4 = PAE,
 * EFER = LME|LMA (|NXE|SCE as given in @efer_extra), CR3 = @cr3, GDTR = @gdt_base/@gdt_limit,
 * CS = @cs (a 64-bit code descriptor in that GDT), DS=ES=SS=FS=GS = @ds. Descriptors are read
 * from guest memory; -EINVAL if they are not what the protocol requires.
 */
int vcpu_sys_set_long_mode(struct vcpu *cpu, uint64_t cr3, uint64_t gdt_base, uint16_t gdt_limit,
			   uint16_t cs, uint16_t ds, uint64_t efer_extra);

/*
 * vcpu_sys_state_changed - a loader wrote the control registers, EFER, segment caches or CPL
 * directly into cpu->sys: recompute the execution mode and flush the TLB.
 */
void vcpu_sys_state_changed(struct vcpu *cpu);

/*
 * vcpu_sys_run - run @cpu until something the machine must handle: VCPU_EXIT_HLT (the vCPU is
 * halted: call vcpu_sys_wait), VCPU_EXIT_SHUTDOWN (triple fault; registers left as at the fault),
 * VCPU_EXIT_KICK, VCPU_EXIT_RESET / VCPU_EXIT_POWEROFF (vcpu_sys_request_exit). Exceptions and
 * interrupts are delivered to the guest, never returned.
 */
int vcpu_sys_run(struct vcpu *cpu);

/*
 * vcpu_sys_wait - sleep while @cpu is halted and nothing can wake it (SDM Vol. 3A 6.?: HLT resumes
 * on an unmasked interrupt, NMI, INIT, reset), or until kicked. Returns at once otherwise.
 */
void vcpu_sys_wait(struct vcpu *cpu);

/* vcpu_sys_interrupt - without an intc, make external interrupt @vector pending and wake @cpu. */
void vcpu_sys_interrupt(struct vcpu *cpu, uint8_t vector);
/* vcpu_sys_notify - the intc has something new (pending() may now return a vector): wake @cpu. */
void vcpu_sys_notify(struct vcpu *cpu);
/* vcpu_sys_nmi - raise an NMI on @cpu (SDM Vol. 3A 6.7). */
void vcpu_sys_nmi(struct vcpu *cpu);
/* vcpu_sys_request_exit - make vcpu_sys_run return @reason (VCPU_EXIT_RESET/POWEROFF) soon. */
void vcpu_sys_request_exit(struct vcpu *cpu, int reason);
/* vcpu_sys_set_intc - attach the interrupt controller (the local APIC). */
void vcpu_sys_set_intc(struct vcpu *cpu, const struct vcpu_intc_ops *ops, void *opaque);

/* vcpu_sys_dump - print registers, segments, control registers to @f (triple fault, --trace). */
void vcpu_sys_dump(const struct vcpu *cpu, FILE *f);

#endif
