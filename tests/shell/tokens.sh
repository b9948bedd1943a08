#!/bin/bash
# API tokens that end (schema 008, frontend/api_token.c): new, list,
# revoke, rotate through pipol and the API; another user's token is a
# 404; expired and revoked tokens are refused 401 naming the date;
# pipold --token-days; the events; last_used written at most once a
# minute; the purge of tokens ended 30 days ago; a secret never in a
# list, an event or pipold's log.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"

# no_secret NAME FILE...: none of the secrets made so far is in FILEs
no_secret() {
	local name=$1 s; shift
	for s in "${secrets[@]}"; do
		if grep -qF "$s" "$@"; then notok "$name"; return; fi
	done
	ok "$name"
}

expect_fail 2 "--token-days 40000" "$D" --token-days 40000
check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice) bo=$(new_user bob)
secrets=("$adm" "$al" "$bo")
equal "--add-user: the default lifetime, 90 days" \
    "$(sql "select t.expires - t.created from tokens t join users u on u.id = t.user_id where u.name = 'alice'")" "90 days"

# new: the secret alone on stdout, once
t1=$(as "$al" user token new --name laptop 2>"$T/new.err")
secrets+=("$t1")
[[ $t1 =~ ^[0-9a-f]{64}$ ]] && ok "token new prints a token" || notok "token new prints a token"
grep -qE '^pipol: token [0-9]+ "laptop" of alice, expires 20' "$T/new.err" &&
    ok "token new says its id, name and expiry on stderr" || { notok "token new says its id on stderr"; cat "$T/new.err" >&2; }
id1=$(sql "select id from tokens where name = 'laptop'")
equal "the new token works" "$(as "$t1" whoami)" alice
equal "its lifetime is pipold's default, 90 days" \
    "$(sql "select expires - created from tokens where id = $id1")" "90 days"
t2=$(as "$al" user token new --name ci --days 7 2>/dev/null)
secrets+=("$t2")
equal "--days 7" "$(sql "select expires - created from tokens where name = 'ci'")" "7 days"
id2=$(sql "select id from tokens where name = 'ci'")
expect_fail 2 "days 91: 1..90 here (pipold --token-days)" as "$al" user token new --days 91
expect_fail 2 "days 0: 1..90 here" as "$al" user token new --days 0
expect_fail 2 "name: up to 64 of" as "$al" user token new --name 'a;b'
equal "POST /api/tokens: a field it does not take" "$(api "$al" POST /api/tokens '{"name":"x","user":"bob"}')" 400
equal "POST /api/tokens: days not a number" "$(api "$al" POST /api/tokens '{"days":"9"}')" 400

# hostile input: bounded, refused before SQL
equal "days past any bound: 400" "$(api "$al" POST /api/tokens '{"days":99999999999999999}')" 400
equal "a name with SQL in it: 400" "$(api "$al" POST /api/tokens '{"name":"x'"'"'; drop table tokens; --"}')" 400
equal "a name of 65 characters: 400" "$(api "$al" POST /api/tokens "{\"name\":\"$(printf 'a%.0s' $(seq 65))\"}")" 400
equal "no token: 401" "$(api "" POST /api/tokens '{}')" 401
equal "an id of 22 digits: 404" "$(api "$adm" DELETE /api/tokens/1234567890123456789012)" 404
equal "?user= of 200 characters: 404" "$(api "$adm" GET "/api/tokens?user=$(printf 'b%.0s' $(seq 200))")" 404
equal "refused requests made no token" "$(sql "select count(*) from tokens")" 5

# list: own tokens, the current one marked, never a secret nor a hash
as "$al" user token list > "$T/list"
grep -qE "^$id1 +alice +live .* laptop$" "$T/list" && ok "token list shows laptop, live" ||
    { notok "token list shows laptop, live"; cat "$T/list" >&2; }
grep -qE "^$id2 +alice +live .* ci \(this one\)$" <(as "$t2" user token list) &&
    ok "token list marks the token in use" || notok "token list marks the token in use"
