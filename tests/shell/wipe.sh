#!/bin/bash
# wipe: a node's disk wiped at the end of a reservation, before the next
# user. Host mode first (pipol-agent wipe on a file of random data: all
# zeros after, the method said); then against a real pipold: a node
# with --wipe on, its reservation released, gets a deployment of kind
# wipe, deploys onto it are refused (409) while it is queued or running,
# the node's agent (played here on a target file with the token its
# boot script gives) wipes and reports ready, the node is powered off
# and stays parked; a wipe that never reports fails at its deadline
# (set by SQL on the row), is tried again, then given up until an admin
# acts. Only admins set --wipe.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"

zeros() { cmp -s "$1" <(head -c "$(stat -c %s "$1")" /dev/zero); }
rand() { head -c "$2" /dev/urandom > "$1"; }

# host mode
rand "$T/f" 5255555
out=$("$A" wipe --target "$T/f" 2> "$T/w.err"); rc=$?
equal "host mode: exit 0" $rc 0
zeros "$T/f" && ok "host mode: a file of random data reads as zeros" ||
    notok "host mode: a file of random data reads as zeros"
equal "... said how (a punched hole: the discard of a file)" "$out" \
    "$T/f: 5255555 bytes wiped by discard, 66 regions read back as zeros"
rand "$T/f" 3000001
out=$("$A" wipe --target "$T/f" --method write)
zeros "$T/f" && [ "$out" = "$T/f: 3000001 bytes wiped by write, 66 regions read back as zeros" ] &&
    ok "--method write: zeros written, said" || { notok "--method write: zeros written, said"; echo "$out" >&2; }
rand "$T/f" 100000
out=$("$A" wipe --target "$T/f" --method zeroout)
zeros "$T/f" && echo "$out" | grep -q 'by zeroout' && ok "--method zeroout" || notok "--method zeroout"
expect_fail 2 "/dev/null: neither a block device nor a regular file" "$A" wipe --target /dev/null
expect_fail 2 "--method shred: discard, zeroout or write" "$A" wipe --target "$T/f" --method shred

