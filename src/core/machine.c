/* SPDX-License-Identifier: MIT */
/*
 * The PC machine of `omnivisor run`: guest RAM, the device bus, the devices and the vCPU, wired
 * in one place (conventions 8), and the vCPU loop. See docs/architecture.md "Machine model".
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../boot/layout.h"
#include "omnivisor/boot.h"
#include "omnivisor/bus.h"
#include "omnivisor/char.h"
#include "omnivisor/hw/acpi_pm.h"
#include "omnivisor/hw/debugcon.h"
#include "omnivisor/hw/i8042.h"
#include "omnivisor/hw/i8254.h"
#include "omnivisor/hw/i8259.h"
#include "omnivisor/hw/ioapic.h"
#include "omnivisor/hw/lapic.h"
#include "omnivisor/hw/pci.h"
#include "omnivisor/hw/port80.h"
#include "omnivisor/hw/rtc.h"
#include "omnivisor/hw/serial8250.h"
#include "omnivisor/log.h"
#include "omnivisor/machine.h"
#include "omnivisor/multiboot.h"
#include "omnivisor/timer.h"
#include "omnivisor/vcpu_sys.h"

#define DEFAULT_MEMORY (512ULL << 20)
#define MIN_MEMORY (2ULL << 20)
#define MAX_MEMORY 0xc0000000ULL   /* below the PCI hole (src/boot/layout.h) */
#define LAPIC_GPA LAYOUT_LAPIC_BASE
#define COM1_BASE 0x3f8
#define COM1_IRQ 4
#define PIT_IRQ 0
#define RTC_IRQ 8
#define MULTIBOOT_INFO_GPA 0x9000ULL
/* LAPIC timer input: the 25 MHz core crystal CPUID.15H reports (Linux takes the APIC timer
 * period from it on Intel CPUs: arch/x86/kernel/tsc.c native_calibrate_tsc) */
#define LAPIC_BUS_HZ 25000000ULL

struct machine {
	struct machine_options opt;
	uint8_t *ram;
	uint64_t ram_size;
	struct bus *bus;
	struct vm_phys phys;
	struct timer_service *timers;
	struct timer *lapic_timer;
	struct lapic *lapic;
	struct debugcon dbg;
	/* the PC */
	struct i8259 *pic;
	struct ioapic *ioapic;
	struct i8254 *pit;
	struct rtc *rtc;
	struct serial8250 *com1;
	struct char_stdio *console;
	struct i8042 *kbc;
	struct acpi_pm *pm;
	struct pci_host *pci;
	struct port80 *port80;
	struct timer *pit_timer, *rtc_timer, *com1_timer, *pm_timer;
	struct vcpu cpu;
	struct vcpu_sys *sys;
	int exit_status;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: omnivisor run --kernel FILE [options]\n"
		"\n"
		"Boot a virtual PC (full virtualization on the software vCPU).\n"
		"\n"
		"  --kernel FILE     kernel to boot: a Linux bzImage or ELF vmlinux (64-bit boot\n"
		"                    protocol), or a Multiboot v1 flat kernel (tests/guest)\n"
		"  --initrd FILE     initial RAM disk (Linux)\n"
		"  --append STRING   kernel command line\n"
		"  --memory SIZE     guest RAM in bytes, with an optional K, M or G suffix (binary\n"
		"                    units); default 512M, at least 2M, at most 3G\n"
		"  --cpus N          number of vCPUs; only 1 is supported yet\n"
		"  --debug-exit      add the debug-exit port 0xF4 (QEMU's isa-debug-exit): a guest\n"
		"                    write of V ends the VM with status (V << 1) | 1\n"
		"  --no-reboot       exit instead of rebooting when the guest resets\n"
		"  --host-decompress decompress a bzImage's payload on the host (xz, gzip, zstd,\n"
		"                    lzma) and enter the kernel directly (the default; no KASLR)\n"
		"  --guest-decompress  enter the bzImage's own decompressor instead\n"
		"  --trace LIST      comma-separated: cpu (every block), exc (exceptions and\n"
		"                    interrupts), pio, mmio (device accesses), to stderr\n"
		"  -h, --help        this text\n"
		"\n"
		"The console is COM1 on the terminal (raw mode when it is one); Ctrl-A X quits,\n"
		"Ctrl-A Ctrl-A sends Ctrl-A.\n"
		"\n"
		"Exit status: 0 when the guest powers off, 3 after a triple fault (a register dump\n"
		"goes to stderr), 2 for bad options or files, (V << 1) | 1 through --debug-exit.\n");
}

