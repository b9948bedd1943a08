/*
 * api_job.c -- pipol sub and pipol job (schema 016), as users ask:
 *
 *   POST /api/jobs   {"name", "argv": [..], "images": [..], "count": N,
 *                     "profile", "seconds", "keep", "source":
 *                     {"sha256", "size"}}: a job; with a source it
 *                     waits for it (uploading), else it is queued
 *   POST /api/jobs/ID/source?off=N   a piece of the source tarball (raw
 *                     bytes, JOB_PIECE_MAX); the last one checked by
 *                     SHA-256 queues the job
 *   POST /api/jobs/ID/cancel
 *   GET  /api/jobs[?id=N][&all=1]    yours (admins: all=1, everyone's)
 *   GET  /api/jobs/ID/runs/RUN/stdout|stderr|results   what it left
 *   GET  /api/jobs/matrix[?user=NAME][&since=SECS]     the matrix
 *
 * and as a node's job hook asks, with its job-run token (public routes
 * whose token this file looks up itself: job_run_of_token, schema 016,
 * only from the address that fetched the order, only while the run is
 * open):
 *
 *   GET  /job/argv     the command, one argument a line, every byte
 *                      as \0ooo (printf %b reads it back: no shell
 *                      ever parses the user's words); the run is
 *                      running from then, once the node is ready
 *   GET  /job/source   the source tarball (empty: none)
 *   POST /job/out/stdout|stderr|results?off=N   a piece, raw
 *   POST /job/result   {"status", "seconds", "truncated"}: once; the
 *                      token dies
 *
 * What runs leave is kept under STATE/jobs/ID/ (source.tar.gz,
 * RUN.stdout, RUN.stderr, RUN.results.tar.gz). A user sees and fetches
 * only their own jobs (admins: everyone's).
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "hash.h"
#include "jobs.h"
#include "pipold.h"
#include "sched.h"

#define JOB_ARGV_MAX	(64 * 1024)	/* the command's bytes in all */
#define JOB_ARG_MAX	256		/* its words */
#define JOB_IMAGES_MAX	16
#define JOB_COUNT_MAX	64		/* nodes per image */
#define JOB_SECS_DEFAULT 3600

/* STATE/jobs/ID[/file]; the folders made when mk */
static int
job_path(struct pipold *pd, const char *id, const char *file, int mk,
    char *buf, size_t len)
{
	snprintf(buf, len, "%s/jobs", pd->state);
	if (mk && mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -1;
	snprintf(buf, len, "%s/jobs/%s", pd->state, id);
	if (mk && mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -1;
	if (file != NULL)
		snprintf(buf, len, "%s/jobs/%s/%s", pd->state, id, file);
	return 0;
}

/* A number of 1..18 digits at s, up to end (NUL or '/'); -1 if not. */
static int
id_at(const char *s, char id[24], const char **rest)
{
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n > 18 || (s[n] != '\0' && s[n] != '/'))
		return -1;
	snprintf(id, 24, "%.*s", (int)n, s);
	*rest = s + n;
	return 0;
}

/* ?off=N, or -1 */
static long long
query_off(struct MHD_Connection *c)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	    "off");

	if (v == NULL || *v == '\0' || strlen(v) > 12 ||
	    strspn(v, "0123456789") != strlen(v))
		return -1;
	return strtoll(v, NULL, 10);
}

/* argv: 1..JOB_ARG_MAX strings, no NUL inside, JOB_ARGV_MAX in all */
static int
argv_ok(json_t *a)
{
	size_t i, tot = 0;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > JOB_ARG_MAX)
		return 0;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || json_string_length(v) !=
		    strlen(json_string_value(v)) || (i == 0 &&
		    json_string_length(v) == 0))
			return 0;
		tot += json_string_length(v) + 1;
	}
	return tot <= JOB_ARGV_MAX;
}

