/* SPDX-License-Identifier: MIT */
/*
 * i8042 keyboard controller and an idle PS/2 keyboard. Interface, sources and limits:
 * include/omnivisor/hw/i8042.h.
 *
 * Bytes for the guest wait in three queues: the controller's own responses (which pass even
 * when an interface is disabled, as Linux's AUX loop test needs), the keyboard's and the AUX
 * port's. The one-byte output buffer is loaded from them in that order whenever it is empty.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "omnivisor/bus.h"
#include "omnivisor/hw/i8042.h"

/* status register */
#define STR_OBF 0x01
#define STR_SYS 0x04
#define STR_CMD 0x08 /* A2: last write was a command */
#define STR_UNLOCKED 0x10
#define STR_AUXDATA 0x20
#define STR_TIMEOUT 0x40

/* command byte */
#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40

/* output port */
#define OUT_RESET 0x01 /* 0: CPU reset asserted */
#define OUT_A20 0x02
#define OUT_IRQ1 0x10 /* reads as the output-buffer-full interrupt lines */
#define OUT_IRQ12 0x20

/* keyboard responses */
#define KBD_ACK 0xfa
#define KBD_BAT_OK 0xaa
#define KBD_RESEND 0xfe
#define KBD_ECHO 0xee

#define CTR_RESET_VALUE (CTR_XLATE | CTR_AUXDIS | CTR_SYS | CTR_KBDINT)
#define STR_RESET_VALUE (STR_SYS | STR_CMD | STR_UNLOCKED)
#define OUT_RESET_VALUE 0xcf

#define QLEN 16

struct entry {
	uint8_t byte;
	bool aux, timeout;
};

struct queue {
	struct entry e[QLEN];
	unsigned head, count;
};

struct i8042 {
	pthread_mutex_t lock;
	struct i8042_config cfg;

	uint8_t ram[32]; /* ram[0] is the command byte */
	uint8_t status;	 /* SYS, CMD, UNLOCKED (OBF, AUXDATA, TIMEOUT come from the buffer) */
	uint8_t outport;
	struct entry obuf;
	bool obf;
	uint8_t last_read;
	uint8_t pending_cmd; /* controller command waiting for its data byte, or 0 */
	struct queue ctl, kbd, aux;

	/* the keyboard */
	uint8_t kbd_cmd; /* command waiting for its parameter (0xed, 0xf0, 0xf3), or 0 */
	bool kbd_scanning;
	uint8_t kbd_set, kbd_leds, kbd_typematic, kbd_last;

	int kbd_level, aux_level;
	struct i8042_stats st;
};

static void q_push(struct queue *q, uint8_t byte, bool aux, bool timeout)
{
	if (q->count == QLEN)
		return; /* the device's buffer is full: the byte is lost */
	q->e[(q->head + q->count) % QLEN] = (struct entry){ byte, aux, timeout };
	q->count++;
}

static struct entry q_pop(struct queue *q)
{
	struct entry e = q->e[q->head];
	q->head = (q->head + 1) % QLEN;
	q->count--;
	return e;
}

static void update_irqs(struct i8042 *k)
{
	uint8_t ctr = k->ram[0];
	int kl = k->obf && !k->obuf.aux && (ctr & CTR_KBDINT);
	int al = k->obf && k->obuf.aux && (ctr & CTR_AUXINT);
	if (kl != k->kbd_level) {
		k->kbd_level = kl;
		if (kl)
			k->st.nr_kbd_irqs++;
		irq_set(&k->cfg.kbd_irq, kl);
	}
	if (al != k->aux_level) {
		k->aux_level = al;
		if (al)
			k->st.nr_aux_irqs++;
		irq_set(&k->cfg.aux_irq, al);
	}
}

/* Load the output buffer if it is empty and something may be delivered. */
static void refill(struct i8042 *k)
{
	if (k->obf)
		return;
	if (k->ctl.count)
		k->obuf = q_pop(&k->ctl);
	else if (k->kbd.count && !(k->ram[0] & CTR_KBDDIS))
		k->obuf = q_pop(&k->kbd);
	else if (k->aux.count && !(k->ram[0] & CTR_AUXDIS))
		k->obuf = q_pop(&k->aux);
	else
		return;
	k->obf = true;
}

