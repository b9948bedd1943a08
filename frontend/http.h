/*
 * http.h -- pipold's HTTP layer (http.c): the route table, where every
 * route declares who may call it and how large a body it takes; the
 * dispatcher, which checks both (and the body's JSON keys) before a
 * handler runs; and every reply pipold sends, files included. Handlers
 * include this for their replies. It knows nothing of what a route does.
 */
#ifndef HTTP_H
#define HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "perr.h"

struct pg_conn;
struct pg_result;
struct pipold;
struct route;

#define API_BODY_MAX	(64 * 1024)	/* any API request body: then 413 */

/* Who may call a route (http_allows says what each refuses). */
enum http_level {
	HTTP_PUBLIC,		/* anyone: no token looked at */
	HTTP_USER,		/* any user's token */
	HTTP_ADMIN,		/* an admin's token */
	HTTP_AGENT,		/* the token of a deployment in flight */
	HTTP_UPLOAD		/* an admin, or a capture's agent: checked
				 * before the body is read */
};

/* One request, as the handler gets it. */
struct http_req {
	const struct route *rt;	/* its route */
	struct pipold *pd;
	struct MHD_Connection *c;
	const char *url;
	const char *body;	/* NUL-terminated, or NULL when none */
	size_t len;
	json_t *o;		/* the body as a JSON object (routes with
				 * keys), else NULL; the dispatcher frees it */
	struct caller who;	/* CALLER_NONE on public routes */
	/* user, admin and agent routes: a pooled connection, which the
	 * dispatcher gives back (a handler that gives it back early sets
	 * it to NULL); NULL on public and upload routes */
	struct pg_conn *db;
};

typedef enum MHD_Result route_fn(struct http_req *rq);

struct route {
	const char *method;	/* GET (HEAD too), POST, PUT, DELETE */
	const char *path;	/* exact; '*' is one path segment; a final
				 * '/' makes a prefix (something must follow) */
	enum http_level level;
	size_t body_max;	/* the largest body taken (0: none), then 413 */
	const char *const *keys;	/* the body is a JSON object of only
				 * these keys (NULL-terminated), else 400 */
	route_fn *fn;
};

/* The table, ending with a NULL path. */
extern const struct route http_routes[];

/* The route for method and url; *known: the path exists (for 405). */
const struct route *http_route_find(const char *method, const char *url,
    int *known);
/* 0 when who may call a route of level; else 401 or 403. Pure. */
unsigned http_allows(enum http_level level, const struct caller *who);
/* May a route take a body of len bytes? */
int http_body_fits(const struct route *rt, size_t len);

/* The body as a JSON object holding only the keys listed (NULL-
 * terminated); NULL and err (one line naming what is wrong) otherwise.
 * The dispatcher does this for routes that list their keys. */
json_t *http_body_object(const char *body, size_t len,
    const char *const *keys, char *err, size_t errlen);

/*
 * http_guard.c: deadlines on what a client sends (what each phase may
 * take is said there). libmicrohttpd's connection notifications feed it;
 * the dispatcher says when a body begins, when the request is being
 * served, and when it is done.
 */
#define HTTP_HEADER_SEC		10	/* a request's first byte to its
					 * whole header */
#define HTTP_BODY_SEC		10	/* a body, plus its length at: */
#define HTTP_BODY_RATE_MIN	(64 * 1024)	/* bytes/s: a chunk upload of
					 * 64 MiB may take 17 min */
void http_guard_notify(void *cls, struct MHD_Connection *c,
    void **socket_ctx, enum MHD_ConnectionNotificationCode toe);
void http_guard_body(struct MHD_Connection *c, uint64_t len);
void http_guard_serving(struct MHD_Connection *c);
void http_guard_done(struct MHD_Connection *c);
int http_guard_start(struct perr *e);
void http_guard_stop(void);