/* images: 1..JOB_IMAGES_MAX refs each who may deploy, as {a,b} */
static int
images_ok(struct http_req *rq, json_t *a, char *arr, size_t len,
    struct perr *e)
{
	size_t i, w = 0;
	json_t *v;
	int rc;

	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > JOB_IMAGES_MAX)
		return perr_set(e, PE_USAGE, "images: 1 to %d", JOB_IMAGES_MAX);
	arr[w++] = '{';
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);

		if (s == NULL || *s == '\0' || strlen(s) > 128 ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
		    "TUVWXYZ0123456789._-:") != strlen(s))
			return perr_set(e, PE_USAGE, "images: NAME[:VERSION]");
		if ((rc = deploy_image_ok(rq->pd, s, rq->who.admin, e)) < 0)
			return rc;
		w += snprintf(arr + w, len - w, "%s%s", i ? "," : "", s);
	}
	snprintf(arr + w, len - w, "}");
	return 0;
}

static enum MHD_Result
job_add_reply(struct http_req *rq, const char *id)
{
	char dir[4096];

	if (job_path(rq->pd, id, NULL, 1, dir, sizeof(dir)) < 0)
		return http_error(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE, "job: "
		    "cannot make its folder");
	sched_nudge();
	jobs_nudge();
	return http_json(rq->c, MHD_HTTP_CREATED, json_pack("{s:I}", "id",
	    (json_int_t)strtoll(id, NULL, 10)));
}

/*
 * The job of request o as POST /api/jobs and POST /api/cron take it
 * (but its source): its words checked and made SQL parameters in jr
 * (job_req_free). 0, or the refusal queued in *rc and -1.
 */
int
job_req_parse(struct http_req *rq, json_t *o, struct job_req *jr,
    enum MHD_Result *rc)
{
	json_t *v = json_object_get(o, "count"), *s = json_object_get(o,
	    "seconds");
	struct perr e;

	memset(jr, 0, sizeof(*jr));
	jr->name = json_string_value(json_object_get(o, "name"));
	jr->prof = json_string_value(json_object_get(o, "profile"));
	if (jr->name == NULL || !argv_ok(json_object_get(o, "argv")) ||
	    (v && (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > JOB_COUNT_MAX)) ||
	    (json_object_get(o, "profile") && (jr->prof == NULL ||
	    strlen(jr->prof) > 63)) ||
	    (json_object_get(o, "keep") && !json_is_boolean(json_object_get(o,
	    "keep"))) || (s && (!json_is_integer(s) ||
	    json_integer_value(s) < 60))) {
		*rc = http_error(rq->c, MHD_HTTP_BAD_REQUEST, "want {\"name\", "
		    "\"argv\": [1 to 256 words, 64 KiB], \"images\": [..], "
		    "\"count\": 1..64, \"profile\", \"seconds\": N >= 60, "
		    "\"keep\": bool, \"source\": {\"sha256\", \"size\": up to "
		    "256 MiB}}");
		return -1;
	}
	_Static_assert(sizeof(jr->imgs) >= JOB_IMAGES_MAX * 130 + 4,
	    "room for the images");
	if (images_ok(rq, json_object_get(o, "images"), jr->imgs,
	    sizeof(jr->imgs), &e) < 0) {
		*rc = http_perr(rq->c, &e);
		return -1;
	}
	if ((jr->argv = json_dumps(json_object_get(o, "argv"), JSON_COMPACT)) ==
	    NULL) {
		*rc = http_error(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "out of memory");
		return -1;
	}
	snprintf(jr->uid, sizeof(jr->uid), "%lld", rq->who.id);
	snprintf(jr->n, sizeof(jr->n), "%lld", v ? (long long)
	    json_integer_value(v) : 1LL);
	snprintf(jr->secs, sizeof(jr->secs), "%lld", s ? (long long)
	    json_integer_value(s) : (long long)JOB_SECS_DEFAULT);
	jr->keep = json_is_true(json_object_get(o, "keep")) ? "t" : "f";
	return 0;
}

void
job_req_free(struct job_req *jr)
{
	free(jr->argv);
	jr->argv = NULL;
}

/* a CHECK of the jobs' (or cron entries') table failed: the name's */
enum MHD_Result
job_req_sql_error(struct http_req *rq, PGresult *r, const char *what)
{
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	return st && strcmp(st, "23514") == 0 ? http_error(rq->c,
	    MHD_HTTP_BAD_REQUEST, "name: a letter or digit, then up to 63 of "
	    "A-Z a-z 0-9 . _ + -") : http_sql_error(rq->c, r, what);
}

