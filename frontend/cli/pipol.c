/*
 * pipol.c -- the pipol command line. "pipol image" works on the store
 * directly (admin, on the frontend host); the reservation and deployment
 * commands talk to pipold (frontend issue).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "perr.h"

static int
group_image(const struct cmd *c, int argc, char **argv)
{
	(void)c;
	return image_main(argc - 1, argv + 1);
}

static int
cmd_whoami(const struct cmd *c, int argc, char **argv)
{
	json_t *reply = NULL;
	struct perr e;

	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		return cmd_help(c);
	if (argc > 1)
		return cmd_usage_error(c, "%s: unexpected argument", argv[1]);
	if (client_call("GET", "/api/whoami", NULL, &reply, &e) < 0) {
		log_warnx("%s", e.msg);
		return e.code;
	}
	printf("%s%s\n", json_string_value(json_object_get(reply, "user")),
	    json_is_true(json_object_get(reply, "admin")) ? " (admin)" : "");
	json_decref(reply);
	return 0;
}

static int
group_user(const struct cmd *c, int argc, char **argv)
{
	(void)c;
	return user_main(argc - 1, argv + 1);
}

static int
group_node(const struct cmd *c, int argc, char **argv)
{
	(void)c;
	return node_main(argc - 1, argv + 1);
}

static int
group_licence(const struct cmd *c, int argc, char **argv)
{
	(void)c;
	return licence_main(argc - 1, argv + 1);
}

static int
group_queue(const struct cmd *c, int argc, char **argv)
{
	(void)c;
	return queue_main(argc - 1, argv + 1);
}

static int
group_script(const struct cmd *c, int argc, char **argv)
{
	(void)c;
	return script_main(argc - 1, argv + 1);
}

static const struct cmd groups[] = {
	{ "reserve", cmd_reserve,
	  "-n COUNT | --nodes N1,N2 [OPTIONS]",
	  "reserve nodes now or at a date",
	  "  -n, --count N      any N free nodes (of --profile)\n"
	  "  --nodes N1,N2      these nodes\n"
	  "  --profile P        pc-bios, uefi, netboot-only or virtual\n"
	  "  --licence L[:N]    N (default 1) of licence L; repeatable\n"
	  "  --for DURATION     how long: 90m, 2h, 1d12h (default 1h)\n"
	  "  --at TIME          start then, e.g. \"2030-01-01 10:00\" (default "
	  "now)\n"
	  "  --queue Q          whose admission rules apply (default "
	  "\"default\")\n"
	  "  -q, --quiet        print only the reservation's ID\n" },
	{ "reservations", cmd_reservations, "[--all]",
	  "your reservations (--all: everyone's, admin)", NULL },
	{ "extend", cmd_extend, "ID --by DURATION",
	  "make a reservation longer, if the nodes stay free", NULL },
	{ "release", cmd_release, "ID",
	  "end a reservation now: its nodes are free at once", NULL },
	{ "deploy", cmd_deploy,
	  "-n N1,N2 -i NAME[:VERSION] [--reservation ID] [--wait] [OPTIONS]",
	  "write an image onto nodes you hold (or take them now if free)",
	  "  -n, --nodes N1,N2  the nodes\n"
	  "  -i, --image NAME[:VERSION]  the image (default version: current)\n"
	  "  --reservation ID   under this reservation (default: yours that\n"
	  "                     holds the nodes, else a new one if they are free)\n"
	  "  --for DURATION     length of that new reservation (default 1h)\n"
	  "  --bare             no post-install: the image as it is\n"
	  "  --wait             follow the deployments to the end; exit 0 when\n"
	  "                     every node is ready, 1 when one failed\n"
	  "  --timeout DURATION with --wait: give up waiting (exit 5) after it\n"
	  "                     (default 1h)\n" },
	{ "capture", cmd_capture, "-n NODE -i IMAGE [--wait] [--timeout D]",
	  "read a node's disk into a new draft of an image (admin)",
	  "  -n, --node NODE    the node whose disk is read (it netboots, is\n"
	  "                     read, then boots its disk again)\n"
	  "  -i, --image NAME   the image that gets the new draft version\n"
	  "  --wait             follow it to the end (as deploy --wait)\n"
	  "  --timeout D        with --wait: give up waiting after D\n" },
	{ "status", cmd_status, "[ID]",
	  "your deployments, or one with the time of each state", NULL },
	{ "log", cmd_log, "ID",
	  "what a deployment's post-install and rc scripts said", NULL },
	{ "script", group_script, "COMMAND ...",
	  "your rc scripts, the site's post-install scripts", NULL },
	{ "licence", group_licence, "COMMAND ...",
	  "counted resources reservations take (add: admin)", NULL },
	{ "queue", group_queue, "COMMAND ...",
	  "queues and their admission rules (add: admin)", NULL },
	{ "node", group_node, "COMMAND ...",
	  "the machines of the pool (through pipold)", NULL },
	{ "user", group_user, "COMMAND ...",
	  "manage users (admin, through pipold)", NULL },
	{ "whoami", cmd_whoami, "",
	  "the user pipold knows your token as ($PIPOL_SERVER, $PIPOL_TOKEN)",
	  NULL },
	{ "image", group_image, "COMMAND ...",
	  "manage images in the store (admin, on the frontend host)", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

int
main(int argc, char **argv)
{
	log_init("pipol");
	if (argc >= 2 && (strcmp(argv[1], "--version") == 0)) {
		printf("pipol 0.1\n");
		return 0;
	}
	return cmd_dispatch(groups, "command", argc - 1, argv + 1);
}
