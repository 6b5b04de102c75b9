/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART. Behaviour from the National Semiconductor PC16550D datasheet (June 1995):
 * register map Table II, reset values Table III, interrupt priorities and clearing Table IV,
 * register descriptions section 8. Interface and design notes: include/omnivisor/hw/serial8250.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "omnivisor/bus.h"
#include "omnivisor/hw/serial8250.h"

/* IER (8.5) */
#define IER_ERBFI 0x01 /* received data available (and character timeout) */
#define IER_ETBEI 0x02 /* transmitter holding register empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */

/* IIR (8.6, Table IV): bits 3..1 identify, bit 0 = 1 means nothing pending */
#define IIR_NO_INT 0x01
#define IIR_RLS 0x06
#define IIR_RDA 0x04
#define IIR_CTI 0x0c
#define IIR_THRE 0x02
#define IIR_MSI 0x00
#define IIR_FIFO 0xc0 /* bits 7..6 set when FCR bit 0 is set */

/* FCR (8.7) */
#define FCR_ENABLE 0x01
#define FCR_RX_RESET 0x02
#define FCR_TX_RESET 0x04
#define FCR_DMA 0x08

/* LCR (8.3) */
#define LCR_DLAB 0x80

/* MCR (8.8) */
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

/* LSR (8.4) */
#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_PE 0x04
#define LSR_FE 0x08
#define LSR_BI 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

/* MSR (8.9): deltas in bits 3..0, the inputs in bits 7..4 */
#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80
/* With no modem attached the host side reports carrier, data set ready and clear to send, as
 * QEMU does, so that software waiting for CTS or DCD proceeds. */
#define MSR_HOST_INPUTS (MSR_DCD | MSR_DSR | MSR_CTS)

struct serial8250 {
	pthread_mutex_t lock;
	struct serial8250_config cfg;

	uint8_t rx[SERIAL8250_FIFO_SIZE]; /* receive FIFO (1 entry used in 16450 mode) */
	unsigned rx_head, rx_count;
	uint8_t rbr_last; /* what RBR reads when the FIFO is empty */
	bool rx_wanted;	  /* receive() refused input: tell the backend when there is room */

	uint8_t ier, lcr, mcr, scr, dll, dlm;
	uint8_t lsr_err;  /* OE (PE, FE, BI never happen) until LSR is read */
	uint8_t msr_delta; /* MSR bits 3..0 until MSR is read */
	uint8_t msr_in;	  /* MSR bits 7..4 as last computed */
	bool fifo_on, fcr_dma;
	unsigned rx_trigger; /* 1, 4, 8 or 14 bytes (FCR bits 7..6) */

	bool thr_ipending; /* THRE interrupt pending (cleared by IIR read or THR write) */
	bool cti_pending;  /* character timeout indication */
	uint64_t cti_deadline; /* UINT64_MAX: timer not running */

	int irq_level;
	struct serial8250_stats st;
};

/* ---- helpers, called with the lock held ---- */

static uint64_t now_of(struct serial8250 *s)
{
	return s->cfg.clock_ns ? s->cfg.clock_ns(s->cfg.clock_opaque) : 0;
}

static unsigned rx_capacity(const struct serial8250 *s)
{
	return s->fifo_on ? SERIAL8250_FIFO_SIZE : 1;
}

/* 16550D 8.9: the modem inputs; in loopback they are the modem control outputs. */
static uint8_t modem_inputs(const struct serial8250 *s)
{
	if (!(s->mcr & MCR_LOOP))
		return MSR_HOST_INPUTS;
	uint8_t in = 0;
	if (s->mcr & MCR_RTS)
		in |= MSR_CTS;
	if (s->mcr & MCR_DTR)
		in |= MSR_DSR;
	if (s->mcr & MCR_OUT1)
		in |= MSR_RI;
	if (s->mcr & MCR_OUT2)
		in |= MSR_DCD;
	return in;
}

/* Interrupt identification by priority (16550D Table IV). Only IER-enabled sources count. */
static uint8_t iir_id(const struct serial8250 *s)
{
	if ((s->ier & IER_ELSI) && (s->lsr_err & LSR_ERRORS))
		return IIR_RLS;
	if (s->ier & IER_ERBFI) {
		if (s->rx_count && s->rx_count >= (s->fifo_on ? s->rx_trigger : 1))
			return IIR_RDA;
		if (s->fifo_on && s->cti_pending && s->rx_count)
			return IIR_CTI;
	}
	if ((s->ier & IER_ETBEI) && s->thr_ipending)
		return IIR_THRE;
	if ((s->ier & IER_EDSSI) && s->msr_delta)
		return IIR_MSI;
	return IIR_NO_INT;
}

