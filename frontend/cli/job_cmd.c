/*
 * job_cmd.c -- "pipol sub" and "pipol job" (schema 016): a command run
 * as the user on freshly deployed nodes, n per image. sub tars the
 * source folder itself (tar(1) as a child, never through a shell),
 * creates the job, sends the tarball in pieces and, with --wait,
 * follows the job to its end: exit 0 when every run exited 0, 1 when
 * one did not (or was lost), 5 when a node failed to deploy and no
 * command failed, 7 when the job was cancelled. "pipol job" lists,
 * shows, prints a run's output, fetches what the runs left, cancels,
 * and draws the portability matrix (--junit: JUnit XML).
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "cli.h"
#include "cmd.h"
#include "hash.h"
#include "log.h"
#include "parse.h"
#include "perr.h"

#define SUB_SOURCE_MAX	(256ull << 20)	/* pipold's JOB_SOURCE_MAX */
#define SUB_PIECE	(8u << 20)	/* pipold's JOB_PIECE_MAX */
#define SUB_SCRIPT_MAX	(60 * 1024)	/* under pipold's 64 KiB argv */
#define SUB_POLL_SEC	2

enum { O_COUNT, O_IMAGES, O_PROFILE, O_DIR, O_SCRIPT, O_FOR, O_KEEP,
    O_NAME, O_WAIT, O_QUIET, O_ALL, O_STDERR, O_OUT, O_USER, O_SINCE,
    O_JUNIT, O_END };

const struct cmd_opt sub_opts[] = {
	[O_COUNT] = { "count", 'n', CMD_VALUE, "N",
	    "nodes per image (default 1)" },
	[O_IMAGES] = { "images", 'i', CMD_VALUE, "IMG1,IMG2",
	    "the images to deploy, each on N nodes" },
	[O_PROFILE] = { "profile", 0, CMD_VALUE, "P", "nodes of this profile" },
	[O_DIR] = { "dir", 0, CMD_VALUE, "SRC",
	    "copy this folder into your home on each node first" },
	[O_SCRIPT] = { "script", 0, CMD_VALUE, "FILE",
	    "run this script (sh) instead of a command" },
	[O_FOR] = { "for", 0, CMD_VALUE, "DURATION",
	    "each reservation's length (default 1h)" },
	[O_KEEP] = { "keep", 0, CMD_FLAG, NULL,
	    "keep the nodes after the run (else released)" },
	[O_NAME] = { "name", 0, CMD_VALUE, "NAME",
	    "the job's name (the matrix's row; default: the command's)" },
	[O_WAIT] = { "wait", 0, CMD_FLAG, NULL,
	    "follow the job to its end; the exit status says how it went" },
	[O_QUIET] = { "quiet", 'q', CMD_FLAG, NULL, "print only the job's id" },
	[O_END] = CMD_OPT_END
};

static const struct cmd_opt list_opts[] = {
	[O_ALL] = { "all", 0, CMD_FLAG, NULL, "everyone's jobs (admin)" },
	[O_END] = CMD_OPT_END
};
static const struct cmd_opt log_opts[] = {
	[O_STDERR] = { "stderr", 0, CMD_FLAG, NULL, "its stderr, not stdout" },
	[O_END] = CMD_OPT_END
};
static const struct cmd_opt fetch_opts[] = {
	[O_OUT] = { "output", 'o', CMD_VALUE, "DIR",
	    "where (default job-ID): DIR/NODE-IMAGE/{stdout,stderr,status,"
	    "results.tar.gz}" },
	[O_END] = CMD_OPT_END
};
static const struct cmd_opt matrix_opts[] = {
	[O_USER] = { "user", 0, CMD_VALUE, "NAME",
	    "another user's jobs (admin)" },
	[O_SINCE] = { "since", 0, CMD_VALUE, "DURATION",
	    "jobs submitted this recently (7d, 12h)" },
	[O_JUNIT] = { "junit", 0, CMD_VALUE, "FILE", "also write JUnit XML" },
	[O_END] = CMD_OPT_END
};

