/*
 * http.c -- the agent's one HTTP client: every libcurl handle is made
 * and set up here, and every answer is judged by one table. Used by the
 * index fetch and the chunk fetcher (fetch.c), node mode's calls to
 * pipold (node.c) and capture's requests (capture_http.c).
 *
 * The table (docs/pipol-agent.8, EXIT STATUS; docs/protocol.md):
 *
 *   2xx                     done
 *   no answer, 408, 429,    the server is away: sent again after a
 *   5xx                     backoff (0.2 s doubling to 10 s) until it
 *                           has been away --timeout seconds (and, for
 *                           an answer, after AGENT_HTTP_RETRIES
 *                           attempts of that request): exit 5
 *   404                     AGENT_NOTFOUND_RETRIES attempts (a store
 *                           being copied), then exit 6
 *   401, 403                at once, exit 4
 *   409                     at once, exit 7
 *   422                     sent again when the caller asks (capture: a
 *                           chunk damaged on its way), then exit 3
 *   400, any other answer   at once, exit 3
 *
 * It does not know what is asked, nor print: callers word the errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "limits.h"
#include "progress.h"

struct http_rule {
	long lo, hi;		/* HTTP status range; 0: no answer */
	int away;		/* the server is away: wait it out */
	unsigned attempts;	/* else: sent this many times in all */
	int code;		/* then: the exit status */
};

static const struct http_rule http_rules[] = {
	{ 200, 299, 0, 1, PE_OK },
	{ 0, 0, 1, 0, PE_UNAVAIL },
	{ 408, 408, 1, 0, PE_UNAVAIL },
	{ 429, 429, 1, 0, PE_UNAVAIL },
	{ 500, 599, 1, 0, PE_UNAVAIL },
	{ 401, 401, 0, 1, PE_DENIED },
	{ 403, 403, 0, 1, PE_DENIED },
	{ 404, 404, 0, AGENT_NOTFOUND_RETRIES, PE_NOTFOUND },
	{ 409, 409, 0, 1, PE_CONFLICT },
	{ 1, 999, 0, 1, PE_DATA },	/* 400, 422, 3xx, the rest */
};

static const struct http_rule *
rule_of(long status)
{
	size_t i;

	for (i = 0; i < sizeof(http_rules) / sizeof(http_rules[0]); i++)
		if (status >= http_rules[i].lo && status <= http_rules[i].hi)
			return &http_rules[i];
	return &http_rules[sizeof(http_rules) / sizeof(http_rules[0]) - 1];
}

int
http_global_init(struct perr *e)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return perr_set(e, PE_FAIL, "libcurl: cannot initialise");
	return 0;
}

int
http_status_code(long status)
{
	return rule_of(status)->code;
}

unsigned
http_backoff_ms(unsigned attempt)
{
	unsigned ms = AGENT_BACKOFF_MIN_MS;

	while (attempt-- > 1 && ms < AGENT_BACKOFF_MAX_MS)
		ms *= 2;
	return ms < AGENT_BACKOFF_MAX_MS ? ms : AGENT_BACKOFF_MAX_MS;
}

void
http_away_init(struct http_away *a, int timeout_sec)
{
	pthread_mutex_init(&a->mu, NULL);
	a->since = 0;
	a->timeout_sec = timeout_sec;
}

void
http_away_destroy(struct http_away *a)
{
	pthread_mutex_destroy(&a->mu);
}

void
http_away_answered(struct http_away *a)
{
	pthread_mutex_lock(&a->mu);
	a->since = 0;
	pthread_mutex_unlock(&a->mu);
}

double
http_away_sec(struct http_away *a)
{
	double since;

	pthread_mutex_lock(&a->mu);
	since = a->since;
	pthread_mutex_unlock(&a->mu);
	return since == 0 ? 0 : now_sec() - since;
}

/*
 * The server is away: start the clock; the time away once it is too
 * long. With no answer at all only --timeout ends the wait (a pipold
 * restarting, its database with it, may take longer than the attempts
 * of one request last); a server that answers 408, 429 or 5xx to this
 * request gets AGENT_HTTP_RETRIES attempts at most.
 */
static double
away_too_long(struct http_away *a, long status, unsigned attempt)
{
	double now = now_sec(), away;

	pthread_mutex_lock(&a->mu);
	if (a->since == 0)
		a->since = now;
	away = now - a->since;
	pthread_mutex_unlock(&a->mu);
	if (away >= a->timeout_sec ||
	    (status != 0 && attempt >= AGENT_HTTP_RETRIES))
		return away > 0 ? away : 0.001;
	return 0;
}

int
http_next(struct http_away *a, CURLcode res, long status, unsigned attempt)
{
	const struct http_rule *r;

	if (res != CURLE_OK)
		status = 0;
	r = rule_of(status);
	if (r->away)
		return away_too_long(a, status, attempt) > 0 ? -r->code :
		    HTTP_AGAIN;
	http_away_answered(a);
	if (r->code == PE_OK)
		return HTTP_DONE;
	return attempt < r->attempts ? HTTP_AGAIN : -r->code;
}

