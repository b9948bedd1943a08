#!/bin/bash
# build.sh -- the deployment environment of one flavour: Debian's kernel
# (vmlinuz) and an initramfs (initrd.img) holding BusyBox, pipol-agent
# and kexec-tools' kexec with their exact shared-library closures, the
# NIC and disk modules in dependency order, and /init. Nothing is
# installed on this machine: the kernel and kexec-tools packages are
# fetched with apt-get download (kept in a cache, so a rerun needs no
# network) and unpacked in a scratch folder.
# The initramfs is reproducible: same inputs, same bytes.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)

usage() {
	echo "usage: bootenv/build.sh [--agent FILE] [--cache DIR] FLAVOUR OUTDIR"
}
help() {
	usage
	cat <<'EOF'

Build the deployment environment of FLAVOUR into OUTDIR/vmlinuz and
OUTDIR/initrd.img (and OUTDIR/release, one line naming the kernel).
pipold serves STATE/bootenv/FLAVOUR/FILE at /bootenv/FLAVOUR/FILE.

flavours:
  cloud      linux-image-cloud-amd64: virtio only, LZ4, boots in seconds
             under QEMU without KVM (test and virtual nodes)
  generic    linux-image-amd64: real hardware (e1000e, igb, ixgbe, ahci...)

options:
  --agent FILE   pipol-agent to put in (default build/pipol-agent)
  --cache DIR    where the .debs are kept (default $PIPOL_BOOTENV_CACHE,
                 else /var/cache/pipol/bootenv when writable, else
                 ${XDG_CACHE_HOME:-~/.cache}/pipol/bootenv)
  --help         this text

environment:
  SOURCE_DATE_EPOCH   the mtime of every file of the initramfs (default 0)
  BUSYBOX             the static BusyBox to put in (default /bin/busybox,
                      from the busybox-static package)
EOF
}

die() { echo "bootenv: $*" >&2; exit 1; }

AGENT=$TOP/build/pipol-agent
CACHE=${PIPOL_BOOTENV_CACHE:-}
while [ $# -gt 0 ]; do
	case $1 in
	--help) help; exit 0 ;;
	--agent) [ $# -ge 2 ] || { usage >&2; exit 2; }; AGENT=$2; shift 2 ;;
	--cache) [ $# -ge 2 ] || { usage >&2; exit 2; }; CACHE=$2; shift 2 ;;
	-*) echo "bootenv: $1: unknown option" >&2; usage >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -eq 2 ] || { usage >&2; exit 2; }
FLAVOUR=$1 OUT=$2
case $FLAVOUR in
cloud) META=linux-image-cloud-amd64 SUFFIX=cloud-amd64 ;;
generic) META=linux-image-amd64 SUFFIX=amd64 ;;
*) echo "bootenv: $FLAVOUR: not a flavour (cloud, generic)" >&2; exit 2 ;;
esac
BUSYBOX=${BUSYBOX:-/bin/busybox}
SDE=${SOURCE_DATE_EPOCH:-0}
case $SDE in ''|*[!0-9]*) die "SOURCE_DATE_EPOCH $SDE: not a number" ;; esac
export LC_ALL=C

for tool in apt-get apt-cache dpkg-deb depmod modprobe cpio readelf strip; do
	command -v "$tool" > /dev/null ||
	    die "$tool: not found (tests/deps.sh installs kmod, cpio, binutils)"
done
[ -x "$AGENT" ] || die "$AGENT: no such program (run make first)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX: not found (install busybox-static)"
readelf -l "$BUSYBOX" | grep -q 'program interpreter' &&
    die "$BUSYBOX: dynamically linked (install busybox-static)"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if [ -z "$CACHE" ]; then
	CACHE=/var/cache/pipol/bootenv
	mkdir -p "$CACHE" 2>/dev/null && [ -w "$CACHE" ] ||
	    CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/pipol/bootenv
fi
mkdir -p "$CACHE"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pipol-bootenv.XXXXXX")
DL=
trap 'rm -rf "$WORK" ${DL:+"$DL"}' EXIT

