/* SPDX-License-Identifier: MIT */
/*
 * Decoder and decode cache: guest code is decoded once with Zydis into struct insn, grouped in
 * basic blocks keyed by guest address. Blocks are indexed by the pages they cover so that a write
 * to guest code (mem.c detects it) invalidates exactly what was decoded from that page.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "cpu.h"
#include "omnivisor/memory.h"
#include "sys.h"
#include "sysctl.h"

#define BLOCK_MAX_INSNS 64
#define HASH_BITS 16
#define PAGE_HASH_BITS 12

struct page_blocks {
	uint64_t page;
	struct page_blocks *next;
	uint32_t nr, cap;
	struct block **blocks;
};

struct block_cache {
	pthread_mutex_t lock;
	struct guest_mem *mem;
	struct block *hash[1u << HASH_BITS];
	struct page_blocks *pages[1u << PAGE_HASH_BITS];
	struct block *retired; /* invalidated blocks: other vCPUs may still be inside them */
	uint64_t nr_blocks, nr_invalidated;
	/*
	 * Reclaiming retired blocks (epoch scheme): each retirement bumps `epoch`; a vCPU that
	 * enters its dispatch loop or passes between blocks with an old epoch clears its jump cache
	 * and records the epoch (vcpu_sync_epoch). A block retired at epoch E is freed once every
	 * active vCPU has seen an epoch after E; inactive ones clear their jump cache on entry.
	 */
	volatile uint64_t epoch;
	struct vcpu *vcpus;
};

static ZydisDecoder decoder, decoder32;
static insn_fn handlers[ZYDIS_MNEMONIC_MAX_VALUE + 1];
/* system mode: handlers that override the user-mode ones, and those of 32-bit code */
static insn_fn sys_handlers[ZYDIS_MNEMONIC_MAX_VALUE + 1];
static insn_fn mode32_handlers[ZYDIS_MNEMONIC_MAX_VALUE + 1];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void op_undefined(struct vcpu *cpu, const struct insn *in)
{
	cpu_ud(cpu);
}

static void decoder_init(void)
{
	static const struct insn_entry *const tables[] = {
		alu_insns, shift_insns, muldiv_insns, bitops_insns, string_insns, control_insns,
		datamov_insns, system_insns, x87_insns, sse_insns, sse4_insns, mmx_insns,
	};
	static const struct insn_entry *const sys_tables[] = {
		exception_insns, seg_insns, sysctl_insns, msr_insns, io_insns,
	};
	ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	ZydisDecoderInit(&decoder32, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const struct insn_entry *e = tables[t]; e->fn; e++)
			handlers[e->mnemonic] = e->fn;
	for (size_t t = 0; t < sizeof(sys_tables) / sizeof(sys_tables[0]); t++)
		for (const struct insn_entry *e = sys_tables[t]; e->fn; e++)
			sys_handlers[e->mnemonic] = e->fn;
	for (const struct insn_entry *e = mode32_insns; e->fn; e++)
		mode32_handlers[e->mnemonic] = e->fn;
}

/* Map a Zydis GPR to (index, hi8). Returns -1 if @r is not a general-purpose register. */
static int gpr_index(ZydisRegister r, uint8_t *hi8)
{
	*hi8 = 0;
	if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BL)
		return r - ZYDIS_REGISTER_AL;
	if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) {
		*hi8 = 1;
		return r - ZYDIS_REGISTER_AH;
	}
	if (r >= ZYDIS_REGISTER_SPL && r <= ZYDIS_REGISTER_DIL)
		return 4 + (r - ZYDIS_REGISTER_SPL);
	if (r >= ZYDIS_REGISTER_R8B && r <= ZYDIS_REGISTER_R15B)
		return 8 + (r - ZYDIS_REGISTER_R8B);
	switch (ZydisRegisterGetClass(r)) {
	case ZYDIS_REGCLASS_GPR16:
	case ZYDIS_REGCLASS_GPR32:
	case ZYDIS_REGCLASS_GPR64:
		return ZydisRegisterGetId(r);
	default:
		return -1;
	}
}

static uint8_t mem_reg(ZydisRegister r)
{
	uint8_t hi8;
	int i;
	if (r == ZYDIS_REGISTER_NONE)
		return REG_NONE;
	i = gpr_index(r, &hi8);
	return i < 0 ? REG_NONE : (uint8_t)i;
}

