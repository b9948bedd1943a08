#!/bin/bash
# refimg.sh -- the Debian 12 (bookworm) reference images: raw bootable
# disks of a minimal Debian with an SSH server, ready for pipol to import
# and deploy.
#
#   bios   MBR disk, id 0x5049504c; partition 1 (bootable) the ext4 root
#          "pipolroot". GRUB for BIOS: boot.img in the first 440 bytes of
#          sector 0 (the partition table is kept), core.img in the gap
#          before partition 1 (sectors 1..2047), as grub-install would
#          embed it.
#   uefi   GPT disk; partition 1 the EFI system partition (FAT32, 128 MiB)
#          holding GRUB at the removable-media path /EFI/BOOT/BOOTX64.EFI
#          (no NVRAM Boot#### entry needed), partition 2 the ext4 root.
#   mac    the uefi disk for mac-efi32 nodes (the first Intel Macs: 32-bit
#          EFI on a 64-bit CPU): the ESP holds an IA32 GRUB at
#          /EFI/BOOT/BOOTIA32.EFI (grub-mkimage -O i386-efi) besides
#          BOOTX64.EFI, which a Mac with 64-bit EFI boots; both read the
#          same grub.cfg, whose linuxefi enters the 64-bit kernel by the
#          EFI handover: under 32-bit firmware, the kernel's mixed mode
#          (CONFIG_EFI_MIXED, set in Debian's kernels).
#
# Built without loop devices or mounts: debootstrap into a folder,
# mkfs.ext4 -d into a partition-sized file, mkfs.vfat -C and mcopy for
# the ESP, sfdisk on the disk file, dd at the partition offsets. GRUB is
# not installed with grub-install (it needs the block devices): its
# images are made with grub-mkimage, every module the boot needs built
# in, with the prefix "(,msdos1)/boot/grub" or "(,gpt2)/boot/grub":
# the partition of the disk GRUB was loaded from, whichever disk number
# the firmware gives it. /boot/grub/grub.cfg boots /vmlinuz and
# /initrd.img, the symlinks Debian's kernel packages keep current, so a
# kernel upgrade on a node needs no update-grub (grub-pc is not in the
# image).
#
# The system: linux-image-cloud-amd64 (or -amd64 with --kernel-flavour
# generic), systemd, openssh-server, curl, sudo; systemd-networkd asks
# DHCP on every en*/eth* NIC, systemd-resolved; serial console ttyS0 at
# 115200 and a getty there; root's password locked (pipol's post-install
# adds keys to /root/.ssh/authorized_keys); SSH host keys and
# /etc/machine-id made on each node's first boot, not in the image.
#
# Cache (--cache): debs/ (the packages), tree-FLAVOUR/ (debootstrap's
# result upgraded from bookworm-updates and bookworm-security, not yet
# made into the reference system; tree-FLAVOUR.pkgs lists its packages)
# and the images. The tree is rebuilt when apt (this machine's package
# lists: run apt-get update to see new versions) knows a newer version of
# one of its packages; an image when this script, the tree or the host's
# GRUB/e2fsprogs/dosfstools/mtools/fdisk change. From the same tree the
# image is the same bytes (ids, UUIDs, hash seeds, layout fixed; every
# time clamped to SOURCE_DATE_EPOCH). Two debootstraps of the same
# packages are not (dpkg's database and logs, ldconfig's cache, the
# initramfs differ), so neither are their images.
set -eu

USAGE="usage: refimg.sh [--kernel-flavour cloud|generic] [--point-release] [--cache DIR] bios|uefi|mac OUT"
help() {
	cat <<EOF
$USAGE
Build the Debian 12 reference disk image (raw, 2 GiB, mostly zeros) and
copy it to OUT. Prints what pipol needs to know about it on stdout:
  bios:  root=1 fstype=ext4               (one line each)
  uefi:  esp=1 root=2 fstype=ext4
  mac:   esp=1 root=2 fstype=ext4     (uefi with an IA32 GRUB too)
options:
  --kernel-flavour F   cloud (default): linux-image-cloud-amd64, virtio
                       only, fast under QEMU; generic: linux-image-amd64
  --point-release      bookworm as released, without bookworm-updates and
                       bookworm-security: an image that has aged, which
                       an image refresh brings up to date
  --cache DIR          default \${PIPOL_CACHE:-/var/cache/pipol}/refimg
  --help               this text
The Debian mirror is the one this machine's apt uses for bookworm (its
sources.list or sources.list.d): none there is an error; bookworm-security
comes from apt's source for it, and without one the image gets no
security updates (said on stderr).
environment:
  SOURCE_DATE_EPOCH    file times are clamped to it (default: the time of
                       the newest package's changelog)
Needs root (debootstrap, apt-get). Exit status: 0 ok, 1 failure, 2 usage.
EOF
}
die() { echo "refimg: $*" >&2; exit 1; }
usage_err() { echo "refimg: $*" >&2; echo "$USAGE" >&2; exit 2; }
say() { echo "refimg: $*" >&2; }

