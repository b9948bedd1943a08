#!/bin/bash
# dnsmasq: the files pipold writes with --dnsmasq-dir are what the real
# dnsmasq accepts (--test), hold one line per node, follow pipol node add;
# and a real dnsmasq serving them, in a network namespace of this test's
# own (never on the host's network), gives a DHCP client (busybox udhcpc
# on the other end of a veth pair) its static address and the right boot
# file: undionly.kpxe for BIOS, snponly.efi for UEFI, pipold's
# /boot/${mac} for iPXE; nothing for a MAC that is no node; and a node
# added while dnsmasq runs is served without a restart.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
. "$TOP/tests/net/dhcpns.sh"
DIR=$T/dns
extra_cleanup() { dhcpns_down; }

expect_fail 2 "--dnsmasq-dir needs --public-url" "$D" --dnsmasq-dir "$DIR"
expect_fail 2 "--public-url ftp://10.77.0.1/: not http(s)://HOST[:PORT][/PATH]" \
    "$D" --dnsmasq-dir "$DIR" --public-url ftp://10.77.0.1/
expect_fail 2 "--public-url http://a,b: not http(s)://HOST[:PORT][/PATH]" \
    "$D" --dnsmasq-dir "$DIR" --public-url http://a,b
expect_fail 2 "--tftp-root /srv/my tftp: spaces, commas, quotes or '#'" \
    "$D" --dnsmasq-dir "$DIR" --public-url http://10.77.0.1 --tftp-root "/srv/my tftp"
expect_fail 2 "--public-url and --tftp-root go with --dnsmasq-dir" \
    "$D" --public-url http://10.77.0.1
[ -e "$DIR" ] && notok "refused options write nothing" || ok "refused options write nothing"

mkdir -p "$T/tftp"
check "pipold starts with --dnsmasq-dir" start_pipold --dnsmasq-dir "$DIR" \
    --public-url http://10.77.0.1:8080/ --tftp-root "$T/tftp"
grep -qxF "dhcp-boot=tag:known,tag:ipxe,http://10.77.0.1:8080/boot/\${mac}" "$DIR/pipol.conf" &&
    ok "pipol.conf: iPXE goes to PUBLIC_URL/boot/\${mac}" || notok "pipol.conf: iPXE goes to PUBLIC_URL/boot/\${mac}"
grep -qxF "dhcp-hostsdir=$DIR/hosts" "$DIR/pipol.conf" && grep -qxF "tftp-root=$T/tftp" "$DIR/pipol.conf" &&
    ok "pipol.conf: hosts folder and TFTP root" || notok "pipol.conf: hosts folder and TFTP root"
grep -qxF "dhcp-boot=tag:known,tag:httpboot,http://10.77.0.1:8080/no-http-boot" "$DIR/pipol.conf" &&
    grep -qxF "dhcp-vendorclass=set:httpboot,HTTPClient" "$DIR/pipol.conf" &&
    grep -qxF "dhcp-option-force=tag:httpboot,60,HTTPClient" "$DIR/pipol.conf" &&
    ok "pipol.conf: UEFI HTTP boot gets PUBLIC_URL/no-http-boot" ||
    notok "pipol.conf: UEFI HTTP boot gets PUBLIC_URL/no-http-boot"
equal "pipold answers /no-http-boot 404 (the firmware moves on at once)" \
    "$(curl -s -o /dev/null -w '%{http_code}' "$U/no-http-boot")" 404
dnsmasq --test --conf-file="$DIR/pipol.conf" > "$T/test.out" 2>&1 &&
    ok "dnsmasq --test accepts pipol.conf" || { notok "dnsmasq --test accepts pipol.conf"; cat "$T/test.out" >&2; }
equal "no node: no host file" "$(ls "$DIR/hosts")" ""

tok=$("$D" --add-user root --admin 2>/dev/null)
export PIPOL_SERVER=$U PIPOL_TOKEN=$tok
"$P" node add n1 --mac 52:54:00:00:07:01 --profile pc-bios --ip 10.77.0.21 > /dev/null
"$P" node add n2 --mac 52:54:00:00:07:02 --profile uefi > /dev/null
equal "node add: one host file each" "$(ls "$DIR/hosts" | tr '\n' ' ')" "n1 n2 "
equal "their lines" "$(cat "$DIR/hosts/n1" "$DIR/hosts/n2")" \
    "52:54:00:00:07:01,set:pc-bios,10.77.0.21,n1