enum MHD_Result
api_job_add(struct http_req *rq)
{
	json_t *o = rq->o, *src = json_object_get(o, "source");
	const char *params[10], *sha = NULL;
	struct job_req jr;
	enum MHD_Result rc;
	char size[24];
	PGresult *r;

	if (src && (!json_is_object(src) || (sha = json_string_value(
	    json_object_get(src, "sha256"))) == NULL || strlen(sha) != 64 ||
	    strspn(sha, "0123456789abcdef") != 64 || !json_is_integer(
	    json_object_get(src, "size")) || json_integer_value(
	    json_object_get(src, "size")) < 1 || (unsigned long long)
	    json_integer_value(json_object_get(src, "size")) > JOB_SOURCE_MAX))
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "want {\"name\", "
		    "\"argv\": [1 to 256 words, 64 KiB], \"images\": [..], "
		    "\"count\": 1..64, \"profile\", \"seconds\": N >= 60, "
		    "\"keep\": bool, \"source\": {\"sha256\", \"size\": up to "
		    "256 MiB}}");
	if (job_req_parse(rq, o, &jr, &rc) < 0)
		return rc;
	snprintf(size, sizeof(size), "%lld", src ? (long long)
	    json_integer_value(json_object_get(src, "size")) : 0LL);
	params[0] = jr.uid;
	params[1] = jr.name;
	params[2] = jr.argv;
	params[3] = jr.imgs;
	params[4] = jr.n;
	params[5] = jr.prof;
	params[6] = jr.secs;
	params[7] = jr.keep;
	params[8] = sha;
	params[9] = sha ? size : NULL;
	r = db_query(rq->db, "SELECT job_submit($1, $2, $3::jsonb, $4, $5, "
	    "$6, $7, $8, $9, $10)", 10, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = job_req_sql_error(rq, r, "job");
	else {
		db_event(rq->db, rq->who.name, "job.add", json_pack("{s:s, "
		    "s:s}", "id", PQgetvalue(r, 0, 0), "name", jr.name));
		rc = job_add_reply(rq, PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	job_req_free(&jr);
	return rc;
}

/* SHA-256 of file path as hex; -1 when unreadable */
static int
file_sha(const char *path, char hex[HASH_HEX])
{
	struct hash_ctx *h;
	uint8_t sum[HASH_BYTES];
	char buf[65536];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	if ((h = hash_new()) == NULL) {
		close(fd);
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		hash_update(h, buf, (size_t)n);
	hash_final(h, sum);
	hash_free(h);
	close(fd);
	if (n < 0)
		return -1;
	hash_hex(sum, hex);
	return 0;
}

/* len bytes at off of path (made 0600 when new); 0 or -1 */
static int
piece_write(const char *path, long long off, const char *buf, size_t len)
{
	ssize_t w;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) < 0)
		return -1;
	while (len > 0) {
		if ((w = pwrite(fd, buf, len, off)) < 0 && errno != EINTR)
			break;
		if (w > 0) {
			buf += w;
			len -= (size_t)w;
			off += w;
		}
	}
	if (close(fd) < 0 || len > 0)
		return -1;
	return 0;
}

/*
 * A piece of [off, off + len) for a counter the statement upd moves from
 * off to off + len (params: the row, off, off + len; it answers the
 * counter and the limit when it moved); then the bytes into path. A
 * piece sent again (it ends where the counter is) is taken as done.
 * 1 when the counter reached its limit, 0 when not, else the reply
 * is queued in *rc and -1.
 */
static int
piece_take_bytes(struct http_req *rq, PGconn *db, const char *upd,
    const char *row, const char *path, const char *body, size_t len,
    enum MHD_Result *rc)
{
	long long off = query_off(rq->c);
	char o[24], end[24];
	const char *params[3] = { row, o, end };
	PGresult *r;
	int full;

	if (off < 0 || len == 0) {
		*rc = http_error(rq->c, MHD_HTTP_BAD_REQUEST, "want ?off=N and "
		    "a body");
		return -1;
	}
	snprintf(o, sizeof(o), "%lld", off);
	snprintf(end, sizeof(end), "%lld", off + (long long)len);
	r = db_query(db, upd, 3, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		*rc = http_sql_error(rq->c, r, "upload");
		PQclear(r);
		return -1;
	}
	if (PQntuples(r) != 1) {
		*rc = http_error(rq->c, MHD_HTTP_CONFLICT, "upload: not at "
		    "that offset, or past the limit");
		PQclear(r);
		return -1;
	}
	full = strcmp(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1)) == 0;
	PQclear(r);
	if (piece_write(path, off, body, len) < 0) {
		*rc = http_error(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE, "upload: "
		    "cannot write it");
		return -1;
	}
	return full;
}

