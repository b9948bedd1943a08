#!/bin/bash
# resv_end: a reservation's end takes effect on its nodes. Released or
# expired, its nodes are parked (their network boot gets park.ipxe,
# never their disk) and powered off through their driver (a real QEMU
# over QMP, started paused: off is QMP quit, the process exits), from a
# queue in the database: it survives a kill -9 of pipold, a lease keeps
# two pipold from both acting, a failing driver is retried then given
# up; the next holder's deploy drops a queued off, and is refused (409)
# while one runs.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
QPID= D2PID=
extra_cleanup() {
	[ -n "$QPID" ] && kill "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null
	[ -n "$D2PID" ] && kill "$D2PID" 2>/dev/null && wait "$D2PID" 2>/dev/null
}
# a paused VM, QMP on $T/n1.sock: the node n1
qemu_start() {
	[ -n "$QPID" ] && wait "$QPID" 2>/dev/null
	rm -f "$T/n1.sock"
	qemu-system-x86_64 -machine q35 -accel tcg -m 64 -nodefaults \
	    -display none -S -qmp "unix:$T/n1.sock,server=on,wait=off" \
	    2>> "$T/qemu.err" &
	QPID=$!
	for _ in $(seq 100); do [ -S "$T/n1.sock" ] && return 0; sleep 0.1; done
	return 1
}
# running (a zombie is not: its parent, this shell, has not waited yet)
alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null); [ -n "$s" ] && [ "${s#Z}" = "$s" ]; }
# off PID: up to 30 s (the expiry tick is 10 s) for it to exit
off() { for _ in $(seq 300); do alive "$1" || return 0; sleep 0.1; done; return 1; }
script() { curl -s "$U/boot/$1"; }
mode() { sql "select boot_mode from nodes where name = '$1'"; }
queued() { sql "select count(*) from node_end_actions a join nodes n on n.id = a.node_id where n.name = '$1'"; }
# end_events RESERVATION: the node.end events of it, "node:result" each
end_events() { sql "select string_agg((detail->>'node') || ':' || (detail->>'result'), ' ' order by id) from events where kind = 'node.end' and detail->>'reservation' = '$1'"; }
# wait_sql SQL WANT: up to 30 s for SQL to answer WANT
wait_sql() { for _ in $(seq 300); do [ "$(sql "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
uid_of() { sql "select id from users where name = '$1'"; }

expect_fail 2 "--reaper-seconds 0: not in 1..60" "$D" --reaper-seconds 0 --listen 127.0.0.1:1
expect_fail 2 "--reaper-seconds 61: not in 1..60" "$D" --reaper-seconds 61 --listen 127.0.0.1:1
check "pipold starts" start_pipold --reaper-seconds 2
adm=$(new_user root --admin) al=$(new_user alice) bo=$(new_user bob)
check "qemu starts" qemu_start
as "$adm" node add n1 --mac 52:54:00:00:31:01 --profile virtual --power qemu \
    --power-param qmp="$T/n1.sock" > /dev/null
as "$adm" node add n2 --mac 52:54:00:00:31:02 --profile pc-bios > /dev/null
as "$adm" node add n3 --mac 52:54:00:00:31:03 --profile uefi > /dev/null

# release: both nodes parked, n1 powered off (QEMU exits), n2 (manual)
# parked only; the queue empties; each outcome in the event log
r1=$(as "$al" reserve --nodes n1,n2 --for 1h -q)
script 52:54:00:00:31:01 | grep -q '^sanboot' && ok "held: the node boots its disk" ||
    notok "held: the node boots its disk"
as "$al" release "$r1" > /dev/null
equal "release parks its nodes at once" "$(mode n1) $(mode n2) $(mode n3)" "park park local"
off "$QPID" && ok "release: the QEMU node is powered off" || notok "release: the QEMU node is powered off"
wait_sql "select count(*) from node_end_actions" 0 && ok "release: the queue empties" ||
    notok "release: the queue empties"
equal "release: node.end events" "$(end_events "$r1")" "n1:done n2:done"
equal "the off's message" "$(sql "select detail->>'message' from events where kind = 'node.end' and detail->>'node' = 'n1'")" "off (QEMU quit)"
s=$(script 52:54:00:00:31:01)
echo "$s" | grep -q 'parked' && echo "$s" | grep -qF 'chain --replace --autofree http://127.0.0.1:'"$PORT"'/boot/${mac} ||' &&
    ! echo "$s" | grep -qE '^(sanboot|exit)' && ok "a parked node's script: parked, asks again, never its disk" ||
    { notok "a parked node's script: parked, asks again, never its disk"; echo "$s" >&2; }
script "52:54:00:00:31:02?local=1" | grep -q parked && ok "?local=1 does not unpark" ||
    notok "?local=1 does not unpark"
script "52:54:00:00:31:02?rescue=1" | grep -q parked && ok "?rescue=1 does not unpark" ||
    notok "?rescue=1 does not unpark"
equal "the last holder's power request: refused" "$(api "$al" POST /api/nodes/n1/power '{"action":"on"}')" 403

# a reservation released before it started touches nothing
r2=$(as "$al" reserve --nodes n3 --at "$(date -d '+2 days' '+%Y-%m-%d %H:%M')" --for 1h -q)
as "$al" release "$r2" > /dev/null
equal "released before its start: nothing parked or queued" "$(mode n3) $(queued n3)" "local 0"

# expiry: the same, at the expiry tick
check "qemu starts again" qemu_start
as "$adm" node boot n1 local > /dev/null
r3=$(as "$bo" reserve --nodes n1 --for 1h -q)
sql "update reservations set during = tstzrange(lower(during), now()) where id = $r3" > /dev/null
off "$QPID" && ok "expiry: the QEMU node is powered off" || notok "expiry: the QEMU node is powered off"
equal "expiry: expired, parked" "$(sql "select state from reservations where id = $r3") $(mode n1)" "expired park"
equal "expiry: node.end event" "$(end_events "$r3")" "n1:done"

# crash safety: the release commits while no pipold runs (killed -9);
# the row waits in the database; a lease left by a pipold that died is
# honoured until it runs out, then the row is taken again
check "qemu starts again" qemu_start
r4=$(as "$al" reserve --nodes n1 --for 1h -q)
kill -9 "$DPID"; wait "$DPID" 2>/dev/null; DPID=
sql "select release($(uid_of alice), $r4)" > /dev/null
equal "pipold down: the off is queued" "$(queued n1)" 1
sql "update node_end_actions set tries = 1, lease_until = now() + interval '8 s'" > /dev/null
check "pipold restarts" start_pipold --reaper-seconds 2
sleep 4
alive "$QPID" && [ "$(queued n1)" = 1 ] && ok "a live lease: no pipold acts on the row" ||
    notok "a live lease: no pipold acts on the row"
off "$QPID" && ok "restart: the queued off is done once the lease ran out" ||
    notok "restart: the queued off is done once the lease ran out"
equal "... recorded as the second try" "$(sql "select detail->>'try' from events where kind = 'node.end' and detail->>'reservation' = '$r4'")" 2

# two pipold on one database: one power-off, one event
check "qemu starts again" qemu_start
P2=$(free_port)
"$D" --listen 127.0.0.1:$P2 --state "$T/state2" --db "host=$T/state/pg user=pipol dbname=pipol" \
    --reaper-seconds 2 >> "$T/pipold2.log" 2>&1 &
D2PID=$!
up2() { for _ in $(seq 300); do curl -sf "http://127.0.0.1:$P2/health" > /dev/null && return 0; sleep 0.1; done; return 1; }
check "a second pipold on the same database" up2
r5=$(as "$al" reserve --nodes n1 --for 1h -q)
as "$al" release "$r5" > /dev/null
off "$QPID" && ok "two pipold: the node is powered off" || notok "two pipold: the node is powered off"
sleep 5	# both reapers' turns (2 s) ran again
equal "two pipold: one off, no failed second one" "$(end_events "$r5")" "n1:done"
kill "$D2PID" && wait "$D2PID"; equal "the second pipold stops" $? 0; D2PID=

# the next holder: a deploy drops the queued off (its own power cycle
# follows); while an off runs (leased), a deploy is refused
mkdisk "$T/d" 3000000
"$P" image create os --from "$T/d" > /dev/null && "$P" image validate os:1 > /dev/null &&
    "$P" image promote os:1 > /dev/null
check "qemu starts again" qemu_start
r6=$(as "$al" reserve --nodes n1 --for 1h -q)
kill -9 "$DPID"; wait "$DPID" 2>/dev/null; DPID=
sql "select release($(uid_of alice), $r6)" > /dev/null
sql "update node_end_actions set next_at = now() + interval '1 hour'" > /dev/null
check "pipold restarts" start_pipold --reaper-seconds 2
check "bob deploys n1, its off queued" as "$bo" deploy -n n1 -i os
equal "the queued off is dropped" "$(queued n1)" 0
equal "the node is in the deployment's hands" "$(mode n1)" deploy
sleep 5	# two reaper turns or more
alive "$QPID" && ok "no off after the deploy" || notok "no off after the deploy"
r7=$(as "$bo" reserve --nodes n2 --for 1h -q)
sql "insert into node_end_actions (node_id, reservation_id, tries, lease_until) select n.id, $r1, 1, now() + interval '1 hour' from nodes n where n.name = 'n2'" > /dev/null
n=$(sql "select count(*) from deployments")
expect_fail 7 "node n2 is being powered off; try again in a few seconds" \
    as "$bo" deploy -n n2 -i os --reservation "$r7"
equal "refused: no deployment, the off still queued" "$(sql "select count(*) from deployments") $(queued n2)" "$n 1"
sql "delete from node_end_actions" > /dev/null

# a failing driver: the error kept, tried again later, then given up
kill "$QPID" 2>/dev/null; wait "$QPID" 2>/dev/null; QPID=; rm -f "$T/n1.sock"
r8=$(sql "select reservation_id from deployments where node_id = (select id from nodes where name = 'n1') order by id desc limit 1")
as "$bo" release "$r8" > /dev/null
wait_sql "select tries, lease_until is null, last_error is not null from node_end_actions" "1|t|t" &&
    ok "a failed off: kept with its error, lease let go" || notok "a failed off: kept with its error, lease let go"
equal "... and a failed event" "$(end_events "$r8")" "n1:failed"
equal "... backoff before the next try" "$(sql "select next_at > now() from node_end_actions")" t
sql "update node_end_actions set tries = 4, next_at = now()" > /dev/null
wait_sql "select count(*) from node_end_actions" 0 && ok "the last try fails: given up" ||
    notok "the last try fails: given up"
equal "... with its event" "$(end_events "$r8")" "n1:failed n1:given up"
equal "still parked" "$(mode n1)" park

stop_pipold
