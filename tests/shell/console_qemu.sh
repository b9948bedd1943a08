#!/bin/bash
# console_qemu: a real node's serial console through pipold. A QEMU BIOS
# node of the test network (tests/net/testnet.sh: its serial a socket
# chardev, the power param serial=) is deployed by alice while she
# watches its console with pipol console: iPXE's and /init's lines
# during the deployment, the deployed system's after; the deployment's
# console log holds them (pipol log ID --console). Then the rescue shell
# on the same console: alice's keys run a command there, an admin's
# too; bob is refused; the release cuts alice off and refuses her after.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/net/testnet.sh"
PROFILE=pc-bios
. "$TOP/tests/net/e2e_lib.sh"
bo=$(pipol user add bob | grep -oE '[0-9a-f]{64}')
bob() { PIPOL_TOKEN=$bo net_exec "$P" "$@"; }
equal "n1's console: the qemu power param serial" \
    "$(pipol node set n1 --power qemu --power-param qmp="$NET_DIR/n1.qmp" \
    --power-param serial="$NET_DIR/n1.serial" | head -1)" "n1: power qemu"
check "n1: BIOS node, blank disk, off" net_node n1 52:54:00:99:00:21 "$T/n1.disk" bios -S
net_mark n1
rid=$(alice reserve --nodes n1 --for 1h -q | tr -dc 0-9)
[ -n "$rid" ] && ok "alice reserves n1 (reservation $rid)" || notok "alice reserves n1"
# alice's console during the whole deployment (ip netns exec execs pipol: $! is its pid)
PIPOL_TOKEN=$al ip netns exec "$NET_NS" "$P" console n1 --seconds 600 < /dev/null \
    > "$T/watch.out" 2> "$T/watch.err" &
wpid=$!
alice deploy -n n1 -i testimg --reservation "$rid" --wait --timeout 5m > "$T/deploy.out" 2>&1
equal "deploy --wait: exit 0" "$?" 0
dep=$(grep -o 'deployment [0-9]*' "$T/deploy.out" | head -1 | cut -d' ' -f2)
for _ in $(seq 100); do grep -aq "pipol-testimg: up n1" "$T/watch.out" && break; sleep 0.1; done
kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null
w() { tr -d '\r' < "$T/watch.out" | grep -aF -- "$1" > /dev/null; }
w "pipol: n1: loading the deployment environment" && w "pipol: " && w "pipol-agent" &&
    ok "pipol console during the deployment: iPXE's, /init's and the agent's lines" ||
    { notok "pipol console during the deployment"; tr -d '\r' < "$T/watch.out" | tail -20 >&2; }
w "pipol-testimg: up n1" && ok "... and after it: the deployed system's" ||
    notok "... and after it: the deployed system's"
con "pipol-testimg: up n1" && ok "the serial log the e2e tests read still fills (chardev logfile=)" ||
    notok "the serial log the e2e tests read still fills (chardev logfile=)"
alice log "$dep" --console | tr -d '\r' > "$T/conlog"
grep -aqF "pipol: n1: loading the deployment environment" "$T/conlog" && grep -aqF "pipol-agent" "$T/conlog" &&
    grep -aqF "pipol-testimg: up n1" "$T/conlog" &&
    ok "pipol log $dep --console: the deployment's boot, from iPXE to the deployed system" ||
    { notok "pipol log $dep --console"; tail -20 "$T/conlog" >&2; }

# the rescue shell on the same console: keys both ways
equal "pipol node boot n1 rescue (admin)" "$(pipol node boot n1 rescue | head -1 | cut -d: -f1)" n1
pipol node power n1 reset > /dev/null
for _ in $(seq 1800); do
	tr -d '\r' < "$NET_DIR/n1.log" | grep -aq "rescue environment (pipol.rescue=1)" && break; sleep 0.1
done
sleep 3	# the shell's prompt after the message
printf 'echo alice$((6*7))\r' | alice console n1 --seconds 5 > "$T/sh.out" 2>&1
tr -d '\r' < "$T/sh.out" | grep -aqx "alice42" && ok "alice types in the rescue shell: it runs (alice42)" ||
    { notok "alice types in the rescue shell: it runs"; cat -A "$T/sh.out" | tail >&2; }
printf 'echo root$((6*7))\r' | pipol console n1 --seconds 5 > "$T/shr.out" 2>&1
tr -d '\r' < "$T/shr.out" | grep -aqx "root42" && ok "an admin types there too" ||
    { notok "an admin types there too"; cat -A "$T/shr.out" | tail >&2; }
expect_fail 4 "node n1: not in a running reservation of yours" bob console n1 --seconds 20 < /dev/null

# the release: alice attached is cut off, then refused
PIPOL_TOKEN=$al ip netns exec "$NET_NS" "$P" console n1 --seconds 120 < /dev/null \
    > "$T/cut.out" 2> "$T/cut.err" &
wpid=$!
for _ in $(seq 100); do grep -aq 'console attached' "$T/cut.out" && break; sleep 0.1; done
equal "alice releases reservation $rid" "$(alice release "$rid")" "reservation $rid released"
wait "$wpid"
equal "alice's console is cut at the release (exit 1)" "$?" 1
grep -aqF "[pipol: n1: your reservation of this node ended]" "$T/cut.out" && ok "... told why" ||
    { notok "... told why"; cat -A "$T/cut.out" | tail -3 >&2; }
expect_fail 4 "node n1: not in a running reservation of yours" alice console n1 --seconds 20 < /dev/null
net_node_stop n1
kill -0 "$DPID" 2>/dev/null && ok "pipold still runs" || notok "pipold still runs"
