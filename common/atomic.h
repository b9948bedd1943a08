/*
 * atomic.h -- files that are never seen half-written, and lock files.
 * Write to a temporary name in the same folder, fsync, rename, fsync the
 * folder. Knows nothing of pipol's layout.
 */
#ifndef ATOMIC_H
#define ATOMIC_H

#include <stddef.h>

struct perr;

/* Replace path with len bytes of buf, durably. */
int atomic_write(const char *path, const void *buf, size_t len,
    struct perr *e);
/* Open a unique temporary file next to path; its name goes to tmp. */
int atomic_tmp_open(const char *path, char *tmp, size_t tmpsz,
    struct perr *e);
/* fsync(fd), close it, rename tmp to path, fsync the folder of path. */
int atomic_commit(int fd, const char *tmp, const char *path,
    struct perr *e);
int atomic_fsync_dir(const char *path_in_dir, struct perr *e);
/* Write all of buf at the current position (retries short writes). */
int write_all(int fd, const void *buf, size_t len);
/* pread all of len bytes; returns bytes read (< len only at EOF), -1. */
long long pread_all(int fd, void *buf, size_t len, long long off);
/* Read a whole small file into a malloc'd NUL-terminated buffer. */
int read_file(const char *path, size_t max, char **out, size_t *len,
    struct perr *e);
/* mkdir -p for one level, tolerating EEXIST. */
int mkdir_one(const char *path, struct perr *e);

/* flock(2) on path (created if missing): LOCK_SH or LOCK_EX; blocks. */
int lock_take(const char *path, int how, struct perr *e);
void lock_release(int fd);

#endif