static void convert_operand(const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo,
			    uint64_t next_rip, struct operand *o)
{
	memset(o, 0, sizeof(*o));
	o->base = o->index = REG_NONE;
	o->size = (uint8_t)(zo->size / 8);
	switch (zo->type) {
	case ZYDIS_OPERAND_TYPE_REGISTER: {
		ZydisRegister r = zo->reg.value;
		int i = gpr_index(r, &o->hi8);
		if (i >= 0) {
			o->kind = OPK_GPR;
			o->reg = (uint8_t)i;
			break;
		}
		switch (ZydisRegisterGetClass(r)) {
		case ZYDIS_REGCLASS_XMM:
			o->kind = OPK_XMM;
			o->reg = (uint8_t)ZydisRegisterGetId(r);
			o->size = 16;
			break;
		case ZYDIS_REGCLASS_MMX:
			o->kind = OPK_MMX;
			o->reg = (uint8_t)ZydisRegisterGetId(r);
			o->size = 8;
			break;
		case ZYDIS_REGCLASS_X87:
			o->kind = OPK_ST;
			o->reg = (uint8_t)ZydisRegisterGetId(r);
			o->size = 10;
			break;
		case ZYDIS_REGCLASS_SEGMENT:
			o->kind = OPK_SEG;
			o->reg = (uint8_t)(r - ZYDIS_REGISTER_ES);
			break;
		case ZYDIS_REGCLASS_CONTROL:
			o->kind = OPK_CR;
			o->reg = (uint8_t)ZydisRegisterGetId(r);
			break;
		case ZYDIS_REGCLASS_DEBUG:
			o->kind = OPK_DR;
			o->reg = (uint8_t)ZydisRegisterGetId(r);
			break;
		default:
			o->kind = OPK_OTHER;
			o->reg = (uint8_t)ZydisRegisterGetId(r);
			break;
		}
		break;
	}
	case ZYDIS_OPERAND_TYPE_MEMORY:
		o->kind = OPK_MEM;
		o->scale = zo->mem.scale ? zo->mem.scale : 1;
		o->disp = zo->mem.disp.value;
		if (zo->mem.segment == ZYDIS_REGISTER_FS)
			o->seg = SEG_FS;
		else if (zo->mem.segment == ZYDIS_REGISTER_GS)
			o->seg = SEG_GS;
		if (zo->mem.base == ZYDIS_REGISTER_RIP) {
			o->disp += (int64_t)next_rip;
		} else if (zo->mem.base == ZYDIS_REGISTER_EIP) {
			o->disp = (uint32_t)(o->disp + (int64_t)next_rip);
		} else {
			o->base = mem_reg(zo->mem.base);
		}
		o->index = mem_reg(zo->mem.index);
		break;
	case ZYDIS_OPERAND_TYPE_IMMEDIATE:
		o->kind = OPK_IMM;
		if (zo->imm.is_relative) {
			uint64_t t = next_rip + zo->imm.value.u;
			if (zi->operand_width == 16)
				t &= 0xffff; /* 66-prefixed near branch truncates EIP (SDM Vol. 2 JMP) */
			else if (zi->operand_width == 32 && zi->address_width == 32)
				t = (uint32_t)t;
			o->disp = (int64_t)t;
			o->size = 8;
		} else {
			o->disp = zo->imm.is_signed ? zo->imm.value.s : (int64_t)zo->imm.value.u;
			if (!o->size)
				o->size = 8;
		}
		break;
	case ZYDIS_OPERAND_TYPE_POINTER:
		/* far JMP/CALL ptr16:16/32: offset here, selector in the next operand (fill_insn) */
		o->kind = OPK_IMM;
		o->disp = (int64_t)zo->ptr.offset;
		o->size = (uint8_t)(zi->operand_width / 8);
		break;
	default:
		o->kind = OPK_OTHER;
		break;
	}
}

/* Does the instruction end a block (writes RIP, or leaves the CPU loop)? */
static int ends_block(const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *ops)
{
	for (unsigned i = 0; i < zi->operand_count; i++)
		if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    (ops[i].reg.value == ZYDIS_REGISTER_RIP || ops[i].reg.value == ZYDIS_REGISTER_EIP) &&
		    (ops[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
			return 1;
	switch (zi->meta.category) {
	case ZYDIS_CATEGORY_COND_BR:
	case ZYDIS_CATEGORY_UNCOND_BR:
	case ZYDIS_CATEGORY_CALL:
	case ZYDIS_CATEGORY_RET:
	case ZYDIS_CATEGORY_SYSCALL:
	case ZYDIS_CATEGORY_INTERRUPT:
	case ZYDIS_CATEGORY_SYSTEM:
		return 1;
	default:
		return 0;
	}
}

static void fill_insn(const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *ops,
		      uint64_t gva, struct insn *in)
{
	uint64_t next = gva + zi->length;
	memset(in, 0, sizeof(*in));
	in->mnemonic = (uint16_t)zi->mnemonic;
	in->len = zi->length;
	in->opsize = (uint8_t)(zi->operand_width / 8);
	in->opcode = zi->opcode;
	in->modrm = zi->raw.modrm.offset ? (uint8_t)((zi->raw.modrm.mod << 6) |
						     (zi->raw.modrm.reg << 3) | zi->raw.modrm.rm) : 0;
	in->nops = zi->operand_count_visible > 4 ? 4 : zi->operand_count_visible;
	for (unsigned i = 0; i < in->nops; i++)
		convert_operand(zi, &ops[i], next, &in->op[i]);
	if (in->nops == 1 && ops[0].type == ZYDIS_OPERAND_TYPE_POINTER) {
		in->op[1].kind = OPK_IMM;
		in->op[1].size = 2;
		in->op[1].base = in->op[1].index = REG_NONE;
		in->op[1].disp = ops[0].ptr.segment;
		in->nops = 2;
	}
	if (zi->attributes & ZYDIS_ATTRIB_HAS_LOCK)
		in->flags |= INSN_LOCK;
	if (zi->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE))
		in->flags |= INSN_REP;
	if (zi->attributes & ZYDIS_ATTRIB_HAS_REPNE)
		in->flags |= INSN_REPNE;
	if (zi->address_width == 32)
		in->flags |= INSN_ASIZE32;
	if (zi->attributes & ZYDIS_ATTRIB_HAS_SEGMENT_FS)
		in->seg = SEG_FS;
	else if (zi->attributes & ZYDIS_ATTRIB_HAS_SEGMENT_GS)
		in->seg = SEG_GS;
	if (zi->attributes & ZYDIS_ATTRIB_HAS_OPERANDSIZE)
		in->mandatory = 0x66;
	if (zi->attributes & ZYDIS_ATTRIB_HAS_REPNE)
		in->mandatory = 0xf2;
	if (zi->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE))
		in->mandatory = 0xf3;
	in->fn = handlers[zi->mnemonic] ? handlers[zi->mnemonic] : op_undefined;
	/* String MOVSD/CMPSD (A5/A7) share their mnemonic with the SSE2 scalar-double ones. */
	if (zi->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT) {
		if (zi->mnemonic == ZYDIS_MNEMONIC_MOVSD)
			in->fn = string_movsd;
		else if (zi->mnemonic == ZYDIS_MNEMONIC_CMPSD)
			in->fn = string_cmpsd;
	}
	if (ends_block(zi, ops) || in->fn == op_undefined)
		in->flags |= INSN_END;
}

