/*
 * image_info.c -- images and versions described as JSON for "pipol image
 * list" and "show" (image_info.h): the command line's local path and
 * pipold's GET /api/images both call these, and the command line prints
 * the result, so the two paths cannot drift apart. A user's view keeps
 * only what a user may deploy; what is hidden answers as if absent.
 */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "image_info.h"
#include "perr.h"

static int
visible(int view, const struct store_version *v)
{
	return view == IMAGE_INFO_ALL || v->state == VS_VALIDATED;
}

/* current, previous (what rollback would make current), else the state */
static const char *
version_label(const struct store_image *img, const struct store_version *v)
{
	size_t i = img->nhist;

	if (img->current == v->version)
		return "current";
	while (i > 0 && (img->history[i - 1] == img->current ||
	    store_image_find(img, img->history[i - 1]) == NULL))
		i--;
	if (i > 0 && img->history[i - 1] == v->version)
		return "previous";
	return store_vstate_name(v->state);
}

/* A version as refs says it: number, label, validated, created. */
static json_t *
version_json(const struct store_image *img, const struct store_version *v)
{
	return json_pack("{s:i, s:s, s:b, s:I}", "version", (int)v->version,
	    "state", version_label(img, v), "validated",
	    v->state == VS_VALIDATED, "created", (json_int_t)v->created);
}

/* One image of the list; errors get a line per unreadable index. */
static json_t *
list_image(struct store *s, const struct store_image *img, int view,
    json_t *errors)
{
	json_t *vs = json_array(), *o;
	struct pimg_index *ix;
	struct perr e;
	size_t j;

	for (j = 0; j < img->nv; j++) {
		if (!visible(view, &img->v[j]))
			continue;
		if (store_load(s, img->name, img->v[j].version, &ix, &e) < 0) {
			if (errors != NULL)	/* admins: users get no paths */
				json_array_append_new(errors,
				    json_string(e.msg));
			continue;
		}
		o = version_json(img, &img->v[j]);
		json_object_set_new(o, "codec",
		    json_string(pimg_codec_name((int)ix->codec)));
		json_object_set_new(o, "disk_size",
		    json_integer((json_int_t)ix->disk_size));
		json_array_append_new(vs, o);
		pimg_index_free(ix);
	}
	return vs;
}

int
image_info_list(struct store *s, int view, json_t **out, struct perr *e)
{
	json_t *images, *errors, *vs;
	struct store_image img;
	struct perr ie;
	char **names;
	size_t n, i;

	if (store_list(s, &names, &n, e) < 0)
		return -PE_FAIL;
	images = json_array();
	errors = json_array();
	for (i = 0; i < n; i++) {
		if (store_image_get(s, names[i], &img, &ie) < 0) {
			if (view == IMAGE_INFO_ALL)
				json_array_append_new(errors,
				    json_string(ie.msg));
			continue;
		}
		vs = list_image(s, &img, view,
		    view == IMAGE_INFO_ALL ? errors : NULL);
		if (json_array_size(vs) > 0 || view == IMAGE_INFO_ALL)
			json_array_append_new(images, json_pack("{s:s, s:i, "
			    "s:o}", "name", names[i], "current",
			    (int)img.current, "versions", vs));
		else
			json_decref(vs);
		store_image_clear(&img);
	}
	store_list_free(names, n);
	*out = json_pack("{s:o, s:o}", "images", images, "errors", errors);
	return *out ? 0 : perr_set(e, PE_FAIL, "out of memory");
}

static int
hash_cmp(const void *a, const void *b)
{
	return memcmp(a, b, HASH_BYTES);
}

/* Distinct chunk hashes of ix, sorted; caller frees. */
static uint8_t *
distinct_hashes(const struct pimg_index *ix, size_t *n)
{
	uint8_t *h = malloc((size_t)ix->nchunks * HASH_BYTES + 1);
	size_t i, k = 0;

	if (h == NULL)
		return NULL;
	for (i = 0; i < ix->nchunks; i++)
		memcpy(h + i * HASH_BYTES, ix->e[i].hash, HASH_BYTES);
	qsort(h, ix->nchunks, HASH_BYTES, hash_cmp);
	for (i = 0; i < ix->nchunks; i++)
		if (k == 0 || memcmp(h + (k - 1) * HASH_BYTES,
		    h + i * HASH_BYTES, HASH_BYTES) != 0)
			memmove(h + k++ * HASH_BYTES, h + i * HASH_BYTES,
			    HASH_BYTES);
	*n = k;
	return h;
}

