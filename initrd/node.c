/*
 * node.c -- node mode: what the initramfs runs. pipol.server= and
 * pipol.token= come from the kernel command line; the token is this
 * deployment's, and opens only its order, progress and result:
 *
 *   GET  SERVER/agent/order     what to write (retried while pipold is
 *                               away, up to --timeout)
 *   the deployment itself       deploy.c's deploy_run, chunks from the
 *                               store paths of the same server
 *   POST SERVER/agent/progress  once a second (the run's on_progress
 *                               callback), best effort
 *   post-install                unless bare: mount.c mounts the root
 *                               partition, postinst.c customises it,
 *                               POST SERVER/agent/log per script (the
 *                               site's flagged), POST SERVER/agent/phase
 *                               between the site's scripts and the
 *                               user's; then the UEFI BootOrder
 *                               (efiboot.c), on mac-efi32 nodes
 *                               Apple's efi-boot-device (apple_nvram.c);
 *                               the deployed kernel to pipold
 *                               (kernel_upload.c)
 *   POST SERVER/agent/result    rebooting or failed with the reason,
 *                               retried until pipold has it
 *
 * An order of kind capture reads the disk into a new draft instead
 * (capture.c) and ends ready; one of kind wipe wipes it (wipe.c) and
 * ends ready. The exit status is the deployment's; /init
 * reboots on 0 and keeps a rescue shell otherwise. Every request is
 * made and judged by http.c.
 */
#include <sys/random.h>
#include <sys/stat.h>
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apple_nvram.h"
#include "bootnic.h"
#include "capture.h"
#include "cmd.h"
#include "cmdline.h"
#include "deploy.h"
#include "efiboot.h"
#include "hash.h"
#include "http.h"
#include "kernel_upload.h"
#include "kexec.h"
#include "log.h"
#include "mount.h"
#include "node.h"
#include "parse.h"
#include "postinst.h"
#include "wipe.h"

struct node {
	char server[512];	/* no trailing '/' */
	char token[65];		/* never printed */
	struct http_away away;	/* pipold's absence */
	CURL *h;		/* the main thread's handle */
	CURL *progress;		/* the report thread's own handle */
	char err[CURL_ERROR_SIZE], progress_err[CURL_ERROR_SIZE];
};

static int node_main(const struct cmd *, const struct cmd_args *);

/* The command line: options, usage and --help (cmd.h); the name is the
 * program's, as node mode has no command word */
enum { O_CMDLINE, O_TARGET, O_CONNECTIONS, O_THREADS, O_RESUME_FILE,
    O_MAX_RATE, O_TIMEOUT, O_VERBOSE, O_END };

static const struct cmd_opt node_opts[] = {
	[O_CMDLINE] = { "cmdline", 0, CMD_VALUE, "FILE",
	    "read FILE instead of /proc/cmdline" },
	[O_TARGET] = { "target", 0, CMD_VALUE, "PATH",
	    "write there instead of the order's disk (else the\n"
	    "first of /dev/vda, /dev/sda, /dev/nvme0n1, /dev/xvda)" },
	[O_CONNECTIONS] = { "connections", 0, CMD_VALUE, "N",
	    "parallel HTTP connections (default 4)" },
	[O_THREADS] = { "threads", 0, CMD_VALUE, "N",
	    "decode/verify/write workers (default: cores + 1)" },
	[O_RESUME_FILE] = { "resume-file", 0, CMD_VALUE, "FILE",
	    "record durable chunks there; a run with the same\n"
	    "FILE continues after a cut (removed on success)" },
	[O_MAX_RATE] = { "max-rate", 0, CMD_VALUE, "BYTES",
	    "cap the download at BYTES per second (e.g. 50M)" },
	[O_TIMEOUT] = { "timeout", 0, CMD_VALUE, "SEC",
	    "give up when pipold has been unreachable for SEC\n"
	    "seconds (default 120)" },
	[O_VERBOSE] = { "verbose", 0, CMD_FLAG, NULL, "say more" },
	[O_END] = CMD_OPT_END
};

