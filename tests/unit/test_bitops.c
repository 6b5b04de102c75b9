/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the integer classes that the differential tests cannot cover on this host:
 *  - F3 0F BC / F3 0F BD (TZCNT/LZCNT encodings) execute as BSF/BSR because we do not advertise
 *    BMI1/ABM (the host has BMI1, so difftest would compare against real TZCNT/LZCNT);
 *  - LOCK on a register destination or a non-RMW instruction is #UD (GNU as refuses to
 *    assemble those forms);
 *  - LOCK read-modify-write forms are atomic between host threads;
 *  - rare edge cases: IDIV INT_MIN / -1 (#DE, state untouched), BT with a negative register
 *    bit offset addressing memory below the operand.
 * Each test decodes raw bytes with cpu_decode_one and calls the handler on a struct vcpu whose
 * guest memory is a small host buffer (GVA g = buf + g).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cpu/cpu.h"

#define CODE_GVA 0x100
#define DATA_GVA 0x1000
#define MEM_SIZE 0x4000

struct env {
	struct vcpu cpu;
	struct insn in;
	uint8_t *mem;
};

static void env_init(struct env *e)
{
	memset(&e->cpu, 0, sizeof(e->cpu));
	e->cpu.rflags = 0x202;
	e->cpu.mem_base = e->mem;
	e->cpu.mem_limit = MEM_SIZE;
	e->cpu.gpr[R_RSI] = DATA_GVA;
	e->cpu.gpr[R_RDI] = DATA_GVA + 0x100;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	if (!e)
		return -1;
	e->mem = calloc(1, MEM_SIZE);
	if (!e->mem) {
		free(e);
		return -1;
	}
	env_init(e);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	free(e->mem);
	free(e);
	return 0;
}

/* Decode @bytes into e->in (asserting success). */
static void decode(struct env *e, const uint8_t *bytes, size_t len)
{
	assert_int_equal(cpu_decode_one(bytes, len, CODE_GVA, &e->in), 0);
	assert_int_equal(e->in.len, len);
}

/* Run the decoded instruction: -1 if it completed, else the exception vector. */
static int run(struct env *e)
{
	struct vcpu *cpu = &e->cpu;
	cpu->cur = &e->in;
	cpu->rip = CODE_GVA + e->in.len;
	if (setjmp(cpu->unwind)) {
		assert_int_equal(cpu->rip, CODE_GVA); /* faults report the instruction's address */
		return cpu->exc_vector;
	}
	e->in.fn(cpu, &e->in);
	return -1;
}

#define EXEC(e, ...)                                                                       \
	({                                                                                 \
		static const uint8_t b_[] = { __VA_ARGS__ };                               \
		decode((e), b_, sizeof(b_));                                               \
		run(e);                                                                    \
	})

/* ---------------------------------------------------------------------------------------- */

static void test_tzcnt_is_bsf(void **state)
{
	struct env *e = *state;
	struct vcpu *cpu = &e->cpu;

	/* tzcnt rax, rbx (F3 REX.W 0F BC): BSF semantics, not TZCNT's */
	cpu->gpr[R_RAX] = 0x1111;
	cpu->gpr[R_RBX] = 0x50;
	cpu->rflags = 0x202 | FLAG_ZF | FLAG_CF;
	assert_int_equal(EXEC(e, 0xf3, 0x48, 0x0f, 0xbc, 0xc3), -1);
	assert_int_equal(cpu->gpr[R_RAX], 4);
	assert_false(cpu->rflags & FLAG_ZF);
	assert_false(cpu->rflags & FLAG_CF); /* TZCNT would set CF only for a zero source */

	/* zero source: ZF=1 and the destination unchanged (TZCNT would write 64 and set CF) */
	cpu->gpr[R_RAX] = 0xdeadbeefcafef00dULL;
	cpu->gpr[R_RBX] = 0;
	cpu->rflags = 0x202;
	assert_int_equal(EXEC(e, 0xf3, 0x48, 0x0f, 0xbc, 0xc3), -1);
	assert_int_equal(cpu->gpr[R_RAX], 0xdeadbeefcafef00dULL);
	assert_true(cpu->rflags & FLAG_ZF);
	assert_false(cpu->rflags & FLAG_CF);

	/* 32-bit: tzcnt eax, ebx with zero source leaves all 64 bits of RAX */
	cpu->gpr[R_RBX] = 0xffffffff00000000ULL;
	assert_int_equal(EXEC(e, 0xf3, 0x0f, 0xbc, 0xc3), -1);
	assert_int_equal(cpu->gpr[R_RAX], 0xdeadbeefcafef00dULL);
	assert_true(cpu->rflags & FLAG_ZF);
	/* nonzero 32-bit source: result zero-extends */
	cpu->gpr[R_RBX] = 0x80000000;
	assert_int_equal(EXEC(e, 0xf3, 0x0f, 0xbc, 0xc3), -1);
	assert_int_equal(cpu->gpr[R_RAX], 31);
	assert_false(cpu->rflags & FLAG_ZF);

	/* 16-bit from memory: 66 F3 0F BC 06 = tzcnt ax, word ptr [rsi] */
	cpu->gpr[R_RAX] = 0x123456789abcdef0ULL;
	memcpy(e->mem + DATA_GVA, "\x00\x10", 2); /* 0x1000 */
	assert_int_equal(EXEC(e, 0x66, 0xf3, 0x0f, 0xbc, 0x06), -1);
	assert_int_equal(cpu->gpr[R_RAX], 0x123456789abc000cULL);
}

static void test_lzcnt_is_bsr(void **state)
{
	struct env *e = *state;
	struct vcpu *cpu = &e->cpu;

	/* lzcnt rax, rbx (F3 REX.W 0F BD): BSR gives the index of the top set bit (6), LZCNT 57 */
	cpu->gpr[R_RBX] = 0x50;
	assert_int_equal(EXEC(e, 0xf3, 0x48, 0x0f, 0xbd, 0xc3), -1);
	assert_int_equal(cpu->gpr[R_RAX], 6);
	assert_false(cpu->rflags & FLAG_ZF);
	assert_false(cpu->rflags & FLAG_CF);

	cpu->gpr[R_RAX] = 77;
	cpu->gpr[R_RBX] = 0;
	assert_int_equal(EXEC(e, 0xf3, 0x48, 0x0f, 0xbd, 0xc3), -1);
	assert_int_equal(cpu->gpr[R_RAX], 77);
	assert_true(cpu->rflags & FLAG_ZF);
	assert_false(cpu->rflags & FLAG_CF);

	/* lzcnt ecx, dword ptr [rsi] */
	memcpy(e->mem + DATA_GVA, "\x00\x00\x00\x80", 4);
	cpu->gpr[R_RCX] = ~0ULL;
	assert_int_equal(EXEC(e, 0xf3, 0x0f, 0xbd, 0x0e), -1);
	assert_int_equal(cpu->gpr[R_RCX], 31);
}

/* ---------------------------------------------------------------------------------------- */

static void test_lock_ud(void **state)
{
	struct env *e = *state;
	struct vcpu *cpu = &e->cpu;
	static const uint8_t lock_reg[] = { 0xf0, 0x48, 0x01, 0xd8 };       /* lock add rax, rbx */
	static const uint8_t lock_cmp[] = { 0xf0, 0x48, 0x39, 0x06 };       /* lock cmp [rsi], rax */
	static const uint8_t lock_bt[] = { 0xf0, 0x48, 0x0f, 0xa3, 0x06 }; /* lock bt [rsi], rax */
	static const uint8_t lock_neg[] = { 0xf0, 0xf7, 0xd9 };             /* lock neg ecx */
	static const uint8_t lock_clc[] = { 0xf0, 0xf8 };                   /* lock clc */
	struct insn in;

	/* The decoder rejects these (the block decoder turns that into #UD). */
	assert_int_not_equal(cpu_decode_one(lock_reg, sizeof(lock_reg), CODE_GVA, &in), 0);
	assert_int_not_equal(cpu_decode_one(lock_cmp, sizeof(lock_cmp), CODE_GVA, &in), 0);
	assert_int_not_equal(cpu_decode_one(lock_bt, sizeof(lock_bt), CODE_GVA, &in), 0);
	assert_int_not_equal(cpu_decode_one(lock_neg, sizeof(lock_neg), CODE_GVA, &in), 0);
	assert_int_not_equal(cpu_decode_one(lock_clc, sizeof(lock_clc), CODE_GVA, &in), 0);

	/* The handlers check too, and raise #UD before changing anything. */
	static const uint8_t forms[][5] = {
		{ 3, 0x48, 0x01, 0xd8 },       /* add rax, rbx */
		{ 3, 0x48, 0x39, 0x06 },       /* cmp [rsi], rax */
		{ 3, 0x48, 0x85, 0x06 },       /* test [rsi], rax */
		{ 2, 0xf7, 0xd9 },             /* neg ecx */
		{ 2, 0xff, 0xc1 },             /* inc ecx */
		{ 4, 0x48, 0x0f, 0xa3, 0x06 }, /* bt [rsi], rax */
		{ 4, 0x48, 0x0f, 0xab, 0xc1 }, /* bts rcx, rax */
		{ 3, 0x48, 0xd3, 0xe1 },       /* shl rcx, cl */
		{ 4, 0x48, 0x0f, 0xbc, 0xc3 }, /* bsf rax, rbx */
		{ 1, 0xf8 },                   /* clc */
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		env_init(e);
		cpu->gpr[R_RAX] = 5;
		cpu->gpr[R_RBX] = 7;
		cpu->gpr[R_RCX] = 9;
		memset(e->mem + DATA_GVA, 0x11, 8);
		decode(e, &forms[i][1], forms[i][0]);
		e->in.flags |= INSN_LOCK;
		assert_int_equal(run(e), EXC_UD);
		assert_int_equal(cpu->gpr[R_RAX], 5);
		assert_int_equal(cpu->gpr[R_RBX], 7);
		assert_int_equal(cpu->gpr[R_RCX], 9);
		assert_int_equal(cpu->rflags, 0x202);
		assert_int_equal(e->mem[DATA_GVA], 0x11);
	}
}

static void test_lock_forms(void **state)
{
	struct env *e = *state;
	struct vcpu *cpu = &e->cpu;
	uint64_t v;

	/* lock add qword ptr [rsi], rbx: result and flags from the replaced value */
	v = 0xffffffffffffffffULL;
	memcpy(e->mem + DATA_GVA, &v, 8);
	cpu->gpr[R_RBX] = 1;
	assert_int_equal(EXEC(e, 0xf0, 0x48, 0x01, 0x1e), -1);
	memcpy(&v, e->mem + DATA_GVA, 8);
	assert_int_equal(v, 0);
	assert_true(cpu->rflags & FLAG_CF);
	assert_true(cpu->rflags & FLAG_ZF);

	/* lock sbb dword ptr [rsi], 1 with CF=1: 0 - 1 - 1 */
	memset(e->mem + DATA_GVA, 0, 8);
	cpu->rflags = 0x202 | FLAG_CF;
	assert_int_equal(EXEC(e, 0xf0, 0x83, 0x1e, 0x01), -1);
	memcpy(&v, e->mem + DATA_GVA, 8);
	assert_int_equal(v, 0xfffffffeULL);
	assert_true(cpu->rflags & FLAG_CF);
	assert_true(cpu->rflags & FLAG_SF);

	/* lock bts qword ptr [rsi], rcx with a negative bit offset: -1 selects bit 63 of the
	 * qword below */
	memset(e->mem + DATA_GVA - 8, 0, 16);
	cpu->gpr[R_RCX] = ~0ULL;
	cpu->rflags = 0x202 | FLAG_CF;
	assert_int_equal(EXEC(e, 0xf0, 0x48, 0x0f, 0xab, 0x0e), -1);
	memcpy(&v, e->mem + DATA_GVA - 8, 8);
	assert_int_equal(v, 0x8000000000000000ULL);
	assert_false(cpu->rflags & FLAG_CF);
	/* bt word ptr [rsi+2], cx with cx = -17: word at rsi+2-4, bit 15 */
	cpu->gpr[R_RCX] = (uint16_t)-17;
	memset(e->mem + DATA_GVA - 8, 0, 16);
	e->mem[DATA_GVA - 1] = 0x80;
	assert_int_equal(EXEC(e, 0x66, 0x0f, 0xa3, 0x4e, 0x02), -1);
	assert_true(cpu->rflags & FLAG_CF);

	/* lock btr/btc dword ptr [rsi+4], 33 (imm offset taken mod 32) */
	memset(e->mem + DATA_GVA, 0xff, 8);
	assert_int_equal(EXEC(e, 0xf0, 0x0f, 0xba, 0x76, 0x04, 33), -1);
	assert_int_equal(e->mem[DATA_GVA + 4], 0xfd);
	assert_true(cpu->rflags & FLAG_CF);
	assert_int_equal(EXEC(e, 0xf0, 0x0f, 0xba, 0x7e, 0x04, 33), -1);
	assert_int_equal(e->mem[DATA_GVA + 4], 0xff);
	assert_false(cpu->rflags & FLAG_CF);
}

/* Two host threads, each with its own vCPU on the same guest memory, hammer LOCK forms. */
#define ATOMIC_ITERS 200000

struct hammer {
	uint8_t *mem;
	const uint8_t *bytes;
	size_t len;
	uint64_t rbx;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	struct vcpu *cpu = calloc(1, sizeof(*cpu));
	struct insn in;
	if (!cpu || cpu_decode_one(h->bytes, h->len, CODE_GVA, &in))
		abort();
	cpu->rflags = 0x202;
	cpu->mem_base = h->mem;
	cpu->mem_limit = MEM_SIZE;
	cpu->gpr[R_RSI] = DATA_GVA;
	cpu->gpr[R_RBX] = h->rbx;
	cpu->cur = &in;
	for (int i = 0; i < ATOMIC_ITERS; i++) {
		cpu->rip = CODE_GVA + in.len;
		in.fn(cpu, &in);
	}
	free(cpu);
	return NULL;
}

static void hammer2(uint8_t *mem, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		    uint64_t rbx)
{
	struct hammer ha = { mem, a, alen, rbx }, hb = { mem, b, blen, rbx };
	pthread_t t1, t2;
	assert_int_equal(pthread_create(&t1, NULL, hammer_thread, &ha), 0);
	assert_int_equal(pthread_create(&t2, NULL, hammer_thread, &hb), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
}

static void test_lock_atomic(void **state)
{
	struct env *e = *state;
	static const uint8_t lock_add[] = { 0xf0, 0x48, 0x01, 0x1e };     /* lock add [rsi], rbx */
	static const uint8_t lock_inc[] = { 0xf0, 0x48, 0xff, 0x06 };     /* lock inc qword [rsi] */
	static const uint8_t lock_sub[] = { 0xf0, 0x48, 0x29, 0x1e };     /* lock sub [rsi], rbx */
	static const uint8_t lock_dec[] = { 0xf0, 0xff, 0x4e, 0x08 };     /* lock dec dword [rsi+8] */
	static const uint8_t lock_incd[] = { 0xf0, 0xff, 0x46, 0x08 };    /* lock inc dword [rsi+8] */
	static const uint8_t lock_btc0[] = { 0xf0, 0x0f, 0xba, 0x7e, 0x10, 0 }; /* lock btc [rsi+16], 0 */
	static const uint8_t lock_btc1[] = { 0xf0, 0x0f, 0xba, 0x7e, 0x10, 1 }; /* lock btc [rsi+16], 1 */
	uint64_t v;
	uint32_t d;

	memset(e->mem + DATA_GVA, 0, 32);
	hammer2(e->mem, lock_add, sizeof(lock_add), lock_inc, sizeof(lock_inc), 1);
	memcpy(&v, e->mem + DATA_GVA, 8);
	assert_int_equal(v, 2ULL * ATOMIC_ITERS);

	hammer2(e->mem, lock_sub, sizeof(lock_sub), lock_sub, sizeof(lock_sub), 1);
	memcpy(&v, e->mem + DATA_GVA, 8);
	assert_int_equal(v, 0);

	hammer2(e->mem, lock_dec, sizeof(lock_dec), lock_incd, sizeof(lock_incd), 0);
	memcpy(&d, e->mem + DATA_GVA + 8, 4);
	assert_int_equal(d, 0);

	/* each thread flips its own bit an even number of times: both end clear */
	hammer2(e->mem, lock_btc0, sizeof(lock_btc0), lock_btc1, sizeof(lock_btc1), 0);
	memcpy(&d, e->mem + DATA_GVA + 16, 4);
	assert_int_equal(d, 0);
}

/* ---------------------------------------------------------------------------------------- */

static void test_divide_errors(void **state)
{
	struct env *e = *state;
	struct vcpu *cpu = &e->cpu;

	/* idiv rbx: RDX:RAX = INT64_MIN (sign-extended), RBX = -1 -> quotient 2^63: #DE */
	cpu->gpr[R_RAX] = 0x8000000000000000ULL;
	cpu->gpr[R_RDX] = ~0ULL;
	cpu->gpr[R_RBX] = ~0ULL;
	cpu->rflags = 0x202 | FLAG_ZF;
	assert_int_equal(EXEC(e, 0x48, 0xf7, 0xfb), EXC_DE);
	assert_int_equal(cpu->gpr[R_RAX], 0x8000000000000000ULL);
	assert_int_equal(cpu->gpr[R_RDX], ~0ULL);
	assert_int_equal(cpu->rflags, 0x202 | FLAG_ZF);

	/* the 128-bit dividend INT128_MIN / -1 */
	cpu->gpr[R_RAX] = 0;
	cpu->gpr[R_RDX] = 0x8000000000000000ULL;
	assert_int_equal(EXEC(e, 0x48, 0xf7, 0xfb), EXC_DE);
	/* INT64_MIN / 1 fits; / 2 fits */
	cpu->gpr[R_RAX] = 0x8000000000000000ULL;
	cpu->gpr[R_RDX] = ~0ULL;
	cpu->gpr[R_RBX] = 2;
	assert_int_equal(EXEC(e, 0x48, 0xf7, 0xfb), -1);
	assert_int_equal(cpu->gpr[R_RAX], 0xc000000000000000ULL);
	assert_int_equal(cpu->gpr[R_RDX], 0);
	/* -2^64 / -2 = 2^63: does not fit */
	cpu->gpr[R_RAX] = 0;
	cpu->gpr[R_RDX] = ~0ULL;
	cpu->gpr[R_RBX] = (uint64_t)-2;
	assert_int_equal(EXEC(e, 0x48, 0xf7, 0xfb), EXC_DE);
	/* -(2^64 - 2) / -2 = 2^63 - 1 fits, remainder 0 */
	cpu->gpr[R_RAX] = 2;
	cpu->gpr[R_RDX] = ~0ULL;
	assert_int_equal(EXEC(e, 0x48, 0xf7, 0xfb), -1);
	assert_int_equal(cpu->gpr[R_RAX], 0x7fffffffffffffffULL);
	assert_int_equal(cpu->gpr[R_RDX], 0);

	/* idiv ebx: EDX:EAX = 0x80000000:00000000 (INT64_MIN), EBX = -1 */
	cpu->gpr[R_RAX] = 0;
	cpu->gpr[R_RDX] = 0x80000000;
	cpu->gpr[R_RBX] = 0xffffffff;
	assert_int_equal(EXEC(e, 0xf7, 0xfb), EXC_DE);
	/* idiv ebx: INT32_MIN / -1 */
	cpu->gpr[R_RAX] = 0x80000000;
	cpu->gpr[R_RDX] = 0xffffffff;
	assert_int_equal(EXEC(e, 0xf7, 0xfb), EXC_DE);
	/* idiv bx: DX:AX = 0x8000:0000 / -1 */
	cpu->gpr[R_RAX] = 0;
	cpu->gpr[R_RDX] = 0x8000;
	cpu->gpr[R_RBX] = 0xffff;
	assert_int_equal(EXEC(e, 0x66, 0xf7, 0xfb), EXC_DE);
	/* idiv bl: AX = 0x8000 / -1 */
	cpu->gpr[R_RAX] = 0x8000;
	cpu->gpr[R_RBX] = 0xff;
	assert_int_equal(EXEC(e, 0xf6, 0xfb), EXC_DE);
	/* idiv bl: AX = -128 / -1 = 128: does not fit in int8 */
	cpu->gpr[R_RAX] = 0xff80;
	assert_int_equal(EXEC(e, 0xf6, 0xfb), EXC_DE);
	/* idiv bl: AX = -127 / -1 = 127, remainder 0 */
	cpu->gpr[R_RAX] = 0xff81;
	assert_int_equal(EXEC(e, 0xf6, 0xfb), -1);
	assert_int_equal(cpu->gpr[R_RAX] & 0xffff, 0x007f);

	/* div qword ptr [rsi] by zero; div rbx with RDX >= RBX (quotient overflow) */
	memset(e->mem + DATA_GVA, 0, 8);
	assert_int_equal(EXEC(e, 0x48, 0xf7, 0x36), EXC_DE);
	cpu->gpr[R_RDX] = 5;
	cpu->gpr[R_RBX] = 5;
	assert_int_equal(EXEC(e, 0x48, 0xf7, 0xf3), EXC_DE);
	cpu->gpr[R_RDX] = 4;
	cpu->gpr[R_RAX] = 1;
	assert_int_equal(EXEC(e, 0x48, 0xf7, 0xf3), -1);
	assert_int_equal(cpu->gpr[R_RAX], 0xcccccccccccccccdULL); /* (4 * 2^64 + 1) / 5 */
	assert_int_equal(cpu->gpr[R_RDX], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tzcnt_is_bsf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lzcnt_is_bsr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_ud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_divide_errors, setup, teardown),
	};
	return cmocka_run_group_tests_name("bitops", tests, NULL, NULL);
}
