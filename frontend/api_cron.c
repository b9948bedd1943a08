/*
 * api_cron.c -- pipol cron (schema 020), as users ask:
 *
 *   POST   /api/cron   a job's request as POST /api/jobs takes it (no
 *                      source) and "schedule": "nightly", "weekly" or
 *                      a cron expression "M H DOM MON DOW" (UTC)
 *   GET    /api/cron[?all=1]       yours (admins: all=1, everyone's)
 *   DELETE /api/cron/KEY           KEY: an entry's id, or the name of
 *   POST   /api/cron/KEY/pause     one of your own
 *   POST   /api/cron/KEY/resume    (next firing: the first from now)
 *
 * A user acts only on their own entries (cron_mine: others' are "no
 * such entry of yours"), admins on all. The expression is parsed here,
 * strictly (cron_expr.c); its first firing computed from the cron's
 * clock (cron_now()).
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cron.h"
#include "cron_expr.h"
#include "pipold.h"
#include "sched.h"

/* The first firing after the cron's now of expr, or of window win's
 * opening when expr is NULL; 0, or the refusal queued in *rc */
static int
cron_first(struct http_req *rq, const char *win, const char *expr,
    char nxt[24], enum MHD_Result *rc)
{
	const char *params[1] = { win };
	struct perr e;
	int64_t next;
	PGresult *r;
	int k;

	r = db_query(rq->db, "SELECT extract(epoch FROM cron_now())::bigint, "
	    "(SELECT opens FROM cron_windows WHERE name = $1)", 1, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		*rc = http_sql_error(rq->c, r, "cron");
		PQclear(r);
		return -1;
	}
	k = cron_next_of(expr ? expr : PQgetvalue(r, 0, 1), strtoll(
	    PQgetvalue(r, 0, 0), NULL, 10), &next, &e);
	PQclear(r);
	if (k < 0) {
		*rc = http_perr(rq->c, &e);
		return -1;
	}
	snprintf(nxt, 24, "%lld", (long long)next);
	return 0;
}

enum MHD_Result
api_cron_add(struct http_req *rq)
{
	const char *sched = json_string_value(json_object_get(rq->o,
	    "schedule")), *params[11], *win = NULL, *expr = NULL;
	struct job_req jr;
	enum MHD_Result rc;
	char nxt[24];
	PGresult *r;

	if (sched == NULL)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "schedule: "
		    "\"nightly\", \"weekly\" or \"M H DOM MON DOW\"");
	if (strcmp(sched, "nightly") == 0 || strcmp(sched, "weekly") == 0)
		win = sched;
	else
		expr = sched;
	if (cron_first(rq, win, expr, nxt, &rc) < 0)
		return rc;
	if (job_req_parse(rq, rq->o, &jr, &rc) < 0)
		return rc;
	params[0] = jr.uid;
	params[1] = jr.name;
	params[2] = win;
	params[3] = expr;
	params[4] = jr.argv;
	params[5] = jr.imgs;
	params[6] = jr.n;
	params[7] = jr.prof;
	params[8] = jr.secs;
	params[9] = jr.keep;
	params[10] = nxt;
	r = db_query(rq->db, "SELECT cron_add($1, $2, $3, $4, $5::jsonb, $6, "
	    "$7, $8, $9, $10, to_timestamp($11::bigint))", 11, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = job_req_sql_error(rq, r, "cron");
	else {
		db_event(rq->db, rq->who.name, "cron.add", json_pack("{s:s, s:s, "
		    "s:s}", "id", PQgetvalue(r, 0, 0), "name", jr.name,
		    "schedule", sched));
		rc = http_json(rq->c, MHD_HTTP_CREATED, json_pack("{s:I, s:I}",
		    "id", (json_int_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10),
		    "next", (json_int_t)strtoll(nxt, NULL, 10)));
	}
	PQclear(r);
	job_req_free(&jr);
	return rc;
}

enum MHD_Result
api_cron_list(struct http_req *rq)
{
	const char *all = MHD_lookup_connection_value(rq->c,
	    MHD_GET_ARGUMENT_KIND, "all"), *params[2];
	enum MHD_Result rc;
	char uid[24];
	PGresult *r;

	snprintf(uid, sizeof(uid), "%lld", rq->who.id);
	params[0] = uid;
	params[1] = rq->who.admin && all != NULL ? "t" : "f";
	r = db_query(rq->db, "SELECT json_build_object('entries', coalesce("
	    "json_agg(json_build_object('id', c.id, 'name', c.name, 'user', "
	    "u.name, 'schedule', coalesce(c.win, c.expr), 'argv', c.argv, "
	    "'images', c.images, 'count', c.per_image, 'seconds', c.secs, "
	    "'paused', c.paused, 'next', to_char(c.next_fire AT TIME ZONE "
	    "'UTC', 'YYYY-MM-DD HH24:MI'), 'last', to_char(c.last_fire AT TIME "
	    "ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), 'job', c.last_job, 'error', "
	    "c.last_error, 'fired', c.fired) ORDER BY u.name, c.name), '[]')) "
	    "FROM cron_entries c JOIN users u ON u.id = c.user_id WHERE "
	    "c.user_id = $1 OR $2::boolean", 2, params);
	rc = http_pgjson(rq->c, r, MHD_HTTP_OK, "cron");
	PQclear(r);
	return rc;
}

