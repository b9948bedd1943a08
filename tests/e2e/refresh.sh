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

# the update notes its boot; the test passes only in another boot (the
# node rebooted in between) and removes the note
UPD="wget -q -O /tmp/u.deb http://$NET_IP:8081/dropbear-bin.deb && dpkg -i /tmp/u.deb && rm /tmp/u.deb && cat /proc/sys/kernel/random/boot_id > /root/pipol-boot"
TST="[ \"\$(id -u)\" = 0 ] && grep -qx '$new' /usr/share/doc/dropbear-bin/pipol-refresh && [ -s /root/pipol-boot ] && [ \"\$(cat /proc/sys/kernel/random/boot_id)\" != \"\$(cat /root/pipol-boot)\" ] && rm /root/pipol-boot"
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
pipol job log 1 n1 --stderr > "$T/joberr" 2>&1
b1=$(grep -oE 'update done, rebooting \(boot [0-9a-f-]{36}\)' "$T/joberr" | grep -oE '[0-9a-f-]{36}')
b2=$(grep -oE 'up again \(boot [0-9a-f-]{36}\)' "$T/joberr" | grep -oE '[0-9a-f-]{36}')
[ -n "$b1" ] && [ -n "$b2" ] && [ "$b1" != "$b2" ] &&
    ok "the node rebooted between the update and the test (boots ${b1%%-*}, ${b2%%-*})" ||
    { notok "the node rebooted between the update and the test"; cat "$T/joberr" >&2; }
# bare: testimg:2 holds nothing of the admin (named root here) or of
# pipol's hooks; read from its base, the root partition by debugfs
raw=$("$P" image base testimg:2)
off=$(($(sfdisk -d "$raw" | grep -oE 'start= *[0-9]+' | sed -n 2p | grep -oE '[0-9]+') * 512))
img1=$("$P" image base testimg:1)
incat() { debugfs -R "cat $2" "$1?offset=$off" 2>/dev/null; }
inls() { debugfs -R "ls -l $2" "$1?offset=$off" 2>&1; }
equal "testimg:2: /etc/passwd as testimg:1's" "$(incat "$raw" /etc/passwd | md5sum)" "$(incat "$img1" /etc/passwd | md5sum)"
equal "testimg:2: /etc/hostname as testimg:1's" "$(incat "$raw" /etc/hostname)" "$(incat "$img1" /etc/hostname)"
equal "testimg:2: root's keys as testimg:1's" "$(incat "$raw" /root/.ssh/authorized_keys | md5sum)" "$(incat "$img1" /root/.ssh/authorized_keys | md5sum)"
left=$(for f in /etc/pipol /usr/local/sbin/pipol-job /usr/local/sbin/pipol-job-run /usr/local/sbin/pipol-ready \
    /etc/local.d/pipol-job.start /etc/local.d/pipol-ready.start /var/lib/pipol-job /root/pipol-boot /home/root; do
	inls "$raw" "$f" | grep -q 'File not found' || echo "$f"; done)
equal "testimg:2: no hook, token, note or home left" "$left" ""
for s in deploy update-test capture validate promote; do
	grep -qE "^ +$s +ok +[0-9]+ s" "$T/hist" || { notok "history: step $s ok"; cat "$T/hist" >&2; }
done
ok "history: deploy, update-test, capture, validate, promote each ok"
echo "refresh figures: $secs s in all, $shared chunks shared; steps:" >&2
grep -E '^ {8}[a-z]' "$T/hist" >&2
[ "$(pipol reservations --all 2>/dev/null | grep -cE ' active .* n1$')" = 0 ] &&
    ok "n1 released" || { notok "n1 released"; pipol reservations --all >&2; }

# an update that changes nothing, the default test (a smoke command as
# nobody, an SSH server listening after the reboot): testimg:3 shares
# almost every chunk with testimg:2
# (n1 is off since its release: QEMU quit; on again, paused, as at first).
# The release queued n1's power off for the reaper's next turn (up to
# 10 s later): wait until it is done, so that it cannot quit the QEMU
# started below for the next refresh
ends() { psql -X -q -t -A -h "$T/state/pg" -U pipol -d pipol -c "select count(*) from node_end_actions a join nodes n on n.id = a.node_id where n.name = 'n1'" 2>&1; }
for _ in $(seq 300); do [ "$(ends)" = 0 ] && break; sleep 0.1; done
equal "n1's end after the release: done" "$(ends)" 0
net_node_stop n1
check "n1 on again, paused" net_node n1 52:54:00:99:00:21 "$T/n1.disk" bios -S
t0=$(date +%s)
pipol image refresh testimg --update true --wait > "$T/refresh2.out" 2>&1; rc=$?
secs=$(($(date +%s) - t0))
equal "a refresh that changes nothing, the default test: exit 0 ($secs s)" "$rc" 0 ||
    { cat "$T/refresh2.out" >&2; pipol image history testimg >&2; tr -d '\r' < "$NET_DIR/n1.log" | tail -30 >&2; }
pipol image history testimg > "$T/hist2"
shared=$(grep -oE '^2 +2 +3 +validated .* [0-9]+/[0-9]+' "$T/hist2" | grep -oE '[0-9]+/[0-9]+$')
[ -n "$shared" ] && [ $((${shared%/*} * 10)) -ge $((${shared#*/} * 8)) ] &&
    ok "testimg:3 (validated, not promoted) shares $shared chunks with testimg:2" ||
    { notok "testimg:3 shares at least 80 % of its chunks"; cat "$T/hist2" >&2; }
grep -E '^ +validate +ok ' "$T/hist2" | head -1 | grep -qF "packages: 0 newer, 3 the same" &&
    ok "... its packages: 0 newer, 3 the same" || { notok "... its packages the same"; cat "$T/hist2" >&2; }
equal "testimg:2 stays current" "$("$P" image show testimg | sed -n '1p')" "image:         testimg:2"
echo "refresh figures, nothing changed: $secs s in all, $shared chunks shared" >&2
kill "$MPID" 2>/dev/null; wait "$MPID" 2>/dev/null
net_node_stop n1
kill -0 "$DPID" 2>/dev/null && ok "pipold still runs" || notok "pipold still runs"
