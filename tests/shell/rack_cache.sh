#!/bin/bash
# rack_cache: pipol cache config RACK (issue 17 item 2), run by a real
# nginx (nginx-light) in front of a real pipold: the configuration
# parses; only the store's paths pass (tokens never reach a cache); an
# agent deploying through the cache gets the disk byte for byte, the
# chunks cached at the first deploy (pipold's own byte counter says
# what it sent) and served from the cache at the next; three agents
# missing at once make one upstream request per chunk (proxy_cache_lock);
# an agent given the cache then pipold (--cache, --base) takes the
# chunks from the cache, and from pipold when the cache is down;
# a cache that holds a wrong chunk cannot make an agent accept it; bad
# values never reach the file.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
A=$B/pipol-agent NPID=
extra_cleanup() { [ -n "$NPID" ] && kill "$NPID" 2>/dev/null && wait "$NPID" 2>/dev/null; }
command -v nginx > /dev/null || { notok "nginx (tests/deps.sh test installs nginx-light)"; exit 1; }

check "pipold starts" start_pipold
adm=$(new_user root --admin)
mkdisk "$T/d" 41943041
"$P" image create os --from "$T/d" > /dev/null && "$P" image validate os:1 > /dev/null
CP=$(free_port) C=http://127.0.0.1:$CP
mkdir -p "$T/rc"
sent() {	# what pipold's store sent so far (its /metrics counter)
	curl -s -H "Authorization: Bearer $adm" "$U/metrics" |
	    awk '$1 == "pipol_store_sent_bytes_total" { print $2 }'
}
nginx_up() {
	nginx -c "$T/nginx.conf" -g 'daemon off;' 2>> "$T/nginx.err" &
	NPID=$!
	for _ in $(seq 100); do curl -sf "$C/health" > /dev/null && return 0; sleep 0.1; done
	return 1
}
nginx_down() { kill "$NPID"; wait "$NPID" 2>/dev/null; NPID=; }

as "$adm" cache config r1 --listen "127.0.0.1:$CP" --upstream "$U" --dir "$T/rc" > "$T/nginx.conf"
equal "cache config: exit 0" $? 0
check "nginx -t accepts it" nginx -t -q -c "$T/nginx.conf"
check "nginx serves it" nginx_up
equal "/health" "$(curl -s "$C/health")" "pipol cache r1"
for p in /api/whoami /boot/52:54:00:00:00:01 /agent/order /metrics /web /images/os/current /chunks/x.gz; do
	equal "$p: not through the cache (404)" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $adm" "$C$p")" 404
done

nz=0	# the disk's non-zero chunks
for ((i = 0; i < 11; i++)); do
	cmp -s <(dd if="$T/d" bs=4M skip=$i count=1 status=none) <(head -c 4194304 /dev/zero) || nz=$((nz + 1))
done
s0=$(sent)
"$A" deploy --base "$C" --image os:1 --target "$T/t1" 2> "$T/e1"
equal "an agent through the cache: exit 0" $? 0
same "... byte for byte" "$T/d" "$T/t1"
s1=$(sent)
equal "first deploy: $nz chunks from pipold, each a MISS" "$(grep -c '"GET /chunks/.* MISS$' "$T/rc/access.log")" "$nz"
"$A" deploy --base "$C" --image os:1 --target "$T/t2" 2> "$T/e2"
same "a second agent: byte for byte" "$T/d" "$T/t2"
equal "... every chunk a HIT" "$(grep -c '"GET /chunks/.* HIT$' "$T/rc/access.log")" "$nz"
s2=$(sent)
equal "... and pipold sent nothing more (its counter: $((s1 - s0)) bytes, then $((s2 - s1)))" "$s2" "$s1"

# wiped: the cache fills again; three agents missing at once
nginx_down
rm -rf "$T/rc/cache" "$T/rc/access.log"
check "a wiped cache starts again" nginx_up
s3=$(sent)
pids=()
for n in 3 4 5; do "$A" deploy --base "$C" --image os:1 --target "$T/t$n" --connections 8 2> "$T/e$n" & pids+=($!); done
wait "${pids[@]}"
for n in 3 4 5; do same "3 agents at once: agent $((n - 2)) byte for byte" "$T/d" "$T/t$n"; done
s4=$(sent)
idx=$(stat -c %s "$PIPOL_STATE/store/images/os/1.idx")
chunks=$(( $(du -cb $(grep -o '/chunks/[0-9a-f]*\.gz' "$T/rc/access.log" | sort -u | sed "s|^|$PIPOL_STATE/store|") | tail -1 | cut -f1) ))
[ $((s4 - s3)) -le $((chunks + 3 * idx)) ] && ok "3 agents at once: pipold sent each chunk once ($((s4 - s3)) bytes for $chunks of chunks)" ||
    notok "3 agents at once: pipold sent each chunk once ($((s4 - s3)) bytes for $chunks of chunks)"

# the agent's sources in order: the cache, then pipold (--base)
s5=$(sent)
"$A" deploy --base "$U" --cache "$C" --image os:1 --target "$T/t7" 2> "$T/e7"
same "--cache the rack cache --base pipold: byte for byte" "$T/d" "$T/t7"
equal "... pipold sent the index only" $(( $(sent) - s5 )) "$idx"

# a wrong chunk in the cache: refused by its hash, never written as good
# (the largest cached chunk: 100 bytes from its end is in its body, not
# in the headers nginx keeps before it)
f=$(ls -S $(grep -rl -a "KEY: /chunks/" "$T/rc/cache") | head -1)
size=$(stat -c %s "$f")
flip_byte "$f" $((size - 100))
"$A" deploy --base "$C" --image os:1 --target "$T/t6" --no-reuse 2> "$T/e6"; rc=$?
equal "a corrupt cached chunk: the agent fails (exit 3)" "$rc" 3
grep -qE "chunk [0-9]+ \(offset [0-9]+\): " "$T/e6" && ok "... naming the chunk" || { notok "... naming the chunk"; cat "$T/e6" >&2; }
nginx_down
s6=$(sent)
"$A" deploy --base "$U" --cache "$C" --image os:1 --target "$T/t8" 2> "$T/e8"
same "the rack cache down: byte for byte from pipold" "$T/d" "$T/t8"
equal "... pipold sent the chunks and the index" $(( $(sent) - s6 )) $((chunks + idx))

# bad values never reach the file
expect_fail 2 "R1!: a rack name is 1 to 32 of a-z 0-9 - _" "$P" cache config 'R1!' --upstream "$U"
expect_fail 2 '--listen 80;evil: not [ADDR:]PORT' "$P" cache config r1 --upstream "$U" --listen '80;evil'
expect_fail 2 '--upstream http://h;x: not http://HOST[:PORT]' "$P" cache config r1 --upstream 'http://h;x'
expect_fail 2 '--upstream https://h: not http://HOST[:PORT]' "$P" cache config r1 --upstream 'https://h'
expect_fail 2 '--dir rel: an absolute path' "$P" cache config r1 --upstream "$U" --dir rel
expect_fail 2 '--dir /a/../b: an absolute path' "$P" cache config r1 --upstream "$U" --dir /a/../b
expect_fail 2 '--size 10M: a size of 1G or more' "$P" cache config r1 --upstream "$U" --size 10M
expect_fail 2 'no --upstream, and no server known' env -u PIPOL_SERVER HOME=$T "$P" cache config r1