/* Parse "512M", "2G", "1048576". Returns 0 or -EINVAL. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'B')
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

int machine_parse_options(int argc, char **argv, struct machine_options *o)
{
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "append", required_argument, NULL, 'a' },
		{ "memory", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "debug-exit", no_argument, NULL, 'x' },
		{ "no-reboot", no_argument, NULL, 'r' },
		{ "trace", required_argument, NULL, 't' },
		{ "host-decompress", no_argument, NULL, 'd' },
		{ "guest-decompress", no_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->memory = DEFAULT_MEMORY;
	o->cpus = 1;
	/* measured: Debian's xz bzImage reaches /init in ~8 s this way, ~28 s when the guest's own
	 * decompressor runs on the interpreter (docs/boot.md) */
	o->host_decompress = true;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': o->kernel = optarg; break;
		case 'i': o->initrd = optarg; break;
		case 'a': o->append = optarg; break;
		case 'm':
			if (parse_size(optarg, &o->memory)) {
				fprintf(stderr, "omnivisor run: --memory '%s': not a size (e.g. 512M)\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'c': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 255) {
				fprintf(stderr, "omnivisor run: --cpus '%s': not a number 1-255\n",
					optarg);
				return -EINVAL;
			}
			o->cpus = (unsigned)n;
			break;
		}
		case 'x': o->debug_exit = true; break;
		case 'r': o->no_reboot = true; break;
		case 'd': o->host_decompress = true; break;
		case 'g': o->host_decompress = false; break;
		case 't':
			if (trace_parse(optarg)) {
				fprintf(stderr, "omnivisor run: --trace '%s': unknown (cpu, exc, pio, "
						"mmio)\n", optarg);
				return -EINVAL;
			}
			break;
		case 'h': o->help = true; return 0;
		default:
			fprintf(stderr, "omnivisor run: unknown option '%s' (try --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "omnivisor run: unexpected argument '%s' (try --help)\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->kernel) {
		fprintf(stderr, "omnivisor run: --kernel FILE is required (try --help)\n");
		return -EINVAL;
	}
	if (o->memory < MIN_MEMORY || o->memory > MAX_MEMORY) {
		fprintf(stderr, "omnivisor run: --memory %" PRIu64 " bytes: must be between 2M and 3G\n",
			o->memory);
		return -EINVAL;
	}
	if (o->cpus != 1) {
		fprintf(stderr, "omnivisor run: --cpus %u: not supported yet (one vCPU only)\n",
			o->cpus);
		return -EINVAL;
	}
	return 0;
}

/* ---- wiring hooks --------------------------------------------------------------------------- */

static void dbg_write(void *opaque, const uint8_t *buf, unsigned len)
{
	ssize_t r = write(STDOUT_FILENO, buf, len);
	(void)r;
}

static void dbg_exit(void *opaque, int status)
{
	struct machine *m = opaque;
	m->exit_status = status;
	vcpu_sys_request_exit(&m->cpu, VCPU_EXIT_POWEROFF);
}

static uint64_t clock_hook(void *opaque)
{
	return clock_monotonic_ns();
}

static void lapic_kick(void *opaque)
{
	struct machine *m = opaque;
	vcpu_sys_notify(&m->cpu);
}

static void lapic_timer_fired(void *opaque, uint64_t now_ns)
{
	struct machine *m = opaque;
	lapic_timer(m->lapic, now_ns);
}

