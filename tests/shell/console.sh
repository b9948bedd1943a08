#!/bin/bash
# console: pipol console and pipol log --console through a real pipold,
# against a fake serial line (tests/tools/fake_serial.py: a Unix socket
# as QEMU's -chardev socket offers it, echoing what it gets). Who may
# attach (the holder, admins; not another user; not the holder once the
# reservation ended, even while attached), what a deployment's console
# log holds and who may read it, the bounds (clients per console, typing
# rate), the refusals; the same over WebSocket, and the page's terminal
# (xterm.js) in headless Chromium. The real node's console:
# console_qemu.sh.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
FPID= BG=()
extra_cleanup() {
	local p
	for p in "${BG[@]}" $FPID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}
# bgcon TOKEN OUT: pipol console n1 in the background, $! its own pid
bgcon() {
	env PIPOL_SERVER="$U" PIPOL_TOKEN="$1" "$B/pipol" console n1 --seconds 30 \
	    < /dev/null > "$2" 2> "$2.err" &
}
/usr/bin/python3 "$TOP/tests/tools/fake_serial.py" "$T/n1.serial" 2> "$T/fake.err" &
FPID=$!
check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice) bo=$(new_user bob)
as "$adm" node add n1 --mac 52:54:00:00:07:01 --profile virtual --power qemu \
    --power-param qmp="$T/n1.qmp" --power-param serial="$T/n1.serial" > /dev/null
as "$adm" node add n2 --mac 52:54:00:00:07:02 --profile virtual --power qemu \
    --power-param qmp="$T/n2.qmp" > /dev/null
expect_fail 2 'power_params: "serial": tty0: not an absolute path' \
    as "$adm" node set n2 --power qemu --power-param qmp="$T/n2.qmp" --power-param serial=tty0
mkdisk "$T/d" 100000
"$P" image create os --from "$T/d" >/dev/null && "$P" image validate os:1 >/dev/null &&
    "$P" image promote os:1 >/dev/null
# alice deploys n1: her reservation, a deployment (its power cycle fails:
# no VM behind the QMP path; the console is the fake line)
as "$al" deploy -n n1 -i os > "$T/dep.out" 2>&1
dep=$(grep -o 'deployment [0-9]*' "$T/dep.out" | head -1 | cut -d' ' -f2)
rid=$(sql "select reservation_id from deployments where id = ${dep:-0}")
[ -n "$dep" ] && [ -n "$rid" ] && ok "alice deploys n1 (deployment $dep, reservation $rid)" ||
    { notok "alice deploys n1"; cat "$T/dep.out" >&2; }

# pipold connects to the line within CONSOLE_RETRY_SEC: attach until it says so
for _ in $(seq 40); do
	as "$al" console n1 --seconds 1 < /dev/null > "$T/c0.out" 2>&1
	grep -qF '[pipol: n1: console attached]' "$T/c0.out" && break
done
grep -qF '[pipol: n1: console attached]' "$T/c0.out" && ok "alice attaches to n1's console (connected)" ||
    { notok "alice attaches to n1's console (connected)"; cat "$T/c0.out" "$T/pipold.log" >&2; }

# keys both ways: "boot" typed, echoed, and the node's answer
printf 'boot\r' | as "$al" console n1 --seconds 3 > "$T/c1.out" 2> "$T/c1.err"
rc=$?
equal "stdin not a tty: keys sent, output until --seconds, exit 0" "$rc" 0
tr -d '\r' < "$T/c1.out" | grep -qx "boot" && grep -qF "fake-node: booting" "$T/c1.out" &&
    ok "the node echoes alice's keys and answers them" ||
    { notok "the node echoes alice's keys and answers them"; cat -A "$T/c1.out" "$T/c1.err" >&2; }
