/* SPDX-License-Identifier: MIT */
/*
 * System mode of the virtual CPU: the memory path through the soft MMU (docs/mmu.md), the
 * guest-physical memory of a machine, execution modes and block keys, and the run loop's
 * event handling (interrupt acceptance, the STI / MOV SS shadow, NMI, HLT).
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "omnivisor/bus.h"
#include "omnivisor/log.h"
#include "sys.h"

#define PAGE 4096ULL
#define LBITS (8 * sizeof(unsigned long))

/* ---- guest-physical memory -------------------------------------------------------------- */

static void *phys_ram_ptr(void *opaque, uint64_t gpa, size_t len)
{
	struct vm_phys *p = opaque;
	if (gpa >= p->ram_size || p->ram_size - gpa < len)
		return NULL;
	return p->ram + gpa;
}

static bool code_bit(const struct vm_phys *p, uint64_t gpa)
{
	uint64_t pfn = gpa >> 12;
	return __atomic_load_n(&p->code_pages[pfn / LBITS], __ATOMIC_RELAXED) & (1UL << (pfn % LBITS));
}

static bool phys_write_watched(void *opaque, uint64_t gpa)
{
	struct vm_phys *p = opaque;
	return gpa < p->ram_size && code_bit(p, gpa);
}

static const struct mmu_phys_ops phys_ops = {
	.ram_ptr = phys_ram_ptr,
	.write_watched = phys_write_watched,
};

int vm_phys_init(struct vm_phys *p, uint8_t *ram, uint64_t ram_size, struct bus *bus)
{
	memset(p, 0, sizeof(*p));
	p->ram = ram;
	p->ram_size = ram_size & ~(PAGE - 1);
	p->bus = bus;
	p->code_pages = calloc(p->ram_size / PAGE / LBITS + 1, sizeof(unsigned long));
	p->cache = block_cache_create(NULL);
	if (!p->code_pages || !p->cache) {
		vm_phys_destroy(p);
		return -ENOMEM;
	}
	return 0;
}

void vm_phys_destroy(struct vm_phys *p)
{
	block_cache_destroy(p->cache);
	free(p->code_pages);
	p->cache = NULL;
	p->code_pages = NULL;
}

/* A write reached the RAM page of @gpa that holds decoded code: forget that code. The block
 * cache makes every running vCPU (this one included) leave its block at the next boundary. */
static void code_page_written(struct vm_phys *p, uint64_t gpa)
{
	uint64_t pfn = gpa >> 12;
	if (gpa >= p->ram_size || !code_bit(p, gpa))
		return;
	__atomic_and_fetch(&p->code_pages[pfn / LBITS], ~(1UL << (pfn % LBITS)), __ATOMIC_SEQ_CST);
	block_cache_invalidate_page(p->cache, gpa & ~(PAGE - 1));
}

void vm_phys_written(struct vm_phys *p, uint64_t gpa, uint64_t len)
{
	if (!len)
		return;
	for (uint64_t a = gpa & ~(PAGE - 1); a < gpa + len && a < p->ram_size; a += PAGE)
		code_page_written(p, a);
}

void sys_code_page_added(struct vcpu *cpu, uint64_t gpa)
{
	struct vm_phys *p = cpu->sys->phys;
	uint64_t pfn = gpa >> 12;
	if (gpa >= p->ram_size)
		return;
	__atomic_or_fetch(&p->code_pages[pfn / LBITS], 1UL << (pfn % LBITS), __ATOMIC_SEQ_CST);
	/* SMP: every vCPU must drop its cached write right for this page (not needed with one) */
	tlb_drop_write_phys(&cpu->sys->tlb, gpa);
}

/* MMIO through the bus, split into accesses of at most 8 bytes (bus.h). */
static void mmio_read(struct vcpu *cpu, uint64_t gpa, uint8_t *dst, unsigned len)
{
	cpu->sys->nr_mmio++;
	while (len) {
		unsigned n = len >= 8 && !(gpa & 7) ? 8 : len >= 4 && !(gpa & 3) ? 4 : 1;
		bus_mmio_read(cpu->sys->phys->bus, gpa, dst, n);
		gpa += n, dst += n, len -= n;
	}
}

static void mmio_write(struct vcpu *cpu, uint64_t gpa, const uint8_t *src, unsigned len)
{
	cpu->sys->nr_mmio++;
	while (len) {
		unsigned n = len >= 8 && !(gpa & 7) ? 8 : len >= 4 && !(gpa & 3) ? 4 : 1;
		bus_mmio_write(cpu->sys->phys->bus, gpa, src, n);
		gpa += n, src += n, len -= n;
	}
}

