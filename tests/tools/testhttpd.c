/*
 * testhttpd.c -- test tool: a static HTTP/1.1 server over an image store
 * folder, with faults on demand, so that the agent's fetch code meets real
 * HTTP: keep-alive, sendfile, short reads, wrong statuses, a server that
 * dies. Not installed. Usage: testhttpd --help (options[] below).
 *
 * One request: delay -> ticket (--exit-after) -> --fail-first -> --status
 * -> open under --root -> 404 | sendfile of the whole file | a reader
 * that corrupts or cuts the body. MHD's threads share only the atomics
 * in struct srv; the main thread blocks in sigwait() until SIGTERM/SIGINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "atomic.h"
#include "cmd.h"
#include "log.h"
#include "parse.h"
#include "perr.h"

/*
 * Thread per connection, not a pool: with blocking sockets MHD 0.9.75
 * sendfile()s 2 MiB per call instead of 128 KiB, which measured 15-30%
 * less server CPU for 4 clients fetching 1-4 MiB files (same throughput,
 * set by the clients); and --delay-ms then stalls one connection, not
 * every connection of a pool thread.
 */
#define MHD_FLAGS	(MHD_USE_INTERNAL_POLLING_THREAD | \
			 MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL)
#define LISTEN_BACKLOG		128
#define FAULT_MAX		16	/* of all kinds together */
#define COUNT_MAX		1000000000LL
#define DELAY_MS_MAX		600000LL
#define READER_BLOCK_BYTES	(64 * 1024)
#define CORRUPT_XOR		0x55

enum fault_kind { FAULT_CORRUPT, FAULT_TRUNCATE, FAULT_STATUS };

struct fault {
	enum fault_kind kind;
	const char *suffix;		/* not NUL-terminated: suffix_len */
	size_t suffix_len;
	unsigned status;		/* FAULT_STATUS only */
	atomic_llong left;		/* matching requests still to spoil */
};

struct srv {
	const char *root, *listen, *port_path, *stats_path;
	int root_fd;
	struct fault faults[FAULT_MAX];
	int nfaults;
	long long exit_after;		/* 0: never */
	long long delay_ms;
	atomic_llong fail_left;
	atomic_llong tickets;		/* requests seen, for --exit-after */
	atomic_llong answered;		/* responses queued */
	atomic_llong bytes;		/* file body bytes handed to MHD */
};

/* A file body that goes through a reader instead of sendfile. */
struct body {
	struct srv *srv;
	int fd;
	uint64_t stop_at;		/* < size: END_WITH_ERROR there */
	uint64_t flip_at;		/* UINT64_MAX: no corruption */
};

/* *req_cls: headers seen; holds the last --exit-after ticket. */
static char request_seen, last_request;

/* Take one use of a counter shared by all threads; 0 if none was left.
 * Below zero it only keeps falling, harmless in a long long. */
static int
take_one(atomic_llong *left)
{
	return atomic_fetch_sub(left, 1) > 0;
}

static struct fault *
fault_take(struct srv *s, enum fault_kind kind, const char *url)
{
	size_t ulen = strlen(url);
	struct fault *f;
	int i;

	for (i = 0; i < s->nfaults; i++) {
		f = &s->faults[i];
		if (f->kind == kind && f->suffix_len <= ulen &&
		    memcmp(url + ulen - f->suffix_len, f->suffix,
		    f->suffix_len) == 0 && take_one(&f->left))
			return f;
	}
	return NULL;
}

/* Temp name and rename (atomic.c): a poller never sees half a line. */
static int
stats_write(struct srv *s)
{
	char line[80];
	struct perr e;

	if (s->stats_path == NULL)
		return 0;
	snprintf(line, sizeof(line), "requests %lld bytes %lld\n",
	    (long long)atomic_load(&s->answered),
	    (long long)atomic_load(&s->bytes));
	if (atomic_write(s->stats_path, line, strlen(line), &e) == 0)
		return 0;
	fprintf(stderr, "testhttpd: --stats-file %s\n", e.msg);
	return -1;
}

static ssize_t
body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct body *b = cls;
	ssize_t n;

	/* MHD calls again only once all it had is sent: the client gets
	 * exactly stop_at bytes, then the connection closes. */
	if (pos >= b->stop_at)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (max > b->stop_at - pos)
		max = (size_t)(b->stop_at - pos);
	if ((n = pread(b->fd, buf, max, (off_t)pos)) <= 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (b->flip_at >= pos && b->flip_at < pos + (uint64_t)n)
		buf[b->flip_at - pos] ^= CORRUPT_XOR;
	atomic_fetch_add(&b->srv->bytes, n);
	return n;
}

