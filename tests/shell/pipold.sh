#!/bin/bash
# pipold, first cut: the embedded PostgreSQL (initdb, start, reuse after
# kill -9, stop), the schema and its constraints, and the store served
# with ETag, immutable caching, If-None-Match and Range; an agent
# deploys through it.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"

mkdisk "$T/d" 9000001
v=$($P image create os --from "$T/d")
# the migrations frontend/schema holds, by number: 1 2 3 ...
MIGS=$(ls "$TOP"/frontend/schema/[0-9]*.sql | sed 's|.*/0*||; s|_.*||' | sort -n | tr '\n' ' ' | sed 's/ $//')
LAST=${MIGS##* }
check "pipold starts with no configuration" start_pipold
grep -q "schema version $LAST, embedded database" "$T/pipold.log" &&
    ok "embedded database, schema applied" || notok "embedded database, schema applied"
equal "migrations recorded" "$(sql "select string_agg(version::text, ' ' order by version) from schema_migrations")" "$MIGS"
# our postmaster (not a system cluster the package may have started)
pm=$(head -1 "$T/state/pg/data/postmaster.pid")
[ -n "$pm" ] && [ -z "$(ss -Hltnp | grep "pid=$pm,")" ] &&
    ok "the embedded PostgreSQL listens on no TCP port" ||
    notok "the embedded PostgreSQL listens on no TCP port"

# the store over HTTP
idx=/images/os/1.idx
h=$(curl -sI "$U$idx")
echo "$h" | grep -qi '^cache-control: public, max-age=31536000, immutable' &&
    ok "index: Cache-Control immutable" || notok "index: Cache-Control immutable"
etag=$(echo "$h" | grep -i '^etag:' | cut -d' ' -f2 | tr -d '\r')
equal "If-None-Match: 304" "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$U$idx")" 304
ch=$(ls "$PIPOL_STATE/store/chunks" | head -1)
size=$(stat -c %s "$PIPOL_STATE/store/chunks/$ch")
equal "chunk ETag is its hash" "$(curl -sI "$U/chunks/$ch" | grep -i '^etag:' | tr -d '\r' | cut -d' ' -f2)" "\"${ch%%.*}\""
curl -s -r 100-199 "$U/chunks/$ch" > "$T/part"
same "Range 100-199: the right bytes" "$T/part" <(dd if="$PIPOL_STATE/store/chunks/$ch" bs=1 skip=100 count=100 status=none)
equal "Range: 206 and Content-Range" "$(curl -s -o /dev/null -r 100-199 -w '%{http_code}' "$U/chunks/$ch") $(curl -sI -r 100-199 "$U/chunks/$ch" | grep -i '^content-range' | tr -d '\r' | cut -d' ' -f2-)" \
    "206 bytes 100-199/$size"
equal "chunks over one keep-alive connection" "$(curl -s -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}' "$U/chunks/$ch" "$U/chunks/$ch" "$U/images/os/1.idx")" 100
equal "Range suffix -10" "$(curl -s -r -10 "$U/chunks/$ch" | wc -c)" 10
equal "Range past the end: 416" "$(curl -s -o /dev/null -w '%{http_code}' -r $((size + 5))- "$U/chunks/$ch")" 416
for bad in "/chunks/../../etc/passwd" "/chunks/${ch%%.*}.txt" "/images/os/../refs" \
    "/images/os/refs" "/images/OS/1.idx" "/store/lock" "/images/os/01.idx"; do
	equal "refused: $bad" "$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$U$bad")" 404
done
equal "POST refused" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U$idx")" 405
"$A" deploy --base "$U" --image "$v" --target "$T/t" 2>/dev/null
same "an agent deploys through pipold" "$T/d" "$T/t"

# the schema keeps double booking impossible, whatever the concurrency
sql "insert into users (name) values ('alice'), ('bob');
     insert into nodes (name, mac, profile) values ('n1', '52:54:00:00:00:01', 'virtual');" >/dev/null
