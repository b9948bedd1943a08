/*
 * api_user.c -- the users: who am I (GET /api/whoami), a new user and
 * its token (POST /api/users, admins), and the bootstrap that makes the
 * first users (pipold --add-user) before any admin exists to do it over
 * HTTP. A token is shown once, in the answer, and never stored; it
 * expires as any new one does (pipold --token-days, api_token.c).
 */
#include <openssl/crypto.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "pipold.h"

enum MHD_Result
api_whoami(struct http_req *rq)
{
	return http_json(rq->c, MHD_HTTP_OK, json_pack("{s:s, s:b}", "user",
	    rq->who.name, "admin", rq->who.admin));
}

/* Insert a user and a fresh token (hex out, shown once). */
static int
user_create(PGconn *db, const char *name, int admin, const char *keys,
    char hex[65], struct perr *e)
{
	uint8_t hash[32];
	const char *params[5];
	int lens[5] = { 0, 0, 0, 32, 0 }, fmts[5] = { 0, 0, 0, 1, 0 }, rc;
	char days[16];
	const char *state;
	PGresult *r;

	if ((rc = auth_token_new(hex, hash, e)) < 0)
		return rc;
	params[0] = name;
	params[1] = admin ? "true" : "false";
	params[2] = keys ? keys : "";
	params[3] = (const char *)hash;
	/* its first token lives as any new one (pipold --token-days) */
	snprintf(days, sizeof(days), "%d", api_token_days());
	params[4] = days;
	r = db_query_bin(db, "WITH u AS (INSERT INTO users (name, is_admin, "
	    "ssh_keys) VALUES ($1, $2, $3) RETURNING id) INSERT INTO tokens "
	    "(hash, user_id, expires) SELECT $4, id, CASE WHEN $5::integer = "
	    "0 THEN NULL ELSE now() + $5::integer * interval '1 day' END FROM "
	    "u", 5, params, lens, fmts);
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

enum MHD_Result
api_user_add(struct http_req *rq)
{
	json_t *name, *admin, *ssh;
	char hex[65];
	enum MHD_Result rc;
	struct perr e;

	name = json_object_get(rq->o, "name");
	admin = json_object_get(rq->o, "admin");
	ssh = json_object_get(rq->o, "ssh_keys");
	if (!json_is_string(name) || (admin && !json_is_boolean(admin)) ||
	    (ssh && (!json_is_string(ssh) || json_string_length(ssh) > 16384)))
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "want "
		    "{\"name\": string, \"admin\": bool, "
		    "\"ssh_keys\": string}");
	if (user_create(rq->db, json_string_value(name), json_is_true(admin),
	    ssh ? json_string_value(ssh) : NULL, hex, &e) < 0)
		return http_perr(rq->c, &e);
	db_event(rq->db, rq->who.name, "user.add", json_pack("{s:s, s:b}",
	    "user", json_string_value(name), "admin", json_is_true(admin)));
	rc = http_json(rq->c, MHD_HTTP_CREATED, json_pack("{s:s, s:s}",
	    "user", json_string_value(name), "token", hex));
	OPENSSL_cleanse(hex, sizeof(hex));
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
		db_event(db, "pipold --add-user", "user.add", json_pack("{s:s, "
		    "s:b}", "user", name, "admin", admin));
		printf("%s\n", hex);	/* shown once, never stored */
	}
	db_put(pd, db);
	return rc;
}
