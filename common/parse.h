/* parse.h -- strict parsers for command-line values. No pipol policy. */
#ifndef PARSE_H
#define PARSE_H

#include <stdint.h>

struct perr;

/* "4M", "64m", "1048576", "1G": bytes; K/M/G/T are powers of 1024. */
int parse_size(const char *s, uint64_t *out, struct perr *e);
/* Decimal integer in [min, max]; what names the option in errors. */
int parse_count(const char *what, const char *s, long long min,
    long long max, long long *out, struct perr *e);

/* "90m", "2h", "1d12h", "45s", or plain seconds: *out in seconds. */
int parse_duration(const char *what, const char *s, long long *out,
    struct perr *e);

/* Does a script named NAME[.FILTER] run on this image? (FILTER a part
 * of the image's name: the whole, or a run of its '-', '_', '.'
 * separated elements) */
int script_matches(const char *script, const char *image);

#endif
