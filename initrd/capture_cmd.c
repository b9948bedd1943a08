/*
 * capture_cmd.c -- "pipol-agent capture": the command line of host-mode
 * capture. Its options (a cmd.h table), then the environment, then
 * capture_run(); prints NAME:VERSION on success (with --progress-json,
 * the last JSON line carries them instead).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "cmd.h"
#include "cmdline.h"
#include "limits.h"
#include "log.h"
#include "parse.h"
#include "pimg.h"
#include "store.h"

static int capture_main(const struct cmd *, const struct cmd_args *);

/* The command line: options, usage and --help (cmd.h) */
enum { O_SERVER, O_IMAGE, O_SOURCE, O_CODEC, O_CHUNK_SIZE, O_THREADS,
    O_CONNECTIONS, O_PROGRESS_JSON, O_TIMEOUT, O_VERBOSE, O_END };

static const struct cmd_opt capture_options[] = {
	[O_SERVER] = { "server", 0, CMD_VALUE, "URL",
	    "pipold (http:// or https://)" },
	[O_IMAGE] = { "image", 0, CMD_VALUE, "NAME",
	    "the image to add a draft version to" },
	[O_SOURCE] = { "source", 0, CMD_VALUE, "PATH",
	    "block device or file to capture" },
	[O_CODEC] = { "codec", 0, CMD_VALUE, "gzip|zstd",
	    "chunk encoding (default gzip)" },
	[O_CHUNK_SIZE] = { "chunk-size", 0, CMD_VALUE, "SIZE",
	    "power of two from 1M to 64M (default 4M)" },
	[O_THREADS] = { "threads", 0, CMD_VALUE, "N",
	    "compress workers (default: one per core)" },
	[O_CONNECTIONS] = { "connections", 0, CMD_VALUE, "N",
	    "uploads at once, one keep-alive connection each\n(default 4)" },
	[O_PROGRESS_JSON] = { "progress-json", 0, CMD_FLAG, NULL,
	    "one JSON line per second on stdout; the last one\n"
	    "says done (with image and version) or failed" },
	[O_TIMEOUT] = { "timeout", 0, CMD_VALUE, "SEC",
	    "give up when pipold has been unreachable (no\n"
	    "answer, or 5xx) for SEC seconds (default 120)" },
	[O_VERBOSE] = { "verbose", 0, CMD_FLAG, NULL,
	    "say what was read, found in the store and uploaded" },
	[O_END] = CMD_OPT_END
};

const struct cmd capture_cmd = { "capture", capture_main,
    "--server URL --image NAME --source PATH\n"
    "           [--codec gzip|zstd] [--chunk-size SIZE] [--threads N]\n"
    "           [--connections N] [--progress-json] [--timeout SEC] [--verbose]",
    "Make a new draft version of image NAME from a disk or file, in the store\n"
    "of the pipold at URL: chunks are read and compressed on every core, and\n"
    "only those the store lacks are uploaded (see docs/protocol.md, Capture).\n"
    "Prints NAME:VERSION. The API token comes from $PIPOL_TOKEN (64 lower-case\n"
    "hex digits; for now an admin's token), never from the command line.\n\n"
    "Memory stays bounded whatever the disk size: about 2 x threads +\n"
    "connections + 2 chunks, each with room for its compressed form.\n"
    "Exit status: 0 captured, 1 failed, 2 usage, 3 bad data, 4 denied,\n"
    "5 pipold unavailable, 6 not found, 7 conflict",
    capture_options, 0, 0, NULL };

/* The value v of option id into o; 0 or an exit status. */
static int
capture_opt(struct capture_opts *o, int id, const char *v)
{
	struct perr e;
	long long n = 0;
	uint64_t size = 0;
	int rc = 0;

	switch (id) {
	case O_SERVER: o->server = v; rc = agent_url_check("--server", v, &e);
	    break;
	case O_IMAGE: o->name = v; rc = store_name_check(v, &e); break;
	case O_SOURCE: o->source = v; break;
	case O_CODEC: rc = pimg_codec_parse(v, &o->codec, &e); break;
	case O_CHUNK_SIZE:
		if (parse_size(v, &size, &e) < 0 ||
		    pimg_chunk_size_check(size, v, &e) < 0)
			rc = perr_set(&e, PE_USAGE, "--chunk-size %s: not a "
			    "power of two in 1M..64M", v);
		o->chunk_size = (uint32_t)size;
		break;
	case O_THREADS: rc = parse_count("--threads", v, 1,
	    AGENT_THREADS_MAX, &n, &e); o->threads = (int)n; break;
	case O_CONNECTIONS: rc = parse_count("--connections", v, 1,
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

/* The options' values into o; 0 or an exit status. */
static int
capture_args(struct capture_opts *o, const struct cmd *c,
    const struct cmd_args *a)
{
	static const int valued[] = { O_SERVER, O_IMAGE, O_SOURCE, O_CODEC,
	    O_CHUNK_SIZE, O_THREADS, O_CONNECTIONS, O_TIMEOUT };
	const char *v;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(valued) / sizeof(valued[0]); i++)
		if ((v = cmd_str(a, valued[i])) != NULL &&
		    (rc = capture_opt(o, valued[i], v)) != 0)
			return rc;
	o->progress_json = cmd_count(a, O_PROGRESS_JSON) > 0;
	log_verbose |= cmd_count(a, O_VERBOSE) > 0;
	if (o->server == NULL || o->name == NULL || o->source == NULL)
		return cmd_usage_error(c, "--server, --image and --source are "
		    "needed");
	return 0;
}

static int
capture_main(const struct cmd *c, const struct cmd_args *a)
{
	struct capture_opts o;
	unsigned version;
	struct perr e;
	int rc;

	memset(&o, 0, sizeof(o));
	if ((rc = capture_args(&o, c, a)) != 0)
		return rc;
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
