#!/bin/bash
# mac_dhcp: mac-efi32 nodes (32-bit EFI on 64-bit CPUs, the first Intel
# Macs). pipold --dnsmasq-dir makes an IA32 GRUB under the TFTP root once
# (grub-mkimage, kept across restarts) and its grub.cfg, which asks
# PUBLIC_URL/grub/${net_default_mac}; dnsmasq sends it to client
# architecture 6, and to an Intel Mac netbooting by BSDP (vendor class
# AAPLBSDPC/i386/MODEL) with no architecture when it is a mac-efi32
# node; the same Mac asking with architecture 7 gets snponly.efi. A real
# dnsmasq in a namespace of the test's own answers a scripted client
# (tests/net/dhcpns.sh) and serves the loader over TFTP. GET /grub/MAC
# renders the node's GRUB script; values unfit for a GRUB line are
# refused.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
. "$TOP/tests/net/dhcpns.sh"
DIR=$T/dns
TFTP=$T/tftp
NS2=pipol-mac-$$
extra_cleanup() { dhcpns_down; ip netns del "$NS2" 2>/dev/null; }
D=$B/pipold

mkdir -p "$TFTP"
check "pipold starts with --dnsmasq-dir" start_pipold --dnsmasq-dir "$DIR" \
    --public-url http://10.77.0.1:8080/ --tftp-root "$TFTP"
L=$TFTP/pipol-grub/ia32.efi
# a PE32 image for i386 (machine 0x014c), EFI application (subsystem 10)
pe=$(od -An -tu4 -j60 -N4 "$L" 2>/dev/null | tr -d ' ')
equal "the loader: PE32, machine i386" \
    "$(od -An -tx1 -j"${pe:-0}" -N6 "$L" 2>/dev/null | tr -d ' \n')" 504500004c01
equal "the loader: an EFI application" \
    "$(od -An -tu2 -j$((${pe:-0} + 92)) -N2 "$L" 2>/dev/null | tr -d ' ')" 10
grep -qaF "(tftp)/pipol-grub" "$L" && ok "the loader's prefix is (tftp)/pipol-grub" ||
    notok "the loader's prefix is (tftp)/pipol-grub"
grep -qxF 'source "(http,10.77.0.1:8080)/grub/${net_default_mac}"' "$TFTP/pipol-grub/grub.cfg" &&
    ok "grub.cfg asks PUBLIC_URL/grub/\${net_default_mac}" ||
    notok "grub.cfg asks PUBLIC_URL/grub/\${net_default_mac}"
for l in "dhcp-match=set:efi32,option:client-arch,6" \
    "dhcp-boot=tag:known,tag:!ipxe,tag:efi32,pipol-grub/ia32.efi" \
    "dhcp-vendorclass=set:bsdp,AAPLBSDPC" \
    "dhcp-vendorclass=set:bsdpi386,AAPLBSDPC/i386" \
    "dhcp-option-force=tag:bsdp,60,AAPLBSDPC" \
    "dhcp-boot=tag:known,tag:!ipxe,tag:bsdpi386,tag:mac-efi32,tag:!efi32,tag:!efi64,tag:!bios,pipol-grub/ia32.efi"; do
	grep -qxF "$l" "$DIR/pipol.conf" && ok "pipol.conf: $l" || notok "pipol.conf: $l"
done
dnsmasq --test --conf-file="$DIR/pipol.conf" > "$T/test.out" 2>&1 &&
    ok "dnsmasq --test accepts pipol.conf" || { notok "dnsmasq --test accepts pipol.conf"; cat "$T/test.out" >&2; }

# made once: a restart keeps the loader as it is
m=$(stat -c %Y.%i "$L")
stop_pipold
check "restart" start_pipold --dnsmasq-dir "$DIR" --public-url http://10.77.0.1:8080 \
    --tftp-root "$TFTP"
equal "restart: the loader is not made again" "$(stat -c %Y.%i "$L")" "$m"
# older than the modules (a GRUB upgrade): made again
touch -d 2001-01-01 "$L"
stop_pipold
check "restart, the loader older than the modules" start_pipold --dnsmasq-dir "$DIR" \
    --public-url http://10.77.0.1:8080 --tftp-root "$TFTP"
