#!/bin/bash
# Bad input gets one clear line naming the thing, a documented exit
# status, and leaves the store exactly as it was.
. "$(dirname "$0")/../lib.sh"
MANGLE=$B/tests/pimg_mangle

mkdisk "$T/d" 10000000
$P image create base --from "$T/d" >/dev/null
$P image export base -o "$T/good.pimg"
gzip -c "$T/d" > "$T/good.gz"
snap=$(snapshot)
unchanged() {
	if [ "$(snapshot)" = "$snap" ]; then ok "store unchanged: $1"; else
		notok "store unchanged: $1"; diff <(echo "$snap") <(snapshot) | head -5 >&2
	fi
}

# usage errors: exit 2
expect_fail 2 "--chunk-size 3M: not a power of two in 1M..64M" \
    $P image create x --from "$T/d" --chunk-size 3M
expect_fail 2 "--chunk-size 128M: not a power of two in 1M..64M" \
    $P image create x --from "$T/d" --chunk-size 128M
expect_fail 2 "--codec lzma: not one of gzip, zstd" \
    $P image create x --from "$T/d" --codec lzma
expect_fail 2 "--level 13: not in 1..12 for gzip" \
    $P image create x --from "$T/d" --level 13
expect_fail 2 'image name "Bad/name"' $P image create Bad/name --from "$T/d"
expect_fail 2 "missing --from PATH" $P image create x
expect_fail 2 "--bogus: unknown option" $P image list --bogus
expect_fail 2 "image base: give NAME:VERSION" $P image validate base
unchanged "usage errors"

# sources that cannot be read
expect_fail 6 "$T/nope: No such file or directory" $P image create x --from "$T/nope"
expect_fail 2 "$T: not a regular file or block device" $P image create x --from "$T"
: > "$T/empty"
expect_fail 3 "$T/empty: empty" $P image create x --from "$T/empty"
unchanged "unreadable sources"

# legacy gzip streams
head -c 3000000 "$T/good.gz" > "$T/trunc.gz"
expect_fail 3 "$T/trunc.gz: truncated at byte 3000000 (member 0 from byte 0)" \
    $P image import x "$T/trunc.gz"
sz=$(stat -c %s "$T/good.gz")
cp "$T/good.gz" "$T/crc.gz"
flip_byte "$T/crc.gz" $((sz - 8))
expect_fail 3 "$T/crc.gz: member 0 at byte 0: CRC mismatch" $P image import x "$T/crc.gz"
cp "$T/good.gz" "$T/len.gz"
flip_byte "$T/len.gz" $((sz - 1))
expect_fail 3 "$T/len.gz: member 0 at byte 0: length mismatch" $P image import x "$T/len.gz"
cat "$T/good.gz" "$T/good.gz" > "$T/two.gz"
printf 'garbage!' >> "$T/two.gz"
expect_fail 3 "$T/two.gz: byte $((2 * sz)): not gzip data" $P image import x "$T/two.gz"
cp "$T/d" "$T/notgz"
expect_fail 3 "$T/notgz: not a gzip or zstd stream" $P image import x "$T/notgz"
expect_fail 3 "standard input: not a gzip or zstd stream" $P image import x - < "$T/d"
zstd -q -c "$T/d" | head -c 100000 > "$T/trunc.zst"
expect_fail 3 "$T/trunc.zst: truncated at byte 100000" $P image import x "$T/trunc.zst"
unchanged "bad gzip/zstd streams"

# .pimg files that lie
gsz=$(stat -c %s "$T/good.pimg")
cp "$T/good.pimg" "$T/out.pimg"
# locator: carrier offset (payload bytes 8..15, locator starts at size-66)
printf '\xff\xff\xff' | dd of="$T/out.pimg" bs=1 seek=$((gsz - 66 + 16 + 8)) conv=notrunc status=none
expect_fail 3 "$T/out.pimg: index locator" $P image import x "$T/out.pimg"
for op in crc hash zero; do
	cp "$T/good.pimg" "$T/$op.pimg"; $MANGLE "$T/$op.pimg" $op 1
