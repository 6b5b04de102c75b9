/* SPDX-License-Identifier: MIT */
/*
 * Local APIC in xAPIC mode (include/omnivisor/hw/lapic.h, docs/lapic.md).
 * References are to the Intel SDM Vol. 3A, chapter 11 ("Advanced Programmable Interrupt
 * Controller (APIC)"; chapter 10 in editions before 2023).
 *
 * Everything happens under the LAPIC's mutex. Calls that flow "backwards" or sideways (EOI
 * broadcast, IPIs to the machine, the 8259 INTA cycle) are collected in a struct deferred while
 * the lock is held and made after it is released.
 *
 * The timer is never ticked: it is a start time and a start count, and the current count is
 * computed from now_ns with 128-bit arithmetic (ticks = elapsed_ns * bus_hz / (10^9 * divisor)),
 * so it is exact at any time; expiries are computed the other way round (the first ns at which
 * the count reaches 0) and handed to the arm hook.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "omnivisor/bus.h"
#include "omnivisor/hw/lapic.h"

#define NS_PER_S 1000000000ull

/* LVT entries, in the order of struct lapic.lvt */
enum { LVT_CMCI, LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_NR };

/* Writable bits of each LVT entry (SDM 11.5.1, Figure 11-8) */
static const uint32_t lvt_writable[LVT_NR] = {
	[LVT_CMCI] = 0x107ff,	 /* vector, delivery mode, mask */
	[LVT_TIMER] = 0x700ff,	 /* vector, mask, timer mode 18:17 */
	[LVT_THERMAL] = 0x107ff, /* vector, delivery mode, mask */
	[LVT_PERF] = 0x107ff,
	[LVT_LINT0] = 0x1a7ff, /* vector, delivery mode, polarity, trigger mode, mask */
	[LVT_LINT1] = 0x1a7ff,
	[LVT_ERROR] = 0x100ff, /* vector, mask */
};

#define ICR_LO_WRITABLE 0x000ccfffu /* vector, mode, dest mode, level, trigger, shorthand */
#define SVR_WRITABLE 0x3ffu	    /* vector, APIC enable, focus check; no EOI suppression */
#define DCR_WRITABLE 0xbu
#define DFR_RESERVED 0x0fffffffu /* reads as ones */

/*
 * Host wake-ups for the periodic timer are at least this far apart: a guest that programs a
 * 1-tick period gets its interrupts coalesced in IRR (as a busy CPU would) instead of a host
 * timer storm. The current count stays exact. 20 us = 50 kHz; Linux uses 100-1000 Hz.
 */
#define MIN_PERIODIC_REARM_NS 20000ull

struct lapic {
	pthread_mutex_t lock;
	struct lapic_config cfg;

	uint64_t base_msr;
	uint8_t id; /* ID register bits 31:24 */
	uint8_t tpr;
	uint32_t ldr, dfr, svr;
	uint32_t isr[8], tmr[8], irr[8];
	uint32_t esr;	      /* as last latched by an ESR write */
	uint32_t esr_pending; /* errors since (SDM 11.5.3) */
	uint32_t lvt[LVT_NR];
	uint32_t icr_lo, icr_hi;
	uint32_t dcr;

	/* timer, one-shot/periodic: count(now) from (base_ns, base_count) */
	uint32_t timer_initial;
	bool timer_running;	 /* counting (one-shot not yet at 0, or periodic) */
	uint64_t timer_base_ns;	 /* time the count was base_count */
	uint32_t timer_base_count;
	uint64_t timer_expiries; /* periodic: expiries processed since base */
	/* TSC-deadline mode */
	uint64_t tsc_deadline;	  /* IA32_TSC_DEADLINE, 0 = disarmed */
	uint64_t tsc_deadline_ns; /* host time the TSC reaches it */
	uint64_t armed_ns;	  /* last value given to the arm hook (UINT64_MAX: none) */

	bool lint_level[2]; /* input pin levels as driven by the chips (before polarity) */
	bool extint_msg;    /* an ExtINT message from an IOAPIC awaits INTA */
	bool nmi_pending, init_pending, wait_sipi;
	int sipi_vector; /* -1: none */
	bool in_error;	 /* delivering the LVT error interrupt (no recursion) */

	struct lapic_stats st;
};

struct deferred {
	int eoi_vector; /* -1: none */
	bool send;
	struct lapic_ipi ipi;
};

/* ---- 256-bit registers ---- */

static bool vec_test(const uint32_t *r, unsigned v)
{
	return r[v >> 5] & (1u << (v & 31));
}

static void vec_set(uint32_t *r, unsigned v)
{
	r[v >> 5] |= 1u << (v & 31);
}

static void vec_clear(uint32_t *r, unsigned v)
{
	r[v >> 5] &= ~(1u << (v & 31));
}

static int vec_highest(const uint32_t *r)
{
	for (int i = 7; i >= 0; i--)
		if (r[i])
			return i * 32 + 31 - __builtin_clz(r[i]);
	return -1;
}

/* ---- state predicates ---- */

static bool hw_enabled(const struct lapic *l)
{
	return l->base_msr & LAPIC_BASE_ENABLE;
}

static bool sw_enabled(const struct lapic *l)
{
	return hw_enabled(l) && (l->svr & LAPIC_SVR_ENABLE);
}

static unsigned lvt_mode(const struct lapic *l, int idx)
{
	if (idx == LVT_TIMER || idx == LVT_ERROR)
		return LAPIC_DM_FIXED; /* no delivery mode field */
	return (l->lvt[idx] >> 8) & 7;
}

static bool lvt_masked(const struct lapic *l, int idx)
{
	return l->lvt[idx] & LAPIC_LVT_MASKED;
}

static bool lint_active(const struct lapic *l, unsigned pin)
{
	return l->lint_level[pin] ^ !!(l->lvt[LVT_LINT0 + pin] & LAPIC_LVT_ACTIVE_LOW);
}