static int
piece_take(struct http_req *rq, PGconn *db, const char *upd,
    const char *row, const char *path, enum MHD_Result *rc)
{
	return piece_take_bytes(rq, db, upd, row, path, rq->body, rq->len, rc);
}

/*
 * A piece sent as base64 (?enc=base64: BusyBox's wget --post-file stops
 * at the first NUL byte, so a system without curl sends its binary
 * pieces encoded; line breaks allowed): decoded into a new buffer, *len
 * its length. NULL when the body is not base64.
 */
static unsigned char *
piece_decode(const char *body, size_t blen, size_t *len)
{
	EVP_ENCODE_CTX *ctx;
	unsigned char *out;
	int n = 0, m = 0;

	if (blen > INT_MAX || (ctx = EVP_ENCODE_CTX_new()) == NULL)
		return NULL;
	if ((out = malloc(blen / 4 * 3 + 80)) == NULL) {
		EVP_ENCODE_CTX_free(ctx);
		return NULL;
	}
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, out, &n, (const unsigned char *)body,
	    (int)blen) < 0 || EVP_DecodeFinal(ctx, out + n, &m) < 0) {
		free(out);
		out = NULL;
	} else
		*len = (size_t)n + (size_t)m;
	EVP_ENCODE_CTX_free(ctx);
	return out;
}

/* The end of a source upload: checked, then the job queued. */
static enum MHD_Result
source_done(struct http_req *rq, const char *id, const char *path)
{
	const char *params[2] = { id, NULL };
	char hex[HASH_HEX];
	enum MHD_Result rc;
	PGresult *r;

	if (file_sha(path, hex) < 0)
		return http_error(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE, "source: "
		    "cannot read it back");
	params[1] = hex;
	r = db_query(rq->db, "SELECT CASE WHEN source_sha256 = $2 THEN "
	    "job_queue(id)::text ELSE 'mismatch' END FROM jobs WHERE id = $1 "
	    "AND state = 'uploading'", 2, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = http_sql_error(rq->c, r, "job");
	else if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0),
	    "mismatch") == 0) {
		PQclear(r);
		r = db_query(rq->db, "UPDATE jobs SET state = 'failed', ended = "
		    "now(), reason = 'source: SHA-256 mismatch' WHERE id = $1",
		    1, params);
		rc = http_error(rq->c, MHD_HTTP_UNPROCESSABLE_CONTENT, "source: "
		    "SHA-256 mismatch; the job failed");
	} else {
		sched_nudge();
		jobs_nudge();
		rc = http_json(rq->c, MHD_HTTP_OK, json_pack("{s:s}", "state",
		    "queued"));
	}
	PQclear(r);
	return rc;
}

static enum MHD_Result
job_source(struct http_req *rq, const char *id)
{
	char uid[24], path[4096];
	const char *params[2] = { id, uid };
	enum MHD_Result rc;
	PGresult *r;
	int k;

	snprintf(uid, sizeof(uid), "%lld", rq->who.id);
	r = db_query(rq->db, "SELECT 1 FROM jobs WHERE id = $1 AND user_id = "
	    "$2 AND state = 'uploading'", 2, params);
	k = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : -1;
	PQclear(r);
	if (k != 1)
		return http_error(rq->c, k < 0 ? MHD_HTTP_SERVICE_UNAVAILABLE :
		    MHD_HTTP_NOT_FOUND, "no such job of yours waiting for its "
		    "source");
	if (job_path(rq->pd, id, "source.tar.gz", 1, path, sizeof(path)) < 0)
		return http_error(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE, "job: "
		    "cannot make its folder");
	k = piece_take(rq, rq->db, "UPDATE jobs SET source_received = $3 WHERE "
	    "id = $1 AND state = 'uploading' AND $3::bigint <= source_size AND "
	    "(source_received = $2 OR source_received = $3) RETURNING "
	    "source_received, source_size", id, path, &rc);
	if (k < 0)
		return rc;
	if (k == 1)
		return source_done(rq, id, path);
	return http_json(rq->c, MHD_HTTP_OK, json_pack("{s:s}", "state",
	    "uploading"));
}

