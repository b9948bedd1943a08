#!/bin/bash
# testimg: tests/images/mkimage.sh builds the bootable test image (cached,
# byte for byte the same when rebuilt), edits a copy without mounting it
# (hostname, root's authorized_keys), and that disk boots by itself
# through syslinux, with no network boot: under SeaBIOS and under OVMF
# (UEFI, pflash with a copy of OVMF_VARS), to its console marker; then
# root logs in over SSH with the test's key (QEMU user networking, the
# port forwarded on 127.0.0.1 only) and finds the hostname set, the root
# on /dev/vda2 and the firmware it was booted by. --layout mac: a GPT
# disk whose ESP boots through an IA32 GRUB, under 32-bit OVMF on the
# 64-bit CPU (the first Intel Macs' firmware), the kernel by mixed mode.
. "$(dirname "$0")/../lib.sh"
MK=$TOP/tests/images/mkimage.sh
CACHE=${PIPOL_CACHE:-/var/cache/pipol}
BOOT_SEC=90	# to the marker; measured 5 s (BIOS), 10 s (UEFI) under TCG
QPID=
stop_vm() { [ -n "$QPID" ] && kill "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null; QPID=; }
trap 'stop_vm; rm -rf "$T"' EXIT

expect_fail 2 "mkimage: no OUT given" "$MK"
expect_fail 2 "mkimage: --hostname a_b: letters, digits, '-' and '.' only" \
    "$MK" "$T/x.img" --hostname a_b
expect_fail 2 "mkimage: --modules goes with --kernel" "$MK" "$T/x.img" --modules /lib
expect_fail 6 "mkimage: $T/nokey: no such file" "$MK" "$T/x.img" --authorized-keys "$T/nokey"
"$MK" --help | grep -q '^usage: mkimage.sh OUT' && ok "mkimage --help" || notok "mkimage --help"

t0=$SECONDS
if ! "$MK" "$T/base.img" 2> "$T/mk.err"; then
	notok "mkimage builds the image"; cat "$T/mk.err" >&2; exit 1
fi
ok "mkimage builds the image ($((SECONDS - t0)) s$(grep -q built "$T/mk.err" || echo ', cached'))"
equal "image size: 57 MiB" "$(stat -c %s "$T/base.img")" $((57 << 20))
equal "partitions: FAT16 bootable at 1 MiB, Linux at 25 MiB" \
    "$(sfdisk -d "$T/base.img" | grep -o 'start=.*' | tr -d ' ')" \
    "start=2048,size=49152,type=6,bootable
start=51200,size=65536,type=83"
export MTOOLS_SKIP_CHECK=1
equal "FAT: syslinux for BIOS, syslinux.efi for UEFI, kernel, initramfs" \
    "$(mdir -a -b -i "$T/base.img@@1M" ::/ ::/EFI/BOOT 2>/dev/null | sort | tr '\n' ' ')" \
    "::/EFI/ ::/EFI/BOOT/BOOTX64.EFI ::/EFI/BOOT/ldlinux.e64 ::/EFI/BOOT/syslinux.cfg ::/initrd.img ::/ldlinux.c32 ::/ldlinux.sys ::/syslinux.cfg ::/vmlinuz "
fs="$T/base.img?offset=$((25 << 20))"
equal "ext4: /sbin/init is busybox" "$(debugfs -R 'stat /sbin/init' "$fs" 2>/dev/null |
    grep -o 'Fast link dest: .*')" 'Fast link dest: "/bin/busybox"'
debugfs -R 'ls -l /usr/sbin' "$fs" 2>/dev/null | grep -q ' dropbear$' &&
    ok "ext4: dropbear" || notok "ext4: dropbear"
equal "ext4: /vmlinuz and /initrd.img link into /boot, as on Debian" \
    "$(for f in /vmlinuz /initrd.img; do debugfs -R "stat $f" "$fs" 2>/dev/null |
    grep -o 'Fast link dest: .*'; done | sed 's/-[0-9].*-cloud-amd64"/-V"/')" \
    'Fast link dest: "boot/vmlinuz-V"
Fast link dest: "boot/initrd.img-V"'
same "ext4: the kernel in /boot is the one syslinux boots" \
    <(debugfs -R "cat /boot/$(debugfs -R 'ls /boot' "$fs" 2>/dev/null | grep -o 'vmlinuz-[^ ]*' | head -1)" "$fs" 2>/dev/null) \
    <(mcopy -n -i "$T/base.img@@1M" ::/vmlinuz - 2>/dev/null)
