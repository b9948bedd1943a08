/*
 * netboot.c -- the deployed system's kernel, initrd and command line:
 * taken from the agent once post-install is done, kept by content, and
 * served to the node at every boot when it is netboot-only (schema 012;
 * docs/protocol.md, "The deployed kernel"):
 *
 *   PUT  /agent/kernel/kernel?offset=N  bytes [N, N + len) of the kernel
 *   PUT  /agent/kernel/initrd?offset=N  the same of the initrd (several
 *                                       initrds sent back to back)
 *   POST /agent/kernel  {"kernel_size", "initrd_size", "cmdline"}: the
 *        staged files hashed here (SHA-256, never the agent's word),
 *        moved to STATE/kernels/SHA, recorded with the deployment
 *   GET  /boot/MAC/kernel, /boot/MAC/initrd  (boot.c hands them here)
 *        the node's current deployment's files, to its own address
 *
 * Pieces of at most NETBOOT_PIECE_MAX: pipold holds one body in memory
 * per connection (http.c), and a 512 MiB initrd must not be one. The
 * agent's token is checked before a piece is read (http.c, routes of
 * the agent taking more than an API body), and its deployment must be
 * a deploy in postinstall. A piece goes at its offset, which may not
 * pass what was received, and the staged file ends where the last
 * piece ends: a piece sent again, or the whole sent again from 0,
 * leaves the same file.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "boot.h"
#include "hash.h"
#include "log.h"
#include "pipold.h"

#define KERNEL_PREFIX	"/agent/kernel/"

/* STATE/kernels, STATE/kernels/tmp (made when missing) */
static int
kernels_dir(struct pipold *pd, char *buf, size_t len, int tmp)
{
	snprintf(buf, len, "%s/kernels", pd->state);
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -1;
	if (!tmp)
		return 0;
	snprintf(buf, len, "%s/kernels/tmp", pd->state);
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* STATE/kernels/tmp/DEP.PART: what the agent of DEP sent of PART */
static int
staged_path(struct pipold *pd, long long dep, const char *part, char *buf,
    size_t len)
{
	char dir[PATH_MAX];

	if (kernels_dir(pd, dir, sizeof(dir), 1) < 0)
		return -1;
	snprintf(buf, len, "%s/%lld.%s", dir, dep, part);
	return 0;
}

/* Is the caller's deployment a deploy in postinstall? 1, 0, or -1 */
static int
in_postinstall(struct http_req *rq)
{
	char dep[24];
	const char *params[1] = { dep };
	PGresult *r;
	int ok;

	snprintf(dep, sizeof(dep), "%lld", rq->who.deployment);
	r = db_query(rq->db, "SELECT 1 FROM deployments WHERE id = $1 AND "
	    "kind = 'deploy' AND state = 'postinstall'", 1, params);
	ok = PQresultStatus(r) != PGRES_TUPLES_OK ? -1 : PQntuples(r) == 1;
	PQclear(r);
	return ok;
}

static enum MHD_Result
not_now(struct http_req *rq, int ok)
{
	char msg[128];

	if (ok < 0)
		return http_error(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "database error");
	snprintf(msg, sizeof(msg), "deployment %lld: its kernel is taken "
	    "in postinstall only", rq->who.deployment);
	return http_error(rq->c, MHD_HTTP_CONFLICT, msg);
}

/* ?offset=N: a decimal of at most 10 digits; -1 otherwise */
static long long
offset_arg(struct MHD_Connection *c)
{
	const char *o = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	    "offset");

	if (o == NULL || *o == '\0' || strlen(o) > 10 ||
	    strspn(o, "0123456789") != strlen(o))
		return -1;
	return atoll(o);
}

