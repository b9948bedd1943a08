#!/bin/bash
# Deployments end to end in host mode: pipol deploy, the node's boot
# script and its token (once per boot cycle pipold started), the agent in node mode (order, progress,
# result), every state recorded once; refusals (another user's node,
# another's reservation, bad tokens) change nothing; kill -9 of pipold
# mid-deploy; a PostgreSQL restart; a corrupt image never ends ready.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"

check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice) bo=$(new_user bob)
as "$adm" node add n1 --mac 52:54:00:00:02:01 --profile virtual >/dev/null
as "$adm" node add n2 --mac 52:54:00:00:02:02 --profile pc-bios >/dev/null
as "$adm" node add n3 --mac 52:54:00:00:02:03 --profile uefi >/dev/null
mkdisk "$T/d" 9000001
"$P" image create os --from "$T/d" >/dev/null && "$P" image validate os:1 >/dev/null &&
    "$P" image promote os:1 >/dev/null
script() { curl -s "$U/boot/$1"; }
token_of() { script "$1" | grep -o 'pipol\.token=[0-9a-f]*' | cut -d= -f2; }
cmdline() { printf 'BOOT_IMAGE=vmlinuz pipol.server=%s pipol.token=%s quiet\n' "$U" "$1" > "$2"; }

# a deploy without a reservation takes one now, the nodes being free
as "$al" deploy -n n1 -i os > "$T/dep.out"
dep=$(grep -o 'deployment [0-9]*' "$T/dep.out" | cut -d' ' -f2)
[ -n "$dep" ] && ok "pipol deploy: a deployment" || { notok "pipol deploy: a deployment"; cat "$T/dep.out" >&2; }
equal "an immediate reservation of n1 for alice" "$(sql "select u.name from reservations r join users u on u.id = r.user_id join reservation_nodes rn on rn.reservation_id = r.id join nodes n on n.id = rn.node_id where n.name = 'n1'")" alice
equal "state pending" "$(sql "select state from deployments where id = $dep")" pending
# refusals: the right status, nothing changed
n=$(sql 'select count(*) from deployments')
expect_fail 7 "a node is already reserved then" as "$bo" deploy -n n1 -i os
rid=$(sql "select reservation_id from deployments where id = $dep")
expect_fail 4 "these nodes are not all in a running reservation of yours" as "$bo" deploy -n n1 -i os --reservation "$rid"
expect_fail 7 "a deployment is already in flight" as "$al" deploy -n n1 -i os
expect_fail 6 "image nope: no such image" as "$al" deploy -n n1 -i nope
expect_fail 4 "no valid token" as "$(printf '%064d' 7)" deploy -n n2 -i os
equal "refused deploys changed nothing" "$(sql 'select count(*) from deployments')" "$n"
equal "n2 was not reserved by the refused deploy" "$(sql "select count(*) from reservation_nodes rn join nodes n on n.id = rn.node_id where n.name = 'n2'")" 0

# the boot script: deploy with a fresh token, once per boot cycle
# pipold started (the deploy's power cycle, armed once it has run)
for _ in $(seq 100); do script 52:54:00:00:02:01 > "$T/s1"; grep -q pipol.token "$T/s1" && break; sleep 0.1; done
grep -q "^kernel $U/bootenv/cloud/vmlinuz initrd=initrd.img pipol.server=$U pipol.token=[0-9a-f]\{64\} " "$T/s1" &&
    ok "/boot/MAC: the deploy script" || { notok "/boot/MAC: the deploy script"; cat "$T/s1" >&2; }
t1=$(grep -o 'pipol\.token=[0-9a-f]*' "$T/s1" | cut -d= -f2)
script 52-54-00-00-02-01 > "$T/s1b"
! grep -q 'pipol\.token' "$T/s1b" && grep -q "^chain --replace --autofree $U/boot/\${mac}?wait=1 " "$T/s1b" &&
    ok "a second fetch in the same boot cycle: no token, the wait script" ||
    { notok "a second fetch in the same boot cycle: no token, the wait script"; cat "$T/s1b" >&2; }
equal "... and the first token still works" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t1" -d '{}' "$U/agent/progress")" 200
equal "a reset through pipold (manual driver: by hand)" "$(as "$al" node power n1 reset | cut -c1-4)" "n1: "
t2=$(token_of 52-54-00-00-02-01)
[ -n "$t2" ] && [ "$t1" != "$t2" ] && ok "a boot cycle pipold started gets a fresh token" ||
    notok "a boot cycle pipold started gets a fresh token"