static void
body_free(void *cls)
{
	struct body *b = cls;

	close(b->fd);
	free(b);
}

/* Queue resp and drop our reference to it. */
static enum MHD_Result
answer(struct srv *s, struct MHD_Connection *c, unsigned code,
    struct MHD_Response *resp)
{
	enum MHD_Result rc;

	if (resp == NULL)
		return MHD_NO;
	rc = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	if (rc == MHD_YES)
		atomic_fetch_add(&s->answered, 1);
	return rc;
}

static enum MHD_Result
answer_text(struct srv *s, struct MHD_Connection *c, unsigned code,
    const char *text)
{
	return answer(s, c, code, MHD_create_response_from_buffer(
	    strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_MUST_COPY));
}

/* Takes fd. --corrupt and --truncate need a reader; the rest, sendfile. */
static enum MHD_Result
answer_file(struct srv *s, struct MHD_Connection *c, const char *url,
    int fd, uint64_t size, int is_get)
{
	struct fault *cut = NULL, *flip = NULL;
	struct MHD_Response *resp;
	struct body *b;

	if (is_get) {
		cut = fault_take(s, FAULT_TRUNCATE, url);
		flip = fault_take(s, FAULT_CORRUPT, url);
	}
	if (cut == NULL && flip == NULL) {
		if ((resp = MHD_create_response_from_fd64(size, fd)) == NULL)
			close(fd);
		else if (is_get)
			atomic_fetch_add(&s->bytes, (long long)size);
		return answer(s, c, MHD_HTTP_OK, resp);
	}
	if ((b = malloc(sizeof(*b))) == NULL) {
		close(fd);
		return MHD_NO;
	}
	*b = (struct body){ s, fd, cut != NULL ? size / 2 : size,
	    flip != NULL ? size / 2 : UINT64_MAX };
	resp = MHD_create_response_from_callback(size, READER_BLOCK_BYTES,
	    body_read, b, body_free);
	if (resp == NULL)
		body_free(b);
	return answer(s, c, MHD_HTTP_OK, resp);
}

