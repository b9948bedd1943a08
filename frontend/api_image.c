/*
 * api_image.c -- the image store's versions over the API (issue 14):
 *
 *   GET  /api/images                     every image and version (users:
 *                                        what they may deploy)
 *   GET  /api/images/NAME[?version=V]    one version in detail, and the
 *                                        image's versions (users: same)
 *   GET  /api/images/NAME/packages[?version=V][&q=TEXT]  the packages
 *        it holds, read at validation (store_packages_collect), those
 *        whose name contains TEXT (users: what they may deploy)
 *   POST /api/images/NAME/validate  {"version": V}      admins
 *   POST /api/images/NAME/promote   {"version": V}      admins
 *   POST /api/images/NAME/rollback                      admins
 *   POST /api/images/NAME/copy      {"to": NEW, "version": V}  admins;
 *        NEW must be a new image (409): a copy never adds to another
 *
 * Each calls what "pipol image" calls on a local store (store_validate,
 * store_promote, store_rollback, store_copy; image_info.c for list and
 * show), so the two paths cannot differ. Users deploy validated versions
 * only (api_deploy.c) and no image is restricted per user: a user sees
 * the validated versions of every image, and a draft or an image with
 * none answers 404 as a missing one does. Validate writes the disk out
 * once to read its packages (a few seconds a GiB), the others rewrite
 * one refs file;
 * list reads every index once. Each request runs in its connection's own
 * thread (http.c: a thread per connection), and the store is opened
 * NOWAIT: while gc holds it, 503 "store busy" instead of a wait.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "image_info.h"
#include "log.h"
#include "pipold.h"
#include "store.h"

#define IMAGES_PREFIX	"/api/images/"
#define VERSION_MAX	0x7fffffff	/* store_ref_parse's bound */

/* Copies check that NEWNAME is new, then commit: one at a time, so two
 * copies to one name through pipold cannot both pass the check. */
static pthread_mutex_t copy_mu = PTHREAD_MUTEX_INITIALIZER;

/* NAME of /api/images/NAME[/ACTION], checked by the store's name rule
 * (api.h: api_refresh.c uses it too). */
int
image_from_url(const char *url, char name[STORE_NAME_MAX + 1])
{
	const char *p = url + strlen(IMAGES_PREFIX);
	size_t n = strcspn(p, "/");

	if (n == 0 || n > STORE_NAME_MAX)
		return -1;
	memcpy(name, p, n);
	name[n] = '\0';
	return store_name_check(name, NULL);
}

static enum MHD_Result
bad_name(struct MHD_Connection *c)
{
	return http_error(c, MHD_HTTP_BAD_REQUEST, "image name: 1 to 64 "
	    "characters, only a-z, 0-9 and (not first) - _ .");
}

/* A version number 1..VERSION_MAX from JSON; 0 when v is no such. */
static unsigned
version_of(json_t *v)
{
	json_int_t n = json_integer_value(v);

	return json_is_integer(v) && n >= 1 && n <= VERSION_MAX ?
	    (unsigned)n : 0;
}

/* ?version=V: digits only, 1..VERSION_MAX; 0 when not. */
static unsigned
version_of_text(const char *q)
{
	unsigned long n;
	char *end;

	if (q[0] < '1' || q[0] > '9' || strlen(q) > 10)
		return 0;
	n = strtoul(q, &end, 10);
	return *end == '\0' && n <= VERSION_MAX ? (unsigned)n : 0;
}

/* A store error; to a user, only its kind (the message may name
 * files of the frontend). */
static enum MHD_Result
store_error(struct http_req *rq, const struct perr *e)
{
	if (rq->who.admin || e->code == PE_NOTFOUND || e->code == PE_UNAVAIL)
		return http_perr(rq->c, e);
	return http_error(rq->c, (unsigned)perr_http_status(e->code),
	    "image store: cannot be read");
}

/* The caller's view; list and show need no database, and list reads
 * every index: the pooled connection goes back first. */
static int
view_of(struct http_req *rq)
{
	db_put(rq->pd, rq->db);
	rq->db = NULL;
	return rq->who.admin ? IMAGE_INFO_ALL : IMAGE_INFO_DEPLOYABLE;
}

enum MHD_Result
api_image_list(struct http_req *rq)
{
	int view = view_of(rq);
	struct store *s;
	struct perr e;
	json_t *o;

	if (store_open(rq->pd->state, STORE_SHARED_NOWAIT, &s, &e) < 0)
		return store_error(rq, &e);
	if (image_info_list(s, view, &o, &e) < 0) {
		store_close(s);
		return store_error(rq, &e);
	}
	store_close(s);
	return http_json(rq->c, MHD_HTTP_OK, o);
}

enum MHD_Result
api_image_show(struct http_req *rq)
{
	char name[STORE_NAME_MAX + 1];
	const char *q;
	unsigned v = 0;
	struct store *s;
	struct perr e;
	json_t *o;
	int rc;

	if (image_from_url(rq->url, name) < 0)
		return bad_name(rq->c);
	q = MHD_lookup_connection_value(rq->c, MHD_GET_ARGUMENT_KIND,
	    "version");
	if (q != NULL && (v = version_of_text(q)) == 0)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "version: a "
		    "number from 1");
	if (store_open(rq->pd->state, STORE_SHARED_NOWAIT, &s, &e) < 0)
		return store_error(rq, &e);
	rc = image_info_show(s, name, v, view_of(rq), &o, &e);
	store_close(s);
	if (rc < 0)
		return store_error(rq, &e);
	return http_json(rq->c, MHD_HTTP_OK, o);
}

