/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the guest address space (src/core/mem.c, include/omnivisor/memory.h):
 * mmap/munmap/mprotect semantics inside the window, placement with and without hints,
 * MAP_FIXED_NOREPLACE, mem_check_range/mem_prot, and that unmapped or protected guest pages
 * really are inaccessible on the host.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "omnivisor/memory.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define LIMIT (1ULL << 32)
#define PG GUEST_PAGE_SIZE
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define RW (GPROT_READ | GPROT_WRITE)

static int setup(void **state)
{
	struct guest_mem *mem = mem_create(LIMIT);
	if (!mem)
		return -1;
	*state = mem;
	return 0;
}

static int teardown(void **state)
{
	mem_destroy(*state);
	return 0;
}

/* 0 if a host access to @p succeeds, the signal number otherwise (probed in a child). */
static int probe(volatile uint8_t *p, int write)
{
	pid_t pid = fork();
	int status;
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		if (write)
			*p = 1;
		else
			(void)*p;
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return WIFSIGNALED(status) ? WTERMSIG(status) : -1;
}

static void test_create(void **state)
{
	struct guest_mem *mem = *state;
	assert_non_null(mem_base(mem));
	assert_int_equal(mem_limit(mem), LIMIT);
	assert_int_equal(mem_prot(mem, 0x10000), -1);
	assert_false(mem_check_range(mem, 0x10000, 1, GPROT_READ));
	assert_true(mem_check_range(mem, 0x10000, 0, GPROT_READ)); /* empty range */
	assert_int_equal(probe(mem_base(mem) + 0x10000, 0), SIGSEGV);
}

static void test_map_fixed(void **state)
{
	struct guest_mem *mem = *state;
	uint8_t *base = mem_base(mem);
	int64_t r = mem_map(mem, 0x400000, 3 * PG, RW, ANON | MAP_FIXED, -1, 0);
	assert_int_equal(r, 0x400000);
	assert_int_equal(mem_prot(mem, 0x400000), RW);
	assert_int_equal(mem_prot(mem, 0x400000 + 3 * PG - 1), RW);
	assert_int_equal(mem_prot(mem, 0x400000 + 3 * PG), -1);
	assert_true(mem_check_range(mem, 0x400000, 3 * PG, RW));
	assert_false(mem_check_range(mem, 0x400000, 3 * PG + 1, GPROT_READ));
	assert_false(mem_check_range(mem, 0x400000 - 1, 2, GPROT_READ));
	assert_false(mem_check_range(mem, 0x400000, PG, GPROT_EXEC));
	/* anonymous memory is zero-filled and usable through the window */
	for (size_t i = 0; i < 3 * PG; i += 512)
		assert_int_equal(base[0x400000 + i], 0);
	base[0x400000 + 5] = 0x5a;
	assert_int_equal(probe(base + 0x400000, 1), 0);
	/* length is rounded up to pages */
	assert_int_equal(mem_map(mem, 0x500000, 1, GPROT_READ, ANON | MAP_FIXED, -1, 0), 0x500000);
	assert_true(mem_check_range(mem, 0x500000, PG, GPROT_READ));
	assert_false(mem_check_range(mem, 0x500000, PG + 1, GPROT_READ));
	/* MAP_FIXED replaces an existing mapping (fresh zero page) */
	assert_int_equal(mem_map(mem, 0x400000, PG, GPROT_READ, ANON | MAP_FIXED, -1, 0), 0x400000);
	assert_int_equal(base[0x400000 + 5], 0);
	assert_int_equal(mem_prot(mem, 0x400000), GPROT_READ);
	assert_int_equal(mem_prot(mem, 0x400000 + PG), RW);
}

static void test_map_errors(void **state)
{
	struct guest_mem *mem = *state;
	assert_int_equal(mem_map(mem, 0x400001, PG, RW, ANON | MAP_FIXED, -1, 0), -EINVAL);
	assert_int_equal(mem_map(mem, 0x400000, 0, RW, ANON | MAP_FIXED, -1, 0), -EINVAL);
	assert_int_equal(mem_map(mem, 0x400000, PG, RW, MAP_ANONYMOUS | MAP_FIXED, -1, 0), -EINVAL);
	assert_int_equal(mem_map(mem, LIMIT - PG, 2 * PG, RW, ANON | MAP_FIXED, -1, 0), -ENOMEM);
	assert_int_equal(mem_map(mem, LIMIT, PG, RW, ANON | MAP_FIXED, -1, 0), -ENOMEM);
	assert_int_equal(mem_map(mem, 0, LIMIT * 2, RW, ANON, -1, 0), -ENOMEM);
	/* nothing was mapped by the failures */
	assert_int_equal(mem_prot(mem, 0x400000), -1);
	assert_int_equal(mem_prot(mem, LIMIT - PG), -1);
}

