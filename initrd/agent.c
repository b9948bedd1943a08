/*
 * agent.c -- pipol-agent's main: which mode or command runs, from
 * a table of the commands (each declares its options, usage and --help
 * once, in cmd.h's terms, in its own file), and the command line of
 * "deploy" (host mode), whose run is deploy.c's.
 *
 *   pipol-agent deploy --base URL --image NAME:VERSION --target PATH ...
 *       host mode: any store served over HTTP, any file or block device
 *   pipol-agent capture --server URL --image NAME --source PATH ...
 *       host mode: a disk or file into pipold's store (capture_cmd.c)
 *   pipol-agent postinstall --root DIR --order FILE ...
 *       an order's post-install on a folder (postinst_cmd.c)
 *   pipol-agent efiboot [--efivars DIR] [--dry-run]
 *       the network first in the UEFI BootOrder (efiboot_cmd.c)
 *   pipol-agent wipe --target PATH [--method M]
 *       a disk or file wiped whole, as between two users (wipe.c)
 *   pipol-agent kernel --root DIR [--uuid UUID] [--verbose]
 *       the default kernel of a system at a folder (kernel_cmd.c)
 *   pipol-agent applenet --mac MAC [--efivars DIR] [--dry-run]
 *       an Intel Mac's efi-boot-device set to the network (applenet_cmd.c)
 *   pipol-agent [--cmdline FILE] [--target PATH] ...
 *       node mode, as the initramfs starts it (node.c): pipol.server=
 *       and pipol.token= from /proc/cmdline; the order from pipold, the
 *       deployment, progress and result reported back; its --help
 *       also lists the commands
 *
 * Exit statuses are those of perr.h (docs/pipol-agent.8, EXIT STATUS);
 * what an HTTP answer ends with is http.c's table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apple_nvram.h"
#include "capture.h"
#include "chroot.h"
#include "cmd.h"
#include "deploy.h"
#include "efiboot.h"
#include "kernel_find.h"
#include "log.h"
#include "node.h"
#include "parse.h"
#include "postinst.h"
#include "wipe.h"

static int deploy_main(const struct cmd *, const struct cmd_args *);

/* "deploy": options, usage and --help (cmd.h) */
enum { O_BASE, O_IMAGE, O_TARGET, O_CONNECTIONS, O_THREADS, O_RESUME_FILE,
    O_NO_REUSE, O_VERIFY, O_PROGRESS_JSON, O_TIMEOUT, O_MAX_RATE,
    O_VERBOSE, O_PRELOADED, O_CACHE, O_END };

static const struct cmd_opt deploy_opts[] = {
	[O_BASE] = { "base", 0, CMD_VALUE, "URL",
	    "where the store is served (http:// or https://)" },
	[O_IMAGE] = { "image", 0, CMD_VALUE, "NAME:VERSION",
	    "the image version to write" },
	[O_TARGET] = { "target", 0, CMD_VALUE, "PATH",
	    "block device or file (created, grown to the disk size)" },
	[O_CONNECTIONS] = { "connections", 0, CMD_VALUE, "N",
	    "parallel keep-alive HTTP connections (default 4)" },
	[O_THREADS] = { "threads", 0, CMD_VALUE, "N",
	    "decode/verify/write workers (default: cores + 1)" },
	[O_RESUME_FILE] = { "resume-file", 0, CMD_VALUE, "FILE",
	    "record durable chunks there; the same command with\n"
	    "the same FILE continues after a cut (removed on success)" },
	[O_NO_REUSE] = { "no-reuse", 0, CMD_FLAG, NULL,
	    "fetch every non-zero chunk, even one already on the\n"
	    "target (by default a chunk whose bytes on the target\n"
	    "have the index's SHA-256 is neither fetched nor written)" },
	[O_VERIFY] = { "verify", 0, CMD_FLAG, NULL,
	    "at the end, re-read the target and check the disk hash" },
	[O_PROGRESS_JSON] = { "progress-json", 0, CMD_FLAG, NULL,
	    "one JSON line per second on stdout" },
	[O_TIMEOUT] = { "timeout", 0, CMD_VALUE, "SEC",
	    "give up when the server has been unreachable (no\n"
	    "answer, 408, 429 or 5xx) for SEC seconds (default\n"
	    "120); a server answering 408, 429 or 5xx gets 12\n"
	    "attempts of one request at most" },
	[O_MAX_RATE] = { "max-rate", 0, CMD_VALUE, "BYTES",
	    "cap the download at BYTES per second (e.g. 50M), to\n"
	    "leave a shared link to others" },
	[O_VERBOSE] = { "verbose", 0, CMD_FLAG, NULL,
	    "say what each stage cost (worker seconds)" },
	[O_PRELOADED] = { "preloaded", 0, CMD_FLAG, NULL,
	    "the target holds the image already (a virtual node's\n"
	    "overlay on its verified base): only the index is\n"
	    "fetched, nothing written (with --verify, checked)" },
	[O_CACHE] = { "cache", 0, CMD_VALUE | CMD_REPEAT, "URL",
	    "a cache of the store to take chunks from before --base\n"
	    "(repeatable, in order; 7 at most): a chunk it fails or\n"
	    "serves wrong goes to the next one; the index comes\n"
	    "from --base" },
	[O_END] = CMD_OPT_END
};

