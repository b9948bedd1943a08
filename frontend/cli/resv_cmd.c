/*
 * resv_cmd.c -- reservations through pipold: "pipol reserve",
 * "pipol reservations", "pipol extend", "pipol release", and the
 * admin's "pipol licence ..." and "pipol queue ...". The rules (free
 * nodes, licences, queue limits, the order of --asap requests) are
 * pipold's; this file shapes requests and prints answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "parse.h"
#include "perr.h"

#define RESV_DEFAULT_SECS	3600	/* --for when not given */

/* "2027-01-15T10:00:00+00:00" -> "2027-01-15 10:00:00+00:00" */
static const char *
when(json_t *o, const char *k, char *buf, size_t len)
{
	char *t;

	snprintf(buf, len, "%s", cli_str(o, k));
	if ((t = strchr(buf, 'T')) != NULL)
		*t = ' ';
	return buf;
}

/* n1,n2 from a JSON list of names */
static void
join(json_t *a, char *buf, size_t len)
{
	size_t i, off = 0;
	json_t *v;

	buf[0] = '\0';
	json_array_foreach(a, i, v)
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
		    "%s%s", i ? "," : "", json_string_value(v));
	if (buf[0] == '\0')
		snprintf(buf, len, "-");
}

/* What a queued request asks, its place and its expected start (the
 * START column: "unknown" when pipold cannot tell). */
static void
asap_nodes(json_t *r, char *buf, size_t len, char *start, size_t slen)
{
	size_t off;

	if (json_is_integer(json_object_get(r, "count")))
		off = (size_t)snprintf(buf, len, "%lld %s",
		    (long long)cli_int(r, "count"),
		    *cli_str(r, "profile") ? cli_str(r, "profile") : "any");
	else {
		join(json_object_get(r, "nodes"), buf, len);
		off = strlen(buf);
	}
	if (json_is_integer(json_object_get(r, "position")) && off < len)
		snprintf(buf + off, len - off, " (position %lld)",
		    (long long)cli_int(r, "position"));
	else if (*cli_str(r, "reason") && off < len)
		snprintf(buf + off, len - off, " (%s)", cli_str(r, "reason"));
	if (json_is_string(json_object_get(r, "start")))
		when(r, "start", start, slen);
	else
		snprintf(start, slen, "%s", strcmp(cli_str(r, "state"),
		    "queued") == 0 ? "unknown" : "-");
}

static void
print_resv(json_t *r)
{
	char nodes[1024], a[64], b[64];

	if (json_object_get(r, "submitted") != NULL) {	/* --asap */
		asap_nodes(r, nodes, sizeof(nodes), a, sizeof(a));
		printf("%-6lld %-10s %-8s %-25s %-25s %s\n",
		    (long long)json_integer_value(json_object_get(r, "id")),
		    cli_str(r, "user"), cli_str(r, "state"), a, "-", nodes);
		return;
	}
	join(json_object_get(r, "nodes"), nodes, sizeof(nodes));
	printf("%-6lld %-10s %-8s %-25s %-25s %s\n",
	    (long long)json_integer_value(json_object_get(r, "id")),
	    cli_str(r, "user"), cli_str(r, "state"), when(r, "start", a, sizeof(a)),
	    when(r, "end", b, sizeof(b)), nodes);
}

static void
print_head(void)
{
	printf("%-6s %-10s %-8s %-25s %-25s %s\n", "ID", "USER", "STATE",
	    "START", "END", "NODES");
}

/* "L" or "L:N" into {"L": N} */
static int
licence_arg(json_t *lics, const char *arg, struct perr *e)
{
	char name[64];
	const char *colon = strchr(arg, ':');
	long long n = 1;

	if (colon == NULL)
		snprintf(name, sizeof(name), "%s", arg);
	else if ((size_t)(colon - arg) < sizeof(name)) {
		snprintf(name, sizeof(name), "%.*s", (int)(colon - arg), arg);
		if (parse_count("--licence count", colon + 1, 1, 100000, &n, e)
		    < 0)
			return -PE_USAGE;
	} else
		return perr_set(e, PE_USAGE, "--licence %.40s: too long", arg);
	json_object_set_new(lics, name, json_integer(n));
	return 0;
}

/* "n1,n2" into ["n1", "n2"] */
json_t *
names_list(const char *s)
{
	json_t *a = json_array();
	const char *p = s, *comma;

	for (;;) {
		comma = strchr(p, ',');
		json_array_append_new(a, json_stringn(p, comma ? (size_t)(comma
		    - p) : strlen(p)));
		if (comma == NULL)
			return a;
		p = comma + 1;
	}
}