/* ---- handles ---------------------------------------------------------- */

CURL *
http_easy_new(char *err)
{
	CURL *h;

	if ((h = curl_easy_init()) == NULL)
		return NULL;
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
	    (long)AGENT_CONNECT_TIMEOUT_SEC);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)AGENT_STALL_SEC);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)AGENT_REQUEST_TIMEOUT_SEC);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "pipol-agent/0.1");
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	return h;
}

void
http_easy_free(CURL *h)
{
	if (h != NULL)
		curl_easy_cleanup(h);
}

void
http_set_request(CURL *h, const char *method, const char *url,
    const void *body, size_t len, struct curl_slist *hdrs)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (method == NULL) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		return;
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct http_body *b = arg;
	size_t len = size * n, cap;
	char *np;

	if (b->len + len + 1 > b->max)
		return 0;	/* aborts the transfer */
	if (b->len + len + 1 > b->cap) {
		cap = (b->len + len + 1) * 2;
		if ((np = realloc(b->p, cap)) == NULL)
			return 0;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

void
http_set_body(CURL *h, struct http_body *b)
{
	http_set_sink(h, on_body, b);
}

void
http_set_sink(CURL *h, size_t (*fn)(char *, size_t, size_t, void *),
    void *arg)
{
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fn);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, arg);
}

void
http_set_private(CURL *h, void *p)
{
	curl_easy_setopt(h, CURLOPT_PRIVATE, p);
}

void
http_set_timeout_ms(CURL *h, long ms)
{
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
}

void
http_set_stall_sec(CURL *h, long sec)
{
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, sec);
}

struct curl_slist *
http_headers(const char *token, const char *ctype)
{
	struct curl_slist *l = NULL, *n;
	char line[160];

	/* "Expect:": pipold reads every body before answering, so the
	 * 100-continue round trip curl adds past 1 MiB would buy nothing */
	if ((l = curl_slist_append(NULL, "Expect:")) == NULL)
		return NULL;
	if (token != NULL) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
		n = curl_slist_append(l, line);
		explicit_bzero(line, sizeof(line));
		if (n == NULL)
			goto err;
	}
	if (ctype != NULL) {
		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		if (curl_slist_append(l, line) == NULL)
			goto err;
	}
	return l;
 err:
	curl_slist_free_all(l);
	return NULL;
}

CURLM *
http_multi_new(int conns)
{
	CURLM *m;

	if ((m = curl_multi_init()) == NULL)
		return NULL;
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conns);
	return m;
}

void
http_multi_wakeup(CURLM *m)
{
	if (m != NULL)
		curl_multi_wakeup(m);
}

void
http_body_free(struct http_body *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- the retry loop --------------------------------------------------- */

static int
call_stopped(const struct http_call *c)
{
	return c->stop != NULL && __atomic_load_n(c->stop, __ATOMIC_RELAXED);
}

/* Wait before attempt+1, in slices: a stopped run stops waiting. */
static void
backoff(const struct http_call *c, unsigned attempt)
{
	unsigned ms = http_backoff_ms(attempt), step;

	for (; ms > 0 && !call_stopped(c); ms -= step) {
		step = ms < 100 ? ms : 100;
		usleep(step * 1000u);
	}
}

void
http_call_once(struct http_call *c)
{
	if (c->body != NULL)
		c->body->len = 0;
	c->status = 0;
	if (c->err != NULL)
		c->err[0] = '\0';
	c->res = curl_easy_perform(c->h);
	if (c->res == CURLE_OK)
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
}

int
http_call_run(struct http_call *c)
{
	unsigned rejected = 0;
	int rc;

	for (c->attempts = 1;; c->attempts++) {
		http_call_once(c);
		rc = http_next(c->away, c->res, c->status, c->attempts);
		if (rc == -PE_DATA && c->status == 422 &&
		    ++rejected < c->resend_422)
			rc = HTTP_AGAIN;
		if (rc == -PE_UNAVAIL)
			c->away_sec = http_away_sec(c->away);
		if (rc != HTTP_AGAIN)
			return rc == HTTP_DONE ? 0 : rc;
		if (call_stopped(c))
			return -PE_FAIL;
		if (c->retries != NULL)
			__atomic_add_fetch(c->retries, 1, __ATOMIC_RELAXED);
		backoff(c, c->attempts);
		if (call_stopped(c))
			return -PE_FAIL;
	}
}

void
http_call_why(const struct http_call *c, char *out, size_t len)
{
	if (c->res != CURLE_OK)
		snprintf(out, len, "%s", c->err != NULL && c->err[0] ? c->err :
		    curl_easy_strerror(c->res));
	else
		snprintf(out, len, "HTTP %ld", c->status);
}
