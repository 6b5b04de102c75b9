/* SPDX-License-Identifier: MIT */
/*
 * The TLB benchmark's loop, shared by the guest kernel (guest.c) and the native twin
 * (native.c) so both run the same code: read one qword from each of nr_pages pages, stride
 * bytes apart, rounds times over. Returns the sum so nothing is optimised away.
 */
#ifndef TLB_BENCH_LOOP_H
#define TLB_BENCH_LOOP_H

#include <stdint.h>

/* The working sets. Omnivisor's soft TLB is 256 entries, direct-mapped on GVA bits 19:12
 * (docs/mmu.md), so:
 *   fit       64 consecutive pages: 64 distinct TLB indices, every access hits
 *   sweep   4096 consecutive pages: each index is reused every 256 pages, every access misses
 *   conflict  64 pages 1 MiB apart: all share one TLB index, every access misses
 * Each does 2^22 accesses. */
struct tlb_set {
	const char *name;
	uint64_t nr_pages;
	uint64_t stride;
	uint64_t rounds;
};
#define TLB_SETS                                                                             \
	{                                                                                    \
		{ "fit64", 64, 4096, 65536 }, { "sweep4096", 4096, 4096, 1024 },             \
			{ "conflict64", 64, 1 << 20, 65536 },                                \
	}
#define TLB_NR_SETS 3
/* The largest span: 4096 pages of 4 KiB, or 64 pages 1 MiB apart */
#define TLB_SPAN (64ULL << 20)

static __attribute__((noinline, unused)) uint64_t tlb_loop(uintptr_t base, uint64_t nr_pages,
							    uint64_t stride, uint64_t rounds)
{
	uint64_t sum = 0;
	for (uint64_t r = 0; r < rounds; r++) {
		uintptr_t p = base;
		for (uint64_t i = 0; i < nr_pages; i++, p += stride)
			sum += *(volatile uint64_t *)p;
	}
	return sum;
}

#endif
