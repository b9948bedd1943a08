/*
 * boot.c -- GET /boot/MAC: the iPXE script of the node with that MAC,
 * rendered from its state (ipxe/README.md has the table). A node with a
 * deployment in flight, not yet past writing, gets the deploy script
 * with a fresh token once per boot cycle pipold started (boot_arm: the
 * power cycle of a deploy, a power on, reset or cycle through the API),
 * and only from its leased address when it has one: its hash, bound to
 * the address that asked, replaces the previous one, which dies. That
 * is the moment a deployment moves from pending to booting. Any other
 * ask -- a second one in the cycle, a node that rebooted by itself,
 * another address -- gets the wait script, then the rescue environment:
 * never a token, and nothing changes. A node whose reservation ended
 * is parked (boot_mode park, schema 006): it gets the park script,
 * whatever the query says, until a deployment or an admin moves it.
 *
 * A netboot-only node that would boot its disk gets netboot.ipxe
 * instead: its deployed system's kernel from pipold (netboot.c, which
 * also answers /boot/MAC/kernel and /boot/MAC/initrd).
 *
 * Anyone on the boot network can ask for any MAC, as with every PXE
 * setup; what a token grants is bounded by its deployment and its
 * address: that node's order, progress and result, nothing else, until
 * it ends (docs/protocol.md, "Trust").
 *
 * GET /grub/MAC is the same decision for GRUB (mac-efi32 nodes, whose
 * 32-bit EFI runs no iPXE): grub/NAME.cfg, through grub.c's stricter
 * check of what enters a GRUB line.
 *
 * Also the renderer of the templates (boot.h), and POST
 * /api/nodes/NAME/boot, an admin's choice of what a node boots when it
 * is not being deployed. Replies are http.c's.
 */
#include <sys/socket.h>
#include <ctype.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "boot.h"
#include "grub.h"
#include "log.h"
#include "pipold.h"

int
boot_value_ok(const char *v, int spaces)
{
	for (; *v; v++)
		if (!isprint((unsigned char)*v) || strchr("\"'\\$`;&|<>", *v)
		    || (*v == ' ' && !spaces))
			return 0;
	return 1;
}

int
boot_vars_fit(const struct boot_var *v, int nv,
    int (*ok)(const char *, int), const char *line, int max, char *err,
    size_t errlen)
{
	int i, spaces;

	for (i = 0; i < nv; i++) {
		spaces = strcmp(v[i].name, "CONSOLE") == 0 ||
		    strcmp(v[i].name, "CMDLINE") == 0;
		if (!ok(v[i].value, spaces)) {
			snprintf(err, errlen, "%s: not fit for %s (letters, "
			    "digits, ._-,:/=+@%%~%s; at most %d bytes)",
			    v[i].name, line, spaces ? ", spaces" : "", max);
			return -1;
		}
	}
	return 0;
}

void
boot_var_set(struct boot_var *v, int *n, const char *name, const char *value)
{
	if (*n >= BOOT_VARS)
		return;
	v[*n].name = name;
	snprintf(v[*n].value, sizeof(v[*n].value), "%s", value ? value : "");
	(*n)++;
}

char *
boot_render(const char *tname, const struct boot_var *v, int nv)
{
	const struct boot_template *t;
	const char *p, *at, *end;
	char *out;
	size_t len = 0, n;
	int i;

	/* the callers check each value for its place; this is the last
	 * word: nothing iPXE would expand or that would end a line */
	for (i = 0; i < nv; i++)
		if (!boot_value_ok(v[i].value, 1))
			return NULL;
	for (t = boot_templates; t->name && strcmp(t->name, tname); t++)
		;
	if (t->name == NULL || (out = malloc(BOOT_SCRIPT_MAX)) == NULL)
		return NULL;
	for (p = t->text; *p; p = end + 1) {
		at = strchr(p, '@');
		end = at ? strchr(at + 1, '@') : NULL;
		n = (size_t)((at && end ? at : p + strlen(p)) - p);
		if (len + n >= BOOT_SCRIPT_MAX)
			goto toolong;
		memcpy(out + len, p, n);
		len += n;
		if (at == NULL || end == NULL)
			break;
		for (i = 0; i < nv; i++)
			if (strlen(v[i].name) == (size_t)(end - at - 1) &&
			    strncmp(v[i].name, at + 1, end - at - 1) == 0)
				break;
		if (i == nv) {	/* not ours: keep the text as it is */
			end = at;
			if (len + 1 >= BOOT_SCRIPT_MAX)
				goto toolong;
			out[len++] = '@';
			continue;
		}
		n = strlen(v[i].value);
		if (len + n >= BOOT_SCRIPT_MAX)
			goto toolong;
		memcpy(out + len, v[i].value, n);
		len += n;
	}
	out[len] = '\0';
	return out;
 toolong:
	free(out);
	return NULL;
}

