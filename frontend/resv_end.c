/*
 * resv_end.c -- the end of a reservation on its nodes (resv_end.h).
 * The schema (006_resv_end.sql) parks the nodes and queues one action
 * per node in the transaction that ends the reservation; here each
 * queued row is claimed under a lease, committed, acted on through the
 * node's power driver with no transaction open (a controller may take
 * seconds), then deleted or kept with its error, RESV_END_TRIES tries
 * with a doubling backoff. The manual driver has nothing to call: the
 * park boot mode is what keeps the next boot off the user's system.
 *
 * A 'wipe' row (a node with wipe set, schema 010) starts a deployment
 * of kind wipe instead and power-cycles the node into the deployment
 * environment (wipe_act); each tick, wipe_watch settles the wipes
 * that ended: done, the row becomes an 'off' due now; failed or past
 * its deadline, tried again, and after RESV_END_TRIES kept for an
 * admin, deploys refused meanwhile.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "http.h"
#include "log.h"
#include "pipold.h"
#include "power.h"
#include "resv_end.h"
#include "vm.h"

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
	    "<= now() AND deployment_id IS NULL ORDER BY created, node_id "
	    "LIMIT 1 FOR UPDATE SKIP "
	    "LOCKED) UPDATE node_end_actions a SET lease_until = now() + "
	    "make_interval(secs => $1::integer), tries = a.tries + 1 FROM c, "
	    "nodes n WHERE a.node_id = c.node_id AND n.id = a.node_id "
	    "RETURNING a.node_id, a.reservation_id, a.tries, n.name, "
	    "n.power_driver, node_power(n)::text, a.action", 1, params);
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
	if (!ok && last && strcmp(j->action, "wipe") == 0) {
		/* kept, never due: deploys stay refused (resv_end_deploy) */
		r = db_query(db, "UPDATE node_end_actions SET lease_until = "
		    "NULL, last_error = $4, next_at = 'infinity' WHERE node_id "
		    "= $1 AND reservation_id = $2 AND tries = $3", 4, params);
		result = "given up";
	} else if (ok || last) {
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

/*
 * A wipe's start (wipe_start, schema 010): its deployment made and the
 * row bound to it in one statement, then the node power-cycled into the
 * deployment environment as for a deploy (power_deploy: the cycle in a
 * thread of its own, then the boot armed for one token). The row stays
 * until wipe_watch sees the deployment end. Refused (a deployment
 * already in flight on the node): a failed try, as a failed off.
 */
static void
wipe_act(struct pipold *pd, struct end_job *j, PGconn *db)
{
	char secs[16], arr[80], msg[POWER_MSG_MAX];
	const char *params[4] = { j->node_id, j->resv, j->tries, secs };
	const char *result = "started";
	PGresult *r;

	snprintf(secs, sizeof(secs), "%d", RESV_END_WIPE_SEC);
	r = db_query(db, "SELECT wipe_start($1, $2, $3, $4)", 4, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(msg, sizeof(msg), "no wipe deployment: %s",
		    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) ?
		    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) :
		    "database error");
		result = end_finish(db, j, 0, msg);
	} else if (strcmp(PQgetvalue(r, 0, 0), "0") == 0) {
		PQclear(r);	/* a later end, or another pipold, has it */
		return;
	} else {
		snprintf(msg, sizeof(msg), "wipe deployment %s, deadline %d "
		    "s", PQgetvalue(r, 0, 0), RESV_END_WIPE_SEC);
		snprintf(arr, sizeof(arr), "{%s}", j->name);
		power_deploy(pd, db, arr);
	}
	PQclear(r);
	log_info("node %s: end of reservation %s: wipe %s, try %s: %s",
	    j->name, j->resv, result, j->tries, msg);
	db_event(db, "pipold", "node.end", json_pack("{s:s, s:I, s:s, s:s, "
	    "s:i, s:s}", "node", j->name, "reservation",
	    (json_int_t)atoll(j->resv), "action", j->action, "result", result,
	    "try", atoi(j->tries), "message", msg));
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

	if (strcmp(j->action, "wipe") == 0) {
		if ((db = db_get(pd)) == NULL)
			return;	/* the lease runs out: taken again */
		wipe_act(pd, j, db);
		db_put(pd, db);
		return;
	}
	if (strcmp(j->driver, "manual") == 0) {
		ok = 1;
		snprintf(msg, sizeof(msg), "manual power: parked (its next "
		    "network boot never reaches its disk)");
	} else if ((ok = power_run(j->name, j->driver, j->params, POWER_OFF,
	    msg, sizeof(msg), &e) == 0) == 0)
		snprintf(msg, sizeof(msg), "%s", e.msg);
	else if (strcmp(j->driver, "vm") == 0) {
		/* vm: the machine gone, its disk with it (schema 024) */
		vm_discard(j->name);
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
		    ", its disk discarded");
	}
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
	char tries[16], backoff[16];
	const char *params[2] = { tries, backoff };
	struct end_job j;
	PGresult *r;
	PGconn *db;
	int i, got;

	/* the wipes under way that ended: done ones become offs, due now */
	if ((db = db_get(pd)) != NULL) {
		snprintf(tries, sizeof(tries), "%d", RESV_END_TRIES);
		snprintf(backoff, sizeof(backoff), "%d", RESV_END_WIPE_BACKOFF_SEC);
		r = db_query(db, "SELECT wipe_watch($1, $2)", 2, params);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			log_warnx("end of reservations: wipes not watched: %s",
			    PQresultErrorMessage(r));
		else if (atoi(PQgetvalue(r, 0, 0)) > 0)
			log_info("%s wipe(s) ended", PQgetvalue(r, 0, 0));
		PQclear(r);
		db_put(pd, db);
	}
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
	char msg[POWER_MSG_MAX + 200];
	PGresult *r;
	int rc;

	/* locked until this transaction ends: no claim takes them now */
	r = db_query(db, "SELECT n.name, a.lease_until > now(), a.action, "
	    "a.next_at = 'infinity', coalesce(a.last_error, '') FROM "
	    "node_end_actions a JOIN nodes n ON n.id = a.node_id WHERE "
	    "n.name = ANY ($1::text[]) ORDER BY n.name FOR UPDATE OF a", 1,
	    params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = http_fail_sql(f, r, "deploy");
		PQclear(r);
		return rc;
	}
	for (rc = 0; rc < PQntuples(r); rc++) {
		if (strcmp(PQgetvalue(r, rc, 2), "wipe") == 0 &&
		    strcmp(PQgetvalue(r, rc, 3), "t") == 0)
			snprintf(msg, sizeof(msg), "node %s: its wipe failed "
			    "(%s); an admin must act (pipol node set %s --wipe "
			    "on|off)", PQgetvalue(r, rc, 0),
			    PQgetvalue(r, rc, 4), PQgetvalue(r, rc, 0));
		else if (strcmp(PQgetvalue(r, rc, 2), "wipe") == 0)
			snprintf(msg, sizeof(msg), "node %s is being wiped",
			    PQgetvalue(r, rc, 0));
		else if (strcmp(PQgetvalue(r, rc, 1), "t") == 0)
			snprintf(msg, sizeof(msg), "node %s is being powered "
			    "off; try again in a few seconds",
			    PQgetvalue(r, rc, 0));
		else
			continue;
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
