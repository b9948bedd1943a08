/*
 * deploy.c -- the run core of one deployment, for host mode (agent.c)
 * and node mode (node.c) alike: the index (fetch.c), the target
 * (disk.c), the pipeline (pipeline.c), --verify (verify.c), the resume
 * record's end (resume.c) and the final report (report.c). The first
 * error wins (run_fail) and every thread drains.
 *
 * It does not parse options, talk to pipold nor post-install: the
 * caller fills struct deploy and, for progress, on_progress.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deploy.h"
#include "http.h"
#include "image.h"
#include "progress.h"

void
deploy_init(struct deploy *d)
{
	memset(d, 0, sizeof(*d));
	d->connections = AGENT_CONNECTIONS_DEFAULT;
	d->timeout_sec = AGENT_UNREACHABLE_SEC;
	d->reuse = 1;
	d->fd = d->dfd = d->resume_fd = -1;
}

int
deploy_run(struct deploy *d, struct perr *e)
{
	int rc;

	/* one worker more than cores: a worker waits in its O_DIRECT write
	 * while another decodes (docs/performance.md) */
	d->threads = d->threads ? d->threads : image_threads(0) + 1;
	d->tty = isatty(STDERR_FILENO);
	d->t0 = now_sec();
	if (d->nsrc == 0 || d->src[d->nsrc - 1] != d->base)
		d->src[d->nsrc++] = d->base;	/* the store itself, last */
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	http_away_init(&d->away, d->timeout_sec);
	if ((rc = http_global_init(e)) == 0 &&
	    (rc = fetch_index(d, e)) == 0 &&
	    (rc = disk_open(d, e)) == 0 && !d->preloaded)
		rc = pipeline_run(d, e);
	if (rc == 0 && d->verify)
		rc = verify_run(d, e);
	if (rc == 0 && !d->preloaded)
		resume_finish(d);
	report_final(d, rc, e);
	http_away_destroy(&d->away);
	return rc;
}

void
deploy_done(struct deploy *d)
{
	if (d->fd >= 0)
		close(d->fd);
	if (d->dfd >= 0)
		close(d->dfd);
	pimg_index_free(d->ix);
	d->ix = NULL;
	d->fd = d->dfd = -1;
}

