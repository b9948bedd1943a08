/*
 * http_guard.c -- deadlines on what a client sends. libmicrohttpd's
 * timeout is one of idleness, which a client sending a byte now and then
 * never reaches: 230 such sockets held every thread for minutes. Here
 * each connection is known from its start (libmicrohttpd's connection
 * notifications) and a thread looks at them each second:
 *
 *   waiting  for a request: an idle keep-alive connection is left to
 *            libmicrohttpd's idle timeout, but once a byte of a request
 *            has come (TCP_INFO's bytes received moved) its header must
 *            be whole within HTTP_HEADER_SEC;
 *   body     the request's body must be whole within its deadline
 *            (http_guard_body: HTTP_BODY_SEC, plus the time its length
 *            takes at HTTP_BODY_RATE_MIN);
 *   serving  the handler and the response: no deadline here (a chunk
 *            to a slow node may take minutes; idleness still counts).
 *
 * A connection past its deadline is shut down (shutdown(2), not close:
 * the descriptor stays libmicrohttpd's until it says the connection is
 * closed), which libmicrohttpd sees as the client gone. Knows nothing
 * of routes.
 */
#include <sys/socket.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "log.h"

#define GUARD_TICK_SEC	1

enum phase { P_WAITING, P_PARTIAL, P_BODY, P_SERVING };

struct guard {
	struct guard *next, *prev;
	int fd;
	enum phase phase;
	time_t since;		/* monotonic: the phase began */
	unsigned limit_sec;	/* P_PARTIAL, P_BODY: its deadline */
	uint64_t rx_mark;	/* bytes received when P_WAITING began */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct guard *head;
static pthread_t thread;
static int stopping, running;

static time_t
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Bytes received on fd so far; 0 when the kernel does not say. */
static uint64_t
bytes_received(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) +
	    sizeof(ti.tcpi_bytes_received))
		return 0;
	return ti.tcpi_bytes_received;
}

static struct guard *
guard_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

void
http_guard_notify(void *cls, struct MHD_Connection *c, void **socket_ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct guard *g = *socket_ctx;

	(void)cls;
	pthread_mutex_lock(&mu);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(c,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		/* without memory, the connection goes unguarded */
		if (ci != NULL && (g = calloc(1, sizeof(*g))) != NULL) {
			g->fd = ci->connect_fd;
			g->since = now_sec();
			if ((g->next = head) != NULL)
				head->prev = g;
			head = g;
		}
		*socket_ctx = g;
	} else if (g != NULL) {
		if (g->prev != NULL)
			g->prev->next = g->next;
		else
			head = g->next;
		if (g->next != NULL)
			g->next->prev = g->prev;
		free(g);
		*socket_ctx = NULL;
	}
	pthread_mutex_unlock(&mu);
}

static void
set_phase(struct MHD_Connection *c, enum phase p, unsigned limit_sec)
{
	struct guard *g;

	pthread_mutex_lock(&mu);
	if ((g = guard_of(c)) != NULL) {
		g->phase = p;
		g->since = now_sec();
		g->limit_sec = limit_sec;
		if (p == P_WAITING)
			g->rx_mark = bytes_received(g->fd);
	}
	pthread_mutex_unlock(&mu);
}

void
http_guard_body(struct MHD_Connection *c, uint64_t len)
{
	set_phase(c, P_BODY, HTTP_BODY_SEC +
	    (unsigned)(len / HTTP_BODY_RATE_MIN));
}

void
http_guard_serving(struct MHD_Connection *c)
{
	set_phase(c, P_SERVING, 0);
}

void
http_guard_done(struct MHD_Connection *c)
{
	set_phase(c, P_WAITING, 0);
}

/* One look at every connection; how many were cut. */
static unsigned
guard_pass(void)
{
	time_t now = now_sec();
	unsigned cut = 0;
	struct guard *g;

	pthread_mutex_lock(&mu);
	for (g = head; g != NULL; g = g->next) {
		if (g->phase == P_WAITING &&
		    bytes_received(g->fd) > g->rx_mark) {
			g->phase = P_PARTIAL;	/* a request has begun */
			g->since = now;
			g->limit_sec = HTTP_HEADER_SEC;
		}
		if ((g->phase == P_PARTIAL || g->phase == P_BODY) &&
		    now - g->since > (time_t)g->limit_sec) {
			shutdown(g->fd, SHUT_RDWR);
			g->phase = P_SERVING;	/* cut once */
			cut++;
		}
	}
	pthread_mutex_unlock(&mu);
	return cut;
}

static void *
guard_main(void *arg)
{
	struct timespec until;
	unsigned cut;

	(void)arg;
	pthread_mutex_lock(&mu);
	while (!stopping) {
		pthread_mutex_unlock(&mu);
		if ((cut = guard_pass()) > 0)
			log_warnx("closed %u connection%s whose request was not "
			    "whole in time", cut, cut == 1 ? "" : "s");
		pthread_mutex_lock(&mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += GUARD_TICK_SEC;
		if (!stopping)
			pthread_cond_timedwait(&cv, &mu, &until);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int
http_guard_start(struct perr *e)
{
	stopping = 0;
	if ((errno = pthread_create(&thread, NULL, guard_main, NULL)) != 0)
		return perr_errno(e, PE_FAIL, "connection deadlines: thread");
	running = 1;
	return 0;
}

void
http_guard_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&mu);
	stopping = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(thread, NULL);
	running = 0;
}
