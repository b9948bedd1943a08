#!/bin/bash
# kexec hand-over (schema 013, initrd/kexec.c) through pipold: on by
# default; pipol node set N --kexec on|off (admin only, bad values
# refused); pipol deploy --no-kexec; the order's "kexec" is both (a user
# cannot turn on what the node has off); POST /agent/phase handover:
# only once rebooting, only when kexec was on, only as the agent's
# token, once; the timeline and pipol status show it. The real agent in
# node mode against a file says why it does not jump, and exits 0.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"

check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice) bo=$(new_user bob)
as "$adm" node add n1 --mac 52:54:00:00:13:01 --profile virtual >/dev/null
as "$adm" node add n2 --mac 52:54:00:00:13:02 --profile pc-bios >/dev/null
mkdisk "$T/d" 3000001
"$P" image create os --from "$T/d" >/dev/null && "$P" image validate os:1 >/dev/null &&
    "$P" image promote os:1 >/dev/null
token_of() {	# token_of MAC: the token of the boot cycle pipold armed
	local t
	for _ in $(seq 100); do
		t=$(curl -s "$U/boot/$1" | grep -o 'pipol\.token=[0-9a-f]*' | cut -d= -f2)
		[ -n "$t" ] && { echo "$t"; return; }
		sleep 0.1
	done
}
dep_of() { grep -o 'deployment [0-9]*' "$1" | head -1 | cut -d' ' -f2; }
order_kexec() { api "$1" GET /agent/order > /dev/null; jq -r .kexec "$T/api.out"; }
handover() { api "$1" POST /agent/phase "${2:-{\"phase\":\"handover\",\"method\":\"kexec\"\}}"; }
phase_count() { sql "select count(*) from deployment_phases where deployment_id = $1 and phase = 'handover'"; }

# --- the node's setting
equal "node show: kexec on by default" "$(as "$adm" node show n1 | awk '$1 == "kexec" { print $2 }')" on
expect_fail 4 "admin" as "$al" node set n1 --kexec off
equal "... alice's refusal changed nothing" "$(sql "select kexec from nodes where name = 'n1'")" t
expect_fail 2 "--kexec maybe: on or off" as "$adm" node set n1 --kexec maybe
expect_fail 2 "--kexec" as "$adm" node set n1 --kexec ''
equal "POST kexec \"yes\": 400" "$(api "$adm" POST /api/nodes/n1 '{"kexec":"yes"}')" 400
equal "POST kexec 1: 400" "$(api "$adm" POST /api/nodes/n1 '{"kexec":1}')" 400
equal "POST kexec null: 400" "$(api "$adm" POST /api/nodes/n1 '{"kexec":null}')" 400
equal "alice's POST: 403" "$(api "$al" POST /api/nodes/n1 '{"kexec":false}')" 403
expect_fail 6 "no such node" as "$adm" node set n9 --kexec off
equal "node set n1 --kexec off" "$(as "$adm" node set n1 --kexec off)" "n1: kexec off"
equal "... stored" "$(sql "select kexec from nodes where name = 'n1'")" f
equal "... node show: off (alice sees it too)" "$(as "$al" node show n1 | awk '$1 == "kexec" { print $2 }')" off
equal "--kexec on --wipe on together" "$(as "$adm" node set n2 --kexec on --wipe on)" "n2: wipe on
n2: kexec on"
equal "... both stored, the power kept" "$(sql "select kexec, wipe, power_driver from nodes where name = 'n2'")" "t|t|manual"
as "$adm" node set n2 --wipe off > /dev/null
equal "... --kexec with --bootenv" "$(as "$adm" node set n2 --kexec on --bootenv cloud | tr '\n' ' ')" \
    "n2: deployment environment cloud n2: kexec on "

# --- the deployment's setting and the order
expect_fail 2 "no-kexec" as "$al" deploy -n n2 -i os --no-kexec=yes
equal "POST /api/deployments kexec \"no\": 400" \
    "$(api "$al" POST /api/deployments '{"nodes":["n2"],"image":"os","kexec":"no"}')" 400
as "$al" deploy -n n2 -i os > "$T/d1.out"
d1=$(dep_of "$T/d1.out") t1=$(token_of 52:54:00:00:13:02)
[ -n "$d1" ] && [ -n "$t1" ] && ok "a deployment on n2, its token" || { notok "a deployment on n2, its token"; cat "$T/d1.out" >&2; }
equal "the order: kexec true (node on, deployment default)" "$(order_kexec "$t1")" true
equal "... stored with the deployment" "$(sql "select kexec from deployments where id = $d1")" t

# the hand-over route, before the result: refused, nothing marked
equal "handover while fetching: 409" "$(handover "$t1")" 409
equal "... no handover phase" "$(phase_count "$d1")" 0
equal "result rebooting" "$(api "$t1" POST /agent/result '{"state":"rebooting"}')" 200
equal "handover by \"reboot\": 400" "$(handover "$t1" '{"phase":"handover","method":"reboot"}')" 400
equal "handover with no method: 400" "$(handover "$t1" '{"phase":"handover"}')" 400
equal "handover with a token field too: 400" \
    "$(handover "$t1" '{"phase":"handover","method":"kexec","token":"00"}')" 400
