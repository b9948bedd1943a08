#!/bin/bash
# multi: two pipold on one PostgreSQL and one store behind HAProxy
# (issue 17 item 3). Everything goes through HAProxy: the admin's and
# alice's commands, the nodes' boot scripts, the agents' orders, chunks,
# progress and results. One pipold is killed -9 while four agents are
# deploying: each finishes through the other, byte for byte, every
# deployment reaches rebooting with every state once, then ready. With
# both running again: the reaper's and the scheduler's turns need an
# advisory lock each; held from outside for more than a reaper tick, no
# reservation past its end is ended and no queued request placed; let
# go, one pipold does each, once.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
D2PID= HPID= APIDS=()
extra_cleanup() {
	local p
	for p in "${APIDS[@]}" $HPID $D2PID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}
command -v haproxy > /dev/null || { notok "haproxy (tests/deps.sh test installs it)"; exit 1; }

check "pipold a starts (its embedded PostgreSQL)" start_pipold --reaper-seconds 2
P2=$(free_port)
mkdir -p "$T/state2" && ln -s "$T/state/store" "$T/state2/store"
"$D" --listen 127.0.0.1:$P2 --state "$T/state2" --db "host=$T/state/pg user=pipol dbname=pipol" \
    --reaper-seconds 2 >> "$T/pipold2.log" 2>&1 &
D2PID=$!
up2() { for _ in $(seq 300); do curl -sf "http://127.0.0.1:$P2/health" > /dev/null && return 0; sleep 0.1; done; return 1; }
check "pipold b starts on a's database and store" up2
H=$(free_port)
cat > "$T/haproxy.cfg" <<CFG
defaults
	mode http
	timeout connect 2s
	timeout client 60s
	timeout server 60s
	retries 3
	option redispatch
	option http-server-close
frontend nodes
	bind 127.0.0.1:$H
	default_backend pipold
backend pipold
	balance roundrobin
	option httpchk GET /health
	server a 127.0.0.1:$PORT check inter 300 fall 2 rise 2
	server b 127.0.0.1:$P2 check inter 300 fall 2 rise 2
CFG
check "haproxy accepts the configuration" haproxy -c -q -f "$T/haproxy.cfg"
haproxy -db -f "$T/haproxy.cfg" 2> "$T/haproxy.log" &
HPID=$!
HU=http://127.0.0.1:$H
for _ in $(seq 100); do curl -sf "$HU/health" > /dev/null && break; sleep 0.1; done
check "haproxy in front of both" curl -sf "$HU/health"

adm=$(new_user root1 --admin) al=$(new_user alice)
hp() { local t=$1; shift; env PIPOL_SERVER="$HU" PIPOL_TOKEN="$t" "$B/pipol" "$@"; }
for i in 1 2 3 4; do
	hp "$adm" node add n$i --mac 52:54:00:00:23:0$i --profile virtual > /dev/null || notok "node n$i"
done
mkdisk "$T/d" 41943041
"$P" image create os --from "$T/d" > /dev/null && "$P" image validate os:1 > /dev/null &&
    "$P" image promote os:1 > /dev/null
hp "$al" deploy -n n1,n2,n3,n4 -i os > "$T/dep.out" 2>&1
equal "alice deploys four nodes through haproxy" "$(grep -c '^deployment ' "$T/dep.out")" 4 ||
    cat "$T/dep.out" >&2
# both pipold answer: the requests were spread
for i in 1 2 3 4; do
	for _ in $(seq 100); do
		t=$(curl -s "$HU/boot/52:54:00:00:23:0$i" | grep -o 'pipol\.token=[0-9a-f]*' | cut -d= -f2)
		[ -n "$t" ] && break; sleep 0.1
	done
	printf 'pipol.server=%s pipol.token=%s\n' "$HU" "$t" > "$T/cmdline$i"
done
for i in 1 2 3 4; do
	"$A" --cmdline "$T/cmdline$i" --target "$T/t$i" --max-rate 2M --connections 2 2> "$T/agent$i.err" &
	APIDS+=($!)
done
sleep 1.2
bsent=$(curl -s -H "Authorization: Bearer $adm" "http://127.0.0.1:$P2/metrics" |
    awk '$1 == "pipol_store_sent_bytes_total" { print $2 }')
