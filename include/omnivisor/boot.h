/* SPDX-License-Identifier: MIT */
/*
 * Loading Linux into guest RAM (src/boot/): the x86 boot protocol (bzImage and ELF vmlinux),
 * boot_params (the "zero page") with the e820 map, and the initial CPU state of the 64-bit entry.
 *
 * Specification: Documentation/arch/x86/boot.rst (boot protocol 2.15), in particular "THE REAL-
 * MODE KERNEL HEADER", "DETAILS OF HEADER FIELDS" and "64-bit BOOT PROTOCOL"; the boot_params
 * layout of arch/x86/include/uapi/asm/bootparam.h (Documentation/arch/x86/zero-page.rst).
 * The guest-physical addresses used are in src/boot/layout.h; docs/boot.md explains choices.
 *
 * All functions here work on a caller-provided image in host memory and a struct guest_ram; they
 * keep no state, take no locks and may be called from any thread as long as nobody else writes
 * the same guest RAM (boot happens before the vCPUs run). Errors are negative errno values and
 * each one is explained by one pr_err line (what is wrong with which field).
 */
#ifndef OMNIVISOR_BOOT_H
#define OMNIVISOR_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Guest RAM as the loaders see it: guest-physical address x in [0, size) is at hva + x. The
 * machine keeps size <= LAYOUT_PCI_HOLE_START (3 GiB): memory above 4 GiB is not supported yet.
 */
struct guest_ram {
	uint8_t *hva;
	uint64_t size; /* bytes */
};

/*
 * A segment register as the vCPU loads it: selector plus hidden descriptor cache. attr uses
 * the VMX access-rights layout of vcpu_sys.h struct seg_cache (type 3:0, S 4, DPL 6:5, P 7,
 * AVL 8, L 9, D/B 10, G 11); limit is in bytes (already scaled by G).
 */
struct boot_seg {
	uint64_t base;
	uint32_t limit;
	uint16_t sel;
	uint16_t attr;
};

/* GDT selectors of the 64-bit boot protocol (boot.rst "64-bit BOOT PROTOCOL") */
#define BOOT_CS 0x10
#define BOOT_DS 0x18

/*
 * The register state at the kernel's 64-bit entry (boot.rst "64-bit BOOT PROTOCOL"): long mode
 * with paging on (CR0.PE|PG, CR4.PAE, EFER.LME|LMA), CR3 = identity-mapping page tables covering
 * 0 - 4 GiB, GDTR = a GDT whose __BOOT_CS/__BOOT_DS are flat 64-bit code / data, CS = 0x10,
 * DS = ES = SS = FS = GS = 0x18, interrupts off (RFLAGS = 0x2), RSI = boot_params GPA. The IDT
 * is empty (limit 0): an exception before the kernel loads its own IDT is a triple fault.
 * TR is a 64-bit busy TSS of base 0, limit 0x67 and LDTR unusable (selector 0, not present), which
 * no kernel code relies on before it loads its own, but which a KVM backend must set to valid
 * values.
 */
struct boot_cpu_state {
	uint64_t rip, rsp, rsi, rflags;
	uint64_t cr0, cr3, cr4, efer;
	uint64_t gdt_base, idt_base;
	uint16_t gdt_limit, idt_limit; /* bytes - 1 */
	struct boot_seg cs, ds, es, ss, fs, gs, tr, ldtr;
};

/* Kernel compression (the first bytes of the payload; arch/x86/boot/compressed/Makefile). */
enum boot_compression {
	BOOT_COMP_UNKNOWN = 0,
	BOOT_COMP_GZIP,
	BOOT_COMP_XZ,
	BOOT_COMP_ZSTD,
	BOOT_COMP_LZMA,
	BOOT_COMP_BZIP2,
	BOOT_COMP_LZ4,
	BOOT_COMP_LZO,
};

/* boot_compression_name - "gzip", "xz", ..., "unknown". Never NULL. */
const char *boot_compression_name(enum boot_compression c);

/* Setup header offsets in the bzImage file and in boot_params (boot.rst "THE REAL-MODE KERNEL
 * HEADER"): the header starts at 0x1f1 in both. */
#define BZ_HDR_OFFSET 0x1f1
#define BZ_HDR_END 0x280 /* end of the 2.15 header (kernel_info_offset + 4 = 0x26c) is within */
#define BZ_LOADED_HIGH 0x01    /* loadflags bit 0 */
#define BZ_KASLR_FLAG 0x02     /* loadflags bit 1, set by the decompressor only */
#define BZ_CAN_USE_HEAP 0x80   /* loadflags bit 7 */
#define BZ_XLF_KERNEL_64 0x01  /* xloadflags bit 0: has the 64-bit entry at +0x200 */
#define BZ_XLF_CAN_BE_LOADED_ABOVE_4G 0x02

