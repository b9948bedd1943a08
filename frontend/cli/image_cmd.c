/*
 * image_cmd.c -- "pipol image ...": admin commands working on the store
 * directly (pipold serves the same store). The group's options are one
 * enum, each command's table a subset (common/cmd.c parses argv); the
 * values are checked here, then imagestore is called; every error is one
 * line and a documented exit status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd.h"
#include "image.h"
#include "log.h"
#include "parse.h"
#include "perr.h"
#include "progress.h"

#define META_MAX 4096

struct iargs {
	const char *state, *from, *out;
	struct image_opts o;
	char meta[META_MAX];
	int raw, verbose, repair;
	const char *pos[2];	/* positional arguments */
	int npos;
};

/* every option of the group; each command's table takes a subset */
enum { O_STATE, O_FROM, O_CHUNK, O_CODEC, O_LEVEL, O_THREADS, O_META,
    O_RAW, O_REPAIR, O_OUTPUT, O_VERBOSE, O_END };

#define OPT_STATE [O_STATE] = { "state", 0, CMD_VALUE, "DIR", \
	"state folder (default $PIPOL_STATE, else /var/lib/pipol)" }
#define OPT_THREADS [O_THREADS] = { "threads", 0, CMD_VALUE, "N", \
	"worker threads (default: one per core)" }
#define OPT_ADD OPT_STATE, OPT_THREADS, \
	[O_CHUNK] = { "chunk-size", 0, CMD_VALUE, "SIZE", \
	    "power of two in 1M..64M (default 4M)" }, \
	[O_CODEC] = { "codec", 0, CMD_VALUE, "C", \
	    "gzip (default, readable by gzip -dc) or zstd" }, \
	[O_LEVEL] = { "level", 0, CMD_VALUE, "N", \
	    "1..12 for gzip (default 6), 1..19 for zstd (default 3)" }, \
	[O_META] = { "meta", 0, CMD_VALUE | CMD_REPEAT, "KEY=VALUE", \
	    "image metadata (repeatable), e.g. root=2" }, \
	[O_VERBOSE] = { "verbose", 'v', CMD_FLAG, NULL, \
	    "print a summary line on stderr" }

static const struct cmd_opt create_opts[] = {
	OPT_ADD,
	[O_FROM] = { "from", 0, CMD_VALUE, "PATH",
	    "the disk or file to compress" },
	[O_END] = CMD_OPT_END
};

static const struct cmd_opt import_opts[] = {
	OPT_ADD,
	[O_END] = CMD_OPT_END
};

static const struct cmd_opt export_opts[] = {
	OPT_STATE, OPT_THREADS,
	[O_OUTPUT] = { "output", 'o', CMD_VALUE, "FILE",
	    "write FILE (appears only when complete)" },
	[O_RAW] = { "raw", 0, CMD_FLAG, NULL,
	    "the raw disk instead of the .pimg" },
	[O_END] = CMD_OPT_END
};

static const struct cmd_opt verify_opts[] = {
	OPT_STATE, OPT_THREADS,
	[O_REPAIR] = { "repair", 0, CMD_FLAG, NULL,
	    "move bad chunks to quarantine: the next create\n"
	    "or import holding their bytes stores them anew" },
	[O_END] = CMD_OPT_END
};

static const struct cmd_opt state_opts[] = {
	OPT_STATE,
	[O_END] = CMD_OPT_END
};

static int
opt_value(struct iargs *a, int id, const char *v, struct perr *e)
{
	long long n;
	uint64_t sz;
	size_t ml;

	switch (id) {
	case O_STATE: a->state = v; return 0;
	case O_FROM: a->from = v; return 0;
	case O_OUTPUT: a->out = v; return 0;
	case O_CODEC: return pimg_codec_parse(v, &a->o.codec, e);
	case O_CHUNK:
		if (parse_size(v, &sz, e) < 0)
			return perr_set(e, PE_USAGE, "--chunk-size %s: not a "
			    "size", v);
		if (pimg_chunk_size_check(sz, v, e) < 0)
			return -PE_USAGE;
		a->o.chunk_size = (uint32_t)sz;
		return 0;
	case O_LEVEL:
		if (parse_count("--level", v, 1, 22, &n, e) < 0)
			return -PE_USAGE;
		a->o.level = (int)n;
		return 0;
	case O_THREADS:
		if (parse_count("--threads", v, 1, 64, &n, e) < 0)
			return -PE_USAGE;
		a->o.threads = (int)n;
		return 0;
	case O_META:
		ml = strlen(a->meta);
		if (strchr(v, '=') == NULL || strchr(v, '\n') || *v == '=' ||
		    ml + strlen(v) + 2 > sizeof(a->meta))
			return perr_set(e, PE_USAGE, "--meta %s: not KEY=VALUE",
			    v);
		snprintf(a->meta + ml, sizeof(a->meta) - ml, "%s\n", v);
		return 0;
	}
	return perr_set(e, PE_USAGE, "option %d: unknown", id);
}

