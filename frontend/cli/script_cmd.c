/*
 * script_cmd.c -- "pipol script ...": the rc scripts a user keeps on the
 * frontend (run as root in each system deployed for them, when their
 * name's filter matches the image's name) and, for admins, the site's
 * post-install scripts; "pipol log ID": what a deployment's scripts said.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "parse.h"
#include "perr.h"

#define SCRIPT_MAX	49152	/* pipold refuses more */

enum { O_POSTINSTALL, O_NAME };

static const struct cmd_opt add_opts[] = {
	[O_POSTINSTALL] = { "postinstall", 0, CMD_FLAG, NULL,
	    "a site post-install script (admin), run before\n"
	    "every user's rc scripts" },
	[O_NAME] = { "name", 0, CMD_VALUE, "NAME",
	    "its name (default: FILE's); rc scripts: rc,\n"
	    "rcWHAT or rcWHAT.FILTER, run when FILTER is a\n"
	    "part of the deployed image's name" },
	CMD_OPT_END
};

static const struct cmd_opt show_opts[] = {
	[O_POSTINSTALL] = { "postinstall", 0, CMD_FLAG, NULL,
	    "a site post-install script" },
	CMD_OPT_END
};

static const struct cmd_opt rm_opts[] = {
	[O_POSTINSTALL] = { "postinstall", 0, CMD_FLAG, NULL,
	    "a site post-install script (admin)" },
	CMD_OPT_END
};

static const char *
script_kind(const struct cmd_args *a)
{
	return cmd_count(a, O_POSTINSTALL) ? "postinstall" : "rc";
}

static int
cmd_script_add(const struct cmd *c, const struct cmd_args *a)
{
	const char *kind = script_kind(a), *name = cmd_str(a, O_NAME);
	const char *path = a->pos[0], *base;
	json_t *send, *reply = NULL;
	unsigned char *b64;
	char *body = NULL;
	struct perr e;
	size_t len;
	int rc;

	(void)c;
	if (name == NULL) {
		base = strrchr(path, '/');
		name = base ? base + 1 : path;
	}
	if (read_file(path, SCRIPT_MAX, &body, &len, &e) < 0) {
		log_warnx("%s", e.msg);
		return e.code;
	}
	if ((b64 = malloc(4 * (len / 3 + 1) + 1)) == NULL) {
		free(body);
		log_warnx("out of memory");
		return PE_FAIL;
	}
	EVP_EncodeBlock(b64, (unsigned char *)body, (int)len);
	send = json_pack("{s:s, s:s, s:s}", "kind", kind, "name", name,
	    "body", (char *)b64);
	rc = client_call("POST", "/api/scripts", send, &reply, &e);
	json_decref(send);
	free(b64);
	free(body);
	if (rc < 0)
		return cli_fail(&e);
	printf("%s %s: %lld bytes, sha256 %s\n", cli_str(reply, "kind"),
	    cli_str(reply, "name"), cli_int(reply, "size"),
	    cli_str(reply, "sha256"));
	json_decref(reply);
	return 0;
}

static int
cmd_script_list(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL, *s;
	struct perr e;
	size_t i;

	(void)c;
	(void)a;
	if (client_call("GET", "/api/scripts", NULL, &reply, &e) < 0)
		return cli_fail(&e);
	printf("%-12s %-12s %-32s %6s %s\n", "KIND", "OWNER", "NAME", "BYTES",
	    "SHA256");
	json_array_foreach(json_object_get(reply, "scripts"), i, s)
		printf("%-12s %-12s %-32s %6lld %.16s\n", cli_str(s, "kind"),
		    *cli_str(s, "owner") ? cli_str(s, "owner") : "-",
		    cli_str(s, "name"), cli_int(s, "size"),
		    cli_str(s, "sha256"));
	json_decref(reply);
	return 0;
}

/* show (the body on stdout, as it was added) and rm */
static int
script_one(const struct cmd *c, const struct cmd_args *a, int rm)
{
	const char *kind = script_kind(a), *name = a->pos[0], *b64;
	json_t *reply = NULL;
	unsigned char *raw;
	char path[200];
	struct perr e;
	size_t n;
	int rc, len;

	if (strlen(name) > 64 || strchr(name, '/') || strchr(name, '?') ||
	    strchr(name, '%'))
		return cmd_usage_error(c, "%s: not a script name", name);
	snprintf(path, sizeof(path), "/api/scripts/%s/%s", kind, name);
	if (client_call(rm ? "DELETE" : "GET", path, NULL, &reply, &e) < 0)
		return cli_fail(&e);
	if (rm) {
		printf("%s %s: removed\n", kind, name);
		json_decref(reply);
		return 0;
	}
	b64 = cli_str(reply, "body");
	n = strlen(b64);
	if ((raw = malloc(n / 4 * 3 + 3)) == NULL ||
	    (len = EVP_DecodeBlock(raw, (const unsigned char *)b64,
	    (int)n)) < 0) {
		free(raw);
		json_decref(reply);
		log_warnx("%s: pipold sent a body that is not base64", path);
		return PE_DATA;
	}
	/* EVP_DecodeBlock counts the padding's zero bytes in */
	len = (int)cli_int(reply, "size") <= len ? (int)cli_int(reply,
	    "size") : len;
	rc = fwrite(raw, 1, (size_t)len, stdout) == (size_t)len ? 0 : PE_FAIL;
	free(raw);
	json_decref(reply);
	return rc;
}

static int
cmd_script_show(const struct cmd *c, const struct cmd_args *a)
{
	return script_one(c, a, 0);
}

static int
cmd_script_rm(const struct cmd *c, const struct cmd_args *a)
{
	return script_one(c, a, 1);
}

const struct cmd script_cmds[] = {
	{ "add", cmd_script_add, "FILE [--name NAME] [--postinstall]",
	  "keep a script on the frontend, or replace it", add_opts, 1, 1,
	  NULL },
	{ "list", cmd_script_list, "",
	  "your rc scripts and the site's post-install scripts", NULL, 0, 0,
	  NULL },
	{ "show", cmd_script_show, "NAME [--postinstall]",
	  "write one script's content to standard output", show_opts, 1, 1,
	  NULL },
	{ "rm", cmd_script_rm, "NAME [--postinstall]", "remove one script",
	  rm_opts, 1, 1, NULL },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
};

/* pipol log ID */
int
cmd_log(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL, *l;
	char path[64];
	struct perr e;
	long long id;
	size_t i;

	if (parse_count("ID", a->pos[0], 1, (long long)1e15, &id, &e) < 0)
		return cmd_usage_error(c, "%s", e.msg);
	if (cmd_count(a, 0) > 0)	/* console: --console */
		return console_log_get(id);
	snprintf(path, sizeof(path), "/api/deployments/%lld/log", id);
	if (client_call("GET", path, NULL, &reply, &e) < 0)
		return cli_fail(&e);
	json_array_foreach(json_object_get(reply, "log"), i, l) {
		printf("==> %s: exit %lld (%s)\n", cli_str(l, "script"),
		    cli_int(l, "status"), cli_str(l, "at"));
		fputs(cli_str(l, "output"), stdout);
		if (*cli_str(l, "output") && cli_str(l, "output")[strlen(
		    cli_str(l, "output")) - 1] != '\n')
			putchar('\n');
	}
	printf("deployment %lld: %s\n", id, cli_str(reply, "state"));
	json_decref(reply);
	return 0;
}
