/* SPDX-License-Identifier: MIT */
/*
 * External interrupts through the local APIC (Intel SDM Vol. 3A ch. 10, 6.8):
 *   - a fixed self-IPI (ICR destination shorthand "self", 10.6.1) sent with IF=0 stays pending
 *     in the IRR (10.8.4) and is not delivered until STI
 *   - STI shadow (Vol. 2B STI; 6.8.3): the interrupt is recognised after the instruction that
 *     follows STI, so the handler's saved RIP is the second instruction after STI
 *   - in the handler the vector's ISR bit is set, EOI clears it (10.8.5)
 *   - TPR (10.8.3.1): an interrupt whose priority class (vector[7:4]) is not above TPR[7:4]
 *     is held pending; lowering TPR delivers it
 *   - HLT with IF=1 wakes on the LAPIC timer (one-shot, 10.5.4); saved RIP = after HLT;
 *     the current count is 0 after a one-shot expiry
 *   - NMI by IPI (delivery mode 100b to the own APIC ID, 10.6.1) is delivered with IF=0;
 *     a second NMI sent inside the handler is blocked until IRETQ (6.7.1)
 *   - MOV SS shadow (6.8.3): the single-step trap (RFLAGS.TF, 17.3.1.4) of the MOV SS is
 *     suppressed and taken after the next instruction
 */
#include "guest.h"

#define VEC_IPI 0x40
#define VEC_TIMER 0x41

static volatile uint64_t ipi_rip, ipi_isr, timer_rip;
static volatile uint64_t nmi_inner_count, nmi_rflags;
static volatile int nmi_resend;

static bool isr_bit(int vec)
{
	return lapic_read(LAPIC_ISR + 0x10 * (vec / 32)) >> (vec % 32) & 1;
}

static bool irr_bit(int vec)
{
	return lapic_read(LAPIC_IRR + 0x10 * (vec / 32)) >> (vec % 32) & 1;
}

static void ipi_handler(struct frame *f)
{
	ipi_rip = f->rip;
	ipi_isr = isr_bit(VEC_IPI);
	lapic_write(LAPIC_EOI, 0);
}

static void timer_handler(struct frame *f)
{
	timer_rip = f->rip;
	lapic_write(LAPIC_EOI, 0);
}

static void send_nmi(void)
{
	lapic_write(LAPIC_ICR_HI, lapic_read(LAPIC_ID) & 0xff000000);
	lapic_write(LAPIC_ICR_LO, 0x400); /* NMI, physical, no shorthand, edge */
}

static void nmi_handler(struct frame *f)
{
	if (nmi_resend) {
		nmi_resend = 0;
		nmi_rflags = f->rflags;
		send_nmi();
		for (volatile int i = 0; i < 1000; i++)
			;
		nmi_inner_count = vec_count[2];
	}
}

static void self_ipi(int vec)
{
	lapic_write(LAPIC_ICR_LO, (1u << 18) | (uint32_t)vec); /* shorthand self, fixed, edge */
}

/* STI; NOP (sti_a); NOP (sti_b); CLI. Interrupt taken at sti_b. */
__asm__(".text\n"
	".globl sti_shadow, sti_a, sti_b, sti_c\n"
	"sti_shadow:\n"
	"	sti\n"
	"sti_a: nop\n"
	"sti_b: nop\n"
	"sti_c: cli\n"
	"	ret\n"
	".globl hlt_wait, hlt_after\n"
	"hlt_wait:\n"
	"	sti\n"
	"	hlt\n"
	"hlt_after: cli\n"
	"	ret\n"
	/* single-step across MOV SS: TF set by POPFQ traps after the next instruction */
	".globl movss_step, ss_a, ss_b, ss_c, ss_d, ss_e\n"
	"movss_step:\n"
	"	mov %ss, %eax\n"
	"	pushfq\n"
	"	orq $0x100, (%rsp)\n"
	"	popfq\n"
	"ss_a: nop\n"
	"ss_b: mov %eax, %ss\n"
	"ss_c: nop\n"
	"ss_d: nop\n"
	"ss_e: nop\n"
	"	ret\n");
void sti_shadow(void), hlt_wait(void), movss_step(void);
extern char sti_a[], sti_b[], sti_c[], hlt_after[], ss_a[], ss_b[], ss_c[], ss_d[], ss_e[];

static uint64_t db_rips[8];
static int nr_db;
static void db_handler(struct frame *f)
{
	if (nr_db < 8)
		db_rips[nr_db++] = f->rip;
	if (f->rip == (uint64_t)ss_e || nr_db >= 8)
		f->rflags &= ~0x100UL;
}

