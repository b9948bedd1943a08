#!/bin/bash
# cron: pipol cron against a real pipold, without QEMU. Time passes for
# the firing decisions through the cron's clock (schema 020: cron_now()
# is now() shifted by cron_clock.shift), moved here by SQL: no sleep
# waits for a firing time. A sentinel entry of bob's fires every minute
# of that clock (its job always refused: 3 nodes asked, 2 exist), so
# "a scheduler turn has happened since the clock moved" is seen, not
# guessed: a turn fires everything due before it ends.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"

wait_sql() { for _ in $(seq 600); do [ "$(sql "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
# clock OFFSET: the cron's clock at today (UTC) 00:00 + OFFSET
clock() { sql "update cron_clock set shift = (date_trunc('day', now() at time zone 'UTC') at time zone 'UTC' + interval '$1') - now()" > /dev/null; }
fired() { sql "select fired from cron_entries where id = $1"; }
# tick: a turn after the clock moved (the sentinel fired once more)
tick() { local f; f=$(fired "$TICK"); wait_sql "select fired > $f from cron_entries where id = $TICK" t; }
at() { sql "select (date_trunc('day', now() at time zone 'UTC') at time zone 'UTC' + interval '$2') = $1"; }

check "pipold starts" start_pipold
adm=$(new_user root --admin) al=$(new_user alice) bo=$(new_user bob)
as "$adm" node add n1 --mac 52:54:00:00:17:01 --profile virtual > /dev/null
as "$adm" node add n2 --mac 52:54:00:00:17:02 --profile virtual > /dev/null
mkdisk "$T/d" 3000001
"$P" image create os --from "$T/d" > /dev/null && "$P" image validate os:1 > /dev/null &&
    "$P" image promote os:1 > /dev/null

equal "the nightly queue: low priority, pre-emptible" \
    "$(sql "select priority < 0 and preemptible from queues where name = 'nightly'")" t
clock '1 day 21:58'
TICK=$(as "$bo" cron add tick --cron '* * * * *' -i os -n 3 -q -- true)
[ -n "$TICK" ] && ok "the sentinel entry" || notok "the sentinel entry"
nb=$(as "$al" cron add nb --nightly -i os -q -- printf '%s|' 'a b' '$(id)' ';id')
[ -n "$nb" ] && ok "cron add --nightly: an id" || notok "cron add --nightly: an id"
equal "... its first firing: when the nightly window opens (22:00 UTC)" \
    "$(at "(select next_fire from cron_entries where id = $nb)" '1 day 22:00')" t
as "$al" cron list | grep -qE "^$nb +nb +alice +nightly +[0-9-]+ 22:00 +active" &&
    ok "cron list: the entry, its next firing" || { notok "cron list: the entry, its next firing"; as "$al" cron list >&2; }

# before its window: nothing; in it: one job, as pipol sub makes it
clock '1 day 21:59'
check "a turn (21:59)" tick
equal "before the window: not fired" "$(fired "$nb")/$(sql "select count(*) from jobs where cron_id = $nb")" "0/0"
clock '1 day 22:00:30'
wait_sql "select fired from cron_entries where id = $nb" 1 && ok "in the window: fired" || notok "in the window: fired"
j=$(sql "select id from jobs where cron_id = $nb")
equal "... a job of alice's, named nb, in the nightly queue" \
    "$(sql "select u.name || ' ' || j.name || ' ' || j.queue || ' ' || q.name from jobs j join users u on u.id = j.user_id join job_runs jr on jr.job_id = j.id join asap_requests a on a.id = jr.reservation_id join queues q on q.id = a.queue_id where j.id = $j")" \
    "alice nb nightly nightly"
equal "... its words as given, no shell" "$(sql "select argv from jobs where id = $j")" '["printf", "%s|", "a b", "$(id)", ";id"]'
equal "... the next firing: the next night" "$(at "(select next_fire from cron_entries where id = $nb)" '2 days 22:00')" t
wait_sql "select count(*) from job_runs where job_id = $j and state = 'deploying'" 1 &&
    ok "... placed and deploying, as a job of pipol sub" || notok "... placed and deploying, as a job of pipol sub"
as "$al" job cancel "$j" > /dev/null

# pipold down through a whole window: the firing is skipped, not made up
clock '3 days 07:00'
check "a turn (07:00, the window closed)" tick
equal "outside its window: not fired, next the next night" \
    "$(fired "$nb") $(at "(select next_fire from cron_entries where id = $nb)" '3 days 22:00')" "1 t"
equal "... said so in the events" "$(sql "select count(*) from events where kind = 'cron.skip' and (detail->>'id')::bigint = $nb")" 1

# a cron expression: 24 firings missed fire once
ev=$(as "$al" cron add every --cron '*/5 * * * *' -i os -n 3 -q -- true)
equal "--cron: first firing 07:05" "$(at "(select next_fire from cron_entries where id = $ev)" '3 days 07:05')" t
clock '3 days 09:02'
check "a turn (09:02)" tick
equal "two hours missed: fired once, next 09:05" \
    "$(fired "$ev") $(at "(select next_fire from cron_entries where id = $ev)" '3 days 09:05')" "1 t"
equal "... its job refused (3 nodes, 2 exist): said, the entry goes on" \
    "$(sql "select last_error from cron_entries where id = $ev")" "only 2 node(s) in all, 3 asked"

# pause, resume, rm; only the owner (or an admin)
expect_fail 6 "cron every: no such entry of yours" as "$bo" cron pause every
expect_fail 6 "no such entry of yours" as "$bo" cron pause "$ev"
expect_fail 6 "no such entry of yours" as "$bo" cron rm "$ev"
expect_fail 6 "no such entry of yours" as "$bo" cron resume "$ev"
equal "bob does not list it" "$(as "$bo" cron list | grep -c " alice ")" 0
equal "cron pause" "$(as "$al" cron pause every)" "cron $ev: paused"
clock '3 days 10:02'
check "a turn (10:02)" tick
equal "paused: not fired" "$(fired "$ev")" 1
equal "cron resume (an admin may)" "$(as "$adm" cron resume "$ev")" "cron $ev: resumed"
equal "... from now, none of the missed: next 10:05" "$(at "(select next_fire from cron_entries where id = $ev)" '3 days 10:05')" t
equal "cron rm" "$(as "$al" cron rm every)" "cron $ev: removed"
clock '3 days 11:02'
check "a turn (11:02)" tick
equal "removed: gone, never fired again" "$(sql "select count(*) from cron_entries where id = $ev")/$(sql "select count(*) from events where kind = 'cron.fire' and (detail->>'id')::bigint = $ev")" "0/1"
expect_fail 6 "no such entry of yours" as "$al" cron rm "$ev"

# hostile or bad schedules, names, sizes: one clear line each
for c in '* * * *' '* * * * * *' '60 * * * *' '$(id) * * * *' '0 0 * * mon;id' '5-1 * * * *' '*/0 * * * *' '@daily'; do
	expect_fail 2 "cron '$c'" as "$al" cron add x --cron "$c" -i os -- true
done
expect_fail 2 "never fires" as "$al" cron add x --cron '0 0 31 2 *' -i os -- true
expect_fail 2 "at most 128 characters" as "$al" cron add x --cron "$(printf '1,%.0s' $(seq 80))1 * * * *" -i os -- true
equal "a control character: 400" "$(api "$al" POST /api/cron '{"name":"x","schedule":"0 0 * * *\n","images":["os"],"argv":["a"]}')" 400
expect_fail 2 "one of --nightly, --weekly, --cron" as "$al" cron add x --nightly --cron '* * * * *' -i os -- true
expect_fail 2 "--dir: not for cron entries" as "$al" cron add x --nightly --dir /tmp -i os -- true
expect_fail 2 "name: a letter or digit" as "$al" cron add ../x --nightly -i os -- true
expect_fail 2 "longer than the nightly window" as "$al" cron add x --nightly --for 9h -i os -- true
expect_fail 7 "cron nb: you have one of this name" as "$al" cron add nb --weekly -i os -- true
expect_fail 6 "image nope: no such image" as "$al" cron add x --nightly -i nope -- true
equal "257 words: 400" "$(api "$al" POST /api/cron "{\"name\":\"x\",\"schedule\":\"nightly\",\"images\":[\"os\"],\"argv\":$(python3 -c 'print(["a"] * 257)' | tr "'" '"')}")" 400
equal "a source: not taken (400)" "$(api "$al" POST /api/cron '{"name":"x","schedule":"nightly","images":["os"],"argv":["a"],"source":{}}')" 400
for i in $(seq 31); do as "$al" cron add "m$i" --weekly -i os -q -- true > /dev/null; done
expect_fail 4 "at most 32 cron entries" as "$al" cron add m32 --weekly -i os -- true
sql "delete from cron_entries where name ~ '^m[0-9]+$'" > /dev/null

# two pipold on one database: an entry another transaction holds is
# skipped (not fired, not waited for), then fired once
P2=$(free_port)
U2=http://127.0.0.1:$P2
"$D" --listen 127.0.0.1:$P2 --state "$T/state2" --db "host=$T/state/pg user=pipol dbname=pipol" \
    >> "$T/pipold2.log" 2>&1 &
D2PID=$!
extra_cleanup() { [ -n "${D2PID:-}" ] && kill "$D2PID" 2>/dev/null && wait "$D2PID" 2>/dev/null; exec 7>&- 2>/dev/null; true; }
up2() { for _ in $(seq 300); do curl -sf "$U2/health" > /dev/null && return 0; sleep 0.1; done; return 1; }
check "a second pipold on the same database" up2
tw=$(as "$al" cron add twice --cron '0 * * * *' -i os -n 3 -q -- true)
mkfifo "$T/lock"
psql -X -q -h "$T/state/pg" -U pipol -d pipol < "$T/lock" > /dev/null 2>&1 &
LPID=$!
exec 7> "$T/lock"
echo "BEGIN; SELECT 1 FROM cron_entries WHERE id = $tw FOR UPDATE;" >&7
wait_sql "select count(*) from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'cron_entries' and l.mode = 'RowShareLock'" 1 ||
    notok "the test holds the entry"
clock '3 days 12:00:30'
check "a turn while the entry is held" tick
clock '3 days 12:01:30'
check "... and another" tick
equal "held by another transaction: not fired" "$(fired "$tw")" 0
echo "COMMIT;" >&7
exec 7>&-
wait "$LPID"
wait_sql "select fired from cron_entries where id = $tw" 1 && ok "let go: fired" || notok "let go: fired"
clock '3 days 12:02:30'
check "a turn" tick
clock '3 days 12:03:30'
check "another turn" tick
equal "two pipold: fired once (one cron.fire event)" \
    "$(fired "$tw")/$(sql "select count(*) from events where kind = 'cron.fire' and (detail->>'id')::bigint = $tw")" "1/1"
# (which pipold fires is whichever holds the scheduler's turn: one at a
# time, db_turn_begin; it may be the same one each time)
equal "two pipold: no entry fired twice for one time" \
    "$(sql "select count(*) from (select detail->>'id', detail->>'at' from events where kind = 'cron.fire' group by 1, 2 having count(*) > 1) x")" 0
kill "$D2PID" && wait "$D2PID"; equal "the second pipold stops" $? 0; D2PID=
as "$al" cron rm twice > /dev/null

# pre-emption at admission. A night job never takes a node a day
# reservation holds (n2, bob's) or has booked (n1, in 30 minutes): its
# request waits
sql "update cron_entries set paused = true where id = $TICK" > /dev/null
r2=$(as "$bo" reserve --nodes n2 --for 1h -q)
t1=$(sql "select to_char(now() + interval '30 minutes', 'YYYY-MM-DD HH24:MI')")
r1=$(as "$adm" reserve --nodes n1 --at "$t1" --for 1h -q)
[ -n "$r2" ] && [ -n "$r1" ] && ok "day: n2 held, n1 booked" || notok "day: n2 held, n1 booked"
clock '3 days 22:00:30'
wait_sql "select fired from cron_entries where id = $nb" 2 && ok "the night job fired" || notok "the night job fired"
j=$(sql "select max(id) from jobs where cron_id = $nb")
sql "select pg_sleep(0.1)" > /dev/null
wait_sql "select a.state from asap_requests a join job_runs jr on jr.reservation_id = a.id where jr.job_id = $j" queued &&
    ok "... its request waits: no node free of day reservations" || notok "... its request waits: no node free of day reservations"
overlap() { sql "select count(*) from reservation_nodes a join reservations ra on ra.id = a.reservation_id join queues qa on qa.id = ra.queue_id join reservation_nodes b on b.node_id = a.node_id and b.reservation_id <> a.reservation_id join reservations rb on rb.id = b.reservation_id join queues qb on qb.id = rb.queue_id where a.live and b.live and a.during && b.during and qa.preemptible and not qb.preemptible"; }
equal "... no night reservation over a day one" "$(overlap)" 0
as "$bo" release "$r2" > /dev/null
wait_sql "select n.name from job_runs jr join nodes n on n.id = jr.node_id where jr.job_id = $j" n2 &&
    ok "n2 released: the night job takes n2, never n1 (booked)" || notok "n2 released: the night job takes n2, never n1 (booked)"
nr=$(sql "select reservation_id from job_runs where job_id = $j")
equal "... a reservation of the nightly queue" "$(sql "select q.name from reservations r join queues q on q.id = r.queue_id where r.id = $nr")" nightly

# a day reservation for now that needs n2: the night one ends now,
# its job says it was pre-empted
rd=$(as "$bo" reserve -n 2 --profile virtual --for 20m -q)
[ -n "$rd" ] && ok "day: 2 nodes for now, one of them the night job's: granted" ||
    { notok "day: 2 nodes for now, one of them the night job's: granted"; as "$bo" reserve -n 2 --profile virtual --for 20m >&2; }
equal "... the night reservation released" "$(sql "select state from reservations where id = $nr")" released
equal "... its job: pre-empted" "$(sql "select reason from jobs where id = $j")" "pre-empted by reservation $rd"
wait_sql "select state from jobs where id = $j" failed && ok "... and over (failed)" || notok "... and over (failed)"
equal "... in the events" "$(sql "select count(*) from events where kind = 'reservation.preempt' and (detail->>'id')::bigint = $nr")" 1
equal "no night reservation over a day one" "$(overlap)" 0
as "$bo" release "$rd" > /dev/null

# a day booking later over a running night reservation: shortened, it
# ends when the day one starts
clock '4 days 22:00:30'
wait_sql "select fired from cron_entries where id = $nb" 3 && ok "the night job fired again" || notok "the night job fired again"
j=$(sql "select max(id) from jobs where cron_id = $nb")
wait_sql "select count(*) from job_runs where job_id = $j and node_id is not null" 1 && ok "... placed" || notok "... placed"
nr=$(sql "select reservation_id from job_runs where job_id = $j")
nn=$(sql "select n.name from job_runs jr join nodes n on n.id = jr.node_id where jr.job_id = $j")
t2=$(sql "select to_char(now() + interval '10 minutes', 'YYYY-MM-DD HH24:MI')")
rb=$(as "$bo" reserve --nodes "$nn" --at "$t2" --for 1h -q)
[ -n "$rb" ] && ok "day: $nn booked in 10 minutes" || notok "day: $nn booked in 10 minutes"
equal "... the night reservation ends when it starts, still active" \
    "$(sql "select (upper(r.during) = lower(b.during))::text || ' ' || r.state from reservations r, reservations b where r.id = $nr and b.id = $rb")" "true active"
equal "no night reservation over a day one" "$(overlap)" 0
as "$al" job cancel "$j" > /dev/null

stop_pipold
