/*
 * route_test.c -- http.c's route table and its authorisation: each
 * route's level and body limit as declared (a concrete URL per route),
 * the paths that are no route (404) or another method's (405), the pure
 * decision of who may call a level, and the body limits, whose largest
 * only upload routes may have (their caller is checked first).
 */
#include <string.h>

#include "api.h"
#include "harness.h"
#include "http.h"
#include "web.h"

static const struct {
	const char *method, *url;
	enum http_level level;
	size_t body_max;
	route_fn *fn;
} cases[] = {
	{ "GET", "/health", HTTP_PUBLIC, 0, NULL },
	{ "GET", "/boot/52:54:00:12:34:56", HTTP_PUBLIC, 0, boot_script },
	{ "HEAD", "/boot/52-54-00-12-34-56", HTTP_PUBLIC, 0, boot_script },
	{ "GET", "/bootenv/generic/vmlinuz", HTTP_PUBLIC, 0, http_bootenv },
	{ "GET", "/api/whoami", HTTP_USER, 0, api_whoami },
	{ "POST", "/api/users", HTTP_ADMIN, API_BODY_MAX, api_user_add },
	{ "POST", "/api/nodes", HTTP_ADMIN, API_BODY_MAX, api_node_add },
	{ "GET", "/api/nodes", HTTP_USER, 0, api_node_list },
	{ "GET", "/api/nodes/n1", HTTP_USER, 0, api_node_show },
	{ "POST", "/api/nodes/n1", HTTP_ADMIN, API_BODY_MAX, api_node_set },
	{ "POST", "/api/nodes/n1/power", HTTP_USER, API_BODY_MAX,
	    api_node_power },
	{ "POST", "/api/nodes/n1/boot", HTTP_ADMIN, API_BODY_MAX,
	    api_node_boot },
	{ "POST", "/api/reservations", HTTP_USER, API_BODY_MAX, api_resv_add },
	{ "GET", "/api/reservations", HTTP_USER, 0, api_resv_list },
	{ "POST", "/api/reservations/7/extend", HTTP_USER, API_BODY_MAX,
	    api_resv_change },
	{ "POST", "/api/reservations/7/release", HTTP_USER, API_BODY_MAX,
	    api_resv_change },
	{ "POST", "/api/licences", HTTP_ADMIN, API_BODY_MAX, api_licence_add },
	{ "GET", "/api/licences", HTTP_USER, 0, api_licence_list },
	{ "POST", "/api/racks", HTTP_ADMIN, API_BODY_MAX, api_rack_add },
	{ "GET", "/api/racks", HTTP_USER, 0, api_rack_list },
	{ "DELETE", "/api/racks/r1", HTTP_ADMIN, 0, api_rack_rm },
	{ "POST", "/api/vmhosts", HTTP_ADMIN, API_BODY_MAX, api_vmhost_add },
	{ "GET", "/api/vmhosts", HTTP_USER, 0, api_vmhost_list },
	{ "DELETE", "/api/vmhosts/local", HTTP_ADMIN, 0, api_vmhost_rm },
	{ "POST", "/api/queues", HTTP_ADMIN, API_BODY_MAX, api_queue_add },
	{ "GET", "/api/queues", HTTP_USER, 0, api_queue_list },
	{ "POST", "/api/deployments", HTTP_USER, API_BODY_MAX,
	    api_deploy_add },
	{ "GET", "/api/deployments", HTTP_USER, 0, api_deploy_list },
	{ "GET", "/api/deployments/3/log", HTTP_USER, 0, api_deploy_log },
	{ "POST", "/api/scripts", HTTP_USER, API_BODY_MAX, api_script_add },
	{ "GET", "/api/scripts", HTTP_USER, 0, api_script_list },
	{ "GET", "/api/scripts/rc/rcfoo", HTTP_USER, 0, api_script_get },
	{ "DELETE", "/api/scripts/rc/rcfoo", HTTP_USER, 0, api_script_rm },
	{ "GET", "/agent/order", HTTP_AGENT, 0, agent_order },
	{ "POST", "/agent/progress", HTTP_AGENT, API_BODY_MAX,
	    agent_progress },
	{ "POST", "/agent/result", HTTP_AGENT, API_BODY_MAX, agent_result },
	{ "POST", "/agent/log", HTTP_AGENT, API_BODY_MAX, agent_log },
	{ "POST", "/api/captures", HTTP_ADMIN, API_BODY_MAX,
	    api_capture_add },
	{ "POST", "/api/capture/os/missing", HTTP_UPLOAD, CAPTURE_POST_MAX,
	    api_capture_post },
	{ "POST", "/api/capture/os/index", HTTP_UPLOAD, CAPTURE_POST_MAX,
	    api_capture_post },
	{ "PUT", "/api/capture/chunks/" "0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef.zst", HTTP_UPLOAD,
	    CAPTURE_PUT_MAX, api_capture_put },
	/* policy (api_policy.c): admins change, users see the site */
	{ "GET", "/api/groups", HTTP_ADMIN, 0, api_group_list },
	{ "POST", "/api/groups", HTTP_ADMIN, API_BODY_MAX, api_group_set },
	{ "POST", "/api/groups/members", HTTP_ADMIN, API_BODY_MAX,
	    api_group_member },
	{ "GET", "/api/grants", HTTP_ADMIN, 0, api_grant_list },
	{ "POST", "/api/grants", HTTP_ADMIN, API_BODY_MAX, api_grant_set },
	{ "GET", "/api/site", HTTP_USER, 0, api_site_show },
	{ "POST", "/api/site", HTTP_ADMIN, API_BODY_MAX, api_site_set },
	{ "POST", "/api/users/alice/limits", HTTP_ADMIN, API_BODY_MAX,
	    api_user_limits },
	/* api_token.c */
	{ "GET", "/api/tokens", HTTP_USER, 0, api_token_list },
	{ "POST", "/api/tokens", HTTP_USER, API_BODY_MAX, api_token_add },
	{ "DELETE", "/api/tokens/12", HTTP_USER, 0, api_token_revoke },
	{ "POST", "/api/tokens/12/rotate", HTTP_USER, 0, api_token_rotate },
	/* agent-phase */
	{ "POST", "/agent/phase", HTTP_AGENT, API_BODY_MAX, agent_phase },
	/* netboot: the kernel's pieces (their token checked before the
	 * body, http.c), then its record */
	{ "PUT", "/agent/kernel/kernel", HTTP_AGENT, NETBOOT_PIECE_MAX,
	    agent_kernel_put },
	{ "PUT", "/agent/kernel/initrd", HTTP_AGENT, NETBOOT_PIECE_MAX,
	    agent_kernel_put },
	{ "POST", "/agent/kernel", HTTP_AGENT, API_BODY_MAX,
	    agent_kernel_post },
	/* mac: GRUB scripts, public as /boot/ is */
	{ "GET", "/grub/52:54:00:12:34:56", HTTP_PUBLIC, 0, grub_script },
	/* imageapi: users list and show, admins change */
	{ "GET", "/api/images", HTTP_USER, 0, api_image_list },
	{ "GET", "/api/images/debian12", HTTP_USER, 0, api_image_show },
	{ "GET", "/api/images/debian12/packages", HTTP_USER, 0,
	    api_image_packages },
	{ "POST", "/api/images/debian12/validate", HTTP_ADMIN, API_BODY_MAX,
	    api_image_validate },
	{ "POST", "/api/images/debian12/promote", HTTP_ADMIN, API_BODY_MAX,
	    api_image_promote },
	{ "POST", "/api/images/debian12/rollback", HTTP_ADMIN, 0,
	    api_image_rollback },
	{ "POST", "/api/images/debian12/copy", HTTP_ADMIN, API_BODY_MAX,
	    api_image_copy },
	/* sub: the job API; the job hook's routes are public (api_job.c
	 * looks up the job-run token itself) */
	{ "POST", "/api/jobs", HTTP_USER, API_BODY_MAX, api_job_add },
	{ "POST", "/api/jobs/7/source", HTTP_USER, JOB_PIECE_MAX,
	    api_job_change },
	{ "POST", "/api/jobs/7/cancel", HTTP_USER, JOB_PIECE_MAX,
	    api_job_change },
	{ "GET", "/api/jobs", HTTP_USER, 0, api_job_list },
	{ "GET", "/api/jobs/matrix", HTTP_USER, 0, api_job_get },
	{ "GET", "/api/jobs/7/runs/9/stdout", HTTP_USER, 0, api_job_get },
	{ "GET", "/job/argv", HTTP_PUBLIC, 0, job_hook_argv },
	{ "GET", "/job/source", HTTP_PUBLIC, 0, job_hook_source },
	{ "POST", "/job/out/stdout", HTTP_PUBLIC, JOB_PIECE_MAX, job_hook_out },
	{ "POST", "/job/result", HTTP_PUBLIC, API_BODY_MAX, job_hook_result },
	/* metrics: admins only */
	{ "GET", "/metrics", HTTP_ADMIN, 0, api_metrics },
	/* bmc: the holder's account (checked in api_bmc.c), admin rotation */
	{ "GET", "/api/bmc/n1", HTTP_USER, 0, api_bmc_show },
	{ "POST", "/api/bmc/n1/rotate-admin", HTTP_ADMIN, 0, api_bmc_rotate },
	/* refresh: admins only, both */
	{ "POST", "/api/images/debian12/refresh", HTTP_ADMIN, API_BODY_MAX,
	    api_refresh_add },
	{ "GET", "/api/images/debian12/history", HTTP_ADMIN, 0,
	    api_refresh_history },
	/* web: the pages are public, the session's routes a user's (login
	 * public: the token it takes is the proof) */
	{ "GET", "/web", HTTP_PUBLIC, 0, web_file_get },
	{ "GET", "/web/app.js", HTTP_PUBLIC, 0, web_file_get },
	{ "POST", "/api/web/login", HTTP_PUBLIC, API_BODY_MAX, web_login },
	{ "POST", "/api/web/logout", HTTP_USER, 0, web_logout },
	{ "GET", "/api/web/session", HTTP_USER, 0, web_session_show },
	{ "GET", "/api/events", HTTP_USER, 0, web_events },
	{ "GET", "/api/web/docs/admin", HTTP_USER, 0, web_docs_get },
	/* console: before the /api/nodes/ and /api/deployments/ prefixes */
	{ "GET", "/api/nodes/n1/console", HTTP_USER, 0, api_node_console },
	{ "GET", "/api/deployments/7/console", HTTP_USER, 0,
	    api_deploy_console },
	{ "GET", "/api/deployments/7/log", HTTP_USER, 0, api_deploy_log },
	/* cron: a user's own entries (api_cron.c checks the owner) */
	{ "POST", "/api/cron", HTTP_USER, API_BODY_MAX, api_cron_add },
	{ "GET", "/api/cron", HTTP_USER, 0, api_cron_list },
	{ "DELETE", "/api/cron/nightly-build", HTTP_USER, 0, api_cron_rm },
	{ "POST", "/api/cron/7/pause", HTTP_USER, 0, api_cron_change },
	{ "POST", "/api/cron/7/resume", HTTP_USER, 0, api_cron_change },
};

