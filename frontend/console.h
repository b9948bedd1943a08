/*
 * console.h -- the nodes' serial consoles (console.c): one thread keeps
 * one reader per console (a QEMU node's serial chardev, the Unix socket
 * of its power param "serial"; an ipmi node's Serial-over-LAN through
 * "ipmitool sol activate" when its power param "sol" is "on"), appends what it says to the log of the
 * node's current deployment (STATE/console/ID.log, bounded), and
 * relays it to the clients attached through GET /api/nodes/NAME/console
 * (an HTTP upgrade), whose keys it writes to the node. Who may attach is
 * the route's business (api_console.c); this module cuts off a client
 * whose user no longer holds the node. Knows nothing of HTTP but the
 * upgraded socket it is given.
 */
#ifndef CONSOLE_H
#define CONSOLE_H

#include <microhttpd.h>
#include <stddef.h>

struct pipold;
struct perr;

#define CONSOLE_PROTOCOL	"pipol-console"	/* the Upgrade: token */
#define CONSOLE_NODES_MAX	1024	/* consoles read at once */
#define CONSOLE_CLIENTS_MAX	4	/* attached to one console at once */
#define CONSOLE_LOG_MAX		(4u << 20)	/* one deployment's log: a
				 * boot says ~100 KiB; a looping one stops
				 * here */
#define CONSOLE_IDLE_SEC	1800	/* nothing either way: detached */
#define CONSOLE_TYPE_RATE	1024	/* bytes a second a client may type
				 * (a paste of a few KiB goes through) */
#define CONSOLE_TYPE_BURST	8192
#define CONSOLE_OUT_MAX		65536	/* queued to a slow client, then it
				 * is detached (the log keeps all) */
#define CONSOLE_REFRESH_SEC	2	/* nodes, holders, deployments read
				 * again: a released holder is cut off
				 * within this */
#define CONSOLE_RETRY_SEC	2	/* a console not there: tried again */
#define CONSOLE_DAYS_DEFAULT	30	/* pipold --console-days */
#define CONSOLE_PRUNE_SEC	3600	/* logs looked over (and at start) */

int console_start(struct pipold *pd, struct perr *e);
void console_stop(void);

/* May one more client attach to node_id's console now (fewer than
 * CONSOLE_CLIENTS_MAX)? Thread-safe. */
int console_has_room(long long node_id);

/*
 * Hands an upgraded connection to the console thread: fd is the
 * client's socket, urh closes it (MHD_upgrade_action); extra are the
 * bytes the client sent after its request (keys). user and admin: the
 * caller, checked again each CONSOLE_REFRESH_SEC. ws: the client speaks
 * WebSocket (a browser): the console's bytes go in binary frames, its
 * keys come in frames (ws.h). Takes fd and urh, even on failure.
 * Thread-safe.
 */
void console_attach(long long node_id, long long user, int admin, int ws,
    const char *who, int fd, struct MHD_UpgradeResponseHandle *urh,
    const char *extra, size_t extra_len);

/*
 * A deployment may have started on a node: the consoles read their
 * nodes again before this returns (CONSOLE_NUDGE_MS at most), so that
 * the boot that follows is logged to it from its first byte. Called
 * before the deploy's power cycle. Thread-safe.
 */
#define CONSOLE_NUDGE_MS	1000
void console_nudge(void);

/* The path of deployment dep's console log under state (out: PATH_MAX). */
void console_log_path(const char *state, long long dep, char *out,
    size_t len);

#endif