static const struct cmd deploy_cmd = { "deploy", deploy_main,
    "--base URL --image NAME:VERSION --target PATH\n"
    "           [--connections N] [--threads N] [--resume-file FILE]\n"
    "           [--no-reuse] [--verify] [--progress-json] [--timeout SEC]\n"
    "           [--max-rate BYTES] [--verbose] [--preloaded] [--cache URL]...",
    "Write an image version onto a disk or file, fetching its chunks from a\n"
    "store served over HTTP (URL/images/NAME/VERSION.idx, URL/chunks/HASH.EXT;\n"
    "see docs/protocol.md).\n\n"
    "Memory stays bounded whatever the image size: at most about\n"
    "2 x threads + connections chunks (4 MiB each by default) in memory.\n"
    "Exit status: 0 deployed and durable, 1 failed, 2 usage, 3 bad or corrupt\n"
    "data, 4 denied, 5 server unavailable, 6 image or chunk not found\n"
    "(pipol-agent(8), EXIT STATUS: what each HTTP answer ends with)",
    deploy_opts, 0, 0, NULL };

/* The commands of host mode, found by their first word */
static const struct cmd *const commands[] = {
	&deploy_cmd, &capture_cmd, &postinst_cmd, &efiboot_cmd, &wipe_cmd,
	&kernel_cmd,
	&applenet_cmd,
	NULL
};

/* Value v of a counted option into *out; 0 or an exit status. */
static int
count_opt(const char *opt, const char *v, long long max, int *out)
{
	struct perr e;
	long long n;

	if (v == NULL)
		return 0;
	if (parse_count(opt, v, 1, max, &n, &e) < 0) {
		log_warnx("%s", e.msg);
		return PE_USAGE;
	}
	*out = (int)n;
	return 0;
}

/* The options' values into d; 0 or an exit status. */
static int
deploy_args(struct deploy *d, const struct cmd *c, const struct cmd_args *a)
{
	const char *image = cmd_str(a, O_IMAGE), *rate, *url;
	struct perr e;
	int rc, it;

	d->base = cmd_str(a, O_BASE);
	d->target = cmd_str(a, O_TARGET);
	d->resume_path = cmd_str(a, O_RESUME_FILE);
	d->reuse = d->reuse && cmd_count(a, O_NO_REUSE) == 0;
	d->verify = cmd_count(a, O_VERIFY) > 0;
	d->preloaded = cmd_count(a, O_PRELOADED) > 0;
	d->progress_json = cmd_count(a, O_PROGRESS_JSON) > 0;
	log_verbose |= cmd_count(a, O_VERBOSE) > 0;
	if (d->base != NULL && strncmp(d->base, "http://", 7) != 0 &&
	    strncmp(d->base, "https://", 8) != 0) {
		log_warnx("--base %s: not an http:// or https:// URL", d->base);
		return PE_USAGE;
	}
	for (it = 0; (url = cmd_next(a, O_CACHE, &it)) != NULL; ) {
		if (strncmp(url, "http://", 7) != 0 &&
		    strncmp(url, "https://", 8) != 0) {
			log_warnx("--cache %s: not an http:// or https:// URL",
			    url);
			return PE_USAGE;
		}
		if (d->nsrc == AGENT_SOURCES_MAX - 1) {
			log_warnx("--cache %s: %d caches at most", url,
			    AGENT_SOURCES_MAX - 1);
			return PE_USAGE;
		}
		d->src[d->nsrc++] = url;
	}
	if ((rc = count_opt("--connections", cmd_str(a, O_CONNECTIONS),
	    AGENT_CONNECTIONS_MAX, &d->connections)) != 0 ||
	    (rc = count_opt("--threads", cmd_str(a, O_THREADS),
	    AGENT_THREADS_MAX, &d->threads)) != 0 ||
	    (rc = count_opt("--timeout", cmd_str(a, O_TIMEOUT), 86400,
	    &d->timeout_sec)) != 0)
		return rc;
	if ((rate = cmd_str(a, O_MAX_RATE)) != NULL &&
	    (parse_size(rate, &d->max_rate, &e) < 0 || d->max_rate == 0)) {
		log_warnx("--max-rate %s: not a size", rate);
		return PE_USAGE;
	}
	if (d->base == NULL || image == NULL || d->target == NULL)
		return cmd_usage_error(c, "--base, --image and --target are "
		    "needed");
	if (store_ref_parse(image, d->name, &d->version, &e) < 0 ||
	    d->version == 0) {
		log_warnx("--image %s: not NAME:VERSION", image);
		return PE_USAGE;
	}
	return 0;
}

