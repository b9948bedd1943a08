#!/bin/bash
# e2e mac: a mac-efi32 node, emulated by 32-bit OVMF on the 64-bit CPU
# (the first Intel Macs' situation: 32-bit EFI firmware, Core 2 CPUs).
# The whole path: firmware PXE (client architecture 6) -> pipold's IA32
# GRUB over TFTP -> its grub.cfg -> pipold's /grub/MAC deploy script over
# HTTP -> the 64-bit deployment kernel by the EFI handover (mixed mode)
# -> the agent writes the GPT test image (mkimage --layout mac), keeps the
# network first in BootOrder and writes Apple's efi-boot-device -> the
# reboot goes PXE -> GRUB -> pipold's local script -> the disk's
# BOOTIA32.EFI -> the deployed system, ready, SSH; a reset goes through
# pipold again and back to it.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/net/testnet.sh"
PROFILE=mac-efi32
E2E_LAYOUT=mac
E2E_TFTP=$T/tftp
mkdir -p "$E2E_TFTP"
cp /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/snponly.efi "$E2E_TFTP/"
. "$TOP/tests/net/e2e_lib.sh"

[ -s "$E2E_TFTP/pipol-grub/ia32.efi" ] && ok "pipold made the IA32 GRUB under its TFTP root" ||
    { notok "pipold made the IA32 GRUB under its TFTP root"; cat "$T/pipold.log" >&2; }
check "n1: uefi32 node (32-bit OVMF), blank disk, off" net_node n1 52:54:00:99:00:21 "$T/n1.disk" uefi32 -S
t0=$(date +%s%N)
net_mark n1
alice deploy -n n1 -i testimg --wait --timeout 15m > "$T/deploy.out" 2>&1
rc=$?
equal "deploy --wait: exit 0, ready" "$rc $(grep -c '^n1 *ready' "$T/deploy.out")" "0 1"
[ $rc = 0 ] || { cat "$T/deploy.out" >&2; tr -d '\r' < "$NET_DIR/n1.log" | tail -40 >&2; }
ms=$((($(date +%s%N) - t0) / 1000000))
ok "n1: deploy to ready in $((ms / 1000)).$((ms % 1000 / 100)) s (32-bit OVMF, PXE, IA32 GRUB, mixed mode, write, reboot, first boot)"
dep=$(grep -o 'deployment [0-9]*' "$T/deploy.out" | head -1 | cut -d' ' -f2)
grep -q "sent $E2E_TFTP/pipol-grub/ia32.efi to 10.99.0.21" "$NET_DIR/dnsmasq.log" &&
    ok "n1: its firmware (client architecture 6) got the IA32 GRUB" ||
    notok "n1: its firmware (client architecture 6) got the IA32 GRUB"
con "pipol: n1: loading the deployment environment from $NET_URL" &&
    ok "n1: GRUB ran pipold's deploy script (/grub/MAC)" || notok "n1: GRUB ran pipold's deploy script (/grub/MAC)"
con "pipol-agent: BootOrder: the network is first" &&
    ok "n1: the 64-bit deployment kernel, entered by the EFI handover, reads EFI variables (BootOrder)" ||
    notok "n1: the 64-bit deployment kernel, entered by the EFI handover, reads EFI variables (BootOrder)"
pipol log "$dep" > "$T/log.admin"
grep -q "efi-boot-device: PXE from eth0 (52:54:00:99:00:21), as bless --netboot sets it" "$T/log.admin" &&
    ok "the agent wrote Apple's efi-boot-device for n1's card" ||
    { notok "the agent wrote Apple's efi-boot-device for n1's card"; cat "$T/log.admin" >&2; }
# in the firmware's own NVRAM (OVMF keeps the variable store in n1.vars)
LC_ALL=C grep -qaP 'e\x00f\x00i\x00-\x00b\x00o\x00o\x00t\x00-\x00d\x00e\x00v\x00i\x00c\x00e\x00' "$NET_DIR/n1.vars" &&
    ok "efi-boot-device is in n1's NVRAM" || notok "efi-boot-device is in n1's NVRAM"
con "pipol: n1: booting the local disk" && con "pipol-testimg: IA32 GRUB" &&
    ok "n1: after the deployment, PXE -> GRUB -> pipold's local script -> the disk's BOOTIA32.EFI" ||
    notok "n1: after the deployment, PXE -> GRUB -> pipold's local script -> the disk's BOOTIA32.EFI"
con "pipol-testimg: up n1" && ok "n1: the deployed system is up as n1" || notok "n1: the deployed system is up as n1"

equal "ssh root@n1 with alice's key: hostname, 32-bit EFI" \
    "$(sshnode root 'hostname; cat /sys/firmware/efi/fw_platform_size' | tr '\n' ' ')" "n1 32 "

locals() { tr -d '\r' < "$NET_DIR/n1.log" | grep -c "pipol: n1: booting the local disk"; }
ups() { tr -d '\r' < "$NET_DIR/n1.log" | grep -c "pipol-testimg: up n1"; }
t0=$(date +%s%N)
equal "reset: pipol node power n1 reset" "$(pipol node power n1 reset)" "n1: reset"
for _ in $(seq 3000); do [ "$(ups)" -gt 1 ] && break; sleep 0.1; done
ms=$((($(date +%s%N) - t0) / 1000000))
equal "reset: the deployed system again ($((ms / 1000)).$((ms % 1000 / 100)) s)" "$(ups)" 2
equal "reset: through PXE, GRUB and pipold's local script" "$(locals)" 2
equal "the deployment stays ready" "$(alice status "$dep" | awk 'NR == 2 { print $4 }')" ready
net_node_stop n1
kill -0 "$DPID" 2>/dev/null && ok "pipold still runs" || notok "pipold still runs"
