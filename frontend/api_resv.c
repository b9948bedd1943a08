/*
 * api_resv.c -- reservations, licences and queues. The rules live in the
 * schema (002_reserve_deploy.sql: reserve, extend, release; the
 * exclusion constraint on reservation_nodes, which makes overlapping
 * reservations of a node impossible, is 001_init.sql's); this file
 * checks the request's shape, calls them with parameters, and answers.
 * Who may reserve what (grants, horizon, limits) is schema 009's, in
 * the same functions. A reservation's change and its event are one
 * transaction.
 *
 *   POST /api/reservations            reserve (now, at a date, or
 *                                     "asap": queued for the scheduler)
 *   GET  /api/reservations[?all=1]    yours (all: admins see everyone's),
 *                                     queued requests among them
 *   POST /api/reservations/ID/extend  {"seconds": N}
 *   POST /api/reservations/ID/release (a queued request: cancelled)
 *   POST /api/licences, GET /api/licences
 *   POST /api/queues, GET /api/queues
 *
 * And the expiry tick, a thread that ends reservations whose time is
 * over (resv_tick_start, from pipold's main). A queued request (schema
 * 015) is placed by the scheduler (sched.c), nudged here when nodes
 * may have come free.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "log.h"
#include "pipold.h"
#include "resv_end.h"
#include "sched.h"

#define RESV_NODES_MAX	1024	/* names in one request */

/* A whole number of seconds from a JSON field; -1 when not one. */
static long long
json_secs(json_t *v)
{
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > 10LL * 366 * 86400)
		return -1;
	return json_integer_value(v);
}

/* {"nodes": [names]} as a PostgreSQL array literal; NULL when bad. */
static char *
names_array(json_t *a, char *err, size_t errlen)
{
	size_t i, len = 3, n;
	const char *s, *p;
	char *out, *w;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > RESV_NODES_MAX) {
		snprintf(err, errlen, "\"nodes\": a list of 1 to %d names",
		    RESV_NODES_MAX);
		return NULL;
	}
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > 63) {
			snprintf(err, errlen, "\"nodes\": item %zu is not a "
			    "node name", i + 1);
			return NULL;
		}
		/* names are checked by the schema; quote what is not a
		 * letter, digit or '-' would break the literal: refuse it */
		for (p = json_string_value(v); *p; p++)
			if (!(*p == '-' || (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9'))) {
				snprintf(err, errlen, "node %.63s: a name is "
				    "a-z 0-9 -", json_string_value(v));
				return NULL;
			}
		len += json_string_length(v) + 1;
	}
	if ((out = w = malloc(len)) == NULL)
		return NULL;
	*w++ = '{';
	json_array_foreach(a, i, v) {
		s = json_string_value(v);
		n = strlen(s);
		memcpy(w, s, n);
		w += n;
		*w++ = i + 1 < json_array_size(a) ? ',' : '}';
	}
	*w = '\0';
	return out;
}

/* The reservation id as JSON, with its nodes, range and state. */
static const char resv_json[] =
    "json_build_object('id', r.id, 'user', u.name, 'queue', q.name, "
    "'start', lower(r.during), 'end', upper(r.during), "
    "'state', reservation_state(r), "
    "'nodes', (SELECT coalesce(json_agg(n.name ORDER BY n.name), '[]') "
    "  FROM reservation_nodes rn JOIN nodes n ON n.id = rn.node_id "
    "  WHERE rn.reservation_id = r.id), "
    "'licences', (SELECT coalesce(json_object_agg(l.name, rl.count), '{}') "
    "  FROM reservation_licences rl JOIN licences l ON l.id = rl.licence_id "
    "  WHERE rl.reservation_id = r.id))";

/* A request of --asap as JSON (a: asap_requests, u, q; aq: its row of
 * asap_queue when queued): the reservation's fields, "start" the
 * expected one (null: unknown), and its place in the queue. */