int cpu_decode_one(const uint8_t *bytes, size_t len, uint64_t gva, struct insn *out)
{
	ZydisDecodedInstruction zi;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	pthread_once(&init_once, decoder_init);
	if (ZYAN_FAILED(ZydisDecoderDecodeFull(&decoder, bytes, len, &zi, ops)))
		return -EINVAL;
	fill_insn(&zi, ops, gva, out);
	return 0;
}

void cpu_disasm(const uint8_t *bytes, size_t len, uint64_t gva, char *buf, size_t buflen)
{
	ZydisDisassembledInstruction di;
	if (ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, gva, bytes, len, &di)))
		snprintf(buf, buflen, "%s", di.text);
	else
		snprintf(buf, buflen, "(bad)");
}

static void cache_invalidator(void *opaque, uint64_t page)
{
	block_cache_invalidate_page(opaque, page);
}

struct block_cache *block_cache_create(struct guest_mem *mem)
{
	struct block_cache *bc = calloc(1, sizeof(*bc));
	if (!bc)
		return NULL;
	pthread_once(&init_once, decoder_init);
	pthread_mutex_init(&bc->lock, NULL);
	bc->mem = mem;
	if (mem) /* system mode has no guest_mem: sysmem.c invalidates by physical page */
		mem_set_code_invalidator(mem, cache_invalidator, bc);
	return bc;
}

static unsigned hash_gva(uint64_t gva)
{
	return (unsigned)((gva * 0x9E3779B97F4A7C15ULL) >> (64 - HASH_BITS));
}

static struct page_blocks **page_slot(struct block_cache *bc, uint64_t page)
{
	unsigned h = (unsigned)((page >> 12) * 0x9E3779B97F4A7C15ULL >> (64 - PAGE_HASH_BITS));
	struct page_blocks **pp = &bc->pages[h];
	while (*pp && (*pp)->page != page)
		pp = &(*pp)->next;
	return pp;
}

static void page_remove(struct block_cache *bc, uint64_t page, struct block *b)
{
	struct page_blocks *p = *page_slot(bc, page);
	if (!p)
		return;
	for (uint32_t i = 0; i < p->nr; i++)
		if (p->blocks[i] == b) {
			p->blocks[i] = p->blocks[--p->nr];
			return;
		}
}

static void page_add(struct block_cache *bc, uint64_t page, struct block *b)
{
	if (b->nr_pages < sizeof(b->pages) / sizeof(b->pages[0]))
		b->pages[b->nr_pages++] = page;
	struct page_blocks **pp = page_slot(bc, page), *p = *pp;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			abort();
		p->page = page;
		*pp = p;
	}
	if (p->nr == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 8;
		p->blocks = realloc(p->blocks, p->cap * sizeof(*p->blocks));
		if (!p->blocks)
			abort();
	}
	p->blocks[p->nr++] = b;
}

static void hash_remove(struct block_cache *bc, struct block *b)
{
	struct block **pp = &bc->hash[hash_gva(b->gva)];
	while (*pp && *pp != b)
		pp = &(*pp)->hash_next;
	if (*pp)
		*pp = b->hash_next;
}

/* Free retired blocks no active vCPU can still reference (cache lock held). */
static void reclaim_retired(struct block_cache *bc)
{
	uint64_t min = bc->epoch;
	struct block **pp = &bc->retired, *b;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (struct vcpu *c = bc->vcpus; c; c = c->cache_next)
		if (c->active && c->seen_epoch < min)
			min = c->seen_epoch;
	while ((b = *pp)) {
		if (b->retire_epoch < min) {
			*pp = b->page_next;
			free((void *)b->shared_copy);
			free(b);
		} else {
			pp = &b->page_next;
		}
	}
}

