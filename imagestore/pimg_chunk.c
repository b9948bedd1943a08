/*
 * pimg_chunk.c -- one raw chunk <-> one gzip member (libdeflate) or one
 * zstd frame (libzstd). Whole buffers, no streaming: that is what lets
 * libdeflate run 3-5x zlib's speed per core.
 */
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "perr.h"
#include "pimg.h"

struct pimg_coder {
	int codec, level;
	struct libdeflate_compressor *dc;
	struct libdeflate_decompressor *dd;
	ZSTD_CCtx *zc;
	ZSTD_DCtx *zd;
};

#define GZ_TRAILER	8
#define GZ_FTEXT	0x01
#define GZ_FHCRC	0x02
#define GZ_FEXTRA	0x04
#define GZ_FNAME	0x08
#define GZ_FCOMMENT	0x10

struct pimg_coder *
pimg_coder_new(int codec, int level)
{
	struct pimg_coder *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->codec = codec;
	c->level = level > 0 ? level : pimg_level_default(codec);
	if (codec == PIMG_CODEC_GZIP)
		c->dd = libdeflate_alloc_decompressor();
	else
		c->zd = ZSTD_createDCtx();
	if (c->dd == NULL && c->zd == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void
pimg_coder_free(struct pimg_coder *c)
{
	if (c == NULL)
		return;
	if (c->dc)
		libdeflate_free_compressor(c->dc);
	if (c->dd)
		libdeflate_free_decompressor(c->dd);
	ZSTD_freeCCtx(c->zc);
	ZSTD_freeDCtx(c->zd);
	free(c);
}

/* Compressors are big (libdeflate level 12: ~1 MB): make them on demand. */
static int
coder_want_encoder(struct pimg_coder *c)
{
	if (c->codec == PIMG_CODEC_GZIP && c->dc == NULL)
		c->dc = libdeflate_alloc_compressor(c->level);
	if (c->codec == PIMG_CODEC_ZSTD && c->zc == NULL)
		c->zc = ZSTD_createCCtx();
	return c->dc != NULL || c->zc != NULL ? 0 : -1;
}

size_t
pimg_coder_bound(struct pimg_coder *c, size_t raw_len)
{
	if (c->codec == PIMG_CODEC_ZSTD)
		return ZSTD_compressBound(raw_len);
	return libdeflate_gzip_compress_bound(NULL, raw_len);
}

int
pimg_chunk_encode(struct pimg_coder *c, const void *raw, size_t raw_len,
    void *out, size_t out_cap, size_t *out_len, struct perr *e)
{
	size_t n;

	if (coder_want_encoder(c) == -1)
		return perr_set(e, PE_FAIL, "compressor: out of memory");
	if (c->codec == PIMG_CODEC_GZIP) {
		n = libdeflate_gzip_compress(c->dc, raw, raw_len, out,
		    out_cap);
		if (n == 0)
			return perr_set(e, PE_FAIL, "gzip: output too large");
	} else {
		n = ZSTD_compressCCtx(c->zc, out, out_cap, raw, raw_len,
		    c->level);
		if (ZSTD_isError(n))
			return perr_set(e, PE_FAIL, "zstd: %s",
			    ZSTD_getErrorName(n));
	}
	*out_len = n;
	return 0;
}

uint32_t
pimg_crc32(const void *buf, size_t len)
{
	return libdeflate_crc32(0, buf, len);
}

int
pimg_is_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Skip a NUL-terminated header field; 0 or -1 when it runs off the end. */
static int
skip_string(const unsigned char *p, size_t len, size_t *pos)
{
	const unsigned char *z = memchr(p + *pos, 0, len - *pos);

	if (z == NULL)
		return -1;
	*pos = (size_t)(z - p) + 1;
	return 0;
}

/* Length of an RFC 1952 member header, or 0 when it is not one. */
static size_t
gz_header_len(const unsigned char *p, size_t len)
{
	size_t pos = 10;
	int flg;

	if (len < 10 + GZ_TRAILER || p[0] != 0x1f || p[1] != 0x8b ||
	    p[2] != 8 || (p[3] & 0xe0) != 0)
		return 0;
	flg = p[3];
	if (flg & GZ_FEXTRA) {
		if (len < pos + 2)
			return 0;
		pos += 2 + (size_t)(p[pos] | p[pos + 1] << 8);
		if (pos > len)
			return 0;
	}
	if ((flg & GZ_FNAME) && skip_string(p, len, &pos) == -1)
		return 0;
	if ((flg & GZ_FCOMMENT) && skip_string(p, len, &pos) == -1)
		return 0;
	if (flg & GZ_FHCRC)
		pos += 2;
	return pos + GZ_TRAILER <= len ? pos : 0;
}

static int
gz_decode(struct pimg_coder *c, const unsigned char *p, size_t len,
    void *raw, size_t raw_len, uint32_t *crc, struct perr *e)
{
	size_t hl = gz_header_len(p, len), in_used = 0, out_got = 0;
	enum libdeflate_result r;

	if (hl == 0)
		return perr_set(e, PE_DATA, "not a gzip member");
	r = libdeflate_deflate_decompress_ex(c->dd, p + hl,
	    len - hl - GZ_TRAILER, raw, raw_len, &in_used, &out_got);
	if (r == LIBDEFLATE_INSUFFICIENT_SPACE)
		return perr_set(e, PE_DATA, "length mismatch (more than %zu "
		    "bytes)", raw_len);
	if (r != LIBDEFLATE_SUCCESS)
		return perr_set(e, PE_DATA, "corrupt deflate data");
	if (in_used != len - hl - GZ_TRAILER)
		return perr_set(e, PE_DATA, "%zu stray bytes after the "
		    "deflate data", len - hl - GZ_TRAILER - in_used);
	if (out_got != raw_len || le32(p + len - 4) != (uint32_t)raw_len)
		return perr_set(e, PE_DATA, "length mismatch (%zu bytes, "
		    "trailer says %u, expected %zu)", out_got,
		    le32(p + len - 4), raw_len);
	*crc = libdeflate_crc32(0, raw, raw_len);
	if (*crc != le32(p + len - 8))
		return perr_set(e, PE_DATA, "CRC mismatch");
	return 0;
}

static int
zstd_decode(struct pimg_coder *c, const void *comp, size_t len, void *raw,
    size_t raw_len, uint32_t *crc, struct perr *e)
{
	unsigned long long csize = ZSTD_getFrameContentSize(comp, len);
	size_t flen = ZSTD_findFrameCompressedSize(comp, len), n;

	if (csize == ZSTD_CONTENTSIZE_ERROR || ZSTD_isError(flen))
		return perr_set(e, PE_DATA, "not a zstd frame");
	if (flen != len)
		return perr_set(e, PE_DATA, "frame of %zu bytes, expected %zu",
		    flen, len);
	if (csize != ZSTD_CONTENTSIZE_UNKNOWN && csize != raw_len)
		return perr_set(e, PE_DATA, "length mismatch (frame says %llu,"
		    " expected %zu)", csize, raw_len);
	n = ZSTD_decompressDCtx(c->zd, raw, raw_len, comp, len);
	if (ZSTD_isError(n))
		return perr_set(e, PE_DATA, "corrupt zstd frame: %s",
		    ZSTD_getErrorName(n));
	if (n != raw_len)
		return perr_set(e, PE_DATA, "length mismatch (%zu bytes, "
		    "expected %zu)", n, raw_len);
	*crc = libdeflate_crc32(0, raw, raw_len);
	return 0;
}

int
pimg_chunk_raw_len(int codec, const void *comp, size_t comp_len,
    uint64_t *raw_len, struct perr *e)
{
	const unsigned char *p = comp;
	unsigned long long csize;

	if (codec == PIMG_CODEC_GZIP) {
		if (gz_header_len(p, comp_len) == 0)
			return perr_set(e, PE_DATA, "not a gzip member");
		*raw_len = le32(p + comp_len - 4);
		return 0;
	}
	csize = ZSTD_getFrameContentSize(comp, comp_len);
	if (csize == ZSTD_CONTENTSIZE_ERROR)
		return perr_set(e, PE_DATA, "not a zstd frame");
	if (csize == ZSTD_CONTENTSIZE_UNKNOWN)
		return perr_set(e, PE_DATA, "zstd frame without its content "
		    "size");
	*raw_len = csize;
	return 0;
}

int
pimg_chunk_decode(struct pimg_coder *c, const void *comp, size_t comp_len,
    void *raw, size_t raw_len, uint32_t *crc, struct perr *e)
{
	if (c->codec == PIMG_CODEC_GZIP)
		return gz_decode(c, comp, comp_len, raw, raw_len, crc, e);
	return zstd_decode(c, comp, comp_len, raw, raw_len, crc, e);
}
