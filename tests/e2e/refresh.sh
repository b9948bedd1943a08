# refresh: pipol image refresh on a QEMU node of the test network
# (pc-bios): testimg:1 deployed on n1, the site's update run there as
# root (BusyBox's wget fetches a newer build of one of the image's
# packages from a site mirror in the test network, BusyBox's dpkg
# installs it, which rewrites the image's dpkg database), the test
# command passes, the disk is captured into testimg:2 (only the chunks
# the store lacks travel), validated, its packages read and compared:
# the history says which package is newer and how many chunks the two
# versions share, testimg:2 is current, n1 is released. (The paths where
# a refresh keeps the old version are played in tests/shell/refresh.sh.)
PROFILE=pc-bios
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/net/testnet.sh"
. "$TOP/tests/net/e2e_lib.sh"

check "n1: pc-bios node, blank disk, off" net_node n1 52:54:00:99:00:21 "$T/n1.disk" bios -S

# the site's mirror: a newer build of dropbear-bin, which testimg:1
# lists in its dpkg database
old=$(dpkg-query -W -f='${Version}' dropbear-bin)
new=$old+pipol1
mkdir -p "$T/deb/DEBIAN" "$T/deb/usr/share/doc/dropbear-bin" "$T/mirror"
printf 'Package: dropbear-bin\nVersion: %s\nArchitecture: amd64\nMaintainer: pipol tests <root@localhost>\nDescription: a newer build, for the refresh test\n' \
    "$new" > "$T/deb/DEBIAN/control"
echo "$new" > "$T/deb/usr/share/doc/dropbear-bin/pipol-refresh"
dpkg-deb -Zgzip --root-owner-group -b "$T/deb" "$T/mirror/dropbear-bin.deb" > /dev/null
ip netns exec "$NET_NS" busybox httpd -f -p "$NET_IP:8081" -h "$T/mirror" &
MPID=$!
"$P" image packages testimg:1 | grep -qx "dropbear-bin $old amd64" &&
    ok "testimg:1 holds dropbear-bin $old" || notok "testimg:1 holds dropbear-bin $old"

UPD="wget -q -O /tmp/u.deb http://$NET_IP:8081/dropbear-bin.deb && dpkg -i /tmp/u.deb"
TST="[ \"\$(id -u)\" = 0 ] && grep -qx '$new' /usr/share/doc/dropbear-bin/pipol-refresh"
t0=$(date +%s)
pipol image refresh testimg --update "$UPD" --test "$TST" --promote --wait > "$T/refresh.out" 2>&1 &
rpid=$!
for _ in $(seq 9000); do kill -0 "$rpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$rpid" 2>/dev/null && { notok "the refresh ends within 15 min"; kill "$rpid"; }
wait "$rpid"; rc=$?
secs=$(($(date +%s) - t0))
equal "pipol image refresh --promote --wait: exit 0 ($secs s)" "$rc" 0 ||
    { cat "$T/refresh.out" >&2; tr -d '\r' < "$NET_DIR/n1.log" | tail -30 >&2; }
grep -qx "refresh 1: testimg promoted" "$T/refresh.out" && ok "the refresh says testimg promoted" ||
    { notok "the refresh says testimg promoted"; cat "$T/refresh.out" >&2; }
equal "testimg:2 is current" "$("$P" image show testimg | sed -n '1p')" "image:         testimg:2"
"$P" image packages testimg:2 > "$T/pk2"
grep -qx "dropbear-bin $new amd64" "$T/pk2" && ! grep -q "dropbear-bin $old " "$T/pk2" &&
    ok "testimg:2 holds dropbear-bin $new, as its dpkg database says" ||
    { notok "testimg:2 holds dropbear-bin $new"; cat "$T/pk2" >&2; }
equal "testimg:2: the other packages unchanged" "$(grep -vc dropbear "$T/pk2")" \
    "$("$P" image packages testimg:1 | grep -vc dropbear)"
pipol image history testimg > "$T/hist"
grep -E '^ +validate +ok ' "$T/hist" | grep -qF " s  packages: 1 newer (dropbear-bin $old->$new), 2 the same" &&
    ok "history: the validate step names the newer package" ||
    { notok "history: the validate step names the newer package"; cat "$T/hist" >&2; }
shared=$(grep -oE '^1 +1 +2 +promoted .* [0-9]+/[0-9]+' "$T/hist" | grep -oE '[0-9]+/[0-9]+$')
[ -n "$shared" ] && [ "${shared%/*}" -gt 0 ] && [ "${shared%/*}" -lt "${shared#*/}" ] &&
    ok "history: testimg:2 shares $shared chunks with testimg:1" ||
    { notok "history: some but not all chunks shared"; cat "$T/hist" >&2; }
for s in deploy update-test capture validate promote; do
	grep -qE "^ +$s +ok +[0-9]+ s" "$T/hist" || { notok "history: step $s ok"; cat "$T/hist" >&2; }
done
ok "history: deploy, update-test, capture, validate, promote each ok"
echo "refresh figures: $secs s in all, $shared chunks shared; steps:" >&2
grep -E '^ {8}[a-z]' "$T/hist" >&2
[ "$(pipol reservations --all 2>/dev/null | grep -cE ' active .* n1$')" = 0 ] &&
    ok "n1 released" || { notok "n1 released"; pipol reservations --all >&2; }
kill "$MPID" 2>/dev/null; wait "$MPID" 2>/dev/null
net_node_stop n1
kill -0 "$DPID" 2>/dev/null && ok "pipold still runs" || notok "pipold still runs"
