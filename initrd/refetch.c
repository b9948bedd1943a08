/*
 * refetch.c -- a fetched member that does not check out (it fails to
 * decode, or its CRC32 or SHA-256 is not the index's) is fetched again,
 * up to AGENT_REFETCH_MAX fetches of that chunk; then the run fails
 * naming the chunk and its offset. HTTP failures are not this file's:
 * they are fetch.c's, judged by http.c.
 */
#include "deploy.h"
#include "log.h"

void
refetch_chunk(struct deploy *d, uint32_t ix, const char *why)
{
	const struct pimg_entry *c = &d->ix->e[ix];
	struct perr e;
	unsigned n;

	pthread_mutex_lock(&d->mu);
	n = ++d->tries[ix];
	if (n >= AGENT_REFETCH_MAX) {
		pthread_mutex_unlock(&d->mu);
		perr_set(&e, PE_DATA, "chunk %u (offset %llu): %s after %u "
		    "fetches", ix, (unsigned long long)c->disk_off, why, n);
		run_fail(d, &e);
		return;
	}
	d->c.refetches++;
	d->state[ix] = CS_QUEUED;
	ixq_push(&d->fetchq, ix);
	pthread_mutex_unlock(&d->mu);
	log_debug("chunk %u: %s, fetching it again", ix, why);
	run_wake_fetcher(d);
}

