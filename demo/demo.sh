#!/bin/bash
# demo.sh -- "make demo": pipol end to end on this machine, with the real
# parts. Builds (or takes from the cache) the Debian 12 reference images
# (imagestore/refimg.sh), starts pipold with its own PostgreSQL under
# the demo folder and dnsmasq inside a network namespace of its own
# (tests/net/testnet.sh: nothing leaves it), two QEMU nodes on its
# bridge -- one pc-bios (SeaBIOS, iPXE ROM), one uefi (OVMF, its own PXE
# loading snponly.efi over TFTP) -- then, as user "demo", deploys
# debian12-bios and debian12-uefi onto them, waits for both to boot the
# deployed system and report ready, prints a timeline per node and the
# command to log in to each, and keeps everything running until
# interrupted (Ctrl-C, or "make demo-stop" from another terminal).
#
#   demo.sh [run]     the demo (make demo)
#   demo.sh stop      end a running demo (make demo-stop)
#
# Folder: $PIPOL_DEMO_DIR (default /var/tmp/pipol-demo): the state
# (store, database), the demo user's SSH key, logs. The reference images
# are cached under $PIPOL_CACHE (default /var/cache/pipol). Needs root.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-$TOP/build}
P=$B/pipol
DEMO=${PIPOL_DEMO_DIR:-/var/tmp/pipol-demo}
NODES="n-bios n-uefi"
declare -A MODE=([n-bios]=bios [n-uefi]=uefi-snp)
declare -A PROFILE=([n-bios]=pc-bios [n-uefi]=uefi)
declare -A MAC=([n-bios]=52:54:00:99:00:31 [n-uefi]=52:54:00:99:00:32)
declare -A IP=([n-bios]=10.99.0.31 [n-uefi]=10.99.0.32)
declare -A IMAGE=([n-bios]=debian12-bios [n-uefi]=debian12-uefi)

say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

running_pid() {
	local pid
	pid=$(cat "$DEMO/demo.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

demo_stop() {
	local pid ns
	if pid=$(running_pid); then
		say "stopping the demo (pid $pid)"
		kill -TERM "$pid"
		for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && die "pid $pid did not stop"
	else
		say "no demo runs"
	fi
	# a demo killed hard leaves its namespace: remove it by its name
	ns=$(cat "$DEMO/netns" 2>/dev/null)
	if [ -n "$ns" ] && ip netns list | grep -qw "$ns"; then
		ip netns pids "$ns" | xargs -r kill 2>/dev/null
		sleep 1
		ip netns del "$ns" && say "removed the namespace $ns"
	fi
	rm -f "$DEMO/netns" "$DEMO/demo.pid"
	return 0
}

case ${1:-run} in
-h|--help) sed -n '2,/^set -u/s/^# \{0,1\}//p' "$0" | grep -v '^set -u'; exit 0 ;;
stop) demo_stop; exit ;;
run) ;;
*) echo "usage: demo.sh [run|stop]" >&2; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || die "needs root (network namespace, QEMU taps, PostgreSQL)"
pid=$(running_pid) && die "a demo runs already (pid $pid): make demo-stop"
for f in "$P" "$B/pipold" "$B/bootenv/cloud/vmlinuz" "$B/bootenv/cloud/initrd.img"; do
	[ -e "$f" ] || die "$f: missing (make all bootenv)"
done
mkdir -p "$DEMO" && chmod 755 "$DEMO" || die "$DEMO: cannot create"
echo $$ > "$DEMO/demo.pid"
export PIPOL_STATE=$DEMO/state
LOGS=$DEMO/logs
rm -rf "$LOGS" "$PIPOL_STATE/pg" "$PIPOL_STATE/dnsmasq"	# a fresh database each run; the store stays
mkdir -p "$LOGS" "$PIPOL_STATE/bootenv"
rm -rf "$PIPOL_STATE/bootenv/cloud" && cp -r "$B/bootenv/cloud" "$PIPOL_STATE/bootenv/cloud"