/* "52:54:00:ab:cd:ef" or with '-': lower-case, ':'-separated in mac */
static int
mac_parse(const char *s, char mac[18])
{
	int i;

	if (strlen(s) != 17)
		return -1;
	for (i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (s[i] != ':' && s[i] != '-')
				return -1;
			mac[i] = ':';
		} else if (!isxdigit((unsigned char)s[i]))
			return -1;
		else
			mac[i] = (char)tolower((unsigned char)s[i]);
	}
	mac[17] = '\0';
	return 0;
}

/* --public-url, else http://HOST as the node reached us (Host header) */
static int
server_url(struct pipold *pd, struct MHD_Connection *c, char *buf,
    size_t len)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_HOST);
	const char *p;

	if (pd->dnsmasq.url[0] != '\0') {
		snprintf(buf, len, "%s", pd->dnsmasq.url);
		return 0;
	}
	if (h == NULL || *h == '\0' || strlen(h) > 255)
		return -1;
	for (p = h; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".-:[]", *p))
			return -1;
	snprintf(buf, len, "http://%s", h);
	return 0;
}

/*
 * The GRUB form of script tname (mac-efi32, grub.c): local-bios and
 * local-uefi are grub/local.cfg; GRUB reaches pipold at (http,HOST:PORT)
 * BASE, from the server's URL. A value unfit for GRUB is refused.
 */
static char *
grub_script_text(const char *server, const char *tname, struct boot_var *v,
    int nv)
{
	struct grub_server s;
	char err[200];
	char *text;

	if (grub_server_parse(server, &s) < 0) {
		log_warnx("grub: %s: not a URL GRUB can reach", server);
		return NULL;
	}
	boot_var_set(v, &nv, "HOST", s.host);
	boot_var_set(v, &nv, "PORT", s.port);
	boot_var_set(v, &nv, "BASE", s.base);
	if (strncmp(tname, "local-", 6) == 0)
		tname = "local";
	if ((text = grub_render(tname, v, nv, err, sizeof(err))) == NULL)
		log_warnx("grub: %s", err);
	return text;
}

static enum MHD_Result
answer_script(struct MHD_Connection *c, const char *tname,
    struct boot_var *v, int nv, int grub)
{
	char *text = grub ? grub_script_text(v[0].value, tname, v, nv) :
	    boot_render(tname, v, nv);
	enum MHD_Result rc;

	if (text == NULL)
		return http_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "#!ipxe\necho pipol: template error\n");
	rc = http_reply(c, MHD_HTTP_OK, "text/plain", text);
	free(text);
	return rc;
}

/*
 * A fresh token for the node's deployment in flight, when a boot cycle
 * pipold started is armed and addr may have it (boot_mint, schema 005):
 * 0 and the deployment id; 1 when no deployment needs one; 2 when one
 * does but gets none now (the wait script); -1 on a database error.
 */
