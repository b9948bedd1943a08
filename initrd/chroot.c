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
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <sched.h>
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
#include "mount.h"


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
		/* parents a user must cross: 0755; the last one: mode */
		if (mkdir(buf, c == '\0' ? mode : 0755) < 0 && errno != EEXIST)
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
	pid_t pid = -1;

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

/*
 * The scripts' sandbox. A script runs under a small init of its own:
 * this program exec'd afresh (argv[0] CHROOT_INIT_ARGV0, so that it
 * holds none of the agent's memory: no token, no order), pid 1 of a new
 * PID namespace and in a new mount namespace, where it mounts, each
 * target resolved inside the deployed root by mount_in_root:
 *
 *   /proc  a fresh procfs of the new PID namespace (the agent and the
 *          deployment environment's processes are not in it), with
 *          /proc/cmdline and /proc/kcore masked by /dev/null, read-only
 *   /sys, /dev  the deployment environment's, bound
 *   /run   a tmpfs
 *   the deployment environment's resolver (its /etc/resolv.conf bound
 *          over the system's file, or written at the target of the
 *          system's link into /run)
 *
 * then drops the environment's own /proc from the namespace, moves the
 * system's root onto "/" and chroots there, drops CAP_SYS_RAWIO,
 * CAP_SYS_MODULE and CAP_SYS_BOOT (no kernel memory, no module, no
 * kexec), writes the script under /tmp, runs it, reaps every child and
 * exits with its status. When it exits the kernel kills whatever the
 * script left running; the namespace and its mounts go with it, so
 * nothing needs undoing.
 */
#define CHROOT_SCRIPT_FD	3	/* the init's copy of the body */

static const char *const masked[] = { "proc/cmdline", "proc/kcore", NULL };

/* The deployment environment's resolver, when the system's is a file:
 * ours bound over it. A link is seen to once chrooted (init_resolver). */
static void
init_resolv_bind(int rootfd)
{
	struct perr e;
	struct stat st;
	int fd;

	if ((fd = mount_resolve(rootfd, "etc/resolv.conf", 0)) < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    access("/etc/resolv.conf", R_OK) == 0 &&
	    mount_in_root(rootfd, "etc/resolv.conf", "/etc/resolv.conf", NULL,
	    MS_BIND, 0, &e) < 0)
		dprintf(2, "pipol: %s (the script has no resolver of ours)\n",
		    e.msg);
	close(fd);
}

/* Everything mounted under root, resolved inside it; then root is "/".
 * 0 or -code with e. */
