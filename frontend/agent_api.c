/*
 * agent_api.c -- what a node's agent may ask, with its deployment's
 * bearer token (minted by boot.c, 256 bits, only its SHA-256 kept):
 *
 *   GET  /agent/order     this deployment's order, nothing of any other
 *   POST /agent/progress  {"state", "fetched", "written", "total"}
 *   POST /agent/result    {"state": "rebooting"|"ready"|"failed",
 *                          "reason": "..."}
 *   POST /agent/log       {"script", "status", "output", "site"?}
 *   POST /agent/phase     {"phase": "user", "token": HEX}: the boot
 *                          token traded for a user-phase one;
 *                          {"phase": "handover", "method": "kexec"}:
 *                          the agent jumps to the deployed kernel
 *                          (schema 013), either phase's token
 *
 * Two phases (schema 007): the boot token opens the order (the site's
 * scripts with it); once the site's scripts ran, the agent trades it
 * for a token of its own making, of the user phase, before the user's
 * rc scripts run. That token opens progress, result and log only: the
 * order, site scripts and site log lines are the boot phase's.
 *
 * A wipe's order carries no scripts: nothing runs on a wiped disk, and
 * the site's post-install scripts may hold its secrets.
 *
 * A token is good while its deployment is in flight, from the address
 * that fetched it: once ready or failed, or from elsewhere, it opens
 * nothing (auth.c looks it up; http.c lets only such a token through
 * to these routes). States only move forward, and only as the state
 * machine allows from where the deployment is (agent_advance, schema
 * 005: ready only after rebooting; anything else is a 409 that changes
 * nothing), so a report sent twice -- an agent retrying across a
 * pipold restart -- is recorded once.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "hash.h"
#include "pipold.h"

/*
 * sub (schema 016): the order of a deployment that runs a job's
 * command carries "job": {"run", "token"} (and "root", "reboot" for an
 * image refresh's run, whose order names no user), the job-run token the
 * post-install writes for the job hook (jobs.c mints it for the
 * address asking). Every other order is sent as the statement made it.
 */
static enum MHD_Result
order_with_job(struct http_req *rq, PGresult *r, const char *dep)
{
	char addr[HTTP_ADDR_MAX];
	json_t *o, *job;

	if (http_peer_addr(rq->c, addr) < 0 || (job = job_order_fields(rq->db,
	    dep, addr)) == NULL)
		return http_pgjson(rq->c, r, MHD_HTTP_OK, "order");
	if ((o = json_loads(PQgetvalue(r, 0, 0), 0, NULL)) == NULL) {
		json_decref(job);
		return http_pgjson(rq->c, r, MHD_HTTP_OK, "order");
	}
	/* refresh (schema 023): a refresh's deployment is bare of any
	 * user -- its disk becomes the image's next version, which must
	 * hold no account, key, home, hostname or script of the admin
	 * who asked or of the site's post-install */
	if (json_is_true(json_object_get(job, "root"))) {
		json_object_del(o, "user");
		json_object_del(o, "uid");
		json_object_del(o, "ssh_keys");
		json_object_del(o, "nfs_home");
		json_object_del(o, "hostname");
		json_object_set_new(o, "scripts", json_array());
	}
	json_object_set_new(o, "job", job);
	return http_json(rq->c, MHD_HTTP_OK, o);
}

