/* SPDX-License-Identifier: MIT */
/*
 * Guest memory for partial virtualization (`omnivisor exec`).
 *
 * The guest's virtual address space is one host reservation ("the window"): GVA g lives at HVA
 * base + g for 0 <= g < limit. Everything outside the window is unreachable by construction,
 * so the guest can never touch the runner's memory. Guest protections are mirrored onto the
 * host pages, so an access the guest may not make faults in the host MMU and is turned into
 * the guest exception (see mem_install_fault_handler). Pages holding decoded code that the
 * guest may write are kept read-only on the host to catch self-modifying code.
 *
 * All functions are thread-safe (one internal lock) unless stated.
 */
#ifndef OMNIVISOR_MEMORY_H
#define OMNIVISOR_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_PAGE_SIZE 4096ULL
#define GUEST_PAGE_MASK (~(GUEST_PAGE_SIZE - 1))

/* Guest page protections: the Linux PROT_* values. */
#define GPROT_READ 1
#define GPROT_WRITE 2
#define GPROT_EXEC 4

struct guest_mem;

/*
 * mem_create - reserve a guest window of @limit bytes (a power of two, >= 4 GiB).
 * Returns NULL with errno set on failure. The caller owns the result (mem_destroy).
 */
struct guest_mem *mem_create(uint64_t limit);
void mem_destroy(struct guest_mem *mem);

/* HVA of GVA 0 and the window size in bytes. */
uint8_t *mem_base(const struct guest_mem *mem);
uint64_t mem_limit(const struct guest_mem *mem);

/*
 * mem_map - Linux mmap(2) semantics inside the window. @gva is a hint unless @flags has
 * MAP_FIXED/MAP_FIXED_NOREPLACE; @fd/@off as for mmap. Returns the GVA (>= 0) or -errno.
 * With no hint, addresses are chosen top-down below the mmap base (like Linux's legacy layout).
 */
int64_t mem_map(struct guest_mem *mem, uint64_t gva, uint64_t len, int prot, int flags, int fd,
		int64_t off);
/* mem_unmap - munmap(2): the range goes back to reserved (inaccessible). 0 or -errno. */
int mem_unmap(struct guest_mem *mem, uint64_t gva, uint64_t len);
/* mem_protect - mprotect(2) on guest pages. 0 or -errno (-ENOMEM if any page is unmapped). */
int mem_protect(struct guest_mem *mem, uint64_t gva, uint64_t len, int prot);
/* mem_remap - mremap(2). Returns new GVA or -errno. */
int64_t mem_remap(struct guest_mem *mem, uint64_t old_gva, uint64_t old_len, uint64_t new_len,
		  int flags, uint64_t new_gva);
/* mem_brk - brk(2): set the break to @gva (0 queries). Returns the new (or unchanged) break. */
uint64_t mem_brk(struct guest_mem *mem, uint64_t gva);
/* mem_set_brk_base - set the initial program break (page-aligned end of the loaded image). */
void mem_set_brk_base(struct guest_mem *mem, uint64_t gva);

/* mem_prot - guest protection of the page holding @gva, or -1 if unmapped. */
int mem_prot(struct guest_mem *mem, uint64_t gva);

/* mem_is_shared - true if the page holding @gva belongs to a MAP_SHARED mapping (its bytes may
 * change through another mapping of the same file or memfd, which no write trap here sees). */
bool mem_is_shared(struct guest_mem *mem, uint64_t gva);

/*
 * mem_check_range - true if every page of [gva, gva+len) is mapped with all of @prot.
 * Used to validate pointers before the host kernel or the runner dereferences them.
 */
bool mem_check_range(struct guest_mem *mem, uint64_t gva, uint64_t len, int prot);

/*
 * mem_prepare_write - the host (a forwarded system call, a device) is about to write
 * [gva, gva+len): drop decoded code there and restore host write access. Call before
 * handing the range to the host kernel.
 */
void mem_prepare_write(struct guest_mem *mem, uint64_t gva, uint64_t len);

/*
 * mem_protect_code_page - the decoder read code from the page at @gva: if the guest can
 * write it, make it read-only on the host so a write traps and invalidates (SMC).
 */
void mem_protect_code_page(struct guest_mem *mem, uint64_t gva);

/* Callback used to invalidate decoded code of a page; set by the block cache owner. */
void mem_set_code_invalidator(struct guest_mem *mem, void (*fn)(void *opaque, uint64_t page_gva),
			      void *opaque);

/*
 * mem_install_fault_handler - install the process-wide SIGSEGV/SIGBUS handler that turns
 * host faults on the window into guest exceptions of the vCPU running on the faulting
 * thread (set by mem_set_current_vcpu), or services code-page write traps.
 */
void mem_install_fault_handler(void);
struct vcpu;
void mem_set_current_vcpu(struct vcpu *cpu);

/*
 * mem_for_each_vma - call @fn for every guest mapping in address order, with its range [start,
 * end) in bytes, guest protection and MAP_* flags, under the memory lock (@fn must not call
 * back into mem_*). Used to emulate /proc/self/maps.
 */
void mem_for_each_vma(struct guest_mem *mem,
		      void (*fn)(uint64_t start, uint64_t end, int prot, int flags, void *opaque),
		      void *opaque);

/* mem_fork_child - fix up locks after fork(2) in the child. */
void mem_fork_child(struct guest_mem *mem);

#endif
