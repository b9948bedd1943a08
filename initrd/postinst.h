/*
 * postinst.h -- post-install (postinst.c): the written disk becomes the
 * user's system; pinode.c finds and mounts it on a node.
 */
#ifndef POSTINST_H
#define POSTINST_H

#include <jansson.h>

#include "perr.h"

struct postinst {
	const char *root;	/* the deployed system's root, mounted */
	json_t *order;		/* hostname, user, uid, ssh_keys, nfs_home,
				 * scripts (docs/protocol.md §3) */
	const char *image;	/* its name: the scripts' filter */
	const char *server;	/* for the first-boot "ready"; NULL: no hook */
	const char *token;
	int timeout_sec;	/* one script's limit */
	/* each script's run: name, exit status (-1 timed out), output */
	void (*log)(void *arg, const char *script, int status,
	    const char *output);
	void *arg;
};

int postinst_run(const struct postinst *p, struct perr *e);

/* "pipol-agent postinstall": the same on a folder, for tests */
int postinst_main(int argc, char **argv);

#endif
