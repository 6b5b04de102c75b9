/* SPDX-License-Identifier: MIT */
/*
 * Memory-access corner cases a software MMU and a decoded-code cache must get right:
 *   - an access split across two pages whose second page faults: #PF for the second page, and
 *     the instruction has no effect (Intel SDM Vol. 3A 6.5: a fault is reported with the state
 *     before the instruction, so the first page's bytes are unchanged); CR2 = the first byte
 *     of the access in the faulting page
 *   - REP STOSB running into an unmapped page (Vol. 2B REP: a repeated string instruction is
 *     interrupted at an iteration boundary with RCX/RDI updated, restartable): RDI = CR2 = the
 *     first byte of the faulting page, RCX = what is left, the first page filled
 *   - self-modifying code through an alias mapping (another linear address, same physical
 *     page), then CPUID (serializing) before jumping to it: the new code runs (Vol. 3A 8.1.3,
 *     "Handling Self- and Cross-Modifying Code")
 *   - code at a linear address remapped to another physical page + INVLPG: the new page's code
 *     runs
 *   - REP MOVSB of 1 MiB while the LAPIC timer interrupts it periodically: the copy is complete
 *     and exact (an interrupt between iterations resumes the instruction, Vol. 2B REP)
 */
#include "guest.h"

#define T_BASE 0x0000008000000000UL

__asm__(".text\n"
	".globl probe_stosb\n"
	/* rdi = dest, stos_count bytes of 0xab */
	"probe_stosb:\n"
	"	mov stos_count(%rip), %rcx\n"
	"	mov $0xab, %al\n"
	".globl probe_stosb_insn\n"
	"probe_stosb_insn: rep stosb\n"
	"	ret\n");
uint64_t probe_stosb(uint64_t);
extern char probe_stosb_insn[];

uint64_t stos_count;

static uint64_t fault_rdi, fault_rcx;
static void pf_record(struct frame *f)
{
	fault_rdi = f->rdi;
	fault_rcx = f->rcx;
	/* then recover as usual */
	f->rip = recover_rip;
	f->rsp = recover_rsp;
	f->cs = SEL_KCODE;
	f->ss = SEL_KDATA;
	f->rflags = 2;
}

static volatile uint64_t ticks;
static void tick(struct frame *f)
{
	ticks++;
	lapic_write(LAPIC_EOI, 0);
}

typedef uint64_t (*code_fn)(void);

void test_main(void)
{
	name_addr((uint64_t)probe_stosb_insn, "probe_stosb");

	/* split access: page 0 writable, page 1 not present / read-only */
	uint8_t *f0 = alloc_page(), *f1 = alloc_page();
	for (int i = 0; i < 4096; i++)
		f0[i] = 0x11, f1[i] = 0x22;
	map_4k(T_BASE, (uint64_t)f0, PTE_P | PTE_W);
	exc_clear();
	try_call(probe_write, T_BASE + 4092);
	print_exc("split write, 2nd page not present", true);
	printf("  first page bytes 4092..4095: %02x %02x %02x %02x\n", f0[4092], f0[4093], f0[4094],
	       f0[4095]);
	map_4k(T_BASE + 4096, (uint64_t)f1, PTE_P);
	exc_clear();
	try_call(probe_write, T_BASE + 4090);
	print_exc("split write, 2nd page read-only", true);
	printf("  first page bytes 4090..4095: %02x %02x %02x %02x %02x %02x; second page byte 0: "
	       "%02x\n",
	       f0[4090], f0[4091], f0[4092], f0[4093], f0[4094], f0[4095], f1[0]);
	exc_clear();
	*(uint64_t *)(f1) = 0x8877665544332211UL;
	*(uint64_t *)(f0 + 4088) = 0x0102030405060708UL;
	if (!try_call(probe_read, T_BASE + 4092))
		printf("split read across both pages: %#lx\n", try_result);

	/* REP STOSB into an unmapped page */
	map_4k(T_BASE + 0x10000, (uint64_t)alloc_page(), PTE_P | PTE_W);
	set_handler(14, pf_record);
	exc_clear();
	stos_count = 8192;
	try_call(probe_stosb, T_BASE + 0x10000 + 0x800);
	set_handler(14, NULL);
	print_exc("rep stosb into unmapped page", true);
	printf("  rdi=%#lx rcx=%#lx\n", fault_rdi, fault_rcx);
	uint8_t *filled = (uint8_t *)(*pte_ptr(T_BASE + 0x10000, 1, false) & ~0xfffUL);
	printf("  filled: first byte %02x, last byte of the page %02x, byte before %02x\n",
	       filled[0x800], filled[0xfff], filled[0x7ff]);

	/* self-modifying code through an alias */
	uint8_t *code = alloc_page();
	code[0] = 0xb8; /* mov $1, %eax */
	*(uint32_t *)&code[1] = 1;
	code[5] = 0xc3; /* ret */
	map_4k(T_BASE + 0x20000, (uint64_t)code, PTE_P | PTE_W); /* execute view */
	map_4k(T_BASE + 0x21000, (uint64_t)code, PTE_P | PTE_W); /* data view */
	code_fn fn = (code_fn)(T_BASE + 0x20000);
	printf("code first run: %lu\n", fn());
	*(volatile uint32_t *)(T_BASE + 0x21000 + 1) = 2;
	uint32_t r[4];
	cpuid(0, 0, r);
	printf("code after write through alias: %lu\n", fn());
	*(volatile uint32_t *)(T_BASE + 0x20000 + 1) = 3;
	printf("code after write through its own address: %lu\n", fn());

	/* code page remapped */
	uint8_t *code2 = alloc_page();
	code2[0] = 0xb8;
	*(uint32_t *)&code2[1] = 42;
	code2[5] = 0xc3;
	*pte_ptr(T_BASE + 0x20000, 1, false) = (uint64_t)code2 | PTE_P | PTE_W;
	invlpg(T_BASE + 0x20000);
	printf("code after remap + invlpg: %lu\n", fn());

	/* REP MOVSB interrupted by a periodic timer */
	lapic_enable();
	set_handler(0x41, tick);
	uint8_t *src = (uint8_t *)0x2000000UL, *dst = (uint8_t *)0x2200000UL; /* 32 MiB, 34 MiB */
	for (uint64_t i = 0; i < (1 << 20); i++)
		src[i] = (uint8_t)(i * 7 + (i >> 12));
	lapic_write(LAPIC_TIMER_DCR, 0xb);
	lapic_write(LAPIC_LVT_TIMER, 0x41 | (1u << 17)); /* periodic */
	lapic_write(LAPIC_TIMER_ICR, 20000);
	/* at least 8 copies and until 3 ticks came (within 2000 copies) */
	for (int rep = 0; rep < 2000 && (rep < 8 || ticks < 3); rep++) {
		__asm__ volatile("sti\n\trep movsb\n\tcli"
				 : "+D"(dst), "+S"(src)
				 : "c"(1UL << 20)
				 : "memory");
		dst -= 1 << 20;
		src -= 1 << 20;
	}
	lapic_write(LAPIC_LVT_TIMER, 1u << 16);
	lapic_write(LAPIC_TIMER_ICR, 0);
	uint64_t bad = 0;
	for (uint64_t i = 0; i < (1 << 20); i++)
		bad += dst[i] != src[i];
	printf("rep movsb with timer interrupts: %lu bytes differ, ticks >= 3: %s\n", bad,
	       ticks >= 3 ? "yes" : "no");
}