# ~. at the start of a line detaches: what follows is never sent
# (the node's echo of what was sent before is in the deployment's log)
printf 'first\r~.second\r' | as "$al" console n1 --seconds 3 > "$T/c2.out" 2>&1
rc=$?
printf 'third\035fourth\r' | as "$al" console n1 --seconds 3 > "$T/c3.out" 2>&1
rc="$rc $?"
sleep 1	# the echo of the last keys, on its way to the log
as "$al" log "$dep" --console > "$T/log0"
equal "~. and Ctrl-] detach at once (exit 0)" "$rc" "0 0"
grep -qF first "$T/log0" && ! grep -qF second "$T/log0" && ok "~. at a line's start detaches, nothing after it sent" ||
    { notok "~. at a line's start detaches, nothing after it sent"; cat -A "$T/log0" >&2; }
grep -qF third "$T/log0" && ! grep -qF fourth "$T/log0" && ok "Ctrl-] detaches, nothing after it sent" ||
    { notok "Ctrl-] detaches, nothing after it sent"; cat -A "$T/log0" >&2; }

# who may attach
expect_fail 4 "$U: node n1: not in a running reservation of yours" as "$bo" console n1 --seconds 20 < /dev/null
printf 'adm\r' | as "$adm" console n1 --seconds 2 > "$T/ca.out" 2>&1
tr -d '\r' < "$T/ca.out" | grep -qx adm && ok "an admin attaches to anyone's node and types" ||
    { notok "an admin attaches to anyone's node and types"; cat -A "$T/ca.out" >&2; }
expect_fail 7 "$U: node n2: no console (an admin sets the qemu power param serial=PATH, or the ipmi one sol=on)" \
    as "$adm" console n2 --seconds 20 < /dev/null
expect_fail 6 "$U: node n9: no such node" as "$adm" console n9 --seconds 20 < /dev/null
expect_fail 4 "no valid token" as "$(printf '%064d' 7)" console n1 --seconds 20 < /dev/null
equal "without Upgrade: 400" "$(api "$al" GET /api/nodes/n1/console)" 400
grep -qF 'want \"Connection: Upgrade\" and \"Upgrade: pipol-console\"' "$T/api.out" &&
    ok "... saying what it wants" || { notok "... saying what it wants"; cat "$T/api.out" >&2; }

# the web page's terminal: the same console over WebSocket (ws.c), on a
# session cookie from the page's own origin only
wsc() { /usr/bin/python3 "$TOP/tests/tools/ws_client.py" "$U/api/nodes/n1/console" "$@"; }
cookie() {
	curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
	    --data-binary "{\"token\":\"$1\"}" "$U/api/web/login" |
	    sed -n 's/^[Ss]et-[Cc]ookie: pipol_session=\([0-9a-f]*\);.*/\1/p'
}
cal=$(cookie "$al") cbo=$(cookie "$bo")
wsc --cookie "$cal" --send 'wskeys\r' --ping hi --seconds 2 > "$T/w1.out" 2> "$T/w1.err"
grep -qx "status 101" "$T/w1.err" && grep -qx "accept ok" "$T/w1.err" &&
    ok "WebSocket on alice's session: 101, the accept key of RFC 6455" ||
    { notok "WebSocket on alice's session: 101"; cat "$T/w1.err" >&2; }
tr -d '\r' < "$T/w1.out" | grep -qx wskeys && grep -qF '[pipol: n1: console attached]' "$T/w1.out" &&
    ok "... keys in masked frames reach the node, its echo comes back in frames" ||
    { notok "... keys in frames reach the node"; cat -A "$T/w1.out" >&2; }
grep -qx "pong hi" "$T/w1.err" && ok "... a ping is answered with its pong" ||
    { notok "... a ping is answered with its pong"; cat "$T/w1.err" >&2; }