equal "handover as alice's API token: 401" "$(handover "$al")" 401
equal "handover as no one: 401" "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary '{"phase":"handover","method":"kexec"}' "$U/agent/phase")" 401
equal "... none of them marked it" "$(phase_count "$d1")" 0
equal "handover by the agent, rebooting: 200" "$(handover "$t1")" 200
equal "... the answer" "$(jq -c . "$T/api.out")" '{"phase":"handover","method":"kexec"}'
equal "... the phase and the method" "$(phase_count "$d1") $(sql "select handover from deployments where id = $d1")" "1 kexec"
h=$(sql "select at from deployment_phases where deployment_id = $d1 and phase = 'handover'")
sleep 0.1
equal "sent again: 200" "$(handover "$t1")" 200
equal "... the first time kept" "$(sql "select at from deployment_phases where deployment_id = $d1 and phase = 'handover'")" "$h"
equal "ready" "$(api "$t1" POST /agent/result '{"state":"ready"}')" 200
equal "once ready the token opens nothing: 401" "$(handover "$t1")" 401
as "$al" status "$d1" > "$T/status"
grep -q "^  handover .*  by kexec$" "$T/status" && ok "pipol status: handover by kexec" ||
    { notok "pipol status: handover by kexec"; cat "$T/status" >&2; }
as "$al" status --json "$d1" > "$T/status.json"
equal "pipol status --json: kexec, handover" "$(jq -r '.deployments[0] | "\(.kexec) \(.handover)"' "$T/status.json")" "true kexec"

# --no-kexec: the order says false, the route refuses, nothing marked
as "$al" deploy -n n2 -i os --no-kexec > "$T/d2.out"
d2=$(dep_of "$T/d2.out") t2=$(token_of 52:54:00:00:13:02)
equal "--no-kexec: the order's kexec false" "$(order_kexec "$t2")" false
equal "... stored with the deployment" "$(sql "select kexec from deployments where id = $d2")" f
api "$t2" POST /agent/result '{"state":"rebooting"}' > /dev/null
equal "... its agent's handover: 409" "$(handover "$t2")" 409
equal "... nothing marked" "$(phase_count "$d2") $(sql "select coalesce(handover, '-') from deployments where id = $d2")" "0 -"
api "$t2" POST /agent/result '{"state":"ready"}' > /dev/null
as "$al" status --json "$d2" > "$T/status.json"
equal "... pipol status --json: kexec false, no handover" \
    "$(jq -r '.deployments[0] | "\(.kexec) \(.handover)"' "$T/status.json")" "false null"

# the node's off wins over a request that asks for it
equal "a request with kexec true onto n1 (off): 201" \
    "$(api "$al" POST /api/deployments '{"nodes":["n1"],"image":"os","kexec":true}')" 201
d3=$(jq -r '.deployments[0].id' "$T/api.out") rid1=$(jq -r .reservation "$T/api.out") t3=$(token_of 52:54:00:00:13:01)
equal "... the order's kexec false" "$(order_kexec "$t3")" false
equal "... the deployment's own: true" "$(sql "select kexec from deployments where id = $d3")" t
api "$t3" POST /agent/result '{"state":"rebooting"}' > /dev/null
equal "... its agent's handover: 409" "$(handover "$t3")" 409
api "$t3" POST /agent/result '{"state":"ready"}' > /dev/null

# the real agent in node mode, a file for its disk: no jump, and why
printf 'BOOT_IMAGE=vmlinuz pipol.server=%s pipol.token=%s\n' "$U" "$(as "$al" deploy -n n2 -i os > /dev/null; token_of 52:54:00:00:13:02)" > "$T/cmdline"
"$A" --cmdline "$T/cmdline" --target "$T/t4" 2> "$T/agent.err"; rc=$?
equal "node mode, kexec on, no root partition: exit 0" $rc 0
grep -q "kexec: not used (the image names no root partition" "$T/agent.err" &&
    ok "... the agent says why it reboots" || { notok "... the agent says why it reboots"; cat "$T/agent.err" >&2; }
"$P" image create os2 --from "$T/d" --meta root=2 > /dev/null && "$P" image validate os2:1 > /dev/null &&
    "$P" image promote os2:1 > /dev/null
api "$(grep -o 'pipol.token=[0-9a-f]*' "$T/cmdline" | cut -d= -f2)" POST /agent/result '{"state":"ready"}' > /dev/null
rid2=$(grep -o '(reservation [0-9]*)' "$T/d1.out" | tr -dc 0-9)	# alice's: n2
bare() {	# bare NODE MAC RESERVATION: an admin's bare deployment, run
	as "$adm" deploy -n "$1" -i os2:1 --bare --reservation "$3" > /dev/null
	printf 'BOOT_IMAGE=vmlinuz pipol.server=%s pipol.token=%s\n' "$U" "$(token_of "$2")" > "$T/cmdline"
	"$A" --cmdline "$T/cmdline" --target "$T/t-$1" 2> "$T/agent.err"
}
bare n1 52:54:00:00:13:01 "$rid1"; rc=$?
equal "node mode, n1 off, bare: exit 0" $rc 0
grep -q "kexec: not used (off for this node or deployment)" "$T/agent.err" &&
    ok "... the agent says kexec is off" || { notok "... the agent says kexec is off"; cat "$T/agent.err" >&2; }
bare n2 52:54:00:00:13:02 "$rid2"; rc=$?
equal "node mode, n2 on, bare: exit 0" $rc 0
grep -q "kexec: not used (a bare deployment" "$T/agent.err" &&
    ok "... the agent says a bare deployment has no kernel looked for" ||
    { notok "... the agent says a bare deployment has no kernel looked for"; cat "$T/agent.err" >&2; }
stop_pipold
