#!/bin/bash
# e2e netboot: a netboot-only QEMU node (SeaBIOS and the NIC's iPXE ROM,
# the x86 emulation of a network-only machine) whose disk holds no boot
# loader at all: the test image with its MBR boot code zeroed, and the
# NIC the only boot device (-boot strict=on, the disk without a boot
# index). alice deploys it; the agent uploads the deployed system's
# kernel and initrd to pipold after post-install; iPXE then loads them
# from pipold (netboot.ipxe) with root=UUID= on the local disk; the
# system reports ready and answers SSH; a reset comes back the same way.
# Then an image with no kernel: the deployment fails, saying why.
# Deployed with --no-kexec: the first boot of the deployed system goes
# through pipold's network boot too (e2e_bios tests the kexec hand-over).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/net/testnet.sh"
PROFILE=netboot-only
. "$TOP/tests/net/e2e_lib.sh"
MAC=52:54:00:99:00:21

# no boot loader: the MBR's boot code zeroed, as testimg:2 (current)
dd if=/dev/zero of="$T/testimg.raw" bs=440 count=1 conv=notrunc status=none
equal "the image's MBR boot code is zeroed" "$(head -c 440 "$T/testimg.raw" | tr -d '\0' | wc -c)" 0
"$P" image create testimg --from "$T/testimg.raw" --meta root=2 > /dev/null &&
    "$P" image validate testimg:2 > /dev/null && "$P" image promote testimg:2 > /dev/null &&
    ok "testimg:2, no boot loader, current" || notok "testimg:2, no boot loader, current"

NET_DISK_BOOT= check "n1: netboot-only node, its disk no boot device, off" \
    net_node n1 $MAC "$T/n1.disk" bios -S -boot strict=on
t0=$(date +%s%N)
net_mark n1
alice deploy -n n1 -i testimg --no-kexec --wait --timeout 8m > "$T/deploy.out" 2>&1
rc=$?
equal "deploy --wait: exit 0, ready" "$rc $(grep -c '^n1 *ready' "$T/deploy.out")" "0 1"
[ $rc = 0 ] || { cat "$T/deploy.out" >&2; tr -d '\r' < "$NET_DIR/n1.log" | tail -40 >&2; }
ms=$((($(date +%s%N) - t0) / 1000000))
ok "n1: deploy to ready in $((ms / 1000)).$((ms % 1000 / 100)) s"
dep=$(grep -o 'deployment [0-9]*' "$T/deploy.out" | head -1 | cut -d' ' -f2)
alice status "$dep" > "$T/status"
sed 's/^/# /' "$T/status"
equal "the timeline: every phase, in order" "$(awk 'NR > 2 && $2 != "not" { print $1 }' "$T/status" | tr '\n' ' ')" \
    "created power_on boot_script agent_started written postinstall_done handover ready "
kfetch() { tr -d '\r' < "$NET_DIR/n1.log" | grep -cE "/boot/52(:|%3A)54(:|%3A)00(:|%3A)99(:|%3A)00(:|%3A)21/kernel\.\.\..*ok"; }
con "pipol: n1: loading the deployment environment" && ok "n1: iPXE ran pipold's deploy script" ||
    notok "n1: iPXE ran pipold's deploy script"
con "its kernel from pipold" && equal "n1: the deployed system's kernel fetched from pipold" "$(kfetch)" 1
con "Booting from SAN" && notok "n1: never a boot from the disk" || ok "n1: never a boot from the disk"
con "pipol-testimg: up n1" && ok "n1: the deployed system is up as n1" || notok "n1: the deployed system is up as n1"
con "pipol: ready reported to $NET_URL" && ok "n1: its first boot reported ready" || notok "n1: its first boot reported ready"

equal "ssh root@n1 with alice's key: hostname" "$(sshnode root hostname)" n1
equal "its root by UUID, from pipold's command line" \
    "$(sshnode root 'cat /proc/cmdline' | grep -o 'root=UUID=[0-9a-f-]*')" \
    "root=UUID=50495030-4c00-4000-8000-7465737469d6"

ups() { tr -d '\r' < "$NET_DIR/n1.log" | grep -c "pipol-testimg: up n1"; }
t0=$(date +%s%N)
equal "reset: pipol node power n1 reset" "$(pipol node power n1 reset)" "n1: reset"
for _ in $(seq 1800); do [ "$(ups)" -gt 1 ] && break; sleep 0.1; done
ms=$((($(date +%s%N) - t0) / 1000000))
equal "reset: the deployed system again ($((ms / 1000)).$((ms % 1000 / 100)) s)" "$(ups)" 2
equal "reset: through pipold's boot script and its kernel" "$(bootreqs) $(kfetch)" "3 2"
equal "ssh after the reset" "$(sshnode root hostname)" n1
equal "the deployment stays ready" "$(alice status "$dep" | awk 'NR == 2 { print $4 }')" ready

# an image with no kernel in its root (the links and /boot/vmlinuz-*
# removed from partition 2, 32 MiB at 25 MiB): the deployment fails,
# naming what was searched; the node's next boot is the rescue
dd if="$T/testimg.raw" of="$T/p2" bs=1M skip=25 count=32 status=none
debugfs -R "ls -l /boot" "$T/p2" 2>/dev/null | awk '/vmlinuz-|initrd.img-/ { print "rm /boot/" $NF }' > "$T/rm.cmd"
printf 'rm /vmlinuz\nrm /initrd.img\n' >> "$T/rm.cmd"
debugfs -w -f "$T/rm.cmd" "$T/p2" > /dev/null 2>&1
dd if="$T/p2" of="$T/testimg.raw" bs=1M seek=25 conv=notrunc status=none
equal "testimg:3: no kernel left in its root" "$(debugfs -R "ls /boot" "$T/p2" 2>/dev/null | grep -c vmlinuz)" 0
"$P" image create testimg --from "$T/testimg.raw" --meta root=2 > /dev/null &&
    "$P" image validate testimg:3 > /dev/null && ok "testimg:3, no kernel" || notok "testimg:3, no kernel"
alice deploy -n n1 -i testimg:3 --wait --timeout 8m > "$T/deploy3.out" 2>&1
equal "deploy of an image with no kernel: fails" "$?" 1 || cat "$T/deploy3.out" >&2
dep3=$(grep -o 'deployment [0-9]*' "$T/deploy3.out" | head -1 | cut -d' ' -f2)
alice status --json "$dep3" > "$T/status3.json"
jq -r '.deployments[0].state + " " + .deployments[0].reason' "$T/status3.json" > "$T/reason3"
grep -q "^failed netboot-only: no kernel to boot the deployed system from the network: .*vmlinuz" "$T/reason3" &&
    ok "... failed, the reason naming what was searched" ||
    { notok "... failed, the reason naming what was searched"; cat "$T/reason3" "$T/deploy3.out" >&2; }
net_exec curl -s "$NET_URL/boot/$MAC" | grep -q "rescue environment" &&
    ok "... its next boot: the rescue environment" || notok "... its next boot: the rescue environment"
net_node_stop n1
kill -0 "$DPID" 2>/dev/null && ok "pipold still runs" || notok "pipold still runs"
