/*
 * plan.c -- the planner: what each chunk needs and the order of the
 * work. A chunk the resume record lists is done; an all-zero chunk is a
 * zero task; a chunk whose range the target already had (and reuse is
 * on) is a check task (reuse.c decides it); every other chunk is
 * fetched. Both queues are filled in chunk order. plan_mark_done is the
 * other end: the bookkeeping of a chunk settled, whichever way.
 *
 * It reads the index and the target's size; it does no I/O.
 */
#include "deploy.h"

void
plan_chunks(struct deploy *d)
{
	const struct pimg_entry *c;
	uint32_t i;

	for (i = 0; i < d->ix->nchunks; i++) {
		c = &d->ix->e[i];
		if (d->state[i] == CS_DONE)
			continue;
		d->left++;
		if (c->flags & PIMG_F_ZERO) {
			d->task[i] = TASK_ZERO;
			ixq_push(&d->taskq, i);
		} else if (d->reuse &&
		    c->disk_off + c->raw_len <= d->target_size) {
			d->task[i] = TASK_CHECK;
			ixq_push(&d->taskq, i);
		} else {
			d->state[i] = CS_QUEUED;
			ixq_push(&d->fetchq, i);
		}
	}
}

void
plan_mark_done(struct deploy *d, uint32_t ix, uint64_t *counter)
{
	*counter += d->ix->e[ix].raw_len;
	d->state[ix] = CS_DONE;
	d->c.chunks_done++;
	d->done_log[d->ndone_log++] = ix;
	if (--d->left == 0) {
		pthread_cond_broadcast(&d->cv);
		run_wake_fetcher_locked(d);
	}
}

