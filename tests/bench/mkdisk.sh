#!/bin/bash
# mkdisk.sh - build (once) and cache the realistic benchmark disks used by the
# pipol bench scripts:
#   disk.raw     2 GiB raw GPT disk, one ext4 partition (at 1 MiB) holding a
#                minimal Debian 12 with a kernel and an SSH server; the space
#                the filesystem does not use holds stale (non-zero,
#                compressible) data on the first ~72 % of the disk, like a
#                real disk that has been used before.
#   disk-v2.raw  the same disk with one file changed (/etc/motd), so that it
#                differs from disk.raw in only a few 4 MiB chunks.
# Output goes to ${PIPOL_CACHE:-/var/cache/pipol}/bench/ and is reused when a
# stamp says it is complete. No loop devices, no mounts. Needs root.
# Env: PIPOL_CACHE. The mirror is the one apt's configuration gives for
# bookworm (imagestore/aptsrc.sh).
set -euo pipefail

RECIPE="pipol-bench-disk 2"     # bump to force a rebuild after recipe changes
DISK_MIB=2048 PART_START_MIB=1 PART_MIB=2046 FILL_PCT=72
INCLUDE=linux-image-amd64,openssh-server,systemd-sysv
out="${PIPOL_CACHE:-/var/cache/pipol}/bench"
tmp=""

die() { echo "mkdisk: $*" >&2; exit 1; }
t_start=$SECONDS t_phase=$SECONDS
phase() { echo "mkdisk: $* ($((SECONDS - t_phase))s)"; t_phase=$SECONDS; }
done_msg() {
	echo "mkdisk: $out/disk.raw"; echo "mkdisk: $out/disk-v2.raw"
	sed -n 2p "$out/stamp"
}

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap)"
mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"; flock 9     # one builder at a time
if [ -f "$out/disk.raw" ] && [ -f "$out/disk-v2.raw" ] &&
   [ "$(head -n1 "$out/stamp" 2>/dev/null)" = "$RECIPE" ]; then
	done_msg; exit 0
fi

# --- mirror: the one this machine's apt uses for bookworm ---------------------
. "$(dirname "$(readlink -f "$0")")/../../imagestore/aptsrc.sh"
mirror=$(apt_mirror_or_die bookworm mkdisk) || exit 1

# --- tools -------------------------------------------------------------------
need=()
for p in debootstrap debian-archive-keyring e2fsprogs fdisk tar; do
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || need+=("$p")
done
PY=$(command -v python3 || true); [ ! -x /usr/bin/python3 ] || PY=/usr/bin/python3
[ -n "$PY" ] || need+=(python3-minimal)
if ((${#need[@]})); then
	echo "mkdisk: installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	PY=${PY:-/usr/bin/python3}
fi

# --- temp dir next to the cache, removed on any exit ---------------------------
cleanup() {
	[ -n "$tmp" ] && [ -d "$tmp" ] || return 0
	# an interrupted debootstrap may leave /proc etc. mounted inside the tree
	awk -v p="$tmp/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m" || true; done
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
tmp=$(mktemp -d "$out.tmp.XXXXXX"); chmod 755 "$tmp"
root=$tmp/root disk=$tmp/disk.raw part=$tmp/part.img
echo "mkdisk: building in $tmp from $mirror"

# --- 1. Debian root tree -------------------------------------------------------
debootstrap --variant=minbase --arch=amd64 --include="$INCLUDE" bookworm "$root" "$mirror" \
	>"$tmp/debootstrap.log" 2>&1 || { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
echo pipol-bench >"$root/etc/hostname"
echo "LABEL=root / ext4 errors=remount-ro 0 1" >"$root/etc/fstab"
rm -f "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_*
phase "debootstrap done, root tree $(du -sm "$root" | cut -f1) MiB"

# --- 2. stale data over the first FILL_PCT % of the disk, zeros after -----------
truncate -s "${DISK_MIB}M" "$disk"
tar --ignore-failed-read -cf "$tmp/stale.tar" -C / usr/share -C "$root" . 2>/dev/null || true
stale=$(stat -c %s "$tmp/stale.tar") fill=$((DISK_MIB * FILL_PCT / 100 / 4 * 4 << 20))
[ "$stale" -gt $((64 << 20)) ] || die "stale data source too small"
for ((off = 0; off < fill; off += stale)); do
	len=$((fill - off < stale ? fill - off : stale))
	dd if="$tmp/stale.tar" of="$disk" bs=4M count="$len" seek="$off" \
		iflag=count_bytes oflag=seek_bytes conv=notrunc status=none
done
rm -f "$tmp/stale.tar"
phase "stale data written ($((fill >> 20)) MiB)"

# --- 3. GPT + ext4 built from the tree (free blocks keep the stale data) -------
sfdisk -q --wipe never --wipe-partitions never "$disk" <<-EOF
	label: gpt
	start=$((PART_START_MIB * 2048)), size=$((PART_MIB * 2048)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root
EOF
dd if="$disk" of="$part" bs=1M skip="$PART_START_MIB" count="$PART_MIB" status=none
mkfs.ext4 -q -F -L root -d "$root" \
	-E nodiscard,lazy_itable_init=0,lazy_journal_init=1 "$part"
e2fsck -fn "$part" >/dev/null 2>&1 || die "e2fsck failed on v1"
dd if="$part" of="$disk" bs=1M seek="$PART_START_MIB" conv=notrunc status=none
phase "disk.raw: GPT + ext4 written"

# --- 4. v2: same disk, /etc/motd changed in place with debugfs -----------------
debugfs -R "cat /etc/motd" "$part" 2>/dev/null >"$tmp/motd"
echo "pipol bench disk v2" >>"$tmp/motd"
chmod 0644 "$tmp/motd"
debugfs -w -f - "$part" >/dev/null 2>&1 <<-EOF
	cd /etc
	rm motd
	write $tmp/motd motd
EOF
debugfs -R "cat /etc/motd" "$part" 2>/dev/null | grep -q "pipol bench disk v2" || die "debugfs edit failed"
e2fsck -fn "$part" >/dev/null 2>&1 || die "e2fsck failed on v2"
cp --sparse=always "$disk" "$tmp/disk-v2.raw"
dd if="$part" of="$tmp/disk-v2.raw" bs=1M seek="$PART_START_MIB" conv=notrunc status=none
rm -rf --one-file-system "$root" "$part" "$tmp/motd"
phase "disk-v2.raw: /etc/motd changed"

# --- 5. measure, stamp, publish atomically --------------------------------------
stats=$("$PY" - "$disk" "$tmp/disk-v2.raw" <<-'EOF'
	import sys
	C = 4 << 20; Z = bytes(C); n = z = d = 0
	with open(sys.argv[1], 'rb') as a, open(sys.argv[2], 'rb') as b:
	    while True:
	        x, y = a.read(C), b.read(C)
	        if not x: break
	        n += 1; z += x == Z; d += x != y
	print(f"mkdisk: {n} chunks of 4 MiB: {z} all-zero ({100 * z / n:.1f} %), v1/v2 differ in {d}")
EOF
)
printf '%s\n%s\n' "$RECIPE" "$stats" >"$tmp/stamp"
rm -f "$tmp/debootstrap.log"
rm -rf --one-file-system "$out"
mv "$tmp" "$out"; tmp=""
phase "measured and published"
done_msg
echo "mkdisk: total $((SECONDS - t_start))s"
