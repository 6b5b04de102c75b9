/* SPDX-License-Identifier: MIT */
/*
 * Software MMU of the virtual CPU (system mode): the x86-64 page walker (src/cpu/paging.c) and
 * the per-vCPU software TLB (src/cpu/tlb.c). See docs/mmu.md for the design.
 *
 * Paging modes: only IA-32e 4-level paging (Intel SDM Vol. 3A 4.5, AMD APM Vol. 2 5.3) and
 * paging disabled (CR0.PG=0: linear = physical) are implemented. 32-bit paging, PAE paging,
 * 5-level paging (CR4.LA57), PCIDs (CR4.PCIDE), SMEP, SMAP and protection keys (CR4.PKE/PKS)
 * are not: paging_walk() returns -ENOTSUP for them, and paging_check_regs() tells the
 * MOV-to-CR/WRMSR handlers (which should raise #GP, as on a CPU whose CPUID lacks them).
 *
 * Units: addresses are bytes (gva = linear address, gpa = guest-physical, hva = host pointer);
 * pages are 4 KiB unless a page_shift says otherwise.
 */
#ifndef OMNIVISOR_MMU_H
#define OMNIVISOR_MMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Control-register bits the walker reads, Intel SDM Vol. 3A 2.5 and 2.2.1 (EFER). */
#define CR0_WP (1ULL << 16)
#define CR0_PG (1ULL << 31)
#define CR4_PSE (1ULL << 4)
#define CR4_PAE (1ULL << 5)
#define CR4_PGE (1ULL << 7)
#define CR4_LA57 (1ULL << 12)
#define CR4_PCIDE (1ULL << 17)
#define CR4_SMEP (1ULL << 20)
#define CR4_SMAP (1ULL << 21)
#define CR4_PKE (1ULL << 22)
#define CR4_PKS (1ULL << 24)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)

/* Paging-structure entry bits, Intel SDM Vol. 3A 4.5.5 (Tables 4-15 to 4-20). */
#define PTE_P (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_US (1ULL << 2)
#define PTE_PWT (1ULL << 3)
#define PTE_PCD (1ULL << 4)
#define PTE_A (1ULL << 5)
#define PTE_D (1ULL << 6)
#define PTE_PS (1ULL << 7) /* PDPTE/PDE: maps a 1 GiB / 2 MiB page; PML4E: reserved */
#define PTE_G (1ULL << 8)
#define PTE_XD (1ULL << 63)
#define PTE_ADDR_MASK 0x000ffffffffff000ULL /* bits 51:12 */

/*
 * #PF error code bits, Intel SDM Vol. 3A 4.7 (same values as PFEC_* in vcpu.h, plus RSVD).
 * The access flags below use the same bits, so an error code is the access plus P/RSVD.
 */
#define MMU_PFEC_P (1u << 0)    /* 0: not-present; 1: protection or reserved-bit violation */
#define MMU_PFEC_W (1u << 1)    /* write access */
#define MMU_PFEC_U (1u << 2)    /* user-mode access */
#define MMU_PFEC_RSVD (1u << 3) /* a reserved bit was set in some paging-structure entry */
#define MMU_PFEC_I (1u << 4)    /* instruction fetch, reported only when EFER.NXE=1 */

/*
 * Access passed to paging_walk()/tlb_translate(): a read is 0; at most one of WRITE/FETCH.
 * MMU_ACC_USER means a user-mode access: CPL 3 and not an implicit supervisor-mode access
 * (GDT/IDT/LDT/TSS reads and the like are supervisor-mode even at CPL 3; SDM Vol. 3A 4.6).
 */
#define MMU_ACC_WRITE MMU_PFEC_W
#define MMU_ACC_USER MMU_PFEC_U
#define MMU_ACC_FETCH MMU_PFEC_I

/* Access rights of a translation for one privilege (struct paging_walk.allowed[]). */
#define MMU_PROT_R 1u
#define MMU_PROT_W 2u
#define MMU_PROT_X 4u
#define MMU_PROT_U 8u /* paging_walk.prot only: U/S=1 at every level */

/* TLB / rights index: supervisor-mode accesses (CPL 0-2, implicit) and user-mode (CPL 3). */
enum { MMU_IDX_SUPER = 0, MMU_IDX_USER = 1, MMU_NR_IDX = 2 };

static inline unsigned mmu_idx(unsigned access)
{
	return (access & MMU_ACC_USER) ? MMU_IDX_USER : MMU_IDX_SUPER;
}

/* The paging state a translation depends on. maxphyaddr: CPUID.80000008H:EAX[7:0]. */
struct mmu_regs {
	uint64_t cr0, cr3, cr4, efer;
	uint8_t maxphyaddr; /* 36..52 */
	bool page1gb;       /* CPUID.80000001H:EDX.Page1GB[26]: 1 GiB pages; else PDPTE.PS is reserved */
};

