/*
 * api_node.c -- the machines of the pool: POST /api/nodes (admins),
 * GET /api/nodes and GET /api/nodes/NAME (anyone with a token; the
 * power params only to admins), POST /api/nodes/NAME (admins: its
 * power driver and params). Every change rewrites the dnsmasq hosts.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "pipold.h"
#include "power.h"

/*
 * Do driver and params fit together? 0, or -1 with err naming what is
 * wrong. An empty params object is accepted: the node is not wired yet,
 * and its power actions will say so.
 */
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
api_node_add(struct pipold *pd, struct MHD_Connection *c, const char *url,
    const char *body, size_t len)
{
	static const char *const keys[] = { "name", "mac", "profile", "ip",
	    "power_driver", "power_params", NULL };
	const char *params[6];
	json_t *o = NULL, *v;
	char err[PERR_MSG_MAX + 80], *pp = NULL;
	struct caller who;
	enum MHD_Result rc;
	PGresult *r;
	PGconn *db;
	int i;

	(void)url;
	if (api_begin(pd, c, 1, &db, &who, &rc) < 0)
		return rc;
	if ((o = body_object(body, len, keys, err, sizeof(err))) == NULL) {
		rc = answer_error(c, MHD_HTTP_BAD_REQUEST, err);
		goto out;
	}
	for (i = 0; i < 5; i++) {
		v = json_object_get(o, keys[i]);
		if (i < 3 && !json_is_string(v)) {
			snprintf(err, sizeof(err), "\"%s\": a string is needed",
			    keys[i]);
			rc = answer_error(c, MHD_HTTP_BAD_REQUEST, err);
			goto out;
		}
		params[i] = json_is_string(v) ? json_string_value(v) : NULL;
	}
	v = json_object_get(o, "power_params");
	if (v != NULL && !json_is_object(v)) {
		rc = answer_error(c, MHD_HTTP_BAD_REQUEST, "\"power_params\": "
		    "an object is needed");
		goto out;
	}
	if (node_power_check(params[0], params[4] ? params[4] : "manual", v,
	    err, sizeof(err)) < 0) {
		rc = answer_error(c, MHD_HTTP_BAD_REQUEST, err);
		goto out;
	}
	pp = v ? json_dumps(v, JSON_COMPACT) : strdup("{}");
	params[5] = pp;
	r = PQexecParams(db, "INSERT INTO nodes (name, mac, profile, ip, "
	    "power_driver, power_params) VALUES ($1, $2, $3, $4, "
	    "coalesce($5, 'manual'), $6::jsonb)", 6, NULL, params, NULL, NULL,
	    0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, sizeof(err), "node %s: %s", params[0],
		    sql_status(r) == MHD_HTTP_CONFLICT ? "name or MAC exists" :
		    "bad name, MAC, profile, IP or power driver");
		rc = answer_error(c, sql_status(r), err);
	} else {
		event(db, who.name, "node.add", json_pack("{s:s, s:s, s:s}",
		    "node", params[0], "mac", params[1], "profile", params[2]));
		rc = answer_json(c, MHD_HTTP_CREATED, json_pack("{s:s}",
		    "node", params[0]));
		dnsmasq_nodes_changed(pd);
	}
	PQclear(r);
 out:
	free(pp);
	json_decref(o);
	db_put(pd, db);
	return rc;
}

