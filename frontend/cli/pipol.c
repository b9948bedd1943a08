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

static int
cmd_whoami(const struct cmd *c, int argc, char **argv)
{
	json_t *reply = NULL;
	struct perr e;

	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		return cmd_help(c);
	if (argc > 1)
		return cmd_usage_error(c, "%s: unexpected argument", argv[1]);
	if (client_call("GET", "/api/whoami", NULL, &reply, &e) < 0) {
		log_warnx("%s", e.msg);
		return e.code;
	}
	printf("%s%s\n", json_string_value(json_object_get(reply, "user")),
	    json_is_true(json_object_get(reply, "admin")) ? " (admin)" : "");
	json_decref(reply);
	return 0;
}

static int
group_user(const struct cmd *c, int argc, char **argv)
{
	(void)c;
	return user_main(argc - 1, argv + 1);
}

static int
group_node(const struct cmd *c, int argc, char **argv)
{
	(void)c;
	return node_main(argc - 1, argv + 1);
}

static const struct cmd groups[] = {
	{ "node", group_node, "COMMAND ...",
	  "the machines of the pool (through pipold)", NULL },
	{ "user", group_user, "COMMAND ...",
	  "manage users (admin, through pipold)", NULL },
	{ "whoami", cmd_whoami, "",
	  "the user pipold knows your token as ($PIPOL_SERVER, $PIPOL_TOKEN)",
	  NULL },
	{ "image", group_image, "COMMAND ...",
	  "manage images in the store (admin, on the frontend host)", NULL },
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
