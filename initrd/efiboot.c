/*
 * efiboot.c -- put the network first in a UEFI BootOrder (efiboot.h).
 *
 * A deployed system, or a post-install script, may install a bootloader
 * that puts itself first in BootOrder; the node would then never come
 * back to pipold. We move the network boot options the firmware created
 * (PXE and HTTP boot, over IPv4 or IPv6) back to the front.
 *
 * Variables are efivarfs files: a u32 of attributes, then the data.
 * BootOrder is an array of u16; Boot#### (upper-case hex) is an
 * EFI_LOAD_OPTION (UEFI 2.10, 3.1.3):
 *   u32 Attributes | u16 FilePathListLength | UCS-2 Description, NUL |
 *   FilePathList[FilePathListLength bytes] | OptionalData
 * and a device path is nodes of u8 Type | u8 SubType | u16 Length
 * (Length counts the 4 header bytes), the first path ending at 7F/FF.
 * Everything is little-endian: this is x86 and arm64 code, as UEFI is.
 */
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "efiboot.h"

/* EFI_GLOBAL_VARIABLE (UEFI 2.10, 3.3), the vendor of BootOrder, Boot#### */
#define EFI_GLOBAL_GUID	"8be4df61-93ca-11d2-aa0d-00e098032b8c"
#define EFI_VAR_MAX_BYTES (64 << 10)	/* a load option is ~100 B; firmware
					   stores at most a few 10 KiB */
#define EFI_ATTR_BYTES	4

#define DP_MESSAGING	0x03
#define DP_MSG_MAC	11
#define DP_MSG_IPV4	12
#define DP_MSG_IPV6	13
#define DP_MEDIA	0x04
#define DP_MEDIA_HD	1
#define DP_MEDIA_CDROM	2
#define DP_MEDIA_FILE	4
#define DP_END		0x7f
#define DP_END_ENTIRE	0xff
#define DP_NODE_MIN	4	/* type, subtype, u16 length */

static unsigned
le16(const uint8_t *p)
{
	return p[0] | (unsigned)p[1] << 8;
}

/* The first device path of a FilePathList, len bytes. */
static enum efi_boot_kind
devpath_kind(const uint8_t *p, size_t len)
{
	int mac = 0, ip4 = 0, ip6 = 0, media = 0;
	size_t off = 0, nlen;

	while (len - off >= DP_NODE_MIN) {
		nlen = le16(p + off + 2);
		if (nlen < DP_NODE_MIN || nlen > len - off)
			return EFI_BOOT_BAD;
		if (p[off] == DP_END && p[off + 1] == DP_END_ENTIRE)
			break;
		if (p[off] == DP_MESSAGING) {
			mac |= p[off + 1] == DP_MSG_MAC;
			ip4 |= p[off + 1] == DP_MSG_IPV4;
			ip6 |= p[off + 1] == DP_MSG_IPV6;
		} else if (p[off] == DP_MEDIA) {
			media |= p[off + 1] == DP_MEDIA_HD ||
			    p[off + 1] == DP_MEDIA_CDROM ||
			    p[off + 1] == DP_MEDIA_FILE;
		}
		off += nlen;
	}
	if (len - off < DP_NODE_MIN)
		return EFI_BOOT_BAD;	/* no end node */
	if (!mac || media)
		return EFI_BOOT_OTHER;
	return ip6 && !ip4 ? EFI_BOOT_NET6 : ip4 ? EFI_BOOT_NET4 : EFI_BOOT_NET;
}

