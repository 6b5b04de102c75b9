/* SPDX-License-Identifier: MIT */
/*
 * String instructions: MOVS STOS LODS SCAS CMPS in byte/word/dword/qword sizes, with
 * REP/REPE/REPNE, DF, 32-bit address size (67 prefix) and an FS/GS override of the source
 * (RSI) segment. Intel SDM Vol. 2 MOVS/STOS/LODS/SCAS/CMPS and REP/REPE/REPNE; Vol. 1 7.3.9.
 *
 * Repeated forms update RSI/RDI/RCX after every element (or every chunk, see below), so a fault
 * leaves the registers describing exactly the elements already done and re-executing the
 * instruction resumes the operation, as on hardware (SDM Vol. 2 REP: "the instruction may be
 * interrupted ... the registers are updated to reflect the progress"). A pending vcpu_kick()
 * interrupts a long repetition the same way: RIP goes back to the instruction, which continues
 * when the vCPU runs again.
 *
 * Fast paths (64-bit addresses, DF=0, REP MOVS/STOS): per pair of guest pages, the first
 * element is done the slow way (it raises any fault at the exact element address), the rest of
 * the elements within the same pages is one memmove/fill on the host. A forward-overlapping
 * MOVS is cut into pieces no longer than the distance between source and destination, so the
 * result equals element-by-element copying; overlap closer than one element is done element by
 * element.
 */
#include <stdbool.h>

#include "cpu.h"
#include "omnivisor/memory.h"

enum str_op { S_MOVS, S_STOS, S_LODS, S_SCAS, S_CMPS };

#define STR_PAGE GUEST_PAGE_SIZE

static inline uint64_t src_seg_base(const struct vcpu *cpu, const struct insn *in)
{
	if (likely(!in->seg))
		return 0;
	return in->seg == SEG_FS ? cpu->fs_base : cpu->gs_base;
}

/* Add @delta to index register @r with the instruction's address size. */
static inline void idx_add(struct vcpu *cpu, unsigned r, int64_t delta, bool a32)
{
	if (a32)
		cpu->gpr[r] = (uint32_t)(cpu->gpr[r] + (uint64_t)delta);
	else
		cpu->gpr[r] += (uint64_t)delta;
}

static inline uint64_t idx_get(const struct vcpu *cpu, unsigned r, bool a32)
{
	return a32 ? (uint32_t)cpu->gpr[r] : cpu->gpr[r];
}

/*
 * One element of @op at source address @s (segment base included) and destination @d.
 * All memory accesses happen before any register or flag is written.
 */
static inline __attribute__((always_inline)) void str_elem(struct vcpu *cpu, enum str_op op,
							   unsigned es, uint64_t s, uint64_t d)
{
	uint64_t a, b;
	switch (op) {
	case S_MOVS:
		mem_write_sz(cpu, d, mem_read_sz(cpu, s, es), es);
		break;
	case S_STOS:
		mem_write_sz(cpu, d, cpu->gpr[R_RAX], es);
		break;
	case S_LODS:
		gpr_set(cpu, R_RAX, es, mem_read_sz(cpu, s, es));
		break;
	case S_SCAS:
		a = cpu->gpr[R_RAX] & size_mask(es);
		b = mem_read_sz(cpu, d, es);
		set_flags(cpu, FLAGS_ARITH, flags_sub(a, b, a - b, es));
		break;
	case S_CMPS:
		a = mem_read_sz(cpu, s, es);
		b = mem_read_sz(cpu, d, es);
		set_flags(cpu, FLAGS_ARITH, flags_sub(a, b, a - b, es));
		break;
	}
}

/* Step RSI and/or RDI past one element (or @n elements) in direction @step. */
static inline __attribute__((always_inline)) void str_advance(struct vcpu *cpu, enum str_op op,
							      int64_t delta, bool a32)
{
	if (op == S_MOVS || op == S_LODS || op == S_CMPS)
		idx_add(cpu, R_RSI, delta, a32);
	if (op != S_LODS)
		idx_add(cpu, R_RDI, delta, a32);
}

/* A vcpu_kick() arrived in the middle of a repetition: restart this instruction later. */
static inline bool str_interrupted(struct vcpu *cpu, const struct insn *in)
{
	if (likely(!cpu->exit_request))
		return false;
	cpu->rip -= in->len;
	return true;
}

static inline __attribute__((always_inline)) void fill(uint8_t *p, uint64_t v, unsigned es,
						       uint64_t n)
{
	switch (es) {
	case 1:
		memset(p, (int)(uint8_t)v, n);
		break;
	case 2: {
		uint16_t x = (uint16_t)v;
		for (uint64_t i = 0; i < n; i++)
			memcpy(p + 2 * i, &x, 2);
		break;
	}
	case 4: {
		uint32_t x = (uint32_t)v;
		for (uint64_t i = 0; i < n; i++)
			memcpy(p + 4 * i, &x, 4);
		break;
	}
	default:
		for (uint64_t i = 0; i < n; i++)
			memcpy(p + 8 * i, &v, 8);
		break;
	}
}

