#!/bin/bash
# Round trips through the store and the .pimg, with both codecs; byte
# identity with gzip -dc / zcat / pigz -dc / zstd -dc; re-import as is;
# dedup between versions; sparse sources never read in their holes.
. "$(dirname "$0")/../lib.sh"

# sizes: short last chunk, not a multiple of 512, exactly one chunk
for size in 20000001 9437184 1048577; do
	mkdisk "$T/d" $size
	for codec in gzip zstd; do
		for cs in 1M 4M; do
			tag="$codec $cs $size"
			v=$($P image create r --from "$T/d" --codec $codec \
			    --chunk-size $cs) || { notok "create $tag"; continue; }
			$P image export "$v" -o "$T/x.pimg"
			$P image export "$v" --raw -o "$T/x.raw"
			same "export --raw = source ($tag)" "$T/d" "$T/x.raw"
			$P image export "$v" --raw --threads 1 | cmp -s - "$T/d" &&
			    ok "raw to a pipe ($tag)" || notok "raw to a pipe ($tag)"
			if [ $codec = gzip ]; then
				gzip -dc "$T/x.pimg" > "$T/g"; same "gzip -dc ($tag)" "$T/d" "$T/g"
				pigz -dc "$T/x.pimg" > "$T/g"; same "pigz -dc ($tag)" "$T/d" "$T/g"
				zcat < "$T/x.pimg" > "$T/g"; same "zcat ($tag)" "$T/d" "$T/g"
			else
				zstd -qdc "$T/x.pimg" > "$T/g"; same "zstd -dc ($tag)" "$T/d" "$T/g"
			fi
			rm -f "$T/g" "$T/x.raw" "$T/x.pimg"
		done
	done
done

# the disk hash, recomputed from the raw disk with coreutils alone:
# sha256("pipol-disk-v1\0" le64(size) le32(chunk) sha256(chunk 0) ...)
disk_hash() {	# FILE CHUNK_BYTES
	local f=$1 cs=$2 size i n
	size=$(stat -c %s "$f"); n=$(( (size + cs - 1) / cs ))
	le() { local v=$1 k; for ((k = 0; k < $2; k++)); do
		printf '\\x%02x' $(( (v >> (8 * k)) & 255 )); done; }
	{
		printf 'pipol-disk-v1\0'; printf "$(le "$size" 8)$(le "$cs" 4)"
		for ((i = 0; i < n; i++)); do
			printf "$(dd if="$f" bs="$cs" skip=$i count=1 status=none |
			    sha256sum | cut -c1-64 | sed 's/../\\x&/g')"
		done
	} | sha256sum | cut -c1-64
}
mkdisk "$T/d" 12345678
v=$($P image create h --from "$T/d")
equal "disk hash recomputed from the raw disk" \
    "$($P image show $v | awk '/disk hash/{print $3}')" "$(disk_hash "$T/d" 4194304)"
v1=$($P image create h1 --from "$T/d" --chunk-size 1M)
equal "disk hash with 1 MiB chunks" \
    "$($P image show $v1 | awk '/disk hash/{print $3}')" "$(disk_hash "$T/d" 1048576)"
equal "zero chunks counted" "$($P image show $v | awk '/zero chunks/{print $3}')" 0

# re-import of a .pimg: taken as is, exported again byte for byte,
# even into another store and with a level we would not have used
v=$($P image create lvl --from "$T/d" --level 1)
$P image export "$v" -o "$T/a.pimg"
PIPOL_STATE=$T/other $P image import again "$T/a.pimg" -v 2> "$T/imp.err" >/dev/null
grep -q "taken as is" "$T/imp.err" && ok "pimg import not recompressed" ||
    notok "pimg import not recompressed"
PIPOL_STATE=$T/other $P image export again -o "$T/b.pimg"
same "re-imported pimg exports identically" "$T/a.pimg" "$T/b.pimg"
$P image create --codec zstd lz --from "$T/d" >/dev/null
$P image export lz -o "$T/z.pimg"
PIPOL_STATE=$T/other $P image import lz "$T/z.pimg" >/dev/null
PIPOL_STATE=$T/other $P image export lz -o "$T/z2.pimg"
same "zstd pimg re-imported identically" "$T/z.pimg" "$T/z2.pimg"

# legacy 2009 images: gzip, pigz, multi-member, header fields, stdin
gzip -c "$T/d" > "$T/l1.gz"
pigz -c -p 2 "$T/d" > "$T/l2.gz"
head -c 5000000 "$T/d" | gzip -1 > "$T/l3.gz"
tail -c +5000001 "$T/d" | gzip -9 >> "$T/l3.gz"
cp "$T/d" "$T/named.raw"; gzip -N -c "$T/named.raw" > "$T/l4.gz"
i=0
for f in l1.gz l2.gz l3.gz l4.gz; do
	i=$((i + 1))
	v=$($P image import leg$i "$T/$f") || notok "import $f"
	$P image export "$v" --raw | cmp -s - "$T/d" &&
	    ok "legacy $f round trip" || notok "legacy $f round trip"
done
v=$($P image import stdin - < "$T/l3.gz")
$P image export "$v" --raw | cmp -s - "$T/d" && ok "legacy from stdin" ||
    notok "legacy from stdin"
zstd -q -c "$T/d" > "$T/l.zst"
v=$($P image import zleg "$T/l.zst")
$P image export "$v" --raw | cmp -s - "$T/d" && ok "zstd stream import" ||
    notok "zstd stream import"
# a gzip .pimg piped in: read as a plain gzip stream, same disk
$P image export h -o "$T/h.pimg"
v=$($P image import piped - < "$T/h.pimg")
$P image export "$v" --raw | cmp -s - "$T/d" && ok "pimg as a stream" ||
    notok "pimg as a stream"

# dedup: one changed chunk -> exactly one more chunk file
mkdisk "$T/d" 16777216
$P image create dd --from "$T/d" >/dev/null
before=$(chunk_files)
printf 'changed' | dd of="$T/d" bs=1 seek=6000000 conv=notrunc status=none
v=$($P image create dd --from "$T/d")
equal "one changed chunk stores one chunk" "$(chunk_files)" $((before + 1))
equal "second version numbered 2" "$v" dd:2
$P image show dd:2 | grep -q "shared:        3 of 4 chunks with dd:1" &&
    ok "show counts shared chunks" || notok "show counts shared chunks"

# sparse: a 2 GiB file with 1 MiB of data is read for 1 MiB only
truncate -s 2G "$T/sparse"
head -c 1048576 /dev/urandom | dd of="$T/sparse" bs=1M seek=1500 conv=notrunc status=none
v=$($P image create sp --from "$T/sparse" -v 2> "$T/sp.err")
grep -q " 1048576 bytes read" "$T/sp.err" && ok "holes never read" ||
    { notok "holes never read"; cat "$T/sp.err" >&2; }
equal "sparse zero chunks" "$($P image show sp | awk '/zero chunks/{print $3}')" 511
$P image export sp --raw -o "$T/sp.raw"
same "sparse round trip" "$T/sparse" "$T/sp.raw"
# only the one non-zero 4 MiB chunk is written: zero chunks stay holes
[ "$(du -k "$T/sp.raw" | cut -f1)" -le 4200 ] && ok "raw export stays sparse" ||
    notok "raw export stays sparse"
