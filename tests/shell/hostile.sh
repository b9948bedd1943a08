#!/bin/bash
# Trust at the node boundary (issue 12, items 1 and 2), against a real
# pipold on loopback: what a stranger on the boot network can do with a
# node's MAC, and what a deploy racing a release leaves behind.
#   - /boot/MAC from an address other than the node's, or a second
#     time in one boot cycle, gets no token and changes nothing; the
#     node's own agent finishes, its token still works;
#   - an agent token works from the address that fetched it only;
#     states follow the state machine (ready only after rebooting);
#   - a capture's draft comes from the captured node only;
#   - 25 rounds of deploy racing release leave no deployment in flight
#     under a reservation that ended; the reaper fails such orphans.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"

check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice) bo=$(new_user bob)
as "$adm" node add n1 --mac 52:54:00:00:12:01 --profile virtual >/dev/null
mkdisk "$T/d" 6000001
"$P" image create os --from "$T/d" >/dev/null && "$P" image validate os:1 >/dev/null &&
    "$P" image promote os:1 >/dev/null

# item 2: deploy racing release, 25 rounds; checked after each round,
# before pipold's reaper could tidy up
orphans=0 deployed=0
for i in $(seq 25); do
	r=$(as "$bo" reserve --nodes n1 --for 1h -q)
	as "$bo" deploy -n n1 -i os:1 --reservation "$r" > /dev/null 2>&1 &
	p1=$!
	as "$bo" release "$r" > /dev/null 2>&1 &
	p2=$!
	wait $p1 $p2
	n=$(sql "select count(*) from deployments d join reservations r on r.id = d.reservation_id where d.state not in ('ready', 'failed') and r.state <> 'active'")
	orphans=$((orphans + n))
	deployed=$((deployed + $(sql "select count(*) from deployments where reservation_id = $r")))
	# a round that left one must not spoil the next
	sql "update deployments set state = 'failed' where state not in ('ready', 'failed')" > /dev/null
	[ "$(sql "select state from reservations where id = $r")" = active ] && as "$bo" release "$r" > /dev/null
done
equal "25 rounds of deploy racing release: no deployment in flight under an ended reservation" "$orphans" 0
echo "# $deployed of 25 deploys went through before their release" >&2
# the reaper: an orphan made by hand (as an older pipold could) fails
r=$(as "$bo" reserve --nodes n1 --for 1h -q)
as "$bo" release "$r" > /dev/null
sql "insert into deployments (node_id, reservation_id, image_name, image_version, user_id)
    select n.id, $r, 'os', 1, u.id from nodes n, users u where n.name = 'n1' and u.name = 'bob'" > /dev/null
o=$(sql "select max(id) from deployments")
equal "the reaper fails a deployment in flight under a released reservation" \
    "$(sql "select reservations_expire(); select state, reason from deployments where id = $o" | tail -1)" \
    "failed|reservation $r released"

# item 1: the boot script and the agent token, against a stranger who
# knows the MAC (every user sees it) and asks from 127.0.0.2
as "$adm" node add n2 --mac 52:54:00:00:12:02 --profile virtual --ip 127.0.0.1 >/dev/null
as "$adm" node add n3 --mac 52:54:00:00:12:03 --profile virtual >/dev/null
boot() { curl -s "$U/boot/$1"; }
sboot() { curl -s --interface 127.0.0.2 "$U/boot/$1"; }
tok() { grep -o 'pipol\.token=[0-9a-f]*' | cut -d= -f2; }
# code TOKEN PATH [BODY] [FROM]: the status of an agent call
code() {
	curl -s -o "$T/code.out" -w '%{http_code}' ${4:+--interface "$4"} \
	    -H "Authorization: Bearer $1" ${3:+-d "$3"} "$U$2"
}
armed() { for _ in $(seq 100); do [ "$(sql "select boot_armed from deployments where id = $1")" = t ] && return 0; sleep 0.1; done; return 1; }
row() { sql "select state, boot_armed, coalesce(encode(token_hash, 'hex'), '-') from deployments where id = $1"; }

as "$al" deploy -n n2 -i os:1 > /dev/null
d=$(sql "select max(id) from deployments")
check "the deploy's power cycle arms its boot cycle" armed "$d"
sboot 52:54:00:00:12:02 > "$T/s"
! grep -q 'pipol\.token' "$T/s" && grep -q 'waiting' "$T/s" &&
    ok "/boot/MAC from another address than the node's lease: no token, the wait script" ||
    { notok "/boot/MAC from another address than the node's lease: no token, the wait script"; cat "$T/s" >&2; }
equal "... and nothing changed" "$(row "$d")" "pending|t|-"
t=$(boot 52:54:00:00:12:02 | tok)
[ -n "$t" ] && ok "the node's own first fetch: a token" || notok "the node's own first fetch: a token"
equal "... bound to its address" "$(sql "select host(token_addr), boot_armed from deployments where id = $d")" "127.0.0.1|f"
before=$(row "$d")
equal "a second fetch in the same cycle: no token" "$(boot 52:54:00:00:12:02 | tok)$(sboot 52:54:00:00:12:02 | tok)" ""
equal "... and nothing changed" "$(row "$d")" "$before"
boot "52:54:00:00:12:02?wait=60" | grep -q 'pipol.rescue=1' && ok "after 60 rounds of waiting: the rescue environment" ||
    notok "after 60 rounds of waiting: the rescue environment"
