/*
 * kexec.h -- the hand-over to the deployed system without a firmware
 * pass (kexec.c): once the disk is written, post-installed and reported,
 * its root is mounted again, its default kernel found (kernel_find.c),
 * loaded with kexec_file_load(2) -- or kexec_load(2) through kexec-tools'
 * kexec -l where the kernel will not take the first, or where the
 * deployment kernel's command line says pipol.kexec=load -- and jumped
 * to. Any failure leaves the
 * machine as it was: the caller returns, and /init reboots through the
 * firmware as before. Knows nothing of HTTP: telling pipold is the
 * caller's callback.
 */
#ifndef AGENT_KEXEC_H
#define AGENT_KEXEC_H

#include <jansson.h>
#include <stddef.h>

#include "kernel_find.h"
#include "perr.h"

#define KEXEC_INITRD_MAX	(512u << 20)	/* the initrds, joined: a
						   Debian initramfs is
						   ~30 MB, microcode ~5 */
#define KEXEC_RELEASE_FILE	"/etc/pipol/release"	/* only pipol's
							   deployment
							   environment
							   jumps */
#define KEXEC_ROOT_DIR		"/run/pipol/kexec-root"
#define KEXEC_CMDLINE		"/proc/cmdline"	/* pipol.kexec= */
#define KEXEC_TOOL		"/sbin/kexec"	/* Debian's kexec-tools,
						   in bootenv/build.sh's
						   initramfs */
#define KEXEC_TOOL_SEC		60	/* kexec -l copies ~50 MB: seconds,
					   even under QEMU without KVM */
#define KEXEC_TOOL_LINES	20	/* of its output, logged */

/* how to load: pipol.kexec= on the deployment kernel's command line */
enum kexec_mode {
	KEXEC_MODE_AUTO,	/* none: kexec_file_load, kexec -l when the
				   kernel will not file_load (kexec_errno_
				   wants_load) */
	KEXEC_MODE_FILE,	/* "file": kexec_file_load only */
	KEXEC_MODE_LOAD,	/* "load": kexec -l only, for a kernel whose
				   kexec_file_load misbehaves */
};

/* kexec -l's argv, built in place: no shell, one element per value */
struct kexec_tool {
	char *argv[8];
	char kernel[32];			/* /proc/self/fd/N */
	char initrd[48];			/* --initrd=/proc/self/fd/N */
	char cmdline[16 + KERNEL_CMDLINE_MAX];	/* --command-line=TEXT */
};

/*
 * Whether to try, from the order and the image's metadata ("key=value"
 * lines): the order's "kexec" true, not bare, a root partition named
 * (root=N). 1 to try; 0 with *why saying why not.
 */
int kexec_wanted(json_t *order, const char *meta, const char **why);

/*
 * Whether kexec_file_load's errno means the kernel refuses this way of
 * loading (not built in, locked down, a signature wanted, a format it
 * does not take): the machine reboots through the firmware instead.
 */
int kexec_errno_is_refusal(int err);

/*
 * Whether that errno means this kernel does not do kexec_file_load for
 * this kernel file, when kexec_load may: not built in (ENOSYS,
 * EOPNOTSUPP), a format only kexec-tools takes (ENOEXEC). Not lockdown
 * or a signature policy (EPERM, EKEYREJECTED, EBADMSG): lockdown
 * refuses kexec_load too, and a signature wanted is never walked
 * around.
 */
int kexec_errno_wants_load(int err);

/* pipol.kexec's value (NULL or "": none) as a mode; -1 if unknown */
int kexec_mode_parse(const char *v);

/*
 * kexec -l of the kernel at kfd, the initrd at ifd (-1: none), the
 * command line as it is, into t (its argv points into t): 0, or -1 when
 * the command line is longer than the kernel takes.
 */
int kexec_tool_argv(struct kexec_tool *t, int kfd, int ifd,
    const char *cmdline);

/*
 * argv run (no shell), kfd and ifd (-1: none) open in it, its output
 * logged a line at a time (KEXEC_TOOL_LINES at most), killed after sec
 * seconds: 0 when it exits 0, else -code with e saying how it ended.
 */
int kexec_tool_run(char *const argv[], int kfd, int ifd, int sec,
    struct perr *e);

/*
 * Node mode's hand-over, after the result was reported: when
 * kexec_wanted, disk's root partition mounted at KEXEC_ROOT_DIR, its
 * kernel loaded, unmounted and synced, mark(arg) called (pipold told:
 * best effort), then the jump. Returns only when there was none, having
 * logged one line saying why: the caller then reboots as before.
 */
void kexec_node(json_t *order, const char *meta, const char *disk,
    void (*mark)(void *arg), void *arg);

#endif