static int
write_all(int fd, const char *p, size_t len, off_t off)
{
	ssize_t n;

	while (len > 0) {
		if ((n = pwrite(fd, p, len, off)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* PUT /agent/kernel/kernel|initrd?offset=N: one piece, staged */
enum MHD_Result
agent_kernel_put(struct http_req *rq)
{
	struct MHD_Connection *c = rq->c;
	const char *part = rq->url + strlen(KERNEL_PREFIX);
	char path[PATH_MAX], msg[160];
	unsigned long long max;
	long long off;
	struct stat st;
	int fd, ok;

	if (strcmp(part, "kernel") != 0 && strcmp(part, "initrd") != 0)
		return http_error(c, MHD_HTTP_NOT_FOUND, "/agent/kernel/kernel "
		    "or /agent/kernel/initrd");
	max = strcmp(part, "kernel") == 0 ? NETBOOT_KERNEL_MAX :
	    NETBOOT_INITRD_MAX;
	if ((off = offset_arg(c)) < 0 || rq->len == 0)
		return http_error(c, MHD_HTTP_BAD_REQUEST, "want ?offset=N "
		    "and a body of at least one byte");
	if ((unsigned long long)off + rq->len > max) {
		snprintf(msg, sizeof(msg), "%s: larger than %llu MiB", part,
		    max >> 20);
		return http_error(c, MHD_HTTP_CONTENT_TOO_LARGE, msg);
	}
	if ((ok = in_postinstall(rq)) != 1)
		return not_now(rq, ok);
	/* a piece past 0 continues a staged file: never makes one */
	if (staged_path(rq->pd, rq->who.deployment, part, path,
	    sizeof(path)) < 0 || ((fd = open(path, O_RDWR | O_NOFOLLOW |
	    O_CLOEXEC | (off == 0 ? O_CREAT : 0), 0600)) < 0 &&
	    (off == 0 || errno != ENOENT))) {
		log_warn("netboot: %s", path);
		return http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot "
		    "stage the upload");
	}
	st.st_size = 0;
	if (fd < 0 || fstat(fd, &st) < 0 || off > st.st_size) {
		if (fd >= 0)
			close(fd);
		snprintf(msg, sizeof(msg), "%s: offset %lld past the %lld "
		    "bytes received", part, off, (long long)st.st_size);
		return http_error(c, MHD_HTTP_CONFLICT, msg);
	}
	if (write_all(fd, rq->body, rq->len, (off_t)off) < 0 ||
	    ftruncate(fd, (off_t)(off + (long long)rq->len)) < 0) {
		log_warn("netboot: %s", path);
		close(fd);
		return http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot "
		    "stage the upload");
	}
	close(fd);
	return http_json(c, MHD_HTTP_OK, json_pack("{s:s, s:I}", "part",
	    part, "received", (json_int_t)(off + (long long)rq->len)));
}

/* The SHA-256 of the file at path, of size bytes: 0, or -1 */
static int
hash_file(const char *path, off_t size, char hex[HASH_HEX])
{
	struct hash_ctx *h;
	uint8_t sum[HASH_BYTES];
	char *buf;
	ssize_t n;
	off_t total = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	buf = malloc(1 << 20);
	h = hash_new();
	while (buf != NULL && h != NULL && (n = read(fd, buf, 1 << 20)) > 0) {
		hash_update(h, buf, (size_t)n);
		total += n;
	}
	close(fd);
	free(buf);
	if (h == NULL)
		return -1;
	hash_final(h, sum);
	hash_free(h);
	if (total != size)
		return -1;
	hash_hex(sum, hex);
	return 0;
}

/*
 * The staged PART of dep, of size bytes, into STATE/kernels/SHA (its
 * SHA-256 in hex); the staged file goes. 0; 1 when it is not size
 * bytes long (or missing); -1 on an error.
 */
static int
keep_staged(struct pipold *pd, long long dep, const char *part, long long size,
    char hex[HASH_HEX])
{
	char path[PATH_MAX], dir[PATH_MAX], dst[PATH_MAX + 80];
	struct stat st;
	int fd;

	if (staged_path(pd, dep, part, path, sizeof(path)) < 0 ||
	    kernels_dir(pd, dir, sizeof(dir), 0) < 0)
		return -1;
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size != size)
		return 1;
	if (hash_file(path, st.st_size, hex) < 0)
		return -1;
	snprintf(dst, sizeof(dst), "%s/%s", dir, hex);
	if (access(dst, F_OK) == 0)	/* the same content, kept before */
		return unlink(path) < 0 ? -1 : 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fsync(fd) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (rename(path, dst) < 0)
		return -1;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

/* A size from the body: an integer in [lo, hi]; -1 otherwise */
static long long
size_field(json_t *o, const char *k, long long lo, long long hi)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return -1;
	return json_integer_value(v);
}

/* The row recorded for the caller's deployment, as the answer; NULL
 * when none matches the sizes and command line sent (a POST sent
 * again after its answer was lost) */
static json_t *
recorded(struct http_req *rq, long long ks, long long is, const char *cl)
{
	char dep[24], k[24], i[24];
	const char *params[4] = { dep, k, i, cl };
	json_t *o = NULL;
	PGresult *r;

	snprintf(dep, sizeof(dep), "%lld", rq->who.deployment);
	snprintf(k, sizeof(k), "%lld", ks);
	snprintf(i, sizeof(i), "%lld", is);
	r = db_query(rq->db, "SELECT kernel_sha, initrd_sha FROM "
	    "deployment_kernels WHERE deployment_id = $1 AND kernel_size = $2 "
	    "AND initrd_size = $3 AND cmdline = $4", 4, params);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		o = json_pack("{s:s, s:s?, s:s}", "kernel", PQgetvalue(r, 0, 0),
		    "initrd", PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1),
		    "cmdline", cl);
	PQclear(r);
	return o;
}

