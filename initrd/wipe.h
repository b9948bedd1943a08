/*
 * wipe.h -- a disk wiped between two users (wipe.c): the whole device
 * discarded (BLKDISCARD; on a regular file, a punched hole), then read
 * back, since a discard need not read as zeros; where it was refused
 * or left data, BLKZEROOUT (a file: FALLOC_FL_ZERO_RANGE), then plain
 * zero writes. Knows nothing of HTTP: progress leaves through a
 * callback, as a deployment's does.
 */
#ifndef AGENT_WIPE_H
#define AGENT_WIPE_H

#include "deploy.h"

/* How far down the list a wipe starts (the command's --method). */
enum wipe_method { WIPE_DISCARD, WIPE_ZEROOUT, WIPE_WRITE };

#define WIPE_CHECK_REGIONS	64	/* sampled, besides first/last MiB */
#define WIPE_CHECK_BYTES	(64 * 1024)	/* each sampled region */
#define WIPE_WRITE_BYTES	(4 * 1024 * 1024)	/* one zero write */

struct wipe {
	const char *target;	/* a block device or a regular file */
	enum wipe_method first;	/* WIPE_DISCARD unless told */
	void (*on_progress)(void *arg, const struct deploy_progress *p);
	void *progress_arg;
	/* out */
	const char *method;	/* "discard", "zeroout", "write" */
	uint64_t size;
	unsigned checked;	/* regions read back, the last pass */
};

/*
 * Wipe w->target whole: each method in turn until a read-back of its
 * first and last MiB and WIPE_CHECK_REGIONS regions between finds only
 * zeros. 0 with w->method, or -code with e saying why (a target that is
 * neither a block device nor a regular file, or still non-zero after
 * the zero writes).
 */
int wipe_run(struct wipe *w, struct perr *e);

/*
 * A wipe order's run (node.c): target (NULL: the order names no disk
 * and none was found) wiped, progress to on_progress(arg), each step
 * and the outcome logged. 0, or -code with e saying why.
 */
int wipe_order(const char *target, void (*on_progress)(void *,
    const struct deploy_progress *), void *arg, struct perr *e);

/* "pipol-agent wipe": host mode, for tests and rescue shells */
struct cmd;
extern const struct cmd wipe_cmd;

#endif
