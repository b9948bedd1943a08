/*
 * pipold.c -- the pipol frontend daemon's main: options, then the life
 * cycle (database, dnsmasq files, HTTP server, reservation expiry tick,
 * scheduler, signals, shutdown). What it serves is http.c's route table; nothing
 * here is called from another file. Foreground; logs on stderr. SIGTERM/SIGINT stop it cleanly
 * (and the embedded PostgreSQL with it); kill -9 loses nothing, since
 * every state that matters is in the database or in the store.
 */
#include <ctype.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "api.h"
#include "atomic.h"
#include "cmd.h"
#include "http.h"
#include "log.h"
#include "parse.h"
#include "pipold.h"
#include "sched.h"
#include "console.h"	/* console */
#include "jobs.h"
#include "bmc.h"	/* bmc: per-reservation BMC accounts */
#include "store.h"
#include "power.h"	/* vm: virtual nodes' folder */
#include "vm.h"

/* The command line: the options, the usage line and --help (cmd.h). */
enum { O_STATE, O_DB, O_LISTEN, O_ADD_USER, O_ADMIN, O_DNSMASQ_DIR,
    O_PUBLIC_URL, O_TFTP_ROOT, O_ELILO, O_NFS_HOME, O_IP_CONNECTIONS, O_TOKEN_DAYS,
    O_CONSOLE_DAYS, O_VM_ACCEL, O_VM_UID_BASE, O_REAPER_SECONDS,
    O_END };

/* One address's connections at once: a node's agent holds its progress
 * connection and up to 64 fetch connections (AGENT_CONNECTIONS_MAX);
 * more from one address is a client hoarding threads. */
#define IP_CONNECTIONS_DEFAULT	128

static const struct cmd_opt options[] = {
	[O_STATE] = { "state", 0, CMD_VALUE, "DIR",
	    "state folder (default $PIPOL_STATE, else /var/lib/pipol)" },
	[O_DB] = { "db", 0, CMD_VALUE, "CONNINFO",
	    "an external PostgreSQL (default $PIPOL_DB); without\n"
	    "one, pipold runs its own under DIR/pg, Unix socket only" },
	[O_LISTEN] = { "listen", 0, CMD_VALUE, "ADDR:PORT",
	    "where to serve HTTP (default 0.0.0.0:8080)" },
	[O_ADD_USER] = { "add-user", 0, CMD_VALUE, "NAME",
	    "make a user, print its API token once, and exit\n"
	    "(how the first admin comes to exist)" },
	[O_ADMIN] = { "admin", 0, CMD_FLAG, NULL,
	    "with --add-user: the user is an admin" },
	[O_DNSMASQ_DIR] = { "dnsmasq-dir", 0, CMD_VALUE, "DIR",
	    "write DIR/pipol.conf (the PXE -> iPXE boot chain, for\n"
	    "dnsmasq --conf-file) and DIR/hosts/ (a static lease\n"
	    "file per node), rewritten after every node change" },
	[O_PUBLIC_URL] = { "public-url", 0, CMD_VALUE, "URL",
	    "where the nodes reach pipold (http://10.0.0.1:8080):\n"
	    "iPXE is sent to URL/boot/${mac}" },
	[O_TFTP_ROOT] = { "tftp-root", 0, CMD_VALUE, "DIR",
	    "where dnsmasq finds undionly.kpxe and snponly.efi\n"
	    "(default " DNSMASQ_TFTP_ROOT ")" },
	[O_ELILO] = { "elilo", 0, CMD_VALUE, "PATH",
	    "serve elilo.efi (TFTPROOT/PATH) to IA-64 firmware, and\n"
	    "write each network-only node's elilo configuration\n"
	    "next to it" },
	[O_NFS_HOME] = { "nfs-home", 0, CMD_VALUE, "SERVER:/PATH",
	    "deployed systems mount SERVER:/PATH/USER on\n"
	    "/home/USER (NFS, at boot); default: a local home" },
	[O_IP_CONNECTIONS] = { "ip-connections", 0, CMD_VALUE, "N",
	    "connections at once from one client address, then\n"
	    "refused (default 128; 1..65535)" },
	[O_TOKEN_DAYS] = { "token-days", 0, CMD_VALUE, "N",
	    "a new API token expires after N days, and none may\n"
	    "be asked for longer (default 90; 0: never, 1..36500)" },
	[O_CONSOLE_DAYS] = { "console-days", 0, CMD_VALUE, "N",
	    "a console log not written for N days is removed\n"
	    "(default 30; 0: never; 1..36500)" },
	[O_VM_ACCEL] = { "vm-accel", 0, CMD_VALUE, "kvm|tcg",
	    "how virtual nodes' QEMU runs (default: kvm where the\n"
	    "CPU has vmx or svm and /dev/kvm opens, else tcg)" },
	[O_REAPER_SECONDS] = { "reaper-seconds", 0, CMD_VALUE, "N",
	    "the reaper's turn (reservations ended, then their\n"
	    "nodes' end actions) every N seconds (default 10; 1..60)" },
	[O_VM_UID_BASE] = { "vm-uid-base", 0, CMD_VALUE, "N",
	    "a virtual node's QEMU runs as uid and gid N + the\n"
	    "node's id, its own (default 1879048192 = 0x70000000;\n"
	    "65536..2^31 - 2^24, a range no account uses)" },
	[O_END] = CMD_OPT_END
};

