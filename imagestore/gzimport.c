/*
 * gzimport.c -- import: a .pimg is taken without recompression (members
 * checked against its index, then stored as they are); anything else is
 * read as a stream -- any gzip stream (one member or many, any header
 * fields) through zlib, or a zstd stream -- and re-chunked.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "atomic.h"
#include "ingest.h"
#include "perr.h"

#define IMPORT_READ_BYTES	(1u << 20)	/* whole reads, not tiny ones */

struct stream {
	int fd;
	const char *src;
	uint8_t *buf;
	size_t len;		/* bytes in buf */
	uint64_t base;		/* stream offset of buf[0] */
	int eof;
};

static int
stream_fill(struct stream *st, struct perr *e)
{
	ssize_t n;

	do
		n = read(st->fd, st->buf, IMPORT_READ_BYTES);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return perr_errno(e, PE_FAIL, "%s: read at byte %llu", st->src,
		    (unsigned long long)st->base);
	st->eof = n == 0;
	st->len = (size_t)n;
	return 0;
}

/* Chunk buffer being filled by a stream decoder. */
struct filler {
	struct ingest *in;
	struct ingest_job *j;
	uint32_t fill, cs;
};

static int
filler_want(struct filler *f, struct perr *e)
{
	if (f->j != NULL)
		return 0;
	if ((f->j = ingest_next(f->in)) == NULL)
		return -PE_FAIL;
	f->fill = 0;
	(void)e;
	return 0;
}

static int
filler_flush(struct filler *f, int last, struct perr *e)
{
	struct ingest_job *j = f->j;
	int rc;

	if (j == NULL || (f->fill < f->cs && !last))
		return 0;
	f->j = NULL;
	if (f->fill == 0) {
		queue_push(&f->in->freeq, j);
		return 0;
	}
	rc = ingest_submit(f->in, j, f->fill, e);
	return rc < 0 && !f->in->failed ? rc : 0;
}

static int
gz_error(const struct stream *st, const z_stream *z, unsigned member,
    uint64_t member_off, struct perr *e)
{
	const char *m = z->msg ? z->msg : "corrupt data";

	if (strcmp(m, "incorrect data check") == 0)
		m = "CRC mismatch";
	else if (strcmp(m, "incorrect length check") == 0)
		m = "length mismatch";
	else if (strcmp(m, "incorrect header check") == 0 ||
	    strcmp(m, "unknown compression method") == 0)
		return perr_set(e, PE_DATA, "%s: byte %llu: not gzip data",
		    st->src, (unsigned long long)member_off);
	return perr_set(e, PE_DATA, "%s: member %u at byte %llu: %s",
	    st->src, member, (unsigned long long)member_off, m);
}

/*
 * Zeros after the last member: tape and block-device padding, which
 * gzip itself ignores. Anything but zeros up to the end is an error.
 */
static int
zero_padding(struct stream *st, z_stream *z, uint64_t off, struct perr *e)
{
	int rc;

	for (;;) {
		if (!pimg_is_zero(z->next_in, z->avail_in))
			return perr_set(e, PE_DATA, "%s: byte %llu: data after "
			    "zero padding", st->src, (unsigned long long)off);
		st->base += st->len;
		if ((rc = stream_fill(st, e)) < 0)
			return rc;
		if (st->eof)
			return 0;
		z->next_in = st->buf;
		z->avail_in = (uInt)st->len;
	}
}

