#!/bin/bash
# jobs: pipol sub and pipol job against a real pipold, without QEMU:
# the test plays each node's agent (order, ready) and its job hook
# (argv, source, outputs, result) with curl, as the hook would, with
# the job-run token the order carries. The state machine (waiting,
# deploying, running, exited; deploy_failed; the job done or failed,
# the reservation released), the outputs, fetch, the matrix and its
# JUnit XML, cancel, --wait's exit status; and the trust rules, each
# tried: another user sees and fetches nothing; the token opens only
# its own run, once, from its own address; the command's words reach
# it verbatim; uploads are bounded.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"

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
# hook TOKEN METHOD PATH [FILE] [curl args]: the job hook's call, its status
hook() {
	local t=$1 m=$2 p=$3 f=${4:-}
	shift 3; [ $# -gt 0 ] && shift
	curl -s -o "$T/hook.out" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $t" \
	    ${f:+--data-binary "@$f"} "$@" "$U$p"
}
# ready MAC: the node's agent fetches its order (the job token kept in
# $JT) and reports rebooting then ready
ready() {
	local bt
	bt=$(boot_token "$1") || return 1
	agent "$bt" /agent/order > /dev/null
	cp "$T/agent.out" "$T/order"
	JT=$(jq -r '.job.token // empty' "$T/order")
	[ "$(agent "$bt" /agent/result '{"state":"rebooting"}')" = 200 ] &&
	    [ "$(agent "$bt" /agent/result '{"state":"ready"}')" = 200 ]
}

check "pipold starts" start_pipold
adm=$(new_user root --admin) al=$(new_user alice) bo=$(new_user bob)
as "$adm" node add n1 --mac 52:54:00:00:16:01 --profile virtual > /dev/null
as "$adm" node add n2 --mac 52:54:00:00:16:02 --profile virtual > /dev/null
mkdisk "$T/d" 3000001
for i in os os2; do
	"$P" image create $i --from "$T/d" > /dev/null && "$P" image validate $i:1 > /dev/null &&
	    "$P" image promote $i:1 > /dev/null
done
mkdir -p "$T/src/sub"
echo 'int main(void) { return 0; }' > "$T/src/main.c"
echo nested > "$T/src/sub/file"

# a job: a source folder, words a shell would have read otherwise
cd "$T"
j1=$(as "$al" sub -n 1 -i os --dir "$T/src" --name build -q -- printf '%s|' 'a b' "it's" '; echo pwned' '$(id)' '`id`' '')
[ -n "$j1" ] && ok "pipol sub: a job id" || notok "pipol sub: a job id"
wait_sql "select state from job_runs where job_id = $j1" deploying && ok "placed, then deploying" ||
    { notok "placed, then deploying"; sql "select * from job_runs" >&2; tail "$T/pipold.log" >&2; }
equal "deployed as alice, on her reservation, image os" \
    "$(sql "select u.name || ' ' || d.image_name || ' ' || (d.reservation_id = jr.reservation_id) from job_runs jr join deployments d on d.id = jr.deployment_id join users u on u.id = d.user_id where jr.job_id = $j1")" "alice os true"
wait_sql "select state from jobs where id = $j1" running && ok "the job is running" ||
    notok "the job is running"
as "$al" job list | grep -qE "^$j1 +build +alice +running" && ok "job list: the job" || notok "job list: the job"
equal "bob does not list it" "$(as "$bo" job list | grep -c "^$j1 ")" 0

bt=$(boot_token 52:54:00:00:16:01)
equal "the order carries the run's job token" "$(agent "$bt" /agent/order; jq -r '.job.token | length' "$T/agent.out")" "20064"
JT=$(jq -r '.job.token' "$T/agent.out")
equal "... kept only as its SHA-256" "$(sql "select count(*) from job_runs where token_hash = decode('$(printf %s "$JT" | sha256sum | cut -c1-64)', 'hex')")" 1
equal "before ready: the command waits (409)" "$(hook "$JT" GET /job/argv)" 409
agent "$bt" /agent/result '{"state":"rebooting"}' > /dev/null
agent "$bt" /agent/result '{"state":"ready"}' > /dev/null
equal "another address: 401" "$(hook "$JT" GET /job/argv '' --interface 127.0.0.2)" 401
equal "a user's token opens no run: 401" "$(hook "$al" GET /job/argv)" 401
equal "the boot token opens no run: 401" "$(hook "$bt" GET /job/source)" 401
equal "the job token opens no user route: 401" "$(hook "$JT" GET /api/jobs)" 401
equal "ready: the command" "$(hook "$JT" GET /job/argv)" 200
args=()
while IFS= read -r l; do a=$(printf '%bx' "$l"); args+=("${a%x}"); done < "$T/hook.out"
equal "its words verbatim, no shell" "$(printf '<%s>' "${args[@]}")" "<printf><%s|><a b><it's><; echo pwned><\$(id)><\`id\`><>"
equal "the run is running" "$(sql "select state from job_runs where job_id = $j1")" running
equal "the source" "$(hook "$JT" GET /job/source)" 200
equal "... the folder's tarball" "$(tar -tzf "$T/hook.out" | sort | tr '\n' ' ')" "./ ./main.c ./sub/ ./sub/file "

# outputs, bounded, at their offsets
printf 'hello\n' > "$T/o1"; printf 'world\n' > "$T/o2"
equal "stdout, a piece" "$(hook "$JT" POST '/job/out/stdout?off=0' "$T/o1")" 200
equal "... sent again: taken once" "$(hook "$JT" POST '/job/out/stdout?off=0' "$T/o1")" 200
equal "... the next" "$(hook "$JT" POST '/job/out/stdout?off=6' "$T/o2")" 200
equal "... a gap: 409" "$(hook "$JT" POST '/job/out/stdout?off=40' "$T/o2")" 409
equal "... past 64 MiB: 409" "$(hook "$JT" POST "/job/out/stdout?off=$((64 << 20))" "$T/o2")" 409
head -c $(((8 << 20) + 1)) /dev/zero > "$T/big"
equal "... a piece over 8 MiB: 413" "$(hook "$JT" POST '/job/out/stderr?off=0' "$T/big")" 413
equal "... no such stream: 404" "$(hook "$JT" POST '/job/out/passwd?off=0' "$T/o1")" 404
equal "... no offset: 400" "$(hook "$JT" POST '/job/out/stdout' "$T/o1")" 400
mkdir -p "$T/res" && echo 42 > "$T/res/answer" && tar -C "$T/res" -czf "$T/res.tgz" .
# results in base64 (a system without curl: BusyBox's wget posts text only)
base64 < "$T/res.tgz" > "$T/res.b64"; printf 'not base64 at all!\n' > "$T/bad.b64"
equal "results in base64: not base64: 400" "$(hook "$JT" POST '/job/out/results?off=0&enc=base64' "$T/bad.b64")" 400
equal "... an unknown encoding: 400" "$(hook "$JT" POST '/job/out/results?off=0&enc=gzip' "$T/res.b64")" 400
equal "results, in base64" "$(hook "$JT" POST '/job/out/results?off=0&enc=base64' "$T/res.b64")" 200
equal "... kept decoded" "$(sql "select results_bytes from job_runs where job_id = $j1")" "$(stat -c %s "$T/res.tgz")"
equal "the result: bad body 400" "$(hook "$JT" POST /job/result '' -d '{"status":"0"}')" 400
equal "the result" "$(hook "$JT" POST /job/result '' -d '{"status":0,"seconds":7}')" 200
equal "... posted twice: the token is dead (401)" "$(hook "$JT" POST /job/result '' -d '{"status":1,"seconds":7}')" 401
equal "... nor can it upload any more" "$(hook "$JT" POST '/job/out/stdout?off=12' "$T/o1")" 401
wait_sql "select state from jobs where id = $j1" done && ok "every run exited 0: the job is done" ||
    notok "every run exited 0: the job is done"
equal "the run: exited 0 in 7 s, 12 bytes of stdout" "$(sql "select state, exit_status, seconds, stdout_bytes from job_runs where job_id = $j1")" "exited|0|7|12"
wait_sql "select r.state from reservations r join job_runs jr on jr.reservation_id = r.id where jr.job_id = $j1" released &&
    ok "its reservation is released" || notok "its reservation is released"
as "$al" job show "$j1" > "$T/show"
grep -qE "^[0-9]+ +os +n1 +exited +0 +7 " "$T/show" && ok "job show: the run" || { notok "job show: the run"; cat "$T/show" >&2; }
equal "job log: its stdout" "$(as "$al" job log "$j1" n1)" "hello
world"
equal "job log --stderr: empty" "$(as "$al" job log "$j1" n1 --stderr)" ""
as "$al" job fetch "$j1" -o "$T/out" > /dev/null
equal "job fetch: stdout, status, results" "$(cat "$T/out/n1-os/stdout" "$T/out/n1-os/status"; tar -xzOf "$T/out/n1-os/results.tar.gz" ./answer)" "hello
world
exited 0
42"
expect_fail 6 "no such job of yours" as "$bo" job show "$j1"
expect_fail 6 "no such job of yours" as "$bo" job log "$j1" n1
run=$(sql "select id from job_runs where job_id = $j1")
equal "bob fetches nothing of it (404)" "$(api "$bo" GET "/api/jobs/$j1/runs/$run/stdout")" 404
expect_fail 6 "no such job of yours" as "$bo" job cancel "$j1"
expect_fail 7 "already done" as "$al" job cancel "$j1"

# two images at once, --wait: a command that fails, a node that fails
# to deploy (deploy_failed, not a failed command): exit 1
as "$al" sub -n 1 -i os,os2 --name check --wait -- false > "$T/wait.out" 2>&1 &
wpid=$!
wait_sql "select count(*) from job_runs where state = 'deploying' and deployment_id is not null" 2 &&
    ok "two images: two nodes deploying" || notok "two images: two nodes deploying"
j2=$(sql "select max(id) from jobs")
n_os=$(sql "select n.mac from job_runs jr join nodes n on n.id = jr.node_id where jr.job_id = $j2 and jr.image = 'os'")
n_os2=$(sql "select n.mac from job_runs jr join nodes n on n.id = jr.node_id where jr.job_id = $j2 and jr.image = 'os2'")
ready "$n_os" && ok "os: ready" || notok "os: ready"
equal "os: the command" "$(hook "$JT" GET /job/argv)" 200
equal "os: exit status 1" "$(hook "$JT" POST /job/result '' -d '{"status":1,"seconds":0}')" 200
bt=$(boot_token "$n_os2")
agent "$bt" /agent/order > /dev/null
equal "os2: the deployment fails" "$(agent "$bt" /agent/result '{"state":"failed","reason":"disk <on> & \"fire\""}')" 200
wait "$wpid"; rc=$?
equal "pipol sub --wait: one command failed: exit 1" "$rc" 1
grep -qE "^[0-9]+ +os2 +n[12] +deploy_failed +- +- .*disk <on> & \"fire\"" "$T/wait.out" &&
    ok "--wait: the node that failed to deploy says so" || { notok "--wait: the node that failed to deploy says so"; cat "$T/wait.out" >&2; }
