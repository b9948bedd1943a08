/*
 * run.h -- another program run from pipol (run.c): an argument vector,
 * never a shell; its path found before fork() (only dup2(), execv() and
 * _exit() may run in the child of a threaded process); no signal of
 * ours blocked in it, no descriptor of ours left open in it; its output
 * captured up to a bound, the rest read and dropped; the whole run
 * bounded in time, then SIGKILL.
 */
#ifndef RUN_H
#define RUN_H

#include <stddef.h>

/* name's path in $PATH, else in /usr/sbin:/sbin:/usr/bin:/bin (tools
 * of e2fsprogs and util-linux live in sbin), in out; 0 or -1. */
/* CLOCK_MONOTONIC in milliseconds: deadlines, durations. */
long long now_ms(void);

int run_find(const char *name, char *out, size_t len);

/*
 * Runs argv (argv[0] a path from run_find), stdin /dev/null, stdout (and
 * stderr too when both) into out (up to max - 1 bytes, NUL-terminated;
 * *len what was kept, *cut set when more came). *status its wait
 * status; *late when timeout_ms passed first (it was killed). 0, or -1
 * when it could not be started (errno).
 */
int run_capture(const char *const argv[], int both, char *out, size_t max,
    size_t *len, int *cut, int timeout_ms, int *status, int *late);

#endif
