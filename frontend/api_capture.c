/*
 * api_capture.c -- capture: a node's disk becomes a new draft image, and
 * only the chunks the store lacks travel (docs/protocol.md, Capture).
 * Every capture route is here:
 *
 *   POST /api/captures               {"node", "image"}: admins start one
 *   POST /api/capture/NAME/missing   {"codec", "hashes"} -> which to send
 *   PUT  /api/capture/chunks/HASH.EXT  one member/frame: decoded, its
 *        SHA-256 checked against HASH, then stored (durable)
 *   POST /api/capture/NAME/index     the binary index: every chunk it
 *        names must be in the store, with the length it says; then a
 *        new draft, its row in images, an event
 *
 * The upload routes are an admin's or the capture's agent's (http.c
 * checks that before the body is read; here, that an agent sends its
 * own image). The store is opened per request with its shared lock, so that gc
 * (exclusive) never runs while a request adds or checks chunks.
 *
 * Memory: the route table hands over whole bodies. A chunk PUT holds its
 * body (at most CAPTURE_PUT_MAX) and the decoded bytes (at most
 * PIMG_CHUNK_MAX) until it answers: with the default 4 MiB chunks about
 * 8.5 MiB per uploading connection, 132 MiB at most with 64 MiB chunks.
 * One body per connection is the price of checking a chunk before it
 * enters the store; an index POST holds at most CAPTURE_POST_MAX.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "hash.h"
#include "log.h"
#include "pipold.h"
#include "store.h"

#define CAPTURE_PREFIX		"/api/capture/"
#define CAPTURE_CHUNKS		"/api/capture/chunks/"
#define CAPTURE_HASHES_MAX	1024	/* per missing request: ~70 KB */
#define CAPTURE_MISSING_MAX	(128 * 1024)	/* its body: then 413 */

_Static_assert(CAPTURE_PUT_MAX == PIMG_COMP_MAX(PIMG_CHUNK_MAX),
    "CAPTURE_PUT_MAX: the largest member of the largest chunk");

/*
 * A capture deployment of node into image for user uid (under
 * reservation res, or none: NULL), then the node's power cycle: the
 * same path as a deployment (boot script, token, order), with kind
 * capture: the agent reads the disk and uploads what the store lacks;
 * the draft's number is recorded in the deployment, which ends ready.
 * The answer's JSON in *reply (caller frees); 0, or -1 with *f.
 * POST /api/captures and the refresh thread (refresh.c) both call it.
 */
int
capture_start(struct pipold *pd, PGconn *db, const char *node,
    const char *image, const char *uid, const char *res, char **reply,
    struct http_fail *f)
{
	const char *params[4] = { node, image, uid, res };
	char err[160], arr[80];
	PGresult *r;
	int rc = -1;

