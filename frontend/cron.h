/*
 * cron.h -- the firing of pipol cron's entries (schema 020), a step of
 * the scheduler's turn (sched.c): each due entry, one transaction each,
 * gets its job (cron_fire, the same job_queue as pipol sub) and its
 * next firing, computed here from its expression (cron_expr.c) in UTC.
 * Knows nothing of HTTP.
 */
#ifndef CRON_H
#define CRON_H

#include <stdint.h>

struct pg_conn;
struct perr;

#define CRON_FIRES_MAX	64	/* entries fired in one turn */

/* Fire what is due (safe with several pipold on one database); who
 * names this pipold in the events. */
void cron_turn(struct pg_conn *db, const char *who);
/* The next firing of expression expr strictly after after (seconds
 * since the epoch, UTC); -code with e when it does not parse or never
 * fires. */
int cron_next_of(const char *expr, int64_t after, int64_t *next,
    struct perr *e);

#endif
