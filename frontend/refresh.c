/*
 * refresh.c -- image refresh (refresh.h, schema 018). The database
 * holds the state machine; each turn of the job thread:
 *
 *   refresh_sync()      deploy and update-test follow the refresh's job
 *                       run; capture follows its capture deployment
 *   refresh_capture()   update-test passed: a capture deployment of the
 *                       same node, under the same reservation
 *                       (capture_start, api_capture.c)
 *   refresh_validate()  the capture made a draft: validated, its chunks
 *                       compared with the old version's, promoted with
 *                       --promote; then the refresh ends
 *   refresh_due()       weekly schedules whose week is over: a refresh
 *
 * The store steps run here, not in SQL, because the store is files.
 * Every refusal is recorded as the step's reason; nothing is retried
 * blindly (a failed refresh is over, the old current stays).
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "perr.h"
#include "pimg.h"
#include "pipold.h"
#include "refresh.h"
#include "store.h"

const char refresh_update_default[] =
    "if command -v apt-get >/dev/null 2>&1; then apt-get update && "
    "DEBIAN_FRONTEND=noninteractive apt-get -y upgrade; "
    "elif command -v dnf >/dev/null 2>&1; then dnf -y upgrade; "
    "else echo 'pipol-refresh: no apt-get or dnf' >&2; exit 1; fi";
/* a user-style smoke command, and an SSH server listening (port 22,
 * state 0A: read from /proc, whatever tools the image has) */
const char refresh_test_default[] =
    "su -s /bin/sh nobody -c 'id && ls / > /dev/null' && "
    "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '$2 ~ /:0016$/ "
    "&& $4 == \"0A\" { f = 1 } END { exit !f }'";

/* A failed statement as a perr: our PPnnn codes keep their meaning. */
static int
sql_perr(PGresult *r, struct perr *e)
{
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	int code = PE_UNAVAIL;

	if (st != NULL && strcmp(st, "PP409") == 0)
		code = PE_CONFLICT;
	else if (st != NULL && strcmp(st, "PP403") == 0)
		code = PE_DENIED;
	else if (st != NULL && strcmp(st, "PP404") == 0)
		code = PE_NOTFOUND;
	return perr_set(e, code, "%s", msg ? msg : "database error");
}

/* image's current version into *v; 0, or -code with e */
static int
current_of(struct pipold *pd, const char *image, unsigned *v,
    struct perr *e)
{
	struct store_image img;
	struct store *s;
	int rc;

	if ((rc = store_open(pd->state, STORE_SHARED_NOWAIT, &s, e)) < 0)
		return rc;
	rc = store_image_get(s, image, &img, e);
	store_close(s);
	if (rc < 0)
		return rc;
	*v = img.current;
	store_image_clear(&img);
	if (*v == 0)
		return perr_set(e, PE_NOTFOUND, "image %s: no current version "
		    "to refresh", image);
	return 0;
}

