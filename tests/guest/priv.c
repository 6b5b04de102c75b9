/* SPDX-License-Identifier: MIT */
/*
 * Privilege transitions (Intel SDM Vol. 3A 5.8, 6.12, 6.14; Vol. 2 SYSCALL/SYSRET/IRET/INT n).
 *   - IRETQ to CPL 3: CS/SS as popped, CPL = 3 (6.14.3, Vol. 2 IRET)
 *   - INT 0x80 through a DPL 3 gate from CPL 3: stack switch to TSS.RSP0 (6.14.4: the CPU pushes
 *     SS, RSP, RFLAGS, CS, RIP on the new 16-byte aligned stack), saved RIP = next instruction
 *   - INT 0x81 through a DPL 0 gate from CPL 3: #GP with error code vector*8+2 (IDT bit, EXT=0
 *     for INT n; 6.12.1.1, 6.13), saved RIP = the INT instruction
 *   - an exception from CPL 3 (#UD) switches to RSP0 too
 *   - IST (6.14.5): a gate with IST=1 always switches to IST1, also from CPL 0
 *   - SYSCALL (Vol. 2B): RCX = next RIP, R11 = RFLAGS, RFLAGS &= ~IA32_FMASK, CS = STAR[47:32],
 *     SS = STAR[47:32]+8, RSP unchanged
 *   - SYSRET (Vol. 2B): RIP = RCX, RFLAGS = (R11 & 3C7FD7H) | 2, CS = STAR[63:48]+16 | 3,
 *     SS = STAR[63:48]+8 | 3, CPL 3
 *   - privileged instructions at CPL 3 raise #GP(0) (5.9): HLT, CLI (IOPL 0), MOV to CR3,
 *     INVLPG, RDMSR, IN (IOPL 0, no I/O bitmap: 18.5.1? Vol. 1 19.5)
 */
#include "guest.h"

/* Filled by the user snippets */
uint64_t u_cs, u_ss, u_rflags, u_rsp;

__asm__(".text\n"
	/* CPL 3: record CS, SS, RFLAGS, RSP, then INT 0x80 */
	".globl u_record, u_record_int\n"
	"u_record:\n"
	"	mov %cs, %rax\n"
	"	mov %rax, u_cs(%rip)\n"
	"	mov %ss, %rax\n"
	"	mov %rax, u_ss(%rip)\n"
	".globl u_record_pushf\n"
	"u_record_pushf: pushfq\n"
	"	popq u_rflags(%rip)\n"
	"	mov %rsp, u_rsp(%rip)\n"
	"u_record_int: int $0x80\n"
	".globl u_record_after\n"
	"u_record_after: ud2\n" /* not reached: INT 0x80 leaves user mode */
	/* CPL 3: INT 0x81 (DPL 0 gate) */
	".globl u_int81, u_int81_insn\n"
	"u_int81:\n"
	"u_int81_insn: int $0x81\n"
	"	int $0x80\n"
	".globl u_ud2, u_ud2_insn\n"
	"u_ud2:\n"
	"	mov %rsp, u_rsp(%rip)\n"
	"u_ud2_insn: ud2\n"
	"	int $0x80\n"
	".globl u_int3, u_int3_after\n"
	"u_int3:\n"
	"	mov %rsp, u_rsp(%rip)\n"
	"	int3\n"
	"u_int3_after: int $0x80\n"
	/* CPL 3: SYSCALL with DF=1 and known RAX */
	".globl u_syscall, u_syscall_after\n"
	"u_syscall:\n"
	"	mov %rsp, u_rsp(%rip)\n"
	"	std\n"
	"	mov $0x1234, %eax\n"
	"	syscall\n"
	"u_syscall_after: int $0x80\n"
	/* privileged instructions at CPL 3 */
	".globl u_hlt, u_hlt_insn, u_cli, u_cli_insn, u_cr3, u_cr3_insn, u_invlpg, u_invlpg_insn\n"
	".globl u_rdmsr, u_rdmsr_insn, u_in, u_in_insn\n"
	"u_hlt:\n"
	"u_hlt_insn: hlt\n"
	"	int $0x80\n"
	"u_cli:\n"
	"u_cli_insn: cli\n"
	"	int $0x80\n"
	"u_cr3:\n"
	"	xor %eax, %eax\n"
	"u_cr3_insn: mov %rax, %cr3\n"
	"	int $0x80\n"
	"u_invlpg:\n"
	"u_invlpg_insn: invlpg (%rsp)\n"
	"	int $0x80\n"
	"u_rdmsr:\n"
	"	mov $0xc0000080, %ecx\n"
	"u_rdmsr_insn: rdmsr\n"
	"	int $0x80\n"
	"u_in:\n"
	"	mov $0x80, %dx\n"
	"u_in_insn: inb %dx, %al\n"
	"	int $0x80\n"
	/* CPL 0: INT3 with the #BP gate on IST1 */
	".globl k_int3, k_int3_after\n"
	"k_int3:\n"
	"	mov %rsp, u_rsp(%rip)\n"
	"	int3\n"
	"k_int3_after: ret\n");