/* tar -C dir -czf path . as a child; 0 or -code */
static int
tar_source(const char *dir, const char *path, struct perr *e)
{
	int st;
	pid_t p;

	if ((p = fork()) < 0)
		return perr_errno(e, PE_FAIL, "fork");
	if (p == 0) {
		execlp("tar", "tar", "-C", dir, "-czf", path, ".", (char *)NULL);
		_exit(127);
	}
	if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return perr_set(e, PE_FAIL, "--dir %s: tar failed", dir);
	return 0;
}

/* The tarball of dir in a temporary file: its fd, size and SHA-256. */
static int
source_pack(const char *dir, int *fd, long long *size, char hex[HASH_HEX],
    struct perr *e)
{
	char path[] = "/tmp/pipol-sub.XXXXXX";
	struct hash_ctx *h;
	uint8_t sum[HASH_BYTES];
	char buf[65536];
	struct stat st;
	ssize_t n;
	int rc;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return perr_set(e, PE_USAGE, "--dir %s: not a folder", dir);
	if ((*fd = mkstemp(path)) < 0)
		return perr_errno(e, PE_FAIL, "%s", path);
	rc = tar_source(dir, path, e);
	unlink(path);
	if (rc < 0 || fstat(*fd, &st) < 0 || (h = hash_new()) == NULL) {
		close(*fd);
		return rc < 0 ? rc : perr_errno(e, PE_FAIL, "%s", path);
	}
	if ((unsigned long long)st.st_size > SUB_SOURCE_MAX) {
		close(*fd);
		hash_free(h);
		return perr_set(e, PE_USAGE, "--dir %s: %lld bytes packed, at "
		    "most 256 MiB", dir, (long long)st.st_size);
	}
	while ((n = read(*fd, buf, sizeof(buf))) > 0)
		hash_update(h, buf, (size_t)n);
	hash_final(h, sum);
	hash_free(h);
	hash_hex(sum, hex);
	*size = st.st_size;
	return 0;
}

