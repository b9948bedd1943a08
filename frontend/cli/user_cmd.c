/*
 * user_cmd.c -- "pipol user ...", talking to pipold: add (admins), and
 * "pipol user token ..." (anyone's own API tokens; admins: another
 * user's with --user). A secret is printed once, alone on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "parse.h"
#include "perr.h"

#define SSH_KEYS_MAX 16384	/* pipold refuses more */

enum { O_ADMIN, O_SSH_KEY, O_NAME, O_DAYS, O_USER };

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

static const struct cmd_opt token_new_opts[] = {
	[O_NAME] = { "name", 0, CMD_VALUE, "NAME",
	    "what it is for (\"laptop\", \"ci\"): up to 64 of\n"
	    "A-Z a-z 0-9 . _ @ : + - and space" },
	[O_DAYS] = { "days", 0, CMD_VALUE, "D",
	    "it expires after D days (default and most: pipold\n"
	    "--token-days, 90 unless set; 0: never, where allowed)" },
	[O_USER] = { "user", 0, CMD_VALUE, "USER",
	    "a token for another user (admin)" },
	CMD_OPT_END
};

static const struct cmd_opt token_user_opts[] = {
	[O_USER] = { "user", 0, CMD_VALUE, "USER",
	    "another user's tokens (admin)" },
	CMD_OPT_END
};

