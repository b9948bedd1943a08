#!/bin/bash
# elilo: network-only nodes (real Itanium). pipold --elilo PATH makes
# dnsmasq send elilo.efi to client architecture 2, known nodes only, and
# writes each netboot-only node's elilo configuration next to it, under
# the name elilo asks first (its address in upper-case hex, .conf),
# following its boot mode: local, rescue, kernel, deploy (a fresh token
# once the boot cycle is armed, bound to the node's address). Values
# unfit for an elilo line are refused: no file. A real dnsmasq in a
# namespace of this test's own answers a scripted DHCP client sending
# option 93 = 2 with elilo.efi, and serves the file over TFTP.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
. "$TOP/tests/net/dhcpns.sh"
DIR=$T/dns
TFTP=$T/tftp
extra_cleanup() { dhcpns_down; }

D=$B/pipold
expect_fail 2 "--elilo goes with --dnsmasq-dir" "$D" --elilo elilo.efi
expect_fail 2 "--elilo /srv/elilo.efi: a path relative to the TFTP root" \
    "$D" --dnsmasq-dir "$DIR" --public-url http://10.77.0.1 --elilo /srv/elilo.efi
expect_fail 2 "--elilo ../elilo.efi: a path relative to the TFTP root" \
    "$D" --dnsmasq-dir "$DIR" --public-url http://10.77.0.1 --elilo ../elilo.efi
expect_fail 2 "--elilo a,b: a path relative to the TFTP root" \
    "$D" --dnsmasq-dir "$DIR" --public-url http://10.77.0.1 --elilo a,b

mkdir -p "$TFTP/ia64"
echo "not really elilo" > "$TFTP/ia64/elilo.efi"
touch "$TFTP/ia64/0A4D00FF.conf"	# a node no more
echo keep > "$TFTP/ia64/elilo.conf"	# the admin's fallback: not ours
check "pipold starts with --elilo" start_pipold --dnsmasq-dir "$DIR" \
    --public-url http://10.77.0.1:8080 --tftp-root "$TFTP" --elilo ia64/elilo.efi
grep -qxF "dhcp-match=set:ia64,option:client-arch,2" "$DIR/pipol.conf" &&
    grep -qxF "dhcp-boot=tag:known,tag:ia64,ia64/elilo.efi" "$DIR/pipol.conf" &&
    ok "pipol.conf: client architecture 2 gets ia64/elilo.efi, known nodes only" ||
    notok "pipol.conf: client architecture 2 gets ia64/elilo.efi, known nodes only"
dnsmasq --test --conf-file="$DIR/pipol.conf" > "$T/test.out" 2>&1 &&
    ok "dnsmasq --test accepts pipol.conf" || { notok "dnsmasq --test accepts pipol.conf"; cat "$T/test.out" >&2; }
[ -e "$TFTP/ia64/0A4D00FF.conf" ] && notok "at start: a file of no node removed" ||
    ok "at start: a file of no node removed"
equal "the admin's elilo.conf left alone" "$(cat "$TFTP/ia64/elilo.conf")" keep

adm=$(new_user root --admin 2>/dev/null)
export PIPOL_SERVER=$U PIPOL_TOKEN=$adm
"$P" node add it1 --mac 52:54:00:00:0a:01 --profile netboot-only --ip 10.77.0.31 > /dev/null
"$P" node add it2 --mac 52:54:00:00:0a:02 --profile netboot-only > /dev/null
"$P" node add pc1 --mac 52:54:00:00:0a:03 --profile pc-bios --ip 10.77.0.33 > /dev/null
F=$TFTP/ia64/0A4D001F.conf
cat > "$T/local.want" <<'EOF'
# pipol: it1 boots its deployed system: its kernel and initramfs,
# served by pipold from its own folder. Written by pipold, edits are lost.
default=local
delay=30
image=pipol/it1/vmlinuz
	label=local
	description="pipol it1 deployed system"
	initrd=pipol/it1/initrd.img
	append="console=ttyS0,115200"
EOF
same "node add: it1's file 0A4D001F.conf (10.77.0.31), local" "$F" "$T/local.want"
equal "only the netboot-only node with an address has a file" \
    "$(cd "$TFTP/ia64" && ls | tr '\n' ' ')" "0A4D001F.conf elilo.conf elilo.efi "
grep -q "elilo: node it2: no IPv4 address (--ip): elilo looks its configuration up by address only" \
    "$T/pipold.log" && ok "it2 (no --ip): refused, said in the log" || notok "it2 (no --ip): refused, said in the log"
[ -n "$(find "$TFTP" -name '*.tmp*')" ] && notok "no temporary file left" || ok "no temporary file left"

"$P" node boot it1 rescue > /dev/null
cat > "$T/rescue.want" <<'EOF'
# pipol: it1, rescue: the deployment environment with no order; it
# keeps a shell on the console and touches no disk. Written by pipold,
# edits are lost.
default=rescue
delay=10
image=bootenv/generic/vmlinuz
	label=rescue
	description="pipol it1 rescue"
	initrd=bootenv/generic/initrd.img
	append="pipol.rescue=1 console=ttyS0,115200 panic=-1"
