/*
 * http_store.c -- the store over HTTP: /images/NAME/V.idx and
 * /chunks/HASH.EXT, as files (sendfile), with what lets any cache sit in
 * between: a strong ETag, Cache-Control immutable (both URLs name
 * content that never changes), If-None-Match, and single-range Range.
 * Paths are checked against their exact grammar before any file is
 * opened: nothing else under the state folder is reachable. Also the
 * deployment environment, /bootenv/FLAVOUR/FILE from STATE/bootenv/.
 * The responses themselves are http.c's (http_fd).
 */
#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "metrics.h"	/* metrics: answers and bytes */
#include "pipold.h"
#include "store.h"

#define IMMUTABLE "public, max-age=31536000, immutable"

static int
all_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

/* 1 when url is /chunks/<64 hex>.gz|.zst or /images/<name>/<n>.idx */
int
http_store_path_ok(const char *url)
{
	char name[STORE_NAME_MAX + 1];
	const char *p, *slash;
	size_t n;

	if (strncmp(url, "/chunks/", 8) == 0) {
		p = url + 8;
		return strlen(p) > 64 && all_hex(p, 64) &&
		    (strcmp(p + 64, ".gz") == 0 || strcmp(p + 64, ".zst") == 0);
	}
	if (strncmp(url, "/images/", 8) != 0)
		return 0;
	p = url + 8;
	if ((slash = strchr(p, '/')) == NULL ||
	    (n = (size_t)(slash - p)) == 0 || n > STORE_NAME_MAX)
		return 0;
	memcpy(name, p, n);
	name[n] = '\0';
	if (store_name_check(name, NULL) < 0)
		return 0;
	p = slash + 1;
	if (*p < '1' || *p > '9')
		return 0;
	while (isdigit((unsigned char)*p))
		p++;
	return strcmp(p, ".idx") == 0 && p - (slash + 1) <= 9;
}

/* "bytes=A-B", "bytes=A-", "bytes=-N" against size; 0 ok, -1 bad. */
static int
parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *len)
{
	unsigned long long a = 0, b = 0;
	char *end;

	if (strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
		return -1;
	h += 6;
	if (*h == '-') {		/* the last N bytes */
		b = strtoull(h + 1, &end, 10);
		if (end == h + 1 || *end || b == 0)
			return -1;
		*from = b >= size ? 0 : size - b;
		*len = size - *from;
		return size ? 0 : -1;
	}
	a = strtoull(h, &end, 10);
	if (end == h || *end != '-' || a >= size)
		return -1;
	h = end + 1;
	if (*h == '\0') {
		b = size - 1;
	} else {
		b = strtoull(h, &end, 10);
		if (*end || b < a)
			return -1;
		if (b >= size)
			b = size - 1;
	}
	*from = a;
	*len = b - a + 1;
	return 0;
}

enum MHD_Result
http_store(struct pipold *pd, struct MHD_Connection *c, const char *url,
    int head)
{
	char path[PATH_MAX], etag[128], crange[96];
	const char *inm, *range, *leaf = strrchr(url, '/') + 1;
	const char *hdr[11] = { "ETag", etag, "Cache-Control", IMMUTABLE,
	    "Accept-Ranges", "bytes", "Content-Type",
	    "application/octet-stream", NULL, NULL, NULL };
	uint64_t from = 0, len;
	unsigned status = MHD_HTTP_OK;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s%s", pd->store_root, url);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		if (fd != -1)
			close(fd);
		metrics_store(MHD_HTTP_NOT_FOUND, 0);	/* metrics */
		return http_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	}
	/* chunks: named by their hash; indexes: by name, version, size */
	if (url[1] == 'c')
		snprintf(etag, sizeof(etag), "\"%.64s\"", leaf);
	else
		snprintf(etag, sizeof(etag), "\"%.*s-%jd\"",
		    (int)(strchr(url + 8, '/') - (url + 8)), url + 8,
		    (intmax_t)st.st_size);
	inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_NONE_MATCH);
	len = (uint64_t)st.st_size;
	range = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_RANGE);
	(void)head;	/* MHD sends no body for HEAD by itself */
	if (inm != NULL && (strcmp(inm, etag) == 0 || strcmp(inm, "*") == 0)) {
		close(fd);
		metrics_store(MHD_HTTP_NOT_MODIFIED, 0);	/* metrics */
		return http_fd(c, MHD_HTTP_NOT_MODIFIED, -1, 0, 0, hdr);
	}
	if (range != NULL && parse_range(range, len, &from, &len) < 0) {
		close(fd);
		snprintf(crange, sizeof(crange), "bytes */%jd",
		    (intmax_t)st.st_size);
		hdr[8] = "Content-Range";
		hdr[9] = crange;
		metrics_store(MHD_HTTP_RANGE_NOT_SATISFIABLE, 0); /* metrics */
		return http_fd(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, -1, 0, 0,
		    hdr);
	}
	if (range != NULL) {
		status = MHD_HTTP_PARTIAL_CONTENT;
		snprintf(crange, sizeof(crange), "bytes %" PRIu64 "-%" PRIu64
		    "/%jd", from, from + len - 1, (intmax_t)st.st_size);
		hdr[8] = "Content-Range";
		hdr[9] = crange;
	}
	metrics_store(status, head ? 0 : len);	/* metrics */
	return http_fd(c, status, fd, from, len, hdr);
}

/* 1 when s is a name of 1..max letters, digits, '.', '_' or '-', that
 * starts with a letter or digit and holds no "..". */
static int
bootenv_name_ok(const char *s, size_t len, size_t max)
{
	size_t i;

	if (len == 0 || len > max || !isalnum((unsigned char)s[0]))
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '_' && s[i] != '-')
			return 0;
	return memmem(s, len, "..", 2) == NULL;
}

/*
 * GET /bootenv/FLAVOUR/FILE: the deployment environment's kernel and
 * initramfs, STATE/bootenv/FLAVOUR/FILE (bootenv/build.sh makes them).
 * No cache headers: an admin may rebuild them in place.
 */
enum MHD_Result
http_bootenv(struct http_req *rq)
{
	static const char *const hdr[] = { "Content-Type",
	    "application/octet-stream", NULL };
	const char *flavour = rq->url + strlen("/bootenv/"), *file;
	struct MHD_Connection *c = rq->c;
	char path[PATH_MAX];
	struct stat st;
	int fd;

	if ((file = strchr(flavour, '/')) == NULL ||
	    !bootenv_name_ok(flavour, (size_t)(file - flavour), 32) ||
	    !bootenv_name_ok(file + 1, strlen(file + 1), 64))
		return http_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	snprintf(path, sizeof(path), "%s%s", rq->pd->state, rq->url);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		if (fd != -1)
			close(fd);
		return http_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	}
	return http_fd(c, MHD_HTTP_OK, fd, 0, (uint64_t)st.st_size, hdr);
}
