#!/bin/bash
# agent_sources: pipol-agent deploy --cache URL (issue 17 item 1, the
# agent's part): chunks taken from the caches first, shared out over
# several, a chunk a cache fails (no answer, 404, cut) or serves wrong
# (a flipped byte: its CRC32 and SHA-256 say so) taken from the next
# source, the store last; the disk byte for byte every time; the bytes
# each source gave, reported. The caches are tests/tools/testhttpd
# servers of the same store with faults on demand; what each server
# sent is its own count.
. "$(dirname "$0")/../lib.sh"
A=$B/pipol-agent
CPIDS=()
trap 'stop_httpd; for p in "${CPIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT

mkdisk "$T/d" 41943041
v=$("$P" image create os --from "$T/d")
nz=0 chunks=0	# the non-zero chunks and their members' bytes
for ((i = 0; i < 11; i++)); do
	dd if="$T/d" bs=4M skip=$i count=1 status=none > "$T/chunk"
	cmp -s "$T/chunk" <(head -c "$(stat -c %s "$T/chunk")" /dev/zero) && continue
	h=$(sha256sum < "$T/chunk" | cut -c1-64)
	nz=$((nz + 1)) chunks=$((chunks + $(stat -c %s "$PIPOL_STATE/store/chunks/$h.gz")))
done
idx=$(stat -c %s "$PIPOL_STATE/store/images/os/1.idx")
# cache N [FAULTS]: a server of the store, its URL in C[N], counts in $T/cs.N
declare -A C
cache() {
	local n=$1; shift
	rm -f "$T/cp.$n" "$T/cs.$n"
	"$B/tests/testhttpd" --root "$PIPOL_STATE/store" --listen 127.0.0.1:0 \
	    --port-file "$T/cp.$n" --stats-file "$T/cs.$n" "$@" &
	CPIDS+=($!)
	for _ in $(seq 200); do [ -s "$T/cp.$n" ] && break; sleep 0.05; done
	C[$n]=http://127.0.0.1:$(cat "$T/cp.$n")
}
caches_stop() { for p in "${CPIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; CPIDS=(); }
sent() { awk '{print $4}' "$T/cs.$1"; }
src_bytes() { tail -1 "$1" | jq -r "[.sources[] | .bytes] | join(\" \")"; }
run() {	# run TARGET ARGS...: deploy, JSON in TARGET.j, stderr in TARGET.e
	local t=$1; shift
	"$A" deploy --base "$URL" --image "$v" --target "$t" --no-reuse --progress-json "$@" \
	    > "$t.j" 2> "$t.e"
}

# one good cache: every chunk from it, the store sends the index only
start_httpd; cache 1
run "$T/t1" --cache "${C[1]}"
equal "one cache: exit 0" $? 0
same "... byte for byte" "$T/d" "$T/t1"
stop_httpd; caches_stop
equal "... the cache sent the chunks, the store the index" "$(sent 1) $(served_bytes)" "$chunks $idx"
equal "... and the agent says so per source" "$(src_bytes "$T/t1.j")" "$chunks 0"
grep -qF "; from ${C[1]} $chunks, $URL 0" "$T/t1.e" && ok "... in its last line too" ||
    { notok "... in its last line too"; cat "$T/t1.e" >&2; }

# two caches share the chunks out
start_httpd; cache 1; cache 2
run "$T/t2" --cache "${C[1]}" --cache "${C[2]}"
same "two caches: byte for byte" "$T/d" "$T/t2"
stop_httpd; caches_stop
[ "$(sent 1)" -gt 0 ] && [ "$(sent 2)" -gt 0 ] && [ $(( $(sent 1) + $(sent 2) )) = "$chunks" ] &&
    [ "$(served_bytes)" = "$idx" ] && ok "... both gave chunks ($(sent 1) + $(sent 2)), the store none" ||
    notok "... both gave chunks ($(sent 1) + $(sent 2) of $chunks), the store $(served_bytes)"

# a cache that is not there: everything from the store, said once
start_httpd
run "$T/t3" --cache http://127.0.0.1:1
equal "a dead cache: exit 0" $? 0
same "... byte for byte" "$T/d" "$T/t3"
stop_httpd
equal "... the store sent it all" "$(served_bytes)" $((chunks + idx))
equal "... said once" "$(grep -c 'go to the next source' "$T/t3.e")" 1

# a cache that serves a wrong byte in one member, one that answers 404
# to one chunk: those chunks from the store, the rest from the caches
start_httpd; cache 1 --corrupt .gz:1; cache 2 --status .gz:404:1
run "$T/t4" --cache "${C[1]}" --cache "${C[2]}"
equal "a lying cache and a missing chunk: exit 0" $? 0
same "... byte for byte" "$T/d" "$T/t4"
stop_httpd; caches_stop
s=$(served_bytes)
[ "$s" -gt "$idx" ] && [ "$s" -lt $((chunks + idx)) ] &&
    ok "... the store sent only what the caches failed ($((s - idx)) of $chunks bytes)" ||
    notok "... the store sent only what the caches failed ($((s - idx)) of $chunks bytes)"
grep -qE "chunk [0-9]+ from ${C[1]}: (CRC mismatch|hash mismatch|corrupt)" "$T/t4.e" && ok "... the wrong member named" ||
    { notok "... the wrong member named"; cat "$T/t4.e" >&2; }
equal "... failed over: one chunk from each cache" "$(tail -1 "$T/t4.j" | jq -r '[.sources[] | .failed_over] | join(" ")')" "1 1 0"

# the store itself still judged as before: a wrong member from it is
# fetched again from it (the last source), then the run fails
start_httpd --corrupt "$h.gz:3"; cache 1 --corrupt "$h.gz:99"	# one chunk
run "$T/t5" --cache "${C[1]}"; rc=$?
stop_httpd; caches_stop
equal "wrong at the cache and 3 times at the store: exit 3" $rc 3
grep -qE "chunk [0-9]+ \(offset [0-9]+\): (CRC mismatch|hash mismatch|corrupt.*) after 3 fetches" "$T/t5.e" &&
    ok "... naming the chunk" || { notok "... naming the chunk"; cat "$T/t5.e" >&2; }

expect_fail 2 "--cache ftp://x: not an http:// or https:// URL" "$A" deploy --base http://127.0.0.1:1 \
    --image os:1 --target "$T/x" --cache ftp://x
args=(); for i in 1 2 3 4 5 6 7 8; do args+=(--cache "http://127.0.0.1:$i"); done
expect_fail 2 "--cache http://127.0.0.1:8: 7 caches at most" "$A" deploy --base http://127.0.0.1:1 \
    --image os:1 --target "$T/x" "${args[@]}"
