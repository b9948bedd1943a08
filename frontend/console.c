/*
 * console.c -- the nodes' serial consoles: one thread, one poll() loop.
 *
 *   nodes (every CONSOLE_REFRESH_SEC: driver, "serial" socket, current
 *   deployment, holder) -> one reader per console (a Unix socket,
 *   connected again every CONSOLE_RETRY_SEC while the VM is off; for an
 *   ipmi node with "sol": "on", one end of a socketpair whose other end
 *   is the standard input and output of "ipmitool ... sol activate",
 *   started again as often when it ends)
 *   -> STATE/console/DEP.log (up to CONSOLE_LOG_MAX, the deployment's;
 *   removed once not written for pipold --console-days, unless a
 *   console still writes it: console_prune, at start and hourly)
 *   -> each attached client (up to CONSOLE_OUT_MAX queued, else cut)
 *   clients' keys (CONSOLE_TYPE_RATE, a bucket) -> the console
 *
 * The reader runs whether anyone is attached or not: the log of a boot
 * nobody watched is there afterwards, and QEMU's guest never waits on a
 * full socket. A client whose user is no longer the node's holder (nor
 * an admin) is told and cut at the next refresh; one silent both ways
 * for CONSOLE_IDLE_SEC too. Only this thread touches the consoles; the
 * HTTP threads hand clients over through a small queue and a pipe.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "console.h"
#include "log.h"
#include "perr.h"
#include "pipold.h"
#include "power.h"
#include "ws.h"

#define CONSOLE_PENDING_MAX	64	/* clients handed over, not yet taken */
#define CONSOLE_READ_BYTES	4096

struct client {
	int fd;
	struct MHD_UpgradeResponseHandle *urh;
	int ws;			/* a browser's: WebSocket frames both ways */
	struct ws_in wsin;
	long long user;
	int admin;
	char who[64];
	time_t last;		/* a byte either way */
	double bucket;		/* bytes it may type now */
	struct timespec filled;
	size_t outlen;
	char out[CONSOLE_OUT_MAX];
};

struct console {
	long long node_id;
	char name[64];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char params[1024];	/* ipmi: the power params (JSON); else "" */
	pid_t pid;		/* ipmi: its ipmitool, or 0 */
	int fd;			/* -1: not connected */
	time_t retry;		/* not before */
	long long dep;		/* logged to; 0: not logged */
	long long holder;	/* the running reservation's user, or 0 */
	int logfd;
	long long logdep;
	size_t logged;
	int seen;		/* in the last refresh */
	struct client *cl[CONSOLE_CLIENTS_MAX];
};

struct pending {
	long long node_id, user;
	int admin, ws;
	char who[64];
	int fd;
	struct MHD_UpgradeResponseHandle *urh;
	char *extra;
	size_t extra_len;
};

static struct pipold *cpd;
static pthread_t thread;
static int running;
static int wake[2] = { -1, -1 };
static volatile int stopping;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct pending pend[CONSOLE_PENDING_MAX];	/* under mu */
static int npend;
static struct { long long node_id; int n; } counts[CONSOLE_NODES_MAX];
static int ncounts;					/* under mu */

static pthread_cond_t refreshed_cv = PTHREAD_COND_INITIALIZER;
static unsigned long refreshes, refresh_starts;		/* under mu */
static int nudged;					/* under mu */

static struct console *cons[CONSOLE_NODES_MAX];	/* the thread's */
static int ncons;

void
console_log_path(const char *state, long long dep, char *out, size_t len)
{
	snprintf(out, len, "%s/console/%lld.log", state, dep);
}

/* Clients attached or on their way to node_id; under mu. */
static int
count_of(long long node_id)
{
	int i, n = 0;

	for (i = 0; i < ncounts; i++)
		if (counts[i].node_id == node_id)
			n += counts[i].n;
	for (i = 0; i < npend; i++)
		if (pend[i].node_id == node_id)
			n++;
	return n;
}