/* "?user=NAME" when --user was given, else ""; -1: no user name. */
static int
user_query(const struct cmd *c, const struct cmd_args *a, char *buf,
    size_t len)
{
	const char *u = cmd_str(a, O_USER);

	*buf = '\0';
	if (u == NULL)
		return 0;
	if (*u == '\0' || strlen(u) > 32 || strspn(u,
	    "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(u)) {
		cmd_usage_error(c, "--user %s: not a user name", u);
		return -1;
	}
	snprintf(buf, len, "?user=%s", u);
	return 0;
}

/* The token's ID argument; -1 after a usage error. */
static int
token_id_arg(const struct cmd *c, const char *s, long long *id)
{
	struct perr e;

	if (parse_count("token ID", s, 1, (long long)1e15, id, &e) < 0) {
		cmd_usage_error(c, "%s", e.msg);
		return -1;
	}
	return 0;
}

/* A fresh token's answer: the secret alone on stdout, the rest on
 * stderr (so that T=$(pipol user token new) holds only the secret). */
static void
token_print_secret(json_t *reply)
{
	const char *exp = cli_str(reply, "expires");

	fprintf(stderr, "pipol: token %lld%s%s%s of %s, expires %s\n",
	    cli_int(reply, "id"), *cli_str(reply, "name") ? " \"" : "",
	    cli_str(reply, "name"), *cli_str(reply, "name") ? "\"" : "",
	    cli_str(reply, "user"), *exp ? exp : "never");
	printf("%s\n", cli_str(reply, "token"));
}

static int
cmd_token_new(const struct cmd *c, const struct cmd_args *a)
{
	const char *name = cmd_str(a, O_NAME), *days = cmd_str(a, O_DAYS);
	json_t *send, *reply = NULL;
	char q[64], url[96];
	struct perr e;
	long long d;
	int rc;

	if (user_query(c, a, q, sizeof(q)) < 0)
		return PE_USAGE;
	if (days != NULL && parse_count("--days", days, 0, 36500, &d, &e) < 0)
		return cmd_usage_error(c, "%s", e.msg);
	send = json_pack("{s:s}", "name", name ? name : "");
	if (days != NULL)
		json_object_set_new(send, "days", json_integer(d));
	snprintf(url, sizeof(url), "/api/tokens%s", q);
	rc = client_call("POST", url, send, &reply, &e);
	json_decref(send);
	if (rc < 0)
		return cli_fail(&e);
	token_print_secret(reply);
	json_decref(reply);
	return 0;
}

/* A date as pipold sends it, to the minute ("2026-12-05 07:21"). */
static const char *
token_date(json_t *o, const char *k, char *buf, size_t len)
{
	const char *s = cli_str(o, k);

	if (*s == '\0')
		return "-";
	snprintf(buf, len, "%.16s", s);
	return buf;
}

static int
cmd_token_list(const struct cmd *c, const struct cmd_args *a)
{
	char q[64], url[96], d1[24], d2[24], d3[24];
	json_t *reply = NULL, *t;
	struct perr e;
	size_t i;

	if (user_query(c, a, q, sizeof(q)) < 0)
		return PE_USAGE;
	snprintf(url, sizeof(url), "/api/tokens%s", q);
	if (client_call("GET", url, NULL, &reply, &e) < 0)
		return cli_fail(&e);
	printf("%-7s %-10s %-8s %-16s %-16s %-16s %s\n", "ID", "USER",
	    "STATE", "CREATED", "EXPIRES", "LAST USED", "NAME");
	json_array_foreach(json_object_get(reply, "tokens"), i, t) {
		printf("%-7lld %-10s %-8s %-16s %-16s %-16s %s%s\n",
		    cli_int(t, "id"), cli_str(t, "user"), cli_str(t, "state"),
		    token_date(t, "created", d1, sizeof(d1)),
		    *cli_str(t, "expires") ? token_date(t, "expires", d2,
		    sizeof(d2)) : "never",
		    token_date(t, "last_used", d3, sizeof(d3)),
		    cli_str(t, "name"), json_is_true(json_object_get(t,
		    "current")) ? " (this one)" : "");
	}
	json_decref(reply);
	return 0;
}

static int
cmd_token_revoke(const struct cmd *c, const struct cmd_args *a)
{
	char q[64], url[128];
	json_t *reply = NULL;
	struct perr e;
	long long id;

	if (token_id_arg(c, a->pos[0], &id) < 0 ||
	    user_query(c, a, q, sizeof(q)) < 0)
		return PE_USAGE;
	snprintf(url, sizeof(url), "/api/tokens/%lld%s", id, q);
	if (client_call("DELETE", url, NULL, &reply, &e) < 0)
		return cli_fail(&e);
	printf("token %lld revoked\n", id);
	json_decref(reply);
	return 0;
}

static int
cmd_token_rotate(const struct cmd *c, const struct cmd_args *a)
{
	json_t *reply = NULL;
	char url[96];
	struct perr e;
	long long id;

	if (token_id_arg(c, a->pos[0], &id) < 0)
		return PE_USAGE;
	snprintf(url, sizeof(url), "/api/tokens/%lld/rotate", id);
	if (client_call("POST", url, NULL, &reply, &e) < 0)
		return cli_fail(&e);
	token_print_secret(reply);
	if (json_is_true(json_object_get(reply, "current")))
		fprintf(stderr, "pipol: token %lld, the one this call used, "
		    "is revoked: put the new one in $PIPOL_TOKEN or "
		    "~/.config/pipol/config\n", id);
	json_decref(reply);
	return 0;
}

static const struct cmd token_cmds[] = {
	{ "new", cmd_token_new, "[--name NAME] [--days D] [--user USER]",
	  "make an API token and print it once (it expires: see --days)",
	  token_new_opts, 0, 0, NULL },
	{ "list", cmd_token_list, "[--user USER]",
	  "your tokens (never their secrets): state, expiry, last use",
	  token_user_opts, 0, 0, NULL },
	{ "revoke", cmd_token_revoke, "ID [--user USER]",
	  "end a token now (the one you use too: the next call is refused)",
	  token_user_opts, 1, 1, NULL },
	{ "rotate", cmd_token_rotate, "ID",
	  "a new token, same name and lifetime, printed once; the old one "
	  "is revoked (yours: put the new one in $PIPOL_TOKEN)", NULL, 1, 1,
	  NULL },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
};

const struct cmd user_cmds[] = {
	{ "add", cmd_user_add, "NAME [--admin] [--ssh-key FILE]",
	  "make a user and print its API token once (admin)", user_add_opts,
	  1, 1, NULL },
	/* per-user limits: policy_cmd.c */
	{ "set", cmd_user_set,
	  "NAME [--max-reservations N] [--max-node-hours N]",
	  "a user's limits; 0 or none: unlimited (admin)", user_set_opts,
	  1, 1, NULL },
	{ "token", NULL, "COMMAND ...",
	  "your API tokens: new, list, revoke, rotate", NULL, 0, 0,
	  token_cmds },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL }
};
