#!/bin/bash
# The version life cycle, copy, rm, gc, verify, and what crashes and
# concurrent commands may leave.
. "$(dirname "$0")/../lib.sh"

mkdisk "$T/d" 10000000
equal "create v1" "$($P image create os --from "$T/d")" os:1
cp "$T/d" "$T/d1"
printf 'v2' | dd of="$T/d" bs=1 seek=100 conv=notrunc status=none
equal "create v2" "$($P image create os --from "$T/d")" os:2
printf 'v3' | dd of="$T/d" bs=1 seek=9000000 conv=notrunc status=none
equal "create v3" "$($P image create os --from "$T/d")" os:3

expect_fail 7 "image os:1: is a draft; validate it first" $P image promote os:1
expect_fail 6 "image os:9: no such version" $P image validate os:9
expect_fail 6 "image nosuch: no such image" $P image show nosuch
check "validate v1" $P image validate os:1
check "validate v2" $P image validate os:2
check "promote v1" $P image promote os:1
check "promote v2" $P image promote os:2
$P image list > "$T/list"
grep -qE '^os +2  current' "$T/list" && ok "list shows current" || notok "list shows current"
grep -qE '^os +1  previous' "$T/list" && ok "list shows previous" || notok "list shows previous"
grep -qE '^os +3  draft' "$T/list" && ok "list shows draft" || notok "list shows draft"
$P image show os | grep -q "^image:         os:2" && ok "show defaults to current" ||
    notok "show defaults to current"

equal "rollback" "$($P image rollback os)" "os:1 is current"
expect_fail 7 "image os: no previous version to roll back to" $P image rollback os
expect_fail 7 "image os:1: is current" $P image rm os:1

# copy shares every chunk
n=$(chunk_files)
equal "copy" "$($P image copy os:2 os-copy)" os-copy:1
equal "copy stores no chunk" "$(chunk_files)" $n
$P image export os-copy:1 --raw -o "$T/c.raw"
$P image export os:2 --raw -o "$T/o2.raw"
same "copy has the same disk" "$T/c.raw" "$T/o2.raw"

# rm + gc: only what nothing else uses goes
check "rm v3" $P image rm os:3
expect_fail 6 "image os:3: no such version" $P image show os:3
out=$($P image gc)
[ "$(echo "$out" | cut -d' ' -f1)" = 1 ] && ok "gc frees the one chunk only v3 used" ||
    notok "gc frees the one chunk only v3 used ($out)"
check "verify after gc" $P image verify
# on a terminal (script(1) gives it one), a progress bar; on a pipe, none
script -qec "$P image verify" /dev/null > "$T/vt.out" 2>&1
grep -q "verifying \[#*\] 100%" <(tr '\r' '\n' < "$T/vt.out") &&
    ok "verify on a terminal: a progress bar to 100 %" ||
    { notok "verify on a terminal: a progress bar to 100 %"; cat "$T/vt.out" >&2; }
$P image verify > /dev/null 2> "$T/vp.err"
grep -q verifying "$T/vp.err" && notok "verify on a pipe: no progress bar" || ok "verify on a pipe: no progress bar"
check "v1 still exports" $P image export os:1 --raw -o "$T/o1.raw"

# verify finds a damaged chunk and names its users
# chunk 1 (bytes 4M..8M) is the same in every version
hex=$(dd if="$T/d1" bs=4M skip=1 count=1 status=none | sha256sum | cut -c1-64)
victim=$PIPOL_STATE/store/chunks/$hex.gz
printf 'XXXX' | dd of="$victim" bs=1 seek=5000 conv=notrunc status=none
$P image verify > "$T/v.out" 2> "$T/v.err"; rc=$?
equal "verify exit status on damage" $rc 3
grep -q "chunk $hex: .* (used by .*os" "$T/v.err" && ok "verify names chunk and users" ||
    { notok "verify names chunk and users"; cat "$T/v.err" >&2; }
grep -q "1 of [0-9]* chunks are bad" "$T/v.out" && ok "verify summary" || notok "verify summary"
expect_fail 3 "pipol: chunk 1 (offset 4194304): " $P image export os:1 -o "$T/never.pimg"
[ -e "$T/never.pimg" ] && notok "failed export leaves no file" || ok "failed export leaves no file"
# --repair quarantines; creating the same bytes again stores a good copy
$P image verify --repair >/dev/null 2>"$T/v.err"
grep -q "moved to quarantine" "$T/v.err" && ok "verify --repair quarantines" ||
    notok "verify --repair quarantines"
rm -f "$T/o1.raw"
$P image export os:1 --raw -o "$T/o1.raw" 2>/dev/null
[ -e "$T/o1.raw" ] && notok "quarantined chunk is gone" || ok "quarantined chunk is gone"
$P image create repair --from "$T/d1" >/dev/null
check "re-create repairs the chunk" $P image verify
check "repaired version exports" $P image export os:1 --raw -o "$T/o1.raw"
same "repaired version is v1's disk" "$T/o1.raw" "$T/d1"
# damaged in place (no --repair): creating the same bytes again does not
# reuse it, it stores a good copy and keeps the bad one in quarantine
printf 'XXXX' | dd of="$victim" bs=1 seek=5000 conv=notrunc status=none
cp "$victim" "$T/damaged"
rm -f "$PIPOL_STATE/store/quarantine/$hex.gz"
$P image create repair2 --from "$T/d1" >/dev/null
check "re-create over a damaged chunk repairs it" $P image verify
same "the damaged copy is in quarantine" "$PIPOL_STATE/store/quarantine/$hex.gz" "$T/damaged"
rm -f "$victim"
$P image verify >/dev/null 2>"$T/v.err"; rc=$?
equal "verify: missing chunk" $rc 3
grep -q "chunk $hex: No such file or directory" "$T/v.err" &&
    ok "verify names a missing chunk" || { notok "verify names a missing chunk"; cat "$T/v.err" >&2; }

# a create killed mid-way leaves no visible version; gc cleans its chunks
export PIPOL_STATE=$T/crash
$P image create keep --from "$T/d" >/dev/null
before=$($P image list)
head -c 300000000 /dev/urandom > "$T/big"
$P image create crashme --from "$T/big" --threads 1 &
pid=$!
for _ in $(seq 50); do
	[ "$(find "$PIPOL_STATE/store/chunks" -type f | wc -l)" -gt 8 ] && break
	sleep 0.1
done
kill -9 $pid; wait $pid 2>/dev/null
equal "killed create: versions unchanged" "$($P image list)" "$before"
[ "$(chunk_files)" -gt 3 ] && ok "killed create left chunks to collect" ||
    notok "killed create left chunks to collect"
$P image gc >/dev/null
k=$($P image export keep --raw | cmp - "$T/d" && echo same)
equal "gc after crash keeps used chunks" "$k" same
equal "gc after crash drops the rest" "$(chunk_files)" \
    "$($P image show keep | grep -o '[0-9]* distinct' | cut -d' ' -f1)"
rm -f "$T/big"

# two creates at once on one name: two whole versions
export PIPOL_STATE=$T/conc
mkdisk "$T/d2" 9000000
$P image create same --from "$T/d" > "$T/c1" & p1=$!
$P image create same --from "$T/d2" > "$T/c2" & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
equal "concurrent creates succeed" "$r1$r2" 00
equal "concurrent creates get distinct versions" "$(cat "$T/c1" "$T/c2" | sort | tr '\n' ' ')" "same:1 same:2 "
check "concurrent creates verify" $P image verify same:1
check "concurrent creates verify 2" $P image verify same:2
