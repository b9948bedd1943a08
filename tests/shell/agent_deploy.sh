#!/bin/bash
# pipol-agent deploy in host mode, against a real HTTP server on
# loopback: byte identity on a file and a loop device, zero and reuse
# skipping (counted by the server), corrupt and truncated chunks, a
# server that dies and comes back, kill -9 + resume, bad inputs.
. "$(dirname "$0")/../lib.sh"
A=$B/pipol-agent
trap 'stop_httpd; [ -n "${LOOP:-}" ] && losetup -d "$LOOP"; rm -rf "$T"' EXIT

# a 40 MiB disk: random, text, zero runs, a short last chunk
mkdisk "$T/d" 41943041
head -c 4194304 /dev/urandom | dd of="$T/d" bs=1M seek=20 conv=notrunc status=none
v1=$($P image create os --from "$T/d")
cp "$T/d" "$T/d2"; printf 'v2!' | dd of="$T/d2" bs=1 seek=22000000 conv=notrunc status=none
v2=$($P image create os --from "$T/d2")
zst=$($P image create oz --from "$T/d" --codec zstd --chunk-size 1M)
start_httpd
deploy() { "$A" deploy --base "$URL" "$@"; }

# first deploy to a file: identical, zero chunks never fetched
deploy --image "$v1" --target "$T/t1" --progress-json > "$T/j1" 2> "$T/e1"
equal "deploy to a file: exit 0" $? 0
same "deploy to a file: byte-identical" "$T/d" "$T/t1"
equal "final line says done" "$(json_field "$T/j1" state)" done
want=0	# members of the non-zero chunks, from the raw disk
for ((i = 0; i < 11; i++)); do
	dd if="$T/d" bs=4M skip=$i count=1 status=none > "$T/chunk"
	cmp -s "$T/chunk" <(head -c "$(stat -c %s "$T/chunk")" /dev/zero) && continue
	h=$(sha256sum < "$T/chunk" | cut -c1-64)
	want=$((want + $(stat -c %s "$PIPOL_STATE/store/chunks/$h.gz")))
done
equal "fetched exactly the non-zero members" "$(json_field "$T/j1" fetched)" "$want"
[ "$(json_field "$T/j1" zero)" -gt 0 ] && ok "zero chunks counted" || notok "zero chunks counted"
deploy --image "$zst" --target "$T/tz" --verify 2> "$T/ez"
same "zstd image, 1 MiB chunks, --verify" "$T/d" "$T/tz"
grep -q "; verified" "$T/ez" && ok "--verify reported" || notok "--verify reported"

# redeploy onto a target that holds it: nothing fetched (server count)
stop_httpd; start_httpd
deploy --image "$v1" --target "$T/t1" --progress-json > "$T/j2" 2>/dev/null
stop_httpd
equal "redeploy: server sent nothing" "$(served_bytes)" \
    "$(stat -c %s "$PIPOL_STATE/store/images/os/1.idx")"
equal "redeploy: agent fetched nothing" "$(json_field "$T/j2" fetched)" 0
same "redeploy: still identical" "$T/d" "$T/t1"
# the previous holder plants bytes in chunk 1 keeping its CRC32: reuse
# decides by SHA-256, so the chunk is fetched and written again
cp "$T/t1" "$T/t1.before"
"$B/tests/crcforge" "$T/t1" 4194304 4194304
cmp -s "$T/t1" "$T/t1.before" && notok "crcforge changed the target" || ok "crcforge changed the target"
start_httpd
deploy --image "$v1" --target "$T/t1" --progress-json > "$T/jp" 2>/dev/null
stop_httpd
same "planted block with the same CRC32: replaced" "$T/d" "$T/t1"
h1=$(dd if="$T/d" bs=4M skip=1 count=1 status=none | sha256sum | cut -c1-64)
equal "planted block: only its chunk fetched" "$(json_field "$T/jp" fetched)" \
    "$(stat -c %s "$PIPOL_STATE/store/chunks/$h1.gz")"
