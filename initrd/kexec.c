/*
 * kexec.c -- the deployed system entered without a firmware pass. On
 * real servers the power-on self test costs one to several minutes a
 * reboot, and a deployment reboots once between writing the disk and
 * the user's system. After the agent's result is reported:
 *
 *   the root partition mounted again (mount.c), its default kernel,
 *   initrds and command line found (kernel_find.c, root=UUID= of the
 *   filesystem read here); every file opened inside the root
 *   (RESOLVE_IN_ROOT: an image's links never lead out of it); two
 *   initrds or more joined in a memfd (concatenated cpio archives are
 *   one initramfs to the kernel); kexec_file_load(2); the root
 *   unmounted and synced; pipold told (the caller's mark); then
 *   reboot(LINUX_REBOOT_CMD_KEXEC).
 *
 * kexec_file_load first: the kernel parses the file itself. Where it
 * will not (no CONFIG_KEXEC_FILE; a kernel format its x86 loader does
 * not take -- only relocatable 64-bit bzImages -- that kexec-tools
 * does), kexec_load(2) through Debian's kexec-tools, /sbin/kexec in the
 * deployment environment: it builds the segments and the purgatory in
 * user space. Run with its argv built here (no shell; the command line
 * one argument), the files it reads being the fds already open
 * (/proc/self/fd/N), bounded in time, its output in the log. Lockdown
 * (Secure Boot) and a signature policy are not walked around: lockdown
 * refuses kexec_load as well, and a kernel rejected for its signature
 * is not loaded another way. pipol.kexec=load on the deployment
 * kernel's command line goes to kexec -l at once (a kernel whose
 * kexec_file_load misbehaves), pipol.kexec=file never runs it.
 * Every other failure: one log line, and the machine reboots through
 * the firmware as it always did (/init). The next reboot of the
 * deployed system still goes through pipold: kexec changes this one
 * boot only.
 */
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kexec.h>
#include <linux/reboot.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmdline.h"
#include "kernel_find.h"
#include "kexec.h"
#include "log.h"
#include "mount.h"

/* ---- the decision ---- */

/* A meta value ("key=value" lines), or "" */
static void
meta_value(const char *meta, const char *key, char *out, size_t len)
{
	size_t k = strlen(key), n;
	const char *p;

	*out = '\0';
	for (p = meta; p != NULL && *p != '\0'; p += n + (p[n] == '\n')) {
		n = strcspn(p, "\n");
		if (n > k && strncmp(p, key, k) == 0 && p[k] == '=') {
			snprintf(out, len, "%.*s", (int)(n - k - 1), p + k + 1);
			return;
		}
	}
}

int
kexec_wanted(json_t *order, const char *meta, const char **why)
{
	char root[16];

	meta_value(meta, "root", root, sizeof(root));
	if (!json_is_true(json_object_get(order, "kexec")))
		*why = "off for this node or deployment";
	else if (json_is_true(json_object_get(order, "bare")))
		*why = "a bare deployment: no kernel looked for";
	else if (*root == '\0' || strlen(root) > 3 ||
	    strspn(root, "0123456789") != strlen(root))
		*why = "the image names no root partition (metadata root=N)";
	else
		return 1;
	return 0;
}

int
kexec_errno_is_refusal(int err)
{
	return err == ENOSYS || err == EPERM || err == ENOEXEC ||
	    err == EKEYREJECTED || err == EBADMSG;
}

int
kexec_errno_wants_load(int err)
{
	return err == ENOSYS || err == EOPNOTSUPP || err == ENOEXEC;
}

int
kexec_mode_parse(const char *v)
{
	if (v == NULL || *v == '\0')
		return KEXEC_MODE_AUTO;
	if (strcmp(v, "file") == 0)
		return KEXEC_MODE_FILE;
	if (strcmp(v, "load") == 0)
		return KEXEC_MODE_LOAD;
	return -1;
}

/* ---- kexec -l (kexec-tools) ---- */