static void update_irq(struct serial8250 *s)
{
	int level = iir_id(s) != IIR_NO_INT && (s->mcr & MCR_OUT2) && !(s->mcr & MCR_LOOP);
	if (level == s->irq_level)
		return;
	s->irq_level = level;
	if (level)
		s->st.nr_irqs++;
	irq_set(&s->cfg.irq, level);
}

static void arm(struct serial8250 *s, uint64_t deadline_ns)
{
	if (deadline_ns == s->cti_deadline)
		return;
	s->cti_deadline = deadline_ns;
	if (s->cfg.arm)
		s->cfg.arm(s->cfg.arm_opaque, deadline_ns);
}

/* Time of one character in ns at the programmed divisor and frame (start bit, 5-8 data bits,
 * parity, 1, 1.5 or 2 stop bits; 16550D 8.3 and 8.10: baud = clock / (16 * divisor)). */
static uint64_t char_time_ns(const struct serial8250 *s)
{
	uint64_t divisor = (uint64_t)s->dll | (uint64_t)s->dlm << 8;
	if (divisor == 0)
		divisor = 0x10000; /* the 16-bit divisor counter wraps */
	unsigned data_bits = 5 + (s->lcr & 3);
	unsigned half_bits = 2 * (1 + data_bits + ((s->lcr & 0x08) ? 1 : 0));
	if (s->lcr & 0x04)
		half_bits += data_bits == 5 ? 3 : 4;
	else
		half_bits += 2;
	/* half_bits/2 bits, each 16 * divisor clocks */
	return half_bits * 8 * divisor * 1000000000ull / SERIAL8250_CLOCK_HZ;
}

/* 16550D 8.4 (FIFO interrupt mode, C and D): the timeout timer restarts whenever a byte enters
 * or leaves the receive FIFO and no timeout is pending; it runs while the FIFO holds data. */
static void restart_cti_timer(struct serial8250 *s, uint64_t now_ns)
{
	if (!s->fifo_on || !s->rx_count) {
		s->cti_pending = false;
		arm(s, UINT64_MAX);
		return;
	}
	if (s->cti_pending)
		return;
	if (!s->cfg.arm) {
		/* no timer: the indication is due at once */
		s->cti_pending = true;
		return;
	}
	uint64_t t = char_time_ns(s) * 4;
	arm(s, now_ns > UINT64_MAX - 1 - t ? UINT64_MAX - 1 : now_ns + t);
}

static void rx_clear(struct serial8250 *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
	s->cti_pending = false;
	arm(s, UINT64_MAX);
	if (s->rx_wanted && !(s->mcr & MCR_LOOP)) {
		s->rx_wanted = false;
		char_backend_accept_input(&s->cfg.backend);
	}
}

/* A byte arrives in the receiver (from the host or looped back). 16550D 8.4 LSR bit 1: when the
 * FIFO is full (or RBR full in 16450 mode) the new byte overwrites the shift register and is
 * lost in FIFO mode, or overwrites RBR in 16450 mode; OE is set either way. */
static void rx_push(struct serial8250 *s, uint8_t byte, uint64_t now_ns)
{
	if (s->rx_count == rx_capacity(s)) {
		s->lsr_err |= LSR_OE;
		s->st.nr_overruns++;
		if (!s->fifo_on)
			s->rx[s->rx_head] = byte;
		return;
	}
	s->rx[(s->rx_head + s->rx_count) % SERIAL8250_FIFO_SIZE] = byte;
	s->rx_count++;
	restart_cti_timer(s, now_ns);
}

static void transmit(struct serial8250 *s, uint8_t byte, uint64_t now_ns)
{
	if (s->mcr & MCR_LOOP) {
		/* 16550D 8.8 MCR bit 4: the transmitter shift register feeds the receiver */
		s->st.nr_loopback++;
		rx_push(s, byte, now_ns);
	} else {
		s->st.nr_tx++;
		(void)char_backend_write(&s->cfg.backend, &byte, 1);
	}
	/* the byte left at once: THR and the transmitter are empty again (LSR THRE/TEMT stay 1) */
	s->thr_ipending = true;
}

static void set_modem_inputs(struct serial8250 *s)
{
	uint8_t in = modem_inputs(s), changed = in ^ s->msr_in;
	if (changed & MSR_CTS)
		s->msr_delta |= MSR_DCTS;
	if (changed & MSR_DSR)
		s->msr_delta |= MSR_DDSR;
	if (changed & MSR_DCD)
		s->msr_delta |= MSR_DDCD;
	if ((s->msr_in & MSR_RI) && !(in & MSR_RI)) /* trailing edge only */
		s->msr_delta |= MSR_TERI;
	s->msr_in = in;
}

