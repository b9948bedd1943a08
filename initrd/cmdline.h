/*
 * cmdline.h -- what the agent takes from outside as URLs and tokens
 * (cmdline.c): pipol.server= and pipol.token= from the kernel command
 * line, and the checks --server and PIPOL_TOKEN share. Never prints a
 * token, not even in an error.
 */
#ifndef AGENT_CMDLINE_H
#define AGENT_CMDLINE_H

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

#endif
