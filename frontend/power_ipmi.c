/*
 * power_ipmi.c -- the "ipmi" power driver: ipmitool over IPMI v2 LAN
 * (lanplus), started with an argument vector (never a shell), its
 * password read by ipmitool from a file (-f), never on a command line;
 * standard output and error captured, the whole run bounded in time.
 *
 *   ipmitool -I lanplus -H HOST [-p PORT] -U USER -f PASSWORD_FILE
 *       [-C CIPHER] -N 2 -R 3 chassis power on|off|reset|cycle|status
 */
#include <sys/types.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
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

#define IPMI_TIMEOUT_SEC	20	/* then SIGKILL; -N 2 -R 3 end sooner */
#define IPMI_OUT_MAX		4096	/* ipmitool says one or two lines */
#define IPMI_USER_MAX		16	/* IPMI v2 user names: 16 bytes */

static int
is_hostname(const char *s)
{
	size_t label = 0;

	if (*s == '\0' || strlen(s) > 253)
		return 0;
	for (; *s; s++) {
		if (*s == '.') {
			if (label == 0 || s[-1] == '-')
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)*s) ||
		    (*s == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0 && s[-1] != '-';
}

static int
is_digits(const char *s, long lo, long hi)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*s))
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	return *end == '\0' && errno == 0 && v >= lo && v <= hi;
}

static const char *
param(const json_t *params, const char *key)
{
	return json_string_value(json_object_get(params, key));
}

int
power_ipmi_check(const json_t *params, struct perr *e)
{
	const char *host = param(params, "host"), *user = param(params, "user");
	const char *pw = param(params, "password_file");
	const char *port = param(params, "port");
	const char *cipher = param(params, "cipher");
	const char *sol = param(params, "sol");
	unsigned char addr[16];
	const char *s;

	if (host == NULL || user == NULL || pw == NULL)
		return perr_set(e, PE_USAGE, "power_params: the ipmi driver "
		    "needs \"host\", \"user\" and \"password_file\"");
	if (!is_hostname(host) && inet_pton(AF_INET, host, addr) != 1 &&
	    inet_pton(AF_INET6, host, addr) != 1)
		return perr_set(e, PE_USAGE, "power_params: \"host\": %.80s: "
		    "not a host name or IP address", host);
	if (*user == '\0' || *user == '-' || strlen(user) > IPMI_USER_MAX)
		return perr_set(e, PE_USAGE, "power_params: \"user\": %.80s: "
		    "not 1-%d characters, not starting with '-'", user,
		    IPMI_USER_MAX);
	for (s = user; *s; s++)
		if (!isgraph((unsigned char)*s))
			return perr_set(e, PE_USAGE, "power_params: \"user\": "
			    "spaces or control characters");
	if (pw[0] != '/' || strlen(pw) >= PATH_MAX ||
	    strpbrk(pw, "\n\r") != NULL)
		return perr_set(e, PE_USAGE, "power_params: \"password_file\": "
		    "%.120s: not an absolute path", pw);
	if (port != NULL && !is_digits(port, 1, 65535))
		return perr_set(e, PE_USAGE, "power_params: \"port\": %.20s: "
		    "not a port number", port);
	if (cipher != NULL && !is_digits(cipher, 0, 17))
		return perr_set(e, PE_USAGE, "power_params: \"cipher\": %.20s: "
		    "not a cipher suite 0-17", cipher);
	if (json_object_get(params, "sol") != NULL && (sol == NULL ||
	    (strcmp(sol, "on") != 0 && strcmp(sol, "off") != 0)))
		return perr_set(e, PE_USAGE, "power_params: \"sol\": on or off");
	return 0;
}

int
power_ipmi_sol(const json_t *params)
{
	const char *sol = param(params, "sol");

	return sol != NULL && strcmp(sol, "on") == 0;
}

/* ipmitool's path from $PATH, found before fork(): only execv(),
 * dup2() and _exit() may run in the child of a threaded process. */
