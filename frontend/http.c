/*
 * http.c -- pipold's HTTP layer: the route table, the dispatcher, body
 * gathering, the authorisation each route declares, and every response
 * pipold queues (no other file calls libmicrohttpd's reply functions).
 * What a route does is its handler's business (api_*.c, agent_api.c,
 * boot.c, http_store.c); who sent a token is auth.c's.
 *
 * A request, in order: the store paths (http_store.c, no body, no
 * token); else its route (404, 405); an upload route's caller is
 * authorised before its body is read, so that nobody else makes pipold
 * hold tens of MiB; the body is gathered up to the route's limit (413);
 * then, for every route but the public ones, a pooled connection and
 * the caller (401, 403, 503; an upload's once more); the body's JSON
 * keys when the route lists them (400); and the handler, which answers.
 */
#include <sys/resource.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "http.h"
#include "pipold.h"
#include "metrics.h"	/* metrics: request latency by route */
#include "web.h"

/*
 * Connections at once: every node's agent keeps one to report progress
 * (plus its fetch connections when pipold serves the chunks), each a
 * thread (MHD_USE_THREAD_PER_CONNECTION) waiting in poll(): select()
 * and MHD's default limit (FD_SETSIZE - 4) refused the 1,021st
 * descriptor, under 1,000 agents. Bounded by the open-file limit too,
 * less HTTP_FDS_SPARE for the database, the files being sent, logs.
 */
#define HTTP_CONNECTIONS_MAX	16384
#define HTTP_FDS_SPARE		256
#define HTTP_DRAIN_MAX		(1024 * 1024)	/* a body past its route's
				 * limit read and dropped (then 413) up to
				 * this, else refused unread */
#define HTTP_TIMEOUT_SEC	60	/* an idle connection is closed (an
				 * agent speaks each second) */

/* GET /health: 200 while the database answers, else 503 with a body
 * naming it. The watch's word, checked again when it says down (it
 * looks once a second): pinged only then. */
static enum MHD_Result
http_health(struct http_req *rq)
{
	if (atomic_load(&rq->pd->db_down) && !db_answers(rq->pd))
		return http_reply(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "application/json", "{\"error\":\"database unavailable\","
		    "\"database\":\"down\"}");
	return http_reply(rq->c, MHD_HTTP_OK, "application/json",
	    "{\"database\":\"up\"}");
}

#define KEYS(...)	((const char *const []){ __VA_ARGS__, NULL })

/*
 * The routes: method, path, who may call, the largest body taken, the
 * keys of its JSON object (when the dispatcher parses it), the handler.
 * The first match wins. The store paths come before, checked by
 * http_store_path_ok.
 */
