/*
 * verify.c -- re-read and re-hash stored chunks. Each distinct chunk is
 * checked once, on a pool; a bad one is reported with every version that
 * uses it, so an admin knows what to re-import. On a terminal, a
 * progress bar of the raw bytes checked (drawn under the run's lock).
 */
#include <sys/stat.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "perr.h"
#include "progress.h"

struct use {
	uint8_t hash[HASH_BYTES];
	int codec;
	uint32_t raw_len, comp_len, crc;
	char ref[STORE_NAME_MAX + 12];	/* NAME:VERSION */
};

struct vrun {
	struct store *s;
	struct use *u;		/* sorted by (hash, codec) */
	size_t n, *first;	/* first[k]: index in u of distinct chunk k */
	char **problem;		/* per distinct chunk, NULL when good */
	size_t ndistinct, next;
	uint32_t max_raw;	/* sizes the per-thread buffers */
	uint64_t done;		/* raw bytes checked, under mu */
	struct progress prog;	/* drawn under mu */
	pthread_mutex_t mu;
};

static int
use_cmp(const void *a, const void *b)
{
	const struct use *x = a, *y = b;
	int c = memcmp(x->hash, y->hash, HASH_BYTES);

	return c ? c : x->codec - y->codec;
}

static int
add_version(struct store *s, const char *name, unsigned v, struct use **u,
    size_t *n, struct perr *e)
{
	struct pimg_index *ix;
	struct use *nu;
	uint32_t i;
	int rc;

	if ((rc = store_load(s, name, v, &ix, e)) < 0)
		return rc;
	if ((nu = realloc(*u, (*n + ix->nchunks) * sizeof(*nu))) == NULL) {
		pimg_index_free(ix);
		return perr_set(e, PE_FAIL, "out of memory");
	}
	*u = nu;
	for (i = 0; i < ix->nchunks; i++, (*n)++) {
		memcpy(nu[*n].hash, ix->e[i].hash, HASH_BYTES);
		nu[*n].codec = (int)ix->codec;
		nu[*n].raw_len = ix->e[i].raw_len;
		nu[*n].comp_len = ix->e[i].comp_len;
		nu[*n].crc = ix->e[i].crc32;
		snprintf(nu[*n].ref, sizeof(nu[*n].ref), "%s:%u", name, v);
	}
	pimg_index_free(ix);
	return 0;
}

static int
collect(struct store *s, const char *only, unsigned version, struct use **u,
    size_t *n, struct perr *e)
{
	struct store_image img;
	char **names = NULL;
	size_t nn = 1, i, j;
	int rc = 0;

	if (only != NULL) {
		if ((rc = store_resolve(s, only, &version, e)) < 0)
			return rc;
		return add_version(s, only, version, u, n, e);
	}
	if ((rc = store_list(s, &names, &nn, e)) < 0)
		return rc;
	for (i = 0; i < nn && rc == 0; i++) {
		if ((rc = store_image_get(s, names[i], &img, e)) < 0)
			break;
		for (j = 0; j < img.nv && rc == 0; j++)
			rc = add_version(s, names[i], img.v[j].version, u, n,
			    e);
		store_image_clear(&img);
	}
	store_list_free(names, nn);
	return rc;
}

static char *
check_one(struct vrun *r, const struct use *u, struct pimg_coder *c,
    uint8_t *comp, uint8_t *raw)
{
	uint8_t h[HASH_BYTES];
	struct perr e;
	uint32_t crc;

	const char *m;

	if (store_chunk_read(r->s, u->codec, u->hash, comp, u->comp_len,
	    &e) < 0) {
		/* the reporter names the chunk: drop "chunk HASH: " */
		m = strstr(e.msg, ": ");
		return strdup(m != NULL ? m + 2 : e.msg);
	}
	if (pimg_chunk_decode(c, comp, u->comp_len, raw, u->raw_len, &crc,
	    &e) < 0)
		return strdup(e.msg);
	if (crc != u->crc)
		return strdup("CRC mismatch");
	hash_buf(raw, u->raw_len, h);
	if (memcmp(h, u->hash, HASH_BYTES) != 0)
		return strdup("hash mismatch");
	return NULL;
}

