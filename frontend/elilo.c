/*
 * elilo.c -- the elilo configuration of each network-only node
 * (profile netboot-only: real Itanium, whose firmware gets elilo.efi
 * over TFTP, pipold --elilo PATH). elilo asks no HTTP server: it reads
 * a file, by the node's address, from the TFTP folder it was loaded
 * from (elilo/README.md has the names and the syntax). So pipold writes
 * that file, TFTPROOT/dirname(PATH)/AABBCCDD.conf, whole (atomic_write),
 * from the node's state, whenever that state may have moved:
 *
 *   deploy   a deployment in flight whose boot cycle pipold armed gets
 *            its token at writing time, bound to the node's address
 *            (boot_mint, schema 005); armed again, a fresh one. In
 *            flight but not armed: the file is left as it is (it may
 *            hold the token of the boot under way), or rescue if none.
 *            Past writing: local, the deployed system's first boot.
 *   local    the deployed system's kernel, from the node's folder
 *   kernel   the admin's kernel under test, from the node's folder
 *   rescue   and park: the deployment environment, no order, no disk
 *
 * A value unfit for an elilo line (elilo_value_ok) is refused: the
 * node's file is removed and the error logged, never escaped. A node
 * with no IPv4 address has no file: elilo has no name by MAC.
 */
#include <sys/stat.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "atomic.h"
#include "auth.h"
#include "elilo.h"
#include "log.h"
#include "pipold.h"

#define ELILO_FILE_MAX	4096	/* a rendered file */

static pthread_mutex_t elilo_mu = PTHREAD_MUTEX_INITIALIZER;

int
elilo_value_ok(const char *v, int spaces)
{
	if (strlen(v) > ELILO_VALUE_MAX || strstr(v, "..") != NULL)
		return 0;
	for (; *v; v++)
		if (!isalnum((unsigned char)*v) && !strchr("._-,:/=+@%~", *v)
		    && (*v != ' ' || !spaces))
			return 0;
	return 1;
}

int
elilo_conf_name(const char *ip, char name[ELILO_NAME_LEN])
{
	struct in_addr a;
	unsigned long h;

	if (inet_pton(AF_INET, ip, &a) != 1)
		return -1;
	h = ntohl(a.s_addr);
	snprintf(name, ELILO_NAME_LEN, "%08lX.conf", h);
	return 0;
}

char *
elilo_render(const char *mode, const struct boot_var *v, int nv, char *err,
    size_t errlen)
{
	char tname[32];
	char *text;

	if (boot_vars_fit(v, nv, elilo_value_ok, "an elilo line", ELILO_VALUE_MAX, err,
	    errlen) < 0)
		return NULL;
	if (strcmp(mode, "deploy") && strcmp(mode, "local") &&
	    strcmp(mode, "kernel") && strcmp(mode, "rescue")) {
		snprintf(err, errlen, "%s: no such elilo mode", mode);
		return NULL;
	}
	snprintf(tname, sizeof(tname), "elilo-%s", mode);
	if ((text = boot_render(tname, v, nv)) == NULL)
		snprintf(err, errlen, "elilo/%s.conf: not rendered", mode);
	else if (strlen(text) >= ELILO_FILE_MAX) {
		snprintf(err, errlen, "elilo/%s.conf: longer than %d bytes",
		    mode, ELILO_FILE_MAX);
		free(text);
		text = NULL;
	}
	return text;
}

int
elilo_check(struct dnsmasq_opts *o, struct perr *e)
{
	const char *p = o->elilo;

	if (p == NULL)
		return 0;
	if (o->dir == NULL)
		return perr_set(e, PE_USAGE, "--elilo goes with --dnsmasq-dir");
	if (*p == '/' || *p == '\0' || strstr(p, "..") != NULL ||
	    strlen(p) > 200 || !elilo_value_ok(p, 0) || strchr(p, ',') ||
	    strchr(p, '='))
		return perr_set(e, PE_USAGE, "--elilo %s: a path relative to "
		    "the TFTP root, of letters, digits and ._-/", p);
	return 0;
}

