/*
 * disk.c -- the target: a block device or a file. Opened once; written
 * with pwrite at chunk offsets; zero chunks become holes (files) or
 * BLKZEROOUT (block devices), which read back as zeros either way.
 *
 * Whole chunks are written with O_DIRECT where the target allows it: the
 * agent writes each byte once and never reads it back through the cache,
 * and a buffered write costs a copy into the page cache that measured 16 %
 * of the CPU of a first deploy, plus the inode lock that buffered writers
 * of one file share. Reads (reuse, verify) and the short last chunk go
 * through the page cache.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <stdlib.h>

#include "deploy.h"
#include "atomic.h"

#define DISK_ALIGN 4096		/* O_DIRECT: offsets, sizes and buffers */

void *
disk_buf_alloc(size_t len)
{
	void *p;

	return posix_memalign(&p, DISK_ALIGN, len ? len : DISK_ALIGN) == 0 ?
	    p : NULL;
}

int
disk_open(struct deploy *d, struct perr *e)
{
	struct stat st;
	uint64_t size;

	d->fd = open(d->target, O_RDWR | O_CLOEXEC | (d->preloaded ? 0 :
	    O_CREAT), 0644);
	if (d->fd == -1 || fstat(d->fd, &st) == -1)
		return perr_errno(e, PE_FAIL, "%s", d->target);
	d->is_blk = S_ISBLK(st.st_mode);
	if (d->is_blk) {
		if (ioctl(d->fd, BLKGETSIZE64, &size) == -1)
			return perr_errno(e, PE_FAIL, "%s: size", d->target);
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else {
		return perr_set(e, PE_USAGE, "%s: not a block device or a "
		    "regular file", d->target);
	}
	d->target_size = size;
	if (d->preloaded && size < d->ix->disk_size)
		return perr_set(e, PE_DATA, "%s: %llu bytes cannot hold %s:%u "
		    "(%llu bytes), which --preloaded says it holds", d->target,
		    (unsigned long long)size, d->name, d->version,
		    (unsigned long long)d->ix->disk_size);
	d->dfd = open(d->target, O_WRONLY | O_DIRECT | O_CLOEXEC);
	if (size < d->ix->disk_size && d->is_blk)
		return perr_set(e, PE_FAIL, "%s: %llu bytes, the image needs "
		    "%llu", d->target, (unsigned long long)size,
		    (unsigned long long)d->ix->disk_size);
	if (size < d->ix->disk_size &&
	    ftruncate(d->fd, (off_t)d->ix->disk_size) == -1)
		return perr_errno(e, PE_FAIL, "%s: grow to %llu bytes",
		    d->target, (unsigned long long)d->ix->disk_size);
	return 0;
}

int
disk_write(struct deploy *d, uint32_t ix, const void *raw, struct perr *e)
{
	const struct pimg_entry *c = &d->ix->e[ix];
	const char *p = raw;
	size_t done = 0;
	ssize_t n;
	int fd = d->dfd >= 0 && c->raw_len % DISK_ALIGN == 0 &&
	    ((uintptr_t)raw % DISK_ALIGN) == 0 ? d->dfd : d->fd;

	while (done < c->raw_len) {
		n = pwrite(fd, p + done, c->raw_len - done,
		    (off_t)(c->disk_off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return perr_errno(e, PE_FAIL, "%s: write at byte %llu",
			    d->target, (unsigned long long)(c->disk_off + done));
		done += (size_t)n;
	}
	return 0;
}

int
disk_read(struct deploy *d, uint32_t ix, void *raw, struct perr *e)
{
	const struct pimg_entry *c = &d->ix->e[ix];

	if (pread_all(d->fd, raw, c->raw_len, (long long)c->disk_off) !=
	    (long long)c->raw_len)
		return perr_errno(e, PE_FAIL, "%s: read at byte %llu",
		    d->target, (unsigned long long)c->disk_off);
	return 0;
}

/* Zero one chunk's range; scratch (a raw buffer) serves the fallback. */
int
disk_zero(struct deploy *d, uint32_t ix, void *scratch, struct perr *e)
{
	const struct pimg_entry *c = &d->ix->e[ix];
	uint64_t range[2] = { c->disk_off, c->raw_len };

	if (d->is_blk) {
		/*
		 * A device that zeroes without writing (virtio write-zeroes,
		 * an SSD's deterministic unmap) does it here: on a block
		 * device, PUNCH_HOLE never falls back to writing zeros
		 * (EOPNOTSUPP instead), and is faster than reading the range
		 * to find it zero already.
		 */
		if (fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		    (off_t)c->disk_off, (off_t)c->raw_len) == 0)
			return 0;
		/* reuse: a range that already reads as zeros stays as it is */
		if (d->reuse && disk_read(d, ix, scratch, e) == 0 &&
		    pimg_is_zero(scratch, c->raw_len))
			return 1;
		if (ioctl(d->fd, BLKZEROOUT, range) == 0)
			return 0;
	} else {
		if (fallocate(d->fd, FALLOC_FL_PUNCH_HOLE |
		    FALLOC_FL_KEEP_SIZE, (off_t)c->disk_off,
		    (off_t)c->raw_len) == 0)
			return 0;
		if (fallocate(d->fd, FALLOC_FL_ZERO_RANGE, (off_t)c->disk_off,
		    (off_t)c->raw_len) == 0)
			return 0;
	}
	/* neither is supported here: write the zeros */
	memset(scratch, 0, c->raw_len);
	return disk_write(d, ix, scratch, e);
}
