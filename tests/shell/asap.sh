#!/bin/bash
# asap: "pipol reserve --asap" queues a request that pipold's scheduler
# places as soon as the nodes are free: a busy node, then its release,
# then the placement (same id); priority between queues, then
# submission order; cancel (yours only; admins any); what can never be
# placed is refused at submission; --asap --at is a usage error; two
# pipold on one database never place two requests on one node (20
# rounds, checked in SQL); a pipold killed -9 loses no request.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
D2PID=
extra_cleanup() {
	[ -n "$D2PID" ] && kill "$D2PID" 2>/dev/null && wait "$D2PID" 2>/dev/null
}
# wait_sql SQL WANT: up to 60 s for SQL to answer WANT (a deadline, not
# a duration: the scheduler's turn is 2 s, a release nudges it at once)
wait_sql() { for _ in $(seq 600); do [ "$(sql "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
state() { sql "select state from asap_requests where id = $1"; }
resv() { sql "select count(*) from reservations where id = $1 and state = 'active'"; }
nodes_of() { sql "select string_agg(n.name, ',' order by n.name) from reservation_nodes rn join nodes n on n.id = rn.node_id where rn.reservation_id = $1"; }
# overlaps: pairs of live holdings of one node that overlap (the
# exclusion constraint says none; this counts them anyway)
overlaps() { sql "select count(*) from reservation_nodes a join reservation_nodes b on a.node_id = b.node_id and a.reservation_id < b.reservation_id and a.during && b.during where a.live and b.live"; }

check "pipold starts" start_pipold
adm=$(new_user root --admin) al=$(new_user alice) bo=$(new_user bob)
for i in 1 2 3 4; do as "$adm" node add n$i --mac 52:54:00:00:15:0$i --profile virtual > /dev/null; done
as "$adm" node add u1 --mac 52:54:00:00:15:11 --profile uefi > /dev/null

# a busy node: --asap queues, the release places it under the same id
r1=$(as "$bo" reserve --nodes n1 --for 1h -q)
q1=$(as "$al" reserve --asap --nodes n1 --for 30m -q)
[ -n "$q1" ] && ok "reserve --asap on a busy node: an id" || notok "reserve --asap on a busy node: an id"
sleep 3	# a scheduler turn or more: still busy, still queued
equal "busy: the request stays queued, nothing reserved" "$(state "$q1") $(resv "$q1")" "queued 0"
as "$al" reservations > "$T/list"
grep -qE "^$q1 +alice +queued +[0-9-]+ [0-9:+]+ +- +n1 \(position 1\)$" "$T/list" &&
    ok "reservations: the queued request, its expected start, position 1" ||
    { notok "reservations: the queued request, its expected start, position 1"; cat "$T/list" >&2; }
equal "the expected start is the busy reservation's end" \
    "$(sql "select asap_expected(a) = (select upper(during) from reservations where id = $r1) from asap_requests a where id = $q1")" t
as "$bo" reservations | grep -q "^$q1 " && notok "another user does not see it" || ok "another user does not see it"
as "$adm" reservations --all | grep -qE "^$q1 +alice +queued" && ok "an admin sees it (--all)" ||
    notok "an admin sees it (--all)"
expect_fail 6 "reservation $q1: no such reservation of yours" as "$bo" release "$q1"
equal "another user's cancel changes nothing" "$(state "$q1")" queued
as "$bo" release "$r1" > /dev/null
wait_sql "select state from asap_requests where id = $q1" placed &&
    ok "released: the request is placed" || notok "released: the request is placed"
equal "placed as reservation $q1 on n1, 30 min" "$(resv "$q1") $(nodes_of "$q1") $(sql "select upper(during) - lower(during) from reservations where id = $q1")" "1 n1 00:30:00"
as "$al" reservations | grep -qE "^$q1 +alice +running .* n1$" && ok "reservations: now running" ||
    notok "reservations: now running"
equal "events: queue, place" "$(sql "select string_agg(kind, ' ' order by id) from events where detail->>'id' = '$q1'")" \
    "reservation.queue reservation.place"

# free now: placed at once (the submission nudges the scheduler)
q2=$(as "$al" reserve --asap -n 1 --profile uefi --for 1h -q)
wait_sql "select state from asap_requests where id = $q2" placed && ok "free nodes: placed" ||
    notok "free nodes: placed"
equal "... on u1" "$(nodes_of "$q2")" u1

# cancel: a queued request, by its owner; then it is gone from the queue
q3=$(as "$bo" reserve --asap --nodes n1 --for 10m -q)
as "$bo" release "$q3" > "$T/out"
grep -q "request $q3 cancelled" "$T/out" && ok "release of a queued request: cancelled" ||
    notok "release of a queued request: cancelled"
equal "cancelled in the database" "$(state "$q3")" cancelled
expect_fail 7 "reservation $q3: already cancelled" as "$bo" release "$q3"
as "$bo" reservations | grep -qE "^$q3 +bob +cancelled .*\(cancelled\)$" && ok "reservations: cancelled, for a day" ||
    notok "reservations: cancelled, for a day"
q4=$(as "$bo" reserve --asap --nodes n1 --for 10m -q)
check "an admin cancels anyone's" as "$adm" release "$q4"
as "$al" release "$q1" > /dev/null	# placed: a reservation release
equal "release of a placed one: the reservation ends" "$(sql "select state from reservations where id = $q1")" released

# usage and refusals at submission (nothing queued)
n=$(sql "select count(*) from asap_requests")
expect_fail 2 "--asap and --at: one or the other" as "$al" reserve --asap --at "2030-01-01 10:00" --nodes n1
expect_fail 2 "give -n COUNT or --nodes N1,N2" as "$al" reserve --asap
expect_fail 6 "profile pc-bios: no node of this profile" as "$al" reserve --asap -n 1 --profile pc-bios
expect_fail 4 "only 1 node(s) of profile uefi in all, 2 asked" as "$al" reserve --asap -n 2 --profile uefi
expect_fail 6 "node n9: no such node" as "$al" reserve --asap --nodes n1,n9
expect_fail 6 "queue nope: no such queue" as "$al" reserve --asap -n 1 --queue nope
expect_fail 6 "licence cobol: no such licence" as "$al" reserve --asap -n 1 --licence cobol
as "$adm" user set alice --max-node-hours 2 > /dev/null
expect_fail 4 "alice: at most 2 node-hours (this alone makes 3)" as "$al" reserve --asap -n 3 --for 1h
as "$adm" queue add tiny --max-nodes 1 --max-time 1h > /dev/null
expect_fail 4 "queue tiny: at most 1 nodes per reservation, 2 asked" as "$al" reserve --asap --queue tiny -n 2 --for 10m
expect_fail 4 "queue tiny: at most 01:00:00 per reservation" as "$al" reserve --asap --queue tiny -n 1 --for 2h
as "$adm" queue grant tiny bob > /dev/null
expect_fail 4 "queue tiny: not granted to alice" as "$al" reserve --asap --queue tiny -n 1 --for 10m
as "$adm" user set bob --max-reservations 1 > /dev/null
rb=$(as "$adm" reserve --nodes n3 --for 1h -q)
qb1=$(as "$bo" reserve --asap --nodes n3 --for 10m -q)
expect_fail 4 "at most 1 queued requests" as "$bo" reserve --asap --nodes n3 --for 10m
as "$bo" release "$qb1" > /dev/null; as "$adm" release "$rb" > /dev/null
as "$adm" user set bob --max-reservations 0 > /dev/null
n=$((n + 1))
equal "refused requests queue nothing" "$(sql "select count(*) from asap_requests")" "$n"
equal "api: asap with at: 400" "$(api "$al" POST /api/reservations '{"asap":true,"at":"2030-01-01 10:00","count":1,"seconds":600}')" 400
equal "api: asap not true: 400" "$(api "$al" POST /api/reservations '{"asap":1,"count":1,"seconds":600}')" 400
equal "api: asap: 202" "$(api "$al" POST /api/reservations '{"asap":true,"nodes":["n4"],"seconds":600}')" 202
as "$adm" user set alice --max-node-hours 0 > /dev/null
sql "update asap_requests set state = 'cancelled' where state = 'queued'; update reservations set state = 'released', released = now() where state = 'active'; update reservation_nodes set live = false" > /dev/null

# priority: a request in a higher queue goes first, whatever its
# submission; equal priorities in submission order
as "$adm" queue add high --priority 10 > /dev/null
as "$adm" queue list | grep -qE '^high +8 +86400 +10 +any$' && ok "queue list: the priority" || notok "queue list: the priority"
as "$adm" queue add high > /dev/null
equal "queue add without --priority keeps it" "$(sql "select priority from queues where name = 'high'")" 10
expect_fail 4 "admins only" as "$al" queue add high --priority 1000
expect_fail 2 "--priority x: " as "$adm" queue add high --priority x
expect_fail 2 "--priority -1001: not in -1000..1000" as "$adm" queue add high --priority -1001
equal "api: a priority out of range: refused" "$(api "$adm" POST /api/queues '{"name":"high","priority":5000}')" 400
r2=$(as "$adm" reserve --nodes n2 --for 1h -q)
qa=$(as "$al" reserve --asap --nodes n2 --for 10m -q)
qb=$(as "$bo" reserve --asap --nodes n2 --for 10m -q)
qc=$(as "$bo" reserve --asap --nodes n2 --queue high --for 10m -q)
equal "positions: high first, then by submission" "$(sql "select string_agg(id::text, ' ' order by position) from asap_queue")" "$qc $qa $qb"
as "$adm" release "$r2" > /dev/null
wait_sql "select state from asap_requests where id = $qc" placed && ok "priority: the high queue's request placed first" ||
    notok "priority: the high queue's request placed first"
equal "... the others wait" "$(state "$qa") $(state "$qb")" "queued queued"
as "$bo" release "$qc" > /dev/null
wait_sql "select state from asap_requests where id = $qa" placed && ok "then the first submitted" ||
    notok "then the first submitted"
equal "... the last still waits" "$(state "$qb")" queued
as "$al" release "$qa" > /dev/null
wait_sql "select state from asap_requests where id = $qb" placed && ok "then the last" || notok "then the last"
as "$bo" release "$qb" > /dev/null

# strict order: the head waiting for nodes blocks a later request for a
# free node; a head waiting on its own user's limit does not
r3=$(as "$adm" reserve --nodes n3 --for 1h -q)
qd=$(as "$al" reserve --asap --nodes n3,n4 --for 10m -q)
qe=$(as "$bo" reserve --asap --nodes n4 --for 10m -q)
sleep 3	# a turn or more
equal "a later request for a free node waits behind the head" "$(state "$qd") $(state "$qe")" "queued queued"
as "$adm" release "$r3" > /dev/null
wait_sql "select state from asap_requests where id = $qd" placed && ok "the head placed once its nodes are free" ||
    notok "the head placed once its nodes are free"
as "$al" release "$qd" > /dev/null
wait_sql "select state from asap_requests where id = $qe" placed && ok "then the next" || notok "then the next"
as "$bo" release "$qe" > /dev/null
as "$adm" user set alice --max-reservations 1 > /dev/null
ra=$(as "$al" reserve --nodes n1 --for 1h -q)
qf=$(as "$al" reserve --asap --nodes n2 --for 10m -q)
qg=$(as "$bo" reserve --asap --nodes n3 --for 10m -q)
wait_sql "select state from asap_requests where id = $qg" placed &&
    ok "a head held back by its user's limit does not block the next" ||
    notok "a head held back by its user's limit does not block the next"
equal "... it waits" "$(state "$qf")" queued
as "$al" release "$ra" > /dev/null
wait_sql "select state from asap_requests where id = $qf" placed && ok "... until the user holds less" ||
    notok "... until the user holds less"
as "$adm" user set alice --max-reservations 0 > /dev/null
as "$al" release "$qf" > /dev/null; as "$bo" release "$qg" > /dev/null

# a request that can no longer be placed at all is closed with why
r4=$(as "$adm" reserve --nodes n1 --for 1h -q)
qh=$(as "$bo" reserve --asap --queue tiny --nodes n1 --for 30m -q)
as "$adm" queue add tiny --max-nodes 1 --max-time 10m > /dev/null
wait_sql "select state from asap_requests where id = $qh" closed && ok "the queue's rule changed: closed" ||
    notok "the queue's rule changed: closed"
as "$bo" reservations | grep -qE "^$qh +bob +closed .*\(queue tiny: at most 00:10:00 per reservation\)$" &&
    ok "reservations: closed, with the reason" || notok "reservations: closed, with the reason"
equal "... and its event" "$(sql "select detail->>'reason' from events where kind = 'reservation.close' and detail->>'id' = '$qh'")" \
    "queue tiny: at most 00:10:00 per reservation"
as "$adm" release "$r4" > /dev/null

# two pipold on one database, 20 rounds: 4 nodes held, 6 requests for
# one node each sent to both, the holder releases through one pipold
# then the other; each round, no node is held twice at once (in SQL),
# 4 requests placed and 2 still queued (none lost); then they go. Under
# AddressSanitizer (the suite's asan group) 5 rounds: the same code, a
# quarter of the time.
ROUNDS=20
[ "${B##*/}" = build-asan ] && ROUNDS=5
P2=$(free_port)
U2=http://127.0.0.1:$P2
"$D" --listen 127.0.0.1:$P2 --state "$T/state2" --db "host=$T/state/pg user=pipol dbname=pipol" \
    >> "$T/pipold2.log" 2>&1 &
D2PID=$!
up2() { for _ in $(seq 300); do curl -sf "$U2/health" > /dev/null && return 0; sleep 0.1; done; return 1; }
check "a second pipold on the same database" up2
as2() { local t=$1; shift; env PIPOL_SERVER="$U2" PIPOL_TOKEN="$t" "$B/pipol" "$@"; }
bad=0 lost=0
for round in $(seq $ROUNDS); do
	h=$(as "$adm" reserve -n 4 --profile virtual --for 1h -q)
	first=$(sql "select coalesce(max(id), 0) from asap_requests")
	pids=
	for i in 1 2 3; do
		as "$al" reserve --asap -n 1 --profile virtual --for 10m -q > /dev/null &
		pids="$pids $!"
		as2 "$bo" reserve --asap -n 1 --profile virtual --for 10m -q > /dev/null &
		pids="$pids $!"
	done
	wait $pids	# not the pipold
	if [ $((round % 2)) = 0 ]; then as "$adm" release "$h" > /dev/null; else as2 "$adm" release "$h" > /dev/null; fi
	this="id > $first and state"
	wait_sql "select count(*) filter (where $this = 'placed') || ' ' || count(*) filter (where $this = 'queued') from asap_requests" "4 2" ||
	    { lost=$((lost + 1)); sql "select id, state from asap_requests where id > $first" >&2; }
	[ "$(overlaps)" = 0 ] || bad=$((bad + 1))
	sql "select asap_cancel(user_id, id) from asap_requests where id > $first and state = 'queued'" > /dev/null
	sql "select release(user_id, id) from asap_requests where id > $first and state = 'placed'" > /dev/null
done
equal "$ROUNDS rounds, two pipold: no node held twice at once" "$bad" 0
equal "$ROUNDS rounds: each time 4 placed, 2 still queued, none lost" "$lost" 0
# (the scheduler's turn is one pipold's at a time, db_turn_begin: which
# one places is whichever holds it, maybe the same one every round)
placed=$(sql "select count(*) from events where kind = 'reservation.place' and actor in ('pipold:$DPID', 'pipold:$D2PID')")
[ "$placed" -ge $((ROUNDS * 4)) ] && ok "every placement made by one of the two schedulers ($placed)" ||
    notok "every placement made by one of the two schedulers ($placed of $((ROUNDS * 4)))"
kill "$D2PID" && wait "$D2PID"; equal "the second pipold stops" $? 0; D2PID=
grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' "$T/pipold2.log" &&
    notok "the second pipold: no sanitizer report" || ok "the second pipold: no sanitizer report"

# a pipold killed -9 with queued requests: they wait in the database and
# are placed after the restart
r5=$(as "$adm" reserve --nodes n1,n2 --for 1h -q)
qi=$(as "$al" reserve --asap --nodes n1 --for 10m -q)
qj=$(as "$bo" reserve --asap --nodes n2 --for 10m -q)
kill -9 "$DPID"; wait "$DPID" 2>/dev/null; DPID=
sql "select release(id, $r5) from users where name = 'root'" > /dev/null
equal "pipold down: still queued" "$(state "$qi") $(state "$qj")" "queued queued"
check "pipold restarts" start_pipold
wait_sql "select count(*) from asap_requests where id in ($qi, $qj) and state = 'placed'" 2 &&
    ok "after the restart: both placed" || notok "after the restart: both placed"
equal "... on their nodes" "$(nodes_of "$qi") $(nodes_of "$qj")" "n1 n2"
equal "no node held twice at once, over the whole test" "$(overlaps)" 0
stop_pipold
