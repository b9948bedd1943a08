/*
 * db.c -- the database, and the only file that runs statements through
 * libpq (handlers read the results): the connection pool, one statement
 * (db_query, db_exec_prepared), one transaction helper (db_tx: every
 * COMMIT checked, run again after a serialisation failure), the event
 * log, the migrations. With no --db (nor $PIPOL_DB) pipold runs its
 * own PostgreSQL under STATE/pg: initdb on first start, Unix socket only
 * (listen_addresses = ''), private to pipold (STATE/pg and its socket
 * 0700, peer authentication of pipold's own system user), started and
 * stopped with pipold, watched (db_watch: started again when it dies),
 * run as the postgres user when pipold is root (PostgreSQL refuses
 * root). Every
 * program is started with an argument vector, never through a shell.
 * Migrations are applied in order, each in its own transaction, under
 * an advisory lock so that several pipold sharing one server agree.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "log.h"
#include "migrations.h"
#include "pipold.h"

#define PG_USER		"postgres"	/* who runs the cluster when we are root */
#define PG_START_SEC	"60"		/* pg_ctl -w waits that long at most */
#define MIGRATE_LOCK	4242		/* pg_advisory_lock key */
#define PG_CONF		"pipold.conf"	/* our settings, in the data folder */
#define PG_INCLUDE	"include = '" PG_CONF "'\n"
#define PG_RESTARTS_MAX	3	/* a dead postmaster started again, then exit */
#define DB_WATCH_SEC	1	/* how often the database is pinged */
#define DB_PING_TIMEOUT	"2"	/* seconds: an external server's answer */

static char pg_bin[PATH_MAX];

static int
find_pg_bin(struct perr *e)
{
	glob_t g;

	if (pg_bin[0])
		return 0;
	if (glob("/usr/lib/postgresql/*/bin/pg_ctl", 0, NULL, &g) != 0)
		return perr_set(e, PE_UNAVAIL, "no PostgreSQL server found "
		    "(/usr/lib/postgresql/*/bin/pg_ctl): install postgresql");
	/* glob sorts: the last is the newest major version */
	snprintf(pg_bin, sizeof(pg_bin), "%s", g.gl_pathv[g.gl_pathc - 1]);
	*strrchr(pg_bin, '/') = '\0';
	globfree(&g);
	return 0;
}

/* Run argv (as the postgres user when we are root); its exit status. */
static int
run(char *const argv[], const char *log_path)
{
	char *full[24];
	int i = 0, k, status;
	pid_t pid;

	if (geteuid() == 0) {
		full[i++] = "/usr/sbin/runuser";
		full[i++] = "-u";
		full[i++] = PG_USER;
		full[i++] = "--";
	}
	for (k = 0; argv[k] != NULL && i < 23; k++)
		full[i++] = argv[k];
	full[i] = NULL;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if (log_path != NULL) {
			int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND,
			    0600);

			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
		}
		execv(full[0], full);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int
path_is_plain(const char *p)
{
	for (; *p; p++)
		if (!(isalnum((unsigned char)*p) || strchr("/._-", *p)))
			return 0;
	return 1;
}

/*
 * The cluster is private to pipold: STATE/pg is 0700 and so is its
 * socket; the only client it admits is the system user pipold runs as
 * (peer authentication, mapped to the superuser role pipol). Written on
 * every start, so that a cluster made by an earlier pipold (trust, a
 * folder any local user could enter) is tightened too.
 */
static int
pg_conf_write(const char *path, const char *text, const struct passwd *pw,
    struct perr *e)
{
	int rc;

	if ((rc = atomic_write(path, text, strlen(text), e)) < 0)
		return rc;
	if (pw != NULL && chown(path, pw->pw_uid, pw->pw_gid) == -1)
		return perr_errno(e, PE_FAIL, "%s", path);
	if (chmod(path, 0600) == -1)
		return perr_errno(e, PE_FAIL, "%s", path);
	return 0;
}

/* pw: the cluster's owner when it is not us (we are root), else NULL */
static int
pg_private(const char *dir, const char *data, const struct passwd *pw,
    struct perr *e)
{
	char path[PATH_MAX + 32], text[PATH_MAX + 256], line[256];
	struct passwd *me = getpwuid(geteuid());
	FILE *f;
	int rc, found = 0;

