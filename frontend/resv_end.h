/*
 * resv_end.h -- what pipold does when a reservation ends: the queue of
 * node end actions (node_end_actions, schema 006) worked through each
 * node's power driver, and what a deployment onto a node with an
 * action still queued must do. The schema parks the nodes and queues
 * the actions, in the transaction that ends the reservation; this
 * module knows nothing of HTTP routes.
 */
#ifndef RESV_END_H
#define RESV_END_H

struct pipold;
struct pg_conn;
struct http_fail;

#define RESV_END_TRIES		5	/* then given up, with an event */
#define RESV_END_LEASE_SEC	120	/* > any driver's time limit */
#define RESV_END_BACKOFF_SEC	10	/* doubled at each failed try */
#define RESV_END_BATCH		32	/* rows acted on in one tick */
#define RESV_END_WIPE_SEC	1800	/* a wipe reports done by then */
#define RESV_END_WIPE_BACKOFF_SEC 60	/* after a failed wipe */

/*
 * Act on the end actions that are due: each claimed under a lease in a
 * statement of its own (FOR UPDATE SKIP LOCKED: another pipold takes
 * other rows), then the power driver run with no transaction open,
 * then the row deleted (done) or its error kept for a later try. Each
 * outcome is a node.end event. From the expiry tick. A wipe row starts
 * a wipe deployment instead; the wipes that ended are settled first
 * (wipe_watch, schema 010).
 */
void resv_end_tick(struct pipold *pd);

/*
 * In a deployment's transaction, for its nodes (a PostgreSQL array
 * literal): the queued power-offs are dropped (the deployment power-
 * cycles the node anyway); one a pipold is running now refuses the
 * deployment, and so does a wipe, queued, running or given up. 0, or -1 / DB_TX_RETRY with *f saying why.
 */
int resv_end_deploy(struct pg_conn *db, const char *names,
    struct http_fail *f);

#endif