static enum MHD_Result
job_cancel(struct http_req *rq, const char *id)
{
	char uid[24];
	const char *params[2] = { uid, id };
	enum MHD_Result rc;
	PGresult *r;

	if (rq->len != 0)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "cancel takes no "
		    "body");
	snprintf(uid, sizeof(uid), "%lld", rq->who.id);
	r = db_query(rq->db, "SELECT job_cancel($1, $2)", 2, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = http_sql_error(rq->c, r, "cancel");
	else {
		db_event(rq->db, rq->who.name, "job.cancel", json_pack("{s:s}",
		    "id", id));
		sched_nudge();
		rc = http_json(rq->c, MHD_HTTP_OK, json_pack("{s:s}", "state",
		    "cancelled"));
	}
	PQclear(r);
	return rc;
}

/* POST /api/jobs/ID/source?off=N, POST /api/jobs/ID/cancel */
enum MHD_Result
api_job_change(struct http_req *rq)
{
	const char *rest;
	char id[24];

	if (id_at(rq->url + strlen("/api/jobs/"), id, &rest) == 0) {
		if (strcmp(rest, "/source") == 0)
			return job_source(rq, id);
		if (strcmp(rest, "/cancel") == 0)
			return job_cancel(rq, id);
	}
	return http_error(rq->c, MHD_HTTP_NOT_FOUND, "no such call");
}

enum MHD_Result
api_job_list(struct http_req *rq)
{
	return api_owned_list(rq, "SELECT json_build_object('jobs', coalesce("
	    "json_agg(json_build_object('id', j.id, 'name', j.name, 'user', "
	    "u.name, 'state', j.state, 'reason', j.reason, 'argv', j.argv, "
	    "'images', j.images, 'count', j.per_image, 'keep', j.keep, "
	    "'source', j.source_size, 'created', j.created, 'ended', j.ended, "
	    "'runs', (SELECT coalesce(json_agg(json_build_object('run', jr.id, "
	    "'image', jr.image, 'node', n.name, 'reservation', "
	    "jr.reservation_id, 'deployment', jr.deployment_id, 'state', "
	    "jr.state, 'reason', jr.reason, 'status', jr.exit_status, "
	    "'seconds', jr.seconds, 'started', jr.started, 'ended', jr.ended, "
	    "'stdout', jr.stdout_bytes, 'stderr', jr.stderr_bytes, 'results', "
	    "jr.results_bytes, 'truncated', jr.truncated) ORDER BY jr.image, "
	    "n.name, jr.id), '[]') FROM job_runs jr LEFT JOIN nodes n ON n.id = "
	    "jr.node_id WHERE jr.job_id = j.id)) ORDER BY j.id DESC), '[]')) "
	    "FROM (SELECT * FROM jobs j WHERE (j.user_id = $1 OR $2::boolean) "
	    "AND ($3 = 0 OR j.id = $3) ORDER BY j.id DESC LIMIT 200) j JOIN "
	    "users u ON u.id = j.user_id", rq->who.admin &&
	    MHD_lookup_connection_value(rq->c, MHD_GET_ARGUMENT_KIND, "all") !=
	    NULL, "jobs", "job");
}

