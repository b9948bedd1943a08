/*
 * vm.c -- virtual nodes' disks (vm.h). A version's base is the store's
 * (store_bases.c: STORE/bases/DISKHASH.raw, read-only, checked against
 * the index when made); each deployment of a vm node gets a qcow2
 * overlay on it made by qemu-img, so that the node's disk use is its own
 * writes, and 8 nodes of one image hold one copy of it.
 */
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "perr.h"
#include "pimg.h"
#include "pipold.h"
#include "power.h"
#include "run.h"
#include "store.h"
#include "vm.h"

#define VM_IMG_MS	60000	/* one qemu-img create */

const char *
vm_accel_default(void)
{
	char line[4096];
	int cpu = 0, fd;
	FILE *f;

	if ((f = fopen("/proc/cpuinfo", "re")) != NULL) {
		while (!cpu && fgets(line, sizeof(line), f) != NULL)
			if (strncmp(line, "flags", 5) == 0 &&
			    (strstr(line, " vmx") || strstr(line, " svm")))
				cpu = 1;
		fclose(f);
	}
	if (!cpu || (fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0)
		return "tcg";
	close(fd);
	return "kvm";
}

/* The disk: an overlay on the base of name:version (1: preloaded), or
 * an empty one of its size (0), at least disk_mib MiB; -1 with e. */
static int
vm_disk(struct pipold *pd, const char *node, const char *name,
    unsigned version, long long disk_mib, struct perr *e)
{
	char tool[PATH_MAX], disk[PATH_MAX], tmp[PATH_MAX + 8];
	char base[PATH_MAX], size[32];
	struct pimg_index *ix = NULL;
	struct perr be;
	struct store *s;
	long long t0 = now_ms(), t1;
	unsigned long long bytes;
	int made = 0, have_base, rc;

	if (run_find("qemu-img", tool, sizeof(tool)) < 0)
		return perr_set(e, PE_UNAVAIL, "node %s: qemu-img is not "
		    "installed (qemu-utils)", node);
	if (power_vm_path(node, "qcow2", disk, sizeof(disk)) < 0)
		return perr_set(e, PE_FAIL, "node %s: no folder for virtual "
		    "nodes", node);
	snprintf(tmp, sizeof(tmp), "%s.new", disk);
	if ((rc = store_open(pd->state, STORE_SHARED, &s, e)) < 0)
		return rc;
	if ((rc = store_load(s, name, version, &ix, e)) < 0) {
		store_close(s);
		return rc;
	}
	have_base = store_base_get(s, name, version, base, sizeof(base),
	    &made, &be) == 0;
	t1 = now_ms();
	bytes = ix->disk_size;
	if ((unsigned long long)disk_mib << 20 > bytes)
		bytes = (unsigned long long)disk_mib << 20;
	pimg_index_free(ix);
	store_close(s);
	snprintf(size, sizeof(size), "%llu", bytes);
	unlink(tmp);
	if (have_base) {
		const char *argv[] = { tool, "create", "-q", "-f", "qcow2", "-F",
		    "raw", "-b", base, tmp, size, NULL };

		rc = power_vm_tool(node, argv, VM_IMG_MS, e);
	} else {
		const char *argv[] = { tool, "create", "-q", "-f", "qcow2", tmp,
		    size, NULL };

		log_info("vm: node %s: %s:%u has no base (%s): an empty disk "
		    "its agent writes", node, name, version, be.msg);
		rc = power_vm_tool(node, argv, VM_IMG_MS, e);
	}
	if (rc == 0 && rename(tmp, disk) < 0)
		rc = perr_errno(e, PE_FAIL, "node %s: %s", node, disk);
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	log_info("vm: node %s: disk of %s:%u: %s%s in %lld ms, overlay in "
	    "%lld ms", node, name, version, have_base ? "base " : "no base",
	    have_base ? (made ? "made" : "there") : "", t1 - t0, now_ms() - t1);
	return have_base;
}

void
vm_prepare(struct pipold *pd, PGconn *db, const char *node,
    const json_t *params)
{
	const char *p[2] = { node, NULL };
	char msg[POWER_MSG_MAX], dep[24], img[STORE_NAME_MAX + 1];
	unsigned version;
	struct perr e;
	PGresult *r;
	int pre;

	r = db_query(db, "SELECT d.id, d.image_name, d.image_version FROM "
	    "deployments d JOIN nodes n ON n.id = d.node_id WHERE n.name = $1 "
	    "AND d.kind = 'deploy' AND d.state = 'pending' ORDER BY d.id DESC "
	    "LIMIT 1", 1, p);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		PQclear(r);	/* a capture, a power on: the disk as it is */
		return;
	}
	snprintf(dep, sizeof(dep), "%s", PQgetvalue(r, 0, 0));
	snprintf(img, sizeof(img), "%s", PQgetvalue(r, 0, 1));
	version = (unsigned)strtoul(PQgetvalue(r, 0, 2), NULL, 10);
	PQclear(r);
	/* a queued end of the node's last reservation (its off, then its
	 * disk discarded) was dropped by the deployment (resv_end_deploy):
	 * the machine is stopped and the disk made anew here */
	if (power_vm_run(node, params, POWER_OFF, msg, sizeof(msg), &e) < 0)
		log_warnx("vm: node %s: %s", node, e.msg);
	pre = vm_disk(pd, node, img, version, atoll(json_string_value(
	    json_object_get(params, "disk")) ?: "0"), &e);
	if (pre < 0) {
		log_warnx("vm: deployment %s: %s", dep, e.msg);
		return;
	}
	p[0] = dep;
	p[1] = pre ? "t" : "f";
	r = db_query(db, "UPDATE deployments SET preloaded = $2 WHERE id = $1",
	    2, p);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		log_warnx("vm: deployment %s: %s", dep, PQresultErrorMessage(r));
	PQclear(r);
}

void
vm_discard(const char *node)
{
	static const char *const ext[] = { "qcow2", "qcow2.new", "qmp",
	    "serial", "pid", NULL };
	char path[PATH_MAX];
	int i, n = 0;

	for (i = 0; ext[i] != NULL; i++)
		if (power_vm_path(node, ext[i], path, sizeof(path)) == 0 &&
		    unlink(path) == 0)
			n++;
	if (n > 0)
		log_info("vm: node %s: its disk discarded", node);
}