	r = db_query(db, "WITH d AS (INSERT INTO deployments (node_id, "
	    "kind, image_name, user_id, reservation_id) SELECT id, 'capture', "
	    "$2, $3, $4 FROM "
	    "nodes WHERE name = $1 RETURNING id, node_id), t AS (INSERT INTO "
	    "deployment_transitions (deployment_id, state) SELECT id, "
	    "'pending' FROM d), n AS (UPDATE nodes SET boot_mode = 'deploy' "
	    "WHERE id IN (SELECT node_id FROM d)) SELECT json_build_object("
	    "'capture', id, 'node', $1::text, 'image', $2::text) FROM d", 4,
	    params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, sizeof(err), "node %s: a deployment is already in "
		    "flight", node);
		if (http_sql_status(r) == MHD_HTTP_CONFLICT)
			http_fail_set(f, MHD_HTTP_CONFLICT, err);
		else
			http_fail_sql(f, r, "capture");
	} else if (PQntuples(r) == 0) {
		snprintf(err, sizeof(err), "node %s: no such node", node);
		http_fail_set(f, MHD_HTTP_NOT_FOUND, err);
	} else if ((*reply = strdup(PQgetvalue(r, 0, 0))) == NULL) {
		http_fail_set(f, MHD_HTTP_SERVICE_UNAVAILABLE, "capture: out "
		    "of memory");
	} else {
		snprintf(arr, sizeof(arr), "{%s}", node);
		power_deploy(pd, db, arr);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

/* POST /api/captures {"node": NAME, "image": NAME}: admins have a
 * node's disk captured into a new draft of the image (capture_start). */
enum MHD_Result
api_capture_add(struct http_req *rq)
{
	struct MHD_Connection *c = rq->c;
	const char *node, *image;
	struct http_fail f;
	enum MHD_Result rc;
	char uid[24], *reply = NULL;

	node = json_string_value(json_object_get(rq->o, "node"));
	image = json_string_value(json_object_get(rq->o, "image"));
	if (node == NULL || image == NULL ||
	    store_name_check(image, NULL) < 0)
		return http_error(c, MHD_HTTP_BAD_REQUEST, "want {\"node\": "
		    "NAME, \"image\": NAME} (an image name: a-z 0-9 - _ .)");
	snprintf(uid, sizeof(uid), "%lld", rq->who.id);
	if (capture_start(rq->pd, rq->db, node, image, uid, NULL, &reply,
	    &f) < 0)
		return http_fail_send(c, &f);
	db_event(rq->db, rq->who.name, "capture.add", json_pack("{s:s, s:s}",
	    "node", node, "image", image));
	rc = http_reply(c, MHD_HTTP_CREATED, "application/json", reply);
	free(reply);
	return rc;
}

/* hex: exactly 64 lower-case hex digits (the form of every chunk URL) */
static int
hash_parse(const char *hex, uint8_t h[HASH_BYTES])
{
	char back[HASH_HEX];

	if (hash_from_hex(hex, h) < 0)
		return -1;
	hash_hex(h, back);
	return strcmp(back, hex) == 0 ? 0 : -1;
}

/* "codec" and "hashes" of a missing request; err names what is wrong. */
static int
missing_args(json_t *o, int *codec, json_t **hashes, char *err, size_t len)
{
	json_t *v = json_object_get(o, "codec");
	size_t i;

	if (!json_is_string(v) ||
	    pimg_codec_parse(json_string_value(v), codec, NULL) < 0) {
		snprintf(err, len, "\"codec\": \"gzip\" or \"zstd\" is needed");
		return -1;
	}
	*hashes = json_object_get(o, "hashes");
	if (!json_is_array(*hashes) ||
	    json_array_size(*hashes) > CAPTURE_HASHES_MAX) {
		snprintf(err, len, "\"hashes\": an array of at most %d chunk "
		    "hashes is needed", CAPTURE_HASHES_MAX);
		return -1;
	}
	json_array_foreach(*hashes, i, v) {
		uint8_t h[HASH_BYTES];

		if (!json_is_string(v) ||
		    hash_parse(json_string_value(v), h) < 0) {
			snprintf(err, len, "\"hashes\"[%zu]: not 64 lower-case "
			    "hex digits", i);
			return -1;
		}
	}
	return 0;
}

/* {"missing": [hex...], "present": {hex: bytes}}: the lengths of those
 * present go into the index the agent sends. */
static enum MHD_Result
capture_missing(struct pipold *pd, struct MHD_Connection *c,
    const char *body, size_t len)
{
	static const char *const keys[] = { "codec", "hashes", NULL };
	json_t *o, *hashes, *v, *missing = NULL, *present = NULL;
	struct store *s = NULL;
	enum MHD_Result rc;
	uint8_t h[HASH_BYTES];
	uint64_t size;
	struct perr e;
	char err[160];
	int codec;
	size_t i;

	if (len > CAPTURE_MISSING_MAX)
		return http_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "body too "
		    "large");
	if ((o = http_body_object(body, len, keys, err, sizeof(err))) == NULL ||
	    missing_args(o, &codec, &hashes, err, sizeof(err)) < 0) {
		json_decref(o);
		return http_error(c, MHD_HTTP_BAD_REQUEST, err);
	}
	if (store_open(pd->state, STORE_SHARED, &s, &e) < 0) {
		json_decref(o);
		return http_perr(c, &e);
	}
	missing = json_array();
	present = json_object();
	json_array_foreach(hashes, i, v) {
		hash_parse(json_string_value(v), h);
		if (store_chunk_size(s, codec, h, &size) < 0)
			json_array_append(missing, v);
		else
			json_object_set_new(present, json_string_value(v),
			    json_integer((json_int_t)size));
	}
	store_close(s);
	rc = http_json(c, MHD_HTTP_OK, json_pack("{s:o, s:o}", "missing",
	    missing, "present", present));
	json_decref(o);
	return rc;
}