# --- the kernel package: the metapackage names today's ABI (-56 ...)
# cached_deb: the newest .deb of this flavour already in the cache
cached_deb() {
	find "$CACHE" -maxdepth 1 -name 'linux-image-*.deb' -printf '%f\n' |
	    grep -E "^linux-image-[0-9.]+-[0-9]+-${SUFFIX}_" | sort -V | tail -n 1
}
# download PACKAGE: into the cache, whole or not at all (a folder of
# its own: make -j builds two flavours at once)
download() {
	DL=$(mktemp -d "$CACHE/.dl.XXXXXX")
	( cd "$DL" && apt-get -q -o APT::Sandbox::User=root download "$1" ) \
	    > "$WORK/apt.log" 2>&1 || return 1
	mv "$DL"/*.deb "$CACHE/" && rmdir "$DL"
}

KPKG=$(apt-cache depends "$META" 2>/dev/null |
    awk '/Depends: linux-image-/ { print $2; exit }')
DEB=
if [ -n "$KPKG" ]; then
	KVERSION=$(apt-cache show --no-all-versions "$KPKG" 2>/dev/null |
	    awk '/^Version:/ { print $2; exit }')
	[ -n "$KVERSION" ] && [ -f "$CACHE/${KPKG}_${KVERSION}_amd64.deb" ] &&
	    DEB=$CACHE/${KPKG}_${KVERSION}_amd64.deb
	if [ -z "$DEB" ]; then
		echo "bootenv: downloading $KPKG $KVERSION" >&2
		if ! download "$KPKG"; then
			# the package lists may be older than the mirror
			[ "$(id -u)" -eq 0 ] && apt-get update -qq > /dev/null 2>&1 || true
			download "$KPKG" || { cat "$WORK/apt.log" >&2; die "$KPKG: apt-get download failed"; }
		fi
		DEB=$(find "$CACHE" -maxdepth 1 -name "${KPKG}_*.deb" -printf '%p\n' |
		    sort -V | tail -n 1)
	fi
else
	f=$(cached_deb)
	[ -n "$f" ] || die "$META: unknown to apt-cache and no kernel in $CACHE (apt-get update?)"
	echo "bootenv: $META unknown to apt-cache; using the cached $f" >&2
	DEB=$CACHE/$f
fi
KPKG=$(dpkg-deb -f "$DEB" Package)
KVERSION=$(dpkg-deb -f "$DEB" Version)
KVER=${KPKG#linux-image-}

# --- kexec-tools (kexec -l, initrd/kexec.c's kexec_load path) and the
# Xen libraries its Debian build links (libxenctrl and what it needs):
# every libxen* package kexec-tools depends on, recursively; ldd below
# takes only the closure of /sbin/kexec from them. The same cache.
# apt-cache costs seconds a call on a loaded machine: one call a level.
KX_PKGS=kexec-tools todo=kexec-tools
while [ -n "$todo" ]; do
	next=
	# shellcheck disable=SC2086
	for d in $(apt-cache depends $todo 2>/dev/null |
	    awk '$1 == "Depends:" && $2 ~ /^libxen/ { print $2 }' | sort -u); do
		case " $KX_PKGS " in
		*" $d "*) ;;
		*) KX_PKGS="$KX_PKGS $d" next="$next $d" ;;
		esac
	done
	todo=$next
done
# PACKAGE VERSION, apt-cache's candidates
# shellcheck disable=SC2086
apt-cache show --no-all-versions $KX_PKGS 2>/dev/null |
    awk '/^Package:/ { p = $2 } /^Version:/ { print p, $2 }' > "$WORK/kx.versions"
if [ "$KX_PKGS" = kexec-tools ] && [ ! -s "$WORK/kx.versions" ]; then
	# apt-cache knows nothing: what the cache holds
	KX_PKGS=$(find "$CACHE" -maxdepth 1 \( -name 'kexec-tools_*.deb' -o \
	    -name 'libxen*.deb' \) -printf '%f\n' | cut -d_ -f1 | sort -u)
	[ -n "$KX_PKGS" ] || die "kexec-tools: unknown to apt-cache and not in $CACHE (apt-get update?)"
fi
KX=$WORK/kexec-tools
for p in $KX_PKGS; do
	# apt-cache's candidate in the cache (downloaded once), else the
	# newest cached .deb of p
	v=$(awk -v p="$p" '$1 == p { print $2; exit }' "$WORK/kx.versions")
	f=$CACHE/${p}_${v/:/%3a}_amd64.deb
	if [ -n "$v" ] && [ ! -f "$f" ]; then
		echo "bootenv: downloading $p $v" >&2
		download "$p" || { cat "$WORK/apt.log" >&2; die "$p: apt-get download failed"; }
	fi
	[ -n "$v" ] && [ -f "$f" ] ||
	    f=$(find "$CACHE" -maxdepth 1 -name "${p}_*_amd64.deb" -printf '%p\n' |
		sort -V | tail -n 1)
	[ -n "$f" ] || die "$p: unknown to apt-cache and not in $CACHE (apt-get update?)"
	dpkg-deb -x "$f" "$KX"
	[ "$p" = kexec-tools ] && KXVERSION=$(dpkg-deb -f "$f" Version)
done
[ -x "$KX/sbin/kexec" ] || die "kexec-tools: no sbin/kexec in the package"

K=$WORK/kernel
dpkg-deb -x "$DEB" "$K"
[ -f "$K/boot/vmlinuz-$KVER" ] || die "$DEB: no boot/vmlinuz-$KVER"
CONFIG=$K/boot/config-$KVER
if grep -qx 'CONFIG_RD_ZSTD=y' "$CONFIG" && command -v zstd > /dev/null; then
	# 23 MB of cpio on 2 cores: -12 makes 8.8 MB in 1.8 s, -19 7.6 MB
	# in 15.6 s (and the boot test builds twice); the kernel unpacks
	# either in 0.4 s under TCG. Multi-threaded zstd gives the same
	# bytes whatever the thread count.
	COMPRESS="zstd -q -12 -T0 -c" CODEC=zstd
elif grep -qx 'CONFIG_RD_GZIP=y' "$CONFIG"; then
	COMPRESS="gzip -9 -n -c" CODEC=gzip
else
	die "$KPKG: its kernel takes neither a zstd nor a gzip initramfs"
fi
# modules.dep is made by the package's postinst, not shipped: make it
depmod -b "$K" "$KVER"

# --- the initramfs tree
R=$WORK/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,root,mnt} \
    "$R"/{etc/pipol,usr/share/udhcpc,lib64,lib/x86_64-linux-gnu}
install -m 755 "$BUSYBOX" "$R/bin/busybox"
"$BUSYBOX" --list-full | while read -r a; do
	[ "$a" = bin/busybox ] || [ -e "$R/$a" ] || ln -s /bin/busybox "$R/$a"
done
install -m 755 "$TOP/bootenv/init" "$R/init"
install -m 755 "$TOP/bootenv/udhcpc.script" "$R/usr/share/udhcpc/default.script"
strip --strip-unneeded -o "$R/usr/bin/pipol-agent" "$AGENT"
chmod 755 "$R/usr/bin/pipol-agent"

install -m 755 "$KX/sbin/kexec" "$R/sbin/kexec"

# the shared-library closures of the agent and of kexec (its Xen
# libraries from the unpacked packages, the rest from this machine, as
# the agent's) and the loader, at the paths the loader searches without
# an ld.so.cache
KXLIB=$KX/usr/lib/x86_64-linux-gnu:$KX/lib/x86_64-linux-gnu
ldd "$AGENT" > "$WORK/ldd"
LD_LIBRARY_PATH=$KXLIB ldd "$KX/sbin/kexec" >> "$WORK/ldd"
grep 'not found' "$WORK/ldd" && die "a library of pipol-agent or kexec not found"
awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' "$WORK/ldd" |
    sort -u > "$WORK/libs"
grep -q '^/lib64/ld-linux-x86-64.so.2$' "$WORK/libs" || die "$AGENT: no loader in ldd's answer"
while read -r lib; do
	case $lib in
	"$KX"/lib/x86_64-linux-gnu/*|"$KX"/usr/lib/x86_64-linux-gnu/*)
		dst=/lib/x86_64-linux-gnu/${lib##*/} ;;
	/lib64/*|/lib/x86_64-linux-gnu/*) dst=$lib ;;
	/usr/lib/x86_64-linux-gnu/*) dst=/lib/x86_64-linux-gnu/${lib##*/} ;;
	*) die "$lib: a library outside the multiarch folders" ;;
	esac
	install -m 755 "$(readlink -f "$lib")" "$R$dst"
