/* SPDX-License-Identifier: MIT */
/*
 * Local APIC, xAPIC mode (Intel SDM Vol. 3A chapter 11, "Advanced Programmable Interrupt
 * Controller (APIC)"). One struct lapic per vCPU. Design, wiring and limits: docs/lapic.md.
 *
 * A pure state machine: it never reads a clock (time comes in as now_ns arguments or through the
 * clock_ns hook), never counts instructions, and reaches the rest of the machine only through
 * the hooks of struct lapic_config.
 *
 * Thread safety: every function may be called from any thread; each takes the LAPIC's mutex.
 * Interrupts flow one way (device -> i8259/IOAPIC -> LAPIC -> vCPU kick): lapic_set_irq,
 * lapic_set_lint, lapic_deliver and lapic_route may be called with the caller's own lock held.
 * The LAPIC calls its hooks as follows:
 *   kick      with the LAPIC lock held (must not call back into the LAPIC);
 *   arm       with the LAPIC lock held (timer_mod/timer_del take only the timer service lock);
 *   clock_ns, read_tsc  with the lock held (must be pure);
 *   eoi, send_ipi, extint_ack  after releasing the lock (they may call back into LAPICs).
 *
 * Times are CLOCK_MONOTONIC nanoseconds (uint64_t now_ns). Errors are negative errno values.
 */
#ifndef OMNIVISOR_HW_LAPIC_H
#define OMNIVISOR_HW_LAPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct bus;
struct bus_dev;
struct lapic;

/* Register offsets in the 4 KiB APIC page (SDM Vol. 3A 11.4.1, Table 11-1) */
enum {
	LAPIC_ID = 0x020,
	LAPIC_VERSION = 0x030,
	LAPIC_TPR = 0x080,
	LAPIC_APR = 0x090,
	LAPIC_PPR = 0x0a0,
	LAPIC_EOI = 0x0b0,
	LAPIC_RRD = 0x0c0,
	LAPIC_LDR = 0x0d0,
	LAPIC_DFR = 0x0e0,
	LAPIC_SVR = 0x0f0,
	LAPIC_ISR = 0x100, /* 8 registers, 0x100..0x170 */
	LAPIC_TMR = 0x180, /* 0x180..0x1f0 */
	LAPIC_IRR = 0x200, /* 0x200..0x270 */
	LAPIC_ESR = 0x280,
	LAPIC_LVT_CMCI = 0x2f0,
	LAPIC_ICR_LO = 0x300,
	LAPIC_ICR_HI = 0x310,
	LAPIC_LVT_TIMER = 0x320,
	LAPIC_LVT_THERMAL = 0x330,
	LAPIC_LVT_PERF = 0x340,
	LAPIC_LVT_LINT0 = 0x350,
	LAPIC_LVT_LINT1 = 0x360,
	LAPIC_LVT_ERROR = 0x370,
	LAPIC_TIMER_ICR = 0x380, /* initial count */
	LAPIC_TIMER_CCR = 0x390, /* current count */
	LAPIC_TIMER_DCR = 0x3e0, /* divide configuration */
};

#define LAPIC_DEFAULT_BASE 0xfee00000ull
#define LAPIC_MMIO_SIZE 0x1000ull
#define LAPIC_VERSION_VALUE 0x00050014u /* version 0x14, max LVT entry 5 (6 LVT entries) */

/* IA32_APIC_BASE (MSR 0x1b) bits, SDM Vol. 3A 11.4.4 */
#define LAPIC_BASE_BSP (1ull << 8)
#define LAPIC_BASE_X2APIC (1ull << 10) /* not supported: writing it is refused */
#define LAPIC_BASE_ENABLE (1ull << 11)

/* SVR (SDM 11.9) */
#define LAPIC_SVR_ENABLE (1u << 8)
#define LAPIC_SVR_FOCUS_OFF (1u << 9)

/* LVT fields (SDM 11.5.1, Figure 11-8) */
#define LAPIC_LVT_MASKED (1u << 16)
#define LAPIC_LVT_LEVEL (1u << 15)
#define LAPIC_LVT_REMOTE_IRR (1u << 14)
#define LAPIC_LVT_ACTIVE_LOW (1u << 13)
#define LAPIC_LVT_PENDING (1u << 12) /* delivery status */
#define LAPIC_TIMER_ONESHOT (0u << 17)
#define LAPIC_TIMER_PERIODIC (1u << 17)
#define LAPIC_TIMER_TSC_DEADLINE (2u << 17)