equal "the job failed" "$(sql "select state from jobs where id = $j2")" failed

# the matrix, and its JUnit XML
as "$al" job matrix --junit "$T/j.xml" > "$T/m"
grep -qE "^build +passed [0-9-]+ [0-9:]+ +- *$" "$T/m" && grep -qE "^check +failed [0-9-]+ [0-9:]+ +deploy_failed " "$T/m" &&
    ok "job matrix: a row per job, a column per image" || { notok "job matrix: a row per job, a column per image"; cat "$T/m" >&2; }
python3 -c 'import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); s = d.getElementsByTagName("testsuite")[0]; print(s.getAttribute("tests"), s.getAttribute("failures"), s.getAttribute("errors"))' "$T/j.xml" > "$T/jx" 2>&1
equal "--junit: well-formed, 3 cases, 1 failure, 1 error" "$(cat "$T/jx")" "3 1 1"
equal "another user's matrix: admins only" "$(api "$bo" GET '/api/jobs/matrix?user=alice')" 403
as "$adm" job matrix --user alice | grep -q '^build ' && ok "an admin sees alice's matrix" || notok "an admin sees alice's matrix"
equal "bob's matrix is empty" "$(as "$bo" job matrix | wc -l)" 1
python3 -c 'import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); print([e.getAttribute("message") for e in d.getElementsByTagName("error")][0])' "$T/j.xml" > "$T/jx2" 2>&1
equal "--junit: the reason, escaped and read back" "$(cat "$T/jx2")" 'deploy_failed: disk <on> & "fire"'

