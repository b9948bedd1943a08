/*
 * progressload.c -- bench tool: N simulated node agents, each POSTing
 * {"state":"writing","fetched":N,"written":N,"total":N} to URL
 * /agent/progress once per period with its own bearer token, over its
 * own keep-alive connection (one libcurl multi, one easy handle per
 * agent), for a number of seconds. Not installed.
 *
 * The sends are spread evenly over the period (agent i at i/N of it).
 * A request's latency runs from the moment it was due, not from when it
 * was sent, so a slow client or a server that keeps an agent waiting
 * past its next tick shows in the figures (that tick is then skipped
 * and counted as late). The first --warmup seconds are reported apart.
 * At the end, one line: requests, errors (transport, or a status other
 * than 200; the first is printed on stderr), late ticks, p50/p90/p99/max
 * latency, then the same for the warm-up.
 */
#include <sys/resource.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "cmd.h"
#include "log.h"
#include "parse.h"
#include "perr.h"

#define AGENTS_MAX	100000
#define TOKEN_HEX	64
#define BODY_MAX	160
#define DRAIN_SEC	30	/* after the run, in-flight requests get this */
#define REQ_TIMEOUT_SEC	30

enum { O_URL, O_TOKENS, O_SECONDS, O_WARMUP, O_PERIOD_MS, O_PER_SECOND,
    O_END };

static const struct cmd_opt options[] = {
	[O_URL] = { "url", 0, CMD_VALUE, "URL",
	    "each agent POSTs its progress to URL/agent/progress" },
	[O_TOKENS] = { "tokens", 0, CMD_VALUE, "FILE",
	    "one agent's token (64 hex digits) a line" },
	[O_SECONDS] = { "seconds", 0, CMD_VALUE, "N",
	    "measured run, after the warm-up (default 60)" },
	[O_WARMUP] = { "warmup", 0, CMD_VALUE, "N",
	    "seconds reported apart, first (default 0)" },
	[O_PERIOD_MS] = { "period-ms", 0, CMD_VALUE, "N",
	    "one report per agent per period (default 1000)" },
	[O_PER_SECOND] = { "per-second", 0, CMD_VALUE, "FILE",
	    "latency by the second the reports were due" },
	[O_END] = CMD_OPT_END
};

static const struct cmd progressload_cmd = { "progressload", NULL,
    "--url URL --tokens FILE [options]",
    "N agents report their progress; prints one line: the latency of the\n"
    "reports due after the warm-up, then of those due in it; errors and\n"
    "late reports of both", options, 0, 0, NULL };

struct agent {
	CURL *h;
	struct curl_slist *hdr, *resolve;
	char body[BODY_MAX];
	char reply[160];	/* the start of the answer */
	size_t rlen;
	double due;		/* when the request in flight was due */
	int busy;
	long long tick;		/* requests sent so far: the counts grow */
};

struct run {
	struct agent *a;
	int n;
	double *lat_ms;		/* one per completed request */
	double *due_s;		/* when each was due, from the start */
	double start;
	size_t nlat, cap;
	long long errors, late;
	int inflight;
	long long status[6];	/* by hundreds: 1xx..5xx, [0] transport */
};

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The answer's first bytes: said once, for the first error. */
static size_t
keep_reply(char *p, size_t size, size_t n, void *arg)
{
	struct agent *a = arg;
	size_t len = size * n, room = sizeof(a->reply) - 1 - a->rlen;

	memcpy(a->reply + a->rlen, p, len < room ? len : room);
	a->rlen += len < room ? len : room;
	a->reply[a->rlen] = '\0';
	return len;
}

/*
 * Each agent has its own connection, as real nodes do: a multi handle
 * shares its idle connections among its transfers by host, so each
 * agent names the server by a host of its own ("aN", resolved to the
 * server's address with CURLOPT_RESOLVE).
 */