const struct route http_routes[] = {
	{ "GET", "/health", HTTP_PUBLIC, 0, NULL, http_health },
	{ "GET", "/boot/", HTTP_PUBLIC, 0, NULL, boot_script },
	{ "GET", "/bootenv/", HTTP_PUBLIC, 0, NULL, http_bootenv },

	{ "GET", "/api/whoami", HTTP_USER, 0, NULL, api_whoami },
	{ "POST", "/api/users", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("name", "admin", "ssh_keys"), api_user_add },

	{ "POST", "/api/nodes", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("name", "mac", "profile", "ip", "power_driver",
	    "power_params"), api_node_add },
	{ "GET", "/api/nodes", HTTP_USER, 0, NULL, api_node_list },
	/* console (api_console.c): before the /api/nodes/ prefix */
	{ "GET", "/api/nodes/*/console", HTTP_USER, 0, NULL,
	    api_node_console },
	/* a prefix: GET of NAME/power is the handler's 404, not a 405 */
	{ "GET", "/api/nodes/", HTTP_USER, 0, NULL, api_node_show },
	{ "POST", "/api/nodes/*", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("power_driver", "power_params", "bootenv", "console",
	    "wipe", "kexec", "rack"), api_node_set },
	{ "POST", "/api/nodes/*/power", HTTP_USER, API_BODY_MAX,
	    KEYS("action"), api_node_power },
	{ "POST", "/api/nodes/*/boot", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("mode", "kernel", "initrd", "cmdline"), api_node_boot },

	{ "POST", "/api/reservations", HTTP_USER, API_BODY_MAX,
	    KEYS("nodes", "count", "profile", "licences", "seconds", "at",
	    "queue", "asap"), api_resv_add },
	{ "GET", "/api/reservations", HTTP_USER, 0, NULL, api_resv_list },
	/* /ID/extend takes {"seconds"}, /ID/release nothing */
	{ "POST", "/api/reservations/", HTTP_USER, API_BODY_MAX, NULL,
	    api_resv_change },
	{ "POST", "/api/licences", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("name", "total"), api_licence_add },
	{ "GET", "/api/licences", HTTP_USER, 0, NULL, api_licence_list },
	{ "POST", "/api/racks", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("name", "caches"), api_rack_add },
	{ "GET", "/api/racks", HTTP_USER, 0, NULL, api_rack_list },
	{ "DELETE", "/api/racks/*", HTTP_ADMIN, 0, NULL, api_rack_rm },
	{ "POST", "/api/vmhosts", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("name", "bridge", "cpus", "mem", "disk"), api_vmhost_add },
	{ "GET", "/api/vmhosts", HTTP_USER, 0, NULL, api_vmhost_list },
	{ "DELETE", "/api/vmhosts/*", HTTP_ADMIN, 0, NULL, api_vmhost_rm },
	{ "POST", "/api/queues", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("name", "max_nodes", "max_seconds", "hours_from",
	    "hours_to", "priority"), api_queue_add },
	{ "GET", "/api/queues", HTTP_USER, 0, NULL, api_queue_list },

	{ "POST", "/api/deployments", HTTP_USER, API_BODY_MAX,
	    KEYS("nodes", "image", "reservation", "bare", "seconds",
	    "kexec"), api_deploy_add },
	{ "GET", "/api/deployments", HTTP_USER, 0, NULL, api_deploy_list },
	/* console (api_console.c): before the /api/deployments/ prefix */
	{ "GET", "/api/deployments/*/console", HTTP_USER, 0, NULL,
	    api_deploy_console },
	{ "GET", "/api/deployments/", HTTP_USER, 0, NULL, api_deploy_log },

	{ "POST", "/api/scripts", HTTP_USER, API_BODY_MAX,
	    KEYS("kind", "name", "body"), api_script_add },
	{ "GET", "/api/scripts", HTTP_USER, 0, NULL, api_script_list },
	{ "GET", "/api/scripts/", HTTP_USER, 0, NULL, api_script_get },
	{ "DELETE", "/api/scripts/", HTTP_USER, 0, NULL, api_script_rm },

	{ "GET", "/agent/order", HTTP_AGENT, 0, NULL, agent_order },
	{ "POST", "/agent/progress", HTTP_AGENT, API_BODY_MAX,
	    KEYS("state", "fetched", "written", "total"), agent_progress },
	{ "POST", "/agent/result", HTTP_AGENT, API_BODY_MAX,
	    KEYS("state", "reason", "fetched", "written", "sources"),
	    agent_result },
	{ "POST", "/agent/log", HTTP_AGENT, API_BODY_MAX,
	    KEYS("script", "status", "output", "site"), agent_log },

	{ "POST", "/api/captures", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("node", "image"), api_capture_add },
	/* NAME/missing and NAME/index: the index's limit, missing checks
	 * its own */
	{ "POST", "/api/capture/", HTTP_UPLOAD, CAPTURE_POST_MAX, NULL,
	    api_capture_post },
	{ "PUT", "/api/capture/chunks/", HTTP_UPLOAD, CAPTURE_PUT_MAX, NULL,
	    api_capture_put },
	/* policy (api_policy.c): groups, queue grants, horizon, limits */
	{ "GET", "/api/groups", HTTP_ADMIN, 0, NULL, api_group_list },
	{ "POST", "/api/groups", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("name", "remove"), api_group_set },
	{ "POST", "/api/groups/members", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("group", "user", "remove"), api_group_member },
	{ "GET", "/api/grants", HTTP_ADMIN, 0, NULL, api_grant_list },
	{ "POST", "/api/grants", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("queue", "user", "group", "remove"), api_grant_set },
	{ "GET", "/api/site", HTTP_USER, 0, NULL, api_site_show },
	{ "POST", "/api/site", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("horizon_days"), api_site_set },
	{ "POST", "/api/users/*/limits", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("max_reservations", "max_node_hours"), api_user_limits },

	/* api_token.c: a user's own tokens (admins: ?user=NAME) */
	{ "GET", "/api/tokens", HTTP_USER, 0, NULL, api_token_list },
	{ "POST", "/api/tokens", HTTP_USER, API_BODY_MAX,
	    KEYS("name", "days"), api_token_add },
	{ "DELETE", "/api/tokens/*", HTTP_USER, 0, NULL, api_token_revoke },
	{ "POST", "/api/tokens/*/rotate", HTTP_USER, 0, NULL,
	    api_token_rotate },
	/* agent-phase: the boot token traded for a user-phase one; the
	 * hand-over by kexec (schema 013) */
	{ "POST", "/agent/phase", HTTP_AGENT, API_BODY_MAX,
	    KEYS("phase", "token", "method"), agent_phase },
	/* netboot (netboot.c): the deployed system's kernel, in pieces */
	{ "PUT", "/agent/kernel/", HTTP_AGENT, NETBOOT_PIECE_MAX, NULL,
	    agent_kernel_put },
	{ "POST", "/agent/kernel", HTTP_AGENT, API_BODY_MAX,
	    KEYS("kernel_size", "initrd_size", "cmdline"), agent_kernel_post },
	/* mac: the GRUB script of a mac-efi32 node (boot.c, grub.c) */
	{ "GET", "/grub/", HTTP_PUBLIC, 0, NULL, grub_script },
	/* imageapi (api_image.c): the store's versions; users see what
	 * they may deploy, admins change them */
	{ "GET", "/api/images", HTTP_USER, 0, NULL, api_image_list },
	{ "GET", "/api/images/*", HTTP_USER, 0, NULL, api_image_show },
	{ "GET", "/api/images/*/packages", HTTP_USER, 0, NULL,
	    api_image_packages },
	{ "POST", "/api/images/*/validate", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("version"), api_image_validate },
	{ "POST", "/api/images/*/promote", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("version"), api_image_promote },
	{ "POST", "/api/images/*/rollback", HTTP_ADMIN, 0, NULL,
	    api_image_rollback },
	{ "POST", "/api/images/*/copy", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("to", "version"), api_image_copy },
	/* sub (api_job.c): pipol sub and pipol job; the node's job hook,
	 * public routes that look up their job-run token themselves */
	{ "POST", "/api/jobs", HTTP_USER, API_BODY_MAX,
	    KEYS("name", "argv", "images", "count", "profile", "seconds",
	    "keep", "source"), api_job_add },
	{ "POST", "/api/jobs/", HTTP_USER, JOB_PIECE_MAX, NULL,
	    api_job_change },
	{ "GET", "/api/jobs", HTTP_USER, 0, NULL, api_job_list },
	{ "GET", "/api/jobs/", HTTP_USER, 0, NULL, api_job_get },
	{ "GET", "/job/argv", HTTP_PUBLIC, 0, NULL, job_hook_argv },
	{ "GET", "/job/source", HTTP_PUBLIC, 0, NULL, job_hook_source },
	{ "POST", "/job/out/", HTTP_PUBLIC, JOB_PIECE_MAX, NULL, job_hook_out },
	{ "POST", "/job/result", HTTP_PUBLIC, API_BODY_MAX,
	    KEYS("status", "seconds", "truncated"), job_hook_result },
	/* metrics (metrics.c): Prometheus' text format, admins only */
	{ "GET", "/metrics", HTTP_ADMIN, 0, NULL, api_metrics },
	/* bmc (api_bmc.c): the holder's BMC account; admins rotate the
	 * BMC's admin password */
	{ "GET", "/api/bmc/*", HTTP_USER, 0, NULL, api_bmc_show },
	{ "POST", "/api/bmc/*/rotate-admin", HTTP_ADMIN, 0, NULL,
	    api_bmc_rotate },
	/* refresh (api_refresh.c): image refresh and its history, admins */
	{ "POST", "/api/images/*/refresh", HTTP_ADMIN, API_BODY_MAX,
	    KEYS("update", "test", "promote", "schedule", "profile"),
	    api_refresh_add },
	{ "GET", "/api/images/*/history", HTTP_ADMIN, 0, NULL,
	    api_refresh_history },
	/* web (web.h): the pages, their sessions, the live deployments */
	{ "GET", "/web", HTTP_PUBLIC, 0, NULL, web_file_get },
	{ "GET", "/web/", HTTP_PUBLIC, 0, NULL, web_file_get },
	{ "POST", "/api/web/login", HTTP_PUBLIC, API_BODY_MAX,
	    KEYS("token"), web_login },
	{ "POST", "/api/web/logout", HTTP_USER, 0, NULL, web_logout },
	{ "GET", "/api/web/session", HTTP_USER, 0, NULL, web_session_show },
	{ "GET", "/api/events", HTTP_USER, 0, NULL, web_events },
	{ "GET", "/api/web/docs/*", HTTP_USER, 0, NULL, web_docs_get },
	/* cron (api_cron.c): pipol cron, a user's own entries */
	{ "POST", "/api/cron", HTTP_USER, API_BODY_MAX,
	    KEYS("name", "argv", "images", "count", "profile", "seconds",
	    "keep", "schedule"), api_cron_add },
	{ "GET", "/api/cron", HTTP_USER, 0, NULL, api_cron_list },
	{ "DELETE", "/api/cron/*", HTTP_USER, 0, NULL, api_cron_rm },
	{ "POST", "/api/cron/", HTTP_USER, 0, NULL, api_cron_change },
	{ NULL, NULL, HTTP_PUBLIC, 0, NULL, NULL }
};

