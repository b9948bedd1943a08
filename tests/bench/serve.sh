#!/bin/bash
# serve.sh -- pipold serving the store against nginx serving the same
# folder: N host-mode agents at once (8, then 32) deploy one image over
# loopback, each onto its own file in a tmpfs (writes cost a memcpy, so
# the server is what differs), against pipold, then against nginx
# (nginx-light: sendfile on, keep-alive, no access log, one worker per
# core, started from a config in the temp dir and stopped by its pid;
# the system's nginx and /etc/nginx are never touched). The figure is
# the aggregate rate: raw disk bytes deployed per wall second over all
# agents; the table gives pipold / nginx, each server's CPU seconds per
# GiB served (from /proc/PID/stat).
# Medians of interleaved rounds.
# Env: SERVE_ROUNDS or BENCH_ROUNDS (5), SERVE_AGENTS ("8 32"), SERVE_MIB (256).
set -euo pipefail
cd "$(dirname "$0")/../.."
B=$PWD/${B:-build}
P=$B/pipol A=$B/pipol-agent D=$B/pipold
W=$(mktemp -d /var/tmp/pipol-serve-bench.XXXXXX)
chmod 755 "$W"		# the postgres and nginx workers reach the state
TGT=$(mktemp -d /dev/shm/pipol-serve-bench.XXXXXX)
export PIPOL_STATE=$W/state
DPID= NPID=
cleanup() {
	[ -z "$NPID" ] || { kill "$NPID" 2>/dev/null; wait "$NPID" 2>/dev/null || true; }
	[ -z "$DPID" ] || { kill "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null || true; }
	rm -rf "$W" "$TGT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
MIB=${SERVE_MIB:-256}
ROUNDS=${SERVE_ROUNDS:-${BENCH_ROUNDS:-5}}
AGENTS=${SERVE_AGENTS:-8 32}
HZ=$(getconf CLK_TCK)

command -v nginx > /dev/null || { echo "bench: no nginx (tests/deps.sh bench installs nginx-light)" >&2; exit 1; }
now() { date +%s.%N; }
port() { echo $((20000 + RANDOM % 12000)); }	# below the ephemeral range
# ticks PID...: user + system CPU ticks of these processes (all threads)
ticks() {
	local p t=0
	for p in "$@"; do
		t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
	done
	echo $t
}

# --- the image: half incompressible, half text-like --------------------------
half=$((MIB / 2))
head -c $((half << 20)) /dev/urandom > "$W/disk"
tar -cf - -C /usr share 2>/dev/null | head -c $(((MIB - half) << 20)) >> "$W/disk" || true
truncate -s "${MIB}M" "$W/disk"
"$P" image create s --from "$W/disk" > /dev/null
SIZE=$(stat -c %s "$W/disk")
SERVED=$(du -cb "$PIPOL_STATE"/store/chunks/* | tail -1 | cut -f1)
echo "serve bench: image of $MIB MiB ($((SERVED >> 20)) MiB of chunks), $(nproc) cores, agents: $AGENTS"

# --- the two servers -----------------------------------------------------------
for _ in 1 2 3 4 5; do		# another port when this one is taken
	PD=$(port)
	# every agent comes from 127.0.0.1 here: the per-address limit is
	# raised to what the bench opens (real nodes each have their own)
	"$D" --listen 127.0.0.1:$PD --ip-connections 4096 >> "$W/pipold.log" 2>&1 &
	DPID=$!
	for _ in $(seq 300); do
		curl -sf "http://127.0.0.1:$PD/health" > /dev/null && break 2
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.1
	done
	wait "$DPID" 2>/dev/null || true; DPID=
done
[ -n "$DPID" ] || { cat "$W/pipold.log" >&2; exit 1; }

# nginx_conf PORT: sendfile, keep-alive, no log, one worker per core;
# every path (pid, logs, temp folders) under $W/ngx
nginx_conf() {
	cat <<EOF
daemon off;
worker_processes $(nproc);
pid $W/ngx/nginx.pid;
error_log $W/ngx/error.log;
events { worker_connections 4096; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	keepalive_timeout 120s;
	default_type application/octet-stream;
	client_body_temp_path $W/ngx/body;
	proxy_temp_path $W/ngx/proxy;
	fastcgi_temp_path $W/ngx/fastcgi;
	uwsgi_temp_path $W/ngx/uwsgi;
	scgi_temp_path $W/ngx/scgi;
	server {
		listen 127.0.0.1:$1;
		root $PIPOL_STATE/store;
	}
}
EOF
}
mkdir -p "$W/ngx"
for _ in 1 2 3 4 5; do
	PN=$(port)
	nginx_conf "$PN" > "$W/ngx/nginx.conf"
	nginx -p "$W/ngx" -c "$W/ngx/nginx.conf" -e "$W/ngx/error.log" &
	NPID=$!
	for _ in $(seq 100); do
		curl -sf -o /dev/null "http://127.0.0.1:$PN/images/s/1.idx" && break 2
		kill -0 "$NPID" 2>/dev/null || break
		sleep 0.1
	done
	kill "$NPID" 2>/dev/null; wait "$NPID" 2>/dev/null || true; NPID=
done
[ -n "$NPID" ] || { cat "$W/ngx/error.log" >&2; exit 1; }
declare -A url=([pipold]=http://127.0.0.1:$PD [nginx]=http://127.0.0.1:$PN)
# the server's processes: pipold is one; nginx is its master and workers
pids() {
	if [ "$1" = pipold ]; then echo "$DPID"; else echo "$NPID" $(ps -o pid= --ppid "$NPID"); fi
}

# run SERVER N: N agents at once; secs[SERVER N], cpu[SERVER N]
declare -A secs cpu all allcpu
run() {
	local srv=$1 n=$2 i t0 t1 c0 c1 fail=0 ap=()
	rm -f "$TGT"/t*
	sync; echo 3 > /proc/sys/vm/drop_caches
	cat "$PIPOL_STATE"/store/chunks/* > /dev/null	# the store in memory
	c0=$(ticks $(pids "$srv")) t0=$(now)
	for ((i = 0; i < n; i++)); do
		"$A" deploy --base "${url[$srv]}" --image s:1 --target "$TGT/t$i" \
		    --no-reuse 2> "$W/agent$i.err" &
		ap+=($!)
	done
	for i in "${!ap[@]}"; do
		wait "${ap[$i]}" || { fail=1; echo "bench: $srv, agent $i failed:" >&2; cat "$W/agent$i.err" >&2; }
	done
	t1=$(now) c1=$(ticks $(pids "$srv"))
	[ $fail = 0 ] || exit 1
	for i in 0 $((n - 1)); do
		cmp -s "$W/disk" "$TGT/t$i" ||
		    { echo "bench: $srv, $n agents: target $i differs" >&2; exit 1; }
	done
	rm -f "$TGT"/t*
	secs["$srv $n"]=$(echo "$t1 - $t0" | bc -l)
	cpu["$srv $n"]=$(echo "($c1 - $c0) / $HZ" | bc -l)
}

# Each round runs both servers back to back, in turn first: the figure
# is the median of the rounds' ratios, so that a drift in this machine's
# speed (other work on it) falls on both servers of a pair alike.
declare -A ratios
for ((r = 1; r <= ROUNDS; r++)); do
	echo "round $r of $ROUNDS ..."
	order="pipold nginx"; [ $((r % 2)) = 1 ] || order="nginx pipold"
	for n in $AGENTS; do
		for srv in $order; do
			run $srv "$n"
			all["$srv $n"]="${all["$srv $n"]:-} ${secs["$srv $n"]}"
			allcpu["$srv $n"]="${allcpu["$srv $n"]:-} ${cpu["$srv $n"]}"
		done
		ratios[$n]="${ratios[$n]:-} $(echo "${secs["nginx $n"]} / ${secs["pipold $n"]}" | bc -l)"
	done
done
median() { echo "$@" | tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

printf '\n%-8s %-7s %10s %10s %14s\n' agents server "MB/s" "× nginx" "CPU s / GiB"
for n in $AGENTS; do
	for srv in nginx pipold; do
		s=$(median ${all["$srv $n"]}) c=$(median ${allcpu["$srv $n"]})
		x=1; [ $srv = nginx ] || x=$(median ${ratios[$n]})
		printf '%-8s %-7s %10.1f %10.3f %14.3f\n' "$n" "$srv" \
		    "$(echo "$n * $SIZE / $s / 1000000" | bc -l)" "$x" \
		    "$(echo "$c / ($n * $SERVED / 1073741824)" | bc -l)"
	done
	printf '%-8s %-7s %s\n' "" "" "pipold / nginx by round:$(printf ' %.2f' ${ratios[$n]})"
done
echo "(MB/s: raw disk MB deployed per wall second, all agents together, median of $ROUNDS rounds;"
echo " × nginx: median of the rounds' ratios; CPU s / GiB: the server's user + system CPU per"
echo " GiB of chunks it sent, median)"

echo
for n in $AGENTS; do
	v=$(median ${ratios[$n]})
	if [ "$(echo "$v >= 0.9" | bc -l)" = 1 ]; then res=met; else res=MISSED; fi
	printf 'target %-52s %7.3f (>= 0.9) %s\n' "pipold / nginx aggregate rate, $n agents" "$v" "$res"
done