enum MHD_Result
agent_order(struct http_req *rq)
{
	const char *params[2];
	enum MHD_Result rc;
	char dep[24];
	PGresult *r;

	if (rq->who.user_phase)
		return http_error(rq->c, MHD_HTTP_FORBIDDEN, "the order is "
		    "for the boot phase");
	snprintf(dep, sizeof(dep), "%lld", rq->who.deployment);
	params[0] = dep;
	params[1] = rq->pd->nfs_home;	/* NULL: no NFS home */
	/* the order names the index at the store path; chunks follow it */
	r = db_query(rq->db, "SELECT json_build_object('deployment', d.id, "
	    "'kind', d.kind, 'node', n.name, 'hostname', n.name, 'profile', "
	    "n.profile, 'disk', n.disk, 'bare', d.bare, 'preloaded', "
	    "d.preloaded, 'image', "
	    "json_build_object('name', d.image_name, 'version', "
	    "d.image_version, 'index', '/images/' || d.image_name || '/' || "
	    "d.image_version || '.idx', 'disk_hash', encode(d.disk_hash, "
	    "'hex'), 'size', d.bytes_total), 'user', u.name, 'uid', 10000 + "
	    "u.id, 'ssh_keys', u.ssh_keys, 'nfs_home', $2 || '/' || u.name, "
	    "'scripts', (SELECT coalesce(json_agg(json_build_object('kind', "
	    "s.kind, 'name', s.name, 'body', translate(encode(s.body, "
	    "'base64'), E'\\n', '')) ORDER BY s.kind = 'rc', s.name COLLATE "
	    "\"C\"), '[]') FROM scripts s WHERE d.kind <> 'wipe' AND (s.kind "
	    "= 'postinstall' OR s.owner_id = d.user_id)), 'kexec', d.kexec AND "
	    "n.kexec, 'sources', coalesce((SELECT to_json(k.caches) FROM "
	    "racks k WHERE k.name = n.rack), '[]'::json)), deploy_advance("
	    "d.id, 'fetching', NULL) FROM deployments d JOIN nodes n ON n.id "
	    "= d.node_id LEFT JOIN users u ON u.id = d.user_id WHERE d.id = "
	    "$1 AND d.token_phase = 'boot'", 2, params);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		rc = order_with_job(rq, r, dep);
	else
		rc = http_pgjson(rq->c, r, MHD_HTTP_OK, "order");
	PQclear(r);
	return rc;
}

/* A byte count from a report: absent is 0, anything else refused. */
static int
count_field(json_t *o, const char *k, char *buf, size_t len)
{
	json_t *v = json_object_get(o, k);

	if (v == NULL) {
		snprintf(buf, len, "-1");	/* keep what is stored */
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	return 0;
}

static int
state_ok(const char *s, int final)
{
	static const char *const progress[] = { "fetching", "writing",
	    "postinstall", NULL };
	static const char *const results[] = { "rebooting", "ready",
	    "failed", NULL };
	const char *const *p;

	for (p = final ? results : progress; *p; p++)
		if (strcmp(*p, s) == 0)
			return 1;
	return 0;
}

/*
 * racks (schema 025): the result's "sources", [{"url", "bytes",
 * "failed_over"}], 8 at most (the agent asks 7 caches and pipold), each
 * URL an http(s) one of printable bytes; absent is fine, anything else
 * refused. *out is the list (a new reference) or NULL.
 */
static int
sources_ok(json_t *o, json_t **out)
{
	json_t *v = json_object_get(o, "sources"), *e;
	const char *u;
	size_t i, j;

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_array(v) || json_array_size(v) > 8)
		return -1;
	json_array_foreach(v, i, e) {
		u = json_string_value(json_object_get(e, "url"));
		if (!json_is_object(e) || json_object_size(e) != 3 || u == NULL ||
		    strlen(u) > 256 || (strncmp(u, "http://", 7) != 0 &&
		    strncmp(u, "https://", 8) != 0) ||
		    !json_is_integer(json_object_get(e, "bytes")) ||
		    json_integer_value(json_object_get(e, "bytes")) < 0 ||
		    !json_is_integer(json_object_get(e, "failed_over")) ||
		    json_integer_value(json_object_get(e, "failed_over")) < 0)
			return -1;
		for (j = 0; u[j]; j++)
			if ((unsigned char)u[j] <= ' ' || u[j] == 0x7f)
				return -1;
	}
	*out = json_incref(v);
	return 0;
}