/* Does url match path ('*': one segment; a final '/': a prefix)? */
static int
path_matches(const char *path, const char *url)
{
	for (; *path != '\0'; path++) {
		if (*path == '*') {
			if (*url == '/' || *url == '\0')
				return 0;
			url += strcspn(url, "/");
			continue;
		}
		if (*path != *url)
			return 0;
		url++;
		if (*path == '/' && path[1] == '\0')
			return *url != '\0';	/* a prefix: more follows */
	}
	return *url == '\0';
}

const struct route *
http_route_find(const char *method, const char *url, int *known)
{
	const struct route *rt;

	*known = 0;
	if (strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
		method = MHD_HTTP_METHOD_GET;
	for (rt = http_routes; rt->path != NULL; rt++) {
		if (!path_matches(rt->path, url))
			continue;
		*known = 1;
		if (strcmp(method, rt->method) == 0)
			return rt;
	}
	return NULL;
}

unsigned
http_allows(enum http_level level, const struct caller *who)
{
	switch (level) {
	case HTTP_PUBLIC:
		return 0;
	case HTTP_USER:
		return who->kind == CALLER_USER ? 0 : MHD_HTTP_UNAUTHORIZED;
	case HTTP_ADMIN:
		if (who->kind != CALLER_USER)
			return MHD_HTTP_UNAUTHORIZED;
		return who->admin ? 0 : MHD_HTTP_FORBIDDEN;
	case HTTP_AGENT:
		return who->kind == CALLER_AGENT ? 0 : MHD_HTTP_UNAUTHORIZED;
	case HTTP_UPLOAD:
		if (who->kind == CALLER_AGENT)
			return strcmp(who->dep_kind, "capture") == 0 ? 0 :
			    MHD_HTTP_UNAUTHORIZED;
		return http_allows(HTTP_ADMIN, who);
	}
	return MHD_HTTP_FORBIDDEN;
}

int
http_body_fits(const struct route *rt, size_t len)
{
	return len <= rt->body_max;
}

/* The refusal of http_allows (or 503), as the API has always said it;
 * a user's token that ended says when (auth.c). */
static enum MHD_Result
refuse(struct MHD_Connection *c, enum http_level level, unsigned status,
    const struct caller *who)
{
	if (status == MHD_HTTP_FORBIDDEN)
		return http_error(c, status, "admins only");
	if (status == MHD_HTTP_UNAUTHORIZED && who->refusal[0] != '\0')
		return http_error(c, status, who->refusal);
	if (status == MHD_HTTP_UNAUTHORIZED)
		return http_error(c, status, level == HTTP_AGENT ?
		    "no deployment in flight for this token" :
		    "no valid token");
	return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
	    "database unavailable");
}

