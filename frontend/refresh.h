/*
 * refresh.h -- image refresh (pipol image refresh, schema 018): the
 * steps pipold takes itself, each turn of the job thread (jobs.c):
 * refresh_sync() (the steps that follow the job run and the capture
 * deployment), the capture of a refreshed node, the validation (and
 * promotion) of its draft with the chunk-sharing figure, and the weekly
 * schedules. Knows nothing of HTTP (api_refresh.c serves the routes).
 */
#ifndef REFRESH_H
#define REFRESH_H

struct pipold;
struct pg_conn;
struct perr;

#define REFRESH_EVERY_SEC	(7 * 86400)	/* --schedule weekly */
#define REFRESH_CMD_MAX		4096	/* an update or test command; the
					 * schema checks it too */

/* What a refresh does: image's current version, the commands run on
 * the node as root (sh -c), promote when every check passed. */
struct refresh_req {
	const char *image;
	const char *profile;	/* NULL: any node */
	const char *update;
	const char *test;
	int promote;
	int scheduled;
};

/* The default commands: apt-get or dnf; a smoke test as an
 * unprivileged user (docs/admin.md, Refresh). */
extern const char refresh_update_default[], refresh_test_default[];

/* A new refresh of r->image's current version for user uid (an admin);
 * its id in *id (room for 24), the version in *from. 0, or -code with e
 * (PE_NOTFOUND: no current version, PE_CONFLICT: one already runs). */
int refresh_new(struct pipold *pd, struct pg_conn *db, long long uid,
    const struct refresh_req *r, char *id, unsigned *from, struct perr *e);

/* One turn (the job thread): the refreshes moved on; logs failures. */
void refresh_turn(struct pipold *pd, struct pg_conn *db);

#endif
