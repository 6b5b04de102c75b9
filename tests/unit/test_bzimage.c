/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the Linux loaders (src/boot/): bzImage setup-header validation (every check of
 * bzimage_parse, every truncation), loading at pref_address with init_size, compression
 * detection, host decompression of a hand-made gzip payload, the ELF vmlinux loader and its rejections, boot_params fields
 * (Documentation/arch/x86/boot.rst, zero-page.rst), the e820 map, and the 64-bit entry state:
 * GDT descriptors and identity page tables byte for byte (boot.rst "64-bit BOOT PROTOCOL";
 * Intel SDM Vol. 3A 3.4.5, 4.5).
 */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "boot/layout.h"
#include "omnivisor/boot.h"
#include "omnivisor/log.h"

#define RAM_SIZE (64ull << 20)
#define SETUP_SECTS 3
#define SETUP_SIZE ((SETUP_SECTS + 1) * 512)
#define PM_SIZE 0x4000 /* protected-mode part */
#define PAYLOAD_OFF 0x100
#define INIT_SIZE 0x2000000u

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}
static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}
static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}
static void wr16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}
static void wr32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}
static void wr64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* A bzImage as the kernel's arch/x86/boot/tools/build.c lays it out, 2.15 header. */
static size_t make_bzimage(uint8_t *img, size_t pm_size, const void *payload, size_t plen)
{
	size_t len = SETUP_SIZE + pm_size;
	memset(img, 0, len);
	img[0x1f1] = SETUP_SECTS;
	wr32(img + 0x1f4, (uint32_t)(pm_size / 16));
	wr16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb; /* jmp short to 0x26c */
	img[0x201] = 0x6a;
	memcpy(img + 0x202, "HdrS", 4);
	wr16(img + 0x206, 0x020f);
	wr16(img + 0x20e, 0x300 - 0x200); /* kernel_version string at 0x300 */
	strcpy((char *)img + 0x300, "6.1.0-test (omnivisor) #1");
	img[0x211] = BZ_LOADED_HIGH;
	wr32(img + 0x22c, 0x7fffffff);
	wr32(img + 0x230, 0x200000);
	img[0x234] = 1;
	img[0x235] = 21;
	wr16(img + 0x236, 0x7f);
	wr32(img + 0x238, 2047);
	wr32(img + 0x248, PAYLOAD_OFF);
	wr32(img + 0x24c, (uint32_t)plen);
	wr64(img + 0x258, 0x1000000);
	wr32(img + 0x260, INIT_SIZE);
	for (size_t i = 0; i < pm_size; i++)
		img[SETUP_SIZE + i] = (uint8_t)(i * 7 + 1);
	if (plen)
		memcpy(img + SETUP_SIZE + PAYLOAD_OFF, payload, plen);
	return len;
}

static const uint8_t xz_magic[] = { 0xfd, '7', 'z', 'X', 'Z', 0, 1, 2, 3, 4, 5, 6 };

struct fixture {
	struct guest_ram ram;
	uint8_t *img;
	size_t len;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->ram.size = RAM_SIZE;
	f->ram.hva = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	assert_true(f->ram.hva != MAP_FAILED);
	f->img = calloc(1, SETUP_SIZE + PM_SIZE + 4096);
	f->len = make_bzimage(f->img, PM_SIZE, xz_magic, sizeof(xz_magic));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	munmap(f->ram.hva, RAM_SIZE);
	free(f->img);
	free(f);
	return 0;
}

static void test_parse_fields(void **state)
{
	struct fixture *f = *state;
	struct bzimage_info bi;
	assert_int_equal(bzimage_parse(f->img, f->len, &bi), 0);
	assert_int_equal(bi.version, 0x020f);
	assert_int_equal(bi.setup_sects, SETUP_SECTS);
	assert_int_equal(bi.setup_size, SETUP_SIZE);
	assert_int_equal(bi.syssize, PM_SIZE / 16);
	assert_int_equal(bi.pm_offset, SETUP_SIZE);
	assert_int_equal(bi.pm_size, PM_SIZE);
	assert_int_equal(bi.file_size, f->len);
	assert_int_equal(bi.loadflags, BZ_LOADED_HIGH);
	assert_int_equal(bi.xloadflags, 0x7f);
	assert_true(bi.relocatable);
	assert_int_equal(bi.kernel_alignment, 0x200000);
	assert_int_equal(bi.min_alignment, 21);
	assert_int_equal(bi.initrd_addr_max, 0x7fffffff);
	assert_int_equal(bi.cmdline_size, 2047);
	assert_int_equal(bi.payload_offset, PAYLOAD_OFF);
	assert_int_equal(bi.payload_length, sizeof(xz_magic));
	assert_int_equal(bi.pref_address, 0x1000000);
	assert_int_equal(bi.init_size, INIT_SIZE);
	assert_int_equal(bi.compression, BOOT_COMP_XZ);
	assert_string_equal(bi.kernel_version, "6.1.0-test (omnivisor) #1");
	/* a signed kernel carries its PE signature after syssize * 16: accepted */
	assert_int_equal(bzimage_parse(f->img, f->len + 100, &bi), 0);
	assert_int_equal(bi.pm_size, PM_SIZE);
}

