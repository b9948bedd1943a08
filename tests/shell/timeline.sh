#!/bin/bash
# The timeline of a deployment (schema 011): a deployment played
# through by the real agent in node mode against a file target records
# every phase once, in order, at times that never go back; what is sent
# again records nothing new; a hand-over asked from an address other
# than the node's is not the node's; a failed deployment records
# failed, by the agent or by the reaper; another user sees none of it;
# pipol status ID prints it, --json too.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
export TZ=UTC

check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice) bo=$(new_user bob)
as "$adm" node add n1 --mac 52:54:00:00:11:01 --profile virtual >/dev/null
as "$adm" node add n2 --mac 52:54:00:00:11:02 --profile pc-bios >/dev/null
mkdisk "$T/d" 9000001
"$P" image create os --from "$T/d" >/dev/null && "$P" image validate os:1 >/dev/null &&
    "$P" image promote os:1 >/dev/null
script() { curl -s "$U/boot/$1"; }
token_of() {	# token_of MAC: the token of the boot cycle pipold armed
	local t
	for _ in $(seq 100); do
		t=$(script "$1" | grep -o 'pipol\.token=[0-9a-f]*' | cut -d= -f2)
		[ -n "$t" ] && { echo "$t"; return; }
		sleep 0.1
	done
}
cmdline() { printf 'BOOT_IMAGE=vmlinuz pipol.server=%s pipol.token=%s quiet\n' "$U" "$1" > "$2"; }
phases() { sql "select string_agg(phase, ' ' order by phase_rank(phase)) from deployment_phases where deployment_id = $1"; }
at() { sql "select at from deployment_phases where deployment_id = $1 and phase = '$2'"; }
# near DEP PHASE STATE: the phase recorded with the move to the state
# (in its transaction: within 50 ms)
near() { sql "select abs(extract(epoch from p.at - t.at)) < 0.05 from deployment_phases p, deployment_transitions t where p.deployment_id = $1 and t.deployment_id = $1 and p.phase = '$2' and t.state = '$3'"; }
# the phases' times never go back, in the phases' order
monotonic() { sql "select coalesce(bool_and(at >= prev), true) from (select at, lag(at) over (order by phase_rank(phase)) prev from deployment_phases where deployment_id = $1) s"; }

# a whole deployment: the manual driver's power cycle, the boot script,
# the real agent (order, writing, result), the node's disk boot, ready
as "$al" deploy -n n1 -i os > "$T/dep.out"
dep=$(grep -o 'deployment [0-9]*' "$T/dep.out" | cut -d' ' -f2)
t1=$(token_of 52:54:00:00:11:01)
[ -n "$dep" ] && [ -n "$t1" ] && ok "a deployment, its token" || { notok "a deployment, its token"; cat "$T/dep.out" >&2; }
equal "created, power cycled, its boot script" "$(phases "$dep")" "created power_on boot_script"
cmdline "$t1" "$T/cmdline"
"$A" --cmdline "$T/cmdline" --target "$T/t1" 2> "$T/agent.err"; rc=$?
equal "node mode: exit 0" $rc 0
same "node mode: the disk written" "$T/d" "$T/t1"
equal "the agent's phases" "$(phases "$dep")" \
    "created power_on boot_script agent_started written postinstall_done"
equal "agent_started: when the order was read (fetching)" "$(near "$dep" agent_started fetching)" t
equal "handover not before the node boots its disk" "$(sql "select count(*) from deployment_phases where deployment_id = $dep and phase = 'handover'")" 0
script 52:54:00:00:11:01 | grep -q '^chain\|^sanboot\|^exit' && ok "rebooting: the node's disk" || notok "rebooting: the node's disk"
h=$(at "$dep" handover)
[ -n "$h" ] && ok "the disk's boot script: handover" || notok "the disk's boot script: handover"
# sent again: nothing recorded twice, no time moves
p=$(at "$dep" postinstall_done)
sleep 0.2
script 52:54:00:00:11:01 > /dev/null
equal "a second disk boot: the first handover kept" "$(at "$dep" handover)" "$h"
equal "rebooting sent again: 200" "$(api "$t1" POST /agent/result '{"state":"rebooting"}')" 200
equal "... postinstall_done kept" "$(at "$dep" postinstall_done)" "$p"
equal "ready" "$(api "$t1" POST /agent/result '{"state":"ready"}')" 200
equal "every phase, in order" "$(phases "$dep")" \
    "created power_on boot_script agent_started written postinstall_done handover ready"
