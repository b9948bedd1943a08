/*
 * api_refresh.c -- image refresh over the API (schema 018), admins only
 * (http.c's route table):
 *
 *   POST /api/images/NAME/refresh  {"update": CMD, "test": CMD,
 *        "promote": bool, "schedule": "weekly", "profile": NAME}
 *        a refresh of NAME's current version now (refresh.c moves it
 *        on); with schedule, again every week with the same options
 *   GET  /api/images/NAME/history  its refreshes, newest first, with
 *        their steps, durations, reasons and chunk figures
 *
 * The commands run as root on a node the admin reserves, through sh -c:
 * they are the admin's to write, bounded (REFRESH_CMD_MAX) and never
 * read by a shell on pipold's side.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "jobs.h"
#include "perr.h"
#include "pipold.h"
#include "refresh.h"
#include "store.h"

#define HISTORY_MAX	50	/* refreshes shown, newest first */

/* a command of the body: absent (NULL, the default) or 1..MAX bytes
 * without NUL; -1 when present but bad */
static int
cmd_field(json_t *o, const char *k, const char **out)
{
	json_t *v = json_object_get(o, k);
	size_t n;

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return -1;
	n = json_string_length(v);
	if (n == 0 || n > REFRESH_CMD_MAX || strlen(json_string_value(v)) != n)
		return -1;
	*out = json_string_value(v);
	return 0;
}

/* the request's fields into q; 0, or -1 (400) */
static int
refresh_args(json_t *o, struct refresh_req *q, const char **sched)
{
	json_t *p = json_object_get(o, "promote");
	json_t *pr = json_object_get(o, "profile");

	*sched = json_string_value(json_object_get(o, "schedule"));
	if (cmd_field(o, "update", &q->update) < 0 ||
	    cmd_field(o, "test", &q->test) < 0 ||
	    (p != NULL && !json_is_boolean(p)) ||
	    (pr != NULL && (!json_is_string(pr) ||
	    json_string_length(pr) > 64)) ||
	    (json_object_get(o, "schedule") != NULL &&
	    (*sched == NULL || strcmp(*sched, "weekly") != 0)))
		return -1;
	q->promote = json_is_true(p);
	q->profile = json_string_value(pr);
	return 0;
}

/* --schedule weekly: the image's schedule set to these options */
static int
schedule_set(PGconn *db, long long uid, const struct refresh_req *q)
{
	const char *params[6];
	char u[24];
	PGresult *r;
	int rc;

	snprintf(u, sizeof(u), "%lld", uid);
	params[0] = q->image;
	params[1] = u;
	params[2] = q->profile;
	params[3] = q->update ? q->update : refresh_update_default;
	params[4] = q->test ? q->test : refresh_test_default;
	params[5] = q->promote ? "t" : "f";
	r = db_query(db, "INSERT INTO refresh_schedules (image, user_id, "
	    "every, profile, update_cmd, test_cmd, promote) VALUES ($1, $2, "
	    "'weekly', $3, $4, $5, $6) ON CONFLICT (image) DO UPDATE SET "
	    "user_id = EXCLUDED.user_id, profile = EXCLUDED.profile, "
	    "update_cmd = EXCLUDED.update_cmd, test_cmd = EXCLUDED.test_cmd, "
	    "promote = EXCLUDED.promote, last_at = now()", 6, params);
	rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
	PQclear(r);
	return rc;
}

enum MHD_Result
api_refresh_add(struct http_req *rq)
{
	char name[STORE_NAME_MAX + 1], id[24];
	struct refresh_req q = { .image = name };
	const char *sched;
	unsigned from;
	struct perr e;

	if (image_from_url(rq->url, name) < 0)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "image name: 1 "
		    "to 64 characters, only a-z, 0-9 and (not first) - _ .");
	if (refresh_args(rq->o, &q, &sched) < 0)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "want {\"update"
		    "\": CMD, \"test\": CMD, \"promote\": bool, \"schedule\": "
		    "\"weekly\", \"profile\": NAME}, all optional; a command: "
		    "1 to 4096 bytes");
	if (refresh_new(rq->pd, rq->db, rq->who.id, &q, id, &from, &e) < 0)
		return http_perr(rq->c, &e);
	if (sched != NULL && schedule_set(rq->db, rq->who.id, &q) < 0)
		return http_error(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "refresh started, but its schedule was not recorded");
	jobs_nudge();
	return http_json(rq->c, MHD_HTTP_CREATED, json_pack("{s:I, s:s, s:i, "
	    "s:b, s:s?}", "refresh", (json_int_t)strtoll(id, NULL, 10),
	    "image", name, "from_version", (int)from, "promote", q.promote,
	    "schedule", sched));
}

enum MHD_Result
api_refresh_history(struct http_req *rq)
{
	char name[STORE_NAME_MAX + 1], lim[16];
	const char *params[2] = { name, lim };
	enum MHD_Result rc;
	PGresult *r;

	if (image_from_url(rq->url, name) < 0)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "image name: 1 "
		    "to 64 characters, only a-z, 0-9 and (not first) - _ .");
	snprintf(lim, sizeof(lim), "%d", HISTORY_MAX);
	r = db_query(rq->db, "SELECT json_build_object('image', $1::text, "
	    "'schedule', (SELECT json_build_object('every', every, 'last', "
	    "last_at, 'promote', promote) FROM refresh_schedules WHERE image "
	    "= $1), 'refreshes', refresh_history($1, $2))", 2, params);
	rc = http_pgjson(rq->c, r, MHD_HTTP_OK, "history");
	PQclear(r);
	return rc;
}
