/* SPDX-License-Identifier: MIT */
/*
 * Port I/O in system mode: IN, OUT, INS, OUTS (with REP) through the machine's bus, and the I/O
 * protection of protected mode (Intel SDM Vol. 1 chapter 19 "Input/Output", 19.5 "Protected-Mode
 * I/O"; Vol. 2 IN, OUT, INS/INSB/INSW/INSD, OUTS/OUTSB/OUTSW/OUTSD).
 *
 * Protection (Vol. 1 19.5.1-19.5.2): with CPL <= IOPL every port is accessible; otherwise the
 * I/O permission bit map of the current TSS decides: the 16-bit word at TSS offset 66H gives the
 * map's offset, one bit per port, and every bit covering the access must be 0. The processor
 * reads the two bytes holding the first bit; if either lies beyond the TSS limit (or the TSS is
 * too short to hold the offset, or TR is no 32/64-bit TSS), the access raises #GP(0). The TSS is
 * read as an implicit supervisor access. Virtual-8086 mode does not exist here (VM is never set).
 *
 * Segments: like the rest of the vCPU's 32-bit support, ES and DS are taken as flat (base 0);
 * an FS or GS override of the OUTS source adds fs_base / gs_base. 16-bit addressing (67H in
 * 32-bit code) is not supported.
 */
#include "omnivisor/bus.h"
#include "sys.h"

/* Iterations of one REP INS/OUTS execution before the instruction is restarted (RIP rewound,
 * registers consistent), so a huge RCX cannot keep the vCPU from interrupts and kicks (the SDM
 * allows interrupts between iterations: Vol. 2 REP, "interrupts and exceptions"). */
#define REP_IO_CHUNK 4096

/* #GP(0) unless the current privilege may access ports [port, port + len). */
static void io_permission(struct vcpu *cpu, uint16_t port, unsigned len)
{
	struct vcpu_sys *s = cpu->sys;
	unsigned iopl = (unsigned)(cpu->rflags >> 12) & 3;
	unsigned type = s->tr.attr & (SEG_ATTR_S | SEG_ATTR_TYPE);
	uint16_t map, bits;
	uint32_t off;

	if (s->cpl <= iopl)
		return;
	/* an available or busy 32-bit / 64-bit TSS (types 9, 11), present, with room for the
	 * map offset at 66H-67H */
	if ((type != 0x9 && type != 0xb) || !(s->tr.attr & SEG_ATTR_P) || s->tr.limit < 0x67)
		cpu_gp0(cpu);
	sys_lin_read(cpu, s->tr.base + 0x66, &map, 2, 0);
	off = (uint32_t)map + port / 8;
	if (off + 1 > s->tr.limit)
		cpu_gp0(cpu);
	sys_lin_read(cpu, s->tr.base + off, &bits, 2, 0);
	if (bits & (((1u << len) - 1) << (port & 7)))
		cpu_gp0(cpu);
}

static uint32_t port_read(struct vcpu *cpu, uint16_t port, unsigned len)
{
	struct bus *bus = cpu->sys->phys->bus;
	uint32_t v = 0xffffffffu; /* no bus: nothing answers, the lines float high */

	if (bus)
		bus_pio_read(bus, port, &v, len);
	cpu->sys->nr_pio++;
	return v & (uint32_t)size_mask(len);
}

static void port_write(struct vcpu *cpu, uint16_t port, uint32_t v, unsigned len)
{
	struct bus *bus = cpu->sys->phys->bus;

	if (bus)
		bus_pio_write(bus, port, &v, len);
	cpu->sys->nr_pio++;
}

/* Port operand of IN/OUT: imm8 or DX. */
static uint16_t port_operand(const struct vcpu *cpu, const struct operand *o)
{
	if (o->kind == OPK_IMM)
		return (uint16_t)((uint64_t)o->disp & 0xff);
	return (uint16_t)cpu->gpr[R_RDX];
}

/* IN AL/AX/EAX, imm8/DX. A 32-bit IN zero-extends into RAX; 8/16-bit ones merge. */
static void op_in(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *dst = &in->op[0];
	unsigned len = dst->size;
	uint16_t port = port_operand(cpu, &in->op[1]);

	if (dst->kind != OPK_GPR || (len != 1 && len != 2 && len != 4))
		cpu_ud(cpu);
	io_permission(cpu, port, len);
	gpr_write(cpu, dst, port_read(cpu, port, len));
}

