#!/bin/bash
# deps.sh -- install the Debian packages a target needs, only the missing
# ones (a fresh CI machine has none of what a developer added by hand).
# Usage: tests/deps.sh test|bench|demo
set -eu
pkgs_build="make gcc libc6-dev pkg-config libdeflate-dev libzstd-dev zlib1g-dev libssl-dev libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libpq-dev postgresql"
pkgs_test="$pkgs_build clang libclang-rt-14-dev gzip pigz zstd util-linux coreutils curl iproute2 man-db qemu-system-x86 ipmitool openipmi dnsmasq-base busybox-static netcat-openbsd"
# the boot tests: the test image (tests/images), QEMU nodes on the test
# network (tests/net); busybox-static (not busybox: they conflict) gives
# bootenv its static binary and the tests their udhcpc
pkgs_test="$pkgs_test syslinux syslinux-common syslinux-efi mtools dosfstools e2fsprogs fdisk kmod cpio dropbear-bin openssh-client ovmf ipxe jq"
# mac-efi32 (32-bit EFI on a 64-bit CPU): 32-bit OVMF, IA32 GRUB for
# pipold's network loader and the mac layout of the test image
pkgs_test="$pkgs_test ovmf-ia32 grub-efi-ia32-bin"
# metrics: tests/shell/metrics.sh parses /metrics with Prometheus' parser
pkgs_test="$pkgs_test python3-prometheus-client"
# image packages: rpm databases read (imagestore/packages.c) and made
# (tests/shell/image_packages.sh) by Debian's rpm
pkgs_test="$pkgs_test rpm"
# virtual nodes: qcow2 overlays on image bases (tests/shell/image_bases.sh)
pkgs_test="$pkgs_test qemu-utils"
# rack caches: pipol cache config run by a real nginx (tests/shell/rack_cache.sh)
pkgs_test="$pkgs_test nginx-light"
# several pipold behind a load balancer (tests/shell/multi.sh)
pkgs_test="$pkgs_test haproxy"
# web: the pages in a real headless browser (tests/web/web_test.py)
pkgs_test="$pkgs_test chromium chromium-driver python3-selenium"
pkgs_bench="$pkgs_test debootstrap e2fsprogs fdisk bc netcat-openbsd iproute2 nginx-light"
# make demo: the reference images (imagestore/refimg.sh), the timeline
pkgs_demo="$pkgs_test debootstrap grub-pc-bin grub-efi-amd64-bin bc"
case "${1:-test}" in
test) want=$pkgs_test ;;
demo) want=$pkgs_demo ;;
bench) want=$pkgs_bench ;;
*) echo "usage: $0 test|bench|demo" >&2; exit 2 ;;
esac
missing=
# what an installed package provides counts (busybox-static provides
# busybox: installing busybox would remove it)
provided=" $(dpkg-query -W -f='${db:Status-Status} ${Provides}\n' 2>/dev/null |
    sed -n 's/^installed //p' | sed 's/ ([^)]*)//g' | tr -d ',' | tr '\n' ' ') "
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    case $provided in *" $p "*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing (run as root, or install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || true
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
