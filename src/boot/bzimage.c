/* SPDX-License-Identifier: MIT */
/*
 * bzImage: parse and validate the setup header, load the protected-mode kernel.
 * Documentation/arch/x86/boot.rst (protocol 2.15): "THE REAL-MODE KERNEL HEADER" gives the
 * offsets, "DETAILS OF HEADER FIELDS" their meaning, "LOADING THE REST OF THE KERNEL" the
 * split: the real-mode part is (setup_sects + 1) * 512 bytes (setup_sects 0 means 4), the
 * protected-mode kernel follows and is syssize * 16 bytes long.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "boot/layout.h"
#include "boot/util.h"
#include "omnivisor/boot.h"
#include "omnivisor/log.h"

/* Setup header offsets in the file (boot.rst "THE REAL-MODE KERNEL HEADER") */
#define H_SETUP_SECTS 0x1f1
#define H_SYSSIZE 0x1f4
#define H_BOOT_FLAG 0x1fe
#define H_JUMP 0x200
#define H_HEADER 0x202
#define H_VERSION 0x206
#define H_KERNEL_VERSION 0x20e
#define H_LOADFLAGS 0x211
#define H_INITRD_ADDR_MAX 0x22c
#define H_KERNEL_ALIGNMENT 0x230
#define H_RELOCATABLE 0x234
#define H_MIN_ALIGNMENT 0x235
#define H_XLOADFLAGS 0x236
#define H_CMDLINE_SIZE 0x238
#define H_PAYLOAD_OFFSET 0x248
#define H_PAYLOAD_LENGTH 0x24c
#define H_PREF_ADDRESS 0x258
#define H_INIT_SIZE 0x260
#define H_MIN_LEN 0x264 /* through init_size (protocol 2.10) */

#define HDRS_MAGIC 0x53726448u /* "HdrS" */

const char *boot_compression_name(enum boot_compression c)
{
	static const char *const names[] = {
		[BOOT_COMP_UNKNOWN] = "unknown", [BOOT_COMP_GZIP] = "gzip",
		[BOOT_COMP_XZ] = "xz",		 [BOOT_COMP_ZSTD] = "zstd",
		[BOOT_COMP_LZMA] = "lzma",	 [BOOT_COMP_BZIP2] = "bzip2",
		[BOOT_COMP_LZ4] = "lz4",	 [BOOT_COMP_LZO] = "lzo",
	};
	if ((unsigned)c < sizeof(names) / sizeof(names[0]) && names[c])
		return names[c];
	return "unknown";
}

/* The magic numbers of the formats arch/x86/boot/compressed/Makefile can produce. */
static enum boot_compression detect_compression(const uint8_t *p, size_t len)
{
	static const struct {
		enum boot_compression c;
		unsigned len;
		uint8_t magic[6];
	} magics[] = {
		{ BOOT_COMP_GZIP, 2, { 0x1f, 0x8b } },
		{ BOOT_COMP_XZ, 6, { 0xfd, '7', 'z', 'X', 'Z', 0x00 } },
		{ BOOT_COMP_ZSTD, 4, { 0x28, 0xb5, 0x2f, 0xfd } },
		{ BOOT_COMP_BZIP2, 3, { 'B', 'Z', 'h' } },
		{ BOOT_COMP_LZ4, 4, { 0x02, 0x21, 0x4c, 0x18 } }, /* legacy lz4 frame (lz4 -l) */
		{ BOOT_COMP_LZO, 4, { 0x89, 'L', 'Z', 'O' } },
		/* .lzma "alone" header: properties byte 0x5d, then the dictionary size */
		{ BOOT_COMP_LZMA, 3, { 0x5d, 0x00, 0x00 } },
	};
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (len >= magics[i].len && !memcmp(p, magics[i].magic, magics[i].len))
			return magics[i].c;
	return BOOT_COMP_UNKNOWN;
}

