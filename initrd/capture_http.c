/*
 * capture_http.c -- requests to pipold's capture API: one libcurl easy
 * handle per thread (its connection is kept alive between requests), the
 * bearer token in a header (never in a URL or a message), whole bodies
 * from memory, answers parsed as JSON. Handles, headers and the retry
 * loop are http.c's (one table for every agent request); this file words
 * a refusal with the server's own message.
 */
#include <string.h>
#include <stdio.h>
#include <stdlib.h>

#include "limits.h"
#include "capture_http.h"
#include "http.h"
#include "log.h"

int
cap_conn_open(struct cap_conn *k, struct cap_link *l, struct perr *e)
{
	memset(k, 0, sizeof(*k));
	k->link = l;
	k->answer.max = AGENT_ANSWER_MAX;
	if ((k->h = http_easy_new(k->err)) == NULL)
		return perr_set(e, PE_FAIL, "libcurl: out of memory");
	k->json_hdrs = http_headers(l->token, "application/json");
	k->bin_hdrs = http_headers(l->token, "application/octet-stream");
	if (k->json_hdrs == NULL || k->bin_hdrs == NULL)
		return perr_set(e, PE_FAIL, "libcurl: out of memory");
	http_set_body(k->h, &k->answer);
	return 0;
}

void
cap_conn_close(struct cap_conn *k)
{
	http_easy_free(k->h);
	curl_slist_free_all(k->json_hdrs);	/* holds the token */
	curl_slist_free_all(k->bin_hdrs);
	http_body_free(&k->answer);
	memset(k, 0, sizeof(*k));
}

/* The server's own words: {"error": ...}, a short text, or the status. */
static void
answer_words(struct cap_conn *k, long status, char *out, size_t len)
{
	json_t *o = k->answer.p ? json_loads(k->answer.p, 0, NULL) : NULL;
	json_t *err = json_object_get(o, "error");
	size_t n;

	if (json_is_string(err))
		snprintf(out, len, "%s", json_string_value(err));
	else if (k->answer.len > 0 && k->answer.len < 200) {
		snprintf(out, len, "%s", k->answer.p);
		n = strlen(out);
		while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
			out[--n] = '\0';
	} else
		snprintf(out, len, "HTTP %ld", status);
	json_decref(o);
}

/* A final answer in words: the server's, or what libcurl said. */
static int
verdict(struct cap_conn *k, const struct http_call *c, int rc, int rejects,
    const char *url, const char *what, struct perr *e)
{
	char words[256];

	if (c->res != CURLE_OK)
		http_call_why(c, words, sizeof(words));
	else
		answer_words(k, c->status, words, sizeof(words));
	if (rc == -PE_UNAVAIL)
		return perr_set(e, PE_UNAVAIL, "%s: unreachable for %.0f s "
		    "(%u attempts): %s", k->link->server, c->away_sec,
		    c->attempts, words);
	if (c->status == 422 && rejects > 1)
		return perr_set(e, PE_DATA, "%s: refused %d times: %s",
		    what ? what : url, rejects, words);
	if (rc == -PE_DENIED)
		return perr_set(e, PE_DENIED, "%s: %s", k->link->server, words);
	if (rc == -PE_NOTFOUND)
		return perr_set(e, PE_NOTFOUND, "%s: %s (a pipold with the "
		    "capture API?)", url, words);
	if (rc == -PE_FAIL)
		return perr_set(e, PE_FAIL, "%s: stopped", url);
	return perr_set(e, -rc, "%s: %s", what ? what : url, words);
}

int
cap_request(struct cap_conn *k, const char *method, const char *path,
    const void *body, size_t len, enum cap_body type, const char *what,
    int rejects, json_t **answer, struct perr *e)
{
	char url[sizeof(k->link->server) + 256];
	struct http_call c = { .h = k->h, .err = k->err, .away =
	    &k->link->away, .body = &k->answer, .resend_422 =
	    rejects > 0 ? (unsigned)rejects : 0, .stop = &k->link->stop,
	    .retries = &k->link->retries };
	int rc;

	*answer = NULL;
	snprintf(url, sizeof(url), "%s%s", k->link->server, path);
	http_set_request(k->h, method, url, body, len,
	    type == CAP_JSON ? k->json_hdrs : k->bin_hdrs);
	if ((rc = http_call_run(&c)) < 0)
		return verdict(k, &c, rc, rejects, url, what, e);
	if (k->answer.p == NULL ||
	    (*answer = json_loads(k->answer.p, 0, NULL)) == NULL ||
	    !json_is_object(*answer)) {
		json_decref(*answer);
		*answer = NULL;
		return perr_set(e, PE_DATA, "%s: HTTP %ld, but the answer is "
		    "not a JSON object", url, c.status);
	}
	return 0;
}
