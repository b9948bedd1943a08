/*
 * source.c -- a disk or file read chunk by chunk, for create (store) and
 * capture (pipol-agent). Holes of sparse files are found with
 * SEEK_DATA/SEEK_HOLE and never read; a chunk that lies wholly in a hole
 * is never read at all. Block devices are read as they are.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "image.h"
#include "perr.h"

static int
source_size(struct image_source *src, struct perr *e)
{
	struct stat st;

	if (fstat(src->fd, &st) == -1)
		return perr_errno(e, PE_FAIL, "%s", src->path);
	src->is_file = S_ISREG(st.st_mode);
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(src->fd, BLKGETSIZE64, &src->size) == -1)
			return perr_errno(e, PE_FAIL, "%s: size", src->path);
	} else if (src->is_file) {
		src->size = (uint64_t)st.st_size;
	} else {
		return perr_set(e, PE_USAGE, "%s: not a regular file or block "
		    "device", src->path);
	}
	if (src->size == 0)
		return perr_set(e, PE_DATA, "%s: empty", src->path);
	return 0;
}

int
image_source_open(const char *path, struct image_source *src,
    struct perr *e)
{
	int rc;

	memset(src, 0, sizeof(*src));
	src->path = path;
	if ((src->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return perr_errno(e, errno == ENOENT ? PE_NOTFOUND : PE_FAIL,
		    "%s", path);
	if ((rc = source_size(src, e)) < 0) {
		image_source_close(src);
		return rc;
	}
	posix_fadvise(src->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return 0;
}

void
image_source_close(struct image_source *src)
{
	if (src->fd >= 0)
		close(src->fd);
	src->fd = -1;
}

int
image_source_read(struct image_source *src, uint8_t *buf, uint64_t off,
    uint32_t len, int *hole, struct perr *e)
{
	uint64_t pos = off, end = off + len;
	off_t data, next;
	int fd = src->fd;

	*hole = 0;
	while (pos < end) {
		data = src->is_file ? lseek(fd, (off_t)pos, SEEK_DATA) :
		    (off_t)pos;
		if (data == -1 && errno != ENXIO)
			data = (off_t)pos;	/* no SEEK_DATA here: read */
		if (data == -1 || (uint64_t)data >= end) {
			memset(buf + (pos - off), 0, end - pos);
			*hole = pos == off;
			return 0;
		}
		memset(buf + (pos - off), 0, (uint64_t)data - pos);
		pos = (uint64_t)data;
		next = src->is_file ? lseek(fd, data, SEEK_HOLE) : (off_t)end;
		if (next == -1 || (uint64_t)next > end)
			next = (off_t)end;
		errno = 0;
		if (pread_all(fd, buf + (pos - off), (uint64_t)next - pos,
		    (long long)pos) != (long long)((uint64_t)next - pos))
			return errno ? perr_errno(e, PE_FAIL, "%s: read at "
			    "byte %llu", src->path, (unsigned long long)pos) :
			    perr_set(e, PE_DATA, "%s: shrank while read "
			    "(at byte %llu)", src->path,
			    (unsigned long long)pos);
		src->nread += (uint64_t)next - pos;
		pos = (uint64_t)next;
	}
	return 0;
}
