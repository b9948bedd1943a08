/*
 * api.c -- the API behind the command line. First piece: who am I, from
 * a bearer token; and the bootstrap that makes the first users (pipold
 * --add-user) before any admin exists to do it over HTTP. Queries are
 * parameterised; one connection per request for now.
 */
#include <openssl/crypto.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "api.h"
#include "pipold.h"

enum MHD_Result
answer_json(struct MHD_Connection *c, unsigned status, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	enum MHD_Result rc;

	json_decref(o);
	if (text == NULL)
		return MHD_NO;
	rc = http_reply(c, status, "application/json", text);
	free(text);
	return rc;
}

enum MHD_Result
answer_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return answer_json(c, status, json_pack("{s:s}", "error", msg));
}

/*
 * Who sends this request: 0 and *who, or the HTTP status to answer.
 * The bearer token's SHA-256 is looked up, then compared again in
 * constant time.
 */
unsigned
auth_caller(PGconn *db, struct MHD_Connection *c, struct caller *who)
{
	uint8_t want[32], got[32];
	const char *params[1];
	int lens[1] = { 32 }, fmts[1] = { 1 };
	unsigned status = 0;
	PGresult *r;

	who->deployment = 0;
	if (auth_bearer_hash(c, want) < 0)
		return MHD_HTTP_UNAUTHORIZED;
	params[0] = (const char *)want;
	r = PQexecParams(db, "SELECT u.id::text, u.is_admin::text, u.name, "
	    "encode(t.hash, 'hex') FROM tokens t JOIN users u ON "
	    "u.id = t.user_id WHERE t.hash = $1", 1, NULL, params, lens, fmts,
	    0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
	else if (PQntuples(r) != 1 ||
	    hash_from_hex(PQgetvalue(r, 0, 3), got) < 0 || !auth_same(got, want))
		status = MHD_HTTP_UNAUTHORIZED;
	else {
		who->id = atoll(PQgetvalue(r, 0, 0));
		who->admin = PQgetvalue(r, 0, 1)[0] == 't';
		snprintf(who->name, sizeof(who->name), "%s",
		    PQgetvalue(r, 0, 2));
	}
	PQclear(r);
	return status;
}

static enum MHD_Result
answer_auth(struct MHD_Connection *c, unsigned status)
{
	return answer_error(c, status, status == MHD_HTTP_UNAUTHORIZED ?
	    "no valid token" : "database unavailable");
}

/*
 * Every API call starts here: a database connection and the caller,
 * who must be an admin when admin_only. Returns 0 to go on (close *db
 * after), or -1 once the refusal is queued in *rc.
 */
int
api_begin(struct pipold *pd, struct MHD_Connection *c, int admin_only,
    PGconn **db, struct caller *who, enum MHD_Result *rc)
{
	unsigned status;

	if ((*db = db_get(pd)) == NULL) {
		*rc = answer_auth(c, MHD_HTTP_SERVICE_UNAVAILABLE);
		return -1;
	}
	status = auth_caller(*db, c, who);
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE &&
	    PQstatus(*db) != CONNECTION_OK) {
		/* the server went away under an idle connection: once more */
		db_put(pd, *db);
		db_pool_flush(pd);
		if ((*db = db_get(pd)) == NULL) {
			*rc = answer_auth(c, MHD_HTTP_SERVICE_UNAVAILABLE);
			return -1;
		}
		status = auth_caller(*db, c, who);
	}
	if (status != 0)
		*rc = answer_auth(c, status);
	else if (admin_only && !who->admin)
		*rc = answer_error(c, MHD_HTTP_FORBIDDEN, "admins only");
	else
		return 0;
	db_put(pd, *db);
	*db = NULL;
	return -1;
}