int sys_phys_read(struct vm_phys *p, uint64_t gpa, void *dst, uint64_t len)
{
	if (gpa < p->ram_size && p->ram_size - gpa >= len) {
		memcpy(dst, p->ram + gpa, len);
		return 0;
	}
	for (uint64_t i = 0; i < len; i++) {
		uint64_t a = gpa + i;
		if (a < p->ram_size)
			((uint8_t *)dst)[i] = p->ram[a];
		else
			bus_mmio_read(p->bus, a, (uint8_t *)dst + i, 1);
	}
	return 0;
}

int sys_phys_write(struct vm_phys *p, uint64_t gpa, const void *src, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++) {
		uint64_t a = gpa + i;
		if (a < p->ram_size)
			p->ram[a] = ((const uint8_t *)src)[i];
		else
			bus_mmio_write(p->bus, a, (const uint8_t *)src + i, 1);
	}
	vm_phys_written(p, gpa, len);
	return 0;
}

/* ---- translation ------------------------------------------------------------------------- */

static unsigned data_access(const struct vcpu *cpu, int write)
{
	return (cpu->mmu_idx == MMU_IDX_USER ? MMU_ACC_USER : 0) | (write ? MMU_ACC_WRITE : 0);
}

/* Linear address of an access: 64-bit mode requires canonical addresses (#GP/#SS, SDM Vol. 3A
 * 3.3.7.1); legacy modes wrap at 4 GiB. */
static uint64_t linear(struct vcpu *cpu, uint64_t gva, int write)
{
	/* IA-32e mode (compatibility mode included: descriptor tables, the TSS and interrupt
	 * stacks are 64-bit there) checks canonicality; 32-bit addresses arrive zero-extended */
	if (cpu->sys->efer & EFER_LMA) {
		if (unlikely(!is_canonical(gva)))
			cpu_bad_address(cpu, gva, write); /* non-canonical: #GP(0) or #SS(0) */
		return gva;
	}
	return (uint32_t)gva;
}

/* Translate one page's part of an access; #PF on failure (CR2 = @gva). */
static void xlate(struct vcpu *cpu, uint64_t gva, unsigned acc, struct tlb_xlat *x)
{
	struct vcpu_sys *s = cpu->sys;
	int r = tlb_translate(&s->tlb, &s->mmu, &s->mmu_phys, gva, acc, x);
	if (likely(r == 0)) {
		if (x->watched)
			code_page_written(s->phys, x->gpa);
		return;
	}
	if (r == -EFAULT)
		cpu_raise(cpu, EXC_PF, x->pfec, gva);
	/* a paging mode the MOV-to-CR checks should have refused */
	pr_err("vcpu: paging mode not supported (cr0=%#" PRIx64 " cr4=%#" PRIx64 " efer=%#" PRIx64
	       "): #GP", s->cr0, s->cr4, s->efer);
	cpu_raise(cpu, EXC_GP, 0, 0);
}

/* The parts of an access at [gva, gva + len), translated (all faults raised) before any byte
 * moves. */
struct parts {
	unsigned n;
	struct {
		uint64_t gpa;
		uint8_t *hva;
		unsigned len;
	} p[2];
};

static void split(struct vcpu *cpu, uint64_t gva, unsigned len, unsigned acc, struct parts *pt)
{
	unsigned first = (unsigned)(PAGE - (gva & (PAGE - 1)));
	struct tlb_xlat x;

	if (first > len)
		first = len;
	xlate(cpu, gva, acc, &x);
	pt->n = 1;
	pt->p[0].gpa = x.gpa;
	pt->p[0].hva = x.hva;
	pt->p[0].len = first;
	if (first < len) {
		uint64_t g2 = gva + first;
		if (!(cpu->sys->efer & EFER_LMA))
			g2 = (uint32_t)g2;
		else if (!is_canonical(g2))
			cpu_bad_address(cpu, g2, acc & MMU_ACC_WRITE);
		xlate(cpu, g2, acc, &x);
		pt->n = 2;
		pt->p[1].gpa = x.gpa;
		pt->p[1].hva = x.hva;
		pt->p[1].len = len - first;
	}
}

