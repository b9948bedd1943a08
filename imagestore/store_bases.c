/*
 * store_bases.c -- the read-only base files of virtual nodes' disks
 * (store.h): a validated version's raw disk written once, sparse, to
 * STORE/bases/HASH.raw, HASH its disk hash (pimg_disk_hash), so that
 * versions holding the same disk share one base; made by image_export
 * (every chunk's SHA-256 checked as it is decoded; the file appears
 * whole, by rename), then made read-only. A virtual node's disk is a
 * qcow2 overlay on it: the node's writes only. store_base_check reads
 * a base again and compares each chunk with the index; gc drops the
 * bases no version names (store_gc.c).
 */
#include <sys/stat.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image.h"
#include "perr.h"
#include "store.h"

void
store_base_path(const struct store *s, const struct pimg_index *ix,
    char *buf, size_t len)
{
	char hex[HASH_HEX];

	hash_hex(ix->disk_hash, hex);
	snprintf(buf, len, "%s/bases/%s.raw", s->root, hex);
}

int
store_base_get(struct store *s, const char *name, unsigned version,
    char *path, size_t len, int *made, struct perr *e)
{
	struct store_image img;
	struct store_version *v;
	struct pimg_index *ix = NULL;
	struct stat st;
	int rc, validated;

	*made = 0;
	if ((rc = store_resolve(s, name, &version, e)) < 0 ||
	    (rc = store_image_get(s, name, &img, e)) < 0)
		return rc;
	v = store_image_find(&img, version);
	validated = v != NULL && v->state == VS_VALIDATED;
	store_image_clear(&img);
	if (!validated)
		return perr_set(e, PE_CONFLICT, "%s:%u: not validated: a "
		    "base is made of validated versions only", name, version);
	if ((rc = store_load(s, name, version, &ix, e)) < 0)
		return rc;
	store_base_path(s, ix, path, len);
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size == ix->disk_size)
		goto out;		/* made before */
	if ((rc = image_export(s, name, version, path, 1, 0, e)) < 0)
		goto out;
	if (chmod(path, 0444) == -1) {
		rc = perr_errno(e, PE_FAIL, "%s", path);
		goto out;
	}
	*made = 1;
 out:
	pimg_index_free(ix);
	return rc;
}

int
store_base_check(const char *path, const struct pimg_index *ix,
    struct perr *e)
{
	uint8_t h[HASH_BYTES], *buf;
	struct stat st;
	uint32_t i;
	ssize_t n;
	int fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return perr_errno(e, PE_NOTFOUND, "%s", path);
	if (fstat(fd, &st) == -1 || (uint64_t)st.st_size != ix->disk_size) {
		close(fd);
		return perr_set(e, PE_DATA, "%s: %lld bytes, the index says "
		    "%llu", path, (long long)st.st_size,
		    (unsigned long long)ix->disk_size);
	}
	if ((buf = malloc(ix->chunk_size)) == NULL) {
		close(fd);
		return perr_set(e, PE_FAIL, "out of memory");
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (i = 0; i < ix->nchunks && rc == 0; i++) {
		n = pread(fd, buf, ix->e[i].raw_len,
		    (off_t)i * ix->chunk_size);
		if (n != (ssize_t)ix->e[i].raw_len)
			rc = perr_errno(e, PE_FAIL, "%s: chunk %u", path, i);
		else {
			hash_buf(buf, ix->e[i].raw_len, h);
			if (memcmp(h, ix->e[i].hash, HASH_BYTES) != 0)
				rc = perr_set(e, PE_DATA, "%s: chunk %u (at "
				    "%llu) differs from the index", path, i,
				    (unsigned long long)i * ix->chunk_size);
		}
	}
	free(buf);
	close(fd);
	return rc;
}