int
console_has_room(long long node_id)
{
	int ok;

	pthread_mutex_lock(&mu);
	ok = running && count_of(node_id) < CONSOLE_CLIENTS_MAX &&
	    npend < CONSOLE_PENDING_MAX;
	pthread_mutex_unlock(&mu);
	return ok;
}

void
console_attach(long long node_id, long long user, int admin, int ws,
    const char *who, int fd, struct MHD_UpgradeResponseHandle *urh,
    const char *extra, size_t extra_len)
{
	struct pending *p;
	char *copy = NULL;

	if (extra_len > 0 && (copy = malloc(extra_len)) != NULL)
		memcpy(copy, extra, extra_len);
	pthread_mutex_lock(&mu);
	if (!running || npend >= CONSOLE_PENDING_MAX ||
	    count_of(node_id) >= CONSOLE_CLIENTS_MAX) {
		pthread_mutex_unlock(&mu);
		free(copy);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	p = &pend[npend++];
	*p = (struct pending){ .node_id = node_id, .user = user,
	    .admin = admin, .ws = ws, .fd = fd, .urh = urh, .extra = copy,
	    .extra_len = copy != NULL ? extra_len : 0 };
	snprintf(p->who, sizeof(p->who), "%s", who);
	pthread_mutex_unlock(&mu);
	if (write(wake[1], "", 1) < 0 && errno != EAGAIN)
		log_warn("console: wake");
}

void
console_nudge(void)
{
	struct timespec until;
	unsigned long want;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += CONSOLE_NUDGE_MS * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&mu);
	if (!running) {
		pthread_mutex_unlock(&mu);
		return;
	}
	/* a refresh under way may have read before the deployment: the
	 * one after it */
	want = refresh_starts + 1;
	nudged = 1;
	if (write(wake[1], "", 1) < 0 && errno != EAGAIN)
		log_warn("console: wake");
	while (refreshes < want && pthread_cond_timedwait(&refreshed_cv, &mu,
	    &until) == 0)
		;
	pthread_mutex_unlock(&mu);
}

/* The thread's count of node n's clients, for console_has_room. */
static void
count_publish(void)
{
	int i, j, n;

	pthread_mutex_lock(&mu);
	ncounts = 0;
	for (i = 0; i < ncons; i++) {
		for (j = n = 0; j < CONSOLE_CLIENTS_MAX; j++)
			n += cons[i]->cl[j] != NULL;
		counts[ncounts].node_id = cons[i]->node_id;
		counts[ncounts++].n = n;
	}
	pthread_mutex_unlock(&mu);
}

/* Queue bytes to a client, in a frame of op for a WebSocket one; -1
 * when it is too slow (its queue full). */
static int
client_frame(struct client *k, enum ws_op op, const void *buf, size_t len)
{
	uint8_t h[WS_HEADER_MAX];
	size_t hl = k->ws ? ws_header(h, op, len) : 0;

	if (hl + len > sizeof(k->out) - k->outlen)
		return -1;
	memcpy(k->out + k->outlen, h, hl);
	memcpy(k->out + k->outlen + hl, buf, len);
	k->outlen += hl + len;
	return 0;
}

/* The console's bytes to a client */
static int
client_queue(struct client *k, const void *buf, size_t len)
{
	return client_frame(k, WS_OP_BINARY, buf, len);
}

static void
client_say(struct client *k, const char *node, const char *what)
{
	char line[256];
	int n;

	n = snprintf(line, sizeof(line), "\r\n[pipol: %s: %s]\r\n", node,
	    what);
	if (n > 0)
		client_queue(k, line, (size_t)n < sizeof(line) ? (size_t)n :
		    sizeof(line) - 1);
}