enum MHD_Result
api_node_list(struct pipold *pd, struct MHD_Connection *c, const char *url,
    const char *body, size_t len)
{
	json_t *list = json_array();
	struct caller who;
	enum MHD_Result rc;
	PGresult *r;
	PGconn *db;
	int i;

	(void)url, (void)body, (void)len;
	if (api_begin(pd, c, 0, &db, &who, &rc) < 0) {
		json_decref(list);
		return rc;
	}
	r = PQexec(db, "SELECT name, mac::text, profile, coalesce(host(ip), "
	    "''), power_driver, boot_mode FROM nodes ORDER BY name");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		json_decref(list);
		rc = answer_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "database "
		    "error");
		goto out;
	}
	for (i = 0; i < PQntuples(r); i++)
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, "
		    "s:s, s:s}", "name", PQgetvalue(r, i, 0), "mac",
		    PQgetvalue(r, i, 1), "profile", PQgetvalue(r, i, 2), "ip",
		    PQgetvalue(r, i, 3), "power", PQgetvalue(r, i, 4), "boot",
		    PQgetvalue(r, i, 5)));
	PQclear(r);
	rc = answer_json(c, MHD_HTTP_OK, json_pack("{s:o}", "nodes", list));
 out:
	db_put(pd, db);
	return rc;
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
api_node_show(struct pipold *pd, struct MHD_Connection *c, const char *url,
    const char *body, size_t len)
{
	const char *params[1], *rest;
	char name[64], err[128];
	struct caller who;
	enum MHD_Result rc;
	json_t *o;
	PGresult *r;
	PGconn *db;

	(void)body, (void)len;
	if (node_name_from_url(url, name, &rest) < 0 || *rest != '\0')
		return answer_error(c, MHD_HTTP_NOT_FOUND, "not found");
	if (api_begin(pd, c, 0, &db, &who, &rc) < 0)
		return rc;
	params[0] = name;
	r = PQexecParams(db, "SELECT name, mac::text, profile, "
	    "coalesce(host(ip), ''), power_driver, boot_mode, "
	    "power_params::text FROM nodes WHERE name = $1", 1, NULL, params,
	    NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = answer_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "database error");
	} else if (PQntuples(r) != 1) {
		snprintf(err, sizeof(err), "node %s: no such node", name);
		rc = answer_error(c, MHD_HTTP_NOT_FOUND, err);
	} else {
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name",
		    PQgetvalue(r, 0, 0), "mac", PQgetvalue(r, 0, 1), "profile",
		    PQgetvalue(r, 0, 2), "ip", PQgetvalue(r, 0, 3), "power",
		    PQgetvalue(r, 0, 4), "boot", PQgetvalue(r, 0, 5));
		/* paths of sockets and password files: for admins only */
		if (o != NULL && who.admin)
			json_object_set_new(o, "power_params",
			    json_loads(PQgetvalue(r, 0, 6), 0, NULL));
		rc = answer_json(c, MHD_HTTP_OK, o);
	}
	PQclear(r);
	db_put(pd, db);
	return rc;
}

/*
 * The new driver and params of node: a driver given alone (a change)
 * clears the old driver's params; params given alone are for the
 * current driver; given params replace the old ones whole.
 */
static int
node_power_update(PGconn *db, const char *node, json_t *o, json_t **detail,
    char *err, size_t errlen, unsigned *status)
{
	const char *params[3], *driver;
	char drv[32];
	json_t *given = json_object_get(o, "power_params"), *pp = NULL;
	char *text = NULL;
	PGresult *r;
	int rc = -1;

	params[0] = node;
	PQclear(PQexec(db, "BEGIN"));
	r = PQexecParams(db, "SELECT power_driver, power_params::text FROM "
	    "nodes WHERE name = $1 FOR UPDATE", 1, NULL, params, NULL, NULL, 0);
	*status = MHD_HTTP_SERVICE_UNAVAILABLE;
	snprintf(err, errlen, "database error");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		goto out;
	*status = MHD_HTTP_NOT_FOUND;
	snprintf(err, errlen, "node %s: no such node", node);
	if (PQntuples(r) != 1)
		goto out;
	driver = json_string_value(json_object_get(o, "power_driver"));
	/* copied: the text is needed after PQclear(r) */
	snprintf(drv, sizeof(drv), "%s", driver ? driver :
	    PQgetvalue(r, 0, 0));
	driver = drv;
	if (given == NULL && strcmp(driver, PQgetvalue(r, 0, 0)) == 0)
		pp = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
	else
		pp = given ? json_incref(given) : json_object();
	*status = MHD_HTTP_BAD_REQUEST;
	if (node_power_check(node, driver, pp, err, errlen) < 0)
		goto out;
	params[1] = driver;
	params[2] = text = json_dumps(pp, JSON_COMPACT);
	PQclear(r);
	r = PQexecParams(db, "UPDATE nodes SET power_driver = $2, "
	    "power_params = $3::jsonb WHERE name = $1", 3, NULL, params, NULL,
	    NULL, 0);
	*status = MHD_HTTP_SERVICE_UNAVAILABLE;
	snprintf(err, errlen, "database error");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		goto out;
	*detail = json_pack("{s:s, s:s, s:O}", "node", node, "power_driver",
	    driver, "power_params", pp);
	rc = 0;
 out:
	PQclear(r);
	PQclear(PQexec(db, rc == 0 ? "COMMIT" : "ROLLBACK"));
	json_decref(pp);
	free(text);
	return rc;
}

