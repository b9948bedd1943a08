/*
 * kernel_upload.h -- the deployed system's kernel, initrds and command
 * line, found in its mounted root (kernel_find.c) and uploaded to
 * pipold (kernel_upload.c; docs/protocol.md, "The deployed kernel"),
 * so that a netboot-only node boots it from the network.
 */
#ifndef AGENT_KERNEL_UPLOAD_H
#define AGENT_KERNEL_UPLOAD_H

#include <jansson.h>
#include <stddef.h>

#include "perr.h"

#define KUP_PIECE	(8u << 20)	/* one PUT: pipold's NETBOOT_PIECE_MAX */
#define KUP_KERNEL_MAX	(64ull << 20)
#define KUP_INITRD_MAX	(512ull << 20)	/* the initrds, back to back */

/*
 * After post-install, the root still mounted at root: find its kernel
 * (root=UUID= the UUID of the filesystem on dev; dev NULL: as
 * kernel_find says) and upload it to server with token (the agent's,
 * in its current phase); called for netboot-only nodes only. No kernel
 * found: -PE_DATA with e naming what was searched; an upload refused:
 * -code with e.
 */
int kernel_upload(const char *server, const char *token, const char *root,
    const char *dev, struct perr *e);

#endif
