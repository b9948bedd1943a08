/*
 * store_versions.c -- image versions: STATE/store/images/NAME/V.idx (the
 * immutable index) and STATE/store/images/NAME/refs (states, current,
 * history), rewritten whole by rename under refs.lock.
 *
 * refs, one line each:  "pipol-refs 1", "next N", "version V STATE TIME",
 * "current V", "history V1 V2 ..." (earlier currents, oldest first).
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "perr.h"
#include "store.h"

#define REFS_MAX	(1u << 20)

const char *
store_vstate_name(int state)
{
	return state == VS_VALIDATED ? "validated" : "draft";
}

int
store_name_check(const char *name, struct perr *e)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > STORE_NAME_MAX)
		return perr_set(e, PE_USAGE, "image name \"%s\": must be 1 to "
		    "%d characters", name, STORE_NAME_MAX);
	for (i = 0; i < n; i++) {
		char c = name[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (i > 0 && (c == '-' || c == '_' || c == '.')))
			continue;
		return perr_set(e, PE_USAGE, "image name \"%s\": only a-z, 0-9 "
		    "and (not first) - _ . are allowed", name);
	}
	return 0;
}

int
store_ref_parse(const char *ref, char name[STORE_NAME_MAX + 1],
    unsigned *version, struct perr *e)
{
	const char *colon = strchr(ref, ':');
	size_t n = colon ? (size_t)(colon - ref) : strlen(ref);
	unsigned long v;
	char *end;

	*version = 0;
	if (n > STORE_NAME_MAX)
		return perr_set(e, PE_USAGE, "image \"%s\": name too long", ref);
	memcpy(name, ref, n);
	name[n] = '\0';
	if (store_name_check(name, e) < 0)
		return -PE_USAGE;
	if (colon == NULL)
		return 0;
	errno = 0;
	v = strtoul(colon + 1, &end, 10);
	if (colon[1] < '1' || colon[1] > '9' || *end != '\0' || errno ||
	    v > 0x7fffffff)
		return perr_set(e, PE_USAGE, "image \"%s\": version must be a "
		    "positive number", ref);
	*version = (unsigned)v;
	return 0;
}

void
store_image_clear(struct store_image *img)
{
	free(img->v);
	free(img->history);
	memset(img, 0, sizeof(*img));
}

struct store_version *
store_image_find(const struct store_image *img, unsigned version)
{
	size_t i;

	for (i = 0; i < img->nv; i++)
		if (img->v[i].version == version)
			return &img->v[i];
	return NULL;
}

static void
img_path(const struct store *s, const char *name, const char *leaf,
    char *buf, size_t len)
{
	snprintf(buf, len, "%s/images/%s%s%s", s->root, name,
	    leaf ? "/" : "", leaf ? leaf : "");
}

static int
refs_add_version(struct store_image *img, unsigned v, int state,
    long long t)
{
	struct store_version *n = realloc(img->v, (img->nv + 1) * sizeof(*n));
	size_t i;

	if (n == NULL)
		return -1;
	img->v = n;
	for (i = img->nv; i > 0 && n[i - 1].version > v; i--)
		n[i] = n[i - 1];
	n[i].version = v;
	n[i].state = state;
	n[i].created = t;
	img->nv++;
	return 0;
}

static int
refs_add_history(struct store_image *img, unsigned v)
{
	unsigned *n = realloc(img->history, (img->nhist + 1) * sizeof(*n));

	if (n == NULL)
		return -1;
	img->history = n;
	n[img->nhist++] = v;
	return 0;
}

static int
refs_parse_line(struct store_image *img, char *line)
{
	char st[16], *tok, *save;
	unsigned v;
	long long t;

	if (sscanf(line, "version %u %15s %lld", &v, st, &t) == 3)
		return refs_add_version(img, v, strcmp(st, "validated") == 0 ?
		    VS_VALIDATED : VS_DRAFT, t);
	if (sscanf(line, "current %u", &img->current) == 1 ||
	    sscanf(line, "next %u", &img->next) == 1 ||
	    strcmp(line, "pipol-refs 1") == 0)
		return 0;
	if (strncmp(line, "history", 7) != 0)
		return -1;
	for (tok = strtok_r(line + 7, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save))
		if (refs_add_history(img, (unsigned)strtoul(tok, NULL, 10)))
			return -1;
	return 0;
}

int
store_image_get(struct store *s, const char *name, struct store_image *img,
    struct perr *e)
{
	char path[PATH_MAX], *buf, *line, *save;
	int rc;

	memset(img, 0, sizeof(*img));
	snprintf(img->name, sizeof(img->name), "%s", name);
	img->next = 1;
	img_path(s, name, "refs", path, sizeof(path));
	if ((rc = read_file(path, REFS_MAX, &buf, NULL, e)) < 0)
		return rc == -PE_NOTFOUND ? perr_set(e, PE_NOTFOUND,
		    "image %s: no such image", name) : rc;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (refs_parse_line(img, line) < 0) {
			free(buf);
			store_image_clear(img);
			return perr_set(e, PE_DATA, "%s: bad line \"%.40s\"",
			    path, line);
		}
	free(buf);
	return 0;
}

static int
refs_write(struct store *s, const struct store_image *img, struct perr *e)
{
	char path[PATH_MAX], *buf;
	size_t cap, n, i;
	int rc;

	cap = 64 + img->nv * 48 + img->nhist * 12;
	if ((buf = malloc(cap)) == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	n = (size_t)snprintf(buf, cap, "pipol-refs 1\nnext %u\n", img->next);
	for (i = 0; i < img->nv; i++)
		n += (size_t)snprintf(buf + n, cap - n, "version %u %s %lld\n",
		    img->v[i].version, store_vstate_name(img->v[i].state),
		    img->v[i].created);
	if (img->current)
		n += (size_t)snprintf(buf + n, cap - n, "current %u\n",
		    img->current);
	n += (size_t)snprintf(buf + n, cap - n, "history");
	for (i = 0; i < img->nhist; i++)
		n += (size_t)snprintf(buf + n, cap - n, " %u",
		    img->history[i]);
	n += (size_t)snprintf(buf + n, cap - n, "\n");
	img_path(s, img->name, "refs", path, sizeof(path));
	rc = atomic_write(path, buf, n, e);
	free(buf);
	return rc;
}

static int
refs_lock(struct store *s, struct perr *e)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/refs.lock", s->root);
	return lock_take(path, LOCK_EX, e);
}

/* Load NAME's refs under the refs lock; *lk gets the lock's fd. */
static int
refs_begin(struct store *s, const char *name, struct store_image *img,
    int must_exist, int *lk, struct perr *e)
{
	int rc;

	if ((*lk = refs_lock(s, e)) < 0)
		return *lk;
	rc = store_image_get(s, name, img, e);
	if (rc == -PE_NOTFOUND && !must_exist) {
		memset(img, 0, sizeof(*img));
		snprintf(img->name, sizeof(img->name), "%s", name);
		img->next = 1;
		return 0;
	}
	if (rc < 0)
		lock_release(*lk);
	return rc;
}

