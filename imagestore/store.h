/*
 * store.h -- the image store under STATE/store: chunks kept once each by
 * (codec, SHA-256 of the raw bytes), image versions as index files, and
 * per-image refs (states, current, rollback history). Every change is a
 * durable rename; a crash leaves either the old or the new state.
 *
 * Locks: STATE/store/lock is held shared by every command that reads or
 * adds, exclusive by gc (the only one that deletes chunks). Refs changes
 * take STATE/store/refs.lock exclusively for a few milliseconds.
 */
#ifndef STORE_H
#define STORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "pimg.h"

struct perr;

#define STORE_NAME_MAX	64

/* STORE_SHARED_NOWAIT: shared, but an exclusive holder (gc) is waited
 * on STORE_NOWAIT_TRIES x STORE_NOWAIT_MS at most, then -PE_UNAVAIL
 * "store busy": for pipold, which must not hold a database connection
 * for as long as a gc runs. */
enum { STORE_SHARED = 1, STORE_EXCLUSIVE = 2, STORE_SHARED_NOWAIT = 3 };
#define STORE_NOWAIT_TRIES	10
#define STORE_NOWAIT_MS		100
enum store_vstate { VS_DRAFT = 0, VS_VALIDATED = 1 };

struct store_added {
	uint8_t hash[HASH_BYTES];
	int codec;
};

struct store {
	char root[3072];	/* STATE/store; short enough for any path below */
	int lock_fd;
	pthread_mutex_t mu;	/* guards added[] */
	struct store_added *added;	/* chunks this process created */
	size_t nadded, capadded;
};

struct store_version {
	unsigned version;
	int state;		/* enum store_vstate */
	long long created;	/* unix seconds */
};

struct store_image {
	char name[STORE_NAME_MAX + 1];
	struct store_version *v;	/* ascending versions */
	size_t nv;
	unsigned current;		/* 0: none */
	unsigned *history;		/* earlier currents, oldest first */
	size_t nhist;
	unsigned next;			/* next version number */
};

/* STATE: the --state value, else $PIPOL_STATE, else /var/lib/pipol. */
const char *store_state_dir(const char *opt);
/* Creates the layout when missing; how is STORE_SHARED, _EXCLUSIVE or
 * _SHARED_NOWAIT. */
int store_open(const char *state_dir, int how, struct store **out,
    struct perr *e);
void store_close(struct store *s);

/* chunks (store_chunks.c); safe from any thread */
void store_chunk_path(const struct store *s, int codec,
    const uint8_t h[HASH_BYTES], char *buf, size_t len);
/* 0 and *size when present, -PE_NOTFOUND when not. */
int store_chunk_size(const struct store *s, int codec,
    const uint8_t h[HASH_BYTES], uint64_t *size);
/* Durable: temp, fdatasync, then linked with no-replace semantics.
 * A chunk already there (before, or from a concurrent writer) is
 * checked: kept when good (*added 0), else moved to quarantine and
 * replaced atomically. buf must be the chunk h (the caller checked). */
int store_chunk_put(struct store *s, int codec, const uint8_t h[HASH_BYTES],
    const void *buf, size_t len, int *added, struct perr *e);
/* Does the stored chunk decode to bytes of SHA-256 h? 1 yes, 0 no (or
 * absent, unreadable). Reads and decodes the whole chunk. */
int store_chunk_good(const struct store *s, int codec,
    const uint8_t h[HASH_BYTES]);
/* Read exactly len bytes of a chunk. */
int store_chunk_read(const struct store *s, int codec,
    const uint8_t h[HASH_BYTES], void *buf, size_t len, struct perr *e);
/* After a failed command: unlink the chunks it added, when no other
 * command holds the store (else gc will). Drops the store lock. */
void store_undo_added(struct store *s);
/* Drops every chunk and leftover no version uses; needs STORE_EXCLUSIVE. */
int store_gc(struct store *s, uint64_t *chunks, uint64_t *bytes,
    struct perr *e);

/* images and versions (store_versions.c) */
int store_name_check(const char *name, struct perr *e);
/* "NAME" or "NAME:VERSION"; *version = 0 when absent. */
int store_ref_parse(const char *ref, char name[STORE_NAME_MAX + 1],
    unsigned *version, struct perr *e);
int store_image_get(struct store *s, const char *name,
    struct store_image *img, struct perr *e);
void store_image_clear(struct store_image *img);
struct store_version *store_image_find(const struct store_image *img,
    unsigned version);
/* version 0 -> current, else newest; fills *version. */
int store_resolve(struct store *s, const char *name, unsigned *version,
    struct perr *e);
int store_list(struct store *s, char ***names, size_t *n, struct perr *e);
void store_list_free(char **names, size_t n);
/* New draft holding ix; *version gets its number. */
int store_commit(struct store *s, const char *name,
    const struct pimg_index *ix, unsigned *version, struct perr *e);
int store_load(struct store *s, const char *name, unsigned version,
    struct pimg_index **ix, struct perr *e);
/* Marks the version validated, after collecting its packages
 * (store_packages_collect: a failure there does not stop it). */
int store_validate(struct store *s, const char *name, unsigned version,
    struct perr *e);
/* packages.c: the installed packages (dpkg) of the version's disk, as
 * "NAME VERSION ARCH" lines in its .packages file (*count of them);
 * and that file read (-PE_NOTFOUND: never collected). */
int store_packages_collect(struct store *s, const char *name,
    unsigned version, size_t *count, struct perr *e);
int store_packages_read(struct store *s, const char *name, unsigned version,
    char **text, size_t *len, struct perr *e);
/* Version from's packages against version to's (both collected):
 * how many newer, older, added, gone, the same, and the first names of
 * each (" NAME OLD->NEW" or " NAME", cut where the buffer ends). */
struct pkg_diff {
	unsigned	newer, older, added, gone, same;
	char		newer_names[256], older_names[128];
	char		added_names[128], gone_names[128];
};
int store_packages_diff(struct store *s, const char *name, unsigned from,
    unsigned to, struct pkg_diff *d, struct perr *e);
/* store_bases.c: a validated version's raw disk as a read-only base
 * file, STORE/bases/DISKHASH.raw, made on first use (*made 1) and
 * shared by versions of the same disk (path: PATH_MAX); and a base read
 * again and compared with its index, chunk by chunk (-PE_DATA). */
void store_base_path(const struct store *s, const struct pimg_index *ix,
    char *buf, size_t len);
int store_base_get(struct store *s, const char *name, unsigned version,
    char *path, size_t len, int *made, struct perr *e);
int store_base_check(const char *path, const struct pimg_index *ix,
    struct perr *e);
/* Debian's order of two version strings (deb-version(7)): <0, 0, >0 */
int pkg_version_cmp(const char *a, const char *b);
int store_promote(struct store *s, const char *name, unsigned version,
    struct perr *e);
/* current <- the newest earlier current still present; *now gets it. */
int store_rollback(struct store *s, const char *name, unsigned *now,
    struct perr *e);
int store_rm(struct store *s, const char *name, unsigned version,
    struct perr *e);
int store_copy(struct store *s, const char *name, unsigned version,
    const char *newname, unsigned *newversion, struct perr *e);
const char *store_vstate_name(int state);

#endif
