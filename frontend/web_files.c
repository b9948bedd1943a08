/*
 * web_files.c -- GET /web and /web/FILE: the web interface's pages,
 * modules and style, embedded at build time (frontend/web/embed.sh), and
 * GET /api/web/docs/NAME: the manuals the Docs page renders (admin.md
 * to admins only). Every page goes with a Content-Security-Policy that
 * allows no inline script and no script but pipold's own, no frames
 * around it, and nosniff. What the pages do is theirs (frontend/web/).
 *
 * The page itself (index.html) goes with a nonce of 128 random bits,
 * new each time, in its CSP's style-src and in the page (where it says
 * WEB_NONCE_MARK): the terminal (xterm.js) makes <style> elements, and
 * the page stamps that nonce on them; a <style> anything else slips in
 * is refused. No script is let in by it.
 */
#include <sys/random.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

#define WEB_CSP_HEAD	"default-src 'none'; script-src 'self'; " \
	"style-src 'self'"
#define WEB_CSP_TAIL	"; img-src 'self' data:; connect-src 'self'; " \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
#define WEB_NONCE_MARK	"@STYLE_NONCE@"

const char *const web_page_headers[] = {
	"Content-Security-Policy", WEB_CSP_HEAD WEB_CSP_TAIL,
	"X-Content-Type-Options", "nosniff",
	"X-Frame-Options", "DENY",
	"Referrer-Policy", "no-referrer",
	"Cache-Control", "no-cache",
	NULL
};

static const struct web_file *
web_file_find(const char *path)
{
	const struct web_file *f;

	for (f = web_files; f->path != NULL; f++)
		if (strcmp(f->path, path) == 0)
			return f;
	return NULL;
}

static enum MHD_Result
web_file_send(struct http_req *rq, const struct web_file *f)
{
	return http_reply_headers(rq->c, MHD_HTTP_OK, f->type, f->body,
	    f->len ? f->len : strlen(f->body), web_page_headers);
}

/* index.html with a fresh style nonce in it and in its CSP */
static enum MHD_Result
web_index_send(struct http_req *rq, const struct web_file *f)
{
	const char *mark = strstr(f->body, WEB_NONCE_MARK), *hdrs[16];
	uint8_t raw[16];
	char nonce[33], csp[512], *body;
	size_t i, len = strlen(f->body), ml = strlen(WEB_NONCE_MARK);
	enum MHD_Result rc;
	ssize_t n;

	do
		n = getrandom(raw, sizeof(raw), 0);
	while (n == -1 && errno == EINTR);
	if (mark == NULL || n != (ssize_t)sizeof(raw) ||
	    (body = malloc(len - ml + 2 * sizeof(raw) + 1)) == NULL)
		return http_text(rq->c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "the page could not be made\n");
	for (i = 0; i < sizeof(raw); i++)
		snprintf(nonce + 2 * i, 3, "%02x", raw[i]);
	snprintf(body, len - ml + 2 * sizeof(raw) + 1, "%.*s%s%s",
	    (int)(mark - f->body), f->body, nonce, mark + ml);
	snprintf(csp, sizeof(csp), WEB_CSP_HEAD " 'nonce-%s'" WEB_CSP_TAIL,
	    nonce);
	for (i = 0; web_page_headers[i] != NULL && i < 14; i += 2) {
		hdrs[i] = web_page_headers[i];
		hdrs[i + 1] = i == 0 ? csp : web_page_headers[i + 1];
	}
	hdrs[i] = NULL;
	rc = http_reply_headers(rq->c, MHD_HTTP_OK, f->type, body,
	    strlen(body), hdrs);
	free(body);
	return rc;
}

enum MHD_Result
web_file_get(struct http_req *rq)
{
	const char *path = strcmp(rq->url, "/web") == 0 ?
	    "/web/index.html" : rq->url;
	const struct web_file *f;

	if (strncmp(path, "/web/", 5) != 0 ||
	    (f = web_file_find(path)) == NULL)
		return http_text(rq->c, MHD_HTTP_NOT_FOUND, "not found\n");
	if (strcmp(path, "/web/index.html") == 0)
		return web_index_send(rq, f);
	return web_file_send(rq, f);
}

/* GET /api/web/docs/user|admin: docs/NAME.md as text */
enum MHD_Result
web_docs_get(struct http_req *rq)
{
	const char *name = rq->url + strlen("/api/web/docs/");
	const struct web_file *f;
	char path[32];

	if (strcmp(name, "user") != 0 && strcmp(name, "admin") != 0)
		return http_error(rq->c, MHD_HTTP_NOT_FOUND, "docs: user or "
		    "admin");
	if (strcmp(name, "admin") == 0 && !rq->who.admin)
		return http_error(rq->c, MHD_HTTP_FORBIDDEN, "admins only");
	snprintf(path, sizeof(path), "/doc/%s.md", name);
	if ((f = web_file_find(path)) == NULL)
		return http_error(rq->c, MHD_HTTP_NOT_FOUND, "not embedded");
	return web_file_send(rq, f);
}
