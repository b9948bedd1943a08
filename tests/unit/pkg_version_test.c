/* pkg_version_test.c -- Debian's order of version strings
 * (pkg_version_cmp, imagestore/packages.c), each pair checked against
 * what dpkg --compare-versions answers on this machine, so the table
 * cannot agree with the code by construction. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "store.h"

/* dpkg --compare-versions A OP B: its exit status, -1 if not run */
static int
dpkg(const char *a, const char *op, const char *b)
{
	pid_t pid;
	int st;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		execlp("dpkg", "dpkg", "--compare-versions", a, op, b,
		    (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* dpkg's own answer: -1, 0, 1 (2 when dpkg cannot be run) */
static int
dpkg_cmp(const char *a, const char *b)
{
	int lt = dpkg(a, "lt", b);

	if (lt != 0 && lt != 1)
		return 2;
	if (lt == 0)
		return -1;
	return dpkg(a, "eq", b) == 0 ? 0 : 1;
}

static void
dpkg_order(void)
{
	static const char *const v[][2] = {
		{ "1.0", "2.0" }, { "1.0", "1.0" }, { "1.0", "1.00" },
		{ "1.0~rc1", "1.0" }, { "1.0~~", "1.0~" }, { "1.0", "1.0+b1" },
		{ "1.0-1", "1.0-2" }, { "1.0-1", "1.0-1.1" }, { "1:0.1", "2.0" },
		{ "2:1", "1:9" }, { "1.0a", "1.0" }, { "1.0a", "1.0+" },
		{ "1.0.", "1.0" }, { "10", "9" }, { "1.10", "1.9" },
		{ "2022.83-1+deb12u1", "2022.83-1+deb12u3" },
		{ "1:1.35.0-4+deb12u1+b1", "1:1.35.0-4+deb12u1" },
		{ "6.1.192-3", "6.1.158-1" }, { "0.0001", "0.1" },
		{ "1.2-3-4", "1.2-3-5" }, { "1.2a-1", "1.2B-1" },
		{ "7.88.1-10+deb12u14", "7.88.1-10+deb12u8" }, { "1~", "1" },
		{ "3.0~beta", "3.0~alpha" }, { "1.0-0", "1.0" },
	};
	size_t i;
	int want, got;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		want = dpkg_cmp(v[i][0], v[i][1]);
		got = pkg_version_cmp(v[i][0], v[i][1]);
		CHECK(want != 2);
		CHECK(got == want);
		if (got != want)
			fprintf(stderr, "  %s vs %s: dpkg %d, pipol %d\n",
			    v[i][0], v[i][1], want, got);
		CHECK(pkg_version_cmp(v[i][1], v[i][0]) == -want);
	}
}

int
main(void)
{
	RUN(dpkg_order);
	DONE();
}