/* What is queued, written without blocking (best effort at the end). */
static int
client_flush(struct client *k)
{
	ssize_t n;

	while (k->outlen > 0) {
		n = send(k->fd, k->out, k->outlen, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		memmove(k->out, k->out + n, k->outlen - (size_t)n);
		k->outlen -= (size_t)n;
	}
	return 0;
}

static void
client_close(struct console *c, int slot, const char *why)
{
	struct client *k = c->cl[slot];

	if (why != NULL) {
		client_say(k, c->name, why);
		log_info("console %s: %s detached: %s", c->name, k->who, why);
	} else
		log_info("console %s: %s detached", c->name, k->who);
	if (k->ws)	/* 1000: normal closure */
		client_frame(k, WS_OP_CLOSE, "\x03\xe8", 2);
	client_flush(k);
	MHD_upgrade_action(k->urh, MHD_UPGRADE_ACTION_CLOSE);
	free(k);
	c->cl[slot] = NULL;
}

static void
console_disconnect(struct console *c, const char *why)
{
	int i;

	if (c->pid > 0) {	/* ipmitool: ended, and reaped */
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) == -1 && errno == EINTR)
			;
		c->pid = 0;
	}
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
		c->retry = time(NULL) + CONSOLE_RETRY_SEC;
		for (i = 0; i < CONSOLE_CLIENTS_MAX; i++)
			if (c->cl[i] != NULL)
				client_say(c->cl[i], c->name, why);
	}
}

/*
 * An ipmi node's Serial-over-LAN: ipmitool sol activate, its standard
 * input and output one end of a socketpair, the other end returned
 * (read and written as a QEMU socket is); its errors to /dev/null. Its
 * password from the file of the power params (-f), never in argv.
 */
static int
console_spawn(struct console *c)
{
	static const char *const cmd[] = { "sol", "activate", NULL };
	const char *argv[IPMI_ARGV_MAX];
	char tool[PATH_MAX];
	json_t *params;
	struct perr e;
	sigset_t none;
	int sv[2], devnull;
	pid_t pid;

	if ((params = json_loads(c->params, 0, NULL)) == NULL)
		return -1;
	if (power_ipmi_argv(c->name, params, cmd, argv, tool, &e) < 0 ||
	    (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1) {
		json_decref(params);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		close(devnull);
		json_decref(params);
		return -1;
	}
	if ((pid = fork()) == 0) {
		/* as power_ipmi.c's: no signal of pipold's blocked */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		dup2(sv[1], 0);
		dup2(sv[1], 1);
		dup2(devnull, 2);
		close_range(3, ~0U, 0);
		/* execv's prototype predates const */
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(sv[1]);
	close(devnull);
	json_decref(params);
	if (pid == -1) {
		close(sv[0]);
		return -1;
	}
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	c->pid = pid;
	return sv[0];
}

/* Connect to the console's socket (QEMU: -chardev socket,server=on), or
 * start an ipmi node's SOL. */
static void
console_connect(struct console *c, time_t now)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, i;

	if (c->fd != -1 || now < c->retry ||
	    (c->path[0] == '\0' && c->params[0] == '\0'))
		return;
	c->retry = now + CONSOLE_RETRY_SEC;
	if (c->params[0] != '\0') {
		if ((fd = console_spawn(c)) == -1)
			return;
	} else {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0)) == -1)
			return;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
			close(fd);
			return;
		}
	}
	c->fd = fd;
	for (i = 0; i < CONSOLE_CLIENTS_MAX; i++)
		if (c->cl[i] != NULL)
			client_say(c->cl[i], c->name, "console connected");
}

/* The log of c's current deployment, opened or switched; -1 when none. */
static int
console_log_open(struct console *c)
{
	char path[PATH_MAX];
	struct stat st;

	if (c->logfd != -1 && c->logdep == c->dep)
		return 0;
	if (c->logfd != -1)
		close(c->logfd);
	c->logfd = -1;
	c->logdep = c->dep;
	if (c->dep == 0)
		return -1;
	console_log_path(cpd->state, c->dep, path, sizeof(path));
	if ((c->logfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600)) == -1) {
		log_warn("console %s: %s", c->name, path);
		return -1;
	}
	c->logged = fstat(c->logfd, &st) == 0 ? (size_t)st.st_size : 0;
	return 0;
}

