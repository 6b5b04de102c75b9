/* SPDX-License-Identifier: MIT */
/*
 * Guest address space for `omnivisor exec`: one host reservation (the window) holds the whole
 * guest virtual address space; a sorted VMA array mirrors Linux's mm (mmap/munmap/mprotect/
 * mremap/brk semantics). See include/omnivisor/memory.h.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "omnivisor/memory.h"
#include "omnivisor/vcpu.h"
#include "cpu/cpu.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

struct vma {
	uint64_t start, end; /* [start, end), page aligned */
	int prot;
	int flags; /* MAP_SHARED/MAP_PRIVATE/MAP_ANONYMOUS as given */
};

#define CODE_HASH 1024

struct code_page {
	uint64_t page;
	struct code_page *next;
};

struct guest_mem {
	uint8_t *base;
	uint64_t limit;
	pthread_mutex_t lock;
	struct vma *vmas;
	size_t nr_vmas, cap_vmas;
	uint64_t mmap_top; /* highest address used for placement without a hint */
	uint64_t brk_base, brk_cur;
	struct code_page *code[CODE_HASH];
	size_t nr_code_pages;
	void (*invalidate)(void *opaque, uint64_t page);
	void *invalidate_opaque;
};

static __thread struct vcpu *current_vcpu;

static uint64_t page_up(uint64_t x)
{
	return (x + GUEST_PAGE_SIZE - 1) & GUEST_PAGE_MASK;
}

static int host_prot(int prot)
{
	int p = 0;
	if (prot & (GPROT_READ | GPROT_EXEC))
		p |= PROT_READ;
	if (prot & GPROT_WRITE)
		p |= PROT_READ | PROT_WRITE;
	return p;
}

