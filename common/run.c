/*
 * run.c -- another program, run bounded (run.h).
 */
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

static int
find_in(const char *path, const char *name, char *out, size_t len)
{
	const char *p, *end;

	for (p = path; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		if (end > p && (size_t)snprintf(out, len, "%.*s/%s",
		    (int)(end - p), p, name) < len && access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

int
run_find(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");

	if (path != NULL && find_in(path, name, out, len) == 0)
		return 0;
	return find_in("/usr/sbin:/sbin:/usr/bin:/bin", name, out, len);
}

long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
run_capture(const char *const argv[], int both, char *out, size_t max,
    size_t *len, int *cut, int timeout_ms, int *status, int *late)
{
	struct pollfd pfd = { .events = POLLIN };
	long long deadline = now_ms() + timeout_ms;
	char sink[4096];
	sigset_t none;
	int p[2], devnull, left;
	ssize_t n;
	pid_t pid;

	*len = 0;
	*cut = *late = 0;
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		return -1;
	if (pipe2(p, O_CLOEXEC) == -1) {
		close(devnull);
		return -1;
	}
	if ((pid = fork()) == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		dup2(devnull, 0);
		dup2(p[1], 1);
		dup2(both ? p[1] : devnull, 2);
		close_range(3, ~0U, 0);
		/* execv's prototype predates const: nothing is written */
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(p[1]);
	close(devnull);
	if (pid == -1) {
		close(p[0]);
		return -1;
	}
	pfd.fd = p[0];
	for (;;) {
		if ((left = (int)(deadline - now_ms())) <= 0 ||
		    poll(&pfd, 1, left) == 0) {
			*late = 1;
			kill(pid, SIGKILL);
			break;
		}
		if (*len < max - 1)
			n = read(p[0], out + *len, max - 1 - *len);
		else if ((n = read(p[0], sink, sizeof(sink))) > 0)
			*cut = 1;
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			break;
		if (n > 0 && *len < max - 1 && !*cut)
			*len += (size_t)n;
	}
	out[*len] = '\0';
	close(p[0]);
	while (waitpid(pid, status, 0) == -1 && errno == EINTR)
		;
	return 0;
}