const struct cmd node_cmd = { "pipol-agent", node_main,
    "[--cmdline FILE] [--target PATH] [--connections N]\n"
    "           [--threads N] [--resume-file FILE] [--max-rate BYTES]\n"
    "           [--timeout SEC] [--verbose]",
    "Node mode, as the deployment environment runs it: read pipol.server= and\n"
    "pipol.token= from the kernel command line, fetch this node's order from\n"
    "pipold, write the image, report progress each second and the result.\n\n"
    "Exit status: 0 deployed and reported, else as 'pipol-agent deploy'\n"
    "(4: the token opens no deployment)",
    node_opts, 0, 0, NULL };

/*
 * One request to pipold on h: a body is POSTed when given, *out gets
 * the JSON answer when wanted. With retry, sent until it has a final
 * answer (http.c's table); else once, best effort. 0 or -code by the
 * table, with the last attempt in c.
 */
static int
call(struct node *n, CURL *h, char *err, const char *path, json_t *body,
    int retry, struct http_call *c, json_t **out)
{
	struct http_body b = { .max = AGENT_ORDER_MAX };
	struct curl_slist *hdr;
	char url[700], *text = NULL;
	int rc;

	memset(c, 0, sizeof(*c));
	c->h = h;
	c->err = err;
	c->away = &n->away;
	c->body = &b;
	snprintf(url, sizeof(url), "%s%s", n->server, path);
	if ((hdr = http_headers(n->token, body ? "application/json" :
	    NULL)) == NULL)
		return -PE_FAIL;
	if (body != NULL)
		text = json_dumps(body, JSON_COMPACT);
	http_set_request(h, body ? "POST" : NULL, url, text ? text : "{}",
	    text ? strlen(text) : 2, hdr);
	http_set_body(h, &b);
	if (retry) {
		rc = http_call_run(c);
	} else {
		http_call_once(c);
		rc = c->res == CURLE_OK && c->status / 100 == 2 ? 0 :
		    -PE_UNAVAIL;
	}
	if (out != NULL)
		*out = rc == 0 && b.p ? json_loads(b.p, 0, NULL) : NULL;
	curl_slist_free_all(hdr);
	free(text);
	http_body_free(&b);
	return rc;
}

/*
 * A call that must get through: retried as http.c's table says (no
 * answer, 408, 429, 5xx while pipold has been away less than --timeout).
 * 0 and *out (when asked), or -code with e naming the call.
 */
static int
call_until(struct node *n, const char *path, json_t *body, json_t **out,
    struct perr *e)
{
	struct http_call c;
	char why[CURL_ERROR_SIZE + 32];
	int rc;

	rc = call(n, n->h, n->err, path, body, 1, &c, out);
	http_call_why(&c, why, sizeof(why));
	if (rc == -PE_DENIED)
		return perr_set(e, PE_DENIED, "%s%s: HTTP %ld: this token "
		    "opens no deployment in flight", n->server, path,
		    c.status);
	if (rc == -PE_UNAVAIL)
		return perr_set(e, PE_UNAVAIL, "%s%s: unreachable for %.0f s "
		    "(%u attempts): %s", n->server, path, c.away_sec,
		    c.attempts, why);
	if (rc < 0)
		return perr_set(e, -rc, "%s%s: %s", n->server, path, why);
	if (out != NULL && *out == NULL)
		return perr_set(e, PE_DATA, "%s%s: not a JSON answer",
		    n->server, path);
	return 0;
}

/* The run's on_progress, from the report thread once a second: best
 * effort, never waits more than AGENT_PROGRESS_MS; a lost report is the
 * next one. Its own handle: the main thread may be in a call. */
static void
node_progress(void *arg, const struct deploy_progress *p)
{
	struct node *n = arg;
	struct http_call c;
	json_t *o;

	if (n->progress == NULL) {
		if ((n->progress = http_easy_new(n->progress_err)) == NULL)
			return;
		http_set_timeout_ms(n->progress, AGENT_PROGRESS_MS);
	}
	o = json_pack("{s:s, s:I, s:I, s:I}", "state", p->state, "fetched",
	    (json_int_t)p->fetched, "written", (json_int_t)p->settled,
	    "total", (json_int_t)p->total);
	if (call(n, n->progress, n->progress_err, "/agent/progress", o, 0,
	    &c, NULL) < 0)
		log_debug("progress report lost (HTTP %ld)", c.status);
	json_decref(o);
}

