/* SPDX-License-Identifier: MIT */
/*
 * Memory system calls as allocators use them: brk up and down, anonymous mmap/munmap, mremap
 * growing in place and moving, mprotect, MAP_FIXED, a file mapping, and faults on unmapped and
 * read-only pages caught by a SIGSEGV handler. Every new mapping must be disjoint from the live
 * ones and keep its contents. Prints no addresses: the output is the same on any layout.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096UL
#define NR_MAPS 64

struct map {
	unsigned char *p;
	size_t len;
	unsigned char tag;
};
static struct map maps[NR_MAPS];
static int nr_maps;
static int nr_errors;
static sigjmp_buf env;

static void error(const char *what)
{
	printf("ERROR: %s\n", what);
	nr_errors++;
}

static void fill(struct map *m)
{
	for (size_t i = 0; i < m->len; i += 512)
		m->p[i] = (unsigned char)(m->tag + i / 512);
}

static int intact(const struct map *m)
{
	for (size_t i = 0; i < m->len; i += 512)
		if (m->p[i] != (unsigned char)(m->tag + i / 512))
			return 0;
	return 1;
}

/* A new or changed mapping must not overlap any other live one, and all must keep their data. */
static void check_all(const char *after)
{
	for (int i = 0; i < nr_maps; i++) {
		if (!maps[i].p)
			continue;
		for (int j = i + 1; j < nr_maps; j++) {
			if (!maps[j].p)
				continue;
			if (maps[i].p < maps[j].p + maps[j].len && maps[j].p < maps[i].p + maps[i].len) {
				printf("ERROR: after %s: mappings %d and %d overlap\n", after, i, j);
				nr_errors++;
			}
		}
		if (!intact(&maps[i])) {
			printf("ERROR: after %s: mapping %d lost its contents\n", after, i);
			nr_errors++;
		}
	}
}

static struct map *new_map(size_t len)
{
	struct map *m = &maps[nr_maps];
	m->p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->p == MAP_FAILED) {
		error("mmap");
		m->p = NULL;
		return m;
	}
	for (size_t i = 0; i < len; i++)
		if (m->p[i]) {
			error("anonymous memory not zero");
			break;
		}
	m->len = len;
	m->tag = (unsigned char)(nr_maps * 37 + 1);
	nr_maps++;
	fill(m);
	return m;
}

static void segv(int sig, siginfo_t *si, void *ctx)
{
	siglongjmp(env, si->si_code);
}

/* Returns 0 if the access worked, else the si_code of the SIGSEGV. */
static int try_access(volatile unsigned char *p, int write)
{
	int code = sigsetjmp(env, 1);
	if (code)
		return code;
	if (write)
		*p = 1;
	else
		(void)*p;
	return 0;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = segv;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);

	/* brk: grow, use, shrink, grow again (the new part must read as zero) */
	unsigned char *b0 = sbrk(0);
	if (sbrk(64 * PAGE) == (void *)-1)
		error("sbrk grow");
	memset(b0, 0xab, 64 * PAGE);
	if (sbrk(-(intptr_t)(32 * PAGE)) == (void *)-1)
		error("sbrk shrink");
	if (sbrk(32 * PAGE) == (void *)-1)
		error("sbrk regrow");
	int zero = 1;
	for (size_t i = 32 * PAGE; i < 64 * PAGE; i++)
		zero &= b0[i] == 0;
	printf("brk: regrown part zero %d, kept part %#x\n", zero, b0[32 * PAGE - 1]);
	sbrk(-(intptr_t)(64 * PAGE));

	/* mremap growing in place and moving, the way realloc grows large blocks: first with the
	 * first mapping of the process (at the top of the mmap area), then among others */
	struct map *r = NULL;
	for (int round = 0; round < 2; round++) {
		if (round == 1)
			for (int i = 0; i < 16; i++) /* many anonymous mappings of mixed sizes */
				new_map((size_t)(1 + i % 5) * PAGE * (i % 3 ? 1 : 17));
		check_all("mmap");
		r = new_map(12 * PAGE);
		for (int i = 0; i < 20; i++) {
			size_t len = r->len + PAGE * (1 + i % 4);
			unsigned char *p = mremap(r->p, r->len, len, MREMAP_MAYMOVE);
			if (p == MAP_FAILED) {
				error("mremap");
				break;
			}
			r->p = p;
			r->len = len;
			fill(r);
			if (i % 4 == 3)
				new_map(PAGE * (1 + i % 3)); /* allocations between the growths */
			check_all("mremap grow");
		}
	}
	/* shrink */
	unsigned char *p = mremap(r->p, r->len, 3 * PAGE, 0);
	if (p != r->p)
		error("mremap shrink moved");
	r->len = 3 * PAGE;
	check_all("mremap shrink");

	/* munmap the middle of a mapping: the hole faults, both sides stay */
	struct map *h = new_map(9 * PAGE);
	munmap(h->p + 3 * PAGE, 3 * PAGE);
	printf("hole: before %d inside %d after %d\n", try_access(h->p + 2 * PAGE, 0),
	       try_access(h->p + 4 * PAGE, 0), try_access(h->p + 7 * PAGE, 1));
	h->p = NULL;

	/* mprotect: read-only pages fault on write (SEGV_ACCERR), then writable again */
	struct map *ro = new_map(4 * PAGE);
	mprotect(ro->p + PAGE, PAGE, PROT_READ);
	printf("mprotect: read %d write %d next page %d\n", try_access(ro->p + PAGE, 0),
	       try_access(ro->p + PAGE, 1), try_access(ro->p + 2 * PAGE, 1));
	mprotect(ro->p + PAGE, PAGE, PROT_NONE);
	printf("PROT_NONE: read %d\n", try_access(ro->p + PAGE + 5, 0));
	mprotect(ro->p + PAGE, PAGE, PROT_READ | PROT_WRITE);
	printf("restored: write %d\n", try_access(ro->p + PAGE, 1));
	fill(ro);
	check_all("mprotect");

	/* MAP_FIXED replaces part of a mapping with fresh zero pages */
	struct map *f = new_map(6 * PAGE);
	unsigned char *q = mmap(f->p + 2 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	printf("MAP_FIXED: same address %d, zero %d, neighbours kept %d %d\n", q == f->p + 2 * PAGE,
	       q[0] == 0 && q[PAGE] == 0, f->p[PAGE] == (unsigned char)(f->tag + PAGE / 512),
	       f->p[4 * PAGE] == (unsigned char)(f->tag + 4 * PAGE / 512));
	f->p = NULL;

	/* a private file mapping: our own ELF header; writes stay private */
	int fd = open("/proc/self/exe", O_RDONLY);
	unsigned char *e = fd >= 0 ? mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
				   : MAP_FAILED;
	if (e == MAP_FAILED) {
		error("file mmap");
	} else {
		printf("file: magic %.3s class %d machine %d\n", e + 1, e[4], e[18] | e[19] << 8);
		e[0] = 0;
		unsigned char c;
		printf("file: private write visible %d, file unchanged %d\n", e[0] == 0,
		       pread(fd, &c, 1, 0) == 1 && c == 0x7f);
		munmap(e, PAGE);
	}

	/* unmapped everything: every remaining mapping still intact */
	check_all("the end");
	for (int i = 0; i < nr_maps; i++)
		if (maps[i].p)
			munmap(maps[i].p, maps[i].len);
	printf("%d mappings, %d errors\n", nr_maps, nr_errors);
	return nr_errors ? 1 : 0;
}
