/*
 * efiboot_cmd.c -- "pipol-agent efiboot": show a node's UEFI BootOrder,
 * and put its network boot options first (efiboot.c). For people on a
 * node's rescue shell and for tests; the deployment calls
 * efi_network_first() itself.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "efiboot.h"
#include "log.h"

static const char efiboot_usage[] =
"usage: pipol-agent efiboot [--efivars DIR] [--dry-run]\n";

static const char efiboot_help[] =
"\n"
"Put the network boot options (PXE, HTTP boot; IPv4 before IPv6) first\n"
"in the UEFI BootOrder, the others after in their order, so that the\n"
"next boots go through pipold again. Prints BootOrder before and after.\n"
"Changes nothing on a BIOS machine, when the network is already first,\n"
"or when there is no network boot option (with a warning).\n"
"\n"
"options:\n"
"  --efivars DIR       where efivarfs is mounted (default\n"
"                      " EFI_VARS_DIR ", mounted if needed)\n"
"  --dry-run           show the new order, write nothing\n"
"\n"
"Exit status: 0 done or nothing to do, 1 failed, 2 usage, 3 BootOrder\n"
"does not parse.\n";

enum { O_EFIVARS = 256, O_DRYRUN, O_HELP };

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

/* 0 to go on, -1 after --help, else an exit status. */
static int
parse_efiboot(int argc, char **argv, const char **dir, int *dry_run)
{
	static const struct option opts[] = {
		{ "efivars", required_argument, NULL, O_EFIVARS },
		{ "dry-run", no_argument, NULL, O_DRYRUN },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	const char *bad = NULL;
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (ch == O_HELP)
			return printf("%s%s", efiboot_usage, efiboot_help), -1;
		if (ch == O_EFIVARS)
			*dir = optarg;
		else if (ch == O_DRYRUN)
			*dry_run = 1;
		else
			bad = ch == ':' ? ": needs a value" :
			    ": unknown option";
		if (bad != NULL) {
			fprintf(stderr, "pipol-agent: %s%s\n%s",
			    argv[optind - 1], bad, efiboot_usage);
			return PE_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pipol-agent: %s: unexpected argument\n%s",
		    argv[optind], efiboot_usage);
		return PE_USAGE;
	}
	return 0;
}

int
efiboot_main(int argc, char **argv)
{
	struct efi_bootorder *bo;
	const char *dir = NULL;
	struct perr e;
	int dry_run = 0, rc;

	if ((rc = parse_efiboot(argc, argv, &dir, &dry_run)) != 0)
		return rc < 0 ? 0 : rc;
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
