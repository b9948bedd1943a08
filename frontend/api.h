/*
 * api.h -- the handlers behind http.c's route table, by the file that
 * holds them (one file per resource served), and what some of them
 * share. Replies are http.h's; the database, pipold.h's. A handler
 * runs once its route's authorisation and body limit are checked.
 */
#ifndef API_H
#define API_H

#include <jansson.h>

#include "http.h"

struct pg_conn;

/* api_user.c: GET /api/whoami, POST /api/users */
route_fn api_whoami, api_user_add;
/* pipold --add-user: a user and its token, printed once */
int api_add_user(struct pipold *pd, const char *name, int admin,
    struct perr *e);

/* api_node.c: /api/nodes, /api/nodes/NAME */
route_fn api_node_add, api_node_list, api_node_show, api_node_set;
#define NODE_CONSOLE_MAX	200	/* boot_params.console, node set */
/* NAME of /api/nodes/NAME[/...], 0 and *rest (what follows NAME); -1
 * when it is no node name. */
int node_name_from_url(const char *url, char name[64], const char **rest);
/* api_power.c: POST /api/nodes/NAME/power */
route_fn api_node_power;
/* boot.c: GET /boot/MAC (the iPXE script), POST /api/nodes/NAME/boot */
route_fn boot_script, api_node_boot;

/* api_resv.c: reservations, licences, queues */
route_fn api_resv_add, api_resv_list, api_resv_change;
route_fn api_licence_add, api_licence_list, api_queue_add, api_queue_list;
/* api_rack.c: racks and their caches (schema 022) */
route_fn api_rack_add, api_rack_list, api_rack_rm;
/* api_vmhost.c: VM hosts and their capacity (schema 024) */
route_fn api_vmhost_add, api_vmhost_list, api_vmhost_rm;
/* Reserve from a checked request (POST /api/reservations, deploy
 * without a reservation, inside its transaction); 0 and the id, or
 * -1 / DB_TX_RETRY with *f saying why. Queues no reply. */
int resv_take(struct pg_conn *db, const struct caller *who, json_t *o,
    char *idbuf, size_t idlen, struct http_fail *f);
/* The expiry tick: reservations whose time is over end (a thread) */
int resv_tick_start(struct pipold *pd, struct perr *e);
void resv_tick_stop(void);

/* api_deploy.c: deployments */
route_fn api_deploy_add, api_deploy_list;
/* GET of a list the caller owns: sql with $1 the caller's id, $2
 * everyone's rows, $3 ?id= (0: all); "no such NOTFOUND of yours" */
enum MHD_Result api_owned_list(struct http_req *rq, const char *sql,
    int everyone, const char *what, const char *notfound);
/* Power-cycle the nodes named (a PostgreSQL array literal) into their
 * deployment, in a thread of its own; failures are logged only. */
void power_deploy(struct pipold *pd, struct pg_conn *db, const char *names);
/* boot.c: a boot cycle pipold started on node name may take a token. */
void boot_arm(struct pg_conn *db, const char *name);
/* agent_api.c: what a deployment's agent may ask */
route_fn agent_order, agent_progress, agent_result, agent_log;
/* api_script.c: scripts and the logs of their runs */
route_fn api_script_add, api_script_list, api_script_get, api_script_rm;
route_fn api_deploy_log;

/* api_capture.c: every capture route (docs/protocol.md, Capture) */
#define CAPTURE_POST_MAX	(64u << 20)	/* an index: 1.2M chunks */
#define CAPTURE_PUT_MAX		((68u << 20) + 4096)	/* a 64 MiB chunk */
route_fn api_capture_add, api_capture_post, api_capture_put;

/* http_store.c: GET/HEAD of /images/NAME/V.idx and /chunks/HASH.EXT,
 * matched before the route table; GET /bootenv/FLAVOUR/FILE */
int http_store_path_ok(const char *url);
enum MHD_Result http_store(struct pipold *pd, struct MHD_Connection *c,
    const char *url, int head);
route_fn http_bootenv;

/* policy (api_policy.c, schema 009): groups, queue grants, the site's
 * horizon, per-user limits; admins change them, users see their own.
 * resv_take's refusal of a request for N free nodes that lost a race
 * for one: api_resv_add runs it again. */
#define RESV_CONTESTED	(-4)
route_fn api_group_list, api_group_set, api_group_member, api_grant_list,
    api_grant_set, api_site_show, api_site_set, api_user_limits;
/* api_token.c: a user's API tokens (schema 008) */
#define TOKEN_DAYS_DEFAULT	90	/* pipold --token-days: a token's
				 * lifetime and the longest asked; 0: never */
#define TOKEN_DAYS_MAX		36500	/* the longest lifetime at all */
route_fn api_token_list, api_token_add, api_token_revoke, api_token_rotate;
/* pipold --token-days, before the server starts; and its value */
void api_token_days_set(int days);
int api_token_days(void);
/* From the expiry tick: tokens_purge() (schema 008) once an hour. */
void tokens_tick(struct pg_conn *db);

/* agent_api.c (agent-phase): POST /agent/phase */
route_fn agent_phase;

/* timeline.c (timeline, schema 011): a phase of the deployment in
 * flight on node NAME that changes no state ("power_on", "handover"),
 * asked from addr (NULL: unknown); logged when it cannot be recorded */
void timeline_mark(struct pg_conn *db, const char *name, const char *phase,
    const char *addr);

