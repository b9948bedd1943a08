/*
 * api.h -- what every API handler shares (api.c): JSON answers, the
 * caller behind a bearer token, request bodies checked field by field,
 * the event log, SQL errors as HTTP statuses.
 */
#ifndef API_H
#define API_H

#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>

struct pipold;

struct caller {
	long long id;
	int admin;
	char name[64];
	long long deployment;	/* a capture agent's, else 0 */
};

/* o is consumed; NULL o (out of memory) drops the connection */
enum MHD_Result answer_json(struct MHD_Connection *c, unsigned status,
    json_t *o);
/* {"error": msg} */
enum MHD_Result answer_error(struct MHD_Connection *c, unsigned status,
    const char *msg);

/*
 * Every user API call starts here: a pooled connection and the caller,
 * who must be an admin when admin_only. 0: go on, db_put(pd, *db)
 * after; -1: the refusal (401, 403, 503) is queued in *rc.
 */
int api_begin(struct pipold *pd, struct MHD_Connection *c, int admin_only,
    PGconn **db, struct caller *who, enum MHD_Result *rc);

/* The user behind the bearer token: 0 and *who, or 401 / 503. */
unsigned auth_caller(PGconn *db, struct MHD_Connection *c,
    struct caller *who);

/* A JSON object holding only the keys listed (NULL-terminated); NULL and
 * err (one line naming what is wrong) otherwise. */
json_t *body_object(const char *body, size_t len, const char *const *keys,
    char *err, size_t errlen);

/* Append to the event log; detail is consumed. */
void event(PGconn *db, const char *actor, const char *kind, json_t *detail);

/* The SQLSTATE of a failed statement as an HTTP status. */
unsigned sql_status(PGresult *r);
/* Answer a failed statement: our PPnnn errors with their own message,
 * the others as "what: ..." with the status of sql_status. */
enum MHD_Result answer_sql(struct MHD_Connection *c, PGresult *r,
    const char *what);

/* A statement that built its whole answer as one JSON value: status
 * with it, or the statement's error as answer_sql says. */
enum MHD_Result answer_pgjson(struct MHD_Connection *c, PGresult *r,
    unsigned status, const char *what);

/* api_resv.c: reserve from a checked request (POST /api/reservations,
 * deploy without a reservation); 0 and the id, or -1 with *rc queued */
int resv_take(PGconn *db, struct MHD_Connection *c, const struct caller *who,
    json_t *o, char *idbuf, size_t idlen, enum MHD_Result *rc);

/* api_node.c: NAME of /api/nodes/NAME[/...], 0 and *rest (what follows
 * NAME); -1 when it is no node name. */
int node_name_from_url(const char *url, char name[64], const char **rest);

/* api_power.c: POST /api/nodes/NAME/power */
enum MHD_Result api_node_power(struct pipold *pd, struct MHD_Connection *c,
    const char *name, const char *body, size_t len);

#endif
