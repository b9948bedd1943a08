#!/bin/bash
# cycle.sh MODE: the whole boot path on one node, with the real parts.
# MODE bios: SeaBIOS and the NIC's iPXE ROM, profile pc-bios (run by the
# default suite, tests/shell/e2e_bios.sh); uefi-snp: OVMF's own PXE
# loads snponly.efi over TFTP, profile uefi, as on real UEFI machines
# (make test-e2e). The path:
# alice deploys the test image (tests/images/mkimage.sh, root=2) onto a
# QEMU node with a blank disk; pipold powers it on over QMP; SeaBIOS and
# the NIC's iPXE get the node's static lease from dnsmasq (on pipold's
# pipol.conf) and pipold's deploy script; the deployment environment
# (make bootenv) writes the disk, runs the post-install (hostname,
# alice's key and account, the site's and alice's matching scripts) and
# reboots; iPXE then boots the local disk; the deployed system's first
# boot reports ready; root logs in over SSH with alice's key and finds
# the hostname and the rc script's work. Later resets go through pipold
# again and back to the deployed system (UEFI: the network stays first
# in BootOrder, and leaving iPXE for the disk does not stall in the
# firmware). Times are in the ok lines.
# The hand-over after the write: by kexec (the default, no firmware
# pass: no boot fetch between the write and the deployed system), or
# with CYCLE_DEPLOY_OPTS=--no-kexec (tests/e2e/uefi.sh) the reboot
# through the firmware, iPXE and pipold's local boot script.
MODE=${1:-bios}
DEPLOY_OPTS=${CYCLE_DEPLOY_OPTS:-}
case " $DEPLOY_OPTS " in *" --no-kexec "*) KEXEC=0 ;; *) KEXEC=1 ;; esac
case $MODE in
bios) PROFILE=pc-bios RESETS=1 ;;
uefi-snp) PROFILE=uefi RESETS=1 ;;
*) echo "usage: cycle.sh bios|uefi-snp" >&2; exit 2 ;;
esac
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/net/testnet.sh"
. "$TOP/tests/net/e2e_lib.sh"

# the site's script, and alice's: rc.testimg runs here, rc.debian does not
printf '#!/bin/sh\necho "site: $PIPOL_NODE" > /etc/motd\n' > "$T/10-motd"
printf '#!/bin/sh\necho "rc for $PIPOL_USER on $PIPOL_IMAGE" > /root/rc-ran\necho rc says hello\n' > "$T/rc.testimg"
printf '#!/bin/sh\ntouch /root/never\n' > "$T/rc.debian"
pipol script add "$T/10-motd" --postinstall > /dev/null && alice script add "$T/rc.testimg" > /dev/null &&
    alice script add "$T/rc.debian" > /dev/null && ok "scripts kept" || notok "scripts kept"

check "n1: $MODE node, blank disk, off" net_node n1 52:54:00:99:00:21 "$T/n1.disk" "$MODE" -S
t0=$(date +%s%N)
net_mark n1
alice deploy -n n1 -i testimg $DEPLOY_OPTS --wait --timeout 5m > "$T/deploy.out" 2>&1
rc=$?
equal "deploy --wait: exit 0, ready" "$rc $(grep -c '^n1 *ready' "$T/deploy.out")" "0 1"
[ $rc = 0 ] || { cat "$T/deploy.out" >&2; tr -d '\r' < "$NET_DIR/n1.log" | tail -40 >&2; }
ms=$((($(date +%s%N) - t0) / 1000000))
ok "n1: deploy to ready in $((ms / 1000)).$((ms % 1000 / 100)) s (power-on, PXE, write, post-install, reboot, first boot)"
dep=$(grep -o 'deployment [0-9]*' "$T/deploy.out" | head -1 | cut -d' ' -f2)
alice status --json "$dep" > "$T/status.json"
equal "every state once, in order" "$(jq -r '.deployments[0].transitions | map(.state) | join(" ")' "$T/status.json")" \
    "pending booting fetching writing postinstall rebooting ready"
# the timeline (pipol status ID), for the log: where the minutes go
alice status "$dep" > "$T/status"
sed 's/^/# /' "$T/status"
equal "the timeline: every phase, in order" "$(awk 'NR > 2 && $2 != "not" { print $1 }' "$T/status" | tr '\n' ' ')" \
    "created power_on boot_script agent_started written postinstall_done handover ready "
con "pipol: n1: loading the deployment environment" && ok "n1: iPXE ran pipold's deploy script" ||
    notok "n1: iPXE ran pipold's deploy script"
if [ "$KEXEC" = 1 ]; then
	con "pipol-agent: kexec: handing over to /boot/vmlinuz-" && ok "n1: the agent handed over by kexec" ||
	    { notok "n1: the agent handed over by kexec"; tr -d '\r' < "$NET_DIR/n1.log" | grep -a kexec >&2; }
	equal "n1: no firmware boot between the write and the deployed system (one /boot/MAC, no disk boot)" \
	    "$(bootreqs) $(tr -d '\r' < "$NET_DIR/n1.log" | grep -c "Booting from SAN device 0x80")" "1 0"
	grep -q "^  handover .*  by kexec$" "$T/status" && ok "the timeline: handover by kexec" ||
	    notok "the timeline: handover by kexec"
	equal "the deployment's JSON: kexec on, handover kexec" \
	    "$(jq -r '.deployments[0] | "\(.kexec) \(.handover)"' "$T/status.json")" "true kexec"
