/*
 * progress.h -- a progress bar on a terminal (stderr), nothing on a pipe.
 * Call progress_tick() as often as you like: it redraws at most 5 times
 * a second. Single-threaded: call it from one thread only.
 */
#ifndef PROGRESS_H
#define PROGRESS_H

#include <stdint.h>

struct progress {
	const char *label;
	uint64_t total, done;
	double t0, last;
	int on;
};

void progress_start(struct progress *p, const char *label, uint64_t total);
void progress_tick(struct progress *p, uint64_t done);
void progress_end(struct progress *p);
double now_sec(void);

#endif
