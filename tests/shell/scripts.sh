#!/bin/bash
# Post-install and rc scripts through pipold and pipol: who may add
# which, names, sizes, a binary kept byte for byte; the order of a
# deployment carries the site's scripts and its user's only; the agent's
# log of each script, readable by the owner and admins only.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"

check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice) bo=$(new_user bob)
as "$adm" node add n1 --mac 52:54:00:00:05:01 --profile virtual >/dev/null
mkdisk "$T/d" 3000000
"$P" image create os --from "$T/d" >/dev/null && "$P" image validate os:1 >/dev/null &&
    "$P" image promote os:1 >/dev/null

printf '#!/bin/sh\necho alice rc\n' > "$T/rc"
printf '#!/bin/sh\necho site\n' > "$T/10-site"
head -c 3000 /dev/urandom > "$T/rc.bin"
check "alice adds rc" as "$al" script add "$T/rc"
check "alice adds a binary as rc.debian" as "$al" script add "$T/rc.bin" --name rc.debian
check "bob adds his rc" as "$bo" script add "$T/rc"
expect_fail 4 "post-install scripts are the admins'" as "$al" script add "$T/10-site" --postinstall
check "an admin adds a post-install script" as "$adm" script add "$T/10-site" --postinstall
expect_fail 2 "beginning with rc" as "$al" script add "$T/10-site"
expect_fail 2 "\"name\": letters, digits" as "$al" script add "$T/rc" --name "rc;x"
head -c 49153 /dev/zero > "$T/big"
expect_fail 3 "$T/big" as "$al" script add "$T/big" --name rc.big
big=$(head -c 49153 /dev/zero | base64 -w0)
equal "48 KiB + 1 through the API: 413" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $al" \
    -d "{\"kind\":\"rc\",\"name\":\"rcbig\",\"body\":\"$big\"}" "$U/api/scripts")" 413
equal "not base64: 400" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $al" \
    -d '{"kind":"rc","name":"rcx","body":"!!!!"}' "$U/api/scripts")" 400
as "$al" script list > "$T/list"
grep -qE "^postinstall +- +10-site" "$T/list" && grep -qE "^rc +alice +rc.debian +3000 " "$T/list" &&
    ! grep -q bob "$T/list" && ok "list: the site's and alice's own" || { notok "list: the site's and alice's own"; cat "$T/list" >&2; }
as "$al" script show rc.debian > "$T/back"
same "show: the binary byte for byte" "$T/rc.bin" "$T/back"
expect_fail 6 "rc script rc.nope: no such script" as "$al" script show rc.nope
expect_fail 4 "post-install scripts are the admins'" as "$al" script rm 10-site --postinstall
expect_fail 4 "post-install scripts are the admins'" as "$al" script show 10-site --postinstall
as "$adm" script show 10-site --postinstall > "$T/site.back"
same "an admin reads a post-install script" "$T/10-site" "$T/site.back"
# replacing keeps one
printf '#!/bin/sh\necho alice rc v2\n' > "$T/rc"
check "replace rc" as "$al" script add "$T/rc"
equal "one rc for alice" "$(sql "select count(*) from scripts s join users u on u.id = s.owner_id where u.name = 'alice' and s.name = 'rc'")" 1

# the order carries the site's and the deploying user's scripts
as "$al" deploy -n n1 -i os > /dev/null
# the token comes once the deploy's power cycle armed the boot cycle
for _ in $(seq 100); do
	tok=$(curl -s "$U/boot/52:54:00:00:05:01" | grep -o 'pipol\.token=[0-9a-f]*' | cut -d= -f2)
	[ -n "$tok" ] && break; sleep 0.1
done
curl -s -H "Authorization: Bearer $tok" "$U/agent/order" > "$T/order"
equal "order: site first, then alice's, in name order" \
    "$(jq -r '[.scripts[] | .kind + ":" + .name] | join(" ")' "$T/order")" "postinstall:10-site rc:rc rc:rc.debian"
equal "order: alice's rc body" "$(jq -r '.scripts[1].body' "$T/order" | base64 -d)" "$(cat "$T/rc")"
equal "order: the user, uid, keys" "$(jq -r '.user + " " + (.uid|tostring)' "$T/order")" \
    "alice $(sql "select 10000 + id from users where name = 'alice'")"
equal "order: no NFS home unless configured" "$(jq -r .nfs_home "$T/order")" null
# the agent's log
equal "agent log: 200" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" \
    -d '{"script":"rc","status":0,"output":"alice rc v2\n"}' "$U/agent/log")" 200
equal "agent log: a bad body 400" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" \
    -d '{"script":"rc","status":"x","output":""}' "$U/agent/log")" 400
equal "agent log: a user token 401" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $al" \
    -d '{"script":"rc","status":0,"output":""}' "$U/agent/log")" 401
dep=$(sql "select max(id) from deployments")
as "$al" log "$dep" > "$T/log"
equal "pipol log" "$(cat "$T/log")" "==> rc: exit 0 ($(sql "select to_json(at)#>>'{}' from deployment_logs where deployment_id = $dep"))
alice rc v2
deployment $dep: fetching"
expect_fail 6 "deployment $dep: none of yours" as "$bo" log "$dep"
check "an admin reads it" as "$adm" log "$dep"
check "alice removes rc.debian" as "$al" script rm rc.debian
equal "removed" "$(sql "select count(*) from scripts where name = 'rc.debian'")" 0

# the first-boot hook post-install writes, run as the deployed system
# would: a BusyBox system (wget, no curl) reports ready with the token
R=$T/root
mkdir -p "$R"/{bin,etc,root,tmp,dev}
cp /bin/busybox "$R/bin/busybox"
for c in sh rm wget sleep echo; do ln -s busybox "$R/bin/$c"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$R/etc/passwd"
mknod -m 666 "$R/dev/null" c 1 3; mknod -m 600 "$R/dev/console" c 5 1
jq '.scripts = []' "$T/order" > "$T/order.noscripts"
PIPOL_TOKEN=$tok "$B/pipol-agent" postinstall --root "$R" --order "$T/order.noscripts" --server "$U" > /dev/null 2>&1
equal "post-install with the hook: exit 0" $? 0
# ready comes only after rebooting: the agent's result first
curl -s -H "Authorization: Bearer $tok" -d '{"state":"rebooting"}' "$U/agent/result" > /dev/null
chroot "$R" /etc/local.d/pipol-ready.start > "$T/ready.out" 2>&1
equal "the hook (BusyBox wget) reports ready" "$(sql "select state from deployments where id = $dep")" ready
equal "... says so" "$(cat "$T/ready.out")" "pipol: ready reported to $U"
equal "... and removes itself and the token" "$(find "$R/etc/local.d" "$R/etc/pipol" ! -type d | grep -c .)" 0
