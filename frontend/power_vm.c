/*
 * power_vm.c -- the "vm" power driver: virtual nodes whose QEMU pipold
 * runs itself, on this host (schema 024; vm.c makes their disks). QEMU
 * with QMP rather than libvirt: the "qemu" driver already speaks QMP,
 * the suite's nodes are QEMU machines on a bridge, and a machine is one
 * process and a few files, which pipold's own state folder holds:
 *
 *   STATE/vms/NODE.qcow2    the disk: an overlay on a version's base
 *   STATE/vms/NODE.qmp      QMP socket (this driver, the qemu one's code)
 *   STATE/vms/NODE.serial   the serial console's socket
 *   STATE/vms/NODE.pid      QEMU's process (-daemonize: pipold may
 *                           restart, the machine runs on)
 *   STATE/vms/NODE.lock     one action on a machine at a time
 *
 *   on      QMP cont when QEMU runs; else QEMU started paused (-S) with
 *           a tap joining the host's bridge, then cont: the node boots
 *           from the network (iPXE), then its disk, as a physical one
 *   off     QMP quit, then the process waited for (killed after 10 s)
 *   reset   QMP system_reset; a machine that is off stays off
 *   cycle   QMP system_reset and cont, or a start as on
 *   status  QMP query-status, or "off (no QEMU)"
 *
 * QEMU runs under its seccomp filter (-sandbox on, obsolete and
 * resource-control calls denied: a guest that takes QEMU over cannot use
 * them; elevateprivileges=deny and spawn=deny break -daemonize, so they
 * are not set).
 *
 * The node's params: host, cpus, mem and disk (MiB), each a string; at
 * run time pipold adds the node's MAC and its host's bridge (SQL
 * node_power, schema 024). Every word QEMU or ip reads is checked
 * here first; no shell.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "perr.h"
#include "power.h"
#include "run.h"

#define VM_START_MS	30000	/* qemu -daemonize returns once it runs */
#define VM_IP_MS	10000
#define VM_QUIT_MS	10000	/* a quit QEMU is gone within */

static char vm_dir[PATH_MAX / 2];	/* STATE/vms, set once at start */
static char vm_accel[8] = "tcg";
static long long vm_uid_base = VM_UID_BASE_DEFAULT;

int
power_vm_init(const char *state, const char *accel, long long uid_base,
    struct perr *e)
{
	if (strchr(state, ',') != NULL)	/* QEMU's option separator */
		return perr_set(e, PE_USAGE, "%s: a state folder with a ',' "
		    "cannot hold virtual nodes' disks", state);
	if ((size_t)snprintf(vm_dir, sizeof(vm_dir), "%s/vms", state) >=
	    sizeof(vm_dir) - 80)
		return perr_set(e, PE_USAGE, "%s: too long a path", state);
	if (mkdir(vm_dir, 0700) < 0 && errno != EEXIST)
		return perr_errno(e, PE_FAIL, "%s", vm_dir);
	snprintf(vm_accel, sizeof(vm_accel), "%s", accel);
	vm_uid_base = uid_base;
	return 0;
}

int
power_vm_path(const char *node, const char *ext, char *buf, size_t len)
{
	if (vm_dir[0] == '\0')
		return -1;
	return (size_t)snprintf(buf, len, "%s/%s.%s", vm_dir, node, ext) <
	    len ? 0 : -1;
}

/* a decimal in [lo, hi], no sign, no leading zero */
static int
num_ok(const char *s, long lo, long hi)
{
	char *end;
	long v;

	if (s == NULL || !isdigit((unsigned char)s[0]) || (s[0] == '0' &&
	    s[1] != '\0') || strlen(s) > 10)
		return 0;
	v = strtol(s, &end, 10);
	return *end == '\0' && v >= lo && v <= hi;
}

static int
word_ok(const char *s, const char *set, size_t max)
{
	return s != NULL && *s != '\0' && *s != '-' && strlen(s) <= max &&
	    strspn(s, set) == strlen(s);
}