void u_record(void), u_int81(void), u_ud2(void), u_int3(void), u_syscall(void), u_hlt(void),
	u_cli(void), u_cr3(void), u_invlpg(void), u_rdmsr(void), u_in(void);
uint64_t k_int3(uint64_t);
extern char u_record_pushf[], u_record_int[], u_record_after[], u_int81_insn[], u_ud2_insn[], u_int3_after[],
	u_syscall_after[], u_hlt_insn[], u_cli_insn[], u_cr3_insn[], u_invlpg_insn[],
	u_rdmsr_insn[], u_in_insn[], k_int3_after[];

static const char *stack_name(uint64_t top)
{
	if (top == RSP0_TOP)
		return "rsp0";
	if (top == IST1_TOP)
		return "ist1";
	if (top == IST2_TOP)
		return "ist2";
	return "other";
}

/* Prints what the handler saw: vector, error, RIP, CS, SS, and which stack it ran on */
static void show(const char *what)
{
	printf("%s: vector=%lu err=%#lx rip=%s cs=%#lx ss=%#lx stack=%s", what, last_exc.vector,
	       last_exc.error, rip_name(last_exc.rip), last_exc.cs, last_exc.ss,
	       stack_name(last_exc.stack_top));
	printf(" saved_rsp=%s\n", last_exc.rsp == u_rsp ? "ok" : "wrong");
}

/* #BP is a trap: the user code goes on to INT 0x80, so keep the #BP record apart */
static struct exc_rec bp_rec;
static void bp_handler(struct frame *f)
{
	bp_rec = *(struct exc_rec *)&last_exc;
}

static void show_bp(const char *what)
{
	printf("%s: vector=%lu rip=%s cs=%#lx ss=%#lx stack=%s saved_rsp=%s\n", what,
	       bp_rec.vector, rip_name(bp_rec.rip), bp_rec.cs, bp_rec.ss,
	       stack_name(bp_rec.stack_top), bp_rec.rsp == u_rsp ? "ok" : "wrong");
}

static void gp_cpl3(const char *what, void (*fn)(void))
{
	exc_clear();
	int r = user_call(fn, 0);
	printf("%s: %s", what, r ? "" : "no exception\n");
	if (r)
		printf("vector=%lu err=%#lx rip=%s cs=%#lx\n", last_exc.vector, last_exc.error,
		       rip_name(last_exc.rip), last_exc.cs);
}