/* The tarball on fd sent in pieces */
static int
source_send(long long id, int fd, long long size, struct perr *e)
{
	char path[96], *buf;
	long long off;
	ssize_t n;
	int rc = 0;

	if ((buf = malloc(SUB_PIECE)) == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	for (off = 0; off < size && rc == 0; off += n) {
		if ((n = pread(fd, buf, SUB_PIECE, off)) <= 0) {
			rc = perr_errno(e, PE_FAIL, "the source tarball");
			break;
		}
		snprintf(path, sizeof(path), "/api/jobs/%lld/source?off=%lld",
		    id, off);
		rc = client_raw("POST", path, buf, (size_t)n, NULL, e);
	}
	free(buf);
	return rc;
}

/* argv: the words pos (npos of them), or the text of script run by sh
 * (pipol sub, pipol cron add) */
json_t *
job_argv(const char *script, int npos, char *const *pos, struct perr *e)
{
	json_t *argv = json_array();
	char *text;
	size_t len;
	int i;

	if (script != NULL) {
		if (read_file(script, SUB_SCRIPT_MAX, &text, &len, e) < 0) {
			json_decref(argv);
			return NULL;
		}
		json_array_append_new(argv, json_string("/bin/sh"));
		json_array_append_new(argv, json_string("-c"));
		json_array_append_new(argv, json_stringn(text, len));
		json_array_append_new(argv, json_string("pipol-script"));
		free(text);
		return argv;
	}
	for (i = 0; i < npos; i++)
		json_array_append_new(argv, json_string(pos[i]));
	return argv;
}

/* The job's name: --name, else the script's or the command's base name */
static void
sub_name(const struct cmd_args *a, char *buf, size_t len)
{
	const char *n = cmd_str(a, O_NAME), *s;

	if (n == NULL) {
		n = cmd_str(a, O_SCRIPT) ? cmd_str(a, O_SCRIPT) : a->pos[0];
		if ((s = strrchr(n, '/')) != NULL && s[1] != '\0')
			n = s + 1;
	}
	snprintf(buf, len, "%s", n);
}

static int job_wait(long long id, int quiet);

int
cmd_sub(const struct cmd *c, const struct cmd_args *a)
{
	long long count = 1, secs = 3600, size = 0, id;
	char name[128], hex[HASH_HEX];
	json_t *req, *reply = NULL, *argv;
	struct perr e;
	int fd = -1, rc;

	if ((a->npos == 0) == (cmd_str(a, O_SCRIPT) == NULL))
		return cmd_usage_error(c, "give a command after --, or --script "
		    "FILE");
	if (cmd_str(a, O_IMAGES) == NULL)
		return cmd_usage_error(c, "-i IMAGES is required");
	if ((cmd_str(a, O_COUNT) && parse_count("-n", cmd_str(a, O_COUNT), 1,
	    64, &count, &e) < 0) || (cmd_str(a, O_FOR) &&
	    parse_duration("--for", cmd_str(a, O_FOR), &secs, &e) < 0))
		return cli_fail(&e);
	if ((argv = job_argv(cmd_str(a, O_SCRIPT), a->npos, a->pos, &e)) ==
	    NULL)
		return cli_fail(&e);
	if (cmd_str(a, O_DIR) && source_pack(cmd_str(a, O_DIR), &fd, &size,
	    hex, &e) < 0) {
		json_decref(argv);
		return cli_fail(&e);
	}
	sub_name(a, name, sizeof(name));
	req = json_pack("{s:s, s:o, s:o, s:I, s:I, s:b}", "name", name, "argv",
	    argv, "images", names_list(cmd_str(a, O_IMAGES)), "count",
	    (json_int_t)count, "seconds", (json_int_t)secs, "keep",
	    cmd_count(a, O_KEEP) > 0);
	if (cmd_str(a, O_PROFILE))
		json_object_set_new(req, "profile", json_string(cmd_str(a,
		    O_PROFILE)));
	if (fd >= 0)
		json_object_set_new(req, "source", json_pack("{s:s, s:I}",
		    "sha256", hex, "size", (json_int_t)size));
	rc = client_call("POST", "/api/jobs", req, &reply, &e);
	json_decref(req);
	id = rc == 0 ? cli_int(reply, "id") : 0;
	json_decref(reply);
	if (rc == 0 && fd >= 0)
		rc = source_send(id, fd, size, &e);
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		return cli_fail(&e);
	if (cmd_count(a, O_QUIET))
		printf("%lld\n", id);
	else
		printf("job %lld: %s, queued\n", id, name);
	fflush(stdout);
	return cmd_count(a, O_WAIT) ? job_wait(id, cmd_count(a, O_QUIET)) : 0;
}

/* The job's JSON (caller frees); NULL with e */
static json_t *
job_get(long long id, struct perr *e)
{
	json_t *reply = NULL, *j;
	char path[64];

	snprintf(path, sizeof(path), "/api/jobs?id=%lld", id);
	if (client_call("GET", path, NULL, &reply, e) < 0)
		return NULL;
	j = json_incref(json_array_get(json_object_get(reply, "jobs"), 0));
	json_decref(reply);
	if (j == NULL)
		perr_set(e, PE_DATA, "job %lld: no answer", id);
	return j;
}

/* "2026-12-05T16:40:12.1+00:00" as "2026-12-05 16:40" */
static const char *
when(json_t *o, const char *k, char buf[20])
{
	const char *s = cli_str(o, k);

	if (strlen(s) < 16)
		return "-";
	snprintf(buf, 20, "%.10s %.5s", s, s + 11);
	return buf;
}

static void
job_print(json_t *j)
{
	char t[20], st[16], secs[16];
	json_t *r;
	size_t i;

	printf("job %lld %s (%s): %s%s%s\n", cli_int(j, "id"), cli_str(j,
	    "name"), cli_str(j, "user"), cli_str(j, "state"),
	    *cli_str(j, "reason") ? ": " : "", cli_str(j, "reason"));
	printf("%-6s %-16s %-10s %-13s %6s %7s  %s\n", "RUN", "IMAGE", "NODE",
	    "STATE", "STATUS", "SECONDS", "ENDED / WHY");
	json_array_foreach(json_object_get(j, "runs"), i, r) {
		snprintf(st, sizeof(st), json_is_integer(json_object_get(r,
		    "status")) ? "%lld" : "-", cli_int(r, "status"));
		snprintf(secs, sizeof(secs), json_is_integer(json_object_get(r,
		    "seconds")) ? "%lld" : "-", cli_int(r, "seconds"));
		printf("%-6lld %-16s %-10s %-13s %6s %7s  %s%s%s\n",
		    cli_int(r, "run"), cli_str(r, "image"), *cli_str(r, "node") ?
		    cli_str(r, "node") : "-", cli_str(r, "state"), st, secs,
		    when(r, "ended", t), *cli_str(r, "reason") ? " " : "",
		    cli_str(r, "reason"));
	}
}

/* the exit status of a finished job (see the top of the file) */
static int
job_status(json_t *j)
{
	int failed = 0, undeployed = 0;
	const char *s;
	json_t *r;
	size_t i;

	if (strcmp(cli_str(j, "state"), "cancelled") == 0)
		return PE_CONFLICT;
	json_array_foreach(json_object_get(j, "runs"), i, r) {
		s = cli_str(r, "state");
		if ((strcmp(s, "exited") == 0 && cli_int(r, "status") != 0) ||
		    strcmp(s, "lost") == 0)
			failed = 1;
		else if (strcmp(s, "exited") != 0)
			undeployed = 1;
	}
	if (strcmp(cli_str(j, "state"), "failed") == 0 && *cli_str(j,
	    "reason") != '\0')
		return PE_FAIL;		/* its source, before any run */
	return failed ? PE_FAIL : undeployed ? PE_UNAVAIL : 0;
}

static int
job_over(json_t *j)
{
	const char *s = cli_str(j, "state");

	return strcmp(s, "done") == 0 || strcmp(s, "failed") == 0 ||
	    strcmp(s, "cancelled") == 0;
}

static int
job_wait(long long id, int quiet)
{
	struct perr e;
	json_t *j;
	int rc;

	for (;;) {
		if ((j = job_get(id, &e)) == NULL)
			return cli_fail(&e);
		if (job_over(j))
			break;
		json_decref(j);
		sleep(SUB_POLL_SEC);
	}
	if (!quiet)
		job_print(j);
	rc = job_status(j);
	json_decref(j);
	return rc;
}

static int
parse_id(const char *s, long long *id)
{
	struct perr e;

	if (parse_count("ID", s, 1, 999999999999999999LL, id, &e) < 0)
		return cli_fail(&e);
	return 0;
}

static int
job_list(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL, *j;
	char t[20];
	struct perr e;
	size_t i;

	(void)c;
	if (client_call("GET", cmd_count(a, O_ALL) ? "/api/jobs?all=1" :
	    "/api/jobs", NULL, &reply, &e) < 0)
		return cli_fail(&e);
	printf("%-6s %-20s %-10s %-10s %-16s %s\n", "ID", "NAME", "USER",
	    "STATE", "CREATED", "IMAGES");
	json_array_foreach(json_object_get(reply, "jobs"), i, j) {
		char *imgs = json_dumps(json_object_get(j, "images"),
		    JSON_COMPACT);

		printf("%-6lld %-20s %-10s %-10s %-16s %s x%lld\n", cli_int(j,
		    "id"), cli_str(j, "name"), cli_str(j, "user"), cli_str(j,
		    "state"), when(j, "created", t), imgs ? imgs : "",
		    cli_int(j, "count"));
		free(imgs);
	}
	json_decref(reply);
	return 0;
}

static int
job_show(const struct cmd *c, const struct cmd_args *a)
{
	long long id;
	struct perr e;
	json_t *j;
	int rc;

	(void)c;
	if ((rc = parse_id(a->pos[0], &id)) != 0)
		return rc;
	if ((j = job_get(id, &e)) == NULL)
		return cli_fail(&e);
	job_print(j);
	json_decref(j);
	return 0;
}

/* run of job j on node (the last one there) */
static json_t *
run_on(json_t *j, const char *node)
{
	json_t *r, *found = NULL;
	size_t i;

	json_array_foreach(json_object_get(j, "runs"), i, r)
		if (strcmp(cli_str(r, "node"), node) == 0)
			found = r;
	return found;
}

static int
job_log(const struct cmd *c, const struct cmd_args *a)
{
	char path[128];
	long long id;
	struct perr e;
	json_t *j, *r;
	int rc;

	(void)c;
	if ((rc = parse_id(a->pos[0], &id)) != 0)
		return rc;
	if ((j = job_get(id, &e)) == NULL)
		return cli_fail(&e);
	if ((r = run_on(j, a->pos[1])) == NULL) {
		json_decref(j);
		log_warnx("job %lld: no run on node %s", id, a->pos[1]);
		return PE_NOTFOUND;
	}
	snprintf(path, sizeof(path), "/api/jobs/%lld/runs/%lld/%s", id,
	    cli_int(r, "run"), cmd_count(a, O_STDERR) ? "stderr" : "stdout");
	json_decref(j);
	rc = client_raw("GET", path, NULL, 0, stdout, &e);
	fflush(stdout);
	return rc < 0 ? cli_fail(&e) : 0;
}

/* one file of a run into dir/file */
static int
fetch_file(long long id, json_t *r, const char *what, const char *dir,
    const char *file, struct perr *e)
{
	char path[128], out[4096];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "/api/jobs/%lld/runs/%lld/%s", id,
	    cli_int(r, "run"), what);
	snprintf(out, sizeof(out), "%s/%s", dir, file);
	if ((f = fopen(out, "wx")) == NULL)
		return perr_errno(e, PE_FAIL, "%s", out);
	rc = client_raw("GET", path, NULL, 0, f, e);
	if (fclose(f) != 0 && rc == 0)
		rc = perr_errno(e, PE_FAIL, "%s", out);
	return rc;
}

