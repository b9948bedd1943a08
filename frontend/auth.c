/*
 * auth.c -- API tokens: 256 random bits, shown once as 64 hex digits,
 * kept only as the SHA-256 of that text. A request's bearer token is
 * hashed and looked up, among the users' live tokens and the tokens of
 * the deployments in flight (one statement); the hash found is compared
 * again in constant time before it is trusted. A user's token that has
 * ended is named in the refusal, with the date. What a caller may do
 * is not decided here (http.c, per route).
 */
#include <sys/random.h>
#include <openssl/crypto.h>
#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "hash.h"
#include "http.h"
#include "pipold.h"
#include "web.h"

int
auth_token_new(char hex[65], uint8_t hash[32], struct perr *e)
{
	uint8_t raw[32];
	ssize_t n;

	do
		n = getrandom(raw, sizeof(raw), 0);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(raw))
		return perr_errno(e, PE_FAIL, "getrandom");
	hash_hex(raw, hex);
	hash_buf(hex, 64, hash);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

/* The SHA-256 of the bearer token of c; -1 when there is none. */
int
auth_bearer_hash(struct MHD_Connection *c, uint8_t hash[32])
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	size_t i;

	if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
		return -1;
	h += 7;
	if (strlen(h) != 64)
		return -1;
	for (i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)h[i]) || isupper((unsigned char)h[i]))
			return -1;
	hash_buf(h, 64, hash);
	return 0;
}

int
auth_same(const uint8_t a[32], const uint8_t b[32])
{
	return CRYPTO_memcmp(a, b, 32) == 0;
}

/*
 * Why a well-formed token opened nothing, when it is a user's that
 * ended (expired or revoked): who->refusal, one line for the 401. Such
 * tokens are kept 30 days (tokens_purge()), so the answer says when,
 * rather than a bare "no valid token". Only the holder of the secret
 * learns it.
 */
static void
auth_refusal(PGconn *db, const uint8_t want[32], struct caller *who)
{
	const char *params[1] = { (const char *)want };
	int lens[1] = { 32 }, fmts[1] = { 1 };
	PGresult *r;

	r = db_exec_prepared(db, "auth_refusal", "SELECT token_state(t), "
	    "to_char(coalesce(t.revoked, t.expires) AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD HH24:MI \"UTC\"') FROM tokens t WHERE t.hash = $1",
	    1, params, lens, fmts);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		if (strcmp(PQgetvalue(r, 0, 0), "expired") == 0)
			snprintf(who->refusal, sizeof(who->refusal), "token "
			    "expired on %s; make a new one with pipol user "
			    "token new", PQgetvalue(r, 0, 1));
		else if (strcmp(PQgetvalue(r, 0, 0), "revoked") == 0)
			snprintf(who->refusal, sizeof(who->refusal), "token "
			    "revoked on %s", PQgetvalue(r, 0, 1));
	}
	PQclear(r);
}

/*
 * A user's token was used: its last_used, at most once a minute
 * (AUTH_LAST_USED), so that most lookups write nothing. The lookup
 * said it was stale; the WHERE says it again, for concurrent requests.
 */
#define AUTH_LAST_USED	"interval '60 seconds'"

static void
auth_touch(PGconn *db, long long token)
{
	char id[24];
	const char *params[1] = { id };

	snprintf(id, sizeof(id), "%lld", token);
	PQclear(db_exec_prepared(db, "auth_touch", "UPDATE tokens SET "
	    "last_used = now() WHERE id = $1 AND (last_used IS NULL OR "
	    "last_used < now() - " AUTH_LAST_USED ")", 1, params, NULL,
	    NULL));
}

/*
 * A user's live token (not expired, not revoked: schema 008), else a
 * deployment's in flight (boot.c mints those: its agent's, for that
 * deployment only, until it ends), sent from the address that fetched
 * it (a token copied off the node opens nothing elsewhere). Prepared:
 * the agents' progress reports run it every second. An agent's token is
 * of the boot phase or, once traded (POST /agent/phase), of the user
 * phase (who->user_phase).
 */
int
auth_lookup(PGconn *db, struct MHD_Connection *c, struct caller *who)
{
	uint8_t want[32], got[32];
	char addr[HTTP_ADDR_MAX];
	const char *params[2] = { (const char *)want, addr };
	int lens[2] = { 32, 0 }, fmts[2] = { 1, 0 }, rc = 0;
	PGresult *r;

	memset(who, 0, sizeof(*who));
	if (auth_bearer_hash(c, want) < 0)	/* web: else a cookie's */
		return web_session_lookup(db, c, who);
	if (http_peer_addr(c, addr) < 0)
		params[1] = NULL;	/* no agent token matches */
	r = db_exec_prepared(db, "auth_lookup", "SELECT 'u', u.id, "
	    "u.is_admin::text, u.name, encode(t.hash, 'hex'), 0, '', '', "
	    "t.id, coalesce(t.last_used < now() - " AUTH_LAST_USED ", "
	    "true)::text, 'boot' FROM tokens t JOIN users u ON u.id = "
	    "t.user_id WHERE t.hash = $1 AND token_state(t) = 'live' "
	    "UNION ALL SELECT 'a', coalesce(d.user_id, 0), 'f', '', "
	    "encode(d.token_hash, 'hex'), d.id, d.kind, coalesce("
	    "d.image_name, ''), 0, 'false', d.token_phase FROM deployments d "
	    "WHERE d.token_hash = $1 AND d.token_addr = $2::inet AND "
	    "d.state NOT IN ('ready', 'failed')", 2, params, lens, fmts);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = -1;
	else if (PQntuples(r) == 1 &&
	    hash_from_hex(PQgetvalue(r, 0, 4), got) == 0 &&
	    auth_same(got, want)) {
		who->kind = PQgetvalue(r, 0, 0)[0] == 'u' ? CALLER_USER :
		    CALLER_AGENT;
		who->id = atoll(PQgetvalue(r, 0, 1));
		who->admin = PQgetvalue(r, 0, 2)[0] == 't';
		who->deployment = atoll(PQgetvalue(r, 0, 5));
		snprintf(who->dep_kind, sizeof(who->dep_kind), "%s",
		    PQgetvalue(r, 0, 6));
		snprintf(who->image, sizeof(who->image), "%s",
		    PQgetvalue(r, 0, 7));
		who->token = atoll(PQgetvalue(r, 0, 8));
		who->user_phase = strcmp(PQgetvalue(r, 0, 10), "user") == 0;
		if (who->kind == CALLER_USER)
			snprintf(who->name, sizeof(who->name), "%s",
			    PQgetvalue(r, 0, 3));
		else
			snprintf(who->name, sizeof(who->name), "%s %lld",
			    who->dep_kind, who->deployment);
		if (who->kind == CALLER_USER &&
		    PQgetvalue(r, 0, 9)[0] == 't')
			auth_touch(db, who->token);
	} else if (PQntuples(r) == 0)
		auth_refusal(db, want, who);
	PQclear(r);
	return rc;
}
