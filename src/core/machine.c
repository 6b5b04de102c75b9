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

#include "omnivisor/bus.h"
#include "omnivisor/hw/debugcon.h"
#include "omnivisor/hw/lapic.h"
#include "omnivisor/log.h"
#include "omnivisor/machine.h"
#include "omnivisor/multiboot.h"
#include "omnivisor/timer.h"
#include "omnivisor/vcpu_sys.h"

#define DEFAULT_MEMORY (512ULL << 20)
#define MIN_MEMORY (2ULL << 20)
#define MAX_MEMORY 0xc0000000ULL   /* below the PCI hole (src/boot/layout.h) */
#define LAPIC_GPA 0xfee00000ULL
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
		"  --kernel FILE     kernel to boot: a Multiboot v1 flat kernel (tests/guest)\n"
		"  --initrd FILE     initial RAM disk (Linux)\n"
		"  --append STRING   kernel command line\n"
		"  --memory SIZE     guest RAM in bytes, with an optional K, M or G suffix (binary\n"
		"                    units); default 512M, at least 2M, at most 3G\n"
		"  --cpus N          number of vCPUs; only 1 is supported yet\n"
		"  --debug-exit      add the debug-exit port 0xF4 (QEMU's isa-debug-exit): a guest\n"
		"                    write of V ends the VM with status (V << 1) | 1\n"
		"  --no-reboot       exit instead of rebooting when the guest resets\n"
		"  -h, --help        this text\n"
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->memory = DEFAULT_MEMORY;
	o->cpus = 1;
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
	       (uint64_t)m->sys->tsc_offset;
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

/* ---- construction --------------------------------------------------------------------------- */

static int read_file(const char *what, const char *path, void **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;
	if (!f) {
		fprintf(stderr, "omnivisor run: %s '%s': %s\n", what, path, strerror(errno));
		return -errno;
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "omnivisor run: %s '%s': cannot read it\n", what, path);
		fclose(f);
		return -EIO;
	}
	*buf = malloc(n ? (size_t)n : 1);
	if (!*buf || fread(*buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "omnivisor run: %s '%s': cannot read it\n", what, path);
		free(*buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*len = (size_t)n;
	return 0;
}

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
	m->lapic = lapic_create(&lc);
	if (!m->lapic_timer || !m->lapic || lapic_register(m->lapic, m->bus, LAPIC_GPA, NULL))
		goto nomem;
	vcpu_sys_set_intc(&m->cpu, &lapic_intc_ops, m);

	m->dbg.write = dbg_write;
	m->dbg.exit = dbg_exit;
	m->dbg.exit_opaque = m;
	if (debugcon_register(&m->dbg, m->bus) ||
	    (m->opt.debug_exit && debugexit_register(&m->dbg, m->bus)))
		goto nomem;
	return 0;
nomem:
	fprintf(stderr, "omnivisor run: cannot create the machine (out of memory)\n");
	return -ENOMEM;
}

static int load_kernel(struct machine *m)
{
	void *img = NULL;
	size_t len = 0;
	int r = read_file("kernel", m->opt.kernel, &img, &len);
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
		fprintf(stderr, "omnivisor run: kernel '%s': not a Multiboot kernel (Linux bzImage "
				"support is not wired in yet)\n", m->opt.kernel);
		r = -ENOEXEC;
	}
	free(img);
	return r;
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
			fprintf(stderr, "omnivisor: guest reset: rebooting is not supported yet\n");
			return 0;
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
