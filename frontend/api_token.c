/*
 * api_token.c -- a user's API tokens (schema 008): GET /api/tokens,
 * POST /api/tokens (a new one), DELETE /api/tokens/ID (revoke), POST
 * /api/tokens/ID/rotate; and the hourly purge of the tokens that ended
 * 30 days ago. A user manages their own tokens; an admin may list, make
 * and revoke another user's with ?user=NAME. Another user's token id
 * answers 404, as a missing one does: nobody learns what others hold.
 * A secret is shown once, in the answer to new or rotate; only its
 * SHA-256 is kept, and neither goes to an event or the log. Each change
 * and its event are one transaction.
 */
#include <openssl/crypto.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "log.h"
#include "pipold.h"
#include "web.h"

#define TOKEN_NAME_MAX	64	/* as schema 008's CHECK */
#define TOKEN_PURGE_SEC	3600	/* tokens_purge() from the tick, hourly */

/* pipold --token-days: set once by main, before any thread */
static int token_days_max = TOKEN_DAYS_DEFAULT;

void
api_token_days_set(int days)
{
	token_days_max = days;
}

int
api_token_days(void)
{
	return token_days_max;
}

/* What one change needs, and what its transaction found (reset on
 * every run: db_tx may run it again). */
struct token_tx {
	const struct caller *who;
	char uid[24], user[64];	/* whose tokens */
	char id[24];		/* revoke, rotate: the token named */
	char days[16];		/* new: its lifetime, 0: never */
	const char *name;	/* new: its name */
	uint8_t hash[32];	/* new, rotate: the fresh secret's */
	char newid[24];		/* new, rotate: the token made */
	char expires[64];	/* "" when never */
	char tname[TOKEN_NAME_MAX + 1];
	struct http_fail f;
};

/* The user a request is about: the caller, or ?user=NAME (admins);
 * 0, or -1 with t->f saying why. */
