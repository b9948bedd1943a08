/*
 * capture.h -- internal to capture.c and capture_http.c: the keep-alive
 * connections to pipold's capture API and the retry state they share.
 * capture_opts and capture_run, the entry point, are in agent.h.
 */
#ifndef CAPTURE_H
#define CAPTURE_H

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "perr.h"

struct cap_link {		/* shared by every connection of one run */
	char server[1024];	/* base URL, no trailing '/' */
	const char *token;	/* never printed */
	int timeout_sec;	/* no answer for that long: give up */
	pthread_mutex_t mu;
	double unreachable_since;	/* 0: the last request was answered */
	uint64_t retries;	/* requests sent again */
	int stop;		/* the run failed: stop retrying */
};

struct cap_conn {		/* one connection, used by one thread */
	struct cap_link *link;
	CURL *h;
	struct curl_slist *json_hdrs, *bin_hdrs;
	char err[CURL_ERROR_SIZE];
	char *answer;		/* the last answer's body, NUL-terminated */
	size_t answer_len, answer_cap;
};

enum cap_body { CAP_JSON, CAP_BINARY };

int cap_conn_open(struct cap_conn *k, struct cap_link *l, struct perr *e);
void cap_conn_close(struct cap_conn *k);	/* also when open failed */
/*
 * One request to pipold, retried as docs/protocol.md says: no answer,
 * 5xx, 408 or 429 until the server has been away timeout_sec (or
 * AGENT_HTTP_RETRIES attempts); 422 up to rejects times (a member
 * damaged on its way); any other answer at once. what names the object
 * in errors (NULL: the URL). 0 and *answer (a JSON object, caller
 * decrefs) on 2xx; else -code and one line in e.
 */
int cap_request(struct cap_conn *k, const char *method, const char *path,
    const void *body, size_t len, enum cap_body type, const char *what,
    int rejects, json_t **answer, struct perr *e);

#endif