static int
init_mounts(const char *root, struct perr *e)
{
	int rootfd, fd, i, rc = 0;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
		return perr_errno(e, PE_FAIL, "a mount namespace for %s", root);
	if ((rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return perr_errno(e, PE_FAIL, "%s", root);
	rc = mount_in_root(rootfd, "proc", "proc", "proc", MS_NOSUID |
	    MS_NODEV | MS_NOEXEC, 1, e);
	for (i = 0; rc == 0 && masked[i] != NULL; i++) {
		if ((fd = mount_resolve(rootfd, masked[i], 0)) < 0 &&
		    errno == ENOENT)
			continue;	/* a kernel without it */
		if (fd >= 0)
			close(fd);
		rc = mount_in_root(rootfd, masked[i], "/dev/null", NULL,
		    MS_BIND | MS_RDONLY, 0, e);
	}
	if (rc == 0)
		rc = mount_in_root(rootfd, "sys", "/sys", NULL, MS_BIND |
		    MS_REC, 1, e);
	if (rc == 0)
		rc = mount_in_root(rootfd, "dev", "/dev", NULL, MS_BIND |
		    MS_REC, 1, e);
	if (rc == 0)
		rc = mount_in_root(rootfd, "run", "tmpfs", "tmpfs", MS_NOSUID |
		    MS_NODEV, 1, e);
	if (rc == 0)
		init_resolv_bind(rootfd);
	/* the environment's procfs (the agent's PID namespace) leaves this
	 * namespace; then root becomes "/", as switch_root does */
	if (rc == 0 && (umount2("/proc", MNT_DETACH) < 0 ||
	    fchdir(rootfd) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 ||
	    chroot(".") < 0 || chdir("/") < 0))
		rc = perr_errno(e, PE_FAIL, "chroot %s", root);
	close(rootfd);
	return rc;
}

/* Chrooted: the system's resolv.conf a link into /run (systemd-resolved's
 * stub) gets the environment's text (read before) at its target. */
static void
init_resolver(const char *text, size_t len)
{
	char link[256], target[300], *slash;
	struct stat st;
	struct perr e;
	ssize_t n;

	if (text == NULL || lstat("/etc/resolv.conf", &st) < 0 ||
	    !S_ISLNK(st.st_mode) || stat("/etc/resolv.conf", &st) == 0 ||
	    (n = readlink("/etc/resolv.conf", link, sizeof(link) - 1)) <= 0)
		return;
	link[n] = '\0';
	if (strncmp(link, "../run/", 7) != 0 && strncmp(link, "/run/", 5) != 0)
		return;
	snprintf(target, sizeof(target), "%s", link[0] == '/' ? link :
	    link + 2);
	if (strstr(target, "/..") != NULL || (slash = strrchr(target, '/')) ==
	    target)
		return;
	*slash = '\0';
	if (chroot_mkdirs(target, 0755, &e) == 0) {
		*slash = '/';
		chroot_put_file(target, 0644, text, len, &e);
	}
}

/* The script itself, chrooted: written under /tmp from the body's fd,
 * run, removed. pid 1 reaps every orphan until the script ends. Its
 * status (128 + signal if killed), 127 when it could not start. */
static int
init_run(const char *name, char *const envp[])
{
	char dir[] = "/tmp/pipol-script.XXXXXX", path[128], buf[8192];
	char arg0[80], sh[] = "sh", *argv[3];
	pid_t pid, w;
	ssize_t n;
	int fd, st = 0;

	mkdir("/tmp", 01777);
	if (mkdtemp(dir) == NULL) {
		dprintf(2, "pipol: mkdtemp %s: %s\n", dir, strerror(errno));
		return 127;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0700)) < 0) {
		dprintf(2, "pipol: %s: %s\n", path, strerror(errno));
		return 127;
	}
	lseek(CHROOT_SCRIPT_FD, 0, SEEK_SET);
	while ((n = read(CHROOT_SCRIPT_FD, buf, sizeof(buf))) > 0)
		if (write_all(fd, buf, (size_t)n) < 0)
			break;
	close(CHROOT_SCRIPT_FD);
	if (close(fd) < 0 || n != 0) {
		dprintf(2, "pipol: %s: %s\n", path, strerror(errno));
		return 127;
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
	while (pid > 0 && ((w = wait(&st)) != pid) && (w > 0 || errno == EINTR))
		;
	unlink(path);
	rmdir(dir);
	if (pid < 0)
		return 127;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int
chroot_script_init(int argc, char **argv, char **envp)
{
	static const int drop[] = { CAP_SYS_RAWIO, CAP_SYS_MODULE,
	    CAP_SYS_BOOT };
	char *resolv = NULL;
	struct perr e;
	size_t len = 0, i;

	if (argc != 3 || getpid() != 1) {
		dprintf(2, "pipol-agent: %s: only the agent starts this\n",
		    argv[0]);
		_exit(PE_USAGE);
	}
	syscall(SYS_close_range, CHROOT_SCRIPT_FD + 1, ~0U, 0);
	if (read_file("/etc/resolv.conf", 65536, &resolv, &len, &e) < 0)
		resolv = NULL;
	if (init_mounts(argv[1], &e) < 0) {
		dprintf(2, "pipol: %s\n", e.msg);
		_exit(127);
	}
	init_resolver(resolv, len);
	free(resolv);
	for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (prctl(PR_CAPBSET_DROP, drop[i], 0, 0, 0) < 0) {
			dprintf(2, "pipol: dropping capability %d: %s\n",
			    drop[i], strerror(errno));
			_exit(127);
		}
	_exit(init_run(argv[2], envp));
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

/*
 * The script's init (chroot_script_init) started: the body in a memfd
 * (its fd CHROOT_SCRIPT_FD), stdin /dev/null, stdout and stderr the
 * pipe whose reading end fds[0] the caller keeps; pid 1 of new PID and
 * mount namespaces, leader of its own session. Its pid, or -1 with e.
 */
static pid_t
script_start(const char *root, const char *name, const unsigned char *body,
    size_t len, char *const envp[], int fds[2], struct perr *e)
{
	char a0[] = CHROOT_INIT_ARGV0, a1[512], a2[80];
	char *argv[] = { a0, a1, a2, NULL };
	pid_t pid;
	int mfd, null;

	snprintf(a1, sizeof(a1), "%s", root);
	snprintf(a2, sizeof(a2), "%s", name);
	if ((mfd = memfd_create("pipol-script", MFD_CLOEXEC)) < 0 ||
	    write_all(mfd, body, len) < 0) {
		perr_errno(e, PE_FAIL, "post-install: %s: memfd", name);
		goto err_memfd;
	}
	if (pipe2(fds, O_CLOEXEC) < 0) {
		perr_errno(e, PE_FAIL, "pipe");
		goto err_memfd;
	}
	/* like fork, in new namespaces; the child only execs (a raw clone
	 * runs no atfork handler: async-signal-safe calls only) */
	pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | SIGCHLD,
	    NULL, NULL, NULL, 0);
	if (pid == 0) {
		setsid();
		if ((null = open("/dev/null", O_RDONLY)) >= 0)
			dup2(null, 0);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		if (mfd == CHROOT_SCRIPT_FD)
			fcntl(mfd, F_SETFD, 0);
		else
			dup2(mfd, CHROOT_SCRIPT_FD);
		execve("/proc/self/exe", argv, envp);
		dprintf(2, "pipol: /proc/self/exe: %s\n", strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	close(mfd);
	if (pid < 0) {
		close(fds[0]);
		return perr_errno(e, PE_FAIL, "post-install: new PID and mount "
		    "namespaces for %s", name);
	}
	return pid;
 err_memfd:
	if (mfd >= 0)
		close(mfd);
	return -1;
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
	if ((pid = script_start(root, name, body, len, envp, fds, e)) < 0)
		return CHROOT_NOT_STARTED;
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	/* until the init ends (and with it all the script started) */
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

