#!/bin/bash
# The agent's two phases against a real pipold, and the scripts'
# sandbox: the real agent (host mode, --agent) runs a site script and a
# user's rc script over a BusyBox system. The rc script, root in its
# sandbox, hunts for the tokens (/proc/cmdline, /proc/*/cmdline and
# environ, /etc/pipol/ready.env, the memory of every process it sees)
# and tries GET /agent/order with whatever it finds: nothing. The boot
# token dies at the phase (401), the user-phase token opens no order
# (403) but posts the result and ready; the site script's output is
# the admins' only. An image whose /proc and /run are links out of it
# gets its mounts inside itself, or none.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
BB=/bin/busybox
[ -x "$BB" ] && "$BB" --list | grep -qx wget ||
    { notok "busybox-static with wget (tests/deps.sh installs it)"; exit 0; }

# mkroot DIR: a BusyBox system
mkroot() {
	mkdir -p "$1"/{bin,etc,root,tmp,dev}
	cp "$BB" "$1/bin/busybox"
	for c in sh cat echo grep ls wget dd tr sed sort head mkdir; do
		ln -s busybox "$1/bin/$c"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' > "$1/etc/passwd"
	printf 'root:x:0:\n' > "$1/etc/group"
}

check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice)
as "$adm" node add n1 --mac 52:54:00:00:07:01 --profile virtual >/dev/null
mkdisk "$T/d" 3000000
"$P" image create os --from "$T/d" >/dev/null && "$P" image validate os:1 >/dev/null &&
    "$P" image promote os:1 >/dev/null

printf '#!/bin/sh\necho "site output S1TE-SECRET"\n' > "$T/10-site"
# the thief: every 64-hex string it can read goes to /root/found, and
# each is tried on /agent/order (ORDER-OK when one opens it)
canary=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat > "$T/rc" <<EOF
#!/bin/sh
# in this shell's memory only: the hunt must find it
canary=$canary
hex() { grep -ao '[0-9a-f]\{64\}' 2>/dev/null; }
{
	cat /proc/cmdline /proc/1/cmdline /etc/pipol/ready.env
	for p in /proc/[0-9]*; do cat \$p/cmdline \$p/environ; done
	# the memory of every process in sight: pid 1 (the sandbox's
	# init, the agent's binary) and the script's own; its writable
	# maps up to 256 MiB each (not ASan's shadow)
	for p in /proc/[0-9]*; do
		grep -E '^[0-9a-f]+-[0-9a-f]+ rw' \$p/maps 2>/dev/null |
		while IFS='- ' read -r a b _; do
			n=\$(((0x\$b - 0x\$a) / 4096))
			[ \$n -le 65536 ] || continue
			dd if=\$p/mem bs=4096 skip=\$((0x\$a / 4096)) \\
			    count=\$n 2>/dev/null
		done
	done
} 2>/dev/null | tr -cs '0-9a-f' '\n' | hex | sort -u > /root/found
echo "procs \$(ls -d /proc/[0-9]* | wc -l)" > /root/seen
cat /proc/self/mountinfo > /root/mountinfo
wc -c < /proc/cmdline > /root/cmdline.len
while read -r t; do
	wget -q -O /dev/null --header "Authorization: Bearer \$t" "$U/agent/order" &&
	    echo ORDER-OK >> /root/seen
done < /root/found
wget -q -O /dev/null "$U/agent/order" && echo ORDER-OK >> /root/seen
echo "rc output"
EOF
check "an admin adds a site script" as "$adm" script add "$T/10-site" --postinstall
check "alice adds her rc" as "$al" script add "$T/rc"

as "$al" deploy -n n1 -i os > /dev/null
for _ in $(seq 100); do
	tok=$(curl -s "$U/boot/52:54:00:00:07:01" | grep -o 'pipol\.token=[0-9a-f]*' | cut -d= -f2)
	[ -n "$tok" ] && break; sleep 0.1
