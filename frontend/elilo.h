/*
 * elilo.h -- the elilo configuration files of network-only nodes
 * (elilo.c): their names, as elilo looks them up over TFTP, and their
 * text, rendered from elilo/MODE.conf by boot.c's renderer under a
 * stricter rule for what may enter an elilo line. Knows nothing of
 * HTTP; elilo_write_node and elilo_sync (pipold.h) write the files.
 */
#ifndef ELILO_H
#define ELILO_H

#include "boot.h"

#define ELILO_VALUE_MAX	255	/* one value, in bytes */
#define ELILO_NAME_LEN	14	/* "C0A80001.conf" and its NUL */

/* A value fit for an elilo line, even inside append="...": only
 * letters, digits and . _ - , : / = + @ % ~; spaces only when spaces;
 * no ".." (values make TFTP paths); at most ELILO_VALUE_MAX bytes. No
 * quote, backslash, '#' or newline, which elilo's parser would read as
 * the end of a value, an escape, a comment or a new line. */
int elilo_value_ok(const char *v, int spaces);

/* The name elilo tries first for a node with IPv4 address ip: its
 * address in upper-case hexadecimal, ".conf". -1 when ip is not one. */
int elilo_conf_name(const char *ip, char name[ELILO_NAME_LEN]);

/*
 * elilo/mode.conf (deploy, local, kernel, rescue) with its @NAME@s of v
 * replaced; malloc'd. NULL, and why in err, when the mode is unknown or
 * a value is unfit (elilo_value_ok; spaces only in CONSOLE and
 * CMDLINE): refused, never escaped.
 */
char *elilo_render(const char *mode, const struct boot_var *v, int nv,
    char *err, size_t errlen);

#endif
