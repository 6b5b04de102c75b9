/* SPDX-License-Identifier: MIT */
/*
 * The x87 FPU (Intel SDM Vol. 1 ch. 8) and the FPU/SSE state save and restore instructions
 * (FNSTENV/FLDENV, FNSAVE/FRSTOR, FXSAVE/FXRSTOR).
 *
 * Arithmetic is not emulated in C: bit-exact 80-bit results with the guest's precision and
 * rounding control, exception flags, C0-C3, stack faults, tags and the masked/unmasked
 * responses are what the host's own x87 unit produces. So every data instruction runs on the
 * host FPU: the guest x87 state is loaded into the host with FXRSTOR64, the very same
 * instruction (escape byte + ModRM, memory operands redirected to a bounce buffer at [rdx]) is
 * executed from a table of tiny stubs, and the state is stored back with FXSAVE64. The host
 * x87 is then emptied again (see ov_x87_host_exec), so host code never sees guest values.
 * That costs ~100 ns per instruction, so the common cases have fast paths: data movement that
 * cannot raise an exception (FLD/FILD/FST/FSTP/FXCH/FLD1/FLDZ/FCHS/FABS) is done in C, and the
 * basic arithmetic (FADD..FDIVR, all forms) runs on the host FPU as it stands, operands pushed
 * and popped, when the guest FCW equals the host's and no stack fault is possible (~10 ns).
 * Everything else, and every case a fast path is unsure of, takes the full state switch.
 *
 * Pending exceptions: the image given to the host has the exception flags, ES and B cleared,
 * so the host never takes #MF (SIGFPE); the guest's sticky flags are merged back afterwards
 * and ES/B recomputed as the hardware does (ES = B = some flag set and unmasked; checked on
 * this CPU: FLDCW, FLDENV, FXRSTOR and FNSTENV all recompute ES). A waiting instruction finding
 * ES set raises #MF before doing anything (SDM Vol. 1 8.7).
 *
 * Control instructions that only move state (FLDCW, FNSTCW, FNSTSW, FNCLEX, FNINIT, FLDENV,
 * FNSTENV, FRSTOR, FNSAVE, FXSAVE, FXRSTOR, FWAIT, EMMS) are done in C.
 *
 * FIP/FDP/FOP follow this CPU generation (CPUID.7.0:EBX[6] FDP_EXCPTN_ONLY and FCS/FDS
 * deprecated; FOP compatibility mode off): FIP = address of the last non-control x87
 * instruction; FOP and FDP only change when an instruction raises an unmasked exception;
 * FCS and FDS are stored as 0.
 */
#include "cpu.h"

/* Until cpu.h declares them (requested): state images for signal frames and FXSAVE. */
void cpu_fxsave_image(const struct vcpu *cpu, void *area, bool rex_w);
int cpu_fxrstor_image(struct vcpu *cpu, const void *area, bool rex_w);

/* FSW bits, SDM Vol. 1 8.1.3 */
#define FSW_IE 0x0001
#define FSW_DE 0x0002
#define FSW_ZE 0x0004
#define FSW_OE 0x0008
#define FSW_UE 0x0010
#define FSW_PE 0x0020
#define FSW_SF 0x0040
#define FSW_ES 0x0080
#define FSW_C0 0x0100
#define FSW_C1 0x0200
#define FSW_C2 0x0400
#define FSW_TOP 0x3800
#define FSW_C3 0x4000
#define FSW_B 0x8000
#define FSW_EXC 0x003f   /* the six maskable exception flags */
#define FSW_STICKY 0x007f /* flags an instruction can only set: exceptions + SF */

/* The 512-byte FXSAVE area, 64-bit (REX.W) layout. SDM Vol. 2A FXSAVE, Table 3-53. */
struct fxsave_area {
	uint16_t fcw, fsw;
	uint8_t ftw, rsv1;
	uint16_t fop;
	uint64_t fip, fdp;
	uint32_t mxcsr, mxcsr_mask;
	uint8_t st[8][16];
	uint8_t xmm[16][16];
	uint8_t rsv2[96];
} __attribute__((aligned(16)));

/* Bytes FXSAVE writes in 64-bit mode (0..415); 416..511 are left alone (checked on hardware). */
#define FXSAVE_STORED 416

/*
 * ov_x87_host_exec(img, stub, mem, flags): load @img into the host FPU (with the host's MXCSR),
 * optionally load the arithmetic flags from *@flags (nonnull), call @stub with RDX = @mem,
 * store the arithmetic flags back to *@flags, save the FPU into @img, and give the host back an
 * x87 unit its code can use: EMMS empties the stack (FNINIT costs ~50 ns here), FNCLEX only if
 * ES is set so no #MF can reach host code, FLDCW only if the guest FCW differs. The host FSW may
 * keep masked exception flags the guest instruction raised: nothing in the runner reads them.
 * Clobbers XMM0-15 and x87 (all caller-saved in the SysV ABI).
 *
 * Stubs: one x87 instruction followed by RET, 4 bytes each. ov_x87_reg_stubs[esc][modrm-0xC0]
 * are the register forms; ov_x87_mem_stubs[esc][reg] the memory forms with ModRM mod=00 rm=010
 * ([rdx]).
 */