/* The order's disk, else the first disk this machine has. */
static const char *
pick_target(const char *given, json_t *order)
{
	static const char *const disks[] = { "/dev/vda", "/dev/sda",
	    "/dev/nvme0n1", "/dev/xvda", NULL };
	const char *d = json_string_value(json_object_get(order, "disk"));
	struct stat st;
	int i;

	if (given != NULL)
		return given;
	if (d != NULL && *d != '\0')
		return d;
	for (i = 0; disks[i] != NULL; i++)
		if (stat(disks[i], &st) == 0 && S_ISBLK(st.st_mode))
			return disks[i];
	return NULL;
}

/* A meta value of the image's index ("key=value" lines), or "" */
static void
meta_get(const char *meta, const char *key, char *out, size_t len)
{
	size_t k = strlen(key);
	const char *p, *end;

	*out = '\0';
	for (p = meta; p != NULL && *p; p = end ? end + 1 : NULL) {
		end = strchr(p, '\n');
		if (strncmp(p, key, k) == 0 && p[k] == '=') {
			snprintf(out, len, "%.*s", (int)((end ? end :
			    p + strlen(p)) - p - k - 1), p + k + 1);
			return;
		}
	}
}

/* post-install's script runs go to pipold's log of the deployment; the
 * site's scripts' to the admins' only */
static void
node_log(void *arg, const char *script, int status, const char *out,
    int site)
{
	struct node *n = arg;
	json_t *o, *ack = NULL;
	struct perr e;

	log_info("post-install: %s: exit %d", script, status);
	o = json_pack("{s:s, s:i, s:s, s:b}", "script", script, "status",
	    status, "output", out, "site", site);
	if (o == NULL)		/* not UTF-8: the output is the issue */
		o = json_pack("{s:s, s:i, s:s, s:b}", "script", script,
		    "status", status, "output", "(output not UTF-8: not kept)",
		    "site", site);
	if (call_until(n, "/agent/log", o, &ack, &e) < 0)
		log_warnx("log of %s not kept: %s", script, e.msg);
	json_decref(o);
	json_decref(ack);
}

/*
 * Between the site's scripts and the user's: the boot token (it opens
 * the order, the site's scripts with it) traded for one of the user
 * phase, 256 bits of our own getrandom (POST /agent/phase); the boot
 * token is wiped and dies at pipold. The user's scripts run in a
 * sandbox that cannot reach this process; the new token goes into the
 * first-boot hook after them.
 */
static int
node_phase(void *arg, struct perr *e)
{
	struct node *n = arg;
	uint8_t raw[32];
	char hex[HASH_HEX], old[sizeof(n->token)];
	json_t *o, *ack = NULL;
	ssize_t got;
	int rc;

	do
		got = getrandom(raw, sizeof(raw), 0);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof(raw))
		return perr_errno(e, PE_FAIL, "getrandom");
	hash_hex(raw, hex);
	explicit_bzero(raw, sizeof(raw));
	if ((o = json_pack("{s:s, s:s}", "phase", "user", "token", hex)) ==
	    NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	rc = call_until(n, "/agent/phase", o, &ack, e);
	if (rc == -PE_DENIED) {
		/* the boot token dead: the trade may have been made and its
		 * answer lost; pipold answers it again to the new token */
		memcpy(old, n->token, sizeof(old));
		memcpy(n->token, hex, sizeof(n->token));
		json_decref(ack);
		ack = NULL;
		if ((rc = call_until(n, "/agent/phase", o, &ack, e)) < 0)
			memcpy(n->token, old, sizeof(n->token));
		else
			log_info("post-install: the phase's answer was lost; "
			    "pipold confirmed it to the new token");
		explicit_bzero(old, sizeof(old));
	}
	explicit_bzero((char *)(uintptr_t)json_string_value(json_object_get(
	    o, "token")), 64);
	json_decref(o);
	json_decref(ack);
	if (rc == 0) {
		explicit_bzero(n->token, sizeof(n->token));
		memcpy(n->token, hex, sizeof(n->token));
		log_info("post-install: the user phase begins (boot token "
		    "traded)");
	}
	explicit_bzero(hex, sizeof(hex));
	return rc;
}

/* kexec.c's mark, just before the jump: the hand-over in pipold's
 * timeline (POST /agent/phase, schema 013), once, best effort -- the
 * jump waits AGENT_PROGRESS_MS for pipold at most; nothing follows on
 * this handle */