/* boot.rst: "If this field is 0, the real-mode code is actually 4 sectors." */
static void test_setup_sects_zero(void **state)
{
	struct fixture *f = *state;
	struct bzimage_info bi;
	f->img[0x1f1] = 0;
	/* the protected-mode part now starts at 5 * 512 = 2560 > 2048: shrink syssize */
	wr32(f->img + 0x1f4, (PM_SIZE - 512) / 16);
	assert_int_equal(bzimage_parse(f->img, f->len, &bi), 0);
	assert_int_equal(bi.setup_size, 5 * 512);
	assert_int_equal(bi.pm_offset, 5 * 512);
}

static void expect_parse(struct fixture *f, size_t len, int rc)
{
	struct bzimage_info bi;
	assert_int_equal(bzimage_parse(f->img, len, &bi), rc);
}

static void test_parse_rejects(void **state)
{
	struct fixture *f = *state;
	uint8_t save[0x300];
	memcpy(save, f->img, sizeof(save));
#define RESTORE() memcpy(f->img, save, sizeof(save))

	expect_parse(f, 0, -ENOEXEC);
	expect_parse(f, 0x1ff, -ENOEXEC);
	expect_parse(f, 0x240, -EINVAL); /* inside the header */
	f->img[0x203] = 'x';		 /* "HxrS" */
	expect_parse(f, f->len, -ENOEXEC);
	RESTORE();
	wr16(f->img + 0x1fe, 0x55aa);
	expect_parse(f, f->len, -ENOEXEC);
	RESTORE();
	wr16(f->img + 0x206, 0x020b); /* 2.11: no xloadflags */
	expect_parse(f, f->len, -ENOEXEC);
	RESTORE();
	wr16(f->img + 0x236, 0x7e); /* no XLF_KERNEL_64 */
	expect_parse(f, f->len, -ENOEXEC);
	RESTORE();
	f->img[0x211] = 0; /* zImage */
	expect_parse(f, f->len, -ENOEXEC);
	RESTORE();
	expect_parse(f, f->len - 1, -EINVAL); /* truncated by one byte */
	f->img[0x1f1] = 200;		      /* setup larger than the file */
	expect_parse(f, f->len, -EINVAL);
	RESTORE();
	wr32(f->img + 0x1f4, 0); /* syssize 0 */
	expect_parse(f, f->len, -EINVAL);
	RESTORE();
	wr32(f->img + 0x1f4, 0xffffffff); /* syssize beyond the file, no overflow */
	expect_parse(f, f->len, -EINVAL);
	RESTORE();
	wr32(f->img + 0x24c, PM_SIZE); /* payload runs past the kernel */
	expect_parse(f, f->len, -EINVAL);
	RESTORE();
	wr32(f->img + 0x248, 0xffffffff); /* offset + length overflows 32 bits */
	expect_parse(f, f->len, -EINVAL);
	RESTORE();
	wr32(f->img + 0x260, PM_SIZE - 16); /* init_size below the kernel size */
	expect_parse(f, f->len, -EINVAL);
	RESTORE();
	wr32(f->img + 0x230, 0x300000); /* kernel_alignment not a power of two */
	expect_parse(f, f->len, -EINVAL);
	RESTORE();
	f->img[0x201] = 0x20; /* header ends at 0x222, before init_size */
	expect_parse(f, f->len, -EINVAL);
	RESTORE();
	/* every truncation is rejected, none crashes (ASan watches the reads) */
	for (size_t l = 0; l < f->len; l += (l < 0x300 ? 1 : 97)) {
		uint8_t *copy = malloc(l ? l : 1);
		memcpy(copy, f->img, l);
		struct bzimage_info bi;
		assert_true(bzimage_parse(copy, l, &bi) < 0);
		free(copy);
	}
	expect_parse(f, f->len, 0);
#undef RESTORE
}