/* Put [gva, gva+len) back to reserved (inaccessible), keeping the window intact. */
static int reserve(struct guest_mem *mem, uint64_t gva, uint64_t len)
{
	void *p = mmap(mem->base + gva, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	return p == MAP_FAILED ? -errno : 0;
}

struct guest_mem *mem_create(uint64_t limit)
{
	struct guest_mem *mem = calloc(1, sizeof(*mem));
	void *p;
	if (!mem)
		return NULL;
	p = mmap(NULL, limit, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		free(mem);
		return NULL;
	}
	mem->base = p;
	mem->limit = limit;
	/* Leave the top 256 MiB for the stack, as Linux keeps a gap below the stack. */
	mem->mmap_top = limit - (256ULL << 20);
	pthread_mutex_init(&mem->lock, NULL);
	return mem;
}

void mem_destroy(struct guest_mem *mem)
{
	if (!mem)
		return;
	munmap(mem->base, mem->limit);
	for (size_t i = 0; i < CODE_HASH; i++)
		for (struct code_page *c = mem->code[i], *n; c; c = n) {
			n = c->next;
			free(c);
		}
	free(mem->vmas);
	free(mem);
}

uint8_t *mem_base(const struct guest_mem *mem)
{
	return mem->base;
}

uint64_t mem_limit(const struct guest_mem *mem)
{
	return mem->limit;
}

void mem_set_code_invalidator(struct guest_mem *mem, void (*fn)(void *, uint64_t), void *opaque)
{
	mem->invalidate = fn;
	mem->invalidate_opaque = opaque;
}

/* ---- VMA array -------------------------------------------------------------------------- */

/* Index of the first VMA with end > gva. */
static size_t vma_lower(const struct guest_mem *mem, uint64_t gva)
{
	size_t lo = 0, hi = mem->nr_vmas;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (mem->vmas[mid].end <= gva)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct vma *vma_find(struct guest_mem *mem, uint64_t gva)
{
	size_t i = vma_lower(mem, gva);
	if (i < mem->nr_vmas && mem->vmas[i].start <= gva)
		return &mem->vmas[i];
	return NULL;
}

static void vma_insert_at(struct guest_mem *mem, size_t i, struct vma v)
{
	if (mem->nr_vmas == mem->cap_vmas) {
		mem->cap_vmas = mem->cap_vmas ? mem->cap_vmas * 2 : 64;
		mem->vmas = realloc(mem->vmas, mem->cap_vmas * sizeof(*mem->vmas));
		if (!mem->vmas)
			abort();
	}
	memmove(&mem->vmas[i + 1], &mem->vmas[i], (mem->nr_vmas - i) * sizeof(*mem->vmas));
	mem->vmas[i] = v;
	mem->nr_vmas++;
}

/* Split so that no VMA straddles @gva. */
static void vma_split(struct guest_mem *mem, uint64_t gva)
{
	struct vma *v = vma_find(mem, gva);
	if (v && v->start < gva) {
		struct vma hi = *v;
		size_t i = (size_t)(v - mem->vmas);
		hi.start = gva;
		v->end = gva;
		vma_insert_at(mem, i + 1, hi);
	}
}

static void vma_remove_range(struct guest_mem *mem, uint64_t start, uint64_t end)
{
	size_t i, j;
	vma_split(mem, start);
	vma_split(mem, end);
	i = vma_lower(mem, start);
	j = i;
	while (j < mem->nr_vmas && mem->vmas[j].end <= end)
		j++;
	if (j == i)
		return;
	memmove(&mem->vmas[i], &mem->vmas[j], (mem->nr_vmas - j) * sizeof(*mem->vmas));
	mem->nr_vmas -= j - i;
}

static void vma_merge_around(struct guest_mem *mem, size_t i)
{
	size_t lo = i ? i - 1 : 0;
	for (size_t k = lo; k + 1 < mem->nr_vmas && k <= i + 1;) {
		struct vma *a = &mem->vmas[k], *b = &mem->vmas[k + 1];
		if (a->end == b->start && a->prot == b->prot && a->flags == b->flags &&
		    (a->flags & MAP_ANONYMOUS)) {
			a->end = b->end;
			memmove(b, b + 1, (mem->nr_vmas - k - 2) * sizeof(*b));
			mem->nr_vmas--;
		} else {
			k++;
		}
	}
}

static void vma_add(struct guest_mem *mem, uint64_t start, uint64_t end, int prot, int flags)
{
	struct vma v = { start, end, prot, flags };
	size_t i;
	vma_remove_range(mem, start, end);
	i = vma_lower(mem, start);
	vma_insert_at(mem, i, v);
	vma_merge_around(mem, i);
}

static bool range_free(struct guest_mem *mem, uint64_t start, uint64_t end)
{
	size_t i = vma_lower(mem, start);
	return i >= mem->nr_vmas || mem->vmas[i].start >= end;
}

static bool range_mapped(struct guest_mem *mem, uint64_t start, uint64_t end, int prot)
{
	uint64_t at = start;
	size_t i = vma_lower(mem, start);
	while (at < end) {
		if (i >= mem->nr_vmas || mem->vmas[i].start > at)
			return false;
		if ((mem->vmas[i].prot & prot) != prot)
			return false;
		at = mem->vmas[i].end;
		i++;
	}
	return true;
}

/* Highest free gap of @len bytes ending at or below @top and starting at or above @bottom. */
static int64_t find_gap(struct guest_mem *mem, uint64_t len, uint64_t bottom, uint64_t top)
{
	size_t k = vma_lower(mem, top); /* first VMA ending above top */
	uint64_t end = top;

	if (k < mem->nr_vmas && mem->vmas[k].start < end)
		end = mem->vmas[k].start; /* a VMA spans top: the gap ends below it */
	/* invariant: vmas[k-1] (if any) ends at or below `end` */
	for (;;) {
		uint64_t lo = k > 0 ? mem->vmas[k - 1].end : 0;
		if (lo < bottom)
			lo = bottom;
		if (end >= lo && end - lo >= len)
			return (int64_t)(end - len);
		if (k == 0 || mem->vmas[k - 1].start < bottom + len)
			return -ENOMEM;
		end = mem->vmas[--k].start;
	}
}

/* ---- code pages (self-modifying code detection) ------------------------------------------ */

static struct code_page **code_slot(struct guest_mem *mem, uint64_t page)
{
	struct code_page **pp = &mem->code[(page >> 12) % CODE_HASH];
	while (*pp && (*pp)->page != page)
		pp = &(*pp)->next;
	return pp;
}

/* Drop decoded code of pages in [start, end): with mem->lock held, returns after re-enabling
 * host writes; the caller invalidates the blocks once the lock is dropped. */
static void code_pages_release(struct guest_mem *mem, uint64_t start, uint64_t end,
			       uint64_t *pages, size_t *nr, size_t max)
{
	if (!mem->nr_code_pages)
		return;
	for (uint64_t p = start & GUEST_PAGE_MASK; p < end; p += GUEST_PAGE_SIZE) {
		struct code_page **pp = code_slot(mem, p), *c = *pp;
		struct vma *v;
		if (!c)
			continue;
		*pp = c->next;
		free(c);
		mem->nr_code_pages--;
		v = vma_find(mem, p);
		if (v)
			mprotect(mem->base + p, GUEST_PAGE_SIZE, host_prot(v->prot));
		if (*nr < max)
			pages[(*nr)++] = p;
		else
			pages[max - 1] = UINT64_MAX; /* too many: flush by range below */
	}
}

static void invalidate_pages(struct guest_mem *mem, uint64_t start, uint64_t end,
			     const uint64_t *pages, size_t nr)
{
	if (!mem->invalidate)
		return;
	if (nr && pages[nr - 1] == UINT64_MAX) {
		for (uint64_t p = start & GUEST_PAGE_MASK; p < end; p += GUEST_PAGE_SIZE)
			mem->invalidate(mem->invalidate_opaque, p);
		return;
	}
	for (size_t i = 0; i < nr; i++)
		mem->invalidate(mem->invalidate_opaque, pages[i]);
}

#define MAX_RELEASE 64

/* Forget decoded code in a range whose mapping changes (mmap over, munmap, mprotect). */
static void range_changed(struct guest_mem *mem, uint64_t start, uint64_t end)
{
	uint64_t pages[MAX_RELEASE];
	size_t nr = 0;
	pthread_mutex_lock(&mem->lock);
	code_pages_release(mem, start, end, pages, &nr, MAX_RELEASE);
	pthread_mutex_unlock(&mem->lock);
	invalidate_pages(mem, start, end, pages, nr);
}

void mem_prepare_write(struct guest_mem *mem, uint64_t gva, uint64_t len)
{
	if (!len || !mem->nr_code_pages || gva >= mem->limit)
		return;
	if (len > mem->limit - gva)
		len = mem->limit - gva;
	range_changed(mem, gva, gva + len);
}

void mem_protect_code_page(struct guest_mem *mem, uint64_t gva)
{
	uint64_t page = gva & GUEST_PAGE_MASK;
	struct vma *v;
	pthread_mutex_lock(&mem->lock);
	v = vma_find(mem, page);
	if (v && (v->prot & GPROT_WRITE) && !*code_slot(mem, page)) {
		struct code_page *c = malloc(sizeof(*c));
		if (c) {
			c->page = page;
			c->next = NULL;
			*code_slot(mem, page) = c;
			mem->nr_code_pages++;
			mprotect(mem->base + page, GUEST_PAGE_SIZE, PROT_READ);
		}
	}
	pthread_mutex_unlock(&mem->lock);
}

/* ---- Linux memory system calls ------------------------------------------------------------ */

int64_t mem_map(struct guest_mem *mem, uint64_t gva, uint64_t len, int prot, int flags, int fd,
		int64_t off)
{
	int fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
	int hflags;
	int64_t at;
	void *p;

	if (!len || (off & (int64_t)(GUEST_PAGE_SIZE - 1)))
		return -EINVAL;
	if (!(flags & (MAP_SHARED | MAP_PRIVATE)))
		return -EINVAL;
	len = page_up(len);
	if (!len || len > mem->limit)
		return -ENOMEM;
	pthread_mutex_lock(&mem->lock);
	if (fixed) {
		if (gva & ~GUEST_PAGE_MASK) {
			at = -EINVAL;
			goto out;
		}
		if (gva >= mem->limit || mem->limit - gva < len) {
			at = -ENOMEM;
			goto out;
		}
		if ((flags & MAP_FIXED_NOREPLACE) && !(flags & MAP_FIXED) &&
		    !range_free(mem, gva, gva + len)) {
			at = -EEXIST;
			goto out;
		}
		at = (int64_t)gva;
	} else {
		uint64_t hint = gva & GUEST_PAGE_MASK;
		if (hint && hint < mem->limit && mem->limit - hint >= len &&
		    range_free(mem, hint, hint + len))
			at = (int64_t)hint;
		else if (flags & MAP_32BIT)
			at = find_gap(mem, len, 0x40000000, 0x80000000);
		else
			at = find_gap(mem, len, 0x10000, mem->mmap_top);
		if (at < 0)
			goto out;
	}
	hflags = (flags & ~(MAP_FIXED_NOREPLACE | MAP_32BIT | MAP_GROWSDOWN | MAP_HUGETLB |
			    MAP_LOCKED)) | MAP_FIXED;
	p = mmap(mem->base + at, len, host_prot(prot), hflags, fd, off);
	if (p == MAP_FAILED) {
		int e = errno;
		/* a failed MAP_FIXED leaves the range undefined: re-reserve it */
		reserve(mem, (uint64_t)at, len);
		vma_remove_range(mem, (uint64_t)at, (uint64_t)at + len);
		at = -e;
		goto out;
	}
	vma_add(mem, (uint64_t)at, (uint64_t)at + len, prot, flags & (MAP_SHARED | MAP_PRIVATE |
								   MAP_ANONYMOUS));
out:
	pthread_mutex_unlock(&mem->lock);
	if (at >= 0)
		range_changed(mem, (uint64_t)at, (uint64_t)at + len);
	return at;
}

/* Linux's user address space (TASK_SIZE_MAX, 47 bits): above it munmap & co. say -EINVAL;
 * between the window's end and it, nothing is mapped. */
#define LINUX_TASK_SIZE 0x7ffffffff000ULL

int mem_unmap(struct guest_mem *mem, uint64_t gva, uint64_t len)
{
	int r;
	if ((gva & ~GUEST_PAGE_MASK) || !len)
		return -EINVAL;
	len = page_up(len);
	if (!len || gva > LINUX_TASK_SIZE || LINUX_TASK_SIZE - gva < len)
		return -EINVAL;
	if (gva >= mem->limit)
		return 0; /* valid user addresses, nothing mapped there */
	if (mem->limit - gva < len)
		len = mem->limit - gva;
	range_changed(mem, gva, gva + len);
	pthread_mutex_lock(&mem->lock);
	r = reserve(mem, gva, len);
	if (!r)
		vma_remove_range(mem, gva, gva + len);
	pthread_mutex_unlock(&mem->lock);
	return r;
}

int mem_protect(struct guest_mem *mem, uint64_t gva, uint64_t len, int prot)
{
	int r = 0;
	size_t i;
	if (gva & ~GUEST_PAGE_MASK)
		return -EINVAL;
	len = page_up(len);
	if (!len)
		return 0;
	if (gva >= mem->limit || mem->limit - gva < len)
		return -ENOMEM;
	range_changed(mem, gva, gva + len);
	pthread_mutex_lock(&mem->lock);
	if (!range_mapped(mem, gva, gva + len, 0)) {
		r = -ENOMEM;
		goto out;
	}
	if (mprotect(mem->base + gva, len, host_prot(prot))) {
		r = -errno;
		goto out;
	}
	vma_split(mem, gva);
	vma_split(mem, gva + len);
	for (i = vma_lower(mem, gva); i < mem->nr_vmas && mem->vmas[i].start < gva + len; i++)
		mem->vmas[i].prot = prot;
	vma_merge_around(mem, vma_lower(mem, gva));
	vma_merge_around(mem, vma_lower(mem, gva + len - 1));
out:
	pthread_mutex_unlock(&mem->lock);
	return r;
}

int64_t mem_remap(struct guest_mem *mem, uint64_t old_gva, uint64_t old_len, uint64_t new_len,
		  int flags, uint64_t new_gva)
{
	struct vma *v, saved;
	int64_t at;
	void *p;

	/* argument checks in the order Linux's mremap makes them (mm/mremap.c) */
	if ((old_gva & ~GUEST_PAGE_MASK) || !new_len)
		return -EINVAL;
	if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED))
		return -EINVAL;
	if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE))
		return -EINVAL;
	old_len = page_up(old_len);
	new_len = page_up(new_len);
	if (!new_len || new_len > LINUX_TASK_SIZE)
		return -EINVAL;
	if ((flags & MREMAP_FIXED) &&
	    ((new_gva & ~GUEST_PAGE_MASK) || new_gva > LINUX_TASK_SIZE - new_len))
		return -EINVAL;
	if (!old_len || old_gva >= mem->limit || mem->limit - old_gva < old_len)
		return -EFAULT;
	if (!(flags & MREMAP_FIXED) && new_len <= old_len) {
		if (new_len < old_len)
			mem_unmap(mem, old_gva + new_len, old_len - new_len);
		return (int64_t)old_gva;
	}
	range_changed(mem, old_gva, old_gva + old_len);
	pthread_mutex_lock(&mem->lock);
	v = vma_find(mem, old_gva);
	if (!v || v->end < old_gva + old_len) {
		at = -EFAULT;
		goto out;
	}
	saved = *v;
	if (!(flags & MREMAP_FIXED) && mem->limit - old_gva >= new_len &&
	    range_free(mem, old_gva + old_len, old_gva + new_len)) {
		/* grow in place: free the reservation behind it, then let the host grow the mapping */
		if (munmap(mem->base + old_gva + old_len, new_len - old_len)) {
			at = -errno;
			goto out;
		}
		p = mremap(mem->base + old_gva, old_len, new_len, 0);
		if (p == MAP_FAILED) {
			at = -errno;
			reserve(mem, old_gva + old_len, new_len - old_len);
			goto out;
		}
		at = (int64_t)old_gva;
	} else {
		if (!(flags & MREMAP_MAYMOVE)) {
			at = -ENOMEM;
			goto out;
		}
		if (flags & MREMAP_FIXED) {
			if ((new_gva & ~GUEST_PAGE_MASK) || new_gva >= mem->limit ||
			    mem->limit - new_gva < new_len ||
			    (new_gva < old_gva + old_len && old_gva < new_gva + new_len)) {
				at = -EINVAL;
				goto out;
			}
			at = (int64_t)new_gva;
		} else {
			at = find_gap(mem, new_len, 0x10000, mem->mmap_top);
			if (at < 0)
				goto out;
		}
		p = mremap(mem->base + old_gva, old_len, new_len, MREMAP_MAYMOVE | MREMAP_FIXED,
			   mem->base + at);
		if (p == MAP_FAILED) {
			at = -errno;
			goto out;
		}
		reserve(mem, old_gva, old_len);
		vma_remove_range(mem, old_gva, old_gva + old_len);
	}
	vma_add(mem, (uint64_t)at, (uint64_t)at + new_len, saved.prot, saved.flags);
