/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the page walker (src/cpu/paging.c): page tables are built in a host buffer that
 * acts as guest-physical memory, and every result (GPA, rights, size, #PF error code, A/D bits)
 * is checked exactly against the Intel SDM Vol. 3A chapter 4 section cited in each test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mmu_env.h"

#define RD 0u
#define WR MMU_ACC_WRITE
#define FE MMU_ACC_FETCH
#define US MMU_ACC_USER

static int walk(struct mmu_env *e, uint64_t la, unsigned access, struct paging_walk *w)
{
	return paging_walk(&e->regs, &e->phys, la, access, w);
}

/* Expect a #PF with @pfec for @access at TEST_LA. */
static void expect_pf(struct mmu_env *e, unsigned access, uint32_t pfec)
{
	struct paging_walk w;
	assert_int_equal(walk(e, TEST_LA, access, &w), -EFAULT);
	assert_int_equal(w.pfec, pfec);
}

static void expect_ok(struct mmu_env *e, unsigned access, uint64_t gpa)
{
	struct paging_walk w;
	assert_int_equal(walk(e, TEST_LA, access, &w), 0);
	assert_int_equal(w.gpa, gpa);
}

/* SDM 4.5.4 (Figure 4-8): a 4 KiB translation; GPA = PTE[51:12] | LA[11:0]. */
static void test_4k_translation(void **state)
{
	struct mmu_env *e = *state;
	struct paging_walk w;

	map_4k(e, TEST_LA, URW, URW, URW, URW, DATA_GPA);
	assert_int_equal(walk(e, TEST_LA, RD, &w), 0);
	assert_int_equal(w.gpa, DATA_GPA | 0x123);
	assert_int_equal(w.page_shift, 12);
	assert_int_equal(w.level, 1);
	assert_int_equal(w.prot, MMU_PROT_R | MMU_PROT_W | MMU_PROT_X | MMU_PROT_U);
	assert_int_equal(w.allowed[MMU_IDX_SUPER], MMU_PROT_R | MMU_PROT_W | MMU_PROT_X);
	assert_int_equal(w.allowed[MMU_IDX_USER], MMU_PROT_R | MMU_PROT_W | MMU_PROT_X);
	assert_false(w.global);
	/* PWT/PCD/PAT and the ignored bits 11:9, 58:52 do not matter */
	*entry(e, PT_GPA, TEST_LA, 1) |= PTE_PWT | PTE_PCD | (1ULL << 7) | (7ULL << 9) |
					 (0x7fULL << 52);
	expect_ok(e, WR | US, DATA_GPA | 0x123);
}

/* SDM 4.7: not-present entry at any level -> P=0; W/R, U/S, I/D describe the access. */
static void test_not_present_each_level(void **state)
{
	struct mmu_env *e = *state;

	for (unsigned level = 4; level >= 1; level--) {
		map_4k(e, TEST_LA, URW, URW, URW, URW, DATA_GPA);
		uint64_t table = level == 4 ? PML4_GPA : level == 3 ? PDPT_GPA
						   : level == 2 ? PD_GPA : PT_GPA;
		*entry(e, table, TEST_LA, level) &= ~PTE_P;
		expect_pf(e, RD, 0);
		expect_pf(e, WR, 2);
		expect_pf(e, RD | US, 4);
		expect_pf(e, WR | US, 6);
		expect_pf(e, FE, 0x10);      /* I/D reported because EFER.NXE = 1 */
		expect_pf(e, FE | US, 0x14);
		struct paging_walk w;
		assert_int_equal(walk(e, TEST_LA, RD, &w), -EFAULT);
		assert_int_equal(w.level, level);
	}
	/* SDM 4.7: with NXE = 0 (and no SMEP) I/D is 0 even for a fetch */
	e->regs.efer &= ~EFER_NXE;
	expect_pf(e, FE, 0);
	expect_pf(e, FE | US, 4);
}

/* SDM 4.6.1: supervisor write to a read-only page faults iff CR0.WP = 1; user writes always. */
static void test_write_protect(void **state)
{
	struct mmu_env *e = *state;

	map_4k(e, TEST_LA, URW, URW, URW, PTE_P | PTE_US, DATA_GPA);
	expect_ok(e, RD, DATA_GPA | 0x123);
	expect_pf(e, WR, MMU_PFEC_P | MMU_PFEC_W);
	expect_pf(e, WR | US, MMU_PFEC_P | MMU_PFEC_W | MMU_PFEC_U);
	e->regs.cr0 &= ~CR0_WP;
	expect_ok(e, WR, DATA_GPA | 0x123);
	expect_pf(e, WR | US, MMU_PFEC_P | MMU_PFEC_W | MMU_PFEC_U);
	/* the supervisor's write succeeded and dirtied the read-only page (4.8) */
	assert_true(*entry(e, PT_GPA, TEST_LA, 1) & PTE_D);
}

/* SDM 4.6.1: user-mode accesses need U/S = 1 at every level; supervisor ones do not. */
static void test_user_supervisor(void **state)
{
	struct mmu_env *e = *state;
	struct paging_walk w;

	map_4k(e, TEST_LA, URW, URW, PTE_P | PTE_RW, URW, DATA_GPA);
	expect_pf(e, RD | US, MMU_PFEC_P | MMU_PFEC_U);
	expect_pf(e, WR | US, MMU_PFEC_P | MMU_PFEC_W | MMU_PFEC_U);
	expect_pf(e, FE | US, MMU_PFEC_P | MMU_PFEC_U | MMU_PFEC_I);
	assert_int_equal(walk(e, TEST_LA, RD, &w), 0);
	assert_int_equal(w.allowed[MMU_IDX_USER], 0);
	assert_int_equal(w.prot & MMU_PROT_U, 0);
	expect_ok(e, WR, DATA_GPA | 0x123);
	expect_ok(e, FE, DATA_GPA | 0x123);
	/* implicit supervisor accesses at CPL 3 are supervisor-mode: the caller omits MMU_ACC_USER */
}

/* SDM 4.6.1: with EFER.NXE = 1, fetches need XD = 0 at every level; reads/writes unaffected. */
static void test_nx(void **state)
{
	struct mmu_env *e = *state;

	map_4k(e, TEST_LA, URW, URW, URW, URW | PTE_XD, DATA_GPA);
	expect_pf(e, FE, MMU_PFEC_P | MMU_PFEC_I);
	expect_pf(e, FE | US, MMU_PFEC_P | MMU_PFEC_U | MMU_PFEC_I);
	expect_ok(e, RD | US, DATA_GPA | 0x123);
	expect_ok(e, WR | US, DATA_GPA | 0x123);
	/* SDM 4.5.5 Tables 4-15..4-20: XD (bit 63) is reserved when NXE = 0 */
	e->regs.efer &= ~EFER_NXE;
	expect_pf(e, RD, MMU_PFEC_P | MMU_PFEC_RSVD);
	expect_pf(e, FE, MMU_PFEC_P | MMU_PFEC_RSVD);
	*entry(e, PT_GPA, TEST_LA, 1) &= ~PTE_XD;
	expect_ok(e, FE | US, DATA_GPA | 0x123);
}

/* SDM 4.6.1: R/W and U/S are ANDed over the levels, XD is ORed (any level). */
static void test_rights_combine(void **state)
{
	struct mmu_env *e = *state;
	struct paging_walk w;

	/* read-only only in the PML4E */
	map_4k(e, TEST_LA, PTE_P | PTE_US, URW, URW, URW, DATA_GPA);
	expect_pf(e, WR, MMU_PFEC_P | MMU_PFEC_W);
	expect_pf(e, WR | US, MMU_PFEC_P | MMU_PFEC_W | MMU_PFEC_U);
	/* supervisor only in the PDPTE */
	map_4k(e, TEST_LA, URW, PTE_P | PTE_RW, URW, URW, DATA_GPA);
	expect_pf(e, RD | US, MMU_PFEC_P | MMU_PFEC_U);
	expect_ok(e, WR, DATA_GPA | 0x123);
	/* XD only in the PML4E */
	map_4k(e, TEST_LA, URW | PTE_XD, URW, URW, URW, DATA_GPA);
	expect_pf(e, FE, MMU_PFEC_P | MMU_PFEC_I);
	assert_int_equal(walk(e, TEST_LA, RD, &w), 0);
	assert_int_equal(w.prot, MMU_PROT_R | MMU_PROT_W | MMU_PROT_U);
	/* everything granted at every level except R/W in the PDE: not writable anywhere */
	map_4k(e, TEST_LA, URW, URW, PTE_P | PTE_US, URW, DATA_GPA);
	assert_int_equal(walk(e, TEST_LA, RD | US, &w), 0);
	assert_int_equal(w.allowed[MMU_IDX_SUPER], MMU_PROT_R | MMU_PROT_X);
	assert_int_equal(w.allowed[MMU_IDX_USER], MMU_PROT_R | MMU_PROT_X);
}

/* SDM 4.5.5 (bits 51:M reserved), 4.7 (RSVD = 1, P = 1): reserved bits at each level. */
static void test_reserved_bits(void **state)
{
	struct mmu_env *e = *state;
	uint64_t tables[5] = {0, PT_GPA, PD_GPA, PDPT_GPA, PML4_GPA};

	/* bit 40 with MAXPHYADDR = 40, at every level */
	for (unsigned level = 1; level <= 4; level++) {
		map_4k(e, TEST_LA, URW, URW, URW, URW, DATA_GPA);
		*entry(e, tables[level], TEST_LA, level) |= 1ULL << 40;
		expect_pf(e, RD, MMU_PFEC_P | MMU_PFEC_RSVD);
		expect_pf(e, WR | US, MMU_PFEC_P | MMU_PFEC_RSVD | MMU_PFEC_W | MMU_PFEC_U);
		expect_pf(e, FE, MMU_PFEC_P | MMU_PFEC_RSVD | MMU_PFEC_I);
		/* bit 51 too */
		*entry(e, tables[level], TEST_LA, level) ^= (1ULL << 40) | (1ULL << 51);
		expect_pf(e, RD, MMU_PFEC_P | MMU_PFEC_RSVD);
	}
	/* with MAXPHYADDR = 46, bit 40 is an address bit (the GPA is just not RAM) */
	map_4k(e, TEST_LA, URW, URW, URW, URW, DATA_GPA | (1ULL << 40));
	expect_pf(e, RD, MMU_PFEC_P | MMU_PFEC_RSVD);
	e->regs.maxphyaddr = 46;
	expect_ok(e, RD, DATA_GPA | (1ULL << 40) | 0x123);
	e->regs.maxphyaddr = 40;

	/* Table 4-15: PS in a PML4E is reserved */
	map_4k(e, TEST_LA, URW | PTE_PS, URW, URW, URW, DATA_GPA);
	expect_pf(e, RD, MMU_PFEC_P | MMU_PFEC_RSVD);

	/* Table 4-18: 2 MiB page, bits 20:13 reserved (bit 12 is PAT) */
	map_2m(e, TEST_LA, URW, URW, URW, 0x200000 | (1ULL << 13));
	expect_pf(e, RD, MMU_PFEC_P | MMU_PFEC_RSVD);
	map_2m(e, TEST_LA, URW, URW, URW, 0x200000 | (1ULL << 20));
	expect_pf(e, RD | US, MMU_PFEC_P | MMU_PFEC_RSVD | MMU_PFEC_U);
	map_2m(e, TEST_LA, URW, URW, URW, 0x200000 | (1ULL << 12));
	expect_ok(e, RD, 0x200000 | (TEST_LA & 0x1fffff));

	/* Table 4-16: 1 GiB page, bits 29:13 reserved (bit 12 is PAT) */
	map_1g(e, TEST_LA, URW, URW, 0x40000000 | (1ULL << 29));
	expect_pf(e, RD, MMU_PFEC_P | MMU_PFEC_RSVD);
	map_1g(e, TEST_LA, URW, URW, 0x40000000 | (1ULL << 13));
	expect_pf(e, WR, MMU_PFEC_P | MMU_PFEC_RSVD | MMU_PFEC_W);
	map_1g(e, TEST_LA, URW, URW, 0x40000000 | (1ULL << 12));
	expect_ok(e, RD, 0x40000000 | (TEST_LA & 0x3fffffff));
	/* without 1 GiB page support, PDPTE.PS is itself reserved (4.5.4) */
	e->regs.page1gb = false;
	expect_pf(e, RD, MMU_PFEC_P | MMU_PFEC_RSVD);
}

/* A reserved bit is reported even when an upper level denies the access (checked during the
 * walk, rights at the end), and a not-present lower level is P=0 despite an upper U/S=0. */
static void test_fault_priority(void **state)
{
	struct mmu_env *e = *state;

	map_4k(e, TEST_LA, PTE_P | PTE_RW, URW, URW, URW | (1ULL << 45), DATA_GPA);
	expect_pf(e, RD | US, MMU_PFEC_P | MMU_PFEC_RSVD | MMU_PFEC_U);
	map_4k(e, TEST_LA, PTE_P | PTE_RW, URW, URW, 0, DATA_GPA);
	expect_pf(e, RD | US, MMU_PFEC_U);
}

/* SDM 4.5.4 (Figure 4-9): 2 MiB page, GPA = PDE[51:21] | LA[20:0]. */
static void test_2m_page(void **state)
{
	struct mmu_env *e = *state;
	struct paging_walk w;
	uint64_t la = TEST_LA | 0x1ff000; /* offset 0x1ff123 inside the 2 MiB page */

	map_2m(e, la, URW, URW, URW | PTE_G, 0x7fe00000ULL);
	assert_int_equal(walk(e, la, WR | US, &w), 0);
	assert_int_equal(w.gpa, 0x7fe00000ULL + 0x1ff123);
	assert_int_equal(w.page_shift, 21);
	assert_int_equal(w.level, 2);
	assert_true(w.global);
	assert_true(w.dirty);
	/* D on the PDE (the leaf), not on the levels above; A everywhere */
	assert_int_equal(*entry(e, PD_GPA, la, 2) & (PTE_A | PTE_D), PTE_A | PTE_D);
	assert_int_equal(*entry(e, PDPT_GPA, la, 3) & (PTE_A | PTE_D), PTE_A);
	assert_int_equal(*entry(e, PML4_GPA, la, 4) & (PTE_A | PTE_D), PTE_A);
}

/* SDM 4.5.4 (Figure 4-10): 1 GiB page, GPA = PDPTE[51:30] | LA[29:0]. */
static void test_1g_page(void **state)
{
	struct mmu_env *e = *state;
	struct paging_walk w;
	uint64_t la = (5ULL << 39) | (7ULL << 30) | 0x3fedcba9ULL;

	map_1g(e, la, URW, URW, 0xc0000000ULL);
	assert_int_equal(walk(e, la, RD, &w), 0);
	assert_int_equal(w.gpa, 0xc0000000ULL + 0x3fedcba9ULL);
	assert_int_equal(w.page_shift, 30);
	assert_int_equal(w.level, 3);
	assert_false(w.dirty);
	assert_int_equal(*entry(e, PDPT_GPA, la, 3) & (PTE_A | PTE_D), PTE_A);
}

/* SDM 4.8: A on every entry used, D on the leaf for writes only; nothing on a fault. */
static void test_accessed_dirty(void **state)
{
	struct mmu_env *e = *state;
	struct paging_walk w;
	uint64_t *pml4e = entry(e, PML4_GPA, TEST_LA, 4), *pdpte = entry(e, PDPT_GPA, TEST_LA, 3);
	uint64_t *pde = entry(e, PD_GPA, TEST_LA, 2), *pte = entry(e, PT_GPA, TEST_LA, 1);

	map_4k(e, TEST_LA, URW, URW, URW, URW, DATA_GPA);
	assert_int_equal(walk(e, TEST_LA, RD, &w), 0);
	assert_false(w.dirty);
	assert_int_equal(*pml4e, PDPT_GPA | URW | PTE_A);
	assert_int_equal(*pdpte, PD_GPA | URW | PTE_A);
	assert_int_equal(*pde, PT_GPA | URW | PTE_A);
	assert_int_equal(*pte, DATA_GPA | URW | PTE_A);
	/* a fetch does not dirty */
	assert_int_equal(walk(e, TEST_LA, FE, &w), 0);
	assert_int_equal(*pte, DATA_GPA | URW | PTE_A);
	assert_int_equal(walk(e, TEST_LA, WR | US, &w), 0);
	assert_true(w.dirty);
	assert_int_equal(*pte, DATA_GPA | URW | PTE_A | PTE_D);
	assert_int_equal(*pde, PT_GPA | URW | PTE_A);

	/* faults leave every entry untouched: protection fault at the leaf ... */
	map_4k(e, TEST_LA, URW, URW, URW, PTE_P | PTE_US, DATA_GPA);
	uint8_t before[0x5000];
	memcpy(before, e->ram, sizeof(before));
	expect_pf(e, WR, MMU_PFEC_P | MMU_PFEC_W);
	assert_memory_equal(before, e->ram, sizeof(before));
	/* ... not present at the PT ... */
	*pte = 0;
	memcpy(before, e->ram, sizeof(before));
	expect_pf(e, RD, 0);
	assert_memory_equal(before, e->ram, sizeof(before));
	/* ... reserved bit at the PT */
	*pte = DATA_GPA | URW | (1ULL << 47);
	memcpy(before, e->ram, sizeof(before));
	expect_pf(e, RD, MMU_PFEC_P | MMU_PFEC_RSVD);
	assert_memory_equal(before, e->ram, sizeof(before));
}

/* SDM 4.8 "locked operation": an entry changed between our read and our A/D update (another
 * vCPU) makes the walk restart; the other agent's change is kept. */
static void test_ad_race_restarts(void **state)
{
	struct mmu_env *e = *state;
	struct paging_walk w;

	map_4k(e, TEST_LA, URW, URW, URW, URW, DATA_GPA);
	/* ram_ptr call 3 (the PD read) sets an ignored bit in the PML4E that was already read */
	e->mutate_at = 3;
	e->mutate_gpa = PML4_GPA + 8;
	e->mutate_bits = 1ULL << 9;
	assert_int_equal(walk(e, TEST_LA, WR, &w), 0);
	assert_int_equal(e->nr_ram_ptr, 8); /* walked twice */
	assert_int_equal(*entry(e, PML4_GPA, TEST_LA, 4), PDPT_GPA | URW | PTE_A | (1ULL << 9));
	assert_int_equal(*entry(e, PT_GPA, TEST_LA, 1), DATA_GPA | URW | PTE_A | PTE_D);
	/* the racing agent makes the PML4E invalid (XD with NXE = 0) after the walk read it: the
	 * A update fails, the second walk faults, and no A bit is left behind */
	map_4k(e, TEST_LA, URW, URW, URW, URW, DATA_GPA);
	e->nr_ram_ptr = 0;
	e->mutate_at = 4;
	e->mutate_gpa = PML4_GPA + 8;
	e->mutate_bits = PTE_XD;
	e->regs.efer &= ~EFER_NXE;
	expect_pf(e, RD, MMU_PFEC_P | MMU_PFEC_RSVD);
	assert_int_equal(e->nr_ram_ptr, 5);
	assert_int_equal(*entry(e, PML4_GPA, TEST_LA, 4), PDPT_GPA | URW | PTE_XD);
	assert_int_equal(*entry(e, PDPT_GPA, TEST_LA, 3), PD_GPA | URW);
}

/* SDM 4.10.2.4: G is kept only with CR4.PGE = 1; only the leaf's G counts. */
static void test_global(void **state)
{
	struct mmu_env *e = *state;
	struct paging_walk w;

	map_4k(e, TEST_LA, URW | PTE_G, URW | PTE_G, URW | PTE_G, URW, DATA_GPA);
	assert_int_equal(walk(e, TEST_LA, RD, &w), 0);
	assert_false(w.global);
	*entry(e, PT_GPA, TEST_LA, 1) |= PTE_G;
	assert_int_equal(walk(e, TEST_LA, RD, &w), 0);
	assert_true(w.global);
	e->regs.cr4 &= ~CR4_PGE;
	assert_int_equal(walk(e, TEST_LA, RD, &w), 0);
	assert_false(w.global);
}

/* A table in a GPA that is not RAM reads as all ones: P=1 with reserved bits -> RSVD. */
static void test_unbacked_table(void **state)
{
	struct mmu_env *e = *state;

	map_4k(e, TEST_LA, URW, URW, URW, URW, DATA_GPA);
	*entry(e, PD_GPA, TEST_LA, 2) = 0xfe000000ULL | URW; /* PT beyond the RAM buffer */
	expect_pf(e, RD, MMU_PFEC_P | MMU_PFEC_RSVD);
	e->regs.cr3 = 0x80000000ULL;
	expect_pf(e, WR | US, MMU_PFEC_P | MMU_PFEC_RSVD | MMU_PFEC_W | MMU_PFEC_U);
}

/* SDM 4.1.1: paging modes; only IA-32e 4-level paging and no paging are implemented. */
static void test_modes(void **state)
{
	struct mmu_env *e = *state;
	struct paging_walk w;

	assert_int_equal(paging_check_regs(&e->regs), 0);
	/* CR0.PG = 0: identity, everything allowed, nothing read */
	e->regs.cr0 &= ~CR0_PG;
	e->nr_ram_ptr = 0;
	assert_int_equal(walk(e, 0x12345678, WR | US, &w), 0);
	assert_int_equal(w.gpa, 0x12345678);
	assert_int_equal(w.allowed[MMU_IDX_USER], MMU_PROT_R | MMU_PROT_W | MMU_PROT_X);
	assert_int_equal(e->nr_ram_ptr, 0);
	e->regs.cr0 |= CR0_PG;

	static const uint64_t cr4_bits[] = {CR4_LA57, CR4_PCIDE, CR4_SMEP, CR4_SMAP, CR4_PKE,
					    CR4_PKS};
	for (size_t i = 0; i < sizeof(cr4_bits) / sizeof(cr4_bits[0]); i++) {
		e->regs.cr4 |= cr4_bits[i];
		assert_int_equal(paging_check_regs(&e->regs), -ENOTSUP);
		assert_int_equal(walk(e, TEST_LA, RD, &w), -ENOTSUP);
		e->regs.cr4 &= ~cr4_bits[i];
	}
	/* PAE paging and 32-bit paging (EFER.LMA = 0) */
	e->regs.efer &= ~(EFER_LMA | EFER_LME);
	assert_int_equal(walk(e, TEST_LA, RD, &w), -ENOTSUP);
	e->regs.cr4 &= ~CR4_PAE;
	assert_int_equal(walk(e, TEST_LA, RD, &w), -ENOTSUP);
	/* long mode without PAE cannot happen */
	e->regs.efer |= EFER_LMA | EFER_LME;
	assert_int_equal(paging_check_regs(&e->regs), -EINVAL);
	e->regs.cr4 |= CR4_PAE;
	/* CR3 bits 63:MAXPHYADDR (Table 4-12) */
	e->regs.cr3 |= 1ULL << 40;
	assert_int_equal(paging_check_regs(&e->regs), -EINVAL);
	e->regs.cr3 = PML4_GPA | PTE_PWT | PTE_PCD; /* flags in CR3 are not address bits */
	map_4k(e, TEST_LA, URW, URW, URW, URW, DATA_GPA);
	expect_ok(e, RD, DATA_GPA | 0x123);
}

/* SDM Vol. 1 3.3.7.1: canonical = bits 63:47 equal. */
static void test_canonical(void **state)
{
	(void)state;
	assert_true(paging_canonical(0));
	assert_true(paging_canonical(0x00007fffffffffffULL));
	assert_false(paging_canonical(0x0000800000000000ULL));
	assert_false(paging_canonical(0xffff7fffffffffffULL));
	assert_true(paging_canonical(0xffff800000000000ULL));
	assert_true(paging_canonical(~0ULL));
	assert_false(paging_canonical(0x8000000000000000ULL));
}

/* Higher-half addresses index the PML4 with LA[47:39]; bits 63:48 play no part. */
static void test_high_half(void **state)
{
	struct mmu_env *e = *state;
	struct paging_walk w;
	uint64_t la = 0xffffffff81234567ULL; /* a Linux kernel text address */

	map_2m(e, la, PTE_P | PTE_RW, PTE_P | PTE_RW, PTE_P | PTE_G, 0x1000000ULL);
	assert_int_equal(walk(e, la, FE, &w), 0);
	assert_int_equal(w.gpa, 0x1000000ULL + (la & 0x1fffff));
	assert_int_equal(entry(e, PML4_GPA, la, 4) - pte_at(e, PML4_GPA), 511);
	assert_int_equal(entry(e, PDPT_GPA, la, 3) - pte_at(e, PDPT_GPA), 510);
	expect_pf(e, RD | US, MMU_PFEC_U); /* TEST_LA is unmapped: not present */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_4k_translation, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_not_present_each_level, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_write_protect, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_user_supervisor, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_nx, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_rights_combine, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_reserved_bits, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_fault_priority, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_2m_page, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_1g_page, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_accessed_dirty, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_ad_race_restarts, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_global, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_unbacked_table, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_modes, env_setup, env_teardown),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test_setup_teardown(test_high_half, env_setup, env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
