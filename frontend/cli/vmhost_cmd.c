/*
 * vmhost_cmd.c -- "pipol vmhost add|list|rm" (schema 024,
 * api_vmhost.c): where pipold runs virtual nodes and what they may take
 * of it. A virtual node is then added with pipol node add NAME --mac MAC
 * --profile virtual --vm HOST [--cpus N] [--mem SIZE] [--disk SIZE].
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "parse.h"
#include "perr.h"

enum { V_BRIDGE, V_CPUS, V_MEM, V_DISK };

static const struct cmd_opt add_opts[] = {
	[V_BRIDGE] = { "bridge", 0, CMD_VALUE, "BR",
	    "the boot network's bridge, which the machines' taps\n"
	    "join (where dnsmasq and pipold answer them)" },
	[V_CPUS] = { "cpus", 0, CMD_VALUE, "N", "vCPUs its nodes may take" },
	[V_MEM] = { "mem", 0, CMD_VALUE, "SIZE",
	    "memory its nodes may take (4G, 512M)" },
	[V_DISK] = { "disk", 0, CMD_VALUE, "SIZE",
	    "disk its nodes' disks may take (100G)" },
	CMD_OPT_END
};

static int
mib(const struct cmd *c, const char *opt, const char *v, json_int_t *out)
{
	uint64_t b;
	struct perr e;

	if (v == NULL)
		return cmd_usage_error(c, "--%s: missing", opt);
	if (parse_size(v, &b, &e) < 0 || b % (1 << 20) || b == 0)
		return cmd_usage_error(c, "--%s %s: a size in MiB or more "
		    "(512M, 4G)", opt, v);
	*out = (json_int_t)(b >> 20);
	return 0;
}

static int
cmd_vmhost_add(const struct cmd *c, const struct cmd_args *a)
{
	json_t *send, *reply = NULL;
	json_int_t mem, disk;
	long long cpus;
	struct perr e;
	int rc;

	if (cmd_str(a, V_BRIDGE) == NULL)
		return cmd_usage_error(c, "--bridge: missing");
	if (cmd_str(a, V_CPUS) == NULL || parse_count("--cpus",
	    cmd_str(a, V_CPUS), 1, 4096, &cpus, &e) < 0)
		return cmd_usage_error(c, "--cpus: 1 to 4096 vCPUs");
	if ((rc = mib(c, "mem", cmd_str(a, V_MEM), &mem)) != 0 ||
	    (rc = mib(c, "disk", cmd_str(a, V_DISK), &disk)) != 0)
		return rc;
	send = json_pack("{s:s, s:s, s:I, s:I, s:I}", "name", a->pos[0],
	    "bridge", cmd_str(a, V_BRIDGE), "cpus", (json_int_t)cpus, "mem",
	    mem, "disk", disk);
	rc = client_call("POST", "/api/vmhosts", send, &reply, &e);
	json_decref(send);
	json_decref(reply);
	if (rc < 0)
		return cli_fail(&e);
	printf("vm host %s\n", a->pos[0]);
	return 0;
}

static int
cmd_vmhost_list(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL, *h, *u, *v;
	struct perr e;
	size_t i, j;

	(void)c;
	(void)a;
	if (client_call("GET", "/api/vmhosts", NULL, &reply, &e) < 0)
		return cli_fail(&e);
	printf("%-12s %-10s %-9s %-15s %-15s %s\n", "NAME", "BRIDGE",
	    "CPUS", "MEM MiB", "DISK MiB", "NODES");
	json_array_foreach(json_object_get(reply, "vmhosts"), i, h) {
		char cp[24], me[40], di[40];

		u = json_object_get(h, "used");
		snprintf(cp, sizeof(cp), "%lld/%lld", (long long)cli_int(u,
		    "cpus"), (long long)cli_int(h, "cpus"));
		snprintf(me, sizeof(me), "%lld/%lld", (long long)cli_int(u,
		    "mem"), (long long)cli_int(h, "mem"));
		snprintf(di, sizeof(di), "%lld/%lld", (long long)cli_int(u,
		    "disk"), (long long)cli_int(h, "disk"));
		printf("%-12s %-10s %-9s %-15s %-15s", cli_str(h, "name"),
		    cli_str(h, "bridge"), cp, me, di);
		json_array_foreach(json_object_get(h, "nodes"), j, v)
			printf("%s%s", j ? "," : "", json_string_value(v));
		printf("%s\n", json_array_size(json_object_get(h, "nodes")) ?
		    "" : "-");
	}
	json_decref(reply);
	return 0;
}

static int
cmd_vmhost_rm(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL;
	char path[128];
	struct perr e;

	if (strlen(a->pos[0]) > 32 || strchr(a->pos[0], '/') != NULL)
		return cmd_usage_error(c, "%s: not a vm host name", a->pos[0]);
	snprintf(path, sizeof(path), "/api/vmhosts/%s", a->pos[0]);
	if (client_call("DELETE", path, NULL, &reply, &e) < 0)
		return cli_fail(&e);
	json_decref(reply);
	printf("vm host %s removed\n", a->pos[0]);
	return 0;
}

const struct cmd vmhost_cmds[] = {
	{ "add", cmd_vmhost_add, "NAME --bridge BR --cpus N --mem SIZE "
	  "--disk SIZE", "declare this host's capacity for virtual nodes, "
	  "or change it (admin)", add_opts, 1, 1, NULL },
	{ "list", cmd_vmhost_list, "", "vm hosts: capacity, what their "
	  "nodes take (used/all), the nodes", NULL, 0, 0, NULL },
	{ "rm", cmd_vmhost_rm, "NAME", "remove a vm host that has no nodes "
	  "(admin)", NULL, 1, 1, NULL },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
};
