/*
 * sched.h -- pipold's scheduler: the requests of "pipol reserve --asap"
 * (asap_requests, schema 015) placed as reservations as soon as their
 * nodes and licences are free. The decisions are the schema's
 * (asap_step: one per transaction, safe with several pipold on one
 * database); this module runs them in a thread of its own and knows
 * nothing of HTTP.
 */
#ifndef SCHED_H
#define SCHED_H

struct pipold;
struct perr;

#define SCHED_TICK_SEC		2	/* a turn at least this often */
#define SCHED_STEPS_MAX		256	/* decisions in one turn */

int sched_start(struct pipold *pd, struct perr *e);
void sched_stop(void);
/* A turn now: something may have come free (a release, an expiry) or
 * been queued. Safe from any thread; returns at once. */
void sched_nudge(void);

#endif