/* POST /api/nodes/NAME {"power_driver"?, "power_params"?}: admins */
static enum MHD_Result
api_node_set(struct pipold *pd, struct MHD_Connection *c, const char *name,
    const char *body, size_t len)
{
	static const char *const keys[] = { "power_driver", "power_params",
	    "bootenv", NULL };
	char err[PERR_MSG_MAX + 80];
	const char *fl, *params[2];
	json_t *o, *d, *detail = NULL;
	struct caller who;
	enum MHD_Result rc;
	unsigned status;
	PGresult *r;
	PGconn *db;

	if (api_begin(pd, c, 1, &db, &who, &rc) < 0)
		return rc;
	if ((o = body_object(body, len, keys, err, sizeof(err))) == NULL) {
		rc = answer_error(c, MHD_HTTP_BAD_REQUEST, err);
		goto out;
	}
	d = json_object_get(o, "power_driver");
	fl = json_string_value(json_object_get(o, "bootenv"));
	if (json_object_size(o) == 0 || (d != NULL && !json_is_string(d)) ||
	    (json_object_get(o, "power_params") != NULL &&
	    !json_is_object(json_object_get(o, "power_params"))) ||
	    (json_object_get(o, "bootenv") != NULL && (fl == NULL ||
	    *fl == '\0' || strlen(fl) > 31 || strspn(fl,
	    "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(fl)))) {
		rc = answer_error(c, MHD_HTTP_BAD_REQUEST, "want {\"power_"
		    "driver\": string, \"power_params\": object, \"bootenv\": "
		    "a flavour (a-z, 0-9, -)}");
		goto out;
	}
	if (fl != NULL) {
		params[0] = name;
		params[1] = fl;
		r = PQexecParams(db, "UPDATE nodes SET boot_params = boot_params "
		    "|| jsonb_build_object('flavour', $2::text) WHERE name = $1 "
		    "RETURNING id", 2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
			snprintf(err, sizeof(err), "node %s: no such node", name);
			rc = PQresultStatus(r) != PGRES_TUPLES_OK ?
			    answer_sql(c, r, name) : answer_error(c,
			    MHD_HTTP_NOT_FOUND, err);
			PQclear(r);
			goto out;
		}
		PQclear(r);
		event(db, who.name, "node.set", json_pack("{s:s, s:s}", "node",
		    name, "bootenv", fl));
		if (d == NULL && json_object_get(o, "power_params") == NULL) {
			rc = answer_json(c, MHD_HTTP_OK, json_pack("{s:s, s:s}",
			    "node", name, "bootenv", fl));
			goto out;
		}
	}
	if (node_power_update(db, name, o, &detail, err, sizeof(err),
	    &status) < 0) {
		rc = answer_error(c, status, err);
		goto out;
	}
	rc = answer_json(c, MHD_HTTP_OK, json_pack("{s:s, s:O}", "node", name,
	    "power", json_object_get(detail, "power_driver")));
	event(db, who.name, "node.set", detail);
	dnsmasq_nodes_changed(pd);
 out:
	json_decref(o);
	db_put(pd, db);
	return rc;
}

/* POST /api/nodes/NAME and /api/nodes/NAME/power */
enum MHD_Result
api_node_post(struct pipold *pd, struct MHD_Connection *c, const char *url,
    const char *body, size_t len)
{
	const char *rest;
	char name[64];

	if (node_name_from_url(url, name, &rest) < 0)
		return answer_error(c, MHD_HTTP_NOT_FOUND, "not found");
	if (*rest == '\0')
		return api_node_set(pd, c, name, body, len);
	if (strcmp(rest, "/power") == 0)
		return api_node_power(pd, c, name, body, len);
	if (strcmp(rest, "/boot") == 0)
		return api_node_boot(pd, c, name, body, len);
	return answer_error(c, MHD_HTTP_NOT_FOUND, "not found");
}
