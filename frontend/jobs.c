/*
 * jobs.c -- the job thread (jobs.h). Each turn: job_sync() (schema
 * 016: runs follow their deployments and reservations, finished jobs'
 * reservations released), then job_claim(): the runs of each placed
 * request, claimed, deployed as their user would deploy them
 * (deploy_for_job, api_deploy.c: the same checks); a refusal is the
 * runs' deploy_failed, never a failed command. Also the job-run token
 * an order carries (job_order_fields).
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "auth.h"
#include "jobs.h"
#include "log.h"
#include "perr.h"
#include "pipold.h"
#include "refresh.h"
#include "sched.h"

static pthread_t jobs_thread;
static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_wake = PTHREAD_COND_INITIALIZER;
static int jobs_stopping, jobs_nudged;	/* under jobs_lock */

/* job_sync(); a release frees nodes for the scheduler */
static void
jobs_sync(PGconn *db)
{
	PGresult *r = db_query(db, "SELECT job_sync()", 0, NULL);

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		log_warnx("jobs: %s", PQresultErrorMessage(r));
	else if (strcmp(PQgetvalue(r, 0, 0), "0") != 0)
		sched_nudge();
	PQclear(r);
}

/* the runs of request rid said deployed, or refused with why */
static void
jobs_mark(PGconn *db, const char *rid, const char *why)
{
	const char *params[2] = { rid, why };
	PGresult *r;

	r = db_query(db, why ? "SELECT job_deploy_refused($1, $2)" :
	    "SELECT job_deployed($1)", why ? 2 : 1, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		log_warnx("jobs: request %s: %s", rid, PQresultErrorMessage(r));
	PQclear(r);
}

/* One claimed request (row i of r): its nodes deployed as its user. */
static void
jobs_deploy(struct pipold *pd, PGconn *db, PGresult *r, int i)
{
	struct caller who = { .kind = CALLER_USER };
	const char *rid = PQgetvalue(r, i, 1), *arr = PQgetvalue(r, i, 6);
	struct http_fail f;
	int nnodes = 1;
	const char *p;

	who.id = strtoll(PQgetvalue(r, i, 3), NULL, 10);
	snprintf(who.name, sizeof(who.name), "%s", PQgetvalue(r, i, 4));
	who.admin = PQgetvalue(r, i, 5)[0] == 't';
	for (p = arr; *p; p++)
		nnodes += *p == ',';
	if (deploy_for_job(pd, db, &who, arr, nnodes, PQgetvalue(r, i, 2),
	    strtoll(rid, NULL, 10), &f) < 0) {
		log_warnx("job %s: request %s: %s", PQgetvalue(r, i, 0), rid,
		    f.msg);
		jobs_mark(db, rid, f.msg);
		return;
	}
	log_info("job %s: deploying %s on %s", PQgetvalue(r, i, 0),
	    PQgetvalue(r, i, 2), arr);
	jobs_mark(db, rid, NULL);
}

static void
jobs_turn(struct pipold *pd)
{
	PGresult *r;
	PGconn *db;
	int i;

	if ((db = db_get(pd)) == NULL)
		return;
	if (!db_turn_begin(db, DB_TURN_JOBS)) {
		db_put(pd, db);	/* another pipold is in its turn */
		return;
	}
	jobs_sync(db);
	r = db_query(db, "SELECT job, reservation, image, user_id, user_name, "
	    "admin, nodes FROM job_claim() WHERE nodes IS NOT NULL", 0, NULL);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		log_warnx("jobs: %s", PQresultErrorMessage(r));
	else
		for (i = 0; i < PQntuples(r); i++)
			jobs_deploy(pd, db, r, i);
	PQclear(r);
	refresh_turn(pd, db);	/* refresh (schema 018): runs follow jobs */
	db_turn_end(db, DB_TURN_JOBS);
	db_put(pd, db);
}

static void *
jobs_main(void *arg)
{
	struct pipold *pd = arg;
	struct timespec until;

	pthread_mutex_lock(&jobs_lock);
	while (!jobs_stopping) {
		jobs_nudged = 0;
		pthread_mutex_unlock(&jobs_lock);
		jobs_turn(pd);
		pthread_mutex_lock(&jobs_lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += JOBS_TICK_SEC;
		while (!jobs_stopping && !jobs_nudged &&
		    pthread_cond_timedwait(&jobs_wake, &jobs_lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&jobs_lock);
	return NULL;
}

int
jobs_start(struct pipold *pd, struct perr *e)
{
	if (pthread_create(&jobs_thread, NULL, jobs_main, pd) != 0)
		return perr_set(e, PE_FAIL, "cannot start the job thread");
	return 0;
}

void
jobs_stop(void)
{
	pthread_mutex_lock(&jobs_lock);
	jobs_stopping = 1;
	pthread_cond_signal(&jobs_wake);
	pthread_mutex_unlock(&jobs_lock);
	pthread_join(jobs_thread, NULL);
}

void
jobs_nudge(void)
{
	pthread_mutex_lock(&jobs_lock);
	jobs_nudged = 1;
	pthread_cond_signal(&jobs_wake);
	pthread_mutex_unlock(&jobs_lock);
}

/*
 * The order's "job" of deployment dep: {"run": ID, "token": HEX} with
 * a token minted now (a fetch of the order again mints another, the
 * first dies), its SHA-256 kept with addr, the agent's address; NULL
 * when the deployment runs no job (or on an error, logged: the node
 * deploys, its run fails as lost when the reservation ends).
 */
json_t *
job_order_fields(PGconn *db, const char *dep, const char *addr)
{
	const char *params[3];
	int lens[3] = { 0, 32, 0 }, fmts[3] = { 0, 1, 0 };
	uint8_t hash[32];
	char hex[65];
	struct perr e;
	json_t *o = NULL;
	PGresult *r;

	if (auth_token_new(hex, hash, &e) < 0) {
		log_warnx("deployment %s: job token: %s", dep, e.msg);
		return NULL;
	}
	params[0] = dep;
	params[1] = (const char *)hash;
	params[2] = addr;
	r = db_query_bin(db, "UPDATE job_runs SET token_hash = $2, token_addr "
	    "= $3 WHERE deployment_id = $1 AND state = 'deploying' RETURNING "
	    "id, EXISTS (SELECT 1 FROM refreshes f WHERE f.job_id = "
	    "job_runs.job_id)", 3, params, lens, fmts);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		log_warnx("deployment %s: job token: %s", dep,
		    PQresultErrorMessage(r));
	else if (PQntuples(r) == 1)
		o = json_pack("{s:I, s:s}", "run", (json_int_t)strtoll(
		    PQgetvalue(r, 0, 0), NULL, 10), "token", hex);
	/* refresh (schemas 018, 023): a refresh's run updates the system,
	 * as root, and reboots it before its test; only refresh_submit
	 * (admins) makes such a job */
	if (o != NULL && PQgetvalue(r, 0, 1)[0] == 't') {
		json_object_set_new(o, "root", json_true());
		json_object_set_new(o, "reboot", json_true());
	}
	PQclear(r);
	explicit_bzero(hex, sizeof(hex));
	return o;
}
