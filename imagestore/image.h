/*
 * image.h -- what moves image data in or out of the store: create from a
 * disk or file, import a .pimg or a legacy gzip/zstd dd stream, export,
 * verify. Each runs a bounded pool of threads; libraries never print,
 * except the progress bar, which shows only on a terminal.
 */
#ifndef IMAGE_H
#define IMAGE_H

#include <pthread.h>
#include <stdint.h>

#include "store.h"

struct perr;

struct image_opts {
	int codec;		/* enum pimg_codec */
	int level;		/* 0: the codec's default */
	int threads;		/* 0: one per online core */
	uint32_t chunk_size;	/* 0: PIMG_CHUNK_DEFAULT */
	const char *meta;	/* "key=value\n" lines, or NULL */
	int progress;		/* draw a bar when stderr is a terminal */
};

struct image_stats {
	uint64_t disk_size, chunks, zero_chunks;
	uint64_t new_chunks, new_bytes;	/* stored by this run */
	uint64_t known_chunks;		/* already in the store */
	uint64_t read_bytes;		/* read from the source (holes: 0) */
	int recompressed;		/* 0 for a .pimg taken as is */
};

int image_threads(int asked);

/* source.c: a disk or file read chunk by chunk, by one thread. */
struct image_source {
	const char *path;
	int fd, is_file;
	uint64_t size;		/* bytes, > 0 */
	uint64_t nread;		/* bytes read so far (holes are never read) */
};
int image_source_open(const char *path, struct image_source *src,
    struct perr *e);
/* [off, off+len) into buf, holes as zeros; *hole: the whole range is
 * one (nothing was read). */
int image_source_read(struct image_source *src, uint8_t *buf, uint64_t off,
    uint32_t len, int *hole, struct perr *e);
void image_source_close(struct image_source *src);

/* describe.c: the index entry of one raw chunk. */
#define IMAGE_ZERO_SIZES 2	/* full chunks, and a short last one */
struct image_zero_memo {	/* the all-zero chunk's sums, per length */
	pthread_mutex_t mu;
	struct {
		uint32_t raw_len, crc;
		uint8_t hash[HASH_BYTES];
	} z[IMAGE_ZERO_SIZES];
	size_t n;
};
void image_zero_memo_init(struct image_zero_memo *m);
void image_zero_memo_destroy(struct image_zero_memo *m);
/*
 * Fill disk_off, raw_len, flags, crc32 and hash of ent (comp_len 0). A
 * chunk that is a hole or all zeros gets PIMG_F_ZERO, and its sums come
 * from m after the first of that length: most disks are mostly zeros.
 * Safe from any thread.
 */
void image_chunk_describe(struct image_zero_memo *m, const uint8_t *raw,
    uint32_t raw_len, int hole, uint64_t disk_off, struct pimg_entry *ent);

/* Chunk and compress PATH (file or block device) into a new draft. */
int image_create(struct store *s, const char *name, const char *path,
    const struct image_opts *o, unsigned *version, struct image_stats *st,
    struct perr *e);
/* A .pimg (taken without recompression) or any gzip/zstd stream; "-" is
 * standard input. */
int image_import(struct store *s, const char *name, const char *path,
    const struct image_opts *o, unsigned *version, struct image_stats *st,
    struct perr *e);
/* .pimg, or the raw disk when raw; out NULL or "-" is standard output. */
int image_export(struct store *s, const char *name, unsigned version,
    const char *out, int raw, int threads, struct perr *e);

/* One bad chunk found by image_verify; users is "a:1 b:2". */
typedef void (*image_bad_fn)(const char *hash_hex, const char *problem,
    const char *users, void *arg);
/* Re-read and re-hash the chunks of NAME[:VERSION], or of every version
 * when name is NULL. Returns -PE_DATA when any chunk is bad. With
 * repair, a bad chunk file is moved to STATE/store/quarantine/, so that
 * the next create or import holding those bytes stores a good copy. */
int image_verify(struct store *s, const char *name, unsigned version,
    int threads, int repair, image_bad_fn bad, void *arg,
    uint64_t *checked, struct perr *e);

#endif