equal "the token from another address: the order 401" "$(code "$t" /agent/order '' 127.0.0.2)" 401
equal "... a state 401" "$(code "$t" /agent/result '{"state":"failed","reason":"x"}' 127.0.0.2)" 401
equal "ready straight from booting: 409" "$(code "$t" /agent/result '{"state":"ready"}')" 409
grep -q 'deployment [0-9]*: ready after booting: not a move an agent may make' "$T/code.out" &&
    ok "... saying why" || { notok "... saying why"; cat "$T/code.out" >&2; }
equal "rebooting before the order was read: 409" "$(code "$t" /agent/result '{"state":"rebooting"}')" 409
equal "writing before the order was read: 409" "$(code "$t" /agent/progress '{"state":"writing"}')" 409
equal "... and nothing changed" "$(row "$d")" "$before"
# the node's own agent finishes, its token still good
printf 'BOOT_IMAGE=vmlinuz pipol.server=%s pipol.token=%s quiet\n' "$U" "$t" > "$T/cmdline"
"$A" --cmdline "$T/cmdline" --target "$T/t2" 2> "$T/agent.err"; rc=$?
equal "the node's agent: exit 0" $rc 0
same "... the disk written" "$T/d" "$T/t2"
equal "... rebooting" "$(sql "select state from deployments where id = $d")" rebooting
equal "a state already passed changes nothing (200)" "$(code "$t" /agent/progress '{"state":"writing"}')" 200
equal "ready after rebooting" "$(code "$t" /agent/result '{"state":"ready"}')" 200
equal "every state once, in order" "$(sql "select string_agg(state, ' ' order by at) from deployment_transitions where deployment_id = $d")" \
    "pending booting fetching writing rebooting ready"

# a node with no leased address: the token is bound to whoever asked
as "$al" deploy -n n3 -i os:1 > /dev/null
d3=$(sql "select max(id) from deployments")
armed "$d3"
t3=$(sboot 52:54:00:00:12:03 | tok)
[ -n "$t3" ] && ok "no lease: the first fetch of the cycle takes the token" || notok "no lease: the first fetch of the cycle takes the token"
equal "... which works from its address" "$(code "$t3" /agent/progress '{}' 127.0.0.2)" 200
equal "... and from no other" "$(code "$t3" /agent/progress '{}')" 401
equal "a node that rebooted by itself: no token" "$(boot 52:54:00:00:12:03 | tok)" ""
equal "a reset through pipold" "$(as "$al" node power n3 reset | cut -c1-4)" "n3: "
t3b=$(boot 52:54:00:00:12:03 | tok)
[ -n "$t3b" ] && [ "$t3b" != "$t3" ] && ok "... starts a cycle: a fresh token" || notok "... starts a cycle: a fresh token"
equal "... the old one dies" "$(code "$t3" /agent/progress '{}' 127.0.0.2)" 401
expect_fail 4 "node n3: not in a running reservation of yours" as "$bo" node power n3 reset
equal "... nor take a token" "$(sboot 52:54:00:00:12:03 | tok)" ""

# capture: the draft comes from the captured node only
as "$adm" capture -n n2 -i snap > /dev/null
c=$(sql "select max(id) from deployments")
armed "$c"
equal "capture: a stranger's fetch gets no token" "$(sboot 52:54:00:00:12:02 | tok)" ""
tc=$(boot 52:54:00:00:12:02 | tok)
[ -n "$tc" ] && ok "capture: the node's fetch gets its token" || notok "capture: the node's fetch gets its token"
equal "capture: the token from another address: missing 401" "$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 \
    -H "Authorization: Bearer $tc" -H 'Content-Type: application/json' -d '{"codec":"gzip","hashes":[]}' "$U/api/capture/snap/missing")" 401
equal "... an index 401" "$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 \
    -H "Authorization: Bearer $tc" --data-binary @"$PIPOL_STATE/store/images/os/1.idx" "$U/api/capture/snap/index")" 401
equal "... no version made" "$(sql "select count(*) from images where name = 'snap'")" 0
curl -s -H "Authorization: Bearer $tc" "$U/agent/order" > /dev/null
equal "capture: ready before its draft is made: 409" "$(code "$tc" /agent/result '{"state":"ready"}')" 409
printf 'BOOT_IMAGE=vmlinuz pipol.server=%s pipol.token=%s quiet\n' "$U" "$tc" > "$T/cmdline"
cp "$T/d" "$T/src"
"$A" --cmdline "$T/cmdline" --target "$T/src" 2> "$T/cap.err"; rc=$?
equal "capture from the node: exit 0, ready with its version" "$rc $(sql "select state, image_version from deployments where id = $c")" "0 ready|1"
equal "... a draft, until an admin validates it" "$("$P" image list | awk '$1 == "snap" {print $2, $3}')" "1 draft"
stop_pipold