void block_cache_invalidate_page(struct block_cache *bc, uint64_t page)
{
	struct page_blocks **pp, *p;
	bool retired = false;
	pthread_mutex_lock(&bc->lock);
	pp = page_slot(bc, page & GUEST_PAGE_MASK);
	p = *pp;
	if (p) {
		for (uint32_t i = 0; i < p->nr; i++) {
			struct block *b = p->blocks[i];
			if (!b->valid)
				continue;
			b->valid = 0;
			hash_remove(bc, b);
			/* it may be listed under other pages too: it must not be found there once freed */
			for (uint32_t k = 0; k < b->nr_pages; k++)
				if (b->pages[k] != p->page)
					page_remove(bc, b->pages[k], b);
			/* Retired, freed by reclaim_retired once no vCPU can be executing it. */
			b->page_next = bc->retired;
			b->retire_epoch = bc->epoch;
			bc->retired = b;
			bc->nr_invalidated++;
			retired = true;
		}
		*pp = p->next;
		free(p->blocks);
		free(p);
	}
	if (retired) {
		__atomic_add_fetch(&bc->epoch, 1, __ATOMIC_SEQ_CST);
		/* make running vCPUs pass a safe point soon, so the blocks can be freed */
		for (struct vcpu *c = bc->vcpus; c; c = c->cache_next)
			if (c->active)
				__atomic_or_fetch(&c->exit_request, 2, __ATOMIC_RELAXED);
		reclaim_retired(bc);
	}
	pthread_mutex_unlock(&bc->lock);
}

void block_cache_attach(struct block_cache *bc, struct vcpu *cpu)
{
	pthread_mutex_lock(&bc->lock);
	cpu->cache_next = bc->vcpus;
	bc->vcpus = cpu;
	cpu->seen_epoch = bc->epoch;
	pthread_mutex_unlock(&bc->lock);
}

void block_cache_detach(struct block_cache *bc, struct vcpu *cpu)
{
	pthread_mutex_lock(&bc->lock);
	for (struct vcpu **pp = &bc->vcpus; *pp; pp = &(*pp)->cache_next)
		if (*pp == cpu) {
			*pp = cpu->cache_next;
			break;
		}
	pthread_mutex_unlock(&bc->lock);
}

void vcpu_sync_epoch_slow(struct vcpu *cpu)
{
	memset(cpu->jcache, 0, JCACHE_SIZE * sizeof(*cpu->jcache));
	cpu->seen_epoch = cpu->cache->epoch;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool block_cache_epoch_changed(const struct vcpu *cpu)
{
	return cpu->seen_epoch != cpu->cache->epoch;
}

/* Raise the fault for fetching code at @gva (not executable or not mapped). */
__attribute__((noreturn)) static void fetch_fault(struct vcpu *cpu, uint64_t gva)
{
	if (!is_canonical(gva))
		cpu_raise(cpu, EXC_GP, 0, 0);
	cpu_raise(cpu, EXC_PF,
		  PFEC_I | PFEC_U | (mem_prot(cpu->mem, gva) >= 0 ? PFEC_P : 0), gva);
}

static int page_executable(struct vcpu *cpu, uint64_t gva)
{
	int prot;
	if (gva >= cpu->mem_limit)
		return 0;
	prot = mem_prot(cpu->mem, gva);
	return prot >= 0 && (prot & GPROT_EXEC);
}

/*
 * Flags an instruction certainly overwrites (kill) and those it writes at all, from Zydis's
 * per-instruction flag table. A write that depends on a run-time count (shift by CL or by an
 * immediate that masks to 0, a REP-prefixed CMPS/SCAS with RCX possibly 0) kills nothing.
 */
static void flag_effects(const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *ops,
			 uint32_t *read, uint32_t *written, uint32_t *kill)
{
	const ZydisAccessedFlags *f = zi->cpu_flags;
	*read = f ? f->tested : FLAGS_ARITH;
	*written = f ? (f->modified | f->set_0 | f->set_1 | f->undefined) : FLAGS_ARITH;
	*kill = *written;
	if (zi->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE))
		*kill = 0;
	switch (zi->mnemonic) {
	case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR:
	case ZYDIS_MNEMONIC_ROL: case ZYDIS_MNEMONIC_ROR:
	case ZYDIS_MNEMONIC_RCL: case ZYDIS_MNEMONIC_RCR: case ZYDIS_MNEMONIC_SHLD:
	case ZYDIS_MNEMONIC_SHRD: {
		const ZydisDecodedOperand *c = &ops[zi->operand_count_visible - 1];
		unsigned mask = zi->operand_width == 64 ? 63 : 31;
		unsigned cnt = (unsigned)(c->imm.value.u & mask);
		if (zi->operand_count_visible < 2 || c->type != ZYDIS_OPERAND_TYPE_IMMEDIATE ||
		    cnt == 0)
			*kill = 0;
		/* RCL/RCR of 8/16 bits rotate through CF mod 9/17: a multiple writes nothing */
		else if ((zi->mnemonic == ZYDIS_MNEMONIC_RCL || zi->mnemonic == ZYDIS_MNEMONIC_RCR) &&
			 zi->operand_width <= 16 && cnt % (zi->operand_width + 1u) == 0)
			*kill = 0;
		/* ROL/ROR by an immediate other than 1 leave OF as it was on Intel hardware */
		else if ((zi->mnemonic == ZYDIS_MNEMONIC_ROL || zi->mnemonic == ZYDIS_MNEMONIC_ROR) &&
			 cnt != 1)
			*kill &= FLAG_CF;
		break;
	}
	default:
		break;
	}
	*read &= FLAGS_ARITH;
	*written &= FLAGS_ARITH;
	*kill &= FLAGS_ARITH;
}

