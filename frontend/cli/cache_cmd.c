/*
 * cache_cmd.c -- "pipol cache config RACK": a complete nginx
 * configuration for a rack cache (issue 17 item 2). The cache keeps
 * what the store's URLs make safe to keep (protocol.md §1): chunks,
 * named by the SHA-256 of their bytes, for a year; a version's index
 * for a minute (a version number is not reused while its image lives,
 * and the agent checks the index's disk hash against its order anyway);
 * simultaneous misses of one URL make one upstream request
 * (proxy_cache_lock). Nothing else passes: the boot, agent and API
 * routes, which carry tokens, never go through a cache (404). A cache
 * holds nothing pipol needs: wiped or lost, it fills again. Every value
 * written into the file is checked first (no quote, brace or ';' can
 * reach nginx's parser).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "parse.h"
#include "perr.h"

enum { O_LISTEN, O_UPSTREAM, O_DIR, O_SIZE, O_END };

static const struct cmd_opt config_opts[] = {
	[O_LISTEN] = { "listen", 0, CMD_VALUE, "[ADDR:]PORT",
	    "where the cache serves the nodes (default 8080)" },
	[O_UPSTREAM] = { "upstream", 0, CMD_VALUE, "URL",
	    "pipold, http://HOST[:PORT] (default: $PIPOL_SERVER\n"
	    "or the config's server)" },
	[O_DIR] = { "dir", 0, CMD_VALUE, "DIR",
	    "the cache's files, its pid and logs (default\n"
	    "/var/cache/pipol-RACK)" },
	[O_SIZE] = { "size", 0, CMD_VALUE, "SIZE",
	    "the most the cached chunks may take (default 50G)" },
	[O_END] = CMD_OPT_END
};

/* every character of s in set, and 1..max of them */
static int
only(const char *s, const char *set, size_t max)
{
	size_t n = strlen(s);

	return n > 0 && n <= max && strspn(s, set) == n;
}

#define ALNUM	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

/* "http://HOST[:PORT][/]" into host:port; 0 or -1 */
static int
upstream_parse(const char *url, char *hp, size_t len)
{
	const char *h;
	size_t n;

	if (strncmp(url, "http://", 7) != 0)
		return -1;
	h = url + 7;
	n = strlen(h);
	if (n > 0 && h[n - 1] == '/')
		n--;
	if (n == 0 || n >= len)
		return -1;
	memcpy(hp, h, n);
	hp[n] = '\0';
	return only(hp, ALNUM ".-:[]", 255) ? 0 : -1;
}

