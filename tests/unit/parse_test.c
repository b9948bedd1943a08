/* parse_test.c -- sizes and counts: the table of what must parse. */
#include <string.h>

#include "harness.h"
#include "parse.h"
#include "perr.h"
#include "pimg.h"

static void
sizes(void)
{
	static const struct { const char *s; uint64_t v; int rc; } t[] = {
		{ "4M", 4u << 20, 0 }, { "4m", 4u << 20, 0 },
		{ "4MiB", 4u << 20, 0 }, { "1048576", 1u << 20, 0 },
		{ "1G", 1ull << 30, 0 }, { "2k", 2048, 0 },
		{ "", 0, -PE_USAGE }, { "M", 0, -PE_USAGE },
		{ "4X", 0, -PE_USAGE }, { "-1", 0, -PE_USAGE },
		{ "99999999999999999999", 0, -PE_USAGE },
		{ "20000000T", 0, -PE_USAGE },
	};
	struct perr e;
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = 0;
		CHECK(parse_size(t[i].s, &v, &e) == t[i].rc);
		if (t[i].rc == 0)
			CHECK(v == t[i].v);
	}
}

static void
chunk_sizes(void)
{
	static const struct { uint64_t v; int rc; } t[] = {
		{ 1u << 20, 0 }, { 4u << 20, 0 }, { 64u << 20, 0 },
		{ 3u << 20, -PE_USAGE }, { 1u << 19, -PE_USAGE },
		{ 128u << 20, -PE_USAGE }, { 0, -PE_USAGE },
	};
	struct perr e;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECK(pimg_chunk_size_check(t[i].v, "x", &e) == t[i].rc);
	pimg_chunk_size_check(3u << 20, "3M", &e);
	CHECK(strcmp(e.msg, "--chunk-size 3M: not a power of two in "
	    "1M..64M") == 0);
}

static void
counts(void)
{
	struct perr e;
	long long v;

	CHECK(parse_count("--threads", "4", 1, 64, &v, &e) == 0 && v == 4);
	CHECK(parse_count("--threads", "0", 1, 64, &v, &e) == -PE_USAGE);
	CHECK(strcmp(e.msg, "--threads 0: not in 1..64") == 0);
	CHECK(parse_count("--threads", "4x", 1, 64, &v, &e) == -PE_USAGE);
	CHECK(parse_count("--threads", "", 1, 64, &v, &e) == -PE_USAGE);
}

static void
durations(void)
{
	static const struct { const char *s; long long v; int rc; } t[] = {
		{ "90m", 5400, 0 }, { "2h", 7200, 0 }, { "1d12h", 129600, 0 },
		{ "45s", 45, 0 }, { "3600", 3600, 0 }, { "1h30m", 5400, 0 },
		{ "", 0, -PE_USAGE }, { "h", 0, -PE_USAGE },
		{ "2x", 0, -PE_USAGE }, { "-1h", 0, -PE_USAGE },
		{ "1h30", 0, -PE_USAGE }, { "0m", 0, -PE_USAGE },
		{ "4000d", 0, -PE_USAGE }, { "99999999999999999999s", 0,
		    -PE_USAGE },
	};
	struct perr e;
	long long v;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = -1;
		CHECK(parse_duration("--for", t[i].s, &v, &e) == t[i].rc);
		if (t[i].rc == 0)
			CHECK(v == t[i].v);
	}
	parse_duration("--for", "2x", &v, &e);
	CHECK(strcmp(e.msg, "--for 2x: not a duration (like 90m, 2h, 1d12h "
	    "or seconds)") == 0);
}

static void
script_filters(void)
{
	static const struct { const char *s, *img; int m; } t[] = {
		{ "rc", "debian12-bios", 1 },
		{ "rc-apt", "debian12-bios", 1 },
		{ "rc.debian12", "debian12-bios", 1 },
		{ "rc.bios", "debian12-bios", 1 },
		{ "rc.debian12-bios", "debian12-bios", 1 },
		{ "rc.deb", "debian12-bios", 0 },
		{ "rc.ios", "debian12-bios", 0 },
		{ "rc.uefi", "debian12-bios", 0 },
		{ "rc.", "debian12-bios", 0 },
		{ "10-ssh.linux", "x86_64-linux-fedora", 1 },
		{ "10-ssh.linux-fedora", "x86_64-linux-fedora", 1 },
		{ "10-ssh.64-linux", "x86_64-linux-fedora", 1 },
		{ "10-ssh.x86", "x86_64-linux-fedora", 1 },
		{ "10-ssh.fedora.x", "x86_64-linux-fedora", 0 },
		{ "rc.a", "b.a.a", 1 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (script_matches(t[i].s, t[i].img) != t[i].m) {
			fprintf(stderr, "  %s on %s: want %d\n", t[i].s,
			    t[i].img, t[i].m);
			CHECK(0);
		}
}

int
main(void)
{
	RUN(sizes);
	RUN(chunk_sizes);
	RUN(counts);
	RUN(durations);
	RUN(script_filters);
	DONE();
}