/* TFTPROOT/dirname(--elilo): where elilo looks for its files. */
static void
elilo_dir(const struct dnsmasq_opts *o, char *buf, size_t len)
{
	const char *slash = strrchr(o->elilo, '/');

	if (slash == NULL)
		snprintf(buf, len, "%s", o->tftp_root);
	else
		snprintf(buf, len, "%s/%.*s", o->tftp_root,
		    (int)(slash - o->elilo), o->elilo);
}

/* A string of the node's boot_params, or dflt. */
static const char *
param(json_t *p, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(p, key));

	return s != NULL && *s != '\0' ? s : dflt;
}

/*
 * A fresh token for the node's armed deployment, bound to its address
 * (boot_mint): 0 and the deployment id; 1 no deployment in flight
 * before rebooting; 2 in flight, not armed; -1 database error.
 */
static int
mint(PGconn *db, const char *id, const char *ip, char dep[24],
    char hex[65])
{
	uint8_t hash[32];
	const char *params[3] = { id, (const char *)hash, ip };
	int lens[3] = { 0, 32, 0 }, fmts[3] = { 0, 1, 0 }, rc;
	long long d;
	PGresult *r;

	if (auth_token_new(hex, hash, NULL) < 0)
		return -1;
	r = db_query_bin(db, "SELECT boot_mint($1, $2, $3::inet)", 3, params,
	    lens, fmts);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		rc = -1;
	else if ((d = atoll(PQgetvalue(r, 0, 0))) == 0)
		rc = 1;
	else if (d < 0)
		rc = 2;
	else {
		snprintf(dep, 24, "%lld", d);
		rc = 0;
	}
	PQclear(r);
	memset(hash, 0, sizeof(hash));
	return rc;
}

/*
 * Write (or remove) the file of the node in row i of r (id, name, ip,
 * boot_mode, boot_params). Called under elilo_mu.
 */
static void
node_write(struct pipold *pd, PGconn *db, PGresult *r, int i)
{
	struct boot_var v[BOOT_VARS];
	char dir[PATH_MAX], path[PATH_MAX + 32], fname[ELILO_NAME_LEN];
	char dep[24], hex[65], err[200], kcl[NETBOOT_CMDLINE_MAX];
	char initrd[PATH_MAX + 100];
	const char *name = PQgetvalue(r, i, 1), *ip = PQgetvalue(r, i, 2);
	const char *mode = PQgetvalue(r, i, 3), *console;
	json_t *p = json_loads(PQgetvalue(r, i, 4), 0, NULL);
	struct stat st;
	struct perr e;
	char *text = NULL;
	int nv = 0, m;

	if (elilo_conf_name(ip, fname) < 0) {
		log_warnx("elilo: node %s: no IPv4 address (--ip): elilo "
		    "looks its configuration up by address only; none "
		    "written", name);
		goto out;
	}
	elilo_dir(&pd->dnsmasq, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, fname);
	console = param(p, "console", "console=ttyS0,115200");
	boot_var_set(v, &nv, "NODE", name);
	boot_var_set(v, &nv, "SERVER", pd->dnsmasq.url);
	boot_var_set(v, &nv, "FLAVOUR", param(p, "flavour", "generic"));
	boot_var_set(v, &nv, "CONSOLE", console);
	if (strcmp(mode, "park") == 0)	/* never the last user's system */
		mode = "rescue";
	if (strcmp(mode, "deploy") == 0) {
		m = mint(db, PQgetvalue(r, i, 0), ip, dep, hex);
		if (m < 0) {
			log_warnx("elilo: node %s: database error; %s left as "
			    "it is", name, path);
			goto out;
		}
		if (m == 2 && stat(path, &st) == 0)
			goto out;	/* the boot under way may need it */
		mode = m == 0 ? "deploy" : m == 1 ? "local" : "rescue";
		if (m == 0) {
			boot_var_set(v, &nv, "DEPLOYMENT", dep);
			boot_var_set(v, &nv, "TOKEN", hex);
		}
	}
	if (strcmp(mode, "kernel") == 0)
		boot_var_set(v, &nv, "CMDLINE", param(p, "cmdline", console));
	else if (strcmp(mode, "local") == 0) {
		/* the deployed system's kernel, recorded by its agent
		 * (netboot.c), placed in the node's folder; else what the
		 * admin put there, with local_cmdline */
		m = netboot_elilo_files(pd, db, PQgetvalue(r, i, 0), name, ip,
		    dir, kcl, sizeof(kcl));
		if (m < 0)
			log_warnx("elilo: node %s: its recorded kernel not "
			    "placed in %s/pipol/%s", name, dir, name);
		boot_var_set(v, &nv, "CMDLINE", m == 1 ? kcl : param(p,
		    "local_cmdline", console));
		/* a recorded kernel with no initrd: no initrd= line (elilo
		 * would fail to load the file); else the node's folder's */
		snprintf(initrd, sizeof(initrd), "%s/pipol/%s/initrd.img", dir,
		    name);
		if (m == 1 && access(initrd, F_OK) != 0)
			boot_var_set(v, &nv, "INITRD", "");
		else {
			snprintf(initrd, sizeof(initrd), "initrd=pipol/%s/"
			    "initrd.img", name);
			boot_var_set(v, &nv, "INITRD", initrd);
		}
	}
	if ((text = elilo_render(mode, v, nv, err, sizeof(err))) == NULL) {
		log_warnx("elilo: node %s: %s; %s removed", name, err, path);
		unlink(path);
		goto out;
	}
	if (atomic_write(path, text, strlen(text), &e) < 0)
		log_warnx("elilo: node %s: %s", name, e.msg);
 out:
	memset(hex, 0, sizeof(hex));
	if (text != NULL) {
		memset(text, 0, strlen(text));
		free(text);
	}
	json_decref(p);
}

