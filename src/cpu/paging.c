/* SPDX-License-Identifier: MIT */
/*
 * x86-64 page walker: IA-32e 4-level paging, Intel SDM Vol. 3A 4.5 (AMD APM Vol. 2 5.3),
 * access rights 4.6, page-fault error codes 4.7, accessed and dirty flags 4.8.
 * See include/omnivisor/mmu.h for the interface and docs/mmu.md for the design.
 */
#include <errno.h>
#include <string.h>

#include "omnivisor/mmu.h"
#include "omnivisor/vcpu.h"

_Static_assert(MMU_PFEC_P == PFEC_P && MMU_PFEC_W == PFEC_W && MMU_PFEC_U == PFEC_U &&
		       MMU_PFEC_I == PFEC_I,
	       "mmu.h and vcpu.h disagree on #PF error code bits");

#define CR4_UNSUPPORTED (CR4_LA57 | CR4_PCIDE | CR4_SMEP | CR4_SMAP | CR4_PKE | CR4_PKS)

int paging_check_regs(const struct mmu_regs *regs)
{
	if (!(regs->cr0 & CR0_PG))
		return 0;
	if (regs->cr4 & CR4_UNSUPPORTED)
		return -ENOTSUP;
	if (!(regs->efer & EFER_LMA))
		return -ENOTSUP; /* 32-bit paging or PAE paging */
	if (!(regs->cr4 & CR4_PAE))
		return -EINVAL; /* SDM Vol. 3A 9.8.5: long mode requires CR4.PAE (MOV CR0 #GPs) */
	if (regs->maxphyaddr < 32 || regs->maxphyaddr > 52)
		return -EINVAL;
	/* SDM Vol. 3A 4.5.2 Table 4-12: CR3 bits 63:MAXPHYADDR are reserved (MOV CR3 #GPs) */
	if (regs->maxphyaddr < 64 && (regs->cr3 >> regs->maxphyaddr))
		return -EINVAL;
	return 0;
}

/* Bits 51:MAXPHYADDR: reserved in every paging-structure entry (SDM Vol. 3A 4.5.5). */
static uint64_t phys_rsvd(unsigned maxphyaddr)
{
	return PTE_ADDR_MASK & ~((1ULL << maxphyaddr) - 1);
}

static void fault(struct paging_walk *w, unsigned access, const struct mmu_regs *regs,
		  uint32_t why, unsigned level)
{
	uint32_t pfec = why | (access & (MMU_PFEC_W | MMU_PFEC_U));

	/* SDM Vol. 3A 4.7: I/D is reported for fetches only when NXE=1 (or SMEP, not implemented);
	 * a fetch is never a write. */
	if (access & MMU_ACC_FETCH) {
		pfec &= ~MMU_PFEC_W;
		if (regs->efer & EFER_NXE)
			pfec |= MMU_PFEC_I;
	}
	w->pfec = pfec;
	w->level = (uint8_t)level;
}

/* Rights of each privilege, SDM Vol. 3A 4.6.1 (SMAP and SMEP off, no protection keys). */
static void compute_rights(struct paging_walk *w, const struct mmu_regs *regs, uint64_t and_bits,
			   bool xd)
{
	bool wr = and_bits & PTE_RW;
	bool user = and_bits & PTE_US;
	bool exec = !(xd && (regs->efer & EFER_NXE));
	uint8_t super = MMU_PROT_R;

	/* supervisor writes: any page if CR0.WP=0, else only R/W=1 at every level */
	if (wr || !(regs->cr0 & CR0_WP))
		super |= MMU_PROT_W;
	if (exec)
		super |= MMU_PROT_X;
	w->allowed[MMU_IDX_SUPER] = super;
	w->allowed[MMU_IDX_USER] = user ? (uint8_t)(MMU_PROT_R | (wr ? MMU_PROT_W : 0) |
						     (exec ? MMU_PROT_X : 0))
					: 0;
	w->prot = (uint8_t)(MMU_PROT_R | (wr ? MMU_PROT_W : 0) | (exec ? MMU_PROT_X : 0) |
			    (user ? MMU_PROT_U : 0));
}

