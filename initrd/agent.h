/*
 * agent.h -- pipol-agent: one deployment run (struct deploy) and the
 * prototypes of its files. The pipeline, top to bottom:
 *
 *   plan (main): each chunk is done (resume record), a zero task, a
 *     check task (reuse: hash what the target already holds) or a fetch
 *   fetch.c (1 thread, N keep-alive libcurl connections): fetchq ->
 *     compressed buffers (pool of N + T + 2) -> decodeq
 *   pipeline.c (T workers): decodeq first (decode, CRC32, SHA-256,
 *     pwrite), then tasks (zero a range; check: read + SHA-256, a
 *     mismatch goes to fetchq)
 *   report.c (1 thread): once a second, progress out and durability:
 *     fdatasync(target), then the resume record of what is now durable
 *
 * Memory: (N + T + 2) compressed buffers + T raw buffers, whatever the
 * image size. One mutex guards the queues and counters; the first error
 * wins, the others drain, every thread is joined.
 */
#ifndef AGENT_H
#define AGENT_H

#include <pthread.h>
#include <stdint.h>

#include "limits.h"
#include "perr.h"
#include "pimg.h"
#include "store.h"

enum chunk_state { CS_TODO, CS_QUEUED, CS_FETCHING, CS_DONE };
enum task_kind { TASK_CHECK = 1, TASK_ZERO = 2 };

struct cbuf {			/* one fetched member */
	struct cbuf *next;
	uint32_t ix;
	size_t len, cap;
	uint8_t *data;
};

struct ixq {			/* FIFO of chunk numbers */
	uint32_t *v;
	size_t cap, head, len;
};

struct counters {
	uint64_t fetched, written, zero, reused, resumed;	/* bytes */
	uint64_t chunks_done, refetches, http_retries;
	double busy_decode, busy_hash, busy_write, busy_check;	/* worker s */
};

struct deploy {
	/* options */
	const char *base, *target, *resume_path;
	char name[STORE_NAME_MAX + 1];
	unsigned version;
	int connections, threads, reuse, verify, progress_json, tty;
	int timeout_sec;	/* server unreachable that long: give up */
	uint64_t max_rate;	/* bytes/s over all connections, 0: no cap */
	struct node *node;	/* node mode: where progress goes, or NULL */

	struct pimg_index *ix;
	int fd, is_blk, had_data;	/* target */
	int dfd;		/* the same, O_DIRECT, or -1 where refused */
	uint64_t target_size;		/* before we touched it */

	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint8_t *state, *tries, *http_tries;	/* per chunk */
	uint8_t *task;		/* per chunk: enum task_kind or 0 */
	struct ixq taskq, fetchq;
	struct cbuf *decodeq, *decodeq_tail, *freebufs;
	uint32_t left;		/* chunks not yet done */
	struct counters c;
	int failed, report_stop;
	double unreachable_since;	/* 0: the last transfer worked */
	struct perr err;
	void *fetch_wake;	/* CURLM *, for curl_multi_wakeup */

	/* durability (report.c) */
	uint32_t *done_log;	/* chunks done, in completion order */
	size_t ndone_log, ndurable;
	int resume_fd;
	double t0;
};

/* agent.c: one deployment run, for host mode and node mode alike */
void deploy_init(struct deploy *d);	/* the defaults */
int deploy_run(struct deploy *d, struct perr *e);
void deploy_done(struct deploy *d);	/* close and free */
void deploy_fail(struct deploy *d, const struct perr *e);
int ixq_push(struct ixq *q, uint32_t ix);
int ixq_pop(struct ixq *q, uint32_t *ix);

/* node.c: node mode (the order from pipold, progress, result) */
struct node;
int node_main(int argc, char **argv);
void node_progress(struct deploy *d, const char *state);

/* cmdline.c: pipol.server= and pipol.token= from the kernel command line */
struct agent_cmdline {
	char server[512];
	char token[128];	/* checked: exactly 64 hex digits */
};
int cmdline_read(const char *path, struct agent_cmdline *c, struct perr *e);
/* http(s)://host...: no spaces, quotes or backslashes; opt names it */
int agent_url_check(const char *opt, const char *v, struct perr *e);
/* exactly 64 lower-case hex digits; the message never shows the value */
int agent_token_check(const char *what, const char *v, struct perr *e);

/* disk.c */
int disk_open(struct deploy *d, struct perr *e);
int disk_write(struct deploy *d, uint32_t ix, const void *raw,
    struct perr *e);
int disk_zero(struct deploy *d, uint32_t ix, void *scratch, struct perr *e);
int disk_read(struct deploy *d, uint32_t ix, void *raw, struct perr *e);
void *disk_buf_alloc(size_t len);	/* aligned for O_DIRECT; free() it */

/* fetch.c */
int fetch_global_init(struct perr *e);
int fetch_index(struct deploy *d, struct perr *e);
void *fetch_main(void *arg);
void fetch_wakeup(struct deploy *d);
void fetch_wakeup_locked(struct deploy *d);	/* d->mu held */
/* What every agent request shares (capture too): timeouts, protocols,
 * user agent; err: a CURL_ERROR_SIZE buffer. h is a CURL *. */
void fetch_easy_setup(void *h, char *err);
unsigned fetch_backoff_ms(unsigned attempt);	/* before retry attempt+1 */

/* pipeline.c */
int pipeline_run(struct deploy *d, struct perr *e);
int pipeline_verify(struct deploy *d, struct perr *e);

/* resume.c; resume_open marks recorded chunks CS_DONE */
int resume_open(struct deploy *d, struct perr *e);
int resume_sync(struct deploy *d, int final, struct perr *e);
void resume_finish(struct deploy *d);

/* report.c */
void *report_main(void *arg);
void report_line(struct deploy *d, const char *state, double now);
void report_final(struct deploy *d, int rc, const struct perr *e);

/*
 * capture.c: a disk or file -> a new draft image in pipold's store,
 * sending only the chunks the store lacks (docs/protocol.md, Capture).
 * For host mode (capture_cmd.c) and for an order that says "capture".
 */
struct capture_opts {
	const char *server;	/* pipold: http(s)://host[:port][/prefix] */
	const char *token;	/* 64 lower-case hex digits; never printed */
	const char *name;	/* the image */
	const char *source;	/* a block device or a file */
	int codec;		/* enum pimg_codec; 0: gzip */
	uint32_t chunk_size;	/* 0: PIMG_CHUNK_DEFAULT */
	int threads;		/* compress workers; 0: one per core */
	int connections;	/* uploads at once; 0: AGENT_CONNECTIONS_DEFAULT */
	int timeout_sec;	/* server away that long: give up; 0: default */
	int progress_json;	/* JSON lines on stdout, the last says the
				   version */
};
/* 0 and *version (the new draft's number), or -code and one line in e.
 * Prints only progress, as asked; the caller reports the outcome. */
int capture_run(const struct capture_opts *o, unsigned *version,
    struct perr *e);
int capture_main(int argc, char **argv);	/* capture_cmd.c */

#endif