out:
	pthread_mutex_unlock(&mem->lock);
	return at;
}

void mem_set_brk_base(struct guest_mem *mem, uint64_t gva)
{
	mem->brk_base = mem->brk_cur = page_up(gva);
}

uint64_t mem_brk(struct guest_mem *mem, uint64_t gva)
{
	uint64_t old_top, new_top;
	if (gva < mem->brk_base || gva >= mem->mmap_top)
		return mem->brk_cur;
	old_top = page_up(mem->brk_cur);
	new_top = page_up(gva);
	if (new_top > old_top) {
		int64_t r;
		pthread_mutex_lock(&mem->lock);
		if (!range_free(mem, old_top, new_top)) {
			pthread_mutex_unlock(&mem->lock);
			return mem->brk_cur;
		}
		pthread_mutex_unlock(&mem->lock);
		r = mem_map(mem, old_top, new_top - old_top, GPROT_READ | GPROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (r < 0)
			return mem->brk_cur;
	} else if (new_top < old_top) {
		mem_unmap(mem, new_top, old_top - new_top);
	}
	mem->brk_cur = gva;
	return gva;
}

int mem_prot(struct guest_mem *mem, uint64_t gva)
{
	struct vma *v;
	int prot;
	pthread_mutex_lock(&mem->lock);
	v = vma_find(mem, gva);
	prot = v ? v->prot : -1;
	pthread_mutex_unlock(&mem->lock);
	return prot;
}

bool mem_is_shared(struct guest_mem *mem, uint64_t gva)
{
	struct vma *v;
	bool shared;
	pthread_mutex_lock(&mem->lock);
	v = vma_find(mem, gva);
	shared = v && (v->flags & MAP_SHARED);
	pthread_mutex_unlock(&mem->lock);
	return shared;
}

bool mem_check_range(struct guest_mem *mem, uint64_t gva, uint64_t len, int prot)
{
	bool ok;
	if (!len)
		return true;
	if (gva >= mem->limit || mem->limit - gva < len)
		return false;
	pthread_mutex_lock(&mem->lock);
	ok = range_mapped(mem, gva & GUEST_PAGE_MASK, gva + len, prot);
	pthread_mutex_unlock(&mem->lock);
	return ok;
}

void mem_for_each_vma(struct guest_mem *mem,
		      void (*fn)(uint64_t start, uint64_t end, int prot, int flags, void *opaque),
		      void *opaque)
{
	pthread_mutex_lock(&mem->lock);
	for (size_t i = 0; i < mem->nr_vmas; i++)
		fn(mem->vmas[i].start, mem->vmas[i].end, mem->vmas[i].prot, mem->vmas[i].flags,
		   opaque);
	pthread_mutex_unlock(&mem->lock);
}

void mem_fork_child(struct guest_mem *mem)
{
	pthread_mutex_init(&mem->lock, NULL);
}

/* ---- host fault handling ------------------------------------------------------------------ */

void mem_set_current_vcpu(struct vcpu *cpu)
{
	current_vcpu = cpu;
}

/* A write hit a page we made read-only because it holds decoded code: re-enable writes,
 * invalidate the code, and make the vCPU leave its (now stale) block after this instruction. */
static bool service_code_write(struct guest_mem *mem, uint64_t gva)
{
	uint64_t page = gva & GUEST_PAGE_MASK, pages[1];
	size_t nr = 0;
	pthread_mutex_lock(&mem->lock);
	if (*code_slot(mem, page))
		code_pages_release(mem, page, page + 1, pages, &nr, 1);
	pthread_mutex_unlock(&mem->lock);
	if (!nr) {
		/* Another thread may have released it already: writable now? */
		struct vma *v;
		bool w;
		pthread_mutex_lock(&mem->lock);
		v = vma_find(mem, page);
		w = v && (v->prot & GPROT_WRITE);
		pthread_mutex_unlock(&mem->lock);
		return w;
	}
	invalidate_pages(mem, page, page + 1, pages, nr);
	return true;
}

static void fatal_fault(int sig)
{
	signal(sig, SIG_DFL);
	/* returning re-executes the faulting host instruction and dies with the default action */
}

static void fault_handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	struct vcpu *cpu = current_vcpu;
	struct guest_mem *mem = cpu ? cpu->mem : NULL;
	uint8_t *a = si->si_addr;
	uint64_t gva;
	int write, prot;
	int saved_errno = errno;

	if (!mem || a < mem->base || a >= mem->base + mem->limit) {
		fatal_fault(sig);
		return;
	}
	gva = (uint64_t)(a - mem->base);
	write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
	if (sig == SIGSEGV && write && service_code_write(mem, gva)) {
		if (cpu->in_run)
			__atomic_or_fetch(&cpu->exit_request, 2, __ATOMIC_RELAXED);
		errno = saved_errno;
		return;
	}
	if (!cpu->in_run) {
		fprintf(stderr, "omnivisor: internal error: host access to unmapped guest address "
				"0x%llx outside the vCPU\n", (unsigned long long)gva);
		fatal_fault(sig);
		return;
	}
	errno = saved_errno;
	if (sig == SIGBUS)
		cpu_raise(cpu, EXC_HOST_SIGBUS, 0, gva);
	prot = mem_prot(mem, gva);
	cpu_raise(cpu, EXC_PF, PFEC_U | (write ? PFEC_W : 0) | (prot >= 0 ? PFEC_P : 0),
			    gva);
}

void mem_install_fault_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fault_handler;
	/* NODEFER: the handler leaves by longjmp, so the signal must not stay blocked. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}
