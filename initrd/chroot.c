/*
 * chroot.c -- running things inside the deployed system for
 * post-install, as root: a function in a child chrooted into it (its
 * error comes back through a pipe); the bind mounts (/proc, /sys, /dev)
 * and the deployment environment's resolver the scripts need; one
 * script written under the system's /tmp and exec'd chrooted, with
 * stdin /dev/null, a time limit (then its process group is killed) and
 * the last AGENT_SCRIPT_OUTPUT_MAX bytes of its output.
 *
 * Nothing here builds a shell command line: a script is exec'd (its
 * "#!" line decides; a file without one is given to /bin/sh as a file).
 * Which scripts run, with which environment, is postinst.c's.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "chroot.h"
#include "limits.h"
#include "log.h"


int
chroot_put_file(const char *path, mode_t mode, const char *text, size_t len,
    struct perr *e)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, mode)) < 0)
		return perr_errno(e, PE_FAIL, "%s", path);
	if (write_all(fd, text, len) < 0 || fchmod(fd, mode) < 0 ||
	    close(fd) < 0) {
		perr_errno(e, PE_FAIL, "%s", path);
		close(fd);
		return -PE_FAIL;
	}
	return 0;
}

int
chroot_mkdirs(const char *path, mode_t mode, struct perr *e)
{
	char buf[512], *s;

	snprintf(buf, sizeof(buf), "%s", path);
	for (s = buf + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return perr_errno(e, PE_FAIL, "%s", buf);
		if ((*s = c) == '\0')
			break;
	}
	return 0;
}

/* A pipe and a child: the child keeps fds[1], the parent fds[0]. */
static int
fork_piped(int fds[2], pid_t *pid, struct perr *e)
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return perr_errno(e, PE_FAIL, "pipe");
	if ((*pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return perr_errno(e, PE_FAIL, "fork");
	}
	close(fds[*pid == 0 ? 0 : 1]);
	return 0;
}

int
chroot_call(const char *root, int (*fn)(const void *, struct perr *),
    const void *arg, struct perr *e)
{
	struct perr ce;
	int fds[2], st;
	ssize_t n;
	pid_t pid;

	if (fork_piped(fds, &pid, e) < 0)
		return -PE_FAIL;
	if (pid == 0) {
		if (chroot(root) < 0 || chdir("/") < 0)
			perr_errno(&ce, PE_FAIL, "chroot %s", root);
		else if (fn(arg, &ce) == 0)
			_exit(0);
		n = write(fds[1], &ce, sizeof(ce));
		_exit(n == (ssize_t)sizeof(ce) ? ce.code : PE_FAIL);
	}
	n = read(fds[0], &ce, sizeof(ce));
	close(fds[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (n == (ssize_t)sizeof(ce)) {
		ce.msg[sizeof(ce.msg) - 1] = '\0';
		return perr_set(e, ce.code, "post-install: %s", ce.msg);
	}
	return perr_set(e, PE_FAIL, "post-install: the configuration step "
	    "died (status %d)", st);
}

static const char *const binds[] = { "proc", "sys", "dev", NULL };

static void
binds_undo(const char *root, int upto)
{
	char path[600];

	while (--upto >= 0) {
		snprintf(path, sizeof(path), "%s/%s", root, binds[upto]);
		if (umount2(path, MNT_DETACH) < 0)
			log_warn("umount %s", path);
	}
}

static int
binds_do(const char *root, struct perr *e)
{
	char path[600], src[16];
	int i;

	for (i = 0; binds[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", root, binds[i]);
		snprintf(src, sizeof(src), "/%s", binds[i]);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			break;
		if (mount(src, path, NULL, MS_BIND | MS_REC, NULL) < 0)
			break;
	}
	if (binds[i] == NULL)
		return 0;
	perr_errno(e, PE_FAIL, "post-install: bind %s on %s", binds[i], path);
	binds_undo(root, i);
	return -PE_FAIL;
}

/*
 * The deployment environment's resolver for the scripts (installing
 * packages is what rc scripts are for): its /etc/resolv.conf bound over
 * the system's when that is a file; when it is a link into /run
 * (systemd-resolved's stub), a tmpfs on the system's /run holds the
 * link's target. Best effort: a failure costs the scripts name
 * resolution only. Returns what resolver_undo undoes.
 */
enum { RESOLV_BIND = 1, RESOLV_RUN = 2 };	/* chroot_env.resolv */

static int
resolver_do(const char *root)
{
	char path[600], link[256], target[900], *text, *slash;
	const char *rel = NULL;
	struct stat st;
	struct perr e;
	size_t len;
	ssize_t n;
	int done = 0;

	if (read_file("/etc/resolv.conf", 65536, &text, &len, &e) < 0)
		return 0;
	snprintf(path, sizeof(path), "%s/etc/resolv.conf", root);
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		if (mount("/etc/resolv.conf", path, NULL, MS_BIND, NULL) == 0)
			done = RESOLV_BIND;
	} else if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) &&
	    (n = readlink(path, link, sizeof(link) - 1)) > 0) {
		link[n] = '\0';
		rel = strncmp(link, "../run/", 7) == 0 ? link + 2 :
		    strncmp(link, "/run/", 5) == 0 ? link : NULL;
		snprintf(target, sizeof(target), "%s/run", root);
		if (rel != NULL && strstr(rel, "/..") == NULL &&
		    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV,
		    "mode=755") == 0) {
			done = RESOLV_RUN;
			snprintf(target, sizeof(target), "%s%s", root, rel);
			slash = strrchr(target, '/');
			*slash = '\0';
			if (chroot_mkdirs(target, 0755, &e) == 0) {
				*slash = '/';
				chroot_put_file(target, 0644, text, len, &e);
			}
		}
	}
	if (done == 0)
		log_debug("post-install: the scripts have no resolver of ours");
	free(text);
	return done;
}