static uint64_t lapic_read_tsc(void *opaque, uint64_t now_ns)
{
	struct machine *m = opaque;
	return (uint64_t)((unsigned __int128)now_ns * VCPU_TSC_HZ / 1000000000u) +
	       (uint64_t)__atomic_load_n(&m->sys->tsc_offset, __ATOMIC_RELAXED);
}

/* The vCPU's interrupt controller is its local APIC (vcpu_sys.h struct vcpu_intc_ops). */
#define EXTINT_TOKEN 256
static int intc_pending(void *opaque)
{
	struct machine *m = opaque;
	int v = lapic_pending(m->lapic);
	if (v == LAPIC_PENDING_EXTINT)
		return EXTINT_TOKEN;
	return v;
}

static int intc_ack(void *opaque, int token)
{
	struct machine *m = opaque;
	if (token == EXTINT_TOKEN)
		return lapic_ack_extint(m->lapic);
	return lapic_ack(m->lapic, token);
}

static bool intc_take_nmi(void *opaque)
{
	struct machine *m = opaque;
	return lapic_take_nmi(m->lapic);
}

static void intc_set_cr8(void *opaque, uint64_t cr8)
{
	struct machine *m = opaque;
	lapic_set_tpr(m->lapic, cr8);
}

static uint64_t intc_get_cr8(void *opaque)
{
	struct machine *m = opaque;
	return lapic_get_cr8(m->lapic);
}

static int intc_rdmsr(void *opaque, uint32_t msr, uint64_t *val)
{
	struct machine *m = opaque;
	if (msr == MSR_IA32_APIC_BASE)
		*val = lapic_get_base_msr(m->lapic);
	else if (msr == MSR_IA32_TSC_DEADLINE)
		*val = lapic_read_tsc_deadline(m->lapic, clock_monotonic_ns());
	else
		return -ENOENT;
	return 0;
}

static int intc_wrmsr(void *opaque, uint32_t msr, uint64_t val)
{
	struct machine *m = opaque;
	if (msr == MSR_IA32_TSC) {
		/* the guest TSC jumped: a pending TSC deadline is due at another host time */
		lapic_tsc_changed(m->lapic, clock_monotonic_ns());
		return 0;
	}
	if (msr == MSR_IA32_APIC_BASE)
		return lapic_set_base_msr(m->lapic, val, clock_monotonic_ns()) ? -EINVAL : 0;
	if (msr == MSR_IA32_TSC_DEADLINE) {
		lapic_write_tsc_deadline(m->lapic, val, clock_monotonic_ns());
		return 0;
	}
	return -ENOENT;
}

static const struct vcpu_intc_ops lapic_intc_ops = {
	.pending = intc_pending,
	.ack = intc_ack,
	.take_nmi = intc_take_nmi,
	.set_cr8 = intc_set_cr8,
	.get_cr8 = intc_get_cr8,
	.rdmsr = intc_rdmsr,
	.wrmsr = intc_wrmsr,
};

/* ---- the PC's interrupt wiring -------------------------------------------------------------- */

/*
 * An ISA interrupt line goes to both the 8259 pair (input n) and the IOAPIC (pin n, but IRQ 0 is
 * wired to pin 2 as on real chipsets; the MADT's interrupt source override says so).
 */
static void isa_irq_set(void *opaque, int n, int level)
{
	struct machine *m = opaque;
	i8259_set_irq(m->pic, n, level);
	ioapic_set_irq(m->ioapic, n == 0 ? 2 : n, level);
}

static struct irq_line isa_irq(struct machine *m, int n)
{
	return (struct irq_line){ .set = isa_irq_set, .opaque = m, .n = n };
}

/* 8259 INTR -> LINT0 of the LAPIC (ExtINT when the guest programs LVT LINT0 so) */
static void pic_intr(void *opaque, int n, int level)
{
	struct machine *m = opaque;
	lapic_set_lint(m->lapic, 0, level);
}

