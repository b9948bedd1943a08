/*
 * ingest.c -- raw chunks in disk order -> the store, on a bounded pool.
 *
 *   reader (create.c / gzimport.c, one thread): fills a free job with the
 *     next chunk's raw bytes, submits it
 *   -> workq [2T+2 jobs] -> T workers: zero test, SHA-256, CRC32
 *     (describe.c), store lookup (a stored chunk counts only when it
 *     decodes to its hash), compress only what the store lacks or has
 *     damaged, durable put, entry
 *   -> freeq: the job goes back to the reader
 *
 * Memory: (2T+2) x (chunk + its compress bound), whatever the disk size.
 * The first error wins; the others drain; ingest_finish() joins every
 * thread and commits the index only when nothing failed.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest.h"
#include "perr.h"

static void
ingest_fail(struct ingest *in, const struct perr *e)
{
	pthread_mutex_lock(&in->mu);
	if (!in->failed) {
		in->failed = 1;
		in->err = *e;
	}
	pthread_mutex_unlock(&in->mu);
}

/* The all-zero chunk of this length: stored once, its length noted. */
static int
zero_entry(struct ingest *in, struct pimg_coder *c, struct ingest_job *j,
    struct pimg_entry *ent, struct perr *e)
{
	struct ingest_zero *z = &in->zero[j->raw_len == in->chunk_size];
	uint64_t have;
	int rc = 0, added;

	pthread_mutex_lock(&in->zmu);
	if (!z->ready || z->raw_len != j->raw_len) {
		z->raw_len = j->raw_len;
		if (store_chunk_size(in->s, in->codec, ent->hash, &have) == 0 &&
		    store_chunk_good(in->s, in->codec, ent->hash)) {
			z->comp_len = (uint32_t)have;
		} else if ((rc = pimg_chunk_encode(c, j->raw, j->raw_len,
		    j->comp, j->comp_cap, &j->comp_len, e)) == 0 &&
		    (rc = store_chunk_put(in->s, in->codec, ent->hash, j->comp,
		    j->comp_len, &added, e)) == 0) {
			z->comp_len = (uint32_t)j->comp_len;
			__atomic_add_fetch(&in->st.new_chunks, 1,
			    __ATOMIC_RELAXED);
			__atomic_add_fetch(&in->st.new_bytes, j->comp_len,
			    __ATOMIC_RELAXED);
		}
		z->ready = rc == 0;
	}
	ent->comp_len = z->comp_len;
	pthread_mutex_unlock(&in->zmu);
	return rc;
}

static int
check_expected(struct ingest *in, const struct ingest_job *j,
    const struct pimg_entry *got, struct perr *e)
{
	const char *what = NULL;

	if (got->crc32 != j->want.crc32)
		what = "CRC mismatch";
	else if (memcmp(got->hash, j->want.hash, HASH_BYTES) != 0)
		what = "hash mismatch";
	else if ((got->flags ^ j->want.flags) & PIMG_F_ZERO)
		what = "all-zero flag is wrong";
	if (what == NULL)
		return 0;
	return perr_set(e, PE_DATA, "%s: chunk %u (offset %llu): %s", in->src,
	    j->ix, (unsigned long long)j->ix * in->chunk_size, what);
}

static int
work_one(struct ingest *in, struct pimg_coder *c, struct ingest_job *j,
    struct pimg_entry *ent, struct perr *e)
{
	uint64_t have;
	int rc, added;

