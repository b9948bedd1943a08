/*
 * runstate.c -- what every thread of one deployment run shares besides
 * the counters: the first error (run_fail: it wins, the others drain),
 * the FIFOs of chunk numbers (taskq, fetchq), and waking the fetcher,
 * which sleeps in libcurl's poll rather than on d->cv. Everything here
 * is called with or without d->mu as each prototype says; it calls no
 * stage of the pipeline, so every stage may call it.
 */
#include "deploy.h"
#include "http.h"

void
run_fail(struct deploy *d, const struct perr *e)
{
	pthread_mutex_lock(&d->mu);
	if (!d->failed) {
		d->failed = 1;
		d->err = *e;
	}
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	run_wake_fetcher(d);
}

int
ixq_push(struct ixq *q, uint32_t ix)
{
	if (q->len == q->cap)
		return -1;	/* sized for every chunk: cannot happen */
	q->v[(q->head + q->len++) % q->cap] = ix;
	return 0;
}

int
ixq_pop(struct ixq *q, uint32_t *ix)
{
	if (q->len == 0)
		return -1;
	*ix = q->v[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return 0;
}

void
run_wake_fetcher_locked(struct deploy *d)
{
	if (d->fetch_wake != NULL)
		http_multi_wakeup(d->fetch_wake);
}

void
run_wake_fetcher(struct deploy *d)
{
	pthread_mutex_lock(&d->mu);
	run_wake_fetcher_locked(d);
	pthread_mutex_unlock(&d->mu);
}

