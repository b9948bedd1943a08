/*
 * postinst_config.c -- the configuration edits of post-install, made
 * inside the deployed system; chroot.c runs them in a child chrooted
 * into it, so a symbolic link in the image resolves inside the image,
 * never in the deployment environment. They are: the hostname
 * (/etc/hostname, the 127.0.1.1 line of /etc/hosts), the user's SSH keys
 * for root, the user's account (passwd, group, shadow; uid from the
 * order), home and keys, a password-less sudo rule
 * (/etc/sudoers.d/pipol-USER), the NFS home line in /etc/fstab when
 * pipold has --nfs-home; and, after every script ran, the first-boot
 * hook that reports "ready" (a systemd unit, or /etc/local.d/ for
 * BusyBox and OpenRC systems) with the user-phase token. Runs no
 * script and mounts nothing.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "chroot.h"
#include "log.h"
#include "postinst.h"

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
	rc = chroot_put_file(path, mode, buf, strlen(buf), e);
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
	rc = chroot_put_file("/etc/hosts", 0644, buf, strlen(buf), e);
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
	if ((rc = chroot_mkdirs(dir, 0700, e)) < 0)
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
		    (rc = chroot_mkdirs(home, 0755, e)) < 0)
			return rc;
	} else {
		if ((rc = chroot_mkdirs(home, 0700, e)) < 0)
			return rc;
		if (chown(home, (uid_t)uid, (gid_t)uid) < 0)
			return perr_errno(e, PE_FAIL, "%s", home);
		if (keys != NULL && (rc = keys_add(home, (uid_t)uid, keys,
		    e)) < 0)
			return rc;
	}
	if (access("/etc/sudoers", F_OK) == 0 || access("/usr/bin/sudo",
	    F_OK) == 0) {
		if ((rc = chroot_mkdirs("/etc/sudoers.d", 0755, e)) < 0)
			return rc;
		snprintf(line, sizeof(line), "# written by pipol\n%s ALL=(ALL) "
		    "NOPASSWD: ALL\n", user);
		snprintf(home, sizeof(home), "/etc/sudoers.d/pipol-%s", user);
		if ((rc = chroot_put_file(home, 0440, line, strlen(line), e)) < 0)
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
	if ((rc = chroot_mkdirs("/etc/pipol", 0700, e)) < 0 ||
	    (rc = chroot_put_file("/etc/pipol/ready.env", 0600, env, strlen(env),
	    e)) < 0 ||
	    (rc = chroot_mkdirs("/usr/local/sbin", 0755, e)) < 0 ||
	    (rc = chroot_put_file("/usr/local/sbin/pipol-ready", 0755, ready_script,
	    strlen(ready_script), e)) < 0)
		return rc;
	if (systemd) {
		if ((rc = chroot_put_file("/etc/systemd/system/pipol-ready.service",
		    0644, ready_unit, strlen(ready_unit), e)) < 0 ||
		    (rc = chroot_mkdirs("/etc/systemd/system/multi-user.target.wants",
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
	if ((rc = chroot_mkdirs("/etc/local.d", 0755, e)) < 0)
		return rc;
	unlink("/etc/local.d/pipol-ready.start");
	if (symlink("/usr/local/sbin/pipol-ready",
	    "/etc/local.d/pipol-ready.start") < 0)
		return perr_errno(e, PE_FAIL, "/etc/local.d/pipol-ready.start");
	return 0;
}

/*
 * sub (schema 016): the job hook of a deployment that runs a job's
 * command (the order's "job"). Waits for pipold to see the system
 * ready, fetches the command and the source, runs the command as the
 * user (su -s /bin/sh USER pipol-job-run: never root; its words read
 * back from \0ooo escapes into "$@" and exec'd, no shell ever parses
 * them), sends stdout, stderr (64 MiB each, then cut) and the results
 * folder in pieces, then the exit status, once; removes itself and its
 * token. The user's side (pipol-job-run) is a separate script, so that
 * what runs as the user never reads root's files: the command and the
 * source come on its stdin, its output goes to files root opened.
 */
