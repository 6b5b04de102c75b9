/* SPDX-License-Identifier: MIT */
/*
 * ELF loader for x86-64 programs and their interpreter (ld.so): ET_EXEC at its link address,
 * ET_DYN (PIE, ld.so) at a chosen base. Segments are mapped anonymous + copied from the file,
 * then given their final protection, so bss zeroing needs no special case (System V ABI,
 * "Program Loading"; Linux fs/binfmt_elf.c load_elf_binary()).
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "user/user.h"

#define MAX_PHNUM 128

static int fail(char *err, size_t errlen, int e, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
	return -e;
}

int elf_check(const void *buf, size_t len)
{
	const Elf64_Ehdr *eh = buf;
	const unsigned char *b = buf;

	if (len >= 2 && b[0] == '#' && b[1] == '!')
		return 2;
	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return 0;
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64 || (eh->e_type != ET_EXEC && eh->e_type != ET_DYN))
		return 0;
	return 1;
}

static int read_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* short file */
		done += (size_t)n;
	}
	return 0;
}

static int seg_prot(uint32_t pf)
{
	return ((pf & PF_R) ? GPROT_READ : 0) | ((pf & PF_W) ? GPROT_WRITE : 0) |
	       ((pf & PF_X) ? GPROT_EXEC : 0);
}

