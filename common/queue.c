/* queue.c -- bounded pointer FIFO: a mutex, two conditions, a ring. */
#include <stdlib.h>

#include "queue.h"

int
queue_init(struct queue *q, size_t cap)
{
	q->items = calloc(cap, sizeof(void *));
	if (q->items == NULL)
		return -1;
	q->cap = cap;
	q->head = q->len = 0;
	q->closed = 0;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->can_push, NULL);
	pthread_cond_init(&q->can_pop, NULL);
	return 0;
}

void
queue_destroy(struct queue *q)
{
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->can_push);
	pthread_cond_destroy(&q->can_pop);
	free(q->items);
	q->items = NULL;
}

int
queue_push(struct queue *q, void *item)
{
	pthread_mutex_lock(&q->mu);
	while (q->len == q->cap && !q->closed)
		pthread_cond_wait(&q->can_push, &q->mu);
	if (q->closed) {
		pthread_mutex_unlock(&q->mu);
		return -1;
	}
	q->items[(q->head + q->len) % q->cap] = item;
	q->len++;
	pthread_cond_signal(&q->can_pop);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void *
queue_pop(struct queue *q)
{
	void *item = NULL;

	pthread_mutex_lock(&q->mu);
	while (q->len == 0 && !q->closed)
		pthread_cond_wait(&q->can_pop, &q->mu);
	if (q->len > 0) {
		item = q->items[q->head];
		q->head = (q->head + 1) % q->cap;
		q->len--;
		pthread_cond_signal(&q->can_push);
	}
	pthread_mutex_unlock(&q->mu);
	return item;
}

size_t
queue_pop_upto(struct queue *q, void **items, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&q->mu);
	while (q->len == 0 && !q->closed)
		pthread_cond_wait(&q->can_pop, &q->mu);
	while (q->len > 0 && n < max) {
		items[n++] = q->items[q->head];
		q->head = (q->head + 1) % q->cap;
		q->len--;
	}
	if (n > 0)
		pthread_cond_broadcast(&q->can_push);
	pthread_mutex_unlock(&q->mu);
	return n;
}

void
queue_close(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = 1;
	pthread_cond_broadcast(&q->can_push);
	pthread_cond_broadcast(&q->can_pop);
	pthread_mutex_unlock(&q->mu);
}