. "$TOP/tests/net/testnet.sh"
NET_TRAP=0 NET_REBOOT= NET_MEM=${NET_MEM:-1024} NET_TIMEOUT=${NET_TIMEOUT:-86400}
DPID= WATCH=()
cleanup() {
	local w
	for w in "${WATCH[@]}"; do kill "$w" 2>/dev/null; done
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	runuser -u postgres -- /usr/lib/postgresql/*/bin/pg_ctl -D "$PIPOL_STATE/pg/data" \
	    -m fast stop > /dev/null 2>&1
	net_down
	rm -f "$DEMO/demo.pid" "$DEMO/netns"
	say "stopped; the store and logs stay in $DEMO"
}
trap cleanup EXIT
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP

# --- the reference images, into the store once ------------------------
for n in $NODES; do
	img=${IMAGE[$n]} kind=${IMAGE[$n]#debian12-}
	if "$P" image show "$img" > /dev/null 2>&1; then
		say "$img: in the store already"
		continue
	fi
	say "$img: building the reference image (debootstrap, cached; minutes the first time)"
	meta=$("$TOP/imagestore/refimg.sh" "$kind" "$DEMO/$img.raw") || die "$img: imagestore/refimg.sh failed"
	args=()
	for m in $meta; do args+=(--meta "$m"); done
	say "$img: into the store (${meta//$'\n'/ })"
	"$P" image create "$img" --from "$DEMO/$img.raw" "${args[@]}" > /dev/null &&
	    "$P" image validate "$img:1" > /dev/null && "$P" image promote "$img:1" > /dev/null ||
	    die "$img: pipol image create failed"
	rm -f "$DEMO/$img.raw"
done

# --- network, pipold, dnsmasq -------------------------------------------
net_up demo || die "net_up failed"
echo "$NET_NS" > "$DEMO/netns"
ip netns exec "$NET_NS" "$B/pipold" --listen "$NET_IP:8080" --dnsmasq-dir "$PIPOL_STATE/dnsmasq" \
    --public-url "$NET_URL" >> "$LOGS/pipold.log" 2>&1 &
DPID=$!
for _ in $(seq 600); do net_exec curl -sf "$NET_URL/health" > /dev/null && break; sleep 0.1; done
net_exec curl -sf "$NET_URL/health" > /dev/null || die "pipold did not start ($LOGS/pipold.log)"
adm=$("$B/pipold" --add-user admin --admin 2>> "$LOGS/pipold.log") || die "pipold --add-user failed"
export PIPOL_SERVER=$NET_URL
admin() { PIPOL_TOKEN=$adm net_exec "$P" "$@"; }
[ -f "$DEMO/demo_key" ] || ssh-keygen -q -t ed25519 -N '' -C demo@pipol -f "$DEMO/demo_key"
tok=$(admin user add demo --ssh-key "$DEMO/demo_key.pub") || die "pipol user add failed"
user() { PIPOL_TOKEN=$tok net_exec "$P" "$@"; }
for n in $NODES; do
	admin node add "$n" --mac "${MAC[$n]}" --profile "${PROFILE[$n]}" --ip "${IP[$n]}" \
	    --power qemu --power-param qmp="$NET_DIR/$n.qmp" > /dev/null &&
	    admin node set "$n" --bootenv cloud > /dev/null || die "pipol node add $n failed"
done
printf '#!/bin/sh\n# run as root in each system deployed for demo\necho "deployed by pipol for $PIPOL_USER: $PIPOL_IMAGE on $PIPOL_NODE" > /etc/motd\necho "motd written"\n' \
    > "$DEMO/rc"
user script add "$DEMO/rc" > /dev/null || die "pipol script add failed"
net_dnsmasq "$PIPOL_STATE/dnsmasq" || die "dnsmasq did not start"

# --- two nodes, off; every console line stamped with its time -----------
# (no filter between tail and the loop: a pipe's buffering would stamp
# lines late, in batches)
stamp() { tail -F -n +1 "$NET_DIR/$1.log" 2>/dev/null |
    while IFS= read -r l; do printf '%s %s\n' "$(date +%s.%N)" "${l%$'\r'}"; done > "$LOGS/$1.console"; }
for n in $NODES; do
	rm -f "$DEMO/$n.disk" && truncate -s 4G "$DEMO/$n.disk"	# blank: a cold deployment
	net_node "$n" "${MAC[$n]}" "$DEMO/$n.disk" "${MODE[$n]}" -S || die "QEMU node $n did not start"
	stamp "$n" & WATCH+=($!)
done

# --- deploy both at once ----------------------------------------------
T0=$(date +%s.%N)
for n in $NODES; do
	user deploy -n "$n" -i "${IMAGE[$n]}" > "$LOGS/$n.deploy" 2>&1 || die "pipol deploy $n: $(cat "$LOGS/$n.deploy")"
done
say "deploying ${IMAGE[n-bios]} on n-bios and ${IMAGE[n-uefi]} on n-uefi (pipold powers them on)"
dep() { grep -o 'deployment [0-9]*' "$LOGS/$1.deploy" | head -1 | cut -d' ' -f2; }
left=$NODES
while [ -n "$left" ]; do
	sleep 5
	line= next=
	for n in $left; do
		st=$(user status "$(dep "$n")" | awk 'NR == 2 { $1 = $2 = $3 = ""; print }' | sed 's/^ *//')
		line="$line  $n: $st"
		case $st in
		ready*) ;;
		failed*) die "$n: $st (see $LOGS, and 'pipol log $(dep "$n")')" ;;
		*) next="$next $n" ;;
		esac
	done
	printf 'demo: %5.0f s %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$line"
	left=$next
	[ "$(echo "$(date +%s.%N) - $T0 > 1800" | bc)" = 1 ] && die "not ready after 30 min"