/*
 * The parsed command line (ca, by the command's table) into *a: values
 * checked in the order given. Returns 0 or an exit status.
 */
static int
image_args(const struct cmd_args *ca, struct iargs *a)
{
	struct perr e;
	int i;

	memset(a, 0, sizeof(*a));
	a->o.codec = PIMG_CODEC_GZIP;
	a->o.progress = 1;
	a->raw = cmd_count(ca, O_RAW) > 0;
	a->repair = cmd_count(ca, O_REPAIR) > 0;
	a->verbose = cmd_count(ca, O_VERBOSE) > 0;
	for (i = 0; i < ca->nvals; i++)
		if (opt_value(a, ca->vals[i].id, ca->vals[i].val, &e) < 0)
			return cli_fail(&e);
	for (i = 0; i < ca->npos && i < 2; i++)
		a->pos[a->npos++] = ca->pos[i];
	if (a->o.level && pimg_level_check(a->o.codec, a->o.level, &e) < 0)
		return cli_fail(&e);
	return 0;
}

static int
open_store(const struct iargs *a, int how, struct store **s)
{
	struct perr e;

	if (store_open(store_state_dir(a->state), how, s, &e) < 0)
		return cli_fail(&e);
	return 0;
}

static int
parse_ref(const char *ref, char *name, unsigned *v, int need_version)
{
	struct perr e;

	if (store_ref_parse(ref, name, v, &e) < 0)
		return cli_fail(&e);
	if (need_version && *v == 0) {
		log_warnx("image %s: give NAME:VERSION", ref);
		return PE_USAGE;
	}
	return 0;
}

static void
print_stats(const char *name, unsigned v, const struct image_stats *st,
    double secs)
{
	fprintf(stderr, "%s:%u: %llu bytes, %llu chunks (%llu zero), %llu "
	    "new chunks stored (%llu bytes), %llu already in the store, %s, "
	    "%llu bytes read, %.1f s\n", name, v, (unsigned long long)st->disk_size,
	    (unsigned long long)st->chunks,
	    (unsigned long long)st->zero_chunks,
	    (unsigned long long)st->new_chunks,
	    (unsigned long long)st->new_bytes,
	    (unsigned long long)st->known_chunks,
	    st->recompressed ? "recompressed" : "taken as is",
	    (unsigned long long)st->read_bytes, secs);
}

static int
add_image(const struct cmd *c, const struct cmd_args *ca, int import)
{
	char name[STORE_NAME_MAX + 1];
	struct image_stats st = { 0 };
	struct iargs a;
	struct store *s;
	struct perr e;
	unsigned v;
	double t0 = now_sec();
	int rc;

	if ((rc = image_args(ca, &a)) != 0)
		return rc;
	if (!import && a.from == NULL)
		return cmd_usage_error(c, "missing --from PATH");
	if (store_name_check(a.pos[0], &e) < 0)
		return cli_fail(&e);
	snprintf(name, sizeof(name), "%s", a.pos[0]);
	a.o.meta = a.meta[0] ? a.meta : NULL;
	if ((rc = open_store(&a, STORE_SHARED, &s)) != 0)
		return rc;
	rc = import ? image_import(s, name, a.pos[1], &a.o, &v, &st, &e) :
	    image_create(s, name, a.from, &a.o, &v, &st, &e);
	if (rc < 0) {
		store_undo_added(s);
		store_close(s);
		return cli_fail(&e);
	}
	store_close(s);
	if (!import)
		st.recompressed = 1;
	printf("%s:%u\n", name, v);
	if (a.verbose || isatty(STDERR_FILENO))
		print_stats(name, v, &st, now_sec() - t0);
	return 0;
}

static int
cmd_create(const struct cmd *c, const struct cmd_args *ca)
{
	return add_image(c, ca, 0);
}

static int
cmd_import(const struct cmd *c, const struct cmd_args *ca)
{
	return add_image(c, ca, 1);
}

