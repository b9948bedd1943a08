/*
 * web_session.c -- the web interface's sessions (schema 019). A user's
 * API token, posted once to /api/web/login, is traded for a session: a
 * cookie holding 256 random bits (HttpOnly, SameSite=Strict, Secure
 * when the page came over TLS), of which only the SHA-256 is kept. The
 * session opens what its token opens (auth_lookup falls back to it
 * when a request has no bearer token), until the earlier of its own
 * end (WEB_SESSION_SEC), its token's end, or a logout.
 *
 * CSRF: a cookie goes with any request the browser makes, including
 * those a page of another site makes it send. So every request on a
 * cookie that may change something must prove it comes from the page:
 * Sec-Fetch-Site same-origin (when the browser says), an Origin naming
 * this host (when it says), and always the header X-CSRF-Token, which
 * only the page can read (the answer of login or GET /api/web/session)
 * and a cross-site form cannot set. The CSRF token is the SHA-256 of
 * the cookie's secret with a prefix: nothing more to keep.
 */
#include <openssl/crypto.h>
#include <ctype.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "hash.h"
#include "http.h"
#include "pipold.h"
#include "web.h"

#define WEB_CSRF_PREFIX	"pipol-csrf:"
#define WEB_CSRF_HEADER	"X-CSRF-Token"

/* Is s 64 lower-case hex digits (a token's or a cookie's secret)? */
static int
is_secret(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != 64)
		return 0;
	for (i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]) ||
		    isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

/* The CSRF token of the cookie secret sec, as 64 hex digits. */
static void
csrf_of(const char *sec, char out[65])
{
	char buf[sizeof(WEB_CSRF_PREFIX) + 64];
	uint8_t h[32];

	snprintf(buf, sizeof(buf), "%s%s", WEB_CSRF_PREFIX, sec);
	hash_buf(buf, strlen(buf), h);
	hash_hex(h, out);
	OPENSSL_cleanse(buf, sizeof(buf));
}

static const char *
cookie_of(struct MHD_Connection *c)
{
	const char *v = MHD_lookup_connection_value(c, MHD_COOKIE_KIND,
	    WEB_COOKIE);

	return is_secret(v) ? v : NULL;
}

int
web_session_lookup(PGconn *db, struct MHD_Connection *c, struct caller *who)
{
	const char *sec = cookie_of(c), *params[1];
	int lens[1] = { 32 }, fmts[1] = { 1 }, rc = 0;
	uint8_t want[32];
	PGresult *r;

	if (sec == NULL)
		return 0;
	hash_buf(sec, 64, want);
	params[0] = (const char *)want;
	r = db_exec_prepared(db, "web_session_lookup", "SELECT u.id, "
	    "u.is_admin::text, u.name, s.id, t.id FROM web_sessions s JOIN "
	    "tokens t ON t.id = s.token_id JOIN users u ON u.id = t.user_id "
	    "WHERE s.hash = $1 AND s.revoked IS NULL AND s.expires > now() "
	    "AND token_state(t) = 'live'", 1, params, lens, fmts);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = -1;
	else if (PQntuples(r) == 1) {
		who->kind = CALLER_USER;
		who->id = atoll(PQgetvalue(r, 0, 0));
		who->admin = PQgetvalue(r, 0, 1)[0] == 't';
		snprintf(who->name, sizeof(who->name), "%s",
		    PQgetvalue(r, 0, 2));
		who->session = atoll(PQgetvalue(r, 0, 3));
		who->token = atoll(PQgetvalue(r, 0, 4));
	} else
		snprintf(who->refusal, sizeof(who->refusal), "session ended "
		    "(expired or logged out): log in again");
	PQclear(r);
	return rc;
}

/* Does the Origin header (when sent) name the host the request was
 * sent to (its Host header)? */
static int
origin_ok(struct MHD_Connection *c)
{
	const char *o = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Origin");
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_HOST);
	const char *p;

	if (o == NULL)
		return 1;
	if (h == NULL)
		return 0;
	if (strncmp(o, "http://", 7) == 0)
		p = o + 7;
	else if (strncmp(o, "https://", 8) == 0)
		p = o + 8;
	else
		return 0;	/* "null" too: a sandboxed or file page */
	return strcmp(p, h) == 0;
}