static void test_compression_magic(void **state)
{
	struct fixture *f = *state;
	static const struct {
		uint8_t m[6];
		enum boot_compression c;
	} cases[] = {
		{ { 0x1f, 0x8b, 8, 0, 0, 0 }, BOOT_COMP_GZIP },
		{ { 0x28, 0xb5, 0x2f, 0xfd, 0, 0 }, BOOT_COMP_ZSTD },
		{ { 0x5d, 0, 0, 0x80, 0, 0 }, BOOT_COMP_LZMA },
		{ { 'B', 'Z', 'h', '9', 0, 0 }, BOOT_COMP_BZIP2 },
		{ { 0x02, 0x21, 0x4c, 0x18, 0, 0 }, BOOT_COMP_LZ4 },
		{ { 0x89, 'L', 'Z', 'O', 0, 0 }, BOOT_COMP_LZO },
		{ { 0x7f, 'E', 'L', 'F', 0, 0 }, BOOT_COMP_UNKNOWN },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bzimage_info bi;
		make_bzimage(f->img, PM_SIZE, cases[i].m, 6);
		assert_int_equal(bzimage_parse(f->img, f->len, &bi), 0);
		assert_int_equal(bi.compression, cases[i].c);
	}
	assert_string_equal(boot_compression_name(BOOT_COMP_XZ), "xz");
	assert_string_equal(boot_compression_name((enum boot_compression)99), "unknown");
}

static void test_load(void **state)
{
	struct fixture *f = *state;
	struct bzimage_info bi;
	uint64_t load = 0;
	assert_int_equal(bzimage_parse(f->img, f->len, &bi), 0);
	assert_int_equal(bzimage_load(&f->ram, f->img, f->len, &bi, &load), 0);
	assert_int_equal(load, 0x1000000);
	assert_memory_equal(f->ram.hva + load, f->img + SETUP_SIZE, PM_SIZE);

	/* init_size must fit: 16 MiB + 32 MiB needs 48 MiB of RAM */
	struct guest_ram small = { f->ram.hva, 0x1000000 + INIT_SIZE - 4096 };
	assert_int_equal(bzimage_load(&small, f->img, f->len, &bi, &load), -ENOMEM);
	small.size += 4096;
	assert_int_equal(bzimage_load(&small, f->img, f->len, &bi, &load), 0);

	/* a relocatable kernel with a misaligned pref_address goes to the next boundary */
	bi.pref_address = 0x1100000;
	assert_int_equal(bzimage_load(&f->ram, f->img, f->len, &bi, &load), 0);
	assert_int_equal(load, 0x1200000);
	bi.pref_address = 0x1000; /* below 1 MiB: 2 MiB (first aligned address >= 1 MiB) */
	assert_int_equal(bzimage_load(&f->ram, f->img, f->len, &bi, &load), 0);
	assert_int_equal(load, 0x200000);
	bi.relocatable = false;
	assert_int_equal(bzimage_load(&f->ram, f->img, f->len, &bi, &load), -EINVAL);
}

/* ---- a tiny vmlinux ---- */

#define V_TEXT_PADDR 0x1000000ull
#define V_TEXT_VADDR 0xffffffff81000000ull
#define V_DATA_PADDR 0x1200000ull

static size_t make_vmlinux(uint8_t *buf, uint64_t entry)
{
	memset(buf, 0, 0x3000);
	Elf64_Ehdr eh = {
		.e_type = ET_EXEC,
		.e_machine = EM_X86_64,
		.e_version = EV_CURRENT,
		.e_entry = entry,
		.e_phoff = sizeof(Elf64_Ehdr),
		.e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr),
		.e_phnum = 3,
	};
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	Elf64_Phdr ph[3] = {
		{ .p_type = PT_LOAD, .p_offset = 0x1000, .p_vaddr = V_TEXT_VADDR,
		  .p_paddr = V_TEXT_PADDR, .p_filesz = 0x1000, .p_memsz = 0x1000 },
		{ .p_type = PT_NOTE, .p_offset = 0x1000, .p_vaddr = 0, .p_paddr = 0,
		  .p_filesz = 0x10, .p_memsz = 0x10 },
		/* data with a bss tail, and a percpu-like vaddr 0 */
		{ .p_type = PT_LOAD, .p_offset = 0x2000, .p_vaddr = 0, .p_paddr = V_DATA_PADDR,
		  .p_filesz = 0x800, .p_memsz = 0x3000 },
	};
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + sizeof(eh), ph, sizeof(ph));
	memset(buf + 0x1000, 0xc3, 0x1000);
	memset(buf + 0x2000, 0x5a, 0x1000); /* beyond filesz: must not be copied */
	return 0x3000;
}

static Elf64_Phdr *phdr(uint8_t *buf, int i)
{
	return (Elf64_Phdr *)(buf + sizeof(Elf64_Ehdr)) + i;
}

