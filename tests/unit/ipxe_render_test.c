/*
 * ipxe_render_test.c -- boot.c's renderer of the ipxe/NAME.ipxe templates:
 * which values may enter an iPXE line (no '$' iPXE would expand, no
 * quote, no newline, spaces only where allowed), the @VAR@s replaced
 * and the unknown ones kept, and the refusals (unknown template, unfit
 * value). The BOOT_SCRIPT_MAX bound is not reached by any template with
 * values of at most 511 bytes, so it is not tested here.
 */
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "harness.h"

static void
value_checks(void)
{
	static const struct {
		const char *v;
		int spaces, ok;
	} t[] = {
		{ "http://10.0.0.1:8080", 0, 1 },
		{ "console=tty0 console=ttyS0,115200", 1, 1 },
		{ "console=tty0 console=ttyS0,115200", 0, 0 },
		{ "", 0, 1 },
		{ "a{b}c", 0, 1 },		/* '{' alone expands nothing */
		{ "${mac}", 0, 0 },		/* iPXE would expand it */
		{ "$x", 1, 0 },
		{ "a\nchain http://evil/", 1, 0 },	/* a second line */
		{ "a\rb", 1, 0 },
		{ "a\tb", 1, 0 },
		{ "say \"hi\"", 1, 0 },
		{ "it's", 1, 0 },
		{ "a\\b", 1, 0 },
		{ "`id`", 1, 0 },
		{ "a;b", 1, 0 }, { "a&b", 1, 0 }, { "a|b", 1, 0 },
		{ "a<b", 1, 0 }, { "a>b", 1, 0 },
		{ "caf\xc3\xa9", 1, 0 },	/* not printable ASCII */
		{ "a@b", 0, 1 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CHECK(boot_value_ok(t[i].v, t[i].spaces) == t[i].ok);
		if (boot_value_ok(t[i].v, t[i].spaces) != t[i].ok)
			fprintf(stderr, "  \"%s\" (spaces %d)\n", t[i].v,
			    t[i].spaces);
	}
}

static void
set(struct boot_var *v, const char *name, const char *value)
{
	v->name = name;
	snprintf(v->value, sizeof(v->value), "%s", value);
}

/* kernel.ipxe: every @VAR@ replaced, iPXE's own ${mac} kept. */
static void
render_kernel(void)
{
	struct boot_var v[5];
	char *s;

	set(&v[0], "SERVER", "http://10.0.0.1:8080");
	set(&v[1], "NODE", "n1");
	set(&v[2], "KERNEL", "http://k/vmlinuz");
	set(&v[3], "INITRD", "http://k/initrd.img");
	set(&v[4], "CMDLINE", "console=ttyS0 quiet");
	s = boot_render("kernel", v, 5);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	CHECK(strncmp(s, "#!ipxe\n", 7) == 0);
	CHECK(strstr(s, "kernel http://k/vmlinuz initrd=initrd.img "
	    "console=ttyS0 quiet ||") != NULL);
	CHECK(strstr(s, "initrd --name initrd.img http://k/initrd.img") != NULL);
	CHECK(strstr(s, "echo pipol: n1: kernel under test\n") != NULL);
	CHECK(strstr(s, "http://10.0.0.1:8080/boot/${mac}?local=1") != NULL);
	CHECK(strstr(s, "@KERNEL@") == NULL && strstr(s, "@NODE@") == NULL);
	free(s);
}

/* A value left out keeps its @VAR@; a lone '@' stays. */
static void
render_unknown_var(void)
{
	struct boot_var v[1];
	char *s;

	set(&v[0], "NODE", "n1@x");
	s = boot_render("kernel", v, 1);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	CHECK(strstr(s, "echo pipol: n1@x: kernel under test") != NULL);
	CHECK(strstr(s, "kernel @KERNEL@ initrd=initrd.img @CMDLINE@") != NULL);
	free(s);
}

/* Values iPXE would misread never reach a script. */
static void
render_refuses(void)
{
	static const char *const bad[] = { "${net0/mac}", "quiet\nshell",
	    "a\"b", "x;reboot", "$", "\n" };
	struct boot_var v[2];
	size_t i;

	set(&v[0], "NODE", "n1");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set(&v[1], "CMDLINE", bad[i]);
		CHECK(boot_render("kernel", v, 2) == NULL);
	}
	CHECK(boot_render("no-such-template", v, 1) == NULL);
}

int
main(void)
{
	RUN(value_checks);
	RUN(render_kernel);
	RUN(render_unknown_var);
	RUN(render_refuses);
	DONE();
}
