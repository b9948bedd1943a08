/*
 * metrics.c -- GET /metrics, in Prometheus' text format (version
 * 0.0.4), admins only (the route table says so): the counters pipold
 * keeps in memory (metrics.h: request latency by route pattern, the
 * store's answers and bytes), then what the database says at scrape
 * time (deployments by state, reservations by state, the agents' bytes
 * and write rates) and the connection pool's use.
 *
 * Bounded cardinality: a label is a route pattern from the table, a
 * status code from a fixed list, or a state from the schema's CHECKs;
 * never a URL, a node, a user or an image name. Label values are
 * escaped all the same (backslash, double quote, newline).
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "http.h"
#include "metrics.h"
#include "pipold.h"

/* Latency buckets, seconds: a /boot or /agent answer takes about a
 * millisecond; a deploy transaction tens; a chunk sent to a slow
 * agent seconds; an upload's body minutes. */
static const double buckets[] = { 0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10,
    60 };
#define NBUCKETS	(sizeof(buckets) / sizeof(buckets[0]) + 1)	/* +Inf */
#define NSERIES		(METRICS_ROUTES_MAX + 2)	/* + store, none */

struct series {
	atomic_ullong bucket[NBUCKETS];	/* not cumulative: one per bucket */
	atomic_ullong usec;		/* the sum, microseconds */
};
static struct series series[NSERIES];

/* the store's answers: fixed codes, the rest counted as "other" */
static const unsigned store_codes[] = { 200, 206, 304, 404, 416 };
#define NSTORE	(sizeof(store_codes) / sizeof(store_codes[0]) + 1)
static atomic_ullong store_answers[NSTORE];
static atomic_ullong store_bytes;

static _Thread_local struct timespec req_t0;
static _Thread_local int req_begun;

void
metrics_request_begin(void)
{
	clock_gettime(CLOCK_MONOTONIC, &req_t0);
	req_begun = 1;
}

static int
series_ix(int route)
{
	if (route == METRICS_ROUTE_STORE)
		return METRICS_ROUTES_MAX;
	if (route < 0 || route >= METRICS_ROUTES_MAX)
		return METRICS_ROUTES_MAX + 1;
	return route;
}

void
metrics_request_end(int route)
{
	struct series *s = &series[series_ix(route)];
	struct timespec t;
	unsigned long long us;
	double sec;
	size_t b;

	if (!req_begun)		/* a connection closed by the shutdown */
		return;
	req_begun = 0;
	clock_gettime(CLOCK_MONOTONIC, &t);
	us = (unsigned long long)(t.tv_sec - req_t0.tv_sec) * 1000000ULL +
	    (unsigned long long)((t.tv_nsec - req_t0.tv_nsec) / 1000);
	sec = (double)us / 1e6;
	for (b = 0; b < NBUCKETS - 1 && sec > buckets[b]; b++)
		;
	atomic_fetch_add(&s->bucket[b], 1);
	atomic_fetch_add(&s->usec, us);
}

void
metrics_store(unsigned status, uint64_t bytes)
{
	size_t i;

	for (i = 0; i < NSTORE - 1 && store_codes[i] != status; i++)
		;
	atomic_fetch_add(&store_answers[i], 1);
	atomic_fetch_add(&store_bytes, bytes);
}

/* A label value, escaped as the text format wants. */
static void
put_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void
put_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One route's histogram, from a snapshot so that the buckets, the
 * count and +Inf agree with each other. */
static void
put_series(FILE *f, const char *route, struct series *s)
{
	static const char *const h = "pipol_http_request_duration_seconds";
	unsigned long long n[NBUCKETS], cum = 0;
	size_t b;

	for (b = 0; b < NBUCKETS; b++)
		cum += n[b] = atomic_load(&s->bucket[b]);
	if (cum == 0)
		return;		/* never asked: no series */
	cum = 0;
	for (b = 0; b < NBUCKETS; b++) {
		cum += n[b];
		fprintf(f, "%s_bucket{route=\"", h);
		put_label(f, route);
		if (b < NBUCKETS - 1)
			fprintf(f, "\",le=\"%g\"} %llu\n", buckets[b], cum);
		else
			fprintf(f, "\",le=\"+Inf\"} %llu\n", cum);
	}
	fprintf(f, "%s_sum{route=\"", h);
	put_label(f, route);
	fprintf(f, "\"} %.6f\n%s_count{route=\"", (double)atomic_load(
	    &s->usec) / 1e6, h);
	put_label(f, route);
	fprintf(f, "\"} %llu\n", cum);
}

static void
put_requests(FILE *f)
{
	char name[96];
	int i;

	put_head(f, "pipol_http_request_duration_seconds", "histogram",
	    "Time from a request's header to its answer sent, by route "
	    "pattern.");
	for (i = 0; i < METRICS_ROUTES_MAX && http_routes[i].path != NULL;
	    i++) {
		snprintf(name, sizeof(name), "%s %s", http_routes[i].method,
		    http_routes[i].path);
		put_series(f, name, &series[i]);
	}
	put_series(f, "store", &series[METRICS_ROUTES_MAX]);
	put_series(f, "none", &series[METRICS_ROUTES_MAX + 1]);
}

