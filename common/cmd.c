/*
 * cmd.c -- commands from tables: the one argv parser of pipol, pipold
 * and the test tools, dispatch to subcommands, usage lines and --help
 * pages, all read from the same struct cmd.
 *
 * Our own loop rather than getopt_long(): getopt_long keeps its state in
 * globals (optind, optarg) that each caller had to reset, accepts
 * abbreviated long names, and has no notion of a repeatable option or of
 * positional counts; the loop below is short and has no state outside
 * struct cmd_args.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "perr.h"

#define HELP_COL	21	/* --help: where an option's text starts */

char cmd_prefix[128];

static void
usage_line(FILE *f, const struct cmd *c)
{
	fprintf(f, "usage: %s%s%s%s%s\n", cmd_prefix, *cmd_prefix ? " " : "",
	    c->name, c->args && *c->args ? " " : "", c->args ? c->args : "");
}

void
cmd_list(FILE *f, const struct cmd *tbl)
{
	for (; tbl->name != NULL; tbl++)
		fprintf(f, "  %-9s %-40s %s\n", tbl->name, tbl->args,
		    tbl->summary);
}

/* "  -n, --count N" then the help text at HELP_COL, "\n" indented */
static void
help_option(FILE *f, const struct cmd_opt *o)
{
	const char *h = o->help ? o->help : "", *nl;
	char left[96], letter[3] = { '-', (char)o->letter, '\0' };
	int len;

	len = snprintf(left, sizeof(left), "  %s%s%s%s%s%s",
	    o->letter ? letter : "",
	    o->letter && o->name ? ", " : "", o->name ? "--" : "",
	    o->name ? o->name : "", o->metavar ? " " : "",
	    o->metavar ? o->metavar : "");
	fputs(left, f);
	if (len > HELP_COL - 2) {
		fputc('\n', f);
		len = 0;
	}
	for (;;) {
		nl = strchr(h, '\n');
		fprintf(f, "%*s%.*s\n", HELP_COL - len, "",
		    nl ? (int)(nl - h) : (int)strlen(h), h);
		if (nl == NULL || nl[1] == '\0')
			break;
		h = nl + 1;
		len = 0;
	}
}

void
cmd_help(FILE *f, const struct cmd *c)
{
	static const struct cmd_opt help = { "help", 0, CMD_FLAG, NULL,
	    "this text" };
	const struct cmd_opt *o;

	usage_line(f, c);
	fprintf(f, "\n%s.\n", c->summary);
	if (c->sub != NULL) {
		fprintf(f, "\ncommands:\n");
		cmd_list(f, c->sub);
		return;
	}
	fprintf(f, "\noptions:\n");
	for (o = c->opts; o != NULL && !(o->kind & CMD_END); o++)
		if (o->name || o->letter)
			help_option(f, o);
	help_option(f, &help);
}