static const char job_script[] =
"#!/bin/sh\n"
"# pipol-job -- written by pipol's post-install: this deployment's run\n"
"# of a job (pipol sub), once, then this hook and its token are removed.\n"
". /etc/pipol/job.env || exit 1\n"
"auth=\"Authorization: Bearer $PIPOL_JOB_TOKEN\"\n"
"w=/var/lib/pipol-job\n"
"# a run with a reboot (an image refresh): PIPOL_JOB_PHASE=update, the\n"
"# node reboots, then PIPOL_JOB_PHASE=test; $w/phase says where it is\n"
"phase=\n"
"[ -n \"$PIPOL_JOB_REBOOT\" ] && [ -f \"$w/phase\" ] && phase=$(cat \"$w/phase\")\n"
"if [ \"$phase\" != test ]; then\n"
"\trm -rf \"$w\"; mkdir -p -m 700 \"$w\" || exit 1\n"
"fi\n"
"get() {\n"
"\tif command -v curl >/dev/null 2>&1; then\n"
"\t\tcurl -fsS -m 600 -o \"$2\" -H \"$auth\" \"$PIPOL_SERVER$1\"\n"
"\telse\n"
"\t\twget -q -O \"$2\" --header \"$auth\" \"$PIPOL_SERVER$1\"\n"
"\tfi\n"
"}\n"
"post() {\n"
"\tif command -v curl >/dev/null 2>&1; then\n"
"\t\tcurl -fsS -m 600 -o /dev/null -H \"$auth\" --data-binary \"@$2\" \\\n"
"\t\t    -H 'Content-Type: application/octet-stream' \"$PIPOL_SERVER$1\"\n"
"\telse\n"
"\t\twget -q -O /dev/null --header \"$auth\" --post-file \"$2\" \\\n"
"\t\t    \"$PIPOL_SERVER$1\"\n"
"\tfi\n"
"}\n"
"# postbin URL FILE: bytes as they are (curl), or in base64 (BusyBox's\n"
"# wget --post-file stops at the first NUL byte)\n"
"postbin() {\n"
"\tif command -v curl >/dev/null 2>&1; then\n"
"\t\tpost \"$1\" \"$2\"\n"
"\telse\n"
"\t\tbase64 < \"$2\" > \"$2.b64\" && post \"$1&enc=base64\" \"$2.b64\"\n"
"\tfi\n"
"}\n"
"retry() { for _ in 1 2 3 4 5; do \"$@\" && return 0; sleep 3; done; return 1; }\n"
"# send FILE NAME LIMIT: its first LIMIT bytes, in pieces of 4 MiB (in\n"
"# base64 under pipold's 8 MiB a request)\n"
"send() {\n"
"\tsize=$(wc -c < \"$1\"); off=0\n"
"\t[ \"$size\" -gt \"$3\" ] && { size=$3; trunc=true; }\n"
"\twhile [ $off -lt $size ]; do\n"
"\t\tn=$((size - off)); [ $n -gt 4194304 ] && n=4194304\n"
"\t\tdd if=\"$1\" bs=1048576 skip=$((off / 1048576)) count=4 2>/dev/null |\n"
"\t\t    head -c $n > \"$w/piece\"\n"
"\t\tretry postbin \"/job/out/$2?off=$off\" \"$w/piece\" || return 1\n"
"\t\toff=$((off + n))\n"
"\tdone\n"
"}\n"
"home=$(awk -F: -v u=\"$PIPOL_USER\" '$1 == u { print $6 }' /etc/passwd)\n"
"export PIPOL_RESULTS=\"$home/pipol-results\"\n"
"as_user() { su -s /bin/sh \"$PIPOL_USER\" /usr/local/sbin/pipol-job-run \"$@\"; }\n"
"if [ \"$phase\" != test ]; then\n"
"\ti=0\n"
"\tuntil get /job/argv \"$w/argv\" 2>/dev/null; do\n"
"\t\ti=$((i + 1)); [ $i -ge 300 ] && exit 1\n"
"\t\tsleep 2\n"
"\tdone\n"
"\tretry get /job/source \"$w/source\" || exit 1\n"
"\t: > \"$w/stdout\"; : > \"$w/stderr\"\n"
"\t[ -s \"$w/source\" ] && as_user unpack < \"$w/source\" >> \"$w/stderr\" 2>&1\n"
"\tdate +%s > \"$w/t0\"\n"
"fi\n"
"if [ -z \"$PIPOL_JOB_REBOOT\" ]; then\n"
"\tas_user run < \"$w/argv\" >> \"$w/stdout\" 2>> \"$w/stderr\"\n"
"\tstatus=$?\n"
"elif [ \"$phase\" != test ]; then\n"
"\tPIPOL_JOB_PHASE=update as_user run < \"$w/argv\" >> \"$w/stdout\" \\\n"
"\t    2>> \"$w/stderr\"\n"
"\tstatus=$?\n"
"\tif [ $status = 0 ]; then\n"
"\t\techo \"pipol-job: update done, rebooting (boot $(cat \\\n"
"\t\t    /proc/sys/kernel/random/boot_id 2>/dev/null))\" >> \"$w/stderr\"\n"
"\t\techo test > \"$w/phase\"\n"
"\t\tsync\n"
"\t\techo 'pipol: job: update done, rebooting' > /dev/console 2>/dev/null\n"
"\t\treboot\n"
"\t\texit 0\n"
"\tfi\n"
"else\n"
"\techo \"pipol-job: up again (boot $(cat \\\n"
"\t    /proc/sys/kernel/random/boot_id 2>/dev/null)), the test\" >> \"$w/stderr\"\n"
"\tPIPOL_JOB_PHASE=test as_user run < \"$w/argv\" >> \"$w/stdout\" \\\n"
"\t    2>> \"$w/stderr\"\n"
"\tstatus=$?\n"
"fi\n"
"t1=$(date +%s)\n"
"as_user pack > \"$w/results\" 2>> \"$w/stderr\"\n"
"trunc=false\n"
"send \"$w/stdout\" stdout 67108864 && send \"$w/stderr\" stderr 67108864 &&\n"
"    send \"$w/results\" results 268435456 || exit 1\n"
"printf '{\"status\":%d,\"seconds\":%d,\"truncated\":%s}' \"$status\" \\\n"
"    $((t1 - $(cat \"$w/t0\"))) \"$trunc\" > \"$w/result\"\n"
"# this hook gone and written through before the result is in: then\n"
"# pipold may cut the power (a refresh captures this disk next, and no\n"
"# piece of pipol may go with it; a released node is powered off)\n"
"rm -rf /etc/pipol/job.env /etc/local.d/pipol-job.start \\\n"
"    /etc/systemd/system/multi-user.target.wants/pipol-job.service \\\n"
"    /etc/systemd/system/pipol-job.service /usr/local/sbin/pipol-job-run \\\n"
"    /usr/local/sbin/pipol-ready /usr/local/sbin/pipol-job\n"
"rmdir /etc/pipol 2>/dev/null\n"
"cp \"$w/result\" /run/pipol-job-result 2>/dev/null || cp \"$w/result\" /tmp/pipol-job-result\n"
"rm -rf \"$w\"\n"
"sync\n"
"r=/run/pipol-job-result; [ -f $r ] || r=/tmp/pipol-job-result\n"
"retry post /job/result $r\n"
"echo \"pipol: job run over, exit status $status\" > /dev/console 2>/dev/null\n"
"rm -f $r\n"
"exit 0\n";

