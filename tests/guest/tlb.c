/* SPDX-License-Identifier: MIT */
/*
 * TLB invalidation (Intel SDM Vol. 3A 4.10.4). A changed entry's old translation may survive
 * until it is invalidated (4.10.4.3), so nothing is read between a change and its
 * invalidation; what is checked is what the SDM requires:
 *   - after INVLPG the new PTE is used (4.10.4.1: INVLPG invalidates the TLB entries and
 *     paging-structure-cache entries for the page); also for a changed PDE (a new page table)
 *   - INVLPG of any address inside a 2 MiB page invalidates the whole page
 *   - after MOV to CR3 the new non-global translation is used
 *   - a global page (CR4.PGE=1, G=1): MOV to CR3 need not flush it (4.10.2.4), but INVLPG does,
 *     and toggling CR4.PGE flushes every entry (4.10.4.1). Whether it survived MOV CR3 is
 *     implementation-specific and not printed.
 *   - switching CR3 to another PML4 uses that hierarchy
 *   - INVLPG of a non-canonical address is a no-op (Vol. 2A INVLPG), not #GP
 */
#include "guest.h"

#define T_BASE 0x0000008000000000UL /* PML4[1] */

static uint64_t marked(uint64_t val)
{
	uint64_t *p = alloc_page();
	for (int i = 0; i < 512; i++)
		p[i] = val;
	return (uint64_t)p;
}

static uint64_t rd(uint64_t va)
{
	return *(volatile uint64_t *)va;
}

void test_main(void)
{
	uint64_t p1 = marked(0x1111), p2 = marked(0x2222), p3 = marked(0x3333);
	uint64_t v = T_BASE + 0x5000;
	map_4k(v, p1, PTE_P | PTE_W);
	printf("initial: %#lx\n", rd(v));
	*pte_ptr(v, 1, false) = p2 | PTE_P | PTE_W;
	invlpg(v);
	printf("after pte change + invlpg: %#lx\n", rd(v));
	*pte_ptr(v, 1, false) = p1 | PTE_P | PTE_W;
	write_cr3(read_cr3());
	printf("after pte change + mov cr3: %#lx\n", rd(v));
	*pte_ptr(v, 1, false) = 0;
	invlpg(v);
	exc_clear();
	try_call(probe_read, v);
	print_exc("after unmap + invlpg", true);

	/* a new page table under the same PDE */
	uint64_t *pt2 = alloc_page();
	pt2[(v >> 12) & 511] = p3 | PTE_P | PTE_W;
	map_4k(v, p1, PTE_P | PTE_W);
	(void)rd(v);
	*pte_ptr(v, 2, false) = (uint64_t)pt2 | PTE_P | PTE_W | PTE_U;
	invlpg(v);
	printf("after pde change + invlpg: %#lx\n", rd(v));

	/* 2 MiB page: INVLPG of another address inside it */
	uint64_t l2 = T_BASE + 0x40000000UL;
	uint64_t *pde = pte_ptr(l2, 2, true);
	*(volatile uint64_t *)(0x800000UL + 0x1ff000) = 0xaaaa;
	*(volatile uint64_t *)(0xa00000UL + 0x1ff000) = 0xbbbb;
	*pde = 0x800000UL | PTE_P | PTE_W | PTE_PS;
	invlpg(l2);
	printf("2m page: %#lx\n", rd(l2 + 0x1ff000));
	*pde = 0xa00000UL | PTE_P | PTE_W | PTE_PS;
	invlpg(l2 + 0x3000);
	printf("2m page after invlpg elsewhere in it: %#lx\n", rd(l2 + 0x1ff000));

	/* global pages */
	uint32_t r[4];
	cpuid(1, 0, r);
	printf("pge=%u\n", r[3] >> 13 & 1);
	write_cr4(read_cr4() | CR4_PGE);
	uint64_t g = T_BASE + 0x7000;
	map_4k(g, p1, PTE_P | PTE_W | PTE_G);
	printf("global: %#lx\n", rd(g));
	*pte_ptr(g, 1, false) = p2 | PTE_P | PTE_W | PTE_G;
	write_cr3(read_cr3()); /* may or may not flush it: not observed */
	invlpg(g);
	printf("global after invlpg: %#lx\n", rd(g));
	*pte_ptr(g, 1, false) = p3 | PTE_P | PTE_W | PTE_G;
	write_cr3(read_cr3());
	write_cr4(read_cr4() & ~(uint64_t)CR4_PGE);
	write_cr4(read_cr4() | CR4_PGE);
	printf("global after pge toggle: %#lx\n", rd(g));
	/* a non-global page next to it is flushed by MOV CR3 even with PGE=1 */
	uint64_t ng = T_BASE + 0x8000;
	map_4k(ng, p1, PTE_P | PTE_W);
	(void)rd(ng);
	*pte_ptr(ng, 1, false) = p2 | PTE_P | PTE_W;
	write_cr3(read_cr3());
	printf("non-global after mov cr3 (pge=1): %#lx\n", rd(ng));
	write_cr4(read_cr4() & ~(uint64_t)CR4_PGE);

	/* another PML4: a copy of the boot one whose slot 1 maps v to p3 */
	uint64_t *pml4b = alloc_page(), *pdptb = alloc_page(), *pdb = alloc_page(),
		 *ptb = alloc_page();
	for (int i = 0; i < 512; i++)
		pml4b[i] = boot_pml4[i];
	pml4b[1] = (uint64_t)pdptb | PTE_P | PTE_W | PTE_U;
	pdptb[0] = (uint64_t)pdb | PTE_P | PTE_W | PTE_U;
	pdb[0] = (uint64_t)ptb | PTE_P | PTE_W | PTE_U;
	ptb[(v >> 12) & 511] = p3 | PTE_P | PTE_W;
	*pte_ptr(v, 2, false) = *pte_ptr(v, 2, false); /* unchanged */
	pt2[(v >> 12) & 511] = p1 | PTE_P | PTE_W;
	invlpg(v);
	printf("cr3 a: %#lx\n", rd(v));
	uint64_t cr3a = read_cr3();
	write_cr3((uint64_t)pml4b);
	printf("cr3 b: %#lx\n", rd(v));
	write_cr3(cr3a);
	printf("cr3 a again: %#lx\n", rd(v));

	/* INVLPG of a non-canonical address: no exception */
	exc_clear();
	__asm__ volatile("invlpg (%0)" ::"r"(0x0000800000000000UL) : "memory");
	print_exc("invlpg non-canonical", false);
}
