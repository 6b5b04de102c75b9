/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the local APIC (src/hw/lapic.c) against the Intel SDM Vol. 3A chapter 11:
 * reset values (11.4.7.1, Table 11-1), writable bits of every register, sub-dword and hostile
 * accesses to every offset, PPR/APR (11.8.3.1, 11.6.2.4), delivery by priority class, ISR
 * nesting and EOI (11.8.4, 11.8.5), TPR/CR8 (11.8.6.1), ESR write-then-read (11.5.3), the
 * spurious vector and software disable (11.9, 11.4.7.2), the timer in one-shot, periodic and
 * TSC-deadline modes with exact current counts at given times (11.5.4), masked LVTs, LINT0
 * ExtINT and LINT1 NMI, level-triggered LINT, IPIs (self, physical, logical flat/cluster,
 * shorthands, lowest priority), INIT/SIPI, IA32_APIC_BASE, EOI broadcast of level-triggered
 * vectors, hooks called without the lock, counters, and the LAPIC timer on the real host timer
 * service.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "omnivisor/bus.h"
#include "omnivisor/hw/lapic.h"
#include "omnivisor/timer.h"

/* ---- a test machine: fake clock, recording hooks ---- */

#define MAX_REC 32

struct env {
	struct lapic *l;
	uint64_t now;	   /* fake clock for MMIO */
	uint64_t armed;	   /* last arm() deadline */
	int nr_arm;
	atomic_int kicks;
	int eoi[MAX_REC], nr_eoi;
	struct lapic_ipi ipi[MAX_REC];
	int nr_ipi;
	int extint_vector;
	/* hooks that call back into the LAPIC (checks that the lock is dropped) */
	bool eoi_reasserts;
	bool extint_lowers;
	bool ipi_routes;
	struct lapic *route[4];
	size_t nr_route;
	uint64_t tsc_offset;
	bool custom_tsc;
};

static uint64_t env_clock(void *opaque)
{
	return ((struct env *)opaque)->now;
}

static void env_kick(void *opaque)
{
	atomic_fetch_add(&((struct env *)opaque)->kicks, 1);
}

static void env_arm(void *opaque, uint64_t deadline)
{
	struct env *e = opaque;
	e->armed = deadline;
	e->nr_arm++;
}

static void env_eoi(void *opaque, int vector)
{
	struct env *e = opaque;
	if (e->nr_eoi < MAX_REC)
		e->eoi[e->nr_eoi] = vector;
	e->nr_eoi++;
	if (e->eoi_reasserts)
		lapic_set_irq(e->l, (uint8_t)vector, true); /* the IOAPIC re-delivers */
}

static void env_ipi(void *opaque, const struct lapic_ipi *ipi)
{
	struct env *e = opaque;
	if (e->nr_ipi < MAX_REC)
		e->ipi[e->nr_ipi] = *ipi;
	e->nr_ipi++;
	if (e->ipi_routes)
		lapic_route(e->route, e->nr_route, ipi);
}

static int env_extint(void *opaque)
{
	struct env *e = opaque;
	if (e->extint_lowers)
		lapic_set_lint(e->l, 0, 0); /* the 8259 drops INTR during INTA */
	return e->extint_vector;
}

static uint64_t env_tsc(void *opaque, uint64_t now_ns)
{
	struct env *e = opaque;
	return now_ns * 3 + e->tsc_offset; /* a 3 GHz TSC with an offset */
}

static struct lapic_config env_config(struct env *e, uint8_t id, bool bsp)
{
	return (struct lapic_config){
		.apic_id = id,
		.bsp = bsp,
		.bus_hz = 1000000000ull, /* 1 GHz: 1 tick per ns at divide 1 */
		.tsc_hz = 2000000000ull,
		.kick = env_kick,
		.kick_opaque = e,
		.eoi = env_eoi,
		.eoi_opaque = e,
		.send_ipi = NULL,
		.ipi_opaque = e,
		.extint_ack = env_extint,
		.extint_opaque = e,
		.arm = env_arm,
		.arm_opaque = e,
		.clock_ns = env_clock,
		.clock_opaque = e,
		.read_tsc = e->custom_tsc ? env_tsc : NULL,
		.tsc_opaque = e,
	};
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct lapic_config cfg = env_config(e, 0, true);
	e->armed = UINT64_MAX;
	e->l = lapic_create(&cfg);
	*state = e;
	return e->l ? 0 : -1;
}

static int teardown(void **state)
{
	struct env *e = *state;
	lapic_destroy(e->l);
	free(e);
	return 0;
}

static uint32_t rd(struct env *e, uint32_t off)
{
	return lapic_read(e->l, off, e->now);
}

static void wr(struct env *e, uint32_t off, uint32_t v)
{
	lapic_write(e->l, off, v, e->now);
}

static bool irr(struct env *e, unsigned v)
{
	return rd(e, LAPIC_IRR + (v / 32) * 16) & (1u << (v % 32));
}

static bool isr(struct env *e, unsigned v)
{
	return rd(e, LAPIC_ISR + (v / 32) * 16) & (1u << (v % 32));
}

static bool tmr(struct env *e, unsigned v)
{
	return rd(e, LAPIC_TMR + (v / 32) * 16) & (1u << (v % 32));
}

/* the host timer expires: it is no longer pending, and calls lapic_timer */
static void fire(struct env *e, uint64_t now_ns)
{
	e->armed = UINT64_MAX;
	lapic_timer(e->l, now_ns);
}

static void enable(struct env *e)
{
	wr(e, LAPIC_SVR, LAPIC_SVR_ENABLE | 0xff);
}

/* take the pending interrupt as the vCPU does; returns its vector */
static int take(struct env *e)
{
	int v = lapic_pending(e->l);
	if (v < 0 || v == LAPIC_PENDING_EXTINT)
		return v;
	return lapic_ack(e->l, v);
}

/* ---- reset state (SDM 11.4.7.1, Table 11-1) ---- */

static void test_reset_values(void **state)
{
	struct env *e = *state;

	assert_int_equal(rd(e, LAPIC_ID), 0);
	assert_int_equal(rd(e, LAPIC_VERSION), 0x00050014);
	assert_int_equal(rd(e, LAPIC_TPR), 0);
	assert_int_equal(rd(e, LAPIC_APR), 0);
	assert_int_equal(rd(e, LAPIC_PPR), 0);
	assert_int_equal(rd(e, LAPIC_EOI), 0);
	assert_int_equal(rd(e, LAPIC_RRD), 0);
	assert_int_equal(rd(e, LAPIC_LDR), 0);
	assert_int_equal(rd(e, LAPIC_DFR), 0xffffffff);
	assert_int_equal(rd(e, LAPIC_SVR), 0xff);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(rd(e, LAPIC_ISR + i * 16), 0);
		assert_int_equal(rd(e, LAPIC_TMR + i * 16), 0);
		assert_int_equal(rd(e, LAPIC_IRR + i * 16), 0);
	}
	assert_int_equal(rd(e, LAPIC_ESR), 0);
	assert_int_equal(rd(e, LAPIC_LVT_CMCI), 0x10000);
	for (uint32_t off = LAPIC_LVT_TIMER; off <= LAPIC_LVT_ERROR; off += 16)
		assert_int_equal(rd(e, off), 0x10000);
	assert_int_equal(rd(e, LAPIC_ICR_LO), 0);
	assert_int_equal(rd(e, LAPIC_ICR_HI), 0);
	assert_int_equal(rd(e, LAPIC_TIMER_ICR), 0);
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 0);
	assert_int_equal(rd(e, LAPIC_TIMER_DCR), 0);
	/* IA32_APIC_BASE: 0xfee00000, enabled, BSP (SDM 11.4.4) */
	assert_int_equal(lapic_get_base_msr(e->l), 0xfee00900);
	assert_true(lapic_mmio_enabled(e->l));
	assert_int_equal(lapic_pending(e->l), -1);
	assert_false(lapic_take_nmi(e->l));
	assert_false(lapic_take_init(e->l));
	assert_false(lapic_waiting_for_sipi(e->l)); /* the BSP runs */
	assert_int_equal(lapic_take_sipi(e->l), -1);
	assert_int_equal(lapic_get_cr8(e->l), 0);
	assert_int_equal(e->nr_arm, 0);

	/* an AP with APIC ID 5: ID register bits 31:24, no BSP flag, waits for SIPI */
	struct lapic_config cfg = env_config(e, 5, false);
	struct lapic *ap = lapic_create(&cfg);
	assert_int_equal(lapic_read(ap, LAPIC_ID, 0), 0x05000000);
	assert_int_equal(lapic_get_base_msr(ap), 0xfee00800);
	assert_true(lapic_waiting_for_sipi(ap));
	assert_int_equal(lapic_get_id(ap), 5);
	lapic_destroy(ap);

	/* bad configurations */
	cfg.bus_hz = 0;
	errno = 0;
	assert_null(lapic_create(&cfg));
	assert_int_equal(errno, EINVAL);
	cfg = env_config(e, 1, false);
	cfg.clock_ns = NULL;
	assert_null(lapic_create(&cfg));
	assert_null(lapic_create(NULL));
	lapic_destroy(NULL);
}

