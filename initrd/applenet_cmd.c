/*
 * applenet_cmd.c -- "pipol-agent applenet": set an Intel Mac's Apple
 * efi-boot-device to the network, as "bless --netboot" does
 * (apple_nvram.c). For people on a node's rescue shell and for tests;
 * node mode does the same on mac-efi32 nodes (node.c), with the card
 * pipold is reached through (--server: bootnic.c).
 */
#include <stdio.h>
#include <stdint.h>

#include "apple_nvram.h"
#include "bootnic.h"
#include "cmd.h"
#include "efiboot.h"
#include "log.h"
#include "perr.h"

static int applenet_main(const struct cmd *, const struct cmd_args *);

/* The command line: options, usage and --help (cmd.h) */
enum { O_MAC, O_SERVER, O_IFNAME, O_EFIVARS, O_DRY_RUN, O_END };

static const struct cmd_opt applenet_opts[] = {
	[O_MAC] = { "mac", 0, CMD_VALUE, "MAC",
	    "the network card to boot from (aa:bb:cc:dd:ee:ff)" },
	[O_SERVER] = { "server", 0, CMD_VALUE, "URL",
	    "instead of --mac: the card this machine reaches\n"
	    "URL through (what node mode uses)" },
	[O_IFNAME] = { "ifname", 0, CMD_VALUE, "NAME",
	    "its macOS interface name (default en0)" },
	[O_EFIVARS] = { "efivars", 0, CMD_VALUE, "DIR",
	    "where efivarfs is mounted (default\n" EFI_VARS_DIR
	    ", mounted if needed)" },
	[O_DRY_RUN] = { "dry-run", 0, CMD_FLAG, NULL,
	    "print what would be written, write nothing" },
	[O_END] = CMD_OPT_END
};

const struct cmd applenet_cmd = { "applenet", applenet_main,
    "--mac MAC|--server URL [--ifname NAME] [--efivars DIR] [--dry-run]",
    "Intel Macs: set Apple's efi-boot-device NVRAM variable to a PXE boot\n"
    "from the card MAC, the string \"bless --netboot --server\n"
    "pxe://en0@255.255.255.255\" writes, so that the next boots go through\n"
    "pipold again. Prints the variable's file and its value.\n\n"
    "Exit status: 0 written (or dry run), 1 failed, 2 usage",
    applenet_opts, 0, 0, NULL };

static int
applenet_main(const struct cmd *c, const struct cmd_args *a)
{
	const char *dir = cmd_str(a, O_EFIVARS), *mac_s = cmd_str(a, O_MAC);
	const char *server = cmd_str(a, O_SERVER);
	char ifname[IF_NAMESIZE];
	int dry_run = cmd_count(a, O_DRY_RUN) > 0, rc;
	char xml[APPLE_XML_MAX + 1];
	uint8_t mac[6];
	struct perr e;

	if ((mac_s == NULL) == (server == NULL))
		return cmd_usage_error(c, "give --mac or --server");
	if (server != NULL && (rc = bootnic_find(server, mac, ifname, &e)) < 0) {
		log_warnx("%s", e.msg);
		return rc == -PE_USAGE ? 2 : 1;
	}
	if ((server == NULL && (rc = apple_mac_parse(mac_s, mac, &e)) < 0) ||
	    (rc = apple_netboot_xml(mac, cmd_str(a, O_IFNAME), xml,
	    sizeof(xml), &e)) < 0)
		return cmd_usage_error(c, "%s", e.msg);
	if (!dry_run && dir == NULL && (rc = efi_vars_mount(&e)) < 0) {
		log_warnx("%s", e.msg);
		return -rc;
	}
	dir = dir != NULL ? dir : EFI_VARS_DIR;
	if (!dry_run && (rc = apple_nvram_write(dir, xml, &e)) < 0) {
		log_warnx("%s", e.msg);
		return -rc;
	}
	/* after the write: what is printed is what the variable holds */
	printf("%s/%s-%s%s:\n%s\n", dir, APPLE_BOOT_DEVICE,
	    APPLE_VENDOR_GUID, dry_run ? " (dry run, not written)" : "",
	    xml);
	return 0;
}
