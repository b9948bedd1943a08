/*
 * kexec_test.c -- the decisions of initrd/kexec.c that need no jump:
 * whether an order and an image's metadata ask for kexec, which errors
 * of kexec_file_load mean "reboot through the firmware", and the root
 * filesystem's UUID (for root=UUID=) read from ext4, XFS and btrfs
 * superblocks made here byte by byte, and from nothing at all; that
 * node mode's hand-over does nothing but say why on what is not a disk.
 * The kexec_load path: which errors go on to kexec -l, pipol.kexec=
 * (cmdline.c's cmdline_value) and its values, kexec -l's argv (no
 * shell, each value one element, a command line passed verbatim), and
 * the runner: fds inherited by /proc/self/fd, exit statuses, output
 * logged and bounded, a tool that does not end killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdline.h"
#include "harness.h"
#include "kernel_find.h"
#include "kexec.h"

static const struct {
	const char *order, *meta;
	int want;
} wanted[] = {
	{ "{\"kexec\": true}", "root=2\nfstype=ext4\n", 1 },
	{ "{\"kexec\": true}", "fstype=ext4\nroot=12", 1 },
	{ "{\"kexec\": false}", "root=2\n", 0 },	/* off */
	{ "{}", "root=2\n", 0 },		/* an older pipold: no field */
	{ "{\"kexec\": \"yes\"}", "root=2\n", 0 },	/* true only */
	{ "{\"kexec\": 1}", "root=2\n", 0 },
	{ "{\"kexec\": true, \"bare\": true}", "root=2\n", 0 },
	{ "{\"kexec\": true}", "", 0 },		/* no root partition */
	{ "{\"kexec\": true}", "root=\n", 0 },
	{ "{\"kexec\": true}", "root=2a\n", 0 },
	{ "{\"kexec\": true}", "root=1234\n", 0 },
	{ "{\"kexec\": true}", "uproot=2\n", 0 },
	{ "{\"kexec\": true}", "rootfs=2\n", 0 },
};

static void
kexec_wanted_cases(void)
{
	const char *why;
	json_t *o;
	size_t i;
	int got;

	for (i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		o = json_loads(wanted[i].order, 0, NULL);
		CHECK(o != NULL);
		why = NULL;
		got = kexec_wanted(o, wanted[i].meta, &why);
		if (got != wanted[i].want)
			fprintf(stderr, "  case %zu: %s / %s: got %d\n", i,
			    wanted[i].order, wanted[i].meta, got);
		CHECK(got == wanted[i].want);
		CHECK(got == 1 || (why != NULL && *why != '\0'));
		json_decref(o);
	}
}

static void
kexec_refusals(void)
{
	CHECK(kexec_errno_is_refusal(ENOSYS));		/* not built in */
	CHECK(kexec_errno_is_refusal(EPERM));		/* lockdown */
	CHECK(kexec_errno_is_refusal(EKEYREJECTED));	/* SIG_FORCE */
	CHECK(kexec_errno_is_refusal(ENOEXEC));		/* not a bzImage */
	CHECK(!kexec_errno_is_refusal(ENOMEM));
	CHECK(!kexec_errno_is_refusal(EBADF));
	CHECK(!kexec_errno_is_refusal(0));
}

static const uint8_t uuid_bytes[16] = { 0x50, 0x49, 0x50, 0x30, 0x4c, 0x00,
    0x40, 0x00, 0x80, 0x00, 0x74, 0x65, 0x73, 0x74, 0x69, 0xd6 };
#define UUID_TEXT	"50495030-4c00-4000-8000-7465737469d6"

/* A file of len zero bytes, magic at magic_off, uuid at uuid_off */
static void
sb_file(const char *path, size_t len, off_t magic_off, const char *magic,
    size_t mlen, off_t uuid_off, const uint8_t *uuid)
{
	uint8_t *buf = calloc(1, len);
	int fd;

	CHECK(buf != NULL);
	if (magic != NULL)
		memcpy(buf + magic_off, magic, mlen);
	if (uuid != NULL)
		memcpy(buf + uuid_off, uuid, 16);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, buf, len) == (ssize_t)len);
	close(fd);
	free(buf);
}

