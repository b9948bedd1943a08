/*
 * deploy.h -- one deployment run (struct deploy), for host mode and node
 * mode alike, and the prototypes of the files that make it up. The
 * pipeline, top to bottom:
 *
 *   deploy.c: the run core -- index, target, pipeline, --verify, the
 *     resume record's end, the final report
 *   plan.c: each chunk is done (resume record), a zero task, a check
 *     task (reuse: hash what the target already holds) or a fetch
 *   fetch.c (1 thread, N keep-alive connections made by http.c):
 *     fetchq -> compressed buffers (pool of N + T + 2) -> decodeq
 *   pipeline.c (T workers): decodeq first (decode, CRC32, SHA-256,
 *     pwrite; refetch.c when a member does not check out), then tasks
 *     (zero a range; reuse.c: read + SHA-256, a mismatch goes to fetchq)
 *   report.c (1 thread): once a second, durability (fdatasync(target),
 *     then resume.c's record of what is now durable) and progress out:
 *     a bar, JSON lines, and the caller's callback (node mode: pipold)
 *   verify.c: --verify, every chunk read back and the disk hash
 *   runstate.c: what every thread shares -- the first error, the chunk
 *     FIFOs, waking the fetcher
 *
 * Memory: (N + T + 2) compressed buffers + T raw buffers, whatever the
 * image size. One mutex guards the queues and counters; the first error
 * wins (runstate.c), the others drain, every thread is joined.
 *
 * Knows nothing of pipold, orders or post-install (node.c): progress
 * leaves through on_progress.
 */
#ifndef AGENT_DEPLOY_H
#define AGENT_DEPLOY_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "http.h"
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

/* What the run reports once a second and at the end (raw disk bytes
 * settled: written, zero, reused or resumed). */
struct deploy_progress {
	const char *state;	/* "fetching" until a byte is settled, then
				   "writing"; or the caller's */
	uint64_t fetched, settled, total;
};

struct deploy {
	/* options */
	const char *base, *target, *resume_path;
	/* chunk sources in order: the caches (--cache), then base, last;
	 * the index always comes from base */
	const char *src[AGENT_SOURCES_MAX];
	int nsrc;		/* 0 until the run starts: base alone */
	char name[STORE_NAME_MAX + 1];
	unsigned version;
	int connections, threads, reuse, verify, progress_json, tty;
	int preloaded;		/* the target holds the image (a virtual
				 * node's overlay on its base): index and
				 * target only, nothing fetched or written */
	int timeout_sec;	/* server unreachable that long: give up */
	uint64_t max_rate;	/* bytes/s over all connections, 0: no cap */
	/* once a second from the report thread, and when the caller asks
	 * (deploy_progress_send); may block up to AGENT_PROGRESS_MS */
	void (*on_progress)(void *arg, const struct deploy_progress *p);
	void *progress_arg;

	struct pimg_index *ix;
	int fd, is_blk, had_data;	/* target */
	int dfd;		/* the same, O_DIRECT, or -1 where refused */
	uint64_t target_size;		/* before we touched it */

	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint8_t *state, *tries, *http_tries;	/* per chunk */
	uint8_t *src_of;	/* per chunk: the source it is asked of */
	uint64_t src_bytes[AGENT_SOURCES_MAX];	/* members each gave */
	unsigned src_fails[AGENT_SOURCES_MAX];	/* chunks moved on */
	uint8_t *task;		/* per chunk: enum task_kind or 0 */
	struct ixq taskq, fetchq;
	struct cbuf *decodeq, *decodeq_tail, *freebufs;
	uint32_t left;		/* chunks not yet done */
	struct counters c;
	int failed, report_stop;
	struct http_away away;	/* the store's absence, over all requests */
	struct perr err;
	void *fetch_wake;	/* CURLM *, for http_multi_wakeup */

	/* durability (report.c) */
	uint32_t *done_log;	/* chunks done, in completion order */
	size_t ndone_log, ndurable;
	int resume_fd;
	double t0;
};

/* deploy.c: the run core */
void deploy_init(struct deploy *d);	/* the defaults */
/* Index, target, pipeline, --verify; 0 when every byte is durable, else
 * -code and one line in e (also printed, and in the last JSON line). */
int deploy_run(struct deploy *d, struct perr *e);
void deploy_done(struct deploy *d);	/* close and free */

/* runstate.c: what every thread of the run shares */
/* The first error wins: every thread drains and stops. Any thread,
 * d->mu not held. */
void run_fail(struct deploy *d, const struct perr *e);
int ixq_push(struct ixq *q, uint32_t ix);	/* under d->mu */
int ixq_pop(struct ixq *q, uint32_t *ix);	/* under d->mu; -1 empty */
/* The fetcher sleeps in libcurl's poll: wake it after queueing a
 * fetch, freeing a buffer or failing. */
void run_wake_fetcher(struct deploy *d);
void run_wake_fetcher_locked(struct deploy *d);	/* d->mu held */

/* disk.c */
int disk_open(struct deploy *d, struct perr *e);
int disk_write(struct deploy *d, uint32_t ix, const void *raw,
    struct perr *e);
int disk_zero(struct deploy *d, uint32_t ix, void *scratch, struct perr *e);
int disk_read(struct deploy *d, uint32_t ix, void *raw, struct perr *e);
void *disk_buf_alloc(size_t len);	/* aligned for O_DIRECT; free() it */

/* fetch.c */
int fetch_index(struct deploy *d, struct perr *e);
void *fetch_main(void *arg);

/* plan.c: what each chunk needs, queued in the order of the work
 * (chunks already done are skipped); d->mu need not be held (no
 * thread runs yet). */
void plan_chunks(struct deploy *d);
/* Under d->mu: chunk ix is written (or known good) on the target. */
void plan_mark_done(struct deploy *d, uint32_t ix, uint64_t *counter);

/* reuse.c: a check task -- the target's bytes of chunk ix, hashed;
 * the index's SHA-256 marks it reused, else it is queued for fetching.
 * raw: a chunk-sized buffer. */
void reuse_check(struct deploy *d, uint32_t ix, uint8_t *raw);

/* refetch.c: chunk ix's member did not check out (why): fetch it again,
 * or after AGENT_REFETCH_MAX fetches fail the run naming it. */
void refetch_chunk(struct deploy *d, uint32_t ix, const char *why);
/* Under d->mu: chunk ix moves on to its next source, when it has one
 * (a cache failed it: no attempt of the last source is spent); 1 moved,
 * 0 it is at the last source already. */
int source_next(struct deploy *d, uint32_t ix, const char *why);

/* pipeline.c */
int pipeline_run(struct deploy *d, struct perr *e);

/* verify.c: --verify */
int verify_run(struct deploy *d, struct perr *e);

/* resume.c; resume_open marks recorded chunks CS_DONE */
int resume_open(struct deploy *d, struct perr *e);
int resume_sync(struct deploy *d, int final, struct perr *e);
void resume_finish(struct deploy *d);

/* report.c */
void *report_main(void *arg);
void report_line(struct deploy *d, const char *state, double now);
void report_final(struct deploy *d, int rc, const struct perr *e);
/* with caches (nsrc > 1): o's "sources", [{"url", "bytes", "failed_over"}]
 * in the order asked, pipold last */
void deploy_sources_json(const struct deploy *d, json_t *o);
/* The counters now, to on_progress, with state (NULL: "writing" or
 * "fetching"); nothing when there is no callback. */
void deploy_progress_send(struct deploy *d, const char *state);

#endif