static uint8_t reg_read(struct serial8250 *s, unsigned offset, uint64_t now_ns)
{
	uint8_t v;

	switch (offset) {
	case SERIAL8250_RBR:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (s->rx_count) {
			s->rbr_last = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % SERIAL8250_FIFO_SIZE;
			s->rx_count--;
			/* 8.4 C: reading a byte clears the timeout indication and restarts the timer */
			s->cti_pending = false;
			restart_cti_timer(s, now_ns);
			if (!s->rx_count && s->rx_wanted && !(s->mcr & MCR_LOOP)) {
				s->rx_wanted = false;
				char_backend_accept_input(&s->cfg.backend);
			}
		}
		return s->rbr_last;
	case SERIAL8250_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case SERIAL8250_IIR:
		v = iir_id(s);
		/* Table IV: reading IIR clears THRE when THRE is the source it reports */
		if (v == IIR_THRE)
			s->thr_ipending = false;
		return v | (s->fifo_on ? IIR_FIFO : 0);
	case SERIAL8250_LCR:
		return s->lcr;
	case SERIAL8250_MCR:
		return s->mcr;
	case SERIAL8250_LSR:
		v = (uint8_t)(s->lsr_err | LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0));
		s->lsr_err = 0; /* 8.4: OE, PE, FE, BI are reset by reading LSR */
		return v;
	case SERIAL8250_MSR:
		v = s->msr_in | s->msr_delta;
		s->msr_delta = 0;
		return v;
	case SERIAL8250_SCR:
		return s->scr;
	}
	return 0xff;
}

static void fcr_write(struct serial8250 *s, uint8_t val)
{
	/* 8.7 bit 0: the other bits are only programmed when bit 0 is written as 1; changing the
	 * FIFO mode clears both FIFOs */
	if (!(val & FCR_ENABLE)) {
		if (s->fifo_on) {
			s->fifo_on = false;
			rx_clear(s);
		}
		return;
	}
	if (!s->fifo_on) {
		s->fifo_on = true;
		rx_clear(s);
	}
	if (val & FCR_RX_RESET)
		rx_clear(s);
	/* FCR_TX_RESET: the transmit FIFO is always empty (bytes leave at once) */
	s->fcr_dma = val & FCR_DMA;
	static const unsigned trig[4] = { 1, 4, 8, 14 };
	s->rx_trigger = trig[val >> 6];
}

static void reg_write(struct serial8250 *s, unsigned offset, uint8_t val, uint64_t now_ns)
{
	uint8_t old;

	switch (offset) {
	case SERIAL8250_RBR:
		if (s->lcr & LCR_DLAB)
			s->dll = val;
		else
			transmit(s, val, now_ns);
		break;
	case SERIAL8250_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = val;
			break;
		}
		old = s->ier;
		s->ier = val & 0x0f; /* bits 7..4 are always 0 */
		/* Enabling ETBEI while THR is empty gives a THRE interrupt at once (Linux probes
		 * this in serial8250_do_startup); disabling it drops a pending one. */
		if ((old ^ s->ier) & IER_ETBEI)
			s->thr_ipending = s->ier & IER_ETBEI;
		break;
	case SERIAL8250_IIR:
		fcr_write(s, val);
		break;
	case SERIAL8250_LCR:
		s->lcr = val;
		break;
	case SERIAL8250_MCR:
		old = s->mcr;
		s->mcr = val & MCR_MASK;
		set_modem_inputs(s);
		if ((old & MCR_LOOP) && !(s->mcr & MCR_LOOP) && s->rx_wanted &&
		    s->rx_count < rx_capacity(s)) {
			s->rx_wanted = false;
			char_backend_accept_input(&s->cfg.backend);
		}
		break;
	case SERIAL8250_LSR: /* 8.4: for factory test only; writes are ignored */
	case SERIAL8250_MSR: /* read-only */
		break;
	case SERIAL8250_SCR:
		s->scr = val;
		break;
	}
}

/* ---- public interface ---- */

struct serial8250 *serial8250_create(const struct serial8250_config *cfg)
{
	struct serial8250 *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (pthread_mutex_init(&s->lock, NULL)) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	s->cfg = *cfg;
	s->dll = 1;
	s->rx_trigger = 1;
	s->cti_deadline = UINT64_MAX;
	s->msr_in = modem_inputs(s);
	/* THR empty at reset, ETBEI off: nothing pending until ETBEI is enabled */
	return s;
}