static int
cmd_export(const struct cmd *c, const struct cmd_args *ca)
{
	char name[STORE_NAME_MAX + 1];
	struct iargs a;
	struct store *s;
	struct perr e;
	unsigned v;
	int rc;

	(void)c;
	if ((rc = image_args(ca, &a)) != 0)
		return rc;
	if ((rc = parse_ref(a.pos[0], name, &v, 0)) != 0)
		return rc;
	if (a.out == NULL && isatty(STDOUT_FILENO)) {
		log_warnx("standard output is a terminal: give -o FILE");
		return PE_USAGE;
	}
	if ((rc = open_store(&a, STORE_SHARED, &s)) != 0)
		return rc;
	rc = image_export(s, name, v, a.out, a.raw, a.o.threads, &e);
	store_close(s);
	return rc < 0 ? cli_fail(&e) : 0;
}

static const char *
version_label(const struct store_image *img, const struct store_version *v)
{
	size_t i = img->nhist;

	if (img->current == v->version)
		return "current";
	/* previous: what rollback would make current */
	while (i > 0 && (img->history[i - 1] == img->current ||
	    store_image_find(img, img->history[i - 1]) == NULL))
		i--;
	if (i > 0 && img->history[i - 1] == v->version)
		return "previous";
	return store_vstate_name(v->state);
}

static void
fmt_size(uint64_t n, char *buf, size_t len)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)n;
	int u = 0;

	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", d, unit[u]);
}

