/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the decoder and the virtual CPU. The input is
 *   bytes 0..15   register seeds: GPR i is DATA + 16 * (b & 0x7f) if b & 0x80 (a pointer
 *                 into the data pages), else b (a small value, so REP counts stay small);
 *                 RSP always points into the stack page
 *   byte 16       RFLAGS arithmetic flags and DF
 *   bytes 17..    code, copied to CODE (two read-write-execute pages, so the code can modify
 *                 itself and instructions can straddle the page boundary)
 * Every instruction of the code is decoded with cpu_decode_one and disassembled, then the
 * vCPU runs from CODE until its first exit (SYSCALL, exception, HLT, or a kick from the
 * watchdog after 10 ms for loops). The vCPU must never crash the host, only return exits.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "fuzz_common.h"
#include "omnivisor/memory.h"
#include "omnivisor/vcpu.h"

#define WINDOW (1ULL << 32)
#define CODE 0x10000ULL
#define CODE_LEN (2 * GUEST_PAGE_SIZE)
#define DATA 0x20000ULL
#define DATA_LEN (4 * GUEST_PAGE_SIZE)
#define STACK 0x30000ULL
#define STACK_LEN (2 * GUEST_PAGE_SIZE)
#define RUN_LIMIT_NS (10 * 1000 * 1000LL)

static struct guest_mem *mem;
static struct block_cache *cache;
static struct vcpu cpu;
static _Atomic long long run_started_ns; /* 0: not running */

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Kicks a vcpu_run that has gone on for too long (a guest loop). */
static void *watchdog(void *arg)
{
	for (;;) {
		long long t = atomic_load(&run_started_ns);
		if (t && now_ns() - t > RUN_LIMIT_NS)
			vcpu_kick(&cpu);
		usleep(2000);
	}
	return NULL;
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz_cpu: setup: %s failed\n", what);
	abort();
}

static void setup(void)
{
	pthread_t th;

	mem = mem_create(WINDOW);
	if (!mem)
		die("mem_create");
	if (mem_map(mem, CODE, CODE_LEN, GPROT_READ | GPROT_WRITE | GPROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != (int64_t)CODE ||
	    mem_map(mem, DATA, DATA_LEN, GPROT_READ | GPROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != (int64_t)DATA ||
	    mem_map(mem, STACK, STACK_LEN, GPROT_READ | GPROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != (int64_t)STACK)
		die("mem_map");
	cache = block_cache_create(mem);
	if (!cache)
		die("block_cache_create");
	vcpu_init(&cpu, mem, cache);
	fuzz_install_fault_handler(mem_base(mem), mem_base(mem) + mem_limit(mem));
	if (pthread_create(&th, NULL, watchdog, NULL))
		die("pthread_create");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	uint8_t *base;
	const uint8_t *code;
	size_t code_len;
	struct insn in;
	char text[128];

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size < 17)
		return 0;
	code = data + 17;
	code_len = size - 17 < CODE_LEN ? size - 17 : CODE_LEN;

	/* the decoder alone, instruction by instruction */
	for (size_t off = 0; off < code_len;) {
		if (cpu_decode_one(code + off, code_len - off, CODE + off, &in) < 0 || !in.len) {
			off++;
			continue;
		}
		cpu_disasm(code + off, code_len - off, CODE + off, text, sizeof(text));
		off += in.len;
	}

	/* fresh guest memory: the host writes invalidate code decoded from earlier inputs */
	base = mem_base(mem);
	mem_prepare_write(mem, CODE, CODE_LEN);
	memset(base + CODE, 0xf4, CODE_LEN); /* HLT after the code: #GP in user mode */
	memcpy(base + CODE, code, code_len);
	mem_prepare_write(mem, DATA, DATA_LEN);
	for (size_t i = 0; i < DATA_LEN; i++)
		base[DATA + i] = (uint8_t)(i * 37 + 11);
	mem_prepare_write(mem, STACK, STACK_LEN);
	memset(base + STACK, 0, STACK_LEN);

	/* registers */
	vcpu_destroy(&cpu);
	vcpu_init(&cpu, mem, cache);
	for (int i = 0; i < 16; i++)
		cpu.gpr[i] = (data[i] & 0x80) ? DATA + 16ULL * (data[i] & 0x7f) : data[i];
	cpu.gpr[R_RSP] = STACK + STACK_LEN - 256;
	cpu.rflags = 0x202 | (data[16] & (FLAGS_ARITH | FLAG_DF));
	cpu.rip = CODE;

	atomic_store(&run_started_ns, now_ns());
	(void)vcpu_run(&cpu);
	atomic_store(&run_started_ns, 0);
	cpu.exit_request = 0;
	return 0;
}
