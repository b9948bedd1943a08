/*
 * apple_nvram_test.c -- Apple's efi-boot-device for the network: the
 * string, byte for byte; MAC and interface name refusals; a buffer too
 * short; the efivarfs file written in a temporary folder.
 *
 * The expected string is not a published dump: none of "bless --netboot"
 * was found. It is assembled from bless's own source (apple-oss-
 * distributions/bless, bless-330: modeNetboot.c for pxe://en0@
 * 255.255.255.255, BLCreateEFIXMLRepresentationForNetworkPath.c for the
 * two dicts, IOCFSerialize's whitespace-free XML with CFData as base64),
 * in bless's insertion order; apple_nvram.c lists what is unverified.
 */
#include <sys/stat.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "apple_nvram.h"
#include "harness.h"
#include "perr.h"

/* 00:16:cb is one of Apple's OUIs; base64 of 00 16 cb a1 b2 c3 */
static const uint8_t mac[6] = { 0x00, 0x16, 0xcb, 0xa1, 0xb2, 0xc3 };
#define WANT_EN0 \
	"<array><dict><key>IOMatch</key><dict>" \
	"<key>BSD Name</key><string>en0</string>" \
	"<key>IOProviderClass</key><string>IONetworkInterface</string>" \
	"</dict><key>BLMACAddress</key><data>ABbLobLD</data></dict>" \
	"<dict><key>IOEFIDevicePathType</key>" \
	"<string>MessagingNetbootProtocol</string><key>Protocol</key>" \
	"<string>FE3913DB-9AEE-4E40-A294-ABBE93A1A4B7</string></dict>" \
	"</array>"
#define VAR "/efi-boot-device-7c436110-ab2a-4bbb-a880-fe41995c9f82"

static void
xml_exact(void)
{
	static const uint8_t mac2[6] = { 0x3c, 0x07, 0x54, 0xff, 0xfe, 0x01 };
	char buf[APPLE_XML_MAX];
	struct perr e;
	int n;

	n = apple_netboot_xml(mac, NULL, buf, sizeof(buf), &e);
	CHECK(n == (int)strlen(WANT_EN0) && strcmp(buf, WANT_EN0) == 0);
	CHECK(apple_netboot_xml(mac, "en0", buf, sizeof(buf), &e) == n &&
	    strcmp(buf, WANT_EN0) == 0);
	/* another interface and a MAC whose base64 uses '/' and '+' */
	CHECK(apple_netboot_xml(mac2, "en1", buf, sizeof(buf), &e) > 0);
	CHECK(strstr(buf, "<string>en1</string>") != NULL);
	CHECK(strstr(buf, "<data>PAdU//4B</data>") != NULL);
}

static void
mac_parse(void)
{
	static const char *bad[] = {
		"", "00:16:cb:a1:b2", "00:16:cb:a1:b2:c3:", "00:16:cb:a1:b2:c",
		"00:16:cb:a1:b2:cg", "00:16:cb:a1:b2:c3 ", "0016cba1b2c3",
		"00.16.cb.a1.b2.c3", "01:00:5e:00:00:01",	/* multicast */
		"ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00",
	};
	uint8_t m[6];
	struct perr e;
	size_t i;

	CHECK(apple_mac_parse("00:16:CB:a1:B2:c3", m, &e) == 0 &&
	    memcmp(m, mac, 6) == 0);
	CHECK(apple_mac_parse("00-16-cb-a1-b2-c3", m, &e) == 0 &&
	    memcmp(m, mac, 6) == 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = '\0';
		if (apple_mac_parse(bad[i], m, &e) != -PE_USAGE ||
		    strstr(e.msg, "MAC address") == NULL) {
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
			CHECK(0);
		}
	}
}

static void
refusals(void)
{
	static const uint8_t multi[6] = { 0x01, 0x16, 0xcb, 0xa1, 0xb2, 0xc3 };
	static const uint8_t zero[6];
	static const char *bad_if[] = {
		"", "en0<", "EN0", "en 0", "en0\"", "abcdefghijklmnop",
	};
	char buf[APPLE_XML_MAX];
	size_t i, n = strlen(WANT_EN0);
	struct perr e;

	CHECK(apple_netboot_xml(multi, NULL, buf, sizeof(buf), &e) ==
	    -PE_USAGE);
	CHECK(apple_netboot_xml(zero, NULL, buf, sizeof(buf), &e) ==
	    -PE_USAGE);
	for (i = 0; i < sizeof(bad_if) / sizeof(bad_if[0]); i++)
		CHECK(apple_netboot_xml(mac, bad_if[i], buf, sizeof(buf),
		    &e) == -PE_USAGE);
	CHECK(apple_netboot_xml(mac, "abcdefghijklmno", buf, sizeof(buf),
	    &e) > 0);			/* 15 characters: the most */
	/* room for the string but not its NUL: refused, not cut */
	CHECK(apple_netboot_xml(mac, NULL, buf, n, &e) == -PE_FAIL);
	CHECK(strstr(e.msg, "do not fit") != NULL);
	CHECK(apple_netboot_xml(mac, NULL, buf, n + 1, &e) == (int)n);
}

static size_t
file_read(const char *path, uint8_t *buf, size_t cap)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return 0;
	n = read(fd, buf, cap);
	close(fd);
	return n < 0 ? 0 : (size_t)n;
}

static void
write_file(void)
{
	char dir[] = "/tmp/apple_nvram_test.XXXXXX", path[128];
	char xml[APPLE_XML_MAX], big[APPLE_XML_MAX + 2];
	uint8_t got[1024];
	size_t n = strlen(WANT_EN0);
	struct perr e;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s" VAR, dir);
	/* a longer value first: the new one must replace it, not overlay */
	memset(xml, 'x', n + 40);
	xml[n + 40] = '\0';
	CHECK(apple_nvram_write(dir, xml, &e) == 0);
	CHECK(file_read(path, got, sizeof(got)) == 4 + n + 40);
	CHECK(apple_nvram_write(dir, WANT_EN0, &e) == 0);
	CHECK(file_read(path, got, sizeof(got)) == 4 + n);
	CHECK(memcmp(got, "\x07\x00\x00\x00", 4) == 0);	/* NV BS RT */
	CHECK(memcmp(got + 4, WANT_EN0, n) == 0);	/* and no NUL */
	/* too long for a variable: refused, the old value kept */
	memset(big, 'y', APPLE_XML_MAX + 1);
	big[APPLE_XML_MAX + 1] = '\0';
	CHECK(apple_nvram_write(dir, big, &e) == -PE_USAGE);
	CHECK(file_read(path, got, sizeof(got)) == 4 + n &&
	    memcmp(got + 4, WANT_EN0, n) == 0);
	big[APPLE_XML_MAX] = '\0';		/* the most it takes */
	CHECK(apple_nvram_write(dir, big, &e) == 0);
	CHECK(file_read(path, got, sizeof(got)) == 4 + APPLE_XML_MAX);
	CHECK(unlink(path) == 0 && rmdir(dir) == 0);
	/* no such folder (a BIOS boot): one line naming the file */
	CHECK(apple_nvram_write(dir, WANT_EN0, &e) == -PE_FAIL);
	CHECK(strstr(e.msg, path) != NULL);
}

int
main(void)
{
	RUN(xml_exact);
	RUN(mac_parse);
	RUN(refusals);
	RUN(write_file);
	DONE();
}