__asm__(".pushsection .text\n"
	".p2align 4\n"
	".type ov_x87_host_exec, @function\n"
	"ov_x87_host_exec:\n"
	"	sub $24, %rsp\n"
	"	fnstcw (%rsp)\n"
	"	stmxcsr 24(%rdi)\n"
	"	fxrstor64 (%rdi)\n"
	"	test %rcx, %rcx\n"
	"	jz 1f\n"
	"	pushfq\n"
	"	pop %rax\n"
	"	and $~0x8d5, %rax\n"
	"	mov (%rcx), %r8\n"
	"	and $0x8d5, %r8\n"
	"	or %r8, %rax\n"
	"	push %rax\n"
	"	popfq\n"
	"	call *%rsi\n"
	"	pushfq\n"
	"	pop %rax\n"
	"	mov %rax, (%rcx)\n"
	"	jmp 2f\n"
	"1:	call *%rsi\n"
	"2:	fxsave64 (%rdi)\n"
	"	testb $0x80, 2(%rdi)\n" /* ES: unmasked exception pending */
	"	jz 3f\n"
	"	fnclex\n"              /* before EMMS and FLDCW, which would deliver it */
	"3:	emms\n"                /* all tags empty, TOP = 0 */
	"	mov (%rdi), %ax\n"
	"	cmp (%rsp), %ax\n"
	"	je 4f\n"
	"	fldcw (%rsp)\n"
	"4:	add $24, %rsp\n"
	"	ret\n"
	".size ov_x87_host_exec, .-ov_x87_host_exec\n"
	".p2align 4\n"
	"ov_x87_reg_stubs:\n"
	"	.irp esc, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf\n"
	"	.set modrm, 0xc0\n"
	"	.rept 64\n"
	"	.byte \\esc, modrm, 0xc3, 0xcc\n"
	"	.set modrm, modrm + 1\n"
	"	.endr\n"
	"	.endr\n"
	"ov_x87_mem_stubs:\n"
	"	.irp esc, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf\n"
	"	.irp reg, 0, 1, 2, 3, 4, 5, 6, 7\n"
	"	.byte \\esc, (\\reg << 3) | 2, 0xc3, 0xcc\n"
	"	.endr\n"
	"	.endr\n"
		/* ov_x87_fast: see below */
	".p2align 4\n"
	".type ov_x87_fast, @function\n"
	"ov_x87_fast:\n"
	"	fnstsw %ax\n"
	"	movzwl %ax, %r9d\n"
	"	test $1, %r8b\n"
	"	jz 1f\n"
	"	fldt 16(%rdi)\n"
	"1:	fldt (%rdi)\n"
	"	call *%rsi\n"
	"	fnstsw %ax\n"
	"	shl $16, %eax\n"
	"	or %r9d, %eax\n"
	"	fstpt (%rcx)\n"
	"	test $2, %r8b\n"
	"	jz 2f\n"
	"	fstpt 16(%rcx)\n"
	"2:	ret\n"
	".size ov_x87_fast, .-ov_x87_fast\n"
	".popsection\n");

extern void ov_x87_host_exec(struct fxsave_area *img, const void *stub, void *mem, uint64_t *flags)
	__attribute__((visibility("hidden")));
extern const uint8_t ov_x87_reg_stubs[8][64][4] __attribute__((visibility("hidden")));

/*
 * ov_x87_fast(in, stub, mem, out, mode): the arithmetic fast path, run on the host FPU as it is
 * (host FCW, empty stack). Pushes in[1] (if mode & 1) and in[0] (80-bit values, 16 bytes
 * apart), calls @stub with RDX = @mem, pops the result(s) into out[0] (and out[1] if mode & 2)
 * and returns the host FSW before (bits 15..0) and right after the operation (bits 31..16).
 */
extern uint32_t ov_x87_fast(const void *in, const void *stub, void *mem, void *out, unsigned mode)
	__attribute__((visibility("hidden")));
extern const uint8_t ov_x87_mem_stubs[8][8][4] __attribute__((visibility("hidden")));

/* ---------------------------------------------------------------------------------------- */
/* State helpers */

/* FCW as loaded: bits 15-13 and 7 read as 0, bit 6 as 1 (checked on hardware; SDM Vol. 1 8.1.5) */
static inline uint16_t fcw_canon(uint16_t v)
{
	return (uint16_t)((v & 0x1f3f) | 0x40);
}

/* ES and B summarise the unmasked exception flags (SDM Vol. 1 8.1.3.1). */
static inline void fsw_update_es(struct x87_state *f)
{
	if (f->fsw & ~f->fcw & FSW_EXC)
		f->fsw |= FSW_ES | FSW_B;
	else
		f->fsw &= (uint16_t)~(FSW_ES | FSW_B);
}

/* A waiting x87 instruction first delivers a pending unmasked exception (SDM Vol. 1 8.7). */
static inline void check_pending(struct vcpu *cpu)
{
	if (unlikely(cpu->fpu.fsw & FSW_ES))
		cpu_raise(cpu, EXC_MF, 0, 0);
}

/* Host MXCSR_MASK as FXSAVE reports it (the guest sees the host's SSE features). */
static uint32_t host_mxcsr_mask(void)
{
	static uint32_t cached;
	uint32_t m = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	if (unlikely(!m)) {
		struct fxsave_area a;
		memset(&a, 0, sizeof(a));
		__asm__ volatile("fxsave64 %0" : "=m"(a));
		m = a.mxcsr_mask ? a.mxcsr_mask : 0xffbf; /* SDM Vol. 1 11.6.6: 0 means 0xFFBF */
		__atomic_store_n(&cached, m, __ATOMIC_RELAXED);
	}
	return m;
}

/* Full 2-bit tag of physical register @i (SDM Vol. 1 8.1.7): 0 valid, 1 zero, 2 special, 3 empty */
static unsigned full_tag(const struct x87_state *f, unsigned i)
{
	const union x87_reg *r = &f->st[i];
	unsigned exp = r->m.sexp & 0x7fff;
	if (!(f->ftw & (1u << i)))
		return 3;
	if (exp == 0x7fff)
		return 2;
	if (exp == 0)
		return r->m.mant ? 2 : 1;
	return (r->m.mant >> 63) ? 0 : 2; /* J bit clear: unnormal */
}

