#!/bin/bash
# vm: virtual nodes that pipold runs itself (schema 024, power_vm.c,
# vm.c), on the test network's bridge: a vm host with its capacity, two
# virtual nodes on it; alice deploys the validated testimg:1 on both:
# pipold makes the version's base once, an overlay for each, starts
# their QEMU; they netboot the deployment environment, whose agent
# writes nothing (preloaded) and runs the post-install (each QEMU under
# its seccomp filter, as a uid of its own); both reach
# ready and answer SSH as alice; each sees its own changes only; their
# overlays together hold less than 10 % of the base; released, both
# machines and overlays are gone; pipol sub --profile virtual runs a
# command as alice on one; released then deployed again at once,
# the queued end is dropped by the new deployment (the reaper does not stop the
# new machine, whose disk is new). Also: the host's capacity refuses a
# third node that does not fit, a host with nodes is not removed,
# users cannot declare hosts.
E2E_PIPOLD_ARGS="--reaper-seconds 2"	# its turn waited for below
PROFILE=pc-bios	# n1 (e2e_lib.sh, never started): not virtual, so that --profile virtual picks v1 or v2
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/net/testnet.sh"
. "$TOP/tests/net/e2e_lib.sh"
VMS=$PIPOL_STATE/vms
sql() { psql -X -q -t -A -h "$T/state/pg" -U pipol -d pipol -c "$1" 2>&1; }

# the host and its nodes
expect_fail 4 "admins only" alice vmhost add local --bridge br0 --cpus 2 --mem 1G --disk 1G
check "vm host local: 2 vCPUs, 1 GiB, 1 GiB of disk, on br0" \
    pipol vmhost add local --bridge br0 --cpus 2 --mem 1G --disk 1G
for i in 1 2; do
	check "v$i: a virtual node on local (1 vCPU, 384 MiB, 128 MiB disk)" \
	    pipol node add v$i --mac 52:54:00:99:00:4$i --ip 10.99.0.4$i --profile virtual \
	    --vm local --cpus 1 --mem 384M --disk 128M
done
expect_fail 7 "node v3: vm host local: 2 of its 2 vCPUs given, 1 asked" \
    pipol node add v3 --mac 52:54:00:99:00:43 --profile virtual --vm local
expect_fail 7 "vm host local: nodes run on it (v1, v2)" pipol vmhost rm local
equal "vmhost list: used/all" "$(pipol vmhost list | awk 'NR == 2 { print $1, $2, $3, $4, $5, $6 }')" \
    "local br0 2/2 768/1024 256/1024 v1,v2"

# alice deploys both
t0=$(date +%s%N)
alice deploy -n v1,v2 -i testimg --wait --timeout 10m > "$T/deploy.out" 2>&1; rc=$?
secs=$((($(date +%s%N) - t0) / 1000000000))
equal "alice deploys testimg on v1 and v2: exit 0 ($secs s)" "$rc" 0 ||
    { cat "$T/deploy.out" >&2; tail -30 "$T/pipold.log" >&2; }
