/* SPDX-License-Identifier: MIT */
/* Multiboot v1 loader for flat kernels (include/omnivisor/multiboot.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "omnivisor/multiboot.h"

#define MB_SEARCH 8192
#define MB_FLAG_MEMINFO (1u << 1)
#define MB_FLAG_VIDEO (1u << 2)
#define MB_FLAG_AOUT (1u << 16)
/* info flags (spec 3.3) */
#define MBI_MEM 1u
#define MBI_CMDLINE (1u << 2)

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static long find_header(const uint8_t *img, size_t len)
{
	for (size_t off = 0; off + 12 <= len && off < MB_SEARCH; off += 4)
		if (le32(img + off) == MULTIBOOT_MAGIC &&
		    (uint32_t)(le32(img + off) + le32(img + off + 4) + le32(img + off + 8)) == 0)
			return (long)off;
	return -1;
}

int multiboot_detect(const void *image, size_t len)
{
	return find_header(image, len) >= 0;
}

int multiboot_load(uint8_t *ram, uint64_t ram_size, const void *image, size_t len,
		   const char *cmdline, uint64_t info_gpa, struct multiboot_image *out)
{
	const uint8_t *img = image;
	long off = find_header(img, len);
	uint32_t flags, header_addr, load_addr, load_end, bss_end, entry;
	uint64_t file_off, load_len, info_end;
	size_t cmd_len = cmdline ? strlen(cmdline) + 1 : 0;

	if (off < 0) {
		fprintf(stderr, "omnivisor: kernel: no Multiboot header in the first 8 KiB\n");
		return -ENOEXEC;
	}
	flags = le32(img + off + 4);
	if (!(flags & MB_FLAG_AOUT)) {
		fprintf(stderr, "omnivisor: kernel: Multiboot ELF kernels are not supported; "
				"set the address fields (header flag 16)\n");
		return -ENOEXEC;
	}
	if (flags & MB_FLAG_VIDEO) {
		fprintf(stderr, "omnivisor: kernel: Multiboot video mode requests are not "
				"supported (no display)\n");
		return -ENOEXEC;
	}
	if ((size_t)off + 32 > len) {
		fprintf(stderr, "omnivisor: kernel: truncated Multiboot header\n");
		return -EINVAL;
	}
	header_addr = le32(img + off + 12);
	load_addr = le32(img + off + 16);
	load_end = le32(img + off + 20);
	bss_end = le32(img + off + 24);
	entry = le32(img + off + 28);
	/* spec 3.1.3: the file offset of header_addr is the header's offset */
	if (header_addr < load_addr || header_addr - load_addr > (uint64_t)off) {
		fprintf(stderr, "omnivisor: kernel: Multiboot header_addr %#x below load_addr %#x "
				"or before the file start\n", header_addr, load_addr);
		return -EINVAL;
	}
	file_off = (uint64_t)off - (header_addr - load_addr);
	load_len = load_end ? (uint64_t)load_end - load_addr : len - file_off;
	if (load_end && load_end < load_addr) {
		fprintf(stderr, "omnivisor: kernel: Multiboot load_end_addr below load_addr\n");
		return -EINVAL;
	}
	if (file_off + load_len > len) {
		fprintf(stderr, "omnivisor: kernel: file is %zu bytes, its Multiboot header says "
				"%llu: truncated\n", len, (unsigned long long)(file_off + load_len));
		return -EINVAL;
	}
	if (bss_end && bss_end < load_addr + load_len) {
		fprintf(stderr, "omnivisor: kernel: Multiboot bss_end_addr below the loaded image\n");
		return -EINVAL;
	}
	info_end = info_gpa + 88 + cmd_len;
	if ((uint64_t)load_addr + load_len > ram_size || (bss_end && bss_end > ram_size) ||
	    info_end > ram_size) {
		fprintf(stderr, "omnivisor: kernel: does not fit in %llu MiB of RAM\n",
			(unsigned long long)(ram_size >> 20));
		return -ENOMEM;
	}
	if (info_gpa < (uint64_t)(bss_end ? bss_end : load_addr + load_len) && info_end > load_addr) {
		fprintf(stderr, "omnivisor: kernel: overlaps the Multiboot information at %#llx\n",
			(unsigned long long)info_gpa);
		return -EINVAL;
	}
	if (entry < load_addr || entry >= (bss_end ? bss_end : load_addr + load_len)) {
		fprintf(stderr, "omnivisor: kernel: Multiboot entry %#x outside the image\n", entry);
		return -EINVAL;
	}
	memcpy(ram + load_addr, img + file_off, load_len);
	if (bss_end)
		memset(ram + load_addr + load_len, 0, bss_end - (load_addr + load_len));

	/* Multiboot information (spec 3.3): mem_lower/mem_upper in KiB, the command line */
	uint8_t *mbi = ram + info_gpa;
	memset(mbi, 0, 88);
	put32(mbi, MBI_MEM | (cmd_len ? MBI_CMDLINE : 0));
	put32(mbi + 4, 639);
	put32(mbi + 8, (uint32_t)((ram_size > (1ull << 32) ? (1ull << 32) : ram_size) / 1024 - 1024));
	if (cmd_len) {
		memcpy(mbi + 88, cmdline, cmd_len);
		put32(mbi + 16, (uint32_t)(info_gpa + 88));
	}
	(void)MB_FLAG_MEMINFO;
	out->entry = entry;
	out->info_gpa = info_gpa;
	return 0;
}