/* lapic_reset goes back to all of the above, and bios_init gives virtual wire mode */
static void test_reset_and_bios_init(void **state)
{
	struct env *e = *state;

	enable(e);
	wr(e, LAPIC_TPR, 0x30);
	wr(e, LAPIC_ID, 0x07000000);
	lapic_set_irq(e->l, 0x80, false);
	lapic_reset(e->l, e->now);
	assert_int_equal(rd(e, LAPIC_SVR), 0xff);
	assert_int_equal(rd(e, LAPIC_TPR), 0);
	assert_int_equal(rd(e, LAPIC_ID), 0);
	assert_false(irr(e, 0x80));

	lapic_bios_init(e->l, e->now);
	assert_int_equal(rd(e, LAPIC_SVR), 0x1ff);
	assert_int_equal(rd(e, LAPIC_LVT_LINT0), 0x700);
	assert_int_equal(rd(e, LAPIC_LVT_LINT1), 0x400);
	assert_int_equal(rd(e, LAPIC_LVT_TIMER), 0x10000);
}

/* ---- writable bits of each register (SDM 11.4.1 and the register figures) ---- */

static void test_writable_bits(void **state)
{
	struct env *e = *state;

	enable(e);
	wr(e, LAPIC_ID, 0xffffffff);
	assert_int_equal(rd(e, LAPIC_ID), 0xff000000);
	wr(e, LAPIC_ID, 0);
	wr(e, LAPIC_VERSION, 0);
	assert_int_equal(rd(e, LAPIC_VERSION), 0x50014);
	wr(e, LAPIC_TPR, 0xffffffff);
	assert_int_equal(rd(e, LAPIC_TPR), 0xff);
	wr(e, LAPIC_TPR, 0);
	wr(e, LAPIC_APR, 0xffffffff);
	wr(e, LAPIC_PPR, 0xffffffff);
	assert_int_equal(rd(e, LAPIC_APR), 0);
	assert_int_equal(rd(e, LAPIC_PPR), 0);
	wr(e, LAPIC_RRD, 0xffffffff);
	assert_int_equal(rd(e, LAPIC_RRD), 0);
	wr(e, LAPIC_LDR, 0xffffffff);
	assert_int_equal(rd(e, LAPIC_LDR), 0xff000000);
	wr(e, LAPIC_DFR, 0);
	assert_int_equal(rd(e, LAPIC_DFR), 0x0fffffff); /* cluster model */
	wr(e, LAPIC_DFR, 0xffffffff);
	/* SVR: vector 7:0, enable 8, focus 9; 12 (EOI suppression) not supported: reserved */
	wr(e, LAPIC_SVR, 0xffffffff);
	assert_int_equal(rd(e, LAPIC_SVR), 0x3ff);
	/* read-only arrays */
	for (int i = 0; i < 8; i++) {
		wr(e, LAPIC_ISR + i * 16, 0xffffffff);
		wr(e, LAPIC_TMR + i * 16, 0xffffffff);
		wr(e, LAPIC_IRR + i * 16, 0xffffffff);
		assert_int_equal(rd(e, LAPIC_ISR + i * 16), 0);
		assert_int_equal(rd(e, LAPIC_TMR + i * 16), 0);
		assert_int_equal(rd(e, LAPIC_IRR + i * 16), 0);
	}
	/* LVTs (Figure 11-8); delivery status and remote IRR are read-only */
	wr(e, LAPIC_LVT_CMCI, 0xffffffff);
	assert_int_equal(rd(e, LAPIC_LVT_CMCI), 0x107ff);
	wr(e, LAPIC_LVT_TIMER, 0xffffffff);
	assert_int_equal(rd(e, LAPIC_LVT_TIMER), 0x700ff);
	wr(e, LAPIC_LVT_THERMAL, 0xffffffff);
	assert_int_equal(rd(e, LAPIC_LVT_THERMAL), 0x107ff);
	wr(e, LAPIC_LVT_PERF, 0xffffffff);
	assert_int_equal(rd(e, LAPIC_LVT_PERF), 0x107ff);
	wr(e, LAPIC_LVT_LINT0, 0xffffffff);
	assert_int_equal(rd(e, LAPIC_LVT_LINT0), 0x1a7ff);
	wr(e, LAPIC_LVT_LINT1, 0xffffffff);
	assert_int_equal(rd(e, LAPIC_LVT_LINT1), 0x1a7ff);
	wr(e, LAPIC_LVT_ERROR, 0xffffffff);
	assert_int_equal(rd(e, LAPIC_LVT_ERROR), 0x100ff);
	/* ICR: high byte of the high half; delivery status never reads busy */
	wr(e, LAPIC_ICR_HI, 0xffffffff);
	assert_int_equal(rd(e, LAPIC_ICR_HI), 0xff000000);
	wr(e, LAPIC_ICR_LO, 0xffffffff); /* ExtINT to "others": nobody, no hook */
	assert_int_equal(rd(e, LAPIC_ICR_LO), 0x000ccfff);
	/* timer */
	wr(e, LAPIC_TIMER_DCR, 0xffffffff);
	assert_int_equal(rd(e, LAPIC_TIMER_DCR), 0xb);
	wr(e, LAPIC_TIMER_CCR, 1234);
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 0);
	/* EOI reads 0 */
	wr(e, LAPIC_EOI, 0xffffffff);
	assert_int_equal(rd(e, LAPIC_EOI), 0);
}

/* ---- MMIO access sizes and hostile accesses ---- */

static void mmio_rd(struct env *e, uint64_t off, void *buf, unsigned len)
{
	lapic_mmio_read(e->l, off, buf, len);
}

static void test_mmio_sizes(void **state)
{
	struct env *e = *state;
	uint8_t b[8];
	uint32_t v;

	mmio_rd(e, LAPIC_VERSION, &v, 4);
	assert_int_equal(v, 0x50014);
	memset(b, 0xaa, 8);
	mmio_rd(e, LAPIC_VERSION, b, 8);
	assert_int_equal(bus_data_get(b, 8), 0x50014); /* upper half of the slot reads 0 */
	mmio_rd(e, LAPIC_VERSION + 2, b, 1);
	assert_int_equal(b[0], 0x05);
	mmio_rd(e, LAPIC_VERSION + 1, b, 2);
	assert_int_equal(b[0] | b[1] << 8, 0x0500);
	mmio_rd(e, LAPIC_VERSION + 4, b, 4);
	assert_int_equal(bus_data_get(b, 4), 0);
	mmio_rd(e, LAPIC_VERSION + 12, b, 8); /* straddles into the TPR slot */
	assert_int_equal(bus_data_get(b, 8), 0);
	mmio_rd(e, LAPIC_SVR + 12, b, 8); /* bytes 12..15 of SVR, 0..3 of ISR0 */
	assert_int_equal(bus_data_get(b, 8), 0);
	mmio_rd(e, LAPIC_DFR - 4, b, 8); /* bytes 12..15 of LDR's slot, then DFR */
	assert_int_equal(bus_data_get(b, 8), 0xffffffff00000000ull);

	/* writes: only aligned 32-bit ones count */
	uint32_t w = 0x40;
	uint64_t q = 0x50;
	lapic_mmio_write(e->l, LAPIC_TPR, &w, 1);
	lapic_mmio_write(e->l, LAPIC_TPR, &w, 2);
	lapic_mmio_write(e->l, LAPIC_TPR, &q, 8);
	lapic_mmio_write(e->l, LAPIC_TPR + 4, &w, 4);
	lapic_mmio_write(e->l, LAPIC_TPR + 1, &w, 4);
	assert_int_equal(rd(e, LAPIC_TPR), 0);
	lapic_mmio_write(e->l, LAPIC_TPR, &w, 4);
	assert_int_equal(rd(e, LAPIC_TPR), 0x40);

	struct lapic_stats st;
	lapic_get_stats(e->l, &st);
	assert_int_equal(st.nr_bad_writes, 5);
}

/* Every offset, every size, random values: no crash, and the LAPIC still works. */
static void test_hostile_every_offset(void **state)
{
	struct env *e = *state;
	static const unsigned sizes[] = { 1, 2, 4, 8 };
	unsigned seed = 12345;
	uint8_t buf[8];

	enable(e);
	for (int round = 0; round < 3; round++) {
		for (uint64_t off = 0; off < 0x1000; off++) {
			for (unsigned s = 0; s < 4; s++) {
				unsigned len = sizes[s];
				if (off + len > 0x1000)
					continue;
				uint64_t v = (uint64_t)rand_r(&seed) << 32;
				v |= (unsigned)rand_r(&seed);
				e->now += 7;
				lapic_mmio_read(e->l, off, buf, len);
				if (len == 4 && (off & 0xf) == 0 && off == LAPIC_LVT_ERROR)
					continue; /* keep errors quiet for the final check */
				lapic_mmio_write(e->l, off, &v, len);
			}
			/* the vCPU keeps taking interrupts and doing EOIs */
			int p = lapic_pending(e->l);
			if (p >= 16 && p < 256)
				lapic_ack(e->l, p);
			if ((off & 0x3f) == 0)
				wr(e, LAPIC_EOI, 0);
			fire(e, e->now);
		}
		/* registers that must not have changed */
		assert_int_equal(rd(e, LAPIC_VERSION), 0x50014);
		assert_int_equal(rd(e, LAPIC_DFR) & 0x0fffffff, 0x0fffffff);
	}
	/* out-of-page offsets are refused by lapic_read/lapic_write */
	assert_int_equal(lapic_read(e->l, 0x1000, e->now), 0);
	assert_int_equal(lapic_read(e->l, 0x21, e->now), 0);
	lapic_write(e->l, 0x2000, 1, e->now);

	/* back to a sane state: it still delivers */
	lapic_reset(e->l, e->now);
	enable(e);
	lapic_set_irq(e->l, 0x99, false);
	assert_int_equal(take(e), 0x99);
}