static enum MHD_Result
answer_path(struct srv *s, struct MHD_Connection *c, const char *url,
    int is_get)
{
	struct stat st;
	int fd;

	/* MHD has unescaped the path: %2e%2e is caught here too. Lookups
	 * are relative to root_fd; symlinks are followed (test data). */
	if (strstr(url, "..") != NULL)
		return answer_text(s, c, MHD_HTTP_FORBIDDEN, "forbidden\n");
	fd = openat(s->root_fd, url + strspn(url, "/"), O_RDONLY | O_CLOEXEC);
	if (fd == -1 && (errno == ENOENT || errno == ENOTDIR))
		return answer_text(s, c, MHD_HTTP_NOT_FOUND, "not found\n");
	if (fd == -1)
		return answer_text(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "cannot open\n");
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return answer_text(s, c, MHD_HTTP_NOT_FOUND, "not found\n");
	}
	return answer_file(s, c, url, fd, (uint64_t)st.st_size, is_get);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **req_cls)
{
	struct srv *s = cls;
	struct timespec ts = { s->delay_ms / 1000,
	    s->delay_ms % 1000 * 1000000 };
	int is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
	struct fault *f;
	long long ticket;
	char text[64];

	(void)version, (void)upload;
	/* Answer on the second call, once the request is in: MHD 0.9.75
	 * sends "Connection: close" after a response queued from the first
	 * call (it cannot know the body was read), killing keep-alive. */
	if (*req_cls == NULL || *upload_len != 0) {
		*req_cls = &request_seen;
		*upload_len = 0;
		return MHD_YES;
	}
	while (s->delay_ms > 0 && nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	ticket = atomic_fetch_add(&s->tickets, 1) + 1;
	if (s->exit_after > 0 && ticket > s->exit_after)
		return MHD_NO;		/* dying: close, answer nothing */
	if (ticket == s->exit_after)
		*req_cls = &last_request;
	if (!is_get && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return answer_text(s, c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed\n");
	if (take_one(&s->fail_left))
		return answer_text(s, c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "unavailable (--fail-first)\n");
	if ((f = fault_take(s, FAULT_STATUS, url)) == NULL)
		return answer_path(s, c, url, is_get);
	snprintf(text, sizeof(text), "status %u (--status)\n", f->status);
	return answer_text(s, c, f->status, text);
}

/*
 * --exit-after: once the last answer has left (or failed), die at once as
 * a crashed server would: _exit() drops every connection, and skips
 * MHD_stop_daemon(), which would wait for the other threads.
 */
static void
on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)c, (void)toe;
	if (*req_cls == &last_request)
		_exit(stats_write(cls) == 0 ? 0 : 1);
}

/* ":NUMBER" at *p, for a fault's :CODE and :N and --listen's :PORT; moves
 * *p past it. Errors name the option's whole value. */
static int
parse_field(const char *opt, const char *arg, const char *name,
    const char **p, long long min, long long max, long long *out,
    struct perr *e)
{
	char *end;

	if (**p != ':')
		return perr_set(e, PE_USAGE, "%s %s: no :%s", opt, arg, name);
	errno = 0;
	*out = strtoll(*p + 1, &end, 10);
	if (errno != 0 || end == *p + 1 || (*end != '\0' && *end != ':') ||
	    *out < min || *out > max)
		return perr_set(e, PE_USAGE, "%s %s: %s not in %lld..%lld",
		    opt, arg, name, min, max);
	*p = end;
	return 0;
}

static int
parse_fault(struct srv *s, enum fault_kind kind, const char *opt,
    const char *arg, struct perr *e)
{
	struct fault *f = &s->faults[s->nfaults];
	long long n = 1, code = 0;
	const char *p;

	if (s->nfaults == FAULT_MAX)
		return perr_set(e, PE_USAGE, "%s %s: more than %d faults",
		    opt, arg, FAULT_MAX);
	f->suffix = arg;
	f->suffix_len = strcspn(arg, ":");
	p = arg + f->suffix_len;
	if (kind == FAULT_STATUS &&
	    parse_field(opt, arg, "CODE", &p, 200, 599, &code, e) < 0)
		return -PE_USAGE;
	if (*p != '\0' && parse_field(opt, arg, "N", &p, 1, COUNT_MAX, &n,
	    e) < 0)
		return -PE_USAGE;
	if (*p != '\0')
		return perr_set(e, PE_USAGE, "%s %s: extra %s", opt, arg, p);
	f->kind = kind;
	f->status = (unsigned)code;
	atomic_init(&f->left, n);
	s->nfaults++;
	return 0;
}

enum { O_ROOT, O_LISTEN, O_PORT_FILE, O_STATS_FILE, O_CORRUPT, O_TRUNCATE,
    O_STATUS, O_FAIL_FIRST, O_EXIT_AFTER, O_DELAY_MS, O_END };

static const struct cmd_opt options[] = {
	[O_ROOT] = { "root", 0, CMD_VALUE, "DIR",
	    "serve GET and HEAD of the regular files under DIR" },
	[O_LISTEN] = { "listen", 0, CMD_VALUE, "ADDR:PORT",
	    "PORT 0: any free port" },
	[O_PORT_FILE] = { "port-file", 0, CMD_VALUE, "FILE",
	    "gets the port once the server is ready" },
	[O_STATS_FILE] = { "stats-file", 0, CMD_VALUE, "FILE",
	    "\"requests R bytes B\" on SIGTERM, SIGINT and\n"
	    "--exit-after" },
	[O_CORRUPT] = { "corrupt", 0, CMD_VALUE | CMD_REPEAT, "SUFFIX[:N]",
	    "flip the middle byte of N (default 1) GETs whose\n"
	    "URL path ends with SUFFIX" },
	[O_TRUNCATE] = { "truncate", 0, CMD_VALUE | CMD_REPEAT, "SUFFIX[:N]",
	    "send half of N GETs, drop the connection" },
	[O_STATUS] = { "status", 0, CMD_VALUE | CMD_REPEAT,
	    "SUFFIX:CODE[:N]", "answer CODE to N requests" },
	[O_FAIL_FIRST] = { "fail-first", 0, CMD_VALUE, "N",
	    "503 to the first N requests" },
	[O_EXIT_AFTER] = { "exit-after", 0, CMD_VALUE, "N",
	    "exit 0 once the Nth answer is sent" },
	[O_DELAY_MS] = { "delay-ms", 0, CMD_VALUE, "MS",
	    "wait this long before each answer" },
	[O_END] = CMD_OPT_END
};

static const struct cmd testhttpd_cmd = { "testhttpd",  NULL,
    "--root DIR --listen ADDR:PORT [options]",
    "A static HTTP/1.1 server with faults on demand, for tests", options,
    0, 0, NULL };

/* One option's value (by id) into s; errors name the option. */
static int
parse_option(struct srv *s, int id, const char *arg, struct perr *e)
{
	long long n;

	switch (id) {
	case O_ROOT: s->root = arg; return 0;
	case O_LISTEN: s->listen = arg; return 0;
	case O_PORT_FILE: s->port_path = arg; return 0;
	case O_STATS_FILE: s->stats_path = arg; return 0;
	case O_CORRUPT:
		return parse_fault(s, FAULT_CORRUPT, "--corrupt", arg, e);
	case O_TRUNCATE:
		return parse_fault(s, FAULT_TRUNCATE, "--truncate", arg, e);
	case O_STATUS: return parse_fault(s, FAULT_STATUS, "--status", arg, e);
	case O_DELAY_MS:
		return parse_count("--delay-ms", arg, 0, DELAY_MS_MAX,
		    &s->delay_ms, e);
	case O_EXIT_AFTER:
		return parse_count("--exit-after", arg, 1, COUNT_MAX,
		    &s->exit_after, e);
	case O_FAIL_FIRST:
		if (parse_count("--fail-first", arg, 0, COUNT_MAX, &n, e) < 0)
			return -PE_USAGE;
		atomic_store(&s->fail_left, n);
		return 0;
	}
	return perr_set(e, PE_USAGE, "option %d: unknown", id);
}

/* The values of the parsed command line, in the order given. */
static int
parse_args(struct srv *s, const struct cmd_args *a, struct perr *e)
{
	int i;

	for (i = 0; i < a->nvals; i++)
		if (parse_option(s, a->vals[i].id, a->vals[i].val, e) < 0)
			return -PE_USAGE;
	if (s->root == NULL || s->listen == NULL)
		return perr_set(e, PE_USAGE, "%s: required",
		    s->root == NULL ? "--root" : "--listen");
	return 0;
}

/*
 * Our own socket: MHD's default also sets SO_REUSEADDR, so a test can
 * restart on the same port, but MHD_OPTION_LISTENING_ADDRESS_REUSE adds
 * SO_REUSEPORT, which would let a stale server share the port silently.
 */
static int
listen_open(const char *spec, unsigned *port, struct perr *e)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags =
	    AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE }, *ai;
	struct sockaddr_in6 sa;		/* port at the same offset in _in */
	socklen_t salen = sizeof(sa);
	const char *colon = strrchr(spec, ':'), *p = colon;
	char host[256], *addr = host;
	long long n;
	int fd, on = 1;

	if (colon == NULL)
		return perr_set(e, PE_USAGE, "--listen %s: no :PORT", spec);
	if (parse_field("--listen", spec, "PORT", &p, 0, 65535, &n, e) < 0)
		return -PE_USAGE;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {	/* IPv6 */
		host[strlen(host) - 1] = '\0';
		addr++;
	}
	if (getaddrinfo(addr, colon + 1, &hints, &ai) != 0)
		return perr_set(e, PE_USAGE, "--listen %s: not ADDR:PORT",
		    spec);
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &salen) == -1) {
		perr_errno(e, PE_FAIL, "--listen %s", spec);
		if (fd != -1)
			close(fd);
		fd = -PE_FAIL;
	}
	freeaddrinfo(ai);
	if (fd >= 0)
		*port = ntohs(sa.sin6_port);
	return fd;
}