/* Bytes of the distinct chunks of ix (each stored once). */
static uint64_t
stored_bytes(const struct pimg_index *ix, const uint8_t *mine, size_t nm)
{
	uint8_t *seen = calloc(nm + 1, 1);
	const uint8_t *hit;
	uint64_t stored = 0;
	size_t i, k;

	for (i = 0; seen != NULL && i < ix->nchunks; i++) {
		hit = bsearch(ix->e[i].hash, mine, nm, HASH_BYTES, hash_cmp);
		k = (size_t)(hit - mine) / HASH_BYTES;
		if (!seen[k]) {
			seen[k] = 1;
			stored += ix->e[i].comp_len;
		}
	}
	free(seen);
	return stored;
}

/* Stored size, and how many chunks prev (0: none) shares, into o. */
static int
show_sharing(struct store *s, const char *name, unsigned prev,
    const struct pimg_index *ix, json_t *o, struct perr *e)
{
	struct pimg_index *old = NULL;
	uint8_t *mine, *theirs = NULL;
	size_t nm, nt = 0, i, shared = 0;
	struct perr oe;

	if ((mine = distinct_hashes(ix, &nm)) == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	json_object_set_new(o, "stored_bytes",
	    json_integer((json_int_t)stored_bytes(ix, mine, nm)));
	json_object_set_new(o, "distinct_chunks", json_integer((json_int_t)nm));
	/* an earlier index that cannot be read: shown as no earlier one */
	if (prev && store_load(s, name, prev, &old, &oe) == 0 &&
	    (theirs = distinct_hashes(old, &nt)) != NULL) {
		for (i = 0; i < nm; i++)
			shared += bsearch(mine + i * HASH_BYTES, theirs, nt,
			    HASH_BYTES, hash_cmp) != NULL;
	} else {
		prev = 0;
	}
	json_object_set_new(o, "shared_with", json_integer((json_int_t)prev));
	json_object_set_new(o, "shared_chunks",
	    json_integer((json_int_t)shared));
	free(theirs);
	pimg_index_free(old);
	free(mine);
	return 0;
}

/*
 * The version to show: as asked, else current, else the newest the
 * view sees. Hidden versions and images are "no such", as if absent.
 */
/* How many packages the version holds (null: never collected). */
static json_t *
packages_count(struct store *s, const char *name, unsigned version)
{
	struct perr e;
	size_t len, i, n = 0;
	char *text;

	if (store_packages_read(s, name, version, &text, &len, &e) < 0)
		return json_null();
	for (i = 0; i < len; i++)
		n += text[i] == '\n';
	free(text);
	return json_integer((json_int_t)n);
}

static struct store_version *
show_pick(const struct store_image *img, unsigned version, int view,
    struct perr *e)
{
	struct store_version *v = NULL;
	size_t i;

	if (version == 0 && img->current != 0)
		version = img->current;
	if (version != 0) {
		v = store_image_find(img, version);
		if (v != NULL && visible(view, v))
			return v;
		perr_set(e, PE_NOTFOUND, "image %s:%u: no such version",
		    img->name, version);
		return NULL;
	}
	for (i = img->nv; i-- > 0; )
		if (visible(view, &img->v[i]))
			return &img->v[i];
	if (view == IMAGE_INFO_ALL)
		perr_set(e, PE_NOTFOUND, "image %s:0: no such version",
		    img->name);
	else
		perr_set(e, PE_NOTFOUND, "image %s: no such image", img->name);
	return NULL;
}

/* The index's meta lines; a byte JSON cannot carry (not UTF-8) as '?'. */
static json_t *
meta_json(const char *meta)
{
	json_t *m = json_string(meta);
	char *copy, *p;

	if (m != NULL || (copy = strdup(meta)) == NULL)
		return m;
	for (p = copy; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	m = json_string(copy);
	free(copy);
	return m;
}

/* Refs' side of show: the version, its label, every visible version. */
static json_t *
show_refs(const struct store_image *img, const struct store_version *sv,
    int view, unsigned *prev)
{
	json_t *o = version_json(img, sv), *vs = json_array();
	size_t i;

	*prev = 0;
	for (i = 0; i < img->nv; i++) {
		if (!visible(view, &img->v[i]))
			continue;
		json_array_append_new(vs, version_json(img, &img->v[i]));
		if (img->v[i].version < sv->version)
			*prev = img->v[i].version;
	}
	json_object_set_new(o, "image", json_string(img->name));
	json_object_set_new(o, "current", json_integer(img->current));
	json_object_set_new(o, "versions", vs);
	return o;
}

int
image_info_show(struct store *s, const char *name, unsigned version,
    int view, json_t **out, struct perr *e)
{
	const struct store_version *sv;
	struct store_image img;
	struct pimg_index *ix;
	char hex[HASH_HEX];
	unsigned prev;
	json_t *o;
	int rc;

	if ((rc = store_image_get(s, name, &img, e)) < 0)
		return rc;
	if ((sv = show_pick(&img, version, view, e)) == NULL) {
		store_image_clear(&img);
		return -PE_NOTFOUND;
	}
	if ((rc = store_load(s, name, sv->version, &ix, e)) < 0) {
		store_image_clear(&img);
		return rc;
	}
	o = show_refs(&img, sv, view, &prev);
	hash_hex(ix->disk_hash, hex);
	json_object_set_new(o, "codec",
	    json_string(pimg_codec_name((int)ix->codec)));
	json_object_set_new(o, "chunk_size", json_integer(ix->chunk_size));
	json_object_set_new(o, "disk_size",
	    json_integer((json_int_t)ix->disk_size));
	json_object_set_new(o, "chunks", json_integer(ix->nchunks));
	json_object_set_new(o, "zero_chunks",
	    json_integer((json_int_t)pimg_index_zero_chunks(ix)));
	json_object_set_new(o, "disk_hash", json_string(hex));
	json_object_set_new(o, "meta", meta_json(ix->meta));
	json_object_set_new(o, "packages", packages_count(s, name,
	    sv->version));
	rc = show_sharing(s, name, prev, ix, o, e);
	pimg_index_free(ix);
	store_image_clear(&img);
	if (rc < 0 || o == NULL) {
		json_decref(o);
		return rc < 0 ? rc : perr_set(e, PE_FAIL, "out of memory");
	}
	*out = o;
	return 0;
}

int
image_info_packages(struct store *s, const char *name, unsigned version,
    int view, const char *match, json_t **out, struct perr *e)
{
	const struct store_version *sv;
	struct store_image img;
	json_t *list, *o;
	char *text = NULL, *line, *save, *fs, *f[3];
	size_t len = 0;
	int rc, i;

	if ((rc = store_image_get(s, name, &img, e)) < 0)
		return rc;
	if ((sv = show_pick(&img, version, view, e)) == NULL) {
		store_image_clear(&img);
		return -PE_NOTFOUND;
	}
	version = sv->version;
	store_image_clear(&img);
	rc = store_packages_read(s, name, version, &text, &len, e);
	if (rc < 0 && rc != -PE_NOTFOUND)
		return rc;
	list = json_array();
	o = json_pack("{s:s, s:i, s:b, s:o}", "image", name, "version",
	    (int)version, "collected", rc == 0, "packages", list);
	for (line = text ? strtok_r(text, "\n", &save) : NULL; line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		f[0] = strtok_r(line, " ", &fs);
		f[1] = strtok_r(NULL, " ", &fs);
		f[2] = strtok_r(NULL, " ", &fs);
		for (i = 0; i < 3 && f[i] != NULL; i++)
			;
		if (i < 3 || (match != NULL && strstr(f[0], match) == NULL))
			continue;
		json_array_append_new(list, json_pack("[s,s,s]", f[0], f[1],
		    f[2]));
	}
	free(text);
	if (o == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	*out = o;
	return 0;
}