/*
 * Backward liveness over the block: an instruction none of whose written flags is read before
 * being overwritten later in the block can use a handler that skips flag computation. All
 * flags are live at the block's exit. (A fault in the middle of a block may therefore expose
 * flags not yet updated by an earlier instruction whose flags were dead; see architecture.md.)
 */
static void specialise(struct insn *buf, uint32_t n, const uint32_t *rd, const uint32_t *wr,
		       const uint32_t *kill, uint32_t live_out)
{
	uint32_t live = live_out;
	for (uint32_t i = n; i-- > 0;) {
		insn_fn fn;
		if (buf[i].fn != op_undefined) {
			fn = NULL;
			/* a flag-setting instruction right before the closing Jcc, whose flags are
			 * dead after it: one handler computes the condition and branches */
			if (i == n - 2 && (wr[i] & live_out) == 0)
				fn = fastpath_select_fused(&buf[i], &buf[i + 1]);
			if (!fn)
				fn = fastpath_select(&buf[i], (wr[i] & live) == 0);
			if (fn)
				buf[i].fn = fn;
		}
		live = (live & ~kill[i]) | rd[i];
	}
}

#define LOOKAHEAD_INSNS 16

/*
 * Flags that code starting at @gva may read before overwriting them (all of them when that is
 * not known). Used for the flags live at a block's exit. The pages looked at are returned in
 * @pages (up to 2) so the block is invalidated if that code changes.
 */
static uint32_t successor_reads(struct vcpu *cpu, uint64_t gva, uint64_t *pages, int *nr_pages)
{
	uint32_t reads = 0, killed = 0;
	for (int k = 0; k < LOOKAHEAD_INSNS; k++) {
		ZydisDecodedInstruction zi;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		uint64_t page = gva & GUEST_PAGE_MASK, avail = GUEST_PAGE_SIZE - (gva - page);
		uint32_t rd, wr, kl;
		uint8_t bytes[16];

		if (!page_executable(cpu, gva) || mem_is_shared(cpu->mem, gva))
			return FLAGS_ARITH;
		if (*nr_pages == 0 || pages[*nr_pages - 1] != page) {
			if (*nr_pages == 2)
				return FLAGS_ARITH;
			pages[(*nr_pages)++] = page;
		}
		if (avail < 15)
			return FLAGS_ARITH; /* keep the look-ahead on one page per step */
		memcpy(bytes, cpu->mem_base + gva, 15);
		if (ZYAN_FAILED(ZydisDecoderDecodeFull(&decoder, bytes, 15, &zi, ops)))
			return FLAGS_ARITH;
		flag_effects(&zi, ops, &rd, &wr, &kl);
		reads |= rd & ~killed;
		killed |= kl;
		if (killed == FLAGS_ARITH)
			return reads;
		if (ends_block(&zi, ops))
			break;
		gva += zi.length;
	}
	return reads | (FLAGS_ARITH & ~killed);
}

/* Flags live when the block ends with @last: what its successors may read. */
static uint32_t block_live_out(struct vcpu *cpu, const struct insn *last, uint64_t end,
			       uint64_t *pages, int *nr_pages)
{
	uint64_t target = (uint64_t)last->op[0].disp;
	if (!(last->flags & INSN_END) || last->nops != 1 || last->op[0].kind != OPK_IMM ||
	    !is_canonical(target))
		return FLAGS_ARITH;
	switch (last->mnemonic) {
	case ZYDIS_MNEMONIC_JMP:
	case ZYDIS_MNEMONIC_CALL:
		return successor_reads(cpu, target, pages, nr_pages);
	case ZYDIS_MNEMONIC_JO: case ZYDIS_MNEMONIC_JNO: case ZYDIS_MNEMONIC_JB:
	case ZYDIS_MNEMONIC_JNB: case ZYDIS_MNEMONIC_JZ: case ZYDIS_MNEMONIC_JNZ:
	case ZYDIS_MNEMONIC_JBE: case ZYDIS_MNEMONIC_JNBE: case ZYDIS_MNEMONIC_JS:
	case ZYDIS_MNEMONIC_JNS: case ZYDIS_MNEMONIC_JP: case ZYDIS_MNEMONIC_JNP:
	case ZYDIS_MNEMONIC_JL: case ZYDIS_MNEMONIC_JNL: case ZYDIS_MNEMONIC_JLE:
	case ZYDIS_MNEMONIC_JNLE:
		return successor_reads(cpu, target, pages, nr_pages) |
		       successor_reads(cpu, end, pages + 2, nr_pages + 1);
	default:
		return FLAGS_ARITH;
	}
}

/* An instruction Zydis cannot decode: #UD when reached, and the end of its block. */
static void undecodable(struct insn *in, uint32_t *rd, uint32_t *wr, uint32_t *kill)
{
	memset(in, 0, sizeof(*in));
	*rd = FLAGS_ARITH;
	*wr = *kill = 0;
	in->fn = op_undefined;
	in->len = 1;
	in->flags = INSN_END;
}

