/*
 * pipold.c -- the pipol frontend daemon: options, database, HTTP server,
 * signals. Foreground; logs on stderr. SIGTERM/SIGINT stop it cleanly
 * (and the embedded PostgreSQL with it); kill -9 loses nothing, since
 * every state that matters is in the database or in the store.
 */
#include <sys/resource.h>
#include <ctype.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "cmd.h"
#include "log.h"
#include "parse.h"
#include "pipold.h"
#include "store.h"

/* The command line: the options, the usage line and --help (cmd.h). */
enum { O_STATE, O_DB, O_LISTEN, O_ADD_USER, O_ADMIN, O_DNSMASQ_DIR,
    O_PUBLIC_URL, O_TFTP_ROOT, O_NFS_HOME, O_END };

static const struct cmd_opt options[] = {
	[O_STATE] = { "state", 0, CMD_VALUE, "DIR",
	    "state folder (default $PIPOL_STATE, else /var/lib/pipol)" },
	[O_DB] = { "db", 0, CMD_VALUE, "CONNINFO",
	    "an external PostgreSQL (default $PIPOL_DB); without\n"
	    "one, pipold runs its own under DIR/pg, Unix socket only" },
	[O_LISTEN] = { "listen", 0, CMD_VALUE, "ADDR:PORT",
	    "where to serve HTTP (default 0.0.0.0:8080)" },
	[O_ADD_USER] = { "add-user", 0, CMD_VALUE, "NAME",
	    "make a user, print its API token once, and exit\n"
	    "(how the first admin comes to exist)" },
	[O_ADMIN] = { "admin", 0, CMD_FLAG, NULL,
	    "with --add-user: the user is an admin" },
	[O_DNSMASQ_DIR] = { "dnsmasq-dir", 0, CMD_VALUE, "DIR",
	    "write DIR/pipol.conf (the PXE -> iPXE boot chain, for\n"
	    "dnsmasq --conf-file) and DIR/hosts/ (a static lease\n"
	    "file per node), rewritten after every node change" },
	[O_PUBLIC_URL] = { "public-url", 0, CMD_VALUE, "URL",
	    "where the nodes reach pipold (http://10.0.0.1:8080):\n"
	    "iPXE is sent to URL/boot/${mac}" },
	[O_TFTP_ROOT] = { "tftp-root", 0, CMD_VALUE, "DIR",
	    "where dnsmasq finds undionly.kpxe and snponly.efi\n"
	    "(default " DNSMASQ_TFTP_ROOT ")" },
	[O_NFS_HOME] = { "nfs-home", 0, CMD_VALUE, "SERVER:/PATH",
	    "deployed systems mount SERVER:/PATH/USER on\n"
	    "/home/USER (NFS, at boot); default: a local home" },
	[O_END] = CMD_OPT_END
};

static const struct cmd pipold_cmd = { "pipold", NULL,
    "[--state DIR] [--db CONNINFO] [--listen ADDR:PORT]\n"
    "              [--dnsmasq-dir DIR --public-url URL [--tftp-root DIR]]\n"
    "              [--nfs-home SERVER:/PATH]\n"
    "       pipold [--state DIR] [--db CONNINFO] --add-user NAME [--admin]",
    "The pipol frontend: serves the image store to the node agents over\n"
    "HTTP (docs/protocol.md) and keeps the pool's state in PostgreSQL",
    options, 0, 0, NULL };

/*
 * Connections at once: every node's agent keeps one to report progress
 * (plus its fetch connections when pipold serves the chunks), each a
 * thread (MHD_USE_THREAD_PER_CONNECTION) waiting in poll(): select()
 * and MHD's default limit (FD_SETSIZE - 4) refused the 1,021st
 * descriptor, under 1,000 agents. Bounded by the open-file limit too,
 * less PIPOLD_FDS_SPARE for the database, the files being sent, logs.
 */
#define PIPOLD_CONNECTIONS_MAX	16384
#define PIPOLD_FDS_SPARE	256

/* One request: its route, and its body gathered up to the route's limit. */
struct req {
	const struct route *rt;
	char *body;
	size_t len, cap;
	int too_big;
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

	(void)cls, (void)c, (void)toe;
	if (rq != NULL && rq != &store_req) {
		free(rq->body);
		free(rq);
		*req_cls = NULL;
	}
}