int
refresh_new(struct pipold *pd, PGconn *db, long long uid,
    const struct refresh_req *q, char *id, unsigned *from, struct perr *e)
{
	const char *params[8];
	char u[24], v[16];
	PGresult *r;
	int rc;

	if ((rc = current_of(pd, q->image, from, e)) < 0)
		return rc;
	snprintf(u, sizeof(u), "%lld", uid);
	snprintf(v, sizeof(v), "%u", *from);
	params[0] = u;
	params[1] = q->image;
	params[2] = v;
	params[3] = q->profile;
	params[4] = q->update ? q->update : refresh_update_default;
	params[5] = q->test ? q->test : refresh_test_default;
	params[6] = q->promote ? "t" : "f";
	params[7] = q->scheduled ? "t" : "f";
	r = db_query(db, "SELECT refresh_submit($1, $2, $3, $4, $5, $6, $7, "
	    "$8)", 8, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = sql_perr(r, e);
	else
		snprintf(id, 24, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	if (rc == 0)
		log_info("refresh %s: %s:%u", id, q->image, *from);
	return rc;
}

/* Step st of refresh rid failed: recorded, the refresh over as failed. */
static void
refresh_fail(PGconn *db, const char *rid, const char *st, const char *why)
{
	const char *params[3] = { rid, st, why };
	PGresult *r;

	r = db_query(db, "SELECT refresh_step($1, $2, 'failed', $3, now(), "
	    "NULL), refresh_end($1, 'failed', $2 || ': ' || $3)", 3, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		log_warnx("refresh %s: %s", rid, PQresultErrorMessage(r));
	PQclear(r);
	log_warnx("refresh %s: %s: %s", rid, st, why);
}

/* update-test passed: the node's disk captured, under the job's
 * reservation (so that its end ends the capture too). */
static void
refresh_capture(struct pipold *pd, PGconn *db, PGresult *r, int i)
{
	const char *rid = PQgetvalue(r, i, 0), *params[2];
	char *reply = NULL, dep[24];
	struct http_fail f;
	json_t *o;
	PGresult *u;

	if (capture_start(pd, db, PQgetvalue(r, i, 2), PQgetvalue(r, i, 1),
	    PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), &reply, &f) < 0) {
		refresh_fail(db, rid, "capture", f.msg);
		return;
	}
	o = json_loads(reply, 0, NULL);
	free(reply);
	snprintf(dep, sizeof(dep), "%lld", (long long)json_integer_value(
	    json_object_get(o, "capture")));
	json_decref(o);
	params[0] = rid;
	params[1] = dep;
	u = db_query(db, "UPDATE refreshes SET capture_id = $2 WHERE id = $1",
	    2, params);
	if (PQresultStatus(u) != PGRES_COMMAND_OK)
		log_warnx("refresh %s: %s", rid, PQresultErrorMessage(u));
	else
		log_info("refresh %s: capturing %s (deployment %s)", rid,
		    PQgetvalue(r, i, 2), params[1]);
	PQclear(u);
}

/* How many of b's chunks a already holds (by hash; both sorted would
 * be faster, but an index has at most a few thousand chunks). */
static unsigned
chunks_shared(const struct pimg_index *a, const struct pimg_index *b)
{
	unsigned i, j, n = 0;

	for (i = 0; i < b->nchunks; i++)
		for (j = 0; j < a->nchunks; j++)
			if (memcmp(b->e[i].hash, a->e[j].hash, HASH_BYTES) == 0) {
				n++;
				break;
			}
	return n;
}

/* The packages of from against to's, in one line for the history */
static void
packages_line(struct store *s, const char *image, unsigned from,
    unsigned to, char *buf, size_t len)
{
	struct pkg_diff d;
	struct perr e;
	size_t n;

	if (store_packages_diff(s, image, from, to, &d, &e) < 0) {
		snprintf(buf, len, "packages not compared: %s", e.msg);
		return;
	}
	n = (size_t)snprintf(buf, len, "packages: %u newer", d.newer);
	if (d.newer > 0 && n < len)
		n += (size_t)snprintf(buf + n, len - n, " (%s)",
		    d.newer_names + 1);
	if (d.added > 0 && n < len)
		n += (size_t)snprintf(buf + n, len - n, ", %u new (%s)",
		    d.added, d.added_names + 1);
	if (d.gone > 0 && n < len)
		n += (size_t)snprintf(buf + n, len - n, ", %u gone (%s)",
		    d.gone, d.gone_names + 1);
	if (d.older > 0 && n < len)
		n += (size_t)snprintf(buf + n, len - n, ", %u older (%s)",
		    d.older, d.older_names + 1);
	if (n < len)
		snprintf(buf + n, len - n, ", %u the same", d.same);
}

/* The store's part: to validated, its figure and packages against
 * from's, promoted if asked. */
static int
refresh_store(struct pipold *pd, const char *image, unsigned from,
    unsigned to, int promote, unsigned *n, unsigned *shared, char *pkgs,
    size_t plen, int *step, struct perr *e)
{
	struct pimg_index *a = NULL, *b = NULL;
	struct store *s;
	int rc;

	*step = 0;
	if ((rc = store_open(pd->state, STORE_SHARED_NOWAIT, &s, e)) < 0)
		return rc;
	if ((rc = store_load(s, image, from, &a, e)) < 0 ||
	    (rc = store_load(s, image, to, &b, e)) < 0 ||
	    (rc = store_validate(s, image, to, e)) < 0)
		goto out;
	*n = b->nchunks;
	*shared = chunks_shared(a, b);
	packages_line(s, image, from, to, pkgs, plen);
	*step = 1;
	if (promote)
		rc = store_promote(s, image, to, e);
 out:
	pimg_index_free(a);
	pimg_index_free(b);
	store_close(s);
	return rc;
}

/* The capture made a draft: validate, the figure, promote; the end. */
static void
refresh_validate(struct pipold *pd, PGconn *db, PGresult *r, int i)
{
	const char *rid = PQgetvalue(r, i, 0), *image = PQgetvalue(r, i, 1);
	unsigned from = strtoul(PQgetvalue(r, i, 2), NULL, 10);
	unsigned to = strtoul(PQgetvalue(r, i, 3), NULL, 10), n = 0, sh = 0;
	int promote = PQgetvalue(r, i, 4)[0] == 't', step;
	char cn[16], cs[16], pk[700] = "";
	const char *params[5] = { rid, cn, cs, promote ? "t" : "f", pk };
	struct perr e;
	PGresult *u;

	if (refresh_store(pd, image, from, to, promote, &n, &sh, pk,
	    sizeof(pk), &step, &e) < 0) {
		if (step == 0)
			refresh_fail(db, rid, "validate", e.msg);
		else {
			PQclear(db_query(db, "SELECT refresh_step($1, "
			    "'validate', 'ok', NULL, now(), 'promote')", 1,
			    params));
			refresh_fail(db, rid, "promote", e.msg);
		}
		return;
	}
	snprintf(cn, sizeof(cn), "%u", n);
	snprintf(cs, sizeof(cs), "%u", sh);
	u = db_query(db, "SELECT refresh_validated($1, $2, $3, $4, $5)", 5,
	    params);
	if (PQresultStatus(u) != PGRES_TUPLES_OK)
		log_warnx("refresh %s: %s", rid, PQresultErrorMessage(u));
	PQclear(u);
	log_info("refresh %s: %s:%u %s, %u of %u chunks shared with %s:%u; "
	    "%s", rid, image, to, promote ? "promoted" : "validated", sh, n,
	    image, from, pk);
}

/* Weekly schedules whose week is over: a new refresh each (one that
 * cannot start now, e.g. another runs, waits for the next turn). */
static void
refresh_due(struct pipold *pd, PGconn *db)
{
	struct refresh_req q = { .scheduled = 1 };
	char id[24], secs[24];
	const char *params[1] = { secs };
	unsigned from;
	struct perr e;
	PGresult *r;
	int i;

	snprintf(secs, sizeof(secs), "%d", REFRESH_EVERY_SEC);
	r = db_query(db, "SELECT image, user_id, profile, update_cmd, "
	    "test_cmd, promote FROM refresh_schedules s WHERE last_at <= "
	    "now() - make_interval(secs => $1::integer) AND NOT EXISTS "
	    "(SELECT 1 FROM refreshes f WHERE f.image = s.image AND f.state "
	    "= 'running') ORDER BY image LIMIT 8", 1, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		log_warnx("refresh: schedules: %s", PQresultErrorMessage(r));
	for (i = 0; PQresultStatus(r) == PGRES_TUPLES_OK &&
	    i < PQntuples(r); i++) {
		q.image = PQgetvalue(r, i, 0);
		q.profile = PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2);
		q.update = PQgetvalue(r, i, 3);
		q.test = PQgetvalue(r, i, 4);
		q.promote = PQgetvalue(r, i, 5)[0] == 't';
		/* a week from now, whatever came of this one */
		PQclear(db_query(db, "UPDATE refresh_schedules SET last_at = "
		    "now() WHERE image = $1", 1, &q.image));
		if (refresh_new(pd, db, strtoll(PQgetvalue(r, i, 1), NULL, 10),
		    &q, id, &from, &e) < 0)
			log_warnx("refresh: schedule of %s: %s", q.image, e.msg);
	}
	PQclear(r);
}

void
refresh_turn(struct pipold *pd, PGconn *db)
{
	PGresult *r;
	int i;

	r = db_query(db, "SELECT refresh_sync()", 0, NULL);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		log_warnx("refresh: %s", PQresultErrorMessage(r));
	PQclear(r);
	r = db_query(db, "SELECT f.id, f.image, f.node, f.user_id, "
	    "jr.reservation_id FROM refreshes f JOIN job_runs jr ON jr.job_id "
	    "= f.job_id WHERE f.state = 'running' AND f.step = 'capture' AND "
	    "f.capture_id IS NULL ORDER BY f.id", 0, NULL);
	for (i = 0; PQresultStatus(r) == PGRES_TUPLES_OK &&
	    i < PQntuples(r); i++)
		refresh_capture(pd, db, r, i);
	PQclear(r);
	r = db_query(db, "SELECT id, image, from_version, to_version, "
	    "promote FROM refreshes WHERE state = 'running' AND step = "
	    "'validate' ORDER BY id", 0, NULL);
	for (i = 0; PQresultStatus(r) == PGRES_TUPLES_OK &&
	    i < PQntuples(r); i++)
		refresh_validate(pd, db, r, i);
	PQclear(r);
	refresh_due(pd, db);
}
