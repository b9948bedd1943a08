#!/bin/bash
# scale.sh -- per-node deploy time from 1 to 32 nodes, without and with
# rack caches (issue 17 item 4). A simulation at a smaller scale, in
# network namespaces on one machine: a switch (a bridge in its own
# namespace), the frontend (pipold, its uplink shaped to SCALE_UPLINK),
# N nodes (each a namespace whose link from the switch is shaped to
# SCALE_NODE), and with caches one nginx rack cache (pipol cache config)
# per 8 nodes, its link to the switch shaped to SCALE_CACHE. Each node
# runs pipol-agent deploy in host mode, --threads 1 (this machine has
# few cores), onto its own file in a tmpfs, all N at once; with caches
# the caches start empty each round (a first deploy through them). The
# table: the median and the slowest node's deploy time, the bytes the
# frontend sent, and each time over N = 1's.
# Env: SCALE_NODES ("1 2 4 8 16 32"), SCALE_MIB (64), SCALE_NODE
# (100mbit), SCALE_UPLINK (400mbit), SCALE_CACHE (400mbit), SCALE_MTU
# (1500; 9000: jumbo frames, fewer packets for the one machine to carry).
set -euo pipefail
cd "$(dirname "$0")/../.."
B=$PWD/${B:-build}
P=$B/pipol A=$B/pipol-agent D=$B/pipold
NODES=${SCALE_NODES:-1 2 4 8 16 32}
MIB=${SCALE_MIB:-64}
RN=${SCALE_NODE:-100mbit} RU=${SCALE_UPLINK:-400mbit} RC=${SCALE_CACHE:-400mbit}
MTU=${SCALE_MTU:-1500}
PER=8			# nodes a rack cache serves
MAXN=0; for n in $NODES; do [ "$n" -le 250 ] || { echo "scale: $n nodes: 250 at most" >&2; exit 2; }; [ "$n" -gt $MAXN ] && MAXN=$n; done
NC=$(( (MAXN + PER - 1) / PER ))
command -v nginx > /dev/null || { echo "bench: no nginx (tests/deps.sh bench installs nginx-light)" >&2; exit 1; }
W=$(mktemp -d /var/tmp/pipol-scale.XXXXXX)
chmod 755 "$W"
TGT=$(mktemp -d /dev/shm/pipol-scale.XXXXXX)
export PIPOL_STATE=$W/state
X=ps$$			# the namespaces' prefix: this run's own
DPID= NPIDS=()
cleanup() {
	local p n
	for p in "${NPIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
	[ -z "$DPID" ] || { kill "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null || true; }
	runuser -u postgres -- /usr/lib/postgresql/*/bin/pg_ctl -D "$PIPOL_STATE/pg/data" \
	    -m immediate stop > /dev/null 2>&1 || true
	for n in $(ip netns list | awk '{print $1}' | grep "^$X-" || true); do ip netns del "$n"; done
	rm -rf "$W" "$TGT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
HZ=$(getconf CLK_TCK)
# busy: jiffies every core spent neither idle nor waiting on I/O
busy() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
in_ns() { local n=$1; shift; ip netns exec "$X-$n" "$@"; }

# --- the network ---------------------------------------------------------------
ip netns add "$X-sw"
in_ns sw ip link add br0 type bridge
in_ns sw ip link set br0 up
# host NAME ADDR RATE: a namespace on the switch; RATE shapes what it
# sends (eth0's egress) or, with "in:", what it receives (the switch
# port's egress)
k=0
host() {
	local name=$1 addr=$2 rate=$3 port
	k=$((k + 1)); port=p$k
	ip netns add "$X-$name"
	ip link add "$port" netns "$X-sw" type veth peer name eth0 netns "$X-$name"
	in_ns sw ip link set "$port" mtu "$MTU" master br0 up
	in_ns "$name" ip addr add "$addr/16" dev eth0
	in_ns "$name" ip link set eth0 mtu "$MTU" up
	in_ns "$name" ip link set lo up
	case $rate in
	in:*) in_ns sw tc qdisc add dev "$port" root tbf rate "${rate#in:}" burst 256kb latency 100ms ;;
	*) in_ns "$name" tc qdisc add dev eth0 root tbf rate "$rate" burst 512kb latency 100ms ;;
	esac
}
host fe 10.78.0.1 "$RU"
for ((c = 1; c <= NC; c++)); do host c$c 10.78.1.$c "$RC"; done
for ((i = 1; i <= MAXN; i++)); do host n$i 10.78.2.$i "in:$RN"; done

# --- the image and the frontend ------------------------------------------------
half=$((MIB / 2))
head -c $((half << 20)) /dev/urandom > "$W/disk"
tar -cf - -C /usr share 2>/dev/null | head -c $(((MIB - half) << 20)) >> "$W/disk" || true
truncate -s "${MIB}M" "$W/disk"
"$P" image create bench --from "$W/disk" > /dev/null && "$P" image validate bench:1 > /dev/null
CHUNKS=$(du -cb "$PIPOL_STATE"/store/chunks/* | tail -1 | cut -f1)
ip netns exec "$X-fe" "$D" --listen 10.78.0.1:8080 --ip-connections 4096 >> "$W/pipold.log" 2>&1 &
DPID=$!
for _ in $(seq 300); do in_ns fe curl -sf http://10.78.0.1:8080/health > /dev/null && break; sleep 0.1; done
ADM=$("$D" --add-user bench --admin 2>/dev/null)
sent() { in_ns fe curl -s -H "Authorization: Bearer $ADM" http://10.78.0.1:8080/metrics |
    awk '$1 == "pipol_store_sent_bytes_total" { print $2 }'; }
caches_up() {
	local c
	for p in "${NPIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
	NPIDS=()
	for ((c = 1; c <= NC; c++)); do
		rm -rf "$W/c$c"; mkdir -p "$W/c$c"
		PIPOL_SERVER=http://10.78.0.1:8080 "$P" cache config c$c --listen 10.78.1.$c:8080 \
		    --dir "$W/c$c" > "$W/c$c.conf"
		sed -i '/access_log/d' "$W/c$c.conf"
		ip netns exec "$X-c$c" nginx -c "$W/c$c.conf" -g 'daemon off;' \
		    > /dev/null 2>> "$W/nginx.err" &
		NPIDS+=($!)
	done
	for ((c = 1; c <= NC; c++)); do
		for _ in $(seq 100); do in_ns n1 curl -sf http://10.78.1.$c:8080/health > /dev/null && break; sleep 0.1; done
	done
}

echo "scale bench: a $MIB MiB image ($((CHUNKS >> 20)) MiB of chunks); nodes at $RN each, frontend uplink $RU," \
    "a rack cache per $PER nodes at $RC; MTU $MTU; $(nproc) cores; a simulation at a smaller scale"
printf '%-6s %-6s %9s %9s %13s %9s %8s %11s\n' NODES CACHES "MEDIAN s" "MAX s" "FRONTEND MiB" "MAX/1" "CPU BUSY" "AGENTS CPU"
echo "(CPU BUSY: the cores' busy share over the slowest node's time; AGENTS CPU: the agents' user + system seconds over $(nproc) cores)"
declare -A base last
for mode in none rack; do
	for n in $NODES; do
		rm -f "$TGT"/t*
		[ "$mode" = rack ] && caches_up
		s0=$(sent) b0=$(busy)
		pids=()
		for ((i = 1; i <= n; i++)); do
			extra=()
			[ "$mode" = rack ] && extra=(--cache "http://10.78.1.$(( (i - 1) / PER + 1 )):8080")
			# (bash's times: the agent's user and system seconds)
			ip netns exec "$X-n$i" bash -c '"$@"; rc=$?; times > "$0"; exit $rc' "$W/a$i.cpu" \
			    "$A" deploy --base http://10.78.0.1:8080 "${extra[@]}" --image bench:1 \
			    --target "$TGT/t$i" --threads 1 --no-reuse 2> "$W/a$i.err" &
			pids+=($!)
		done
		fail=0
		for p in "${pids[@]}"; do wait "$p" || fail=$((fail + 1)); done
		[ $fail -eq 0 ] || { echo "scale: $fail agents failed (N=$n, $mode)" >&2; tail -2 "$W"/a*.err >&2; exit 1; }
		times=$(for ((i = 1; i <= n; i++)); do grep -o ' bytes in [0-9.]* s' "$W/a$i.err" | awk '{print $3}'; done | sort -n)
		med=$(echo "$times" | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
		max=$(echo "$times" | tail -1)
		mb=$(( ($(sent) - s0) >> 20 ))
		# the machine's cores: busy share over the round (/proc/stat),
		# and the agents' own CPU seconds spread over every core: a
		# lower bound of the round's time on this machine whatever the
		# network does
		bz=$(( $(busy) - b0 ))
		acpu=$(for ((i = 1; i <= n; i++)); do sed -n 2p "$W/a$i.cpu"; done | tr -d 's' | tr 'm' ' ' |
		    awk '{ s += $1 * 60 + $2 + $3 * 60 + $4 } END { printf "%.2f", s }')
		[ -n "${base[$mode]:-}" ] || base[$mode]=$max
		last[$mode]=$max
		printf '%-6s %-6s %9.2f %9.2f %13s %9.2f %8s %11.2f\n' "$n" "$([ $mode = rack ] && echo $(( (n + PER - 1) / PER )) || echo 0)" \
		    "$med" "$max" "$mb" "$(echo "$max / ${base[$mode]}" | bc -l)" \
		    "$(echo "$bz / ($HZ * $(nproc) * $max) * 100" | bc -l | xargs printf %.0f)%" \
		    "$(echo "$acpu / $(nproc)" | bc -l)"
	done
done
echo "the curve's end over its start (slowest node at N=$MAXN over N=1): without caches" \
    "$(printf %.2f "$(echo "${last[none]} / ${base[none]}" | bc -l)"), with rack caches" \
    "$(printf %.2f "$(echo "${last[rack]} / ${base[rack]}" | bc -l)")"
