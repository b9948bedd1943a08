/*
 * pipeline.c -- the workers, and the run that allocates, plans
 * (plan.c), starts and joins every thread (see deploy.h for the
 * picture).
 *
 * A worker takes fetched members first (they hold pool buffers that the
 * fetcher waits for): decode, CRC32 and SHA-256 against the index, then
 * pwrite; a member that does not check out goes to refetch.c. Then
 * tasks: zero a chunk's range, or a reuse check (reuse.c). The
 * decisions -- what a chunk needs, when to reuse, when to refetch --
 * are not here.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deploy.h"
#include "log.h"
#include "progress.h"

static void
give_back(struct deploy *d, struct cbuf *b)
{
	pthread_mutex_lock(&d->mu);
	b->next = d->freebufs;
	d->freebufs = b;
	pthread_mutex_unlock(&d->mu);
	run_wake_fetcher(d);
}

static void
do_decode(struct deploy *d, struct pimg_coder *coder, struct cbuf *b,
    uint8_t *raw)
{
	const struct pimg_entry *c = &d->ix->e[b->ix];
	uint8_t h[HASH_BYTES];
	uint32_t crc, ix = b->ix;
	struct perr e;
	int rc;

	double t0 = now_sec(), t1, t2, t3;

	rc = pimg_chunk_decode(coder, b->data, b->len, raw, c->raw_len, &crc,
	    &e);
	give_back(d, b);
	if (rc < 0)
		return refetch_chunk(d, ix, e.msg);
	if (crc != c->crc32)
		return refetch_chunk(d, ix, "CRC mismatch");
	t1 = now_sec();
	hash_buf(raw, c->raw_len, h);
	if (memcmp(h, c->hash, HASH_BYTES) != 0)
		return refetch_chunk(d, ix, "hash mismatch");
	t2 = now_sec();
	if (disk_write(d, ix, raw, &e) < 0)
		return run_fail(d, &e);
	t3 = now_sec();
	pthread_mutex_lock(&d->mu);
	d->c.busy_decode += t1 - t0;
	d->c.busy_hash += t2 - t1;
	d->c.busy_write += t3 - t2;
	plan_mark_done(d, ix, &d->c.written);
	pthread_mutex_unlock(&d->mu);
}

static void
do_task(struct deploy *d, uint32_t ix, uint8_t *raw)
{
	struct perr e;
	int rc;

	if (d->task[ix] != TASK_ZERO)
		return reuse_check(d, ix, raw);
	if ((rc = disk_zero(d, ix, raw, &e)) < 0)
		return run_fail(d, &e);
	pthread_mutex_lock(&d->mu);
	plan_mark_done(d, ix, rc == 1 ? &d->c.reused : &d->c.zero);
	pthread_mutex_unlock(&d->mu);
}

static void *
worker_main(void *arg)
{
	struct deploy *d = arg;
	struct pimg_coder *coder = pimg_coder_new((int)d->ix->codec, 0);
	uint8_t *raw = disk_buf_alloc(d->ix->chunk_size);
	struct cbuf *b;
	struct perr e;
	uint32_t ix;

	if (coder == NULL || raw == NULL)
		run_fail(d, (perr_set(&e, PE_FAIL, "out of memory"), &e));
	pthread_mutex_lock(&d->mu);
	while (!d->failed && d->left > 0) {
		if ((b = d->decodeq) != NULL) {
			if ((d->decodeq = b->next) == NULL)
				d->decodeq_tail = NULL;
			pthread_mutex_unlock(&d->mu);
			do_decode(d, coder, b, raw);
		} else if (ixq_pop(&d->taskq, &ix) == 0) {
			pthread_mutex_unlock(&d->mu);
			do_task(d, ix, raw);
		} else {
			pthread_cond_wait(&d->cv, &d->mu);
			continue;
		}
		pthread_mutex_lock(&d->mu);
	}
	pthread_mutex_unlock(&d->mu);
	pimg_coder_free(coder);
	free(raw);
	return NULL;
}

static int
alloc_run(struct deploy *d, struct perr *e)
{
	uint32_t n = d->ix->nchunks;
	size_t cap = d->ix->chunk_size + d->ix->chunk_size / 16 + 4096;
	int i, nbuf = d->connections + d->threads + AGENT_EXTRA_BUFS;

	d->state = calloc(n, 1);
	d->tries = calloc(n, 1);
	d->http_tries = calloc(n, 1);
	d->src_of = calloc(n, 1);
	d->task = calloc(n, 1);
	d->taskq.v = calloc(n, sizeof(uint32_t));
	d->fetchq.v = calloc(n, sizeof(uint32_t));
	d->done_log = calloc(n, sizeof(uint32_t));
	if (!d->state || !d->tries || !d->http_tries || !d->src_of || !d->task ||
	    !d->taskq.v || !d->fetchq.v || !d->done_log)
		return perr_set(e, PE_FAIL, "out of memory");
	d->taskq.cap = d->fetchq.cap = n;
	/* the caches share the chunks out; the store is the last resort */
	for (i = 0; d->nsrc > 1 && (uint32_t)i < n; i++)
		d->src_of[i] = (uint8_t)((uint32_t)i % (uint32_t)(d->nsrc - 1));
	for (i = 0; i < nbuf; i++) {
		struct cbuf *b = calloc(1, sizeof(*b));

		if (b == NULL || (b->data = malloc(cap)) == NULL) {
			free(b);
			return perr_set(e, PE_FAIL, "out of memory");
		}
		b->cap = cap;
		b->next = d->freebufs;
		d->freebufs = b;
	}
	return 0;
}