/* A valid block of the @n decoded instructions in @buf starting at @gva, for vCPUs with block
 * key @key, entered in the hash table (the caller holds the lock and indexes its pages). */
static struct block *block_new(struct block_cache *bc, uint64_t gva, uint32_t key,
			       struct insn *buf, uint32_t n)
{
	struct block *b = malloc(sizeof(*b) + n * sizeof(struct insn));
	if (!b)
		abort();
	memset(b, 0, sizeof(*b));
	b->gva = gva;
	b->nr = n;
	b->end = gva;
	b->key = key;
	for (uint32_t i = 0; i < n; i++) {
		b->end += buf[i].len;
		buf[i].end_off = (uint16_t)(b->end - gva);
	}
	memcpy(b->insns, buf, n * sizeof(struct insn));
	b->valid = 1;
	b->hash_next = bc->hash[hash_gva(gva)];
	bc->hash[hash_gva(gva)] = b;
	return b;
}

static struct block *translate(struct vcpu *cpu, struct block_cache *bc, uint64_t gva)
{
	struct insn buf[BLOCK_MAX_INSNS];
	uint32_t fl_rd[BLOCK_MAX_INSNS], fl_wr[BLOCK_MAX_INSNS], fl_kill[BLOCK_MAX_INSNS];
	uint64_t pc = gva, first_page = gva & GUEST_PAGE_MASK, last_page;
	uint64_t succ_pages[4];
	int nr_succ_pages[2] = { 0, 0 };
	uint32_t n = 0, live_out;
	struct block *b;

	if (!page_executable(cpu, gva))
		fetch_fault(cpu, gva);
	while (n < BLOCK_MAX_INSNS) {
		ZydisDecodedInstruction zi;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		uint64_t avail = GUEST_PAGE_SIZE - (pc & ~GUEST_PAGE_MASK);
		uint8_t bytes[16];
		ZyanStatus st;

		if (avail < 15 && page_executable(cpu, (pc & GUEST_PAGE_MASK) + GUEST_PAGE_SIZE))
			avail = 15;
		if (avail > 15)
			avail = 15;
		memcpy(bytes, cpu->mem_base + pc, avail);
		st = ZydisDecoderDecodeFull(&decoder, bytes, avail, &zi, ops);
		if (st == ZYDIS_STATUS_NO_MORE_DATA) {
			if (n)
				break; /* let the next block raise the fetch fault */
			fetch_fault(cpu, (pc & GUEST_PAGE_MASK) + GUEST_PAGE_SIZE);
		}
		if (ZYAN_FAILED(st)) {
			undecodable(&buf[n], &fl_rd[n], &fl_wr[n], &fl_kill[n]);
			n++;
			break;
		}
		fill_insn(&zi, ops, pc, &buf[n]);
		flag_effects(&zi, ops, &fl_rd[n], &fl_wr[n], &fl_kill[n]);
		pc += zi.length;
		if (buf[n++].flags & INSN_END)
			break;
		if ((pc & GUEST_PAGE_MASK) != first_page)
			break;
	}
	buf[n - 1].flags |= INSN_LAST;
	live_out = block_live_out(cpu, &buf[n - 1], pc, succ_pages, nr_succ_pages);
	specialise(buf, n, fl_rd, fl_wr, fl_kill, live_out);
	b = block_new(bc, gva, 0, buf, n);
	if (mem_is_shared(cpu->mem, gva) || mem_is_shared(cpu->mem, b->end - 1)) {
		uint8_t *copy = malloc(b->end - gva);
		if (!copy)
			abort();
		memcpy(copy, cpu->mem_base + gva, b->end - gva);
		b->shared_copy = copy;
	}
	last_page = (b->end - 1) & GUEST_PAGE_MASK;
	page_add(bc, first_page, b);
	mem_protect_code_page(cpu->mem, first_page);
	if (last_page != first_page) {
		page_add(bc, last_page, b);
		mem_protect_code_page(cpu->mem, last_page);
	}
	/* the flag liveness above assumed what the successors' code does: rewriting it must
	 * drop this block too */
	for (int k = 0; k < 4; k++) {
		uint64_t p;
		int dup = 0;
		if (k % 2 >= nr_succ_pages[k / 2])
			continue;
		p = succ_pages[k];
		for (int j = 0; j < k; j++)
			dup |= j % 2 < nr_succ_pages[j / 2] && succ_pages[j] == p;
		if (dup || p == first_page || p == last_page)
			continue;
		page_add(bc, p, b);
		mem_protect_code_page(cpu->mem, p);
	}
	bc->nr_blocks++;
	return b;
}

/* ---- system mode ------------------------------------------------------------------------ */

/* CR0.TS/EM and CR4.OSFXSR for x87/MMX/SSE instructions (SDM Vol. 3A 2.5, Table 2-2; 13.1). */
static void op_device_na(struct vcpu *cpu, const struct insn *in)
{
	cpu_raise(cpu, EXC_NM, 0, 0);
}

/*
 * Does the instruction use x87, MMX or SSE state (the ones CR0.TS/EM and CR4.OSFXSR gate)?
 * Decided by its register operands (hidden ones included: MXCSR, the x87 status word), so that
 * PREFETCHh, the fences, CLFLUSH, MOVNTI, CRC32 and POPCNT, which Zydis files under SSE but
 * which touch no such state, are not affected (SDM Vol. 3A 2.5 "CR4.OSFXSR", 13.1.3, Table
 * 2-2). *x87: the x87/MMX side; *mmx: uses MMX registers.
 */