# onto the previous version: only the changed chunk travels
start_httpd
deploy --image "$v2" --target "$T/t1" --progress-json > "$T/j3" 2>/dev/null
stop_httpd
same "previous version -> v2: identical" "$T/d2" "$T/t1"
one=$(( $(served_bytes) - $(stat -c %s "$PIPOL_STATE/store/images/os/2.idx") ))
ch=$(dd if="$T/d2" bs=4M skip=5 count=1 status=none | sha256sum | cut -c1-64)
equal "previous version: one chunk fetched" "$one" \
    "$(stat -c %s "$PIPOL_STATE/store/chunks/$ch.gz")"
# --no-reuse fetches everything again
start_httpd
deploy --image "$v2" --target "$T/t1" --no-reuse --progress-json > "$T/j4" 2>/dev/null
equal "--no-reuse fetches every non-zero chunk" "$(json_field "$T/j4" reused)" 0
# a block device (loop)
LOOP=$(losetup -f --show "$(truncate -s 48M "$T/loopfile" && echo "$T/loopfile")") ||
    notok "loop device available"
if [ -n "$LOOP" ]; then
	deploy --image "$v1" --target "$LOOP" --verify 2>/dev/null
	equal "deploy to a loop device: exit 0" $? 0
	cmp -s -n 41943041 "$T/d" "$LOOP" && ok "loop device: byte-identical" ||
	    notok "loop device: byte-identical"
	truncate -s 16M "$T/small"; SMALL=$(losetup -f --show "$T/small")
	expect_fail 1 "$SMALL: 16777216 bytes, the image needs 41943041" \
	    "$A" deploy --base "$URL" --image "$v1" --target "$SMALL"
	losetup -d "$SMALL"
fi
stop_httpd

# a corrupt member is fetched again and the disk still comes out right
start_httpd --corrupt "$ch.gz"
deploy --image "$v2" --target "$T/t5" --progress-json > "$T/j5" 2>/dev/null
equal "corrupt once: exit 0" $? 0
equal "corrupt once: one refetch" "$(json_field "$T/j5" refetches)" 1
same "corrupt once: identical" "$T/d2" "$T/t5"
stop_httpd
# always corrupt: fails naming the chunk, never says done
start_httpd --corrupt "$ch.gz:100"
expect_fail 3 "chunk 5 (offset 20971520): CRC mismatch after 3 fetches" \
    "$A" deploy --base "$URL" --image "$v2" --target "$T/t6"
deploy --image "$v2" --target "$T/t6" --progress-json > "$T/j6" 2>/dev/null
equal "corrupt always: last line says failed" "$(json_field "$T/j6" state)" failed
grep -q '"state":"done"' "$T/j6" && notok "corrupt always: never done" || ok "corrupt always: never done"
stop_httpd
# a server (or cache) serving a member that decodes cleanly, with the
# right length and CRC32, to other bytes: only SHA-256 catches it
dd if="$T/d" bs=4M skip=5 count=1 status=none > "$T/c5"
"$B/tests/crcforge" "$T/c5" 0 4194304
cp "$T/d" "$T/fd"; dd if="$T/c5" of="$T/fd" bs=4M seek=5 conv=notrunc status=none
PIPOL_STATE=$T/fs $P image create f --from "$T/fd" >/dev/null
h5=$(dd if="$T/d" bs=4M skip=5 count=1 status=none | sha256sum | cut -c1-64)
f5=$(sha256sum < "$T/c5" | cut -c1-64)
cp -r "$PIPOL_STATE/store" "$T/forged"
cp "$T/fs/store/chunks/$f5.gz" "$T/forged/chunks/$h5.gz"
equal "forged member: same length as the real one" \
    "$(stat -c %s "$T/forged/chunks/$h5.gz")" "$(stat -c %s "$PIPOL_STATE/store/chunks/$h5.gz")"