wsst() { wsc "$@" --seconds 0 2>&1 >/dev/null | sed -n 's/^status //p'; }
equal "WebSocket from another origin on her cookie: 403" "$(wsst --cookie "$cal" --origin http://evil.example)" 403
equal "WebSocket on her cookie without an Origin: 403" "$(wsst --cookie "$cal" --origin -)" 403
equal "WebSocket with her bearer token, no Origin (not a browser): 101" "$(wsst --token "$al" --origin -)" 101
equal "WebSocket on bob's session: 403" "$(wsst --cookie "$cbo")" 403
equal "WebSocket without a session or a token: 401" "$(wsst)" 401
equal "WebSocket version 8: 400" "$(wsst --cookie "$cal" --version 8)" 400
equal "a short Sec-WebSocket-Key: 400" "$(wsst --cookie "$cal" --key 'c2hvcnQ=')" 400
wsc --cookie "$cal" --unmasked 'nomask\r' --seconds 2 > "$T/w2.out" 2> "$T/w2.err"
grep -qF '[pipol: n1: not WebSocket as a client speaks it, detached]' "$T/w2.out" &&
    grep -qx "close 1000" "$T/w2.err" && ! grep -qF nomask "$T/state/console/$dep.log" &&
    ok "an unmasked frame: told, closed, nothing of it typed" ||
    { notok "an unmasked frame: told, closed"; cat -A "$T/w2.out" "$T/w2.err" >&2; }

# typing is bounded: 20000 keys at once, CONSOLE_TYPE_BURST (8192) go through
head -c 20000 /dev/zero | tr '\0' a | as "$al" console n1 --seconds 3 > "$T/c4.out" 2>&1
n=$(tr -cd a < "$T/c4.out" | wc -c)
[ "$n" -ge 8192 ] && [ "$n" -lt 12000 ] && grep -qF "[pipol: n1: typing too fast: keys dropped]" "$T/c4.out" &&
    ok "typing bounded: $n of 20000 keys echoed, the rest dropped and said" ||
    { notok "typing bounded: $n of 20000 keys echoed"; tail -c 300 "$T/c4.out" >&2; }

# four clients per console, then 503
for i in 1 2 3 4; do
	bgcon "$al" "$T/m$i.out"
	BG+=($!)
done
for _ in $(seq 100); do
	[ "$(cat "$T"/m?.out 2>/dev/null | grep -c 'console attached')" -ge 4 ] && break; sleep 0.1
done
expect_fail 5 "$U: node n1: 4 clients on its console already" as "$adm" console n1 --seconds 20 < /dev/null
for p in "${BG[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
BG=()

# the deployment's console log: what the node said while it was alice's
as "$al" log "$dep" --console > "$T/log"
grep -qF "fake-node: booting" "$T/log" && grep -qF "adm" "$T/log" &&
    ! grep -qF "console attached" "$T/log" &&
    ok "pipol log $dep --console: what the node said (and echoed)" ||
    { notok "pipol log $dep --console: what the node said"; cat -A "$T/log" | head >&2; }
as "$adm" log "$dep" --console > "$T/log.adm" && same "an admin reads it too" "$T/log" "$T/log.adm"
expect_fail 6 "$U: deployment $dep: none of yours" as "$bo" log "$dep" --console
expect_fail 6 "$U: deployment 999: none of yours" as "$al" log 999 --console
equal "GET /api/deployments/$dep/console as bob: 404" "$(api "$bo" GET "/api/deployments/$dep/console")" 404
grep -qF booting "$T/api.out" && notok "... and nothing of the log" || ok "... and nothing of the log"
equal "the log file is pipold's only (0600)" "$(stat -c %a "$T/state/console/$dep.log")" 600

# the page's terminal in Chromium (tests/web/web_console.py)
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && /usr/bin/python3 -c "import selenium" 2>/dev/null; then
	PYTHONDONTWRITEBYTECODE=1 WEB_URL=$U WEB_CONSOLE_LOG="$T/state/console/$dep.log" \
	    WEB_SHOTS=${WEB_SHOTS:-$T/shots} /usr/bin/python3 "$TOP/tests/web/web_console.py" "$al" "$bo" ||
	    notok "web_console.py: exit 0 (a browser that did not start counts too)"