unsigned
web_csrf_check(struct MHD_Connection *c, const char *method,
    const struct caller *who, char *msg, size_t len)
{
	const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Sec-Fetch-Site");
	const char *got = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    WEB_CSRF_HEADER);
	const char *sec = cookie_of(c);
	char want[65];
	int same;

	if (who->session == 0 || strcmp(method, "GET") == 0 ||
	    strcmp(method, "HEAD") == 0)
		return 0;
	if ((site != NULL && strcmp(site, "same-origin") != 0) ||
	    !origin_ok(c)) {
		snprintf(msg, len, "cross-site request refused");
		return MHD_HTTP_FORBIDDEN;
	}
	if (sec == NULL || !is_secret(got)) {
		snprintf(msg, len, "missing CSRF token (header "
		    WEB_CSRF_HEADER ")");
		return MHD_HTTP_FORBIDDEN;
	}
	csrf_of(sec, want);
	same = CRYPTO_memcmp(want, got, 64) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	if (!same) {
		snprintf(msg, len, "wrong CSRF token");
		return MHD_HTTP_FORBIDDEN;
	}
	return 0;
}

unsigned
web_ws_check(struct MHD_Connection *c, const struct caller *who,
    char *msg, size_t len)
{
	const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Sec-Fetch-Site");
	const char *o = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Origin");

	if (who->session == 0)
		return 0;
	if (o == NULL || !origin_ok(c) ||
	    (site != NULL && strcmp(site, "same-origin") != 0)) {
		snprintf(msg, len, "cross-site request refused");
		return MHD_HTTP_FORBIDDEN;
	}
	return 0;
}

/* Set-Cookie for the secret sec (NULL: the cookie cleared) */
static void
cookie_header(struct MHD_Connection *c, const char *sec, char *buf,
    size_t len)
{
	const char *fwd = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "X-Forwarded-Proto");
	const char *o = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Origin");
	int tls = (fwd != NULL && strcmp(fwd, "https") == 0) ||
	    (o != NULL && strncmp(o, "https://", 8) == 0);

	snprintf(buf, len, "%s=%s; Path=/; HttpOnly; SameSite=Strict; "
	    "Max-Age=%d%s", WEB_COOKIE, sec ? sec : "", sec ? WEB_SESSION_SEC
	    : 0, tls ? "; Secure" : "");
}

/* The session of token hash th, its secret in sec: the user and the
 * JSON answer; NULL with *status and err when the token opens nothing
 * (or the database failed). */
static json_t *
session_make(PGconn *db, const uint8_t th[32], const char *sec,
    unsigned *status, char *err, size_t len)
{
	const char *params[3];
	int lens[3] = { 32, 32, 0 }, fmts[3] = { 1, 1, 0 };
	char csrf[65], secs[16];
	uint8_t sh[32];
	json_t *o = NULL;
	PGresult *r;

	hash_buf(sec, 64, sh);
	snprintf(secs, sizeof(secs), "%d", WEB_SESSION_SEC);
	params[0] = (const char *)th;
	params[1] = (const char *)sh;
	params[2] = secs;
	r = db_query_bin(db, "INSERT INTO web_sessions (hash, token_id, "
	    "expires) SELECT $2, t.id, least(now() + "
	    "make_interval(secs => $3::int), coalesce(t.expires, 'infinity')) "
	    "FROM tokens t WHERE t.hash = $1 AND token_state(t) = 'live' "
	    "RETURNING (SELECT u.name FROM users u JOIN tokens t2 ON "
	    "t2.user_id = u.id WHERE t2.id = token_id), (SELECT "
	    "u.is_admin::text FROM users u JOIN tokens t2 ON t2.user_id = "
	    "u.id WHERE t2.id = token_id), expires", 3, params, lens, fmts);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		*status = MHD_HTTP_SERVICE_UNAVAILABLE;
		snprintf(err, len, "database error");
	} else if (PQntuples(r) != 1) {
		*status = MHD_HTTP_UNAUTHORIZED;
		snprintf(err, len, "no valid token");
	} else {
		csrf_of(sec, csrf);
		o = json_pack("{s:s, s:b, s:s, s:s}", "user", PQgetvalue(r, 0,
		    0), "admin", PQgetvalue(r, 0, 1)[0] == 't', "csrf", csrf,
		    "expires", PQgetvalue(r, 0, 2));
	}
	PQclear(r);
	return o;
}