EOF
same "node boot rescue: rewritten, rescue" "$F" "$T/rescue.want"
"$P" node boot it1 kernel --kernel http://k/vmlinuz --initrd http://k/initrd.img \
    --cmdline "root=/dev/sda2 ro console=ttyS0" > /dev/null
grep -qxF '	append="root=/dev/sda2 ro console=ttyS0"' "$F" && grep -qxF "image=pipol/it1/test-vmlinuz" "$F" &&
    grep -qxF "default=kernel" "$F" && ok "node boot kernel: the kernel under test, its command line" ||
    { notok "node boot kernel: the kernel under test, its command line"; cat "$F" >&2; }
# fit for iPXE, not for elilo: '(' and ')' -- refused, no file, never escaped
"$P" node boot it1 kernel --kernel http://k/vmlinuz --initrd http://k/initrd.img \
    --cmdline "root=(hd0) quiet" > /dev/null
[ -e "$F" ] && { notok "a command line unfit for elilo: no file"; cat "$F" >&2; } ||
    ok "a command line unfit for elilo: no file"
grep -q "elilo: node it1: CMDLINE: not fit for an elilo line" "$T/pipold.log" &&
    ok "the refusal said in the log" || notok "the refusal said in the log"
# boot_params written behind pipold's back: a quote and a second line
sql "UPDATE nodes SET boot_params = boot_params || '{\"cmdline\": \"a\\\" image=/x\\nb\"}' WHERE name = 'it1'" > /dev/null
"$P" node set it1 --power manual > /dev/null	# a node change: all rewritten
[ -e "$F" ] && { notok "a quote and newline in boot_params: no file"; cat "$F" >&2; } ||
    ok "a quote and newline in boot_params: no file"
"$P" node boot it1 local > /dev/null
same "node boot local: back" "$F" "$T/local.want"
# parked (a reservation's end): the rescue section, never the disk's system
sql "UPDATE nodes SET boot_mode = 'park' WHERE name = 'it1'" > /dev/null
"$P" node set it1 --power manual > /dev/null
same "parked: rescue" "$F" "$T/rescue.want"
"$P" node boot it1 local > /dev/null

# deploy: the token is minted when the cycle is armed, for 10.77.0.31 only
mkdisk "$T/d" 3000001
"$P" image create os --from "$T/d" > /dev/null && "$P" image validate os:1 > /dev/null &&
    "$P" image promote os:1 > /dev/null
"$P" deploy -n it1 -i os > "$T/dep.out" 2>&1
dep=$(grep -o 'deployment [0-9]*' "$T/dep.out" | cut -d' ' -f2)
for _ in $(seq 50); do grep -q pipol.token "$F" 2>/dev/null && break; sleep 0.1; done
tok=$(grep -o 'pipol\.token=[0-9a-f]*' "$F" | cut -d= -f2)
equal "deploy: a 64-hex token in the file" "${#tok}" 64
grep -qxF "default=deploy" "$F" && grep -q "^# pipol: deploy it1 (deployment $dep)" "$F" &&
    grep -qF '	append="pipol.server=http://10.77.0.1:8080 pipol.token=' "$F" &&
    ok "deploy: the deploy section, pipol.server" || { notok "deploy: the deploy section, pipol.server"; cat "$F" >&2; }
equal "deploy: booting, this token's hash, bound to the node's address" \
    "$(sql "select state, host(token_addr), token_hash = sha256('$tok'::bytea) from deployments where id = $dep")" \
    "booting|10.77.0.31|t"
cp "$F" "$T/deploy.conf"
"$P" node add it3 --mac 52:54:00:00:0a:04 --profile netboot-only --ip 10.77.0.34 > /dev/null
same "a sync while the boot is under way keeps the token's file" "$F" "$T/deploy.conf"
sql "UPDATE deployments SET state = 'rebooting' WHERE id = $dep" > /dev/null
"$P" node set it3 --power manual > /dev/null
same "past writing, the deployed system's first boot: local" "$F" "$T/local.want"

# a real dnsmasq, in a namespace of our own; the client asks as IA-64
if ! dhcpns_up "$DIR/pipol.conf"; then
	notok "network namespace (root and CAP_NET_ADMIN needed)"
	exit 1
fi
dhcp() { dhcpns_ask "$@"; }
equal "IA-64 PXE (option 93 = 2): its address, elilo.efi" \
    "$(dhcp 52:54:00:00:0a:01 -x 0x5d:0002)" "ip=10.77.0.31 boot_file=ia64/elilo.efi"
equal "BIOS PXE still undionly.kpxe" \
    "$(dhcp 52:54:00:00:0a:03 -x 0x5d:0000)" "ip=10.77.0.33 boot_file=undionly.kpxe"
equal "a MAC that is no node, as IA-64: no lease" "$(dhcp 52:54:00:00:0a:09 -x 0x5d:0002)" none
ip -n "$DHCPNS" addr add 10.77.0.31/24 dev c0
tftp_get() { dhcpns_tftp "$1" "$T/got" && cat "$T/got"; }
equal "TFTP: elilo.efi" "$(tftp_get ia64/elilo.efi)" "not really elilo"
same "TFTP: the node's configuration, by the name elilo asks first" <(tftp_get ia64/0A4D001F.conf) "$T/local.want"
dhcpns_down
stop_pipold