enum { R_COUNT, R_NODES, R_PROFILE, R_LICENCE, R_FOR, R_AT, R_QUEUE,
    R_QUIET, R_ASAP };

const struct cmd_opt reserve_opts[] = {
	[R_COUNT] = { "count", 'n', CMD_VALUE, "N",
	    "any N free nodes (of --profile)" },
	[R_NODES] = { "nodes", 0, CMD_VALUE, "N1,N2", "these nodes" },
	[R_PROFILE] = { "profile", 0, CMD_VALUE, "P",
	    "pc-bios, uefi, netboot-only, mac-efi32 or virtual" },
	[R_LICENCE] = { "licence", 0, CMD_VALUE | CMD_REPEAT, "L[:N]",
	    "N (default 1) of licence L; repeatable" },
	[R_FOR] = { "for", 0, CMD_VALUE, "DURATION",
	    "how long: 90m, 2h, 1d12h (default 1h)" },
	[R_AT] = { "at", 0, CMD_VALUE, "TIME",
	    "start then, e.g. \"2027-01-15 10:00\" (default now)" },
	[R_QUEUE] = { "queue", 0, CMD_VALUE, "Q",
	    "whose admission rules apply (default \"default\")" },
	[R_QUIET] = { "quiet", 'q', CMD_FLAG, NULL,
	    "print only the reservation's ID" },
	[R_ASAP] = { "asap", 0, CMD_FLAG, NULL,
	    "queue it: placed as soon as the nodes are free" },
	CMD_OPT_END
};

/* The request of "pipol reserve" from its options (all but the checks
 * pipold makes). */
static int
reserve_request(const struct cmd_args *a, json_t *send, json_t *lics,
    struct perr *e)
{
	static const struct { int id; const char *key; } strs[] = {
		{ R_PROFILE, "profile" }, { R_AT, "at" }, { R_QUEUE, "queue" },
	};
	long long secs = RESV_DEFAULT_SECS, n;
	const char *v;
	size_t i;
	int it = 0;

	if ((v = cmd_str(a, R_COUNT)) != NULL) {
		if (parse_count("-n", v, 1, 1024, &n, e) < 0)
			return -PE_USAGE;
		json_object_set_new(send, "count", json_integer(n));
	}
	if ((v = cmd_str(a, R_NODES)) != NULL)
		json_object_set_new(send, "nodes", names_list(v));
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if ((v = cmd_str(a, strs[i].id)) != NULL)
			json_object_set_new(send, strs[i].key,
			    json_string(v));
	while ((v = cmd_next(a, R_LICENCE, &it)) != NULL)
		if (licence_arg(lics, v, e) < 0)
			return -PE_USAGE;
	if ((v = cmd_str(a, R_FOR)) != NULL &&
	    parse_duration("--for", v, &secs, e) < 0)
		return -PE_USAGE;
	json_object_set_new(send, "seconds", json_integer(secs));
	return 0;
}

int
cmd_reserve(const struct cmd *c, const struct cmd_args *a)
{
	json_t *send = json_object(), *lics = json_object(), *reply = NULL;
	struct perr e;
	int rc = 0;

	if (reserve_request(a, send, lics, &e) < 0) {
		rc = cli_fail(&e);
		goto out;
	}
	if ((json_object_get(send, "count") == NULL) ==
	    (json_object_get(send, "nodes") == NULL)) {
		rc = cmd_usage_error(c, "give -n COUNT or --nodes N1,N2");
		goto out;
	}
	if (cmd_count(a, R_ASAP)) {
		if (cmd_str(a, R_AT) != NULL) {
			rc = cmd_usage_error(c, "--asap and --at: one or the "
			    "other");
			goto out;
		}
		json_object_set_new(send, "asap", json_true());
	}
	if (json_object_size(lics) > 0)
		json_object_set(send, "licences", lics);
	if (client_call("POST", "/api/reservations", send, &reply, &e) < 0) {
		rc = cli_fail(&e);
		goto out;
	}
	if (cmd_count(a, R_QUIET))
		printf("%lld\n", (long long)json_integer_value(
		    json_object_get(reply, "id")));
	else if (cmd_count(a, R_ASAP)) {
		printf("request %lld queued; the reservation will have this "
		    "ID\n", (long long)cli_int(reply, "id"));
		print_head();
		print_resv(reply);
	} else {
		print_head();
		print_resv(reply);
	}
 out:
	json_decref(reply);
	json_decref(send);
	json_decref(lics);
	return rc;
}

const struct cmd_opt reservations_opts[] = {
	{ "all", 0, CMD_FLAG, NULL, "everyone's reservations (admin)" },
	CMD_OPT_END
};

