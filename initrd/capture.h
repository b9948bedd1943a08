/*
 * capture.h -- capture (capture.c): a disk or file -> a new draft image
 * in pipold's store, sending only the chunks the store lacks
 * (docs/protocol.md, Capture). For host mode (capture_cmd.c) and for an
 * order that says "capture" (node.c). The connections to pipold are
 * capture_http.c's (capture_http.h).
 */
#ifndef AGENT_CAPTURE_H
#define AGENT_CAPTURE_H

#include <stdint.h>

#include "perr.h"

struct capture_opts {
	const char *server;	/* pipold: http(s)://host[:port][/prefix] */
	const char *token;	/* 64 lower-case hex digits; never printed */
	const char *name;	/* the image */
	const char *source;	/* a block device or a file */
	int codec;		/* enum pimg_codec; 0: gzip */
	uint32_t chunk_size;	/* 0: PIMG_CHUNK_DEFAULT */
	int threads;		/* compress workers; 0: one per core */
	int connections;	/* uploads at once; 0: AGENT_CONNECTIONS_DEFAULT */
	int timeout_sec;	/* server away that long: give up; 0: default */
	int progress_json;	/* JSON lines on stdout, the last says the
				   version */
};
/* 0 and *version (the new draft's number), or -code and one line in e.
 * Prints only progress, as asked; the caller reports the outcome. */
int capture_run(const struct capture_opts *o, unsigned *version,
    struct perr *e);
/* capture_cmd.c: "pipol-agent capture", its options and what it runs */
struct cmd;
extern const struct cmd capture_cmd;

#endif
