/* SPDX-License-Identifier: MIT */
/*
 * TLB benchmark, native twin of guest.c: the same loop (loop.h) over the same page counts in
 * host memory, timed with CLOCK_MONOTONIC; best of 5 runs per set. Prints
 *   RESULT <name> <pages> <accesses> <ns>
 *   TSC host=<Hz>   (the host TSC rate, which QEMU TCG's RDTSC follows)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "loop.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(void)
{
	static const struct tlb_set sets[TLB_NR_SETS] = TLB_SETS;
	/* 4 KiB pages as in the guest: no transparent huge pages for this mapping */
	char *base = mmap(NULL, TLB_SPAN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	if (base == MAP_FAILED) {
		perror("tlb-native: mmap");
		return 1;
	}
	madvise(base, TLB_SPAN, MADV_NOHUGEPAGE);
	for (uint64_t off = 0; off < TLB_SPAN; off += 4096)
		base[off] = 1;
	uint64_t sink = 0;
	for (int s = 0; s < TLB_NR_SETS; s++) {
		const struct tlb_set *t = &sets[s];
		uint64_t best = UINT64_MAX;
		for (int run = 0; run < 5; run++) {
			sink += t->loop((uintptr_t)base, t->nr_pages, t->stride, 1);
			uint64_t t0 = now_ns();
			sink += t->loop((uintptr_t)base, t->nr_pages, t->stride, t->rounds);
			uint64_t dt = now_ns() - t0;
			if (dt < best)
				best = dt;
		}
		printf("RESULT %s %lu %lu %lu\n", t->name, (unsigned long)t->nr_pages,
		       (unsigned long)(t->nr_pages * t->rounds), (unsigned long)best);
	}
	/* the host TSC rate against CLOCK_MONOTONIC over 200 ms: QEMU TCG's RDTSC is the host's
	 * TSC (plus an offset), so this converts QEMU guest cycles into time */
	uint64_t n0 = now_ns(), c0 = __rdtsc();
	usleep(200000);
	uint64_t n1 = now_ns(), c1 = __rdtsc();
	printf("TSC host=%lu\n", (unsigned long)((c1 - c0) * 1000000000.0 / (double)(n1 - n0)));
	fprintf(stderr, "tlb-native: checksum %lu\n", (unsigned long)sink);
	return 0;
}
