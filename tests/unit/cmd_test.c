/*
 * cmd_test.c -- the option parser of common/cmd.c: values, flags,
 * repeats, "--opt=value", "--", positional counts, each usage error's
 * exact line, the --help page generated from the table, the exit
 * statuses (0 after --help, 2 after a usage error), group dispatch.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "harness.h"
#include "perr.h"

enum { O_STATE, O_COUNT, O_QUIET, O_META, O_VERBOSE, O_GAP, O_RAW, O_END };

static const struct cmd_opt opts[] = {
	[O_STATE] = { "state", 0, CMD_VALUE, "DIR", "state folder" },
	[O_COUNT] = { "count", 'n', CMD_VALUE, "N", "any N nodes" },
	[O_QUIET] = { "quiet", 'q', CMD_FLAG, NULL, "only the ID" },
	[O_META] = { "meta", 0, CMD_VALUE | CMD_REPEAT, "KEY=VALUE",
	    "metadata,\nrepeatable" },
	[O_VERBOSE] = { "verbose", 'v', CMD_FLAG | CMD_REPEAT, NULL,
	    "more" },
	/* O_GAP left out: a gap, as a group's shared enum leaves */
	[O_RAW] = { "raw-disk-instead-of-image", 0, CMD_FLAG, NULL,
	    "a long name" },
	[O_END] = CMD_OPT_END
};

static const struct cmd test_cmd = { "test", NULL, "NAME [FILE]",
    "a command under test", opts, 1, 2, NULL };

/* Parse a NULL-ended list of words after "test". */
static int
run(struct cmd_args *a, struct perr *e, const char *w0, ...)
{
	char *argv[32];
	const char *w;
	va_list ap;
	int argc = 0;

	argv[argc++] = (char *)(uintptr_t)"test";
	va_start(ap, w0);
	for (w = w0; w != NULL && argc < 31; w = va_arg(ap, const char *))
		argv[argc++] = (char *)(uintptr_t)w;
	va_end(ap);
	argv[argc] = NULL;
	memset(e, 0, sizeof(*e));
	return cmd_parse(&test_cmd, argc, argv, a, e);
}

static void
values_and_flags(void)
{
	struct cmd_args a;
	struct perr e;

	CHECK(run(&a, &e, "--state", "/s", "-q", "x", "-n", "3", NULL) == 0);
	CHECK(a.npos == 1 && strcmp(a.pos[0], "x") == 0);
	CHECK(strcmp(cmd_str(&a, O_STATE), "/s") == 0);
	CHECK(strcmp(cmd_str(&a, O_COUNT), "3") == 0);
	CHECK(cmd_count(&a, O_QUIET) == 1);
	CHECK(cmd_count(&a, O_META) == 0 && cmd_str(&a, O_META) == NULL);
}

static void
equals_and_glued(void)
{
	struct cmd_args a;
	struct perr e;

	CHECK(run(&a, &e, "--state=/a=b", "-n7", "x", "--meta=", NULL) == 0);
	CHECK(strcmp(cmd_str(&a, O_STATE), "/a=b") == 0);
	CHECK(strcmp(cmd_str(&a, O_COUNT), "7") == 0);
	CHECK(strcmp(cmd_str(&a, O_META), "") == 0);
	/* a value may begin with '-' */
	CHECK(run(&a, &e, "x", "--state", "-q", NULL) == 0);
	CHECK(strcmp(cmd_str(&a, O_STATE), "-q") == 0);
	CHECK(cmd_count(&a, O_QUIET) == 0);
}

static void
clustered_flags(void)
{
	struct cmd_args a;
	struct perr e;

	CHECK(run(&a, &e, "-qvvn", "5", "x", NULL) == 0);
	CHECK(cmd_count(&a, O_QUIET) == 1 && cmd_count(&a, O_VERBOSE) == 2);
	CHECK(strcmp(cmd_str(&a, O_COUNT), "5") == 0);
}

static void
repeated_in_order(void)
{
	struct cmd_args a;
	struct perr e;
	const char *v;
	int it = 0;

	CHECK(run(&a, &e, "--meta", "a=1", "x", "-v", "--meta=b=2", "-v",
	    "--meta", "c=3", NULL) == 0);
	CHECK(cmd_count(&a, O_META) == 3 && cmd_count(&a, O_VERBOSE) == 2);
	CHECK((v = cmd_next(&a, O_META, &it)) && strcmp(v, "a=1") == 0);
	CHECK((v = cmd_next(&a, O_META, &it)) && strcmp(v, "b=2") == 0);
	CHECK((v = cmd_next(&a, O_META, &it)) && strcmp(v, "c=3") == 0);
	CHECK(cmd_next(&a, O_META, &it) == NULL);
	CHECK(strcmp(cmd_str(&a, O_META), "c=3") == 0);
}

static void
end_of_options(void)
{
	struct cmd_args a;
	struct perr e;

	CHECK(run(&a, &e, "-q", "--", "--state", "-", NULL) == 0);
	CHECK(a.npos == 2 && strcmp(a.pos[0], "--state") == 0 &&
	    strcmp(a.pos[1], "-") == 0);
	CHECK(cmd_count(&a, O_QUIET) == 1 && cmd_str(&a, O_STATE) == NULL);
	CHECK(run(&a, &e, "-", NULL) == 0 && strcmp(a.pos[0], "-") == 0);
}