int
cmd_reservations(const struct cmd *c, const struct cmd_args *a)
{
	int all = cmd_count(a, 0) > 0;	/* --all */
	json_t *reply = NULL, *r;
	struct perr e;
	size_t i;

	(void)c;
	if (client_call("GET", all ? "/api/reservations?all=1" :
	    "/api/reservations", NULL, &reply, &e) < 0)
		return cli_fail(&e);
	print_head();
	json_array_foreach(json_object_get(reply, "reservations"), i, r)
		print_resv(r);
	json_decref(reply);
	return 0;
}

/* ID as the path of /api/reservations/ID/what */
static int
resv_path(const struct cmd *c, const char *id, const char *what, char *buf,
    size_t len)
{
	struct perr e;
	long long n;

	if (parse_count("reservation ID", id, 1, (long long)1e15, &n, &e) < 0)
		return cmd_usage_error(c, "%s", e.msg);
	snprintf(buf, len, "/api/reservations/%lld/%s", n, what);
	return 0;
}

const struct cmd_opt extend_opts[] = {
	{ "by", 0, CMD_VALUE, "DURATION", "how much longer: 90m, 2h, 1d" },
	CMD_OPT_END
};

int
cmd_extend(const struct cmd *c, const struct cmd_args *a)
{
	json_t *send, *reply = NULL;
	long long secs = 0;
	char path[96];
	struct perr e;
	int rc;

	if (cmd_str(a, 0) != NULL &&	/* --by */
	    parse_duration("--by", cmd_str(a, 0), &secs, &e) < 0)
		return cli_fail(&e);
	if (secs == 0)
		return cmd_usage_error(c, "give ID and --by DURATION");
	if ((rc = resv_path(c, a->pos[0], "extend", path, sizeof(path))))
		return rc;
	send = json_pack("{s:I}", "seconds", (json_int_t)secs);
	rc = client_call("POST", path, send, &reply, &e);
	json_decref(send);
	if (rc < 0)
		return cli_fail(&e);
	print_head();
	print_resv(reply);
	json_decref(reply);
	return 0;
}

int
cmd_release(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL;
	char path[96];
	struct perr e;
	int rc;

	if ((rc = resv_path(c, a->pos[0], "release", path, sizeof(path))))
		return rc;
	if (client_call("POST", path, NULL, &reply, &e) < 0)
		return cli_fail(&e);
	if (strcmp(cli_str(reply, "state"), "cancelled") == 0)
		printf("request %s cancelled\n", a->pos[0]);
	else
		printf("reservation %s released\n", a->pos[0]);
	json_decref(reply);
	return 0;
}

static int
cmd_licence_add(const struct cmd *c, const struct cmd_args *a)
{
	json_t *send, *reply = NULL;
	struct perr e;
	long long n;
	int rc;

	if (parse_count("TOTAL", a->pos[1], 0, 1000000, &n, &e) < 0)
		return cmd_usage_error(c, "%s", e.msg);
	send = json_pack("{s:s, s:I}", "name", a->pos[0], "total",
	    (json_int_t)n);
	rc = client_call("POST", "/api/licences", send, &reply, &e);
	json_decref(send);
	if (rc < 0)
		return cli_fail(&e);
	printf("licence %s: %lld\n", a->pos[0], n);
	json_decref(reply);
	return 0;
}

static int
cmd_licence_list(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL, *l;
	struct perr e;
	size_t i;

	(void)c;
	(void)a;
	if (client_call("GET", "/api/licences", NULL, &reply, &e) < 0)
		return cli_fail(&e);
	printf("%-20s %8s %8s\n", "NAME", "TOTAL", "IN USE");
	json_array_foreach(json_object_get(reply, "licences"), i, l)
		printf("%-20s %8lld %8lld\n", cli_str(l, "name"),
		    (long long)json_integer_value(json_object_get(l, "total")),
		    (long long)json_integer_value(json_object_get(l,
		    "used_now")));
	json_decref(reply);
	return 0;
}

enum { Q_MAX_NODES, Q_MAX_TIME, Q_HOURS, Q_PRIORITY };

static const struct cmd_opt queue_add_opts[] = {
	[Q_MAX_NODES] = { "max-nodes", 0, CMD_VALUE, "N",
	    "nodes in one reservation (default 8)" },
	[Q_MAX_TIME] = { "max-time", 0, CMD_VALUE, "D",
	    "length of one reservation (default 1d)" },
	[Q_HOURS] = { "hours", 0, CMD_VALUE, "FROM-TO",
	    "reservations start in these hours only" },
	[Q_PRIORITY] = { "priority", 0, CMD_VALUE, "N",
	    "-1000..1000: --asap requests of higher ones placed first "
	    "(default 0; kept when not given)" },
	CMD_OPT_END
};

