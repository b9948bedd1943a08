#!/bin/bash
# refimg_boot.sh -- end-to-end test of the Debian 12 reference images
# (imagestore/refimg.sh): each one (bios, uefi, mac) is built (cached after
# the first run), checked on the host without a mount (partition table,
# no SSH host keys, an empty machine-id, root's password locked), given
# the test's SSH key in a copy with debugfs -w (as pipol's post-install
# would), then booted by itself under QEMU: SeaBIOS for bios, OVMF
# (pflash, a copy of OVMF_VARS) for uefi, 32-bit OVMF (ovmf-ia32, the
# first Intel Macs' 32-bit EFI on the 64-bit CPU) for mac, whose IA32
# GRUB enters the 64-bit kernel in EFI mixed mode, then a copy of it
# under OVMF, as a Mac with 64-bit EFI (BOOTX64.EFI). It must reach the
# login prompt on the serial console, then answer SSH as root with the
# key (QEMU user networking, the port forwarded on 127.0.0.1 only):
# uname -r, systemctl is-system-running, host keys and machine-id made at
# boot, the EFI's word size. Prints the times from power-on to the prompt
# and to SSH.
#
# Not in the default suite (make test): a first run debootstraps (about
# 5 minutes), and each boot takes about a minute under TCG. One QEMU at a
# time. Usage: tests/images/refimg_boot.sh [bios] [uefi] [mac]
# (default bios uefi: the mac kind is run by hand)
# (REFIMG_FLAVOUR=generic tests linux-image-amd64.)
. "$(dirname "$0")/../lib.sh"
RI=$TOP/imagestore/refimg.sh
FLAVOUR=${REFIMG_FLAVOUR:-cloud}
BOOT_SEC=300	# to the login prompt; measured 40 s under TCG, 2 cores shared
SSH_SEC=120	# then to a system that has finished starting
QPID=
stop_vm() {
	[ -n "$QPID" ] || return 0
	kill "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null
	QPID=
}
trap 'stop_vm; rm -rf "$T"' EXIT

expect_fail 2 "refimg: no image kind given (bios, uefi or mac)" "$RI"
expect_fail 2 "refimg: arm: not an image kind (bios, uefi, mac)" "$RI" arm "$T/x.img"
expect_fail 2 "refimg: --kernel-flavour rt: not a flavour (cloud, generic)" \
    "$RI" --kernel-flavour rt bios "$T/x.img"
expect_fail 2 "refimg: no OUT given" "$RI" bios
expect_fail 2 "refimg: --bogus: unknown option" "$RI" --bogus bios "$T/x.img"
"$RI" --help | grep -q '^usage: refimg.sh ' && ok "refimg --help" ||
    notok "refimg --help"

ssh-keygen -q -t ed25519 -N '' -C pipol-refimg -f "$T/id"

# vm_ssh PORT CMD: run CMD as root on the VM
vm_ssh() {
	local port=$1; shift
	ssh -F /dev/null -i "$T/id" -p "$port" -o BatchMode=yes \
	    -o IdentitiesOnly=yes -o StrictHostKeyChecking=no \
	    -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null \
	    -o LogLevel=ERROR -o ConnectTimeout=10 root@127.0.0.1 "$@"
}

# elapsed_since NS: seconds since NS (date +%s%N), one decimal
elapsed_since() {
	local ms=$(( ($(date +%s%N) - $1) / 1000000 ))
	echo "$((ms / 1000)).$((ms % 1000 / 100))"
}

# build KIND: the image in $T/KIND.img, its metadata in $T/KIND.meta
build() {
	local kind=$1 t0=$SECONDS
	if ! "$RI" --kernel-flavour "$FLAVOUR" "$kind" "$T/$kind.img" \
	    > "$T/$kind.meta" 2> "$T/$kind.err"; then
		notok "$kind: refimg.sh builds the image"; cat "$T/$kind.err" >&2
		return 1
	fi
	ok "$kind: refimg.sh builds the image in $((SECONDS - t0)) s$(grep -q 'built ' \
	    "$T/$kind.err" || echo ' (cached)')"
	echo "# $kind: $(($(stat -c %s "$T/$kind.img") >> 20)) MiB virtual," \
	    "$(($(du -k "$T/$kind.img" | cut -f1) >> 10)) MiB of data"
}

# mbr_code FILE: the first 440 bytes of FILE but 0x66 and 0x67
mbr_code() { head -c 102 "$1"; head -c 440 "$1" | tail -c +105; }

