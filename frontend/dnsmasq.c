/*
 * dnsmasq.c -- the dnsmasq configuration pipold writes (--dnsmasq-dir
 * DIR), for a dnsmasq the admin runs (dnsmasq --conf-file=DIR/pipol.conf
 * plus the site's own interface and dhcp-range lines):
 *
 *   DIR/pipol.conf    the boot chain, written at start: firmware PXE gets
 *                     iPXE over TFTP (undionly.kpxe for BIOS, snponly.efi
 *                     for x86-64 UEFI), iPXE (user class "iPXE") gets
 *                     PUBLIC_URL/boot/${mac}; only for known nodes
 *   DIR/hosts/pipol   the dhcp-hostsdir file, one line per node
 *                     (MAC,set:PROFILE[,IP],NAME), rewritten at start and
 *                     after every node change when its text changes
 *
 * Both appear whole (temporary file, fsync, rename). The temporary hosts
 * file is made in DIR, not DIR/hosts, so that dnsmasq, which watches the
 * hosts folder with inotify, sees only the finished file arrive. dnsmasq
 * adds what it reads there but forgets nothing until SIGHUP: with
 * --dnsmasq-pid FILE pipold sends that pid (and only a dnsmasq) a SIGHUP
 * after each change. SIGHUP does not re-read pipol.conf: changing
 * --public-url or --tftp-root needs a dnsmasq restart.
 */
#include <sys/stat.h>
#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "log.h"
#include "pipold.h"

#define DNSMASQ_HOSTS_MAX	(16u << 20)	/* the file we compare with */

/* Characters dnsmasq's option parser would split or quote on. */
static int
dnsmasq_safe(const char *s)
{
	for (; *s; s++)
		if (*s <= ' ' || *s == 0x7f || strchr(",#\"'\\", *s) != NULL)
			return 0;
	return 1;
}

/* http(s)://HOST[:PORT][/PATH]: no spaces, quotes or commas, which
 * would break dhcp-boot; a final '/' is dropped. */
