/*
 * power_qmp.c -- the "qemu" power driver: QMP, QEMU's JSON monitor
 * protocol, over the Unix socket the VM was started with
 * (-qmp unix:PATH,server=on,wait=off). One connection per action: the
 * greeting, qmp_capabilities, then the commands, one JSON object per
 * line each way; asynchronous events in between are skipped. Connect and
 * every read share one deadline.
 *
 *   on      cont (system_reset first when the guest shut down or
 *           panicked): a VM started with -S, or paused, runs
 *   off     quit: the QEMU process exits (a hard power off)
 *   reset   system_reset (a paused VM stays paused)
 *   cycle   system_reset, then cont: the node boots again and runs
 *   status  query-status: running, paused, prelaunch, shutdown, ...
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "perr.h"
#include "power.h"
#include "run.h"

#define QMP_TIMEOUT_MS	10000	/* one whole action; QEMU answers in ms */
#define QMP_MSG_MAX	16384	/* one message; answers here are < 1 KiB */

struct qmp {
	const char *node, *path;
	int fd;
	int eof;		/* QEMU closed the connection */
	long long deadline_ms;
	size_t len;
	char buf[QMP_MSG_MAX];
};

int
power_qmp_check(const json_t *params, struct perr *e)
{
	const char *p = json_string_value(json_object_get(params, "qmp"));
	struct sockaddr_un sa;

	if (p == NULL)
		return perr_set(e, PE_USAGE, "power_params: \"qmp\": missing "
		    "(the path of the VM's QMP socket)");
	if (p[0] != '/' || strlen(p) >= sizeof(sa.sun_path) ||
	    strpbrk(p, "\n\r") != NULL)
		return perr_set(e, PE_USAGE, "power_params: \"qmp\": %.120s: "
		    "not an absolute path of at most %zu bytes", p,
		    sizeof(sa.sun_path) - 1);
	/* console: the serial chardev's socket, read by console.c */
	p = json_string_value(json_object_get(params, "serial"));
	if (p != NULL && (p[0] != '/' || strlen(p) >= sizeof(sa.sun_path) ||
	    strpbrk(p, "\n\r") != NULL))
		return perr_set(e, PE_USAGE, "power_params: \"serial\": "
		    "%.120s: not an absolute path of at most %zu bytes", p,
		    sizeof(sa.sun_path) - 1);
	return 0;
}

/* One message (a JSON object) from QEMU. */
static int
qmp_read(struct qmp *q, json_t **msg, struct perr *e)
{
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
	json_error_t je;
	long long left;
	char *nl;
	ssize_t n;
	size_t len;

	for (;;) {
		if ((nl = memchr(q->buf, '\n', q->len)) != NULL) {
			len = (size_t)(nl - q->buf) + 1;
			*msg = json_loadb(q->buf, len, 0, &je);
			memmove(q->buf, q->buf + len, q->len - len);
			q->len -= len;
			if (json_is_object(*msg))
				return 0;
			json_decref(*msg);
			return perr_set(e, PE_FAIL, "node %s: qmp %s: not a "
			    "QMP message", q->node, q->path);
		}
		if (q->len == sizeof(q->buf))
			return perr_set(e, PE_FAIL, "node %s: qmp %s: a "
			    "message over %zu bytes", q->node, q->path,
			    sizeof(q->buf));
		if ((left = q->deadline_ms - now_ms()) <= 0 ||
		    (n = poll(&pfd, 1, (int)left)) == 0)
			return perr_set(e, PE_UNAVAIL, "node %s: qmp %s: no "
			    "answer in %d s", q->node, q->path,
			    QMP_TIMEOUT_MS / 1000);
		if (n == -1 && errno == EINTR)
			continue;
		n = n == -1 ? -1 :
		    read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
		if (n == 0) {
			q->eof = 1;
			return perr_set(e, PE_FAIL, "node %s: qmp %s: QEMU "
			    "closed the connection", q->node, q->path);
		}
		if (n == -1 && errno != EINTR)
			return perr_errno(e, PE_FAIL, "node %s: qmp %s: read",
			    q->node, q->path);
		if (n > 0)
			q->len += (size_t)n;
	}
}

/* Run one command; its "return" value in *ret when ret is not NULL. */
static int
qmp_exec(struct qmp *q, const char *cmd, json_t **ret, struct perr *e)
{
	char line[64];
	json_t *m, *v;
	int n, rc;

	n = snprintf(line, sizeof(line), "{\"execute\": \"%s\"}\r\n", cmd);
	if (send(q->fd, line, (size_t)n, MSG_NOSIGNAL) != n)
		return perr_errno(e, PE_FAIL, "node %s: qmp %s: %s: send",
		    q->node, q->path, cmd);
	for (;;) {
		if ((rc = qmp_read(q, &m, e)) < 0)
			return rc;
		if (json_object_get(m, "event") == NULL)
			break;
		json_decref(m);		/* RESET, STOP, ...: not ours */
	}
	rc = 0;
	if ((v = json_object_get(m, "return")) != NULL) {
		if (ret != NULL)
			*ret = json_incref(v);
	} else if ((v = json_object_get(m, "error")) != NULL) {
		rc = perr_set(e, PE_FAIL, "node %s: qmp %s: %s: %.200s",
		    q->node, q->path, cmd, json_string_value(json_object_get(
		    v, "desc")) ?: "refused");
	} else {
		rc = perr_set(e, PE_FAIL, "node %s: qmp %s: %s: not a QMP "
		    "answer", q->node, q->path, cmd);
	}
	json_decref(m);
	return rc;
}

