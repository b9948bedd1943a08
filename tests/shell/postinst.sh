#!/bin/bash
# pipol-agent postinstall on a folder holding a small BusyBox system:
# what node mode does in the mounted root after writing a disk. The
# hostname, the user's account, keys and sudo rule, the NFS home line,
# the first-boot hook (systemd and BusyBox flavours), scripts filtered
# by the image's name and run chrooted in name order (site first, then
# the user's rc), their output; a failing, a killed and a hung script
# fail with their name; symbolic links resolve inside the system.
. "$(dirname "$0")/../lib.sh"
A=$B/pipol-agent
BB=/bin/busybox
[ -x "$BB" ] && "$BB" --list | grep -qx wget ||
    { notok "busybox-static with wget (tests/deps.sh installs it)"; exit 0; }

# mkroot DIR: a BusyBox system, root only, an old hostname
mkroot() {
	mkdir -p "$1"/{bin,etc,root,tmp,home,proc,sys,dev}
	cp "$BB" "$1/bin/busybox"
	for c in sh cat echo id ls sleep wget mkdir touch env; do
		ln -s busybox "$1/bin/$c"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' > "$1/etc/passwd"
	printf 'root:x:0:\n' > "$1/etc/group"
	printf 'root:*:19000:0:99999:7:::\n' > "$1/etc/shadow"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\told-name\n::1\tlocalhost\n' > "$1/etc/hosts"
	printf 'old-name\n' > "$1/etc/hostname"
	: > "$1/etc/sudoers"
}
b64() { base64 -w0 < "$1"; }
# order FILE SCRIPT...: an order for image debian12-bios, node n7, user
# alice (uid 10002); each SCRIPT is kind:name:file
order() {
	local out=$1 s kind name file sep= list=; shift
	for s in "$@"; do
		IFS=: read -r kind name file <<< "$s"
		list="$list$sep{\"kind\":\"$kind\",\"name\":\"$name\",\"body\":\"$(b64 "$file")\"}"
		sep=,
	done
	cat > "$out" <<J
{"deployment": 9, "kind": "deploy", "node": "n7", "hostname": "n7",
 "profile": "pc-bios", "bare": false,
 "image": {"name": "debian12-bios", "version": 3},
 "user": "alice", "uid": 10002,
 "ssh_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPipolTestKeyAAAAAAAAAAAAAAAAAAAAAAAAAAAA alice@x\n",
 "nfs_home": ${NFS:-null}, "scripts": [$list]}
J
}

S=$T/s; mkdir -p "$S"
printf '#!/bin/sh\necho "site 10 on $PIPOL_IMAGE for $PIPOL_USER at $PIPOL_NODE"\necho site > /etc/motd\n' > "$S/10-motd"
printf '#!/bin/sh\necho never > /never-uefi\n' > "$S/20-boot.uefi"
printf '#!/bin/sh\necho rc >> /root/ran; id -u\necho to-stderr >&2\n' > "$S/rc"
printf 'echo rc.debian12 without a "#!" line >> /root/ran\n' > "$S/rc.debian12"
printf '#!/bin/sh\necho never > /never-deb\n' > "$S/rc.deb"
printf '#!/bin/sh\necho rc2.bios >> /root/ran; ls /proc/self > /dev/null && echo proc-ok\n' > "$S/rc2.bios"

R=$T/root; mkroot "$R"
mkdir -p "$R/etc/systemd/system"
ln -s /etc/real-hostname "$R/etc/hostname.link"
order "$T/o1" postinstall:10-motd:"$S/10-motd" postinstall:20-boot.uefi:"$S/20-boot.uefi" \
    rc:rc:"$S/rc" rc:rc.debian12:"$S/rc.debian12" rc:rc.deb:"$S/rc.deb" rc:rc2.bios:"$S/rc2.bios"
PIPOL_TOKEN=00ff00ff "$A" postinstall --root "$R" --order "$T/o1" \
    --server http://10.99.0.1:8080 > "$T/out1" 2> "$T/err1"
equal "postinstall: exit 0" $? 0
equal "hostname" "$(cat "$R/etc/hostname")" n7
grep -q "^127.0.1.1	n7$" "$R/etc/hosts" && ! grep -q old-name "$R/etc/hosts" &&
    grep -q "^::1" "$R/etc/hosts" && ok "/etc/hosts: 127.0.1.1 replaced, the rest kept" ||
    notok "/etc/hosts: 127.0.1.1 replaced, the rest kept"