enum MHD_Result
api_whoami(struct pipold *pd, struct MHD_Connection *c, const char *url,
    const char *body, size_t len)
{
	struct caller who;
	enum MHD_Result rc;
	PGconn *db;

	(void)url, (void)body, (void)len;
	if (api_begin(pd, c, 0, &db, &who, &rc) < 0)
		return rc;
	rc = answer_json(c, MHD_HTTP_OK, json_pack("{s:s, s:b}", "user",
	    who.name, "admin", who.admin));
	db_put(pd, db);
	return rc;
}

/* Append to the event log (never updated, never deleted). */
void
event(PGconn *db, const char *actor, const char *kind, json_t *detail)
{
	char *d = json_dumps(detail, JSON_COMPACT);
	const char *params[3] = { actor, kind, d ? d : "{}" };

	PQclear(PQexecParams(db, "INSERT INTO events (actor, kind, detail) "
	    "VALUES ($1, $2, $3::jsonb)", 3, NULL, params, NULL, NULL, 0));
	free(d);
	json_decref(detail);
}

/* Insert a user and a fresh token (hex out, shown once). */
static int
user_create(PGconn *db, const char *name, int admin, const char *keys,
    char hex[65], struct perr *e)
{
	uint8_t hash[32];
	const char *params[4];
	int lens[4] = { 0, 0, 0, 32 }, fmts[4] = { 0, 0, 0, 1 }, rc;
	const char *state;
	PGresult *r;

	if ((rc = auth_token_new(hex, hash, e)) < 0)
		return rc;
	params[0] = name;
	params[1] = admin ? "true" : "false";
	params[2] = keys ? keys : "";
	params[3] = (const char *)hash;
	r = PQexecParams(db, "WITH u AS (INSERT INTO users (name, is_admin, "
	    "ssh_keys) VALUES ($1, $2, $3) RETURNING id) INSERT INTO tokens "
	    "(hash, user_id) SELECT $4, id FROM u", 4, NULL, params, lens,
	    fmts, 0);
	rc = 0;
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (state != NULL && strcmp(state, "23505") == 0)
			rc = perr_set(e, PE_CONFLICT, "user %s: exists", name);
		else if (state != NULL && strcmp(state, "23514") == 0)
			rc = perr_set(e, PE_USAGE, "user %s: a name is a-z "
			    "then up to 31 of a-z 0-9 _ -", name);
		else
			rc = perr_set(e, PE_UNAVAIL, "user %s: database error",
			    name);
	}
	PQclear(r);
	return rc;
}

