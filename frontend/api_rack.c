/*
 * api_rack.c -- racks (schema 022): groups of nodes with the store's
 * caches near them, which the order gives their agents as chunk
 * sources before pipold (agent_api.c, initrd/fetch.c).
 *
 *   POST   /api/racks {"name", "caches": [URL...]}   admins; 201
 *   GET    /api/racks                                anyone: name,
 *          caches, nodes
 *   DELETE /api/racks/NAME                           admins; its nodes
 *          keep no rack
 *
 * A cache URL is http:// or https://, a host, an optional port and
 * path, of URL-safe characters only (it reaches every agent of the
 * rack); 7 at most.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "http.h"
#include "pipold.h"

#define RACK_URL_MAX	200

static int
url_ok(const char *u)
{
	size_t n = strlen(u);
	const char *h;

	if (strncmp(u, "http://", 7) == 0)
		h = u + 7;
	else if (strncmp(u, "https://", 8) == 0)
		h = u + 8;
	else
		return 0;
	return n <= RACK_URL_MAX && *h != '\0' && *h != '/' &&
	    strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-_~:/[]") == strlen(h);
}

enum MHD_Result
api_rack_add(struct http_req *rq)
{
	json_t *name = json_object_get(rq->o, "name");
	json_t *caches = json_object_get(rq->o, "caches"), *v;
	const char *params[2];
	enum MHD_Result rc;
	char err[RACK_URL_MAX + 80], *list;
	PGresult *r;
	size_t i;

	if (!json_is_string(name))
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "\"name\": a "
		    "string is needed");
	if (caches == NULL)
		caches = json_array();
	else
		json_incref(caches);
	if (!json_is_array(caches) || json_array_size(caches) > 7) {
		json_decref(caches);
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "\"caches\": "
		    "a list of at most 7 URLs is needed");
	}
	json_array_foreach(caches, i, v)
		if (!json_is_string(v) || !url_ok(json_string_value(v))) {
			snprintf(err, sizeof(err), "\"caches\": %.*s: not an "
			    "http:// or https:// URL of a host",
			    RACK_URL_MAX, json_is_string(v) ?
			    json_string_value(v) : "(not a string)");
			json_decref(caches);
			return http_error(rq->c, MHD_HTTP_BAD_REQUEST, err);
		}
	list = json_dumps(caches, JSON_COMPACT);
	json_decref(caches);
	if (list == NULL)
		return http_error(rq->c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory");
	params[0] = json_string_value(name);
	params[1] = list;
	r = db_query(rq->db, "INSERT INTO racks (name, caches) VALUES ($1, "
	    "ARRAY(SELECT json_array_elements_text($2::json))) ON CONFLICT "
	    "(name) DO UPDATE SET caches = excluded.caches", 2, params);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = http_sql_error(rq->c, r, params[0]);
	else {
		db_event(rq->db, rq->who.name, "rack.set", json_incref(rq->o));
		rc = http_json(rq->c, MHD_HTTP_CREATED, json_incref(rq->o));
	}
	PQclear(r);
	free(list);
	return rc;
}

enum MHD_Result
api_rack_list(struct http_req *rq)
{
	enum MHD_Result rc;
	PGresult *r;

	r = db_query(rq->db, "SELECT json_build_object('racks', coalesce("
	    "json_agg(json_build_object('name', k.name, 'caches', k.caches, "
	    "'nodes', (SELECT coalesce(json_agg(n.name ORDER BY n.name), "
	    "'[]') FROM nodes n WHERE n.rack = k.name)) ORDER BY k.name), "
	    "'[]')) FROM racks k", 0, NULL);
	rc = http_pgjson(rq->c, r, MHD_HTTP_OK, "racks");
	PQclear(r);
	return rc;
}

enum MHD_Result
api_rack_rm(struct http_req *rq)
{
	const char *name = rq->url + strlen("/api/racks/");
	enum MHD_Result rc;
	char err[96];
	PGresult *r;

	r = db_query(rq->db, "DELETE FROM racks WHERE name = $1", 1, &name);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = http_sql_error(rq->c, r, name);
	else if (strcmp(PQcmdTuples(r), "1") != 0) {
		snprintf(err, sizeof(err), "rack %.64s: no such rack", name);
		rc = http_error(rq->c, MHD_HTTP_NOT_FOUND, err);
	} else {
		db_event(rq->db, rq->who.name, "rack.rm", json_pack("{s:s}",
		    "name", name));
		rc = http_json(rq->c, MHD_HTTP_OK, json_pack("{s:s}",
		    "removed", name));
	}
	PQclear(r);
	return rc;
}
