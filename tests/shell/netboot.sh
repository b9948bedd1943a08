#!/bin/bash
# netboot: the deployed system's kernel, taken from the agent and served
# to a netboot-only node (docs/protocol.md, "The deployed kernel"),
# against a real pipold. The agent (host mode, --agent) finds the kernel
# and initrd in a root folder and uploads them in pieces; the uploads
# refuse no token, another deployment's token, a deployment not in
# postinstall, a piece too large or past what was received, a bad
# command line; a replay in postinstall is idempotent, after it 409.
# The boot script of a netboot-only node past writing loads that kernel
# from pipold; the files go to the node's own address only, for its
# current deployment only. An image with no kernel on a netboot-only
# node: the agent fails naming what it searched.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"

check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice)
M1=52:54:00:00:0b:01 M2=52:54:00:00:0b:02
as "$adm" node add nb1 --mac $M1 --profile netboot-only --ip 127.0.0.1 >/dev/null
as "$adm" node add nb2 --mac $M2 --profile netboot-only >/dev/null
mkdisk "$T/d" 3000000
"$P" image create os --from "$T/d" >/dev/null && "$P" image validate os:1 >/dev/null &&
    "$P" image promote os:1 >/dev/null

# token MAC: the deploy script's token (asked from 127.0.0.1)
token() {
	local tok
	for _ in $(seq 100); do
		tok=$(curl -s "$U/boot/$1" | grep -o 'pipol\.token=[0-9a-f]*' | cut -d= -f2)
		[ -n "$tok" ] && break; sleep 0.1
	done
	echo "$tok"
}
# put TOKEN PART OFFSET FILE [curl args]: the HTTP status
put() {
	local t=$1 part=$2 off=$3 f=$4; shift 4
	curl -s -o "$T/api.out" -w '%{http_code}' -X PUT -H "Authorization: Bearer $t" \
	    -H 'Content-Type: application/octet-stream' --data-binary "@$f" "$@" \
	    "$U/agent/kernel/$part?offset=$off"
}
# a root with its kernel as Debian lays it out: a kernel of two pieces
# and more (8 MiB each), an initrd, the links, /etc/kernel/cmdline
R=$T/root
mkdir -p "$R"/{boot,etc/kernel,bin}
head -c $((17 * 1024 * 1024 + 123)) /dev/urandom > "$R/boot/vmlinuz-6.1.0-9-amd64"
head -c 300000 /dev/urandom > "$R/boot/initrd.img-6.1.0-9-amd64"
ln -s boot/vmlinuz-6.1.0-9-amd64 "$R/vmlinuz"
ln -s boot/initrd.img-6.1.0-9-amd64 "$R/initrd.img"
echo "console=ttyS0,115200 rw panic=-1 quiet" > "$R/etc/kernel/cmdline"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\n' > "$R/etc/group"

as "$al" deploy -n nb1 -i os > /dev/null
as "$al" deploy -n nb2 -i os > /dev/null
tok=$(token $M1) tok2=$(token $M2)
dep=$(sql "select id from deployments where node_id = (select id from nodes where name = 'nb1')")
dep2=$(sql "select id from deployments where node_id = (select id from nodes where name = 'nb2')")
equal "two deploy tokens" "${#tok} ${#tok2}" "64 64"
api "$tok" GET /agent/order > /dev/null; cp "$T/api.out" "$T/order"
api "$tok2" GET /agent/order > /dev/null; cp "$T/api.out" "$T/order2"
equal "the order names the profile" "$(jq -r .profile "$T/order")" netboot-only
api "$tok" POST /agent/progress '{"state":"writing"}' > /dev/null
api "$tok2" POST /agent/progress '{"state":"writing"}' > /dev/null

