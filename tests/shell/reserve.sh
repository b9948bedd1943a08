#!/bin/bash
# Reservations through pipold and pipol: now and at a date, extension,
# release, admission rules, licences, who may change what, and 50
# concurrent requests for one slot (exactly one wins).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"

check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice) bo=$(new_user bob)
for i in 1 2 3; do as "$adm" node add n$i --mac 52:54:00:00:01:0$i --profile virtual >/dev/null; done
as "$adm" node add u1 --mac 52:54:00:00:01:11 --profile uefi >/dev/null
# dates ahead, within the site's horizon (90 days by default)
D1=$(date -u -d '+20 days' +%F) D2=$(date -u -d '+21 days' +%F)
D3=$(date -u -d '+22 days' +%F) D4=$(date -u -d '+23 days' +%F)

# now, by count and profile
r1=$(as "$al" reserve -n 1 --profile uefi --for 2h -q)
equal "reserve -n 1 --profile uefi" "$(sql "select n.name from reservation_nodes rn join nodes n on n.id = rn.node_id where reservation_id = $r1")" u1
equal "it lasts 2h" "$(sql "select upper(during) - lower(during) from reservations where id = $r1")" "02:00:00"
as "$al" reservations > "$T/list"
grep -qE "^$r1 +alice +running .* u1$" "$T/list" && ok "reservations lists it, running" ||
    { notok "reservations lists it, running"; cat "$T/list" >&2; }
expect_fail 7 "only 0 free node(s) of profile uefi, 1 asked" as "$bo" reserve -n 1 --profile uefi
# by name; a taken node is refused whole, nothing half-reserved
r2=$(as "$al" reserve --nodes n1,n2 --for 30m -q)
n=$(sql 'select count(*) from reservation_nodes')
expect_fail 7 "a node is already reserved then" as "$bo" reserve --nodes n2,n3
equal "a refused reservation takes nothing" "$(sql 'select count(*) from reservation_nodes')" "$n"
expect_fail 6 "node n9: no such node" as "$bo" reserve --nodes n9
# at a date: the same node is free before and after
r3=$(as "$bo" reserve --nodes n3 --at "$D1 10:00" --for 2h -q)
equal "reserved at a date: waiting" "$(as "$bo" reservations | awk -v id="$r3" '$1 == id {print $3}')" waiting
r4=$(as "$al" reserve --nodes n3 --at "$D1 12:00" --for 1h -q)
[ -n "$r4" ] && ok "the slot right after is free" || notok "the slot right after is free"
expect_fail 7 "a node is already reserved then" as "$al" reserve --nodes n3 --at "$D1 11:00" --for 30m
expect_fail 2 "is in the past" as "$al" reserve --nodes n3 --at "2020-01-01 10:00"
expect_fail 2 "reserve: invalid input syntax for type timestamp" as "$al" reserve --nodes n3 --at "not a date"
# extension: allowed while the nodes stay free, not into another booking
expect_fail 7 "extend: a node is already reserved then" as "$bo" extend "$r3" --by 30m
equal "a refused extension changes nothing" "$(sql "select upper(during) - lower(during) from reservations where id = $r3")" "02:00:00"
as "$al" release "$r4" > /dev/null
as "$bo" extend "$r3" --by 30m > /dev/null
equal "once the next slot is released: extend --by 30m" "$(sql "select upper(during) - lower(during) from reservations where id = $r3")" "02:30:00"
expect_fail 6 "reservation $r3: no such reservation of yours" as "$al" extend "$r3" --by 10m
expect_fail 2 "--by 2x: not a duration" as "$bo" extend "$r3" --by 2x
# release: by its owner (or an admin), frees the nodes at once
expect_fail 6 "reservation $r2: no such reservation of yours" as "$bo" release "$r2"
check "release" as "$al" release "$r2"
equal "released" "$(sql "select state from reservations where id = $r2")" released
r5=$(as "$bo" reserve --nodes n1,n2 --for 10m -q)
[ -n "$r5" ] && ok "released nodes are free at once" || notok "released nodes are free at once"
expect_fail 7 "reservation $r2: already released" as "$al" release "$r2"
check "an admin releases anyone's" as "$adm" release "$r5"

# admission rules
as "$adm" queue add short --max-nodes 2 --max-time 1h --hours 08:00-18:00 > /dev/null
expect_fail 4 "queue short: at most 2 nodes per reservation, 3 asked" \
    as "$al" reserve --queue short --nodes n1,n2,n3 --at "$D2 10:00" --for 10m
expect_fail 4 "queue short: at most 01:00:00 per reservation" \
    as "$al" reserve --queue short --nodes n1 --at "$D2 10:00" --for 2h