int
kexec_tool_argv(struct kexec_tool *t, int kfd, int ifd, const char *cmdline)
{
	int n = 0;

	if ((size_t)snprintf(t->cmdline, sizeof(t->cmdline), "--command-line="
	    "%s", cmdline) >= sizeof(t->cmdline))
		return -1;
	snprintf(t->kernel, sizeof(t->kernel), "/proc/self/fd/%d", kfd);
	snprintf(t->initrd, sizeof(t->initrd), "--initrd=/proc/self/fd/%d",
	    ifd);
	t->argv[n++] = (char *)KEXEC_TOOL;
	t->argv[n++] = (char *)"-c";	/* kexec_load(2), whatever its default */
	t->argv[n++] = (char *)"-l";
	t->argv[n++] = t->kernel;
	if (ifd >= 0)
		t->argv[n++] = t->initrd;
	t->argv[n++] = t->cmdline;
	t->argv[n] = NULL;
	return 0;
}

/* The child: fds 0-2 set, kfd and ifd kept across exec; never returns */
static void
tool_child(char *const argv[], int out, int kfd, int ifd)
{
	static const char msg[] = "cannot run it\n";
	int null = open("/dev/null", O_RDONLY);

	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 ||
	    dup2(out, 2) < 0 || fcntl(kfd, F_SETFD, 0) < 0 ||
	    (ifd >= 0 && fcntl(ifd, F_SETFD, 0) < 0))
		_exit(126);
	execv(argv[0], argv);
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(127);
}

static long
ms_left(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (end->tv_sec - now.tv_sec) * 1000 +
	    (end->tv_nsec - now.tv_nsec) / 1000000;
}

/* A line of the tool's output, buf[0..n), logged while lines are left */
static void
tool_line(const char *tool, const char *buf, size_t n, int *lines)
{
	if (n == 0)
		return;
	if (++*lines <= KEXEC_TOOL_LINES)
		log_info("kexec: %s: %.*s", tool, (int)n, buf);
	else if (*lines == KEXEC_TOOL_LINES + 1)
		log_info("kexec: %s: (more output not logged)", tool);
}

/* Its output, line by line, until EOF or end: 0, or -1 at end */
static int
tool_output(int fd, const char *tool, const struct timespec *end)
{
	char buf[256];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;
	long ms;
	int lines = 0;
	char *nl;

	for (;;) {
		if ((ms = ms_left(end)) <= 0)
			return -1;
		pfd.revents = 0;
		if (poll(&pfd, 1, (int)ms) < 0 && errno != EINTR)
			return -1;
		if (pfd.revents == 0)
			continue;
		if ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) < 0 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		while ((nl = memchr(buf, '\n', len)) != NULL ||
		    len == sizeof(buf) - 1) {
			n = nl != NULL ? nl - buf : (ssize_t)len;
			tool_line(tool, buf, (size_t)n, &lines);
			n += nl != NULL;
			memmove(buf, buf + n, len - (size_t)n);
			len -= (size_t)n;
		}
	}
	tool_line(tool, buf, len, &lines);
	return 0;
}

int
kexec_tool_run(char *const argv[], int kfd, int ifd, int sec,
    struct perr *e)
{
	const char *tool = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 :
	    argv[0];
	struct timespec end;
	int p[2], st = 0, timedout;
	pid_t pid, w = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		return perr_errno(e, PE_FAIL, "%s: pipe", tool);
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return perr_errno(e, PE_FAIL, "%s: fork", tool);
	}
	if (pid == 0)
		tool_child(argv, p[1], kfd, ifd);
	close(p[1]);
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += sec;
	timedout = tool_output(p[0], tool, &end) < 0;
	close(p[0]);
	/* its output closed: its exit, within the same bound */
	while (!timedout && (w = waitpid(pid, &st, WNOHANG)) == 0) {
		if (ms_left(&end) <= 0)
			timedout = 1;
		else
			usleep(10000);
	}
	if (w < 0)	/* reaped by someone else: its status unknown */
		return perr_errno(e, PE_FAIL, "%s: waitpid", tool);
	if (timedout) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return perr_set(e, PE_FAIL, "%s: no end in %d s (killed)",
		    tool, sec);
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) >= 126)
		return perr_set(e, PE_FAIL, "%s: cannot run %s", tool,
		    argv[0]);
	if (WIFEXITED(st))
		return perr_set(e, PE_FAIL, "%s: exit %d", tool,
		    WEXITSTATUS(st));
	return perr_set(e, PE_FAIL, "%s: killed by signal %d", tool,
	    WTERMSIG(st));
}

/* ---- the files ---- */

