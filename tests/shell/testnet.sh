#!/bin/bash
# testnet: the test network (tests/net/testnet.sh) with a real pipold
# and dnsmasq inside its namespace; QEMU nodes powered on by pipold over
# QMP PXE-boot as real machines do:
#   n1, BIOS: the NIC's iPXE ROM gets its static lease and, as iPXE,
#       pipold's boot URL; iPXE expands ${mac} and fetches /boot/MAC;
#   n2, UEFI with no NIC ROM: OVMF's own PXE gets snponly.efi over TFTP,
#       which asks DHCP again as iPXE and fetches /boot/MAC;
# pipold answers each with its local-boot script (no deployment), which
# boots the node's disk (the test image: sanboot under BIOS, exit to the
# firmware under UEFI, whose HTTP boot pipol.conf answers with a 404 URL)
# to the image's marker; the node then answers SSH
# at its static address. Times from power-on are in the ok lines.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/net/testnet.sh"
D=$B/pipold
chmod 755 "$T"	# the postgres user must reach $T/state/pg
DPID=
NET_TRAP=0
trap '[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null;
    runuser -u postgres -- /usr/lib/postgresql/*/bin/pg_ctl -D "$T/state/pg/data" -m immediate stop >/dev/null 2>&1;
    net_down; rm -rf "$T"' EXIT
trap 'exit 130' INT; trap 'exit 143' TERM

bash "$TOP/tests/net/testnet.sh" --help | grep -q '^  net_up NAME' &&
    ok "testnet.sh --help" || notok "testnet.sh --help"
# the disks first: a fresh machine builds the image once (tests/shell/
# testimg.sh, before this one, has done it already)
ssh-keygen -q -t ed25519 -N '' -C pipol-testnet -f "$T/id"
for n in n1 n2; do
	"$TOP/tests/images/mkimage.sh" "$T/$n.img" --hostname "$n" \
	    --authorized-keys "$T/id.pub" 2> "$T/mk.err" ||
	    { notok "test image for $n"; cat "$T/mk.err" >&2; exit 1; }
done

check "net_up" net_up t
[ -n "$NET_NS" ] || exit 1
equal "namespace pipol-t-PID, br0 10.99.0.1/24 and a ULA" \
    "$NET_NS $(net_exec ip -br addr show br0 | awk '{ print $3, $4 }')" \
    "pipol-t-$$ 10.99.0.1/24 fd99:99::1/64"
ip link show br0 > /dev/null 2>&1 && [ "$(ip -br link show br0 2>/dev/null)" = "$(net_exec ip -br link show br0)" ] &&
    notok "br0 only in the namespace" || ok "br0 only in the namespace"

ip netns exec "$NET_NS" "$D" --listen "$NET_IP:8080" --dnsmasq-dir "$T/dns" \
    --public-url "$NET_URL" >> "$T/pipold.log" 2>&1 &
DPID=$!
for _ in $(seq 300); do net_exec curl -sf "$NET_URL/health" > /dev/null && break; sleep 0.1; done
check "pipold in the namespace, on $NET_IP:8080" net_exec curl -sf "$NET_URL/health"
# (no request from the host: 10.99.0.1 is not ours out there)
[ -z "$(ip -br addr | grep -F "$NET_IP/")" ] &&
    [ -z "$(ss -Hltn "sport = :8080" | grep -F "$NET_IP:")" ] &&
    ok "10.99.0.1 and pipold's socket only in the namespace" ||
    notok "10.99.0.1 and pipold's socket only in the namespace"
tok=$("$D" --add-user root --admin 2>/dev/null) || notok "pipold --add-user"
export PIPOL_SERVER=$NET_URL PIPOL_TOKEN=$tok
pipol() { net_exec "$P" "$@"; }
pipol node add n1 --mac 52:54:00:99:00:11 --profile pc-bios --ip 10.99.0.11 \
    --power qemu --power-param qmp="$NET_DIR/n1.qmp" > /dev/null
pipol node add n2 --mac 52:54:00:99:00:12 --profile uefi --ip 10.99.0.12 \
    --power qemu --power-param qmp="$NET_DIR/n2.qmp" > /dev/null
check "dnsmasq on pipold's files" net_dnsmasq "$T/dns"

# both nodes paused (-S) until pipold powers them on
check "n1: BIOS node, paused" net_node n1 52:54:00:99:00:11 "$T/n1.img" bios -S
check "n2: UEFI node without NIC ROM, paused" net_node n2 52:54:00:99:00:12 "$T/n2.img" uefi-snp -S
expect_fail 1 "testnet: net_node n3: 2 nodes run already (at most 2 at once)" \
    net_node n3 52:54:00:99:00:13 "" bios
equal "pipol node power n1 status (QMP in the namespace's folder)" \
    "$(pipol node power n1 status)" "n1: prelaunch"

# secs MS: milliseconds as seconds, one decimal
secs() { echo "$(($1 / 1000)).$(($1 % 1000 / 100))"; }
dlog() { grep -F -- "$1" "$NET_DIR/dnsmasq.log" > /dev/null; }
con() { tr -d '\r' < "$NET_DIR/$1.log" | grep -F -- "$2" > /dev/null; }
sshnode() {
	net_exec ssh -F /dev/null -i "$T/id" -o BatchMode=yes -o IdentitiesOnly=yes \
	    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	    -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR \
	    -o ConnectTimeout=20 "root@$1" hostname 2>&1
}

# power_on NAME MAC IP BOOT_SEC: pipold powers it on; the time to the
# /boot/MAC request and to the marker of the disk it then boots
power_on() {
	local n=$1 mac=$2 ip=$3 sec=$4 ms enc
	enc=$(echo "$mac" | sed 's/:/%3A/g')	# iPXE escapes ':' in a path
	equal "$n: pipol node power $n on" "$(pipol node power "$n" on)" "$n: on (running)"
	net_mark "$n"
	if ms=$(net_wait "$n" "/boot/$enc" "$sec"); then
		ok "$n: power-on to GET /boot/$mac in $(secs "$ms") s"
	else
		notok "$n: power-on to GET /boot/$mac"
		tr -d '\r' < "$NET_DIR/$n.log" | tail -20 >&2
		return 1
	fi
	dlog "DHCPACK(br0) $ip $mac $n" && ok "$n: its static lease, $ip" ||
	    notok "$n: its static lease, $ip"
	dlog "bootfile-name  $NET_URL/boot/\${mac}" &&
	    ok "$n: dnsmasq gave iPXE $NET_URL/boot/\${mac}" ||
	    notok "$n: dnsmasq gave iPXE $NET_URL/boot/\${mac}"
	con "$n" "Filename: $NET_URL/boot/$mac" &&
	    ok "$n: iPXE expanded \${mac} to $mac" || notok "$n: iPXE expanded \${mac} to $mac"
	net_wait "$n" "pipol: $n([^0-9]|$)" 20 > /dev/null &&
	    con "$n" "$NET_URL/boot/$enc... ok" &&
	    ok "$n: pipold's boot script for $n, run by iPXE" ||
	    notok "$n: pipold's boot script for $n, run by iPXE"
	if ms=$(net_wait "$n" "^pipol-testimg: up $n" 90); then
		ok "$n: local boot to the disk's marker, $(secs "$ms") s from power-on"
	else
		notok "$n: local boot to the disk's marker"
		tr -d '\r' < "$NET_DIR/$n.log" | tail -20 >&2
		return 1
	fi
	equal "$n: ssh root@$ip (its lease, again, from the image's udhcpc)" \
	    "$(sshnode "$ip")" "$n"
}

power_on n1 52:54:00:99:00:11 10.99.0.11 60
dlog "tags: pc-bios, known, ipxe, bios" &&
    ok "n1: the ROM is iPXE (user class), dnsmasq knows it" ||
    notok "n1: the ROM is iPXE (user class), dnsmasq knows it"
con n1 "Booting from SAN device 0x80" && ok "n1: local-bios: sanboot 0x80" ||
    notok "n1: local-bios: sanboot 0x80"
net_node_stop n1

power_on n2 52:54:00:99:00:12 10.99.0.12 90
dlog "vendor class: PXEClient:Arch:00007" && dlog "bootfile-name  snponly.efi" &&
    ok "n2: OVMF's PXE (arch 7) got snponly.efi" ||
    notok "n2: OVMF's PXE (arch 7) got snponly.efi"
dlog "sent /usr/lib/ipxe/snponly.efi to 10.99.0.12" &&
    ok "n2: snponly.efi over TFTP" || notok "n2: snponly.efi over TFTP"
con n2 "using SNP on SNP-" && ok "n2: iPXE on OVMF's SNP" || notok "n2: iPXE on OVMF's SNP"
# after iPXE's exit, OVMF tries HTTP boot before the disk: pipol.conf
# answers it with a URL pipold answers 404 (no 60 s stall)
dlog "vendor class: HTTPClient" &&
    dlog "bootfile-name  http://10.99.0.1:8080/no-http-boot" &&
    ok "n2: OVMF's HTTP boot got pipol.conf's 404 URL" ||
    notok "n2: OVMF's HTTP boot got pipol.conf's 404 URL"
net_node_stop n2
kill -0 "$DPID" 2>/dev/null && ok "pipold still runs" || notok "pipold still runs"