static void
node_handover(void *arg)
{
	struct node *n = arg;
	struct http_call c;
	json_t *o;

	o = json_pack("{s:s, s:s}", "phase", "handover", "method", "kexec");
	http_set_timeout_ms(n->h, AGENT_PROGRESS_MS);
	if (call(n, n->h, n->err, "/agent/phase", o, 0, &c, NULL) < 0)
		log_warnx("kexec: the hand-over not told to pipold (HTTP %ld)",
		    c.status);
	json_decref(o);
}

int
node_postinst_agent(struct postinst *p, const char *server,
    const char *token, struct perr *e)
{
	struct node n = { .progress = NULL };
	int rc;

	snprintf(n.server, sizeof(n.server), "%s", server);
	while (strlen(n.server) > 0 && n.server[strlen(n.server) - 1] == '/')
		n.server[strlen(n.server) - 1] = '\0';
	snprintf(n.token, sizeof(n.token), "%s", token);
	http_away_init(&n.away, AGENT_UNREACHABLE_SEC);
	if ((rc = http_global_init(e)) == 0 &&
	    (n.h = http_easy_new(n.err)) == NULL)
		rc = perr_set(e, PE_FAIL, "libcurl: out of memory");
	if (rc == 0) {
		p->server = n.server;
		p->token = n.token;
		p->log = node_log;
		p->phase = node_phase;
		p->arg = &n;
		rc = postinst_run(p, e);
		/* a netboot-only order: its kernel too, as node mode */
		if (rc == 0 && strcmp(json_string_value(json_object_get(
		    p->order, "profile")) ?: "", "netboot-only") == 0)
			rc = kernel_upload(n.server, n.token, p->root,
			    NULL, e);
	}
	http_easy_free(n.h);
	http_away_destroy(&n.away);
	explicit_bzero(n.token, sizeof(n.token));
	p->token = NULL;
	p->server = NULL;
	return rc;
}

/*
 * On a UEFI machine, after the post-install (whose scripts may have run
 * grub-install or efibootmgr): the network first in BootOrder, so that
 * the next boot still asks pipold. A BIOS machine has nothing to do.
 */
