/*
 * cmd.h -- commands from tables: each command declares its options,
 * positional-argument counts, usage line and summary once; argv parsing,
 * dispatch to subcommands, usage errors (exit status 2) and the --help
 * page all come from that one declaration. Values are handed back as
 * strings: numbers are the command's to parse (common/parse.c), so that
 * its errors name the option. No pipol policy here.
 */
#ifndef CMD_H
#define CMD_H

#include <stdio.h>

struct perr;

/* What an option takes (kind), and whether it may come more than once. */
#define CMD_FLAG	0x0	/* no value: cmd_count() says how often */
#define CMD_VALUE	0x1	/* a value: cmd_str(), cmd_next() */
#define CMD_REPEAT	0x2	/* or'ed in: may be given more than once */
#define CMD_END		0x4	/* the entry that ends a table */

struct cmd_opt {
	const char *name;	/* long name without "--", or NULL */
	int letter;		/* short letter, or 0 */
	int kind;		/* CMD_FLAG or CMD_VALUE, | CMD_REPEAT */
	const char *metavar;	/* the value's name in --help ("DIR") */
	const char *help;	/* --help text; "\n" starts another line */
};
#define CMD_OPT_END	{ NULL, 0, CMD_END, NULL, NULL }
/*
 * A table of options ends with CMD_OPT_END. A command reads its values
 * by option id, the entry's index: an enum in the table's order, kept in
 * step by designated initializers:
 *	enum { O_STATE, O_RAW, O_END };
 *	static const struct cmd_opt opts[] = {
 *		[O_STATE] = { "state", 0, CMD_VALUE, "DIR", "state folder" },
 *		[O_RAW] = { "raw", 0, CMD_FLAG, NULL, "the raw disk" },
 *		[O_END] = CMD_OPT_END
 *	};
 * An id left out (all zero: no name, no letter) is a gap, skipped: the
 * commands of a group can share one enum and each take a subset.
 * --help (and -h, unless the table has its own 'h') is always there.
 */

#define CMD_OPTS_MAX	32	/* options in one table */
#define CMD_VALS_MAX	64	/* option occurrences in one command line */
#define CMD_POS_MAX	16	/* positional arguments kept */
#define CMD_POS_ANY	(-1)	/* pos_max: up to CMD_POS_MAX */

/* The parsed command line; points into argv (char *, as getopt's optarg
 * does), which must outlive it. */
struct cmd_args {
	int count[CMD_OPTS_MAX];	/* times each option was given */
	char *last[CMD_OPTS_MAX];	/* its last value */
	struct cmd_val {
		int id;
		char *val;
	} vals[CMD_VALS_MAX];		/* every value, in order */
	int nvals;
	char *pos[CMD_POS_MAX];		/* positional arguments */
	int npos;
};

struct cmd {
	const char *name;
	/* Acts on parsed arguments; returns the exit status. NULL: a group. */
	int (*fn)(const struct cmd *self, const struct cmd_args *a);
	const char *args;	/* usage after the name */
	const char *summary;	/* what it does, for --help and lists */
	const struct cmd_opt *opts;	/* NULL: none but --help */
	int pos_min, pos_max;	/* positional arguments; CMD_POS_ANY */
	const struct cmd *sub;	/* a group: its commands, ending { NULL } */
};

/* "pipol image": the words before a command's name in usage lines; ""
 * for a program that is one command (pipold). */
extern char cmd_prefix[128];

/*
 * Parses argv (argv[0] is the command's name, skipped) by c's table into
 * *a: options and positionals mixed, "--opt=value", "--opt value",
 * "-x value", "-xvalue", "-ab" (flags), "--" ends the options, "-" is a
 * positional. Returns 0; 1 when --help was asked (nothing else done);
 * or -PE_USAGE with e's one line naming the option or argument. Prints
 * nothing.
 */
int cmd_parse(const struct cmd *c, int argc, char **argv,
    struct cmd_args *a, struct perr *e);

/*
 * cmd_parse at the edge of a program: after --help prints the help page
 * on stdout and returns 0; after a usage error prints the line and the
 * usage line on stderr and returns PE_USAGE; else returns -1 and the
 * caller goes on. if ((rc = cmd_getargs(...)) >= 0) return rc;
 */
int cmd_getargs(const struct cmd *c, int argc, char **argv,
    struct cmd_args *a);

/* Option id's values: how many times given; the last value or NULL;
 * each value in order (*it starts at 0; NULL after the last). */
int cmd_count(const struct cmd_args *a, int id);
char *cmd_str(const struct cmd_args *a, int id);
char *cmd_next(const struct cmd_args *a, int id, int *it);

/* Runs the entry of tbl named argv[0] (argv parsed by its table; a
 * group's sub table by recursion, its name added to cmd_prefix); lists
 * the table for help and on an unknown name. Returns the exit status. */
int cmd_dispatch(const struct cmd *tbl, const char *what, int argc,
    char **argv);
void cmd_list(FILE *f, const struct cmd *tbl);
/* A usage error found by the command itself: the line and the usage line
 * to stderr; returns PE_USAGE, the exit status. */
int cmd_usage_error(const struct cmd *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The --help page of one command, from its table, on f. */
void cmd_help(FILE *f, const struct cmd *c);

#endif