int
cmd_usage_error(const struct cmd *c, const char *fmt, ...)
{
	char msg[PERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", log_progname, msg);
	usage_line(stderr, c);
	return PE_USAGE;
}

/* Has the table an option with this short letter? */
static const struct cmd_opt *
find_letter(const struct cmd_opt *o, int letter)
{
	for (; o != NULL && !(o->kind & CMD_END); o++)
		if (o->letter && o->letter == letter)
			return o;
	return NULL;
}

static const struct cmd_opt *
find_name(const struct cmd_opt *o, const char *name, size_t len)
{
	for (; o != NULL && !(o->kind & CMD_END); o++)
		if (o->name && strlen(o->name) == len &&
		    strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

/* One occurrence of option o (shown as "--x" or "-x": what) */
static int
take(const struct cmd *c, const struct cmd_opt *o, const char *what,
    char *val, struct cmd_args *a, struct perr *e)
{
	int id = (int)(o - c->opts);

	if (id >= CMD_OPTS_MAX)
		return perr_set(e, PE_USAGE, "%s: option table too long",
		    what);
	if (a->count[id] && !(o->kind & CMD_REPEAT))
		return perr_set(e, PE_USAGE, "%s: given twice", what);
	a->count[id]++;
	if (!(o->kind & CMD_VALUE))
		return 0;
	if (a->nvals == CMD_VALS_MAX)
		return perr_set(e, PE_USAGE, "%s: too many options", what);
	a->vals[a->nvals].id = id;
	a->vals[a->nvals++].val = val;
	a->last[id] = val;
	return 0;
}

/* "--name", "--name=value" or "--name value": argv[*i] and maybe the next */
static int
long_opt(const struct cmd *c, int argc, char **argv, int *i,
    struct cmd_args *a, struct perr *e)
{
	char *arg = argv[*i] + 2, *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	const struct cmd_opt *o = find_name(c->opts, arg, len);
	char what[64];

	snprintf(what, sizeof(what), "--%.*s", (int)len, arg);
	if (o == NULL && len == 4 && strncmp(arg, "help", 4) == 0)
		return 1;
	if (o == NULL)
		return perr_set(e, PE_USAGE, "%s: unknown option", what);
	if (!(o->kind & CMD_VALUE) && eq != NULL)
		return perr_set(e, PE_USAGE, "%s: takes no value", what);
	if ((o->kind & CMD_VALUE) && eq == NULL && *i + 1 >= argc)
		return perr_set(e, PE_USAGE, "%s: needs a value", what);
	if ((o->kind & CMD_VALUE) && eq == NULL)
		return take(c, o, what, argv[++*i], a, e);
	return take(c, o, what, eq ? eq + 1 : NULL, a, e);
}

/* "-x", "-xVALUE", "-x VALUE", "-abc" */
static int
short_opts(const struct cmd *c, int argc, char **argv, int *i,
    struct cmd_args *a, struct perr *e)
{
	char *p = argv[*i] + 1;
	const struct cmd_opt *o;
	char what[3] = "-";
	int rc;

	for (; *p != '\0'; p++) {
		what[1] = *p;
		if ((o = find_letter(c->opts, *p)) == NULL && *p == 'h')
			return 1;
		if (o == NULL)
			return perr_set(e, PE_USAGE, "%s: unknown option",
			    what);
		if (!(o->kind & CMD_VALUE)) {
			if ((rc = take(c, o, what, NULL, a, e)) != 0)
				return rc;
			continue;
		}
		if (p[1] != '\0')
			return take(c, o, what, p + 1, a, e);
		if (*i + 1 >= argc)
			return perr_set(e, PE_USAGE, "%s: needs a value", what);
		return take(c, o, what, argv[++*i], a, e);
	}
	return 0;
}

int
cmd_parse(const struct cmd *c, int argc, char **argv, struct cmd_args *a,
    struct perr *e)
{
	int i, rc, opts_done = 0;
	int max = c->pos_max == CMD_POS_ANY ? CMD_POS_MAX : c->pos_max;

	memset(a, 0, sizeof(*a));
	for (i = 1; i < argc; i++) {
		rc = 0;
		if (!opts_done && strcmp(argv[i], "--") == 0)
			opts_done = 1;
		else if (!opts_done && strncmp(argv[i], "--", 2) == 0)
			rc = long_opt(c, argc, argv, &i, a, e);
		else if (!opts_done && argv[i][0] == '-' && argv[i][1] != '\0')
			rc = short_opts(c, argc, argv, &i, a, e);
		else if (a->npos == max)
			return perr_set(e, PE_USAGE, "%s: unexpected argument",
			    argv[i]);
		else
			a->pos[a->npos++] = argv[i];
		if (rc != 0)
			return rc;
	}
	if (a->npos < c->pos_min)
		return perr_set(e, PE_USAGE, "missing argument");
	return 0;
}

int
cmd_getargs(const struct cmd *c, int argc, char **argv, struct cmd_args *a)
{
	struct perr e;
	int rc;

	if ((rc = cmd_parse(c, argc, argv, a, &e)) == 1) {
		cmd_help(stdout, c);
		return 0;
	}
	if (rc < 0)
		return cmd_usage_error(c, "%s", e.msg);
	return -1;
}

int
cmd_count(const struct cmd_args *a, int id)
{
	return a->count[id];
}

char *
cmd_str(const struct cmd_args *a, int id)
{
	return a->last[id];
}

char *
cmd_next(const struct cmd_args *a, int id, int *it)
{
	for (; *it < a->nvals; (*it)++)
		if (a->vals[*it].id == id)
			return a->vals[(*it)++].val;
	return NULL;
}

static int
group_help(const struct cmd *tbl, const char *what)
{
	printf("usage: %s %s [options]\n\n", cmd_prefix, what);
	cmd_list(stdout, tbl);
	printf("\n'%s %s --help' describes one.\n", cmd_prefix, what);
	return 0;
}

int
cmd_dispatch(const struct cmd *tbl, const char *what, int argc, char **argv)
{
	const struct cmd *c;
	struct cmd_args a;
	size_t len;
	int rc;

	if (argc < 1) {
		fprintf(stderr, "%s: missing %s\nusage: %s %s ...\n",
		    log_progname, what, cmd_prefix, what);
		cmd_list(stderr, tbl);
		return PE_USAGE;
	}
	if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
	    strcmp(argv[0], "help") == 0)
		return group_help(tbl, what);
	for (c = tbl; c->name != NULL && strcmp(c->name, argv[0]); c++)
		;
	if (c->name == NULL) {
		fprintf(stderr, "%s: %s: unknown %s\n", log_progname, argv[0],
		    what);
		cmd_list(stderr, tbl);
		return PE_USAGE;
	}
	if (c->sub != NULL) {
		len = strlen(cmd_prefix);
		snprintf(cmd_prefix + len, sizeof(cmd_prefix) - len, "%s%s",
		    len ? " " : "", c->name);
		return cmd_dispatch(c->sub, what, argc - 1, argv + 1);
	}
	if ((rc = cmd_getargs(c, argc, argv, &a)) >= 0)
		return rc;
	return c->fn(c, &a);
}