/* REP MOVS / REP STOS with 64-bit addresses and DF=0 (see the file comment). */
static inline __attribute__((always_inline)) void rep_fast(struct vcpu *cpu, const struct insn *in,
							   enum str_op op, unsigned es)
{
	uint64_t sbase = src_seg_base(cpu, in);
	uint64_t c;

	while ((c = cpu->gpr[R_RCX]) != 0) {
		uint64_t d = cpu->gpr[R_RDI], s = sbase + cpu->gpr[R_RSI];
		uint64_t n = (STR_PAGE - (d & (STR_PAGE - 1))) / es;
		if (op == S_MOVS) {
			uint64_t ns = (STR_PAGE - (s & (STR_PAGE - 1))) / es;
			if (ns < n)
				n = ns;
		}
		if (c < n)
			n = c;
		if (op == S_MOVS && d > s && d - s < n * es)
			n = (d - s) / es;
		/* system mode: an MMIO page is reached through a 512-byte bounce buffer */
		if (cpu->tlb && n * es > 512)
			n = 512 / es;
		if (n > 1) {
			uint64_t len = (n - 1) * es;
			uint8_t *hd = gva_ptr(cpu, d, (unsigned)(n * es), 1);
			const uint8_t *hs = op == S_MOVS ? gva_ptr(cpu, s, (unsigned)(n * es), 0) : NULL;
			/* The first element raises any fault at its exact address; the rest lies
			 * in the same pages. */
			str_elem(cpu, op, es, s, d);
			if (op == S_MOVS)
				memmove(hd + es, hs + es, len);
			else
				fill(hd + es, cpu->gpr[R_RAX], es, n - 1);
		} else {
			str_elem(cpu, op, es, s, d);
			n = 1;
		}
		str_advance(cpu, op, (int64_t)(n * es), false);
		cpu->gpr[R_RCX] = c - n;
		if (c != n && str_interrupted(cpu, in))
			return;
	}
}

/*
 * REPE/REPNE SCAS and CMPS: REPE (F3) stops when ZF=0, REPNE (F2) when ZF=1 (SDM Vol. 2
 * REP/REPE/REPZ/REPNE/REPNZ). The flags are those of the last comparison when the instruction
 * completes; when an element faults, Intel hardware leaves RFLAGS as it was before the
 * instruction (the registers still show the progress), so the flags are kept aside until the
 * loop ends.
 */
static inline __attribute__((always_inline)) void rep_compare(struct vcpu *cpu,
							      const struct insn *in,
							      enum str_op op, unsigned es,
							      int64_t delta, uint64_t sbase, bool a32)
{
	const bool stop_if_zf = in->flags & INSN_REPNE;
	uint64_t f = 0, a, b;
	bool any = false;

	for (;;) {
		uint64_t c = idx_get(cpu, R_RCX, a32);
		if (!c) {
			if (a32) /* ECX is written even then (see str_run) */
				cpu->gpr[R_RCX] = 0;
			break;
		}
		uint64_t d = idx_get(cpu, R_RDI, a32);
		if (op == S_CMPS)
			a = mem_read_sz(cpu, sbase + idx_get(cpu, R_RSI, a32), es);
		else
			a = cpu->gpr[R_RAX] & size_mask(es);
		b = mem_read_sz(cpu, d, es);
		f = flags_sub(a, b, a - b, es);
		any = true;
		str_advance(cpu, op, delta, a32);
		idx_add(cpu, R_RCX, -1, a32);
		if (!!(f & FLAG_ZF) == stop_if_zf)
			break;
		if (c != 1 && str_interrupted(cpu, in))
			return;
	}
	if (any)
		set_flags(cpu, FLAGS_ARITH, f);
}

static inline __attribute__((always_inline)) void str_run(struct vcpu *cpu, const struct insn *in,
							  enum str_op op, unsigned es)
{
	const bool a32 = in->flags & INSN_ASIZE32;
	const int64_t delta = (cpu->rflags & FLAG_DF) ? -(int64_t)es : (int64_t)es;
	const uint64_t sbase = src_seg_base(cpu, in);
	const unsigned rep = in->flags & (INSN_REP | INSN_REPNE);

