/*
 * capture_http.c -- requests to pipold's capture API: one libcurl easy
 * handle per thread (its connection is kept alive between requests), the
 * bearer token in a header (never in a URL or a message), whole bodies
 * from memory, answers parsed as JSON. Retries follow the deploy's rules
 * (docs/protocol.md): the server's absence is waited out up to
 * --timeout, a rejected chunk is sent again a few times, any other
 * refusal ends the run with the server's own message.
 */
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent.h"
#include "capture.h"
#include "log.h"
#include "progress.h"

static size_t
on_answer(char *p, size_t size, size_t n, void *arg)
{
	struct cap_conn *k = arg;
	size_t len = size * n, cap;
	char *nb;

	if (k->answer_len + len + 1 > AGENT_ANSWER_MAX)
		return 0;	/* aborts the transfer */
	if (k->answer_len + len + 1 > k->answer_cap) {
		cap = (k->answer_len + len + 1) * 2;
		if ((nb = realloc(k->answer, cap)) == NULL)
			return 0;
		k->answer = nb;
		k->answer_cap = cap;
	}
	memcpy(k->answer + k->answer_len, p, len);
	k->answer_len += len;
	k->answer[k->answer_len] = '\0';
	return len;
}

int
cap_conn_open(struct cap_conn *k, struct cap_link *l, struct perr *e)
{
	char auth[128];

	memset(k, 0, sizeof(*k));
	k->link = l;
	if ((k->h = curl_easy_init()) == NULL)
		return perr_set(e, PE_FAIL, "libcurl: out of memory");
	fetch_easy_setup(k->h, k->err);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", l->token);
	/* "Expect:": pipold reads every body before answering, so the
	 * 100-continue round trip curl adds past 1 MiB would buy nothing */
	k->json_hdrs = curl_slist_append(NULL, auth);
	k->json_hdrs = curl_slist_append(k->json_hdrs, "Expect:");
	k->json_hdrs = curl_slist_append(k->json_hdrs,
	    "Content-Type: application/json");
	k->bin_hdrs = curl_slist_append(NULL, auth);
	k->bin_hdrs = curl_slist_append(k->bin_hdrs, "Expect:");
	k->bin_hdrs = curl_slist_append(k->bin_hdrs,
	    "Content-Type: application/octet-stream");
	explicit_bzero(auth, sizeof(auth));
	if (k->json_hdrs == NULL || k->bin_hdrs == NULL)
		return perr_set(e, PE_FAIL, "libcurl: out of memory");
	curl_easy_setopt(k->h, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(k->h, CURLOPT_WRITEDATA, k);
	return 0;
}

void
cap_conn_close(struct cap_conn *k)
{
	if (k->h != NULL)
		curl_easy_cleanup(k->h);
	curl_slist_free_all(k->json_hdrs);	/* holds the token */
	curl_slist_free_all(k->bin_hdrs);
	free(k->answer);
	memset(k, 0, sizeof(*k));
}

/* The server's own words: {"error": ...}, a short text, or the status. */
static void
answer_words(struct cap_conn *k, long status, char *out, size_t len)
{
	json_t *o = k->answer ? json_loads(k->answer, 0, NULL) : NULL;
	json_t *err = json_object_get(o, "error");
	size_t n;

	if (json_is_string(err))
		snprintf(out, len, "%s", json_string_value(err));
	else if (k->answer_len > 0 && k->answer_len < 200) {
		snprintf(out, len, "%s", k->answer);
		n = strlen(out);
		while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
			out[--n] = '\0';
	} else
		snprintf(out, len, "HTTP %ld", status);
	json_decref(o);
}

static int
link_stopped(struct cap_link *l)
{
	return __atomic_load_n(&l->stop, __ATOMIC_RELAXED);
}

/* No answer (or 5xx): 0 to retry, or how long the server has been away
 * once that is too long. */
static double
away_too_long(struct cap_link *l, unsigned attempt)
{
	double now = now_sec(), away;

	pthread_mutex_lock(&l->mu);
	if (l->unreachable_since == 0)
		l->unreachable_since = now;
	away = now - l->unreachable_since;
	pthread_mutex_unlock(&l->mu);
	if (away >= l->timeout_sec || attempt >= AGENT_HTTP_RETRIES)
		return away > 0 ? away : 0.001;
	return 0;
}

static void
link_answered(struct cap_link *l)
{
	pthread_mutex_lock(&l->mu);
	l->unreachable_since = 0;
	pthread_mutex_unlock(&l->mu);
}

/* The perr code of a final refusal. */
static int
status_code(long status)
{
	switch (status) {
	case 401: case 403: return PE_DENIED;
	case 404: return PE_NOTFOUND;
	case 409: return PE_CONFLICT;
	default: return PE_DATA;
	}
}

/* Wait before attempt+1, in slices: a failed run stops waiting. */
static void
backoff(struct cap_link *l, unsigned attempt)
{
	unsigned ms = fetch_backoff_ms(attempt);

	for (; ms > 0 && !link_stopped(l); ms -= ms < 100 ? ms : 100)
		usleep((ms < 100 ? ms : 100) * 1000u);
}

/* One attempt's verdict: 0 retry, 1 done (2xx), -code with e. */
static int
verdict(struct cap_conn *k, CURLcode res, long status, unsigned attempt,
    int *rejected, int rejects, const char *url, const char *what,
    struct perr *e)
{
	char words[256];
	double away;

	if (res == CURLE_OK && status >= 200 && status < 300)
		return 1;
	if (res != CURLE_OK || status >= 500 || status == 408 ||
	    status == 429) {
		if ((away = away_too_long(k->link, attempt)) == 0)
			return 0;
		if (res != CURLE_OK)
			snprintf(words, sizeof(words), "%s", k->err[0] ?
			    k->err : curl_easy_strerror(res));
		else
			answer_words(k, status, words, sizeof(words));
		return perr_set(e, PE_UNAVAIL, "%s: unreachable for %.0f s "
		    "(%u attempts): %s", k->link->server, away, attempt,
		    words);
	}
	link_answered(k->link);
	answer_words(k, status, words, sizeof(words));
	if (status == 422 && ++*rejected < rejects)
		return 0;
	if (status == 422 && rejects > 1)
		return perr_set(e, PE_DATA, "%s: refused %d times: %s",
		    what ? what : url, *rejected, words);
	if (status == 401 || status == 403)
		return perr_set(e, PE_DENIED, "%s: %s", k->link->server, words);
	if (status == 404)
		return perr_set(e, PE_NOTFOUND, "%s: %s (a pipold with the "
		    "capture API?)", url, words);
	return perr_set(e, status_code(status), "%s: %s", what ? what : url,
	    words);
}

int
cap_request(struct cap_conn *k, const char *method, const char *path,
    const void *body, size_t len, enum cap_body type, const char *what,
    int rejects, json_t **answer, struct perr *e)
{
	char url[sizeof(k->link->server) + 256];
	unsigned attempt;
	long status;
	CURLcode res;
	int rejected = 0, rc;

	*answer = NULL;
	snprintf(url, sizeof(url), "%s%s", k->link->server, path);
	curl_easy_setopt(k->h, CURLOPT_URL, url);
	curl_easy_setopt(k->h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(k->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(k->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(k->h, CURLOPT_HTTPHEADER,
	    type == CAP_JSON ? k->json_hdrs : k->bin_hdrs);
	for (attempt = 1;; attempt++) {
		k->answer_len = 0;
		k->err[0] = '\0';
		status = 0;
		res = curl_easy_perform(k->h);
		curl_easy_getinfo(k->h, CURLINFO_RESPONSE_CODE, &status);
		rc = verdict(k, res, status, attempt, &rejected, rejects, url,
		    what, e);
		if (rc != 0)
			break;
		if (link_stopped(k->link))
			return perr_set(e, PE_FAIL, "%s: stopped", url);
		log_debug("%s %s: attempt %u failed (%s), again", method, url,
		    attempt, res != CURLE_OK ? curl_easy_strerror(res) :
		    "an HTTP error");
		__atomic_add_fetch(&k->link->retries, 1, __ATOMIC_RELAXED);
		backoff(k->link, attempt);
	}
	if (rc < 0)
		return rc;
	link_answered(k->link);
	if (k->answer == NULL ||
	    (*answer = json_loads(k->answer, 0, NULL)) == NULL ||
	    !json_is_object(*answer)) {
		json_decref(*answer);
		*answer = NULL;
		return perr_set(e, PE_DATA, "%s: HTTP %ld, but the answer is "
		    "not a JSON object", url, status);
	}
	return 0;
}
