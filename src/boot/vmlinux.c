/* SPDX-License-Identifier: MIT */
/*
 * ELF vmlinux loader for the 64-bit boot protocol: PT_LOAD segments go to their physical
 * addresses (p_paddr), as arch/x86/boot/compressed/misc.c parse_elf() places them relative to
 * LOAD_PHYSICAL_ADDR; the entry is startup_64 (arch/x86/kernel/head_64.S), entered with the
 * state of boot.rst "64-bit BOOT PROTOCOL". ELF format: System V gABI, ELF-64 Object File
 * Format 1.5, and the x86-64 psABI (EM_X86_64).
 *
 * No relocation is applied: the decompressor's handle_relocations() only adjusts for a virtual
 * KASLR offset on x86-64 (delta = virt_addr - LOAD_PHYSICAL_ADDR; zero when the kernel runs at
 * its link-time address), and a different physical address is handled by startup_64 itself
 * (head_64.S computes load_delta and fixes its page tables; it requires 2 MiB alignment).
 * Loading at p_paddr keeps both deltas zero. See docs/boot.md.
 */
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "boot/layout.h"
#include "boot/util.h"
#include "omnivisor/boot.h"
#include "omnivisor/log.h"

#define MAX_PHDRS 64

int vmlinux_load(const struct guest_ram *ram, const void *elf, size_t len,
		 struct vmlinux_info *info)
{
	const uint8_t *file = elf;
	Elf64_Ehdr eh;
	Elf64_Phdr ph[MAX_PHDRS];

	memset(info, 0, sizeof(*info));
	if (len < EI_NIDENT || memcmp(file, ELFMAG, SELFMAG)) {
		pr_err("vmlinux: not an ELF file");
		return -ENOEXEC;
	}
	if (len < sizeof(eh)) {
		pr_err("vmlinux: ELF header truncated (%zu bytes)", len);
		return -EINVAL;
	}
	memcpy(&eh, file, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64) {
		pr_err("vmlinux: not a little-endian ELF64 x86-64 file (class %u, data %u, machine "
		       "%u)",
		       eh.e_ident[EI_CLASS], eh.e_ident[EI_DATA], eh.e_machine);
		return -ENOEXEC;
	}
	if (eh.e_type != ET_EXEC) {
		pr_err("vmlinux: ELF type %u is not ET_EXEC (a kernel is linked at fixed addresses)",
		       eh.e_type);
		return -ENOEXEC;
	}
	if (eh.e_phnum == 0 || eh.e_phnum > MAX_PHDRS || eh.e_phentsize != sizeof(Elf64_Phdr)) {
		pr_err("vmlinux: bad program header table (%u entries of %u bytes)", eh.e_phnum,
		       eh.e_phentsize);
		return -EINVAL;
	}
	if (eh.e_phoff > len || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff) {
		pr_err("vmlinux: program headers at 0x%" PRIx64 " lie outside the %zu-byte file",
		       eh.e_phoff, len);
		return -EINVAL;
	}
	memcpy(ph, file + eh.e_phoff, eh.e_phnum * sizeof(Elf64_Phdr));

	/* Validate every segment before writing any guest memory. */
	uint64_t lo = UINT64_MAX, hi = 0;
	unsigned nr = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		const Elf64_Phdr *p = &ph[i];
		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		if (p->p_offset > len || p->p_filesz > len - p->p_offset) {
			pr_err("vmlinux: segment %u's file data [0x%" PRIx64 ", +0x%" PRIx64
			       ") lies outside the %zu-byte file",
			       i, p->p_offset, p->p_filesz, len);
			return -EINVAL;
		}
		if (p->p_filesz > p->p_memsz) {
			pr_err("vmlinux: segment %u has p_filesz 0x%" PRIx64 " > p_memsz 0x%" PRIx64,
			       i, p->p_filesz, p->p_memsz);
			return -EINVAL;
		}
		if (p->p_paddr < LAYOUT_HIMEM_START || !ram_range_ok(ram, p->p_paddr, p->p_memsz)) {
			pr_err("vmlinux: segment %u at physical [0x%" PRIx64 ", +0x%" PRIx64
			       ") is not inside guest RAM [1 MiB, 0x%" PRIx64 ")",
			       i, p->p_paddr, p->p_memsz, ram->size);
			return p->p_paddr >= LAYOUT_HIMEM_START ? -ENOMEM : -EINVAL;
		}
		for (unsigned j = 0; j < i; j++)
			if (ph[j].p_type == PT_LOAD &&
			    ranges_overlap(p->p_paddr, p->p_memsz, ph[j].p_paddr, ph[j].p_memsz)) {
				pr_err("vmlinux: segments %u and %u overlap in physical memory", j,
				       i);
				return -EINVAL;
			}
		if (p->p_paddr < lo)
			lo = p->p_paddr;
		if (p->p_paddr + p->p_memsz > hi)
			hi = p->p_paddr + p->p_memsz;
		nr++;
	}
	if (nr == 0) {
		pr_err("vmlinux: no PT_LOAD segment");
		return -EINVAL;
	}

	/* The entry: a physical address inside a segment (x86-64's ENTRY(phys_startup_64)),
	 * else a virtual one translated through the segment that maps it. */
	uint64_t entry = UINT64_MAX;
	for (unsigned i = 0; i < eh.e_phnum && entry == UINT64_MAX; i++)
		if (ph[i].p_type == PT_LOAD && eh.e_entry >= ph[i].p_paddr &&
		    eh.e_entry - ph[i].p_paddr < ph[i].p_memsz)
			entry = eh.e_entry;
	for (unsigned i = 0; i < eh.e_phnum && entry == UINT64_MAX; i++)
		if (ph[i].p_type == PT_LOAD && eh.e_entry >= ph[i].p_vaddr &&
		    eh.e_entry - ph[i].p_vaddr < ph[i].p_memsz)
			entry = eh.e_entry - ph[i].p_vaddr + ph[i].p_paddr;
	if (entry == UINT64_MAX) {
		pr_err("vmlinux: entry point 0x%" PRIx64 " is in no loadable segment", eh.e_entry);
		return -EINVAL;
	}

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		const Elf64_Phdr *p = &ph[i];
		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		memcpy(ram->hva + p->p_paddr, file + p->p_offset, p->p_filesz);
		memset(ram->hva + p->p_paddr + p->p_filesz, 0, p->p_memsz - p->p_filesz);
	}
	info->entry = entry;
	info->start = lo;
	info->end = hi;
	info->nr_segments = nr;
	return 0;
}
