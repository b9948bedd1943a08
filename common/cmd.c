/* cmd.c -- table-driven subcommands and their usage/--help text. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "perr.h"

char cmd_prefix[128] = "pipol";

void
cmd_list(FILE *f, const struct cmd *tbl)
{
	for (; tbl->name != NULL; tbl++)
		fprintf(f, "  %-9s %-40s %s\n", tbl->name, tbl->args,
		    tbl->summary);
}

int
cmd_help(const struct cmd *c)
{
	printf("usage: %s %s %s\n\n%s.\n", cmd_prefix, c->name, c->args,
	    c->summary);
	if (c->options != NULL && *c->options)
		printf("\noptions:\n%s", c->options);
	return 0;
}

int
cmd_usage_error(const struct cmd *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\nusage: %s %s %s\n", log_progname, msg,
	    cmd_prefix, c->name, c->args);
	return PE_USAGE;
}

int
cmd_dispatch(const struct cmd *tbl, const char *what, int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 1) {
		fprintf(stderr, "%s: missing %s\nusage: %s %s ...\n",
		    log_progname, what, cmd_prefix, what);
		cmd_list(stderr, tbl);
		return PE_USAGE;
	}
	if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
	    strcmp(argv[0], "help") == 0) {
		printf("usage: %s %s [options]\n\n", cmd_prefix, what);
		cmd_list(stdout, tbl);
		printf("\n'%s %s --help' describes one.\n", cmd_prefix, what);
		return 0;
	}
	for (c = tbl; c->name != NULL; c++)
		if (strcmp(c->name, argv[0]) == 0)
			return c->fn(c, argc, argv);
	fprintf(stderr, "%s: %s: unknown %s\n", log_progname, argv[0], what);
	cmd_list(stderr, tbl);
	return PE_USAGE;
}