/*
 * The caller on c, on a pooled connection (*db: NULL when none came);
 * 0, or 503. A server that went away under an idle connection costs
 * one more try.
 */
static unsigned
identify(struct pipold *pd, struct MHD_Connection *c, PGconn **db,
    struct caller *who)
{
	if ((*db = db_get(pd)) == NULL)
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	if (auth_lookup(*db, c, who) == 0)
		return 0;
	if (PQstatus(*db) == CONNECTION_OK)
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	db_put(pd, *db);
	db_pool_flush(pd);
	if ((*db = db_get(pd)) == NULL)
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	return auth_lookup(*db, c, who) == 0 ? 0 :
	    MHD_HTTP_SERVICE_UNAVAILABLE;
}

/*
 * Capacity kept for the nodes: the requests of users and admins (and
 * an upload's check of its caller) hold at most HTTP_API_DB_MAX of the
 * pool's DB_POOL_MAX connections at once; /boot and /agent may use them
 * all. A user's slow requests (a table locked, a statement that takes
 * long) then cost the nodes nothing: with the whole pool theirs, /boot
 * waited DB_WAIT_SEC and answered 503.
 */
#define HTTP_API_DB_MAX	(DB_POOL_MAX * 3 / 4)
_Static_assert(HTTP_API_DB_MAX < DB_POOL_MAX, "some kept for the nodes");