#define LOWER	"abcdefghijklmnopqrstuvwxyz"
#define UPPER	"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define DIGITS	"0123456789"

int
power_vm_check(const json_t *params, struct perr *e)
{
	const char *mac = json_string_value(json_object_get(params, "mac"));
	const char *br = json_string_value(json_object_get(params, "bridge"));
	const char *id = json_string_value(json_object_get(params, "id"));
	int i;

	if (!word_ok(json_string_value(json_object_get(params, "host")),
	    LOWER DIGITS "_-", 32))
		return perr_set(e, PE_USAGE, "power_params: \"host\": the name "
		    "of a vm host is needed (pipol vmhost list)");
	if (!num_ok(json_string_value(json_object_get(params, "cpus")), 1, 64))
		return perr_set(e, PE_USAGE, "power_params: \"cpus\": 1 to 64 "
		    "vCPUs");
	if (!num_ok(json_string_value(json_object_get(params, "mem")), 64,
	    1048576))
		return perr_set(e, PE_USAGE, "power_params: \"mem\": 64 to "
		    "1048576 MiB");
	if (!num_ok(json_string_value(json_object_get(params, "disk")), 64,
	    16777216))
		return perr_set(e, PE_USAGE, "power_params: \"disk\": 64 to "
		    "16777216 MiB");
	/* added at run time (node_power): checked all the same */
	if (mac != NULL) {
		for (i = 0; i < 17; i++)
			if (i % 3 == 2 ? mac[i] != ':' :
			    !isxdigit((unsigned char)mac[i]))
				break;
		if (i < 17 || mac[17] != '\0')
			return perr_set(e, PE_USAGE, "power_params: \"mac\": "
			    "%.40s: not a MAC address", mac);
	}
	if (br != NULL && !word_ok(br, LOWER UPPER DIGITS "_.-", 15))
		return perr_set(e, PE_USAGE, "power_params: \"bridge\": %.40s: "
		    "not an interface name", br);
	if (id != NULL && !num_ok(id, 1, VM_UID_SPAN - 1))
		return perr_set(e, PE_USAGE, "power_params: \"id\": the node's "
		    "id, 1 to %lld", VM_UID_SPAN - 1);
	return 0;
}

/* The tap of node's machine: "pv" and 8 hex digits of its name (an
 * interface name has 15 bytes at most, a node name 63). */
static void
tap_name(const char *node, char tap[16])
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *node; node++)
		h = (h ^ (unsigned char)*node) * 16777619u;
	snprintf(tap, 16, "pv%08x", h);
}

int
power_vm_tool(const char *node, const char *const argv[], int ms,
    struct perr *e)
{
	char out[512];
	size_t len;
	int cut, st, late;

	if (run_capture(argv, 1, out, sizeof(out), &len, &cut, ms, &st,
	    &late) < 0)
		return perr_errno(e, PE_FAIL, "node %s: %s", node, argv[0]);
	if (late)
		return perr_set(e, PE_UNAVAIL, "node %s: %s: still running "
		    "after %d s", node, argv[0], ms / 1000);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' '))
			out[--len] = '\0';
		return perr_set(e, PE_FAIL, "node %s: %s failed: %.200s", node,
		    argv[0], strrchr(out, '\n') ? strrchr(out, '\n') + 1 : out);
	}
	return 0;
}

/* The QEMU process of node's machine from its pid file, if it is one
 * (its command line names the machine), else 0. */
