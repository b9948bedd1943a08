/*
 * cmdline.h -- what the agent takes from outside as URLs and tokens
 * (cmdline.c): pipol.server= and pipol.token= from the kernel command
 * line, and the checks --server and PIPOL_TOKEN share. Never prints a
 * token, not even in an error.
 */
#ifndef AGENT_CMDLINE_H
#define AGENT_CMDLINE_H

#include <stddef.h>

#include "perr.h"

struct agent_cmdline {
	char server[512];
	char token[128];	/* checked: exactly 64 hex digits */
};
int cmdline_read(const char *path, struct agent_cmdline *c, struct perr *e);
/* http(s)://host...: no spaces, quotes or backslashes; opt names it */
int agent_url_check(const char *opt, const char *v, struct perr *e);
/* exactly 64 lower-case hex digits; the message never shows the value */
int agent_token_check(const char *what, const char *v, struct perr *e);
/*
 * The value of the last "key=value" word of the command line in path
 * into out (len bytes): 1; 0 when there is none (out ""); -code with e
 * when path is unreadable or the value longer than len - 1.
 */
int cmdline_value(const char *path, const char *key, char *out, size_t len,
    struct perr *e);

#endif