flavour=cloud cache='' kind='' out='' point=
while [ $# -gt 0 ]; do
	case $1 in
	-h|--help) help; exit 0 ;;
	--point-release) point=1; shift ;;
	--kernel-flavour|--cache)
		[ $# -ge 2 ] || usage_err "$1: needs a value"
		case $1 in --kernel-flavour) flavour=$2 ;; --cache) cache=$2 ;; esac
		shift 2 ;;
	--kernel-flavour=*) flavour=${1#*=}; shift ;;
	--cache=*) cache=${1#*=}; shift ;;
	-*) usage_err "$1: unknown option" ;;
	*)
		if [ -z "$kind" ]; then kind=$1
		elif [ -z "$out" ]; then out=$1
		else usage_err "$1: one image kind and one OUT only"; fi
		shift ;;
	esac
done
[ -n "$kind" ] || usage_err "no image kind given (bios, uefi or mac)"
case $kind in bios|uefi|mac) ;; *) usage_err "$kind: not an image kind (bios, uefi, mac)" ;; esac
[ -n "$out" ] || usage_err "no OUT given"
case $flavour in
cloud) kmeta=linux-image-cloud-amd64 ;;
generic) kmeta=linux-image-amd64 ;;
*) usage_err "--kernel-flavour $flavour: not a flavour (cloud, generic)" ;;
esac
[ -n "$cache" ] || cache=${PIPOL_CACHE:-/var/cache/pipol}/refimg
[ -d "$(dirname "$out")" ] || die "$(dirname "$out"): no such folder"
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, apt-get)"
export LC_ALL=C

SELF=$(readlink -f "$0")
# the packages besides debootstrap's minbase; the kernel pulls
# initramfs-tools, udev and kmod
INCLUDE="$kmeta,systemd-sysv,systemd-resolved,udev,dbus,openssh-server,curl,ca-certificates,sudo,iproute2,zstd"
DISK_MIB=2048			# virtual size; the zeros cost nothing in a .pimg
ESP_MIB=128			# uefi, mac: FAT32, holds GRUB only (4-8 MiB)
LABEL=pipolroot			# the root's ext4 label: fstab, root=
MBR_ID=0x5049504c		# "PIPL"
GPT_ID=50495030-4c00-4000-8000-726566696d67
ESP_PARTUUID=50495030-4c00-4000-8000-000000000001
ROOT_PARTUUID=50495030-4c00-4000-8000-000000000002
ESP_VOLID=5049504C		# FAT volume id, fstab UUID=5049-504C (upper case,
				# as blkid names it)
case $kind in		# the root filesystem's UUID (and hash seed) per kind
bios) FS_UUID=50495030-4c00-4000-8000-62696f730001 ;;
uefi) FS_UUID=50495030-4c00-4000-8000-756566690001 ;;
mac) FS_UUID=50495030-4c00-4000-8000-696133320001 ;;	# "ia32"
esac
GPT_ESP=C12A7328-F81F-11D2-BA4B-00A0C93EC3B8
GPT_ROOT_X86_64=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709	# discoverable partitions
CMDLINE="root=LABEL=$LABEL ro console=ttyS0,115200 console=tty0 quiet"
# GRUB modules built into the images: nothing is loaded from the root
GRUB_MODS="part_msdos part_gpt ext2 fat normal configfile linux echo test
  serial terminal boot ls cat search search_fs_uuid search_label reboot
  halt sleep"
GRUB_BIOS_MODS="biosdisk"
GRUB_EFI_MODS="efi_gop"
# mac: linuxefi (the EFI handover, mixed mode under IA32 firmware);
# efi_uga for the Macs whose EFI has UGA and no GOP
GRUB_MAC_MODS="efi_gop efi_uga linuxefi"