equal "ext4: /etc/kernel/cmdline" "$(debugfs -R 'cat /etc/kernel/cmdline' "$fs" 2>/dev/null)" \
    "console=ttyS0,115200 rw panic=-1 quiet"

# a rebuild from the same inputs gives the same bytes: a private cache
# holding the same downloaded .debs (no network), nothing else
mkdir -p "$T/cache/testimg/debs"
ln "$CACHE"/testimg/debs/*.deb "$T/cache/testimg/debs/" 2>/dev/null ||
    cp "$CACHE"/testimg/debs/*.deb "$T/cache/testimg/debs/"
t0=$SECONDS
PIPOL_CACHE=$T/cache "$MK" "$T/again.img" 2> "$T/mk.err" || cat "$T/mk.err" >&2
same "rebuilt from scratch: the same bytes ($((SECONDS - t0)) s)" "$T/base.img" "$T/again.img"
rm -rf "$T/cache" "$T/again.img"

ssh-keygen -q -t ed25519 -N '' -C pipol-testimg -f "$T/id"
t0=$SECONDS
check "mkimage --hostname --authorized-keys" \
    "$MK" "$T/disk.img" --hostname pipol-t1 --authorized-keys "$T/id.pub"
[ $((SECONDS - t0)) -le 10 ] && ok "cached: a copy in $((SECONDS - t0)) s" ||
    notok "cached: a copy in $((SECONDS - t0)) s"
fs="$T/disk.img?offset=$((25 << 20))"
equal "edited without a mount: /etc/hostname" \
    "$(debugfs -R 'cat /etc/hostname' "$fs" 2>/dev/null)" pipol-t1
equal "edited without a mount: authorized_keys, mode 0600" \
    "$(debugfs -R 'stat /root/.ssh/authorized_keys' "$fs" 2>/dev/null |
    grep -o 'Mode: *[0-7]*')" "Mode:  0600"
cmp -s <(head -c $((25 << 20)) "$T/base.img") <(head -c $((25 << 20)) "$T/disk.img") &&
    ok "edits touch the ext4 partition only" || notok "edits touch the ext4 partition only"

# boot FW [DISK]: boot DISK (disk.img) alone (bios, uefi, or uefi32:
# 32-bit OVMF, which Debian builds with Secure Boot only: SMM, no keys),
# wait for the marker, log in over SSH; leaves the VM running (QPID),
# prints the seconds taken
boot() {
	local fw=$1 disk=${2:-$T/disk.img} log=$T/$1.log port fwargs=() t want mem=256
	port=$(free_port)
	if [ "$fw" = uefi ]; then
		cp /usr/share/OVMF/OVMF_VARS_4M.fd "$T/vars.fd"
		fwargs=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"
		    -drive "if=pflash,format=raw,unit=1,file=$T/vars.fd")
	elif [ "$fw" = uefi32 ]; then
		# 256 MiB: the kernel, entered by mixed mode, restarts the
		# machine at once (seen); 512 boots
		mem=512
		cp /usr/share/OVMF/OVMF32_VARS_4M.fd "$T/vars.fd"
		fwargs=(-machine smm=on -global driver=cfi.pflash01,property=secure,value=on
		    -drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF32_CODE_4M.secboot.fd"
		    -drive "if=pflash,format=raw,unit=1,file=$T/vars.fd")
	fi
	t=$(date +%s%N)
	timeout $((BOOT_SEC + 60)) qemu-system-x86_64 -machine q35,graphics=off \
	    $QEMU_ACCEL -m "$mem" -display none -monitor none \
	    -serial "file:$log" -no-reboot "${fwargs[@]}" \
	    -drive "if=none,id=d0,file=$disk,format=raw" \
	    -device virtio-blk-pci,drive=d0,bootindex=1 \
	    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" \
	    -device virtio-net-pci,netdev=n0 < /dev/null > "$T/$fw.qemu" 2>&1 &
	QPID=$!
	for _ in $(seq $((BOOT_SEC * 10))); do
		grep -q 'pipol-testimg: up' "$log" 2>/dev/null && break
		kill -0 "$QPID" 2>/dev/null || break
		sleep 0.1
	done
	t=$(( ($(date +%s%N) - t) / 1000000 ))
	if ! grep -q 'pipol-testimg: up' "$log" 2>/dev/null; then
		notok "$fw: booted to the marker"
		tail -5 "$T/$fw.qemu" >&2; tr -d '\r' < "$log" | tail -15 >&2
		return 1
	fi
	ok "$fw: booted from its disk to 'pipol-testimg: up' in $((t / 1000)).$((t % 1000 / 100)) s"
	grep -qx 'pipol-testimg: up pipol-t1' <(tr -d '\r' < "$log") &&
	    ok "$fw: the marker names the hostname" || notok "$fw: the marker names the hostname"
	for _ in 1 2 3; do
		ssh -F /dev/null -i "$T/id" -p "$port" -o BatchMode=yes \
		    -o IdentitiesOnly=yes -o StrictHostKeyChecking=no \
		    -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null \
		    -o LogLevel=ERROR -o ConnectTimeout=20 root@127.0.0.1 \
		    'hostname; grep " / " /proc/mounts | cut -d" " -f1-3;
		     [ -d /sys/firmware/efi ] && echo uefi || echo bios;
		     cat /sys/firmware/efi/fw_platform_size 2>/dev/null' \
		    > "$T/ssh.out" 2> "$T/ssh.err" && break
		sleep 2
	done
	case $fw in bios) want=bios ;; uefi) want="uefi 64" ;; uefi32) want="uefi 32" ;; esac
	equal "$fw: ssh root@ with the test's key: hostname, root, firmware (and its width)" \
	    "$(tr '\n' ' ' < "$T/ssh.out")" "pipol-t1 /dev/vda2 / ext4 $want "
	[ -s "$T/ssh.err" ] && head -3 "$T/ssh.err" >&2
	stop_vm
}
boot bios
boot uefi
grep -q 'SYSLINUX 6.04' "$T/bios.log" && ok "bios: through syslinux" ||
    notok "bios: through syslinux"

# --layout mac: GPT, the ESP's IA32 GRUB, the same root; edited the same
expect_fail 2 "mkimage: --layout ppc: mbr or mac" "$MK" "$T/x.img" --layout ppc
check "mkimage --layout mac --hostname --authorized-keys" \
    "$MK" "$T/mac.img" --layout mac --hostname pipol-t1 --authorized-keys "$T/id.pub"
equal "mac: 58 MiB (the GPT's backup at the end)" "$(stat -c %s "$T/mac.img")" $((58 << 20))
equal "mac: GPT, an ESP at 1 MiB, Linux at 25 MiB, fixed GUIDs" \
    "$(sfdisk -d "$T/mac.img" | sed -n 's/.*: start= *\([0-9]*\), size= *\([0-9]*\), type=\([^,]*\), uuid=\([^,]*\).*/\1 \2 \3 \4/p; s/^label: //p')" \
    "gpt