static pthread_mutex_t api_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t api_freed = PTHREAD_COND_INITIALIZER;
static int api_busy;

/* A slot for an API request (waiting DB_WAIT_SEC at most); 0 or -1. */
static int
api_slot_take(void)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += DB_WAIT_SEC;
	pthread_mutex_lock(&api_mu);
	while (api_busy >= HTTP_API_DB_MAX && rc == 0)
		rc = pthread_cond_timedwait(&api_freed, &api_mu, &until);
	if (api_busy < HTTP_API_DB_MAX) {
		api_busy++;
		rc = 0;
	}
	pthread_mutex_unlock(&api_mu);
	return rc == 0 ? 0 : -1;
}

static void
api_slot_give(void)
{
	pthread_mutex_lock(&api_mu);
	api_busy--;
	pthread_cond_signal(&api_freed);
	pthread_mutex_unlock(&api_mu);
}

/* Does a route of this level take an API slot? */
static int
takes_api_slot(enum http_level level)
{
	return level == HTTP_USER || level == HTTP_ADMIN ||
	    level == HTTP_UPLOAD;
}

/* One request: its route, its body. */
struct req {
	const struct route *rt;
	char *body;
	size_t len, cap;
	int too_big;		/* past the limit: drained, then 413 */
};

/*
 * A store path's request: it has no body and nothing to free. It is
 * answered on the handler's second call, as routes are: a response
 * queued on the first makes libmicrohttpd 0.9.75 answer "Connection:
 * close", and each chunk then cost the agent a new connection (65 per
 * agent for 64 chunks; 0.8 x nginx's aggregate rate at 32 agents).
 */
static struct req store_req;

static void
on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *req_cls;

	(void)cls, (void)toe;
	http_guard_done(c);
	/* metrics: the request's time, by route pattern */
	metrics_request_end(rq == NULL ? METRICS_ROUTE_NONE :
	    rq == &store_req ? METRICS_ROUTE_STORE :
	    (int)(rq->rt - http_routes));
	if (rq != NULL && rq != &store_req) {
		free(rq->body);
		free(rq);
		*req_cls = NULL;
	}
}

/*
 * 0, or -1 to drop the connection. A body past the route's limit is
 * read on and dropped up to HTTP_DRAIN_MAX, then answered 413: a client
 * that sent a little too much gets its answer (a connection closed
 * with unread bytes is reset, and the answer with it). Past that, and
 * when memory runs out, the connection is dropped: libmicrohttpd 0.9.75
 * queues no answer in the middle of a body, and reading on would let a
 * chunked body that never ends hold a thread for ever.
 */
static int
gather(struct req *rq, const char *data, size_t len)
{
	size_t cap = rq->cap;
	char *nb = rq->body;

	if (rq->too_big) {
		rq->len += len;
		return rq->len > HTTP_DRAIN_MAX ? -1 : 0;
	}
	/* the buffer doubles: grown by each piece (~32 KiB), a 64 MiB
	 * chunk upload was copied ~2000 times (1.8 s instead of 0.2 s) */
	while (cap < rq->len + len + 1)
		cap = cap ? cap * 2 : 4096;
	if (cap > rq->rt->body_max + 1)
		cap = rq->rt->body_max + 1;
	if (!http_body_fits(rq->rt, rq->len + len)) {
		rq->too_big = 1;
		free(rq->body);
		rq->body = NULL;
		rq->len += len;
		return rq->len > HTTP_DRAIN_MAX ? -1 : 0;
	}
	if (cap != rq->cap && (nb = realloc(rq->body, cap)) == NULL)
		return -1;
	memcpy(nb + rq->len, data, len);
	rq->body = nb;
	rq->cap = cap;
	rq->len += len;
	rq->body[rq->len] = '\0';
	return 0;
}

