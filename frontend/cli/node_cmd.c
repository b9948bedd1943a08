/*
 * node_cmd.c -- "pipol node ...": the machines of the pool, through
 * pipold (add, set, boot: admins; list, show: anyone with a token;
 * power: admins and the holder of a running reservation of the node).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "parse.h"
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

/* the --power-param values, into a JSON object (NULL if none) */
static int
power_params(const struct cmd *c, const struct cmd_args *a, int id,
    json_t **pp)
{
	const char *kv;
	int it = 0;

	*pp = NULL;
	while ((kv = cmd_next(a, id, &it)) != NULL)
		if (power_param(pp, kv) < 0) {
			json_decref(*pp);
			*pp = NULL;
			return cmd_usage_error(c, "--power-param %s: not "
			    "KEY=VALUE", kv);
		}
	return 0;
}

enum { O_MAC, O_PROFILE, O_IP, O_POWER, O_POWER_PARAM, O_VM, O_CPUS, O_MEM,
    O_DISK };

static const struct cmd_opt add_opts[] = {
	[O_MAC] = { "mac", 0, CMD_VALUE, "MAC", "its boot NIC" },
	[O_PROFILE] = { "profile", 0, CMD_VALUE, "P",
	    "pc-bios, uefi, netboot-only, mac-efi32 or virtual" },
	[O_IP] = { "ip", 0, CMD_VALUE, "IP",
	    "its fixed address (static DHCP lease)" },
	[O_POWER] = { "power", 0, CMD_VALUE, "DRIVER",
	    "qemu, ipmi, vm or manual (default)" },
	[O_POWER_PARAM] = { "power-param", 0, CMD_VALUE | CMD_REPEAT,
	    "KEY=VALUE",
	    "a parameter of the power driver, repeatable:\n"
	    "qemu: qmp=SOCKET; ipmi: host=, user=,\n"
	    "password_file=, and port=, cipher= if\n"
	    "needed; vm: host=, cpus=, mem=, disk= (MiB)" },
	[O_VM] = { "vm", 0, CMD_VALUE, "HOST",
	    "a virtual node pipold runs on vm host HOST\n"
	    "(pipol vmhost list): --power vm" },
	[O_CPUS] = { "cpus", 0, CMD_VALUE, "N", "with --vm: its vCPUs (default 1)" },
	[O_MEM] = { "mem", 0, CMD_VALUE, "SIZE",
	    "with --vm: its memory (default 512M)" },
	[O_DISK] = { "disk", 0, CMD_VALUE, "SIZE",
	    "with --vm: its disk, at least its images' size\n"
	    "(default 4G)" },
	CMD_OPT_END
};

/* --vm HOST --cpus --mem --disk: the vm driver and its params */
static int
vm_params(const struct cmd *c, const struct cmd_args *a, json_t **pp)
{
	static const int id[3] = { O_CPUS, O_MEM, O_DISK };
	static const char *const key[3] = { "cpus", "mem", "disk" };
	static const char *const dflt[3] = { "1", "512M", "4G" };
	const char *v;
	char num[24];
	uint64_t bytes;
	struct perr e;
	int i;

	if (cmd_str(a, O_VM) == NULL) {
		for (i = 0; i < 3; i++)
			if (cmd_str(a, id[i]) != NULL)
				return cmd_usage_error(c, "--%s: only with "
				    "--vm", key[i]);
		return 0;
	}
	if (*pp != NULL || cmd_str(a, O_POWER) != NULL)
		return cmd_usage_error(c, "--vm: not with --power or "
		    "--power-param");
	*pp = json_pack("{s:s}", "host", cmd_str(a, O_VM));
	for (i = 0; i < 3; i++) {
		v = cmd_str(a, id[i]) ? cmd_str(a, id[i]) : dflt[i];
		if (i == 0)
			snprintf(num, sizeof(num), "%s", v);
		else if (parse_size(v, &bytes, &e) < 0 || bytes % (1 << 20))
			return cmd_usage_error(c, "--%s %s: a size in MiB or "
			    "GiB (512M, 2G)", key[i], v);
		else
			snprintf(num, sizeof(num), "%llu",
			    (unsigned long long)(bytes >> 20));
		json_object_set_new(*pp, key[i], json_string(num));
	}
	return 0;
}