/* KEY of /api/cron/KEY[/...]: 1..64 of the names' characters */
static int
cron_key(const char *s, char key[72], const char **rest)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
	    "TUVWXYZ0123456789._+-");

	if (n == 0 || n > 64 || (s[n] != '\0' && s[n] != '/'))
		return -1;
	snprintf(key, 72, "%.*s", (int)n, s);
	*rest = s + n;
	return 0;
}

/* One statement on the entry KEY of the caller ($1 user, $2 key) */
static enum MHD_Result
cron_do(struct http_req *rq, const char *key, const char *sql,
    const char *done, const char *ev)
{
	const char *params[2];
	enum MHD_Result rc;
	char uid[24];
	PGresult *r;

	if (rq->len != 0)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "no body here");
	snprintf(uid, sizeof(uid), "%lld", rq->who.id);
	params[0] = uid;
	params[1] = key;
	r = db_query(rq->db, sql, 2, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = http_sql_error(rq->c, r, "cron");
	else {
		db_event(rq->db, rq->who.name, ev, json_pack("{s:s}", "id",
		    PQgetvalue(r, 0, 0)));
		rc = http_json(rq->c, MHD_HTTP_OK, json_pack("{s:I, s:s}", "id",
		    (json_int_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10), "state",
		    done));
	}
	PQclear(r);
	return rc;
}

enum MHD_Result
api_cron_rm(struct http_req *rq)
{
	const char *rest;
	char key[72];

	if (cron_key(rq->url + strlen("/api/cron/"), key, &rest) < 0 ||
	    *rest != '\0')
		return http_error(rq->c, MHD_HTTP_NOT_FOUND, "no such call");
	return cron_do(rq, key, "DELETE FROM cron_entries WHERE id = "
	    "(SELECT (cron_mine($1, $2)).id) RETURNING id", "removed",
	    "cron.rm");
}

/* resume: the next firing from now, not the ones missed while paused */
static enum MHD_Result
cron_resume(struct http_req *rq, const char *key)
{
	char uid[24], nxt[24];
	const char *params[3] = { uid, key, nxt };
	enum MHD_Result rc;
	struct perr e;
	int64_t next;
	PGresult *r;
	int k;

	snprintf(uid, sizeof(uid), "%lld", rq->who.id);
	r = db_query(rq->db, "SELECT c.id, coalesce(c.expr, w.opens), extract("
	    "epoch FROM cron_now())::bigint FROM cron_mine($1, $2) c LEFT JOIN "
	    "cron_windows w ON w.name = c.win", 2, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = http_sql_error(rq->c, r, "cron");
		PQclear(r);
		return rc;
	}
	k = cron_next_of(PQgetvalue(r, 0, 1), strtoll(PQgetvalue(r, 0, 2),
	    NULL, 10), &next, &e);
	PQclear(r);
	if (k < 0)
		return http_perr(rq->c, &e);
	snprintf(nxt, sizeof(nxt), "%lld", (long long)next);
	r = db_query(rq->db, "UPDATE cron_entries SET paused = false, "
	    "next_fire = to_timestamp($3::bigint), last_error = NULL WHERE id = "
	    "(SELECT (cron_mine($1, $2)).id) RETURNING id", 3, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = http_sql_error(rq->c, r, "cron");
	else {
		db_event(rq->db, rq->who.name, "cron.resume", json_pack("{s:s}",
		    "id", PQgetvalue(r, 0, 0)));
		rc = http_json(rq->c, MHD_HTTP_OK, json_pack("{s:I, s:s, s:I}",
		    "id", (json_int_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10),
		    "state", "resumed", "next", (json_int_t)next));
	}
	PQclear(r);
	return rc;
}

/* POST /api/cron/KEY/pause, POST /api/cron/KEY/resume */
enum MHD_Result
api_cron_change(struct http_req *rq)
{
	const char *rest;
	char key[72];

	if (cron_key(rq->url + strlen("/api/cron/"), key, &rest) == 0) {
		if (strcmp(rest, "/pause") == 0)
			return cron_do(rq, key, "UPDATE cron_entries SET paused = "
			    "true WHERE id = (SELECT (cron_mine($1, $2)).id) "
			    "RETURNING id",
			    "paused", "cron.pause");
		if (strcmp(rest, "/resume") == 0) {
			if (rq->len != 0)
				return http_error(rq->c, MHD_HTTP_BAD_REQUEST,
				    "no body here");
			return cron_resume(rq, key);
		}
	}
	return http_error(rq->c, MHD_HTTP_NOT_FOUND, "no such call");
}
