/*
 * create.c -- a disk or file -> a new draft. Holes of sparse files are
 * found with SEEK_DATA/SEEK_HOLE and never read; a chunk that lies wholly
 * in a hole is never read at all.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "ingest.h"
#include "perr.h"

static int
source_size(int fd, const char *path, uint64_t *size, int *is_file,
    struct perr *e)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return perr_errno(e, PE_FAIL, "%s", path);
	*is_file = S_ISREG(st.st_mode);
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) == -1)
			return perr_errno(e, PE_FAIL, "%s: size", path);
	} else if (*is_file) {
		*size = (uint64_t)st.st_size;
	} else {
		return perr_set(e, PE_USAGE, "%s: not a regular file or block "
		    "device", path);
	}
	if (*size == 0)
		return perr_set(e, PE_DATA, "%s: empty", path);
	return 0;
}

/* Read [off, off+len) into buf, zero-filling holes; *hole when all hole. */
static int
read_chunk(int fd, int is_file, const char *path, uint8_t *buf,
    uint64_t off, uint32_t len, int *hole, uint64_t *nread, struct perr *e)
{
	uint64_t pos = off, end = off + len;
	off_t data, next;

	*hole = 0;
	while (pos < end) {
		data = is_file ? lseek(fd, (off_t)pos, SEEK_DATA) : (off_t)pos;
		if (data == -1 && errno != ENXIO)
			data = (off_t)pos;	/* no SEEK_DATA here: read */
		if (data == -1 || (uint64_t)data >= end) {
			memset(buf + (pos - off), 0, end - pos);
			*hole = pos == off;
			return 0;
		}
		memset(buf + (pos - off), 0, (uint64_t)data - pos);
		pos = (uint64_t)data;
		next = is_file ? lseek(fd, data, SEEK_HOLE) : (off_t)end;
		if (next == -1 || (uint64_t)next > end)
			next = (off_t)end;
		if (pread_all(fd, buf + (pos - off), (uint64_t)next - pos,
		    (long long)pos) != (long long)((uint64_t)next - pos))
			return errno ? perr_errno(e, PE_FAIL, "%s: read at "
			    "byte %llu", path, (unsigned long long)pos) :
			    perr_set(e, PE_DATA, "%s: shrank while read "
			    "(at byte %llu)", path, (unsigned long long)pos);
		*nread += (uint64_t)next - pos;
		pos = (uint64_t)next;
	}
	return 0;
}

int
image_create(struct store *s, const char *name, const char *path,
    const struct image_opts *o, unsigned *version, struct image_stats *st,
    struct perr *e)
{
	struct ingest *in = NULL;
	struct ingest_job *j;
	uint64_t size, off, nread = 0;
	uint32_t cs = o->chunk_size ? o->chunk_size : PIMG_CHUNK_DEFAULT, len;
	int fd, is_file = 0, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return perr_errno(e, errno == ENOENT ? PE_NOTFOUND : PE_FAIL,
		    "%s", path);
	if ((rc = source_size(fd, path, &size, &is_file, e)) < 0 ||
	    (rc = ingest_begin(s, o, path, &in, e)) < 0)
		goto out;
	in->prog.total = size;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (off = 0; off < size; off += len) {
		len = size - off < cs ? (uint32_t)(size - off) : cs;
		errno = 0;
		if ((j = ingest_next(in)) == NULL)
			break;
		if ((rc = read_chunk(fd, is_file, path, j->raw, off, len,
		    &j->hole, &nread, e)) < 0) {
			queue_push(&in->freeq, j);
			goto out;
		}
		if ((rc = ingest_submit(in, j, len, e)) < 0 && !in->failed)
			goto out;
	}
	rc = ingest_finish(in, name, o->meta, NULL, version, st, e);
	if (rc == 0 && st != NULL)
		st->read_bytes = nread;
 out:
	ingest_abort(in);
	close(fd);
	return rc;
}
