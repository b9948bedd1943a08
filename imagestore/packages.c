/*
 * packages.c -- the packages an image version holds (store.h), read when
 * it is validated: its raw disk written to STORE/tmp (sparse), its
 * partitions listed by sfdisk -J (util-linux), each one's dpkg database
 * (/var/lib/dpkg/status) read by debugfs (e2fsprogs: ext2/3/4, read
 * from the file at the partition's offset, read-only: no mount, no loop
 * device); a partition with no dpkg database, its rpm database instead
 * (rpmdb.sqlite under /var/lib/rpm or /usr/lib/sysimage/rpm: RHEL 9,
 * Fedora; read by debugfs into a folder of STORE/tmp, then queried by
 * Debian's rpm with --dbpath). The installed packages kept as "NAME
 * VERSION ARCH" lines in STORE/images/NAME/VERSION.packages. Every tool
 * runs with an argument vector and a fixed request (run.h), bounded in
 * time and output. An image with no ext file system, or neither
 * database (or rpm's older Berkeley DB one), holds no package this can
 * see: an empty list.
 */
#include <sys/wait.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
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
#define PKG_TOOL_MS	60000		/* one sfdisk, debugfs or rpm run */

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

/* --- rpm ---------------------------------------------------------------- */

static const char *const rpm_dirs[] = { "/var/lib/rpm",
    "/usr/lib/sysimage/rpm" };
static const char rpm_qf[] =
    "%{NAME} %|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE} %{ARCH}\n";

/* debugfs's "cat FILE" of the partition src into dir/base; 1 written,
 * 0 none (or not SQLite when magic), -1 failed */
static int
rpm_copy(const char *debugfs, const char *src, const char *file,
    const char *dir, const char *base, int magic, char *buf, size_t max)
{
	char req[128], path[PATH_MAX];
	const char *argv[5] = { debugfs, "-R", req, src, NULL };
	size_t len;
	int cut, status, late, fd, rc = 1;

	snprintf(req, sizeof(req), "cat %s", file);
	if (run_capture(argv, 0, buf, max, &len, &cut, PKG_TOOL_MS, &status,
	    &late) < 0 || late || cut || len == 0)
		return 0;
	if (magic && (len < 16 || memcmp(buf, "SQLite format 3", 16) != 0))
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, base);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	if (write(fd, buf, len) != (ssize_t)len)
		rc = -1;
	if (close(fd) == -1)
		rc = -1;
	return rc;
}

/* dir's files removed, then dir */
static void
rm_dir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dh;

	if ((dh = opendir(dir)) != NULL) {
		while ((d = readdir(dh)) != NULL)
			if (strcmp(d->d_name, ".") != 0 &&
			    strcmp(d->d_name, "..") != 0) {
				snprintf(path, sizeof(path), "%s/%s", dir,
				    d->d_name);
				unlink(path);
			}
		closedir(dh);
	}
	rmdir(dir);
}

/* rpm's "NAME VERSION ARCH" lines appended to list (gpg-pubkey, rpm's
 * record of a signing key, is no package) */
static int
rpm_lines(const char *out, size_t len, char **list, size_t *llen,
    size_t *count)
{
	const char *l, *nl, *end = out + len;
	size_t n;
	char *p;
	int sp;

	for (l = out; l < end; l = nl + 1) {
		if ((nl = memchr(l, '\n', (size_t)(end - l))) == NULL)
			break;
		n = (size_t)(nl - l);
		for (sp = 0, p = (char *)(uintptr_t)l; p < nl; p++)
			sp += *p == ' ';
		if (sp != 2 || n > 400 || strncmp(l, "gpg-pubkey ", 11) == 0)
			continue;
		if ((p = realloc(*list, *llen + n + 2)) == NULL)
			return -1;
		*list = p;
		memcpy(*list + *llen, l, n + 1);
		*llen += n + 1;
		(*list)[*llen] = '\0';
		(*count)++;
	}
	return 0;
}

