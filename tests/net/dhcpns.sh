#!/bin/bash
# dhcpns.sh -- a real dnsmasq on pipold's files, and a scripted DHCP
# client, inside a network namespace of the test's own (never on the
# host's network). Sourced by shell tests after tests/lib.sh:
#   dhcpns_up CONF     namespace, d0 (10.77.0.1, dnsmasq --conf-file=CONF)
#                      <-veth-> c0 (the client); returns 1 when it cannot
#   dhcpns_ask MAC [udhcpc args]   the lease c0 gets with that MAC:
#                      "ip=A boot_file=F", or "none"
#   dhcpns_tftp FILE OUT   fetch FILE over TFTP from inside the namespace
# The caller's extra_cleanup calls dhcpns_down.
DHCPNS=pipol-dhcp-$$
DHCPNS_PID=
dhcpns_down() {
	[ -n "$DHCPNS_PID" ] && kill "$DHCPNS_PID" 2>/dev/null && wait "$DHCPNS_PID" 2>/dev/null
	DHCPNS_PID=
	ip netns del "$DHCPNS" 2>/dev/null
}
dhcpns_up() {
	ip netns add "$DHCPNS" || return 1
	ip -n "$DHCPNS" link set lo up
	ip -n "$DHCPNS" link add d0 type veth peer name c0
	ip -n "$DHCPNS" addr add 10.77.0.1/24 dev d0
	ip -n "$DHCPNS" link set d0 up
	ip -n "$DHCPNS" link set c0 up
	ip netns exec "$DHCPNS" dnsmasq --keep-in-foreground --conf-file="$1" \
	    --port=0 --interface=d0 --bind-interfaces --dhcp-range=10.77.0.0,static \
	    --dhcp-leasefile="$T/dhcpns.leases" --user=root \
	    --log-dhcp --log-facility="$T/dnsmasq.log" &
	DHCPNS_PID=$!
	for _ in $(seq 100); do
		ip netns exec "$DHCPNS" ss -Hlun 'sport = :67' | grep -q . && break
		sleep 0.1
	done
	cat > "$T/dhcpns.sh" <<EOS
#!/bin/sh
[ "\$1" = bound ] && echo "ip=\$ip boot_file=\$boot_file" > "$T/dhcpns.lease"
exit 0
EOS
	chmod 755 "$T/dhcpns.sh"
}
dhcpns_ask() {
	local mac=$1; shift
	rm -f "$T/dhcpns.lease"
	ip -n "$DHCPNS" link set c0 address "$mac"
	ip netns exec "$DHCPNS" busybox udhcpc -i c0 -f -q -n -t 4 -T 1 \
	    -s "$T/dhcpns.sh" "$@" > /dev/null 2>&1
	cat "$T/dhcpns.lease" 2>/dev/null || echo none
}
dhcpns_tftp() {
	rm -f "$2"
	ip netns exec "$DHCPNS" busybox tftp -g -r "$1" -l "$2" 10.77.0.1 > /dev/null 2>&1
}
