/*
 * capture.c -- a disk or file -> a new draft in pipold's store, sending
 * only the chunks the store lacks (docs/protocol.md, Capture).
 *
 *   reader (the caller's thread): source.c reads chunk i (holes are never
 *     read) into a free job
 *   -> workq -> T workers: describe.c (zero test, SHA-256, CRC32); a hash
 *     this run met before is done (zero chunks, copies); a new one:
 *   -> askq -> 1 asker: every hash waiting, in one POST .../missing
 *     (batches form while a request is out); a chunk the store has is
 *     done, with the stored length; one it lacks:
 *   -> workq -> a worker compresses it (pimg_chunk_encode)
 *   -> sendq -> N senders, one keep-alive connection each: PUT; the
 *     answer gives the stored length
 *   -> freeq: every job ends there, whatever happened
 *   then the index (each entry's comp_len: its hash's stored length) in
 *   one POST .../index; pipold answers the new draft's number.
 *
 * Memory: 2T + N + 2 jobs of one chunk and its compress bound each,
 * whatever the disk size, plus under 100 bytes per chunk (its entry,
 * 2 to 4 hash table slots). Every queue can hold every job, so no push blocks. The first
 * error wins, the others drain; the reader waits until every job is
 * back in freeq, then the queues close and every thread is joined.
 */
#include <sys/resource.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture.h"
#include "limits.h"
#include "capture_http.h"
#include "http.h"
#include "image.h"
#include "log.h"
#include "progress.h"
#include "queue.h"

enum { CJ_DESCRIBE, CJ_COMPRESS };

struct cjob {
	uint32_t ix, raw_len;
	int stage, hole;
	uint8_t *raw, *comp;
	size_t comp_cap, comp_len;
};

struct seen {			/* one distinct chunk of this run */
	uint32_t first;		/* 1 + the first chunk with its hash; 0: free */
	uint32_t comp_len;	/* of the stored member; 0 until known */
};

struct cap_counters {
	uint64_t chunks_read, read_bytes, zero_chunks, repeated_chunks;
	uint64_t known_chunks, uploaded_chunks, uploaded_bytes;
};

struct capture {
	const struct capture_opts *o;
	struct image_source src;
	int codec, threads, connections;
	uint32_t chunk_size, nchunks;
	struct pimg_entry *ent;		/* nchunks, disk order */
	struct seen *seen;		/* open addressing, by ent[].hash */
	size_t seen_mask;		/* slots - 1, slots > 2 x nchunks */
	struct cjob *jobs;
	size_t njobs;
	struct queue freeq, workq, askq, sendq;
	struct image_zero_memo zmemo;
	struct cap_link link;
	pthread_mutex_t mu;	/* seen, c, failed, err, report_stop */
	pthread_cond_t cv;	/* wakes the reporter */
	struct cap_counters c;
	int failed, report_stop;
	struct perr err;
	pthread_t th[AGENT_THREADS_MAX + AGENT_CONNECTIONS_MAX + 1], rep_th;
	int nth, have_rep;
	double t0;
};