static int
cmd_node_add(const struct cmd *c, const struct cmd_args *a)
{
	const char *mac = cmd_str(a, O_MAC), *profile = cmd_str(a, O_PROFILE);
	const char *ip = cmd_str(a, O_IP), *power = cmd_str(a, O_POWER);
	json_t *send, *reply = NULL, *pp;
	struct perr e;
	int rc;

	if ((rc = power_params(c, a, O_POWER_PARAM, &pp)) != 0)
		return rc;
	if ((rc = vm_params(c, a, &pp)) != 0) {
		json_decref(pp);
		return rc;
	}
	if (cmd_str(a, O_VM) != NULL)
		power = "vm";
	if (mac == NULL || profile == NULL) {
		json_decref(pp);
		return cmd_usage_error(c, "give NAME, --mac and --profile");
	}
	send = json_pack("{s:s, s:s, s:s}", "name", a->pos[0], "mac", mac,
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

enum { S_POWER, S_POWER_PARAM, S_BOOTENV, S_CONSOLE, S_WIPE, S_KEXEC,
    S_RACK };

static const struct cmd_opt set_opts[] = {
	[S_POWER] = { "power", 0, CMD_VALUE, "DRIVER",
	    "a new driver (its old params are dropped)" },
	[S_POWER_PARAM] = { "power-param", 0, CMD_VALUE | CMD_REPEAT,
	    "KEY=VALUE",
	    "repeatable; the params given replace the old\n"
	    "ones whole" },
	[S_BOOTENV] = { "bootenv", 0, CMD_VALUE, "FLAVOUR",
	    "the deployment environment it boots: cloud\n"
	    "(virtio only) or generic (real hardware);\n"
	    "default cloud for virtual nodes, else generic" },
	[S_CONSOLE] = { "console", 0, CMD_VALUE, "ARGS",
	    "the deployment kernel's console arguments, and\n"
	    "any other words for it (e.g. pipol.kexec=load);\n"
	    "\"\": the default (console=tty0\n"
	    "console=ttyS0,115200)" },
	[S_WIPE] = { "wipe", 0, CMD_VALUE, "on|off",
	    "wipe its disk at the end of each reservation;\n"
	    "also retries (on) or drops (off) a failed wipe" },
	[S_KEXEC] = { "kexec", 0, CMD_VALUE, "on|off",
	    "hand its deployments over to the deployed kernel\n"
	    "by kexec, without a firmware pass (default on)" },
	[S_RACK] = { "rack", 0, CMD_VALUE, "RACK",
	    "its rack (pipol rack add): its agent takes chunks\n"
	    "from the rack's caches first; \"\": none" },
	CMD_OPT_END
};

static int
cmd_node_set(const struct cmd *c, const struct cmd_args *a)
{
	const char *power = cmd_str(a, S_POWER), *name = a->pos[0];
	const char *flavour = cmd_str(a, S_BOOTENV), *wipe = cmd_str(a, S_WIPE);
	const char *kexec = cmd_str(a, S_KEXEC), *console = cmd_str(a, S_CONSOLE);
	const char *rack = cmd_str(a, S_RACK);
	json_t *send, *reply = NULL, *pp;
	char path[128];
	struct perr e;
	int rc;

	if (power == NULL && flavour == NULL && wipe == NULL &&
	    kexec == NULL && console == NULL && rack == NULL &&
	    cmd_count(a, S_POWER_PARAM) == 0)
		return cmd_usage_error(c, "give NAME and --power, "
		    "--power-param, --bootenv, --console, --wipe, --kexec or "
		    "--rack");
	if (kexec != NULL && strcmp(kexec, "on") != 0 &&
	    strcmp(kexec, "off") != 0)
		return cmd_usage_error(c, "--kexec %s: on or off", kexec);
	if (wipe != NULL && strcmp(wipe, "on") != 0 && strcmp(wipe, "off") != 0)
		return cmd_usage_error(c, "--wipe %s: on or off", wipe);
	if (!node_name_ok(name))
		return cmd_usage_error(c, "%s: not a node name", name);
	if ((rc = power_params(c, a, S_POWER_PARAM, &pp)) != 0)
		return rc;
	send = json_object();
	if (power != NULL)
		json_object_set_new(send, "power_driver", json_string(power));
	if (pp != NULL)
		json_object_set_new(send, "power_params", pp);
	if (flavour != NULL)
		json_object_set_new(send, "bootenv", json_string(flavour));
	if (console != NULL)
		json_object_set_new(send, "console", json_string(console));
	if (wipe != NULL)
		json_object_set_new(send, "wipe", json_boolean(strcmp(wipe,
		    "on") == 0));
	if (kexec != NULL)
		json_object_set_new(send, "kexec", json_boolean(strcmp(kexec,
		    "on") == 0));
	if (rack != NULL)
		json_object_set_new(send, "rack", json_string(rack));
	snprintf(path, sizeof(path), "/api/nodes/%s", name);
	rc = client_call("POST", path, send, &reply, &e);
	json_decref(send);
	if (rc < 0)
		return cli_fail(&e);
	if (flavour != NULL)
		printf("%s: deployment environment %s\n", name, flavour);
	if (console != NULL)
		printf("%s: console %s\n", name, *console ? console :
		    "(the default)");
	if (wipe != NULL)
		printf("%s: wipe %s%s\n", name, wipe, json_is_true(
		    json_object_get(reply, "requeued")) ? (strcmp(wipe, "on")
		    == 0 ? " (its failed wipe: tried again)" : " (its wipe "
		    "dropped: powered off only)") : "");
	if (kexec != NULL)
		printf("%s: kexec %s\n", name, kexec);
	if (rack != NULL)
		printf("%s: rack %s\n", name, *rack ? rack : "(none)");
	if (json_object_get(reply, "power") != NULL)
		printf("%s: power %s\n", cli_str(reply, "node"),
		    cli_str(reply, "power"));
	json_decref(reply);
	return 0;
}

static int
cmd_node_list(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL, *n;
	struct perr e;
	size_t i;

	(void)c;
	(void)a;
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
cmd_node_show(const struct cmd *c, const struct cmd_args *a)
{
	static const char *const keys[] = { "name", "mac", "profile", "ip",
	    "power", "boot", "wipe", "kexec", NULL };
	json_t *reply = NULL, *pp;
	char path[128], *text;
	struct perr e;
	const char *v;
	int i;

	if (!node_name_ok(a->pos[0]))
		return cmd_usage_error(c, "%s: not a node name", a->pos[0]);
	snprintf(path, sizeof(path), "/api/nodes/%s", a->pos[0]);
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
cmd_node_power(const struct cmd *c, const struct cmd_args *a)
{
	static const char *const actions[] = { "on", "off", "reset", "cycle",
	    "status", NULL };
	const char *name = a->pos[0], *action = a->pos[1];
	json_t *send, *reply = NULL;
	char path[128];
	struct perr e;
	int i, rc;

	if (!node_name_ok(name))
		return cmd_usage_error(c, "%s: not a node name", name);
	for (i = 0; actions[i] != NULL && strcmp(actions[i], action); i++)
		;
	if (actions[i] == NULL)
		return cmd_usage_error(c, "%s: not on, off, reset, cycle or "
		    "status", action);
	snprintf(path, sizeof(path), "/api/nodes/%s/power", name);
	send = json_pack("{s:s}", "action", action);
	rc = client_call("POST", path, send, &reply, &e);
	json_decref(send);
	if (rc < 0)
		return cli_fail(&e);
	printf("%s: %s\n", name, json_string_value(json_object_get(reply,
	    "message")));
	json_decref(reply);
	return 0;
}

enum { B_KERNEL, B_INITRD, B_CMDLINE };

static const struct cmd_opt boot_opts[] = {
	[B_KERNEL] = { "kernel", 0, CMD_VALUE, "URL",
	    "kernel mode: the kernel (http or https)" },
	[B_INITRD] = { "initrd", 0, CMD_VALUE, "URL",
	    "kernel mode: its initramfs" },
	[B_CMDLINE] = { "cmdline", 0, CMD_VALUE, "TEXT",
	    "kernel mode: its command line" },
	CMD_OPT_END
};

static int
cmd_node_boot(const struct cmd *c, const struct cmd_args *a)
{
	const char *kernel = cmd_str(a, B_KERNEL);
	const char *initrd = cmd_str(a, B_INITRD);
	const char *cmdline = cmd_str(a, B_CMDLINE);
	const char *name = a->pos[0], *mode = a->pos[1];
	json_t *send, *reply = NULL;
	char path[128];
	struct perr e;
	int rc;

	if (!node_name_ok(name))
		return cmd_usage_error(c, "%s: not a node name", name);
	if (strcmp(mode, "local") && strcmp(mode, "rescue") &&
	    strcmp(mode, "kernel"))
		return cmd_usage_error(c, "%s: not local, rescue or kernel",
		    mode);
	if ((strcmp(mode, "kernel") == 0) != (kernel != NULL && initrd != NULL))
		return cmd_usage_error(c, "kernel mode, and only it, takes "
		    "--kernel and --initrd");
	snprintf(path, sizeof(path), "/api/nodes/%s/boot", name);
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
	printf("%s: boots %s\n", name, mode);
	json_decref(reply);
	return 0;
}

const struct cmd node_cmds[] = {
	{ "add", cmd_node_add,
	  "NAME --mac MAC --profile pc-bios|uefi|netboot-only|mac-efi32|virtual "
	  "[--ip IP] [--power qemu|ipmi|vm|manual] [--power-param KEY=VALUE]... "
	  "[--vm HOST [--cpus N] [--mem SIZE] [--disk SIZE]]",
	  "add a machine to the pool (admin)", add_opts, 1, 1, NULL },
	{ "set", cmd_node_set,
	  "NAME [--power qemu|ipmi|vm|manual] [--power-param KEY=VALUE]... "
	  "[--bootenv FLAVOUR] [--console ARGS] [--wipe on|off] [--kexec on|off] "
	  "[--rack RACK]",
	  "change how a machine is powered, deployed or wiped (admin)",
	  set_opts,
	  1, 1, NULL },
	{ "list", cmd_node_list, "", "list the machines of the pool", NULL,
	  0, 0, NULL },
	{ "show", cmd_node_show, "NAME",
	  "one machine; admins also see its power params", NULL, 1, 1, NULL },
	{ "power", cmd_node_power, "NAME on|off|reset|cycle|status",
	  "power a machine on or off, reset it (hard), power-cycle it, or "
	  "ask its power state (admin, or while you hold it)", NULL, 2, 2,
	  NULL },
	{ "boot", cmd_node_boot,
	  "NAME local|rescue|kernel [--kernel URL --initrd URL] "
	  "[--cmdline TEXT]",
	  "what a machine boots when not being deployed: its disk, the "
	  "rescue environment, or a kernel under test (admin)", boot_opts,
	  2, 2, NULL },
	/* bmc (bmc_cmd.c) */
	{ "bmc", cmd_node_bmc, "NAME [--rotate-admin]",
	  "your BMC account on an IPMI machine you hold: user, password, "
	  "address; --rotate-admin: a new BMC admin password (admin)",
	  node_bmc_opts, 1, 1, NULL },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
};