static int
mint(PGconn *db, const char *node_id, const char *addr, char dep[24],
    char hex[65])
{
	uint8_t hash[32];
	const char *params[3];
	int lens[3] = { 0, 32, 0 }, fmts[3] = { 0, 1, 0 }, rc;
	long long id;
	PGresult *r;

	if (auth_token_new(hex, hash, NULL) < 0)
		return -1;
	params[0] = node_id;
	params[1] = (const char *)hash;
	params[2] = addr;
	r = db_query_bin(db, "SELECT boot_mint($1, $2, $3::inet)", 3, params,
	    lens, fmts);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		rc = -1;
	else if ((id = atoll(PQgetvalue(r, 0, 0))) == 0)
		rc = 1;
	else if (id < 0)
		rc = 2;
	else {
		snprintf(dep, 24, "%lld", id);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

/*
 * A node that must wait (ipxe/wait.ipxe): it asks again every
 * BOOT_WAIT_SEC, BOOT_WAIT_ROUNDS times, then gets the rescue
 * environment, which touches no disk. Its ?wait=N counts the rounds.
 */
#define BOOT_WAIT_SEC		10	/* in the template */
#define BOOT_WAIT_ROUNDS	60	/* 10 min: then rescue */

static int
wait_round(struct MHD_Connection *c)
{
	const char *w = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	    "wait");

	if (w == NULL || strlen(w) == 0 || strlen(w) > 3 ||
	    strspn(w, "0123456789") != strlen(w))
		return 0;
	return atoi(w);
}

/*
 * Arm the deployment in flight on node name (boot_arm, schema 005): the
 * boot cycle pipold just started may take a token. Logged; a database
 * error leaves the node waiting until the next reset.
 */
void
boot_arm(PGconn *db, const char *name)
{
	const char *params[1] = { name };
	PGresult *r;

	r = db_query(db, "SELECT boot_arm(id) FROM nodes WHERE name = $1", 1,
	    params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		log_warnx("node %s: boot cycle not armed: database error; "
		    "its deployment waits for the next reset", name);
	else if (PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't')
		log_info("node %s: boot cycle armed: its next boot takes a "
		    "token", name);
	PQclear(r);
}

/*
 * A netboot-only node that would boot its disk (netboot, schema 012):
 * its deployed system's kernel and initrd from pipold, with the
 * recorded command line (ipxe/netboot.ipxe); with none recorded, the
 * same template says so and goes to the rescue environment.
 */
static const char *
netboot_vars(PGconn *db, const char *node_id, const char *mac,
    const char *addr, struct boot_var *v, int *nv)
{
	struct netboot_kernel k;
	int found = netboot_kernel_of(db, node_id, addr, &k) == 1;

	boot_var_set(v, nv, "MAC", mac);
	boot_var_set(v, nv, "DEPLOYMENT", found ? k.deployment : "none");
	boot_var_set(v, nv, "KERNEL", found ? "yes" : "none");
	boot_var_set(v, nv, "INITRD", found && *k.initrd ? "yes" : "no");
	boot_var_set(v, nv, "INITRD_ARG", found && *k.initrd ?
	    "initrd=initrd.img" : "");
	boot_var_set(v, nv, "CMDLINE", found ? k.cmdline : "");
	return "netboot";
}

/*
 * GET /boot/MAC (iPXE) and GET /grub/MAC (GRUB, mac-efi32 nodes): one
 * decision, two languages.
 */
static enum MHD_Result
script_for(struct http_req *rq, const char *prefix, int grub)
{
	struct MHD_Connection *c = rq->c;
	struct pipold *pd = rq->pd;
	struct boot_var v[BOOT_VARS];
	char mac[18], server[300], dep[24], hex[65], addr[HTTP_ADDR_MAX];
	char next[8];
	const char *params[1] = { mac }, *profile, *bp, *tname;
	const char *rescue = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "rescue");
	const char *local = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "local");
	json_t *params_j = NULL, *x;
	enum MHD_Result rc;
	PGresult *r = NULL;
	PGconn *db;
	int nv = 0, m;

	/* netboot: /boot/MAC/kernel and /boot/MAC/initrd (netboot.c) */
	if (!grub && strlen(rq->url) > strlen("/boot/") + 17 &&
	    (strcmp(rq->url + 23, "/kernel") == 0 ||
	    strcmp(rq->url + 23, "/initrd") == 0)) {
		snprintf(next, sizeof(next), "%.7s", rq->url + 23);
		if (snprintf(mac, sizeof(mac), "%.17s", rq->url + 6) < 0 ||
		    mac_parse(mac, mac) < 0)
			return http_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
		return netboot_file(rq, mac, next + 1);
	}
	if (mac_parse(rq->url + strlen(prefix), mac) < 0)
		return http_text(c, MHD_HTTP_NOT_FOUND, "#!ipxe\necho pipol: "
		    "not a MAC address\n");
	if (server_url(pd, c, server, sizeof(server)) < 0)
		return http_text(c, MHD_HTTP_BAD_REQUEST, "#!ipxe\necho pipol: "
		    "bad Host header\n");
	if ((db = db_get(pd)) == NULL)
		return http_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "#!ipxe\n"
		    "echo pipol: database unavailable\n");
	boot_var_set(v, &nv, "SERVER", server);
	r = db_query(db, "SELECT id, name, profile, boot_mode, "
	    "boot_params::text FROM nodes WHERE mac = $1::macaddr", 1,
	    params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = http_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "#!ipxe\n"
		    "echo pipol: database error\n");
		goto out;
	}
	if (PQntuples(r) == 0) {
		rc = answer_script(c, "unknown", v, nv, grub);
		goto out;
	}
	boot_var_set(v, &nv, "NODE", PQgetvalue(r, 0, 1));
	profile = PQgetvalue(r, 0, 2);
	params_j = json_loads(PQgetvalue(r, 0, 4), 0, NULL);
	x = json_object_get(params_j, "flavour");
	boot_var_set(v, &nv, "FLAVOUR", json_is_string(x) && boot_value_ok(
	    json_string_value(x), 0) ? json_string_value(x) :
	    strcmp(profile, "virtual") == 0 ? "cloud" : "generic");
	x = json_object_get(params_j, "console");
	boot_var_set(v, &nv, "CONSOLE", json_is_string(x) && boot_value_ok(
	    json_string_value(x), 1) ? json_string_value(x) :
	    "console=tty0 console=ttyS0,115200");
	bp = PQgetvalue(r, 0, 3);
	tname = strcmp(profile, "uefi") == 0 ? "local-uefi" : "local-bios";
	if (strcmp(bp, "park") == 0)	/* a query string opens no disk */
		tname = "park";
	else if (rescue != NULL || strcmp(bp, "rescue") == 0)
		tname = "rescue";
	else if (local != NULL)
		;
	else if (strcmp(bp, "deploy") == 0) {
		if ((m = mint(db, PQgetvalue(r, 0, 0), http_peer_addr(c,
		    addr) == 0 ? addr : NULL, dep, hex)) < 0) {
			rc = http_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "#!ipxe\necho pipol: database error\n");
			goto out;
		}
		if (m == 0) {
			boot_var_set(v, &nv, "DEPLOYMENT", dep);
			boot_var_set(v, &nv, "TOKEN", hex);
			tname = "deploy";
		} else if (m == 2 && wait_round(c) < BOOT_WAIT_ROUNDS) {
			snprintf(next, sizeof(next), "%d", wait_round(c) + 1);
			boot_var_set(v, &nv, "NEXT", next);
			tname = "wait";
		} else if (m == 2)
			tname = "rescue";
		else	/* past writing: its disk, the hand-over (011) */
			timeline_mark(db, PQgetvalue(r, 0, 1), "handover",
			    http_peer_addr(c, addr) == 0 ? addr : NULL);
	} else if (strcmp(bp, "kernel") == 0) {
		const char *k = json_string_value(json_object_get(params_j,
		    "kernel"));
		const char *i = json_string_value(json_object_get(params_j,
		    "initrd"));
		const char *cl = json_string_value(json_object_get(params_j,
		    "cmdline"));

		if (k && i && boot_value_ok(k, 0) && boot_value_ok(i, 0) &&
		    (cl == NULL || boot_value_ok(cl, 1))) {
			boot_var_set(v, &nv, "KERNEL", k);
			boot_var_set(v, &nv, "INITRD", i);
			boot_var_set(v, &nv, "CMDLINE", cl ? cl : "");
			tname = "kernel";
		}
	}
	if (strcmp(profile, "netboot-only") == 0 &&
	    strncmp(tname, "local", 5) == 0)
		tname = netboot_vars(db, PQgetvalue(r, 0, 0), mac,
		    http_peer_addr(c, addr) == 0 ? addr : NULL, v, &nv);
	rc = answer_script(c, tname, v, nv, grub);
 out:
	memset(hex, 0, sizeof(hex));
	json_decref(params_j);
	PQclear(r);
	db_put(pd, db);
	return rc;
}

