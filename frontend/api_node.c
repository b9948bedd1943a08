/*
 * api_node.c -- the machines of the pool: POST /api/nodes (admins),
 * GET /api/nodes (anyone with a token).
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "pipold.h"

enum MHD_Result
api_node_add(struct pipold *pd, struct MHD_Connection *c, const char *url,
    const char *body, size_t len)
{
	static const char *const keys[] = { "name", "mac", "profile", "ip",
	    "power_driver", "power_params", NULL };
	const char *params[6];
	json_t *o = NULL, *v;
	char err[160], *pp = NULL;
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