void test_main(void)
{
	name_addr((uint64_t)u_record_after, "u_record_after");
	name_addr((uint64_t)u_record_pushf, "u_record_pushf");
	name_addr((uint64_t)u_int81_insn, "u_int81");
	name_addr((uint64_t)u_ud2_insn, "u_ud2");
	name_addr((uint64_t)u_int3_after, "u_int3_after");
	name_addr((uint64_t)u_syscall_after, "u_syscall_after");
	name_addr((uint64_t)u_hlt_insn, "u_hlt");
	name_addr((uint64_t)u_cli_insn, "u_cli");
	name_addr((uint64_t)u_cr3_insn, "u_cr3");
	name_addr((uint64_t)u_invlpg_insn, "u_invlpg");
	name_addr((uint64_t)u_rdmsr_insn, "u_rdmsr");
	name_addr((uint64_t)u_in_insn, "u_in");
	name_addr((uint64_t)k_int3_after, "k_int3_after");

	/* IRETQ to CPL 3, back with INT 0x80 (DPL 3 gate) */
	exc_clear();
	user_rflags = 0x2;
	int r = user_call(u_record, 0);
	printf("iretq to cpl3: returned=%d cs=%#lx ss=%#lx cpl=%lu rflags=%#lx rsp=%s\n", r, u_cs,
	       u_ss, u_cs & 3, u_rflags, u_rsp == USER_STACK_TOP ? "user_stack_top" : "other");
	show("int 0x80 from cpl3");
	/* the saved RFLAGS is the user's; the handler ran with IF=0 (interrupt gate) */
	printf("int 0x80 saved rflags=%#lx\n", last_exc.rflags);

	/* INT n through a DPL 0 gate from CPL 3 */
	exc_clear();
	r = user_call(u_int81, 0);
	u_rsp = USER_STACK_TOP;
	show("int 0x81 (dpl0 gate) from cpl3");

	/* #UD from CPL 3: stack switch to RSP0 */
	exc_clear();
	user_call(u_ud2, 0);
	show("#UD from cpl3");

	/* IST: #BP gate with IST=1, from CPL 0 and from CPL 3 */
	set_gate(3, 3, 1, true);
	set_handler(3, bp_handler);
	exc_clear();
	try_call(k_int3, 0);
	show_bp("int3 cpl0 via ist1");
	exc_clear();
	user_call(u_int3, 0);
	show_bp("int3 cpl3 via ist1");
	set_gate(3, 3, 0, true);
	exc_clear();
	user_call(u_int3, 0);
	show_bp("int3 cpl3 without ist");
	set_handler(3, NULL);

	/* SYSCALL: SFMASK clears DF (0x400), IF (0x200), TF (0x100), AC (0x40000) */
	wrmsr(MSR_SFMASK, 0x40700);
	exc_clear();
	sc_count = 0;
	user_rflags = 0x202;
	r = user_call(u_syscall, 0);
	printf("syscall: count=%lu rcx=%s r11=%#lx rflags=%#lx cs=%#lx ss=%#lx rsp=%s rax=%#lx\n",
	       sc_count, rip_name(sc_rec[0]), sc_rec[1], sc_rec[2], sc_rec[3], sc_rec[4],
	       sc_rec[5] == u_rsp ? "user" : "other", sc_rec[6]);
	user_rflags = 0x2;

	/* SYSRET: RFLAGS = (R11 & 3C7FD7H) | 2: reserved bits 3 and 5 cleared, bit 1 set */
	static const uint64_t r11s[2] = {
		0x8e9,	 /* CF, reserved 3 and 5, ZF, SF, OF; bit 1 clear */
		0x308eb, /* the same with RF (bit 16) and VM (bit 17), which SYSRET clears */
	};
	for (int i = 0; i < 2; i++) {
		exc_clear();
		user_rip = (uint64_t)u_record;
		user_rflags = r11s[i];
		user_rsp = USER_STACK_TOP - 0x100;
		u_cs = u_ss = u_rflags = u_rsp = 0;
		r = try_call(do_sysret, 0);
		printf("sysret r11=%#lx: returned=%d cs=%#lx ss=%#lx cpl=%lu rflags=%#lx rsp=%s\n",
		       r11s[i], r, u_cs, u_ss, u_cs & 3, u_rflags,
		       u_rsp == USER_STACK_TOP - 0x100 ? "as loaded" : "other");
		show("int 0x80 after sysret");
	}
	user_rflags = 0x2;

	/* SYSRET to a non-canonical RCX: #GP(0) raised at CPL 0 by the SYSRET itself (Vol. 2B
	 * SYSRET: "IF RCX is not canonical THEN #GP(0)"; Intel, unlike AMD) */
	name_addr((uint64_t)do_sysret_insn, "sysretq");
	exc_clear();
	user_rip = 0x0000800000000000UL;
	user_rsp = USER_STACK_TOP - 0x100;
	r = try_call(do_sysret, 0);
	printf("sysret to non-canonical rcx: returned=%d vector=%lu err=%#lx rip=%s cs=%#lx\n", r,
	       last_exc.vector, last_exc.error, rip_name(last_exc.rip), last_exc.cs);
	user_rsp = USER_STACK_TOP;

	/* privileged instructions at CPL 3: #GP(0), RIP = the instruction */
	gp_cpl3("hlt at cpl3", u_hlt);
	gp_cpl3("cli at cpl3 (iopl 0)", u_cli);
	gp_cpl3("mov cr3 at cpl3", u_cr3);
	gp_cpl3("invlpg at cpl3", u_invlpg);
	gp_cpl3("rdmsr at cpl3", u_rdmsr);
	gp_cpl3("in at cpl3 (iopl 0)", u_in);
	/* with IOPL 3 in the RFLAGS IRETQ loads, CLI and IN are allowed at CPL 3 */
	user_rflags = 0x3002;
	gp_cpl3("cli at cpl3 (iopl 3)", u_cli);
	gp_cpl3("in at cpl3 (iopl 3)", u_in);
	user_rflags = 0x2;
}