static void ctl_reply(struct i8042 *k, uint8_t byte)
{
	q_push(&k->ctl, byte, false, false);
}

static void kbd_reply(struct i8042 *k, uint8_t byte)
{
	q_push(&k->kbd, byte, false, false);
	k->kbd_last = byte;
}

static void kbd_defaults(struct i8042 *k)
{
	k->kbd_set = 2;
	k->kbd_leds = 0;
	k->kbd_typematic = 0x2b; /* 10.9 characters/s, 500 ms delay */
}

/* A byte sent to the keyboard (IBM PS/2 keyboard, "Commands to the keyboard"). */
static void kbd_write(struct i8042 *k, uint8_t v)
{
	/* the translated values of set numbers 1-3 (QEMU's table) */
	static const uint8_t xlat_set[4] = { 0, 0x43, 0x41, 0x3f };

	if (k->kbd_cmd) {
		uint8_t cmd = k->kbd_cmd;
		k->kbd_cmd = 0;
		switch (cmd) {
		case 0xed:
			k->kbd_leds = v & 7;
			kbd_reply(k, KBD_ACK);
			return;
		case 0xf3:
			k->kbd_typematic = v & 0x7f;
			kbd_reply(k, KBD_ACK);
			return;
		case 0xf0:
			if (v == 0) {
				kbd_reply(k, KBD_ACK);
				kbd_reply(k, (k->ram[0] & CTR_XLATE) ? xlat_set[k->kbd_set]
								   : k->kbd_set);
			} else if (v <= 3) {
				k->kbd_set = v;
				kbd_reply(k, KBD_ACK);
			} else {
				kbd_reply(k, KBD_RESEND);
			}
			return;
		}
	}
	switch (v) {
	case 0xed: /* set LEDs */
	case 0xf0: /* scan code set */
	case 0xf3: /* typematic rate */
		k->kbd_cmd = v;
		kbd_reply(k, KBD_ACK);
		break;
	case 0xee:
		kbd_reply(k, KBD_ECHO);
		break;
	case 0xf2: /* identify: MF2 keyboard */
		kbd_reply(k, KBD_ACK);
		kbd_reply(k, 0xab);
		kbd_reply(k, (k->ram[0] & CTR_XLATE) ? 0x41 : 0x83);
		break;
	case 0xf4:
		k->kbd_scanning = true;
		kbd_reply(k, KBD_ACK);
		break;
	case 0xf5: /* disable: also restores defaults */
		k->kbd_scanning = false;
		kbd_defaults(k);
		kbd_reply(k, KBD_ACK);
		break;
	case 0xf6:
		kbd_defaults(k);
		kbd_reply(k, KBD_ACK);
		break;
	case 0xf7: case 0xf8: case 0xf9: case 0xfa: case 0xfb: case 0xfc: case 0xfd:
		kbd_reply(k, KBD_ACK); /* scan code set 3 key types: nothing to change */
		break;
	case 0xfe: /* resend the last byte */
		q_push(&k->kbd, k->kbd_last, false, false);
		break;
	case 0xff: /* reset and basic assurance test */
		kbd_defaults(k);
		k->kbd_scanning = true;
		k->kbd.count = 0;
		kbd_reply(k, KBD_ACK);
		kbd_reply(k, KBD_BAT_OK);
		break;
	default:
		kbd_reply(k, KBD_RESEND);
		break;
	}
}

static void set_ctr(struct i8042 *k, uint8_t v)
{
	k->ram[0] = v;
	/* the status register's system flag follows command-byte bit 2 */
	k->status = (uint8_t)((k->status & ~STR_SYS) | (v & CTR_SYS ? STR_SYS : 0));
}

/* Returns true if the CPU reset line was pulled low. */
static bool write_outport(struct i8042 *k, uint8_t v)
{
	k->outport = v;
	return !(v & OUT_RESET);
}

static uint8_t read_outport(const struct i8042 *k)
{
	uint8_t v = k->outport & (uint8_t)~(OUT_IRQ1 | OUT_IRQ12);
	if (k->kbd_level)
		v |= OUT_IRQ1;
	if (k->aux_level)
		v |= OUT_IRQ12;
	return v;
}