52:54:00:00:07:02,set:uefi,n2"
while read -r line; do
	dnsmasq --test --conf-file=/dev/null --dhcp-host="$line" > /dev/null 2>&1 &&
	    ok "dnsmasq accepts host line $line" || notok "dnsmasq accepts host line $line"
done < <(cat "$DIR"/hosts/*)
[ -n "$(find "$DIR" -name '*.tmp.*')" ] && notok "no temporary file left" || ok "no temporary file left"
m=$(stat -c %Y.%i "$DIR/hosts/n1" "$DIR/hosts/n2")
"$P" node set n2 --power manual > /dev/null
equal "a change that leaves the hosts be: no file rewritten" "$(stat -c %Y.%i "$DIR/hosts/n1" "$DIR/hosts/n2")" "$m"
# restart: written again from the table, the same
kill "$DPID"; wait "$DPID"; DPID=
cat "$DIR"/hosts/* > "$T/hosts.before"
rm "$DIR/hosts/n2" "$DIR/pipol.conf"
touch "$DIR/hosts/gone"	# a node no more
check "restart" start_pipold --dnsmasq-dir "$DIR" --public-url http://10.77.0.1:8080 \
    --tftp-root "$T/tftp"
same "at start: the host files from the table" <(cat "$DIR"/hosts/*) "$T/hosts.before"
equal "at start: a file that is no node's removed" "$(ls "$DIR/hosts" | tr '\n' ' ')" "n1 n2 "
[ -s "$DIR/pipol.conf" ] && ok "at start: pipol.conf" || notok "at start: pipol.conf"

# a real dnsmasq on those files, inside a namespace of our own:
# d0 (10.77.0.1, dnsmasq) <-veth-> c0 (the client, any MAC we give it)
if ! dhcpns_up "$DIR/pipol.conf"; then
	notok "network namespace (root and CAP_NET_ADMIN needed)"
	exit 1
fi
# dhcp MAC [udhcpc -x options]: the lease the client got, or "none"
dhcp() { dhcpns_ask "$@"; }
equal "BIOS PXE (arch 0): its address, undionly.kpxe" \
    "$(dhcp 52:54:00:00:07:01 -x 0x5d:0000)" "ip=10.77.0.21 boot_file=undionly.kpxe"
equal "UEFI PXE (arch 7): snponly.efi" \
    "$(dhcp 52:54:00:00:07:01 -x 0x5d:0007)" "ip=10.77.0.21 boot_file=snponly.efi"
equal "UEFI PXE (arch 9): snponly.efi" \
    "$(dhcp 52:54:00:00:07:01 -x 0x5d:0009)" "ip=10.77.0.21 boot_file=snponly.efi"
equal "iPXE (user class iPXE): pipold's /boot/\${mac}" \
    "$(dhcp 52:54:00:00:07:01 -x 0x5d:0000 -x 0x4d:69505845)" \
    "ip=10.77.0.21 boot_file=http://10.77.0.1:8080/boot/\${mac}"
# UEFI HTTP boot: vendor class HTTPClient, arch 16 (x86-64 HTTP)
equal "UEFI HTTP boot (HTTPClient, arch 16): the URL that answers 404" \
    "$(dhcp 52:54:00:00:07:01 -x 0x5d:0010 -V HTTPClient:Arch:00016:UNDI:003001)" \
    "ip=10.77.0.21 boot_file=http://10.77.0.1:8080/no-http-boot"
equal "a MAC that is no node: no lease" "$(dhcp 52:54:00:00:07:09 -x 0x5d:0000)" none
"$P" node add n9 --mac 52:54:00:00:07:09 --profile pc-bios --ip 10.77.0.29 > /dev/null
equal "a node added while dnsmasq runs: served, no restart" \
    "$(dhcp 52:54:00:00:07:09 -x 0x5d:0000)" "ip=10.77.0.29 boot_file=undionly.kpxe"
kill -0 "$DHCPNS_PID" 2>/dev/null && ok "dnsmasq still runs" || notok "dnsmasq still runs"
grep -q "read $DIR/hosts/n9" "$T/dnsmasq.log" &&
    ok "dnsmasq read the new host file" || { notok "dnsmasq read the new host file"; tail -5 "$T/dnsmasq.log" >&2; }
equal "n1's file was not read again (no duplicate host)" "$(grep -c "read $DIR/hosts/n1\$" "$T/dnsmasq.log")" 1
equal "n1 still served" "$(dhcp 52:54:00:00:07:01 -x 0x5d:0000)" "ip=10.77.0.21 boot_file=undionly.kpxe"
