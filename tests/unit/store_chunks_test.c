/* store_chunks_test.c -- chunk files linked with no-replace semantics:
 * a good chunk already there is kept (same inode), a corrupt one is
 * quarantined and replaced, concurrent writers of one chunk (threads,
 * processes) all succeed and leave one good file and no temp file. */
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "harness.h"
#include "hash.h"
#include "perr.h"
#include "pimg.h"
#include "store.h"

#define RAW_LEN		(256u << 10)
#define WRITERS		8

static char state[] = "/tmp/store_chunks_test.XXXXXX";
static struct store *st;
static unsigned char raw[RAW_LEN], comp[PIMG_COMP_MAX(RAW_LEN)];
static size_t comp_len;
static uint8_t h[HASH_BYTES];

/* A fresh chunk (seed makes it differ from the others) in comp/h. */
static void
make_chunk(unsigned seed)
{
	struct pimg_coder *c = pimg_coder_new(PIMG_CODEC_GZIP, 0);
	unsigned i, x = seed;
	struct perr e;

	for (i = 0; i < RAW_LEN; i++) {
		x = x * 1103515245u + 12345u;
		raw[i] = (i & 8192) ? 0 : (unsigned char)('a' + (x >> 16) % 9);
	}
	hash_buf(raw, RAW_LEN, h);
	CHECK(c != NULL);
	CHECK(pimg_chunk_encode(c, raw, RAW_LEN, comp, sizeof(comp),
	    &comp_len, &e) == 0);
	pimg_coder_free(c);
}

static ino_t
inode(void)
{
	char path[PATH_MAX];
	struct stat sb;

	store_chunk_path(st, PIMG_CODEC_GZIP, h, path, sizeof(path));
	return stat(path, &sb) == 0 ? sb.st_ino : 0;
}

/* Files under STATE/store/chunks whose name holds ".tmp." */
static int
temps_left(void)
{
	char path[PATH_MAX];
	struct dirent *d;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/chunks", st->root);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL)
		n += strstr(d->d_name, ".tmp.") != NULL;
	closedir(dir);
	return n;
}

static int
put(int *added)
{
	struct perr e;

	return store_chunk_put(st, PIMG_CODEC_GZIP, h, comp, comp_len, added,
	    &e);
}

static void
new_chunk_added(void)
{
	int added = -1;

	make_chunk(1);
	CHECK(put(&added) == 0);
	CHECK(added == 1);
	CHECK(store_chunk_good(st, PIMG_CODEC_GZIP, h) == 1);
	CHECK(temps_left() == 0);
}

static void
existing_good_kept(void)
{
	ino_t before;
	int added = -1;

	make_chunk(2);
	CHECK(put(&added) == 0);
	before = inode();
	CHECK(before != 0);
	CHECK(put(&added) == 0);
	CHECK(added == 0);
	CHECK(inode() == before);
	CHECK(temps_left() == 0);
}

/* The stored file of the current chunk, rewritten in place: its bytes
 * with one flipped at off (the same size), or cut to len. */
static void
damage(size_t off, size_t len)
{
	char path[PATH_MAX];
	unsigned char *bad = malloc(comp_len);
	int fd;

	CHECK(bad != NULL);
	memcpy(bad, comp, comp_len);
	if (off < comp_len)
		bad[off] ^= 0x5a;
	store_chunk_path(st, PIMG_CODEC_GZIP, h, path, sizeof(path));
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0);
	CHECK(write_all(fd, bad, len) == 0);
	close(fd);
	free(bad);
}

static void
existing_corrupt(size_t off, size_t len)
{
	char q[PATH_MAX], hex[HASH_HEX];
	struct stat sb;
	ino_t before;
	int added = -1;

	CHECK(put(&added) == 0);
	damage(off, len);
	before = inode();
	CHECK(store_chunk_good(st, PIMG_CODEC_GZIP, h) == 0);
	CHECK(put(&added) == 0);
	CHECK(added == 1);
	CHECK(inode() != before);
	CHECK(store_chunk_good(st, PIMG_CODEC_GZIP, h) == 1);
	hash_hex(h, hex);
	snprintf(q, sizeof(q), "%s/quarantine/%s.gz", st->root, hex);
	CHECK(stat(q, &sb) == 0 && sb.st_ino == before);
	CHECK(temps_left() == 0);
}

static void
existing_corrupt_replaced(void)
{
	make_chunk(3);
	existing_corrupt(comp_len / 2, comp_len);	/* a byte changed */
}

static void
existing_truncated_replaced(void)
{
	make_chunk(4);
	existing_corrupt(comp_len, comp_len / 3);	/* cut short */
}

static pthread_barrier_t go;
static int thread_rc[WRITERS], thread_added[WRITERS];

static void *
writer(void *arg)
{
	size_t i = (size_t)(uintptr_t)arg;

	pthread_barrier_wait(&go);
	thread_rc[i] = put(&thread_added[i]);
	return NULL;
}

static void
threads_race(void)
{
	pthread_t th[WRITERS];
	int i, added = 0;

	make_chunk(5);
	pthread_barrier_init(&go, NULL, WRITERS);
	for (i = 0; i < WRITERS; i++)
		pthread_create(&th[i], NULL, writer, (void *)(uintptr_t)i);
	for (i = 0; i < WRITERS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < WRITERS; i++) {
		CHECK(thread_rc[i] == 0);
		added += thread_added[i];
	}
	CHECK(added == 1);	/* one linked it, the others found it good */
	CHECK(store_chunk_good(st, PIMG_CODEC_GZIP, h) == 1);
	CHECK(temps_left() == 0);
}

/* Processes, each with its own store handle, as pipold and the CLI. */
static void
processes_race(void)
{
	int i, status, ok = 0, pipefd[2];
	pid_t pid[WRITERS];
	char c;

	make_chunk(6);
	CHECK(pipe(pipefd) == 0);
	for (i = 0; i < WRITERS; i++) {
		if ((pid[i] = fork()) == 0) {
			struct store *mine;
			struct perr e;
			int added;

			close(pipefd[1]);
			if (read(pipefd[0], &c, 1) != 0)	/* start */
				_exit(3);
			if (store_open(state, STORE_SHARED, &mine, &e) < 0)
				_exit(2);
			if (store_chunk_put(mine, PIMG_CODEC_GZIP, h, comp,
			    comp_len, &added, &e) < 0)
				_exit(1);
			store_close(mine);
			_exit(0);
		}
	}
	close(pipefd[0]);
	close(pipefd[1]);	/* every writer starts now */
	for (i = 0; i < WRITERS; i++)
		if (waitpid(pid[i], &status, 0) == pid[i] &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
	CHECK(ok == WRITERS);
	CHECK(store_chunk_good(st, PIMG_CODEC_GZIP, h) == 1);
	CHECK(temps_left() == 0);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb, (void)flag, (void)f;
	return remove(path);
}

static void
absent_not_good(void)
{
	make_chunk(7);
	CHECK(store_chunk_good(st, PIMG_CODEC_GZIP, h) == 0);
}

int
main(void)
{
	struct perr e;

	if (mkdtemp(state) == NULL ||
	    store_open(state, STORE_SHARED, &st, &e) < 0) {
		printf("not ok - store_open\n");
		return 1;
	}
	RUN(new_chunk_added);
	RUN(existing_good_kept);
	RUN(existing_corrupt_replaced);
	RUN(existing_truncated_replaced);
	RUN(threads_race);
	RUN(processes_race);
	RUN(absent_not_good);
	store_close(st);
	nftw(state, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	DONE();
}
