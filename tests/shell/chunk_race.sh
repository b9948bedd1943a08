#!/bin/bash
# Concurrent capture uploads of one chunk to a real pipold
# (PUT /api/capture/chunks/HASH.EXT, imagestore/store_chunks.c): every
# upload succeeds, exactly one stores the chunk, every answer gives the
# stored member's size, the stored chunk is right and no temp file is
# left; a corrupt chunk already there is quarantined and replaced, even
# under concurrent uploads.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
S=$PIPOL_STATE/store
UPLOADS=12

check "pipold starts" start_pipold
tok=$("$D" --add-user root1 --admin 2>/dev/null)

# race NAME LEAF FILE...: $UPLOADS PUTs at once, cycling over the
# FILEs (members of the same chunk); statuses in $T/NAME.status,
# answers in $T/NAME.N
race() {
	local name=$1 leaf=$2 i pids=(); shift 2
	local files=("$@")
	for i in $(seq $UPLOADS); do
		curl -s -o "$T/$name.$i" -w '%{http_code}\n' -X PUT \
		    -H "Authorization: Bearer $tok" \
		    --data-binary @"${files[i % ${#files[@]}]}" \
		    "$U/api/capture/chunks/$leaf" > "$T/$name.code.$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	cat "$T/$name".code.* | sort | uniq -c | awk '{print $2 "x" $1}' |
	    paste -sd ' ' > "$T/$name.status"
}
# sizes NAME: the distinct sizes the answers gave
sizes() { cat "$T/$1".[0-9]* | sed 's/.*"size":\([0-9]*\).*/\1/' | sort -u | paste -sd ' '; }
temps() { find "$S/chunks" -name '*.tmp.*' | wc -l; }

for round in 1 2 3; do
	head -c $((3 * 1048576)) /dev/urandom | base64 -w 76 |
	    head -c $((4 * 1048576)) > "$T/raw"	# compressible
	h=$(sha256sum < "$T/raw" | cut -c1-64)
	gzip -1 -c < "$T/raw" > "$T/c1.gz"
	gzip -9 -c < "$T/raw" > "$T/c9.gz"
	race r$round "$h.gz" "$T/c1.gz" "$T/c9.gz"
	equal "round $round: $UPLOADS concurrent PUTs: one 201, the rest 200" \
	    "$(cat "$T/r$round.status")" "200x$((UPLOADS - 1)) 201x1"
	equal "round $round: the stored chunk decodes to the raw bytes" \
	    "$(gzip -dc < "$S/chunks/$h.gz" | sha256sum | cut -c1-64)" "$h"
	equal "round $round: every answer gives the stored size" "$(sizes r$round)" \
	    "$(stat -c %s "$S/chunks/$h.gz")"
	equal "round $round: no temp file left" "$(temps)" 0
done

# a corrupt chunk in place: replaced under concurrent uploads, the bad
# one kept in quarantine
printf 'not a gzip member' > "$S/chunks/$h.gz"
race bad "$h.gz" "$T/c1.gz" "$T/c9.gz"
grep -qv '^20[01]$' "$T"/bad.code.* && notok "over a corrupt chunk: every PUT succeeds (200, 201)" ||
    ok "over a corrupt chunk: every PUT succeeds (200, 201)"
grep -q '201' "$T/bad.status" && ok "over a corrupt chunk: it is stored again (201)" ||
    { notok "over a corrupt chunk: it is stored again (201)"; cat "$T/bad.status" >&2; }
equal "the corrupt chunk is replaced by a right one" \
    "$(gzip -dc < "$S/chunks/$h.gz" | sha256sum | cut -c1-64)" "$h"
equal "the corrupt one is in quarantine" "$(cat "$S/quarantine/$h.gz")" "not a gzip member"
equal "no temp file left" "$(temps)" 0
stop_pipold
