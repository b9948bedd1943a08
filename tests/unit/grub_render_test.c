/*
 * grub_render_test.c -- grub.c: what may enter a GRUB line, the public
 * URL split as GRUB's (http,HOST:PORT)BASE device wants it, each
 * grub/MODE.cfg rendered to the exact text GRUB is to read (the deploy
 * script entering the 64-bit kernel by linuxefi, the TFTP grub.cfg that
 * asks pipold), and the refusals: any value that GRUB would expand,
 * split, glob, quote or read as a comment or a block; spaces where none
 * may be; an overlong value; an unknown script.
 */
#include <stdlib.h>
#include <string.h>

#include "grub.h"
#include "harness.h"

static void
set(struct boot_var *v, const char *name, const char *value)
{
	v->name = name;
	snprintf(v->value, sizeof(v->value), "%s", value);
}

static void
values(void)
{
	static const struct {
		const char *v;
		int spaces, ok;
	} t[] = {
		{ "console=ttyS0,115200", 0, 1 },
		{ "console=tty0 console=ttyS0,115200", 1, 1 },
		{ "console=tty0 console=ttyS0,115200", 0, 0 },
		{ "http://10.0.0.1:8080/x", 0, 1 },
		{ "", 0, 1 },
		{ "a\"b", 1, 0 },		/* ends a quoted word */
		{ "a'b", 1, 0 },
		{ "$root", 1, 0 },		/* expanded */
		{ "${prefix}", 1, 0 },
		{ "a;reboot", 1, 0 },		/* a second command */
		{ "a\nreboot", 1, 0 },		/* a new line */
		{ "a\rb", 1, 0 }, { "a\tb", 1, 0 },
		{ "a\\b", 1, 0 },		/* an escape */
		{ "#x", 1, 0 },			/* a comment */
		{ "{", 1, 0 }, { "}", 1, 0 },	/* a block */
		{ "a*", 1, 0 }, { "a?", 1, 0 }, { "[a]", 1, 0 },  /* globs */
		{ "a|b", 1, 0 }, { "a&b", 1, 0 }, { "a<b", 1, 0 },
		{ "a>b", 1, 0 }, { "(hd0)", 1, 0 }, { "`x`", 1, 0 },
		{ "caf\xc3\xa9", 1, 0 },
	};
	char big[GRUB_VALUE_MAX + 2];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CHECK(grub_value_ok(t[i].v, t[i].spaces) == t[i].ok);
		if (grub_value_ok(t[i].v, t[i].spaces) != t[i].ok)
			fprintf(stderr, "  \"%s\" (spaces %d)\n", t[i].v,
			    t[i].spaces);
	}
	memset(big, 'a', sizeof(big) - 1);
	big[GRUB_VALUE_MAX] = '\0';
	CHECK(grub_value_ok(big, 0));
	big[GRUB_VALUE_MAX] = 'a';
	big[GRUB_VALUE_MAX + 1] = '\0';
	CHECK(!grub_value_ok(big, 0));		/* one byte too many */
}

static void
servers(void)
{
	static const struct {
		const char *url, *host, *port, *base;
	} good[] = {
		{ "http://10.0.0.1:8080", "10.0.0.1", "8080", "" },
		{ "http://10.0.0.1", "10.0.0.1", "80", "" },
		{ "http://pipol.example.org/pipol", "pipol.example.org", "80",
		    "/pipol" },
		{ "http://h:1/a/b/", "h", "1", "/a/b" },
	};
	static const char *const bad[] = {
		"https://10.0.0.1", "ftp://h", "http://", "http://:80",
		"http://[fd00::1]:80", "http://h:0", "http://h:65536",
		"http://h:80x", "http://h:", "http://h:123456",
		"http://h/a$b", "http://h/a;b", "http://h//x", "http://h,1",
		"http://user@h/",
	};
	struct grub_server s;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK(grub_server_parse(good[i].url, &s) == 0 &&
		    strcmp(s.host, good[i].host) == 0 &&
		    strcmp(s.port, good[i].port) == 0 &&
		    strcmp(s.base, good[i].base) == 0);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(grub_server_parse(bad[i], &s) < 0);
		if (grub_server_parse(bad[i], &s) == 0)
			fprintf(stderr, "  accepted %s\n", bad[i]);
	}
}

/* node n1, pipold at 10.0.0.1:8080 */
static int
common_vars(struct boot_var *v)
{
	set(&v[0], "SERVER", "http://10.0.0.1:8080");
	set(&v[1], "NODE", "n1");
	set(&v[2], "FLAVOUR", "generic");
	set(&v[3], "CONSOLE", "console=ttyS0,115200");
	set(&v[4], "HOST", "10.0.0.1");
	set(&v[5], "PORT", "8080");
	set(&v[6], "BASE", "");
	return 7;
}

