/*
 * api_deploy.c -- deployments, as users ask for them and watch them:
 *
 *   POST /api/deployments   {"nodes": [...], "image": "NAME[:V]",
 *                            "reservation": ID, "bare": bool,
 *                            "seconds": N, "kexec": bool}
 *   GET  /api/deployments[?id=N]   yours (admins: everyone's), newest
 *                                  first, with every state's time and
 *                                  the timeline of its phases (011)
 *
 * A user deploys only onto nodes of their own running reservation: the
 * one named, else one of theirs holding every node asked, else an
 * immediate one taken now when the nodes are free (seconds: how long,
 * default an hour). The deployments are created in one transaction, the
 * nodes switched to boot_mode deploy, then power-cycled (power_deploy,
 * which a capture uses too); from there the node's agent drives the
 * state (agent_api.c). Users deploy validated image versions only, and
 * never --bare (no post-install): both are admins' (docs/admin.md, "Who
 * may use what"). "kexec": false (pipol deploy --no-kexec, schema 013)
 * makes the node reboot through its firmware after the write; true, the
 * default, can only keep what the node's own setting allows (the order
 * says kexec when both are on).
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "console.h"	/* console */
#include "hash.h"
#include "log.h"
#include "perr.h"
#include "pipold.h"
#include "power.h"
#include "resv_end.h"
#include "store.h"
#include "vm.h"

#define DEPLOY_DEFAULT_SECS	3600

/* What the store says of NAME[:V]: its version and disk. */
struct image_ref {
	char name[STORE_NAME_MAX + 1];
	unsigned version;
	uint64_t disk_size;
	char disk_hash[HASH_HEX];
};

/*
 * What a user (not an admin) may deploy: validated versions only. NAME
 * alone is the current version, else the newest validated one; a
 * draft named NAME:VERSION is refused (admins deploy drafts: they test
 * them). Fills *version.
 */
static int
image_validated(struct store *s, const char *name, unsigned *version,
    struct perr *e)
{
	struct store_image img;
	struct store_version *v = NULL;
	size_t i;
	int rc;

	if ((rc = store_image_get(s, name, &img, e)) < 0)
		return rc;
	if (*version != 0)
		v = store_image_find(&img, *version);
	else if (img.current != 0)
		v = store_image_find(&img, img.current);
	else
		for (i = img.nv; i-- > 0 && v == NULL; )
			if (img.v[i].state == VS_VALIDATED)
				v = &img.v[i];
	if (v == NULL && *version != 0)
		rc = perr_set(e, PE_NOTFOUND, "image %s:%u: no such version",
		    name, *version);
	else if (v == NULL)
		rc = perr_set(e, PE_NOTFOUND, "image %s: no validated version",
		    name);
	else if (v->state != VS_VALIDATED)
		rc = perr_set(e, PE_DENIED, "image %s:%u is a draft; only "
		    "admins deploy drafts", name, v->version);
	else
		*version = v->version;
	store_image_clear(&img);
	return rc;
}

static int
image_lookup(struct pipold *pd, const char *ref, int admin,
    struct image_ref *im, struct perr *e)
{
	struct pimg_index *ix = NULL;
	struct store *s;
	int rc;

	if ((rc = store_ref_parse(ref, im->name, &im->version, e)) < 0)
		return rc;
	if ((rc = store_open(pd->state, STORE_SHARED_NOWAIT, &s, e)) < 0)
		return rc;
	if ((rc = admin ? store_resolve(s, im->name, &im->version, e) :
	    image_validated(s, im->name, &im->version, e)) == 0 &&
	    (rc = store_load(s, im->name, im->version, &ix, e)) == 0) {
		im->disk_size = ix->disk_size;
		hash_hex(ix->disk_hash, im->disk_hash);
	}
	pimg_index_free(ix);
	store_close(s);
	return rc;
}

/* A deployment request, checked, and what its transaction made. */
struct deploy {
	const struct caller *who;
	json_t *o;		/* the request */
	const char *arr;	/* its nodes, a PostgreSQL array literal */
	int nnodes;
	struct image_ref im;
	char rid[24];		/* the reservation */
	char *reply;		/* committed: the answer */
	struct http_fail f;	/* refused: why */
};

/*
 * Reservation id, now locked (FOR UPDATE: a release or an expiry waits
 * for this transaction, or went first), looked at again with what is
 * committed now: still running, still holding all nnodes of arr. 1
 * when it is, 0 when not, -1 or DB_TX_RETRY with *f saying why.
 * Without the lock a release committed between the check and the
 * insert left a deployment in flight under a released reservation,
 * which the next holder's node then installed.
 */