/* A globally disabled APIC has no LVT: the pins are INTR and NMI, active high (SDM 11.4.3). */
static bool pin_active(const struct lapic *l, unsigned pin)
{
	return hw_enabled(l) ? lint_active(l, pin) : l->lint_level[pin];
}

/* ---- priorities (SDM 11.8.3.1, 11.6.2.4) ---- */

static uint8_t ppr_of(const struct lapic *l)
{
	int isrv = vec_highest(l->isr);
	unsigned isr_class = isrv < 0 ? 0 : (unsigned)isrv >> 4;

	if ((unsigned)(l->tpr >> 4) >= isr_class)
		return l->tpr;
	return (uint8_t)(isr_class << 4);
}

static uint8_t apr_of(const struct lapic *l)
{
	int isrv = vec_highest(l->isr), irrv = vec_highest(l->irr);
	unsigned isr_class = isrv < 0 ? 0 : (unsigned)isrv >> 4;
	unsigned irr_class = irrv < 0 ? 0 : (unsigned)irrv >> 4;
	unsigned tpr_class = l->tpr >> 4, m;

	if (tpr_class >= irr_class && tpr_class > isr_class)
		return l->tpr;
	m = tpr_class;
	if (isr_class > m)
		m = isr_class;
	if (irr_class > m)
		m = irr_class;
	return (uint8_t)(m << 4);
}

static bool extint_deliverable(const struct lapic *l)
{
	if (!hw_enabled(l))
		return l->lint_level[0]; /* no APIC: LINT0 is INTR (SDM 11.4.3) */
	if (l->extint_msg)
		return true;
	return !lvt_masked(l, LVT_LINT0) && lvt_mode(l, LVT_LINT0) == LAPIC_DM_EXTINT &&
	       lint_active(l, 0);
}

static int pending_locked(const struct lapic *l)
{
	if (sw_enabled(l)) {
		int v = vec_highest(l->irr);
		if (v >= 0 && ((unsigned)v >> 4) > (unsigned)(ppr_of(l) >> 4))
			return v;
	}
	if (extint_deliverable(l))
		return LAPIC_PENDING_EXTINT;
	return -1;
}

static void kick(struct lapic *l)
{
	if (l->cfg.kick)
		l->cfg.kick(l->cfg.kick_opaque);
}

static void maybe_kick(struct lapic *l)
{
	if (pending_locked(l) >= 0)
		kick(l);
}

/* ---- accepting interrupts ---- */

static void set_error(struct lapic *l, uint32_t bit);

/* A fixed (or lowest-priority) interrupt arrives at this LAPIC (SDM 11.5.5, 11.8.4). */
static void accept_fixed(struct lapic *l, unsigned vector, bool level)
{
	if (vector < 16) {
		l->st.nr_dropped++;
		set_error(l, LAPIC_ESR_RECV_ILLEGAL_VECTOR);
		return;
	}
	if (!sw_enabled(l)) {
		l->st.nr_dropped++; /* SDM 11.4.7.2; KVM does the same */
		return;
	}
	if (vec_test(l->irr, vector))
		l->st.nr_coalesced++;
	else
		l->st.nr_accepted++;
	vec_set(l->irr, vector);
	if (level)
		vec_set(l->tmr, vector);
	else
		vec_clear(l->tmr, vector);
	maybe_kick(l);
}

static void reset_regs(struct lapic *l);
static bool lapic_matches_locked(const struct lapic *l, const struct lapic_ipi *ipi);

static void deliver_locked(struct lapic *l, unsigned mode, unsigned vector, bool level)
{
	switch (mode) {
	case LAPIC_DM_FIXED:
	case LAPIC_DM_LOWEST:
		accept_fixed(l, vector, level);
		break;
	case LAPIC_DM_NMI:
		l->st.nr_nmi++;
		l->nmi_pending = true;
		kick(l);
		break;
	case LAPIC_DM_INIT:
		/* SDM 11.4.7.3: INIT resets the APIC except ID and IA32_APIC_BASE */
		l->st.nr_init++;
		reset_regs(l);
		l->init_pending = true;
		l->wait_sipi = !(l->base_msr & LAPIC_BASE_BSP);
		l->sipi_vector = -1;
		kick(l);
		break;
	case LAPIC_DM_STARTUP:
		if (l->wait_sipi && l->sipi_vector < 0) {
			l->st.nr_sipi++;
			l->sipi_vector = (int)vector;
			kick(l);
		}
		break;
	case LAPIC_DM_EXTINT:
		l->extint_msg = true;
		kick(l);
		break;
	default: /* SMI and the reserved modes 3: nothing to do */
		break;
	}
}

/* An LVT entry fires (SDM 11.5.1). */
static void lvt_deliver(struct lapic *l, int idx)
{
	uint32_t v = l->lvt[idx];
	unsigned mode = lvt_mode(l, idx);

	if (v & LAPIC_LVT_MASKED)
		return;
	if (mode == LAPIC_DM_FIXED) {
		if ((v & 0xff) < 16) {
			/* "Received Illegal Vector ... in an interrupt generated locally" */
			l->st.nr_dropped++;
			if (idx == LVT_ERROR)
				l->esr_pending |= LAPIC_ESR_RECV_ILLEGAL_VECTOR;
			else
				set_error(l, LAPIC_ESR_RECV_ILLEGAL_VECTOR);
			return;
		}
		accept_fixed(l, v & 0xff, false);
	} else if (mode == LAPIC_DM_NMI || mode == LAPIC_DM_INIT) {
		deliver_locked(l, mode, 0, false);
	}
	/* SMI: ignored; ExtINT is only meaningful on LINT0 and handled as a level there */
}

/* An error is detected: latch it for the next ESR write and raise the LVT error interrupt. */
static void set_error(struct lapic *l, uint32_t bit)
{
	l->esr_pending |= bit;
	l->st.nr_errors++;
	if (!l->in_error) {
		l->in_error = true;
		lvt_deliver(l, LVT_ERROR);
		l->in_error = false;
	}
}

