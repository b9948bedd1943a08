/*
 * api_console.c -- a node's serial console over HTTP (console.c keeps
 * the readers and the logs):
 *
 *   GET /api/nodes/NAME/console, "Connection: Upgrade", "Upgrade:
 *   pipol-console": 101, then the console's bytes both ways, raw, until
 *   either side closes (or console.c cuts the client: reservation over,
 *   idle, too slow). Or "Upgrade: websocket" (the web page's terminal,
 *   RFC 6455, version 13): the same bytes in binary frames (ws.c); on a
 *   session cookie, only from the page's own origin (web_ws_check).
 *   The holder of a running reservation of the node, or an admin.
 *     400 no Upgrade, a bad WebSocket handshake · 403 not yours, or a
 *     cross-site WebSocket · 404 no such node
 *     409 the node has no console · 503 CONSOLE_CLIENTS_MAX attached
 *   GET /api/deployments/ID/console: that deployment's console log
 *   (text/plain, what the node said, bytes as they came); its owner or
 *   an admin, else 404.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "console.h"
#include "log.h"
#include "pipold.h"
#include "web.h"
#include "ws.h"

/* Who attaches, carried to the upgrade callback. */
struct attach {
	long long node_id, user;
	int admin, ws;
	char who[64];
};

static void
on_upgraded(void *cls, struct MHD_Connection *c, void *req_cls,
    const char *extra_in, size_t extra_in_size, MHD_socket sock,
    struct MHD_UpgradeResponseHandle *urh)
{
	struct attach *a = cls;

	(void)c, (void)req_cls;
	console_attach(a->node_id, a->user, a->admin, a->ws, a->who, sock, urh,
	    extra_in, extra_in_size);
	free(a);
}

/*
 * Which protocol does the request ask for: 1 the console's, 2 WebSocket
 * (its key's accept in acc), or 0 with why in err.
 */
static int
wants_upgrade(struct http_req *rq, char acc[WS_ACCEPT_LEN + 1], char *err,
    size_t len)
{
	const char *up = MHD_lookup_connection_value(rq->c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_UPGRADE);
	const char *key = MHD_lookup_connection_value(rq->c, MHD_HEADER_KIND,
	    "Sec-WebSocket-Key");
	const char *ver = MHD_lookup_connection_value(rq->c, MHD_HEADER_KIND,
	    "Sec-WebSocket-Version");

	if (up != NULL && strcasecmp(up, CONSOLE_PROTOCOL) == 0)
		return 1;
	if (up == NULL || strcasecmp(up, "websocket") != 0) {
		snprintf(err, len, "want \"Connection: Upgrade\" and "
		    "\"Upgrade: " CONSOLE_PROTOCOL "\" (or websocket)");
		return 0;
	}
	if (ver == NULL || strcmp(ver, "13") != 0) {
		snprintf(err, len, "WebSocket: want Sec-WebSocket-Version 13");
		return 0;
	}
	if (!ws_key_ok(key)) {
		snprintf(err, len, "WebSocket: Sec-WebSocket-Key: not 16 "
		    "bytes in base64");
		return 0;
	}
	ws_accept(key, acc);
	return 2;
}

/*
 * The node's id and console; may who attach? The holder of a running
 * reservation of the node, or an admin: that check is here only.
 */
static const char node_sql[] =
    "SELECT n.id::text, coalesce((n.power_driver = 'qemu' AND "
    "n.power_params ? 'serial') OR (n.power_driver = 'ipmi' AND "
    "n.power_params->>'sol' = 'on') OR n.power_driver = 'vm', false), "
    "$3::boolean OR EXISTS (SELECT 1 "
    "FROM reservations r JOIN reservation_nodes rn ON rn.reservation_id "
    "= r.id WHERE r.user_id = $2 AND rn.node_id = n.id AND rn.live AND "
    "reservation_state(r) = 'running') FROM nodes n WHERE n.name = $1";