static void
gather(struct req *rq, const char *data, size_t len)
{
	size_t cap = rq->cap;
	char *nb = rq->body;

	if (rq->too_big)
		return;
	/* the buffer doubles: grown by each piece (~32 KiB), a 64 MiB
	 * chunk upload was copied ~2000 times (1.8 s instead of 0.2 s) */
	while (cap < rq->len + len + 1)
		cap = cap ? cap * 2 : 4096;
	if (cap > rq->rt->body_max + 1)
		cap = rq->rt->body_max + 1;
	if (rq->len + len > rq->rt->body_max ||
	    (cap != rq->cap && (nb = realloc(rq->body, cap)) == NULL)) {
		rq->too_big = 1;	/* read to the end, answer 413 */
		free(rq->body);
		rq->body = NULL;
		return;
	}
	memcpy(nb + rq->len, data, len);
	rq->body = nb;
	rq->cap = cap;
	rq->len += len;
	rq->body[rq->len] = '\0';
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

static enum MHD_Result
http_health(struct pipold *pd, struct MHD_Connection *c, const char *url,
    const char *body, size_t len)
{
	(void)pd, (void)url, (void)body, (void)len;
	return http_text(c, MHD_HTTP_OK, "ok\n");
}

/*
 * The routes: method, path (exact, or a prefix when it ends in '/'),
 * the largest body taken (then 413), and the handler, called once the
 * body is read. The store paths come first, checked by http_store.
 */
static const struct route routes[] = {
	{ "GET", "/health", 0, http_health },
	{ "GET", "/api/whoami", 0, api_whoami },
	{ "POST", "/api/users", API_BODY_MAX, api_user_add },
	{ "POST", "/api/nodes", API_BODY_MAX, api_node_add },
	{ "GET", "/api/nodes", 0, api_node_list },
	{ "POST", "/api/reservations", API_BODY_MAX, api_resv_add },
	{ "GET", "/api/reservations", 0, api_resv_list },
	{ "POST", "/api/reservations/", API_BODY_MAX, api_resv_change },
	{ "POST", "/api/licences", API_BODY_MAX, api_licence_add },
	{ "GET", "/api/licences", 0, api_licence_list },
	{ "POST", "/api/queues", API_BODY_MAX, api_queue_add },
	{ "GET", "/api/queues", 0, api_queue_list },
	{ "POST", "/api/deployments", API_BODY_MAX, api_deploy_add },
	{ "GET", "/api/deployments", 0, api_deploy_list },
	{ "POST", "/api/captures", API_BODY_MAX, api_capture_add },
	{ "GET", "/agent/order", 0, agent_order },
	{ "POST", "/agent/progress", API_BODY_MAX, agent_progress },
	{ "POST", "/agent/result", API_BODY_MAX, agent_result },
	{ "POST", "/agent/log", API_BODY_MAX, agent_log },
	{ "POST", "/api/scripts", API_BODY_MAX, api_script_add },
	{ "GET", "/api/scripts", 0, api_script_list },
	{ "GET", "/api/scripts/", 0, api_script_get },
	{ "DELETE", "/api/scripts/", 0, api_script_rm },
	{ "GET", "/api/deployments/", 0, api_deploy_log },
	{ "GET", "/boot/", 0, boot_script },
	{ "GET", "/bootenv/", 0, http_bootenv },
	{ "GET", "/api/nodes/", 0, api_node_show },
	{ "POST", "/api/nodes/", API_BODY_MAX, api_node_post },
	{ "POST", "/api/capture/", CAPTURE_POST_MAX, api_capture_post },
	{ "PUT", "/api/capture/chunks/", CAPTURE_PUT_MAX, api_capture_put },
	{ NULL, NULL, 0, NULL }
};

/* The route for method and url; *known: the path exists (for 405). */
static const struct route *
route_find(const char *method, const char *url, int *known)
{
	const struct route *rt;
	size_t n;

	*known = 0;
	if (strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
		method = MHD_HTTP_METHOD_GET;
	for (rt = routes; rt->path != NULL; rt++) {
		n = strlen(rt->path);
		if (rt->path[n - 1] == '/' ? strncmp(url, rt->path, n) != 0 ||
		    url[n] == '\0' : strcmp(url, rt->path) != 0)
			continue;
		*known = 1;
		if (strcmp(method, rt->method) == 0)
			return rt;
	}
	return NULL;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **req_cls)
{
	struct pipold *pd = cls;
	struct req *rq = *req_cls;
	int is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
	int is_head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	const struct route *rt;
	unsigned status;
	int known;

	(void)version;
	if (rq == NULL) {
		if (http_store_path_ok(url)) {
			if (!is_get && !is_head)
				return http_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				    "method not allowed\n");
			*req_cls = &store_req;
			return MHD_YES;
		}
		if ((rt = route_find(method, url, &known)) == NULL)
			return known ? http_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "method not allowed\n") :
			    http_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
		/* bodies beyond API_BODY_MAX (uploads) are read only from
		 * callers who may send them; the handler checks again */
		if (rt->body_max > API_BODY_MAX &&
		    (status = capture_preauth(pd, c)) != 0)
			return http_reply(c, status, "application/json",
			    status == MHD_HTTP_FORBIDDEN ?
			    "{\"error\":\"admins only\"}" : status ==
			    MHD_HTTP_UNAUTHORIZED ? "{\"error\":\"no valid "
			    "token\"}" : "{\"error\":\"database "
			    "unavailable\"}");
		/* answer once the body is read: a response queued before
		 * makes libmicrohttpd close the connection */
		if ((rq = calloc(1, sizeof(*rq))) == NULL)
			return MHD_NO;
		rq->rt = rt;
		*req_cls = rq;
		return MHD_YES;
	}
	if (rq == &store_req) {
		if (*upload_len != 0) {	/* a GET's body means nothing */
			*upload_len = 0;
			return MHD_YES;
		}
		return http_store(pd, c, url, is_head);
	}
	if (*upload_len != 0) {
		gather(rq, upload, *upload_len);
		*upload_len = 0;
		return MHD_YES;
	}
	if (rq->too_big)
		return http_text(c, MHD_HTTP_CONTENT_TOO_LARGE,
		    "body too large\n");
	return rq->rt->fn(pd, c, url, rq->body, rq->len);
}