static void
kexec_fs_uuids(void)
{
	char path[64], out[KERNEL_UUID_MAX];
	int fd;

	snprintf(path, sizeof(path), "/tmp/kexec_test.XXXXXX");
	CHECK((fd = mkstemp(path)) >= 0);
	close(fd);
	/* ext4: 0xEF53 at 1024 + 0x38, the UUID at 1024 + 0x68 */
	sb_file(path, 4096, 1024 + 0x38, "\x53\xef", 2, 1024 + 0x68,
	    uuid_bytes);
	CHECK(kernel_fs_uuid(path, out, sizeof(out)) == 0);
	CHECK(strcmp(out, UUID_TEXT) == 0);
	/* XFS: "XFSB" at 0, the UUID at 0x20 */
	sb_file(path, 4096, 0, "XFSB", 4, 0x20, uuid_bytes);
	CHECK(kernel_fs_uuid(path, out, sizeof(out)) == 0 &&
	    strcmp(out, UUID_TEXT) == 0);
	/* btrfs: its magic at 64 KiB + 0x40, the fsid at 64 KiB + 0x20 */
	sb_file(path, 0x11000, 0x10040, "_BHRfS_M", 8, 0x10020, uuid_bytes);
	CHECK(kernel_fs_uuid(path, out, sizeof(out)) == 0 &&
	    strcmp(out, UUID_TEXT) == 0);
	/* no magic, a UUID where ext4's would be: none */
	sb_file(path, 4096, 0, NULL, 0, 1024 + 0x68, uuid_bytes);
	CHECK(kernel_fs_uuid(path, out, sizeof(out)) < 0);
	/* ext4's magic but an all-zero UUID: none (blkid gives none) */
	sb_file(path, 4096, 1024 + 0x38, "\x53\xef", 2, 0, NULL);
	CHECK(kernel_fs_uuid(path, out, sizeof(out)) < 0);
	/* a file too short for a superblock */
	sb_file(path, 100, 0, "XFSB", 4, 0, NULL);
	CHECK(kernel_fs_uuid(path, out, sizeof(out)) < 0);
	unlink(path);
	CHECK(kernel_fs_uuid(path, out, sizeof(out)) < 0);	/* no file */
}

/* stderr (log.c's lines) of one kexec_node call on disk, into out */
static void
node_log(json_t *order, const char *disk, char *out, size_t len)
{
	char path[64];
	ssize_t n;
	int fd, saved;

	snprintf(path, sizeof(path), "/tmp/kexec_test_log.XXXXXX");
	CHECK((fd = mkstemp(path)) >= 0);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	kexec_node(order, "root=2\nfstype=ext4\n", disk, NULL, NULL);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, out, len - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
}

/*
 * kexec_node returns, saying why, for what is not a node's disk in
 * pipol's deployment environment: a file (the agent's --target in the
 * tests), a character device, nothing. Never a jump from a test host.
 */
