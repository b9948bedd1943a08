/*
 * api_power.c -- POST /api/nodes/NAME/power {"action": "on" | "off" |
 * "reset" | "cycle" | "status"}: runs the node's power driver (power.h).
 * Every action but status goes to the event log, done or failed. On,
 * reset and cycle, done, start a boot cycle: a deployment in flight on
 * the node may then take a new token at its next boot (boot.c).
 *
 *   200 {"node", "action", "message"}   done (manual: what to do by hand)
 *   400 bad body or action · 403 not allowed · 404 no such node
 *   409 the node's power settings are incomplete or wrong
 *   502 the controller refused or failed · 503 unreachable, or too slow
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "pipold.h"
#include "power.h"

/*
 * May who act on the power of node_id? Admins may, and the holder of a
 * running reservation of that node: that check is here, and only here.
 */
static int
power_allowed(PGconn *db, const struct caller *who, long long node_id)
{
	char uid[24], nid[24];
	const char *params[2] = { uid, nid };
	PGresult *r;
	int ok;

	if (who->admin)
		return 1;
	snprintf(uid, sizeof(uid), "%lld", who->id);
	snprintf(nid, sizeof(nid), "%lld", node_id);
	r = db_query(db, "SELECT 1 FROM reservations r JOIN "
	    "reservation_nodes rn ON rn.reservation_id = r.id WHERE "
	    "r.user_id = $1 AND rn.node_id = $2 AND rn.live AND "
	    "reservation_state(r) = 'running'", 2, params);
	ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
	PQclear(r);
	return ok;
}

static unsigned
power_http_status(int code)
{
	switch (code) {
	case PE_UNAVAIL: return MHD_HTTP_SERVICE_UNAVAILABLE;
	case PE_CONFLICT: return MHD_HTTP_CONFLICT;
	default: return MHD_HTTP_BAD_GATEWAY;
	}
}

/* The node's id, driver and params; 0, or the HTTP status to answer. */
static unsigned
node_power_get(PGconn *db, const char *name, long long *id, char *driver,
    size_t dlen, json_t **params)
{
	const char *p[1] = { name };
	unsigned status = 0;
	PGresult *r;

	r = db_query(db, "SELECT id::text, power_driver, "
	    "node_power(nodes)::text FROM nodes WHERE name = $1", 1, p);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
	else if (PQntuples(r) != 1)
		status = MHD_HTTP_NOT_FOUND;
	else {
		*id = atoll(PQgetvalue(r, 0, 0));
		snprintf(driver, dlen, "%s", PQgetvalue(r, 0, 1));
		*params = json_loads(PQgetvalue(r, 0, 2), 0, NULL);
	}
	PQclear(r);
	return status;
}

/* Run the driver with no database connection held: it may take a while. */
static enum MHD_Result
power_act(struct pipold *pd, struct MHD_Connection *c, const char *name,
    const struct caller *who, const char *driver, json_t *params, int action)
{
	char msg[POWER_MSG_MAX];
	enum MHD_Result rc;
	struct perr e;
	PGconn *db;
	int ok;

	ok = power_run(name, driver, params, action, msg, sizeof(msg), &e) == 0;
	if (action != POWER_STATUS) {
		log_info("node %s: power %s by %s: %s", name,
		    power_action_name(action), who->name, ok ? msg : e.msg);
		if ((db = db_get(pd)) != NULL && ok && action != POWER_OFF) {
			/* a deployment power-cycled by hand: its timeline */
			timeline_mark(db, name, "power_on", NULL);
			boot_arm(db, name);	/* a cycle pipold started */
		}
		elilo_write_node(pd, name);
		if (db != NULL)
			db_event(db, who->name, "node.power", json_pack(
			    "{s:s, s:s, s:b, s:s}", "node", name, "action",
			    power_action_name(action), "ok", ok, "message",
			    ok ? msg : e.msg));
		else
			log_warnx("node %s: power %s: not in the event log: "
			    "database unavailable", name,
			    power_action_name(action));
		db_put(pd, db);
	}
	if (!ok)
		return http_error(c, power_http_status(e.code), e.msg);
	rc = http_json(c, MHD_HTTP_OK, json_pack("{s:s, s:s, s:s}", "node",
	    name, "action", power_action_name(action), "message", msg));
	return rc;
}

enum MHD_Result
api_node_power(struct http_req *rq)
{
	struct MHD_Connection *c = rq->c;
	char err[160], driver[16], name[64];
	const char *rest;
	json_t *params = NULL;
	enum MHD_Result rc;
	long long id = 0;
	unsigned status;
	int action;

	if (node_name_from_url(rq->url, name, &rest) < 0)
		return http_error(c, MHD_HTTP_NOT_FOUND, "not found");
	action = power_action_parse(json_string_value(json_object_get(rq->o,
	    "action")));
	if (action < 0)
		return http_error(c, MHD_HTTP_BAD_REQUEST, "\"action\": on, "
		    "off, reset, cycle or status");
	if ((status = node_power_get(rq->db, name, &id, driver,
	    sizeof(driver), &params)) != 0) {
		snprintf(err, sizeof(err), "node %s: no such node", name);
		return http_error(c, status, status == MHD_HTTP_NOT_FOUND ?
		    err : "database error");
	}
	if (!power_allowed(rq->db, &rq->who, id)) {
		snprintf(err, sizeof(err), "node %s: not in a running "
		    "reservation of yours", name);
		rc = http_error(c, MHD_HTTP_FORBIDDEN, err);
		goto out;
	}
	/* not held while the driver runs: it may take a while */
	db_put(rq->pd, rq->db);
	rq->db = NULL;
	rc = power_act(rq->pd, c, name, &rq->who, driver, params, action);
 out:
	json_decref(params);
	return rc;
}