/* GET /api/jobs/matrix: yours; ?user=NAME another's (admins only) */
static enum MHD_Result
job_matrix(struct http_req *rq)
{
	struct MHD_Connection *c = rq->c;
	const char *user = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "user"), *since =
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
	const char *params[2];
	enum MHD_Result rc;
	PGresult *r;

	if ((since != NULL && (*since == '\0' || strlen(since) > 12 ||
	    strspn(since, "0123456789") != strlen(since))) ||
	    (user != NULL && strlen(user) > 32))
		return http_error(c, MHD_HTTP_BAD_REQUEST, "want ?user=NAME, "
		    "?since=SECONDS");
	if (user != NULL && strcmp(user, rq->who.name) != 0 && !rq->who.admin)
		return http_error(c, MHD_HTTP_FORBIDDEN, "another user's "
		    "matrix: admins only");
	params[0] = user ? user : rq->who.name;
	params[1] = since ? since : "315360000";	/* ten years */
	r = db_query(rq->db, "SELECT job_matrix(u.id, now() - make_interval("
	    "secs => $2::bigint)) FROM users u WHERE u.name = $1", 2, params);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0)
		rc = http_error(c, MHD_HTTP_NOT_FOUND, "no such user");
	else
		rc = http_pgjson(c, r, MHD_HTTP_OK, "matrix");
	PQclear(r);
	return rc;
}

/* A file of STATE/jobs/ID, as bytes (none yet: empty) */
static enum MHD_Result
job_file(struct http_req *rq, const char *id, const char *file)
{
	static const char *const hdr[] = { "Content-Type",
	    "application/octet-stream", NULL };
	char path[4096];
	struct stat st;
	int fd;

	job_path(rq->pd, id, file, 0, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return errno == ENOENT ? http_reply(rq->c, MHD_HTTP_OK,
		    "application/octet-stream", "") : http_error(rq->c,
		    MHD_HTTP_SERVICE_UNAVAILABLE, "cannot read it");
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return http_error(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "cannot read it");
	}
	return http_fd(rq->c, MHD_HTTP_OK, fd, 0, (uint64_t)st.st_size, hdr);
}

/* GET /api/jobs/ID/runs/RUN/stdout|stderr|results of your job */
static enum MHD_Result
job_run_file(struct http_req *rq, const char *id, const char *rest)
{
	static const char *const what[] = { "stdout", "stderr", "results",
	    NULL };
	char run[24], uid[24], file[64];
	const char *params[4] = { id, run, uid, rq->who.admin ? "t" : "f" };
	PGresult *r;
	int i, k;

	if (strncmp(rest, "/runs/", 6) != 0 || id_at(rest + 6, run, &rest) < 0 ||
	    *rest++ != '/')
		return http_error(rq->c, MHD_HTTP_NOT_FOUND, "no such call");
	for (i = 0; what[i] != NULL && strcmp(what[i], rest) != 0; i++)
		;
	if (what[i] == NULL)
		return http_error(rq->c, MHD_HTTP_NOT_FOUND, "want stdout, "
		    "stderr or results");
	snprintf(uid, sizeof(uid), "%lld", rq->who.id);
	r = db_query(rq->db, "SELECT 1 FROM job_runs jr JOIN jobs j ON j.id = "
	    "jr.job_id WHERE j.id = $1 AND jr.id = $2 AND (j.user_id = $3 OR "
	    "$4::boolean)", 4, params);
	k = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : -1;
	PQclear(r);
	if (k != 1)
		return http_error(rq->c, k < 0 ? MHD_HTTP_SERVICE_UNAVAILABLE :
		    MHD_HTTP_NOT_FOUND, "no such run of your jobs");
	snprintf(file, sizeof(file), "%s.%s", run, i == 2 ? "results.tar.gz" :
	    what[i]);
	return job_file(rq, id, file);
}

enum MHD_Result
api_job_get(struct http_req *rq)
{
	const char *rest, *p = rq->url + strlen("/api/jobs/");
	char id[24];

	if (strcmp(p, "matrix") == 0)
		return job_matrix(rq);
	if (id_at(p, id, &rest) < 0)
		return http_error(rq->c, MHD_HTTP_NOT_FOUND, "no such call");
	return job_run_file(rq, id, rest);
}

/* The job hook's side. */

struct hook {
	PGconn *db;
	char run[24], job[24];
};

/*
 * The run of the job-run token on rq, asked from its own address, open;
 * 0 with h->db (give it back), else the refusal queued in *rc.
 */