enum efi_boot_kind
efi_load_option_kind(const uint8_t *opt, size_t len, char *desc,
    size_t desclen)
{
	size_t off = 6, fpl, n = 0;
	unsigned c;

	if (desc != NULL && desclen > 0)
		desc[0] = '\0';
	if (len < off)
		return EFI_BOOT_BAD;
	fpl = le16(opt + 4);
	for (;; off += 2) {
		if (len - off < 2)
			return EFI_BOOT_BAD;	/* no NUL in the description */
		if ((c = le16(opt + off)) == 0)
			break;
		if (desc != NULL && n + 1 < desclen)
			desc[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	off += 2;
	if (desc != NULL && desclen > 0)
		desc[n] = '\0';
	if (fpl < DP_NODE_MIN || fpl > len - off)
		return EFI_BOOT_BAD;
	return devpath_kind(opt + off, fpl);
}

/*
 * Read variable name under dir into buf (cap bytes): 0 and *len,
 * -PE_NOTFOUND when it does not exist, -PE_DATA when larger than cap.
 */
static int
var_read(const char *dir, const char *name, uint8_t *buf, size_t cap,
    size_t *len, struct perr *e)
{
	char path[PATH_MAX];
	ssize_t r;
	int fd, rc = 0;

	*len = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return perr_errno(e, errno == ENOENT ? PE_NOTFOUND : PE_FAIL,
		    "%s", path);
	while (rc == 0 && (r = read(fd, buf + *len, cap - *len)) != 0) {
		if (r == -1 && errno != EINTR)
			rc = perr_errno(e, PE_FAIL, "%s", path);
		else if (r > 0 && (*len += (size_t)r) == cap)
			rc = perr_set(e, PE_DATA, "%s: more than %zu bytes",
			    path, cap - 1);
	}
	close(fd);
	return rc;
}

/* Fill bo->before and bo->attr from the bytes of BootOrder. */
static int
bootorder_parse(struct efi_bootorder *bo, const char *dir,
    const uint8_t *buf, size_t len, struct perr *e)
{
	size_t i;

	if (len < EFI_ATTR_BYTES || (len - EFI_ATTR_BYTES) % 2 != 0)
		return perr_set(e, PE_DATA, "%s/BootOrder-%s: %zu bytes: "
		    "truncated (4 bytes of attributes, then 2 per entry)",
		    dir, EFI_GLOBAL_GUID, len);
	if ((len - EFI_ATTR_BYTES) / 2 > EFI_BOOTORDER_MAX)
		return perr_set(e, PE_DATA, "%s/BootOrder-%s: %zu entries, "
		    "more than %d", dir, EFI_GLOBAL_GUID,
		    (len - EFI_ATTR_BYTES) / 2, EFI_BOOTORDER_MAX);
	memcpy(&bo->attr, buf, EFI_ATTR_BYTES);	/* host order, as efivarfs */
	bo->n = (len - EFI_ATTR_BYTES) / 2;
	for (i = 0; i < bo->n; i++)
		bo->before[i] = le16(buf + EFI_ATTR_BYTES + 2 * i);
	return 0;
}

/* Network first, IPv4 and MAC-only before IPv6, the rest after. */
static void
order_network_first(struct efi_bootorder *bo)
{
	static const uint8_t rank[] = {
		[EFI_BOOT_NET] = 0, [EFI_BOOT_NET4] = 0, [EFI_BOOT_NET6] = 1,
		[EFI_BOOT_OTHER] = 2, [EFI_BOOT_BAD] = 2,
	};
	size_t i, k = 0;
	int r;

	for (r = 0; r <= 2; r++)
		for (i = 0; i < bo->n; i++)
			if (rank[bo->kind[i]] == r)
				bo->after[k++] = bo->before[i];
	for (i = 0; i < bo->n; i++)
		bo->nnet += rank[bo->kind[i]] < 2;
	bo->changed = bo->nnet > 0 &&
	    memcmp(bo->before, bo->after, bo->n * sizeof(bo->before[0])) != 0;
}

int
efi_bootorder_plan(const char *efivars, struct efi_bootorder *bo,
    struct perr *e)
{
	char name[64];
	uint8_t *buf;
	size_t i, len;
	struct stat st;
	int rc;

	memset(bo, 0, sizeof(*bo));
	if (stat(efivars, &st) == -1 && errno == ENOENT)
		return 0;			/* BIOS boot */
	if ((buf = malloc(EFI_VAR_MAX_BYTES)) == NULL)
		return perr_set(e, PE_FAIL, "%s: out of memory", efivars);
	rc = var_read(efivars, "BootOrder-" EFI_GLOBAL_GUID, buf,
	    EFI_VAR_MAX_BYTES, &len, e);
	if (rc == -PE_NOTFOUND)
		rc = 0;			/* nothing to reorder */
	else if (rc == 0 && (rc = bootorder_parse(bo, efivars, buf, len,
	    e)) == 0)
		bo->present = 1;
	for (i = 0; rc == 0 && i < bo->n; i++) {
		snprintf(name, sizeof(name), "Boot%04X-%s", bo->before[i],
		    EFI_GLOBAL_GUID);
		bo->kind[i] = EFI_BOOT_BAD;	/* missing or unreadable */
		if (var_read(efivars, name, buf, EFI_VAR_MAX_BYTES, &len,
		    NULL) == 0 && len >= EFI_ATTR_BYTES)
			bo->kind[i] = efi_load_option_kind(buf +
			    EFI_ATTR_BYTES, len - EFI_ATTR_BYTES, bo->desc[i],
			    EFI_DESC_MAX);
	}
	free(buf);
	if (rc == 0)
		order_network_first(bo);
	return rc;
}

/*
 * efivarfs makes every variable file immutable (FS_IMMUTABLE_FL) so that
 * an rm -rf cannot brick a machine: clear the flag (set = 0) before the
 * write and put it back (set = 1) after. A missing file (a new variable)
 * or a filesystem without the flag (a test folder: ENOTTY, EOPNOTSUPP)
 * has nothing to do. Shared with apple_nvram.c.
 */
int
efi_var_immutable(const char *path, int set, int *was, struct perr *e)
{
	int fd, flags, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : perr_errno(e, PE_FAIL, "%s",
		    path);
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == -1) {
		if (errno != ENOTTY && errno != EOPNOTSUPP)
			rc = perr_errno(e, PE_FAIL, "%s: FS_IOC_GETFLAGS",
			    path);
		goto out;
	}
	if (was != NULL)
		*was = (flags & FS_IMMUTABLE_FL) != 0;
	if (!set == !(flags & FS_IMMUTABLE_FL))
		goto out;
	flags = set ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
	if (ioctl(fd, FS_IOC_SETFLAGS, &flags) == -1)
		rc = perr_errno(e, PE_FAIL, "%s: FS_IOC_SETFLAGS", path);
 out:
	close(fd);
	return rc;
}

/* Attributes and data in one write(): efivarfs sets the variable from
 * exactly one call. The size does not change (a permutation), so there
 * is no truncation to do, which efivarfs would not take anyway. */
static int
bootorder_put(const char *path, const struct efi_bootorder *bo,
    struct perr *e)
{
	uint8_t buf[EFI_ATTR_BYTES + 2 * EFI_BOOTORDER_MAX];
	size_t i, len = EFI_ATTR_BYTES + 2 * bo->n;
	ssize_t w;
	int fd, rc = 0;

	memcpy(buf, &bo->attr, EFI_ATTR_BYTES);
	for (i = 0; i < bo->n; i++) {
		buf[EFI_ATTR_BYTES + 2 * i] = bo->after[i] & 0xff;
		buf[EFI_ATTR_BYTES + 2 * i + 1] = bo->after[i] >> 8;
	}
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return perr_errno(e, PE_FAIL, "%s", path);
	if ((w = write(fd, buf, len)) == -1)
		rc = perr_errno(e, PE_FAIL, "%s: write", path);
	else if ((size_t)w != len)
		rc = perr_set(e, PE_FAIL, "%s: wrote %zd of %zu bytes", path,
		    w, len);
	if (close(fd) == -1 && rc == 0)
		rc = perr_errno(e, PE_FAIL, "%s: close", path);
	return rc;
}

int
efi_bootorder_write(const char *efivars, const struct efi_bootorder *bo,
    struct perr *e)
{
	char path[PATH_MAX];
	int rc, was = 0;

	if (!bo->present || !bo->changed)
		return 0;
	snprintf(path, sizeof(path), "%s/BootOrder-%s", efivars,
	    EFI_GLOBAL_GUID);
	if ((rc = efi_var_immutable(path, 0, &was, e)) < 0)
		return rc;
	rc = bootorder_put(path, bo, e);
	if (was)	/* best effort: the write is what matters */
		efi_var_immutable(path, 1, NULL, NULL);
	return rc;
}

int
efi_network_first(const char *efivars, int *changed, struct perr *e)
{
	struct efi_bootorder *bo;
	int rc;

	*changed = 0;
	if ((bo = malloc(sizeof(*bo))) == NULL)
		return perr_set(e, PE_FAIL, "%s: out of memory", efivars);
	if ((rc = efi_bootorder_plan(efivars, bo, e)) == 0 &&
	    (rc = efi_bootorder_write(efivars, bo, e)) == 0)
		*changed = bo->changed;
	free(bo);
	return rc;
}

int
efi_vars_mount(struct perr *e)
{
	struct statfs sf;
	struct stat st;

	if (stat("/sys/firmware/efi", &st) == -1)
		return 0;		/* not booted through UEFI */
	if (statfs(EFI_VARS_DIR, &sf) == 0 && sf.f_type == EFIVARFS_MAGIC)
		return 0;
	if (mount("efivarfs", EFI_VARS_DIR, "efivarfs",
	    MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == -1 && errno != EBUSY)
		return perr_errno(e, PE_FAIL, "mount efivarfs on %s",
		    EFI_VARS_DIR);
	return 0;
}