enum MHD_Result
boot_script(struct http_req *rq)
{
	return script_for(rq, "/boot/", 0);
}

/*
 * GRUB's TCP takes its source ports from a counter that starts at the
 * same number at every boot (21550): a node's next boot reuses the
 * address and port of its last script fetch. A connection pipold still
 * holds there -- idle, or closing after the idle timeout (FIN-WAIT, GRUB
 * gone) -- makes that SYN fail, and GRUB finds no script (seen under
 * OVMF32, every boot after a deployment). So a GRUB connection is
 * dropped GRUB_IDLE_SEC after it goes idle, by a reset (SO_LINGER 0),
 * which leaves no state behind; its answer has long been acknowledged.
 */
#define GRUB_IDLE_SEC	5

static void
grub_conn_short(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_CONNECTION_FD);
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	if (ci != NULL && setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER,
	    &l, sizeof(l)) == -1)
		log_warn("grub: SO_LINGER");
	MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
	    (unsigned int)GRUB_IDLE_SEC);
}

enum MHD_Result
grub_script(struct http_req *rq)
{
	grub_conn_short(rq->c);
	return script_for(rq, "/grub/", 1);
}

/* An http(s) URL fit for a script line. */
static int
url_ok(const char *u)
{
	return u != NULL && (strncmp(u, "http://", 7) == 0 ||
	    strncmp(u, "https://", 8) == 0) && strlen(u) < 400 &&
	    boot_value_ok(u, 0);
}

