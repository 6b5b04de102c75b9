/* SPDX-License-Identifier: MIT */
/*
 * Page faults: vector 14, exact error code and CR2 (Intel SDM Vol. 3A 4.7 "Page-Fault
 * Exceptions", Figure 4-12 error code: P=1, W/R=2, U/S=4, RSVD=8, I/D=16), saved RIP = the
 * faulting instruction (6.15 "Interrupt 14": a fault, CS:RIP points to the instruction).
 *   - not present at each level of the 4-level walk (PML4E, PDPTE, PDE, PTE)
 *   - write protection: CR0.WP=1 supervisor write to a read-only page faults, WP=0 allows it;
 *     a read-only PDE restricts a writable PTE (4.6.1: rights are the AND of the levels)
 *   - user (CPL 3) access to a supervisor page, at PTE and at PDE level
 *   - execute-disable with EFER.NXE: instruction fetch sets I/D (4.6.2, 4.7)
 *   - reserved bits (4.5, Tables 4-14..4-20; 4.7: RSVD with P=1)
 */
#include "guest.h"

#define T_BASE 0x0000008000000000UL /* PML4[1]: the test's own tables */

static uint64_t va(int page)
{
	return T_BASE + (uint64_t)page * 4096;
}

/* Returns a fresh identity page (VA = PA) usable as a frame */
static uint64_t frame(void)
{
	return (uint64_t)alloc_page();
}

static void rd(const char *what, uint64_t addr)
{
	exc_clear();
	int r = try_call(probe_read, addr);
	if (!r)
		printf("%s: read ok value=%#lx\n", what, try_result);
	else
		print_exc(what, true);
}

static void wr(const char *what, uint64_t addr)
{
	exc_clear();
	int r = try_call(probe_write, addr);
	if (!r)
		printf("%s: write ok\n", what);
	else
		print_exc(what, true);
}

static void ex(const char *what, uint64_t addr)
{
	exc_clear();
	int r = try_call(probe_exec, addr);
	if (!r)
		printf("%s: executed\n", what);
	else
		print_exc(what, true);
}

static void urd(const char *what, uint64_t addr)
{
	exc_clear();
	if (!user_call(user_read, addr))
		printf("%s: user read ok\n", what);
	else
		print_exc(what, true);
}

static void uwr(const char *what, uint64_t addr)
{
	exc_clear();
	if (!user_call(user_write, addr))
		printf("%s: user write ok\n", what);
	else
		print_exc(what, true);
}

static void uex(const char *what, uint64_t addr)
{
	exc_clear();
	if (!user_call(user_exec, addr))
		printf("%s: user executed\n", what);
	else
		print_exc(what, true);
}

/* A frame holding RET (0xC3) at every byte, so any offset is executable code. */
static uint64_t ret_frame(void)
{
	uint8_t *p = alloc_page();
	for (int i = 0; i < 4096; i++)
		p[i] = 0xc3;
	return (uint64_t)p;
}

