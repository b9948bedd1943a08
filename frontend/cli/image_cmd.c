/*
 * image_cmd.c -- "pipol image ...": admin commands working on the store
 * directly (pipold serves the same store). The group's options are one
 * enum, each command's table a subset (common/cmd.c parses argv); the
 * values are checked here, then imagestore is called; every error is one
 * line and a documented exit status.
 *
 * list, show, validate, promote, rollback and copy go through pipold
 * (GET/POST /api/images, api_image.c) when a server is known and no
 * store is named here (--state, $PIPOL_STATE); else, like the other
 * commands, they work on the store here. list and show print image_info.c's JSON on both paths.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd.h"
#include "image.h"
#include "image_info.h"
#include "log.h"
#include "parse.h"
#include "perr.h"
#include "progress.h"

#define META_MAX 4096

struct iargs {
	const char *state, *from, *out, *grep;
	struct image_opts o;
	char meta[META_MAX];
	int raw, verbose, repair, check;
	const char *pos[2];	/* positional arguments */
	int npos;
};

/* every option of the group; each command's table takes a subset */
enum { O_STATE, O_FROM, O_CHUNK, O_CODEC, O_LEVEL, O_THREADS, O_META,
    O_RAW, O_REPAIR, O_OUTPUT, O_VERBOSE, O_GREP, O_CHECK, O_END };

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

static const struct cmd_opt base_opts[] = {
	OPT_STATE,
	[O_CHECK] = { "check", 0, CMD_FLAG, NULL,
	    "read the base again and compare each chunk with\n"
	    "the version's index (exit 3 when one differs)" },
	[O_END] = CMD_OPT_END
};

static const struct cmd_opt state_opts[] = {
	OPT_STATE,
	[O_END] = CMD_OPT_END
};

/* list, show, validate, promote, rollback, copy: pipold's store too */
static const struct cmd_opt api_opts[] = {
	[O_STATE] = { "state", 0, CMD_VALUE, "DIR",
	    "the store in DIR (default $PIPOL_STATE, else pipold's\n"
	    "when a server is known, else /var/lib/pipol)" },
	[O_END] = CMD_OPT_END
};

