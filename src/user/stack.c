/* SPDX-License-Identifier: MIT */
/*
 * The initial process stack, laid out as Linux's create_elf_tables() (fs/binfmt_elf.c) and the
 * x86-64 psABI 3.4.1 describe it. From the top down:
 *   execfn string, envp strings, argv strings, "x86_64", 16 random bytes,
 *   (16-byte alignment), auxv pairs, NULL, envp[], NULL, argv[], argc   <- RSP
 */
#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "user/user.h"

#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif

struct sbuf {
	uint8_t *base; /* HVA of GVA 0 */
	uint64_t sp;   /* GVA, grows down */
	uint64_t low;  /* lowest usable GVA */
	int err;
};

static uint64_t push_bytes(struct sbuf *s, const void *p, size_t len)
{
	if (s->sp - s->low < len) {
		s->err = -E2BIG;
		return s->sp;
	}
	s->sp -= len;
	memcpy(s->base + s->sp, p, len);
	return s->sp;
}

static uint64_t push_str(struct sbuf *s, const char *str)
{
	return push_bytes(s, str, strlen(str) + 1);
}

int64_t stack_setup(struct guest_mem *mem, uint64_t top, uint64_t size, const struct stack_args *a)
{
	struct sbuf s;
	int64_t m;
	int envc = 0;
	uint64_t execfn, platform, random, *ptrs;
	uint8_t rnd[16];
	uint32_t id[4];
	size_t nr_words, i = 0;
	uint64_t auxv[2 * 32];
	size_t na = 0;

	top &= GUEST_PAGE_MASK;
	m = mem_map(mem, top - size, size, GPROT_READ | GPROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (m < 0)
		return m;
	mem_prepare_write(mem, top - size, size);
	s.base = mem_base(mem);
	s.sp = top;
	s.low = top - size + 64 * 1024;
	s.err = 0;

	while (a->envp && a->envp[envc])
		envc++;

	s.sp -= 8; /* end marker, as Linux leaves one NULL word at the very top */
	execfn = push_str(&s, a->execfn);
	{
		uint64_t envs[envc + 1], args[a->argc + 1];

		for (int k = envc - 1; k >= 0; k--)
			envs[k] = push_str(&s, a->envp[k]);
		for (int k = a->argc - 1; k >= 0; k--)
			args[k] = push_str(&s, a->argv[k]);
		platform = push_str(&s, "x86_64");
		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
			memset(rnd, 0x5a, sizeof(rnd));
		random = push_bytes(&s, rnd, sizeof(rnd));
		if (s.err)
			return s.err;

#define AUX(k, v) (auxv[na++] = (k), auxv[na++] = (v))
		cpu_cpuid(1, 0, id);
		AUX(AT_HWCAP, id[3]);
		AUX(AT_PAGESZ, GUEST_PAGE_SIZE);
		AUX(AT_CLKTCK, (uint64_t)sysconf(_SC_CLK_TCK));
		AUX(AT_PHDR, a->exe->phdr);
		AUX(AT_PHENT, a->exe->phent);
		AUX(AT_PHNUM, a->exe->phnum);
		AUX(AT_BASE, a->interp_base);
		AUX(AT_FLAGS, 0);
		AUX(AT_ENTRY, a->exe->entry);
		AUX(AT_UID, getuid());
		AUX(AT_EUID, geteuid());
		AUX(AT_GID, getgid());
		AUX(AT_EGID, getegid());
		AUX(AT_SECURE, 0);
		AUX(AT_RANDOM, random);
		AUX(AT_HWCAP2, 0);
		AUX(AT_EXECFN, execfn);
		AUX(AT_PLATFORM, platform);
		AUX(AT_MINSIGSTKSZ, 2048);
		AUX(AT_NULL, 0);
#undef AUX

		/* argc + argv + NULL + envp + NULL + auxv, then align the final RSP to 16. */
		nr_words = 1 + (size_t)a->argc + 1 + (size_t)envc + 1 + na;
		s.sp = (s.sp - nr_words * 8) & ~15ULL;
		if (s.sp < s.low)
			return -E2BIG;
		ptrs = (uint64_t *)(s.base + s.sp);
		ptrs[i++] = (uint64_t)a->argc;
		for (int k = 0; k < a->argc; k++)
			ptrs[i++] = args[k];
		ptrs[i++] = 0;
		for (int k = 0; k < envc; k++)
			ptrs[i++] = envs[k];
		ptrs[i++] = 0;
		memcpy(&ptrs[i], auxv, na * 8);
	}
	return (int64_t)s.sp;
}
