/*
 * store_chunks.c -- content-addressed chunk files and gc.
 * Layout: STATE/store/chunks/HASH.EXT, EXT "gz" or "zst": one flat
 * folder, so that a static HTTP server rooted at STATE/store serves the
 * URLs of docs/protocol.md as they are. A chunk file is immutable once
 * renamed into place.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "perr.h"
#include "store.h"

const char *
store_state_dir(const char *opt)
{
	const char *env = getenv("PIPOL_STATE");

	if (opt != NULL && *opt != '\0')
		return opt;
	if (env != NULL && *env != '\0')
		return env;
	return "/var/lib/pipol";
}

/* The shared lock, with a bounded wait: STORE_SHARED_NOWAIT. */
static int
lock_try_shared(const char *path, struct perr *e)
{
	const struct timespec pause = { 0, STORE_NOWAIT_MS * 1000000L };
	int fd, tries = 0;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1)
		return perr_errno(e, PE_FAIL, "%s", path);
	while (flock(fd, LOCK_SH | LOCK_NB) == -1) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			perr_errno(e, PE_FAIL, "%s: lock", path);
			close(fd);
			return -PE_FAIL;
		}
		if (++tries >= STORE_NOWAIT_TRIES) {
			close(fd);
			return perr_set(e, PE_UNAVAIL, "store busy (image gc "
			    "running?), try again");
		}
		nanosleep(&pause, NULL);
	}
	return fd;
}

int
store_open(const char *state_dir, int how, struct store **out,
    struct perr *e)
{
	static const char *dirs[] = { "", "/chunks", "/images", "/tmp" };
	char path[PATH_MAX];
	struct store *s;
	size_t i;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	s->lock_fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	if (snprintf(s->root, sizeof(s->root), "%s/store", state_dir) >=
	    (int)sizeof(s->root)) {
		rc = perr_set(e, PE_USAGE, "%s: path too long", state_dir);
		goto err;
	}
	if ((rc = mkdir_one(state_dir, e)) < 0)
		goto err;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", s->root, dirs[i]);
		if ((rc = mkdir_one(path, e)) < 0)
			goto err;
	}
	snprintf(path, sizeof(path), "%s/lock", s->root);
	if (how == STORE_SHARED_NOWAIT)
		rc = lock_try_shared(path, e);
	else
		rc = lock_take(path, how == STORE_EXCLUSIVE ? LOCK_EX : LOCK_SH,
		    e);
	if (rc < 0)
		goto err;
	s->lock_fd = rc;
	*out = s;
	return 0;
 err:
	store_close(s);
	return rc;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	lock_release(s->lock_fd);
	pthread_mutex_destroy(&s->mu);
	free(s->added);
	free(s);
}

void
store_chunk_path(const struct store *s, int codec, const uint8_t h[HASH_BYTES],
    char *buf, size_t len)
{
	char hex[HASH_HEX];

	hash_hex(h, hex);
	snprintf(buf, len, "%s/chunks/%s.%s", s->root, hex,
	    pimg_codec_ext(codec));
}

int
store_chunk_size(const struct store *s, int codec, const uint8_t h[HASH_BYTES],
    uint64_t *size)
{
	char path[PATH_MAX];
	struct stat st;

	store_chunk_path(s, codec, h, path, sizeof(path));
	if (stat(path, &st) == -1)
		return -PE_NOTFOUND;
	*size = (uint64_t)st.st_size;
	return 0;
}

static void
remember_added(struct store *s, int codec, const uint8_t h[HASH_BYTES])
{
	struct store_added *n;

	pthread_mutex_lock(&s->mu);
	if (s->nadded == s->capadded) {
		n = realloc(s->added, (s->capadded * 2 + 64) * sizeof(*n));
		if (n == NULL) {	/* only costs gc some work later */
			pthread_mutex_unlock(&s->mu);
			return;
		}
		s->added = n;
		s->capadded = s->capadded * 2 + 64;
	}
	memcpy(s->added[s->nadded].hash, h, HASH_BYTES);
	s->added[s->nadded++].codec = codec;
	pthread_mutex_unlock(&s->mu);
}

int
store_chunk_put(struct store *s, int codec, const uint8_t h[HASH_BYTES],
    const void *buf, size_t len, int *added, struct perr *e)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	uint64_t have;
	int fd;

	*added = 0;
	if (store_chunk_size(s, codec, h, &have) == 0)
		return 0;
	store_chunk_path(s, codec, h, path, sizeof(path));
	if ((fd = atomic_tmp_open(path, tmp, sizeof(tmp), e)) < 0)
		return fd;
	if (write_all(fd, buf, len) == -1 || fdatasync(fd) == -1) {
		perr_errno(e, PE_FAIL, "%s", tmp);
		close(fd);
		unlink(tmp);
		return -PE_FAIL;
	}
	close(fd);
	/* Rename after fdatasync: a visible chunk is always a whole one.
	 * The folder is synced once, by store_commit, before any index
	 * that names this chunk becomes visible. */
	if (rename(tmp, path) == -1) {
		perr_errno(e, PE_FAIL, "%s", path);
		unlink(tmp);
		return -PE_FAIL;
	}
	remember_added(s, codec, h);
	*added = 1;
	return 0;
}

int
store_chunk_read(const struct store *s, int codec,
    const uint8_t h[HASH_BYTES], void *buf, size_t len, struct perr *e)
{
	char path[PATH_MAX], hex[HASH_HEX];
	struct stat st;
	long long n;
	int fd;

	store_chunk_path(s, codec, h, path, sizeof(path));
	hash_hex(h, hex);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return perr_errno(e, errno == ENOENT ? PE_DATA : PE_FAIL,
		    "chunk %s", hex);
	if (fstat(fd, &st) == -1 || (uint64_t)st.st_size != len) {
		close(fd);
		return perr_set(e, PE_DATA, "chunk %s: %lld bytes, index says "
		    "%zu", hex, (long long)st.st_size, len);
	}
	n = pread_all(fd, buf, len, 0);
	close(fd);
	if (n != (long long)len)
		return perr_errno(e, PE_FAIL, "chunk %s: read", hex);
	return 0;
}