/*
 * Guest-physical memory as the MMU sees it. ram_ptr returns a host pointer valid for
 * [gpa, gpa + len) (the range never crosses a 4 KiB page; page tables are accessed 8 bytes at
 * a time at 8-byte aligned GPAs) if that range is guest RAM, or NULL if it is not (MMIO,
 * unbacked). write_watched (optional, NULL = never) says whether writes to the RAM page at
 * @gpa (4 KiB aligned) must take the slow path: it holds decoded code, it is ROM, or dirty
 * logging is on. Both may be called from any vCPU thread concurrently.
 */
struct mmu_phys_ops {
	void *(*ram_ptr)(void *opaque, uint64_t gpa, size_t len);
	bool (*write_watched)(void *opaque, uint64_t gpa);
};

struct mmu_phys {
	const struct mmu_phys_ops *ops;
	void *opaque;
};

/* Result of a page walk. */
struct paging_walk {
	uint64_t gpa;        /* translated address of the linear address (success) */
	uint32_t pfec;       /* #PF error code (when paging_walk returns -EFAULT) */
	uint8_t page_shift;  /* 12, 21 or 30: size of the mapping (4 KiB, 2 MiB, 1 GiB) */
	uint8_t level;       /* level of the leaf (success) or of the faulting entry: 4 = PML4 .. 1 = PT */
	uint8_t prot;        /* the combined entry bits: R always, W = R/W ANDed over all levels,
				X = no XD at any level (or EFER.NXE=0), and MMU_PROT_U if U/S ANDed */
	uint8_t allowed[MMU_NR_IDX]; /* MMU_PROT_* rights per privilege, CR0.WP and EFER.NXE applied */
	bool global;         /* the leaf has G=1 and CR4.PGE=1 */
	bool dirty;          /* the leaf's D bit is 1 (so a cached write right needs no walk) */
};

/*
 * paging_walk - translate the linear address @gva for @access (MMU_ACC_*), setting accessed
 * and dirty bits as the SDM requires (Vol. 3A 4.8), with atomic compare-exchanges on the entries,
 * only when the translation succeeds.
 * Returns 0 (w->gpa, rights, size filled in), -EFAULT for a page fault (w->pfec is the error
 * code, CR2 = @gva), -ENOTSUP for a paging mode not implemented, -EINVAL for an impossible
 * register combination (see paging_check_regs). Canonical checks are the caller's (#GP).
 * A paging-structure entry at a GPA that is not RAM reads as all ones (what a PC returns for a
 * read that nobody claims), which always faults with RSVD.
 * Thread-safe: may run concurrently with other vCPUs walking or updating the same tables.
 */
int paging_walk(const struct mmu_regs *regs, const struct mmu_phys *phys, uint64_t gva,
		unsigned access, struct paging_walk *w);

/*
 * paging_check_regs - 0 if @regs describe a paging mode the walker implements, -ENOTSUP if not
 * (32-bit/PAE paging, LA57, PCIDE, SMEP, SMAP, PKE, PKS), -EINVAL if the combination cannot occur
 * architecturally (long mode paging without CR4.PAE, CR3 bits 63:MAXPHYADDR set).
 */
int paging_check_regs(const struct mmu_regs *regs);

/* True if @gva is canonical for 48-bit linear addresses (bits 63:47 all equal; SDM Vol. 1 3.3.7.1). */
static inline bool paging_canonical(uint64_t gva)
{
	return (uint64_t)((int64_t)(gva << 16) >> 16) == gva;
}

/*
 * Software TLB, one per vCPU (QEMU softmmu style). Direct-mapped on the 4 KiB virtual page
 * number, one array per privilege (MMU_IDX_*). Each entry has three tags, one per access kind:
 * a tag equals the 4 KiB-aligned GVA if that access is allowed and the page is RAM, so a hit is
 * one compare, and the host pointer is gva + addend. Low tag bits mark the other cases: TLB_MMIO
 * (translation cached, but not RAM: take the MMIO path with the cached GPA) and TLB_INVALID.
 * Large pages are entered as the 4 KiB pieces actually used.
 *
 * Thread-safety: a TLB belongs to one vCPU and only its thread may call these functions. Another
 * thread that needs a flush (TLB shootdown IPI, code invalidation by another vCPU) must ask the
 * owner (vcpu_kick + a request flag) and wait for it.
 *
 * The caller must flush everything (tlb_flush_all) when CR0.PG, CR0.WP, CR4.PGE, CR4.PAE,
 * CR4.PSE or EFER.NXE change, non-global entries (tlb_flush_nonglobal) on MOV to CR3 and task
 * switches, and one page (tlb_flush_page) on INVLPG; SDM Vol. 3A 4.10.4.1.
 */
#define TLB_BITS 8
#define TLB_SIZE (1u << TLB_BITS)
#define TLB_PAGE_MASK (~0xfffULL)
#define TLB_MMIO 1ULL     /* tag flag: the page is not RAM */
#define TLB_INVALID (~0ULL) /* tag of a forbidden access or an empty entry (has bit 1 set) */

struct tlb_entry {          /* hot: the fast path reads only this (32 bytes) */
	uint64_t tag_read, tag_write, tag_code;
	uintptr_t addend;   /* hva - gva for RAM pages */
};