static int
hook_auth(struct http_req *rq, struct hook *h, enum MHD_Result *rc)
{
	char addr[HTTP_ADDR_MAX];
	const char *params[2];
	int lens[2] = { 32, 0 }, fmts[2] = { 1, 0 };
	uint8_t hash[32];
	PGresult *r;
	int k;

	if (auth_bearer_hash(rq->c, hash) < 0 ||
	    http_peer_addr(rq->c, addr) < 0) {
		*rc = http_error(rq->c, MHD_HTTP_UNAUTHORIZED, "no job run for "
		    "this token");
		return -1;
	}
	if ((h->db = db_get(rq->pd)) == NULL) {
		*rc = http_error(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "database unavailable");
		return -1;
	}
	params[0] = (const char *)hash;
	params[1] = addr;
	r = db_query_bin(h->db, "SELECT jr.id, jr.job_id FROM job_runs jr "
	    "WHERE jr.id = job_run_of_token($1, $2)", 2, params, lens, fmts);
	k = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : -1;
	if (k == 1) {
		snprintf(h->run, sizeof(h->run), "%s", PQgetvalue(r, 0, 0));
		snprintf(h->job, sizeof(h->job), "%s", PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	if (k == 1)
		return 0;
	db_put(rq->pd, h->db);
	h->db = NULL;
	*rc = http_error(rq->c, k < 0 ? MHD_HTTP_SERVICE_UNAVAILABLE :
	    MHD_HTTP_UNAUTHORIZED, k < 0 ? "database unavailable" :
	    "no job run for this token");
	return -1;
}

/* argv, a JSON array of strings, as lines of \0ooo per byte */
static char *
argv_octal(const char *json)
{
	json_t *a = json_loads(json, 0, NULL), *v;
	size_t i, len = 1, w = 0;
	const unsigned char *s;
	char *out = NULL;

	if (!json_is_array(a))
		goto out;
	json_array_foreach(a, i, v)
		len += json_string_length(v) * 5 + 1;
	if ((out = malloc(len)) == NULL)
		goto out;
	json_array_foreach(a, i, v) {
		for (s = (const unsigned char *)json_string_value(v); *s; s++)
			w += (size_t)snprintf(out + w, len - w, "\\0%03o", *s);
		out[w++] = '\n';
	}
	out[w] = '\0';
 out:
	json_decref(a);
	return out;
}

enum MHD_Result
job_hook_argv(struct http_req *rq)
{
	struct hook h;
	enum MHD_Result rc;
	const char *params[1];
	PGresult *r;
	char *text;

	if (hook_auth(rq, &h, &rc) < 0)
		return rc;
	params[0] = h.run;
	r = db_query(h.db, "SELECT job_run_start($1)", 1, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = http_sql_error(rq->c, r, "run");
	else if ((text = argv_octal(PQgetvalue(r, 0, 0))) == NULL)
		rc = http_error(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of "
		    "memory");
	else {
		rc = http_reply(rq->c, MHD_HTTP_OK, "text/plain", text);
		free(text);
	}
	PQclear(r);
	db_put(rq->pd, h.db);
	return rc;
}

enum MHD_Result
job_hook_source(struct http_req *rq)
{
	struct hook h;
	enum MHD_Result rc;

	if (hook_auth(rq, &h, &rc) < 0)
		return rc;
	db_put(rq->pd, h.db);
	return job_file(rq, h.job, "source.tar.gz");
}

/* POST /job/out/stdout|stderr|results?off=N, while running */
enum MHD_Result
job_hook_out(struct http_req *rq)
{
	static const struct { const char *name, *file, *sql; } outs[] = {
		{ "stdout", "stdout", "UPDATE job_runs SET stdout_bytes = $3 "
		    "WHERE id = $1 AND state = 'running' AND $3::bigint <= "
		    "67108864 AND stdout_bytes IN ($2, $3) RETURNING "
		    "stdout_bytes, 67108864" },
		{ "stderr", "stderr", "UPDATE job_runs SET stderr_bytes = $3 "
		    "WHERE id = $1 AND state = 'running' AND $3::bigint <= "
		    "67108864 AND stderr_bytes IN ($2, $3) RETURNING "
		    "stderr_bytes, 67108864" },
		{ "results", "results.tar.gz", "UPDATE job_runs SET "
		    "results_bytes = $3 WHERE id = $1 AND state = 'running' AND "
		    "$3::bigint <= 268435456 AND results_bytes IN ($2, $3) "
		    "RETURNING results_bytes, 268435456" },
	};
	_Static_assert(JOB_OUT_MAX == 67108864 &&
	    JOB_RESULTS_MAX == 268435456, "the statements' limits");
	const char *what = rq->url + strlen("/job/out/"), *enc =
	    MHD_lookup_connection_value(rq->c, MHD_GET_ARGUMENT_KIND, "enc");
	char file[64], path[4096];
	unsigned char *dec = NULL;
	size_t i, dlen = 0;
	enum MHD_Result rc;
	struct hook h;

	for (i = 0; i < 3 && strcmp(outs[i].name, what) != 0; i++)
		;
	if (i == 3)
		return http_error(rq->c, MHD_HTTP_NOT_FOUND, "want stdout, "
		    "stderr or results");
	if (enc != NULL && strcmp(enc, "base64") != 0)
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "enc: base64 "
		    "or none");
	if (hook_auth(rq, &h, &rc) < 0)
		return rc;
	snprintf(file, sizeof(file), "%s.%s", h.run, outs[i].file);
	if (job_path(rq->pd, h.job, file, 1, path, sizeof(path)) < 0)
		rc = http_error(rq->c, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot "
		    "keep it");
	else if (enc != NULL && (dec = piece_decode(rq->body, rq->len,
	    &dlen)) == NULL)
		rc = http_error(rq->c, MHD_HTTP_BAD_REQUEST, "enc=base64: the "
		    "body is not base64");
	else if (piece_take_bytes(rq, h.db, outs[i].sql, h.run, path,
	    dec ? (const char *)dec : rq->body, dec ? dlen : rq->len,
	    &rc) >= 0)
		rc = http_json(rq->c, MHD_HTTP_OK, json_pack("{s:s}", "kept",
		    what));
	free(dec);
	db_put(rq->pd, h.db);
	return rc;
}

/* POST /job/result {"status", "seconds", "truncated"}: once */
enum MHD_Result
job_hook_result(struct http_req *rq)
{
	json_t *st = json_object_get(rq->o, "status"), *s =
	    json_object_get(rq->o, "seconds"), *t = json_object_get(rq->o,
	    "truncated");
	char status[16], secs[16], file[64], path[4096], hex[HASH_HEX];
	const char *params[5];
	enum MHD_Result rc;
	struct hook h;
	PGresult *r;

	if (!json_is_integer(st) || json_integer_value(st) < -1 ||
	    json_integer_value(st) > 255 || !json_is_integer(s) ||
	    json_integer_value(s) < 0 || json_integer_value(s) > 10 * 366 *
	    86400 || (t && !json_is_boolean(t)))
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, "want {\"status\":"
		    " -1..255, \"seconds\": N, \"truncated\": bool}");
	if (hook_auth(rq, &h, &rc) < 0)
		return rc;
	snprintf(status, sizeof(status), "%d", (int)json_integer_value(st));
	snprintf(secs, sizeof(secs), "%d", (int)json_integer_value(s));
	snprintf(file, sizeof(file), "%s.results.tar.gz", h.run);
	job_path(rq->pd, h.job, file, 0, path, sizeof(path));
	params[0] = h.run;
	params[1] = status;
	params[2] = secs;
	params[3] = json_is_true(t) ? "t" : "f";
	params[4] = file_sha(path, hex) == 0 ? hex : NULL;
	r = db_query(h.db, "SELECT job_run_finish($1, $2, $3, $4, $5)", 5,
	    params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = http_sql_error(rq->c, r, "result");
	else {
		db_event(h.db, "job", "job.result", json_pack("{s:s, s:s, s:s}",
		    "job", h.job, "run", h.run, "status", status));
		jobs_nudge();
		rc = http_json(rq->c, MHD_HTTP_OK, json_pack("{s:s}", "state",
		    "exited"));
	}
	PQclear(r);
	db_put(rq->pd, h.db);
	return rc;
}