void serial8250_reset(struct serial8250 *s)
{
	pthread_mutex_lock(&s->lock);
	/* Table III: IER, IIR, FCR, LCR, MCR, LSR, MSR bits 3..0 reset; RBR, THR, SCR, DLL, DLM
	 * are not affected by MR */
	s->ier = 0;
	s->lcr = 0;
	s->mcr = 0;
	s->lsr_err = 0;
	s->msr_delta = 0;
	s->msr_in = modem_inputs(s);
	s->fifo_on = false;
	s->fcr_dma = false;
	s->rx_trigger = 1;
	s->thr_ipending = false;
	rx_clear(s);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

void serial8250_destroy(struct serial8250 *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

uint8_t serial8250_io_read(struct serial8250 *s, unsigned offset, uint64_t now_ns)
{
	pthread_mutex_lock(&s->lock);
	s->st.nr_reads++;
	uint8_t v = offset < SERIAL8250_NR_PORTS ? reg_read(s, offset, now_ns) : 0xff;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return v;
}

void serial8250_io_write(struct serial8250 *s, unsigned offset, uint8_t val, uint64_t now_ns)
{
	pthread_mutex_lock(&s->lock);
	s->st.nr_writes++;
	if (offset < SERIAL8250_NR_PORTS)
		reg_write(s, offset, val, now_ns);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static size_t can_receive_locked(const struct serial8250 *s)
{
	if (s->mcr & MCR_LOOP)
		return 0; /* 8.8: the serial input is disconnected in loopback mode */
	return rx_capacity(s) - s->rx_count;
}

size_t serial8250_can_receive(struct serial8250 *s)
{
	pthread_mutex_lock(&s->lock);
	size_t n = can_receive_locked(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial8250_receive(struct serial8250 *s, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&s->lock);
	uint64_t now = now_of(s);
	size_t n = can_receive_locked(s);
	if (n > len)
		n = len;
	for (size_t i = 0; i < n; i++)
		rx_push(s, buf[i], now);
	s->st.nr_rx += n;
	if (n < len)
		s->rx_wanted = true;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

static size_t frontend_receive(void *opaque, const uint8_t *buf, size_t len)
{
	return serial8250_receive(opaque, buf, len);
}

struct char_frontend serial8250_frontend(struct serial8250 *s)
{
	return (struct char_frontend){ .receive = frontend_receive, .opaque = s };
}

void serial8250_timer(struct serial8250 *s, uint64_t now_ns)
{
	pthread_mutex_lock(&s->lock);
	if (s->cti_deadline != UINT64_MAX && now_ns >= s->cti_deadline) {
		s->cti_deadline = UINT64_MAX;
		if (s->fifo_on && s->rx_count)
			s->cti_pending = true;
	}
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

int serial8250_irq_level(struct serial8250 *s)
{
	pthread_mutex_lock(&s->lock);
	int level = s->irq_level;
	pthread_mutex_unlock(&s->lock);
	return level;
}

void serial8250_get_stats(struct serial8250 *s, struct serial8250_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}

void serial8250_print_stats(struct serial8250 *s, FILE *f)
{
	struct serial8250_stats st;
	serial8250_get_stats(s, &st);
	fprintf(f,
		"serial8250: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64 " irqs, %" PRIu64
		" bytes out, %" PRIu64 " bytes in, %" PRIu64 " looped back, %" PRIu64
		" overruns\n",
		st.nr_reads, st.nr_writes, st.nr_irqs, st.nr_tx, st.nr_rx, st.nr_loopback,
		st.nr_overruns);
}

/* ---- bus glue ---- */

static void bus_read_cb(void *opaque, uint64_t offset, void *data, unsigned len)
{
	struct serial8250 *s = opaque;
	uint8_t *p = data;
	uint64_t now = now_of(s);
	/* an 8-bit ISA device: a wider access is that many byte accesses at ascending ports */
	for (unsigned i = 0; i < len; i++)
		p[i] = serial8250_io_read(s, (unsigned)offset + i, now);
}

static void bus_write_cb(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct serial8250 *s = opaque;
	const uint8_t *p = data;
	uint64_t now = now_of(s);
	for (unsigned i = 0; i < len; i++)
		serial8250_io_write(s, (unsigned)offset + i, p[i], now);
}

static const struct bus_ops serial8250_bus_ops = {
	.read = bus_read_cb,
	.write = bus_write_cb,
};

int serial8250_register(struct serial8250 *s, struct bus *bus, uint16_t base, const char *name,
			struct bus_dev **devp)
{
	return bus_register_pio(bus, base, SERIAL8250_NR_PORTS, &serial8250_bus_ops, s,
				name ? name : "serial8250", devp);
}
