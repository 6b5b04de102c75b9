/* SPDX-License-Identifier: MIT */
/*
 * Library of the guest test kernels: printf on the debugcon port, exit, IDT/TSS setup,
 * exception recording and recovery, page-table helpers, local APIC. See guest.h.
 */
#include <stdarg.h>

#include "guest.h"

int nr_fail;
volatile struct exc_rec last_exc;
volatile uint64_t exc_count;
volatile uint64_t vec_count[256];
uint64_t try_result, recover_rip, recover_rsp;
uint64_t user_rip, user_rsp, user_rflags = 0x2, uret_rip, uret_rsp, user_arg;
volatile uint64_t sc_rec[7];
volatile uint64_t sc_count;

struct tss64 tss;
static vec_handler_t handlers[256];

struct __attribute__((packed)) idt_gate {
	uint16_t off0;
	uint16_t sel;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t off1;
	uint32_t off2;
	uint32_t reserved;
};
static struct idt_gate idt[256] __attribute__((aligned(16)));

/* Stacks (identity-mapped, user-accessible like all of the image) */
uint8_t rsp0_stack[STACK_SIZE] __attribute__((aligned(4096)));
uint8_t ist1_stack[STACK_SIZE] __attribute__((aligned(4096)));
uint8_t ist2_stack[STACK_SIZE] __attribute__((aligned(4096)));
uint8_t user_stack[STACK_SIZE] __attribute__((aligned(4096)));

extern char isr_stubs[];

/* ---------------------------------------------------------------------------------------- */
/* Output */

static void putc_raw(char c)
{
	outb(PORT_DEBUGCON, (uint8_t)c);
}

void puts_raw(const char *s)
{
	while (*s)
		putc_raw(*s++);
}

static void vprint(const char *fmt, va_list ap)
{
	char buf[32];
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			putc_raw(*fmt);
			continue;
		}
		fmt++;
		bool zero = false, left = false, alt = false;
		int width = 0, lng = 0;
		for (;; fmt++) {
			if (*fmt == '0')
				zero = true;
			else if (*fmt == '-')
				left = true;
			else if (*fmt == '#')
				alt = true;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		const char *s = buf;
		int len = 0;
		uint64_t u = 0;
		bool neg = false;
		switch (*fmt) {
		case 's':
			s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			while (s[len])
				len++;
			break;
		case 'c':
			buf[0] = (char)va_arg(ap, int);
			len = 1;
			break;
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			neg = v < 0;
			u = neg ? -(uint64_t)v : (uint64_t)v;
			goto dec;
		}
		case 'u':
			u = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);
		dec : {
			char *p = buf + sizeof(buf);
			do {
				*--p = (char)('0' + u % 10);
				u /= 10;
			} while (u);
			if (neg)
				*--p = '-';
			s = p;
			len = (int)(buf + sizeof(buf) - p);
			break;
		}
		case 'p':
			alt = true;
			lng = 1;
			/* fall through */
		case 'x': {
			u = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);
			char *p = buf + sizeof(buf);
			do {
				*--p = "0123456789abcdef"[u & 15];
				u >>= 4;
			} while (u);
			s = p;
			len = (int)(buf + sizeof(buf) - p);
			if (alt)
				puts_raw("0x");
			break;
		}
		case '%':
			buf[0] = '%';
			len = 1;
			break;
		default:
			buf[0] = '?';
			len = 1;
			break;
		}
		if (!left)
			for (int i = len; i < width; i++)
				putc_raw(zero ? '0' : ' ');
		for (int i = 0; i < len; i++)
			putc_raw(s[i]);
		if (left)
			for (int i = len; i < width; i++)
				putc_raw(' ');
	}
}

void printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
}

void fail(const char *fmt, ...)
{
	va_list ap;
	puts_raw("FAIL: ");
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
	putc_raw('\n');
	nr_fail++;
}

