/*
 * image_cmd.c -- "pipol image ...": admin commands working on the store
 * directly (pipold serves the same store). Parse argv here, then call
 * imagestore; every error is one line and a documented exit status.
 */
#include <getopt.h>
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
	char *pos[3];		/* positional arguments */
	int npos;
};

enum { O_STATE = 256, O_FROM, O_CHUNK, O_CODEC, O_LEVEL, O_THREADS,
    O_META, O_RAW, O_REPAIR, O_HELP };

static const struct option long_opts[] = {
	{ "state", required_argument, NULL, O_STATE },
	{ "from", required_argument, NULL, O_FROM },
	{ "chunk-size", required_argument, NULL, O_CHUNK },
	{ "codec", required_argument, NULL, O_CODEC },
	{ "level", required_argument, NULL, O_LEVEL },
	{ "threads", required_argument, NULL, O_THREADS },
	{ "meta", required_argument, NULL, O_META },
	{ "raw", no_argument, NULL, O_RAW },
	{ "repair", no_argument, NULL, O_REPAIR },
	{ "output", required_argument, NULL, 'o' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 }
};

static int
opt_value(const struct cmd *c, struct iargs *a, int ch, const char *v,
    struct perr *e)
{
	long long n;
	uint64_t sz;
	size_t ml;

