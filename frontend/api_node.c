/*
 * api_node.c -- the machines of the pool: POST /api/nodes (admins),
 * GET /api/nodes and GET /api/nodes/NAME (anyone with a token; the
 * power params only to admins), POST /api/nodes/NAME (admins: its
 * power driver and params, its boot environment, its wipe at the end
 * of a reservation). Every change rewrites
 * the dnsmasq hosts. Power actions are api_power.c's, boot modes
 * boot.c's.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "boot.h"
#include "elilo.h"
#include "grub.h"
#include "pipold.h"
#include "power.h"
#include "web.h"

/*
 * Do driver and params fit together? 0, or -1 with err naming what is
 * wrong. An empty params object is accepted: the node is not wired yet,
 * and its power actions will say so.
 */
/* an error our schema raised (SQLSTATE PPnnn), whose message says it */
static int
sql_state_ours(const PGresult *r)
{
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	return st != NULL && strncmp(st, "PP", 2) == 0;
}

static int
node_power_check(const char *node, const char *driver, const json_t *params,
    char *err, size_t errlen)
{
	struct perr e;

	if (power_driver_known(driver) && json_object_size(params) == 0)
		return 0;
	if (power_params_check(driver, params, &e) == 0)
		return 0;
	snprintf(err, errlen, "node %.63s: %s", node, e.msg);
	return -1;
}

enum MHD_Result
api_node_add(struct http_req *rq)
{
	/* in the order of the statement's parameters; the first three are
	 * needed (the route's keys say which are accepted) */
	static const char *const keys[] = { "name", "mac", "profile", "ip",
	    "power_driver" };
	struct MHD_Connection *c = rq->c;
	const char *params[6];
	char err[PERR_MSG_MAX + 80], *pp = NULL;
	enum MHD_Result rc;
	json_t *v;
	PGresult *r;
	int i;

	for (i = 0; i < 5; i++) {
		v = json_object_get(rq->o, keys[i]);
		if (i < 3 && !json_is_string(v)) {
			snprintf(err, sizeof(err), "\"%s\": a string is needed",
			    keys[i]);
			return http_error(c, MHD_HTTP_BAD_REQUEST, err);
		}
		params[i] = json_is_string(v) ? json_string_value(v) : NULL;
	}
	v = json_object_get(rq->o, "power_params");
	if (v != NULL && !json_is_object(v))
		return http_error(c, MHD_HTTP_BAD_REQUEST, "\"power_params\": "
		    "an object is needed");
	if (node_power_check(params[0], params[4] ? params[4] : "manual", v,
	    err, sizeof(err)) < 0)
		return http_error(c, MHD_HTTP_BAD_REQUEST, err);
	if ((pp = v ? json_dumps(v, JSON_COMPACT) : strdup("{}")) == NULL)
		return MHD_NO;
	params[5] = pp;
	r = db_query(rq->db, "INSERT INTO nodes (name, mac, profile, ip, "
	    "power_driver, power_params) VALUES ($1, $2, $3, $4, "
	    "coalesce($5, 'manual'), $6::jsonb)", 6, params);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    sql_state_ours(r)) {	/* vm: the host's capacity (024) */
		rc = http_sql_error(c, r, params[0]);
	} else if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, sizeof(err), "node %s: %s", params[0],
		    http_sql_status(r) == MHD_HTTP_CONFLICT ?
		    "name or MAC exists" :
		    "bad name, MAC, profile, IP or power driver");
		rc = http_error(c, http_sql_status(r), err);
	} else {
		db_event(rq->db, rq->who.name, "node.add", json_pack("{s:s, "
		    "s:s, s:s}", "node", params[0], "mac", params[1],
		    "profile", params[2]));
		rc = http_json(c, MHD_HTTP_CREATED, json_pack("{s:s}",
		    "node", params[0]));
		dnsmasq_nodes_changed(rq->pd);
	}
	PQclear(r);
	free(pp);
	return rc;
}

