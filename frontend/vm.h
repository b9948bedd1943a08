/*
 * vm.h -- virtual nodes' disks (vm.c; schema 024, power_vm.c runs the
 * machines): a deployment's overlay on its version's base, made before
 * the node's power cycle; discarded at the reservation's end.
 */
#ifndef VM_H
#define VM_H

#include <jansson.h>

struct pipold;
struct pg_conn;

/* "kvm" where the CPU has vmx or svm and /dev/kvm opens, else "tcg" */
const char *vm_accel_default(void);

/*
 * Before the power cycle of vm node (params: its node_power): when a
 * deployment of kind deploy is pending on it, its machine stopped and a
 * new disk made, STATE/vms/NODE.qcow2: an overlay on the validated
 * version's base (STORE/bases, made on first use), the deployment then
 * preloaded (its agent writes nothing); else, for a draft, an empty
 * disk the agent writes. Logged with its times; a failure is logged and
 * leaves the node without a disk (its power cycle then fails).
 */
void vm_prepare(struct pipold *pd, struct pg_conn *db, const char *node,
    const json_t *params);

/* The machine's disk and sockets removed (after its power off at the
 * end of a reservation): nothing of one user reaches the next. */
void vm_discard(const char *node);

#endif