static int pic_inta(void *opaque)
{
	struct machine *m = opaque;
	return i8259_ack(m->pic);
}

/* IOAPIC message -> the local APIC(s); one vCPU: it takes every fixed/lowest-priority message
 * addressed to it (physical ID 0 or a logical destination with its bit; broadcast 0xff). */
static void ioapic_deliver(void *opaque, uint8_t dest, bool dest_logical, uint8_t mode,
			   uint8_t vector, bool level)
{
	struct machine *m = opaque;
	struct lapic_ipi ipi = { 0 };
	ipi.dest = dest;
	ipi.logical = dest_logical;
	ipi.mode = mode;
	ipi.vector = vector;
	ipi.level = true;
	ipi.trigger_level = level;
	lapic_route(&m->lapic, 1, &ipi);
}

static void lapic_eoi(void *opaque, int vector)
{
	struct machine *m = opaque;
	ioapic_eoi(m->ioapic, vector);
}

static void pit_timer_fired(void *opaque, uint64_t now_ns)
{
	i8254_timer(((struct machine *)opaque)->pit, now_ns);
}

static void rtc_timer_fired(void *opaque, uint64_t now_ns)
{
	rtc_timer(((struct machine *)opaque)->rtc, now_ns);
}

static void com1_timer_fired(void *opaque, uint64_t now_ns)
{
	serial8250_timer(((struct machine *)opaque)->com1, now_ns);
}

static void pm_timer_fired(void *opaque, uint64_t now_ns)
{
	acpi_pm_timer(((struct machine *)opaque)->pm, now_ns);
}

static int64_t host_time_ns(void *opaque)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void machine_poweroff(void *opaque)
{
	struct machine *m = opaque;
	m->exit_status = 0;
	vcpu_sys_request_exit(&m->cpu, VCPU_EXIT_POWEROFF);
}

static void machine_reset(void *opaque)
{
	struct machine *m = opaque;
	vcpu_sys_request_exit(&m->cpu, VCPU_EXIT_RESET);
}

static void console_quit(void *opaque)
{
	struct machine *m = opaque;
	m->exit_status = 0;
	vcpu_sys_request_exit(&m->cpu, VCPU_EXIT_POWEROFF);
}

static void pci_reset(void *opaque, bool hard)
{
	machine_reset(opaque);
}