static void *
vworker(void *arg)
{
	struct vrun *r = arg;
	struct pimg_coder *cz = pimg_coder_new(PIMG_CODEC_ZSTD, 0);
	struct pimg_coder *cg = pimg_coder_new(PIMG_CODEC_GZIP, 0);
	uint8_t *comp = malloc(r->max_raw + r->max_raw / 16 + 4096);
	uint8_t *raw = malloc(r->max_raw + 1);
	const struct use *u;
	size_t k;

	for (u = NULL;; ) {
		pthread_mutex_lock(&r->mu);
		if (u != NULL)	/* the one just checked */
			progress_tick(&r->prog, r->done += u->raw_len);
		k = r->next++;
		pthread_mutex_unlock(&r->mu);
		if (k >= r->ndistinct)
			break;
		u = &r->u[r->first[k]];
		if (comp == NULL || raw == NULL || cz == NULL || cg == NULL)
			r->problem[k] = strdup("out of memory");
		else
			r->problem[k] = check_one(r, u, u->codec ==
			    PIMG_CODEC_ZSTD ? cz : cg, comp, raw);
	}
	free(comp);
	free(raw);
	pimg_coder_free(cz);
	pimg_coder_free(cg);
	return NULL;
}

/* Move a bad chunk out of the way; "" when there was nothing to move. */
static const char *
quarantine(struct vrun *r, const struct use *u)
{
	char from[PATH_MAX], to[PATH_MAX], hex[HASH_HEX];

	store_chunk_path(r->s, u->codec, u->hash, from, sizeof(from));
	hash_hex(u->hash, hex);
	snprintf(to, sizeof(to), "%s/quarantine", r->s->root);
	mkdir(to, 0755);
	snprintf(to, sizeof(to), "%s/quarantine/%s.%s", r->s->root, hex,
	    pimg_codec_ext(u->codec));
	return rename(from, to) == 0 ? "; moved to quarantine" : "";
}

static void
report(struct vrun *r, int repair, image_bad_fn bad, void *arg)
{
	char msg[512];
	char hex[HASH_HEX], *users;
	size_t k, i, end, len;

	for (k = 0; k < r->ndistinct; k++) {
		if (r->problem[k] == NULL)
			continue;
		end = k + 1 < r->ndistinct ? r->first[k + 1] : r->n;
		for (len = 1, i = r->first[k]; i < end; i++)
			len += strlen(r->u[i].ref) + 1;
		if ((users = calloc(1, len)) == NULL)
			continue;
		for (i = r->first[k]; i < end; i++) {
			if (i > r->first[k] && strcmp(r->u[i].ref,
			    r->u[i - 1].ref) == 0)
				continue;
			if (*users)
				strcat(users, " ");
			strcat(users, r->u[i].ref);
		}
		hash_hex(r->u[r->first[k]].hash, hex);
		snprintf(msg, sizeof(msg), "%s%s", r->problem[k], repair ?
		    quarantine(r, &r->u[r->first[k]]) : "");
		bad(hex, msg, users, arg);
		free(users);
	}
}

int
image_verify(struct store *s, const char *name, unsigned version,
    int threads, int repair, image_bad_fn bad, void *arg,
    uint64_t *checked, struct perr *e)
{
	struct vrun r = { .s = s, .mu = PTHREAD_MUTEX_INITIALIZER };
	int nt = image_threads(threads) > 64 ? 64 : image_threads(threads), i, started = 0, rc, nbad = 0;
	pthread_t th[64];
	uint64_t total = 0;
	size_t k;

	if ((rc = collect(s, name, version, &r.u, &r.n, e)) < 0)
		goto out;
	if (r.n > 0)
		qsort(r.u, r.n, sizeof(*r.u), use_cmp);
	r.first = calloc(r.n + 1, sizeof(*r.first));
	r.problem = calloc(r.n + 1, sizeof(*r.problem));
	if (r.first == NULL || r.problem == NULL) {
		rc = perr_set(e, PE_FAIL, "out of memory");
		goto out;
	}
	for (k = 0; k < r.n; k++)
		if (r.u[k].raw_len > r.max_raw)
			r.max_raw = r.u[k].raw_len;
	for (k = 0; k < r.n; k++)
		if (k == 0 || use_cmp(&r.u[k], &r.u[k - 1]) != 0) {
			r.first[r.ndistinct++] = k;
			total += r.u[k].raw_len;
		}
	progress_start(&r.prog, "verifying", total);
	for (; started < nt; started++)
		if (pthread_create(&th[started], NULL, vworker, &r) != 0)
			break;
	if (started == 0)
		vworker(&r);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	progress_end(&r.prog);
	report(&r, repair, bad, arg);
	for (k = 0; k < r.ndistinct; k++)
		nbad += r.problem[k] != NULL;
	*checked = r.ndistinct;
	if (nbad > 0)
		rc = perr_set(e, PE_DATA, "%d of %zu chunks are bad", nbad,
		    r.ndistinct);
 out:
	for (k = 0; r.problem != NULL && k < r.ndistinct; k++)
		free(r.problem[k]);
	free(r.problem);
	free(r.first);
	free(r.u);
	return rc;
}
