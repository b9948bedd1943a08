/*
 * harness.h -- the unit test harness: each case prints "ok - NAME" or
 * "not ok - NAME" (TAP-like); tests/run.sh counts the lines. A binary
 * that crashes or exits non-zero without a "not ok" counts as a failure.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdio.h>
#include <stdlib.h>

static int h_case_failed, h_failed;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",		\
		    __FILE__, __LINE__, #cond);				\
		h_case_failed = 1;					\
	}								\
} while (0)

#define RUN(fn) do {							\
	h_case_failed = 0;						\
	fn();								\
	printf("%s - %s\n", h_case_failed ? "not ok" : "ok", #fn);	\
	fflush(stdout);							\
	h_failed += h_case_failed;					\
} while (0)

#define DONE() return h_failed ? 1 : 0

#endif
