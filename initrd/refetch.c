/*
 * refetch.c -- a fetched member that does not check out (it fails to
 * decode, or its CRC32 or SHA-256 is not the index's) is fetched again,
 * up to AGENT_REFETCH_MAX fetches of that chunk; then the run fails
 * naming the chunk and its offset. A member from a cache (a source
 * before --base) that does not check out sends the chunk to the next
 * source instead, spending none of its fetches (source_next). HTTP
 * failures are not this file's: they are fetch.c's, judged by http.c.
 */
#include "deploy.h"
#include "log.h"

int
source_next(struct deploy *d, uint32_t ix, const char *why)
{
	unsigned s = d->src_of[ix];

	if ((int)s + 1 >= d->nsrc)
		return 0;
	d->src_of[ix] = (uint8_t)(s + 1);
	if (d->src_fails[s]++ == 0)	/* once a source: the first time */
		log_warnx("chunk %u from %s: %s; it and the others that fail "
		    "there go to the next source", ix, d->src[s], why);
	return 1;
}

void
refetch_chunk(struct deploy *d, uint32_t ix, const char *why)
{
	const struct pimg_entry *c = &d->ix->e[ix];
	struct perr e;
	unsigned n;

	pthread_mutex_lock(&d->mu);
	if (source_next(d, ix, why)) {
		d->c.refetches++;
		d->state[ix] = CS_QUEUED;
		ixq_push(&d->fetchq, ix);
		pthread_mutex_unlock(&d->mu);
		run_wake_fetcher(d);
		return;
	}
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

