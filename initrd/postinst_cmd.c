/*
 * postinst_cmd.c -- "pipol-agent postinstall": the post-install of an
 * order (postinst.c) on a folder or a mounted system, for tests and by
 * hand. Its options (a cmd.h table), then it loads the order and calls
 * postinst_run; each script's output goes to standard output.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "limits.h"
#include "log.h"
#include "parse.h"
#include "postinst.h"

static int postinst_main(const struct cmd *, const struct cmd_args *);

/* The command line: options, usage and --help (cmd.h) */
enum { O_ROOT, O_ORDER, O_IMAGE, O_SERVER, O_AGENT, O_TIMEOUT, O_VERBOSE,
    O_END };

static const struct cmd_opt pi_opts[] = {
	[O_ROOT] = { "root", 0, CMD_VALUE, "DIR",
	    "the system's root folder (chroot: needs root)" },
	[O_ORDER] = { "order", 0, CMD_VALUE, "FILE",
	    "the order, as GET /agent/order answers it (JSON)" },
	[O_IMAGE] = { "image", 0, CMD_VALUE, "NAME",
	    "the image name the scripts are filtered by (default:\n"
	    "the order's)" },
	[O_SERVER] = { "server", 0, CMD_VALUE, "URL",
	    "write the first-boot hook that reports ready to URL,\n"
	    "with the token in $PIPOL_TOKEN" },
	[O_AGENT] = { "agent", 0, CMD_VALUE, "URL",
	    "as node mode, against pipold at URL with the boot-phase\n"
	    "token in $PIPOL_TOKEN: each script's run posted to\n"
	    "/agent/log, the token traded for a user-phase one\n"
	    "(/agent/phase) between the site's scripts and the\n"
	    "user's, the first-boot hook written with it" },
	[O_TIMEOUT] = { "timeout", 0, CMD_VALUE, "SEC",
	    "one script's limit (default 1800)" },
	[O_VERBOSE] = { "verbose", 0, CMD_FLAG, NULL, "say more" },
	[O_END] = CMD_OPT_END
};

const struct cmd postinst_cmd = { "postinstall", postinst_main,
    "--root DIR --order FILE [options]",
    "Run the post-install of an order (hostname, the user's account, SSH keys\n"
    "and sudo rule, NFS home line, first-boot hook, matching post-install and\n"
    "rc scripts) on a system unpacked or mounted at DIR, as node mode does\n"
    "after writing a disk. Each script's output goes to standard output\n"
    "(with --agent, to pipold). --root and --order are needed.\n\n"
    "Exit status: 0 done; 1 a script or a step failed; 2 usage; 3 a bad order",
    pi_opts, 0, 0, NULL };

static void
pi_log(void *arg, const char *script, int status, const char *out, int site)
{
	(void)arg;
	(void)site;
	printf("==> %s: exit %d\n%s%s", script, status, out,
	    *out && out[strlen(out) - 1] != '\n' ? "\n" : "");
	fflush(stdout);
}

static int
postinst_main(const struct cmd *c, const struct cmd_args *a)
{
	struct postinst p = { .timeout_sec = AGENT_SCRIPT_SEC, .log = pi_log };
	const char *orderfile = cmd_str(a, O_ORDER), *agent;
	json_error_t je;
	struct perr e;
	long long v;
	int rc;

	p.root = cmd_str(a, O_ROOT);
	p.image = cmd_str(a, O_IMAGE);
	p.server = cmd_str(a, O_SERVER);
	agent = cmd_str(a, O_AGENT);
	log_verbose |= cmd_count(a, O_VERBOSE) > 0;
	if (cmd_str(a, O_TIMEOUT) != NULL) {
		if (parse_count("--timeout", cmd_str(a, O_TIMEOUT), 1, 86400,
		    &v, &e) < 0) {
			log_warnx("%s", e.msg);
			return PE_USAGE;
		}
		p.timeout_sec = (int)v;
	}
	if (p.root == NULL || orderfile == NULL)
		return cmd_usage_error(c, "--root and --order are needed");
	if (agent != NULL && (p.server != NULL || (p.token =
	    getenv("PIPOL_TOKEN")) == NULL || strlen(p.token) != 64 ||
	    strspn(p.token, "0123456789abcdef") != 64)) {
		log_warnx("--agent needs the deployment's token (64 hex digits) "
		    "in $PIPOL_TOKEN, and no --server");
		return PE_USAGE;
	}
	if (p.server != NULL && ((p.token = getenv("PIPOL_TOKEN")) == NULL ||
	    strspn(p.token, "0123456789abcdef") != strlen(p.token) ||
	    strchr(p.server, '\'') != NULL)) {
		log_warnx("--server needs a hex token in $PIPOL_TOKEN and a URL "
		    "without quotes");
		return PE_USAGE;
	}
	if ((p.order = json_load_file(orderfile, 0, &je)) == NULL ||
	    !json_is_object(p.order)) {
		log_warnx("%s: not a JSON order (%s)", orderfile, je.text);
		json_decref(p.order);
		return PE_DATA;
	}
	if (p.image == NULL)
		p.image = json_string_value(json_object_get(json_object_get(
		    p.order, "image"), "name"));
	if (p.image == NULL) {
		log_warnx("%s: no image name: give --image", orderfile);
		json_decref(p.order);
		return PE_DATA;
	}
	rc = agent != NULL ? node_postinst_agent(&p, agent, p.token, &e) :
	    postinst_run(&p, &e);
	if (rc < 0)
		log_warnx("%s", e.msg);
	json_decref(p.order);
	return rc < 0 ? -rc : 0;
}