	if (me == NULL || !path_is_plain(me->pw_name))
		return perr_set(e, PE_FAIL, "uid %u: no plain user name for "
		    "the database's peer authentication", (unsigned)geteuid());
	if (chmod(dir, 0700) == -1)
		return perr_errno(e, PE_FAIL, "%s", dir);
	snprintf(path, sizeof(path), "%s/pg_hba.conf", data);
	if ((rc = pg_conf_write(path, "# written by pipold on every start: "
	    "its own system user only\nlocal all all peer map=pipold\n", pw,
	    e)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/pg_ident.conf", data);
	snprintf(text, sizeof(text), "# written by pipold on every start\n"
	    "pipold %s pipol\n", me->pw_name);
	if ((rc = pg_conf_write(path, text, pw, e)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/" PG_CONF, data);
	snprintf(text, sizeof(text), "# written by pipold on every start: "
	    "Unix socket only, 0700\nlisten_addresses = ''\n"
	    "unix_socket_directories = '%s'\nunix_socket_permissions = 0700\n",
	    dir);
	if ((rc = pg_conf_write(path, text, pw, e)) < 0)
		return rc;
	/* postgresql.conf includes ours last: it wins over earlier lines */
	snprintf(path, sizeof(path), "%s/postgresql.conf", data);
	if ((f = fopen(path, "a+")) == NULL)
		return perr_errno(e, PE_FAIL, "%s", path);
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL)
		found |= strcmp(line, PG_INCLUDE) == 0;
	if ((!found && fputs("\n" PG_INCLUDE, f) == EOF) || fclose(f) == EOF)
		return perr_errno(e, PE_FAIL, "%s", path);
	return 0;
}

/* The embedded cluster's paths, set once by pg_embedded_start. */
static char pg_dir[PATH_MAX], pg_data[PATH_MAX], pg_log[PATH_MAX];
static char pg_ctl_log[PATH_MAX], pg_ctl[PATH_MAX + 16];

static int
pg_init(const char *log, struct perr *e)
{
	char initdb[PATH_MAX + 16];
	char *argv[] = { initdb, "-D", pg_data, "--auth-local=peer",
	    "--auth-host=reject", "-U", "pipol", "-E", "UTF8",
	    "--locale=C.UTF-8", NULL };

	snprintf(initdb, sizeof(initdb), "%s/initdb", pg_bin);
	if (run(argv, log) != 0)
		return perr_set(e, PE_FAIL, "%s: initdb failed (see %s)",
		    pg_data, log);
	return 0;
}

static int
create_db(const char *dir, struct perr *e)
{
	char ci[PATH_MAX + 64];
	PGresult *r;
	PGconn *c;
	int rc = 0;

	snprintf(ci, sizeof(ci), "host=%s user=pipol dbname=postgres", dir);
	c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK) {
		rc = perr_set(e, PE_UNAVAIL, "embedded PostgreSQL: %s",
		    PQerrorMessage(c));
		PQfinish(c);
		return rc;
	}
	r = PQexec(c, "SELECT 1 FROM pg_database WHERE datname = 'pipol'");
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0) {
		PQclear(r);
		r = PQexec(c, "CREATE DATABASE pipol");
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = perr_set(e, PE_FAIL, "CREATE DATABASE: %s",
			    PQerrorMessage(c));
	}
	PQclear(r);
	PQfinish(c);
	return rc;
}

/* pg_ctl start, waiting until it accepts connections; 0 or -1. */
static int
pg_start(void)
{
	char *start[] = { pg_ctl, "-D", pg_data, "-l", pg_log, "-w", "-t",
	    PG_START_SEC, "start", NULL };

	return run(start, pg_ctl_log) == 0 ? 0 : -1;
}

int
pg_embedded_start(struct pipold *pd, struct perr *e)
{
	char ver[PATH_MAX + 16], ilog[PATH_MAX + 16], sock[PATH_MAX + 16];
	char *status[] = { pg_ctl, "-D", pg_data, "status", NULL };
	char *reload[] = { pg_ctl, "-D", pg_data, "reload", NULL };
	struct passwd *pw = NULL;
	struct stat st;
	int rc;

	if ((rc = find_pg_bin(e)) < 0)
		return rc;
	if (!path_is_plain(pd->state))
		return perr_set(e, PE_USAGE, "--state %s: the embedded database "
		    "needs a path of letters, digits and / . _ -", pd->state);
	snprintf(pg_dir, sizeof(pg_dir), "%s/pg", pd->state);
	snprintf(pg_data, sizeof(pg_data), "%s/data", pg_dir);
	snprintf(pg_log, sizeof(pg_log), "%s/log", pg_dir);
	snprintf(pg_ctl_log, sizeof(pg_ctl_log), "%s/pg_ctl.log", pg_dir);
	snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", pg_bin);
	snprintf(ver, sizeof(ver), "%s/PG_VERSION", pg_data);
	snprintf(sock, sizeof(sock), "%s/.s.PGSQL.5432", pg_dir);
	if ((rc = mkdir_one(pd->state, e)) < 0 || (rc = mkdir_one(pg_dir, e)) < 0)
		return rc;
	if (chmod(pg_dir, 0700) == -1)	/* before anything is in it */
		return perr_errno(e, PE_FAIL, "%s", pg_dir);
	if (geteuid() == 0) {
		if ((pw = getpwnam(PG_USER)) == NULL)
			return perr_set(e, PE_FAIL, "no %s user: install "
			    "postgresql", PG_USER);
		if (chown(pg_dir, pw->pw_uid, pw->pw_gid) == -1)
			return perr_errno(e, PE_FAIL, "%s", pg_dir);
	}
	if (stat(ver, &st) == -1) {
		/* initdb's own log: pg_ctl's is made by the postgres user */
		snprintf(ilog, sizeof(ilog), "%s/initdb.log", pg_dir);
		if ((rc = pg_init(ilog, e)) < 0)
			return rc;
	}
	if ((rc = pg_private(pg_dir, pg_data, pw, e)) < 0)
		return rc;
	/* the postmaster, orphaned by pg_ctl, becomes our child: reaped by
	 * db_watch, not left a zombie that blocks its own restart */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* a cluster left running by a pipold that was killed is reused,
	 * its authentication reloaded and its socket closed to others */
	if (run(status, "/dev/null") == 0) {
		if (run(reload, "/dev/null") != 0 ||
		    (chmod(sock, 0700) == -1 && errno != ENOENT))
			return perr_set(e, PE_FAIL, "%s: could not make the "
			    "running PostgreSQL private", pg_data);
	} else {
		if (pg_start() < 0)
			return perr_set(e, PE_UNAVAIL, "%s: PostgreSQL did not "
			    "start (see %s)", pg_data, pg_log);
		pd->started_pg = 1;
	}
	pd->embedded = 1;
	if ((rc = create_db(pg_dir, e)) < 0)
		return rc;
	if (asprintf(&pd->conninfo, "host=%s user=pipol dbname=pipol", pg_dir)
	    == -1)
		return perr_set(e, PE_FAIL, "out of memory");
	return 0;
}

void
pg_embedded_stop(struct pipold *pd)
{
	char *stop[] = { pg_ctl, "-D", pg_data, "-m", "fast", "-w", "stop",
	    NULL };

	if (!pd->embedded)
		return;
	if (run(stop, "/dev/null") != 0)
		log_warnx("%s: PostgreSQL did not stop cleanly", pg_data);
}

/*
 * The watch: every DB_WATCH_SEC a ping (no login, no pool connection).
 * When the server does not answer, /health says so (pd->db_down), the
 * pool is flushed, and at the next look the embedded cluster is
 * started again, at most
 * PG_RESTARTS_MAX times in a row; then pipold exits (SIGUSR1 to main)
 * for its service manager to start it afresh. An external server is
 * only reported.
 */
static pthread_t watch_thread;
static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cv = PTHREAD_COND_INITIALIZER;
static int watch_stop, watch_running;

/* A dead postmaster that is our child is reaped, else it stays a
 * zombie and its lock file seems held. */
static void
pg_reap(void)
{
	char path[PATH_MAX + 32], buf[32];
	FILE *f;
	long pid;

	snprintf(path, sizeof(path), "%s/postmaster.pid", pg_data);
	if ((f = fopen(path, "r")) == NULL)
		return;
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    (pid = strtol(buf, NULL, 10)) > 1)
		waitpid((pid_t)pid, NULL, WNOHANG);
	fclose(f);
}