head -c 1000 /dev/urandom > "$T/small"
equal "a piece before postinstall: 409" "$(put "$tok" kernel 0 "$T/small")" 409
api "$tok" POST /agent/progress '{"state":"postinstall"}' > /dev/null
equal "a piece with no token: 401" "$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary "@$T/small" "$U/agent/kernel/kernel?offset=0")" 401
equal "a piece with a wrong token: 401" "$(put "$(printf 'ab%.0s' $(seq 32))" kernel 0 "$T/small")" 401
equal "a piece with a user's token: 401" "$(put "$al" kernel 0 "$T/small")" 401
equal "a piece with another deployment's token (writing): 409" "$(put "$tok2" kernel 0 "$T/small")" 409
equal "... from another address: 401" "$(put "$tok" kernel 0 "$T/small" --interface 127.0.0.2)" 401
equal "a piece of an unknown part: 404" "$(put "$tok" vmlinuz 0 "$T/small")" 404
equal "no offset: 400" "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $tok" --data-binary "@$T/small" "$U/agent/kernel/kernel")" 400
equal "an offset past what was received: 409" "$(put "$tok" kernel 4096 "$T/small")" 409
head -c $((8 * 1024 * 1024 + 1)) /dev/zero > "$T/big"
equal "a piece over 8 MiB: 413" "$(put "$tok" kernel 0 "$T/big")" 413
head -c $((6 * 1024 * 1024)) /dev/zero > "$T/six"
equal "6 MiB with a wrong token: 401 before a byte of it is read (Expect: 100-continue)" \
    "$(curl -s -o /dev/null -w '%{http_code} %{size_upload}' -X PUT -H "Authorization: Bearer $(printf 'cd%.0s' $(seq 32))" \
    --data-binary @"$T/six" "$U/agent/kernel/kernel?offset=0")" "401 0"
equal "a kernel past 64 MiB: 413" "$(put "$tok" kernel $((64 * 1024 * 1024 - 10)) "$T/small")" 413
equal "an initrd past 512 MiB: 413" "$(put "$tok" initrd $((512 * 1024 * 1024 - 10)) "$T/small")" 413
ls "$T/state/kernels/tmp" 2>/dev/null | grep -q . && notok "nothing staged by the refusals" ||
    ok "nothing staged by the refusals"
equal "the record before the pieces: 409" \
    "$(api "$tok" POST /agent/kernel '{"kernel_size":1000,"initrd_size":0,"cmdline":"quiet"}')" 409
for cl in 'a;b' 'a$b' 'a`id`' 'a|b' 'a\\b' 'a\"b' "a'b" 'a\nb'; do
	equal "a command line with ${cl}: 400" \
	    "$(api "$tok" POST /agent/kernel "{\"kernel_size\":1000,\"initrd_size\":0,\"cmdline\":\"$cl\"}")" 400
done
equal "a command line of 2048 bytes: 400" \
    "$(api "$tok" POST /agent/kernel "{\"kernel_size\":1000,\"initrd_size\":0,\"cmdline\":\"$(head -c 2048 /dev/zero | tr '\0' a)\"}")" 400
equal "a kernel_size over 64 MiB: 400" \
    "$(api "$tok" POST /agent/kernel '{"kernel_size":67108865,"initrd_size":0,"cmdline":"quiet"}')" 400
equal "an unknown field: 400" \
    "$(api "$tok" POST /agent/kernel '{"kernel_size":1000,"initrd_size":0,"cmdline":"quiet","sha":"x"}')" 400
equal "nothing recorded" "$(sql "select count(*) from deployment_kernels")" 0

# the agent: post-install, then the kernel in pieces, then the record
PIPOL_TOKEN=$tok "$A" postinstall --root "$R" --order "$T/order" --agent "$U" > "$T/pi.out" 2>&1
equal "the agent's post-install and upload: exit 0" $? 0 || cat "$T/pi.out" >&2
ksha=$(sha256sum < "$R/boot/vmlinuz-6.1.0-9-amd64" | cut -c1-64)
isha=$(sha256sum < "$R/boot/initrd.img-6.1.0-9-amd64" | cut -c1-64)
equal "recorded: the kernel and initrd by pipold's SHA-256, the command line" \
    "$(sql "select kernel_sha = '$ksha', initrd_sha = '$isha', cmdline from deployment_kernels where deployment_id = $dep")" \
    "t|t|console=ttyS0,115200 rw panic=-1 quiet"
cmp -s "$T/state/kernels/$ksha" "$R/boot/vmlinuz-6.1.0-9-amd64" &&
    cmp -s "$T/state/kernels/$isha" "$R/boot/initrd.img-6.1.0-9-amd64" &&
    ok "kept in STATE/kernels by content" || notok "kept in STATE/kernels by content"