static void
fmt_time(long long t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
cmd_ls(const struct cmd *c, const struct cmd_args *ca)
{
	struct store_image img;
	struct pimg_index *ix;
	char **names, size[32], when[32];
	struct iargs a;
	struct store *s;
	struct perr e;
	size_t n, i, j;
	int rc;

	(void)c;
	if ((rc = image_args(ca, &a)) != 0)
		return rc;
	if ((rc = open_store(&a, STORE_SHARED, &s)) != 0)
		return rc;
	if (store_list(s, &names, &n, &e) < 0) {
		store_close(s);
		return cli_fail(&e);
	}
	printf("%-24s %7s  %-9s  %-4s  %10s  %s\n", "NAME", "VERSION",
	    "STATE", "CODEC", "DISK", "CREATED");
	for (i = 0; i < n; i++) {
		if (store_image_get(s, names[i], &img, &e) < 0) {
			log_warnx("%s", e.msg);
			rc = PE_DATA;
			continue;
		}
		for (j = 0; j < img.nv; j++) {
			if (store_load(s, names[i], img.v[j].version, &ix,
			    &e) < 0) {
				log_warnx("%s", e.msg);
				rc = PE_DATA;
				continue;
			}
			fmt_size(ix->disk_size, size, sizeof(size));
			fmt_time(img.v[j].created, when, sizeof(when));
			printf("%-24s %7u  %-9s  %-4s  %10s  %s\n", names[i],
			    img.v[j].version, version_label(&img, &img.v[j]),
			    pimg_codec_name((int)ix->codec), size, when);
			pimg_index_free(ix);
		}
		store_image_clear(&img);
	}
	store_list_free(names, n);
	store_close(s);
	return rc;
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

/* Stored size, and how many chunks the next older version shares. */
static void
show_sharing(struct store *s, const char *name, const struct store_image *img,
    unsigned v, const struct pimg_index *ix)
{
	struct pimg_index *old = NULL;
	uint8_t *mine, *theirs = NULL;
	uint64_t stored;
	size_t nm, nt = 0, i, shared = 0;
	unsigned prev = 0;
	struct perr e;
	char size[32];

	if ((mine = distinct_hashes(ix, &nm)) == NULL)
		return;
	stored = stored_bytes(ix, mine, nm);
	fmt_size(stored, size, sizeof(size));
	printf("stored size:   %llu bytes (%s, %zu distinct chunks)\n",
	    (unsigned long long)stored, size, nm);
	for (i = 0; i < img->nv; i++)
		if (img->v[i].version < v)
			prev = img->v[i].version;
	if (prev && store_load(s, name, prev, &old, &e) == 0 &&
	    (theirs = distinct_hashes(old, &nt)) != NULL) {
		for (i = 0; i < nm; i++)
			shared += bsearch(mine + i * HASH_BYTES, theirs, nt,
			    HASH_BYTES, hash_cmp) != NULL;
		printf("shared:        %zu of %zu chunks with %s:%u\n",
		    shared, nm, name, prev);
	} else {
		printf("shared:        no earlier version\n");
	}
	free(theirs);
	pimg_index_free(old);
	free(mine);
}

static int
cmd_show(const struct cmd *c, const struct cmd_args *ca)
{
	char name[STORE_NAME_MAX + 1], hex[HASH_HEX], size[32], when[32];
	const struct store_version *sv;
	struct store_image img;
	struct pimg_index *ix;
	struct iargs a;
	struct store *s;
	struct perr e;
	unsigned v;
	int rc;

	(void)c;
	if ((rc = image_args(ca, &a)) != 0)
		return rc;
	if ((rc = parse_ref(a.pos[0], name, &v, 0)) != 0)
		return rc;
	if ((rc = open_store(&a, STORE_SHARED, &s)) != 0)
		return rc;
	if (store_resolve(s, name, &v, &e) < 0 ||
	    store_image_get(s, name, &img, &e) < 0) {
		store_close(s);
		return cli_fail(&e);
	}
	if (store_load(s, name, v, &ix, &e) < 0) {
		store_image_clear(&img);
		store_close(s);
		return cli_fail(&e);
	}
	sv = store_image_find(&img, v);
	hash_hex(ix->disk_hash, hex);
	fmt_size(ix->disk_size, size, sizeof(size));
	fmt_time(sv->created, when, sizeof(when));
	printf("image:         %s:%u\n", name, v);
	printf("state:         %s%s\n", version_label(&img, sv),
	    img.current == v || strcmp(version_label(&img, sv), "previous")
	    == 0 ? " (validated)" : "");
	printf("created:       %s\n", when);
	printf("codec:         %s\n", pimg_codec_name((int)ix->codec));
	printf("chunk size:    %u\n", ix->chunk_size);
	printf("disk size:     %llu bytes (%s)\n",
	    (unsigned long long)ix->disk_size, size);
	printf("chunks:        %u\n", ix->nchunks);
	printf("zero chunks:   %llu\n",
	    (unsigned long long)pimg_index_zero_chunks(ix));
	show_sharing(s, name, &img, v, ix);
	printf("disk hash:     %s\n", hex);
	if (*ix->meta)
		printf("meta:\n%s", ix->meta);
	pimg_index_free(ix);
	store_image_clear(&img);
	store_close(s);
	return 0;
}

static void
print_bad(const char *hex, const char *problem, const char *users, void *arg)
{
	(void)arg;
	log_warnx("chunk %s: %s (used by %s)", hex, problem, users);
}

static int
cmd_verify(const struct cmd *c, const struct cmd_args *ca)
{
	char name[STORE_NAME_MAX + 1];
	uint64_t checked = 0;
	struct iargs a;
	struct store *s;
	struct perr e;
	unsigned v = 0;
	int rc;

	(void)c;
	if ((rc = image_args(ca, &a)) != 0)
		return rc;
	if (a.npos && (rc = parse_ref(a.pos[0], name, &v, 0)) != 0)
		return rc;
	if ((rc = open_store(&a, STORE_SHARED, &s)) != 0)
		return rc;
	rc = image_verify(s, a.npos ? name : NULL, v, a.o.threads, a.repair,
	    print_bad, NULL, &checked, &e);
	store_close(s);
	if (rc < 0 && rc != -PE_DATA)
		return cli_fail(&e);
	printf("%llu chunks checked, %s\n", (unsigned long long)checked,
	    rc == 0 ? "all good" : e.msg);
	return rc < 0 ? PE_DATA : 0;
}

/* validate, promote, rm: NAME:VERSION and one store call. */
static int
version_op(const struct cmd *c, const struct cmd_args *ca,
    int (*op)(struct store *, const char *, unsigned, struct perr *),
    const char *done)
{
	char name[STORE_NAME_MAX + 1];
	struct iargs a;
	struct store *s;
	struct perr e;
	unsigned v;
	int rc;

	(void)c;
	if ((rc = image_args(ca, &a)) != 0)
		return rc;
	if ((rc = parse_ref(a.pos[0], name, &v, 1)) != 0)
		return rc;
	if ((rc = open_store(&a, STORE_SHARED, &s)) != 0)
		return rc;
	rc = op(s, name, v, &e);
	store_close(s);
	if (rc < 0)
		return cli_fail(&e);
	printf("%s:%u %s\n", name, v, done);
	return 0;
}

static int
cmd_validate(const struct cmd *c, const struct cmd_args *ca)
{
	return version_op(c, ca, store_validate, "validated");
}

static int
cmd_promote(const struct cmd *c, const struct cmd_args *ca)
{
	return version_op(c, ca, store_promote, "is current");
}

static int
cmd_rm(const struct cmd *c, const struct cmd_args *ca)
{
	return version_op(c, ca, store_rm, "removed");
}

static int
cmd_rollback(const struct cmd *c, const struct cmd_args *ca)
{
	struct iargs a;
	struct store *s;
	struct perr e;
	unsigned now;
	int rc;

	(void)c;
	if ((rc = image_args(ca, &a)) != 0)
		return rc;
	if (store_name_check(a.pos[0], &e) < 0)
		return cli_fail(&e);
	if ((rc = open_store(&a, STORE_SHARED, &s)) != 0)
		return rc;
	rc = store_rollback(s, a.pos[0], &now, &e);
	store_close(s);
	if (rc < 0)
		return cli_fail(&e);
	printf("%s:%u is current\n", a.pos[0], now);
	return 0;
}

static int
cmd_copy(const struct cmd *c, const struct cmd_args *ca)
{
	char name[STORE_NAME_MAX + 1];
	struct iargs a;
	struct store *s;
	struct perr e;
	unsigned v, nv;
	int rc;

	(void)c;
	if ((rc = image_args(ca, &a)) != 0)
		return rc;
	if ((rc = parse_ref(a.pos[0], name, &v, 0)) != 0)
		return rc;
	if (store_name_check(a.pos[1], &e) < 0)
		return cli_fail(&e);
	if ((rc = open_store(&a, STORE_SHARED, &s)) != 0)
		return rc;
	rc = store_copy(s, name, v, a.pos[1], &nv, &e);
	store_close(s);
	if (rc < 0)
		return cli_fail(&e);
	printf("%s:%u\n", a.pos[1], nv);
	return 0;
}

static int
cmd_gc(const struct cmd *c, const struct cmd_args *ca)
{
	uint64_t n, bytes;
	struct iargs a;
	struct store *s;
	struct perr e;
	int rc;

	(void)c;
	if ((rc = image_args(ca, &a)) != 0)
		return rc;
	if ((rc = open_store(&a, STORE_EXCLUSIVE, &s)) != 0)
		return rc;
	rc = store_gc(s, &n, &bytes, &e);
	store_close(s);
	if (rc < 0)
		return cli_fail(&e);
	printf("%llu files removed, %llu bytes freed\n",
	    (unsigned long long)n, (unsigned long long)bytes);
	return 0;
}

const struct cmd image_cmds[] = {
	{ "create", cmd_create, "NAME --from PATH [options]",
	  "compress a disk or file into a new draft version", create_opts,
	  1, 1, NULL },
	{ "import", cmd_import, "NAME FILE|- [options]",
	  "import a .pimg as is, or re-chunk a gzip or zstd dd image",
	  import_opts, 2, 2, NULL },
	{ "export", cmd_export, "NAME[:VERSION] [-o FILE] [--raw]",
	  "write the .pimg single file, or the raw disk with --raw",
	  export_opts, 1, 1, NULL },
	{ "list", cmd_ls, "", "list images and their versions", state_opts,
	  0, 0, NULL },
	{ "show", cmd_show, "NAME[:VERSION]",
	  "describe one version (default: current, else newest)", state_opts,
	  1, 1, NULL },
	{ "verify", cmd_verify, "[NAME[:VERSION]] [--repair]",
	  "re-read and re-hash stored chunks (all versions by default)",
	  verify_opts, 0, 1, NULL },
	{ "validate", cmd_validate, "NAME:VERSION",
	  "mark a draft as validated", state_opts, 1, 1, NULL },
	{ "promote", cmd_promote, "NAME:VERSION",
	  "make a validated version current", state_opts, 1, 1, NULL },
	{ "rollback", cmd_rollback, "NAME",
	  "make the previous current version current again", state_opts,
	  1, 1, NULL },
	{ "copy", cmd_copy, "NAME[:VERSION] NEWNAME",
	  "new draft of NEWNAME sharing every chunk (none copied)",
	  state_opts, 2, 2, NULL },
	{ "rm", cmd_rm, "NAME:VERSION",
	  "remove a version (not the current one); gc frees its chunks",
	  state_opts, 1, 1, NULL },
	{ "gc", cmd_gc, "", "remove chunks and files no version uses",
	  state_opts, 0, 0, NULL },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
};
