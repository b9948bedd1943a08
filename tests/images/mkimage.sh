#!/bin/bash
# mkimage.sh -- the small bootable test image for the end-to-end tests: a
# raw MBR disk that boots through a real bootloader, under SeaBIOS and
# under OVMF, into a BusyBox system with an SSH server.
#
#   sector 0      syslinux's mbr.bin (BIOS), disk id 0x5049504f
#   partition 1   FAT16 "PIPOLBOOT", 24 MiB at 1 MiB, bootable:
#                   ldlinux.sys + syslinux.cfg    syslinux, BIOS
#                   EFI/BOOT/BOOTX64.EFI          syslinux.efi, UEFI
#                   vmlinuz, initrd.img           Debian's cloud kernel and
#                     a tiny initramfs: the virtio modules (the cloud
#                     kernel has them as modules; ext4 is built in),
#                     then switch_root to root=/dev/vda2
#   partition 2   ext4 "pipolroot", 32 MiB at 25 MiB: busybox-static,
#                   the same kernel and initramfs as Debian lays them out
#                   (/boot/vmlinuz-VERSION, /boot/initrd.img-VERSION, the
#                   /vmlinuz and /initrd.img links, /etc/kernel/cmdline):
#                   what the agent finds to boot it from the network
#                   (netboot-only nodes) or by kexec,
#                   /sbin/init = busybox init; rcS brings up eth0 by DHCP
#                   (udhcpc), starts dropbear on port 22, writes
#                   "pipol-testimg: up HOSTNAME" on the console, then
#                   runs /etc/local.d/*.start (pipol's first-boot hook);
#                   /var/lib/dpkg/status lists the Debian packages it was
#                   made of (BusyBox's dpkg can install more)
#
# Built without loop devices or mounts (mkfs.vfat -C, syslinux --install
# and mcopy through mtools, mkfs.ext4 -d, sfdisk and dd on a file), and
# byte for byte reproducible: fixed ids, seeds and timestamps. The kernel
# and busybox-static come from Debian's mirror with apt-get download (not
# installed: the kernel package would pull initramfs-tools and write
# /boot; busybox-static conflicts with the busybox package). The .debs
# and the built image are cached under ${PIPOL_CACHE:-/var/cache/pipol}/
# testimg; an image is rebuilt only when this script or one of its inputs
# (the packages' versions, the --kernel file) changes.
#
# --layout mac (mac-efi32 nodes: 32-bit EFI on a 64-bit CPU): a GPT
# disk instead (disk GUID and partition GUIDs fixed), partition 1 an ESP
# (the same FAT, label PIPOLBOOT) holding vmlinuz, initrd.img and
# /EFI/BOOT/BOOTIA32.EFI: an IA32 GRUB (grub-mkimage -O i386-efi) whose
# embedded configuration enters the 64-bit kernel through the EFI
# handover (linuxefi: mixed mode), root=/dev/vda2; partition 2 the
# same ext4 root. No syslinux, no MBR code. Cached and reproducible as
# the MBR layout is.
#
# --hostname and --authorized-keys edit OUT (a copy of the cached image)
# with debugfs -w, as a post-install would: no mount either.
set -eu

USAGE="usage: mkimage.sh OUT [--kernel VMLINUZ [--modules DIR]] [--hostname NAME] [--authorized-keys FILE] [--layout mbr|mac]"
usage() {
	cat <<EOF
$USAGE
Write the bootable test disk image (57 MiB, raw; 58 with --layout mac) to OUT.
  --kernel VMLINUZ       boot this kernel instead of Debian's
                         linux-image-cloud-amd64 (downloaded and cached)
  --modules DIR          its lib/modules/VERSION folder (with modules.dep),
                         for the virtio modules; without it they must be
                         built in
  --hostname NAME        /etc/hostname in OUT (default pipol-testimg)
  --authorized-keys FILE /root/.ssh/authorized_keys in OUT
  --layout mbr|mac       mbr (default): syslinux for BIOS and x86-64 UEFI;
                         mac: GPT, an ESP booting through an IA32 GRUB
                         (32-bit EFI, mixed mode), for mac-efi32 nodes
Cache: \${PIPOL_CACHE:-/var/cache/pipol}/testimg. Needs root (apt-get).
EOF
}
die() { echo "mkimage: $*" >&2; exit 1; }
# usage_err MESSAGE: exit 2, the message and the usage line
usage_err() { echo "mkimage: $*" >&2; echo "$USAGE" >&2; exit 2; }
notfound() { echo "mkimage: $*" >&2; exit 6; }

