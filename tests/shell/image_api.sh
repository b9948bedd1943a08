#!/bin/bash
# pipol image list|show|validate|promote|rollback|copy through pipold
# (api_image.c): the same output as on the store itself; users see only
# what they may deploy (validated versions), a hidden version or image
# answers as a missing one; only admins change anything, each change an
# event naming them; names, versions and paths are checked; copy never
# adds to an existing image; a gc holding the store is 503, not a wait.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"

check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice)
# through pipold: no store named here, a server known
r() { local t=$1; shift; env -u PIPOL_STATE PIPOL_SERVER="$U" PIPOL_TOKEN="$t" "$P" "$@"; }
refs() { cat "$PIPOL_STATE"/store/images/*/refs | md5sum; }

mkdisk "$T/d" 3000000
$P image create os --from "$T/d" --meta root=2 > /dev/null
printf 'v2' | dd of="$T/d" bs=1 seek=100 conv=notrunc status=none
$P image create os --from "$T/d" > /dev/null
printf 'v3' | dd of="$T/d" bs=1 seek=2000000 conv=notrunc status=none
$P image create os --from "$T/d" > /dev/null
$P image create wip --from "$T/d" > /dev/null
$P image validate os:1 > /dev/null && $P image promote os:1 > /dev/null &&
    $P image validate os:2 > /dev/null && ok "os:1 current, os:2 validated, os:3 and wip:1 drafts" ||
    notok "os:1 current, os:2 validated, os:3 and wip:1 drafts"

# the same table and the same description on both paths (admins)
$P image list > "$T/l.local"
r "$adm" image list > "$T/l.api"
same "list: the same through pipold" "$T/l.local" "$T/l.api"
for ref in os os:2 os:3 wip; do
	$P image show $ref > "$T/s.local"
	r "$adm" image show $ref > "$T/s.api"
	same "show $ref: the same through pipold" "$T/s.local" "$T/s.api"
done
r "$adm" image show os | grep -qx "root=2" && ok "show through pipold: meta carried" ||
    notok "show through pipold: meta carried"

# users: what they may deploy, nothing else
r "$al" image list > "$T/l.al"
equal "a user's list: the validated versions only" \
    "$(awk 'NR > 1 { print $1, $2, $3 }' "$T/l.al" | tr '\n' ' ')" "os 1 current os 2 validated "
r "$al" image show os > "$T/s.al"
$P image show os > "$T/s.local"
same "a user's show of the current version: as an admin's" "$T/s.local" "$T/s.al"
expect_fail 6 "image os:3: no such version" r "$al" image show os:3
expect_fail 6 "image wip: no such image" r "$al" image show wip
expect_fail 6 "image nosuch: no such image" r "$al" image show nosuch
equal "a draft answers as a missing version (404)" \
    "$(api "$al" GET '/api/images/os?version=3'; sed 's/:3/:N/' "$T/api.out")" \
    "$(api "$al" GET '/api/images/os?version=9'; sed 's/:9/:N/' "$T/api.out")"
equal "a draft-only image answers as a missing one (404)" \
    "$(api "$al" GET /api/images/wip; sed 's/wip/X/' "$T/api.out")" \
    "$(api "$al" GET /api/images/nope; sed 's/nope/X/' "$T/api.out")"
api "$al" GET /api/images/os > /dev/null
equal "a user's show lists no draft" "$(jq -c '[.versions[].version]' "$T/api.out")" "[1,2]"
equal "a user's show: shared counted with a version they see" \
    "$(api "$al" GET '/api/images/os?version=2' > /dev/null; jq .shared_with "$T/api.out")" 1

# users change nothing
before=$(refs)
expect_fail 4 "admins only" r "$al" image validate os:3
expect_fail 4 "admins only" r "$al" image promote os:2
expect_fail 4 "admins only" r "$al" image rollback os
expect_fail 4 "admins only" r "$al" image copy os mine
equal "a user's POST validate: 403" "$(api "$al" POST /api/images/os/validate '{"version":3}')" 403
equal "refs untouched by users" "$(refs)" "$before"
[ -d "$PIPOL_STATE/store/images/mine" ] && notok "no copy made by a user" || ok "no copy made by a user"
expect_fail 4 "no valid token" env -u PIPOL_STATE -u PIPOL_TOKEN PIPOL_SERVER="$U" HOME="$T" "$P" image list

# admins, through pipold, each change an event naming them
equal "validate" "$(r "$adm" image validate os:3)" "os:3 validated"
expect_fail 7 "image wip:1: is a draft; validate it first" r "$adm" image promote wip:1
expect_fail 6 "image os:9: no such version" r "$adm" image validate os:9
equal "promote" "$(r "$adm" image promote os:3)" "os:3 is current"
grep -qE '^os +3  current' <($P image list) && ok "promote: the store says so" ||
    notok "promote: the store says so"
equal "rollback" "$(r "$adm" image rollback os)" "os:1 is current"
expect_fail 7 "image os: no previous version to roll back to" r "$adm" image rollback os
equal "copy into a new image" "$(r "$adm" image copy os:2 os2)" "os2:1"
equal "copy: the same index" "$($P image show os2:1 | grep 'disk hash')" \
    "$($P image show os:2 | grep 'disk hash')"
before=$(refs)
expect_fail 7 "image os: already exists" r "$adm" image copy os:2 os
expect_fail 7 "image os2: already exists" r "$adm" image copy os os2
equal "copy onto an existing image changes nothing" "$(refs)" "$before"
expect_fail 6 "image os:9: no such version" r "$adm" image copy os:9 os9
equal "the events, with their actor" "$(sql "SELECT actor || ' ' || kind || ' ' ||
    (detail->>'image') || ':' || (detail->>'version') || coalesce(' ' || (detail->>'to') || ':' ||
    (detail->>'new_version'), '') FROM events WHERE kind LIKE 'image.%' ORDER BY id" | tr '\n' ,)" \
    "root1 image.validate os:3,root1 image.promote os:3,root1 image.rollback os:1,root1 image.copy os:2 os2:1,"
equal "refusals write no event" "$(sql "SELECT count(*) FROM events WHERE kind LIKE 'image.%'")" 4

# names, versions, paths
# %2F decodes to '/': more segments than any route has
equal "name ..%2F..%2Fetc: no route (404)" "$(api "$adm" GET /api/images/..%2F..%2Fetc)" 404
equal "name ..%2F..%2Fetc, validate: no route (404)" \
    "$(api "$adm" POST /api/images/..%2F..%2Fetc/validate '{"version":1}')" 404
for n in %2E%2E .hidden UPPER -x a%20b "$(printf 'a%.0s' {1..65})"; do
	equal "name $n: 400" "$(api "$adm" GET "/api/images/$n")" 400
	equal "name $n, validate: 400" "$(api "$adm" POST "/api/images/$n/validate" '{"version":1}')" 400
done
equal "a path under NAME: no route" "$(api "$adm" GET /api/images/os/../../etc)" 404
for b in '{"version":0}' '{"version":2147483648}' '{"version":"1"}' '{"version":-1}' '{}' \
    '{"version":1,"x":1}' '[1]'; do
	equal "validate $b: 400" "$(api "$adm" POST /api/images/os/validate "$b")" 400
done
for q in 0 abc 1x 99999999999 -1 ''; do
	equal "?version=$q: 400" "$(api "$adm" GET "/api/images/os?version=$q")" 400
done
for b in '{}' '{"to":"../x"}' '{"to":"X"}' '{"to":"ok2","version":0}' '{"to":7}'; do
	equal "copy $b: 400" "$(api "$adm" POST /api/images/os/copy "$b")" 400
done
equal "rollback takes no body: 413" "$(api "$adm" POST /api/images/os/rollback '{"x":1}')" 413
[ -z "$(ls "$PIPOL_STATE/store/images" | grep -vxE 'os|os2|wip')" ] &&
    ok "no image made by a refused request" || notok "no image made by a refused request"

# which path: a store named here is used directly, whatever the server
check "--state: the store here, the server unreachable" env -u PIPOL_STATE \
    PIPOL_SERVER=http://127.0.0.1:1 PIPOL_TOKEN=x "$P" image list --state "$PIPOL_STATE"
check "\$PIPOL_STATE: the store here, the server unreachable" env \
    PIPOL_SERVER=http://127.0.0.1:1 PIPOL_TOKEN=x "$P" image list
expect_fail 5 "http://127.0.0.1:1" env -u PIPOL_STATE PIPOL_SERVER=http://127.0.0.1:1 \
    PIPOL_TOKEN=x "$P" image list

# gc holding the store: 503 after a bounded wait, not a hung request
flock -x "$PIPOL_STATE/store/lock" sleep 5 &
fl=$!
sleep 0.5
expect_fail 5 "store busy" r "$adm" image validate os:2
equal "a user's list while gc runs: 503" "$(api "$al" GET /api/images)" 503
wait $fl
equal "after gc: 200" "$(api "$al" GET /api/images)" 200

stop_pipold
