#!/bin/bash
# pipol-agent capture against a real pipold (embedded PostgreSQL): a disk
# captured then deployed comes back byte-identical; a second capture
# uploads only the changed chunk; pipold's capture API refuses a wrong
# hash (422), a non-admin (403), no token (401), bad JSON (400), a big
# body (413) and an index naming a chunk it lacks (409), storing nothing;
# the agent fails with one line and the documented exit status.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
S=$PIPOL_STATE/store
chunks() { find "$S/chunks" -type f 2>/dev/null | wc -l; }
sha() { sha256sum < "$1" | cut -c1-64; }
# chunk FILE I [SIZE]: the raw bytes of chunk I of FILE (4 MiB chunks)
chunk() { dd if="$1" bs="${3:-4M}" skip="$2" count=1 status=none; }

check "pipold starts" start_pipold
tok=$("$D" --add-user root1 --admin 2>/dev/null)
btok=$(PIPOL_SERVER=$U PIPOL_TOKEN=$tok "$P" user add bob)
[[ "$tok" =~ ^[0-9a-f]{64}$ && "$btok" =~ ^[0-9a-f]{64}$ ]] &&
    ok "an admin and a user" || notok "an admin and a user"
cap() { PIPOL_TOKEN=$tok "$A" capture --server "$U" "$@"; }

# a 40 MiB disk: random, text, zero runs, a hole, a short last chunk
mkdisk "$T/d" 41943041
v1=$(cap --image os --source "$T/d" 2> "$T/e1"); rc=$?
equal "capture: exit 0, NAME:VERSION on stdout" "$rc $v1" "0 os:1"
grep -q '^version 1 draft ' "$S/images/os/refs" && ok "a draft in the store" ||
    notok "a draft in the store"
"$A" deploy --base "$U" --image "$v1" --target "$T/t1" 2>/dev/null
same "capture then deploy: byte-identical" "$T/d" "$T/t1"
# the same code as pipol image create: the very same index
PIPOL_STATE=$T/local "$P" image create os --from "$T/d" > /dev/null
same "the index is the one pipol image create makes" "$S/images/os/1.idx" \
    "$T/local/store/images/os/1.idx"
equal "images row" "$(sql "select version, disk_size, encode(disk_hash, 'hex') from images where name = 'os'")" \
    "1|41943041|$(od -An -tx1 -j32 -N32 "$S/images/os/1.idx" | tr -d ' \n')"
equal "capture event" "$(sql "select actor, detail->>'version' from events where kind = 'image.capture'")" "root1|1"
grep -q "capture: os:1 by root1: 41943041 bytes, 11 chunks" "$T/pipold.log" &&
    ok "pipold logs the capture" || notok "pipold logs the capture"

# three bytes change in chunk 2: that chunk alone travels
cp "$T/d" "$T/d2"
printf 'XYZ' | dd of="$T/d2" bs=1 seek=9000000 conv=notrunc status=none
n=$(chunks)
cap --image os --source "$T/d2" --progress-json > "$T/j2" 2> "$T/e2"
equal "second capture: version 2 in the last JSON line" \
    "$(json_field "$T/j2" state) $(json_field "$T/j2" image):$(json_field "$T/j2" version)" "done os:2"
equal "second capture: one chunk uploaded" "$(json_field "$T/j2" uploaded_chunks)" 1
h2=$(chunk "$T/d2" 2 | sha256sum | cut -c1-64)
equal "second capture: the bytes of that chunk's member" "$(json_field "$T/j2" uploaded)" \
    "$(stat -c %s "$S/chunks/$h2.gz" 2>/dev/null)"
equal "second capture: one chunk file more in the store" "$(chunks)" $((n + 1))
equal "second capture: the others found in the store" "$(json_field "$T/j2" known_chunks)" 5
"$A" deploy --base "$U" --image os:2 --target "$T/t1" 2>/dev/null
same "version 2 deployed over version 1: byte-identical" "$T/d2" "$T/t1"
equal "a third capture of the same disk uploads nothing" \
    "$(cap --image os --source "$T/d2" --progress-json 2>/dev/null | json_field /dev/stdin uploaded_chunks)" 0

