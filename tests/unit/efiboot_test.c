/*
 * efiboot_test.c -- BootOrder with the network first, on a folder of fake
 * efivarfs files: load options as OVMF writes them (a disk entry with
 * hard drive and file path nodes, PXE over IPv4 and IPv6), malformed
 * ones, and the BootOrder bytes written back.
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "efiboot.h"
#include "harness.h"
#include "perr.h"

#define GUID "-8be4df61-93ca-11d2-aa0d-00e098032b8c"
#define ATTR_NV_BS_RT 0x7

struct blob {
	uint8_t b[512];
	size_t n;
};

static char dir[64];

static void
put(struct blob *o, const void *p, size_t len)
{
	memcpy(o->b + o->n, p, len);
	o->n += len;
}

static void
put16(struct blob *o, unsigned v)
{
	uint8_t b[2] = { v & 0xff, v >> 8 };

	put(o, b, 2);
}

/* A device path node of len bytes in all (payload zeroed). */
static void
node(struct blob *o, unsigned type, unsigned sub, unsigned len)
{
	uint8_t z[128] = { 0 };

	put(o, (uint8_t[]){ type, sub }, 2);
	put16(o, len);
	put(o, z, len - 4);
}

enum path { P_DISK, P_PXE4, P_PXE6, P_MAC, P_HTTP_FILE, P_SHORT_NODE,
    P_LONG_NODE, P_NO_END };

/* The device path of each case, as OVMF builds them. */
static void
path(struct blob *o, enum path p)
{
	node(o, 2, 1, 12);			/* PciRoot(0x0) */
	node(o, 1, 1, 6);			/* Pci(0x2,0x0) */
	switch (p) {
	case P_DISK: node(o, 4, 1, 42); node(o, 4, 4, 52); break;
	case P_PXE4: node(o, 3, 11, 37); node(o, 3, 12, 27); break;
	case P_PXE6: node(o, 3, 11, 37); node(o, 3, 13, 60); break;
	case P_MAC: node(o, 3, 11, 37); break;
	case P_HTTP_FILE: node(o, 3, 11, 37); node(o, 4, 4, 20); break;
	case P_SHORT_NODE: node(o, 3, 11, 37); put(o, "\3\14\2\0", 4); break;
	case P_LONG_NODE: node(o, 3, 11, 37); put(o, "\3\14\377\0", 4); break;
	case P_NO_END: node(o, 3, 11, 37); return;
	}
	node(o, 0x7f, 0xff, 4);
}

/* An EFI_LOAD_OPTION: active, description, device path, no data. */
static void
load_option(struct blob *o, const char *desc, enum path p)
{
	struct blob dp = { .n = 0 };
	uint32_t attr = 1;

	path(&dp, p);
	put(o, &attr, 4);
	put16(o, (unsigned)dp.n);
	for (; *desc; desc++)
		put16(o, (uint8_t)*desc);
	put16(o, 0);
	put(o, dp.b, dp.n);
}

static void
var_write(const char *name, const void *data, size_t len)
{
	char p[160];
	uint32_t attr = ATTR_NV_BS_RT;
	int fd;

	snprintf(p, sizeof(p), "%s/%s" GUID, dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, &attr, 4) == 4 &&
	    write(fd, data, len) == (ssize_t)len && close(fd) == 0);
}

static void
boot_write(unsigned num, const char *desc, enum path p)
{
	struct blob o = { .n = 0 };
	char name[16];

	load_option(&o, desc, p);
	snprintf(name, sizeof(name), "Boot%04X", num);
	var_write(name, o.b, o.n);
}

static void
order_write(const uint16_t *v, size_t n)
{
	struct blob o = { .n = 0 };
	size_t i;

	for (i = 0; i < n; i++)
		put16(&o, v[i]);
	var_write("BootOrder", o.b, o.n);
}

/* The bytes of BootOrder-GUID, attributes included. */
static size_t
order_read(uint8_t *buf, size_t cap)
{
	char p[160];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/BootOrder" GUID, dir);
	if ((fd = open(p, O_RDONLY)) < 0)
		return 0;
	n = read(fd, buf, cap);
	close(fd);
	return n < 0 ? 0 : (size_t)n;
}

