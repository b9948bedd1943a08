/*
 * kernel_cmd.c -- "pipol-agent kernel": the default kernel, initrds
 * and command line of a system unpacked or mounted at a folder, as
 * kernel_find.c finds them; for tests, and for people checking what a
 * node would boot from an image.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "cmd.h"
#include "kernel_find.h"
#include "log.h"

static int kernel_main(const struct cmd *, const struct cmd_args *);

/* The command line: options, usage and --help (cmd.h) */
enum { O_ROOT, O_UUID, O_VERBOSE, O_END };

static const struct cmd_opt kernel_opts[] = {
	[O_ROOT] = { "root", 0, CMD_VALUE, "DIR",
	    "the system's root folder" },
	[O_UUID] = { "uuid", 0, CMD_VALUE, "UUID",
	    "its root filesystem's UUID, for root=UUID= (default:\n"
	    "the UUID= of / in its /etc/fstab, else the command\n"
	    "line's own root=)" },
	[O_VERBOSE] = { "verbose", 0, CMD_FLAG, NULL,
	    "say why a way gave no kernel" },
	[O_END] = CMD_OPT_END
};

const struct cmd kernel_cmd = { "kernel", kernel_main,
    "--root DIR [--uuid UUID] [--verbose]",
    "Print the kernel, initrds and kernel command line the system at DIR\n"
    "boots by default: from its /boot/grub/grub.cfg (the default entry,\n"
    "submenus, grubenv's saved_entry), else its /vmlinuz and /initrd.img\n"
    "links, else the highest /boot/vmlinuz-VERSION; paths inside DIR, every\n"
    "link resolved inside it. The command line gets root=UUID=UUID.\n\n"
    "Exit status: 0 found; 2 usage (a --uuid not a UUID); 3 no kernel",
    kernel_opts, 0, 0, NULL };

static int
kernel_main(const struct cmd *c, const struct cmd_args *a)
{
	const char *root = cmd_str(a, O_ROOT);
	struct kernel_boot kb;
	struct perr e;
	int fd, rc, i;

	log_verbose |= cmd_count(a, O_VERBOSE) > 0;
	if (root == NULL)
		return cmd_usage_error(c, "--root is needed");
	if ((fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		log_warn("--root %s", root);
		return PE_USAGE;
	}
	rc = kernel_find(fd, cmd_str(a, O_UUID), &kb, &e);
	close(fd);
	if (rc == -PE_USAGE) {
		log_warnx("--uuid %s", e.msg);
		return PE_USAGE;
	}
	if (rc < 0) {
		log_warnx("%s: %s", root, e.msg);
		return -rc;
	}
	printf("kernel  %s\n", kb.kernel);
	for (i = 0; i < kb.ninitrd; i++)
		printf("initrd  %s\n", kb.initrd[i]);
	printf("cmdline %s\n", kb.cmdline);
	printf("from    %s%s%s%s\n", kernel_how_name(kb.how),
	    kb.entry[0] ? " entry \"" : "", kb.entry, kb.entry[0] ? "\"" : "");
	return 0;
}
