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
	const char *token;	/* the hook's: read after phase() ran */
	int timeout_sec;	/* one script's limit */
	/* each script's run: name, exit status (-1 timed out), output;
	 * site: one of the site's post-install scripts */
	void (*log)(void *arg, const char *script, int status,
	    const char *output, int site);
	/* between the site's scripts and the user's: the boot token traded
	 * for a user-phase one (node.c), written where token points; NULL:
	 * no phase (a folder, no pipold). 0 or -code with e. */
	int (*phase)(void *arg, struct perr *e);
	void *arg;
};

/*
 * Configuration, the site's matching scripts, the phase, the user's
 * matching rc scripts, then the first-boot hook; 0 or -code with e.
 * The site's script bodies are wiped from p->order once they ran.
 */
int postinst_run(const struct postinst *p, struct perr *e);
/* postinst_config.c: the configuration edits, and the first-boot hook
 * with p->server and p->token; each runs chrooted into p->root (cwd
 * /). 0 or -code with e. */
int postinst_configure(const struct postinst *p, struct perr *e);
int postinst_ready_hook(const struct postinst *p, struct perr *e);

/* node.c: the post-install of p against pipold at server with the
 * boot-phase token token, as node mode runs it: each script's run
 * posted to /agent/log, the phase through /agent/phase, the hook with
 * the user-phase token ("pipol-agent postinstall --agent"). 0 or -code
 * with e. */
int node_postinst_agent(struct postinst *p, const char *server,
    const char *token, struct perr *e);

/* postinst_cmd.c: "pipol-agent postinstall", the same on a folder: its
 * options and what it runs */
struct cmd;
extern const struct cmd postinst_cmd;

#endif