/*
 * The reaper: every RESERVATION_TICK_SEC, reservations whose time is
 * over expire (schema 003), with what was in flight under them. Any
 * pipold sharing the database may do it; the function is idempotent.
 */
#define RESERVATION_TICK_SEC	10

static volatile sig_atomic_t reaper_stop;

static void *
reaper_main(void *arg)
{
	struct pipold *pd = arg;
	PGresult *r;
	PGconn *db;
	int i;

	while (!reaper_stop) {
		if ((db = db_get(pd)) != NULL) {
			r = PQexec(db, "SELECT reservations_expire()");
			if (PQresultStatus(r) == PGRES_TUPLES_OK &&
			    atoi(PQgetvalue(r, 0, 0)) > 0)
				log_info("%s reservation(s) ended",
				    PQgetvalue(r, 0, 0));
			PQclear(r);
			db_put(pd, db);
		}
		for (i = 0; i < RESERVATION_TICK_SEC * 10 && !reaper_stop; i++)
			usleep(100000);
	}
	return NULL;
}

/* As many connections as the open-file limit allows, lifted to its
 * hard ceiling (a service's soft limit is often 1,024). */
static unsigned
connections_max(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 1024 - PIPOLD_FDS_SPARE;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < 2 * PIPOLD_FDS_SPARE)
		return (unsigned)(rl.rlim_cur / 2);
	if (rl.rlim_cur - PIPOLD_FDS_SPARE > PIPOLD_CONNECTIONS_MAX)
		return PIPOLD_CONNECTIONS_MAX;
	return (unsigned)(rl.rlim_cur - PIPOLD_FDS_SPARE);
}

static int
listen_parse(const char *s, struct sockaddr_in *sa, struct perr *e)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	long long port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		return perr_set(e, PE_USAGE, "--listen %s: not ADDR:PORT", s);
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return perr_set(e, PE_USAGE, "--listen %s: not an IPv4 address",
		    s);
	if (parse_count("--listen port", colon + 1, 1, 65535, &port, e) < 0)
		return -PE_USAGE;
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