# check_disk KIND: what is on the disk before it ever boots
check_disk() {
	local kind=$1 want start fs efi
	if [ "$kind" = bios ]; then
		want=$'root=1\nfstype=ext4'
		equal "bios: MBR, partition 1 bootable, Linux" \
		    "$(sfdisk -d "$T/bios.img" | grep -o 'start=.*' | tr -d ' ')" \
		    "start=2048,size=4192256,type=83,bootable"
		# boot.img, its drive check (0x66: jmp) made nop nop as
		# grub-bios-setup does for a hard disk
		cmp -s <(mbr_code /usr/lib/grub/i386-pc/boot.img) <(mbr_code "$T/bios.img") &&
		    [ "$(od -An -tx1 -j 102 -N 2 "$T/bios.img")" = " 90 90" ] &&
		    ok "bios: GRUB's boot.img in the MBR" || notok "bios: GRUB's boot.img in the MBR"
		start=2048
	else
		want=$'esp=1\nroot=2\nfstype=ext4'
		equal "$kind: GPT, ESP then root" \
		    "$(sfdisk -d "$T/$kind.img" | grep -o 'start=.*type=[^,]*' | tr -d ' ')" \
		    "start=2048,size=262144,type=C12A7328-F81F-11D2-BA4B-00A0C93EC3B8
start=264192,size=3928064,type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
		efi=/EFI/BOOT/BOOTX64.EFI
		[ "$kind" = uefi ] || efi="$efi /EFI/BOOT/BOOTIA32.EFI"
		equal "$kind: ESP holds $efi" \
		    "$(MTOOLS_SKIP_CHECK=1 mdir -b -i "$T/$kind.img@@1M" ::/EFI/BOOT 2>/dev/null |
		    sed 's/^:://' | sort -r | tr '\n' ' ')" "$efi "
		start=264192
	fi
	equal "$kind: metadata on stdout" "$(cat "$T/$kind.meta")" "$want"
	fs="$T/$kind.img?offset=$((start * 512))"
	equal "$kind: ext4 label pipolroot" \
	    "$(dumpe2fs -h "$fs" 2>/dev/null | sed -n 's/^Filesystem volume name: *//p')" pipolroot
	equal "$kind: no SSH host key in the image" \
	    "$(debugfs -R 'ls /etc/ssh' "$fs" 2>/dev/null | grep -o 'ssh_host_[a-z0-9_]*' | head -1)" ""
	equal "$kind: /etc/machine-id empty" \
	    "$(debugfs -R 'stat /etc/machine-id' "$fs" 2>/dev/null |
	    grep -o ' Size: [0-9]*' | head -n 1)" " Size: 0"
	equal "$kind: root's password locked" \
	    "$(debugfs -R 'cat /etc/shadow' "$fs" 2>/dev/null | grep '^root:' | cut -d: -f2)" '!*'
	# the post-install's part: root's key, without a mount
	printf 'write %s /root/.ssh/authorized_keys\nsif /root/.ssh/authorized_keys mode 0100600\n' \
	    "$T/id.pub" | debugfs -w -f - "$fs" > /dev/null 2>&1
	debugfs -R 'cat /root/.ssh/authorized_keys' "$fs" 2>/dev/null | cmp -s - "$T/id.pub" &&
	    ok "$kind: key written with debugfs -w" || notok "$kind: key written with debugfs -w"
}