void test_main(void)
{
	uint32_t r[4];
	cpuid(0x80000008, 0, r);
	printf("MAXPHYADDR=%u\n", r[0] & 0xff);
	printf("EFER.NXE=%lu CR0.WP=%lu\n", rdmsr(MSR_EFER) >> 11 & 1, read_cr0() >> 16 & 1);

	/* page 0: a plain mapping, which creates PDPT[0], PD[0] and a page table */
	uint64_t f0 = frame();
	*(uint64_t *)f0 = 0x1122334455667788UL;
	map_4k(va(0), f0, PTE_P | PTE_W | PTE_U);
	rd("mapped page", va(0) + 0);

	/* Not present (4.7: P=0 "caused by a non-present page"); CR2 = the linear address */
	rd("np pml4e read", 0x0000010000000abcUL);	/* PML4[2] empty */
	wr("np pml4e write", 0x0000010000000abcUL);	/* W/R=1 */
	rd("np pdpte", T_BASE + 0x40000000UL + 0x18);	/* PDPT[1] empty */
	rd("np pde", T_BASE + 0x200000 + 0x20);		/* PD[1] empty */
	rd("np pte", va(1) + 0x7f8);			/* PTE[1] empty */
	wr("np pte write", va(1) + 0x7f8);
	/* a not-present entry's other bits are ignored (4.5: P=0 -> no reserved-bit check) */
	*pte_ptr(va(1), 1, false) = 0x000fff0000000ffeUL;
	invlpg(va(1));
	rd("np pte with junk bits", va(1) + 8);
	*pte_ptr(va(1), 1, false) = 0;
	invlpg(va(1));

	/* Write protection (4.6.1, 2.5 CR0.WP) */
	uint64_t f2 = frame();
	map_4k(va(2), f2, PTE_P | PTE_U); /* read-only */
	rd("ro page read", va(2));
	wr("ro page write wp=1", va(2) + 0x10); /* P|W/R = 3 */
	write_cr0(read_cr0() & ~(uint64_t)CR0_WP);
	wr("ro page write wp=0", va(2) + 0x10); /* supervisor writes ignore R/W when WP=0 */
	write_cr0(read_cr0() | CR0_WP);
	printf("ro page after wp=0 write: %#lx\n", *(volatile uint64_t *)(f2 + 0x10));
	/* R/W=0 in the PDE: all of PD[2] read-only even though the PTE says writable */
	uint64_t f3 = frame();
	map_4k(T_BASE + 0x400000, f3, PTE_P | PTE_W | PTE_U);
	*pte_ptr(T_BASE + 0x400000, 2, false) &= ~(uint64_t)PTE_W;
	invlpg(T_BASE + 0x400000);
	wr("ro pde write", T_BASE + 0x400000 + 0x100);
	rd("ro pde read", T_BASE + 0x400000 + 0x100);

	/* User access to supervisor pages (4.6.1); from CPL 3 the U/S bit of the error is 1 */
	uint64_t f4 = frame();
	map_4k(va(4), f4, PTE_P | PTE_W); /* supervisor */
	rd("sup page read cpl0", va(4) + 0x40);
	urd("sup page user read", va(4) + 0x40);	/* P|U = 5 */
	uwr("sup page user write", va(4) + 0x48);	/* P|W|U = 7 */
	urd("np page user read", va(1) + 0x48);		/* U = 4 */
	uwr("np page user write", va(1) + 0x48);	/* W|U = 6 */
	uwr("ro user page user write", va(2) + 0x48); /* P|W|U = 7, whatever CR0.WP */
	urd("ro user page user read", va(2) + 0x48);
	/* U/S=0 in the PDE only */
	uint64_t f5 = frame();
	map_4k(T_BASE + 0x600000, f5, PTE_P | PTE_W | PTE_U);
	*pte_ptr(T_BASE + 0x600000, 2, false) &= ~(uint64_t)PTE_U;
	invlpg(T_BASE + 0x600000);
	urd("sup pde user read", T_BASE + 0x600000 + 0x8);

	/* Execute-disable (4.6.2): XD=1 with EFER.NXE=1 forbids fetches; I/D=1 (4.7) */
	uint64_t fx = ret_frame();
	map_4k(va(6), fx, PTE_P | PTE_W | PTE_U);
	name_addr(va(6) + 0x20, "target");
	ex("exec page", va(6) + 0x20);
	map_4k(va(7), fx, PTE_P | PTE_W | PTE_U | (1UL << 63));
	name_addr(va(7) + 0x20, "target_xd");
	ex("xd page fetch", va(7) + 0x20);		/* P|I/D = 0x11, RIP = CR2 = target */
	rd("xd page read", va(7) + 0x20);		/* data reads are allowed */
	uex("xd page user fetch", va(7) + 0x20);	/* P|U|I/D = 0x15 */
	uex("exec page user fetch", va(6) + 0x20);
	name_addr(va(1) + 0x30, "target_np");
	ex("np page fetch", va(1) + 0x30);		/* I/D = 0x10 (NXE=1, 4.7) */
	/* XD in the PDE only */
	map_4k(T_BASE + 0x800000, fx, PTE_P | PTE_W | PTE_U);
	*pte_ptr(T_BASE + 0x800000, 2, false) |= 1UL << 63;
	invlpg(T_BASE + 0x800000);
	name_addr(T_BASE + 0x800000 + 0x40, "target_xd_pde");
	ex("xd pde fetch", T_BASE + 0x800000 + 0x40);
	/* user fetch from a supervisor page: P|U|I/D = 0x15 (CPL 0 fetches from the user page
	 * "exec page" above succeed: CR4.SMEP = 0) */
	name_addr(va(4) + 0x20, "target_sup");
	uex("sup page user fetch", va(4) + 0x20);

	/* Reserved bits: RSVD=1 together with P=1 (4.7) */
	uint64_t f8 = frame();
	map_4k(va(8), f8, PTE_P | PTE_W | PTE_U | (1UL << 51)); /* bit 51 >= MAXPHYADDR */
	rd("rsvd pte bit51 read", va(8) + 0x8);		/* P|RSVD = 9 */
	wr("rsvd pte bit51 write", va(8) + 0x8);	/* P|W|RSVD = 0xb */
	urd("rsvd pte bit51 user read", va(8) + 0x8);	/* P|U|RSVD = 0xd */
	name_addr(va(8) + 0x8, "target_rsvd");
	ex("rsvd pte bit51 fetch", va(8) + 0x8);	/* P|RSVD|I/D = 0x19 */
	/* PS=1 in a PML4E is reserved (Table 4-14) */
	boot_pml4[3] = (uint64_t)alloc_page() | PTE_P | PTE_W | PTE_U | PTE_PS;
	flush_tlb();
	rd("rsvd pml4e ps", 0x0000018000000100UL);
	boot_pml4[3] = 0;
	/* a 2 MiB page with bit 13 set (bits 20:13 reserved, Table 4-18) */
	uint64_t *pde = pte_ptr(T_BASE + 0xa00000, 2, true);
	*pde = 0x800000 | PTE_P | PTE_W | PTE_U | PTE_PS | (1UL << 13);
	invlpg(T_BASE + 0xa00000);
	rd("rsvd 2m pde bit13", T_BASE + 0xa00000 + 0x1238);
	*pde = 0x800000 | PTE_P | PTE_W | PTE_U | PTE_PS;
	invlpg(T_BASE + 0xa00000);
	rd("2m pde ok", T_BASE + 0xa00000 + 0x1238);
	/* XD=1 while EFER.NXE=0 is a reserved bit (Table 4-19 note; 4.5) */
	uint64_t efer = rdmsr(MSR_EFER);
	wrmsr(MSR_EFER, efer & ~(uint64_t)EFER_NXE);
	flush_tlb();
	rd("xd with nxe=0 read", va(7) + 0x28);
	exc_clear();
	try_call(probe_exec, va(7) + 0x28);
	printf("xd with nxe=0 fetch: %s err=%#lx (I/D=0 without NXE)\n",
	       last_exc.vector == 14 ? "#PF" : "other", last_exc.error);
	wrmsr(MSR_EFER, efer);
	flush_tlb();
	printf("CR2 last=%#lx\n", read_cr2());
}