/* ---- priorities ---- */

static void test_ppr(void **state)
{
	struct env *e = *state;

	enable(e);
	/* SDM 11.8.3.1: PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4] << 4 */
	wr(e, LAPIC_TPR, 0x45);
	assert_int_equal(rd(e, LAPIC_PPR), 0x45);
	wr(e, LAPIC_TPR, 0);
	lapic_set_irq(e->l, 0x61, false);
	assert_int_equal(take(e), 0x61);
	assert_int_equal(rd(e, LAPIC_PPR), 0x60);
	wr(e, LAPIC_TPR, 0x65);
	assert_int_equal(rd(e, LAPIC_PPR), 0x65);
	wr(e, LAPIC_TPR, 0x5f);
	assert_int_equal(rd(e, LAPIC_PPR), 0x60);
	wr(e, LAPIC_TPR, 0x70);
	assert_int_equal(rd(e, LAPIC_PPR), 0x70);
	wr(e, LAPIC_EOI, 0);
	assert_int_equal(rd(e, LAPIC_PPR), 0x70);
	wr(e, LAPIC_TPR, 0);
	assert_int_equal(rd(e, LAPIC_PPR), 0);
}

static void test_apr(void **state)
{
	struct env *e = *state;

	enable(e);
	/* SDM 11.6.2.4, Figure 11-14 */
	wr(e, LAPIC_TPR, 0x35);
	assert_int_equal(rd(e, LAPIC_APR), 0x35); /* TPR above IRRV and ISRV */
	lapic_set_irq(e->l, 0x52, false);
	assert_int_equal(rd(e, LAPIC_APR), 0x50); /* IRRV class wins */
	assert_int_equal(lapic_get_apr(e->l), 0x50);
	assert_int_equal(take(e), 0x52);
	wr(e, LAPIC_TPR, 0x55);
	assert_int_equal(rd(e, LAPIC_APR), 0x50); /* TPR class == ISRV class: not "above" */
	wr(e, LAPIC_TPR, 0x65);
	assert_int_equal(rd(e, LAPIC_APR), 0x65);
}

static void test_priority_order(void **state)
{
	struct env *e = *state;

	enable(e);
	lapic_set_irq(e->l, 0x31, false);
	lapic_set_irq(e->l, 0x52, false);
	lapic_set_irq(e->l, 0x50, false);
	lapic_set_irq(e->l, 0xe1, false);
	assert_true(irr(e, 0x31) && irr(e, 0x52) && irr(e, 0x50) && irr(e, 0xe1));
	assert_int_equal(take(e), 0xe1);
	assert_false(irr(e, 0xe1));
	assert_true(isr(e, 0xe1));
	assert_int_equal(lapic_pending(e->l), -1); /* everything below ISR's class */
	wr(e, LAPIC_EOI, 0);
	assert_false(isr(e, 0xe1));
	assert_int_equal(take(e), 0x52);
	/* 0x50 is in the same class as the 0x52 in service: held (SDM 11.8.3) */
	assert_int_equal(lapic_pending(e->l), -1);
	/* nesting: a higher class interrupts the handler */
	lapic_set_irq(e->l, 0x80, false);
	assert_int_equal(take(e), 0x80);
	assert_true(isr(e, 0x52) && isr(e, 0x80));
	assert_int_equal(rd(e, LAPIC_PPR), 0x80);
	wr(e, LAPIC_EOI, 0); /* retires the highest: 0x80 */
	assert_false(isr(e, 0x80));
	assert_true(isr(e, 0x52));
	assert_int_equal(lapic_pending(e->l), -1);
	wr(e, LAPIC_EOI, 0);
	assert_int_equal(take(e), 0x50);
	wr(e, LAPIC_EOI, 0);
	assert_int_equal(take(e), 0x31);
	wr(e, LAPIC_EOI, 0);
	assert_int_equal(lapic_pending(e->l), -1);
	/* EOI with nothing in service: nothing */
	wr(e, LAPIC_EOI, 0);

	struct lapic_stats st;
	lapic_get_stats(e->l, &st);
	assert_int_equal(st.nr_accepted, 5);
	assert_int_equal(st.nr_delivered, 5);
	assert_int_equal(st.nr_eoi, 5);
	assert_int_equal(st.nr_eoi_broadcast, 0);
	assert_int_equal(e->nr_eoi, 0);

	/* a repeated edge interrupt before it is taken coalesces */
	lapic_set_irq(e->l, 0x40, false);
	lapic_set_irq(e->l, 0x40, false);
	lapic_get_stats(e->l, &st);
	assert_int_equal(st.nr_coalesced, 1);
	/* an in-service vector can be pending again */
	assert_int_equal(take(e), 0x40);
	lapic_set_irq(e->l, 0x40, false);
	assert_true(irr(e, 0x40) && isr(e, 0x40));
	assert_int_equal(lapic_pending(e->l), -1);
	wr(e, LAPIC_EOI, 0);
	assert_int_equal(take(e), 0x40);
}

static void test_tpr_and_cr8(void **state)
{
	struct env *e = *state;

	enable(e);
	wr(e, LAPIC_TPR, 0x50);
	lapic_set_irq(e->l, 0x55, false);
	assert_int_equal(lapic_pending(e->l), -1); /* class 5 not above TPR class 5 */
	lapic_set_irq(e->l, 0x61, false);
	assert_int_equal(lapic_pending(e->l), 0x61);
	/* CR8 (SDM 11.8.6.1): CR8[3:0] <-> TPR[7:4]; writing CR8 clears TPR[3:0] */
	wr(e, LAPIC_TPR, 0x8f);
	assert_int_equal(lapic_get_cr8(e->l), 8);
	assert_int_equal(lapic_pending(e->l), -1);
	lapic_set_tpr(e->l, 0x7);
	assert_int_equal(rd(e, LAPIC_TPR), 0x70);
	lapic_set_tpr(e->l, 0xfffffff3);
	assert_int_equal(rd(e, LAPIC_TPR), 0x30);
	/* lowering the TPR below a pending vector kicks the vCPU */
	lapic_set_tpr(e->l, 0xf);
	int k = atomic_load(&e->kicks);
	lapic_set_tpr(e->l, 0);
	assert_true(atomic_load(&e->kicks) > k);
	assert_int_equal(lapic_pending(e->l), 0x61);
	lapic_set_tpr(e->l, 5);
	assert_int_equal(lapic_pending(e->l), 0x61);
	lapic_set_tpr(e->l, 6);
	assert_int_equal(lapic_pending(e->l), -1);
}

/* ---- ESR (SDM 11.5.3) ---- */

static void test_esr(void **state)
{
	struct env *e = *state;

	enable(e);
	wr(e, LAPIC_ESR, 0);
	assert_int_equal(rd(e, LAPIC_ESR), 0);
	/* sending a fixed IPI with vector 5: "send illegal vector", nothing sent */
	wr(e, LAPIC_ICR_LO, (1u << 18) | 5); /* self */
	assert_int_equal(rd(e, LAPIC_ESR), 0); /* not visible until the next write */
	assert_int_equal(lapic_pending(e->l), -1);
	wr(e, LAPIC_ESR, 0);
	assert_int_equal(rd(e, LAPIC_ESR), LAPIC_ESR_SEND_ILLEGAL_VECTOR);
	wr(e, LAPIC_ESR, 0xffffffff); /* the value written does not matter */
	assert_int_equal(rd(e, LAPIC_ESR), 0);
	/* receiving vector 3 from an IOAPIC: "receive illegal vector" */
	lapic_set_irq(e->l, 3, false);
	assert_int_equal(lapic_pending(e->l), -1);
	wr(e, LAPIC_ESR, 0);
	assert_int_equal(rd(e, LAPIC_ESR), LAPIC_ESR_RECV_ILLEGAL_VECTOR);
	/* an error raises the LVT error interrupt */
	wr(e, LAPIC_LVT_ERROR, 0xfe);
	lapic_set_irq(e->l, 15, false);
	assert_true(irr(e, 0xfe));
	assert_int_equal(take(e), 0xfe);
	wr(e, LAPIC_EOI, 0);
	wr(e, LAPIC_ESR, 0);
	assert_int_equal(rd(e, LAPIC_ESR), LAPIC_ESR_RECV_ILLEGAL_VECTOR);
	/* an LVT (timer) with an illegal vector: receive illegal vector when it fires */
	wr(e, LAPIC_LVT_TIMER, 0x07);
	wr(e, LAPIC_TIMER_DCR, 0xb);
	wr(e, LAPIC_TIMER_ICR, 10);
	fire(e, e->now + 10);
	assert_true(irr(e, 0xfe));
	assert_false(irr(e, 0x07));
	wr(e, LAPIC_ESR, 0);
	assert_int_equal(rd(e, LAPIC_ESR), LAPIC_ESR_RECV_ILLEGAL_VECTOR);
	/* an error LVT with an illegal vector does not recurse */
	wr(e, LAPIC_LVT_ERROR, 0x02);
	lapic_set_irq(e->l, 1, false);
	wr(e, LAPIC_ESR, 0);
	assert_int_equal(rd(e, LAPIC_ESR), LAPIC_ESR_RECV_ILLEGAL_VECTOR);
	struct lapic_stats st;
	lapic_get_stats(e->l, &st);
	assert_int_equal(st.nr_errors, 5);
}

/* ---- spurious vector and software disable (SDM 11.9, 11.4.7.2) ---- */

