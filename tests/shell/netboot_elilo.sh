#!/bin/bash
# netboot_elilo: a netboot-only Itanium node (elilo, unit-tested only:
# no Itanium here) boots its deployed system with the kernel its agent
# uploaded: once the deployment is past writing, pipold places that
# kernel and initrd under the TFTP folder where elilo's local section
# looks (ia64/pipol/NODE/vmlinuz, initrd.img) and writes the recorded
# command line into the node's file. Another node's file is untouched.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
DIR=$T/dns TFTP=$T/tftp
mkdir -p "$TFTP/ia64"
check "pipold starts with --elilo" start_pipold --dnsmasq-dir "$DIR" \
    --public-url http://127.0.0.1:$PORT --tftp-root "$TFTP" --elilo ia64/elilo.efi
adm=$(new_user root --admin 2>/dev/null)
export PIPOL_SERVER=$U PIPOL_TOKEN=$adm
"$P" node add it1 --mac 52:54:00:00:0c:01 --profile netboot-only --ip 127.0.0.1 > /dev/null
"$P" node add it2 --mac 52:54:00:00:0c:02 --profile netboot-only --ip 10.77.0.32 > /dev/null
F=$TFTP/ia64/7F000001.conf
cp "$TFTP/ia64/0A4D0020.conf" "$T/it2.before"
mkdisk "$T/d" 3000001
"$P" image create os --from "$T/d" > /dev/null && "$P" image validate os:1 > /dev/null &&
    "$P" image promote os:1 > /dev/null
"$P" deploy -n it1 -i os > "$T/dep.out" 2>&1
for _ in $(seq 50); do grep -q pipol.token "$F" 2>/dev/null && break; sleep 0.1; done
tok=$(grep -o 'pipol\.token=[0-9a-f]*' "$F" | cut -d= -f2)
equal "deploy: the token in the node's file" "${#tok}" 64
api "$tok" GET /agent/order > /dev/null
api "$tok" POST /agent/progress '{"state":"writing"}' > /dev/null
api "$tok" POST /agent/progress '{"state":"postinstall"}' > /dev/null
head -c 70000 /dev/urandom > "$T/vmlinuz"
head -c 5000 /dev/urandom > "$T/initrd"
up() { curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $tok" \
    --data-binary "@$2" "$U/agent/kernel/$1?offset=0"; }
equal "the agent's kernel and initrd" "$(up kernel "$T/vmlinuz") $(up initrd "$T/initrd")" "200 200"
CL="console=ttyS0,115200 rw root=UUID=50495030-4c00-4000-8000-7465737469d6"
equal "... recorded" "$(api "$tok" POST /agent/kernel "{\"kernel_size\":70000,\"initrd_size\":5000,\"cmdline\":\"$CL\"}")" 200
[ -e "$TFTP/ia64/pipol/it1/vmlinuz" ] && notok "in postinstall: no kernel placed yet" ||
    ok "in postinstall: no kernel placed yet"
api "$tok" POST /agent/result '{"state":"rebooting"}' > /dev/null
grep -qxF "default=local" "$F" && grep -qxF "image=pipol/it1/vmlinuz" "$F" &&
    grep -qxF "	initrd=pipol/it1/initrd.img" "$F" && grep -qxF "	append=\"$CL\"" "$F" &&
    ok "past writing: local, the recorded command line" || { notok "past writing: local, the recorded command line"; cat "$F" >&2; }
cmp -s "$TFTP/ia64/pipol/it1/vmlinuz" "$T/vmlinuz" && cmp -s "$TFTP/ia64/pipol/it1/initrd.img" "$T/initrd" &&
    ok "the recorded kernel and initrd where elilo looks (TFTP ia64/pipol/it1/)" ||
    notok "the recorded kernel and initrd where elilo looks (TFTP ia64/pipol/it1/)"
same "it2's file untouched" "$TFTP/ia64/0A4D0020.conf" "$T/it2.before"
[ -e "$TFTP/ia64/pipol/it2" ] && notok "nothing for it2" || ok "nothing for it2"
[ -n "$(find "$TFTP" -name '*.tmp')" ] && notok "no temporary file left" || ok "no temporary file left"

# a kernel recorded with no initrd: the local section has no initrd=
# line (elilo would fail to load it) and the old initrd.img is gone
api "$tok" POST /agent/result '{"state":"ready"}' > /dev/null
"$P" deploy -n it1 -i os > "$T/dep2.out" 2>&1
for _ in $(seq 50); do grep -q pipol.token "$F" 2>/dev/null && break; sleep 0.1; done
tok=$(grep -o 'pipol\.token=[0-9a-f]*' "$F" | cut -d= -f2)
api "$tok" GET /agent/order > /dev/null
api "$tok" POST /agent/progress '{"state":"writing"}' > /dev/null
api "$tok" POST /agent/progress '{"state":"postinstall"}' > /dev/null
equal "a second deployment: its kernel, no initrd" \
    "$(up kernel "$T/vmlinuz") $(api "$tok" POST /agent/kernel "{\"kernel_size\":70000,\"initrd_size\":0,\"cmdline\":\"$CL\"}")" "200 200"
api "$tok" POST /agent/result '{"state":"rebooting"}' > /dev/null
grep -qxF "image=pipol/it1/vmlinuz" "$F" && ! grep -q 'initrd=' "$F" &&
    ok "no initrd recorded: no initrd= line" || { notok "no initrd recorded: no initrd= line"; cat "$F" >&2; }
[ -e "$TFTP/ia64/pipol/it1/initrd.img" ] && notok "... the old initrd.img removed" || ok "... the old initrd.img removed"
stop_pipold
