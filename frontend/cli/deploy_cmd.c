/*
 * deploy_cmd.c -- "pipol deploy" and "pipol status": deployments through
 * pipold. With --wait, deploy follows its deployments to the end: on a
 * terminal one live line per node, else one line per state change, and
 * the exit status says whether every node came up (0), one failed (1),
 * or the wait timed out (5). "pipol status ID" prints the deployment's
 * timeline: the time of each phase pipold saw (schema 011).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "parse.h"
#include "perr.h"

#define WAIT_DEFAULT_SECS	3600

static int
final(const char *state)
{
	return strcmp(state, "ready") == 0 || strcmp(state, "failed") == 0;
}

/* "writing  41% 120.3/293.6 MB" */
static void
progress_text(json_t *d, char *buf, size_t len)
{
	long long w = cli_int(d, "written"), t = cli_int(d, "total");

	if (strcmp(cli_str(d, "state"), "failed") == 0)
		snprintf(buf, len, "failed: %s", cli_str(d, "reason"));
	else if (t > 0 && (strcmp(cli_str(d, "state"), "fetching") == 0 ||
	    strcmp(cli_str(d, "state"), "writing") == 0))
		snprintf(buf, len, "%-11s %3lld%% %.1f/%.1f MB",
		    cli_str(d, "state"), w * 100 / t, w / 1e6, t / 1e6);
	else
		snprintf(buf, len, "%s", cli_str(d, "state"));
}

static int
fetch_one(long long id, json_t **d, struct perr *e)
{
	char path[64];
	json_t *reply = NULL;

	snprintf(path, sizeof(path), "/api/deployments?id=%lld", id);
	*d = NULL;
	if (client_call("GET", path, NULL, &reply, e) < 0)
		return -e->code;
	*d = json_incref(json_array_get(json_object_get(reply,
	    "deployments"), 0));
	json_decref(reply);
	return *d ? 0 : perr_set(e, PE_DATA, "deployment %lld: no answer",
	    id);
}

/*
 * Follow the deployments of a deploy answer until each is final: on a
 * terminal, one line per node redrawn each second; else a line per
 * state change.
 */
static int
wait_all(json_t *deps, long long timeout)
{
	size_t i, n = json_array_size(deps);
	char (*state)[16] = calloc(n, sizeof(*state));
	char (*text)[300] = calloc(n, sizeof(*text));
	char (*node)[64] = calloc(n, sizeof(*node));
	int tty = isatty(STDOUT_FILENO), pending, failed, warned = 0, rc = 0;
	time_t t0 = time(NULL);
	json_t *d = NULL;
	struct perr e;

	if (state == NULL || text == NULL || node == NULL)
		goto out;
	for (i = 0; i < n; i++)
		snprintf(node[i], sizeof(node[i]), "%s",
		    cli_str(json_array_get(deps, i), "node"));
	for (;;) {
		pending = failed = 0;
		for (i = 0; i < n; i++) {
			if (!final(state[i])) {
				if (fetch_one(cli_int(json_array_get(deps, i),
				    "id"), &d, &e) < 0) {
					if (!warned++)	/* pipold away? go on */
						log_warnx("%s", e.msg);
					pending++;
					continue;
				}
				progress_text(d, text[i], sizeof(text[i]));
				if (!tty && strcmp(state[i], cli_str(d, "state")))
					printf("%-16s %s\n", node[i], text[i]);
				snprintf(state[i], sizeof(state[i]), "%s",
				    cli_str(d, "state"));
				json_decref(d);
			}
			if (!final(state[i]))
				pending++;
			else if (strcmp(state[i], "failed") == 0)
				failed++;
		}
		if (tty) {
			for (i = 0; i < n; i++)
				printf("\r\033[K%-16s %s\n", node[i], text[i]);
			if (pending)
				printf("\033[%zuA", n);	/* redraw */
		}
		fflush(stdout);
		if (!pending)
			break;
		if (time(NULL) - t0 >= timeout) {
			if (tty)
				printf("\033[%zuB", n);
			log_warnx("deployments not over after %lld s; 'pipol "
			    "status' follows them", timeout);
			rc = PE_UNAVAIL;
			goto out;
		}
		sleep(1);
	}
	rc = failed ? PE_FAIL : 0;
 out:
	free(state);
	free(text);
	free(node);
	return state ? rc : PE_FAIL;
}

enum { D_NODES, D_IMAGE, D_RESERVATION, D_FOR, D_BARE, D_WAIT, D_TIMEOUT,
    D_NO_KEXEC };