# a capture into an image with metadata: the new version takes the
# current's (the disk does not say which partition is the root)
"$P" image create laid --from "$T/d" --meta root=2 --meta fstype=ext4 > /dev/null &&
    "$P" image validate laid:1 > /dev/null && "$P" image promote laid:1 > /dev/null
equal "a capture into laid: laid:2" "$(cap --image laid --source "$T/d2" 2>/dev/null)" laid:2
equal "... with laid:1's metadata" "$("$P" image show laid:2 | sed -n '/^meta:/,$p' | grep -oE '(root|fstype)=[a-z0-9]+' | tr '\n' ' ')" \
    "root=2 fstype=ext4 "
equal "... a new image's first capture has none" "$("$P" image show os:2 | grep -cE 'root=')" 0

# zstd, 1 MiB chunks, one thread, one connection
v=$(cap --image oz --source "$T/d2" --codec zstd --chunk-size 1M --threads 1 --connections 1)
"$A" deploy --base "$U" --image "$v" --target "$T/tz" --verify 2>/dev/null
same "zstd, 1 MiB chunks: byte-identical" "$T/d2" "$T/tz"
# memory stays bounded: 64 MiB of random data through 2 threads and 2
# connections (a pool of 8 jobs of 4 MiB and its compress bound)
head -c 64M /dev/urandom > "$T/r"
cap --image rnd --source "$T/r" --threads 2 --connections 2 --progress-json > "$T/jr" 2>/dev/null
rss=$(json_field "$T/jr" peak_rss_kib)
same "random 64 MiB: byte-identical" "$T/r" <("$A" deploy --base "$U" \
    --image "rnd:$(json_field "$T/jr" version)" --target "$T/tr" 2>/dev/null && cat "$T/tr")
if ldd "$A" | grep -q libasan; then
	ok "peak RSS not checked under ASan (shadow memory, quarantine)"
elif [ "${rss:-999999}" -lt 90000 ]; then
	ok "random 64 MiB: peak RSS $rss KiB"
else
	notok "random 64 MiB: peak RSS ${rss:-?} KiB (want < 90000)"
fi

# pipold stops mid-capture and comes back: the agent retries, and the
# image is whole
head -c 32M /dev/urandom > "$T/r2"
n=$(chunks)
PIPOL_TOKEN=$tok "$A" capture --server "$U" --image back --source "$T/r2" \
    --threads 1 --connections 1 --chunk-size 1M --progress-json > "$T/jb" 2> "$T/eb" &
ap=$!
for _ in $(seq 200); do [ "$(chunks)" -ge $((n + 1)) ] && break; sleep 0.02; done
kill "$DPID"; wait "$DPID"; rc=$?; DPID=
equal "pipold stopped mid-capture: exit 0" $rc 0
sleep 1
check "pipold restarts" start_pipold
wait $ap; rc=$?
equal "pipold went away and came back: exit 0" "$rc $(json_field "$T/jb" state)" "0 done"
[ "$(json_field "$T/jb" retries)" -gt 0 ] && ok "requests were retried" ||
    notok "requests were retried ($(json_field "$T/jb" retries))"
"$A" deploy --base "$U" --image "back:$(json_field "$T/jb" version)" --target "$T/tb" 2>/dev/null
same "pipold went away and came back: byte-identical" "$T/r2" "$T/tb"