/* Every route as declared, and every route of the table met above. */
static void
route_levels(void)
{
	const struct route *rt, *seen[256] = { NULL };
	size_t i, n = 0, k;
	int known;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rt = http_route_find(cases[i].method, cases[i].url, &known);
		CHECK(rt != NULL);
		if (rt == NULL) {
			fprintf(stderr, "  %s %s: no route\n", cases[i].method,
			    cases[i].url);
			continue;
		}
		if (rt->level != cases[i].level ||
		    rt->body_max != cases[i].body_max ||
		    (cases[i].fn != NULL && rt->fn != cases[i].fn))
			fprintf(stderr, "  %s %s: level %d, body %zu\n",
			    cases[i].method, cases[i].url, (int)rt->level,
			    rt->body_max);
		CHECK(rt->level == cases[i].level);
		CHECK(rt->body_max == cases[i].body_max);
		CHECK(cases[i].fn == NULL || rt->fn == cases[i].fn);
		for (k = 0; k < n && seen[k] != rt; k++)
			;
		if (k == n && n < 256)
			seen[n++] = rt;
	}
	for (k = 0; http_routes[k].path != NULL; k++) {
		for (i = 0; i < n && seen[i] != &http_routes[k]; i++)
			;
		if (i == n)
			fprintf(stderr, "  %s %s: no case\n",
			    http_routes[k].method, http_routes[k].path);
	}
	CHECK(n == k);		/* no route left untested */
}