static int
import_gzip(struct stream *st, struct filler *f, struct perr *e)
{
	uint64_t member_off = 0;
	unsigned member = 0;
	int zr, in_member = 0, rc = 0;
	z_stream z;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return perr_set(e, PE_FAIL, "zlib: out of memory");
	z.next_in = st->buf;
	z.avail_in = (uInt)st->len;
	for (;;) {
		if (z.avail_in == 0) {
			st->base += st->len;
			if ((rc = stream_fill(st, e)) < 0)
				break;
			if (st->eof) {
				if (in_member)
					rc = perr_set(e, PE_DATA, "%s: "
					    "truncated at byte %llu (member %u "
					    "from byte %llu)", st->src,
					    (unsigned long long)st->base,
					    member, (unsigned long long)
					    member_off);
				break;
			}
			z.next_in = st->buf;
			z.avail_in = (uInt)st->len;
		}
		if ((rc = filler_want(f, e)) < 0)
			break;
		z.next_out = f->j->raw + f->fill;
		z.avail_out = f->cs - f->fill;
		in_member = 1;
		zr = inflate(&z, Z_NO_FLUSH);
		f->fill = f->cs - z.avail_out;
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
			rc = gz_error(st, &z, member, member_off, e);
			break;
		}
		if ((rc = filler_flush(f, 0, e)) < 0)
			break;
		if (zr == Z_STREAM_END) {
			member++;
			member_off = st->base + (st->len - z.avail_in);
			in_member = 0;
			inflateReset(&z);
			if (z.avail_in > 0 && *z.next_in == 0) {
				rc = zero_padding(st, &z, member_off, e);
				break;
			}
		}
	}
	inflateEnd(&z);
	return rc;
}

static int
import_zstd(struct stream *st, struct filler *f, struct perr *e)
{
	ZSTD_DStream *ds = ZSTD_createDStream();
	ZSTD_inBuffer zin = { st->buf, st->len, 0 };
	ZSTD_outBuffer zout;
	size_t zr = 0;
	int rc = 0;

	if (ds == NULL)
		return perr_set(e, PE_FAIL, "zstd: out of memory");
	for (;;) {
		if (zin.pos == zin.size) {
			st->base += st->len;
			if ((rc = stream_fill(st, e)) < 0)
				break;
			if (st->eof) {
				if (zr != 0)
					rc = perr_set(e, PE_DATA, "%s: "
					    "truncated at byte %llu", st->src,
					    (unsigned long long)st->base);
				break;
			}
			zin.src = st->buf;
			zin.size = st->len;
			zin.pos = 0;
		}
		if ((rc = filler_want(f, e)) < 0)
			break;
		zout.dst = f->j->raw;
		zout.size = f->cs;
		zout.pos = f->fill;
		zr = ZSTD_decompressStream(ds, &zout, &zin);
		f->fill = (uint32_t)zout.pos;
		if (ZSTD_isError(zr)) {
			rc = perr_set(e, PE_DATA, "%s: near byte %llu: %s",
			    st->src, (unsigned long long)(st->base + zin.pos),
			    ZSTD_getErrorName(zr));
			break;
		}
		if ((rc = filler_flush(f, 0, e)) < 0)
			break;
	}
	ZSTD_freeDStream(ds);
	return rc;
}