[ "$(stat -c %Y "$L")" -gt 978307200 ] && ok "an old loader is made again" ||
    notok "an old loader is made again"
# a URL GRUB cannot reach (https): no loader offered, pipold still runs
stop_pipold
mkdir -p "$T/tftp2"
check "pipold starts with an https public URL" start_pipold --dnsmasq-dir "$T/dns2" \
    --public-url https://10.77.0.1:8443 --tftp-root "$T/tftp2"
grep -q "efi32\|AAPLBSDPC" "$T/dns2/pipol.conf" && notok "https: no IA32 loader offered" ||
    ok "https: no IA32 loader offered"
grep -q "GRUB reaches only http" "$T/pipold.log" &&
    ok "https: pipold says why" || notok "https: pipold says why"
stop_pipold
# the default TFTP root is a package's folder: pipold writes nothing there
pre=$(ls -d /usr/lib/ipxe/pipol-grub 2>/dev/null)
check "pipold starts with the default TFTP root" start_pipold --dnsmasq-dir "$T/dns3" \
    --public-url http://10.77.0.1:8080
grep -q "efi32\|AAPLBSDPC" "$T/dns3/pipol.conf" && notok "default TFTP root: no IA32 loader offered" ||
    ok "default TFTP root: no IA32 loader offered"
equal "default TFTP root: nothing written into /usr/lib/ipxe" "$(ls -d /usr/lib/ipxe/pipol-grub 2>/dev/null)" "$pre"
grep -q "no --tftp-root of the site's own" "$T/pipold.log" && ok "default TFTP root: pipold says why" ||
    notok "default TFTP root: pipold says why"
stop_pipold
check "restart" start_pipold --dnsmasq-dir "$DIR" --public-url http://10.77.0.1:8080 \
    --tftp-root "$TFTP"

adm=$(new_user root --admin 2>/dev/null)
export PIPOL_SERVER=$U PIPOL_TOKEN=$adm
check "node add --profile mac-efi32" "$P" node add mac1 --mac 52:54:00:00:0b:01 \
    --profile mac-efi32 --ip 10.77.0.41
"$P" node add pc1 --mac 52:54:00:00:0b:02 --profile pc-bios --ip 10.77.0.42 > /dev/null
equal "its host line carries the profile's tag" "$(cat "$DIR/hosts/mac1")" \
    "52:54:00:00:0b:01,set:mac-efi32,10.77.0.41,mac1"
expect_fail 2 "bad name, MAC, profile, IP or power driver" \
    "$P" node add mac2 --mac 52:54:00:00:0b:03 --profile mac-efi64

if ! dhcpns_up "$DIR/pipol.conf"; then
	notok "network namespace (root and CAP_NET_ADMIN needed)"
	exit 1
fi
IA32="boot_file=pipol-grub/ia32.efi"
equal "EFI IA32 firmware (arch 6): the IA32 GRUB" \
    "$(dhcpns_ask 52:54:00:00:0b:01 -x 0x5d:0006)" "ip=10.77.0.41 $IA32"
equal "an Intel Mac by BSDP, arch 6: the IA32 GRUB" \
    "$(dhcpns_ask 52:54:00:00:0b:01 -x 0x5d:0006 -V AAPLBSDPC/i386/MacBook2,1)" "ip=10.77.0.41 $IA32"
equal "an Intel Mac by BSDP, arch 7 (64-bit EFI): snponly.efi" \
    "$(dhcpns_ask 52:54:00:00:0b:01 -x 0x5d:0007 -V AAPLBSDPC/i386/MacBookPro5,1)" \
    "ip=10.77.0.41 boot_file=snponly.efi"
equal "an Intel Mac by BSDP, no arch, a mac-efi32 node: the IA32 GRUB" \
    "$(dhcpns_ask 52:54:00:00:0b:01 -V AAPLBSDPC/i386/iMac4,1)" "ip=10.77.0.41 $IA32"
