/*
 * pimg_file.c -- the single-file .pimg: chunk members in disk order, then
 * the index riding in carriers that every decoder reads as empty data,
 * then a fixed-size locator at the very end.
 *
 *   gzip: carriers and locator are gzip members with an empty deflate
 *         body whose FEXTRA field holds the bytes (subfields 'P','X' and
 *         'P','L'); gzip -dc, zcat and pigz -dc print nothing for them.
 *   zstd: carriers and locator are skippable frames (magic 0x184D2A5A,
 *         0x184D2A5B), which zstd -dc skips.
 *
 * The layout of each is in docs/formats.md.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "perr.h"
#include "pimg.h"

#define GZ_CARRIER_HEAD	16	/* 10 header + XLEN + SI1 SI2 LEN */
#define GZ_CARRIER_TAIL	10	/* empty fixed block 03 00, CRC, ISIZE */
#define GZ_CARRIER_DATA	65024	/* <= 65535 - 4, a round number */
#define GZ_LOC_BYTES	(GZ_CARRIER_HEAD + PIMG_LOC_PAYLOAD + GZ_CARRIER_TAIL)
#define ZS_HEAD		8
#define ZS_MAGIC_INDEX	0x184D2A5Au
#define ZS_MAGIC_LOC	0x184D2A5Bu
#define ZS_LOC_BYTES	(ZS_HEAD + PIMG_LOC_PAYLOAD)

static const char loc_magic[8] = { 'P', 'I', 'M', 'G', 'L', 'O', 'C', '1' };

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* One gzip carrier member around len (<= GZ_CARRIER_DATA) bytes. */
static size_t
gz_carrier(uint8_t *out, char si2, const uint8_t *data, size_t len)
{
	static const uint8_t head[10] = { 0x1f, 0x8b, 8, 0x04, 0, 0, 0, 0,
	    0, 0xff };

	memcpy(out, head, 10);
	out[10] = (uint8_t)((len + 4) & 0xff);
	out[11] = (uint8_t)((len + 4) >> 8);
	out[12] = 'P';
	out[13] = (uint8_t)si2;
	out[14] = (uint8_t)(len & 0xff);
	out[15] = (uint8_t)(len >> 8);
	memcpy(out + GZ_CARRIER_HEAD, data, len);
	memset(out + GZ_CARRIER_HEAD + len, 0, GZ_CARRIER_TAIL);
	out[GZ_CARRIER_HEAD + len] = 0x03;	/* final, fixed, end of block */
	return GZ_CARRIER_HEAD + len + GZ_CARRIER_TAIL;
}

/* Checks a gzip carrier at p; returns its data length or -1. */
static long
gz_carrier_parse(const uint8_t *p, size_t avail, char si2)
{
	static const uint8_t tail[GZ_CARRIER_TAIL] = { 0x03 };
	size_t len;

	if (avail < GZ_CARRIER_HEAD + GZ_CARRIER_TAIL || p[0] != 0x1f ||
	    p[1] != 0x8b || p[2] != 8 || p[3] != 0x04 || p[12] != 'P' ||
	    p[13] != (uint8_t)si2)
		return -1;
	len = (size_t)(p[14] | p[15] << 8);
	if ((size_t)(p[10] | p[11] << 8) != len + 4 ||
	    avail < GZ_CARRIER_HEAD + len + GZ_CARRIER_TAIL ||
	    memcmp(p + GZ_CARRIER_HEAD + len, tail, GZ_CARRIER_TAIL) != 0)
		return -1;
	return (long)len;
}

static void
locator_payload(uint8_t *p, uint64_t carrier_off, uint64_t carrier_len,
    uint64_t index_len, uint32_t codec)
{
	memcpy(p, loc_magic, 8);
	put32(p + 8, (uint32_t)carrier_off);
	put32(p + 12, (uint32_t)(carrier_off >> 32));
	put32(p + 16, (uint32_t)carrier_len);
	put32(p + 20, (uint32_t)(carrier_len >> 32));
	put32(p + 24, (uint32_t)index_len);
	put32(p + 28, (uint32_t)(index_len >> 32));
	put32(p + 32, codec);
	put32(p + 36, pimg_crc32(p, 36));
}