base=$(ls "$PIPOL_STATE"/store/bases/*.raw 2>/dev/null)
equal "one base, made once" "$(echo "$base" | grep -c . ) $(grep -c 'base made' "$T/pipold.log")" "1 1"
grep -E "vm: node v[12]: disk of testimg:1" "$T/pipold.log" >&2
equal "both preloaded: their agents wrote nothing" \
    "$(pipol status --json | jq -c '[.deployments[] | select(.node == "v1" or .node == "v2") | [.node, .preloaded, .written, .state]] | sort')" \
    '[["v1",true,0,"ready"],["v2",true,0,"ready"]]'
dep=$(pipol status --json | jq '[.deployments[] | select(.node == "v1")][0].id')
pipol status "$dep" > "$T/timeline"
grep -qE '^ *ready ' "$T/timeline" && ok "v1's timeline has its phases to ready" ||
    { notok "v1's timeline to ready"; cat "$T/timeline" >&2; }
grep -q "chunks: none fetched, the disk held the image" "$T/timeline" && ok "... and says nothing was fetched" ||
    notok "... and says nothing was fetched"
grep -a -q "holds testimg:1 already (a virtual node's disk on its base)" "$PIPOL_STATE/console/$dep.log" 2>/dev/null &&
    ok "v1's serial console logged by pipold: its agent wrote nothing" ||
    { notok "v1's serial console logged by pipold"; ls -la "$PIPOL_STATE/console" >&2; }
sshv() {
	net_exec ssh -F /dev/null -i "$T/id" -o BatchMode=yes -o IdentitiesOnly=yes \
	    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	    -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR \
	    -o ConnectTimeout=20 "$1@$2" "$3" 2>&1
}
for i in 1 2; do
	equal "v$i answers SSH as alice" "$(sshv alice 10.99.0.4$i 'id -un; hostname')" "alice
v$i"
done
sshv alice 10.99.0.41 'echo mine > ~/v1-only' > /dev/null
equal "each sees its own changes only" "$(sshv alice 10.99.0.41 'cat ~/v1-only') $(sshv alice 10.99.0.42 'cat ~/v1-only 2>&1 | grep -c "No such"')" "mine 1"
bsize=$(stat -c %s "$base")
used=$(($(du -B1 "$VMS/v1.qcow2" | cut -f1) + $(du -B1 "$VMS/v2.qcow2" | cut -f1)))
echo "vm figures: deploy to ready $secs s for 2 nodes; base $bsize bytes, overlays $used bytes ($((used * 1000 / bsize))/1000)" >&2
[ "$used" -gt 0 ] && [ $((used * 10)) -lt "$bsize" ] &&
    ok "the overlays hold $((used >> 10)) KiB, under 10 % of the base's $((bsize >> 10)) KiB" ||
    notok "the overlays hold $used bytes: not under 10 % of $bsize"
equal "v1's machine runs" "$(pipol node power v1 status 2>&1)" "v1: running"
equal "... under QEMU's seccomp filter (-sandbox on)" \
    "$(grep -E '^Seccomp:' /proc/"$(cat "$VMS/v1.pid")"/status | tr -s '\t ' ' ')" "Seccomp: 2"
# not root: each machine its own uid and gid, 0x70000000 + its node's id
# (pipold --vm-uid-base), no capability left
ids() { grep -E "^$2:" /proc/"$(cat "$VMS/$1.pid")"/status | tr -s '\t ' ' ' | sed 's/ *$//'; }
for v in v1 v2; do
	id=$(sql "select id from nodes where name = '$v'")
	[[ $id =~ ^[0-9]+$ ]] || { notok "$v's id: $id"; continue; }
	u=$((0x70000000 + id))
	equal "$v's QEMU runs as uid $u, gid $u, nothing else" \
	    "$(ids $v Uid) / $(ids $v Gid) / $(ids $v Groups) / $(ids $v CapEff)" \
	    "Uid: $u $u $u $u / Gid: $u $u $u $u / Groups: $u / CapEff: 0000000000000000"
done

# released: machines and disks gone
res=$(pipol status --json | jq '[.deployments[] | select(.node == "v1")][0].reservation')
alice release "$res" > /dev/null
for _ in $(seq 300); do [ -e "$VMS/v1.qcow2" ] || [ -e "$VMS/v2.qcow2" ] || break; sleep 0.2; done
equal "released: both overlays gone" "$(ls "$VMS" | grep -c qcow2)" 0
equal "... both machines gone" "$(pgrep -f 'pipol-vm-v[12] ' | wc -l)" 0
equal "... v1 is off" "$(pipol node power v1 status 2>&1)" "v1: off (no QEMU)"
equal "the base stays for the next" "$(ls "$PIPOL_STATE"/store/bases/ | grep -c raw)" 1

# CI on virtual nodes: pipol sub --profile virtual, a node kept
alice sub -n 1 --profile virtual -i testimg --name vmjob --for 20m --keep --wait -- id -u \
    > "$T/sub.out" 2>&1; rc=$?
equal "pipol sub --profile virtual --keep: exit 0" "$rc" 0 || cat "$T/sub.out" >&2
job=$(grep -o '^job [0-9]*' "$T/sub.out" | head -1 | cut -d' ' -f2)
vn=$(grep -oE ' v[12] +exited +0' "$T/sub.out" | grep -oE 'v[12]')
ip=10.99.0.4${vn#v}
equal "... run on a virtual node as alice (uid 10002)" "$vn $(alice job log "$job" "$vn" 2>&1)" "${vn:-none} 10002"

# released and deployed again at once: the end's off and discard, still
# queued (the reaper's turn held from outside), are dropped by the
# deployment, which stops the machine and makes its disk anew itself;
# the reaper does not stop the new machine after
sshv alice "$ip" 'echo second > ~/mark' > /dev/null
res=$(pipol status --json | jq --arg n "$vn" '[.deployments[] | select(.node == $n)][0].reservation')
psql -X -q -h "$T/state/pg" -U pipol -d pipol -c "select pg_advisory_lock(1885958255, 1)" \
    -c "select pg_sleep(120)" > /dev/null 2>&1 &
LPID=$!
for _ in $(seq 100); do [ "$(sql "select count(*) from pg_locks where locktype = 'advisory' and classid = 1885958255 and objid = 1 and granted")" = 1 ] && break; sleep 0.1; done
alice release "$res" > /dev/null
sleep 3
equal "released, the reaper held: its off queued, $vn still running" \
    "$(sql "select a.action from node_end_actions a join nodes n on n.id = a.node_id where n.name = '$vn'") $(pipol node power "$vn" status 2>&1)" "off $vn: running"
alice deploy -n "$vn" -i testimg --wait --timeout 10m > "$T/deploy3.out" 2>&1; rc=$?
equal "deployed again at once: exit 0" "$rc" 0 || cat "$T/deploy3.out" >&2
equal "... the queued end dropped by the deployment" \
    "$(sql "select count(*) from node_end_actions a join nodes n on n.id = a.node_id where n.name = '$vn'")" 0
# the lock's session ended at the server (a killed psql leaves its
# backend in pg_sleep, the lock held)
sql "select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and classid = 1885958255 and objid = 1" > /dev/null
wait "$LPID" 2>/dev/null
for _ in $(seq 100); do [ "$(sql "select count(*) from pg_stat_activity where query like '%pg_sleep(120)%' and pid <> pg_backend_pid()")" = 0 ] && break; sleep 0.1; done
sleep 5	# more than two reaper turns (2 s here) with the turn free
equal "... the reaper let it be: $vn runs, its disk there" \
    "$(pipol node power "$vn" status 2>&1) $(ls "$VMS" | grep -c "^$vn.qcow2$")" "$vn: running 1"
equal "... a new disk: the file of before is gone" "$(sshv alice "$ip" 'cat ~/mark 2>&1 | grep -c "No such"')" 1
res=$(pipol status --json | jq --arg n "$vn" '[.deployments[] | select(.node == $n)][0].reservation')
alice release "$res" > /dev/null
for _ in $(seq 300); do [ -e "$VMS/$vn.qcow2" ] || break; sleep 0.2; done
equal "released: $vn's machine and disk gone" "$(pgrep -fc "pipol-vm-$vn ") $(ls "$VMS" | grep -c qcow2)" "0 0"
kill -0 "$DPID" 2>/dev/null && ok "pipold still runs" || notok "pipold still runs"