/* Every chunk the index names is in the store, as long as it says. */
static int
chunks_present(struct store *s, const struct pimg_index *ix, struct perr *e)
{
	const struct pimg_entry *c;
	char hex[HASH_HEX];
	uint64_t size;
	uint32_t i;

	for (i = 0; i < ix->nchunks; i++) {
		c = &ix->e[i];
		if (store_chunk_size(s, (int)ix->codec, c->hash, &size) == 0 &&
		    size == c->comp_len)
			continue;
		hash_hex(c->hash, hex);
		if (store_chunk_size(s, (int)ix->codec, c->hash, &size) < 0)
			return perr_set(e, PE_CONFLICT, "chunk %u (offset %llu) "
			    "%s.%s: not in the store", i,
			    (unsigned long long)c->disk_off, hex,
			    pimg_codec_ext((int)ix->codec));
		return perr_set(e, PE_CONFLICT, "chunk %u (offset %llu) %s.%s: "
		    "%llu bytes in the store, the index says %u", i,
		    (unsigned long long)c->disk_off, hex,
		    pimg_codec_ext((int)ix->codec), (unsigned long long)size,
		    c->comp_len);
	}
	return 0;
}

/* The images row of a new version; 0, or -1 when the database said no. */
static int
image_row(PGconn *db, const char *name, unsigned version,
    const struct pimg_index *ix)
{
	char v[16], size[24];
	const char *params[4] = { name, v, (const char *)ix->disk_hash, size };
	int lens[4] = { 0, 0, HASH_BYTES, 0 }, fmts[4] = { 0, 0, 1, 0 }, rc;
	PGresult *r;

	snprintf(v, sizeof(v), "%u", version);
	snprintf(size, sizeof(size), "%llu",
	    (unsigned long long)ix->disk_size);
	r = db_query_bin(db, "INSERT INTO images (name, version, disk_hash, "
	    "disk_size) VALUES ($1, $2, $3, $4) ON CONFLICT (name, version) "
	    "DO UPDATE SET disk_hash = EXCLUDED.disk_hash, disk_size = "
	    "EXCLUDED.disk_size", 4, params, lens, fmts);
	rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
	PQclear(r);
	return rc;
}

/*
 * A captured disk comes without the image's metadata (root=, esp=,
 * fstype=: the agent reads blocks, not layouts): an index with none
 * takes the image's current version's, else its newest's, so that the
 * next version of an image (a refresh's, a capture of a node that ran
 * it) deploys with its post-install as the one before. A new image's
 * first capture has none to take.
 */
static int
meta_inherit(struct store *s, const char *name, struct pimg_index *ix,
    struct perr *e)
{
	struct pimg_index *prev = NULL;
	struct store_image img;
	unsigned v;
	int rc;

	if (ix->meta != NULL && ix->meta[0] != '\0')
		return 0;
	if (store_image_get(s, name, &img, NULL) < 0)
		return 0;		/* no such image yet */
	v = img.current ? img.current : img.nv ? img.v[img.nv - 1].version : 0;
	store_image_clear(&img);
	if (v == 0 || store_load(s, name, v, &prev, NULL) < 0)
		return 0;
	rc = prev->meta != NULL && prev->meta[0] != '\0' ?
	    pimg_index_set_meta(ix, prev->meta, e) : 0;
	pimg_index_free(prev);
	return rc;
}

