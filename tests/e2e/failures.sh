#!/bin/bash
# e2e failures: a node never boots a system that was not wholly
# deployed. On a QEMU BIOS node (tests/net/e2e_lib.sh):
#   1. the power is cut while the agent writes (it dies with the
#      machine) by a reset through pipold (pipol node power n1 reset),
#      which starts a boot cycle: the next boot still gets the deploy
#      script, with a fresh token (a node that rebooted by itself would
#      wait for such a reset); the deployment ends ready and every byte
#      of the image is on the disk;
#   2. a chunk corrupt in the store: the deployment fails naming it, the
#      node keeps the rescue shell (no reboot), and at its next boot
#      pipold gives it the rescue environment, never its disk.
PROFILE=pc-bios
E2E_IMG_EXTRA=192	# random MiB after the system: seconds of writing
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/net/testnet.sh"
. "$TOP/tests/net/e2e_lib.sh"

state() { alice status "$1" | awk 'NR == 2 { print $4 }'; }
# until_state DEP REGEX SEC: 0 once its state matches
until_state() {
	for _ in $(seq $(($3 * 10))); do
		[[ $(state "$1") =~ $2 ]] && return 0
		sleep 0.1
	done
	return 1
}
ups() { tr -d '\r' < "$NET_DIR/n1.log" | grep -c "pipol-testimg: up"; }
envs() { tr -d '\r' < "$NET_DIR/n1.log" | grep -c "loading the deployment environment"; }

check "n1: BIOS node, blank disk, off" net_node n1 52:54:00:99:00:21 "$T/n1.disk" bios -S
alice deploy -n n1 -i testimg > "$T/d1.out" 2>&1
d1=$(grep -o 'deployment [0-9]*' "$T/d1.out" | cut -d' ' -f2)
until_state "$d1" '^writing$' 180 && ok "deployment 1: writing" || notok "deployment 1: writing"
equal "power cut while writing (pipol node power n1 reset)" "$(pipol node power n1 reset)" "n1: reset"
until_state "$d1" '^(ready|failed)$' 300
equal "after the cut: deployed all the same, ready" "$(state "$d1")" ready
equal "the deploy script twice, then the disk: 2 loads of the environment, 1 system up" \
    "$(envs) $(ups)" "2 1"
equal "states once each, forward only" "$(alice status --json "$d1" | jq -r '.deployments[0].transitions | map(.state) | join(" ")')" \
    "pending booting fetching writing postinstall rebooting ready"
net_node_stop n1
cmp -s -n $((E2E_IMG_EXTRA << 20)) -i $(($(stat -c %s "$T/testimg.raw") - (E2E_IMG_EXTRA << 20))) \
    "$T/testimg.raw" "$T/n1.disk" && ok "every byte past the system is the image's (written after the cut)" ||
    notok "every byte past the system is the image's (written after the cut)"

# a chunk corrupt in the store: a new image sharing testimg's chunks
"$P" image copy testimg bad > /dev/null && "$P" image validate bad:1 > /dev/null &&
    "$P" image promote bad:1 > /dev/null || notok "image copy testimg bad"
big=$(find "$PIPOL_STATE/store/chunks" -type f -printf '%s %p\n' | sort -rn | head -1 | cut -d' ' -f2)
flip_byte "$big" 4000
# a blank disk again (the agent would not fetch a chunk the disk holds)
rm -f "$T/n1.disk" && truncate -s "$(stat -c %s "$T/testimg.raw")" "$T/n1.disk"
check "n1 again, blank disk" net_node n1 52:54:00:99:00:21 "$T/n1.disk" bios -S
alice deploy -n n1 -i bad > "$T/d2.out" 2>&1
d2=$(grep -o 'deployment [0-9]*' "$T/d2.out" | cut -d' ' -f2)
until_state "$d2" '^(ready|failed)' 300
alice status "$d2" > "$T/st2"
grep -qE "failed: chunk [0-9]+ \(offset [0-9]+\): CRC mismatch" "$T/st2" &&
    ok "a corrupt chunk: failed, the chunk named" || { notok "a corrupt chunk: failed, the chunk named"; cat "$T/st2" >&2; }
net_wait n1 "pipol: pipol-agent exited 3" 60 > /dev/null && ok "the agent said why on the console" ||
    notok "the agent said why on the console"
sleep 3	# a reboot would come now: it must not
equal "no reboot: the node keeps the rescue shell" "$(envs) $(ups)" "1 0"
equal "pipol node power n1 reset" "$(pipol node power n1 reset)" "n1: reset"
net_wait n1 "rescue environment \(pipol.rescue=1\)" 120 > /dev/null &&
    ok "next boot: pipold's rescue environment" || notok "next boot: pipold's rescue environment"
equal "... never the disk" "$(ups)" 0
