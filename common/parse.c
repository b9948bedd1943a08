/* parse.c -- strict number and size parsing: whole string, no overflow. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "perr.h"

int
parse_size(const char *s, uint64_t *out, struct perr *e)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return perr_set(e, PE_USAGE, "\"%s\": not a size", s ? s : "");
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return perr_set(e, PE_USAGE, "\"%s\": size out of range", s);
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end == 'i' && shift)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0')
		return perr_set(e, PE_USAGE, "\"%s\": not a size", s);
	if (shift && v > (UINT64_MAX >> shift))
		return perr_set(e, PE_USAGE, "\"%s\": size out of range", s);
	*out = (uint64_t)v << shift;
	return 0;
}

int
parse_count(const char *what, const char *s, long long min, long long max,
    long long *out, struct perr *e)
{
	long long v;
	char *end;

	if (s == NULL || *s == '\0')
		return perr_set(e, PE_USAGE, "%s: missing value", what);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return perr_set(e, PE_USAGE, "%s %s: not a number", what, s);
	if (v < min || v > max)
		return perr_set(e, PE_USAGE, "%s %s: not in %lld..%lld",
		    what, s, min, max);
	*out = v;
	return 0;
}

int
parse_duration(const char *what, const char *s, long long *out,
    struct perr *e)
{
	const long long max = 10LL * 366 * 86400;
	long long total = 0;
	unsigned long long v;
	const char *p = s;
	char *end;
	int unit;

	if (s == NULL || *s == '\0')
		return perr_set(e, PE_USAGE, "%s: empty duration", what);
	while (*p != '\0') {
		if (*p < '0' || *p > '9')
			goto bad;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno != 0 || v > (unsigned long long)max)
			goto range;
		switch (*end) {
		case 'd': unit = 86400; break;
		case 'h': unit = 3600; break;
		case 'm': unit = 60; break;
		case 's': unit = 1; break;
		case '\0':
			if (p != s)	/* a bare number only on its own */
				goto bad;
			unit = 1;
			end--;
			break;
		default: goto bad;
		}
		total += (long long)v * unit;
		if (total > max)
			goto range;
		p = end + 1;
	}
	if (total == 0)
		return perr_set(e, PE_USAGE, "%s %s: a duration is not zero",
		    what, s);
	*out = total;
	return 0;
 bad:
	return perr_set(e, PE_USAGE, "%s %s: not a duration (like 90m, 2h, "
	    "1d12h or seconds)", what, s);
 range:
	return perr_set(e, PE_USAGE, "%s %s: longer than ten years", what, s);
}

/*
 * PIPOL's rule for post-install and rc scripts: NAME runs on every
 * image, NAME.FILTER only where FILTER is a part of the image's name:
 * the whole name, or a run of its elements (split at '-', '_', '.').
 * "rc.debian12" and "rc.bios" match debian12-bios; "rc.deb" does not.
 */
int
script_matches(const char *script, const char *image)
{
	const char *f = strchr(script, '.'), *p;
	size_t n;

	if (f == NULL)
		return 1;
	f++;
	n = strlen(f);
	if (n == 0)
		return 0;
	for (p = image; (p = strstr(p, f)) != NULL; p++)
		if ((p == image || strchr("-_.", p[-1]) != NULL) &&
		    (p[n] == '\0' || strchr("-_.", p[n]) != NULL))
			return 1;
	return 0;
}
