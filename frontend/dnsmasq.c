/*
 * dnsmasq.c -- the dnsmasq configuration pipold writes (--dnsmasq-dir
 * DIR), for a dnsmasq the admin runs (dnsmasq --conf-file=DIR/pipol.conf
 * plus the site's own interface and dhcp-range lines):
 *
 *   DIR/pipol.conf    the boot chain, written at start: firmware PXE gets
 *                     iPXE over TFTP (undionly.kpxe for BIOS, snponly.efi
 *                     for x86-64 UEFI), iPXE (user class "iPXE") gets
 *                     PUBLIC_URL/boot/${mac}; UEFI HTTP boot gets a
 *                     URL that answers 404 (no stall); only for known
 *                     nodes; 32-bit EFI (client architecture 6, Intel
 *                     Macs by BSDP) the IA32 GRUB grub.c puts there
 *   DIR/hosts/NAME    the dhcp-hostsdir, one file per node holding one
 *                     line, MAC,set:PROFILE[,IP],NAME; at start and after
 *                     every node change, a file is written only when its
 *                     line changed, and the files of nodes gone removed
 *
 * Every file appears whole (temporary file, fsync, rename). Temporary
 * files are made in DIR, not DIR/hosts, so that dnsmasq, which watches
 * the hosts folder with inotify, sees only finished files arrive. DIR/hosts
 * is pipold's: other files there are removed.
 *
 * dnsmasq adds what it reads there at once, but forgets a changed or
 * removed host only when it re-reads everything: on SIGHUP, or at a
 * restart. pipold sends no SIGHUP: dnsmasq 2.90 (Debian 12) crashes on a
 * SIGHUP once it has leased an address to a host whose line carries a
 * set: tag (seen: SIGSEGV or abort, with or without a change). So a
 * changed or removed node needs a dnsmasq restart, as does a change of
 * pipol.conf (which SIGHUP never re-reads anyway).
 */
#include <sys/stat.h>
#include <dirent.h>
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
#include "grub.h"
#include "log.h"
#include "pipold.h"

#define DNSMASQ_HOST_MAX	4096	/* a host file we compare with */

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
		if (strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_~:/[]%",
		    *p) == NULL)
			return 0;
	return 1;
}

int
dnsmasq_check(struct dnsmasq_opts *o, struct perr *e)
{
	size_t n;
	int rc;

	if ((rc = elilo_check(o, e)) < 0)
		return rc;
	if (o->dir == NULL) {
		if (o->public_url || o->tftp_root)
			return perr_set(e, PE_USAGE, "--public-url and "
			    "--tftp-root go with --dnsmasq-dir");
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
		    "or '#' would break dnsmasq's parsing",
		    dnsmasq_safe(o->dir) ?
		    "tftp-root" : "dnsmasq-dir", dnsmasq_safe(o->dir) ?
		    o->tftp_root : o->dir);
	return 0;
}

/*
 * 32-bit EFI (mac-efi32, grub.c): client architecture 6 gets the IA32
 * GRUB. Intel Macs netbooting by BSDP name themselves in their vendor
 * class, AAPLBSDPC/ARCH/MODEL (AAPLBSDPC/i386/iMac4,1; admin.md has the
 * sources): tagged bsdp, answered with the vendor class Apple's bootpd
 * sends back; an i386 one that gives no client architecture gets the
 * IA32 GRUB when it is a mac-efi32 node (its host line's tag), and with
 * architecture 7 or 9 snponly.efi, as any x86-64 UEFI.
 */
static void
conf_efi32(char *buf, size_t len)
{
	snprintf(buf, len,
"# 32-bit EFI (client architecture 6: the first Intel Macs, mac-efi32):\n"
"# pipold's IA32 GRUB, which asks PUBLIC_URL/grub/MAC (grub/README.md)\n"
"dhcp-match=set:efi32,option:client-arch,6\n"
"dhcp-boot=tag:known,tag:!ipxe,tag:efi32,%s\n"
"# Intel Macs netbooting by BSDP: vendor class AAPLBSDPC/i386/MODEL\n"
"dhcp-vendorclass=set:bsdp,AAPLBSDPC\n"
"dhcp-vendorclass=set:bsdpi386,AAPLBSDPC/i386\n"
"dhcp-option-force=tag:bsdp,60,AAPLBSDPC\n"
"dhcp-boot=tag:known,tag:!ipxe,tag:bsdpi386,tag:mac-efi32,tag:!efi32,"
"tag:!efi64,tag:!bios,%s\n", GRUB_LOADER, GRUB_LOADER);
}

