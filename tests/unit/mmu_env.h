/* SPDX-License-Identifier: MIT */
/*
 * Shared fixture of test_paging.c and test_tlb.c: a host buffer acting as guest-physical memory
 * (GPA g = ram + g for g < MMU_ENV_RAM), page tables built in it, and paging registers for
 * IA-32e paging with CR0.WP, CR4.PGE, EFER.NXE set and MAXPHYADDR 40.
 */
#ifndef MMU_ENV_H
#define MMU_ENV_H

#include <stdlib.h>
#include <string.h>

#include "omnivisor/mmu.h"

#define MMU_ENV_RAM (4u << 20)

/* Fixed table pages: one chain PML4 -> PDPT -> PD -> PT. */
#define PML4_GPA 0x1000ULL
#define PDPT_GPA 0x2000ULL
#define PD_GPA 0x3000ULL
#define PT_GPA 0x4000ULL
#define DATA_GPA 0x10000ULL

/* A linear address whose indexes are 1 / 2 / 3 / 4 at levels 4 / 3 / 2 / 1, offset 0x123. */
#define TEST_LA ((1ULL << 39) | (2ULL << 30) | (3ULL << 21) | (4ULL << 12) | 0x123)

struct mmu_env {
	uint8_t *ram;
	struct mmu_regs regs;
	struct mmu_phys phys;
	unsigned nr_ram_ptr;       /* calls of ram_ptr */
	unsigned mutate_at;        /* if nonzero: on that ram_ptr call, OR mutate_bits into ... */
	uint64_t mutate_gpa;       /* ... the entry at this GPA (simulates another vCPU) */
	uint64_t mutate_bits;
	uint64_t watched_gpa;      /* write_watched page, or ~0 */
};

static void *env_ram_ptr(void *opaque, uint64_t gpa, size_t len)
{
	struct mmu_env *e = opaque;

	e->nr_ram_ptr++;
	if (e->mutate_at && e->nr_ram_ptr == e->mutate_at)
		*(uint64_t *)(e->ram + e->mutate_gpa) |= e->mutate_bits;
	if (gpa >= MMU_ENV_RAM || len > MMU_ENV_RAM - gpa)
		return NULL;
	return e->ram + gpa;
}

static bool env_write_watched(void *opaque, uint64_t gpa)
{
	struct mmu_env *e = opaque;
	return gpa == e->watched_gpa;
}

static const struct mmu_phys_ops env_phys_ops = {
	.ram_ptr = env_ram_ptr,
	.write_watched = env_write_watched,
};

static inline uint64_t *pte_at(struct mmu_env *e, uint64_t gpa)
{
	return (uint64_t *)(e->ram + gpa);
}

static inline uint64_t *entry(struct mmu_env *e, uint64_t table, uint64_t la, unsigned level)
{
	return pte_at(e, table + ((la >> (12 + 9 * (level - 1))) & 511) * 8);
}

/* Build the chain for @la with the given low flag bits per level; the leaf maps @gpa. */
static inline void map_4k(struct mmu_env *e, uint64_t la, uint64_t f4, uint64_t f3, uint64_t f2,
			  uint64_t f1, uint64_t gpa)
{
	*entry(e, PML4_GPA, la, 4) = PDPT_GPA | f4;
	*entry(e, PDPT_GPA, la, 3) = PD_GPA | f3;
	*entry(e, PD_GPA, la, 2) = PT_GPA | f2;
	*entry(e, PT_GPA, la, 1) = gpa | f1;
}

/* 2 MiB page: PDE with PS maps @gpa (2 MiB aligned). */
static inline void map_2m(struct mmu_env *e, uint64_t la, uint64_t f4, uint64_t f3, uint64_t f2,
			  uint64_t gpa)
{
	*entry(e, PML4_GPA, la, 4) = PDPT_GPA | f4;
	*entry(e, PDPT_GPA, la, 3) = PD_GPA | f3;
	*entry(e, PD_GPA, la, 2) = gpa | f2 | PTE_PS;
}

/* 1 GiB page: PDPTE with PS maps @gpa (1 GiB aligned). */
static inline void map_1g(struct mmu_env *e, uint64_t la, uint64_t f4, uint64_t f3, uint64_t gpa)
{
	*entry(e, PML4_GPA, la, 4) = PDPT_GPA | f4;
	*entry(e, PDPT_GPA, la, 3) = gpa | f3 | PTE_PS;
}

#define URW (PTE_P | PTE_RW | PTE_US)

static inline int env_setup(void **state)
{
	struct mmu_env *e = calloc(1, sizeof(*e));
	if (!e)
		return -1;
	e->ram = aligned_alloc(4096, MMU_ENV_RAM);
	if (!e->ram) {
		free(e);
		return -1;
	}
	memset(e->ram, 0, MMU_ENV_RAM);
	e->regs.cr0 = 1 | CR0_WP | CR0_PG;
	e->regs.cr3 = PML4_GPA;
	e->regs.cr4 = CR4_PAE | CR4_PGE;
	e->regs.efer = EFER_LME | EFER_LMA | EFER_NXE;
	e->regs.maxphyaddr = 40;
	e->regs.page1gb = true;
	e->phys.ops = &env_phys_ops;
	e->phys.opaque = e;
	e->watched_gpa = ~0ULL;
	*state = e;
	return 0;
}

static inline int env_teardown(void **state)
{
	struct mmu_env *e = *state;
	free(e->ram);
	free(e);
	return 0;
}

#endif