static void test_vmlinux_load(void **state)
{
	struct fixture *f = *state;
	uint8_t *elf = calloc(1, 0x3000);
	struct vmlinux_info vi;
	size_t len = make_vmlinux(elf, V_TEXT_PADDR); /* x86-64: ENTRY(phys_startup_64) */
	memset(f->ram.hva + V_DATA_PADDR, 0xee, 0x3000); /* bss must be cleared */
	assert_int_equal(vmlinux_load(&f->ram, elf, len, &vi), 0);
	assert_int_equal(vi.entry, V_TEXT_PADDR);
	assert_int_equal(vi.start, V_TEXT_PADDR);
	assert_int_equal(vi.end, V_DATA_PADDR + 0x3000);
	assert_int_equal(vi.nr_segments, 2);
	assert_memory_equal(f->ram.hva + V_TEXT_PADDR, elf + 0x1000, 0x1000);
	assert_memory_equal(f->ram.hva + V_DATA_PADDR, elf + 0x2000, 0x800);
	for (unsigned i = 0x800; i < 0x3000; i++)
		assert_int_equal(f->ram.hva[V_DATA_PADDR + i], 0);

	/* a virtual entry is translated through its segment */
	make_vmlinux(elf, V_TEXT_VADDR + 0x40);
	assert_int_equal(vmlinux_load(&f->ram, elf, len, &vi), 0);
	assert_int_equal(vi.entry, V_TEXT_PADDR + 0x40);
	free(elf);
}

static void test_vmlinux_rejects(void **state)
{
	struct fixture *f = *state;
	uint8_t *elf = calloc(1, 0x3000);
	struct vmlinux_info vi;
	size_t len = make_vmlinux(elf, V_TEXT_PADDR);

	assert_int_equal(vmlinux_load(&f->ram, elf, 3, &vi), -ENOEXEC);
	assert_int_equal(vmlinux_load(&f->ram, elf, 40, &vi), -EINVAL);
	elf[EI_CLASS] = ELFCLASS32;
	assert_int_equal(vmlinux_load(&f->ram, elf, len, &vi), -ENOEXEC);
	make_vmlinux(elf, V_TEXT_PADDR);
	((Elf64_Ehdr *)elf)->e_machine = EM_AARCH64;
	assert_int_equal(vmlinux_load(&f->ram, elf, len, &vi), -ENOEXEC);
	make_vmlinux(elf, V_TEXT_PADDR);
	((Elf64_Ehdr *)elf)->e_type = ET_DYN;
	assert_int_equal(vmlinux_load(&f->ram, elf, len, &vi), -ENOEXEC);
	make_vmlinux(elf, V_TEXT_PADDR);
	((Elf64_Ehdr *)elf)->e_phoff = len - 8; /* headers outside the file */
	assert_int_equal(vmlinux_load(&f->ram, elf, len, &vi), -EINVAL);
	make_vmlinux(elf, V_TEXT_PADDR);
	((Elf64_Ehdr *)elf)->e_phentsize = 32;
	assert_int_equal(vmlinux_load(&f->ram, elf, len, &vi), -EINVAL);
	make_vmlinux(elf, V_TEXT_PADDR);
	phdr(elf, 0)->p_offset = UINT64_MAX - 10; /* file data outside, overflow-safe */
	assert_int_equal(vmlinux_load(&f->ram, elf, len, &vi), -EINVAL);
	make_vmlinux(elf, V_TEXT_PADDR);
	phdr(elf, 0)->p_filesz = 0x2000; /* > memsz */
	assert_int_equal(vmlinux_load(&f->ram, elf, len, &vi), -EINVAL);
	make_vmlinux(elf, V_TEXT_PADDR);
	phdr(elf, 2)->p_paddr = 0x9000; /* below 1 MiB: would hit the boot structures */
	assert_int_equal(vmlinux_load(&f->ram, elf, len, &vi), -EINVAL);
	make_vmlinux(elf, V_TEXT_PADDR);
	phdr(elf, 2)->p_paddr = RAM_SIZE - 0x1000; /* past the end of RAM */
	assert_int_equal(vmlinux_load(&f->ram, elf, len, &vi), -ENOMEM);
	make_vmlinux(elf, V_TEXT_PADDR);
	phdr(elf, 2)->p_paddr = UINT64_MAX - 0xfff; /* wraps */
	assert_int_equal(vmlinux_load(&f->ram, elf, len, &vi), -ENOMEM);
	make_vmlinux(elf, V_TEXT_PADDR);
	phdr(elf, 2)->p_paddr = V_TEXT_PADDR + 0x800; /* overlaps the text */
	assert_int_equal(vmlinux_load(&f->ram, elf, len, &vi), -EINVAL);
	make_vmlinux(elf, 0x5000000); /* entry in no segment */
	assert_int_equal(vmlinux_load(&f->ram, elf, len, &vi), -EINVAL);
	make_vmlinux(elf, V_TEXT_PADDR);
	phdr(elf, 0)->p_type = PT_NULL;
	phdr(elf, 2)->p_type = PT_NULL;
	assert_int_equal(vmlinux_load(&f->ram, elf, len, &vi), -EINVAL); /* no PT_LOAD */
	free(elf);
}

