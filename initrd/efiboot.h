/*
 * efiboot.h -- keep the network first in a UEFI node's BootOrder, so that
 * every boot after a deployment still goes PXE -> iPXE -> pipold, which
 * decides (deploy again, or exit to the local disk).
 *
 * Works on efivarfs files (4 bytes of attributes, then the data), so the
 * unit tests can use a folder of fake variables. Knows nothing of the
 * deployment: it reads BootOrder and the Boot#### options it names, and
 * writes BootOrder back, nothing else. Creates, deletes or edits no
 * Boot#### option.
 */
#ifndef EFIBOOT_H
#define EFIBOOT_H

#include <stddef.h>
#include <stdint.h>

#include "perr.h"

#define EFI_VARS_DIR		"/sys/firmware/efi/efivars"
#define EFI_BOOTORDER_MAX	512	/* entries; real ones: a few dozen */
#define EFI_DESC_MAX		64	/* description bytes kept, for people */

enum efi_boot_kind {
	EFI_BOOT_BAD,		/* Boot#### missing, unreadable or malformed */
	EFI_BOOT_OTHER,		/* disk, file, shell, anything not network */
	EFI_BOOT_NET,		/* MAC node, no IP node (UEFI 2.0 style PXE) */
	EFI_BOOT_NET4,		/* MAC + IPv4 node: PXEv4, HTTPv4 */
	EFI_BOOT_NET6,		/* MAC + IPv6 node: PXEv6, HTTPv6 */
};

/* BootOrder as found, the order it should have, and why. */
struct efi_bootorder {
	int present;		/* 0: no efivars folder (BIOS), no BootOrder */
	uint32_t attr;		/* the variable's attributes, written back */
	size_t n;		/* entries */
	uint16_t before[EFI_BOOTORDER_MAX];
	uint16_t after[EFI_BOOTORDER_MAX];
	uint8_t kind[EFI_BOOTORDER_MAX];	/* of before[i] */
	char desc[EFI_BOOTORDER_MAX][EFI_DESC_MAX];  /* of before[i], ASCII */
	size_t nnet;		/* network entries */
	int changed;		/* after differs from before */
};

/*
 * Classify one EFI_LOAD_OPTION (the data of a Boot#### variable, without
 * the 4 bytes of attributes): network when its first device path holds a
 * Messaging MAC Address node (3/11) and no Media hard drive, CD-ROM or
 * file path node (4/1, 4/2, 4/4). Every length is checked: anything that
 * does not parse is EFI_BOOT_BAD. desc (may be NULL) gets the description
 * in printable ASCII ('?' for the rest), truncated to desclen - 1.
 */
enum efi_boot_kind efi_load_option_kind(const uint8_t *opt, size_t len,
    char *desc, size_t desclen);

/*
 * Read BootOrder and its Boot#### options under efivars and fill bo with
 * the order to have: network entries first, in their order but IPv4 (and
 * MAC-only) ones before IPv6 ones, then the others in their order. Writes
 * nothing. No efivars folder (BIOS) or no BootOrder: 0 and present = 0.
 * A BootOrder that does not parse: -PE_DATA, naming the variable.
 */
int efi_bootorder_plan(const char *efivars, struct efi_bootorder *bo,
    struct perr *e);

/*
 * Write bo->after as BootOrder with bo->attr, in one write() as efivarfs
 * requires, clearing the immutable flag efivarfs sets first and setting
 * it back after. Writes nothing unless bo->changed.
 */
int efi_bootorder_write(const char *efivars, const struct efi_bootorder *bo,
    struct perr *e);

/*
 * Both: put the network first in BootOrder. 0 and *changed = 1 when
 * BootOrder was rewritten; 0 and *changed = 0 when there was nothing to
 * do: no efivars folder (BIOS), no BootOrder, the network already first,
 * or no network entry at all (the caller who wants to warn about that
 * calls efi_bootorder_plan and looks at nnet). -code and e otherwise;
 * BootOrder is then as it was.
 */
int efi_network_first(const char *efivars, int *changed, struct perr *e);

/*
 * Mount efivarfs on EFI_VARS_DIR when the machine booted through UEFI
 * (/sys/firmware/efi exists) and it is not mounted yet. 0 when mounted
 * or not an EFI machine.
 */
int efi_vars_mount(struct perr *e);

/*
 * Clear (set = 0) or put back (set = 1) an efivarfs file's immutable
 * flag around a write; *was (when not NULL) says whether it was set. A
 * missing file or a folder without the flag: 0, nothing done.
 */
int efi_var_immutable(const char *path, int set, int *was,
    struct perr *e);

/* "pipol-agent efiboot": efiboot_cmd.c, its options and what it runs */
struct cmd;
extern const struct cmd efiboot_cmd;

#endif