static bool fpu_class(const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *ops,
		      bool *x87, bool *mmx)
{
	bool xmm = false;
	*x87 = *mmx = false;
	if (zi->mnemonic == ZYDIS_MNEMONIC_FXSAVE || zi->mnemonic == ZYDIS_MNEMONIC_FXSAVE64 ||
	    zi->mnemonic == ZYDIS_MNEMONIC_FXRSTOR || zi->mnemonic == ZYDIS_MNEMONIC_FXRSTOR64)
		return true;
	if (zi->meta.isa_ext == ZYDIS_ISA_EXT_X87) {
		*x87 = true;
		return zi->mnemonic != ZYDIS_MNEMONIC_FWAIT;
	}
	for (unsigned i = 0; i < zi->operand_count; i++) {
		if (ops[i].type != ZYDIS_OPERAND_TYPE_REGISTER)
			continue;
		switch (ZydisRegisterGetClass(ops[i].reg.value)) {
		case ZYDIS_REGCLASS_XMM:
			xmm = true;
			break;
		case ZYDIS_REGCLASS_MMX:
			*mmx = *x87 = true;
			break;
		case ZYDIS_REGCLASS_X87:
			*x87 = true;
			break;
		default:
			if (ops[i].reg.value == ZYDIS_REGISTER_MXCSR)
				xmm = true;
			break;
		}
	}
	return xmm || *x87;
}

/* Choose the system-mode handler of a decoded instruction (after fill_insn). */
static void sys_select(const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *ops,
		       uint32_t key, struct insn *in)
{
	bool x87, mmx;
	if (sys_handlers[zi->mnemonic]) {
		in->fn = sys_handlers[zi->mnemonic];
		in->flags |= INSN_END;
	}
	if ((key & BKEY_MODE) != VCPU_MODE_LONG64 && mode32_handlers[zi->mnemonic])
		in->fn = mode32_handlers[zi->mnemonic];
	if (zi->mnemonic == ZYDIS_MNEMONIC_MOV &&
	    (in->op[0].kind == OPK_CR || in->op[1].kind == OPK_CR)) {
		in->fn = sysctl_mov_cr;
		in->flags |= INSN_END;
	} else if (zi->mnemonic == ZYDIS_MNEMONIC_MOV &&
		   (in->op[0].kind == OPK_DR || in->op[1].kind == OPK_DR)) {
		in->fn = sysctl_mov_dr;
		in->flags |= INSN_END;
	} else {
		insn_fn f = sys_seg_select(in);
		if (f) {
			in->fn = f;
			in->flags |= INSN_END;
		}
	}
	if ((key & (BKEY_TS | BKEY_EM | BKEY_NOFXSR)) && fpu_class(zi, ops, &x87, &mmx)) {
		/* EM: x87 -> #NM, MMX/SSE -> #UD; else TS: #NM; OSFXSR = 0: SSE -> #UD */
		if ((key & BKEY_EM) && (mmx || !x87))
			in->fn = op_undefined;
		else if (key & (BKEY_EM | BKEY_TS))
			in->fn = op_device_na;
		else if (!x87)
			in->fn = op_undefined;
		in->flags |= INSN_END;
	} else if (zi->mnemonic == ZYDIS_MNEMONIC_FWAIT && (key & BKEY_TS) && (key & BKEY_MP)) {
		in->fn = op_device_na;
		in->flags |= INSN_END;
	}
}

static struct block *translate_sys(struct vcpu *cpu, struct block_cache *bc, uint64_t gva,
				   uint64_t gpa)
{
	struct insn buf[BLOCK_MAX_INSNS];
	uint32_t fl_rd[BLOCK_MAX_INSNS], fl_wr[BLOCK_MAX_INSNS], fl_kill[BLOCK_MAX_INSNS];
	uint32_t key = cpu->block_key, n = 0, max = (key & BKEY_STEP) ? 1 : BLOCK_MAX_INSNS;
	ZydisDecoder *dec = (key & BKEY_MODE) == VCPU_MODE_LONG64 ? &decoder : &decoder32;
	uint64_t pc = gva, page = gva & GUEST_PAGE_MASK, gpa2 = gpa & GUEST_PAGE_MASK;
	const uint8_t *hva = sys_fetch_page(cpu, gva, NULL);
	struct block *b;

	while (n < max) {
		ZydisDecodedInstruction zi;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		uint64_t off = pc - page, avail = GUEST_PAGE_SIZE - off;
		uint8_t bytes[16];
		ZyanStatus st;

		if (avail > 15)
			avail = 15;
		memcpy(bytes, hva + off, avail);
		st = ZydisDecoderDecodeFull(dec, bytes, avail, &zi, ops);
		if (st == ZYDIS_STATUS_NO_MORE_DATA && avail < 15) {
			/* the instruction continues on the next page: it must start a block of its
			 * own, so a fault fetching that page is reported at the instruction */
			uint64_t g2;
			const uint8_t *h2;
			if (n)
				break;
			h2 = sys_fetch_page(cpu, page + GUEST_PAGE_SIZE, &g2);
			memcpy(bytes + avail, h2, 15 - avail);
			gpa2 = g2;
			st = ZydisDecoderDecodeFull(dec, bytes, 15, &zi, ops);
			max = 1;
		}
		if (ZYAN_FAILED(st)) {
			undecodable(&buf[n], &fl_rd[n], &fl_wr[n], &fl_kill[n]);
			n++;
			break;
		}
		fill_insn(&zi, ops, pc, &buf[n]);
		sys_select(&zi, ops, key, &buf[n]);
		flag_effects(&zi, ops, &fl_rd[n], &fl_wr[n], &fl_kill[n]);
		pc += zi.length;
		if (buf[n++].flags & INSN_END)
			break;
		if ((pc & GUEST_PAGE_MASK) != page)
			break;
	}
	buf[n - 1].flags |= INSN_LAST;
	/* the fast-path handlers are 64-bit-mode forms; no successor look-ahead here */
	if ((key & BKEY_MODE) == VCPU_MODE_LONG64)
		specialise(buf, n, fl_rd, fl_wr, fl_kill, FLAGS_ARITH);
	b = block_new(bc, gva, key, buf, n);
	b->phys = gpa;
	b->phys2 = gpa2;
	page_add(bc, gpa & GUEST_PAGE_MASK, b);
	sys_code_page_added(cpu, gpa);
	if (gpa2 != (gpa & GUEST_PAGE_MASK)) {
		page_add(bc, gpa2, b);
		sys_code_page_added(cpu, gpa2);
	}
	bc->nr_blocks++;
	return b;
}

