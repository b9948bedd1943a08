#!/bin/bash
# vm.sh -- make bench: virtual nodes from one validated image (issue 16
# item 4). In the test network (tests/net: a namespace, its bridge,
# dnsmasq, pipold), a vm host and 1, 4 then 8 virtual nodes that pipold
# runs (power driver vm); alice deploys testimg (the 57 MiB BusyBox test
# image) on all of them at once; per round: the time from pipol deploy
# to the last node ready, each node's from created to ready (median,
# max), and pipol's own share: the base made (once) and each overlay
# (pipold's log), the agent's start to its post-install done (the
# timeline; the guest's boots are the rest). Then the disk use of the 8
# overlays against 8 full copies. Under TCG on this machine's cores the
# guests' boots dominate, and 8 machines share 2 cores: say so.
# Env: VM_ROUNDS (default "1 4 8"), VM_MEM (MiB a node, 320).
NET_MEM=${NET_MEM:-512}
PROFILE=virtual
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/net/testnet.sh"
. "$TOP/tests/net/e2e_lib.sh"
ROUNDS=${VM_ROUNDS:-1 4 8}
MEM=${VM_MEM:-320}
VMS=$PIPOL_STATE/vms
max=0; for n in $ROUNDS; do [ "$n" -gt "$max" ] && max=$n; done

pipol vmhost add local --bridge br0 --cpus "$max" --mem "$((max * MEM))M" --disk "$((max * 128))M" > /dev/null
for i in $(seq "$max"); do
	pipol node add v$i --mac "52:54:00:99:01:$(printf %02x "$i")" --ip "10.99.0.$((100 + i))" \
	    --profile virtual --vm local --cpus 1 --mem "${MEM}M" --disk 128M > /dev/null ||
	    { notok "v$i added"; exit 1; }
done
ok "vm host local, $max virtual nodes of 1 vCPU and $MEM MiB"

# stat NAME... over the deployments of round r: median and max of a
# phase difference (seconds)
med_max() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) { print "- -"; exit }
	printf "%.1f %.1f\n", a[int((NR + 1) / 2)], a[NR] }'; }
echo "virtual nodes, testimg (57 MiB), $(nproc) cores, QEMU $(grep -q -E ' (vmx|svm)' /proc/cpuinfo && [ -w /dev/kvm ] && echo KVM || echo TCG):" >&2
printf '%-4s %-10s %-18s %-16s %-14s %-18s\n' N "all ready" "node ready med/max" "base ms" "overlay ms med" "agent->postinst med" >&2
for n in $ROUNDS; do
	nodes=$(seq -s, -f 'v%g' 1 "$n")
	: > "$T/pipold.log.round"
	off=$(wc -l < "$T/pipold.log")
	t0=$(date +%s%N)
	alice deploy -n "$nodes" -i testimg --wait --timeout 20m > "$T/deploy.$n" 2>&1; rc=$?
	all=$((($(date +%s%N) - t0) / 1000000))
	equal "N=$n: every node ready" "$rc" 0 || { cat "$T/deploy.$n" >&2; continue; }
	tail -n +"$((off + 1))" "$T/pipold.log" > "$T/pipold.log.round"
	pipol status --json > "$T/status.$n"
	ids=$(jq -r --arg n "$nodes" '[.deployments[] | select(.node as $x | ($n | split(",")) | index($x))] | .[:'"$n"'][] | .id' "$T/status.$n")
	ready=$(for id in $ids; do jq -r --argjson id "$id" '.deployments[] | select(.id == $id) | .phases |
	    (map(select(.phase == "ready"))[0].t) - (map(select(.phase == "created"))[0].t)' "$T/status.$n"; done | med_max)
	pi=$(for id in $ids; do jq -r --argjson id "$id" '.deployments[] | select(.id == $id) | .phases |
	    (map(select(.phase == "postinstall_done"))[0].t) - (map(select(.phase == "agent_started"))[0].t)' "$T/status.$n"; done | med_max)
	base=$(grep -oE 'base made in [0-9]+ ms' "$T/pipold.log.round" | grep -oE '[0-9]+' | head -1)
	ovl=$(grep -oE 'overlay in [0-9]+ ms' "$T/pipold.log.round" | grep -oE '[0-9]+' | med_max | cut -d' ' -f1)
	printf '%-4s %-10s %-18s %-16s %-14s %-18s\n' "$n" "$((all / 1000)).$(((all % 1000) / 100)) s" \
	    "${ready% *}/${ready#* } s" "${base:-(there)}" "$ovl" "${pi% *} s" >&2
	if [ "$n" = "$max" ]; then
		bsize=$(stat -c %s "$PIPOL_STATE"/store/bases/*.raw)
		balloc=$(du -B1 "$PIPOL_STATE"/store/bases/*.raw | cut -f1)
		used=$(du -cB1 "$VMS"/*.qcow2 | tail -1 | cut -f1)
		echo "disk of $n nodes after ready: overlays $((used >> 10)) KiB in all; $n full copies $((n * bsize >> 10)) KiB ($((n * balloc >> 10)) KiB allocated); the base $((balloc >> 10)) KiB once" >&2
	fi
	res=$(jq '[.deployments[] | select(.node == "v1")][0].reservation' "$T/status.$n")
	alice release "$res" > /dev/null
	for _ in $(seq 600); do ls "$VMS"/*.qcow2 > /dev/null 2>&1 || break; sleep 0.2; done
	equal "N=$n: released, every overlay gone" "$(ls "$VMS" | grep -c qcow2)" 0
done