enum MHD_Result
api_node_list(struct http_req *rq)
{
	struct MHD_Connection *c = rq->c;
	json_t *list = json_array();
	PGresult *r;
	int i;

	/* web: a page of it, filtered (api_node_page.c) */
	if (MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "offset") ||
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit") ||
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "profile") ||
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state")) {
		json_decref(list);
		return api_node_page(rq);
	}
	r = db_query(rq->db, "SELECT name, mac::text, profile, "
	    "coalesce(host(ip), "
	    "''), power_driver, boot_mode FROM nodes ORDER BY name", 0, NULL);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		json_decref(list);
		return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "database "
		    "error");
	}
	for (i = 0; i < PQntuples(r); i++)
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, "
		    "s:s, s:s}", "name", PQgetvalue(r, i, 0), "mac",
		    PQgetvalue(r, i, 1), "profile", PQgetvalue(r, i, 2), "ip",
		    PQgetvalue(r, i, 3), "power", PQgetvalue(r, i, 4), "boot",
		    PQgetvalue(r, i, 5)));
	PQclear(r);
	return http_json(c, MHD_HTTP_OK, json_pack("{s:o}", "nodes", list));
}

int
node_name_from_url(const char *url, char name[64], const char **rest)
{
	const char *p = url + strlen("/api/nodes/");
	size_t n = strcspn(p, "/"), i;

	if (strncmp(url, "/api/nodes/", strlen("/api/nodes/")) != 0 ||
	    n == 0 || n > 63 || p[0] < 'a' || p[0] > 'z')
		return -1;
	for (i = 1; i < n; i++)	/* the schema's rule for node names */
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-", p[i]))
			return -1;
	memcpy(name, p, n);
	name[n] = '\0';
	*rest = p + n;
	return 0;
}

/* GET /api/nodes/NAME */
enum MHD_Result
api_node_show(struct http_req *rq)
{
	struct MHD_Connection *c = rq->c;
	const char *params[1], *rest;
	char name[64], err[128];
	enum MHD_Result rc;
	json_t *o;
	PGresult *r;

	if (node_name_from_url(rq->url, name, &rest) < 0 || *rest != '\0')
		return http_error(c, MHD_HTTP_NOT_FOUND, "not found");
	params[0] = name;
	r = db_query(rq->db, "SELECT name, mac::text, profile, "
	    "coalesce(host(ip), ''), power_driver, boot_mode, "
	    "power_params::text, CASE WHEN wipe THEN 'on' ELSE 'off' END, "
	    "CASE WHEN kexec THEN 'on' ELSE 'off' END "
	    "FROM nodes WHERE name = $1", 1, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "database error");
	} else if (PQntuples(r) != 1) {
		snprintf(err, sizeof(err), "node %s: no such node", name);
		rc = http_error(c, MHD_HTTP_NOT_FOUND, err);
	} else {
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name",
		    PQgetvalue(r, 0, 0), "mac", PQgetvalue(r, 0, 1), "profile",
		    PQgetvalue(r, 0, 2), "ip", PQgetvalue(r, 0, 3), "power",
		    PQgetvalue(r, 0, 4), "boot", PQgetvalue(r, 0, 5), "wipe",
		    PQgetvalue(r, 0, 7));
		if (o != NULL)
			json_object_set_new(o, "kexec", json_string(
			    PQgetvalue(r, 0, 8)));
		/* paths of sockets and password files: for admins only */
		if (o != NULL && rq->who.admin)
			json_object_set_new(o, "power_params",
			    json_loads(PQgetvalue(r, 0, 6), 0, NULL));
		rc = http_json(c, MHD_HTTP_OK, o);
	}
	PQclear(r);
	return rc;
}

/* A power change: the request, and what it did (or why not). */
struct power_change {
	const char *node;
	json_t *o;		/* the request */
	json_t *detail;		/* done: {"node", "power_driver", ...} */
	unsigned status;	/* else the refusal */
	char err[PERR_MSG_MAX + 80];
};

/*
 * The new driver and params of node, in one transaction (db_tx): a
 * driver given alone (a change) clears the old driver's params; params
 * given alone are for the current driver; given params replace the old
 * ones whole.
 */
