/* cli.h -- the pipol command line: one entry point per command group. */
#ifndef CLI_H
#define CLI_H

#include <jansson.h>

struct perr;

int image_main(int argc, char **argv);
int user_main(int argc, char **argv);
int node_main(int argc, char **argv);

/* client.c: one call to pipold; *reply is the JSON answer (caller frees) */
int client_call(const char *method, const char *path, json_t *send,
    json_t **reply, struct perr *e);

#endif
