/* SPDX-License-Identifier: MIT */
/*
 * Accessed and dirty flags (Intel SDM Vol. 3A 4.8) and large pages (4.5, Tables 4-15, 4-17:
 * 1 GiB pages map bits 29:0 of the address as the offset, 2 MiB pages bits 20:0).
 *   - every entry used by a translation gets A=1 (4.8); D=1 only in the entry that maps the
 *     page (PTE, or PDE/PDPTE with PS=1) and only on a write; bit 6 of a non-leaf entry is
 *     ignored, the CPU never sets it
 *   - a read caches a translation with D=0; a later write must still set D
 *   - an instruction fetch sets A, not D
 *   - a write that faults (read-only page) sets no D (there is no write)
 *   - 2 MiB and 1 GiB pages: the offset, and A/D in the PDE / PDPTE
 * The flags are printed as the low 9 bits of each entry (P=1 W=2 U=4 A=0x20 D=0x40 PS=0x80).
 */
#include "guest.h"

#define T_BASE 0x0000008000000000UL /* PML4[1] */
#define FLAGS(e) ((e) & 0x1ffUL)

static void show(const char *what, uint64_t va)
{
	uint64_t *e4 = pte_ptr(va, 4, false), *e3 = pte_ptr(va, 3, false);
	uint64_t *e2 = pte_ptr(va, 2, false), *e1 = pte_ptr(va, 1, false);
	printf("%s: pml4e=%#lx pdpte=%#lx", what, FLAGS(*e4), FLAGS(*e3));
	if (e2)
		printf(" pde=%#lx", FLAGS(*e2));
	if (e1)
		printf(" pte=%#lx", FLAGS(*e1));
	printf("\n");
}

/* clear A and D in the entries of va's walk at levels 4..lowest, and flush */
static void clear_ad(uint64_t va, int lowest)
{
	for (int l = 4; l >= lowest; l--)
		*pte_ptr(va, l, false) &= ~(uint64_t)(PTE_A | PTE_D);
	flush_tlb();
}

static uint64_t ret_frame(void)
{
	uint8_t *p = alloc_page();
	for (int i = 0; i < 4096; i++)
		p[i] = 0xc3;
	return (uint64_t)p;
}

void test_main(void)
{
	uint64_t v1 = T_BASE + 0x1000, v2 = T_BASE + 0x2000, v3 = T_BASE + 0x3000;
	uint64_t v4 = T_BASE + 0x4000;
	map_4k(v1, (uint64_t)alloc_page(), PTE_P | PTE_W);
	map_4k(v2, (uint64_t)alloc_page(), PTE_P | PTE_W);
	map_4k(v3, ret_frame(), PTE_P | PTE_W);
	map_4k(v4, (uint64_t)alloc_page(), PTE_P);
	clear_ad(v1, 1);
	show("fresh", v1);

	/* read: A in all four entries, no D */
	(void)*(volatile uint64_t *)(v1 + 8);
	show("after read", v1);
	/* write through the translation the read cached: D must be set now */
	*(volatile uint64_t *)(v1 + 8) = 1;
	show("after write", v1);
	/* software clears A/D in the PTE and invalidates: the next read sets A again only */
	*pte_ptr(v1, 1, false) &= ~(uint64_t)(PTE_A | PTE_D);
	invlpg(v1);
	(void)*(volatile uint64_t *)(v1 + 16);
	show("read after clearing pte a/d", v1);

	/* first access a write: A and D together */
	clear_ad(v2, 1);
	*(volatile uint64_t *)(v2 + 8) = 2;
	show("write first", v2);

	/* fetch: A, no D */
	clear_ad(v3, 1);
	exc_clear();
	try_call(probe_exec, v3 + 0x10);
	show("fetch", v3);

	/* a write to a read-only page faults and sets no D */
	clear_ad(v4, 1);
	exc_clear();
	try_call(probe_write, v4 + 0x10);
	print_exc("ro write", true);
	printf("ro write: pte.D=%lu\n", *pte_ptr(v4, 1, false) >> 6 & 1);

	/* 2 MiB page: PDE with PS=1 -> PA 0x800000; offset bits 20:0 */
	uint64_t l2 = T_BASE + 0x40000000UL; /* PDPT[1] */
	*(volatile uint64_t *)(0x800000UL + 0x1ab238) = 0xfeedface2000000UL;
	uint64_t *pde = pte_ptr(l2, 2, true);
	*pde = 0x800000UL | PTE_P | PTE_W | PTE_PS;
	clear_ad(l2, 2);
	show("2m fresh", l2);
	printf("2m read: %#lx\n", *(volatile uint64_t *)(l2 + 0x1ab238));
	show("2m after read", l2);
	*(volatile uint64_t *)(l2 + 0x1ab240) = 0x2222;
	show("2m after write", l2);
	printf("2m write seen at pa: %#lx\n", *(volatile uint64_t *)(0x800000UL + 0x1ab240));

	/* 1 GiB page (CPUID.80000001H:EDX[26]): PDPTE with PS=1 -> PA 0; offset bits 29:0 */
	uint32_t r[4];
	cpuid(0x80000001, 0, r);
	printf("page1gb=%u\n", r[3] >> 26 & 1);
	uint64_t l1g = 0x0000010000000000UL; /* PML4[2] */
	uint64_t *pdpte = pte_ptr(l1g + 0x40000000UL, 3, true); /* PDPT[1] */
	*pdpte = PTE_P | PTE_W | PTE_PS; /* PA 0 */
	uint64_t g = l1g + 0x40000000UL;
	clear_ad(g, 3);
	show("1g fresh", g);
	printf("1g read: %#lx\n", *(volatile uint64_t *)(g + 0x9ab238));
	show("1g after read", g);
	*(volatile uint64_t *)(g + 0x9ab248) = 0x1111;
	show("1g after write", g);
	printf("1g write seen at pa: %#lx\n", *(volatile uint64_t *)(0x800000UL + 0x1ab248));
	/* near the top of RAM (128 MiB): offset bits above 21 come from the address too */
	*(volatile uint64_t *)0x7fff008UL = 0x7ff;
	printf("1g offset 0x7fff008: %#lx\n", *(volatile uint64_t *)(g + 0x7fff008UL));
}