static void
kexec_node_not_a_disk(void)
{
	static const char *const disks[] = { "/tmp/kexec_test_disk",
	    "/dev/null", "/nonexistent/disk" };
	json_t *on = json_pack("{s:b}", "kexec", 1);
	char out[1024];
	size_t i;
	int fd;

	CHECK((fd = open(disks[0], O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	CHECK(ftruncate(fd, 1 << 20) == 0);
	close(fd);
	for (i = 0; i < sizeof(disks) / sizeof(disks[0]); i++) {
		node_log(on, disks[i], out, sizeof(out));
		if (strstr(out, "kexec: not used (not a disk in pipol's "
		    "deployment environment): rebooting through the "
		    "firmware") == NULL)
			fprintf(stderr, "  %s: %s\n", disks[i], out);
		CHECK(strstr(out, "kexec: not used (not a disk") != NULL);
	}
	node_log(on, NULL, out, sizeof(out));
	CHECK(strstr(out, "kexec: not used (not a disk") != NULL);
	unlink(disks[0]);
	json_decref(on);
}

static void
kexec_load_fallback(void)
{
	CHECK(kexec_errno_wants_load(ENOSYS));		/* no KEXEC_FILE */
	CHECK(kexec_errno_wants_load(EOPNOTSUPP));
	CHECK(kexec_errno_wants_load(ENOEXEC));		/* not a bzImage64 */
	CHECK(!kexec_errno_wants_load(EPERM));		/* lockdown: both */
	CHECK(!kexec_errno_wants_load(EKEYREJECTED));	/* a signature */
	CHECK(!kexec_errno_wants_load(EBADMSG));
	CHECK(!kexec_errno_wants_load(ENOMEM));
	CHECK(!kexec_errno_wants_load(EBUSY));
	CHECK(!kexec_errno_wants_load(0));
}

static void
kexec_modes(void)
{
	char path[64], v[16];
	struct perr e;
	int fd;

	CHECK(kexec_mode_parse(NULL) == KEXEC_MODE_AUTO);
	CHECK(kexec_mode_parse("") == KEXEC_MODE_AUTO);
	CHECK(kexec_mode_parse("file") == KEXEC_MODE_FILE);
	CHECK(kexec_mode_parse("load") == KEXEC_MODE_LOAD);
	CHECK(kexec_mode_parse("LOAD") < 0);
	CHECK(kexec_mode_parse("load ") < 0);
	CHECK(kexec_mode_parse("loadx") < 0);
	CHECK(kexec_mode_parse("1") < 0);

	snprintf(path, sizeof(path), "/tmp/kexec_test_cmdline.XXXXXX");
	CHECK((fd = mkstemp(path)) >= 0);
	dprintf(fd, "BOOT_IMAGE=vmlinuz pipol.kexec=file pipol.kexecx=no "
	    "xpipol.kexec=no quiet\tpipol.kexec=load\n");
	CHECK(cmdline_value(path, "pipol.kexec", v, sizeof(v), &e) == 1);
	CHECK(strcmp(v, "load") == 0);		/* the last one */
	CHECK(cmdline_value(path, "pipol.rescue", v, sizeof(v), &e) == 0);
	CHECK(*v == '\0');
	CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
	dprintf(fd, "pipol.kexec=%s\n", "a-value-longer-than-16");
	CHECK(cmdline_value(path, "pipol.kexec", v, sizeof(v), &e) < 0);
	close(fd);
	unlink(path);
	CHECK(cmdline_value(path, "pipol.kexec", v, sizeof(v), &e) < 0);
}

static int
argc_of(char *const argv[])
{
	int n = 0;

	while (argv[n] != NULL)
		n++;
	return n;
}

static void
kexec_tool_argvs(void)
{
	static const char hostile[] = "root=UUID=1 ro quiet \"a b\" 'c d' "
	    "$(reboot) `id` ; | & > x --reuse-cmdline -e\ttab\\";
	struct kexec_tool *t = malloc(sizeof(*t));
	char *big = malloc(KERNEL_CMDLINE_MAX + 2);

	CHECK(t != NULL && big != NULL);
	CHECK(kexec_tool_argv(t, 7, 9, hostile) == 0);
	CHECK(argc_of(t->argv) == 6);
	CHECK(strcmp(t->argv[0], KEXEC_TOOL) == 0);
	CHECK(strcmp(t->argv[1], "-c") == 0);
	CHECK(strcmp(t->argv[2], "-l") == 0);
	CHECK(strcmp(t->argv[3], "/proc/self/fd/7") == 0);
	CHECK(strcmp(t->argv[4], "--initrd=/proc/self/fd/9") == 0);
	CHECK(strncmp(t->argv[5], "--command-line=", 15) == 0 &&
	    strcmp(t->argv[5] + 15, hostile) == 0);
	/* no initrd: no --initrd */
	CHECK(kexec_tool_argv(t, 3, -1, "") == 0);
	CHECK(argc_of(t->argv) == 5);
	CHECK(strcmp(t->argv[3], "/proc/self/fd/3") == 0);
	CHECK(strcmp(t->argv[4], "--command-line=") == 0);
	/* the longest command line kernel_find.c gives fits; one more not */
	memset(big, 'x', KERNEL_CMDLINE_MAX + 1);
	big[KERNEL_CMDLINE_MAX - 1] = '\0';
	CHECK(kexec_tool_argv(t, 3, 4, big) == 0);
	CHECK(strlen(t->argv[5]) == 15 + KERNEL_CMDLINE_MAX - 1);
	memset(big, 'x', KERNEL_CMDLINE_MAX + 1);
	big[KERNEL_CMDLINE_MAX + 1] = '\0';
	CHECK(kexec_tool_argv(t, 3, 4, big) < 0);
	free(big);
	free(t);
}

/* stderr (log.c's lines) of one kexec_tool_run, into out; its rc */
static int
run_log(char *const argv[], int kfd, int ifd, int sec, struct perr *e,
    char *out, size_t len)
{
	char path[64];
	ssize_t n;
	int fd, saved, rc;

	snprintf(path, sizeof(path), "/tmp/kexec_test_run.XXXXXX");
	CHECK((fd = mkstemp(path)) >= 0);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	rc = kexec_tool_run(argv, kfd, ifd, sec, e);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, out, len - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return rc;
}

static void
kexec_tool_runs(void)
{
	char kpath[64], ipath[64], karg[32], iarg[32], out[4096];
	char *cat[] = { (char *)"/bin/cat", karg, iarg, NULL };
	char *fail[] = { (char *)"/bin/false", NULL };
	char *none[] = { (char *)"/nonexistent/kexec", NULL };
	char *seq[] = { (char *)"/usr/bin/seq", (char *)"100", NULL };
	char *slp[] = { (char *)"/bin/sleep", (char *)"30", NULL };
	char *mute[] = { (char *)"/bin/sh", (char *)"-c", (char *)
	    "exec >&- 2>&-; sleep 30", NULL };
	struct perr e;
	time_t t0;
	int kfd, ifd;

	/* the fds, close-on-exec as kexec.c opens them, read by their
	 * /proc/self/fd path in the child */
	snprintf(kpath, sizeof(kpath), "/tmp/kexec_test_k.XXXXXX");
	snprintf(ipath, sizeof(ipath), "/tmp/kexec_test_i.XXXXXX");
	CHECK((kfd = mkostemp(kpath, O_CLOEXEC)) >= 0);
	CHECK((ifd = mkostemp(ipath, O_CLOEXEC)) >= 0);
	dprintf(kfd, "the kernel\n");
	dprintf(ifd, "the initrd, no newline");
	unlink(kpath);
	unlink(ipath);
	snprintf(karg, sizeof(karg), "/proc/self/fd/%d", kfd);
	snprintf(iarg, sizeof(iarg), "/proc/self/fd/%d", ifd);
	CHECK(run_log(cat, kfd, ifd, 30, &e, out, sizeof(out)) == 0);
	if (strstr(out, "kexec: cat: the initrd, no newline") == NULL)
		fprintf(stderr, "  cat: %s\n", out);
	CHECK(strstr(out, "kexec: cat: the kernel\n") != NULL);
	CHECK(strstr(out, "kexec: cat: the initrd, no newline") != NULL);
	/* without the initrd's fd kept open: cat fails on it */
	CHECK(run_log(cat, kfd, -1, 30, &e, out, sizeof(out)) < 0);
	CHECK(strcmp(e.msg, "cat: exit 1") == 0);
	close(kfd);
	close(ifd);

	CHECK(run_log(fail, 0, -1, 30, &e, out, sizeof(out)) == -PE_FAIL);
	CHECK(strcmp(e.msg, "false: exit 1") == 0);
	CHECK(run_log(none, 0, -1, 30, &e, out, sizeof(out)) < 0);
	CHECK(strcmp(e.msg, "kexec: cannot run /nonexistent/kexec") == 0);
	/* its output logged, KEXEC_TOOL_LINES lines at most */
	CHECK(run_log(seq, 0, -1, 30, &e, out, sizeof(out)) == 0);
	CHECK(strstr(out, "kexec: seq: 1\n") != NULL);
	CHECK(strstr(out, "kexec: seq: 20\n") != NULL);
	CHECK(strstr(out, "kexec: seq: 21\n") == NULL);
	CHECK(strstr(out, "kexec: seq: (more output not logged)") != NULL);
	/* one that does not end, talking or not: killed at the bound */
	t0 = time(NULL);
	CHECK(run_log(slp, 0, -1, 1, &e, out, sizeof(out)) < 0);
	CHECK(strcmp(e.msg, "sleep: no end in 1 s (killed)") == 0);
	CHECK(run_log(mute, 0, -1, 1, &e, out, sizeof(out)) < 0);
	CHECK(strcmp(e.msg, "sh: no end in 1 s (killed)") == 0);
	CHECK(time(NULL) - t0 < 20);	/* not 60 s of sleeping */
}

int
main(void)
{
	RUN(kexec_wanted_cases);
	RUN(kexec_refusals);
	RUN(kexec_fs_uuids);
	RUN(kexec_node_not_a_disk);
	RUN(kexec_load_fallback);
	RUN(kexec_modes);
	RUN(kexec_tool_argvs);
	RUN(kexec_tool_runs);
	DONE();
}
