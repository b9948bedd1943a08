/*
 * queue.h -- bounded FIFO of pointers between threads, with close().
 * The only place where pipol threads hand work to each other.
 */
#ifndef QUEUE_H
#define QUEUE_H

#include <pthread.h>
#include <stddef.h>

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t can_push, can_pop;
	void **items;
	size_t cap, head, len;
	int closed;
};

int queue_init(struct queue *q, size_t cap);
void queue_destroy(struct queue *q);
/* Blocks while full; returns -1 (item not taken) once closed. */
int queue_push(struct queue *q, void *item);
/* Blocks while empty; returns NULL once closed and drained. */
void *queue_pop(struct queue *q);
/* Blocks while empty, then takes what is there, up to max items (a
 * batch); returns 0 once closed and drained. */
size_t queue_pop_upto(struct queue *q, void **items, size_t max);
/* Wakes every waiter; pushes fail from now on, pops drain what is left. */
void queue_close(struct queue *q);

#endif
