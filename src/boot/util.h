/* SPDX-License-Identifier: MIT */
/* Little-endian field access and guest-RAM range checks shared by the files of src/boot. */
#ifndef OMNIVISOR_BOOT_UTIL_H
#define OMNIVISOR_BOOT_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "omnivisor/boot.h"

static inline uint16_t get_le16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static inline uint32_t get_le32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t get_le64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline void put_le16(void *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static inline void put_le32(void *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline void put_le64(void *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* [gpa, gpa + len) lies inside guest RAM (no overflow). */
static inline bool ram_range_ok(const struct guest_ram *ram, uint64_t gpa, uint64_t len)
{
	return gpa <= ram->size && len <= ram->size - gpa;
}

/* [a, a + alen) and [b, b + blen) intersect (both non-empty, no overflow assumed). */
static inline bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

#endif