/* Delivery modes (ICR bits 10:8, LVT bits 10:8, IOAPIC/MSI), SDM 11.6.1 */
enum lapic_dm {
	LAPIC_DM_FIXED = 0,
	LAPIC_DM_LOWEST = 1,
	LAPIC_DM_SMI = 2,
	LAPIC_DM_NMI = 4,
	LAPIC_DM_INIT = 5,
	LAPIC_DM_STARTUP = 6,
	LAPIC_DM_EXTINT = 7,
};

/* ICR destination shorthand (bits 19:18) */
enum lapic_shorthand {
	LAPIC_SH_NONE = 0,
	LAPIC_SH_SELF = 1,
	LAPIC_SH_ALL = 2,	/* all including self */
	LAPIC_SH_OTHERS = 3, /* all excluding self */
};

/* ESR bits (SDM 11.5.3) */
#define LAPIC_ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define LAPIC_ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define LAPIC_ESR_ILLEGAL_REGISTER (1u << 7)

/* lapic_pending: the 8259 (through LINT0 in ExtINT mode) has an interrupt for the CPU */
#define LAPIC_PENDING_EXTINT 0x100

/*
 * An interrupt message: an IPI from the ICR, an IOAPIC redirection entry or an MSI. Routed to
 * LAPICs by lapic_route.
 */
struct lapic_ipi {
	uint8_t vector;
	uint8_t mode;	   /* enum lapic_dm */
	uint8_t shorthand; /* enum lapic_shorthand (IOAPIC/MSI: LAPIC_SH_NONE) */
	bool logical;	   /* destination mode: logical (LDR/DFR) or physical (APIC ID) */
	bool level;	   /* ICR level bit: false = de-assert (INIT de-assert is a no-op) */
	bool trigger_level; /* level-triggered (sets TMR; EOI is broadcast) */
	uint8_t dest;	   /* 8-bit xAPIC destination; 0xff = broadcast */
	uint8_t src_id;	   /* sender's APIC ID, for LAPIC_SH_OTHERS */
};

struct lapic_config {
	uint8_t apic_id;
	bool bsp;		 /* IA32_APIC_BASE.BSP; an AP starts waiting for SIPI */
	uint64_t bus_hz;	 /* APIC timer input clock (before the divider), > 0 */
	uint64_t tsc_hz;	 /* TSC frequency, > 0 (TSC-deadline mode) */
	unsigned phys_addr_bits; /* MAXPHYADDR, for IA32_APIC_BASE reserved bits; 0 = 36 */

	/* the vCPU should leave HLT / its loop: lapic_pending >= 0 or NMI/INIT/SIPI arrived */
	void (*kick)(void *opaque);
	void *kick_opaque;
	/* a level-triggered vector got its EOI: broadcast to the IOAPIC(s) */
	void (*eoi)(void *opaque, int vector);
	void *eoi_opaque;
	/*
	 * An IPI written to the ICR that is not for this LAPIC alone (every shorthand but SELF).
	 * The machine delivers it to every matching LAPIC, including the sender (lapic_route does
	 * exactly that). NULL: a one-CPU machine; the LAPIC delivers to itself when it matches.
	 */
	void (*send_ipi)(void *opaque, const struct lapic_ipi *ipi);
	void *ipi_opaque;
	/* INTA cycle of the external controller (the 8259 pair): returns the vector (0..255) */
	int (*extint_ack)(void *opaque);
	void *extint_opaque;
	/* host timer: fire lapic_timer at @deadline_ns; UINT64_MAX cancels (timer_arm_hook) */
	void (*arm)(void *opaque, uint64_t deadline_ns);
	void *arm_opaque;
	/* current time for MMIO accesses (bus callbacks have no time argument); required */
	uint64_t (*clock_ns)(void *opaque);
	void *clock_opaque;
	/*
	 * The guest TSC at host time @now_ns, for TSC-deadline mode. NULL: the TSC is
	 * now_ns * tsc_hz / 10^9 (must be non-decreasing and advance at tsc_hz).
	 */
	uint64_t (*read_tsc)(void *opaque, uint64_t now_ns);
	void *tsc_opaque;
};

