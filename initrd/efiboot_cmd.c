/*
 * efiboot_cmd.c -- "pipol-agent efiboot": show a node's UEFI BootOrder,
 * and put its network boot options first (efiboot.c). For people on a
 * node's rescue shell and for tests; the deployment calls
 * efi_network_first() itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "efiboot.h"
#include "log.h"

static int efiboot_main(const struct cmd *, const struct cmd_args *);

/* The command line: options, usage and --help (cmd.h) */
enum { O_EFIVARS, O_DRY_RUN, O_END };

static const struct cmd_opt efiboot_opts[] = {
	[O_EFIVARS] = { "efivars", 0, CMD_VALUE, "DIR",
	    "where efivarfs is mounted (default\n" EFI_VARS_DIR
	    ", mounted if needed)" },
	[O_DRY_RUN] = { "dry-run", 0, CMD_FLAG, NULL,
	    "show the new order, write nothing" },
	[O_END] = CMD_OPT_END
};

const struct cmd efiboot_cmd = { "efiboot", efiboot_main,
    "[--efivars DIR] [--dry-run]",
    "Put the network boot options (PXE, HTTP boot; IPv4 before IPv6) first\n"
    "in the UEFI BootOrder, the others after in their order, so that the\n"
    "next boots go through pipold again. Prints BootOrder before and after.\n"
    "Changes nothing on a BIOS machine, when the network is already first,\n"
    "or when there is no network boot option (with a warning).\n\n"
    "Exit status: 0 done or nothing to do, 1 failed, 2 usage, 3 BootOrder\n"
    "does not parse",
    efiboot_opts, 0, 0, NULL };

static const char *
kind_name(int kind)
{
	static const char *names[] = {
		[EFI_BOOT_BAD] = "unreadable", [EFI_BOOT_OTHER] = "other",
		[EFI_BOOT_NET] = "network", [EFI_BOOT_NET4] = "net-ipv4",
		[EFI_BOOT_NET6] = "net-ipv6",
	};

	return names[kind];
}

static void
order_print(const char *what, const uint16_t *v, size_t n)
{
	size_t i;

	printf("%s%s", what, n == 0 ? " (empty)" : "");
	for (i = 0; i < n; i++)
		printf("%s%04X", i ? "," : " ", v[i]);
	printf("\n");
}

static void
plan_print(const struct efi_bootorder *bo, int dry_run)
{
	size_t i;

	order_print("BootOrder:", bo->before, bo->n);
	for (i = 0; i < bo->n; i++)
		printf("  Boot%04X  %-10s  %s\n", bo->before[i],
		    kind_name(bo->kind[i]), bo->desc[i]);
	fflush(stdout);		/* the warning comes after the list */
	if (bo->nnet == 0)
		log_warnx("no network boot entry in BootOrder: left as it is");
	else if (!bo->changed)
		printf("network already first: BootOrder unchanged\n");
	else
		order_print(dry_run ? "new BootOrder (dry run, not written):" :
		    "new BootOrder:", bo->after, bo->n);
}

static int
efiboot_main(const struct cmd *c, const struct cmd_args *a)
{
	struct efi_bootorder *bo;
	const char *dir = cmd_str(a, O_EFIVARS);
	int dry_run = cmd_count(a, O_DRY_RUN) > 0, rc;
	struct perr e;

	(void)c;
	if (dir == NULL && (rc = efi_vars_mount(&e)) < 0) {
		log_warnx("%s", e.msg);
		return -rc;
	}
	dir = dir != NULL ? dir : EFI_VARS_DIR;
	if ((bo = malloc(sizeof(*bo))) == NULL)
		die(PE_FAIL, "out of memory");
	if ((rc = efi_bootorder_plan(dir, bo, &e)) == 0) {
		if (!bo->present)
			printf("%s: %s: nothing to do\n", dir,
			    access(dir, F_OK) == 0 ? "no BootOrder" :
			    "no such folder (not a UEFI boot)");
		else
			plan_print(bo, dry_run);
		if (!dry_run)
			rc = efi_bootorder_write(dir, bo, &e);
	}
	free(bo);
	if (rc < 0)
		log_warnx("%s", e.msg);
	return -rc;
}
