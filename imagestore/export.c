/*
 * export.c -- a stored version -> a .pimg (members copied as stored, then
 * the index tail) or the raw disk (decoded on a pool, written in order).
 *
 *   main: submit chunk ix to workq while fewer than 2T are in flight
 *   -> T workers: read the member from the store, decode, check CRC
 *   -> main: waits for chunk next_out, writes it (holes skipped on files)
 *
 * A file given with -o appears only when complete (temp name + rename).
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "image.h"
#include "perr.h"
#include "queue.h"

struct xjob {
	uint32_t ix;
	int done, rc;
	uint8_t *comp, *raw;
	struct perr e;
};

struct xrun {
	struct store *s;
	const struct pimg_index *ix;
	struct queue workq;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

struct xout {
	int fd, seekable;
	const char *name;
	char tmp[PATH_MAX];
	const char *final;
};

static int
out_open(struct xout *o, const char *path, struct perr *e)
{
	struct stat st;

	o->final = NULL;
	if (path == NULL || strcmp(path, "-") == 0) {
		o->fd = STDOUT_FILENO;
		o->name = "standard output";
	} else {
		o->name = path;
		if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
			o->fd = open(path, O_WRONLY | O_CLOEXEC);
			if (o->fd == -1)
				return perr_errno(e, PE_FAIL, "%s", path);
		} else {
			o->fd = atomic_tmp_open(path, o->tmp, sizeof(o->tmp),
			    e);
			if (o->fd < 0)
				return o->fd;
			o->final = path;
		}
	}
	o->seekable = fstat(o->fd, &st) == 0 && S_ISREG(st.st_mode);
	return 0;
}

static int
out_close(struct xout *o, int rc, struct perr *e)
{
	if (o->final == NULL) {
		if (o->fd != STDOUT_FILENO)
			close(o->fd);
		return rc;
	}
	if (rc == 0)
		return atomic_commit(o->fd, o->tmp, o->final, e);
	close(o->fd);
	unlink(o->tmp);
	return rc;
}

static int
out_write(struct xout *o, const void *buf, size_t len, struct perr *e)
{
	if (write_all(o->fd, buf, len) == -1)
		return perr_errno(e, PE_FAIL, "%s: write", o->name);
	return 0;
}

/* Check a stored member against its index entry before it leaves. */
static int
check_member(struct pimg_coder *c, const struct pimg_entry *w,
    const uint8_t *comp, uint8_t *raw, struct perr *e)
{
	uint8_t h[HASH_BYTES];
	uint32_t crc;
	int rc;

	if ((rc = pimg_chunk_decode(c, comp, w->comp_len, raw, w->raw_len,
	    &crc, e)) < 0)
		return rc;
	if (crc != w->crc32)
		return perr_set(e, PE_DATA, "CRC mismatch");
	hash_buf(raw, w->raw_len, h);
	if (memcmp(h, w->hash, HASH_BYTES) != 0)
		return perr_set(e, PE_DATA, "hash mismatch");
	return 0;
}

/* Members are copied as stored, each checked first: a damaged store
 * never leaks into a .pimg that would fail later, elsewhere. */
static int
export_pimg(struct store *s, const struct pimg_index *ix, struct xout *o,
    struct perr *e)
{
	struct pimg_coder *c = pimg_coder_new((int)ix->codec, 0);
	uint8_t *buf = malloc(ix->chunk_size + ix->chunk_size / 16 + 4096);
	uint8_t *raw = malloc(ix->chunk_size);
	uint64_t total = 0;
	uint32_t i;
	int rc = 0;

	if (c == NULL || buf == NULL || raw == NULL)
		rc = perr_set(e, PE_FAIL, "out of memory");
	for (i = 0; i < ix->nchunks && rc == 0; i++) {
		rc = store_chunk_read(s, (int)ix->codec, ix->e[i].hash, buf,
		    ix->e[i].comp_len, e);
		if (rc == 0)
			rc = check_member(c, &ix->e[i], buf, raw, e);
		if (rc < 0)
			perr_prefix(e, "chunk %u (offset %llu)", i,
			    (unsigned long long)ix->e[i].disk_off);
		else
			rc = out_write(o, buf, ix->e[i].comp_len, e);
		total += ix->e[i].comp_len;
	}
	if (rc == 0 && (rc = pimg_file_write_tail(o->fd, ix, total, e)) < 0)
		perr_prefix(e, "%s", o->name);
	pimg_coder_free(c);
	free(raw);
	free(buf);
	return rc;
}

