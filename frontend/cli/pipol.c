/*
 * pipol.c -- the pipol command line. "pipol image" works on the store
 * directly (admin, on the frontend host); the reservation and deployment
 * commands talk to pipold (frontend issue).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "perr.h"

static int
group_image(const struct cmd *c, int argc, char **argv)
{
	(void)c;
	return image_main(argc - 1, argv + 1);
}

static const struct cmd groups[] = {
	{ "image", group_image, "COMMAND ...",
	  "manage images in the store (admin)", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

int
main(int argc, char **argv)
{
	log_init("pipol");
	if (argc >= 2 && (strcmp(argv[1], "--version") == 0)) {
		printf("pipol 0.1\n");
		return 0;
	}
	return cmd_dispatch(groups, "command", argc - 1, argv + 1);
}