const struct cmd_opt deploy_opts[] = {
	[D_NODES] = { "nodes", 'n', CMD_VALUE, "N1,N2", "the nodes" },
	[D_IMAGE] = { "image", 'i', CMD_VALUE, "NAME[:VERSION]",
	    "the image (default version: current)" },
	[D_RESERVATION] = { "reservation", 0, CMD_VALUE, "ID",
	    "under this reservation (default: yours that\n"
	    "holds the nodes, else a new one if they are free)" },
	[D_FOR] = { "for", 0, CMD_VALUE, "DURATION",
	    "length of that new reservation (default 1h)" },
	[D_BARE] = { "bare", 0, CMD_FLAG, NULL,
	    "no post-install: the image as it is" },
	[D_WAIT] = { "wait", 0, CMD_FLAG, NULL,
	    "follow the deployments to the end; exit 0 when\n"
	    "every node is ready, 1 when one failed" },
	[D_TIMEOUT] = { "timeout", 0, CMD_VALUE, "DURATION",
	    "with --wait: give up waiting (exit 5) after it\n"
	    "(default 1h)" },
	[D_NO_KEXEC] = { "no-kexec", 0, CMD_FLAG, NULL,
	    "reboot through the firmware after the write,\n"
	    "not a kexec into the deployed kernel" },
	CMD_OPT_END
};

/* --reservation, --for, --bare, --no-kexec into the request; --timeout */
static int
deploy_values(const struct cmd_args *a, json_t *send, long long *timeout,
    struct perr *e)
{
	const char *v;
	long long n;

	if ((v = cmd_str(a, D_RESERVATION)) != NULL) {
		if (parse_count("--reservation", v, 1, (long long)1e15, &n,
		    e) < 0)
			return -PE_USAGE;
		json_object_set_new(send, "reservation", json_integer(n));
	}
	if ((v = cmd_str(a, D_FOR)) != NULL) {
		if (parse_duration("--for", v, &n, e) < 0)
			return -PE_USAGE;
		json_object_set_new(send, "seconds", json_integer(n));
	}
	if ((v = cmd_str(a, D_TIMEOUT)) != NULL &&
	    parse_duration("--timeout", v, timeout, e) < 0)
		return -PE_USAGE;
	if (cmd_count(a, D_BARE))
		json_object_set_new(send, "bare", json_true());
	if (cmd_count(a, D_NO_KEXEC))
		json_object_set_new(send, "kexec", json_false());
	return 0;
}

int
cmd_deploy(const struct cmd *c, const struct cmd_args *a)
{
	const char *nodes = cmd_str(a, D_NODES), *image = cmd_str(a, D_IMAGE);
	json_t *send = json_object(), *reply = NULL, *d;
	long long timeout = WAIT_DEFAULT_SECS;
	struct perr e;
	size_t i;
	int rc = 0;

	if (deploy_values(a, send, &timeout, &e) < 0) {
		rc = cli_fail(&e);
		goto out;
	}
	if (nodes == NULL || image == NULL) {
		rc = cmd_usage_error(c, "give -n NODES and -i IMAGE");
		goto out;
	}
	json_object_set_new(send, "nodes", names_list(nodes));
	json_object_set_new(send, "image", json_string(image));
	if (client_call("POST", "/api/deployments", send, &reply, &e) < 0) {
		rc = cli_fail(&e);
		goto out;
	}
	json_array_foreach(json_object_get(reply, "deployments"), i, d)
		printf("deployment %lld: %s <- %s (reservation %lld)\n",
		    cli_int(d, "id"), cli_str(d, "node"), cli_str(reply, "image"),
		    cli_int(reply, "reservation"));
	fflush(stdout);
	if (cmd_count(a, D_WAIT))
		rc = wait_all(json_object_get(reply, "deployments"), timeout);
 out:
	json_decref(send);
	json_decref(reply);
	return rc;
}

/*
 * A deployment's timeline (schema 011), a phase a line: its clock time
 * here, the time since the phase before it and since created:
 * "  written            10:02:14   +12.4 s   (31.0 s)".
 */
static void
timeline_print(json_t *phases, const char *handover)
{
	double t, t0 = -1, prev = -1;
	char clock[16];
	struct tm tm;
	time_t sec;
	json_t *p;
	size_t i;

	json_array_foreach(phases, i, p) {
		if (!json_is_number(json_object_get(p, "t"))) {
			printf("  %-18s not reached\n", cli_str(p, "phase"));
			continue;
		}
		t = json_number_value(json_object_get(p, "t"));
		sec = (time_t)t;
		if (localtime_r(&sec, &tm) == NULL ||
		    strftime(clock, sizeof(clock), "%H:%M:%S", &tm) == 0)
			snprintf(clock, sizeof(clock), "?");
		if (t0 < 0)
			printf("  %-18s %s\n", cli_str(p, "phase"), clock);
		else
			printf("  %-18s %s %+9.1f s  (%.1f s)%s%s\n",
			    cli_str(p, "phase"), clock, t - prev, t - t0,
			    handover && strcmp(cli_str(p, "phase"),
			    "handover") == 0 ? "  by " : "",
			    handover && strcmp(cli_str(p, "phase"),
			    "handover") == 0 ? handover : "");
		if (t0 < 0)
			t0 = t;
		prev = t;
	}
}