/* ---- life cycle ---- */

/*
 * lapic_create - a LAPIC in its power-up state (SDM 11.4.7.1): IA32_APIC_BASE = 0xfee00000 |
 * ENABLE | (BSP if cfg->bsp), SVR 0xff (software-disabled), DFR all ones, LVTs masked, everything
 * else 0. @cfg is copied. Returns NULL (errno EINVAL: bus_hz, tsc_hz or clock_ns missing;
 * ENOMEM) on failure.
 */
struct lapic *lapic_create(const struct lapic_config *cfg);
/* lapic_destroy - free. The caller has stopped the host timer that calls lapic_timer. */
void lapic_destroy(struct lapic *l);

/*
 * lapic_reset - power-up/RESET state (SDM 11.4.7.1), IA32_APIC_BASE included; the APIC ID is
 * the configured one. Cancels the timer. An AP waits for SIPI again.
 */
void lapic_reset(struct lapic *l, uint64_t now_ns);

/*
 * lapic_bios_init - what a PC BIOS leaves for an OS (MP spec 3.6.2.2 "virtual wire mode"):
 * software-enabled (SVR 0x1ff), LVT LINT0 ExtINT unmasked, LVT LINT1 NMI unmasked. For the BSP
 * of a machine booted without firmware.
 */
void lapic_bios_init(struct lapic *l, uint64_t now_ns);

/* ---- registers (MMIO) ---- */

/*
 * lapic_read / lapic_write - one 32-bit register at a 16-byte aligned @offset (0..0xff0) at
 * time @now_ns, as an aligned 32-bit MMIO access does. Reserved and write-only registers read 0;
 * writes to read-only or reserved registers are ignored (SDM 11.4.1). These are the functions
 * tests use; lapic_mmio_* are the machine's.
 */
uint32_t lapic_read(struct lapic *l, uint32_t offset, uint64_t now_ns);
void lapic_write(struct lapic *l, uint32_t offset, uint32_t value, uint64_t now_ns);

/*
 * lapic_mmio_read / lapic_mmio_write - an access of @len bytes (1, 2, 4 or 8; @data in guest
 * byte order) at @offset (0..0xfff) in the APIC page, timed with the clock_ns hook. The machine
 * calls them for accesses of this LAPIC's vCPU that fall in [base, base + 4 KiB) of
 * lapic_get_base_msr while the APIC is enabled there (lapic_mmio_enabled).
 * Sizes (SDM 11.4.1 only defines aligned 32-bit accesses; this is what KVM and QEMU do):
 *   - reads: any byte of the 16-byte slot of a register; bytes 0-3 are the register's, bytes
 *     4-15 read 0 (an 8-byte read at the slot start gives the register zero-extended);
 *   - writes: only a 4-byte write at a 16-byte aligned offset has an effect; any other write
 *     (1, 2 or 8 bytes, unaligned) is ignored and counted (nr_bad_writes).
 * A globally disabled APIC (IA32_APIC_BASE.ENABLE clear) reads all ones and ignores writes.
 */
void lapic_mmio_read(struct lapic *l, uint64_t offset, void *data, unsigned len);
void lapic_mmio_write(struct lapic *l, uint64_t offset, const void *data, unsigned len);

/*
 * lapic_register - register the LAPIC page on @bus at @gpa with the bus ops (for a machine whose
 * accesses need no per-vCPU dispatch, e.g. one vCPU). Returns bus_register's result.
 */
int lapic_register(struct lapic *l, struct bus *bus, uint64_t gpa, struct bus_dev **devp);

/* ---- interface to the vCPU ---- */

/*
 * lapic_pending - what the LAPIC asks the CPU to take now (SDM 11.8.3, 11.8.3.1): the highest
 * vector in IRR whose priority class is above PPR's, while the APIC is enabled (globally and in
 * SVR); otherwise LAPIC_PENDING_EXTINT if the 8259 interrupt is deliverable (LINT0 in ExtINT mode
 * unmasked and asserted, an ExtINT message, or the APIC globally disabled and LINT0 asserted:
 * the pin is then INTR, SDM 11.4.3); otherwise -1. RFLAGS.IF and interrupt shadows are the
 * vCPU's business: it calls this only when it could take an interrupt.
 */
