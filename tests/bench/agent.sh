#!/bin/bash
# agent.sh -- the agent's table: writing the cached 2 GiB Debian disk onto
# a file on the local disk, over loopback, in one run on this machine:
# the 2009 path (nc | gunzip), nc | pigz -d, nc | zstd -d --sparse,
# pipol-agent (empty target, target holding the image, target holding
# the previous version), and dd oflag=direct as the write limit. Every
# timing includes sync; the page cache is dropped before each run, then
# the run's source (the .gz, the .zst, the store's chunk files) is read
# once into it: a deployment server holds its images in memory, and it
# keeps the measure on the node's side, the same way for every method.
set -euo pipefail
cd "$(dirname "$0")/../.."
TOP=$PWD
B=$TOP/${B:-build}
P=$B/pipol A=$B/pipol-agent H=$B/tests/testhttpd
C=${PIPOL_CACHE:-/var/cache/pipol}/bench
D=$C/disk.raw D2=$C/disk-v2.raw
W=$(mktemp -d /var/tmp/pipol-agent-bench.XXXXXX)
TGT=$W/target
HP=
trap '[ -n "$HP" ] && kill $HP 2>/dev/null; rm -rf "$W"' EXIT
export PIPOL_STATE=$W/state
SIZE=$(stat -c %s "$D")
CS=4194304
declare -A secs fetched rss

now() { date +%s.%N; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; cat "$@" > /dev/null; }
elapsed() { echo "$2 - $1" | bc -l; }

echo "agent bench: $D ($((SIZE >> 20)) MiB), $(nproc) cores, target $TGT"
echo "preparing: store (gzip codec), .gz and .zst copies ..."
"$P" image create b --from "$D" >/dev/null
"$P" image create b --from "$D2" >/dev/null
pigz -6 -c "$D" > "$W/disk.gz"
zstd -3 -T0 -q -c "$D" > "$W/disk.zst"
"$P" image create bz --from "$D" --codec zstd >/dev/null
"$H" --root "$PIPOL_STATE/store" --listen 127.0.0.1:0 --port-file "$W/port" &
HP=$!
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.05; done
URL=http://127.0.0.1:$(cat "$W/port")

# pipe LABEL COMPRESSED DECODER...: nc sends the file, nc | DECODER writes
pipe() {
	local label=$1 file=$2 port=$((20000 + RANDOM % 20000)) t0 t1; shift 2
	rm -f "$TGT"; drop "$file"
	t0=$(now)
	nc -l 127.0.0.1 $port | "$@" &
	local rp=$!
	for _ in $(seq 100); do ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.01; done
	nc -N 127.0.0.1 $port < "$file"
	wait $rp; sync
	t1=$(now)
	secs[$label]=$(elapsed "$t0" "$t1"); fetched[$label]=$(stat -c %s "$file")
	rss[$label]=-
	cmp -s "$D" "$TGT" || { echo "bench: $label: target differs" >&2; exit 1; }
}
gunzip_to() { gzip -dc > "$TGT"; }
pigz_to() { pigz -dc > "$TGT"; }
zstd_to() { zstd -dq --sparse -o "$TGT" -f; }