/* what runs as the user: unpack (stdin into $HOME), run (the command's
 * words on stdin, one a line in \0ooo escapes), pack (the results) */
static const char job_run_script[] =
"#!/bin/sh\n"
"# pipol-job-run -- written by pipol's post-install: the part of a job's\n"
"# run that runs as the user (pipol-job calls it through su).\n"
"cd || exit 125\n"
"case $1 in\n"
"unpack) exec tar -xzf - ;;\n"
"pack) mkdir -p \"$PIPOL_RESULTS\" && cd \"$PIPOL_RESULTS\" &&\n"
"    exec tar -czf - . ;;\n"
"run)\n"
"\tmkdir -p \"$PIPOL_RESULTS\"\n"
"\tset --\n"
"\twhile IFS= read -r l; do\n"
"\t\ta=$(printf '%bx' \"$l\")\n"
"\t\tset -- \"$@\" \"${a%x}\"\n"
"\tdone\n"
"\texec \"$@\" < /dev/null ;;\n"
"esac\n"
"exit 2\n";

static const char job_unit[] =
"# written by pipol's post-install: a job's run, once, after ready\n"
"[Unit]\n"
"Description=pipol: this deployment's job run (pipol sub)\n"
"Wants=network-online.target\n"
"After=network-online.target pipol-ready.service\n"
"ConditionPathExists=/etc/pipol/job.env\n"
"\n"
"[Service]\n"
"Type=simple\n"
"ExecStart=/usr/local/sbin/pipol-job\n"
"\n"
"[Install]\n"
"WantedBy=multi-user.target\n";