/* The partition src's rpm database, if it has one, read into list */
static int
rpm_read(struct store *s, const char *debugfs, const char *src, char *buf,
    size_t max, char **list, size_t *llen, size_t *count)
{
	char dir[PATH_MAX], db[PATH_MAX], rpm[PATH_MAX];
	const char *argv[7];
	size_t i, len;
	int cut, status, late, rc = 0, got = 0;

	if (run_find("rpm", rpm, sizeof(rpm)) < 0)
		return 0;
	snprintf(dir, sizeof(dir), "%s/tmp/rpmdb.XXXXXX", s->root);
	if (mkdtemp(dir) == NULL)
		return 0;
	for (i = 0; i < sizeof(rpm_dirs) / sizeof(rpm_dirs[0]) && !got; i++) {
		snprintf(db, sizeof(db), "%s/rpmdb.sqlite", rpm_dirs[i]);
		if ((got = rpm_copy(debugfs, src, db, dir, "rpmdb.sqlite", 1,
		    buf, max)) == 1) {
			snprintf(db, sizeof(db), "%s/rpmdb.sqlite-wal",
			    rpm_dirs[i]);
			got = rpm_copy(debugfs, src, db, dir,
			    "rpmdb.sqlite-wal", 0, buf, max) < 0 ? -1 : 1;
		}
	}
	if (got == 1) {
		argv[0] = rpm, argv[1] = "--dbpath", argv[2] = dir;
		argv[3] = "-qa", argv[4] = "--qf", argv[5] = rpm_qf;
		argv[6] = NULL;
		if (run_capture(argv, 0, buf, max, &len, &cut, PKG_TOOL_MS,
		    &status, &late) == 0 && !late && !cut &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0)
			rc = rpm_lines(buf, len, list, llen, count);
	}
	rm_dir(dir);
	return rc;
}