/* The parsed and validated setup header of a bzImage (boot.rst "DETAILS OF HEADER FIELDS"). */
struct bzimage_info {
	uint16_t version;	    /* boot protocol, e.g. 0x020f */
	uint8_t setup_sects;	    /* as in the file (0 means 4) */
	uint32_t setup_size;	    /* bytes of the real-mode part: (setup_sects or 4, + 1) * 512 */
	uint32_t syssize;	    /* protected-mode size in 16-byte paragraphs */
	uint64_t pm_offset;	    /* file offset of the protected-mode kernel (= setup_size) */
	uint64_t pm_size;	    /* its size in bytes: syssize * 16 */
	uint64_t file_size;	    /* bytes; may exceed pm_offset + pm_size (a PE signature) */
	uint8_t loadflags;
	uint16_t xloadflags;
	bool relocatable;
	uint32_t kernel_alignment;  /* bytes */
	uint8_t min_alignment;	    /* log2 bytes */
	uint32_t initrd_addr_max;   /* highest byte address the initrd may occupy */
	uint32_t cmdline_size;	    /* max command line length without the NUL */
	uint32_t payload_offset;    /* from the start of the protected-mode kernel */
	uint32_t payload_length;    /* bytes */
	uint64_t pref_address;	    /* preferred load address of the protected-mode kernel */
	uint32_t init_size;	    /* bytes needed from the load address during decompression */
	enum boot_compression compression;
	char kernel_version[160];    /* the string at kernel_version + 0x200, or "" */
};

/*
 * bzimage_parse - validate the bzImage @image (@len bytes) and fill @info.
 * Checks: file long enough for the header; boot_flag 0xaa55; "HdrS" magic; version >= 2.12
 * (needed for xloadflags and the 64-bit entry); XLF_KERNEL_64; setup_sects/syssize consistent
 * with the file size; payload inside the protected-mode part; pref_address/init_size present.
 * Returns 0, -ENOEXEC (not a bzImage / cannot boot it in 64-bit mode) or -EINVAL (truncated or
 * inconsistent), with a pr_err line saying which check failed.
 */
int bzimage_parse(const void *image, size_t len, struct bzimage_info *info);

/*
 * bzimage_load - copy the protected-mode kernel of a parsed bzImage to its load address in
 * @ram: pref_address, and the kernel must have init_size bytes of RAM from there (if RAM is too
 * small the error says how much is needed). A kernel with pref_address below 1 MiB or not
 * aligned to kernel_alignment is placed at the next kernel_alignment boundary >= 1 MiB if it is
 * relocatable. Stores the load address in *@load_gpa; the 64-bit entry is *@load_gpa + 0x200.
 * Returns 0, -ENOMEM (does not fit in RAM), -EINVAL (non-relocatable kernel at a bad address).
 */
int bzimage_load(const struct guest_ram *ram, const void *image, size_t len,
		 const struct bzimage_info *info, uint64_t *load_gpa);

/*
 * bzimage_decompress - host-side decompression of the payload (the compressed vmlinux ELF, with
 * the relocation table appended when CONFIG_X86_NEED_RELOCS). gzip (zlib), xz and lzma (raw
 * .lzma; liblzma) and zstd (libzstd) are supported; bzip2, lz4 and lzo give -ENOTSUP. The
 * expected size is the little-endian 32-bit trailer the kernel build
 * appends to every payload (scripts/Makefile.lib size_append; gzip's own ISIZE). On success
 * *@out is a malloc'ed buffer of *@out_len bytes owned by the caller (free()).
 * Returns 0, -ENOTSUP (unsupported format), -EINVAL (corrupt data), -ENOMEM.
 */
int bzimage_decompress(const void *image, size_t len, const struct bzimage_info *info,
		       void **out, size_t *out_len);

/* What vmlinux_load found. Addresses are guest-physical. */
struct vmlinux_info {
	uint64_t entry;	      /* physical address of e_entry (startup_64) */
	uint64_t start, end;  /* lowest / highest+1 physical address of the PT_LOAD segments */
	unsigned nr_segments; /* PT_LOAD segments loaded */
};

/*
 * vmlinux_load - load an ELF64 x86-64 vmlinux (@elf, @len bytes): every PT_LOAD segment to its
 * p_paddr (p_filesz bytes copied, the rest up to p_memsz zeroed). e_entry is a virtual address
 * when it is not inside any segment's physical range: it is translated through the segment
 * whose [p_vaddr, p_vaddr + p_memsz) contains it. Segments must lie in [1 MiB, RAM end).
 * Loading at the link-time physical address needs no relocation (docs/boot.md).
 * Returns 0, -ENOEXEC (not an ELF64 x86-64 executable), -EINVAL (headers or segments outside
 * the file, overlapping or outside RAM, entry in no segment).
 */
int vmlinux_load(const struct guest_ram *ram, const void *elf, size_t len,
		 struct vmlinux_info *info);

/* e820 (boot_params.e820_table; ACPI 6.x ch. 15 "System Address Map Interfaces") */
#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3
#define E820_NVS 4
#define E820_MAX_ENTRIES_ZEROPAGE 128

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
} __attribute__((packed));