static int
job_hook(const struct postinst *p, struct perr *e)
{
	json_t *job = json_object_get(p->order, "job");
	const char *tok = json_string_value(json_object_get(job, "token"));
	const char *user = json_string_value(json_object_get(p->order, "user"));
	char env[800];
	int rc;

	/* refresh (schemas 018, 023): an image refresh's run updates the
	 * system, as root, on a bare deployment (no user in the order),
	 * and reboots it between its update and its test */
	if (json_is_true(json_object_get(job, "root")))
		user = "root";
	if (tok == NULL || user == NULL || p->server == NULL)
		return 0;
	if (strspn(tok, "0123456789abcdef") != 64 || tok[64] != '\0')
		return perr_set(e, PE_DATA, "order: a bad job token");
	snprintf(env, sizeof(env), "PIPOL_SERVER='%s'\nPIPOL_JOB_TOKEN='%s'\n"
	    "PIPOL_USER='%s'\nPIPOL_JOB_REBOOT='%s'\n", p->server, tok, user,
	    json_is_true(json_object_get(job, "reboot")) ? "1" : "");
	if ((rc = chroot_put_file("/etc/pipol/job.env", 0600, env, strlen(env),
	    e)) < 0 ||
	    (rc = chroot_put_file("/usr/local/sbin/pipol-job", 0755, job_script,
	    strlen(job_script), e)) < 0 ||
	    (rc = chroot_put_file("/usr/local/sbin/pipol-job-run", 0755,
	    job_run_script, strlen(job_run_script), e)) < 0)
		return rc;
	if (access("/etc/systemd/system", F_OK) == 0) {
		if ((rc = chroot_put_file("/etc/systemd/system/pipol-job.service",
		    0644, job_unit, strlen(job_unit), e)) < 0)
			return rc;
		unlink("/etc/systemd/system/multi-user.target.wants/"
		    "pipol-job.service");
		if (symlink("/etc/systemd/system/pipol-job.service",
		    "/etc/systemd/system/multi-user.target.wants/"
		    "pipol-job.service") < 0)
			return perr_errno(e, PE_FAIL, "pipol-job.service");
		return 0;
	}
	unlink("/etc/local.d/pipol-job.start");
	if (symlink("/usr/local/sbin/pipol-job", "/etc/local.d/pipol-job.start")
	    < 0)
		return perr_errno(e, PE_FAIL, "/etc/local.d/pipol-job.start");
	return 0;
}

int
postinst_configure(const struct postinst *p, struct perr *e)
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
		if ((rc = chroot_mkdirs("/etc", 0755, e)) < 0 ||
		    (rc = chroot_put_file("/etc/hostname", 0644, text, strlen(text),
		    e)) < 0 || (rc = hosts_set(host, e)) < 0)
			return rc;
	}
	if (keys != NULL && *keys != '\0' && (rc = keys_add("/root", 0, keys,
	    e)) < 0)
		return rc;
	return user_set(p->order, nfs, e);
}

int
postinst_ready_hook(const struct postinst *p, struct perr *e)
{
	int rc;

	if ((rc = ready_hook(p->server, p->token, e)) < 0)
		return rc;
	return job_hook(p, e);	/* sub: after ready_hook's folders */
}
