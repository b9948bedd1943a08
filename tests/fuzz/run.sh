#!/bin/bash
# run.sh SECONDS -- build the libFuzzer targets (clang) and run each for
# a bounded time from seeds made by pipol itself. A crash, leak or
# sanitizer report makes the target exit non-zero: "not ok".
set -u
cd "$(dirname "$0")/../.."
secs=${1:-15}
P=${B:-build}/pipol
W=$(mktemp -d /tmp/pipol-fuzz.XXXXXX)
trap 'rm -rf "$W"' EXIT
if ! make -s fuzz > "$W/build.log" 2>&1; then
	echo "not ok - fuzz targets build"; cat "$W/build.log" >&2; exit 1
fi
echo "ok - fuzz targets build"

# seeds: small real images of both codecs, their index tails and members
export PIPOL_STATE=$W/state
mkdir -p "$W/seed-index" "$W/seed-chunk" "$W/c1" "$W/c2"
head -c 1500000 /dev/urandom > "$W/d"; truncate -s 3000000 "$W/d"
for codec in gzip zstd; do
	$P image create s$codec --from "$W/d" --codec $codec --chunk-size 1M >/dev/null
	$P image export s$codec -o "$W/seed-index/$codec.pimg"
	tail -c 3000 "$W/seed-index/$codec.pimg" > "$W/seed-index/$codec.tail"
done
i=0
for f in $(find "$PIPOL_STATE/store/chunks" -type f -size -64k); do
	i=$((i + 1))
	case $f in *.zst) b='\001' ;; *) b='\000' ;; esac
	{ printf "$b"; cat "$f"; } > "$W/seed-chunk/$i"
done

# seeds of the WebSocket reader: frames as a browser sends them (text,
# binary, fragments, a ping, a close), masked
python3 - "$W/seed-ws" <<'PY'
import os, struct, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
def fr(fin, op, p):
    k = b"\x11\x22\x33\x44"
    n = len(p)
    h = bytes([(0x80 if fin else 0) | op])
    h += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
    return h + k + bytes(c ^ k[i & 3] for i, c in enumerate(p))
seeds = [fr(1, 2, b"root\r"), fr(0, 1, b"Hel") + fr(1, 9, b"pi") + fr(1, 0, b"lo"),
         fr(1, 2, b"x" * 300) + fr(1, 8, b"\x03\xe8"), fr(1, 10, b"") + fr(1, 1, b"ls\r")]
for i, s in enumerate(seeds):
    open(f"{d}/{i}", "wb").write(bytes([i * 5]) + s)
PY
mkdir -p "$W/c3"
if build-fuzz/ws_fuzz -max_total_time="$secs" -rss_limit_mb=2048 -max_len=4096 \
    "$W/c3" "$W/seed-ws" > "$W/ws.log" 2>&1; then
	echo "ok - fuzz ws: $(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$W/ws.log") runs, no crash"
else
	echo "not ok - fuzz ws"; tail -30 "$W/ws.log" >&2
fi

for t in index chunk; do
	if build-fuzz/pimg_${t}_fuzz -max_total_time="$secs" -rss_limit_mb=2048 \
	    -max_len=65536 "$W/c$([ $t = index ] && echo 1 || echo 2)" \
	    "$W/seed-$t" > "$W/$t.log" 2>&1; then
		echo "ok - fuzz pimg_$t: $(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$W/$t.log") runs, no crash"
	else
		echo "not ok - fuzz pimg_$t"; tail -30 "$W/$t.log" >&2
	fi
done