int lapic_pending(struct lapic *l);

/*
 * lapic_ack - the CPU takes @vector (a value lapic_pending returned, 16..255): the IRR bit moves
 * to ISR and PPR rises (SDM 11.8.4). Returns the vector the CPU must deliver: @vector, or the
 * spurious vector (SVR[7:0]) if @vector is no longer deliverable (SDM 11.9: no ISR bit is set
 * and no EOI is expected then). For LAPIC_PENDING_EXTINT use lapic_ack_extint.
 */
int lapic_ack(struct lapic *l, int vector);

/*
 * lapic_ack_extint - the CPU takes the 8259 interrupt (lapic_pending gave LAPIC_PENDING_EXTINT):
 * clears a pending ExtINT message and returns the vector of extint_ack() (the 8259's INTA cycle,
 * called without the LAPIC lock; a spurious IRQ 7/15 is the 8259's to report), or -1 without an
 * extint_ack hook. ExtINT interrupts bypass IRR and ISR (SDM 11.6.1): no EOI to the LAPIC.
 */
int lapic_ack_extint(struct lapic *l);

/* lapic_take_nmi - an NMI is pending (LINT1 NMI, NMI IPI, LVT with NMI mode): take it. */
bool lapic_take_nmi(struct lapic *l);

/*
 * lapic_take_init - an INIT arrived (IPI or LINT in INIT mode). The LAPIC itself is already in
 * its INIT state (SDM 11.4.7.3: registers reset except ID and IA32_APIC_BASE); the vCPU must
 * enter its INIT state: an AP waits for SIPI (lapic_take_sipi), the BSP restarts at the reset
 * vector. Returns true once per INIT.
 */
bool lapic_take_init(struct lapic *l);

/*
 * lapic_take_sipi - a STARTUP IPI arrived while waiting for SIPI (after INIT, or an AP from
 * power-up): returns its vector VV (the AP starts in real mode at CS:IP = VV00:0000, i.e.
 * physical VV000h) and leaves the wait-for-SIPI state; otherwise -1. SIPIs received when not
 * waiting are ignored (SDM 8.4.4.1 / 11.6.1).
 */
int lapic_take_sipi(struct lapic *l);

/* lapic_waiting_for_sipi - the vCPU is in wait-for-SIPI (does not run). */
bool lapic_waiting_for_sipi(struct lapic *l);

/* CR8 <-> TPR (SDM 11.8.6.1: CR8[3:0] = TPR[7:4]; writing CR8 clears TPR[3:0]). */
void lapic_set_tpr(struct lapic *l, uint64_t cr8);
uint8_t lapic_get_cr8(struct lapic *l);

/*
 * IA32_APIC_BASE, MSR 0x1b (SDM 11.4.4). lapic_set_base_msr returns -EINVAL (the vCPU raises
 * #GP) for reserved bits (7:0, 9, MAXPHYADDR and up) and for x2APIC enable (bit 10: x2APIC is
 * not supported). The BSP flag is the hardware's: writes to it are ignored.
 * Clearing ENABLE disables the APIC globally and resets it to its power-up state (SDM 11.4.3);
 * setting it again leaves it in that state (software-disabled).
 */
int lapic_set_base_msr(struct lapic *l, uint64_t value, uint64_t now_ns);
uint64_t lapic_get_base_msr(struct lapic *l);
/* lapic_mmio_enabled - the base MSR's ENABLE bit: the machine decodes the page only then. */
bool lapic_mmio_enabled(struct lapic *l);

/*
 * IA32_TSC_DEADLINE, MSR 0x6e0 (SDM 11.5.4.1). Only in TSC-deadline mode (LVT timer 10b): a
 * nonzero value arms the timer for when the TSC reaches @tsc (at once if it already has), 0
 * disarms; in other modes writes are ignored and reads give 0. Reads give the armed deadline, 0
 * once it has fired.
 */
void lapic_write_tsc_deadline(struct lapic *l, uint64_t tsc, uint64_t now_ns);
uint64_t lapic_read_tsc_deadline(struct lapic *l, uint64_t now_ns);
/* lapic_tsc_changed - the guest TSC jumped (IA32_TSC written): re-evaluate a TSC deadline. */
void lapic_tsc_changed(struct lapic *l, uint64_t now_ns);