static void test_fixed_noreplace(void **state)
{
	struct guest_mem *mem = *state;
	uint8_t *base = mem_base(mem);
	assert_int_equal(mem_map(mem, 0x600000, 2 * PG, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0),
			 0x600000);
	base[0x600000] = 7;
	/* overlapping the existing mapping, even partly: -EEXIST and the old contents stay */
	assert_int_equal(mem_map(mem, 0x600000, PG, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0), -EEXIST);
	assert_int_equal(mem_map(mem, 0x600000 - PG, 2 * PG, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0),
			 -EEXIST);
	assert_int_equal(base[0x600000], 7);
	assert_int_equal(mem_prot(mem, 0x600000 - PG), -1);
	/* adjacent is fine */
	assert_int_equal(mem_map(mem, 0x600000 + 2 * PG, PG, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0),
			 0x600000 + 2 * PG);
}

static void test_hints(void **state)
{
	struct guest_mem *mem = *state;
	/* a free hint is honoured */
	assert_int_equal(mem_map(mem, 0x700000, PG, RW, ANON, -1, 0), 0x700000);
	/* an occupied hint is not an error: the mapping goes elsewhere, not over the old one */
	int64_t r = mem_map(mem, 0x700000, PG, RW, ANON, -1, 0);
	assert_true(r > 0);
	assert_int_not_equal(r, 0x700000);
	assert_int_equal(r & (int64_t)(PG - 1), 0);
	/* an unaligned hint is rounded down, like Linux */
	r = mem_map(mem, 0x800123, PG, RW, ANON, -1, 0);
	assert_int_equal(r, 0x800000);
	/* no hint: distinct, page-aligned, non-overlapping, inside the window, top-down */
	int64_t a = mem_map(mem, 0, 4 * PG, RW, ANON, -1, 0);
	int64_t b = mem_map(mem, 0, 4 * PG, RW, ANON, -1, 0);
	assert_true(a > 0 && b > 0);
	assert_true((uint64_t)a + 4 * PG <= LIMIT && (uint64_t)b + 4 * PG <= LIMIT);
	assert_true(a + (int64_t)(4 * PG) <= b || b + (int64_t)(4 * PG) <= a);
	assert_true(b < a);
	assert_true(mem_check_range(mem, (uint64_t)a, 4 * PG, RW));
	assert_true(mem_check_range(mem, (uint64_t)b, 4 * PG, RW));
}

/* mremap growing a mapping in place across the top of the mmap area: later placements must not
 * land inside the grown mapping (a mapping that spans the search start was once overlooked). */
static void test_remap_grow_then_map(void **state)
{
	struct guest_mem *mem = *state;
	int64_t a = mem_map(mem, 0, 12 * PG, RW, ANON, -1, 0);
	assert_true(a > 0);
	memset(mem_base(mem) + a, 0x5a, 12 * PG);
	int64_t g = mem_remap(mem, (uint64_t)a, 12 * PG, 32 * PG, MREMAP_MAYMOVE, 0);
	assert_int_equal(g, a); /* the space above is free: grown in place, contents kept */
	assert_int_equal(mem_base(mem)[a + 12 * PG - 1], 0x5a);
	assert_true(mem_check_range(mem, (uint64_t)a, 32 * PG, RW));
	for (int i = 0; i < 4; i++) {
		int64_t b = mem_map(mem, 0, PG, RW, ANON, -1, 0);
		assert_true(b > 0);
		assert_true(b + (int64_t)PG <= a || b >= a + (int64_t)(32 * PG));
	}
	assert_int_equal(mem_base(mem)[a + 12 * PG - 1], 0x5a);
}