static int
find_ipmitool(char *out, size_t len)
{
	const char *path = getenv("PATH");
	const char *p, *end;

	for (p = path ? path : "/usr/bin:/bin"; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		if ((size_t)snprintf(out, len, "%.*s/ipmitool", (int)(end - p),
		    p) < len && end > p && access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* Read the child's output until EOF or the deadline; 0, or -1 late. */
static int
gather_output(int fd, char *out, size_t max, size_t *len, long long deadline_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char sink[512];
	ssize_t n;
	int left;

	for (;;) {
		if ((left = (int)(deadline_ms - now_ms())) <= 0 ||
		    poll(&pfd, 1, left) == 0)
			return -1;
		n = read(fd, *len < max - 1 ? out + *len : sink,
		    *len < max - 1 ? max - 1 - *len : sizeof(sink));
		if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN))
			break;
		if (n > 0 && *len < max - 1)
			*len += (size_t)n;
	}
	out[*len] = '\0';
	return 0;
}

/* The last non-empty line of text, trimmed, in line. */
static void
last_line(const char *text, char *line, size_t len)
{
	const char *end = text + strlen(text), *start;

	while (end > text && isspace((unsigned char)end[-1]))
		end--;
	for (start = end; start > text && start[-1] != '\n'; start--)
		;
	snprintf(line, len, "%.*s", (int)(end - start), start);
}

/* Run argv, output in out; its wait status, *late when it ran late. */
static int
run_captured(char *const argv[], char *out, size_t max, int *status,
    int *late, struct perr *e)
{
	sigset_t none;
	int pfd[2], devnull;
	size_t len = 0;
	pid_t pid;

	if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		return perr_errno(e, PE_FAIL, "/dev/null");
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		close(devnull);
		return perr_errno(e, PE_FAIL, "ipmitool: pipe");
	}
	if ((pid = fork()) == 0) {
		/* pipold blocks SIGTERM and SIGINT (sigwait) and ignores
		 * SIGPIPE: ipmitool gets neither */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		dup2(devnull, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close_range(3, ~0U, 0);	/* nothing of pipold's leaks */
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	close(devnull);
	if (pid == -1) {
		close(pfd[0]);
		return perr_errno(e, PE_FAIL, "ipmitool: fork");
	}
	*late = gather_output(pfd[0], out, max, &len,
	    now_ms() + IPMI_TIMEOUT_SEC * 1000LL) < 0;
	close(pfd[0]);
	if (*late)
		kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) == -1 && errno == EINTR)
		;
	return 0;
}

int
power_ipmi_argv(const char *node, const json_t *params,
    const char *const *cmd, const char **argv, char *tool, struct perr *e)
{
	const char *host = param(params, "host"), *port = param(params, "port");
	const char *pw = param(params, "password_file");
	const char *cipher = param(params, "cipher");
	int n = 0, i;

	if (access(pw, R_OK) == -1)
		return perr_errno(e, PE_CONFLICT, "node %s: password_file %s",
		    node, pw);
	if (find_ipmitool(tool, PATH_MAX) < 0)
		return perr_set(e, PE_UNAVAIL, "node %s: ipmitool: not found "
		    "in PATH (install the ipmitool package)", node);
	argv[n++] = tool;
	argv[n++] = "-I", argv[n++] = "lanplus";
	argv[n++] = "-H", argv[n++] = host;
	if (port != NULL)
		argv[n++] = "-p", argv[n++] = port;
	argv[n++] = "-U", argv[n++] = param(params, "user");
	argv[n++] = "-f", argv[n++] = pw;
	if (cipher != NULL)
		argv[n++] = "-C", argv[n++] = cipher;
	argv[n++] = "-N", argv[n++] = "2";	/* seconds per try */
	argv[n++] = "-R", argv[n++] = "3";	/* tries */
	for (i = 0; cmd[i] != NULL && i < IPMI_CMD_MAX; i++)
		argv[n++] = cmd[i];
	argv[n] = NULL;
	return 0;
}

/*
 * ipmitool with the node's connection (host, port, user, password file,
 * cipher) and then the words of cmd (NULL-terminated, at most
 * IPMI_CMD_MAX); its whole output in out. 0 when it exited 0; else
 * -code, e naming the node and ipmitool's last line.
 */
int
power_ipmi_tool(const char *node, const json_t *params,
    const char *const *cmd, char *out, size_t outlen, struct perr *e)
{
	const char *host = param(params, "host");
	char tool[PATH_MAX], line[200];
	const char *argv[IPMI_ARGV_MAX];
	int n, status = 0, late = 0;

	if ((n = power_ipmi_argv(node, params, cmd, argv, tool, e)) < 0)
		return n;
	/* execv's prototype predates const; nothing is written through it */
	if ((n = run_captured((char *const *)(uintptr_t)argv, out,
	    outlen, &status, &late, e)) < 0)
		return n;
	if (late)
		return perr_set(e, PE_UNAVAIL, "node %s: ipmitool %s: no "
		    "answer in %d s", node, host, IPMI_TIMEOUT_SEC);
	last_line(out, line, sizeof(line));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return perr_set(e, PE_FAIL, "node %s: ipmitool %s: %s", node,
		    host, *line ? line : "failed");
	return 0;
}

int
power_ipmi_run(const char *node, const json_t *params, int action,
    char *msg, size_t msglen, struct perr *e)
{
	static const char *const verbs[POWER_NACTIONS] = {
		[POWER_ON] = "on", [POWER_OFF] = "off", [POWER_RESET] = "reset",
		[POWER_CYCLE] = "cycle", [POWER_STATUS] = "status",
	};
	const char *cmd[4] = { "chassis", "power", verbs[action], NULL };
	char out[IPMI_OUT_MAX], line[200];
	int rc;

	if ((rc = power_ipmi_tool(node, params, cmd, out, sizeof(out), e)) < 0)
		return rc;
	last_line(out, line, sizeof(line));
	snprintf(msg, msglen, "%s", *line ? line : "done");
	return 0;
}