out= kernel= modules= hostname= keys= layout=mbr
while [ $# -gt 0 ]; do
	case $1 in
	-h|--help) usage; exit 0 ;;
	--kernel|--modules|--hostname|--authorized-keys|--layout)
		[ $# -ge 2 ] || usage_err "$1: needs a value"
		case $1 in
		--kernel) kernel=$2 ;; --modules) modules=$2 ;;
		--hostname) hostname=$2 ;; --authorized-keys) keys=$2 ;;
		--layout) layout=$2 ;;
		esac
		shift 2 ;;
	-*) usage_err "$1: unknown option" ;;
	*) [ -z "$out" ] || usage_err "$1: one OUT only"; out=$1; shift ;;
	esac
done
[ -n "$out" ] || usage_err "no OUT given"
case $layout in mbr|mac) ;; *) usage_err "--layout $layout: mbr or mac" ;; esac
[ -z "$modules" ] || [ -n "$kernel" ] || usage_err "--modules goes with --kernel"
case $out$kernel$modules$keys in
*\"*) usage_err "a path with a '\"' in it: debugfs would misread it" ;;
esac
case $hostname in
*[!a-zA-Z0-9.-]*|-*) usage_err "--hostname $hostname: letters, digits, '-' and '.' only" ;;
esac
[ -z "$kernel" ] || [ -f "$kernel" ] || notfound "$kernel: no such file"
[ -z "$modules" ] || [ -d "$modules" ] || notfound "$modules: no such folder"
[ -z "$keys" ] || [ -f "$keys" ] || notfound "$keys: no such file"
[ "$(id -u)" = 0 ] || die "must run as root (apt-get download, mknod)"

SELF=$(readlink -f "$0")
CACHE=${PIPOL_CACHE:-/var/cache/pipol}/testimg
EPOCH=1262304000	# 2010-01-01: every timestamp in the image
UUID=50495030-4c00-4000-8000-7465737469d6	# ext4 uuid and hash seed
# --layout mac: the GPT's disk GUID and partition GUIDs, the IA32 GRUB
GPT_DISK=50495030-4c00-4000-8000-6d6163000000
GPT_P1=50495030-4c00-4000-8000-6d6163000001
GPT_P2=50495030-4c00-4000-8000-6d6163000002
GRUB32=/usr/lib/grub/i386-efi
KMOD=("virtio_pci" "virtio_blk" "virtio_net")	# for /dev/vda and eth0
# partition layout in MiB
P1_START=1 P1_MIB=24 P2_START=25 P2_MIB=32 DISK_MIB=57

mkdir -p "$CACHE/debs"
exec 9>"$CACHE/lock"
flock 9		# one builder at a time; the others then find it cached

