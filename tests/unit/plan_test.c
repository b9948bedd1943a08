/*
 * plan_test.c -- the planner (initrd/plan.c): what each chunk needs --
 * nothing (in the resume record), a zero task, a reuse check (its range
 * was on the target, reuse on), or a fetch -- and the order of the
 * work; and the bookkeeping of a chunk settled (plan_mark_done).
 */
#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "harness.h"

#define CS	4096u		/* chunk size of the fake index */
#define N	7

/*
 * chunk 0 zero; 1 data on the target; 2 in the resume record; 3 data
 * ending exactly at the target's end; 4 zero past it; 5 data past it;
 * 6 data straddling a target that ends mid-chunk (the target is 4.5
 * chunks long for that case, else 4).
 */
static struct pimg_entry ents[N];
static struct pimg_index fake_index = { .chunk_size = CS, .nchunks = N,
    .disk_size = (uint64_t)N * CS, .e = ents };

static void
setup(struct deploy *d, int reuse, uint64_t target_size)
{
	uint32_t i;

	memset(d, 0, sizeof(*d));
	for (i = 0; i < N; i++) {
		ents[i].disk_off = (uint64_t)i * CS;
		ents[i].raw_len = CS;
		ents[i].flags = (i == 0 || i == 4) ? PIMG_F_ZERO : 0;
	}
	d->ix = &fake_index;
	d->reuse = reuse;
	d->target_size = target_size;
	d->state = calloc(N, 1);
	d->task = calloc(N, 1);
	d->done_log = calloc(N, sizeof(uint32_t));
	d->taskq.v = calloc(N, sizeof(uint32_t));
	d->fetchq.v = calloc(N, sizeof(uint32_t));
	d->taskq.cap = d->fetchq.cap = N;
	d->state[2] = CS_DONE;		/* as resume_open leaves it */
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
}

static void
teardown(struct deploy *d)
{
	free(d->state);
	free(d->task);
	free(d->done_log);
	free(d->taskq.v);
	free(d->fetchq.v);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
}

/* q holds exactly want[0..n) in that order */
static int
queue_is(struct ixq *q, const uint32_t *want, size_t n)
{
	uint32_t ix;
	size_t i;

	for (i = 0; i < n; i++)
		if (ixq_pop(q, &ix) < 0 || ix != want[i])
			return 0;
	return ixq_pop(q, &ix) < 0;
}

static void
plan_reuse(void)
{
	static const uint32_t tasks[] = { 0, 1, 3, 4 }, fetches[] = { 5, 6 };
	struct deploy d;

	setup(&d, 1, 4 * CS);
	plan_chunks(&d);
	CHECK(d.left == N - 1);
	CHECK(d.task[0] == TASK_ZERO && d.task[4] == TASK_ZERO);
	CHECK(d.task[1] == TASK_CHECK);
	CHECK(d.task[3] == TASK_CHECK);	/* ends at the target's end */
	CHECK(d.task[2] == 0 && d.state[2] == CS_DONE);
	CHECK(d.task[5] == 0 && d.state[5] == CS_QUEUED);
	CHECK(d.task[6] == 0 && d.state[6] == CS_QUEUED);
	CHECK(d.state[1] == CS_TODO && d.state[0] == CS_TODO);
	CHECK(queue_is(&d.taskq, tasks, 4));
	CHECK(queue_is(&d.fetchq, fetches, 2));
	teardown(&d);
}

/* A chunk only partly on the target is fetched, never half-checked. */
static void
plan_straddle(void)
{
	static const uint32_t tasks[] = { 0, 1, 3, 4, 5 }, fetches[] = { 6 };
	struct deploy d;

	setup(&d, 1, 6 * CS + CS / 2);
	plan_chunks(&d);
	CHECK(d.task[5] == TASK_CHECK);
	CHECK(d.task[6] == 0 && d.state[6] == CS_QUEUED);
	CHECK(queue_is(&d.taskq, tasks, 5));
	CHECK(queue_is(&d.fetchq, fetches, 1));
	teardown(&d);
}

/* --no-reuse: zeros are still zero tasks, every data chunk is fetched. */
static void
plan_no_reuse(void)
{
	static const uint32_t tasks[] = { 0, 4 }, fetches[] = { 1, 3, 5, 6 };
	struct deploy d;

	setup(&d, 0, 4 * CS);
	plan_chunks(&d);
	CHECK(d.left == N - 1);
	CHECK(d.task[1] == 0 && d.task[3] == 0);
	CHECK(queue_is(&d.taskq, tasks, 2));
	CHECK(queue_is(&d.fetchq, fetches, 4));
	teardown(&d);
}

/* A fresh target (size 0): nothing to check. */
static void
plan_fresh_target(void)
{
	static const uint32_t tasks[] = { 0, 4 }, fetches[] = { 1, 3, 5, 6 };
	struct deploy d;

	setup(&d, 1, 0);
	plan_chunks(&d);
	CHECK(queue_is(&d.taskq, tasks, 2));
	CHECK(queue_is(&d.fetchq, fetches, 4));
	teardown(&d);
}

static void
mark_done(void)
{
	struct deploy d;
	uint64_t counter = 0;
	uint32_t i;

	setup(&d, 1, 4 * CS);
	plan_chunks(&d);
	pthread_mutex_lock(&d.mu);
	plan_mark_done(&d, 3, &counter);
	CHECK(d.state[3] == CS_DONE && counter == CS);
	CHECK(d.c.chunks_done == 1 && d.ndone_log == 1 && d.done_log[0] == 3);
	CHECK(d.left == N - 2);
	for (i = 0; i < N; i++)
		if (d.state[i] != CS_DONE)
			plan_mark_done(&d, i, &counter);
	pthread_mutex_unlock(&d.mu);
	CHECK(d.left == 0 && d.ndone_log == N - 1);
	CHECK(counter == (uint64_t)(N - 1) * CS);
	teardown(&d);
}

int
main(void)
{
	RUN(plan_reuse);
	RUN(plan_straddle);
	RUN(plan_no_reuse);
	RUN(plan_fresh_target);
	RUN(mark_done);
	DONE();
}
