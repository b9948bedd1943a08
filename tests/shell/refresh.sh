#!/bin/bash
# refresh: pipol image refresh and pipol image history against a real
# pipold, without QEMU. The node is played: its job run's order, ready
# and result with curl, as in jobs.sh; the run's command (update then
# test) is really run here, on the node's disk (a file), as the job
# hook would run it; the capture is the real pipol-agent in node mode
# on that file. Checked: a refresh whose test passes makes a validated,
# promoted version holding the update, only the changed chunk new (the
# figure recorded); a failing test, a failing update, a lost run keep
# the old current with the reason, in history; the steps and their
# durations; a pipold restart mid-refresh; one refresh per image; the
# weekly schedule fires; the trust rules, each tried: admins only, bounded
# commands, a refresh's run is root but a user's job never is.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"

MAC=52:54:00:00:18:01
wait_sql() { for _ in $(seq 600); do [ "$(sql "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
boot_token() {	# MAC: the deployment kernel's token, once armed
	local t
	for _ in $(seq 300); do
		t=$(curl -s "$U/boot/$1" | grep -o 'pipol\.token=[0-9a-f]*' | cut -d= -f2)
		[ -n "$t" ] && { echo "$t"; return 0; }
		sleep 0.1
	done
	return 1
}
# agent TOKEN PATH [BODY]: the agent's call, its status
agent() { curl -s -o "$T/agent.out" -w '%{http_code}' -H "Authorization: Bearer $1" ${3+-d "$3"} "$U$2"; }
# hook TOKEN METHOD PATH [curl args]: the job hook's call, its status
hook() {
	local t=$1 m=$2 p=$3
	shift 3
	curl -s -o "$T/hook.out" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $t" "$@" "$U$p"
}
rstate() { sql "select state from refreshes where id = $1"; }
# node_up ID: refresh ID's node deployed (order, rebooting, ready); the
# run's job token in $JT, the order in $T/order
node_up() {
	local bt
	wait_sql "select jr.state from job_runs jr join refreshes f on f.job_id = jr.job_id where f.id = $1" deploying ||
	    return 1
	bt=$(boot_token $MAC) || return 1
	agent "$bt" /agent/order > /dev/null
	cp "$T/agent.out" "$T/order"
	JT=$(jq -r '.job.token // empty' "$T/order")
	[ "$(agent "$bt" /agent/result '{"state":"rebooting"}')" = 200 ] &&
	    [ "$(agent "$bt" /agent/result '{"state":"ready"}')" = 200 ]
}
# node_run: the job hook's part: the command fetched and run here, in
# $T/node, with DISK naming the node's disk; its status posted
node_run() {
	local args=() l a st
	[ "$(hook "$JT" GET /job/argv)" = 200 ] || return 1
	while IFS= read -r l; do a=$(printf '%bx' "$l"); args+=("${a%x}"); done < "$T/hook.out"
	printf '%s\n' "${args[@]}" > "$T/argv"
	(cd "$T/node" && DISK=$T/disk "${args[@]}" > "$T/run.out" 2>&1); st=$?
	echo "$st" > "$T/run.status"
	[ "$(hook "$JT" POST /job/result -d "{\"status\":$st,\"seconds\":3}")" = 200 ]
}

check "pipold starts" start_pipold
adm=$(new_user root --admin) al=$(new_user alice)
as "$adm" node add n1 --mac $MAC --profile virtual > /dev/null
mkdisk "$T/d" 41943041		# 11 chunks of 4 MiB
"$P" image create os --from "$T/d" > /dev/null && "$P" image validate os:1 > /dev/null &&
    "$P" image promote os:1 > /dev/null
"$P" image create draft --from "$T/d" > /dev/null
mkdir -p "$T/node"
# a site post-install script: a refresh's order carries none
printf '#!/bin/sh\necho site\n' > "$T/10-site"
as "$adm" script add "$T/10-site" --postinstall > /dev/null
# the "package" update: version 2.0 of a probe file written into the
# disk's chunk 2 (offset 9 MiB), as a new package version would be
UPD='printf "pipol-refresh-probe 2.0\n" | dd of="$DISK" bs=1M seek=9 conv=notrunc status=none'
TST='dd if="$DISK" bs=1M skip=9 count=1 status=none | head -c 24 | grep -qx "pipol-refresh-probe 2.0"'

# trust: admins only; bounded, well-formed requests
expect_fail 4 "$U: admins only" as "$al" image refresh os
equal "a user: POST refresh 403" "$(api "$al" POST /api/images/os/refresh '{}')" 403
equal "a user: GET history 403" "$(api "$al" GET /api/images/os/history)" 403
equal "no token: 401" "$(api "" GET /api/images/os/history)" 401
equal "an empty test command: 400" "$(api "$adm" POST /api/images/os/refresh '{"test":""}')" 400
equal "a 4097-byte test command: 400" "$(api "$adm" POST /api/images/os/refresh \
    "{\"test\":\"$(head -c 4097 /dev/zero | tr '\0' x)\"}")" 400
equal "a NUL in the update command: 400" "$(api "$adm" POST /api/images/os/refresh '{"update":"a\u0000b"}')" 400
equal "schedule daily: 400" "$(api "$adm" POST /api/images/os/refresh '{"schedule":"daily"}')" 400
equal "promote \"yes\": 400" "$(api "$adm" POST /api/images/os/refresh '{"promote":"yes"}')" 400
equal "an unknown field: 400" "$(api "$adm" POST /api/images/os/refresh '{"reboot":true}')" 400
expect_fail 2 "--schedule daily: only weekly" as "$adm" image refresh os --schedule daily
expect_fail 6 "$U: image draft: no current version to refresh" as "$adm" image refresh draft
expect_fail 6 "no such image" as "$adm" image refresh nosuch
equal "nothing recorded by the refusals" "$(sql "select count(*) from refreshes") $(sql "select count(*) from jobs")" "0 0"

# 1. the test passes: a new version, validated and promoted
out=$(as "$adm" image refresh os --update "$UPD" --test "$TST" --promote); rc=$?
equal "refresh: exit 0, its line" "$rc $out" "0 refresh 1: os:1"
equal "recorded: running, deploy, from version 1" "$(sql "select state, step, from_version, promote from refreshes where id = 1")" "running|deploy|1|t"
equal "a second refresh of os meanwhile: 409" "$(api "$adm" POST /api/images/os/refresh '{}')" 409
check "the node deploys os:1" node_up 1
equal "... the run's order: root, a reboot, a job token" "$(jq -r '[.job.root, .job.reboot, (.job.token | length), .image.name, .image.version] | join(" ")' "$T/order")" "true true 64 os 1"
equal "... bare: no user, uid, keys, NFS home, hostname, script" \
    "$(jq -c '[has("user"), has("uid"), has("ssh_keys"), has("nfs_home"), has("hostname"), .scripts]' "$T/order")" \
    '[false,false,false,false,false,[]]'
cp "$T/d" "$T/disk"	# what the deployment wrote
check "the node runs update then test" node_run
equal "... the command: sh -c, the update, then the test, as words" "$(sed -n '1p;4p;5p;6p' "$T/argv" | tr '\n' '|')" "/bin/sh|pipol-refresh|$UPD|$TST|"
equal "... exit 0 here" "$(cat "$T/run.status")" 0
# the hook's two phases around its reboot (schema 023): each runs its
# own command only, a failed update says 200
phase() { (cd "$T/node" && DISK=$T/ph PIPOL_JOB_PHASE=$1 "${args[@]}" > "$T/ph.out" 2>&1); echo $?; }
mapfile -t args < "$T/argv"
: > "$T/ph"; dd if=/dev/zero of="$T/ph" bs=1M count=10 status=none
equal "... phase test before the update: the test alone, fails" "$(phase test)" 1
equal "... phase update: exit 0, the update alone" "$(phase update) $(grep -c pipol-refresh-probe "$T/ph")" "0 1"
equal "... phase test after it: passes" "$(phase test)" 0
rm -f "$T/ph"; mkdir "$T/ph"
equal "... phase update failing: 200" "$(phase update)" 200
wait_sql "select step from refreshes where id = 1 and capture_id is not null" capture && ok "update-test passed: a capture" ||
    { notok "update-test passed: a capture"; sql "select * from refreshes" >&2; tail "$T/pipold.log" >&2; }
equal "... of n1 into os, under the run's reservation" "$(sql "select d.kind, d.image_name, n.name, d.reservation_id = jr.reservation_id from refreshes f join deployments d on d.id = f.capture_id join nodes n on n.id = d.node_id join job_runs jr on jr.job_id = f.job_id where f.id = 1")" "capture|os|n1|t"
printf 'BOOT_IMAGE=vmlinuz pipol.server=%s pipol.token=%s\n' "$U" "$(boot_token $MAC)" > "$T/cmdline"
"$A" --cmdline "$T/cmdline" --target "$T/disk" 2> "$T/agent.err"; rc=$?
equal "the agent captures the node's disk: exit 0" $rc 0
wait_sql "select state from refreshes where id = 1" promoted && ok "refresh 1: promoted" ||
    { notok "refresh 1: promoted"; sql "select * from refreshes" >&2; sql "select * from refresh_steps" >&2; tail "$T/pipold.log" >&2; }
"$P" image show os > "$T/show"
equal "os:2 is current, validated" "$(grep -E '^(image|state):' "$T/show" | tr -s ' ' | tr '\n' '|')" "image: os:2|state: current (validated)|"
"$A" deploy --base "$U" --image os:2 --target "$T/back" 2>/dev/null
equal "os:2 holds the update (2.0)" "$(dd if="$T/back" bs=1M skip=9 count=1 status=none | head -c 23)" "pipol-refresh-probe 2.0"
grep '^shared:' "$T/show" >&2
equal "the figure: 10 of 11 chunks shared with os:1" "$(sql "select to_version, shared_chunks, chunks from refreshes where id = 1")" "2|10|11"
equal "every step ok, in order" "$(sql "select string_agg(step || ':' || outcome, ' ' order by started, step = 'promote') from refresh_steps where refresh_id = 1")" \
    "deploy:ok update-test:ok capture:ok validate:ok promote:ok"
equal "each step has its start and end" "$(sql "select count(*) from refresh_steps where refresh_id = 1 and ended >= started")" 5
equal "the reservation released" "$(sql "select r.state from reservations r join job_runs jr on jr.reservation_id = r.id join refreshes f on f.job_id = jr.job_id where f.id = 1")" released
grep -q "refresh 1: os:2 promoted, 10 of 11 chunks shared with os:1" "$T/pipold.log" && ok "pipold logs the figure" ||
    notok "pipold logs the figure"

# 2. the test fails: the old current kept, with the reason; across a
# pipold restart
out=$(as "$adm" image refresh os --update "$UPD" --test 'exit 1')
equal "refresh 2 from os:2" "$out" "refresh 2: os:2"
check "the node deploys os:2" node_up 2
stop_pipold
check "pipold starts again" start_pipold
cp "$T/back" "$T/disk"
check "the node runs update then test" node_run
wait_sql "select state from refreshes where id = 2" kept && ok "refresh 2: kept" ||
    { notok "refresh 2: kept"; sql "select * from refreshes" >&2; tail "$T/pipold.log" >&2; }
equal "... the reason" "$(sql "select reason from refreshes where id = 2")" "the test command exited 1; version 2 stays current"
equal "... no capture, no new version" "$(sql "select capture_id is null, to_version is null from refreshes where id = 2") $("$P" image list | grep -c '^os ')" "t|t 2"
equal "... os:2 still current" "$("$P" image show os | grep '^image:' | tr -s ' ')" "image: os:2"
equal "... steps" "$(sql "select string_agg(step || ':' || outcome, ' ' order by started) from refresh_steps where refresh_id = 2")" "deploy:ok update-test:failed"

# 3. the update fails: kept, the reason names the update
as "$adm" image refresh os --update 'exit 3' --test true --wait > "$T/wait.out" 2>&1 &
WPID=$!
check "the node deploys" node_up 3
check "the node runs update then test" node_run
equal "... the wrapper says 200" "$(cat "$T/run.status")" 200
wait_sql "select reason from refreshes where id = 3" "the update command failed; version 2 stays current" &&
    ok "refresh 3: kept, the update named" || notok "refresh 3: kept, the update named"
wait "$WPID"; rc=$?
equal "--wait: exit 1 (kept), the end's line" "$rc $(tail -1 "$T/wait.out")" \
    "1 refresh 3: os kept: the update command failed; version 2 stays current"

# history: both CLI and API
as "$adm" image history os > "$T/hist"; rc=$?
equal "history: exit 0" $rc 0
grep -qE '^1 +1 +2 +promoted .* 10/11 *$' "$T/hist" && ok "history: refresh 1 promoted, 10/11 shared" ||
    { notok "history: refresh 1 promoted, 10/11 shared"; cat "$T/hist" >&2; }
grep -qE '^ +validate +ok +[0-9]+ s  packages: 0 newer, 0 the same$' "$T/hist" &&
    ok "history: the packages compared (none on this disk)" || { notok "history: the packages compared"; cat "$T/hist" >&2; }
grep -qE '^2 +2 +- +kept .*the test command exited 1; version 2 stays current$' "$T/hist" &&
    ok "history: refresh 2 kept and why" || { notok "history: refresh 2 kept and why"; cat "$T/hist" >&2; }
grep -qE '^ +update-test +failed +[0-9]+ s +the test command exited 1$' "$T/hist" &&
    ok "history: the failed step, its duration and reason" || { notok "history: the failed step, its duration and reason"; cat "$T/hist" >&2; }
equal "history API: 200" "$(api "$adm" GET /api/images/os/history)" 200
equal "... newest first" "$(jq -r '[.refreshes[].id] | join(" ")' "$T/api.out")" "3 2 1"
expect_fail 4 "$U: admins only" as "$al" image history os

# 4. a user's job is never root, even on an image being refreshed
j=$(as "$al" sub -n 1 -i os -q -- true)
wait_sql "select state from job_runs where job_id = $j" deploying
agent "$(boot_token $MAC)" /agent/order > /dev/null
equal "a user's job order: no root" "$(jq -r '.job.root // "none"' "$T/agent.out") $(jq -r '.job.token | length' "$T/agent.out")" "none 64"
as "$al" job cancel "$j" > /dev/null

# 5. --schedule weekly: recorded; due after a week, it fires
as "$adm" image refresh os --schedule weekly --test true > /dev/null
equal "the schedule" "$(sql "select every, test_cmd, promote from refresh_schedules where image = 'os'")" "weekly|true|f"
as "$adm" image history os | grep -qx 'schedule: weekly' && ok "history shows the schedule" || notok "history shows the schedule"
sql "select refresh_end(id, 'failed', 'test: stopped') from refreshes where state = 'running'" > /dev/null
equal "not due yet: nothing fires" "$(sleep 3; sql "select count(*) from refreshes where scheduled")" 0
sql "update refresh_schedules set last_at = now() - interval '8 days'" > /dev/null
wait_sql "select count(*) from refreshes where scheduled and state = 'running'" 1 && ok "due: a scheduled refresh" ||
    { notok "due: a scheduled refresh"; tail "$T/pipold.log" >&2; }
equal "... its week starts again" "$(sql "select last_at > now() - interval '1 minute' from refresh_schedules")" t
stop_pipold