static PGPing
db_ping(const struct pipold *pd)
{
	const char *const keys[] = { "dbname", "connect_timeout", NULL };
	const char *const vals[] = { pd->conninfo, DB_PING_TIMEOUT, NULL };

	return PQpingParams(keys, vals, 1);
}

int
db_answers(const struct pipold *pd)
{
	return db_ping(pd) == PQPING_OK;
}

/* One look; 0, or -1 when the restarts ran out. */
static int
watch_once(struct pipold *pd, int *tries)
{
	PGPing ping;

	if (pd->embedded)
		pg_reap();
	if ((ping = db_ping(pd)) == PQPING_OK) {
		if (pd->db_down)
			log_info("database: answering again");
		pd->db_down = 0;
		*tries = 0;
		return 0;
	}
	db_pool_flush(pd);
	/* the first look only reports it: a restart by hand (pg_ctl
	 * restart) is over by the next */
	if (!pd->db_down) {
		log_warnx("database: not answering%s", pd->embedded &&
		    ping == PQPING_NO_RESPONSE ? ": restarting the embedded "
		    "PostgreSQL" : "");
		pd->db_down = 1;
		return 0;
	}
	/* starting up, recovering, stopping: a postmaster is there */
	if (!pd->embedded || ping != PQPING_NO_RESPONSE)
		return 0;
	if (++*tries > PG_RESTARTS_MAX) {
		log_warnx("%s: PostgreSQL did not start again after %d tries "
		    "(see %s): exiting", pg_data, PG_RESTARTS_MAX, pg_log);
		return -1;
	}
	if (pg_start() == 0) {
		log_info("%s: PostgreSQL started again", pg_data);
		pd->db_down = 0;
		*tries = 0;
	}
	return 0;
}

