/*
 * elilo_render_test.c -- elilo.c: the file name elilo looks up (the
 * address in upper-case hexadecimal), each elilo/MODE.conf rendered to
 * the exact text elilo's documented syntax expects (global options,
 * then an image= section with label=, initrd=, append="..."), and the
 * refusals: any value that could end a quoted append, start a comment,
 * an escape or a line, a space where none may be, an overlong value,
 * an unknown mode; and --elilo paths that leave the TFTP root.
 */
#include <stdlib.h>
#include <string.h>

#include "elilo.h"
#include "harness.h"
#include "perr.h"
#include "pipold.h"

static void
set(struct boot_var *v, const char *name, const char *value)
{
	v->name = name;
	snprintf(v->value, sizeof(v->value), "%s", value);
}

static void
names(void)
{
	char n[ELILO_NAME_LEN];

	CHECK(elilo_conf_name("192.168.0.1", n) == 0 &&
	    strcmp(n, "C0A80001.conf") == 0);
	CHECK(elilo_conf_name("10.77.0.31", n) == 0 &&
	    strcmp(n, "0A4D001F.conf") == 0);
	CHECK(elilo_conf_name("255.255.255.255", n) == 0 &&
	    strcmp(n, "FFFFFFFF.conf") == 0);
	CHECK(elilo_conf_name("", n) < 0);
	CHECK(elilo_conf_name("fd00::1", n) < 0);	/* no IPv6 name */
	CHECK(elilo_conf_name("10.0.0.1/8", n) < 0);
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
		{ "a\"b", 1, 0 },		/* ends append="..." */
		{ "a\nimage=evil", 1, 0 },	/* a new line */
		{ "a\rb", 1, 0 },
		{ "a\tb", 1, 0 },
		{ "a\\b", 1, 0 },		/* an escape */
		{ "a#b", 1, 0 },		/* a comment */
		{ "it's", 1, 0 },
		{ "$x", 1, 0 }, { "a;b", 1, 0 }, { "(a)", 1, 0 },
		{ "caf\xc3\xa9", 1, 0 },
	};
	char big[ELILO_VALUE_MAX + 2];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CHECK(elilo_value_ok(t[i].v, t[i].spaces) == t[i].ok);
		if (elilo_value_ok(t[i].v, t[i].spaces) != t[i].ok)
			fprintf(stderr, "  \"%s\" (spaces %d)\n", t[i].v,
			    t[i].spaces);
	}
	memset(big, 'a', sizeof(big) - 1);
	big[ELILO_VALUE_MAX] = '\0';
	CHECK(elilo_value_ok(big, 0));
	big[ELILO_VALUE_MAX] = 'a';
	big[ELILO_VALUE_MAX + 1] = '\0';
	CHECK(!elilo_value_ok(big, 0));		/* one byte too many */
}

/* common values: node n1, pipold at 10.0.0.1:8080 */
static int
common_vars(struct boot_var *v)
{
	set(&v[0], "NODE", "n1");
	set(&v[1], "SERVER", "http://10.0.0.1:8080");
	set(&v[2], "FLAVOUR", "generic");
	set(&v[3], "CONSOLE", "console=ttyS0,115200");
	return 4;
}