/* netboot.c (netboot, schema 012): the deployed system's kernel, taken
 * from the agent in pieces and served to netboot-only nodes */
#define NETBOOT_PIECE_MAX	(8u << 20)	/* one PUT's body */
#define NETBOOT_KERNEL_MAX	(64ull << 20)
#define NETBOOT_INITRD_MAX	(512ull << 20)
#define NETBOOT_CMDLINE_MAX	2048	/* with its NUL */
route_fn agent_kernel_put, agent_kernel_post;
struct netboot_kernel {
	char deployment[24];
	char kernel[65], initrd[65];	/* SHA-256 in hex; initrd "": none */
	char cmdline[NETBOOT_CMDLINE_MAX];
};
/* The recorded kernel node node_id boots now, asked from addr (NULL:
 * unknown): its current deployment's, past writing, to its own address
 * when it has one. 1 found, 0 none, -1 database error. */
int netboot_kernel_of(struct pg_conn *db, const char *node_id,
    const char *addr, struct netboot_kernel *k);
/* GET /boot/MAC/kernel|initrd, from boot_script */
enum MHD_Result netboot_file(struct http_req *rq, const char *mac,
    const char *part);
/* the hourly sweep of STATE/kernels: files no deployment needs */
void netboot_tick(struct pipold *pd, struct pg_conn *db);
/* elilo.c's local mode: the node's recorded kernel and initrd placed
 * as DIR/pipol/NAME/vmlinuz and initrd.img, its command line in
 * cmdline; 1 done, 0 none recorded, -1 an error */
int netboot_elilo_files(struct pipold *pd, struct pg_conn *db,
    const char *node_id, const char *name, const char *ip, const char *dir,
    char *cmdline, size_t len);
/* mac: GET /grub/MAC, the GRUB script of a mac-efi32 node (boot.c) */
route_fn grub_script;

/* imageapi: api_image.c, GET /api/images[/NAME], POST
 * /api/images/NAME/validate|promote|rollback|copy */
route_fn api_image_list, api_image_show, api_image_validate,
    api_image_promote, api_image_rollback, api_image_copy,
    api_image_packages;

/* sub (api_job.c, jobs.c, schema 016): pipol sub and pipol job; the
 * node's job hook (/job/...) with its job-run token */
#define JOB_SOURCE_MAX		(256ull << 20)	/* a source tarball */
#define JOB_OUT_MAX		(64ull << 20)	/* stdout, stderr each */
#define JOB_RESULTS_MAX		(256ull << 20)	/* the results tarball */
#define JOB_PIECE_MAX		(8u << 20)	/* one upload's piece */
route_fn api_job_add, api_job_change, api_job_list, api_job_get;
route_fn job_hook_argv, job_hook_source, job_hook_out, job_hook_result;
/* api_deploy.c: the deployment of a placed job request, as the user's
 * own POST /api/deployments makes it (the same checks); 0 or -1, *f */
int deploy_for_job(struct pipold *pd, struct pg_conn *db,
    const struct caller *who, const char *arr, int nnodes, const char *ref,
    long long rid, struct http_fail *f);
int deploy_image_ok(struct pipold *pd, const char *ref, int admin,
    struct perr *e);
/* agent_api.c's order: the job run of deployment dep, if any, with a
 * job-run token minted for the address addr (jobs.c); NULL when none */
json_t *job_order_fields(struct pg_conn *db, const char *dep,
    const char *addr);

/* metrics (metrics.c): GET /metrics, Prometheus' text format */
route_fn api_metrics;

/* bmc (api_bmc.c, bmc.c, schema 017): GET /api/bmc/NAME (the holder's
 * BMC account), POST /api/bmc/NAME/rotate-admin (admins) */
route_fn api_bmc_show, api_bmc_rotate;

/* refresh (api_refresh.c, refresh.c, schema 018): pipol image refresh
 * and history; capture_start (api_capture.c): a capture deployment of
 * node into image for user uid under reservation res (NULL: none), its
 * power cycle; its JSON answer in *reply (caller frees); 0, or -1, *f */
route_fn api_refresh_add, api_refresh_history;
int capture_start(struct pipold *pd, struct pg_conn *db, const char *node,
    const char *image, const char *uid, const char *res, char **reply,
    struct http_fail *f);
/* api_image.c: NAME of /api/images/NAME[/ACTION], checked; 0 or -1 */
#include "store.h"
int image_from_url(const char *url, char name[STORE_NAME_MAX + 1]);

/* console (api_console.c): GET /api/nodes/NAME/console (an upgrade),
 * GET /api/deployments/ID/console (the log) */
route_fn api_node_console, api_deploy_console;

/* cron (api_job.c, api_cron.c, cron.c, schema 020): a job's request
 * as POST /api/jobs and POST /api/cron take it, checked into SQL
 * parameters; pipol cron's routes */
struct job_req {
	char uid[24], n[16], secs[24], imgs[16 * 130 + 4];
	const char *name, *prof, *keep;
	char *argv;		/* JSON; job_req_free */
};
int job_req_parse(struct http_req *rq, json_t *o, struct job_req *jr,
    enum MHD_Result *rc);
void job_req_free(struct job_req *jr);
enum MHD_Result job_req_sql_error(struct http_req *rq, struct pg_result *r,
    const char *what);
route_fn api_cron_add, api_cron_list, api_cron_rm, api_cron_change;

#endif
