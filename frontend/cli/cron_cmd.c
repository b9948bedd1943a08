/*
 * cron_cmd.c -- "pipol cron" (schema 020): jobs of pipol sub made again
 * and again by pipold, --nightly or --weekly in the site's window, or
 * by a cron expression (--cron 'M H DOM MON DOW', UTC), in the nightly
 * queue that day reservations pre-empt. add, list, rm, pause, resume.
 * The command's words go as they are (job_argv, as pipol sub): no
 * shell reads them here or on the frontend.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "parse.h"
#include "perr.h"

enum { O_COUNT, O_IMAGES, O_PROFILE, O_SCRIPT, O_FOR, O_KEEP, O_NIGHTLY,
    O_WEEKLY, O_CRON, O_DIR, O_QUIET, O_ALL, O_END };

static const struct cmd_opt add_opts[] = {
	[O_COUNT] = { "count", 'n', CMD_VALUE, "N",
	    "nodes per image (default 1)" },
	[O_IMAGES] = { "images", 'i', CMD_VALUE, "IMG1,IMG2",
	    "the images to deploy, each on N nodes" },
	[O_PROFILE] = { "profile", 0, CMD_VALUE, "P", "nodes of this profile" },
	[O_SCRIPT] = { "script", 0, CMD_VALUE, "FILE",
	    "run this script (sh) instead of a command" },
	[O_FOR] = { "for", 0, CMD_VALUE, "DURATION",
	    "each reservation's length (default 1h)" },
	[O_KEEP] = { "keep", 0, CMD_FLAG, NULL,
	    "keep the nodes after the run (else released)" },
	[O_NIGHTLY] = { "nightly", 0, CMD_FLAG, NULL,
	    "each night, when the site's nightly window opens" },
	[O_WEEKLY] = { "weekly", 0, CMD_FLAG, NULL,
	    "each week, when the site's weekly window opens" },
	[O_CRON] = { "cron", 0, CMD_VALUE, "'M H DOM MON DOW'",
	    "when this cron expression says (UTC)" },
	[O_DIR] = { "dir", 0, CMD_VALUE, "SRC",
	    "not for cron entries (yet): refused" },
	[O_QUIET] = { "quiet", 'q', CMD_FLAG, NULL, "print only the entry's id" },
	[O_END] = CMD_OPT_END
};

static const struct cmd_opt list_opts[] = {
	[O_ALL] = { "all", 0, CMD_FLAG, NULL, "everyone's entries (admin)" },
	[O_END] = CMD_OPT_END
};

static int
cron_add(const struct cmd *c, const struct cmd_args *a)
{
	long long count = 1, secs = 3600, id;
	const char *sched;
	json_t *req, *reply = NULL, *argv;
	struct perr e;
	int rc;

	if (cmd_count(a, O_NIGHTLY) + cmd_count(a, O_WEEKLY) +
	    (cmd_str(a, O_CRON) != NULL) != 1)
		return cmd_usage_error(c, "one of --nightly, --weekly, --cron");
	if (cmd_str(a, O_DIR))
		return cmd_usage_error(c, "--dir: not for cron entries (yet)");
	if ((a->npos == 1) == (cmd_str(a, O_SCRIPT) == NULL))
		return cmd_usage_error(c, "give a command after --, or --script "
		    "FILE");
	if (cmd_str(a, O_IMAGES) == NULL)
		return cmd_usage_error(c, "-i IMAGES is required");
	if ((cmd_str(a, O_COUNT) && parse_count("-n", cmd_str(a, O_COUNT), 1,
	    64, &count, &e) < 0) || (cmd_str(a, O_FOR) &&
	    parse_duration("--for", cmd_str(a, O_FOR), &secs, &e) < 0))
		return cli_fail(&e);
	if ((argv = job_argv(cmd_str(a, O_SCRIPT), a->npos - 1, a->pos + 1,
	    &e)) == NULL)
		return cli_fail(&e);
	sched = cmd_count(a, O_NIGHTLY) ? "nightly" : cmd_count(a, O_WEEKLY) ?
	    "weekly" : cmd_str(a, O_CRON);
	req = json_pack("{s:s, s:s, s:o, s:o, s:I, s:I, s:b}", "name",
	    a->pos[0], "schedule", sched, "argv", argv, "images",
	    names_list(cmd_str(a, O_IMAGES)), "count", (json_int_t)count,
	    "seconds", (json_int_t)secs, "keep", cmd_count(a, O_KEEP) > 0);
	if (cmd_str(a, O_PROFILE))
		json_object_set_new(req, "profile", json_string(cmd_str(a,
		    O_PROFILE)));
	rc = client_call("POST", "/api/cron", req, &reply, &e);
	json_decref(req);
	if (rc < 0)
		return cli_fail(&e);
	id = cli_int(reply, "id");
	json_decref(reply);
	if (cmd_count(a, O_QUIET))
		printf("%lld\n", id);
	else
		printf("cron %lld: %s, %s\n", id, a->pos[0], sched);
	return 0;
}

static int
cron_list(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL, *x;
	char job[24];
	struct perr e;
	size_t i;

	(void)c;
	if (client_call("GET", cmd_count(a, O_ALL) ? "/api/cron?all=1" :
	    "/api/cron", NULL, &reply, &e) < 0)
		return cli_fail(&e);
	printf("%-5s %-20s %-10s %-16s %-17s %-7s %-6s %s\n", "ID", "NAME",
	    "USER", "SCHEDULE", "NEXT (UTC)", "STATE", "JOB", "ERROR");
	json_array_foreach(json_object_get(reply, "entries"), i, x) {
		snprintf(job, sizeof(job), cli_int(x, "job") ? "%lld" : "-",
		    cli_int(x, "job"));
		printf("%-5lld %-20s %-10s %-16s %-17s %-7s %-6s %s\n",
		    cli_int(x, "id"), cli_str(x, "name"), cli_str(x, "user"),
		    cli_str(x, "schedule"), cli_str(x, "next"),
		    json_is_true(json_object_get(x, "paused")) ? "paused" :
		    "active", job, cli_str(x, "error"));
	}
	json_decref(reply);
	return 0;
}

/* rm, pause, resume: KEY is an id, or the name of one of yours */
static int
cron_act(const char *method, const char *key, const char *what)
{
	json_t *reply = NULL;
	char path[128];
	struct perr e;

	if (*key == '\0' || strlen(key) > 64 || strspn(key, "abcdefghijklmnop"
	    "qrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") !=
	    strlen(key)) {
		perr_set(&e, PE_USAGE, "cron %.64s: not an id or a name", key);
		return cli_fail(&e);
	}
	snprintf(path, sizeof(path), "/api/cron/%s%s", key, what);
	if (client_call(method, path, NULL, &reply, &e) < 0)
		return cli_fail(&e);
	printf("cron %lld: %s\n", cli_int(reply, "id"), cli_str(reply,
	    "state"));
	json_decref(reply);
	return 0;
}

