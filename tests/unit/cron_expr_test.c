/* cron_expr_test.c -- cron expressions: what parses, what is refused,
 * and the next firing (UTC) across hours, days, months and years. */
#include <string.h>
#include <time.h>

#include "cron_expr.h"
#include "harness.h"
#include "perr.h"

/* "YYYY-MM-DD HH:MM" UTC as seconds */
static int64_t
at(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	strptime(s, "%Y-%m-%d %H:%M", &tm);
	return (int64_t)timegm(&tm);
}

static void
parses(void)
{
	static const char *const good[] = {
		"* * * * *", "0 22 * * *", "*/15 0-6 * * 1-5", "5,10,15 1 1 1 0",
		"0 0 1 jan,jul sun", "0 0 * * 7", "59 23 31 12 6",
		"0-59/7 */5 1-31/2 feb-nov/3 MON-fri", "  0\t22 *  * *  ",
		"30/10 * * * *",
	};
	struct cron_expr c;
	struct perr e;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(cron_parse(good[i], &c, &e) == 0);
	CHECK(cron_parse("*/15 0-6 * * 1-5", &c, &e) == 0);
	CHECK(c.min == (1ull | 1ull << 15 | 1ull << 30 | 1ull << 45));
	CHECK(c.hour == 0x7f && c.dow == 0x3e && c.dom_star && !c.dow_star);
	CHECK(cron_parse("0 0 * * 7", &c, &e) == 0 && c.dow == 1);
	CHECK(cron_parse("30/10 * * * *", &c, &e) == 0);
	CHECK(c.min == (1ull << 30 | 1ull << 40 | 1ull << 50));
}

static void
refuses(void)
{
	static const char *const bad[] = {
		"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *",
		"* * 0 * *", "* * 32 * *", "* * * 13 *", "* * * * 8",
		"5-1 * * * *", "*/0 * * * *", "*/61 * * * *", "1,,2 * * * *",
		"1, * * * *", ",1 * * * *", "-1 * * * *", "1- * * * *",
		"a * * * *", "* * * jan-foo *", "* * * * sunday", "@daily",
		"001 * * * *", "* * * * * ;rm -rf /", "1/ * * * *",
		"0 0 * * mon;id", "$(id) * * * *", "0\n0 * * *",
		"* * * * 1-", "**/2 * * * *", "1-2-3 * * * *",
	};
	struct cron_expr c;
	struct perr e;
	char big[300];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = '\0';
		CHECK(cron_parse(bad[i], &c, &e) == -PE_USAGE);
		CHECK(e.msg[0] != '\0' && strchr(e.msg, '\n') == NULL);
	}
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(cron_parse(big, &c, &e) == -PE_USAGE);
	CHECK(cron_parse("0 22 * * x", &c, &e) == -PE_USAGE &&
	    strstr(e.msg, "day of week") != NULL);
}

static void
next_times(void)
{
	static const struct { const char *expr, *after, *next; } t[] = {
		{ "0 22 * * *", "2026-12-06 01:44", "2026-12-06 22:00" },
		{ "0 22 * * *", "2026-12-06 22:00", "2026-12-07 22:00" },
		{ "0 22 * * *", "2026-12-31 23:00", "2027-01-01 22:00" },
		{ "*/15 * * * *", "2026-12-06 10:14", "2026-12-06 10:15" },
		{ "*/15 * * * *", "2026-12-06 10:45", "2026-12-06 11:00" },
		{ "0 22 * * 5", "2026-12-06 01:44", "2026-12-11 22:00" },
		{ "0 0 29 2 *", "2026-03-01 00:00", "2028-02-29 00:00" },
		{ "0 0 31 * *", "2026-04-01 00:00", "2026-05-31 00:00" },
		/* both days given: either (the 13th, or a Friday) */
		{ "0 12 13 * fri", "2026-12-06 00:00", "2026-12-11 12:00" },
		{ "0 12 13 * fri", "2026-12-12 00:00", "2026-12-13 12:00" },
		{ "59 23 31 12 *", "2026-12-31 23:59", "2027-12-31 23:59" },
		{ "* * * * *", "2026-12-06 01:44", "2026-12-06 01:45" },
	};
	struct cron_expr c;
	struct perr e;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CHECK(cron_parse(t[i].expr, &c, &e) == 0);
		CHECK(cron_next(&c, at(t[i].after)) == at(t[i].next));
		if (cron_next(&c, at(t[i].after)) != at(t[i].next))
			fprintf(stderr, "  %s after %s\n", t[i].expr, t[i].after);
	}
	/* seconds within a minute: still the next minute */
	CHECK(cron_parse("* * * * *", &c, &e) == 0);
	CHECK(cron_next(&c, at("2026-12-06 01:44") + 59) ==
	    at("2026-12-06 01:45"));
	/* never: the 31st of February */
	CHECK(cron_parse("0 0 31 2 *", &c, &e) == 0);
	CHECK(cron_next(&c, at("2026-12-06 00:00")) == -1);
}

int
main(void)
{
	RUN(parses);
	RUN(refuses);
	RUN(next_times);
	DONE();
}