done
dep=$(sql "select max(id) from deployments")
equal "the boot token opens the order" "$(api "$tok" GET /agent/order)" 200
cp "$T/api.out" "$T/order"
equal "the order holds the site's body" "$(jq -r '.scripts[0].body' "$T/order" | base64 -d)" "$(cat "$T/10-site")"
new=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
equal "phase before postinstall: 409" "$(api "$tok" POST /agent/phase "{\"phase\":\"user\",\"token\":\"$new\"}")" 409
equal "... nothing changed" "$(sql "select token_phase from deployments where id = $dep")" boot
equal "phase: a bad token 400" "$(api "$tok" POST /agent/phase '{"phase":"user","token":"ABC"}')" 400
equal "phase: another phase 400" "$(api "$tok" POST /agent/phase "{\"phase\":\"boot\",\"token\":\"$new\"}")" 400
equal "phase: a user's token 401" "$(api "$al" POST /agent/phase "{\"phase\":\"user\",\"token\":\"$new\"}")" 401
api "$tok" POST /agent/progress '{"state":"writing"}' > /dev/null
api "$tok" POST /agent/progress '{"state":"postinstall"}' > /dev/null

R=$T/root; mkroot "$R"
PIPOL_TOKEN=$tok "$A" postinstall --root "$R" --order "$T/order" --agent "$U" > "$T/pi.out" 2>&1
equal "post-install with --agent: exit 0" $? 0
utok=$(sed -n "s/^PIPOL_TOKEN='\([0-9a-f]*\)'$/\1/p" "$R/etc/pipol/ready.env")
equal "the hook holds a user-phase token, not the boot one" \
    "${#utok} $([ "$utok" != "$tok" ] && echo other)" "64 other"
equal "pipold: the user phase" "$(sql "select token_phase from deployments where id = $dep")" user
# what the user's script found
[ -s "$R/root/seen" ] && ok "the rc script ran" || notok "the rc script ran"
grep -qx -e "$tok" -e "$utok" "$R/root/found" && notok "the rc script found no token" ||
    ok "the rc script found no token"
grep -q ORDER-OK "$R/root/seen" && notok "the rc script fetched no order" || ok "the rc script fetched no order"
grep -qx "$canary" "$R/root/found" && ok "... though it reads memory (it found its canary)" ||
    notok "... though it reads memory (it found its canary)"
equal "it sees its namespace only: its init, itself and its pipeline" \
    "$(awk '{print ($2 <= 12) ? "few" : $2}' "$R/root/seen" | head -1)" few
equal "/proc/cmdline is masked (empty)" "$(cat "$R/root/cmdline.len")" 0
grep -q " / /proc .* - proc " "$R/root/mountinfo" && ok "/proc: a fresh procfs" || notok "/proc: a fresh procfs"
[ "$(stat -c %a "$R/etc/pipol/ready.env")" = 600 ] &&
    ok "ready.env written after the scripts, 0600" || notok "ready.env written after the scripts, 0600"
# the tokens after the phase
equal "the boot token: order 401" "$(api "$tok" GET /agent/order)" 401
equal "the boot token: progress 401" "$(api "$tok" POST /agent/progress '{"state":"postinstall"}')" 401
equal "the boot token: a second phase 401" "$(api "$tok" POST /agent/phase "{\"phase\":\"user\",\"token\":\"$new\"}")" 401
equal "the user-phase token: order 403" "$(api "$utok" GET /agent/order)" 403
grep -q "the order is for the boot phase" "$T/api.out" && ok "... says why" || notok "... says why"
equal "the user-phase token: phase again 403" "$(api "$utok" POST /agent/phase "{\"phase\":\"user\",\"token\":\"$new\"}")" 403
equal "the user-phase token naming itself (a lost answer sent again): 200" \
    "$(api "$utok" POST /agent/phase "{\"phase\":\"user\",\"token\":\"$utok\"}")" 200
equal "... still that token" "$(sql "select token_phase from deployments where id = $dep")" user
equal "the user-phase token: a site log line 403" \
    "$(api "$utok" POST /agent/log '{"script":"10-fake","status":0,"output":"x","site":true}')" 403
equal "the user-phase token: a log line 200" \
    "$(api "$utok" POST /agent/log '{"script":"(uefi)","status":0,"output":"x\n"}')" 200
equal "the user-phase token: rebooting" "$(api "$utok" POST /agent/result '{"state":"rebooting"}')" 200
equal "the user-phase token: ready" "$(api "$utok" POST /agent/result '{"state":"ready"}')" 200
equal "deployment ready" "$(sql "select state from deployments where id = $dep")" ready
# the logs: the site's for admins only
api "$adm" GET "/api/deployments/$dep/log" > /dev/null
equal "admin's log: the site line, flagged" "$(jq -r '.log[] | select(.script == "10-site") | "\(.site) \(.output)"' "$T/api.out")" \
    "true site output S1TE-SECRET"
