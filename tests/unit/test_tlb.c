/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the software TLB (src/cpu/tlb.c) on top of the page walker: fills through
 * tlb_translate over page tables in a host buffer (mmu_env.h), then the fast-path lookups,
 * the flushes (CR3 write, INVLPG, SDM Vol. 3A 4.10.4.1) and physical write-right dropping.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mmu_env.h"

#define S MMU_IDX_SUPER
#define U MMU_IDX_USER

struct tenv {
	struct mmu_env m;
	struct tlb tlb;
};

static int setup(void **state)
{
	void *m;
	if (env_setup(&m))
		return -1;
	struct tenv *t = calloc(1, sizeof(*t));
	if (!t) {
		env_teardown(&m);
		return -1;
	}
	t->m = *(struct mmu_env *)m;
	t->m.phys.opaque = &t->m;
	free(m);
	tlb_init(&t->tlb);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tenv *t = *state;
	free(t->m.ram);
	free(t);
	return 0;
}

static int xlat(struct tenv *t, uint64_t gva, unsigned access, struct tlb_xlat *x)
{
	return tlb_translate(&t->tlb, &t->m.regs, &t->m.phys, gva, access, x);
}

/* Miss, then walk + fill, then a fast-path hit giving the same host pointer. */
static void test_hit_after_fill(void **state)
{
	struct tenv *t = *state;
	struct tlb_xlat x;

	map_4k(&t->m, TEST_LA, URW, URW, URW, URW, DATA_GPA);
	assert_null(tlb_read(&t->tlb, S, TEST_LA, 8));
	assert_int_equal(xlat(t, TEST_LA, 0, &x), 0);
	assert_ptr_equal(x.hva, t->m.ram + DATA_GPA + 0x123);
	assert_int_equal(x.gpa, DATA_GPA + 0x123);
	assert_false(x.watched);
	assert_ptr_equal(tlb_read(&t->tlb, S, TEST_LA, 8), t->m.ram + DATA_GPA + 0x123);
	assert_ptr_equal(tlb_code(&t->tlb, S, TEST_LA + 0x10, 1), t->m.ram + DATA_GPA + 0x133);
	/* last bytes of the page hit; an access crossing into the next page does not */
	assert_ptr_equal(tlb_read(&t->tlb, S, (TEST_LA & ~0xfffULL) + 0xff8, 8),
			 t->m.ram + DATA_GPA + 0xff8);
	assert_null(tlb_read(&t->tlb, S, (TEST_LA & ~0xfffULL) + 0xffc, 8));
	/* the read walk left D = 0: no write right cached (SDM 4.8) */
	assert_null(tlb_write(&t->tlb, S, TEST_LA, 8));
	/* the user array is separate */
	assert_null(tlb_read(&t->tlb, U, TEST_LA, 8));
	assert_int_equal(t->tlb.nr_fill, 1);
	/* a second translate of a cached right does not walk */
	t->m.nr_ram_ptr = 0;
	assert_int_equal(xlat(t, TEST_LA + 0xed, 0, &x), 0);
	assert_ptr_equal(x.hva, t->m.ram + DATA_GPA + 0x210);
	assert_int_equal(t->m.nr_ram_ptr, 0);
}

/* The write right appears once the walk for a write has set D. */
static void test_write_after_dirty(void **state)
{
	struct tenv *t = *state;
	struct tlb_xlat x;

	map_4k(&t->m, TEST_LA, URW, URW, URW, URW, DATA_GPA);
	assert_int_equal(xlat(t, TEST_LA, 0, &x), 0);
	assert_null(tlb_write(&t->tlb, S, TEST_LA, 4));
	assert_int_equal(xlat(t, TEST_LA, MMU_ACC_WRITE, &x), 0);
	assert_true(*entry(&t->m, PT_GPA, TEST_LA, 1) & PTE_D);
	assert_ptr_equal(tlb_write(&t->tlb, S, TEST_LA, 4), t->m.ram + DATA_GPA + 0x123);
	assert_ptr_equal(tlb_read(&t->tlb, S, TEST_LA, 4), t->m.ram + DATA_GPA + 0x123);
}