static int
refs_end(struct store *s, struct store_image *img, int lk, int rc,
    struct perr *e)
{
	if (rc == 0)
		rc = refs_write(s, img, e);
	lock_release(lk);
	store_image_clear(img);
	return rc;
}

int
store_resolve(struct store *s, const char *name, unsigned *version,
    struct perr *e)
{
	struct store_image img;
	int rc;

	if ((rc = store_image_get(s, name, &img, e)) < 0)
		return rc;
	if (*version == 0)
		*version = img.current ? img.current :
		    img.nv ? img.v[img.nv - 1].version : 0;
	if (*version == 0 || store_image_find(&img, *version) == NULL)
		rc = perr_set(e, PE_NOTFOUND, "image %s:%u: no such version",
		    name, *version);
	store_image_clear(&img);
	return rc;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
store_list(struct store *s, char ***names, size_t *n, struct perr *e)
{
	char path[PATH_MAX], **v = NULL, **nv;
	struct dirent *d;
	struct stat st;
	DIR *dir;

	*n = 0;
	snprintf(path, sizeof(path), "%s/images", s->root);
	if ((dir = opendir(path)) == NULL)
		return perr_errno(e, PE_FAIL, "%s", path);
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' || store_name_check(d->d_name, NULL))
			continue;
		img_path(s, d->d_name, "refs", path, sizeof(path));
		if (stat(path, &st) == -1)
			continue;
		if ((nv = realloc(v, (*n + 1) * sizeof(*v))) == NULL)
			break;
		v = nv;
		if ((v[*n] = strdup(d->d_name)) == NULL)
			break;
		(*n)++;
	}
	closedir(dir);
	if (*n > 0)
		qsort(v, *n, sizeof(*v), cmp_names);
	*names = v;
	return 0;
}

