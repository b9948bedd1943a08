/*
 * pipol.c -- the pipol command line. "pipol image" works on the store
 * directly (admin, on the frontend host); every other command talks to
 * pipold (client.c). This file holds the table
 * of commands and groups; each group's table is in its *_cmd.c file,
 * each command's options next to the function that reads them.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "perr.h"

static int
cmd_whoami(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL;
	struct perr e;

	(void)c;
	(void)a;
	if (client_call("GET", "/api/whoami", NULL, &reply, &e) < 0) {
		log_warnx("%s", e.msg);
		return e.code;
	}
	printf("%s%s\n", json_string_value(json_object_get(reply, "user")),
	    json_is_true(json_object_get(reply, "admin")) ? " (admin)" : "");
	json_decref(reply);
	return 0;
}

static const struct cmd groups[] = {
	{ "reserve", cmd_reserve,
	  "-n COUNT | --nodes N1,N2 [OPTIONS]",
	  "reserve nodes now, at a date, or as soon as they are free (--asap)",
	  reserve_opts, 0, 0, NULL },
	{ "reservations", cmd_reservations, "[--all]",
	  "your reservations (--all: everyone's, admin)", reservations_opts,
	  0, 0, NULL },
	{ "extend", cmd_extend, "ID --by DURATION",
	  "make a reservation longer, if the nodes stay free", extend_opts,
	  1, 1, NULL },
	{ "release", cmd_release, "ID",
	  "end a reservation now: its nodes are free at once (a queued "
	  "request: cancelled)", NULL, 1, 1,
	  NULL },
	{ "deploy", cmd_deploy,
	  "-n N1,N2 -i NAME[:VERSION] [--reservation ID] [--wait] [OPTIONS]",
	  "write an image onto nodes you hold (or take them now if free)",
	  deploy_opts, 0, 0, NULL },
	{ "capture", cmd_capture, "-n NODE -i IMAGE [--wait] [--timeout D]",
	  "read a node's disk into a new draft of an image (admin)",
	  capture_opts, 0, 0, NULL },
	{ "status", cmd_status, "[ID] [--json]",
	  "your deployments, or one with the time of each phase", status_opts,
	  0, 1, NULL },
	{ "log", cmd_log, "ID [--console]",
	  "what a deployment's post-install and rc scripts said (--console: "
	  "its console)", log_console_opts, 1, 1, NULL },
	/* console (console_cmd.c) */
	{ "console", cmd_console, "NODE [--seconds N]",
	  "a node's serial console (yours, or admin); Ctrl-] or ~. detaches",
	  console_opts, 1, 1, NULL },
	/* sub (job_cmd.c) */
	{ "sub", cmd_sub, "-n N -i IMG1,IMG2 [OPTIONS] -- CMD ARGS... | "
	  "--script FILE",
	  "run a command as you on freshly deployed nodes of each image",
	  sub_opts, 0, CMD_POS_ANY, NULL },
	{ "job", NULL, "COMMAND ...",
	  "your jobs (pipol sub): runs, output, results, the matrix", NULL,
	  0, 0, job_cmds },
	{ "script", NULL, "COMMAND ...",
	  "your rc scripts, the site's post-install scripts", NULL, 0, 0,
	  script_cmds },
	/* cron (cron_cmd.c) */
	{ "cron", NULL, "COMMAND ...",
	  "cyclic jobs (pipol sub, again and again) in the nightly queue",
	  NULL, 0, 0, cron_cmds },
	{ "licence", NULL, "COMMAND ...",
	  "counted resources reservations take (add: admin)", NULL, 0, 0,
	  licence_cmds },
	{ "queue", NULL, "COMMAND ...",
	  "queues and their admission rules (add: admin)", NULL, 0, 0,
	  queue_cmds },
	{ "node", NULL, "COMMAND ...",
	  "the machines of the pool (through pipold)", NULL, 0, 0, node_cmds },
	{ "user", NULL, "COMMAND ...",
	  "users (admin) and your API tokens, through pipold", NULL, 0, 0,
	  user_cmds },
	/* policy_cmd.c */
	{ "group", NULL, "COMMAND ...",
	  "groups of users, to grant queues to (admin)", NULL, 0, 0,
	  group_cmds },
	{ "site", NULL, "COMMAND ...",
	  "the site's reservation horizon; your limits", NULL, 0, 0,
	  site_cmds },
	{ "whoami", cmd_whoami, "",
	  "the user pipold knows your token as ($PIPOL_SERVER, $PIPOL_TOKEN)",
	  NULL, 0, 0, NULL },
	{ "rack", NULL, "COMMAND ...",
	  "racks: nodes with the store's caches near them (add: admin)",
	  NULL, 0, 0, rack_cmds },
	{ "vmhost", NULL, "COMMAND ...",
	  "hosts of virtual nodes and their capacity (add: admin)", NULL,
	  0, 0, vmhost_cmds },
	{ "cache", NULL, "COMMAND ...",
	  "rack caches of the store's chunks (nginx)", NULL, 0, 0,
	  cache_cmds },
	{ "image", NULL, "COMMAND ...",
	  "manage images in the store (admin, on the frontend host)", NULL,
	  0, 0, image_cmds },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
};

int
main(int argc, char **argv)
{
	log_init("pipol");
	snprintf(cmd_prefix, sizeof(cmd_prefix), "pipol");
	if (argc >= 2 && (strcmp(argv[1], "--version") == 0)) {
		printf("pipol 0.1\n");
		return 0;
	}
	return cmd_dispatch(groups, "command", argc - 1, argv + 1);
}
