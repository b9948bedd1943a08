/*
 * cron.c -- pipol cron's firing (cron.h). One entry per transaction:
 * the due entry's row locked FOR UPDATE SKIP LOCKED (another pipold
 * firing it skips it; once committed its next firing is in the future,
 * which the lock's recheck of "next_fire <= cron_now()" sees), its job
 * made and its next firing set in that same transaction. The next
 * firing is the first after now, never after the missed one: a firing
 * missed while pipold was down fires once. A window's entry fires only
 * while its window is open; past it, it is skipped to the next.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "cron_expr.h"
#include "log.h"
#include "perr.h"
#include "pipold.h"

int
cron_next_of(const char *expr, int64_t after, int64_t *next, struct perr *e)
{
	struct cron_expr c;
	int rc;

	if ((rc = cron_parse(expr, &c, e)) < 0)
		return rc;
	if ((*next = cron_next(&c, after)) < 0)
		return perr_set(e, PE_USAGE, "cron '%s': never fires", expr);
	return 0;
}

struct cron_step {
	const char *who;
	int done;		/* nothing was due */
};

static int
cron_step_tx(PGconn *db, void *arg)
{
	struct cron_step *s = arg;
	const char *params[4];
	char nxt[24];
	int64_t now, due, win, next;
	struct perr e;
	PGresult *r, *f;
	int rc = 0;

	s->done = 0;
	r = db_query(db, "SELECT e.id, coalesce(e.expr, w.opens), "
	    "coalesce(w.secs, 0), extract(epoch FROM e.next_fire)::bigint, "
	    "extract(epoch FROM cron_now())::bigint FROM cron_entries e LEFT "
	    "JOIN cron_windows w ON w.name = e.win WHERE NOT e.paused AND "
	    "e.next_fire <= cron_now() ORDER BY e.next_fire, e.id LIMIT 1 "
	    "FOR UPDATE OF e SKIP LOCKED", 0, NULL);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = db_is_retry(r) ? DB_TX_RETRY : -1;
		if (rc == -1)
			log_warnx("cron: %s", PQresultErrorMessage(r));
		PQclear(r);
		return rc;
	}
	if (PQntuples(r) == 0) {
		s->done = 1;
		PQclear(r);
		return 0;
	}
	win = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	due = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	now = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
	params[0] = PQgetvalue(r, 0, 0);
	params[1] = s->who;
	if (cron_next_of(PQgetvalue(r, 0, 1), now, &next, &e) < 0) {
		/* a window's expression an admin broke: paused, said why */
		params[1] = e.msg;
		f = db_query(db, "UPDATE cron_entries SET paused = true, "
		    "last_error = $2 WHERE id = $1", 2, params);
		log_warnx("cron: entry %s paused: %s", params[0], e.msg);
		PQclear(f);
		PQclear(r);
		return 0;
	}
	snprintf(nxt, sizeof(nxt), "%lld", (long long)next);
	params[2] = win == 0 || now < due + win ? "t" : "f";
	params[3] = nxt;
	f = db_query(db, "SELECT cron_fire($1, $2, $3, to_timestamp($4::"
	    "bigint))", 4, params);
	if (PQresultStatus(f) != PGRES_TUPLES_OK) {
		rc = db_is_retry(f) ? DB_TX_RETRY : -1;
		if (rc == -1)
			log_warnx("cron: entry %s: %s", params[0],
			    PQresultErrorMessage(f));
	} else if (params[2][0] == 't')
		log_info("cron: entry %s fired: job %s", params[0],
		    PQgetisnull(f, 0, 0) ? "refused" : PQgetvalue(f, 0, 0));
	PQclear(f);
	PQclear(r);
	return rc;
}

void
cron_turn(PGconn *db, const char *who)
{
	struct cron_step s = { .who = who };
	int i;

	for (i = 0; i < CRON_FIRES_MAX; i++)
		if (db_tx(db, cron_step_tx, &s) < 0 || s.done)
			break;
}
