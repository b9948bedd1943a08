/*
 * metrics.h -- what pipold counts for GET /metrics (metrics.c): request
 * latency by route pattern (the route table's index, never the raw URL:
 * the series are bounded by the table), the store's answers and bytes,
 * and, at scrape time, the database's view (deployments, reservations,
 * agent bytes and write rates) and the connection pool. Counters are
 * atomics: any request thread may count, no lock is taken.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdint.h>

#define METRICS_ROUTES_MAX	160	/* > the route table's length */
#define METRICS_ROUTE_STORE	(-2)	/* /images/, /chunks/ */
#define METRICS_ROUTE_NONE	(-1)	/* no route: 404, 405, refused early */

/* A request begins on this thread (libmicrohttpd: one thread per
 * connection, its requests one after the other). */
void metrics_request_begin(void);
/* ... and ended: route is an index into http_routes, or one of the
 * METRICS_ROUTE_ values; counted only when begun on this thread. */
void metrics_request_end(int route);
/* A store answer: its status (200, 206, 304, 416, 404) and the bytes
 * queued for it. */
void metrics_store(unsigned status, uint64_t bytes);

#endif