	image_chunk_describe(&in->zmemo, j->raw, j->raw_len, j->hole,
	    (uint64_t)j->ix * in->chunk_size, ent);
	if ((ent->flags & PIMG_F_ZERO) && !j->expect)
		return zero_entry(in, c, j, ent, e);
	if (j->expect && (rc = check_expected(in, j, ent, e)) < 0)
		return rc;
	/* A chunk already stored is reused only when its bytes hash to its
	 * name: a damaged one is encoded again, and store_chunk_put puts
	 * the bad copy in quarantine and the good one in its place. */
	if (store_chunk_size(in->s, in->codec, ent->hash, &have) == 0 &&
	    store_chunk_good(in->s, in->codec, ent->hash)) {
		ent->comp_len = (uint32_t)have;
		__atomic_add_fetch(&in->st.known_chunks, 1, __ATOMIC_RELAXED);
		return 0;
	}
	if (!j->expect && (rc = pimg_chunk_encode(c, j->raw, j->raw_len,
	    j->comp, j->comp_cap, &j->comp_len, e)) < 0)
		return rc;
	if ((rc = store_chunk_put(in->s, in->codec, ent->hash, j->comp,
	    j->comp_len, &added, e)) < 0)
		return rc;
	ent->comp_len = (uint32_t)j->comp_len;
	if (added) {
		__atomic_add_fetch(&in->st.new_chunks, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&in->st.new_bytes, j->comp_len,
		    __ATOMIC_RELAXED);
	}
	return 0;
}

static void *
ingest_worker(void *arg)
{
	struct ingest *in = arg;
	struct pimg_coder *c = pimg_coder_new(in->codec, in->level);
	struct ingest_job *j;
	struct pimg_entry ent;
	struct perr e;

	if (c == NULL) {
		perr_set(&e, PE_FAIL, "coder: out of memory");
		ingest_fail(in, &e);
	}
	while ((j = queue_pop(&in->workq)) != NULL) {
		if (c != NULL && !in->failed) {
			if (work_one(in, c, j, &ent, &e) < 0)
				ingest_fail(in, &e);
			pthread_mutex_lock(&in->mu);
			in->ent[j->ix] = ent;
			pthread_mutex_unlock(&in->mu);
		}
		queue_push(&in->freeq, j);
	}
	pimg_coder_free(c);
	return NULL;
}

int
ingest_begin(struct store *s, const struct image_opts *o, const char *src,
    struct ingest **out, struct perr *e)
{
	struct ingest *in;
	struct pimg_coder *c;
	int i;

	if ((in = calloc(1, sizeof(*in))) == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	in->s = s;
	in->src = src;
	in->codec = o->codec ? o->codec : PIMG_CODEC_GZIP;
	in->level = o->level ? o->level : pimg_level_default(in->codec);
	in->chunk_size = o->chunk_size ? o->chunk_size : PIMG_CHUNK_DEFAULT;
	in->nthreads = image_threads(o->threads);
	in->njobs = (size_t)in->nthreads * 2 + 2;
	pthread_mutex_init(&in->mu, NULL);
	pthread_mutex_init(&in->zmu, NULL);
	image_zero_memo_init(&in->zmemo);
	in->jobs = calloc(in->njobs, sizeof(*in->jobs));
	in->th = calloc((size_t)in->nthreads, sizeof(*in->th));
	c = pimg_coder_new(in->codec, in->level);
	if (in->jobs == NULL || in->th == NULL ||
	    c == NULL || queue_init(&in->freeq, in->njobs) ||
	    queue_init(&in->workq, in->njobs))
		goto nomem;
	for (i = 0; i < (int)in->njobs; i++) {
		struct ingest_job *j = &in->jobs[i];

		j->comp_cap = pimg_coder_bound(c, in->chunk_size);
		j->raw = malloc(in->chunk_size);
		j->comp = malloc(j->comp_cap);
		if (j->raw == NULL || j->comp == NULL)
			goto nomem;
		queue_push(&in->freeq, j);
	}
	pimg_coder_free(c);
	for (i = 0; i < in->nthreads; i++)
		if (pthread_create(&in->th[i], NULL, ingest_worker, in) != 0)
			break;
	in->started = i;
	if (i < in->nthreads) {
		ingest_abort(in);
		return perr_set(e, PE_FAIL, "cannot start threads");
	}
	progress_start(&in->prog, "storing", 0);
	in->prog.on &= o->progress;
	*out = in;
	return 0;
 nomem:
	pimg_coder_free(c);
	ingest_abort(in);
	return perr_set(e, PE_FAIL, "out of memory");
}

struct ingest_job *
ingest_next(struct ingest *in)
{
	struct ingest_job *j;

	if (in->failed)
		return NULL;
	if ((j = queue_pop(&in->freeq)) == NULL)
		return NULL;
	j->hole = j->expect = 0;
	j->comp_len = 0;
	return j;
}

int
ingest_submit(struct ingest *in, struct ingest_job *j, uint32_t raw_len,
    struct perr *e)
{
	struct pimg_entry *n;
	size_t cap;

