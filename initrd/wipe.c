/*
 * wipe.c -- a disk wiped between two users (wipe.h). A wipe order
 * (node.c) and "pipol-agent wipe" run the same wipe_run: the cheapest
 * method first, then a read-back, which is the only truth (a discard
 * may leave the old data readable, BLKDISCARDZEROES is obsolete and
 * was never a promise); the next method only where one was refused or
 * left data behind:
 *
 *   discard   BLKDISCARD over the whole device; on a regular file
 *             (tests), fallocate PUNCH_HOLE | KEEP_SIZE
 *   zeroout   BLKZEROOUT (the device writes or unmaps zeros itself); on
 *             a file, fallocate ZERO_RANGE | KEEP_SIZE
 *   write     zeros written, O_DIRECT where the target takes it, then
 *             fdatasync
 */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "log.h"
#include "wipe.h"

static const char *const method_names[] = { "discard", "zeroout", "write",
    NULL };

static void
progress(struct wipe *w, uint64_t written)
{
	struct deploy_progress p = { .state = "writing", .settled = written,
	    .total = w->size };

	if (w->on_progress != NULL)
		w->on_progress(w->progress_arg, &p);
}

/* The size of fd: a block device's, or a regular file's. */
static int
target_size(struct wipe *w, int fd, int *is_blk, struct perr *e)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return perr_errno(e, PE_FAIL, "%s", w->target);
	*is_blk = S_ISBLK(st.st_mode);
	if (*is_blk && ioctl(fd, BLKGETSIZE64, &w->size) == -1)
		return perr_errno(e, PE_FAIL, "%s: BLKGETSIZE64", w->target);
	if (!*is_blk && !S_ISREG(st.st_mode))
		return perr_set(e, PE_USAGE, "%s: neither a block device nor "
		    "a regular file", w->target);
	if (!*is_blk)
		w->size = (uint64_t)st.st_size;
	return 0;
}

