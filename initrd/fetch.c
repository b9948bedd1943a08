/*
 * fetch.c -- chunks over HTTP: one thread drives N keep-alive libcurl
 * easy handles through one multi handle. A chunk comes in whole into a
 * pooled buffer sized for its member, then goes to the decode queue. A
 * failed transfer is judged by http.c's table (http_next): retried
 * after its backoff from a list of delayed chunks, or the run fails
 * naming the chunk. Also the index, one GET through http_call_run.
 * Handles are made by http.c; this file only drives them. What happens
 * to a member that arrives but does not check out is refetch.c's.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deploy.h"
#include "http.h"
#include "log.h"
#include "progress.h"

struct xfer {
	CURL *h;
	struct cbuf *buf;
	uint32_t ix;
	size_t want;
	int busy, overflow;
	char url[1024];
	char err[CURL_ERROR_SIZE];
};

struct delayed {
	uint32_t ix;
	double at;
};

struct fetcher {
	struct deploy *d;
	CURLM *m;
	struct xfer *x;
	struct delayed *dl;	/* retries waiting for their time */
	size_t ndl;
	double t0;		/* --max-rate: transfers start no faster */
	uint64_t started;	/* than max_rate allows: bytes asked so far */
	int paced;		/* one is held back by the rate */
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (x->buf->len + len > x->want) {
		x->overflow = 1;
		return 0;	/* aborts the transfer */
	}
	memcpy(x->buf->data + x->buf->len, p, len);
	x->buf->len += len;
	return len;
}

/* the chunk's URL at the source it is asked of now (d->mu held) */
static void
chunk_url(const struct deploy *d, uint32_t ix, char *buf, size_t len)
{
	const char *base = d->src[d->src_of[ix]];
	char hex[HASH_HEX];
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	hash_hex(d->ix->e[ix].hash, hex);
	snprintf(buf, len, "%.*s/chunks/%s.%s", (int)n, base, hex,
	    pimg_codec_ext((int)d->ix->codec));
}

/* Under d->mu: start what the idle handles, the queue and the pool allow. */
static int
start_some(struct fetcher *f, struct xfer **go, int *ngo)
{
	struct deploy *d = f->d;
	double now = now_sec();
	uint32_t ix;
	size_t i;
	int k;

	for (i = 0; i < f->ndl; ) {	/* retries whose time has come */
		if (f->dl[i].at <= now) {
			ixq_push(&d->fetchq, f->dl[i].ix);
			f->dl[i] = f->dl[--f->ndl];
		} else {
			i++;
		}
	}
	*ngo = 0;
	f->paced = 0;
	for (k = 0; k < d->connections; k++) {
		struct xfer *x = &f->x[k];

		if (x->busy || d->freebufs == NULL || d->fetchq.len == 0)
			continue;
		/* --max-rate paces whole chunks: a transfer starts once the
		 * bytes asked so far fit the rate (libcurl's own limit lets
		 * short transfers burst) */
		if (d->max_rate > 0 && (double)f->started >
		    (now - f->t0) * (double)d->max_rate) {
			f->paced = 1;
			break;
		}
		ixq_pop(&d->fetchq, &ix);
		x->buf = d->freebufs;
		d->freebufs = x->buf->next;
		x->buf->len = 0;
		x->buf->ix = x->ix = ix;
		x->want = d->ix->e[ix].comp_len;
		f->started += x->want;
		x->busy = 1;
		x->overflow = 0;
		d->state[ix] = CS_FETCHING;
		chunk_url(d, ix, x->url, sizeof(x->url));
		go[(*ngo)++] = x;
	}
	return 0;
}

/* A transfer ended badly: retry later, or fail naming the chunk. */
static void
retry_or_fail(struct fetcher *f, struct xfer *x, long status,
    const char *why)
{
	struct deploy *d = f->d;
	const struct pimg_entry *c = &d->ix->e[x->ix];
	struct perr e;
	unsigned n;
	int code;

	pthread_mutex_lock(&d->mu);
	x->buf->next = d->freebufs;
	d->freebufs = x->buf;
	x->buf = NULL;
	if (source_next(d, x->ix, why)) {	/* a cache failed it: at once */
		d->state[x->ix] = CS_QUEUED;
		ixq_push(&d->fetchq, x->ix);
		pthread_mutex_unlock(&d->mu);
		return;
	}
	n = ++d->http_tries[x->ix];
	if ((code = -http_next(&d->away, CURLE_OK, status, n)) > 0) {
		pthread_mutex_unlock(&d->mu);
		perr_set(&e, code, "chunk %u (offset %llu): %s: %s after %u "
		    "attempts", x->ix, (unsigned long long)c->disk_off,
		    x->url, why, n);
		run_fail(d, &e);
		return;
	}
	d->c.http_retries++;
	d->state[x->ix] = CS_QUEUED;
	f->dl[f->ndl].ix = x->ix;
	f->dl[f->ndl++].at = now_sec() + http_backoff_ms(n) / 1000.0;
	pthread_mutex_unlock(&d->mu);
}

