/*
 * policy_cmd.c -- who may use what, through pipold: "pipol group ...",
 * "pipol site ...", and the commands other groups list from here:
 * "pipol queue grant|revoke|grants", "pipol user set". The rules are
 * pipold's (schema 009); these commands shape requests and print
 * answers. Changes are admins'; "pipol site show" is anyone's.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "parse.h"
#include "perr.h"

/* POST send to path; prints line on success. Takes send. */
static int
post(const char *path, json_t *send, const char *line)
{
	json_t *reply = NULL;
	struct perr e;
	int rc;

	rc = client_call("POST", path, send, &reply, &e);
	json_decref(send);
	json_decref(reply);
	if (rc < 0)
		return cli_fail(&e);
	printf("%s\n", line);
	return 0;
}

static int
cmd_group_add(const struct cmd *c, const struct cmd_args *a)
{
	char line[96];

	(void)c;
	snprintf(line, sizeof(line), "group %s", a->pos[0]);
	return post("/api/groups", json_pack("{s:s}", "name", a->pos[0]),
	    line);
}

static int
cmd_group_rm(const struct cmd *c, const struct cmd_args *a)
{
	char line[96];

	(void)c;
	snprintf(line, sizeof(line), "group %s removed", a->pos[0]);
	return post("/api/groups", json_pack("{s:s, s:b}", "name", a->pos[0],
	    "remove", 1), line);
}

static int
cmd_group_list(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL, *g, *m;
	struct perr e;
	size_t i, k;

	(void)c;
	(void)a;
	if (client_call("GET", "/api/groups", NULL, &reply, &e) < 0)
		return cli_fail(&e);
	printf("%-16s %s\n", "GROUP", "MEMBERS");
	json_array_foreach(json_object_get(reply, "groups"), i, g) {
		printf("%-16s ", cli_str(g, "name"));
		json_array_foreach(json_object_get(g, "members"), k, m)
			printf("%s%s", k ? "," : "", json_string_value(m));
		printf("%s\n", json_array_size(json_object_get(g, "members")) ?
		    "" : "-");
	}
	json_decref(reply);
	return 0;
}

static int
member_set(const struct cmd_args *a, int rm)
{
	char line[160];

	snprintf(line, sizeof(line), "group %s: %s %s", a->pos[0],
	    rm ? "removed" : "added", a->pos[1]);
	return post("/api/groups/members", json_pack("{s:s, s:s, s:b}",
	    "group", a->pos[0], "user", a->pos[1], "remove", rm), line);
}

static int
cmd_member_add(const struct cmd *c, const struct cmd_args *a)
{
	(void)c;
	return member_set(a, 0);
}

static int
cmd_member_rm(const struct cmd *c, const struct cmd_args *a)
{
	(void)c;
	return member_set(a, 1);
}

static const struct cmd member_cmds[] = {
	{ "add", cmd_member_add, "GROUP USER", "put a user in a group (admin)",
	  NULL, 2, 2, NULL },
	{ "rm", cmd_member_rm, "GROUP USER",
	  "take a user out of a group (admin)", NULL, 2, 2, NULL },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
};

const struct cmd group_cmds[] = {
	{ "add", cmd_group_add, "NAME",
	  "make a group of users, to grant queues to (admin)", NULL, 1, 1,
	  NULL },
	{ "rm", cmd_group_rm, "NAME",
	  "remove a group and its grants (admin)", NULL, 1, 1, NULL },
	{ "list", cmd_group_list, "", "groups and their members (admin)",
	  NULL, 0, 0, NULL },
	{ "member", NULL, "COMMAND ...", "a group's members (admin)", NULL,
	  0, 0, member_cmds },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
};

/* QUEUE USER|@GROUP into a grant request */
static int
grant_set(const struct cmd *c, const struct cmd_args *a, int rm)
{
	const char *who = a->pos[1];
	char line[160];

	if (who[0] == '@' && who[1] == '\0')
		return cmd_usage_error(c, "@: a group's name must follow");
	snprintf(line, sizeof(line), "queue %s: %s %s", a->pos[0],
	    rm ? "revoked from" : "granted to", who);
	return post("/api/grants", json_pack("{s:s, s:s, s:b}", "queue",
	    a->pos[0], who[0] == '@' ? "group" : "user", who + (who[0] == '@'),
	    "remove", rm), line);
}

int
cmd_queue_grant(const struct cmd *c, const struct cmd_args *a)
{
	return grant_set(c, a, 0);
}

int
cmd_queue_revoke(const struct cmd *c, const struct cmd_args *a)
{
	return grant_set(c, a, 1);
}

