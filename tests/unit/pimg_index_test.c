/* pimg_index_test.c -- index bytes <-> struct, and the .pimg tail. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "perr.h"
#include "pimg.h"

static struct pimg_index *
sample(int codec, uint64_t disk)
{
	struct pimg_index *ix;
	struct perr e;
	uint32_t i;

	CHECK(pimg_index_new(codec, 1u << 20, disk, &ix, &e) == 0);
	for (i = 0; i < ix->nchunks; i++) {
		ix->e[i].comp_len = 1000 + i;
		ix->e[i].crc32 = 0x1234 * i;
		ix->e[i].flags = i % 3 == 0 ? PIMG_F_ZERO : 0;
		memset(ix->e[i].hash, (int)i, HASH_BYTES);
	}
	pimg_disk_hash(ix, ix->disk_hash);
	CHECK(pimg_index_set_meta(ix, "root=2\nos=debian\n", &e) == 0);
	pimg_index_layout(ix);
	return ix;
}

static void
round_trip(void)
{
	struct pimg_index *ix = sample(PIMG_CODEC_GZIP, (5u << 20) + 513);
	struct pimg_index *back;
	struct perr e;
	uint8_t *buf;
	size_t len;

	CHECK(ix->nchunks == 6 && ix->e[5].raw_len == 513);
	CHECK(pimg_index_encode(ix, &buf, &len, &e) == 0);
	CHECK(len == PIMG_HEADER_BYTES + 17 + 6 * PIMG_ENTRY_BYTES +
	    HASH_BYTES);
	CHECK(pimg_index_decode(buf, len, "t", &back, &e) == 0);
	CHECK(back->nchunks == 6 && back->disk_size == ix->disk_size);
	CHECK(strcmp(back->meta, "root=2\nos=debian\n") == 0);
	CHECK(memcmp(back->e, ix->e, 6 * sizeof(*ix->e)) == 0);
	CHECK(memcmp(back->disk_hash, ix->disk_hash, HASH_BYTES) == 0);
	pimg_index_free(back);
	free(buf);
	pimg_index_free(ix);
}

/* Every flipped byte must be refused: the trailing SHA-256 covers all. */
static void
any_flip_refused(void)
{
	struct pimg_index *ix = sample(PIMG_CODEC_ZSTD, 3u << 20), *back;
	struct perr e;
	uint8_t *buf;
	size_t len, i;
	int bad = 0;

	CHECK(pimg_index_encode(ix, &buf, &len, &e) == 0);
	for (i = 0; i < len; i++) {
		buf[i] ^= 0x40;
		if (pimg_index_decode(buf, len, "t", &back, &e) != -PE_DATA)
			bad++;
		buf[i] ^= 0x40;
	}
	CHECK(bad == 0);
	CHECK(pimg_index_decode(buf, len - 1, "t", &back, &e) == -PE_DATA);
	CHECK(pimg_index_decode(buf, 10, "t", &back, &e) == -PE_DATA);
	CHECK(strcmp(e.msg, "t: not a pipol index") == 0);
	free(buf);
	pimg_index_free(ix);
}

/* A well-checksummed index that lies about its geometry is refused. */
static void
lies_refused(void)
{
	struct pimg_index *ix = sample(PIMG_CODEC_GZIP, 4u << 20), *back;
	struct perr e;
	uint8_t *buf;
	size_t len;

	ix->e[2].disk_off += 1;
	CHECK(pimg_index_encode(ix, &buf, &len, &e) == 0);
	CHECK(pimg_index_decode(buf, len, "t", &back, &e) == -PE_DATA);
	CHECK(strstr(e.msg, "chunk 2: disk offset") != NULL);
	free(buf);
	ix->e[2].disk_off -= 1;
	ix->e[1].comp_len = 3u << 20;
	CHECK(pimg_index_encode(ix, &buf, &len, &e) == 0);
	CHECK(pimg_index_decode(buf, len, "t", &back, &e) == -PE_DATA);
	CHECK(strstr(e.msg, "bad compressed length") != NULL);
	free(buf);
	ix->e[1].comp_len = 100;
	ix->chunk_size = 3u << 20;
	CHECK(pimg_index_encode(ix, &buf, &len, &e) == 0);
	CHECK(pimg_index_decode(buf, len, "t", &back, &e) == -PE_DATA);
	CHECK(strstr(e.msg, "bad chunk size") != NULL);
	free(buf);
	pimg_index_free(ix);
}