# against pipold
script() { curl -s "$U/boot/$1"; }
tok() { grep -o 'pipol\.token=[0-9a-f]*' | cut -d= -f2; }
mode() { sql "select boot_mode from nodes where name = '$1'"; }
queued() { sql "select count(*) from node_end_actions a join nodes n on n.id = a.node_id where n.name = '$1'"; }
wipe_of() { sql "select max(d.id) from deployments d join nodes n on n.id = d.node_id where n.name = '$1' and d.kind = 'wipe'"; }
end_events() { sql "select string_agg((detail->>'action') || ':' || (detail->>'result'), ' ' order by id) from events where kind = 'node.end' and detail->>'node' = '$1'"; }
wait_sql() { for _ in $(seq 300); do [ "$(sql "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
code() { curl -s -o "$T/code.out" -w '%{http_code}' -H "Authorization: Bearer $1" ${3:+-d "$3"} "$U$2"; }

check "pipold starts" start_pipold --reaper-seconds 2	# the end actions wait for its turns
adm=$(new_user root --admin) al=$(new_user alice) bo=$(new_user bob)
as "$adm" node add n1 --mac 52:54:00:00:41:01 --profile virtual > /dev/null
as "$adm" node add n2 --mac 52:54:00:00:41:02 --profile virtual > /dev/null
mkdisk "$T/d" 3000000
"$P" image create os --from "$T/d" > /dev/null && "$P" image validate os:1 > /dev/null &&
    "$P" image promote os:1 > /dev/null

printf '#!/bin/sh\necho site secret\n' > "$T/10-site"
check "an admin adds a post-install script" as "$adm" script add "$T/10-site" --postinstall
expect_fail 4 "admin" as "$al" node set n1 --wipe on
equal "a user's --wipe changes nothing" "$(sql "select wipe from nodes where name = 'n1'")" f
expect_fail 2 "--wipe yes: on or off" as "$adm" node set n1 --wipe yes
equal "admins: --wipe on" "$(as "$adm" node set n1 --wipe on)" "n1: wipe on"
as "$adm" node show n1 | grep -qx 'wipe  *on' && ok "node show: wipe on" || notok "node show: wipe on"

# the release queues a wipe; the tick makes its deployment, power-cycles
r1=$(as "$al" reserve --nodes n1 --for 1h -q)
as "$al" release "$r1" > /dev/null
equal "the end action: wipe" "$(sql "select action from node_end_actions")" wipe
wait_sql "select d.kind || ' ' || d.state || ' ' || d.boot_armed from node_end_actions a join deployments d on d.id = a.deployment_id" "wipe pending true" &&
    ok "a wipe deployment, its boot cycle armed" || notok "a wipe deployment, its boot cycle armed"
w=$(wipe_of n1)
equal "the node is in the wipe's hands" "$(mode n1)" deploy
r2=$(as "$bo" reserve --nodes n1 --for 1h -q)
n=$(sql "select count(*) from deployments")
expect_fail 7 "node n1 is being wiped" as "$bo" deploy -n n1 -i os --reservation "$r2"
equal "... no deployment made" "$(sql "select count(*) from deployments")" "$n"
t=$(script 52:54:00:00:41:01 | tok)
[ -n "$t" ] && ok "the node's boot: the deploy script with a token" || notok "the node's boot: the deploy script with a token"
curl -s -H "Authorization: Bearer $t" "$U/agent/order" > "$T/order"
equal "its order: kind wipe" "$(grep -o '"kind" *: *"[a-z]*"' "$T/order" | tr -d ' ')" '"kind":"wipe"'
grep -qE '"scripts" *: *\[\]' "$T/order" && ! grep -q 10-site "$T/order" &&
    ok "... no scripts (the site's post-install may hold its secrets)" ||
    notok "... no scripts (the site's post-install may hold its secrets)"
rand "$T/disk" 4194304
printf 'BOOT_IMAGE=vmlinuz pipol.server=%s pipol.token=%s quiet\n' "$U" "$t" > "$T/cmdline"
"$A" --cmdline "$T/cmdline" --target "$T/disk" 2> "$T/agent.err"; rc=$?
equal "the node's agent: exit 0" $rc 0
zeros "$T/disk" && ok "... the disk reads as zeros" || { notok "... the disk reads as zeros"; tail -5 "$T/agent.err" >&2; }
equal "the wipe's states" "$(sql "select string_agg(state, ' ' order by at) from deployment_transitions where deployment_id = $w")" \
    "pending booting fetching writing ready"
equal "... its bytes" "$(sql "select bytes_written, bytes_total from deployments where id = $w")" "4194304|4194304"
wait_sql "select count(*) from node_end_actions" 0 && ok "done: the row is gone (the node powered off)" ||
    notok "done: the row is gone (the node powered off)"
equal "... the node stays parked" "$(mode n1)" park
equal "... events" "$(end_events n1)" "wipe:started wipe:done off:done"
check "then bob deploys n1" as "$bo" deploy -n n1 -i os --reservation "$r2"

# a token of a wipe: ready only after writing
as "$adm" node set n2 --wipe on > /dev/null
r3=$(as "$al" reserve --nodes n2 --for 1h -q)
as "$al" release "$r3" > /dev/null
wait_sql "select d.boot_armed from node_end_actions a join deployments d on d.id = a.deployment_id" t ||
    notok "n2: a wipe deployment, armed"
w=$(wipe_of n2)
t=$(script 52:54:00:00:41:02 | tok)
code "$t" /agent/order > /dev/null
equal "a wipe's agent: ready before writing, 409" "$(code "$t" /agent/result '{"state":"ready"}')" 409
equal "... rebooting, 409" "$(code "$t" /agent/result '{"state":"rebooting"}')" 409
equal "... nothing changed" "$(sql "select state from deployments where id = $w")" fetching

# no report by the deadline: failed, tried again, then given up
sql "update node_end_actions set deadline = now() - interval '1 s'" > /dev/null
wait_sql "select state, reason from deployments where id = $w" "failed|no wipe report within the deadline" &&
    ok "past its deadline: the wipe failed" || notok "past its deadline: the wipe failed"
equal "... kept for another try, with its error" "$(sql "select action, deployment_id is null, last_error, next_at > now() from node_end_actions")" \
    "wipe|t|no wipe report within the deadline|t"
equal "... the node parked" "$(mode n2)" park
equal "... an event" "$(end_events n2)" "wipe:started wipe:failed"
r4=$(as "$bo" reserve --nodes n2 --for 1h -q)
expect_fail 7 "node n2 is being wiped" as "$bo" deploy -n n2 -i os --reservation "$r4"
sql "update node_end_actions set tries = 5, next_at = now()" > /dev/null
wait_sql "select tries, deployment_id is not null from node_end_actions" "6|t" &&
    ok "tried again: a new wipe deployment" || notok "tried again: a new wipe deployment"
sql "update node_end_actions set deadline = now() - interval '1 s'" > /dev/null
wait_sql "select next_at = 'infinity' from node_end_actions" t && ok "the last try fails: given up, kept" ||
    notok "the last try fails: given up, kept"
equal "... events" "$(end_events n2)" "wipe:started wipe:failed wipe:started wipe:given up"
expect_fail 7 "node n2: its wipe failed (no wipe report within the deadline); an admin must act" \
    as "$bo" deploy -n n2 -i os --reservation "$r4"
equal "--wipe off: the failed wipe dropped" "$(as "$adm" node set n2 --wipe off)" \
    "n2: wipe off (its wipe dropped: powered off only)"
wait_sql "select count(*) from node_end_actions" 0 && ok "... the node powered off, the row gone" ||
    notok "... the node powered off, the row gone"
check "then bob deploys n2" as "$bo" deploy -n n2 -i os --reservation "$r4"

stop_pipold