static void
expect(const char *mode, const struct boot_var *v, int nv, const char *want)
{
	char err[200];
	char *s = grub_render(mode, v, nv, err, sizeof(err));

	CHECK(s != NULL && strcmp(s, want) == 0);
	if (s == NULL || strcmp(s, want) != 0)
		fprintf(stderr, "  %s: got\n%s\n  (%s)\n", mode, s ? s : "NULL",
		    s ? "" : err);
	free(s);
}

static void
render_modes(void)
{
	struct boot_var v[BOOT_VARS];
	int n = common_vars(v);

	set(&v[n], "DEPLOYMENT", "42");
	set(&v[n + 1], "TOKEN", "00ff");
	expect("deploy", v, n + 2,
	    "# pipol: deploy n1 (deployment 42), from GRUB (mac-efi32).\n"
	    "# The token below is fresh, valid for this deployment only, and dies\n"
	    "# with it. linuxefi enters the 64-bit kernel through the EFI handover,\n"
	    "# which on 32-bit firmware is the kernel's mixed mode.\n"
	    "echo \"pipol: n1: loading the deployment environment from "
	    "http://10.0.0.1:8080\"\n"
	    "linuxefi \"(http,10.0.0.1:8080)/bootenv/generic/vmlinuz\" "
	    "pipol.server=http://10.0.0.1:8080 pipol.token=00ff "
	    "console=ttyS0,115200 panic=-1 quiet\n"
	    "initrdefi \"(http,10.0.0.1:8080)/bootenv/generic/initrd.img\"\n"
	    "boot\n"
	    "echo \"pipol: n1: could not load the deployment environment; "
	    "asking again in 10 s\"\n"
	    "sleep 10\n"
	    "source \"(http,10.0.0.1:8080)/grub/${net_default_mac}\"\n");
	set(&v[6], "BASE", "/pipol");
	expect("tftp", v, n,
	    "# pipol: the configuration of pipold's IA32 GRUB (mac-efi32 nodes),\n"
	    "# TFTPROOT/pipol-grub/grub.cfg, written by pipold at each start: edits\n"
	    "# are lost. It asks pipold for this node's script, by the MAC address\n"
	    "# the firmware booted from (grub/README.md).\n"
	    "set timeout=0\n"
	    "echo \"pipol: asking http://10.0.0.1:8080 for the script of "
	    "${net_default_mac}\"\n"
	    "source \"(http,10.0.0.1:8080)/pipol/grub/${net_default_mac}\"\n"
	    "echo \"pipol: no script from http://10.0.0.1:8080; rebooting in "
	    "10 s\"\n"
	    "sleep 10\n"
	    "reboot\n");
}

/* Refused, never escaped: no text at all. */
static void
render_refuses(void)
{
	static const char *const bad_console[] = { "quiet\" ; reboot",
	    "quiet\nreboot", "a\\\"b", "a#b", "a\tb", "$(reboot)",
	    "${root}", "a;reboot", "} menuentry x {" };
	static const char *const bad_word[] = { "a b", "a\"b", "a\nb",
	    "a\\b", "a*" };
	struct boot_var v[BOOT_VARS];
	char err[200], big[GRUB_VALUE_MAX + 2], *s;
	size_t i;
	int n = common_vars(v);

	for (i = 0; i < sizeof(bad_console) / sizeof(bad_console[0]); i++) {
		set(&v[3], "CONSOLE", bad_console[i]);
		CHECK(grub_render("rescue", v, n, err, sizeof(err)) == NULL);
	}
	CHECK(strstr(err, "CONSOLE: not fit for a GRUB line") != NULL);
	for (i = 0; i < sizeof(bad_word) / sizeof(bad_word[0]); i++) {
		n = common_vars(v);
		set(&v[2], "FLAVOUR", bad_word[i]);
		CHECK(grub_render("rescue", v, n, err, sizeof(err)) == NULL);
	}
	n = common_vars(v);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	set(&v[1], "NODE", big);
	CHECK(grub_render("local", v, n, err, sizeof(err)) == NULL);
	n = common_vars(v);
	s = grub_render("local", v, n, err, sizeof(err));
	CHECK(s != NULL && strstr(s, "chainloader /EFI/BOOT/BOOTIA32.EFI\n"));
	free(s);
	CHECK(grub_render("local-bios", v, n, err, sizeof(err)) == NULL);
	CHECK(grub_render("../deploy", v, n, err, sizeof(err)) == NULL);
	CHECK(grub_render("elilo-local", v, n, err, sizeof(err)) == NULL);
}

int
main(void)
{
	RUN(values);
	RUN(servers);
	RUN(render_modes);
	RUN(render_refuses);
	DONE();
}
