/*
 * jobs.h -- pipold's job thread (pipol sub, schema 016): deploys the
 * nodes of placed job requests through the user's own deployment
 * path, and runs job_sync(), which moves runs and jobs on and releases
 * a finished job's reservations. Safe with several pipold on one
 * database (claims skip what another holds). Knows nothing of HTTP but
 * the deployment call it makes.
 */
#ifndef JOBS_H
#define JOBS_H

struct pipold;
struct perr;

#define JOBS_TICK_SEC	2	/* a turn at least this often */

int jobs_start(struct pipold *pd, struct perr *e);
void jobs_stop(void);
/* A turn now (a request placed, a run's result posted); returns at
 * once, from any thread. */
void jobs_nudge(void);

#endif