static int
power_change_tx(PGconn *db, void *arg)
{
	struct power_change *pc = arg;
	const char *params[3], *driver;
	char drv[32];
	json_t *given = json_object_get(pc->o, "power_params"), *pp = NULL;
	char *text = NULL;
	PGresult *r;
	int rc = -1;

	params[0] = pc->node;
	r = db_query(db, "SELECT power_driver, power_params::text FROM "
	    "nodes WHERE name = $1 FOR UPDATE", 1, params);
	pc->status = MHD_HTTP_SERVICE_UNAVAILABLE;
	snprintf(pc->err, sizeof(pc->err), "database error");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		goto out;
	pc->status = MHD_HTTP_NOT_FOUND;
	snprintf(pc->err, sizeof(pc->err), "node %s: no such node", pc->node);
	if (PQntuples(r) != 1)
		goto out;
	driver = json_string_value(json_object_get(pc->o, "power_driver"));
	/* copied: the text is needed after PQclear(r) */
	snprintf(drv, sizeof(drv), "%s", driver ? driver :
	    PQgetvalue(r, 0, 0));
	driver = drv;
	if (given == NULL && strcmp(driver, PQgetvalue(r, 0, 0)) == 0)
		pp = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
	else
		pp = given ? json_incref(given) : json_object();
	pc->status = MHD_HTTP_BAD_REQUEST;
	if (node_power_check(pc->node, driver, pp, pc->err,
	    sizeof(pc->err)) < 0)
		goto out;
	params[1] = driver;
	params[2] = text = json_dumps(pp, JSON_COMPACT);
	PQclear(r);
	r = db_query(db, "UPDATE nodes SET power_driver = $2, "
	    "power_params = $3::jsonb WHERE name = $1", 3, params);
	pc->status = MHD_HTTP_SERVICE_UNAVAILABLE;
	snprintf(pc->err, sizeof(pc->err), "database error");
	if (PQresultStatus(r) != PGRES_COMMAND_OK && sql_state_ours(r)) {
		struct http_fail f;	/* vm: the host's capacity (024) */

		http_fail_sql(&f, r, pc->node);
		pc->status = f.status;
		snprintf(pc->err, sizeof(pc->err), "%s", f.msg);
	}
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		goto out;
	json_decref(pc->detail);	/* from a run that was undone */
	pc->detail = json_pack("{s:s, s:s, s:O}", "node", pc->node,
	    "power_driver", driver, "power_params", pp);
	rc = 0;
 out:
	if (rc < 0 && db_is_retry(r))
		rc = DB_TX_RETRY;
	PQclear(r);
	json_decref(pp);
	free(text);
	return rc;
}

/*
 * r, an UPDATE of node name RETURNING a row: not one row (a database
 * error, or no such node) is answered here, r cleared: 1; else 0.
 */
static int
node_answered(struct http_req *rq, PGresult *r, const char *name,
    enum MHD_Result *rc)
{
	char err[128];

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		return 0;
	snprintf(err, sizeof(err), "node %s: no such node", name);
	*rc = PQresultStatus(r) != PGRES_TUPLES_OK ? http_sql_error(rq->c, r,
	    name) : http_error(rq->c, MHD_HTTP_NOT_FOUND, err);
	PQclear(r);
	return 1;
}

/*
 * The node's wipe setting (schema 010): its disk wiped at the end of
 * each reservation. Also an admin's answer to a wipe queued or given
 * up: on, tried again now (from try 1); off, it becomes a plain off.
 * A wipe running is left to end.
 */
static int
node_wipe_set(struct http_req *rq, const char *name, int on, int *requeued,
    enum MHD_Result *rc)
{
	const char *params[2] = { name, on ? "t" : "f" };
	PGresult *r;

	r = db_query(rq->db, "WITH n AS (UPDATE nodes SET wipe = $2::boolean "
	    "WHERE name = $1 RETURNING id), a AS (UPDATE node_end_actions SET "
	    "action = CASE WHEN $2::boolean THEN 'wipe' ELSE 'off' END, tries "
	    "= 0, next_at = now(), lease_until = NULL, last_error = NULL "
	    "WHERE node_id IN (SELECT id FROM n) AND action = 'wipe' AND "
	    "deployment_id IS NULL RETURNING 1) SELECT (SELECT count(*) FROM "
	    "a) FROM n", 2, params);
	if (node_answered(rq, r, name, rc))
		return -1;
	*requeued = atoi(PQgetvalue(r, 0, 0)) > 0;
	PQclear(r);
	db_event(rq->db, rq->who.name, "node.set", json_pack("{s:s, s:b, "
	    "s:b}", "node", name, "wipe", on, "requeued", *requeued));
	return 0;
}