	switch (ch) {
	case O_STATE: a->state = v; return 0;
	case O_FROM: a->from = v; return 0;
	case 'o': a->out = v; return 0;
	case O_RAW: a->raw = 1; return 0;
	case O_REPAIR: a->repair = 1; return 0;
	case 'v': a->verbose = 1; return 0;
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
	(void)c;
	return perr_set(e, PE_USAGE, "unknown option");
}

/*
 * Parse argv (argv[0] is the subcommand). allowed lists the option
 * letters/ids accepted, as a string of their codes; npos_min..max
 * positional arguments. Returns -1 after --help, else 0 or an exit code.
 */
static int
parse(const struct cmd *c, int argc, char **argv, const int *allowed,
    int pmin, int pmax, struct iargs *a)
{
	struct perr e;
	int ch, i, ok;

	memset(a, 0, sizeof(*a));
	a->o.codec = PIMG_CODEC_GZIP;
	a->o.progress = 1;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":o:v", long_opts, NULL)) != -1) {
		if (ch == O_HELP)
			return cmd_help(c), -1;
		for (ok = 0, i = 0; allowed[i] != 0; i++)
			ok |= allowed[i] == ch;
		if (ch == ':')
			return cmd_usage_error(c, "%s: needs a value",
			    argv[optind - 1]);
		if (ch == '?' || !ok)
			return cmd_usage_error(c, "%s: unknown option",
			    argv[optind - 1]);
		if (opt_value(c, a, ch, optarg, &e) < 0)
			return cli_fail(&e);
	}
	for (i = optind; i < argc; i++) {
		if (a->npos == pmax)
			return cmd_usage_error(c, "%s: unexpected argument",
			    argv[i]);
		a->pos[a->npos++] = argv[i];
	}
	if (a->npos < pmin)
		return cmd_usage_error(c, "missing argument");
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
add_image(const struct cmd *c, int argc, char **argv, int import)
{
	static const int allowed[] = { O_STATE, O_FROM, O_CHUNK, O_CODEC,
	    O_LEVEL, O_THREADS, O_META, 'v', 0 };
	char name[STORE_NAME_MAX + 1];
	struct image_stats st = { 0 };
	struct iargs a;
	struct store *s;
	struct perr e;
	unsigned v;
	double t0 = now_sec();
	int rc;

	if ((rc = parse(c, argc, argv, allowed, import ? 2 : 1,
	    import ? 2 : 1, &a)) != 0)
		return rc < 0 ? 0 : rc;
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
cmd_create(const struct cmd *c, int argc, char **argv)
{
	return add_image(c, argc, argv, 0);
}

static int
cmd_import(const struct cmd *c, int argc, char **argv)
{
	return add_image(c, argc, argv, 1);
}

static int
cmd_export(const struct cmd *c, int argc, char **argv)
{
	static const int allowed[] = { O_STATE, O_RAW, O_THREADS, 'o', 0 };
	char name[STORE_NAME_MAX + 1];
	struct iargs a;
	struct store *s;
	struct perr e;
	unsigned v;
	int rc;

	if ((rc = parse(c, argc, argv, allowed, 1, 1, &a)) != 0)
		return rc < 0 ? 0 : rc;
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
cmd_ls(const struct cmd *c, int argc, char **argv)
{
	static const int allowed[] = { O_STATE, 0 };
	struct store_image img;
	struct pimg_index *ix;
	char **names, size[32], when[32];
	struct iargs a;
	struct store *s;
	struct perr e;
	size_t n, i, j;
	int rc;

	if ((rc = parse(c, argc, argv, allowed, 0, 0, &a)) != 0)
		return rc < 0 ? 0 : rc;
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
cmd_show(const struct cmd *c, int argc, char **argv)
{
	static const int allowed[] = { O_STATE, 0 };
	char name[STORE_NAME_MAX + 1], hex[HASH_HEX], size[32], when[32];
	const struct store_version *sv;
	struct store_image img;
	struct pimg_index *ix;
	struct iargs a;
	struct store *s;
	struct perr e;
	unsigned v;
	int rc;

	if ((rc = parse(c, argc, argv, allowed, 1, 1, &a)) != 0)
		return rc < 0 ? 0 : rc;
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
cmd_verify(const struct cmd *c, int argc, char **argv)
{
	static const int allowed[] = { O_STATE, O_THREADS, O_REPAIR, 0 };
	char name[STORE_NAME_MAX + 1];
	uint64_t checked = 0;
	struct iargs a;
	struct store *s;
	struct perr e;
	unsigned v = 0;
	int rc;

	if ((rc = parse(c, argc, argv, allowed, 0, 1, &a)) != 0)
		return rc < 0 ? 0 : rc;
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
version_op(const struct cmd *c, int argc, char **argv,
    int (*op)(struct store *, const char *, unsigned, struct perr *),
    const char *done)
{
	static const int allowed[] = { O_STATE, 0 };
	char name[STORE_NAME_MAX + 1];
	struct iargs a;
	struct store *s;
	struct perr e;
	unsigned v;
	int rc;

	if ((rc = parse(c, argc, argv, allowed, 1, 1, &a)) != 0)
		return rc < 0 ? 0 : rc;
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
cmd_validate(const struct cmd *c, int argc, char **argv)
{
	return version_op(c, argc, argv, store_validate, "validated");
}

static int
cmd_promote(const struct cmd *c, int argc, char **argv)
{
	return version_op(c, argc, argv, store_promote, "is current");
}

static int
cmd_rm(const struct cmd *c, int argc, char **argv)
{
	return version_op(c, argc, argv, store_rm, "removed");
}

static int
cmd_rollback(const struct cmd *c, int argc, char **argv)
{
	static const int allowed[] = { O_STATE, 0 };
	struct iargs a;
	struct store *s;
	struct perr e;
	unsigned now;
	int rc;

	if ((rc = parse(c, argc, argv, allowed, 1, 1, &a)) != 0)
		return rc < 0 ? 0 : rc;
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
cmd_copy(const struct cmd *c, int argc, char **argv)
{
	static const int allowed[] = { O_STATE, 0 };
	char name[STORE_NAME_MAX + 1];
	struct iargs a;
	struct store *s;
	struct perr e;
	unsigned v, nv;
	int rc;

	if ((rc = parse(c, argc, argv, allowed, 2, 2, &a)) != 0)
		return rc < 0 ? 0 : rc;
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
cmd_gc(const struct cmd *c, int argc, char **argv)
{
	static const int allowed[] = { O_STATE, 0 };
	uint64_t n, bytes;
	struct iargs a;
	struct store *s;
	struct perr e;
	int rc;

	if ((rc = parse(c, argc, argv, allowed, 0, 0, &a)) != 0)
		return rc < 0 ? 0 : rc;
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

#define OPT_STATE "  --state DIR        state folder (default $PIPOL_STATE, " \
	"else /var/lib/pipol)\n"
#define OPT_THREADS "  --threads N        worker threads (default: one " \
	"per core)\n"
#define OPT_ADD OPT_STATE OPT_THREADS \
	"  --chunk-size SIZE  power of two in 1M..64M (default 4M)\n" \
	"  --codec C          gzip (default, readable by gzip -dc) or zstd\n" \
	"  --level N          1..12 for gzip (default 6), 1..19 for zstd " \
	"(default 3)\n" \
	"  --meta KEY=VALUE   image metadata (repeatable), e.g. root=2\n" \
	"  -v, --verbose      print a summary line on stderr\n"

static const struct cmd image_cmds[] = {
	{ "create", cmd_create, "NAME --from PATH [options]",
	  "compress a disk or file into a new draft version", OPT_ADD },
	{ "import", cmd_import, "NAME FILE|- [options]",
	  "import a .pimg as is, or re-chunk a gzip or zstd dd image", OPT_ADD },
	{ "export", cmd_export, "NAME[:VERSION] [-o FILE] [--raw]",
	  "write the .pimg single file, or the raw disk with --raw",
	  OPT_STATE OPT_THREADS
	  "  -o, --output FILE  write FILE (appears only when complete)\n"
	  "  --raw              the raw disk instead of the .pimg\n" },
	{ "list", cmd_ls, "", "list images and their versions", OPT_STATE },
	{ "show", cmd_show, "NAME[:VERSION]",
	  "describe one version (default: current, else newest)", OPT_STATE },
	{ "verify", cmd_verify, "[NAME[:VERSION]] [--repair]",
	  "re-read and re-hash stored chunks (all versions by default)",
	  OPT_STATE OPT_THREADS
	  "  --repair           move bad chunks to quarantine: the next create\n"
	  "                     or import holding their bytes stores them anew\n" },
	{ "validate", cmd_validate, "NAME:VERSION",
	  "mark a draft as validated", OPT_STATE },
	{ "promote", cmd_promote, "NAME:VERSION",
	  "make a validated version current", OPT_STATE },
	{ "rollback", cmd_rollback, "NAME",
	  "make the previous current version current again", OPT_STATE },
	{ "copy", cmd_copy, "NAME[:VERSION] NEWNAME",
	  "new draft of NEWNAME sharing every chunk (none copied)", OPT_STATE },
	{ "rm", cmd_rm, "NAME:VERSION",
	  "remove a version (not the current one); gc frees its chunks",
	  OPT_STATE },
	{ "gc", cmd_gc, "", "remove chunks and files no version uses",
	  OPT_STATE },
	{ NULL, NULL, NULL, NULL, NULL }
};

int
image_main(int argc, char **argv)
{
	snprintf(cmd_prefix, sizeof(cmd_prefix), "pipol image");
	return cmd_dispatch(image_cmds, "command", argc, argv);
}
