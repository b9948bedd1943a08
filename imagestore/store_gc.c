/*
 * store_gc.c -- drop what no version uses: chunk files, the base files
 * of virtual nodes (store_bases.c) whose disk hash no version has,
 * orphan index files left by a crash between index and refs, and
 * temporary files.
 * Runs under the exclusive store lock, so no command is adding.
 */
#include <sys/stat.h>
#include <sys/file.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perr.h"
#include "store.h"

#define KEY_BASE	(-1)	/* a key's "codec" for a base file's disk hash */

struct keyset {
	struct store_added *k;	/* (hash, codec), sorted */
	size_t n, cap;
};

static int
key_cmp(const void *a, const void *b)
{
	const struct store_added *x = a, *y = b;
	int c = memcmp(x->hash, y->hash, HASH_BYTES);

	return c ? c : x->codec - y->codec;
}

static int
keyset_add_index(struct keyset *ks, const struct pimg_index *ix)
{
	struct store_added *n;
	uint32_t i;

	if (ks->n + ix->nchunks + 1 > ks->cap) {
		n = realloc(ks->k, (ks->n + ix->nchunks + 1025) * sizeof(*n));
		if (n == NULL)
			return -1;
		ks->k = n;
		ks->cap = ks->n + ix->nchunks + 1025;
	}
	for (i = 0; i < ix->nchunks; i++) {
		memcpy(ks->k[ks->n].hash, ix->e[i].hash, HASH_BYTES);
		ks->k[ks->n++].codec = (int)ix->codec;
	}
	memcpy(ks->k[ks->n].hash, ix->disk_hash, HASH_BYTES);
	ks->k[ks->n++].codec = KEY_BASE;
	return 0;
}

/* Remove V.idx files that refs does not list, and stray temp files. */
static void
drop_orphans(struct store *s, const struct store_image *img)
{
	char path[PATH_MAX];
	struct dirent *d;
	unsigned v;
	char tail[8];
	DIR *dir;

	snprintf(path, sizeof(path), "%s/images/%s", s->root, img->name);
	if ((dir = opendir(path)) == NULL)
		return;
	while ((d = readdir(dir)) != NULL) {
		int orphan = sscanf(d->d_name, "%u.%7s", &v, tail) == 2 &&
		    strcmp(tail, "idx") == 0 && !store_image_find(img, v);

		if (orphan || strstr(d->d_name, ".tmp.") != NULL) {
			snprintf(path, sizeof(path), "%s/images/%s/%s",
			    s->root, img->name, d->d_name);
			unlink(path);
		}
	}
	closedir(dir);
}

/* Keys of every chunk a version uses. Walks the image folders, not only
 * those with refs: a crash during a first commit leaves a folder with
 * an orphan index and no refs, which drop_orphans clears. */
static int
collect_used(struct store *s, struct keyset *ks, struct perr *e)
{
	char path[PATH_MAX];
	struct store_image img;
	struct pimg_index *ix;
	struct dirent *d;
	size_t j;
	DIR *dir;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/images", s->root);
	if ((dir = opendir(path)) == NULL)
		return perr_errno(e, PE_FAIL, "%s", path);
	while (rc == 0 && (d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' || store_name_check(d->d_name, NULL))
			continue;
		rc = store_image_get(s, d->d_name, &img, e);
		if (rc == -PE_NOTFOUND) {
			memset(&img, 0, sizeof(img));
			snprintf(img.name, sizeof(img.name), "%s", d->d_name);
			rc = 0;
		}
		if (rc < 0)
			break;
		drop_orphans(s, &img);
		for (j = 0; j < img.nv && rc == 0; j++) {
			rc = store_load(s, img.name, img.v[j].version, &ix, e);
			if (rc == 0 && keyset_add_index(ks, ix) < 0)
				rc = perr_set(e, PE_FAIL, "out of memory");
			pimg_index_free(ix);
			ix = NULL;
		}
		if (img.nv == 0) {	/* nothing left: drop the folder too */
			snprintf(path, sizeof(path), "%s/images/%s", s->root,
			    img.name);
			rmdir(path);
		}
		store_image_clear(&img);
	}
	closedir(dir);
	if (rc == 0 && ks->n > 0)
		qsort(ks->k, ks->n, sizeof(*ks->k), key_cmp);
	return rc;
}

static int
chunk_name_key(const char *leaf, struct store_added *k)
{
	char hex[HASH_HEX];

	if (strlen(leaf) < 64 + 3 || leaf[64] != '.')
		return -1;
	memcpy(hex, leaf, 64);
	hex[64] = '\0';
	if (hash_from_hex(hex, k->hash) < 0)
		return -1;
	if (strcmp(leaf + 65, "gz") == 0)
		k->codec = PIMG_CODEC_GZIP;
	else if (strcmp(leaf + 65, "zst") == 0)
		k->codec = PIMG_CODEC_ZSTD;
	else if (strcmp(leaf + 65, "raw") == 0)
		k->codec = KEY_BASE;
	else
		return -1;
	return 0;
}

static void
sweep_dir(const char *dir, const struct keyset *ks, uint64_t *nfreed,
    uint64_t *bytes)
{
	char path[PATH_MAX];
	struct store_added k;
	struct dirent *d;
	struct stat st;
	DIR *dp;

	if ((dp = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		if (chunk_name_key(d->d_name, &k) == 0 && (ks->n > 0 &&
		    bsearch(&k, ks->k, ks->n, sizeof(k), key_cmp) != NULL))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
			continue;
		if (unlink(path) == 0) {
			(*nfreed)++;
			*bytes += (uint64_t)st.st_size;
		}
	}
	closedir(dp);
}

int
store_gc(struct store *s, uint64_t *nfreed, uint64_t *bytes, struct perr *e)
{
	struct keyset ks = { 0 };
	char path[PATH_MAX];
	int rc;

	*nfreed = *bytes = 0;
	if ((rc = collect_used(s, &ks, e)) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/chunks", s->root);
	sweep_dir(path, &ks, nfreed, bytes);
	snprintf(path, sizeof(path), "%s/tmp", s->root);
	sweep_dir(path, &ks, nfreed, bytes);
	snprintf(path, sizeof(path), "%s/bases", s->root);
	sweep_dir(path, &ks, nfreed, bytes);
	if (syncfs(s->lock_fd) == -1)
		rc = perr_errno(e, PE_FAIL, "%s: syncfs", s->root);
 out:
	free(ks.k);
	return rc;
}

void
store_undo_added(struct store *s)
{
	struct keyset ks = { 0 };
	char path[PATH_MAX];
	size_t i;

	if (s->nadded == 0 || s->lock_fd < 0)
		return;
	/* Converting our shared lock fails while another command holds
	 * the store: it may be about to use these chunks; gc will judge. */
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) == -1)
		return;
	/* A command that ran and finished meanwhile may have committed a
	 * version that uses what we added: keep whatever a version uses. */
	if (collect_used(s, &ks, NULL) < 0) {
		free(ks.k);
		return;
	}
	for (i = 0; i < s->nadded; i++) {
		if (ks.n > 0 && bsearch(&s->added[i], ks.k, ks.n,
		    sizeof(*ks.k), key_cmp) != NULL)
			continue;
		store_chunk_path(s, s->added[i].codec, s->added[i].hash, path,
		    sizeof(path));
		unlink(path);
	}
	s->nadded = 0;
	free(ks.k);
}
