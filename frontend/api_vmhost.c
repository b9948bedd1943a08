/*
 * api_vmhost.c -- VM hosts (schema 024): where pipold runs virtual
 * nodes (power driver "vm", power_vm.c) and what they may take of it.
 *
 *   POST   /api/vmhosts {"name", "bridge", "cpus", "mem", "disk"}
 *          admins; mem and disk in MiB; a host's capacity may not drop
 *          below what its nodes take (409); 201
 *   GET    /api/vmhosts        anyone: each host, its capacity, what its
 *          nodes take, and their names
 *   DELETE /api/vmhosts/NAME   admins; 409 while nodes are on it
 *
 * Only this host (the frontend's) runs machines: "local" names it by
 * convention, and the name is free. The bridge is the boot network's,
 * which the machines' taps join.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "http.h"
#include "pipold.h"

static int
int_field(json_t *o, const char *k, long long lo, long long hi, char *buf,
    size_t len)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return -1;
	snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	return 0;
}

enum MHD_Result
api_vmhost_add(struct http_req *rq)
{
	const char *name = json_string_value(json_object_get(rq->o, "name"));
	const char *br = json_string_value(json_object_get(rq->o, "bridge"));
	char cpus[24], mem[24], disk[24];
	const char *params[5] = { name, br, cpus, mem, disk };
	enum MHD_Result rc;
	PGresult *r;

	if (name == NULL || br == NULL)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "\"name\" and "
		    "\"bridge\": strings are needed");
	if (int_field(rq->o, "cpus", 1, 4096, cpus, sizeof(cpus)) < 0)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "\"cpus\": 1 to "
		    "4096 vCPUs");
	if (int_field(rq->o, "mem", 64, 16777216, mem, sizeof(mem)) < 0)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "\"mem\": 64 to "
		    "16777216 MiB");
	if (int_field(rq->o, "disk", 64, 2147483647, disk, sizeof(disk)) < 0)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "\"disk\": 64 "
		    "to 2147483647 MiB");
	r = db_query(rq->db, "INSERT INTO vm_hosts (name, bridge, cpus, "
	    "mem_mib, disk_mib) VALUES ($1, $2, $3, $4, $5) ON CONFLICT "
	    "(name) DO UPDATE SET bridge = excluded.bridge, cpus = "
	    "excluded.cpus, mem_mib = excluded.mem_mib, disk_mib = "
	    "excluded.disk_mib", 5, params);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = http_sql_error(rq->c, r, name);
	else {
		db_event(rq->db, rq->who.name, "vmhost.set", json_incref(rq->o));
		rc = http_json(rq->c, MHD_HTTP_CREATED, json_incref(rq->o));
	}
	PQclear(r);
	return rc;
}

enum MHD_Result
api_vmhost_list(struct http_req *rq)
{
	enum MHD_Result rc;
	PGresult *r;

	r = db_query(rq->db, "SELECT json_build_object('vmhosts', coalesce("
	    "json_agg(json_build_object('name', h.name, 'bridge', h.bridge, "
	    "'cpus', h.cpus, 'mem', h.mem_mib, 'disk', h.disk_mib, 'used', "
	    "(SELECT json_build_object('cpus', u.cpus, 'mem', u.mem, 'disk', "
	    "u.disk) FROM vm_host_used(h.name, NULL) u), 'nodes', (SELECT "
	    "coalesce(json_agg(n.name ORDER BY n.name), '[]') FROM nodes n "
	    "WHERE n.power_driver = 'vm' AND n.power_params->>'host' = "
	    "h.name)) ORDER BY h.name), '[]')) FROM vm_hosts h", 0, NULL);
	rc = http_pgjson(rq->c, r, MHD_HTTP_OK, "vmhosts");
	PQclear(r);
	return rc;
}

enum MHD_Result
api_vmhost_rm(struct http_req *rq)
{
	const char *name = rq->url + strlen("/api/vmhosts/");
	enum MHD_Result rc;
	char err[96];
	PGresult *r;

	r = db_query(rq->db, "DELETE FROM vm_hosts WHERE name = $1", 1, &name);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = http_sql_error(rq->c, r, name);
	else if (strcmp(PQcmdTuples(r), "1") != 0) {
		snprintf(err, sizeof(err), "vm host %.64s: no such host", name);
		rc = http_error(rq->c, MHD_HTTP_NOT_FOUND, err);
	} else {
		db_event(rq->db, rq->who.name, "vmhost.rm", json_pack("{s:s}",
		    "name", name));
		rc = http_json(rq->c, MHD_HTTP_OK, json_pack("{s:s}",
		    "removed", name));
	}
	PQclear(r);
	return rc;
}