static const struct cmd pipold_cmd = { "pipold", NULL,
    "[--state DIR] [--db CONNINFO] [--listen ADDR:PORT]\n"
    "              [--dnsmasq-dir DIR --public-url URL [--tftp-root DIR]\n"
    "              [--elilo PATH]]\n"
    "              [--nfs-home SERVER:/PATH] [--ip-connections N]\n"
    "              [--token-days N] [--console-days N] [--vm-accel kvm|tcg]\n"
    "              [--vm-uid-base N] [--reaper-seconds N]\n"
    "       pipold [--state DIR] [--db CONNINFO] --add-user NAME [--admin]\n"
    "              [--token-days N]",
    "The pipol frontend: serves the image store to the node agents over\n"
    "HTTP (docs/protocol.md) and keeps the pool's state in PostgreSQL",
    options, 0, 0, NULL };

static int
listen_parse(const char *s, struct sockaddr_in *sa, struct perr *e)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	long long port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		return perr_set(e, PE_USAGE, "--listen %s: not ADDR:PORT", s);
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return perr_set(e, PE_USAGE, "--listen %s: not an IPv4 address",
		    s);
	if (parse_count("--listen port", colon + 1, 1, 65535, &port, e) < 0)
		return -PE_USAGE;
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

/* SERVER:/PATH, nothing an fstab line or a shell could misread */
static int
nfs_home_ok(const char *s)
{
	const char *c = strchr(s, ':');
	size_t i;

	if (c == NULL || c == s || c[1] != '/' || strlen(s) > 200)
		return 0;
	for (i = 0; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(".-_/:[]", s[i]))
			return 0;
	return 1;
}

/* --NAME N: *n untouched when the option is absent; -1 (said) when N is
 * not a whole number in lo..hi */
