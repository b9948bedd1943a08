/*
 * refresh_cmd.c -- "pipol image refresh" and "pipol image history"
 * (schema 018, admins): pipold deploys the image's current version on
 * a free node, runs the update and the test commands there as root,
 * captures the disk into a new draft, validates it (and promotes it
 * with --promote) when every check passed; history shows each refresh
 * with its steps, durations and reasons (docs/admin.md, Refresh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "perr.h"
#include "store.h"

#define REFRESH_POLL_SEC	2
#define REFRESH_WAIT_SEC	(3 * 3600)	/* the job's 2 h, and more */

enum { O_SCHEDULE, O_TEST, O_UPDATE, O_PROMOTE, O_PROFILE, O_WAIT, O_END };

const struct cmd_opt refresh_opts[] = {
	[O_SCHEDULE] = { "schedule", 0, CMD_VALUE, "weekly",
	    "refresh again every week with these options" },
	[O_TEST] = { "test", 0, CMD_VALUE, "CMD",
	    "the test run after the update and a reboot, as root through\n"
	    "sh -c (default: a smoke command as nobody, and an SSH server\n"
	    "listening); non-zero keeps the old current" },
	[O_UPDATE] = { "update", 0, CMD_VALUE, "CMD",
	    "the update run as root through sh -c (default: apt-get update\n"
	    "&& apt-get -y upgrade, or dnf -y upgrade)" },
	[O_PROMOTE] = { "promote", 0, CMD_FLAG, NULL,
	    "make the new version current when every check passed" },
	[O_PROFILE] = { "profile", 0, CMD_VALUE, "P",
	    "a node of this profile (default: any free node)" },
	[O_WAIT] = { "wait", 0, CMD_FLAG, NULL,
	    "follow the refresh to its end: 0 validated or promoted, 1 kept,\n"
	    "5 failed" },
	[O_END] = CMD_OPT_END
};

/* "2026-12-05 17:20" of a timestamp field, "-" when absent */
static const char *
when(json_t *o, const char *k, char buf[20])
{
	const char *s = cli_str(o, k);

	if (strlen(s) < 16)
		return "-";
	snprintf(buf, 20, "%.10s %.5s", s, s + 11);
	return buf;
}

/* the history of image; NULL with e */
static json_t *
history_get(const char *image, struct perr *e)
{
	char path[128];
	json_t *reply;

	snprintf(path, sizeof(path), "/api/images/%s/history", image);
	if (client_call("GET", path, NULL, &reply, e) < 0)
		return NULL;
	return reply;
}

/* refresh id of history h, or NULL */
static json_t *
refresh_of(json_t *h, long long id)
{
	json_t *f;
	size_t i;

	json_array_foreach(json_object_get(h, "refreshes"), i, f)
		if (cli_int(f, "id") == id)
			return f;
	return NULL;
}

/* the exit status of a refresh's end state */
static int
refresh_status(const char *st)
{
	if (strcmp(st, "validated") == 0 || strcmp(st, "promoted") == 0)
		return 0;
	return strcmp(st, "kept") == 0 ? PE_FAIL : PE_UNAVAIL;
}

/* --wait: until refresh id is over; its line, its exit status */
static int
refresh_wait(const char *image, long long id)
{
	time_t end = time(NULL) + REFRESH_WAIT_SEC;
	const char *st, *why;
	struct perr e;
	json_t *h, *f;
	int rc;

	for (;;) {
		sleep(REFRESH_POLL_SEC);
		if ((h = history_get(image, &e)) == NULL)
			return cli_fail(&e);
		f = refresh_of(h, id);
		st = f ? cli_str(f, "state") : "gone";
		if (strcmp(st, "running") != 0)
			break;
		json_decref(h);
		if (time(NULL) > end) {
			log_warnx("refresh %lld: still running after %d s",
			    id, REFRESH_WAIT_SEC);
			return PE_UNAVAIL;
		}
	}
	why = f ? cli_str(f, "reason") : "";
	printf("refresh %lld: %s %s%s%s\n", id, image, st, *why ? ": " : "",
	    why);
	rc = refresh_status(st);
	json_decref(h);
	return rc;
}

