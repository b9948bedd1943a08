/*
 * grub.c -- the GRUB side of mac-efi32 nodes: the first Intel Macs,
 * 32-bit EFI firmware on 64-bit CPUs, which load only IA32 EFI
 * binaries. No IA32 iPXE can be had from Debian, so their network
 * loader is GRUB (grub-efi-ia32-bin). The chain (grub/README.md):
 *
 *   firmware PXE (client architecture 6) -> TFTPROOT/pipol-grub/ia32.efi
 *   -> its prefix (tftp)/pipol-grub: grub.cfg, written here at start,
 *   which sources PUBLIC_URL/grub/MAC over HTTP -> boot.c renders that
 *   node's grub/MODE.cfg from its state, as it renders the iPXE ones
 *
 * The loader is made once by grub-mkimage (argv, no shell) and kept:
 * made again only when missing or older than the installed modules (a
 * GRUB upgrade). It holds no address, so the URL can change without a
 * new build; grub.cfg is rewritten at every start.
 *
 * GRUB's own parser expands $, splits on ; and braces, reads # as a
 * comment and, with the regexp module, globs * ? [: what enters a GRUB
 * line is checked against a short list of characters and refused,
 * never escaped (grub_value_ok).
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "grub.h"
#include "log.h"
#include "pipold.h"

#define GRUB_FILE_MAX	4096	/* a rendered script */

/* What the loader needs: the network (efinet, tftp, http), scripts
 * (normal, configfile, echo, sleep, test), the 64-bit kernel through
 * the EFI handover (linuxefi), the disk's own loader (chain, GPT, FAT,
 * search), the serial console. grub-mkimage adds their dependencies. */
static const char *const grub_modules[] = {
	"normal", "configfile", "echo", "sleep", "test", "reboot", "halt",
	"efinet", "net", "tftp", "http", "linuxefi", "linux", "chain",
	"part_gpt", "part_msdos", "fat", "ext2", "search", "search_fs_file",
	"serial", "terminal", "efi_gop", "all_video", NULL
};

int
grub_value_ok(const char *v, int spaces)
{
	if (strlen(v) > GRUB_VALUE_MAX)
		return 0;
	for (; *v; v++)
		if (!isalnum((unsigned char)*v) && !strchr("._-,:/=+@%~", *v)
		    && (*v != ' ' || !spaces))
			return 0;
	return 1;
}