/* The index -> a new draft; 201 {"image", "version"}. */
static enum MHD_Result
capture_index(struct pipold *pd, struct MHD_Connection *c, PGconn *db,
    const struct caller *who, const char *name, const char *body,
    size_t len)
{
	struct pimg_index *ix = NULL;
	struct store *s = NULL;
	enum MHD_Result rc;
	unsigned version;
	struct perr e;

	if (pimg_index_decode((const uint8_t *)body, len, name, &ix, &e) < 0 ||
	    store_open(pd->state, STORE_SHARED_NOWAIT, &s, &e) < 0 ||
	    chunks_present(s, ix, &e) < 0 ||
	    meta_inherit(s, name, ix, &e) < 0 ||
	    store_commit(s, name, ix, &version, &e) < 0) {
		rc = http_perr(c, &e);
		goto out;
	}
	if (image_row(db, name, version, ix) < 0) {
		store_rm(s, name, version, NULL);	/* all or nothing */
		rc = http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "database "
		    "error: no version made");
		goto out;
	}
	if (who->deployment != 0) {	/* the capture deployment's version */
		char dep[24], ver[16];
		const char *p[2] = { dep, ver };

		snprintf(dep, sizeof(dep), "%lld", who->deployment);
		snprintf(ver, sizeof(ver), "%u", version);
		PQclear(db_query(db, "UPDATE deployments SET image_version "
		    "= $2, disk_hash = (SELECT disk_hash FROM images WHERE name "
		    "= image_name AND version = $2) WHERE id = $1", 2, p));
	}
	db_event(db, who->name, "image.capture", json_pack("{s:s, s:i, s:I, "
	    "s:i, s:s}", "image", name, "version", (int)version, "disk_size",
	    (json_int_t)ix->disk_size, "chunks", (int)ix->nchunks, "codec",
	    pimg_codec_name((int)ix->codec)));
	log_info("capture: %s:%u by %s: %llu bytes, %u chunks", name,
	    version, who->name, (unsigned long long)ix->disk_size,
	    ix->nchunks);
	rc = http_json(c, MHD_HTTP_CREATED, json_pack("{s:s, s:i}", "image",
	    name, "version", (int)version));
 out:
	store_close(s);
	pimg_index_free(ix);
	return rc;
}

/*
 * POST /api/capture/NAME/missing and /api/capture/NAME/index. Both
 * share one route (the table matches prefixes), whose body limit is the
 * index's; missing has its own, smaller one.
 */
enum MHD_Result
api_capture_post(struct http_req *rq)
{
	char name[STORE_NAME_MAX + 1];
	const char *p = rq->url + strlen(CAPTURE_PREFIX), *slash;
	struct MHD_Connection *c = rq->c;
	enum MHD_Result rc;
	PGconn *db;

	if ((slash = strchr(p, '/')) == NULL ||
	    (size_t)(slash - p) > STORE_NAME_MAX ||
	    (strcmp(slash, "/missing") != 0 && strcmp(slash, "/index") != 0))
		return http_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	memcpy(name, p, (size_t)(slash - p));
	name[slash - p] = '\0';
	/* a capture's agent sends its own image only */
	if (rq->who.kind == CALLER_AGENT && strcmp(rq->who.image, name) != 0)
		return http_error(c, MHD_HTTP_UNAUTHORIZED, "no valid token");
	if (store_name_check(name, NULL) < 0)
		return http_error(c, MHD_HTTP_BAD_REQUEST, "image name: only "
		    "a-z, 0-9 and (not first) - _ . are allowed");
	if (strcmp(slash, "/missing") == 0)	/* no connection held */
		return capture_missing(rq->pd, c, rq->body, rq->len);
	if ((db = db_get(rq->pd)) == NULL)
		return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "database "
		    "unavailable");
	rc = capture_index(rq->pd, c, db, &rq->who, name, rq->body, rq->len);
	db_put(rq->pd, db);
	return rc;
}