/* Read-only page: read tag only; no write tag even once dirty; write translate faults. */
static void test_readonly_no_write_tag(void **state)
{
	struct tenv *t = *state;
	struct tlb_xlat x;

	map_4k(&t->m, TEST_LA, URW, URW, URW, PTE_P | PTE_US | PTE_D | PTE_XD, DATA_GPA);
	assert_int_equal(xlat(t, TEST_LA, MMU_ACC_USER, &x), 0);
	assert_non_null(tlb_read(&t->tlb, U, TEST_LA, 8));
	assert_null(tlb_write(&t->tlb, U, TEST_LA, 8));
	assert_null(tlb_code(&t->tlb, U, TEST_LA, 8)); /* XD with NXE */
	assert_int_equal(xlat(t, TEST_LA, MMU_ACC_WRITE | MMU_ACC_USER, &x), -EFAULT);
	assert_int_equal(x.pfec, MMU_PFEC_P | MMU_PFEC_W | MMU_PFEC_U);
	/* the fault cached nothing new, the read entry survives */
	assert_non_null(tlb_read(&t->tlb, U, TEST_LA, 8));
	/* CR0.WP = 0 (after the flush the caller owes): supervisor gets the write right, user not */
	t->m.regs.cr0 &= ~CR0_WP;
	tlb_flush_all(&t->tlb);
	assert_int_equal(xlat(t, TEST_LA, 0, &x), 0);
	assert_non_null(tlb_write(&t->tlb, S, TEST_LA, 8));
	assert_int_equal(xlat(t, TEST_LA, MMU_ACC_USER, &x), 0);
	assert_null(tlb_write(&t->tlb, U, TEST_LA, 8));
}

/* A fault fills nothing. */
static void test_fault_no_fill(void **state)
{
	struct tenv *t = *state;
	struct tlb_xlat x;

	map_4k(&t->m, TEST_LA, URW, URW, PTE_P | PTE_RW, URW, DATA_GPA);
	assert_int_equal(xlat(t, TEST_LA, MMU_ACC_USER, &x), -EFAULT);
	assert_int_equal(x.pfec, MMU_PFEC_P | MMU_PFEC_U);
	assert_int_equal(t->tlb.nr_fill, 0);
	assert_null(tlb_read(&t->tlb, U, TEST_LA, 1));
	assert_null(tlb_read(&t->tlb, S, TEST_LA, 1));
}

/* MOV CR3 (no PCID) drops non-global entries only (SDM 4.10.4.1); tlb_flush_all drops all. */
static void test_flush_nonglobal(void **state)
{
	struct tenv *t = *state;
	struct tlb_xlat x;
	uint64_t la2 = TEST_LA + 0x1000;

	map_4k(&t->m, TEST_LA, URW, URW, URW, URW | PTE_G, DATA_GPA);
	map_4k(&t->m, la2, URW, URW, URW, URW, DATA_GPA + 0x1000);
	assert_int_equal(xlat(t, TEST_LA, 0, &x), 0);
	assert_int_equal(xlat(t, la2, 0, &x), 0);
	assert_int_equal(t->tlb.nr_global, 1);
	tlb_flush_nonglobal(&t->tlb);
	assert_non_null(tlb_read(&t->tlb, S, TEST_LA, 8));
	assert_null(tlb_read(&t->tlb, S, la2, 8));
	assert_int_equal(t->tlb.nr_global, 1);
	/* INVLPG drops a global entry too */
	tlb_flush_page(&t->tlb, TEST_LA);
	assert_null(tlb_read(&t->tlb, S, TEST_LA, 8));
	assert_int_equal(t->tlb.nr_global, 0);
	assert_int_equal(xlat(t, TEST_LA, 0, &x), 0);
	tlb_flush_all(&t->tlb);
	assert_null(tlb_read(&t->tlb, S, TEST_LA, 8));
	assert_int_equal(t->tlb.nr_global, 0);
	/* without CR4.PGE nothing is global */
	t->m.regs.cr4 &= ~CR4_PGE;
	assert_int_equal(xlat(t, TEST_LA, 0, &x), 0);
	tlb_flush_nonglobal(&t->tlb);
	assert_null(tlb_read(&t->tlb, S, TEST_LA, 8));
}

/* INVLPG anywhere in a 2 MiB page drops every 4 KiB piece cached from it (SDM 4.10.2.3,
 * 4.10.4.1), and nothing else. */