"$B/tests/testhttpd" --root "$T/forged" --listen 127.0.0.1:0 --port-file "$T/fport" & FP=$!
for _ in $(seq 100); do [ -s "$T/fport" ] && break; sleep 0.05; done
expect_fail 3 "chunk 5 (offset 20971520): hash mismatch after 3 fetches" \
    "$A" deploy --base "http://127.0.0.1:$(cat "$T/fport")" --image "$v1" --target "$T/tf"
kill $FP; wait $FP 2>/dev/null

# a body cut short: retried
start_httpd --truncate "$ch.gz:2"
deploy --image "$v2" --target "$T/t7" 2>/dev/null
equal "truncated bodies: retried, exit 0" $? 0
same "truncated bodies: identical" "$T/d2" "$T/t7"
stop_httpd
# 503s: retried with backoff
start_httpd --fail-first 3
deploy --image "$v2" --target "$T/t8" 2>/dev/null
same "503s: retried, identical" "$T/d2" "$T/t8"
stop_httpd

# the server dies mid-transfer and comes back a second later
start_httpd --exit-after 4 --delay-ms 20
"$A" deploy --base "$URL" --image "$v2" --target "$T/t9" --resume-file "$T/r9" 2> "$T/e9" &
ap=$!
wait "$HP" 2>/dev/null
sleep 1
start_httpd
wait $ap; equal "server died and came back: exit 0" $? 0
same "server died and came back: identical" "$T/d2" "$T/t9"
[ ! -e "$T/r9" ] && ok "resume file removed on success" || notok "resume file removed on success"
stop_httpd

# kill -9 mid-deploy, then the same command resumes: byte-identical
lines() { cat "$1" 2>/dev/null | wc -l; }
PORT=0 start_httpd --delay-ms 700
# the agent itself in the background: $! must be its pid, not a subshell's
"$A" deploy --base "$URL" --image "$v2" --target "$T/t10" --resume-file "$T/r10" \
    --threads 1 --connections 1 2>/dev/null &
ap=$!
for _ in $(seq 100); do [ "$(lines "$T/r10")" -ge 3 ] && break; sleep 0.1; done
kill -9 $ap; wait $ap 2>/dev/null
rec=$(( $(lines "$T/r10") - 1 ))
[ "$rec" -ge 2 ] && ok "resume file recorded chunks before the kill" || notok "resume file recorded chunks before the kill ($rec)"
stop_httpd; start_httpd
deploy --image "$v2" --target "$T/t10" --resume-file "$T/r10" --no-reuse --progress-json > "$T/j10" 2> "$T/e10"
equal "kill -9 + resume: exit 0" $? 0
same "kill -9 + resume: identical" "$T/d2" "$T/t10"
grep -q "resuming: $rec chunks already written" "$T/e10" && ok "resume skipped recorded chunks" ||
    { notok "resume skipped recorded chunks"; cat "$T/e10" >&2; }
[ "$(json_field "$T/j10" resumed)" -gt 0 ] && ok "resumed bytes counted" || notok "resumed bytes counted"

# bad inputs: clear line, non-zero exit
expect_fail 6 "no image os:9 there" "$A" deploy --base "$URL" --image os:9 --target "$T/x"
cp -r "$PIPOL_STATE/store" "$T/bad"
head -c 300 "$PIPOL_STATE/store/images/os/1.idx" > "$T/bad/images/os/1.idx"
rm "$T/bad/chunks/$ch.gz"
stop_httpd
"$B/tests/testhttpd" --root "$T/bad" --listen 127.0.0.1:0 --port-file "$T/badport" & BP=$!
for _ in $(seq 100); do [ -s "$T/badport" ] && break; sleep 0.05; done
BURL=http://127.0.0.1:$(cat "$T/badport")
expect_fail 3 "/images/os/1.idx: index: length 300 does not match its header" \
    "$A" deploy --base "$BURL" --image os:1 --target "$T/x"