static void parts_read(struct vcpu *cpu, const struct parts *pt, uint8_t *dst)
{
	for (unsigned i = 0; i < pt->n; i++) {
		if (pt->p[i].hva)
			memcpy(dst, pt->p[i].hva, pt->p[i].len);
		else
			mmio_read(cpu, pt->p[i].gpa, dst, pt->p[i].len);
		dst += pt->p[i].len;
	}
}

static void parts_write(struct vcpu *cpu, const struct parts *pt, const uint8_t *src)
{
	for (unsigned i = 0; i < pt->n; i++) {
		if (pt->p[i].hva)
			memcpy(pt->p[i].hva, src, pt->p[i].len);
		else
			mmio_write(cpu, pt->p[i].gpa, src, pt->p[i].len);
		src += pt->p[i].len;
	}
}

void sys_lin_read(struct vcpu *cpu, uint64_t gva, void *dst, unsigned len, unsigned acc)
{
	struct parts pt;
	split(cpu, linear(cpu, gva, 0), len, acc & ~MMU_ACC_WRITE, &pt);
	parts_read(cpu, &pt, dst);
}

void sys_lin_write(struct vcpu *cpu, uint64_t gva, const void *src, unsigned len, unsigned acc)
{
	struct parts pt;
	split(cpu, linear(cpu, gva, 1), len, acc | MMU_ACC_WRITE, &pt);
	parts_write(cpu, &pt, src);
}

void sys_mem_read_slow(struct vcpu *cpu, uint64_t gva, void *dst, unsigned len)
{
	sys_lin_read(cpu, gva, dst, len, data_access(cpu, 0));
}

void sys_mem_write_slow(struct vcpu *cpu, uint64_t gva, const void *src, unsigned len)
{
	sys_lin_write(cpu, gva, src, len, data_access(cpu, 1));
}

/*
 * A host pointer for an instruction that works on guest memory in place (LOCK forms, string
 * moves, FXSAVE). RAM inside one page, or two pages that are adjacent on the host too: the real
 * memory. Otherwise (MMIO, two scattered pages) a bounce buffer holding the current bytes (MMIO:
 * all-ones, no device read); for a write the run loop copies it back after the instruction
 * (sys_commit_writes). A LOCK on such an access is then not atomic towards other vCPUs, as a
 * split lock is not on some hardware either.
 */
void *sys_gva_ptr_slow(struct vcpu *cpu, uint64_t gva, unsigned len, int write)
{
	struct vcpu_sys *s = cpu->sys;
	struct parts pt;
	uint8_t *b;

	split(cpu, linear(cpu, gva, write), len, data_access(cpu, write), &pt);
	if (pt.p[0].hva && (pt.n == 1 || pt.p[1].hva == pt.p[0].hva + pt.p[0].len))
		return pt.p[0].hva;
	if (len > sizeof(s->bounce[0]) || s->nr_pending_write + pt.n > 4) {
		pr_err("vcpu: %u-byte access at %#" PRIx64 " through MMIO or across pages is not "
		       "supported: #GP", len, gva);
		cpu_gp0(cpu);
	}
	b = s->bounce[s->bounce_next++ & 1];
	for (unsigned i = 0, off = 0; i < pt.n; off += pt.p[i].len, i++) {
		if (pt.p[i].hva)
			memcpy(b + off, pt.p[i].hva, pt.p[i].len);
		else if (write)
			memset(b + off, 0xff, pt.p[i].len);
		else
			mmio_read(cpu, pt.p[i].gpa, b + off, pt.p[i].len);
		if (write) {
			unsigned k = s->nr_pending_write++;
			s->pending_write[k].gpa = pt.p[i].gpa;
			s->pending_write[k].hva = pt.p[i].hva;
			s->pending_write[k].data = b + off;
			s->pending_write[k].len = pt.p[i].len;
		}
	}
	if (write)
		__atomic_or_fetch(&cpu->exit_request, 2, __ATOMIC_RELAXED);
	return b;
}

static void sys_commit_writes(struct vcpu *cpu)
{
	struct vcpu_sys *s = cpu->sys;
	for (unsigned i = 0; i < s->nr_pending_write; i++) {
		if (s->pending_write[i].hva)
			memcpy(s->pending_write[i].hva, s->pending_write[i].data,
			       s->pending_write[i].len);
		else
			mmio_write(cpu, s->pending_write[i].gpa, s->pending_write[i].data,
				   s->pending_write[i].len);
	}
	s->nr_pending_write = 0;
}

/* A page of all-ones bytes: what fetching from a page that is not RAM returns. */
static uint8_t ones_page[PAGE];
static pthread_once_t ones_once = PTHREAD_ONCE_INIT;
static void ones_init(void)
{
	memset(ones_page, 0xff, sizeof(ones_page));
}