int bzimage_parse(const void *image, size_t len, struct bzimage_info *info)
{
	const uint8_t *p = image;

	memset(info, 0, sizeof(*info));
	if (len < H_HEADER + 4) {
		pr_err("bzImage: file of %zu bytes is too short for a setup header (needs %d)", len,
		       H_HEADER + 4);
		return len < 0x200 ? -ENOEXEC : -EINVAL;
	}
	if (get_le32(p + H_HEADER) != HDRS_MAGIC) {
		pr_err("bzImage: no \"HdrS\" magic at offset 0x202: not a Linux bzImage");
		return -ENOEXEC;
	}
	if (get_le16(p + H_BOOT_FLAG) != 0xaa55) {
		pr_err("bzImage: boot_flag at 0x1fe is 0x%04x, not 0xaa55",
		       get_le16(p + H_BOOT_FLAG));
		return -ENOEXEC;
	}
	if (len < H_MIN_LEN) {
		pr_err("bzImage: file of %zu bytes is truncated inside the setup header (needs %d)",
		       len, H_MIN_LEN);
		return -EINVAL;
	}
	info->file_size = len;
	info->version = get_le16(p + H_VERSION);
	if (info->version < 0x020c) {
		/* xloadflags (XLF_KERNEL_64) exists from 2.12 on (boot.rst, "xloadflags") */
		pr_err("bzImage: boot protocol %u.%02u is too old for the 64-bit entry (needs 2.12)",
		       info->version >> 8, info->version & 0xff);
		return -ENOEXEC;
	}
	/* the header's own length: the jump at 0x200 is "jmp short" to 0x202 + p[0x201] */
	if (p[H_JUMP] == 0xeb && (size_t)0x202 + p[H_JUMP + 1] < H_MIN_LEN) {
		pr_err("bzImage: setup header ends at 0x%x (jump at 0x200), before init_size",
		       0x202 + p[H_JUMP + 1]);
		return -EINVAL;
	}
	info->loadflags = p[H_LOADFLAGS];
	info->xloadflags = get_le16(p + H_XLOADFLAGS);
	if (!(info->loadflags & BZ_LOADED_HIGH)) {
		pr_err("bzImage: LOADED_HIGH is clear: a zImage loaded at 0x10000 cannot be booted");
		return -ENOEXEC;
	}
	if (!(info->xloadflags & BZ_XLF_KERNEL_64)) {
		pr_err("bzImage: xloadflags 0x%x lacks XLF_KERNEL_64: no 64-bit entry point",
		       info->xloadflags);
		return -ENOEXEC;
	}

	info->setup_sects = p[H_SETUP_SECTS];
	info->setup_size = ((info->setup_sects ? info->setup_sects : 4) + 1) * 512u;
	info->syssize = get_le32(p + H_SYSSIZE);
	info->pm_offset = info->setup_size;
	info->pm_size = (uint64_t)info->syssize * 16;
	if (info->setup_size > len) {
		pr_err("bzImage: setup_sects %u says the real-mode part is %u bytes, the file has "
		       "%zu",
		       info->setup_sects, info->setup_size, len);
		return -EINVAL;
	}
	if (info->syssize == 0) {
		pr_err("bzImage: syssize is 0: no protected-mode kernel");
		return -EINVAL;
	}
	if (info->pm_size > len - info->setup_size) {
		pr_err("bzImage: truncated: setup (%u bytes) + syssize * 16 (%" PRIu64
		       " bytes) = %" PRIu64 " bytes, the file has %zu",
		       info->setup_size, info->pm_size, info->setup_size + info->pm_size, len);
		return -EINVAL;
	}

	info->relocatable = p[H_RELOCATABLE] != 0;
	info->kernel_alignment = get_le32(p + H_KERNEL_ALIGNMENT);
	info->min_alignment = p[H_MIN_ALIGNMENT];
	info->initrd_addr_max = get_le32(p + H_INITRD_ADDR_MAX);
	info->cmdline_size = get_le32(p + H_CMDLINE_SIZE);
	info->payload_offset = get_le32(p + H_PAYLOAD_OFFSET);
	info->payload_length = get_le32(p + H_PAYLOAD_LENGTH);
	info->pref_address = get_le64(p + H_PREF_ADDRESS);
	info->init_size = get_le32(p + H_INIT_SIZE);

	if (info->relocatable &&
	    (info->kernel_alignment == 0 || (info->kernel_alignment & (info->kernel_alignment - 1)))) {
		pr_err("bzImage: kernel_alignment 0x%x is not a power of two",
		       info->kernel_alignment);
		return -EINVAL;
	}
	if (info->min_alignment > 31) {
		pr_err("bzImage: min_alignment 2^%u is absurd", info->min_alignment);
		return -EINVAL;
	}
	if (info->init_size < info->pm_size) {
		pr_err("bzImage: init_size 0x%x is smaller than the kernel itself (0x%" PRIx64 ")",
		       info->init_size, info->pm_size);
		return -EINVAL;
	}
	if (info->payload_length) {
		if ((uint64_t)info->payload_offset + info->payload_length > info->pm_size) {
			pr_err("bzImage: payload [0x%x, +0x%x) lies outside the protected-mode "
			       "kernel (0x%" PRIx64 " bytes)",
			       info->payload_offset, info->payload_length, info->pm_size);
			return -EINVAL;
		}
		info->compression = detect_compression(p + info->pm_offset + info->payload_offset,
						       info->payload_length);
	}

	/* kernel_version: offset - 0x200 of a NUL-terminated string in the setup code */
	uint16_t kv = get_le16(p + H_KERNEL_VERSION);
	if (kv && (uint32_t)kv + 0x200 < info->setup_size) {
		size_t off = (size_t)kv + 0x200, n = 0;
		while (off + n < info->setup_size && n < sizeof(info->kernel_version) - 1 &&
		       p[off + n] >= 0x20 && p[off + n] < 0x7f)
			n++;
		memcpy(info->kernel_version, p + off, n);
		info->kernel_version[n] = '\0';
	}
	return 0;
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

int bzimage_load(const struct guest_ram *ram, const void *image, size_t len,
		 const struct bzimage_info *info, uint64_t *load_gpa)
{
	uint64_t addr = info->pref_address;
	uint64_t align = info->relocatable ? info->kernel_alignment : 1;

	if (info->pm_offset + info->pm_size > len)
		return -EINVAL; /* not the image bzimage_parse validated */
	if (addr < LAYOUT_HIMEM_START || (addr & (align - 1))) {
		if (!info->relocatable) {
			pr_err("bzImage: pref_address 0x%" PRIx64
			       " is below 1 MiB or misaligned and the kernel is not relocatable",
			       addr);
			return -EINVAL;
		}
		addr = align_up(addr < LAYOUT_HIMEM_START ? LAYOUT_HIMEM_START : addr, align);
	}
	/* boot.rst "init_size": the kernel needs [load address, + init_size) to decompress. */
	if (!ram_range_ok(ram, addr, info->init_size)) {
		pr_err("bzImage: the kernel needs RAM up to 0x%" PRIx64
		       " (load address 0x%" PRIx64 " + init_size 0x%x), guest RAM ends at 0x%" PRIx64
		       ": give it at least %" PRIu64 " MiB",
		       addr + info->init_size, addr, info->init_size, ram->size,
		       (addr + info->init_size + (1 << 20) - 1) >> 20);
		return -ENOMEM;
	}
	memcpy(ram->hva + addr, (const uint8_t *)image + info->pm_offset, info->pm_size);
	*load_gpa = addr;
	return 0;
}
