/* SPDX-License-Identifier: MIT */
/*
 * Software TLB of one vCPU: direct-mapped, one array per privilege, three tags per entry
 * (read/write/code) and a host addend, as QEMU's softmmu. Large pages are cached as 4 KiB
 * pieces; INVLPG finds the pieces through the covering range of large pages (has_large,
 * large_addr/large_mask). See include/omnivisor/mmu.h and docs/mmu.md.
 */
#include <errno.h>

#include "omnivisor/mmu.h"

static void entry_clear(struct tlb *tlb, unsigned idx, unsigned i)
{
	struct tlb_entry *e = &tlb->e[idx][i];
	struct tlb_info *in = &tlb->info[idx][i];

	e->tag_read = e->tag_write = e->tag_code = TLB_INVALID;
	e->addend = 0;
	if (in->vpage != TLB_INVALID && in->global)
		tlb->nr_global--;
	in->vpage = TLB_INVALID;
	in->gpa = TLB_INVALID;
	in->page_shift = 12;
	in->global = false;
}

static void flush_all(struct tlb *tlb)
{
	static const struct tlb_entry empty = {TLB_INVALID, TLB_INVALID, TLB_INVALID, 0};
	static const struct tlb_info empty_info = {TLB_INVALID, TLB_INVALID, 12, false};

	for (unsigned idx = 0; idx < MMU_NR_IDX; idx++) {
		for (unsigned i = 0; i < TLB_SIZE; i++) {
			tlb->e[idx][i] = empty;
			tlb->info[idx][i] = empty_info;
		}
	}
	tlb->nr_global = 0;
	tlb->has_large = false;
	tlb->large_addr = tlb->large_mask = 0;
}

void tlb_init(struct tlb *tlb)
{
	flush_all(tlb);
	tlb->nr_fill = tlb->nr_flush_all = tlb->nr_flush_page = 0;
}

void tlb_flush_all(struct tlb *tlb)
{
	flush_all(tlb);
	tlb->nr_flush_all++;
}

/* Widen the covering range of large pages to include the one of @gva (QEMU tlb_add_large_page). */
static void large_add(struct tlb *tlb, uint64_t gva, unsigned shift)
{
	uint64_t mask = ~((1ULL << shift) - 1);

	if (!tlb->has_large) {
		tlb->has_large = true;
		tlb->large_addr = gva & mask;
		tlb->large_mask = mask;
		return;
	}
	mask &= tlb->large_mask;
	while ((tlb->large_addr ^ gva) & mask)
		mask <<= 1;
	tlb->large_mask = mask;
	tlb->large_addr &= mask;
}

void tlb_flush_nonglobal(struct tlb *tlb)
{
	if (!tlb->nr_global) {
		flush_all(tlb);
		return;
	}
	bool had_large = tlb->has_large;
	tlb->has_large = false;
	for (unsigned idx = 0; idx < MMU_NR_IDX; idx++) {
		for (unsigned i = 0; i < TLB_SIZE; i++) {
			struct tlb_info *in = &tlb->info[idx][i];
			if (in->vpage == TLB_INVALID)
				continue;
			if (!in->global)
				entry_clear(tlb, idx, i);
			else if (had_large && in->page_shift > 12)
				large_add(tlb, in->vpage, in->page_shift);
		}
	}
}

void tlb_flush_page(struct tlb *tlb, uint64_t gva)
{
	uint64_t vpage = gva & TLB_PAGE_MASK;
	unsigned i = tlb_index(gva);

	tlb->nr_flush_page++;
	for (unsigned idx = 0; idx < MMU_NR_IDX; idx++)
		if (tlb->info[idx][i].vpage == vpage)
			entry_clear(tlb, idx, i);
	if (!tlb->has_large || (gva & tlb->large_mask) != tlb->large_addr)
		return;
	/* SDM Vol. 3A 4.10.2.3: the 4 KiB pieces of a large page are one translation for INVLPG */
	for (unsigned idx = 0; idx < MMU_NR_IDX; idx++) {
		for (i = 0; i < TLB_SIZE; i++) {
			const struct tlb_info *in = &tlb->info[idx][i];
			if (in->vpage != TLB_INVALID && in->page_shift > 12 &&
			    !((in->vpage ^ gva) >> in->page_shift))
				entry_clear(tlb, idx, i);
		}
	}
}