const uint8_t *sys_fetch_page(struct vcpu *cpu, uint64_t gva, uint64_t *gpa_page)
{
	struct vcpu_sys *s = cpu->sys;
	unsigned idx = cpu->mmu_idx, i;
	const struct tlb_entry *e;
	struct tlb_xlat x;
	uint64_t page;
	int r;

	if (s->mode == VCPU_MODE_LONG64) {
		if (!is_canonical(gva))
			cpu_raise(cpu, EXC_GP, 0, 0);
	} else {
		gva = (uint32_t)gva;
	}
	page = gva & ~(PAGE - 1);
	i = tlb_index(gva);
	e = &s->tlb.e[idx][i];
	if (e->tag_code == page) {
		if (gpa_page)
			*gpa_page = s->tlb.info[idx][i].gpa;
		return (const uint8_t *)(uintptr_t)(page + e->addend);
	}
	r = tlb_translate(&s->tlb, &s->mmu, &s->mmu_phys, page,
			  MMU_ACC_FETCH | (idx == MMU_IDX_USER ? MMU_ACC_USER : 0), &x);
	if (r == -EFAULT)
		cpu_raise(cpu, EXC_PF, x.pfec, gva < page ? page : gva);
	if (r < 0)
		cpu_raise(cpu, EXC_GP, 0, 0);
	if (gpa_page)
		*gpa_page = x.gpa & ~(PAGE - 1);
	if (!x.hva) {
		pthread_once(&ones_once, ones_init);
		return ones_page;
	}
	return x.hva;
}

/* ---- modes, privilege, flushes ------------------------------------------------------------ */

static void update_key(struct vcpu *cpu)
{
	struct vcpu_sys *s = cpu->sys;
	uint32_t k = BKEY_SYS | s->mode;
	if (s->cpl == 3)
		k |= BKEY_USER;
	if (s->cr0 & CR0_TS)
		k |= BKEY_TS;
	if (s->cr0 & CR0_EM)
		k |= BKEY_EM;
	if (s->cr0 & CR0_MP)
		k |= BKEY_MP;
	if (!(s->cr4 & CR4_OSFXSR))
		k |= BKEY_NOFXSR;
	if (s->step)
		k |= BKEY_STEP;
	cpu->block_key = k;
}

void sys_set_cpl(struct vcpu *cpu, unsigned cpl)
{
	cpu->sys->cpl = (uint8_t)cpl;
	cpu->mmu_idx = cpl == 3 ? MMU_IDX_USER : MMU_IDX_SUPER;
	update_key(cpu);
}

void sys_update_mode(struct vcpu *cpu)
{
	struct vcpu_sys *s = cpu->sys;
	uint16_t cs = s->seg[SR_CS].attr;

	s->mmu.cr0 = s->cr0;
	s->mmu.cr3 = s->cr3;
	s->mmu.cr4 = s->cr4;
	s->mmu.efer = s->efer;
	if (!(s->cr0 & CR0_PE))
		s->mode = VCPU_MODE_REAL;
	else if ((s->efer & EFER_LMA) && (cs & SEG_ATTR_L))
		s->mode = VCPU_MODE_LONG64;
	else
		s->mode = (cs & SEG_ATTR_DB) ? VCPU_MODE_PROT32 : VCPU_MODE_PROT16;
	update_key(cpu);
}

static void jcache_clear(struct vcpu *cpu)
{
	memset(cpu->jcache, 0, JCACHE_SIZE * sizeof(*cpu->jcache));
}

void sys_flush_tlb_all(struct vcpu *cpu)
{
	tlb_flush_all(&cpu->sys->tlb);
	jcache_clear(cpu);
}

void sys_flush_tlb_nonglobal(struct vcpu *cpu)
{
	tlb_flush_nonglobal(&cpu->sys->tlb);
	jcache_clear(cpu);
}

void sys_flush_tlb_page(struct vcpu *cpu, uint64_t gva)
{
	tlb_flush_page(&cpu->sys->tlb, gva);
	jcache_clear(cpu);
}

/* ---- 32-bit code: near CALL/RET with 4-byte slots (SDM Vol. 2 CALL, RET) ----------------- */