int
grub_server_parse(const char *url, struct grub_server *s)
{
	const char *h, *colon, *slash;
	size_t hl;

	if (strncmp(url, "http://", 7) != 0)
		return -1;
	h = url + 7;
	slash = strchr(h, '/');
	if (slash == NULL)
		slash = h + strlen(h);
	colon = memchr(h, ':', (size_t)(slash - h));
	hl = (size_t)((colon ? colon : slash) - h);
	if (hl == 0 || hl >= sizeof(s->host))
		return -1;
	memcpy(s->host, h, hl);
	s->host[hl] = '\0';
	if (strspn(s->host, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != hl)
		return -1;
	if (colon != NULL) {
		if ((size_t)(slash - colon - 1) == 0 ||
		    (size_t)(slash - colon - 1) >= 6)
			return -1;
		snprintf(s->port, sizeof(s->port), "%.*s",
		    (int)(slash - colon - 1), colon + 1);
		if (strspn(s->port, "0123456789") != strlen(s->port) ||
		    atoi(s->port) < 1 || atoi(s->port) > 65535)
			return -1;
	} else
		snprintf(s->port, sizeof(s->port), "80");
	if (strlen(slash) >= sizeof(s->base) || !grub_value_ok(slash, 0) ||
	    strstr(slash, "//") != NULL)
		return -1;
	snprintf(s->base, sizeof(s->base), "%s", slash);
	while ((hl = strlen(s->base)) > 0 && s->base[hl - 1] == '/')
		s->base[hl - 1] = '\0';
	return 0;
}

char *
grub_render(const char *mode, const struct boot_var *v, int nv, char *err,
    size_t errlen)
{
	static const char *const modes[] = { "deploy", "local", "rescue",
	    "park", "wait", "kernel", "unknown", "tftp", NULL };
	char tname[32];
	char *text;
	int i;

	if (boot_vars_fit(v, nv, grub_value_ok, "a GRUB line", GRUB_VALUE_MAX, err,
	    errlen) < 0)
		return NULL;
	for (i = 0; modes[i] && strcmp(modes[i], mode); i++)
		;
	if (modes[i] == NULL) {
		snprintf(err, errlen, "%s: no such GRUB script", mode);
		return NULL;
	}
	snprintf(tname, sizeof(tname), "grub-%s", mode);
	if ((text = boot_render(tname, v, nv)) == NULL)
		snprintf(err, errlen, "grub/%s.cfg: not rendered", mode);
	else if (strlen(text) >= GRUB_FILE_MAX) {
		snprintf(err, errlen, "grub/%s.cfg: longer than %d bytes",
		    mode, GRUB_FILE_MAX);
		free(text);
		text = NULL;
	}
	return text;
}

/* grub-mkimage's path from $PATH, found before fork(): only dup2(),
 * execv() and _exit() may run in the child of a threaded process. */
static int
find_mkimage(char *out, size_t len)
{
	const char *path = getenv("PATH");
	const char *p, *end;

	for (p = path ? path : "/usr/bin:/bin"; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		if ((size_t)snprintf(out, len, "%.*s/grub-mkimage",
		    (int)(end - p), p) < len && access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* grub-mkimage -O i386-efi into tmp; 0 when it exited 0. */
static int
mkimage_run(const char *tmp)
{
	char exe[PATH_MAX];
	const char *argv[64];
	sigset_t none;
	int n = 0, i, status, devnull;
	pid_t pid;

	if (find_mkimage(exe, sizeof(exe)) < 0) {
		log_warnx("grub: no grub-mkimage in $PATH (grub-common)");
		return -1;
	}
	argv[n++] = exe;
	argv[n++] = "-O", argv[n++] = "i386-efi";
	argv[n++] = "-d", argv[n++] = GRUB_IA32_MODS;
	argv[n++] = "-p", argv[n++] = "(tftp)/" GRUB_SUBDIR;
	argv[n++] = "-o", argv[n++] = tmp;
	for (i = 0; grub_modules[i] != NULL; i++)
		argv[n++] = grub_modules[i];
	argv[n] = NULL;
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		return -1;
	if ((pid = fork()) == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		close_range(3, ~0U, 0);
		/* execv's prototype predates const: nothing is written */
		execv(exe, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(devnull);
	if (pid == -1)
		return -1;
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The loader, made when missing or older than the modules. 0 or -1. */
static int
loader_make(const char *dir)
{
	char path[PATH_MAX], tmp[PATH_MAX + 16];
	struct stat mods, have;

	snprintf(path, sizeof(path), "%s/%s", dir, "ia32.efi");
	if (stat(GRUB_IA32_MODS "/kernel.img", &mods) < 0) {
		log_warnx("grub: %s: no IA32 GRUB modules (install "
		    "grub-efi-ia32-bin): mac-efi32 nodes get no loader",
		    GRUB_IA32_MODS);
		return -1;
	}
	if (stat(path, &have) == 0 && have.st_size > 0 &&
	    have.st_mtime >= mods.st_mtime)
		return 0;	/* made before, from these modules */
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if (mkimage_run(tmp) < 0 || rename(tmp, path) < 0) {
		log_warnx("grub: %s: grub-mkimage -O i386-efi failed: "
		    "mac-efi32 nodes get no loader", path);
		unlink(tmp);
		return -1;
	}
	log_info("grub: %s made (IA32 GRUB for mac-efi32 nodes)", path);
	return 0;
}

int
grub_loader_setup(const struct dnsmasq_opts *o)
{
	struct boot_var v[BOOT_VARS];
	struct grub_server s;
	char dir[PATH_MAX], path[PATH_MAX + 16], err[200];
	struct perr e;
	char *text;
	int nv = 0, rc;

	if (strcmp(o->tftp_root, DNSMASQ_TFTP_ROOT) == 0) {
		log_info("grub: no --tftp-root of the site's own: mac-efi32 "
		    "nodes get no loader (pipold writes none into %s, a "
		    "package's folder)", DNSMASQ_TFTP_ROOT);
		return 0;
	}
	if (grub_server_parse(o->url, &s) < 0) {
		log_warnx("grub: --public-url %s: GRUB reaches only "
		    "http://NAME-OR-IPv4[:PORT][/PATH]: mac-efi32 nodes get "
		    "no loader", o->url);
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s/%s", o->tftp_root, GRUB_SUBDIR);
	if (mkdir_one(dir, &e) < 0) {
		log_warnx("grub: %s: mac-efi32 nodes get no loader", e.msg);
		return 0;
	}
	if (loader_make(dir) < 0)
		return 0;
	boot_var_set(v, &nv, "HOST", s.host);
	boot_var_set(v, &nv, "PORT", s.port);
	boot_var_set(v, &nv, "BASE", s.base);
	boot_var_set(v, &nv, "SERVER", o->url);
	if ((text = grub_render("tftp", v, nv, err, sizeof(err))) == NULL) {
		log_warnx("grub: %s", err);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/grub.cfg", dir);
	rc = atomic_write(path, text, strlen(text), &e);
	free(text);
	if (rc < 0) {
		log_warnx("grub: %s", e.msg);
		return 0;
	}
	return 1;
}
