/*
 * store_chunks.c -- content-addressed chunk files and gc.
 * Layout: STATE/store/chunks/HASH.EXT, EXT "gz" or "zst": one flat
 * folder, so that a static HTTP server rooted at STATE/store serves the
 * URLs of docs/protocol.md as they are. A chunk file is immutable once
 * in place: it is linked there with no-replace semantics, so that of
 * two writers of one chunk (concurrent capture uploads) the second
 * finds the first's file; that file is checked (it must decode to
 * bytes of its name's SHA-256) and kept, or, when bad, moved to
 * STATE/store/quarantine (as image verify --repair does) and replaced
 * in one rename, so that a reader sees the bad chunk or the good one,
 * never none.
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
#include "hash.h"
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
	static const char *dirs[] = { "", "/chunks", "/images", "/tmp",
	    "/bases" };
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
store_chunk_good(const struct store *s, int codec,
    const uint8_t h[HASH_BYTES])
{
	char path[PATH_MAX], *comp = NULL;
	struct pimg_coder *c = NULL;
	uint8_t got[HASH_BYTES], *raw = NULL;
	uint64_t raw_len;
	struct perr e;
	uint32_t crc;
	size_t len;
	int good = 0;

	store_chunk_path(s, codec, h, path, sizeof(path));
	if (read_file(path, PIMG_COMP_MAX(PIMG_CHUNK_MAX), &comp, &len,
	    &e) < 0)
		return 0;
	if (pimg_chunk_raw_len(codec, comp, len, &raw_len, &e) < 0 ||
	    raw_len == 0 || raw_len > PIMG_CHUNK_MAX ||
	    (raw = malloc(raw_len)) == NULL ||
	    (c = pimg_coder_new(codec, 0)) == NULL)
		goto out;
	if (pimg_chunk_decode(c, comp, len, raw, raw_len, &crc, &e) == 0) {
		hash_buf(raw, raw_len, got);
		good = memcmp(got, h, HASH_BYTES) == 0;
	}
 out:
	pimg_coder_free(c);
	free(raw);
	free(comp);
	return good;
}

/* tmp -> path, unless path exists (then -1, errno EEXIST). renameat2
 * where the file system takes RENAME_NOREPLACE, else link + unlink. */
static int
link_noreplace(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (link(tmp, path) == -1)
		return -1;
	unlink(tmp);
	return 0;
}

/* Keep a copy of the bad chunk at path for the admin, in
 * STATE/store/quarantine; best effort (the replacement goes on). A
 * copy already there stays: of two writers that found the chunk bad,
 * the second may link the first's good replacement. */
static void
quarantine(const struct store *s, int codec, const uint8_t h[HASH_BYTES],
    const char *path)
{
	char to[PATH_MAX], hex[HASH_HEX];

	hash_hex(h, hex);
	snprintf(to, sizeof(to), "%s/quarantine", s->root);
	mkdir(to, 0755);
	snprintf(to, sizeof(to), "%s/quarantine/%s.%s", s->root, hex,
	    pimg_codec_ext(codec));
	link(path, to);
}

/* The whole chunk in a temp file beside path, synced; its name in tmp. */
static int
chunk_tmp_write(const char *path, char *tmp, size_t tmplen,
    const void *buf, size_t len, struct perr *e)
{
	int fd;

	if ((fd = atomic_tmp_open(path, tmp, tmplen, e)) < 0)
		return fd;
	if (write_all(fd, buf, len) == -1 || fdatasync(fd) == -1) {
		perr_errno(e, PE_FAIL, "%s", tmp);
		close(fd);
		unlink(tmp);
		return -PE_FAIL;
	}
	close(fd);
	return 0;
}

int
store_chunk_put(struct store *s, int codec, const uint8_t h[HASH_BYTES],
    const void *buf, size_t len, int *added, struct perr *e)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	uint64_t have;
	int rc;

	*added = 0;
	if (store_chunk_size(s, codec, h, &have) == 0 &&
	    store_chunk_good(s, codec, h))
		return 0;
	store_chunk_path(s, codec, h, path, sizeof(path));
	if ((rc = chunk_tmp_write(path, tmp, sizeof(tmp), buf, len, e)) < 0)
		return rc;
	/* Linked after fdatasync: a visible chunk is always a whole one.
	 * The folder is synced once, by store_commit, before any index
	 * that names this chunk becomes visible. */
	if (link_noreplace(tmp, path) == 0) {
		remember_added(s, codec, h);
		*added = 1;
		return 0;
	}
	if (errno != EEXIST) {
		rc = perr_errno(e, PE_FAIL, "%s", path);
		unlink(tmp);
		return rc;
	}
	/* another writer's, or one that was there and bad */
	if (store_chunk_good(s, codec, h)) {
		unlink(tmp);
		return 0;
	}
	quarantine(s, codec, h, path);
	if (rename(tmp, path) == -1) {
		rc = perr_errno(e, PE_FAIL, "%s", path);
		unlink(tmp);
		return rc;
	}
	*added = 1;	/* not remembered: a version uses it, undo must not
			 * drop it */
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
