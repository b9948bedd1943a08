/*
 * bmc.h -- per-reservation accounts on the BMCs of IPMI nodes (bmc.c):
 * the reconcile thread that makes each BMC's reservation slot what the
 * database says it should be (enabled with the holder's password while
 * a reservation runs, disabled otherwise), the holder's password
 * (derived, never stored), and the rotation of a BMC's admin password.
 * It knows nothing of HTTP routes (api_bmc.c serves them).
 */
#ifndef BMC_H
#define BMC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct pipold;
struct perr;

#define BMC_SLOT		"3"	/* the IPMI user id pipol owns */
#define BMC_CHANNEL		"1"	/* the LAN channel */
#define BMC_TICK_SEC		2	/* a reconcile turn this often: an
					 * ended reservation's account dies
					 * within a turn and one ipmitool run */
#define BMC_BATCH		32	/* BMCs acted on in one turn */
#define BMC_LEASE_SEC		120	/* > two ipmitool runs' time limit */
#define BMC_BACKOFF_SEC		10	/* after a failure, doubled, up to */
#define BMC_BACKOFF_MAX_SEC	300
#define BMC_PW_LEN		16	/* IPMI's 16-byte passwords; 62
					 * letters and digits: 95 bits */
#define BMC_SALT_BYTES		16
#define BMC_USER_MAX		16

int bmc_start(struct pipold *pd, struct perr *e);
void bmc_stop(void);

/*
 * The account of reservation resv on node nid (the salt, hex): its
 * user name and password (NUL-terminated). 0, or -1 with e (the key
 * file cannot be read or made).
 */
int bmc_account(struct pipold *pd, const char *resv, const char *nid,
    const char *salt_hex, char user[BMC_USER_MAX + 1],
    char pw[BMC_PW_LEN + 1], struct perr *e);

/*
 * A new random admin password for node's BMC: set on the BMC with the
 * current one (params' user and password_file), then written to the
 * password_file (a temporary file first, renamed once the BMC took
 * it). msg says which user id. 0, or -code with e.
 */
int bmc_rotate_admin(struct pipold *pd, const char *node,
    const json_t *params, char *msg, size_t msglen, struct perr *e);

#endif
