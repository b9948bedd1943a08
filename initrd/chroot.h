/*
 * chroot.h -- running things inside the deployed system, by chroot.c: a
 * function in a chrooted child, the bind mounts and resolver scripts
 * need, one script run as root in a sandbox with a time limit and the
 * tail of its output. Knows nothing of orders: postinst.c says what runs.
 */
#ifndef AGENT_CHROOT_H
#define AGENT_CHROOT_H

#include <sys/types.h>
#include <stddef.h>

#include "perr.h"

/* Small files for the system, from inside the chroot or out: path
 * written whole with mode; every missing folder of path made (path
 * itself with mode, its missing parents 0755). */
int chroot_put_file(const char *path, mode_t mode, const char *text,
    size_t len, struct perr *e);
int chroot_mkdirs(const char *path, mode_t mode, struct perr *e);

/* fn(arg, e) in a child chrooted into root; its error comes back in e
 * ("post-install: ..."). 0 or -code. */
int chroot_call(const char *root, int (*fn)(const void *, struct perr *),
    const void *arg, struct perr *e);

/*
 * One script run chrooted into root in its sandbox (chroot.c: new PID
 * and mount namespaces, a fresh /proc, /sys, /dev, a tmpfs /run, every
 * mount resolved inside root; written under its /tmp, removed after),
 * with envp, stdin /dev/null, killed with all it started after
 * timeout_sec. out (AGENT_SCRIPT_OUTPUT_MAX + 1 bytes) gets the last of
 * its output and
 * *outlen its length, not terminated. Its exit status (128 + signal if
 * killed), -1 timed out, or CHROOT_NOT_STARTED when it could not
 * start (e says why).
 */
#define CHROOT_NOT_STARTED	(-2)
int chroot_script(const char *root, const char *name,
    const unsigned char *body, size_t len, char *const envp[],
    int timeout_sec, char *out, size_t *outlen, struct perr *e);

/* The sandbox's init, pid 1 of the script's namespaces: the agent
 * re-exec'd with argv[0] CHROOT_INIT_ARGV0, ROOT, NAME (agent.c's main
 * dispatches it). Never returns. */
#define CHROOT_INIT_ARGV0	"pipol-agent:script-init"
int chroot_script_init(int argc, char **argv, char **envp);

#endif