static int
deploy_main(const struct cmd *c, const struct cmd_args *a)
{
	struct deploy d;
	struct perr e;
	int rc;

	deploy_init(&d);
	if ((rc = deploy_args(&d, c, a)) != 0)
		return rc;
	rc = deploy_run(&d, &e);
	deploy_done(&d);
	return rc < 0 ? -rc : 0;
}

/* "pipol-agent deploy --base URL ...", a line a command (the first line
 * of its usage, "..." when there is more), node mode last */
static void
usage_lines(FILE *f, const char *first, const char *rest)
{
	const struct cmd *const *c;
	const struct cmd *cmd;
	const char *nl;

	for (c = commands; ; c++) {
		cmd = *c != NULL ? *c : &node_cmd;
		nl = strchr(cmd->args, '\n');
		fprintf(f, "%spipol-agent%s%s %.*s%s\n",
		    c == commands ? first : rest, *c != NULL ? " " : "",
		    *c != NULL ? cmd->name : "",
		    nl ? (int)(nl - cmd->args) : (int)strlen(cmd->args),
		    cmd->args, nl ? " ..." : "");
		if (*c == NULL)
			break;
	}
}

/* No command word: node mode, whose --help also lists the commands */
static int
node_mode(int argc, char **argv)
{
	struct cmd_args a;
	struct perr e;
	int rc;

	cmd_prefix[0] = '\0';	/* node_cmd's name is the program's */
	if ((rc = cmd_parse(&node_cmd, argc, argv, &a, &e)) == 1) {
		cmd_help(stdout, &node_cmd);
		printf("\nall the ways to run it ('pipol-agent COMMAND --help'"
		    " describes one):\n");
		usage_lines(stdout, "  ", "  ");
		return 0;
	}
	if (rc < 0)
		return cmd_usage_error(&node_cmd, "%s", e.msg);
	return node_cmd.fn(&node_cmd, &a);
}

int
main(int argc, char **argv)
{
	const struct cmd *const *c;
	struct cmd_args a;
	int rc;

	/* the scripts' sandbox init (chroot.c), exec'd by the agent */
	if (strcmp(argv[0], CHROOT_INIT_ARGV0) == 0)
		return chroot_script_init(argc, argv, environ);
	log_init("pipol-agent");
	if (argc < 2 || argv[1][0] == '-')
		return node_mode(argc, argv);
	snprintf(cmd_prefix, sizeof(cmd_prefix), "pipol-agent");
	for (c = commands; *c != NULL && strcmp((*c)->name, argv[1]); c++)
		;
	if (*c == NULL) {
		fprintf(stderr, "pipol-agent: %s: unknown command\n", argv[1]);
		usage_lines(stderr, "usage: ", "       ");
		return PE_USAGE;
	}
	if ((rc = cmd_getargs(*c, argc - 1, argv + 1, &a)) >= 0)
		return rc;
	return (*c)->fn(*c, &a);
}