static void
expect(const char *mode, const struct boot_var *v, int nv, const char *want)
{
	char err[200];
	char *s = elilo_render(mode, v, nv, err, sizeof(err));

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
	    "# pipol: deploy n1 (deployment 42): written by pipold,\n"
	    "# edits are lost. The token is fresh, for this deployment and the\n"
	    "# node's address only, and dies with it.\n"
	    "default=deploy\n"
	    "delay=10\n"
	    "image=bootenv/generic/vmlinuz\n"
	    "\tlabel=deploy\n"
	    "\tdescription=\"pipol deploy n1\"\n"
	    "\tinitrd=bootenv/generic/initrd.img\n"
	    "\tappend=\"pipol.server=http://10.0.0.1:8080 pipol.token=00ff "
	    "console=ttyS0,115200 panic=-1 quiet\"\n");
	expect("rescue", v, n,
	    "# pipol: n1, rescue: the deployment environment with no order; it\n"
	    "# keeps a shell on the console and touches no disk. Written by pipold,\n"
	    "# edits are lost.\n"
	    "default=rescue\n"
	    "delay=10\n"
	    "image=bootenv/generic/vmlinuz\n"
	    "\tlabel=rescue\n"
	    "\tdescription=\"pipol n1 rescue\"\n"
	    "\tinitrd=bootenv/generic/initrd.img\n"
	    "\tappend=\"pipol.rescue=1 console=ttyS0,115200 panic=-1\"\n");
	set(&v[n], "CMDLINE", "root=/dev/sda2 ro console=ttyS0");
	set(&v[n + 1], "INITRD", "initrd=pipol/n1/initrd.img");
	expect("local", v, n + 2,
	    "# pipol: n1 boots its deployed system: its kernel and initramfs,\n"
	    "# served by pipold from its own folder. Written by pipold, edits are lost.\n"
	    "default=local\n"
	    "delay=30\n"
	    "image=pipol/n1/vmlinuz\n"
	    "\tlabel=local\n"
	    "\tdescription=\"pipol n1 deployed system\"\n"
	    "\tinitrd=pipol/n1/initrd.img\n"
	    "\tappend=\"root=/dev/sda2 ro console=ttyS0\"\n");
	set(&v[n + 1], "INITRD", "");	/* a kernel recorded without one */
	expect("local", v, n + 2,
	    "# pipol: n1 boots its deployed system: its kernel and initramfs,\n"
	    "# served by pipold from its own folder. Written by pipold, edits are lost.\n"
	    "default=local\n"
	    "delay=30\n"
	    "image=pipol/n1/vmlinuz\n"
	    "\tlabel=local\n"
	    "\tdescription=\"pipol n1 deployed system\"\n"
	    "\t\n"
	    "\tappend=\"root=/dev/sda2 ro console=ttyS0\"\n");
	expect("kernel", v, n + 1,
	    "# pipol: n1, kernel testing (set by an admin): the kernel and\n"
	    "# initramfs under test, from the node's folder, with their command line.\n"
	    "# Written by pipold, edits are lost.\n"
	    "default=kernel\n"
	    "delay=30\n"
	    "image=pipol/n1/test-vmlinuz\n"
	    "\tlabel=kernel\n"
	    "\tdescription=\"pipol n1 kernel under test\"\n"
	    "\tinitrd=pipol/n1/test-initrd.img\n"
	    "\tappend=\"root=/dev/sda2 ro console=ttyS0\"\n");
}

/* Refused, never escaped: no text at all. */
static void
render_refuses(void)
{
	static const char *const bad_cmdline[] = { "quiet\" image=evil",
	    "quiet\nimage=evil", "a\\\"b", "a#b", "a\tb", "$(reboot)" };
	static const char *const bad_word[] = { "a b", "a\"b", "a\nb",
	    "../x", "a\\b" };
	struct boot_var v[BOOT_VARS];
	char err[200], big[ELILO_VALUE_MAX + 2];
	size_t i;
	int n = common_vars(v);

	for (i = 0; i < sizeof(bad_cmdline) / sizeof(bad_cmdline[0]); i++) {
		set(&v[n], "CMDLINE", bad_cmdline[i]);
		CHECK(elilo_render("kernel", v, n + 1, err, sizeof(err)) ==
		    NULL);
	}
	CHECK(strstr(err, "CMDLINE: not fit for an elilo line") != NULL);
	for (i = 0; i < sizeof(bad_word) / sizeof(bad_word[0]); i++) {
		n = common_vars(v);
		set(&v[2], "FLAVOUR", bad_word[i]);
		CHECK(elilo_render("rescue", v, n, err, sizeof(err)) == NULL);
	}
	n = common_vars(v);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	set(&v[n], "CMDLINE", big);
	CHECK(elilo_render("local", v, n + 1, err, sizeof(err)) == NULL);
	CHECK(elilo_render("park", v, n, err, sizeof(err)) == NULL);
	CHECK(elilo_render("../deploy", v, n, err, sizeof(err)) == NULL);
}

static void
option(void)
{
	static const struct {
		const char *path;
		int ok;
	} t[] = {
		{ "elilo.efi", 1 }, { "ia64/elilo.efi", 1 },
		{ "/srv/tftp/elilo.efi", 0 }, { "../elilo.efi", 0 },
		{ "ia64/../../etc/x", 0 }, { "my elilo.efi", 0 },
		{ "a,b", 0 }, { "a#b", 0 }, { "", 0 },
	};
	struct dnsmasq_opts o;
	struct perr e;
	size_t i;

	memset(&o, 0, sizeof(o));
	o.dir = "/tmp/d";
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		o.elilo = t[i].path;
		CHECK((elilo_check(&o, &e) == 0) == t[i].ok);
	}
	o.dir = NULL;
	o.elilo = "elilo.efi";
	CHECK(elilo_check(&o, &e) < 0 &&
	    strstr(e.msg, "--elilo goes with --dnsmasq-dir") != NULL);
}

int
main(void)
{
	RUN(names);
	RUN(values);
	RUN(render_modes);
	RUN(render_refuses);
	RUN(option);
	DONE();
}
