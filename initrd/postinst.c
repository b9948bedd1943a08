/*
 * postinst.c -- post-install: the written, verified disk becomes the
 * user's system. With its root filesystem mounted at p->root:
 *
 *   1. configuration, in a child chrooted into the deployed root (so a
 *      symbolic link in the image resolves inside it, never in the
 *      deployment environment): the hostname (/etc/hostname, the
 *      127.0.1.1 line of /etc/hosts), the user's SSH keys for root, the
 *      user's account (passwd, group, shadow; uid from the order), their
 *      keys, a password-less sudo rule (/etc/sudoers.d/pipol-USER), the
 *      NFS home line in /etc/fstab when pipold has --nfs-home, and the
 *      first-boot hook that reports "ready" (a systemd unit, or
 *      /etc/local.d/ for BusyBox and OpenRC systems);
 *   2. the order's scripts whose NAME.FILTER matches the image's name
 *      (script_matches): the site's post-install scripts, then the
 *      user's rc scripts, in name order, each run as root in the system
 *      (chroot, with /proc, /sys and /dev bound, and the deployment
 *      environment's resolver: resolver_do), from a file under its
 *      /tmp that is removed after, standard input /dev/null, output
 *      (both streams, the last POSTINST_OUTPUT_MAX bytes) handed to
 *      p->log. A script that exits non-zero, is killed, or runs past
 *      p->timeout_sec fails the deployment, named with its status.
 *
 * Nothing here builds a shell command line: scripts are exec'd (their
 * "#!" line decides; a file without one is given to /bin/sh as a file).
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "log.h"
#include "parse.h"
#include "postinst.h"

#define POSTINST_OUTPUT_MAX	(32 * 1024)	/* kept per script */
#define POSTINST_FILE_MAX	(1u << 20)	/* passwd, hosts, fstab ... */

/* The first-boot hook: posts "ready" with this deployment's token, then
 * removes itself. curl, else wget (BusyBox's too). */
static const char ready_script[] =
"#!/bin/sh\n"
"# pipol-ready -- written by pipol's post-install: tell pipold that this\n"
"# system is up (POST /agent/result ready with the deployment's token),\n"
"# once, then remove this hook and the token.\n"
". /etc/pipol/ready.env || exit 1\n"
"body='{\"state\":\"ready\"}'\n"
"auth=\"Authorization: Bearer $PIPOL_TOKEN\"\n"
"url=\"$PIPOL_SERVER/agent/result\"\n"
"i=0\n"
"while [ $i -lt 150 ]; do\n"
"\tif command -v curl >/dev/null 2>&1; then\n"
"\t\tcurl -fsS -m 10 -o /dev/null -H \"$auth\" \\\n"
"\t\t    -H 'Content-Type: application/json' -d \"$body\" \"$url\" && break\n"
"\telse\n"
"\t\t# (no -T: BusyBox 1.35's static wget crashes on it)\n"
"\t\twget -q -O /dev/null --header \"$auth\" \\\n"
"\t\t    --header 'Content-Type: application/json' \\\n"
"\t\t    --post-data \"$body\" \"$url\" && break\n"
"\tfi\n"
"\ti=$((i + 1))\n"
"\tsleep 2\n"
"done\n"
"[ $i -lt 150 ] && msg=\"pipol: ready reported to $PIPOL_SERVER\" ||\n"
"    msg='pipol: could not report ready'\n"
"echo \"$msg\"\n"
"echo \"$msg\" > /dev/console 2>/dev/null\n"
"rm -f /etc/pipol/ready.env /etc/local.d/pipol-ready.start \\\n"
"    /etc/systemd/system/multi-user.target.wants/pipol-ready.service \\\n"
"    /etc/systemd/system/pipol-ready.service\n"
"exit 0\n";

static const char ready_unit[] =
"# written by pipol's post-install: report ready once, at first boot\n"
"[Unit]\n"
"Description=pipol: report this deployment ready\n"
"Wants=network-online.target\n"
"After=network-online.target ssh.service sshd.service\n"
"ConditionPathExists=/etc/pipol/ready.env\n"
"\n"
"[Service]\n"
"Type=oneshot\n"
"ExecStart=/usr/local/sbin/pipol-ready\n"
"StandardOutput=journal+console\n"
"\n"
"[Install]\n"
"WantedBy=multi-user.target\n";

/* ---- inside the chroot: configuration ------------------------------ */

static int
put_file(const char *path, mode_t mode, const char *text, size_t len,
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

/* path's text, "" when it does not exist */
static int
get_file(const char *path, char **out, struct perr *e)
{
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		*out = strdup("");
		return *out ? 0 : perr_set(e, PE_FAIL, "out of memory");
	}
	return read_file(path, POSTINST_FILE_MAX, out, NULL, e);
}