static int
opt_count(const struct cmd_args *a, int id, const char *name, long long lo,
    long long hi, long long *n)
{
	struct perr e;

	if (cmd_str(a, id) == NULL)
		return 0;
	if (parse_count(name, cmd_str(a, id), lo, hi, n, &e) < 0) {
		log_warnx("%s", e.msg);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct pipold pd = { .listen = "0.0.0.0:8080",
	    .console_days = CONSOLE_DAYS_DEFAULT,
	    .reaper_sec = REAPER_SEC_DEFAULT };
	const char *vm_accel;
	long long vm_uid_base = VM_UID_BASE_DEFAULT;
	struct sockaddr_in sa;
	struct cmd_args a;
	long long n;
	struct perr e;
	sigset_t set;
	int ch, sig, version, rc = 0, admin = 0;
	const char *add_user = NULL;

	log_init(argv[0]);
	if ((ch = cmd_getargs(&pipold_cmd, argc, argv, &a)) >= 0)
		return ch;
	pd.state = cmd_str(&a, O_STATE);
	if ((pd.conninfo = cmd_str(&a, O_DB)) == NULL)
		pd.conninfo = getenv("PIPOL_DB");
	if (cmd_str(&a, O_LISTEN) != NULL)
		pd.listen = cmd_str(&a, O_LISTEN);
	add_user = cmd_str(&a, O_ADD_USER);
	admin = cmd_count(&a, O_ADMIN) > 0;
	pd.dnsmasq.dir = cmd_str(&a, O_DNSMASQ_DIR);
	pd.dnsmasq.public_url = cmd_str(&a, O_PUBLIC_URL);
	pd.dnsmasq.tftp_root = cmd_str(&a, O_TFTP_ROOT);
	pd.dnsmasq.elilo = cmd_str(&a, O_ELILO);
	pd.nfs_home = cmd_str(&a, O_NFS_HOME);
	pthread_mutex_init(&pd.dnsmasq.mu, NULL);
	db_pool_init(&pd);
	pd.state = store_state_dir(pd.state);
	snprintf(pd.store_root, sizeof(pd.store_root), "%s/store", pd.state);
	if (dnsmasq_check(&pd.dnsmasq, &e) < 0) {
		log_warnx("%s", e.msg);
		return PE_USAGE;
	}
	if (pd.nfs_home != NULL && !nfs_home_ok(pd.nfs_home)) {
		log_warnx("--nfs-home %s: not SERVER:/PATH (letters, digits, "
		    "'.', '-', '_', '/')", pd.nfs_home);
		return PE_USAGE;
	}
	n = IP_CONNECTIONS_DEFAULT;
	if (opt_count(&a, O_IP_CONNECTIONS, "--ip-connections", 1, 65535,
	    &n) < 0)
		return PE_USAGE;
	pd.ip_connections = (unsigned)n;
	n = -1;
	if (opt_count(&a, O_TOKEN_DAYS, "--token-days", 0, TOKEN_DAYS_MAX,
	    &n) < 0)
		return PE_USAGE;
	if (n >= 0)
		api_token_days_set((int)n);
	n = pd.console_days;
	if (opt_count(&a, O_CONSOLE_DAYS, "--console-days", 0,
	    TOKEN_DAYS_MAX, &n) < 0)
		return PE_USAGE;
	pd.console_days = (int)n;
	{
		const char *acc = cmd_str(&a, O_VM_ACCEL);

		if (acc != NULL && strcmp(acc, "kvm") != 0 &&
		    strcmp(acc, "tcg") != 0) {
			log_warnx("--vm-accel %.40s: kvm or tcg", acc);
			return PE_USAGE;
		}
		vm_accel = acc != NULL ? acc : vm_accel_default();
	}
	n = pd.reaper_sec;
	if (opt_count(&a, O_REAPER_SECONDS, "--reaper-seconds", 1, 60, &n) < 0)
		return PE_USAGE;
	pd.reaper_sec = (int)n;
	if (opt_count(&a, O_VM_UID_BASE, "--vm-uid-base", VM_UID_BASE_MIN,
	    VM_UID_BASE_MAX, &vm_uid_base) < 0)
		return PE_USAGE;
	if (listen_parse(pd.listen, &sa, &e) < 0) {
		log_warnx("%s", e.msg);
		return PE_USAGE;
	}
	/* signals are taken by sigwait() below, never by a handler */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);	/* db.c's watch: the database is gone */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((pd.conninfo == NULL || *pd.conninfo == '\0') &&
	    pg_embedded_start(&pd, &e) < 0)
		goto fail;
	if (db_migrate(&pd, &version, &e) < 0)
		goto fail;
	if (add_user != NULL) {
		if (api_add_user(&pd, add_user, admin, &e) < 0)
			goto fail;
		goto out;
	}
	/* STATE holds the keys and logs of the threads below, whatever
	 * database --db names (the embedded one made it already) */
	if (mkdir_one(pd.state, &e) < 0)
		goto fail;
	if (power_vm_init(pd.state, vm_accel, vm_uid_base, &e) < 0)
		goto fail;
	if (dnsmasq_start(&pd, &e) < 0)
		goto fail;
	if (http_start(&pd, &sa, &e) < 0)
		goto fail;
	if (resv_tick_start(&pd, &e) < 0) {
		http_stop(&pd);
		goto fail;
	}
	if (sched_start(&pd, &e) < 0) {
		resv_tick_stop();
		http_stop(&pd);
		goto fail;
	}
	if (jobs_start(&pd, &e) < 0) {	/* sub: the job thread */
		sched_stop();
		resv_tick_stop();
		http_stop(&pd);
		goto fail;
	}
	if (bmc_start(&pd, &e) < 0) {	/* bmc: the reconcile thread */
		jobs_stop();
		sched_stop();
		resv_tick_stop();
		http_stop(&pd);
		goto fail;
	}
	if (console_start(&pd, &e) < 0) {	/* console: the readers */
		bmc_stop();
		jobs_stop();
		sched_stop();
		resv_tick_stop();
		http_stop(&pd);
		goto fail;
	}
	if (db_watch_start(&pd, &e) < 0) {
		bmc_stop();	/* bmc */
		console_stop();	/* console */
		jobs_stop();
		sched_stop();
		resv_tick_stop();
		http_stop(&pd);
		goto fail;
	}
	log_info("listening on %s, store %s, schema version %d%s", pd.listen,
	    pd.store_root, version, pd.embedded ? ", embedded database" : "");
	sigwait(&set, &sig);
	if (sig != SIGUSR1)
		log_info("%s: stopping", strsignal(sig));
	db_watch_stop();
	bmc_stop();	/* bmc */
	console_stop();	/* console */
	jobs_stop();
	sched_stop();
	resv_tick_stop();
	http_stop(&pd);
	if (sig == SIGUSR1)
		rc = PE_UNAVAIL;	/* the watch said why */
	goto out;
 fail:
	log_warnx("%s", e.msg);
	rc = e.code ? e.code : PE_FAIL;
 out:
	db_pool_close(&pd);
	/* the daemon owns the cluster; a one-shot leaves a running one be */
	if (add_user == NULL || pd.started_pg)
		pg_embedded_stop(&pd);
	if (pd.embedded)
		free(pd.conninfo);	/* asprintf'd by pg_embedded_start */
	return rc;
}
