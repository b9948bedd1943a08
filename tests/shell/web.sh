#!/bin/bash
# The web interface (issue 15, frontend/web*.c, frontend/web/): curl
# checks of its rules -- a token traded for a session cookie (HttpOnly,
# SameSite=Strict, Secure over TLS), the cookie reaching what the token
# reaches with the same per-route authorisation, no state change from a
# cookie request without the CSRF header or from another origin, an
# expired or logged-out session refused, the node list paginated and
# filtered on the server, the event streams bounded and closed at
# logout, the CSP on every page and no inline script or HTML sink in
# the embedded files -- then the pages in a real headless Chromium
# (tests/web/web_test.py, Selenium): log in, nodes, reserve, extend,
# release, another user's reservation, a cross-site form, markup shown
# as text; screenshots in $T/shots (WEB_SHOTS=DIR keeps them).
. "$(dirname "$0")/../lib.sh"
export PYTHONDONTWRITEBYTECODE=1	# no __pycache__ in tests/web
. "$TOP/tests/pipold_lib.sh"

check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice) bo=$(new_user bob)
for i in $(seq -w 1 25); do
	prof=pc-bios; [ $((10#$i % 5)) -eq 0 ] && prof=uefi
	api "$adm" POST /api/nodes "{\"name\":\"n$i\",\"mac\":\"52:54:00:00:10:$i\",\"profile\":\"$prof\"}" > /dev/null
done
equal "25 nodes" "$(sql "select count(*) from nodes")" 25

# login: TOKEN [CURL ARGS...] -> status; headers in $T/h, body in $T/b
login() {
	local t=$1; shift
	curl -s -D "$T/h" -o "$T/b" -w '%{http_code}' -H 'Content-Type: application/json' \
	    "$@" --data-binary "{\"token\":\"$t\"}" "$U/api/web/login"
}
equal "login: a token of 63 digits is 400" "$(login "${al:1}")" 400
equal "login: a well-formed unknown token is 401" "$(login "$(printf '%064d' 7)")" 401
equal "login: from another origin is 403" "$(login "$al" -H 'Origin: http://evil.example')" 403
equal "login: sessions made by refusals" "$(sql "select count(*) from web_sessions")" 0
equal "login: alice" "$(login "$al")" 200
grep -qi '^set-cookie: pipol_session=[0-9a-f]\{64\}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200' "$T/h" &&
    ok "the cookie: HttpOnly, SameSite=Strict" || { notok "the cookie: HttpOnly, SameSite=Strict"; cat "$T/h" >&2; }
grep -qi '^set-cookie:.*Secure' "$T/h" && notok "no Secure over plain HTTP" || ok "no Secure over plain HTTP"
ck=$(sed -n 's/^[Ss]et-[Cc]ookie: pipol_session=\([0-9a-f]*\);.*/\1/p' "$T/h")
csrf=$(jq -r .csrf "$T/b")
equal "login says who" "$(jq -r .user "$T/b")" alice
[[ $csrf =~ ^[0-9a-f]{64}$ ]] && ok "login gives a CSRF token" || notok "login gives a CSRF token"
equal "only the cookie's hash is kept" "$(sql "select count(*) from web_sessions where encode(hash, 'hex') = '$ck'")" 0
equal "login over TLS (a proxy's X-Forwarded-Proto): 200" "$(login "$al" -H 'X-Forwarded-Proto: https')" 200
grep -qi '^set-cookie:.*; Secure' "$T/h" && ok "the cookie is Secure over TLS" || notok "the cookie is Secure over TLS"
bck=$(login "$bo" > /dev/null; sed -n 's/^[Ss]et-[Cc]ookie: pipol_session=\([0-9a-f]*\);.*/\1/p' "$T/h")
bcsrf=$(jq -r .csrf "$T/b")
grep -qF "$ck" "$T/pipold.log" && notok "no cookie in pipold's log" || ok "no cookie in pipold's log"

# capi COOKIE METHOD PATH [BODY [CURL ARGS...]]: as api, with the cookie
capi() {
	local k=$1 m=$2 p=$3 b=${4-}; shift 3; [ $# -gt 0 ] && shift
	curl -s -m 10 -o "$T/api.out" -w '%{http_code}' -X "$m" -b "pipol_session=$k" \
	    -H 'Content-Type: application/json' ${b:+--data-binary "$b"} "$@" "$U$p"
}
equal "cookie: GET /api/whoami" "$(capi "$ck" GET /api/whoami)" 200
equal "cookie: whoami is alice" "$(jq -r .user "$T/api.out")" alice
equal "cookie: an admin route is 403, as with her token" "$(capi "$ck" GET /api/groups)" 403
equal "bearer: the same admin route is 403" "$(api "$al" GET /api/groups)" 403
equal "cookie: an agent route is 401" "$(capi "$ck" GET /agent/order)" 401
equal "GET /api/web/session gives the CSRF token back" \
    "$(capi "$ck" GET /api/web/session > /dev/null; jq -r .csrf "$T/api.out")" "$csrf"
r='{"nodes":["n01"],"seconds":3600}'
equal "cookie POST without the CSRF header: 403" "$(capi "$ck" POST /api/reservations "$r")" 403
equal "... saying why" "$(jq -r .error "$T/api.out")" "missing CSRF token (header X-CSRF-Token)"
equal "cookie POST with bob's CSRF token: 403" "$(capi "$ck" POST /api/reservations "$r" -H "X-CSRF-Token: $bcsrf")" 403
equal "cookie POST, right token, Sec-Fetch-Site cross-site: 403" \
    "$(capi "$ck" POST /api/reservations "$r" -H "X-CSRF-Token: $csrf" -H 'Sec-Fetch-Site: cross-site')" 403
equal "cookie POST, right token, Origin of another site: 403" \
    "$(capi "$ck" POST /api/reservations "$r" -H "X-CSRF-Token: $csrf" -H 'Origin: http://evil.example')" 403
equal "cookie POST, a form's body (text/plain), no header: 403" \
    "$(curl -s -o /dev/null -w '%{http_code}' -b "pipol_session=$ck" -H 'Content-Type: text/plain' --data-binary "$r" "$U/api/reservations")" 403
equal "cookie DELETE without the header: 403" "$(capi "$ck" DELETE /api/tokens/1)" 403
# an upload route (admins, checked before the body): an admin's cookie
# without the header is refused before a byte of the body is taken
login "$adm" > /dev/null
ack=$(sed -n 's/^[Ss]et-[Cc]ookie: pipol_session=\([0-9a-f]*\);.*/\1/p' "$T/h")
acsrf=$(jq -r .csrf "$T/b")
equal "admin cookie PUT of a capture chunk without the header: 403" \
    "$(curl -s -o "$T/api.out" -w '%{http_code}' -X PUT -b "pipol_session=$ack" --data-binary x "$U/api/capture/chunks/$(printf '%064d' 0).gz")" 403
equal "... it is the CSRF rule" "$(jq -r .error "$T/api.out")" "missing CSRF token (header X-CSRF-Token)"
# ... refused before the body: a declared MiB never sent is not waited for
rawput() {
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	printf 'PUT /api/capture/chunks/%064d.gz HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nCookie: pipol_session=%s\r\nContent-Length: 1048576\r\n\r\n' 0 "$PORT" "$ack" >&5
	timeout 3 head -1 <&5 | tr -d '\r'
	exec 5<&-
}
equal "admin cookie PUT without the header: 403 before the body" "$(rawput)" "HTTP/1.1 403 Forbidden"
equal "admin cookie with the header: past the CSRF rule (the capture's own 4xx)" \
    "$(curl -s -o "$T/api.out" -w '%{http_code}' -X PUT -b "pipol_session=$ack" -H "X-CSRF-Token: $acsrf" --data-binary x "$U/api/capture/chunks/$(printf '%064d' 0).gz" | grep -v 403 | grep -c '^4')" 1
equal "refused requests reserved nothing" "$(sql "select count(*) from reservations")" 0
equal "cookie POST from the page: 201" \
    "$(capi "$ck" POST /api/reservations "$r" -H "X-CSRF-Token: $csrf" -H 'Sec-Fetch-Site: same-origin' -H "Origin: $U")" 201
rid=$(jq -r .id "$T/api.out")
equal "bob's session cannot release alice's reservation" \
    "$(capi "$bck" POST /api/reservations/$rid/release '' -H "X-CSRF-Token: $bcsrf")" 404
equal "bearer requests need no CSRF header" "$(api "$al" GET /api/reservations)" 200

# the node list, a page at a time, filtered on the server
equal "nodes: limit 10 offset 20" "$(api "$al" GET '/api/nodes?limit=10&offset=20')" 200
equal "... 5 of them" "$(jq '.nodes | length' "$T/api.out")" 5
equal "... of 25" "$(jq .total "$T/api.out")" 25
equal "... n21 first" "$(jq -r '.nodes[0].name' "$T/api.out")" n21
equal "nodes: profile=uefi" "$(api "$al" GET '/api/nodes?profile=uefi&limit=500' ; jq -r '[.nodes[].name] | join(",")' "$T/api.out")" 200n05,n10,n15,n20,n25
equal "nodes: state=reserved" "$(api "$al" GET '/api/nodes?state=reserved'; jq -r '[.nodes[] | .name + ":" + .holder + ":" + (.mine | tostring)] | join(",")' "$T/api.out")" "200n01:alice:true"
equal "nodes: bob sees the holder, not as his" "$(api "$bo" GET '/api/nodes?state=reserved'; jq -r '.nodes[0].mine, .nodes[0].reservation' "$T/api.out" | tr '\n' ' ')" "200false null "
equal "nodes: limit 501 is 400" "$(api "$al" GET '/api/nodes?limit=501')" 400
equal "nodes: offset -1 is 400" "$(api "$al" GET '/api/nodes?offset=-1')" 400
equal "nodes: state=bogus is 400" "$(api "$al" GET '/api/nodes?state=bogus')" 400
equal "nodes: a profile with a quote is 400" "$(api "$al" GET "/api/nodes?profile=a'b")" 400
equal "nodes: without arguments, the list as before" "$(api "$al" GET /api/nodes; jq '.nodes | length' "$T/api.out")" 20025

# the pages: the CSP, nosniff, no frames; no inline script anywhere
curl -s -D "$T/ph" -o "$T/index.html" "$U/web"
grep -qi "^content-security-policy: default-src 'none'; script-src 'self';.*frame-ancestors 'none'" "$T/ph" &&
    ok "/web: the CSP, script-src 'self', frame-ancestors 'none'" || { notok "/web: the CSP"; cat "$T/ph" >&2; }
grep -qi '^x-content-type-options: nosniff' "$T/ph" && ok "/web: nosniff" || notok "/web: nosniff"
# the page's style nonce (for the terminal's <style>s): fresh at each
# load, in its CSP and in the page, in nothing else
n1=$(sed -n "s/^[Cc]ontent-[Ss]ecurity-[Pp]olicy: .*style-src 'self' 'nonce-\([0-9a-f]\{32\}\)';.*/\1/p" "$T/ph" | tr -d '\r')
n2=$(curl -s -D - -o /dev/null "$U/web" | sed -n "s/^[Cc]ontent-[Ss]ecurity-[Pp]olicy: .*'nonce-\([0-9a-f]*\)'.*/\1/p")
[ -n "$n1" ] && grep -qF "<meta name=\"pipol-style-nonce\" content=\"$n1\">" "$T/index.html" &&
    ok "/web: a style nonce, in the CSP and the page" || { notok "/web: a style nonce"; cat "$T/ph" >&2; }
[ -n "$n2" ] && [ "$n1" != "$n2" ] && ok "... a new one at each load" || notok "... a new one at each load ($n1 $n2)"
curl -s -D "$T/jh" -o /dev/null "$U/web/app.js"
grep -qi "^content-security-policy: default-src 'none'; script-src 'self'" "$T/jh" && ok "/web/app.js: the CSP" || notok "/web/app.js: the CSP"
grep -qi "^content-security-policy:.*nonce" "$T/jh" && notok "/web/app.js: no nonce" || ok "/web/app.js: no nonce"
grep -qi '^content-type: text/javascript' "$T/jh" && ok "/web/app.js: a script's type" || notok "/web/app.js: a script's type"
equal "/web/nothing: 404" "$(curl -s -o /dev/null -w '%{http_code}' "$U/web/nothing.js")" 404
equal "/web/../etc: 404" "$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$U/web/../api/whoami")" 404
inline=0
for f in "$TOP"/frontend/web/*.html "$T/index.html"; do
	grep -Pzo '(?s)<script(?![^>]*\bsrc=)[^>]*>' "$f" > /dev/null && inline=1
	grep -Eiq '<[^>]+ on[a-z]+=|javascript:|<style' "$f" && inline=1
done
equal "no inline script, handler or style in the pages" $inline 0
sinks=$(grep -nE 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function' "$TOP"/frontend/web/*.js)
equal "no HTML sink in the modules (text only)" "$sinks" ""
strings "$B/pipold" | grep -c "script-src 'self'" > /dev/null && ok "the CSP is in pipold" || notok "the CSP is in pipold"

# docs: the user's to all, the admin's to admins
equal "docs user: 200" "$(capi "$ck" GET /api/web/docs/user)" 200
equal "docs admin for alice: 403" "$(capi "$ck" GET /api/web/docs/admin)" 403
equal "docs admin for an admin: 200" "$(api "$adm" GET /api/web/docs/admin)" 200

# event streams: a seeded deployment of alice's, bounded per user
nid=$(sql "select id from nodes where name = 'n02'")
uid=$(sql "select id from users where name = 'alice'")
dep=$(sql "insert into deployments (node_id, image_name, image_version, state, user_id, bytes_total, bytes_written) values ($nid, 'deb', 1, 'writing', $uid, 1000, 250) returning id" | head -1)
sql "insert into deployment_logs (deployment_id, script, status, output) values ($dep, 'hello', 0, 'hi <b>there</b>')" > /dev/null
equal "events: bad ids are 400" "$(capi "$ck" GET '/api/events?deployments=1;2')" 400
equal "events: 65 ids are 400" "$(capi "$ck" GET "/api/events?deployments=$(seq -s, 65)")" 400
pids=()
for i in 1 2 3 4; do
	curl -s -N -m 30 -b "pipol_session=$ck" "$U/api/events?deployments=$dep" > "$T/sse$i" &
	pids+=($!)
done
for _ in $(seq 50); do [ -s "$T/sse4" ] && break; sleep 0.1; done
equal "events: a fifth stream of alice's is 429" "$(capi "$ck" GET "/api/events?deployments=$dep")" 429
equal "events: bob's own stream opens" "$(curl -s -o "$T/bsse" -m 3 -w '%{http_code}' -b "pipol_session=$bck" "$U/api/events?deployments=$dep")" 200
grep -q '"id"' "$T/bsse" && notok "events: bob sees nothing of alice's deployment" || ok "events: bob sees nothing of alice's deployment"
grep -q "^event: progress" "$T/sse1" && ok "events: a progress event" || { notok "events: a progress event"; cat "$T/sse1" >&2; }
grep -q "\"state\" : \"writing\"\|\"state\":\"writing\"" "$T/sse1" && ok "events: its state" || notok "events: its state"
grep -q 'hi <b>there</b>' "$T/sse1" && ok "events: the post-install output" || notok "events: the post-install output"
sql "insert into deployment_transitions (deployment_id, state) values ($dep, 'pending'), ($dep, 'booting'), ($dep, 'writing')" > /dev/null
sql "update deployments set bytes_written = 600 where id = $dep" > /dev/null
for _ in $(seq 30); do grep -q '"written" : 600\|"written":600' "$T/sse1" && break; sleep 0.2; done
grep -q '"written" : 600\|"written":600' "$T/sse1" && ok "events: a change is pushed" || notok "events: a change is pushed"
# ... and in all: 7 admins (who see alice's deployment) fill the other 28
for i in 1 2 3 4 5 6 7; do
	t=$(new_user "adm$i" --admin)
	for j in 1 2 3 4; do
		curl -s -N -m 30 -H "Authorization: Bearer $t" "$U/api/events?deployments=$dep" > "$T/all$i.$j" &
		pids+=($!)
	done
done
for _ in $(seq 100); do [ "$(cat "$T"/all7.* | grep -c '^event: progress')" -eq 4 ] && break; sleep 0.1; done
a8=$(new_user adm8 --admin)
equal "events: a 33rd stream is 429, 32 in all" "$(curl -s -m 3 -o "$T/api.out" -w '%{http_code}' -H "Authorization: Bearer $a8" "$U/api/events?deployments=$dep"; jq -r .error "$T/api.out" 2>/dev/null)" \
    "429too many event streams: 32 in all"
for p in "${pids[@]:4}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
pids=("${pids[@]:0:4}")
equal "events: every line a field (event, data) or a comment" \
    "$(grep -cvE '^(event: |data: |:|$)' "$T/sse1")" 0
grep -q '"transitions" *: *\[.*booting' "$T/sse1" && ok "events: the transitions" || notok "events: the transitions"
equal "logout: 200" "$(capi "$ck" POST /api/web/logout '' -H "X-CSRF-Token: $csrf")" 200
gone=0
for _ in $(seq 50); do
	alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
	[ $alive -eq 0 ] && { gone=1; break; }; sleep 0.1
done
equal "logout closes the session's streams" $gone 1
grep -q '"why":"logged out"' "$T/sse1" && ok "events: the stream said why" || notok "events: the stream said why"
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
equal "after logout the cookie is 401" "$(capi "$ck" GET /api/whoami)" 401
equal "... saying so" "$(jq -r .error "$T/api.out")" "session ended (expired or logged out): log in again"
equal "logout with a bearer token: 400" "$(api "$al" POST /api/web/logout)" 400
sql "update web_sessions set created = now() - interval '2 days', expires = now() - interval '1 second' where encode(hash, 'hex') = encode(sha256('$bck'::bytea), 'hex')" > /dev/null
equal "an expired session is 401" "$(capi "$bck" GET /api/whoami)" 401
login "$al" > /dev/null; k2=$(sed -n 's/^[Ss]et-[Cc]ookie: pipol_session=\([0-9a-f]*\);.*/\1/p' "$T/h")
as "$al" user token revoke "$(sql "select t.id from tokens t join users u on u.id = t.user_id where u.name = 'alice' order by t.id limit 1")" > /dev/null 2>&1
equal "a session ends with its token" "$(capi "$k2" GET /api/whoami)" 401

# the pages in Chromium (an image with packages for the Images page)
dpkg_disk "$T/deb" gpt ext4
"$P" image create deb --from "$T/deb" > /dev/null && "$P" image validate deb:1 > /dev/null ||
    notok "an image with packages, validated"
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && /usr/bin/python3 -c "import selenium" 2>/dev/null; then
	WEB_URL=$U WEB_ADMIN=$adm WEB_SHOTS=${WEB_SHOTS:-$T/shots} WEB_SQL_HOST=$T/state/pg \
	    /usr/bin/python3 "$TOP/tests/web/web_test.py" "$(new_user carol)" "$(new_user dave)" ||
	    notok "web_test.py: exit 0 (a browser that did not start counts too)"
else
	notok "chromium, chromium-driver, python3-selenium (tests/deps.sh test)"
fi
stop_pipold