static int
mkdirs(const char *path, mode_t mode, struct perr *e)
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

/* Append line to path unless a line starts with key; keeps the rest. */
static int
line_ensure(const char *path, const char *key, const char *line,
    mode_t mode, struct perr *e)
{
	char *old, *p, *buf;
	size_t klen = strlen(key), n;
	int rc;

	if ((rc = get_file(path, &old, e)) < 0)
		return rc;
	for (p = old; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 :
	    p + strlen(p))
		if (strncmp(p, key, klen) == 0) {
			free(old);
			return 0;
		}
	n = strlen(old);
	if ((buf = malloc(n + strlen(line) + 3)) == NULL) {
		free(old);
		return perr_set(e, PE_FAIL, "out of memory");
	}
	sprintf(buf, "%s%s%s\n", old, n && old[n - 1] != '\n' ? "\n" : "",
	    line);
	rc = put_file(path, mode, buf, strlen(buf), e);
	free(buf);
	free(old);
	return rc;
}

/* /etc/hosts: every line but 127.0.1.1's, then 127.0.1.1 HOSTNAME */
static int
hosts_set(const char *host, struct perr *e)
{
	char *old, *buf, *p, *q;
	int rc;

	if ((rc = get_file("/etc/hosts", &old, e)) < 0)
		return rc;
	if ((buf = malloc(strlen(old) + strlen(host) + 64)) == NULL) {
		free(old);
		return perr_set(e, PE_FAIL, "out of memory");
	}
	*buf = '\0';
	if (*old == '\0')
		strcat(buf, "127.0.0.1\tlocalhost\n");
	for (p = old; *p; p = q) {
		q = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p);
		if (strncmp(p, "127.0.1.1", 9) != 0)
			strncat(buf, p, q - p);
	}
	if (*buf && buf[strlen(buf) - 1] != '\n')
		strcat(buf, "\n");
	sprintf(buf + strlen(buf), "127.0.1.1\t%s\n", host);
	rc = put_file("/etc/hosts", 0644, buf, strlen(buf), e);
	free(buf);
	free(old);
	return rc;
}