/* POST /api/web/login {"token"}: public (the token is the proof); an
 * Origin, when sent, must be this host's (no login forced from
 * another site). */
enum MHD_Result
web_login(struct http_req *rq)
{
	const char *tok = json_string_value(json_object_get(rq->o, "token"));
	char sec[65], err[128], cookie[200];
	const char *hdr[3] = { "Set-Cookie", cookie, NULL };
	unsigned status = 0;
	uint8_t th[32], junk[32];
	struct perr e;
	enum MHD_Result rc;
	PGconn *db;
	json_t *o;
	char *text;

	if (!origin_ok(rq->c))
		return http_error(rq->c, MHD_HTTP_FORBIDDEN,
		    "cross-site request refused");
	if (!is_secret(tok))
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "\"token\": 64 "
		    "lower-case hex digits (pipol user token new)");
	if ((db = db_get(rq->pd)) == NULL)
		return http_error(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "database unavailable");
	hash_buf(tok, 64, th);
	if (auth_token_new(sec, junk, &e) < 0) {
		db_put(rq->pd, db);
		return http_error(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "no randomness");
	}
	o = session_make(db, th, sec, &status, err, sizeof(err));
	db_put(rq->pd, db);
	if (o == NULL) {
		OPENSSL_cleanse(sec, sizeof(sec));
		return http_error(rq->c, status, err);
	}
	cookie_header(rq->c, sec, cookie, sizeof(cookie));
	OPENSSL_cleanse(sec, sizeof(sec));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL)
		return MHD_NO;
	rc = http_reply_headers(rq->c, MHD_HTTP_OK, "application/json", text,
	    strlen(text), hdr);
	OPENSSL_cleanse(cookie, sizeof(cookie));
	free(text);
	return rc;
}

/* POST /api/web/logout: the session revoked (its event streams close
 * within a second), the cookie cleared */
enum MHD_Result
web_logout(struct http_req *rq)
{
	char id[24], cookie[200];
	const char *params[1] = { id };
	const char *hdr[3] = { "Set-Cookie", cookie, NULL };
	PGresult *r;
	int ok;

	if (rq->who.session == 0)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "not a web "
		    "session (a bearer token is revoked with pipol user token "
		    "revoke)");
	snprintf(id, sizeof(id), "%lld", rq->who.session);
	r = db_query(rq->db, "UPDATE web_sessions SET revoked = now() WHERE "
	    "id = $1 AND revoked IS NULL", 1, params);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok)
		return http_error(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "database error");
	cookie_header(rq->c, NULL, cookie, sizeof(cookie));
	return http_reply_headers(rq->c, MHD_HTTP_OK, "application/json",
	    "{\"logout\":true}", 15, hdr);
}

/* GET /api/web/session: who, and the CSRF token of the cookie (a page
 * reloaded has lost it; another site cannot read this answer) */
enum MHD_Result
web_session_show(struct http_req *rq)
{
	const char *sec = cookie_of(rq->c);
	char csrf[65] = "";

	if (rq->who.session != 0 && sec != NULL)
		csrf_of(sec, csrf);
	return http_json(rq->c, MHD_HTTP_OK, json_pack("{s:s, s:b, s:s}",
	    "user", rq->who.name, "admin", rq->who.admin, "csrf", csrf));
}

int
web_session_live(PGconn *db, long long id)
{
	char sid[24];
	const char *params[1] = { sid };
	PGresult *r;
	int live;

	snprintf(sid, sizeof(sid), "%lld", id);
	r = db_exec_prepared(db, "web_session_live", "SELECT 1 FROM "
	    "web_sessions s JOIN tokens t ON t.id = s.token_id WHERE s.id = "
	    "$1 AND s.revoked IS NULL AND s.expires > now() AND "
	    "token_state(t) = 'live'", 1, params, NULL, NULL);
	live = PQresultStatus(r) != PGRES_TUPLES_OK ? -1 : PQntuples(r) == 1;
	PQclear(r);
	return live;
}

void
web_sessions_tick(PGconn *db)
{
	PQclear(db_query(db, "SELECT web_sessions_purge()", 0, NULL));
}