	if (!rep) {
		str_elem(cpu, op, es, sbase + idx_get(cpu, R_RSI, a32), idx_get(cpu, R_RDI, a32));
		str_advance(cpu, op, delta, a32);
		return;
	}
	if ((op == S_MOVS || op == S_STOS) && !a32 && delta > 0) {
		rep_fast(cpu, in, op, es);
		return;
	}
	if (op == S_SCAS || op == S_CMPS) {
		rep_compare(cpu, in, op, es, delta, sbase, a32);
		return;
	}
	for (;;) {
		uint64_t c = idx_get(cpu, R_RCX, a32);
		if (!c) {
			/* With a 67 prefix and ECX=0, Intel hardware still writes ECX, and for
			 * MOVS/STOS also ESI/EDI (MOVS) and EDI (STOS): their upper halves are
			 * cleared (measured by the differential tests; the SDM is silent). */
			if (a32) {
				cpu->gpr[R_RCX] = 0;
				if (op == S_MOVS)
					cpu->gpr[R_RSI] = (uint32_t)cpu->gpr[R_RSI];
				if (op == S_MOVS || op == S_STOS)
					cpu->gpr[R_RDI] = (uint32_t)cpu->gpr[R_RDI];
			}
			return;
		}
		str_elem(cpu, op, es, sbase + idx_get(cpu, R_RSI, a32), idx_get(cpu, R_RDI, a32));
		str_advance(cpu, op, delta, a32);
		idx_add(cpu, R_RCX, -1, a32);
		if (c != 1 && str_interrupted(cpu, in))
			return;
	}
}

#define STR_HANDLER(name, op, es)                                                            \
	static void op_##name(struct vcpu *cpu, const struct insn *in)                      \
	{                                                                                    \
		str_run(cpu, in, op, es);                                                    \
	}
STR_HANDLER(movsb, S_MOVS, 1)
STR_HANDLER(movsw, S_MOVS, 2)
STR_HANDLER(movsq, S_MOVS, 8)
STR_HANDLER(stosb, S_STOS, 1)
STR_HANDLER(stosw, S_STOS, 2)
STR_HANDLER(stosd, S_STOS, 4)
STR_HANDLER(stosq, S_STOS, 8)
STR_HANDLER(lodsb, S_LODS, 1)
STR_HANDLER(lodsw, S_LODS, 2)
STR_HANDLER(lodsd, S_LODS, 4)
STR_HANDLER(lodsq, S_LODS, 8)
STR_HANDLER(scasb, S_SCAS, 1)
STR_HANDLER(scasw, S_SCAS, 2)
STR_HANDLER(scasd, S_SCAS, 4)
STR_HANDLER(scasq, S_SCAS, 8)
STR_HANDLER(cmpsb, S_CMPS, 1)
STR_HANDLER(cmpsw, S_CMPS, 2)
STR_HANDLER(cmpsq, S_CMPS, 8)

/*
 * MOVSD (A5) and CMPSD (A7) share their Zydis mnemonics with the SSE2 scalar-double
 * MOVSD/CMPSD, so they are exported for the decoder to pick by opcode map.
 */

void string_movsd(struct vcpu *cpu, const struct insn *in)
{
	str_run(cpu, in, S_MOVS, 4);
}

void string_cmpsd(struct vcpu *cpu, const struct insn *in)
{
	str_run(cpu, in, S_CMPS, 4);
}

const struct insn_entry string_insns[] = {
	{ ZYDIS_MNEMONIC_MOVSB, op_movsb },
	{ ZYDIS_MNEMONIC_MOVSW, op_movsw },
	{ ZYDIS_MNEMONIC_MOVSD, string_movsd },
	{ ZYDIS_MNEMONIC_MOVSQ, op_movsq },
	{ ZYDIS_MNEMONIC_STOSB, op_stosb },
	{ ZYDIS_MNEMONIC_STOSW, op_stosw },
	{ ZYDIS_MNEMONIC_STOSD, op_stosd },
	{ ZYDIS_MNEMONIC_STOSQ, op_stosq },
	{ ZYDIS_MNEMONIC_LODSB, op_lodsb },
	{ ZYDIS_MNEMONIC_LODSW, op_lodsw },
	{ ZYDIS_MNEMONIC_LODSD, op_lodsd },
	{ ZYDIS_MNEMONIC_LODSQ, op_lodsq },
	{ ZYDIS_MNEMONIC_SCASB, op_scasb },
	{ ZYDIS_MNEMONIC_SCASW, op_scasw },
	{ ZYDIS_MNEMONIC_SCASD, op_scasd },
	{ ZYDIS_MNEMONIC_SCASQ, op_scasq },
	{ ZYDIS_MNEMONIC_CMPSB, op_cmpsb },
	{ ZYDIS_MNEMONIC_CMPSW, op_cmpsw },
	{ ZYDIS_MNEMONIC_CMPSD, string_cmpsd },
	{ ZYDIS_MNEMONIC_CMPSQ, op_cmpsq },
	{ 0, NULL },
};