/* 404 and 405: no route, or not that method. */
static void
route_missing(void)
{
	static const struct {
		const char *method, *url;
		int known;
	} bad[] = {
		{ "GET", "/", 0 }, { "GET", "/api", 0 },
		{ "GET", "/api/whoami/", 0 }, { "GET", "/api/nodes/", 0 },
		{ "GET", "/boot/", 0 }, { "POST", "/api/nodes/", 0 },
		{ "GET", "/api/usersx", 0 }, { "GET", "/healthz", 0 },
		{ "POST", "/health", 1 }, { "DELETE", "/api/nodes", 1 },
		{ "GET", "/api/users", 1 }, { "PUT", "/api/nodes/n1", 1 },
		{ "GET", "/agent/progress", 1 }, { "POST", "/agent/order", 1 },
		{ "PUT", "/api/nodes/n1/power", 1 },
	};
	const struct route *rt;
	size_t i;
	int known;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rt = http_route_find(bad[i].method, bad[i].url, &known);
		CHECK(rt == NULL);
		CHECK(known == bad[i].known);
		if (rt != NULL || known != bad[i].known)
			fprintf(stderr, "  %s %s\n", bad[i].method, bad[i].url);
	}
}

/* Who may call each level: 0, 401 or 403. */
static void
route_allows(void)
{
	struct caller none = { .kind = CALLER_NONE };
	struct caller user = { .kind = CALLER_USER, .id = 2 };
	struct caller admin = { .kind = CALLER_USER, .id = 1, .admin = 1 };
	struct caller agent = { .kind = CALLER_AGENT, .deployment = 5,
	    .dep_kind = "deploy" };
	struct caller capture = { .kind = CALLER_AGENT, .deployment = 6,
	    .dep_kind = "capture", .image = "os" };
	static const struct {
		enum http_level level;
		unsigned none, user, admin, agent, capture;
	} t[] = {
		{ HTTP_PUBLIC, 0, 0, 0, 0, 0 },
		{ HTTP_USER, 401, 0, 0, 401, 401 },
		{ HTTP_ADMIN, 401, 403, 0, 401, 401 },
		{ HTTP_AGENT, 401, 401, 401, 0, 0 },
		{ HTTP_UPLOAD, 401, 403, 0, 401, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CHECK(http_allows(t[i].level, &none) == t[i].none);
		CHECK(http_allows(t[i].level, &user) == t[i].user);
		CHECK(http_allows(t[i].level, &admin) == t[i].admin);
		CHECK(http_allows(t[i].level, &agent) == t[i].agent);
		CHECK(http_allows(t[i].level, &capture) == t[i].capture);
	}
	/* an agent is never an admin, whatever its record says */
	agent.admin = 1;
	CHECK(http_allows(HTTP_ADMIN, &agent) == 401);
	CHECK(http_allows(HTTP_USER, &agent) == 401);
}

/* Body limits: bodiless routes take none; only uploads take more than
 * API_BODY_MAX, and the agent's kernel pieces; routes with keys take a
 * body. */
static void
route_bodies(void)
{
	const struct route *rt;
	int known;

	rt = http_route_find("POST", "/api/users", &known);
	CHECK(rt != NULL && http_body_fits(rt, API_BODY_MAX));
	CHECK(rt != NULL && !http_body_fits(rt, API_BODY_MAX + 1));
	rt = http_route_find("GET", "/api/whoami", &known);
	CHECK(rt != NULL && http_body_fits(rt, 0));
	CHECK(rt != NULL && !http_body_fits(rt, 1));
	rt = http_route_find("PUT", "/api/capture/chunks/x.gz", &known);
	CHECK(rt != NULL && http_body_fits(rt, CAPTURE_PUT_MAX));
	CHECK(rt != NULL && !http_body_fits(rt, CAPTURE_PUT_MAX + 1));
	rt = http_route_find("POST", "/agent/progress", &known);
	CHECK(rt != NULL && !http_body_fits(rt, API_BODY_MAX + 1));
	for (rt = http_routes; rt->path != NULL; rt++) {
		CHECK(rt->body_max <= API_BODY_MAX || rt->level == HTTP_UPLOAD
		    || (rt->level == HTTP_AGENT && rt->body_max ==
		    NETBOOT_PIECE_MAX) || rt->body_max == JOB_PIECE_MAX);
		CHECK(rt->keys == NULL || rt->body_max > 0);
		CHECK(strcmp(rt->method, "GET") != 0 || rt->body_max == 0);
	}
}

int
main(void)
{
	RUN(route_levels);
	RUN(route_missing);
	RUN(route_allows);
	RUN(route_bodies);
	DONE();
}
