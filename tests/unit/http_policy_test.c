/*
 * http_policy_test.c -- the agent's HTTP policy (initrd/http.c): the
 * table from HTTP status to exit status, what each attempt's outcome
 * means (retry, or give up with which status, after how many), the
 * backoff, and the retry loop against a port where nobody listens.
 */
#include <curl/curl.h>
#include <string.h>

#include "harness.h"
#include "http.h"
#include "limits.h"

static void
status_table(void)
{
	static const struct { long status; int code; } t[] = {
		{ 200, 0 }, { 201, 0 }, { 204, 0 }, { 0, PE_UNAVAIL },
		{ 400, PE_DATA }, { 401, PE_DENIED }, { 403, PE_DENIED },
		{ 404, PE_NOTFOUND }, { 408, PE_UNAVAIL }, { 409, PE_CONFLICT },
		{ 413, PE_DATA }, { 422, PE_DATA }, { 429, PE_UNAVAIL },
		{ 500, PE_UNAVAIL }, { 502, PE_UNAVAIL }, { 503, PE_UNAVAIL },
		{ 599, PE_UNAVAIL }, { 302, PE_DATA }, { 100, PE_DATA },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (http_status_code(t[i].status) != t[i].code) {
			fprintf(stderr, "  HTTP %ld: exit %d, want %d\n",
			    t[i].status, http_status_code(t[i].status),
			    t[i].code);
			CHECK(0);
		}
	}
}

static void
next_by_attempt(void)
{
	static const struct {
		CURLcode res;
		long status;
		unsigned attempt;
		int want;
	} t[] = {
		{ CURLE_OK, 200, 1, HTTP_DONE },
		{ CURLE_OK, 204, 5, HTTP_DONE },
		{ CURLE_COULDNT_CONNECT, 0, 1, HTTP_AGAIN },
		/* no answer at all: only --timeout ends the wait (a pipold
		 * restarting with its database), not the attempt count */
		{ CURLE_COULDNT_CONNECT, 0, AGENT_HTTP_RETRIES * 4, HTTP_AGAIN },
		/* no whole answer, whatever the status line said */
		{ CURLE_OPERATION_TIMEDOUT, 200, 1, HTTP_AGAIN },
		{ CURLE_OK, 503, 1, HTTP_AGAIN },
		{ CURLE_OK, 500, AGENT_HTTP_RETRIES - 1, HTTP_AGAIN },
		{ CURLE_OK, 500, AGENT_HTTP_RETRIES, -PE_UNAVAIL },
		{ CURLE_OK, 408, 1, HTTP_AGAIN },
		{ CURLE_OK, 429, 1, HTTP_AGAIN },
		{ CURLE_OK, 429, AGENT_HTTP_RETRIES, -PE_UNAVAIL },
		{ CURLE_OK, 404, 1, HTTP_AGAIN },
		{ CURLE_OK, 404, AGENT_NOTFOUND_RETRIES - 1, HTTP_AGAIN },
		{ CURLE_OK, 404, AGENT_NOTFOUND_RETRIES, -PE_NOTFOUND },
		{ CURLE_OK, 401, 1, -PE_DENIED },
		{ CURLE_OK, 403, 1, -PE_DENIED },
		{ CURLE_OK, 400, 1, -PE_DATA },
		{ CURLE_OK, 422, 1, -PE_DATA },
		{ CURLE_OK, 409, 1, -PE_CONFLICT },
	};
	struct http_away a;
	size_t i;
	int got;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		http_away_init(&a, 120);
		got = http_next(&a, t[i].res, t[i].status, t[i].attempt);
		if (got != t[i].want) {
			fprintf(stderr, "  res %d HTTP %ld attempt %u: %d, "
			    "want %d\n", (int)t[i].res, t[i].status, t[i].attempt,
			    got, t[i].want);
			CHECK(0);
		}
		http_away_destroy(&a);
	}
}

/* --timeout: the server away that long ends it, whatever the attempt;
 * an answer (even a refusal) restarts the clock. */
static void
away_clock(void)
{
	struct http_away a;

	http_away_init(&a, 0);
	CHECK(http_next(&a, CURLE_OK, 503, 1) == -PE_UNAVAIL);
	CHECK(http_away_sec(&a) > 0);
	CHECK(http_next(&a, CURLE_OK, 404, 1) == HTTP_AGAIN);
	CHECK(http_away_sec(&a) == 0);
	http_away_destroy(&a);
	http_away_init(&a, 120);
	CHECK(http_next(&a, CURLE_COULDNT_CONNECT, 0, 1) == HTTP_AGAIN);
	CHECK(http_away_sec(&a) >= 0);
	CHECK(http_next(&a, CURLE_OK, 200, 2) == HTTP_DONE);
	CHECK(http_away_sec(&a) == 0);
	http_away_destroy(&a);
}

static void
backoff(void)
{
	static const struct { unsigned attempt, ms; } t[] = {
		{ 1, 200 }, { 2, 400 }, { 3, 800 }, { 6, 6400 },
		{ 7, 10000 }, { 12, 10000 }, { 1000, 10000 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECK(http_backoff_ms(t[i].attempt) == t[i].ms);
}

/* The loop: nobody on port 1, --timeout 0: one attempt, exit 5, and the
 * reason is libcurl's. With resend_422 a 422 would be sent again: that
 * needs a server (tests/shell/capture.sh). */
static void
loop_unreachable(void)
{
	char err[CURL_ERROR_SIZE], why[300];
	struct http_away a;
	struct http_call c = { .err = err, .away = &a };
	struct perr e;

	CHECK(http_global_init(&e) == 0);
	http_away_init(&a, 0);
	CHECK((c.h = http_easy_new(err)) != NULL);
	http_set_request(c.h, NULL, "http://127.0.0.1:1/x", NULL, 0, NULL);
	CHECK(http_call_run(&c) == -PE_UNAVAIL);
	CHECK(c.attempts == 1);
	CHECK(c.res != CURLE_OK && c.status == 0);
	http_call_why(&c, why, sizeof(why));
	CHECK(strstr(why, "127.0.0.1") != NULL || strstr(why, "onnect"));
	http_easy_free(c.h);
	http_away_destroy(&a);
}

/* A run that failed stops the loop between attempts. */
static void
loop_stopped(void)
{
	char err[CURL_ERROR_SIZE];
	struct http_away a;
	int stop = 1;
	uint64_t retries = 0;
	struct http_call c = { .err = err, .away = &a, .stop = &stop,
	    .retries = &retries };

	http_away_init(&a, 120);
	CHECK((c.h = http_easy_new(err)) != NULL);
	http_set_request(c.h, NULL, "http://127.0.0.1:1/x", NULL, 0, NULL);
	CHECK(http_call_run(&c) == -PE_FAIL);
	CHECK(c.attempts == 1 && retries == 0);
	http_easy_free(c.h);
	http_away_destroy(&a);
}

int
main(void)
{
	RUN(status_table);
	RUN(next_by_attempt);
	RUN(away_clock);
	RUN(backoff);
	RUN(loop_unreachable);
	RUN(loop_stopped);
	DONE();
}