/* POST /agent/progress and /agent/result: both advance the state. */
static enum MHD_Result
agent_report(struct http_req *rq, int final)
{
	struct MHD_Connection *c = rq->c;
	json_t *o = rq->o;
	char dep[24], f[24], w[24], t[24], *src = NULL;
	const char *params[8], *st, *why;
	json_t *sources;
	enum MHD_Result rc;
	PGresult *r;

	st = json_string_value(json_object_get(o, "state"));
	why = json_string_value(json_object_get(o, "reason"));
	if ((st == NULL && final) || (st != NULL && !state_ok(st, final)) ||
	    (json_object_get(o, "reason") && (why == NULL ||
	    strlen(why) > 1024)) ||
	    count_field(o, "fetched", f, sizeof(f)) < 0 ||
	    count_field(o, "written", w, sizeof(w)) < 0 ||
	    count_field(o, "total", t, sizeof(t)) < 0 ||
	    sources_ok(o, &sources) < 0)
		return http_error(c, MHD_HTTP_BAD_REQUEST, final ?
		    "want {\"state\": \"rebooting\"|\"ready\"|\"failed\", "
		    "\"reason\": text, \"sources\": [{\"url\", \"bytes\", "
		    "\"failed_over\"}]}" : "want {\"state\": \"fetching\"|"
		    "\"writing\"|\"postinstall\", \"fetched\": N, \"written\": "
		    "N, \"total\": N}");
	if (sources != NULL) {
		src = json_dumps(sources, JSON_COMPACT);
		json_decref(sources);
	}
	snprintf(dep, sizeof(dep), "%lld", rq->who.deployment);
	params[0] = dep;
	params[1] = f;
	params[2] = w;
	params[3] = t;
	params[4] = st;
	params[5] = why;
	/*
	 * Progress is committed without waiting for the WAL flush (SET
	 * LOCAL synchronous_commit = off, for this transaction only): a
	 * report a crash loses is sent again a second later, and states
	 * only move forward, so one lost changes nothing that lasts. The
	 * agent's result (final) is still committed synchronously, and
	 * answered only once durable. Measured with 1,000 agents each
	 * second (2 cores, a VM disk): p50 4.6 -> 1.4 ms, PostgreSQL from
	 * 62 to 50 % of a core.
	 */
	params[6] = final ? NULL : "off";
	params[7] = src;
	r = db_exec_prepared(rq->db, "agent_report", "WITH u AS (UPDATE "
	    "deployments SET sources = coalesce($8::jsonb, sources), "
	    "bytes_fetched = CASE WHEN $2::bigint < 0 THEN bytes_fetched "
	    "ELSE $2 END, bytes_written = CASE WHEN $3::bigint < 0 THEN "
	    "bytes_written ELSE $3 END, bytes_total = CASE WHEN $4::bigint < 0 "
	    "THEN bytes_total ELSE $4 END, "
	    "updated = clock_timestamp() WHERE id = $1 RETURNING id) SELECT "
	    "CASE WHEN $5::text IS NULL THEN false ELSE agent_advance($1, $5, "
	    "$6) END, (SELECT state FROM deployments WHERE id = $1), "
	    "set_config('synchronous_commit', coalesce($7, current_setting("
	    "'synchronous_commit')), true) FROM u", 8, params, NULL, NULL);
	free(src);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		rc = http_sql_error(c, r, "report");
	else {
		if (PQgetvalue(r, 0, 0)[0] == 't')	/* rebooting, ready */
			elilo_sync(rq->pd);
		if (final && PQgetvalue(r, 0, 0)[0] == 't')
			db_event(rq->db, "agent", "deploy.result", json_pack(
			    "{s:s, s:s, s:s?}", "deployment", dep, "state", st,
			    "reason", why));
		/* the statement's snapshot predates its own advance */
		rc = http_json(c, MHD_HTTP_OK, json_pack("{s:s}", "state",
		    PQgetvalue(r, 0, 0)[0] == 't' ? st : PQgetvalue(r, 0, 1)));
	}
	PQclear(r);
	return rc;
}

enum MHD_Result
agent_progress(struct http_req *rq)
{
	return agent_report(rq, 0);
}

enum MHD_Result
agent_result(struct http_req *rq)
{
	return agent_report(rq, 1);
}

/* POST /agent/log: one post-install script's run, kept for the user;
 * a site script's ("site": true, boot phase only) for admins only. */
enum MHD_Result
agent_log(struct http_req *rq)
{
	struct MHD_Connection *c = rq->c;
	const char *params[5], *script, *out;
	json_t *site = json_object_get(rq->o, "site");
	char dep[24], st[16];
	enum MHD_Result rc;
	json_t *o = rq->o, *v;
	PGresult *r;

	script = json_string_value(json_object_get(o, "script"));
	out = json_string_value(json_object_get(o, "output"));
	v = json_object_get(o, "status");
	if (script == NULL || strlen(script) > 128 || out == NULL ||
	    !json_is_integer(v) || json_integer_value(v) < -1024 ||
	    json_integer_value(v) > 1024 || (site && !json_is_boolean(site)))
		return http_error(c, MHD_HTTP_BAD_REQUEST, "want {\"script\": "
		    "NAME, \"status\": N, \"output\": text, \"site\": BOOL}");
	if (json_is_true(site) && rq->who.user_phase)
		return http_error(c, MHD_HTTP_FORBIDDEN, "site scripts' output "
		    "is the boot phase's");
	snprintf(dep, sizeof(dep), "%lld", rq->who.deployment);
	snprintf(st, sizeof(st), "%d", (int)json_integer_value(v));
	params[0] = dep;
	params[1] = script;
	params[2] = st;
	params[3] = out;
	params[4] = json_is_true(site) ? "t" : "f";
	r = db_query(rq->db, "INSERT INTO deployment_logs (deployment_id, "
	    "script, status, output, site) VALUES ($1, $2, $3, $4, $5) "
	    "RETURNING json_build_object('logged', seq)", 5, params);
	rc = http_pgjson(c, r, MHD_HTTP_OK, "log");
	PQclear(r);
	return rc;
}