static int
token_user(struct http_req *rq, PGconn *db, struct token_tx *t)
{
	const char *u = MHD_lookup_connection_value(rq->c,
	    MHD_GET_ARGUMENT_KIND, "user");
	const char *params[1] = { u };
	PGresult *r;
	int rc = 0;

	t->who = &rq->who;
	if (u == NULL || strcmp(u, rq->who.name) == 0) {
		snprintf(t->uid, sizeof(t->uid), "%lld", rq->who.id);
		snprintf(t->user, sizeof(t->user), "%s", rq->who.name);
		return 0;
	}
	if (!rq->who.admin)
		return http_fail_set(&t->f, MHD_HTTP_FORBIDDEN, "admins only: "
		    "another user's tokens");
	if (strlen(u) > 32)
		return http_fail_set(&t->f, MHD_HTTP_NOT_FOUND, "user: no such "
		    "user");
	r = db_query(db, "SELECT id FROM users WHERE name = $1", 1, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = http_fail_sql(&t->f, r, "user");
	else if (PQntuples(r) != 1) {
		snprintf(t->f.msg, sizeof(t->f.msg), "user %s: no such user",
		    u);
		t->f.status = MHD_HTTP_NOT_FOUND;
		rc = -1;
	} else {
		snprintf(t->uid, sizeof(t->uid), "%s", PQgetvalue(r, 0, 0));
		snprintf(t->user, sizeof(t->user), "%s", u);
	}
	PQclear(r);
	return rc < 0 ? -1 : 0;
}

/* ID of /api/tokens/ID[/rest]; 0, or -1 when it is no id. */
static int
token_id_from_url(const char *url, const char *rest, char id[24])
{
	const char *p = url + strlen("/api/tokens/");
	size_t n = strspn(p, "0123456789");

	if (n == 0 || n > 18 || strcmp(p + n, rest) != 0)
		return -1;
	snprintf(id, 24, "%.*s", (int)n, p);
	return 0;
}

/* Is s a token's name (schema 008's CHECK)? */
static int
token_name_ok(const char *s)
{
	size_t i;

	if (strlen(s) > TOKEN_NAME_MAX)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@:+ -", s[i]))
			return 0;
	return 1;
}

/* The token just made, as the answer shows it: id, name, expiry. */
static int
token_made(PGconn *db, struct token_tx *t, const char *sql, int n,
    const char *const *params, const int *lens, const int *fmts)
{
	PGresult *r = db_query_bin(db, sql, n, params, lens, fmts);
	int rc = 0;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		rc = http_fail_sql(&t->f, r, "token");
	else {
		snprintf(t->newid, sizeof(t->newid), "%s", PQgetvalue(r, 0, 0));
		snprintf(t->tname, sizeof(t->tname), "%s", PQgetvalue(r, 0, 1));
		snprintf(t->expires, sizeof(t->expires), "%s",
		    PQgetvalue(r, 0, 2));
	}
	PQclear(r);
	return rc;
}

static json_t *
expires_json(const char *s)
{
	return *s ? json_string(s) : json_null();
}

static int
new_tx(PGconn *db, void *arg)
{
	struct token_tx *t = arg;
	const char *params[4] = { (const char *)t->hash, t->uid, t->name,
	    t->days };
	int lens[4] = { 32, 0, 0, 0 }, fmts[4] = { 1, 0, 0, 0 }, rc;

	rc = token_made(db, t, "INSERT INTO tokens (hash, user_id, name, "
	    "expires) VALUES ($1, $2, $3, CASE WHEN $4::integer = 0 THEN NULL "
	    "ELSE now() + $4::integer * interval '1 day' END) RETURNING id, "
	    "name, coalesce(expires::text, '')", 4, params, lens, fmts);
	if (rc < 0)
		return rc;
	db_event(db, t->who->name, "token.new", json_pack("{s:s, s:I, s:s, "
	    "s:o}", "user", t->user, "id", (json_int_t)atoll(t->newid),
	    "name", t->tname, "expires", expires_json(t->expires)));
	return 0;
}

static int
rotate_tx(PGconn *db, void *arg)
{
	struct token_tx *t = arg;
	char max[16];
	const char *params[4] = { t->id, t->uid, (const char *)t->hash, max };
	int lens[4] = { 0, 0, 32, 0 }, fmts[4] = { 0, 0, 1, 0 }, rc;

	snprintf(max, sizeof(max), "%d", token_days_max);
	rc = token_made(db, t, "SELECT id, name, coalesce(expires::text, '') "
	    "FROM token_rotate($1, $2, $3, $4)", 4, params, lens, fmts);
	if (rc < 0)
		return rc;
	db_event(db, t->who->name, "token.rotate", json_pack("{s:s, s:I, s:I, "
	    "s:s, s:o}", "user", t->user, "id", (json_int_t)atoll(t->id),
	    "new", (json_int_t)atoll(t->newid), "name", t->tname, "expires",
	    expires_json(t->expires)));
	return 0;
}

static int
revoke_tx(PGconn *db, void *arg)
{
	struct token_tx *t = arg;
	const char *params[2] = { t->id, t->uid };
	PGresult *r;
	int rc = 0;

	r = db_query(db, "SELECT token_revoke($1, $2)", 2, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = http_fail_sql(&t->f, r, "revoke");
	PQclear(r);
	if (rc < 0)
		return rc;
	db_event(db, t->who->name, "token.revoke", json_pack("{s:s, s:I}",
	    "user", t->user, "id", (json_int_t)atoll(t->id)));
	return 0;
}

/* Run fn in a transaction: 0 when it committed, else -1 and *rc the
 * refusal queued. */
static int
token_run(struct http_req *rq, db_tx_fn *fn, struct token_tx *t,
    enum MHD_Result *rc)
{
	int run = db_tx(rq->db, fn, t);

	if (run == 0)
		return 0;
	if (run == -1)
		*rc = http_fail_send(rq->c, &t->f);
	else
		*rc = http_error(rq->c, run == DB_TX_RETRY ? MHD_HTTP_CONFLICT :
		    MHD_HTTP_SERVICE_UNAVAILABLE, run == DB_TX_RETRY ? "token: "
		    "conflicts with another request, try again" :
		    "database error");
	return -1;
}

/* The answer with a fresh secret: shown this once. */
static enum MHD_Result
token_secret_reply(struct http_req *rq, unsigned status, struct token_tx *t,
    char hex[65], const char *replaces)
{
	enum MHD_Result rc;
	json_t *o;

	o = json_pack("{s:I, s:s, s:s, s:o, s:s}", "id",
	    (json_int_t)atoll(t->newid), "user", t->user, "name", t->tname,
	    "expires", expires_json(t->expires), "token", hex);
	if (o != NULL && replaces != NULL) {
		json_object_set_new(o, "replaces", json_integer(atoll(
		    replaces)));
		/* the caller's own: its next call needs the new one */
		json_object_set_new(o, "current", json_boolean(atoll(
		    replaces) == rq->who.token));
	}
	rc = http_json(rq->c, status, o);
	OPENSSL_cleanse(hex, 65);
	return rc;
}

/* The lifetime asked ({"days": N}) within the site's limit; 0, or -1
 * with t->f saying why. */
static int
token_days(json_t *v, struct token_tx *t)
{
	long long d = token_days_max;

	if (v != NULL) {
		if (!json_is_integer(v))
			return http_fail_set(&t->f, MHD_HTTP_BAD_REQUEST,
			    "want {\"name\": string, \"days\": integer}");
		d = json_integer_value(v);
	}
	if (token_days_max == 0 && (d < 0 || d > TOKEN_DAYS_MAX)) {
		snprintf(t->f.msg, sizeof(t->f.msg), "days %lld: 0 (never) or "
		    "1..%d", d, TOKEN_DAYS_MAX);
		t->f.status = MHD_HTTP_BAD_REQUEST;
		return -1;
	}
	if (token_days_max > 0 && (d < 1 || d > token_days_max)) {
		snprintf(t->f.msg, sizeof(t->f.msg), "days %lld: 1..%d here "
		    "(pipold --token-days)", d, token_days_max);
		t->f.status = MHD_HTTP_BAD_REQUEST;
		return -1;
	}
	snprintf(t->days, sizeof(t->days), "%lld", d);
	return 0;
}

/* POST /api/tokens {"name", "days"}: 201 and the secret, once. */
enum MHD_Result
api_token_add(struct http_req *rq)
{
	json_t *name = json_object_get(rq->o, "name");
	struct token_tx t = { 0 };
	enum MHD_Result rc;
	char hex[65];
	struct perr e;

	if (name != NULL && !json_is_string(name))
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "want "
		    "{\"name\": string, \"days\": integer}");
	t.name = name != NULL ? json_string_value(name) : "";
	if (!token_name_ok(t.name))
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "name: up to 64 "
		    "of A-Z a-z 0-9 . _ @ : + - and space");
	if (token_days(json_object_get(rq->o, "days"), &t) < 0 ||
	    token_user(rq, rq->db, &t) < 0)
		return http_fail_send(rq->c, &t.f);
	if (auth_token_new(hex, t.hash, &e) < 0)
		return http_perr(rq->c, &e);
	if (token_run(rq, new_tx, &t, &rc) < 0) {
		OPENSSL_cleanse(hex, sizeof(hex));
		return rc;
	}
	return token_secret_reply(rq, MHD_HTTP_CREATED, &t, hex, NULL);
}