static int create_pc(struct machine *m)
{
	struct i8259_config pc = { .intr = { .set = pic_intr, .opaque = m } };
	struct ioapic_config ic = { .id = LAYOUT_IOAPIC_ID, .deliver = ioapic_deliver,
				    .deliver_opaque = m };
	struct i8254_config tc = { 0 };
	struct rtc_config rc = { 0 };
	struct serial8250_config sc = { 0 };
	struct char_stdio_config cc = { 0 };
	struct i8042_config kc = { 0 };
	struct acpi_pm_config ac = { 0 };
	struct pci_host_config pcc = { 0 };
	struct serial8250_config *scp = &sc;
	struct char_frontend fe;

	m->pic = i8259_create(&pc);
	m->ioapic = ioapic_create(&ic);
	m->pit_timer = timer_new(m->timers, pit_timer_fired, m);
	m->rtc_timer = timer_new(m->timers, rtc_timer_fired, m);
	m->com1_timer = timer_new(m->timers, com1_timer_fired, m);
	m->pm_timer = timer_new(m->timers, pm_timer_fired, m);
	if (!m->pic || !m->ioapic || !m->pit_timer || !m->rtc_timer || !m->com1_timer ||
	    !m->pm_timer)
		return -ENOMEM;

	tc.irq0 = isa_irq(m, PIT_IRQ);
	tc.clock_ns = clock_hook;
	tc.arm = timer_arm_hook;
	tc.arm_opaque = m->pit_timer;
	m->pit = i8254_create(&tc);

	rc.irq = isa_irq(m, RTC_IRQ);
	rc.clock_ns = clock_hook;
	rc.host_time_ns = host_time_ns;
	rc.arm = timer_arm_hook;
	rc.arm_opaque = m->rtc_timer;
	m->rtc = rtc_create(&rc);

	cc.escape_char = 0x01; /* Ctrl-A */
	cc.quit = console_quit;
	cc.quit_opaque = m;
	cc.in_fd = STDIN_FILENO;
	cc.out_fd = STDOUT_FILENO;
	m->console = char_stdio_create(&cc);
	if (!m->console)
		return -errno;
	scp->irq = isa_irq(m, COM1_IRQ);
	scp->backend = char_stdio_backend(m->console);
	scp->clock_ns = clock_hook;
	scp->arm = timer_arm_hook;
	scp->arm_opaque = m->com1_timer;
	m->com1 = serial8250_create(scp);

	kc.kbd_irq = isa_irq(m, I8042_KBD_IRQ);
	kc.aux_irq = isa_irq(m, I8042_AUX_IRQ);
	kc.reset = machine_reset;
	kc.reset_opaque = m;
	m->kbc = i8042_create(&kc);

	ac.sci = isa_irq(m, LAYOUT_ACPI_SCI_IRQ);
	ac.clock_ns = clock_hook;
	ac.arm = timer_arm_hook;
	ac.arm_opaque = m->pm_timer;
	ac.poweroff = machine_poweroff;
	ac.poweroff_opaque = m;
	ac.reset = machine_reset;
	ac.reset_opaque = m;
	m->pm = acpi_pm_create(&ac);

	/* PCI INTx: PIRQA-D on IOAPIC pins 16-19 (the DSDT's _PRT says the same) */
	for (int i = 0; i < PCI_NR_PIRQS; i++)
		pcc.pirq[i] = (struct irq_line){ .set = ioapic_set_irq, .opaque = m->ioapic,
						 .n = LAYOUT_PCI_INTX_GSI_BASE + i };
	pcc.reset = pci_reset; /* 0xCF9, the FADT's reset register */
	pcc.reset_opaque = m;
	m->pci = pci_host_create(&pcc);
	m->port80 = port80_create();
	if (!m->pit || !m->rtc || !m->com1 || !m->kbc || !m->pm || !m->pci || !m->port80)
		return -ENOMEM;

	if (i8259_register(m->pic, m->bus) ||
	    ioapic_register(m->ioapic, m->bus, LAYOUT_IOAPIC_BASE) ||
	    i8254_register(m->pit, m->bus) || rtc_register(m->rtc, m->bus, RTC_BASE, NULL) ||
	    serial8250_register(m->com1, m->bus, COM1_BASE, "com1", NULL) ||
	    i8042_register(m->kbc, m->bus, NULL, NULL) ||
	    acpi_pm_register(m->pm, m->bus, LAYOUT_ACPI_PM_BASE, NULL) ||
	    pci_host_register(m->pci, m->bus) || port80_register(m->port80, m->bus, NULL))
		return -EBUSY;
	rtc_set_mem_size(m->rtc, m->ram_size, 0);
	fe = serial8250_frontend(m->com1);
	if (char_stdio_start(m->console, &fe))
		return -ENOMEM;
	return 0;
}

/* ---- construction --------------------------------------------------------------------------- */