/* racks: where the chunks came from, as the agent said (schema 025);
 * vm: nothing came, the disk held the image (schema 024) */
static void
sources_print(json_t *src, int preloaded)
{
	json_t *v;
	size_t i;

	if (preloaded)
		printf("  chunks: none fetched, the disk held the image (a "
		    "virtual node on its base)\n");
	json_array_foreach(src, i, v) {
		printf("  %-18s %s: %.1f MiB", i == 0 ? "chunks from" : "",
		    cli_str(v, "url"), (double)cli_int(v, "bytes") / 1048576);
		if (cli_int(v, "failed_over") > 0)
			printf(", %lld chunks moved past it",
			    cli_int(v, "failed_over"));
		printf("\n");
	}
}

enum { S_JSON };

const struct cmd_opt status_opts[] = {
	[S_JSON] = { "json", 0, CMD_FLAG, NULL,
	    "print pipold's answer (JSON), the timeline's\n"
	    "times in seconds since the epoch" },
	CMD_OPT_END
};

int
cmd_status(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL, *d;
	char path[64], text[300];
	struct perr e;
	long long id = 0;
	size_t i;

	if (a->npos == 1 && parse_count("ID", a->pos[0], 1, (long long)1e15,
	    &id, &e) < 0)
		return cmd_usage_error(c, "%s", e.msg);
	if (id)
		snprintf(path, sizeof(path), "/api/deployments?id=%lld", id);
	else
		snprintf(path, sizeof(path), "/api/deployments");
	if (client_call("GET", path, NULL, &reply, &e) < 0)
		return cli_fail(&e);
	if (cmd_count(a, S_JSON)) {
		json_dumpf(reply, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(reply);
		return 0;
	}
	printf("%-6s %-16s %-24s %s\n", "ID", "NODE", "IMAGE", "STATE");
	json_array_foreach(json_object_get(reply, "deployments"), i, d) {
		progress_text(d, text, sizeof(text));
		printf("%-6lld %-16s %-24s %s\n", cli_int(d, "id"),
		    cli_str(d, "node"), cli_str(d, "image"), text);
		if (id != 0) {
			timeline_print(json_object_get(d, "phases"),
			    json_string_value(json_object_get(d, "handover")));
			sources_print(json_object_get(d, "sources"),
			    json_is_true(json_object_get(d, "preloaded")));
		}
	}
	json_decref(reply);
	return 0;
}

enum { C_NODE, C_IMAGE, C_WAIT, C_TIMEOUT };

const struct cmd_opt capture_opts[] = {
	[C_NODE] = { "node", 'n', CMD_VALUE, "NODE",
	    "the node whose disk is read (it netboots, is\n"
	    "read, then boots its disk again)" },
	[C_IMAGE] = { "image", 'i', CMD_VALUE, "NAME",
	    "the image that gets the new draft version" },
	[C_WAIT] = { "wait", 0, CMD_FLAG, NULL,
	    "follow it to the end (as deploy --wait)" },
	[C_TIMEOUT] = { "timeout", 0, CMD_VALUE, "D",
	    "with --wait: give up waiting after D" },
	CMD_OPT_END
};

int
cmd_capture(const struct cmd *c, const struct cmd_args *a)
{
	const char *node = cmd_str(a, C_NODE), *image = cmd_str(a, C_IMAGE);
	long long timeout = WAIT_DEFAULT_SECS;
	json_t *send, *reply = NULL, *deps;
	struct perr e;
	int rc;

	if (cmd_str(a, C_TIMEOUT) != NULL && parse_duration("--timeout",
	    cmd_str(a, C_TIMEOUT), &timeout, &e) < 0)
		return cli_fail(&e);
	if (node == NULL || image == NULL)
		return cmd_usage_error(c, "give -n NODE and -i IMAGE");
	send = json_pack("{s:s, s:s}", "node", node, "image", image);
	rc = client_call("POST", "/api/captures", send, &reply, &e);
	json_decref(send);
	if (rc < 0)
		return cli_fail(&e);
	printf("capture %lld: %s -> a new draft of %s\n", cli_int(reply,
	    "capture"), node, image);
	fflush(stdout);
	if (cmd_count(a, C_WAIT)) {
		deps = json_pack("[{s:I, s:s}]", "id", (json_int_t)cli_int(reply,
		    "capture"), "node", node);
		rc = wait_all(deps, timeout);
		json_decref(deps);
	}
	json_decref(reply);
	return rc;
}