static bool command(struct i8042 *k, uint8_t cmd)
{
	k->pending_cmd = 0;
	if (cmd >= 0x20 && cmd <= 0x3f) {
		ctl_reply(k, k->ram[cmd & 0x1f]);
		return false;
	}
	if (cmd >= 0x60 && cmd <= 0x7f) {
		k->pending_cmd = cmd;
		return false;
	}
	if (cmd >= 0xf0) /* pulse output port bits 3..0 low where the command has 0 bits */
		return !(cmd & OUT_RESET);
	switch (cmd) {
	case 0xa4: /* password installed? */
		ctl_reply(k, 0xf1);
		break;
	case 0xa7:
		set_ctr(k, k->ram[0] | CTR_AUXDIS);
		break;
	case 0xa8:
		set_ctr(k, k->ram[0] & (uint8_t)~CTR_AUXDIS);
		break;
	case 0xa9: /* AUX interface test: no error */
	case 0xab: /* keyboard interface test: no error */
		ctl_reply(k, 0x00);
		break;
	case 0xaa: /* self test */
		k->status |= STR_SYS;
		ctl_reply(k, 0x55);
		break;
	case 0xad:
		set_ctr(k, k->ram[0] | CTR_KBDDIS);
		break;
	case 0xae:
		set_ctr(k, k->ram[0] & (uint8_t)~CTR_KBDDIS);
		break;
	case 0xd0:
		ctl_reply(k, read_outport(k));
		break;
	case 0xd1: /* write output port */
	case 0xd2: /* write keyboard output buffer */
	case 0xd3: /* write AUX output buffer */
	case 0xd4: /* write to the AUX device */
		k->pending_cmd = cmd;
		break;
	case 0xdd:
		k->outport &= (uint8_t)~OUT_A20;
		break;
	case 0xdf:
		k->outport |= OUT_A20;
		break;
	case 0xe0: /* test inputs */
		ctl_reply(k, 0x00);
		break;
	default:
		break; /* unknown commands are ignored */
	}
	return false;
}

static bool data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending_cmd;
	k->pending_cmd = 0;
	if (cmd >= 0x60 && cmd <= 0x7f) {
		if (cmd == 0x60)
			set_ctr(k, v);
		else
			k->ram[cmd & 0x1f] = v;
		return false;
	}
	switch (cmd) {
	case 0xd1:
		return write_outport(k, v);
	case 0xd2:
		q_push(&k->ctl, v, false, false);
		return false;
	case 0xd3:
		q_push(&k->ctl, v, true, false);
		return false;
	case 0xd4: /* nothing attached to the AUX port: the transmission times out */
		q_push(&k->ctl, KBD_RESEND, true, true);
		return false;
	}
	kbd_write(k, v);
	return false;
}

/* ---- public interface ---- */

static void reset_state(struct i8042 *k)
{
	memset(k->ram, 0, sizeof(k->ram));
	k->ram[0] = CTR_RESET_VALUE;
	k->status = STR_RESET_VALUE;
	k->outport = OUT_RESET_VALUE;
	k->obf = false;
	k->obuf = (struct entry){ 0 };
	k->last_read = 0;
	k->pending_cmd = 0;
	k->ctl = (struct queue){ 0 };
	k->kbd = (struct queue){ 0 };
	k->aux = (struct queue){ 0 };
	k->kbd_cmd = 0;
	k->kbd_scanning = true;
	k->kbd_last = 0;
	kbd_defaults(k);
}

struct i8042 *i8042_create(const struct i8042_config *cfg)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	if (pthread_mutex_init(&k->lock, NULL)) {
		free(k);
		errno = ENOMEM;
		return NULL;
	}
	k->cfg = *cfg;
	reset_state(k);
	return k;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

void i8042_reset(struct i8042 *k)
{
	pthread_mutex_lock(&k->lock);
	reset_state(k);
	update_irqs(k);
	pthread_mutex_unlock(&k->lock);
}

uint8_t i8042_read_data(struct i8042 *k)
{
	pthread_mutex_lock(&k->lock);
	k->st.nr_reads++;
	if (k->obf) {
		k->last_read = k->obuf.byte;
		k->obf = false;
		update_irqs(k); /* the line drops ... */
		refill(k);
		update_irqs(k); /* ... and rises again for the next byte: a new edge */
	}
	uint8_t v = k->last_read;
	pthread_mutex_unlock(&k->lock);
	return v;
}

