/*
 * power.c -- the table of power drivers, the checks they share, and the
 * "manual" driver, which acts on nothing and says what a person must do.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "perr.h"
#include "power.h"

static const char *const action_names[POWER_NACTIONS] = {
	[POWER_ON] = "on", [POWER_OFF] = "off", [POWER_RESET] = "reset",
	[POWER_CYCLE] = "cycle", [POWER_STATUS] = "status",
};

static int
manual_check(const json_t *params, struct perr *e)
{
	(void)params, (void)e;
	return 0;
}

static int
manual_run(const char *node, const json_t *params, int action, char *msg,
    size_t msglen, struct perr *e)
{
	static const char *const todo[POWER_NACTIONS][2] = {
		[POWER_ON] = { "power on node ", " by hand" },
		[POWER_OFF] = { "power off node ", " by hand" },
		[POWER_RESET] = { "press the reset button of node ", "" },
		[POWER_CYCLE] = { "power-cycle node ", " by hand" },
		[POWER_STATUS] = { "node ", ": power state unknown (manual "
		    "driver): look at it" },
	};

	(void)params, (void)e;
	snprintf(msg, msglen, "%s%s%s", todo[action][0], node, todo[action][1]);
	return 0;
}

/* console: "serial", the VM's serial chardev socket; "sol", the BMC's
 * Serial-over-LAN read (console.c) */
static const char *const qmp_keys[] = { "qmp", "serial", NULL };
static const char *const ipmi_keys[] = { "host", "port", "user",
    "password_file", "cipher", "sol", NULL };
/* vm: what the machine takes of its host; mac, bridge and id are added
 * by pipold at run time (node_power, schemas 024 and 026) */
static const char *const vm_keys[] = { "host", "cpus", "mem", "disk", "mac",
    "bridge", "id", NULL };
static const char *const no_keys[] = { NULL };

static const struct power_driver {
	const char *name;
	const char *const *keys;	/* the params it takes */
	int (*check)(const json_t *params, struct perr *e);
	int (*run)(const char *node, const json_t *params, int action,
	    char *msg, size_t msglen, struct perr *e);
} drivers[] = {
	{ "qemu", qmp_keys, power_qmp_check, power_qmp_run },
	{ "ipmi", ipmi_keys, power_ipmi_check, power_ipmi_run },
	{ "vm", vm_keys, power_vm_check, power_vm_run },
	{ "manual", no_keys, manual_check, manual_run },
	{ NULL, NULL, NULL, NULL }
};

static const struct power_driver *
driver_find(const char *name)
{
	const struct power_driver *d;

	for (d = drivers; name != NULL && d->name != NULL; d++)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

int
power_action_parse(const char *s)
{
	int a;

	for (a = 0; s != NULL && a < POWER_NACTIONS; a++)
		if (strcmp(action_names[a], s) == 0)
			return a;
	return -1;
}

const char *
power_action_name(int action)
{
	return action >= 0 && action < POWER_NACTIONS ?
	    action_names[action] : "?";
}

int
power_driver_known(const char *driver)
{
	return driver_find(driver) != NULL;
}

int
power_params_check(const char *driver, const json_t *params,
    struct perr *e)
{
	const struct power_driver *d = driver_find(driver);
	const char *k;
	json_t *v;
	size_t i;

	if (d == NULL)
		return perr_set(e, PE_USAGE, "power driver \"%.40s\": not "
		    "qemu, ipmi, vm or manual", driver ? driver : "");
	if (!json_is_object(params))
		return perr_set(e, PE_USAGE, "power_params: an object is "
		    "needed");
	/* json_object_foreach wants a non-const object; it only reads */
	json_object_foreach((json_t *)(uintptr_t)params, k, v) {
		for (i = 0; d->keys[i] != NULL && strcmp(d->keys[i], k); i++)
			;
		if (d->keys[i] == NULL)
			return perr_set(e, PE_USAGE, "power_params: \"%.40s\": "
			    "not a parameter of the %s driver", k, d->name);
		if (!json_is_string(v))
			return perr_set(e, PE_USAGE, "power_params: \"%s\": a "
			    "string is needed", k);
	}
	return d->check(params, e);
}

int
power_run(const char *node, const char *driver, const json_t *params,
    int action, char *msg, size_t msglen, struct perr *e)
{
	const struct power_driver *d = driver_find(driver);
	int rc;

	msg[0] = '\0';
	if (action < 0 || action >= POWER_NACTIONS)
		return perr_set(e, PE_USAGE, "node %s: no such power action",
		    node);
	/* checked again: the row may predate a stricter check */
	if ((rc = power_params_check(driver, params, e)) < 0) {
		perr_prefix(e, "node %s", node);
		e->code = PE_CONFLICT;
		return -PE_CONFLICT;
	}
	return d->run(node, params, action, msg, msglen, e);
}
