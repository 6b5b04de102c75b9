/* SPDX-License-Identifier: MIT */
/*
 * Booting Linux: the steps of a boot loader for the 64-bit entry, in order (boot.rst "64-bit BOOT
 * PROTOCOL"): load the kernel (bzimage.c or vmlinux.c), place the initrd, write the ACPI tables
 * (acpi.c), boot_params and the command line (bootparams.c), the GDT and page tables, and
 * describe the CPU state at the entry point.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/layout.h"
#include "boot/util.h"
#include "omnivisor/acpi.h"
#include "omnivisor/boot.h"
#include "omnivisor/log.h"

/* Page-table entry bits (Intel SDM Vol. 3A 4.5, Tables 4-14, 4-16, 4-17) */
#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull
#define PAGE_2M 0x200000ull

/* Descriptor access rights in the vcpu_sys.h / VMX layout */
#define SEG_CODE64 0xa9b /* G, L, P, S, type 0xb (execute/read, accessed) */
#define SEG_DATA 0xc93	 /* G, D/B, P, S, type 0x3 (read/write, accessed) */
#define SEG_TSS64 0x08b	 /* P, type 0xb (busy 64-bit TSS) */

/* The same descriptors in GDT form (SDM Vol. 3A 3.4.5): base 0, limit 0xfffff pages */
#define GDT_CODE64 0x00af9b000000ffffull
#define GDT_DATA 0x00cf93000000ffffull

int boot_setup_cpu(const struct guest_ram *ram, uint64_t entry_gpa, struct boot_cpu_state *cpu)
{
	if (!ram_range_ok(ram, 0, LAYOUT_BIOS_END)) {
		pr_err("boot: guest RAM of 0x%" PRIx64 " bytes is below 1 MiB", ram->size);
		return -EINVAL;
	}
	uint8_t *m = ram->hva;

	/* GDT: null, null, __BOOT_CS, __BOOT_DS */
	uint8_t *gdt = m + LAYOUT_BOOT_GDT;
	memset(gdt, 0, LAYOUT_BOOT_GDT_ENTRIES * 8);
	put_le64(gdt + BOOT_CS, GDT_CODE64);
	put_le64(gdt + BOOT_DS, GDT_DATA);

	/* Identity map of 0 - 4 GiB with 2 MiB pages: covers the kernel, boot_params, command
	 * line and initrd (all below the PCI hole) and the MMIO above, as boot.rst asks. */
	memset(m + LAYOUT_BOOT_PML4, 0, LAYOUT_BOOT_PGTABLE_END - LAYOUT_BOOT_PML4);
	put_le64(m + LAYOUT_BOOT_PML4, LAYOUT_BOOT_PDPT | PTE_P | PTE_RW);
	for (unsigned i = 0; i < LAYOUT_BOOT_PD_COUNT; i++) {
		uint64_t pd = LAYOUT_BOOT_PD + 0x1000ull * i;
		put_le64(m + LAYOUT_BOOT_PDPT + 8 * i, pd | PTE_P | PTE_RW);
		for (unsigned j = 0; j < 512; j++)
			put_le64(m + pd + 8 * j,
				 ((uint64_t)i * 512 + j) * PAGE_2M | PTE_P | PTE_RW | PTE_PS);
	}

	memset(cpu, 0, sizeof(*cpu));
	cpu->rip = entry_gpa;
	cpu->rsp = LAYOUT_BOOT_STACK_TOP;
	cpu->rsi = LAYOUT_BOOT_PARAMS;
	cpu->rflags = 0x2; /* bit 1 is always 1; IF = 0 */
	/* PE | MP | ET | NE | PG (SDM Vol. 3A 2.5); PAE; long mode active */
	cpu->cr0 = 0x80000033;
	cpu->cr3 = LAYOUT_BOOT_PML4;
	cpu->cr4 = 0x20;
	cpu->efer = 0x500; /* LME | LMA */
	cpu->gdt_base = LAYOUT_BOOT_GDT;
	cpu->gdt_limit = LAYOUT_BOOT_GDT_ENTRIES * 8 - 1;
	cpu->idt_base = 0;
	cpu->idt_limit = 0;
	cpu->cs = (struct boot_seg){ .base = 0, .limit = 0xffffffff, .sel = BOOT_CS,
				     .attr = SEG_CODE64 };
	const struct boot_seg data = { .base = 0, .limit = 0xffffffff, .sel = BOOT_DS,
				       .attr = SEG_DATA };
	cpu->ds = cpu->es = cpu->ss = cpu->fs = cpu->gs = data;
	cpu->tr = (struct boot_seg){ .base = 0, .limit = 0x67, .sel = 0, .attr = SEG_TSS64 };
	cpu->ldtr = (struct boot_seg){ 0 };
	return 0;
}