struct tlb_info {           /* cold: used on flushes and the slow path */
	uint64_t vpage;     /* 4 KiB-aligned GVA, TLB_INVALID when the entry is empty */
	uint64_t gpa;       /* 4 KiB-aligned GPA */
	uint8_t page_shift; /* size of the guest mapping the entry was cut from: 12, 21, 30 */
	bool global;
};

struct tlb {
	struct tlb_entry e[MMU_NR_IDX][TLB_SIZE];
	struct tlb_info info[MMU_NR_IDX][TLB_SIZE];
	/* Smallest aligned range covering every large-page entry (QEMU's large_page_addr/mask):
	 * INVLPG outside it needs no scan. */
	bool has_large;
	uint64_t large_addr, large_mask;
	unsigned nr_global; /* entries with global set */
	/* counters for statistics */
	uint64_t nr_fill, nr_flush_all, nr_flush_page;
};

/* tlb_init - empty TLB. */
void tlb_init(struct tlb *tlb);

static inline unsigned tlb_index(uint64_t gva)
{
	return (unsigned)(gva >> 12) & (TLB_SIZE - 1);
}

/*
 * Fast path: host pointer for an access of @len bytes (1 <= len <= 4096) at @gva, or NULL if the
 * access must take the slow path (tlb_translate): miss, right not cached, MMIO, crossing into
 * the next page. One compare: an access that crosses a page compares against the next page,
 * whose number has a different index, so it can never match the entry of the first page.
 */
static inline void *tlb_hit(uint64_t tag, uintptr_t addend, uint64_t gva, size_t len)
{
	if (__builtin_expect(tag == ((gva + len - 1) & TLB_PAGE_MASK), 1))
		return (void *)(uintptr_t)(gva + addend);
	return NULL;
}

static inline void *tlb_read(const struct tlb *tlb, unsigned idx, uint64_t gva, size_t len)
{
	const struct tlb_entry *e = &tlb->e[idx][tlb_index(gva)];
	return tlb_hit(e->tag_read, e->addend, gva, len);
}

static inline void *tlb_write(const struct tlb *tlb, unsigned idx, uint64_t gva, size_t len)
{
	const struct tlb_entry *e = &tlb->e[idx][tlb_index(gva)];
	return tlb_hit(e->tag_write, e->addend, gva, len);
}

static inline void *tlb_code(const struct tlb *tlb, unsigned idx, uint64_t gva, size_t len)
{
	const struct tlb_entry *e = &tlb->e[idx][tlb_index(gva)];
	return tlb_hit(e->tag_code, e->addend, gva, len);
}

/* tlb_fill flags */
#define TLB_FILL_NOWRITE 1u /* do not cache the write right (the page is write-watched) */

/*
 * tlb_fill - enter the 4 KiB page of @gva translated by @w (from a successful paging_walk) for
 * privilege @idx. @page_hva is the host pointer of the 4 KiB guest page (w->gpa rounded down),
 * or NULL if it is not RAM. The write right is cached only if the leaf is already dirty.
 */
void tlb_fill(struct tlb *tlb, unsigned idx, uint64_t gva, const struct paging_walk *w,
	      void *page_hva, unsigned flags);

/* tlb_flush_all - drop every entry (CR0.PG/WP, CR4.PGE/PAE/PSE, EFER.NXE change). */
void tlb_flush_all(struct tlb *tlb);
/* tlb_flush_nonglobal - drop every entry but the global ones (MOV to CR3 without PCIDs). */
void tlb_flush_nonglobal(struct tlb *tlb);
/*
 * tlb_flush_page - INVLPG @gva: drop the entry of that page, global or not, and every entry cut
 * from a large page that contains @gva (SDM Vol. 3A 4.10.4.1, 4.10.2.3).
 */
void tlb_flush_page(struct tlb *tlb, uint64_t gva);
/*
 * tlb_drop_write_phys - uncache the write right of every entry mapping the guest-physical page
 * of @gpa, so the next write to it takes the slow path (code was decoded from it, dirty logging).
 */
void tlb_drop_write_phys(struct tlb *tlb, uint64_t gpa);

/* Result of tlb_translate. */
struct tlb_xlat {
	void *hva;     /* host pointer of the byte at gva; NULL if the page is not RAM (MMIO) */
	uint64_t gpa;  /* guest-physical address of gva */
	uint32_t pfec; /* #PF error code when -EFAULT is returned */
	bool watched;  /* a write to a write-watched RAM page: the caller handles the watch
			  (invalidates code, marks dirty) before writing through hva */
};

/*
 * tlb_translate - slow path of a guest access at @gva (MMU_ACC_*): use a cached translation
 * (MMIO entries, reads of entries with no fast-path tag) or walk the page tables and fill the
 * TLB. Returns 0, -EFAULT (#PF: x->pfec, CR2 = @gva; nothing cached) or paging_walk's errors.
 * The result covers @gva to the end of its 4 KiB page: the caller splits crossing accesses.
 */
int tlb_translate(struct tlb *tlb, const struct mmu_regs *regs, const struct mmu_phys *phys,
		  uint64_t gva, unsigned access, struct tlb_xlat *x);

#endif