/*
 * The node's kexec setting (schema 013): its deployments hand over to
 * the deployed kernel without a firmware pass (on, the default), or
 * reboot through the firmware (off). 0, or -1 with *rc answered.
 */
static int
node_kexec_set(struct http_req *rq, const char *name, int on,
    enum MHD_Result *rc)
{
	const char *params[2] = { name, on ? "t" : "f" };
	PGresult *r;

	r = db_query(rq->db, "UPDATE nodes SET kexec = $2::boolean WHERE "
	    "name = $1 RETURNING id", 2, params);
	if (node_answered(rq, r, name, rc))
		return -1;
	PQclear(r);
	db_event(rq->db, rq->who.name, "node.set", json_pack("{s:s, s:b}",
	    "node", name, "kexec", on));
	return 0;
}

/* The node's rack (schema 022), "" none; 0, or -1 with *rc sent. */
static int
node_rack_set(struct http_req *rq, const char *name, const char *rack,
    enum MHD_Result *rc)
{
	const char *params[2] = { name, rack };
	char err[128];
	PGresult *r;

	r = db_query(rq->db, "SELECT 1 FROM racks WHERE name = $1", 1,
	    &rack);
	if (*rack != '\0' && PQresultStatus(r) == PGRES_TUPLES_OK &&
	    PQntuples(r) == 0) {
		PQclear(r);
		snprintf(err, sizeof(err), "rack %.64s: no such rack", rack);
		*rc = http_error(rq->c, MHD_HTTP_NOT_FOUND, err);
		return -1;
	}
	PQclear(r);
	r = db_query(rq->db, "UPDATE nodes SET rack = nullif($2, '') WHERE "
	    "name = $1 RETURNING id", 2, params);
	if (node_answered(rq, r, name, rc))
		return -1;
	PQclear(r);
	db_event(rq->db, rq->who.name, "node.set", json_pack("{s:s, s:s}",
	    "node", name, "rack", rack));
	return 0;
}

/*
 * One key of the node's boot_params (flavour, console) set to value,
 * "" removing it (the default again); its event. 0, or -1 with *rc the
 * answer sent.
 */
static int
node_boot_param(struct http_req *rq, const char *name, const char *key,
    const char *value, enum MHD_Result *rc)
{
	const char *params[3] = { name, key, value };
	PGresult *r;

	r = db_query(rq->db, "UPDATE nodes SET boot_params = CASE WHEN $3 = "
	    "'' THEN boot_params - $2 ELSE boot_params || jsonb_build_object("
	    "$2::text, $3::text) END WHERE name = $1 RETURNING id", 3, params);
	if (node_answered(rq, r, name, rc))
		return -1;
	PQclear(r);
	db_event(rq->db, rq->who.name, "node.set", json_pack("{s:s, s:s}",
	    "node", name, key, value));
	return 0;
}

/* A console fit for every boot script pipold writes: iPXE's, GRUB's,
 * elilo's rules, spaces allowed; "" (back to the default) too. */
static int
console_ok(const char *v)
{
	return v != NULL && strlen(v) <= NODE_CONSOLE_MAX && (*v == '\0' ||
	    (boot_value_ok(v, 1) && grub_value_ok(v, 1) &&
	    elilo_value_ok(v, 1)));
}

/* POST /api/nodes/NAME {"power_driver"?, "power_params"?, "bootenv"?,
 * "console"?, "wipe"?, "kexec"?, "rack"?} */