json_t *
http_body_object(const char *body, size_t len, const char *const *keys,
    char *err, size_t errlen)
{
	json_error_t je;
	const char *k;
	json_t *o, *v;
	size_t i;

	if (body == NULL || len == 0) {
		snprintf(err, errlen, "empty body");
		return NULL;
	}
	if ((o = json_loadb(body, len, 0, &je)) == NULL) {
		snprintf(err, errlen, "malformed JSON at %d:%d", je.line,
		    je.column);
		return NULL;
	}
	if (!json_is_object(o)) {
		snprintf(err, errlen, "not a JSON object");
		json_decref(o);
		return NULL;
	}
	json_object_foreach(o, k, v) {
		for (i = 0; keys[i] != NULL && strcmp(keys[i], k) != 0; i++)
			;
		if (keys[i] == NULL) {
			snprintf(err, errlen, "unknown field \"%.40s\"", k);
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* The body is read: caller, keys, then the handler. */
static enum MHD_Result
dispatch(struct pipold *pd, struct MHD_Connection *c, const char *url,
    struct req *q)
{
	const struct route *rt = q->rt;
	struct http_req rq = { .rt = rt, .pd = pd, .c = c, .url = url,
	    .body = q->body, .len = q->len };
	PGconn *db = NULL;
	enum MHD_Result rc;
	unsigned status;
	char err[128];

	if (q->too_big)
		return http_text(c, MHD_HTTP_CONTENT_TOO_LARGE,
		    "body too large\n");
	if (takes_api_slot(rt->level) && api_slot_take() < 0)
		return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "server busy, try again");
	/* an upload's caller was checked before its body too: once more
	 * now, since the body may have taken minutes (a capture ended) */
	if (rt->level != HTTP_PUBLIC) {
		if ((status = identify(pd, c, &db, &rq.who)) == 0)
			status = http_allows(rt->level, &rq.who);
		if (status != 0) {
			db_put(pd, db);
			rc = refuse(c, rt->level, status, &rq.who);
			goto out;
		}
		/* web: a cookie's request from the page itself only */
		if (web_csrf_check(c, rt->method, &rq.who, err,
		    sizeof(err)) != 0) {
			db_put(pd, db);
			rc = http_error(c, MHD_HTTP_FORBIDDEN, err);
			goto out;
		}
	}
	if (rt->level == HTTP_UPLOAD) {
		db_put(pd, db);	/* not held while a chunk is decoded */
		db = NULL;
		api_slot_give();
	}
	rq.db = db;
	if (rt->keys != NULL && (rq.o = http_body_object(q->body, q->len,
	    rt->keys, err, sizeof(err))) == NULL)
		rc = http_error(c, MHD_HTTP_BAD_REQUEST, err);
	else
		rc = rt->fn(&rq);
	json_decref(rq.o);
	db_put(pd, rq.db);
	if (rt->level == HTTP_UPLOAD)
		return rc;
 out:
	if (takes_api_slot(rt->level))
		api_slot_give();
	return rc;
}

/* The body's length as the client declared it (Content-Length); 0
 * when none (no body, or a chunked one: gather checks as it comes). */
static uint64_t
declared_len(struct MHD_Connection *c)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);

	return v != NULL ? strtoull(v, NULL, 10) : 0;
}

/* A new request: its route, a body too large refused before it is
 * read (libmicrohttpd closes the connection after such an early
 * answer), and an upload's caller before its body. */
static enum MHD_Result
begin(struct pipold *pd, struct MHD_Connection *c, const char *url,
    const char *method, void **req_cls)
{
	uint64_t len = declared_len(c);
	const struct route *rt;
	struct caller who;
	struct req *rq;
	unsigned status;
	PGconn *db = NULL;
	int known;
	char csrf_err[128];	/* web */

	metrics_request_begin();	/* metrics */
	http_guard_body(c, len);
	if (http_store_path_ok(url)) {
		if (len > 0)
			return http_text(c, MHD_HTTP_CONTENT_TOO_LARGE,
			    "body too large\n");
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
			return http_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "method not allowed\n");
		*req_cls = &store_req;
		return MHD_YES;
	}
	if ((rt = http_route_find(method, url, &known)) == NULL)
		return known ? http_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed\n") :
		    http_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	if (len > rt->body_max && len > HTTP_DRAIN_MAX)
		return http_text(c, MHD_HTTP_CONTENT_TOO_LARGE,
		    "body too large\n");
	memset(&who, 0, sizeof(who));
	/* and an agent's route that takes more than an API body (netboot:
	 * the kernel's pieces), without an API slot */
	if (rt->level == HTTP_UPLOAD || (rt->level == HTTP_AGENT &&
	    rt->body_max > API_BODY_MAX)) {
		if (takes_api_slot(rt->level) && api_slot_take() < 0)
			return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "server busy, try again");
		if ((status = identify(pd, c, &db, &who)) == 0)
			status = http_allows(rt->level, &who);
		db_put(pd, db);		/* not held while the body comes */
		if (takes_api_slot(rt->level))
			api_slot_give();
		if (status != 0)
			return refuse(c, rt->level, status, &who);
		/* web: a cookie's upload from the page itself only */
		if (web_csrf_check(c, method, &who, csrf_err,
		    sizeof(csrf_err)) != 0)
			return http_error(c, MHD_HTTP_FORBIDDEN, csrf_err);
	}
	/* answer once the body is read: a response queued before makes
	 * libmicrohttpd close the connection */
	if ((rq = calloc(1, sizeof(*rq))) == NULL)
		return MHD_NO;
	rq->rt = rt;
	*req_cls = rq;
	return MHD_YES;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **req_cls)
{
	struct pipold *pd = cls;
	struct req *rq = *req_cls;

	(void)version;
	if (rq == NULL)
		return begin(pd, c, url, method, req_cls);
	if (rq == &store_req) {
		if (*upload_len != 0)	/* a chunked body on a GET */
			return MHD_NO;
		http_guard_serving(c);
		return http_store(pd, c, url,
		    strcmp(method, MHD_HTTP_METHOD_HEAD) == 0);
	}
	if (*upload_len != 0) {
		if (gather(rq, upload, *upload_len) < 0)
			return MHD_NO;
		*upload_len = 0;
		return MHD_YES;
	}
	http_guard_serving(c);
	return dispatch(pd, c, url, rq);
}