done
expect_fail 3 "$T/crc.pimg: chunk 1 (offset 4194304): CRC mismatch with the index" \
    $P image import x "$T/crc.pimg"
expect_fail 3 "$T/hash.pimg: chunk 1 (offset 4194304): hash mismatch" \
    $P image import x "$T/hash.pimg"
expect_fail 3 "$T/zero.pimg: chunk 1 (offset 4194304): all-zero flag is wrong" \
    $P image import x "$T/zero.pimg"
cp "$T/good.pimg" "$T/dh.pimg"; $MANGLE "$T/dh.pimg" diskhash 0
expect_fail 3 "$T/dh.pimg: index: disk hash does not match its chunks" $P image import x "$T/dh.pimg"
# a member damaged inside its deflate data: named by chunk and offset
cp "$T/good.pimg" "$T/bit.pimg"
printf '\x55\xaa\x55\xaa' | dd of="$T/bit.pimg" bs=1 seek=4200000 conv=notrunc status=none
$P image import x "$T/bit.pimg" >/dev/null 2>"$T/.err"; rc=$?
if [ $rc -eq 3 ] && grep -qE "bit.pimg: chunk 1 \(offset 4194304\): (CRC mismatch|corrupt deflate data|length mismatch)" "$T/.err"; then
	ok "damaged member named"; else notok "damaged member named"; cat "$T/.err" >&2; fi
unchanged "lying .pimg files"

# a full disk while storing: real ENOSPC on a small tmpfs
if unshare -m true 2>/dev/null; then
	mkdir -p "$T/small"
	head -c 30000000 /dev/urandom > "$T/big"
	unshare -m bash -c "mount -t tmpfs -o size=12m none '$T/small' &&
	    PIPOL_STATE='$T/small' '$P' image create ok1 --from '$T/good.gz' >/dev/null &&
	    PIPOL_STATE='$T/small' '$P' image list > '$T/small.before' &&
	    find '$T/small' -type f | sort > '$T/small.files.before' &&
	    { PIPOL_STATE='$T/small' '$P' image create full --from '$T/big'; echo \$? > '$T/small.rc'; } 2> '$T/small.err';
	    PIPOL_STATE='$T/small' '$P' image list > '$T/small.after';
	    find '$T/small' -type f | sort > '$T/small.files.after'" >/dev/null 2>&1
	equal "full disk: exit status" "$(cat "$T/small.rc" 2>/dev/null)" 1
	grep -q "No space left on device" "$T/small.err" && ok "full disk: named" ||
	    { notok "full disk: named"; cat "$T/small.err" >&2; }
	same "full disk: versions unchanged" "$T/small.before" "$T/small.after"
	same "full disk: no chunk left behind" "$T/small.files.before" "$T/small.files.after"
else
	notok "full disk test needs unshare -m (root)"
fi

# zero padding after the last member (tape, block devices) is accepted,
# anything else after the data is not
export PIPOL_STATE=$T/pad
cp "$T/good.gz" "$T/pad.gz"; head -c 70000 /dev/zero >> "$T/pad.gz"
v=$($P image import pad "$T/pad.gz") && $P image export "$v" --raw | cmp -s - "$T/d" &&
    ok "zero padding after gzip data accepted" || notok "zero padding after gzip data accepted"
printf 'x' >> "$T/pad.gz"
expect_fail 3 "$T/pad.gz: byte $sz: data after zero padding" $P image import pad "$T/pad.gz"

# an option without its value
expect_fail 2 "--state: needs a value" $P image list --state

# a failed import must not take away chunks that a command which ran
# meanwhile committed (undo keeps what any version uses)
export PIPOL_STATE=$T/race
mkdisk "$T/r" 9000000
gzip -c "$T/r" > "$T/r.gz"
( cat "$T/r.gz"; sleep 3; echo garbage ) | $P image import a - >/dev/null 2>&1 &
pa=$!
sleep 1.5
$P image create b --from "$T/r" >/dev/null
wait $pa; equal "racing failed import exits 3" $? 3
check "chunks of the version committed meanwhile kept" $P image verify b
