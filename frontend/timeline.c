/*
 * timeline.c -- the phases of a deployment pipold sees with no state
 * change (schema 011): its node's power cycle returned (power_on, from
 * api_deploy.c's power job, or api_power.c's by hand), its node asking
 * /boot/MAC once rebooting and answered with its disk (handover, from
 * boot.c). The phases that follow a state change are recorded by
 * triggers, in the transaction of that change; GET /api/deployments
 * returns them all (deployment_timeline()).
 *
 * A phase is a timestamp and opens nothing: a failure to record one is
 * logged, and the deployment goes on.
 */
#include <libpq-fe.h>

#include "api.h"
#include "log.h"
#include "pipold.h"

/*
 * Record phase ("power_on" or "handover") of the deployment in flight
 * on node name, asked from addr (NULL: unknown); the first time only,
 * and only when that deployment is where the phase belongs
 * (timeline_node_mark(), schema 011).
 */
void
timeline_mark(PGconn *db, const char *name, const char *phase,
    const char *addr)
{
	const char *params[3] = { name, phase, addr };
	PGresult *r;

	r = db_query(db, "SELECT timeline_node_mark(id, $2, $3::inet) FROM "
	    "nodes WHERE name = $1", 3, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		log_warnx("node %s: %s not in its timeline: database error",
		    name, phase);
	else if (PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't')
		log_debug("node %s: %s", name, phase);
	PQclear(r);
}
