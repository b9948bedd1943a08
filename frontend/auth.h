/*
 * auth.h -- who sends a request (auth.c): API tokens (256 bits, shown
 * once, only their SHA-256 kept) and the one lookup that turns a bearer
 * token into a caller, a user or the agent of a deployment in flight.
 * Knows nothing of routes or of what a caller may do (http.c decides).
 */
#ifndef AUTH_H
#define AUTH_H

#include <microhttpd.h>
#include <stdint.h>

#include "perr.h"

struct pg_conn;

enum caller_kind {
	CALLER_NONE,		/* no token, or one that opens nothing */
	CALLER_USER,		/* a user's API token */
	CALLER_AGENT		/* the token of a deployment in flight */
};

struct caller {
	enum caller_kind kind;
	long long id;		/* the user (an agent's: its deployment's) */
	int admin;		/* users only */
	char name[64];		/* the user's, or "capture N" / "agent N" */
	long long deployment;	/* an agent's deployment, else 0 */
	char dep_kind[16];	/* an agent's: "deploy" or "capture" */
	char image[128];	/* an agent's deployment's image name */
	long long token;	/* a user's: the id of the token used */
	char refusal[128];	/* CALLER_NONE: why a user's token opens
				 * nothing ("token expired on ..."), or "" */
	int user_phase;		/* an agent's token of the user phase
				 * (schema 007): no order, no site log */
	/* web: the web session the caller came by (its cookie), else 0 */
	long long session;
};

/* A fresh token: 64 hex digits (shown once) and the SHA-256 kept. */
int auth_token_new(char hex[65], uint8_t hash[32], struct perr *e);
/* The SHA-256 of the bearer token of c; -1 when there is none. */
int auth_bearer_hash(struct MHD_Connection *c, uint8_t hash[32]);
int auth_same(const uint8_t a[32], const uint8_t b[32]);

/*
 * Who sends the request on c: fills *who (CALLER_NONE when the token is
 * absent or opens nothing); 0, or -1 when the database failed.
 */
int auth_lookup(struct pg_conn *db, struct MHD_Connection *c,
    struct caller *who);

#endif
