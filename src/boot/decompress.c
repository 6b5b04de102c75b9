/* SPDX-License-Identifier: MIT */
/*
 * Host-side decompression of a bzImage payload (boot.rst "payload_offset"/"payload_length":
 * the compressed vmlinux ELF, followed by its relocation table when CONFIG_X86_NEED_RELOCS).
 *
 * The kernel build appends the uncompressed size as a little-endian 32-bit word to every
 * compressed payload (scripts/Makefile.lib: size_append after xz/lzma/zstd/lz4/lzo; gzip's own
 * trailer ISIZE is the same word), so the output buffer is allocated once at that size and the
 * decoder is given the payload without that word (for gzip it is part of the format).
 *
 * Libraries: zlib (gzip), liblzma (xz, lzma), libzstd (zstd), linked by the Makefile. (Weak
 * references were tried so that the file would link without them; the toolchain links with
 * --as-needed, which drops a library referenced only weakly, so they are plain references.)
 */
#include <errno.h>
#include <inttypes.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "boot/util.h"
#include "omnivisor/boot.h"
#include "omnivisor/log.h"


/* Largest decompressed kernel accepted (Debian's 6.1 vmlinux + relocs is about 60 MiB). */
#define MAX_KERNEL_SIZE (1ull << 30)

static int gunzip(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len, size_t *got)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) /* 16: gzip wrapper (zlib.h) */
		return -ENOMEM;
	/* in_len (payload_length) and out_len (<= MAX_KERNEL_SIZE) fit zlib's 32-bit counters */
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)in_len;
	zs.next_out = out;
	zs.avail_out = (uInt)out_len;
	int rc = inflate(&zs, Z_FINISH);
	size_t out_pos = out_len - zs.avail_out;
	inflateEnd(&zs);
	*got = out_pos;
	if (rc != Z_STREAM_END) {
		pr_err("bzImage: gzip payload is corrupt or longer than its size trailer (zlib %d)",
		       rc);
		return -EINVAL;
	}
	return 0;
}

static int unxz(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len, size_t *got,
		bool alone)
{
	lzma_stream ls = LZMA_STREAM_INIT;
	lzma_ret rc = alone ? lzma_alone_decoder(&ls, UINT64_MAX)
			    : lzma_stream_decoder(&ls, UINT64_MAX, 0);
	if (rc != LZMA_OK)
		return -ENOMEM;
	ls.next_in = in;
	ls.avail_in = in_len;
	ls.next_out = out;
	ls.avail_out = out_len;
	while ((rc = lzma_code(&ls, LZMA_FINISH)) == LZMA_OK)
		;
	*got = out_len - ls.avail_out;
	lzma_end(&ls);
	if (rc != LZMA_STREAM_END) {
		pr_err("bzImage: %s payload is corrupt or longer than its size trailer (liblzma %d)",
		       alone ? "lzma" : "xz", (int)rc);
		return -EINVAL;
	}
	return 0;
}

static int unzstd(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len, size_t *got)
{
	size_t n = ZSTD_decompress(out, out_len, in, in_len);
	if (ZSTD_isError(n)) {
		pr_err("bzImage: zstd payload: %s", ZSTD_getErrorName(n));
		return -EINVAL;
	}
	*got = n;
	return 0;
}

int bzimage_decompress(const void *image, size_t len, const struct bzimage_info *info,
		       void **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	if (!info->payload_length || info->payload_length < 8 ||
	    info->pm_offset + info->payload_offset + (uint64_t)info->payload_length > len) {
		pr_err("bzImage: no usable payload (payload_offset 0x%x, payload_length 0x%x)",
		       info->payload_offset, info->payload_length);
		return -EINVAL;
	}
	const uint8_t *in = (const uint8_t *)image + info->pm_offset + info->payload_offset;
	size_t in_len = info->payload_length;
	uint32_t size = get_le32(in + in_len - 4); /* size_append / gzip ISIZE */
	if (size == 0 || size > MAX_KERNEL_SIZE) {
		pr_err("bzImage: payload size trailer says %u bytes: not a kernel", size);
		return -EINVAL;
	}
	uint8_t *buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	size_t got = 0;
	int rc;
	switch (info->compression) {
	case BOOT_COMP_GZIP:
		rc = gunzip(in, in_len, buf, size, &got);
		break;
	case BOOT_COMP_XZ:
		rc = unxz(in, in_len - 4, buf, size, &got, false);
		break;
	case BOOT_COMP_LZMA:
		rc = unxz(in, in_len - 4, buf, size, &got, true);
		break;
	case BOOT_COMP_ZSTD:
		rc = unzstd(in, in_len - 4, buf, size, &got);
		break;
	default:
		pr_err("bzImage: %s compression is not supported for host decompression",
		       boot_compression_name(info->compression));
		rc = -ENOTSUP;
		break;
	}
	if (rc == 0 && got != size) {
		pr_err("bzImage: payload decompressed to %zu bytes, its size trailer says %u", got,
		       size);
		rc = -EINVAL;
	}
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = got;
	return 0;
}