static void test_invlpg_large(void **state)
{
	struct tenv *t = *state;
	struct tlb_xlat x;
	uint64_t base = TEST_LA & ~0x1fffffULL;
	uint64_t other = base + 0x264000; /* next 2 MiB, 4 KiB page through PT_GPA, TLB index 100 */

	map_2m(&t->m, base, URW, URW, URW | PTE_G, 0x200000);
	*entry(&t->m, PD_GPA, other, 2) = PT_GPA | URW;
	*entry(&t->m, PT_GPA, other, 1) = DATA_GPA | URW;
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(xlat(t, base + i * 0x5000, 0, &x), 0);
		assert_int_equal(x.gpa, 0x200000 + i * 0x5000);
		assert_int_equal(xlat(t, base + i * 0x5000, MMU_ACC_USER, &x), 0);
	}
	assert_int_equal(xlat(t, other, 0, &x), 0);
	assert_ptr_equal(x.hva, t->m.ram + DATA_GPA);
	assert_int_equal(t->tlb.nr_global, 10);
	/* INVLPG at an address of the 2 MiB page that was never cached */
	tlb_flush_page(&t->tlb, base + 0x1ff000);
	for (unsigned i = 0; i < 5; i++) {
		assert_null(tlb_read(&t->tlb, S, base + i * 0x5000, 1));
		assert_null(tlb_read(&t->tlb, U, base + i * 0x5000, 1));
	}
	assert_int_equal(t->tlb.nr_global, 0);
	assert_ptr_equal(tlb_read(&t->tlb, S, other, 1), t->m.ram + DATA_GPA);
	/* a 4 KiB INVLPG elsewhere keeps the other entries */
	assert_int_equal(xlat(t, base, 0, &x), 0);
	tlb_flush_page(&t->tlb, other);
	assert_null(tlb_read(&t->tlb, S, other, 1));
	assert_non_null(tlb_read(&t->tlb, S, base, 1));
	/* global large entries survive a CR3 write and are still found by INVLPG */
	tlb_flush_nonglobal(&t->tlb);
	assert_non_null(tlb_read(&t->tlb, S, base, 1));
	tlb_flush_page(&t->tlb, base + 0x100000);
	assert_null(tlb_read(&t->tlb, S, base, 1));
}

/* Large pages far apart: the covering range widens, INVLPG is exact for each. */
static void test_invlpg_two_large(void **state)
{
	struct tenv *t = *state;
	struct tlb_xlat x;
	uint64_t a = (1ULL << 39) | (3ULL << 21);  /* PML4 1, PDPT 0, PD 3 */
	uint64_t b = 0xffffffff80000000ULL;        /* PML4 511, PDPT 510, PD 0 */

	map_2m(&t->m, a, URW, URW, URW, 0x200000);
	*entry(&t->m, PML4_GPA, b, 4) = 0x5000 | URW;
	*(uint64_t *)(t->m.ram + 0x5000 + 510 * 8) = 0x6000 | URW;
	*(uint64_t *)(t->m.ram + 0x6000) = 0x200000 | URW | PTE_PS; /* alias of a */
	assert_int_equal(xlat(t, a + 0x3000, 0, &x), 0);
	assert_int_equal(xlat(t, b + 0x7000, 0, &x), 0);
	assert_int_equal(x.gpa, 0x207000);
	assert_non_null(tlb_read(&t->tlb, S, b + 0x7000, 1));
	tlb_flush_page(&t->tlb, b);
	assert_null(tlb_read(&t->tlb, S, b + 0x7000, 1));
	assert_non_null(tlb_read(&t->tlb, S, a + 0x3000, 1));
	tlb_flush_page(&t->tlb, a + 0x1fffff);
	assert_null(tlb_read(&t->tlb, S, a + 0x3000, 1));
}

/* tlb_drop_write_phys: every virtual alias of the physical page loses its write tag only. */
static void test_drop_write_phys(void **state)
{
	struct tenv *t = *state;
	struct tlb_xlat x;
	uint64_t alias = TEST_LA + 0x3000;

	map_4k(&t->m, TEST_LA, URW, URW, URW, URW | PTE_D, DATA_GPA);
	*entry(&t->m, PT_GPA, alias, 1) = DATA_GPA | URW | PTE_D;
	*entry(&t->m, PT_GPA, TEST_LA + 0x1000, 1) = (DATA_GPA + 0x1000) | URW | PTE_D;
	assert_int_equal(xlat(t, TEST_LA, MMU_ACC_USER, &x), 0);
	assert_int_equal(xlat(t, alias, 0, &x), 0);
	assert_int_equal(xlat(t, TEST_LA + 0x1000, 0, &x), 0);
	assert_non_null(tlb_write(&t->tlb, U, TEST_LA, 1));
	assert_non_null(tlb_write(&t->tlb, S, alias, 1));
	tlb_drop_write_phys(&t->tlb, DATA_GPA + 0x456);
	assert_null(tlb_write(&t->tlb, U, TEST_LA, 1));
	assert_null(tlb_write(&t->tlb, S, alias, 1));
	assert_non_null(tlb_read(&t->tlb, U, TEST_LA, 1));
	assert_non_null(tlb_code(&t->tlb, S, alias, 1));
	assert_non_null(tlb_write(&t->tlb, S, TEST_LA + 0x1000, 1));
}