static int machine_create(struct machine *m)
{
	struct lapic_config lc = { 0 };

	m->ram_size = (m->opt.memory + 4095) & ~4095ULL;
	m->ram = mmap(NULL, m->ram_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->ram == MAP_FAILED) {
		fprintf(stderr, "omnivisor run: cannot allocate %" PRIu64 " MiB of guest RAM\n",
			m->ram_size >> 20);
		return -ENOMEM;
	}
	m->bus = bus_create();
	m->timers = timer_service_create();
	m->sys = aligned_alloc(64, (sizeof(*m->sys) + 63) & ~(size_t)63);
	if (!m->bus || !m->timers || !m->sys || vm_phys_init(&m->phys, m->ram, m->ram_size, m->bus))
		goto nomem;
	vcpu_sys_init(&m->cpu, m->sys, &m->phys);

	m->lapic_timer = timer_new(m->timers, lapic_timer_fired, m);
	lc.apic_id = 0;
	lc.bsp = true;
	lc.bus_hz = LAPIC_BUS_HZ;
	lc.tsc_hz = VCPU_TSC_HZ;
	lc.phys_addr_bits = 40;
	lc.kick = lapic_kick;
	lc.kick_opaque = m;
	lc.arm = timer_arm_hook;
	lc.arm_opaque = m->lapic_timer;
	lc.clock_ns = clock_hook;
	lc.read_tsc = lapic_read_tsc;
	lc.tsc_opaque = m;
	lc.eoi = lapic_eoi;
	lc.eoi_opaque = m;
	lc.extint_ack = pic_inta;
	lc.extint_opaque = m;
	m->lapic = lapic_create(&lc);
	if (!m->lapic_timer || !m->lapic || lapic_register(m->lapic, m->bus, LAPIC_GPA, NULL))
		goto nomem;
	/* what firmware leaves (SeaBIOS on QEMU): software-enabled, LINT0 ExtINT, LINT1 NMI */
	lapic_bios_init(m->lapic, clock_monotonic_ns());
	vcpu_sys_set_intc(&m->cpu, &lapic_intc_ops, m);

	m->dbg.write = dbg_write;
	m->dbg.exit = dbg_exit;
	m->dbg.exit_opaque = m;
	if (debugcon_register(&m->dbg, m->bus) ||
	    (m->opt.debug_exit && debugexit_register(&m->dbg, m->bus)))
		goto nomem;
	if (create_pc(m)) {
		fprintf(stderr, "omnivisor run: cannot create the PC devices\n");
		return -ENOMEM;
	}
	return 0;
nomem:
	fprintf(stderr, "omnivisor run: cannot create the machine (out of memory)\n");
	return -ENOMEM;
}

static void set_seg(struct seg_cache *d, const struct boot_seg *s)
{
	d->base = s->base;
	d->limit = s->limit;
	d->sel = s->sel;
	d->attr = s->attr;
}

/* Linux x86 boot protocol, 64-bit entry (src/boot, docs/boot.md). */
static int load_linux(struct machine *m, const void *img, size_t len)
{
	struct guest_ram ram = { .hva = m->ram, .size = m->ram_size };
	struct boot_config bc = { 0 };
	struct boot_cpu_state st;
	struct vcpu_sys *s = m->sys;
	void *initrd = NULL;
	size_t initrd_len = 0;
	int r;

	if (m->opt.initrd && (r = boot_read_file(m->opt.initrd, &initrd, &initrd_len)))
		return r;
	bc.kernel = img;
	bc.kernel_len = len;
	bc.initrd = initrd;
	bc.initrd_len = initrd_len;
	bc.cmdline = m->opt.append;
	bc.nr_cpus = m->opt.cpus;
	bc.host_decompress = m->opt.host_decompress;
	r = boot_linux(&ram, &bc, &st, NULL);
	free(initrd);
	if (r) {
		fprintf(stderr, "omnivisor run: kernel '%s': cannot boot it (%s)\n", m->opt.kernel,
			strerror(-r));
		return r;
	}
	m->cpu.rip = st.rip;
	m->cpu.gpr[R_RSP] = st.rsp;
	m->cpu.gpr[R_RSI] = st.rsi;
	m->cpu.rflags = st.rflags | 2;
	s->cr0 = st.cr0;
	s->cr3 = st.cr3;
	s->cr4 = st.cr4;
	s->efer = st.efer;
	s->gdtr.base = st.gdt_base;
	s->gdtr.limit = st.gdt_limit;
	s->idtr.base = st.idt_base;
	s->idtr.limit = st.idt_limit;
	set_seg(&s->seg[SR_CS], &st.cs);
	set_seg(&s->seg[SR_DS], &st.ds);
	set_seg(&s->seg[SR_ES], &st.es);
	set_seg(&s->seg[SR_SS], &st.ss);
	set_seg(&s->seg[SR_FS], &st.fs);
	set_seg(&s->seg[SR_GS], &st.gs);
	set_seg(&s->tr, &st.tr);
	set_seg(&s->ldtr, &st.ldtr);
	m->cpu.fs_base = st.fs.base;
	m->cpu.gs_base = st.gs.base;
	vcpu_sys_state_changed(&m->cpu);
	return 0;
}

