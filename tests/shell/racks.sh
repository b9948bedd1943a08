#!/bin/bash
# racks: pipol rack (schema 022, api_rack.c) and the order's sources: a
# node of a rack gets its rack's caches in its order, and its agent (node
# mode, a file for a disk) takes the chunks from the cache (a testhttpd
# server of the same store) and from pipold only the index (pipold's own
# byte counter says so); with the cache down, from pipold; a rack
# removed, its nodes keep none. Admins only change racks; every URL is
# checked. The agent's result says how many bytes each source gave, kept
# with the deployment (schema 025) and shown by pipol status ID; a result
# whose sources are of the wrong form is refused.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
CPID=
extra_cleanup() { [ -n "$CPID" ] && kill "$CPID" 2>/dev/null && wait "$CPID" 2>/dev/null; }

check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice)
as "$adm" node add n1 --mac 52:54:00:00:22:01 --profile virtual > /dev/null
mkdisk "$T/d" 41943041
"$P" image create os --from "$T/d" > /dev/null && "$P" image validate os:1 > /dev/null &&
    "$P" image promote os:1 > /dev/null
token_of() { curl -s "$U/boot/$1" | grep -o 'pipol\.token=[0-9a-f]*' | cut -d= -f2; }
cmdline() { printf 'pipol.server=%s pipol.token=%s\n' "$U" "$1" > "$2"; }
sent() { curl -s -H "Authorization: Bearer $adm" "$U/metrics" | awk '$1 == "pipol_store_sent_bytes_total" { print $2 }'; }
idx=$(stat -c %s "$PIPOL_STATE/store/images/os/1.idx")
chunks=$(du -cb "$PIPOL_STATE"/store/chunks/*/* 2>/dev/null | tail -1 | cut -f1)
[ "${chunks:-0}" -gt 0 ] || chunks=$(find "$PIPOL_STATE/store/chunks" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
# the rack's cache: a server of the same store
"$B/tests/testhttpd" --root "$PIPOL_STATE/store" --listen 127.0.0.1:0 --port-file "$T/cport" \
    --stats-file "$T/cstats" &
CPID=$!
for _ in $(seq 200); do [ -s "$T/cport" ] && break; sleep 0.05; done
C=http://127.0.0.1:$(cat "$T/cport")

# who may, what is taken
expect_fail 4 "admin" as "$al" rack add r1 --cache "$C"
equal "a user: POST /api/racks 403" "$(api "$al" POST /api/racks '{"name":"r1"}')" 403
equal "a bad URL: 400" "$(api "$adm" POST /api/racks '{"name":"r1","caches":["ftp://x"]}')" 400
equal "a URL with a quote: 400" "$(api "$adm" POST /api/racks '{"name":"r1","caches":["http://h\"x"]}')" 400
equal "8 caches: 400" "$(api "$adm" POST /api/racks '{"name":"r1","caches":["http://a","http://b","http://c","http://d","http://e","http://f","http://g","http://h"]}')" 400
equal "a bad name: 400" "$(api "$adm" POST /api/racks '{"name":"R 1"}')" 400
equal "pipol rack add" "$(as "$adm" rack add r1 --cache "$C")" "rack r1"
equal "pipol node set --rack" "$(as "$adm" node set n1 --rack r1)" "n1: rack r1"
expect_fail 6 "rack r9: no such rack" as "$adm" node set n1 --rack r9
as "$al" rack list > "$T/racks"
grep -qE "^r1 +1 +$C$" "$T/racks" && ok "pipol rack list (a user): r1, 1 node, its cache" ||
    { notok "pipol rack list: r1, 1 node, its cache"; cat "$T/racks" >&2; }

# alice deploys n1: the order names the cache; the agent takes the chunks there
as "$al" deploy -n n1 -i os > /dev/null
for _ in $(seq 100); do t=$(token_of 52:54:00:00:22:01); [ -n "$t" ] && break; sleep 0.1; done
curl -s -H "Authorization: Bearer $t" "$U/agent/order" > "$T/order"
equal "the order's sources: the rack's cache" "$(jq -c .sources "$T/order")" "[\"$C\"]"
cmdline "$t" "$T/cmdline"
s0=$(sent)
"$A" --cmdline "$T/cmdline" --target "$T/t1" 2> "$T/a1"
equal "node mode with a rack cache: exit 0" $? 0
same "... the disk written" "$T/d" "$T/t1"
equal "... pipold sent the index only" $(( $(sent) - s0 )) "$idx"
grep -qF "; from $C " "$T/a1" && ok "... the agent says what the cache gave" || { notok "... the agent says what the cache gave"; cat "$T/a1" >&2; }
dep=$(sql "select max(id) from deployments")
equal "... pipold keeps it (schema 025): the cache gave the chunks, pipold none" \
    "$(as "$al" status --json | jq -c --argjson d "$dep" '.deployments[] | select(.id == $d) | [.sources[] | [.url, .bytes > 0, .failed_over]]')" \
    "[[\"$C\",true,0],[\"$U\",false,0]]"
as "$al" status "$dep" | grep -qE "^  chunks from +$C: [0-9.]+ MiB$" && ok "... pipol status ID says so" ||
    { notok "... pipol status ID says so"; as "$al" status "$dep" >&2; }
# a result's sources of the wrong form: 400, nothing kept
res() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t" -d "$1" "$U/agent/result"; }
equal "sources not a list: 400" "$(res '{"state":"ready","sources":{}}')" 400
equal "an ftp:// source: 400" "$(res '{"state":"ready","sources":[{"url":"ftp://x","bytes":1,"failed_over":0}]}')" 400
equal "negative bytes: 400" "$(res '{"state":"ready","sources":[{"url":"http://x","bytes":-1,"failed_over":0}]}')" 400
equal "a space in a URL: 400" "$(res '{"state":"ready","sources":[{"url":"http://x y","bytes":1,"failed_over":0}]}')" 400
equal "a fourth key: 400" "$(res '{"state":"ready","sources":[{"url":"http://x","bytes":1,"failed_over":0,"x":1}]}')" 400
equal "9 sources: 400" "$(res "{\"state\":\"ready\",\"sources\":[$(for i in 1 2 3 4 5 6 7 8 9; do printf '{"url":"http://x","bytes":1,"failed_over":0}%s' "$([ $i -lt 9 ] && echo ,)"; done)]}")" 400
equal "... the deployment's sources unchanged" "$(sql "select jsonb_array_length(sources) from deployments where id = $dep")" 2
curl -s -H "Authorization: Bearer $t" -d '{"state":"ready"}' "$U/agent/result" > /dev/null

# the cache down: from pipold
kill "$CPID"; wait "$CPID" 2>/dev/null; CPID=
as "$al" deploy -n n1 -i os > /dev/null
for _ in $(seq 100); do t=$(token_of 52:54:00:00:22:01); [ -n "$t" ] && break; sleep 0.1; done
cmdline "$t" "$T/cmdline"
s1=$(sent)
"$A" --cmdline "$T/cmdline" --target "$T/t2" 2> "$T/a2"
equal "the rack's cache down: exit 0" $? 0
same "... the disk written" "$T/d" "$T/t2"
[ $(( $(sent) - s1 )) -ge $((chunks / 2)) ] && ok "... pipold sent the chunks" || notok "... pipold sent the chunks ($(( $(sent) - s1 )))"
grep -q "go to the next source" "$T/a2" && ok "... and the agent said so" || notok "... and the agent said so"
dep=$(sql "select max(id) from deployments")
equal "... pipold keeps it: nothing from the cache, chunks moved past it, pipold gave them" \
    "$(as "$al" status --json | jq -c --argjson d "$dep" '.deployments[] | select(.id == $d) | [.sources[] | [.bytes > 0, .failed_over > 0]]')" \
    "[[false,true],[true,false]]"
curl -s -H "Authorization: Bearer $t" -d '{"state":"ready"}' "$U/agent/result" > /dev/null

# a rack removed: its nodes keep none, their orders name no source
expect_fail 4 "admin" as "$al" rack rm r1
equal "pipol rack rm" "$(as "$adm" rack rm r1)" "rack r1 removed"
equal "n1 keeps no rack" "$(sql "select coalesce(rack, '-') from nodes where name = 'n1'")" -
expect_fail 6 "rack r1: no such rack" as "$adm" rack rm r1
as "$al" deploy -n n1 -i os > /dev/null
for _ in $(seq 100); do t=$(token_of 52:54:00:00:22:01); [ -n "$t" ] && break; sleep 0.1; done
curl -s -H "Authorization: Bearer $t" "$U/agent/order" > "$T/order2"
equal "the order's sources: none" "$(jq -c .sources "$T/order2")" "[]"
stop_pipold
