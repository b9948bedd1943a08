/*
 * resv_cmd.c -- reservations through pipold: "pipol reserve",
 * "pipol reservations", "pipol extend", "pipol release", and the
 * admin's "pipol licence ..." and "pipol queue ...". The rules (free
 * nodes, licences, queue limits) are pipold's; this file shapes
 * requests and prints answers.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "parse.h"
#include "perr.h"

#define RESV_DEFAULT_SECS	3600	/* --for when not given */

/* "2030-01-01T10:00:00+00:00" -> "2030-01-01 10:00:00+00:00" */
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

static void
print_resv(json_t *r)
{
	char nodes[1024], a[64], b[64];

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

int
cmd_reserve(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "nodes", required_argument, NULL, 'N' },
		{ "profile", required_argument, NULL, 'p' },
		{ "licence", required_argument, NULL, 'l' },
		{ "for", required_argument, NULL, 'f' },
		{ "at", required_argument, NULL, 'a' },
		{ "queue", required_argument, NULL, 'u' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	json_t *send = json_object(), *lics = json_object(), *reply = NULL;
	long long secs = RESV_DEFAULT_SECS, n;
	int ch, rc = 0, quiet = 0;
	struct perr e;

	optind = 1;
	opterr = 0;
	while (rc == 0 && (ch = getopt_long(argc, argv, ":n:q", opts, NULL))
	    != -1) {
		switch (ch) {
		case 'n':
			if ((rc = parse_count("-n", optarg, 1, 1024, &n, &e))
			    == 0)
				json_object_set_new(send, "count",
				    json_integer(n));
			break;
		case 'N': json_object_set_new(send, "nodes",
		    names_list(optarg)); break;
		case 'p': json_object_set_new(send, "profile",
		    json_string(optarg)); break;
		case 'l': rc = licence_arg(lics, optarg, &e); break;
		case 'f': rc = parse_duration("--for", optarg, &secs, &e);
		    break;
		case 'a': json_object_set_new(send, "at", json_string(optarg));
		    break;
		case 'u': json_object_set_new(send, "queue",
		    json_string(optarg)); break;
		case 'q': quiet = 1; break;
		case 'h': rc = cmd_help(c); goto out;
		default:
			rc = cmd_usage_error(c, "%s: %s", argv[optind - 1],
			    ch == ':' ? "needs a value" : "unknown option");
			goto out;
		}
	}
	if (rc < 0) {
		rc = cli_fail(&e);
		goto out;
	}
	if (optind != argc) {
		rc = cmd_usage_error(c, "%s: unexpected argument",
		    argv[optind]);
		goto out;
	}
	if ((json_object_get(send, "count") == NULL) ==
	    (json_object_get(send, "nodes") == NULL)) {
		rc = cmd_usage_error(c, "give -n COUNT or --nodes N1,N2");
		goto out;
	}
	json_object_set_new(send, "seconds", json_integer(secs));
	if (json_object_size(lics) > 0)
		json_object_set(send, "licences", lics);
	if (client_call("POST", "/api/reservations", send, &reply, &e) < 0) {
		rc = cli_fail(&e);
		goto out;
	}
	if (quiet)
		printf("%lld\n", (long long)json_integer_value(
		    json_object_get(reply, "id")));
	else {
		print_head();
		print_resv(reply);
	}
 out:
	json_decref(reply);
	json_decref(send);
	json_decref(lics);
	return rc;
}

int
cmd_reservations(const struct cmd *c, int argc, char **argv)
{
	json_t *reply = NULL, *r;
	struct perr e;
	int all = 0;
	size_t i;

	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		return cmd_help(c);
	if (argc > 1 && strcmp(argv[1], "--all") == 0)
		all = 1;
	if (argc > 1 + all)
		return cmd_usage_error(c, "%s: unexpected argument",
		    argv[1 + all]);
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

int
cmd_extend(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "by", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	json_t *send, *reply = NULL;
	long long secs = 0;
	char path[96];
	struct perr e;
	int ch, rc;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (ch == 'b') {
			if (parse_duration("--by", optarg, &secs, &e) < 0)
				return cli_fail(&e);
		} else if (ch == 'h')
			return cmd_help(c);
		else
			return cmd_usage_error(c, "%s: %s", argv[optind - 1],
			    ch == ':' ? "needs a value" : "unknown option");
	}
	if (optind != argc - 1 || secs == 0)
		return cmd_usage_error(c, "give ID and --by DURATION");
	if ((rc = resv_path(c, argv[optind], "extend", path, sizeof(path))))
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
cmd_release(const struct cmd *c, int argc, char **argv)
{
	json_t *reply = NULL;
	char path[96];
	struct perr e;
	int rc;

	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		return cmd_help(c);
	if (argc != 2)
		return cmd_usage_error(c, "give one ID");
	if ((rc = resv_path(c, argv[1], "release", path, sizeof(path))))
		return rc;
	if (client_call("POST", path, NULL, &reply, &e) < 0)
		return cli_fail(&e);
	printf("reservation %s released\n", argv[1]);
	json_decref(reply);
	return 0;
}

static int
cmd_licence_add(const struct cmd *c, int argc, char **argv)
{
	json_t *send, *reply = NULL;
	struct perr e;
	long long n;
	int rc;

	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		return cmd_help(c);
	if (argc != 3)
		return cmd_usage_error(c, "give NAME and TOTAL");
	if (parse_count("TOTAL", argv[2], 0, 1000000, &n, &e) < 0)
		return cmd_usage_error(c, "%s", e.msg);
	send = json_pack("{s:s, s:I}", "name", argv[1], "total",
	    (json_int_t)n);
	rc = client_call("POST", "/api/licences", send, &reply, &e);
	json_decref(send);
	if (rc < 0)
		return cli_fail(&e);
	printf("licence %s: %lld\n", argv[1], n);
	json_decref(reply);
	return 0;
}

static int
cmd_licence_list(const struct cmd *c, int argc, char **argv)
{
	json_t *reply = NULL, *l;
	struct perr e;
	size_t i;

	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		return cmd_help(c);
	if (argc > 1)
		return cmd_usage_error(c, "%s: unexpected argument", argv[1]);
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

static int
cmd_queue_add(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "max-nodes", required_argument, NULL, 'n' },
		{ "max-time", required_argument, NULL, 't' },
		{ "hours", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	json_t *send = json_object(), *reply = NULL;
	char from[16], to[16];
	long long v;
	struct perr e;
	int ch, rc = 0;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (parse_count("--max-nodes", optarg, 1, 1024, &v,
			    &e) < 0)
				goto bad;
			json_object_set_new(send, "max_nodes", json_integer(v));
			break;
		case 't':
			if (parse_duration("--max-time", optarg, &v, &e) < 0)
				goto bad;
			json_object_set_new(send, "max_seconds",
			    json_integer(v));
			break;
		case 'H':
			if (sscanf(optarg, "%5[0-9:]-%5[0-9:]", from, to) != 2) {
				rc = cmd_usage_error(c, "--hours %s: not "
				    "HH:MM-HH:MM", optarg);
				goto out;
			}
			json_object_set_new(send, "hours_from",
			    json_string(from));
			json_object_set_new(send, "hours_to", json_string(to));
			break;
		case 'h': rc = cmd_help(c); goto out;
		default:
			rc = cmd_usage_error(c, "%s: %s", argv[optind - 1],
			    ch == ':' ? "needs a value" : "unknown option");
			goto out;
		}
	}
	if (optind != argc - 1) {
		rc = cmd_usage_error(c, "give one NAME");
		goto out;
	}
	json_object_set_new(send, "name", json_string(argv[optind]));
	if (client_call("POST", "/api/queues", send, &reply, &e) < 0)
		goto bad;
	printf("queue %s\n", argv[optind]);
	goto out;
 bad:
	rc = cli_fail(&e);
 out:
	json_decref(send);
	json_decref(reply);
	return rc;
}

static int
cmd_queue_list(const struct cmd *c, int argc, char **argv)
{
	json_t *reply = NULL, *q;
	struct perr e;
	char hours[40];
	size_t i;

	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		return cmd_help(c);
	if (argc > 1)
		return cmd_usage_error(c, "%s: unexpected argument", argv[1]);
	if (client_call("GET", "/api/queues", NULL, &reply, &e) < 0)
		return cli_fail(&e);
	printf("%-16s %9s %12s %s\n", "NAME", "MAX NODES", "MAX SECONDS",
	    "START HOURS");
	json_array_foreach(json_object_get(reply, "queues"), i, q) {
		if (json_is_string(json_object_get(q, "hours_from")))
			snprintf(hours, sizeof(hours), "%.5s-%.5s",
			    cli_str(q, "hours_from"), cli_str(q, "hours_to"));
		else
			snprintf(hours, sizeof(hours), "any");
		printf("%-16s %9lld %12lld %s\n", cli_str(q, "name"),
		    (long long)json_integer_value(json_object_get(q,
		    "max_nodes")), (long long)json_integer_value(
		    json_object_get(q, "max_seconds")), hours);
	}
	json_decref(reply);
	return 0;
}

static const struct cmd licence_cmds[] = {
	{ "add", cmd_licence_add, "NAME TOTAL",
	  "declare a counted resource, or change its total (admin)", NULL },
	{ "list", cmd_licence_list, "", "licences, their totals and use now",
	  NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const struct cmd queue_cmds[] = {
	{ "add", cmd_queue_add,
	  "NAME [--max-nodes N] [--max-time DURATION] [--hours HH:MM-HH:MM]",
	  "declare a queue and its admission rules, or change them (admin)",
	  "  --max-nodes N      nodes in one reservation (default 8)\n"
	  "  --max-time D       length of one reservation (default 1d)\n"
	  "  --hours FROM-TO    reservations start in these hours only\n" },
	{ "list", cmd_queue_list, "", "queues and their admission rules",
	  NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

int
licence_main(int argc, char **argv)
{
	snprintf(cmd_prefix, sizeof(cmd_prefix), "pipol licence");
	return cmd_dispatch(licence_cmds, "command", argc, argv);
}

int
queue_main(int argc, char **argv)
{
	snprintf(cmd_prefix, sizeof(cmd_prefix), "pipol queue");
	return cmd_dispatch(queue_cmds, "command", argc, argv);
}
