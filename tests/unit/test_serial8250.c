/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the 16550A UART (src/hw/serial8250.c) against the PC16550D datasheet (section
 * numbers are the datasheet's) and against the probe sequence of Linux's 8250 driver
 * (autoconfig, autoconfig_16550a, serial8250_do_startup): reset values, scratch and IER bits,
 * FIFO detection through FCR/IIR, loopback and modem status deltas, the divisor latch, transmit
 * to the backend, receive with flow control, trigger levels, the character timeout, interrupt
 * priorities and clearing rules, the OUT2 gate of the IRQ line, wide and hostile accesses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "omnivisor/bus.h"
#include "omnivisor/hw/serial8250.h"

enum { RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR };
#define FCR IIR
#define DLL RBR
#define DLM IER

/* ---- a fake world: backend, IRQ line, clock and timer ---- */

struct world {
	struct serial8250 *s;
	uint8_t out[4096];
	size_t nr_out;
	unsigned nr_accept;
	int level;
	unsigned nr_rises, nr_calls;
	uint64_t now;
	uint64_t deadline;
	unsigned nr_arms;
};

static ssize_t be_write(void *opaque, const void *buf, size_t len)
{
	struct world *w = opaque;
	assert_true(w->nr_out + len <= sizeof(w->out));
	memcpy(w->out + w->nr_out, buf, len);
	w->nr_out += len;
	return (ssize_t)len;
}

static void be_accept(void *opaque)
{
	struct world *w = opaque;
	w->nr_accept++;
}

static const struct char_backend_ops be_ops = {
	.write = be_write,
	.accept_input = be_accept,
};

static void irq_set_cb(void *opaque, int n, int level)
{
	struct world *w = opaque;
	assert_int_equal(n, 4);
	if (level && !w->level)
		w->nr_rises++;
	w->level = level;
	w->nr_calls++;
}

static uint64_t clock_cb(void *opaque)
{
	return ((struct world *)opaque)->now;
}

static void arm_cb(void *opaque, uint64_t deadline)
{
	struct world *w = opaque;
	w->deadline = deadline;
	w->nr_arms++;
}

static struct world *world_new(bool with_timer)
{
	struct world *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	w->deadline = UINT64_MAX;
	w->now = 1000000000ull;
	struct serial8250_config cfg = {
		.irq = { .set = irq_set_cb, .opaque = w, .n = 4 },
		.backend = { .ops = &be_ops, .opaque = w },
		.clock_ns = clock_cb,
		.clock_opaque = w,
		.arm = with_timer ? arm_cb : NULL,
		.arm_opaque = w,
	};
	w->s = serial8250_create(&cfg);
	assert_non_null(w->s);
	return w;
}

static int setup(void **state)
{
	*state = world_new(true);
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	serial8250_destroy(w->s);
	free(w);
	return 0;
}

static uint8_t rd(struct world *w, unsigned off)
{
	return serial8250_io_read(w->s, off, w->now);
}

static void wr(struct world *w, unsigned off, uint8_t v)
{
	serial8250_io_write(w->s, off, v, w->now);
}

static size_t rx(struct world *w, const char *str)
{
	return serial8250_receive(w->s, (const uint8_t *)str, strlen(str));
}

/* ---- tests ---- */

/* Table III: reset values */
static void test_reset_values(void **state)
{
	struct world *w = *state;
	assert_int_equal(rd(w, IER), 0x00);
	assert_int_equal(rd(w, IIR), 0x01); /* no interrupt, FIFOs off */
	assert_int_equal(rd(w, LCR), 0x00);
	assert_int_equal(rd(w, MCR), 0x00);
	assert_int_equal(rd(w, LSR), 0x60); /* THRE | TEMT */
	/* 8.9: no deltas; inputs DCD, DSR, CTS asserted by the host side */
	assert_int_equal(rd(w, MSR), 0xb0);
	assert_int_equal(serial8250_irq_level(w->s), 0);
	assert_int_equal(w->nr_calls, 0);
	assert_int_equal(serial8250_can_receive(w->s), 1);
}

/* Linux autoconfig(): IER bits 3..0 read back, bits 7..4 are 0 (also the XScale UUE test) */
static void test_ier_scratch(void **state)
{
	struct world *w = *state;
	wr(w, IER, 0x00);
	assert_int_equal(rd(w, IER) & 0x0f, 0x00);
	wr(w, IER, 0x0f);
	assert_int_equal(rd(w, IER) & 0x0f, 0x0f);
	wr(w, IER, 0xff);
	assert_int_equal(rd(w, IER), 0x0f);
	wr(w, IER, 0x40); /* UART_IER_UUE */
	assert_int_equal(rd(w, IER), 0x00);
	/* 8.11 scratch register: every value reads back */
	for (unsigned v = 0; v < 256; v++) {
		wr(w, SCR, (uint8_t)v);
		assert_int_equal(rd(w, SCR), v);
	}
}

/* Linux autoconfig(): loopback with MCR = LOOP | OUT2 | RTS must read MSR & 0xf0 == 0x90 */
static void test_linux_loopback_probe(void **state)
{
	struct world *w = *state;
	wr(w, MCR, 0x10 | 0x0a);
	assert_int_equal(rd(w, MSR) & 0xf0, 0x90);
	/* MCR bits 7..5 are 0 */
	wr(w, MCR, 0xff);
	assert_int_equal(rd(w, MCR), 0x1f);
	assert_int_equal(rd(w, MSR) & 0xf0, 0xf0);
	wr(w, MCR, 0x00);
	assert_int_equal(rd(w, MSR) & 0xf0, 0xb0);
}

/* Linux's 16550A identification: FCR/IIR bits 7..6, no EFR, no 16750 64-byte bit, no
 * National SuperIO bank registers (IIR bits 5..4 are 0). */
static void test_linux_fifo_probe(void **state)
{
	struct world *w = *state;
	wr(w, LCR, 0xbf);
	wr(w, FCR, 0x00); /* "EFR" write on a 16550A is FCR: FIFOs off */
	wr(w, LCR, 0x00);
	wr(w, FCR, 0x01);
	assert_int_equal(rd(w, IIR) >> 6, 3); /* 8.6: bits 7..6 set when FCR0 = 1 */
	wr(w, LCR, 0x80);
	assert_int_not_equal(rd(w, IIR), 0); /* no ST16C650V1 EFR */
	wr(w, LCR, 0xbf);
	assert_int_not_equal(rd(w, IIR), 0); /* no EFR */
	wr(w, LCR, 0xe0);
	assert_int_equal(rd(w, IIR) & 0x30, 0); /* no NS SuperIO EXCR1 */
	wr(w, LCR, 0x00);
	wr(w, FCR, 0x21); /* UART_FCR7_64BYTE: a 16550A ignores bit 5 */
	assert_int_equal(rd(w, IIR) & 0xe0, 0xc0);
	wr(w, LCR, 0x80);
	wr(w, FCR, 0x21);
	assert_int_equal(rd(w, IIR) & 0xe0, 0xc0);
	wr(w, LCR, 0x00);
	wr(w, FCR, 0x00);
	assert_int_equal(rd(w, IIR), 0x01);
}

/* 8.10: the divisor latch shares offsets 0 and 1 with RBR/THR and IER when DLAB = 1 */
static void test_divisor_latch(void **state)
{
	struct world *w = *state;
	wr(w, IER, 0x05);
	wr(w, LCR, 0x83);
	assert_int_equal(rd(w, DLL), 0x01); /* our reset divisor: 115200 baud */
	assert_int_equal(rd(w, DLM), 0x00);
	wr(w, DLL, 0x0c);
	wr(w, DLM, 0xab);
	assert_int_equal(rd(w, DLL), 0x0c);
	assert_int_equal(rd(w, DLM), 0xab);
	assert_int_equal(w->nr_out, 0); /* DLL write did not transmit */
	assert_int_equal(rd(w, LCR), 0x83);
	wr(w, LCR, 0x03);
	assert_int_equal(rd(w, IER), 0x05); /* IER untouched by the DLM write */
	wr(w, LCR, 0x80);
	assert_int_equal(rd(w, DLL), 0x0c);
	assert_int_equal(rd(w, DLM), 0xab);
}


/* Transmit goes to the backend at once; LSR THRE/TEMT stay set; THRE interrupt (Table IV:
 * set when THR is empty and ETBEI enabled, cleared by reading IIR when it is the source, or by
 * writing THR) and the OUT2 gate of the PC's IRQ line. */
static void test_transmit_and_thre(void **state)
{
	struct world *w = *state;
	wr(w, LCR, 0x03);
	wr(w, RBR, 'h');
	wr(w, RBR, 'i');
	assert_int_equal(w->nr_out, 2);
	assert_memory_equal(w->out, "hi", 2);
	assert_int_equal(rd(w, LSR), 0x60);
	assert_int_equal(rd(w, IIR), 0x01); /* ETBEI off: nothing */

	wr(w, IER, 0x02);
	assert_int_equal(rd(w, IIR), 0x02); /* enabling ETBEI with THR empty */
	assert_int_equal(rd(w, IIR), 0x01); /* the IIR read cleared it */
	wr(w, RBR, '!');
	assert_int_equal(rd(w, IIR), 0x02); /* THR empty again after the byte left */
	assert_int_equal(w->nr_out, 3);

	/* the line: MCR OUT2 gates the interrupt onto the ISA bus */
	assert_int_equal(w->level, 0);
	wr(w, MCR, 0x0b); /* DTR | RTS | OUT2, as Linux sets it */
	wr(w, RBR, 'x');
	assert_int_equal(w->level, 1);
	assert_int_equal(serial8250_irq_level(w->s), 1);
	unsigned rises = w->nr_rises;
	wr(w, RBR, 'y'); /* still pending: no new edge */
	assert_int_equal(w->level, 1);
	assert_int_equal(w->nr_rises, rises);
	assert_int_equal(rd(w, IIR), 0x02);
	assert_int_equal(w->level, 0);
	wr(w, RBR, 'z');
	assert_int_equal(w->level, 1);
	wr(w, MCR, 0x03); /* OUT2 off: line low, interrupt still identified */
	assert_int_equal(w->level, 0);
	assert_int_equal(rd(w, IIR), 0x02);
	wr(w, MCR, 0x0b);
	wr(w, IER, 0x00); /* disabling ETBEI drops the pending THRE */
	assert_int_equal(w->level, 0);
	assert_int_equal(rd(w, IIR), 0x01);
	assert_memory_equal(w->out, "hi!xyz", 6);
}

/* serial8250_do_startup's two THRE probes (UART_BUG_TXEN, UART_BUG_THRE): a real 16550
 * reasserts THRE every time ETBEI is enabled while the transmitter is idle. */
static void test_linux_thre_probe(void **state)
{
	struct world *w = *state;
	wr(w, LCR, 0x03);
	wr(w, IER, 0x02);
	uint8_t lsr = rd(w, LSR), iir = rd(w, IIR);
	wr(w, IER, 0x00);
	assert_true(lsr & 0x40);
	assert_false(iir & 0x01);
	wr(w, IER, 0x02);
	uint8_t iir1 = rd(w, IIR);
	wr(w, IER, 0x00);
	wr(w, IER, 0x02);
	iir = rd(w, IIR);
	wr(w, IER, 0x00);
	assert_int_equal(iir1, 0x02);
	assert_int_equal(iir, 0x02);
}

/* 16450 mode: a one-byte RBR; receive accepts one byte at a time; RDA (IIR 0x04) until read */
static void test_receive_16450(void **state)
{
	struct world *w = *state;
	wr(w, MCR, 0x08);
	wr(w, IER, 0x01);
	assert_int_equal(rx(w, "abc"), 1);
	assert_int_equal(serial8250_can_receive(w->s), 0);
	assert_int_equal(rx(w, "bc"), 0);
	assert_int_equal(rd(w, LSR), 0x61);
	assert_int_equal(rd(w, IIR), 0x04);
	assert_int_equal(w->level, 1);
	assert_int_equal(w->nr_accept, 0);
	assert_int_equal(rd(w, RBR), 'a');
	assert_int_equal(w->nr_accept, 1); /* room again: the backend is told */
	assert_int_equal(w->level, 0);
	assert_int_equal(rd(w, LSR), 0x60);
	assert_int_equal(rd(w, IIR), 0x01);
	assert_int_equal(rd(w, RBR), 'a'); /* empty: RBR keeps the last byte */
	assert_int_equal(rx(w, "b"), 1);
	assert_int_equal(rd(w, RBR), 'b');
	assert_int_equal(w->nr_accept, 1); /* b was not refused: nothing to tell */
	/* no timeout indication in 16450 mode */
	assert_int_equal(w->deadline, UINT64_MAX);
}

/* 8.7 trigger levels (FCR bits 7..6 = 1, 4, 8, 14 bytes) and the 16-byte FIFO */
static void test_fifo_trigger_levels(void **state)
{
	struct world *w = *state;
	static const uint8_t fcr[4] = { 0x01, 0x41, 0x81, 0xc1 };
	static const unsigned level[4] = { 1, 4, 8, 14 };
	char buf[17];
	memset(buf, 'q', 16);
	buf[16] = 0;
	wr(w, IER, 0x01);
	for (int t = 0; t < 4; t++) {
		wr(w, FCR, fcr[t] | 0x02);
		for (unsigned i = 1; i <= 16; i++) {
			assert_int_equal(serial8250_receive(w->s, (const uint8_t *)"q", 1), 1);
			uint8_t iir = rd(w, IIR);
			if (i >= level[t])
				assert_int_equal(iir, 0xc4);
			else
				assert_int_equal(iir, 0xc1);
		}
		assert_int_equal(serial8250_can_receive(w->s), 0);
		assert_int_equal(rx(w, "q"), 0);
		assert_int_equal(rd(w, LSR), 0x61); /* full FIFO, no overrun from the host */
	}
	/* draining below the trigger clears RDA (Table IV) */
	for (int i = 0; i < 3; i++)
		assert_int_equal(rd(w, RBR), 'q');
	assert_int_equal(rd(w, IIR), 0xc1); /* 13 left, trigger 14: RDA gone, no timeout yet */
}

/* 8.4 "FIFO interrupt mode operation": the character timeout indication (IIR 0x0c) is given
 * when data below the trigger level stayed in the FIFO for 4 character times with no byte in or
 * out; reading a byte clears it and restarts the timer. 8N1 at divisor 1 (115200 baud): one
 * character is 10 bits = 86805 ns, 4 characters 347220 ns. */
static void test_character_timeout(void **state)
{
	struct world *w = *state;
	wr(w, LCR, 0x03);
	wr(w, MCR, 0x08);
	wr(w, FCR, 0x81); /* trigger 8, as Linux programs a 16550A */
	wr(w, IER, 0x01);
	assert_int_equal(w->deadline, UINT64_MAX);
	assert_int_equal(rx(w, "ab"), 2);
	uint64_t t0 = w->now;
	assert_int_equal(w->deadline, t0 + 4 * 86805);
	assert_int_equal(rd(w, IIR), 0xc1);
	w->now = t0 + 4 * 86805 - 1;
	serial8250_timer(w->s, w->now); /* early: nothing */
	assert_int_equal(rd(w, IIR), 0xc1);
	w->now = t0 + 4 * 86805;
	serial8250_timer(w->s, w->now);
	assert_int_equal(rd(w, IIR), 0xcc);
	assert_int_equal(w->level, 1);
	assert_int_equal(rd(w, IIR), 0xcc); /* not cleared by IIR read */
	/* a new byte does not clear a pending timeout (8.4 C/D) */
	assert_int_equal(rx(w, "c"), 1);
	assert_int_equal(rd(w, IIR), 0xcc);
	/* reading one byte clears it and restarts the timer */
	assert_int_equal(rd(w, RBR), 'a');
	assert_int_equal(rd(w, IIR), 0xc1);
	assert_int_equal(w->level, 0);
	assert_int_equal(w->deadline, w->now + 4 * 86805);
	w->now += 4 * 86805;
	serial8250_timer(w->s, w->now);
	assert_int_equal(rd(w, IIR), 0xcc);
	assert_int_equal(rd(w, RBR), 'b');
	assert_int_equal(rd(w, RBR), 'c');
	assert_int_equal(rd(w, IIR), 0xc1);
	assert_int_equal(w->deadline, UINT64_MAX); /* empty: timer stopped */
	serial8250_timer(w->s, w->now + 1000000000); /* a stray call */
	assert_int_equal(rd(w, IIR), 0xc1);

	/* 7E2 (LCR 0x1e: 7 bits, even parity, 2 stop) at divisor 12 (9600 baud): 11 bits */
	wr(w, LCR, 0x80);
	wr(w, DLL, 12);
	wr(w, LCR, 0x1e);
	assert_int_equal(rx(w, "d"), 1);
	assert_int_equal(w->deadline, w->now + 4 * (11ull * 16 * 12 * 1000000000 / 1843200));
	/* 5 bits, 1.5 stop bits (LCR 0x04 with 5 data bits): 7.5 bits at divisor 1 */
	wr(w, LCR, 0x04);
	assert_int_equal(rd(w, RBR), 'd');
	assert_int_equal(rx(w, "e"), 1);
	assert_int_equal(w->deadline, w->now + 4 * (15ull * 8 * 12 * 1000000000 / 1843200));
}

/* Without an arm hook the timeout indication is given at once */
static void test_character_timeout_no_timer(void **state)
{
	(void)state;
	struct world *w = world_new(false);
	wr(w, FCR, 0xc1);
	wr(w, IER, 0x01);
	assert_int_equal(rx(w, "x"), 1);
	assert_int_equal(rd(w, IIR), 0xcc);
	assert_int_equal(rd(w, RBR), 'x');
	assert_int_equal(rd(w, IIR), 0xc1);
	serial8250_destroy(w->s);
	free(w);
}

/* 8.7: FCR bit 1 clears the receive FIFO; changing FIFO mode clears it; other bits are only
 * programmed when bit 0 is 1 */
static void test_fcr_rules(void **state)
{
	struct world *w = *state;
	wr(w, IER, 0x01);
	wr(w, FCR, 0x01);
	assert_int_equal(rx(w, "0123456789abcdefXYZ"), 16);
	assert_int_equal(w->nr_accept, 0);
	wr(w, FCR, 0x03); /* RX reset */
	assert_int_equal(w->nr_accept, 1);
	assert_int_equal(rd(w, LSR), 0x60);
	assert_int_equal(rd(w, IIR), 0xc1);
	assert_int_equal(w->deadline, UINT64_MAX);
	assert_int_equal(rx(w, "abc"), 3);
	wr(w, FCR, 0xc0); /* bit 0 clear: FIFOs off and cleared, trigger not programmed */
	assert_int_equal(rd(w, LSR), 0x60);
	assert_int_equal(rd(w, IIR), 0x01);
	assert_int_equal(serial8250_can_receive(w->s), 1);
	wr(w, FCR, 0x01); /* back on: trigger is still 1 (0xc0 was ignored) */
	assert_int_equal(rx(w, "a"), 1);
	assert_int_equal(rd(w, IIR), 0xc4);
	wr(w, FCR, 0x01); /* same mode, no reset bit: data kept */
	assert_int_equal(rd(w, LSR), 0x61);
	wr(w, FCR, 0x05); /* TX reset only */
	assert_int_equal(rd(w, LSR), 0x61);
	assert_int_equal(rd(w, RBR), 'a');
}

/* Loopback (8.8 MCR bit 4): transmitted bytes are received, the host input is disconnected,
 * the modem inputs follow the outputs, and overrun sets OE (16550D 8.4 LSR bit 1). */
static void test_loopback_and_overrun(void **state)
{
	struct world *w = *state;
	wr(w, FCR, 0x01);
	wr(w, MCR, 0x18); /* LOOP | OUT2 */
	wr(w, IER, 0x05); /* RDA + line status */
	assert_int_equal(serial8250_can_receive(w->s), 0);
	assert_int_equal(rx(w, "host"), 0);
	for (int i = 0; i < 16; i++)
		wr(w, RBR, (uint8_t)('A' + i));
	assert_int_equal(w->nr_out, 0); /* nothing reached the host */
	assert_int_equal(rd(w, IIR), 0xc4);
	assert_int_equal(w->level, 0); /* loopback: the OUT2 pin is inactive, no IRQ */
	wr(w, RBR, 'Z'); /* 17th byte: overrun, lost */
	assert_int_equal(rd(w, IIR), 0xc6); /* line status outranks RDA */
	assert_int_equal(rd(w, LSR), 0x63);
	assert_int_equal(rd(w, LSR), 0x61); /* OE cleared by the LSR read */
	assert_int_equal(rd(w, IIR), 0xc4);
	for (int i = 0; i < 16; i++)
		assert_int_equal(rd(w, RBR), 'A' + i);
	assert_int_equal(rd(w, LSR), 0x60);
	/* leaving loopback reconnects the host input and tells the backend it was refused */
	wr(w, MCR, 0x08);
	assert_int_equal(w->nr_accept, 1);
	assert_int_equal(rx(w, "host"), 4);
	struct serial8250_stats st;
	serial8250_get_stats(w->s, &st);
	assert_int_equal(st.nr_loopback, 17);
	assert_int_equal(st.nr_overruns, 1);
	assert_int_equal(st.nr_rx, 4);
	assert_int_equal(st.nr_tx, 0);

	/* 16450 mode: the new byte overwrites RBR */
	wr(w, FCR, 0x00);
	wr(w, MCR, 0x10);
	wr(w, RBR, '1');
	wr(w, RBR, '2');
	assert_int_equal(rd(w, LSR), 0x63);
	assert_int_equal(rd(w, RBR), '2');
}

/* 8.9 MSR deltas: DCTS, DDSR, DDCD on any change, TERI on RI's trailing edge only; the modem
 * status interrupt (IIR 0x00, lowest priority) until MSR is read */
static void test_modem_status(void **state)
{
	struct world *w = *state;
	wr(w, IER, 0x08);
	assert_int_equal(rd(w, IIR), 0x01);
	wr(w, MCR, 0x10); /* loop, all outputs off: CTS, DSR, DCD fall */
	assert_int_equal(rd(w, IIR), 0x00);
	assert_int_equal(rd(w, MSR), 0x0b);
	assert_int_equal(rd(w, MSR), 0x00);
	assert_int_equal(rd(w, IIR), 0x01);
	wr(w, MCR, 0x14); /* OUT1 -> RI rises: no TERI */
	assert_int_equal(rd(w, MSR), 0x40);
	wr(w, MCR, 0x10); /* RI falls: TERI */
	assert_int_equal(rd(w, MSR), 0x04);
	wr(w, MCR, 0x12); /* RTS -> CTS */
	assert_int_equal(rd(w, MSR), 0x11);
	wr(w, MCR, 0x13); /* DTR -> DSR */
	assert_int_equal(rd(w, MSR), 0x32);
	wr(w, MCR, 0x1b); /* OUT2 -> DCD */
	assert_int_equal(rd(w, MSR), 0xb8);
	wr(w, MCR, 0x0b); /* leave loopback: host inputs DCD DSR CTS, unchanged */
	assert_int_equal(rd(w, MSR), 0xb0);
	/* priority: THRE outranks modem status */
	wr(w, MCR, 0x1b);
	wr(w, MCR, 0x0b); /* nothing changes: same inputs */
	wr(w, MCR, 0x10);
	wr(w, IER, 0x0a);
	assert_int_equal(rd(w, IIR), 0x02);
	assert_int_equal(rd(w, IIR), 0x00);
	assert_int_equal(rd(w, MSR) & 0x0f, 0x0b);
	assert_int_equal(rd(w, IIR), 0x01);
}

/* Table IV priorities: line status > received data / timeout > THRE > modem status */
static void test_priorities(void **state)
{
	struct world *w = *state;
	wr(w, FCR, 0x01);
	wr(w, MCR, 0x10);
	wr(w, IER, 0x0f); /* THRE pending now */
	wr(w, MCR, 0x12); /* MSR delta */
	assert_int_equal(rd(w, IIR), 0xc2);
	assert_int_equal(rd(w, IIR), 0xc0);
	for (int i = 0; i < 17; i++)
		wr(w, RBR, 'x'); /* THRE pending again, RDA, overrun */
	assert_int_equal(rd(w, IIR), 0xc6);
	(void)rd(w, LSR);
	assert_int_equal(rd(w, IIR), 0xc4);
	wr(w, FCR, 0x03);
	assert_int_equal(rd(w, IIR), 0xc2);
	assert_int_equal(rd(w, IIR), 0xc0);
	(void)rd(w, MSR);
	assert_int_equal(rd(w, IIR), 0xc1);
	/* IER = 0: nothing is identified even with sources active */
	wr(w, RBR, 'x');
	wr(w, IER, 0x00);
	assert_int_equal(rd(w, IIR), 0xc1);
	assert_int_equal(rd(w, LSR), 0x61);
}

/* The backend is told only when refused input can be taken (flow control, char.h) */
static void test_flow_control(void **state)
{
	struct world *w = *state;
	char big[40];
	memset(big, 'k', sizeof(big));
	wr(w, FCR, 0x01);
	assert_int_equal(serial8250_receive(w->s, (const uint8_t *)big, sizeof(big)), 16);
	for (int i = 0; i < 15; i++)
		(void)rd(w, RBR);
	assert_int_equal(w->nr_accept, 0);
	(void)rd(w, RBR);
	assert_int_equal(w->nr_accept, 1); /* empty */
	assert_int_equal(serial8250_receive(w->s, (const uint8_t *)big, 10), 10);
	for (int i = 0; i < 10; i++)
		(void)rd(w, RBR);
	assert_int_equal(w->nr_accept, 1); /* nothing was refused */
	struct char_frontend fe = serial8250_frontend(w->s);
	assert_int_equal(fe.receive(fe.opaque, (const uint8_t *)"ab", 2), 2);
	assert_int_equal(rd(w, RBR), 'a');
}

/* Through the bus: 8 ports, 2- and 4-byte accesses act as byte accesses at ascending ports,
 * neighbours unassigned */
static void test_bus_access(void **state)
{
	struct world *w = *state;
	struct bus *bus = bus_create();
	assert_non_null(bus);
	assert_int_equal(serial8250_register(w->s, bus, 0x3f8, "com1", NULL), 0);
	uint8_t b[4] = { 0 };
	assert_int_equal(bus_pio_read(bus, 0x3fd, b, 1), 0);
	assert_int_equal(b[0], 0x60);
	/* outw 0x3fb: LCR = 0x83, MCR = 0x0b */
	bus_data_put(b, 2, 0x0b83);
	assert_int_equal(bus_pio_write(bus, 0x3fb, b, 2), 0);
	assert_int_equal(rd(w, LCR), 0x83);
	assert_int_equal(rd(w, MCR), 0x0b);
	/* outl 0x3f8 with DLAB: DLL 3, DLM 0, FCR 0xc7 (FIFO on, both reset, trigger 14), LCR 3 */
	bus_data_put(b, 4, 0x03c70003);
	assert_int_equal(bus_pio_write(bus, 0x3f8, b, 4), 0);
	assert_int_equal(rd(w, LCR), 0x03);
	assert_int_equal(bus_pio_read(bus, 0x3f8, b, 4), 0);
	/* RBR (empty: 0), IER 0, IIR 0xc1, LCR 3 */
	assert_int_equal(bus_data_get(b, 4), 0x03c10000);
	bus_pio_write(bus, 0x3f8, "Hi", 2); /* THR = 'H', IER = 'i' (0x69: bits 3..0 kept) */
	assert_int_equal(w->nr_out, 1);
	assert_int_equal(w->out[0], 'H');
	assert_int_equal(rd(w, IER), 0x09);
	/* straddling the end: 0x3ff (SCR) + unassigned 0x400 */
	bus_data_put(b, 2, 0x5aa5);
	assert_int_equal(bus_pio_write(bus, 0x3ff, b, 2), BUS_UNASSIGNED | BUS_SPLIT);
	assert_int_equal(bus_pio_read(bus, 0x3ff, b, 2), BUS_UNASSIGNED | BUS_SPLIT);
	assert_int_equal(bus_data_get(b, 2), 0xffa5);
	bus_destroy(bus);
}

/* The hostile guest: every offset, every value, through every access size; the invariants
 * (IER bits 7..4, MCR bits 7..5 zero; THRE/TEMT set; IIR bits 5..4 zero) always hold, the line
 * level always matches IIR and MCR, and nothing crashes. */
static void test_hostile(void **state)
{
	struct world *w = *state;
	struct bus *bus = bus_create();
	assert_non_null(bus);
	assert_int_equal(serial8250_register(w->s, bus, 0x2f8, NULL, NULL), 0);
	uint32_t x = 12345;
	for (int i = 0; i < 200000; i++) {
		x = x * 1103515245u + 12345u;
		unsigned port = 0x2f8 + ((x >> 8) & 7);
		unsigned len = 1u << ((x >> 12) % 3);
		uint8_t data[4];
		bus_data_put(data, 4, x * 2654435761u);
		if (x & 0x80000000u)
			bus_pio_write(bus, (uint16_t)port, data, len);
		else
			bus_pio_read(bus, (uint16_t)port, data, len);
		if ((x & 0xff) == 7)
			serial8250_receive(w->s, data, len);
		if ((x & 0xff) == 9) {
			w->now += 100000;
			serial8250_timer(w->s, w->now);
		}
		if ((i & 1023) == 0) {
			uint8_t lcr = rd(w, LCR);
			wr(w, LCR, lcr & 0x7f);
			assert_int_equal(rd(w, IER) & 0xf0, 0);
			uint8_t mcr = rd(w, MCR);
			assert_int_equal(mcr & 0xe0, 0);
			uint8_t iir = rd(w, IIR);
			assert_int_equal(iir & 0x30, 0);
			assert_true((iir & 0xc0) == 0 || (iir & 0xc0) == 0xc0);
			assert_int_equal(rd(w, LSR) & 0x60, 0x60);
			if (!(iir & 1) && (mcr & 0x18) == 0x08 && iir != 0x02 && iir != 0xc2)
				assert_int_equal(w->level, 1);
			if ((mcr & 0x18) != 0x08)
				assert_int_equal(w->level, 0);
			wr(w, LCR, lcr);
		}
	}
	struct serial8250_stats st;
	serial8250_get_stats(w->s, &st);
	assert_true(st.nr_reads > 0 && st.nr_writes > 0);
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	serial8250_print_stats(w->s, f);
	fclose(f);
	assert_non_null(strstr(text, "serial8250: "));
	free(text);
	bus_destroy(bus);
}

/* MR: Table III registers back to reset values, SCR and divisor kept, line low */
static void test_master_reset(void **state)
{
	struct world *w = *state;
	wr(w, LCR, 0x80);
	wr(w, DLL, 0x0c);
	wr(w, LCR, 0x1b);
	wr(w, SCR, 0x5a);
	wr(w, FCR, 0x01);
	wr(w, MCR, 0x0b);
	wr(w, IER, 0x0f);
	assert_int_equal(rx(w, "abc"), 3);
	assert_int_equal(w->level, 1);
	serial8250_reset(w->s);
	assert_int_equal(w->level, 0);
	assert_int_equal(rd(w, IER), 0x00);
	assert_int_equal(rd(w, IIR), 0x01);
	assert_int_equal(rd(w, LCR), 0x00);
	assert_int_equal(rd(w, MCR), 0x00);
	assert_int_equal(rd(w, LSR), 0x60);
	assert_int_equal(rd(w, MSR), 0xb0);
	assert_int_equal(rd(w, SCR), 0x5a);
	assert_int_equal(w->deadline, UINT64_MAX);
	wr(w, LCR, 0x80);
	assert_int_equal(rd(w, DLL), 0x0c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ier_scratch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_loopback_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_fifo_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_divisor_latch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transmit_and_thre, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_thre_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_16450, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_trigger_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_character_timeout, setup, teardown),
		cmocka_unit_test(test_character_timeout_no_timer),
		cmocka_unit_test_setup_teardown(test_fcr_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback_and_overrun, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modem_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_priorities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_control, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_access, setup, teardown),
		cmocka_unit_test_setup_teardown(test_master_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
