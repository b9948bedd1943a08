/* progress.c -- one redrawn line: bar, percent, MB/s, ETA. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

#define PROGRESS_REDRAW_SEC 0.2	/* fast enough to look live, cheap */

double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
progress_start(struct progress *p, const char *label, uint64_t total)
{
	p->label = label;
	p->total = total;
	p->done = 0;
	p->t0 = p->last = now_sec();
	p->on = isatty(STDERR_FILENO);
}

static void
progress_draw(struct progress *p, double t)
{
	char bar[31];
	double frac, rate, eta;
	int i, fill;

	frac = p->total ? (double)p->done / (double)p->total : 1.0;
	if (frac > 1.0)
		frac = 1.0;
	fill = (int)(frac * 30);
	for (i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	rate = t > p->t0 ? (double)p->done / (t - p->t0) : 0;
	eta = rate > 0 ? (double)(p->total - p->done) / rate : 0;
	fprintf(stderr, "\r%s [%s] %3d%% %7.1f MB/s  ETA %3.0fs ", p->label,
	    bar, (int)(frac * 100), rate / 1e6, eta);
	fflush(stderr);
}

void
progress_tick(struct progress *p, uint64_t done)
{
	double t;

	p->done = done;
	if (!p->on)
		return;
	t = now_sec();
	if (t - p->last < PROGRESS_REDRAW_SEC)
		return;
	p->last = t;
	progress_draw(p, t);
}

void
progress_end(struct progress *p)
{
	if (!p->on)
		return;
	p->done = p->total;
	progress_draw(p, now_sec());
	fputc('\n', stderr);
}
