/*
 * apple_nvram.c -- Apple's efi-boot-device set to the network (for
 * Intel Macs), written from Linux through efivarfs (apple_nvram.h).
 *
 * Mac firmware takes the startup device from Apple's NVRAM variables,
 * which macOS's bless writes, rather than from BootOrder alone; a node
 * that should come back to pipold needs the network there. What this
 * file relies on, and where it comes from (no Mac was booted here):
 *
 * - GUID 7C436110-AB2A-4BBB-A880-FE41995C9F82 ("Apple", the vendor of
 *   efi-boot-device and efi-boot-device-data): madingley.org/macmini/
 *   bootvariables.html; OpenCore's Configuration, NVRAM section.
 * - What bless writes for "bless --netboot --server pxe://en0@
 *   255.255.255.255" (apple-oss-distributions/bless, bless-330):
 *   modeNetboot.c takes scheme pxe, requires host 255.255.255.255 and
 *   then passes no host and no path; BLCreateEFIXMLRepresentationFor-
 *   NetworkPath.c builds an array of two dicts: { IOMatch: the
 *   IOBSDNameMatching dict of the interface plus IOProviderClass
 *   IONetworkInterface, BLMACAddress: the interface's MAC as data },
 *   then { IOEFIDevicePathType: MessagingNetbootProtocol, Protocol:
 *   FE3913DB-9AEE-4E40-A294-ABBE93A1A4B7 } for PXE; it serialises the
 *   array with IOCFSerialize and BLSetEFIBootDevice.c (setefinetwork-
 *   path, setit) stores the string in efi-boot-device through
 *   IODeviceTree:/options, deletes efi-boot-file, efi-boot-mkext and
 *   efi-boot-kernelcache, and writes NO efi-boot-device-data: we write
 *   none either (nor a device path for it).
 * - IOCFSerialize writes the XML without whitespace or a header, CFData
 *   as <data>BASE64</data>; the disk examples people publish from
 *   "nvram efi-boot-device" have that shape and no trailing NUL.
 *
 * Not verified, for whoever has a Mac: the order of keys inside each
 * dict (IOCFSerialize walks a CFDictionary, whose order is its hash's,
 * not insertion's; we use bless's insertion order), that the macOS
 * kernel does not derive efi-boot-device-data from the string (if it
 * does, a stale -data may still win), and the attributes (NV|BS|RT, as
 * for every variable the OS may read and change). madingley.org also
 * reports a Mac mini whose firmware followed BootOrder and ignored
 * efi-boot-device: efiboot.c's BootOrder work stays needed.
 */
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "apple_nvram.h"
#include "efiboot.h"
#include "perr.h"

#define ATTR_NV_BS_RT	"\x07\x00\x00\x00"	/* u32 LE: NV | BS | RT */
#define ATTR_BYTES	4
#define PXE_PROTOCOL	"FE3913DB-9AEE-4E40-A294-ABBE93A1A4B7"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
mac_ok(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return !(mac[0] & 1) && memcmp(mac, zero, 6) != 0;
}

int
apple_mac_parse(const char *s, uint8_t mac[6], struct perr *e)
{
	int i, hi, lo;

	for (i = 0; i < 6; i++, s += 3) {
		if ((hi = hexval(s[0])) < 0 || (lo = hexval(s[1])) < 0 ||
		    (i < 5 && s[2] != ':' && s[2] != '-') ||
		    (i == 5 && s[2] != '\0'))
			return perr_set(e, PE_USAGE, "bad MAC address "
			    "(want aa:bb:cc:dd:ee:ff)");
		mac[i] = hi << 4 | lo;
	}
	if (!mac_ok(mac))
		return perr_set(e, PE_USAGE, "MAC address is multicast or "
		    "zero: not a network card's");
	return 0;
}

/* A macOS BSD name: letters then digits, as en0; nothing to escape. */
static int
ifname_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > APPLE_IFNAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