/*
 * POST /agent/kernel {"kernel_size": N, "initrd_size": N, "cmdline":
 * TEXT}: what was staged, checked against the sizes sent, kept by its
 * SHA-256 and recorded (netboot_record, schema 012). initrd_size 0: no
 * initrd. The command line goes into the node's boot script: the iPXE
 * rule (boot_value_ok) and less than 2 KiB.
 */
enum MHD_Result
agent_kernel_post(struct http_req *rq)
{
	struct MHD_Connection *c = rq->c;
	const char *cl, *params[6];
	char dep[24], ks_s[24], is_s[24], khex[HASH_HEX], ihex[HASH_HEX];
	char msg[200];
	long long ks, is;
	json_t *o;
	PGresult *r;
	enum MHD_Result rc;
	int ok;

	cl = json_string_value(json_object_get(rq->o, "cmdline"));
	ks = size_field(rq->o, "kernel_size", 1, NETBOOT_KERNEL_MAX);
	is = size_field(rq->o, "initrd_size", 0, NETBOOT_INITRD_MAX);
	if (cl == NULL || strlen(cl) >= NETBOOT_CMDLINE_MAX ||
	    !boot_value_ok(cl, 1) || ks < 0 || is < 0)
		return http_error(c, MHD_HTTP_BAD_REQUEST, "want {\"kernel_size"
		    "\": 1..64 MiB, \"initrd_size\": 0..512 MiB, \"cmdline\": "
		    "under 2 KiB, printable, no quote, $, `, ;, &, |, <, >, "
		    "backslash}");
	if ((ok = in_postinstall(rq)) != 1)
		return not_now(rq, ok);
	if ((ok = keep_staged(rq->pd, rq->who.deployment, "kernel", ks,
	    khex)) == 0 && is > 0)
		ok = keep_staged(rq->pd, rq->who.deployment, "initrd", is,
		    ihex);
	if (ok == 1 && (o = recorded(rq, ks, is, cl)) != NULL)
		return http_json(c, MHD_HTTP_OK, o);	/* sent again */
	if (ok == 1) {
		snprintf(msg, sizeof(msg), "deployment %lld: the kernel (%lld "
		    "bytes) or initrd (%lld bytes) was not received whole",
		    rq->who.deployment, ks, is);
		return http_error(c, MHD_HTTP_CONFLICT, msg);
	}
	if (ok < 0) {
		log_warn("netboot: deployment %lld: keeping its kernel",
		    rq->who.deployment);
		return http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot "
		    "keep the kernel");
	}
	snprintf(dep, sizeof(dep), "%lld", rq->who.deployment);
	snprintf(ks_s, sizeof(ks_s), "%lld", ks);
	snprintf(is_s, sizeof(is_s), "%lld", is);
	params[0] = dep;
	params[1] = khex;
	params[2] = ks_s;
	params[3] = is > 0 ? ihex : NULL;
	params[4] = is_s;
	params[5] = cl;
	r = db_query(rq->db, "SELECT netboot_record($1, $2, $3, $4, $5, $6)",
	    6, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = http_sql_error(c, r, "kernel");
	else {
		db_event(rq->db, "agent", "deploy.kernel", json_pack("{s:s, "
		    "s:s, s:s?, s:s}", "deployment", dep, "kernel", khex,
		    "initrd", params[3], "cmdline", cl));
		rc = http_json(c, MHD_HTTP_OK, json_pack("{s:s, s:s?, s:s}",
		    "kernel", khex, "initrd", params[3], "cmdline", cl));
	}
	PQclear(r);
	return rc;
}