enum MHD_Result
api_image_packages(struct http_req *rq)
{
	char name[STORE_NAME_MAX + 1];
	const char *q, *match;
	unsigned v = 0;
	struct store *s;
	struct perr e;
	json_t *o;
	int rc;

	if (image_from_url(rq->url, name) < 0)
		return bad_name(rq->c);
	q = MHD_lookup_connection_value(rq->c, MHD_GET_ARGUMENT_KIND,
	    "version");
	match = MHD_lookup_connection_value(rq->c, MHD_GET_ARGUMENT_KIND, "q");
	if (q != NULL && (v = version_of_text(q)) == 0)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "version: a "
		    "number from 1");
	if (match != NULL && strlen(match) > 200)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "q: 200 "
		    "characters at most");
	if (store_open(rq->pd->state, STORE_SHARED_NOWAIT, &s, &e) < 0)
		return store_error(rq, &e);
	rc = image_info_packages(s, name, v, view_of(rq),
	    match && *match ? match : NULL, &o, &e);
	store_close(s);
	if (rc < 0)
		return store_error(rq, &e);
	return http_json(rq->c, MHD_HTTP_OK, o);
}

/* validate and promote: {"version": V} and one store call. */
static enum MHD_Result
version_change(struct http_req *rq, const char *kind,
    int (*op)(struct store *, const char *, unsigned, struct perr *))
{
	char name[STORE_NAME_MAX + 1];
	struct store *s;
	struct perr e;
	unsigned v;
	int rc;

	if (image_from_url(rq->url, name) < 0)
		return bad_name(rq->c);
	if ((v = version_of(json_object_get(rq->o, "version"))) == 0)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "want "
		    "{\"version\": N}, N a number from 1");
	if (store_open(rq->pd->state, STORE_SHARED_NOWAIT, &s, &e) < 0)
		return http_perr(rq->c, &e);
	rc = op(s, name, v, &e);
	store_close(s);
	if (rc < 0)
		return http_perr(rq->c, &e);
	db_event(rq->db, rq->who.name, kind, json_pack("{s:s, s:i}",
	    "image", name, "version", (int)v));
	log_info("%s: %s:%u by %s", kind, name, v, rq->who.name);
	return http_json(rq->c, MHD_HTTP_OK, json_pack("{s:s, s:i}", "image",
	    name, "version", (int)v));
}

enum MHD_Result
api_image_validate(struct http_req *rq)
{
	return version_change(rq, "image.validate", store_validate);
}

enum MHD_Result
api_image_promote(struct http_req *rq)
{
	return version_change(rq, "image.promote", store_promote);
}

enum MHD_Result
api_image_rollback(struct http_req *rq)
{
	char name[STORE_NAME_MAX + 1];
	struct store *s;
	struct perr e;
	unsigned now;
	int rc;

	if (image_from_url(rq->url, name) < 0)
		return bad_name(rq->c);
	if (store_open(rq->pd->state, STORE_SHARED_NOWAIT, &s, &e) < 0)
		return http_perr(rq->c, &e);
	rc = store_rollback(s, name, &now, &e);
	store_close(s);
	if (rc < 0)
		return http_perr(rq->c, &e);
	db_event(rq->db, rq->who.name, "image.rollback", json_pack(
	    "{s:s, s:i}", "image", name, "version", (int)now));
	log_info("image.rollback: %s:%u by %s", name, now, rq->who.name);
	return http_json(rq->c, MHD_HTTP_OK, json_pack("{s:s, s:i}", "image",
	    name, "version", (int)now));
}

/* NAME:v (0: current, else newest) into the new image to, which must
 * not exist; *nv its first version. Under copy_mu. */
static int
copy_new(struct store *s, const char *name, unsigned *v, const char *to,
    unsigned *nv, struct perr *e)
{
	struct store_image img;
	int rc;

	if ((rc = store_resolve(s, name, v, e)) < 0)
		return rc;
	if ((rc = store_image_get(s, to, &img, e)) == 0) {
		store_image_clear(&img);
		return perr_set(e, PE_CONFLICT, "image %s: already exists; a "
		    "copy makes a new image", to);
	}
	if (rc != -PE_NOTFOUND)
		return rc;
	return store_copy(s, name, *v, to, nv, e);
}

enum MHD_Result
api_image_copy(struct http_req *rq)
{
	char name[STORE_NAME_MAX + 1];
	json_t *jv = json_object_get(rq->o, "version");
	const char *to = json_string_value(json_object_get(rq->o, "to"));
	unsigned v = 0, nv;
	struct store *s;
	struct perr e;
	int rc;

	if (image_from_url(rq->url, name) < 0)
		return bad_name(rq->c);
	if (to == NULL || store_name_check(to, NULL) < 0 ||
	    (jv != NULL && (v = version_of(jv)) == 0))
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "want {\"to\": "
		    "NEWNAME, \"version\": N (optional)}; a name: 1 to 64 of "
		    "a-z 0-9 - _ .");
	if (store_open(rq->pd->state, STORE_SHARED_NOWAIT, &s, &e) < 0)
		return http_perr(rq->c, &e);
	pthread_mutex_lock(&copy_mu);
	rc = copy_new(s, name, &v, to, &nv, &e);
	pthread_mutex_unlock(&copy_mu);
	store_close(s);
	if (rc < 0)
		return http_perr(rq->c, &e);
	db_event(rq->db, rq->who.name, "image.copy", json_pack("{s:s, s:i, "
	    "s:s, s:i}", "image", name, "version", (int)v, "to", to,
	    "new_version", (int)nv));
	log_info("image.copy: %s:%u -> %s:%u by %s", name, v, to, nv,
	    rq->who.name);
	return http_json(rq->c, MHD_HTTP_CREATED, json_pack("{s:s, s:i}",
	    "image", to, "version", (int)nv));
}