static int
node_efi(struct node *n, struct perr *e)
{
	struct efi_bootorder *bo;
	char msg[200];
	int rc;

	if (access("/sys/firmware/efi", F_OK) < 0)
		return 0;
	if ((rc = efi_vars_mount(e)) < 0)
		return rc;
	if ((bo = calloc(1, sizeof(*bo))) == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	if ((rc = efi_bootorder_plan(EFI_VARS_DIR, bo, e)) == 0 &&
	    (rc = efi_bootorder_write(EFI_VARS_DIR, bo, e)) == 0) {
		snprintf(msg, sizeof(msg), "%s\n", !bo->present ? "no UEFI "
		    "BootOrder: left as it is" : bo->nnet == 0 ? "no network "
		    "boot entry in BootOrder: this node will boot its disk "
		    "without asking pipold" : bo->changed ? "BootOrder: the "
		    "network put first again" : "BootOrder: the network is "
		    "first");
		log_info("%s", msg);
		if (bo->changed || bo->nnet == 0)
			node_log(n, "(uefi)", 0, msg, 0);
	}
	free(bo);
	return rc;
}

/*
 * On a mac-efi32 node, after BootOrder: Apple's efi-boot-device set to
 * a PXE boot from the card pipold is reached through, as "bless
 * --netboot" sets it (apple_nvram.c). A real Mac's firmware follows
 * that variable, OVMF follows BootOrder: both are written. A card that
 * cannot be found is reported, not fatal (BootOrder may still bring
 * the node back); a variable that cannot be written fails the step.
 */
static int
node_apple(struct node *n, struct perr *e)
{
	char xml[APPLE_XML_MAX + 1], ifname[IF_NAMESIZE], msg[400];
	uint8_t mac[6];
	struct perr ne;
	int rc;

	if (access("/sys/firmware/efi", F_OK) < 0)
		return 0;
	if (bootnic_find(n->server, mac, ifname, &ne) < 0 ||
	    apple_netboot_xml(mac, NULL, xml, sizeof(xml), &ne) < 0) {
		snprintf(msg, sizeof(msg), "efi-boot-device not written: %s: "
		    "a Mac may boot its disk without asking pipold\n", ne.msg);
		log_warnx("%s", msg);
		node_log(n, "(mac-efi32)", 0, msg, 0);
		return 0;
	}
	if ((rc = apple_nvram_write(EFI_VARS_DIR, xml, e)) < 0)
		return rc;
	snprintf(msg, sizeof(msg), "efi-boot-device: PXE from %s "
	    "(%02x:%02x:%02x:%02x:%02x:%02x), as bless --netboot sets it\n",
	    ifname, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	log_info("%s", msg);
	node_log(n, "(mac-efi32)", 0, msg, 0);
	return 0;
}

/*
 * After the disk is written and verified: unless the deployment is bare
 * or the image names no root partition (meta root=N), mount it
 * (mount.c) and run the post-install (postinst.c), then the UEFI
 * BootOrder (and on mac-efi32 nodes Apple's efi-boot-device);
 * unmounted and synced in any case.
 */
static int
node_postinst(struct node *n, struct deploy *d, json_t *order,
    struct perr *e)
{
	const char *dir = "/run/pipol/root";
	char root[16], fstype[16], part[80], msg[200];
	struct postinst p = { .root = dir, .order = order, .server =
	    n->server, .token = n->token, .timeout_sec = AGENT_SCRIPT_SEC,
	    .log = node_log, .phase = node_phase, .arg = n };
	struct perr ue;
	struct stat st;
	int rc;

	if (json_is_true(json_object_get(order, "bare")))
		return 0;
	meta_get(d->ix->meta, "root", root, sizeof(root));
	meta_get(d->ix->meta, "fstype", fstype, sizeof(fstype));
	if (*root == '\0' || strspn(root, "0123456789") != strlen(root) ||
	    strlen(root) > 3) {
		snprintf(msg, sizeof(msg), "%s:%u names no root partition "
		    "(image metadata root=N): no post-install, the disk is "
		    "as the image is\n", d->name, d->version);
		log_warnx("%s", msg);
		node_log(n, "(post-install)", 0, msg, 0);
		return 0;
	}
	if (stat(d->target, &st) < 0 || !S_ISBLK(st.st_mode))
		return perr_set(e, PE_FAIL, "post-install: %s is not a disk: "
		    "cannot mount partition %s of it", d->target, root);
	deploy_progress_send(d, "postinstall");
	if ((rc = mount_root(d->target, root, fstype, dir, part, sizeof(part),
	    e)) < 0)
		return rc;
	p.image = d->name;
	rc = postinst_run(&p, e);
	if (rc == 0)
		rc = node_efi(n, e);
	if (rc == 0 && strcmp(json_string_value(json_object_get(order,
	    "profile")) ?: "", "mac-efi32") == 0)
		rc = node_apple(n, e);
	/* netboot-only: the root still mounted, its kernel to pipold (a
	 * kexec reads it from the disk: other profiles send nothing) */
	if (rc == 0 && strcmp(json_string_value(json_object_get(order,
	    "profile")) ?: "", "netboot-only") == 0)
		rc = kernel_upload(n->server, n->token, dir, part, e);
	if (mount_root_undo(dir, &ue) < 0 && rc == 0) {
		*e = ue;
		rc = -ue.code;
	}
	if (rc == 0)
		log_info("post-install of %s done", part);
	return rc;
}

/* The order's "sources": the node's rack caches, asked for chunks before
 * pipold (fetch.c); one that is no http(s) URL is skipped, said once. */
static void
node_sources(struct deploy *d, json_t *srcs)
{
	const char *u;
	json_t *v;
	size_t i;

	d->nsrc = 0;
	json_array_foreach(srcs, i, v) {
		u = json_string_value(v);
		if (u == NULL || (strncmp(u, "http://", 7) != 0 &&
		    strncmp(u, "https://", 8) != 0) ||
		    d->nsrc == AGENT_SOURCES_MAX - 1) {
			log_warnx("the order's source %zu: not an http(s) "
			    "URL, or one too many: skipped", i);
			continue;
		}
		d->src[d->nsrc++] = u;
	}
	if (d->nsrc > 0)
		log_info("chunks from %d cache%s of this rack, then %s",
		    d->nsrc, d->nsrc == 1 ? "" : "s", d->base);
}

/* Write the image the order names; the order's disk hash must be the
 * index's, so a node never takes another image for its own. */
static int
node_deploy(struct node *n, struct deploy *d, json_t *order, struct perr *e)
{
	json_t *im = json_object_get(order, "image");
	const char *name = json_string_value(json_object_get(im, "name"));
	const char *want = json_string_value(json_object_get(im,
	    "disk_hash"));
	json_int_t v = json_integer_value(json_object_get(im, "version"));
	char got[HASH_HEX];
	int rc;

	if (name == NULL || strlen(name) > STORE_NAME_MAX || v < 1 ||
	    v > 0xffffffffLL || want == NULL) {
		rc = perr_set(e, PE_DATA, "%s/agent/order: no image in the "
		    "order", n->server);
		log_warnx("%s", e->msg);
		return rc;
	}
	if (d->target == NULL) {
		rc = perr_set(e, PE_FAIL, "no disk to write: the order names "
		    "none and none of /dev/vda, /dev/sda, /dev/nvme0n1, "
		    "/dev/xvda exists");
		log_warnx("%s", e->msg);
		return rc;
	}
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->version = (unsigned)v;
	d->base = n->server;
	node_sources(d, json_object_get(order, "sources"));
	/* vm (schema 024): a virtual node's disk is an overlay on the
	 * version's base, checked against its index when pipold made it:
	 * nothing to fetch or write, the post-install follows */
	d->preloaded = json_is_true(json_object_get(order, "preloaded"));
	if (d->preloaded)
		log_info("%s holds %s:%u already (a virtual node's disk on "
		    "its base): nothing written", d->target, name,
		    (unsigned)v);
	d->on_progress = node_progress;
	d->progress_arg = n;
	log_info("deploying %s:%u onto %s", d->name, d->version, d->target);
	rc = deploy_run(d, e);
	if (rc == 0) {
		hash_hex(d->ix->disk_hash, got);
		if (strcmp(got, want) != 0) {
			rc = perr_set(e, PE_DATA, "%s:%u: the index's disk "
			    "hash is not the order's", d->name, d->version);
			log_warnx("%s", e->msg);
		}
	}
	return rc;
}

/*
 * A capture order: this node's disk into a new draft of the order's
 * image, with the deployment's token (pipold accepts it for that image
 * only). The disk is read, never written; the node then boots it.
 */
static int
node_capture(struct node *n, const struct deploy *d, const char *source,
    json_t *order, struct perr *e)
{
	const char *name = json_string_value(json_object_get(
	    json_object_get(order, "image"), "name"));
	struct capture_opts o = { 0 };
	unsigned version;
	int rc;

	if (name == NULL || source == NULL) {
		rc = perr_set(e, name ? PE_FAIL : PE_DATA, "%s", name ?
		    "no disk to read: the order names none and none of "
		    "/dev/vda, /dev/sda, /dev/nvme0n1, /dev/xvda exists" :
		    "/agent/order: no image in the order");
		log_warnx("%s", e->msg);
		return rc;
	}
	o.server = n->server;
	o.token = n->token;
	o.name = name;
	o.source = source;
	o.threads = d->threads;
	o.connections = d->connections;
	o.timeout_sec = d->timeout_sec;
	log_info("capturing %s into a new draft of %s", source, name);
	if ((rc = capture_run(&o, &version, e)) < 0)
		log_warnx("%s", e->msg);
	else
		log_info("captured %s as %s:%u", source, name, version);
	return rc;
}

static int
node_main(const struct cmd *c, const struct cmd_args *a)
{
	const char *path = "/proc/cmdline", *target = cmd_str(a, O_TARGET);
	json_t *order = NULL, *res = NULL, *ack = NULL;
	struct agent_cmdline cl;
	struct node n = { .progress = NULL };
	const char *kind, *v;
	int capture = 0;
	struct deploy d;
	struct perr e, re;
	long long num;
	int rc = 0;

	(void)c;
	deploy_init(&d);
	if (cmd_str(a, O_CMDLINE) != NULL)
		path = cmd_str(a, O_CMDLINE);
	d.resume_path = cmd_str(a, O_RESUME_FILE);
	log_verbose |= cmd_count(a, O_VERBOSE) > 0;
	if ((v = cmd_str(a, O_CONNECTIONS)) != NULL &&
	    (rc = parse_count("--connections", v, 1, AGENT_CONNECTIONS_MAX,
	    &num, &e)) == 0)
		d.connections = (int)num;
	if (rc == 0 && (v = cmd_str(a, O_THREADS)) != NULL &&
	    (rc = parse_count("--threads", v, 1, AGENT_THREADS_MAX, &num,
	    &e)) == 0)
		d.threads = (int)num;
	if (rc == 0 && (v = cmd_str(a, O_TIMEOUT)) != NULL &&
	    (rc = parse_count("--timeout", v, 1, 86400, &num, &e)) == 0)
		d.timeout_sec = (int)num;
	if (rc == 0 && (v = cmd_str(a, O_MAX_RATE)) != NULL &&
	    (rc = parse_size(v, &d.max_rate, &e)) == 0 && d.max_rate == 0)
		rc = perr_set(&e, PE_USAGE, "--max-rate 0: not a rate");
	if (rc < 0) {
		log_warnx("%s", e.msg);
		return PE_USAGE;
	}
	if (cmdline_read(path, &cl, &e) < 0) {
		log_warnx("%s", e.msg);
		return e.code;
	}
	snprintf(n.server, sizeof(n.server), "%s", cl.server);
	while (strlen(n.server) > 0 && n.server[strlen(n.server) - 1] == '/')
		n.server[strlen(n.server) - 1] = '\0';
	snprintf(n.token, sizeof(n.token), "%s", cl.token);
	explicit_bzero(cl.token, sizeof(cl.token));
	http_away_init(&n.away, d.timeout_sec);
	if ((rc = http_global_init(&e)) == 0 &&
	    (n.h = http_easy_new(n.err)) == NULL)
		rc = perr_set(&e, PE_FAIL, "libcurl: out of memory");
	if (rc < 0 ||
	    (rc = call_until(&n, "/agent/order", NULL, &order, &e)) < 0) {
		log_warnx("%s", e.msg);
		goto out;
	}
	kind = json_string_value(json_object_get(order, "kind"));
	if (kind != NULL && strcmp(kind, "capture") == 0) {
		capture = 1;
		rc = node_capture(&n, &d, pick_target(target, order), order,
		    &e);
	} else if (kind != NULL && strcmp(kind, "wipe") == 0) {
		capture = 1;	/* ends ready too (wipe.c) */
		rc = wipe_order(pick_target(target, order), node_progress, &n,
		    &e);
	} else if (kind == NULL || strcmp(kind, "deploy") != 0) {
		rc = perr_set(&e, PE_DATA, "%s/agent/order: an order of a kind "
		    "this agent does not know", n.server);
		log_warnx("%s", e.msg);
	} else {
		d.target = pick_target(target, order);
		if ((rc = node_deploy(&n, &d, order, &e)) == 0 &&
		    (rc = node_postinst(&n, &d, order, &e)) < 0)
			log_warnx("%s", e.msg);
	}
	/* the last counts, then the result, which must reach pipold:
	 * retried while it is away */
	if (d.ix != NULL)
		deploy_progress_send(&d, NULL);
	res = rc == 0 ? json_pack("{s:s}", "state", capture ? "ready" :
	    "rebooting") :
	    json_pack("{s:s, s:s}", "state", "failed", "reason", e.msg);
	/* racks: where the chunks came from, kept with the deployment */
	if (res != NULL && d.ix != NULL && !capture)
		deploy_sources_json(&d, res);
	if (call_until(&n, "/agent/result", res, &ack, &re) < 0) {
		log_warnx("result not reported: %s", re.msg);
		if (rc == 0)
			rc = -re.code;
	}
	if (rc == 0 && !capture)	/* returns when there is no jump */
		kexec_node(order, d.ix->meta, d.target, node_handover, &n);
 out:
	http_easy_free(n.progress);
	http_easy_free(n.h);
	http_away_destroy(&n.away);
	explicit_bzero(n.token, sizeof(n.token));
	json_decref(order);
	json_decref(res);
	json_decref(ack);
	deploy_done(&d);
	return rc < 0 ? -rc : 0;
}