/* DIR/NODE-IMAGE/: stdout, stderr, status, results.tar.gz */
static int
fetch_run(long long id, json_t *r, const char *dir, struct perr *e)
{
	char sub[4096], *p;
	FILE *f;
	int rc;

	snprintf(sub, sizeof(sub), "%s/%s-%s", dir, *cli_str(r, "node") ?
	    cli_str(r, "node") : "unplaced", cli_str(r, "image"));
	for (p = sub + strlen(dir) + 1; *p; p++)
		if (*p == ':' || *p == '/')
			*p = '_';
	if (mkdir(sub, 0755) < 0)
		return perr_errno(e, PE_FAIL, "%s", sub);
	if ((rc = fetch_file(id, r, "stdout", sub, "stdout", e)) < 0 ||
	    (rc = fetch_file(id, r, "stderr", sub, "stderr", e)) < 0 ||
	    (cli_int(r, "results") > 0 && (rc = fetch_file(id, r, "results",
	    sub, "results.tar.gz", e)) < 0))
		return rc;
	strcat(sub, "/status");
	if ((f = fopen(sub, "wx")) == NULL)
		return perr_errno(e, PE_FAIL, "%s", sub);
	if (json_is_integer(json_object_get(r, "status")))
		fprintf(f, "%s %lld\n", cli_str(r, "state"), cli_int(r,
		    "status"));
	else
		fprintf(f, "%s %s\n", cli_str(r, "state"), cli_str(r,
		    "reason"));
	return fclose(f) == 0 ? 0 : perr_errno(e, PE_FAIL, "%s", sub);
}

