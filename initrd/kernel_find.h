/*
 * kernel_find.h -- the deployed system's default kernel, initrds and
 * kernel command line, found in its mounted root (kernel_find.c): from
 * its GRUB configuration, else its /vmlinuz and /initrd.img links, else
 * the highest /boot/vmlinuz-VERSION. Every path is resolved inside the
 * root, as if it were "/" (mount.c's mount_resolve): an image's links
 * never lead out of it. Reads files only; uploads nothing, mounts
 * nothing (mount.c mounts the root; the caller knows its UUID).
 */
#ifndef AGENT_KERNEL_FIND_H
#define AGENT_KERNEL_FIND_H

#include <stddef.h>

#include "perr.h"

#define KERNEL_FILE_MAX		(1u << 20)	/* grub.cfg, grubenv, fstab,
						   /etc/kernel/cmdline: a
						   generated grub.cfg is
						   ~10 KB */
#define KERNEL_ENTRIES_MAX	256	/* menu entries and submenus kept
					   from grub.cfg: one per kernel
					   installed, times ~3 */
#define KERNEL_MENU_DEPTH	4	/* submenus inside submenus: GRUB's
					   generators make 1 */
#define KERNEL_BOOT_FILES_MAX	1024	/* /boot entries looked at */
#define KERNEL_PATH_MAX		256	/* a path inside the image */
#define KERNEL_CMDLINE_MAX	2048	/* x86's COMMAND_LINE_SIZE, with
					   its final NUL */
#define KERNEL_INITRDS_MAX	4	/* GRUB "initrd A B": microcode
					   first, then the initramfs */
#define KERNEL_UUID_MAX		37	/* 36 characters and a NUL */

/* How the kernel was found */
enum kernel_how { KERNEL_GRUB = 1, KERNEL_LINKS, KERNEL_BOOT_DIR };

struct kernel_boot {
	enum kernel_how how;
	char kernel[KERNEL_PATH_MAX];	/* "/boot/vmlinuz-6.1.0-13-amd64" */
	char initrd[KERNEL_INITRDS_MAX][KERNEL_PATH_MAX];
	int ninitrd;			/* 0: the kernel boots without */
	char cmdline[KERNEL_CMDLINE_MAX];
	char entry[128];		/* GRUB: the entry's title */
};

/*
 * The default kernel of the system whose root folder is rootfd, in kb;
 * paths are inside the root, with every link resolved ("/vmlinuz"
 * gives "/boot/vmlinuz-6.1.0-13-amd64"), each a regular file. The
 * command line gets "root=UUID=uuid" instead of any root= it has; uuid
 * NULL takes the UUID= of "/" in the image's /etc/fstab, else keeps the
 * line's own root=. Why a way was passed over is logged (log_debug).
 * 0; -PE_DATA with e when there is no kernel; -PE_USAGE for a bad uuid.
 */
int kernel_find(int rootfd, const char *uuid, struct kernel_boot *kb,
    struct perr *e);

/* "GRUB", "links", "/boot" */
const char *kernel_how_name(enum kernel_how how);

/* "pipol-agent kernel": kernel_cmd.c, its options and what it runs */
struct cmd;
extern const struct cmd kernel_cmd;

/*
 * The UUID of the filesystem on dev (ext2/3/4, XFS, btrfs), as blkid
 * prints it, into out (KERNEL_UUID_MAX); 0, or -1 when none is known.
 */
int kernel_fs_uuid(const char *dev, char *out, size_t len);

#endif
