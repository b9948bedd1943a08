/*
 * api_script.c -- what the agent runs in a deployed system:
 *
 *   POST   /api/scripts              {"kind", "name", "body": base64}
 *                                    add or replace (rc: the caller's
 *                                    own; postinstall: admins)
 *   GET    /api/scripts              the site's post-install scripts and
 *                                    the caller's rc scripts (admins:
 *                                    everyone's), without bodies
 *   GET    /api/scripts/KIND/NAME    one, with its body (postinstall:
 *                                    admins only)
 *   DELETE /api/scripts/KIND/NAME    remove one
 *   GET    /api/deployments/ID/log   the scripts a deployment ran: name,
 *                                    exit status, output (owner, admins)
 *   POST   /agent/log                {"script", "status", "output"}, by
 *                                    the deployment's agent (agent_api.c)
 *
 * Naming (schema 004): NAME or NAME.FILTER; rc names begin with "rc".
 * Bodies travel as base64 (a script may be a binary), at most 48 KiB:
 * larger things belong in a package the script installs. Every order
 * carries the site's post-install scripts and its user's rc scripts, in
 * base64, and the agent reads an order of 1 MiB at most; so each kind
 * has a count and a total size (per user for rc) past which an add is
 * refused (409), rather than a deployment stalling in fetching.
 */
#include <ctype.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "pipold.h"

#define SCRIPT_MAX	49152	/* decoded; the schema checks it too */
#define SCRIPTS_KIND_MAX	32	/* per kind (rc: per user) */
#define POSTINSTALL_BYTES_MAX	(384 * 1024)	/* decoded, all of them */
#define RC_BYTES_MAX		(256 * 1024)	/* decoded, one user's */
#define STR_(x)			#x
#define STR(x)			STR_(x)
#define ORDER_MAX		(1 << 20)	/* the agent's NODE_REPLY_MAX */
#define SCRIPT_LOCK		4243	/* pg_advisory_xact_lock: one add at
					 * a time per kind and owner */
/* in base64 (4/3), with 2 x 32 names and the order's own fields (a few
 * KB), both kinds fit an order with room to spare: 853 KiB */
_Static_assert((POSTINSTALL_BYTES_MAX + RC_BYTES_MAX) / 3 * 4 +
    2 * SCRIPTS_KIND_MAX * 256 + 16384 < ORDER_MAX,
    "an order of every script fits the agent's answer limit");

/* kind and name from /api/scripts/KIND/NAME; 0, or -1 */
static int
script_path(const char *url, char kind[16], char name[80])
{
	const char *p = url + strlen("/api/scripts/"), *s;

	if ((s = strchr(p, '/')) == NULL || s - p >= 16 ||
	    strlen(s + 1) >= 80 || strchr(s + 1, '/') != NULL)
		return -1;
	memcpy(kind, p, s - p);
	kind[s - p] = '\0';
	strcpy(name, s + 1);
	return 0;
}

/* A script name: [A-Za-z0-9][A-Za-z0-9._-]{0,63}, rc ones begin "rc". */
static int
script_name_ok(const char *kind, const char *n)
{
	size_t i, len = strlen(n);

	if (len == 0 || len > 64 || !isalnum((unsigned char)n[0]))
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && !strchr("._-", n[i]))
			return 0;
	return strcmp(kind, "rc") != 0 || strncmp(n, "rc", 2) == 0;
}

static int
script_kind_ok(const char *k)
{
	return k != NULL && (strcmp(k, "rc") == 0 ||
	    strcmp(k, "postinstall") == 0);
}

/* One add: the limits of its kind checked and the row written in one
 * transaction (db_tx), under a lock per kind and owner. */
struct script_add {
	const char *params[4];	/* kind, owner (NULL: the site's), name,
				 * body in base64 */
	char *reply;		/* committed: the answer */
	struct http_fail f;	/* refused: why */
};