# --- the mirrors this machine's apt uses for bookworm and its security --
. "$(dirname "$SELF")/aptsrc.sh"
mirror=$(apt_mirror_or_die bookworm refimg) || exit 1
security=$(apt_uri bookworm-security)
[ -n "$security" ] || say "no bookworm-security in apt's configuration:" \
    "the image gets no security updates"

# --- host tools: install the missing ones (none of them touches /boot) ---
need=()
for p in debootstrap debian-archive-keyring grub-pc-bin grub-efi-amd64-bin \
    grub-efi-ia32-bin mtools dosfstools e2fsprogs fdisk; do
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
	    need+=("$p")
done
if ((${#need[@]})); then
	say "installing ${need[*]}"
	apt-get update -qq > /dev/null 2>&1 || true
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends "${need[@]}" > /dev/null ||
	    die "apt-get install ${need[*]} failed"
fi

# bump the number when build_tree changes: the tree is kept across
# changes to the rest of this script
TREE_RECIPE="4 bookworm minbase amd64 $INCLUDE $mirror $security${point:+ point}"

mkdir -p "$cache/debs"
cache=$(cd "$cache" && pwd)
exec 9> "$cache/lock"
flock 9		# one builder at a time; the others then find it cached

W=
cleanup() {
	[ -n "$W" ] && [ -d "$W" ] || return 0
	# an interrupted debootstrap leaves /proc and /sys mounted in the tree
	awk -v p="$W/" 'index($2, p) == 1 { print $2 }' /proc/mounts |
	    sort -r | while read -r m; do umount -l "$m" || true; done
	rm -rf --one-file-system "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
W=$(mktemp -d "$cache/work.XXXXXX")
t0=$SECONDS

# --- 1. the Debian tree: debootstrap + upgrade, kept in the cache ---------
tree=$cache/tree-$flavour${point:+-point}
# tree_is_current: built from this recipe, and apt knows no newer version
# of any of its packages
tree_is_current() {
	[ -d "$tree" ] && [ -s "$tree.pkgs" ] &&
	    [ "$(head -n 1 "$tree.pkgs")" = "recipe $TREE_RECIPE" ] || return 1
	[ -z "$point" ] || return 0	# as released: newer versions are the point
	tail -n +2 "$tree.pkgs" | cut -d' ' -f1 | xargs apt-cache show \
	    --no-all-versions 2>/dev/null |
	    awk '/^Package: / { p = $2 } /^Version: / { print p, $2 }' \
	    > "$W/candidates"
	local pkg have want
	while read -r pkg want; do
		have=$(awk -v p="$pkg" '$1 == p { print $2; exit }' "$tree.pkgs")
		if [ -n "$have" ] && [ "$want" != "$have" ] && dpkg --compare-versions "$want" gt "$have"; then
			say "$pkg $want is newer than the tree's $have: rebuilding"
			return 1
		fi
	done < "$W/candidates"
}

# upgrade ROOT: bookworm-updates and bookworm-security, which debootstrap
# does not read (it takes one suite from one mirror)
upgrade() {
	local r=$1
	cat > "$r/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
${security:+deb $security bookworm-security main}
EOF
	# no daemon of the tree started here (no systemd runs in a chroot, so
	# invoke-rc.d would use the init scripts)
	printf '#!/bin/sh\nexit 101\n' > "$r/usr/sbin/policy-rc.d"
	chmod 755 "$r/usr/sbin/policy-rc.d"
	cp -l "$cache"/debs/*.deb "$r/var/cache/apt/archives/" 2>/dev/null || true
	# the name server of this machine for the while (the tree's
	# resolv.conf points to systemd-resolved, not running here)
	mv "$r/etc/resolv.conf" "$r/etc/resolv.conf.tree"
	cp -L /etc/resolv.conf "$r/etc/resolv.conf"
	{ chroot "$r" apt-get -q --error-on=any update &&
	  chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
	      -o APT::Install-Recommends=false -o Dpkg::Options::=--force-confdef \
	      -o Dpkg::Options::=--force-confold dist-upgrade; } > "$W/upgrade.log" 2>&1 ||
	    { tail -n 15 "$W/upgrade.log" >&2; die "apt-get dist-upgrade in the tree failed"; }
	# one kernel: the one the metapackage names now
	local keep old
	# shellcheck disable=SC2016
	keep=$(chroot "$r" dpkg-query -W -f='${Depends}' "$kmeta" |
	    grep -o 'linux-image-[0-9][^ ,]*' | head -n 1)
	# shellcheck disable=SC2016
	old=$(chroot "$r" dpkg-query -W -f='${Package}\n' 'linux-image-[0-9]*' |
	    grep -vxF "$keep" || true)
	if [ -n "$old" ]; then
		# shellcheck disable=SC2086
		chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
		    purge $old >> "$W/upgrade.log" 2>&1 ||
		    { tail -n 15 "$W/upgrade.log" >&2; die "apt-get purge $old failed"; }
	fi
	# what was downloaded joins the cache
	find "$r/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -links 1 \
	    -exec mv -t "$cache/debs/" {} +
	chroot "$r" apt-get clean
	rm -f "$r/usr/sbin/policy-rc.d"
	mv "$r/etc/resolv.conf.tree" "$r/etc/resolv.conf"
}

build_tree() {
	local r=$W/tree
	say "debootstrap bookworm from $mirror ($kmeta)"
	debootstrap --variant=minbase --arch=amd64 --cache-dir="$cache/debs" \
	    --include="$INCLUDE" bookworm "$r" "$mirror" > "$W/debootstrap.log" 2>&1 ||
	    { tail -n 15 "$W/debootstrap.log" >&2; die "debootstrap bookworm from $mirror failed"; }
	awk -v p="$r/" 'index($2, p) == 1 { exit 1 }' /proc/mounts ||
	    die "$r: debootstrap left file systems mounted"
	if [ -n "$point" ]; then
		chroot "$r" apt-get clean
	else
		upgrade "$r"
	fi
	[ -e "$r/vmlinuz" ] && [ -e "$r/initrd.img" ] ||
	    die "$r: no /vmlinuz or /initrd.img after installing $kmeta"
	{ echo "recipe $TREE_RECIPE"
	  dpkg-query --admindir="$r/var/lib/dpkg" -W -f='${Package} ${Version}\n'; } \
	    > "$W/pkgs"
	rm -rf "$tree" "$tree.pkgs"
	mv "$r" "$tree"
	mv "$W/pkgs" "$tree.pkgs"
}

if ! tree_is_current; then
	build_tree
	say "tree built in $((SECONDS - t0)) s, $(du -sm "$tree" | cut -f1) MiB"
fi

# --- 2. the image, named by what it is made of ------------------------------
tools=$(dpkg-query -W -f='${Package} ${Version}\n' grub-pc-bin \
    grub-efi-amd64-bin grub-efi-ia32-bin e2fsprogs dosfstools mtools fdisk)
key=$( { cat "$SELF"; cat "$tree.pkgs"; echo "$tools"; echo "$mirror";
    echo "${SOURCE_DATE_EPOCH:-}"; } | sha256sum | cut -c1-16)
img=$cache/debian12-$kind-$flavour-$key.img

# customize ROOT: turn a copy of the debootstrap tree into the reference
# system (no chroot needed: files and symlinks only)
customize() {
	local r=$1
	echo debian > "$r/etc/hostname"
	printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
	    > "$r/etc/hosts"
	# the ESP: nofail, a node boots without it; no short device timeout
	# either (10 s expired under QEMU without KVM, udev being slower)
	{
		echo "# <file system> <mount point> <type> <options> <dump> <pass>"
		echo "LABEL=$LABEL / ext4 errors=remount-ro 0 1"
		[ "$kind" = bios ] || echo "UUID=${ESP_VOLID:0:4}-${ESP_VOLID:4:4} /boot/efi vfat umask=0077,nofail 0 1"
	} > "$r/etc/fstab"
	[ "$kind" = bios ] || mkdir -p "$r/boot/efi"
	cat > "$r/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
${security:+deb $security bookworm-security main}
EOF

	# network: DHCP on every wired NIC, whatever its name
	mkdir -p "$r/etc/systemd/network"
	cat > "$r/etc/systemd/network/50-pipol-dhcp.network" <<'EOF'
# pipol reference image: DHCP on every wired NIC
[Match]
Name=en* eth*

[Network]
DHCP=yes
EOF
	# network-online as soon as one NIC is up: a node may have unplugged
	# ones (the default waits for all of them, 2 minutes)
	mkdir -p "$r/etc/systemd/system/systemd-networkd-wait-online.service.d"
	cat > "$r/etc/systemd/system/systemd-networkd-wait-online.service.d/pipol.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=60
EOF
	enable_unit "$r" systemd-networkd.service multi-user.target
	enable_unit "$r" systemd-networkd.socket sockets.target
	enable_unit "$r" systemd-networkd-wait-online.service network-online.target
	ln -sf /lib/systemd/system/systemd-networkd.service \
	    "$r/etc/systemd/system/dbus-org.freedesktop.network1.service"

	# SSH host keys: made on each node's first boot (sshd -t in
	# ssh.service fails without them, and Debian's unit makes none)
	rm -f "$r"/etc/ssh/ssh_host_*
	cat > "$r/etc/systemd/system/pipol-ssh-hostkeys.service" <<'EOF'
[Unit]
Description=SSH host keys (made on first boot, not in the image)
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
RemainAfterExit=yes

[Install]
WantedBy=ssh.service
EOF
	enable_unit "$r" pipol-ssh-hostkeys.service ssh.service
	mkdir -p "$r/root/.ssh"
	chmod 700 "$r/root/.ssh"

	# console: a getty on the serial port; systemd-firstboot would
	# prompt there (empty machine-id = first boot) and hold the boot
	enable_unit "$r" serial-getty@ttyS0.service getty.target serial-getty@.service
	ln -sf /dev/null "$r/etc/systemd/system/systemd-firstboot.service"

	# each node its own machine-id (empty: made at boot, then committed)
	: > "$r/etc/machine-id"
	chmod 444 "$r/etc/machine-id"
	rm -f "$r/var/lib/dbus/machine-id"
	ln -s /etc/machine-id "$r/var/lib/dbus/machine-id"
	# root: no password login, keys only
	sed -i 's/^root:[^:]*:/root:!*:/' "$r/etc/shadow"

	# GRUB reads this; the kernel symlinks follow upgrades. mac:
	# linuxefi, the EFI handover: the kernel's EFI stub runs on the
	# firmware (mixed mode under 32-bit EFI), with its Apple quirks
	# (Apple device properties), and it is the path tests/e2e/mac.sh
	# proves. The IA32 GRUB's "linux" boots it too (tried: GRUB exits
	# boot services and hands the kernel a 32-bit EFI table, which
	# CONFIG_EFI_MIXED takes), but the stub never runs
	local lx=linux ird=initrd
	[ "$kind" != mac ] || lx=linuxefi ird=initrdefi
	mkdir -p "$r/boot/grub"
	cat > "$r/boot/grub/grub.cfg" <<EOF
# pipol reference image (imagestore/refimg.sh). Not made by update-grub:
# /vmlinuz and /initrd.img follow kernel upgrades by themselves.
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout_style=countdown
set timeout=1
menuentry 'Debian GNU/Linux 12' {
	$lx /vmlinuz $CMDLINE
	$ird /initrd.img
}
menuentry 'Debian GNU/Linux 12 (previous kernel)' {
	$lx /vmlinuz.old $CMDLINE
	$ird /initrd.img.old
}
EOF

	# smaller, and nothing of this machine's: caches, lists, logs
	rm -rf "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb \
	    "$r"/var/lib/apt/lists/* "$r"/var/cache/debconf/*-old \
	    "$r"/var/lib/dpkg/*-old "$r"/var/cache/ldconfig/aux-cache
	mkdir -p "$r/var/lib/apt/lists/partial"
	find "$r/var/log" -type f -delete
	rm -f "$r/etc/resolv.conf.bak"
	# resolved's stub, not a copy of this machine's resolv.conf
	ln -sfn ../run/systemd/resolve/stub-resolv.conf "$r/etc/resolv.conf"
}

# enable_unit ROOT UNIT TARGET [TEMPLATE]: what systemctl enable does
enable_unit() {
	local r=$1 unit=$2 target=$3 file=${4:-$2} src
	for src in "/etc/systemd/system/$file" "/lib/systemd/system/$file"; do
		[ -e "$r$src" ] && break
	done
	[ -e "$r$src" ] || die "$file: no such unit in the tree"
	mkdir -p "$r/etc/systemd/system/$target.wants"
	ln -sf "$src" "$r/etc/systemd/system/$target.wants/$unit"
}

# mkroot DIR FILE MIB: ext4 from DIR, with fixed ids and times
mkroot() {
	local r=$1 f=$2 mib=$3
	truncate -s "${mib}M" "$f"
	E2FSPROGS_FAKE_TIME=$sde mkfs.ext4 -q -F -L "$LABEL" -U "$FS_UUID" \
	    -E "hash_seed=$FS_UUID,root_owner=0:0" -T default \
	    -d "$r" "$f" "${mib}M" > "$W/mkfs.log" 2>&1 ||
	    { cat "$W/mkfs.log" >&2; die "mkfs.ext4 -d: failed"; }
	# mkfs.ext4 -d gives each inode the time of now as ctime and crtime
	# (e2fsprogs 1.47.0 has no SOURCE_DATE_EPOCH), which touch cannot set
	( cd "$r" && find . -printf "sif \"/%P\" ctime @$sde\nsif \"/%P\" crtime @$sde\n" ) \
	    > "$W/times.debugfs"
	E2FSPROGS_FAKE_TIME=$sde debugfs -w -f "$W/times.debugfs" "$f" \
	    > /dev/null 2>&1 || die "$f: debugfs could not set the inode times"
}

# grub_bios DISK: boot.img in the MBR, core.img in sectors 1..2047
grub_bios() {
	local d=$1 dir=/usr/lib/grub/i386-pc
	# "(,msdos1)": partition 1 of the drive the BIOS booted (DL), so
	# no search and no disk number
	# shellcheck disable=SC2086
	grub-mkimage -O i386-pc -d "$dir" -p '(,msdos1)/boot/grub' \
	    -o "$W/core.img" $GRUB_BIOS_MODS $GRUB_MODS ||
	    die "grub-mkimage -O i386-pc failed"
	[ "$(stat -c %s "$W/core.img")" -le $((2047 * 512)) ] ||
	    die "$W/core.img: larger than the 2047 sectors before partition 1"
	# boot.img's own defaults already say what grub-bios-setup would:
	# core.img at sector 1 (kernel_sector, offset 0x5c), boot drive from
	# the BIOS (0xff at 0x64); and core.img's first blocklist (made by
	# grub-mkimage) reads its rest from sector 2. Left for us: the
	# 440 bytes before the disk id and the partition table, and the
	# hard-disk fix of the drive check (0x66: jmp -> nop nop) for BIOSes
	# that pass a bogus boot drive
	dd if="$dir/boot.img" of="$d" bs=440 count=1 conv=notrunc status=none
	printf '\220\220' | dd of="$d" bs=1 seek=$((0x66)) conv=notrunc status=none
	dd if="$W/core.img" of="$d" bs=512 seek=1 conv=notrunc status=none
}

# grub_efi FORMAT FILE MODS...: a removable-media GRUB, x86_64-efi or
# i386-efi ("(,gpt2)": partition 2 of the disk it was loaded from)
grub_efi() {
	local fmt=$1 f=$2; shift 2
	grub-mkimage -O "$fmt" -d "/usr/lib/grub/$fmt" \
	    -p '(,gpt2)/boot/grub' -o "$f" "$@" ||
	    die "grub-mkimage -O $fmt failed"
	touch -d "@$sde" "$f"
}

# part_field DISK N FIELD: start or size (sectors) of partition N
part_field() {
	sfdisk -d "$1" | tr -d ' ' | awk -F'[:,]' -v n="$1$2" -v f="$3=" '
	    $1 == n { for (i = 2; i <= NF; i++)
		if (index($i, f) == 1) print substr($i, length(f) + 1) + 0 }'
}

build_image() {
	local r=$W/root d=$W/disk.img start size n off
	say "building $kind image"
	cp -a "$tree" "$r"
	customize "$r"
	# file times: no mtime later than SOURCE_DATE_EPOCH, every atime
	# that (reading the tree changes them)
	find "$r" -newermt "@$sde" -exec touch -h -d "@$sde" {} +
	find "$r" -exec touch -h -a -d "@$sde" {} +
	truncate -s "${DISK_MIB}M" "$d"
	if [ "$kind" = bios ]; then
		sfdisk -q "$d" > /dev/null <<EOF
label: dos
label-id: $MBR_ID
start=2048, type=83, bootable
EOF
	else
		sfdisk -q "$d" > /dev/null <<EOF
label: gpt
label-id: $GPT_ID
start=2048, size=$((ESP_MIB * 2048)), type=$GPT_ESP, uuid=$ESP_PARTUUID, name="EFI system partition"
start=$((2048 + ESP_MIB * 2048)), type=$GPT_ROOT_X86_64, uuid=$ROOT_PARTUUID, name="root"
EOF
		# ESP: FAT32, GRUB at the removable-media path (mac: the
		# IA32 one too)
		# shellcheck disable=SC2086
		if [ "$kind" = uefi ]; then
			grub_efi x86_64-efi "$W/BOOTX64.EFI" $GRUB_EFI_MODS $GRUB_MODS
		else
			grub_efi x86_64-efi "$W/BOOTX64.EFI" $GRUB_MAC_MODS $GRUB_MODS
			grub_efi i386-efi "$W/BOOTIA32.EFI" $GRUB_MAC_MODS $GRUB_MODS
		fi
		export MTOOLS_SKIP_CHECK=1 SOURCE_DATE_EPOCH=$sde
		# --invariant: fixed times (mkfs.vfat 4.2 dates the label entry
		# now, SOURCE_DATE_EPOCH or not) but also a fixed volume id,
		# 1234-ABCD: ours goes into the boot sector and its backup
		mkfs.vfat -C -F 32 -n EFI --invariant "$W/esp.img" \
		    $((ESP_MIB * 1024)) > /dev/null
		for off in $((0x43)) $((6 * 512 + 0x43)); do
			# shellcheck disable=SC2059
			printf "\\x${ESP_VOLID:6:2}\\x${ESP_VOLID:4:2}\\x${ESP_VOLID:2:2}\\x${ESP_VOLID:0:2}" |
			    dd of="$W/esp.img" bs=1 seek=$off conv=notrunc status=none
		done
		mmd -i "$W/esp.img" ::/EFI ::/EFI/BOOT
		mcopy -m -i "$W/esp.img" "$W/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
		[ "$kind" != mac ] ||
		    mcopy -m -i "$W/esp.img" "$W/BOOTIA32.EFI" ::/EFI/BOOT/BOOTIA32.EFI
		dd if="$W/esp.img" of="$d" bs=1M seek=1 conv=notrunc,sparse status=none
	fi
	n=1; [ "$kind" = bios ] || n=2
	start=$(part_field "$d" $n start) size=$(part_field "$d" $n size)
	[ -n "$start" ] && [ -n "$size" ] || die "$d: no partition $n after sfdisk"
	mkroot "$r" "$W/root.img" $((size / 2048))
	dd if="$W/root.img" of="$d" bs=1M seek=$((start / 2048)) \
	    conv=notrunc,sparse status=none
	[ "$kind" != bios ] || grub_bios "$d"
	mv "$d" "$img.tmp"
	mv "$img.tmp" "$img"
	rm -rf "$r" "$W/root.img" "$W/esp.img"
}

if [ ! -s "$img" ]; then
	# default: the newest package's changelog, so the same packages
	# give the same times
	sde=${SOURCE_DATE_EPOCH:-$(find "$tree/usr/share/doc" -name changelog.Debian.gz \
	    -printf '%T@\n' | sort -n | tail -n 1 | cut -d. -f1)}
	case $sde in ''|*[!0-9]*) die "SOURCE_DATE_EPOCH $sde: not a number" ;; esac
	t1=$SECONDS
	build_image
	say "built $img in $((SECONDS - t1)) s"
fi
# what was not used for a week (older recipes and versions) goes
touch "$img"
find "$cache" -maxdepth 1 -type f -name 'debian12-*.img' -mtime +7 -delete
# the .debs no tree holds any more
find "$cache/debs" -maxdepth 1 -type f -name '*.deb' -printf '%f\n' |
    while read -r f; do
	v=${f%_*.deb}; v=${v#*_}; v=${v//%3a/:}
	grep -qxF "${f%%_*} $v" "$cache"/tree-*.pkgs || rm -f "$cache/debs/$f"
    done
flock -u 9

cp --sparse=always "$img" "$out.tmp"
mv "$out.tmp" "$out"
if [ "$kind" = bios ]; then
	printf 'root=1\nfstype=ext4\n'
else
	printf 'esp=1\nroot=2\nfstype=ext4\n'
fi