static int
conf_write(struct dnsmasq_opts *o, int efi32, struct perr *e)
{
	char path[PATH_MAX + 16], *text = NULL, ia64[320] = "", ia32[800] = "";
	int rc;

	snprintf(path, sizeof(path), "%s/pipol.conf", o->abs);
	if (o->elilo != NULL)	/* elilo.c writes what elilo reads next */
		snprintf(ia64, sizeof(ia64), "# IA-64 firmware (client "
		    "architecture 2) gets elilo.efi (--elilo)\n"
		    "dhcp-match=set:ia64,option:client-arch,2\n"
		    "dhcp-boot=tag:known,tag:ia64,%s\n", o->elilo);
	if (efi32)
		conf_efi32(ia32, sizeof(ia32));
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
"dhcp-boot=tag:known,tag:ipxe,%s/boot/${mac}\n"
"# UEFI HTTP boot (vendor class HTTPClient): a node that leaves iPXE for\n"
"# its disk meets it in BootOrder; offered no URL, the firmware asks\n"
"# again for about 60 s. This URL answers 404 at once: it moves on.\n"
"dhcp-vendorclass=set:httpboot,HTTPClient\n"
"dhcp-option-force=tag:httpboot,60,HTTPClient\n"
"dhcp-boot=tag:known,tag:httpboot,%s/no-http-boot\n%s%s",
	    o->abs, o->tftp_root, o->url, o->url, ia64, ia32) < 0)
		return perr_set(e, PE_FAIL, "%s: out of memory", path);
	rc = atomic_write(path, text, strlen(text), e);
	free(text);
	return rc;
}

/* Replace path with text (len bytes) unless it holds that already; the
 * temporary file is made in DIR, out of dnsmasq's sight. 1 written, 0
 * unchanged, or -code. */
static int
host_file_put(const struct dnsmasq_opts *o, const char *path,
    const char *text, size_t len, struct perr *e)
{
	char base[PATH_MAX + 16], tmp[PATH_MAX + 32], *old = NULL;
	size_t oldlen = 0;
	int fd, same;

	same = read_file(path, DNSMASQ_HOST_MAX, &old, &oldlen, NULL) == 0 &&
	    oldlen == len && memcmp(old, text, len) == 0;
	free(old);
	if (same)
		return 0;
	snprintf(base, sizeof(base), "%s/hosts-new", o->abs);
	if ((fd = atomic_tmp_open(base, tmp, sizeof(tmp), e)) < 0)
		return fd;
	if (write_all(fd, text, len) == -1) {
		perr_errno(e, PE_FAIL, "%s", tmp);
		close(fd);
		unlink(tmp);
		return -PE_FAIL;
	}
	return atomic_commit(fd, tmp, path, e) < 0 ? -PE_FAIL : 1;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(a, *(char *const *)b);
}

/* Remove the files of nodes that are gone (names sorted, strcmp order). */
static int
hosts_prune(const char *dir, char **names, size_t n)
{
	struct dirent *de;
	int gone = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    bsearch(de->d_name, names, n, sizeof(*names), name_cmp))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			gone++;
		else
			log_warn("%s/%s", dir, de->d_name);
	}
	closedir(d);
	return gone;
}

/*
 * DIR/hosts/NAME for each node, one --dhcp-host line, written only when
 * it changed: dnsmasq then reads only new or changed files, and holds
 * no duplicate of an unchanged host.
 */
static int
hosts_write(struct pipold *pd, struct perr *e)
{
	struct dnsmasq_opts *o = &pd->dnsmasq;
	char dir[PATH_MAX + 16], path[PATH_MAX + 96], line[256], **names;
	int i, n, rc = 0;
	PGresult *r;
	PGconn *db;

	if ((db = db_get(pd)) == NULL)
		return perr_set(e, PE_UNAVAIL, "dnsmasq hosts: database "
		    "unavailable");
	/* COLLATE "C": strcmp order, for bsearch in hosts_prune */
	r = db_query(db, "SELECT mac::text, profile, coalesce(host(ip), ''), "
	    "name FROM nodes ORDER BY name COLLATE \"C\"", 0, NULL);
	db_put(pd, db);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return perr_set(e, PE_UNAVAIL, "dnsmasq hosts: database error");
	}
	n = PQntuples(r);
	if ((names = calloc((size_t)n + 1, sizeof(*names))) == NULL) {
		PQclear(r);
		return perr_set(e, PE_FAIL, "dnsmasq hosts: out of memory");
	}
	snprintf(dir, sizeof(dir), "%s/hosts", o->abs);
	for (i = 0; i < n && rc >= 0; i++) {
		names[i] = PQgetvalue(r, i, 3);
		snprintf(line, sizeof(line), "%s,set:%s%s%s,%s\n",
		    PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
		    *PQgetvalue(r, i, 2) ? "," : "", PQgetvalue(r, i, 2),
		    names[i]);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		rc = host_file_put(o, path, line, strlen(line), e);
	}
	if (rc >= 0)
		hosts_prune(dir, names, (size_t)n);
	free(names);
	PQclear(r);
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
		return perr_set(e, PE_USAGE, "--dnsmasq-dir %s: spaces, "
		    "commas, quotes or '#' would break dnsmasq's parsing",
		    o->abs);
	snprintf(hosts, sizeof(hosts), "%s/hosts", o->abs);
	if ((rc = mkdir_one(hosts, e)) < 0 ||
	    (rc = conf_write(o, grub_loader_setup(o), e)) < 0)
		return rc;
	pthread_mutex_lock(&o->mu);
	rc = hosts_write(pd, e);
	pthread_mutex_unlock(&o->mu);
	elilo_sync(pd);
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
	elilo_sync(pd);
}
