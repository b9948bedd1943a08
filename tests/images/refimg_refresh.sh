#!/bin/bash
# refimg_refresh.sh -- pipol image refresh on the Debian 12 reference
# image, on a QEMU node of the test network (issue 14 item 6's showing):
#
#   1. the reference image as bookworm was released (refimg.sh
#      --point-release: no bookworm-updates, no bookworm-security; an
#      image that has aged) into the store as debian12:1;
#   2. a site mirror inside the test network (busybox httpd): the
#      packages apt would bring that image up to date with, fetched on
#      this machine by apt itself (--download-only, the image's dpkg
#      status, this machine's package lists), indexed by apt-ftparchive;
#   3. pipol image refresh debian12 --promote: the node deploys
#      debian12:1 bare, apt-get dist-upgrade from the site mirror as
#      root, a reboot, the default test (a smoke command as nobody, an
#      SSH server listening), the capture, validation: the history's
#      packages line says how many packages are newer, debian12:2 is
#      current and holds them;
#   4. the same refresh again on the now current disk (nothing to
#      upgrade): the new version shares almost every chunk with the
#      previous one (the figure printed).
#
# Not in the default suite (make test): the first run debootstraps (about
# 5 minutes), and under TCG the Debian system boots twice a refresh and
# dpkg is slow. Prints the figures on stderr. Needs root.
NET_MEM=${NET_MEM:-1024}
NET_TIMEOUT=${NET_TIMEOUT:-7200}
PROFILE=pc-bios
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/net/testnet.sh"
. "$TOP/tests/net/e2e_lib.sh"

for p in apt-utils; do	# apt-ftparchive
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" > /dev/null
done
IMG=$B/refimg/debian12-bios-point.img
mkdir -p "$B/refimg"
"$TOP/imagestore/refimg.sh" --point-release bios "$IMG" > "$T/meta" 2> "$T/refimg.err" ||
    { notok "the reference image as released (refimg.sh --point-release)"; tail "$T/refimg.err" >&2; exit 1; }
meta=(); for m in $(cat "$T/meta"); do meta+=(--meta "$m"); done
"$P" image create debian12 --from "$IMG" "${meta[@]}" > /dev/null &&
    "$P" image validate debian12:1 > /dev/null && "$P" image promote debian12:1 > /dev/null &&
    ok "debian12:1: the reference image as bookworm was released" ||
    { notok "debian12:1 in the store"; exit 1; }

# the site mirror: what apt would upgrade that image with
off=$(($(sfdisk -d "$IMG" | grep -oE 'start= *[0-9]+' | head -1 | grep -oE '[0-9]+') * 512))
debugfs -R 'cat /var/lib/dpkg/status' "$IMG?offset=$off" > "$T/status" 2>/dev/null
mkdir -p "$T/mirror/partial"
apt-get -q -o Dir::State::status="$T/status" -o Dir::Cache::archives="$T/mirror" \
    -o Debug::NoLocking=1 --download-only -y dist-upgrade > "$T/dl.log" 2>&1 ||
    { notok "apt-get --download-only dist-upgrade for debian12:1"; tail "$T/dl.log" >&2; exit 1; }
rm -rf "$T/mirror/partial" "$T/mirror/lock"
ndeb=$(find "$T/mirror" -name '*.deb' | wc -l)
[ "$ndeb" -gt 0 ] && ok "the site mirror: $ndeb packages newer than debian12:1's ($(du -sm "$T/mirror" | cut -f1) MiB)" ||
    { notok "the site mirror has packages to upgrade with"; exit 1; }
(cd "$T/mirror" && apt-ftparchive packages . > Packages && apt-ftparchive release . > Release)
ip netns exec "$NET_NS" busybox httpd -f -p "$NET_IP:8081" -h "$T/mirror" &
MPID=$!

truncate -s 2100M "$T/deb.disk"
check "n1: pc-bios node, blank 2 GiB disk, $NET_MEM MiB" net_node n1 52:54:00:99:00:21 "$T/deb.disk" bios -S