expect_fail 4 "queue short: reservations start between 08:00:00 and 18:00:00" \
    as "$al" reserve --queue short --nodes n1 --at "$D2 20:00" --for 10m
r6=$(as "$al" reserve --queue short --nodes n1 --at "$D2 10:00" --for 50m -q)
[ -n "$r6" ] && ok "within the rules: granted" || notok "within the rules: granted"
expect_fail 4 "queue short: at most 01:00:00 per reservation" as "$al" extend "$r6" --by 20m
expect_fail 6 "queue nope: no such queue" as "$al" reserve --queue nope -n 1
expect_fail 4 "admins only" as "$al" queue add mine --max-nodes 100
as "$al" queue list | grep -qE '^short +2 +3600 +0 +08:00-18:00$' && ok "queue list" || notok "queue list"

# licences: counted over time, admins declare them
as "$adm" licence add matlab 2 > /dev/null
expect_fail 4 "admins only" as "$al" licence add matlab 10
r7=$(as "$al" reserve --nodes n1 --licence matlab:2 --for 1h -q)
expect_fail 7 "licence matlab: 1 asked, 0 of 2 free then" as "$bo" reserve --nodes n2 --licence matlab
as "$bo" licence list | grep -qE '^matlab +2 +2$' && ok "licence list: 2 of 2 in use" || notok "licence list: 2 of 2 in use"
as "$al" release "$r7" > /dev/null
r8=$(as "$bo" reserve --nodes n2 --licence matlab --for 1h -q)
[ -n "$r8" ] && ok "a released licence is free again" || notok "a released licence is free again"
expect_fail 6 "licence cobol: no such licence" as "$bo" reserve --nodes n3 --licence cobol
as "$bo" release "$r8" > /dev/null

# bodies are checked: 400 and nothing reserved
n=$(sql 'select count(*) from reservations')
equal "unknown field: 400" "$(api "$al" POST /api/reservations '{"count": 1, "seconds": 600, "root": 1}')" 400
equal "nodes and count: 400" "$(api "$al" POST /api/reservations '{"count": 1, "nodes": ["n1"], "seconds": 600}')" 400
equal "bad node name: 400" "$(api "$al" POST /api/reservations '{"nodes": ["n1;drop"], "seconds": 600}')" 400
equal "no token: 401" "$(api x POST /api/reservations '{"count": 1, "seconds": 600}')" 401
equal "malformed JSON: 400" "$(api "$al" POST /api/reservations '{"count": 1,')" 400
equal "extend of no number: 404" "$(api "$al" POST /api/reservations/x1/extend '{"seconds": 60}')" 404
equal "nothing reserved by refused requests" "$(sql 'select count(*) from reservations')" "$n"

# 50 concurrent requests for one slot: exactly one wins, the others 409
as "$adm" node add c1 --mac 52:54:00:00:01:21 --profile netboot-only >/dev/null
pids=()
for i in $(seq 50); do
	tok=$al; [ $((i % 2)) -eq 0 ] && tok=$bo
	api "$tok" POST /api/reservations '{"nodes": ["c1"], "seconds": 3600, "at": "'"$D3"' 10:00"}' \
	    > "$T/race.$i" 2>/dev/null &
	pids+=($!)
done
wait "${pids[@]}"	# not a bare wait: pipold is a child too
equal "50 concurrent requests, one slot: one 201" "$(cat "$T"/race.* | tr -d '\n' | grep -o 201 | wc -l)" 1
equal "the 49 others: 409" "$(cat "$T"/race.* | tr -d '\n' | grep -o 409 | wc -l)" 49
equal "one booking of c1 in the database" "$(sql "select count(*) from reservation_nodes rn join nodes n on n.id = rn.node_id where n.name = 'c1' and live")" 1
# by count: 30 concurrent requests for 1 of the 3 free virtual nodes
pids=()
for i in $(seq 30); do
	api "$al" POST /api/reservations '{"count": 1, "profile": "virtual", "seconds": 3600, "at": "'"$D4"' 10:00"}' \
	    > "$T/race2.$i" 2>/dev/null &
	pids+=($!)
done
wait "${pids[@]}"
equal "30 concurrent requests for any 1 of 3 nodes: three 201" "$(cat "$T"/race2.* | tr -d '\n' | grep -o 201 | wc -l)" 3
equal "three distinct nodes booked then" "$(sql "select count(distinct node_id) from reservation_nodes where live and during @> '$D4 10:30'::timestamptz")" 3
curl -sf "$U/health" > /dev/null && ok "pipold still answers" || notok "pipold still answers"
stop_pipold