static const char asap_json[] =
    "json_build_object('id', a.id, 'user', u.name, 'queue', q.name, "
    "'start', CASE WHEN a.state = 'queued' THEN asap_expected(a) END, "
    "'end', NULL, 'state', a.state, 'reason', a.reason, "
    "'nodes', coalesce(to_json(a.names), '[]'), 'count', a.cnt, "
    "'profile', a.profile, 'licences', a.licences, 'seconds', a.secs, "
    "'submitted', a.submitted, 'position', aq.position)";
static const char asap_from[] =
    "asap_requests a JOIN users u ON u.id = a.user_id JOIN queues q ON "
    "q.id = a.queue_id LEFT JOIN asap_queue aq ON aq.id = a.id";

/* Answer status with one reservation, read in the same connection. */
static enum MHD_Result
answer_resv(struct MHD_Connection *c, PGconn *db, unsigned status,
    const char *id)
{
	char sql[1024];
	const char *params[1] = { id };
	enum MHD_Result rc;
	PGresult *r;

	snprintf(sql, sizeof(sql), "SELECT %s FROM reservations r JOIN users "
	    "u ON u.id = r.user_id JOIN queues q ON q.id = r.queue_id "
	    "WHERE r.id = $1", resv_json);
	r = db_query(db, sql, 1, params);
	rc = http_pgjson(c, r, status, "reservation");
	PQclear(r);
	return rc;
}

/* Answer status with one request of --asap. */
static enum MHD_Result
answer_asap(struct MHD_Connection *c, PGconn *db, unsigned status,
    const char *id)
{
	const char *params[1] = { id };
	enum MHD_Result rc;
	char sql[1200];
	PGresult *r;

	snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE a.id = $1",
	    asap_json, asap_from);
	r = db_query(db, sql, 1, params);
	rc = http_pgjson(c, r, status, "request");
	PQclear(r);
	return rc;
}

/* 23P01 (a node taken since this statement looked: the exclusion
 * constraint) or 55P03 (a lock not available): for a request of any N
 * free nodes, another run may pick others. */
static int
resv_contested(PGresult *r)
{
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	return st != NULL && (strcmp(st, "23P01") == 0 ||
	    strcmp(st, "55P03") == 0);
}

/*
 * Reserve for who, from a checked request: shared by POST
 * /api/reservations and by a deploy that brings no reservation (inside
 * its transaction). The new id goes to idbuf, and its event is written
 * in the caller's transaction; on failure, *f says why.
 */