/*
 * e820_build - the memory map for @ram_size bytes of RAM: [0, 0x9fc00) RAM, [0x9fc00, 1 MiB)
 * reserved (EBDA, VGA hole, BIOS area with the ACPI tables), [1 MiB, ram_size) RAM. Fills up to
 * @max entries of @tab and returns the count, or -EINVAL if @ram_size is below 1 MiB or not a
 * multiple of 4 KiB, -ENOSPC if @max is too small.
 */
int e820_build(uint64_t ram_size, struct e820_entry *tab, unsigned max);

/* What bootparams_build writes (all addresses guest-physical). */
struct bootparams_config {
	const uint8_t *setup_hdr; /* the image's bytes 0x1f1 .. @setup_hdr_end, or NULL (vmlinux:
				     a synthetic 2.15 header is written) */
	size_t setup_hdr_end;	  /* file offset where the header ends: 0x202 + byte at 0x201 */
	const char *cmdline;	  /* NULL = "" */
	uint32_t cmdline_max;	  /* longest allowed command line in bytes, without the NUL */
	uint64_t initrd_gpa, initrd_size; /* 0, 0 = none */
	uint64_t rsdp_gpa;		  /* 0 = none (the kernel scans the BIOS area) */
};

/*
 * bootparams_build - write struct boot_params at LAYOUT_BOOT_PARAMS and the command line at
 * LAYOUT_CMDLINE: the setup header (copied, then type_of_loader = 0xff, loadflags |=
 * LOADED_HIGH | CAN_USE_HEAP, heap_end_ptr = 0xe000 - 0x200, cmd_line_ptr, ramdisk_image/size
 * with their ext_* high halves, KASLR_FLAG cleared), the e820 table of e820_build, alt_mem_k and
 * acpi_rsdp_addr. Returns 0, -E2BIG (command line longer than @cmdline_max or
 * LAYOUT_CMDLINE_MAX - 1), -EINVAL (RAM too small for the boot area).
 */
int bootparams_build(const struct guest_ram *ram, const struct bootparams_config *cfg);

/*
 * boot_setup_cpu - write the boot GDT (LAYOUT_BOOT_GDT) and the identity-mapping page tables
 * (LAYOUT_BOOT_PML4...) into @ram and fill @cpu for a 64-bit entry at @entry_gpa with RSI =
 * LAYOUT_BOOT_PARAMS. Returns 0 or -EINVAL (RAM below 1 MiB).
 */
int boot_setup_cpu(const struct guest_ram *ram, uint64_t entry_gpa, struct boot_cpu_state *cpu);

/* Kernel image formats boot_linux accepts. */
enum boot_format {
	BOOT_FORMAT_BZIMAGE,	/* enter the bzImage's own decompressor (startup_64 at +0x200) */
	BOOT_FORMAT_BZIMAGE_HOST, /* decompress on the host, enter vmlinux's startup_64 */
	BOOT_FORMAT_VMLINUX,	/* ELF vmlinux */
};

struct boot_config {
	const void *kernel; /* the kernel file's bytes (bzImage or ELF vmlinux); caller owns */
	size_t kernel_len;
	const void *initrd; /* initramfs bytes or NULL; caller owns */
	size_t initrd_len;
	const char *cmdline;	/* NULL = "" */
	unsigned nr_cpus;	/* for the MADT: LAPIC ids 0 .. nr_cpus - 1 (1..255) */
	bool host_decompress;	/* bzImage: decompress on the host (BOOT_FORMAT_BZIMAGE_HOST) */
};

/* What boot_linux did (for logs and tests). */
struct boot_report {
	enum boot_format format;
	uint64_t kernel_start, kernel_end; /* RAM reserved for the kernel (init_size for bzImage) */
	uint64_t entry;
	uint64_t initrd_start, initrd_end; /* 0, 0 without initrd */
	uint64_t rsdp;
	struct bzimage_info bz; /* valid for the two bzImage formats */
};

/*
 * boot_linux - everything the machine needs to start Linux: detect the format (ELF magic ->
 * vmlinux, else bzImage), load the kernel, place the initrd as high as possible below
 * min(initrd_addr_max + 1, RAM end) and above the kernel, build the ACPI tables (acpi_build),
 * boot_params, the GDT and page tables, and fill @cpu (the BSP's state; APs start in the
 * wait-for-SIPI state). @report may be NULL. @ram must be zeroed by the caller (fresh
 * anonymous memory) and at most LAYOUT_PCI_HOLE_START bytes.
 * Returns 0 or a negative errno from the steps above (-ENOMEM: RAM too small for kernel +
 * initrd; -EINVAL for RAM larger than the PCI hole start).
 */
int boot_linux(const struct guest_ram *ram, const struct boot_config *cfg,
	       struct boot_cpu_state *cpu, struct boot_report *report);

/*
 * boot_read_file - read the whole file @path into a malloc'ed buffer (*@buf, *@len bytes;
 * the caller frees it). Returns 0 or -errno (with a pr_err naming the file).
 */
int boot_read_file(const char *path, void **buf, size_t *len);

#endif