int paging_walk(const struct mmu_regs *regs, const struct mmu_phys *phys, uint64_t gva,
		unsigned access, struct paging_walk *w)
{
	memset(w, 0, sizeof(*w));
	if (!(regs->cr0 & CR0_PG)) {
		/* SDM Vol. 3A 4.1.1: without paging, linear addresses are physical */
		w->gpa = gva;
		w->page_shift = 12;
		w->prot = MMU_PROT_R | MMU_PROT_W | MMU_PROT_X | MMU_PROT_U;
		w->allowed[MMU_IDX_SUPER] = w->allowed[MMU_IDX_USER] =
			MMU_PROT_R | MMU_PROT_W | MMU_PROT_X;
		w->dirty = true;
		return 0;
	}
	int err = paging_check_regs(regs);
	if (err)
		return err;

	/* reserved in every entry: address bits at or above MAXPHYADDR; XD without EFER.NXE */
	uint64_t rsvd_all = phys_rsvd(regs->maxphyaddr);
	if (!(regs->efer & EFER_NXE))
		rsvd_all |= PTE_XD;

	uint64_t *ptr[4];
	uint64_t ent[4];
	unsigned n;
restart:
	n = 0;
	uint64_t table = regs->cr3 & PTE_ADDR_MASK;
	uint64_t and_bits = PTE_RW | PTE_US;
	bool xd = false;
	unsigned level;
	for (level = 4;; level--) {
		unsigned shift = 12 + 9 * (level - 1);
		uint64_t gpa = table + ((gva >> shift) & 511) * 8;
		uint64_t *p = phys->ops->ram_ptr(phys->opaque, gpa, 8);
		uint64_t e = p ? __atomic_load_n(p, __ATOMIC_ACQUIRE) : ~0ULL;

		ptr[n] = p;
		ent[n] = e;
		n++;
		if (!(e & PTE_P)) {
			fault(w, access, regs, 0, level);
			return -EFAULT;
		}
		uint64_t rsvd = rsvd_all;
		bool leaf = level == 1;
		if (level == 4) {
			rsvd |= PTE_PS; /* Table 4-15: PML4E bit 7 is reserved */
		} else if (level == 3 && (e & PTE_PS)) {
			/* Table 4-16: 1 GiB page, bits 29:13 reserved; PS itself if no 1 GiB pages */
			rsvd |= regs->page1gb ? 0x3fffe000ULL : PTE_PS;
			leaf = true;
		} else if (level == 2 && (e & PTE_PS)) {
			rsvd |= 0x1fe000ULL; /* Table 4-18: 2 MiB page, bits 20:13 reserved */
			leaf = true;
		}
		if (e & rsvd) {
			fault(w, access, regs, MMU_PFEC_P | MMU_PFEC_RSVD, level);
			return -EFAULT;
		}
		/* SDM Vol. 3A 4.6.1: R/W and U/S are ANDed over the levels, XD is ORed */
		and_bits &= e;
		xd |= (e & PTE_XD) != 0;
		if (leaf)
			break;
		table = e & PTE_ADDR_MASK;
	}

	compute_rights(w, regs, and_bits, xd);
	unsigned need = (access & MMU_ACC_FETCH)   ? MMU_PROT_X
			: (access & MMU_ACC_WRITE) ? MMU_PROT_W
						   : MMU_PROT_R;
	if (!(w->allowed[mmu_idx(access)] & need)) {
		fault(w, access, regs, MMU_PFEC_P, level);
		return -EFAULT;
	}

	/*
	 * SDM Vol. 3A 4.8: set A in every entry used and D in the leaf for a write, with locked
	 * updates. If an entry changed since we read it, another agent updated the tables:
	 * translate again from the start (a fault is possible then, as on hardware).
	 */
	bool write = (access & (MMU_ACC_WRITE | MMU_ACC_FETCH)) == MMU_ACC_WRITE;
	for (unsigned i = 0; i < n; i++) {
		uint64_t want = ent[i] | PTE_A;
		if (i == n - 1 && write)
			want |= PTE_D;
		if (want == ent[i] || !ptr[i])
			continue;
		uint64_t old = ent[i];
		if (!__atomic_compare_exchange_n(ptr[i], &old, want, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			goto restart;
		ent[i] = want;
	}

	uint64_t leaf = ent[n - 1];
	unsigned shift = 12 + 9 * (level - 1);
	uint64_t off_mask = (1ULL << shift) - 1;
	w->gpa = (leaf & PTE_ADDR_MASK & ~off_mask) | (gva & off_mask);
	w->page_shift = (uint8_t)shift;
	w->level = (uint8_t)level;
	w->global = (leaf & PTE_G) && (regs->cr4 & CR4_PGE);
	w->dirty = (leaf & PTE_D) != 0;
	return 0;
}