equal "nothing left staged" "$(ls "$T/state/kernels/tmp" | wc -l)" 0
utok=$(sed -n "s/^PIPOL_TOKEN='\([0-9a-f]*\)'$/\1/p" "$R/etc/pipol/ready.env")
equal "an event deploy.kernel" "$(sql "select count(*) from events where kind = 'deploy.kernel'")" 1
# replay, in postinstall: the same answer; sizes that differ: 409
sz=$(stat -c %s "$R/boot/vmlinuz-6.1.0-9-amd64")
equal "the record sent again: 200" \
    "$(api "$utok" POST /agent/kernel "{\"kernel_size\":$sz,\"initrd_size\":300000,\"cmdline\":\"console=ttyS0,115200 rw panic=-1 quiet\"}")" 200
equal "... the same kernel" "$(jq -r .kernel "$T/api.out")" "$ksha"
equal "the record sent again with other sizes: 409" \
    "$(api "$utok" POST /agent/kernel "{\"kernel_size\":$((sz - 1)),\"initrd_size\":300000,\"cmdline\":\"console=ttyS0,115200 rw panic=-1 quiet\"}")" 409
equal "the boot token, traded: 401" "$(put "$tok" kernel 0 "$T/small")" 401
# another deployment's token cannot touch this one's record
api "$tok2" POST /agent/progress '{"state":"postinstall"}' > /dev/null
equal "nb2's token stages its own piece" "$(put "$tok2" kernel 0 "$T/small")" 200
equal "nb2's record: 409 (its kernel not whole)" \
    "$(api "$tok2" POST /agent/kernel '{"kernel_size":1001,"initrd_size":0,"cmdline":"quiet"}')" 409
equal "nb1's record unchanged" "$(sql "select kernel_sha from deployment_kernels where deployment_id = $dep")" "$ksha"
equal "nb2's token: its record" \
    "$(api "$tok2" POST /agent/kernel '{"kernel_size":1000,"initrd_size":0,"cmdline":"quiet"}')" 200
equal "... for nb2 only" "$(sql "select count(*) from deployment_kernels where deployment_id = $dep2 and initrd_sha is null")" 1

# the boot script, while rebooting (the hand-over) and once ready
curl -s "$U/boot/$M1" > "$T/s0"
grep -q "no kernel recorded" "$T/s0" && ok "in postinstall: no kernel to boot yet" ||
    { notok "in postinstall: no kernel to boot yet"; cat "$T/s0" >&2; }
equal "rebooting" "$(api "$utok" POST /agent/result '{"state":"rebooting"}')" 200
equal "a replay after postinstall: 409" \
    "$(api "$utok" POST /agent/kernel "{\"kernel_size\":$sz,\"initrd_size\":300000,\"cmdline\":\"x\"}")" 409
equal "a piece after postinstall: 409" "$(put "$utok" kernel 0 "$T/small")" 409
curl -s "$U/boot/$M1" > "$T/s1"
grep -qxF "kernel $U/boot/$M1/kernel initrd=initrd.img console=ttyS0,115200 rw panic=-1 quiet || goto failed" "$T/s1" &&
    grep -qxF "initrd --name initrd.img $U/boot/$M1/initrd || goto failed" "$T/s1" &&
    ok "the hand-over: netboot.ipxe, the kernel and initrd from pipold, the recorded command line" ||
    { notok "the hand-over: netboot.ipxe, the kernel and initrd from pipold, the recorded command line"; cat "$T/s1" >&2; }
equal "the timeline's handover" "$(sql "select count(*) from deployment_phases where deployment_id = $dep and phase = 'handover'")" 1
curl -s -o "$T/k" "$U/boot/$M1/kernel" && cmp -s "$T/k" "$R/boot/vmlinuz-6.1.0-9-amd64" &&
    ok "the node fetches its kernel" || notok "the node fetches its kernel"
curl -s -o "$T/i" "$U/boot/$M1/initrd" && cmp -s "$T/i" "$R/boot/initrd.img-6.1.0-9-amd64" &&
    ok "the node fetches its initrd" || notok "the node fetches its initrd"
equal "another address: the kernel 404" "$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$U/boot/$M1/kernel")" 404
equal "another address: the initrd 404" "$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$U/boot/$M1/initrd")" 404
curl -s --interface 127.0.0.2 "$U/boot/$M1" | grep -q "no kernel recorded" &&
    ok "another address: no kernel in the script" || notok "another address: no kernel in the script"