# cancel: a queued job, its request cancelled, nothing held
wait_sql "select count(*) from reservations where state = 'active'" 0 &&
    ok "the finished jobs' reservations are released" ||
    notok "the finished jobs' reservations are released"
r=$(as "$bo" reserve --nodes n1,n2 --for 1h -q)
j4=$(as "$al" sub -i os --name waits -q -- true)
wait_sql "select a.state from asap_requests a join job_runs jr on jr.reservation_id = a.id where jr.job_id = $j4" queued &&
    ok "busy nodes: the job's request waits" || notok "busy nodes: the job's request waits"
equal "job cancel" "$(as "$al" job cancel "$j4")" "job $j4: cancelled"
equal "... its request cancelled, its run too" "$(sql "select a.state || ' ' || jr.state from asap_requests a join job_runs jr on jr.reservation_id = a.id where jr.job_id = $j4")" "cancelled cancelled"

# a job survives pipold: killed -9 while the job waits, restarted, the
# job is placed and deployed when the nodes come free
j6=$(as "$al" sub -i os --name survives -q -- true)
kill -9 "$DPID"; wait "$DPID" 2>/dev/null; DPID=
check "pipold starts again" start_pipold
as "$bo" release "$r" > /dev/null
wait_sql "select state from job_runs where job_id = $j6" deploying &&
    ok "after a restart the job goes on: deploying" || notok "after a restart the job goes on: deploying"
