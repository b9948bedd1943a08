/*
 * mount.c -- mounting the deployed system's root for post-install on a
 * node: the kernel re-reads the written disk's partition table (BLKRRPART),
 * the partition's device node is waited for (udev-less initramfs:
 * devtmpfs makes it), and it is mounted with the image's filesystem
 * type or the first of a short list that takes it. Then unmounted and
 * synced. And every mount under that root (chroot.c's /proc, /sys,
 * /dev, /run for the scripts) is placed by mount_in_root: its target
 * resolved inside the root, as if the root were "/" (openat2,
 * RESOLVE_IN_ROOT), so that an image whose /proc or /run is a link to
 * /etc, /proc or ../../x gets the mount inside itself, never outside.
 * What runs inside is postinst.c's; which partition, node.c's.
 */
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/fs.h>
#include <linux/openat2.h>
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

int
mount_resolve(int rootfd, const char *path, int dir)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC |
	    (dir ? O_DIRECTORY : 0), .resolve = RESOLVE_IN_ROOT |
	    RESOLVE_NO_MAGICLINKS };

	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* path's last component made a folder when nothing at all is there
 * (a dangling link is left: its target is the image's business). */
static int
mkdir_in_root(int rootfd, const char *path)
{
	char parent[256];
	const char *last = strrchr(path, '/');
	struct stat st;
	int pfd, rc = -1;

	snprintf(parent, sizeof(parent), "%.*s", last ? (int)(last - path) :
	    1, last ? path : "/");
	last = last ? last + 1 : path;
	if ((pfd = mount_resolve(rootfd, parent, 1)) < 0)
		return -1;
	if (fstatat(pfd, last, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT)
		rc = mkdirat(pfd, last, 0755);
	close(pfd);
	return rc;
}

int
mount_in_root(int rootfd, const char *path, const char *src,
    const char *fstype, unsigned long flags, int dir, struct perr *e)
{
	char at[40];
	int fd;

	if ((fd = mount_resolve(rootfd, path, dir)) < 0 && errno == ENOENT &&
	    dir && mkdir_in_root(rootfd, path) == 0)
		fd = mount_resolve(rootfd, path, dir);
	if (fd < 0 && errno == ENOENT)
		return perr_set(e, PE_DATA, "/%s: a link to nothing inside "
		    "the image, whose links resolve inside it: nothing "
		    "mounted there", path);
	if (fd < 0)
		return perr_errno(e, PE_FAIL, "/%s (inside the system)", path);
	snprintf(at, sizeof(at), "/proc/self/fd/%d", fd);
	if (mount(src, at, fstype, flags, fstype && strcmp(fstype, "tmpfs")
	    == 0 ? "mode=755" : NULL) < 0) {
		perr_errno(e, PE_FAIL, "mount %s on /%s (inside the system)",
		    src, path);
		close(fd);
		return -PE_FAIL;
	}
	close(fd);
	if (!(flags & MS_RDONLY) || !(flags & MS_BIND))
		return 0;
	/* a bind is made read-only by a remount of the mount itself: the
	 * fd above names what it covers, so resolve once more */
	if ((fd = mount_resolve(rootfd, path, dir)) < 0)
		return perr_errno(e, PE_FAIL, "/%s (inside the system)", path);
	snprintf(at, sizeof(at), "/proc/self/fd/%d", fd);
	if (mount(NULL, at, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
		perr_errno(e, PE_FAIL, "read-only /%s", path);
		close(fd);
		return -PE_FAIL;
	}
	close(fd);
	return 0;
}