done < "$WORK/libs"

# the modules, dependencies first, each once
mkdir -p "$WORK/modprobe.d"
: > "$WORK/order"
while read -r m; do
	m=${m%%#*}
	m=${m//[[:space:]]/}
	[ -n "$m" ] || continue
	if ! modprobe -C "$WORK/modprobe.d" -d "$K" -S "$KVER" --show-depends "$m" \
	    > "$WORK/dep" 2> /dev/null; then
		echo "bootenv: $m: not in $KPKG (skipped)" >&2
		continue
	fi
	if grep -q '^builtin ' "$WORK/dep"; then
		echo "bootenv: $m: built into $KPKG" >&2
		continue
	fi
	awk '$1 == "insmod" { print $2 }' "$WORK/dep" | while read -r p; do
		p=${p#"$K"}
		grep -qxF "$p" "$WORK/order" || echo "$p" >> "$WORK/order"
	done
done < "$TOP/bootenv/modules.list"
while read -r p; do
	mkdir -p "$R$(dirname "$p")"
	install -m 644 "$K$p" "$R$p"
done < "$WORK/order"
cp "$WORK/order" "$R/etc/pipol/modules"
# busybox modprobe in the rescue shell
cp "$K/lib/modules/$KVER"/modules.{builtin,builtin.modinfo,order} \
    "$R/lib/modules/$KVER/"
depmod -b "$R" "$KVER"

echo "pipol bootenv $FLAVOUR, $KPKG $KVERSION, kexec-tools $KXVERSION" > "$R/etc/pipol/release"
echo "root:x:0:0:root:/root:/bin/sh" > "$R/etc/passwd"
echo "root:x:0:" > "$R/etc/group"
echo "127.0.0.1 localhost" > "$R/etc/hosts"
echo "hosts: files dns" > "$R/etc/nsswitch.conf"
cat > "$R/etc/profile" <<'EOF'
PS1='pipol-rescue:$PWD# '
echo "pipol: rescue shell; the agent's log is /run/pipol-agent.log"
EOF

# the closure is complete: the agent starts in the tree (root only)
if [ "$(id -u)" -eq 0 ]; then
	chroot "$R" /usr/bin/pipol-agent --help > /dev/null 2> "$WORK/chroot.err" ||
	    { cat "$WORK/chroot.err" >&2; die "pipol-agent does not start in the initramfs"; }
	chroot "$R" /sbin/kexec --version > /dev/null 2> "$WORK/chroot.err" ||
	    { cat "$WORK/chroot.err" >&2; die "kexec does not start in the initramfs"; }
fi

# --- reproducible archive: fixed modes, owners, mtimes, order
find "$R" -type d -exec chmod 755 {} +
find "$R" -type f -perm /111 -exec chmod 755 {} +
find "$R" -type f ! -perm /111 -exec chmod 644 {} +
find "$R" -exec touch -h -d "@$SDE" {} +
( cd "$R" && find . -mindepth 1 -printf '%P\0' | sort -z |
    cpio --null --create --format=newc --reproducible --owner=0:0 --quiet ) |
    $COMPRESS > "$WORK/initrd.img"

cp "$K/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
echo "$KPKG $KVERSION $CODEC" > "$WORK/release"
for f in vmlinuz initrd.img release; do
	mv "$WORK/$f" "$OUT/.$f.tmp"
	mv "$OUT/.$f.tmp" "$OUT/$f"
done
echo "bootenv: $OUT: vmlinuz $(stat -c %s "$OUT/vmlinuz") bytes ($KPKG $KVERSION)," \
    "initrd.img $(stat -c %s "$OUT/initrd.img") bytes ($CODEC, $(wc -l < "$WORK/order") modules," \
    "$(du -sb "$R" | cut -f1) bytes unpacked)"