static int
job_fetch(const struct cmd *c, const struct cmd_args *a)
{
	char dir[4096];
	long long id;
	struct perr e;
	json_t *j, *r;
	size_t i;
	int rc;

	(void)c;
	if ((rc = parse_id(a->pos[0], &id)) != 0)
		return rc;
	if ((j = job_get(id, &e)) == NULL)
		return cli_fail(&e);
	snprintf(dir, sizeof(dir), "%s", cmd_str(a, O_OUT) ? cmd_str(a, O_OUT) :
	    "");
	if (dir[0] == '\0')
		snprintf(dir, sizeof(dir), "job-%lld", id);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		json_decref(j);
		perr_errno(&e, PE_FAIL, "%s", dir);
		return cli_fail(&e);
	}
	json_array_foreach(json_object_get(j, "runs"), i, r)
		if ((rc = fetch_run(id, r, dir, &e)) < 0)
			break;
	json_decref(j);
	if (rc < 0)
		return cli_fail(&e);
	printf("job %lld: %zu run(s) in %s\n", id, i, dir);
	return 0;
}

static int
job_cancel(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL;
	char path[64];
	long long id;
	struct perr e;
	int rc;

	(void)c;
	if ((rc = parse_id(a->pos[0], &id)) != 0)
		return rc;
	snprintf(path, sizeof(path), "/api/jobs/%lld/cancel", id);
	if (client_call("POST", path, NULL, &reply, &e) < 0)
		return cli_fail(&e);
	json_decref(reply);
	printf("job %lld: cancelled\n", id);
	return 0;
}