equal "the same Mac, a pc-bios node: no loader" \
    "$(dhcpns_ask 52:54:00:00:0b:02 -V AAPLBSDPC/i386/iMac4,1)" "ip=10.77.0.42 boot_file="
equal "a PowerPC Mac (AAPLBSDPC/ppc), no arch: no loader" \
    "$(dhcpns_ask 52:54:00:00:0b:01 -V AAPLBSDPC/ppc/PowerMac7,2)" "ip=10.77.0.41 boot_file="
equal "x86-64 UEFI (arch 7), no Mac: snponly.efi" \
    "$(dhcpns_ask 52:54:00:00:0b:01 -x 0x5d:0007)" "ip=10.77.0.41 boot_file=snponly.efi"
equal "iPXE still gets pipold's /boot/\${mac}" \
    "$(dhcpns_ask 52:54:00:00:0b:01 -x 0x5d:0006 -x 0x4d:69505845)" \
    "ip=10.77.0.41 boot_file=http://10.77.0.1:8080/boot/\${mac}"
equal "arch 6, a MAC that is no node: no lease" "$(dhcpns_ask 52:54:00:00:0b:09 -x 0x5d:0006)" none
grep -q "vendor class: AAPLBSDPC/i386/iMac4,1" "$T/dnsmasq.log" &&
    ok "dnsmasq saw the Mac's vendor class" || notok "dnsmasq saw the Mac's vendor class"
grep -q "tags: .*bsdpi386" "$T/dnsmasq.log" && ok "dnsmasq tagged it bsdpi386" ||
    { notok "dnsmasq tagged it bsdpi386"; grep tags "$T/dnsmasq.log" | tail -3 >&2; }
dhcpns_tftp pipol-grub/ia32.efi "$T/got.efi"
cmp -s "$T/got.efi" "$L" && ok "TFTP: the IA32 GRUB" || notok "TFTP: the IA32 GRUB"
dhcpns_tftp pipol-grub/grub.cfg "$T/got.cfg"
cmp -s "$T/got.cfg" "$TFTP/pipol-grub/grub.cfg" && ok "TFTP: its grub.cfg" || notok "TFTP: its grub.cfg"

# the agent on a mac-efi32 node: efi-boot-device names the card pipold
# is reached through (bootnic.c), here c0 moved to a namespace of its
# own with the node's MAC, beside a second card that is not the way
ip netns add "$NS2"
ip -n "$DHCPNS" link set c0 netns "$NS2"
ip -n "$NS2" link set lo up
ip -n "$NS2" link set c0 address 52:54:00:00:0b:01
ip -n "$NS2" addr add 10.77.0.41/24 dev c0
ip -n "$NS2" link set c0 up
ip -n "$NS2" link add x0 address 52:54:00:00:0b:77 type veth peer name x1
ip -n "$NS2" link set x1 up
ip -n "$NS2" addr add 10.88.0.2/24 dev x0
ip -n "$NS2" link set x0 up
mkdir -p "$T/vars"
ip netns exec "$NS2" "$A" applenet --server http://10.77.0.1:8080 --efivars "$T/vars" > "$T/applenet.out" 2>&1
V=$T/vars/efi-boot-device-7c436110-ab2a-4bbb-a880-fe41995c9f82
grep -qF "<key>BLMACAddress</key><data>UlQAAAsB</data>" "$V" &&
    ok "applenet --server: efi-boot-device names the card that reaches pipold (52:54:00:00:0b:01)" ||
    { notok "applenet --server: efi-boot-device names the card that reaches pipold"; cat "$T/applenet.out" >&2; }
equal "the variable: NV|BS|RT, then the string" "$(head -c4 "$V" | od -An -tx1 | tr -d ' ')" 07000000
ip netns exec "$NS2" "$A" applenet --server http://10.88.0.9/ --dry-run 2>&1 | grep -qF "<data>UlQAAAt3</data>" &&
    ok "applenet --server: another server, the other card" || notok "applenet --server: another server, the other card"