busy=$(sql "select count(*) from deployments where state in ('fetching', 'writing')")
kill -9 "$D2PID"; wait "$D2PID" 2>/dev/null; D2PID=
[ "${bsent:-0}" -gt 0 ] && [ "$busy" -gt 0 ] &&
    ok "pipold b killed -9 while $busy agents were writing (b had sent $bsent bytes of chunks)" ||
    notok "pipold b killed -9 mid-deployment (b had sent ${bsent:-0} bytes, $busy deployments busy)"
rcs=
for p in "${APIDS[@]}"; do wait "$p"; rcs="$rcs $?"; done
APIDS=()
equal "every agent finishes, exit 0" "$rcs" " 0 0 0 0" || tail -3 "$T"/agent*.err >&2
for i in 1 2 3 4; do same "n$i: byte for byte" "$T/d" "$T/t$i"; done
equal "every deployment rebooting" "$(sql "select string_agg(state, ' ' order by id) from deployments")" \
    "rebooting rebooting rebooting rebooting"
equal "every state once, in order, on each" "$(sql "select count(*) from deployments d where (select string_agg(state, ' ' order by at) from deployment_transitions t where t.deployment_id = d.id) = 'pending booting fetching writing rebooting'")" 4
equal "alice's reservation still holds the four" "$(sql "select count(*) from reservation_nodes rn join reservations r on r.id = rn.reservation_id where r.state = 'active'")" 4
# each deployed system's first boot says ready, through haproxy to a
for i in 1 2 3 4; do
	t=$(sed 's/.*pipol\.token=//' "$T/cmdline$i")
	curl -s -H "Authorization: Bearer $t" -d '{"state":"ready"}' "$HU/agent/result" > /dev/null
done
equal "every deployment ready" "$(sql "select string_agg(state, ' ' order by id) from deployments")" \
    "ready ready ready ready"
equal "pipold a still answers through haproxy" "$(curl -s -o /dev/null -w '%{http_code}' "$HU/health")" 200

# b again; the periodic turns are one pipold's at a time (an advisory
# lock each): while another session holds the reaper's and the
# scheduler's, no pipold ends a reservation past its end nor places a
# queued request, however nudged, for two reaper turns (--reaper-seconds
# 2) and more; let go, one pipold does each, once
"$D" --listen 127.0.0.1:$P2 --state "$T/state2" --db "host=$T/state/pg user=pipol dbname=pipol" \
    --reaper-seconds 2 >> "$T/pipold2.log" 2>&1 &
D2PID=$!
check "pipold b starts again" up2
bo=$(new_user bob) ca=$(new_user carol)
rid=$(sql "select id from reservations where state = 'active'")
q=$(hp "$bo" reserve --asap --nodes n1 --for 10m -q)
psql -X -q -h "$T/state/pg" -U pipol -d pipol -c "select pg_advisory_lock(1885958255, 1)" \
    -c "select pg_advisory_lock(1885958255, 2)" -c "select pg_sleep(120)" > /dev/null 2>&1 &
LPID=$!
APIDS+=($LPID)
held() { sql "select count(*) from pg_locks where locktype = 'advisory' and classid = 1885958255 and objid in (1, 2) and granted"; }
for _ in $(seq 100); do [ "$(held)" = 2 ] && break; sleep 0.1; done
equal "another session holds the reaper's and the scheduler's locks" "$(held)" 2
hp "$al" release "$rid" > /dev/null
c=$(hp "$ca" reserve --nodes n2 --for 10m -q)
sql "update reservations set during = tstzrange(lower(during), now()) where id = $c" > /dev/null
sleep 5	# more than two reaper turns (2 s here) and several scheduler turns
equal "carol's reservation past its end: still active (the reaper's lock is held)" \
    "$(sql "select state from reservations where id = $c")" active
equal "n1 free, bob's request nudged: still queued (the scheduler's lock is held)" \
    "$(sql "select state from asap_requests where id = $q")" queued
# (the holder's server process ended: its locks go with it)
sql "select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and classid = 1885958255 and objid = 1" > /dev/null
wait "$LPID" 2>/dev/null
for _ in $(seq 300); do
	[ "$(sql "select state from asap_requests where id = $q") $(sql "select state from reservations where id = $c")" = "placed expired" ] && break
	sleep 0.1
done
equal "the locks let go: placed, expired" "$(sql "select state from asap_requests where id = $q") $(sql "select state from reservations where id = $c")" "placed expired"
equal "... each by one pipold, once" "$(cat "$T/pipold.log" "$T/pipold2.log" | grep -c 'reservation(s) ended')" 1
kill "$D2PID" && wait "$D2PID"; equal "pipold b stops" $? 0; D2PID=
stop_pipold
