/* cli.h -- the pipol command line: the table of each command group, the
 * top-level commands and their option tables, the client helpers. */
#ifndef CLI_H
#define CLI_H

#include <jansson.h>

#include "cmd.h"

struct perr;

/* the command groups: image_cmd.c, user_cmd.c, node_cmd.c, resv_cmd.c
 * (licence, queue), script_cmd.c */
extern const struct cmd image_cmds[], user_cmds[], node_cmds[],
    licence_cmds[], queue_cmds[], script_cmds[];

/* resv_cmd.c: top-level commands and their options */
extern const struct cmd_opt reserve_opts[], reservations_opts[],
    extend_opts[];
int cmd_reserve(const struct cmd *c, const struct cmd_args *a);
int cmd_reservations(const struct cmd *c, const struct cmd_args *a);
int cmd_extend(const struct cmd *c, const struct cmd_args *a);
int cmd_release(const struct cmd *c, const struct cmd_args *a);
json_t *names_list(const char *s);	/* "n1,n2" -> ["n1", "n2"] */

/* deploy_cmd.c */
extern const struct cmd_opt deploy_opts[], capture_opts[], status_opts[];
int cmd_deploy(const struct cmd *c, const struct cmd_args *a);
int cmd_status(const struct cmd *c, const struct cmd_args *a);
int cmd_capture(const struct cmd *c, const struct cmd_args *a);

/* script_cmd.c */
int cmd_log(const struct cmd *c, const struct cmd_args *a);

/* client.c: the error line and its exit status; a JSON field, "" / 0
 * when absent */
int cli_fail(const struct perr *e);
const char *cli_str(json_t *o, const char *k);
long long cli_int(json_t *o, const char *k);

/* client.c: one call to pipold; *reply is the JSON answer (caller frees) */
int client_call(const char *method, const char *path, json_t *send,
    json_t **reply, struct perr *e);
/* client.c: does client_call know a server (the environment, the
 * config file)? image_cmd.c goes through pipold then (imageapi) */
int client_has_server(void);
/* the server client_call would use (malloc'd), or NULL */
char *client_server(void);
/* cache_cmd.c: pipol cache config RACK */
extern const struct cmd cache_cmds[];
/* rack_cmd.c: pipol rack add|list|rm */
extern const struct cmd rack_cmds[];
/* vmhost_cmd.c: pipol vmhost add|list|rm */
extern const struct cmd vmhost_cmds[];

/* policy_cmd.c: "pipol group", "pipol site", and the queue and user
 * commands listed in resv_cmd.c and user_cmd.c */
extern const struct cmd group_cmds[], site_cmds[];
extern const struct cmd_opt user_set_opts[];
int cmd_queue_grant(const struct cmd *c, const struct cmd_args *a);
int cmd_queue_revoke(const struct cmd *c, const struct cmd_args *a);
int cmd_queue_grants(const struct cmd *c, const struct cmd_args *a);
int cmd_user_set(const struct cmd *c, const struct cmd_args *a);


/* sub: job_cmd.c's "pipol sub" and "pipol job"; client.c's raw
 * transfer: buf (len bytes, or NULL) sent, the answer's bytes written
 * to out (NULL: dropped); an HTTP error is its status's exit code */
extern const struct cmd job_cmds[];
extern const struct cmd_opt sub_opts[];
int cmd_sub(const struct cmd *c, const struct cmd_args *a);
int client_raw(const char *method, const char *path, const void *buf,
    size_t len, FILE *out, struct perr *e);

/* bmc: bmc_cmd.c's "pipol node bmc" (in node_cmd.c's table) */
extern const struct cmd_opt node_bmc_opts[];
int cmd_node_bmc(const struct cmd *c, const struct cmd_args *a);

/* refresh: refresh_cmd.c's "pipol image refresh" and "pipol image
 * history" (listed in image_cmd.c's table) */
extern const struct cmd_opt refresh_opts[];
int cmd_refresh(const struct cmd *c, const struct cmd_args *a);
int cmd_history(const struct cmd *c, const struct cmd_args *a);

/* console: console_cmd.c's "pipol console" and "pipol log --console";
 * client.c's upgraded connection: GET path with "Upgrade: protocol",
 * 101, then raw bytes over *h (curl_easy_send/recv, CONNECT_ONLY); the
 * bytes that came with the answer's head in early (CLIENT_HEAD_MAX). A
 * refusal is its status's exit code with pipold's line. */
#include <curl/curl.h>
#define CLIENT_HEAD_MAX		8192
extern const struct cmd_opt console_opts[], log_console_opts[];	/* log: --console, id 0 */
int cmd_console(const struct cmd *c, const struct cmd_args *a);
int console_log_get(long long id);
int client_upgrade(const char *path, const char *protocol, CURL **h,
    char *early, size_t *early_len, struct perr *e);
int client_send_all(CURL *h, const void *buf, size_t len);

/* cron: cron_cmd.c's "pipol cron"; job_cmd.c's argv of a job, the
 * words given or a script run by sh */
extern const struct cmd cron_cmds[];
json_t *job_argv(const char *script, int npos, char *const *pos,
    struct perr *e);

#endif