void tlb_drop_write_phys(struct tlb *tlb, uint64_t gpa)
{
	uint64_t page = gpa & TLB_PAGE_MASK;

	for (unsigned idx = 0; idx < MMU_NR_IDX; idx++)
		for (unsigned i = 0; i < TLB_SIZE; i++)
			if (tlb->info[idx][i].gpa == page)
				tlb->e[idx][i].tag_write = TLB_INVALID;
}

void tlb_fill(struct tlb *tlb, unsigned idx, uint64_t gva, const struct paging_walk *w,
	      void *page_hva, unsigned flags)
{
	uint64_t vpage = gva & TLB_PAGE_MASK;
	unsigned i = tlb_index(gva);
	struct tlb_entry *e = &tlb->e[idx][i];
	struct tlb_info *in = &tlb->info[idx][i];
	uint8_t rights = w->allowed[idx];
	uint64_t tag = page_hva ? vpage : vpage | TLB_MMIO;

	entry_clear(tlb, idx, i);
	e->tag_read = (rights & MMU_PROT_R) ? tag : TLB_INVALID;
	e->tag_code = (rights & MMU_PROT_X) ? tag : TLB_INVALID;
	/* SDM Vol. 3A 4.8: a write must set D, so a write right is cached only once D is 1 */
	e->tag_write = (rights & MMU_PROT_W) && w->dirty && !(flags & TLB_FILL_NOWRITE)
			       ? tag
			       : TLB_INVALID;
	e->addend = page_hva ? (uintptr_t)page_hva - (uintptr_t)vpage : 0;
	in->vpage = vpage;
	in->gpa = w->gpa & TLB_PAGE_MASK;
	in->page_shift = w->page_shift;
	in->global = w->global;
	if (w->global)
		tlb->nr_global++;
	if (w->page_shift > 12)
		large_add(tlb, vpage, w->page_shift);
	tlb->nr_fill++;
}

int tlb_translate(struct tlb *tlb, const struct mmu_regs *regs, const struct mmu_phys *phys,
		  uint64_t gva, unsigned access, struct tlb_xlat *x)
{
	unsigned idx = mmu_idx(access);
	uint64_t vpage = gva & TLB_PAGE_MASK;
	uint64_t off = gva & ~TLB_PAGE_MASK;
	unsigned i = tlb_index(gva);
	const struct tlb_entry *e = &tlb->e[idx][i];
	uint64_t tag = (access & MMU_ACC_FETCH)	  ? e->tag_code
		       : (access & MMU_ACC_WRITE) ? e->tag_write
						  : e->tag_read;

	x->pfec = 0;
	x->watched = false;
	if (tag != TLB_INVALID && (tag & TLB_PAGE_MASK) == vpage) {
		/* cached, right included: RAM (a crossing access came here) or MMIO */
		x->gpa = tlb->info[idx][i].gpa | off;
		x->hva = (tag & TLB_MMIO) ? NULL : (void *)(uintptr_t)(gva + e->addend);
		return 0;
	}

	struct paging_walk w;
	int err = paging_walk(regs, phys, gva, access, &w);
	if (err) {
		x->pfec = w.pfec;
		return err;
	}
	uint64_t gpa_page = w.gpa & TLB_PAGE_MASK;
	uint8_t *page_hva = phys->ops->ram_ptr(phys->opaque, gpa_page, 4096);
	bool watched = page_hva && phys->ops->write_watched &&
		       phys->ops->write_watched(phys->opaque, gpa_page);

	tlb_fill(tlb, idx, gva, &w, page_hva, watched ? TLB_FILL_NOWRITE : 0);
	x->gpa = w.gpa;
	x->hva = page_hva ? page_hva + off : NULL;
	x->watched = watched && (access & (MMU_ACC_WRITE | MMU_ACC_FETCH)) == MMU_ACC_WRITE;
	return 0;
}