/* A JSON object with only the keys listed; *err names what is wrong. */
json_t *
body_object(const char *body, size_t len, const char *const *keys,
    char *err, size_t errlen)
{
	json_error_t je;
	const char *k;
	json_t *o, *v;
	size_t i;

	if (body == NULL || len == 0) {
		snprintf(err, errlen, "empty body");
		return NULL;
	}
	if ((o = json_loadb(body, len, 0, &je)) == NULL) {
		snprintf(err, errlen, "malformed JSON at %d:%d", je.line,
		    je.column);
		return NULL;
	}
	if (!json_is_object(o)) {
		snprintf(err, errlen, "not a JSON object");
		json_decref(o);
		return NULL;
	}
	json_object_foreach(o, k, v) {
		for (i = 0; keys[i] != NULL && strcmp(keys[i], k) != 0; i++)
			;
		if (keys[i] == NULL) {
			snprintf(err, errlen, "unknown field \"%.40s\"", k);
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static unsigned
http_status_of(int code)
{
	return (unsigned)perr_http_status(code);
}

enum MHD_Result
api_user_add(struct pipold *pd, struct MHD_Connection *c, const char *url,
    const char *body, size_t len)
{
	static const char *const keys[] = { "name", "admin", "ssh_keys", NULL };
	json_t *o = NULL, *name, *admin, *ssh;
	char err[128], hex[65];
	struct caller who;
	enum MHD_Result rc;
	struct perr e;
	PGconn *db;

	(void)url;
	if (api_begin(pd, c, 1, &db, &who, &rc) < 0)
		return rc;
	if ((o = body_object(body, len, keys, err, sizeof(err))) == NULL) {
		rc = answer_error(c, MHD_HTTP_BAD_REQUEST, err);
		goto out;
	}
	name = json_object_get(o, "name");
	admin = json_object_get(o, "admin");
	ssh = json_object_get(o, "ssh_keys");
	if (!json_is_string(name) || (admin && !json_is_boolean(admin)) ||
	    (ssh && (!json_is_string(ssh) || json_string_length(ssh) > 16384))) {
		rc = answer_error(c, MHD_HTTP_BAD_REQUEST, "want {\"name\": "
		    "string, \"admin\": bool, \"ssh_keys\": string}");
		goto out;
	}
	if (user_create(db, json_string_value(name), json_is_true(admin),
	    ssh ? json_string_value(ssh) : NULL, hex, &e) < 0) {
		rc = answer_error(c, http_status_of(e.code), e.msg);
		goto out;
	}
	event(db, who.name, "user.add", json_pack("{s:s, s:b}", "user",
	    json_string_value(name), "admin", json_is_true(admin)));
	rc = answer_json(c, MHD_HTTP_CREATED, json_pack("{s:s, s:s}", "user",
	    json_string_value(name), "token", hex));
	OPENSSL_cleanse(hex, sizeof(hex));
 out:
	json_decref(o);
	db_put(pd, db);
	return rc;
}

int
api_add_user(struct pipold *pd, const char *name, int admin, struct perr *e)
{
	char hex[65];
	PGconn *db;
	int rc;

	if ((db = db_get(pd)) == NULL)
		return perr_set(e, PE_UNAVAIL, "database unavailable");
	if ((rc = user_create(db, name, admin, NULL, hex, e)) == 0) {
		event(db, "pipold --add-user", "user.add", json_pack("{s:s, "
		    "s:b}", "user", name, "admin", admin));
		printf("%s\n", hex);	/* shown once, never stored */
	}
	db_put(pd, db);
	return rc;
}

/* The SQLSTATE of a failed statement as an HTTP status. */
unsigned
sql_status(PGresult *r)
{
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (st == NULL)
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	if (strncmp(st, "PP", 2) == 0)		/* ours: PP400, PP403 ... */
		return atoi(st + 2) >= 400 && atoi(st + 2) < 500 ?
		    (unsigned)atoi(st + 2) : MHD_HTTP_INTERNAL_SERVER_ERROR;
	if (strcmp(st, "23505") == 0 || strcmp(st, "23P01") == 0 ||
	    strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0)
		return MHD_HTTP_CONFLICT;	/* taken, or lost a race */
	if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0)
		return MHD_HTTP_BAD_REQUEST;	/* bad value, check failed */
	return MHD_HTTP_SERVICE_UNAVAILABLE;
}

enum MHD_Result
answer_sql(struct MHD_Connection *c, PGresult *r, const char *what)
{
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	unsigned status = sql_status(r);
	char msg[300];

	if (st != NULL && strncmp(st, "PP", 2) == 0 && m != NULL)
		snprintf(msg, sizeof(msg), "%s", m);
	else if (st != NULL && strcmp(st, "23P01") == 0)
		snprintf(msg, sizeof(msg), "%s: a node is already reserved "
		    "then", what);
	else if (status == MHD_HTTP_BAD_REQUEST && m != NULL)
		snprintf(msg, sizeof(msg), "%s: %s", what, m);
	else if (status == MHD_HTTP_CONFLICT)
		snprintf(msg, sizeof(msg), "%s: conflicts with another "
		    "request, try again", what);
	else
		snprintf(msg, sizeof(msg), "%s: database error", what);
	return answer_error(c, status, msg);
}

enum MHD_Result
answer_pgjson(struct MHD_Connection *c, PGresult *r, unsigned status,
    const char *what)
{
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		return answer_sql(c, r, what);
	return http_reply(c, status, "application/json", PQgetvalue(r, 0, 0));
}
