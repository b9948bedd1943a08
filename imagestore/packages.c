/*
 * packages.c -- the packages an image version holds (store.h), read when
 * it is validated: its raw disk written to STORE/tmp (sparse), its
 * partitions listed by sfdisk -J (util-linux), each one's dpkg database
 * (/var/lib/dpkg/status) read by debugfs (e2fsprogs: ext2/3/4, read
 * from the file at the partition's offset, read-only: no mount, no loop
 * device), the installed packages kept as "NAME VERSION ARCH" lines in
 * STORE/images/NAME/VERSION.packages. Both tools run with an argument
 * vector and a fixed request (run.h), bounded in time and output. An
 * image with no ext file system or no dpkg database holds no package
 * this can see (rpm databases are not read yet): an empty list.
 */
#include <sys/wait.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "image.h"
#include "perr.h"
#include "run.h"
#include "store.h"

#define PKG_STATUS_MAX	(32u << 20)	/* a dpkg status file: ~3 MiB */
#define PKG_PARTS_MAX	16		/* partitions looked at */
#define PKG_TOOL_MS	60000		/* one sfdisk or debugfs run */

static void
packages_path(const struct store *s, const char *name, unsigned version,
    char *buf, size_t len)
{
	snprintf(buf, len, "%s/images/%s/%u.packages", s->root, name, version);
}

/* The byte offsets of the disk's partitions (none: the whole disk, 0). */
static int
partitions(const char *disk, long long *off, char *out, size_t max)
{
	const char *argv[4];
	char tool[PATH_MAX];
	size_t len, i;
	int cut, status, late, n = 0;
	json_t *j, *parts, *p;
	long long ss;

	off[n++] = 0;
	if (run_find("sfdisk", tool, sizeof(tool)) < 0)
		return n;
	argv[0] = tool, argv[1] = "-J", argv[2] = disk, argv[3] = NULL;
	if (run_capture(argv, 0, out, max, &len, &cut, PKG_TOOL_MS, &status,
	    &late) < 0 || late || cut || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return n;
	if ((j = json_loads(out, 0, NULL)) == NULL)
		return n;
	p = json_object_get(j, "partitiontable");
	ss = json_integer_value(json_object_get(p, "sectorsize"));
	if (ss <= 0)
		ss = 512;
	parts = json_object_get(p, "partitions");
	json_array_foreach(parts, i, p) {
		long long start = json_integer_value(json_object_get(p,
		    "start"));

		if (n < PKG_PARTS_MAX && start > 0)
			off[n++] = start * ss;
	}
	json_decref(j);
	return n;
}

/* "Package:" etc. of one stanza, to "NAME VERSION ARCH\n" if installed */
static size_t
stanza(const char *s, const char *end, char *line, size_t len)
{
	const char *f[4] = { "Package: ", "Version: ", "Architecture: ",
	    "Status: " };
	const char *v[4] = { NULL, NULL, NULL, NULL };
	int vl[4] = { 0, 0, 0, 0 }, i, n;
	const char *l, *nl;

	for (l = s; l < end; l = nl + 1) {
		if ((nl = memchr(l, '\n', (size_t)(end - l))) == NULL)
			nl = end;
		for (i = 0; i < 4; i++)
			if (strncmp(l, f[i], strlen(f[i])) == 0) {
				v[i] = l + strlen(f[i]);
				vl[i] = (int)(nl - v[i]);
			}
	}
	if (v[0] == NULL || v[1] == NULL || v[3] == NULL || vl[3] < 10 ||
	    strncmp(v[3] + vl[3] - 10, " installed", 10) != 0 ||
	    vl[0] > 200 || vl[1] > 200 || vl[2] > 40)
		return 0;
	n = snprintf(line, len, "%.*s %.*s %.*s\n", vl[0], v[0], vl[1], v[1],
	    v[2] ? vl[2] : 1, v[2] ? v[2] : "-");
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

/* The installed packages of a dpkg status text appended to list. */
static int
parse_status(const char *text, size_t len, char **list, size_t *llen,
    size_t *count)
{
	const char *s = text, *end = text + len, *e;
	char line[512];
	size_t n;
	char *p;

	while (s < end) {
		e = memmem(s, (size_t)(end - s), "\n\n", 2);
		if (e == NULL)
			e = end;
		if ((n = stanza(s, e, line, sizeof(line))) > 0) {
			if ((p = realloc(*list, *llen + n + 1)) == NULL)
				return -1;
			*list = p;
			memcpy(*list + *llen, line, n + 1);
			*llen += n;
			(*count)++;
		}
		s = e + 2;
	}
	return 0;
}

int
store_packages_collect(struct store *s, const char *name, unsigned version,
    size_t *count, struct perr *e)
{
	char disk[PATH_MAX], path[PATH_MAX], tool[PATH_MAX], src[PATH_MAX + 32];
	const char *argv[5];
	long long off[PKG_PARTS_MAX];
	char *buf, *list = NULL;
	size_t len, llen = 0;
	int i, n, fd, cut, status, late, rc;

	*count = 0;
	if (strchr(s->root, '?') != NULL)	/* debugfs's option mark */
		return perr_set(e, PE_USAGE, "packages: a '?' in %s", s->root);
	if (run_find("debugfs", tool, sizeof(tool)) < 0)
		return perr_set(e, PE_UNAVAIL, "packages: no debugfs "
		    "(e2fsprogs)");
	snprintf(disk, sizeof(disk), "%s/tmp/packages.XXXXXX", s->root);
	if ((fd = mkstemp(disk)) == -1)
		return perr_errno(e, PE_FAIL, "%s", disk);
	close(fd);
	if ((buf = malloc(PKG_STATUS_MAX)) == NULL) {
		unlink(disk);
		return perr_set(e, PE_FAIL, "out of memory");
	}
	if ((rc = image_export(s, name, version, disk, 1, 0, e)) < 0)
		goto out;
	n = partitions(disk, off, buf, PKG_STATUS_MAX);
	for (i = 0; i < n; i++) {
		snprintf(src, sizeof(src), "%s?offset=%lld", disk, off[i]);
		argv[0] = tool, argv[1] = "-R";
		argv[2] = "cat /var/lib/dpkg/status", argv[3] = src;
		argv[4] = NULL;
		if (run_capture(argv, 0, buf, PKG_STATUS_MAX, &len, &cut,
		    PKG_TOOL_MS, &status, &late) < 0 || late || cut)
			continue;
		if (parse_status(buf, len, &list, &llen, count) < 0) {
			rc = perr_set(e, PE_FAIL, "out of memory");
			goto out;
		}
	}
	packages_path(s, name, version, path, sizeof(path));
	rc = atomic_write(path, list ? list : "", llen, e);
 out:
	unlink(disk);
	free(buf);
	free(list);
	return rc;
}

int
store_packages_read(struct store *s, const char *name, unsigned version,
    char **text, size_t *len, struct perr *e)
{
	char path[PATH_MAX];

	packages_path(s, name, version, path, sizeof(path));
	return read_file(path, PKG_STATUS_MAX, text, len, e);
}