static void *
xworker(void *arg)
{
	struct xrun *r = arg;
	struct pimg_coder *c = pimg_coder_new((int)r->ix->codec, 0);
	const struct pimg_entry *w;
	struct xjob *j;
	uint32_t crc;
	int rc;

	while ((j = queue_pop(&r->workq)) != NULL) {
		w = &r->ix->e[j->ix];
		rc = c == NULL ? perr_set(&j->e, PE_FAIL, "out of memory") : 0;
		if (rc == 0 && !(w->flags & PIMG_F_ZERO)) {
			rc = store_chunk_read(r->s, (int)r->ix->codec, w->hash,
			    j->comp, w->comp_len, &j->e);
			if (rc == 0)
				rc = pimg_chunk_decode(c, j->comp, w->comp_len,
				    j->raw, w->raw_len, &crc, &j->e);
			if (rc == 0 && crc != w->crc32)
				rc = perr_set(&j->e, PE_DATA, "CRC mismatch");
			if (rc < 0)
				perr_prefix(&j->e, "chunk %u (offset %llu)",
				    j->ix, (unsigned long long)w->disk_off);
		}
		pthread_mutex_lock(&r->mu);
		j->rc = rc;
		j->done = 1;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
	}
	pimg_coder_free(c);
	return NULL;
}

static int
emit_raw(const struct pimg_index *ix, const struct xjob *j, struct xout *o,
    const uint8_t *zeros, struct perr *e)
{
	const struct pimg_entry *w = &ix->e[j->ix];

	if (!(w->flags & PIMG_F_ZERO))
		return out_write(o, j->raw, w->raw_len, e);
	if (!o->seekable)
		return out_write(o, zeros, w->raw_len, e);
	if (lseek(o->fd, w->raw_len, SEEK_CUR) == -1)
		return perr_errno(e, PE_FAIL, "%s: seek", o->name);
	return 0;
}

static int
export_raw_loop(struct xrun *r, struct xjob *jobs, size_t nj,
    struct xout *o, const uint8_t *zeros, struct perr *e)
{
	const struct pimg_index *ix = r->ix;
	uint32_t next_sub = 0, next_out = 0;
	struct xjob *j;
	int rc = 0;

	while (next_out < ix->nchunks && rc == 0) {
		while (next_sub < ix->nchunks && next_sub - next_out < nj) {
			j = &jobs[next_sub % nj];
			j->ix = next_sub++;
			j->done = 0;
			queue_push(&r->workq, j);
		}
		j = &jobs[next_out % nj];
		pthread_mutex_lock(&r->mu);
		while (!j->done)
			pthread_cond_wait(&r->cv, &r->mu);
		pthread_mutex_unlock(&r->mu);
		if (j->rc < 0) {
			*e = j->e;
			rc = j->rc;
		} else {
			rc = emit_raw(ix, j, o, zeros, e);
		}
		next_out++;
	}
	/* let in-flight jobs finish before their buffers go */
	queue_close(&r->workq);
	return rc;
}

static int
export_raw(struct store *s, const struct pimg_index *ix, int threads,
    struct xout *o, struct perr *e)
{
	struct xrun r = { .s = s, .ix = ix, .mu = PTHREAD_MUTEX_INITIALIZER,
	    .cv = PTHREAD_COND_INITIALIZER };
	int nt = image_threads(threads), i, started, rc = 0;
	size_t nj = (size_t)nt * 2, k;
	struct xjob *jobs = calloc(nj, sizeof(*jobs));
	pthread_t *th = calloc((size_t)nt, sizeof(*th));
	uint8_t *zeros = calloc(1, ix->chunk_size);

	if (jobs == NULL || th == NULL || zeros == NULL ||
	    queue_init(&r.workq, nj) < 0) {
		rc = perr_set(e, PE_FAIL, "out of memory");
		goto out;
	}
	for (k = 0; k < nj && rc == 0; k++) {
		jobs[k].raw = malloc(ix->chunk_size);
		jobs[k].comp = malloc(ix->chunk_size + ix->chunk_size / 16 +
		    4096);
		if (jobs[k].raw == NULL || jobs[k].comp == NULL)
			rc = perr_set(e, PE_FAIL, "out of memory");
	}
	for (started = 0; started < nt && rc == 0; started++)
		if (pthread_create(&th[started], NULL, xworker, &r) != 0)
			rc = perr_set(e, PE_FAIL, "cannot start threads");
	if (rc == 0)
		rc = export_raw_loop(&r, jobs, nj, o, zeros, e);
	queue_close(&r.workq);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (rc == 0 && o->seekable && ftruncate(o->fd, (off_t)ix->disk_size))
		rc = perr_errno(e, PE_FAIL, "%s: truncate", o->name);
 out:
	for (k = 0; jobs != NULL && k < nj; k++) {
		free(jobs[k].raw);
		free(jobs[k].comp);
	}
	if (r.workq.items != NULL)
		queue_destroy(&r.workq);
	free(jobs);
	free(th);
	free(zeros);
	return rc;
}

int
image_export(struct store *s, const char *name, unsigned version,
    const char *out, int raw, int threads, struct perr *e)
{
	struct pimg_index *ix;
	struct xout o;
	int rc;

	if ((rc = store_load(s, name, version, &ix, e)) < 0)
		return rc;
	if ((rc = out_open(&o, out, e)) == 0) {
		rc = raw ? export_raw(s, ix, threads, &o, e) :
		    export_pimg(s, ix, &o, e);
		rc = out_close(&o, rc, e);
	}
	pimg_index_free(ix);
	return rc;
}
