/* SPDX-License-Identifier: MIT */
/*
 * Threads (clone with CLONE_THREAD, futex, set_tid_address, thread-local storage through FS):
 * workers update shared counters with LOCK-prefixed atomics and under a mutex, wait at a
 * barrier, and hand results back through pthread_join. The output is deterministic.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#define NR_THREADS 4
#define NR_ITERS 20000

static uint64_t atomic_sum;
static uint64_t locked_sum;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t barrier;
static __thread uint64_t tls_counter;

static void *worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	uint64_t x = id + 1;
	for (int i = 0; i < NR_ITERS; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		__atomic_fetch_add(&atomic_sum, x >> 40, __ATOMIC_SEQ_CST);
		tls_counter += x >> 60;
		if (i % 64 == 0) {
			pthread_mutex_lock(&lock);
			locked_sum += x >> 50;
			pthread_mutex_unlock(&lock);
		}
	}
	pthread_barrier_wait(&barrier);
	return (void *)(uintptr_t)tls_counter;
}

int main(void)
{
	pthread_t t[NR_THREADS];
	pthread_barrier_init(&barrier, NULL, NR_THREADS);
	for (uintptr_t i = 0; i < NR_THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i)) {
			perror("pthread_create");
			return 1;
		}
	uint64_t tls_total = 0;
	for (int i = 0; i < NR_THREADS; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		printf("thread %d: tls counter %lu\n", i, (unsigned long)(uintptr_t)ret);
		tls_total += (uintptr_t)ret;
	}
	printf("atomic sum %lu, locked sum %lu, tls total %lu, main tls %lu\n",
	       (unsigned long)atomic_sum, (unsigned long)locked_sum, (unsigned long)tls_total,
	       (unsigned long)tls_counter);
	return 0;
}
