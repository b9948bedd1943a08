/*
 * power.h -- power drivers behind one interface: "qemu" (QMP over a
 * Unix socket), "ipmi" (ipmitool lanplus, password in a file), "vm"
 * (a QEMU machine pipold runs, power_vm.c), "manual"
 * (says what a person must do). A driver checks its parameters (the
 * nodes.power_params JSON object) and acts on one node; it knows nothing
 * of HTTP, users or the database, and never prints.
 */
#ifndef POWER_H
#define POWER_H

#include <jansson.h>
#include <stddef.h>

struct perr;

enum power_action {
	POWER_ON, POWER_OFF, POWER_RESET, POWER_CYCLE, POWER_STATUS,
	POWER_NACTIONS
};

#define POWER_MSG_MAX	256	/* the one-line result of an action */

/* The action named s ("on", "off", "reset", "cycle", "status"), or -1. */
int power_action_parse(const char *s);
const char *power_action_name(int action);
int power_driver_known(const char *driver);

/*
 * Are params complete and valid for driver? 0, or -PE_USAGE with e
 * naming the field: only the driver's keys, every value a string, each
 * checked strictly (no leading '-' anywhere a program could read an
 * option).
 */
int power_params_check(const char *driver, const json_t *params,
    struct perr *e);

/*
 * Act on node (its name, for messages) with its driver and params.
 * 0 and a one-line result in msg (status: the state the controller
 * reports); or -code with one line in e: PE_CONFLICT the node's power
 * settings are missing or wrong, PE_UNAVAIL the controller cannot be
 * reached or did not answer in time (or ipmitool is not installed),
 * PE_FAIL it refused or answered nonsense. Blocks for at most the
 * driver's time limit; thread-safe (no shared state).
 */
int power_run(const char *node, const char *driver, const json_t *params,
    int action, char *msg, size_t msglen, struct perr *e);

/* The drivers (power_qmp.c, power_ipmi.c): params already checked. */
int power_qmp_check(const json_t *params, struct perr *e);
int power_qmp_run(const char *node, const json_t *params, int action,
    char *msg, size_t msglen, struct perr *e);
int power_ipmi_check(const json_t *params, struct perr *e);
int power_ipmi_run(const char *node, const json_t *params, int action,
    char *msg, size_t msglen, struct perr *e);
/* power_vm.c: virtual nodes pipold runs (schema 024). init: their
 * folder STATE/vms and QEMU's accelerator ("kvm", "tcg"), once at
 * start; path: STATE/vms/NODE.EXT (0, or -1 before init or too long) */
/* A virtual node's QEMU drops to uid and gid base + the node's id
 * (node_power()'s "id"), after it opened its tap, disk and sockets as
 * root: one uid per machine, none of an account. */
#define VM_UID_BASE_DEFAULT	0x70000000LL
#define VM_UID_BASE_MIN		65536LL
#define VM_UID_BASE_MAX		(0x80000000LL - 0x1000000LL)
#define VM_UID_SPAN		0x1000000LL	/* node ids below it */
int power_vm_init(const char *state, const char *accel, long long uid_base,
    struct perr *e);
int power_vm_path(const char *node, const char *ext, char *buf, size_t len);
int power_vm_check(const json_t *params, struct perr *e);
/* argv run for node (no shell), ms at most: 0 when it exited 0, else
 * -code with e naming the node, the tool and its last line of output */
int power_vm_tool(const char *node, const char *const argv[], int ms,
    struct perr *e);
int power_vm_run(const char *node, const json_t *params, int action,
    char *msg, size_t msglen, struct perr *e);
/* bmc: ipmitool on the node's BMC with its connection params and the
 * words of cmd (NULL-terminated, 8 at most); the whole output in out;
 * 0 when it exited 0, else -code with e naming the node and the
 * output's last line. Bounded in time as power_ipmi_run. */
int power_ipmi_tool(const char *node, const json_t *params,
    const char *const *cmd, char *out, size_t outlen, struct perr *e);
/* console: ipmitool's argument vector for the node's connection params
 * and the words of cmd (NULL-terminated, IPMI_CMD_MAX at most) in argv
 * (IPMI_ARGV_MAX), its path in tool (PATH_MAX; found before any fork);
 * 0, or -code with e naming the node (no password file, no ipmitool). */
#define IPMI_CMD_MAX	8
#define IPMI_ARGV_MAX	(16 + IPMI_CMD_MAX + 1)
int power_ipmi_argv(const char *node, const json_t *params,
    const char *const *cmd, const char **argv, char *tool, struct perr *e);
/* Is the ipmi node's Serial-over-LAN to be read (power param "sol":
 * "on")? */
int power_ipmi_sol(const json_t *params);

#endif