/* The recorded kernel node_id boots now, asked from addr (NULL:
 * unknown): netboot_kernel (schema 012). 1 found, 0 none, -1 error. */
static int
lookup(PGconn *db, const char *where, const char *key, const char *addr,
    struct netboot_kernel *k)
{
	char sql[512];
	const char *params[2] = { key, addr };
	PGresult *r;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT k.deployment_id, k.kernel_sha, "
	    "coalesce(k.initrd_sha, ''), k.cmdline FROM nodes n, "
	    "netboot_kernel(n.id, $2::inet) k WHERE %s AND n.profile = "
	    "'netboot-only'", where);
	r = db_query(db, sql, 2, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = -1;
	else if (PQntuples(r) != 1)
		rc = 0;
	else {
		snprintf(k->deployment, sizeof(k->deployment), "%s",
		    PQgetvalue(r, 0, 0));
		snprintf(k->kernel, sizeof(k->kernel), "%s",
		    PQgetvalue(r, 0, 1));
		snprintf(k->initrd, sizeof(k->initrd), "%s",
		    PQgetvalue(r, 0, 2));
		snprintf(k->cmdline, sizeof(k->cmdline), "%s",
		    PQgetvalue(r, 0, 3));
		rc = 1;
	}
	PQclear(r);
	return rc;
}

int
netboot_kernel_of(PGconn *db, const char *node_id, const char *addr,
    struct netboot_kernel *k)
{
	return lookup(db, "n.id = $1", node_id, addr, k);
}

/*
 * GET /boot/MAC/kernel or /boot/MAC/initrd (boot.c): the file of the
 * node's current deployment, from the node's own address when it has
 * one; 404 otherwise, saying nothing of why.
 */
enum MHD_Result
netboot_file(struct http_req *rq, const char *mac, const char *part)
{
	static const char *const hdr[] = { "Content-Type",
	    "application/octet-stream", "Cache-Control", "no-store", NULL };
	struct netboot_kernel k;
	char addr[HTTP_ADDR_MAX], path[PATH_MAX + 80], dir[PATH_MAX];
	const char *sha;
	struct stat st;
	PGconn *db;
	int fd, rc;

	if ((db = db_get(rq->pd)) == NULL)
		return http_text(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "database unavailable\n");
	rc = lookup(db, "n.mac = $1::macaddr", mac, http_peer_addr(rq->c,
	    addr) == 0 ? addr : NULL, &k);
	db_put(rq->pd, db);
	if (rc < 0)
		return http_text(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "database error\n");
	sha = strcmp(part, "kernel") == 0 ? k.kernel : k.initrd;
	if (rc == 0 || *sha == '\0' || kernels_dir(rq->pd, dir,
	    sizeof(dir), 0) < 0)
		return http_text(rq->c, MHD_HTTP_NOT_FOUND, "not found\n");
	snprintf(path, sizeof(path), "%s/%s", dir, sha);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_warnx("netboot: %s: missing (deployment %s)", path,
		    k.deployment);
		if (fd >= 0)
			close(fd);
		return http_text(rq->c, MHD_HTTP_NOT_FOUND, "not found\n");
	}
	return http_fd(rq->c, MHD_HTTP_OK, fd, 0, (uint64_t)st.st_size, hdr);
}

