#!/bin/bash
# testnet.sh -- the test network of the end-to-end boot tests: a network
# namespace of the test's own, where QEMU nodes PXE-boot from a real
# dnsmasq and pipold, as on a real boot network. A library:
#
#   . tests/net/testnet.sh
#   net_up NAME              namespace pipol-NAME-$$: bridge br0 with
#                            10.99.0.1/24 and fd99:99::1/64 (the router
#                            advertisement iPXE waits 15 s for otherwise)
#   net_dnsmasq CONFDIR      dnsmasq on br0 with pipold's CONFDIR/pipol.conf
#                            and CONFDIR/hosts (pipold --dnsmasq-dir), plus
#                            the site's lines: static leases only, RA
#   net_node NAME MAC DISK [bios|uefi|uefi-snp|uefi32] [QEMU ARGS...]
#                            a QEMU node on its own tap in br0, network
#                            first; DISK "" for none; QMP socket
#                            $NET_DIR/NAME.qmp, console $NET_DIR/NAME.log
#                            (console: also a socket $NET_DIR/NAME.serial,
#                            pipold's power param serial=);
#                            -no-reboot, under timeout; two at most
#   net_wait NAME REGEX SEC  wait for REGEX in NAME's console; prints the
#                            milliseconds since NAME was started
#   net_mark NAME            restart NAME's clock: its power-on, for a
#                            node started paused (-S) and turned on later
#   net_node_stop NAME       stop it (by pid) and remove its tap
#   net_exec CMD...          run CMD in the namespace (a function: to
#                            start a daemon whose pid you keep, use
#                            ip netns exec "$NET_NS" CMD & directly)
#   net_down                 stop what net_* started, by pid, remove the
#                            namespace (and with it br0 and the taps)
#
# Modes: bios = SeaBIOS and the NIC's iPXE ROM (QEMU's own, which is
# iPXE: no firmware PXE under SeaBIOS); uefi = OVMF and the NIC's iPXE
# EFI ROM; uefi-snp = OVMF with the NIC ROM removed (romfile=), so OVMF's
# own PXE loads snponly.efi over TFTP: the chain real UEFI machines take;
# uefi32 = 32-bit OVMF (ovmf-ia32) on the 64-bit CPU, its own PXE (client
# architecture 6): the first Intel Macs' situation (profile mac-efi32).
# OVMF runs from the pflash pair, with NAME's own copy of OVMF_VARS
# ($NET_DIR/NAME.vars, kept across restarts of NAME), and without IPv6
# boot. A node whose boot script exits (pipold's local-uefi) goes on to
# OVMF's next entries: HTTP boot over IPv4, then its disk; dnsmasq
# answers HTTP boot with a URL that fails at once (it stalls ~60 s
# otherwise).
#
# Nothing leaves the namespace: no veth to the host, every listener and
# every tap inside it. net_up sets an EXIT trap running net_down (and
# makes INT, TERM and HUP exit); a caller with its own EXIT trap calls
# net_down from it. Needs root. Tunables: NET_MEM (MiB, 512),
# NET_TIMEOUT (s, a node's life at most, 600), NET_REBOOT (empty: a
# guest's reboot reboots the node, as on a real machine; default:
# -no-reboot, QEMU quits), NET_DISK_BOOT (empty: the disk is no boot
# device, for a network-only node with -boot strict=on; default: second).

NET_IP=10.99.0.1
NET_IP6=fd99:99::1
NET_URL=http://$NET_IP:8080	# where pipold listens in the tests
NET_MAX_NODES=2		# TCG: a third VM gains nothing (TESTBED §6)
NET_NS= NET_DIR= NET_DNSMASQ= NET_TAPS=0
NET_REBOOT=${NET_REBOOT-1}	# set: QEMU quits when its guest reboots
NET_DISK_BOOT=${NET_DISK_BOOT-1}	# set: the disk boots after the NIC
declare -A NET_PIDS=() NET_TAP=() NET_T0=()

net_usage() {
	sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

net_err() { echo "testnet: $*" >&2; return 1; }

net_exec() { ip netns exec "$NET_NS" "$@"; }

# net_up NAME
net_up() {
	local name=$1
	case $name in
	''|*[!a-z0-9-]*) net_err "net_up $name: lower case letters, digits, '-'"; return ;;
	esac
	[ -z "$NET_NS" ] || { net_err "net_up: $NET_NS is up already"; return; }
	NET_NS=pipol-$name-$$
	NET_DIR=$(mktemp -d /tmp/pipol-net.XXXXXX) || return
	if [ "${NET_TRAP:-1}" = 1 ]; then
		trap net_down EXIT
		trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP
	fi
	ip netns add "$NET_NS" || { NET_NS=; net_err "ip netns add: root needed"; return; }
	ip -n "$NET_NS" link set lo up &&
	ip -n "$NET_NS" link add br0 type bridge &&
	ip -n "$NET_NS" addr add "$NET_IP/24" dev br0 &&
	ip -n "$NET_NS" addr add "$NET_IP6/64" dev br0 nodad &&
	ip -n "$NET_NS" link set br0 up
}