/* path, inside the root, opened for reading; fd or -1 with e */
static int
open_in_root(int rootfd, const char *path, struct perr *e)
{
	char at[40];
	int pfd, fd;

	if ((pfd = mount_resolve(rootfd, path, 0)) < 0)
		return perr_errno(e, PE_DATA, "%s", path), -1;
	snprintf(at, sizeof(at), "/proc/self/fd/%d", pfd);
	fd = open(at, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	close(pfd);
	if (fd < 0)
		perr_errno(e, PE_DATA, "%s", path);
	return fd;
}

/* The initrds of kb, one fd: the file itself when one, else a memfd
 * holding them end to end; -1 and e */
static int
initrd_open(int rootfd, const struct kernel_boot *kb, struct perr *e)
{
	char buf[1 << 16];
	size_t total = 0;
	ssize_t n = 0;
	int i, fd, mfd;

	if (kb->ninitrd == 1)
		return open_in_root(rootfd, kb->initrd[0], e);
	if ((mfd = memfd_create("pipol-initrd", MFD_CLOEXEC)) < 0)
		return perr_errno(e, PE_FAIL, "memfd_create"), -1;
	for (i = 0; i < kb->ninitrd; i++) {
		if ((fd = open_in_root(rootfd, kb->initrd[i], e)) < 0)
			goto err;
		while ((n = read(fd, buf, sizeof(buf))) > 0 &&
		    (total += n) <= KEXEC_INITRD_MAX &&
		    write(mfd, buf, n) == n)
			;
		close(fd);
		if (n != 0) {
			perr_set(e, PE_DATA, "%s: %s", kb->initrd[i], total >
			    KEXEC_INITRD_MAX ? "the initrds pass 512 MiB" :
			    "not read whole");
			goto err;
		}
	}
	return mfd;
 err:
	close(mfd);
	return -1;
}

static long
file_load(int kfd, int ifd, const char *cmdline, unsigned long flags)
{
#ifdef SYS_kexec_file_load
	return syscall(SYS_kexec_file_load, kfd, ifd, strlen(cmdline) + 1,
	    cmdline, flags);
#else
	(void)kfd; (void)ifd; (void)cmdline; (void)flags;
	errno = ENOSYS;
	return -1;
#endif
}

/* What how loaded, unloaded: file_load's flag, kexec_load's 0 segments */
static void
unload(const char *how)
{
	if (strcmp(how, "kexec_file_load") == 0)
		file_load(-1, -1, "", KEXEC_FILE_UNLOAD);
#ifdef SYS_kexec_load
	else
		syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL);
#endif
}

/*
 * kb's kernel (kfd) and initrds (ifd, -1: none) loaded as mode says;
 * *how says by what. 0, or -code with e.
 */
static int
load_fds(int kfd, int ifd, const struct kernel_boot *kb, int mode,
    const char **how, struct perr *e)
{
	struct kexec_tool *t;
	int err, rc;

	*how = "kexec_file_load";
	if (mode != KEXEC_MODE_LOAD) {
		if (file_load(kfd, ifd, kb->cmdline, ifd < 0 ?
		    KEXEC_FILE_NO_INITRAMFS : 0) == 0)
			return 0;
		err = errno;
		if (mode == KEXEC_MODE_FILE || !kexec_errno_wants_load(err))
			return errno = err, perr_errno(e,
			    kexec_errno_is_refusal(err) ? PE_DENIED : PE_FAIL,
			    "kexec_file_load %s%s", kb->kernel,
			    kexec_errno_is_refusal(err) ? " refused by the "
			    "running kernel" : "");
		log_info("kexec: kexec_file_load %s: %s: trying kexec -l "
		    "(kexec-tools)", kb->kernel, strerror(err));
	} else
		log_info("kexec: pipol.kexec=load: kexec -l (kexec-tools), "
		    "not kexec_file_load");
	*how = "kexec -l";
	if ((t = malloc(sizeof(*t))) == NULL)
		return perr_set(e, PE_FAIL, "kexec -l: out of memory");
	if (kexec_tool_argv(t, kfd, ifd, kb->cmdline) < 0)
		rc = perr_set(e, PE_DATA, "kexec -l: the command line is too "
		    "long");
	else if ((rc = kexec_tool_run(t->argv, kfd, ifd, KEXEC_TOOL_SEC,
	    e)) < 0)
		perr_prefix(e, "kexec -l %s", kb->kernel);
	free(t);
	return rc;
}