static void test_spurious_and_sw_disable(void **state)
{
	struct env *e = *state;

	/* software-disabled at reset: fixed interrupts are refused */
	lapic_set_irq(e->l, 0x40, false);
	assert_false(irr(e, 0x40));
	assert_int_equal(lapic_pending(e->l), -1);

	wr(e, LAPIC_SVR, 0x127);
	assert_int_equal(rd(e, LAPIC_SVR), 0x127);
	lapic_set_irq(e->l, 0x40, false);
	lapic_set_irq(e->l, 0x90, false);
	/* the vCPU acks a vector that is not (or no longer) deliverable: spurious vector */
	assert_int_equal(lapic_ack(e->l, 0x55), 0x27);
	assert_int_equal(lapic_ack(e->l, 3), 0x27);
	assert_int_equal(lapic_ack(e->l, 1000), 0x27);
	wr(e, LAPIC_TPR, 0xa0);
	assert_int_equal(lapic_ack(e->l, 0x90), 0x27); /* masked by TPR since */
	assert_false(isr(e, 0x90));
	assert_true(irr(e, 0x90));
	wr(e, LAPIC_TPR, 0);

	/* software disable: IRR held, nothing delivered, LVTs masked and stay masked */
	wr(e, LAPIC_LVT_LINT0, 0x700);
	wr(e, LAPIC_SVR, 0x027);
	assert_int_equal(lapic_pending(e->l), -1);
	assert_true(irr(e, 0x90));
	assert_int_equal(rd(e, LAPIC_LVT_LINT0), 0x10700);
	wr(e, LAPIC_LVT_LINT0, 0x700);
	assert_int_equal(rd(e, LAPIC_LVT_LINT0), 0x10700);
	wr(e, LAPIC_LVT_TIMER, 0x20);
	assert_int_equal(rd(e, LAPIC_LVT_TIMER), 0x10020);
	lapic_set_irq(e->l, 0x70, false);
	assert_false(irr(e, 0x70));
	/* NMI is still accepted */
	lapic_deliver(e->l, LAPIC_DM_NMI, 0, false);
	assert_true(lapic_take_nmi(e->l));
	/* re-enable: the held interrupts come through; LVTs stay masked until written */
	wr(e, LAPIC_SVR, 0x127);
	assert_int_equal(rd(e, LAPIC_LVT_LINT0), 0x10700);
	assert_int_equal(take(e), 0x90);
	wr(e, LAPIC_EOI, 0);
	assert_int_equal(take(e), 0x40);

	struct lapic_stats st;
	lapic_get_stats(e->l, &st);
	assert_int_equal(st.nr_spurious, 4);
	assert_int_equal(st.nr_dropped, 2);
}

/* ---- timer (SDM 11.5.4) ---- */

static void test_timer_divide(void **state)
{
	struct env *e = *state;
	static const struct {
		uint32_t dcr;
		uint32_t div;
	} t[] = { { 0x0, 2 },  { 0x1, 4 },  { 0x2, 8 },	  { 0x3, 16 },
		  { 0x8, 32 }, { 0x9, 64 }, { 0xa, 128 }, { 0xb, 1 } };

	enable(e);
	wr(e, LAPIC_LVT_TIMER, 0x40);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		e->now = 1000000;
		wr(e, LAPIC_TIMER_DCR, t[i].dcr);
		wr(e, LAPIC_TIMER_ICR, 100000);
		/* 1 GHz bus: one tick every div ns */
		e->now += 1000;
		assert_int_equal(rd(e, LAPIC_TIMER_CCR), 100000 - 1000 / t[i].div);
		e->now += t[i].div - 1;
		assert_int_equal(rd(e, LAPIC_TIMER_CCR), 100000 - (1000 + t[i].div - 1) / t[i].div);
		assert_int_equal(e->armed, 1000000 + 100000ull * t[i].div);
	}
	wr(e, LAPIC_TIMER_ICR, 0); /* stops it */
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 0);
	assert_int_equal(e->armed, UINT64_MAX);
}

static void test_timer_oneshot(void **state)
{
	struct env *e = *state;

	enable(e);
	wr(e, LAPIC_LVT_TIMER, 0x40); /* one-shot, unmasked */
	wr(e, LAPIC_TIMER_DCR, 0xb);  /* divide by 1 */
	e->now = 1000;
	wr(e, LAPIC_TIMER_ICR, 1000);
	assert_int_equal(rd(e, LAPIC_TIMER_ICR), 1000);
	assert_int_equal(e->armed, 2000);
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 1000);
	e->now = 1001;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 999);
	e->now = 1500;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 500);
	e->now = 1999;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 1);
	/* an early call is harmless and re-arms */
	fire(e, 1999);
	assert_false(irr(e, 0x40));
	assert_int_equal(e->armed, 2000);
	fire(e, 2000);
	assert_true(irr(e, 0x40));
	assert_int_equal(e->armed, UINT64_MAX);
	e->now = 5000;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 0);
	assert_int_equal(rd(e, LAPIC_TIMER_ICR), 1000);
	fire(e, 6000); /* once only */
	assert_int_equal(take(e), 0x40);
	wr(e, LAPIC_EOI, 0);
	fire(e, 7000);
	assert_int_equal(lapic_pending(e->l), -1);
	struct lapic_stats st;
	lapic_get_stats(e->l, &st);
	assert_int_equal(st.nr_timer_fires, 1);

	/* the count reaching 0 is also noticed by a read of CCR (late host timer) */
	e->now = 10000;
	wr(e, LAPIC_TIMER_ICR, 10);
	e->now = 10010;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 0);
	assert_true(irr(e, 0x40));

	/* rewriting the initial count restarts the count */
	take(e);
	wr(e, LAPIC_EOI, 0);
	e->now = 20000;
	wr(e, LAPIC_TIMER_ICR, 100);
	e->now = 20050;
	wr(e, LAPIC_TIMER_ICR, 100);
	e->now = 20100;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 50);
	assert_false(irr(e, 0x40));
	assert_int_equal(e->armed, 20150);
}

/* Counting at a bus clock that is not a divisor of 1 GHz, over minutes. */
static void test_timer_precise(void **state)
{
	struct env *e = *state;
	struct lapic_config cfg = env_config(e, 0, true);
	cfg.bus_hz = 24000000; /* a 24 MHz crystal (CPUID 0x15 style) */
	lapic_destroy(e->l);
	e->l = lapic_create(&cfg);

	enable(e);
	wr(e, LAPIC_LVT_TIMER, 0x30);
	wr(e, LAPIC_TIMER_DCR, 0x3); /* 16: 1.5 MHz, 666.67 ns per tick */
	e->now = 123456789;
	wr(e, LAPIC_TIMER_ICR, 0xffffffff);
	/* expiry: (2^32-1) ticks * 16 / 24 MHz = 2863.31153 s exactly */
	assert_int_equal(e->armed, 123456789ull + 2863311530000ull);
	for (uint64_t dt = 0; dt < 2863311530000ull; dt += 98765431111ull) {
		e->now = 123456789 + dt;
		uint64_t ticks = dt * 3 / 2000; /* 24e6 / (16 * 1e9) */
		assert_int_equal(rd(e, LAPIC_TIMER_CCR), 0xffffffffull - ticks);
	}
	e->now = 123456789ull + 2863311529999ull;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 1);
	e->now++;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 0);
	assert_true(irr(e, 0x30));

	/* divide by 128 at 1 GHz: the longest one-shot, ~550 s */
	cfg.bus_hz = 1000000000;
	lapic_destroy(e->l);
	e->l = lapic_create(&cfg);
	enable(e);
	wr(e, LAPIC_LVT_TIMER, 0x30);
	wr(e, LAPIC_TIMER_DCR, 0xa);
	e->now = 0;
	wr(e, LAPIC_TIMER_ICR, 0xffffffff);
	assert_int_equal(e->armed, 0xffffffffull * 128);
	e->now = 500000000000ull;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 0xffffffffull - 500000000000ull / 128);
}

static void test_timer_periodic(void **state)
{
	struct env *e = *state;

	enable(e);
	wr(e, LAPIC_TIMER_DCR, 0xb);
	wr(e, LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | 0x41);
	e->now = 0;
	wr(e, LAPIC_TIMER_ICR, 1000000); /* 1 ms */
	assert_int_equal(e->armed, 1000000);
	e->now = 999999;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 1);
	e->now = 1000000;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 1000000); /* reloaded */
	e->now = 1250000;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 750000);
	/* the read above already delivered the first expiry and re-armed */
	assert_true(irr(e, 0x41));
	assert_int_equal(e->armed, 2000000);
	fire(e, 1000001); /* the host timer, late: nothing new */
	assert_int_equal(e->armed, 2000000);
	assert_int_equal(take(e), 0x41);
	wr(e, LAPIC_EOI, 0);
	fire(e, 2000000);
	assert_true(irr(e, 0x41));
	assert_int_equal(e->armed, 3000000);
	/* two periods missed: one interrupt (IRR is a bit), armed for the next period */
	fire(e, 4500000);
	assert_int_equal(e->armed, 5000000);
	struct lapic_stats st;
	lapic_get_stats(e->l, &st);
	assert_int_equal(st.nr_timer_fires, 3);
	assert_int_equal(st.nr_coalesced, 1);
	e->now = 4500000;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 500000);

	/* periodic -> one-shot: the count goes on and stops at 0 */
	wr(e, LAPIC_LVT_TIMER, 0x41);
	assert_int_equal(e->armed, 5000000);
	e->now = 4900000;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 100000);
	fire(e, 5000000);
	e->now = 5100000;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 0);
	assert_int_equal(e->armed, UINT64_MAX);
	/* one-shot at 0 -> periodic: stays stopped until ICR is written */
	wr(e, LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | 0x41);
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 0);
	assert_int_equal(e->armed, UINT64_MAX);

	/* a divide change in the middle of a period: the count continues at the new rate */
	e->now = 10000000;
	wr(e, LAPIC_TIMER_ICR, 1000);
	e->now = 10000400;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 600);
	wr(e, LAPIC_TIMER_DCR, 0x0); /* divide by 2 */
	e->now = 10000600;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 500);
	e->now = 10001600; /* 600 ticks of 2 ns = 1200 ns after the change */
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 1000);
	e->now = 10002600; /* after the reload, periods are 1000 ticks of 2 ns */
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 500);
}

