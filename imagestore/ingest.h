/*
 * ingest.h -- internal to imagestore: the pool that turns raw chunks,
 * handed over in disk order, into stored chunks and a committed index.
 * Readers: create.c (disks, files) and gzimport.c (streams, .pimg).
 */
#ifndef INGEST_H
#define INGEST_H

#include <pthread.h>

#include "image.h"
#include "perr.h"
#include "progress.h"
#include "queue.h"

struct ingest_job {
	uint32_t ix, raw_len;
	uint8_t *raw;		/* chunk_size bytes */
	uint8_t *comp;		/* comp_cap bytes */
	size_t comp_cap, comp_len;	/* comp_len > 0: member given as is */
	int hole;		/* raw is zeros the reader never read */
	int expect;		/* want holds the index's claims (.pimg) */
	struct pimg_entry want;
};

struct ingest_zero {		/* the all-zero chunk, stored once */
	uint32_t raw_len, comp_len;
	int ready;
};

struct ingest {
	struct store *s;
	const char *src;
	int codec, level, nthreads, started, joined;
	uint32_t chunk_size;
	struct ingest_job *jobs;
	size_t njobs;
	pthread_t *th;
	struct queue freeq, workq;
	pthread_mutex_t mu, zmu;
	int failed;
	struct perr err;
	struct pimg_entry *ent;
	size_t nent, capent;
	uint64_t disk_size;
	struct ingest_zero zero[2];	/* [1]: full chunks, [0]: the last */
	struct image_zero_memo zmemo;
	struct image_stats st;
	struct progress prog;
};

int ingest_begin(struct store *s, const struct image_opts *o,
    const char *src, struct ingest **out, struct perr *e);
/* A free job to fill, or NULL once the run has failed. */
struct ingest_job *ingest_next(struct ingest *in);
/* Takes j and hands it to a worker. */
int ingest_submit(struct ingest *in, struct ingest_job *j, uint32_t raw_len,
    struct perr *e);
/* Joins; on success commits a draft of name and fills *version. */
int ingest_finish(struct ingest *in, const char *name, const char *meta,
    const uint8_t *want_disk_hash, unsigned *version,
    struct image_stats *st, struct perr *e);
void ingest_abort(struct ingest *in);

#endif
