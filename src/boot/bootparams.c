/* SPDX-License-Identifier: MIT */
/*
 * struct boot_params (the "zero page") and the e820 memory map.
 * Layout: arch/x86/include/uapi/asm/bootparam.h, Documentation/arch/x86/zero-page.rst; the
 * loader's duties: Documentation/arch/x86/boot.rst "DETAILS OF HEADER FIELDS" (fields marked
 * "write" / "modify") and "64-bit BOOT PROTOCOL".
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "boot/layout.h"
#include "boot/util.h"
#include "omnivisor/boot.h"
#include "omnivisor/log.h"

/* struct boot_params offsets (zero-page.rst) */
#define BP_ACPI_RSDP_ADDR 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_ALT_MEM_K 0x1e0
#define BP_E820_ENTRIES 0x1e8
#define BP_SENTINEL 0x1ef
#define BP_HDR 0x1f1
#define BP_HDR_MAX_END 0x290 /* _pad7 ends here; edd_mbr_sig_buffer follows */
#define BP_E820_TABLE 0x2d0
/* setup header fields, at their file offsets (boot.rst) */
#define HDR_BOOT_FLAG 0x1fe
#define HDR_JUMP 0x200
#define HDR_HEADER 0x202
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_HEAP_END_PTR 0x224
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_XLOADFLAGS 0x236
#define HDR_CMDLINE_SIZE 0x238

/* x86 COMMAND_LINE_SIZE (arch/x86/include/asm/setup.h): what a vmlinux accepts */
#define VMLINUX_CMDLINE_SIZE 2048

int e820_build(uint64_t ram_size, struct e820_entry *tab, unsigned max)
{
	if (ram_size < LAYOUT_BIOS_END || (ram_size & 0xfff)) {
		pr_err("e820: RAM size 0x%" PRIx64 " is below 1 MiB or not a multiple of 4 KiB",
		       ram_size);
		return -EINVAL;
	}
	const struct e820_entry want[] = {
		{ 0, LAYOUT_LOW_RAM_END, E820_RAM },
		{ LAYOUT_LOW_RAM_END, LAYOUT_BIOS_END - LAYOUT_LOW_RAM_END, E820_RESERVED },
		{ LAYOUT_BIOS_END, ram_size - LAYOUT_BIOS_END, E820_RAM },
	};
	unsigned n = ram_size > LAYOUT_BIOS_END ? 3 : 2;
	if (max < n)
		return -ENOSPC;
	memcpy(tab, want, n * sizeof(*tab));
	return (int)n;
}

/* The minimal header a loader of an ELF vmlinux provides (there is none in the file). */
static void synthetic_header(uint8_t *bp)
{
	put_le16(bp + HDR_BOOT_FLAG, 0xaa55);
	put_le32(bp + HDR_HEADER, 0x53726448); /* "HdrS" */
	put_le16(bp + HDR_VERSION, 0x020f);
	put_le32(bp + HDR_INITRD_ADDR_MAX, 0x7fffffff);
	put_le32(bp + HDR_KERNEL_ALIGNMENT, 0x200000);
	put_le16(bp + HDR_XLOADFLAGS, BZ_XLF_KERNEL_64);
	put_le32(bp + HDR_CMDLINE_SIZE, VMLINUX_CMDLINE_SIZE - 1);
}

int bootparams_build(const struct guest_ram *ram, const struct bootparams_config *cfg)
{
	struct e820_entry e820[E820_MAX_ENTRIES_ZEROPAGE];
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	size_t cmdline_len = strlen(cmdline);

	if (!ram_range_ok(ram, 0, LAYOUT_BIOS_END)) {
		pr_err("boot: guest RAM of 0x%" PRIx64 " bytes is below 1 MiB", ram->size);
		return -EINVAL;
	}
	if (cmdline_len > cfg->cmdline_max || cmdline_len > LAYOUT_CMDLINE_MAX - 1) {
		pr_err("boot: the command line is %zu bytes, the kernel accepts at most %u",
		       cmdline_len,
		       cfg->cmdline_max < LAYOUT_CMDLINE_MAX - 1 ? cfg->cmdline_max
								 : (unsigned)LAYOUT_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	int nr_e820 = e820_build(ram->size, e820, E820_MAX_ENTRIES_ZEROPAGE);
	if (nr_e820 < 0)
		return nr_e820;

	uint8_t *bp = ram->hva + LAYOUT_BOOT_PARAMS;
	memset(bp, 0, LAYOUT_BOOT_PARAMS_SIZE);
	if (cfg->setup_hdr) {
		/* boot.rst: copy the setup header (from 0x1f1 to its end) into boot_params */
		size_t end = cfg->setup_hdr_end;
		if (end > BP_HDR_MAX_END)
			end = BP_HDR_MAX_END;
		if (end > BP_HDR)
			memcpy(bp + BP_HDR, cfg->setup_hdr, end - BP_HDR);
	} else {
		synthetic_header(bp);
	}
	bp[BP_SENTINEL] = 0; /* nonzero makes sanitize_boot_params() wipe our fields */

	/* boot.rst "type_of_loader": 0xff = undefined (no assigned loader id) */
	bp[HDR_TYPE_OF_LOADER] = 0xff;
	/* LOADED_HIGH: kernel at >= 1 MiB; CAN_USE_HEAP: heap_end_ptr is valid; KASLR_FLAG is
	 * the decompressor's to set */
	bp[HDR_LOADFLAGS] = (uint8_t)((bp[HDR_LOADFLAGS] | BZ_LOADED_HIGH | BZ_CAN_USE_HEAP) &
				      ~BZ_KASLR_FLAG);
	/* boot.rst "heap_end_ptr": offset from the real-mode start, 0xe000 - 0x200 for a
	 * modern kernel; only the real-mode setup code uses it */
	put_le16(bp + HDR_HEAP_END_PTR, 0xe000 - 0x200);

	memcpy(ram->hva + LAYOUT_CMDLINE, cmdline, cmdline_len + 1);
	put_le32(bp + HDR_CMD_LINE_PTR, (uint32_t)LAYOUT_CMDLINE);
	put_le32(bp + BP_EXT_CMD_LINE_PTR, (uint32_t)(LAYOUT_CMDLINE >> 32));

	put_le32(bp + HDR_RAMDISK_IMAGE, (uint32_t)cfg->initrd_gpa);
	put_le32(bp + HDR_RAMDISK_SIZE, (uint32_t)cfg->initrd_size);
	put_le32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(cfg->initrd_gpa >> 32));
	put_le32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)(cfg->initrd_size >> 32));

	put_le64(bp + BP_ACPI_RSDP_ADDR, cfg->rsdp_gpa);

	/* alt_mem_k: KiB of memory above 1 MiB (the pre-e820 interface, kept for old code) */
	uint64_t above = ram->size - LAYOUT_BIOS_END;
	put_le32(bp + BP_ALT_MEM_K, (uint32_t)((above >> 10) > UINT32_MAX ? UINT32_MAX
									    : above >> 10));
	bp[BP_E820_ENTRIES] = (uint8_t)nr_e820;
	memcpy(bp + BP_E820_TABLE, e820, (size_t)nr_e820 * sizeof(struct e820_entry));
	return 0;
}
