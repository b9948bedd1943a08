/*
 * console_cmd.c -- "pipol console NODE": a node's serial console, and
 * "pipol log ID --console": what a deployment's console said.
 *
 * The console is an upgraded connection to pipold (client.c): keys go
 * to the node as typed, what it says to standard output. On a terminal
 * the line is raw (no echo, no signals: Ctrl-C goes to the node) and
 * restored on every way out; Ctrl-] or "~." at the start of a line
 * detaches. Standard input need not be a terminal: what it holds is
 * sent, then the output is shown until pipold closes or --seconds.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "cli.h"
#include "log.h"
#include "parse.h"
#include "perr.h"

#define CONSOLE_DETACH_KEY	0x1d	/* Ctrl-] as telnet's */
#define CONSOLE_BUF_BYTES	4096

static struct termios saved;
static int raw_on;
static volatile sig_atomic_t got_signal;

static void
raw_restore(void)
{
	if (raw_on)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	raw_on = 0;
}

static void
on_signal(int sig)
{
	got_signal = sig;
}

static void
raw_start(void)
{
	struct termios t;
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved) < 0)
		return;
	t = saved;
	cfmakeraw(&t);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0) {
		raw_on = 1;
		atexit(raw_restore);
	}
}

/*
 * Keys typed, up to a detach: how many of buf to send (*detach set when
 * Ctrl-] or "~." at a line's start came). *bol: at a line's start; a
 * '~' there is held until the next key says what it is.
 */
static size_t
keys_scan(char *buf, size_t len, int *bol, int *tilde, int *detach)
{
	size_t i, out = 0;

	for (i = 0; i < len; i++) {
		char k = buf[i];

		if (k == CONSOLE_DETACH_KEY || (*tilde && k == '.')) {
			*detach = 1;
			return out;
		}
		if (*tilde) {
			*tilde = 0;
			if (k != '~')	/* "~~": one '~' sent */
				buf[out++] = '~';
		} else if (*bol && k == '~') {
			*tilde = 1;
			continue;
		}
		buf[out++] = k;
		*bol = k == '\r' || k == '\n';
	}
	return out;
}

/* The session: 0 detached (or --seconds), 1 pipold closed it. */
static int
console_loop(CURL *h, long long seconds)
{
	char buf[CONSOLE_BUF_BYTES];
	int bol = 1, tilde = 0, detach = 0, in_open = 1;
	time_t end = seconds > 0 ? time(NULL) + seconds : 0;
	curl_socket_t s = CURL_SOCKET_BAD;
	struct pollfd p[2];
	CURLcode res;
	size_t n;
	ssize_t r;

	curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &s);
	while (!detach && !got_signal) {
		if (end != 0 && time(NULL) >= end)
			return 0;
		p[0] = (struct pollfd){ .fd = s, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = in_open ? STDIN_FILENO : -1,
		    .events = POLLIN };
		if (poll(p, 2, 250) < 0 && errno != EINTR)
			return 1;
		if (p[0].revents != 0) {
			res = curl_easy_recv(h, buf, sizeof(buf), &n);
			if (res == CURLE_OK && n == 0)
				return 1;
			if (res != CURLE_OK && res != CURLE_AGAIN)
				return 1;
			if (res == CURLE_OK &&
			    write_all(STDOUT_FILENO, buf, n) < 0)
				return 1;
		}
		if (in_open && p[1].revents != 0) {
			r = read(STDIN_FILENO, buf, sizeof(buf));
			if (r <= 0) {
				in_open = r < 0 && errno == EINTR;
				continue;
			}
			n = keys_scan(buf, (size_t)r, &bol, &tilde, &detach);
			if (n > 0 && client_send_all(h, buf, n) < 0)
				return 1;
		}
	}
	return 0;
}

const struct cmd_opt console_opts[] = {
	{ "seconds", 0, CMD_VALUE, "N",
	    "detach after N seconds (scripts, tests)" },
	CMD_OPT_END
};

const struct cmd_opt log_console_opts[] = {
	{ "console", 0, CMD_FLAG, NULL,
	    "the deployment's console log instead: what the\n"
	    "node said on its serial console, as it said it" },
	CMD_OPT_END
};

int
cmd_console(const struct cmd *c, const struct cmd_args *a)
{
	char path[128], early[CLIENT_HEAD_MAX];
	long long seconds = 0;
	size_t early_len;
	struct perr e;
	CURL *h;
	int closed;

	if (cmd_str(a, 0) != NULL && parse_count("--seconds", cmd_str(a, 0),
	    1, 86400 * 7, &seconds, &e) < 0)
		return cmd_usage_error(c, "%s", e.msg);
	snprintf(path, sizeof(path), "/api/nodes/%.63s/console", a->pos[0]);
	if (client_upgrade(path, "pipol-console", &h, early, &early_len,
	    &e) < 0)
		return cli_fail(&e);
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "pipol: %s's console; Ctrl-] or ~. at the "
		    "start of a line detaches\r\n", a->pos[0]);
	raw_start();
	if (early_len > 0)
		write_all(STDOUT_FILENO, early, early_len);
	closed = console_loop(h, seconds);
	curl_easy_cleanup(h);
	raw_restore();
	if (closed) {
		log_warnx("node %s: console closed by pipold", a->pos[0]);
		return PE_FAIL;
	}
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "\npipol: detached from %s\n", a->pos[0]);
	return 0;
}

/* pipol log ID --console: the log as it is, bytes as the node said them */
int
console_log_get(long long id)
{
	json_t *reply = NULL;
	char path[64];
	struct perr e;

	/* the same owner-or-admin rule, with pipold's own refusal line */
	snprintf(path, sizeof(path), "/api/deployments/%lld/log", id);
	if (client_call("GET", path, NULL, &reply, &e) < 0)
		return cli_fail(&e);
	json_decref(reply);
	snprintf(path, sizeof(path), "/api/deployments/%lld/console", id);
	if (client_raw("GET", path, NULL, 0, stdout, &e) < 0)
		return cli_fail(&e);
	return fflush(stdout) == 0 ? 0 : PE_FAIL;
}
