/*
 * cron_expr.c -- cron expressions, strictly (cron_expr.h). Every field
 * is bounded: at most CRON_EXPR_MAX characters in all, numbers of at
 * most two digits within their field's range, A <= B in a range, a
 * step of 1 up to the field's width. Nothing else is read: no "@daily",
 * no "?", "L" or "W", no sixth field.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cron_expr.h"
#include "perr.h"

struct field {
	const char *what;
	int lo, hi;
	const char *const *names;	/* names[i] is lo + i, or NULL */
};

static const char *const mon_names[] = { "jan", "feb", "mar", "apr", "may",
    "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const dow_names[] = { "sun", "mon", "tue", "wed", "thu",
    "fri", "sat", NULL };

static const struct field fields[5] = {
	{ "minute", 0, 59, NULL },
	{ "hour", 0, 23, NULL },
	{ "day of month", 1, 31, NULL },
	{ "month", 1, 12, mon_names },
	{ "day of week", 0, 7, dow_names },
};

/* A number (1 or 2 digits) or a name of f at *s; -1 if none */
static int
value_at(const struct field *f, const char **s)
{
	const char *p = *s;
	int v, i;

	if (isdigit((unsigned char)p[0])) {
		v = p[0] - '0';
		p++;
		if (isdigit((unsigned char)p[0]))
			v = v * 10 + *p++ - '0';
		if (isdigit((unsigned char)p[0]) || v < f->lo || v > f->hi)
			return -1;
		*s = p;
		return v;
	}
	for (i = 0; f->names != NULL && f->names[i] != NULL; i++)
		if (strncasecmp(p, f->names[i], 3) == 0 &&
		    !isalpha((unsigned char)p[3])) {
			*s = p + 3;
			return f->lo + i;
		}
	return -1;
}

/* One field (its text in tok) into the bits of *bits; -1 if bad */
static int
field_parse(const struct field *f, const char *tok, uint64_t *bits,
    int *star)
{
	const char *p = tok;
	int a, b, step, v, range;

	*bits = 0;
	*star = strcmp(tok, "*") == 0 || strncmp(tok, "*/", 2) == 0;
	for (;;) {
		step = 1;
		range = 1;
		if (*p == '*') {
			a = f->lo;
			b = f->hi;
			p++;
		} else {
			if ((a = value_at(f, &p)) < 0)
				return -1;
			b = a;
			range = *p == '-';
			if (range) {
				p++;
				if ((b = value_at(f, &p)) < 0 || b < a)
					return -1;
			}
		}
		if (*p == '/') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -1;
			step = *p++ - '0';
			if (isdigit((unsigned char)*p))
				step = step * 10 + *p++ - '0';
			if (step < 1 || step > f->hi - f->lo + 1 ||
			    isdigit((unsigned char)*p))
				return -1;
			if (!range)	/* A/N: from A to the end */
				b = f->hi;
		}
		for (v = a; v <= b; v += step)
			*bits |= 1ull << v;
		if (*p == '\0')
			return 0;
		if (*p++ != ',' || *p == '\0')
			return -1;
	}
}

int
cron_parse(const char *s, struct cron_expr *c, struct perr *e)
{
	char buf[CRON_EXPR_MAX + 1], *tok[6], *save = NULL, *t;
	uint64_t bits[5];
	int n = 0, star[5], i;

	if (strlen(s) > CRON_EXPR_MAX)
		return perr_set(e, PE_USAGE, "cron: at most %d characters",
		    CRON_EXPR_MAX);
	for (i = 0; s[i] != '\0'; i++)
		if (!isprint((unsigned char)s[i]) && s[i] != '\t')
			return perr_set(e, PE_USAGE, "cron: a control "
			    "character");
	snprintf(buf, sizeof(buf), "%s", s);
	for (t = strtok_r(buf, " \t", &save); t != NULL && n < 6;
	    t = strtok_r(NULL, " \t", &save))
		tok[n++] = t;
	if (n != 5)
		return perr_set(e, PE_USAGE, "cron '%s': want 5 fields (M H DOM "
		    "MON DOW), %s%d given", s, n == 6 ? "more than " : "",
		    n == 6 ? 5 : n);
	for (i = 0; i < 5; i++)
		if (strlen(tok[i]) > 64 || field_parse(&fields[i], tok[i],
		    &bits[i], &star[i]) < 0)
			return perr_set(e, PE_USAGE, "cron '%s': %s '%.64s': not "
			    "N, A-B, A,B, */N or A-B/N in %d..%d", s,
			    fields[i].what, tok[i], fields[i].lo, fields[i].hi);
	memset(c, 0, sizeof(*c));
	c->min = bits[0];
	c->hour = (uint32_t)bits[1];
	c->dom = (uint32_t)bits[2];
	c->mon = (uint16_t)bits[3];
	c->dow = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f);
	c->dom_star = star[2];
	c->dow_star = star[4];
	return 0;
}

static int
day_matches(const struct cron_expr *c, const struct tm *tm)
{
	int dom = (c->dom >> tm->tm_mday) & 1, dow = (c->dow >> tm->tm_wday) & 1;

	if (!((c->mon >> (tm->tm_mon + 1)) & 1))
		return 0;
	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

int64_t
cron_next(const struct cron_expr *c, int64_t after)
{
	time_t t;
	struct tm tm;
	int day, h, m, m0;

	if (after < 0)
		after = -60;
	t = (time_t)(after / 60 + 1) * 60;
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	for (day = 0; day < CRON_YEARS_MAX * 366; day++) {
		if (day_matches(c, &tm))
			for (h = tm.tm_hour; h < 24; h++) {
				if (!((c->hour >> h) & 1))
					continue;
				m0 = h == tm.tm_hour ? tm.tm_min : 0;
				for (m = m0; m < 60; m++)
					if ((c->min >> m) & 1) {
						tm.tm_hour = h;
						tm.tm_min = m;
						tm.tm_sec = 0;
						return (int64_t)timegm(&tm);
					}
			}
		tm.tm_mday++;
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		t = timegm(&tm);
		if (gmtime_r(&t, &tm) == NULL)
			return -1;
	}
	return -1;
}
