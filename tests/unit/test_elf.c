/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the user-mode ELF loader (src/user/elf.c) and the initial stack
 * (src/user/stack.c): PT_LOAD placement and protections, the PIE/ld.so load bias, bss zeroing
 * (including the partial page after the file data), PT_INTERP and AT_PHDR, and rejection of
 * truncated or invalid files. Test images are built in memory and handed over as a memfd.
 */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "user/user.h"

#define LIMIT (1ULL << 36)
#define PG GUEST_PAGE_SIZE

struct seg {
	uint32_t type, flags;
	uint64_t vaddr, off, filesz, memsz;
};

/* Build an image: ELF header, program headers at 64, then arbitrary file bytes. */
struct image {
	uint8_t buf[64 * 1024];
	size_t len;
};

static void build(struct image *im, uint16_t type, uint64_t entry, const struct seg *segs, int n)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)im->buf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(im->buf + sizeof(*eh));

	memset(im, 0, sizeof(*im));
	/* fill the file with a pattern so bss zeroing is visible */
	for (size_t i = 0; i < sizeof(im->buf); i++)
		im->buf[i] = (uint8_t)(0xa0 + i % 7);
	memset(eh, 0, sizeof(*eh) + (size_t)n * sizeof(*ph));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = type;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = entry;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = (uint16_t)n;
	for (int i = 0; i < n; i++) {
		ph[i].p_type = segs[i].type;
		ph[i].p_flags = segs[i].flags;
		ph[i].p_vaddr = ph[i].p_paddr = segs[i].vaddr;
		ph[i].p_offset = segs[i].off;
		ph[i].p_filesz = segs[i].filesz;
		ph[i].p_memsz = segs[i].memsz;
		ph[i].p_align = PG;
	}
	im->len = 4 * PG;
}

static int image_fd(const struct image *im)
{
	int fd = memfd_create("elf-test", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, im->buf, im->len), (ssize_t)im->len);
	return fd;
}

static int load(struct guest_mem *mem, const struct image *im, uint64_t dyn_base,
		struct elf_image *img, char *err)
{
	int fd = image_fd(im);
	int r = elf_load(mem, fd, dyn_base, img, err, 256);
	close(fd);
	return r;
}

static int setup(void **state)
{
	struct guest_mem *mem = mem_create(LIMIT);
	if (!mem)
		return -1;
	*state = mem;
	return 0;
}

static int teardown(void **state)
{
	mem_destroy(*state);
	return 0;
}

/* A classic static executable: text R-X at 0x400000, data+bss RW after it. */
static const struct seg exec_segs[] = {
	{ PT_LOAD, PF_R | PF_X, 0x400000, 0, 0x1800, 0x1800 },
	{ PT_LOAD, PF_R | PF_W, 0x402800, 0x2800, 0x100, 0x3000 },
};

static void test_exec_placement(void **state)
{
	struct guest_mem *mem = *state;
	struct image im;
	struct elf_image img;
	char err[256];
	uint8_t *base = mem_base(mem);

	build(&im, ET_EXEC, 0x401000, exec_segs, 2);
	assert_int_equal(load(mem, &im, 0, &img, err), 0);
	assert_int_equal(img.bias, 0);
	assert_int_equal(img.entry, 0x401000);
	assert_int_equal(img.start, 0x400000);
	assert_int_equal(img.end, 0x402800 + 0x3000);
	assert_int_equal(img.phnum, 2);
	assert_int_equal(img.phent, sizeof(Elf64_Phdr));
	/* program headers are inside the first segment: AT_PHDR = vaddr + e_phoff */
	assert_int_equal(img.phdr, 0x400000 + sizeof(Elf64_Ehdr));
	assert_string_equal(img.interp, "");
	/* file bytes land at their addresses */
	assert_memory_equal(base + 0x400000, im.buf, 0x1800);
	assert_memory_equal(base + 0x402800, im.buf + 0x2800, 0x100);
	/* protections */
	assert_int_equal(mem_prot(mem, 0x400000), GPROT_READ | GPROT_EXEC);
	assert_int_equal(mem_prot(mem, 0x401fff), GPROT_READ | GPROT_EXEC);
	assert_int_equal(mem_prot(mem, 0x402800), GPROT_READ | GPROT_WRITE);
	assert_int_equal(mem_prot(mem, 0x405000), GPROT_READ | GPROT_WRITE);
	assert_int_equal(mem_prot(mem, 0x406000), -1);
	assert_int_equal(mem_prot(mem, 0x3ff000), -1);
}