# resolve: busybox-static's candidate version (bver) and the kernel
# package the metapackage names today, "PACKAGE VERSION" (kdep): its ABI
# number changes with point releases. One apt-cache call (1 s each).
resolve() {
	apt-cache show --no-all-versions linux-image-cloud-amd64 \
	    busybox-static > "$CACHE/apt.tmp" 2>/dev/null || true
	bver=$(awk '/^Package: busybox-static$/ { p = 1 }
	    p && /^Version: / { print $2; exit }' "$CACHE/apt.tmp")
	kdep=$(sed -n 's/^Depends: \(linux-image-[^ ]*-cloud-amd64\) (= \([^)]*\)).*/\1 \2/p' \
	    "$CACHE/apt.tmp" | head -1)
	rm -f "$CACHE/apt.tmp"
}

# fetch PKG VERSION: the cached .deb of PKG, downloaded once
fetch() {
	local pkg=$1 ver=$2 d
	[ -n "$ver" ] || return 1
	d=$CACHE/debs/${pkg}_${ver//:/%3a}_amd64.deb
	if [ ! -s "$d" ]; then
		rm -rf "$CACHE/debs/tmp"; mkdir "$CACHE/debs/tmp"
		( cd "$CACHE/debs/tmp" &&
		  apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver" \
		      > /dev/null 2>&1 ) || return 1
		mv "$CACHE/debs/tmp/"*.deb "$d"
		rmdir "$CACHE/debs/tmp"
	fi
	echo "$d"
}

# get_debs: bdeb and, without --kernel, kdeb and kpkg
get_debs() {
	bdeb=$(fetch busybox-static "$bver") || return 1
	[ -z "$kernel" ] || return 0
	kpkg=${kdep% *}
	kdeb=$(fetch "$kpkg" "${kdep#* }")
}

t0=$SECONDS
resolve
if ! get_debs; then
	# stale package lists (a point release came): once more, updated
	apt-get update -qq > /dev/null 2>&1 || true
	resolve
	if ! get_debs; then
		# offline: what the cache has, newest first
		bdeb=$(ls -t "$CACHE"/debs/busybox-static_*.deb 2>/dev/null | head -1)
		[ -n "$kernel" ] || kdeb=$(ls -t "$CACHE"/debs/linux-image-*-cloud-amd64_*.deb 2>/dev/null | head -1)
		[ -n "$bdeb" ] && { [ -n "$kernel" ] || [ -n "$kdeb" ]; } ||
		    die "busybox-static, linux-image-cloud-amd64: not in apt's lists nor cached (network?)"
		kpkg=$(basename "${kdeb:-x_}"); kpkg=${kpkg%%_*}
		echo "mkimage: apt-get download failed; using the cache's $(basename "$bdeb") ${kdeb:+$(basename "$kdeb")}" >&2
	fi
fi
if [ -z "$kernel" ]; then
	kid=$(basename "$kdeb")
else
	kid=$(sha256sum < "$kernel" | cut -c1-64)
	[ -z "$modules" ] || kid="$kid $(cd "$modules" &&
	    find . -name '*.ko' -printf '%P %s %T@\n' | sort | sha256sum)"
fi
key=$( { cat "$SELF"; echo "$kid"; basename "$bdeb"; echo "$layout";
    dpkg-query -W -f='${Package} ${Version}\n' dropbear-bin syslinux-common \
	syslinux-efi mtools dosfstools e2fsprogs;
    [ "$layout" = mbr ] || dpkg-query -W -f='${Package} ${Version}\n' \
	grub-efi-ia32-bin grub-common; } | sha256sum | cut -c1-16)
img=$CACHE/disk-$key.img

build() {
	local w=$1 kver= m f lib
	local ir=$w/initramfs rd=$w/root

	# --- kernel and the modules for virtio-blk and virtio-net ----------
	mkdir -p "$ir/bin" "$ir/lib/modules" "$ir/dev" "$ir/proc" "$ir/sys" "$ir/newroot"
	if [ -z "$kernel" ]; then
		dpkg -x "$kdeb" "$w/k"
		kver=${kpkg#linux-image-}
		cp "$w/k/boot/vmlinuz-$kver" "$w/vmlinuz"
		modules=$w/k/lib/modules/$kver
	else
		cp "$kernel" "$w/vmlinuz"
	fi
	: > "$ir/lib/modules/order"
	if [ -n "$modules" ]; then
		kver=$(basename "$modules")
		base=$(dirname "$(dirname "$(dirname "$modules")")")
		# modules.dep comes from the package's postinst: made here for
		# the downloaded kernel; busybox insmod needs the order
		# (virtio_ring before virtio)
		[ -n "$kernel" ] || depmod -b "$base" "$kver"
		[ -s "$modules/modules.dep" ] || die "$modules: no modules.dep (depmod)"
		for m in "${KMOD[@]}"; do
			modprobe -d "$base" -S "$kver" --show-depends "$m"
		done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' > "$w/kmods"
		while read -r f; do
			cp "$f" "$ir/lib/modules/"
			basename "$f" >> "$ir/lib/modules/order"
		done < "$w/kmods"
	fi

	# --- initramfs: load the modules, mount the root, switch_root ------
	tar -C "$w" -xf <(dpkg-deb --fsys-tarfile "$bdeb") ./bin/busybox
	cp "$w/bin/busybox" "$ir/bin/busybox"
	for f in sh mount umount cat insmod findfs usleep sleep switch_root poweroff; do
		ln -s busybox "$ir/bin/$f"
	done
	mknod -m 600 "$ir/dev/console" c 5 1
	cat > "$ir/init" <<'EOF'
#!/bin/sh
# init of the pipol test image's initramfs: the virtio modules (the cloud
# kernel has them as modules), then switch_root to root= (/dev/vda2)
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /lib/modules/order); do insmod "/lib/modules/$m"; done
root=/dev/vda2 rootfstype=ext4 mode=rw init=/sbin/init
for a in $(cat /proc/cmdline); do
	case $a in
	root=*) root=${a#root=} ;; rootfstype=*) rootfstype=${a#rootfstype=} ;;
	ro|rw) mode=$a ;; init=*) init=${a#init=} ;;
	esac
done
fail() { echo "pipol-testimg: initramfs: $*"; sleep 1; poweroff -f; }
i=0 dev=
while [ -z "$dev" ]; do
	case $root in
	/dev/*) [ -b "$root" ] && dev=$root ;;
	*) dev=$(findfs "$root" 2>/dev/null) ;;
	esac
	i=$((i + 1)); [ $i -le 100 ] || fail "$root: no such device"
	[ -n "$dev" ] || usleep 100000
done
mount -t "$rootfstype" -o "$mode" "$dev" /newroot || fail "cannot mount $dev"
umount /proc /sys /dev
exec switch_root /newroot "$init"
EOF
	chmod 755 "$ir/init"

	# --- root: busybox, dropbear and its libraries, init scripts -------
	mkdir -p "$rd"/{bin,sbin,usr/bin,usr/sbin,etc/init.d,etc/dropbear,etc/udhcpc,dev,proc,sys,run,tmp,var/log,root/.ssh}
	cp "$w/bin/busybox" "$rd/bin/busybox"
	for f in $("$rd/bin/busybox" --list-full); do
		[ -e "$rd/$f" ] || [ -L "$rd/$f" ] || ln -s /bin/busybox "$rd/$f"
	done
	cp /usr/sbin/dropbear "$rd/usr/sbin/dropbear"
	for lib in $(ldd /usr/sbin/dropbear | grep -oE '/[^ ]+'); do
		mkdir -p "$rd$(dirname "$lib")"
		cp -L "$lib" "$rd$lib"
	done
	mknod -m 600 "$rd/dev/console" c 5 1
	mknod -m 666 "$rd/dev/null" c 1 3
	chmod 700 "$rd/root" "$rd/root/.ssh"
	chmod 1777 "$rd/tmp"
	echo pipol-testimg > "$rd/etc/hostname"
	# '*': no password opens it, but the account is not locked ('!'),
	# which dropbear would refuse even with a key
	# nobody, as every Debian system has it (a refresh's default test
	# runs its smoke command as nobody)
	printf 'root:*:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
	    > "$rd/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' > "$rd/etc/group"
	echo /bin/sh > "$rd/etc/shells"
	printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' \
	    > "$rd/etc/nsswitch.conf"
	printf '127.0.0.1 localhost\n' > "$rd/etc/hosts"
	cat > "$rd/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
EOF
	cat > "$rd/etc/init.d/rcS" <<'EOF'
#!/bin/sh
# rcS of the pipol test image: network by DHCP, dropbear, the marker
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
hostname -F /etc/hostname
ip link set lo up
ip link set eth0 up
# /etc/udhcpc/default.script prints "pipol-testimg: eth0 ADDRESS" when
# bound; -b: carry on in the background when no lease comes
udhcpc -i eth0 -s /etc/udhcpc/default.script -t 10 -T 1 -A 2 -b -S \
    > /dev/null 2>&1
# host keys made on first use (-R): each copy of the image its own
dropbear -R -s -p 22 -P /run/dropbear.pid
i=0
while ! netstat -ltn | grep -q ':22 ' && [ $i -lt 50 ]; do
	usleep 100000; i=$((i + 1))
done
echo "pipol-testimg: up $(hostname)" > /dev/console
# local start scripts, as OpenRC runs them (pipol's first-boot hook)
for f in /etc/local.d/*.start; do
	[ -x "$f" ] && "$f" > /dev/console 2>&1 &
done
EOF
	cat > "$rd/etc/udhcpc/default.script" <<'EOF'
#!/bin/sh
# udhcpc hook of the pipol test image
case $1 in
deconfig)
	ip -4 addr flush dev "$interface"
	ip link set "$interface" up ;;
bound|renew)
	ip addr replace "$ip/${mask:-24}" dev "$interface"
	[ -z "$router" ] || ip route replace default via "${router%% *}" dev "$interface"
	: > /etc/resolv.conf
	for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
	[ "$1" = renew ] || echo "pipol-testimg: $interface $ip" > /dev/console ;;
esac
exit 0
EOF
	chmod 755 "$rd/etc/init.d/rcS" "$rd/etc/udhcpc/default.script"

	# --- reproducible: fixed timestamps, GNU cpio without inode numbers
	find "$ir" -exec touch -h -d "@$EPOCH" {} +
	( cd "$ir" && find . | LC_ALL=C sort |
	    cpio --quiet -o -H newc -R 0:0 --reproducible ) | gzip -9n > "$w/initrd.img"
	touch -d "@$EPOCH" "$w/vmlinuz" "$w/initrd.img"

	# --- the kernel in the root too, laid out as Debian lays it out ----
	# (the boot loader on partition 1 does not read these; the agent
	# does, to boot the system from the network or by kexec)
	kver=${kver:-pipol}
	mkdir -p "$rd/boot" "$rd/etc/kernel"
	cp "$w/vmlinuz" "$rd/boot/vmlinuz-$kver"
	cp "$w/initrd.img" "$rd/boot/initrd.img-$kver"
	ln -s "boot/vmlinuz-$kver" "$rd/vmlinuz"
	ln -s "boot/initrd.img-$kver" "$rd/initrd.img"
	echo "console=ttyS0,115200 rw panic=-1 quiet" > "$rd/etc/kernel/cmdline"

	# --- the packages it was made of, in a dpkg status file: what the
	# store reads at validation (pipol image packages), and what
	# BusyBox's dpkg updates (the e2e refresh installs a newer package)
	mkdir -p "$rd/var/lib/dpkg/info"
	{ dpkg-deb -f "$bdeb" Package Version Architecture
	  dpkg-query -W -f='Package: ${Package}\nVersion: ${Version}\nArchitecture: ${Architecture}\n' dropbear-bin
	  [ -n "$kernel" ] || dpkg-deb -f "$kdeb" Package Version Architecture
	} | awk '/^Package:/ && NR > 1 { print "" }
	    { print } /^Package:/ { print "Status: install ok installed" }' \
	    > "$rd/var/lib/dpkg/status"
	find "$rd" -exec touch -h -d "@$EPOCH" {} +

	# --- partition 1: FAT, syslinux for BIOS and for UEFI --------------
	# (mac: an ESP whose IA32 GRUB boots the kernel by the EFI handover)
	if [ "$layout" = mac ]; then
		disk_mac "$w"
		return
	fi
	cat > "$w/syslinux.cfg" <<'EOF'
SERIAL 0 115200
PROMPT 0
TIMEOUT 0
DEFAULT linux
LABEL linux
  KERNEL /vmlinuz
  INITRD /initrd.img
  APPEND console=ttyS0,115200 root=/dev/vda2 rw panic=-1 quiet
EOF
	touch -d "@$EPOCH" "$w/syslinux.cfg"
	export SOURCE_DATE_EPOCH=$EPOCH MTOOLS_SKIP_CHECK=1
	mkfs.vfat -C -n PIPOLBOOT -i 5049504f --invariant "$w/p1.img" \
	    $((P1_MIB * 1024)) > /dev/null
	syslinux --install "$w/p1.img"
	mmd -i "$w/p1.img" ::/EFI ::/EFI/BOOT
	mcopy -m -i "$w/p1.img" "$w/vmlinuz" "$w/initrd.img" "$w/syslinux.cfg" ::/
	mcopy -m -i "$w/p1.img" /usr/lib/SYSLINUX.EFI/efi64/syslinux.efi ::/EFI/BOOT/BOOTX64.EFI
	mcopy -m -i "$w/p1.img" /usr/lib/syslinux/modules/efi64/ldlinux.e64 \
	    "$w/syslinux.cfg" ::/EFI/BOOT/

	part2 "$w"

	# --- the disk --------------------------------------------------------
	truncate -s "${DISK_MIB}M" "$w/disk.img"
	sfdisk -q "$w/disk.img" <<EOF
label: dos
label-id: 0x5049504f
start=$((P1_START * 2048)), size=$((P1_MIB * 2048)), type=6, bootable
start=$((P2_START * 2048)), size=$((P2_MIB * 2048)), type=83
EOF
	dd if=/usr/lib/syslinux/mbr/mbr.bin of="$w/disk.img" bs=440 count=1 \
	    conv=notrunc status=none
	dd if="$w/p1.img" of="$w/disk.img" bs=1M seek=$P1_START conv=notrunc,sparse status=none
	dd if="$w/p2.img" of="$w/disk.img" bs=1M seek=$P2_START conv=notrunc,sparse status=none
}

# partition 2: ext4 from the root folder $1/root
part2() {
	local w=$1 rd=$1/root
	truncate -s "${P2_MIB}M" "$w/p2.img"
	E2FSPROGS_FAKE_TIME=$EPOCH mkfs.ext4 -q -F -L pipolroot -U "$UUID" \
	    -E "hash_seed=$UUID,root_owner=0:0" -T default -I 256 \
	    -d "$rd" "$w/p2.img" "${P2_MIB}M"
	# mkfs.ext4 -d copies each file's ctime, which touch cannot set
	# (e2fsprogs 1.47.0 has no SOURCE_DATE_EPOCH)
	( cd "$rd" && find . -printf "sif /%P ctime @$EPOCH\n" ) > "$w/ctime"
	E2FSPROGS_FAKE_TIME=$EPOCH debugfs -w -f "$w/ctime" "$w/p2.img" > /dev/null 2>&1
}

# --layout mac, after the kernel, initramfs and root: the ESP (kernel,
# initramfs, an IA32 GRUB whose embedded configuration, run by GRUB's
# rescue parser, boots them), the root, the GPT disk
disk_mac() {
	local w=$1
	cat > "$w/grub-embed.cfg" <<'EOF'
echo pipol-testimg: IA32 GRUB, the 64-bit kernel by the EFI handover
linuxefi /vmlinuz console=ttyS0,115200 root=/dev/vda2 rw panic=-1 quiet
initrdefi /initrd.img
boot
EOF
	grub-mkimage -O i386-efi -d "$GRUB32" -p /EFI/BOOT -c "$w/grub-embed.cfg" \
	    -o "$w/BOOTIA32.EFI" part_gpt fat linuxefi echo boot
	touch -d "@$EPOCH" "$w/BOOTIA32.EFI"
	export SOURCE_DATE_EPOCH=$EPOCH MTOOLS_SKIP_CHECK=1
	mkfs.vfat -C -n PIPOLBOOT -i 5049504f --invariant "$w/p1.img" \
	    $((P1_MIB * 1024)) > /dev/null
	mmd -i "$w/p1.img" ::/EFI ::/EFI/BOOT
	mcopy -m -i "$w/p1.img" "$w/vmlinuz" "$w/initrd.img" ::/
	mcopy -m -i "$w/p1.img" "$w/BOOTIA32.EFI" ::/EFI/BOOT/BOOTIA32.EFI
	part2 "$w"
	# one MiB more than the MBR layout: the GPT's backup at the end
	truncate -s "$((DISK_MIB + 1))M" "$w/disk.img"
	sfdisk -q "$w/disk.img" <<EOF
label: gpt
label-id: $GPT_DISK
start=$((P1_START * 2048)), size=$((P1_MIB * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=$GPT_P1, name=PIPOLBOOT
start=$((P2_START * 2048)), size=$((P2_MIB * 2048)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=$GPT_P2, name=pipolroot
EOF
	dd if="$w/p1.img" of="$w/disk.img" bs=1M seek=$P1_START conv=notrunc,sparse status=none
	dd if="$w/p2.img" of="$w/disk.img" bs=1M seek=$P2_START conv=notrunc,sparse status=none
}

if [ ! -s "$img" ]; then
	[ "$layout" = mbr ] || [ -f "$GRUB32/linuxefi.mod" ] ||
	    die "$GRUB32: missing (tests/deps.sh test installs grub-efi-ia32-bin)"
	for t in syslinux mcopy mkfs.vfat mkfs.ext4 sfdisk depmod modprobe cpio \
	    /usr/sbin/dropbear /usr/lib/SYSLINUX.EFI/efi64/syslinux.efi \
	    /usr/lib/syslinux/modules/efi64/ldlinux.e64 /usr/lib/syslinux/mbr/mbr.bin; do
		command -v "$t" > /dev/null || [ -f "$t" ] ||
		    die "$t: missing (tests/deps.sh test installs it)"
	done
	w=$(mktemp -d "$CACHE/build.XXXXXX")
	trap 'rm -rf "$w"' EXIT
	build "$w"
	mv "$w/disk.img" "$img.tmp"
	mv "$img.tmp" "$img"
	rm -rf "$w"; trap - EXIT
	echo "mkimage: built $img in $((SECONDS - t0)) s" >&2
fi
# what was not used for a week (older recipes, kernels) goes
touch "$img" "$bdeb" ${kdeb:+"$kdeb"}
find "$CACHE" "$CACHE/debs" -maxdepth 1 -type f \( -name 'disk-*.img' -o -name '*.deb' \) \
    -mtime +7 -delete
flock -u 9

cp --sparse=always "$img" "$out.tmp"
# post-install-like edits of the ext4 partition, through debugfs
if [ -n "$hostname$keys" ]; then
	fs="$out.tmp?offset=$((P2_START << 20))"
	{
		if [ -n "$hostname" ]; then
			echo "$hostname" > "$out.hostname"
			echo "rm /etc/hostname"
			echo "write \"$out.hostname\" /etc/hostname"
			echo "sif /etc/hostname mode 0100644"
		fi
		if [ -n "$keys" ]; then
			echo "write \"$keys\" /root/.ssh/authorized_keys"
			echo "sif /root/.ssh/authorized_keys mode 0100600"
			echo "sif /root/.ssh/authorized_keys uid 0"
			echo "sif /root/.ssh/authorized_keys gid 0"
		fi
	} > "$out.debugfs"
	debugfs -w -f "$out.debugfs" "$fs" > /dev/null 2>&1
	rm -f "$out.hostname" "$out.debugfs"
	# debugfs says little about a failed command: read the files back
	if [ -n "$hostname" ] && [ "$(debugfs -R 'cat /etc/hostname' "$fs" \
	    2>/dev/null)" != "$hostname" ]; then
		rm -f "$out.tmp"; die "$out: could not set the hostname"
	fi
	if [ -n "$keys" ] && ! debugfs -R 'cat /root/.ssh/authorized_keys' \
	    "$fs" 2>/dev/null | cmp -s - "$keys"; then
		rm -f "$out.tmp"; die "$out: could not write authorized_keys"
	fi
fi
mv "$out.tmp" "$out"
