#!/bin/bash
# sub: pipol sub on a QEMU node of the test network (pc-bios, the test
# image): alice's job is placed, the node deployed, and once it is
# ready the job hook copies her source folder into her home, runs her
# command as her (its id -u is 10000 + her id, never 0) with words a
# shell would have read, and sends back its output, its exit status and
# a result file; the node is released (powered off) after the run, and
# pipol sub --wait exits 1 because the command exited 3.
PROFILE=pc-bios
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/net/testnet.sh"
. "$TOP/tests/net/e2e_lib.sh"

check "n1: pc-bios node, blank disk, off" net_node n1 52:54:00:99:00:21 "$T/n1.disk" bios -S
mkdir -p "$T/src/lib"
echo 'the data' > "$T/src/lib/data.txt"
chmod -R a+rX "$T/src"
uid=10002	# alice: pipold's second user (10000 + her id)
t0=$(date +%s)
alice sub -n 1 -i testimg --dir "$T/src" --name e2e --for 20m --wait -- \
    sh -c 'id -u; cat lib/data.txt; echo "$1"; echo kept > "$PIPOL_RESULTS/r.txt"; exit 3' \
    pipol-e2e '$(reboot); `halt` "q"' > "$T/sub.out" 2>&1 &
spid=$!
for _ in $(seq 9000); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$spid" 2>/dev/null && { notok "pipol sub --wait ends within 15 min"; kill "$spid"; }
wait "$spid"; rc=$?
equal "pipol sub --wait: the command exited 3: exit 1 ($(($(date +%s) - t0)) s)" "$rc" 1
[ "$rc" = 1 ] || { cat "$T/sub.out" >&2; tr -d '\r' < "$NET_DIR/n1.log" | tail -30 >&2; }
job=$(grep -o '^job [0-9]*' "$T/sub.out" | head -1 | cut -d' ' -f2)
grep -qE "^[0-9]+ +testimg +n1 +exited +3 " "$T/sub.out" && ok "the run: n1, exited 3" ||
    { notok "the run: n1, exited 3"; cat "$T/sub.out" >&2; }
alice job log "$job" n1 > "$T/stdout"
equal "run as alice (uid $uid), in her home with the source, words verbatim" "$(cat "$T/stdout")" "$uid
the data
\$(reboot); \`halt\` \"q\""
cd "$T" && alice job fetch "$job" -o "$T/out" > /dev/null
equal "the result file came back" "$(tar -xzOf "$T/out/n1-testimg/results.tar.gz" ./r.txt)" kept
con "pipol: job run over, exit status 3" && ok "n1: the hook reported the run" ||
    notok "n1: the hook reported the run"
qpid=${NET_PIDS[n1]}
running() { local s; s=$(ps -o stat= -p "$qpid" 2>/dev/null); [ -n "$s" ] && [ "${s#Z}" = "$s" ]; }
for _ in $(seq 600); do running || break; sleep 0.1; done
! running && ok "n1: released after the run, powered off" || notok "n1: released after the run, powered off"
net_node_stop n1
kill -0 "$DPID" 2>/dev/null && ok "pipold still runs" || notok "pipold still runs"
