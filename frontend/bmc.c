/*
 * bmc.c -- per-reservation BMC accounts on IPMI nodes (bmc.h, schema
 * 017_bmc.sql).
 *
 * Reconcile, not react: a thread compares, every BMC_TICK_SEC, what
 * each IPMI node's BMC_SLOT should be (bmc_want: its running
 * reservation, or none) with what pipold last made true
 * (bmc_accounts), and acts on the difference through ipmitool. Every
 * path that starts or ends a reservation (reserve, release, expiry,
 * pre-emption, a pipold that was down at the time) is then covered by
 * one loop: the database says what should be, the tick makes it so. A
 * row is claimed under a lease (several pipold may share a database),
 * ipmitool runs with no transaction open, failures back off.
 *
 * The holder's password is never stored: it is HMAC-SHA256 of the
 * reservation, the node and a random salt (kept in bmc_accounts) under
 * a 32-byte key in STATE/bmc.key (0600, made on first use). A copy of
 * the database alone reveals nothing; the holder's route recomputes it
 * (api_bmc.c). It never goes to a log, an event or a command line:
 * ipmitool reads the commands that carry it from a 0600 file (exec).
 */
#include <sys/random.h>
#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "bmc.h"
#include "log.h"
#include "perr.h"
#include "pipold.h"
#include "power.h"

#define BMC_KEY_BYTES	32
#define BMC_OUT_MAX	16384	/* `user list`: 63 lines of ~60 bytes */

static const char pw_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* The key, read or made once. */
static pthread_mutex_t key_mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t key[BMC_KEY_BYTES];
static int key_loaded;

static int
key_make(const char *path, struct perr *e)
{
	uint8_t k[BMC_KEY_BYTES];
	int fd;

	if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k))
		return perr_errno(e, PE_FAIL, "getrandom");
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600))
	    == -1)
		return errno == EEXIST ? 0 : perr_errno(e, PE_FAIL, "%s", path);
	if (write_all(fd, k, sizeof(k)) < 0 || fsync(fd) == -1) {
		close(fd);
		unlink(path);
		return perr_errno(e, PE_FAIL, "%s", path);
	}
	close(fd);
	return atomic_fsync_dir(path, e);
}

static int
key_get(struct pipold *pd, struct perr *e)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd, rc = 0;

	pthread_mutex_lock(&key_mu);
	if (key_loaded)
		goto out;
	snprintf(path, sizeof(path), "%s/bmc.key", pd->state);
	if ((rc = key_make(path, e)) < 0)
		goto out;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		rc = perr_errno(e, PE_FAIL, "%s", path);
		goto out;
	}
	n = read(fd, key, sizeof(key));
	close(fd);
	if (n != (ssize_t)sizeof(key))
		rc = perr_set(e, PE_DATA, "%s: not %d bytes", path,
		    BMC_KEY_BYTES);
	else
		key_loaded = 1;
 out:
	pthread_mutex_unlock(&key_mu);
	return rc;
}

static int
hex_decode(const char *hex, uint8_t *out, size_t n)
{
	size_t i;
	unsigned v;

	if (strlen(hex) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)hex[2 * i]) ||
		    !isxdigit((unsigned char)hex[2 * i + 1]) ||
		    sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

int
bmc_account(struct pipold *pd, const char *resv, const char *nid,
    const char *salt_hex, char user[BMC_USER_MAX + 1],
    char pw[BMC_PW_LEN + 1], struct perr *e)
{
	uint8_t salt[BMC_SALT_BYTES], mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	char msg[128];
	int n, i;

	if (key_get(pd, e) < 0)
		return -1;
	if (hex_decode(salt_hex, salt, sizeof(salt)) < 0)
		return perr_set(e, PE_DATA, "node %s: no salt", nid);
	n = snprintf(msg, sizeof(msg), "pipol-bmc:%s:%s:", resv, nid);
	memcpy(msg + n, salt, sizeof(salt));
	if (HMAC(EVP_sha256(), key, sizeof(key), (const uint8_t *)msg,
	    (size_t)n + sizeof(salt), mac, &maclen) == NULL || maclen < 32)
		return perr_set(e, PE_FAIL, "HMAC-SHA256 failed");
	/* 256 is 4 x 62 + 8: the first letters a little likelier, under
	 * one bit lost of 95 */
	for (i = 0; i < BMC_PW_LEN; i++)
		pw[i] = pw_alphabet[mac[i] % (sizeof(pw_alphabet) - 1)];
	pw[BMC_PW_LEN] = '\0';
	if (snprintf(user, BMC_USER_MAX + 1, "pipol-r%s", resv) > BMC_USER_MAX)
		snprintf(user, BMC_USER_MAX + 1, "pipol");
	return 0;
}