static int
write_gz_tail(int fd, const uint8_t *idx, size_t len, uint64_t members_len,
    struct perr *e)
{
	uint8_t *buf, pay[PIMG_LOC_PAYLOAD];
	size_t n = 0, off, nc = (len + GZ_CARRIER_DATA - 1) / GZ_CARRIER_DATA;
	size_t piece;
	int rc = 0;

	buf = malloc(nc * (GZ_CARRIER_HEAD + GZ_CARRIER_TAIL) + len +
	    GZ_LOC_BYTES);
	if (buf == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	for (off = 0; off < len; off += piece) {
		piece = len - off < GZ_CARRIER_DATA ? len - off :
		    GZ_CARRIER_DATA;
		n += gz_carrier(buf + n, 'X', idx + off, piece);
	}
	locator_payload(pay, members_len, n, len, PIMG_CODEC_GZIP);
	n += gz_carrier(buf + n, 'L', pay, sizeof(pay));
	if (write_all(fd, buf, n) == -1)
		rc = perr_errno(e, PE_FAIL, "write");
	free(buf);
	return rc;
}

static int
write_zstd_tail(int fd, const uint8_t *idx, size_t len, uint64_t members_len,
    struct perr *e)
{
	uint8_t head[ZS_HEAD], loc[ZS_LOC_BYTES];

	if (len > 0xffffffffu)
		return perr_set(e, PE_FAIL, "index too large for zstd");
	put32(head, ZS_MAGIC_INDEX);
	put32(head + 4, (uint32_t)len);
	put32(loc, ZS_MAGIC_LOC);
	put32(loc + 4, PIMG_LOC_PAYLOAD);
	locator_payload(loc + ZS_HEAD, members_len, ZS_HEAD + len, len,
	    PIMG_CODEC_ZSTD);
	if (write_all(fd, head, sizeof(head)) == -1 ||
	    write_all(fd, idx, len) == -1 ||
	    write_all(fd, loc, sizeof(loc)) == -1)
		return perr_errno(e, PE_FAIL, "write");
	return 0;
}

int
pimg_file_write_tail(int fd, const struct pimg_index *ix,
    uint64_t members_len, struct perr *e)
{
	uint8_t *idx;
	size_t len;
	int rc;

	if ((rc = pimg_index_encode(ix, &idx, &len, e)) < 0)
		return rc;
	if (ix->codec == PIMG_CODEC_GZIP)
		rc = write_gz_tail(fd, idx, len, members_len, e);
	else
		rc = write_zstd_tail(fd, idx, len, members_len, e);
	free(idx);
	return rc;
}

struct locator {
	uint64_t carrier_off, carrier_len, index_len;
	uint32_t codec;
	size_t bytes;		/* of the locator itself */
};

/* 0 when a locator ends the file, -PE_NOTFOUND when none does. */
static int
read_locator(int fd, uint64_t size, const char *src, struct locator *l,
    struct perr *e)
{
	uint8_t t[GZ_LOC_BYTES];
	const uint8_t *pay = NULL;