equal "... each once" "$(sql "select count(*) - count(distinct phase) from deployment_phases where deployment_id = $dep")" 0
equal "... times never go back" "$(monotonic "$dep")" t
equal "created: the deployment's own time" "$(at "$dep" created)" "$(sql "select created from deployments where id = $dep")"

# the API: the phases in order with their times, to the owner only
equal "GET /api/deployments?id: 200" "$(api "$al" GET "/api/deployments?id=$dep")" 200
equal "... the phases in order" "$(jq -r '.deployments[0].phases | map(.phase) | join(" ")' "$T/api.out")" \
    "created power_on boot_script agent_started written postinstall_done handover ready"
equal "... each with its time" "$(jq '[.deployments[0].phases[] | select(.t == null or .at == null)] | length' "$T/api.out")" 0
equal "another user's: 404" "$(api "$bo" GET "/api/deployments?id=$dep")" 404
grep -q '"phases"\|created' "$T/api.out" && notok "... and none of its timeline" || ok "... and none of its timeline"
api "$bo" GET /api/deployments > /dev/null
equal "another user's list: without it" "$(jq '.deployments | length' "$T/api.out")" 0
expect_fail 6 "no such deployment of yours" as "$bo" status "$dep"
api "$adm" GET "/api/deployments?id=$dep" > /dev/null
equal "an admin sees it" "$(jq '.deployments[0].phases | length' "$T/api.out")" 8

# pipol status ID: a line per phase, clock time, since the last, since created
as "$al" status "$dep" > "$T/status"
grep -qE "^$dep +n1 +os:1 +ready$" "$T/status" && ok "pipol status ID: the deployment" ||
    { notok "pipol status ID: the deployment"; cat "$T/status" >&2; }
equal "pipol status ID: a line per phase, in order" "$(awk 'NR > 2 {print $1}' "$T/status" | paste -sd' ')" \
    "created power_on boot_script agent_started written postinstall_done handover ready"
equal "... created: its clock time" "$(sed -n 3p "$T/status")" \
    "  created            $(sql "select to_char(created at time zone 'UTC', 'HH24:MI:SS') from deployments where id = $dep")"
line=$(grep '^  written ' "$T/status")
[[ $line =~ ^\ \ written\ +[0-9]{2}:[0-9]{2}:[0-9]{2}\ +\+[0-9]+\.[0-9]\ s\ +\([0-9]+\.[0-9]\ s\)$ ]] &&
    ok "... written: clock, +since the last, (since created)" || { notok "... written: clock, +since the last, (since created)"; cat "$T/status" >&2; }
want=$(sql "select to_char(round(extract(epoch from (w.at - c.at))::numeric, 1), 'FM9990.0') from deployment_phases w, deployment_phases c where w.deployment_id = $dep and c.deployment_id = $dep and w.phase = 'ready' and c.phase = 'created'")
equal "... ready: the time since created" "$(grep '^  ready ' "$T/status" | grep -o '([0-9.]* s)')" "($want s)"
as "$al" status --json "$dep" > "$T/status.json"
equal "pipol status --json: the phases" "$(jq -r '.deployments[0].phases | map(.phase) | join(" ")' "$T/status.json")" \
    "created power_on boot_script agent_started written postinstall_done handover ready"
as "$al" status > "$T/list"
grep -q "^  created" "$T/list" && notok "pipol status (no ID): no timeline" || ok "pipol status (no ID): no timeline"