equal "admin's log: rc too" "$(jq -r '[.log[].script] | join(" ")' "$T/api.out")" "10-site rc (uefi)"
api "$al" GET "/api/deployments/$dep/log" > /dev/null
equal "alice's log: no site line" "$(jq -r '[.log[].script] | join(" ")' "$T/api.out")" "rc (uefi)"
grep -q S1TE-SECRET "$T/api.out" && notok "alice never sees the site's output" || ok "alice never sees the site's output"
as "$al" log "$dep" | grep -q S1TE && notok "pipol log: no site output for alice" || ok "pipol log: no site output for alice"

# an image whose /proc and /run are absolute links out of it: the
# mounts land inside it (the link read as if the image were "/")
printf '#!/bin/sh\ngrep -c "^Pid:" /proc/self/status\ncat /proc/self/mountinfo\n' > "$T/rc.links"
jq --arg b "$(base64 -w0 < "$T/rc.links")" '.scripts = [{"kind":"rc","name":"rc","body":$b}]' "$T/order" > "$T/order.links"
R2=$T/root2; mkroot "$R2"
mkdir -p "$T/outproc" "$T/outrun" "$R2$T/outproc" "$R2$T/outrun"
ln -s "$T/outproc" "$R2/proc"; ln -s "$T/outrun" "$R2/run"
"$A" postinstall --root "$R2" --order "$T/order.links" > "$T/links.out" 2>&1
equal "links out: exit 0" $? 0
equal "... /proc mounted inside the image: the script sees it" "$(sed -n 2p "$T/links.out")" 1
grep -q " $T/outproc .* - proc " "$T/links.out" && grep -q " $T/outrun .* - tmpfs " "$T/links.out" &&
    ok "... at the link's target inside the image" || notok "... at the link's target inside the image"
equal "... nothing in the folders outside" "$(find "$T/outproc" "$T/outrun" -mindepth 1 | wc -l)" 0
grep -q " $T/out" /proc/self/mountinfo && notok "... no mount on them" || ok "... no mount on them"
# a link to a folder the image lacks: refused, nothing mounted
R3=$T/root3; mkroot "$R3"
mkdir -p "$T/outmiss"; ln -s "$T/outmiss" "$R3/run"
expect_fail 1 "post-install: rc rc: exit status 127" "$A" postinstall --root "$R3" --order "$T/order.links"
grep -q "/run: a link to nothing inside the image, whose links resolve inside it: nothing mounted there" "$T/.out" &&
    ok "... named" || notok "... named"
equal "... nothing in the folder outside" "$(ls -A "$T/outmiss")" ""

# the phase's answer lost (the trade made at pipold, the connection cut
# before the reply): the agent's retry with the dead boot token gets
# 401, it asks again with the token it named, and goes on
PP=$(free_port)
python3 "$TOP/tests/tools/lossy_proxy.py" "$PP" "$U" /agent/phase "$T/proxy.log" &
PXPID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PP/health" && break; sleep 0.1; done
as "$al" deploy -n n1 -i os > /dev/null
for _ in $(seq 100); do
	tok=$(curl -s "$U/boot/52:54:00:00:07:01" | grep -o 'pipol\.token=[0-9a-f]*' | cut -d= -f2)
	[ -n "$tok" ] && break; sleep 0.1
done
dep=$(sql "select max(id) from deployments")
api "$tok" GET /agent/order > /dev/null; cp "$T/api.out" "$T/order4"
api "$tok" POST /agent/progress '{"state":"writing"}' > /dev/null
api "$tok" POST /agent/progress '{"state":"postinstall"}' > /dev/null
R4=$T/root4; mkroot "$R4"
PIPOL_TOKEN=$tok "$A" postinstall --root "$R4" --order "$T/order4" --agent "http://127.0.0.1:$PP" > "$T/pi4.out" 2>&1
equal "a lost phase answer: post-install exit 0" $? 0
equal "... the proxy lost it" "$(grep -c '^drop POST /agent/phase 200' "$T/proxy.log")" 1
grep -q "the phase's answer was lost; pipold confirmed it to the new token" "$T/pi4.out" &&
    ok "... the agent asked again with its new token" || { notok "... the agent asked again with its new token"; cat "$T/pi4.out" >&2; }
utok=$(sed -n "s/^PIPOL_TOKEN='\([0-9a-f]*\)'$/\1/p" "$R4/etc/pipol/ready.env")
equal "... its hook holds the token pipold took" "$(api "$utok" POST /agent/result '{"state":"rebooting"}')" 200
kill "$PXPID" && wait "$PXPID" 2>/dev/null
stop_pipold