static void test_bss_zeroed(void **state)
{
	struct guest_mem *mem = *state;
	struct image im;
	struct elf_image img;
	char err[256];
	uint8_t *base = mem_base(mem);
	uint8_t zero[0x3000] = { 0 };

	build(&im, ET_EXEC, 0x401000, exec_segs, 2);
	assert_int_equal(load(mem, &im, 0, &img, err), 0);
	/* the rest of the page after filesz (the file has non-zero bytes there) and the
	 * following bss pages read as zero */
	assert_memory_equal(base + 0x402900, zero, 0x3000 - 0x100);
	assert_int_not_equal(im.buf[0x2900], 0);
}

/* Old-style layout: text and data share a page (no -z separate-code). */
static void test_shared_page(void **state)
{
	struct guest_mem *mem = *state;
	static const struct seg segs[] = {
		{ PT_LOAD, PF_R | PF_X, 0x400000, 0, 0x900, 0x900 },
		{ PT_LOAD, PF_R | PF_W, 0x400900, 0x900, 0x200, 0x1800 },
	};
	struct image im;
	struct elf_image img;
	char err[256];
	uint8_t *base = mem_base(mem);
	uint8_t zero[0x1600] = { 0 };

	build(&im, ET_EXEC, 0x400100, segs, 2);
	assert_int_equal(load(mem, &im, 0, &img, err), 0);
	/* both segments' bytes are in the shared page, the bss after them is zero */
	assert_memory_equal(base + 0x400000, im.buf, 0x900);
	assert_memory_equal(base + 0x400900, im.buf + 0x900, 0x200);
	assert_memory_equal(base + 0x400b00, zero, 0x1600);
	/* the shared page allows what both need; the rest is the data segment's */
	assert_int_equal(mem_prot(mem, 0x400000), GPROT_READ | GPROT_WRITE | GPROT_EXEC);
	assert_int_equal(mem_prot(mem, 0x401000), GPROT_READ | GPROT_WRITE);
	assert_int_equal(img.end, 0x400900 + 0x1800);
}

static void test_pie_bias(void **state)
{
	struct guest_mem *mem = *state;
	static const struct seg segs[] = {
		{ PT_PHDR, PF_R, 0x40, 0x40, 2 * sizeof(Elf64_Phdr) + 56, 3 * sizeof(Elf64_Phdr) },
		{ PT_LOAD, PF_R | PF_X, 0, 0, 0x1000, 0x1000 },
		{ PT_LOAD, PF_R | PF_W, 0x2000, 0x2000, 0x10, 0x2000 },
	};
	struct image im;
	struct elf_image img;
	char err[256];
	uint64_t want = 0x555550000ULL;

	build(&im, ET_DYN, 0x123, segs, 3);
	assert_int_equal(load(mem, &im, want, &img, err), 0);
	assert_int_equal(img.bias, want);
	assert_int_equal(img.entry, want + 0x123);
	assert_int_equal(img.start, want);
	assert_int_equal(img.end, want + 0x4000);
	assert_int_equal(img.phdr, want + 0x40); /* from PT_PHDR */
	assert_memory_equal(mem_base(mem) + want + 0x2000, im.buf + 0x2000, 0x10);
	assert_int_equal(mem_prot(mem, want), GPROT_READ | GPROT_EXEC);
	assert_int_equal(mem_prot(mem, want + 0x3000), GPROT_READ | GPROT_WRITE);
	/* the hole between the segments stays reserved, inaccessible */
	assert_false(mem_check_range(mem, want + 0x1000, 1, GPROT_READ));

	/* a second DYN object without a base goes wherever mmap puts it, page aligned,
	 * not over the first */
	assert_int_equal(load(mem, &im, 0, &img, err), 0);
	assert_int_equal(img.bias & (PG - 1), 0);
	assert_true(img.bias >= want + 0x4000 || img.bias + 0x4000 <= want);
	assert_int_equal(img.entry, img.bias + 0x123);
}