static void *
watch_main(void *arg)
{
	struct pipold *pd = arg;
	struct timespec until;
	int tries = 0;

	pthread_mutex_lock(&watch_mu);
	while (!watch_stop) {
		pthread_mutex_unlock(&watch_mu);
		if (watch_once(pd, &tries) < 0) {
			kill(getpid(), SIGUSR1);
			return NULL;
		}
		pthread_mutex_lock(&watch_mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += DB_WATCH_SEC;
		if (!watch_stop)
			pthread_cond_timedwait(&watch_cv, &watch_mu, &until);
	}
	pthread_mutex_unlock(&watch_mu);
	return NULL;
}

int
db_watch_start(struct pipold *pd, struct perr *e)
{
	if ((errno = pthread_create(&watch_thread, NULL, watch_main, pd)) != 0)
		return perr_errno(e, PE_FAIL, "database watch: thread");
	watch_running = 1;
	return 0;
}

void
db_watch_stop(void)
{
	if (!watch_running)
		return;
	pthread_mutex_lock(&watch_mu);
	watch_stop = 1;
	pthread_cond_signal(&watch_cv);
	pthread_mutex_unlock(&watch_mu);
	pthread_join(watch_thread, NULL);
	watch_running = 0;
}

static int
exec_ok(PGconn *c, const char *sql, PGresult **out)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType s = PQresultStatus(r);

	if (out != NULL && s == PGRES_TUPLES_OK) {
		*out = r;
		return 0;
	}
	PQclear(r);
	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : -1;
}

static void
quiet_notice(void *arg, const char *msg)
{
	(void)arg, (void)msg;
}

int
db_migrate(struct pipold *pd, int *version, struct perr *e)
{
	const struct migration *m;
	PGresult *r = NULL;
	PGconn *c;
	int have = 0, rc = 0;
	char lock[64];

	c = PQconnectdb(pd->conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		rc = perr_set(e, PE_UNAVAIL, "database: %s", PQerrorMessage(c));
		goto out;
	}
	/* "already exists, skipping" and the like: not for the log */
	PQsetNoticeProcessor(c, quiet_notice, NULL);
	snprintf(lock, sizeof(lock), "SELECT pg_advisory_lock(%d)",
	    MIGRATE_LOCK);
	if (exec_ok(c, lock, NULL) < 0 || exec_ok(c, "CREATE TABLE IF NOT "
	    "EXISTS schema_migrations (version integer PRIMARY KEY, name "
	    "text NOT NULL, applied timestamptz NOT NULL DEFAULT now())",
	    NULL) < 0 || exec_ok(c, "SELECT coalesce(max(version), 0) FROM "
	    "schema_migrations", &r) < 0) {
		rc = perr_set(e, PE_FAIL, "database: %s", PQerrorMessage(c));
		goto out;
	}
	have = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	for (m = migrations; m->sql != NULL && rc == 0; m++) {
		const char *params[2];
		char v[16];

		if (m->version <= have)
			continue;
		snprintf(v, sizeof(v), "%d", m->version);
		params[0] = v;
		params[1] = m->name;
		if (exec_ok(c, "BEGIN", NULL) < 0 || exec_ok(c, m->sql, NULL) < 0)
			rc = perr_set(e, PE_FAIL, "migration %s: %s", m->name,
			    PQerrorMessage(c));
		else {
			r = PQexecParams(c, "INSERT INTO schema_migrations "
			    "(version, name) VALUES ($1, $2)", 2, NULL, params,
			    NULL, NULL, 0);
			if (PQresultStatus(r) != PGRES_COMMAND_OK ||
			    exec_ok(c, "COMMIT", NULL) < 0)
				rc = perr_set(e, PE_FAIL, "migration %s: %s",
				    m->name, PQerrorMessage(c));
			PQclear(r);
		}
		if (rc < 0)
			exec_ok(c, "ROLLBACK", NULL);
		else
			have = m->version;
	}
	*version = have;
 out:
	PQfinish(c);
	return rc;
}