void
store_list_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Highest V of an existing V.idx: crashed commits leave orphans. */
static unsigned
max_idx_on_disk(const struct store *s, const char *name)
{
	char path[PATH_MAX];
	struct dirent *d;
	unsigned max = 0, v;
	char tail[8];
	DIR *dir;

	img_path(s, name, NULL, path, sizeof(path));
	if ((dir = opendir(path)) == NULL)
		return 0;
	while ((d = readdir(dir)) != NULL)
		if (sscanf(d->d_name, "%u.%7s", &v, tail) == 2 &&
		    strcmp(tail, "idx") == 0 && v > max)
			max = v;
	closedir(dir);
	return max;
}

int
store_commit(struct store *s, const char *name, const struct pimg_index *ix,
    unsigned *version, struct perr *e)
{
	char path[PATH_MAX], tmp[PATH_MAX], leaf[32];
	struct store_image img;
	uint8_t *buf;
	size_t len;
	int fd, lk, rc;

	if ((rc = pimg_index_encode(ix, &buf, &len, e)) < 0)
		return rc;
	img_path(s, name, NULL, path, sizeof(path));
	if ((rc = mkdir_one(path, e)) < 0)
		goto out;
	/* Every chunk file this index names must be durable first. */
	if (syncfs(s->lock_fd) == -1) {
		rc = perr_errno(e, PE_FAIL, "%s: syncfs", s->root);
		goto out;
	}
	img_path(s, name, "new.idx", path, sizeof(path));
	if ((fd = rc = atomic_tmp_open(path, tmp, sizeof(tmp), e)) < 0)
		goto out;
	if (write_all(fd, buf, len) == -1 || fsync(fd) == -1) {
		rc = perr_errno(e, PE_FAIL, "%s", tmp);
		close(fd);
		goto out_tmp;
	}
	close(fd);
	if ((rc = refs_begin(s, name, &img, 0, &lk, e)) < 0)
		goto out_tmp;
	if (img.next <= max_idx_on_disk(s, name))
		img.next = max_idx_on_disk(s, name) + 1;
	*version = img.next++;
	snprintf(leaf, sizeof(leaf), "%u.idx", *version);
	img_path(s, name, leaf, path, sizeof(path));
	if (rename(tmp, path) == -1)
		rc = perr_errno(e, PE_FAIL, "%s", path);
	else if ((rc = atomic_fsync_dir(path, e)) == 0 &&
	    refs_add_version(&img, *version, VS_DRAFT, (long long)time(NULL)))
		rc = perr_set(e, PE_FAIL, "out of memory");
	rc = refs_end(s, &img, lk, rc, e);
	if (rc < 0)
		unlink(path);	/* never visible: refs did not change */
 out_tmp:
	unlink(tmp);
 out:
	free(buf);
	return rc;
}

int
store_load(struct store *s, const char *name, unsigned version,
    struct pimg_index **ix, struct perr *e)
{
	char path[PATH_MAX], leaf[32], *buf;
	size_t len;
	int rc;

	if ((rc = store_resolve(s, name, &version, e)) < 0)
		return rc;
	snprintf(leaf, sizeof(leaf), "%u.idx", version);
	img_path(s, name, leaf, path, sizeof(path));
	if ((rc = read_file(path, PIMG_INDEX_MAX, &buf, &len, e)) < 0)
		return rc;
	rc = pimg_index_decode((uint8_t *)buf, len, path, ix, e);
	free(buf);
	return rc;
}

