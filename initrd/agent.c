/*
 * agent.c -- pipol-agent: main only -- which mode or command runs, and
 * the command line of "deploy" (host mode), whose run is deploy.c's.
 *
 *   pipol-agent deploy --base URL --image NAME:VERSION --target PATH ...
 *       host mode: any store served over HTTP, any file or block device
 *   pipol-agent capture --server URL --image NAME --source PATH ...
 *       host mode: a disk or file into pipold's store (capture_cmd.c)
 *   pipol-agent efiboot [--efivars DIR] [--dry-run]
 *       the network first in the UEFI BootOrder (efiboot_cmd.c)
 *   pipol-agent [--cmdline FILE] [--target PATH] ...
 *       node mode, as the initramfs starts it (node.c): pipol.server=
 *       and pipol.token= from /proc/cmdline; the order from pipold, the
 *       deployment, progress and result reported back
 *
 * Exit statuses are those of perr.h (docs/pipol-agent.8, EXIT STATUS);
 * what an HTTP answer ends with is http.c's table.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "deploy.h"
#include "efiboot.h"
#include "log.h"
#include "node.h"
#include "parse.h"
#include "postinst.h"

static const char deploy_usage[] =
"usage: pipol-agent deploy --base URL --image NAME:VERSION --target PATH\n"
"           [--connections N] [--threads N] [--resume-file FILE]\n"
"           [--no-reuse] [--verify] [--progress-json] [--timeout SEC]\n"
"           [--max-rate BYTES] [--verbose]\n";

static const char deploy_help[] =
"\n"
"Write an image version onto a disk or file, fetching its chunks from a\n"
"store served over HTTP (URL/images/NAME/VERSION.idx, URL/chunks/HASH.EXT;\n"
"see docs/protocol.md).\n"
"\n"
"options:\n"
"  --base URL          where the store is served (http:// or https://)\n"
"  --image NAME:VERSION\n"
"  --target PATH       block device or file (created, grown to the disk size)\n"
"  --connections N     parallel keep-alive HTTP connections (default 4)\n"
"  --threads N         decode/verify/write workers (default: one per core)\n"
"  --resume-file FILE  record durable chunks there; the same command with\n"
"                      the same FILE continues after a cut (removed on success)\n"
"  --no-reuse          fetch every non-zero chunk, even one already on the\n"
"                      target (by default a chunk whose bytes on the target\n"
"                      have the index's SHA-256 is neither fetched nor written)\n"
"  --verify            at the end, re-read the target and check the disk hash\n"
"  --progress-json     one JSON line per second on stdout\n"
"  --timeout SEC       give up when the server has been unreachable (no\n"
"                      answer, 408, 429 or 5xx) for SEC seconds (default\n"
"                      120); a server answering 408, 429 or 5xx gets 12\n"
"                      attempts of one request at most\n"
"  --max-rate BYTES    cap the download at BYTES per second (e.g. 50M), to\n"
"                      leave a shared link to others\n"
"  --verbose           say what each stage cost (worker seconds)\n"
"\n"
"Memory stays bounded whatever the image size: at most about\n"
"2 x threads + connections chunks (4 MiB each by default) in memory.\n"
"Exit status: 0 deployed and durable, 1 failed, 2 usage, 3 bad or corrupt\n"
"data, 4 denied, 5 server unavailable, 6 image or chunk not found\n"
"(pipol-agent(8), EXIT STATUS: what each HTTP answer ends with).\n";

static const char top_usage[] =
"usage: pipol-agent deploy --base URL --image NAME:VERSION --target PATH ...\n"
"       pipol-agent capture --server URL --image NAME --source PATH ...\n"
"       pipol-agent postinstall --root DIR --order FILE ...\n"
"       pipol-agent efiboot [--efivars DIR] [--dry-run]\n"
"       pipol-agent [--cmdline FILE] [--target PATH] [options]\n";

enum { O_BASE = 256, O_IMAGE, O_TARGET, O_CONN, O_THREADS, O_RESUME,
    O_NOREUSE, O_VERIFY, O_JSON, O_HELP, O_TIMEOUT, O_VERBOSE, O_RATE };

static int
usage_error(const char *what, const char *problem)
{
	fprintf(stderr, "pipol-agent: %s%s\n%s", what, problem, deploy_usage);
	return PE_USAGE;
}

static int
count_opt(const char *opt, const char *v, long long max, int *out)
{
	struct perr e;
	long long n;

	if (parse_count(opt, v, 1, max, &n, &e) < 0) {
		log_warnx("%s", e.msg);
		return PE_USAGE;
	}
	*out = (int)n;
	return 0;
}

static int
base_check(const char *base)
{
	if (strncmp(base, "http://", 7) != 0 &&
	    strncmp(base, "https://", 8) != 0) {
		log_warnx("--base %s: not an http:// or https:// URL", base);
		return PE_USAGE;
	}
	return 0;
}

static int
parse_deploy(struct deploy *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "base", required_argument, NULL, O_BASE },
		{ "image", required_argument, NULL, O_IMAGE },
		{ "target", required_argument, NULL, O_TARGET },
		{ "connections", required_argument, NULL, O_CONN },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "resume-file", required_argument, NULL, O_RESUME },
		{ "no-reuse", no_argument, NULL, O_NOREUSE },
		{ "verify", no_argument, NULL, O_VERIFY },
		{ "progress-json", no_argument, NULL, O_JSON },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "verbose", no_argument, NULL, O_VERBOSE },
		{ "max-rate", required_argument, NULL, O_RATE },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	const char *image = NULL;
	struct perr e;
	int ch, rc;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		rc = 0;
		switch (ch) {
		case O_BASE: d->base = optarg; rc = base_check(optarg); break;
		case O_IMAGE: image = optarg; break;
		case O_TARGET: d->target = optarg; break;
		case O_CONN: rc = count_opt("--connections", optarg,
		    AGENT_CONNECTIONS_MAX, &d->connections); break;
		case O_THREADS: rc = count_opt("--threads", optarg,
		    AGENT_THREADS_MAX, &d->threads); break;
		case O_RESUME: d->resume_path = optarg; break;
		case O_NOREUSE: d->reuse = 0; break;
		case O_VERIFY: d->verify = 1; break;
		case O_JSON: d->progress_json = 1; break;
		case O_VERBOSE: log_verbose = 1; break;
		case O_TIMEOUT: rc = count_opt("--timeout", optarg, 86400,
		    &d->timeout_sec); break;
		case O_RATE:
			if (parse_size(optarg, &d->max_rate, &e) < 0 ||
			    d->max_rate == 0) {
				log_warnx("--max-rate %s: not a size", optarg);
				return PE_USAGE;
			}
			break;
		case O_HELP: printf("%s%s", deploy_usage, deploy_help); return -1;
		case ':': return usage_error(argv[optind - 1], ": needs a value");
		default: return usage_error(argv[optind - 1], ": unknown option");
		}
		if (rc != 0)
			return rc;
	}
	if (optind < argc)
		return usage_error(argv[optind], ": unexpected argument");
	if (d->base == NULL || image == NULL || d->target == NULL)
		return usage_error("--base, --image and --target are needed",
		    "");
	if (store_ref_parse(image, d->name, &d->version, &e) < 0 ||
	    d->version == 0) {
		log_warnx("--image %s: not NAME:VERSION", image);
		return PE_USAGE;
	}
	return 0;
}

static int
cmd_deploy(int argc, char **argv)
{
	struct deploy d;
	struct perr e;
	int rc;

	deploy_init(&d);
	if ((rc = parse_deploy(&d, argc, argv)) != 0)
		return rc < 0 ? 0 : rc;
	rc = deploy_run(&d, &e);
	deploy_done(&d);
	return rc < 0 ? -rc : 0;
}

int
main(int argc, char **argv)
{
	log_init("pipol-agent");
	if (argc >= 2 && strcmp(argv[1], "deploy") == 0)
		return cmd_deploy(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "capture") == 0)
		return capture_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "postinstall") == 0)
		return postinst_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "efiboot") == 0)
		return efiboot_main(argc - 1, argv + 1);
	if (argc >= 2 && argv[1][0] != '-') {
		fprintf(stderr, "pipol-agent: %s: unknown command\n%s",
		    argv[1], top_usage);
		return PE_USAGE;
	}
	return node_main(argc, argv);
}