static void test_e820(void **state)
{
	(void)state;
	struct e820_entry t[4];
	assert_int_equal(e820_build(RAM_SIZE, t, 4), 3);
	assert_int_equal(t[0].addr, 0);
	assert_int_equal(t[0].size, 0x9fc00);
	assert_int_equal(t[0].type, E820_RAM);
	assert_int_equal(t[1].addr, 0x9fc00);
	assert_int_equal(t[1].size, 0x100000 - 0x9fc00);
	assert_int_equal(t[1].type, E820_RESERVED);
	assert_int_equal(t[2].addr, 0x100000);
	assert_int_equal(t[2].size, RAM_SIZE - 0x100000);
	assert_int_equal(t[2].type, E820_RAM);
	assert_int_equal(sizeof(struct e820_entry), 20); /* boot_params layout */
	assert_int_equal(e820_build(0x100000, t, 4), 2);
	assert_int_equal(e820_build(0xff000, t, 4), -EINVAL);
	assert_int_equal(e820_build(RAM_SIZE + 1, t, 4), -EINVAL);
	assert_int_equal(e820_build(RAM_SIZE, t, 2), -ENOSPC);
}

static const char initrd_data[] = "070701 this is not really a cpio archive";

static void check_cpu_state(const struct boot_cpu_state *c, uint64_t rip)
{
	assert_int_equal(c->rip, rip);
	assert_int_equal(c->rsi, LAYOUT_BOOT_PARAMS);
	assert_int_equal(c->rsp, LAYOUT_BOOT_STACK_TOP);
	assert_int_equal(c->rflags, 0x2);
	assert_int_equal(c->cr0, 0x80000033);
	assert_int_equal(c->cr3, LAYOUT_BOOT_PML4);
	assert_int_equal(c->cr4, 0x20);
	assert_int_equal(c->efer, 0x500);
	assert_int_equal(c->gdt_base, LAYOUT_BOOT_GDT);
	assert_int_equal(c->gdt_limit, 31);
	assert_int_equal(c->idt_limit, 0);
	assert_int_equal(c->cs.sel, 0x10);
	assert_int_equal(c->cs.attr, 0xa9b);
	assert_int_equal(c->cs.limit, 0xffffffff);
	assert_int_equal(c->cs.base, 0);
	const struct boot_seg *d[] = { &c->ds, &c->es, &c->ss, &c->fs, &c->gs };
	for (int i = 0; i < 5; i++) {
		assert_int_equal(d[i]->sel, 0x18);
		assert_int_equal(d[i]->attr, 0xc93);
		assert_int_equal(d[i]->limit, 0xffffffff);
		assert_int_equal(d[i]->base, 0);
	}
	assert_int_equal(c->tr.attr, 0x8b);
}