uint8_t i8042_read_status(struct i8042 *k)
{
	pthread_mutex_lock(&k->lock);
	k->st.nr_reads++;
	uint8_t v = k->status;
	if (k->obf) {
		v |= STR_OBF;
		if (k->obuf.aux)
			v |= STR_AUXDATA;
		if (k->obuf.timeout)
			v |= STR_TIMEOUT;
	}
	pthread_mutex_unlock(&k->lock);
	return v;
}

static void after_write(struct i8042 *k, bool reset)
{
	refill(k);
	update_irqs(k);
	if (reset)
		k->st.nr_resets++;
	pthread_mutex_unlock(&k->lock);
	if (reset && k->cfg.reset)
		k->cfg.reset(k->cfg.reset_opaque);
}

void i8042_write_data(struct i8042 *k, uint8_t val)
{
	pthread_mutex_lock(&k->lock);
	k->st.nr_writes++;
	k->status &= (uint8_t)~STR_CMD;
	after_write(k, data(k, val));
}

void i8042_write_command(struct i8042 *k, uint8_t val)
{
	pthread_mutex_lock(&k->lock);
	k->st.nr_writes++;
	k->status |= STR_CMD;
	after_write(k, command(k, val));
}

bool i8042_a20(struct i8042 *k)
{
	pthread_mutex_lock(&k->lock);
	bool v = k->outport & OUT_A20;
	pthread_mutex_unlock(&k->lock);
	return v;
}

void i8042_get_stats(struct i8042 *k, struct i8042_stats *st)
{
	pthread_mutex_lock(&k->lock);
	*st = k->st;
	pthread_mutex_unlock(&k->lock);
}

void i8042_print_stats(struct i8042 *k, FILE *f)
{
	struct i8042_stats st;
	i8042_get_stats(k, &st);
	fprintf(f,
		"i8042: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64 " IRQ1, %" PRIu64
		" IRQ12, %" PRIu64 " reset requests\n",
		st.nr_reads, st.nr_writes, st.nr_kbd_irqs, st.nr_aux_irqs, st.nr_resets);
}

/* ---- bus glue: two one-byte ports ---- */

static void data_read_cb(void *opaque, uint64_t offset, void *buf, unsigned len)
{
	(void)offset;
	uint8_t *p = buf;
	for (unsigned i = 0; i < len; i++)
		p[i] = i8042_read_data(opaque);
}

static void data_write_cb(void *opaque, uint64_t offset, const void *buf, unsigned len)
{
	(void)offset;
	const uint8_t *p = buf;
	for (unsigned i = 0; i < len; i++)
		i8042_write_data(opaque, p[i]);
}

static void cmd_read_cb(void *opaque, uint64_t offset, void *buf, unsigned len)
{
	(void)offset;
	uint8_t *p = buf;
	for (unsigned i = 0; i < len; i++)
		p[i] = i8042_read_status(opaque);
}

static void cmd_write_cb(void *opaque, uint64_t offset, const void *buf, unsigned len)
{
	(void)offset;
	const uint8_t *p = buf;
	for (unsigned i = 0; i < len; i++)
		i8042_write_command(opaque, p[i]);
}

static const struct bus_ops i8042_data_ops = {
	.read = data_read_cb,
	.write = data_write_cb,
};

static const struct bus_ops i8042_cmd_ops = {
	.read = cmd_read_cb,
	.write = cmd_write_cb,
};

int i8042_register(struct i8042 *k, struct bus *bus, struct bus_dev **data_devp,
		   struct bus_dev **cmd_devp)
{
	struct bus_dev *d = NULL;
	int ret = bus_register_pio(bus, I8042_DATA_PORT, 1, &i8042_data_ops, k, "i8042-data", &d);
	if (ret)
		return ret;
	ret = bus_register_pio(bus, I8042_CMD_PORT, 1, &i8042_cmd_ops, k, "i8042-cmd", cmd_devp);
	if (ret) {
		bus_unregister(bus, d);
		return ret;
	}
	if (data_devp)
		*data_devp = d;
	return 0;
}
