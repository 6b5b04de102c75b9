/* SPDX-License-Identifier: MIT */
/*
 * Multiboot v1 kernels (Multiboot Specification 0.6.96): the bare-metal test kernels of
 * tests/guest are flat binaries with a Multiboot header using the address fields ("a.out
 * kludge", header flag 16), the same files QEMU's -kernel accepts.
 */
#ifndef OMNIVISOR_MULTIBOOT_H
#define OMNIVISOR_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

#define MULTIBOOT_MAGIC 0x1badb002u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002u /* EAX at entry (spec 3.2) */

struct multiboot_image {
	uint64_t entry;     /* entry_addr: physical address to start at */
	uint64_t info_gpa;  /* the Multiboot information structure: EBX at entry */
};

/*
 * multiboot_detect - 1 if @image (@len bytes) has a valid Multiboot header (magic and checksum
 * at a 4-byte aligned offset in the first 8 KiB, spec 3.1.1), 0 if not.
 */
int multiboot_detect(const void *image, size_t len);

/*
 * multiboot_load - load @image into guest RAM (@ram, @ram_size bytes at GPA 0) as the header's
 * address fields say, zero its bss, and write a Multiboot information structure (memory sizes,
 * command line @cmdline) at @info_gpa. Fills @out. Errors (with a message on stderr naming what is
 * wrong): -ENOEXEC (no header, or an ELF kernel without the address fields: not supported),
 * -EINVAL (inconsistent addresses, a truncated file), -ENOMEM (does not fit in RAM).
 */
int multiboot_load(uint8_t *ram, uint64_t ram_size, const void *image, size_t len,
		   const char *cmdline, uint64_t info_gpa, struct multiboot_image *out);

#endif