# through post-install: written when the disk is done (postinstall),
# postinstall_done when rebooting; a hand-over from another address
# than the node's leased one is not recorded
as "$al" deploy -n n2 -i os > /dev/null
d2=$(sql "select max(id) from deployments")
t2=$(token_of 52:54:00:00:11:02)
equal "order: 200" "$(api "$t2" GET /agent/order)" 200
api "$t2" POST /agent/progress '{"state":"writing"}' > /dev/null
equal "writing: not yet written" "$(phases "$d2")" "created power_on boot_script agent_started"
api "$t2" POST /agent/progress '{"state":"postinstall"}' > /dev/null
equal "postinstall: written" "$(phases "$d2")" "created power_on boot_script agent_started written"
equal "... at the move to postinstall" "$(near "$d2" written postinstall)" t
api "$t2" POST /agent/result '{"state":"rebooting"}' > /dev/null
sql "update nodes set ip = '192.0.2.7' where name = 'n2'" > /dev/null
script 52:54:00:00:11:02 > /dev/null
equal "a disk boot asked from another address: no handover" "$(phases "$d2")" \
    "created power_on boot_script agent_started written postinstall_done"
sql "update nodes set ip = '127.0.0.1' where name = 'n2'" > /dev/null
script 52:54:00:00:11:02 > /dev/null
equal "... from the node's address: handover" "$(phases "$d2")" \
    "created power_on boot_script agent_started written postinstall_done handover"
sql "update nodes set ip = null where name = 'n2'" > /dev/null
as "$al" status "$d2" > "$T/status2"
grep -qx '  ready              not reached' "$T/status2" && ok "pipol status: ready not reached yet" ||
    { notok "pipol status: ready not reached yet"; cat "$T/status2" >&2; }
grep -q '^  failed' "$T/status2" && notok "... failed not listed when not reached" || ok "... failed not listed when not reached"
api "$t2" POST /agent/result '{"state":"ready"}' > /dev/null

# failed: posted by the agent (the real one, a corrupt chunk)
cp -r "$PIPOL_STATE/store/chunks" "$T/chunks.bak"
for f in "$PIPOL_STATE"/store/chunks/*; do printf 'x' | dd of="$f" bs=1 seek=20 conv=notrunc status=none; done
as "$al" deploy -n n1 -i os > /dev/null
d3=$(sql "select max(id) from deployments")
t3=$(token_of 52:54:00:00:11:01)
cmdline "$t3" "$T/cmdline"
"$A" --cmdline "$T/cmdline" --target "$T/t3" --timeout 20 2> "$T/agent3.err"; rc=$?
rm -rf "$PIPOL_STATE/store/chunks" && cp -r "$T/chunks.bak" "$PIPOL_STATE/store/chunks"
[ $rc -ne 0 ] && ok "a corrupt image: the agent fails" || notok "a corrupt image: the agent fails"
equal "failed recorded, never written" "$(phases "$d3")" "created power_on boot_script agent_started failed"
equal "... times never go back" "$(monotonic "$d3")" t
as "$al" status "$d3" > "$T/status3"
grep -qE '^  failed +[0-9]{2}:[0-9]{2}:[0-9]{2} ' "$T/status3" && grep -qx '  written            not reached' "$T/status3" &&
    ok "pipol status: failed, and what it never reached" || { notok "pipol status: failed, and what it never reached"; cat "$T/status3" >&2; }

# failed by pipold: a release fails what is in flight under it
r=$(sql "select reservation_id from deployments where id = $d2")
as "$al" deploy -n n2 -i os --reservation "$r" > /dev/null
d4=$(sql "select max(id) from deployments")
as "$al" release "$r" > /dev/null
for _ in $(seq 150); do [ "$(sql "select state from deployments where id = $d4")" = failed ] && break; sleep 0.1; done
equal "a release: failed recorded" "$(sql "select count(*) from deployment_phases where deployment_id = $d4 and phase = 'failed'")" 1

# power_on also when the user power-cycles the node by hand (a deploy
# whose own cycle failed): pipol node power reset records it
as "$al" deploy -n n1 -i os > /dev/null
d5=$(sql "select max(id) from deployments")
for _ in $(seq 150); do [ -n "$(at "$d5" power_on)" ] && break; sleep 0.1; done
sql "delete from deployment_phases where deployment_id = $d5 and phase = 'power_on'" > /dev/null
equal "a deploy whose cycle is not recorded: created only" "$(phases "$d5")" created
as "$al" node power n1 reset > /dev/null
equal "pipol node power reset: power_on recorded" "$(phases "$d5")" "created power_on"

stop_pipold