int
main(int argc, char **argv)
{
	static struct srv s;
	struct MHD_Daemon *d;
	struct cmd_args a;
	struct perr e;
	sigset_t stop;
	char line[16];
	unsigned port = 0;
	int fd, sig;

	log_init("testhttpd");
	if ((fd = cmd_getargs(&testhttpd_cmd, argc, argv, &a)) >= 0)
		return fd;
	if (parse_args(&s, &a, &e) < 0)
		goto err_args;
	s.root_fd = open(s.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s.root_fd == -1) {
		perr_errno(&e, PE_USAGE, "--root %s", s.root);
		goto err_args;
	}
	if ((fd = listen_open(s.listen, &port, &e)) < 0)
		goto err_listen;
	/* Blocked before MHD starts its threads, so only sigwait() sees
	 * them: no handler, nothing async-signal-unsafe. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	d = MHD_start_daemon(MHD_FLAGS, 0, NULL, NULL, on_request, &s,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s, MHD_OPTION_END);
	if (d == NULL) {
		perr_set(&e, PE_FAIL, "--listen %s: cannot start", s.listen);
		goto err_start;
	}
	snprintf(line, sizeof(line), "%u\n", port);
	if (s.port_path != NULL &&
	    atomic_write(s.port_path, line, strlen(line), &e) < 0) {
		perr_prefix(&e, "--port-file");
		MHD_stop_daemon(d);	/* closes fd too */
		goto err_listen;
	}
	sigwait(&stop, &sig);
	MHD_stop_daemon(d);
	return stats_write(&s) == 0 ? 0 : 1;

 err_start:
	close(fd);
 err_listen:
	close(s.root_fd);
 err_args:
	fprintf(stderr, "testhttpd: %s\n", e.msg);
	return e.code;
}
