/*
 * api_policy.c -- who may use what: groups of users, queue grants, the
 * site's reservation horizon, per-user limits. The rules themselves are
 * enforced by the schema (009_policy.sql: policy_check, called by
 * reserve() and extend(), so every path obeys); this file lets admins
 * change them, each change and its event in one transaction, and lets
 * a user see the site's horizon and their own limits.
 *
 *   GET  /api/groups                 groups and members (admin)
 *   POST /api/groups                 {"name", "remove"} (admin)
 *   POST /api/groups/members         {"group", "user", "remove"} (admin)
 *   GET  /api/grants                 every queue grant (admin)
 *   POST /api/grants                 {"queue", "user"|"group", "remove"}
 *                                    (admin)
 *   GET  /api/site                   the horizon; the caller's limits
 *   POST /api/site                   {"horizon_days"} (admin)
 *   POST /api/users/NAME/limits      {"max_reservations",
 *                                    "max_node_hours"} (admin; 0: none)
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "pipold.h"

#define POLICY_NAME_MAX		32	/* users, groups, queues */
#define POLICY_LIMIT_MAX	1000000	/* reservations, node-hours */
#define POLICY_HORIZON_MAX	3660	/* days: the schema's bound */

/* One admin change: a statement and its event, in one transaction. */
struct change {
	const struct caller *who;
	const char *sql;
	const char *params[4];
	int n;
	const char *what;	/* for errors: "group", "grant" */
	const char *kind;	/* the event's */
	json_t *detail;		/* the event's (borrowed) */
	struct http_fail f;
};

static int
change_tx(PGconn *db, void *arg)
{
	struct change *ch = arg;
	PGresult *r;
	int k = 0;

	r = db_query(db, ch->sql, ch->n, ch->params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK &&
	    PQresultStatus(r) != PGRES_COMMAND_OK)
		k = http_fail_sql(&ch->f, r, ch->what);
	else
		db_event(db, ch->who->name, ch->kind, json_incref(ch->detail));
	PQclear(r);
	return k;
}

/* Run ch; 200 with the request as the answer, or the refusal. */
static enum MHD_Result
change_run(struct http_req *rq, struct change *ch)
{
	int tx;

	ch->who = &rq->who;
	http_fail_set(&ch->f, MHD_HTTP_CONFLICT, "conflicts with another "
	    "request, try again");
	if ((tx = db_tx(rq->db, change_tx, ch)) == DB_TX_FAILED)
		http_fail_set(&ch->f, MHD_HTTP_SERVICE_UNAVAILABLE, "database "
		    "error");
	if (tx < 0)
		return http_fail_send(rq->c, &ch->f);
	return http_json(rq->c, MHD_HTTP_OK, json_incref(ch->detail));
}

/* A name field: a string of 1 to POLICY_NAME_MAX bytes (the schema
 * checks its characters), else NULL. */
static const char *
name_field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > POLICY_NAME_MAX)
		return NULL;
	return json_string_value(v);
}

/* "remove": absent or a boolean; -1 when something else */
static int
remove_field(json_t *o)
{
	json_t *v = json_object_get(o, "remove");

	if (v == NULL)
		return 0;
	return json_is_boolean(v) ? json_is_true(v) : -1;
}

/* GET of one statement's JSON answer */
static enum MHD_Result
show(struct http_req *rq, const char *sql, int n, const char *const *params,
    const char *what)
{
	enum MHD_Result rc;
	PGresult *r;

	r = db_query(rq->db, sql, n, params);
	rc = http_pgjson(rq->c, r, MHD_HTTP_OK, what);
	PQclear(r);
	return rc;
}

enum MHD_Result
api_group_list(struct http_req *rq)
{
	return show(rq, "SELECT json_build_object('groups', coalesce("
	    "json_agg(json_build_object('name', g.name, 'members', (SELECT "
	    "coalesce(json_agg(u.name ORDER BY u.name), '[]') FROM "
	    "group_members m JOIN users u ON u.id = m.user_id WHERE "
	    "m.group_id = g.id)) ORDER BY g.name), '[]')) FROM groups g", 0,
	    NULL, "groups");
}

/* POST /api/groups {"name", "remove"} */
enum MHD_Result
api_group_set(struct http_req *rq)
{
	struct change ch = { .sql = "SELECT group_set($1, $2::boolean)",
	    .n = 2, .what = "group", .detail = rq->o };
	int rm = remove_field(rq->o);

	if ((ch.params[0] = name_field(rq->o, "name")) == NULL || rm < 0)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "want "
		    "{\"name\": GROUP, \"remove\": bool}");
	ch.params[1] = rm ? "f" : "t";
	ch.kind = rm ? "group.rm" : "group.add";
	return change_run(rq, &ch);
}

/* POST /api/groups/members {"group", "user", "remove"} */
enum MHD_Result
api_group_member(struct http_req *rq)
{
	struct change ch = { .sql = "SELECT group_member_set($1, $2, "
	    "$3::boolean)", .n = 3, .what = "group", .detail = rq->o };
	int rm = remove_field(rq->o);

	if ((ch.params[0] = name_field(rq->o, "group")) == NULL ||
	    (ch.params[1] = name_field(rq->o, "user")) == NULL || rm < 0)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "want "
		    "{\"group\": GROUP, \"user\": USER, \"remove\": bool}");
	ch.params[2] = rm ? "f" : "t";
	ch.kind = rm ? "group.member.rm" : "group.member.add";
	return change_run(rq, &ch);
}