static uint16_t full_tag_word(const struct x87_state *f)
{
	uint16_t tw = 0;
	for (unsigned i = 0; i < 8; i++)
		tw |= (uint16_t)(full_tag(f, i) << (2 * i));
	return tw;
}

static uint8_t abridged_tag(uint16_t tw)
{
	uint8_t t = 0;
	for (unsigned i = 0; i < 8; i++)
		if (((tw >> (2 * i)) & 3) != 3)
			t |= (uint8_t)(1u << i);
	return t;
}

static void fpu_init(struct x87_state *f)
{
	/* FNINIT, SDM Vol. 1 8.1.5 Table 8-5: registers keep their contents, all tags empty */
	f->fcw = 0x37f;
	f->fsw = 0;
	f->top = 0;
	f->ftw = 0;
	f->fop = 0;
	f->fip = 0;
	f->fdp = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Instructions run on the host FPU */

/* Memory forms by escape (D8..DF) and ModRM.reg: access kind and size. SDM Vol. 2 A.5 */
enum { MF_NONE, MF_LOAD, MF_STORE };
#define MF(kind, size) ((kind) << 4 | (size))
static const uint8_t mem_forms[8][8] = {
	/* D8: m32fp arithmetic */
	{ MF(MF_LOAD, 4), MF(MF_LOAD, 4), MF(MF_LOAD, 4), MF(MF_LOAD, 4), MF(MF_LOAD, 4),
	  MF(MF_LOAD, 4), MF(MF_LOAD, 4), MF(MF_LOAD, 4) },
	/* D9: FLD m32, -, FST m32, FSTP m32, FLDENV, FLDCW, FNSTENV, FNSTCW (the last four in C) */
	{ MF(MF_LOAD, 4), 0, MF(MF_STORE, 4), MF(MF_STORE, 4), 0, 0, 0, 0 },
	/* DA: m32int arithmetic */
	{ MF(MF_LOAD, 4), MF(MF_LOAD, 4), MF(MF_LOAD, 4), MF(MF_LOAD, 4), MF(MF_LOAD, 4),
	  MF(MF_LOAD, 4), MF(MF_LOAD, 4), MF(MF_LOAD, 4) },
	/* DB: FILD m32, FISTTP m32, FIST m32, FISTP m32, -, FLD m80, -, FSTP m80 */
	{ MF(MF_LOAD, 4), MF(MF_STORE, 4), MF(MF_STORE, 4), MF(MF_STORE, 4), 0, MF(MF_LOAD, 10), 0,
	  MF(MF_STORE, 10) },
	/* DC: m64fp arithmetic */
	{ MF(MF_LOAD, 8), MF(MF_LOAD, 8), MF(MF_LOAD, 8), MF(MF_LOAD, 8), MF(MF_LOAD, 8),
	  MF(MF_LOAD, 8), MF(MF_LOAD, 8), MF(MF_LOAD, 8) },
	/* DD: FLD m64, FISTTP m64, FST m64, FSTP m64, FRSTOR, -, FNSAVE, FNSTSW (C) */
	{ MF(MF_LOAD, 8), MF(MF_STORE, 8), MF(MF_STORE, 8), MF(MF_STORE, 8), 0, 0, 0, 0 },
	/* DE: m16int arithmetic */
	{ MF(MF_LOAD, 2), MF(MF_LOAD, 2), MF(MF_LOAD, 2), MF(MF_LOAD, 2), MF(MF_LOAD, 2),
	  MF(MF_LOAD, 2), MF(MF_LOAD, 2), MF(MF_LOAD, 2) },
	/* DF: FILD m16, FISTTP m16, FIST m16, FISTP m16, FBLD, FILD m64, FBSTP, FISTP m64 */
	{ MF(MF_LOAD, 2), MF(MF_STORE, 2), MF(MF_STORE, 2), MF(MF_STORE, 2), MF(MF_LOAD, 10),
	  MF(MF_LOAD, 8), MF(MF_STORE, 10), MF(MF_STORE, 8) },
};

/* Address of the instruction being executed (RIP is already past it). */
static inline uint64_t insn_addr(const struct vcpu *cpu, const struct insn *in)
{
	return cpu->rip - in->len;
}

/*
 * The escape byte (D8..DF) and ModRM of the instruction. Prefixes (66 67 F0 F2 F3, segment,
 * REX) are never in D8..DF, so the first such byte is the escape and the next is ModRM.
 */
static inline unsigned insn_modrm(struct vcpu *cpu, const struct insn *in, unsigned *esc)
{
	const uint8_t *p = gva_ptr(cpu, insn_addr(cpu, in), in->len, 0);
	const uint8_t *end = p + in->len - 1;
	while (p < end && (*p & 0xf8) != 0xd8)
		p++;
	*esc = *p & 7;
	return p[1];
}

static inline const struct operand *mem_operand(const struct insn *in)
{
	for (unsigned i = 0; i < in->nops; i++)
		if (in->op[i].kind == OPK_MEM)
			return &in->op[i];
	return NULL;
}

static inline void state_to_img(const struct x87_state *f, struct fxsave_area *img)
{
	unsigned top = f->top & 7;
	img->fcw = f->fcw;
	/* exception flags, ES and B cleared: the host never has a pending exception */
	img->fsw = (uint16_t)((f->fsw & (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)) | (top << 11));
	img->ftw = f->ftw;
	img->rsv1 = 0;
	img->fop = 0;
	img->fip = 0;
	img->fdp = 0;
	for (unsigned i = 0; i < 8; i++)
		memcpy(img->st[i], &f->st[(top + i) & 7], 16);
}

static inline void img_to_state(struct x87_state *f, const struct fxsave_area *img)
{
	unsigned top = (img->fsw >> 11) & 7;
	f->top = (uint8_t)top;
	f->fsw = (uint16_t)((img->fsw & ~(FSW_TOP | FSW_ES | FSW_B)) | (f->fsw & FSW_STICKY));
	f->ftw = img->ftw;
	for (unsigned i = 0; i < 8; i++)
		memcpy(&f->st[(top + i) & 7], img->st[i], 16);
	fsw_update_es(f);
}

static inline void host_exec(struct vcpu *cpu, const struct insn *in, bool use_flags)
{
	struct x87_state *f = &cpu->fpu;
	struct fxsave_area img;
	uint8_t buf[16] __attribute__((aligned(16)));
	const struct operand *mo = NULL;
	const void *stub;
	uint64_t ea = 0, flags = cpu->rflags;
	unsigned esc, modrm, form = 0, size = 0, unmasked;

	check_pending(cpu);
	modrm = insn_modrm(cpu, in, &esc);
	if (modrm >= 0xc0) {
		stub = ov_x87_reg_stubs[esc][modrm - 0xc0];
	} else {
		mo = mem_operand(in);
		form = mem_forms[esc][(modrm >> 3) & 7];
		if (unlikely(!mo || !form))
			cpu_ud(cpu);
		size = form & 15;
		form >>= 4;
		stub = ov_x87_mem_stubs[esc][(modrm >> 3) & 7];
		ea = op_ea(cpu, in, mo);
		if (form == MF_LOAD)
			mem_read(cpu, ea, buf, size);
		else
			gva_ptr(cpu, ea, size, 1); /* fault before any state changes */
	}

	state_to_img(f, &img);
	ov_x87_host_exec(&img, stub, buf, use_flags ? &flags : NULL);

	/* Unmasked IE/DE/ZE/OE/UE suppress the memory store (SDM Vol. 1 8.5.1-8.5.5). */
	unmasked = img.fsw & ~f->fcw & FSW_EXC;
	if (form == MF_STORE && !(unmasked & ~FSW_PE))
		mem_write(cpu, ea, buf, size);

	img_to_state(f, &img);
	f->fip = insn_addr(cpu, in);
	if (unlikely(unmasked)) {
		f->fop = (uint16_t)(esc << 8 | modrm);
		if (mo)
			f->fdp = ea;
	}
	if (use_flags)
		set_flags(cpu, FLAGS_ARITH, flags);
}

static void x87_exec(struct vcpu *cpu, const struct insn *in)
{
	host_exec(cpu, in, false);
}

/* FCMOVcc (reads EFLAGS), FCOMI/FCOMIP/FUCOMI/FUCOMIP (write ZF PF CF, clear OF SF AF) */
static void x87_exec_flags(struct vcpu *cpu, const struct insn *in)
{
	host_exec(cpu, in, true);
}

/* ---------------------------------------------------------------------------------------- */
/*
 * Fast paths for pure data movement, the bulk of what compiled long double code does. They
 * handle exactly the cases that cannot raise any exception (no stack fault, no SNaN, no
 * denormal operand, no rounding) and leave everything else to host_exec. In those cases the
 * SDM defines C1 = 0 and C0, C2, C3 "undefined": this CPU leaves them unchanged, as do we.
 */

static inline unsigned phys(const struct x87_state *f, unsigned i)
{
	return (f->top + i) & 7;
}

static inline bool st_valid(const struct x87_state *f, unsigned i)
{
	return (f->ftw >> phys(f, i)) & 1;
}

static inline void fast_done(struct vcpu *cpu, const struct insn *in)
{
	cpu->fpu.fsw &= (uint16_t)~FSW_C1;
	cpu->fpu.fip = insn_addr(cpu, in);
}

/* Push an exact 80-bit value (the caller checked that the slot below TOP is empty). */
static inline void fast_push(struct x87_state *f, uint64_t mant, uint16_t sexp)
{
	unsigned slot = (f->top - 1u) & 7;
	f->top = (uint8_t)slot;
	f->st[slot].m.mant = mant;
	f->st[slot].m.sexp = sexp;
	f->ftw |= (uint8_t)(1u << slot);
}

static inline void fast_pop(struct x87_state *f)
{
	f->ftw &= (uint8_t)~(1u << (f->top & 7));
	f->top = (uint8_t)((f->top + 1u) & 7);
}

/* Exact binary32/binary64 -> 80-bit conversion; false for SNaN and denormals (they raise). */
static inline bool fp_to_f80(uint64_t v, unsigned size, uint64_t *mant, uint16_t *sexp)
{
	unsigned mbits = size == 8 ? 52 : 23, ebits = size == 8 ? 11 : 8;
	unsigned emax = (1u << ebits) - 1, bias = emax >> 1;
	uint16_t sign = (v >> (mbits + ebits)) & 1 ? 0x8000 : 0;
	unsigned e = (unsigned)(v >> mbits) & emax;
	uint64_t m = v & ((1ULL << mbits) - 1);
	if (e == 0) {
		if (m)
			return false;
		*mant = 0;
		*sexp = sign;
		return true;
	}
	*mant = (1ULL << 63) | (m << (63 - mbits));
	if (e == emax) {
		if (m && !(m >> (mbits - 1)))
			return false; /* SNaN */
		*sexp = sign | 0x7fff;
	} else {
		*sexp = (uint16_t)(sign | (e - bias + 16383));
	}
	return true;
}

/* 80-bit -> binary64 when exact and exception-free (normal in range, zero, infinity). */
static inline bool f80_to_f64(uint64_t mant, uint16_t sexp, uint64_t *out)
{
	uint64_t sign = (uint64_t)(sexp >> 15) << 63;
	int e = sexp & 0x7fff;
	if (e == 0 && mant == 0) {
		*out = sign;
		return true;
	}
	if (!(mant >> 63))
		return false; /* denormal, unnormal, pseudo-denormal */
	if (e == 0x7fff) {
		if (mant << 1)
			return false; /* NaN */
		*out = sign | 0x7ff0000000000000ULL;
		return true;
	}
	e -= 16383 - 1023;
	if (e < 1 || e > 2046 || (mant & 0x7ff))
		return false;
	*out = sign | (uint64_t)e << 52 | ((mant << 1) >> 12);
	return true;
}

static void x87_fld(struct vcpu *cpu, const struct insn *in)
{
	struct x87_state *f = &cpu->fpu;
	const struct operand *o = &in->op[0];
	uint64_t mant;
	uint16_t sexp;

	check_pending(cpu);
	if (unlikely(f->ftw & (1u << ((f->top - 1u) & 7))))
		goto slow; /* stack overflow */
	if (o->kind == OPK_ST) {
		if (!st_valid(f, o->reg))
			goto slow;
		mant = f->st[phys(f, o->reg)].m.mant;
		sexp = f->st[phys(f, o->reg)].m.sexp;
	} else {
		uint64_t ea = op_ea(cpu, in, o);
		if (o->size == 10) {
			mant = mem_read64(cpu, ea);
			sexp = mem_read16(cpu, ea + 8);
		} else if (!fp_to_f80(o->size == 8 ? mem_read64(cpu, ea) : mem_read32(cpu, ea), o->size,
				      &mant, &sexp)) {
			goto slow;
		}
	}
	fast_push(f, mant, sexp);
	fast_done(cpu, in);
	return;
slow:
	host_exec(cpu, in, false);
}

static void x87_fild(struct vcpu *cpu, const struct insn *in)
{
	struct x87_state *f = &cpu->fpu;
	const struct operand *o = &in->op[0];
	uint64_t v, mant = 0;
	uint16_t sexp = 0;

	check_pending(cpu);
	if (unlikely(f->ftw & (1u << ((f->top - 1u) & 7))))
		goto slow;
	v = (uint64_t)sext(mem_read_sz(cpu, op_ea(cpu, in, o), o->size), o->size);
	if (v) {
		unsigned lz;
		if ((int64_t)v < 0) {
			sexp = 0x8000;
			v = -v;
		}
		lz = (unsigned)__builtin_clzll(v);
		mant = v << lz;
		sexp |= (uint16_t)(16383 + 63 - lz);
	}
	fast_push(f, mant, sexp);
	fast_done(cpu, in);
	return;
slow:
	host_exec(cpu, in, false);
}

/* FST/FSTP m80, m64 (exact values only), ST(i) */
static void x87_fst(struct vcpu *cpu, const struct insn *in)
{
	struct x87_state *f = &cpu->fpu;
	const struct operand *o = &in->op[0];
	union x87_reg *src = &f->st[phys(f, 0)];

	check_pending(cpu);
	if (unlikely(!st_valid(f, 0)))
		goto slow; /* stack underflow */
	if (o->kind == OPK_ST) {
		union x87_reg *dst = &f->st[phys(f, o->reg)];
		dst->m.mant = src->m.mant;
		dst->m.sexp = src->m.sexp;
		f->ftw |= (uint8_t)(1u << phys(f, o->reg));
	} else if (o->size == 10) {
		uint64_t ea = op_ea(cpu, in, o);
		uint8_t *p = gva_ptr(cpu, ea, 10, 1);
		memcpy(p, &src->m.mant, 8);
		memcpy(p + 8, &src->m.sexp, 2);
	} else if (o->size == 8) {
		uint64_t d;
		if (!f80_to_f64(src->m.mant, src->m.sexp, &d))
			goto slow;
		mem_write64(cpu, op_ea(cpu, in, o), d);
	} else {
		goto slow;
	}
	if (in->mnemonic == ZYDIS_MNEMONIC_FSTP)
		fast_pop(f);
	fast_done(cpu, in);
	return;
slow:
	host_exec(cpu, in, false);
}

static void x87_fxch(struct vcpu *cpu, const struct insn *in)
{
	struct x87_state *f = &cpu->fpu;
	unsigned i = in->nops ? in->op[0].reg : 1;
	union x87_reg t;

	check_pending(cpu);
	if (unlikely(!st_valid(f, 0) || !st_valid(f, i))) {
		host_exec(cpu, in, false);
		return;
	}
	t = f->st[phys(f, 0)];
	f->st[phys(f, 0)] = f->st[phys(f, i)];
	f->st[phys(f, i)] = t;
	fast_done(cpu, in);
}

static void x87_fld_const(struct vcpu *cpu, const struct insn *in)
{
	struct x87_state *f = &cpu->fpu;

	check_pending(cpu);
	if (unlikely(f->ftw & (1u << ((f->top - 1u) & 7)))) {
		host_exec(cpu, in, false);
		return;
	}
	if (in->mnemonic == ZYDIS_MNEMONIC_FLD1)
		fast_push(f, 1ULL << 63, 0x3fff);
	else
		fast_push(f, 0, 0);
	fast_done(cpu, in);
}

/* FCHS, FABS: sign bit only, no exception even for SNaN (SDM Vol. 2A FCHS/FABS) */
static void x87_fsign(struct vcpu *cpu, const struct insn *in)
{
	struct x87_state *f = &cpu->fpu;

	check_pending(cpu);
	if (unlikely(!st_valid(f, 0))) {
		host_exec(cpu, in, false);
		return;
	}
	if (in->mnemonic == ZYDIS_MNEMONIC_FCHS)
		f->st[phys(f, 0)].m.sexp ^= 0x8000;
	else
		f->st[phys(f, 0)].m.sexp &= 0x7fff;
	fast_done(cpu, in);
}

/*
 * Arithmetic fast path: FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR in all forms (ST(0),ST(i); ST(i),ST(0);
 * P; m32/m64; FIxxx m16/m32) when the guest FCW equals the host's (all exceptions masked) and no
 * stack fault is possible. The operation then runs directly on the host FPU without loading the
 * whole guest state, and its result, C1 and exception flags are exact. The host's exception
 * flags are sticky and clearing them is slow (FNCLEX ~70 ns here), so they are not cleared:
 * the new flags are the host FSW after the operation, which is correct as long as every flag
 * already set in the host before it is also set in the guest; otherwise take the slow path
 * (which leaves only flags that the guest also has). C0, C2, C3 are kept (SDM: undefined; this
 * CPU leaves them unchanged).
 */
static uint16_t host_fcw(void)
{
	static uint16_t cached;
	uint16_t cw = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	if (unlikely(!cw)) {
		__asm__ volatile("fnstcw %0" : "=m"(cw));
		if ((cw & FSW_EXC) != FSW_EXC)
			cw = 0xffff; /* host unmasks exceptions: never equal to a guest FCW, no fast path */
		__atomic_store_n(&cached, cw, __ATOMIC_RELAXED);
	}
	return cw;
}

static void x87_arith(struct vcpu *cpu, const struct insn *in)
{
	struct x87_state *f = &cpu->fpu;
	union x87_reg io[2], out[2];
	uint8_t buf[8] __attribute__((aligned(8)));
	unsigned esc, modrm, i = 0, r, before, after;

	check_pending(cpu);
	if (f->fcw != host_fcw() || !st_valid(f, 0))
		goto slow;
	modrm = insn_modrm(cpu, in, &esc);
	io[0] = f->st[phys(f, 0)];
	if (modrm >= 0xc0) {
		i = modrm & 7;
		if (!st_valid(f, i) || (esc == 6 && i == 0))
			goto slow;
		io[1] = f->st[phys(f, i)];
		/* same operation with ST(1) */
		r = ov_x87_fast(io, ov_x87_reg_stubs[esc][(modrm & 0x38) | 1], NULL, out,
				esc == 6 ? 1 : 3);
	} else {
		unsigned form = mem_forms[esc][(modrm >> 3) & 7];
		if ((form >> 4) != MF_LOAD || (form & 15) > 8)
			goto slow;
		mem_read(cpu, op_ea(cpu, in, mem_operand(in)), buf, form & 15);
		r = ov_x87_fast(io, ov_x87_mem_stubs[esc][(modrm >> 3) & 7], buf, out, 0);
	}
	before = r & 0xffff;
	after = r >> 16;
	if (unlikely(before & FSW_STICKY & ~f->fsw))
		goto slow;
	if (modrm < 0xc0 || esc == 0) {
		f->st[phys(f, 0)].m = out[0].m; /* ST(0) = ST(0) op src */
	} else if (esc == 6) {
		f->st[phys(f, i)].m = out[0].m; /* ST(i) = ST(i) op ST(0), pop */
		fast_pop(f);
	} else {
		f->st[phys(f, i)].m = out[1].m; /* ST(i) = ST(i) op ST(0) */
	}
	f->fsw = (uint16_t)((f->fsw & ~FSW_C1) | (after & (FSW_C1 | FSW_EXC)));
	f->fip = insn_addr(cpu, in);
	return;
slow:
	host_exec(cpu, in, false);
}

/* ---------------------------------------------------------------------------------------- */
/* Control instructions, SDM Vol. 1 8.3.13 */

static void x87_fwait(struct vcpu *cpu, const struct insn *in)
{
	check_pending(cpu);
}

static void x87_emms(struct vcpu *cpu, const struct insn *in)
{
	check_pending(cpu);
	/* all tags empty; like every MMX instruction it also sets TOP to 0 (checked on hardware) */
	cpu->fpu.ftw = 0;
	cpu->fpu.top = 0;
}

static void x87_fnclex(struct vcpu *cpu, const struct insn *in)
{
	cpu->fpu.fsw &= (uint16_t)~(FSW_STICKY | FSW_ES | FSW_B);
}

static void x87_fninit(struct vcpu *cpu, const struct insn *in)
{
	fpu_init(&cpu->fpu);
}

static void x87_fldcw(struct vcpu *cpu, const struct insn *in)
{
	uint16_t cw;
	check_pending(cpu);
	cw = mem_read16(cpu, op_ea(cpu, in, mem_operand(in)));
	cpu->fpu.fcw = fcw_canon(cw);
	fsw_update_es(&cpu->fpu);
}

static void x87_fnstcw(struct vcpu *cpu, const struct insn *in)
{
	mem_write16(cpu, op_ea(cpu, in, &in->op[0]), cpu->fpu.fcw);
}

static void x87_fnstsw(struct vcpu *cpu, const struct insn *in)
{
	uint16_t sw = x87_get_fsw(&cpu->fpu);
	if (in->op[0].kind == OPK_GPR)
		gpr_set(cpu, R_RAX, 2, sw);
	else
		mem_write16(cpu, op_ea(cpu, in, &in->op[0]), sw);
}

/*
 * The FNSTENV/FLDENV environment in 64-bit mode: the 32-bit protected-mode format (28 bytes),
 * or with a 66 prefix the 16-bit one (14 bytes). SDM Vol. 1 8.1.10, Figures 8-9/8-10. On this
 * CPU the reserved upper halves of the 32-bit format read as 0xFFFF, FCS/FDS as 0.
 */
static unsigned env_size(const struct insn *in)
{
	return in->opsize == 2 ? 14 : 28;
}

static void env_store(const struct x87_state *f, uint8_t *p, unsigned size)
{
	uint16_t fsw = x87_get_fsw(f), ftw = full_tag_word(f);
	if (size == 14) {
		uint16_t w[7] = { f->fcw, fsw, ftw, (uint16_t)f->fip, 0, (uint16_t)f->fdp, 0 };
		memcpy(p, w, 14);
	} else {
		uint32_t d[7] = {
			0xffff0000u | f->fcw,
			0xffff0000u | fsw,
			0xffff0000u | ftw,
			(uint32_t)f->fip,
			(uint32_t)(f->fop & 0x7ff) << 16,
			(uint32_t)f->fdp,
			0xffff0000u,
		};
		memcpy(p, d, 28);
	}
}

static void env_load(struct x87_state *f, const uint8_t *p, unsigned size)
{
	uint16_t fcw, fsw, ftw;
	memcpy(&fcw, p, 2);
	if (size == 14) {
		uint16_t ip, dp;
		memcpy(&fsw, p + 2, 2);
		memcpy(&ftw, p + 4, 2);
		memcpy(&ip, p + 6, 2);
		memcpy(&dp, p + 10, 2);
		f->fip = ip;
		f->fdp = dp;
	} else {
		uint32_t ip, op, dp;
		memcpy(&fsw, p + 4, 2);
		memcpy(&ftw, p + 8, 2);
		memcpy(&ip, p + 12, 4);
		memcpy(&op, p + 16, 4);
		memcpy(&dp, p + 20, 4);
		f->fip = ip;
		f->fop = (uint16_t)((op >> 16) & 0x7ff);
		f->fdp = dp;
	}
	f->fcw = fcw_canon(fcw);
	f->fsw = fsw & (uint16_t)~FSW_TOP;
	f->top = (uint8_t)((fsw >> 11) & 7);
	f->ftw = abridged_tag(ftw);
	fsw_update_es(f);
}

static void x87_fnstenv(struct vcpu *cpu, const struct insn *in)
{
	uint8_t env[28];
	unsigned size = env_size(in);
	env_store(&cpu->fpu, env, size);
	mem_write(cpu, op_ea(cpu, in, &in->op[0]), env, size);
	/* FNSTENV masks all exceptions afterwards (SDM Vol. 2A FSTENV) */
	cpu->fpu.fcw |= FSW_EXC;
	fsw_update_es(&cpu->fpu);
}

static void x87_fldenv(struct vcpu *cpu, const struct insn *in)
{
	uint8_t env[28];
	unsigned size = env_size(in);
	check_pending(cpu);
	mem_read(cpu, op_ea(cpu, in, &in->op[0]), env, size);
	env_load(&cpu->fpu, env, size);
}

/* FNSAVE/FRSTOR: the environment followed by ST(0)..ST(7), 10 bytes each. SDM Vol. 1 8.1.10 */
static void x87_fnsave(struct vcpu *cpu, const struct insn *in)
{
	struct x87_state *f = &cpu->fpu;
	uint8_t img[108];
	unsigned size = env_size(in);
	env_store(f, img, size);
	for (unsigned i = 0; i < 8; i++)
		memcpy(img + size + 10 * i, &f->st[(f->top + i) & 7], 10);
	mem_write(cpu, op_ea(cpu, in, &in->op[0]), img, size + 80);
	fpu_init(f);
}

static void x87_frstor(struct vcpu *cpu, const struct insn *in)
{
	struct x87_state *f = &cpu->fpu;
	uint8_t img[108];
	unsigned size = env_size(in);
	check_pending(cpu);
	mem_read(cpu, op_ea(cpu, in, &in->op[0]), img, size + 80);
	env_load(f, img, size);
	for (unsigned i = 0; i < 8; i++) {
		union x87_reg *r = &f->st[(f->top + i) & 7];
		memset(r, 0, sizeof(*r));
		memcpy(r, img + size + 10 * i, 10);
	}
}

/*
 * cpu_fxsave_image - store the x87/SSE state of @cpu into the first 416 bytes of @area in the
 * FXSAVE format (SDM Vol. 2A FXSAVE, Table 3-53 with @rex_w, 3-52 without: FIP and FDP as
 * 32-bit offsets followed by FCS/FDS, stored as 0). Bytes 416..511 are not touched, as on
 * hardware. Also usable for signal frames (the kernel's fpstate is this image).
 */
void cpu_fxsave_image(const struct vcpu *cpu, void *area, bool rex_w)
{
	const struct x87_state *f = &cpu->fpu;
	struct fxsave_area a;
	memset(&a, 0, FXSAVE_STORED);
	a.fcw = f->fcw;
	a.fsw = x87_get_fsw(f);
	a.ftw = f->ftw;
	a.fop = f->fop;
	a.fip = rex_w ? f->fip : (uint32_t)f->fip;
	a.fdp = rex_w ? f->fdp : (uint32_t)f->fdp;
	a.mxcsr = cpu->mxcsr;
	a.mxcsr_mask = host_mxcsr_mask();
	for (unsigned i = 0; i < 8; i++)
		memcpy(a.st[i], &f->st[(f->top + i) & 7], 10);
	memcpy(a.xmm, cpu->xmm, sizeof(a.xmm));
	memcpy(area, &a, FXSAVE_STORED);
}

/*
 * cpu_fxrstor_image - load the x87/SSE state of @cpu from an FXSAVE image (first 416 bytes of
 * @area). Returns -1 without changing anything if the MXCSR image has bits outside
 * MXCSR_MASK (FXRSTOR raises #GP then), else 0. FCW reserved bits and ES/B are normalised the
 * way the hardware loads them.
 */
int cpu_fxrstor_image(struct vcpu *cpu, const void *area, bool rex_w)
{
	struct x87_state *f = &cpu->fpu;
	struct fxsave_area a;
	memcpy(&a, area, FXSAVE_STORED);
	if (a.mxcsr & ~host_mxcsr_mask())
		return -1;
	f->fcw = fcw_canon(a.fcw);
	f->fsw = a.fsw & (uint16_t)~FSW_TOP;
	f->top = (uint8_t)((a.fsw >> 11) & 7);
	f->ftw = a.ftw;
	f->fop = a.fop & 0x7ff;
	if (rex_w) {
		/* this CPU keeps FIP as a 57-bit sign-extended address, FDP whole (checked) */
		f->fip = (uint64_t)((int64_t)(a.fip << 7) >> 7);
		f->fdp = a.fdp;
	} else {
		f->fip = (uint32_t)a.fip;
		f->fdp = (uint32_t)a.fdp;
	}
	for (unsigned i = 0; i < 8; i++) {
		union x87_reg *r = &f->st[(f->top + i) & 7];
		memset(r, 0, sizeof(*r));
		memcpy(r, a.st[i], 10);
	}
	fsw_update_es(f);
	cpu->mxcsr = a.mxcsr;
	memcpy(cpu->xmm, a.xmm, sizeof(a.xmm));
	return 0;
}

/* FXSAVE/FXSAVE64, FXRSTOR/FXRSTOR64: #GP unless 16-byte aligned; no #MF (SDM Vol. 2A) */
static void x87_fxsave(struct vcpu *cpu, const struct insn *in)
{
	uint64_t ea = op_ea(cpu, in, &in->op[0]);
	if (ea & 15)
		cpu_gp0(cpu);
	cpu_fxsave_image(cpu, gva_ptr(cpu, ea, 512, 1), in->mnemonic == ZYDIS_MNEMONIC_FXSAVE64);
}

static void x87_fxrstor(struct vcpu *cpu, const struct insn *in)
{
	uint64_t ea = op_ea(cpu, in, &in->op[0]);
	if (ea & 15)
		cpu_gp0(cpu);
	if (cpu_fxrstor_image(cpu, gva_ptr(cpu, ea, 512, 0),
			      in->mnemonic == ZYDIS_MNEMONIC_FXRSTOR64))
		cpu_gp0(cpu);
}

#define X(m, fn) { ZYDIS_MNEMONIC_##m, fn }
const struct insn_entry x87_insns[] = {
	/* data transfer */
	X(FLD, x87_fld), X(FST, x87_fst), X(FSTP, x87_fst), X(FSTPNCE, x87_exec),
	X(FILD, x87_fild), X(FIST, x87_exec), X(FISTP, x87_exec), X(FISTTP, x87_exec),
	X(FBLD, x87_exec), X(FBSTP, x87_exec), X(FXCH, x87_fxch),
	X(FCMOVB, x87_exec_flags), X(FCMOVE, x87_exec_flags), X(FCMOVBE, x87_exec_flags),
	X(FCMOVU, x87_exec_flags), X(FCMOVNB, x87_exec_flags), X(FCMOVNE, x87_exec_flags),
	X(FCMOVNBE, x87_exec_flags), X(FCMOVNU, x87_exec_flags),
	/* constants */
	X(FLD1, x87_fld_const), X(FLDZ, x87_fld_const), X(FLDPI, x87_exec), X(FLDL2E, x87_exec),
	X(FLDL2T, x87_exec), X(FLDLG2, x87_exec), X(FLDLN2, x87_exec),
	/* arithmetic */
	X(FADD, x87_arith), X(FADDP, x87_arith), X(FIADD, x87_arith),
	X(FSUB, x87_arith), X(FSUBP, x87_arith), X(FISUB, x87_arith),
	X(FSUBR, x87_arith), X(FSUBRP, x87_arith), X(FISUBR, x87_arith),
	X(FMUL, x87_arith), X(FMULP, x87_arith), X(FIMUL, x87_arith),
	X(FDIV, x87_arith), X(FDIVP, x87_arith), X(FIDIV, x87_arith),
	X(FDIVR, x87_arith), X(FDIVRP, x87_arith), X(FIDIVR, x87_arith),
	X(FCHS, x87_fsign), X(FABS, x87_fsign), X(FSQRT, x87_exec), X(FRNDINT, x87_exec),
	X(FSCALE, x87_exec), X(FXTRACT, x87_exec), X(FPREM, x87_exec), X(FPREM1, x87_exec),
	/* comparison */
	X(FCOM, x87_exec), X(FCOMP, x87_exec), X(FCOMPP, x87_exec), X(FUCOM, x87_exec),
	X(FUCOMP, x87_exec), X(FUCOMPP, x87_exec), X(FICOM, x87_exec), X(FICOMP, x87_exec),
	X(FCOMI, x87_exec_flags), X(FCOMIP, x87_exec_flags), X(FUCOMI, x87_exec_flags),
	X(FUCOMIP, x87_exec_flags), X(FTST, x87_exec), X(FXAM, x87_exec),
	/* transcendental */
	X(F2XM1, x87_exec), X(FYL2X, x87_exec), X(FYL2XP1, x87_exec), X(FPTAN, x87_exec),
	X(FPATAN, x87_exec), X(FSIN, x87_exec), X(FCOS, x87_exec), X(FSINCOS, x87_exec),
	/* stack and no-ops */
	X(FFREE, x87_exec), X(FFREEP, x87_exec), X(FINCSTP, x87_exec), X(FDECSTP, x87_exec),
	X(FNOP, x87_exec), X(FDISI8087_NOP, x87_exec), X(FENI8087_NOP, x87_exec),
	X(FSETPM287_NOP, x87_exec),
	/* control */
	X(FWAIT, x87_fwait), X(EMMS, x87_emms), X(FNCLEX, x87_fnclex), X(FNINIT, x87_fninit),
	X(FLDCW, x87_fldcw), X(FNSTCW, x87_fnstcw), X(FNSTSW, x87_fnstsw),
	X(FLDENV, x87_fldenv), X(FNSTENV, x87_fnstenv), X(FRSTOR, x87_frstor),
	X(FNSAVE, x87_fnsave),
	X(FXSAVE, x87_fxsave), X(FXSAVE64, x87_fxsave), X(FXRSTOR, x87_fxrstor),
	X(FXRSTOR64, x87_fxrstor),
	{ 0, NULL },
};