/* OUT imm8/DX, AL/AX/EAX. */
static void op_out(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *src = &in->op[1];
	unsigned len = src->size;
	uint16_t port = port_operand(cpu, &in->op[0]);

	if (src->kind != OPK_GPR || (len != 1 && len != 2 && len != 4))
		cpu_ud(cpu);
	io_permission(cpu, port, len);
	port_write(cpu, port, (uint32_t)gpr_read(cpu, src), len);
}

/* Element size of INSB/INSW/INSD/OUTSB/OUTSW/OUTSD. */
static unsigned string_size(const struct insn *in)
{
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_INSB:
	case ZYDIS_MNEMONIC_OUTSB:
		return 1;
	case ZYDIS_MNEMONIC_INSW:
	case ZYDIS_MNEMONIC_OUTSW:
		return 2;
	default:
		return 4;
	}
}

/* The index registers and the count at the address size (64 or 32 bits). */
static uint64_t addr_mask(const struct insn *in)
{
	return (in->flags & INSN_ASIZE32) ? 0xffffffffULL : ~0ULL;
}

static void index_step(struct vcpu *cpu, const struct insn *in, unsigned r, unsigned size)
{
	uint64_t m = addr_mask(in);
	int64_t d = (cpu->rflags & FLAG_DF) ? -(int64_t)size : (int64_t)size;
	/* a 32-bit address size writes the 32-bit register, which zero-extends (SDM Vol. 1 3.4.1.1) */
	cpu->gpr[r] = (cpu->gpr[r] + (uint64_t)d) & m;
}

/*
 * INS/OUTS, REP or not. Per element: the port access and the memory access, then RDI/RSI and
 * (with REP) RCX are updated, so a fault on the memory side leaves the registers describing the
 * elements not yet done (the fault reports the instruction, which then resumes). For INS the
 * port is read before the memory write is known to succeed: a faulting INS consumes one element
 * from the device, as on hardware that performs the I/O read first.
 */
static void op_ins_outs(struct vcpu *cpu, const struct insn *in, bool is_in)
{
	unsigned size = string_size(in);
	uint16_t port = (uint16_t)cpu->gpr[R_RDX];
	uint64_t m = addr_mask(in);
	bool rep = in->flags & (INSN_REP | INSN_REPNE);
	uint64_t sbase = 0;

	if (!is_in && in->seg)
		sbase = in->seg == SEG_FS ? cpu->fs_base : cpu->gs_base;
	if (rep && (cpu->gpr[R_RCX] & m) == 0)
		return;
	io_permission(cpu, port, size);
	for (unsigned n = 0;; n++) {
		if (is_in) {
			uint32_t v = port_read(cpu, port, size);
			mem_write_sz(cpu, cpu->gpr[R_RDI] & m, v, size);
			index_step(cpu, in, R_RDI, size);
		} else {
			uint32_t v = (uint32_t)mem_read_sz(cpu, sbase + (cpu->gpr[R_RSI] & m), size);
			port_write(cpu, port, v, size);
			index_step(cpu, in, R_RSI, size);
		}
		if (!rep)
			return;
		uint64_t c = (cpu->gpr[R_RCX] - 1) & m;
		cpu->gpr[R_RCX] = c;
		if (c == 0)
			return;
		if (n + 1 >= REP_IO_CHUNK || cpu->exit_request) {
			cpu->rip -= in->len; /* resume the remaining iterations later */
			return;
		}
	}
}

static void op_ins(struct vcpu *cpu, const struct insn *in)
{
	op_ins_outs(cpu, in, true);
}

static void op_outs(struct vcpu *cpu, const struct insn *in)
{
	op_ins_outs(cpu, in, false);
}

const struct insn_entry io_insns[] = {
	{ ZYDIS_MNEMONIC_IN, op_in },
	{ ZYDIS_MNEMONIC_OUT, op_out },
	{ ZYDIS_MNEMONIC_INSB, op_ins },
	{ ZYDIS_MNEMONIC_INSW, op_ins },
	{ ZYDIS_MNEMONIC_INSD, op_ins },
	{ ZYDIS_MNEMONIC_OUTSB, op_outs },
	{ ZYDIS_MNEMONIC_OUTSW, op_outs },
	{ ZYDIS_MNEMONIC_OUTSD, op_outs },
	{ 0, NULL },
};