grep -q "PipolTestKey" "$R/root/.ssh/authorized_keys" && ok "root: the user's key" || notok "root: the user's key"
equal "root's .ssh 700, keys 600" "$(stat -c %a "$R/root/.ssh") $(stat -c %a "$R/root/.ssh/authorized_keys")" "700 600"
grep -qx "alice:x:10002:10002:pipol user alice:/home/alice:/bin/sh" "$R/etc/passwd" &&
    grep -qx "alice:x:10002:" "$R/etc/group" && grep -q "^alice:!:" "$R/etc/shadow" &&
    ok "alice's account (passwd, group, shadow)" || notok "alice's account (passwd, group, shadow)"
equal "alice's home, hers" "$(stat -c '%u %a' "$R/home/alice")" "10002 700"
grep -q "PipolTestKey" "$R/home/alice/.ssh/authorized_keys" && ok "alice: her key" || notok "alice: her key"
equal "sudo rule, 0440" "$(stat -c %a "$R/etc/sudoers.d/pipol-alice") $(grep -v '^#' "$R/etc/sudoers.d/pipol-alice")" \
    "440 alice ALL=(ALL) NOPASSWD: ALL"
equal "ready.env: 600, the server and token" "$(stat -c %a "$R/etc/pipol/ready.env") $(grep -c "PIPOL_SERVER='http://10.99.0.1:8080'\|PIPOL_TOKEN='00ff00ff'" "$R/etc/pipol/ready.env")" "600 2"
equal "systemd system: the unit is enabled" "$(readlink "$R/etc/systemd/system/multi-user.target.wants/pipol-ready.service")" \
    /etc/systemd/system/pipol-ready.service
[ ! -e "$R/etc/local.d" ] && ok "systemd system: no local.d hook" || notok "systemd system: no local.d hook"
sh -n "$R/usr/local/sbin/pipol-ready" && ok "the hook is valid sh" || notok "the hook is valid sh"
equal "scripts ran in order, filtered" "$(cat "$R/root/ran")" "rc
rc.debian12 without a #! line
rc2.bios"
[ ! -e "$R/never-uefi" ] && [ ! -e "$R/never-deb" ] && ok "rc.deb and 20-boot.uefi did not run on debian12-bios" ||
    notok "rc.deb and 20-boot.uefi did not run on debian12-bios"
equal "site script ran first, with its environment" "$(head -2 "$T/out1")" "==> 10-motd: exit 0
site 10 on debian12-bios for alice at n7"
grep -qx "0" "$T/out1" && grep -qx to-stderr "$T/out1" && ok "output: both streams, as root" || notok "output: both streams, as root"
grep -qx proc-ok "$T/out1" && ok "scripts see /proc" || notok "scripts see /proc"
equal "nothing left in /tmp" "$(ls -A "$R/tmp")" ""
grep -q " $R/proc " /proc/mounts && notok "bind mounts undone" || ok "bind mounts undone"
# again: nothing doubled
PIPOL_TOKEN=00ff00ff "$A" postinstall --root "$R" --order "$T/o1" --server http://10.99.0.1:8080 > /dev/null 2>&1
# an image without /home: the parent made crossable (0755), the home 0700
R3=$T/root3; mkroot "$R3"; rmdir "$R3/home"
PIPOL_TOKEN=00ff00ff "$A" postinstall --root "$R3" --order "$T/o1" --server http://10.99.0.1:8080 > /dev/null 2>&1
equal "no /home in the image: /home 755, hers 700" "$(stat -c %a "$R3/home") $(stat -c %a "$R3/home/alice")" "755 700"
equal "twice: one passwd line" "$(grep -c ^alice: "$R/etc/passwd")" 1
equal "twice: one key line" "$(grep -c PipolTestKey "$R/root/.ssh/authorized_keys")" 1

# BusyBox init flavour, NFS home, no ready server: local.d hook absent
R2=$T/root2; mkroot "$R2"
NFS='"10.99.0.1:/export/home/alice"' order "$T/o2"
"$A" postinstall --root "$R2" --order "$T/o2" > /dev/null 2>&1
equal "NFS home: fstab line" "$(cat "$R2/etc/fstab")" "10.99.0.1:/export/home/alice /home/alice nfs defaults,_netdev,nofail 0 0"
[ ! -e "$R2/etc/pipol" ] && ok "no --server: no ready hook" || notok "no --server: no ready hook"
PIPOL_TOKEN=abcd "$A" postinstall --root "$R2" --order "$T/o2" --server http://h:1 > /dev/null 2>&1
equal "BusyBox system: the local.d hook" "$(readlink "$R2/etc/local.d/pipol-ready.start")" /usr/local/sbin/pipol-ready