/* SERVER:/PATH, nothing an fstab line or a shell could misread */
static int
nfs_home_ok(const char *s)
{
	const char *c = strchr(s, ':');
	size_t i;

	if (c == NULL || c == s || c[1] != '/' || strlen(s) > 200)
		return 0;
	for (i = 0; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(".-_/:[]", s[i]))
			return 0;
	return 1;
}

int
main(int argc, char **argv)
{
	struct pipold pd = { .listen = "0.0.0.0:8080" };
	struct sockaddr_in sa;
	struct cmd_args a;
	pthread_t reaper;
	struct perr e;
	sigset_t set;
	int ch, sig, version, rc = 0, admin = 0;
	const char *add_user = NULL;

	log_init(argv[0]);
	if ((ch = cmd_getargs(&pipold_cmd, argc, argv, &a)) >= 0)
		return ch;
	pd.state = cmd_str(&a, O_STATE);
	if ((pd.conninfo = cmd_str(&a, O_DB)) == NULL)
		pd.conninfo = getenv("PIPOL_DB");
	if (cmd_str(&a, O_LISTEN) != NULL)
		pd.listen = cmd_str(&a, O_LISTEN);
	add_user = cmd_str(&a, O_ADD_USER);
	admin = cmd_count(&a, O_ADMIN) > 0;
	pd.dnsmasq.dir = cmd_str(&a, O_DNSMASQ_DIR);
	pd.dnsmasq.public_url = cmd_str(&a, O_PUBLIC_URL);
	pd.dnsmasq.tftp_root = cmd_str(&a, O_TFTP_ROOT);
	pd.nfs_home = cmd_str(&a, O_NFS_HOME);
	pthread_mutex_init(&pd.dnsmasq.mu, NULL);
	db_pool_init(&pd);
	pd.state = store_state_dir(pd.state);
	snprintf(pd.store_root, sizeof(pd.store_root), "%s/store", pd.state);
	if (dnsmasq_check(&pd.dnsmasq, &e) < 0) {
		log_warnx("%s", e.msg);
		return PE_USAGE;
	}
	if (pd.nfs_home != NULL && !nfs_home_ok(pd.nfs_home)) {
		log_warnx("--nfs-home %s: not SERVER:/PATH (letters, digits, "
		    "'.', '-', '_', '/')", pd.nfs_home);
		return PE_USAGE;
	}
	if (listen_parse(pd.listen, &sa, &e) < 0) {
		log_warnx("%s", e.msg);
		return PE_USAGE;
	}
	/* signals are taken by sigwait() below, never by a handler */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((pd.conninfo == NULL || *pd.conninfo == '\0') &&
	    pg_embedded_start(&pd, &e) < 0)
		goto fail;
	if (db_migrate(&pd, &version, &e) < 0)
		goto fail;
	if (add_user != NULL) {
		if (api_add_user(&pd, add_user, admin, &e) < 0)
			goto fail;
		goto out;
	}
	if (dnsmasq_start(&pd, &e) < 0)
		goto fail;
	pd.mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, on_request, &pd, MHD_OPTION_SOCK_ADDR, &sa,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_CONNECTION_LIMIT, connections_max(),
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
	if (pd.mhd == NULL) {
		perr_errno(&e, PE_FAIL, "--listen %s", pd.listen);
		goto fail;
	}
	if (pthread_create(&reaper, NULL, reaper_main, &pd) != 0) {
		perr_set(&e, PE_FAIL, "cannot start the reservation reaper");
		MHD_stop_daemon(pd.mhd);
		goto fail;
	}
	log_info("listening on %s, store %s, schema version %d%s", pd.listen,
	    pd.store_root, version, pd.embedded ? ", embedded database" : "");
	sigwait(&set, &sig);
	log_info("%s: stopping", strsignal(sig));
	reaper_stop = 1;
	pthread_join(reaper, NULL);
	MHD_stop_daemon(pd.mhd);
	goto out;
 fail:
	log_warnx("%s", e.msg);
	rc = e.code ? e.code : PE_FAIL;
 out:
	db_pool_close(&pd);
	/* the daemon owns the cluster; a one-shot leaves a running one be */
	if (add_user == NULL || pd.started_pg)
		pg_embedded_stop(&pd);
	if (pd.embedded)
		free(pd.conninfo);	/* asprintf'd by pg_embedded_start */
	return rc;
}