# boot KIND FW IMG: boot the disk IMG alone under FW (bios: SeaBIOS, 64:
# OVMF, 32: 32-bit OVMF), wait for the serial login prompt, log in over
# SSH; stops the VM
boot() {
	local kind=$1 fw=$2 img=$3 name=$1 log=$T/$1-$2.log port fwargs=() t i out
	port=$(free_port)
	[ "$kind" != mac ] || name="$kind (${fw}-bit EFI)"
	if [ "$fw" = 64 ]; then
		cp /usr/share/OVMF/OVMF_VARS_4M.fd "$T/vars.fd"
		fwargs=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"
		    -drive "if=pflash,format=raw,unit=1,file=$T/vars.fd")
	elif [ "$fw" = 32 ]; then
		# as tests/net/testnet.sh's uefi32: Debian builds OVMF32 only
		# with Secure Boot, which needs SMM (no keys: not enforced)
		cp /usr/share/OVMF/OVMF32_VARS_4M.fd "$T/vars.fd"
		fwargs=(-machine smm=on -global driver=cfi.pflash01,property=secure,value=on
		    -drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF32_CODE_4M.secboot.fd"
		    -drive "if=pflash,format=raw,unit=1,file=$T/vars.fd")
	fi
	t=$(date +%s%N)
	timeout $((BOOT_SEC + SSH_SEC + 60)) qemu-system-x86_64 \
	    -machine q35,graphics=off $QEMU_ACCEL -m 512 \
	    -display none -monitor none -serial "file:$log" -no-reboot \
	    "${fwargs[@]}" -drive "if=none,id=d0,file=$img,format=raw" \
	    -device virtio-blk-pci,drive=d0,bootindex=1 \
	    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" \
	    -device virtio-net-pci,netdev=n0 < /dev/null > "$log.qemu" 2>&1 &
	QPID=$!
	for _ in $(seq $((BOOT_SEC * 10))); do
		grep -qa 'login: ' "$log" 2>/dev/null && break
		kill -0 "$QPID" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -qa 'login: ' "$log" 2>/dev/null; then
		notok "$name: login prompt on the serial console"
		tail -5 "$log.qemu" >&2; tr -d '\r' < "$log" | tail -20 >&2
		stop_vm; return 1
	fi
	ok "$name: login prompt on ttyS0 $(elapsed_since "$t") s after power-on"
	for i in $(seq "$SSH_SEC"); do
		vm_ssh "$port" true 2> "$T/ssh.err" && break
		[ "$i" -lt "$SSH_SEC" ] || i=
		sleep 1
	done
	if [ -z "$i" ]; then
		notok "$name: SSH as root with the test's key"
		head -3 "$T/ssh.err" >&2; stop_vm; return 1
	fi
	ok "$name: SSH as root $(elapsed_since "$t") s after power-on"
	out=$(vm_ssh "$port" 'uname -r; timeout 100 systemctl is-system-running --wait;
	    systemctl --failed --plain --no-legend | cut -d" " -f1 | tr "\n" " "; echo;
	    ls /etc/ssh | grep -c "^ssh_host_.*_key$"; wc -c < /etc/machine-id;
	    findmnt -n -o SOURCE,FSTYPE /;
	    cat /sys/firmware/efi/fw_platform_size 2>/dev/null || echo bios;
	    ip -4 -br addr show | grep -c "^e.* UP ";
	    findmnt -n -o FSTYPE /boot/efi || echo none')
	mapfile -t r <<< "$out"
	case ${r[0]:-} in
	*-cloud-amd64) [ "$FLAVOUR" = cloud ] ;;
	*-amd64) [ "$FLAVOUR" = generic ] ;;
	*) false ;;
	esac && ok "$name: uname -r: ${r[0]}" || notok "$name: uname -r: ${r[0]:-}"
	equal "$name: systemctl is-system-running (failed: ${r[2]:-none})" "${r[1]:-}" running
	equal "$name: SSH host keys made at boot (rsa, ecdsa, ed25519)" "${r[3]:-}" 3
	equal "$name: machine-id made at boot" "${r[4]:-}" 33
	equal "$name: root on /dev/vda$([ "$kind" = bios ] && echo 1 || echo 2), ext4" \
	    "${r[5]:-}" "/dev/vda$([ "$kind" = bios ] && echo 1 || echo 2) ext4"
	# the EFI's word size: 32, the 64-bit kernel being in mixed mode
	equal "$name: booted by its firmware ($fw)" "${r[6]:-}" "$fw"
	equal "$name: a NIC up with an address from DHCP" "${r[7]:-}" 1
	equal "$name: /boot/efi" "${r[8]:-}" "$([ "$kind" = bios ] && echo none || echo vfat)"
	stop_vm
}

kinds=${*:-bios uefi}
for kind in $kinds; do
	case $kind in bios|uefi|mac) ;; *) notok "$kind: not an image kind"; continue ;; esac
	build "$kind" || continue
	check_disk "$kind"
	case $kind in
	bios) boot bios bios "$T/bios.img" ;;
	uefi) boot uefi 64 "$T/uefi.img" ;;
	mac)
		# the disk as written, twice: a first Intel Mac (IA32 GRUB),
		# a Mac with 64-bit EFI (BOOTX64.EFI)
		cp --sparse=always "$T/mac.img" "$T/mac64.img"
		boot mac 32 "$T/mac.img"
		boot mac 64 "$T/mac64.img"
		rm -f "$T/mac64.img" ;;
	esac
	rm -f "$T/$kind.img"
done