static void
console_log(struct console *c, const char *buf, size_t len)
{
	static const char full[] = "\r\n[pipol: console log full]\r\n";

	if (console_log_open(c) < 0 || c->logged >= CONSOLE_LOG_MAX)
		return;
	if (len > CONSOLE_LOG_MAX - c->logged)
		len = CONSOLE_LOG_MAX - c->logged;
	if (write(c->logfd, buf, len) != (ssize_t)len)
		log_warn("console %s: log of deployment %lld", c->name, c->dep);
	c->logged += len;
	if (c->logged >= CONSOLE_LOG_MAX &&
	    write(c->logfd, full, sizeof(full) - 1) < 0)
		log_warn("console %s: log", c->name);
}

/* What the node said: to its log, to every client. */
static void
console_read(struct console *c, time_t now)
{
	char buf[CONSOLE_READ_BYTES];
	ssize_t n;
	int i;

	n = read(c->fd, buf, sizeof(buf));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		console_disconnect(c, "console disconnected (node off?)");
		return;
	}
	if (n < 0)
		return;
	console_log(c, buf, (size_t)n);
	for (i = 0; i < CONSOLE_CLIENTS_MAX; i++) {
		if (c->cl[i] == NULL)
			continue;
		c->cl[i]->last = now;
		if (client_queue(c->cl[i], buf, (size_t)n) < 0)
			client_close(c, i, "too slow, detached");
	}
}

/* The bucket of what k may type, refilled at CONSOLE_TYPE_RATE. */
static size_t
client_allowance(struct client *k)
{
	struct timespec t;
	double dt;

	clock_gettime(CLOCK_MONOTONIC, &t);
	dt = (double)(t.tv_sec - k->filled.tv_sec) +
	    (double)(t.tv_nsec - k->filled.tv_nsec) / 1e9;
	k->filled = t;
	k->bucket += dt * CONSOLE_TYPE_RATE;
	if (k->bucket > CONSOLE_TYPE_BURST)
		k->bucket = CONSOLE_TYPE_BURST;
	return (size_t)k->bucket;
}

/* Keys to the node; the rest of what a client sent past its allowance
 * is dropped (it said so). -1: it hung up. */
static int
client_keys(struct console *c, struct client *k, const char *buf,
    size_t len)
{
	size_t ok = client_allowance(k);

	if (len > ok) {
		len = ok;
		client_say(k, c->name, "typing too fast: keys dropped");
	}
	k->bucket -= (double)len;
	if (c->fd == -1 || len == 0)
		return 0;
	/* the guest reads at line speed: what the socket refuses is lost,
	 * as on a real serial line */
	if (send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
	    errno != EAGAIN)
		console_disconnect(c, "console disconnected");
	return 0;
}

/* A WebSocket client's frames: the keys in its data frames to the
 * node, a pong for its ping, a close answered and closed. */
static void
client_ws_read(struct console *c, int slot, const uint8_t *buf, size_t n)
{
	struct client *k = c->cl[slot];
	uint8_t keys[CONSOLE_READ_BYTES];
	size_t off = 0, used, klen;
	enum ws_event ev;

	while (off < n) {
		ev = ws_read(&k->wsin, buf + off, n - off, &used, keys, &klen);
		off += used;
		if (klen > 0)
			client_keys(c, k, (const char *)keys, klen);
		if (ev == WS_PING && client_frame(k, WS_OP_PONG, k->wsin.ctl,
		    k->wsin.ctllen) < 0) {
			client_close(c, slot, "too slow, detached");
			return;
		}
		if (ev == WS_CLOSE) {
			client_close(c, slot, NULL);
			return;
		}
		if (ev == WS_ERROR) {
			client_close(c, slot, "not WebSocket as a client "
			    "speaks it, detached");
			return;
		}
	}
}

static void
client_read(struct console *c, int slot, time_t now)
{
	struct client *k = c->cl[slot];
	char buf[CONSOLE_READ_BYTES];
	ssize_t n;

	n = recv(k->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		client_close(c, slot, NULL);
		return;
	}
	if (n < 0)
		return;
	k->last = now;
	if (k->ws)
		client_ws_read(c, slot, (const uint8_t *)buf, (size_t)n);
	else
		client_keys(c, k, buf, (size_t)n);
}