/* Write-watched page: no write tag is cached, and a write reports the watch. */
static void test_watched_page(void **state)
{
	struct tenv *t = *state;
	struct tlb_xlat x;

	map_4k(&t->m, TEST_LA, URW, URW, URW, URW | PTE_D, DATA_GPA);
	t->m.watched_gpa = DATA_GPA;
	assert_int_equal(xlat(t, TEST_LA, 0, &x), 0);
	assert_false(x.watched);
	assert_null(tlb_write(&t->tlb, S, TEST_LA, 1));
	assert_int_equal(xlat(t, TEST_LA, MMU_ACC_WRITE, &x), 0);
	assert_true(x.watched);
	assert_ptr_equal(x.hva, t->m.ram + DATA_GPA + 0x123);
	assert_null(tlb_write(&t->tlb, S, TEST_LA, 1));
	/* the watch is gone (code invalidated): the next write caches the right */
	t->m.watched_gpa = ~0ULL;
	assert_int_equal(xlat(t, TEST_LA, MMU_ACC_WRITE, &x), 0);
	assert_false(x.watched);
	assert_non_null(tlb_write(&t->tlb, S, TEST_LA, 1));
}

/* A page that is not RAM: cached with TLB_MMIO, fast path misses, slow path gives the GPA. */
static void test_mmio(void **state)
{
	struct tenv *t = *state;
	struct tlb_xlat x;

	map_4k(&t->m, TEST_LA, URW, URW, URW, URW | PTE_PCD, 0xfee00000ULL);
	assert_int_equal(xlat(t, TEST_LA, MMU_ACC_WRITE, &x), 0);
	assert_null(x.hva);
	assert_int_equal(x.gpa, 0xfee00123ULL);
	assert_null(tlb_read(&t->tlb, S, TEST_LA, 4));
	assert_null(tlb_write(&t->tlb, S, TEST_LA, 4));
	t->m.nr_ram_ptr = 0;
	assert_int_equal(xlat(t, TEST_LA + 0x1d, 0, &x), 0);
	assert_null(x.hva);
	assert_int_equal(x.gpa, 0xfee00140ULL);
	assert_int_equal(t->m.nr_ram_ptr, 0); /* no walk */
	tlb_drop_write_phys(&t->tlb, 0xfee00000ULL);
	t->m.nr_ram_ptr = 0;
	assert_int_equal(xlat(t, TEST_LA, MMU_ACC_WRITE, &x), 0);
	assert_int_equal(t->m.nr_ram_ptr, 5); /* 4 levels + the page */
}

/* Two pages with the same index evict each other (direct-mapped). */
static void test_conflict(void **state)
{
	struct tenv *t = *state;
	struct tlb_xlat x;
	uint64_t la2 = TEST_LA + 0x200000; /* 512 pages on: same index, next PD entry */

	map_4k(&t->m, TEST_LA, URW, URW, URW, URW, DATA_GPA);
	map_2m(&t->m, la2, URW, URW, URW, 0x200000);
	assert_int_equal(tlb_index(TEST_LA), tlb_index(la2));
	assert_int_equal(xlat(t, TEST_LA, 0, &x), 0);
	assert_int_equal(xlat(t, la2, 0, &x), 0);
	assert_null(tlb_read(&t->tlb, S, TEST_LA, 1));
	assert_ptr_equal(tlb_read(&t->tlb, S, la2, 1),
			 t->m.ram + 0x200000 + (la2 & 0x1fffff));
}

/* Paging off: identity through the same TLB; the top page of the address space is a normal
 * tag (TLB_INVALID never matches). */
static void test_no_paging(void **state)
{
	struct tenv *t = *state;
	struct tlb_xlat x;

	t->m.regs.cr0 &= ~CR0_PG;
	assert_int_equal(xlat(t, 0x3000, MMU_ACC_WRITE, &x), 0);
	assert_ptr_equal(x.hva, t->m.ram + 0x3000);
	assert_ptr_equal(tlb_write(&t->tlb, U, 0x3ff8, 8), NULL); /* filled for supervisor only */
	assert_ptr_equal(tlb_write(&t->tlb, S, 0x3ff8, 8), t->m.ram + 0x3ff8);
	assert_null(tlb_read(&t->tlb, S, 0xfffffffffffff000ULL, 1));
	assert_int_equal(xlat(t, 0xfffffffffffff000ULL, 0, &x), 0);
	assert_null(x.hva);
	assert_int_equal(x.gpa, 0xfffffffffffff000ULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hit_after_fill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_after_dirty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_no_write_tag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_no_fill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_nonglobal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invlpg_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invlpg_two_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_write_phys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watched_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_paging, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
