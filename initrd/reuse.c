/*
 * reuse.c -- the on-disk reuse decision: for a check task (plan.c), read
 * what the target holds at the chunk's range and hash it. Equal to the
 * index's SHA-256: the chunk is done, neither fetched nor written; else
 * it is queued for fetching. Only SHA-256, never a weaker hash: the
 * previous holder of the node had root and could have planted blocks a
 * fast checksum would let through.
 */
#include <string.h>

#include "deploy.h"
#include "progress.h"

void
reuse_check(struct deploy *d, uint32_t ix, uint8_t *raw)
{
	const struct pimg_entry *c = &d->ix->e[ix];
	uint8_t h[HASH_BYTES];
	struct perr e;
	double t0 = now_sec();

	if (disk_read(d, ix, raw, &e) < 0)
		return run_fail(d, &e);
	hash_buf(raw, c->raw_len, h);
	pthread_mutex_lock(&d->mu);
	d->c.busy_check += now_sec() - t0;
	if (memcmp(h, c->hash, HASH_BYTES) == 0) {
		plan_mark_done(d, ix, &d->c.reused);
		pthread_mutex_unlock(&d->mu);
		return;
	}
	d->state[ix] = CS_QUEUED;
	ixq_push(&d->fetchq, ix);
	pthread_mutex_unlock(&d->mu);
	run_wake_fetcher(d);
}

