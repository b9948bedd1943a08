/*
 * web_files.c -- GET /web and /web/FILE: the web interface's pages,
 * modules and style, embedded at build time (frontend/web/embed.sh), and
 * GET /api/web/docs/NAME: the manuals the Docs page renders (admin.md
 * to admins only). Every page goes with a Content-Security-Policy that
 * allows no inline script and no script but pipold's own, no frames
 * around it, and nosniff. What the pages do is theirs (frontend/web/).
 */
#include <stdio.h>
#include <string.h>

#include "web.h"

const char *const web_page_headers[] = {
	"Content-Security-Policy", "default-src 'none'; script-src 'self'; "
	    "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
	    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
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

enum MHD_Result
web_file_get(struct http_req *rq)
{
	const char *path = strcmp(rq->url, "/web") == 0 ?
	    "/web/index.html" : rq->url;
	const struct web_file *f;

	if (strncmp(path, "/web/", 5) != 0 ||
	    (f = web_file_find(path)) == NULL)
		return http_text(rq->c, MHD_HTTP_NOT_FOUND, "not found\n");
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