/* Load refs for a change to NAME:VERSION, which must exist. */
static int
change_begin(struct store *s, const char *name, unsigned version,
    struct store_image *img, struct store_version **v, int *lk,
    struct perr *e)
{
	int rc;

	if ((rc = refs_begin(s, name, img, 1, lk, e)) < 0)
		return rc;
	*v = store_image_find(img, version);
	if (*v == NULL) {
		lock_release(*lk);
		store_image_clear(img);
		return perr_set(e, PE_NOTFOUND, "image %s:%u: no such version",
		    name, version);
	}
	return 0;
}

int
store_validate(struct store *s, const char *name, unsigned version,
    struct perr *e)
{
	struct store_image img;
	struct store_version *v;
	struct perr pe;
	size_t npkg;
	int lk, rc;

	/* what it holds, read before: outside the image's lock (the disk
	 * is written out whole); a draft that is not there fails below */
	store_packages_collect(s, name, version, &npkg, &pe);
	if ((rc = change_begin(s, name, version, &img, &v, &lk, e)) < 0)
		return rc;
	v->state = VS_VALIDATED;
	return refs_end(s, &img, lk, 0, e);
}

int
store_promote(struct store *s, const char *name, unsigned version,
    struct perr *e)
{
	struct store_image img;
	struct store_version *v;
	int lk, rc = 0;

	if ((rc = change_begin(s, name, version, &img, &v, &lk, e)) < 0)
		return rc;
	if (v->state != VS_VALIDATED)
		rc = perr_set(e, PE_CONFLICT, "image %s:%u: is a draft; "
		    "validate it first", name, version);
	else if (img.current != version) {
		if (img.current && refs_add_history(&img, img.current))
			rc = perr_set(e, PE_FAIL, "out of memory");
		img.current = version;
	}
	if (rc < 0) {
		lock_release(lk);
		store_image_clear(&img);
		return rc;
	}
	return refs_end(s, &img, lk, 0, e);
}

int
store_rollback(struct store *s, const char *name, unsigned *now,
    struct perr *e)
{
	struct store_image img;
	int lk, rc;

	if ((rc = refs_begin(s, name, &img, 1, &lk, e)) < 0)
		return rc;
	while (img.nhist > 0 && (img.history[img.nhist - 1] == img.current ||
	    store_image_find(&img, img.history[img.nhist - 1]) == NULL))
		img.nhist--;
	if (img.nhist == 0) {
		lock_release(lk);
		store_image_clear(&img);
		return perr_set(e, PE_CONFLICT, "image %s: no previous "
		    "version to roll back to", name);
	}
	img.current = img.history[--img.nhist];
	*now = img.current;
	return refs_end(s, &img, lk, 0, e);
}

int
store_rm(struct store *s, const char *name, unsigned version,
    struct perr *e)
{
	char path[PATH_MAX], leaf[32];
	struct store_image img;
	struct store_version *v;
	size_t i;
	int lk, rc;

	if ((rc = change_begin(s, name, version, &img, &v, &lk, e)) < 0)
		return rc;
	if (img.current == version) {
		lock_release(lk);
		store_image_clear(&img);
		return perr_set(e, PE_CONFLICT, "image %s:%u: is current; "
		    "promote or roll back to another version first", name,
		    version);
	}
	i = (size_t)(v - img.v);
	memmove(v, v + 1, (img.nv - i - 1) * sizeof(*v));
	img.nv--;
	/* refs first: a crash leaves an orphan index that gc drops */
	if ((rc = refs_write(s, &img, e)) == 0) {
		snprintf(leaf, sizeof(leaf), "%u.idx", version);
		img_path(s, name, leaf, path, sizeof(path));
		unlink(path);
	}
	lock_release(lk);
	store_image_clear(&img);
	return rc;
}

int
store_copy(struct store *s, const char *name, unsigned version,
    const char *newname, unsigned *newversion, struct perr *e)
{
	struct pimg_index *ix;
	int rc;

	if ((rc = store_load(s, name, version, &ix, e)) < 0)
		return rc;
	rc = store_commit(s, newname, ix, newversion, e);
	pimg_index_free(ix);
	return rc;
}