	j->raw_len = raw_len;
	j->ix = in->nent;
	pthread_mutex_lock(&in->mu);
	if (in->nent == in->capent) {
		cap = in->capent ? in->capent * 2 : 1024;
		if ((n = realloc(in->ent, cap * sizeof(*n))) != NULL) {
			in->ent = n;
			in->capent = cap;
		}
	}
	pthread_mutex_unlock(&in->mu);
	if (in->nent == in->capent) {
		queue_push(&in->freeq, j);
		return perr_set(e, PE_FAIL, "out of memory");
	}
	in->nent++;
	in->disk_size += raw_len;
	progress_tick(&in->prog, in->disk_size);
	if (queue_push(&in->workq, j) < 0)
		return perr_set(e, PE_FAIL, "internal: queue closed");
	return in->failed ? -PE_FAIL : 0;
}

static void
ingest_join(struct ingest *in)
{
	int i;

	if (in->joined)
		return;
	in->joined = 1;
	queue_close(&in->workq);
	for (i = 0; i < in->started; i++)
		pthread_join(in->th[i], NULL);
}

void
ingest_abort(struct ingest *in)
{
	size_t i;

	if (in == NULL)
		return;
	if (in->workq.items != NULL)
		ingest_join(in);
	for (i = 0; in->jobs != NULL && i < in->njobs; i++) {
		free(in->jobs[i].raw);
		free(in->jobs[i].comp);
	}
	if (in->freeq.items != NULL)
		queue_destroy(&in->freeq);
	if (in->workq.items != NULL)
		queue_destroy(&in->workq);
	pthread_mutex_destroy(&in->mu);
	pthread_mutex_destroy(&in->zmu);
	image_zero_memo_destroy(&in->zmemo);
	free(in->jobs);
	free(in->th);
	free(in->ent);
	free(in);
}

int
ingest_finish(struct ingest *in, const char *name, const char *meta,
    const uint8_t *want_disk_hash, unsigned *version,
    struct image_stats *st, struct perr *e)
{
	struct pimg_index *ix = NULL;
	int rc;

	ingest_join(in);
	if (in->failed) {
		*e = in->err;
		return -in->err.code;
	}
	progress_end(&in->prog);
	if ((rc = pimg_index_new(in->codec, in->chunk_size, in->disk_size,
	    &ix, e)) < 0) {
		perr_prefix(e, "%s", in->src);
		return rc;
	}
	memcpy(ix->e, in->ent, in->nent * sizeof(*ix->e));
	pimg_disk_hash(ix, ix->disk_hash);
	if (want_disk_hash != NULL &&
	    memcmp(want_disk_hash, ix->disk_hash, HASH_BYTES) != 0) {
		rc = perr_set(e, PE_DATA, "%s: whole-disk hash mismatch",
		    in->src);
		goto out;
	}
	pimg_index_layout(ix);
	if (meta != NULL && (rc = pimg_index_set_meta(ix, meta, e)) < 0)
		goto out;
	if ((rc = store_commit(in->s, name, ix, version, e)) < 0)
		goto out;
	in->st.disk_size = ix->disk_size;
	in->st.chunks = ix->nchunks;
	in->st.zero_chunks = pimg_index_zero_chunks(ix);
	if (st != NULL)
		*st = in->st;
 out:
	pimg_index_free(ix);
	return rc;
}

int
image_threads(int asked)
{
	cpu_set_t set;
	long n;

	if (asked > 0)
		return asked;
	/* the cores this process may run on (taskset, a cgroup's cpuset),
	 * not every core online: a worker more than cores only waits */
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	else
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)(n > 64 ? 64 : n) : 1;
}