/* A period far below the host's resolution: count exact, host wake-ups at least 20 us apart. */
static void test_timer_periodic_tiny(void **state)
{
	struct env *e = *state;

	enable(e);
	wr(e, LAPIC_TIMER_DCR, 0xb);
	wr(e, LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | 0x41);
	e->now = 1000;
	wr(e, LAPIC_TIMER_ICR, 10);
	assert_int_equal(e->armed, 1000 + 20000);
	e->now = 1000 + 12345;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 10 - 12345 % 10);
	fire(e, 21000);
	assert_true(irr(e, 0x41));
	assert_int_equal(e->armed, 41000);
}

/* A masked LVT timer counts but raises nothing and arms no host timer. */
static void test_timer_masked(void **state)
{
	struct env *e = *state;

	enable(e);
	wr(e, LAPIC_TIMER_DCR, 0xb);
	wr(e, LAPIC_LVT_TIMER, LAPIC_LVT_MASKED | 0x40);
	e->now = 0;
	wr(e, LAPIC_TIMER_ICR, 100);
	assert_int_equal(e->armed, UINT64_MAX);
	assert_int_equal(e->nr_arm, 0);
	e->now = 30;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 70);
	e->now = 100;
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 0);
	assert_false(irr(e, 0x40));
	/* unmasking after the expiry delivers nothing (the interrupt was masked when it fired) */
	wr(e, LAPIC_LVT_TIMER, 0x40);
	assert_false(irr(e, 0x40));
	assert_int_equal(e->armed, UINT64_MAX);
	/* unmasking a running timer arms it */
	wr(e, LAPIC_LVT_TIMER, LAPIC_LVT_MASKED | 0x40);
	e->now = 200;
	wr(e, LAPIC_TIMER_ICR, 100);
	assert_int_equal(e->armed, UINT64_MAX);
	e->now = 250;
	wr(e, LAPIC_LVT_TIMER, 0x40);
	assert_int_equal(e->armed, 300);
	fire(e, 300);
	assert_true(irr(e, 0x40));
	/* software disable while armed: masked, host timer cancelled */
	take(e);
	wr(e, LAPIC_EOI, 0);
	e->now = 400;
	wr(e, LAPIC_TIMER_ICR, 100);
	assert_int_equal(e->armed, 500);
	wr(e, LAPIC_SVR, 0xff);
	assert_int_equal(e->armed, UINT64_MAX);
	assert_int_equal(rd(e, LAPIC_LVT_TIMER), 0x10040);
}

static void test_tsc_deadline(void **state)
{
	struct env *e = *state;

	enable(e);
	/* not in TSC-deadline mode: MSR writes ignored, reads 0 (SDM 11.5.4.1) */
	lapic_write_tsc_deadline(e->l, 5000, 0);
	assert_int_equal(lapic_read_tsc_deadline(e->l, 0), 0);
	wr(e, LAPIC_LVT_TIMER, LAPIC_TIMER_TSC_DEADLINE | 0x42);
	assert_int_equal(rd(e, LAPIC_LVT_TIMER), 0x40042);
	/* initial count writes are ignored, current count reads 0 */
	wr(e, LAPIC_TIMER_ICR, 1000);
	assert_int_equal(rd(e, LAPIC_TIMER_ICR), 0);
	assert_int_equal(rd(e, LAPIC_TIMER_CCR), 0);
	/* TSC = now * 2 (2 GHz): deadline 3001 at now 1000 (TSC 2000) -> ns 1501 (rounded up) */
	lapic_write_tsc_deadline(e->l, 3001, 1000);
	assert_int_equal(lapic_read_tsc_deadline(e->l, 1000), 3001);
	assert_int_equal(e->armed, 1501);
	fire(e, 1500); /* TSC 3000: not yet */
	assert_false(irr(e, 0x42));
	assert_int_equal(e->armed, 1501);
	fire(e, 1501);
	assert_true(irr(e, 0x42));
	assert_int_equal(lapic_read_tsc_deadline(e->l, 1501), 0); /* disarmed when it fires */
	assert_int_equal(e->armed, UINT64_MAX);
	take(e);
	wr(e, LAPIC_EOI, 0);
	/* a deadline already passed fires at once */
	lapic_write_tsc_deadline(e->l, 100, 2000);
	assert_true(irr(e, 0x42));
	assert_int_equal(lapic_read_tsc_deadline(e->l, 2000), 0);
	take(e);
	wr(e, LAPIC_EOI, 0);
	/* writing 0 disarms */
	lapic_write_tsc_deadline(e->l, 1000000, 2000);
	assert_int_equal(e->armed, 2000 + (1000000 - 4000) / 2);
	lapic_write_tsc_deadline(e->l, 0, 2000);
	assert_int_equal(e->armed, UINT64_MAX);
	fire(e, 10000000);
	assert_false(irr(e, 0x42));
	/* leaving TSC-deadline mode disarms; coming back the MSR is 0 */
	lapic_write_tsc_deadline(e->l, 1000000, 2000);
	e->now = 3000;
	wr(e, LAPIC_LVT_TIMER, 0x42);
	assert_int_equal(e->armed, UINT64_MAX);
	wr(e, LAPIC_LVT_TIMER, LAPIC_TIMER_TSC_DEADLINE | 0x42);
	assert_int_equal(lapic_read_tsc_deadline(e->l, 3000), 0);
	/* entering TSC-deadline mode stops a one-shot count (ICR reads 0) */
	wr(e, LAPIC_LVT_TIMER, 0x42);
	wr(e, LAPIC_TIMER_ICR, 5000);
	wr(e, LAPIC_LVT_TIMER, LAPIC_TIMER_TSC_DEADLINE | 0x42);
	assert_int_equal(rd(e, LAPIC_TIMER_ICR), 0);
	assert_int_equal(e->armed, UINT64_MAX);
	/* masked: fires (MSR cleared) without an interrupt */
	wr(e, LAPIC_LVT_TIMER, LAPIC_TIMER_TSC_DEADLINE | LAPIC_LVT_MASKED | 0x42);
	lapic_write_tsc_deadline(e->l, 8000, 3000);
	assert_int_equal(lapic_read_tsc_deadline(e->l, 3999), 8000);
	assert_int_equal(lapic_read_tsc_deadline(e->l, 4000), 0);
	assert_false(irr(e, 0x42));
}

/* TSC-deadline mode with the vCPU's own TSC (read_tsc hook): offset, and a TSC write. */
static void test_tsc_deadline_hook(void **state)
{
	struct env *e = *state;
	struct lapic_config cfg;

	e->custom_tsc = true;
	e->tsc_offset = 1000000;
	cfg = env_config(e, 0, true);
	cfg.tsc_hz = 3000000000ull;
	lapic_destroy(e->l);
	e->l = lapic_create(&cfg);
	enable(e);
	wr(e, LAPIC_LVT_TIMER, LAPIC_TIMER_TSC_DEADLINE | 0x42);
	/* TSC at 100 ns is 1000300; deadline 1003300 -> 1000 ns later */
	lapic_write_tsc_deadline(e->l, 1003300, 100);
	assert_int_equal(e->armed, 1100);
	/* the guest moves its TSC back by 3000 (1 us): the deadline moves 1 us later */
	e->tsc_offset -= 3000;
	lapic_tsc_changed(e->l, 500);
	assert_int_equal(e->armed, 2100);
	fire(e, 1100); /* the stale host timer: re-armed */
	assert_false(irr(e, 0x42));
	assert_int_equal(e->armed, 2100);
	fire(e, 2100);
	assert_true(irr(e, 0x42));
}

/* ---- LINT0 ExtINT, LINT1 NMI, fixed LINT ---- */