/* As many connections as the open-file limit allows, lifted to its
 * hard ceiling (a service's soft limit is often 1,024). */
static unsigned
connections_max(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 1024 - HTTP_FDS_SPARE;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < 2 * HTTP_FDS_SPARE)
		return (unsigned)(rl.rlim_cur / 2);
	if (rl.rlim_cur - HTTP_FDS_SPARE > HTTP_CONNECTIONS_MAX)
		return HTTP_CONNECTIONS_MAX;
	return (unsigned)(rl.rlim_cur - HTTP_FDS_SPARE);
}

int
http_start(struct pipold *pd, const struct sockaddr_in *sa, struct perr *e)
{
	pd->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ERROR_LOG |
	    MHD_ALLOW_UPGRADE,	/* console: GET /api/nodes/NAME/console */
	    0, NULL, NULL, on_request, pd, MHD_OPTION_SOCK_ADDR, sa,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_CONNECTION_LIMIT, connections_max(),
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_SEC,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, pd->ip_connections,
	    MHD_OPTION_NOTIFY_CONNECTION, http_guard_notify, NULL,
	    MHD_OPTION_END);
	if (pd->mhd == NULL)
		return perr_errno(e, PE_FAIL, "--listen %s", pd->listen);
	if (http_guard_start(e) < 0) {
		http_stop(pd);
		return -PE_FAIL;
	}
	return 0;
}

void
http_stop(struct pipold *pd)
{
	http_guard_stop();
	if (pd->mhd != NULL)
		MHD_stop_daemon(pd->mhd);
	pd->mhd = NULL;
}

/* The replies. */

int
http_peer_addr(struct MHD_Connection *c, char buf[HTTP_ADDR_MAX])
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;
	const void *a;

	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	else
		return -1;
	return inet_ntop(sa->sa_family, a, buf, HTTP_ADDR_MAX) != NULL ? 0 :
	    -1;
}

enum MHD_Result
http_reply(struct MHD_Connection *c, unsigned status, const char *type,
    const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

enum MHD_Result
http_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	return http_reply(c, status, "text/plain", text);
}

enum MHD_Result
http_json(struct MHD_Connection *c, unsigned status, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	enum MHD_Result rc;

	json_decref(o);
	if (text == NULL)
		return MHD_NO;
	rc = http_reply(c, status, "application/json", text);
	free(text);
	return rc;
}

enum MHD_Result
http_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return http_json(c, status, json_pack("{s:s}", "error", msg));
}

enum MHD_Result
http_perr(struct MHD_Connection *c, const struct perr *e)
{
	return http_error(c, (unsigned)perr_http_status(e->code), e->msg);
}

unsigned
http_sql_status(PGresult *r)
{
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (st == NULL)
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	if (strncmp(st, "PP", 2) == 0)		/* ours: PP400, PP403 ... */
		return atoi(st + 2) >= 400 && atoi(st + 2) < 500 ?
		    (unsigned)atoi(st + 2) : MHD_HTTP_INTERNAL_SERVER_ERROR;
	if (strcmp(st, "23505") == 0 || strcmp(st, "23P01") == 0 ||
	    strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0)
		return MHD_HTTP_CONFLICT;	/* taken, or lost a race */
	if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0)
		return MHD_HTTP_BAD_REQUEST;	/* bad value, check failed */
	return MHD_HTTP_SERVICE_UNAVAILABLE;
}