# net_listening PROTO PORT: something in the namespace listens there
net_listening() {
	net_exec ss -Hln"${1:0:1}" "sport = :$2" 2>/dev/null | grep -q .
}

# net_dnsmasq CONFDIR: dnsmasq on pipold's files, until net_down
net_dnsmasq() {
	local conf=$1
	[ -s "$conf/pipol.conf" ] || { net_err "$conf/pipol.conf: none (pipold --dnsmasq-dir)"; return; }
	[ -z "$NET_DNSMASQ" ] || { net_err "net_dnsmasq: runs already"; return; }
	# --user=root: it reads the TFTP root and writes in $NET_DIR.
	# The boot chain (HTTP boot answered with a 404 URL included) is
	# pipol.conf's; the link's own part is here.
	# not through net_exec: $! must be dnsmasq (ip netns exec execs it),
	# not a subshell whose death would leave dnsmasq running
	ip netns exec "$NET_NS" dnsmasq --keep-in-foreground --conf-file="$conf/pipol.conf" \
	    --port=0 --interface=br0 --bind-interfaces \
	    --dhcp-range=10.99.0.0,static \
	    --enable-ra --dhcp-range=::,constructor:br0,ra-only \
	    --dhcp-leasefile="$NET_DIR/leases" --pid-file="$NET_DIR/dnsmasq.pid" \
	    --user=root --log-dhcp --log-facility="$NET_DIR/dnsmasq.log" &
	NET_DNSMASQ=$!
	for _ in $(seq 100); do
		net_listening udp 67 && net_listening udp 69 && return 0
		kill -0 "$NET_DNSMASQ" 2>/dev/null || break
		sleep 0.1
	done
	net_err "dnsmasq did not start (see $NET_DIR/dnsmasq.log)"
}

# net_node NAME MAC DISK [MODE] [QEMU ARGS...]
net_node() {
	local name=$1 mac=$2 disk=$3 mode=${4:-bios} tap nic fw=() dev=()
	shift $(($# < 4 ? $# : 4))
	case $name in ''|*[!a-z0-9-]*) net_err "net_node $name: lower case letters, digits, '-'"; return ;; esac
	[[ $mac =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]] || { net_err "net_node $name: MAC $mac: lower case aa:bb:cc:dd:ee:ff"; return; }
	[ -n "$NET_NS" ] || { net_err "net_node: no net_up"; return; }
	[ -z "${NET_PIDS[$name]:-}" ] || { net_err "net_node $name: runs already"; return; }
	[ ${#NET_PIDS[@]} -lt $NET_MAX_NODES ] ||
	    { net_err "net_node $name: $NET_MAX_NODES nodes run already (at most $NET_MAX_NODES at once)"; return; }
	nic="virtio-net-pci,netdev=n0,mac=$mac,bootindex=1"
	case $mode in
	bios) ;;
	uefi|uefi-snp)
		[ -f "$NET_DIR/$name.vars" ] ||
		    cp /usr/share/OVMF/OVMF_VARS_4M.fd "$NET_DIR/$name.vars" || return
		fw=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"
		    -drive "if=pflash,format=raw,unit=1,file=$NET_DIR/$name.vars")
		# no PXE or HTTP boot over IPv6 (each would stall a node that
		# leaves iPXE for its disk), as on most machines as shipped
		fw+=(-fw_cfg "name=opt/org.tianocore/IPv6Support,string=no")
		[ "$mode" = uefi ] || nic="$nic,romfile=" ;;
	uefi32)
		# 32-bit OVMF on a 64-bit CPU, as the first Intel Macs: its
		# own PXE (no NIC ROM), IPv6 off; Debian builds OVMF32 only
		# with Secure Boot, which needs SMM (no keys: not enforced)
		[ -f "$NET_DIR/$name.vars" ] ||
		    cp /usr/share/OVMF/OVMF32_VARS_4M.fd "$NET_DIR/$name.vars" || return
		fw=(-machine smm=on -global driver=cfi.pflash01,property=secure,value=on
		    -drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF32_CODE_4M.secboot.fd"
		    -drive "if=pflash,format=raw,unit=1,file=$NET_DIR/$name.vars"
		    -fw_cfg "name=opt/org.tianocore/IPv6Support,string=no")
		nic="$nic,romfile=" ;;
	*) net_err "net_node $name: mode $mode: bios, uefi, uefi-snp or uefi32"; return ;;
	esac
	if [ -n "$disk" ]; then
		[ -f "$disk" ] || { net_err "net_node $name: $disk: no such file"; return; }
		dev=(-drive "if=none,id=d0,file=$disk,format=raw"
		    -device "virtio-blk-pci,drive=d0${NET_DISK_BOOT:+,bootindex=2}")
	fi
	tap=tap$NET_TAPS; NET_TAPS=$((NET_TAPS + 1))
	ip -n "$NET_NS" tuntap add "$tap" mode tap &&
	ip -n "$NET_NS" link set "$tap" master br0 &&
	ip -n "$NET_NS" link set "$tap" up || return
	NET_TAP[$name]=$tap
	rm -f "$NET_DIR/$name.log" "$NET_DIR/$name.qmp" "$NET_DIR/$name.serial"
	NET_T0[$name]=$(date +%s%N)
	# graphics=off: SeaBIOS and iPXE write on the serial console too
	# $!: timeout (ip netns exec execs it), which passes a TERM on to QEMU
	ip netns exec "$NET_NS" timeout "${NET_TIMEOUT:-600}" qemu-system-x86_64 -name "$name" \
	    -machine q35,graphics=off ${QEMU_ACCEL:--accel tcg} -m "${NET_MEM:-512}" \
	    -display none -monitor none ${NET_REBOOT:+-no-reboot} \
	    -chardev "socket,id=s0,path=$NET_DIR/$name.serial,server=on,wait=off,logfile=$NET_DIR/$name.log" \
	    -serial chardev:s0 \
	    -qmp "unix:$NET_DIR/$name.qmp,server=on,wait=off" "${fw[@]}" \
	    -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
	    -device "$nic" "${dev[@]}" "$@" \
	    < /dev/null > "$NET_DIR/$name.qemu" 2>&1 &
	NET_PIDS[$name]=$!
	for _ in $(seq 100); do
		[ -S "$NET_DIR/$name.qmp" ] && return 0
		kill -0 "${NET_PIDS[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	net_err "net_node $name: QEMU did not start: $(tail -1 "$NET_DIR/$name.qemu")"
	net_node_stop "$name"
	return 1
}