equal "the old token dies" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t1" "$U/agent/order")" 401
equal "... and the cycle's second fetch gets none" "$(token_of 52-54-00-00-02-01)" ""
equal "state booting" "$(sql "select state from deployments where id = $dep")" booting
equal "the token is stored hashed" "$(sql "select count(*) from deployments where token_hash = decode('$(printf %s "$t2" | sha256sum | cut -c1-64)', 'hex')")" 1
script 52:54:00:00:02:02 | grep -q '^sanboot --no-describe --drive 0x80' && ok "a pc-bios node with no deployment boots its disk" ||
    notok "a pc-bios node with no deployment boots its disk"
script 52:54:00:00:02:03 | grep -q '^exit 1' && ok "a uefi node goes back to the firmware" ||
    notok "a uefi node goes back to the firmware"
script 52:54:00:00:02:99 | grep -q 'is not a node of this pool' && ok "an unknown MAC is told so" ||
    notok "an unknown MAC is told so"
equal "a bad MAC: 404" "$(curl -s -o /dev/null -w '%{http_code}' "$U/boot/52:54:00:00:02")" 404

# an agent token opens its own order only, and nothing of the user API
curl -s -H "Authorization: Bearer $t2" "$U/agent/order" > "$T/order"
grep -q '"node" : "n1"' "$T/order" && ok "the order: its node" || { notok "the order: its node"; cat "$T/order" >&2; }
grep -q '"index" : "/images/os/1.idx"' "$T/order" && ok "the order: the index path" || { notok "the order: the index path"; cat "$T/order" >&2; }
equal "an agent token is no user token" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t2" "$U/api/deployments")" 401
equal "a user token is no agent token" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $al" "$U/agent/order")" 401
equal "progress: unknown field 400" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t2" -d '{"state":"writing","x":1}' "$U/agent/progress")" 400
equal "progress: a state not for progress 400" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t2" -d '{"state":"ready"}' "$U/agent/progress")" 400
equal "progress: a negative count 400" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t2" -d '{"written":-5}' "$U/agent/progress")" 400
equal "progress: a count past 2^31 200" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t2" -d '{"fetched":3000000000}' "$U/agent/progress")" 200
equal "... and recorded" "$(sql "select bytes_fetched from deployments where id = $dep")" 3000000000

# the agent in node mode: order, deployment, progress, result
cmdline "$t2" "$T/cmdline"
"$A" --cmdline "$T/cmdline" --target "$T/t1" 2> "$T/agent.err"; rc=$?
equal "node mode: exit 0" $rc 0
same "node mode: the disk written" "$T/d" "$T/t1"
equal "state rebooting" "$(sql "select state from deployments where id = $dep")" rebooting
equal "every state once, in order" "$(sql "select string_agg(state, ' ' order by at) from deployment_transitions where deployment_id = $dep")" \
    "pending booting fetching writing rebooting"
equal "bytes written recorded" "$(sql "select bytes_written from deployments where id = $dep")" 9000001
script 52:54:00:00:02:01 | grep -q '^sanboot' && ok "past writing, the node boots its disk" || notok "past writing, the node boots its disk"
# the deployed system's first boot says ready; the token then dies
equal "ready" "$(curl -s -H "Authorization: Bearer $t2" -d '{"state":"ready"}' "$U/agent/result")" '{"state":"ready"}'
equal "after ready the token opens nothing" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t2" "$U/agent/order")" 401
equal "boot mode back to local" "$(sql "select boot_mode from nodes where name = 'n1'")" local
"$A" --cmdline "$T/cmdline" --target "$T/t1" --timeout 5 2> "$T/agent.err"; rc=$?
equal "an agent with a dead token: exit 4" $rc 4
grep -q "this token opens no deployment in flight" "$T/agent.err" && ok "... and says why" || { notok "... and says why"; cat "$T/agent.err" >&2; }
as "$al" status "$dep" > "$T/status"
grep -qE "^$dep +n1 +os:1 +ready$" "$T/status" && grep -qE '^ +written +[0-9]{2}:[0-9]{2}:[0-9]{2} ' "$T/status" &&
    ok "pipol status ID: state and times" || { notok "pipol status ID: state and times"; cat "$T/status" >&2; }

# pipol deploy --wait follows to the end (alice's reservation still holds n1)
as "$al" deploy -n n1 -i os:1 --wait --timeout 2m > "$T/wait.out" 2>&1 &
wp=$!
for _ in $(seq 100); do t3=$(token_of 52:54:00:00:02:01); [ -n "$t3" ] && break; sleep 0.1; done
equal "a second deploy reuses alice's running reservation" "$(sql 'select count(distinct reservation_id) from deployments')" 1
cmdline "$t3" "$T/cmdline"
"$A" --cmdline "$T/cmdline" --target "$T/t1" 2>/dev/null
curl -s -H "Authorization: Bearer $t3" -d '{"state":"ready"}' "$U/agent/result" > /dev/null
wait "$wp"; rc=$?
equal "deploy --wait: exit 0 once ready" $rc 0
grep -q "^n1 *ready" "$T/wait.out" && ok "deploy --wait: says ready" || { notok "deploy --wait: says ready"; cat "$T/wait.out" >&2; }

