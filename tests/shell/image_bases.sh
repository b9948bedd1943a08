#!/bin/bash
# image_bases: the read-only base files of virtual nodes' disks
# (imagestore/store_bases.c): made once from a validated version only,
# named by its disk hash (a copy of the version shares it), equal to
# the exported raw disk, read-only; --check finds a changed byte; a
# base cut short is made again; a qcow2 overlay on it (qemu-img, as a
# virtual node's disk) takes the node's writes only and leaves the base
# as it was; gc drops a base once no version holds its disk.
. "$(dirname "$0")/../lib.sh"

mkdisk "$T/d" 20000000
"$P" image create os --from "$T/d" > /dev/null
expect_fail 7 "os:1: not validated: a base is made of validated versions only" "$P" image base os:1
"$P" image validate os:1 > /dev/null
b=$("$P" image base os:1 2> "$T/err"); rc=$?
equal "base of os:1: exit 0" $rc 0
hex=$("$P" image show os:1 | awk '/^disk hash:/ { print $3 }')
equal "named by the disk hash, under the store's bases" "$b" "$PIPOL_STATE/store/bases/$hex.raw"
grep -qF "os:1: base made" "$T/err" && ok "... made, and it says so" || { notok "... made, and it says so"; cat "$T/err" >&2; }
"$P" image export os:1 --raw -o "$T/raw" > /dev/null
cmp -s "$b" "$T/raw" && ok "the base is the raw disk" || notok "the base is the raw disk"
equal "read-only (0444)" "$(stat -c %a "$b")" 444
ino=$(stat -c %i "$b")
"$P" image copy os os2 > /dev/null && "$P" image validate os2:1 > /dev/null
equal "a copy (same disk): the same base" "$("$P" image base os2:1 2> "$T/err")" "$b"
equal "... not made again" "$(stat -c %i "$b") $(grep -c 'base made' "$T/err")" "$ino 0"
check "--check: every chunk as the index says" "$P" image base os2 --check

# a changed byte, then a base cut short
chmod u+w "$b"; flip_byte "$b" 9000001; chmod a-w "$b"
expect_fail 3 "$b: chunk 2 (at 8388608) differs from the index" "$P" image base os:1 --check
truncate -s 1000 "$b"
"$P" image base os:1 > /dev/null 2> "$T/err"
grep -qF "base made" "$T/err" && cmp -s "$b" "$T/raw" && ok "a base cut short is made again" ||
    notok "a base cut short is made again"
check "... and checks good" "$P" image base os:1 --check

# a virtual node's disk: a qcow2 overlay, its writes only
qemu-img create -q -f qcow2 -F raw -b "$b" "$T/n1.qcow2" &&
    qemu-io -c 'write -P 0xab 4M 1M' "$T/n1.qcow2" > /dev/null &&
    ok "an overlay on the base takes a write" || notok "an overlay on the base takes a write"
qemu-img convert -O raw "$T/n1.qcow2" "$T/n1.raw"
cmp -s -n $((4 << 20)) "$T/n1.raw" "$T/raw" && [ "$(od -An -tx1 -j $((4 << 20)) -N1 "$T/n1.raw" | tr -d ' ')" = ab ] &&
    ok "the node sees the base and its write" || notok "the node sees the base and its write"
use=$(du -k "$T/n1.qcow2" | cut -f1)
[ "$use" -lt 2048 ] && ok "the overlay holds its write only (${use} KiB for a 1 MiB write on a 19 MiB disk)" ||
    notok "the overlay holds its write only (${use} KiB)"
check "the base is as it was" "$P" image base os:1 --check

# gc: kept while a version holds the disk, dropped after
"$P" image rm os:1 > /dev/null && "$P" image gc > /dev/null
[ -f "$b" ] && ok "gc keeps the base os2:1 holds" || notok "gc keeps the base os2:1 holds"
"$P" image rm os2:1 > /dev/null && "$P" image gc > "$T/gc.out"
[ ! -e "$b" ] && ok "gc drops the base once no version holds it" || notok "gc drops the base once no version holds it"
expect_fail 6 "image nosuch: no such image" "$P" image base nosuch
