/*
 * resume.c -- the resume record: a text file, a header naming the image
 * (disk hash, chunk size, chunk count), then one chunk number per line,
 * appended only after fdatasync(target) made that chunk durable. The same
 * command with the same file skips what it lists; a torn last line (a
 * power cut mid-append) is ignored. Removed once the deploy succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deploy.h"
#include "atomic.h"
#include "log.h"

#define RESUME_MAX (64u << 20)	/* 8 bytes a chunk: 8M chunks */

static void
header(const struct deploy *d, char *buf, size_t len)
{
	char hex[HASH_HEX];

	hash_hex(d->ix->disk_hash, hex);
	snprintf(buf, len, "pipol-resume 1 %s %u %u\n", hex,
	    d->ix->chunk_size, d->ix->nchunks);
}

/* Marks the chunks listed after a matching header; returns how many. */
static uint32_t
load(struct deploy *d, char *text, size_t len)
{
	char *p = text, *nl, *end;
	unsigned long ix;
	uint32_t n = 0;

	while ((nl = memchr(p, '\n', len - (size_t)(p - text))) != NULL) {
		*nl = '\0';
		errno = 0;
		ix = strtoul(p, &end, 10);
		if (errno == 0 && end == nl && end != p &&
		    ix < d->ix->nchunks && d->state[ix] != CS_DONE) {
			d->state[ix] = CS_DONE;
			d->c.resumed += d->ix->e[ix].raw_len;
			d->c.chunks_done++;
			n++;
		}
		p = nl + 1;
	}
	return n;
}

int
resume_open(struct deploy *d, struct perr *e)
{
	char want[160], *text = NULL;
	size_t len = 0, hl;
	int rc;

	if (d->resume_path == NULL)
		return 0;
	header(d, want, sizeof(want));
	hl = strlen(want);
	rc = read_file(d->resume_path, RESUME_MAX, &text, &len, e);
	if (rc < 0 && rc != -PE_NOTFOUND)
		return rc;
	if (rc == 0 && len >= hl && memcmp(text, want, hl) == 0) {
		log_info("%s: resuming: %u chunks already written",
		    d->resume_path, load(d, text + hl, len - hl));
		free(text);
		d->resume_fd = open(d->resume_path, O_WRONLY | O_APPEND |
		    O_CLOEXEC);
		if (d->resume_fd == -1)
			return perr_errno(e, PE_FAIL, "%s", d->resume_path);
		return 0;
	}
	if (rc == 0 && len > 0)
		log_warnx("%s: records another image or target: starting over",
		    d->resume_path);
	free(text);
	if ((rc = atomic_write(d->resume_path, want, hl, e)) < 0)
		return rc;
	d->resume_fd = open(d->resume_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (d->resume_fd == -1)
		return perr_errno(e, PE_FAIL, "%s", d->resume_path);
	return 0;
}

/*
 * Make every chunk completed so far durable, then record it. Called by
 * the report thread once a second, and once at the end (final) after
 * every worker stopped. Never concurrently with itself.
 */
int
resume_sync(struct deploy *d, int final, struct perr *e)
{
	char *buf, *p;
	size_t n, i;

	pthread_mutex_lock(&d->mu);
	n = d->ndone_log;
	pthread_mutex_unlock(&d->mu);
	if (n == d->ndurable && !final)
		return 0;
	/* every chunk in done_log[0, n) was pwritten before this call */
	/* O_DIRECT skips the page cache, not the allocation metadata nor
	 * the device's write cache: fdatasync covers both fds' writes */
	if (fdatasync(d->fd) == -1)
		return perr_errno(e, PE_FAIL, "%s: fdatasync", d->target);
	if (d->resume_fd >= 0 && n > d->ndurable) {
		if ((buf = malloc((n - d->ndurable) * 11 + 1)) == NULL)
			return perr_set(e, PE_FAIL, "out of memory");
		for (p = buf, i = d->ndurable; i < n; i++)
			p += sprintf(p, "%u\n", d->done_log[i]);
		if (write_all(d->resume_fd, buf, (size_t)(p - buf)) == -1 ||
		    fdatasync(d->resume_fd) == -1) {
			free(buf);
			return perr_errno(e, PE_FAIL, "%s", d->resume_path);
		}
		free(buf);
	}
	d->ndurable = n;
	return 0;
}

void
resume_finish(struct deploy *d)
{
	if (d->resume_fd < 0)
		return;
	close(d->resume_fd);
	d->resume_fd = -1;
	if (unlink(d->resume_path) == -1)
		log_warn("%s: remove", d->resume_path);
}