static void
put_store(FILE *f)
{
	size_t i;

	put_head(f, "pipol_store_responses_total", "counter",
	    "Answers on /images/ and /chunks/ by status: 304 is a cache's "
	    "copy still good (If-None-Match), 206 a range.");
	for (i = 0; i < NSTORE; i++) {
		if (i < NSTORE - 1)
			fprintf(f, "pipol_store_responses_total{code=\"%u\"} "
			    "%llu\n", store_codes[i],
			    atomic_load(&store_answers[i]));
		else
			fprintf(f, "pipol_store_responses_total{code=\"other\"}"
			    " %llu\n", atomic_load(&store_answers[i]));
	}
	put_head(f, "pipol_store_sent_bytes_total", "counter",
	    "Bytes of store files queued in answers (200 and 206).");
	fprintf(f, "pipol_store_sent_bytes_total %llu\n",
	    atomic_load(&store_bytes));
}

static void
put_pool(FILE *f, struct pipold *pd)
{
	int nopen, nidle;

	pthread_mutex_lock(&pd->pool.mu);
	nopen = pd->pool.nopen;
	nidle = pd->pool.nidle;
	pthread_mutex_unlock(&pd->pool.mu);
	put_head(f, "pipol_db_pool_connections", "gauge",
	    "Database connections of pipold's pool, lent out or idle.");
	fprintf(f, "pipol_db_pool_connections{state=\"in_use\"} %d\n"
	    "pipol_db_pool_connections{state=\"idle\"} %d\n",
	    nopen - nidle, nidle);
	put_head(f, "pipol_db_pool_max", "gauge",
	    "The pool's size: requests wait when all are lent out.");
	fprintf(f, "pipol_db_pool_max %d\n", DB_POOL_MAX);
}

/* A two-column statement (label value, number) as one metric. */
static int
put_grouped(FILE *f, PGconn *db, const char *sql, const char *name,
    const char *label, const char *type, const char *help)
{
	PGresult *r = db_query(db, sql, 0, NULL);
	int i;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return -1;
	}
	put_head(f, name, type, help);
	for (i = 0; i < PQntuples(r); i++) {
		fprintf(f, "%s{%s=\"", name, label);
		put_label(f, PQgetvalue(r, i, 0));
		fprintf(f, "\"} %s\n", PQgetvalue(r, i, 1));
	}
	PQclear(r);
	return 0;
}

/*
 * The agents' bytes, and their writes: a write is the time from a
 * deployment's 'writing' transition to its next one, for the bytes it
 * wrote. rate(bytes) / rate(seconds) is the pool's write rate.
 */
static int
put_agents(FILE *f, PGconn *db)
{
	PGresult *r = db_query(db, "SELECT coalesce(sum(bytes_fetched), 0), "
	    "coalesce(sum(bytes_written), 0), (SELECT coalesce(sum(d."
	    "bytes_written), 0) || ' ' || coalesce(sum(extract(epoch FROM "
	    "nx.at - w.at)), 0)::numeric(20,3) || ' ' || count(*) FROM "
	    "deployments d JOIN deployment_transitions w ON w.deployment_id "
	    "= d.id AND w.state = 'writing' JOIN LATERAL (SELECT min(t.at) "
	    "AS at FROM deployment_transitions t WHERE t.deployment_id = d.id "
	    "AND t.at > w.at) nx ON nx.at IS NOT NULL) FROM deployments", 0,
	    NULL);
	char wb[32], ws[32], wn[32];

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
	    sscanf(PQgetvalue(r, 0, 2), "%31s %31s %31s", wb, ws, wn) != 3) {
		PQclear(r);
		return -1;
	}
	put_head(f, "pipol_agent_fetched_bytes_total", "counter",
	    "Bytes the agents fetched, over every deployment.");
	fprintf(f, "pipol_agent_fetched_bytes_total %s\n", PQgetvalue(r, 0, 0));
	put_head(f, "pipol_agent_written_bytes_total", "counter",
	    "Bytes the agents wrote to disk, over every deployment.");
	fprintf(f, "pipol_agent_written_bytes_total %s\n", PQgetvalue(r, 0, 1));
	put_head(f, "pipol_agent_write_bytes_total", "counter",
	    "Bytes written by the deployments whose write phase ended.");
	fprintf(f, "pipol_agent_write_bytes_total %s\n", wb);
	put_head(f, "pipol_agent_write_seconds_total", "counter",
	    "Seconds those write phases took.");
	fprintf(f, "pipol_agent_write_seconds_total %s\n", ws);
	put_head(f, "pipol_agent_writes_total", "counter",
	    "Write phases that ended.");
	fprintf(f, "pipol_agent_writes_total %s\n", wn);
	PQclear(r);
	return 0;
}

static int
put_database(FILE *f, PGconn *db)
{
	if (put_grouped(f, db, "SELECT state, count(*) FROM deployments "
	    "GROUP BY state ORDER BY state", "pipol_deployments", "state",
	    "gauge", "Deployments by state (ready and failed: all that "
	    "ever ended so).") < 0)
		return -1;
	if (put_grouped(f, db, "SELECT reservation_state(r), count(*) FROM "
	    "reservations r GROUP BY 1 ORDER BY 1", "pipol_reservations",
	    "state", "gauge", "Reservations by state now (waiting, running, "
	    "ended, released, expired).") < 0)
		return -1;
	return put_agents(f, db);
}

enum MHD_Result
api_metrics(struct http_req *rq)
{
	char *text = NULL;
	size_t len = 0;
	enum MHD_Result rc;
	FILE *f;
	int bad;

	if ((f = open_memstream(&text, &len)) == NULL)
		return http_error(rq->c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory");
	put_requests(f);
	put_store(f);
	put_pool(f, rq->pd);
	bad = put_database(f, rq->db) < 0;
	if (fclose(f) != 0 || bad) {
		free(text);
		return http_error(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "metrics: database error");
	}
	rc = http_reply(rq->c, MHD_HTTP_OK,
	    "text/plain; version=0.0.4; charset=utf-8", text);
	free(text);
	return rc;
}