static struct console *
console_find(long long node_id)
{
	int i;

	for (i = 0; i < ncons; i++)
		if (cons[i]->node_id == node_id)
			return cons[i];
	return NULL;
}

static void
console_free(int ix)
{
	struct console *c = cons[ix];
	int i;

	for (i = 0; i < CONSOLE_CLIENTS_MAX; i++)
		if (c->cl[i] != NULL)
			client_close(c, i, "console removed");
	console_disconnect(c, "console removed");
	if (c->logfd != -1)
		close(c->logfd);
	free(c);
	cons[ix] = cons[--ncons];
}

/* One row of the refresh: the console made or updated. */
static void
console_update(PGresult *r, int row)
{
	long long id = atoll(PQgetvalue(r, row, 0));
	struct console *c = console_find(id);
	const char *path = PQgetvalue(r, row, 2);
	const char *params = PQgetvalue(r, row, 5);

	if (c == NULL) {
		if (ncons >= CONSOLE_NODES_MAX ||
		    (c = calloc(1, sizeof(*c))) == NULL)
			return;
		c->node_id = id;
		c->fd = c->logfd = -1;
		cons[ncons++] = c;
	}
	snprintf(c->name, sizeof(c->name), "%s", PQgetvalue(r, row, 1));
	if (strlen(params) >= sizeof(c->params))
		params = "";	/* params that long are not a BMC's */
	if (strcmp(c->path, path) != 0 || strcmp(c->params, params) != 0) {
		console_disconnect(c, "console moved");
		snprintf(c->path, sizeof(c->path), "%s", path);
		snprintf(c->params, sizeof(c->params), "%s", params);
		c->retry = 0;
	}
	c->dep = atoll(PQgetvalue(r, row, 3));
	c->holder = atoll(PQgetvalue(r, row, 4));
	c->seen = 1;
}

/*
 * The consoles pipold reads, and for each the deployment it logs to:
 * the one in flight, else the latest of a running reservation (the
 * deployed system's boots belong to its deployment); after the
 * reservation, nobody's (not logged).
 */
static const char refresh_sql[] =
    "SELECT n.id::text, n.name, CASE n.power_driver WHEN 'vm' THEN $1 || "
    "'/vms/' || n.name || '.serial' ELSE n.power_params->>'serial' END, "
    "coalesce((SELECT max(d.id) FROM deployments d LEFT JOIN "
    "reservations r ON r.id = d.reservation_id WHERE d.node_id = n.id "
    "AND (d.state NOT IN ('ready', 'failed') OR (r.id IS NOT NULL AND "
    "reservation_state(r) = 'running'))), 0)::text, "
    "coalesce((SELECT r.user_id FROM reservations r JOIN "
    "reservation_nodes rn ON rn.reservation_id = r.id WHERE rn.node_id "
    "= n.id AND rn.live AND reservation_state(r) = 'running' LIMIT 1), "
    "0)::text, CASE n.power_driver WHEN 'ipmi' THEN n.power_params::text "
    "ELSE '' END FROM nodes n WHERE (n.power_driver = 'qemu' AND "
    "n.power_params ? 'serial') OR (n.power_driver = 'ipmi' AND "
    "n.power_params->>'sol' = 'on') OR n.power_driver = 'vm' "
    "ORDER BY n.id LIMIT 1024";

/* 0 when the nodes were read, -1 when the database did not answer */
static int
consoles_refresh(void)
{
	PGconn *db;
	PGresult *r;
	int i, j, rc = -1;

	pthread_mutex_lock(&mu);
	refresh_starts++;
	pthread_mutex_unlock(&mu);
	if ((db = db_get(cpd)) == NULL)
		return -1;	/* the database is away: as they were */
	/* vm: the machines pipold runs, their socket in STATE/vms */
	r = db_query(db, refresh_sql, 1, (const char *[]){ cpd->state });
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		rc = 0;
		for (i = 0; i < ncons; i++)
			cons[i]->seen = 0;
		for (i = 0; i < PQntuples(r); i++)
			console_update(r, i);
		for (i = ncons - 1; i >= 0; i--)
			if (!cons[i]->seen)
				console_free(i);
	} else
		log_warnx("console: %s", PQerrorMessage(db));
	PQclear(r);
	db_put(cpd, db);
	pthread_mutex_lock(&mu);
	refreshes++;
	pthread_cond_broadcast(&refreshed_cv);
	pthread_mutex_unlock(&mu);
	/* the holder's: a released reservation's holder is cut off */
	for (i = 0; i < ncons; i++)
		for (j = 0; j < CONSOLE_CLIENTS_MAX; j++)
			if (cons[i]->cl[j] != NULL && !cons[i]->cl[j]->admin &&
			    cons[i]->cl[j]->user != cons[i]->holder)
				client_close(cons[i], j, "your reservation "
				    "of this node ended");
	return rc;
}