/* A password nobody knows (a disabled slot's, a rotation's). */
static int
pw_random(char pw[BMC_PW_LEN + 1], struct perr *e)
{
	uint8_t r[BMC_PW_LEN];
	int i;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return perr_errno(e, PE_FAIL, "getrandom");
	for (i = 0; i < BMC_PW_LEN; i++)
		pw[i] = pw_alphabet[r[i] % (sizeof(pw_alphabet) - 1)];
	pw[BMC_PW_LEN] = '\0';
	return 0;
}

/*
 * ipmitool exec: the commands (they may carry a password) written to a
 * 0600 file under STATE/bmc/ (0700), run, the file removed. A failed
 * run's message never holds a password: e is scrubbed of secret.
 */
static int
run_script(struct pipold *pd, const char *node, const json_t *params,
    const char *script, const char *secret, struct perr *e)
{
	char dir[PATH_MAX], path[PATH_MAX], out[BMC_OUT_MAX];
	const char *cmd[3] = { "exec", path, NULL };
	int fd, rc;

	snprintf(dir, sizeof(dir), "%s/bmc", pd->state);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return perr_errno(e, PE_FAIL, "%s", dir);
	snprintf(path, sizeof(path), "%s/exec.XXXXXX", dir);
	if ((fd = mkostemp(path, O_CLOEXEC)) == -1)
		return perr_errno(e, PE_FAIL, "%s", path);
	if (write_all(fd, script, strlen(script)) < 0) {
		rc = perr_errno(e, PE_FAIL, "%s", path);
		close(fd);
		goto out;
	}
	close(fd);
	rc = power_ipmi_tool(node, params, cmd, out, sizeof(out), e);
	if (rc < 0 && secret != NULL && strstr(e->msg, secret) != NULL)
		snprintf(e->msg, sizeof(e->msg), "node %s: ipmitool: a BMC "
		    "user command failed", node);
 out:
	unlink(path);
	return rc;
}

/*
 * The BMC's user list on BMC_CHANNEL: the name in slot (trimmed), and
 * the id of the user named want (0 when none). ipmitool prints fixed
 * columns: the id in 4, the name in 17.
 */
static int
user_list(const char *node, const json_t *params, const char *want,
    char slot_name[32], int *want_id, struct perr *e)
{
	const char *cmd[4] = { "user", "list", BMC_CHANNEL, NULL };
	char out[BMC_OUT_MAX], name[32];
	const char *line, *nl;
	size_t n;
	int id, rc;

	if ((rc = power_ipmi_tool(node, params, cmd, out, sizeof(out), e)) < 0)
		return rc;
	slot_name[0] = '\0';
	*want_id = 0;
	for (line = out; *line; line = *nl ? nl + 1 : nl) {
		nl = strchrnul(line, '\n');
		if ((size_t)(nl - line) < 5 || !isdigit((unsigned char)*line))
			continue;
		id = atoi(line);
		n = (size_t)(nl - line) - 4 < 17 ? (size_t)(nl - line) - 4 : 17;
		snprintf(name, sizeof(name), "%.*s", (int)n, line + 4);
		for (n = strlen(name); n > 0 && isspace((unsigned char)
		    name[n - 1]); n--)
			name[n - 1] = '\0';
		if (id == atoi(BMC_SLOT))
			snprintf(slot_name, 32, "%s", name);
		if (want != NULL && strcmp(name, want) == 0 && *want_id == 0)
			*want_id = id;
	}
	return 0;
}