static void test_extint(void **state)
{
	struct env *e = *state;

	e->extint_vector = 0x20;
	e->extint_lowers = true;
	lapic_set_lint(e->l, 0, 1); /* reset: LINT0 masked */
	assert_int_equal(lapic_pending(e->l), -1);
	lapic_set_lint(e->l, 0, 0);
	lapic_bios_init(e->l, e->now);
	int k = atomic_load(&e->kicks);
	lapic_set_lint(e->l, 0, 1);
	assert_true(atomic_load(&e->kicks) > k);
	/* ExtINT ignores TPR (it bypasses IRR/ISR) */
	wr(e, LAPIC_TPR, 0xff);
	assert_int_equal(lapic_pending(e->l), LAPIC_PENDING_EXTINT);
	wr(e, LAPIC_TPR, 0);
	/* a fixed interrupt deliverable now comes first */
	lapic_set_irq(e->l, 0x30, false);
	assert_int_equal(lapic_pending(e->l), 0x30);
	assert_int_equal(take(e), 0x30);
	assert_int_equal(lapic_pending(e->l), LAPIC_PENDING_EXTINT);
	/* the hook runs without the LAPIC lock: it lowers LINT0 itself */
	assert_int_equal(lapic_ack_extint(e->l), 0x20);
	assert_int_equal(lapic_pending(e->l), -1);
	assert_false(isr(e, 0x20)); /* no ISR bit, no EOI for ExtINT */
	/* masked LINT0: not pending, and unmasking while INTR is high makes it pending */
	lapic_set_lint(e->l, 0, 1);
	wr(e, LAPIC_LVT_LINT0, LAPIC_LVT_MASKED | 0x700);
	assert_int_equal(lapic_pending(e->l), -1);
	wr(e, LAPIC_LVT_LINT0, 0x700);
	assert_int_equal(lapic_pending(e->l), LAPIC_PENDING_EXTINT);
	lapic_set_lint(e->l, 0, 0);
	/* an IOAPIC pin in ExtINT mode: one message, then the vector from the 8259 */
	e->extint_lowers = false;
	e->extint_vector = 0x21;
	wr(e, LAPIC_LVT_LINT0, LAPIC_LVT_MASKED | 0x700);
	lapic_deliver(e->l, LAPIC_DM_EXTINT, 0, false);
	assert_int_equal(lapic_pending(e->l), LAPIC_PENDING_EXTINT);
	assert_int_equal(lapic_ack_extint(e->l), 0x21);
	assert_int_equal(lapic_pending(e->l), -1);
	struct lapic_stats st;
	lapic_get_stats(e->l, &st);
	assert_int_equal(st.nr_extint, 2);
}

static void test_lint1_nmi(void **state)
{
	struct env *e = *state;

	lapic_set_lint(e->l, 1, 1); /* masked at reset */
	assert_false(lapic_take_nmi(e->l));
	lapic_set_lint(e->l, 1, 0);
	lapic_bios_init(e->l, e->now);
	lapic_set_lint(e->l, 1, 1);
	assert_true(lapic_take_nmi(e->l));
	assert_false(lapic_take_nmi(e->l));
	lapic_set_lint(e->l, 1, 1); /* still high: no new edge */
	assert_false(lapic_take_nmi(e->l));
	lapic_set_lint(e->l, 1, 0);
	lapic_set_lint(e->l, 1, 1);
	assert_true(lapic_take_nmi(e->l));
	lapic_set_lint(e->l, 1, 0);
	/* active-low polarity: the falling level edge is the assertion */
	wr(e, LAPIC_LVT_LINT1, LAPIC_LVT_ACTIVE_LOW | 0x400);
	assert_false(lapic_take_nmi(e->l)); /* an LVT write is no edge */
	lapic_set_lint(e->l, 1, 1);
	assert_false(lapic_take_nmi(e->l));
	lapic_set_lint(e->l, 1, 0);
	assert_true(lapic_take_nmi(e->l));
	/* NMI IPI and pins are independent of RFLAGS.IF and TPR */
	lapic_deliver(e->l, LAPIC_DM_NMI, 0, false);
	assert_true(lapic_take_nmi(e->l));
	/* other pin numbers are ignored */
	lapic_set_lint(e->l, 2, 1);
	lapic_set_lint(e->l, 99, 1);
}

static void test_lint_fixed(void **state)
{
	struct env *e = *state;

	enable(e);
	/* edge-triggered fixed LINT0 */
	wr(e, LAPIC_LVT_LINT0, 0x71);
	lapic_set_lint(e->l, 0, 1);
	assert_true(irr(e, 0x71));
	assert_int_equal(take(e), 0x71);
	lapic_set_lint(e->l, 0, 1); /* no new edge */
	assert_false(irr(e, 0x71));
	wr(e, LAPIC_EOI, 0);
	lapic_set_lint(e->l, 0, 0);
	/* level-triggered: remote IRR until EOI; re-delivered if still asserted */
	wr(e, LAPIC_LVT_LINT0, LAPIC_LVT_LEVEL | 0x70);
	lapic_set_lint(e->l, 0, 1);
	assert_true(irr(e, 0x70));
	assert_int_equal(rd(e, LAPIC_LVT_LINT0), LAPIC_LVT_LEVEL | LAPIC_LVT_REMOTE_IRR | 0x70);
	assert_int_equal(take(e), 0x70);
	lapic_set_lint(e->l, 0, 1);
	assert_false(irr(e, 0x70));
	wr(e, LAPIC_EOI, 0);
	assert_true(irr(e, 0x70)); /* still asserted */
	assert_int_equal(take(e), 0x70);
	lapic_set_lint(e->l, 0, 0);
	wr(e, LAPIC_EOI, 0);
	assert_false(irr(e, 0x70));
	assert_int_equal(rd(e, LAPIC_LVT_LINT0), LAPIC_LVT_LEVEL | 0x70);
	assert_int_equal(e->nr_eoi, 0); /* not broadcast to IOAPICs */
}

/* ---- level-triggered EOI broadcast (SDM 11.8.5) ---- */

static void test_eoi_broadcast(void **state)
{
	struct env *e = *state;

	enable(e);
	lapic_set_irq(e->l, 0x61, false);
	lapic_set_irq(e->l, 0x60, true);
	assert_true(tmr(e, 0x60));
	assert_false(tmr(e, 0x61));
	assert_int_equal(take(e), 0x61);
	wr(e, LAPIC_EOI, 0);
	assert_int_equal(e->nr_eoi, 0); /* edge: no broadcast */
	assert_int_equal(take(e), 0x60);
	/* the IOAPIC (the hook) sees the line still asserted and re-delivers, from inside the hook:
	 * would deadlock if the LAPIC lock were held */
	e->eoi_reasserts = true;
	wr(e, LAPIC_EOI, 0);
	assert_int_equal(e->nr_eoi, 1);
	assert_int_equal(e->eoi[0], 0x60);
	assert_true(irr(e, 0x60));
	assert_true(tmr(e, 0x60));
	e->eoi_reasserts = false;
	assert_int_equal(take(e), 0x60);
	wr(e, LAPIC_EOI, 0);
	assert_int_equal(e->nr_eoi, 2);
	/* an edge interrupt on the same vector clears TMR */
	lapic_set_irq(e->l, 0x60, false);
	assert_false(tmr(e, 0x60));
	take(e);
	wr(e, LAPIC_EOI, 0);
	assert_int_equal(e->nr_eoi, 2);
	struct lapic_stats st;
	lapic_get_stats(e->l, &st);
	assert_int_equal(st.nr_eoi_broadcast, 2);
}

/* ---- IPIs ---- */

static void test_self_ipi(void **state)
{
	struct env *e = *state;
	struct lapic_config cfg = env_config(e, 0, true);

	enable(e);
	/* no send_ipi hook (one CPU): shorthand self, own ID, broadcast all reach this LAPIC */
	wr(e, LAPIC_ICR_LO, (LAPIC_SH_SELF << 18) | 0x50);
	assert_true(irr(e, 0x50));
	assert_int_equal(rd(e, LAPIC_ICR_LO) & (1u << 12), 0); /* delivery status idle */
	wr(e, LAPIC_ICR_HI, 0);
	wr(e, LAPIC_ICR_LO, 0x51); /* physical, dest 0 = us */
	assert_true(irr(e, 0x51));
	wr(e, LAPIC_ICR_HI, 0x01000000);
	wr(e, LAPIC_ICR_LO, 0x52); /* dest 1: nobody */
	assert_false(irr(e, 0x52));
	wr(e, LAPIC_ICR_LO, (LAPIC_SH_OTHERS << 18) | 0x53);
	assert_false(irr(e, 0x53));
	wr(e, LAPIC_ICR_LO, (LAPIC_SH_ALL << 18) | 0x54);
	assert_true(irr(e, 0x54));
	wr(e, LAPIC_ICR_HI, 0xff000000);
	wr(e, LAPIC_ICR_LO, 0x55);
	assert_true(irr(e, 0x55));
	/* a level-triggered self IPI sets TMR */
	wr(e, LAPIC_ICR_LO, (LAPIC_SH_SELF << 18) | (1u << 15) | (1u << 14) | 0x56);
	assert_true(tmr(e, 0x56));

	/* with the hook: self still local, everything else to the machine, lock dropped */
	cfg.send_ipi = env_ipi;
	lapic_destroy(e->l);
	e->l = lapic_create(&cfg);
	e->route[0] = e->l;
	e->nr_route = 1;
	e->ipi_routes = true;
	enable(e);
	wr(e, LAPIC_ICR_LO, (LAPIC_SH_SELF << 18) | 0x60);
	assert_true(irr(e, 0x60));
	assert_int_equal(e->nr_ipi, 0);
	wr(e, LAPIC_ICR_HI, 0x00000000);
	wr(e, LAPIC_ICR_LO, 0x61);
	assert_int_equal(e->nr_ipi, 1);
	assert_true(irr(e, 0x61)); /* routed back to us through lapic_route */
	assert_int_equal(e->ipi[0].vector, 0x61);
	assert_int_equal(e->ipi[0].mode, LAPIC_DM_FIXED);
	assert_int_equal(e->ipi[0].dest, 0);
	assert_false(e->ipi[0].logical);
	assert_int_equal(e->ipi[0].shorthand, LAPIC_SH_NONE);
	assert_int_equal(e->ipi[0].src_id, 0);
	struct lapic_stats st;
	lapic_get_stats(e->l, &st);
	assert_int_equal(st.nr_ipis_sent, 2);
}

static struct lapic *mk(struct env *e, uint8_t id, bool bsp)
{
	struct lapic_config cfg = env_config(e, id, bsp);
	struct lapic *l = lapic_create(&cfg);
	lapic_write(l, LAPIC_SVR, 0x1ff, 0);
	return l;
}