static void test_unmap(void **state)
{
	struct guest_mem *mem = *state;
	uint8_t *base = mem_base(mem);
	assert_int_equal(mem_map(mem, 0x900000, 4 * PG, RW, ANON | MAP_FIXED, -1, 0), 0x900000);
	memset(base + 0x900000, 0x11, 4 * PG);
	/* a hole in the middle splits the mapping */
	assert_int_equal(mem_unmap(mem, 0x900000 + PG, 2 * PG), 0);
	assert_int_equal(mem_prot(mem, 0x900000), RW);
	assert_int_equal(mem_prot(mem, 0x900000 + PG), -1);
	assert_int_equal(mem_prot(mem, 0x900000 + 2 * PG), -1);
	assert_int_equal(mem_prot(mem, 0x900000 + 3 * PG), RW);
	assert_false(mem_check_range(mem, 0x900000, 4 * PG, GPROT_READ));
	assert_int_equal(base[0x900000], 0x11);
	assert_int_equal(base[0x900000 + 3 * PG], 0x11);
	/* the host page is gone too: any access faults */
	assert_int_equal(probe(base + 0x900000 + PG, 0), SIGSEGV);
	assert_int_equal(probe(base + 0x900000 + 2 * PG, 1), SIGSEGV);
	/* unmapping unmapped memory is not an error; unaligned address is */
	assert_int_equal(mem_unmap(mem, 0x900000 + PG, PG), 0);
	assert_int_equal(mem_unmap(mem, 0x900001, PG), -EINVAL);
	assert_int_equal(mem_unmap(mem, 0x900000, 0), -EINVAL);
	/* mapping again gives fresh zeroed memory */
	assert_int_equal(mem_map(mem, 0x900000 + PG, PG, RW, ANON | MAP_FIXED, -1, 0),
			 0x900000 + PG);
	assert_int_equal(base[0x900000 + PG], 0);
	/* the whole range, length rounded up */
	assert_int_equal(mem_unmap(mem, 0x900000, 4 * PG - 100), 0);
	assert_int_equal(mem_prot(mem, 0x900000 + 3 * PG), -1);
	assert_int_equal(probe(base + 0x900000, 0), SIGSEGV);
}

static void test_protect(void **state)
{
	struct guest_mem *mem = *state;
	uint8_t *base = mem_base(mem);
	assert_int_equal(mem_map(mem, 0xa00000, 3 * PG, RW, ANON | MAP_FIXED, -1, 0), 0xa00000);
	base[0xa00000 + PG] = 3;
	assert_int_equal(mem_protect(mem, 0xa00000 + PG, PG, GPROT_READ), 0);
	assert_int_equal(mem_prot(mem, 0xa00000), RW);
	assert_int_equal(mem_prot(mem, 0xa00000 + PG), GPROT_READ);
	assert_int_equal(mem_prot(mem, 0xa00000 + 2 * PG), RW);
	assert_true(mem_check_range(mem, 0xa00000, 3 * PG, GPROT_READ));
	assert_false(mem_check_range(mem, 0xa00000, 3 * PG, GPROT_WRITE));
	assert_true(mem_check_range(mem, 0xa00000 + 2 * PG, PG, GPROT_WRITE));
	/* the host mapping follows: reads work, writes fault; contents are kept */
	assert_int_equal(probe(base + 0xa00000 + PG, 0), 0);
	assert_int_equal(probe(base + 0xa00000 + PG, 1), SIGSEGV);
	assert_int_equal(base[0xa00000 + PG], 3);
	/* PROT_NONE: no access at all */
	assert_int_equal(mem_protect(mem, 0xa00000, PG, 0), 0);
	assert_int_equal(mem_prot(mem, 0xa00000), 0);
	assert_int_equal(probe(base + 0xa00000, 0), SIGSEGV);
	assert_false(mem_check_range(mem, 0xa00000, 1, GPROT_READ));
	/* back to RW: writable again */
	assert_int_equal(mem_protect(mem, 0xa00000, 3 * PG, RW), 0);
	assert_true(mem_check_range(mem, 0xa00000, 3 * PG, RW));
	assert_int_equal(probe(base + 0xa00000 + PG, 1), 0);
	/* a range with an unmapped page: -ENOMEM; unaligned start: -EINVAL */
	assert_int_equal(mem_protect(mem, 0xa00000, 4 * PG, GPROT_READ), -ENOMEM);
	assert_int_equal(mem_protect(mem, 0xa00001, PG, GPROT_READ), -EINVAL);
}

static void test_brk(void **state)
{
	struct guest_mem *mem = *state;
	mem_set_brk_base(mem, 0x1000000);
	assert_int_equal(mem_brk(mem, 0), 0x1000000);
	assert_int_equal(mem_brk(mem, 0x1000000 + 3 * PG + 5), 0x1000000 + 3 * PG + 5);
	assert_true(mem_check_range(mem, 0x1000000, 3 * PG + 5, RW));
	mem_base(mem)[0x1000000 + 3 * PG] = 9;
	/* shrinking unmaps the pages above the new break */
	assert_int_equal(mem_brk(mem, 0x1000000 + PG), 0x1000000 + PG);
	assert_false(mem_check_range(mem, 0x1000000 + 2 * PG, 1, GPROT_READ));
	/* below the base is refused: the break stays */
	assert_int_equal(mem_brk(mem, 0x1000000 - PG), 0x1000000 + PG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_fixed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixed_noreplace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remap_grow_then_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_brk, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