# the capture API by hand
raw=$T/c; head -c 1048576 /dev/urandom > "$raw"; hc=$(sha "$raw")
gzip -c < "$raw" > "$T/c.gz"
other=$(head -c 100 /dev/urandom | sha256sum | cut -c1-64)
put() {	# put TOKEN FILE LEAF: the HTTP status; the answer in $T/put.out
	curl -s -o "$T/put.out" -w '%{http_code}' -X PUT ${1:+-H "Authorization: Bearer $1"} \
	    --data-binary @"$2" "$U/api/capture/chunks/$3"
}
n=$(chunks)
equal "PUT with a wrong hash: 422" "$(put "$tok" "$T/c.gz" "$other.gz")" 422
grep -q 'hash mismatch' "$T/put.out" && ok "wrong hash: said so" || notok "wrong hash: said so"
equal "PUT without a token: 401" "$(put "" "$T/c.gz" "$hc.gz")" 401
equal "PUT as a non-admin: 403" "$(put "$btok" "$T/c.gz" "$hc.gz")" 403
cat "$T/c.gz" "$T/c.gz" > "$T/cc.gz"
equal "PUT of two members: 422" "$(put "$tok" "$T/cc.gz" "$hc.gz")" 422
head -c 100 "$T/c.gz" > "$T/short.gz"
equal "PUT of a cut member: 422" "$(put "$tok" "$T/short.gz" "$hc.gz")" 422
head -c $((68 * 1048576 + 4097)) /dev/zero > "$T/huge"
equal "PUT over the largest chunk's bound: 413" "$(put "$tok" "$T/huge" "$hc.gz")" 413
equal "refused PUTs stored nothing" "$(chunks)" "$n"
equal "PUT of the right member: 201" "$(put "$tok" "$T/c.gz" "$hc.gz")" 201
same "stored as sent" "$T/c.gz" "$S/chunks/$hc.gz"
equal "PUT again: 200, the stored size" "$(put "$tok" "$T/c.gz" "$hc.gz") $(cat "$T/put.out")" \
    "200 {\"chunk\":\"$hc\",\"size\":$(stat -c %s "$T/c.gz")}"
zstd -q -c "$raw" > "$T/c.zst"
equal "PUT of a zstd frame: 201" "$(put "$tok" "$T/c.zst" "$hc.zst")" 201

