/*
 * apple_nvram.h -- Apple's efi-boot-device set to the network, as
 * "bless --netboot --server pxe://IF@255.255.255.255" sets it, written
 * from Linux through efivarfs (apple_nvram.c says where each fact
 * comes from).
 */
#ifndef APPLE_NVRAM_H
#define APPLE_NVRAM_H

#include <stddef.h>
#include <stdint.h>

struct perr;

/* Apple's vendor GUID, as efivarfs spells it in file names */
#define APPLE_VENDOR_GUID	"7c436110-ab2a-4bbb-a880-fe41995c9f82"
#define APPLE_BOOT_DEVICE	"efi-boot-device"
#define APPLE_IFNAME_MAX	15	/* a macOS BSD name: en0 */
#define APPLE_XML_MAX		512	/* the netboot string is ~360 B */

/* "aa:bb:cc:dd:ee:ff" (or '-') into mac; -PE_USAGE for anything else,
 * or for a multicast or all-zero address (no NIC has one). */
int apple_mac_parse(const char *s, uint8_t mac[6], struct perr *e);

/*
 * The efi-boot-device string for a PXE boot from the interface ifname
 * (macOS's BSD name, "en0" when NULL) whose address is mac, into buf
 * with a NUL (not part of the variable). Returns its length, or
 * -PE_USAGE (bad mac or ifname) or -PE_FAIL (buf too short).
 */
int apple_netboot_xml(const uint8_t mac[6], const char *ifname, char *buf,
    size_t len, struct perr *e);

/*
 * Write efi-boot-device (Apple's GUID) under efivars, a folder holding
 * efivarfs or its likeness: 4 bytes of attributes (NV, BS, RT), then
 * the string without a NUL, in one write. Returns 0 or -PE_*.
 */
int apple_nvram_write(const char *efivars, const char *xml,
    struct perr *e);

/* "pipol-agent applenet": applenet_cmd.c */
struct cmd;
extern const struct cmd applenet_cmd;

#endif