# the site's update command: the site mirror only, then nothing of it left
UPD="echo 'deb [trusted=yes] http://$NET_IP:8081/ ./' > /etc/apt/pipol-site.list && mkdir -p /tmp/none && \
o='-o Dir::Etc::SourceList=/etc/apt/pipol-site.list -o Dir::Etc::SourceParts=/tmp/none' && \
apt-get -q \$o update && DEBIAN_FRONTEND=noninteractive apt-get -q -y \$o \
-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold dist-upgrade; \
st=\$?; rm -f /etc/apt/pipol-site.list /var/lib/apt/lists/${NET_IP}_*; apt-get clean; exit \$st"

# refresh NAME: one refresh with UPD and the default test, its figures
refresh() {
	local t0=$(date +%s) rc
	pipol image refresh debian12 --update "$UPD" --promote --wait > "$T/$1.out" 2>&1; rc=$?
	SECS=$(($(date +%s) - t0))
	pipol image history debian12 > "$T/$1.hist"
	equal "$1: pipol image refresh --promote --wait: exit 0 ($SECS s)" "$rc" 0 ||
	    { cat "$T/$1.out" "$T/$1.hist" >&2; tr -d '\r' < "$NET_DIR/n1.log" | tail -40 >&2; }
	echo "$1: $SECS s in all; steps:" >&2
	grep -E '^ {8}[a-z]' "$T/$1.hist" | sed -n '1,5p' >&2
}

refresh refresh1
equal "debian12:2 is current" "$("$P" image show debian12 | sed -n '1p')" "image:         debian12:2"
line=$(grep -E '^ +validate +ok ' "$T/refresh1.hist" | head -1)
newer=$(echo "$line" | grep -oE 'packages: [0-9]+ newer' | grep -oE '[0-9]+')
[ -n "$newer" ] && [ "$newer" -gt 0 ] && ok "refresh 1: $newer packages newer" ||
    { notok "refresh 1: packages newer"; cat "$T/refresh1.hist" >&2; }
"$P" image packages debian12:2 > "$T/pk2"
stale=0
for f in "$T"/mirror/*.deb; do
	p=$(dpkg-deb -f "$f" Package) v=$(dpkg-deb -f "$f" Version)
	grep -q "^$p $v " "$T/pk2" || { stale=$((stale + 1)); echo "not in debian12:2: $p $v" >&2; }
done
equal "debian12:2 holds every package of the site mirror, at its version" "$stale" 0
pipol job log 1 n1 --stderr 2>&1 | grep -E 'rebooting|up again' >&2
s1=$(grep -oE '^1 +1 +2 +promoted .* [0-9]+/[0-9]+' "$T/refresh1.hist" | grep -oE '[0-9]+/[0-9]+$')
echo "refresh 1 figures: $SECS s, debian12:2 shares $s1 chunks with debian12:1; $line" >&2

# (n1 is off since its release: QEMU quit; on again, paused, as at first)
net_node_stop n1
check "n1 on again, paused" net_node n1 52:54:00:99:00:21 "$T/deb.disk" bios -S
refresh refresh2
s2=$(grep -oE '^2 +2 +3 +promoted .* [0-9]+/[0-9]+' "$T/refresh2.hist" | grep -oE '[0-9]+/[0-9]+$')
[ -n "$s2" ] && [ $((${s2%/*} * 100)) -ge $((${s2#*/} * 90)) ] &&
    ok "refresh 2, nothing to upgrade: debian12:3 shares $s2 chunks with debian12:2" ||
    { notok "refresh 2: at least 90 % of the chunks shared"; cat "$T/refresh2.hist" >&2; }
line=$(grep -E '^ +validate +ok ' "$T/refresh2.hist" | head -1)
echo "$line" | grep -qE 'packages: 0 newer' && ok "refresh 2: 0 packages newer" ||
    { notok "refresh 2: 0 packages newer"; echo "$line" >&2; }
echo "refresh 2 figures: $SECS s, debian12:3 shares $s2 chunks with debian12:2; $line" >&2
kill "$MPID" 2>/dev/null; wait "$MPID" 2>/dev/null
net_node_stop n1