else
	notok "chromium, chromium-driver, python3-selenium (tests/deps.sh test)"
fi

# the log is bounded: 5 MiB said, 4 MiB kept and a line saying so
printf '\rflood\r' | as "$al" console n1 --seconds 4 > /dev/null 2>&1
for _ in $(seq 50); do tail -c 40 "$T/state/console/$dep.log" | grep -qF 'console log full' && break; sleep 0.1; done
equal "the console log stops at 4 MiB, saying so" "$(stat -c %s "$T/state/console/$dep.log") $(tail -c 40 "$T/state/console/$dep.log" | grep -c 'console log full')" \
    "$(( (4 << 20) + 29 )) 1"

# the holder is cut off when the reservation ends, attached or not
bgcon "$al" "$T/cut.out"
cpid=$!
BG+=($cpid)
for _ in $(seq 100); do grep -q 'console attached' "$T/cut.out" && break; sleep 0.1; done
bgcon "$adm" "$T/cutadm.out"
apid=$!
BG+=($apid)
for _ in $(seq 100); do grep -q 'console attached' "$T/cutadm.out" && break; sleep 0.1; done
equal "alice releases reservation $rid" "$(as "$al" release "$rid")" "reservation $rid released"
t0=$(date +%s)
wait "$cpid"; rc=$?
equal "alice's attached console is cut (exit 1) within seconds" "$rc $(( $(date +%s) - t0 < 10 ))" "1 1"
grep -qF "[pipol: n1: your reservation of this node ended]" "$T/cut.out" &&
    grep -qF "pipol: node n1: console closed by pipold" "$T/cut.out.err" &&
    ok "... told why" || { notok "... told why"; cat -A "$T/cut.out" "$T/cut.out.err" >&2; }
kill -0 "$apid" 2>/dev/null && ok "the admin's console stays" || notok "the admin's console stays"
expect_fail 4 "$U: node n1: not in a running reservation of yours" as "$al" console n1 --seconds 20 < /dev/null
as "$al" log "$dep" --console > /dev/null && ok "alice still reads her deployment's console log" ||
    notok "alice still reads her deployment's console log"

# console logs: one not written for --console-days days is removed at
# start (then hourly), unless it is a console's current deployment's
as "$al" deploy -n n1 -i os > "$T/dep2.out" 2>&1
dep2=$(grep -o 'deployment [0-9]*' "$T/dep2.out" | head -1 | cut -d' ' -f2)
[ -n "$dep2" ] && ok "alice deploys n1 again (deployment $dep2)" || { notok "alice deploys n1 again"; cat "$T/dep2.out" >&2; }
stop_pipold
C=$T/state/console
echo old > "$C/777777.log"; echo recent > "$C/777778.log"; echo quiet > "$C/$dep2.log"
echo other > "$C/notes.txt"
touch -d '40 days ago' "$C/777777.log" "$C/$dep.log" "$C/$dep2.log" "$C/notes.txt"
touch -d '29 days ago' "$C/777778.log"
check "pipold starts again, --console-days 30" start_pipold --console-days 30
for _ in $(seq 50); do grep -q 'console: 2 logs not written for 30 days removed' "$T/pipold.log" && break; sleep 0.1; done
equal "logs 40 days old removed (deployment $dep's, a stray one)"     "$(ls "$C" | sort | tr '\n' ' ')" "$(printf '%s\n' "$dep2.log" 777778.log notes.txt | sort | tr '\n' ' ')"
grep -q '^quiet$' "$C/$dep2.log" && ok "n1's current deployment's log kept, however quiet" ||
    notok "n1's current deployment's log kept, however quiet"
grep -q 'console: 2 logs not written for 30 days removed' "$T/pipold.log" && ok "... and pipold says so" ||
    notok "... and pipold says so"
expect_fail 2 "--console-days 36501: not in 0..36500" "$D" --console-days 36501 --listen 127.0.0.1:1
stop_pipold
