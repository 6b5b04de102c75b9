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
 *   noload    the fit64 loop without its load (tlb_loop_noload): the loop's own cost
 * Each does 2^22 accesses. */
static uint64_t tlb_loop(uintptr_t base, uint64_t nr_pages, uint64_t stride, uint64_t rounds);
static uint64_t tlb_loop_noload(uintptr_t base, uint64_t nr_pages, uint64_t stride,
				uint64_t rounds);

struct tlb_set {
	const char *name;
	uint64_t nr_pages;
	uint64_t stride;
	uint64_t rounds;
	uint64_t (*loop)(uintptr_t base, uint64_t nr_pages, uint64_t stride, uint64_t rounds);
};
#define TLB_SETS                                                                             \
	{                                                                                    \
		{ "noload", 64, 4096, 65536, tlb_loop_noload },                              \
			{ "fit64", 64, 4096, 65536, tlb_loop },                              \
			{ "sweep4096", 4096, 4096, 1024, tlb_loop },                         \
			{ "conflict64", 64, 1 << 20, 65536, tlb_loop },                      \
	}
#define TLB_NR_SETS 4
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

/* The same loop without the load: the cost of the loop instructions alone (add, add, cmp,
 * jne per iteration), to subtract from the others. */
static __attribute__((noinline, unused)) uint64_t tlb_loop_noload(uintptr_t base,
								  uint64_t nr_pages,
								  uint64_t stride, uint64_t rounds)
{
	for (uint64_t r = 0; r < rounds; r++) {
		uintptr_t p = base;
		for (uint64_t i = 0; i < nr_pages; i++, p += stride)
			__asm__ volatile("" : "+r"(p));
	}
	return base;
}

#endif
