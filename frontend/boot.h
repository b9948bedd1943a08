/*
 * boot.h -- the iPXE scripts pipold sends (boot.c): the templates it
 * carries (ipxe/NAME.ipxe, embedded at build time) and their renderer,
 * which replaces @VAR@ with values fit for an iPXE line. Knows nothing
 * of HTTP or of the database.
 */
#ifndef BOOT_H
#define BOOT_H

#define BOOT_VARS	10	/* @VAR@s one script may use */
#define BOOT_SCRIPT_MAX	8192	/* a rendered script, with its NUL */

struct boot_template {
	const char *name;	/* file name without .ipxe */
	const char *text;
};

extern const struct boot_template boot_templates[];

struct boot_var {
	const char *name;	/* without the @s */
	char value[2048];	/* a kernel command line (netboot) */
};

/* v[*n] = name, value (NULL: ""), *n counted; past BOOT_VARS nothing:
 * the renderer leaves an @NAME@ it does not know as it is. */
void boot_var_set(struct boot_var *v, int *n, const char *name,
    const char *value);

/*
 * Every value of v fit by ok (spaces allowed in CONSOLE and CMDLINE
 * only): 0; else -1 and err names the first unfit one, "not fit for
 * LINE (letters, digits, ._-,:/=+@%~...; at most MAX bytes)" -- the
 * GRUB and elilo renderers' rule.
 */
int boot_vars_fit(const struct boot_var *v, int nv,
    int (*ok)(const char *, int), const char *line, int max, char *err,
    size_t errlen);

/* A value fit for an iPXE script line: printable, no quote, no '$'
 * (iPXE would expand it), none of `;&|<> and backslash; spaces only
 * when spaces. */
int boot_value_ok(const char *v, int spaces);

/*
 * The template tname, its @NAME@s of v replaced (others kept as they
 * are); malloc'd, the caller frees. NULL when the template is unknown,
 * a value is unfit (boot_value_ok, spaces allowed), or the script would
 * pass BOOT_SCRIPT_MAX.
 */
char *boot_render(const char *tname, const struct boot_var *v, int nv);

#endif