/* Is the slot pipol's (empty, or named by pipol), not a user of the
 * site's own that an enable or a disable would clobber? */
static int
slot_check(const char *node, const json_t *params, struct perr *e)
{
	char name[32];
	int id;

	if (user_list(node, params, NULL, name, &id, e) < 0)
		return -1;
	if (name[0] != '\0' && strncmp(name, "pipol", 5) != 0)
		return perr_set(e, PE_CONFLICT, "node %s: BMC user %s is "
		    "\"%.16s\", not pipol's: left alone", node, BMC_SLOT, name);
	return 0;
}

/* The slot enabled for user and pw (resv's account), or disabled with
 * a password nobody knows (user NULL). */
static int
slot_set(struct pipold *pd, const char *node, const json_t *params,
    const char *user, const char *pw, struct perr *e)
{
	char script[512], junk[BMC_PW_LEN + 1];

	if (slot_check(node, params, e) < 0)
		return -1;
	if (user != NULL) {
		snprintf(script, sizeof(script),
		    "user set name %s %s\n"
		    "user set password %s %s\n"
		    "user priv %s 3 %s\n"
		    "channel setaccess %s %s callin=on ipmi=on link=on "
		    "privilege=3\n"
		    "user enable %s\n", BMC_SLOT, user, BMC_SLOT, pw, BMC_SLOT,
		    BMC_CHANNEL, BMC_CHANNEL, BMC_SLOT, BMC_SLOT);
		return run_script(pd, node, params, script, pw, e);
	}
	if (pw_random(junk, e) < 0)
		return -1;
	snprintf(script, sizeof(script),
	    "user set password %s %s\n"
	    "user disable %s\n", BMC_SLOT, junk, BMC_SLOT);
	return run_script(pd, node, params, script, junk, e);
}

/* One claimed row. */
struct bmc_job {
	char node_id[24], name[64], want[24], tries[16];
	json_t *params;
};