static const struct cmd_opt packages_opts[] = {
	[O_STATE] = { "state", 0, CMD_VALUE, "DIR",
	    "the store in DIR (default $PIPOL_STATE, else pipold's\n"
	    "when a server is known, else /var/lib/pipol)" },
	[O_GREP] = { "grep", 0, CMD_VALUE, "TEXT",
	    "only the packages whose name contains TEXT" },
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
	case O_GREP:
		/* a package name's characters: the URL needs no escaping */
		if (*v == '\0' || strlen(v) > 100 ||
		    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789.+-_:")
		    != strlen(v))
			return perr_set(e, PE_USAGE, "--grep %s: not a piece "
			    "of a package name (a-z 0-9 . + - _ :)", v);
		a->grep = v;
		return 0;
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
	a->check = cmd_count(ca, O_CHECK) > 0;
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

/*
 * Through pipold? Only when no store is named here (--state, or
 * $PIPOL_STATE set and not empty: the frontend's own scripts keep
 * their store) and a server is known (docs/admin.md, "Images over the
 * API").
 */
static int
via_server(const struct iargs *a)
{
	const char *env = getenv("PIPOL_STATE");

	return a->state == NULL && (env == NULL || *env == '\0') &&
	    client_has_server();
}

/* GET path from pipold, or what fill makes of the local store. */
static int
image_json(const struct iargs *a, const char *path,
    int (*fill)(struct store *, const char *, unsigned, json_t **,
    struct perr *), const char *name, unsigned v, json_t **out)
{
	struct store *s;
	struct perr e;
	int rc;

	if (via_server(a))
		return client_call("GET", path, NULL, out, &e) < 0 ?
		    cli_fail(&e) : 0;
	if ((rc = open_store(a, STORE_SHARED, &s)) != 0)
		return rc;
	rc = fill(s, name, v, out, &e);
	store_close(s);
	return rc < 0 ? cli_fail(&e) : 0;
}

static int
fill_list(struct store *s, const char *name, unsigned v, json_t **out,
    struct perr *e)
{
	(void)name;
	(void)v;
	return image_info_list(s, IMAGE_INFO_ALL, out, e);
}

static int
fill_show(struct store *s, const char *name, unsigned v, json_t **out,
    struct perr *e)
{
	return image_info_show(s, name, v, IMAGE_INFO_ALL, out, e);
}

static const char *pkg_match;	/* fill_packages's --grep */

static int
fill_packages(struct store *s, const char *name, unsigned v, json_t **out,
    struct perr *e)
{
	return image_info_packages(s, name, v, IMAGE_INFO_ALL, pkg_match, out,
	    e);
}

/* The table of image_info_list's JSON; PE_DATA when it lists errors. */
static int
print_list(json_t *o)
{
	json_t *img, *ver, *errs = json_object_get(o, "errors");
	char size[32], when[32];
	size_t i, j;

	for (i = 0; i < json_array_size(errs); i++)
		log_warnx("%s", json_string_value(json_array_get(errs, i)));
	printf("%-24s %7s  %-9s  %-4s  %10s  %s\n", "NAME", "VERSION",
	    "STATE", "CODEC", "DISK", "CREATED");
	json_array_foreach(json_object_get(o, "images"), i, img)
		json_array_foreach(json_object_get(img, "versions"), j, ver) {
			fmt_size((uint64_t)cli_int(ver, "disk_size"), size,
			    sizeof(size));
			fmt_time(cli_int(ver, "created"), when, sizeof(when));
			printf("%-24s %7lld  %-9s  %-4s  %10s  %s\n",
			    cli_str(img, "name"), cli_int(ver, "version"),
			    cli_str(ver, "state"), cli_str(ver, "codec"), size,
			    when);
		}
	return json_array_size(errs) ? PE_DATA : 0;
}

static int
cmd_ls(const struct cmd *c, const struct cmd_args *ca)
{
	struct iargs a;
	json_t *o;
	int rc;

	(void)c;
	if ((rc = image_args(ca, &a)) != 0)
		return rc;
	if ((rc = image_json(&a, "/api/images", fill_list, NULL, 0, &o)) != 0)
		return rc;
	rc = print_list(o);
	json_decref(o);
	return rc;
}

/* What image_info_show's JSON says, one "key: value" line each. */
static void
print_show(json_t *o)
{
	const char *state = cli_str(o, "state");
	char size[32], when[32];

	fmt_size((uint64_t)cli_int(o, "disk_size"), size, sizeof(size));
	fmt_time(cli_int(o, "created"), when, sizeof(when));
	printf("image:         %s:%lld\n", cli_str(o, "image"),
	    cli_int(o, "version"));
	printf("state:         %s%s\n", state, strcmp(state, "current") == 0 ||
	    strcmp(state, "previous") == 0 ? " (validated)" : "");
	printf("created:       %s\n", when);
	printf("codec:         %s\n", cli_str(o, "codec"));
	printf("chunk size:    %lld\n", cli_int(o, "chunk_size"));
	printf("disk size:     %lld bytes (%s)\n", cli_int(o, "disk_size"),
	    size);
	printf("chunks:        %lld\n", cli_int(o, "chunks"));
	printf("zero chunks:   %lld\n", cli_int(o, "zero_chunks"));
	fmt_size((uint64_t)cli_int(o, "stored_bytes"), size, sizeof(size));
	printf("stored size:   %lld bytes (%s, %lld distinct chunks)\n",
	    cli_int(o, "stored_bytes"), size, cli_int(o, "distinct_chunks"));
	if (cli_int(o, "shared_with") != 0)
		printf("shared:        %lld of %lld chunks with %s:%lld\n",
		    cli_int(o, "shared_chunks"), cli_int(o, "distinct_chunks"),
		    cli_str(o, "image"), cli_int(o, "shared_with"));
	else
		printf("shared:        no earlier version\n");
	printf("disk hash:     %s\n", cli_str(o, "disk_hash"));
	if (json_is_integer(json_object_get(o, "packages")))
		printf("packages:      %lld (pipol image packages)\n",
		    cli_int(o, "packages"));
	else
		printf("packages:      not read (validate it)\n");
	if (*cli_str(o, "meta"))
		printf("meta:\n%s", cli_str(o, "meta"));
}

/* packages: what the version holds, one "NAME VERSION ARCH" a line */
static int
cmd_packages(const struct cmd *c, const struct cmd_args *ca)
{
	char name[STORE_NAME_MAX + 1], path[256];
	struct iargs a;
	json_t *o, *p;
	unsigned v;
	size_t i;
	int rc;

	(void)c;
	if ((rc = image_args(ca, &a)) != 0)
		return rc;
	if ((rc = parse_ref(a.pos[0], name, &v, 0)) != 0)
		return rc;
	pkg_match = a.grep;
	snprintf(path, sizeof(path), "/api/images/%s/packages?version=%u%s%s",
	    name, v, a.grep ? "&q=" : "", a.grep ? a.grep : "");
	if (v == 0)	/* the current one: no version= */
		snprintf(path, sizeof(path), "/api/images/%s/packages%s%s",
		    name, a.grep ? "?q=" : "", a.grep ? a.grep : "");
	if ((rc = image_json(&a, path, fill_packages, name, v, &o)) != 0)
		return rc;
	if (!json_is_true(json_object_get(o, "collected")))
		log_warnx("image %s:%lld: its packages were not read (validated "
		    "by an older pipol, or no debugfs): validate it again",
		    cli_str(o, "image"), cli_int(o, "version"));
	json_array_foreach(json_object_get(o, "packages"), i, p)
		printf("%s %s %s\n", json_string_value(json_array_get(p, 0)),
		    json_string_value(json_array_get(p, 1)),
		    json_string_value(json_array_get(p, 2)));
	json_decref(o);
	return 0;
}

static int
cmd_show(const struct cmd *c, const struct cmd_args *ca)
{
	char name[STORE_NAME_MAX + 1], path[128];
	struct iargs a;
	unsigned v;
	json_t *o;
	int rc;

	(void)c;
	if ((rc = image_args(ca, &a)) != 0)
		return rc;
	if ((rc = parse_ref(a.pos[0], name, &v, 0)) != 0)
		return rc;
	snprintf(path, sizeof(path), v ? "/api/images/%s?version=%u" :
	    "/api/images/%s", name, v);
	if ((rc = image_json(&a, path, fill_show, name, v, &o)) != 0)
		return rc;
	print_show(o);
	json_decref(o);
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

/*
 * POST /api/images/NAME/ACTION with body (taken, may be NULL); 0 and
 * the version pipold names in its answer, or an exit status.
 */
static int
post_image(const char *name, const char *action, json_t *body,
    unsigned *v)
{
	char path[128];
	json_t *reply;
	struct perr e;
	int rc;

	snprintf(path, sizeof(path), "/api/images/%s/%s", name, action);
	rc = client_call("POST", path, body, &reply, &e);
	json_decref(body);
	if (rc < 0)
		return cli_fail(&e);
	*v = (unsigned)cli_int(reply, "version");
	json_decref(reply);
	return 0;
}

/* validate, promote, rm: NAME:VERSION and one store call, or the
 * action of that name through pipold (rm: never). */
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

	if ((rc = image_args(ca, &a)) != 0)
		return rc;
	if ((rc = parse_ref(a.pos[0], name, &v, 1)) != 0)
		return rc;
	if (op != store_rm && via_server(&a)) {
		if ((rc = post_image(name, c->name, json_pack("{s:i}",
		    "version", (int)v), &v)) != 0)
			return rc;
	} else {
		if ((rc = open_store(&a, STORE_SHARED, &s)) != 0)
			return rc;
		rc = op(s, name, v, &e);
		store_close(s);
		if (rc < 0)
			return cli_fail(&e);
	}
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
	if (via_server(&a)) {
		if ((rc = post_image(a.pos[0], "rollback", NULL, &now)) != 0)
			return rc;
	} else {
		if ((rc = open_store(&a, STORE_SHARED, &s)) != 0)
			return rc;
		rc = store_rollback(s, a.pos[0], &now, &e);
		store_close(s);
		if (rc < 0)
			return cli_fail(&e);
	}
	printf("%s:%u is current\n", a.pos[0], now);
	return 0;
}

/* Over the API, NEWNAME must be a new image (409 otherwise). */
static int
cmd_copy(const struct cmd *c, const struct cmd_args *ca)
{
	char name[STORE_NAME_MAX + 1];
	struct iargs a;
	struct store *s;
	struct perr e;
	unsigned v, nv;
	json_t *body;
	int rc;

	(void)c;
	if ((rc = image_args(ca, &a)) != 0)
		return rc;
	if ((rc = parse_ref(a.pos[0], name, &v, 0)) != 0)
		return rc;
	if (store_name_check(a.pos[1], &e) < 0)
		return cli_fail(&e);
	if (via_server(&a)) {
		body = json_pack("{s:s}", "to", a.pos[1]);
		if (v != 0)
			json_object_set_new(body, "version",
			    json_integer(v));
		if ((rc = post_image(name, "copy", body, &nv)) != 0)
			return rc;
	} else {
		if ((rc = open_store(&a, STORE_SHARED, &s)) != 0)
			return rc;
		rc = store_copy(s, name, v, a.pos[1], &nv, &e);
		store_close(s);
		if (rc < 0)
			return cli_fail(&e);
	}
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

/* base: the version's read-only base file for virtual nodes, made on
 * first use; its path on stdout */
static int
cmd_base(const struct cmd *c, const struct cmd_args *ca)
{
	char name[STORE_NAME_MAX + 1], path[PATH_MAX];
	struct pimg_index *ix = NULL;
	struct iargs a;
	struct store *s;
	struct perr e;
	unsigned v = 0;
	int rc, made;

	(void)c;
	if ((rc = image_args(ca, &a)) != 0)
		return rc;
	if ((rc = parse_ref(a.pos[0], name, &v, 0)) != 0)
		return rc;
	if ((rc = open_store(&a, STORE_SHARED, &s)) != 0)
		return rc;
	if ((rc = store_base_get(s, name, v, path, sizeof(path), &made,
	    &e)) == 0 && a.check && (rc = store_resolve(s, name, &v,
	    &e)) == 0 && (rc = store_load(s, name, v, &ix, &e)) == 0)
		rc = store_base_check(path, ix, &e);
	pimg_index_free(ix);
	store_close(s);
	if (rc < 0)
		return cli_fail(&e);
	printf("%s\n", path);
	if (made)
		log_info("%s: base made", a.pos[0]);
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
	{ "list", cmd_ls, "", "list images and their versions", api_opts,
	  0, 0, NULL },
	{ "show", cmd_show, "NAME[:VERSION]",
	  "describe one version (default: current, else newest)", api_opts,
	  1, 1, NULL },
	{ "packages", cmd_packages, "NAME[:VERSION] [--grep TEXT]",
	  "the packages it holds (read when it was validated)",
	  packages_opts, 1, 1, NULL },
	{ "verify", cmd_verify, "[NAME[:VERSION]] [--repair]",
	  "re-read and re-hash stored chunks (all versions by default)",
	  verify_opts, 0, 1, NULL },
	{ "validate", cmd_validate, "NAME:VERSION",
	  "mark a draft as validated", api_opts, 1, 1, NULL },
	{ "promote", cmd_promote, "NAME:VERSION",
	  "make a validated version current", api_opts, 1, 1, NULL },
	{ "rollback", cmd_rollback, "NAME",
	  "make the previous current version current again", api_opts,
	  1, 1, NULL },
	{ "copy", cmd_copy, "NAME[:VERSION] NEWNAME",
	  "new draft of NEWNAME sharing every chunk (none copied)",
	  api_opts, 2, 2, NULL },
	{ "rm", cmd_rm, "NAME:VERSION",
	  "remove a version (not the current one); gc frees its chunks",
	  state_opts, 1, 1, NULL },
	{ "gc", cmd_gc, "", "remove chunks, bases and files no version uses",
	  state_opts, 0, 0, NULL },
	{ "base", cmd_base, "NAME[:VERSION] [--check]",
	  "the read-only raw disk virtual nodes' overlays use (made once)",
	  base_opts, 1, 1, NULL },
	/* refresh (refresh_cmd.c): through pipold, admins */
	{ "refresh", cmd_refresh, "NAME [--schedule weekly] [--test CMD] "
	  "[--promote]", "update the current version on a node into a new "
	  "tested draft", refresh_opts, 1, 1, NULL },
	{ "history", cmd_history, "NAME",
	  "the image's refreshes: steps, durations, reasons", NULL, 1, 1,
	  NULL },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
};
