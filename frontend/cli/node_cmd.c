/*
 * node_cmd.c -- "pipol node ...": the machines of the pool, through
 * pipold (add: admins; list: anyone with a token).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "perr.h"

static int
fail(struct perr *e)
{
	log_warnx("%s", e->msg);
	return e->code;
}

static int
cmd_node_add(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mac", required_argument, NULL, 'm' },
		{ "profile", required_argument, NULL, 'p' },
		{ "ip", required_argument, NULL, 'i' },
		{ "power", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *mac = NULL, *profile = NULL, *ip = NULL, *power = NULL;
	json_t *send, *reply = NULL;
	struct perr e;
	int ch, rc;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'm': mac = optarg; break;
		case 'p': profile = optarg; break;
		case 'i': ip = optarg; break;
		case 'w': power = optarg; break;
		case 'h': return cmd_help(c);
		default:
			return cmd_usage_error(c, "%s: %s", argv[optind - 1],
			    ch == ':' ? "needs a value" : "unknown option");
		}
	}
	if (optind != argc - 1 || mac == NULL || profile == NULL)
		return cmd_usage_error(c, "give NAME, --mac and --profile");
	send = json_pack("{s:s, s:s, s:s}", "name", argv[optind], "mac", mac,
	    "profile", profile);
	if (ip != NULL)
		json_object_set_new(send, "ip", json_string(ip));
	if (power != NULL)
		json_object_set_new(send, "power_driver", json_string(power));
	rc = client_call("POST", "/api/nodes", send, &reply, &e);
	json_decref(send);
	if (rc < 0)
		return fail(&e);
	printf("%s\n", json_string_value(json_object_get(reply, "node")));
	json_decref(reply);
	return 0;
}

static int
cmd_node_list(const struct cmd *c, int argc, char **argv)
{
	json_t *reply = NULL, *n;
	struct perr e;
	size_t i;

	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		return cmd_help(c);
	if (argc > 1)
		return cmd_usage_error(c, "%s: unexpected argument", argv[1]);
	if (client_call("GET", "/api/nodes", NULL, &reply, &e) < 0)
		return fail(&e);
	printf("%-20s %-17s %-12s %-15s %-7s %s\n", "NAME", "MAC", "PROFILE",
	    "IP", "POWER", "BOOT");
	json_array_foreach(json_object_get(reply, "nodes"), i, n)
		printf("%-20s %-17s %-12s %-15s %-7s %s\n",
		    json_string_value(json_object_get(n, "name")),
		    json_string_value(json_object_get(n, "mac")),
		    json_string_value(json_object_get(n, "profile")),
		    json_string_value(json_object_get(n, "ip")),
		    json_string_value(json_object_get(n, "power")),
		    json_string_value(json_object_get(n, "boot")));
	json_decref(reply);
	return 0;
}

static const struct cmd node_cmds[] = {
	{ "add", cmd_node_add,
	  "NAME --mac MAC --profile pc-bios|uefi|netboot-only|virtual "
	  "[--ip IP] [--power qemu|ipmi|manual]",
	  "add a machine to the pool (admin)",
	  "  --mac MAC          its boot NIC\n"
	  "  --profile P        pc-bios, uefi, netboot-only or virtual\n"
	  "  --ip IP            its fixed address (static DHCP lease)\n"
	  "  --power DRIVER     qemu, ipmi or manual (default)\n" },
	{ "list", cmd_node_list, "", "list the machines of the pool", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

int
node_main(int argc, char **argv)
{
	snprintf(cmd_prefix, sizeof(cmd_prefix), "pipol node");
	return cmd_dispatch(node_cmds, "command", argc, argv);
}