/* One region read back: 1 all zeros, 0 not, -1 a read error. */
static int
region_zero(int fd, uint64_t off, size_t len, uint8_t *buf)
{
	ssize_t n;
	size_t i;

	while (len > 0) {
		if ((n = pread(fd, buf, len < WIPE_WRITE_BYTES ? len :
		    WIPE_WRITE_BYTES, (off_t)off)) <= 0)
			return n == 0 ? 0 : -1;
		for (i = 0; i < (size_t)n; i++)
			if (buf[i] != 0)
				return 0;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 1;
}

/*
 * The read-back: the first and last MiB, and WIPE_CHECK_REGIONS regions
 * spread evenly between. 1 all zeros, 0 data found (*at: where), -1 a
 * read error.
 */
static int
check_zero(struct wipe *w, int fd, uint8_t *buf, uint64_t *at)
{
	const uint64_t mib = 1024 * 1024;
	uint64_t off, len;
	int i, z;

	w->checked = 0;
	for (i = -2; i < WIPE_CHECK_REGIONS; i++) {
		len = i < 0 ? mib : WIPE_CHECK_BYTES;
		if (len > w->size)
			len = w->size;
		if (i == -2)
			off = 0;
		else if (i == -1)
			off = w->size - len;
		else
			off = (w->size - len) / (WIPE_CHECK_REGIONS - 1) *
			    (uint64_t)i & ~(uint64_t)4095;
		if ((z = region_zero(fd, off, (size_t)len, buf)) != 1) {
			*at = off;
			return z;
		}
		w->checked++;
	}
	return 1;
}

/* Discard or zeroout by the device or the file system: 0, -1 refused. */
static int
by_device(struct wipe *w, int fd, int is_blk, enum wipe_method m)
{
	uint64_t range[2] = { 0, w->size };

	if (is_blk)
		return ioctl(fd, m == WIPE_DISCARD ? BLKDISCARD : BLKZEROOUT,
		    range);
	return fallocate(fd, FALLOC_FL_KEEP_SIZE | (m == WIPE_DISCARD ?
	    FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE), 0,
	    (off_t)w->size);
}

/*
 * Zeros written over the whole target: through an O_DIRECT descriptor
 * where the target takes one (no page cache filled with zeros), the
 * unaligned tail through fd; then flushed. Progress once a second.
 */
static int
by_writing(struct wipe *w, int fd, uint8_t *buf, struct perr *e)
{
	uint64_t off = 0, n;
	time_t last = time(NULL);
	ssize_t done;
	int dfd, wfd;

	memset(buf, 0, WIPE_WRITE_BYTES);
	dfd = open(w->target, O_WRONLY | O_DIRECT | O_CLOEXEC);
	while (off < w->size) {
		n = w->size - off < WIPE_WRITE_BYTES ? w->size - off :
		    WIPE_WRITE_BYTES;
		wfd = dfd != -1 && n % 4096 == 0 ? dfd : fd;
		if ((done = pwrite(wfd, buf, n, (off_t)off)) <= 0) {
			if (wfd == dfd && (errno == EINVAL || done == 0)) {
				close(dfd);	/* O_DIRECT after all not */
				dfd = -1;
				continue;
			}
			if (dfd != -1)
				close(dfd);
			return perr_errno(e, PE_FAIL, "%s: writing zeros at "
			    "%llu", w->target, (unsigned long long)off);
		}
		off += (uint64_t)done;
		if (time(NULL) != last) {
			last = time(NULL);
			progress(w, off);
		}
	}
	if (dfd != -1)
		close(dfd);
	if (fdatasync(fd) == -1)
		return perr_errno(e, PE_FAIL, "%s: fdatasync", w->target);
	return 0;
}

int
wipe_run(struct wipe *w, struct perr *e)
{
	enum wipe_method m;
	uint64_t at = 0;
	uint8_t *buf = NULL;
	int fd, is_blk = 0, rc, z = 0;

	if (w->target == NULL)
		return perr_set(e, PE_FAIL, "no disk to wipe: the order names "
		    "none and none of /dev/vda, /dev/sda, /dev/nvme0n1, "
		    "/dev/xvda exists");
	if ((fd = open(w->target, O_RDWR | O_CLOEXEC)) == -1)
		return perr_errno(e, PE_FAIL, "%s", w->target);
	if ((rc = target_size(w, fd, &is_blk, e)) < 0)
		goto out;
	if (posix_memalign((void **)&buf, 4096, WIPE_WRITE_BYTES) != 0) {
		buf = NULL;
		rc = perr_set(e, PE_FAIL, "out of memory");
		goto out;
	}
	progress(w, 0);
	for (m = w->first; m <= WIPE_WRITE; m++) {
		w->method = method_names[m];
		if (m == WIPE_WRITE)
			rc = by_writing(w, fd, buf, e);
		else if ((rc = by_device(w, fd, is_blk, m)) < 0) {
			log_info("%s: %s refused (%s); next method", w->target,
			    w->method, strerror(errno));
			continue;
		}
		if (rc < 0)
			goto out;
		if ((z = check_zero(w, fd, buf, &at)) == 1)
			break;
		log_info("%s: after %s, %s at %llu; next method", w->target,
		    w->method, z == 0 ? "data read back" : "a read error",
		    (unsigned long long)at);
	}
	if (z == 1)
		progress(w, w->size);
	else
		rc = perr_set(e, PE_FAIL, "%s: %s at %llu after every method",
		    w->target, z == 0 ? "data read back" : "a read error",
		    (unsigned long long)at);
 out:
	free(buf);
	close(fd);
	return rc;
}

int
wipe_order(const char *target, void (*on_progress)(void *,
    const struct deploy_progress *), void *arg, struct perr *e)
{
	struct wipe w = { .target = target, .first = WIPE_DISCARD,
	    .on_progress = on_progress, .progress_arg = arg };
	int rc;

	log_info("wiping %s", target ? target : "(no disk)");
	if ((rc = wipe_run(&w, e)) < 0)
		log_warnx("%s", e->msg);
	else
		log_info("%s: %llu bytes wiped by %s, %u regions read back as "
		    "zeros", target, (unsigned long long)w.size, w.method,
		    w.checked);
	return rc;
}

/* "pipol-agent wipe": options, usage and --help (cmd.h) */
static int wipe_main(const struct cmd *, const struct cmd_args *);

enum { O_TARGET, O_METHOD, O_END };

static const struct cmd_opt wipe_opts[] = {
	[O_TARGET] = { "target", 0, CMD_VALUE, "PATH",
	    "the block device or file to wipe (required)" },
	[O_METHOD] = { "method", 0, CMD_VALUE, "discard|zeroout|write",
	    "start there (default discard); the next ones\n"
	    "follow where one is refused or leaves data" },
	[O_END] = CMD_OPT_END
};

const struct cmd wipe_cmd = { "wipe", wipe_main,
    "--target PATH [--method discard|zeroout|write]",
    "Wipe a disk or file whole, as a wipe order does between two users:\n"
    "discard (a file: a punched hole), then zeroout, then zero writes,\n"
    "each only where the one before was refused or a read-back of the\n"
    "first and last MiB and 64 regions between found data. Prints the\n"
    "method that did it.\n\n"
    "Exit status: 0 wiped, 1 failed, 2 usage",
    wipe_opts, 0, 0, NULL };

static int
wipe_main(const struct cmd *c, const struct cmd_args *a)
{
	struct wipe w = { .target = cmd_str(a, O_TARGET) };
	const char *m = cmd_str(a, O_METHOD);
	struct perr e;
	int i;

	if (w.target == NULL)
		return cmd_usage_error(c, "--target PATH is required");
	for (i = 0; m != NULL && method_names[i] != NULL; i++)
		if (strcmp(m, method_names[i]) == 0)
			break;
	if (m != NULL && method_names[i] == NULL)
		return cmd_usage_error(c, "--method %s: discard, zeroout or "
		    "write", m);
	w.first = m != NULL ? (enum wipe_method)i : WIPE_DISCARD;
	if (wipe_run(&w, &e) < 0) {
		log_warnx("%s", e.msg);
		return e.code;
	}
	printf("%s: %llu bytes wiped by %s, %u regions read back as zeros\n",
	    w.target, (unsigned long long)w.size, w.method, w.checked);
	return 0;
}
