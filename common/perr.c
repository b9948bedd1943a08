/* perr.c -- error records and the code -> HTTP status table. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "perr.h"

static void
perr_vset(struct perr *e, int code, int with_errno, const char *fmt,
    va_list ap)
{
	int saved = errno;
	size_t n;

	if (e == NULL)
		return;
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	if (with_errno) {
		n = strlen(e->msg);
		snprintf(e->msg + n, sizeof(e->msg) - n, ": %s",
		    strerror(saved));
	}
	errno = saved;
}

int
perr_set(struct perr *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	perr_vset(e, code, 0, fmt, ap);
	va_end(ap);
	return -code;
}

int
perr_errno(struct perr *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	perr_vset(e, code, 1, fmt, ap);
	va_end(ap);
	return -code;
}

void
perr_prefix(struct perr *e, const char *fmt, ...)
{
	char pre[PERR_MSG_MAX], old[PERR_MSG_MAX];
	va_list ap;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	snprintf(e->msg, sizeof(e->msg), "%s: %s", pre, old);
}

int
perr_http_status(int code)
{
	static const int status[] = {
		[PE_OK] = 200, [PE_FAIL] = 500, [PE_USAGE] = 400,
		[PE_DATA] = 422, [PE_DENIED] = 403, [PE_UNAVAIL] = 503,
		[PE_NOTFOUND] = 404, [PE_CONFLICT] = 409,
	};

	if (code < 0)
		code = -code;
	if (code >= (int)(sizeof(status) / sizeof(status[0])))
		return 500;
	return status[code];
}
