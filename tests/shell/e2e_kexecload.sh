#!/bin/bash
# e2e_kexecload: the hand-over by kexec_load on a QEMU node. The node's
# deployment kernel line carries pipol.kexec=load (in its boot_params
# console, the words pipold puts on that line: docs/admin.md "kexec
# hand-over"); its agent skips kexec_file_load, loads the deployed
# kernel with kexec -l (Debian's kexec-tools in the deployment
# environment), and hands over with no firmware pass; the deployed
# system reports ready. The BIOS path of tests/net/cycle.sh (e2e_bios,
# which hands over by kexec_file_load), without its SSH and resets.
PROFILE=pc-bios
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/net/testnet.sh"
. "$TOP/tests/net/e2e_lib.sh"

sql() { psql -X -q -t -A -h "$T/state/pg" -U pipol -d pipol -c "$1" 2>&1; }
CONSOLE="console=tty0 console=ttyS0,115200 pipol.kexec=load"
sql "UPDATE nodes SET boot_params = boot_params || jsonb_build_object('console', '$CONSOLE') WHERE name = 'n1'" > /dev/null
equal "n1's deployment kernel line: pipol.kexec=load (boot_params console)" \
    "$(sql "SELECT boot_params->>'console' FROM nodes WHERE name = 'n1'")" "$CONSOLE"

check "n1: bios node, blank disk, off" net_node n1 52:54:00:99:00:21 "$T/n1.disk" bios -S
t0=$(date +%s%N)
alice deploy -n n1 -i testimg --wait --timeout 5m > "$T/deploy.out" 2>&1
rc=$?
equal "deploy --wait: exit 0, ready" "$rc $(grep -c '^n1 *ready' "$T/deploy.out")" "0 1"
[ $rc = 0 ] || { cat "$T/deploy.out" >&2; tr -d '\r' < "$NET_DIR/n1.log" | tail -40 >&2; }
ms=$((($(date +%s%N) - t0) / 1000000))
ok "n1: deploy to ready in $((ms / 1000)).$((ms % 1000 / 100)) s"
con "pipol-agent: kexec: pipol.kexec=load: kexec -l (kexec-tools), not kexec_file_load" &&
    ok "n1: the agent read pipol.kexec=load and skipped kexec_file_load" ||
    { notok "n1: the agent read pipol.kexec=load and skipped kexec_file_load"; tr -d '\r' < "$NET_DIR/n1.log" | grep -a kexec >&2; }
tr -d '\r' < "$NET_DIR/n1.log" | grep -a "pipol-agent: kexec: handing over to /boot/vmlinuz-" |
    grep -q ", loaded by kexec -l, no firmware pass;" &&
    ok "n1: the agent handed over, loaded by kexec -l" ||
    { notok "n1: the agent handed over, loaded by kexec -l"; tr -d '\r' < "$NET_DIR/n1.log" | grep -a kexec >&2; }
equal "n1: no firmware boot between the write and the deployed system (one /boot/MAC, no disk boot)" \
    "$(bootreqs) $(tr -d '\r' < "$NET_DIR/n1.log" | grep -c "Booting from SAN device 0x80")" "1 0"
# the agent's kexec lines, for the log
tr -d '\r' < "$NET_DIR/n1.log" | grep -a '^pipol-agent: kexec' | sed 's/^/# /'
dep=$(grep -o 'deployment [0-9]*' "$T/deploy.out" | head -1 | cut -d' ' -f2)
alice status "$dep" > "$T/status"
sed 's/^/# /' "$T/status"
grep -q "^  handover .*  by kexec$" "$T/status" && ok "the timeline: handover by kexec" ||
    notok "the timeline: handover by kexec"
con "pipol-testimg: up n1" && ok "n1: the deployed system is up as n1" || notok "n1: the deployed system is up as n1"
con "pipol: ready reported to $NET_URL" && ok "n1: its first boot reported ready" || notok "n1: its first boot reported ready"
net_node_stop n1
kill -0 "$DPID" 2>/dev/null && ok "pipold still runs" || notok "pipold still runs"