#define NODE_SQL "SELECT id, name, coalesce(host(ip), ''), boot_mode, " \
	"boot_params::text FROM nodes WHERE profile = 'netboot-only'"

void
elilo_write_node(struct pipold *pd, const char *name)
{
	const char *params[1] = { name };
	PGresult *r;
	PGconn *db;

	if (pd->dnsmasq.elilo == NULL)
		return;
	if ((db = db_get(pd)) == NULL) {
		log_warnx("elilo: node %s: database unavailable; its file is "
		    "left as it is", name);
		return;
	}
	pthread_mutex_lock(&elilo_mu);
	r = db_query(db, NODE_SQL " AND name = $1", 1, params);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		node_write(pd, db, r, 0);
	pthread_mutex_unlock(&elilo_mu);
	PQclear(r);
	db_put(pd, db);
}

/* AABBCCDD.conf, the names pipold writes */
static int
is_ours(const char *f)
{
	int i;

	for (i = 0; i < 8; i++)
		if (!isxdigit((unsigned char)f[i]) || islower((unsigned char)f[i]))
			return 0;
	return strcmp(f + 8, ".conf") == 0;
}

/* Remove the AABBCCDD.conf files of no network-only node (r). */
static void
prune(struct pipold *pd, PGresult *r)
{
	char dir[PATH_MAX], fname[ELILO_NAME_LEN];
	struct dirent *de;
	int i, keep;
	DIR *d;

	elilo_dir(&pd->dnsmasq, dir, sizeof(dir));
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!is_ours(de->d_name))
			continue;
		for (keep = 0, i = 0; i < PQntuples(r) && !keep; i++)
			keep = elilo_conf_name(PQgetvalue(r, i, 2), fname) ==
			    0 && strcmp(fname, de->d_name) == 0;
		if (!keep && unlinkat(dirfd(d), de->d_name, 0) < 0)
			log_warn("%s/%s", dir, de->d_name);
	}
	closedir(d);
}

void
elilo_sync(struct pipold *pd)
{
	PGresult *r;
	PGconn *db;
	int i;

	if (pd->dnsmasq.elilo == NULL)
		return;
	if ((db = db_get(pd)) == NULL) {
		log_warnx("elilo: database unavailable; files left as they "
		    "are");
		return;
	}
	pthread_mutex_lock(&elilo_mu);
	r = db_query(db, NODE_SQL " ORDER BY name", 0, NULL);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		for (i = 0; i < PQntuples(r); i++)
			node_write(pd, db, r, i);
		prune(pd, r);
	} else
		log_warnx("elilo: database error; files left as they are");
	pthread_mutex_unlock(&elilo_mu);
	PQclear(r);
	db_put(pd, db);
}