	if (size >= GZ_LOC_BYTES) {
		if (pread_all(fd, t, GZ_LOC_BYTES, (long long)(size -
		    GZ_LOC_BYTES)) != GZ_LOC_BYTES)
			return perr_errno(e, PE_FAIL, "%s: read", src);
		if (gz_carrier_parse(t, GZ_LOC_BYTES, 'L') ==
		    PIMG_LOC_PAYLOAD) {
			pay = t + GZ_CARRIER_HEAD;
			l->bytes = GZ_LOC_BYTES;
		} else if (get32(t + GZ_LOC_BYTES - ZS_LOC_BYTES) ==
		    ZS_MAGIC_LOC && get32(t + GZ_LOC_BYTES - ZS_LOC_BYTES +
		    4) == PIMG_LOC_PAYLOAD) {
			pay = t + GZ_LOC_BYTES - PIMG_LOC_PAYLOAD;
			l->bytes = ZS_LOC_BYTES;
		}
	}
	if (pay == NULL || memcmp(pay, loc_magic, 8) != 0)
		return perr_set(e, PE_NOTFOUND, "%s: no pipol index at the "
		    "end", src);
	if (get32(pay + 36) != pimg_crc32(pay, 36))
		return perr_set(e, PE_DATA, "%s: index locator: CRC mismatch",
		    src);
	l->carrier_off = get64(pay + 8);
	l->carrier_len = get64(pay + 16);
	l->index_len = get64(pay + 24);
	l->codec = get32(pay + 32);
	if (l->carrier_off > size || l->carrier_len > size ||
	    l->carrier_off + l->carrier_len + l->bytes != size ||
	    l->index_len > l->carrier_len || l->index_len > PIMG_INDEX_MAX)
		return perr_set(e, PE_DATA, "%s: index locator points outside "
		    "the file (offset %llu, %llu bytes, file %llu bytes)",
		    src, (unsigned long long)l->carrier_off,
		    (unsigned long long)l->carrier_len,
		    (unsigned long long)size);
	return 0;
}

/* Concatenate the carriers' data into idx (index_len bytes). */
static int
unwrap_carriers(const struct locator *l, const uint8_t *c, uint8_t *idx,
    const char *src, struct perr *e)
{
	size_t pos = 0, got = 0;
	long n;

	if (l->codec == PIMG_CODEC_ZSTD) {
		if (l->carrier_len != ZS_HEAD + l->index_len ||
		    get32(c) != ZS_MAGIC_INDEX || get32(c + 4) != l->index_len)
			return perr_set(e, PE_DATA, "%s: index frame at byte "
			    "%llu: malformed", src,
			    (unsigned long long)l->carrier_off);
		memcpy(idx, c + ZS_HEAD, l->index_len);
		return 0;
	}
	while (pos < l->carrier_len) {
		n = gz_carrier_parse(c + pos, l->carrier_len - pos, 'X');
		if (n < 0 || got + (size_t)n > l->index_len)
			return perr_set(e, PE_DATA, "%s: index member at byte "
			    "%llu: malformed", src, (unsigned long long)
			    (l->carrier_off + pos));
		memcpy(idx + got, c + pos + GZ_CARRIER_HEAD, (size_t)n);
		got += (size_t)n;
		pos += GZ_CARRIER_HEAD + (size_t)n + GZ_CARRIER_TAIL;
	}
	if (got != l->index_len)
		return perr_set(e, PE_DATA, "%s: index: %zu of %llu bytes",
		    src, got, (unsigned long long)l->index_len);
	return 0;
}

static int
check_members(const struct pimg_index *ix, const struct locator *l,
    const char *src, struct perr *e)
{
	uint64_t sum = 0;
	uint32_t i;

	if (ix->codec != l->codec)
		return perr_set(e, PE_DATA, "%s: index says %s, locator says "
		    "%s", src, pimg_codec_name((int)ix->codec),
		    pimg_codec_name((int)l->codec));
	for (i = 0; i < ix->nchunks; i++) {
		sum += ix->e[i].comp_len;
		if (sum > l->carrier_off)
			return perr_set(e, PE_DATA, "%s: index: chunk %u "
			    "(offset %llu) points outside the file", src, i,
			    (unsigned long long)ix->e[i].disk_off);
	}
	if (sum != l->carrier_off)
		return perr_set(e, PE_DATA, "%s: index: members take %llu "
		    "bytes, file has %llu", src, (unsigned long long)sum,
		    (unsigned long long)l->carrier_off);
	return 0;
}

int
pimg_file_read_index(int fd, uint64_t size, const char *src,
    struct pimg_index **out, struct perr *e)
{
	struct pimg_index *ix = NULL;
	struct locator l = { 0 };
	uint8_t *c = NULL, *idx = NULL;
	int rc;

	if ((rc = read_locator(fd, size, src, &l, e)) < 0)
		return rc;
	c = malloc(l.carrier_len + 1);
	idx = malloc(l.index_len + 1);
	if (c == NULL || idx == NULL) {
		rc = perr_set(e, PE_FAIL, "%s: index: out of memory", src);
		goto out;
	}
	if (pread_all(fd, c, l.carrier_len, (long long)l.carrier_off) !=
	    (long long)l.carrier_len) {
		rc = perr_errno(e, PE_FAIL, "%s: read", src);
		goto out;
	}
	if ((rc = unwrap_carriers(&l, c, idx, src, e)) < 0 ||
	    (rc = pimg_index_decode(idx, l.index_len, src, &ix, e)) < 0)
		goto out;
	if ((rc = check_members(ix, &l, src, e)) < 0) {
		pimg_index_free(ix);
		goto out;
	}
	*out = ix;
 out:
	free(c);
	free(idx);
	return rc;
}
