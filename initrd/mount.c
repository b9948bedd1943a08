/*
 * mount.c -- mounting the deployed system's root for post-install on a
 * node: the kernel re-reads the written disk's partition table (BLKRRPART),
 * the partition's device node is waited for (udev-less initramfs:
 * devtmpfs makes it), and it is mounted with the image's filesystem
 * type or the first of a short list that takes it. Then unmounted and
 * synced. What runs inside is postinst.c's; which partition, node.c's.
 */
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "limits.h"
#include "log.h"
#include "mount.h"

static const char *const mount_fstypes[] = { "ext4", "xfs", "btrfs", "ext3",
    "ext2", NULL };

/* The kernel re-reads the table; its new device nodes may lag a bit. */
static int
part_wait(const char *disk, const char *partno, char *part, size_t len,
    struct perr *e)
{
	struct stat st;
	int fd, i;

	if ((fd = open(disk, O_RDONLY | O_CLOEXEC)) < 0 ||
	    ioctl(fd, BLKRRPART) < 0)
		log_warn("re-reading the partition table of %s", disk);
	if (fd >= 0)
		close(fd);
	/* /dev/vda2, /dev/sda2; /dev/nvme0n1p2, /dev/mmcblk0p2 */
	snprintf(part, len, "%s%s%s", disk,
	    isdigit((unsigned char)disk[strlen(disk) - 1]) ? "p" : "", partno);
	for (i = 0; i < AGENT_PART_WAIT_MS / 100; i++) {
		if (stat(part, &st) == 0 && S_ISBLK(st.st_mode))
			return 0;
		usleep(100000);
	}
	return perr_set(e, PE_DATA, "post-install: %s: no such partition "
	    "(image metadata root=%s)", part, partno);
}

int
mount_root(const char *disk, const char *partno, const char *fstype,
    const char *dir, char *part, size_t partlen, struct perr *e)
{
	const char *const *fs;
	char parent[256], *slash;
	int rc, ok;

	if ((rc = part_wait(disk, partno, part, partlen, e)) < 0)
		return rc;
	snprintf(parent, sizeof(parent), "%s", dir);
	if ((slash = strrchr(parent, '/')) != NULL && slash != parent) {
		*slash = '\0';
		if (mkdir(parent, 0700) < 0 && errno != EEXIST)
			return perr_errno(e, PE_FAIL, "%s", parent);
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return perr_errno(e, PE_FAIL, "%s", dir);
	ok = *fstype && mount(part, dir, fstype, 0, NULL) == 0;
	for (fs = mount_fstypes; !*fstype && !ok && *fs != NULL; fs++)
		ok = mount(part, dir, *fs, 0, NULL) == 0;
	if (!ok)
		return perr_errno(e, PE_DATA, "post-install: mount %s (%s)",
		    part, *fstype ? fstype : "ext4, xfs, btrfs, ext3, ext2");
	return 0;
}

int
mount_root_undo(const char *dir, struct perr *e)
{
	int rc = 0;

	if (umount(dir) < 0) {
		log_warn("umount %s", dir);
		rc = perr_errno(e, PE_FAIL, "post-install: umount %s", dir);
	}
	sync();
	return rc;
}
