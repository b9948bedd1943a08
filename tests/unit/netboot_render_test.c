/*
 * netboot_render_test.c -- ipxe/netboot.ipxe through boot.c's strict
 * renderer: a netboot-only node's script with its recorded kernel (with
 * and without an initrd), with none recorded, and the refusal of a
 * command line iPXE would misread (the last word after pipold's own
 * check at upload). The kernel's superblock UUID (kernel_upload.c) on a
 * fake ext4 and xfs superblock.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "harness.h"
#include "kernel_find.h"
#include "kernel_upload.h"

static void
set(struct boot_var *v, const char *name, const char *value)
{
	v->name = name;
	snprintf(v->value, sizeof(v->value), "%s", value);
}

/* The node's variables as boot.c sets them for netboot */
static int
vars(struct boot_var *v, const char *kernel, const char *initrd,
    const char *cmdline)
{
	set(&v[0], "SERVER", "http://10.0.0.1:8080");
	set(&v[1], "NODE", "it1");
	set(&v[2], "MAC", "52:54:00:99:00:21");
	set(&v[3], "DEPLOYMENT", "12");
	set(&v[4], "KERNEL", kernel);
	set(&v[5], "INITRD", initrd);
	set(&v[6], "INITRD_ARG", strcmp(initrd, "yes") == 0 ?
	    "initrd=initrd.img" : "");
	set(&v[7], "CMDLINE", cmdline);
	return 8;
}

static void
render_kernel(void)
{
	struct boot_var v[BOOT_VARS];
	char *s;
	int n = vars(v, "yes", "yes", "console=ttyS0,115200 rw "
	    "root=UUID=50495030-4c00-4000-8000-7465737469d6");

	s = boot_render("netboot", v, n);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	CHECK(strncmp(s, "#!ipxe\n", 7) == 0);
	CHECK(strstr(s, "\niseq yes none && goto nokernel ||\n") != NULL);
	CHECK(strstr(s, "\nkernel http://10.0.0.1:8080/boot/52:54:00:99:00:21/"
	    "kernel initrd=initrd.img console=ttyS0,115200 rw root=UUID="
	    "50495030-4c00-4000-8000-7465737469d6 || goto failed\n") != NULL);
	CHECK(strstr(s, "\niseq yes yes || goto boot\ninitrd --name initrd.img "
	    "http://10.0.0.1:8080/boot/52:54:00:99:00:21/initrd || goto "
	    "failed\n") != NULL);
	CHECK(strstr(s, "(deployment 12)") != NULL);
	CHECK(strchr(s, '@') == NULL);
	free(s);
}

static void
render_no_initrd(void)
{
	struct boot_var v[BOOT_VARS];
	char *s;
	int n = vars(v, "yes", "no", "quiet");

	s = boot_render("netboot", v, n);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	CHECK(strstr(s, "/kernel  quiet || goto failed\n") != NULL);
	CHECK(strstr(s, "\niseq no yes || goto boot\n") != NULL);
	free(s);
}

static void
render_none(void)
{
	struct boot_var v[BOOT_VARS];
	char *s;
	int n = vars(v, "none", "no", "");

	s = boot_render("netboot", v, n);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	CHECK(strstr(s, "\niseq none none && goto nokernel ||\n") != NULL);
	CHECK(strstr(s, ":nokernel\necho pipol: it1: no kernel recorded") !=
	    NULL);
	CHECK(strstr(s, "/boot/52:54:00:99:00:21?rescue=1 || reboot\n") !=
	    NULL);
	free(s);
}

static void
render_refuses(void)
{
	static const char *const bad[] = { "quiet ${net0/mac}",
	    "quiet\nshell", "a\"b", "x;reboot", "a||b", "a`b`" };
	struct boot_var v[BOOT_VARS];
	size_t i;
	int n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = vars(v, "yes", "yes", bad[i]);
		CHECK(boot_render("netboot", v, n) == NULL);
	}
}

/* A superblock at its offset in a file; its UUID read back */
static int
fake_fs(const char *path, off_t at, const void *magic, size_t mlen,
    off_t magic_at, off_t uuid_at, char uuid[37])
{
	static const unsigned char u[16] = { 0x50, 0x49, 0x50, 0x30, 0x4c,
	    0x00, 0x40, 0x00, 0x80, 0x00, 0x74, 0x65, 0x73, 0x74, 0x69, 0xd6 };
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600), rc;

	if (fd < 0 || ftruncate(fd, 128 * 1024) < 0 ||
	    pwrite(fd, magic, mlen, at + magic_at) != (ssize_t)mlen ||
	    pwrite(fd, u, 16, at + uuid_at) != 16)
		rc = -1;
	else
		rc = kernel_fs_uuid(path, uuid, 37);
	if (fd >= 0)
		close(fd);
	unlink(path);
	return rc;
}

static void
fs_uuid(void)
{
	static const unsigned char ext[2] = { 0x53, 0xef };
	char path[] = "/tmp/netboot_render_test.XXXXXX", uuid[37];
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	close(fd);
	CHECK(fake_fs(path, 1024, ext, 2, 0x38, 0x68, uuid) == 0 &&
	    strcmp(uuid, "50495030-4c00-4000-8000-7465737469d6") == 0);
	CHECK(fake_fs(path, 0, "XFSB", 4, 0, 32, uuid) == 0 &&
	    strcmp(uuid, "50495030-4c00-4000-8000-7465737469d6") == 0);
	CHECK(fake_fs(path, 65536, "_BHRfS_M", 8, 0x40, 0x20, uuid) == 0 &&
	    strcmp(uuid, "50495030-4c00-4000-8000-7465737469d6") == 0);
	CHECK(fake_fs(path, 0, "NOPE", 4, 0, 32, uuid) == -1);
}

int
main(void)
{
	RUN(render_kernel);
	RUN(render_no_initrd);
	RUN(render_none);
	RUN(render_refuses);
	RUN(fs_uuid);
	DONE();
}
