/*
 * node_cmd.c -- "pipol node ...": the machines of the pool, through
 * pipold (add, set: admins; list, show: anyone with a token; power:
 * admins, later also the holders of a reservation on the node).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "perr.h"

/* KEY=VALUE into *params (made on first use); -1 when it is not that. */
static int
power_param(json_t **params, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char key[64];

	if (eq == NULL || eq == kv || (size_t)(eq - kv) >= sizeof(key))
		return -1;
	memcpy(key, kv, (size_t)(eq - kv));
	key[eq - kv] = '\0';
	if (*params == NULL)
		*params = json_object();
	return json_object_set_new(*params, key, json_string(eq + 1));
}

/* A node name goes into a URL path: only what the schema allows. */
static int
node_name_ok(const char *s)
{
	return *s >= 'a' && *s <= 'z' && strlen(s) < 64 &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(s);
}

static int
cmd_node_add(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mac", required_argument, NULL, 'm' },
		{ "profile", required_argument, NULL, 'p' },
		{ "ip", required_argument, NULL, 'i' },
		{ "power", required_argument, NULL, 'w' },
		{ "power-param", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *mac = NULL, *profile = NULL, *ip = NULL, *power = NULL;
	json_t *send, *reply = NULL, *pp = NULL;
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
		case 'k':
			if (power_param(&pp, optarg) == 0)
				break;
			json_decref(pp);
			return cmd_usage_error(c, "--power-param %s: not "
			    "KEY=VALUE", optarg);
		case 'h': json_decref(pp); return cmd_help(c);
		default:
			json_decref(pp);
			return cmd_usage_error(c, "%s: %s", argv[optind - 1],
			    ch == ':' ? "needs a value" : "unknown option");
		}
	}
	if (optind != argc - 1 || mac == NULL || profile == NULL) {
		json_decref(pp);
		return cmd_usage_error(c, "give NAME, --mac and --profile");
	}
	send = json_pack("{s:s, s:s, s:s}", "name", argv[optind], "mac", mac,
	    "profile", profile);
	if (ip != NULL)
		json_object_set_new(send, "ip", json_string(ip));
	if (power != NULL)
		json_object_set_new(send, "power_driver", json_string(power));
	if (pp != NULL)
		json_object_set_new(send, "power_params", pp);
	rc = client_call("POST", "/api/nodes", send, &reply, &e);
	json_decref(send);
	if (rc < 0)
		return cli_fail(&e);
	printf("%s\n", json_string_value(json_object_get(reply, "node")));
	json_decref(reply);
	return 0;
}

static int
cmd_node_set(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "power", required_argument, NULL, 'w' },
		{ "power-param", required_argument, NULL, 'k' },
		{ "bootenv", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	json_t *send, *reply = NULL, *pp = NULL;
	const char *power = NULL, *flavour = NULL;
	char path[128];
	struct perr e;
	int ch, rc;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'w': power = optarg; break;
		case 'b': flavour = optarg; break;
		case 'k':
			if (power_param(&pp, optarg) == 0)
				break;
			json_decref(pp);
			return cmd_usage_error(c, "--power-param %s: not "
			    "KEY=VALUE", optarg);
		case 'h': json_decref(pp); return cmd_help(c);
		default:
			json_decref(pp);
			return cmd_usage_error(c, "%s: %s", argv[optind - 1],
			    ch == ':' ? "needs a value" : "unknown option");
		}
	}
	if (optind != argc - 1 || (power == NULL && pp == NULL &&
	    flavour == NULL)) {
		json_decref(pp);
		return cmd_usage_error(c, "give NAME and --power, "
		    "--power-param or --bootenv");
	}
	if (!node_name_ok(argv[optind])) {
		json_decref(pp);
		return cmd_usage_error(c, "%s: not a node name", argv[optind]);
	}
	send = json_object();
	if (power != NULL)
		json_object_set_new(send, "power_driver", json_string(power));
	if (pp != NULL)
		json_object_set_new(send, "power_params", pp);
	if (flavour != NULL)
		json_object_set_new(send, "bootenv", json_string(flavour));
	snprintf(path, sizeof(path), "/api/nodes/%s", argv[optind]);
	rc = client_call("POST", path, send, &reply, &e);
	json_decref(send);
	if (rc < 0)
		return cli_fail(&e);
	if (flavour != NULL)
		printf("%s: deployment environment %s\n", argv[optind],
		    flavour);
	if (json_object_get(reply, "power") != NULL)
		printf("%s: power %s\n", cli_str(reply, "node"),
		    cli_str(reply, "power"));
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
		return cli_fail(&e);
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

static int
cmd_node_show(const struct cmd *c, int argc, char **argv)
{
	static const char *const keys[] = { "name", "mac", "profile", "ip",
	    "power", "boot", NULL };
	json_t *reply = NULL, *pp;
	char path[128], *text;
	struct perr e;
	const char *v;
	int i;

	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		return cmd_help(c);
	if (argc != 2)
		return cmd_usage_error(c, "give one NAME");
	if (!node_name_ok(argv[1]))
		return cmd_usage_error(c, "%s: not a node name", argv[1]);
	snprintf(path, sizeof(path), "/api/nodes/%s", argv[1]);
	if (client_call("GET", path, NULL, &reply, &e) < 0)
		return cli_fail(&e);
	for (i = 0; keys[i] != NULL; i++) {
		v = json_string_value(json_object_get(reply, keys[i]));
		printf("%-14s %s\n", keys[i], v && *v ? v : "-");
	}
	/* only admins are sent the power params */
	if ((pp = json_object_get(reply, "power_params")) != NULL &&
	    (text = json_dumps(pp, JSON_COMPACT | JSON_SORT_KEYS)) != NULL) {
		printf("%-14s %s\n", "power_params", text);
		free(text);
	}
	json_decref(reply);
	return 0;
}

