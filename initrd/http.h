/*
 * http.h -- the agent's one HTTP client (http.c): how every libcurl
 * handle is set up (timeouts, protocols, user agent, bearer headers,
 * bodies in memory), and one policy for what an answer means -- the
 * table from HTTP status to the agent's exit status, the backoff, and
 * the blocking retry loop that the index fetch, node mode's calls and
 * capture's requests share. The chunk fetcher (fetch.c) drives its own
 * multi handle but asks http_next() and http_backoff_ms() the same way.
 *
 * Knows nothing of chunks, orders, deployments or capture; never prints.
 */
#ifndef AGENT_HTTP_H
#define AGENT_HTTP_H

#include <curl/curl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "perr.h"

/* How long the server has been away: shared by the requests of one run
 * (any answer from it resets the clock). Thread-safe. */
struct http_away {
	pthread_mutex_t mu;
	double since;		/* 0: the last request was answered */
	int timeout_sec;	/* away that long: give up */
};

/* A whole answer in memory, NUL-terminated; longer than max aborts. */
struct http_body {
	char *p;
	size_t len, cap, max;
};

enum { HTTP_AGAIN = 0, HTTP_DONE = 1 };

int http_global_init(struct perr *e);

/* The table (docs/pipol-agent.8, EXIT STATUS): the exit status a final
 * answer ends with; 0 for 2xx. status 0 is "no answer". */
int http_status_code(long status);
/* What attempt number attempt (from 1) ending with res and status
 * means: HTTP_DONE (2xx), HTTP_AGAIN (wait http_backoff_ms(attempt),
 * then send it again), or -code to give up with. Updates a. */
int http_next(struct http_away *a, CURLcode res, long status,
    unsigned attempt);
unsigned http_backoff_ms(unsigned attempt);	/* before attempt + 1 */

void http_away_init(struct http_away *a, int timeout_sec);
void http_away_destroy(struct http_away *a);
void http_away_answered(struct http_away *a);
double http_away_sec(struct http_away *a);	/* 0: not away */

/* A handle with the agent's setup; err: a CURL_ERROR_SIZE buffer that
 * libcurl fills on failure. NULL: out of memory. */
CURL *http_easy_new(char *err);
void http_easy_free(CURL *h);	/* NULL: no-op */
/* The request: method NULL is GET; a body is sent as is. hdrs stays the
 * caller's and must outlive the request. */
void http_set_request(CURL *h, const char *method, const char *url,
    const void *body, size_t len, struct curl_slist *hdrs);
/* Where the answer goes: into b (emptied by http_call_run before each
 * attempt), or a callback of libcurl's write type. */
void http_set_body(CURL *h, struct http_body *b);
void http_set_sink(CURL *h, size_t (*fn)(char *, size_t, size_t, void *),
    void *arg);
void http_set_private(CURL *h, void *p);
void http_set_timeout_ms(CURL *h, long ms);	/* the whole request */
void http_set_stall_sec(CURL *h, long sec);	/* no byte that long: drop */
/* "Authorization: Bearer TOKEN" (token may be NULL), "Expect:", and
 * Content-Type when given. Caller frees with curl_slist_free_all (it
 * holds the token). NULL: out of memory. */
struct curl_slist *http_headers(const char *token, const char *ctype);
/* The chunk fetcher's multi handle: at most conns connections. */
CURLM *http_multi_new(int conns);
/* Any thread: the multi handle's poll returns now. NULL: no-op. */
void http_multi_wakeup(CURLM *m);
void http_body_free(struct http_body *b);

/* One request sent until it has a final answer (the retry loop). */
struct http_call {
	CURL *h;		/* from http_easy_new, request set */
	char *err;		/* its error buffer (emptied each attempt) */
	struct http_away *away;
	struct http_body *body;	/* the answer, when http_set_body'd */
	unsigned resend_422;	/* 422: sent this many times in all (a
				   body damaged on its way); 0: once */
	const int *stop;	/* non-zero (read atomically): stop */
	uint64_t *retries;	/* attempts sent again (atomic); or NULL */
	/* out: the last attempt */
	CURLcode res;
	long status;
	unsigned attempts;
	double away_sec;	/* how long the server was away, on -5 */
};
/* 0 on 2xx; else -code by the table with c's outcome filled in for the
 * caller's message; -PE_FAIL when *stop was set. */
int http_call_run(struct http_call *c);
/* One attempt, no retry, no judgement: res and status (0: no answer). */
void http_call_once(struct http_call *c);
/* The last attempt in words: libcurl's message, or "HTTP 404". */
void http_call_why(const struct http_call *c, char *out, size_t len);

#endif