# capture in node mode: the node's disk into a new draft, through the
# same boot script and a capture token that opens that image only
expect_fail 4 "admins only" as "$al" capture -n n2 -i snap
as "$adm" capture -n n2 -i snap > "$T/cap.out"
cid=$(grep -o 'capture [0-9]*' "$T/cap.out" | cut -d' ' -f2)
for _ in $(seq 100); do tc=$(token_of 52:54:00:00:02:02); [ -n "$tc" ] && break; sleep 0.1; done
[ -n "$cid" ] && [ -n "$tc" ] && ok "pipol capture: a capture, a token at boot" || { notok "pipol capture: a capture, a token at boot"; cat "$T/cap.out" >&2; }
equal "a capture token opens no other image" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tc" \
    -H 'Content-Type: application/json' -d '{"codec":"gzip","hashes":[]}' "$U/api/capture/other/missing")" 401
curl -s -H "Authorization: Bearer $tc" "$U/agent/order" | grep -q '"kind" : "capture"' && ok "the order says capture" || notok "the order says capture"
cmdline "$tc" "$T/cmdline"
cp "$T/d" "$T/src"
"$A" --cmdline "$T/cmdline" --target "$T/src" 2> "$T/cap.err"; rc=$?
equal "node mode capture: exit 0" $rc 0
equal "the capture is ready, with its version" "$(sql "select state, image_version from deployments where id = $cid")" "ready|1"
equal "a draft snap:1" "$("$P" image list | awk '$1 == "snap" {print $2, $3}')" "1 draft"
"$A" deploy --base "$U" --image snap:1 --target "$T/back" 2>/dev/null
same "captured in node mode, deployed back: identical" "$T/d" "$T/back"
same "the source disk was only read" "$T/d" "$T/src"

