/*
 * perr.h -- error records. A library fills one line of detail and returns
 * -code; only the edge (CLI main, HTTP handler, agent step) prints it.
 * The codes are the exit statuses of every pipol program.
 */
#ifndef PERR_H
#define PERR_H

#include <stdarg.h>

enum perr_code {
	PE_OK = 0,
	PE_FAIL = 1,		/* failed (I/O, resources) */
	PE_USAGE = 2,		/* bad command line or argument */
	PE_DATA = 3,		/* bad or corrupt data */
	PE_DENIED = 4,		/* permission denied */
	PE_UNAVAIL = 5,		/* unavailable, retry later */
	PE_NOTFOUND = 6,	/* no such object */
	PE_CONFLICT = 7,	/* conflicts with the current state */
};

#define PERR_MSG_MAX 512

struct perr {
	int code;
	char msg[PERR_MSG_MAX];
};

/* Fill e (may be NULL) and return -code. */
int perr_set(struct perr *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, appending ": strerror(errno)". */
int perr_errno(struct perr *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix the message already in e with "prefix: ". */
void perr_prefix(struct perr *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* HTTP status for a code (used by pipold). */
int perr_http_status(int code);

#endif