/* STATE/kernels/SHA into path (a hard link, else a copy): 0 or -1 */
static int
place(struct pipold *pd, const char *sha, const char *path)
{
	char src[PATH_MAX + 80], dir[PATH_MAX], tmp[PATH_MAX + 8], buf[65536];
	off_t at = 0;
	ssize_t n;
	int in, out, rc = 0;

	if (kernels_dir(pd, dir, sizeof(dir), 0) < 0)
		return -1;
	snprintf(src, sizeof(src), "%s/%s", dir, sha);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	if (link(src, tmp) < 0) {	/* another filesystem: a copy */
		if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
			return -1;
		if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644)) < 0) {
			close(in);
			return -1;
		}
		while (rc == 0 && (n = read(in, buf, sizeof(buf))) != 0) {
			if (n < 0 || write_all(out, buf, (size_t)n, at) < 0)
				rc = -1;
			at += n;
		}
		close(in);
		if (close(out) < 0)
			rc = -1;
	}
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -1;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int
netboot_elilo_files(struct pipold *pd, PGconn *db, const char *node_id,
    const char *name, const char *ip, const char *dir, char *cmdline,
    size_t len)
{
	struct netboot_kernel k;
	char folder[PATH_MAX], path[PATH_MAX + 32];
	int rc;

	if ((rc = netboot_kernel_of(db, node_id, ip, &k)) <= 0)
		return rc;
	snprintf(folder, sizeof(folder), "%s/pipol", dir);
	if (mkdir(folder, 0755) < 0 && errno != EEXIST)
		return -1;
	snprintf(folder, sizeof(folder), "%s/pipol/%s", dir, name);
	if (mkdir(folder, 0755) < 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/vmlinuz", folder);
	if (place(pd, k.kernel, path) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/initrd.img", folder);
	if (*k.initrd == '\0')
		unlink(path);
	else if (place(pd, k.initrd, path) < 0)
		return -1;
	snprintf(cmdline, len, "%s", k.cmdline);
	return 1;
}

/*
 * The hourly sweep of STATE/kernels (api_resv.c's tick): nothing else
 * removes what the agents sent. A kernel file goes when no record
 * needs it -- the latest deployment of each node (what a netboot-only
 * node may boot, elilo's local section) and every record of the last
 * day keep theirs -- and it is older than NETBOOT_GC_SEC, so that a
 * file moved in just before its record commits is not taken; a staged
 * piece goes when it is older than NETBOOT_GC_SEC (an upload takes
 * seconds, its agent gave up long ago). Only names this file makes
 * are touched.
 */
#define NETBOOT_GC_SEC		3600
#define NETBOOT_SWEEP_SEC	3600

static int
sha_name(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* dir/name older than NETBOOT_GC_SEC, unlinked: 1, else 0 */
static int
sweep_one(int dfd, const char *name, time_t now)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode) || now - st.st_mtime < NETBOOT_GC_SEC)
		return 0;
	return unlinkat(dfd, name, 0) == 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void
netboot_tick(struct pipold *pd, PGconn *db)
{
	static time_t last;	/* the tick is one thread */
	char dir[PATH_MAX];
	const char **keep = NULL, *name;
	struct dirent *de;
	time_t now = time(NULL);
	int i, n = 0, gone = 0;
	PGresult *r;
	DIR *d;

	if (last != 0 && now - last < NETBOOT_SWEEP_SEC)
		return;
	r = db_query(db, "SELECT s FROM deployment_kernels k, LATERAL "
	    "(VALUES (k.kernel_sha), (k.initrd_sha)) v(s) WHERE s IS NOT NULL "
	    "AND (k.recorded > now() - interval '1 day' OR k.deployment_id IN "
	    "(SELECT DISTINCT ON (node_id) id FROM deployments ORDER BY "
	    "node_id, id DESC))", 0, NULL);
	if (PQresultStatus(r) != PGRES_TUPLES_OK ||
	    (PQntuples(r) > 0 && (keep = calloc(PQntuples(r),
	    sizeof(*keep))) == NULL)) {
		PQclear(r);	/* nothing removed without knowing */
		return;
	}
	last = now;
	for (i = 0; i < PQntuples(r); i++)
		keep[n++] = PQgetvalue(r, i, 0);
	if (n > 0)	/* keep is NULL when there is none */
		qsort(keep, n, sizeof(*keep), cmp_str);
	snprintf(dir, sizeof(dir), "%s/kernels", pd->state);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			name = de->d_name;
			if (sha_name(name) && (n == 0 || bsearch(&name, keep,
			    n, sizeof(*keep), cmp_str) == NULL))
				gone += sweep_one(dirfd(d), name, now);
		}
		closedir(d);
	}
	snprintf(dir, sizeof(dir), "%s/kernels/tmp", pd->state);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				gone += sweep_one(dirfd(d), de->d_name, now);
		closedir(d);
	}
	if (gone > 0)
		log_info("netboot: %d kernel file(s) no deployment needs "
		    "removed from %s/kernels", gone, pd->state);
	free(keep);
	PQclear(r);
}
