#!/bin/bash
# The deployment environment booted for real: a QEMU node (TCG when
# there is no KVM) boots the cloud kernel and initramfs that pipold
# serves at /bootenv/cloud/, with the command line of its /boot/MAC
# deploy script; its /init brings up virtio-net through DHCP (QEMU's
# user-mode network: 10.0.2.2 is this machine's loopback, where pipold
# listens), pipol-agent writes the virtio disk and reports, and the node
# reboots (-no-reboot: QEMU exits). A corrupt chunk: the agent reports
# failed and the node keeps a rescue shell instead of rebooting. The
# rescue script's environment touches no disk. pipold serves nothing
# but STATE/bootenv/FLAVOUR/FILE. A rebuild gives the same bytes.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"

BE=$B/bootenv/cloud
if [ ! -s "$BE/initrd.img" ] || [ ! -s "$BE/vmlinuz" ]; then
	"$TOP/bootenv/build.sh" --agent "$A" cloud "$BE" > /dev/null 2> "$T/build.err" ||
	    { notok "bootenv/build.sh cloud"; cat "$T/build.err" >&2; exit 1; }
fi
ok "the cloud bootenv: vmlinuz $(stat -c %s "$BE/vmlinuz") bytes, initrd.img $(stat -c %s "$BE/initrd.img") bytes"

# --- QEMU nodes, stopped by their pid whatever happens
QPIDS=
extra_cleanup() {
	local p
	for p in $QPIDS; do kill "$p" 2>/dev/null; done
	return 0
}
# boot NAME MAC [CMDLINE]: a node on disk $T/NAME.raw, console $T/NAME.log,
# with the kernel, initramfs and CMDLINE given, else through its NIC's
# iPXE, which asks pipold for /boot/MAC as dnsmasq would tell it to;
# QEMU's pid in $T/NAME.pid, the pid of its timeout in QP
boot() {
	local name=$1 mac=$2 how
	if [ $# -ge 3 ]; then
		how=(-kernel "$T/vmlinuz" -initrd "$T/initrd.img" -append "$3"
		    -netdev user,id=n0 -device "virtio-net-pci,netdev=n0,mac=$mac")
	else
		how=(-netdev "user,id=n0,bootfile=http://10.0.2.2:$PORT/boot/\${mac}"
		    -device "virtio-net-pci,netdev=n0,mac=$mac,bootindex=1")
	fi
	rm -f "$T/$name.log" "$T/$name.pid"
	timeout 300 qemu-system-x86_64 -M q35 -m 512 -nographic -monitor none \
	    -serial "file:$T/$name.log" -no-reboot $QEMU_ACCEL \
	    -pidfile "$T/$name.pid" "${how[@]}" \
	    -drive "if=none,id=d0,file=$T/$name.raw,format=raw" \
	    -device virtio-blk-pci,drive=d0 < /dev/null 2> "$T/$name.qemu.err" &
	QP=$!
	QPIDS="$QPIDS $QP"
}
# console_wait NAME TEXT SEC: TEXT on the console within SEC, QEMU running
console_wait() {
	local i
	for i in $(seq $(($3 * 10))); do
		grep -qF -- "$2" "$T/$1.log" 2>/dev/null && return 0
		kill -0 "$QP" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# qemu_kill NAME: that QEMU, by the pid it wrote, then its timeout
qemu_kill() {
	[ -s "$T/$1.pid" ] && kill "$(cat "$T/$1.pid")" 2>/dev/null
	wait "$QP" 2>/dev/null
	true
}
# since NS: seconds from NS (date +%s%N) to now, to 0.1 s
since() { local ds=$((($(date +%s%N) - $1) / 100000000)); echo "$((ds / 10)).$((ds % 10))"; }
# kernel_url FILE, kernel_line FILE: of the iPXE script FILE's kernel
kernel_url() { grep '^kernel ' "$1" | cut -d' ' -f2; }
kernel_line() { grep '^kernel ' "$1" | sed 's/ || goto failed$//' | cut -d' ' -f3-; }

check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice)

# --- pipold serves STATE/bootenv/FLAVOUR/FILE, and nothing else
mkdir -p "$PIPOL_STATE/bootenv"
cp -r "$BE" "$PIPOL_STATE/bootenv/cloud"
echo secret > "$PIPOL_STATE/secret"
echo hidden > "$PIPOL_STATE/bootenv/cloud/.hidden"
for f in vmlinuz initrd.img; do
	code=$(curl -s -o "$T/$f" -w '%{http_code} %{size_download}' "$U/bootenv/cloud/$f")
	equal "GET /bootenv/cloud/$f: 200 and every byte" "$code" "200 $(stat -c %s "$BE/$f")"
	same "GET /bootenv/cloud/$f: the built file" "$BE/$f" "$T/$f"
done
equal "HEAD: Content-Length" "$(curl -sI "$U/bootenv/cloud/initrd.img" | tr -d '\r' |
    awk 'tolower($1) == "content-length:" { print $2 }')" "$(stat -c %s "$BE/initrd.img")"