/* The member's raw bytes (malloc'd into *raw) and their check. */
static int
chunk_check(int codec, const uint8_t h[HASH_BYTES], const char *body,
    size_t len, uint8_t **raw, struct perr *e)
{
	struct pimg_coder *coder;
	uint8_t got[HASH_BYTES];
	uint64_t raw_len;
	uint32_t crc;
	int rc;

	*raw = NULL;
	if ((rc = pimg_chunk_raw_len(codec, body, len, &raw_len, e)) < 0)
		return rc;
	if (raw_len == 0 || raw_len > PIMG_CHUNK_MAX)
		return perr_set(e, PE_DATA, "%llu raw bytes: not a chunk "
		    "length (1 byte to 64 MiB)", (unsigned long long)raw_len);
	if (len > PIMG_COMP_MAX(raw_len))
		return perr_set(e, PE_DATA, "%zu bytes for %llu raw bytes: more "
		    "than a chunk compresses to", len,
		    (unsigned long long)raw_len);
	if ((*raw = malloc(raw_len)) == NULL ||
	    (coder = pimg_coder_new(codec, 0)) == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	rc = pimg_chunk_decode(coder, body, len, *raw, raw_len, &crc, e);
	pimg_coder_free(coder);
	if (rc < 0)
		return rc;
	hash_buf(*raw, raw_len, got);
	if (memcmp(got, h, HASH_BYTES) != 0)
		return perr_set(e, PE_DATA, "hash mismatch: the body decodes "
		    "to other bytes");
	return 0;
}

/* PUT /api/capture/chunks/HASH.EXT: 201 (stored) or 200 (was there),
 * {"chunk", "size"}: size is the stored member's, which the index must
 * give (another upload of the same bytes may have won). */
enum MHD_Result
api_capture_put(struct http_req *rq)
{
	struct MHD_Connection *c = rq->c;
	const char *leaf = rq->url + strlen(CAPTURE_CHUNKS), *body = rq->body;
	size_t len = rq->len;
	char hex[HASH_HEX], msg[PERR_MSG_MAX + 80];
	struct store *s = NULL;
	uint8_t h[HASH_BYTES], *raw = NULL;
	enum MHD_Result rc;
	uint64_t size;
	struct perr e;
	int codec, added = 0;

	if (strlen(leaf) <= 64 || (strcmp(leaf + 64, ".gz") != 0 &&
	    strcmp(leaf + 64, ".zst") != 0))
		return http_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	snprintf(hex, sizeof(hex), "%.64s", leaf);
	codec = leaf[65] == 'g' ? PIMG_CODEC_GZIP : PIMG_CODEC_ZSTD;
	if (hash_parse(hex, h) < 0)
		return http_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	if (len == 0)
		return http_error(c, MHD_HTTP_BAD_REQUEST, "empty body");
	if (chunk_check(codec, h, body, len, &raw, &e) < 0 ||
	    store_open(rq->pd->state, STORE_SHARED, &s, &e) < 0 ||
	    store_chunk_put(s, codec, h, body, len, &added, &e) < 0) {
		snprintf(msg, sizeof(msg), "chunk %s.%s: %s", hex,
		    pimg_codec_ext(codec), e.msg);
		rc = http_error(c, (unsigned)perr_http_status(e.code), msg);
		goto out;
	}
	if (store_chunk_size(s, codec, h, &size) < 0)
		size = len;	/* gone already: the index check will say */
	rc = http_json(c, added ? MHD_HTTP_CREATED : MHD_HTTP_OK,
	    json_pack("{s:s, s:I}", "chunk", hex, "size", (json_int_t)size));
 out:
	store_close(s);
	free(raw);
	return rc;
}
