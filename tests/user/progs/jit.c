/* SPDX-License-Identifier: MIT */
/*
 * JIT-style self-modifying code from several threads at once: each thread keeps rewriting a
 * small function in its own RWX page (mov eax, imm32; ret) and calls it, 20000 times, checking
 * it returns the new value every time. Exercises decoded-code invalidation and the reclamation
 * of invalidated blocks while other vCPU threads run. Prints a checksum that must equal the
 * native run's.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define NR_THREADS 4
#define ROUNDS 20000

static void *worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t sum = 0;
	if (page == MAP_FAILED)
		return (void *)-1;
	for (uint32_t i = 0; i < ROUNDS; i++) {
		uint32_t v = i * 2654435761u + (uint32_t)id;
		/* place the function at a moving offset too, so new blocks keep appearing */
		uint8_t *f = page + (i % 64) * 16;
		f[0] = 0xb8; /* mov eax, imm32 */
		memcpy(f + 1, &v, 4);
		f[5] = 0xc3; /* ret */
		__asm__ volatile("" ::: "memory");
		uint32_t r = ((uint32_t(*)(void))(uintptr_t)f)();
		if (r != v) {
			printf("thread %u: round %u returned %#x, expected %#x\n", (unsigned)id, i, r, v);
			return (void *)-1;
		}
		sum += r;
	}
	return (void *)(uintptr_t)(sum & 0xffffffff);
}

int main(void)
{
	pthread_t th[NR_THREADS];
	uint64_t total = 0;
	for (uintptr_t i = 0; i < NR_THREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (int i = 0; i < NR_THREADS; i++) {
		void *r;
		pthread_join(th[i], &r);
		if (r == (void *)-1)
			return 1;
		total += (uintptr_t)r;
	}
	printf("jit: %d threads x %d rewrites, checksum %llu\n", NR_THREADS, ROUNDS,
	       (unsigned long long)total);
	return 0;
}