for p in /bootenv/cloud/nope /bootenv/generic/vmlinuz /bootenv/cloud/.hidden \
    /bootenv/../secret /bootenv/cloud/../../secret /bootenv/cloud/..%2f..%2fsecret \
    /bootenv/..%2fsecret/x /bootenv/cloud /bootenv/cloud/ /bootenv/cloud/vmlinuz/x \
    /bootenv/-x/vmlinuz; do
	equal "GET $p: 404" "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$U$p")" 404
done
equal "POST /bootenv/cloud/vmlinuz: 405" "$(curl -s -o /dev/null -w '%{http_code}' -d x "$U/bootenv/cloud/vmlinuz")" 405

# --- an image, two QEMU nodes
mkdisk "$T/img" $((12 << 20))
"$P" image create os --from "$T/img" > /dev/null && "$P" image validate os:1 > /dev/null &&
    "$P" image promote os:1 > /dev/null
as "$adm" node add vm1 --mac 52:54:00:00:0b:01 --profile virtual > /dev/null
as "$adm" node add vm2 --mac 52:54:00:00:0b:02 --profile virtual > /dev/null
# the nodes' disks hold other bytes: every byte must be written, zeros too
head -c $((12 << 20)) /dev/urandom > "$T/vm1.raw"
head -c $((12 << 20)) /dev/urandom > "$T/vm2.raw"
# the node reaches pipold at 10.0.2.2: its boot script names that server
script() { curl -s -H "Host: 10.0.2.2:$PORT" "$U/boot/$1"; }
# deploy_script MAC FILE: the deploy script, once the deploy's power
# cycle armed the boot cycle (before, the wait script: no token)
deploy_script() {
	for _ in $(seq 100); do
		script "$1" > "$2"; grep -q 'pipol\.token=' "$2" && return 0; sleep 0.1
	done
	return 1
}

# --- a deployment: boot, write, report, reboot (QEMU exits by itself)
as "$al" deploy -n vm1 -i os > "$T/dep.out"
dep=$(grep -o 'deployment [0-9]*' "$T/dep.out" | cut -d' ' -f2)
deploy_script 52:54:00:00:0b:01 "$T/vm1.ipxe"
cl=$(kernel_line "$T/vm1.ipxe")
equal "the deploy script loads /bootenv/cloud/vmlinuz from 10.0.2.2" "$(kernel_url "$T/vm1.ipxe")" "http://10.0.2.2:$PORT/bootenv/cloud/vmlinuz"
grep -qx "initrd --name initrd.img http://10.0.2.2:$PORT/bootenv/cloud/initrd.img || goto failed" "$T/vm1.ipxe" &&
    ok "... and /bootenv/cloud/initrd.img" || { notok "... and /bootenv/cloud/initrd.img"; cat "$T/vm1.ipxe" >&2; }
echo "$cl" | grep -q "^initrd=initrd.img pipol.server=http://10.0.2.2:$PORT pipol.token=[0-9a-f]\{64\} .*panic=-1" &&
    ok "its command line: server, token, panic=-1" || { notok "its command line: server, token, panic=-1"; echo "$cl" >&2; }
t0=$(date +%s%N)
boot vm1 52:54:00:00:0b:01 "$cl"
wait "$QP"; rc=$?
secs=$(since "$t0")
equal "QEMU exits by itself (the agent's 0, then reboot -f)" $rc 0
ok "boot to deployed: $secs s (QEMU start to its exit), $(($(stat -c %s "$T/img") >> 20)) MiB image"
echo "# boot to deployed: $secs s" >&2
same "the node's disk is the image, byte for byte" "$T/img" "$T/vm1.raw"
[ -n "${KEEP_CONSOLE:-}" ] && cp "$T/vm1.log" "$KEEP_CONSOLE"
equal "the deployment is rebooting" "$(sql "select state from deployments where id = $dep")" rebooting
equal "every state once, in order" "$(sql "select string_agg(state, ' ' order by at) from deployment_transitions where deployment_id = $dep")" \
    "pending booting fetching writing rebooting"
equal "bytes written recorded" "$(sql "select bytes_written from deployments where id = $dep")" $((12 << 20))
for line in "pipol: network interfaces: eth0" "pipol: eth0: 10.0.2.15/24 via 10.0.2.2" \
    "pipol: disk vda: 12 MiB" "pipol-agent: deploying os:1 onto /dev/vda" \
    "pipol-agent: os:1 on /dev/vda: $((12 << 20)) bytes in" "pipol: deployed; rebooting into the new system"; do
	grep -qF -- "$line" "$T/vm1.log" && ok "console: $line" || notok "console: $line"
done
grep -qE 'Kernel panic|pipol: insmod|rescue shell' "$T/vm1.log" &&
    { notok "console: no panic, no insmod error, no rescue shell"; tail -20 "$T/vm1.log" >&2; } ||
    ok "console: no panic, no insmod error, no rescue shell"