# net_wait NAME REGEX SECONDS: 0 and the milliseconds since NAME started
# once REGEX (grep -E) is in its console; 1 when it is not in time or
# the node is gone
net_wait() {
	local name=$1 re=$2 sec=$3 pid=${NET_PIDS[$1]:-}
	for _ in $(seq $((sec * 10))); do
		if tr -d '\r' < "$NET_DIR/$name.log" 2>/dev/null | grep -qE -- "$re"; then
			echo $((($(date +%s%N) - NET_T0[$name]) / 1000000))
			return 0
		fi
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	tr -d '\r' < "$NET_DIR/$name.log" 2>/dev/null | grep -qE -- "$re" || return 1
	echo $((($(date +%s%N) - NET_T0[$name]) / 1000000))
}

net_mark() { NET_T0[$1]=$(date +%s%N); }

# net_node_stop NAME: timeout passes the TERM on to its QEMU
net_node_stop() {
	local name=$1 pid=${NET_PIDS[$1]:-}
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	unset "NET_PIDS[$name]"
	[ -z "${NET_TAP[$name]:-}" ] || ip -n "$NET_NS" link del "${NET_TAP[$name]}" 2>/dev/null
	unset "NET_TAP[$name]"
	return 0
}

net_down() {
	local name pids
	for name in "${!NET_PIDS[@]}"; do net_node_stop "$name"; done
	if [ -n "$NET_DNSMASQ" ]; then
		kill "$NET_DNSMASQ" 2>/dev/null
		wait "$NET_DNSMASQ" 2>/dev/null
		NET_DNSMASQ=
	fi
	if [ -n "$NET_NS" ]; then
		# what still runs in the namespace was started in it by the
		# caller (only it can be there): say so, and stop it
		pids=$(ip netns pids "$NET_NS" 2>/dev/null)
		if [ -n "$pids" ]; then
			echo "testnet: net_down: still in $NET_NS:" $pids >&2
			kill $pids 2>/dev/null
			for _ in $(seq 50); do
				[ -z "$(ip netns pids "$NET_NS" 2>/dev/null)" ] && break
				sleep 0.1
			done
		fi
		ip netns del "$NET_NS" 2>/dev/null
	fi
	NET_NS=
	[ -z "$NET_DIR" ] || rm -rf "$NET_DIR"
	NET_DIR=
	return 0
}

# run, not sourced: only --help
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case ${1:-} in
	-h|--help) net_usage; exit 0 ;;
	*) echo "usage: . tests/net/testnet.sh (a library; --help)" >&2; exit 2 ;;
	esac
fi