int
http_fail_set(struct http_fail *f, unsigned status, const char *msg)
{
	f->status = status;
	snprintf(f->msg, sizeof(f->msg), "%s", msg);
	return -1;
}

int
http_fail_sql(struct http_fail *f, PGresult *r, const char *what)
{
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	size_t len = sizeof(f->msg);

	f->status = http_sql_status(r);
	if (st != NULL && strncmp(st, "PP", 2) == 0 && m != NULL)
		snprintf(f->msg, len, "%s", m);
	else if (st != NULL && strcmp(st, "23P01") == 0)
		snprintf(f->msg, len, "%s: a node is already reserved then",
		    what);
	else if (f->status == MHD_HTTP_BAD_REQUEST && m != NULL)
		snprintf(f->msg, len, "%s: %s", what, m);
	else if (f->status == MHD_HTTP_CONFLICT)
		snprintf(f->msg, len, "%s: conflicts with another request, "
		    "try again", what);
	else
		snprintf(f->msg, len, "%s: database error", what);
	return db_is_retry(r) ? DB_TX_RETRY : -1;
}

enum MHD_Result
http_fail_send(struct MHD_Connection *c, const struct http_fail *f)
{
	return http_error(c, f->status, f->msg);
}

enum MHD_Result
http_sql_error(struct MHD_Connection *c, PGresult *r, const char *what)
{
	struct http_fail f;

	http_fail_sql(&f, r, what);
	return http_fail_send(c, &f);
}

enum MHD_Result
http_pgjson(struct MHD_Connection *c, PGresult *r, unsigned status,
    const char *what)
{
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		return http_sql_error(c, r, what);
	return http_reply(c, status, "application/json", PQgetvalue(r, 0, 0));
}

enum MHD_Result
http_fd(struct MHD_Connection *c, unsigned status, int fd, uint64_t off,
    uint64_t len, const char *const *headers)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	if (fd == -1)
		r = MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT);
	else if ((r = MHD_create_response_from_fd_at_offset64(len, fd, off))
	    == NULL)
		close(fd);	/* else the response owns it */
	if (r == NULL)
		return MHD_NO;
	for (; headers != NULL && headers[0] != NULL; headers += 2)
		MHD_add_response_header(r, headers[0], headers[1]);
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* web: r queued with its type and headers, then let go (r NULL: drop) */
static enum MHD_Result
queue_typed(struct MHD_Connection *c, unsigned status, struct MHD_Response *r,
    const char *type, const char *const *headers)
{
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	for (; headers != NULL && headers[0] != NULL; headers += 2)
		MHD_add_response_header(r, headers[0], headers[1]);
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* web: an answer with headers (name, value pairs, NULL-terminated);
 * the bytes are copied */
enum MHD_Result
http_reply_headers(struct MHD_Connection *c, unsigned status,
    const char *type, const void *buf, size_t len,
    const char *const *headers)
{
	return queue_typed(c, status, MHD_create_response_from_buffer(len,
	    (void *)(uintptr_t)buf, MHD_RESPMEM_MUST_COPY), type, headers);
}

/* web: a stream of unknown length, read by fn in the connection's own
 * thread (fn may wait); done(cls) when it ends, or now on failure */
enum MHD_Result
http_stream(struct MHD_Connection *c, const char *type,
    const char *const *headers, MHD_ContentReaderCallback fn, void *cls,
    MHD_ContentReaderFreeCallback done)
{
	struct MHD_Response *r = MHD_create_response_from_callback(
	    MHD_SIZE_UNKNOWN, 4096, fn, cls, done);

	if (r == NULL)
		done(cls);
	return queue_typed(c, MHD_HTTP_OK, r, type, headers);
}

/* console: a 101 answer switching to protocol; cb gets the socket */
enum MHD_Result
http_upgrade(struct MHD_Connection *c, const char *protocol,
    const char *const *headers, MHD_UpgradeHandler cb, void *cls)
{
	struct MHD_Response *r = MHD_create_response_for_upgrade(cb, cls);
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, protocol);
	for (; headers != NULL && headers[0] != NULL; headers += 2)
		MHD_add_response_header(r, headers[0], headers[1]);
	rc = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	return rc;
}
