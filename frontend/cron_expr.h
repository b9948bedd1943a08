/*
 * cron_expr.h -- cron expressions, "M H DOM MON DOW": five fields of
 * numbers, ranges A-B, lists A,B, steps (a star or a range, then a
 * slash and N), month and day names (jan..dec, sun..sat), parsed
 * strictly, and their next firing, always in UTC. Knows nothing of
 * the database or of pipol's cron entries.
 */
#ifndef CRON_EXPR_H
#define CRON_EXPR_H

#include <stdint.h>

struct perr;

#define CRON_EXPR_MAX	128	/* characters in an expression */
#define CRON_YEARS_MAX	8	/* a next firing is looked for this far */

struct cron_expr {
	uint64_t min;		/* bit m: minute m (0..59) */
	uint32_t hour;		/* 0..23 */
	uint32_t dom;		/* 1..31 */
	uint16_t mon;		/* 1..12 */
	uint8_t dow;		/* 0..6, Sunday 0 (7 read as 0) */
	int dom_star, dow_star;	/* the field was "*" (or "*" / step) */
};

/* s parsed into c; -PE_USAGE with one line naming the field if not */
int cron_parse(const char *s, struct cron_expr *c, struct perr *e);
/* The first firing of c strictly after after (seconds since the epoch,
 * UTC), or -1 when there is none within CRON_YEARS_MAX years (31 Feb).
 * Day of month and day of week both given: either matches (as cron). */
int64_t cron_next(const struct cron_expr *c, int64_t after);

#endif
