/*
 * report.c -- once a second: durability (resume.c), then progress -- a
 * bar on a terminal, and with --progress-json one JSON object per line
 * on stdout, and the run's on_progress callback (node mode: POST
 * /agent/progress). The last line says "done" or "failed" with the
 * error; nothing says done before the final fdatasync.
 */
#include <sys/resource.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "deploy.h"
#include "log.h"
#include "progress.h"

static long
peak_rss_kib(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

static json_t *
counters_json(const struct deploy *d, const struct counters *c,
    const char *state, double t)
{
	uint64_t total = d->ix ? d->ix->disk_size : 0;

	return json_pack("{s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
	    " s:I, s:I}",
	    "state", state, "elapsed", t,
	    "disk_bytes", (json_int_t)total,
	    "chunks", (json_int_t)(d->ix ? d->ix->nchunks : 0),
	    "chunks_done", (json_int_t)c->chunks_done,
	    "fetched", (json_int_t)c->fetched,
	    "written", (json_int_t)c->written,
	    "zero", (json_int_t)c->zero,
	    "reused", (json_int_t)c->reused,
	    "resumed", (json_int_t)c->resumed,
	    "refetches", (json_int_t)c->refetches,
	    "peak_rss_kib", (json_int_t)peak_rss_kib());
}

/* with caches: what each source gave (JSON, and " from ..." text) */
void
deploy_sources_json(const struct deploy *d, json_t *o)
{
	json_t *a;
	int i;

	if (d->nsrc < 2 || (a = json_array()) == NULL)
		return;
	for (i = 0; i < d->nsrc; i++)
		json_array_append_new(a, json_pack("{s:s, s:I, s:I}", "url",
		    d->src[i], "bytes", (json_int_t)d->src_bytes[i],
		    "failed_over", (json_int_t)d->src_fails[i]));
	json_object_set_new(o, "sources", a);
}

static void
sources_text(const struct deploy *d, char *buf, size_t len)
{
	size_t n = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; d->nsrc > 1 && i < d->nsrc && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s %s %llu",
		    i == 0 ? "; from" : ",", d->src[i],
		    (unsigned long long)d->src_bytes[i]);
}

static void
emit_json(json_t *o)
{
	if (o == NULL)
		return;
	json_dumpf(o, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(o);
}

static void
draw_bar(const struct deploy *d, const struct counters *c, double t)
{
	uint64_t done = c->written + c->zero + c->reused + c->resumed;
	double frac = (double)done / (double)d->ix->disk_size;
	char bar[31];
	int i;

	for (i = 0; i < 30; i++)
		bar[i] = i < (int)(frac * 30) ? '#' : '.';
	bar[30] = '\0';
	fprintf(stderr, "\r%s:%u [%s] %3d%%  fetched %llu MB  %6.1f MB/s ",
	    d->name, d->version, bar, (int)(frac * 100),
	    (unsigned long long)(c->fetched / 1000000),
	    t > 0 ? (double)done / t / 1e6 : 0.0);
	fflush(stderr);
}

void
report_line(struct deploy *d, const char *state, double now)
{
	struct counters c;

	pthread_mutex_lock(&d->mu);
	c = d->c;
	pthread_mutex_unlock(&d->mu);
	if (d->progress_json)
		emit_json(counters_json(d, &c, state, now - d->t0));
	if (d->tty && d->ix != NULL)
		draw_bar(d, &c, now - d->t0);
}

void *
report_main(void *arg)
{
	struct deploy *d = arg;
	struct timespec ts;
	struct perr e;
	int stop = 0;

	while (!stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += AGENT_REPORT_MS / 1000;
		pthread_mutex_lock(&d->mu);
		while (!d->report_stop && pthread_cond_timedwait(&d->cv,
		    &d->mu, &ts) != ETIMEDOUT)
			;
		stop = d->report_stop;
		pthread_mutex_unlock(&d->mu);
		if (stop)
			break;
		if (resume_sync(d, 0, &e) < 0)
			run_fail(d, &e);
		report_line(d, "writing", now_sec());
		deploy_progress_send(d, NULL);	/* node mode: to pipold */
	}
	return NULL;
}

void
deploy_progress_send(struct deploy *d, const char *state)
{
	struct deploy_progress p;
	struct counters c;

	if (d->on_progress == NULL)
		return;
	pthread_mutex_lock(&d->mu);
	c = d->c;
	pthread_mutex_unlock(&d->mu);
	p.fetched = c.fetched;
	p.settled = c.written + c.zero + c.reused + c.resumed;
	p.total = d->ix ? d->ix->disk_size : 0;
	p.state = state ? state : p.settled == 0 ? "fetching" : "writing";
	d->on_progress(d->progress_arg, &p);
}

void
report_final(struct deploy *d, int rc, const struct perr *e)
{
	double t = now_sec() - d->t0;
	const struct counters *c = &d->c;
	char from[1024];
	json_t *o;

	if (d->tty && d->ix != NULL)
		fputc('\n', stderr);
	if (rc < 0) {
		log_warnx("%s", e->msg);
		if (d->progress_json && (o = counters_json(d, c, "failed", t))) {
			json_object_set_new(o, "error", json_string(e->msg));
			emit_json(o);
		}
		return;
	}
	if (d->progress_json && (o = counters_json(d, c, "done", t)) != NULL) {
		deploy_sources_json(d, o);
		emit_json(o);
	}
	sources_text(d, from, sizeof(from));
	log_debug("worker seconds: decode %.2f, hash %.2f, write %.2f, "
	    "check %.2f (%d workers, %.2f s wall)", c->busy_decode,
	    c->busy_hash, c->busy_write, c->busy_check, d->threads, t);
	fprintf(stderr, "pipol-agent: %s:%u on %s: %llu bytes in %.2f s "
	    "(%.0f MB/s): fetched %llu, written %llu, zero %llu, reused %llu, "
	    "resumed %llu; %llu refetches; peak RSS %ld KiB%s%s\n", d->name,
	    d->version, d->target, (unsigned long long)d->ix->disk_size, t,
	    (double)d->ix->disk_size / t / 1e6,
	    (unsigned long long)c->fetched, (unsigned long long)c->written,
	    (unsigned long long)c->zero, (unsigned long long)c->reused,
	    (unsigned long long)c->resumed,
	    (unsigned long long)c->refetches, peak_rss_kib(),
	    d->verify ? "; verified" : "", from);
}