enum MHD_Result
api_node_console(struct http_req *rq)
{
	struct MHD_Connection *c = rq->c;
	char name[64], uid[24], err[160], acc[WS_ACCEPT_LEN + 1];
	const char *rest, *p[3], *hdrs[3] = { "Sec-WebSocket-Accept", acc,
	    NULL };
	struct attach *a;
	enum MHD_Result rc;
	unsigned st;
	int proto;
	PGresult *r;

	if (node_name_from_url(rq->url, name, &rest) < 0 ||
	    strcmp(rest, "/console") != 0)
		return http_error(c, MHD_HTTP_NOT_FOUND, "not found");
	snprintf(uid, sizeof(uid), "%lld", rq->who.id);
	p[0] = name;
	p[1] = uid;
	p[2] = rq->who.admin ? "t" : "f";
	r = db_query(rq->db, node_sql, 3, p);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "database error");
		goto out;
	}
	if (PQntuples(r) != 1) {
		snprintf(err, sizeof(err), "node %s: no such node", name);
		rc = http_error(c, MHD_HTTP_NOT_FOUND, err);
	} else if (strcmp(PQgetvalue(r, 0, 2), "t") != 0) {
		snprintf(err, sizeof(err), "node %s: not in a running "
		    "reservation of yours", name);
		rc = http_error(c, MHD_HTTP_FORBIDDEN, err);
	} else if (strcmp(PQgetvalue(r, 0, 1), "t") != 0) {
		snprintf(err, sizeof(err), "node %s: no console (an admin "
		    "sets the qemu power param serial=PATH, or the ipmi "
		    "one sol=on)", name);
		rc = http_error(c, MHD_HTTP_CONFLICT, err);
	} else if ((proto = wants_upgrade(rq, acc, err, sizeof(err))) == 0) {
		rc = http_error(c, MHD_HTTP_BAD_REQUEST, err);
	} else if (proto == 2 &&
	    (st = web_ws_check(c, &rq->who, err, sizeof(err))) != 0) {
		rc = http_error(c, st, err);
	} else if (!console_has_room(atoll(PQgetvalue(r, 0, 0)))) {
		snprintf(err, sizeof(err), "node %s: %d clients on its "
		    "console already", name, CONSOLE_CLIENTS_MAX);
		rc = http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, err);
	} else if ((a = calloc(1, sizeof(*a))) == NULL) {
		rc = MHD_NO;
	} else {
		*a = (struct attach){ .node_id = atoll(PQgetvalue(r, 0, 0)),
		    .user = rq->who.id, .admin = rq->who.admin,
		    .ws = proto == 2 };
		snprintf(a->who, sizeof(a->who), "%s", rq->who.name);
		if ((rc = http_upgrade(c, proto == 2 ? "websocket" :
		    CONSOLE_PROTOCOL, proto == 2 ? hdrs : NULL, on_upgraded, a))
		    != MHD_YES)
			free(a);
	}
 out:
	PQclear(r);
	return rc;
}

/* GET /api/deployments/ID/console */
enum MHD_Result
api_deploy_console(struct http_req *rq)
{
	static const char *const text[] = { "Content-Type",
	    "text/plain; charset=utf-8", NULL };
	const char *s = rq->url + strlen("/api/deployments/"), *p[3];
	char dep[24], uid[24], err[96], path[PATH_MAX];
	struct MHD_Connection *c = rq->c;
	struct stat st;
	PGresult *r;
	long long id;
	char *end;
	int fd, ok;

	id = strtoll(s, &end, 10);
	if (!isdigit((unsigned char)*s) || id <= 0 ||
	    strcmp(end, "/console") != 0)
		return http_error(c, MHD_HTTP_NOT_FOUND, "not found");
	snprintf(dep, sizeof(dep), "%lld", id);
	snprintf(uid, sizeof(uid), "%lld", rq->who.id);
	p[0] = dep;
	p[1] = uid;
	p[2] = rq->who.admin ? "t" : "f";
	r = db_query(rq->db, "SELECT 1 FROM deployments WHERE id = $1 AND "
	    "(user_id = $2 OR $3::boolean)", 3, p);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "database error");
	}
	ok = PQntuples(r) == 1;
	PQclear(r);
	if (!ok) {
		snprintf(err, sizeof(err), "deployment %s: none of yours", dep);
		return http_error(c, MHD_HTTP_NOT_FOUND, err);
	}
	console_log_path(rq->pd->state, id, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warn("%s", path);
		return http_fd(c, MHD_HTTP_OK, -1, 0, 0, text);	/* nothing */
	}
	if (fstat(fd, &st) == -1) {
		close(fd);
		return http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "console log unreadable");
	}
	return http_fd(c, MHD_HTTP_OK, fd, 0, (uint64_t)st.st_size, text);
}