static void
client_take(struct pending *p, time_t now)
{
	struct console *c = console_find(p->node_id);
	struct client *k;
	int i;

	if (c == NULL) {
		consoles_refresh();
		c = console_find(p->node_id);
	}
	for (i = 0; c != NULL && i < CONSOLE_CLIENTS_MAX && c->cl[i]; i++)
		;
	if (c == NULL || i == CONSOLE_CLIENTS_MAX ||
	    (k = calloc(1, sizeof(*k))) == NULL) {
		MHD_upgrade_action(p->urh, MHD_UPGRADE_ACTION_CLOSE);
		free(p->extra);
		return;
	}
	*k = (struct client){ .fd = p->fd, .urh = p->urh, .user = p->user,
	    .admin = p->admin, .ws = p->ws, .last = now,
	    .bucket = CONSOLE_TYPE_BURST };
	clock_gettime(CLOCK_MONOTONIC, &k->filled);
	snprintf(k->who, sizeof(k->who), "%s", p->who);
	c->cl[i] = k;
	log_info("console %s: %s attached", c->name, k->who);
	client_say(k, c->name, c->fd != -1 ? "console attached" :
	    "console attached, not connected yet (node off?)");
	if (p->extra_len > 0 && k->ws)
		client_ws_read(c, i, (const uint8_t *)p->extra, p->extra_len);
	else if (p->extra_len > 0)
		client_keys(c, k, p->extra, p->extra_len);
	free(p->extra);
}

static void
clients_take(time_t now)
{
	struct pending got[CONSOLE_PENDING_MAX];
	char drain[64];
	int i, n;

	while (read(wake[0], drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&mu);
	n = npend;
	memcpy(got, pend, sizeof(got[0]) * (size_t)n);
	npend = 0;
	pthread_mutex_unlock(&mu);
	for (i = 0; i < n; i++)
		client_take(&got[i], now);
}

/* poll()'s table: wake, then each console and its clients. */
struct slot {
	struct console *c;
	int client;		/* -1: the console itself */
};

static int
poll_fill(struct pollfd *pfd, struct slot *sl, time_t now)
{
	int i, j, n = 1;

	pfd[0] = (struct pollfd){ .fd = wake[0], .events = POLLIN };
	for (i = 0; i < ncons; i++) {
		console_connect(cons[i], now);
		if (cons[i]->fd != -1) {
			pfd[n] = (struct pollfd){ .fd = cons[i]->fd,
			    .events = POLLIN };
			sl[n++] = (struct slot){ cons[i], -1 };
		}
		for (j = 0; j < CONSOLE_CLIENTS_MAX; j++) {
			struct client *k = cons[i]->cl[j];

			if (k == NULL)
				continue;
			pfd[n] = (struct pollfd){ .fd = k->fd, .events =
			    POLLIN | (k->outlen > 0 ? POLLOUT : 0) };
			sl[n++] = (struct slot){ cons[i], j };
		}
	}
	return n;
}

static void
clients_tick(time_t now)
{
	int i, j;

	for (i = 0; i < ncons; i++)
		for (j = 0; j < CONSOLE_CLIENTS_MAX; j++) {
			struct client *k = cons[i]->cl[j];

			if (k == NULL)
				continue;
			if (client_flush(k) < 0)
				client_close(cons[i], j, NULL);
			else if (now - k->last > CONSOLE_IDLE_SEC)
				client_close(cons[i], j, "idle, detached");
		}
}

/* Logs not written for --console-days days, and that no console holds
 * open (a quiet node's current deployment keeps its log), removed. */
static void
console_prune(time_t now)
{
	char dir[PATH_MAX], path[PATH_MAX], *end;
	struct dirent *d;
	struct stat st;
	long long dep;
	int i, held, n = 0;
	DIR *dh;

	if (cpd->console_days <= 0)
		return;
	snprintf(dir, sizeof(dir), "%s/console", cpd->state);
	if ((dh = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dh)) != NULL) {
		dep = strtoll(d->d_name, &end, 10);
		if (dep <= 0 || strcmp(end, ".log") != 0)
			continue;
		for (held = 0, i = 0; i < ncons && !held; i++)
			held = cons[i]->dep == dep || (cons[i]->logfd != -1 &&
			    cons[i]->logdep == dep);
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (held || lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
		    now - st.st_mtime < (time_t)cpd->console_days * 86400)
			continue;
		if (unlink(path) == 0)
			n++;
		else
			log_warn("console: %s", path);
	}
	closedir(dh);
	if (n > 0)
		log_info("console: %d log%s not written for %d days removed",
		    n, n == 1 ? "" : "s", cpd->console_days);
}