/*
 * The pool. An idle connection has nothing to say: when its socket is
 * readable, the server has closed it (restart, idle timeout) or sent a
 * notice, and it is checked before reuse. A fresh connection is made
 * when none is idle, so a restarted PostgreSQL costs no request. At
 * most DB_POOL_MAX are open: past that a request waits for one rather
 * than open another, which measured 1,000 agents reporting each second
 * at PostgreSQL's max_connections, a fork per request and 503s; and on
 * a few cores more backends than that only queue for the CPU anyway.
 */
static int
idle_alive(PGconn *db)
{
	struct pollfd p = { .fd = PQsocket(db), .events = POLLIN };

	if (PQstatus(db) != CONNECTION_OK || p.fd < 0)
		return 0;
	if (poll(&p, 1, 0) == 0)
		return 1;
	return PQconsumeInput(db) == 1 && PQstatus(db) == CONNECTION_OK;
}

void
db_pool_init(struct pipold *pd)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&pd->pool.mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pd->pool.freed, &ca);
	pthread_condattr_destroy(&ca);
}

/* One connection closed: its place in the pool is free. */
static void
pool_drop(struct pipold *pd, PGconn *db)
{
	PQfinish(db);
	pthread_mutex_lock(&pd->pool.mu);
	pd->pool.nopen--;
	pthread_cond_signal(&pd->pool.freed);
	pthread_mutex_unlock(&pd->pool.mu);
}

PGconn *
db_get(struct pipold *pd)
{
	struct timespec until;
	PGconn *db = NULL;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += DB_WAIT_SEC;
	pthread_mutex_lock(&pd->pool.mu);
	for (;;) {
		if (pd->pool.nidle > 0) {
			db = pd->pool.idle[--pd->pool.nidle];
			if (idle_alive(db))
				break;
			PQfinish(db);	/* its place is taken again below */
			db = NULL;
			pd->pool.nopen--;
		}
		if (pd->pool.nopen < DB_POOL_MAX) {
			pd->pool.nopen++;
			break;
		}
		if (rc == ETIMEDOUT)
			break;
		rc = pthread_cond_timedwait(&pd->pool.freed, &pd->pool.mu,
		    &until);
	}
	pthread_mutex_unlock(&pd->pool.mu);
	if (db != NULL || rc == ETIMEDOUT)
		return db;
	db = PQconnectdb(pd->conninfo);
	if (PQstatus(db) == CONNECTION_OK) {
		PQsetNoticeProcessor(db, quiet_notice, NULL);
		return db;
	}
	pool_drop(pd, db);
	return NULL;
}

/* The server went away under a connection: the idle ones went with it. */
void
db_pool_flush(struct pipold *pd)
{
	pthread_mutex_lock(&pd->pool.mu);
	while (pd->pool.nidle > 0) {
		PQfinish(pd->pool.idle[--pd->pool.nidle]);
		pd->pool.nopen--;
	}
	pthread_cond_broadcast(&pd->pool.freed);
	pthread_mutex_unlock(&pd->pool.mu);
}

void
db_put(struct pipold *pd, PGconn *db)
{
	if (db == NULL)
		return;
	if (PQstatus(db) != CONNECTION_OK ||
	    PQtransactionStatus(db) != PQTRANS_IDLE) {
		pool_drop(pd, db);	/* broken, or a transaction left open */
		return;
	}
	pthread_mutex_lock(&pd->pool.mu);
	pd->pool.idle[pd->pool.nidle++] = db;	/* nidle < nopen <= MAX */
	pthread_cond_signal(&pd->pool.freed);
	pthread_mutex_unlock(&pd->pool.mu);
}