static struct block *block_lookup_sys(struct vcpu *cpu, uint64_t gva)
{
	struct block_cache *bc = cpu->cache;
	struct block *b;
	uint64_t gpa;

	sys_fetch_page(cpu, gva, &gpa); /* faults (#PF, #GP) are the instruction fetch's */
	gpa += gva & ~GUEST_PAGE_MASK;
	pthread_mutex_lock(&bc->lock);
	cpu->cache_locked = 1;
	for (b = bc->hash[hash_gva(gva)]; b; b = b->hash_next) {
		uint64_t g2;
		if (b->gva != gva || b->key != cpu->block_key || b->phys != gpa)
			continue;
		if (b->phys2 == (gpa & GUEST_PAGE_MASK))
			break;
		/* its one instruction straddles two pages: the second must map the same */
		sys_fetch_page(cpu, (gva & GUEST_PAGE_MASK) + GUEST_PAGE_SIZE, &g2);
		if (g2 == b->phys2)
			break;
	}
	if (!b)
		b = translate_sys(cpu, bc, gva, gpa);
	cpu->cache_locked = 0;
	pthread_mutex_unlock(&bc->lock);
	return b;
}

struct block *block_lookup(struct vcpu *cpu, uint64_t gva)
{
	struct block_cache *bc = cpu->cache;
	struct block *b;

	if (cpu->tlb)
		return block_lookup_sys(cpu, gva);
	pthread_mutex_lock(&bc->lock);
	for (b = bc->hash[hash_gva(gva)]; b; b = b->hash_next)
		if (b->gva == gva)
			break;
	if (!b) {
		/* translate() may raise a fetch fault: drop the lock via the unwind path. */
		cpu->cache_locked = 1;
		b = translate(cpu, bc, gva);
		cpu->cache_locked = 0;
	}
	pthread_mutex_unlock(&bc->lock);
	return b;
}

bool block_stale(struct vcpu *cpu, struct block *b)
{
	if (!memcmp(b->shared_copy, cpu->mem_base + b->gva, b->end - b->gva))
		return false;
	block_cache_invalidate_page(cpu->cache, b->gva & GUEST_PAGE_MASK);
	block_cache_invalidate_page(cpu->cache, (b->end - 1) & GUEST_PAGE_MASK);
	return true;
}

void block_cache_unlock_after_fault(struct vcpu *cpu)
{
	if (cpu->cache_locked) {
		cpu->cache_locked = 0;
		pthread_mutex_unlock(&cpu->cache->lock);
	}
}

void block_cache_fork_child(struct block_cache *bc, struct vcpu *self)
{
	pthread_mutex_init(&bc->lock, NULL);
	/* the other threads' vCPUs did not survive the fork */
	bc->vcpus = NULL;
	if (self) {
		self->cache_next = NULL;
		bc->vcpus = self;
	}
}

static void free_chain(struct block *b, int via_hash)
{
	while (b) {
		struct block *n = via_hash ? b->hash_next : b->page_next;
		free((void *)b->shared_copy);
		free(b);
		b = n;
	}
}

void block_cache_destroy(struct block_cache *bc)
{
	if (!bc)
		return;
	for (size_t i = 0; i < (1u << HASH_BITS); i++)
		free_chain(bc->hash[i], 1);
	free_chain(bc->retired, 0);
	for (size_t i = 0; i < (1u << PAGE_HASH_BITS); i++)
		for (struct page_blocks *p = bc->pages[i], *n; p; p = n) {
			n = p->next;
			free(p->blocks);
			free(p);
		}
	if (bc->mem)
		mem_set_code_invalidator(bc->mem, NULL, NULL);
	pthread_mutex_destroy(&bc->lock);
	free(bc);
}