static void
setup(void)
{
	strcpy(dir, "/tmp/efiboot_test.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	boot_write(0x0001, "debian", P_DISK);
	boot_write(0x0002, "UEFI PXEv4 (MAC:525400AA0001)", P_PXE4);
	boot_write(0x0003, "UEFI PXEv6 (MAC:525400AA0001)", P_PXE6);
	boot_write(0x000A, "broken", P_LONG_NODE);
}

static void
teardown(void)
{
	struct dirent *d;
	char p[400];
	DIR *dp;

	if ((dp = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL)
		if (d->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", dir, d->d_name);
			unlink(p);
		}
	closedir(dp);
	rmdir(dir);
}

static void
kinds(void)
{
	static const struct { enum path p; int kind; } t[] = {
		{ P_DISK, EFI_BOOT_OTHER }, { P_PXE4, EFI_BOOT_NET4 },
		{ P_PXE6, EFI_BOOT_NET6 }, { P_MAC, EFI_BOOT_NET },
		{ P_HTTP_FILE, EFI_BOOT_OTHER },
		{ P_SHORT_NODE, EFI_BOOT_BAD }, { P_LONG_NODE, EFI_BOOT_BAD },
		{ P_NO_END, EFI_BOOT_BAD },
	};
	char desc[EFI_DESC_MAX];
	struct blob o;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		o.n = 0;
		load_option(&o, "debian", t[i].p);
		CHECK(efi_load_option_kind(o.b, o.n, desc, sizeof(desc)) ==
		    (enum efi_boot_kind)t[i].kind);
		CHECK(strcmp(desc, "debian") == 0);
	}
}

/* Lengths that lie: every cut of a good option, a path list too long. */
static void
kinds_truncated(void)
{
	struct blob o = { .n = 0 };
	char desc[4];
	size_t len;

	load_option(&o, "UEFI PXEv4", P_PXE4);
	for (len = 0; len < o.n; len++)
		CHECK(efi_load_option_kind(o.b, len, NULL, 0) == EFI_BOOT_BAD);
	CHECK(efi_load_option_kind(o.b, o.n, desc, sizeof(desc)) ==
	    EFI_BOOT_NET4);
	CHECK(strcmp(desc, "UEF") == 0);
	o.b[4] += 1;		/* FilePathListLength past the end */
	CHECK(efi_load_option_kind(o.b, o.n, NULL, 0) == EFI_BOOT_BAD);
	o.b[4] = 3;		/* shorter than one node */
	CHECK(efi_load_option_kind(o.b, o.n, NULL, 0) == EFI_BOOT_BAD);
}

static void
network_moves_first(void)
{
	/* 0005 has no Boot0005 variable: kept, with the others */
	static const uint16_t before[] = { 1, 0xA, 3, 2, 5 };
	static const uint8_t want[] = { 7, 0, 0, 0,
	    2, 0, 3, 0, 1, 0, 0xA, 0, 5, 0 };
	struct efi_bootorder bo;
	uint8_t got[64];
	struct perr e;
	int changed = -1;

	setup();
	order_write(before, 5);
	CHECK(efi_bootorder_plan(dir, &bo, &e) == 0);
	CHECK(bo.present && bo.n == 5 && bo.nnet == 2 && bo.changed);
	CHECK(bo.kind[0] == EFI_BOOT_OTHER && bo.kind[1] == EFI_BOOT_BAD &&
	    bo.kind[4] == EFI_BOOT_BAD);
	CHECK(strcmp(bo.desc[3], "UEFI PXEv4 (MAC:525400AA0001)") == 0);
	CHECK(efi_network_first(dir, &changed, &e) == 0 && changed == 1);
	CHECK(order_read(got, sizeof(got)) == sizeof(want));
	CHECK(memcmp(got, want, sizeof(want)) == 0);
	CHECK(efi_network_first(dir, &changed, &e) == 0 && changed == 0);
	teardown();
}

/* Already network first: the file is not even opened for writing. */
static void
already_first(void)
{
	static const uint16_t before[] = { 2, 3, 1 };
	struct timeval old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct efi_bootorder bo;
	char p[160];
	struct stat st;
	struct perr e;
	int changed = -1;

	setup();
	order_write(before, 3);
	snprintf(p, sizeof(p), "%s/BootOrder" GUID, dir);
	CHECK(utimes(p, old) == 0);
	CHECK(efi_bootorder_plan(dir, &bo, &e) == 0);
	CHECK(bo.present && bo.nnet == 2 && !bo.changed);
	CHECK(efi_network_first(dir, &changed, &e) == 0 && changed == 0);
	CHECK(stat(p, &st) == 0 && st.st_mtime == 1000000000);
	teardown();
}

static void
no_network_entry(void)
{
	static const uint16_t before[] = { 1, 0xA };
	struct efi_bootorder bo;
	struct perr e;
	int changed = -1;

	setup();
	order_write(before, 2);
	CHECK(efi_bootorder_plan(dir, &bo, &e) == 0);
	CHECK(bo.present && bo.nnet == 0 && !bo.changed);
	CHECK(efi_network_first(dir, &changed, &e) == 0 && changed == 0);
	teardown();
}

static void
no_efivars(void)
{
	struct efi_bootorder bo;
	struct perr e;
	int changed = -1;

	CHECK(efi_network_first("/nonexistent/efivars", &changed, &e) == 0);
	CHECK(changed == 0);
	setup();		/* a folder without BootOrder */
	CHECK(efi_bootorder_plan(dir, &bo, &e) == 0 && !bo.present);
	CHECK(efi_network_first(dir, &changed, &e) == 0 && changed == 0);
	teardown();
}

static void
truncated_bootorder(void)
{
	char want[200];
	uint8_t got[16];
	struct perr e;
	int changed = -1;

	setup();
	var_write("BootOrder", "\2\0\1", 3);	/* odd: half an entry */
	CHECK(efi_network_first(dir, &changed, &e) == -PE_DATA);
	snprintf(want, sizeof(want), "%s/BootOrder" GUID ": 7 bytes: "
	    "truncated (4 bytes of attributes, then 2 per entry)", dir);
	CHECK(strcmp(e.msg, want) == 0 && changed == 0);
	CHECK(order_read(got, sizeof(got)) == 7);
	snprintf(want, sizeof(want), "%s/BootOrder" GUID, dir);
	CHECK(truncate(want, 2) == 0);		/* not even the attributes */
	CHECK(efi_network_first(dir, &changed, &e) == -PE_DATA);
	CHECK(strstr(e.msg, "BootOrder" GUID ": 2 bytes: truncated") != NULL);
	var_write("BootOrder", "", 0);		/* empty: nothing to do */
	CHECK(efi_network_first(dir, &changed, &e) == 0 && changed == 0);
	teardown();
}

int
main(void)
{
	RUN(kinds);
	RUN(kinds_truncated);
	RUN(network_moves_first);
	RUN(already_first);
	RUN(no_network_entry);
	RUN(no_efivars);
	RUN(truncated_bootorder);
	DONE();
}