2048 49152 C12A7328-F81F-11D2-BA4B-00A0C93EC93B 50495030-4C00-4000-8000-6D6163000001
51200 65536 0FC63DAF-8483-4772-8E79-3D69D8477DE4 50495030-4C00-4000-8000-6D6163000002"
equal "mac: the ESP holds BOOTIA32.EFI, the kernel, the initramfs, no syslinux" \
    "$(mdir -a -b -i "$T/mac.img@@1M" ::/ ::/EFI/BOOT 2>/dev/null | sort | tr '\n' ' ')" \
    "::/EFI/ ::/EFI/BOOT/BOOTIA32.EFI ::/initrd.img ::/vmlinuz "
mcopy -n -i "$T/mac.img@@1M" ::/EFI/BOOT/BOOTIA32.EFI "$T/ia32.efi" 2>/dev/null
pe=$(od -An -tu4 -j60 -N4 "$T/ia32.efi" 2>/dev/null | tr -d ' ')
equal "mac: BOOTIA32.EFI is a PE32 for i386" \
    "$(od -An -tx1 -j"${pe:-0}" -N6 "$T/ia32.efi" 2>/dev/null | tr -d ' \n')" 504500004c01
check "mkimage --layout mac, no edits" "$MK" "$T/mac0.img" --layout mac
cmp -s <(tail -c +$(((25 << 20) + 1)) "$T/base.img" | head -c $((32 << 20))) \
    <(tail -c +$(((25 << 20) + 1)) "$T/mac0.img" | head -c $((32 << 20))) &&
    ok "mac: the same root partition as the MBR layout's" || notok "mac: the same root partition as the MBR layout's"
rm -f "$T/mac0.img"
boot uefi32 "$T/mac.img"
grep -q 'pipol-testimg: IA32 GRUB' "$T/uefi32.log" && ok "uefi32: through the ESP's IA32 GRUB" ||
    notok "uefi32: through the ESP's IA32 GRUB"