/* Serve HTTP on sa for pd (threads of libmicrohttpd); stop it. */
struct sockaddr_in;
int http_start(struct pipold *pd, const struct sockaddr_in *sa,
    struct perr *e);
void http_stop(struct pipold *pd);

/* The address c comes from, as text ("127.0.0.2", "fe80::1"); 0, or
 * -1 when libmicrohttpd does not say. */
#define HTTP_ADDR_MAX	46	/* INET6_ADDRSTRLEN */
int http_peer_addr(struct MHD_Connection *c, char buf[HTTP_ADDR_MAX]);

/* Replies. Each queues one response on c; MHD_NO drops the connection. */
/* A short answer of that type (the text is copied). */
enum MHD_Result http_reply(struct MHD_Connection *c, unsigned status,
    const char *type, const char *text);
enum MHD_Result http_text(struct MHD_Connection *c, unsigned status,
    const char *text);
/* o is consumed; NULL o (out of memory) drops the connection */
enum MHD_Result http_json(struct MHD_Connection *c, unsigned status,
    json_t *o);
/* {"error": msg} */
enum MHD_Result http_error(struct MHD_Connection *c, unsigned status,
    const char *msg);
/* {"error": e->msg} with the status of e->code (perr.c's table) */
enum MHD_Result http_perr(struct MHD_Connection *c, const struct perr *e);
/* A failed statement: our PPnnn errors with their own message, the
 * others as "what: ..." with the status of http_sql_status. */
enum MHD_Result http_sql_error(struct MHD_Connection *c,
    struct pg_result *r, const char *what);
/* A statement that built its whole answer as one JSON value: status
 * with it, or the statement's error as http_sql_error says. */
enum MHD_Result http_pgjson(struct MHD_Connection *c, struct pg_result *r,
    unsigned status, const char *what);
/* A refusal decided before it can be sent: inside a transaction that
 * may run again (db_tx), nothing is queued until it is over. */
struct http_fail {
	unsigned status;
	char msg[320];
};
/* f says status and msg; returns -1 */
int http_fail_set(struct http_fail *f, unsigned status, const char *msg);
/* f says what http_sql_error would of r; returns DB_TX_RETRY when the
 * statement may be run again (db_is_retry), else -1 */
int http_fail_sql(struct http_fail *f, struct pg_result *r,
    const char *what);
/* {"error": f->msg} with f->status */
enum MHD_Result http_fail_send(struct MHD_Connection *c,
    const struct http_fail *f);
/* The SQLSTATE of a failed statement as an HTTP status. */
unsigned http_sql_status(struct pg_result *r);
/*
 * A file's bytes [off, off + len) from fd, which is taken (closed even
 * on failure); headers: name, value pairs ending with NULL. fd -1 sends
 * no body (304, 416).
 */
enum MHD_Result http_fd(struct MHD_Connection *c, unsigned status, int fd,
    uint64_t off, uint64_t len, const char *const *headers);

/* web: an answer with headers (name, value pairs, NULL-terminated),
 * buf copied; a stream of unknown length read by fn in the
 * connection's thread, done(cls) at its end (or at once on failure) */
enum MHD_Result http_reply_headers(struct MHD_Connection *c,
    unsigned status, const char *type, const void *buf, size_t len,
    const char *const *headers);
enum MHD_Result http_stream(struct MHD_Connection *c, const char *type,
    const char *const *headers, MHD_ContentReaderCallback fn, void *cls,
    MHD_ContentReaderFreeCallback done);

/* console: answers 101 Switching Protocols to protocol (the request's
 * Upgrade) with headers (name, value pairs, NULL-terminated; or NULL);
 * cb(cls, ...) then owns the socket until it closes it with
 * MHD_upgrade_action. The daemon runs with MHD_ALLOW_UPGRADE. */
enum MHD_Result http_upgrade(struct MHD_Connection *c, const char *protocol,
    const char *const *headers,
    MHD_UpgradeHandler cb, void *cls);

#endif
