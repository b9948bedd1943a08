/*
 * user_cmd.c -- "pipol user ...", talking to pipold (admin commands).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "perr.h"

#define SSH_KEYS_MAX 16384	/* pipold refuses more */

enum { O_ADMIN, O_SSH_KEY };

static const struct cmd_opt user_add_opts[] = {
	[O_ADMIN] = { "admin", 0, CMD_FLAG, NULL, "the user is an admin" },
	[O_SSH_KEY] = { "ssh-key", 0, CMD_VALUE, "FILE",
	    "public keys installed for root on its nodes" },
	CMD_OPT_END
};

static int
cmd_user_add(const struct cmd *c, const struct cmd_args *a)
{
	const char *keyfile = cmd_str(a, O_SSH_KEY);
	int admin = cmd_count(a, O_ADMIN) > 0;
	json_t *send, *reply = NULL;
	char *keys = NULL;
	struct perr e;
	int rc;

	(void)c;
	if (keyfile != NULL && read_file(keyfile, SSH_KEYS_MAX, &keys, NULL,
	    &e) < 0) {
		log_warnx("--ssh-key %s", e.msg);
		return e.code;
	}
	send = json_pack("{s:s, s:b, s:s}", "name", a->pos[0], "admin",
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

const struct cmd user_cmds[] = {
	{ "add", cmd_user_add, "NAME [--admin] [--ssh-key FILE]",
	  "make a user and print its API token once (admin)", user_add_opts,
	  1, 1, NULL },
	/* per-user limits: policy_cmd.c */
	{ "set", cmd_user_set,
	  "NAME [--max-reservations N] [--max-node-hours N]",
	  "a user's limits; 0 or none: unlimited (admin)", user_set_opts,
	  1, 1, NULL },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
};