static void
capture_fail(struct capture *cp, const struct perr *e)
{
	pthread_mutex_lock(&cp->mu);
	if (!cp->failed) {
		cp->err = *e;
		__atomic_store_n(&cp->failed, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&cp->mu);
	__atomic_store_n(&cp->link.stop, 1, __ATOMIC_RELAXED);
}

static int
capture_failed(struct capture *cp)
{
	return __atomic_load_n(&cp->failed, __ATOMIC_RELAXED);
}

/* Under cp->mu: the slot of chunk ix's hash (described already), added
 * when new (*fresh). Slots name a chunk instead of copying its hash:
 * 8 bytes each instead of 40. */
static struct seen *
seen_slot(struct capture *cp, uint32_t ix, int *fresh)
{
	const uint8_t *h = cp->ent[ix].hash;
	uint64_t key;
	size_t i;

	memcpy(&key, h, sizeof(key));	/* SHA-256 bits are uniform */
	for (i = key & cp->seen_mask; cp->seen[i].first != 0;
	    i = (i + 1) & cp->seen_mask)
		if (memcmp(cp->ent[cp->seen[i].first - 1].hash, h,
		    HASH_BYTES) == 0) {
			*fresh = 0;
			return &cp->seen[i];
		}
	cp->seen[i].first = ix + 1;
	*fresh = 1;
	return &cp->seen[i];
}

static void
set_stored_len(struct capture *cp, uint32_t ix, uint32_t len,
    uint64_t *counter, uint64_t *bytes)
{
	int fresh;

	pthread_mutex_lock(&cp->mu);
	seen_slot(cp, ix, &fresh)->comp_len = len;
	(*counter)++;
	if (bytes != NULL)
		*bytes += len;
	pthread_mutex_unlock(&cp->mu);
}

/* ---- workers: describe, or compress ---- */

static void
do_describe(struct capture *cp, struct cjob *j)
{
	struct pimg_entry *ent = &cp->ent[j->ix];
	int fresh;

	image_chunk_describe(&cp->zmemo, j->raw, j->raw_len, j->hole,
	    (uint64_t)j->ix * cp->chunk_size, ent);
	pthread_mutex_lock(&cp->mu);
	seen_slot(cp, j->ix, &fresh);
	cp->c.chunks_read++;
	cp->c.zero_chunks += (ent->flags & PIMG_F_ZERO) != 0;
	cp->c.repeated_chunks += !fresh;
	pthread_mutex_unlock(&cp->mu);
	queue_push(fresh ? &cp->askq : &cp->freeq, j);
}

static void
do_compress(struct capture *cp, struct pimg_coder *coder, struct cjob *j)
{
	struct perr e;

	if (pimg_chunk_encode(coder, j->raw, j->raw_len, j->comp, j->comp_cap,
	    &j->comp_len, &e) < 0) {
		perr_prefix(&e, "chunk %u", j->ix);
		capture_fail(cp, &e);
		queue_push(&cp->freeq, j);
		return;
	}
	queue_push(&cp->sendq, j);
}

static void *
worker_main(void *arg)
{
	struct capture *cp = arg;
	struct pimg_coder *coder = pimg_coder_new(cp->codec, 0);
	struct cjob *j;
	struct perr e;

	if (coder == NULL)
		capture_fail(cp, (perr_set(&e, PE_FAIL, "out of memory"), &e));
	while ((j = queue_pop(&cp->workq)) != NULL) {
		if (coder == NULL || capture_failed(cp))
			queue_push(&cp->freeq, j);
		else if (j->stage == CJ_DESCRIBE)
			do_describe(cp, j);
		else
			do_compress(cp, coder, j);
	}
	pimg_coder_free(coder);
	return NULL;
}

/* ---- the asker: which of these does the store lack? ---- */

/* A stored length pipold gave for chunk ix: 0, or -PE_DATA. */
static int
length_check(struct capture *cp, uint32_t ix, json_t *v, uint32_t *len,
    struct perr *e)
{
	json_int_t n = json_integer_value(v);

	if (!json_is_integer(v) || n < 9 ||
	    (uint64_t)n > PIMG_COMP_MAX(cp->ent[ix].raw_len))
		return perr_set(e, PE_DATA, "%s: chunk %u: pipold gave no "
		    "plausible stored length", cp->link.server, ix);
	*len = (uint32_t)n;
	return 0;
}

/* One POST .../missing for n jobs; 0 once each went on its way. */
static int
ask_batch(struct capture *cp, struct cap_conn *k, struct cjob **batch,
    size_t n, struct perr *e)
{
	json_t *req, *hashes, *ans = NULL, *present;
	char path[STORE_NAME_MAX + 32], hex[HASH_HEX], *body;
	uint32_t lens[AGENT_ASK_BATCH];
	size_t i;
	int rc;

	req = json_pack("{s:s, s:[]}", "codec", pimg_codec_name(cp->codec),
	    "hashes");
	hashes = json_object_get(req, "hashes");
	for (i = 0; i < n; i++) {
		hash_hex(cp->ent[batch[i]->ix].hash, hex);
		json_array_append_new(hashes, json_string(hex));
	}
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (body == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	snprintf(path, sizeof(path), "/api/capture/%s/missing", cp->o->name);
	rc = cap_request(k, "POST", path, body, strlen(body), CAP_JSON, NULL,
	    0, &ans, e);
	free(body);
	present = json_object_get(ans, "present");
	if (rc == 0 && (!json_is_object(present) ||
	    !json_is_array(json_object_get(ans, "missing"))))
		rc = perr_set(e, PE_DATA, "%s%s: the answer lacks \"missing\" "
		    "or \"present\"", cp->link.server, path);
	for (i = 0; rc == 0 && i < n; i++) {	/* all checked, then acted on */
		hash_hex(cp->ent[batch[i]->ix].hash, hex);
		lens[i] = 0;
		if (json_object_get(present, hex) != NULL)
			rc = length_check(cp, batch[i]->ix,
			    json_object_get(present, hex), &lens[i], e);
	}
	for (i = 0; rc == 0 && i < n; i++) {
		if (lens[i] != 0) {	/* the store has it */
			set_stored_len(cp, batch[i]->ix, lens[i],
			    &cp->c.known_chunks, NULL);
			queue_push(&cp->freeq, batch[i]);
		} else {		/* missing: compress, then send */
			batch[i]->stage = CJ_COMPRESS;
			queue_push(&cp->workq, batch[i]);
		}
	}
	json_decref(ans);
	return rc;
}

static void *
asker_main(void *arg)
{
	struct capture *cp = arg;
	struct cjob *batch[AGENT_ASK_BATCH];
	struct cap_conn k;
	struct perr e;
	size_t n, i;
	int ok;

	if (!(ok = cap_conn_open(&k, &cp->link, &e) == 0))
		capture_fail(cp, &e);
	while ((n = queue_pop_upto(&cp->askq, (void **)batch,
	    AGENT_ASK_BATCH)) > 0) {
		if (ok && !capture_failed(cp) &&
		    ask_batch(cp, &k, batch, n, &e) == 0)
			continue;
		if (ok && !capture_failed(cp))
			capture_fail(cp, &e);
		for (i = 0; i < n; i++)
			queue_push(&cp->freeq, batch[i]);
	}
	cap_conn_close(&k);
	return NULL;
}

/* ---- the senders: one member each time, on a kept-alive connection */

static int
send_one(struct capture *cp, struct cap_conn *k, struct cjob *j,
    struct perr *e)
{
	const struct pimg_entry *ent = &cp->ent[j->ix];
	char path[128], hex[HASH_HEX], what[64];
	json_t *ans;
	uint32_t len;
	int rc;

	hash_hex(ent->hash, hex);
	snprintf(path, sizeof(path), "/api/capture/chunks/%s.%s", hex,
	    pimg_codec_ext(cp->codec));
	snprintf(what, sizeof(what), "chunk %u (offset %llu)", j->ix,
	    (unsigned long long)ent->disk_off);
	if ((rc = cap_request(k, "PUT", path, j->comp, j->comp_len,
	    CAP_BINARY, what, AGENT_REFETCH_MAX, &ans, e)) < 0)
		return rc;
	if ((rc = length_check(cp, j->ix, json_object_get(ans, "size"), &len,
	    e)) == 0)
		set_stored_len(cp, j->ix, len, &cp->c.uploaded_chunks,
		    &cp->c.uploaded_bytes);
	json_decref(ans);
	return rc;
}

static void *
sender_main(void *arg)
{
	struct capture *cp = arg;
	struct cap_conn k;
	struct cjob *j;
	struct perr e;
	int ok;

	if (!(ok = cap_conn_open(&k, &cp->link, &e) == 0))
		capture_fail(cp, &e);
	while ((j = queue_pop(&cp->sendq)) != NULL) {
		if (ok && !capture_failed(cp) && send_one(cp, &k, j, &e) < 0 &&
		    !capture_failed(cp))
			capture_fail(cp, &e);
		queue_push(&cp->freeq, j);
	}
	cap_conn_close(&k);
	return NULL;
}

/* ---- progress: --progress-json, once a second and at the end ---- */

static json_t *
progress_object(struct capture *cp, const char *state)
{
	struct cap_counters c;
	struct rusage ru;

	pthread_mutex_lock(&cp->mu);
	c = cp->c;
	pthread_mutex_unlock(&cp->mu);
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		ru.ru_maxrss = 0;
	return json_pack("{s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
	    " s:I, s:I, s:I}", "state", state, "elapsed", now_sec() - cp->t0,
	    "disk_bytes", (json_int_t)cp->src.size,
	    "chunks", (json_int_t)cp->nchunks,
	    "chunks_read", (json_int_t)c.chunks_read,
	    "read", (json_int_t)c.read_bytes,
	    "zero_chunks", (json_int_t)c.zero_chunks,
	    "repeated_chunks", (json_int_t)c.repeated_chunks,
	    "known_chunks", (json_int_t)c.known_chunks,
	    "uploaded_chunks", (json_int_t)c.uploaded_chunks,
	    "uploaded", (json_int_t)c.uploaded_bytes,
	    "retries", (json_int_t)__atomic_load_n(&cp->link.retries,
	    __ATOMIC_RELAXED),
	    "peak_rss_kib", (json_int_t)ru.ru_maxrss);
}

static void
emit(json_t *o)
{
	if (o == NULL)
		return;
	json_dumpf(o, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(o);
}

static void *
reporter_main(void *arg)
{
	struct capture *cp = arg;
	struct timespec ts;
	int stop = 0;

	while (!stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += AGENT_REPORT_MS / 1000;
		pthread_mutex_lock(&cp->mu);
		while (!cp->report_stop && pthread_cond_timedwait(&cp->cv,
		    &cp->mu, &ts) != ETIMEDOUT)
			;
		stop = cp->report_stop;
		pthread_mutex_unlock(&cp->mu);
		if (!stop)
			emit(progress_object(cp, "capturing"));
	}
	return NULL;
}

static void
report_end(struct capture *cp, int rc, unsigned version,
    const struct perr *e)
{
	struct cap_counters *c = &cp->c;
	json_t *o;

	if (cp->o->progress_json && (o = progress_object(cp, rc < 0 ?
	    "failed" : "done")) != NULL) {
		if (rc < 0)
			json_object_set_new(o, "error", json_string(e->msg));
		else
			json_object_update_new(o, json_pack("{s:s, s:i}",
			    "image", cp->o->name, "version", (int)version));
		emit(o);
	}
	if (rc == 0)
		log_debug("%s:%u from %s: %llu bytes in %.2f s, %llu read: "
		    "%llu chunks, %llu zero, %llu repeated, %llu already "
		    "stored, %llu uploaded (%llu bytes), %llu retries",
		    cp->o->name, version, cp->o->source,
		    (unsigned long long)cp->src.size, now_sec() - cp->t0,
		    (unsigned long long)c->read_bytes,
		    (unsigned long long)cp->nchunks,
		    (unsigned long long)c->zero_chunks,
		    (unsigned long long)c->repeated_chunks,
		    (unsigned long long)c->known_chunks,
		    (unsigned long long)c->uploaded_chunks,
		    (unsigned long long)c->uploaded_bytes,
		    (unsigned long long)cp->link.retries);
}

/* ---- the run ---- */

static int
alloc_jobs(struct capture *cp, struct perr *e)
{
	struct pimg_coder *c = pimg_coder_new(cp->codec, 0);
	size_t i, bound;

	cp->njobs = (size_t)(2 * cp->threads + cp->connections + 2);
	cp->jobs = calloc(cp->njobs, sizeof(*cp->jobs));
	if (c == NULL || cp->jobs == NULL || queue_init(&cp->freeq, cp->njobs)
	    || queue_init(&cp->workq, cp->njobs) ||
	    queue_init(&cp->askq, cp->njobs) ||
	    queue_init(&cp->sendq, cp->njobs)) {
		pimg_coder_free(c);
		return perr_set(e, PE_FAIL, "out of memory");
	}
	bound = pimg_coder_bound(c, cp->chunk_size);
	pimg_coder_free(c);
	for (i = 0; i < cp->njobs; i++) {
		cp->jobs[i].raw = malloc(cp->chunk_size);
		cp->jobs[i].comp = malloc(bound);
		cp->jobs[i].comp_cap = bound;
		if (cp->jobs[i].raw == NULL || cp->jobs[i].comp == NULL)
			return perr_set(e, PE_FAIL, "out of memory");
		queue_push(&cp->freeq, &cp->jobs[i]);
	}
	return 0;
}

static int
link_setup(struct cap_link *l, const struct capture_opts *o,
    struct perr *e)
{
	size_t n = strlen(o->server);

	while (n > 0 && o->server[n - 1] == '/')
		n--;
	if (n >= sizeof(l->server))
		return perr_set(e, PE_USAGE, "--server: too long");
	memcpy(l->server, o->server, n);
	l->server[n] = '\0';
	l->token = o->token;
	http_away_init(&l->away, o->timeout_sec ? o->timeout_sec :
	    AGENT_UNREACHABLE_SEC);
	return 0;
}

static int
capture_setup(struct capture *cp, const struct capture_opts *o,
    struct perr *e)
{
	uint64_t n, slots = 16;
	int rc;

	memset(cp, 0, sizeof(*cp));
	cp->o = o;
	cp->src.fd = -1;
	cp->t0 = now_sec();
	pthread_mutex_init(&cp->mu, NULL);
	pthread_cond_init(&cp->cv, NULL);
	image_zero_memo_init(&cp->zmemo);
	cp->codec = o->codec ? o->codec : PIMG_CODEC_GZIP;
	cp->chunk_size = o->chunk_size ? o->chunk_size : PIMG_CHUNK_DEFAULT;
	cp->threads = image_threads(o->threads);
	cp->connections = o->connections ? o->connections :
	    AGENT_CONNECTIONS_DEFAULT;
	if ((rc = store_name_check(o->name, e)) < 0 ||
	    (rc = link_setup(&cp->link, o, e)) < 0 ||
	    (rc = http_global_init(e)) < 0 ||
	    (rc = image_source_open(o->source, &cp->src, e)) < 0)
		return rc;
	n = (cp->src.size + cp->chunk_size - 1) / cp->chunk_size;
	if (PIMG_HEADER_BYTES + n * PIMG_ENTRY_BYTES + HASH_BYTES >
	    AGENT_INDEX_MAX)
		return perr_set(e, PE_USAGE, "%s: %llu chunks of %u bytes: an "
		    "index larger than pipold takes; use a larger --chunk-size",
		    o->source, (unsigned long long)n, cp->chunk_size);
	cp->nchunks = (uint32_t)n;
	while (slots <= 2 * n)
		slots *= 2;
	cp->seen_mask = slots - 1;
	cp->ent = calloc(n, sizeof(*cp->ent));
	cp->seen = calloc(slots, sizeof(*cp->seen));
	if (cp->ent == NULL || cp->seen == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	return alloc_jobs(cp, e);
}

/* Workers, the asker, the senders; a thread that does not start fails
 * the run before anything is read (then nothing waits for it). */
static void
start_threads(struct capture *cp)
{
	int i, want = cp->threads + 1 + cp->connections;
	void *(*fn)(void *);
	struct perr e;

	for (i = 0; i < want; i++) {
		fn = i < cp->threads ? worker_main : i == cp->threads ?
		    asker_main : sender_main;
		if (pthread_create(&cp->th[cp->nth], NULL, fn, cp) != 0)
			break;
		cp->nth++;
	}
	if (cp->o->progress_json)
		cp->have_rep = pthread_create(&cp->rep_th, NULL,
		    reporter_main, cp) == 0;
	if (cp->nth < want)
		capture_fail(cp, (perr_set(&e, PE_FAIL, "cannot start "
		    "threads"), &e));
}

static void
stop_threads(struct capture *cp)
{
	int i;

	queue_close(&cp->workq);
	queue_close(&cp->askq);
	queue_close(&cp->sendq);
	for (i = 0; i < cp->nth; i++)
		pthread_join(cp->th[i], NULL);
	pthread_mutex_lock(&cp->mu);
	cp->report_stop = 1;
	pthread_cond_broadcast(&cp->cv);
	pthread_mutex_unlock(&cp->mu);
	if (cp->have_rep)
		pthread_join(cp->rep_th, NULL);
}

static void
read_all(struct capture *cp)
{
	struct progress prog;
	struct cjob *j;
	struct perr e;
	uint64_t off;
	uint32_t ix;
	size_t i;

	progress_start(&prog, "capturing", cp->src.size);
	for (ix = 0; ix < cp->nchunks && !capture_failed(cp); ix++) {
		if ((j = queue_pop(&cp->freeq)) == NULL)
			break;
		off = (uint64_t)ix * cp->chunk_size;
		j->ix = ix;
		j->stage = CJ_DESCRIBE;
		j->raw_len = cp->src.size - off < cp->chunk_size ?
		    (uint32_t)(cp->src.size - off) : cp->chunk_size;
		if (image_source_read(&cp->src, j->raw, off, j->raw_len,
		    &j->hole, &e) < 0) {
			capture_fail(cp, &e);
			queue_push(&cp->freeq, j);
			break;
		}
		pthread_mutex_lock(&cp->mu);
		cp->c.read_bytes = cp->src.nread;
		pthread_mutex_unlock(&cp->mu);
		progress_tick(&prog, off + j->raw_len);
		queue_push(&cp->workq, j);
	}
	for (i = 0; i < cp->njobs; i++)	/* every job home: stages idle */
		queue_pop(&cp->freeq);
	if (!capture_failed(cp))
		progress_end(&prog);
	else if (prog.on)
		fputc('\n', stderr);
}

/* The index, every comp_len from the store's answers, in one POST. */
static int
send_index(struct capture *cp, const struct pimg_index *ix,
    unsigned *version, struct perr *e)
{
	char path[STORE_NAME_MAX + 32];
	struct cap_conn k;
	json_t *ans = NULL, *v;
	uint8_t *buf;
	size_t len;
	int rc;

	if ((rc = pimg_index_encode(ix, &buf, &len, e)) < 0)
		return rc;
	snprintf(path, sizeof(path), "/api/capture/%s/index", cp->o->name);
	if ((rc = cap_conn_open(&k, &cp->link, e)) == 0) {
		/* pipold checks every chunk before it answers: silence on
		 * the wire for a while is no stall (a retry would commit
		 * twice) */
		http_set_stall_sec(k.h, AGENT_REQUEST_TIMEOUT_SEC);
		rc = cap_request(&k, "POST", path, buf, len, CAP_BINARY,
		    cp->o->name, 0, &ans, e);
	}
	cap_conn_close(&k);
	free(buf);
	v = json_object_get(ans, "version");
	if (rc == 0 && (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > INT32_MAX))
		rc = perr_set(e, PE_DATA, "%s%s: the answer has no version",
		    cp->link.server, path);
	else if (rc == 0)
		*version = (unsigned)json_integer_value(v);
	json_decref(ans);
	return rc;
}

static int
commit_index(struct capture *cp, unsigned *version, struct perr *e)
{
	struct pimg_index *ix;
	struct seen *s;
	uint32_t i;
	int rc, fresh;

	if ((rc = pimg_index_new(cp->codec, cp->chunk_size, cp->src.size, &ix,
	    e)) < 0)
		return rc;
	for (i = 0; i < cp->nchunks; i++) {
		ix->e[i] = cp->ent[i];
		s = seen_slot(cp, i, &fresh);
		if ((ix->e[i].comp_len = s->comp_len) == 0) {
			rc = perr_set(e, PE_FAIL, "chunk %u: no stored length "
			    "(internal error)", i);
			goto out;
		}
	}
	pimg_disk_hash(ix, ix->disk_hash);
	pimg_index_layout(ix);
	rc = send_index(cp, ix, version, e);
 out:
	pimg_index_free(ix);
	return rc;
}

static void
capture_free(struct capture *cp)
{
	size_t i;

	for (i = 0; cp->jobs != NULL && i < cp->njobs; i++) {
		free(cp->jobs[i].raw);
		free(cp->jobs[i].comp);
	}
	if (cp->freeq.items != NULL)
		queue_destroy(&cp->freeq);
	if (cp->workq.items != NULL)
		queue_destroy(&cp->workq);
	if (cp->askq.items != NULL)
		queue_destroy(&cp->askq);
	if (cp->sendq.items != NULL)
		queue_destroy(&cp->sendq);
	free(cp->jobs);
	free(cp->ent);
	free(cp->seen);
	image_source_close(&cp->src);
	image_zero_memo_destroy(&cp->zmemo);
	http_away_destroy(&cp->link.away);
	pthread_cond_destroy(&cp->cv);
	pthread_mutex_destroy(&cp->mu);
}

int
capture_run(const struct capture_opts *o, unsigned *version, struct perr *e)
{
	struct capture cp;
	int rc;

	*version = 0;
	if ((rc = capture_setup(&cp, o, e)) == 0) {
		start_threads(&cp);
		read_all(&cp);
		stop_threads(&cp);
		if (cp.failed) {
			*e = cp.err;
			rc = -cp.err.code;
		} else {
			rc = commit_index(&cp, version, e);
		}
	}
	report_end(&cp, rc, *version, e);
	capture_free(&cp);
	return rc;
}