equal "alice's list: her 3 tokens" "$(grep -c ' alice ' "$T/list")" 3
api "$al" GET /api/tokens > /dev/null
no_secret "no secret in a list" "$T/list" "$T/api.out"
grep -qiE '"hash"|\\x' "$T/api.out" && notok "no hash in a list" || ok "no hash in a list"
expect_fail 4 "admins only: another user's tokens" as "$al" user token list --user bob
as "$adm" user token list --user alice > "$T/adm.list"
equal "an admin lists alice's tokens" "$(grep -c ' alice ' "$T/adm.list")" 3
expect_fail 6 "user nobody: no such user" as "$adm" user token list --user nobody
expect_fail 2 "--user Bob!: not a user name" as "$adm" user token list --user 'Bob!'

# another user's token: 404, as a missing one, and nothing changes
expect_fail 6 "token $id1: no such token" as "$bo" user token revoke "$id1"
expect_fail 6 "token $id1: no such token" as "$bo" user token rotate "$id1"
equal "DELETE of another's token: 404" "$(api "$bo" DELETE /api/tokens/$id1)" 404
equal "rotate of another's token: 404" "$(api "$bo" POST /api/tokens/$id1/rotate)" 404
equal "DELETE of a token that never was: 404" "$(api "$bo" DELETE /api/tokens/999999)" 404
equal "DELETE /api/tokens/x: 404" "$(api "$bo" DELETE /api/tokens/x)" 404
equal "bob's tries changed nothing" "$(sql "select token_state(t) from tokens t where id = $id1")" live
equal "bob cannot revoke with ?user=alice" "$(api "$bo" DELETE "/api/tokens/$id1?user=alice")" 403

expect_fail 6 "token $id1: no such token" as "$adm" user token rotate "$id1"

# rotate: a new secret, same name and lifetime; the old one dies
t3=$(as "$al" user token rotate "$id2" 2>/dev/null)
secrets+=("$t3")
[[ $t3 =~ ^[0-9a-f]{64}$ ]] && ok "rotate prints a token" || notok "rotate prints a token"
equal "the new one works" "$(as "$t3" whoami)" alice
expect_fail 4 "token revoked on 20" as "$t2" whoami
id3=$(sql "select id from tokens where name = 'ci' and revoked is null")
equal "same name and lifetime" "$(sql "select expires - created from tokens where id = $id3")" "7 days"
expect_fail 7 "token $id2: already revoked" as "$al" user token rotate "$id2"
# rotating the token in use: the CLI says to change PIPOL_TOKEN
t4=$(as "$t3" user token rotate "$id3" 2>"$T/rot.err")
secrets+=("$t4")
grep -qF "is revoked: put the new one in \$PIPOL_TOKEN" "$T/rot.err" &&
    ok "rotating the token in use says to update PIPOL_TOKEN" || { notok "rotating the token in use says so"; cat "$T/rot.err" >&2; }
expect_fail 4 "token revoked on" as "$t3" whoami
equal "and the new one works" "$(as "$t4" whoami)" alice

# revoke: the next call is 401 with the date; revoking the token in use works
as "$al" user token revoke "$id1" > /dev/null
expect_fail 4 "token revoked on 20" as "$t1" whoami
equal "a revoked token: 401" "$(api "$t1" GET /api/whoami)" 401
expect_fail 7 "token $id1: already revoked" as "$al" user token revoke "$id1"
id4=$(sql "select id from tokens where name = 'ci' and revoked is null")
check "revoke the token in use" as "$t4" user token revoke "$id4"
equal "its next call: 401" "$(api "$t4" GET /api/whoami)" 401
# an admin revokes bob's token with --user
bid=$(sql "select t.id from tokens t join users u on u.id = t.user_id where u.name = 'bob'")
check "an admin revokes bob's token" as "$adm" user token revoke "$bid" --user bob
equal "bob's token is refused" "$(api "$bo" GET /api/whoami)" 401

# expired: refused 401 naming the date
t5=$(as "$al" user token new --name old 2>/dev/null)
secrets+=("$t5")
sql "update tokens set expires = '2026-01-02 03:04+00' where name = 'old'" > /dev/null
expect_fail 4 "token expired on 2026-01-02 03:04 UTC; make a new one with pipol user token new" as "$t5" whoami
equal "an expired token: 401" "$(api "$t5" GET /api/nodes)" 401
grep -qF '{"error":"token expired on 2026-01-02 03:04 UTC;' "$T/api.out" &&
    ok "the API says the date too" || notok "the API says the date too"