equal "nb2 (in postinstall): its kernel 404" "$(curl -s -o /dev/null -w '%{http_code}' "$U/boot/$M2/kernel")" 404
equal "a MAC of no node: 404" "$(curl -s -o /dev/null -w '%{http_code}' "$U/boot/52:54:00:00:0b:99/kernel")" 404
equal "a bad MAC: 404" "$(curl -s -o /dev/null -w '%{http_code}' "$U/boot/52:54:00:00:0b:0/kernel")" 404
equal "ready" "$(api "$utok" POST /agent/result '{"state":"ready"}')" 200
curl -s "$U/boot/$M1" | grep -qF "kernel $U/boot/$M1/kernel" && ok "ready: every boot loads it from pipold" ||
    notok "ready: every boot loads it from pipold"
curl -s "$U/boot/$M1?rescue=1" | grep -q "rescue environment" && ok "?rescue=1: the rescue script" ||
    notok "?rescue=1: the rescue script"
# a node with no initrd recorded: no initrd line
api "$tok2" POST /agent/result '{"state":"rebooting"}' > /dev/null
curl -s "$U/boot/$M2" > "$T/s2"
grep -qxF "kernel $U/boot/$M2/kernel  quiet || goto failed" "$T/s2" && grep -q "^iseq no yes" "$T/s2" &&
    ok "no initrd recorded: the kernel alone" || { notok "no initrd recorded: the kernel alone"; cat "$T/s2" >&2; }
# a new deployment: the old one's kernel is no longer served
as "$al" deploy -n nb1 -i os > /dev/null
equal "a new deployment in flight: the old kernel 404" "$(curl -s -o /dev/null -w '%{http_code}' "$U/boot/$M1/kernel")" 404

# an image with no kernel on a netboot-only node: the agent fails,
# naming what it searched
tok3=$(token $M1)
dep3=$(sql "select max(id) from deployments")
api "$tok3" GET /agent/order > /dev/null; cp "$T/api.out" "$T/order3"
api "$tok3" POST /agent/progress '{"state":"writing"}' > /dev/null
api "$tok3" POST /agent/progress '{"state":"postinstall"}' > /dev/null
R3=$T/root3; mkdir -p "$R3"/{etc,bin}
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$R3/etc/passwd"
printf 'root:x:0:\n' > "$R3/etc/group"
PIPOL_TOKEN=$tok3 "$A" postinstall --root "$R3" --order "$T/order3" --agent "$U" > "$T/pi3.out" 2>&1
equal "no kernel in the image: exit 3" $? 3
grep -q "netboot-only: no kernel to boot the deployed system from the network: .*vmlinuz" "$T/pi3.out" &&
    ok "... naming what it searched" || { notok "... naming what it searched"; cat "$T/pi3.out" >&2; }
equal "... nothing recorded" "$(sql "select count(*) from deployment_kernels where deployment_id = $dep3")" 0
k2=$(sql "select kernel_sha from deployment_kernels where deployment_id = $dep2")
sql "update deployment_kernels set recorded = now() - interval '2 days'" > /dev/null
stop_pipold

# the hourly sweep (netboot_tick, at pipold's start): a kernel file goes
# when no record needs it (the latest deployment of each node, any
# record of the last day) and it is an hour old; staged pieces an hour
# old go; other names are left alone
K=$T/state/kernels fresh=$(printf 'f%.0s' $(seq 64))
touch -d '2 hours ago' "$K"/*
: > "$K/$fresh"; : > "$K/tmp/78.kernel"
: > "$K/README"; : > "$K/tmp/77.kernel"; touch -d '2 hours ago' "$K/README" "$K/tmp/77.kernel"
check "pipold starts again" start_pipold
for _ in $(seq 300); do [ -e "$K/$isha" ] || break; sleep 0.1; done
equal "sweep: nb1's old deployment's kernel and initrd removed" \
    "$([ -e "$K/$ksha" ] || echo k)$([ -e "$K/$isha" ] || echo i)" ki
[ -e "$K/$k2" ] && ok "sweep: nb2's latest deployment keeps its kernel" ||
    notok "sweep: nb2's latest deployment keeps its kernel"
[ -e "$K/$fresh" ] && ok "sweep: a file younger than an hour is kept" ||
    notok "sweep: a file younger than an hour is kept"
equal "sweep: staged pieces an hour old removed, newer kept" \
    "$(ls "$K/tmp" | tr '\n' ' ')" "78.kernel "
[ -e "$K/README" ] && ok "sweep: other names left alone" || notok "sweep: other names left alone"
grep -q "netboot: 3 kernel file(s) no deployment needs removed" "$T/pipold.log" &&
    ok "sweep: said in pipold's log" || notok "sweep: said in pipold's log"
stop_pipold