done

# --- timeline ------------------------------------------------------------
# at STATE of deployment ID, in seconds since T0
at() { local t; t=$(user status --json "$1" |
    jq -r --arg s "$2" '.deployments[0].transitions[]? | select(.state == $s) | .at' | head -1)
    [ -n "$t" ] && echo "$(date -d "$t" +%s.%N) - $T0" | bc; }
# first console line matching REGEX, in seconds since T0
con_at() { local t; t=$(grep -m1 -E -- "$2" "$LOGS/$1.console" | cut -d' ' -f1)
    [ -n "$t" ] && echo "$t - $T0" | bc; }
# the first DHCP lease of the node (dnsmasq logs whole seconds)
dhcp_at() { local t; t=$(grep -m1 "DHCPACK(br0) ${IP[$1]} " "$NET_DIR/dnsmasq.log" | awk '{ print $1, $2, $3 }')
    [ -n "$t" ] && echo "$(date -d "$t" +%s) - $T0" | bc; }
row() { [ -n "$2" ] && printf '  %-44s %7.1f s\n' "$1" "$2" || printf '  %-44s %9s\n' "$1" "-"; }
echo
for n in $NODES; do
	d=$(dep "$n")
	bytes=$(user status "$d" | awk 'NR == 2 { print }' | grep -oE '[0-9.]+ [KMG]iB' | tail -1)
	f=$(at "$d" fetching) p=$(at "$d" postinstall) r=$(at "$d" rebooting)
	echo "$n (${PROFILE[$n]}, ${IMAGE[$n]}), seconds from the deploy command:"
	row "power-on (pipold, QMP)" "$(at "$d" pending)"
	row "DHCP lease (dnsmasq)" "$(dhcp_at "$n")"
	row "iPXE runs pipold's deploy script" "$(at "$d" booting)"
	row "deployment kernel + initramfs up (/init)" "$(con_at "$n" 'pipol: deployment environment:')"
	row "agent start (order fetched)" "$f"
	row "disk written and verified" "$p"
	row "post-install done, rebooting" "$r"
	row "deployed system up, ready" "$(at "$d" ready)"
	if [ -n "$f" ] && [ -n "$p" ] && [ -n "$r" ]; then
		printf '  the agent: writing %.1f s, post-install %.1f s; firmware and kernel boots: the rest\n' \
		    "$(echo "$p - $f" | bc)" "$(echo "$r - $p" | bc)"
	fi
	echo
done
say "both nodes run their deployed Debian. Log in (from this machine, as root):"
for n in $NODES; do
	echo "  ip netns exec $NET_NS ssh -i $DEMO/demo_key -o StrictHostKeyChecking=no root@${IP[$n]}   # $n"
done
say "consoles: $NET_DIR/n-bios.log, n-uefi.log; pipold: $LOGS/pipold.log; scripts: PIPOL_TOKEN=$tok PIPOL_SERVER=$NET_URL ip netns exec $NET_NS $P log ID"
for n in $NODES; do
	h=$(net_exec ssh -F /dev/null -i "$DEMO/demo_key" -o BatchMode=yes -o StrictHostKeyChecking=no \
	    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=20 "root@${IP[$n]}" \
	    'echo "$(hostname): $(cat /etc/motd)"' 2>&1)
	say "ssh root@${IP[$n]}: $h"
done
say "running until Ctrl-C or 'make demo-stop'"
while :; do sleep 3600 & wait $!; done