int elf_load(struct guest_mem *mem, int fd, uint64_t dyn_base, struct elf_image *img, char *err,
	     size_t errlen)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[MAX_PHNUM];
	struct stat st;
	uint64_t lo = UINT64_MAX, hi = 0, bias = 0;
	uint8_t *base = mem_base(mem);
	uint64_t limit = mem_limit(mem);
	int r;

	memset(img, 0, sizeof(*img));
	if (fstat(fd, &st) < 0)
		return fail(err, errlen, errno, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, EACCES, "not a regular file");
	if (st.st_size < (off_t)sizeof(eh)) {
		if (st.st_size >= 4) {
			unsigned char m[4];
			if (read_full(fd, m, 4, 0) == 0 && memcmp(m, ELFMAG, SELFMAG) == 0)
				return fail(err, errlen, ENOEXEC, "truncated ELF file");
		}
		return fail(err, errlen, ENOEXEC, "not an ELF file");
	}
	r = read_full(fd, &eh, sizeof(eh), 0);
	if (r < 0)
		return fail(err, errlen, -r, "cannot read ELF header");
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return fail(err, errlen, ENOEXEC, "not an ELF file");
	if (eh.e_ident[EI_CLASS] != ELFCLASS64)
		return fail(err, errlen, ENOEXEC, "not a 64-bit ELF file (only x86-64 is supported)");
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64)
		return fail(err, errlen, ENOEXEC, "not an x86-64 ELF file");
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return fail(err, errlen, ENOEXEC, "not an executable ELF file");
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > MAX_PHNUM)
		return fail(err, errlen, ENOEXEC, "bad ELF program header table");
	if (eh.e_phoff > (uint64_t)st.st_size ||
	    (uint64_t)st.st_size - eh.e_phoff < (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr))
		return fail(err, errlen, ENOEXEC, "truncated ELF file (program headers)");
	r = read_full(fd, ph, eh.e_phnum * sizeof(Elf64_Phdr), (off_t)eh.e_phoff);
	if (r < 0)
		return fail(err, errlen, -r, "cannot read ELF program headers");

	/* Validate segments and find the image span. */
	for (int i = 0; i < eh.e_phnum; i++) {
		const Elf64_Phdr *p = &ph[i];

		if (p->p_type == PT_INTERP) {
			if (p->p_filesz < 2 || p->p_filesz >= sizeof(img->interp) ||
			    p->p_offset > (uint64_t)st.st_size ||
			    (uint64_t)st.st_size - p->p_offset < p->p_filesz)
				return fail(err, errlen, ENOEXEC, "bad PT_INTERP");
			r = read_full(fd, img->interp, p->p_filesz, (off_t)p->p_offset);
			if (r < 0)
				return fail(err, errlen, -r, "cannot read PT_INTERP");
			img->interp[p->p_filesz] = 0;
			if (strlen(img->interp) != p->p_filesz - 1)
				return fail(err, errlen, ENOEXEC, "bad PT_INTERP");
		}
		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		if (p->p_filesz > p->p_memsz || p->p_vaddr + p->p_memsz < p->p_vaddr ||
		    (p->p_align > 1 && (p->p_vaddr - p->p_offset) % GUEST_PAGE_SIZE))
			return fail(err, errlen, ENOEXEC, "bad PT_LOAD segment");
		if (p->p_offset > (uint64_t)st.st_size ||
		    (uint64_t)st.st_size - p->p_offset < p->p_filesz)
			return fail(err, errlen, ENOEXEC, "truncated ELF file (segment past end of file)");
		if (p->p_vaddr < lo)
			lo = p->p_vaddr;
		if (p->p_vaddr + p->p_memsz > hi)
			hi = p->p_vaddr + p->p_memsz;
	}
	if (hi == 0)
		return fail(err, errlen, ENOEXEC, "no loadable segments");
	lo &= GUEST_PAGE_MASK;
	hi = (hi + GUEST_PAGE_SIZE - 1) & GUEST_PAGE_MASK;

	if (eh.e_type == ET_DYN) {
		/* Reserve the whole span so the segments stay together (binfmt_elf total_mapping_size). */
		int64_t at = mem_map(mem, dyn_base ? dyn_base : 0, hi - lo, 0,
				     MAP_PRIVATE | MAP_ANONYMOUS | (dyn_base ? MAP_FIXED_NOREPLACE : 0),
				     -1, 0);
		if (at < 0 && dyn_base)
			at = mem_map(mem, 0, hi - lo, 0, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (at < 0)
			return fail(err, errlen, (int)-at, "cannot reserve guest memory for the image");
		bias = (uint64_t)at - lo;
	} else if (hi > limit || lo < GUEST_PAGE_SIZE) {
		return fail(err, errlen, ENOEXEC, "segments outside the guest address space");
	}

	for (int i = 0; i < eh.e_phnum; i++) {
		const Elf64_Phdr *p = &ph[i];
		uint64_t start, end;
		int64_t m;
		int shared_prot = 0;

		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		start = (p->p_vaddr + bias) & GUEST_PAGE_MASK;
		end = (p->p_vaddr + bias + p->p_memsz + GUEST_PAGE_SIZE - 1) & GUEST_PAGE_MASK;
		/* Segments may share a page (non-page-aligned layouts): keep earlier contents. */
		if (mem_check_range(mem, start, GUEST_PAGE_SIZE, GPROT_READ) && start != end) {
			/* first page already mapped by a previous segment */
			if (end - start > GUEST_PAGE_SIZE) {
				m = mem_map(mem, start + GUEST_PAGE_SIZE, end - start - GUEST_PAGE_SIZE,
					    GPROT_READ | GPROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
				if (m < 0)
					return fail(err, errlen, (int)-m, "cannot map segment");
			}
			/* the page keeps what both segments need (Linux maps it twice; the
			 * union is the closest single protection) */
			shared_prot = mem_prot(mem, start);
			mem_protect(mem, start, GUEST_PAGE_SIZE, GPROT_READ | GPROT_WRITE);
		} else {
			m = mem_map(mem, start, end - start, GPROT_READ | GPROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			if (m < 0)
				return fail(err, errlen, (int)-m, "cannot map segment");
		}
		mem_prepare_write(mem, start, end - start);
		if (p->p_filesz) {
			/* form the host pointer from the GVA only: base + p_vaddr alone may lie
			 * far outside the window (ET_DYN vaddrs are rebased by a wrapping bias) */
			uint64_t gva = p->p_vaddr + bias;

			if (gva < start || gva > limit || limit - gva < p->p_filesz)
				return fail(err, errlen, ENOEXEC, "bad PT_LOAD segment");
			r = read_full(fd, base + gva, p->p_filesz, (off_t)p->p_offset);
			if (r < 0)
				return fail(err, errlen, -r, "cannot read segment");
		}
		r = mem_protect(mem, start, end - start, seg_prot(p->p_flags));
		if (r == 0 && shared_prot > 0)
			r = mem_protect(mem, start, GUEST_PAGE_SIZE, seg_prot(p->p_flags) | shared_prot);
		if (r < 0)
			return fail(err, errlen, -r, "cannot protect segment");
		if (p->p_offset <= eh.e_phoff &&
		    eh.e_phoff + eh.e_phnum * sizeof(Elf64_Phdr) <= p->p_offset + p->p_filesz)
			img->phdr = p->p_vaddr + bias + (eh.e_phoff - p->p_offset);
		if (p->p_vaddr + bias + p->p_memsz > img->end)
			img->end = p->p_vaddr + bias + p->p_memsz;
	}
	for (int i = 0; i < eh.e_phnum; i++)
		if (ph[i].p_type == PT_PHDR)
			img->phdr = ph[i].p_vaddr + bias;

	img->bias = bias;
	img->entry = eh.e_entry + bias;
	img->phnum = eh.e_phnum;
	img->phent = sizeof(Elf64_Phdr);
	img->start = lo + bias;
	return 0;
}