static void
free_run(struct deploy *d)
{
	struct cbuf *b;

	while ((b = d->freebufs) != NULL || (b = d->decodeq) != NULL) {
		if (b == d->freebufs)
			d->freebufs = b->next;
		else
			d->decodeq = b->next;
		free(b->data);
		free(b);
	}
	free(d->state);
	free(d->tries);
	free(d->http_tries);
	free(d->src_of);
	free(d->task);
	free(d->taskq.v);
	free(d->fetchq.v);
	free(d->done_log);
}

int
pipeline_run(struct deploy *d, struct perr *e)
{
	pthread_t fetch_th, report_th, *work_th;
	int i, started = 0, have_fetch, rc;
	struct perr err;

	if ((rc = alloc_run(d, e)) < 0 || (rc = resume_open(d, e)) < 0)
		goto out;
	plan_chunks(d);
	if ((work_th = calloc((size_t)d->threads, sizeof(*work_th))) == NULL) {
		rc = perr_set(e, PE_FAIL, "out of memory");
		goto out;
	}
	if (pthread_create(&report_th, NULL, report_main, d) != 0) {
		free(work_th);
		rc = perr_set(e, PE_FAIL, "cannot start threads");
		goto out;
	}
	have_fetch = pthread_create(&fetch_th, NULL, fetch_main, d) == 0;
	for (i = 0; have_fetch && i < d->threads; i++)
		started += pthread_create(&work_th[i], NULL, worker_main, d)
		    == 0;
	if (started == 0)	/* nobody would ever finish the chunks */
		run_fail(d, (perr_set(&err, PE_FAIL, "cannot start "
		    "threads"), &err));
	for (i = 0; i < started; i++)
		pthread_join(work_th[i], NULL);
	run_wake_fetcher(d);
	if (have_fetch)
		pthread_join(fetch_th, NULL);
	pthread_mutex_lock(&d->mu);
	d->report_stop = 1;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(report_th, NULL);
	free(work_th);
	if (d->failed) {
		*e = d->err;
		rc = -d->err.code;
	} else {
		rc = resume_sync(d, 1, e);	/* durable before success */
	}
 out:
	free_run(d);
	return rc;
}

