/*
 * capture_http.h -- internal to capture.c and capture_http.c: the keep-alive
 * connections to pipold's capture API and the retry state they share
 * (libcurl setup and the retry policy themselves are http.c's).
 * capture_opts and capture_run, the entry point, are in capture.h.
 */
#ifndef AGENT_CAPTURE_HTTP_H
#define AGENT_CAPTURE_HTTP_H

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "http.h"
#include "perr.h"

struct cap_link {		/* shared by every connection of one run */
	char server[1024];	/* base URL, no trailing '/' */
	const char *token;	/* never printed */
	struct http_away away;	/* no answer for that long: give up */
	uint64_t retries;	/* requests sent again */
	int stop;		/* the run failed: stop retrying */
};

struct cap_conn {		/* one connection, used by one thread */
	struct cap_link *link;
	CURL *h;
	struct curl_slist *json_hdrs, *bin_hdrs;	/* hold the token */
	char err[CURL_ERROR_SIZE];
	struct http_body answer;	/* the last answer, NUL-terminated */
};

enum cap_body { CAP_JSON, CAP_BINARY };

int cap_conn_open(struct cap_conn *k, struct cap_link *l, struct perr *e);
void cap_conn_close(struct cap_conn *k);	/* also when open failed */
/*
 * One request to pipold, retried by http.c's table (docs/protocol.md):
 * no answer, 5xx, 408 or 429 until the server has been away
 * (--timeout, or AGENT_HTTP_RETRIES attempts); 422 up to rejects times
 * (a member damaged on its way); 404 a few times; the rest at once.
 * what names the object in errors (NULL: the URL). 0 and *answer (a
 * JSON object, caller decrefs) on 2xx; else -code and one line in e.
 */
int cap_request(struct cap_conn *k, const char *method, const char *path,
    const void *body, size_t len, enum cap_body type, const char *what,
    int rejects, json_t **answer, struct perr *e);

#endif