expect_fail 1 "10.99.0.1: no route" ip netns exec "$NS2" "$A" applenet --server http://10.99.0.1:8080 --dry-run
expect_fail 2 "give --mac or --server" "$A" applenet --dry-run
dhcpns_down

# GET /grub/MAC: the node's script in GRUB's language
g() { curl -s "$U/grub/$1"; }
g 52:54:00:00:0b:01 > "$T/local.cfg"
grep -qxF "	chainloader /EFI/BOOT/BOOTIA32.EFI" "$T/local.cfg" &&
    grep -qF 'echo "pipol: mac1: booting the local disk"' "$T/local.cfg" &&
    ok "/grub/MAC, boot mode local: the ESP's BOOTIA32.EFI" || notok "/grub/MAC, boot mode local: the ESP's BOOTIA32.EFI"
grep -q "ipxe\|sanboot" "$T/local.cfg" && notok "the GRUB script holds no iPXE" || ok "the GRUB script holds no iPXE"
g 52-54-00-00-0b-01?rescue=1 > "$T/rescue.cfg"
grep -qxF 'linuxefi "(http,10.77.0.1:8080)/bootenv/generic/vmlinuz" pipol.rescue=1 console=tty0 console=ttyS0,115200 panic=-1' "$T/rescue.cfg" &&
    ok "?rescue=1: the deployment environment by the EFI handover" || { notok "?rescue=1: the deployment environment by the EFI handover"; cat "$T/rescue.cfg" >&2; }
g 52:54:00:00:0b:09 | grep -qF 'is not a node of this pool' && ok "/grub/ of an unknown MAC" ||
    notok "/grub/ of an unknown MAC"
equal "/grub/ of no MAC: 404" "$(curl -s -o /dev/null -w '%{http_code}' "$U/grub/nonsense")" 404
# a console unfit for a GRUB line (fine for iPXE): refused, never escaped
sql "UPDATE nodes SET boot_params = boot_params || '{\"console\": \"console=ttyS0 (x)\"}' WHERE name = 'mac1'" > /dev/null
equal "a value unfit for GRUB: 500, nothing rendered" \
    "$(curl -s -o "$T/bad.cfg" -w '%{http_code}' "$U/grub/52:54:00:00:0b:01?rescue=1")" 500
grep -q "linuxefi" "$T/bad.cfg" && notok "no script with the unfit value" || ok "no script with the unfit value"
curl -s "$U/boot/52:54:00:00:0b:01?rescue=1" | grep -qF "console=ttyS0 (x)" &&
    ok "iPXE takes that value still (GRUB's rule is its own)" || notok "iPXE takes that value still (GRUB's rule is its own)"

# GRUB reuses its source port at every boot: pipold must keep no state
# of a GRUB connection once it is idle (a reset, GRUB_IDLE_SEC 5), while
# an iPXE one stays open for reuse
# conn FD PATH: a kept-alive request on descriptor FD (in this shell,
# not a subshell, which would close it); its client port in CPORT
conn() {
	eval "exec $1<>/dev/tcp/127.0.0.1/$PORT"
	printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: GRUB 2.06\r\n\r\n' "$2" >&"$1"
	timeout 5 head -1 <&"$1" > /dev/null
	CPORT=$(ss -Htn state established "( dport = :$PORT )" | awk '{ print $3 }' | sed 's/.*://' |
	    grep -vxF "${gp:-0}" | tail -1)
}
gp=
conn 3 /grub/52:54:00:00:0b:01; gp=$CPORT
conn 4 /boot/52:54:00:00:0b:01; bp=$CPORT
server_side() { ss -Htan "( sport = :$PORT and dport = :$1 )" | awk '{ print $1 }'; }
equal "both connections open at first" "$(server_side "$gp") $(server_side "$bp")" "ESTAB ESTAB"
sleep 8
equal "a GRUB connection idle 8 s: gone from pipold's side, no FIN-WAIT" "$(server_side "$gp")" ""
equal "an iPXE connection idle 8 s: still open" "$(server_side "$bp")" ESTAB
exec 3<&- 4<&-