elif [ "$MODE" = bios ]; then
	con "Booting from SAN device 0x80" && ok "n1: after the deployment iPXE booted the local disk" ||
	    notok "n1: after the deployment iPXE booted the local disk"
else
	equal "n1: firmware PXE -> snponly.efi -> /boot/MAC, for the deployment and after it" \
	    "$(grep -c "sent /usr/lib/ipxe/snponly.efi to 10.99.0.21" "$NET_DIR/dnsmasq.log") $(bootreqs)" "4 2"
fi
con "pipol-testimg: up n1" && ok "n1: the deployed system is up as n1" || notok "n1: the deployed system is up as n1"
con "pipol: ready reported to $NET_URL" && ok "n1: its first boot reported ready" || notok "n1: its first boot reported ready"

equal "ssh root@n1 with alice's key: hostname" "$(sshnode root hostname)" n1
equal "the rc script's work" "$(sshnode root 'cat /root/rc-ran; cat /etc/motd; ls /root/never 2>&1 | wc -l')" \
    "rc for alice on testimg
site: n1
1"
equal "alice's account and home" "$(sshnode root 'grep ^alice: /etc/passwd | cut -d: -f3,6; ls -d /home/alice')" \
    "10002:/home/alice
/home/alice"
equal "the hook removed itself and its token" "$(sshnode root 'find /etc/pipol /etc/local.d ! -type d 2>/dev/null | grep -c .')" 0
alice log "$dep" > "$T/log"
pipol log "$dep" > "$T/log.admin"
! grep -q "10-motd" "$T/log" && grep -q "^==> rc.testimg: exit 0" "$T/log" &&
    grep -qx "rc says hello" "$T/log" && ! grep -q rc.debian "$T/log" &&
    grep -q "^==> 10-motd: exit 0" "$T/log.admin" &&
    ok "pipol log: the scripts that ran, their output (the site's for admins only)" ||
    { notok "pipol log: the scripts that ran, their output (the site's for admins only)"; cat "$T/log" "$T/log.admin" >&2; }

# later boots still go through pipold, and back to the deployed system
ups() { tr -d '\r' < "$NET_DIR/n1.log" | grep -c "pipol-testimg: up n1"; }
for i in $(seq "$RESETS"); do
	t0=$(date +%s%N)
	equal "reset $i: pipol node power n1 reset" "$(pipol node power n1 reset)" "n1: reset"
	for _ in $(seq 1200); do [ "$(ups)" -gt "$i" ] && break; sleep 0.1; done
	ms=$((($(date +%s%N) - t0) / 1000000))
	equal "reset $i: the deployed system again ($((ms / 1000)).$((ms % 1000 / 100)) s)" "$(ups)" $((i + 1))
	if [ "$MODE" = bios ]; then
		equal "reset $i: through pipold's local boot script" \
		    "$(tr -d '\r' < "$NET_DIR/n1.log" | grep -c "Booting from SAN device 0x80")" $((i + 1 - KEXEC))
	else
		equal "reset $i: through PXE, iPXE and pipold's local boot script" \
		    "$(bootreqs)" $((i + 2 - KEXEC))
		# what keeps OVMF from stalling ~60 s in HTTP boot on its
		# way to the disk: pipol.conf answers it with a URL that fails
		[ "$(grep -c "bootfile-name  $NET_URL/no-http-boot" "$NET_DIR/dnsmasq.log")" -ge $((i + 1)) ] &&
		    ok "reset $i: OVMF's HTTP boot answered by pipol.conf, fails at once" ||
		    notok "reset $i: OVMF's HTTP boot answered by pipol.conf, fails at once"
	fi
done
equal "the deployment stays ready" "$(alice status "$dep" | awk 'NR == 2 { print $4 }')" ready

# the end: alice releases her reservation; pipold parks the node and
# powers it off through QMP (QEMU exits) at its next tick; SSH fails
rid=$(grep -o '(reservation [0-9]*)' "$T/deploy.out" | head -1 | tr -dc 0-9)
qpid=${NET_PIDS[n1]}
running() { local s; s=$(ps -o stat= -p "$qpid" 2>/dev/null); [ -n "$s" ] && [ "${s#Z}" = "$s" ]; }
t0=$(date +%s%N)
equal "alice releases reservation $rid" "$(alice release "$rid")" "reservation $rid released"
for _ in $(seq 300); do running || break; sleep 0.1; done
ms=$((($(date +%s%N) - t0) / 1000000))
! running && ok "n1: powered off after the release ($((ms / 1000)).$((ms % 1000 / 100)) s)" ||
    notok "n1: powered off after the release"
sshnode root true > /dev/null && notok "ssh root@n1 fails once it is off" || ok "ssh root@n1 fails once it is off"
net_exec curl -s "$NET_URL/boot/52:54:00:99:00:21" | grep -q 'parked' &&
    ok "n1: parked: its next boot gets the park script, not its disk" ||
    notok "n1: parked: its next boot gets the park script, not its disk"
net_node_stop n1
kill -0 "$DPID" 2>/dev/null && ok "pipold still runs" || notok "pipold still runs"