/* ---- timer (SDM 11.5.4) ---- */

static unsigned timer_mode(const struct lapic *l)
{
	unsigned m = (l->lvt[LVT_TIMER] >> 17) & 3;
	return m == 3 ? 0 : m; /* 11b is reserved: treated as one-shot */
}

#define TMODE_ONESHOT 0
#define TMODE_PERIODIC 1
#define TMODE_TSC 2

static uint64_t timer_divisor(const struct lapic *l)
{
	/* DCR bits 3,1,0: 000 -> 2, 001 -> 4, ..., 110 -> 128, 111 -> 1 */
	unsigned v = (l->dcr & 3) | ((l->dcr >> 1) & 4);
	return v == 7 ? 1 : 2ull << v;
}

/* Whole timer ticks between base and @now_ns. */
static uint64_t ticks_since_base(const struct lapic *l, uint64_t now_ns)
{
	unsigned __int128 t;

	if (now_ns <= l->timer_base_ns)
		return 0;
	t = (unsigned __int128)(now_ns - l->timer_base_ns) * l->cfg.bus_hz /
	    ((unsigned __int128)NS_PER_S * timer_divisor(l));
	return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

/* The first time at which @ticks whole ticks have passed since base. */
static uint64_t time_of_tick(const struct lapic *l, unsigned __int128 ticks)
{
	unsigned __int128 num = ticks * NS_PER_S * timer_divisor(l);
	unsigned __int128 ns = (num + l->cfg.bus_hz - 1) / l->cfg.bus_hz;

	ns += l->timer_base_ns;
	return ns >= UINT64_MAX ? UINT64_MAX - 1 : (uint64_t)ns;
}

static uint32_t current_count(const struct lapic *l, uint64_t now_ns)
{
	uint64_t t;

	if (timer_mode(l) == TMODE_TSC || !l->timer_running)
		return 0;
	t = ticks_since_base(l, now_ns);
	if (t < l->timer_base_count)
		return (uint32_t)(l->timer_base_count - t);
	if (timer_mode(l) != TMODE_PERIODIC)
		return 0;
	return (uint32_t)(l->timer_initial - (t - l->timer_base_count) % l->timer_initial);
}

static uint64_t guest_tsc(const struct lapic *l, uint64_t now_ns)
{
	if (l->cfg.read_tsc)
		return l->cfg.read_tsc(l->cfg.tsc_opaque, now_ns);
	return (uint64_t)((unsigned __int128)now_ns * l->cfg.tsc_hz / NS_PER_S);
}

/* Host time at which the TSC reaches tsc_deadline, counted from @now_ns. */
static uint64_t tsc_deadline_time(const struct lapic *l, uint64_t now_ns)
{
	uint64_t tsc = guest_tsc(l, now_ns);
	unsigned __int128 ns;

	if (tsc >= l->tsc_deadline)
		return now_ns;
	ns = ((unsigned __int128)(l->tsc_deadline - tsc) * NS_PER_S + l->cfg.tsc_hz - 1) /
	     l->cfg.tsc_hz;
	ns += now_ns;
	return ns >= UINT64_MAX ? UINT64_MAX - 1 : (uint64_t)ns;
}

static void timer_fire(struct lapic *l)
{
	l->st.nr_timer_fires++;
	lvt_deliver(l, LVT_TIMER);
}

/* Deliver every expiry up to @now_ns that has not been delivered (coalesced: IRR is one bit). */
static void timer_catch_up(struct lapic *l, uint64_t now_ns)
{
	uint64_t t, n;

	if (timer_mode(l) == TMODE_TSC) {
		if (l->tsc_deadline && guest_tsc(l, now_ns) >= l->tsc_deadline) {
			l->tsc_deadline = 0; /* SDM 11.5.4.1: the deadline disarms when it fires */
			timer_fire(l);
		} else if (l->tsc_deadline) {
			l->tsc_deadline_ns = tsc_deadline_time(l, now_ns);
		}
		return;
	}
	if (!l->timer_running)
		return;
	t = ticks_since_base(l, now_ns);
	if (t < l->timer_base_count)
		return;
	if (timer_mode(l) == TMODE_ONESHOT) {
		l->timer_running = false;
		timer_fire(l);
		return;
	}
	n = (t - l->timer_base_count) / l->timer_initial + 1; /* expiries so far */
	if (n > l->timer_expiries) {
		l->timer_expiries = n;
		timer_fire(l);
	}
}

static void set_armed(struct lapic *l, uint64_t deadline_ns)
{
	if (deadline_ns == l->armed_ns)
		return;
	l->armed_ns = deadline_ns;
	if (l->cfg.arm)
		l->cfg.arm(l->cfg.arm_opaque, deadline_ns);
}

/* Arm the host timer for the next expiry that would deliver an interrupt. */
static void timer_rearm(struct lapic *l, uint64_t now_ns)
{
	uint64_t next = UINT64_MAX;

	if (lvt_masked(l, LVT_TIMER)) {
		/* nothing to deliver; the count is computed when read */
	} else if (timer_mode(l) == TMODE_TSC) {
		if (l->tsc_deadline)
			next = l->tsc_deadline_ns;
	} else if (l->timer_running) {
		unsigned __int128 ticks = l->timer_base_count;
		if (timer_mode(l) == TMODE_PERIODIC) {
			ticks += (unsigned __int128)l->timer_expiries * l->timer_initial;
			next = time_of_tick(l, ticks);
			uint64_t period = time_of_tick(l, ticks + l->timer_initial) - next;
			if (next < now_ns + MIN_PERIODIC_REARM_NS && period < MIN_PERIODIC_REARM_NS)
				next = now_ns + MIN_PERIODIC_REARM_NS;
		} else {
			next = time_of_tick(l, ticks);
		}
	}
	set_armed(l, next);
}

/*
 * Restart counting from the current count at the last whole tick before @now_ns (after a divide
 * or mode change), so the count continues from where it is.
 */
static void timer_rebase(struct lapic *l, uint64_t now_ns)
{
	uint64_t t, at;
	uint32_t count;

	if (!l->timer_running)
		return;
	t = ticks_since_base(l, now_ns);
	at = time_of_tick(l, t);
	count = current_count(l, now_ns);
	if (count == 0) { /* a one-shot at 0: done */
		l->timer_running = false;
		return;
	}
	l->timer_base_ns = at <= now_ns ? at : now_ns;
	l->timer_base_count = count;
	l->timer_expiries = 0;
}

static void timer_stop(struct lapic *l)
{
	l->timer_running = false;
	l->timer_initial = 0;
	l->tsc_deadline = 0;
}

/* ---- reset ---- */

/* Register state after RESET or INIT (SDM 11.4.7.1, 11.4.7.3); not ID, base MSR or pins. */
static void reset_regs(struct lapic *l)
{
	l->tpr = 0;
	l->ldr = 0;
	l->dfr = 0xffffffffu;
	l->svr = 0xff;
	memset(l->isr, 0, sizeof(l->isr));
	memset(l->tmr, 0, sizeof(l->tmr));
	memset(l->irr, 0, sizeof(l->irr));
	l->esr = l->esr_pending = 0;
	for (int i = 0; i < LVT_NR; i++)
		l->lvt[i] = LAPIC_LVT_MASKED;
	l->icr_lo = l->icr_hi = 0;
	l->dcr = 0;
	timer_stop(l);
	l->extint_msg = false;
	set_armed(l, UINT64_MAX);
}

static void power_up(struct lapic *l)
{
	l->base_msr = LAPIC_DEFAULT_BASE | LAPIC_BASE_ENABLE | (l->cfg.bsp ? LAPIC_BASE_BSP : 0);
	l->id = l->cfg.apic_id;
	reset_regs(l);
	l->nmi_pending = false;
	l->init_pending = false;
	l->wait_sipi = !l->cfg.bsp;
	l->sipi_vector = -1;
}

struct lapic *lapic_create(const struct lapic_config *cfg)
{
	struct lapic *l;

	if (!cfg || !cfg->bus_hz || !cfg->tsc_hz || !cfg->clock_ns) {
		errno = EINVAL;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&l->lock, NULL);
	l->cfg = *cfg;
	if (!l->cfg.phys_addr_bits || l->cfg.phys_addr_bits > 52)
		l->cfg.phys_addr_bits = 36;
	l->armed_ns = UINT64_MAX;
	power_up(l);
	return l;
}

void lapic_destroy(struct lapic *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

void lapic_reset(struct lapic *l, uint64_t now_ns)
{
	(void)now_ns;
	pthread_mutex_lock(&l->lock);
	power_up(l);
	pthread_mutex_unlock(&l->lock);
}

void lapic_bios_init(struct lapic *l, uint64_t now_ns)
{
	(void)now_ns;
	pthread_mutex_lock(&l->lock);
	l->svr = LAPIC_SVR_ENABLE | 0xff;
	l->lvt[LVT_LINT0] = LAPIC_DM_EXTINT << 8;
	l->lvt[LVT_LINT1] = LAPIC_DM_NMI << 8;
	maybe_kick(l);
	pthread_mutex_unlock(&l->lock);
}

/* ---- deferred calls (made without the lock) ---- */

static void run_deferred(struct lapic *l, const struct deferred *d)
{
	if (d->eoi_vector >= 0 && l->cfg.eoi)
		l->cfg.eoi(l->cfg.eoi_opaque, d->eoi_vector);
	if (d->send && l->cfg.send_ipi)
		l->cfg.send_ipi(l->cfg.ipi_opaque, &d->ipi);
}

/* ---- registers ---- */

static int lvt_index(uint32_t offset)
{
	if (offset == LAPIC_LVT_CMCI)
		return LVT_CMCI;
	if (offset >= LAPIC_LVT_TIMER && offset <= LAPIC_LVT_ERROR)
		return LVT_TIMER + (int)((offset - LAPIC_LVT_TIMER) >> 4);
	return -1;
}

static uint32_t reg_read(struct lapic *l, uint32_t offset, uint64_t now_ns)
{
	int idx;

	switch (offset) {
	case LAPIC_ID:
		return (uint32_t)l->id << 24;
	case LAPIC_VERSION:
		return LAPIC_VERSION_VALUE;
	case LAPIC_TPR:
		return l->tpr;
	case LAPIC_APR:
		return apr_of(l);
	case LAPIC_PPR:
		return ppr_of(l);
	case LAPIC_LDR:
		return l->ldr;
	case LAPIC_DFR:
		return l->dfr;
	case LAPIC_SVR:
		return l->svr;
	case LAPIC_ESR:
		return l->esr;
	case LAPIC_ICR_LO:
		return l->icr_lo; /* delivery status (bit 12) always idle: delivery is synchronous */
	case LAPIC_ICR_HI:
		return l->icr_hi;
	case LAPIC_TIMER_ICR:
		return l->timer_initial;
	case LAPIC_TIMER_CCR:
		timer_catch_up(l, now_ns);
		timer_rearm(l, now_ns);
		return current_count(l, now_ns);
	case LAPIC_TIMER_DCR:
		return l->dcr;
	}
	if (offset >= LAPIC_ISR && offset < LAPIC_ISR + 0x80)
		return l->isr[(offset - LAPIC_ISR) >> 4];
	if (offset >= LAPIC_TMR && offset < LAPIC_TMR + 0x80)
		return l->tmr[(offset - LAPIC_TMR) >> 4];
	if (offset >= LAPIC_IRR && offset < LAPIC_IRR + 0x80)
		return l->irr[(offset - LAPIC_IRR) >> 4];
	idx = lvt_index(offset);
	if (idx >= 0)
		return l->lvt[idx];
	return 0; /* EOI (write-only), RRD (remote read unsupported), reserved */
}

/* EOI (SDM 11.8.5): retire the highest ISR bit. */
static void do_eoi(struct lapic *l, struct deferred *d)
{
	int v = vec_highest(l->isr);

	if (v < 0)
		return;
	l->st.nr_eoi++;
	vec_clear(l->isr, (unsigned)v);
	if (vec_test(l->tmr, (unsigned)v)) {
		l->st.nr_eoi_broadcast++;
		d->eoi_vector = v; /* SDM 11.8.5: EOI message to all IOAPICs */
	}
	/* a level-triggered fixed LINT: clear remote IRR; re-deliver if the pin is still active */
	for (unsigned pin = 0; pin < 2; pin++) {
		uint32_t *lvt = &l->lvt[LVT_LINT0 + pin];
		if ((*lvt & LAPIC_LVT_REMOTE_IRR) && (*lvt & 0xff) == (unsigned)v) {
			*lvt &= ~LAPIC_LVT_REMOTE_IRR;
			if (!(*lvt & LAPIC_LVT_MASKED) && lint_active(l, pin) &&
			    lvt_mode(l, LVT_LINT0 + pin) == LAPIC_DM_FIXED &&
			    (*lvt & LAPIC_LVT_LEVEL)) {
				*lvt |= LAPIC_LVT_REMOTE_IRR;
				accept_fixed(l, *lvt & 0xff, false);
			}
		}
	}
	maybe_kick(l);
}

static void send_icr(struct lapic *l, struct deferred *d)
{
	struct lapic_ipi ipi = {
		.vector = l->icr_lo & 0xff,
		.mode = (l->icr_lo >> 8) & 7,
		.logical = l->icr_lo & (1u << 11),
		.level = l->icr_lo & (1u << 14),
		.trigger_level = l->icr_lo & (1u << 15),
		.shorthand = (l->icr_lo >> 18) & 3,
		.dest = l->icr_hi >> 24,
		.src_id = l->id,
	};

	if ((ipi.mode == LAPIC_DM_FIXED || ipi.mode == LAPIC_DM_LOWEST) && ipi.vector < 16) {
		set_error(l, LAPIC_ESR_SEND_ILLEGAL_VECTOR); /* SDM 11.5.3: not sent */
		return;
	}
	/* INIT level de-assert: a synchronization message, not supported since Pentium 4 */
	if (ipi.mode == LAPIC_DM_INIT && !ipi.level && ipi.trigger_level)
		return;
	l->st.nr_ipis_sent++;
	if (ipi.shorthand == LAPIC_SH_SELF) {
		l->st.nr_messages++;
		deliver_locked(l, ipi.mode, ipi.vector, ipi.trigger_level);
	} else if (l->cfg.send_ipi) {
		d->send = true;
		d->ipi = ipi;
	} else if (lapic_matches_locked(l, &ipi)) {
		l->st.nr_messages++;
		deliver_locked(l, ipi.mode, ipi.vector, ipi.trigger_level);
	}
}

static void lint_update(struct lapic *l, unsigned pin, bool was_active);

static void reg_write(struct lapic *l, uint32_t offset, uint32_t value, uint64_t now_ns,
		      struct deferred *d)
{
	int idx;

	switch (offset) {
	case LAPIC_ID:
		l->id = value >> 24;
		return;
	case LAPIC_TPR:
		l->tpr = value & 0xff;
		maybe_kick(l);
		return;
	case LAPIC_EOI:
		do_eoi(l, d);
		return;
	case LAPIC_LDR:
		l->ldr = value & 0xff000000u;
		return;
	case LAPIC_DFR:
		l->dfr = value | DFR_RESERVED;
		return;
	case LAPIC_SVR:
		timer_catch_up(l, now_ns);
		l->svr = value & SVR_WRITABLE;
		if (!(l->svr & LAPIC_SVR_ENABLE)) {
			/* SDM 11.4.7.2: software disable masks every LVT entry */
			for (int i = 0; i < LVT_NR; i++)
				l->lvt[i] |= LAPIC_LVT_MASKED;
		}
		timer_rearm(l, now_ns);
		maybe_kick(l);
		return;
	case LAPIC_ESR:
		/* SDM 11.5.3: a write latches the errors since the last write and clears them */
		l->esr = l->esr_pending;
		l->esr_pending = 0;
		return;
	case LAPIC_ICR_LO:
		l->icr_lo = value & ICR_LO_WRITABLE;
		send_icr(l, d);
		return;
	case LAPIC_ICR_HI:
		l->icr_hi = value & 0xff000000u;
		return;
	case LAPIC_TIMER_ICR:
		if (timer_mode(l) == TMODE_TSC)
			return; /* SDM 11.5.4.1: ignored in TSC-deadline mode */
		timer_catch_up(l, now_ns);
		/* SDM 11.5.4: a write starts counting from the new value; 0 stops the timer */
		l->timer_initial = value;
		l->timer_running = value != 0;
		l->timer_base_ns = now_ns;
		l->timer_base_count = value;
		l->timer_expiries = 0;
		timer_rearm(l, now_ns);
		return;
	case LAPIC_TIMER_DCR:
		timer_catch_up(l, now_ns);
		timer_rebase(l, now_ns);
		l->dcr = value & DCR_WRITABLE;
		timer_rearm(l, now_ns);
		return;
	}
	idx = lvt_index(offset);
	if (idx < 0)
		return; /* read-only or reserved */

	uint32_t old = l->lvt[idx];
	uint32_t nv = value & lvt_writable[idx];
	if (!sw_enabled(l))
		nv |= LAPIC_LVT_MASKED;
	if (idx == LVT_LINT0 || idx == LVT_LINT1)
		nv |= old & LAPIC_LVT_REMOTE_IRR;

	if (idx == LVT_TIMER) {
		unsigned old_mode, new_mode;
		timer_catch_up(l, now_ns);
		old_mode = timer_mode(l);
		l->lvt[idx] = nv;
		new_mode = timer_mode(l);
		if ((old_mode == TMODE_TSC) != (new_mode == TMODE_TSC)) {
			/* SDM 11.5.4.1: changing to or from TSC-deadline mode disarms the timer */
			timer_stop(l);
		} else if (old_mode != new_mode) {
			/* one-shot <-> periodic: the count goes on from where it is */
			l->lvt[idx] = old;
			timer_rebase(l, now_ns);
			l->lvt[idx] = nv;
		}
		timer_rearm(l, now_ns);
		return;
	}
	if (idx == LVT_LINT0 || idx == LVT_LINT1) {
		l->lvt[idx] = nv;
		/* re-evaluate a level input under its new entry (no edge) */
		lint_update(l, (unsigned)(idx - LVT_LINT0), true);
		return;
	}
	l->lvt[idx] = nv;
}

/*
 * A LINT pin changed level (or its LVT entry changed). @was_active: the level before, for edge
 * detection (pass true to re-evaluate only levels). SDM 11.5.1.
 */
static void lint_update(struct lapic *l, unsigned pin, bool was_active)
{
	int idx = LVT_LINT0 + (int)pin;
	uint32_t *lvt = &l->lvt[idx];
	bool active = pin_active(l, pin);
	bool rising = active && !was_active;

	if (!hw_enabled(l)) {
		/* no APIC: LINT0 is INTR, LINT1 is NMI (SDM 11.4.3) */
		if (pin == 0 && active)
			kick(l);
		if (pin == 1 && rising) {
			l->st.nr_nmi++;
			l->nmi_pending = true;
			kick(l);
		}
		return;
	}
	if (*lvt & LAPIC_LVT_MASKED)
		return;
	switch (lvt_mode(l, idx)) {
	case LAPIC_DM_EXTINT:
		if (active)
			kick(l);
		break;
	case LAPIC_DM_NMI:
	case LAPIC_DM_INIT:
		if (rising)
			deliver_locked(l, lvt_mode(l, idx), 0, false);
		break;
	case LAPIC_DM_FIXED:
		if (*lvt & LAPIC_LVT_LEVEL) {
			/* level: one interrupt per assertion; remote IRR holds until EOI */
			if (active && !(*lvt & LAPIC_LVT_REMOTE_IRR)) {
				*lvt |= LAPIC_LVT_REMOTE_IRR;
				unsigned vec = *lvt & 0xff;
				lvt_deliver(l, idx);
				if (!vec_test(l->irr, vec) && !vec_test(l->isr, vec))
					*lvt &= ~LAPIC_LVT_REMOTE_IRR; /* refused */
			}
		} else if (rising) {
			lvt_deliver(l, idx);
		}
		break;
	default:
		break;
	}
}

uint32_t lapic_read(struct lapic *l, uint32_t offset, uint64_t now_ns)
{
	uint32_t v;

	pthread_mutex_lock(&l->lock);
	l->st.nr_reads++;
	v = (offset & 0xf) || offset >= LAPIC_MMIO_SIZE ? 0 : reg_read(l, offset, now_ns);
	pthread_mutex_unlock(&l->lock);
	return v;
}

void lapic_write(struct lapic *l, uint32_t offset, uint32_t value, uint64_t now_ns)
{
	struct deferred d = { .eoi_vector = -1 };

	pthread_mutex_lock(&l->lock);
	l->st.nr_writes++;
	if (!(offset & 0xf) && offset < LAPIC_MMIO_SIZE)
		reg_write(l, offset, value, now_ns, &d);
	else
		l->st.nr_bad_writes++;
	pthread_mutex_unlock(&l->lock);
	run_deferred(l, &d);
}

void lapic_mmio_read(struct lapic *l, uint64_t offset, void *data, unsigned len)
{
	uint8_t *p = data;
	uint64_t now_ns = l->cfg.clock_ns(l->cfg.clock_opaque);
	uint64_t slot = UINT64_MAX;
	uint32_t reg = 0;

	pthread_mutex_lock(&l->lock);
	if (!hw_enabled(l)) {
		memset(data, 0xff, len);
		pthread_mutex_unlock(&l->lock);
		return;
	}
	l->st.nr_reads++;
	for (unsigned i = 0; i < len; i++) {
		uint64_t a = offset + i;
		unsigned k = a & 0xf;
		if ((a & ~0xfull) != slot) {
			slot = a & ~0xfull;
			reg = slot < LAPIC_MMIO_SIZE ? reg_read(l, (uint32_t)slot, now_ns) : 0;
		}
		p[i] = k < 4 ? (uint8_t)(reg >> (8 * k)) : 0;
	}
	pthread_mutex_unlock(&l->lock);
}

void lapic_mmio_write(struct lapic *l, uint64_t offset, const void *data, unsigned len)
{
	uint64_t now_ns = l->cfg.clock_ns(l->cfg.clock_opaque);
	struct deferred d = { .eoi_vector = -1 };

	pthread_mutex_lock(&l->lock);
	if (!hw_enabled(l)) {
		pthread_mutex_unlock(&l->lock);
		return;
	}
	l->st.nr_writes++;
	if (len == 4 && !(offset & 0xf) && offset < LAPIC_MMIO_SIZE)
		reg_write(l, (uint32_t)offset, (uint32_t)bus_data_get(data, 4), now_ns, &d);
	else
		l->st.nr_bad_writes++; /* sub-dword, 8-byte or unaligned: ignored (as KVM) */
	pthread_mutex_unlock(&l->lock);
	run_deferred(l, &d);
}

static void bus_read_cb(void *opaque, uint64_t offset, void *data, unsigned len)
{
	lapic_mmio_read(opaque, offset, data, len);
}

static void bus_write_cb(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	lapic_mmio_write(opaque, offset, data, len);
}

static const struct bus_ops lapic_bus_ops = {
	.read = bus_read_cb,
	.write = bus_write_cb,
};

int lapic_register(struct lapic *l, struct bus *bus, uint64_t gpa, struct bus_dev **devp)
{
	return bus_register_mmio(bus, gpa, LAPIC_MMIO_SIZE, &lapic_bus_ops, l, "lapic", devp);
}

/* ---- vCPU interface ---- */

int lapic_pending(struct lapic *l)
{
	int v;

	pthread_mutex_lock(&l->lock);
	v = pending_locked(l);
	pthread_mutex_unlock(&l->lock);
	return v;
}

int lapic_ack(struct lapic *l, int vector)
{
	int ret;

	pthread_mutex_lock(&l->lock);
	if (vector >= 16 && vector <= 255 && sw_enabled(l) && vec_test(l->irr, (unsigned)vector) &&
	    ((unsigned)vector >> 4) > (unsigned)(ppr_of(l) >> 4)) {
		/* SDM 11.8.4: IRR -> ISR; the ISR bit raises PPR */
		vec_clear(l->irr, (unsigned)vector);
		vec_set(l->isr, (unsigned)vector);
		l->st.nr_delivered++;
		ret = vector;
	} else {
		/* SDM 11.9: the interrupt went away before INTA: the spurious vector, no ISR bit */
		l->st.nr_spurious++;
		ret = l->svr & 0xff;
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}

int lapic_ack_extint(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	l->extint_msg = false;
	l->st.nr_extint++;
	pthread_mutex_unlock(&l->lock);
	if (!l->cfg.extint_ack)
		return -1;
	return l->cfg.extint_ack(l->cfg.extint_opaque);
}

bool lapic_take_nmi(struct lapic *l)
{
	bool r;

	pthread_mutex_lock(&l->lock);
	r = l->nmi_pending;
	l->nmi_pending = false;
	pthread_mutex_unlock(&l->lock);
	return r;
}

bool lapic_take_init(struct lapic *l)
{
	bool r;

	pthread_mutex_lock(&l->lock);
	r = l->init_pending;
	l->init_pending = false;
	pthread_mutex_unlock(&l->lock);
	return r;
}

int lapic_take_sipi(struct lapic *l)
{
	int v = -1;

	pthread_mutex_lock(&l->lock);
	if (l->wait_sipi && l->sipi_vector >= 0) {
		v = l->sipi_vector;
		l->sipi_vector = -1;
		l->wait_sipi = false;
	}
	pthread_mutex_unlock(&l->lock);
	return v;
}

bool lapic_waiting_for_sipi(struct lapic *l)
{
	bool r;

	pthread_mutex_lock(&l->lock);
	r = l->wait_sipi;
	pthread_mutex_unlock(&l->lock);
	return r;
}

void lapic_set_tpr(struct lapic *l, uint64_t cr8)
{
	pthread_mutex_lock(&l->lock);
	l->tpr = (uint8_t)((cr8 & 0xf) << 4);
	maybe_kick(l);
	pthread_mutex_unlock(&l->lock);
}

uint8_t lapic_get_cr8(struct lapic *l)
{
	uint8_t v;

	pthread_mutex_lock(&l->lock);
	v = l->tpr >> 4;
	pthread_mutex_unlock(&l->lock);
	return v;
}

int lapic_set_base_msr(struct lapic *l, uint64_t value, uint64_t now_ns)
{
	uint64_t reserved;

	(void)now_ns;
	pthread_mutex_lock(&l->lock);
	/* SDM 11.4.4, Figure 11-5: bits 7:0 and 9 reserved, base up to MAXPHYADDR - 1 */
	reserved = 0xffull | (1ull << 9) | LAPIC_BASE_X2APIC;
	reserved |= ~((1ull << l->cfg.phys_addr_bits) - 1);
	if (value & reserved) {
		pthread_mutex_unlock(&l->lock);
		return -EINVAL;
	}
	value = (value & ~LAPIC_BASE_BSP) | (l->base_msr & LAPIC_BASE_BSP); /* BSP is hardware's */
	if (hw_enabled(l) && !(value & LAPIC_BASE_ENABLE)) {
		/* SDM 11.4.3: disabling returns the APIC to its power-up state */
		reset_regs(l);
		l->id = l->cfg.apic_id;
	}
	l->base_msr = value;
	pthread_mutex_unlock(&l->lock);
	return 0;
}

uint64_t lapic_get_base_msr(struct lapic *l)
{
	uint64_t v;

	pthread_mutex_lock(&l->lock);
	v = l->base_msr;
	pthread_mutex_unlock(&l->lock);
	return v;
}

bool lapic_mmio_enabled(struct lapic *l)
{
	return lapic_get_base_msr(l) & LAPIC_BASE_ENABLE;
}

void lapic_write_tsc_deadline(struct lapic *l, uint64_t tsc, uint64_t now_ns)
{
	pthread_mutex_lock(&l->lock);
	if (timer_mode(l) == TMODE_TSC && hw_enabled(l)) {
		l->tsc_deadline = tsc;
		if (tsc) {
			l->tsc_deadline_ns = tsc_deadline_time(l, now_ns);
			/* a deadline already passed fires at once (SDM 11.5.4.1) */
			timer_catch_up(l, now_ns);
		}
		timer_rearm(l, now_ns);
	}
	pthread_mutex_unlock(&l->lock);
}

uint64_t lapic_read_tsc_deadline(struct lapic *l, uint64_t now_ns)
{
	uint64_t v = 0;

	pthread_mutex_lock(&l->lock);
	if (timer_mode(l) == TMODE_TSC) {
		timer_catch_up(l, now_ns);
		timer_rearm(l, now_ns);
		v = l->tsc_deadline;
	}
	pthread_mutex_unlock(&l->lock);
	return v;
}

void lapic_tsc_changed(struct lapic *l, uint64_t now_ns)
{
	pthread_mutex_lock(&l->lock);
	timer_catch_up(l, now_ns);
	timer_rearm(l, now_ns);
	pthread_mutex_unlock(&l->lock);
}

void lapic_timer(struct lapic *l, uint64_t now_ns)
{
	pthread_mutex_lock(&l->lock);
	l->armed_ns = UINT64_MAX; /* the host timer fired: nothing is armed any more */
	timer_catch_up(l, now_ns);
	timer_rearm(l, now_ns);
	pthread_mutex_unlock(&l->lock);
}

/* ---- inputs ---- */

void lapic_set_irq(struct lapic *l, uint8_t vector, bool level_triggered)
{
	pthread_mutex_lock(&l->lock);
	l->st.nr_messages++;
	if (hw_enabled(l))
		accept_fixed(l, vector, level_triggered);
	else
		l->st.nr_dropped++;
	pthread_mutex_unlock(&l->lock);
}

void lapic_deliver(struct lapic *l, unsigned mode, uint8_t vector, bool level_triggered)
{
	pthread_mutex_lock(&l->lock);
	l->st.nr_messages++;
	if (hw_enabled(l))
		deliver_locked(l, mode, vector, level_triggered);
	else
		l->st.nr_dropped++;
	pthread_mutex_unlock(&l->lock);
}

void lapic_set_lint(struct lapic *l, unsigned pin, int level)
{
	bool was_active;

	if (pin > 1)
		return;
	pthread_mutex_lock(&l->lock);
	was_active = pin_active(l, pin);
	l->lint_level[pin] = level != 0;
	lint_update(l, pin, was_active);
	pthread_mutex_unlock(&l->lock);
}

/* Destination match (SDM 11.6.2.1 physical, 11.6.2.2 logical flat/cluster, 11.6.2.3). */
static bool lapic_matches_locked(const struct lapic *l, const struct lapic_ipi *ipi)
{
	if (!hw_enabled(l))
		return false;
	switch (ipi->shorthand) {
	case LAPIC_SH_SELF:
		return l->id == ipi->src_id;
	case LAPIC_SH_ALL:
		return true;
	case LAPIC_SH_OTHERS:
		return l->id != ipi->src_id;
	}
	if (!ipi->logical)
		return ipi->dest == 0xff || ipi->dest == l->id;
	if ((l->dfr >> 28) == 0) {
		/* cluster: dest[7:4] cluster (15 = all clusters), dest[3:0] members */
		unsigned cluster = ipi->dest >> 4, ldr_cluster = l->ldr >> 28;
		return (cluster == 0xf || cluster == ldr_cluster) &&
		       (ipi->dest & (l->ldr >> 24) & 0xf);
	}
	/* flat: a bit per APIC; 0xff is everybody with a logical ID */
	return ipi->dest & (l->ldr >> 24);
}

bool lapic_matches(struct lapic *l, const struct lapic_ipi *ipi)
{
	bool r;

	pthread_mutex_lock(&l->lock);
	r = lapic_matches_locked(l, ipi);
	pthread_mutex_unlock(&l->lock);
	return r;
}

uint8_t lapic_get_apr(struct lapic *l)
{
	uint8_t v;

	pthread_mutex_lock(&l->lock);
	v = apr_of(l);
	pthread_mutex_unlock(&l->lock);
	return v;
}

uint8_t lapic_get_id(struct lapic *l)
{
	uint8_t v;

	pthread_mutex_lock(&l->lock);
	v = l->id;
	pthread_mutex_unlock(&l->lock);
	return v;
}

int lapic_route(struct lapic *const *lapics, size_t n, const struct lapic_ipi *ipi)
{
	int nr = 0;

	if (ipi->mode == LAPIC_DM_INIT && !ipi->level && ipi->trigger_level)
		return 0; /* INIT level de-assert (SDM 11.6.1) */
	if (ipi->mode == LAPIC_DM_LOWEST) {
		/* SDM 11.6.2.4: the matching APIC with the lowest arbitration priority */
		struct lapic *best = NULL;
		unsigned best_apr = 0x100;
		for (size_t i = 0; i < n; i++) {
			if (!lapic_matches(lapics[i], ipi))
				continue;
			unsigned apr = lapic_get_apr(lapics[i]);
			if (apr < best_apr) {
				best = lapics[i];
				best_apr = apr;
			}
		}
		if (!best)
			return 0;
		lapic_deliver(best, LAPIC_DM_FIXED, ipi->vector, ipi->trigger_level);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (lapic_matches(lapics[i], ipi)) {
			lapic_deliver(lapics[i], ipi->mode, ipi->vector, ipi->trigger_level);
			nr++;
		}
	}
	return nr;
}

/* ---- counters ---- */

void lapic_get_stats(struct lapic *l, struct lapic_stats *st)
{
	pthread_mutex_lock(&l->lock);
	*st = l->st;
	pthread_mutex_unlock(&l->lock);
}

void lapic_print_stats(struct lapic *l, FILE *f)
{
	struct lapic_stats s;
	uint8_t id;

	pthread_mutex_lock(&l->lock);
	s = l->st;
	id = l->id;
	pthread_mutex_unlock(&l->lock);

	const struct {
		const char *name;
		uint64_t v;
	} c[] = {
		{ "reads", s.nr_reads },
		{ "writes", s.nr_writes },
		{ "bad_writes", s.nr_bad_writes },
		{ "messages", s.nr_messages },
		{ "accepted", s.nr_accepted },
		{ "coalesced", s.nr_coalesced },
		{ "dropped", s.nr_dropped },
		{ "delivered", s.nr_delivered },
		{ "spurious", s.nr_spurious },
		{ "extint", s.nr_extint },
		{ "nmi", s.nr_nmi },
		{ "init", s.nr_init },
		{ "sipi", s.nr_sipi },
		{ "eoi", s.nr_eoi },
		{ "eoi_broadcast", s.nr_eoi_broadcast },
		{ "timer_fires", s.nr_timer_fires },
		{ "ipis_sent", s.nr_ipis_sent },
		{ "errors", s.nr_errors },
	};
	fprintf(f, "lapic %u:", id);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (c[i].v)
			fprintf(f, " %s %" PRIu64, c[i].name, c[i].v);
	fputc('\n', f);
}