id5=$(sql "select id from tokens where name = 'old'")
expect_fail 7 "token $id5: already expired" as "$adm" user token revoke "$id5" --user alice
t6=$(as "$adm" user token new --name rescue --user alice 2>/dev/null)
secrets+=("$t6")
equal "an admin makes a token for alice" "$(as "$t6" whoami)" alice

# last_used: written on use, but at most once a minute
as "$t6" whoami > /dev/null
lu1=$(sql "select last_used from tokens where name = 'rescue'")
[ -n "$lu1" ] && ok "last_used set on use" || notok "last_used set on use"
as "$t6" whoami > /dev/null
equal "a second call within the minute writes nothing" "$(sql "select last_used from tokens where name = 'rescue'")" "$lu1"
sql "update tokens set last_used = now() - interval '2 minutes' where name = 'rescue'" > /dev/null
lu2=$(sql "select last_used from tokens where name = 'rescue'")
as "$t6" whoami > /dev/null
[ "$(sql "select last_used > '$lu2' from tokens where name = 'rescue'")" = t ] &&
    ok "after a minute, the next call writes it" || notok "after a minute, the next call writes it"

# events: one per change, no secret in them
equal "events: token.new" "$(sql "select count(*) from events where kind = 'token.new'")" 4
equal "events: token.rotate" "$(sql "select count(*) from events where kind = 'token.rotate'")" 2
equal "events: token.revoke" "$(sql "select count(*) from events where kind = 'token.revoke'")" 3
equal "the revoke of bob's token names the admin" \
    "$(sql "select actor || ' ' || (detail->>'user') from events where kind = 'token.revoke' and (detail->>'id')::bigint = $bid")" "root1 bob"
sql "select detail from events" > "$T/events"
no_secret "no secret in the events" "$T/events"

# purge: tokens ended more than 30 days ago go; the hourly tick runs it
# at start (a restart), and the SQL function says how many
sql "update tokens set revoked = now() - interval '31 days' where id = $id1" > /dev/null
sql "update tokens set expires = now() - interval '29 days' where id = $id5" > /dev/null
stop_pipold
check "pipold starts again" start_pipold
for _ in $(seq 50); do [ "$(sql "select count(*) from tokens where id = $id1")" = 0 ] && break; sleep 0.1; done
equal "the tick purged the token revoked 31 days ago" "$(sql "select count(*) from tokens where id = $id1")" 0
equal "the one expired 29 days ago stays" "$(sql "select count(*) from tokens where id = $id5")" 1
sql "update tokens set expires = now() - interval '31 days' where id = $id5" > /dev/null
equal "tokens_purge() drops it, and says 1" "$(sql "select tokens_purge()")" 1
grep -q "token(s) ended 30 days ago dropped" "$T/pipold.log" && ok "the purge is logged" || notok "the purge is logged"

# --token-days: the site's limit; 0 lets a token never expire
stop_pipold
check "pipold --token-days 0" start_pipold --token-days 0
t7=$(as "$adm" user token new --name forever --days 0 2>/dev/null)
secrets+=("$t7")
equal "--days 0 under --token-days 0: never" "$(sql "select coalesce(expires::text, 'never') from tokens where name = 'forever'")" never
as "$adm" user token list | grep -qE " never +.* forever" && ok "list says never" || notok "list says never"
stop_pipold
check "pipold --token-days 3" start_pipold --token-days 3
t8=$(as "$adm" user token new --name short 2>/dev/null)
secrets+=("$t8")
equal "--token-days 3: a new token's default" "$(sql "select expires - created from tokens where name = 'short'")" "3 days"
fid=$(sql "select id from tokens where name = 'forever'")
t9=$(as "$t7" user token rotate "$fid" 2>/dev/null)
secrets+=("$t9")
equal "rotating a never-token under --token-days 3: 3 days" \
    "$(sql "select expires - created from tokens where name = 'forever' and revoked is null")" "3 days"
c=$("$D" --add-user carol --token-days 5)
secrets+=("$c")
equal "--add-user --token-days 5" "$(sql "select t.expires - t.created from tokens t join users u on u.id = t.user_id where u.name = 'carol'")" "5 days"

stop_pipold
no_secret "no secret in pipold.log" "$T/pipold.log"