static int
script_add_tx(PGconn *db, void *arg)
{
	struct script_add *a = arg;
	const char *kind = a->params[0];
	long long n, bytes, max = strcmp(kind, "rc") == 0 ? RC_BYTES_MAX :
	    POSTINSTALL_BYTES_MAX;
	char msg[200];
	PGresult *r;
	int rc = 0;

	r = db_query(db, "SELECT pg_advisory_xact_lock(" STR(SCRIPT_LOCK)
	    ", coalesce($2::integer, 0)), count(*) FILTER (WHERE name <> "
	    "$3), coalesce(sum(length(body)) FILTER (WHERE name <> $3), 0) + "
	    "length(decode($4, 'base64')) FROM scripts WHERE kind = $1 AND "
	    "coalesce(owner_id, 0) = coalesce($2::bigint, 0)", 4, a->params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = http_fail_sql(&a->f, r, "script");
		PQclear(r);
		return rc;
	}
	n = atoll(PQgetvalue(r, 0, 1));
	bytes = atoll(PQgetvalue(r, 0, 2));
	PQclear(r);
	if (n + 1 > SCRIPTS_KIND_MAX || bytes > max) {
		snprintf(msg, sizeof(msg), "%s scripts: at most %d%s, %lld KiB "
		    "in all (every deployment's order carries them); remove "
		    "one first", kind, SCRIPTS_KIND_MAX, strcmp(kind, "rc") ==
		    0 ? " per user" : "", max / 1024);
		return http_fail_set(&a->f, MHD_HTTP_CONFLICT, msg);
	}
	r = db_query(db, "INSERT INTO scripts (kind, owner_id, name, body) "
	    "VALUES ($1, $2, $3, decode($4, 'base64')) ON CONFLICT (kind, "
	    "coalesce(owner_id, 0), name) DO UPDATE SET body = EXCLUDED.body, "
	    "updated = now() RETURNING json_build_object('kind', "
	    "kind, 'name', name, 'size', length(body), 'sha256', "
	    "encode(sha256(body), 'hex'))", 4, a->params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		rc = http_fail_sql(&a->f, r, "script");
	else if ((a->reply = strdup(PQgetvalue(r, 0, 0))) == NULL)
		rc = http_fail_set(&a->f, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "script: out of memory");
	PQclear(r);
	return rc;
}

enum MHD_Result
api_script_add(struct http_req *rq)
{
	struct MHD_Connection *c = rq->c;
	const char *kind, *name, *b64;
	struct script_add a = { .reply = NULL };
	char err[200], owner[24];
	enum MHD_Result rc;
	int tx;

	kind = json_string_value(json_object_get(rq->o, "kind"));
	name = json_string_value(json_object_get(rq->o, "name"));
	b64 = json_string_value(json_object_get(rq->o, "body"));
	if (!script_kind_ok(kind))
		return http_error(c, MHD_HTTP_BAD_REQUEST, "\"kind\": rc or "
		    "postinstall");
	if (name == NULL || !script_name_ok(kind, name)) {
		snprintf(err, sizeof(err), "\"name\": letters, digits, '.', "
		    "'-', '_', at most 64%s", strcmp(kind, "rc") == 0 ?
		    ", beginning with rc" : "");
		return http_error(c, MHD_HTTP_BAD_REQUEST, err);
	}
	if (b64 == NULL || strlen(b64) > (SCRIPT_MAX / 3 + 1) * 4)
		return http_error(c, MHD_HTTP_BAD_REQUEST, "\"body\": the "
		    "script in base64, at most 48 KiB");
	if (strcmp(kind, "postinstall") == 0 && !rq->who.admin)
		return http_error(c, MHD_HTTP_FORBIDDEN, "post-install scripts "
		    "are the admins'; yours are rc scripts");
	snprintf(owner, sizeof(owner), "%lld", rq->who.id);
	a.params[0] = kind;
	a.params[1] = strcmp(kind, "rc") == 0 ? owner : NULL;
	a.params[2] = name;
	a.params[3] = b64;
	http_fail_set(&a.f, MHD_HTTP_CONFLICT, "script: conflicts with "
	    "another request, try again");
	if ((tx = db_tx(rq->db, script_add_tx, &a)) < 0) {
		if (tx == DB_TX_FAILED)
			http_fail_set(&a.f, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "script: database error");
		free(a.reply);
		return http_fail_send(c, &a.f);
	}
	db_event(rq->db, rq->who.name, "script.add", json_pack("{s:s, s:s}",
	    "kind", kind, "name", name));
	rc = http_reply(c, MHD_HTTP_CREATED, "application/json", a.reply);
	free(a.reply);
	return rc;
}

enum MHD_Result
api_script_list(struct http_req *rq)
{
	const char *params[2];
	char id[24];
	enum MHD_Result rc;
	PGresult *r;

	snprintf(id, sizeof(id), "%lld", rq->who.id);
	params[0] = id;
	params[1] = rq->who.admin ? "t" : "f";
	r = db_query(rq->db, "SELECT json_build_object('scripts', coalesce("
	    "json_agg(json_build_object('kind', s.kind, 'name', s.name, "
	    "'owner', u.name, 'size', length(s.body), 'sha256', "
	    "encode(sha256(s.body), 'hex'), 'updated', s.updated) ORDER BY "
	    "s.kind, u.name, s.name COLLATE \"C\"), '[]')) FROM scripts s LEFT "
	    "JOIN users u ON u.id = s.owner_id WHERE s.kind = 'postinstall' "
	    "OR s.owner_id = $1 OR $2::boolean", 2, params);
	rc = http_pgjson(rq->c, r, MHD_HTTP_OK, "scripts");
	PQclear(r);
	return rc;
}

/* GET and DELETE /api/scripts/KIND/NAME */
static enum MHD_Result
script_one(struct http_req *rq, int del)
{
	struct MHD_Connection *c = rq->c;
	char kind[16], name[80], id[24], err[200];
	const char *params[3];
	enum MHD_Result rc;
	PGresult *r;

	if (script_path(rq->url, kind, name) < 0 || !script_kind_ok(kind) ||
	    !script_name_ok(kind, name))
		return http_error(c, MHD_HTTP_NOT_FOUND, "want "
		    "/api/scripts/rc/NAME or /api/scripts/postinstall/NAME");
	/* site scripts may hold the site's secrets: their bodies are
	 * the admins' (users see their names in the list) */
	if (strcmp(kind, "postinstall") == 0 && !rq->who.admin)
		return http_error(c, MHD_HTTP_FORBIDDEN, "post-install scripts "
		    "are the admins'");
	snprintf(id, sizeof(id), "%lld", rq->who.id);
	params[0] = kind;
	params[1] = strcmp(kind, "rc") == 0 ? id : NULL;
	params[2] = name;
	r = db_query(rq->db, del ? "DELETE FROM scripts WHERE kind = $1 AND "
	    "coalesce(owner_id, 0) = coalesce($2::bigint, 0) AND name = $3 "
	    "RETURNING json_build_object('kind', kind, 'name', name, "
	    "'removed', true)" : "SELECT json_build_object('kind', kind, "
	    "'name', name, 'size', length(body), 'body', translate(encode("
	    "body, 'base64'), E'\\n', '')) FROM scripts WHERE kind = $1 AND "
	    "coalesce(owner_id, 0) = coalesce($2::bigint, 0) AND name = $3",
	    3, params);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0) {
		snprintf(err, sizeof(err), "%s script %s: no such script",
		    kind, name);
		rc = http_error(c, MHD_HTTP_NOT_FOUND, err);
	} else {
		if (del && PQresultStatus(r) == PGRES_TUPLES_OK)
			db_event(rq->db, rq->who.name, "script.rm", json_pack(
			    "{s:s, s:s}", "kind", kind, "name", name));
		rc = http_pgjson(c, r, MHD_HTTP_OK, "script");
	}
	PQclear(r);
	return rc;
}