/* A zstd frame (28 b5 2f fd) or a skippable frame (5? 2a 4d 18). */
static int
is_zstd_start(const uint8_t *p, size_t len)
{
	if (len < 4)
		return 0;
	return (p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
	    || ((p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d &&
	    p[3] == 0x18);
}

static int
import_stream(struct store *s, const char *name, int fd, const char *src,
    const struct image_opts *o, unsigned *version, struct image_stats *stt,
    struct perr *e)
{
	struct stream st = { fd, src, NULL, 0, 0, 0 };
	struct filler f = { NULL, NULL, 0, 0 };
	int rc, is_gzip;

	if ((st.buf = malloc(IMPORT_READ_BYTES)) == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	if ((rc = stream_fill(&st, e)) < 0)
		goto out;
	is_gzip = st.len >= 2 && st.buf[0] == 0x1f && st.buf[1] == 0x8b;
	if (!is_gzip && !is_zstd_start(st.buf, st.len)) {
		rc = perr_set(e, PE_DATA, "%s: not a gzip or zstd stream", src);
		goto out;
	}
	if ((rc = ingest_begin(s, o, src, &f.in, e)) < 0)
		goto out;
	f.cs = f.in->chunk_size;
	rc = is_gzip ? import_gzip(&st, &f, e) : import_zstd(&st, &f, e);
	if (rc == 0)
		rc = filler_flush(&f, 1, e);
	if (rc == 0 && f.in->nent == 0 && !f.in->failed)
		rc = perr_set(e, PE_DATA, "%s: holds no data", src);
	if (rc == 0 || f.in->failed)
		rc = ingest_finish(f.in, name, o->meta, NULL, version, stt, e);
	ingest_abort(f.in);
 out:
	free(st.buf);
	return rc;
}

static int
import_member(struct ingest *in, struct pimg_coder *c, int fd,
    const struct pimg_index *ix, uint32_t i, struct perr *e)
{
	const struct pimg_entry *w = &ix->e[i];
	struct ingest_job *j;
	uint32_t crc;
	int rc;

	if ((j = ingest_next(in)) == NULL)
		return 0;	/* failed: ingest_finish reports it */
	if (pread_all(fd, j->comp, w->comp_len, (long long)w->file_off) !=
	    (long long)w->comp_len) {
		rc = perr_errno(e, PE_FAIL, "%s: read at byte %llu", in->src,
		    (unsigned long long)w->file_off);
		goto err;
	}
	rc = pimg_chunk_decode(c, j->comp, w->comp_len, j->raw, w->raw_len,
	    &crc, e);
	if (rc == 0 && crc != w->crc32)
		rc = perr_set(e, PE_DATA, "CRC mismatch with the index");
	if (rc < 0) {
		perr_prefix(e, "%s: chunk %u (offset %llu)", in->src, i,
		    (unsigned long long)w->disk_off);
		goto err;
	}
	j->comp_len = w->comp_len;
	j->expect = 1;
	j->want = *w;
	return ingest_submit(in, j, w->raw_len, e) < 0 && !in->failed ?
	    -PE_FAIL : 0;
 err:
	queue_push(&in->freeq, j);
	return rc;
}

static int
import_pimg(struct store *s, const char *name, int fd, const char *src,
    struct pimg_index *ix, const struct image_opts *o0, unsigned *version,
    struct image_stats *st, struct perr *e)
{
	struct image_opts o = *o0;
	struct ingest *in;
	struct pimg_coder *c;
	uint32_t i;
	int rc;

	o.codec = (int)ix->codec;
	o.chunk_size = ix->chunk_size;
	if ((c = pimg_coder_new(o.codec, 0)) == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	if ((rc = ingest_begin(s, &o, src, &in, e)) < 0) {
		pimg_coder_free(c);
		return rc;
	}
	in->prog.total = ix->disk_size;
	for (i = 0; i < ix->nchunks && rc == 0; i++)
		rc = import_member(in, c, fd, ix, i, e);
	if (rc == 0)
		rc = ingest_finish(in, name, o0->meta ? o0->meta : ix->meta,
		    ix->disk_hash, version, st, e);
	ingest_abort(in);
	pimg_coder_free(c);
	return rc;
}

int
image_import(struct store *s, const char *name, const char *path,
    const struct image_opts *o, unsigned *version, struct image_stats *st,
    struct perr *e)
{
	struct pimg_index *ix = NULL;
	struct stat sb;
	int fd, rc;

	if (strcmp(path, "-") == 0) {
		path = "standard input";
		fd = STDIN_FILENO;
	} else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		return perr_errno(e, errno == ENOENT ? PE_NOTFOUND : PE_FAIL,
		    "%s", path);
	}
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		rc = pimg_file_read_index(fd, (uint64_t)sb.st_size, path, &ix,
		    e);
		if (rc == 0) {
			rc = import_pimg(s, name, fd, path, ix, o, version, st,
			    e);
			goto out;
		}
		if (rc != -PE_NOTFOUND)
			goto out;
	}
	rc = import_stream(s, name, fd, path, o, version, st, e);
	if (rc == 0 && st != NULL)
		st->recompressed = 1;
 out:
	pimg_index_free(ix);
	if (fd != STDIN_FILENO)
		close(fd);
	return rc;
}