static int load_kernel(struct machine *m)
{
	void *img = NULL;
	size_t len = 0;
	int r = boot_read_file(m->opt.kernel, &img, &len);
	if (r)
		return r;
	if (multiboot_detect(img, len)) {
		struct multiboot_image mb;
		r = multiboot_load(m->ram, m->ram_size, img, len, m->opt.append, MULTIBOOT_INFO_GPA,
				   &mb);
		if (!r) {
			m->cpu.rip = mb.entry;
			m->cpu.gpr[R_RAX] = MULTIBOOT_BOOTLOADER_MAGIC;
			m->cpu.gpr[R_RBX] = mb.info_gpa;
		}
	} else {
		r = load_linux(m, img, len);
	}
	free(img);
	return r;
}

/*
 * A guest reset (reboot, the reset register, the i8042 reset line) without --no-reboot: start
 * over as a fresh process with the same command line, which rebuilds the machine, reloads the
 * kernel and initrd from their files and resets every device exactly as at power-on.
 */
static int reboot_machine(void)
{
	static char buf[65536];
	char *argv[512];
	size_t n = 0, argc = 0;
	FILE *f = fopen("/proc/self/cmdline", "rb");

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	for (size_t i = 0; i < n && argc < 511; i += strlen(buf + i) + 1)
		argv[argc++] = buf + i;
	argv[argc] = NULL;
	fprintf(stderr, "omnivisor: guest reset: rebooting\n");
	char_stdio_restore_terminal();
	fflush(NULL);
	if (argc)
		execv("/proc/self/exe", argv);
	fprintf(stderr, "omnivisor: cannot restart for the reboot: %s\n", strerror(errno));
	return 1;
}

static int run_vcpu(struct machine *m)
{
	for (;;) {
		int r = vcpu_sys_run(&m->cpu);
		switch (r) {
		case VCPU_EXIT_HLT:
			vcpu_sys_wait(&m->cpu);
			break;
		case VCPU_EXIT_KICK:
			break;
		case VCPU_EXIT_SHUTDOWN:
			fprintf(stderr, "omnivisor: the guest triple-faulted (shutdown); registers:\n");
			vcpu_sys_dump(&m->cpu, stderr);
			return 3;
		case VCPU_EXIT_POWEROFF:
			return m->exit_status;
		case VCPU_EXIT_RESET:
			if (m->opt.no_reboot)
				return 0;
			return reboot_machine();
		default:
			fprintf(stderr, "omnivisor: unexpected vCPU exit %d\n", r);
			vcpu_sys_dump(&m->cpu, stderr);
			return 3;
		}
	}
}

int machine_main(int argc, char **argv)
{
	static struct machine m; /* large (the vCPU's TLB); one per process */
	int r = machine_parse_options(argc, argv, &m.opt);
	if (r)
		return 2;
	if (m.opt.help) {
		usage(stdout);
		return 0;
	}
	if (access(m.opt.kernel, R_OK)) {
		fprintf(stderr, "omnivisor run: kernel '%s': %s\n", m.opt.kernel, strerror(errno));
		return 2;
	}
	if (m.opt.initrd && access(m.opt.initrd, R_OK)) {
		fprintf(stderr, "omnivisor run: initrd '%s': %s\n", m.opt.initrd, strerror(errno));
		return 2;
	}
	if (machine_create(&m) || load_kernel(&m))
		return 2;
	return run_vcpu(&m);
}