ask() {	# ask TOKEN BODY [NAME]
	curl -s -o "$T/ask.out" -w '%{http_code}' ${1:+-H "Authorization: Bearer $1"} \
	    -H 'Content-Type: application/json' --data-binary "$2" "$U/api/capture/${3:-os}/missing"
}
equal "missing: which are there, with their size" \
    "$(ask "$tok" "{\"codec\":\"gzip\",\"hashes\":[\"$hc\",\"$other\"]}") $(cat "$T/ask.out")" \
    "200 {\"missing\":[\"$other\"],\"present\":{\"$hc\":$(stat -c %s "$T/c.gz")}}"
equal "missing: malformed JSON: 400" "$(ask "$tok" '{"codec":"gzip",')" 400
grep -q "malformed JSON" "$T/ask.out" && ok "malformed JSON: said so" || notok "malformed JSON: said so"
equal "missing: unknown field: 400" "$(ask "$tok" '{"codec":"gzip","hashes":[],"x":1}')" 400
grep -q 'unknown field \\"x\\"' "$T/ask.out" && ok "unknown field: named" || notok "unknown field: named"
equal "missing: a bad hash: 400" "$(ask "$tok" '{"codec":"gzip","hashes":["ABC"]}')" 400
equal "missing: a bad codec: 400" "$(ask "$tok" '{"codec":"xz","hashes":[]}')" 400
equal "missing: a bad image name: 400" "$(ask "$tok" '{"codec":"gzip","hashes":[]}' Bad)" 400
{ printf '{"codec":"gzip","hashes":['; for _ in $(seq 2100); do printf '"%s",' "$hc"; done
  printf '"%s"]}' "$hc"; } > "$T/big.json"
equal "missing: oversized body: 413" "$(ask "$tok" @"$T/big.json")" 413
equal "missing: no token: 401" "$(ask "" '{"codec":"gzip","hashes":[]}')" 401
equal "missing: a non-admin: 403" "$(ask "$btok" '{"codec":"gzip","hashes":[]}')" 403

idx() {	# idx TOKEN FILE [NAME]
	curl -s -o "$T/idx.out" -w '%{http_code}' ${1:+-H "Authorization: Bearer $1"} \
	    --data-binary @"$2" "$U/api/capture/${3:-os}/index"
}
refs=$(cat "$S/images/os/refs")
rows=$(sql "select count(*) from images")
mkdisk "$T/d3" 9000001
PIPOL_STATE=$T/local "$P" image create other --from "$T/d3" > /dev/null
h0=$(chunk "$T/d3" 0 | sha256sum | cut -c1-64)
equal "index naming a chunk the store lacks: 409" "$(idx "$tok" "$T/local/store/images/other/1.idx")" 409
grep -q "chunk 0 (offset 0) $h0.gz: not in the store" "$T/idx.out" &&
    ok "409 names the chunk" || { notok "409 names the chunk"; cat "$T/idx.out" >&2; }
cp "$S/images/os/2.idx" "$T/bad.idx"; flip_byte "$T/bad.idx" 200
equal "corrupt index: 422" "$(idx "$tok" "$T/bad.idx")" 422
grep -q "os: index: checksum mismatch" "$T/idx.out" && ok "corrupt index: said so" ||
    { notok "corrupt index: said so"; cat "$T/idx.out" >&2; }
equal "index as a non-admin: 403" "$(idx "$btok" "$S/images/os/2.idx")" 403
equal "index without a token: 401" "$(idx "" "$S/images/os/2.idx")" 401
equal "refused indexes: refs unchanged" "$(cat "$S/images/os/refs")" "$refs"
equal "refused indexes: no row" "$(sql "select count(*) from images")" "$rows"
[ ! -d "$S/images/other" ] && ok "refused index: no image folder" || notok "refused index: no image folder"
equal "an index whose chunks are all there: 201" "$(idx "$tok" "$S/images/os/2.idx" copy) $(cat "$T/idx.out")" \
    '201 {"image":"copy","version":1}'

# the agent's refusals: one line, the documented status
expect_fail 4 "$U: admins only" env PIPOL_TOKEN="$btok" "$A" capture --server "$U" --image os --source "$T/d"
expect_fail 4 "$U: no valid token" env PIPOL_TOKEN="$other" "$A" capture --server "$U" --image os --source "$T/d"
expect_fail 2 "PIPOL_TOKEN: not set" env -u PIPOL_TOKEN "$A" capture --server "$U" --image os --source "$T/d"
expect_fail 2 "PIPOL_TOKEN: not 64 lower-case hex digits" env PIPOL_TOKEN="${tok^^}" \
    "$A" capture --server "$U" --image os --source "$T/d"
expect_fail 5 "http://127.0.0.1:1: unreachable for" \
    timeout 60 env PIPOL_TOKEN="$tok" "$A" capture --server http://127.0.0.1:1 --image os --source "$T/d" --timeout 2
expect_fail 6 "$T/nope: No such file or directory" cap --image os --source "$T/nope"
expect_fail 2 "--chunk-size 3M: not a power of two in 1M..64M" cap --image os --source "$T/d" --chunk-size 3M
expect_fail 2 "--codec xz: not one of gzip, zstd" cap --image os --source "$T/d" --codec xz
expect_fail 2 "--server ftp://x: not an http:// or https:// URL" \
    env PIPOL_TOKEN="$tok" "$A" capture --server ftp://x --image os --source "$T/d"
expect_fail 2 'image name "OS": only a-z' cap --image OS --source "$T/d"
"$A" capture --image os > /dev/null 2> "$T/usage"; rc=$?
equal "missing options: exit 2, one line, then the usage" "$rc $(head -1 "$T/usage" | cut -d: -f2-) $(sed -n 2p "$T/usage" | cut -c1-26)" \
    "2  --server, --image and --source are needed usage: pipol-agent capture"
equal "refused captures changed nothing" "$(cat "$S/images/os/refs")" "$refs"
"$A" capture --help > "$T/help"; rc=$?
equal "capture --help: exit 0" $rc 0
grep -q '^usage: pipol-agent capture --server URL --image NAME --source PATH' "$T/help" &&
    ok "capture --help: the usage" || notok "capture --help: the usage"
curl -sf "$U/health" > /dev/null && ok "pipold still answers" || notok "pipold still answers"
kill "$DPID"; wait "$DPID"; rc=$?; DPID=
equal "SIGTERM: pipold exits 0" $rc 0
grep -E 'Sanitizer|runtime error' "$T/pipold.log" >&2 &&
    notok "pipold: no sanitizer report" || ok "pipold: no sanitizer report"