/*
 * POST /api/nodes/NAME/boot {"mode": "local"|"rescue"|"kernel",
 * "kernel": URL, "initrd": URL, "cmdline": TEXT}: admins choose what a
 * node boots when it is not being deployed -- the admin kernel-testing
 * mode among them. A node with a deployment in flight is left alone.
 */
enum MHD_Result
api_node_boot(struct http_req *rq)
{
	struct MHD_Connection *c = rq->c;
	const char *mode, *k, *i, *cl, *params[5], *rest;
	char err[160], name[64];
	json_t *o = rq->o;
	PGconn *db = rq->db;
	enum MHD_Result rc;
	PGresult *r;

	if (node_name_from_url(rq->url, name, &rest) < 0)
		return http_error(c, MHD_HTTP_NOT_FOUND, "not found");
	mode = json_string_value(json_object_get(o, "mode"));
	k = json_string_value(json_object_get(o, "kernel"));
	i = json_string_value(json_object_get(o, "initrd"));
	cl = json_string_value(json_object_get(o, "cmdline"));
	if (mode == NULL || (strcmp(mode, "local") && strcmp(mode, "rescue") &&
	    strcmp(mode, "kernel")))
		return http_error(c, MHD_HTTP_BAD_REQUEST, "\"mode\": local, "
		    "rescue or kernel");
	if (strcmp(mode, "kernel") == 0 && (!url_ok(k) || !url_ok(i) ||
	    (cl != NULL && (strlen(cl) > 400 || !boot_value_ok(cl, 1)))))
		return http_error(c, MHD_HTTP_BAD_REQUEST, "kernel mode: "
		    "\"kernel\" and \"initrd\" are http(s) URLs, \"cmdline\" "
		    "printable with no quote, $, ;, &, |, <, >");
	params[0] = name;
	params[1] = mode;
	params[2] = k;
	params[3] = i;
	params[4] = cl;
	r = db_query(db, "UPDATE nodes SET boot_mode = $2, boot_params = "
	    "CASE WHEN $2 = 'kernel' THEN boot_params || jsonb_build_object("
	    "'kernel', $3::text, 'initrd', $4::text, 'cmdline', "
	    "coalesce($5::text, '')) ELSE boot_params END WHERE name = $1 AND "
	    "NOT EXISTS (SELECT 1 FROM deployments d WHERE d.node_id = "
	    "nodes.id AND d.state NOT IN ('ready', 'failed')) RETURNING id, "
	    "(SELECT count(*) FROM nodes WHERE name = $1)", 5, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = http_sql_error(c, r, name);
	else if (PQntuples(r) == 0) {
		PQclear(r);
		r = db_query(db, "SELECT 1 FROM nodes WHERE name = $1", 1,
		    params);
		snprintf(err, sizeof(err), "node %s: %s", name,
		    PQntuples(r) ? "a deployment is in flight" :
		    "no such node");
		rc = http_error(c, PQntuples(r) ? MHD_HTTP_CONFLICT :
		    MHD_HTTP_NOT_FOUND, err);
	} else {
		db_event(db, rq->who.name, "node.boot", json_pack("{s:s, s:s, s:s?, "
		    "s:s?, s:s?}", "node", name, "mode", mode, "kernel", k,
		    "initrd", i, "cmdline", cl));
		elilo_write_node(rq->pd, name);
		rc = http_json(c, MHD_HTTP_OK, json_pack("{s:s, s:s}",
		    "node", name, "boot", mode));
	}
	PQclear(r);
	return rc;
}