static void test_interp(void **state)
{
	struct guest_mem *mem = *state;
	static const char path[] = "/lib64/ld-linux-x86-64.so.2";
	static const struct seg segs[] = {
		{ PT_INTERP, PF_R, 0, 0x200, sizeof(path), sizeof(path) },
		{ PT_LOAD, PF_R | PF_X, 0x400000, 0, 0x1000, 0x1000 },
	};
	struct image im;
	struct elf_image img;
	char err[256];

	build(&im, ET_EXEC, 0x400100, segs, 2);
	memcpy(im.buf + 0x200, path, sizeof(path));
	assert_int_equal(load(mem, &im, 0, &img, err), 0);
	assert_string_equal(img.interp, path);

	/* PT_INTERP without its NUL or with an embedded NUL is rejected */
	build(&im, ET_EXEC, 0x400100, segs, 2);
	memcpy(im.buf + 0x200, "/lib\0/x.so", 11);
	assert_int_equal(load(mem, &im, 0, &img, err), -ENOEXEC);
}

static void expect_reject(struct guest_mem *mem, struct image *im, const char *why)
{
	struct elf_image img;
	char err[256] = "";
	int r = load(mem, im, 0, &img, err);
	assert_int_equal(r, -ENOEXEC);
	if (!strstr(err, why))
		fail_msg("error '%s' does not mention '%s'", err, why);
}

static void test_invalid(void **state)
{
	struct guest_mem *mem = *state;
	struct image im;
	Elf64_Ehdr *eh = (Elf64_Ehdr *)im.buf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(im.buf + sizeof(*eh));

	build(&im, ET_EXEC, 0x401000, exec_segs, 2);
	memcpy(im.buf, "#!/bin/sh\n", 10);
	expect_reject(mem, &im, "not an ELF");

	build(&im, ET_EXEC, 0x401000, exec_segs, 2);
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	expect_reject(mem, &im, "64-bit");

	build(&im, ET_EXEC, 0x401000, exec_segs, 2);
	eh->e_machine = EM_AARCH64;
	expect_reject(mem, &im, "x86-64");

	build(&im, ET_REL, 0x401000, exec_segs, 2);
	expect_reject(mem, &im, "executable");

	build(&im, ET_EXEC, 0x401000, exec_segs, 2);
	eh->e_phentsize = 32;
	expect_reject(mem, &im, "program header");

	build(&im, ET_EXEC, 0x401000, exec_segs, 2);
	eh->e_phnum = 0;
	expect_reject(mem, &im, "program header");

	/* filesz > memsz */
	build(&im, ET_EXEC, 0x401000, exec_segs, 2);
	ph[1].p_filesz = ph[1].p_memsz + 1;
	expect_reject(mem, &im, "PT_LOAD");

	/* vaddr and offset not congruent modulo the page size */
	build(&im, ET_EXEC, 0x401000, exec_segs, 2);
	ph[1].p_offset += 8;
	expect_reject(mem, &im, "PT_LOAD");

	/* no PT_LOAD at all */
	build(&im, ET_EXEC, 0x401000, exec_segs, 2);
	ph[0].p_type = ph[1].p_type = PT_NOTE;
	expect_reject(mem, &im, "no loadable");

	/* ET_EXEC below the first page or past the window */
	build(&im, ET_EXEC, 0x401000, exec_segs, 2);
	ph[0].p_vaddr = 0;
	expect_reject(mem, &im, "outside");
	build(&im, ET_EXEC, 0x401000, exec_segs, 2);
	ph[1].p_vaddr = LIMIT - 0x800;
	expect_reject(mem, &im, "outside");

	/* nothing was mapped by the rejected images */
	assert_int_equal(mem_prot(mem, 0x400000), -1);
}

static void test_truncated(void **state)
{
	struct guest_mem *mem = *state;
	struct image im;

	/* shorter than the ELF header, but starting with the magic */
	build(&im, ET_EXEC, 0x401000, exec_segs, 2);
	im.len = 40;
	expect_reject(mem, &im, "truncated");

	/* an empty file */
	im.len = 0;
	expect_reject(mem, &im, "not an ELF");

	/* program headers past the end of the file */
	build(&im, ET_EXEC, 0x401000, exec_segs, 2);
	im.len = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);
	expect_reject(mem, &im, "truncated");

	/* segment data past the end of the file */
	build(&im, ET_EXEC, 0x401000, exec_segs, 2);
	im.len = 0x2800 + 0x80;
	expect_reject(mem, &im, "truncated");
}

