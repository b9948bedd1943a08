/*
 * rack_cmd.c -- "pipol rack add|list|rm" (schema 022, api_rack.c): a
 * rack is a group of nodes with the store's caches near them (pipol
 * cache config); a node joins one with pipol node set NODE --rack R, and
 * its agent then asks the rack's caches for chunks before pipold.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "perr.h"

enum { R_CACHE };

static const struct cmd_opt add_opts[] = {
	[R_CACHE] = { "cache", 0, CMD_VALUE | CMD_REPEAT, "URL",
	    "a cache of the store for this rack (repeatable, in\n"
	    "order; 7 at most), e.g. http://10.1.0.2:8080" },
	CMD_OPT_END
};

static int
cmd_rack_add(const struct cmd *c, const struct cmd_args *a)
{
	json_t *send, *caches, *reply = NULL;
	const char *url;
	struct perr e;
	int it, rc;

	(void)c;
	caches = json_array();
	for (it = 0; (url = cmd_next(a, R_CACHE, &it)) != NULL; )
		json_array_append_new(caches, json_string(url));
	send = json_pack("{s:s, s:o}", "name", a->pos[0], "caches", caches);
	rc = client_call("POST", "/api/racks", send, &reply, &e);
	json_decref(send);
	json_decref(reply);
	if (rc < 0)
		return cli_fail(&e);
	printf("rack %s\n", a->pos[0]);
	return 0;
}

static int
cmd_rack_list(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL, *k, *v;
	struct perr e;
	size_t i, j;

	(void)c;
	(void)a;
	if (client_call("GET", "/api/racks", NULL, &reply, &e) < 0)
		return cli_fail(&e);
	printf("%-16s %-6s %s\n", "NAME", "NODES", "CACHES");
	json_array_foreach(json_object_get(reply, "racks"), i, k) {
		printf("%-16s %-6zu", cli_str(k, "name"),
		    json_array_size(json_object_get(k, "nodes")));
		json_array_foreach(json_object_get(k, "caches"), j, v)
			printf(" %s", json_string_value(v));
		printf("%s\n", json_array_size(json_object_get(k, "caches")) ?
		    "" : " (none: pipold only)");
	}
	json_decref(reply);
	return 0;
}

static int
cmd_rack_rm(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL;
	char path[128];
	struct perr e;

	(void)c;
	if (strlen(a->pos[0]) > 32 || strchr(a->pos[0], '/') != NULL)
		return cmd_usage_error(c, "%s: not a rack name", a->pos[0]);
	snprintf(path, sizeof(path), "/api/racks/%s", a->pos[0]);
	if (client_call("DELETE", path, NULL, &reply, &e) < 0)
		return cli_fail(&e);
	json_decref(reply);
	printf("rack %s removed\n", a->pos[0]);
	return 0;
}

const struct cmd rack_cmds[] = {
	{ "add", cmd_rack_add, "NAME [--cache URL]...",
	  "declare a rack and its caches, or change them (admin)", add_opts,
	  1, 1, NULL },
	{ "list", cmd_rack_list, "", "racks, their nodes and caches", NULL,
	  0, 0, NULL },
	{ "rm", cmd_rack_rm, "NAME", "remove a rack; its nodes keep none "
	  "(admin)", NULL, 1, 1, NULL },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
};