# failures: named, with the status; later scripts do not run
printf '#!/bin/sh\necho failing now\nexit 3\n' > "$S/rc.fail"
printf '#!/bin/sh\nkill -9 $$\n' > "$S/rc.kill"
printf '#!/bin/sh\nsleep 30\n' > "$S/rc.hang"
printf '#!/bin/sh\necho after >> /root/after\n' > "$S/rc.z"
R3=$T/root3; mkroot "$R3"
order "$T/o3" rc:rc.fail:"$S/rc.fail" rc:rc.z:"$S/rc.z"
expect_fail 1 "post-install: rc rc.fail: exit status 3" "$A" postinstall --root "$R3" --order "$T/o3" --image fail
[ ! -e "$R3/root/after" ] && ok "after a failure no later script runs" || notok "after a failure no later script runs"
grep -q "failing now" "$T/.out" && ok "the failing script's output is kept" || notok "the failing script's output is kept"
order "$T/o4" rc:rc.kill:"$S/rc.kill"
expect_fail 1 "post-install: rc rc.kill: killed by signal 9" "$A" postinstall --root "$R3" --order "$T/o4" --image kill
order "$T/o5" rc:rc.hang:"$S/rc.hang"
s0=$SECONDS
expect_fail 1 "post-install: rc rc.hang: still running after 1 s, killed" "$A" postinstall --root "$R3" --order "$T/o5" --image hang --timeout 1
[ $((SECONDS - s0)) -lt 20 ] && ok "a hung script is killed" || notok "a hung script is killed"
pgrep -f "sleep 30" > /dev/null && pgrep -f "sleep 30" | while read -r p; do
	[ "$(readlink /proc/$p/root)" = "$R3" ] && echo leftover; done | grep -q leftover &&
    notok "the hung script's processes are gone" || ok "the hung script's processes are gone"
# links in the system resolve inside it
R4=$T/root4; mkroot "$R4"
rm "$R4/etc/hostname"; ln -s /etc/hostname.real "$R4/etc/hostname"
echo keep > "$T/outside"; ln -sf "$T/outside" "$R4/etc/hosts"
expect_fail 1 "post-install: /etc/hosts: No such file or directory" \
    "$A" postinstall --root "$R4" --order "$T/o2"
equal "a link in the system resolves inside it" "$(cat "$R4/etc/hostname.real")" n7
equal "a link out of the system does not escape" "$(cat "$T/outside")" keep
# bad input
echo '{"scripts": [' > "$T/bad"
expect_fail 3 "$T/bad: not a JSON order" "$A" postinstall --root "$R4" --order "$T/bad"
expect_fail 2 "--root and --order are needed" "$A" postinstall --order "$T/o2"
order "$T/o6" rc:rc:"$S/rc"
sed -i 's/"body":"[^"]*"/"body":"#!!"/' "$T/o6"
expect_fail 3 "order: rc rc: its body is not base64" "$A" postinstall --root "$R3" --order "$T/o6"

# the scripts get the deployment environment's resolver (here the
# host's), over a file or at the target of a link into /run; after them
# the system's own is back
if [ -s /etc/resolv.conf ]; then
	printf '#!/bin/sh\ncat /etc/resolv.conf\n' > "$S/rc.dns"
	order "$T/o7" rc:rc.dns:"$S/rc.dns"
	R5=$T/root5; mkroot "$R5"; mkdir -p "$R5/run"
	ln -s ../run/systemd/resolve/stub-resolv.conf "$R5/etc/resolv.conf"
	"$A" postinstall --root "$R5" --order "$T/o7" --image dns > "$T/out7" 2>&1
	equal "resolver, a link into /run: the scripts see ours" "$(sed 1d "$T/out7")" "$(cat /etc/resolv.conf)"
	equal "... /run as it was, nothing mounted" "$(ls -A "$R5/run") $(grep -c " $R5/" /proc/mounts)" " 0"
	R6=$T/root6; mkroot "$R6"; echo 'nameserver 192.0.2.53' > "$R6/etc/resolv.conf"
	"$A" postinstall --root "$R6" --order "$T/o7" --image dns > "$T/out8" 2>&1
	equal "resolver, a file: the scripts see ours" "$(sed 1d "$T/out8")" "$(cat /etc/resolv.conf)"
	equal "... the system's own after" "$(cat "$R6/etc/resolv.conf") $(grep -c " $R6/" /proc/mounts)" "nameserver 192.0.2.53 0"
fi
