/*
 * pipold.h -- the pipol frontend daemon: one struct pipold, prototypes by
 * file. This first cut serves the image store over HTTP (the paths of
 * docs/protocol.md) and runs the database (embedded PostgreSQL by
 * default) with its migrations; reservations, deployments and the agent
 * API build on it.
 */
#ifndef PIPOLD_H
#define PIPOLD_H

#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include "perr.h"

struct pg_conn;
struct pg_result;

/* dnsmasq.c: --dnsmasq-dir and its companions */
#define DNSMASQ_TFTP_ROOT	"/usr/lib/ipxe"	/* Debian's ipxe package */
struct dnsmasq_opts {
	const char *dir;	/* --dnsmasq-dir; NULL: write nothing */
	const char *public_url;	/* --public-url: where nodes reach pipold */
	const char *tftp_root;	/* --tftp-root: undionly.kpxe, snponly.efi */
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
	char *conninfo;		/* --db, $PIPOL_DB, or the embedded one */
	int embedded;		/* the database is the one under STATE/pg */
	int started_pg;		/* this process started it (not reused) */
	struct MHD_Daemon *mhd;
	struct db_pool pool;
	struct dnsmasq_opts dnsmasq;
	const char *nfs_home;	/* --nfs-home SERVER:/PATH, or NULL */
};

/*
 * A route (pipold.c): the handler gets the whole body, at most body_max
 * bytes (0: none taken), NUL-terminated when there is one.
 */
typedef enum MHD_Result route_fn(struct pipold *pd, struct MHD_Connection *c,
    const char *url, const char *body, size_t len);
struct route {
	const char *method;	/* GET (HEAD too), POST, PUT, DELETE */
	const char *path;	/* exact, or a prefix when it ends in '/' */
	size_t body_max;
	route_fn *fn;
};

extern volatile sig_atomic_t pipold_quit;

/* pipold.c: a short answer of that type (the text is copied) */
enum MHD_Result http_reply(struct MHD_Connection *c, unsigned status,
    const char *type, const char *text);
enum MHD_Result http_text(struct MHD_Connection *c, unsigned status,
    const char *text);

/* http_store.c: GET/HEAD of /images/NAME/V.idx and /chunks/HASH.EXT */
int http_store_path_ok(const char *url);
enum MHD_Result http_store(struct pipold *pd, struct MHD_Connection *c,
    const char *url, int head);
/* GET/HEAD of /bootenv/FLAVOUR/FILE, from STATE/bootenv/ */
route_fn http_bootenv;

/* auth.c: tokens (256 bits, SHA-256 at rest, constant-time compare) */
int auth_token_new(char hex[65], uint8_t hash[32], struct perr *e);
int auth_bearer_hash(struct MHD_Connection *c, uint8_t hash[32]);
int auth_same(const uint8_t a[32], const uint8_t b[32]);

/* api.c: the API behind the command line (first: whoami) */
#define API_BODY_MAX	(64 * 1024)	/* any request body: then 413 */

route_fn api_whoami, api_user_add, api_node_add, api_node_list;
/* api_resv.c */
route_fn api_resv_add, api_resv_list, api_resv_change;
route_fn api_licence_add, api_licence_list, api_queue_add, api_queue_list;
/* api_deploy.c, agent_api.c, boot.c */
route_fn api_deploy_add, api_deploy_list, api_capture_add;
/* api_capture.c: may the caller send a body larger than API_BODY_MAX? */
unsigned capture_preauth(struct pipold *pd, struct MHD_Connection *c);
route_fn agent_order, agent_progress, agent_result, agent_log;
/* api_script.c */
route_fn api_script_add, api_script_list, api_script_get, api_script_rm;
route_fn api_deploy_log;
route_fn boot_script;
enum MHD_Result api_node_boot(struct pipold *pd, struct MHD_Connection *c,
    const char *name, const char *body, size_t len);	/* boot.c */
/* power the nodes named (a PostgreSQL array literal) into their deploy */
void power_deploy(struct pipold *pd, struct pg_conn *db, const char *names);
route_fn api_node_show, api_node_post;	/* /api/nodes/NAME[/power] */
int api_add_user(struct pipold *pd, const char *name, int admin,
    struct perr *e);

/* api_capture.c: a node's disk into the store (docs/protocol.md) */
#define CAPTURE_POST_MAX	(64u << 20)	/* an index: 1.2M chunks */
#define CAPTURE_PUT_MAX		((68u << 20) + 4096)	/* a 64 MiB chunk */
route_fn api_capture_post, api_capture_put;

/* db.c: the database; pg_embedded_* run PostgreSQL under STATE/pg */
int pg_embedded_start(struct pipold *pd, struct perr *e);
void pg_embedded_stop(struct pipold *pd);
int db_migrate(struct pipold *pd, int *version, struct perr *e);
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
void db_pool_init(struct pipold *pd);
void db_pool_close(struct pipold *pd);
void db_pool_flush(struct pipold *pd);	/* after the server went away */

/* dnsmasq.c: check the options; write DIR/pipol.conf and the hosts file
 * at start; rewrite the hosts file after a node change (logs failures) */
int dnsmasq_check(struct dnsmasq_opts *o, struct perr *e);
int dnsmasq_start(struct pipold *pd, struct perr *e);
void dnsmasq_nodes_changed(struct pipold *pd);

#endif