static int
bmc_claim(PGconn *db, struct bmc_job *j)
{
	char lease[16];
	const char *params[1] = { lease };
	PGresult *r;
	int rc;

	snprintf(lease, sizeof(lease), "%d", BMC_LEASE_SEC);
	r = db_query(db, "WITH c AS (SELECT a.node_id, bmc_want(a.node_id) "
	    "AS want FROM bmc_accounts a JOIN nodes n ON n.id = a.node_id "
	    "WHERE n.power_driver = 'ipmi' AND (a.lease_until IS NULL OR "
	    "a.lease_until < now()) AND a.next_at <= now() AND (NOT a.known "
	    "OR a.reservation_id IS DISTINCT FROM bmc_want(a.node_id)) "
	    "ORDER BY a.node_id LIMIT 1 FOR UPDATE OF a SKIP LOCKED) "
	    "UPDATE bmc_accounts a SET lease_until = now() + make_interval("
	    "secs => $1::integer), tries = a.tries + 1 FROM c, nodes n WHERE "
	    "a.node_id = c.node_id AND n.id = a.node_id RETURNING a.node_id, "
	    "n.name, n.power_params::text, coalesce(c.want::text, ''), "
	    "a.tries", 1, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_warnx("bmc: database error: %s", PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	if ((rc = PQntuples(r) == 1)) {
		snprintf(j->node_id, sizeof(j->node_id), "%s",
		    PQgetvalue(r, 0, 0));
		snprintf(j->name, sizeof(j->name), "%s", PQgetvalue(r, 0, 1));
		j->params = json_loads(PQgetvalue(r, 0, 2), 0, NULL);
		snprintf(j->want, sizeof(j->want), "%s", PQgetvalue(r, 0, 3));
		snprintf(j->tries, sizeof(j->tries), "%s", PQgetvalue(r, 0, 4));
	}
	PQclear(r);
	return rc;
}

/* The outcome recorded (only for the claim this pipold holds: same
 * try), and its event; never a password. */
static void
bmc_finish(struct pipold *pd, const struct bmc_job *j, const char *salt,
    int ok, const char *err)
{
	char backoff[16];
	const char *params[4] = { j->node_id, j->tries, *j->want ? j->want :
	    NULL, salt };
	const char *fparams[4] = { j->node_id, j->tries, err, backoff };
	int tries = atoi(j->tries);
	PGresult *r;
	PGconn *db;

	snprintf(backoff, sizeof(backoff), "%d", tries >= 1 && tries < 6 &&
	    BMC_BACKOFF_SEC << (tries - 1) < BMC_BACKOFF_MAX_SEC ?
	    BMC_BACKOFF_SEC << (tries - 1) : BMC_BACKOFF_MAX_SEC);
	if ((db = db_get(pd)) == NULL) {
		log_warnx("bmc: node %s: not recorded (database unavailable)",
		    j->name);
		return;
	}
	if (ok)
		r = db_query(db, "UPDATE bmc_accounts SET known = true, "
		    "reservation_id = $3::bigint, salt = decode(nullif($4, ''), "
		    "'hex'), applied = now(), lease_until = NULL, tries = 0, "
		    "next_at = '-infinity', last_error = NULL WHERE node_id = $1 "
		    "AND tries = $2", 4, params);
	else
		r = db_query(db, "UPDATE bmc_accounts SET lease_until = NULL, "
		    "last_error = $3, next_at = now() + make_interval(secs => "
		    "$4::integer) WHERE node_id = $1 AND tries = $2", 4,
		    fparams);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		log_warnx("bmc: node %s: not recorded: %s", j->name,
		    PQresultErrorMessage(r));
	PQclear(r);
	log_info("bmc: node %s: account %s%s: %s", j->name, *j->want ?
	    "enabled for reservation " : "disabled", j->want, ok ? "done" :
	    err);
	db_event(db, "pipold", "node.bmc", json_pack("{s:s, s:s, s:s, s:s}",
	    "node", j->name, "action", *j->want ? "enable" : "disable",
	    "reservation", j->want, "result", ok ? "done" : err));
	db_put(pd, db);
}

/* Act on one claimed row, with no connection held. */
static void
bmc_act(struct pipold *pd, struct bmc_job *j)
{
	char user[BMC_USER_MAX + 1], pw[BMC_PW_LEN + 1];
	char salt_hex[2 * BMC_SALT_BYTES + 1];
	uint8_t salt[BMC_SALT_BYTES];
	struct perr e;
	int i, rc;

	salt_hex[0] = '\0';
	if (j->params == NULL) {
		bmc_finish(pd, j, "", 0, "power_params unreadable");
		return;
	}
	if (*j->want == '\0') {
		rc = slot_set(pd, j->name, j->params, NULL, NULL, &e);
	} else {
		if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt)) {
			bmc_finish(pd, j, "", 0, "getrandom failed");
			return;
		}
		for (i = 0; i < BMC_SALT_BYTES; i++)
			snprintf(salt_hex + 2 * i, 3, "%02x", salt[i]);
		rc = bmc_account(pd, j->want, j->node_id, salt_hex, user, pw,
		    &e);
		if (rc == 0)
			rc = slot_set(pd, j->name, j->params, user, pw, &e);
		explicit_bzero(pw, sizeof(pw));
	}
	bmc_finish(pd, j, salt_hex, rc == 0, rc == 0 ? "" : e.msg);
}

static void
bmc_turn(struct pipold *pd)
{
	struct bmc_job j;
	PGresult *r;
	PGconn *db;
	int i, got;

	if ((db = db_get(pd)) == NULL)
		return;
	r = db_query(db, "INSERT INTO bmc_accounts (node_id) SELECT id FROM "
	    "nodes WHERE power_driver = 'ipmi' ON CONFLICT DO NOTHING", 0,
	    NULL);
	PQclear(r);
	db_put(pd, db);
	for (i = 0; i < BMC_BATCH; i++) {
		if ((db = db_get(pd)) == NULL)
			return;
		memset(&j, 0, sizeof(j));
		got = bmc_claim(db, &j);
		db_put(pd, db);
		if (got <= 0)
			return;
		bmc_act(pd, &j);
		json_decref(j.params);
	}
}

