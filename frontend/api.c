/*
 * api.c -- the API behind the command line. First piece: who am I, from
 * a bearer token; and the bootstrap that makes the first users (pipold
 * --add-user) before any admin exists to do it over HTTP. Queries are
 * parameterised; one connection per request for now.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipold.h"

static enum MHD_Result
answer_json(struct MHD_Connection *c, unsigned status, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	struct MHD_Response *r;
	enum MHD_Result rc;

	json_decref(o);
	if (text == NULL)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(text), text,
	    MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
answer_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return answer_json(c, status, json_pack("{s:s}", "error", msg));
}

enum MHD_Result
api_whoami(struct pipold *pd, struct MHD_Connection *c)
{
	uint8_t want[32];
	const char *params[1];
	int lens[1] = { 32 }, fmts[1] = { 1 };
	enum MHD_Result rc;
	PGresult *r;
	PGconn *db;

	if (auth_bearer_hash(c, want) < 0)
		return answer_error(c, MHD_HTTP_UNAUTHORIZED, "no valid bearer "
		    "token");
	db = PQconnectdb(pd->conninfo);
	if (PQstatus(db) != CONNECTION_OK) {
		PQfinish(db);
		return answer_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "database unavailable");
	}
	params[0] = (const char *)want;
	r = PQexecParams(db, "SELECT u.name, u.is_admin, t.hash FROM tokens t "
	    "JOIN users u ON u.id = t.user_id WHERE t.hash = $1", 1, NULL,
	    params, lens, fmts, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = answer_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "database "
		    "error");
	else if (PQntuples(r) != 1 || PQgetlength(r, 0, 2) != 32 ||
	    !auth_same((const uint8_t *)PQgetvalue(r, 0, 2), want))
		rc = answer_error(c, MHD_HTTP_UNAUTHORIZED, "unknown token");
	else
		rc = answer_json(c, MHD_HTTP_OK, json_pack("{s:s, s:b}",
		    "user", PQgetvalue(r, 0, 0), "admin",
		    PQgetvalue(r, 0, 1)[0] == 1));
	PQclear(r);
	PQfinish(db);
	return rc;
}

int
api_add_user(struct pipold *pd, const char *name, int admin, struct perr *e)
{
	char hex[65];
	uint8_t hash[32];
	const char *params[3];
	int lens[3] = { 0, 0, 32 }, fmts[3] = { 0, 0, 1 }, rc = 0;
	PGresult *r;
	PGconn *db;

	if ((rc = auth_token_new(hex, hash, e)) < 0)
		return rc;
	db = PQconnectdb(pd->conninfo);
	if (PQstatus(db) != CONNECTION_OK) {
		rc = perr_set(e, PE_UNAVAIL, "database: %s",
		    PQerrorMessage(db));
		goto out;
	}
	params[0] = name;
	params[1] = admin ? "true" : "false";
	params[2] = (const char *)hash;
	r = PQexecParams(db, "WITH u AS (INSERT INTO users (name, is_admin) "
	    "VALUES ($1, $2) RETURNING id) INSERT INTO tokens (hash, user_id) "
	    "SELECT $3, id FROM u", 3, NULL, params, lens, fmts, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		if (state != NULL && strcmp(state, "23505") == 0)
			rc = perr_set(e, PE_CONFLICT, "user %s: exists", name);
		else if (state != NULL && strcmp(state, "23514") == 0)
			rc = perr_set(e, PE_USAGE, "user %s: a name is a-z "
			    "then up to 31 of a-z 0-9 _ -", name);
		else
			rc = perr_set(e, PE_FAIL, "user %s: %s", name,
			    PQerrorMessage(db));
	} else {
		printf("%s\n", hex);	/* shown once, never stored */
	}
	PQclear(r);
 out:
	PQfinish(db);
	return rc;
}