# agent LABEL IMAGE [prepare]: deploy onto $TGT as it is
agent() {
	local label=$1 image=$2 t0 t1
	drop "$PIPOL_STATE"/store/chunks/*
	t0=$(now)
	"$A" deploy --base "$URL" --image "$image" --target "$TGT" \
	    --progress-json > "$W/j" 2>/dev/null
	sync
	t1=$(now)
	secs[$label]=$(elapsed "$t0" "$t1")
	fetched[$label]=$(tail -1 "$W/j" | grep -o '"fetched":[0-9]*' | cut -d: -f2)
	rss[$label]=$(( $(tail -1 "$W/j" | grep -o '"peak_rss_kib":[0-9]*' | cut -d: -f2) / 1024 ))
}

# the same bytes the agent writes, in one dd (one dd per chunk would
# measure process start-up, not the disk)
nonzero=()
for ((i = 0; i < (SIZE + CS - 1) / CS; i++)); do
	dd if="$D" bs=$CS skip=$i count=1 status=none | cmp -s - <(head -c $CS /dev/zero) ||
	    nonzero+=("$i")
done
for i in "${nonzero[@]}"; do dd if="$D" bs=$CS skip="$i" count=1 status=none; done > "$W/nonzero.raw"
nzbytes=$(( ${#nonzero[@]} * CS ))

# dd_direct LABEL SOURCE: the write limit, source already in memory
dd_direct() {
	local t0 t1
	rm -f "$TGT"; drop "$2"
	t0=$(now); dd if="$2" of="$TGT" bs=4M oflag=direct status=none; sync; t1=$(now)
	secs[$1]=$(elapsed "$t0" "$t1"); fetched[$1]=-; rss[$1]=-
}

# Rounds of every method in turn; each figure is the median of its
# rounds: this machine's speed drifts by +-20 % over minutes, and
# interleaving spreads the drift over every method alike.
ROUNDS=${BENCH_ROUNDS:-3}
declare -A all
keep() { all[$1]="${all[$1]:-} ${secs[$1]}"; }
for ((r = 1; r <= ROUNDS; r++)); do
	echo "round $r of $ROUNDS ..."
	pipe "2009: nc | gunzip" "$W/disk.gz" gunzip_to; keep "2009: nc | gunzip"
	pipe "nc | pigz -d" "$W/disk.gz" pigz_to; keep "nc | pigz -d"
	pipe "nc | zstd -d --sparse" "$W/disk.zst" zstd_to; keep "nc | zstd -d --sparse"
	rm -f "$TGT"; agent "agent, zstd image" bz:1; keep "agent, zstd image"
	cmp -s "$D" "$TGT" || { echo "bench: agent zstd: target differs" >&2; exit 1; }
	rm -f "$TGT"; agent "agent, empty target" b:1; keep "agent, empty target"
	cmp -s "$D" "$TGT" || { echo "bench: agent: target differs" >&2; exit 1; }
	agent "agent, holds the image" b:1; keep "agent, holds the image"
	agent "agent, holds v1 -> v2" b:2; keep "agent, holds v1 -> v2"
	cmp -s "$D2" "$TGT" || { echo "bench: agent v2: target differs" >&2; exit 1; }
	dd_direct "dd oflag=direct, all" "$D"; keep "dd oflag=direct, all"
	dd_direct "dd oflag=direct, non-zero" "$W/nonzero.raw"; keep "dd oflag=direct, non-zero"
done
for k in "${!all[@]}"; do
	secs[$k]=$(echo ${all[$k]} | tr ' ' '\n' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
done

base=${secs["2009: nc | gunzip"]}
printf '\n%-28s %9s %10s %12s %9s\n' "" "MB/s" "× 2009" "fetched MB" "RSS MiB"
for t in "2009: nc | gunzip" "nc | pigz -d" "nc | zstd -d --sparse" \
    "agent, empty target" "agent, zstd image" "agent, holds the image" "agent, holds v1 -> v2" \
    "dd oflag=direct, all" "dd oflag=direct, non-zero"; do
	f=${fetched[$t]}; [ "$f" != - ] && f=$(echo "$f / 1000000" | bc -l)
	rate=$(echo "$SIZE / ${secs[$t]} / 1000000" | bc -l)
	[ "$t" = "dd oflag=direct, non-zero" ] && rate=$(echo "$nzbytes / ${secs[$t]} / 1000000" | bc -l)
	printf '%-28s %9.1f %10.2f %12s %9s\n' "$t" "$rate" \
	    "$(echo "$base / ${secs[$t]}" | bc -l)" \
	    "$([ "$f" = - ] && echo - || printf '%.1f' "$f")" "${rss[$t]}"
done
echo "(medians of $ROUNDS rounds; dd non-zero: MB/s of the ${#nonzero[@]} non-zero chunks it writes; others: raw disk MB per wall second)"

echo
target() {	# target TEXT VALUE MIN
	if [ "$(echo "$2 >= $3" | bc -l)" = 1 ]; then r=met; else r=MISSED; fi
	printf 'target %-52s %7.3f (>= %s) %s\n' "$1" "$2" "$3" "$r"
}
target "first deploy / 2009 path" "$(echo "$base / ${secs["agent, empty target"]}" | bc -l)" 4.5
target "first deploy / nc | zstd -d pipeline" \
    "$(echo "${secs["nc | zstd -d --sparse"]} / ${secs["agent, empty target"]}" | bc -l)" 1
target "first deploy write rate / dd non-zero rate" \
    "$(echo "${secs["dd oflag=direct, non-zero"]} / ${secs["agent, empty target"]}" | bc -l)" 0.85
target "redeploy unchanged / 2009 path" "$(echo "$base / ${secs["agent, holds the image"]}" | bc -l)" 10
pimg=$(du -cb "$PIPOL_STATE"/store/chunks/*.gz | tail -1 | cut -f1)
target "redeploy: 1 - fetched / image" "$(echo "1 - ${fetched["agent, holds the image"]} / $pimg" | bc -l)" 0.99
diff=0
for ((i = 0; i < (SIZE + CS - 1) / CS; i++)); do
	cmp -s <(dd if="$D" bs=$CS skip=$i count=1 status=none) \
	    <(dd if="$D2" bs=$CS skip=$i count=1 status=none) && continue
	h=$(dd if="$D2" bs=$CS skip=$i count=1 status=none | sha256sum | cut -c1-64)
	diff=$((diff + $(stat -c %s "$PIPOL_STATE/store/chunks/$h.gz")))
done
if [ "${fetched["agent, holds v1 -> v2"]}" = "$diff" ]; then r=met; else r=MISSED; fi
printf 'target %-52s %7s (= %s) %s\n' "v1 -> v2 fetched only the differing chunks" \
    "${fetched["agent, holds v1 -> v2"]}" "$diff" "$r"
