/*
 * pipold.h -- the pipol frontend daemon: one struct pipold, and the
 * prototypes of the files below the HTTP layer (db.c, dnsmasq.c), by
 * file. The HTTP layer is http.h, the handlers api.h, tokens auth.h,
 * power drivers power.h. Nothing here is for replies.
 */
#ifndef PIPOLD_H
#define PIPOLD_H

#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "perr.h"

struct json_t;

struct pg_conn;
struct pg_result;

/* dnsmasq.c: --dnsmasq-dir and its companions */
#define DNSMASQ_TFTP_ROOT	"/usr/lib/ipxe"	/* Debian's ipxe package */
struct dnsmasq_opts {
	const char *dir;	/* --dnsmasq-dir; NULL: write nothing */
	const char *public_url;	/* --public-url: where nodes reach pipold */
	const char *tftp_root;	/* --tftp-root: undionly.kpxe, snponly.efi */
	const char *elilo;	/* --elilo: elilo.efi, under tftp_root */
	char url[256];		/* public_url without a final '/' */
	char abs[3072];		/* dir, absolute */
	pthread_mutex_t mu;	/* one writer of the hosts file at a time */
};

/* db.c: a pool of connections, shared by the request threads; at most
 * DB_POOL_MAX open, a request waits for one (DB_WAIT_SEC, then 503) */
#define DB_POOL_MAX	32
#define DB_WAIT_SEC	10
struct db_pool {
	pthread_mutex_t mu;
	pthread_cond_t freed;	/* a connection went idle or was closed */
	struct pg_conn *idle[DB_POOL_MAX];
	int nidle;
	int nopen;		/* idle, lent out, or being made */
};

struct pipold {
	const char *state;	/* --state, $PIPOL_STATE, /var/lib/pipol */
	char store_root[3072];	/* STATE/store */
	const char *listen;	/* ADDR:PORT */
	unsigned ip_connections;	/* --ip-connections: per client address */
	char *conninfo;		/* --db, $PIPOL_DB, or the embedded one */
	int embedded;		/* the database is the one under STATE/pg */
	int started_pg;		/* this process started it (not reused) */
	atomic_int db_down;	/* db.c's watch found it not answering */
	struct MHD_Daemon *mhd;
	struct db_pool pool;
	struct dnsmasq_opts dnsmasq;
	const char *nfs_home;	/* --nfs-home SERVER:/PATH, or NULL */
	int console_days;	/* --console-days: logs kept (0: forever) */
	int reaper_sec;		/* --reaper-seconds: the expiry tick */
#define REAPER_SEC_DEFAULT	10
};

/* db.c: the database; pg_embedded_* run PostgreSQL under STATE/pg */
int pg_embedded_start(struct pipold *pd, struct perr *e);
void pg_embedded_stop(struct pipold *pd);
int db_migrate(struct pipold *pd, int *version, struct perr *e);
/* A thread that pings the database each second, sets pd->db_down, and
 * starts a dead embedded PostgreSQL again (PG_RESTARTS_MAX times, then
 * sends SIGUSR1 to the process: main exits 5). */
int db_watch_start(struct pipold *pd, struct perr *e);
/* Does the database answer a ping now (connect_timeout 2 s)? */
int db_answers(const struct pipold *pd);
void db_watch_stop(void);
/* A connection from the pool (NULL: the database is unreachable, or
 * none came free within DB_WAIT_SEC); give it back with db_put, which
 * drops it when broken or mid-transaction. */
struct pg_conn *db_get(struct pipold *pd);
void db_put(struct pipold *pd, struct pg_conn *db);
/* PQexecParams of sql, prepared once per connection under name (a
 * constant, one per sql); outside a transaction block. */
struct pg_result *db_exec_prepared(struct pg_conn *db, const char *name,
    const char *sql, int n, const char *const *params, const int *lens,
    const int *fmts);
/* One statement, text parameters (n of them; NULL is SQL NULL) and
 * text results; _bin with the lengths and formats of binary ones. The
 * caller PQclear()s the result, whatever its status. */
struct pg_result *db_query(struct pg_conn *db, const char *sql, int n,
    const char *const *params);
struct pg_result *db_query_bin(struct pg_conn *db, const char *sql, int n,
    const char *const *params, const int *lens, const int *fmts);
/*
 * A turn of a periodic job that one pipold sharing the database does at
 * a time, the others skipping theirs meanwhile: a session advisory lock
 * (keys 1885958255 = "pipo", which) on db, tried without waiting. 1
 * taken: run the turn on db and give it back with db_turn_end before
 * db_put; 0 another pipold is in its turn (or the database did not
 * answer). A pipold that dies in its turn drops the lock with its
 * connection.
 */
enum db_turn { DB_TURN_REAPER = 1, DB_TURN_SCHED = 2, DB_TURN_JOBS = 3 };
int db_turn_begin(struct pg_conn *db, enum db_turn which);
void db_turn_end(struct pg_conn *db, enum db_turn which);
/* Did this statement fail a serialisation check or deadlock (40001,
 * 40P01), so that its transaction may be run again? */
int db_is_retry(const struct pg_result *r);

/*
 * The one way to run a transaction: BEGIN, fn(db, arg), then COMMIT
 * when fn returned 0 (checked: the server must say COMMIT), ROLLBACK
 * when it returned < 0: -1 for its own refusal, DB_TX_RETRY when a
 * statement db_is_retry(). Then the whole is run again, as after a
 * COMMIT that failed so, DB_TX_TRIES runs at most; fn must be safe to
 * run again (queue no reply, keep nothing of an undone run). Returns 0
 * (committed), -1 (fn refused), DB_TX_RETRY (the runs ran out), or
 * DB_TX_FAILED (BEGIN or COMMIT failed).
 */
#define DB_TX_TRIES	3
#define DB_TX_RETRY	(-2)
#define DB_TX_FAILED	(-3)
typedef int db_tx_fn(struct pg_conn *db, void *arg);
int db_tx(struct pg_conn *db, db_tx_fn *fn, void *arg);

void db_pool_init(struct pipold *pd);
void db_pool_close(struct pipold *pd);
void db_pool_flush(struct pipold *pd);	/* after the server went away */

/* Append to the event log (never updated, never deleted); detail is
 * consumed. */
void db_event(struct pg_conn *db, const char *actor, const char *kind,
    struct json_t *detail);

/* dnsmasq.c: check the options; write DIR/pipol.conf and the hosts file
 * at start; rewrite the hosts file after a node change (logs failures) */
int dnsmasq_check(struct dnsmasq_opts *o, struct perr *e);
int dnsmasq_start(struct pipold *pd, struct perr *e);
void dnsmasq_nodes_changed(struct pipold *pd);

/* elilo.c: the elilo configuration files of network-only nodes, next to
 * --elilo under the TFTP root; nothing without --elilo. elilo_write_node
 * after a change of one node's boot (its deploy armed, its boot mode
 * set), elilo_sync for all (start, node changes, deployment moves,
 * reservation ends). */
int elilo_check(struct dnsmasq_opts *o, struct perr *e);
void elilo_write_node(struct pipold *pd, const char *name);
void elilo_sync(struct pipold *pd);

#endif