enum MHD_Result
api_script_get(struct http_req *rq)
{
	return script_one(rq, 0);
}

enum MHD_Result
api_script_rm(struct http_req *rq)
{
	return script_one(rq, 1);
}

/* GET /api/deployments/ID/log */
enum MHD_Result
api_deploy_log(struct http_req *rq)
{
	const char *p = rq->url + strlen("/api/deployments/"), *params[3];
	struct MHD_Connection *c = rq->c;
	char id[24], dep[24], err[120];
	enum MHD_Result rc;
	PGresult *r;
	char *end;
	long long v;

	v = strtoll(p, &end, 10);
	if (!isdigit((unsigned char)*p) || v <= 0 || strcmp(end, "/log") != 0)
		return http_error(c, MHD_HTTP_NOT_FOUND, "want "
		    "/api/deployments/ID/log");
	snprintf(dep, sizeof(dep), "%lld", v);
	snprintf(id, sizeof(id), "%lld", rq->who.id);
	params[0] = dep;
	params[1] = id;
	params[2] = rq->who.admin ? "t" : "f";
	r = db_query(rq->db, "SELECT json_build_object('deployment', d.id, "
	    "'state', d.state, 'log', coalesce((SELECT json_agg("
	    "json_build_object('script', l.script, 'status', l.status, "
	    "'output', l.output, 'at', l.at, 'site', l.site) ORDER BY l.seq) "
	    "FROM deployment_logs l WHERE l.deployment_id = d.id AND (NOT "
	    "l.site OR $3::boolean)), '[]')) FROM "
	    "deployments d WHERE d.id = $1 AND (d.user_id = $2 OR $3::boolean)",
	    3, params);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0) {
		snprintf(err, sizeof(err), "deployment %s: none of yours", dep);
		rc = http_error(c, MHD_HTTP_NOT_FOUND, err);
	} else
		rc = http_pgjson(c, r, MHD_HTTP_OK, "log");
	PQclear(r);
	return rc;
}
