/* SPDX-License-Identifier: MIT */
/*
 * TLB benchmark, guest side (bench/tlb/README in bench/tlb.mk): maps the working sets of
 * loop.h with 4 KiB pages at GVA 0x8000000000 (PML4[1]) onto 16 MiB of guest RAM, runs each
 * loop once to warm up and once timed with RDTSC, and prints per set
 *   RESULT <name> <pages> <accesses> <tsc cycles>
 * and the TSC frequency two ways: CPUID.15H (crystal * EBX / EAX; 0 if the leaf is absent) and
 * a calibration against PIT channel 2 (50 ms, mode 0, gate and OUT2 through port 0x61, as
 * Linux's pit_calibrate_tsc does), so the script can turn cycles into nanoseconds even where
 * the TSC rate is not advertised (QEMU TCG's RDTSC follows the host clock).
 *   TSC cpuid15=<Hz> pit=<largest Hz> pit_runs=<Hz>,<Hz>,<Hz>
 * Built with tests/guest's boot stub and library.
 */
#include "guest.h"
#include "loop.h"

#define BENCH_VA 0x0000008000000000UL
#define FRAMES_PA 0x1000000UL /* 16 MiB..32 MiB: 4096 frames */

static uint64_t tsc_cpuid15(void)
{
	uint32_t r[4];
	cpuid(0, 0, r);
	if (r[0] < 0x15)
		return 0;
	cpuid(0x15, 0, r);
	if (!r[0] || !r[1] || !r[2])
		return 0;
	return (uint64_t)r[2] * r[1] / r[0];
}

static uint64_t tsc_pit(void)
{
	const uint32_t latch = 59659; /* 50 ms at 1193182 Hz */
	uint8_t v = inb(0x61);
	outb(0x61, (uint8_t)((v & ~0x02) | 0x01)); /* speaker off, gate 2 on */
	outb(0x43, 0xb0);			   /* channel 2, lobyte/hibyte, mode 0 */
	outb(0x42, latch & 0xff);
	outb(0x42, latch >> 8);
	/* t1 is read before a poll that still sees OUT2 low, so it never lies after the end */
	uint64_t t0 = rdtsc(), t1 = t0;
	for (uint64_t n = 0; n < 100000000; n++) {
		uint64_t t = rdtsc();
		if (inb(0x61) & 0x20)
			break;
		t1 = t;
	}
	outb(0x61, v);
	return (t1 - t0) * 1193182 / latch;
}

void test_main(void)
{
	static const struct tlb_set sets[TLB_NR_SETS] = TLB_SETS;
	/* 4096 consecutive pages, and 64 pages 1 MiB apart (the first 64 frames again) */
	for (uint64_t i = 0; i < 4096; i++)
		*pte_ptr(BENCH_VA + i * 4096, 1, true) = (FRAMES_PA + i * 4096) | PTE_P | PTE_W;
	for (uint64_t i = 0; i < 64; i++)
		*pte_ptr(BENCH_VA + (i << 20), 1, true) = (FRAMES_PA + i * 4096) | PTE_P | PTE_W;
	flush_tlb();

	for (int s = 0; s < TLB_NR_SETS; s++) {
		const struct tlb_set *t = &sets[s];
		t->loop(BENCH_VA, t->nr_pages, t->stride, 1);
		uint64_t t0 = rdtsc();
		t->loop(BENCH_VA, t->nr_pages, t->stride, t->rounds);
		uint64_t t1 = rdtsc();
		printf("RESULT %s %lu %lu %lu\n", t->name, t->nr_pages, t->nr_pages * t->rounds,
		       t1 - t0);
	}
	/* Three PIT calibrations; the largest is used. Every error of the method makes the
	 * result smaller: a delay between starting the count and reading t0 (the vCPU thread
	 * preempted on a loaded host), and t1 being taken before the last poll that still saw
	 * OUT2 low. */
	uint64_t c[3], best = 0;
	for (int i = 0; i < 3; i++) {
		c[i] = tsc_pit();
		if (c[i] > best)
			best = c[i];
	}
	printf("TSC cpuid15=%lu pit=%lu pit_runs=%lu,%lu,%lu\n", tsc_cpuid15(), best, c[0], c[1],
	       c[2]);
}
