/*
 * bmc_cmd.c -- "pipol node bmc NODE [--rotate-admin]" (listed in
 * node_cmd.c's table): the BMC account of the holder's running
 * reservation of an IPMI node (user, password, address, an ipmitool
 * example); --rotate-admin (admins): a new admin password on the BMC,
 * written to the node's password_file on the frontend.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "perr.h"

enum { O_ROTATE_ADMIN };

const struct cmd_opt node_bmc_opts[] = {
	[O_ROTATE_ADMIN] = { "rotate-admin", 0, CMD_FLAG, NULL,
	    "set a new random admin password on the node's BMC and\n"
	    "write it to its password_file (admin)" },
	CMD_OPT_END
};

static int
bmc_print(const char *name, json_t *o)
{
	const char *host = cli_str(o, "host"), *port = cli_str(o, "port");
	const char *cipher = cli_str(o, "cipher"), *user = cli_str(o, "user");

	printf("node         %s\n", name);
	printf("reservation  %lld\n", cli_int(o, "reservation"));
	printf("user         %s\n", user);
	printf("password     %s\n", cli_str(o, "password"));
	printf("bmc          %s%s%s\n", host, *port ? ":" : "", port);
	printf("example      IPMI_PASSWORD=... ipmitool -I lanplus -H %s%s%s "
	    "-U %s%s%s -E chassis power status\n", host, *port ? " -p " : "",
	    port, user, *cipher ? " -C " : "", cipher);
	return 0;
}

int
cmd_node_bmc(const struct cmd *c, const struct cmd_args *a)
{
	const char *name = a->pos[0];
	json_t *reply = NULL;
	char path[128];
	struct perr e;
	int rotate = cmd_count(a, O_ROTATE_ADMIN) > 0;

	if (*name < 'a' || *name > 'z' || strlen(name) > 63 ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
	    strlen(name))
		return cmd_usage_error(c, "%s: not a node name", name);
	snprintf(path, sizeof(path), "/api/bmc/%s%s", name, rotate ?
	    "/rotate-admin" : "");
	if (client_call(rotate ? "POST" : "GET", path, NULL, &reply, &e) < 0)
		return cli_fail(&e);
	if (rotate)
		printf("%s: %s\n", name, cli_str(reply, "message"));
	else
		bmc_print(name, reply);
	json_decref(reply);
	return 0;
}
