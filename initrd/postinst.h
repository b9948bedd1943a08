/*
 * postinst.h -- post-install: the written disk becomes the user's
 * system. postinst.c runs it (which scripts, in which order, the
 * failures), postinst_config.c edits the configuration, chroot.c runs
 * things inside the system, postinst_cmd.c is "pipol-agent
 * postinstall". Mounting it on a node is mount.c's.
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

/* Configuration, then the matching scripts; 0 or -code with e. */
int postinst_run(const struct postinst *p, struct perr *e);
/* postinst_config.c: the configuration edits; runs chrooted into
 * p->root (cwd /). 0 or -code with e. */
int postinst_configure(const struct postinst *p, struct perr *e);

/* postinst_cmd.c: "pipol-agent postinstall", the same on a folder: its
 * options and what it runs */
struct cmd;
extern const struct cmd postinst_cmd;

#endif
