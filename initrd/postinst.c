/*
 * postinst.c -- post-install: the written, verified disk becomes the
 * user's system. With its root filesystem mounted at p->root (mount.c
 * on a node; a folder for "pipol-agent postinstall", postinst_cmd.c):
 *
 *   1. configuration (postinst_config.c), in a child chrooted into the
 *      deployed root (chroot.c);
 *   2. the order's scripts whose NAME.FILTER matches the image's name
 *      (script_matches): the site's post-install scripts, in name
 *      order, each run as root in the system in chroot.c's sandbox
 *      (its own PID and mount namespaces, a fresh /proc, /sys, /dev,
 *      the deployment environment's resolver), environment
 *      PIPOL_IMAGE, PIPOL_NODE, PIPOL_USER, PATH, HOME; the output
 *      handed to p->log. A script that exits non-zero, is killed, or
 *      runs past p->timeout_sec fails the deployment, named with its
 *      status, and no later one runs;
 *   3. the phase (p->phase, node.c): the boot token, which opens the
 *      order, is traded for a user-phase one; the site's script bodies
 *      are wiped from the order;
 *   4. the user's rc scripts, the same way;
 *   5. the first-boot hook with the user-phase token: written last, so
 *      that no token lies in the system while the user's scripts run.
 *
 * This file decides what runs and words the failures; it edits no file
 * of the system and mounts nothing itself.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chroot.h"
#include "limits.h"
#include "log.h"
#include "parse.h"
#include "postinst.h"

/* The script's body from the order's base64. */
static unsigned char *
script_body(json_t *s, size_t *len)
{
	const char *b64 = json_string_value(json_object_get(s, "body"));
	unsigned char *raw;
	size_t n;
	int got;

	if (b64 == NULL || (n = strlen(b64)) % 4 != 0 ||
	    (raw = malloc(n / 4 * 3 + 1)) == NULL)
		return NULL;
	if ((got = EVP_DecodeBlock(raw, (const unsigned char *)b64,
	    (int)n)) < 0) {
		free(raw);
		return NULL;
	}
	while (n > 0 && b64[n - 1] == '=') {	/* counted in by OpenSSL */
		n--;
		got--;
	}
	*len = (size_t)got;
	return raw;
}

/* What a script finds in its environment, and nothing else. */
static void
script_env(const struct postinst *p, char env[6][320], char *envp[7])
{
	int i;

	snprintf(env[0], 320, "PATH=/usr/local/sbin:/usr/local/bin:"
	    "/usr/sbin:/usr/bin:/sbin:/bin");
	snprintf(env[1], 320, "HOME=/root");
	snprintf(env[2], 320, "PIPOL_IMAGE=%s", p->image);
	snprintf(env[3], 320, "PIPOL_NODE=%s", json_string_value(
	    json_object_get(p->order, "node")) ?: "");
	snprintf(env[4], 320, "PIPOL_USER=%s", json_string_value(
	    json_object_get(p->order, "user")) ?: "");
	snprintf(env[5], 320, "LANG=C.UTF-8");
	for (i = 0; i < 6; i++)
		envp[i] = env[i];
	envp[6] = NULL;
}

/* chroot_call's shape */
static int
configure(const void *arg, struct perr *e)
{
	return postinst_configure(arg, e);
}

static int
ready_hook(const void *arg, struct perr *e)
{
	return postinst_ready_hook(arg, e);
}

/* The site's script bodies leave the agent's memory once they ran. */
static void
site_wipe(json_t *order)
{
	json_t *s, *b;
	size_t i;

	json_array_foreach(json_object_get(order, "scripts"), i, s) {
		if (!json_is_string(json_object_get(s, "kind")) || strcmp(
		    json_string_value(json_object_get(s, "kind")), "rc") == 0)
			continue;
		if ((b = json_object_get(s, "body")) != NULL &&
		    json_is_string(b))
			explicit_bzero((char *)(uintptr_t)json_string_value(b),
			    json_string_length(b));
		json_object_del(s, "body");
	}
}

/* The order's scripts of one side: the site's (site) or the user's. */
static int
run_scripts(const struct postinst *p, int site, struct perr *e)
{
	json_t *s;
	size_t i, len, outlen;
	unsigned char *body;
	const char *name, *kind;
	char *out;
	char envs[6][320], *envp[7];
	int st, rc = 0;

	script_env(p, envs, envp);
	if ((out = malloc(AGENT_SCRIPT_OUTPUT_MAX + 1)) == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	json_array_foreach(json_object_get(p->order, "scripts"), i, s) {
		name = json_string_value(json_object_get(s, "name"));
		kind = json_string_value(json_object_get(s, "kind"));
		if (name == NULL || kind == NULL || strchr(name, '/') ||
		    *name == '.' || strlen(name) > 64) {
			rc = perr_set(e, PE_DATA, "order: a script without a "
			    "proper name");
			break;
		}
		if ((strcmp(kind, "rc") != 0) != site)
			continue;
		if (!script_matches(name, p->image)) {
			log_debug("%s %s: not for %s", kind, name, p->image);
			continue;
		}
		if ((body = script_body(s, &len)) == NULL) {
			rc = perr_set(e, PE_DATA, "order: %s %s: its body is "
			    "not base64", kind, name);
			break;
		}
		log_debug("post-install: running %s %s", kind, name);
		st = chroot_script(p->root, name, body, len, envp,
		    p->timeout_sec, out, &outlen, e);
		explicit_bzero(body, len);
		free(body);
		if (st == CHROOT_NOT_STARTED) {
			rc = -e->code;
			break;
		}
		out[outlen] = '\0';
		if (p->log != NULL)
			p->log(p->arg, name, st, out, site);
		if (st == 0)
			continue;
		rc = st == -1 ? perr_set(e, PE_FAIL, "post-install: %s %s: "
		    "still running after %d s, killed", kind, name,
		    p->timeout_sec) : st > 128 ? perr_set(e, PE_FAIL,
		    "post-install: %s %s: killed by signal %d", kind, name,
		    st - 128) : perr_set(e, PE_FAIL, "post-install: %s %s: "
		    "exit status %d", kind, name, st);
		break;
	}
	explicit_bzero(out, AGENT_SCRIPT_OUTPUT_MAX + 1);
	free(out);
	return rc;
}

int
postinst_run(const struct postinst *p, struct perr *e)
{
	int rc;

	log_debug("post-install of %s in %s", p->image, p->root);
	if ((rc = chroot_call(p->root, configure, p, e)) < 0 ||
	    (rc = run_scripts(p, 1, e)) < 0)
		return rc;
	site_wipe(p->order);
	if ((p->phase != NULL && (rc = p->phase(p->arg, e)) < 0) ||
	    (rc = run_scripts(p, 0, e)) < 0 ||
	    (rc = chroot_call(p->root, ready_hook, p, e)) < 0)
		return rc;
	sync();
	return 0;
}