static int
cron_rm(const struct cmd *c, const struct cmd_args *a)
{
	(void)c;
	return cron_act("DELETE", a->pos[0], "");
}

static int
cron_pause(const struct cmd *c, const struct cmd_args *a)
{
	(void)c;
	return cron_act("POST", a->pos[0], "/pause");
}

static int
cron_resume(const struct cmd *c, const struct cmd_args *a)
{
	(void)c;
	return cron_act("POST", a->pos[0], "/resume");
}

const struct cmd cron_cmds[] = {
	{ "add", cron_add, "NAME --nightly|--weekly|--cron 'M H DOM MON DOW' "
	  "-i IMAGES [-n N] [OPTIONS] -- CMD ARGS... | --script FILE",
	  "a job made again and again (as pipol sub), in the nightly queue",
	  add_opts, 1, CMD_POS_ANY, NULL },
	{ "list", cron_list, "[--all]", "your entries and their next firing "
	  "(--all: everyone's, admin)", list_opts, 0, 0, NULL },
	{ "rm", cron_rm, "ID|NAME", "remove an entry (its jobs stay)", NULL,
	  1, 1, NULL },
	{ "pause", cron_pause, "ID|NAME", "stop an entry firing", NULL, 1, 1,
	  NULL },
	{ "resume", cron_resume, "ID|NAME", "fire it again, from its next "
	  "time (none missed while paused)", NULL, 1, 1, NULL },
	{ NULL }
};
