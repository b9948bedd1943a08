/*
 * api_bmc.c -- the routes of per-reservation BMC accounts (bmc.c):
 *
 *   GET /api/bmc/NAME   the holder of NAME's running reservation, and
 *       only they (admins included: the password is the holder's):
 *       200 {"node", "reservation", "user", "password", "host", "port",
 *       "cipher", "channel"} once the tick has enabled the account;
 *       403 not yours · 404 no such node · 409 not an IPMI node ·
 *       503 the account is being set up (or the BMC failed: last_error)
 *   POST /api/bmc/NAME/rotate-admin   admins: a new admin password set
 *       on the BMC and written to the node's password_file; 200
 *       {"node", "message"}, 409 not IPMI, 502/503 the BMC's refusal
 *
 * The password is in this answer and nowhere else: no log, no event.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "bmc.h"
#include "log.h"
#include "pipold.h"
#include "power.h"

/* NAME from /api/bmc/NAME[/rest]: the schema's node names only. */
static int
bmc_node_name(const char *url, char name[64], const char **rest)
{
	const char *p = url + strlen("/api/bmc/");
	size_t n = strcspn(p, "/");

	if (n == 0 || n > 63 || *p < 'a' || *p > 'z' ||
	    strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-") < n)
		return -1;
	memcpy(name, p, n);
	name[n] = '\0';
	*rest = p + n;
	return 0;
}

static const char *
param(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v != NULL ? v : "";
}

/* The account's answer, from the row (node id, driver, params, the
 * caller's running reservation, applied, salt, last error). */
static enum MHD_Result
bmc_answer(struct http_req *rq, const char *name, PGresult *r)
{
	char user[BMC_USER_MAX + 1], pw[BMC_PW_LEN + 1], err[400];
	const char *resv = PQgetvalue(r, 0, 3);
	json_t *params, *o;
	struct perr e;

	if (strcmp(PQgetvalue(r, 0, 1), "ipmi") != 0) {
		snprintf(err, sizeof(err), "node %s: not an IPMI node (power "
		    "driver %s)", name, PQgetvalue(r, 0, 1));
		return http_error(rq->c, MHD_HTTP_CONFLICT, err);
	}
	if (PQgetisnull(r, 0, 3)) {
		snprintf(err, sizeof(err), "node %s: not in a running "
		    "reservation of yours", name);
		return http_error(rq->c, MHD_HTTP_FORBIDDEN, err);
	}
	if (strcmp(PQgetvalue(r, 0, 4), "t") != 0) {
		snprintf(err, sizeof(err), "node %s: its BMC account is being "
		    "set up%s%.200s; try again in a few seconds", name,
		    PQgetisnull(r, 0, 6) ? "" : " (last try: ",
		    PQgetisnull(r, 0, 6) ? "" : PQgetvalue(r, 0, 6));
		if (!PQgetisnull(r, 0, 6))
			strncat(err, ")", sizeof(err) - strlen(err) - 1);
		return http_error(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE, err);
	}
	if (bmc_account(rq->pd, resv, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 5),
	    user, pw, &e) < 0) {
		log_warnx("bmc: node %s: %s", name, e.msg);
		return http_error(rq->c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "BMC account: key unavailable (see pipold's log)");
	}
	params = json_loads(PQgetvalue(r, 0, 2), 0, NULL);
	o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "node", name,
	    "reservation", (json_int_t)atoll(resv), "user", user, "password",
	    pw, "host", param(params, "host"), "port", param(params, "port"),
	    "cipher", param(params, "cipher"), "channel", BMC_CHANNEL);
	json_decref(params);
	explicit_bzero(pw, sizeof(pw));
	return http_json(rq->c, MHD_HTTP_OK, o);
}

enum MHD_Result
api_bmc_show(struct http_req *rq)
{
	char name[64], uid[24];
	const char *rest, *params[2] = { name, uid };
	enum MHD_Result rc;
	PGresult *r;

	if (bmc_node_name(rq->url, name, &rest) < 0 || *rest != '\0')
		return http_error(rq->c, MHD_HTTP_NOT_FOUND, "not found");
	snprintf(uid, sizeof(uid), "%lld", rq->who.id);
	/* the caller's running reservation of the node, and whether the
	 * account the BMC holds now is that reservation's */
	r = db_query(rq->db, "SELECT n.id, n.power_driver, "
	    "n.power_params::text, (SELECT r.id FROM reservations r WHERE "
	    "r.id = bmc_want(n.id) AND r.user_id = $2::bigint), "
	    "coalesce(a.known AND a.reservation_id = bmc_want(n.id), false), "
	    "encode(a.salt, 'hex'), a.last_error FROM nodes n LEFT JOIN "
	    "bmc_accounts a ON a.node_id = n.id WHERE n.name = $1", 2, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = http_sql_error(rq->c, r, "bmc");
	else if (PQntuples(r) != 1) {
		char err[96];

		snprintf(err, sizeof(err), "node %s: no such node", name);
		rc = http_error(rq->c, MHD_HTTP_NOT_FOUND, err);
	} else
		rc = bmc_answer(rq, name, r);
	PQclear(r);
	return rc;
}

enum MHD_Result
api_bmc_rotate(struct http_req *rq)
{
	char name[64], msg[512], err[160];
	const char *rest, *params[1] = { name };
	json_t *pp = NULL;
	struct perr e;
	PGresult *r;
	int ok;

	if (bmc_node_name(rq->url, name, &rest) < 0 ||
	    strcmp(rest, "/rotate-admin") != 0)
		return http_error(rq->c, MHD_HTTP_NOT_FOUND, "not found");
	r = db_query(rq->db, "SELECT power_driver, power_params::text FROM "
	    "nodes WHERE name = $1", 1, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		snprintf(err, sizeof(err), "node %s: no such node", name);
		PQclear(r);
		return http_error(rq->c, MHD_HTTP_NOT_FOUND, err);
	}
	if (strcmp(PQgetvalue(r, 0, 0), "ipmi") != 0) {
		snprintf(err, sizeof(err), "node %s: not an IPMI node (power "
		    "driver %s)", name, PQgetvalue(r, 0, 0));
		PQclear(r);
		return http_error(rq->c, MHD_HTTP_CONFLICT, err);
	}
	pp = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
	PQclear(r);
	/* not held while ipmitool runs */
	db_put(rq->pd, rq->db);
	rq->db = NULL;
	ok = bmc_rotate_admin(rq->pd, name, pp, msg, sizeof(msg), &e) == 0;
	json_decref(pp);
	log_info("node %s: BMC admin password rotated by %s: %s", name,
	    rq->who.name, ok ? msg : e.msg);
	if ((rq->db = db_get(rq->pd)) != NULL)
		db_event(rq->db, rq->who.name, "node.bmc", json_pack("{s:s, "
		    "s:s, s:b, s:s}", "node", name, "action", "rotate-admin",
		    "ok", ok, "message", ok ? msg : e.msg));
	if (!ok)
		return http_error(rq->c, e.code == PE_UNAVAIL ?
		    MHD_HTTP_SERVICE_UNAVAILABLE : e.code == PE_CONFLICT ?
		    MHD_HTTP_CONFLICT : MHD_HTTP_BAD_GATEWAY, e.msg);
	return http_json(rq->c, MHD_HTTP_OK, json_pack("{s:s, s:s}", "node",
	    name, "message", msg));
}