/*
 * POST /agent/phase {"phase": "handover", "method": "kexec"}: the agent,
 * its result reported (rebooting), jumps to the deployed kernel; the
 * timeline's handover phase is now (agent_handover, schema 013: once,
 * and only when kexec was on for the deployment). Either phase's token:
 * a bare deployment never trades its boot token. It opens nothing.
 */
static enum MHD_Result
agent_handover(struct http_req *rq)
{
	const char *how = json_string_value(json_object_get(rq->o, "method"));
	const char *params[2];
	enum MHD_Result rc;
	char dep[24];
	PGresult *r;

	if (how == NULL || strcmp(how, "kexec") != 0 ||
	    json_object_size(rq->o) != 2)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "want "
		    "{\"phase\": \"handover\", \"method\": \"kexec\"}");
	snprintf(dep, sizeof(dep), "%lld", rq->who.deployment);
	params[0] = dep;
	params[1] = how;
	r = db_query(rq->db, "SELECT agent_handover($1, $2)", 2, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = http_sql_error(rq->c, r, "handover");
	else {
		db_event(rq->db, "agent", "deploy.phase", json_pack("{s:s, "
		    "s:s}", "deployment", dep, "phase", "handover"));
		rc = http_json(rq->c, MHD_HTTP_OK, json_pack("{s:s, s:s}",
		    "phase", "handover", "method", how));
	}
	PQclear(r);
	return rc;
}

/*
 * POST /agent/phase {"phase": "user", "token": HEX}: the boot-phase
 * agent, its site scripts run, names the token of its user phase (64
 * hex digits of its own getrandom); its SHA-256 replaces the boot
 * token's in one statement (agent_phase, schema 007: once, in
 * postinstall). From then on the boot token opens nothing (401) and
 * the new one no order (403).
 */
enum MHD_Result
agent_phase(struct http_req *rq)
{
	struct MHD_Connection *c = rq->c;
	const char *phase, *tok, *params[2];
	uint8_t hash[32], mine[32];
	char dep[24];
	enum MHD_Result rc;
	size_t i;
	PGresult *r;
	int lens[2] = { 0, 32 }, fmts[2] = { 0, 1 };

	phase = json_string_value(json_object_get(rq->o, "phase"));
	tok = json_string_value(json_object_get(rq->o, "token"));
	if (phase != NULL && strcmp(phase, "handover") == 0)
		return agent_handover(rq);
	if (phase == NULL || strcmp(phase, "user") != 0 || tok == NULL ||
	    strlen(tok) != 64)
		return http_error(c, MHD_HTTP_BAD_REQUEST, "want {\"phase\": "
		    "\"user\", \"token\": 64 hex digits}");
	for (i = 0; i < 64; i++)
		if (strchr("0123456789abcdef", tok[i]) == NULL)
			return http_error(c, MHD_HTTP_BAD_REQUEST, "the token: "
			    "64 lower-case hex digits");
	hash_buf(tok, 64, hash);
	/* the trade sent again with the token it named (its answer was
	 * lost, the boot token is dead): the same answer; only the agent
	 * that named that token holds it */
	if (rq->who.user_phase && auth_bearer_hash(c, mine) == 0 &&
	    auth_same(hash, mine))
		return http_json(c, MHD_HTTP_OK, json_pack("{s:s}", "phase",
		    "user"));
	if (rq->who.user_phase)
		return http_error(c, MHD_HTTP_FORBIDDEN, "already in the "
		    "user phase");
	snprintf(dep, sizeof(dep), "%lld", rq->who.deployment);
	params[0] = dep;
	params[1] = (const char *)hash;
	r = db_query_bin(rq->db, "SELECT agent_phase($1, $2)", 2, params,
	    lens, fmts);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = http_sql_error(c, r, "phase");
	else {
		db_event(rq->db, "agent", "deploy.phase", json_pack("{s:s, "
		    "s:s}", "deployment", dep, "phase", "user"));
		rc = http_json(c, MHD_HTTP_OK, json_pack("{s:s}", "phase",
		    "user"));
	}
	PQclear(r);
	return rc;
}
