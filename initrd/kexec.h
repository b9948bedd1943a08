/*
 * kexec.h -- the hand-over to the deployed system without a firmware
 * pass (kexec.c): once the disk is written, post-installed and reported,
 * its root is mounted again, its default kernel found (kernel_find.c),
 * loaded with kexec_file_load(2) and jumped to. Any failure leaves the
 * machine as it was: the caller returns, and /init reboots through the
 * firmware as before. Knows nothing of HTTP: telling pipold is the
 * caller's callback.
 */
#ifndef AGENT_KEXEC_H
#define AGENT_KEXEC_H

#include <jansson.h>
#include <stddef.h>

#include "perr.h"

#define KEXEC_INITRD_MAX	(512u << 20)	/* the initrds, joined: a
						   Debian initramfs is
						   ~30 MB, microcode ~5 */
#define KEXEC_RELEASE_FILE	"/etc/pipol/release"	/* only pipol's
							   deployment
							   environment
							   jumps */
#define KEXEC_ROOT_DIR		"/run/pipol/kexec-root"

/*
 * Whether to try, from the order and the image's metadata ("key=value"
 * lines): the order's "kexec" true, not bare, a root partition named
 * (root=N). 1 to try; 0 with *why saying why not.
 */
int kexec_wanted(json_t *order, const char *meta, const char **why);

/*
 * Whether kexec_file_load's errno means the kernel refuses this way of
 * loading (not built in, locked down, a signature wanted, a format it
 * does not take): the machine reboots through the firmware instead.
 */
int kexec_errno_is_refusal(int err);

/*
 * The UUID of the filesystem on dev (ext2/3/4, XFS, btrfs), as blkid
 * prints it, into out (KERNEL_UUID_MAX); 0, or -1 when none is known.
 */
int kexec_fs_uuid(const char *dev, char *out, size_t len);

/*
 * Node mode's hand-over, after the result was reported: when
 * kexec_wanted, disk's root partition mounted at KEXEC_ROOT_DIR, its
 * kernel loaded, unmounted and synced, mark(arg) called (pipold told:
 * best effort), then the jump. Returns only when there was none, having
 * logged one line saying why: the caller then reboots as before.
 */
void kexec_node(json_t *order, const char *meta, const char *disk,
    void (*mark)(void *arg), void *arg);

#endif