pids=()
for i in $(seq 50); do
	u=$(( i % 2 ? 1 : 2 ))
	psql -X -q -h "$T/state/pg" -U pipol -d pipol -c "
	    with r as (insert into reservations (user_id, queue_id, during)
	        values ($u, 1, tstzrange('2030-01-01 10:00', '2030-01-01 12:00')) returning id)
	    insert into reservation_nodes select id, 1, tstzrange('2030-01-01 10:00', '2030-01-01 12:00') from r" \
	    > /dev/null 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"	# not a bare wait: pipold is a child too
equal "50 concurrent bookings of one slot: one wins" "$(sql 'select count(*) from reservation_nodes')" 1
sql "insert into reservations (user_id, queue_id, during) values (1, 1, '[2030-01-01 12:00, 2030-01-01 13:00)');
     insert into reservation_nodes values (currval('reservations_id_seq'), 1, '[2030-01-01 12:00, 2030-01-01 13:00)');" >/dev/null
equal "the next slot is free" "$(sql 'select count(*) from reservation_nodes')" 2

# users and tokens: shown once, kept hashed, checked on every request
tok=$("$D" --add-user alice2 --admin 2> "$T/add.err")
[[ "$tok" =~ ^[0-9a-f]{64}$ ]] && ok "--add-user prints a 256-bit token" ||
    { notok "--add-user prints a 256-bit token"; cat "$T/add.err" >&2; }
curl -sf "$U/health" > /dev/null && ok "a one-shot --add-user leaves the running database be" ||
    notok "a one-shot --add-user leaves the running database be"
equal "whoami with the token" "$(curl -s -H "Authorization: Bearer $tok" "$U/api/whoami")" \
    '{"user":"alice2","admin":true}'
equal "whoami without a token: 401" "$(curl -s -o /dev/null -w '%{http_code}' "$U/api/whoami")" 401
other=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
equal "whoami with an unknown token: 401" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $other" "$U/api/whoami")" 401
equal "the token is not stored" "$(sql "select count(*) from tokens where encode(hash, 'hex') = '$tok'")" 0
equal "its SHA-256 is" "$(sql "select count(*) from tokens where encode(hash, 'hex') = '$(printf %s "$tok" | sha256sum | cut -c1-64)'")" 1
equal "pipol whoami" "$(PIPOL_SERVER=$U PIPOL_TOKEN=$tok "$P" whoami)" "alice2 (admin)"
mkdir -p "$T/home/.config/pipol"
printf 'server %s\ntoken %s\n' "$U" "$tok" > "$T/home/.config/pipol/config"
equal "pipol whoami from the config file" "$(HOME=$T/home "$P" whoami)" "alice2 (admin)"
expect_fail 4 "$U: no valid token" env PIPOL_SERVER="$U" PIPOL_TOKEN="$other" "$P" whoami
expect_fail 5 "http://127.0.0.1:1: Couldn't connect to server" \
    env PIPOL_SERVER=http://127.0.0.1:1 PIPOL_TOKEN="$tok" "$P" whoami
expect_fail 2 "no server: set PIPOL_SERVER" env -u PIPOL_SERVER HOME="$T" "$P" whoami
# pipol user add: admins only; bodies checked before anything changes
printf 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPipolTestKeyOnly erin@test\n' > "$T/erin.pub"
btok=$(PIPOL_SERVER=$U PIPOL_TOKEN=$tok "$P" user add erin --ssh-key "$T/erin.pub")
[[ "$btok" =~ ^[0-9a-f]{64}$ ]] && ok "pipol user add prints a token" || notok "pipol user add prints a token"
equal "erin's keys stored" "$(sql "select ssh_keys from users where name = 'erin'")" "$(cat "$T/erin.pub")"
equal "erin is no admin" "$(PIPOL_SERVER=$U PIPOL_TOKEN=$btok "$P" whoami)" erin
n=$(sql 'select count(*) from users')
expect_fail 4 "$U: admins only" env PIPOL_SERVER="$U" PIPOL_TOKEN="$btok" "$P" user add carol
expect_fail 7 "user erin: exists" env PIPOL_SERVER="$U" PIPOL_TOKEN="$tok" "$P" user add erin
expect_fail 2 "user Carol: a name is a-z" env PIPOL_SERVER="$U" PIPOL_TOKEN="$tok" "$P" user add Carol
post() { curl -s -o "$T/post.out" -w '%{http_code}' -H "Authorization: Bearer $tok" \
    -H 'Content-Type: application/json' "$@" "$U/api/users"; }
