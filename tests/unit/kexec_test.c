/*
 * kexec_test.c -- the decisions of initrd/kexec.c that need no jump:
 * whether an order and an image's metadata ask for kexec, which errors
 * of kexec_file_load mean "reboot through the firmware", and the root
 * filesystem's UUID (for root=UUID=) read from ext4, XFS and btrfs
 * superblocks made here byte by byte, and from nothing at all; that
 * node mode's hand-over does nothing but say why on what is not a disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	CHECK(kexec_fs_uuid(path, out, sizeof(out)) == 0);
	CHECK(strcmp(out, UUID_TEXT) == 0);
	/* XFS: "XFSB" at 0, the UUID at 0x20 */
	sb_file(path, 4096, 0, "XFSB", 4, 0x20, uuid_bytes);
	CHECK(kexec_fs_uuid(path, out, sizeof(out)) == 0 &&
	    strcmp(out, UUID_TEXT) == 0);
	/* btrfs: its magic at 64 KiB + 0x40, the fsid at 64 KiB + 0x20 */
	sb_file(path, 0x11000, 0x10040, "_BHRfS_M", 8, 0x10020, uuid_bytes);
	CHECK(kexec_fs_uuid(path, out, sizeof(out)) == 0 &&
	    strcmp(out, UUID_TEXT) == 0);
	/* no magic, a UUID where ext4's would be: none */
	sb_file(path, 4096, 0, NULL, 0, 1024 + 0x68, uuid_bytes);
	CHECK(kexec_fs_uuid(path, out, sizeof(out)) < 0);
	/* ext4's magic but an all-zero UUID: none (blkid gives none) */
	sb_file(path, 4096, 1024 + 0x38, "\x53\xef", 2, 0, NULL);
	CHECK(kexec_fs_uuid(path, out, sizeof(out)) < 0);
	/* a file too short for a superblock */
	sb_file(path, 100, 0, "XFSB", 4, 0, NULL);
	CHECK(kexec_fs_uuid(path, out, sizeof(out)) < 0);
	unlink(path);
	CHECK(kexec_fs_uuid(path, out, sizeof(out)) < 0);	/* no file */
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

int
main(void)
{
	RUN(kexec_wanted_cases);
	RUN(kexec_refusals);
	RUN(kexec_fs_uuids);
	RUN(kexec_node_not_a_disk);
	DONE();
}
