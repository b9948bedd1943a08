/*
 * sched.c -- the scheduler's thread (sched.h). Every SCHED_TICK_SEC,
 * or at once when nudged (a release, an expiry, a new request in this
 * process), it runs a turn: asap_step() in a transaction of its own,
 * again while it places or closes a request. A pipold that dies in the
 * middle loses nothing: an uncommitted decision is rolled back by the
 * server and the request is still queued for the next turn, of this
 * pipold or another.
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cron.h"	/* cron: entries fired at each turn */
#include "log.h"
#include "perr.h"
#include "pipold.h"
#include "sched.h"

static pthread_t sched_thread;
static pthread_mutex_t sched_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sched_wake = PTHREAD_COND_INITIALIZER;
static int sched_stopping, sched_nudged;	/* under sched_lock */

/* One decision, as one transaction (db_tx) */
struct sched_step {
	const char *who;
	char outcome[16];
};

static int
sched_step_tx(PGconn *db, void *arg)
{
	struct sched_step *s = arg;
	const char *params[1] = { s->who };
	PGresult *r;
	int rc = 0;

	r = db_query(db, "SELECT asap_step($1)", 1, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = db_is_retry(r) ? DB_TX_RETRY : -1;
		if (rc == -1)
			log_warnx("scheduler: %s", PQresultErrorMessage(r));
	} else
		snprintf(s->outcome, sizeof(s->outcome), "%s",
		    PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

/* A turn: decisions until none is left to make (or another pipold is
 * making them). */
static void
sched_turn(struct pipold *pd, const char *who)
{
	struct sched_step s = { .who = who };
	PGconn *db;
	int i;

	if ((db = db_get(pd)) == NULL)
		return;
	if (!db_turn_begin(db, DB_TURN_SCHED)) {
		db_put(pd, db);	/* another pipold is in its turn */
		return;
	}
	cron_turn(db, who);	/* cron: their jobs' requests, then placed */
	for (i = 0; i < SCHED_STEPS_MAX; i++) {
		s.outcome[0] = '\0';
		if (db_tx(db, sched_step_tx, &s) < 0)
			break;
		if (strcmp(s.outcome, "placed") == 0)
			log_info("scheduler: a queued request placed");
		else if (strcmp(s.outcome, "closed") != 0)
			break;
	}
	db_turn_end(db, DB_TURN_SCHED);
	db_put(pd, db);
}

static void *
sched_main(void *arg)
{
	struct pipold *pd = arg;
	struct timespec until;
	char who[32];

	/* the event's actor says which pipold decided */
	snprintf(who, sizeof(who), "pipold:%ld", (long)getpid());
	pthread_mutex_lock(&sched_lock);
	while (!sched_stopping) {
		sched_nudged = 0;
		pthread_mutex_unlock(&sched_lock);
		sched_turn(pd, who);
		pthread_mutex_lock(&sched_lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += SCHED_TICK_SEC;
		while (!sched_stopping && !sched_nudged &&
		    pthread_cond_timedwait(&sched_wake, &sched_lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&sched_lock);
	return NULL;
}

int
sched_start(struct pipold *pd, struct perr *e)
{
	if (pthread_create(&sched_thread, NULL, sched_main, pd) != 0)
		return perr_set(e, PE_FAIL, "cannot start the scheduler");
	return 0;
}

void
sched_stop(void)
{
	pthread_mutex_lock(&sched_lock);
	sched_stopping = 1;
	pthread_cond_signal(&sched_wake);
	pthread_mutex_unlock(&sched_lock);
	pthread_join(sched_thread, NULL);
}

void
sched_nudge(void)
{
	pthread_mutex_lock(&sched_lock);
	sched_nudged = 1;
	pthread_cond_signal(&sched_wake);
	pthread_mutex_unlock(&sched_lock);
}