static void check_tables(const uint8_t *m)
{
	/* GDT (SDM Vol. 3A 3.4.5): entries 2 and 3, flat 4 GiB, code L = 1 */
	assert_int_equal(rd64(m + LAYOUT_BOOT_GDT), 0);
	assert_int_equal(rd64(m + LAYOUT_BOOT_GDT + 8), 0);
	assert_int_equal(rd64(m + LAYOUT_BOOT_GDT + 0x10), 0x00af9b000000ffffull);
	assert_int_equal(rd64(m + LAYOUT_BOOT_GDT + 0x18), 0x00cf93000000ffffull);
	/* PML4[0] -> PDPT, PDPT[0..3] -> PDs, PD entries 2 MiB identity (SDM Vol. 3A 4.5) */
	assert_int_equal(rd64(m + LAYOUT_BOOT_PML4), LAYOUT_BOOT_PDPT | 3);
	for (int i = 1; i < 512; i++)
		assert_int_equal(rd64(m + LAYOUT_BOOT_PML4 + 8 * i), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(rd64(m + LAYOUT_BOOT_PDPT + 8 * i), (LAYOUT_BOOT_PD + 0x1000 * i) | 3);
	assert_int_equal(rd64(m + LAYOUT_BOOT_PDPT + 8 * 4), 0);
	assert_int_equal(rd64(m + LAYOUT_BOOT_PD), 0x83);
	assert_int_equal(rd64(m + LAYOUT_BOOT_PD + 8 * 8), 0x1000000 | 0x83);
	/* the last 2 MiB page below 4 GiB (LAPIC) */
	assert_int_equal(rd64(m + LAYOUT_BOOT_PD + 3 * 0x1000 + 8 * 511), 0xffe00000ull | 0x83);
}

static void test_boot_linux_bzimage(void **state)
{
	struct fixture *f = *state;
	struct boot_cpu_state cpu;
	struct boot_report r;
	const char *cmdline = "console=ttyS0 earlyprintk=serial nokaslr";
	struct boot_config cfg = { .kernel = f->img, .kernel_len = f->len,
				   .initrd = initrd_data, .initrd_len = sizeof(initrd_data),
				   .cmdline = cmdline, .nr_cpus = 2 };
	assert_int_equal(boot_linux(&f->ram, &cfg, &cpu, &r), 0);
	assert_int_equal(r.format, BOOT_FORMAT_BZIMAGE);
	assert_int_equal(r.kernel_start, 0x1000000);
	assert_int_equal(r.kernel_end, 0x1000000 + INIT_SIZE);
	assert_int_equal(r.entry, 0x1000200); /* boot.rst: 64-bit entry at +0x200 */
	/* initrd: as high as possible, page aligned, below RAM end (< initrd_addr_max) */
	assert_int_equal(r.initrd_start, (RAM_SIZE - sizeof(initrd_data)) & ~0xfffull);
	assert_int_equal(r.initrd_end, r.initrd_start + sizeof(initrd_data));
	assert_memory_equal(f->ram.hva + r.initrd_start, initrd_data, sizeof(initrd_data));
	assert_int_equal(r.rsdp, LAYOUT_ACPI_START);
	assert_memory_equal(f->ram.hva + LAYOUT_ACPI_START, "RSD PTR ", 8);
	check_cpu_state(&cpu, 0x1000200);
	check_tables(f->ram.hva);

	const uint8_t *bp = f->ram.hva + LAYOUT_BOOT_PARAMS;
	/* the header is copied from 0x1f1 to its end (0x26c) */
	assert_memory_equal(bp + 0x1f1, f->img + 0x1f1, 0x210 - 0x1f1);
	assert_memory_equal(bp + 0x22c, f->img + 0x22c, 0x26c - 0x22c);
	assert_int_equal(bp[0x1ef], 0);	      /* sentinel */
	assert_int_equal(bp[0x210], 0xff);    /* type_of_loader */
	assert_int_equal(bp[0x211], 0x81);    /* LOADED_HIGH | CAN_USE_HEAP */
	assert_int_equal(rd16(bp + 0x224), 0xde00); /* heap_end_ptr */
	assert_int_equal(rd32(bp + 0x228), LAYOUT_CMDLINE);
	assert_int_equal(rd32(bp + 0xc8), 0);	   /* ext_cmd_line_ptr */
	assert_string_equal((const char *)f->ram.hva + LAYOUT_CMDLINE, cmdline);
	assert_int_equal(rd32(bp + 0x218), r.initrd_start);
	assert_int_equal(rd32(bp + 0x21c), sizeof(initrd_data));
	assert_int_equal(rd32(bp + 0xc0), 0);
	assert_int_equal(rd32(bp + 0xc4), 0);
	assert_int_equal(rd64(bp + 0x70), LAYOUT_ACPI_START); /* acpi_rsdp_addr */
	assert_int_equal(rd32(bp + 0x1e0), (RAM_SIZE - 0x100000) >> 10); /* alt_mem_k */
	assert_int_equal(bp[0x1e8], 3);					  /* e820_entries */
	assert_int_equal(rd64(bp + 0x2d0 + 40), 0x100000);
	assert_int_equal(rd64(bp + 0x2d0 + 48), RAM_SIZE - 0x100000);
	assert_int_equal(rd32(bp + 0x2d0 + 56), E820_RAM);
	assert_int_equal(rd32(bp + 0x2d0 + 60), 0); /* no fourth entry */
}

static void test_boot_linux_errors(void **state)
{
	struct fixture *f = *state;
	struct boot_cpu_state cpu;
	struct boot_config cfg = { .kernel = f->img, .kernel_len = f->len, .nr_cpus = 1 };

	/* command line: cmdline_size (2047) characters fit, one more does not */
	char *line = malloc(2049);
	memset(line, 'a', 2048);
	line[2047] = '\0';
	cfg.cmdline = line;
	assert_int_equal(boot_linux(&f->ram, &cfg, &cpu, NULL), 0);
	line[2047] = 'a';
	line[2048] = '\0';
	assert_int_equal(boot_linux(&f->ram, &cfg, &cpu, NULL), -E2BIG);
	free(line);
	cfg.cmdline = NULL;

	/* the initrd must fit between the kernel's init_size and the end of RAM */
	static uint8_t big[RAM_SIZE - 0x1000000 - INIT_SIZE + 1];
	cfg.initrd = big;
	cfg.initrd_len = sizeof(big);
	assert_int_equal(boot_linux(&f->ram, &cfg, &cpu, NULL), -ENOMEM);
	cfg.initrd_len = sizeof(big) - 4096;
	assert_int_equal(boot_linux(&f->ram, &cfg, &cpu, NULL), 0);
	cfg.initrd = NULL;
	cfg.initrd_len = 0;

	/* RAM sizes: above the PCI hole, unaligned, below 1 MiB */
	struct guest_ram bad = { f->ram.hva, LAYOUT_PCI_HOLE_START + 4096 };
	assert_int_equal(boot_linux(&bad, &cfg, &cpu, NULL), -EINVAL);
	bad.size = RAM_SIZE - 1;
	assert_int_equal(boot_linux(&bad, &cfg, &cpu, NULL), -EINVAL);
	bad.size = 0x80000;
	assert_int_equal(boot_linux(&bad, &cfg, &cpu, NULL), -EINVAL);
	/* too little RAM for init_size */
	bad.size = 0x2000000;
	assert_int_equal(boot_linux(&bad, &cfg, &cpu, NULL), -ENOMEM);
	/* not a kernel */
	cfg.kernel = "hello";
	cfg.kernel_len = 5;
	assert_int_equal(boot_linux(&f->ram, &cfg, &cpu, NULL), -ENOEXEC);
	/* ACPI: too many CPUs */
	cfg.kernel = f->img;
	cfg.kernel_len = f->len;
	cfg.nr_cpus = 256;
	assert_int_equal(boot_linux(&f->ram, &cfg, &cpu, NULL), -EINVAL);
}

static void test_boot_linux_vmlinux(void **state)
{
	struct fixture *f = *state;
	uint8_t *elf = calloc(1, 0x3000);
	size_t len = make_vmlinux(elf, V_TEXT_PADDR);
	struct boot_cpu_state cpu;
	struct boot_report r;
	struct boot_config cfg = { .kernel = elf, .kernel_len = len, .cmdline = "quiet",
				   .initrd = initrd_data, .initrd_len = sizeof(initrd_data),
				   .nr_cpus = 1 };
	assert_int_equal(boot_linux(&f->ram, &cfg, &cpu, &r), 0);
	assert_int_equal(r.format, BOOT_FORMAT_VMLINUX);
	assert_int_equal(r.entry, V_TEXT_PADDR);
	assert_int_equal(r.kernel_end, V_DATA_PADDR + 0x3000);
	check_cpu_state(&cpu, V_TEXT_PADDR);
	const uint8_t *bp = f->ram.hva + LAYOUT_BOOT_PARAMS;
	/* a synthetic 2.15 header: the kernel reads version, loadflags, cmdline, ramdisk */
	assert_int_equal(rd16(bp + 0x1fe), 0xaa55);
	assert_memory_equal(bp + 0x202, "HdrS", 4);
	assert_int_equal(rd16(bp + 0x206), 0x020f);
	assert_int_equal(bp[0x210], 0xff);
	assert_int_equal(bp[0x211], 0x81);
	assert_int_equal(rd32(bp + 0x228), LAYOUT_CMDLINE);
	assert_int_equal(rd32(bp + 0x218), r.initrd_start);
	assert_int_equal(rd32(bp + 0x238), 2047);
	assert_string_equal((const char *)f->ram.hva + LAYOUT_CMDLINE, "quiet");
	free(elf);
}

/* ---- host decompression: a gzip member with one stored deflate block (RFC 1951 3.2.4,
 * RFC 1952 2.3) around the tiny vmlinux ---- */

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffff;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

static size_t make_gzip(uint8_t *out, const uint8_t *data, size_t n)
{
	static const uint8_t hdr[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	size_t o = 0;
	memcpy(out, hdr, 10);
	o = 10;
	out[o++] = 1; /* BFINAL, BTYPE 00 (stored) */
	wr16(out + o, (uint16_t)n);
	wr16(out + o + 2, (uint16_t)~n);
	o += 4;
	memcpy(out + o, data, n);
	o += n;
	wr32(out + o, crc32_ieee(data, n));
	wr32(out + o + 4, (uint32_t)n); /* ISIZE = the kernel's size trailer */
	return o + 8;
}

static void test_host_decompress(void **state)
{
	struct fixture *f = *state;
	uint8_t *elf = calloc(1, 0x3000);
	size_t elf_len = make_vmlinux(elf, V_TEXT_PADDR);
	uint8_t *gz = malloc(elf_len + 64);
	size_t gz_len = make_gzip(gz, elf, elf_len);
	uint8_t *img = calloc(1, SETUP_SIZE + 0x8000);
	size_t len = make_bzimage(img, 0x8000 - 0x10, NULL, 0);
	memcpy(img + SETUP_SIZE + PAYLOAD_OFF, gz, gz_len);
	wr32(img + 0x24c, (uint32_t)gz_len);
	wr32(img + 0x1f4, (0x8000 - 0x10) / 16);

	struct bzimage_info bi;
	assert_int_equal(bzimage_parse(img, len, &bi), 0);
	assert_int_equal(bi.compression, BOOT_COMP_GZIP);
	void *out;
	size_t out_len;
	assert_int_equal(bzimage_decompress(img, len, &bi, &out, &out_len), 0);
	assert_int_equal(out_len, elf_len);
	assert_memory_equal(out, elf, elf_len);
	free(out);

	struct boot_cpu_state cpu;
	struct boot_report r;
	struct boot_config cfg = { .kernel = img, .kernel_len = len, .nr_cpus = 1,
				   .host_decompress = true };
	assert_int_equal(boot_linux(&f->ram, &cfg, &cpu, &r), 0);
	assert_int_equal(r.format, BOOT_FORMAT_BZIMAGE_HOST);
	assert_int_equal(cpu.rip, V_TEXT_PADDR);
	assert_memory_equal(f->ram.hva + V_TEXT_PADDR, elf + 0x1000, 0x1000);
	/* the real header was used: cmdline_size from the bzImage */
	assert_int_equal(rd16(f->ram.hva + LAYOUT_BOOT_PARAMS + 0x206), 0x020f);

	/* a corrupt stream and a lying size trailer are errors */
	img[SETUP_SIZE + PAYLOAD_OFF + 10] = 7; /* BFINAL, reserved BTYPE 11 */
	assert_int_equal(bzimage_decompress(img, len, &bi, &out, &out_len), -EINVAL);
	img[SETUP_SIZE + PAYLOAD_OFF + 10] = 1;
	wr32(img + SETUP_SIZE + PAYLOAD_OFF + gz_len - 4, (uint32_t)elf_len + 1);
	assert_int_equal(bzimage_decompress(img, len, &bi, &out, &out_len), -EINVAL);
	free(elf);
	free(gz);
	free(img);
}

static void test_decompress_rejects(void **state)
{
	struct fixture *f = *state;
	struct bzimage_info bi;
	void *out;
	size_t out_len;
	/* xz magic followed by garbage */
	assert_int_equal(bzimage_parse(f->img, f->len, &bi), 0);
	wr32(f->img + SETUP_SIZE + PAYLOAD_OFF + sizeof(xz_magic) - 4, 0x1000);
	assert_int_equal(bzimage_decompress(f->img, f->len, &bi, &out, &out_len), -EINVAL);
	assert_null(out);
	/* a size trailer of 0 or > 1 GiB is refused before any allocation */
	wr32(f->img + SETUP_SIZE + PAYLOAD_OFF + sizeof(xz_magic) - 4, 0);
	assert_int_equal(bzimage_decompress(f->img, f->len, &bi, &out, &out_len), -EINVAL);
	wr32(f->img + SETUP_SIZE + PAYLOAD_OFF + sizeof(xz_magic) - 4, 0x7fffffff);
	assert_int_equal(bzimage_decompress(f->img, f->len, &bi, &out, &out_len), -EINVAL);
	/* unsupported formats */
	static const uint8_t lz4[8] = { 0x02, 0x21, 0x4c, 0x18, 0, 0, 1, 0 };
	make_bzimage(f->img, PM_SIZE, lz4, sizeof(lz4));
	assert_int_equal(bzimage_parse(f->img, f->len, &bi), 0);
	assert_int_equal(bzimage_decompress(f->img, f->len, &bi, &out, &out_len), -ENOTSUP);
	/* no payload */
	bi.payload_length = 0;
	assert_int_equal(bzimage_decompress(f->img, f->len, &bi, &out, &out_len), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_parse_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setup_sects_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compression_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vmlinux_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vmlinux_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_e820, setup, teardown),
		cmocka_unit_test_setup_teardown(test_boot_linux_bzimage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_boot_linux_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_boot_linux_vmlinux, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_decompress, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decompress_rejects, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
