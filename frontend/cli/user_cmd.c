/*
 * user_cmd.c -- "pipol user ...", talking to pipold (admin commands).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "perr.h"

#define SSH_KEYS_MAX 16384	/* pipold refuses more */

static int
cmd_user_add(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "admin", no_argument, NULL, 'a' },
		{ "ssh-key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *keyfile = NULL;
	json_t *send, *reply = NULL;
	char *keys = NULL;
	struct perr e;
	int ch, admin = 0, rc;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (ch == 'a')
			admin = 1;
		else if (ch == 'k')
			keyfile = optarg;
		else if (ch == 'h')
			return cmd_help(c);
		else
			return cmd_usage_error(c, "%s: %s", argv[optind - 1],
			    ch == ':' ? "needs a value" : "unknown option");
	}
	if (optind != argc - 1)
		return cmd_usage_error(c, "give one NAME");
	if (keyfile != NULL && read_file(keyfile, SSH_KEYS_MAX, &keys, NULL,
	    &e) < 0) {
		log_warnx("--ssh-key %s", e.msg);
		return e.code;
	}
	send = json_pack("{s:s, s:b, s:s}", "name", argv[optind], "admin",
	    admin, "ssh_keys", keys ? keys : "");
	rc = client_call("POST", "/api/users", send, &reply, &e);
	json_decref(send);
	free(keys);
	if (rc < 0) {
		log_warnx("%s", e.msg);
		return e.code;
	}
	/* the token, once: nobody can show it again */
	printf("%s\n", json_string_value(json_object_get(reply, "token")));
	json_decref(reply);
	return 0;
}

static const struct cmd user_cmds[] = {
	{ "add", cmd_user_add, "NAME [--admin] [--ssh-key FILE]",
	  "make a user and print its API token once (admin)",
	  "  --admin            the user is an admin\n"
	  "  --ssh-key FILE     public keys installed for root on its nodes\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};

int
user_main(int argc, char **argv)
{
	snprintf(cmd_prefix, sizeof(cmd_prefix), "pipol user");
	return cmd_dispatch(user_cmds, "command", argc, argv);
}
