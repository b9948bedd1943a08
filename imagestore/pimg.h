/*
 * pimg.h -- the pipol image format: the index, the chunk codec and the
 * single-file .pimg form. Used by pipol, pipold and pipol-agent alike.
 * Knows nothing of the store's folders or of HTTP. docs/formats.md is the
 * byte-level description; pimg_index.c is the sole owner of the layout.
 */
#ifndef PIMG_H
#define PIMG_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"

struct perr;

#define PIMG_FORMAT_VERSION	1
#define PIMG_CHUNK_MIN		(1u << 20)	/* 1 MiB */
#define PIMG_CHUNK_MAX		(64u << 20)	/* 64 MiB */
#define PIMG_CHUNK_DEFAULT	(4u << 20)	/* measured sweet spot */
#define PIMG_META_MAX		65536		/* key=value text */
#define PIMG_HEADER_BYTES	72
#define PIMG_ENTRY_BYTES	56
#define PIMG_INDEX_MAX		(1u << 30)	/* sanity bound when parsing */
/* The largest member a chunk of raw bytes may honestly take (an index
 * entry over it is refused): deflate and zstd expand random data by far
 * less than 1/16, plus headers. */
#define PIMG_COMP_MAX(raw)	((uint64_t)(raw) + (uint64_t)(raw) / 16 + 4096)

enum pimg_codec {
	PIMG_CODEC_GZIP = 1,	/* one RFC 1952 member per chunk */
	PIMG_CODEC_ZSTD = 2,	/* one zstd frame per chunk */
};

#define PIMG_F_ZERO	0x1u	/* every raw byte of the chunk is zero */
#define PIMG_F_KNOWN	PIMG_F_ZERO

struct pimg_entry {
	uint64_t disk_off;	/* = ix * chunk_size */
	uint64_t file_off;	/* member offset in the .pimg (computed) */
	uint32_t raw_len;	/* chunk_size, the last one may be short */
	uint32_t comp_len;	/* bytes of the member / frame */
	uint32_t crc32;		/* of the raw bytes */
	uint32_t flags;		/* PIMG_F_* */
	uint8_t hash[HASH_BYTES];	/* SHA-256 of the raw bytes: the name */
};

struct pimg_index {
	uint32_t version;	/* PIMG_FORMAT_VERSION */
	uint32_t codec;		/* enum pimg_codec */
	uint32_t chunk_size;	/* power of two in [MIN, MAX] */
	uint32_t nchunks;
	uint64_t disk_size;	/* raw bytes */
	uint8_t disk_hash[HASH_BYTES];	/* pimg_disk_hash(): names the disk */
	char *meta;		/* "key=value\n" lines, NUL-terminated */
	struct pimg_entry *e;	/* nchunks entries, disk order */
};

/* codec names and per-codec facts */
const char *pimg_codec_name(int codec);		/* "gzip" / "zstd" */
const char *pimg_codec_ext(int codec);		/* "gz" / "zst" */
int pimg_codec_parse(const char *s, int *codec, struct perr *e);
int pimg_level_default(int codec);
int pimg_level_check(int codec, long long level, struct perr *e);
int pimg_chunk_size_check(uint64_t size, const char *text, struct perr *e);

/* index: pimg_index.c. new/decode allocate; pimg_index_free(NULL) is ok. */
int pimg_index_new(int codec, uint32_t chunk_size, uint64_t disk_size,
    struct pimg_index **out, struct perr *e);
void pimg_index_free(struct pimg_index *ix);
int pimg_index_set_meta(struct pimg_index *ix, const char *meta,
    struct perr *e);
/* Fills file_off from comp_len; returns the total bytes of members. */
uint64_t pimg_index_layout(struct pimg_index *ix);
/* Serialise: *buf is malloc'd, caller frees. */
int pimg_index_encode(const struct pimg_index *ix, uint8_t **buf,
    size_t *len, struct perr *e);
/* Parse and check every field; src names the input in errors. */
int pimg_index_decode(const uint8_t *buf, size_t len, const char *src,
    struct pimg_index **out, struct perr *e);
uint64_t pimg_index_zero_chunks(const struct pimg_index *ix);
/*
 * The hash of the whole raw disk: SHA-256 over "pipol-disk-v1", the disk
 * size (le64), the chunk size (le32) and every chunk's SHA-256 in disk
 * order. It binds every byte of the disk as a flat SHA-256 would, but
 * costs no second pass over the data and can be computed on all cores:
 * creating, capturing or checking a disk hashes each chunk once anyway.
 */
void pimg_disk_hash(const struct pimg_index *ix, uint8_t out[HASH_BYTES]);

/* chunk codec: pimg_chunk.c. A coder belongs to one thread at a time. */
struct pimg_coder;
struct pimg_coder *pimg_coder_new(int codec, int level);
void pimg_coder_free(struct pimg_coder *c);
size_t pimg_coder_bound(struct pimg_coder *c, size_t raw_len);
/* raw -> one member/frame in out; 0 or -code. */
int pimg_chunk_encode(struct pimg_coder *c, const void *raw, size_t raw_len,
    void *out, size_t out_cap, size_t *out_len, struct perr *e);
/*
 * One member/frame of exactly comp_len bytes -> exactly raw_len bytes.
 * Checks the framing, the sizes and (gzip) the member's own CRC; sets
 * *crc to the CRC32 of the output. The message in e has no prefix.
 */
int pimg_chunk_decode(struct pimg_coder *c, const void *comp,
    size_t comp_len, void *raw, size_t raw_len, uint32_t *crc,
    struct perr *e);
/*
 * The raw length one member/frame claims (gzip: ISIZE; zstd: the content
 * size in its header, which must be there), before decoding it. Checks
 * only the header; the message in e has no prefix.
 */
int pimg_chunk_raw_len(int codec, const void *comp, size_t comp_len,
    uint64_t *raw_len, struct perr *e);
uint32_t pimg_crc32(const void *buf, size_t len);
int pimg_is_zero(const void *buf, size_t len);

/* .pimg single file: pimg_file.c */
#define PIMG_LOC_PAYLOAD	40
/* Append the index carriers and the locator at fd's position. */
int pimg_file_write_tail(int fd, const struct pimg_index *ix,
    uint64_t members_len, struct perr *e);
/*
 * Read the index of a .pimg from its tail. -PE_NOTFOUND when the file
 * has no locator (not a .pimg: maybe a plain gzip/zstd stream).
 */
int pimg_file_read_index(int fd, uint64_t file_size, const char *src,
    struct pimg_index **out, struct perr *e);

#endif