static int
url_ok(const char *u)
{
	const char *p = u + (strncmp(u, "https://", 8) == 0 ? 8 :
	    strncmp(u, "http://", 7) == 0 ? 7 : 0);

	if (p == u || !dnsmasq_safe(u) || *p == '\0' || *p == '/' ||
	    strlen(u) > 200)
		return 0;
	for (; *p; p++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789.-_~:/[]%", *p) == NULL)
			return 0;
	return 1;
}

int
dnsmasq_check(struct dnsmasq_opts *o, struct perr *e)
{
	size_t n;

	if (o->dir == NULL) {
		if (o->public_url || o->tftp_root || o->pid_file)
			return perr_set(e, PE_USAGE, "--public-url, --tftp-root "
			    "and --dnsmasq-pid go with --dnsmasq-dir");
		return 0;
	}
	if (o->public_url == NULL)
		return perr_set(e, PE_USAGE, "--dnsmasq-dir needs --public-url "
		    "(where the nodes reach pipold)");
	if (!url_ok(o->public_url))
		return perr_set(e, PE_USAGE, "--public-url %s: not "
		    "http(s)://HOST[:PORT][/PATH]", o->public_url);
	snprintf(o->url, sizeof(o->url), "%s", o->public_url);
	while ((n = strlen(o->url)) > 0 && o->url[n - 1] == '/')
		o->url[n - 1] = '\0';
	if (o->tftp_root == NULL)
		o->tftp_root = DNSMASQ_TFTP_ROOT;
	if (!dnsmasq_safe(o->dir) || !dnsmasq_safe(o->tftp_root))
		return perr_set(e, PE_USAGE, "--%s %s: spaces, commas, quotes "
		    "or '#' would break dnsmasq's parsing", dnsmasq_safe(o->dir) ?
		    "tftp-root" : "dnsmasq-dir", dnsmasq_safe(o->dir) ?
		    o->tftp_root : o->dir);
	return 0;
}

static int
conf_write(struct dnsmasq_opts *o, struct perr *e)
{
	char path[PATH_MAX + 16], *text = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s/pipol.conf", o->abs);
	if (asprintf(&text,
"# pipol.conf -- written by pipold at each start (--dnsmasq-dir): edits\n"
"# are lost. Give it to dnsmasq with --conf-file; the network part\n"
"# (interface=, dhcp-range=, enable-ra) is the site's own: see admin.md.\n"
"dhcp-hostsdir=%s/hosts\n"
"enable-tftp\n"
"tftp-root=%s\n"
"# iPXE names itself in its user class, and need not wait for ProxyDHCP\n"
"dhcp-userclass=set:ipxe,iPXE\n"
"dhcp-option=tag:ipxe,encap:175,176,1\n"
"# firmware PXE, by client architecture (option 93): 0 BIOS, 7 and 9\n"
"# x86-64 UEFI; it loads iPXE over TFTP\n"
"dhcp-match=set:bios,option:client-arch,0\n"
"dhcp-match=set:efi64,option:client-arch,7\n"
"dhcp-match=set:efi64,option:client-arch,9\n"
"dhcp-boot=tag:known,tag:!ipxe,tag:bios,undionly.kpxe\n"
"dhcp-boot=tag:known,tag:!ipxe,tag:efi64,snponly.efi\n"
"# iPXE: the node's own boot script from pipold\n"
"dhcp-boot=tag:known,tag:ipxe,%s/boot/${mac}\n",
	    o->abs, o->tftp_root, o->url) < 0)
		return perr_set(e, PE_FAIL, "%s: out of memory", path);
	rc = atomic_write(path, text, strlen(text), e);
	free(text);
	return rc;
}

/* One line per node: MAC,set:PROFILE[,IP],NAME (--dhcp-host syntax). */
static int
hosts_text(PGconn *db, char **text, size_t *len, struct perr *e)
{
	FILE *f;
	PGresult *r;
	int i;

	r = PQexec(db, "SELECT mac::text, profile, coalesce(host(ip), ''), "
	    "name FROM nodes ORDER BY name");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return perr_set(e, PE_UNAVAIL, "dnsmasq hosts: database error");
	}
	if ((f = open_memstream(text, len)) == NULL) {
		PQclear(r);
		return perr_errno(e, PE_FAIL, "dnsmasq hosts");
	}
	fprintf(f, "# written by pipold from its nodes: edits are lost\n");
	for (i = 0; i < PQntuples(r); i++)
		fprintf(f, "%s,set:%s%s%s,%s\n", PQgetvalue(r, i, 0),
		    PQgetvalue(r, i, 1), *PQgetvalue(r, i, 2) ? "," : "",
		    PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
	PQclear(r);
	if (fclose(f) != 0)
		return perr_errno(e, PE_FAIL, "dnsmasq hosts");
	return 0;
}

/* SIGHUP the dnsmasq whose pid is in file; a pid that is no dnsmasq
 * (dnsmasq gone, the number reused) is left alone. */
static void
dnsmasq_hup(const char *file)
{
	char *text = NULL, *comm = NULL, proc[64], *end;
	long pid;

	if (read_file(file, 64, &text, NULL, NULL) < 0) {
		log_warn("--dnsmasq-pid %s", file);
		return;
	}
	pid = strtol(text, &end, 10);
	if (pid <= 1 || (*end != '\n' && *end != '\0')) {
		log_warnx("--dnsmasq-pid %s: not a pid", file);
		goto out;
	}
	snprintf(proc, sizeof(proc), "/proc/%ld/comm", pid);
	if (read_file(proc, 64, &comm, NULL, NULL) < 0 ||
	    strcmp(comm, "dnsmasq\n") != 0)
		log_warnx("--dnsmasq-pid %s: pid %ld is not a dnsmasq: not "
		    "signalled", file, pid);
	else if (kill((pid_t)pid, SIGHUP) == -1)
		log_warn("--dnsmasq-pid %s: SIGHUP to %ld", file, pid);
	else
		log_info("dnsmasq %ld: SIGHUP, hosts re-read", pid);
 out:
	free(comm);
	free(text);
}

/* Rewrite DIR/hosts/pipol from the nodes table, if its text changed. */
static int
hosts_write(struct pipold *pd, struct perr *e)
{
	struct dnsmasq_opts *o = &pd->dnsmasq;
	char path[PATH_MAX + 16], base[PATH_MAX + 16], tmp[PATH_MAX + 32];
	char *text = NULL;
	char *old = NULL;
	size_t len = 0, oldlen = 0;
	PGconn *db;
	int fd, rc;

	if ((db = db_get(pd)) == NULL)
		return perr_set(e, PE_UNAVAIL, "dnsmasq hosts: database "
		    "unavailable");
	rc = hosts_text(db, &text, &len, e);
	db_put(pd, db);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/hosts/pipol", o->abs);
	if (read_file(path, DNSMASQ_HOSTS_MAX, &old, &oldlen, NULL) == 0 &&
	    oldlen == len && memcmp(old, text, len) == 0)
		goto out;	/* unchanged: dnsmasq need not read it again */
	snprintf(base, sizeof(base), "%s/hosts-pipol", o->abs);
	if ((fd = rc = atomic_tmp_open(base, tmp, sizeof(tmp), e)) < 0)
		goto out;
	if (write_all(fd, text, len) == -1) {
		rc = perr_errno(e, PE_FAIL, "%s", tmp);
		close(fd);
		unlink(tmp);
		goto out;
	}
	if ((rc = atomic_commit(fd, tmp, path, e)) == 0 && o->pid_file)
		dnsmasq_hup(o->pid_file);
 out:
	free(old);
	free(text);
	return rc < 0 ? rc : 0;
}

int
dnsmasq_start(struct pipold *pd, struct perr *e)
{
	struct dnsmasq_opts *o = &pd->dnsmasq;
	char hosts[PATH_MAX + 16];
	int rc;

	if (o->dir == NULL)
		return 0;
	if ((rc = mkdir_one(o->dir, e)) < 0)
		return rc;
	if (realpath(o->dir, o->abs) == NULL)
		return perr_errno(e, PE_FAIL, "--dnsmasq-dir %s", o->dir);
	if (!dnsmasq_safe(o->abs))
		return perr_set(e, PE_USAGE, "--dnsmasq-dir %s: spaces, commas, "
		    "quotes or '#' would break dnsmasq's parsing", o->abs);
	snprintf(hosts, sizeof(hosts), "%s/hosts", o->abs);
	if ((rc = mkdir_one(hosts, e)) < 0 || (rc = conf_write(o, e)) < 0)
		return rc;
	pthread_mutex_lock(&o->mu);
	rc = hosts_write(pd, e);
	pthread_mutex_unlock(&o->mu);
	if (rc == 0)
		log_info("dnsmasq: %s/pipol.conf, boot URL %s/boot/${mac}",
		    o->abs, o->url);
	return rc;
}

void
dnsmasq_nodes_changed(struct pipold *pd)
{
	struct perr e;

	if (pd->dnsmasq.dir == NULL)
		return;
	/* one writer at a time; each reads the table after its own commit,
	 * so the last file written holds every committed change */
	pthread_mutex_lock(&pd->dnsmasq.mu);
	if (hosts_write(pd, &e) < 0)
		log_warnx("%s", e.msg);
	pthread_mutex_unlock(&pd->dnsmasq.mu);
}