enum MHD_Result
api_node_set(struct http_req *rq)
{
	struct MHD_Connection *c = rq->c;
	PGconn *db = rq->db;
	json_t *o = rq->o, *d, *done;
	char name[64];
	const char *fl, *con, *rest, *rack;
	struct power_change pc = { 0 };
	enum MHD_Result rc;
	int tx, on, kx, requeued = 0;

	if (node_name_from_url(rq->url, name, &rest) < 0 || *rest != '\0')
		return http_error(c, MHD_HTTP_NOT_FOUND, "not found");
	d = json_object_get(o, "power_driver");
	fl = json_string_value(json_object_get(o, "bootenv"));
	con = json_string_value(json_object_get(o, "console"));
	rack = json_string_value(json_object_get(o, "rack"));
	if (json_object_size(o) == 0 || (d != NULL && !json_is_string(d)) ||
	    (json_object_get(o, "power_params") != NULL &&
	    !json_is_object(json_object_get(o, "power_params"))) ||
	    (json_object_get(o, "bootenv") != NULL && (fl == NULL ||
	    *fl == '\0' || strlen(fl) > 31 || strspn(fl,
	    "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(fl))) ||
	    (json_object_get(o, "console") != NULL && !console_ok(con)) ||
	    (json_object_get(o, "wipe") != NULL &&
	    !json_is_boolean(json_object_get(o, "wipe"))) ||
	    (json_object_get(o, "kexec") != NULL &&
	    !json_is_boolean(json_object_get(o, "kexec"))) ||
	    (json_object_get(o, "rack") != NULL && (rack == NULL ||
	    strlen(rack) > 32)))
		return http_error(c, MHD_HTTP_BAD_REQUEST, "want {\"power_"
		    "driver\": string, \"power_params\": object, \"bootenv\": "
		    "a flavour (a-z, 0-9, -), \"console\": kernel arguments "
		    "(letters, digits, spaces, ._-,:/=+@%~; at most 200), "
		    "\"wipe\": boolean, \"kexec\": boolean, \"rack\": a rack's "
		    "name or \"\"}");
	done = json_pack("{s:s}", "node", name);
	if (json_object_get(o, "wipe") != NULL) {
		on = json_is_true(json_object_get(o, "wipe"));
		if (node_wipe_set(rq, name, on, &requeued, &rc) < 0)
			goto out;
		json_object_set_new(done, "wipe", json_boolean(on));
	}
	if (json_object_get(o, "kexec") != NULL) {
		kx = json_is_true(json_object_get(o, "kexec"));
		if (node_kexec_set(rq, name, kx, &rc) < 0)
			goto out;
		json_object_set_new(done, "kexec", json_boolean(kx));
	}
	if (rack != NULL && node_rack_set(rq, name, rack, &rc) < 0)
		goto out;
	if (rack != NULL)
		json_object_set_new(done, "rack", json_string(rack));
	if (fl != NULL && node_boot_param(rq, name, "flavour", fl, &rc) < 0)
		goto out;
	if (fl != NULL)
		json_object_set_new(done, "bootenv", json_string(fl));
	if (con != NULL && node_boot_param(rq, name, "console", con, &rc) < 0)
		goto out;
	if (con != NULL)
		json_object_set_new(done, "console", json_string(con));
	json_object_set_new(done, "requeued", json_boolean(requeued));
	if (d == NULL && json_object_get(o, "power_params") == NULL) {
		rc = http_json(c, MHD_HTTP_OK, done);
		done = NULL;
		goto out;
	}
	pc.node = name;
	pc.o = o;
	if ((tx = db_tx(db, power_change_tx, &pc)) < 0) {
		json_decref(pc.detail);
		rc = tx == DB_TX_RETRY ? http_error(c, MHD_HTTP_CONFLICT,
		    "node: conflicts with another request, try again") :
		    tx == DB_TX_FAILED ? http_error(c,
		    MHD_HTTP_SERVICE_UNAVAILABLE, "database error") :
		    http_error(c, pc.status, pc.err);
		goto out;
	}
	json_object_set(done, "power", json_object_get(pc.detail,
	    "power_driver"));
	rc = http_json(c, MHD_HTTP_OK, done);
	done = NULL;
	db_event(db, rq->who.name, "node.set", pc.detail);
	dnsmasq_nodes_changed(rq->pd);
 out:
	json_decref(done);
	return rc;
}