void
db_pool_close(struct pipold *pd)
{
	while (pd->pool.nidle > 0)
		PQfinish(pd->pool.idle[--pd->pool.nidle]);
	pd->pool.nopen = 0;
}

/*
 * Prepared on first use in each connection (PREPARE is per session),
 * then only bound and run: no parse or plan per request. For the
 * agents' hot path, one statement each second per node: with 1,000
 * agents parsing and planning was most of PostgreSQL's time. Not inside
 * a transaction block: the first use in a session fails once (26000,
 * no such statement) before it is prepared.
 */
PGresult *
db_exec_prepared(PGconn *db, const char *name, const char *sql, int n,
    const char *const *params, const int *lens, const int *fmts)
{
	PGresult *r = PQexecPrepared(db, name, n, params, lens, fmts, 0);
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (PQresultStatus(r) != PGRES_FATAL_ERROR || st == NULL ||
	    strcmp(st, "26000") != 0)
		return r;
	PQclear(r);
	r = PQprepare(db, name, sql, n, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return r;
	PQclear(r);
	return PQexecPrepared(db, name, n, params, lens, fmts, 0);
}

void
db_event(PGconn *db, const char *actor, const char *kind, json_t *detail)
{
	char *d = json_dumps(detail, JSON_COMPACT);
	const char *params[3] = { actor, kind, d ? d : "{}" };

	PQclear(PQexecParams(db, "INSERT INTO events (actor, kind, detail) "
	    "VALUES ($1, $2, $3::jsonb)", 3, NULL, params, NULL, NULL, 0));
	free(d);
	json_decref(detail);
}

PGresult *
db_query(PGconn *db, const char *sql, int n, const char *const *params)
{
	return PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
}

PGresult *
db_query_bin(PGconn *db, const char *sql, int n, const char *const *params,
    const int *lens, const int *fmts)
{
	return PQexecParams(db, sql, n, NULL, params, lens, fmts, 0);
}

int
db_turn_begin(PGconn *db, enum db_turn which)
{
	char key[16];
	const char *params[1] = { key };
	PGresult *r;
	int got;

	snprintf(key, sizeof(key), "%d", (int)which);
	r = db_query(db, "SELECT pg_try_advisory_lock(1885958255, $1::integer)",
	    1, params);
	got = PQresultStatus(r) == PGRES_TUPLES_OK &&
	    strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return got;
}

void
db_turn_end(PGconn *db, enum db_turn which)
{
	char key[16];
	const char *params[1] = { key };

	snprintf(key, sizeof(key), "%d", (int)which);
	PQclear(db_query(db, "SELECT pg_advisory_unlock(1885958255, "
	    "$1::integer)", 1, params));
}

int
db_is_retry(const PGresult *r)
{
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	return st != NULL && (strcmp(st, "40001") == 0 ||
	    strcmp(st, "40P01") == 0);
}

/* One of BEGIN, COMMIT, ROLLBACK: 0 when the server did just that (a
 * COMMIT of a failed transaction answers "ROLLBACK"); 1 when it was a
 * serialisation failure or deadlock; -1 otherwise. */
static int
tx_control(PGconn *db, const char *verb)
{
	PGresult *r = PQexec(db, verb);
	int rc;

	if (PQresultStatus(r) == PGRES_COMMAND_OK &&
	    strcmp(PQcmdStatus(r), verb) == 0)
		rc = 0;
	else
		rc = db_is_retry(r) ? 1 : -1;
	PQclear(r);
	return rc;
}

/*
 * A transaction is run again after a serialisation failure or a
 * deadlock (40001, 40P01): the server undid it whole, and a second run
 * usually finds the other transaction gone. Three runs, then the caller
 * says "try again".
 */
int
db_tx(PGconn *db, db_tx_fn *fn, void *arg)
{
	int i, rc = DB_TX_FAILED, c;

	for (i = 0; i < DB_TX_TRIES; i++) {
		if (tx_control(db, "BEGIN") != 0)
			return DB_TX_FAILED;
		if ((rc = fn(db, arg)) < 0) {
			tx_control(db, "ROLLBACK");
			if (rc == DB_TX_RETRY)
				continue;
			return rc;
		}
		if ((c = tx_control(db, "COMMIT")) == 0)
			return 0;
		if (PQtransactionStatus(db) != PQTRANS_IDLE)
			tx_control(db, "ROLLBACK");
		rc = c == 1 ? DB_TX_RETRY : DB_TX_FAILED;
		if (rc == DB_TX_FAILED)
			return rc;
	}
	return rc;
}