static int
cmd_config(const struct cmd *c, const struct cmd_args *a)
{
	const char *rack = a->pos[0], *listen = cmd_str(a, O_LISTEN);
	const char *up = cmd_str(a, O_UPSTREAM), *dir = cmd_str(a, O_DIR);
	char dflt[PATH_MAX], hp[300], *server = NULL;
	uint64_t size = 50ull << 30;
	struct perr e;
	int rc = 0;

	if (!only(rack, "abcdefghijklmnopqrstuvwxyz0123456789-_", 32))
		return cmd_usage_error(c, "%s: a rack name is 1 to 32 of "
		    "a-z 0-9 - _", rack);
	if (listen == NULL)
		listen = "8080";
	if (!only(listen, ALNUM ".:[]", 64))
		return cmd_usage_error(c, "--listen %s: not [ADDR:]PORT", listen);
	if (up == NULL && (server = client_server()) == NULL)
		return cmd_usage_error(c, "no --upstream, and no server known "
		    "(PIPOL_SERVER or the config)");
	if (upstream_parse(up ? up : server, hp, sizeof(hp)) < 0) {
		rc = cmd_usage_error(c, "%s %s: not http://HOST[:PORT] (pipold; https "
		    "to pipold is a TLS proxy's job)", up ? "--upstream" :
		    "the server", up ? up : server);
		free(server);
		return rc;
	}
	free(server);
	if (dir == NULL) {
		snprintf(dflt, sizeof(dflt), "/var/cache/pipol-%s", rack);
		dir = dflt;
	}
	if (dir[0] != '/' || !only(dir, ALNUM "/._-", 200) ||
	    strstr(dir, "..") != NULL)
		return cmd_usage_error(c, "--dir %s: an absolute path of A-Z a-z 0-9 "
		    "/ . _ -", dir);
	if (cmd_str(a, O_SIZE) != NULL &&
	    (parse_size(cmd_str(a, O_SIZE), &size, &e) < 0 || size < (1u << 30)))
		return cmd_usage_error(c, "--size %s: a size of 1G or more",
		    cmd_str(a, O_SIZE));
	printf("# nginx configuration of the pipol rack cache \"%s\",\n"
	    "# made by: pipol cache config %s. Run it with: nginx -c THIS_FILE\n"
	    "# (Debian: nginx-light). It caches the store's chunks, named by\n"
	    "# their SHA-256, and for a minute the versions' indexes; agents\n"
	    "# check every chunk by its hash whatever served it. Nothing else\n"
	    "# passes: tokens never reach a cache. Wipe %s/cache at will.\n"
	    "worker_processes auto;\n"
	    "pid %s/nginx.pid;\n"
	    "error_log %s/error.log warn;\n"
	    "events { worker_connections 4096; }\n"
	    "http {\n"
	    "\tlog_format pipol '$remote_addr [$time_local] \"$request\" "
	    "$status $body_bytes_sent $upstream_cache_status';\n"
	    "\taccess_log %s/access.log pipol;\n"
	    "\tsendfile on;\n\ttcp_nopush on;\n"
	    "\tkeepalive_timeout 65;\n\tkeepalive_requests 100000;\n"
	    "\tclient_max_body_size 0;\n"
	    "\tproxy_temp_path %s/tmp;\n"
	    "\tproxy_cache_path %s/cache levels=2:2 keys_zone=pipol_%s:64m "
	    "max_size=%llu inactive=60d use_temp_path=off;\n"
	    "\tupstream pipold {\n\t\tserver %s;\n\t\tkeepalive 64;\n\t}\n"
	    "\tserver {\n"
	    "\t\tlisten %s;\n"
	    "\t\tproxy_http_version 1.1;\n"
	    "\t\tproxy_set_header Connection \"\";\n"
	    "\t\tproxy_cache pipol_%s;\n"
	    "\t\tproxy_cache_key $uri;\n"
	    "\t\tproxy_cache_lock on;\n"
	    "\t\tproxy_cache_lock_timeout 300s;\n"
	    "\t\tproxy_cache_lock_age 300s;\n"
	    "\t\tproxy_cache_use_stale error timeout updating http_500 "
	    "http_502 http_503 http_504;\n"
	    "\t\tproxy_ignore_headers Cache-Control Expires Set-Cookie;\n"
	    "\t\tproxy_read_timeout 300s;\n"
	    "\t\tadd_header X-Pipol-Cache $upstream_cache_status;\n"
	    "\t\t# a chunk's URL names its bytes: kept a year\n"
	    "\t\tlocation ~ \"^/chunks/[0-9a-f]{64}\\.(gz|zst)$\" {\n"
	    "\t\t\tproxy_cache_valid 200 365d;\n"
	    "\t\t\tproxy_pass http://pipold;\n\t\t}\n"
	    "\t\t# a version's index: a minute, so that many nodes starting\n"
	    "\t\t# at once ask pipold once\n"
	    "\t\tlocation ~ \"^/images/[a-z0-9][a-z0-9._-]{0,63}/[0-9]{1,10}"
	    "\\.idx$\" {\n"
	    "\t\t\tproxy_cache_valid 200 1m;\n"
	    "\t\t\tproxy_pass http://pipold;\n\t\t}\n"
	    "\t\tlocation = /health { return 200 \"pipol cache %s\\n\"; }\n"
	    "\t\tlocation / { return 404; }\n"
	    "\t}\n"
	    "}\n", rack, rack, dir, dir, dir, dir, dir, dir, rack,
	    (unsigned long long)size, hp, listen, rack, rack);
	return 0;
}

const struct cmd cache_cmds[] = {
	{ "config", cmd_config, "RACK [--listen [ADDR:]PORT] [--upstream URL] "
	  "[--dir DIR] [--size SIZE]",
	  "print a complete nginx configuration for a rack cache", config_opts,
	  1, 1, NULL },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
};
