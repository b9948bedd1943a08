/*
 * api_node_page.c -- GET /api/nodes?offset=&limit=&profile=&state=: a
 * page of the node list, filtered on the server (the web interface's
 * Nodes page; api_node_list hands a request with any of these over to
 * here). Each node with its profile, power driver and boot mode, who
 * holds it now and until when, and its latest deployment (its state to
 * all; its id and image to the holder of it and admins), and a state:
 * "deploying" (a deployment in flight), "reserved" (held now) or
 * "free". The total matching goes with the page. Every argument is
 * bounded and checked before SQL.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "pipold.h"
#include "web.h"

#define NODE_PAGE_DEFAULT	50
#define NODE_OFFSET_MAX		1000000

/* A number argument in lo..hi (absent: dflt) as text in out; -1 bad */
static int
num_arg(struct MHD_Connection *c, const char *name, long lo, long hi,
    long dflt, char out[16])
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	    name);
	char *end;
	long n = dflt;

	if (v != NULL) {
		if (*v == '\0' || strlen(v) > 9 ||
		    strspn(v, "0123456789") != strlen(v))
			return -1;
		n = strtol(v, &end, 10);
	}
	if (n < lo || n > hi)
		return -1;
	snprintf(out, 16, "%ld", n);
	return 0;
}

static const char page_sql[] = "WITH l AS (SELECT n.name, n.profile, "
    "n.power_driver, n.boot_mode, h.holder, h.holder_id, h.resv, h.ends, "
    "d.id AS dep, d.state AS dstate, d.image, d.user_id AS duser, CASE "
    "WHEN d.state NOT IN ('ready', 'failed') THEN 'deploying' WHEN "
    "h.resv IS NOT NULL THEN 'reserved' ELSE 'free' END AS state FROM "
    "nodes n LEFT JOIN LATERAL (SELECT u.name AS holder, u.id AS "
    "holder_id, r.id AS resv, upper(r.during) AS ends FROM "
    "reservation_nodes rn JOIN reservations r ON r.id = "
    "rn.reservation_id JOIN users u ON u.id = r.user_id WHERE rn.node_id "
    "= n.id AND rn.live AND reservation_state(r) = 'running' LIMIT 1) h "
    "ON true LEFT JOIN LATERAL (SELECT d.id, d.state, d.image_name || "
    "coalesce(':' || d.image_version, '') AS image, d.user_id FROM "
    "deployments d WHERE d.node_id = n.id ORDER BY d.id DESC LIMIT 1) d "
    "ON true), f AS (SELECT * FROM l WHERE ($1 = '' OR profile = $1) AND "
    "($2 = '' OR state = $2)) SELECT json_build_object('total', (SELECT "
    "count(*) FROM f), 'offset', $3::int, 'limit', $4::int, 'nodes', "
    "coalesce((SELECT json_agg(json_build_object('name', name, "
    "'profile', profile, 'power', power_driver, 'boot', boot_mode, "
    "'state', state, 'holder', holder, 'mine', holder_id = $5, "
    "'reservation', CASE WHEN holder_id = $5 OR $6 THEN resv END, "
    "'ends', ends, 'deployment', CASE WHEN duser = $5 OR $6 THEN dep END, "
    "'deployment_state', dstate, 'image', CASE WHEN duser = $5 OR $6 "
    "THEN image END) ORDER BY name) FROM (SELECT * FROM f ORDER BY name "
    "OFFSET $3::int LIMIT $4::int) p), '[]'))";

enum MHD_Result
api_node_page(struct http_req *rq)
{
	struct MHD_Connection *c = rq->c;
	const char *prof = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "profile");
	const char *state = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "state");
	const char *params[6];
	char off[16], lim[16], uid[24];
	enum MHD_Result rc;
	PGresult *r;

	if (num_arg(c, "offset", 0, NODE_OFFSET_MAX, 0, off) < 0)
		return http_error(c, MHD_HTTP_BAD_REQUEST, "offset: a number "
		    "in 0..1000000");
	if (num_arg(c, "limit", 1, NODE_PAGE_MAX, NODE_PAGE_DEFAULT, lim) < 0)
		return http_error(c, MHD_HTTP_BAD_REQUEST, "limit: a number "
		    "in 1..500");
	if (prof != NULL && (strlen(prof) > 32 || strspn(prof,
	    "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(prof)))
		return http_error(c, MHD_HTTP_BAD_REQUEST, "profile: a "
		    "profile name");
	if (state != NULL && *state != '\0' && strcmp(state, "free") != 0 &&
	    strcmp(state, "reserved") != 0 && strcmp(state, "deploying") != 0)
		return http_error(c, MHD_HTTP_BAD_REQUEST, "state: free, "
		    "reserved or deploying");
	snprintf(uid, sizeof(uid), "%lld", rq->who.id);
	params[0] = prof ? prof : "";
	params[1] = state ? state : "";
	params[2] = off;
	params[3] = lim;
	params[4] = uid;
	params[5] = rq->who.admin ? "t" : "f";
	r = db_query(rq->db, page_sql, 6, params);
	rc = http_pgjson(c, r, MHD_HTTP_OK, "nodes");
	PQclear(r);
	return rc;
}