static bool l_irr(struct lapic *l, unsigned v)
{
	return lapic_read(l, LAPIC_IRR + (v / 32) * 16, 0) & (1u << (v % 32));
}

static void test_destinations(void **state)
{
	struct env *e = *state;
	struct lapic *a[4];
	struct lapic_ipi ipi = { .mode = LAPIC_DM_FIXED };

	for (int i = 0; i < 4; i++)
		a[i] = mk(e, (uint8_t)i, i == 0);

	/* physical */
	ipi.vector = 0x40;
	ipi.dest = 2;
	assert_int_equal(lapic_route(a, 4, &ipi), 1);
	assert_true(l_irr(a[2], 0x40));
	assert_false(l_irr(a[1], 0x40));
	ipi.vector = 0x41;
	ipi.dest = 0xff; /* broadcast */
	assert_int_equal(lapic_route(a, 4, &ipi), 4);
	ipi.dest = 9;
	assert_int_equal(lapic_route(a, 4, &ipi), 0);

	/* logical flat (SDM 11.6.2.2): LDR bit per CPU */
	for (int i = 0; i < 4; i++)
		lapic_write(a[i], LAPIC_LDR, (1u << i) << 24, 0);
	ipi.logical = true;
	ipi.vector = 0x42;
	ipi.dest = 0x05;
	assert_int_equal(lapic_route(a, 4, &ipi), 2);
	assert_true(l_irr(a[0], 0x42) && l_irr(a[2], 0x42));
	assert_false(l_irr(a[1], 0x42) || l_irr(a[3], 0x42));
	ipi.dest = 0;
	assert_int_equal(lapic_route(a, 4, &ipi), 0);

	/* logical cluster: LDR[31:28] cluster, [27:24] member bits */
	for (int i = 0; i < 4; i++) {
		lapic_write(a[i], LAPIC_DFR, 0x0fffffff, 0);
		uint32_t ldr = ((uint32_t)(1 + i / 2) << 28) | ((1u << (i % 2)) << 24);
		lapic_write(a[i], LAPIC_LDR, ldr, 0);
	}
	ipi.vector = 0x43;
	ipi.dest = 0x12; /* cluster 1, member bit 1: a[1] */
	assert_int_equal(lapic_route(a, 4, &ipi), 1);
	assert_true(l_irr(a[1], 0x43));
	ipi.vector = 0x44;
	ipi.dest = 0x23; /* cluster 2, both: a[2], a[3] */
	assert_int_equal(lapic_route(a, 4, &ipi), 2);
	assert_true(l_irr(a[2], 0x44) && l_irr(a[3], 0x44));
	ipi.dest = 0xf1; /* all clusters, member bit 0: a[0], a[2] */
	ipi.vector = 0x45;
	assert_int_equal(lapic_route(a, 4, &ipi), 2);
	assert_true(l_irr(a[0], 0x45) && l_irr(a[2], 0x45));

	/* shorthands */
	ipi = (struct lapic_ipi){ .mode = LAPIC_DM_FIXED, .vector = 0x46, .src_id = 1,
				  .shorthand = LAPIC_SH_OTHERS };
	assert_int_equal(lapic_route(a, 4, &ipi), 3);
	assert_false(l_irr(a[1], 0x46));
	ipi.shorthand = LAPIC_SH_ALL;
	ipi.vector = 0x47;
	assert_int_equal(lapic_route(a, 4, &ipi), 4);
	ipi.shorthand = LAPIC_SH_SELF;
	ipi.vector = 0x48;
	assert_int_equal(lapic_route(a, 4, &ipi), 1);
	assert_true(l_irr(a[1], 0x48));

	/* lowest priority (SDM 11.6.2.4): the lowest APR among the matches */
	ipi = (struct lapic_ipi){ .mode = LAPIC_DM_LOWEST, .vector = 0x30, .dest = 0xff };
	for (int i = 0; i < 4; i++)
		lapic_write(a[i], LAPIC_TPR, i == 3 ? 0x10 : 0x80, 0);
	assert_int_equal(lapic_route(a, 4, &ipi), 1);
	assert_true(l_irr(a[3], 0x30));
	lapic_write(a[3], LAPIC_TPR, 0x90, 0);
	ipi.vector = 0x31;
	assert_int_equal(lapic_route(a, 4, &ipi), 1);
	assert_true(l_irr(a[0], 0x31)); /* tie at 0x80 (IRR 0x4x < TPR): the first */

	/* a globally disabled APIC matches nothing */
	assert_int_equal(lapic_set_base_msr(a[2], 0xfee00000, 0), 0);
	ipi = (struct lapic_ipi){ .mode = LAPIC_DM_FIXED, .vector = 0x49, .dest = 2 };
	assert_false(lapic_matches(a[2], &ipi));
	assert_int_equal(lapic_route(a, 4, &ipi), 0);

	for (int i = 0; i < 4; i++)
		lapic_destroy(a[i]);
}

/* The INIT-SIPI-SIPI sequence Linux uses to start an AP, through ICR writes and routing. */
static void test_init_sipi(void **state)
{
	struct env *e = *state;
	struct lapic_config cfg = env_config(e, 0, true);
	struct lapic *ap;

	cfg.send_ipi = env_ipi;
	lapic_destroy(e->l);
	e->l = lapic_create(&cfg);
	ap = mk(e, 1, false);
	e->route[0] = e->l;
	e->route[1] = ap;
	e->nr_route = 2;
	e->ipi_routes = true;
	enable(e);

	/* an AP at power-up waits for SIPI; a SIPI now starts it */
	assert_true(lapic_waiting_for_sipi(ap));
	lapic_write(ap, LAPIC_TPR, 0x20, 0);
	lapic_write(ap, LAPIC_LDR, 0x02000000, 0);

	/* INIT assert to APIC 1 (ICR 0x0000c500) */
	wr(e, LAPIC_ICR_HI, 0x01000000);
	wr(e, LAPIC_ICR_LO, 0x0000c500);
	assert_true(lapic_take_init(ap));
	assert_false(lapic_take_init(ap));
	assert_false(lapic_take_init(e->l));
	/* INIT reset everything but the ID (SDM 11.4.7.3) */
	assert_int_equal(lapic_read(ap, LAPIC_SVR, 0), 0xff);
	assert_int_equal(lapic_read(ap, LAPIC_TPR, 0), 0);
	assert_int_equal(lapic_read(ap, LAPIC_LDR, 0), 0);
	assert_int_equal(lapic_read(ap, LAPIC_ID, 0), 0x01000000);
	assert_int_equal(lapic_get_base_msr(ap), 0xfee00800);
	assert_true(lapic_waiting_for_sipi(ap));
	/* INIT de-assert (ICR 0x00008500): no effect */
	wr(e, LAPIC_ICR_LO, 0x00008500);
	assert_false(lapic_take_init(ap));
	/* STARTUP vector 0x9a (ICR 0x0000069a), twice as Linux does */
	assert_int_equal(lapic_take_sipi(ap), -1);
	wr(e, LAPIC_ICR_LO, 0x0000069a);
	wr(e, LAPIC_ICR_LO, 0x0000069b); /* while a SIPI is pending: ignored */
	assert_int_equal(lapic_take_sipi(ap), 0x9a);
	assert_false(lapic_waiting_for_sipi(ap));
	wr(e, LAPIC_ICR_LO, 0x0000069c); /* running: ignored */
	assert_int_equal(lapic_take_sipi(ap), -1);
	/* the BSP never sees a SIPI */
	assert_int_equal(lapic_take_sipi(e->l), -1);
	struct lapic_stats st;
	lapic_get_stats(ap, &st);
	assert_int_equal(st.nr_init, 1);
	assert_int_equal(st.nr_sipi, 1);
	/* NMI IPI to all but self */
	wr(e, LAPIC_ICR_LO, (LAPIC_SH_OTHERS << 18) | 0x400);
	assert_true(lapic_take_nmi(ap));
	assert_false(lapic_take_nmi(e->l));
	/* INIT to the BSP: reset, but no wait for SIPI */
	lapic_deliver(e->l, LAPIC_DM_INIT, 0, false);
	assert_true(lapic_take_init(e->l));
	assert_false(lapic_waiting_for_sipi(e->l));
	/* SMI: ignored */
	lapic_deliver(ap, LAPIC_DM_SMI, 0, false);
	lapic_destroy(ap);
}

/* ---- IA32_APIC_BASE (SDM 11.4.4, 11.4.3) ---- */