# a corrupt chunk on the server: failed with the reason, never ready
mkdisk "$T/d2" 5000000
ls "$PIPOL_STATE/store/chunks" > "$T/before"
v=$("$P" image create bad --from "$T/d2") && "$P" image validate "$v" > /dev/null	# users deploy validated versions
ch=$(ls -S "$PIPOL_STATE/store/chunks" | grep -vxFf "$T/before" | head -1)
cp "$PIPOL_STATE/store/chunks/$ch" "$T/chunk.bak"
python3 - "$PIPOL_STATE/store/chunks/$ch" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[len(b) // 2] ^= 0xff
open(p, 'wb').write(bytes(b))
EOF
as "$al" deploy -n n1 -i "$v" --wait --timeout 2m > "$T/bad.out" 2>&1 &
wp=$!
for _ in $(seq 100); do t4=$(token_of 52:54:00:00:02:01); [ -n "$t4" ] && break; sleep 0.1; done
cmdline "$t4" "$T/cmdline"
"$A" --cmdline "$T/cmdline" --target "$T/t2" 2> "$T/agent.err"; rc=$?
equal "a corrupt chunk: the agent exits 3" $rc 3
wait "$wp"; rc=$?
equal "deploy --wait: exit 1 on a failed node" $rc 1
d4=$(sql "select max(id) from deployments")
equal "the deployment failed" "$(sql "select state from deployments where id = $d4")" failed
sql "select reason from deployments where id = $d4" | grep -q "chunk" && ok "the reason names the chunk" ||
    { notok "the reason names the chunk"; sql "select reason from deployments where id = $d4" >&2; }
script 52:54:00:00:02:01 | grep -q 'pipol.rescue=1' && ok "a failed node boots the rescue environment, not its disk" ||
    notok "a failed node boots the rescue environment, not its disk"
cp "$T/chunk.bak" "$PIPOL_STATE/store/chunks/$ch"

# kill -9 of pipold mid-deploy: the agent waits, the deploy finishes,
# every state recorded once
head -c $((24 << 20)) /dev/urandom > "$T/big"
vb=$("$P" image create big --from "$T/big" --chunk-size 1M) && "$P" image validate "$vb" > /dev/null
as "$al" deploy -n n1 -i "$vb" > /dev/null
d5=$(sql "select max(id) from deployments")
for _ in $(seq 100); do t5=$(token_of 52:54:00:00:02:01); [ -n "$t5" ] && break; sleep 0.1; done
cmdline "$t5" "$T/cmdline"
"$A" --cmdline "$T/cmdline" --target "$T/t3" --max-rate 4M --connections 2 --timeout 60 2> "$T/agent5.err" &
ap=$!
for _ in $(seq 200); do
	[ "$(sql "select bytes_written > 0 from deployments where id = $d5")" = t ] && break; sleep 0.1
done
equal "mid-deploy: writing" "$(sql "select state from deployments where id = $d5")" writing
kill -9 "$DPID"; wait "$DPID" 2>/dev/null; DPID=
sleep 2
kill -0 "$ap" 2>/dev/null && ok "the agent outlives pipold" || notok "the agent outlives pipold"
check "pipold restarts" start_pipold
wait "$ap"; rc=$?
equal "the deploy finishes: exit 0" $rc 0
same "... with the right bytes" "$T/big" "$T/t3"
equal "... recorded once" "$(sql "select string_agg(state, ' ' order by at) from deployment_transitions where deployment_id = $d5")" \
    "pending booting fetching writing rebooting"
equal "... with its bytes" "$(sql "select bytes_written from deployments where id = $d5")" $((24 << 20))

# the admin kernel-testing mode: what a node boots when not deployed
as "$adm" node boot n2 kernel --kernel http://k.example/vmlinuz-6.12 \
    --initrd http://k.example/initrd-6.12 --cmdline "console=ttyS0 quiet" > /dev/null
script 52:54:00:00:02:02 | grep -qx 'kernel http://k.example/vmlinuz-6.12 initrd=initrd.img console=ttyS0 quiet || goto failed' &&
    ok "kernel mode: the kernel under test" || { notok "kernel mode: the kernel under test"; script 52:54:00:00:02:02 >&2; }
expect_fail 4 "admins only" as "$al" node boot n2 local
expect_fail 2 "kernel mode: \"kernel\" and \"initrd\" are http(s) URLs" \
    as "$adm" node boot n2 kernel --kernel http://k/v --initrd http://k/i --cmdline 'a;reboot'
expect_fail 2 "kernel mode, and only it, takes --kernel and --initrd" as "$adm" node boot n2 kernel
expect_fail 6 "node n9: no such node" as "$adm" node boot n9 rescue
as "$adm" node boot n2 local > /dev/null
script 52:54:00:00:02:02 | grep -q '^sanboot' && ok "back to the local disk" || notok "back to the local disk"

# the end of a reservation: what is in flight under it fails, by
# release at once, by expiry within pipold's reaper tick
r7=$(as "$bo" reserve --nodes n3 --for 1h -q)
as "$bo" deploy -n n3 -i os:1 > /dev/null
d7=$(sql "select max(id) from deployments")
as "$bo" release "$r7" > /dev/null
equal "released under a deployment: it fails, saying why" "$(sql "select state, reason from deployments where id = $d7")" \
    "failed|reservation $r7 released"
r8=$(as "$bo" reserve --nodes n3 --for 1h -q)
as "$bo" deploy -n n3 -i os:1 > /dev/null
d8=$(sql "select max(id) from deployments")
sql "update reservations set during = tstzrange(lower(during) - interval '2 hours', now() - interval '1 second') where id = $r8;
     update reservation_nodes set during = tstzrange(lower(during) - interval '2 hours', now() - interval '1 second') where reservation_id = $r8" > /dev/null
for _ in $(seq 150); do [ "$(sql "select state from reservations where id = $r8")" = expired ] && break; sleep 0.1; done
equal "a reservation past its end expires" "$(sql "select state from reservations where id = $r8")" expired
equal "... and its deployment in flight fails" "$(sql "select state, reason from deployments where id = $d8")" \
    "failed|reservation $r8 ended"
equal "... once" "$(sql "select count(*) from events where kind = 'reservation.expire' and detail->>'id' = '$r8'")" 1

# a PostgreSQL restart under a running pipold: the next request works
# (several requests at once first: the pool then holds several idle
# connections, all of which the restart kills)
pids=()
for _ in 1 2 3 4 5 6; do as "$al" reservations > /dev/null & pids+=($!); done
wait "${pids[@]}"
runuser -u postgres -- /usr/lib/postgresql/*/bin/pg_ctl -D "$T/state/pg/data" -m fast -w restart > /dev/null 2>&1
equal "after a PostgreSQL restart: the first request answers" "$(as "$al" whoami 2>&1)" alice
as "$al" reservations > /dev/null && ok "... and the next" || notok "... and the next"
curl -sf "$U/health" > /dev/null && ok "pipold still answers" || notok "pipold still answers"
stop_pipold