static pthread_t bmc_thread;
static pthread_mutex_t bmc_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bmc_wake = PTHREAD_COND_INITIALIZER;
static int bmc_stopping;	/* under bmc_lock */

static void *
bmc_main(void *arg)
{
	struct pipold *pd = arg;
	struct timespec until;

	pthread_mutex_lock(&bmc_lock);
	while (!bmc_stopping) {
		pthread_mutex_unlock(&bmc_lock);
		bmc_turn(pd);
		pthread_mutex_lock(&bmc_lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += BMC_TICK_SEC;
		while (!bmc_stopping && pthread_cond_timedwait(&bmc_wake,
		    &bmc_lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&bmc_lock);
	return NULL;
}

int
bmc_start(struct pipold *pd, struct perr *e)
{
	if (key_get(pd, e) < 0)
		return -1;
	if (pthread_create(&bmc_thread, NULL, bmc_main, pd) != 0)
		return perr_set(e, PE_FAIL, "cannot start the BMC thread");
	return 0;
}

void
bmc_stop(void)
{
	pthread_mutex_lock(&bmc_lock);
	bmc_stopping = 1;
	pthread_cond_signal(&bmc_wake);
	pthread_mutex_unlock(&bmc_lock);
	pthread_join(bmc_thread, NULL);
}

/* One rotation at a time in this pipold: two would race on the file. */
static pthread_mutex_t rotate_mu = PTHREAD_MUTEX_INITIALIZER;

static int
rotate_locked(struct pipold *pd, const char *node, const json_t *params,
    char *msg, size_t msglen, struct perr *e)
{
	const char *file = json_string_value(json_object_get(params,
	    "password_file"));
	const char *user = json_string_value(json_object_get(params, "user"));
	char tmp[PATH_MAX], pw[BMC_PW_LEN + 2], script[128], slot[32];
	int id, fd, rc;

	if (user_list(node, params, user, slot, &id, e) < 0)
		return -1;
	if (id == 0)
		return perr_set(e, PE_CONFLICT, "node %s: BMC user \"%s\": "
		    "not in its user list", node, user);
	if (id == atoi(BMC_SLOT))
		return perr_set(e, PE_CONFLICT, "node %s: BMC user \"%s\" is "
		    "in pipol's slot %s", node, user, BMC_SLOT);
	if (pw_random(pw, e) < 0)
		return -1;
	/* the new password on disk (beside the file) before the BMC has
	 * it: a crash in between leaves it in FILE.new, not lost */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new", file) >= sizeof(tmp))
		return perr_set(e, PE_USAGE, "node %s: password_file: too "
		    "long", node);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600))
	    == -1)
		return perr_errno(e, PE_FAIL, "node %s: %s", node, tmp);
	pw[BMC_PW_LEN] = '\n';
	rc = write_all(fd, pw, BMC_PW_LEN + 1) < 0 || fsync(fd) == -1;
	pw[BMC_PW_LEN] = '\0';
	close(fd);
	if (rc) {
		unlink(tmp);
		return perr_errno(e, PE_FAIL, "node %s: %s", node, tmp);
	}
	snprintf(script, sizeof(script), "user set password %d %s\n", id, pw);
	rc = run_script(pd, node, params, script, pw, e);
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(script, sizeof(script));
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	if (rename(tmp, file) == -1)
		return perr_errno(e, PE_FAIL, "node %s: the BMC has the new "
		    "password, in %s: rename to %s", node, tmp, file);
	atomic_fsync_dir(file, e);
	snprintf(msg, msglen, "BMC user %s (id %d): new password in %s", user,
	    id, file);
	return 0;
}

int
bmc_rotate_admin(struct pipold *pd, const char *node, const json_t *params,
    char *msg, size_t msglen, struct perr *e)
{
	int rc;

	pthread_mutex_lock(&rotate_mu);
	rc = rotate_locked(pd, node, params, msg, msglen, e);
	pthread_mutex_unlock(&rotate_mu);
	return rc;
}
