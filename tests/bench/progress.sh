#!/bin/bash
# progress.sh -- 1,000 node agents reporting progress to pipold once a
# second: a real pipold with its embedded PostgreSQL on loopback, 1,000
# nodes added by an admin, deployed by a user in one reservation of a
# queue that admits them, each token minted by GET /boot/MAC as a node
# would fetch it; then tests/tools/progressload keeps one keep-alive
# connection per agent, POSTing /agent/progress each second for D
# seconds. Reports latency (p50/p90/p99/max), errors, and the CPU used
# by pipold and by the cluster's PostgreSQL processes over the window
# (/proc/PID/stat), as % of one core and of the machine.
# Env: PROGRESS_AGENTS (1000), PROGRESS_SECONDS (60), PROGRESS_WARMUP (5),
# PROGRESS_TRACE (a file for the latency of each second).
set -euo pipefail
cd "$(dirname "$0")/../.."
B=$PWD/${B:-build}
P=$B/pipol D=$B/pipold L=$B/tests/progressload
N=${PROGRESS_AGENTS:-1000}
SECS=${PROGRESS_SECONDS:-60}
WARM=${PROGRESS_WARMUP:-5}
W=$(mktemp -d /var/tmp/pipol-progress-bench.XXXXXX)
chmod 755 "$W"		# the postgres user reaches $W/state/pg
export PIPOL_STATE=$W/state
PG_DATA=$W/state/pg/data
DPID= LP=
cleanup() {
	[ -z "$LP" ] || { kill "$LP" 2>/dev/null; wait "$LP" 2>/dev/null || true; }
	[ -z "$DPID" ] || { kill "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null || true; }
	# the cluster is pipold's: stopped with it; this is for a pipold
	# that died, and touches only the cluster under $W
	[ ! -f "$PG_DATA/postmaster.pid" ] || runuser -u postgres -- \
	    /usr/lib/postgresql/*/bin/pg_ctl -D "$PG_DATA" -m immediate stop > /dev/null 2>&1 || true
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
HZ=$(getconf CLK_TCK)

# ticks PID...: user + system CPU ticks (all threads), plus those of
# waited-for children that ended (PostgreSQL backends come and go)
ticks() {
	local p t=0
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] || continue
		t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13 + $14 + $15}')))
	done
	echo $t
}
pg_pids() {
	local pm
	pm=$(head -n1 "$PG_DATA/postmaster.pid")
	echo "$pm" $(ps -o pid= --ppid "$pm")
}
api() {		# api TOKEN METHOD PATH BODY: the body of a 2xx answer
	curl -sf -X "$2" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
	    --data-binary "$4" "$U$3"
}

# a port below the ephemeral range (32768-), tried again when taken
for _ in 1 2 3 4 5; do
	PORT=$((20000 + RANDOM % 12000)) U=http://127.0.0.1:$PORT
	# 1,000 agents from 127.0.0.1: the per-address limit raised to that
	"$D" --listen 127.0.0.1:$PORT --ip-connections 4096 >> "$W/pipold.log" 2>&1 &
	DPID=$!
	for _ in $(seq 300); do
		curl -sf "$U/health" > /dev/null && break 2
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.1
	done
	wait "$DPID" 2>/dev/null || true; DPID=
done
[ -n "$DPID" ] || { cat "$W/pipold.log" >&2; exit 1; }
adm=$("$D" --add-user admin --admin) usr=$("$D" --add-user bench)
echo "progress bench: $N agents, one report each a second for $SECS s, $(nproc) cores"

# --- 1,000 nodes, one reservation, 1,000 deployments, 1,000 tokens ----------
head -c $((4 << 20)) /dev/urandom > "$W/disk"
"$P" image create p --from "$W/disk" > /dev/null && "$P" image validate p:1 > /dev/null
mac() { printf '52:54:00:%02x:%02x:%02x' $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); }
names=()
{	# one curl, one keep-alive connection, N requests
	for ((i = 0; i < N; i++)); do
		printf 'url = "%s/api/nodes"\nrequest = POST\nheader = "Authorization: Bearer %s"\n' "$U" "$adm"
		printf 'header = "Content-Type: application/json"\nsilent\nfail\noutput = /dev/null\n'
		printf 'data-binary = "{\\"name\\": \\"b%04d\\", \\"mac\\": \\"%s\\", \\"profile\\": \\"virtual\\"}"\n' "$i" "$(mac "$i")"
		[ $((i + 1)) = "$N" ] || echo next
	done
} > "$W/nodes.curl"
curl -K "$W/nodes.curl" || { echo "bench: adding nodes failed" >&2; exit 1; }
for ((i = 0; i < N; i++)); do names+=("\"$(printf 'b%04d' "$i")\""); done
list=$(IFS=,; echo "${names[*]}")
api "$adm" POST /api/queues "{\"name\": \"bench\", \"max_nodes\": $N}" > /dev/null
rid=$(api "$usr" POST /api/reservations "{\"nodes\": [$list], \"queue\": \"bench\", \"seconds\": 7200}" |
    grep -o '"id" *: *[0-9]*' | head -1 | grep -o '[0-9]*$')
api "$usr" POST /api/deployments "{\"nodes\": [$list], \"image\": \"p:1\", \"reservation\": $rid}" > "$W/deps.json"
# a token comes once the deploy's power thread armed each node's boot
# cycle (manual driver: at once, one node after the other)
for _ in $(seq 600); do
	[ "$(psql -X -q -t -A -h "$W/state/pg" -U pipol -d pipol -c \
	    "select count(*) from deployments where boot_armed")" = "$N" ] && break
	sleep 0.1
done
for ((i = 0; i < N; i++)); do echo "$U/boot/$(mac "$i")"; done > "$W/urls"
xargs curl -s < "$W/urls" | grep -o 'pipol\.token=[0-9a-f]*' | cut -d= -f2 > "$W/tokens"
[ "$(sort -u "$W/tokens" | wc -l)" = "$N" ] ||
    { echo "bench: $(wc -l < "$W/tokens") tokens for $N nodes" >&2; exit 1; }
echo "$N nodes, reservation $rid, $N deployments, $N tokens from /boot/MAC"

# --- the run -------------------------------------------------------------------
# The first WARM seconds (every agent connects and moves its deployment
# to writing; a fresh pipold opens its database connections) are
# reported apart; CPU is measured over the SECS seconds after them.
"$L" --url "$U" --tokens "$W/tokens" --warmup "$WARM" --seconds "$SECS" \
    ${PROGRESS_TRACE:+--per-second "$PROGRESS_TRACE"} > "$W/load.out" &
LP=$!
sleep "$WARM"
t0=$(date +%s.%N) d0=$(ticks "$DPID") p0=$(ticks $(pg_pids))
wait "$LP"; LP=
t1=$(date +%s.%N) d1=$(ticks "$DPID") p1=$(ticks $(pg_pids))
field() { grep -oE "(^| )$1 [0-9.]+" "$W/load.out" | awk '{print $2}'; }
win=$(echo "$t1 - $t0" | bc -l)
dcpu=$(echo "100 * ($d1 - $d0) / $HZ / $win" | bc -l)
pcpu=$(echo "100 * ($p1 - $p0) / $HZ / $win" | bc -l)
writing=$(psql -X -q -t -A -h "$W/state/pg" -U pipol -d pipol -c \
    "select count(*) from deployments where state = 'writing' and bytes_written > 0")

printf '\n%-22s %12s %12s\n' "CPU, steady state" "% of 1 core" "% of machine"
printf '%-22s %12.1f %12.1f\n' "pipold" "$dcpu" "$(echo "$dcpu / $(nproc)" | bc -l)"
printf '%-22s %12.1f %12.1f\n' "PostgreSQL (cluster)" "$pcpu" "$(echo "$pcpu / $(nproc)" | bc -l)"
printf '\n%-16s %9s %8s %7s %9s %9s %9s %9s %9s\n' "$N agents" requests errors late \
    "p50 ms" "p90 ms" "p99 ms" "max ms" "req/s"
printf '%-16s %9s %8s %7s %9.2f %9.2f %9.2f %9.2f %9.1f\n' "steady, ${SECS} s" \
    "$(field requests)" "$(field errors)" "$(field late)" "$(field p50_ms)" \
    "$(field p90_ms)" "$(field p99_ms)" "$(field max_ms)" "$(echo "$(field requests) / $SECS" | bc -l)"
printf '%-16s %9s %8s %7s %9.2f %9s %9.2f %9.2f %9.1f\n' "warm-up, ${WARM} s" \
    "$(field warmup_requests)" "" "" "$(field warmup_p50_ms)" - "$(field warmup_p99_ms)" \
    "$(field warmup_max_ms)" "$(echo "$(field warmup_requests) / $WARM" | bc -l)"
echo "(latency from when each report was due; errors and late: over the whole run; late: a report"
echo " not sent because that agent's previous one was still unanswered; $writing of $N deployments"
echo " recorded as writing, with their counts)"
echo
p99=$(field p99_ms) err=$(field errors)
if [ "$(echo "$p99 < 20" | bc -l)" = 1 ]; then r=met; else r=MISSED; fi
printf 'target %-52s %7.2f (< 20) %s\n' "p99 progress latency, $N agents, steady, ms" "$p99" "$r"
if [ "$err" = 0 ] && [ "$writing" = "$N" ]; then r=met; else r=MISSED; fi
printf 'target %-52s %7s (= 0) %s\n' "errors" "$err" "$r"