/*
 * The deployed kernel of the root at dir (its filesystem on part)
 * loaded, ready for the jump; kb says which, *how by what. 0, or -code
 * with e.
 */
static int
kexec_load_root(const char *dir, const char *part, struct kernel_boot *kb,
    int mode, const char **how, struct perr *e)
{
	char uuid[KERNEL_UUID_MAX];
	int rootfd, kfd = -1, ifd = -1, rc;

	if ((rootfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return perr_errno(e, PE_FAIL, "%s", dir);
	rc = kernel_find(rootfd, kernel_fs_uuid(part, uuid, sizeof(uuid)) == 0 ?
	    uuid : NULL, kb, e);
	if (rc == 0 && (kfd = open_in_root(rootfd, kb->kernel, e)) < 0)
		rc = -e->code;
	if (rc == 0 && kb->ninitrd > 0 && (ifd = initrd_open(rootfd, kb,
	    e)) < 0)
		rc = -e->code;
	if (rc == 0)
		rc = load_fds(kfd, ifd, kb, mode, how, e);
	if (ifd >= 0)
		close(ifd);
	if (kfd >= 0)
		close(kfd);
	close(rootfd);
	return rc;
}

void
kexec_node(json_t *order, const char *meta, const char *disk,
    void (*mark)(void *arg), void *arg)
{
	char part[80], root[16], fstype[16], v[16];
	const char *why, *how = "kexec_file_load";
	struct kernel_boot *kb;
	struct perr e, ue;
	struct stat st;
	int rc, mode;

	if (!kexec_wanted(order, meta, &why)) {
		log_info("kexec: not used (%s): rebooting through the "
		    "firmware", why);
		return;
	}
	/* a test running node mode on a file, a host not pipol's */
	if (disk == NULL || stat(disk, &st) < 0 || !S_ISBLK(st.st_mode) ||
	    access(KEXEC_RELEASE_FILE, F_OK) < 0) {
		log_info("kexec: not used (not a disk in pipol's deployment "
		    "environment): rebooting through the firmware");
		return;
	}
	mode = KEXEC_MODE_AUTO;
	if (cmdline_value(KEXEC_CMDLINE, "pipol.kexec", v, sizeof(v), &e) < 0)
		log_warnx("kexec: %s: the default (kexec_file_load, then "
		    "kexec -l)", e.msg);
	else if ((mode = kexec_mode_parse(v)) < 0) {
		log_warnx("kexec: pipol.kexec=%s: not file or load; the "
		    "default (kexec_file_load, then kexec -l)", v);
		mode = KEXEC_MODE_AUTO;
	}
	if ((kb = calloc(1, sizeof(*kb))) == NULL) {
		log_warnx("kexec: out of memory: rebooting through the "
		    "firmware");
		return;
	}
	meta_value(meta, "root", root, sizeof(root));
	meta_value(meta, "fstype", fstype, sizeof(fstype));
	if ((rc = mount_root(disk, root, fstype, KEXEC_ROOT_DIR, part,
	    sizeof(part), &e)) == 0) {
		rc = kexec_load_root(KEXEC_ROOT_DIR, part, kb, mode, &how,
		    &e);
		if (mount_root_undo(KEXEC_ROOT_DIR, &ue) < 0 && rc == 0) {
			/* a root left mounted is not synced for sure */
			unload(how);
			e = ue;
			rc = -ue.code;
		}
	}
	if (rc < 0) {
		log_warnx("kexec: not used (%s): rebooting through the "
		    "firmware", e.msg);
		free(kb);
		return;
	}
	log_info("kexec: handing over to %s%s%s (%s), loaded by %s, no "
	    "firmware pass; command line: %s", kb->kernel, kb->ninitrd ?
	    " with " : "", kb->ninitrd ? kb->initrd[kb->ninitrd - 1] : "",
	    kernel_how_name(kb->how), how, kb->cmdline);
	free(kb);
	if (mark != NULL)
		mark(arg);
	sync();
	reboot(LINUX_REBOOT_CMD_KEXEC);
	log_warn("kexec: reboot(LINUX_REBOOT_CMD_KEXEC): rebooting through "
	    "the firmware");
}