static int
resv_recheck(PGconn *db, const char *id, const char *arr, const char *n,
    struct http_fail *f)
{
	const char *params[3] = { id, arr, n };
	PGresult *r;
	int rc;

	r = db_query(db, "SELECT 1 FROM reservations r WHERE r.id = $1 AND "
	    "reservation_state(r) = 'running' AND (SELECT count(*) FROM "
	    "reservation_nodes rn JOIN nodes nd ON nd.id = rn.node_id WHERE "
	    "rn.reservation_id = r.id AND rn.live AND nd.name = ANY "
	    "($2::text[])) = $3", 3, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = http_fail_sql(f, r, "deploy");
	else
		rc = PQntuples(r) == 1;
	PQclear(r);
	return rc;
}

/*
 * The reservation these nodes (a PostgreSQL array literal) are deployed
 * under: the one given, which must be the caller's, running, and hold
 * them all; else a running one of the caller's that holds them all.
 * 0 and its id; 1 when there is none (and none was given); -1 or
 * DB_TX_RETRY with *f saying why.
 */
static int
resv_for(PGconn *db, const struct caller *who, const char *arr, int nnodes,
    json_t *given, char *id, size_t idlen, struct http_fail *f)
{
	char uid[24], want[24], n[16];
	const char *params[4] = { uid, arr, n, want };
	PGresult *r;
	int found;

	snprintf(uid, sizeof(uid), "%lld", who->id);
	snprintf(n, sizeof(n), "%d", nnodes);
	snprintf(want, sizeof(want), "%lld", given ?
	    (long long)json_integer_value(given) : 0LL);
	r = db_query(db, "SELECT r.id FROM reservations r JOIN users u ON "
	    "u.id = $1 WHERE (r.user_id = u.id OR (u.is_admin AND $4 <> 0)) "
	    "AND ($4 = 0 OR r.id = $4) AND reservation_state(r) = 'running' "
	    "AND (SELECT count(*) FROM reservation_nodes rn JOIN nodes nd ON "
	    "nd.id = rn.node_id WHERE rn.reservation_id = r.id AND rn.live "
	    "AND nd.name = ANY ($2::text[])) = $3 ORDER BY r.id LIMIT 1 "
	    "FOR UPDATE OF r", 4, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		found = http_fail_sql(f, r, "deploy");
		PQclear(r);
		return found;
	}
	found = PQntuples(r) == 1;
	if (found)
		snprintf(id, idlen, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	if (found && (found = resv_recheck(db, id, arr, n, f)) < 0)
		return found;
	if (found)
		return 0;
	if (given == NULL)
		return 1;
	return http_fail_set(f, MHD_HTTP_FORBIDDEN, "these nodes are not all "
	    "in a running reservation of yours");
}

/* ["n1","n2"] (names checked: a-z 0-9 -) as {n1,n2}; NULL when bad */
static char *
node_array(json_t *a, int *n)
{
	size_t i, len = 3;
	const char *p;
	json_t *v;
	char *out;

	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > 1024)
		return NULL;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > 63)
			return NULL;
		for (p = json_string_value(v); *p; p++)
			if (!(*p == '-' || (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9')))
				return NULL;
		len += json_string_length(v) + 1;
	}
	if ((out = malloc(len)) == NULL)
		return NULL;
	len = 0;
	out[len++] = '{';
	json_array_foreach(a, i, v) {
		memcpy(out + len, json_string_value(v), json_string_length(v));
		len += json_string_length(v);
		out[len++] = ',';
	}
	out[len - 1] = '}';
	out[len] = '\0';
	*n = (int)json_array_size(a);
	return out;
}

/*
 * One transaction (db_tx, which may run it again): the reservation
 * taken now (if any), every deployment, every node's boot mode; all or
 * nothing.
 */
static int
deploy_tx(PGconn *db, void *arg)
{
	struct deploy *d = arg;
	char uid[24], ver[16], size[24];
	const char *params[9];
	json_t *o = d->o, *req;
	PGresult *r;
	int k;

	if ((k = resv_for(db, d->who, d->arr, d->nnodes, json_object_get(o,
	    "reservation"), d->rid, sizeof(d->rid), &d->f)) < 0)
		return k;
	if (k == 1) {
		req = json_pack("{s:O, s:I}", "nodes", json_object_get(o,
		    "nodes"), "seconds", json_object_get(o, "seconds") ?
		    json_integer_value(json_object_get(o, "seconds")) :
		    DEPLOY_DEFAULT_SECS);
		k = resv_take(db, d->who, req, d->rid, sizeof(d->rid), &d->f);
		json_decref(req);
		if (k < 0)
			return k;
	}
	/* a previous holder's power-off still queued: dropped, or wait */
	if ((k = resv_end_deploy(db, d->arr, &d->f)) < 0)
		return k;
	snprintf(uid, sizeof(uid), "%lld", d->who->id);
	snprintf(ver, sizeof(ver), "%u", d->im.version);
	snprintf(size, sizeof(size), "%llu",
	    (unsigned long long)d->im.disk_size);
	params[0] = d->arr;
	params[1] = d->rid;
	params[2] = d->im.name;
	params[3] = ver;
	params[4] = uid;
	params[5] = json_is_true(json_object_get(o, "bare")) ? "t" : "f";
	params[6] = size;
	params[7] = d->im.disk_hash;
	params[8] = json_is_false(json_object_get(o, "kexec")) ? "f" : "t";
	r = db_query(db, "WITH d AS (INSERT INTO deployments (node_id, "
	    "reservation_id, image_name, image_version, user_id, bare, "
	    "bytes_total, disk_hash, kexec) SELECT id, $2, $3, $4, $5, $6, $7, "
	    "decode($8, 'hex'), $9 FROM nodes WHERE name = ANY ($1::text[]) "
	    "RETURNING id, node_id), t AS (INSERT INTO deployment_transitions "
	    "(deployment_id, state) SELECT id, 'pending' FROM d), n AS (UPDATE "
	    "nodes SET boot_mode = 'deploy' WHERE id IN (SELECT node_id FROM "
	    "d)) SELECT json_build_object('reservation', $2::bigint, "
	    "'image', $3 || ':' || $4, 'deployments', json_agg("
	    "json_build_object('id', d.id, 'node', nd.name) ORDER BY nd.name)) "
	    "FROM d JOIN nodes nd ON nd.id = d.node_id", 9, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		if (st && strcmp(st, "23505") == 0)
			k = http_fail_set(&d->f, MHD_HTTP_CONFLICT, "deploy: a "
			    "deployment is already in flight on one of these "
			    "nodes");
		else
			k = http_fail_sql(&d->f, r, "deploy");
		PQclear(r);
		return k;
	}
	free(d->reply);		/* from a run that was undone */
	d->reply = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return d->reply != NULL ? 0 :
	    http_fail_set(&d->f, MHD_HTTP_SERVICE_UNAVAILABLE, "deploy: out "
	    "of memory");
}

enum MHD_Result
api_deploy_add(struct http_req *rq)
{
	struct MHD_Connection *c = rq->c;
	struct deploy d = { .who = &rq->who, .o = rq->o };
	json_t *o = rq->o, *given, *ro;
	char *arr = NULL;
	enum MHD_Result rc;
	struct perr e;
	int tx;

	given = json_object_get(o, "reservation");
	if (!json_is_string(json_object_get(o, "image")) ||
	    (given && (!json_is_integer(given) ||
	    json_integer_value(given) < 1)) ||
	    (json_object_get(o, "bare") &&
	    !json_is_boolean(json_object_get(o, "bare"))) ||
	    (json_object_get(o, "seconds") &&
	    !json_is_integer(json_object_get(o, "seconds"))) ||
	    (json_object_get(o, "kexec") &&
	    !json_is_boolean(json_object_get(o, "kexec"))) ||
	    (arr = node_array(json_object_get(o, "nodes"), &d.nnodes)) == NULL)
		return http_error(c, MHD_HTTP_BAD_REQUEST, "want \"nodes\": "
		    "[names], \"image\": \"NAME[:VERSION]\"; optional "
		    "\"reservation\": ID, \"bare\": bool, \"seconds\": N, "
		    "\"kexec\": bool");
	d.arr = arr;
	/* no post-install: no site scripts (their setup, their rules) */
	if (json_is_true(json_object_get(o, "bare")) && !rq->who.admin) {
		free(arr);
		return http_error(c, MHD_HTTP_FORBIDDEN, "--bare: admins only");
	}
	if (image_lookup(rq->pd, json_string_value(json_object_get(o,
	    "image")), rq->who.admin, &d.im, &e) < 0) {
		free(arr);
		return http_perr(c, &e);
	}
	/* what is said when the runs run out on a COMMIT */
	http_fail_set(&d.f, MHD_HTTP_CONFLICT, "deploy: conflicts with "
	    "another request, try again");
	if ((tx = db_tx(rq->db, deploy_tx, &d)) < 0) {
		if (tx == DB_TX_FAILED)
			http_fail_set(&d.f, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "deploy: database error");
		rc = http_fail_send(c, &d.f);
		goto out;
	}
	ro = json_loads(d.reply, 0, NULL);
	db_event(rq->db, rq->who.name, "deploy.add", json_pack("{s:O, s:s, "
	    "s:s}", "nodes", json_object_get(o, "nodes"), "image",
	    json_string_value(json_object_get(ro, "image")), "reservation",
	    d.rid));
	json_decref(ro);
	power_deploy(rq->pd, rq->db, arr);
	rc = http_reply(c, MHD_HTTP_CREATED, "application/json", d.reply);
 out:
	free(d.reply);
	free(arr);
	return rc;
}

/*
 * GET of a list the caller owns (deployments, jobs): sql takes $1 the
 * caller's id, $2 whether every user's rows are wanted, $3 the ?id=
 * asked for (0: all) and answers one JSON document; a ?id= that is not
 * in it is "no such <notfound> of yours".
 */
enum MHD_Result
api_owned_list(struct http_req *rq, const char *sql, int everyone,
    const char *what, const char *notfound)
{
	struct MHD_Connection *c = rq->c;
	const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	    "id");
	const char *params[3];
	char uid[24], msg[80];
	enum MHD_Result rc;
	PGresult *r;

	if (id != NULL && (strlen(id) == 0 || strlen(id) > 18 ||
	    strspn(id, "0123456789") != strlen(id)))
		return http_error(c, MHD_HTTP_BAD_REQUEST, "id: a number");
	snprintf(uid, sizeof(uid), "%lld", rq->who.id);
	params[0] = uid;
	params[1] = everyone ? "t" : "f";
	params[2] = id ? id : "0";
	r = db_query(rq->db, sql, 3, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = http_sql_error(c, r, what);
	else if (id != NULL && strstr(PQgetvalue(r, 0, 0), "\"id\"") == NULL)
		rc = (snprintf(msg, sizeof(msg), "no such %s of yours",
		    notfound), http_error(c, MHD_HTTP_NOT_FOUND, msg));
	else
		rc = http_reply(c, MHD_HTTP_OK, "application/json",
		    PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

enum MHD_Result
api_deploy_list(struct http_req *rq)
{
	return api_owned_list(rq, "SELECT json_build_object('deployments', "
	    "coalesce("
	    "json_agg(json_build_object('id', d.id, 'node', n.name, 'user', "
	    "u.name, 'image', d.image_name || coalesce(':' || "
	    "d.image_version, ''), 'kind', d.kind, 'state', d.state, "
	    "'reason', d.reason, 'fetched', d.bytes_fetched, 'written', "
	    "d.bytes_written, 'total', d.bytes_total, 'reservation', "
	    "d.reservation_id, 'created', d.created, 'updated', d.updated, "
	    "'transitions', (SELECT json_agg(json_build_object('state', "
	    "t.state, 'at', t.at) ORDER BY t.at) FROM deployment_transitions "
	    "t WHERE t.deployment_id = d.id), 'phases', deployment_timeline("
	    "d.id), 'kexec', d.kexec, 'handover', d.handover, 'preloaded', "
	    "d.preloaded, 'sources', d.sources) ORDER BY d.id "
	    "DESC), '[]')) "
	    "FROM (SELECT * FROM deployments d WHERE (d.user_id = $1 OR "
	    "$2::boolean) AND ($3 = 0 OR d.id = $3) ORDER BY d.id DESC "
	    "LIMIT 200) d JOIN nodes n ON n.id = d.node_id LEFT JOIN users u "
	    "ON u.id = d.user_id", rq->who.admin, "deployments", "deployment");
}

struct power_job {
	struct pipold *pd;
	char *names;		/* for the log */
	json_t *nodes;		/* [{"name", "driver", "params"}] */
};

static void *
power_job_main(void *arg)
{
	struct power_job *j = arg;
	char msg[POWER_MSG_MAX];
	struct perr e;
	PGconn *db;
	json_t *n;
	size_t i;
	int ok;

	json_array_foreach(j->nodes, i, n) {
		const char *name = json_string_value(json_object_get(n,
		    "name"));

		/* vm: the deployment's disk made before the machine starts */
		if (strcmp(json_string_value(json_object_get(n, "driver")) ?:
		    "", "vm") == 0) {
			if ((db = db_get(j->pd)) != NULL)
				vm_prepare(j->pd, db, name, json_object_get(n,
				    "params"));
			db_put(j->pd, db);
		}
		ok = power_run(name, json_string_value(json_object_get(n,
		    "driver")), json_object_get(n, "params"), POWER_CYCLE, msg,
		    sizeof(msg), &e) == 0;
		if (!ok)
			log_warnx("deploy: node %s: power cycle failed: %s; "
			    "its next network boot deploys it", name, e.msg);
		else
			log_info("deploy: node %s: %s", name, msg);
		/* armed once the cycle is under way, so that the boot it
		 * cut short cannot take the token; a node that asked too
		 * early waits and asks again (wait.ipxe) */
		if ((db = db_get(j->pd)) != NULL && ok)
			timeline_mark(db, name, "power_on", NULL);
		if (db != NULL)
			boot_arm(db, name);
		else
			log_warnx("deploy: node %s: boot cycle not armed: "
			    "database unavailable", name);
		db_put(j->pd, db);
		elilo_write_node(j->pd, name);	/* its token, if elilo */
	}
	json_decref(j->nodes);
	free(j->names);
	free(j);
	return NULL;
}

/*
 * Start the deployment of the nodes named (a PostgreSQL array literal):
 * a power cycle through each node's driver, in a thread of its own so
 * that the answer does not wait for slow controllers, then its boot
 * cycle armed (boot_arm): the next boot takes the token. A node whose
 * driver fails (or is manual) deploys at its next network boot.
 */
void
power_deploy(struct pipold *pd, PGconn *db, const char *names)
{
	const char *params[1] = { names };
	struct power_job *j;
	pthread_attr_t attr;
	pthread_t t;
	PGresult *r;

	console_nudge();	/* console: log this boot from its start */
	r = db_query(db, "SELECT coalesce(json_agg(json_build_object("
	    "'name', name, 'driver', power_driver, 'params', node_power(nodes)) "
	    "ORDER BY name), '[]') FROM nodes WHERE name = ANY ($1::text[])",
	    1, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK ||
	    (j = calloc(1, sizeof(*j))) == NULL) {
		log_warnx("deploy %s: no power cycle (database error); the "
		    "nodes' next network boot deploys them", names);
		PQclear(r);
		return;
	}
	j->pd = pd;
	j->nodes = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
	j->names = strdup(names);
	PQclear(r);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (j->nodes == NULL || j->names == NULL ||
	    pthread_create(&t, &attr, power_job_main, j) != 0) {
		log_warnx("deploy %s: no power cycle (out of resources)",
		    names);
		json_decref(j->nodes);
		free(j->names);
		free(j);
	}
	pthread_attr_destroy(&attr);
}

/*
 * sub (jobs.c): the deployment of a placed job request, as POST
 * /api/deployments makes it for user who, with the same checks: image
 * ref as who may deploy it, the nodes (a PostgreSQL array literal of
 * nnodes) of who's running reservation rid; then their power cycle.
 * 0, or -1 with *f saying why.
 */
int
deploy_for_job(struct pipold *pd, PGconn *db, const struct caller *who,
    const char *arr, int nnodes, const char *ref, long long rid,
    struct http_fail *f)
{
	struct deploy d = { .who = who, .arr = arr, .nnodes = nnodes };
	struct perr e;
	int tx;

	if (image_lookup(pd, ref, who->admin, &d.im, &e) < 0)
		return http_fail_set(f, MHD_HTTP_NOT_FOUND, e.msg);
	if ((d.o = json_pack("{s:I}", "reservation", (json_int_t)rid)) == NULL)
		return http_fail_set(f, MHD_HTTP_SERVICE_UNAVAILABLE, "deploy: "
		    "out of memory");
	http_fail_set(&d.f, MHD_HTTP_CONFLICT, "deploy: conflicts with "
	    "another request");
	if ((tx = db_tx(db, deploy_tx, &d)) < 0) {
		if (tx == DB_TX_FAILED)
			http_fail_set(&d.f, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "deploy: database error");
		*f = d.f;
	} else {
		db_event(db, who->name, "deploy.add", json_pack("{s:s, s:s, "
		    "s:s}", "nodes", arr, "image", ref, "reservation", d.rid));
		power_deploy(pd, db, arr);
	}
	json_decref(d.o);
	free(d.reply);
	return tx < 0 ? -1 : 0;
}

/* sub (api_job.c): may who deploy image ref? 0, or -code with e. */
int
deploy_image_ok(struct pipold *pd, const char *ref, int admin,
    struct perr *e)
{
	struct image_ref im;

	return image_lookup(pd, ref, admin, &im, e);
}
