/*
 * kernel_upload.c -- after post-install, with the deployed root still
 * mounted: its default kernel, initrds and command line (kernel_find.c)
 * uploaded to pipold, which serves them to a netboot-only node at each
 * boot (frontend/netboot.c):
 *
 *   PUT  SERVER/agent/kernel/kernel?offset=N   pieces of KUP_PIECE
 *   PUT  SERVER/agent/kernel/initrd?offset=N   the initrds back to back
 *                                              (the kernel takes them so,
 *                                              as GRUB loads them)
 *   POST SERVER/agent/kernel  {"kernel_size", "initrd_size", "cmdline"}
 *
 * Each request is retried by http.c's table; a piece sent again lands
 * at the same offset. pipold hashes what it got: no hash is sent.
 * Files are opened inside the root (mount_resolve): a link in the image
 * never leads out of it.
 */
#include <sys/stat.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "kernel_find.h"
#include "kernel_upload.h"
#include "limits.h"
#include "log.h"
#include "mount.h"

struct kup {
	const char *server, *token;
	struct http_away away;
	CURL *h;
	char err[CURL_ERROR_SIZE];
};

/* One request until it has a final answer; 0 or -code with e */
static int
send_req(struct kup *k, const char *method, const char *path,
    const char *ctype, const void *body, size_t len, struct perr *e)
{
	struct http_body b = { .max = AGENT_ORDER_MAX };
	struct http_call c = { .h = k->h, .err = k->err, .away = &k->away,
	    .body = &b };
	struct curl_slist *hdr;
	char url[700], why[CURL_ERROR_SIZE + 32];
	int rc;

	snprintf(url, sizeof(url), "%s%s", k->server, path);
	if ((hdr = http_headers(k->token, ctype)) == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	http_set_request(k->h, method, url, body, len, hdr);
	http_set_body(k->h, &b);
	rc = http_call_run(&c);
	curl_slist_free_all(hdr);
	if (rc < 0) {
		http_call_why(&c, why, sizeof(why));
		perr_set(e, -rc, "%s %s: %s%s%s", method, path, why,
		    b.p ? ": " : "", b.p ? b.p : "");
	}
	http_body_free(&b);
	return rc;
}

/* path inside the root, opened for reading; -1 with e */
static int
open_in_root(int rootfd, const char *path, struct perr *e)
{
	char at[40];
	int pfd, fd;

	while (*path == '/')
		path++;
	if ((pfd = mount_resolve(rootfd, path, 0)) < 0)
		return perr_errno(e, PE_DATA, "/%s", path), -1;
	snprintf(at, sizeof(at), "/proc/self/fd/%d", pfd);
	fd = open(at, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	close(pfd);
	if (fd < 0)
		perr_errno(e, PE_DATA, "/%s", path);
	return fd;
}

/*
 * The files (inside the root) sent back to back as part, in pieces;
 * *total gets their length. 0 or -code with e.
 */
static int
send_files(struct kup *k, int rootfd, const char *part,
    const char (*files)[KERNEL_PATH_MAX], int nfiles, unsigned long long max,
    long long *total, struct perr *e)
{
	char path[64], *buf;
	size_t fill = 0;
	ssize_t n;
	long long off = 0;
	int i, fd, rc = 0;

	if ((buf = malloc(KUP_PIECE)) == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	for (i = 0; i < nfiles && rc == 0; i++) {
		if ((fd = open_in_root(rootfd, files[i], e)) < 0) {
			rc = -e->code;
			break;
		}
		while (rc == 0 && (n = read(fd, buf + fill, KUP_PIECE -
		    fill)) != 0) {
			if (n < 0) {
				rc = perr_errno(e, PE_DATA, "%s", files[i]);
				break;
			}
			fill += (size_t)n;
			if ((unsigned long long)(off + (long long)fill) > max)
				rc = perr_set(e, PE_DATA, "%s: the %s is larger "
				    "than %llu MiB (pipold's limit)", files[i],
				    part, max >> 20);
			else if (fill == KUP_PIECE) {
				snprintf(path, sizeof(path), "/agent/kernel/%s"
				    "?offset=%lld", part, off);
				rc = send_req(k, "PUT", path,
				    "application/octet-stream", buf, fill, e);
				off += (long long)fill;
				fill = 0;
			}
		}
		close(fd);
	}
	if (rc == 0 && fill > 0) {
		snprintf(path, sizeof(path), "/agent/kernel/%s?offset=%lld",
		    part, off);
		rc = send_req(k, "PUT", path, "application/octet-stream", buf,
		    fill, e);
		off += (long long)fill;
	}
	free(buf);
	*total = off;
	return rc;
}

static int
upload(struct kup *k, int rootfd, const struct kernel_boot *kb,
    struct perr *e)
{
	char kpath[1][KERNEL_PATH_MAX];
	long long ks = 0, is = 0;
	json_t *o;
	char *text;
	int rc;

	snprintf(kpath[0], sizeof(kpath[0]), "%s", kb->kernel);
	if ((rc = send_files(k, rootfd, "kernel", (const char (*)[
	    KERNEL_PATH_MAX])kpath, 1, KUP_KERNEL_MAX, &ks, e)) < 0 ||
	    (rc = send_files(k, rootfd, "initrd", kb->initrd, kb->ninitrd,
	    KUP_INITRD_MAX, &is, e)) < 0)
		return rc;
	if (ks == 0)
		return perr_set(e, PE_DATA, "%s: an empty kernel", kb->kernel);
	o = json_pack("{s:I, s:I, s:s}", "kernel_size", (json_int_t)ks,
	    "initrd_size", (json_int_t)is, "cmdline", kb->cmdline);
	if (o == NULL || (text = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		return perr_set(e, PE_DATA, "the command line: not UTF-8");
	}
	rc = send_req(k, "POST", "/agent/kernel", "application/json", text,
	    strlen(text), e);
	free(text);
	json_decref(o);
	if (rc == 0)
		log_info("kernel: %s (%lld bytes), %d initrd(s) (%lld bytes), "
		    "\"%s\" uploaded to pipold", kb->kernel, ks, kb->ninitrd,
		    is, kb->cmdline);
	return rc;
}

int
kernel_upload(const char *server, const char *token, const char *root,
    const char *dev, struct perr *e)
{
	struct kup k = { .server = server, .token = token };
	struct kernel_boot *kb;
	char uuid[37];
	struct perr fe;
	int rootfd, rc;

	if ((kb = calloc(1, sizeof(*kb))) == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	if ((rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		free(kb);
		return perr_errno(e, PE_FAIL, "%s", root);
	}
	http_away_init(&k.away, AGENT_UNREACHABLE_SEC);
	if ((k.h = http_easy_new(k.err)) == NULL) {
		rc = perr_set(e, PE_FAIL, "libcurl: out of memory");
		goto out;
	}
	rc = kernel_find(rootfd, dev != NULL && kernel_fs_uuid(dev, uuid, sizeof(uuid)) ==
	    0 ? uuid : NULL, kb, &fe);
	if (rc < 0) {
		rc = perr_set(e, PE_DATA, "netboot-only: no kernel to boot "
		    "the deployed system from the network: %s", fe.msg);
		goto out;
	}
	if ((rc = upload(&k, rootfd, kb, &fe)) < 0)
		*e = fe;
 out:
	http_easy_free(k.h);
	http_away_destroy(&k.away);
	close(rootfd);
	free(kb);
	return rc;
}