equal "malformed JSON: 400" "$(post --data-binary '{"name": "dave",')" 400
grep -q "malformed JSON" "$T/post.out" && ok "malformed JSON: said so" || notok "malformed JSON: said so"
equal "unknown field: 400" "$(post --data-binary '{"name": "dave", "root": true}')" 400
grep -q 'unknown field \\"root\\"' "$T/post.out" && ok "unknown field: named" || { notok "unknown field: named"; cat "$T/post.out" >&2; }
equal "wrong type: 400" "$(post --data-binary '{"name": 7}')" 400
head -c 100000 /dev/zero | tr '\0' 'x' > "$T/big.json"
equal "oversized body: 413" "$(post --data-binary @"$T/big.json")" 413
equal "nothing changed by refused requests" "$(sql 'select count(*) from users')" "$n"
equal "user.add events logged" "$(sql "select count(*) from events where kind = 'user.add'")" 2
curl -sf "$U/health" > /dev/null && ok "pipold still answers" || notok "pipold still answers"
# nodes: admins add, anyone lists; values checked by the schema
as_admin() { env PIPOL_SERVER="$U" PIPOL_TOKEN="$tok" "$P" "$@"; }
equal "node add" "$(as_admin node add n2 --mac 52:54:00:aa:00:02 --profile uefi --ip 10.9.0.2 --power qemu)" n2
expect_fail 7 "node n3: name or MAC exists" env PIPOL_SERVER="$U" PIPOL_TOKEN="$tok" \
    "$P" node add n3 --mac 52:54:00:aa:00:02 --profile uefi
expect_fail 2 "node n4: bad name, MAC, profile" env PIPOL_SERVER="$U" PIPOL_TOKEN="$tok" \
    "$P" node add n4 --mac 52:54:00:aa:00:04 --profile itanium
expect_fail 2 "node n5: bad name, MAC, profile" env PIPOL_SERVER="$U" PIPOL_TOKEN="$tok" \
    "$P" node add n5 --mac not-a-mac --profile uefi
expect_fail 4 "$U: admins only" env PIPOL_SERVER="$U" PIPOL_TOKEN="$btok" \
    "$P" node add n6 --mac 52:54:00:aa:00:06 --profile virtual
PIPOL_SERVER=$U PIPOL_TOKEN=$btok "$P" node list > "$T/nodes"
grep -qE '^n2 +52:54:00:aa:00:02 +uefi +10.9.0.2 +qemu +local$' "$T/nodes" &&
    ok "node list (any user)" || { notok "node list (any user)"; cat "$T/nodes" >&2; }
equal "refused node adds changed nothing" "$(sql 'select count(*) from nodes')" 2
expect_fail 7 "user alice2: exists" "$D" --add-user alice2
expect_fail 2 "user Bad!: a name is a-z" "$D" --add-user 'Bad!'

# kill -9: nothing lost, the cluster is reused; SIGTERM stops it too
kill -9 "$DPID"; wait "$DPID" 2>/dev/null
check "restart after kill -9" start_pipold
equal "state kept across kill -9" "$(sql 'select count(*) from reservation_nodes')" 2
equal "schema not applied twice" "$(sql 'select count(*) from schema_migrations')" "$(echo $MIGS | wc -w)"
kill "$DPID"; wait "$DPID"; rc=$?; DPID=
equal "SIGTERM: exit 0" $rc 0
runuser -u postgres -- /usr/lib/postgresql/*/bin/pg_ctl -D "$T/state/pg/data" status >/dev/null 2>&1 &&
    notok "SIGTERM stops the embedded PostgreSQL" || ok "SIGTERM stops the embedded PostgreSQL"
expect_fail 2 "--listen nowhere: not ADDR:PORT" "$D" --listen nowhere
"$D" --help | grep -q '^usage: pipold' && ok "pipold --help" || notok "pipold --help"
