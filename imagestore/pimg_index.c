/*
 * pimg_index.c -- the index of an image, struct <-> bytes. The sole owner
 * of the layout described in docs/formats.md. Little-endian throughout.
 */
#include <stdlib.h>
#include <string.h>

#include "perr.h"
#include "pimg.h"

static const char idx_magic[8] = { 'P', 'I', 'P', 'O', 'L', 'I', 'D', 'X' };

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
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

const char *
pimg_codec_name(int codec)
{
	return codec == PIMG_CODEC_ZSTD ? "zstd" :
	    codec == PIMG_CODEC_GZIP ? "gzip" : "unknown";
}

const char *
pimg_codec_ext(int codec)
{
	return codec == PIMG_CODEC_ZSTD ? "zst" : "gz";
}

int
pimg_codec_parse(const char *s, int *codec, struct perr *e)
{
	if (strcmp(s, "gzip") == 0)
		*codec = PIMG_CODEC_GZIP;
	else if (strcmp(s, "zstd") == 0)
		*codec = PIMG_CODEC_ZSTD;
	else
		return perr_set(e, PE_USAGE,
		    "--codec %s: not one of gzip, zstd", s);
	return 0;
}

int
pimg_level_default(int codec)
{
	return codec == PIMG_CODEC_ZSTD ? 3 : 6;
}

int
pimg_level_check(int codec, long long level, struct perr *e)
{
	long long max = codec == PIMG_CODEC_ZSTD ? 19 : 12;

	if (level < 1 || level > max)
		return perr_set(e, PE_USAGE, "--level %lld: not in 1..%lld "
		    "for %s", level, max, pimg_codec_name(codec));
	return 0;
}

int
pimg_chunk_size_check(uint64_t size, const char *text, struct perr *e)
{
	if (size < PIMG_CHUNK_MIN || size > PIMG_CHUNK_MAX ||
	    (size & (size - 1)) != 0)
		return perr_set(e, PE_USAGE,
		    "--chunk-size %s: not a power of two in 1M..64M", text);
	return 0;
}

static uint64_t
nchunks_for(uint64_t disk_size, uint32_t chunk_size)
{
	return disk_size / chunk_size + (disk_size % chunk_size != 0);
}

int
pimg_index_new(int codec, uint32_t chunk_size, uint64_t disk_size,
    struct pimg_index **out, struct perr *e)
{
	struct pimg_index *ix;
	uint64_t n = nchunks_for(disk_size, chunk_size), i;

	if (disk_size == 0)
		return perr_set(e, PE_DATA, "empty disk");
	if (n > (PIMG_INDEX_MAX / PIMG_ENTRY_BYTES))
		return perr_set(e, PE_USAGE, "disk of %llu bytes: too many "
		    "chunks of %u bytes", (unsigned long long)disk_size,
		    chunk_size);
	if ((ix = calloc(1, sizeof(*ix))) == NULL ||
	    (ix->e = calloc(n, sizeof(*ix->e))) == NULL ||
	    (ix->meta = strdup("")) == NULL) {
		pimg_index_free(ix);
		return perr_set(e, PE_FAIL, "out of memory");
	}
	ix->version = PIMG_FORMAT_VERSION;
	ix->codec = (uint32_t)codec;
	ix->chunk_size = chunk_size;
	ix->disk_size = disk_size;
	ix->nchunks = (uint32_t)n;
	for (i = 0; i < n; i++) {
		ix->e[i].disk_off = i * chunk_size;
		ix->e[i].raw_len = (uint32_t)(disk_size - i * chunk_size <
		    chunk_size ? disk_size - i * chunk_size : chunk_size);
	}
	*out = ix;
	return 0;
}

void
pimg_index_free(struct pimg_index *ix)
{
	if (ix == NULL)
		return;
	free(ix->e);
	free(ix->meta);
	free(ix);
}