static void op_call32(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *o = &in->op[0];
	uint32_t target = (uint32_t)(o->kind == OPK_IMM ? (uint64_t)o->disp : op_read(cpu, in, 0));
	uint32_t esp = (uint32_t)cpu->gpr[R_RSP] - 4;
	mem_write32(cpu, esp, (uint32_t)cpu->rip);
	cpu->gpr[R_RSP] = esp;
	cpu->rip = target;
}

static void op_ret32(struct vcpu *cpu, const struct insn *in)
{
	uint32_t esp = (uint32_t)cpu->gpr[R_RSP];
	uint32_t t = mem_read32(cpu, esp);
	esp += 4;
	if (in->nops && in->op[0].kind == OPK_IMM)
		esp += (uint16_t)in->op[0].disp;
	cpu->gpr[R_RSP] = esp;
	cpu->rip = t;
}

const struct insn_entry mode32_insns[] = {
	{ ZYDIS_MNEMONIC_CALL, op_call32 },
	{ ZYDIS_MNEMONIC_RET, op_ret32 },
	{ 0, NULL },
};

/* ---- vCPU lifecycle ------------------------------------------------------------------------ */

static void flat_seg(struct seg_cache *s, uint16_t sel, uint16_t attr)
{
	s->sel = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->attr = attr;
}

int vcpu_sys_init(struct vcpu *cpu, struct vcpu_sys *s, struct vm_phys *phys)
{
	vcpu_init(cpu, NULL, phys->cache);
	memset(s, 0, sizeof(*s));
	cpu->sys = s;
	cpu->tlb = &s->tlb;
	cpu->rflags = 0x2;
	s->phys = phys;
	s->mmu_phys.ops = &phys_ops;
	s->mmu_phys.opaque = phys;
	s->mmu.maxphyaddr = 40;
	s->mmu.page1gb = true;
	tlb_init(&s->tlb);
	s->delivering = -1;
	/* Multiboot hand-off (spec 3.2): flat 32-bit code 0x08 and data 0x10 */
	flat_seg(&s->seg[SR_CS], 0x08, 0xc9b);
	for (int i = 0; i < SR_NR; i++)
		if (i != SR_CS)
			flat_seg(&s->seg[i], 0x10, 0xc93);
	s->ldtr.attr = 0x82;
	s->ldtr.limit = 0xffff;
	s->tr.attr = 0x8b;
	s->tr.limit = 0xffff;
	s->gdtr.limit = 0xffff;
	s->idtr.limit = 0x3ff;
	s->cr0 = CR0_PE | CR0_ET | CR0_NE;
	s->pat = 0x0007040600070406ULL;  /* SDM Vol. 3A 11.12.4 power-up value */
	s->misc_enable = 1;              /* fast-string operations enabled */
	/* MTRRs as firmware leaves them: enabled, default type write-back (SDM Vol. 3A 11.11.2.1);
	 * MTRRcap: 8 variable ranges, fixed ranges, write-combining */
	s->mtrr_def_type = 0x806;
	s->mtrr_cap = 0x508;
	s->apic_base = 0xfee00000ULL | (1u << 11) | (1u << 8); /* enabled, BSP */
	s->dr[6] = 0xffff0ff0;
	s->dr[7] = 0x400;
	sys_set_cpl(cpu, 0);
	sys_update_mode(cpu);
	return 0;
}

void vcpu_sys_destroy(struct vcpu *cpu)
{
	vcpu_destroy(cpu);
	cpu->sys = NULL;
	cpu->tlb = NULL;
}

/* Read the 8-byte descriptor of @sel from a GDT at linear @base (identity-mapped, as the boot
 * protocol requires of the tables it hands over). */
static int boot_descriptor(struct vcpu *cpu, uint64_t base, uint16_t limit, uint16_t sel,
			   uint64_t *desc)
{
	struct paging_walk w;
	if ((sel & ~7u) == 0 || (sel | 7u) > limit)
		return -EINVAL;
	if (paging_walk(&cpu->sys->mmu, &cpu->sys->mmu_phys, base + (sel & ~7u), 0, &w))
		return -EINVAL;
	if (w.gpa + 8 > cpu->sys->phys->ram_size)
		return -EINVAL;
	memcpy(desc, cpu->sys->phys->ram + w.gpa, 8);
	return 0;
}