void test_main(void)
{
	name_addr((uint64_t)sti_a, "sti_a");
	name_addr((uint64_t)sti_b, "sti_b");
	name_addr((uint64_t)sti_c, "sti_c");
	name_addr((uint64_t)hlt_after, "hlt_after");
	name_addr((uint64_t)ss_a, "ss_a");
	name_addr((uint64_t)ss_b, "ss_b");
	name_addr((uint64_t)ss_c, "ss_c");
	name_addr((uint64_t)ss_d, "ss_d");
	name_addr((uint64_t)ss_e, "ss_e");

	lapic_enable();
	printf("apic id=%u svr=%#x\n", lapic_read(LAPIC_ID) >> 24, lapic_read(LAPIC_SVR));
	set_handler(VEC_IPI, ipi_handler);
	set_handler(VEC_TIMER, timer_handler);
	set_handler(2, nmi_handler);

	/* self-IPI with IF=0: pending */
	self_ipi(VEC_IPI);
	for (volatile int i = 0; i < 1000; i++)
		;
	printf("ipi with if=0: delivered=%lu irr=%d isr=%d\n", vec_count[VEC_IPI], irr_bit(VEC_IPI),
	       isr_bit(VEC_IPI));
	sti_shadow();
	printf("after sti: delivered=%lu rip=%s isr in handler=%lu isr after eoi=%d irr=%d\n",
	       vec_count[VEC_IPI], rip_name(ipi_rip), ipi_isr, isr_bit(VEC_IPI), irr_bit(VEC_IPI));

	/* TPR: class 4 (vector 0x40) blocked by TPR 0x40, delivered once TPR drops */
	lapic_write(LAPIC_TPR, 0x40);
	__asm__ volatile("sti");
	self_ipi(VEC_IPI);
	for (volatile int i = 0; i < 1000; i++)
		;
	__asm__ volatile("cli");
	printf("ipi with tpr=0x40: delivered=%lu irr=%d\n", vec_count[VEC_IPI] - 1,
	       irr_bit(VEC_IPI));
	__asm__ volatile("sti");
	lapic_write(LAPIC_TPR, 0x30);
	for (volatile int i = 0; i < 1000; i++)
		;
	__asm__ volatile("cli");
	printf("after tpr=0x30: delivered=%lu irr=%d\n", vec_count[VEC_IPI] - 1, irr_bit(VEC_IPI));
	lapic_write(LAPIC_TPR, 0);

	/* CR8 is TPR[7:4] (10.8.6.1): writing CR8 sets TPR = CR8 << 4, reading gives TPR >> 4 */
	write_cr8(5);
	printf("cr8=5: tpr=%#x\n", lapic_read(LAPIC_TPR));
	lapic_write(LAPIC_TPR, 0x9c);
	printf("tpr=0x9c: cr8=%#lx\n", read_cr8());
	write_cr8(0);
	printf("cr8=0: tpr=%#x\n", lapic_read(LAPIC_TPR));

	/* HLT woken by the one-shot LAPIC timer */
	lapic_write(LAPIC_TIMER_DCR, 0xb);		   /* divide by 1 */
	lapic_write(LAPIC_LVT_TIMER, VEC_TIMER);	   /* one-shot, not masked */
	lapic_write(LAPIC_TIMER_ICR, 100000);
	hlt_wait();
	printf("hlt: timer interrupts=%lu rip=%s ccr=%u\n", vec_count[VEC_TIMER],
	       rip_name(timer_rip), lapic_read(LAPIC_TIMER_CCR));
	/* again, with a pending timer interrupt already there when HLT runs */
	lapic_write(LAPIC_TIMER_ICR, 10);
	for (volatile int i = 0; i < 100000 && !irr_bit(VEC_TIMER); i++)
		;
	hlt_wait();
	printf("hlt with timer pending: timer interrupts=%lu rip=%s\n", vec_count[VEC_TIMER],
	       rip_name(timer_rip));
	lapic_write(LAPIC_LVT_TIMER, 1u << 16);

	/* NMI with IF=0; a second one is blocked inside the handler until IRETQ */
	nmi_resend = 1;
	send_nmi();
	for (volatile int i = 0; i < 1000; i++)
		;
	printf("nmi: delivered=%lu count inside handler after resend=%lu saved if=%lu\n",
	       vec_count[2], nmi_inner_count, nmi_rflags >> 9 & 1);

	/* MOV SS shadow for the single-step trap */
	set_handler(1, db_handler);
	movss_step();
	printf("single-step #DB at:");
	for (int i = 0; i < nr_db; i++)
		printf(" %s", rip_name(db_rips[i]));
	printf("\n");
	set_handler(1, NULL);
	printf("spurious=%lu\n", vec_count[0xff]);
}