int
pimg_index_set_meta(struct pimg_index *ix, const char *meta, struct perr *e)
{
	char *m;

	if (strlen(meta) >= PIMG_META_MAX)
		return perr_set(e, PE_USAGE, "image metadata: too long");
	if ((m = strdup(meta)) == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	free(ix->meta);
	ix->meta = m;
	return 0;
}

uint64_t
pimg_index_layout(struct pimg_index *ix)
{
	uint64_t off = 0;
	uint32_t i;

	for (i = 0; i < ix->nchunks; i++) {
		ix->e[i].file_off = off;
		off += ix->e[i].comp_len;
	}
	return off;
}

uint64_t
pimg_index_zero_chunks(const struct pimg_index *ix)
{
	uint64_t n = 0;
	uint32_t i;

	for (i = 0; i < ix->nchunks; i++)
		n += (ix->e[i].flags & PIMG_F_ZERO) != 0;
	return n;
}

void
pimg_disk_hash(const struct pimg_index *ix, uint8_t out[HASH_BYTES])
{
	static const char tag[14] = "pipol-disk-v1";	/* with its NUL */
	struct hash_ctx *c = hash_new();
	uint8_t geo[12];
	uint32_t i;

	if (c == NULL) {	/* out of memory: a hash nothing matches */
		memset(out, 0, HASH_BYTES);
		return;
	}
	put64(geo, ix->disk_size);
	put32(geo + 8, ix->chunk_size);
	hash_update(c, tag, sizeof(tag));
	hash_update(c, geo, sizeof(geo));
	for (i = 0; i < ix->nchunks; i++)
		hash_update(c, ix->e[i].hash, HASH_BYTES);
	hash_final(c, out);
	hash_free(c);
}

int
pimg_index_encode(const struct pimg_index *ix, uint8_t **bufp, size_t *lenp,
    struct perr *e)
{
	size_t meta_len = strlen(ix->meta), len;
	uint8_t *buf, *p;
	uint32_t i;

	len = PIMG_HEADER_BYTES + meta_len +
	    (size_t)ix->nchunks * PIMG_ENTRY_BYTES + HASH_BYTES;
	if ((buf = calloc(1, len)) == NULL)
		return perr_set(e, PE_FAIL, "index: out of memory");
	memcpy(buf, idx_magic, 8);
	put32(buf + 8, ix->version);
	put32(buf + 12, ix->codec);
	put32(buf + 16, ix->chunk_size);
	put32(buf + 20, ix->nchunks);
	put64(buf + 24, ix->disk_size);
	memcpy(buf + 32, ix->disk_hash, HASH_BYTES);
	put32(buf + 64, (uint32_t)meta_len);
	memcpy(buf + PIMG_HEADER_BYTES, ix->meta, meta_len);
	p = buf + PIMG_HEADER_BYTES + meta_len;
	for (i = 0; i < ix->nchunks; i++, p += PIMG_ENTRY_BYTES) {
		put64(p, ix->e[i].disk_off);
		put32(p + 8, ix->e[i].raw_len);
		put32(p + 12, ix->e[i].comp_len);
		put32(p + 16, ix->e[i].crc32);
		put32(p + 20, ix->e[i].flags);
		memcpy(p + 24, ix->e[i].hash, HASH_BYTES);
	}
	hash_buf(buf, len - HASH_BYTES, p);
	*bufp = buf;
	*lenp = len;
	return 0;
}

static int
decode_entry(struct pimg_index *ix, uint32_t i, const uint8_t *p,
    const char *src, struct perr *e)
{
	struct pimg_entry *c = &ix->e[i];
	uint64_t want_off = (uint64_t)i * ix->chunk_size;

	c->disk_off = get64(p);
	c->raw_len = get32(p + 8);
	c->comp_len = get32(p + 12);
	c->crc32 = get32(p + 16);
	c->flags = get32(p + 20);
	memcpy(c->hash, p + 24, HASH_BYTES);
	if (c->disk_off != want_off)
		return perr_set(e, PE_DATA, "%s: index: chunk %u: disk offset "
		    "%llu, expected %llu", src, i,
		    (unsigned long long)c->disk_off,
		    (unsigned long long)want_off);
	if (c->raw_len != (ix->disk_size - want_off < ix->chunk_size ?
	    ix->disk_size - want_off : ix->chunk_size))
		return perr_set(e, PE_DATA, "%s: index: chunk %u (offset "
		    "%llu): bad raw length %u", src, i,
		    (unsigned long long)want_off, c->raw_len);
	if (c->comp_len < 9 || c->comp_len > PIMG_COMP_MAX(c->raw_len))
		return perr_set(e, PE_DATA, "%s: index: chunk %u (offset "
		    "%llu): bad compressed length %u", src, i,
		    (unsigned long long)want_off, c->comp_len);
	if (c->flags & ~PIMG_F_KNOWN)
		return perr_set(e, PE_DATA, "%s: index: chunk %u: unknown "
		    "flags 0x%x", src, i, c->flags);
	return 0;
}

static int
decode_header(struct pimg_index *ix, const uint8_t *buf, size_t len,
    const char *src, uint32_t *meta_len, struct perr *e)
{
	uint8_t sum[HASH_BYTES];
	uint64_t want;

	if (len < PIMG_HEADER_BYTES + HASH_BYTES ||
	    memcmp(buf, idx_magic, 8) != 0)
		return perr_set(e, PE_DATA, "%s: not a pipol index", src);
	/* length first: a cut file says so rather than "checksum" */
	want = (uint64_t)PIMG_HEADER_BYTES + get32(buf + 64) +
	    (uint64_t)get32(buf + 20) * PIMG_ENTRY_BYTES + HASH_BYTES;
	if (want != len)
		return perr_set(e, PE_DATA, "%s: index: length %zu does not "
		    "match its header (%llu bytes)", src, len,
		    (unsigned long long)want);
	hash_buf(buf, len - HASH_BYTES, sum);
	if (memcmp(sum, buf + len - HASH_BYTES, HASH_BYTES) != 0)
		return perr_set(e, PE_DATA, "%s: index: checksum mismatch",
		    src);
	ix->version = get32(buf + 8);
	ix->codec = get32(buf + 12);
	ix->chunk_size = get32(buf + 16);
	ix->nchunks = get32(buf + 20);
	ix->disk_size = get64(buf + 24);
	memcpy(ix->disk_hash, buf + 32, HASH_BYTES);
	*meta_len = get32(buf + 64);
	if (ix->version != PIMG_FORMAT_VERSION)
		return perr_set(e, PE_DATA, "%s: index: format version %u "
		    "not supported", src, ix->version);
	if (ix->codec != PIMG_CODEC_GZIP && ix->codec != PIMG_CODEC_ZSTD)
		return perr_set(e, PE_DATA, "%s: index: unknown codec %u",
		    src, ix->codec);
	if (ix->chunk_size < PIMG_CHUNK_MIN || ix->chunk_size >
	    PIMG_CHUNK_MAX || (ix->chunk_size & (ix->chunk_size - 1)))
		return perr_set(e, PE_DATA, "%s: index: bad chunk size %u",
		    src, ix->chunk_size);
	if (ix->disk_size == 0 ||
	    nchunks_for(ix->disk_size, ix->chunk_size) != ix->nchunks)
		return perr_set(e, PE_DATA, "%s: index: %u chunks do not "
		    "cover %llu bytes", src, ix->nchunks,
		    (unsigned long long)ix->disk_size);
	if (*meta_len >= PIMG_META_MAX || get32(buf + 68) != 0 ||
	    (uint64_t)PIMG_HEADER_BYTES + *meta_len +
	    (uint64_t)ix->nchunks * PIMG_ENTRY_BYTES + HASH_BYTES != len)
		return perr_set(e, PE_DATA, "%s: index: length %zu does not "
		    "match its header", src, len);
	return 0;
}

int
pimg_index_decode(const uint8_t *buf, size_t len, const char *src,
    struct pimg_index **out, struct perr *e)
{
	struct pimg_index *ix;
	uint8_t sum[HASH_BYTES];
	uint32_t meta_len = 0, i;
	const uint8_t *p;
	int rc;

	if ((ix = calloc(1, sizeof(*ix))) == NULL)
		return perr_set(e, PE_FAIL, "%s: out of memory", src);
	if ((rc = decode_header(ix, buf, len, src, &meta_len, e)) < 0)
		goto err;
	if (memchr(buf + PIMG_HEADER_BYTES, 0, meta_len) != NULL) {
		rc = perr_set(e, PE_DATA, "%s: index: NUL in metadata", src);
		goto err;
	}
	ix->meta = malloc(meta_len + 1);
	ix->e = calloc(ix->nchunks, sizeof(*ix->e));
	if (ix->meta == NULL || ix->e == NULL) {
		rc = perr_set(e, PE_FAIL, "%s: out of memory", src);
		goto err;
	}
	memcpy(ix->meta, buf + PIMG_HEADER_BYTES, meta_len);
	ix->meta[meta_len] = '\0';
	p = buf + PIMG_HEADER_BYTES + meta_len;
	for (i = 0; i < ix->nchunks; i++, p += PIMG_ENTRY_BYTES)
		if ((rc = decode_entry(ix, i, p, src, e)) < 0)
			goto err;
	pimg_disk_hash(ix, sum);
	if (memcmp(sum, ix->disk_hash, HASH_BYTES) != 0) {
		rc = perr_set(e, PE_DATA, "%s: index: disk hash does not match "
		    "its chunks", src);
		goto err;
	}
	pimg_index_layout(ix);
	*out = ix;
	return 0;
 err:
	pimg_index_free(ix);
	return rc;
}
