/*
 * cmd.h -- subcommand tables: dispatch, usage lines and --help text come
 * from the same table. Parsing argv stays in the *_cmd.c files.
 */
#ifndef CMD_H
#define CMD_H

#include <stdio.h>

struct cmd {
	const char *name;
	int (*fn)(const struct cmd *self, int argc, char **argv);
	const char *args;	/* usage after the name */
	const char *summary;	/* one line */
	const char *options;	/* --help text, lines "  --x   what" */
};

/* "pipol image": the words before the subcommand, for messages. */
extern char cmd_prefix[128];

/* Runs the entry named argv[0]; prints usage for help/unknown. */
int cmd_dispatch(const struct cmd *tbl, const char *what, int argc,
    char **argv);
void cmd_list(FILE *f, const struct cmd *tbl);
/* Usage line of one command to stderr, exit status 2 for the caller. */
int cmd_usage_error(const struct cmd *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The --help page of one command, on stdout; returns 0. */
int cmd_help(const struct cmd *c);

#endif