static void
resolver_undo(const char *root, int done)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", root, done == RESOLV_BIND ?
	    "etc/resolv.conf" : "run");
	if (done != 0 && umount2(path, MNT_DETACH) < 0)
		log_warn("umount %s", path);
}


int
chroot_env_enter(const char *root, struct chroot_env *c, struct perr *e)
{
	int rc;

	c->resolv = 0;
	if ((rc = binds_do(root, e)) < 0)
		return rc;
	c->resolv = resolver_do(root);
	return 0;
}

void
chroot_env_leave(const char *root, struct chroot_env *c)
{
	resolver_undo(root, c->resolv);
	binds_undo(root, 3);
}

/* The child of one script: chrooted, write it under /tmp, run it in a
 * grandchild, remove it, exit with its status (128 + signal if killed). */
static void
script_child(const char *root, const char *name, const unsigned char *body,
    size_t len, char *const envp[], int out)
{
	char dir[] = "/tmp/pipol-script.XXXXXX", path[128];
	char arg0[80], sh[] = "sh";
	char *argv[3];
	pid_t pid;
	int fd, st;

	setsid();
	if ((fd = open("/dev/null", O_RDONLY)) >= 0)
		dup2(fd, 0);
	dup2(out, 1);
	dup2(out, 2);
	if (chroot(root) < 0 || chdir("/") < 0) {
		dprintf(2, "pipol: chroot %s: %s\n", root, strerror(errno));
		_exit(127);
	}
	mkdir("/tmp", 01777);
	if (mkdtemp(dir) == NULL) {
		dprintf(2, "pipol: mkdtemp %s: %s\n", dir, strerror(errno));
		_exit(127);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0700))
	    < 0 || write_all(fd, body, len) < 0 || close(fd) < 0) {
		dprintf(2, "pipol: %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	if ((pid = fork()) == 0) {
		snprintf(arg0, sizeof(arg0), "%s", name);
		argv[0] = arg0;
		argv[1] = NULL;
		execve(path, argv, envp);
		if (errno == ENOEXEC) {	/* no "#!": a shell script */
			argv[0] = sh;
			argv[1] = path;
			argv[2] = NULL;
			execve("/bin/sh", argv, envp);
		}
		dprintf(2, "pipol: %s: %s\n", name, strerror(errno));
		_exit(126);
	}
	st = 0;
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	unlink(path);
	rmdir(dir);
	if (pid < 0)
		_exit(127);
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Keep the last AGENT_SCRIPT_OUTPUT_MAX bytes of a script's output (n is
 * at most a read's 4096). */
static void
tail_add(char *buf, size_t *len, const char *p, size_t n)
{
	if (*len + n > AGENT_SCRIPT_OUTPUT_MAX) {
		size_t drop = *len + n - AGENT_SCRIPT_OUTPUT_MAX;

		memmove(buf, buf + drop, *len - drop);
		*len -= drop;
	}
	memcpy(buf + *len, p, n);
	*len += n;
}

int
chroot_script(const char *root, const char *name, const unsigned char *body,
    size_t len, char *const envp[], int timeout_sec, char *out,
    size_t *outlen, struct perr *e)
{
	double deadline = now_mono() + timeout_sec;
	struct pollfd pfd;
	char buf[4096];
	int fds[2], st = 0, done = 0, timed_out = 0;
	ssize_t n;
	pid_t pid;

	*outlen = 0;
	if (fork_piped(fds, &pid, e) < 0)
		return -PE_FAIL;
	if (pid == 0)
		script_child(root, name, body, len, envp, fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	/* until the script's process ends (a daemon it started may hold
	 * the pipe open: then what is there already is kept) */
	for (;;) {
		if (!done && waitpid(pid, &st, WNOHANG) == pid)
			done = 1;
		if (poll(&pfd, 1, done ? 0 : 200) > 0) {
			if ((n = read(fds[0], buf, sizeof(buf))) > 0) {
				tail_add(out, outlen, buf, (size_t)n);
				continue;
			}
			if (n == 0 && !done) {	/* EOF: wait for it */
				while (waitpid(pid, &st, 0) < 0 &&
				    errno == EINTR)
					;
				done = 1;
			}
		}
		if (done)
			break;
		if (now_mono() > deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			timed_out = done = 1;
			break;
		}
	}
	close(fds[0]);
	if (timed_out)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

