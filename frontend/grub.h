/*
 * grub.h -- the GRUB side of mac-efi32 nodes (grub.c): the IA32 GRUB
 * pipold puts under the TFTP root for 32-bit EFI firmware, the static
 * grub.cfg it reads there, and the per-node scripts (grub/MODE.cfg)
 * rendered by boot.c's renderer under a stricter rule for what may
 * enter a GRUB line. Knows nothing of HTTP or of the database.
 */
#ifndef GRUB_H
#define GRUB_H

#include <stddef.h>

#include "boot.h"

struct dnsmasq_opts;

#define GRUB_SUBDIR	"pipol-grub"		/* under the TFTP root */
#define GRUB_LOADER	GRUB_SUBDIR "/ia32.efi"	/* what dnsmasq sends */
#define GRUB_IA32_MODS	"/usr/lib/grub/i386-efi"	/* grub-efi-ia32-bin */
#define GRUB_VALUE_MAX	255	/* one value, in bytes */

/* Where GRUB reaches pipold over HTTP: (http,HOST:PORT)BASE/...
 * (Debian 12's GRUB 2.06 takes HOST:PORT; it reads HOST,PORT as one
 * host name and looks it up in the DNS: seen under OVMF32) */
struct grub_server {
	char host[128];		/* a name or IPv4 address: no brackets */
	char port[8];		/* decimal, 80 when the URL names none */
	char base[128];		/* the URL's path, "" or "/x", no final / */
};

/* A value fit for a GRUB script line, even inside double quotes: only
 * letters, digits and . _ - , : / = + @ % ~; spaces only when spaces;
 * at most GRUB_VALUE_MAX bytes. No quote, backslash, '$', ';', '#',
 * braces, globbing or newline, which GRUB's parser would expand, end,
 * or read as a comment or a block. */
int grub_value_ok(const char *v, int spaces);

/* http://HOST[:PORT][/PATH] into s; -1 for https (GRUB 2.06 speaks
 * plain HTTP only), an IPv6 literal, or anything unfit for GRUB. */
int grub_server_parse(const char *url, struct grub_server *s);

/*
 * grub/mode.cfg (deploy, local, rescue, park, wait, kernel, unknown,
 * tftp) with its @NAME@s of v replaced; malloc'd. NULL, and why in err,
 * when the mode is unknown or a value is unfit (grub_value_ok; spaces
 * only in CONSOLE and CMDLINE): refused, never escaped.
 */
char *grub_render(const char *mode, const struct boot_var *v, int nv,
    char *err, size_t errlen);

/*
 * At pipold's start (--dnsmasq-dir): TFTPROOT/pipol-grub/ia32.efi, an
 * IA32 GRUB made by grub-mkimage (run by argv, no shell) when missing
 * or older than the installed modules, and TFTPROOT/pipol-grub/grub.cfg
 * (grub/tftp.cfg for the public URL). 1 when both are there, 0 (logged)
 * when they cannot be: no grub-efi-ia32-bin, the default TFTP root (a
 * package's folder: pipold writes nothing there) or one pipold may not
 * write, a public URL GRUB cannot reach; dnsmasq then sends no IA32
 * loader.
 */
int grub_loader_setup(const struct dnsmasq_opts *o);

#endif
