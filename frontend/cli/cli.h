/* cli.h -- the pipol command line: one entry point per command group. */
#ifndef CLI_H
#define CLI_H

#include <jansson.h>

struct perr;

int image_main(int argc, char **argv);
int user_main(int argc, char **argv);
int node_main(int argc, char **argv);
int licence_main(int argc, char **argv);
int queue_main(int argc, char **argv);
int script_main(int argc, char **argv);

/* resv_cmd.c: top-level commands */
struct cmd;
int cmd_reserve(const struct cmd *c, int argc, char **argv);
int cmd_reservations(const struct cmd *c, int argc, char **argv);
int cmd_extend(const struct cmd *c, int argc, char **argv);
int cmd_release(const struct cmd *c, int argc, char **argv);
json_t *names_list(const char *s);	/* "n1,n2" -> ["n1", "n2"] */

/* deploy_cmd.c */
int cmd_deploy(const struct cmd *c, int argc, char **argv);
int cmd_status(const struct cmd *c, int argc, char **argv);
int cmd_capture(const struct cmd *c, int argc, char **argv);

/* script_cmd.c */
int cmd_log(const struct cmd *c, int argc, char **argv);

/* client.c: the error line and its exit status; a JSON field, "" / 0
 * when absent */
int cli_fail(const struct perr *e);
const char *cli_str(json_t *o, const char *k);
long long cli_int(json_t *o, const char *k);

/* client.c: one call to pipold; *reply is the JSON answer (caller frees) */
int client_call(const char *method, const char *path, json_t *send,
    json_t **reply, struct perr *e);

#endif