static void test_check(void **state)
{
	struct image im;

	(void)state;
	build(&im, ET_EXEC, 0x401000, exec_segs, 2);
	assert_int_equal(elf_check(im.buf, 64), 1);
	build(&im, ET_DYN, 0x401000, exec_segs, 2);
	assert_int_equal(elf_check(im.buf, 64), 1);
	assert_int_equal(elf_check(im.buf, 20), 0);
	im.buf[EI_CLASS] = ELFCLASS32;
	assert_int_equal(elf_check(im.buf, 64), 0);
	assert_int_equal(elf_check("#!/bin/sh", 9), 2);
	assert_int_equal(elf_check("echo hi", 7), 0);
}

/* The initial stack: argc, argv, envp, auxv as Linux lays them out. */
static void test_stack(void **state)
{
	struct guest_mem *mem = *state;
	char *argv[] = { "prog", "one", "two", NULL };
	char *envp[] = { "A=1", "B=two", NULL };
	struct elf_image exe = { .entry = 0x401000, .phdr = 0x400040, .phnum = 9, .phent = 56 };
	struct stack_args sa = { 3, argv, envp, "/bin/prog", &exe, 0x7000000 };
	uint64_t top = LIMIT - 16 * PG;
	int64_t rsp = stack_setup(mem, top, 1 << 20, &sa);
	uint8_t *base = mem_base(mem);
	uint64_t *sp, *auxv;
	bool seen_random = false, seen_execfn = false, seen_platform = false;
	int nr_aux = 0;

	assert_true(rsp > 0);
	assert_int_equal(rsp & 15, 0); /* psABI 3.4.1: 16-byte aligned at process entry */
	assert_true((uint64_t)rsp < top && (uint64_t)rsp > top - (1 << 20));
	sp = (uint64_t *)(base + rsp);
	assert_int_equal(sp[0], 3);
	assert_string_equal((char *)base + sp[1], "prog");
	assert_string_equal((char *)base + sp[2], "one");
	assert_string_equal((char *)base + sp[3], "two");
	assert_int_equal(sp[4], 0);
	assert_string_equal((char *)base + sp[5], "A=1");
	assert_string_equal((char *)base + sp[6], "B=two");
	assert_int_equal(sp[7], 0);
	auxv = &sp[8];
	for (; auxv[0] != AT_NULL; auxv += 2, nr_aux++) {
		switch (auxv[0]) {
		case AT_PHDR: assert_int_equal(auxv[1], 0x400040); break;
		case AT_PHNUM: assert_int_equal(auxv[1], 9); break;
		case AT_PHENT: assert_int_equal(auxv[1], 56); break;
		case AT_ENTRY: assert_int_equal(auxv[1], 0x401000); break;
		case AT_BASE: assert_int_equal(auxv[1], 0x7000000); break;
		case AT_PAGESZ: assert_int_equal(auxv[1], 4096); break;
		case AT_HWCAP2: assert_int_equal(auxv[1], 0); break;
		case AT_SECURE: assert_int_equal(auxv[1], 0); break;
		case AT_SYSINFO_EHDR: fail_msg("AT_SYSINFO_EHDR must be absent"); break;
		case AT_RANDOM:
			seen_random = true;
			assert_true(mem_check_range(mem, auxv[1], 16, GPROT_READ));
			break;
		case AT_EXECFN:
			seen_execfn = true;
			assert_string_equal((char *)base + auxv[1], "/bin/prog");
			break;
		case AT_PLATFORM:
			seen_platform = true;
			assert_string_equal((char *)base + auxv[1], "x86_64");
			break;
		default:
			break;
		}
		assert_true(nr_aux < 64);
	}
	assert_true(seen_random && seen_execfn && seen_platform);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exec_placement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bss_zeroed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pie_bias, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test(test_check),
		cmocka_unit_test_setup_teardown(test_stack, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