/* The admission rules of "pipol queue add" into the request. */
static int
queue_rules(const struct cmd *c, const struct cmd_args *a, json_t *send,
    struct perr *e)
{
	char from[16], to[16];
	const char *v;
	long long n;

	if ((v = cmd_str(a, Q_MAX_NODES)) != NULL) {
		if (parse_count("--max-nodes", v, 1, 1024, &n, e) < 0)
			return cli_fail(e);
		json_object_set_new(send, "max_nodes", json_integer(n));
	}
	if ((v = cmd_str(a, Q_MAX_TIME)) != NULL) {
		if (parse_duration("--max-time", v, &n, e) < 0)
			return cli_fail(e);
		json_object_set_new(send, "max_seconds", json_integer(n));
	}
	if ((v = cmd_str(a, Q_PRIORITY)) != NULL) {
		if (parse_count("--priority", v, -1000, 1000, &n, e) < 0)
			return cli_fail(e);
		json_object_set_new(send, "priority", json_integer(n));
	}
	if ((v = cmd_str(a, Q_HOURS)) != NULL) {
		if (sscanf(v, "%5[0-9:]-%5[0-9:]", from, to) != 2)
			return cmd_usage_error(c, "--hours %s: not "
			    "HH:MM-HH:MM", v);
		json_object_set_new(send, "hours_from", json_string(from));
		json_object_set_new(send, "hours_to", json_string(to));
	}
	return 0;
}

static int
cmd_queue_add(const struct cmd *c, const struct cmd_args *a)
{
	json_t *send = json_object(), *reply = NULL;
	struct perr e;
	int rc;

	if ((rc = queue_rules(c, a, send, &e)) != 0)
		goto out;
	json_object_set_new(send, "name", json_string(a->pos[0]));
	if (client_call("POST", "/api/queues", send, &reply, &e) < 0)
		rc = cli_fail(&e);
	else
		printf("queue %s\n", a->pos[0]);
 out:
	json_decref(send);
	json_decref(reply);
	return rc;
}

static int
cmd_queue_list(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL, *q;
	struct perr e;
	char hours[40];
	size_t i;

	(void)c;
	(void)a;
	if (client_call("GET", "/api/queues", NULL, &reply, &e) < 0)
		return cli_fail(&e);
	printf("%-16s %9s %12s %8s %s\n", "NAME", "MAX NODES", "MAX SECONDS",
	    "PRIORITY", "START HOURS");
	json_array_foreach(json_object_get(reply, "queues"), i, q) {
		if (json_is_string(json_object_get(q, "hours_from")))
			snprintf(hours, sizeof(hours), "%.5s-%.5s",
			    cli_str(q, "hours_from"), cli_str(q, "hours_to"));
		else
			snprintf(hours, sizeof(hours), "any");
		printf("%-16s %9lld %12lld %8lld %s\n", cli_str(q, "name"),
		    (long long)json_integer_value(json_object_get(q,
		    "max_nodes")), (long long)json_integer_value(
		    json_object_get(q, "max_seconds")),
		    (long long)cli_int(q, "priority"), hours);
	}
	json_decref(reply);
	return 0;
}

const struct cmd licence_cmds[] = {
	{ "add", cmd_licence_add, "NAME TOTAL",
	  "declare a counted resource, or change its total (admin)", NULL,
	  2, 2, NULL },
	{ "list", cmd_licence_list, "", "licences, their totals and use now",
	  NULL, 0, 0, NULL },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
};

const struct cmd queue_cmds[] = {
	{ "add", cmd_queue_add,
	  "NAME [--max-nodes N] [--max-time DURATION] [--hours HH:MM-HH:MM] "
	  "[--priority N]",
	  "declare a queue and its admission rules, or change them (admin)",
	  queue_add_opts, 1, 1, NULL },
	{ "list", cmd_queue_list, "", "queues and their admission rules",
	  NULL, 0, 0, NULL },
	/* policy_cmd.c */
	{ "grant", cmd_queue_grant, "QUEUE USER|@GROUP",
	  "only those granted (and admins) may use a queue with grants "
	  "(admin)", NULL, 2, 2, NULL },
	{ "revoke", cmd_queue_revoke, "QUEUE USER|@GROUP",
	  "take a grant back; a queue with none is open to all (admin)",
	  NULL, 2, 2, NULL },
	{ "grants", cmd_queue_grants, "", "every queue's grants (admin)",
	  NULL, 0, 0, NULL },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
};