static int
cmd_node_power(const struct cmd *c, int argc, char **argv)
{
	static const char *const actions[] = { "on", "off", "reset", "cycle",
	    "status", NULL };
	json_t *send, *reply = NULL;
	char path[128];
	struct perr e;
	int i, rc;

	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		return cmd_help(c);
	if (argc != 3)
		return cmd_usage_error(c, "give NAME and an action");
	if (!node_name_ok(argv[1]))
		return cmd_usage_error(c, "%s: not a node name", argv[1]);
	for (i = 0; actions[i] != NULL && strcmp(actions[i], argv[2]); i++)
		;
	if (actions[i] == NULL)
		return cmd_usage_error(c, "%s: not on, off, reset, cycle or "
		    "status", argv[2]);
	snprintf(path, sizeof(path), "/api/nodes/%s/power", argv[1]);
	send = json_pack("{s:s}", "action", argv[2]);
	rc = client_call("POST", path, send, &reply, &e);
	json_decref(send);
	if (rc < 0)
		return cli_fail(&e);
	printf("%s: %s\n", argv[1], json_string_value(json_object_get(reply,
	    "message")));
	json_decref(reply);
	return 0;
}

static int
cmd_node_boot(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *kernel = NULL, *initrd = NULL, *cmdline = NULL, *mode;
	json_t *send, *reply = NULL;
	char path[128];
	struct perr e;
	int ch, rc;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': kernel = optarg; break;
		case 'i': initrd = optarg; break;
		case 'c': cmdline = optarg; break;
		case 'h': return cmd_help(c);
		default:
			return cmd_usage_error(c, "%s: %s", argv[optind - 1],
			    ch == ':' ? "needs a value" : "unknown option");
		}
	}
	if (optind != argc - 2)
		return cmd_usage_error(c, "give NAME and local, rescue or "
		    "kernel");
	if (!node_name_ok(argv[optind]))
		return cmd_usage_error(c, "%s: not a node name", argv[optind]);
	mode = argv[optind + 1];
	if (strcmp(mode, "local") && strcmp(mode, "rescue") &&
	    strcmp(mode, "kernel"))
		return cmd_usage_error(c, "%s: not local, rescue or kernel",
		    mode);
	if ((strcmp(mode, "kernel") == 0) != (kernel != NULL && initrd != NULL))
		return cmd_usage_error(c, "kernel mode, and only it, takes "
		    "--kernel and --initrd");
	snprintf(path, sizeof(path), "/api/nodes/%s/boot", argv[optind]);
	send = json_pack("{s:s}", "mode", mode);
	if (kernel != NULL) {
		json_object_set_new(send, "kernel", json_string(kernel));
		json_object_set_new(send, "initrd", json_string(initrd));
	}
	if (cmdline != NULL)
		json_object_set_new(send, "cmdline", json_string(cmdline));
	rc = client_call("POST", path, send, &reply, &e);
	json_decref(send);
	if (rc < 0)
		return cli_fail(&e);
	printf("%s: boots %s\n", argv[optind], mode);
	json_decref(reply);
	return 0;
}

static const struct cmd node_cmds[] = {
	{ "add", cmd_node_add,
	  "NAME --mac MAC --profile pc-bios|uefi|netboot-only|virtual "
	  "[--ip IP] [--power qemu|ipmi|manual] [--power-param KEY=VALUE]...",
	  "add a machine to the pool (admin)",
	  "  --mac MAC          its boot NIC\n"
	  "  --profile P        pc-bios, uefi, netboot-only or virtual\n"
	  "  --ip IP            its fixed address (static DHCP lease)\n"
	  "  --power DRIVER     qemu, ipmi or manual (default)\n"
	  "  --power-param KEY=VALUE\n"
	  "                     a parameter of the power driver, repeatable:\n"
	  "                     qemu: qmp=SOCKET; ipmi: host=, user=,\n"
	  "                     password_file=, and port=, cipher= if\n"
	  "                     needed\n" },
	{ "set", cmd_node_set,
	  "NAME [--power qemu|ipmi|manual] [--power-param KEY=VALUE]... "
	  "[--bootenv FLAVOUR]",
	  "change how a machine is powered or deployed (admin)",
	  "  --power DRIVER     a new driver (its old params are dropped)\n"
	  "  --power-param KEY=VALUE\n"
	  "                     repeatable; the params given replace the old\n"
	  "                     ones whole\n"
	  "  --bootenv FLAVOUR  the deployment environment it boots: cloud\n"
	  "                     (virtio only) or generic (real hardware);\n"
	  "                     default cloud for virtual nodes, else generic\n" },
	{ "list", cmd_node_list, "", "list the machines of the pool", NULL },
	{ "show", cmd_node_show, "NAME",
	  "one machine; admins also see its power params", NULL },
	{ "power", cmd_node_power, "NAME on|off|reset|cycle|status",
	  "power a machine on or off, reset it (hard), power-cycle it, or "
	  "ask its power state (admin, or while you hold it)", NULL },
	{ "boot", cmd_node_boot,
	  "NAME local|rescue|kernel [--kernel URL --initrd URL] "
	  "[--cmdline TEXT]",
	  "what a machine boots when not being deployed: its disk, the "
	  "rescue environment, or a kernel under test (admin)",
	  "  --kernel URL       kernel mode: the kernel (http or https)\n"
	  "  --initrd URL       kernel mode: its initramfs\n"
	  "  --cmdline TEXT     kernel mode: its command line\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};

int
node_main(int argc, char **argv)
{
	snprintf(cmd_prefix, sizeof(cmd_prefix), "pipol node");
	return cmd_dispatch(node_cmds, "command", argc, argv);
}