expect_fail 6 "chunk 5 (offset 20971520): $BURL/chunks/$ch.gz: HTTP 404 after 3 attempts" \
    "$A" deploy --base "$BURL" --image os:2 --target "$T/x2"
kill $BP; wait $BP 2>/dev/null
expect_fail 5 "http://127.0.0.1:1/images/os/1.idx: Failed to connect to 127.0.0.1 port 1" \
    timeout 60 "$A" deploy --base http://127.0.0.1:1 --image os:1 --target "$T/x" --timeout 2
expect_fail 2 "--image os: not NAME:VERSION" "$A" deploy --base "$URL" --image os --target "$T/x"
expect_fail 2 "--base ftp://x: not an http:// or https:// URL" "$A" deploy --base ftp://x --image os:1 --target "$T/x"
expect_fail 2 "--threads 0: not in 1..64" "$A" deploy --base "$URL" --image os:1 --target "$T/x" --threads 0

# node mode: the kernel command line is checked before anything is sent
tok=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "quiet pipol.server=http://10.0.0.1:8080 pipol.token=${tok:0:63}" > "$T/c1"
expect_fail 2 "pipol.token: 63 characters, expected 64 hex digits" "$A" --cmdline "$T/c1"
echo "pipol.server=http://10.0.0.1:8080 pipol.token=${tok^^}" > "$T/c2"
expect_fail 2 "pipol.token: not 64 lower-case hex digits" "$A" --cmdline "$T/c2"
echo "pipol.server=ftp://x pipol.token=$tok" > "$T/c3"
expect_fail 2 "pipol.server=ftp://x: not an http:// or https:// URL" "$A" --cmdline "$T/c3"
echo "root=/dev/sda pipol.token=$tok" > "$T/c4"
expect_fail 2 "$T/c4: no pipol.server=" "$A" --cmdline "$T/c4"
echo "pipol.server=http://127.0.0.1:1 pipol.token=$tok" > "$T/c5"
"$A" --cmdline "$T/c5" --timeout 2 2> "$T/e5"; rc=$?
equal "node mode: no pipold there: exit 5 after --timeout" $rc 5
grep -q "http://127.0.0.1:1/agent/order: unreachable for [0-9]* s ([0-9]* attempts): .*Couldn't connect to server" "$T/e5" &&
    ok "node mode: says which server it could not reach" || { notok "node mode: says which server it could not reach"; cat "$T/e5" >&2; }
grep -q "$tok" "$T/e5" && notok "the token is never printed" || ok "the token is never printed"

# --preloaded (a virtual node's overlay on its base holds the image):
# the index only is fetched, nothing written; --verify still checks it
cp "$T/d" "$T/pre"
start_httpd
deploy --image "$v1" --target "$T/pre" --preloaded --verify --progress-json > "$T/jpre" 2> "$T/epre"
equal "--preloaded --verify on a disk holding it: exit 0" $? 0
stop_httpd
equal "--preloaded: the server sent the index only" "$(served_bytes)" \
    "$(stat -c %s "$PIPOL_STATE/store/images/os/1.idx")"
same "--preloaded: the disk untouched" "$T/d" "$T/pre"
cp "$T/d2" "$T/pre2"
start_httpd
deploy --image "$v1" --target "$T/pre2" --preloaded --verify 2> "$T/epre2"
equal "--preloaded --verify on a disk holding another version: exit 3" $? 3
stop_httpd
same "... and nothing written to it" "$T/d2" "$T/pre2"
head -c 1000 "$T/d" > "$T/short"
start_httpd
expect_fail 3 "$T/short: 1000 bytes cannot hold os:1 (41943041 bytes), which --preloaded says it holds" \
    deploy --image "$v1" --target "$T/short" --preloaded
expect_fail 1 "$T/nosuch: No such file or directory" deploy --image "$v1" --target "$T/nosuch" --preloaded
stop_httpd
[ ! -e "$T/nosuch" ] && ok "--preloaded never creates the target" || notok "--preloaded never creates the target"