static int
agent_init(struct agent *a, int ix, CURLU *u, const char *addr,
    const char *port, const char *token)
{
	char name[32], auth[TOKEN_HEX + 32], resolve[128];
	char *url = NULL;

	snprintf(name, sizeof(name), "a%d", ix);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	snprintf(resolve, sizeof(resolve), "%s:%s:%s", name, port, addr);
	a->hdr = curl_slist_append(NULL, auth);
	if (a->hdr == NULL || (a->hdr = curl_slist_append(a->hdr,
	    "Content-Type: application/json")) == NULL ||
	    (a->hdr = curl_slist_append(a->hdr, "Expect:")) == NULL ||
	    (a->resolve = curl_slist_append(NULL, resolve)) == NULL ||
	    (a->h = curl_easy_init()) == NULL ||
	    curl_url_set(u, CURLUPART_HOST, name, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK)
		return -1;
	curl_easy_setopt(a->h, CURLOPT_URL, url);
	curl_free(url);
	curl_easy_setopt(a->h, CURLOPT_RESOLVE, a->resolve);
	curl_easy_setopt(a->h, CURLOPT_DNS_CACHE_TIMEOUT, -1L);
	curl_easy_setopt(a->h, CURLOPT_HTTPHEADER, a->hdr);
	curl_easy_setopt(a->h, CURLOPT_WRITEFUNCTION, keep_reply);
	curl_easy_setopt(a->h, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(a->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(a->h, CURLOPT_TIMEOUT, (long)REQ_TIMEOUT_SEC);
	curl_easy_setopt(a->h, CURLOPT_PRIVATE, a);
	return 0;
}

static int
tokens_load(const char *path, const char *url, struct run *r)
{
	char line[256], endpoint[1024], *addr = NULL, *port = NULL;
	CURLU *u = curl_url();
	FILE *f = NULL;
	int rc = -1;

	snprintf(endpoint, sizeof(endpoint), "%s/agent/progress", url);
	if (u == NULL || curl_url_set(u, CURLUPART_URL, endpoint, 0) !=
	    CURLUE_OK || curl_url_get(u, CURLUPART_HOST, &addr, 0) !=
	    CURLUE_OK || curl_url_get(u, CURLUPART_PORT, &port,
	    CURLU_DEFAULT_PORT) != CURLUE_OK) {
		fprintf(stderr, "progressload: --url %s: not a URL\n", url);
		goto out;
	}
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "progressload: %s: %s\n", path, strerror(errno));
		goto out;
	}
	if ((r->a = calloc(AGENTS_MAX, sizeof(*r->a))) == NULL)
		goto oom;
	while (fgets(line, sizeof(line), f) != NULL && r->n < AGENTS_MAX) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (strlen(line) != TOKEN_HEX) {
			fprintf(stderr, "progressload: %s:%d: not a token\n",
			    path, r->n + 1);
			goto out;
		}
		if (agent_init(&r->a[r->n], r->n, u, addr, port, line) < 0)
			goto oom;
		r->n++;
	}
	if (r->n == 0)
		fprintf(stderr, "progressload: %s: no token\n", path);
	else
		rc = 0;
	goto out;
 oom:
	fprintf(stderr, "progressload: out of memory\n");
 out:
	if (f != NULL)
		fclose(f);
	curl_free(addr);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

static void
send_one(CURLM *m, struct run *r, struct agent *a, double due)
{
	long long k = ++a->tick;

	snprintf(a->body, sizeof(a->body), "{\"state\":\"writing\","
	    "\"fetched\":%lld,\"written\":%lld,\"total\":%lld}", k << 20,
	    k << 22, 2048LL << 20);
	curl_easy_setopt(a->h, CURLOPT_POSTFIELDS, a->body);
	a->due = due;
	a->busy = 1;
	r->inflight++;
	a->rlen = 0;
	a->reply[0] = '\0';
	curl_multi_add_handle(m, a->h);
}

static void
record(struct run *r, double due, double ms)
{
	double *nl, *nd;

	if (r->nlat == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 65536;
		nl = realloc(r->lat_ms, r->cap * sizeof(*nl));
		if (nl != NULL)
			r->lat_ms = nl;
		nd = realloc(r->due_s, r->cap * sizeof(*nd));
		if (nd != NULL)
			r->due_s = nd;
		if (nl == NULL || nd == NULL) {
			r->cap = r->nlat;
			return;
		}
	}
	r->due_s[r->nlat] = due - r->start;
	r->lat_ms[r->nlat++] = ms;
}

static void
harvest(CURLM *m, struct run *r)
{
	struct agent *a;
	CURLMsg *msg;
	long status;
	int left;

	while ((msg = curl_multi_info_read(m, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&a);
		status = 0;
		if (msg->data.result == CURLE_OK)
			curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE,
			    &status);
		r->status[status >= 100 && status < 600 ? status / 100 : 0]++;
		if (status != 200 && r->errors++ == 0)
			fprintf(stderr, "progressload: first error: %s%ld %s\n",
			    status ? "HTTP " : "", status ? status :
			    (long)msg->data.result, status ? a->reply :
			    curl_easy_strerror(msg->data.result));
		record(r, a->due, (now_sec() - a->due) * 1000.0);
		curl_multi_remove_handle(m, a->h);
		a->busy = 0;
		r->inflight--;
	}
}

static int
cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

static double
pct(const struct run *r, double p)
{
	size_t i;

	if (r->nlat == 0)
		return 0;
	i = (size_t)(p / 100.0 * (double)(r->nlat - 1) + 0.5);
	return r->lat_ms[i < r->nlat ? i : r->nlat - 1];
}

/* --per-second FILE: for each second of the run, the requests due in
 * it and their p50, p99 and max latency: where the slow ones bunch. */
static int
per_second(const struct run *r, long long secs, const char *path)
{
	double *v = malloc((r->nlat + 1) * sizeof(*v));
	struct run one = { .lat_ms = v };
	FILE *f = fopen(path, "w");
	long long sec;
	size_t i;

	if (v == NULL || f == NULL) {
		fprintf(stderr, "progressload: %s: %s\n", path, strerror(errno));
		free(v);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	fprintf(f, "second requests p50_ms p99_ms max_ms\n");
	for (sec = 0; sec < secs; sec++) {
		for (one.nlat = 0, i = 0; i < r->nlat; i++)
			if ((long long)r->due_s[i] == sec)
				v[one.nlat++] = r->lat_ms[i];
		qsort(v, one.nlat, sizeof(*v), cmp_double);
		fprintf(f, "%lld %zu %.2f %.2f %.2f\n", sec, one.nlat,
		    pct(&one, 50), pct(&one, 99),
		    one.nlat ? v[one.nlat - 1] : 0.0);
	}
	free(v);
	return fclose(f) == 0 ? 0 : -1;
}

/*
 * Latencies of requests due in the first warmup seconds go to *warm,
 * the rest stay in *r; both sorted. The warm-up is when every agent
 * opens its connection and sends its first report, which moves its
 * deployment to writing (a transition, not the steady cost), and a
 * fresh pipold opens its database connections.
 */
static int
warm_split(struct run *r, double warmup, struct run *warm)
{
	size_t i, k = 0;

	if ((warm->lat_ms = malloc((r->nlat + 1) * sizeof(double))) == NULL) {
		fprintf(stderr, "progressload: out of memory\n");
		return -1;
	}
	for (i = 0; i < r->nlat; i++) {
		if (r->due_s[i] < warmup)
			warm->lat_ms[warm->nlat++] = r->lat_ms[i];
		else
			r->lat_ms[k++] = r->lat_ms[i];
	}
	r->nlat = k;
	qsort(r->lat_ms, r->nlat, sizeof(double), cmp_double);
	qsort(warm->lat_ms, warm->nlat, sizeof(double), cmp_double);
	return 0;
}

/* The run: tick k is due at start + k * period / n, for agent k % n. */
static void
drive(CURLM *m, struct run *r, double secs, double period)
{
	double start = r->start = now_sec(), end = start + secs, due, t;
	long long k = 0;
	int running, wait_ms;

	for (;;) {
		t = now_sec();
		while (t < end && (due = start + (double)k * period / r->n) <= t) {
			struct agent *a = &r->a[k % r->n];

			if (a->busy)
				r->late++;
			else
				send_one(m, r, a, due);
			k++;
		}
		curl_multi_perform(m, &running);
		harvest(m, r);
		if (t >= end && (r->inflight == 0 || t >= end + DRAIN_SEC))
			break;
		/* sleep to the next due tick, rounded up: 0 would spin */
		due = start + (double)k * period / r->n;
		wait_ms = t >= end ? 100 : (int)ceil((due - now_sec()) * 1000.0);
		curl_multi_poll(m, NULL, 0, wait_ms < 0 ? 0 : wait_ms, NULL);
	}
	r->errors += r->inflight;	/* never answered */
}

/* --seconds, --warmup, --period-ms; -1 after a usage error (said) */
static int
numbers(const struct cmd_args *a, long long *secs, long long *warmup,
    long long *period_ms)
{
	struct perr e;

	if ((cmd_str(a, O_SECONDS) && parse_count("--seconds",
	    cmd_str(a, O_SECONDS), 1, 86400, secs, &e) < 0) ||
	    (cmd_str(a, O_WARMUP) && parse_count("--warmup",
	    cmd_str(a, O_WARMUP), 0, 3600, warmup, &e) < 0) ||
	    (cmd_str(a, O_PERIOD_MS) && parse_count("--period-ms",
	    cmd_str(a, O_PERIOD_MS), 1, 3600000, period_ms, &e) < 0)) {
		cmd_usage_error(&progressload_cmd, "%s", e.msg);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *url, *tokens, *trace;
	long long secs = 60, period_ms = 1000, warmup = 0;
	struct run r = { 0 }, warm = { 0 };
	struct cmd_args a;
	struct rlimit rl;
	CURLM *m;
	int i;

	log_init("progressload");
	if ((i = cmd_getargs(&progressload_cmd, argc, argv, &a)) >= 0)
		return i;
	if (numbers(&a, &secs, &warmup, &period_ms) < 0)
		return PE_USAGE;
	url = cmd_str(&a, O_URL);
	tokens = cmd_str(&a, O_TOKENS);
	trace = cmd_str(&a, O_PER_SECOND);
	if (url == NULL || tokens == NULL)
		return cmd_usage_error(&progressload_cmd, "%s: required",
		    url == NULL ? "--url" : "--tokens");
	/* one socket per agent: lift the soft limit to the hard one */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (m = curl_multi_init()) == NULL) {
		fprintf(stderr, "progressload: libcurl: cannot initialise\n");
		return 1;
	}
	if (tokens_load(tokens, url, &r) < 0)
		return 1;
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)r.n + 16);
	drive(m, &r, (double)(warmup + secs), (double)period_ms / 1000.0);
	if (trace != NULL && per_second(&r, warmup + secs, trace) < 0)
		return 1;
	if (warm_split(&r, (double)warmup, &warm) < 0)
		return 1;
	printf("agents %d requests %zu errors %lld late %lld "
	    "p50_ms %.2f p90_ms %.2f p99_ms %.2f max_ms %.2f "
	    "status_2xx %lld status_4xx %lld status_5xx %lld transport %lld "
	    "warmup_requests %zu warmup_p50_ms %.2f warmup_p99_ms %.2f "
	    "warmup_max_ms %.2f\n",
	    r.n, r.nlat, r.errors, r.late, pct(&r, 50), pct(&r, 90),
	    pct(&r, 99), pct(&r, 100), r.status[2], r.status[4], r.status[5],
	    r.status[0], warm.nlat, pct(&warm, 50), pct(&warm, 99),
	    pct(&warm, 100));
	free(warm.lat_ms);
	for (i = 0; i < r.n; i++) {
		curl_multi_remove_handle(m, r.a[i].h);
		curl_easy_cleanup(r.a[i].h);
		curl_slist_free_all(r.a[i].hdr);
		curl_slist_free_all(r.a[i].resolve);
	}
	curl_multi_cleanup(m);
	curl_global_cleanup();
	free(r.lat_ms);
	free(r.due_s);
	free(r.a);
	return 0;
}