static void *
console_main(void *arg)
{
	static struct pollfd pfd[1 + CONSOLE_NODES_MAX *
	    (1 + CONSOLE_CLIENTS_MAX)];
	static struct slot sl[sizeof(pfd) / sizeof(pfd[0])];
	time_t now, refreshed = 0, pruned = 0;
	int i, n, nudge, known = 0;

	(void)arg;
	while (!stopping) {
		now = time(NULL);
		pthread_mutex_lock(&mu);
		nudge = nudged;
		nudged = 0;
		pthread_mutex_unlock(&mu);
		if (nudge || now - refreshed >= CONSOLE_REFRESH_SEC) {
			known = consoles_refresh() == 0;
			refreshed = now;
		}
		/* only while the consoles' deployments are known */
		if (known && now - pruned >= CONSOLE_PRUNE_SEC) {
			console_prune(now);
			pruned = now;
		}
		clients_take(now);
		count_publish();
		n = poll_fill(pfd, sl, now);
		if (poll(pfd, (nfds_t)n, 500) < 0 && errno != EINTR)
			break;
		now = time(NULL);
		for (i = 1; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (sl[i].client == -1)
				console_read(sl[i].c, now);
			else if (sl[i].c->cl[sl[i].client] != NULL &&
			    (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				client_read(sl[i].c, sl[i].client, now);
		}
		clients_tick(now);
	}
	while (ncons > 0)
		console_free(ncons - 1);
	return NULL;
}

int
console_start(struct pipold *pd, struct perr *e)
{
	char dir[PATH_MAX];
	int rc;

	cpd = pd;
	snprintf(dir, sizeof(dir), "%s/console", pd->state);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return perr_errno(e, PE_FAIL, "%s", dir);
	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) == -1)
		return perr_errno(e, PE_FAIL, "console: pipe");
	stopping = 0;
	running = 1;
	if ((rc = pthread_create(&thread, NULL, console_main, NULL)) != 0) {
		running = 0;
		close(wake[0]);
		close(wake[1]);
		errno = rc;
		return perr_errno(e, PE_FAIL, "console: thread");
	}
	return 0;
}

void
console_stop(void)
{
	int i;

	if (!running)
		return;
	stopping = 1;
	if (write(wake[1], "", 1) < 0)
		log_warn("console: wake");
	pthread_join(thread, NULL);
	pthread_mutex_lock(&mu);
	running = 0;
	for (i = 0; i < npend; i++) {
		MHD_upgrade_action(pend[i].urh, MHD_UPGRADE_ACTION_CLOSE);
		free(pend[i].extra);
	}
	npend = 0;
	pthread_mutex_unlock(&mu);
	close(wake[0]);
	close(wake[1]);
}