static void test_base_msr(void **state)
{
	struct env *e = *state;
	uint32_t v;

	assert_int_equal(lapic_set_base_msr(e->l, 0xfee00900 | LAPIC_BASE_X2APIC, 0), -EINVAL);
	assert_int_equal(lapic_set_base_msr(e->l, 0xfee00901, 0), -EINVAL);
	assert_int_equal(lapic_set_base_msr(e->l, 0xfee00b00, 0), -EINVAL); /* bit 9 */
	assert_int_equal(lapic_set_base_msr(e->l, 0x1000000000ull | 0x900, 0), -EINVAL);
	assert_int_equal(lapic_get_base_msr(e->l), 0xfee00900);
	/* move the page; the BSP flag is the hardware's */
	assert_int_equal(lapic_set_base_msr(e->l, 0xfed00800, 0), 0);
	assert_int_equal(lapic_get_base_msr(e->l), 0xfed00900);
	assert_int_equal(lapic_set_base_msr(e->l, 0xfee00800, 0), 0);

	/* globally disable: power-up state, no MMIO, nothing accepted */
	enable(e);
	wr(e, LAPIC_TPR, 0x20);
	lapic_set_irq(e->l, 0x80, false);
	assert_int_equal(lapic_set_base_msr(e->l, 0xfee00100, 0), 0);
	assert_false(lapic_mmio_enabled(e->l));
	lapic_mmio_read(e->l, LAPIC_VERSION, &v, 4);
	assert_int_equal(v, 0xffffffff);
	v = 0x1ff;
	lapic_mmio_write(e->l, LAPIC_SVR, &v, 4);
	lapic_set_irq(e->l, 0x81, false);
	lapic_deliver(e->l, LAPIC_DM_NMI, 0, false);
	assert_false(lapic_take_nmi(e->l));
	assert_int_equal(lapic_pending(e->l), -1);
	/* without an APIC, LINT0 is INTR and LINT1 is NMI */
	e->extint_vector = 0x08;
	lapic_set_lint(e->l, 0, 1);
	assert_int_equal(lapic_pending(e->l), LAPIC_PENDING_EXTINT);
	assert_int_equal(lapic_ack_extint(e->l), 0x08);
	lapic_set_lint(e->l, 0, 0);
	assert_int_equal(lapic_pending(e->l), -1);
	lapic_set_lint(e->l, 1, 1);
	assert_true(lapic_take_nmi(e->l));
	lapic_set_lint(e->l, 1, 0);
	/* re-enabled: in the power-up state, software-disabled */
	assert_int_equal(lapic_set_base_msr(e->l, 0xfee00900, 0), 0);
	assert_int_equal(rd(e, LAPIC_SVR), 0xff);
	assert_int_equal(rd(e, LAPIC_TPR), 0);
	assert_false(irr(e, 0x80));
	assert_int_equal(rd(e, LAPIC_LVT_LINT0), 0x10000);

	/* MAXPHYADDR from the configuration */
	struct lapic_config cfg = env_config(e, 0, true);
	cfg.phys_addr_bits = 46;
	struct lapic *l = lapic_create(&cfg);
	assert_int_equal(lapic_set_base_msr(l, 0x3ffffffff000ull | 0x800, 0), 0);
	assert_int_equal(lapic_set_base_msr(l, 0x400000000000ull | 0x800, 0), -EINVAL);
	lapic_destroy(l);
}

/* ---- counters ---- */

static void test_stats(void **state)
{
	struct env *e = *state;
	char buf[512] = { 0 };

	enable(e);
	lapic_set_irq(e->l, 0x40, false);
	take(e);
	wr(e, LAPIC_EOI, 0);
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	lapic_print_stats(e->l, f);
	fclose(f);
	assert_non_null(strstr(buf, "lapic 0:"));
	assert_non_null(strstr(buf, " accepted 1"));
	assert_non_null(strstr(buf, " delivered 1"));
	assert_non_null(strstr(buf, " eoi 1"));
	assert_null(strstr(buf, "spurious"));
}

/* ---- the bus registration path ---- */

static void test_bus_register(void **state)
{
	struct env *e = *state;
	struct bus *bus = bus_create();
	uint32_t v = 0;

	assert_int_equal(lapic_register(e->l, bus, LAPIC_DEFAULT_BASE, NULL), 0);
	assert_int_equal(bus_mmio_read(bus, LAPIC_DEFAULT_BASE + LAPIC_VERSION, &v, 4), 0);
	assert_int_equal(v, 0x50014);
	v = 0x1ff;
	assert_int_equal(bus_mmio_write(bus, LAPIC_DEFAULT_BASE + LAPIC_SVR, &v, 4), 0);
	assert_int_equal(rd(e, LAPIC_SVR), 0x1ff);
	bus_destroy(bus);
}

/* ---- threads: IOAPIC-like senders against a vCPU-like taker ---- */

struct storm {
	struct lapic *l;
	atomic_bool stop;
	atomic_long sent;
};

static void *storm_sender(void *arg)
{
	struct storm *s = arg;
	unsigned seed = 99;
	while (!atomic_load(&s->stop)) {
		lapic_set_irq(s->l, (uint8_t)(0x20 + rand_r(&seed) % 0xd0), rand_r(&seed) & 1);
		atomic_fetch_add(&s->sent, 1);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct env *e = *state;
	struct storm s = { .l = e->l };
	pthread_t th[2];
	long taken = 0;

	enable(e);
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, storm_sender, &s);
	for (long i = 0; i < 20000000 && (taken < 2000 || i < 20000); i++) {
		int v = lapic_pending(e->l);
		if (v >= 0) {
			assert_int_equal(lapic_ack(e->l, v), v); /* nobody else takes it */
			wr(e, LAPIC_EOI, 0);
			taken++;
		}
		e->now += 100;
		fire(e, e->now);
	}
	atomic_store(&s.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_true(taken > 0);
	/* drain */
	while (lapic_pending(e->l) >= 0) {
		lapic_ack(e->l, lapic_pending(e->l));
		wr(e, LAPIC_EOI, 0);
	}
	for (int i = 0; i < 8; i++)
		assert_int_equal(rd(e, LAPIC_ISR + i * 16), 0);
}

/* ---- the LAPIC timer on the real host timer service (the machine's wiring) ---- */

/*
 * The machine's per-vCPU structure holds both: the timer is created first with the structure as
 * opaque (it cannot fire before the LAPIC arms it), then the LAPIC with arm_opaque = the timer.
 */
struct wired {
	struct lapic *l;
	struct timer *t;
	atomic_int kicks;
};

static void wired_kick(void *opaque)
{
	atomic_fetch_add(&((struct wired *)opaque)->kicks, 1);
}

static uint64_t wired_clock(void *opaque)
{
	(void)opaque;
	return clock_monotonic_ns();
}

static void wired_fire(void *opaque, uint64_t now_ns)
{
	lapic_timer(((struct wired *)opaque)->l, now_ns);
}

static void test_with_timer_service(void **state)
{
	(void)state;
	struct timer_service *svc = timer_service_create();
	struct wired w = { 0 };

	assert_non_null(svc);
	w.t = timer_new(svc, wired_fire, &w);
	struct lapic_config cfg = {
		.bsp = true,
		.bus_hz = 1000000000,
		.tsc_hz = 1000000000,
		.kick = wired_kick,
		.kick_opaque = &w,
		.clock_ns = wired_clock,
		.arm = timer_arm_hook,
		.arm_opaque = w.t,
	};
	w.l = lapic_create(&cfg);
	lapic_write(w.l, LAPIC_SVR, 0x1ff, clock_monotonic_ns());
	lapic_write(w.l, LAPIC_TIMER_DCR, 0xb, clock_monotonic_ns());

	/* one-shot, 2 ms */
	lapic_write(w.l, LAPIC_LVT_TIMER, 0xec, clock_monotonic_ns());
	uint64_t start = clock_monotonic_ns();
	lapic_write(w.l, LAPIC_TIMER_ICR, 2000000, start);
	assert_true(timer_pending(w.t));
	uint64_t end = start + 5000000000ull;
	while (lapic_pending(w.l) < 0 && clock_monotonic_ns() < end)
		sched_yield();
	assert_true(clock_monotonic_ns() - start >= 2000000);
	assert_int_equal(lapic_pending(w.l), 0xec);
	assert_true(atomic_load(&w.kicks) >= 1);
	assert_int_equal(lapic_ack(w.l, 0xec), 0xec);
	lapic_write(w.l, LAPIC_EOI, 0, clock_monotonic_ns());
	assert_false(timer_pending(w.t));

	/* periodic, 1 ms: at least 3 interrupts in a bit more than 3 ms */
	lapic_write(w.l, LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | 0xec, clock_monotonic_ns());
	lapic_write(w.l, LAPIC_TIMER_ICR, 1000000, clock_monotonic_ns());
	int got = 0;
	end = clock_monotonic_ns() + 5000000000ull;
	while (got < 3 && clock_monotonic_ns() < end) {
		if (lapic_pending(w.l) == 0xec) {
			lapic_ack(w.l, 0xec);
			lapic_write(w.l, LAPIC_EOI, 0, clock_monotonic_ns());
			got++;
		}
		sched_yield();
	}
	assert_int_equal(got, 3);
	lapic_write(w.l, LAPIC_TIMER_ICR, 0, clock_monotonic_ns());
	assert_false(timer_pending(w.t));

	/* teardown order: the timer first, then the LAPIC */
	timer_free(w.t);
	lapic_destroy(w.l);
	timer_service_destroy(svc);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_reset_values),
		T(test_reset_and_bios_init),
		T(test_writable_bits),
		T(test_mmio_sizes),
		T(test_hostile_every_offset),
		T(test_ppr),
		T(test_apr),
		T(test_priority_order),
		T(test_tpr_and_cr8),
		T(test_esr),
		T(test_spurious_and_sw_disable),
		T(test_timer_divide),
		T(test_timer_oneshot),
		T(test_timer_precise),
		T(test_timer_periodic),
		T(test_timer_periodic_tiny),
		T(test_timer_masked),
		T(test_tsc_deadline),
		T(test_tsc_deadline_hook),
		T(test_extint),
		T(test_lint1_nmi),
		T(test_lint_fixed),
		T(test_eoi_broadcast),
		T(test_self_ipi),
		T(test_destinations),
		T(test_init_sipi),
		T(test_base_msr),
		T(test_stats),
		T(test_bus_register),
		T(test_threads),
		cmocka_unit_test(test_with_timer_service),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
