/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the ELF loader (src/user/elf.c). The input is a file image; it is written
 * to a memfd and loaded with elf_load into a fresh 4 GiB guest window, first as a program (PIE
 * base at 2/3 of the window, as the runner does) and, if that works, once more as an
 * interpreter (placed wherever mem_map chooses). elf_check classifies it too. The loader must
 * refuse bad files with a message, never crash or touch memory outside the window; a loaded
 * image must lie inside the window. No fault handler is installed: the loader runs no guest
 * code, so any fault (even on the window) is a bug that libFuzzer reports.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "user/user.h"

#define WINDOW (1ULL << 32)

static int fd = -1;

static void check_image(const struct elf_image *img, int r, const char *err)
{
	if (r < 0) {
		if (!memchr(err, 0, 256) || !err[0]) {
			fprintf(stderr, "fuzz_elf: error %d without a message\n", r);
			abort();
		}
		return;
	}
	if (img->end > WINDOW || img->start > img->end) {
		fprintf(stderr, "fuzz_elf: image outside the window: start %#llx end %#llx\n",
			(unsigned long long)img->start, (unsigned long long)img->end);
		abort();
	}
	if (!memchr(img->interp, 0, sizeof(img->interp))) {
		fprintf(stderr, "fuzz_elf: interp not terminated\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem *mem;
	struct elf_image img, interp;
	char err[256];
	int r;

	if (fd < 0) {
		fd = memfd_create("fuzz_elf", 0);
		if (fd < 0) {
			perror("memfd_create");
			abort();
		}
	}
	(void)elf_check(data, size);
	if (ftruncate(fd, 0) || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
		perror("fuzz_elf: memfd");
		abort();
	}

	mem = mem_create(WINDOW);
	if (!mem) {
		perror("fuzz_elf: mem_create");
		abort();
	}
	memset(err, 0, sizeof(err));
	r = elf_load(mem, fd, (WINDOW / 3 * 2) & GUEST_PAGE_MASK, &img, err, sizeof(err));
	check_image(&img, r, err);
	if (r == 0) {
		memset(err, 0, sizeof(err));
		r = elf_load(mem, fd, 0, &interp, err, sizeof(err));
		check_image(&interp, r, err);
	}
	mem_destroy(mem);
	return 0;
}
