/*
 * db.c -- the database, and the only file that runs statements through
 * libpq (handlers read the results): the connection pool, one statement
 * (db_query, db_exec_prepared), one transaction helper (db_tx: every
 * COMMIT checked, run again after a serialisation failure), the event
 * log, the migrations. With no --db (nor $PIPOL_DB) pipold runs its
 * own PostgreSQL under STATE/pg: initdb on first start, Unix socket only
 * (listen_addresses = ''), started and stopped with pipold, run as the
 * postgres user when pipold is root (PostgreSQL refuses root). Every
 * program is started with an argument vector, never through a shell.
 * Migrations are applied in order, each in its own transaction, under
 * an advisory lock so that several pipold sharing one server agree.
 */
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

static int
pg_init(const char *dir, char *data, const char *log, struct perr *e)
{
	char initdb[PATH_MAX + 16], conf[PATH_MAX + 32], lines[PATH_MAX + 96];
	char *argv[] = { initdb, "-D", data, "-A", "trust", "-U",
	    "pipol", "-E", "UTF8", "--locale=C.UTF-8", NULL };
	FILE *f;

	snprintf(initdb, sizeof(initdb), "%s/initdb", pg_bin);
	if (run(argv, log) != 0)
		return perr_set(e, PE_FAIL, "%s: initdb failed (see %s)", data,
		    log);
	snprintf(conf, sizeof(conf), "%s/postgresql.conf", data);
	snprintf(lines, sizeof(lines), "\n# pipold: Unix socket only\n"
	    "listen_addresses = ''\nunix_socket_directories = '%s'\n", dir);
	if ((f = fopen(conf, "a")) == NULL || fputs(lines, f) == EOF ||
	    fclose(f) == EOF)
		return perr_errno(e, PE_FAIL, "%s", conf);
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

int
pg_embedded_start(struct pipold *pd, struct perr *e)
{
	char dir[PATH_MAX], data[PATH_MAX], log[PATH_MAX], ver[PATH_MAX];
	char pg_ctl[PATH_MAX + 16], ilog[PATH_MAX];
	char *status[] = { pg_ctl, "-D", data, "status", NULL };
	char *start[] = { pg_ctl, "-D", data, "-l", log, "-w", "-t",
	    PG_START_SEC, "start", NULL };
	struct passwd *pw;
	struct stat st;
	int rc;

	if ((rc = find_pg_bin(e)) < 0)
		return rc;
	if (!path_is_plain(pd->state))
		return perr_set(e, PE_USAGE, "--state %s: the embedded database "
		    "needs a path of letters, digits and / . _ -", pd->state);
	snprintf(dir, sizeof(dir), "%s/pg", pd->state);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(log, sizeof(log), "%s/log", dir);
	snprintf(ver, sizeof(ver), "%s/PG_VERSION", data);
	snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", pg_bin);
	if ((rc = mkdir_one(pd->state, e)) < 0 || (rc = mkdir_one(dir, e)) < 0)
		return rc;
	if (geteuid() == 0) {
		if ((pw = getpwnam(PG_USER)) == NULL)
			return perr_set(e, PE_FAIL, "no %s user: install "
			    "postgresql", PG_USER);
		if (chown(dir, pw->pw_uid, pw->pw_gid) == -1)
			return perr_errno(e, PE_FAIL, "%s", dir);
		chmod(dir, 0700);
	}
	if (stat(ver, &st) == -1) {
		/* initdb's own log: pg_ctl's is made by the postgres user */
		snprintf(ilog, sizeof(ilog), "%s/initdb.log", dir);
		if ((rc = pg_init(dir, data, ilog, e)) < 0)
			return rc;
	}
	/* a cluster left running by a pipold that was killed is reused */
	snprintf(ilog, sizeof(ilog), "%s/pg_ctl.log", dir);
	if (run(status, "/dev/null") != 0) {
		if (run(start, ilog) != 0)
			return perr_set(e, PE_UNAVAIL, "%s: PostgreSQL did not "
			    "start (see %s)", data, log);
		pd->started_pg = 1;
	}
	pd->embedded = 1;
	if ((rc = create_db(dir, e)) < 0)
		return rc;
	if (asprintf(&pd->conninfo, "host=%s user=pipol dbname=pipol", dir)
	    == -1)
		return perr_set(e, PE_FAIL, "out of memory");
	return 0;
}

void
pg_embedded_stop(struct pipold *pd)
{
	char data[PATH_MAX], pg_ctl[PATH_MAX + 16];
	char *stop[] = { pg_ctl, "-D", data, "-m", "fast", "-w", "stop", NULL };

	if (!pd->embedded)
		return;
	snprintf(data, sizeof(data), "%s/pg/data", pd->state);
	snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", pg_bin);
	if (run(stop, "/dev/null") != 0)
		log_warnx("%s: PostgreSQL did not stop cleanly", data);
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