int
store_packages_collect(struct store *s, const char *name, unsigned version,
    size_t *count, struct perr *e)
{
	char disk[PATH_MAX], path[PATH_MAX], tool[PATH_MAX], src[PATH_MAX + 32];
	const char *argv[5];
	long long off[PKG_PARTS_MAX];
	char *buf, *list = NULL;
	size_t len, llen = 0, before;
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
		before = *count;
		if (run_capture(argv, 0, buf, PKG_STATUS_MAX, &len, &cut,
		    PKG_TOOL_MS, &status, &late) == 0 && !late && !cut &&
		    parse_status(buf, len, &list, &llen, count) < 0) {
			rc = perr_set(e, PE_FAIL, "out of memory");
			goto out;
		}
		if (*count == before && rpm_read(s, tool, src, buf,
		    PKG_STATUS_MAX, &list, &llen, count) < 0) {
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

/* --- comparing two versions' packages --------------------------------- */

/* A character's rank in a non-digit part of a version (deb-version(7)):
 * '~' before the part's end, the end before letters, letters before
 * every other character. Digits and the end rank alike: they end it. */
static int
rank(int c)
{
	if (c == '~')
		return -1;
	if (c == '\0' || (c >= '0' && c <= '9'))
		return 0;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return c;
	return c + 256;
}

/* An upstream version or a revision: non-digit parts by rank, digit
 * parts as numbers, alternately. */
static int
part_cmp(const char *a, const char *b)
{
	int d;

	while (*a != '\0' || *b != '\0') {
		while ((*a != '\0' && !(*a >= '0' && *a <= '9')) ||
		    (*b != '\0' && !(*b >= '0' && *b <= '9'))) {
			if ((d = rank((unsigned char)*a) -
			    rank((unsigned char)*b)) != 0)
				return d;
			a++, b++;	/* equal ranks: neither at its end */
		}
		while (*a == '0')
			a++;
		while (*b == '0')
			b++;
		for (d = 0; *a >= '0' && *a <= '9' && *b >= '0' && *b <= '9';
		    a++, b++)
			if (d == 0)
				d = *a - *b;
		if (*a >= '0' && *a <= '9')
			return 1;	/* a's number is longer */
		if (*b >= '0' && *b <= '9')
			return -1;
		if (d != 0)
			return d;
	}
	return 0;
}

/* "[EPOCH:]UPSTREAM[-REVISION]" split in place */
static void
version_split(char *v, long *epoch, char **up, char **rev)
{
	char *c = strchr(v, ':'), *h;

	*epoch = 0;
	*up = v;
	if (c != NULL) {
		*c = '\0';
		*epoch = strtol(v, NULL, 10);
		*up = c + 1;
	}
	if ((h = strrchr(*up, '-')) != NULL) {
		*h = '\0';
		*rev = h + 1;
	} else
		*rev = (char *)"";
}

int
pkg_version_cmp(const char *a, const char *b)
{
	char x[256], y[256], *ux, *rx, *uy, *ry;
	long ex, ey;
	int d;

	snprintf(x, sizeof(x), "%s", a);
	snprintf(y, sizeof(y), "%s", b);
	version_split(x, &ex, &ux, &rx);
	version_split(y, &ey, &uy, &ry);
	if (ex != ey)
		return ex < ey ? -1 : 1;
	if ((d = part_cmp(ux, uy)) == 0)
		d = part_cmp(rx, ry);
	return d < 0 ? -1 : d > 0;
}

struct pkg {
	const char	*name, *version, *arch;
};

static int
pkg_cmp(const void *a, const void *b)
{
	const struct pkg *x = a, *y = b;
	int d = strcmp(x->name, y->name);

	return d != 0 ? d : strcmp(x->arch, y->arch);
}

/* A .packages text's "NAME VERSION ARCH" lines as an array sorted by
 * name and architecture, pointing into the text (its spaces and
 * newlines made NULs); NULL when out of memory. */
static struct pkg *
pkg_table(char *text, size_t *n)
{
	struct pkg *t, *p;
	char *l, *nl, *v, *arch;
	size_t cap = 64;

	*n = 0;
	if ((t = malloc(cap * sizeof(*t))) == NULL)
		return NULL;
	for (l = text; (nl = strchr(l, '\n')) != NULL; l = nl + 1) {
		*nl = '\0';
		if ((v = strchr(l, ' ')) == NULL ||
		    (arch = strchr(v + 1, ' ')) == NULL)
			continue;
		*v++ = '\0';
		*arch++ = '\0';
		if (*n == cap) {
			cap *= 2;
			if ((p = realloc(t, cap * sizeof(*t))) == NULL) {
				free(t);
				return NULL;
			}
			t = p;
		}
		t[*n].name = l;
		t[*n].version = v;
		t[*n].arch = arch;
		(*n)++;
	}
	qsort(t, *n, sizeof(*t), pkg_cmp);
	return t;
}

/* " NAME OLD->NEW" appended to the list of names, while it has room */
static void
pkg_name_add(char *buf, size_t len, const struct pkg *a, const struct pkg *b)
{
	size_t n = strlen(buf);

	if (n + 1 >= len)
		return;
	if (a != NULL && b != NULL)
		snprintf(buf + n, len - n, " %s %s->%s", b->name, a->version,
		    b->version);
	else
		snprintf(buf + n, len - n, " %s", (a ? a : b)->name);
}

int
store_packages_diff(struct store *s, const char *name, unsigned from,
    unsigned to, struct pkg_diff *d, struct perr *e)
{
	char *ta = NULL, *tb = NULL;
	struct pkg *a = NULL, *b = NULL;
	size_t la, lb, na, nb, i = 0, j = 0;
	int rc, c;

	memset(d, 0, sizeof(*d));
	if ((rc = store_packages_read(s, name, from, &ta, &la, e)) < 0 ||
	    (rc = store_packages_read(s, name, to, &tb, &lb, e)) < 0)
		goto out;
	if ((a = pkg_table(ta, &na)) == NULL ||
	    (b = pkg_table(tb, &nb)) == NULL) {
		rc = perr_set(e, PE_FAIL, "out of memory");
		goto out;
	}
	while (i < na || j < nb) {
		c = i == na ? 1 : j == nb ? -1 : pkg_cmp(&a[i], &b[j]);
		if (c < 0) {
			d->gone++;
			pkg_name_add(d->gone_names, sizeof(d->gone_names),
			    &a[i], NULL);
			i++;
		} else if (c > 0) {
			d->added++;
			pkg_name_add(d->added_names, sizeof(d->added_names),
			    NULL, &b[j]);
			j++;
		} else {
			c = pkg_version_cmp(a[i].version, b[j].version);
			if (c < 0) {
				d->newer++;
				pkg_name_add(d->newer_names,
				    sizeof(d->newer_names), &a[i], &b[j]);
			} else if (c > 0) {
				d->older++;
				pkg_name_add(d->older_names,
				    sizeof(d->older_names), &a[i], &b[j]);
			} else
				d->same++;
			i++, j++;
		}
	}
	rc = 0;
 out:
	free(a);
	free(b);
	free(ta);
	free(tb);
	return rc;
}
