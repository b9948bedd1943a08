/*
 * chroot.h -- running things inside the deployed system, by chroot.c: a
 * function in a chrooted child, the bind mounts and resolver scripts
 * need, one script run as root with a time limit and the tail of its
 * output. Knows nothing of orders: postinst.c says what runs.
 */
#ifndef AGENT_CHROOT_H
#define AGENT_CHROOT_H

#include <sys/types.h>
#include <stddef.h>

#include "perr.h"

/* Small files for the system, from inside the chroot or out: path
 * written whole with mode; every missing folder of path made. */
int chroot_put_file(const char *path, mode_t mode, const char *text,
    size_t len, struct perr *e);
int chroot_mkdirs(const char *path, mode_t mode, struct perr *e);

/* fn(arg, e) in a child chrooted into root; its error comes back in e
 * ("post-install: ..."). 0 or -code. */
int chroot_call(const char *root, int (*fn)(const void *, struct perr *),
    const void *arg, struct perr *e);

struct chroot_env {
	int resolv;		/* what the resolver step did, to undo */
};
/* /proc, /sys, /dev bound under root, and the deployment environment's
 * resolver (best effort). 0, or -code with nothing left mounted. */
int chroot_env_enter(const char *root, struct chroot_env *c, struct perr *e);
void chroot_env_leave(const char *root, struct chroot_env *c);

/*
 * One script run chrooted into root (written under its /tmp, removed
 * after), with envp, stdin /dev/null, killed after timeout_sec. out
 * (AGENT_SCRIPT_OUTPUT_MAX + 1 bytes) gets the last of its output and
 * *outlen its length, not terminated. Its exit status (128 + signal if
 * killed), -1 timed out, or -PE_FAIL when it could not start (e).
 */
int chroot_script(const char *root, const char *name,
    const unsigned char *body, size_t len, char *const envp[],
    int timeout_sec, char *out, size_t *outlen, struct perr *e);

#endif