/* GET /api/tokens[?user=NAME]: never a secret nor its hash. */
enum MHD_Result
api_token_list(struct http_req *rq)
{
	struct token_tx t = { 0 };
	char cur[24];
	const char *params[2] = { t.uid, cur };
	enum MHD_Result rc;
	PGresult *r;

	if (token_user(rq, rq->db, &t) < 0)
		return http_fail_send(rq->c, &t.f);
	snprintf(cur, sizeof(cur), "%lld", rq->who.token);
	r = db_query(rq->db, "SELECT json_build_object('tokens', coalesce("
	    "json_agg(json_build_object('id', t.id, 'user', u.name, 'name', "
	    "t.name, 'state', token_state(t), 'created', t.created, "
	    "'expires', t.expires, 'last_used', t.last_used, 'revoked', "
	    "t.revoked, 'current', t.id = $2) ORDER BY t.id), '[]')) FROM "
	    "tokens t JOIN users u ON u.id = t.user_id WHERE t.user_id = $1",
	    2, params);
	rc = http_pgjson(rq->c, r, MHD_HTTP_OK, "tokens");
	PQclear(r);
	return rc;
}

/* DELETE /api/tokens/ID[?user=NAME]: the token opens nothing more,
 * at once (the request that revokes its own token included). */
enum MHD_Result
api_token_revoke(struct http_req *rq)
{
	struct token_tx t = { 0 };
	enum MHD_Result rc;

	if (token_id_from_url(rq->url, "", t.id) < 0)
		return http_error(rq->c, MHD_HTTP_NOT_FOUND, "token: no such "
		    "token");
	if (token_user(rq, rq->db, &t) < 0)
		return http_fail_send(rq->c, &t.f);
	if (token_run(rq, revoke_tx, &t, &rc) < 0)
		return rc;
	return http_json(rq->c, MHD_HTTP_OK, json_pack("{s:I, s:s, s:s}",
	    "id", (json_int_t)atoll(t.id), "user", t.user, "state",
	    "revoked"));
}

/* POST /api/tokens/ID/rotate: one's own token only; a new secret of
 * the same name and lifetime, the old one revoked in the same
 * transaction. */
enum MHD_Result
api_token_rotate(struct http_req *rq)
{
	struct token_tx t = { .who = &rq->who };
	enum MHD_Result rc;
	char hex[65];
	struct perr e;

	if (token_id_from_url(rq->url, "/rotate", t.id) < 0)
		return http_error(rq->c, MHD_HTTP_NOT_FOUND, "token: no such "
		    "token");
	snprintf(t.uid, sizeof(t.uid), "%lld", rq->who.id);
	snprintf(t.user, sizeof(t.user), "%s", rq->who.name);
	if (auth_token_new(hex, t.hash, &e) < 0)
		return http_perr(rq->c, &e);
	if (token_run(rq, rotate_tx, &t, &rc) < 0) {
		OPENSSL_cleanse(hex, sizeof(hex));
		return rc;
	}
	return token_secret_reply(rq, MHD_HTTP_CREATED, &t, hex, t.id);
}

void
tokens_tick(PGconn *db)
{
	static time_t last;	/* the tick is one thread */
	time_t now = time(NULL);
	PGresult *r;

	if (last != 0 && now - last < TOKEN_PURGE_SEC)
		return;
	last = now;
	r = db_query(db, "SELECT tokens_purge()", 0, NULL);
	if (PQresultStatus(r) == PGRES_TUPLES_OK &&
	    atoi(PQgetvalue(r, 0, 0)) > 0)
		log_info("%s token(s) ended 30 days ago dropped",
		    PQgetvalue(r, 0, 0));
	PQclear(r);
	web_sessions_tick(db);	/* web: sessions ended a day ago */
}