enum MHD_Result
api_grant_list(struct http_req *rq)
{
	return show(rq, "SELECT json_build_object('grants', coalesce("
	    "json_agg(json_build_object('queue', q.name, 'user', u.name, "
	    "'group', g.name) ORDER BY q.name, g.name NULLS FIRST, u.name), "
	    "'[]')) FROM queue_grants qg JOIN queues q ON q.id = qg.queue_id "
	    "LEFT JOIN users u ON u.id = qg.user_id LEFT JOIN groups g ON "
	    "g.id = qg.group_id", 0, NULL, "grants");
}

/* POST /api/grants {"queue", "user" | "group", "remove"} */
enum MHD_Result
api_grant_set(struct http_req *rq)
{
	struct change ch = { .sql = "SELECT queue_grant_set($1, $2, $3, "
	    "$4::boolean)", .n = 4, .what = "grant", .detail = rq->o };
	int rm = remove_field(rq->o);

	ch.params[1] = name_field(rq->o, "user");
	ch.params[2] = name_field(rq->o, "group");
	if ((ch.params[0] = name_field(rq->o, "queue")) == NULL ||
	    (ch.params[1] == NULL) == (ch.params[2] == NULL) ||
	    json_object_size(rq->o) != 2u + (json_object_get(rq->o,
	    "remove") != NULL) || rm < 0)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "want "
		    "{\"queue\": QUEUE, \"user\": USER or \"group\": GROUP, "
		    "\"remove\": bool}");
	ch.params[3] = rm ? "f" : "t";
	ch.kind = rm ? "queue.revoke" : "queue.grant";
	return change_run(rq, &ch);
}

/* GET /api/site: the horizon, and the caller's limits and holdings */
enum MHD_Result
api_site_show(struct http_req *rq)
{
	const char *params[1];
	char uid[24];

	snprintf(uid, sizeof(uid), "%lld", rq->who.id);
	params[0] = uid;
	return show(rq, "SELECT json_build_object('horizon_days', "
	    "(SELECT horizon_days FROM site_policy), 'user', u.name, "
	    "'max_reservations', u.max_reservations, 'max_node_hours', "
	    "u.max_node_hours, 'reservations', h.n, 'node_hours', "
	    "round(h.node_hours, 1)) FROM users u, user_holdings(u.id, 0) h "
	    "WHERE u.id = $1", 1, params, "site");
}

/* A whole number in lo..hi from a JSON field, as text in buf; NULL
 * when absent, "" when bad. */
static const char *
int_field(json_t *o, const char *key, long long lo, long long hi,
    char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return NULL;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return "";
	snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	return buf;
}

/* POST /api/site {"horizon_days"} */
enum MHD_Result
api_site_set(struct http_req *rq)
{
	struct change ch = { .sql = "UPDATE site_policy SET horizon_days = "
	    "$1::integer", .n = 1, .what = "site", .kind = "site.set",
	    .detail = rq->o };
	char days[24];

	ch.params[0] = int_field(rq->o, "horizon_days", 1,
	    POLICY_HORIZON_MAX, days, sizeof(days));
	if (ch.params[0] == NULL || ch.params[0][0] == '\0')
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "want "
		    "{\"horizon_days\": 1 to 3660}");
	return change_run(rq, &ch);
}

/* POST /api/users/NAME/limits {"max_reservations", "max_node_hours"}:
 * a field absent is left as it is; 0 is unlimited. */
enum MHD_Result
api_user_limits(struct http_req *rq)
{
	static const char prefix[] = "/api/users/";
	struct change ch = { .sql = "UPDATE users SET max_reservations = "
	    "CASE WHEN $2::integer IS NULL THEN max_reservations ELSE "
	    "nullif($2::integer, 0) END, max_node_hours = CASE WHEN "
	    "$3::integer IS NULL THEN max_node_hours ELSE nullif($3::integer, "
	    "0) END FROM (SELECT policy_user($1) AS id) p WHERE users.id = p.id",
	    .n = 3, .what = "user",
	    .kind = "user.limits" };
	const char *name = rq->url + sizeof(prefix) - 1;
	char user[POLICY_NAME_MAX + 1], nr[24], nh[24];
	enum MHD_Result rc;
	size_t len = strcspn(name, "/");

	if (len == 0 || len > POLICY_NAME_MAX)
		return http_error(rq->c, MHD_HTTP_NOT_FOUND, "no such user");
	snprintf(user, sizeof(user), "%.*s", (int)len, name);
	ch.params[0] = user;
	ch.params[1] = int_field(rq->o, "max_reservations", 0,
	    POLICY_LIMIT_MAX, nr, sizeof(nr));
	ch.params[2] = int_field(rq->o, "max_node_hours", 0,
	    POLICY_LIMIT_MAX, nh, sizeof(nh));
	if ((ch.params[1] && ch.params[1][0] == '\0') ||
	    (ch.params[2] && ch.params[2][0] == '\0') ||
	    (ch.params[1] == NULL && ch.params[2] == NULL))
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "want "
		    "{\"max_reservations\": N, \"max_node_hours\": N}, 0 to "
		    "1000000, 0: unlimited");
	ch.detail = json_pack("{s:s, s:O}", "user", user, "limits", rq->o);
	rc = change_run(rq, &ch);
	json_decref(ch.detail);
	return rc;
}