int
resv_take(PGconn *db, const struct caller *who, json_t *o, char *idbuf,
    size_t idlen, struct http_fail *f)
{
	json_t *nodes = json_object_get(o, "nodes");
	json_t *count = json_object_get(o, "count");
	json_t *profile = json_object_get(o, "profile");
	json_t *lics = json_object_get(o, "licences");
	json_t *at = json_object_get(o, "at");
	json_t *queue = json_object_get(o, "queue");
	char err[160], uid[24], cnt[24], secs[24], *arr = NULL, *lj = NULL;
	const char *params[8];
	long long s = json_secs(json_object_get(o, "seconds"));
	PGresult *r;
	int rc = 0;

	if (s < 0 || (nodes == NULL) == (count == NULL) ||
	    (count && (!json_is_integer(count) ||
	    json_integer_value(count) < 1 ||
	    json_integer_value(count) > RESV_NODES_MAX)) ||
	    (profile && !json_is_string(profile)) ||
	    (lics && !json_is_object(lics)) || (at && !json_is_string(at)) ||
	    (queue && !json_is_string(queue)))
		return http_fail_set(f, MHD_HTTP_BAD_REQUEST, "want \"nodes\": "
		    "[names] or \"count\": N, and \"seconds\": N; optional "
		    "\"profile\", \"licences\": {name: N}, \"at\", \"queue\"");
	if (nodes != NULL && (arr = names_array(nodes, err, sizeof(err)))
	    == NULL)
		return http_fail_set(f, MHD_HTTP_BAD_REQUEST, err);
	snprintf(uid, sizeof(uid), "%lld", who->id);
	snprintf(cnt, sizeof(cnt), "%lld", count ?
	    (long long)json_integer_value(count) : 0);
	snprintf(secs, sizeof(secs), "%lld", s);
	lj = lics ? json_dumps(lics, JSON_COMPACT) : NULL;
	params[0] = uid;
	params[1] = queue ? json_string_value(queue) : NULL;
	params[2] = arr;
	params[3] = count ? cnt : NULL;
	params[4] = profile ? json_string_value(profile) : NULL;
	params[5] = lj;
	params[6] = at ? json_string_value(at) : NULL;
	params[7] = secs;
	r = db_query(db, "SELECT reserve($1, $2, $3::text[], $4, $5, "
	    "$6::jsonb, $7::timestamptz, $8)", 8, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = http_fail_sql(f, r, "reserve");
		if (rc == -1 && count != NULL && resv_contested(r))
			rc = RESV_CONTESTED;
	} else
		snprintf(idbuf, idlen, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	free(arr);
	free(lj);
	if (rc == 0)
		db_event(db, who->name, "reservation.add", json_pack(
		    "{s:s, s:O}", "id", idbuf, "request", o));
	return rc;
}

/* POST /api/reservations, as one transaction (db_tx) */
struct resv_add {
	const struct caller *who;
	json_t *o;
	char id[24];
	struct http_fail f;
};

static int
resv_add_tx(PGconn *db, void *arg)
{
	struct resv_add *ra = arg;

	return resv_take(db, ra->who, ra->o, ra->id, sizeof(ra->id), &ra->f);
}

/*
 * A request for N free nodes that lost a race for one (RESV_CONTESTED)
 * is run again, RESV_TRIES times at most, after a pause that grows and
 * is jittered so that the losers do not meet again: concurrent
 * requests that fit in what is free all succeed.
 */
#define RESV_TRIES		5
#define RESV_BACKOFF_MS		10	/* times the try, plus as much jitter */

/*
 * POST /api/reservations {"asap": true, ...}: the request checked as
 * reserve() would (but for its start), queued (asap_submit refuses one
 * that could never be placed) with its event, one transaction; 202
 * and the request, then a nudge to the scheduler.
 */
static int
asap_add_tx(PGconn *db, void *arg)
{
	struct resv_add *ra = arg;
	json_t *o = ra->o, *nodes = json_object_get(o, "nodes");
	json_t *count = json_object_get(o, "count");
	json_t *profile = json_object_get(o, "profile");
	json_t *lics = json_object_get(o, "licences");
	json_t *queue = json_object_get(o, "queue");
	char err[160], uid[24], cnt[24], secs[24], *arr = NULL, *lj = NULL;
	long long s = json_secs(json_object_get(o, "seconds"));
	const char *params[7];
	PGresult *r;
	int rc = 0;

	if (s < 0 || (nodes == NULL) == (count == NULL) ||
	    (count && (!json_is_integer(count) ||
	    json_integer_value(count) < 1 ||
	    json_integer_value(count) > RESV_NODES_MAX)) ||
	    (profile && !json_is_string(profile)) ||
	    (lics && !json_is_object(lics)) ||
	    (queue && !json_is_string(queue)))
		return http_fail_set(&ra->f, MHD_HTTP_BAD_REQUEST, "want "
		    "\"nodes\": [names] or \"count\": N, and \"seconds\": N; "
		    "optional \"profile\", \"licences\": {name: N}, \"queue\"");
	if (nodes != NULL && (arr = names_array(nodes, err, sizeof(err)))
	    == NULL)
		return http_fail_set(&ra->f, MHD_HTTP_BAD_REQUEST, err);
	snprintf(uid, sizeof(uid), "%lld", ra->who->id);
	snprintf(cnt, sizeof(cnt), "%lld", count ?
	    (long long)json_integer_value(count) : 0);
	snprintf(secs, sizeof(secs), "%lld", s);
	lj = lics ? json_dumps(lics, JSON_COMPACT) : NULL;
	params[0] = uid;
	params[1] = queue ? json_string_value(queue) : NULL;
	params[2] = arr;
	params[3] = count ? cnt : NULL;
	params[4] = profile ? json_string_value(profile) : NULL;
	params[5] = lj;
	params[6] = secs;
	r = db_query(db, "SELECT asap_submit($1, $2, $3::text[], $4, $5, "
	    "$6::jsonb, $7)", 7, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = http_fail_sql(&ra->f, r, "reserve");
	else
		snprintf(ra->id, sizeof(ra->id), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	free(arr);
	free(lj);
	if (rc == 0)
		db_event(db, ra->who->name, "reservation.queue", json_pack(
		    "{s:s, s:O}", "id", ra->id, "request", o));
	return rc;
}

static enum MHD_Result
api_asap_add(struct http_req *rq)
{
	struct resv_add ra = { .who = &rq->who, .o = rq->o };
	int tx;

	if (!json_is_true(json_object_get(rq->o, "asap")) ||
	    json_object_get(rq->o, "at") != NULL)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "\"asap\": "
		    "true, and no \"at\" with it");
	http_fail_set(&ra.f, MHD_HTTP_CONFLICT, "reserve: conflicts with "
	    "another request, try again");
	if ((tx = db_tx(rq->db, asap_add_tx, &ra)) == DB_TX_FAILED)
		http_fail_set(&ra.f, MHD_HTTP_SERVICE_UNAVAILABLE, "reserve: "
		    "database error");
	if (tx < 0)
		return http_fail_send(rq->c, &ra.f);
	sched_nudge();
	return answer_asap(rq->c, rq->db, MHD_HTTP_ACCEPTED, ra.id);
}

enum MHD_Result
api_resv_add(struct http_req *rq)
{
	struct resv_add ra = { .who = &rq->who, .o = rq->o };
	unsigned seed = (unsigned)(uintptr_t)&ra ^ (unsigned)time(NULL);
	int i, tx;

	if (json_object_get(rq->o, "asap") != NULL)
		return api_asap_add(rq);
	for (i = 1; ; i++) {
		http_fail_set(&ra.f, MHD_HTTP_CONFLICT, "reserve: conflicts "
		    "with another request, try again");
		tx = db_tx(rq->db, resv_add_tx, &ra);
		if (tx != RESV_CONTESTED || i == RESV_TRIES)
			break;
		usleep((useconds_t)(RESV_BACKOFF_MS * i +
		    rand_r(&seed) % (RESV_BACKOFF_MS * i)) * 1000);
	}
	if (tx == DB_TX_FAILED)
		http_fail_set(&ra.f, MHD_HTTP_SERVICE_UNAVAILABLE, "reserve: "
		    "database error");
	if (tx < 0)
		return http_fail_send(rq->c, &ra.f);
	return answer_resv(rq->c, rq->db, MHD_HTTP_CREATED, ra.id);
}

enum MHD_Result
api_resv_list(struct http_req *rq)
{
	const char *all = MHD_lookup_connection_value(rq->c,
	    MHD_GET_ARGUMENT_KIND, "all");
	const char *params[2];
	char sql[3000], uid[24];
	enum MHD_Result rc;
	PGresult *r;

	snprintf(uid, sizeof(uid), "%lld", rq->who.id);
	params[0] = uid;
	params[1] = all != NULL && rq->who.admin ? "t" : "f";
	/* ended and released ones of the last day stay on the list; so do
	 * requests cancelled or closed (with the reason); a placed one is
	 * the reservation of its id */
	snprintf(sql, sizeof(sql), "SELECT json_build_object('reservations', "
	    "coalesce(json_agg(j ORDER BY id), '[]')) FROM (SELECT r.id, %s "
	    "AS j FROM reservations r "
	    "JOIN users u ON u.id = r.user_id JOIN queues q ON q.id = "
	    "r.queue_id WHERE (r.user_id = $1 OR $2::boolean) AND "
	    "coalesce(r.released, upper(r.during)) > now() - interval '1 day' "
	    "UNION ALL SELECT a.id, %s FROM %s WHERE (a.user_id = $1 OR "
	    "$2::boolean) AND (a.state = 'queued' OR (a.state <> 'placed' AND "
	    "a.decided > now() - interval '1 day'))) s",
	    resv_json, asap_json, asap_from);
	r = db_query(rq->db, sql, 2, params);
	rc = http_pgjson(rq->c, r, MHD_HTTP_OK, "reservations");
	PQclear(r);
	return rc;
}

/* An extension or a release and its event, as one transaction */
struct resv_change {
	const struct caller *who;
	const char *id;
	long long secs;		/* 0: a release */
	int cancelled;		/* the release cancelled a queued request */
	struct http_fail f;
};

/* A release of a queued request (schema 015's asap_cancel, params
 * the caller and the id): 1 cancelled, with its event; 0 none queued
 * (a placed one is released as a reservation); < 0 refused, *f why. */
static int
asap_cancel(PGconn *db, struct resv_change *rc, const char **params)
{
	PGresult *r;
	int k = 0;

	r = db_query(db, "SELECT asap_cancel($1, $2)", 2, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		k = http_fail_sql(&rc->f, r, "release");
	else if (strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
		rc->cancelled = 1;
		db_event(db, rc->who->name, "reservation.cancel", json_pack(
		    "{s:s}", "id", rc->id));
		k = 1;
	}
	PQclear(r);
	return k;
}

static int
resv_change_tx(PGconn *db, void *arg)
{
	struct resv_change *rc = arg;
	const char *params[3];
	char uid[24], secs[24];
	PGresult *r;
	int k = 0;

	snprintf(uid, sizeof(uid), "%lld", rc->who->id);
	snprintf(secs, sizeof(secs), "%lld", rc->secs);
	params[0] = uid;
	params[1] = rc->id;
	params[2] = secs;
	if (rc->secs == 0 && (k = asap_cancel(db, rc, params)) != 0)
		return k > 0 ? 0 : k;
	r = db_query(db, rc->secs ? "SELECT extend($1, $2, $3)" :
	    "SELECT release($1, $2)", rc->secs ? 3 : 2, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		k = http_fail_sql(&rc->f, r, rc->secs ? "extend" : "release");
	else
		db_event(db, rc->who->name, rc->secs ? "reservation.extend" :
		    "reservation.release", json_pack("{s:s, s:I}", "id",
		    rc->id, "seconds", (json_int_t)rc->secs));
	PQclear(r);
	return k;
}

/* POST /api/reservations/ID/extend and /api/reservations/ID/release */
enum MHD_Result
api_resv_change(struct http_req *rq)
{
	static const char *const keys[] = { "seconds", NULL };
	static const char prefix[] = "/api/reservations/";
	const char *p = rq->url + sizeof(prefix) - 1;
	struct resv_change ch = { .who = &rq->who };
	struct MHD_Connection *c = rq->c;
	char id[24], err[128];
	enum MHD_Result rc;
	json_t *o = NULL;
	size_t n;
	int tx;

	n = strspn(p, "0123456789");
	if (n == 0 || n > 18 || (strcmp(p + n, "/extend") != 0 &&
	    strcmp(p + n, "/release") != 0))
		return http_error(c, MHD_HTTP_NOT_FOUND, "no such call");
	snprintf(id, sizeof(id), "%.*s", (int)n, p);
	ch.id = id;
	if (strcmp(p + n, "/extend") == 0) {
		if ((o = http_body_object(rq->body, rq->len, keys, err,
		    sizeof(err))) ==
		    NULL || (ch.secs = json_secs(json_object_get(o,
		    "seconds"))) < 0) {
			rc = http_error(c, MHD_HTTP_BAD_REQUEST, o ?
			    "want {\"seconds\": N}" : err);
			goto out;
		}
	} else if (rq->len != 0) {
		rc = http_error(c, MHD_HTTP_BAD_REQUEST, "release takes no "
		    "body");
		goto out;
	}
	http_fail_set(&ch.f, MHD_HTTP_CONFLICT, "reservation: conflicts "
	    "with another request, try again");
	if ((tx = db_tx(rq->db, resv_change_tx, &ch)) == DB_TX_FAILED)
		http_fail_set(&ch.f, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "reservation: database error");
	if (tx < 0)
		rc = http_fail_send(c, &ch.f);
	else if (ch.cancelled)
		rc = answer_asap(c, rq->db, MHD_HTTP_OK, id);
	else
		rc = answer_resv(c, rq->db, MHD_HTTP_OK, id);
	if (tx == 0 && ch.secs == 0 && !ch.cancelled)
		sched_nudge();	/* its nodes are free */
 out:
	json_decref(o);
	return rc;
}

/* GET of a small table, as {"key": [rows as objects]} */
static enum MHD_Result
list_rows(struct http_req *rq, const char *sql)
{
	enum MHD_Result rc;
	PGresult *r;

	r = db_query(rq->db, sql, 0, NULL);
	rc = http_pgjson(rq->c, r, MHD_HTTP_OK, "list");
	PQclear(r);
	return rc;
}

enum MHD_Result
api_licence_list(struct http_req *rq)
{
	return list_rows(rq, "SELECT json_build_object('licences', "
	    "coalesce(json_agg(json_build_object('name', l.name, 'total', "
	    "l.total, 'used_now', licence_used(l.id, tstzrange(now(), now(), "
	    "'[]'), 0)) ORDER BY l.name), '[]')) FROM licences l");
}

enum MHD_Result
api_queue_list(struct http_req *rq)
{
	return list_rows(rq, "SELECT json_build_object('queues', "
	    "coalesce(json_agg(json_build_object('name', name, 'max_nodes', "
	    "max_nodes, 'max_seconds', extract(epoch FROM max_duration)::bigint, "
	    "'hours_from', hours_from, 'hours_to', hours_to, 'priority', "
	    "priority) ORDER BY name), "
	    "'[]')) FROM queues");
}

/* An admin's INSERT ... ON CONFLICT DO UPDATE, its parameters the
 * fields of keys in order (the first, the name, a string); 201. */
static enum MHD_Result
admin_upsert(struct http_req *rq, const char *const *keys, const char *sql,
    const char *kind)
{
	struct MHD_Connection *c = rq->c;
	const char *params[6] = { NULL };
	char err[128], num[5][24];
	enum MHD_Result rc;
	json_t *v;
	PGresult *r;
	int i;

	for (i = 0; keys[i] != NULL && i < 6; i++) {
		v = json_object_get(rq->o, keys[i]);
		if (i == 0 && !json_is_string(v))
			return http_error(c, MHD_HTTP_BAD_REQUEST, "\"name\": "
			    "a string is needed");
		if (json_is_string(v))
			params[i] = json_string_value(v);
		else if (json_is_integer(v)) {
			snprintf(num[i - 1], sizeof(num[0]), "%lld",
			    (long long)json_integer_value(v));
			params[i] = num[i - 1];
		} else if (v != NULL) {
			snprintf(err, sizeof(err), "\"%s\": a string or a "
			    "number is needed", keys[i]);
			return http_error(c, MHD_HTTP_BAD_REQUEST, err);
		}
	}
	r = db_query(rq->db, sql, i, params);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = http_sql_error(c, r, params[0]);
	else {
		db_event(rq->db, rq->who.name, kind, json_incref(rq->o));
		rc = http_json(c, MHD_HTTP_CREATED, json_incref(rq->o));
	}
	PQclear(r);
	return rc;
}

/* POST /api/licences {"name", "total"} */
enum MHD_Result
api_licence_add(struct http_req *rq)
{
	static const char *const keys[] = { "name", "total", NULL };

	return admin_upsert(rq, keys, "INSERT INTO licences (name, total) VALUES "
	    "($1, $2::integer) ON CONFLICT (name) DO UPDATE SET total = "
	    "excluded.total", "licence.set");
}

/* POST /api/queues {"name", "max_nodes", "max_seconds", "hours_from",
 * "hours_to", "priority"}; a priority not given is left as it was
 * (0 for a new queue): the scheduler's order (schema 015). */
enum MHD_Result
api_queue_add(struct http_req *rq)
{
	static const char *const keys[] = { "name", "max_nodes",
	    "max_seconds", "hours_from", "hours_to", "priority", NULL };

	return admin_upsert(rq, keys, "INSERT INTO queues "
	    "(name, max_nodes, max_duration, hours_from, hours_to, priority) "
	    "VALUES ($1, coalesce($2::integer, 8), make_interval(secs => "
	    "coalesce($3::bigint, 86400)), $4::time, $5::time, "
	    "coalesce($6::integer, 0)) ON CONFLICT "
	    "(name) DO UPDATE SET max_nodes = excluded.max_nodes, "
	    "max_duration = excluded.max_duration, hours_from = "
	    "excluded.hours_from, hours_to = excluded.hours_to, priority = "
	    "coalesce($6::integer, queues.priority)", "queue.set");
}

/*
 * The expiry tick: every pd->reaper_sec (pipold --reaper-seconds,
 * REAPER_SEC_DEFAULT, pipold.h), reservations whose time
 * is over expire (reservations_expire(), schema 003), with what was in
 * flight under them; then the end actions queued (resv_end.c). Any
 * pipold sharing the database may run it; the function is idempotent,
 * the queue leased.
 */
static int tick_stop;		/* set by resv_tick_stop (__atomic) */
static pthread_t tick_thread;

static int
tick_stopped(void)
{
	return __atomic_load_n(&tick_stop, __ATOMIC_ACQUIRE);
}

static void *
tick_main(void *arg)
{
	struct pipold *pd = arg;
	PGresult *r;
	PGconn *db;
	int i;

	while (!tick_stopped()) {
		if ((db = db_get(pd)) != NULL && !db_turn_begin(db,
		    DB_TURN_REAPER)) {
			db_put(pd, db);	/* another pipold's turn */
			db = NULL;
		}
		if (db != NULL) {
			r = db_query(db, "SELECT reservations_expire()", 0,
			    NULL);
			if (PQresultStatus(r) == PGRES_TUPLES_OK &&
			    atoi(PQgetvalue(r, 0, 0)) > 0) {
				log_info("%s reservation(s) ended",
				    PQgetvalue(r, 0, 0));
				sched_nudge();	/* their nodes are free */
			}
			PQclear(r);
			tokens_tick(db);	/* api_token.c: hourly */
			netboot_tick(pd, db);	/* netboot.c: hourly */
			db_turn_end(db, DB_TURN_REAPER);
			db_put(pd, db);
			resv_end_tick(pd);	/* what the ends queued */
		}
		for (i = 0; i < pd->reaper_sec * 10 && !tick_stopped(); i++)
			usleep(100000);
	}
	return NULL;
}

int
resv_tick_start(struct pipold *pd, struct perr *e)
{
	if (pthread_create(&tick_thread, NULL, tick_main, pd) != 0)
		return perr_set(e, PE_FAIL, "cannot start the reservation "
		    "expiry tick");
	return 0;
}

void
resv_tick_stop(void)
{
	__atomic_store_n(&tick_stop, 1, __ATOMIC_RELEASE);
	pthread_join(tick_thread, NULL);
}