as "$al" job cancel "$j6" > /dev/null
wait_sql "select count(*) from reservations where state = 'active'" 0 &&
    ok "a cancelled job's nodes are released" || notok "a cancelled job's nodes are released"

# refusals: bounds and the usage
expect_fail 2 "give a command after --, or --script FILE" as "$al" sub -i os
expect_fail 6 "image nope: no such image" as "$al" sub -i nope -- true
equal "257 words: 400" "$(api "$al" POST /api/jobs "{\"name\":\"x\",\"images\":[\"os\"],\"argv\":$(python3 -c 'print(["a"] * 257)' | tr "'" '"')}")" 400
equal "a source over 256 MiB: 400" "$(api "$al" POST /api/jobs '{"name":"x","images":["os"],"argv":["a"],"source":{"sha256":"'"$(printf '%064d' 0)"'","size":268435457}}')" 400
equal "a bad name: 400" "$(api "$al" POST /api/jobs '{"name":"../x","images":["os"],"argv":["a"]}')" 400
# a source whose bytes are not the SHA-256 announced: the job fails
equal "a job waiting for its source" "$(api "$al" POST /api/jobs '{"name":"x","images":["os"],"argv":["a"],"source":{"sha256":"'"$(printf '%064d' 0)"'","size":6}}')" 201
j5=$(jq .id "$T/api.out")
equal "... bob cannot send it (404)" "$(api "$bo" POST "/api/jobs/$j5/source?off=0" hello)" 404
equal "... past its size: 409" "$(api "$al" POST "/api/jobs/$j5/source?off=0" 'hello, world')" 409
equal "... a wrong SHA-256: 422" "$(api "$al" POST "/api/jobs/$j5/source?off=0" 'hello!')" 422
equal "... the job failed, nothing queued" "$(sql "select state || ' ' || (select count(*) from job_runs where job_id = $j5) from jobs where id = $j5")" "failed 0"

stop_pipold
