#!/bin/bash
# kernel.sh -- pipol-agent kernel on small system trees: what it prints
# for a GRUB configuration, for /vmlinuz links; its exit statuses and
# one-line errors for no kernel, a bad --uuid, a missing --root. The
# cases of kernel_find itself are tests/unit/kernel_find_test.c's.
. "$(dirname "$0")/../lib.sh"
A=$B/pipol-agent
U=0b2d8a5e-1c3f-4e5a-9b7c-6d8e9f0a1b2c

r=$T/grub
mkdir -p "$r/boot/grub" "$r/etc"
echo k > "$r/boot/vmlinuz-6.1.0-13-amd64"
echo i > "$r/boot/initrd.img-6.1.0-13-amd64"
echo k > "$r/boot/vmlinuz-6.1.0-12-amd64"
cat > "$r/boot/grub/grub.cfg" <<'CFG'
set default="1>0"
menuentry 'Debian GNU/Linux' --id simple {
	linux	/boot/vmlinuz-6.1.0-13-amd64 root=/dev/sda1 ro quiet
	initrd	/boot/initrd.img-6.1.0-13-amd64
}
submenu 'Advanced options' {
	menuentry 'with Linux 6.1.0-12-amd64' {
		linux	/boot/vmlinuz-6.1.0-12-amd64 root=/dev/sda1 ro single
	}
}
CFG
out=$("$A" kernel --root "$r" --uuid $U)
equal "GRUB 1>0" "$out" "kernel  /boot/vmlinuz-6.1.0-12-amd64
cmdline root=UUID=$U ro single
from    GRUB entry \"with Linux 6.1.0-12-amd64\""

r=$T/links
mkdir -p "$r/boot" "$r/etc"
echo k > "$r/boot/vmlinuz-5.10.0-9-amd64"
echo i > "$r/boot/initrd.img-5.10.0-9-amd64"
ln -s /boot/vmlinuz-5.10.0-9-amd64 "$r/vmlinuz"
ln -s boot/initrd.img-5.10.0-9-amd64 "$r/initrd.img"
echo "UUID=$U / ext4 defaults 0 1" > "$r/etc/fstab"
out=$("$A" kernel --root "$r")
equal "/vmlinuz links, the UUID from fstab" "$out" "kernel  /boot/vmlinuz-5.10.0-9-amd64
initrd  /boot/initrd.img-5.10.0-9-amd64
cmdline root=UUID=$U ro
from    links"

mkdir -p "$T/none/boot"
ln -s /etc/hostname "$T/none/vmlinuz"
expect_fail 3 "pipol-agent: $T/none: no kernel: no grub.cfg entry, no /vmlinuz, nothing in /boot" \
    "$A" kernel --root "$T/none"
"$A" kernel --root "$T/none" --verbose 2> "$T/err"
grep -qF "kernel: /vmlinuz: no such file inside the image: trying /boot/vmlinuz-*" "$T/err" &&
    ok "--verbose: why /vmlinuz gave nothing" || notok "--verbose: why /vmlinuz gave nothing"
expect_fail 2 "pipol-agent: --uuid \$(reboot): not a filesystem UUID" \
    "$A" kernel --root "$r" --uuid '$(reboot)'
expect_fail 2 "pipol-agent: --root is needed" "$A" kernel
expect_fail 2 "pipol-agent: --root $T/nowhere: No such file or directory" \
    "$A" kernel --root "$T/nowhere"