void guest_exit(uint32_t v)
{
	for (;;) {
		outl(PORT_EXIT, v);
		__asm__ volatile("cli; hlt");
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Probes: one instruction each at a global label (guest.h) */
__asm__(".text\n"
	".globl probe_read, probe_read_insn\n"
	"probe_read:\n"
	"probe_read_insn: mov (%rdi), %rax\n"
	"	ret\n"
	".globl probe_write, probe_write_insn\n"
	"probe_write:\n"
	"probe_write_insn: movq $0x5a5a5a5a, (%rdi)\n"
	"	xor %eax, %eax\n"
	"	ret\n"
	".globl probe_exec, probe_exec_insn\n"
	"probe_exec:\n"
	"probe_exec_insn: call *%rdi\n"
	"	ret\n"
	".globl probe_push, probe_push_insn\n"
	"probe_push:\n"
	"	mov %rsp, %rsi\n"
	"	mov %rdi, %rsp\n"
	"probe_push_insn: push %rax\n"
	"	mov %rsi, %rsp\n"
	"	ret\n"
	".globl probe_jmp, probe_jmp_insn\n"
	"probe_jmp:\n"
	"probe_jmp_insn: jmp *%rdi\n"
	/* user-mode probes: operate on user_arg, return with INT 0x80 */
	".globl user_read, user_read_insn\n"
	"user_read: mov user_arg(%rip), %rdi\n"
	"user_read_insn: mov (%rdi), %rax\n"
	"	int $0x80\n"
	".globl user_write, user_write_insn\n"
	"user_write: mov user_arg(%rip), %rdi\n"
	"user_write_insn: movq $0x5a5a5a5a, (%rdi)\n"
	"	int $0x80\n"
	".globl user_exec, user_exec_insn\n"
	"user_exec: mov user_arg(%rip), %rdi\n"
	"user_exec_insn: call *%rdi\n"
	"	int $0x80\n");

int user_call(void (*fn)(void), uint64_t arg)
{
	user_rip = (uint64_t)fn;
	user_arg = arg;
	user_rsp = USER_STACK_TOP;
	return try_call(run_user, 0);
}

static struct {
	uint64_t addr;
	const char *name;
} names[32];
static int nr_names;

void name_addr(uint64_t addr, const char *name)
{
	if (nr_names < 32)
		names[nr_names++] = (typeof(names[0])){ addr, name };
}

const char *rip_name(uint64_t rip)
{
	static char hex[24];
	if (rip == (uint64_t)probe_read_insn)
		return "probe_read";
	if (rip == (uint64_t)probe_write_insn)
		return "probe_write";
	if (rip == (uint64_t)probe_exec_insn)
		return "probe_exec";
	if (rip == (uint64_t)probe_push_insn)
		return "probe_push";
	if (rip == (uint64_t)probe_jmp_insn)
		return "probe_jmp";
	if (rip == (uint64_t)user_read_insn)
		return "user_read";
	if (rip == (uint64_t)user_write_insn)
		return "user_write";
	if (rip == (uint64_t)user_exec_insn)
		return "user_exec";
	for (int i = 0; i < nr_names; i++)
		if (names[i].addr == rip)
			return names[i].name;
	char *p = hex + sizeof(hex);
	*--p = 0;
	do {
		*--p = "0123456789abcdef"[rip & 15];
		rip >>= 4;
	} while (rip);
	*--p = 'x';
	*--p = '0';
	return p;
}

static const char *const vec_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#09", "#TS",
	"#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

void print_exc(const char *what, bool with_cr2)
{
	printf("%s: ", what);
	if (last_exc.vector == ~0ULL) {
		printf("no exception\n");
		return;
	}
	uint64_t v = last_exc.vector;
	if (v < 32 && vec_names[v])
		printf("%s", vec_names[v]);
	else
		printf("vector %lu", v);
	printf(" err=%#lx", last_exc.error);
	if (with_cr2)
		printf(" cr2=%#lx", last_exc.cr2);
	printf(" rip=%s\n", rip_name(last_exc.rip));
}

/* ---------------------------------------------------------------------------------------- */
/* Exceptions */

void exc_clear(void)
{
	last_exc.vector = ~0ULL;
	exc_count = 0;
}

void set_handler(int vec, vec_handler_t h)
{
	handlers[vec] = h;
}

void resume_handler(struct frame *f)
{
	(void)f;
}

void set_gate(int vec, int dpl, int ist, bool present)
{
	uint64_t off = (uint64_t)isr_stubs + 16 * (uint64_t)vec;
	idt[vec] = (struct idt_gate){
		.off0 = (uint16_t)off,
		.sel = SEL_KCODE,
		.ist = (uint8_t)ist,
		/* SDM Vol. 3A Figure 6-8: P, DPL, type 1110b (64-bit interrupt gate) */
		.type_attr = (uint8_t)((present ? 0x80 : 0) | (dpl << 5) | 0xE),
		.off1 = (uint16_t)(off >> 16),
		.off2 = (uint32_t)(off >> 32),
	};
}

void exc_dispatch(struct frame *f);
void exc_dispatch(struct frame *f)
{
	uint64_t v = f->vector;
	last_exc.vector = v;
	last_exc.error = f->error;
	last_exc.cr2 = read_cr2();
	last_exc.rip = f->rip;
	last_exc.cs = f->cs;
	last_exc.rflags = f->rflags;
	last_exc.rsp = f->rsp;
	last_exc.ss = f->ss;
	last_exc.stack_top = (uint64_t)(&f->ss + 1);
	exc_count++;
	vec_count[v & 255]++;
	if (handlers[v & 255]) {
		handlers[v & 255](f);
		return;
	}
	if (v < 32 && recover_rip) {
		/* resume at try_call's recovery point, in CPL 0 with IF = 0 */
		f->rip = recover_rip;
		f->rsp = recover_rsp;
		f->cs = SEL_KCODE;
		f->ss = SEL_KDATA;
		f->rflags = 0x2;
		return;
	}
	if (v == 0x80 && uret_rip) {
		/* INT 0x80 from user code: leave run_user */
		f->rip = uret_rip;
		f->cs = SEL_KCODE;
		f->ss = SEL_KDATA;
		f->rsp = uret_rsp;
		f->rflags = 0x2;
		return;
	}
	printf("UNEXPECTED vector %lu err=%#lx rip=%#lx cs=%#lx rsp=%#lx cr2=%#lx\n", v, f->error,
	       f->rip, f->cs, f->rsp, last_exc.cr2);
	guest_exit(EXIT_UNEXPECTED);
}

/* ---------------------------------------------------------------------------------------- */
/* Paging */

static uint8_t page_pool[192][4096] __attribute__((aligned(4096)));
static unsigned nr_pool_used;

void *alloc_page(void)
{
	if (nr_pool_used >= sizeof(page_pool) / sizeof(page_pool[0])) {
		printf("page pool exhausted\n");
		guest_exit(EXIT_UNEXPECTED);
	}
	uint8_t *p = page_pool[nr_pool_used++];
	for (int i = 0; i < 4096; i++)
		p[i] = 0;
	return p;
}

uint64_t *pte_ptr(uint64_t va, int level, bool create)
{
	uint64_t *table = (uint64_t *)(read_cr3() & 0x000ffffffffff000ULL);
	for (int l = 4;; l--) {
		uint64_t *e = &table[(va >> (12 + 9 * (l - 1))) & 511];
		if (l == level)
			return e;
		if (!(*e & PTE_P)) {
			if (!create)
				return NULL;
			*e = (uint64_t)alloc_page() | PTE_P | PTE_W | PTE_U;
		} else if (*e & PTE_PS) {
			return NULL;
		}
		table = (uint64_t *)(*e & 0x000ffffffffff000ULL);
	}
}

void map_4k(uint64_t va, uint64_t pa, uint64_t flags)
{
	*pte_ptr(va, 1, true) = pa | flags;
	invlpg(va);
}

void flush_tlb(void)
{
	write_cr3(read_cr3());
}

/* ---------------------------------------------------------------------------------------- */
/* Local APIC */

void lapic_enable(void)
{
	/* LINT0/LINT1 masked (SDM Vol. 3A 10.5.1), software enable with spurious vector 0xFF */
	lapic_write(0x350, 1u << 16);
	lapic_write(0x360, 1u << 16);
	lapic_write(LAPIC_SVR, 0x100 | 0xff);
	lapic_write(LAPIC_TPR, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Entry from boot.S */

void guest_main(void);
void guest_main(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} idtr = { sizeof(idt) - 1, (uint64_t)idt }, gdtr;

	/* the 8259s stay unused: mask every line (OCW1) so nothing reaches LINT0 */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	exc_clear();
	for (int v = 0; v < 256; v++)
		set_gate(v, v == 0x80 ? 3 : 0, v == 8 ? 1 : 0, true);
	__asm__ volatile("lidt %0" ::"m"(idtr));

	/* 64-bit TSS (SDM Vol. 3A 7.7): RSP0 and IST1/IST2; no I/O bitmap (base = limit + 1) */
	tss.rsp[0] = RSP0_TOP;
	tss.ist[0] = IST1_TOP;
	tss.ist[1] = IST2_TOP;
	_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS is 104 bytes");
	tss.iomap_base = sizeof(tss);
	uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;
	/* TSS descriptor (SDM Vol. 3A Figure 7-4): type 9 (available 64-bit TSS), P */
	gdt[SEL_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
			   ((limit >> 16 & 0xf) << 48) | ((base >> 24 & 0xff) << 56);
	gdt[SEL_TSS / 8 + 1] = base >> 32;
	__asm__ volatile("sgdt %0" : "=m"(gdtr));
	gdtr.base = (uint64_t)gdt; /* the 64-bit view of the same table */
	__asm__ volatile("lgdt %0" ::"m"(gdtr));
	__asm__ volatile("ltr %w0" ::"r"(SEL_TSS));

	/* SYSCALL/SYSRET (SDM Vol. 3A 5.8.8) */
	wrmsr(MSR_STAR, ((uint64_t)(SEL_UCODE32 & ~3) << 48) | ((uint64_t)SEL_KCODE << 32));
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_SFMASK, 0);

	user_rsp = USER_STACK_TOP;
	test_main();
	if (nr_fail)
		printf("%d FAILED\n", nr_fail);
	printf("done\n");
	guest_exit(EXIT_OK);
}

/* ---------------------------------------------------------------------------------------- */
/* The compiler may emit calls to these even in a freestanding build. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n)
{
	uint8_t *p = d;
	while (n--)
		*p++ = (uint8_t)c;
	return d;
}
void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *p = d;
	const uint8_t *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}
