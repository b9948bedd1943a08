/*
 * capture_cmd.c -- "pipol-agent capture": the command line of host-mode
 * capture. Parses argv and the environment, then calls capture_run();
 * prints NAME:VERSION on success (with --progress-json, the last JSON
 * line carries them instead).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "cmdline.h"
#include "limits.h"
#include "log.h"
#include "parse.h"
#include "pimg.h"
#include "store.h"

static const char capture_usage[] =
"usage: pipol-agent capture --server URL --image NAME --source PATH\n"
"           [--codec gzip|zstd] [--chunk-size SIZE] [--threads N]\n"
"           [--connections N] [--progress-json] [--timeout SEC] [--verbose]\n";

static const char capture_help[] =
"\n"
"Make a new draft version of image NAME from a disk or file, in the store\n"
"of the pipold at URL: chunks are read and compressed on every core, and\n"
"only those the store lacks are uploaded (see docs/protocol.md, Capture).\n"
"Prints NAME:VERSION. The API token comes from $PIPOL_TOKEN (64 lower-case\n"
"hex digits; for now an admin's token), never from the command line.\n"
"\n"
"options:\n"
"  --server URL        pipold (http:// or https://)\n"
"  --image NAME        the image to add a draft version to\n"
"  --source PATH       block device or file to capture\n"
"  --codec gzip|zstd   chunk encoding (default gzip)\n"
"  --chunk-size SIZE   power of two from 1M to 64M (default 4M)\n"
"  --threads N         compress workers (default: one per core)\n"
"  --connections N     uploads at once, one keep-alive connection each\n"
"                      (default 4)\n"
"  --progress-json     one JSON line per second on stdout; the last one\n"
"                      says done (with image and version) or failed\n"
"  --timeout SEC       give up when pipold has been unreachable (no\n"
"                      answer, or 5xx) for SEC seconds (default 120)\n"
"  --verbose           say what was read, found in the store and uploaded\n"
"\n"
"Memory stays bounded whatever the disk size: about 2 x threads +\n"
"connections + 2 chunks, each with room for its compressed form.\n"
"Exit status: 0 captured, 1 failed, 2 usage, 3 bad data, 4 denied,\n"
"5 pipold unavailable, 6 not found, 7 conflict.\n";

enum { O_SERVER = 256, O_IMAGE, O_SOURCE, O_CODEC, O_CHUNK, O_THREADS,
    O_CONN, O_JSON, O_TIMEOUT, O_VERBOSE, O_HELP };

static int
usage_error(const char *what, const char *problem)
{
	fprintf(stderr, "pipol-agent: %s%s\n%s", what, problem,
	    capture_usage);
	return PE_USAGE;
}

/* One option's value into o; 0 or an exit status. */
static int
capture_opt(struct capture_opts *o, int ch, const char *v)
{
	struct perr e;
	long long n = 0;
	uint64_t size = 0;
	int rc = 0;

	switch (ch) {
	case O_SERVER: o->server = v; rc = agent_url_check("--server", v, &e);
	    break;
	case O_IMAGE: o->name = v; rc = store_name_check(v, &e); break;
	case O_SOURCE: o->source = v; break;
	case O_CODEC: rc = pimg_codec_parse(v, &o->codec, &e); break;
	case O_CHUNK:
		if (parse_size(v, &size, &e) < 0 ||
		    pimg_chunk_size_check(size, v, &e) < 0)
			rc = perr_set(&e, PE_USAGE, "--chunk-size %s: not a "
			    "power of two in 1M..64M", v);
		o->chunk_size = (uint32_t)size;
		break;
	case O_THREADS: rc = parse_count("--threads", v, 1,
	    AGENT_THREADS_MAX, &n, &e); o->threads = (int)n; break;
	case O_CONN: rc = parse_count("--connections", v, 1,
	    AGENT_CONNECTIONS_MAX, &n, &e); o->connections = (int)n; break;
	case O_TIMEOUT: rc = parse_count("--timeout", v, 1, 86400, &n, &e);
	    o->timeout_sec = (int)n; break;
	}
	if (rc < 0) {
		log_warnx("%s", e.msg);
		return PE_USAGE;
	}
	return 0;
}

/* 0 to go on, -1 after --help, else an exit status. */
static int
parse_capture(struct capture_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, O_SERVER },
		{ "image", required_argument, NULL, O_IMAGE },
		{ "source", required_argument, NULL, O_SOURCE },
		{ "codec", required_argument, NULL, O_CODEC },
		{ "chunk-size", required_argument, NULL, O_CHUNK },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "connections", required_argument, NULL, O_CONN },
		{ "progress-json", no_argument, NULL, O_JSON },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "verbose", no_argument, NULL, O_VERBOSE },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	int ch, rc;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (ch == O_HELP)
			return printf("%s%s", capture_usage, capture_help), -1;
		if (ch == ':')
			return usage_error(argv[optind - 1], ": needs a value");
		if (ch == '?')
			return usage_error(argv[optind - 1], ": unknown option");
		if (ch == O_JSON)
			o->progress_json = 1;
		else if (ch == O_VERBOSE)
			log_verbose = 1;
		else if ((rc = capture_opt(o, ch, optarg)) != 0)
			return rc;
	}
	if (optind < argc)
		return usage_error(argv[optind], ": unexpected argument");
	if (o->server == NULL || o->name == NULL || o->source == NULL)
		return usage_error("--server, --image and --source are needed",
		    "");
	return 0;
}

int
capture_main(int argc, char **argv)
{
	struct capture_opts o;
	unsigned version;
	struct perr e;
	int rc;

	memset(&o, 0, sizeof(o));
	if ((rc = parse_capture(&o, argc, argv)) != 0)
		return rc < 0 ? 0 : rc;
	if ((o.token = getenv("PIPOL_TOKEN")) == NULL || *o.token == '\0') {
		log_warnx("PIPOL_TOKEN: not set (an API token of pipold)");
		return PE_USAGE;
	}
	if (agent_token_check("PIPOL_TOKEN", o.token, &e) < 0) {
		log_warnx("%s", e.msg);
		return PE_USAGE;
	}
	if ((rc = capture_run(&o, &version, &e)) < 0) {
		log_warnx("%s", e.msg);
		return -rc;
	}
	if (!o.progress_json)
		printf("%s:%u\n", o.name, version);
	return 0;
}