/* keys (one per line) into DIR/.ssh/authorized_keys, each once */
static int
keys_add(const char *home, uid_t uid, const char *keys, struct perr *e)
{
	char dir[300], path[340], *line, *copy, *save = NULL;
	int rc = 0;

	snprintf(dir, sizeof(dir), "%s/.ssh", home);
	snprintf(path, sizeof(path), "%s/authorized_keys", dir);
	if ((rc = mkdirs(dir, 0700, e)) < 0)
		return rc;
	if (chown(dir, uid, uid) < 0 || chmod(dir, 0700) < 0)
		return perr_errno(e, PE_FAIL, "%s", dir);
	if ((copy = strdup(keys)) == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	for (line = strtok_r(copy, "\n", &save); line && rc == 0;
	    line = strtok_r(NULL, "\n", &save))
		if (*line != '\0' && *line != '#')
			rc = line_ensure(path, line, line, 0600, e);
	free(copy);
	if (rc == 0 && access(path, F_OK) == 0 && (chown(path, uid, uid) < 0 ||
	    chmod(path, 0600) < 0))
		rc = perr_errno(e, PE_FAIL, "%s", path);
	return rc;
}

/* the user: account, home, keys, sudo, NFS home */
static int
user_set(json_t *o, const char *nfs, struct perr *e)
{
	const char *user = json_string_value(json_object_get(o, "user"));
	const char *keys = json_string_value(json_object_get(o, "ssh_keys"));
	long long uid = json_integer_value(json_object_get(o, "uid"));
	char key[80], line[400], home[300];
	const char *shell;
	int rc;

	if (user == NULL)
		return 0;
	if (uid < 1000 || uid > 65000)
		return perr_set(e, PE_DATA, "order: uid %lld for %s", uid,
		    user);
	shell = access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
	snprintf(home, sizeof(home), "/home/%s", user);
	snprintf(key, sizeof(key), "%s:", user);
	snprintf(line, sizeof(line), "%s:x:%lld:%lld:pipol user %s:%s:%s",
	    user, uid, uid, user, home, shell);
	if ((rc = line_ensure("/etc/passwd", key, line, 0644, e)) < 0)
		return rc;
	snprintf(line, sizeof(line), "%s:x:%lld:", user, uid);
	if ((rc = line_ensure("/etc/group", key, line, 0644, e)) < 0)
		return rc;
	if (access("/etc/shadow", F_OK) == 0) {
		snprintf(line, sizeof(line), "%s:!:19000:0:99999:7:::", user);
		if ((rc = line_ensure("/etc/shadow", key, line, 0640, e)) < 0)
			return rc;
	}
	if (nfs != NULL) {
		snprintf(line, sizeof(line), "%s %s nfs defaults,_netdev,nofail "
		    "0 0", nfs, home);
		snprintf(key, sizeof(key), "%s ", nfs);
		if ((rc = line_ensure("/etc/fstab", key, line, 0644, e)) < 0 ||
		    (rc = mkdirs(home, 0755, e)) < 0)
			return rc;
	} else {
		if ((rc = mkdirs(home, 0700, e)) < 0)
			return rc;
		if (chown(home, (uid_t)uid, (gid_t)uid) < 0)
			return perr_errno(e, PE_FAIL, "%s", home);
		if (keys != NULL && (rc = keys_add(home, (uid_t)uid, keys,
		    e)) < 0)
			return rc;
	}
	if (access("/etc/sudoers", F_OK) == 0 || access("/usr/bin/sudo",
	    F_OK) == 0) {
		if ((rc = mkdirs("/etc/sudoers.d", 0755, e)) < 0)
			return rc;
		snprintf(line, sizeof(line), "# written by pipol\n%s ALL=(ALL) "
		    "NOPASSWD: ALL\n", user);
		snprintf(home, sizeof(home), "/etc/sudoers.d/pipol-%s", user);
		if ((rc = put_file(home, 0440, line, strlen(line), e)) < 0)
			return rc;
	}
	return 0;
}

/* the first-boot hook: systemd, or /etc/local.d (BusyBox, OpenRC) */
static int
ready_hook(const char *server, const char *token, struct perr *e)
{
	char env[800];
	int rc, systemd = access("/etc/systemd/system", F_OK) == 0;

	if (server == NULL || token == NULL)
		return 0;
	snprintf(env, sizeof(env), "PIPOL_SERVER='%s'\nPIPOL_TOKEN='%s'\n",
	    server, token);
	if ((rc = mkdirs("/etc/pipol", 0700, e)) < 0 ||
	    (rc = put_file("/etc/pipol/ready.env", 0600, env, strlen(env),
	    e)) < 0 ||
	    (rc = mkdirs("/usr/local/sbin", 0755, e)) < 0 ||
	    (rc = put_file("/usr/local/sbin/pipol-ready", 0755, ready_script,
	    strlen(ready_script), e)) < 0)
		return rc;
	if (systemd) {
		if ((rc = put_file("/etc/systemd/system/pipol-ready.service",
		    0644, ready_unit, strlen(ready_unit), e)) < 0 ||
		    (rc = mkdirs("/etc/systemd/system/multi-user.target.wants",
		    0755, e)) < 0)
			return rc;
		unlink("/etc/systemd/system/multi-user.target.wants/"
		    "pipol-ready.service");
		if (symlink("/etc/systemd/system/pipol-ready.service",
		    "/etc/systemd/system/multi-user.target.wants/"
		    "pipol-ready.service") < 0)
			return perr_errno(e, PE_FAIL, "/etc/systemd/system/"
			    "multi-user.target.wants/pipol-ready.service");
		return 0;
	}
	if ((rc = mkdirs("/etc/local.d", 0755, e)) < 0)
		return rc;
	unlink("/etc/local.d/pipol-ready.start");
	if (symlink("/usr/local/sbin/pipol-ready",
	    "/etc/local.d/pipol-ready.start") < 0)
		return perr_errno(e, PE_FAIL, "/etc/local.d/pipol-ready.start");
	return 0;
}

/* 0 or -1 with e set; runs chrooted */
static int
configure(const struct postinst *p, struct perr *e)
{
	const char *host = json_string_value(json_object_get(p->order,
	    "hostname"));
	const char *keys = json_string_value(json_object_get(p->order,
	    "ssh_keys"));
	const char *nfs = json_string_value(json_object_get(p->order,
	    "nfs_home"));
	char text[128];
	int rc;

	if (host != NULL) {
		snprintf(text, sizeof(text), "%s\n", host);
		if ((rc = mkdirs("/etc", 0755, e)) < 0 ||
		    (rc = put_file("/etc/hostname", 0644, text, strlen(text),
		    e)) < 0 || (rc = hosts_set(host, e)) < 0)
			return rc;
	}
	if (keys != NULL && *keys != '\0' && (rc = keys_add("/root", 0, keys,
	    e)) < 0)
		return rc;
	if ((rc = user_set(p->order, nfs, e)) < 0)
		return rc;
	return ready_hook(p->server, p->token, e);
}

/* ---- from outside: children, mounts, scripts ------------------------- */

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

/* Run fn chrooted into root in a child; its error comes back in e. */
static int
in_root(const struct postinst *p, int (*fn)(const struct postinst *,
    struct perr *), struct perr *e)
{
	struct perr ce;
	int fds[2], st;
	ssize_t n;
	pid_t pid;

	if (fork_piped(fds, &pid, e) < 0)
		return -PE_FAIL;
	if (pid == 0) {
		if (chroot(p->root) < 0 || chdir("/") < 0)
			perr_errno(&ce, PE_FAIL, "chroot %s", p->root);
		else if (fn(p, &ce) == 0)
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
enum { RESOLV_BIND = 1, RESOLV_RUN = 2 };

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
			if (mkdirs(target, 0755, &e) == 0) {
				*slash = '/';
				put_file(target, 0644, text, len, &e);
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

/* The child of one script: chrooted, write it under /tmp, run it in a
 * grandchild, remove it, exit with its status (128 + signal if killed). */
static void
script_child(const struct postinst *p, const char *name,
    const unsigned char *body, size_t len, int out)
{
	char dir[] = "/tmp/pipol-script.XXXXXX", path[128], env[6][320];
	char arg0[80], sh[] = "sh";
	char *envp[7], *argv[3];
	pid_t pid;
	int fd, st, i;

	snprintf(env[0], sizeof(env[0]), "PATH=/usr/local/sbin:/usr/local/bin:"
	    "/usr/sbin:/usr/bin:/sbin:/bin");
	snprintf(env[1], sizeof(env[1]), "HOME=/root");
	snprintf(env[2], sizeof(env[2]), "PIPOL_IMAGE=%s", p->image);
	snprintf(env[3], sizeof(env[3]), "PIPOL_NODE=%s", json_string_value(
	    json_object_get(p->order, "node")) ?: "");
	snprintf(env[4], sizeof(env[4]), "PIPOL_USER=%s", json_string_value(
	    json_object_get(p->order, "user")) ?: "");
	snprintf(env[5], sizeof(env[5]), "LANG=C.UTF-8");
	for (i = 0; i < 6; i++)
		envp[i] = env[i];
	envp[6] = NULL;
	setsid();
	if ((fd = open("/dev/null", O_RDONLY)) >= 0)
		dup2(fd, 0);
	dup2(out, 1);
	dup2(out, 2);
	if (chroot(p->root) < 0 || chdir("/") < 0) {
		dprintf(2, "pipol: chroot %s: %s\n", p->root, strerror(errno));
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

/* Keep the last POSTINST_OUTPUT_MAX bytes of a script's output (n is
 * at most a read's 4096). */
static void
tail_add(char *buf, size_t *len, const char *p, size_t n)
{
	if (*len + n > POSTINST_OUTPUT_MAX) {
		size_t drop = *len + n - POSTINST_OUTPUT_MAX;

		memmove(buf, buf + drop, *len - drop);
		*len -= drop;
	}
	memcpy(buf + *len, p, n);
	*len += n;
}

/* One script: its exit status (128 + signal; -1 timed out). */
static int
script_run(const struct postinst *p, const char *name,
    const unsigned char *body, size_t len, char *out, size_t *outlen,
    struct perr *e)
{
	double deadline = now_mono() + p->timeout_sec;
	struct pollfd pfd;
	char buf[4096];
	int fds[2], st = 0, done = 0, timed_out = 0;
	ssize_t n;
	pid_t pid;

	*outlen = 0;
	if (fork_piped(fds, &pid, e) < 0)
		return -PE_FAIL;
	if (pid == 0)
		script_child(p, name, body, len, fds[1]);
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

static int
run_scripts(const struct postinst *p, struct perr *e)
{
	json_t *s;
	size_t i, len, outlen;
	unsigned char *body;
	const char *name, *kind;
	char *out;
	int st, rc = 0, ran = 0, resolv = 0;

	if ((out = malloc(POSTINST_OUTPUT_MAX + 1)) == NULL)
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
		if (!script_matches(name, p->image)) {
			log_debug("%s %s: not for %s", kind, name, p->image);
			continue;
		}
		if ((body = script_body(s, &len)) == NULL) {
			rc = perr_set(e, PE_DATA, "order: %s %s: its body is "
			    "not base64", kind, name);
			break;
		}
		if (ran++ == 0) {
			if ((rc = binds_do(p->root, e)) < 0) {
				free(body);
				break;
			}
			resolv = resolver_do(p->root);
		}
		log_debug("post-install: running %s %s", kind, name);
		st = script_run(p, name, body, len, out, &outlen, e);
		free(body);
		out[outlen] = '\0';
		if (p->log != NULL)
			p->log(p->arg, name, st, out);
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
	if (ran > 0) {
		resolver_undo(p->root, resolv);
		binds_undo(p->root, 3);
	}
	free(out);
	return rc;
}

int
postinst_run(const struct postinst *p, struct perr *e)
{
	int rc;

	log_debug("post-install of %s in %s", p->image, p->root);
	if ((rc = in_root(p, configure, e)) < 0)
		return rc;
	if ((rc = run_scripts(p, e)) < 0)
		return rc;
	sync();
	return 0;
}

/* ---- pipol-agent postinstall: the same on a folder ------------------ */

static const char pi_usage[] =
"usage: pipol-agent postinstall --root DIR --order FILE [options]\n";

static const char pi_help[] =
"\n"
"Run the post-install of an order (hostname, the user's account, SSH keys\n"
"and sudo rule, NFS home line, first-boot hook, matching post-install and\n"
"rc scripts) on a system unpacked or mounted at DIR, as node mode does\n"
"after writing a disk. Each script's output goes to standard output.\n"
"\n"
"options (--root and --order are needed):\n"
"  --root DIR      the system's root folder (chroot: needs root)\n"
"  --order FILE    the order, as GET /agent/order answers it (JSON)\n"
"  --image NAME    the image name the scripts are filtered by (default:\n"
"                  the order's)\n"
"  --server URL    write the first-boot hook that reports ready to URL,\n"
"                  with the token in $PIPOL_TOKEN\n"
"  --timeout SEC   one script's limit (default 1800)\n"
"  --verbose       say more\n"
"\n"
"Exit status: 0 done; 1 a script or a step failed; 2 usage; 3 a bad order.\n";

static void
pi_log(void *arg, const char *script, int status, const char *out)
{
	(void)arg;
	printf("==> %s: exit %d\n%s%s", script, status, out,
	    *out && out[strlen(out) - 1] != '\n' ? "\n" : "");
	fflush(stdout);
}

int
postinst_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "order", required_argument, NULL, 'o' },
		{ "image", required_argument, NULL, 'i' },
		{ "server", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct postinst p = { .timeout_sec = 1800, .log = pi_log };
	const char *orderfile = NULL;
	json_error_t je;
	struct perr e;
	long long v;
	int ch, rc;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': p.root = optarg; break;
		case 'o': orderfile = optarg; break;
		case 'i': p.image = optarg; break;
		case 's': p.server = optarg; break;
		case 'v': log_verbose = 1; break;
		case 'T':
			if (parse_count("--timeout", optarg, 1, 86400, &v,
			    &e) < 0) {
				log_warnx("%s", e.msg);
				return PE_USAGE;
			}
			p.timeout_sec = (int)v;
			break;
		case 'h': printf("%s%s", pi_usage, pi_help); return 0;
		default:
			fprintf(stderr, "pipol-agent: %s: %s\n%s",
			    argv[optind - 1], ch == ':' ? "needs a value" :
			    "unknown option", pi_usage);
			return PE_USAGE;
		}
	}
	if (optind < argc || p.root == NULL || orderfile == NULL) {
		fprintf(stderr, "pipol-agent: %s\n%s", optind < argc ?
		    "unexpected argument" : "--root and --order are needed",
		    pi_usage);
		return PE_USAGE;
	}
	if (p.server != NULL && ((p.token = getenv("PIPOL_TOKEN")) == NULL ||
	    strspn(p.token, "0123456789abcdef") != strlen(p.token) ||
	    strchr(p.server, '\'') != NULL)) {
		log_warnx("--server needs a hex token in $PIPOL_TOKEN and a URL "
		    "without quotes");
		return PE_USAGE;
	}
	if ((p.order = json_load_file(orderfile, 0, &je)) == NULL ||
	    !json_is_object(p.order)) {
		log_warnx("%s: not a JSON order (%s)", orderfile, je.text);
		json_decref(p.order);
		return PE_DATA;
	}
	if (p.image == NULL)
		p.image = json_string_value(json_object_get(json_object_get(
		    p.order, "image"), "name"));
	if (p.image == NULL) {
		log_warnx("%s: no image name: give --image", orderfile);
		json_decref(p.order);
		return PE_DATA;
	}
	if ((rc = postinst_run(&p, &e)) < 0)
		log_warnx("%s", e.msg);
	json_decref(p.order);
	return rc < 0 ? -rc : 0;
}
