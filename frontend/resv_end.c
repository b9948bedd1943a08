/*
 * resv_end.c -- the end of a reservation on its nodes (resv_end.h).
 * The schema (006_resv_end.sql) parks the nodes and queues one action
 * per node in the transaction that ends the reservation; here each
 * queued row is claimed under a lease, committed, acted on through the
 * node's power driver with no transaction open (a controller may take
 * seconds), then deleted or kept with its error, RESV_END_TRIES tries
 * with a doubling backoff. The manual driver has nothing to call: the
 * park boot mode is what keeps the next boot off the user's system.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "pipold.h"
#include "power.h"
#include "resv_end.h"

/* One claimed row, as the claim returned it. */
struct end_job {
	char node_id[24], resv[24], tries[16], name[64], driver[16];
	char action[8];
	json_t *params;
};

/*
 * Claim one due row: not leased (or its lease ran out: the pipold that
 * took it died), past its backoff. One statement, so committed when it
 * returns: the lease is seen by every other pipold. 1 claimed, 0 none,
 * -1 database error.
 */
static int
end_claim(PGconn *db, struct end_job *j)
{
	char lease[16];
	const char *params[1] = { lease };
	PGresult *r;
	int rc;

	snprintf(lease, sizeof(lease), "%d", RESV_END_LEASE_SEC);
	r = db_query(db, "WITH c AS (SELECT node_id FROM node_end_actions "
	    "WHERE (lease_until IS NULL OR lease_until < now()) AND next_at "
	    "<= now() ORDER BY created, node_id LIMIT 1 FOR UPDATE SKIP "
	    "LOCKED) UPDATE node_end_actions a SET lease_until = now() + "
	    "make_interval(secs => $1::integer), tries = a.tries + 1 FROM c, "
	    "nodes n WHERE a.node_id = c.node_id AND n.id = a.node_id "
	    "RETURNING a.node_id, a.reservation_id, a.tries, n.name, "
	    "n.power_driver, n.power_params::text, a.action", 1, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_warnx("end of reservations: database error: %s",
		    PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	if ((rc = PQntuples(r) == 1)) {
		snprintf(j->node_id, sizeof(j->node_id), "%s",
		    PQgetvalue(r, 0, 0));
		snprintf(j->resv, sizeof(j->resv), "%s", PQgetvalue(r, 0, 1));
		snprintf(j->tries, sizeof(j->tries), "%s", PQgetvalue(r, 0, 2));
		snprintf(j->name, sizeof(j->name), "%s", PQgetvalue(r, 0, 3));
		snprintf(j->driver, sizeof(j->driver), "%s",
		    PQgetvalue(r, 0, 4));
		j->params = json_loads(PQgetvalue(r, 0, 5), 0, NULL);
		snprintf(j->action, sizeof(j->action), "%s",
		    PQgetvalue(r, 0, 6));
	}
	PQclear(r);
	return rc;
}

/*
 * The row's outcome: done (deleted), or failed (kept for a later try,
 * or deleted when the tries ran out). Only the row this pipold claimed:
 * same reservation, same try (a later end, or another pipold after the
 * lease ran out, made it another). The result said in the event.
 */
static const char *
end_finish(PGconn *db, const struct end_job *j, int ok, const char *err)
{
	char backoff[16];
	const char *params[5] = { j->node_id, j->resv, j->tries, err, backoff };
	int tries = atoi(j->tries), last = tries >= RESV_END_TRIES;
	const char *result;
	PGresult *r;

	snprintf(backoff, sizeof(backoff), "%d", RESV_END_BACKOFF_SEC <<
	    (tries > 1 && tries < 8 ? tries - 1 : 0));
	if (ok || last) {
		r = db_query(db, "DELETE FROM node_end_actions WHERE node_id = "
		    "$1 AND reservation_id = $2 AND tries = $3", 3, params);
		result = ok ? "done" : "given up";
	} else {
		r = db_query(db, "UPDATE node_end_actions SET lease_until = "
		    "NULL, last_error = $4, next_at = now() + make_interval("
		    "secs => $5::integer) WHERE node_id = $1 AND "
		    "reservation_id = $2 AND tries = $3", 5, params);
		result = "failed";
	}
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		log_warnx("node %s: end of reservation %s: not recorded "
		    "(database error); retried when its lease runs out",
		    j->name, j->resv);
	PQclear(r);
	return result;
}

/* Act on one claimed row: the driver runs with no connection held. */
static void
end_act(struct pipold *pd, struct end_job *j)
{
	char msg[POWER_MSG_MAX];
	const char *result;
	struct perr e;
	PGconn *db;
	int ok;

	if (strcmp(j->driver, "manual") == 0) {
		ok = 1;
		snprintf(msg, sizeof(msg), "manual power: parked (its next "
		    "network boot never reaches its disk)");
	} else if ((ok = power_run(j->name, j->driver, j->params, POWER_OFF,
	    msg, sizeof(msg), &e) == 0) == 0)
		snprintf(msg, sizeof(msg), "%s", e.msg);
	if ((db = db_get(pd)) == NULL) {
		log_warnx("node %s: end of reservation %s: %s; not recorded "
		    "(database unavailable)", j->name, j->resv, msg);
		return;
	}
	result = end_finish(db, j, ok, msg);
	log_info("node %s: end of reservation %s: %s %s, try %s: %s", j->name,
	    j->resv, j->action, result, j->tries, msg);
	db_event(db, "pipold", "node.end", json_pack("{s:s, s:I, s:s, s:s, "
	    "s:i, s:s}", "node", j->name, "reservation",
	    (json_int_t)atoll(j->resv), "action", j->action, "result", result,
	    "try", atoi(j->tries), "message", msg));
	db_put(pd, db);
}

void
resv_end_tick(struct pipold *pd)
{
	struct end_job j;
	PGconn *db;
	int i, got;

	for (i = 0; i < RESV_END_BATCH; i++) {
		if ((db = db_get(pd)) == NULL)
			return;
		memset(&j, 0, sizeof(j));
		got = end_claim(db, &j);
		db_put(pd, db);
		if (got <= 0)
			return;
		end_act(pd, &j);
		elilo_write_node(pd, j.name);	/* parked */
		json_decref(j.params);
	}
}

int
resv_end_deploy(PGconn *db, const char *names, struct http_fail *f)
{
	const char *params[1] = { names };
	char msg[160];
	PGresult *r;
	int rc;

	/* locked until this transaction ends: no claim takes them now */
	r = db_query(db, "SELECT n.name, a.lease_until > now() FROM "
	    "node_end_actions a JOIN nodes n ON n.id = a.node_id WHERE "
	    "n.name = ANY ($1::text[]) ORDER BY n.name FOR UPDATE OF a", 1,
	    params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = http_fail_sql(f, r, "deploy");
		PQclear(r);
		return rc;
	}
	for (rc = 0; rc < PQntuples(r); rc++)
		if (strcmp(PQgetvalue(r, rc, 1), "t") == 0) {
			snprintf(msg, sizeof(msg), "node %s is being powered "
			    "off; try again in a few seconds",
			    PQgetvalue(r, rc, 0));
			PQclear(r);
			return http_fail_set(f, MHD_HTTP_CONFLICT, msg);
		}
	PQclear(r);
	r = db_query(db, "DELETE FROM node_end_actions a USING nodes n WHERE "
	    "n.id = a.node_id AND n.name = ANY ($1::text[]) AND a.action = "
	    "'off'", 1, params);
	rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 :
	    http_fail_sql(f, r, "deploy");
	PQclear(r);
	return rc;
}
