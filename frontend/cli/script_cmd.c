/*
 * script_cmd.c -- "pipol script ...": the rc scripts a user keeps on the
 * frontend (run as root in each system deployed for them, when their
 * name's filter matches the image's name) and, for admins, the site's
 * post-install scripts; "pipol log ID": what a deployment's scripts said.
 */
#include <getopt.h>
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

/* --postinstall and the one NAME/FILE argument; -1 after a usage error */
static int
script_args(const struct cmd *c, int argc, char **argv, int nargs,
    const char **name, const char **kind, int *rc)
{
	static const struct option opts[] = {
		{ "postinstall", no_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	*kind = "rc";
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (ch == 'p')
			*kind = "postinstall";
		else if (ch == 'n' && name != NULL)
			*name = optarg;
		else if (ch == 'h') {
			*rc = cmd_help(c);
			return -1;
		} else {
			*rc = cmd_usage_error(c, "%s: %s", argv[optind - 1],
			    ch == ':' ? "needs a value" : "unknown option");
			return -1;
		}
	}
	if (argc - optind != nargs) {
		*rc = cmd_usage_error(c, nargs ? "give one %s" : "%s takes no "
		    "argument", nargs ? c->args : c->name);
		return -1;
	}
	return 0;
}

static int
cmd_script_add(const struct cmd *c, int argc, char **argv)
{
	const char *kind, *name = NULL, *path, *base;
	json_t *send, *reply = NULL;
	unsigned char *b64;
	char *body = NULL;
	struct perr e;
	size_t len;
	int rc;

	if (script_args(c, argc, argv, 1, &name, &kind, &rc) < 0)
		return rc;
	path = argv[optind];
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
cmd_script_list(const struct cmd *c, int argc, char **argv)
{
	json_t *reply = NULL, *s;
	const char *kind;
	struct perr e;
	size_t i;
	int rc;

	if (script_args(c, argc, argv, 0, NULL, &kind, &rc) < 0)
		return rc;
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
script_one(const struct cmd *c, int argc, char **argv, int rm)
{
	json_t *reply = NULL;
	unsigned char *raw;
	const char *kind, *b64;
	char path[200];
	struct perr e;
	size_t n;
	int rc, len;

	if (script_args(c, argc, argv, 1, NULL, &kind, &rc) < 0)
		return rc;
	if (strlen(argv[optind]) > 64 || strchr(argv[optind], '/') ||
	    strchr(argv[optind], '?') || strchr(argv[optind], '%'))
		return cmd_usage_error(c, "%s: not a script name",
		    argv[optind]);
	snprintf(path, sizeof(path), "/api/scripts/%s/%s", kind,
	    argv[optind]);
	if (client_call(rm ? "DELETE" : "GET", path, NULL, &reply, &e) < 0)
		return cli_fail(&e);
	if (rm) {
		printf("%s %s: removed\n", kind, argv[optind]);
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
cmd_script_show(const struct cmd *c, int argc, char **argv)
{
	return script_one(c, argc, argv, 0);
}

static int
cmd_script_rm(const struct cmd *c, int argc, char **argv)
{
	return script_one(c, argc, argv, 1);
}

static const struct cmd script_cmds[] = {
	{ "add", cmd_script_add, "FILE [--name NAME] [--postinstall]",
	  "keep a script on the frontend, or replace it",
	  "  --name NAME        its name (default: FILE's); rc scripts: rc,\n"
	  "                     rcWHAT or rcWHAT.FILTER, run when FILTER is a\n"
	  "                     part of the deployed image's name\n"
	  "  --postinstall      a site post-install script (admin), run before\n"
	  "                     every user's rc scripts\n" },
	{ "list", cmd_script_list, "",
	  "your rc scripts and the site's post-install scripts", NULL },
	{ "show", cmd_script_show, "NAME [--postinstall]",
	  "write one script's content to standard output",
	  "  --postinstall      a site post-install script\n" },
	{ "rm", cmd_script_rm, "NAME [--postinstall]", "remove one script",
	  "  --postinstall      a site post-install script (admin)\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};

int
script_main(int argc, char **argv)
{
	snprintf(cmd_prefix, sizeof(cmd_prefix), "pipol script");
	return cmd_dispatch(script_cmds, "command", argc, argv);
}

/* pipol log ID */
int
cmd_log(const struct cmd *c, int argc, char **argv)
{
	json_t *reply = NULL, *l;
	char path[64];
	struct perr e;
	long long id;
	size_t i;

	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		return cmd_help(c);
	if (argc != 2)
		return cmd_usage_error(c, "give one deployment ID");
	if (parse_count("ID", argv[1], 1, (long long)1e15, &id, &e) < 0)
		return cmd_usage_error(c, "%s", e.msg);
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
