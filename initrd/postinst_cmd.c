/*
 * postinst_cmd.c -- "pipol-agent postinstall": the post-install of an
 * order (postinst.c) on a folder or a mounted system, for tests and by
 * hand. Parses argv, loads the order, calls postinst_run; each script's
 * output goes to standard output.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "log.h"
#include "parse.h"
#include "postinst.h"

static const char pi_usage[] =
"usage: pipol-agent postinstall --root DIR --order FILE [options]\n";

static const char pi_help[] =
"\n"
"Run the post-install of an order (hostname, the user's account, SSH keys\n"
"and sudo rule, NFS home line, first-boot hook, matching post-install and\n"
"rc scripts) on a system unpacked or mounted at DIR, as node mode does\n"
"after writing a disk. Each script's output goes to standard output.\n"
"\n"
"options (--root and --order are needed):\n"
"  --root DIR      the system's root folder (chroot: needs root)\n"
"  --order FILE    the order, as GET /agent/order answers it (JSON)\n"
"  --image NAME    the image name the scripts are filtered by (default:\n"
"                  the order's)\n"
"  --server URL    write the first-boot hook that reports ready to URL,\n"
"                  with the token in $PIPOL_TOKEN\n"
"  --timeout SEC   one script's limit (default 1800)\n"
"  --verbose       say more\n"
"\n"
"Exit status: 0 done; 1 a script or a step failed; 2 usage; 3 a bad order.\n";

static void
pi_log(void *arg, const char *script, int status, const char *out)
{
	(void)arg;
	printf("==> %s: exit %d\n%s%s", script, status, out,
	    *out && out[strlen(out) - 1] != '\n' ? "\n" : "");
	fflush(stdout);
}

int
postinst_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "order", required_argument, NULL, 'o' },
		{ "image", required_argument, NULL, 'i' },
		{ "server", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct postinst p = { .timeout_sec = AGENT_SCRIPT_SEC, .log = pi_log };
	const char *orderfile = NULL;
	json_error_t je;
	struct perr e;
	long long v;
	int ch, rc;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': p.root = optarg; break;
		case 'o': orderfile = optarg; break;
		case 'i': p.image = optarg; break;
		case 's': p.server = optarg; break;
		case 'v': log_verbose = 1; break;
		case 'T':
			if (parse_count("--timeout", optarg, 1, 86400, &v,
			    &e) < 0) {
				log_warnx("%s", e.msg);
				return PE_USAGE;
			}
			p.timeout_sec = (int)v;
			break;
		case 'h': printf("%s%s", pi_usage, pi_help); return 0;
		default:
			fprintf(stderr, "pipol-agent: %s: %s\n%s",
			    argv[optind - 1], ch == ':' ? "needs a value" :
			    "unknown option", pi_usage);
			return PE_USAGE;
		}
	}
	if (optind < argc || p.root == NULL || orderfile == NULL) {
		fprintf(stderr, "pipol-agent: %s\n%s", optind < argc ?
		    "unexpected argument" : "--root and --order are needed",
		    pi_usage);
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
	if ((rc = postinst_run(&p, &e)) < 0)
		log_warnx("%s", e.msg);
	json_decref(p.order);
	return rc < 0 ? -rc : 0;
}