/* 6 bytes are 8 base64 characters, no padding. */
static void
base64_mac(const uint8_t mac[6], char out[9])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	int i, j = 0;
	uint32_t v;

	for (i = 0; i < 6; i += 3) {
		v = (uint32_t)mac[i] << 16 | mac[i + 1] << 8 | mac[i + 2];
		out[j++] = b64[v >> 18 & 63];
		out[j++] = b64[v >> 12 & 63];
		out[j++] = b64[v >> 6 & 63];
		out[j++] = b64[v & 63];
	}
	out[j] = '\0';
}

int
apple_netboot_xml(const uint8_t mac[6], const char *ifname, char *buf,
    size_t len, struct perr *e)
{
	char b64[9];
	int n;

	if (ifname == NULL)
		ifname = "en0";
	if (!mac_ok(mac))
		return perr_set(e, PE_USAGE, "MAC address is multicast or "
		    "zero: not a network card's");
	if (!ifname_ok(ifname))
		return perr_set(e, PE_USAGE, "bad interface name (want a "
		    "macOS BSD name such as en0)");
	base64_mac(mac, b64);
	n = snprintf(buf, len, "<array><dict>"
	    "<key>IOMatch</key><dict>"
	    "<key>BSD Name</key><string>%s</string>"
	    "<key>IOProviderClass</key><string>IONetworkInterface</string>"
	    "</dict>"
	    "<key>BLMACAddress</key><data>%s</data>"
	    "</dict><dict>"
	    "<key>IOEFIDevicePathType</key>"
	    "<string>MessagingNetbootProtocol</string>"
	    "<key>Protocol</key><string>" PXE_PROTOCOL "</string>"
	    "</dict></array>", ifname, b64);
	if (n < 0 || (size_t)n >= len)
		return perr_set(e, PE_FAIL, "efi-boot-device: %d bytes do "
		    "not fit in %zu", n, len);
	return n;
}

static int
var_put(int fd, const char *path, const char *xml, struct perr *e)
{
	uint8_t buf[ATTR_BYTES + APPLE_XML_MAX];
	size_t n = strlen(xml), len = ATTR_BYTES + n;
	struct statfs sf;
	ssize_t w;

	if (n > APPLE_XML_MAX)
		return perr_set(e, PE_USAGE, "%s: %zu bytes: too long", path,
		    n);
	memcpy(buf, ATTR_NV_BS_RT, ATTR_BYTES);
	memcpy(buf + ATTR_BYTES, xml, n);
	/* efivarfs replaces the whole variable; a plain folder must be
	 * emptied, and efivarfs would not take a truncation */
	if (fstatfs(fd, &sf) == -1)
		return perr_errno(e, PE_FAIL, "%s: fstatfs", path);
	if (sf.f_type != EFIVARFS_MAGIC && ftruncate(fd, 0) == -1)
		return perr_errno(e, PE_FAIL, "%s: truncate", path);
	if ((w = write(fd, buf, len)) == -1)
		return perr_errno(e, PE_FAIL, "%s: write", path);
	if ((size_t)w != len)
		return perr_set(e, PE_FAIL, "%s: wrote %zd of %zu bytes",
		    path, w, len);
	return 0;
}

int
apple_nvram_write(const char *efivars, const char *xml, struct perr *e)
{
	char path[PATH_MAX];
	int fd, rc, was = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s-%s", efivars,
	    APPLE_BOOT_DEVICE, APPLE_VENDOR_GUID) >= sizeof(path))
		return perr_set(e, PE_USAGE, "%s: path too long", efivars);
	if ((rc = efi_var_immutable(path, 0, &was, e)) < 0)
		return rc;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) == -1)
		return perr_errno(e, PE_FAIL, "%s", path);
	rc = var_put(fd, path, xml, e);
	if (close(fd) == -1 && rc == 0)
		rc = perr_errno(e, PE_FAIL, "%s: close", path);
	if (was)	/* best effort: the write is what matters */
		efi_var_immutable(path, 1, NULL, NULL);
	return rc;
}