int
cmd_refresh(const struct cmd *c, const struct cmd_args *a)
{
	const char *sched = a->last[O_SCHEDULE];
	char path[128];
	json_t *req, *reply;
	struct perr e;
	long long id;

	if (store_name_check(a->pos[0], &e) < 0)
		return cli_fail(&e);
	if (sched != NULL && strcmp(sched, "weekly") != 0)
		return cmd_usage_error(c, "--schedule %s: only weekly", sched);
	req = json_pack("{s:b}", "promote", cmd_count(a, O_PROMOTE) > 0);
	if (sched != NULL)
		json_object_set_new(req, "schedule", json_string(sched));
	if (a->last[O_TEST] != NULL)
		json_object_set_new(req, "test", json_string(a->last[O_TEST]));
	if (a->last[O_UPDATE] != NULL)
		json_object_set_new(req, "update",
		    json_string(a->last[O_UPDATE]));
	if (a->last[O_PROFILE] != NULL)
		json_object_set_new(req, "profile",
		    json_string(a->last[O_PROFILE]));
	snprintf(path, sizeof(path), "/api/images/%s/refresh", a->pos[0]);
	if (client_call("POST", path, req, &reply, &e) < 0) {
		json_decref(req);
		return cli_fail(&e);
	}
	json_decref(req);
	id = cli_int(reply, "refresh");
	printf("refresh %lld: %s:%lld%s\n", id, a->pos[0],
	    cli_int(reply, "from_version"), sched ? ", weekly" : "");
	json_decref(reply);
	fflush(stdout);
	return cmd_count(a, O_WAIT) ? refresh_wait(a->pos[0], id) : 0;
}

/* one refresh: its line, then one line per step */
static void
refresh_print(json_t *f)
{
	char t[20], to[16] = "-", ch[32] = "-";
	json_t *s;
	size_t i;

	if (cli_int(f, "to_version") > 0)
		snprintf(to, sizeof(to), "%lld", cli_int(f, "to_version"));
	if (json_is_integer(json_object_get(f, "chunks")))
		snprintf(ch, sizeof(ch), "%lld/%lld", cli_int(f,
		    "shared_chunks"), cli_int(f, "chunks"));
	printf("%-7lld %-5lld %-5s %-10s %-16s %7lld  %-11s %s\n",
	    cli_int(f, "id"), cli_int(f, "from_version"), to,
	    cli_str(f, "state"), when(f, "created", t), cli_int(f, "seconds"),
	    ch, cli_str(f, "reason"));
	json_array_foreach(json_object_get(f, "steps"), i, s) {
		if (json_is_integer(json_object_get(s, "seconds")))
			snprintf(t, sizeof(t), "%lld", cli_int(s, "seconds"));
		else
			snprintf(t, sizeof(t), "-");
		printf("        %-12s %-8s %6s s  %s\n", cli_str(s, "step"),
		    cli_str(s, "outcome"), t, cli_str(s, "reason"));
	}
}

int
cmd_history(const struct cmd *c, const struct cmd_args *a)
{
	json_t *h, *f, *sc;
	struct perr e;
	size_t i;

	(void)c;
	if (store_name_check(a->pos[0], &e) < 0)
		return cli_fail(&e);
	if ((h = history_get(a->pos[0], &e)) == NULL)
		return cli_fail(&e);
	if ((sc = json_object_get(h, "schedule")) != NULL && json_is_object(sc))
		printf("schedule: %s%s\n", cli_str(sc, "every"),
		    json_is_true(json_object_get(sc, "promote")) ?
		    ", --promote" : "");
	printf("REFRESH FROM  TO    STATE      STARTED          SECONDS  "
	    "SHARED      WHY\n");
	json_array_foreach(json_object_get(h, "refreshes"), i, f)
		refresh_print(f);
	json_decref(h);
	return 0;
}
