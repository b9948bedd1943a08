/* atomic.c -- durable replace-by-rename, full reads/writes, flock. */
#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "perr.h"

int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

long long
pread_all(int fd, void *buf, size_t len, long long off)
{
	char *p = buf;
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fd, p + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (long long)done;
}

int
atomic_fsync_dir(const char *path_in_dir, struct perr *e)
{
	char dir[PATH_MAX];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path_in_dir);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return perr_errno(e, PE_FAIL, "%s", dir);
	if (fsync(fd) == -1) {
		close(fd);
		return perr_errno(e, PE_FAIL, "%s: fsync", dir);
	}
	close(fd);
	return 0;
}

int
atomic_tmp_open(const char *path, char *tmp, size_t tmpsz, struct perr *e)
{
	int fd;

	if ((size_t)snprintf(tmp, tmpsz, "%s.tmp.XXXXXX", path) >= tmpsz)
		return perr_set(e, PE_FAIL, "%s: path too long", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return perr_errno(e, PE_FAIL, "%s", tmp);
	fchmod(fd, 0644);
	return fd;
}

int
atomic_commit(int fd, const char *tmp, const char *path, struct perr *e)
{
	if (fsync(fd) == -1) {
		perr_errno(e, PE_FAIL, "%s: fsync", tmp);
		goto err;
	}
	if (close(fd) == -1) {
		fd = -1;
		perr_errno(e, PE_FAIL, "%s: close", tmp);
		goto err;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		perr_errno(e, PE_FAIL, "%s", path);
		goto err;
	}
	return atomic_fsync_dir(path, e);
 err:
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -e->code;
}

int
atomic_write(const char *path, const void *buf, size_t len, struct perr *e)
{
	char tmp[PATH_MAX];
	int fd;

	if ((fd = atomic_tmp_open(path, tmp, sizeof(tmp), e)) < 0)
		return fd;
	if (write_all(fd, buf, len) == -1) {
		perr_errno(e, PE_FAIL, "%s", tmp);
		close(fd);
		unlink(tmp);
		return -PE_FAIL;
	}
	return atomic_commit(fd, tmp, path, e);
}

int
read_file(const char *path, size_t max, char **out, size_t *lenp,
    struct perr *e)
{
	struct stat st;
	char *buf;
	long long n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return perr_errno(e, errno == ENOENT ? PE_NOTFOUND : PE_FAIL,
		    "%s", path);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return perr_set(e, PE_FAIL, "%s: not a regular file", path);
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		return perr_set(e, PE_DATA, "%s: too large (%lld bytes)",
		    path, (long long)st.st_size);
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return perr_set(e, PE_FAIL, "%s: out of memory", path);
	}
	n = pread_all(fd, buf, (size_t)st.st_size, 0);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return perr_errno(e, PE_FAIL, "%s: read", path);
	}
	buf[n] = '\0';
	*out = buf;
	if (lenp)
		*lenp = (size_t)n;
	return 0;
}

int
mkdir_one(const char *path, struct perr *e)
{
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		return perr_errno(e, PE_FAIL, "%s", path);
	return 0;
}

int
lock_take(const char *path, int how, struct perr *e)
{
	int fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1)
		return perr_errno(e, PE_FAIL, "%s", path);
	while (flock(fd, how) == -1) {
		if (errno == EINTR)
			continue;
		perr_errno(e, PE_FAIL, "%s: lock", path);
		close(fd);
		return -PE_FAIL;
	}
	return fd;
}

void
lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