# --- the whole chain as the node runs it: its iPXE asks pipold for
# /boot/MAC, loads the kernel and initramfs from /bootenv/cloud/
as "$adm" node add vm3 --mac 52:54:00:00:0b:03 --profile virtual > /dev/null
head -c $((12 << 20)) /dev/urandom > "$T/vm3.raw"
as "$al" deploy -n vm3 -i os > "$T/dep3.out"
dep3=$(grep -o 'deployment [0-9]*' "$T/dep3.out" | cut -d' ' -f2)
t0=$(date +%s%N)
boot vm3 52:54:00:00:0b:03
wait "$QP"; rc=$?
secs=$(since "$t0")
equal "through iPXE: QEMU exits by itself" $rc 0
ok "through iPXE, firmware to deployed: $secs s"
echo "# through iPXE, firmware to deployed: $secs s" >&2
grep -qF "pipol: vm3: loading the deployment environment from http://10.0.2.2:$PORT" "$T/vm3.log" &&
    ok "through iPXE: the deploy script ran" || { notok "through iPXE: the deploy script ran"; tail -20 "$T/vm3.log" >&2; }
same "through iPXE: the node's disk is the image" "$T/img" "$T/vm3.raw"
equal "through iPXE: every state once, in order" "$(sql "select string_agg(state, ' ' order by at) from deployment_transitions where deployment_id = $dep3")" \
    "pending booting fetching writing rebooting"

# --- a corrupt chunk on the server: failed, a rescue shell, no reboot
ls "$PIPOL_STATE/store/chunks" > "$T/before"
mkdisk "$T/img2" $((12 << 20))
v=$("$P" image create bad --from "$T/img2") && "$P" image validate "$v" > /dev/null	# users deploy validated versions
ch=$(ls -S "$PIPOL_STATE/store/chunks" | grep -vxFf "$T/before" | head -1)
flip_byte "$PIPOL_STATE/store/chunks/$ch" $(($(stat -c %s "$PIPOL_STATE/store/chunks/$ch") / 2))
as "$al" deploy -n vm2 -i "$v" > "$T/dep2.out"
dep2=$(grep -o 'deployment [0-9]*' "$T/dep2.out" | cut -d' ' -f2)
deploy_script 52:54:00:00:0b:02 "$T/vm2.ipxe"
boot vm2 52:54:00:00:0b:02 "$(kernel_line "$T/vm2.ipxe")"
msg="pipol: deployment failed (exit 3); rescue shell on the console"
console_wait vm2 "$msg" 240 && ok "console: $msg" ||
    { notok "console: $msg"; tail -20 "$T/vm2.log" >&2; }
grep -q "^pipol: pipol-agent exited 3 (bad or corrupt data): pipol-agent: .*chunk" "$T/vm2.log" &&
    ok "console: the agent's error, naming the chunk" || notok "console: the agent's error, naming the chunk"
sleep 2		# a reboot after the message would end QEMU now
kill -0 "$QP" 2>/dev/null && ok "the failed node does not reboot: QEMU still runs" ||
    notok "the failed node does not reboot: QEMU still runs"
grep -q "pipol-rescue:/# " "$T/vm2.log" && ok "console: a rescue shell prompt" ||
    notok "console: a rescue shell prompt"
qemu_kill vm2
equal "the deployment failed" "$(sql "select state from deployments where id = $dep2")" failed
sql "select reason from deployments where id = $dep2" | grep -q chunk && ok "its reason names the chunk" ||
    { notok "its reason names the chunk"; sql "select reason from deployments where id = $dep2" >&2; }

# --- the failed node's next boot: the rescue environment, no disk write
script 52:54:00:00:0b:02 > "$T/vm2r.ipxe"
cl=$(kernel_line "$T/vm2r.ipxe")
echo "$cl" | grep -q 'pipol.rescue=1' && ! echo "$cl" | grep -q 'pipol.token=' &&
    ok "the failed node gets the rescue script, no token" || { notok "the failed node gets the rescue script, no token"; cat "$T/vm2r.ipxe" >&2; }
cp "$T/vm2.raw" "$T/vm2.before"
boot vm2 52:54:00:00:0b:02 "$cl"
msg="pipol: rescue environment (pipol.rescue=1): no order, no disk written; shell on the console"
console_wait vm2 "$msg" 120 && ok "console: $msg" || { notok "console: $msg"; tail -20 "$T/vm2.log" >&2; }
grep -q "^pipol: running pipol-agent" "$T/vm2.log" && notok "rescue: the agent is not run" || ok "rescue: the agent is not run"
qemu_kill vm2
same "rescue: the disk is as it was" "$T/vm2.before" "$T/vm2.raw"
stop_pipold

# --- reproducible: the same inputs give the same bytes
SOURCE_DATE_EPOCH=0 "$TOP/bootenv/build.sh" --agent "$A" cloud "$T/again" > /dev/null 2> "$T/build2.err" ||
    { notok "bootenv/build.sh again"; cat "$T/build2.err" >&2; }
same "a rebuild gives the same initrd.img" "$BE/initrd.img" "$T/again/initrd.img"
same "... and the same vmlinuz" "$BE/vmlinuz" "$T/again/vmlinuz"
