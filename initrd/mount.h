/*
 * mount.h -- the deployed system's root filesystem on a node (mount.c):
 * found on the written disk and mounted for post-install, then
 * unmounted. Knows nothing of orders or images: the caller says which
 * partition and which filesystem type.
 */
#ifndef AGENT_MOUNT_H
#define AGENT_MOUNT_H

#include <stddef.h>

#include "perr.h"

/*
 * disk's partition partno (decimal, "2"), mounted at dir (made when
 * missing): the kernel re-reads disk's partition table first and the
 * partition's device is waited for. fstype "" tries ext4, xfs, btrfs,
 * ext3, ext2. part gets the partition's path. 0, or -code with e.
 */
int mount_root(const char *disk, const char *partno, const char *fstype,
    const char *dir, char *part, size_t partlen, struct perr *e);
/* Unmount dir and sync; 0, or -PE_FAIL with e. */
int mount_root_undo(const char *dir, struct perr *e);

/*
 * path (relative: "proc", "etc/resolv.conf") resolved inside the folder
 * rootfd as if it were "/": no link, absolute or with "..", leads out
 * of it; no magic link (/proc/PID/fd/N) is followed. An O_PATH fd (a
 * folder when dir), or -1 with errno.
 */
int mount_resolve(int rootfd, const char *path, int dir);
/*
 * mount(2) of src (fstype, flags; a tmpfs gets mode=755) on path
 * resolved by mount_resolve, through /proc/self/fd (needs the mount
 * namespace's /proc). A missing folder is made when dir; a link to
 * nothing inside the root is refused (PE_DATA), nothing mounted.
 * MS_BIND | MS_RDONLY: bound, then made read-only. 0 or -code with e.
 */
int mount_in_root(int rootfd, const char *path, const char *src,
    const char *fstype, unsigned long flags, int dir, struct perr *e);

#endif