/* ---- inputs from other chips ---- */

/*
 * lapic_set_irq - an IOAPIC (or MSI) fixed-delivery interrupt for this LAPIC: sets IRR[@vector],
 * and TMR[@vector] if @level_triggered (cleared otherwise), SDM 11.5.5. Vectors 0-15 are
 * illegal: ESR bit 6, not accepted. Dropped while software-disabled (SDM 11.4.7.2).
 */
void lapic_set_irq(struct lapic *l, uint8_t vector, bool level_triggered);

/*
 * lapic_deliver - accept one interrupt message of delivery mode @mode (enum lapic_dm): FIXED and
 * LOWEST as lapic_set_irq, NMI, INIT (level assert), STARTUP, EXTINT (an IOAPIC pin in ExtINT
 * mode: the vector comes from the 8259 at lapic_ack_extint); SMI is ignored (counted).
 */
void lapic_deliver(struct lapic *l, unsigned mode, uint8_t vector, bool level_triggered);

/*
 * lapic_set_lint - the level (1 asserted, 0 not) of pin LINT0 (@pin 0: the 8259's INTR) or LINT1
 * (@pin 1: NMI), handled per its LVT entry (SDM 11.5.1): ExtINT follows the level; NMI and INIT
 * act on the rising edge; Fixed is edge- or level-triggered per LVT bit 15 (level: remote IRR
 * until EOI). Polarity bit 13 (active low) inverts @level. Other pins are ignored.
 */
void lapic_set_lint(struct lapic *l, unsigned pin, int level);

/* lapic_matches - whether this LAPIC is a destination of @ipi (SDM 11.6.2). */
bool lapic_matches(struct lapic *l, const struct lapic_ipi *ipi);
/* lapic_get_apr - arbitration priority (SDM 11.6.2.4) for lowest-priority delivery. */
uint8_t lapic_get_apr(struct lapic *l);
uint8_t lapic_get_id(struct lapic *l);

/*
 * lapic_route - deliver @ipi to the matching LAPICs of @lapics[0..@n) (SDM 11.6.2): every match
 * for fixed/NMI/INIT/SIPI/ExtINT; for lowest priority the match with the lowest APR (ties: the
 * first in the array). INIT with level de-assert is dropped (SDM 11.6.1). For the machine's
 * send_ipi hook, the IOAPIC and MSI. Takes the LAPICs' locks one at a time; must not be called
 * with a LAPIC lock held. Returns the number of LAPICs that got the message.
 */
int lapic_route(struct lapic *const *lapics, size_t n, const struct lapic_ipi *ipi);

/* ---- timer ---- */

/*
 * lapic_timer - the host timer armed through the arm hook expired: deliver the LVT timer
 * interrupt if its count reached 0 (one-shot, periodic) or the TSC passed the deadline
 * (TSC-deadline), unless masked, and re-arm for the next period. Calls at other times are
 * harmless (nothing is due: the timer is re-armed).
 */
void lapic_timer(struct lapic *l, uint64_t now_ns);

/* ---- counters ---- */

struct lapic_stats {
	uint64_t nr_reads, nr_writes, nr_bad_writes; /* MMIO register accesses */
	uint64_t nr_accepted;  /* interrupts set in IRR */
	uint64_t nr_coalesced; /* arrived while already in IRR */
	uint64_t nr_dropped;   /* fixed interrupts refused (software-disabled, illegal vector) */
	uint64_t nr_delivered; /* lapic_ack that moved IRR -> ISR */
	uint64_t nr_spurious;  /* lapic_ack that gave the spurious vector */
	uint64_t nr_extint, nr_nmi, nr_init, nr_sipi;
	uint64_t nr_eoi, nr_eoi_broadcast;
	uint64_t nr_timer_fires; /* LVT timer interrupts (masked ones included) */
	uint64_t nr_ipis_sent; /* ICR writes that sent an IPI */
	uint64_t nr_messages;  /* lapic_set_irq / lapic_deliver calls and self-IPIs */
	uint64_t nr_errors; /* ESR bits raised */
};
void lapic_get_stats(struct lapic *l, struct lapic_stats *st);
/* lapic_print_stats - one line of nonzero counters, prefixed "lapic ID:". */
void lapic_print_stats(struct lapic *l, FILE *f);

#endif