static pid_t
vm_pid(const char *node)
{
	char path[PATH_MAX], buf[4096], want[96];
	ssize_t n, i;
	long pid;
	FILE *f;
	int fd;

	if (power_vm_path(node, "pid", path, sizeof(path)) < 0 ||
	    (f = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 1 || pid > INT32_MAX)
		pid = 0;
	fclose(f);
	if (pid == 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	for (i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	snprintf(want, sizeof(want), " pipol-vm-%s ", node);
	return strstr(buf, want) != NULL ? (pid_t)pid : 0;
}

static int
qmp_params(const char *node, json_t **p)
{
	char qmp[PATH_MAX], serial[PATH_MAX];

	if (power_vm_path(node, "qmp", qmp, sizeof(qmp)) < 0 ||
	    power_vm_path(node, "serial", serial, sizeof(serial)) < 0)
		return -1;
	*p = json_pack("{s:s, s:s}", "qmp", qmp, "serial", serial);
	return *p != NULL ? 0 : -1;
}

/* QMP action on a running machine; -PE_UNAVAIL when none answers */
static int
vm_qmp(const char *node, int action, char *msg, size_t msglen,
    struct perr *e)
{
	json_t *p;
	int rc;

	if (qmp_params(node, &p) < 0)
		return perr_set(e, PE_FAIL, "node %s: out of memory", node);
	rc = power_qmp_run(node, p, action, msg, msglen, e);
	json_decref(p);
	return rc;
}

/* QEMU started paused, its tap joined to the bridge, then cont. */
static int
vm_start(const char *node, const json_t *params, char *msg, size_t msglen,
    struct perr *e)
{
	const char *mac = json_string_value(json_object_get(params, "mac"));
	const char *br = json_string_value(json_object_get(params, "bridge"));
	const char *id_s = json_string_value(json_object_get(params, "id"));
	long long id = num_ok(id_s, 1, VM_UID_SPAN - 1) ? atoll(id_s) : 0;
	char disk[PATH_MAX], qmp[PATH_MAX], serial[PATH_MAX], pid[PATH_MAX];
	char qemu[PATH_MAX], ip[PATH_MAX], tap[16], name[96];
	char o_qmp[PATH_MAX + 32], o_ser[PATH_MAX + 32], o_net[96];
	char o_nic[96], o_disk[PATH_MAX + 48], o_mem[24], o_uid[48];
	struct stat st;
	int rc;

	if (mac == NULL || br == NULL)
		return perr_set(e, PE_CONFLICT, "node %s: its vm host has no "
		    "bridge (pipol vmhost list)", node);
	/* never root, never an account's: its own uid, from its id */
	if (id <= 0 || id >= VM_UID_SPAN)
		return perr_set(e, PE_FAIL, "node %s: no id for its QEMU's "
		    "uid", node);
	if (power_vm_path(node, "qcow2", disk, sizeof(disk)) < 0 ||
	    power_vm_path(node, "qmp", qmp, sizeof(qmp)) < 0 ||
	    power_vm_path(node, "serial", serial, sizeof(serial)) < 0 ||
	    power_vm_path(node, "pid", pid, sizeof(pid)) < 0)
		return perr_set(e, PE_FAIL, "node %s: no folder for virtual "
		    "nodes", node);
	if (stat(disk, &st) < 0)
		return perr_set(e, PE_CONFLICT, "node %s: no disk yet (a "
		    "deployment makes it)", node);
	if (run_find("qemu-system-x86_64", qemu, sizeof(qemu)) < 0 ||
	    run_find("ip", ip, sizeof(ip)) < 0)
		return perr_set(e, PE_UNAVAIL, "node %s: qemu-system-x86_64 or "
		    "ip is not installed", node);
	unlink(qmp);
	unlink(serial);
	unlink(pid);
	tap_name(node, tap);
	snprintf(name, sizeof(name), "pipol-vm-%s", node);
	snprintf(o_qmp, sizeof(o_qmp), "unix:%s,server=on,wait=off", qmp);
	snprintf(o_ser, sizeof(o_ser), "unix:%s,server=on,wait=off", serial);
	snprintf(o_net, sizeof(o_net), "tap,id=n0,ifname=%s,script=no,"
	    "downscript=no", tap);
	snprintf(o_nic, sizeof(o_nic), "virtio-net-pci,netdev=n0,mac=%s,"
	    "bootindex=1", mac);
	snprintf(o_disk, sizeof(o_disk), "if=none,id=d0,file=%s,format=qcow2",
	    disk);
	snprintf(o_uid, sizeof(o_uid), "%lld:%lld", vm_uid_base + id,
	    vm_uid_base + id);
	snprintf(o_mem, sizeof(o_mem), "%sM", json_string_value(
	    json_object_get(params, "mem")));
	{
		const char *argv[] = { qemu, "-name", name, "-machine", "pc",
		    "-accel", vm_accel, "-m", o_mem, "-smp",
		    json_string_value(json_object_get(params, "cpus")),
		    "-display", "none", "-monitor", "none", "-sandbox",
		    "on,obsolete=deny,resourcecontrol=deny", "-runas", o_uid,
		    "-daemonize",
		    "-pidfile", pid, "-qmp", o_qmp, "-serial", o_ser, "-netdev",
		    o_net, "-device", o_nic, "-drive", o_disk, "-device",
		    "virtio-blk-pci,drive=d0,bootindex=2", "-S", NULL };

		if ((rc = power_vm_tool(node, argv, VM_START_MS, e)) < 0)
			return rc;
	}
	{
		const char *argv[] = { ip, "link", "set", "dev", tap, "master",
		    br, "up", NULL };

		if ((rc = power_vm_tool(node, argv, VM_IP_MS, e)) < 0) {
			struct perr ignored;

			vm_qmp(node, POWER_OFF, msg, msglen, &ignored);
			return rc;
		}
	}
	if ((rc = vm_qmp(node, POWER_ON, msg, msglen, e)) < 0)
		return rc;
	snprintf(msg, msglen, "on (QEMU started, tap %s on %s)", tap, br);
	return 0;
}

/* quit, then the process gone (killed when it lingers) */
static int
vm_stop(const char *node, char *msg, size_t msglen, struct perr *e)
{
	pid_t p = vm_pid(node);
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int rc, i;

	rc = vm_qmp(node, POWER_OFF, msg, msglen, e);
	if (rc == -PE_UNAVAIL && p == 0) {
		snprintf(msg, msglen, "off (no QEMU)");
		return 0;
	}
	for (i = 0; p != 0 && kill(p, 0) == 0 && i < VM_QUIT_MS / 50; i++)
		nanosleep(&ts, NULL);
	if (p != 0 && kill(p, 0) == 0 && vm_pid(node) == p) {
		kill(p, SIGKILL);
		snprintf(msg, msglen, "off (QEMU killed)");
	} else if (rc < 0 && p != 0) {
		snprintf(msg, msglen, "off (QEMU gone)");
	} else if (rc < 0)
		return rc;
	return 0;
}

int
power_vm_run(const char *node, const json_t *params, int action,
    char *msg, size_t msglen, struct perr *e)
{
	char lock[PATH_MAX];
	int fd, rc;

	if (power_vm_path(node, "lock", lock, sizeof(lock)) < 0)
		return perr_set(e, PE_CONFLICT, "node %s: this pipold runs no "
		    "virtual nodes", node);
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return perr_errno(e, PE_FAIL, "node %s: %s", node, lock);
	flock(fd, LOCK_EX);
	switch (action) {
	case POWER_OFF:
		rc = vm_stop(node, msg, msglen, e);
		break;
	case POWER_STATUS:
		rc = vm_qmp(node, action, msg, msglen, e);
		if (rc == -PE_UNAVAIL) {
			snprintf(msg, msglen, "off (no QEMU)");
			rc = 0;
		}
		break;
	case POWER_RESET:
		rc = vm_qmp(node, action, msg, msglen, e);
		if (rc == -PE_UNAVAIL)
			rc = perr_set(e, PE_CONFLICT, "node %s: off: nothing "
			    "to reset", node);
		break;
	default:	/* on, cycle */
		rc = vm_qmp(node, action, msg, msglen, e);
		if (rc == -PE_UNAVAIL)
			rc = vm_start(node, params, msg, msglen, e);
		break;
	}
	close(fd);
	return rc;
}