int vcpu_sys_set_long_mode(struct vcpu *cpu, uint64_t cr3, uint64_t gdt_base, uint16_t gdt_limit,
			   uint16_t cs, uint16_t ds, uint64_t efer_extra)
{
	struct vcpu_sys *s = cpu->sys;
	uint64_t dcs, dds;

	s->cr0 = CR0_PE | CR0_PG | CR0_ET | CR0_NE;
	s->cr4 = CR4_PAE;
	s->cr3 = cr3;
	s->efer = EFER_LME | EFER_LMA | (efer_extra & (EFER_NXE | EFER_SCE));
	s->gdtr.base = gdt_base;
	s->gdtr.limit = gdt_limit;
	sys_update_mode(cpu);
	if (paging_check_regs(&s->mmu))
		return -EINVAL;
	if (boot_descriptor(cpu, gdt_base, gdt_limit, cs, &dcs) ||
	    boot_descriptor(cpu, gdt_base, gdt_limit, ds, &dds))
		return -EINVAL;
	sys_seg_from_desc(&s->seg[SR_CS], cs, dcs);
	if ((s->seg[SR_CS].attr & (SEG_ATTR_P | SEG_ATTR_S | 0x8 | SEG_ATTR_L | SEG_ATTR_DB)) !=
	    (SEG_ATTR_P | SEG_ATTR_S | 0x8 | SEG_ATTR_L))
		return -EINVAL; /* not a present 64-bit code segment */
	for (int i = 0; i < SR_NR; i++)
		if (i != SR_CS)
			sys_seg_from_desc(&s->seg[i], ds, dds);
	cpu->fs_base = cpu->gs_base = 0;
	sys_flush_tlb_all(cpu);
	sys_set_cpl(cpu, 0);
	sys_update_mode(cpu);
	return 0;
}

void vcpu_sys_state_changed(struct vcpu *cpu)
{
	sys_set_cpl(cpu, cpu->sys->seg[SR_CS].attr >> SEG_ATTR_DPL_SHIFT & 3);
	sys_update_mode(cpu);
	sys_flush_tlb_all(cpu);
}

/* ---- events --------------------------------------------------------------------------------- */