static int
qmp_open(struct qmp *q, struct perr *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { QMP_TIMEOUT_MS / 1000, 0 };
	json_t *greeting;
	int rc;

	q->deadline_ms = now_ms() + QMP_TIMEOUT_MS;
	memcpy(sa.sun_path, q->path, strlen(q->path) + 1);  /* length checked */
	if ((q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return perr_errno(e, PE_FAIL, "node %s: qmp %s: socket",
		    q->node, q->path);
	/* a full listen backlog makes connect() wait: SO_SNDTIMEO bounds it */
	setsockopt(q->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		return perr_errno(e, PE_UNAVAIL, "node %s: qmp %s: connect",
		    q->node, q->path);
	/* QEMU serves one monitor client at a time: a second one gets its
	 * greeting only when the first leaves, hence the deadline here too */
	if ((rc = qmp_read(q, &greeting, e)) < 0)
		return rc;
	rc = json_object_get(greeting, "QMP") != NULL ? 0 :
	    perr_set(e, PE_FAIL, "node %s: qmp %s: no QMP greeting", q->node,
	    q->path);
	json_decref(greeting);
	return rc < 0 ? rc : qmp_exec(q, "qmp_capabilities", NULL, e);
}

/* The run state QEMU reports ("running", "prelaunch", ...). */
static int
qmp_status(struct qmp *q, char *st, size_t len, struct perr *e)
{
	json_t *r = NULL;
	const char *s;
	int rc;

	if ((rc = qmp_exec(q, "query-status", &r, e)) < 0)
		return rc;
	if ((s = json_string_value(json_object_get(r, "status"))) == NULL)
		rc = perr_set(e, PE_FAIL, "node %s: qmp %s: query-status: no "
		    "status", q->node, q->path);
	else
		snprintf(st, len, "%s", s);
	json_decref(r);
	return rc;
}

/* cont refuses a guest that shut down or panicked until it is reset */
static int
needs_reset(const char *st)
{
	return strcmp(st, "shutdown") == 0 ||
	    strcmp(st, "guest-panicked") == 0 ||
	    strcmp(st, "internal-error") == 0;
}

static int
qmp_act(struct qmp *q, int action, char *msg, size_t msglen, struct perr *e)
{
	char st[64];
	int rc;

	switch (action) {
	case POWER_STATUS:
		if ((rc = qmp_status(q, st, sizeof(st), e)) == 0)
			snprintf(msg, msglen, "%s", st);
		return rc;
	case POWER_OFF:
		rc = qmp_exec(q, "quit", NULL, e);
		if (rc < 0 && q->eof)
			rc = 0;	/* gone before its answer: off all the same */
		if (rc == 0)
			snprintf(msg, msglen, "off (QEMU quit)");
		return rc;
	case POWER_RESET:
		if ((rc = qmp_exec(q, "system_reset", NULL, e)) == 0)
			snprintf(msg, msglen, "reset");
		return rc;
	case POWER_ON:
		if ((rc = qmp_status(q, st, sizeof(st), e)) < 0)
			return rc;
		if (strcmp(st, "running") == 0) {
			snprintf(msg, msglen, "already on (running)");
			return 0;
		}
		if (needs_reset(st) &&
		    (rc = qmp_exec(q, "system_reset", NULL, e)) < 0)
			return rc;
		break;
	case POWER_CYCLE:
		if ((rc = qmp_exec(q, "system_reset", NULL, e)) < 0)
			return rc;
		break;
	}
	if ((rc = qmp_exec(q, "cont", NULL, e)) < 0 ||
	    (rc = qmp_status(q, st, sizeof(st), e)) < 0)
		return rc;
	snprintf(msg, msglen, "%s (%s)", action == POWER_ON ? "on" :
	    "power-cycled", st);
	return 0;
}

int
power_qmp_run(const char *node, const json_t *params, int action,
    char *msg, size_t msglen, struct perr *e)
{
	struct qmp q = { .node = node, .fd = -1 };
	int rc;

	q.path = json_string_value(json_object_get(params, "qmp"));
	if ((rc = qmp_open(&q, e)) == 0)
		rc = qmp_act(&q, action, msg, msglen, e);
	if (q.fd != -1)
		close(q.fd);
	return rc;
}
