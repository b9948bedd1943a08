/*
 * image_info.h -- what "pipol image list" and "show" print, as JSON,
 * built from the store in one place (image_info.c): the command line
 * prints it whether it read the store itself or asked pipold (GET
 * /api/images), so both paths say the same. Reads only; never prints.
 */
#ifndef IMAGE_INFO_H
#define IMAGE_INFO_H

#include <jansson.h>

#include "store.h"

struct perr;

/* Who looks: an admin sees every version; a user only what a user may
 * deploy (api_deploy.c): validated versions, and images having one. */
enum { IMAGE_INFO_ALL = 0, IMAGE_INFO_DEPLOYABLE = 1 };

/*
 * {"images": [{"name", "current", "versions": [{"version", "state",
 * "validated", "codec", "disk_size", "created"}]}], "errors": [...]}.
 * state is current, previous, validated or draft; a refs or index file
 * that cannot be read is one line in errors, the rest is still listed.
 * *out is the caller's.
 */
int image_info_list(struct store *s, int view, json_t **out,
    struct perr *e);

/*
 * One version of NAME: version 0 is the current one, else the newest
 * (a user: the newest validated); sizes, chunk counts, stored bytes,
 * chunks shared with the next lower version, disk hash, meta, and
 * "versions" (without sizes). What a user may not deploy is -PE_NOTFOUND
 * with the message a missing image or version has.
 */
int image_info_show(struct store *s, const char *name, unsigned version,
    int view, json_t **out, struct perr *e);

/*
 * The packages of one version (picked as show picks it, with the same
 * refusals), as read when it was validated (packages.c): {"image",
 * "version", "collected": true|false, "packages": [[NAME, VERSION,
 * ARCH]...]}, only those whose name contains match (NULL: all).
 */
int image_info_packages(struct store *s, const char *name, unsigned version,
    int view, const char *match, json_t **out, struct perr *e);

#endif