static void
on_done(struct fetcher *f, struct xfer *x, CURLcode res)
{
	struct deploy *d = f->d;
	char why[CURL_ERROR_SIZE + 64];
	long status = 0;

	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	x->busy = 0;
	if (res == CURLE_OK && status == 200 && x->buf->len == x->want) {
		pthread_mutex_lock(&d->mu);
		if (d->src_of[x->ix] + 1 == d->nsrc)	/* the store itself */
			http_away_answered(&d->away);
		d->src_bytes[d->src_of[x->ix]] += x->buf->len;
		d->c.fetched += x->buf->len;
		x->buf->next = NULL;
		if (d->decodeq_tail)
			d->decodeq_tail->next = x->buf;
		else
			d->decodeq = x->buf;
		d->decodeq_tail = x->buf;
		x->buf = NULL;
		pthread_cond_broadcast(&d->cv);
		pthread_mutex_unlock(&d->mu);
		return;
	}
	if (x->overflow)
		snprintf(why, sizeof(why), "body longer than %zu bytes",
		    x->want);
	else if (res != CURLE_OK)
		snprintf(why, sizeof(why), "%s", x->err[0] ? x->err :
		    curl_easy_strerror(res));
	else if (status != 200)
		snprintf(why, sizeof(why), "HTTP %ld", status);
	else
		snprintf(why, sizeof(why), "short body (%zu of %zu bytes)",
		    x->buf->len, x->want);
	/* a short or long body, or no answer: the server's trouble, as
	 * the table's "no answer" (status 0) */
	retry_or_fail(f, x, res == CURLE_OK && (status < 200 || status > 299) ?
	    status : 0, why);
}

static int
fetch_loop_once(struct fetcher *f)
{
	struct deploy *d = f->d;
	struct xfer *go[AGENT_CONNECTIONS_MAX];
	int ngo, i, running, left, timeout_ms = 1000;
	CURLMsg *msg;

	pthread_mutex_lock(&d->mu);
	if (d->failed || d->left == 0) {
		pthread_mutex_unlock(&d->mu);
		return 0;
	}
	start_some(f, go, &ngo);
	if (f->ndl > 0 || f->paced)
		timeout_ms = f->paced ? 20 : 50;	/* coarse timers */
	pthread_mutex_unlock(&d->mu);
	for (i = 0; i < ngo; i++) {
		go[i]->err[0] = '\0';
		http_set_request(go[i]->h, NULL, go[i]->url, NULL, 0, NULL);
		curl_multi_add_handle(f->m, go[i]->h);
	}
	curl_multi_perform(f->m, &running);
	while ((msg = curl_multi_info_read(f->m, &left)) != NULL) {
		struct xfer *x;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&x);
		curl_multi_remove_handle(f->m, x->h);
		on_done(f, x, msg->data.result);
	}
	curl_multi_poll(f->m, NULL, 0, timeout_ms, NULL);
	return 1;
}

void *
fetch_main(void *arg)
{
	struct fetcher f = { .d = arg };
	struct deploy *d = f.d;
	struct perr e;
	int k;

	f.t0 = now_sec();
	f.m = http_multi_new(d->connections);
	f.x = calloc((size_t)d->connections, sizeof(*f.x));
	f.dl = calloc(d->ix->nchunks, sizeof(*f.dl));
	if (f.m == NULL || f.x == NULL || f.dl == NULL) {
		run_fail(d, (perr_set(&e, PE_FAIL, "fetch: out of memory"),
		    &e));
		goto out;
	}
	for (k = 0; k < d->connections; k++) {
		if ((f.x[k].h = http_easy_new(f.x[k].err)) == NULL)
			break;
		http_set_sink(f.x[k].h, on_body, &f.x[k]);
		http_set_private(f.x[k].h, &f.x[k]);
	}
	pthread_mutex_lock(&d->mu);
	d->fetch_wake = f.m;
	pthread_mutex_unlock(&d->mu);
	while (fetch_loop_once(&f))
		;
	pthread_mutex_lock(&d->mu);
	d->fetch_wake = NULL;
	pthread_mutex_unlock(&d->mu);
 out:
	for (k = 0; f.x != NULL && k < d->connections; k++) {
		if (f.x[k].h == NULL)
			continue;
		if (f.x[k].busy)
			curl_multi_remove_handle(f.m, f.x[k].h);
		http_easy_free(f.x[k].h);
		if (f.x[k].buf != NULL) {	/* back to the pool: freed there */
			pthread_mutex_lock(&d->mu);
			f.x[k].buf->next = d->freebufs;
			d->freebufs = f.x[k].buf;
			pthread_mutex_unlock(&d->mu);
		}
	}
	if (f.m != NULL)
		curl_multi_cleanup(f.m);
	free(f.x);
	free(f.dl);
	return NULL;
}

/* ---- the index: one GET, retried by http.c's table ---- */

int
fetch_index(struct deploy *d, struct perr *e)
{
	char url[1024], err[CURL_ERROR_SIZE], why[CURL_ERROR_SIZE + 32];
	struct http_body b = { .max = PIMG_INDEX_MAX + 1 };
	struct http_call c = { .away = &d->away, .body = &b, .err = err };
	size_t n = strlen(d->base);
	int rc;

	while (n > 0 && d->base[n - 1] == '/')
		n--;
	snprintf(url, sizeof(url), "%.*s/images/%s/%u.idx", (int)n, d->base,
	    d->name, d->version);
	if ((c.h = http_easy_new(err)) == NULL)
		return perr_set(e, PE_FAIL, "libcurl: out of memory");
	http_set_request(c.h, NULL, url, NULL, 0, NULL);
	http_set_body(c.h, &b);
	rc = http_call_run(&c);
	http_easy_free(c.h);
	http_call_why(&c, why, sizeof(why));
	if (rc == -PE_NOTFOUND)
		rc = perr_set(e, PE_NOTFOUND, "%s: HTTP 404: no image %s:%u "
		    "there", url, d->name, d->version);
	else if (rc == -PE_UNAVAIL)
		rc = perr_set(e, PE_UNAVAIL, "%s: %s (for %u attempts)", url,
		    why, c.attempts);
	else if (rc < 0)
		rc = perr_set(e, -rc, "%s: %s", url, why);
	else
		rc = pimg_index_decode((const uint8_t *)b.p, b.len, url,
		    &d->ix, e);
	http_body_free(&b);
	return rc;
}