/* s with & < > " ' as XML entities */
static void
xml_put(FILE *f, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default:
			if ((unsigned char)*s < 0x20 && *s != '\t' &&
			    *s != '\n')
				fputc('?', f);	/* not allowed in XML 1.0 */
			else
				fputc(*s, f);
		}
}

/* one <testcase>: classname the image, name the job's */
static void
junit_case(FILE *f, json_t *cell)
{
	const char *res = cli_str(cell, "result");

	fputs("  <testcase classname=\"", f);
	xml_put(f, cli_str(cell, "image"));
	fputs("\" name=\"", f);
	xml_put(f, cli_str(cell, "name"));
	fprintf(f, "\" time=\"%lld\">", cli_int(cell, "seconds"));
	if (strcmp(res, "failed") == 0)
		fprintf(f, "<failure message=\"exit status %lld\"/>",
		    cli_int(cell, "status"));
	else if (strcmp(res, "not run") == 0)
		fputs("<skipped/>", f);
	else if (strcmp(res, "passed") != 0) {
		fputs("<error message=\"", f);
		xml_put(f, res);
		fputs(": ", f);
		xml_put(f, cli_str(cell, "reason"));
		fputs("\"/>", f);
	}
	fputs("</testcase>\n", f);
}

static int
junit_write(const char *path, json_t *m, struct perr *e)
{
	int tests = 0, failures = 0, errors = 0, skipped = 0;
	json_t *cell;
	size_t i;
	FILE *f;

	json_array_foreach(json_object_get(m, "cells"), i, cell) {
		const char *res = cli_str(cell, "result");

		tests++;
		failures += strcmp(res, "failed") == 0;
		skipped += strcmp(res, "not run") == 0;
		errors += strcmp(res, "passed") != 0 && strcmp(res, "failed") !=
		    0 && strcmp(res, "not run") != 0;
	}
	if ((f = fopen(path, "w")) == NULL)
		return perr_errno(e, PE_FAIL, "--junit %s", path);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
	    "<testsuite name=\"pipol\" tests=\"%d\" failures=\"%d\" errors="
	    "\"%d\" skipped=\"%d\">\n", tests, failures, errors, skipped);
	json_array_foreach(json_object_get(m, "cells"), i, cell)
		junit_case(f, cell);
	fputs("</testsuite>\n</testsuites>\n", f);
	return fclose(f) == 0 ? 0 : perr_errno(e, PE_FAIL, "--junit %s",
	    path);
}

