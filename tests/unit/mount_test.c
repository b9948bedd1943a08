/*
 * mount_test.c -- mount_resolve (initrd/mount.c): a path under a
 * deployed root resolved as if the root were "/". A table of links an
 * image may hold (absolute, "..", to the environment's /proc or /etc,
 * chains, loops, magic links) and where each must land: inside the
 * root, or nowhere.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mount.h"

static char root[64];

static const struct {
	const char *link, *target;	/* made under root */
} links[] = {
	{ "proc", "/etc" },		/* absolute: the image's /etc */
	{ "run", "../../../../tmp" },	/* up past the root: its /tmp */
	{ "sys", "/proc/self/root" },	/* a magic link, by its name */
	{ "dev", "/nowhere" },		/* a link to nothing */
	{ "a", "b" }, { "b", "/a" },	/* a loop */
	{ "c", "proc" },		/* a chain */
	{ "etc/self", "/proc/self/fd/0" },
};

static const struct {
	const char *path;
	const char *want;	/* where it lands, under root; NULL: fails */
	int err;		/* and then with this errno */
} cases[] = {
	{ "proc", "/etc", 0 },
	{ "run", "/tmp", 0 },
	{ "c", "/etc", 0 },
	{ "c/hostname", NULL, ENOENT },	/* not in the image: nowhere */
	{ "dev", NULL, ENOENT },
	{ "a", NULL, ELOOP },
	{ "../../../etc", "/etc", 0 },
	{ "/etc", "/etc", 0 },
	/* the image's /proc/self/...: its /etc/self, itself again */
	{ "etc/self", NULL, ELOOP },
	{ "sys", NULL, ELOOP },
};

static void
mount_resolve_inside(void)
{
	char dir[512], got[512], fdpath[40], want[512];
	size_t i;
	ssize_t n;
	int rootfd, fd;

	snprintf(root, sizeof(root), "/tmp/mount_test.XXXXXX");
	CHECK(mkdtemp(root) != NULL);
	snprintf(dir, sizeof(dir), "%s/etc", root);
	CHECK(mkdir(dir, 0755) == 0);
	snprintf(dir, sizeof(dir), "%s/tmp", root);
	CHECK(mkdir(dir, 0755) == 0);
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/%s", root, links[i].link);
		CHECK(symlink(links[i].target, dir) == 0);
	}
	CHECK((rootfd = open(root, O_PATH | O_DIRECTORY)) >= 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		errno = 0;
		fd = mount_resolve(rootfd, cases[i].path, 1);
		if (cases[i].want == NULL) {
			if (fd >= 0 || errno != cases[i].err)
				fprintf(stderr, "  %s: fd %d errno %d\n",
				    cases[i].path, fd, errno);
			CHECK(fd < 0 && errno == cases[i].err);
			if (fd >= 0)
				close(fd);
			continue;
		}
		CHECK(fd >= 0);
		if (fd < 0)
			continue;
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
		n = readlink(fdpath, got, sizeof(got) - 1);
		got[n > 0 ? n : 0] = '\0';
		snprintf(want, sizeof(want), "%s%s", root, cases[i].want);
		if (strcmp(got, want) != 0)
			fprintf(stderr, "  %s: %s, not %s\n", cases[i].path,
			    got, want);
		CHECK(strcmp(got, want) == 0);
		close(fd);
	}
	close(rootfd);
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/%s", root, links[i].link);
		unlink(dir);
	}
	snprintf(dir, sizeof(dir), "%s/etc", root);
	rmdir(dir);
	snprintf(dir, sizeof(dir), "%s/tmp", root);
	rmdir(dir);
	rmdir(root);
}

int
main(void)
{
	RUN(mount_resolve_inside);
	DONE();
}