static void
help_asked(void)
{
	struct cmd_args a;
	struct perr e;

	CHECK(run(&a, &e, "x", "--help", "--bogus", NULL) == 1);
	CHECK(run(&a, &e, "-h", NULL) == 1);
	CHECK(run(&a, &e, "-qh", NULL) == 1);
}

static const struct {
	const char *w[4];
	const char *msg;
} usage_errors[] = {
	{ { "x", "--bogus" }, "--bogus: unknown option" },
	{ { "x", "--bogus=1" }, "--bogus: unknown option" },
	{ { "x", "-z" }, "-z: unknown option" },
	{ { "x", "-qz" }, "-z: unknown option" },
	{ { "x", "--stat" }, "--stat: unknown option" },	/* no abbrev */
	{ { "x", "--state" }, "--state: needs a value" },
	{ { "x", "-n" }, "-n: needs a value" },
	{ { "x", "--quiet=1" }, "--quiet: takes no value" },
	{ { "x", "-q", "--quiet" }, "--quiet: given twice" },
	{ { "--state=a", "x", "--state=b" }, "--state: given twice" },
	{ { "x", "y", "z" }, "z: unexpected argument" },
	{ { "-q" }, "missing argument" },
	{ { "--gap" }, "--gap: unknown option" },
};

static void
usage_error_lines(void)
{
	struct cmd_args a;
	struct perr e;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(usage_errors) / sizeof(usage_errors[0]); i++) {
		rc = run(&a, &e, usage_errors[i].w[0], usage_errors[i].w[1],
		    usage_errors[i].w[2], usage_errors[i].w[3], NULL);
		if (rc != -PE_USAGE || e.code != PE_USAGE ||
		    strcmp(e.msg, usage_errors[i].msg) != 0) {
			fprintf(stderr, "  case %zu: rc %d, \"%s\", want "
			    "\"%s\"\n", i, rc, e.msg, usage_errors[i].msg);
			CHECK(!"usage error line");
		}
	}
}

static void
help_from_table(void)
{
	static const char want[] =
	    "usage: pipol test NAME [FILE]\n"
	    "\n"
	    "a command under test.\n"
	    "\n"
	    "options:\n"
	    "  --state DIR        state folder\n"
	    "  -n, --count N      any N nodes\n"
	    "  -q, --quiet        only the ID\n"
	    "  --meta KEY=VALUE   metadata,\n"
	    "                     repeatable\n"
	    "  -v, --verbose      more\n"
	    "  --raw-disk-instead-of-image\n"
	    "                     a long name\n"
	    "  --help             this text\n";
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(cmd_prefix, sizeof(cmd_prefix), "pipol");
	if ((f = open_memstream(&buf, &len)) == NULL) {
		CHECK(!"open_memstream");
		return;
	}
	cmd_help(f, &test_cmd);
	fclose(f);
	if (strcmp(buf, want) != 0)
		fprintf(stderr, "  got:\n%s", buf);
	CHECK(strcmp(buf, want) == 0);
	free(buf);
}

/* cmd_getargs at a program's edge: the exit status to return, or -1 */
static int
getargs_quiet(const char *w)
{
	char *argv[] = { (char *)(uintptr_t)"test", (char *)(uintptr_t)w,
	    NULL };
	int out = dup(STDOUT_FILENO), err = dup(STDERR_FILENO);
	int null = open("/dev/null", O_WRONLY), rc;
	struct cmd_args a;

	fflush(stdout);
	dup2(null, STDOUT_FILENO);
	dup2(null, STDERR_FILENO);
	rc = cmd_getargs(&test_cmd, 2, argv, &a);
	fflush(stdout);
	dup2(out, STDOUT_FILENO);
	dup2(err, STDERR_FILENO);
	close(out);
	close(err);
	close(null);
	return rc;
}

static void
exit_statuses(void)
{
	CHECK(getargs_quiet("--bogus") == PE_USAGE);
	CHECK(getargs_quiet("--help") == 0);
	CHECK(getargs_quiet("x") == -1);
}

static int group_seen;

static int
group_fn(const struct cmd *c, const struct cmd_args *a)
{
	group_seen = strcmp(c->name, "run") == 0 && a->npos == 1 &&
	    strcmp(a->pos[0], "x") == 0 && cmd_count(a, O_QUIET) == 1;
	return 7;
}

static void
dispatch_into_group(void)
{
	static const struct cmd sub[] = {
		{ "run", group_fn, "NAME", "run it", opts, 1, 1, NULL },
		{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
	};
	static const struct cmd top[] = {
		{ "grp", NULL, "COMMAND ...", "a group", NULL, 0, 0, sub },
		{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
	};
	char *argv[] = { (char *)(uintptr_t)"grp",
	    (char *)(uintptr_t)"run", (char *)(uintptr_t)"-q",
	    (char *)(uintptr_t)"x", NULL };

	snprintf(cmd_prefix, sizeof(cmd_prefix), "pipol");
	CHECK(cmd_dispatch(top, "command", 4, argv) == 7);
	CHECK(group_seen);
	CHECK(strcmp(cmd_prefix, "pipol grp") == 0);
}

int
main(void)
{
	RUN(values_and_flags);
	RUN(equals_and_glued);
	RUN(clustered_flags);
	RUN(repeated_in_order);
	RUN(end_of_options);
	RUN(help_asked);
	RUN(usage_error_lines);
	RUN(help_from_table);
	RUN(exit_statuses);
	RUN(dispatch_into_group);
	DONE();
}