int
cmd_queue_grants(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL, *g;
	struct perr e;
	size_t i;

	(void)c;
	(void)a;
	if (client_call("GET", "/api/grants", NULL, &reply, &e) < 0)
		return cli_fail(&e);
	printf("%-16s %s\n", "QUEUE", "GRANTED TO");
	json_array_foreach(json_object_get(reply, "grants"), i, g)
		printf("%-16s %s%s\n", cli_str(g, "queue"),
		    json_is_string(json_object_get(g, "group")) ? "@" : "",
		    json_is_string(json_object_get(g, "group")) ?
		    cli_str(g, "group") : cli_str(g, "user"));
	json_decref(reply);
	return 0;
}

/* a limit: N, or "none" / 0 for unlimited */
static int
limit_arg(const char *opt, const char *v, json_t *send, const char *key,
    struct perr *e)
{
	long long n = 0;

	if (strcmp(v, "none") != 0 &&
	    parse_count(opt, v, 0, 1000000, &n, e) < 0)
		return -PE_USAGE;
	json_object_set_new(send, key, json_integer(n));
	return 0;
}

enum { L_MAX_RESV, L_MAX_NH };

const struct cmd_opt user_set_opts[] = {
	[L_MAX_RESV] = { "max-reservations", 0, CMD_VALUE, "N",
	    "reservations not yet ended at once (0 or none: unlimited)" },
	[L_MAX_NH] = { "max-node-hours", 0, CMD_VALUE, "N",
	    "nodes x hours of those, together (0 or none: unlimited)" },
	CMD_OPT_END
};

int
cmd_user_set(const struct cmd *c, const struct cmd_args *a)
{
	json_t *send = json_object();
	char path[128], line[128];
	const char *v;
	struct perr e;

	if ((v = cmd_str(a, L_MAX_RESV)) != NULL &&
	    limit_arg("--max-reservations", v, send, "max_reservations",
	    &e) < 0)
		goto usage;
	if ((v = cmd_str(a, L_MAX_NH)) != NULL &&
	    limit_arg("--max-node-hours", v, send, "max_node_hours", &e) < 0)
		goto usage;
	if (json_object_size(send) == 0) {
		json_decref(send);
		return cmd_usage_error(c, "give --max-reservations or "
		    "--max-node-hours");
	}
	if (strlen(a->pos[0]) > 32 || strchr(a->pos[0], '/') != NULL ||
	    strchr(a->pos[0], '?') != NULL) {
		json_decref(send);
		return cmd_usage_error(c, "%.40s: not a user name", a->pos[0]);
	}
	snprintf(path, sizeof(path), "/api/users/%s/limits", a->pos[0]);
	snprintf(line, sizeof(line), "user %s: limits set", a->pos[0]);
	return post(path, send, line);
 usage:
	json_decref(send);
	return cmd_usage_error(c, "%s", e.msg);
}

/* A limit as text: the number, or "none" */
static const char *
limit_text(json_t *o, const char *k, char *buf, size_t len)
{
	if (!json_is_integer(json_object_get(o, k)))
		return "none";
	snprintf(buf, len, "%lld", cli_int(o, k));
	return buf;
}

static int
cmd_site_show(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL;
	char b1[24], b2[24];
	struct perr e;

	(void)c;
	(void)a;
	if (client_call("GET", "/api/site", NULL, &reply, &e) < 0)
		return cli_fail(&e);
	printf("horizon-days %lld\n", cli_int(reply, "horizon_days"));
	printf("%s: max-reservations %s (has %lld), max-node-hours %s "
	    "(has %.1f)\n", cli_str(reply, "user"), limit_text(reply,
	    "max_reservations", b1, sizeof(b1)),
	    cli_int(reply, "reservations"), limit_text(reply,
	    "max_node_hours", b2, sizeof(b2)), json_number_value(
	    json_object_get(reply, "node_hours")));
	json_decref(reply);
	return 0;
}

static int
cmd_site_set(const struct cmd *c, const struct cmd_args *a)
{
	char line[96];
	struct perr e;
	long long n;

	if (strcmp(a->pos[0], "horizon-days") != 0)
		return cmd_usage_error(c, "%.40s: no such setting (there is "
		    "horizon-days)", a->pos[0]);
	if (parse_count("horizon-days", a->pos[1], 1, 3660, &n, &e) < 0)
		return cmd_usage_error(c, "%s", e.msg);
	snprintf(line, sizeof(line), "horizon-days %lld", n);
	return post("/api/site", json_pack("{s:I}", "horizon_days",
	    (json_int_t)n), line);
}

const struct cmd site_cmds[] = {
	{ "show", cmd_site_show, "",
	  "the site's horizon, your limits and what you hold", NULL, 0, 0,
	  NULL },
	{ "set", cmd_site_set, "horizon-days N",
	  "no reservation starts more than N days ahead (admin)", NULL, 2, 2,
	  NULL },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
};