static void
tail_round_trip(int codec)
{
	struct pimg_index *ix = sample(codec, 70u << 20), *back = NULL;
	char path[] = "/tmp/pimg-test.XXXXXX";
	uint64_t members = pimg_index_layout(ix);
	struct perr e;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	/* fake members: the tail reader only checks their total length */
	CHECK(ftruncate(fd, (off_t)members) == 0);
	CHECK(lseek(fd, 0, SEEK_END) == (off_t)members);
	CHECK(pimg_file_write_tail(fd, ix, members, &e) == 0);
	CHECK(pimg_file_read_index(fd, (uint64_t)lseek(fd, 0, SEEK_END),
	    "t", &back, &e) == 0);
	CHECK(back != NULL && back->nchunks == 70);
	if (back != NULL)
		CHECK(memcmp(back->e, ix->e, 70 * sizeof(*ix->e)) == 0);
	pimg_index_free(back);
	/* members shorter than the index claims: refused, named */
	CHECK(pimg_file_write_tail(fd, ix, members - 1, &e) == 0);
	CHECK(pimg_file_read_index(fd, (uint64_t)lseek(fd, 0, SEEK_END),
	    "t", &back, &e) == -PE_DATA);
	CHECK(pimg_file_read_index(fd, members, "t", &back, &e) ==
	    -PE_NOTFOUND);
	close(fd);
	unlink(path);
	pimg_index_free(ix);
}

static void
tail_gzip(void)
{
	tail_round_trip(PIMG_CODEC_GZIP);
}

static void
tail_zstd(void)
{
	tail_round_trip(PIMG_CODEC_ZSTD);
}

/* 70k chunks: the index spans several gzip carrier members. */
static void
tail_many_carriers(void)
{
	struct pimg_index *ix, *back = NULL;
	char path[] = "/tmp/pimg-test.XXXXXX";
	struct perr e;
	uint64_t members;
	int fd = mkstemp(path);

	CHECK(pimg_index_new(PIMG_CODEC_GZIP, 1u << 20, 70000ull << 20, &ix,
	    &e) == 0);
	for (uint32_t i = 0; i < ix->nchunks; i++)
		ix->e[i].comp_len = 20;
	pimg_disk_hash(ix, ix->disk_hash);
	members = pimg_index_layout(ix);
	CHECK(ftruncate(fd, (off_t)members) == 0);
	CHECK(lseek(fd, 0, SEEK_END) == (off_t)members);
	CHECK(pimg_file_write_tail(fd, ix, members, &e) == 0);
	CHECK(pimg_file_read_index(fd, (uint64_t)lseek(fd, 0, SEEK_END),
	    "t", &back, &e) == 0);
	CHECK(back != NULL && back->nchunks == 70000);
	pimg_index_free(back);
	pimg_index_free(ix);
	close(fd);
	unlink(path);
}

/* The disk hash binds the chunk hashes: a changed one is refused. */
static void
disk_hash_binds_chunks(void)
{
	struct pimg_index *ix = sample(PIMG_CODEC_GZIP, 3u << 20), *back;
	struct perr e;
	uint8_t *buf;
	size_t len;

	ix->e[1].hash[7] ^= 1;
	CHECK(pimg_index_encode(ix, &buf, &len, &e) == 0);
	CHECK(pimg_index_decode(buf, len, "t", &back, &e) == -PE_DATA);
	CHECK(strcmp(e.msg, "t: index: disk hash does not match its chunks")
	    == 0);
	free(buf);
	pimg_index_free(ix);
}

/* disk_size near 2^64 must not wrap the chunk count into "0 chunks" */
static void
huge_disk_refused(void)
{
	struct pimg_index *ix = sample(PIMG_CODEC_GZIP, 1u << 20), *back;
	struct perr e;
	uint8_t *buf;
	size_t len;

	ix->disk_size = UINT64_MAX;
	ix->nchunks = 0;
	CHECK(pimg_index_encode(ix, &buf, &len, &e) == 0);
	CHECK(pimg_index_decode(buf, len, "t", &back, &e) == -PE_DATA);
	free(buf);
	ix->nchunks = 1;
	pimg_index_free(ix);
}

int
main(void)
{
	RUN(round_trip);
	RUN(any_flip_refused);
	RUN(lies_refused);
	RUN(tail_gzip);
	RUN(tail_zstd);
	RUN(tail_many_carriers);
	RUN(huge_disk_refused);
	RUN(disk_hash_binds_chunks);
	DONE();
}
