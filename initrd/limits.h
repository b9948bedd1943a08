/*
 * limits.h -- every pipol-agent tunable, named once, with its unit and
 * the reason for its value.
 */
#ifndef AGENT_LIMITS_H
#define AGENT_LIMITS_H

#define AGENT_CONNECTIONS_DEFAULT 4	/* fills a 10 GbE link from one node */
#define AGENT_CONNECTIONS_MAX	64
#define AGENT_THREADS_MAX	64
#define AGENT_CONNECT_TIMEOUT_SEC 10	/* a live frontend answers in ms */
#define AGENT_STALL_SEC		30	/* no byte for this long: reconnect */
#define AGENT_REQUEST_TIMEOUT_SEC 300	/* one chunk, even on a slow link */
#define AGENT_REFETCH_MAX	3	/* bad CRC/hash: then fail, naming it */
#define AGENT_SOURCES_MAX	8	/* chunk sources: caches, then --base */
#define AGENT_HTTP_RETRIES	12	/* attempts of one request (a chunk, a
					   call): ~1 min of backoff */
#define AGENT_UNREACHABLE_SEC	120	/* --timeout default: then give up */
#define AGENT_NOTFOUND_RETRIES	3	/* 404 on an immutable URL: give up */
#define AGENT_BACKOFF_MIN_MS	200	/* first retry after a failure */
#define AGENT_BACKOFF_MAX_MS	10000	/* a restarting server is back by then */
#define AGENT_REPORT_MS		1000	/* progress and durability tick */
#define AGENT_PROGRESS_MS	2000	/* node mode's progress POST: best
					   effort, never holds a run up */
#define AGENT_ORDER_MAX		(1 << 20)	/* a pipold answer to node mode:
						   an order is a few KB */
#define AGENT_SCRIPT_SEC	1800	/* one post-install script */
#define AGENT_SCRIPT_OUTPUT_MAX	(32 * 1024)	/* a script's output kept for
						   pipol log: its last words */
#define AGENT_PART_WAIT_MS	5000	/* a partition's device node after
					   BLKRRPART: devtmpfs takes ms */
#define AGENT_EXTRA_BUFS	2	/* compressed buffers beyond N + T */
#define AGENT_ASK_BATCH		256	/* hashes per missing request (pipold
					   takes 1024): ~17 KB of JSON */
#define AGENT_INDEX_MAX		(64u << 20)	/* pipold takes an index up
						   to this: 1.2M chunks */
#define AGENT_ANSWER_MAX	(1 << 20)	/* a pipold answer: 1024 hashes
						   answered is ~110 KB */

#endif