int boot_read_file(const char *path, void **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		pr_err("%s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = S_ISREG(st.st_mode) ? errno : EINVAL;
		pr_err("%s: not a regular file", path);
		close(fd);
		return -e;
	}
	size_t size = (size_t)st.st_size;
	uint8_t *p = malloc(size ? size : 1);
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	size_t done = 0;
	while (done < size) {
		ssize_t n = read(fd, p + done, size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			pr_err("%s: read: %s", path, n < 0 ? strerror(e) : "file shrank");
			free(p);
			close(fd);
			return -e;
		}
		done += (size_t)n;
	}
	close(fd);
	*buf = p;
	*len = size;
	return 0;
}

static bool is_elf(const void *p, size_t len)
{
	return len >= 4 && !memcmp(p, "\x7f" "ELF", 4);
}

int boot_linux(const struct guest_ram *ram, const struct boot_config *cfg,
	       struct boot_cpu_state *cpu, struct boot_report *report)
{
	struct boot_report r;
	struct bootparams_config bp = { .cmdline = cfg->cmdline };
	uint64_t initrd_limit = 0x80000000ull; /* vmlinux: the 2.03+ default initrd_addr_max */
	int rc;

	memset(&r, 0, sizeof(r));
	if (ram->size > LAYOUT_PCI_HOLE_START || (ram->size & 0xfff) ||
	    ram->size < LAYOUT_BIOS_END) {
		pr_err("boot: guest RAM of 0x%" PRIx64 " bytes: must be a multiple of 4 KiB "
		       "between 1 MiB and %llu MiB (memory above 4 GiB is not supported yet)",
		       ram->size, LAYOUT_PCI_HOLE_START >> 20);
		return -EINVAL;
	}

	if (is_elf(cfg->kernel, cfg->kernel_len)) {
		struct vmlinux_info vi;
		rc = vmlinux_load(ram, cfg->kernel, cfg->kernel_len, &vi);
		if (rc)
			return rc;
		r.format = BOOT_FORMAT_VMLINUX;
		r.kernel_start = vi.start;
		r.kernel_end = vi.end;
		r.entry = vi.entry;
		bp.cmdline_max = 2047; /* COMMAND_LINE_SIZE - 1 */
	} else {
		rc = bzimage_parse(cfg->kernel, cfg->kernel_len, &r.bz);
		if (rc)
			return rc;
		const uint8_t *img = cfg->kernel;
		bp.setup_hdr = img + BZ_HDR_OFFSET;
		bp.setup_hdr_end = img[0x200] == 0xeb ? 0x202u + img[0x201] : BZ_HDR_END;
		bp.cmdline_max = r.bz.cmdline_size;
		initrd_limit = (uint64_t)r.bz.initrd_addr_max + 1;
		if (cfg->host_decompress) {
			void *elf;
			size_t elf_len;
			struct vmlinux_info vi;
			rc = bzimage_decompress(cfg->kernel, cfg->kernel_len, &r.bz, &elf, &elf_len);
			if (rc)
				return rc;
			rc = vmlinux_load(ram, elf, elf_len, &vi);
			free(elf);
			if (rc)
				return rc;
			r.format = BOOT_FORMAT_BZIMAGE_HOST;
			r.kernel_start = vi.start;
			r.kernel_end = vi.end;
			r.entry = vi.entry;
		} else {
			uint64_t load;
			rc = bzimage_load(ram, cfg->kernel, cfg->kernel_len, &r.bz, &load);
			if (rc)
				return rc;
			r.format = BOOT_FORMAT_BZIMAGE;
			r.kernel_start = load;
			r.kernel_end = load + r.bz.init_size;
			r.entry = load + 0x200; /* boot.rst: 64-bit entry = load address + 0x200 */
		}
	}

	if (cfg->initrd && cfg->initrd_len) {
		/* As high as possible (boot.rst "initrd_addr_max"), page aligned, above the kernel */
		uint64_t limit = ram->size < initrd_limit ? ram->size : initrd_limit;
		uint64_t len = cfg->initrd_len;
		if (len > limit || ((limit - len) & ~0xfffull) < r.kernel_end) {
			pr_err("boot: no room for the %" PRIu64 "-byte initrd between the kernel's end "
			       "(0x%" PRIx64 ") and 0x%" PRIx64 ": give the guest more memory",
			       len, r.kernel_end, limit);
			return -ENOMEM;
		}
		r.initrd_start = (limit - len) & ~0xfffull;
		r.initrd_end = r.initrd_start + len;
		memcpy(ram->hva + r.initrd_start, cfg->initrd, len);
		bp.initrd_gpa = r.initrd_start;
		bp.initrd_size = len;
	}

	struct acpi_config acfg = { .nr_cpus = cfg->nr_cpus ? cfg->nr_cpus : 1 };
	rc = acpi_build(ram, &acfg, &r.rsdp);
	if (rc)
		return rc;
	bp.rsdp_gpa = r.rsdp;
	rc = bootparams_build(ram, &bp);
	if (rc)
		return rc;
	rc = boot_setup_cpu(ram, r.entry, cpu);
	if (rc)
		return rc;
	if (report)
		*report = r;
	return 0;
}