/* the cell of (name, image) in m, or NULL */
static json_t *
cell_of(json_t *m, const char *name, const char *image)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(m, "cells"), i, c)
		if (strcmp(cli_str(c, "name"), name) == 0 &&
		    strcmp(cli_str(c, "image"), image) == 0)
			return c;
	return NULL;
}

static void
matrix_print(json_t *m)
{
	json_t *imgs = json_object_get(m, "images"), *c, *img;
	const char *prev = "";
	char t[20], cell[64];
	size_t i, k;

	printf("%-20s", "JOB");
	json_array_foreach(imgs, k, img)
		printf(" %-28s", json_string_value(img));
	printf("\n");
	json_array_foreach(json_object_get(m, "cells"), i, c) {
		const char *name = cli_str(c, "name");

		if (strcmp(name, prev) == 0)
			continue;
		prev = name;
		printf("%-20s", name);
		json_array_foreach(imgs, k, img) {
			json_t *x = cell_of(m, name, json_string_value(img));

			if (x == NULL)
				snprintf(cell, sizeof(cell), "-");
			else
				snprintf(cell, sizeof(cell), "%s %s", cli_str(x,
				    "result"), when(x, "at", t));
			printf(" %-28s", cell);
		}
		printf("\n");
	}
}

static int
job_matrix(const struct cmd *c, const struct cmd_args *a)
{
	char path[160];
	json_t *reply = NULL;
	long long since = 0;
	struct perr e;
	int n;

	(void)c;
	if (cmd_str(a, O_SINCE) && parse_duration("--since", cmd_str(a,
	    O_SINCE), &since, &e) < 0)
		return cli_fail(&e);
	if (cmd_str(a, O_USER) && strlen(cmd_str(a, O_USER)) > 32)
		return cmd_usage_error(c, "--user: a user's name");
	n = snprintf(path, sizeof(path), "/api/jobs/matrix");
	if (since > 0)
		n += snprintf(path + n, sizeof(path) - n, "?since=%lld", since);
	if (cmd_str(a, O_USER))
		snprintf(path + n, sizeof(path) - n, "%cuser=%s", since > 0 ?
		    '&' : '?', cmd_str(a, O_USER));
	if (client_call("GET", path, NULL, &reply, &e) < 0)
		return cli_fail(&e);
	matrix_print(reply);
	if (cmd_str(a, O_JUNIT) && junit_write(cmd_str(a, O_JUNIT), reply,
	    &e) < 0) {
		json_decref(reply);
		return cli_fail(&e);
	}
	json_decref(reply);
	return 0;
}

const struct cmd job_cmds[] = {
	{ "list", job_list, "[--all]", "your jobs (--all: everyone's, admin)",
	  list_opts, 0, 0, NULL },
	{ "show", job_show, "ID", "a job and its runs: node, state, exit "
	  "status, duration", NULL, 1, 1, NULL },
	{ "log", job_log, "ID NODE [--stderr]", "what a run printed",
	  log_opts, 2, 2, NULL },
	{ "fetch", job_fetch, "ID [-o DIR]", "every run's output, status and "
	  "results", fetch_opts, 1, 1, NULL },
	{ "cancel", job_cancel, "ID", "stop a job: its requests cancelled, "
	  "its nodes released", NULL, 1, 1, NULL },
	{ "matrix", job_matrix, "[--user U] [--since D] [--junit FILE]",
	  "the last result of each job on each image", matrix_opts, 0, 0,
	  NULL },
	{ NULL }
};