static void wake(struct vcpu *cpu)
{
	__atomic_add_fetch(&cpu->sys->wake_seq, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &cpu->sys->wake_seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void vcpu_sys_notify(struct vcpu *cpu)
{
	__atomic_store_n(&cpu->sys->irq_hint, 1, __ATOMIC_SEQ_CST);
	__atomic_or_fetch(&cpu->exit_request, 2, __ATOMIC_SEQ_CST);
	wake(cpu);
}

void vcpu_sys_interrupt(struct vcpu *cpu, uint8_t vector)
{
	__atomic_or_fetch(&cpu->sys->irq_bitmap[vector / 64], 1ULL << (vector % 64),
			  __ATOMIC_SEQ_CST);
	vcpu_sys_notify(cpu);
}

void vcpu_sys_nmi(struct vcpu *cpu)
{
	__atomic_store_n(&cpu->sys->nmi_pending, 1, __ATOMIC_SEQ_CST);
	__atomic_or_fetch(&cpu->exit_request, 2, __ATOMIC_SEQ_CST);
	wake(cpu);
}

void vcpu_sys_request_exit(struct vcpu *cpu, int reason)
{
	__atomic_store_n(&cpu->sys->exit_wanted, reason, __ATOMIC_SEQ_CST);
	__atomic_or_fetch(&cpu->exit_request, 1, __ATOMIC_SEQ_CST);
	wake(cpu);
}

void vcpu_sys_set_intc(struct vcpu *cpu, const struct vcpu_intc_ops *ops, void *opaque)
{
	cpu->sys->intc = ops;
	cpu->sys->intc_opaque = opaque;
}

/* Highest pending external interrupt vector, or -1 (asks the intc: may take its lock). */
static int pending_vector(struct vcpu *cpu)
{
	struct vcpu_sys *s = cpu->sys;
	if (s->intc)
		return s->intc->pending(s->intc_opaque);
	for (int w = 3; w >= 0; w--) {
		uint64_t m = __atomic_load_n(&s->irq_bitmap[w], __ATOMIC_SEQ_CST);
		if (m)
			return w * 64 + 63 - __builtin_clzll(m);
	}
	return -1;
}

static int ack_vector(struct vcpu *cpu, int v)
{
	struct vcpu_sys *s = cpu->sys;
	if (s->intc)
		return s->intc->ack(s->intc_opaque, v);
	__atomic_and_fetch(&s->irq_bitmap[v / 64], ~(1ULL << (v % 64)), __ATOMIC_SEQ_CST);
	return v;
}

/* NMIs latched by the intc (LINT1, NMI IPIs) become pending here. */
static void poll_nmi(struct vcpu *cpu)
{
	struct vcpu_sys *s = cpu->sys;
	if (s->intc && s->intc->take_nmi && s->intc->take_nmi(s->intc_opaque))
		s->nmi_pending = 1;
}

/* Could the halted vCPU resume? (SDM Vol. 2 HLT: an enabled interrupt, NMI, INIT, reset) */
static bool can_wake(struct vcpu *cpu)
{
	struct vcpu_sys *s = cpu->sys;
	poll_nmi(cpu);
	if (s->exit_wanted || (s->nmi_pending && !s->nmi_blocked))
		return true;
	return (cpu->rflags & FLAG_IF) && pending_vector(cpu) >= 0;
}

void vcpu_sys_wait(struct vcpu *cpu)
{
	struct vcpu_sys *s = cpu->sys;
	for (;;) {
		uint32_t seq = __atomic_load_n(&s->wake_seq, __ATOMIC_SEQ_CST);
		if (!s->halted || can_wake(cpu) || (cpu->exit_request & 1))
			return;
		syscall(SYS_futex, &s->wake_seq, FUTEX_WAIT_PRIVATE, seq, NULL, NULL, 0);
	}
}

static bool movss(const struct insn *in)
{
	return in && (in->mnemonic == ZYDIS_MNEMONIC_MOV || in->mnemonic == ZYDIS_MNEMONIC_POP) &&
	       in->op[0].kind == OPK_SEG && in->op[0].reg == SR_SS;
}

/*
 * At a block boundary with something to do (sys_loop_top): write back bounced stores, step
 * through an interrupt shadow, take an NMI or an external interrupt (SDM Vol. 3A 6.8-6.9:
 * NMI before INTR; INTR only with IF = 1 and no shadow). Returns nonzero to leave the loop.
 */
int sys_loop_events(struct vcpu *cpu)
{
	struct vcpu_sys *s = cpu->sys;

	if (s->nr_pending_write)
		sys_commit_writes(cpu);
	if (s->exit_wanted) {
		int r = s->exit_wanted;
		s->exit_wanted = 0;
		return r;
	}
	if (s->tf_armed && movss(cpu->cur)) {
		/* MOV SS / POP SS also hold back the single-step trap for one instruction (SDM
		 * Vol. 3A 6.8.3): it comes after the next instruction instead */
		s->tf_armed = 0;
	} else if (s->tf_armed) {
		/* the instruction just run began with TF = 1: single-step trap, DR6.BS (SDM Vol. 3A
		 * 17.3.1.4); RIP is the next instruction */
		s->tf_armed = 0;
		s->dr[6] |= 0x4000;
		cpu->cur = NULL;
		if (trace_on(TRACE_EXC))
			pr_trace("exc: single-step #DB at rip %#" PRIx64, cpu->rip);
		sys_deliver(cpu, EXC_DB, EV_EXCEPTION, false, 0);
	}
	if (s->irq_shadow) {
		/* STI / MOV SS just executed: run exactly one more instruction first */
		s->irq_shadow = 0;
		s->step = 1;
		s->tf_armed = !!(cpu->rflags & FLAG_TF);
		update_key(cpu);
		cpu->chain_budget = 0;
		return 0;
	}
	if (s->step) {
		s->step = 0;
		update_key(cpu);
	}
	cpu->cur = NULL; /* faults while delivering are not the last instruction's */
	if (s->irq_hint == 1) {
		/* a new notification: look for an NMI; INTR waits for IF (irq_hint 2) */
		s->irq_hint = 2;
		poll_nmi(cpu);
	}
	if (s->nmi_pending && !s->nmi_blocked) {
		s->nmi_pending = 0;
		s->halted = false;
		sys_deliver(cpu, 2, EV_NMI, false, 0);
		return 0;
	}
	if (s->irq_hint && (cpu->rflags & FLAG_IF)) {
		int v;
		if (s->nr_pending_write)
			sys_commit_writes(cpu);
		__atomic_store_n(&s->irq_hint, 0, __ATOMIC_SEQ_CST);
		v = pending_vector(cpu);
		if (v >= 0) {
			int zero = 0;
			v = ack_vector(cpu, v);
			/* there may be more (keep a concurrent new notification) */
			__atomic_compare_exchange_n(&s->irq_hint, &zero, 2, false, __ATOMIC_SEQ_CST,
						    __ATOMIC_SEQ_CST);
			s->halted = false;
			if (v >= 0) {
				s->nr_interrupts++;
				if (trace_on(TRACE_EXC))
					pr_trace("exc: interrupt %d at rip %#" PRIx64, v, cpu->rip);
				sys_deliver(cpu, (unsigned)v & 0xff, EV_EXTINT, false, 0);
			}
		}
	}
	if (s->halted)
		return VCPU_EXIT_HLT;
	if (cpu->rflags & FLAG_TF) {
		/* single-step the next instruction (an event delivered above cleared TF) */
		s->tf_armed = 1;
		s->step = 1;
		update_key(cpu);
	}
	return 0;
}

/* Deliver the exception vcpu_run returned with; nested faults come back here via longjmp. */
static int deliver_exception(struct vcpu *cpu)
{
	cpu->sys->nr_pending_write = 0; /* the faulting instruction's bounced stores are void */
	cpu->sys->tf_armed = 0;         /* a fault is not a completed instruction: no #DB trap */
	cpu->cur = NULL;
	if (setjmp(cpu->unwind)) {
		/* a fault while delivering: cpu->exc_* describe it */
		cpu->cur = NULL;
		block_cache_unlock_after_fault(cpu);
	}
	if (trace_on(TRACE_EXC))
		pr_trace("exc: vector %d error %#x addr %#" PRIx64 " at rip %#" PRIx64 " cpl %u%s",
			 cpu->exc_vector, cpu->exc_error, cpu->exc_addr, cpu->rip, cpu->sys->cpl,
			 cpu->sys->delivering >= 0 ? " (while delivering)" : "");
	return sys_exception_unwound(cpu);
}

int vcpu_sys_run(struct vcpu *cpu)
{
	struct vcpu_sys *s = cpu->sys;
	if (s->exit_wanted) {
		int r = s->exit_wanted;
		s->exit_wanted = 0;
		return r;
	}
	if (s->halted) {
		if (!can_wake(cpu))
			return VCPU_EXIT_HLT;
		s->irq_hint = 1;
	}
	for (;;) {
		int r = vcpu_run(cpu);
		if (r == VCPU_EXIT_EXCEPTION)
			r = deliver_exception(cpu);
		if (s->exit_wanted && (r == 0 || r == VCPU_EXIT_KICK)) {
			r = s->exit_wanted;
			s->exit_wanted = 0;
		}
		if (r)
			return r;
	}
}

static void dump_seg(FILE *f, const char *name, const struct seg_cache *s)
{
	fprintf(f, "%s =%04x %016" PRIx64 " %08x %03x\n", name, s->sel, s->base, s->limit, s->attr);
}

void vcpu_sys_dump(const struct vcpu *cpu, FILE *f)
{
	static const char *const names[16] = { "RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI",
					       "RDI", "R8 ", "R9 ", "R10", "R11", "R12", "R13",
					       "R14", "R15" };
	static const char *const sn[SR_NR] = { "ES", "CS", "SS", "DS", "FS", "GS" };
	const struct vcpu_sys *s = cpu->sys;

	for (int i = 0; i < 16; i++)
		fprintf(f, "%s=%016" PRIx64 "%s", names[i], cpu->gpr[i], i % 4 == 3 ? "\n" : " ");
	fprintf(f, "RIP=%016" PRIx64 " RFL=%08" PRIx64 " CPL=%u mode=%u\n", cpu->rip,
		vcpu_get_rflags(cpu), s->cpl, s->mode);
	for (int i = 0; i < SR_NR; i++)
		dump_seg(f, sn[i], &s->seg[i]);
	fprintf(f, "FS.base=%016" PRIx64 " GS.base=%016" PRIx64 " KernelGS=%016" PRIx64 "\n",
		cpu->fs_base, cpu->gs_base, s->kernel_gs_base);
	dump_seg(f, "LDT", &s->ldtr);
	dump_seg(f, "TR", &s->tr);
	fprintf(f, "GDT=     %016" PRIx64 " %08x\nIDT=     %016" PRIx64 " %08x\n", s->gdtr.base,
		s->gdtr.limit, s->idtr.base, s->idtr.limit);
	fprintf(f, "CR0=%08" PRIx64 " CR2=%016" PRIx64 " CR3=%016" PRIx64 " CR4=%08" PRIx64 "\n",
		s->cr0, s->cr2, s->cr3, s->cr4);
	fprintf(f, "EFER=%016" PRIx64 " last exception: vector %d error %#x address %#" PRIx64 "\n",
		s->efer, cpu->exc_vector, cpu->exc_error, cpu->exc_addr);
}
